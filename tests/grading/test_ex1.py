"""Exercise 1 end to end: full marks, zero, partial credit, the from-scratch rule.

Each test writes a notebook, grades it in the real sandbox with the real hidden
tests and checks the score and what the learner is told.
"""

from __future__ import annotations

import numpy as np
import pytest

from dlbasics_grader.engine import grade

from .conftest import EX1, EXERCISES, HIDDEN, SOLUTIONS, write_notebook


def _grade(ex1, tmp_path, cells, name="ex1_neural_network.ipynb"):
    path = write_notebook(tmp_path / name, cells)
    return grade(ex1, path, private_paths=[HIDDEN])


def _scores(report):
    return {t.name: t.score for t in report.tests}


def test_solution_notebook_scores_full_marks(ex1):
    report = grade(ex1, SOLUTIONS / EX1, private_paths=[HIDDEN])
    assert report.score == report.max_score == 10, report.output
    assert all(t.status == "passed" for t in report.tests)
    assert not report.grader_error


def test_untouched_student_notebook_scores_zero(ex1):
    report = grade(ex1, EXERCISES / EX1, private_paths=[HIDDEN])
    assert report.score == 0
    assert {t.status for t in report.tests} == {"error"}
    assert all("NotImplementedError" in t.output for t in report.tests)


def test_init_and_forward_alone_earn_their_five_points(ex1, tmp_path, ex1_solution_cells,
                                                        ex1_stub_cells):
    cells = [st if ("def backward(" in s or "def train(" in s) else s
             for s, st in zip(ex1_solution_cells, ex1_stub_cells)]
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report) == {"ex1.init": 2, "ex1.forward": 3, "ex1.backward": 0, "ex1.train": 0}
    assert "backward: replace this line with your code" in report.tests[2].output


def test_a_wrong_sigmoid_derivative_costs_one_backward_point(ex1, tmp_path, ex1_solution_cells):
    cells = [s.replace("return s * (1.0 - s)", "return s * (1.0 + s)") for s in ex1_solution_cells]
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report) == {"ex1.init": 2, "ex1.forward": 3, "ex1.backward": 2, "ex1.train": 2}
    assert "activation='sigmoid'" in report.tests[2].output
    assert "relu" not in report.tests[2].output.split("\n", 1)[1].split("Hint")[0]


def test_summed_instead_of_averaged_gradients(ex1, tmp_path, ex1_solution_cells):
    cells = [s.replace("    dlogits /= n\n", "") for s in ex1_solution_cells]
    report = _grade(ex1, tmp_path, cells)
    scores = _scores(report)
    assert scores["ex1.backward"] == 0 and scores["ex1.init"] == 2 and scores["ex1.forward"] == 3
    assert scores["ex1.train"] < 2
    assert "MEAN cross-entropy" in report.tests[2].output


def test_wrong_initialization_scale_gets_half_the_init_points(ex1, tmp_path, ex1_solution_cells):
    cells = [s.replace("std = np.sqrt(2.0 / (n_in + n_out))  # Glorot", "std = np.sqrt(1.0 / n_in)")
             for s in ex1_solution_cells]
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report)["ex1.init"] == 1
    assert report.score == 9
    assert "Glorot" in report.tests[0].output and "standard deviation" in report.tests[0].output


def test_an_unused_forbidden_import_costs_nothing_but_is_reported(ex1, tmp_path,
                                                                   ex1_solution_cells):
    report = _grade(ex1, tmp_path, ["import torch", *ex1_solution_cells])
    assert report.score == 10
    assert 'the cell "import torch", line 1: import torch (Exercise 1 is written from ' \
           'scratch' in report.output


def test_torch_is_blocked_inside_the_sandbox_with_a_clear_message(ex1, tmp_path,
                                                                   ex1_solution_cells):
    cells = [*ex1_solution_cells, "import torch\nprint(torch.ones(3))"]
    report = _grade(ex1, tmp_path, cells)
    assert report.score == 10  # the cell fails, nothing graded uses it
    assert "ImportError: torch.ones is blocked while grading: Exercise 1 is written from " \
           "scratch with NumPy only" in report.output


def test_a_notebook_without_the_class_says_so(ex1, tmp_path, ex1_solution_cells):
    report = _grade(ex1, tmp_path, ex1_solution_cells[:2])
    assert report.score == 0
    assert all("No class called CompleteNeuralNetwork" in t.output for t in report.tests)


def test_hidden_reference_agrees_with_the_package_mlp():
    """The hidden tests' own NumPy reference and dlbasics.MLP compute the same gradients."""
    import importlib.util

    from dlbasics import MLP

    spec = importlib.util.spec_from_file_location("_ex1_hidden_ref", HIDDEN / "ex1.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    Ws, bs, X, y = mod._value_case(123)
    for act in ("relu", "sigmoid", "tanh"):
        mlp = MLP(mod.VALUE_SIZES, activation=act, dtype=np.float64)
        mlp.weights, mlp.biases = [w.copy() for w in Ws], [b.copy() for b in bs]
        np.testing.assert_allclose(mod.reference_forward(Ws, bs, X, act)[0], mlp.forward(X),
                                   rtol=1e-12)
        dW, db = mod.reference_backward(Ws, bs, X, y, act)
        rdW, rdb = mlp.backward(X, y)
        for a, b in zip([*dW, *db], [*rdW, *rdb]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("name", ["ex1.activations", "ex1.init", "ex1.forward", "ex1.loss",
                                  "ex1.backward", "ex1.train"])
def test_public_checks_pass_on_the_solution_and_fail_kindly_on_stubs(name, capsys):
    from dlbasics.checks import check

    sol_ns: dict = {}
    stub_ns: dict = {}
    for cells, ns in ((_code(SOLUTIONS / EX1), sol_ns), (_code(EXERCISES / EX1), stub_ns)):
        for src in cells:
            try:
                exec(compile(src, "<cell>", "exec"), ns)
            except NotImplementedError:
                pass
    args = {"ex1.activations": ("activation", "activation_derivative"),
            "ex1.loss": ("softmax_cross_entropy",)}.get(name, ("CompleteNeuralNetwork",))
    assert check(name, *(sol_ns[a] for a in args)) is True
    assert capsys.readouterr().out.startswith(f"✓ {name}:")
    assert check(name, *(stub_ns[a] for a in args)) is False  # must not raise
    out = capsys.readouterr().out
    assert out.startswith(f"✗ {name}: not implemented yet")


def test_an_unknown_check_name_lists_the_real_ones(capsys):
    from dlbasics.checks import check

    assert check("ex1.forwrd", object) is False
    out = capsys.readouterr().out
    assert "no check with this name" in out and "ex1.forward" in out


def test_a_check_shows_expected_and_given_values(capsys):
    from dlbasics.checks import check

    def activation(z, name):
        return {"relu": np.maximum(z, 0), "tanh": np.tanh(z)}.get(name, 1 / (1 + np.exp(-z)))

    def activation_derivative(z, name):
        return np.ones_like(z)  # wrong for all three

    assert check("ex1.activations", activation, activation_derivative) is False
    out = capsys.readouterr().out
    assert "✗ ex1.activations: activation_derivative(z, 'relu') is not right." in out
    assert "expected:" in out and "given:" in out


def _code(path):
    import nbformat

    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code"
            and "check(" not in c.source and "make_spirals" not in c.source
            and "plt." not in c.source]
