"""Speed benchmarks: BeatLM's generation against baseline generators (`baselines`)."""
