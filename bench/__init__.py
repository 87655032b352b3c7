"""Benchmarks: the API against raw redis-py, on the same nodes, in the same run (``make bench``)."""
