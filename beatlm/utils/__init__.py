"""Small utilities shared across BeatLM: errors, checkpoint I/O, file helpers."""
