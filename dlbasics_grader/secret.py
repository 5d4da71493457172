"""The grading key: the one secret every hidden data set and input is derived from.

The key is 32 random bytes (64 hex digits) in ``grading.key`` next to the hidden
tests. ``dlbasics-grade`` creates it with :mod:`secrets` the first time it is
needed; keep it with the hidden tests (the Gradescope zip includes it, and a
GitHub Classroom tests repository must hold it too), so that grading the same
notebook twice, anywhere, uses the same data and gives the same score. The
sandbox never sees it: it lives in the hidden-test folder, which the sandbox
cannot read, and nothing derived from it crosses into the sandbox except
through :func:`public_seed` (a hash that reveals nothing of the key).

Each exercise gets its own 256-bit seed, ``SHA-256(key, exercise name)``
(:func:`exercise_seed`); the hidden tests draw every random stream from it by
purpose (:func:`stream`), each an independent SHA-256 of the seed and the
purpose, so knowing one stream (say, the training data the sandbox is given)
tells nothing about another (the held-out labels).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import numpy as np

KEY_FILE = "grading.key"
"""Name of the key file in the hidden-test folder."""


def key_path(tests_dir: str | os.PathLike) -> Path:
    """Where the grading key of the hidden tests in ``tests_dir`` lives."""
    return Path(tests_dir) / KEY_FILE


def grading_key(tests_dir: str | os.PathLike, *, create: bool = True) -> bytes:
    """The 32-byte grading key of ``tests_dir``, created on first use.

    Creation is atomic: parallel graders that both find no key end up with the
    same one (the first written wins). A key file that is not 64 hex digits
    raises ``ValueError`` naming the file, rather than grading with a weak key.
    """
    path = key_path(tests_dir)
    if not path.exists() and create:
        tmp = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32) + "\n")
        try:
            os.link(tmp, path)  # fails if another grader created it first
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    text = path.read_text(encoding="ascii").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != 32:
        raise ValueError(f"{path} should hold the grading key, 64 hex digits (32 random bytes); "
                         "delete it to have a new one made")
    return key


def _digest(*parts: bytes) -> bytes:
    h = hashlib.sha256()
    for part in parts:
        h.update(len(part).to_bytes(8, "big") + part)  # unambiguous concatenation
    return h.digest()


def exercise_seed(name: str, tests_dir: str | os.PathLike) -> int:
    """The 256-bit seed of exercise ``name``: ``SHA-256(key, name)`` as an integer."""
    key = grading_key(tests_dir)
    return int.from_bytes(_digest(b"dlbasics-grading-v1", key, name.encode()), "big")


def _purpose_digest(seed: int, purpose: str) -> bytes:
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return _digest(seed.to_bytes(max(32, (seed.bit_length() + 7) // 8), "big"),
                   purpose.encode())


def stream(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream of ``seed`` for one ``purpose`` (grader side only).

    Seeded with ``np.random.SeedSequence`` of the eight 32-bit words of
    ``SHA-256(seed, purpose)``: 256 bits no other purpose shares.
    """
    words = np.frombuffer(_purpose_digest(seed, purpose), dtype=">u4").tolist()
    return np.random.default_rng(np.random.SeedSequence(words))


def public_seed(seed: int, purpose: str) -> int:
    """A 31-bit seed for ``purpose`` that may cross into the sandbox.

    It is a hash of the secret, so it tells nothing about the secret or about
    any :func:`stream` (a learner may seed a generator with it, nothing more).
    """
    return int.from_bytes(_digest(b"public", _purpose_digest(seed, purpose))[:4], "big") >> 1
