"""Benchmarks: scripts run with ``python3 -m tests.bench.<name>``; pytest does not collect them."""
