"""Benchmarks: one command per figure, ours beside the peers in one run (docs/BENCHMARKS.md)."""
