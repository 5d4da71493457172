"""``dlbasics-grade``: grade exercise notebooks in a sandbox.

Usage::

    dlbasics-grade EXERCISE SUBMISSION.ipynb [--results results.json] [--tests DIR]
    dlbasics-grade EXERCISE FOLDER/ --choose [--results results.json]   # one learner's folder
    dlbasics-grade EXERCISE DIR/ [--csv gradebook.csv] [--jobs N] [--results-dir OUT/]
    dlbasics-grade list [--tests DIR]
    dlbasics-grade package-gradescope EXERCISE OUT.zip [--tests DIR]
    dlbasics-grade github-classroom EXERCISE [OUT_DIR] [--tests DIR]

Next to every results file (``results.json``, ``OUT/<student>.json``) a
Markdown report (``.md``) says what passed, what failed, why, and the points.

Exit status: 0 when every submission was graded (whatever its score), 2 for
bad command-line input (an unknown exercise or option, a missing file), 3 when
the grader itself cannot grade (hidden tests missing or broken, sandbox
unavailable), 4 when everything was graded but some submissions need a
person's attention (an ambiguous or missing notebook, a file that is not a
notebook): the CSV gradebook's ``needs_attention`` column says which and why.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from dlbasics_grader.untrusted import terminal_safe

USAGE_ERROR = 2
SETUP_ERROR = 3
NEEDS_ATTENTION = 4
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
                   help="folder of hidden tests (default: $DLBASICS_HIDDEN_TESTS or hidden_exercises)")
    p.add_argument("--gradescope", action="store_true",
                   help="limit test statuses to Gradescope's passed/failed (detail kept in output)")
    p.add_argument("--github", action="store_true",
                   help="in GitHub Actions: show the feedback as the run's summary "
                        "($GITHUB_STEP_SUMMARY), the score as an annotation and as the step "
                        "outputs score and max_score (needs --results)")
    p.add_argument("--choose", action="store_true",
                   help="SUBMISSION is one learner's folder: grade the exercise's notebook in it, "
                        "else the newest .ipynb, and name the graded file first in the output")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the score line(s)")
    p.add_argument("--allow-unisolated", action="store_true",
                   help="grade even where nothing keeps the hidden tests unreadable to the "
                        "submissions (trusted, local work only)")
    return p


def _color() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _notebooks(folder: Path) -> list[Path]:
    """The ``.ipynb`` files below ``folder`` (checkpoints and hidden folders left out)."""
    return sorted(p for p in folder.rglob("*.ipynb")
                  if not any(part.startswith(".") for part in p.relative_to(folder).parts))


def choose_notebook(folder: Path, expected: str) -> tuple[Path | None, list[Path]]:
    """The notebook to grade in one learner's folder, and the other notebooks.

    The exercise's own name first (the shallowest), else the newest ``.ipynb``
    (by modification time, then by path): the same files always give the same choice.
    """
    found = _notebooks(folder)
    named = sorted((p for p in found if p.name == expected), key=lambda p: (len(p.parts), p))
    if named:
        pick = named[0]
    elif found:
        pick = max(found, key=lambda p: (p.stat().st_mtime, str(p)))
    else:
        return None, []
    return pick, [p for p in found if p != pick]


@dataclass(frozen=True)
class BatchItem:
    """One student of a batch: the notebook to grade (``None``: none can be chosen),
    why a person should look at it, and the files that were not graded."""

    student: str
    path: Path | None
    attention: str = ""
    skipped: tuple[str, ...] = ()


def _batch_items(folder: Path, notebook: str) -> list[BatchItem]:
    """One item per top-level ``.ipynb`` file and per sub-folder."""
    items: list[BatchItem] = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            items.append(BatchItem(entry.stem, entry))
        elif entry.is_dir():
            found = _notebooks(entry)
            named = [c for c in found if c.name == notebook]
            others = tuple(str(p.relative_to(entry)) for p in sorted(entry.rglob("*"))
                           if p.is_file() and not any(x.startswith(".") for x in
                                                      p.relative_to(entry).parts))
            if named or len(found) == 1:
                pick = (named or found)[0]
                skipped = tuple(x for x in others if x != str(pick.relative_to(entry)))
                items.append(BatchItem(entry.name, pick, "", skipped))
            elif found:
                names = ", ".join(str(p.relative_to(entry)) for p in found)
                items.append(BatchItem(entry.name, None, f"{len(found)} notebooks, ambiguous "
                                       f"({names}) and none is called {notebook}: not graded",
                                       others))
            else:
                items.append(BatchItem(entry.name, None, "no notebook (.ipynb) in the folder",
                                       others))
    return items


def _unreadable(path: Path) -> str:
    """Why ``path`` is not a notebook the grader can read ("" when it is)."""
    from dlbasics_grader.notebook import NotebookError, read_submission

    try:
        read_submission(path)
    except (NotebookError, OSError) as exc:
        return f"{path.name} is not a readable notebook: {exc}"
    return ""


def _close_to_others(folder: Path) -> None:
    """As root, make the hidden tests unreadable by other users (the sandbox's)."""
    try:
        st = folder.stat()
        if os.geteuid() == 0 and st.st_uid == 0 and st.st_mode & 0o077:
            os.chmod(folder, st.st_mode & ~0o077)
    except OSError:
        pass


def _isolation_gate(tests_dir: Path, allow_unisolated: bool, results: Path | None) -> int | None:
    """Warn when the sandbox is weaker than the full set; refuse (exit 3) when nothing
    keeps the hidden tests and solutions unreadable, unless the caller accepts it."""
    from dlbasics_grader import engine, report, sandbox

    assessment = sandbox.assess(engine.secret_paths(tests_dir))
    if assessment.refusal and not allow_unisolated:
        msg = (f"refusing to grade: {assessment.refusal}. Grade as root, or on a Linux kernel "
               "with Landlock (5.13 or later), or pass --allow-unisolated for trusted work")
        if results:
            report.write_json_atomic(results, report.setup_error_results(msg))
        print(f"dlbasics-grade: error: {msg}", file=sys.stderr)
        return SETUP_ERROR
    if assessment.missing or assessment.refusal:
        print("dlbasics-grade: warning: the sandbox is weaker than its full isolation here:",
              file=sys.stderr)
        for line in ([assessment.refusal] if assessment.refusal else []) + list(
                assessment.missing):
            print(f"  - {line}", file=sys.stderr)
    return None


def _setup(tests: Path | None, exercise: str | None = None, results: Path | None = None):
    """``(tests_dir, Exercise or None)``, or the exit status after printing why not."""
    from dlbasics_grader import engine, report

    try:
        tests_dir = engine.find_tests_dir(tests)
        return tests_dir, (engine.load_exercise(exercise, tests_dir) if exercise else None)
    except engine.GraderSetupError as exc:
        if results:
            report.write_json_atomic(results, report.setup_error_results(str(exc)))
        print(f"dlbasics-grade: error: {exc}", file=sys.stderr)
        return USAGE_ERROR if exc.usage else SETUP_ERROR


def _write_results(path: Path, rep, strict: bool, student: str = "", attention: str = "") -> None:
    """results.json (Gradescope's schema) and, next to it, the readable Markdown report."""
    from dlbasics_grader import report

    report.write_json_atomic(path, rep.to_gradescope(strict=strict))
    report.write_text_atomic(Path(path).with_suffix(".md"),
                             report.markdown_report(rep, student, attention))


def _cmd_grade(argv: list[str]) -> int:
    args = _grade_parser().parse_args(argv)
    if args.jobs < 1:
        _grade_parser().error("--jobs must be at least 1")
    if args.github and not args.results:
        _grade_parser().error("--github needs --results FILE")
    status = _grade(args)
    if args.github:
        from dlbasics_grader.package import publish_to_github

        publish_to_github(args.results, status)
    return status


def _grade(args: argparse.Namespace) -> int:
    from dlbasics_grader import engine, report

    setup = _setup(args.tests, args.exercise, args.results)
    if isinstance(setup, int):
        return setup
    tests_dir, exercise = setup
    sub = args.submission
    if not sub.exists():
        print(f"dlbasics-grade: error: {sub}: no such file or folder", file=sys.stderr)
        if args.results:  # every submission gets a results file, even a missing one
            rep = engine.grade(exercise, sub, private_paths=[tests_dir])
            _write_results(args.results, rep, args.gradescope)
        return USAGE_ERROR
    private = [tests_dir]
    _close_to_others(tests_dir)
    refused = _isolation_gate(tests_dir, args.allow_unisolated, args.results)
    if refused is not None:
        return refused
    note = ""
    if sub.is_dir() and args.choose:
        pick, others = choose_notebook(sub, exercise.notebook)
        if pick is None:
            note = f"No notebook (.ipynb) was submitted; expected {exercise.notebook}."
            sub = sub / exercise.notebook
        else:
            why = ("the exercise's notebook" if pick.name == exercise.notebook else
                   f"the newest notebook; name yours {exercise.notebook} to choose it")
            note = f"Graded {pick.relative_to(sub)} ({why})."
            if others:
                note += (f" Warning: {len(others)} other notebook(s) were not graded: "
                         + ", ".join(str(o.relative_to(sub)) for o in others) + ".")
            sub = pick
    elif sub.is_dir():
        return _batch(args, exercise, tests_dir, private)
    if args.csv or args.results_dir:
        print("dlbasics-grade: error: --csv and --results-dir are for a folder of submissions",
              file=sys.stderr)
        return USAGE_ERROR
    rep = engine.grade(exercise, sub, private_paths=private,
                       allow_unisolated=args.allow_unisolated)
    if note:
        rep.output = f"{note}\n{rep.output}"
    if args.results:
        _write_results(args.results, rep, args.gradescope)
    if args.quiet:
        print(f"{rep.score:g}/{rep.max_score:g} {terminal_safe(sub)}")
    else:
        print((f"{note}\n" if note else "") + report.summary(rep, color=_color()))
        if args.results:
            print(f"  results: {args.results} (and {Path(args.results).with_suffix('.md')})")
    return SETUP_ERROR if rep.grader_error else 0


def _not_graded(exercise, path: Path, why: str):
    """The report of a student whose notebook could not be chosen: 0 points, saying why."""
    from dlbasics_grader.engine import GradeReport

    tests = [p.result(0.0, "error", f"Not graded: {why}.") for p in exercise.parts]
    return GradeReport(exercise=exercise.name, title=exercise.title, submission=path,
                       tests=tests, execution_time=0.0,
                       output=f"Score: 0 / {exercise.max_score:g}.\nNot graded: {why}.")


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
    attention = {it.student: it.attention or (_unreadable(it.path) if it.path else "")
                 for it in items}
    rows, reports = [], {}
    t0 = time.monotonic()
    parts = [p.name for p in exercise.parts]
    book = report.GradebookAppender(args.csv, parts) if args.csv else None

    def record(student: str, rep) -> None:
        """Keep one student's grade the moment it is known (CSV row, results file)."""
        reports[student] = rep
        rows.append(report.gradebook_row(student, rep, attention[student]))
        if book is not None:
            book.append(rows[-1])
        if args.results_dir:
            _write_results(Path(args.results_dir) / f"{student}.json", rep, args.gradescope,
                           student, attention[student])

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(engine.grade, exercise, it.path, private_paths=private,
                               allow_unisolated=args.allow_unisolated): it.student
                   for it in items if it.path is not None}
        for it in items:
            if it.path is None:
                record(it.student, _not_graded(exercise, args.submission / it.student,
                                               it.attention))
        bar = tqdm(total=len(futures), desc=f"grading {exercise.name}", unit="nb",
                   disable=args.quiet, file=sys.stderr)
        for fut in as_completed(futures):
            student = futures[fut]
            record(student, fut.result())
            bar.set_postfix_str(f"{terminal_safe(student)}: {reports[student].score:g}/"
                                f"{reports[student].max_score:g}")
            bar.update()
        bar.close()
    if book is not None:
        book.close()
    setup_errors = sum(bool(rep.grader_error) for rep in reports.values())
    elapsed = time.monotonic() - t0
    if args.csv:
        report.write_gradebook(args.csv, parts, rows)  # the same rows, sorted by student
    width = max(len(s) for s in reports)
    if not args.quiet:
        print(f"{exercise.title} ({exercise.name}): {len(reports)} submissions in {elapsed:.1f} s")
        print(f"  {'student':<{width}}  score  " + "  ".join(parts))
    for student in sorted(reports):
        rep = reports[student]
        cells = "  ".join(f"{t.score:>{len(t.name)}g}" for t in rep.tests)
        flag = "  needs attention" if attention[student] else ""
        name = terminal_safe(student)
        line = f"  {name:<{width}}  {rep.score:>5g}  {cells}{flag}"
        print(line if not args.quiet else f"{rep.score:g}/{rep.max_score:g} {name}{flag}")
    skipped = [(it.student, it.skipped) for it in items if it.skipped]
    flagged = [(s, a) for s, a in sorted(attention.items()) if a]
    if not args.quiet:
        for student, why in flagged:
            print(f"  needs attention: {terminal_safe(student)}: {terminal_safe(why)}")
        for student, files in skipped:
            print(f"  not graded in {student}/: {', '.join(files)}")
        if args.csv:
            print(f"  gradebook: {args.csv}")
    if setup_errors:
        return SETUP_ERROR
    return NEEDS_ATTENTION if flagged else 0


