"""Exercise 1 end to end: full marks, zero, partial credit, the from-scratch rule.

Each test writes a notebook, grades it in the real sandbox with the real hidden
tests and checks the score and what the learner is told.
"""

from __future__ import annotations

import nbformat
import numpy as np

from dlbasics_grader.engine import grade

from ..helpers import (
    EX1,
    EXERCISES,
    HIDDEN,
    SOLUTIONS,
    changed,
    code_cells,
    ipython_shell,
    namespace_of,
    point_table,
    run_cells,
    write_notebook,
)


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
    cells = [st if ("def gradients(" in s or "def train(" in s) else s
             for s, st in zip(ex1_solution_cells, ex1_stub_cells)]
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report) == {"ex1.init": 2, "ex1.forward": 3, "ex1.backward": 0, "ex1.train": 0}
    assert "gradients: replace this line with your code" in report.tests[2].output


def test_a_wrong_sigmoid_derivative_costs_one_backward_point(ex1, tmp_path, ex1_solution_cells):
    cells = [s.replace("return s * (1.0 - s)", "return s * (1.0 + s)") for s in ex1_solution_cells]
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report) == {"ex1.init": 2, "ex1.forward": 3, "ex1.backward": 2, "ex1.train": 2}
    assert "activation='sigmoid'" in report.tests[2].output
    assert "activation='relu'" not in report.tests[2].output
    assert "relu: every layer's dW and db are right" in report.tests[2].output


def test_summed_instead_of_averaged_gradients(ex1, tmp_path, ex1_solution_cells):
    cells = [s.replace("    dlogits /= n\n", "") for s in ex1_solution_cells]
    report = _grade(ex1, tmp_path, cells)
    scores = _scores(report)
    assert scores["ex1.backward"] == 0 and scores["ex1.init"] == 2 and scores["ex1.forward"] == 3
    assert scores["ex1.train"] == 2  # one mistake costs once: training uses the grader's gradients
    assert "MEAN cross-entropy" in report.tests[2].output


def test_an_unused_forbidden_import_costs_nothing_but_is_reported(ex1, tmp_path,
                                                                   ex1_solution_cells):
    report = _grade(ex1, tmp_path, ["import torch", *ex1_solution_cells])
    assert report.score == 10
    assert 'cell 1 "import torch", line 1: import torch (Exercise 1 is written from ' \
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
    from dlbasics import MLP
    from dlbasics_grader.engine import load_hidden_module

    mod = load_hidden_module("ex1", HIDDEN)
    Ws, bs, X, y = mod._value_case(123)
    for act in ("relu", "sigmoid", "tanh"):
        mlp = MLP(mod.VALUE_SIZES, activation=act, dtype=np.float64)
        mlp.weights, mlp.biases = [w.copy() for w in Ws], [b.copy() for b in bs]
        np.testing.assert_allclose(mod.reference_forward(Ws, bs, X, act)[0], mlp.forward(X),
                                   rtol=1e-12)
        dW, db = mod.reference_backward(Ws, bs, X, y, act)
        rdW, rdb = mlp.gradients(X, y)
        for a, b in zip([*dW, *db], [*rdW, *rdb]):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------
# public checks and the grade agree
# --------------------------------------------------------------------------

LECUN = ("std = np.sqrt(2.0 / (n_in + n_out))  # Glorot", "std = np.sqrt(1.0 / n_in)")
GLOBAL_RNG = ("self.weights.append(self.rng.normal(0.0, std, size=(n_out, n_in)))",
              "self.weights.append(np.random.normal(0.0, std, size=(n_out, n_in)))")
F_PRIME_AT_A = ("f_prime = activation_derivative(pre_activations[layer - 1], self.activation)",
                "f_prime = activation_derivative(activation(pre_activations[layer - 1], "
                "self.activation), self.activation)")
TRANSPOSED_DW = ("dW[layer] = delta.T @ inputs[layer]", "dW[layer] = inputs[layer].T @ delta")
NO_SHUFFLE = ("order = self.rng.permutation(n)", "order = np.arange(n)")
LOSS_FROM_DLBASICS = ("    # BEGIN SOLUTION\n    n = logits.shape[0]",
                      "    from dlbasics import softmax_cross_entropy as loss_of, "
                      "softmax_cross_entropy_grad as grad_of\n"
                      "    return loss_of(logits, y), grad_of(logits, y)\n"
                      "    # BEGIN SOLUTION\n    n = logits.shape[0]")


