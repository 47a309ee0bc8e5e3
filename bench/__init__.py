"""Benchmarks and the sample generator: above the domain, never imported by it."""
