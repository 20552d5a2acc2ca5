"""The web studio (`beatlm app`): generate, hear, download, export MIDI and rate beats in a browser."""
