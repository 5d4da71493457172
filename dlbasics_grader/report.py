"""Writing grades: results.json (Gradescope's schema), terminal summaries, CSV gradebooks."""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlbasics_grader.engine import GradeReport

MARKS = {
    "passed": "✓",
    "failed": "✗",
    "error": "!",
    "timeout": "⏱",
    "out of memory": "M",
    "crashed": "☠",
}
_COLORS = {"passed": "32", "failed": "31", "error": "33", "timeout": "33",
           "out of memory": "33", "crashed": "35"}


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    """Write ``data`` as JSON to ``path`` via a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, ensure_ascii=False)
            fh.write("\n")
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def setup_error_results(message: str) -> dict[str, Any]:
    """results.json for a grader that could not grade at all (instructor problem)."""
    return {
        "score": 0.0,
        "execution_time": 0.0,
        "output": f"The autograder is misconfigured and could not grade this submission: "
                  f"{message}. Please tell your instructor.",
        "visibility": "visible",
        "tests": [],
        "extra_data": {"grader_error": message},
    }


def _paint(text: str, status: str, color: bool) -> str:
    if not color:
        return text
    return f"\033[{_COLORS.get(status, '0')}m{text}\033[0m"


def summary(report: GradeReport, color: bool = False, verbose: bool = True) -> str:
    """A readable summary of one graded submission."""
    lines = [f"{report.title} ({report.exercise}) · {report.submission}"]
    width = max((len(t.name) for t in report.tests), default=10)
    for t in report.tests:
        mark = MARKS.get(t.status, "?")
        head = f"  {mark} {t.name:<{width}}  {t.score:>4g}/{t.max_score:<3g} {t.title}"
        if t.status not in ("passed", "failed"):
            head += f"  [{t.status}]"
        lines.append(_paint(head, t.status, color))
        if verbose and t.status != "passed" and t.output:
            for out_line in t.output.strip().splitlines()[:12]:
                lines.append(f"        {out_line}")
    notes = [ln for ln in report.output.splitlines()[1:] if ln.strip()]
    if notes:
        lines.append("  Notebook:")
        lines += [f"    {ln}" for ln in notes[:12]]
    total = f"  Score {report.score:g} / {report.max_score:g} · graded in {report.execution_time:.1f} s"
    lines.append(_paint(total, "passed" if report.score == report.max_score else "failed", color))
    if report.grader_error:
        lines.append(_paint(f"  GRADER ERROR: {report.grader_error.splitlines()[0]}", "error",
                            color))
    return "\n".join(lines)


def gradebook_header(part_names: Sequence[str]) -> list[str]:
    """Columns of the CSV gradebook."""
    return ["student", "file", "score", "max_score", *part_names, "statuses",
            "execution_time", "grader_error"]


def gradebook_row(student: str, report: GradeReport) -> list[Any]:
    """One CSV row for ``report``."""
    statuses = ";".join(f"{t.name}={t.status}" for t in report.tests if t.status != "passed")
    return [student, str(report.submission), f"{report.score:g}", f"{report.max_score:g}",
            *[f"{t.score:g}" for t in report.tests], statuses or "all passed",
            f"{report.execution_time:.2f}", report.grader_error.splitlines()[0]
            if report.grader_error else ""]


def write_gradebook(path: Path, part_names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write the CSV gradebook (rows sorted by student)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(gradebook_header(part_names))
        for row in sorted(rows, key=lambda r: str(r[0])):
            writer.writerow(row)
