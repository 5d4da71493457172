"""Exercise 1's public checks: they pass on the solution, fail kindly on the stubs and on
wrong code, and show only their message in a notebook."""

from __future__ import annotations

import numpy as np
import pytest

from ..helpers import EX1, EXERCISES, SOLUTIONS, code_cells, ipython_shell, namespace_of


def _namespace(path):
    return namespace_of(code_cells(path))


CHECK_ARGS = {"ex1.activations": ("activation", "activation_derivative"),
              "ex1.loss": ("softmax_cross_entropy",), "ex1.gradcheck": ("numerical_gradient",)}


@pytest.mark.parametrize("name", ["ex1.activations", "ex1.init", "ex1.forward", "ex1.loss",
                                  "ex1.backward", "ex1.gradcheck", "ex1.train"])
def test_public_checks_pass_on_the_solution_and_fail_kindly_on_stubs(name, capsys):
    from dlbasics.checks import check, run

    sol_ns, stub_ns = _namespace(SOLUTIONS / EX1), _namespace(EXERCISES / EX1)
    capsys.readouterr()  # what the notebooks' own cells printed
    args = CHECK_ARGS.get(name, ("CompleteNeuralNetwork",))
    verdict = check(name, *(sol_ns[a] for a in args))
    assert verdict and repr(verdict) == ""  # shows nothing under its message in a notebook
    assert capsys.readouterr().out.startswith(f"✓ {name}:")
    assert not check(name, *(stub_ns[a] for a in args))  # must not raise
    assert capsys.readouterr().out.startswith(f"✗ {name}: not implemented yet")
    assert run(name, *(sol_ns[a] for a in args)).ok


def test_an_unknown_check_name_lists_the_real_ones(capsys):
    from dlbasics.checks import check

    assert not check("ex1.forwrd", object)
    out = capsys.readouterr().out
    assert "no check with this name" in out and "ex1.forward" in out


def test_a_check_shows_expected_and_given_values(capsys):
    from dlbasics.checks import check

    def activation(z, name):
        return {"relu": np.maximum(z, 0), "tanh": np.tanh(z)}.get(name, 1 / (1 + np.exp(-z)))

    def activation_derivative(z, name):
        return np.ones_like(z)  # wrong for all three

    assert not check("ex1.activations", activation, activation_derivative)
    out = capsys.readouterr().out
    assert "✗ ex1.activations: activation_derivative(z, 'relu') is not right." in out
    assert "expected:" in out and "given:" in out


def test_a_check_cell_displays_only_the_message_in_ipython(capsys):
    from dlbasics.checks import check

    verdict = check("ex1.forwrd", object)
    assert capsys.readouterr().out.startswith("✗ ex1.forwrd")
    data, _ = ipython_shell().display_formatter.format(verdict)
    assert data == {}  # a Jupyter kernel sends no output for the cell's value