def test_lecun_initialization_fails_the_check_and_loses_the_scale_point(ex1, tmp_path,
                                                                         ex1_solution_cells):
    from dlbasics.checks import run

    cells = changed(ex1_solution_cells, LECUN)
    outcome = run("ex1.init", namespace_of(cells)["CompleteNeuralNetwork"])
    assert not outcome.ok and "LeCun" in outcome.details and "Glorot" in outcome.details
    report = _grade(ex1, tmp_path, cells)
    assert _scores(report)["ex1.init"] == 1
    assert report.score == 9
    init = report.tests[0].output
    assert "Shapes, zero biases and seeding: 1/1" in init and "LeCun" in init
    assert "standard deviation" in init


def test_a_global_random_generator_names_every_rule(ex1, tmp_path, ex1_solution_cells):
    report = _grade(ex1, tmp_path, changed(ex1_solution_cells, GLOBAL_RNG))
    init = report.tests[0]
    assert init.score == 1  # the scale is right, only the seeding is not
    assert "Shapes, zero biases and seeding: 0/1" in init.output and "self.rng" in init.output
    assert "Initialization scale (He for relu, Glorot for sigmoid and tanh): 1/1" in init.output


def test_derivatives_at_the_activations_get_the_evaluate_at_z_hint(ex1, tmp_path,
                                                                   ex1_solution_cells):
    from dlbasics.checks import run

    cells = changed(ex1_solution_cells, F_PRIME_AT_A)
    outcome = run("ex1.backward", namespace_of(cells)["CompleteNeuralNetwork"])
    assert not outcome.ok and "sigmoid, tanh" in outcome.message
    report = _grade(ex1, tmp_path, cells)
    backward = report.tests[2]
    assert backward.score == 1  # relu is right
    for text in (outcome.details, backward.output):
        assert "evaluate f' at the pre-activation Z, not at the activation A" in text
        assert "relu: every layer's dW and db are right" in text
        assert "sigmoid: dW/db of layers 0, 1 wrong, of layer 2 right" in text


def test_a_transposed_weight_gradient_gets_the_delta_t_a_hint(ex1, tmp_path, ex1_solution_cells):
    from dlbasics.checks import run

    cells = changed(ex1_solution_cells, TRANSPOSED_DW)
    outcome = run("ex1.backward", namespace_of(cells)["CompleteNeuralNetwork"])
    report = _grade(ex1, tmp_path, cells)
    for text in (outcome.details, report.tests[2].output):
        assert "dW = delta.T @ A" in text and "(n_out, n_in)" in text
        assert "(softmax - one_hot) / n" not in text


def test_batches_in_a_fixed_order_cost_half_a_training_point(ex1, tmp_path, ex1_solution_cells):
    from dlbasics.checks import run

    cells = changed(ex1_solution_cells, NO_SHUFFLE)
    outcome = run("ex1.train", namespace_of(cells)["CompleteNeuralNetwork"])
    assert not outcome.ok and "new in every epoch" in outcome.details
    report = _grade(ex1, tmp_path, cells)
    train = report.tests[3]
    assert train.score == 1.5
    assert "drawn from self.rng, in batches of batch_size: 0/0.5 point" in train.output
    assert "new in every epoch" in train.output


def test_the_training_message_states_every_point_rule(ex1):
    from dlbasics.checks.ex1 import relu_logits
    from dlbasics_grader.engine import load_hidden_module
    from dlbasics_grader.spec import ProbeResult

    mod = load_hidden_module("ex1", HIDDEN)
    weights = mod._initial_weights(ex1.seed)  # untrained, and no batch ever reached gradients
    Ws, bs = [weights[f"W{i}"] for i in range(3)], [weights[f"b{i}"] for i in range(3)]
    outputs = {"pred": relu_logits(Ws, bs, mod._train_data(ex1.seed)[0]).argmax(axis=1)}
    for run in ("first", "again", "other"):
        outputs |= {f"{run}_{k}": v for k, v in weights.items()}
        outputs |= {f"{run}_losses": list(np.linspace(1, 0.5, 30)), f"{run}_batches": []}
    result = mod._score_train(ex1.part("ex1.train"), ProbeResult("train_probe", "ok", outputs),
                              ex1.seed)
    assert result.score == 0.5
    for text in ("right form: 0.5/0.5", "never called self.gradients", "0/0.5 point",
                 "Held-out accuracy (below 70%)",
                 "0/1 point (90 % earns the point, 70 % half of it)"):
        assert text in result.output, result.output


