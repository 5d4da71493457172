"""The package as a whole: public names, lazy imports, packaging metadata."""

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


def test_requirements_pin_torch_and_nothing_else():
    lines = [
        line.split("#")[0].strip()
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.split("#")[0].strip()
    ]
    pinned = [line for line in lines if "==" in line]
    assert pinned == ["torch==2.13.0"]
    assert any(line.startswith("jupyter-book") and "<2" in line for line in lines)
    assert not any(line.startswith("torchvision") for line in lines)
