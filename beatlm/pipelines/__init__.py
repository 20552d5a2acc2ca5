"""Pipelines that chain BeatLM's commands into one job (`beatlm quickstart`)."""
