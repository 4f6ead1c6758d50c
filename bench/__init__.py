"""Benchmarks: each prints figures and a ratio against the obvious alternative. Not tests."""
