"""``dlbasics-grade``: grade exercise notebooks in a sandbox.

Usage::

    dlbasics-grade EXERCISE SUBMISSION.ipynb [--results results.json] [--tests DIR]
    dlbasics-grade EXERCISE DIR/ [--csv gradebook.csv] [--jobs N] [--results-dir OUT/]
    dlbasics-grade list [--tests DIR]
    dlbasics-grade package-gradescope EXERCISE OUT.zip [--tests DIR]
    dlbasics-grade github-classroom EXERCISE [OUT_DIR]

Exit status: 0 when every submission was graded (whatever its score), 2 for
bad command-line input, 3 when the grader itself cannot grade (hidden tests
missing, sandbox unavailable).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

USAGE_ERROR = 2
SETUP_ERROR = 3
SUBCOMMANDS = ("list", "package-gradescope", "github-classroom")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 as well; keep the message short
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(USAGE_ERROR)


def _grade_parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="dlbasics-grade",
        description="Grade Deep Learning Basics exercise notebooks in a sandbox. Other commands: "
                    "'dlbasics-grade list', 'dlbasics-grade package-gradescope EXERCISE OUT.zip', "
                    "'dlbasics-grade github-classroom EXERCISE [OUT_DIR]'.",
    )
    p.add_argument("exercise", help="exercise name, e.g. ex1 (see 'dlbasics-grade list')")
    p.add_argument("submission", type=Path,
                   help="a notebook (.ipynb), or a folder of notebooks for batch grading")
    p.add_argument("--results", type=Path,
                   help="write Gradescope results.json here (single submission)")
    p.add_argument("--results-dir", type=Path,
                   help="batch: write one <student>.json per submission into this folder")
    p.add_argument("--csv", type=Path, help="batch: write the CSV gradebook here")
    p.add_argument("--jobs", "-j", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                   help="batch: submissions graded at the same time (default: CPU count, max 4)")
    p.add_argument("--tests", type=Path,
                   help="folder of hidden tests (default: $DLBASICS_HIDDEN_TESTS or tests/hidden)")
    p.add_argument("--gradescope", action="store_true",
                   help="limit test statuses to Gradescope's passed/failed (detail kept in output)")
    p.add_argument("--classroom", action="store_true",
                   help="also write GitHub Classroom's 'result=<base64>' line to $GITHUB_OUTPUT")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the score line(s)")
    return p


def _color() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _batch_items(folder: Path, notebook: str) -> list[tuple[str, Path]]:
    """(student, notebook) pairs: top-level .ipynb files, or one per sub-folder."""
    items: list[tuple[str, Path]] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            items.append((entry.stem, entry))
        elif entry.is_dir():
            cands = sorted(entry.rglob("*.ipynb"))
            cands = [c for c in cands if ".ipynb_checkpoints" not in c.parts]
            named = [c for c in cands if c.name == notebook]
            pick = named[0] if named else (cands[0] if len(cands) == 1 else None)
            if pick is not None:
                items.append((entry.name, pick))
            else:
                items.append((entry.name, entry / notebook))  # graded as missing
    return items


def _close_to_others(folder: Path) -> None:
    """As root, make the hidden tests unreadable by other users (the sandbox's)."""
    try:
        st = folder.stat()
        if os.geteuid() == 0 and st.st_uid == 0 and st.st_mode & 0o077:
            os.chmod(folder, st.st_mode & ~0o077)
    except OSError:
        pass


def _cmd_grade(argv: list[str]) -> int:
    from dlbasics_grader import engine, report

    args = _grade_parser().parse_args(argv)
    if args.jobs < 1:
        _grade_parser().error("--jobs must be at least 1")
    try:
        tests_dir = engine.find_tests_dir(args.tests)
        exercise = engine.load_exercise(args.exercise, tests_dir)
    except engine.GraderSetupError as exc:
        msg = str(exc)
        if args.results:
            report.write_json_atomic(args.results, report.setup_error_results(msg))
        code = USAGE_ERROR if exc.usage else SETUP_ERROR
        print(f"dlbasics-grade: error: {msg}", file=sys.stderr)
        return code
    sub = args.submission
    if not sub.exists():
        print(f"dlbasics-grade: error: {sub}: no such file or folder", file=sys.stderr)
        if args.results:  # every submission gets a results file, even a missing one
            rep = engine.grade(exercise, sub, private_paths=[tests_dir])
            report.write_json_atomic(args.results, rep.to_gradescope(strict=args.gradescope))
        return USAGE_ERROR
    private = [tests_dir]
    _close_to_others(tests_dir)
    if sub.is_dir():
        return _batch(args, exercise, tests_dir, private)
    if args.csv or args.results_dir:
        print("dlbasics-grade: error: --csv and --results-dir are for a folder of submissions",
              file=sys.stderr)
        return USAGE_ERROR
    rep = engine.grade(exercise, sub, private_paths=private)
    if args.results:
        report.write_json_atomic(args.results, rep.to_gradescope(strict=args.gradescope))
    if args.classroom:
        from dlbasics_grader.package import classroom_output_line

        line = classroom_output_line(rep.to_gradescope(strict=True))
        target = os.environ.get("GITHUB_OUTPUT")
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        else:
            print(line)
    if args.quiet:
        print(f"{rep.score:g}/{rep.max_score:g} {sub}")
    else:
        print(report.summary(rep, color=_color()))
        if args.results:
            print(f"  results: {args.results}")
    return SETUP_ERROR if rep.grader_error else 0


def _batch(args, exercise, tests_dir: Path, private: list[Path]) -> int:
    from tqdm.auto import tqdm

    from dlbasics_grader import engine, report

    items = _batch_items(args.submission, exercise.notebook)
    if not items:
        print(f"dlbasics-grade: error: {args.submission} holds no notebooks (.ipynb)",
              file=sys.stderr)
        return USAGE_ERROR
    if args.results:
        print("dlbasics-grade: error: use --results-dir (one file per student) in batch mode",
              file=sys.stderr)
        return USAGE_ERROR
    private = [*private, args.submission.resolve()]
    if args.csv is not None:
        private.append(args.csv.resolve().parent)
    if args.results_dir is not None:
        private.append(args.results_dir.resolve())
    rows, reports = [], {}
    t0 = time.monotonic()
    setup_errors = 0
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(engine.grade, exercise, path, private_paths=private): student
                   for student, path in items}
        bar = tqdm(total=len(futures), desc=f"grading {exercise.name}", unit="nb",
                   disable=args.quiet, file=sys.stderr)
        for fut in as_completed(futures):
            student = futures[fut]
            rep = fut.result()
            reports[student] = rep
            setup_errors += bool(rep.grader_error)
            rows.append(report.gradebook_row(student, rep))
            if args.results_dir:
                report.write_json_atomic(Path(args.results_dir) / f"{student}.json",
                                         rep.to_gradescope(strict=args.gradescope))
            bar.set_postfix_str(f"{student}: {rep.score:g}/{rep.max_score:g}")
            bar.update()
        bar.close()
    elapsed = time.monotonic() - t0
    parts = [p.name for p in exercise.parts]
    if args.csv:
        report.write_gradebook(args.csv, parts, rows)
    width = max(len(s) for s in reports)
    if not args.quiet:
        print(f"{exercise.title} ({exercise.name}): {len(reports)} submissions in {elapsed:.1f} s")
        print(f"  {'student':<{width}}  score  " + "  ".join(parts))
    for student in sorted(reports):
        rep = reports[student]
        cells = "  ".join(f"{t.score:>{len(t.name)}g}" for t in rep.tests)
        line = f"  {student:<{width}}  {rep.score:>5g}  {cells}"
        print(line if not args.quiet else f"{rep.score:g}/{rep.max_score:g} {student}")
    if args.csv and not args.quiet:
        print(f"  gradebook: {args.csv}")
    return SETUP_ERROR if setup_errors else 0


