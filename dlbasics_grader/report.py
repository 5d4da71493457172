"""Writing grades: results.json (Gradescope's schema), terminal summaries, Markdown feedback for a
learner, CSV gradebooks."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dlbasics_grader.atomic import write_text_atomic
from dlbasics_grader.engine import GradeReport
from dlbasics_grader.untrusted import csv_safe, terminal_safe

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
    write_text_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def setup_error_results(message: str) -> dict[str, Any]:
    """results.json for a grader that could not grade at all (instructor problem)."""
    return {
        "score": 0.0,
        "execution_time": 0.0,
        "output_format": "text",
        "output": f"The autograder is misconfigured and could not grade this submission: "
                  f"{message}. Please tell your instructor.",
        "visibility": "visible",
        "tests": [],
        "extra_data": {"grader_error": message},
    }


LEARNER_MARK = "│ "
"""Starts every printed line that holds text from the submission (never a score line)."""


def _paint(text: str, status: str, color: bool) -> str:
    if not color:
        return text
    return f"\033[{_COLORS.get(status, '0')}m{text}\033[0m"


def summary(report: GradeReport, color: bool = False, verbose: bool = True) -> str:
    """A readable summary of one graded submission."""
    lines = [f"{report.title} ({report.exercise}) · {terminal_safe(report.submission)}"]
    width = max((len(t.name) for t in report.tests), default=10)
    for t in report.tests:
        mark = MARKS.get(t.status, "?")
        head = f"  {mark} {t.name:<{width}}  {t.score:>4g}/{t.max_score:<3g} {t.title}"
        if t.status not in ("passed", "failed"):
            head += f"  [{t.status}]"
        lines.append(_paint(head, t.status, color))
        if verbose and t.status != "passed" and t.output:
            for out_line in t.output.strip().splitlines()[:12]:
                lines.append(f"        {LEARNER_MARK}{terminal_safe(out_line)}")
    said = {ln.strip() for t in report.tests for ln in t.output.splitlines()}
    notes = [ln for ln in report.output.splitlines()  # each line once; the score is below
             if ln.strip() and ln.strip() not in said and not ln.startswith("Score: ")]
    if notes:
        lines.append("  Notebook:")
        lines += [f"    {LEARNER_MARK}{terminal_safe(ln)}" for ln in notes[:12]]
    total = f"  Score {report.score:g} / {report.max_score:g} · graded in {report.execution_time:.1f} s"
    lines.append(_paint(total, "passed" if report.score == report.max_score else "failed", color))
    if report.grader_error:
        lines.append(_paint(f"  GRADER ERROR: {terminal_safe(report.grader_error.splitlines()[0])}",
                            "error", color))
    return "\n".join(lines)


def md_inline(text: str) -> str:
    """``text`` as an inline code span on one line: shown literally, whatever it holds (no
    markup, no HTML), without backslash escapes (the fence is longer than any run of
    backticks in it); control and bidirectional-override characters escaped as in the terminal."""
    text = " ".join(terminal_safe(text).split())
    fence = "`" * (max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _plain(text: str) -> str:
    """The grader's own words on one line (titles, part names: nothing to escape)."""
    return " ".join(str(text).split()).replace("|", "/")


