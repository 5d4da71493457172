"""Benchmarks: ratios measured side by side in one process, never pass/fail timings."""