def _cmd_list(argv: list[str]) -> int:
    from dlbasics_grader import engine

    p = _Parser(prog="dlbasics-grade list", description="List the exercises that can be graded.")
    p.add_argument("--tests", type=Path)
    args = p.parse_args(argv)
    try:
        tests_dir = engine.find_tests_dir(args.tests)
    except engine.GraderSetupError as exc:
        print(f"dlbasics-grade: error: {exc}", file=sys.stderr)
        return USAGE_ERROR if exc.usage else SETUP_ERROR
    for name in engine.available_exercises(tests_dir):
        try:
            ex = engine.load_exercise(name, tests_dir)
            print(f"{name}  {ex.max_score:g} points  {ex.notebook}  {ex.title}")
        except Exception as exc:  # noqa: BLE001 - report a broken module, keep listing
            print(f"{name}  (cannot load: {type(exc).__name__}: {exc})")
    return 0


def _cmd_package(argv: list[str]) -> int:
    from dlbasics_grader import engine, package

    p = _Parser(prog="dlbasics-grade package-gradescope",
                description="Write a Gradescope autograder zip for one exercise.")
    p.add_argument("exercise")
    p.add_argument("out", type=Path, help="the zip file to write")
    p.add_argument("--tests", type=Path)
    args = p.parse_args(argv)
    try:
        tests_dir = engine.find_tests_dir(args.tests)
        engine.load_exercise(args.exercise, tests_dir)
    except engine.GraderSetupError as exc:
        print(f"dlbasics-grade: error: {exc}", file=sys.stderr)
        return USAGE_ERROR if exc.usage else SETUP_ERROR
    out = package.gradescope_zip(args.exercise, tests_dir, args.out)
    print(f"wrote {out} (upload it as the autograder of the {args.exercise} assignment)")
    return 0


def _cmd_classroom(argv: list[str]) -> int:
    from dlbasics_grader import package

    p = _Parser(prog="dlbasics-grade github-classroom",
                description="Write the GitHub Classroom workflow for one exercise.")
    p.add_argument("exercise")
    p.add_argument("out_dir", type=Path, nargs="?", default=Path(".github/workflows"))
    args = p.parse_args(argv)
    if not args.exercise.isidentifier():
        p.error(f"exercise name {args.exercise!r} is not valid (e.g. ex1)")
    out = package.classroom_workflow(args.exercise, args.out_dir)
    print(f"wrote {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dlbasics-grade``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        if argv and argv[0] == "list":
            return _cmd_list(argv[1:])
        if argv and argv[0] == "package-gradescope":
            return _cmd_package(argv[1:])
        if argv and argv[0] == "github-classroom":
            return _cmd_classroom(argv[1:])
        return _cmd_grade(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else USAGE_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
