"""The grading key, what the hidden tests derive from it, and Exercise 2's grader-made digits.

Nothing the sandbox is given may let a learner rebuild held-out data or labels: the key has
256 bits and stays beside the hidden tests, every value crossing into the sandbox is a hash,
the held-out data come from a stream of their own, and Exercise 2's held-out images cannot be
found in the public digits under any flip or rotation.
"""

from __future__ import annotations

import ast
import secrets
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dlbasics_grader.engine import grade, load_exercise, load_hidden_module
from dlbasics_grader.heldout import graph_outputs
from dlbasics_grader.package import gradescope_zip
from dlbasics_grader.secret import (
    KEY_FILE,
    exercise_seed,
    grading_key,
    public_seed,
    stream,
)

from ..helpers import HIDDEN, SOLUTIONS, definition_cells, write_notebook
from .attacks import ex2_public_lookup
from .helpers import EXERCISE_NAMES

# the exercises whose held-out loaders test_held_out_data_come_from_their_own_stream knows
HELD_OUT_LOADERS = ("ex1", "ex2", "ex3")


def test_the_key_is_made_once_with_256_random_bits(tmp_path):
    key = grading_key(tmp_path)
    assert len(key) == 32 and grading_key(tmp_path) == key
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE]  # no temporary file left
    (tmp_path / "other").mkdir()
    assert grading_key(tmp_path / "other") != key
    with pytest.raises(FileNotFoundError):
        grading_key(tmp_path / "none", create=False)
    path.write_text("1234\n")
    with pytest.raises(ValueError, match="64 hex digits"):
        grading_key(tmp_path)


def test_seeds_streams_and_public_seeds_are_separate(tmp_path):
    seeds = {name: exercise_seed(name, tmp_path) for name in EXERCISE_NAMES}
    assert len(set(seeds.values())) == len(EXERCISE_NAMES)
    assert all(s.bit_length() > 200 for s in seeds.values())
    assert exercise_seed("ex1", tmp_path) == seeds["ex1"]
    s = seeds["ex1"]
    np.testing.assert_array_equal(stream(s, "train").random(8), stream(s, "train").random(8))
    assert not np.array_equal(stream(s, "train").random(8), stream(s, "held-out").random(8))
    assert not np.array_equal(stream(s, "train").random(8), stream(s + 1, "train").random(8))
    pub = {public_seed(s, p) for p in ("init", "shuffle", "augment")}
    assert len(pub) == 3 and all(0 <= p < 2**31 for p in pub)


def test_the_gradescope_zip_carries_the_key(tmp_path):
    out = gradescope_zip("ex1", HIDDEN, tmp_path / "ex1.zip")
    with zipfile.ZipFile(out) as zf:
        assert zf.read(f"hidden_exercises/{KEY_FILE}").decode().strip() == grading_key(HIDDEN).hex()


