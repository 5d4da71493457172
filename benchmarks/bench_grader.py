"""How long the autograder takes.

* **one submission, end to end**: ``dlbasics-grade grade ex1 <solution> -q`` as a new
  process (interpreter start, hidden tests, sandbox, the notebook, the probes,
  scoring), median of a few runs; the target is at most 1 s as root;
* **one submission, in process**: the same through :func:`dlbasics_grader.engine.grade`
  (what batch mode pays per notebook);
* **a batch of 100**: ``dlbasics-grade batch ex1 DIR/ --jobs 2`` on 100 notebooks (a
  mix of complete, partly done and untouched ones); the target is at most 90 s;
* **Exercises 2 and 3, end to end**: ``dlbasics-grade grade exN <solution> -q`` once each
  (training within the CPU budget, the held-out evaluation of the exported graphs in a second
  sandbox); the target is at most 20 s each.

Run with ``python -m benchmarks.bench_grader`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTION = REPO / "solutions" / "ex1_neural_network.ipynb"
STUB = REPO / "exercises" / "ex1_neural_network.ipynb"
HIDDEN = REPO / "hidden_exercises"


def _grader() -> list[str]:
    exe = Path(sys.executable).with_name("dlbasics-grade")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "dlbasics_grader.cli"]


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def single_cli(runs: int, exercise: str = "ex1", solution: Path = SOLUTION
               ) -> tuple[list[float], list[float]]:
    """Wall times and CPU times (grader + sandbox processes) of ``runs`` gradings."""
    times, cpu = [], []
    for _ in range(runs):
        start, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run([*_grader(), "grade", exercise, str(solution), "-q", "--tests",
                        str(HIDDEN)], check=True, capture_output=True, cwd=REPO)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - cpu0)
    return times, cpu


def single_in_process(runs: int) -> list[float]:
    from dlbasics_grader.engine import grade, load_exercise

    ex = load_exercise("ex1", HIDDEN)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        report = grade(ex, SOLUTION, private_paths=[HIDDEN])
        times.append(time.perf_counter() - start)
        assert report.score == report.max_score, report.output
    return times


def batch(n: int, jobs: int) -> tuple[float, float]:
    """Wall time and CPU time of grading ``n`` notebooks in one batch."""
    with tempfile.TemporaryDirectory(prefix="bench-grader-") as tmp:
        folder = Path(tmp) / "submissions"
        folder.mkdir()
        for i in range(n):
            src = STUB if i % 4 == 3 else SOLUTION
            shutil.copy(src, folder / f"student{i:03d}.ipynb")
        start, cpu0 = time.perf_counter(), _children_cpu()
        subprocess.run([*_grader(), "batch", "ex1", str(folder), "--jobs", str(jobs), "-q",
                        "--csv", str(Path(tmp) / "gradebook.csv"), "--tests", str(HIDDEN)],
                       check=True, capture_output=True, cwd=REPO)
        return time.perf_counter() - start, _children_cpu() - cpu0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="single-submission runs")
    parser.add_argument("--batch", type=int, default=100, help="notebooks in the batch")
    parser.add_argument("--jobs", type=int, default=2, help="parallel jobs in the batch")
    parser.add_argument("--torch", type=int, default=1,
                        help="runs of Exercises 2 and 3 each (0: leave them out)")
    args = parser.parse_args(argv)
    print("Autograder, Exercise 1 (solution notebook; targets: <= 1 s each as root, 100 in "
          "<= 90 s with --jobs 2; Exercises 2 and 3: <= 20 s each)")
    print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}, "
          f"{'root' if os.geteuid() == 0 else 'not root'} (other work slows wall times; CPU "
          "times do not depend on it)")
    cli, cpu = single_cli(args.runs)
    print(f"  one submission, end to end (new process): median {statistics.median(cli):.2f} s "
          f"wall (min {min(cli):.2f}, max {max(cli):.2f}, {len(cli)} runs), "
          f"{statistics.median(cpu):.2f} s CPU")
    inproc = single_in_process(args.runs)
    print(f"  one submission, in process:               median {statistics.median(inproc):.2f} s "
          "wall")
    if args.batch:
        total, total_cpu = batch(args.batch, args.jobs)
        print(f"  {args.batch} submissions, --jobs {args.jobs}: {total:.1f} s wall "
              f"({total / args.batch:.2f} s per notebook), {total_cpu:.1f} s CPU "
              f"(on {args.jobs} idle cores: about {total_cpu / args.jobs:.0f} s)")
    for name, notebook in (("ex2", "ex2_cnn.ipynb"), ("ex3", "ex3_lstm_attention.ipynb")):
        if args.torch:
            wall, cpu = single_cli(args.torch, name, REPO / "solutions" / notebook)
            print(f"  {name}, one submission, end to end: median {statistics.median(wall):.1f} s "
                  f"wall, {statistics.median(cpu):.1f} s CPU")


if __name__ == "__main__":
    main(sys.argv[1:])