def _cmd_list(argv: list[str]) -> int:
    from dlbasics_grader import engine

    p = _Parser(prog="dlbasics-grade list", description="List the exercises that can be graded.")
    p.add_argument("--tests", type=Path)
    args = p.parse_args(argv)
    setup = _setup(args.tests)
    if isinstance(setup, int):
        return setup
    tests_dir = setup[0]
    for name in engine.available_exercises(tests_dir):
        try:
            ex = engine.load_exercise(name, tests_dir)
            print(f"{name}  {ex.max_score:g} points  {ex.notebook}  {ex.title}")
        except Exception as exc:  # noqa: BLE001 - report a broken module, keep listing
            print(f"{name}  (cannot load: {type(exc).__name__}: {exc})")
    return 0


def _cmd_package(argv: list[str]) -> int:
    from dlbasics_grader import package

    p = _Parser(prog="dlbasics-grade package-gradescope",
                description="Write a Gradescope autograder zip for one exercise.")
    p.add_argument("exercise")
    p.add_argument("out", type=Path, help="the zip file to write")
    p.add_argument("--tests", type=Path)
    args = p.parse_args(argv)
    setup = _setup(args.tests, args.exercise)
    if isinstance(setup, int):
        return setup
    out = package.gradescope_zip(args.exercise, setup[0], args.out)
    print(f"wrote {out} (upload it as the autograder of the {args.exercise} assignment)")
    return 0


def _cmd_classroom(argv: list[str]) -> int:
    from dlbasics_grader import package

    p = _Parser(prog="dlbasics-grade github-classroom",
                description="Write the GitHub Classroom workflow for one exercise (run it where "
                            "the hidden tests are: the instructors' repository, or --tests DIR).")
    p.add_argument("exercise")
    p.add_argument("out_dir", type=Path, nargs="?", default=Path(".github/workflows"))
    p.add_argument("--tests", type=Path,
                   help="folder of hidden tests (default: $DLBASICS_HIDDEN_TESTS or hidden_exercises)")
    args = p.parse_args(argv)
    if not args.exercise.isidentifier():
        p.error(f"exercise name {args.exercise!r} is not valid (e.g. ex1)")
    setup = _setup(args.tests, args.exercise)
    if isinstance(setup, int):
        return setup
    out = package.actions_workflow(args.exercise, args.out_dir, setup[0])
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
