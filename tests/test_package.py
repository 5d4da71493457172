"""The package as a whole: public names, lazy imports, packaging metadata."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import dlbasics

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", sorted(dlbasics._EXPORTS))
def test_every_public_name_resolves(name):
    assert getattr(dlbasics, name) is not None
    assert name in dir(dlbasics)


def test_unknown_attribute_raises_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'not_a_thing'"):
        dlbasics.not_a_thing  # noqa: B018


def test_import_is_lazy_about_torch():
    code = "import sys, dlbasics; dlbasics.MLP; dlbasics.sigmoid; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_version_matches_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert meta["project"]["version"] == dlbasics.__version__


def _requirement_lines(path: Path) -> list[str]:
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def _torch_pin() -> str:
    """``torch==X.Y.Z`` from pyproject.toml's ``torch`` extra, where the pin is written."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (pin,) = meta["project"]["optional-dependencies"]["torch"]
    return pin


def test_requirements_leave_torch_to_the_extra_and_pin_nothing():
    """Learners choose: ``-e .`` (chapter 1, Exercise 1) or ``-e ".[torch]"`` (the rest)."""
    lines = _requirement_lines(ROOT / "requirements.txt")
    assert lines[0] == "--extra-index-url https://download.pytorch.org/whl/cpu"
    assert not [line for line in lines if "==" in line]
    assert not any(re.match(r"torch\b", line) for line in lines)
    dev = _requirement_lines(ROOT / "requirements-dev.txt")
    assert any(line.startswith("jupyter-book") and "<2" in line for line in dev)
    assert not any(line.startswith("torch") for line in lines + dev)
    assert '-e ".[torch]"' in (ROOT / "Makefile").read_text()  # the book and its tests use it


def test_every_place_that_names_the_torch_version_agrees_with_pyproject():
    from dlbasics.install import torch_pin
    from dlbasics_grader.package import TORCH_VERSION

    pin = _torch_pin()
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", pin), pin
    assert f"torch=={torch_pin()}" == pin  # what require_torch() tells a learner to install
    assert f"torch=={TORCH_VERSION}" == pin  # the Gradescope and Classroom set-up installs this
    assert f"`{pin}`" in (ROOT / "README.md").read_text(encoding="utf-8")


NO_TORCH = ("import sys; sys.modules['torch'] = None  # every `import torch` now fails\n")


def _without_torch(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", NO_TORCH + code], capture_output=True,
                          text=True, timeout=120)


def test_the_package_and_exercise_1_work_without_torch():
    proc = _without_torch(
        "import numpy as np, dlbasics\n"
        "from dlbasics.checks import check\n"
        "import dlbasics.checks.ex1\n"
        "out, _ = dlbasics.dense_forward(np.ones((1, 2)), np.ones((3, 2)), np.zeros(3))\n"
        "print(dlbasics.sigmoid(np.zeros(2)).tolist(), out.tolist())\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0.5, 0.5] [[2.0, 2.0, 2.0]]"


def test_require_torch_says_how_to_install_it():
    proc = _without_torch("import dlbasics; dlbasics.require_torch()")
    assert proc.returncode != 0
    assert "ModuleNotFoundError: This notebook needs PyTorch" in proc.stderr
    pin = _torch_pin()
    for text in (f"%pip install --retries 1 --timeout 10 \"{pin}\" --extra-index-url "
                 "https://download.pytorch.org/whl/cpu",
                 f"{sys.executable} -m pip install --retries 1 --timeout 10 \"{pin}\"",
                 'pip install --retries 1 --timeout 10 -r requirements.txt -e ".[torch]"',
                 "restart the kernel"):
        assert text in proc.stderr, text
    # where torch is there it is silent
    ok = subprocess.run([sys.executable, "-c", "import dlbasics; dlbasics.require_torch()"],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and ok.stdout == "" and ok.stderr == "", ok.stderr