def test_training_is_judged_from_the_weights_the_batches_give(ex1):
    """A forged record of shuffled batches earns nothing: the grader replays the batches and
    the weights must be the ones they give; the losses must be the replay's too."""
    from dlbasics.checks.ex1 import sgd_probe
    from dlbasics_grader.engine import load_hidden_module
    from dlbasics_grader.spec import ProbeResult

    mod = load_hidden_module("ex1", HIDDEN)
    ns = namespace_of(code_cells(SOLUTIONS / EX1, stop_at="def make_spirals"))
    inputs = mod._train_inputs(ex1.seed)
    honest = sgd_probe(ns, inputs)
    part = ex1.part("ex1.train")
    assert mod._score_train(part, ProbeResult("train_probe", "ok", honest), ex1.seed).score == 2
    # the batches of a shuffled run, with the weights of an unshuffled one
    unshuffled = sgd_probe(namespace_of(changed(
        code_cells(SOLUTIONS / EX1, stop_at="def make_spirals"), NO_SHUFFLE)), inputs)
    forged = {**unshuffled, **{k: v for k, v in honest.items() if k.endswith("_batches")}}
    result = mod._score_train(part, ProbeResult("train_probe", "ok", forged), ex1.seed)
    assert result.score == 0, result.output
    assert "the trained weights are not what mini-batch SGD on the batches" in result.output
    lossy = {**honest, "first_losses": [v / 2 for v in honest["first_losses"]]}
    result = mod._score_train(part, ProbeResult("train_probe", "ok", lossy), ex1.seed)
    assert result.score == 1.5 and "not the mean batch losses of the epoch" in result.output


def test_the_point_table_states_every_threshold(ex1):
    assert point_table(SOLUTIONS / EX1) == {p.name: p.max_score for p in ex1.parts}
    text = nbformat.read(SOLUTIONS / EX1, as_version=4).cells[0].source
    for threshold in ("90 %", "70 %", "15 %", "½ point"):
        assert threshold in text


def test_a_check_says_at_once_that_a_forbidden_import_will_cost_the_parts_using_it():
    shell = ipython_shell()
    cells = changed(code_cells(SOLUTIONS / EX1, stop_at="def make_spirals"), LOSS_FROM_DLBASICS)
    out = run_cells(shell, [c for c in cells if "%pip" not in c and "check(" not in c]
                     + ["from dlbasics.checks import check",
                        "check('ex1.loss', softmax_cross_entropy)"])
    assert "✗ ex1.loss: ex1.backward and ex1.train will score 0" in out
    assert "Exercise 1 is written from scratch with NumPy only" in out
    assert "from dlbasics import softmax_cross_entropy as loss_of," in out
    assert "The values themselves are right." in out
    # the learner fixes the cell and runs it again: the old definition no longer counts
    fixed = next(c for c in cells if c.startswith("def softmax_cross_entropy")).replace(
        LOSS_FROM_DLBASICS[1], LOSS_FROM_DLBASICS[0])
    out = run_cells(shell, [fixed, "check('ex1.loss', softmax_cross_entropy)"])
    assert out.startswith("✓ ex1.loss")


def test_the_grade_names_the_cell_by_number_and_definitions_and_each_rule_once(ex1, tmp_path,
                                                                          ex1_solution_cells):
    from dlbasics_grader.report import summary

    cells = changed(ex1_solution_cells, LOSS_FROM_DLBASICS) + ["1 / 0"]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c, execution_count=k + 1) for k, c in enumerate(cells)]
    path = tmp_path / EX1
    nbformat.write(nb, str(path))
    report = grade(ex1, path, private_paths=[HIDDEN])
    assert _scores(report)["ex1.backward"] == 0 and _scores(report)["ex1.train"] == 0
    k = next(i for i, c in enumerate(cells) if c.startswith("def softmax_cross_entropy"))
    where = f"cell [{k + 1}] (def softmax_cross_entropy), line 6"
    assert where in report.tests[2].output
    assert f'Cell [{len(cells)}] "1 / 0" failed: ZeroDivisionError' in report.output
    text = summary(report)
    line = next(ln for ln in text.splitlines() if where in ln)
    assert text.count(line.strip()) == 2  # once for each part it costs, not again below
