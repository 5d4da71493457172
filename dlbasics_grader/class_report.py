"""The class report: one page that says how a batch went.

``dlbasics-grade report RESULTS_DIR`` reads the ``<student>.json`` files that
``dlbasics-grade batch --results-dir RESULTS_DIR`` wrote and writes ``class-report.html`` (one
self-contained page: the plots are PNG data URIs) and ``class-report.md`` beside them: the
score distribution, each part's pass rate, the most common diagnoses with the number of
students who got each, the students who need attention and the grading-time outliers.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from dlbasics_grader.exit import ExitStatus, GradeExit

_FENCE = re.compile(r"^(`{3,})text\n(.*)\n\1$", re.S)


def _text(output: str) -> str:
    """A message as the grader wrote it (results.json fences it for Gradescope's Markdown)."""
    m = _FENCE.match(str(output).strip())
    return m.group(2) if m else str(output)


def diagnosis(output: str) -> str:
    """What a failed part's message says went wrong: its first line that is not a traceback."""
    for line in _text(output).splitlines():
        line = line.strip()
        if line and not line.startswith(("Traceback", "File ", "[")):
            return line[:160]
    return "(no message)"


@dataclass
class Student:
    """One graded submission of the batch."""

    name: str
    score: float
    max_score: float
    seconds: float
    parts: dict[str, tuple[float, float, str]]  # part -> (score, max, status)
    diagnoses: list[tuple[str, str]] = field(default_factory=list)  # (part, diagnosis)
    attention: str = ""
    grader_error: str = ""


def read_batch(folder: Path) -> list[Student]:
    """The students of the batch whose results are in ``folder`` (one ``<student>.json`` each)."""
    files = sorted(Path(folder).glob("*.json"))
    if not files:
        raise GradeExit(ExitStatus.USAGE, f"{folder} holds no results (<student>.json); write "
                        "them with 'dlbasics-grade batch EXERCISE FOLDER --results-dir DIR'")
    students = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            tests = data["tests"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise GradeExit(ExitStatus.USAGE, f"{path} is not a results file: {exc}") from None
        parts, diags = {}, []
        for t in tests:
            name = str(t.get("name", "")).split(":")[0]
            parts[name] = (float(t.get("score", 0)), float(t.get("max_score", 0)),
                           str(t.get("status", "")))
            if float(t.get("score", 0)) < float(t.get("max_score", 0)):
                diags.append((name, diagnosis(t.get("output", ""))))
        extra = data.get("extra_data") or {}
        students.append(Student(path.stem, float(data.get("score", 0)),
                                sum(m for _, m, _ in parts.values()),
                                float(data.get("execution_time", 0)), parts, diags,
                                str(extra.get("needs_attention") or ""),
                                str(extra.get("grader_error") or "")))
    return students


@dataclass
class ClassSummary:
    """What the report shows, computed once for the HTML and the Markdown."""

    students: list[Student]
    pass_rates: dict[str, float]
    diagnoses: list[tuple[str, str, list[str]]]  # (parts, diagnosis, students), most common first
    attention: list[tuple[str, str]]
    slow: list[tuple[str, float]]
    median_seconds: float


def summarize(students: list[Student]) -> ClassSummary:
    """Pass rates, diagnoses with their students, who needs attention, and timing outliers.

    A student needs attention when the batch flagged them, when the grader failed on their
    notebook, or when they scored below a quarter of the points. A grading time is an outlier
    above three times the class's median (and above 5 s).
    """
    parts = list(students[0].parts)
    pass_rates = {p: sum(s.parts.get(p, (0, 0, ""))[2] == "passed" for s in students)
                  / len(students) for p in parts}
    # one diagnosis is counted once per student, with every part it was given for
    students_of: dict[str, list[str]] = defaultdict(list)
    parts_of: dict[str, list[str]] = defaultdict(list)
    for s in students:
        for part, diag in s.diagnoses:
            if s.name not in students_of[diag]:
                students_of[diag].append(s.name)
            if part not in parts_of[diag]:
                parts_of[diag].append(part)
    diagnoses = sorted(((", ".join(parts_of[d]), d, names) for d, names in students_of.items()),
                       key=lambda x: (-len(x[2]), x[0], x[1]))
    attention = []
    for s in students:
        why = s.attention or (f"grader error: {s.grader_error}" if s.grader_error else "") or (
            f"{s.score:g} of {s.max_score:g} points" if s.score < s.max_score / 4 else "")
        if why:
            attention.append((s.name, why))
    median = statistics.median(s.seconds for s in students)
    slow = [(s.name, s.seconds) for s in students if s.seconds > max(3 * median, 5.0)]
    return ClassSummary(students, pass_rates, diagnoses, attention, slow, median)


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(summary: ClassSummary) -> tuple[str, str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    max_score = max(s.max_score for s in summary.students)
    fig, ax = plt.subplots(figsize=(6, 3.2))
    ax.hist([s.score for s in summary.students], bins=min(20, max(5, int(max_score) + 1)),
            range=(0, max_score), color="#3b6ea5", edgecolor="white")
    ax.set_xlabel(f"score (out of {max_score:g})")
    ax.set_ylabel("students")
    ax.set_title("Score distribution")
    ax.yaxis.get_major_locator().set_params(integer=True)
    hist = _png(fig)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 0.5 + 0.45 * len(summary.pass_rates)))
    names = list(summary.pass_rates)[::-1]
    ax.barh(names, [100 * summary.pass_rates[n] for n in names], color="#4c9a5b")
    ax.set_xlim(0, 100)
    ax.set_xlabel("students who passed the part (%)")
    ax.set_title("Pass rate per part")
    bars = _png(fig)
    plt.close(fig)
    return hist, bars


def _names(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def markdown(summary: ClassSummary, title: str) -> str:
    """The report as Markdown (student names and diagnoses in code spans: they are data)."""
    from dlbasics_grader.report import md_inline

    n = len(summary.students)
    scores = [s.score for s in summary.students]
    full = sum(s.score == s.max_score for s in summary.students)
    lines = [f"# {title}", "",
             f"{n} students · mean {statistics.mean(scores):.2f} · median "
             f"{statistics.median(scores):g} · full marks {full}",
             "", "## Pass rate per part", "", "| part | passed |", "|---|---|"]
    lines += [f"| {p} | {100 * r:.0f} % |" for p, r in summary.pass_rates.items()]
    lines += ["", "## Most common diagnoses", ""]
    lines += [f"- {part}: {md_inline(diag)}: **{len(names)} student{'s' * (len(names) != 1)}** "
              f"({md_inline(_names(names))})" for part, diag, names in summary.diagnoses[:15]]
    lines += ["", "## Students who need attention", ""]
    lines += [f"- {md_inline(name)}: {md_inline(why)}" for name, why in summary.attention] or [
        "Nobody."]
    lines += ["", f"## Grading-time outliers (median {summary.median_seconds:.1f} s)", ""]
    lines += [f"- {md_inline(name)}: {sec:.1f} s" for name, sec in summary.slow] or ["None."]
    return "\n".join(lines) + "\n"


def html_page(summary: ClassSummary, title: str) -> str:
    """The report as one self-contained HTML page."""
    esc = html.escape
    hist, bars = _plots(summary)
    n = len(summary.students)
    scores = [s.score for s in summary.students]
    diag_rows = "".join(
        f"<tr><td>{esc(p)}</td><td><code>{esc(d)}</code></td><td class=n>{len(names)}</td>"
        f"<td>{esc(_names(names))}</td></tr>" for p, d, names in summary.diagnoses[:15])
    attention = "".join(f"<li><b>{esc(a)}</b>: {esc(w)}</li>" for a, w in summary.attention)
    slow = "".join(f"<li><b>{esc(a)}</b>: {s:.1f} s</li>" for a, s in summary.slow)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)}</title>
