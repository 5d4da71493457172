"""The platforms the grader is published on, simulated for tests: a student repository laid out
like the student bundle, and a GitHub Actions job run step by step as the runner does it."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from dlbasics_grader import release

VENV_BIN = Path(sys.executable).parent
"""This test run's virtual environment: it holds the installed course package and grader."""


def student_repository(dest: Path, notebooks: dict[str, Path]) -> Path:
    """A learner's repository made from the student bundle (``make release``), with
    ``notebooks`` (``{path in the repository: notebook to copy there}``) as the learner's
    work."""
    release.build(dest)
    for rel, source in notebooks.items():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
    return dest


def sudo_shim(folder: Path) -> Path:
    """A ``sudo`` for a test already running as root: it drops its options and runs the rest."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "sudo"
    shim.write_text('#!/bin/sh\nwhile [ "${1#-}" != "$1" ]; do shift; done\nexec "$@"\n')
    shim.chmod(0o755)
    return folder


@dataclass
class StepRun:
    """What one step of the job did."""

    name: str
    outcome: str  # "success", "failure", "skipped" or "simulated"
    returncode: int = 0
    stdout: str = ""
    stderr: str = ""
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class JobRun:
    """A whole job: its steps, the run summary GitHub shows and whether the job failed."""

    steps: list[StepRun]
    summary: str
    workspace: Path
    runner_temp: Path
    uploaded: list[Path]

    @property
    def failed(self) -> bool:
        return any(s.outcome == "failure" for s in self.steps)

    def step(self, prefix: str) -> StepRun:
        return next(s for s in self.steps if s.name.startswith(prefix))


_EXPR = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")


def _read_pairs(path: Path) -> dict[str, str]:
    """``name=value`` lines of ``$GITHUB_OUTPUT`` (the single-line form)."""
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.exists() else []:
        name, sep, value = line.partition("=")
        if sep:
            out[name] = value
    return out


def run_actions_job(workflow: Path, repository: Path, hidden: Path, root: Path,
                    python_bin: Path = VENV_BIN, skip_install: bool = True) -> JobRun:
    """Run the single job of ``workflow`` as GitHub's runner does, under ``root``.

    ``run`` steps are written to a file and run with ``bash --noprofile --norc -eo pipefail``
    in ``$GITHUB_WORKSPACE`` with the runner's environment variables (``GITHUB_WORKSPACE``,
    ``GITHUB_OUTPUT``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_ENV``, ``GITHUB_PATH``,
    ``RUNNER_TEMP``, ``CI``, ``GITHUB_ACTIONS``); a step's ``${{ ... }}`` expressions
    are evaluated for the few contexts the workflows use. After a failed step only
    ``if: always()`` steps run. The actions are simulated: ``actions/checkout`` copies
    ``repository`` into the workspace (or, with ``path``, ``hidden``, the private tests
    repository, there); ``actions/setup-python`` puts ``python_bin`` on the path;
    ``actions/upload-artifact`` records the files its ``path`` matches. With
    ``skip_install``, the step that pip-installs the grader is skipped (this environment
    already has it, and no network).
    """
    job = next(iter(yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"].values()))
    workspace = root / "work" / repository.name
    temp = root / "_temp"
    for d in (workspace.parent, temp):
        d.mkdir(parents=True, exist_ok=True)
    shims = sudo_shim(root / "shims")
    path_dirs: list[str] = []
    env_extra: dict[str, str] = {}
    outputs: dict[str, dict[str, str]] = {}
    summary = ""
    steps: list[StepRun] = []
    uploaded: list[Path] = []

    def evaluate(text: str) -> str:
        def one(m: re.Match) -> str:
            expr = m.group(1)
            if expr == "runner.temp":
                return str(temp)
            hit = re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expr)
            if hit:
                return outputs.get(hit.group(1), {}).get(hit.group(2), "")
            if expr.startswith(("vars.", "secrets.")):
                return f"<{expr}>"
            raise AssertionError(f"expression not simulated: {expr}")
        return _EXPR.sub(one, text)

    failed = False
    for i, step in enumerate(job["steps"]):
        name = step.get("name") or step.get("uses") or f"step {i}"
        condition = str(step.get("if", ""))
        if failed and "always()" not in condition:
            steps.append(StepRun(name, "skipped"))
            continue
        uses = step.get("uses", "")
        with_ = {k: evaluate(str(v)) for k, v in (step.get("with") or {}).items()}
        if uses.startswith("actions/checkout@"):
            if "path" in with_:
                shutil.copytree(hidden, workspace / with_["path"])
            else:
                shutil.copytree(repository, workspace)
            steps.append(StepRun(name, "simulated"))
            continue
        if uses.startswith("actions/setup-python@"):
            path_dirs.insert(0, str(python_bin))
            steps.append(StepRun(name, "simulated"))
            continue
        if uses.startswith("actions/upload-artifact@"):
            pattern = with_["path"]
            uploaded += sorted(Path(p) for p in glob.glob(pattern))
            steps.append(StepRun(name, "simulated"))
            continue
        assert not uses, f"action not simulated: {uses}"
        if skip_install and "pip install" in step["run"]:
            steps.append(StepRun(name, "skipped"))
            continue
        script = root / f"step{i}.sh"
        script.write_text(evaluate(step["run"]), encoding="utf-8")
        output_file, summary_file = root / f"output{i}", root / f"summary{i}"
        for f in (output_file, summary_file):
            f.write_text("")
        env = {
            "PATH": os.pathsep.join([*path_dirs, str(shims), "/usr/local/bin", "/usr/bin", "/bin"]),
            "HOME": str(root / "home"), "CI": "true", "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace), "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file), "GITHUB_ENV": str(root / "env"),
            "GITHUB_PATH": str(root / "path"), "RUNNER_TEMP": str(temp),
            "RUNNER_OS": "Linux", "GITHUB_REPOSITORY": f"course/{repository.name}",
            "LANG": "C.UTF-8", **env_extra,
            **{k: evaluate(str(v)) for k, v in (step.get("env") or {}).items()},
        }
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
                              cwd=workspace, env=env, capture_output=True, text=True, timeout=600)
        step_outputs = _read_pairs(output_file)
        if step.get("id"):
            outputs[step["id"]] = step_outputs
        summary += summary_file.read_text(encoding="utf-8")
        outcome = "success" if proc.returncode == 0 else "failure"
        failed = failed or outcome == "failure"
        steps.append(StepRun(name, outcome, proc.returncode, proc.stdout, proc.stderr,
                             step_outputs))
    return JobRun(steps, summary, workspace, temp, uploaded)


def unzip(zip_path: Path, dest: Path) -> Path:
    """Extract ``zip_path`` into ``dest`` keeping the files' modes."""
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            zf.extract(info, dest)
            mode = info.external_attr >> 16
            if mode:
                os.chmod(dest / info.filename, mode & 0o7777)
    return dest


