"""The Landlock allow-list never covers a folder the sandbox must not see.

A Landlock rule on a folder opens everything beneath it, so the rules are
computed with *holes*: the private folders (hidden tests, solutions, the
grader) and the forbidden packages' site-packages entries. These tests build
a fake installation in which such holes lie beneath folders the sandbox needs
(a checkout root on ``sys.path``, as an editable install puts it there; a
system folder holding a site folder, as ``/usr/local/lib/python3/dist-packages``
on Gradescope's images) and check the rules the runner would hand to Landlock.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from dlbasics_grader.sandbox.child import confine


def _tree(root: Path) -> dict[str, Path]:
    checkout = root / "checkout"
    site = checkout / ".venv" / "lib" / "python3.11" / "site-packages"
    for d in (site / "numpy", site / "torch", site / "dlbasics_grader",
              checkout / "hidden_exercises", checkout / "solutions", checkout / "dlbasics"):
        d.mkdir(parents=True)
        (d / "__init__.py").write_text("SECRET = 1\n")
    (site / "torch-2.13.0.dist-info").mkdir()
    return {"checkout": checkout, "site": site}


def _covered(path: Path, rules: list[str]) -> list[str]:
    real = os.path.realpath(path)
    return [r for r in rules if real == r or real.startswith(r.rstrip("/") + "/")]


def _rules(monkeypatch, sys_path: list[str], never: list[Path], system: tuple[str, ...] = ()):
    monkeypatch.setattr(sys, "path", sys_path)
    monkeypatch.setattr(confine, "_SYSTEM_READ", system)
    monkeypatch.setattr(confine, "_PROC_READ", ())
    iso = SimpleNamespace(never=[str(p) for p in never], exclude_entries=["torch"],
                          extra_packages=[], workdir="/nonexistent-workdir", tmp_write=[])
    report: dict[str, str] = {}
    read, write, list_only = confine._fs_rules(iso, report)
    return read, write, list_only, report


def test_a_checkout_root_on_sys_path_opens_nothing_beneath_it(tmp_path, monkeypatch):
    t = _tree(tmp_path)
    hidden, solutions = t["checkout"] / "hidden_exercises", t["checkout"] / "solutions"
    read, _, list_only, _ = _rules(monkeypatch, [str(t["checkout"]), str(t["site"])],
                                   [hidden, solutions])
    for secret in (hidden, solutions, t["site"] / "torch", t["site"] / "torch-2.13.0.dist-info",
                   t["site"] / "dlbasics_grader", t["checkout"] / ".venv"):
        assert not _covered(secret, read), (secret, _covered(secret, read))
        assert str(secret) not in list_only or secret == t["checkout"] / ".venv"
    assert _covered(t["site"] / "numpy" / "__init__.py", read)
    # the checkout itself is not a site folder: none of its entries is opened for it
    assert not _covered(t["checkout"] / "dlbasics", read)


@pytest.mark.parametrize("hole", ["private", "forbidden"])
def test_a_system_folder_holding_a_hole_is_split_down_to_it(tmp_path, monkeypatch, hole):
    """A system folder (``/usr`` in real life) that holds a site folder with ``torch``
    or a private folder is opened child by child, never as a whole."""
    system = tmp_path / "usr"
    site = system / "local" / "lib" / "python3.11" / "dist-packages"
    for d in (site / "numpy", site / "torch", system / "share" / "secret", system / "bin"):
        d.mkdir(parents=True)
        (d / "f").write_text("x")
    never = [system / "share" / "secret"] if hole == "private" else []
    read, _, list_only, report = _rules(monkeypatch, [str(site)], never, system=(str(system),))
    target = system / "share" / "secret" if hole == "private" else site / "torch"
    assert not _covered(target, read), _covered(target, read)
    assert str(system) in list_only and str(system) not in read
    assert _covered(system / "bin" / "f", read)
    assert _covered(site / "numpy" / "f", read)
    assert str(system) in report["landlock_split"]


def test_the_working_folder_never_opens_a_hole(tmp_path, monkeypatch):
    t = _tree(tmp_path)
    monkeypatch.setattr(sys, "path", [str(t["site"])])
    monkeypatch.setattr(confine, "_SYSTEM_READ", ())
    monkeypatch.setattr(confine, "_PROC_READ", ())
    iso = SimpleNamespace(never=[str(t["checkout"] / "solutions")], exclude_entries=["torch"],
                          extra_packages=[], workdir=str(t["checkout"]), tmp_write=[])
    _, write, _ = confine._fs_rules(iso, {})
    assert str(t["checkout"]) not in write


def test_the_entries_excluded_for_a_forbidden_package_are_its_distributions_files():
    """Every top-level entry the distribution providing ``torch`` installed (its sibling
    packages and metadata too), read from its RECORD, and never the allowed packages."""
    import importlib.metadata

    from dlbasics_grader.sandbox.fsplan import EXCLUDE_CACHE, excluded_entries

    EXCLUDE_CACHE.clear()
    entries = set(excluded_entries(("torch.nn",)))
    dist = importlib.metadata.distribution("torch")
    tops = {f.parts[0] for f in dist.files if f.parts and f.parts[0] != ".."}
    assert tops <= entries and {"torch", "dlbasics_grader"} <= entries
    assert not entries & {"numpy", "dlbasics", "matplotlib"}


def test_a_link_inside_a_split_folder_is_judged_by_where_it_leads(tmp_path, monkeypatch):
    """Entries of a split folder are opened by their own path only when they are not links:
    a link to a hole (``/usr/share/peek -> secret``) opens nothing, a link to an allowed
    folder opens where it leads."""
    system = tmp_path / "usr"
    for d in (system / "share" / "secret", system / "bin", tmp_path / "elsewhere"):
        d.mkdir(parents=True)
        (d / "f").write_text("x")
    (system / "share" / "peek").symlink_to(system / "share" / "secret")
    (system / "tools").symlink_to(tmp_path / "elsewhere")
    read, _, _, _ = _rules(monkeypatch, [], [system / "share" / "secret"],
                           system=(str(system),))
    assert not _covered(system / "share" / "secret" / "f", read)
    assert str(system / "share" / "peek") not in read
    assert str(tmp_path / "elsewhere") in read and str(system / "tools") not in read
    assert _covered(system / "bin" / "f", read)


def test_the_excluded_entries_are_kept_in_a_private_file_named_for_the_installation(
        tmp_path, monkeypatch):
    """The answer is written once (owner-only), read back instead of the metadata, and not
    used once a folder of ``sys.path`` has changed (a distribution installed or removed)."""
    import importlib.metadata

    from dlbasics_grader.sandbox import fsplan

    cache = tmp_path / "cache"
    extra = tmp_path / "site"
    extra.mkdir()
    monkeypatch.setattr(sys, "path", [*sys.path, str(extra)])
    fsplan.EXCLUDE_CACHE.clear()
    first = fsplan.excluded_entries(("torch",), cache)
    (stored,) = cache.iterdir()
    assert stored.stat().st_mode & 0o777 == 0o600 and "torch" in first

    def no_metadata():
        raise AssertionError("the metadata was read again")

    fsplan.EXCLUDE_CACHE.clear()
    monkeypatch.setattr(importlib.metadata, "distributions", no_metadata)
    assert fsplan.excluded_entries(("torch",), cache) == first

    (extra / "new_package-1.0.dist-info").mkdir()  # the folder changes: a new key
    os.utime(extra, ns=(0, stored.stat().st_mtime_ns + 10**9))
    fsplan.EXCLUDE_CACHE.clear()
    monkeypatch.setattr(importlib.metadata, "distributions", lambda: [])
    assert fsplan.excluded_entries(("torch",), cache) == ["dlbasics_grader", "torch"]
    assert len(list(cache.iterdir())) == 2
    fsplan.EXCLUDE_CACHE.clear()
