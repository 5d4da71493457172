"""Grading a class: which notebook of a learner's folder is graded, and a whole folder of
submissions graded at once into a gradebook."""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from dlbasics_grader.exit import ExitStatus, GradeExit
from dlbasics_grader.untrusted import terminal_safe

GRADESCOPE_METADATA = "submission_metadata.yml"


def gradescope_students(folder: Path) -> dict[str, str]:
    """``{submission folder: student id}`` from a Gradescope export's ``submission_metadata.yml``
    (each submission's ``:submitters``: their ``:sid``, else ``:email``, else ``:name``; a group
    joins them with ``;``); empty when ``folder`` is not such an export."""
    path = Path(folder) / GRADESCOPE_METADATA
    if not path.is_file():
        return {}
    try:
        import yaml
    except ImportError:
        raise GradeExit(ExitStatus.SETUP_ERROR, f"reading {path} needs PyYAML "
                        "(pip install pyyaml)") from None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise GradeExit(ExitStatus.USAGE, f"{path} is not readable YAML: {exc}") from None
    ids = {}
    for submission, meta in data.items() if isinstance(data, dict) else ():
        people = (meta or {}).get(":submitters") or [] if isinstance(meta, dict) else []
        who = [str(p.get(":sid") or p.get(":email") or p.get(":name") or "") for p in people
               if isinstance(p, dict)]
        if any(who):
            ids[str(submission)] = ";".join(w for w in who if w)
    return ids


def write_results(path: Path, rep, strict: bool, student: str = "", attention: str = "") -> None:
    """results.json (Gradescope's schema) and, next to it, the readable Markdown report."""
    from dlbasics_grader import report

    data = report.gradescope_markdown(rep.to_gradescope(strict=strict))
    data.setdefault("extra_data", {})["needs_attention"] = attention  # for the class report
    report.write_json_atomic(path, data)
    report.write_text_atomic(Path(path).with_suffix(".md"),
                             report.markdown_report(rep, student, attention))


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


def batch_items(folder: Path, notebook: str) -> list[BatchItem]:
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


def not_graded(exercise, path: Path, why: str):
    """The report of a student whose notebook could not be chosen: 0 points, saying why."""
    from dlbasics_grader.engine import GradeReport

    tests = [p.result(0.0, "error", f"Not graded: {why}.") for p in exercise.parts]
    return GradeReport(exercise=exercise.name, title=exercise.title, submission=path,
                       tests=tests, execution_time=0.0,
                       output=f"Score: 0 / {exercise.max_score:g}.\nNot graded: {why}.")


def grade_batch(args: argparse.Namespace, exercise, tests_dir: Path) -> ExitStatus:
    """Grade every student of the folder ``args.submission``; print the class's scores.

    Returns the exit status: ``SETUP_ERROR`` when the grader failed on some submission,
    ``NEEDS_ATTENTION`` when some need a person's look, else ``OK``.
    """
    from tqdm.auto import tqdm

    from dlbasics_grader import engine, report

    items = batch_items(args.submission, exercise.notebook)
    if not items:
        raise GradeExit(ExitStatus.USAGE, f"{args.submission} holds no notebooks (.ipynb)")
    private = [tests_dir]
    private = [*private, args.submission.resolve()]
    if args.csv is not None:
        private.append(args.csv.resolve().parent)
    if args.results_dir is not None:
        private.append(args.results_dir.resolve())
    attention = {it.student: it.attention for it in items}
    rows, reports = [], {}
    ids = gradescope_students(args.submission)  # the LMS's student ids, in a Gradescope export
    t0 = time.monotonic()
    parts = [p.name for p in exercise.parts]
    book = report.GradebookAppender(args.csv, parts) if args.csv else None

    def record(student: str, rep) -> None:
        """Keep one student's grade the moment it is known (CSV row, results file)."""
        reports[student] = rep
        attention[student] = attention[student] or rep.unreadable
        rows.append(report.gradebook_row(ids.get(student, student), rep, attention[student],
                                         root=args.submission))
        if book is not None:
            book.append(rows[-1])
        if args.results_dir:
            write_results(Path(args.results_dir) / f"{student}.json", rep, args.gradescope,
                           student, attention[student])

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futures = {pool.submit(engine.grade, exercise, it.path, private_paths=private,
                               allow_unisolated=args.allow_unisolated): it.student
                   for it in items if it.path is not None}
        # every student counts, those whose notebook could not be chosen too
        bar = tqdm(total=len(items), desc=f"grading {exercise.name}", unit="nb",
                   disable=args.quiet, file=sys.stderr)
        for it in items:
            if it.path is None:
                record(it.student, not_graded(exercise, args.submission / it.student,
                                               it.attention))
                bar.update()
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
        return ExitStatus.SETUP_ERROR
    return ExitStatus.NEEDS_ATTENTION if flagged else ExitStatus.OK
