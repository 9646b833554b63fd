"""Benchmarks: throughput, latency and memory, each measured against the physical limit and a
peer in the same run (`jaylym bench`). Figures are ratios; absolute numbers are reported only."""
