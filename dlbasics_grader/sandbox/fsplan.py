"""The filesystem plan: what the sandbox must read, what it must never see.

The grader computes the plan; the runner applies it (mounts in its own mount
namespace, then Landlock allow-lists). :func:`plan_filesystem` masks private
folders (hidden exercises, solutions, submissions, the grader's working
directory) and world-writable ones with empty tmpfs mounts and lists the kept
paths to bind back beneath them; :func:`private_tmp_plan` does the same for the
private ``/tmp``; :func:`never_readable` and :func:`excluded_entries` feed
Landlock's refusals.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import site
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dlbasics
from dlbasics_grader.atomic import write_text_atomic

if TYPE_CHECKING:  # imported where needed: reading the metadata is rare (it is cached)
    import importlib.metadata

GRADER_PACKAGE = Path(__file__).resolve().parents[1]
WORLD_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock")
PRIVATE_TMP = ("/tmp", "/var/tmp", "/dev/shm")
"""Folders that get a fresh tmpfs of the sandbox's own in its mount namespace."""
RUNTIME = ("/run", "/var/run")
"""Where the host's services keep their sockets (D-Bus, docker.sock, ssh and gpg
agents in ``$XDG_RUNTIME_DIR``): an empty, read-only tmpfs in the mount namespace."""
NEVER_HIDE = {"/", "/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc",
              "/sys", "/dev", "/run", "/var", "/opt", "/home"}


def world_reachable(path: Path) -> Path | None:
    """The first ancestor of ``path`` that others cannot traverse, or None."""
    parts = path.parts
    for i in range(2, len(parts) + 1):
        p = Path(*parts[:i])
        try:
            mode = p.stat().st_mode
        except OSError:
            return None
        if stat.S_ISDIR(mode) and not mode & stat.S_IXOTH:
            return p
    return None


def needed_paths() -> list[Path]:
    paths = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent}
    for sp in site.getsitepackages():
        paths.add(Path(sp).resolve())
    # the learner's code imports dlbasics; the grader's own package stays out of reach
    paths.add(Path(dlbasics.__file__).resolve().parent)
    # a path inside another kept path needs nothing of its own
    return sorted(p for p in paths if not any(p != q and is_under(p, q) for q in paths))


def is_under(path: Path, parent: Path) -> bool:
    try:
        path.relative_to(parent)
        return True
    except ValueError:
        return False


def runtime_folders() -> list[str]:
    """The host's runtime folders (:data:`RUNTIME` and ``$XDG_RUNTIME_DIR``), resolved,
    without those inside another."""
    found = {Path(p).resolve() for p in (*RUNTIME, os.environ.get("XDG_RUNTIME_DIR", ""))
             if p and os.path.isdir(p)}
    return sorted(str(p) for p in found if not any(p != q and is_under(p, q) for q in found))


