"""The glue wrapper works with MyST-NB (the book) and without it (Colab)."""

import sys

import pytest

from dlbasics.glue import glue


def test_glue_without_myst_nb_is_silent_unless_asked(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "myst_nb", None)  # makes `import myst_nb` fail
    glue("hidden", 1.25, display=False)
    assert capsys.readouterr().out == ""
    glue("shown", 1.25)
    assert "1.25" in capsys.readouterr().out


def test_glue_delegates_to_myst_nb(monkeypatch):
    calls = []

    class FakeMystNb:
        @staticmethod
        def glue(name, value, display=True):
            calls.append((name, value, display))

    monkeypatch.setitem(sys.modules, "myst_nb", FakeMystNb)
    glue("loss", "0.25", display=False)
    assert calls == [("loss", "0.25", False)]


def test_glue_rejects_an_empty_name():
    with pytest.raises(TypeError, match="non-empty str"):
        glue("", 1)