EDITABLE_COURSE = ("__editable__", "dlbasics-", "dlbasics_grader-", "dlbasics.", "dlbasics_grader.")
"""Site-packages entries of this run's own editable install of the course and the grader."""


def seeded_venv(dest: Path) -> Path:
    """A fresh virtual environment at ``dest`` that already holds this run's third-party
    packages (NumPy, matplotlib, ...) but neither the course package nor the grader.

    ``setup.sh`` then installs what a Gradescope image gets from it (``dlbasics`` and the
    grader, built by pip from the zip's ``package/`` and ``package/grader/``) in seconds,
    instead of minutes spent fetching and unpacking the dependencies again. The packages are
    hard links of this run's own files (one filesystem; a copy otherwise): every path stays
    inside ``dest``, as the sandbox's Landlock rules require, and pip replaces files by new
    ones, never in place, so this run's environment is left as it was.
    """
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120)
    ours = Path(sysconfig.get_paths()["purelib"])
    theirs = Path(subprocess.run([str(dest / "bin" / "python"), "-c",
                                  "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True, check=True).stdout.strip())
    for entry in ours.iterdir():
        if entry.name.startswith(EDITABLE_COURSE):
            continue
        target = theirs / entry.name
        if entry.is_dir():
            shutil.copytree(entry, target, copy_function=_link_or_copy, symlinks=True)
        else:
            _link_or_copy(entry, target)
    return dest


def _link_or_copy(src: str | Path, dst: str | Path) -> None:
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dst, follow_symlinks=False)