def private_tmp_plan(keep: list[Path], tmp_dirs: tuple[str, ...] = PRIVATE_TMP,
                     runtime: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """What the sandbox's private ``/tmp`` (and ``/var/tmp``, ``/dev/shm``) and its
    masked ``runtime`` folders must allow for.

    ``keep`` are the paths the sandbox must read (see :func:`needed_paths`).
    A kept path beneath one of ``tmp_dirs`` or ``runtime`` (a virtual
    environment or a clone of the course under ``/tmp``) is covered by the
    fresh tmpfs mounted there: it must be bound back in (``rebind``). Such a folder must not be writable
    for Landlock either: a Landlock rule on a folder grants its rights to
    everything beneath, so write access to ``/tmp`` would make the whole
    environment bound back into it readable, the forbidden packages (``torch``
    in Exercise 1) and the grader's own package included. ``writable`` lists
    only the folders of ``tmp_dirs`` with no kept path beneath them; the
    learner's code always has its working folder (``TMPDIR`` points there).
    """
    rebind: set[str] = set()
    writable: list[str] = []
    for d in (*tmp_dirs, *runtime):
        real = Path(d).resolve()
        inside = [k for k in keep if is_under(k, real)]
        rebind.update(str(k) for k in inside)
        if not inside and d in tmp_dirs:
            writable.append(str(real))
    return {"rebind": sorted(rebind), "writable": writable}


def plan_filesystem(private: list[Path], workdir: Path) -> dict[str, Any]:
    """Which paths to mask with empty tmpfs mounts and which to re-expose.

    ``private`` are directories the learner's code must not see (hidden tests,
    solutions, submissions, the grader's working directory); the world-writable
    folders get a fresh tmpfs, the runtime folders (:func:`runtime_folders`)
    an empty one. The working folder gets its own tmpfs wherever it lies.
    """
    keep = needed_paths()
    hide: dict[str, str] = {}
    for p in WORLD_WRITABLE:
        if os.path.isdir(p) and not os.path.islink(p):
            hide[str(Path(p).resolve())] = "1777"
    for p in runtime_folders():
        hide[p] = "755"
    for p in private:
        p = p.resolve()
        if str(p) in NEVER_HIDE or is_under(workdir, p) or p in keep:
            continue
        hide[str(p)] = "755"
    need_mounts = False
    for k in keep:
        blocked = world_reachable(k)
        if blocked is not None and str(blocked) not in NEVER_HIDE:
            hide[str(blocked)] = "755"
            need_mounts = True
    # drop masks inside other masks, keep outermost first
    ordered = sorted(hide, key=lambda s: (len(Path(s).parts), s))
    final: list[tuple[str, str]] = []
    for h in ordered:
        if not any(is_under(Path(h), Path(o)) for o, _ in final):
            final.append((h, hide[h]))
    rebind = [str(k) for k in keep
              if any(is_under(k, Path(h)) and k != Path(h) for h, _ in final)]
    # a kept path that is itself masked: keep it, do not mask it
    final = [(h, m) for h, m in final if h not in {str(k) for k in keep}]
    return {"hide": final, "rebind": sorted(set(rebind)), "need_mounts": need_mounts}


def never_readable(private_paths: list[Path]) -> list[str]:
    """Folders whose ancestors (or themselves) Landlock must never allow."""
    out = {str(Path(p).resolve()) for p in private_paths}
    out.add(str(GRADER_PACKAGE))
    try:
        out.add(str(Path.home().resolve()))
    except (RuntimeError, OSError):
        pass
    return sorted(out)


EXCLUDE_CACHE: dict[tuple[str, ...], list[str]] = {}


def _record_tops(dist: importlib.metadata.Distribution) -> list[str]:
    """First path components of ``dist``'s installed files, read from its ``RECORD`` as text
    (building a path object for each of tens of thousands of files costs a fifth of a second
    per grading); from ``dist.files`` when it has no ``RECORD``."""
    record = dist.read_text("RECORD")
    if record is None:
        return sorted({f.parts[0] for f in dist.files or () if f.parts})
    tops = set()
    for line in record.splitlines():  # "path,hash,size"; a path holding a comma is quoted
        path = next(csv.reader([line]), [""])[0] if line.startswith('"') else line.split(",", 1)[0]
        if path:
            tops.add(path.replace("\\", "/").split("/", 1)[0])
    return sorted(tops)


def _provided_modules(dist: importlib.metadata.Distribution) -> set[str]:
    """The top-level modules ``dist`` provides: its ``top_level.txt``, else what its files
    show (a folder at the top, or a module file there)."""
    declared = dist.read_text("top_level.txt")
    if declared:
        return set(declared.split())
    return {top.split(".")[0] for top in _record_tops(dist)
            if top not in ("..", "__pycache__") and not top.endswith((".dist-info", ".data"))}


def excluded_entries(forbidden: tuple[str, ...], cache_dir: Path | None = None) -> list[str]:
    """Top-level site-packages entries of the distributions that provide ``forbidden``.

    Reading every distribution's metadata takes tens of milliseconds, so the answer is kept
    for the process and, with ``cache_dir`` (a folder only the grader's user can write),
    in a file named for what it depends on: the forbidden names, the Python version and
    each ``sys.path`` folder with its modification time (installing or removing a
    distribution changes its folder's)."""
    key = tuple(sorted({m.split(".")[0] for m in forbidden}))
    if key in EXCLUDE_CACHE:
        return EXCLUDE_CACHE[key]
    stored = _cache_file(key, cache_dir) if cache_dir is not None else None
    if stored is not None:
        try:
            found = json.loads(stored.read_text(encoding="utf-8"))
            if isinstance(found, list) and all(isinstance(e, str) for e in found):
                EXCLUDE_CACHE[key] = found
                return found
        except (OSError, ValueError):
            pass
    out = set(key) | {"dlbasics_grader"}
    try:
        import importlib.metadata

        dists = list(importlib.metadata.distributions())
    except Exception:  # noqa: BLE001 - broken metadata: fall back to the names
        dists = []
    for dist in dists:
        try:
            if not _provided_modules(dist) & set(key):
                continue  # most distributions: their metadata is never parsed
            name = (dist.metadata["Name"] or "").lower().replace("_", "-")
            if name == "dlbasics" and "dlbasics" not in key:
                continue
            tops = _record_tops(dist)
        except Exception:  # noqa: BLE001 - one broken distribution: its names still count
            continue
        out.update(top for top in tops if top and top != ".."
                   and not (top.endswith(".dist-info") and name == "dlbasics"))
    EXCLUDE_CACHE[key] = sorted(out)
    if stored is not None:
        try:
            stored.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            write_text_atomic(stored, json.dumps(EXCLUDE_CACHE[key]))
        except OSError:
            pass  # the answer is only not kept
    return EXCLUDE_CACHE[key]


def _cache_file(key: tuple[str, ...], cache_dir: Path) -> Path | None:
    """Where :func:`excluded_entries` keeps its answer for ``key`` and the installation as it
    is now; None if the folders of ``sys.path`` cannot be read."""
    try:
        state = [key, sys.version, sys.prefix]
        for entry in sys.path:
            folder = os.path.realpath(entry or ".")
            state.append([folder, os.stat(folder).st_mtime_ns if os.path.isdir(folder) else 0])
    except OSError:
        return None
    digest = hashlib.sha256(json.dumps(state).encode("utf-8", "surrogatepass")).hexdigest()
    return cache_dir / f"excluded-{digest[:32]}.json"