def _integers(value, out: list[int]) -> list[int]:
    if isinstance(value, dict):
        for v in value.values():
            _integers(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _integers(v, out)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out.append(int(value))
    return out


@pytest.mark.parametrize("name", EXERCISE_NAMES)
def test_the_sandbox_gets_no_seed_it_could_search(name):
    """Every integer a probe passes in is small and public, or a hash of the seed
    (``public_seed``), never the seed or a residue of it."""
    ex = load_exercise(name, HIDDEN)
    hashed = {public_seed(ex.seed, p) for p in ("init", "shuffle", "augment")}
    key_hex = grading_key(HIDDEN).hex()
    for probe in ex.probes(ex.seed):
        numbers = _integers(probe.inputs, [])
        assert all(n < 1000 or n in hashed for n in numbers), (probe.name, numbers)
        text = repr(probe.inputs)
        assert key_hex not in text and str(ex.seed) not in text


@pytest.mark.parametrize("name", HELD_OUT_LOADERS)
def test_held_out_data_come_from_their_own_stream(name, monkeypatch):
    """Changing every stream but the held-out one (and which public digits Exercise 2 holds
    out, and Exercise 3's word code) leaves the held-out data and labels as they were, so what
    the sandbox is given (drawn from the other streams) says nothing about them."""
    mod = load_hidden_module(name, HIDDEN)
    seed = mod.EXERCISE.seed

    def held_out(module_stream):
        monkeypatch.setattr(mod, "stream", module_stream)
        if name == "ex1":
            _, _, X, y = mod._train_data(seed)
        else:
            loader = mod._digits.__wrapped__ if name == "ex2" else mod._corpus
            (_, y_train), _, (X, y) = loader(seed)
        return X, y

    def other(seed_, purpose):
        return stream(seed_ if purpose in ("held-out", "split", "word code") else seed_ + 1, purpose)

    X, y = held_out(stream)
    X2, y2 = held_out(other)
    np.testing.assert_array_equal(y, y2)
    assert list(X) == list(X2) if name == "ex3" else np.array_equal(X, X2)


# ----------------------------------------------------------------------------
# Exercise 2: the grader's digits
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ex2():
    return load_hidden_module("ex2", HIDDEN)


def test_ex2_grader_digits_are_far_from_every_public_digit(ex2):
    """Every training, validation and held-out image is farther from every public digit, under
    all 8 symmetries, than 95 % of the public digits are from their nearest other one."""
    from sklearn.datasets import load_digits

    public = load_digits().images.reshape(-1, 64).astype(np.float64)
    d2 = (public ** 2).sum(1)[:, None] + (public ** 2).sum(1)[None] - 2 * public @ public.T
    np.fill_diagonal(d2, np.inf)
    nearest_other = np.sqrt(np.maximum(d2.min(axis=1), 0))
    assert ex2.MIN_DISTANCE > np.percentile(nearest_other, 5)
    sets = ex2._digits(ex2.SEED)
    assert [len(y) for _, y in sets] == [ex2.N_TRAIN, ex2.N_VAL, 1797 - ex2.N_TRAIN - ex2.N_VAL]
    for X, y in sets:
        assert X.shape == (len(y), 8, 8) and X.min() >= 0 and X.max() <= 16
        assert np.array_equal(X, np.rint(X))  # integer grey levels, like the public digits
        assert ex2.distance_to_public(X).min() >= ex2.MIN_DISTANCE
        assert np.bincount(y, minlength=10).min() > 0  # every class
    # the check itself finds a public digit, turned
    turned = ex2.symmetries(load_digits().images[:3].astype(np.float64))
    np.testing.assert_allclose(ex2.distance_to_public(turned), 0.0, atol=1e-6)


def _lookup():
    ns: dict = {}
    exec(ex2_public_lookup.LOOKUP, ns)
    return ns["lookup_labels"]


def test_ex2_lookup_finds_turned_public_digits_but_no_grader_digit(ex2):
    """The attack works on public digits turned by a symmetry (the old held-out set), and finds
    nothing among the grader's renditions."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    lookup = _lookup()
    turned = np.rot90(digits.images[:200], k=1, axes=(1, 2))[:, :, ::-1]
    assert np.mean(lookup(turned) == digits.target[:200]) == 1.0
    _, _, (X_test, y_test) = ex2._digits(ex2.SEED)
    assert np.mean(lookup(X_test) == y_test) < 0.2  # label 0 for everything it cannot find


@pytest.mark.slow
def test_ex2_lookup_attack_gains_nothing(tmp_path):
    """The held-out accuracy is the exported model's own, so labels looked up by ``predict``
    change nothing there; they cost the training part's form."""
    ex = load_exercise("ex2", HIDDEN)
    cells = definition_cells(SOLUTIONS / "ex2_cnn.ipynb") + ex2_public_lookup.CELLS
    report = grade(ex, write_notebook(tmp_path / "lookup.ipynb", cells), private_paths=[HIDDEN])
    assert not report.grader_error
    tests = {t.name: t for t in report.tests}
    assert report.score < ex.max_score
    assert "gave the class of the model's largest output for only" in \
        tests["ex2.training"].output
    assert "Held-out accuracy" in tests["ex2.accuracy"].output


@pytest.mark.slow
def test_ex2_solution_clears_the_threshold_with_other_keys(ex2):
    """The calibration holds for keys other than this repository's: the solution, trained in
    this process on the digits of two fresh keys, clears the full-marks threshold."""
    ns: dict = {}
    for cell in definition_cells(SOLUTIONS / "ex2_cnn.ipynb"):
        if "%pip" in cell:  # the install cell; the package is installed here
            continue
        kept = [node for node in ast.parse(cell).body  # imports and definitions, no demo
                if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef))]
        exec(compile(ast.Module(kept, []), "solution", "exec"), ns)
    assert callable(ns["train_model"])
    for _ in range(2):
        seed = int.from_bytes(secrets.token_bytes(32), "big")
        (X_tr, y_tr), (X_val, y_val), (X_te, y_te) = ex2.prepared_digits(seed)
        out = ex2.training_probe(ns, {"X_train": X_tr, "y_train": y_tr, "X_val": X_val,
                                      "y_val": y_val, "batch": ex2.EVAL_BATCH})
        logits = graph_outputs({}, {"graph": out["graph"], "sets": ["X_test"], "X_test": X_te,
                                    "batch": ex2.EVAL_BATCH})["X_test_out"]
        assert np.mean(logits.argmax(axis=1) == y_te) >= ex2.ACC_FULL


def test_ex2_hidden_module_needs_no_key_folder_of_its_own(tmp_path):
    """A copy of the hidden tests without a key gets a new one (and so new digits)."""
    for path in HIDDEN.glob("*.py"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    assert not (tmp_path / KEY_FILE).exists()
    assert exercise_seed("ex2", tmp_path) != exercise_seed("ex2", Path(HIDDEN))
    assert (tmp_path / KEY_FILE).exists()
