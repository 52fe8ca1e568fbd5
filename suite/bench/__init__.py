"""Benchmarks that print figures (never tests): training-step cost, latency of finalized models, training throughput."""
