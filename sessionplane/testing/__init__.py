"""Helpers shared by the tests, the demo and the benchmarks: a live service on a free port."""
