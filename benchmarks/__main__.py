"""``python -m benchmarks``: every benchmark, one after the other."""

from __future__ import annotations

import importlib.util

from benchmarks import bench_numpy_vs_torch


def main() -> None:
    bench_numpy_vs_torch.main([])
    if importlib.util.find_spec("benchmarks.bench_grader") is not None:
        from benchmarks import bench_grader

        print()
        bench_grader.main()


if __name__ == "__main__":
    main()
