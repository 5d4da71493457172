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


def test_requirements_pin_torch_and_nothing_else():
    lines = _requirement_lines(ROOT / "requirements.txt")
    pinned = [line for line in lines if "==" in line]
    assert pinned == [_torch_pin()]
    dev = _requirement_lines(ROOT / "requirements-dev.txt")
    assert any(line.startswith("jupyter-book") and "<2" in line for line in dev)
    assert not any(line.startswith("torchvision") for line in lines + dev)


def test_every_place_that_names_the_torch_version_agrees_with_pyproject():
    from dlbasics_grader.package import TORCH_VERSION

    pin = _torch_pin()
    assert re.fullmatch(r"torch==\d+\.\d+\.\d+", pin), pin
    torch_lines = [
        line
        for path in sorted(ROOT.glob("requirements*.txt"))
        for line in _requirement_lines(path)
        if re.match(r"torch\b(?!vision)", line)
    ]
    assert torch_lines and set(torch_lines) == {pin}
    assert f"torch=={TORCH_VERSION}" == pin  # the Gradescope and Classroom set-up installs this
    assert f"`{pin}`" in (ROOT / "README.md").read_text(encoding="utf-8")
