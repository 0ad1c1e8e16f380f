"""Benchmarks (not tests): `make bench` prints tables and saves JSON under bench/results/."""
