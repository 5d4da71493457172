"""``dlbasics-grade``: grade exercise notebooks in a sandbox, and publish the grader.

Usage::

    dlbasics-grade grade EXERCISE NOTEBOOK.ipynb [--results results.json] [--tests DIR]
    dlbasics-grade grade EXERCISE FOLDER --choose [--results results.json]  # one learner's folder
    dlbasics-grade batch EXERCISE FOLDER [--csv gradebook.csv] [--jobs N] [--results-dir OUT]
    dlbasics-grade report RESULTS_DIR [--out DIR]                 # the class report of a batch
    dlbasics-grade list [--tests DIR]
    dlbasics-grade gradescope EXERCISE OUT.zip [--tests DIR]      # Gradescope autograder zip
    dlbasics-grade classroom50 EXERCISE OUT_DIR [--tests DIR]     # Classroom 50 autograder
    dlbasics-grade actions EXERCISE [OUT_DIR] [--tests DIR]       # GitHub Actions workflow

``dlbasics-grade COMMAND --help`` says more. The forms from before the commands still work:
``dlbasics-grade EXERCISE NOTEBOOK`` (``grade``; a folder without ``--choose`` is a ``batch``),
``package-gradescope`` and ``github-classroom``.

Next to every results file (``results.json``, ``OUT/<student>.json``) a
Markdown report (``.md``) says what passed, what failed, why, and the points.

Exit status: 0 when every submission was graded (whatever its score), 2 for
bad command-line input (an unknown exercise or option, a missing file), 3 when
the grader itself cannot grade (hidden tests missing or broken, sandbox
unavailable), 4 when everything was graded but some submissions need a
person's attention (an ambiguous or missing notebook, a file that is not a
notebook): the CSV gradebook's ``needs_attention`` column says which and why.
Every command ends with a status other than 0 by raising
:class:`~dlbasics_grader.exit.GradeExit`; :func:`main` turns it into the status.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path

from dlbasics_grader.exit import ExitStatus, GradeExit
from dlbasics_grader.untrusted import terminal_safe

COMMANDS = ("grade", "batch", "report", "list", "gradescope", "classroom50", "actions")
LEGACY_COMMANDS = {"package-gradescope": "gradescope", "github-classroom": "actions"}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # a usage error is a GradeExit like every other
        self.print_usage(sys.stderr)
        raise GradeExit(ExitStatus.USAGE, message)


def _color() -> bool:
    return sys.stdout.isatty() and os.environ.get("NO_COLOR") is None


def _close_to_others(folder: Path) -> None:
    """As root, make the hidden tests unreadable by other users (the sandbox's)."""
    try:
        st = folder.stat()
        if os.geteuid() == 0 and st.st_uid == 0 and st.st_mode & 0o077:
            os.chmod(folder, st.st_mode & ~0o077)
    except OSError:
        pass


def _isolation_gate(tests_dir: Path, allow_unisolated: bool, results: Path | None) -> None:
    """Warn when the sandbox is weaker than the full set; refuse (exit 3) when nothing
    keeps the hidden tests and solutions unreadable, unless the caller accepts it."""
    from dlbasics_grader import engine, report, sandbox

    assessment = sandbox.assess(engine.secret_paths(tests_dir))
    if assessment.refusal and not allow_unisolated:
        msg = (f"refusing to grade: {assessment.refusal}. Grade as root, or on a Linux kernel "
               "with Landlock (5.13 or later), or pass --allow-unisolated for trusted work")
        if results:
            report.write_json_atomic(results, report.setup_error_results(msg))
        raise GradeExit(ExitStatus.SETUP_ERROR, msg)
    if assessment.missing or assessment.refusal:
        print("dlbasics-grade: warning: the sandbox is weaker than its full isolation here:",
              file=sys.stderr)
        for line in ([assessment.refusal] if assessment.refusal else []) + list(
                assessment.missing):
            print(f"  - {line}", file=sys.stderr)


def _setup(tests: Path | None, exercise: str | None = None, results: Path | None = None):
    """``(tests_dir, Exercise or None)``; a :class:`GradeExit` saying why not (after writing
    ``results``, so that every submission gets a results file)."""
    from dlbasics_grader import engine, report

    try:
        tests_dir = engine.find_tests_dir(tests)
        return tests_dir, (engine.load_exercise(exercise, tests_dir) if exercise else None)
    except engine.GraderSetupError as exc:
        if results:
            report.write_json_atomic(results, report.setup_error_results(str(exc)))
        raise GradeExit(ExitStatus.USAGE if exc.usage else ExitStatus.SETUP_ERROR,
                        str(exc)) from None


def _cmd_grade(args: argparse.Namespace) -> None:
    status = ExitStatus.OK
    try:
        _grade(args)
    except GradeExit as exc:
        status = exc.status
        raise
    finally:
        if args.github and args.results:
            from dlbasics_grader.package import publish_to_github

            publish_to_github(args.results, int(status))


def _grade(args: argparse.Namespace) -> None:
    from dlbasics_grader.sandbox.spawn import RunnerProcess

    # the runner starts Python and imports NumPy while the grader imports the rest of itself
    process = RunnerProcess() if args.submission.is_file() else None
    try:
        _grade_one(args, process)
    finally:
        if process is not None:
            process.close()


def _grade_one(args: argparse.Namespace, process) -> None:
    from dlbasics_grader import engine, report

    if args.github and not args.results:
        raise GradeExit(ExitStatus.USAGE, "--github needs --results FILE")
    tests_dir, exercise = _setup(args.tests, args.exercise, args.results)
    sub = args.submission
    if not sub.exists():
        if args.results:  # every submission gets a results file, even a missing one
            from dlbasics_grader.batch import write_results

            write_results(args.results, engine.grade(exercise, sub, private_paths=[tests_dir]),
                          args.gradescope)
        raise GradeExit(ExitStatus.USAGE, f"{sub}: no such file or folder")
    if sub.is_dir() and not args.choose:
        raise GradeExit(ExitStatus.USAGE, f"{sub} is a folder: add --choose to grade one "
                        "learner's folder, or use 'dlbasics-grade batch' for a class")
    _close_to_others(tests_dir)
    _isolation_gate(tests_dir, args.allow_unisolated, args.results)
    note = ""
    if sub.is_dir():
        from dlbasics_grader.batch import choose_notebook

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
    rep = engine.grade(exercise, sub, private_paths=[tests_dir],
                       allow_unisolated=args.allow_unisolated,
                       process=process if sub == args.submission else None)
    if args.quiet:
        print(f"{rep.score:g}/{rep.max_score:g} {terminal_safe(sub)}")
    else:  # the note is the grader's own line: printed without the learner-output mark
        print((f"{terminal_safe(note)}\n" if note else "") + report.summary(rep, color=_color()))
    if note:
        rep.output = f"{note}\n{rep.output}"
    if args.results:
        from dlbasics_grader.batch import write_results

        write_results(args.results, rep, args.gradescope)
        if not args.quiet:
            print(f"  results: {args.results} (and {Path(args.results).with_suffix('.md')})")
    if rep.grader_error:
        raise GradeExit(ExitStatus.SETUP_ERROR)


def _cmd_batch(args: argparse.Namespace) -> None:
    from dlbasics_grader.batch import grade_batch

    if args.jobs < 1:
        raise GradeExit(ExitStatus.USAGE, "--jobs must be at least 1")
    tests_dir, exercise = _setup(args.tests, args.exercise)
    if not args.submission.is_dir():
        raise GradeExit(ExitStatus.USAGE, f"{args.submission}: no such folder (batch grades a "
                        "folder of submissions; 'dlbasics-grade grade' grades one notebook)")
    _close_to_others(tests_dir)
    _isolation_gate(tests_dir, args.allow_unisolated, None)
    status = grade_batch(args, exercise, tests_dir)
    if status != ExitStatus.OK:
        raise GradeExit(status)


def _cmd_report(args: argparse.Namespace) -> None:
    from dlbasics_grader import class_report

    page, text = class_report.write(args.results_dir, args.out)
    print(f"wrote {page} and {text}")


def _cmd_list(args: argparse.Namespace) -> None:
    from dlbasics_grader import engine

    tests_dir = _setup(args.tests)[0]
    for name in engine.available_exercises(tests_dir):
        try:
            ex = engine.load_exercise(name, tests_dir)
            print(f"{name}  {ex.max_score:g} points  {ex.notebook}  {ex.title}")
        except Exception as exc:  # noqa: BLE001 - report a broken module, keep listing
            print(f"{name}  (cannot load: {type(exc).__name__}: {exc})")


def _cmd_gradescope(args: argparse.Namespace) -> None:
    from dlbasics_grader import package

    tests_dir = _setup(args.tests, args.exercise)[0]
    out = package.gradescope_zip(args.exercise, tests_dir, args.out)
    print(f"wrote {out} (upload it as the autograder of the {args.exercise} assignment)")


def _cmd_classroom50(args: argparse.Namespace) -> None:
    from dlbasics_grader import package

    tests_dir = _setup(args.tests, args.exercise)[0]
    out = package.classroom50_autograder(args.exercise, tests_dir, args.out_dir)
    print(f"wrote {out} and the files beside it: copy {args.out_dir}/ to "
          "CLASSROOM/autograders/ASSIGNMENT/ in your classroom50 repository, and pass "
          f"{args.out_dir / 'runtime.json'} to 'gh teacher assignment add --runtime'")


def _cmd_actions(args: argparse.Namespace) -> None:
    from dlbasics_grader import package

    tests_dir = _setup(args.tests, args.exercise)[0]
    print(f"wrote {package.actions_workflow(args.exercise, args.out_dir, tests_dir)}")


def _exercise_name(text: str) -> str:
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(f"exercise name {text!r} is not valid (e.g. ex1)")
    return text


def _command(sub, name: str, run: Callable[[argparse.Namespace], None], help_: str,
             exercise: bool = True) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help_, description=help_)
    p.set_defaults(run=run)
    if exercise:
        p.add_argument("exercise", type=_exercise_name,
                       help="exercise name, e.g. ex1 (see 'dlbasics-grade list')")
    return p


