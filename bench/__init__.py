"""Cairn's benchmarks: `python -m bench.run` runs them and writes bench/results/*.json."""
