"""Packaging for Gradescope and GitHub Actions."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import jsonschema
import pytest

from dlbasics_grader.cli import main
from dlbasics_grader.package import actions_workflow

from ..helpers import EX1, EXERCISES, HIDDEN, SOLUTIONS
from .platforms import seeded_venv, unzip


@pytest.fixture(scope="module")
def ex1_zip(tmp_path_factory):
    out = tmp_path_factory.mktemp("gs") / "ex1-autograder.zip"
    assert main(["gradescope", "ex1", str(out), "--tests", str(HIDDEN)]) == 0
    return out


def test_gradescope_zip_holds_scripts_package_and_only_this_exercises_tests(ex1_zip):
    with zipfile.ZipFile(ex1_zip) as zf:
        names = set(zf.namelist())
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        scripts = {n: zf.read(n).decode() for n in ("setup.sh", "run_autograder")}
    assert {"setup.sh", "run_autograder", "hidden_exercises/ex1.py",
            "package/pyproject.toml", "package/grader/pyproject.toml", "package/dlbasics/__init__.py",
            "package/dlbasics_grader/sandbox/child/runner.py",
            "package/dlbasics/checks/ex1.py"} <= names
    assert not any(n.startswith("hidden_exercises/ex") and n != "hidden_exercises/ex1.py" for n in names)
    assert not any("solutions/" in n or n.endswith(".ipynb") or "__pycache__" in n for n in names)
    for script in ("setup.sh", "run_autograder"):
        assert modes[script] & stat.S_IXUSR
        assert "{exercise}" not in scripts[script] and "{notebook}" not in scripts[script]
        subprocess.run(["bash", "-n"], input=scripts[script], text=True, check=True)
    assert "ex1_neural_network.ipynb" in scripts["run_autograder"]
    assert '"no" = "yes"' in scripts["setup.sh"]  # Exercise 1 forbids torch: not installed


GRADESCOPE_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "gradescope_results.json")
                               .read_text())


def _run_autograder(zip_path: Path, root: Path, submission: Path | None,
                    extra: dict[str, Path] | None = None, venv: Path = Path(sys.prefix)) -> dict:
    """Run the zip's own run_autograder, unchanged, in a simulated ``/autograder`` tree under
    ``root`` (``$DLBASICS_AUTOGRADER``; the zip is unzipped to ``root/source`` unless it is
    there already) with ``venv`` as the one setup.sh made (``$DLBASICS_VENV``; by default
    this run's own); ``extra`` maps more file names in the submission to the notebooks copied
    there. The results.json is checked against Gradescope's schema."""
    source = root / "source"
    if not source.is_dir():
        unzip(zip_path, source)
    shutil.copy(source / "run_autograder", root / "run_autograder")  # as Gradescope does
    (root / "submission").mkdir(exist_ok=True)
    if submission is not None:
        shutil.copy(submission, root / "submission" / EX1)
    for name, path in (extra or {}).items():
        shutil.copy(path, root / "submission" / name)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
           "DLBASICS_AUTOGRADER": str(root), "DLBASICS_VENV": str(venv)}
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert stat.S_IMODE((source / "hidden_exercises").stat().st_mode) & 0o077 == 0
    results = json.loads((root / "results" / "results.json").read_text())
    jsonschema.validate(results, GRADESCOPE_SCHEMA)
    return results


@pytest.mark.slow
def test_run_autograder_grades_a_submission(ex1_zip, tmp_path):
    results = _run_autograder(ex1_zip, tmp_path / "autograder", SOLUTIONS / EX1)
    assert results["score"] == 10
    assert {t["status"] for t in results["tests"]} == {"passed"}
    assert results["output_format"] == "md"
    assert {t["output_format"] for t in results["tests"]} == {"md"}


@pytest.mark.slow
def test_run_autograder_writes_results_for_stubs_and_for_nothing(ex1_zip, tmp_path):
    stub = _run_autograder(ex1_zip, tmp_path / "a", EXERCISES / EX1)
    assert stub["score"] == 0 and {t["status"] for t in stub["tests"]} == {"failed"}
    empty = _run_autograder(ex1_zip, tmp_path / "b", None)
    assert empty["score"] == 0 and "could not be read" in empty["output"]


@pytest.mark.slow
def test_run_autograder_chooses_and_names_the_graded_notebook(ex1_zip, tmp_path):
    """Two notebooks: the exercise's own is graded, whatever find would list first."""
    results = _run_autograder(ex1_zip, tmp_path / "c", SOLUTIONS / EX1,
                              {"Untitled.ipynb": EXERCISES / EX1, "A.ipynb": EXERCISES / EX1})
    assert results["score"] == 10
    assert results["output"].startswith(f"```text\nGraded {EX1} (the exercise's notebook). "
                                        "Warning: 2 other notebook(s) were not graded: "
                                        "A.ipynb, Untitled.ipynb.")