def _tests_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tests", type=Path, help="folder of hidden tests (default: "
                   "$DLBASICS_HIDDEN_TESTS, else hidden_exercises/ here or in a parent folder)")


def _sandbox_options(p: argparse.ArgumentParser) -> None:
    _tests_option(p)
    p.add_argument("--gradescope", action="store_true",
                   help="limit test statuses to Gradescope's passed/failed (detail kept in output)")
    p.add_argument("--quiet", "-q", action="store_true", help="print only the score line(s)")
    p.add_argument("--allow-unisolated", action="store_true",
                   help="grade even where nothing keeps the hidden tests unreadable to the "
                        "submissions (trusted, local work only)")


def parser() -> argparse.ArgumentParser:
    """The ``dlbasics-grade`` command line."""
    top = _Parser(prog="dlbasics-grade",
                  description="Grade Deep Learning Basics exercise notebooks in a sandbox, and "
                              "publish the grader on Gradescope or GitHub Actions.")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND",
                             parser_class=_Parser)

    p = _command(sub, "grade", _cmd_grade, "Grade one notebook (or one learner's folder).")
    p.add_argument("submission", type=Path, help="the notebook (.ipynb), or with --choose a "
                   "learner's folder")
    p.add_argument("--choose", action="store_true",
                   help="SUBMISSION is one learner's folder: grade the exercise's notebook in it, "
                        "else the newest .ipynb, and name the graded file first in the output")
    p.add_argument("--results", type=Path,
                   help="write Gradescope's results.json here (and the Markdown report beside it)")
    p.add_argument("--github", action="store_true",
                   help="in GitHub Actions: show the feedback as the run's summary "
                        "($GITHUB_STEP_SUMMARY), the score as an annotation and as the step "
                        "outputs score and max_score (needs --results)")
    _sandbox_options(p)

    p = _command(sub, "batch", _cmd_batch, "Grade a folder of submissions (one .ipynb or one "
                 "folder per student) into a gradebook.")
    p.add_argument("submission", type=Path, metavar="FOLDER", help="the class's submissions")
    p.add_argument("--csv", type=Path, help="write the CSV gradebook here")
    p.add_argument("--results-dir", type=Path,
                   help="write one <student>.json and <student>.md per submission here")
    p.add_argument("--jobs", "-j", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                   help="submissions graded at the same time (default: CPU count, max 4)")
    _sandbox_options(p)

    p = _command(sub, "report", _cmd_report, "Write the class report (one HTML page and its "
                 "Markdown) of a batch graded with --results-dir.", exercise=False)
    p.add_argument("results_dir", type=Path, help="the batch's --results-dir")
    p.add_argument("--out", type=Path, help="folder for the report (default: RESULTS_DIR)")

    p = _command(sub, "list", _cmd_list, "List the exercises that can be graded.",
                 exercise=False)
    _tests_option(p)

    p = _command(sub, "gradescope", _cmd_gradescope,
                 "Write the Gradescope autograder zip for one exercise.")
    p.add_argument("out", type=Path, help="the zip file to write")
    _tests_option(p)

    p = _command(sub, "classroom50", _cmd_classroom50,
                 "Write the Classroom 50 autograder (autograder.py, the package, the hidden "
                 "tests and runtime.json) for one exercise into OUT_DIR.")
    p.add_argument("out_dir", type=Path, help="becomes CLASSROOM/autograders/ASSIGNMENT/")
    _tests_option(p)

    p = _command(sub, "actions", _cmd_actions,
                 "Write the GitHub Actions workflow (grade.yml) for one exercise (run it where "
                 "the hidden tests are: the instructors' repository, or --tests DIR).")
    p.add_argument("out_dir", type=Path, nargs="?", default=Path(".github/workflows"))
    _tests_option(p)
    return top


def _modern(argv: list[str]) -> list[str]:
    """The command line from before the commands, in today's form."""
    if not argv or argv[0].startswith("-"):
        return argv
    if argv[0] in LEGACY_COMMANDS:
        return [LEGACY_COMMANDS[argv[0]], *argv[1:]]
    if argv[0] in COMMANDS or len(argv) < 2 or argv[1].startswith("-") or not argv[0].isidentifier():
        return argv
    folder = len(argv) > 1 and Path(argv[1]).is_dir() and "--choose" not in argv
    return ["batch" if folder else "grade", *argv]


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``dlbasics-grade``: the command's exit status."""
    argv = _modern(list(sys.argv[1:] if argv is None else argv))
    try:
        args = parser().parse_args(argv)
        args.run(args)
    except GradeExit as exc:
        if exc.message:
            print(f"dlbasics-grade: error: {exc.message}", file=sys.stderr)
        return int(exc.status)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else int(ExitStatus.USAGE)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return int(ExitStatus.INTERRUPTED)
    return int(ExitStatus.OK)


if __name__ == "__main__":
    raise SystemExit(main())