<style>
body {{ font: 16px/1.5 system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; padding: 0 1rem;
       color: #1d1d1f; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.2rem; margin-top: 2rem; }}
.stats {{ display: flex; gap: 1.5rem; flex-wrap: wrap; }}
.stats div {{ background: #f2f4f7; border-radius: .5rem; padding: .5rem 1rem; }}
.stats b {{ display: block; font-size: 1.4rem; }}
img {{ max-width: 100%; height: auto; }}
table {{ border-collapse: collapse; width: 100%; }}
td, th {{ border-bottom: 1px solid #ddd; padding: .35rem .5rem; text-align: left;
          vertical-align: top; }}
td.n {{ text-align: right; font-weight: bold; }}
code {{ font-size: .9em; white-space: pre-wrap; }}
</style></head><body>
<h1>{esc(title)}</h1>
<div class="stats">
<div><b>{n}</b>students</div>
<div><b>{statistics.mean(scores):.2f}</b>mean score</div>
<div><b>{statistics.median(scores):g}</b>median</div>
<div><b>{sum(s.score == s.max_score for s in summary.students)}</b>full marks</div>
<div><b>{len(summary.attention)}</b>need attention</div>
</div>
<h2>Score distribution</h2>
<img src="{hist}" alt="Histogram of the {n} students' scores">
<h2>Pass rate per part</h2>
<img src="{bars}" alt="Share of students who passed each part">
<h2>Most common diagnoses</h2>
<table><tr><th>part</th><th>diagnosis</th><th>students</th><th>who</th></tr>{diag_rows}</table>
<h2>Students who need attention</h2>
<ul>{attention or "<li>Nobody.</li>"}</ul>
<h2>Grading-time outliers (median {summary.median_seconds:.1f} s)</h2>
<ul>{slow or "<li>None.</li>"}</ul>
</body></html>
"""


def write(folder: Path, out: Path | None = None) -> tuple[Path, Path]:
    """Write ``class-report.html`` and ``class-report.md`` for the batch in ``folder``."""
    students = read_batch(folder)
    summary = summarize(students)
    title = f"Class report: {Path(folder).resolve().name}"
    out = Path(out or folder)
    out.mkdir(parents=True, exist_ok=True)
    page, text = out / "class-report.html", out / "class-report.md"
    page.write_text(html_page(summary, title), encoding="utf-8")
    text.write_text(markdown(summary, title), encoding="utf-8")
    return page, text


__all__ = ["ClassSummary", "diagnosis", "read_batch", "summarize", "write"]