@pytest.mark.slow
def test_the_whole_zip_runs_as_on_gradescope_setup_sh_included(ex1_zip, tmp_path):
    """Gradescope's two steps, with the zip's own scripts unchanged: setup.sh builds the image
    (here without its apt-get lines, DLBASICS_SKIP_APT=1, and with pip's own configuration:
    this machine's local wheel sources, or the network), then run_autograder grades one
    submission with the virtual environment setup.sh made. That environment starts seeded
    with this run's third-party packages (platforms.seeded_venv), so pip builds and installs
    only the course package and the grader from the zip (seconds, not minutes)."""
    root = tmp_path / "autograder"
    unzip(ex1_zip, root / "source")
    venv = seeded_venv(tmp_path / "venv")
    python3 = tmp_path / "bin" / "python3"
    python3.parent.mkdir()
    python3.symlink_to(getattr(sys, "_base_executable", sys.executable))
    pip_env = {k: v for k, v in os.environ.items() if k.startswith("PIP_")}
    env = {**pip_env, "PATH": f"{python3.parent}:/usr/bin:/bin", "HOME": os.environ["HOME"],
           "LANG": "C.UTF-8", "DLBASICS_AUTOGRADER": str(root), "DLBASICS_VENV": str(venv),
           "DLBASICS_SKIP_APT": "1", "PIP_RETRIES": "1", "PIP_TIMEOUT": "10"}
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], cwd=root / "source",
                           env=env, capture_output=True, text=True, timeout=600)
    assert setup.returncode == 0, setup.stderr[-3000:]
    # both distributions, installed from the zip into that environment, not this run's
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import importlib.metadata as m, dlbasics, "
         "dlbasics_grader; print(dlbasics.__file__, dlbasics_grader.__file__, "
         "m.version('dlbasics'), m.version('dlbasics-grader'))"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert where.returncode == 0, where.stderr
    course, grader, *versions = where.stdout.split()
    assert course.startswith(str(venv)) and grader.startswith(str(venv)), where.stdout
    assert versions == ["0.1.0", "0.1.0"]
    assert (venv / "bin" / "dlbasics-grade").is_file()
    assert stat.S_IMODE((root / "source").stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((root / "submission").stat().st_mode) & 0o077 == 0
    results = _run_autograder(ex1_zip, root, SOLUTIONS / EX1, venv=venv)
    assert results["score"] == 10 and {t["status"] for t in results["tests"]} == {"passed"}


def test_setup_sh_refuses_a_python_older_than_3_10(ex1_zip, tmp_path):
    with zipfile.ZipFile(ex1_zip) as zf:
        script = zf.read("setup.sh").decode()
    stubs = tmp_path / "bin"
    stubs.mkdir()
    (stubs / "apt-get").write_text("#!/bin/sh\nexit 0\n")
    (stubs / "python3").write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.8.10";'
                                   ' exit 0; fi\nif [ "$1" = "-c" ]; then exit 1; fi\n'
                                   'echo "python3 $*" >> "$(dirname "$0")/ran"\n')
    for stub in stubs.iterdir():
        stub.chmod(0o755)
    proc = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=30,
                          env={"PATH": f"{stubs}:/usr/bin:/bin"})
    assert proc.returncode != 0
    assert "needs Python 3.10 or newer; this image has Python 3.8.10" in proc.stderr
    assert not (stubs / "ran").exists()  # stopped before creating the virtual environment


def test_actions_workflow_installs_torch_only_where_the_exercise_needs_it(tmp_path):
    assert "torch==" not in actions_workflow("ex1", tmp_path / "wf", HIDDEN).read_text()
    assert "torch==" in actions_workflow("ex2", tmp_path / "wf2", HIDDEN).read_text()


def test_actions_command_fails_clearly_outside_the_repository(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLBASICS_HIDDEN_TESTS", raising=False)
    assert main(["actions", "ex1", "wf"]) == 3
    assert "hidden tests not found" in capsys.readouterr().err
    assert not (tmp_path / "wf").exists()
    assert main(["actions", "ex7", "wf", "--tests", str(HIDDEN)]) == 2
    assert "no hidden tests for 'ex7'" in capsys.readouterr().err
    assert not (tmp_path / "wf").exists()
    assert main(["actions", "ex2", "wf", "--tests", str(HIDDEN)]) == 0
    text = (tmp_path / "wf" / "grade.yml").read_text()
    assert "Grade ex2_cnn.ipynb" in text and "dlbasics-grade grade ex2 " in text and "torch==" in text