def md_code(text: str) -> str:
    """``text`` as a fenced block, literal whatever it holds (the fence is longer than any run
    of backticks in it); control and bidirectional-override characters escaped as in the
    terminal (a right-to-left override would show the block's text in another order)."""
    text = terminal_safe(text)
    fence = "`" * max(3, max((len(r) for r in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence}text\n{text.rstrip()}\n{fence}"


def markdown_report(report: GradeReport, student: str = "", attention: str = "") -> str:
    """A report a learner or instructor can read: the points, what passed, what failed and why.

    Everything that comes from the submission (messages quoting its code, tracebacks, file
    names, the student's name) is in a code span or a fenced block, so it shows as written
    and never as markup; the grader's own words are plain text, without escapes.
    """
    who = f" — {md_inline(student)}" if student else ""
    lines = [f"# {_plain(report.title)} ({_plain(report.exercise)}){who}", "",
             f"**Score: {report.score:g} / {report.max_score:g}** · file "
             f"{md_inline(report.submission.name)} · graded in {report.execution_time:.1f} s", ""]
    if attention:
        lines += [f"> **Needs attention:** {md_inline(attention)}", ""]
    if report.grader_error:
        lines += [f"> **Grader error** (not the learner's fault): "
                  f"{md_inline(report.grader_error.splitlines()[0])}", ""]
    lines += ["| part | points | status |", "|---|---|---|"]
    for t in report.tests:
        lines.append(f"| {_plain(t.name)}: {_plain(t.title)} | {t.score:g} / {t.max_score:g} "
                     f"| {MARKS.get(t.status, '?')} {_plain(t.status)} |")
    for t in report.tests:
        lines += ["", f"## {MARKS.get(t.status, '?')} {_plain(t.name)} — {t.score:g} / "
                  f"{t.max_score:g}", ""]
        lines.append(md_code(t.output) if t.output.strip() else "(no message)")
    notes = "\n".join(ln for ln in report.output.splitlines()
                      if not ln.startswith("Score: ")).strip()  # the score is said above
    if notes:
        lines += ["", "## The notebook", "", md_code(notes)]
    return "\n".join(lines) + "\n"


def gradescope_markdown(results: dict[str, Any]) -> dict[str, Any]:
    """``results`` (Gradescope's results.json) with its feedback written as Markdown.

    Gradescope renders ``output_format: "md"`` (top level and per test); every message is
    put in a fenced block, so its indentation, tracebacks and learner text show exactly as
    written and nothing in them becomes markup.
    """
    out = dict(results, output_format="md")
    if str(out.get("output", "")).strip():
        out["output"] = md_code(out["output"])
    out["tests"] = [dict(t, output_format="md",
                         output=md_code(t["output"]) if str(t.get("output", "")).strip() else "")
                    for t in results.get("tests", [])]
    return out


def gradebook_header(part_names: Sequence[str]) -> list[str]:
    """Columns of the CSV gradebook."""
    return ["student", "file", "score", "max_score", *part_names, "statuses",
            "execution_time", "needs_attention", "grader_error"]


def gradebook_row(student: str, report: GradeReport, attention: str = "",
                  root: Path | None = None) -> list[Any]:
    """One CSV row for ``report``; ``attention`` says why a person should look at it (an
    ambiguous or missing notebook), apart from a real score of 0. The file is named relative
    to ``root`` (the batch folder), so the gradebook means the same on another machine."""
    statuses = ";".join(f"{t.name}={t.status}" for t in report.tests if t.status != "passed")
    file = Path(report.submission)
    if root is not None:
        try:
            file = file.resolve().relative_to(Path(root).resolve())
        except ValueError:
            pass
    return [student, file.as_posix(), f"{report.score:g}", f"{report.max_score:g}",
            *[f"{t.score:g}" for t in report.tests], statuses or "all passed",
            f"{report.execution_time:.2f}", attention,
            report.grader_error.splitlines()[0] if report.grader_error else ""]


def write_gradebook(path: Path, part_names: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """Write the CSV gradebook (rows sorted by student; no cell reads as a formula)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(gradebook_header(part_names))
        for row in sorted(rows, key=lambda r: str(r[0])):
            writer.writerow([csv_safe(v) for v in row])


class GradebookAppender:
    """The CSV gradebook written as each submission finishes (header first, one
    flushed row at a time), so an interrupted batch keeps what was graded."""

    def __init__(self, path: Path, part_names: Sequence[str]) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fh = open(path, "w", newline="", encoding="utf-8")  # noqa: SIM115 - closed by close()
        self.writer = csv.writer(self.fh)
        self.append(gradebook_header(part_names))

    def append(self, row: Sequence[Any]) -> None:
        self.writer.writerow([csv_safe(v) for v in row])
        self.fh.flush()

    def close(self) -> None:
        self.fh.close()
