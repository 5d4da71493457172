"""The package glossary (``dlbasics/__init__.py``), enforced where a machine can check it.

Every public function, class and method of every ``dlbasics`` module (the public checks
aside) is inspected: no parameter uses a name the glossary replaced (``learning_rate``
is ``lr``, ``epsilon`` is ``eps``, ...), every ``rng`` parameter defaults to ``None``
(seed 0), and every public ``forward``/``backward`` and every ``*_forward``/``*_backward``
layer function has a signature from the allow-list of contracts: a model's ``forward(X)``
returns its output (one array), ``forward_with_cache(X)`` returns ``(out, cache)``, a
``backward`` takes ``dout`` (and the cache, where the object keeps none), a layer function
is ``x_forward(...) -> (out, cache)`` and ``x_backward(dout, cache)``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import numpy as np
import pytest

import dlbasics

# the older names and the glossary's replacements
RETIRED = {"learning_rate": "lr", "learning_rates": "lrs", "epsilon": "eps", "lambda_reg": "weight_decay",
           "l2": "weight_decay", "rho": "alpha", "beta1": "betas", "beta2": "betas",
           "dropout_rate": "dropout", "keep_prob": "dropout"}
# method contracts: the parameter names after self, and what the method returns
METHOD_CONTRACTS = {"forward": {("X",), ("x",)}, "forward_with_cache": {("X",), ("x",)},
                    "backward": {("dout",), ("dout", "cache")}}
METHOD_RETURNS = {"forward": {"np.ndarray", "torch.Tensor"}, "forward_with_cache": {"tuple[np.ndarray, *]"}}
WIDGET_KNOBS = {"beta1"}  # the optimizer race's slider for Adam's betas[0]


def _modules():
    names = [m.name for m in pkgutil.walk_packages(dlbasics.__path__, "dlbasics.")
             if ".checks" not in m.name and not m.name.split(".")[-1].startswith("_")]
    modules = [importlib.import_module(n) for n in sorted(names)]
    # importing dlbasics.gradcheck binds the module over the lazily exported function of the
    # same name; drop such bindings so dlbasics.gradcheck(...) still calls the function
    for name in dlbasics._EXPORTS:
        if inspect.ismodule(vars(dlbasics).get(name)):
            delattr(dlbasics, name)
    return modules


def _public_callables():
    """``(qualified name, callable)`` for every public function, class and method."""
    seen = set()
    for mod in _modules():
        short = mod.__name__.removeprefix("dlbasics.")
        for name in getattr(mod, "__all__", []):
            obj = getattr(mod, name)
            if getattr(obj, "__module__", None) != mod.__name__ or id(obj) in seen:
                continue
            seen.add(id(obj))
            if inspect.isfunction(obj):
                yield f"{short}.{name}", obj
            elif inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if inspect.isfunction(member) and (attr == "__init__" or not attr.startswith("_")):
                        yield f"{short}.{name}.{attr}", member


CALLABLES = dict(_public_callables())


def _params(fn) -> list[inspect.Parameter]:
    return [p for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def test_the_walk_finds_the_public_api():
    assert {"optim.Adam.__init__", "networks.MLP.fit", "torch_models.fit", "layers.dense_forward",
            "regularization.dropout_mask", "widgets.optimizers.optimizer_race"} <= set(CALLABLES)


def test_no_parameter_uses_a_retired_name():
    found = {f"{q}({p.name}=) should be {RETIRED[p.name]}" for q, fn in CALLABLES.items()
             for p in _params(fn) if p.name in RETIRED
             and not (p.name in WIDGET_KNOBS and q.startswith("widgets."))}
    assert not found, sorted(found)


def test_every_rng_defaults_to_none_meaning_seed_0():
    found = {f"{q}: rng={p.default!r}" for q, fn in CALLABLES.items() for p in _params(fn)
             if p.name == "rng" and p.default is not None and p.default is not p.empty}
    assert not found, sorted(found)


def _contract_breaks() -> set[str]:
    breaks = set()
    for q, fn in CALLABLES.items():
        verb = q.rsplit(".", 1)[-1]
        names = tuple(p.name for p in _params(fn))
        ret = str(inspect.signature(fn).return_annotation)
        if verb in METHOD_CONTRACTS and q.count(".") >= 2:
            if names not in METHOD_CONTRACTS[verb] or not _returns(ret, METHOD_RETURNS.get(verb)):
                breaks.add(q)
        elif verb.endswith("_backward") and (len(names) < 2 or names[1] != "cache"
                                             or not names[0].startswith("d")):
            breaks.add(q)  # x_backward(dout, cache)
        elif verb.endswith("_forward") and not _returns(ret, {"tuple[np.ndarray, *]"}):
            breaks.add(q)  # x_forward(...) -> (out, cache)
    return breaks


def _returns(annotation: str, allowed: set[str] | None) -> bool:
    """Whether a return annotation is one of ``allowed`` (``*``: one name, the cache type)."""
    if allowed is None:
        return True
    pair = annotation.startswith("tuple[np.ndarray, ") and annotation.count(",") == 1
    return annotation in allowed or ("tuple[np.ndarray, *]" in allowed and pair)


def test_forward_and_backward_follow_one_contract_each():
    assert _contract_breaks() == set()


def test_the_contract_check_catches_a_model_forward_that_returns_a_tuple():
    class Model:
        def forward(self, X) -> tuple[list[np.ndarray], list[np.ndarray]]:
            return [X], []

        def backward(self, X, y) -> None:
            pass

    assert _contract_breaks() == set()
    CALLABLES["fake.Model.forward"], CALLABLES["fake.Model.backward"] = Model.forward, Model.backward
    try:
        assert _contract_breaks() == {"fake.Model.forward", "fake.Model.backward"}
    finally:
        del CALLABLES["fake.Model.forward"], CALLABLES["fake.Model.backward"]


def test_layer_functions_name_their_arrays_in_lower_case():
    found = {f"{q}({p.name})" for q, fn in CALLABLES.items() if q.count(".") == 1
             and q.endswith(("_forward", "_backward")) for p in _params(fn) if p.name != p.name.lower()}
    assert not found, sorted(found)


@pytest.mark.parametrize("name", ["lr", "eps", "weight_decay", "rng", "betas", "alpha"])
def test_the_glossary_states_each_name(name):
    assert f"``{name}``" in dlbasics.__doc__


def _notebook_backwards() -> dict[str, list[str]]:
    """``{"notebook, cell N: name": parameter names}`` of every ``backward`` a notebook defines."""
    import ast
    import json
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = {}
    for path in sorted([*root.glob("chapters/*.ipynb"), *root.glob("exercises/*.ipynb"),
                        *root.glob("solutions/*.ipynb")]):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        for i, cell in enumerate(cells):
            source = "".join(cell["source"])
            if cell["cell_type"] != "code" or "backward" not in source:
                continue
            tree = ast.parse("\n".join(ln for ln in source.splitlines() if not ln.startswith(("%", "!"))))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef) and node.name.split("_")[-1] == "backward":
                    where = f"{path.parent.name}/{path.name}, cell {i}: {node.name}"
                    found[where] = [a.arg for a in node.args.args if a.arg != "self"]
    return found


def test_every_backward_in_the_book_and_the_exercises_takes_dout():
    """A learner meets one contract: a ``backward`` takes the upstream gradient first (``dout``,
    ``dh``, ...), never the data; a method from the data is ``gradients`` (Exercise 1,
    ``MLP.gradients``, chapter 4)."""
    backwards = _notebook_backwards()
    assert len(backwards) >= 3  # chapter 8's layer classes and batch-norm function
    breaks = {where: names for where, names in backwards.items()
              if not names or not names[0].startswith("d")}
    assert not breaks, breaks
