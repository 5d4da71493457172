"""PyTorch models and the training loop: shapes, determinism, learning, input checks."""

from __future__ import annotations

import random

import numpy as np
import pytest

torch = pytest.importorskip("torch")
import torch.nn.functional as F  # noqa: E402

from dlbasics.datasets import load_digits, make_xor, train_val_test_split  # noqa: E402
from dlbasics.history import History  # noqa: E402
from dlbasics.torch_models import (  # noqa: E402
    SimpleCNN,
    SimpleNN,
    evaluate,
    fit,
    predict,
    seed_everything,
)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run fastest on one thread, and the suite runs tests in parallel."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return train_val_test_split(X, y, val_size=0.2, test_size=0.2, seed=0)


def _weights(model):
    return [p.detach().clone() for p in model.parameters()]


# ---------------------------------------------------------------------------
# models
# ---------------------------------------------------------------------------


def test_simple_nn_layers_and_shapes():
    torch.manual_seed(0)
    model = SimpleNN(input_size=2, hidden_size=4, output_size=1)
    assert model.fc1.weight.shape == (4, 2) and model.fc2.weight.shape == (1, 4)
    assert model.dropout.p == 0.2
    out = model(torch.zeros(5, 2))
    assert out.shape == (5, 1) and out.dtype == torch.float32


def test_simple_nn_dropout_only_in_training_mode():
    torch.manual_seed(0)
    model = SimpleNN(10, 200, 3, dropout=0.5)
    x = torch.randn(8, 10)
    model.train()
    assert not torch.equal(model(x), model(x))
    model.eval()
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize(("size", "side"), [(28, 7), (8, 2), (32, 8)])
def test_simple_cnn_sizes(size, side):
    torch.manual_seed(0)
    model = SimpleCNN(num_classes=10, image_size=size).eval()
    assert model.fc1.in_features == 64 * side * side
    x = torch.randn(3, 1, size, size)
    out = model(x)
    assert out.shape == (3, 10)
    # (n, s, s) and flat (n, s*s) are the same images
    torch.testing.assert_close(model(x[:, 0]), out)
    torch.testing.assert_close(model(x.reshape(3, -1)), out)


def test_simple_cnn_with_colour_channels():
    model = SimpleCNN(num_classes=4, in_channels=3, image_size=12)
    assert model(torch.randn(2, 3, 12, 12)).shape == (2, 4)
    with pytest.raises(ValueError, match=r"expects images of shape \(n, 3, 12, 12\) or flat rows"):
        model(torch.randn(2, 12, 12))


@pytest.mark.parametrize(
    ("make", "error", "match"),
    [
        (lambda: SimpleCNN(image_size=10), ValueError, "image_size must be a multiple of 4"),
        (lambda: SimpleCNN(image_size=2), ValueError, "image_size must be an integer >= 4"),
        (lambda: SimpleCNN(num_classes=0), ValueError, "num_classes"),
        (lambda: SimpleCNN(in_channels=1.0), TypeError, "in_channels must be an integer"),
        (lambda: SimpleNN(2, 0, 1), ValueError, "hidden_size"),
        (lambda: SimpleNN(2, 4, 1, dropout=1.0), ValueError, r"dropout must be in \[0, 1\)"),
    ],
)
def test_model_constructors_reject_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_model_forward_rejects_wrong_shapes():
    with pytest.raises(ValueError, match=r"SimpleNN expects input of shape \(n, 2\), got \(4, 3\)"):
        SimpleNN(2, 4, 1)(torch.zeros(4, 3))
    with pytest.raises(ValueError, match=r"SimpleCNN expects images of shape \(n, 1, 28, 28\)"):
        SimpleCNN()(torch.zeros(4, 1, 8, 8))


# ---------------------------------------------------------------------------
# seeding
# ---------------------------------------------------------------------------


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.random(), torch.rand(1).item()  # noqa: NPY002

    seed_everything(123)
    first = draw()
    seed_everything(123)
    assert draw() == first
    seed_everything(124)
    assert draw() != first
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        seed_everything(-1)


def test_fit_is_deterministic_for_a_seed(digits):
    (X, y), _, _ = digits

    def run(seed, global_draws):
        torch.manual_seed(0)
        model = SimpleNN(64, 16, 10)  # same initial weights every run
        torch.rand(global_draws)  # the global generator is elsewhere; fit's seed decides
        history = fit(model, (X[:300], y[:300]), epochs=2, batch_size=32, seed=seed, progress=False)
        return _weights(model), history

    w1, h1 = run(seed=7, global_draws=1)
    w2, h2 = run(seed=7, global_draws=5)
    w3, _ = run(seed=8, global_draws=1)
    for a, b in zip(w1, w2):
        assert torch.equal(a, b)
    assert h1.loss == h2.loss
    assert any(not torch.equal(a, b) for a, b in zip(w1, w3))


def test_fit_leaves_global_torch_random_state_alone(digits):
    (X, y), _, _ = digits
    model = SimpleNN(64, 8, 10)
    state = torch.get_rng_state()
    fit(model, (X[:64], y[:64]), epochs=1, seed=3, progress=False)
    assert torch.equal(torch.get_rng_state(), state)


# ---------------------------------------------------------------------------
# training and evaluation
# ---------------------------------------------------------------------------


def test_simple_nn_learns_digits(digits):
    (X_tr, y_tr), (X_val, y_val), (X_te, y_te) = digits
    seed_everything(0)
    model = SimpleNN(64, 64, 10)
    history = fit(
        model, (X_tr, y_tr), (X_val, y_val), epochs=8, lr=1e-2, batch_size=64, progress=False
    )
    assert isinstance(history, History) and len(history) == 8
    assert len(history.val_loss) == len(history.val_accuracy) == 8
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.val_accuracy[-1] > 0.9
    scores = evaluate(model, X_te, y_te)
    assert scores["accuracy"] > 0.9
    np.testing.assert_allclose(scores["accuracy"], np.mean(predict(model, X_te) == y_te))


def test_simple_cnn_learns_digits_from_8x8_images(digits):
    (X_tr, y_tr), (X_val, y_val), _ = digits
    seed_everything(0)
    model = SimpleCNN(num_classes=10, image_size=8)
    history = fit(
        model,
        (X_tr.reshape(-1, 1, 8, 8), y_tr),
        (X_val.reshape(-1, 1, 8, 8), y_val),
        epochs=4,
        lr=3e-3,
        batch_size=64,
        progress=False,
    )
    assert history.val_accuracy[-1] > 0.85


def test_xor_with_mse_like_the_outline():
    X, y = make_xor()
    seed_everything(0)
    model = SimpleNN(2, 8, 1, dropout=0.0)
    history = fit(model, (X, y), epochs=300, lr=0.05, batch_size=4, loss="mse", progress=False)
    assert history.loss[-1] < 0.01
    np.testing.assert_array_equal(predict(model, X), y)
    assert evaluate(model, X, y, loss="mse")["accuracy"] == 1.0


def test_full_batch_sgd_fit_equals_a_hand_written_torch_loop():
    X, y = make_xor(n_samples=16, noise=0.2, seed=1)
    target = torch.from_numpy(y[:, None].astype(np.float32))
    torch.manual_seed(0)
    ours = SimpleNN(2, 6, 1, dropout=0.0)
    reference = SimpleNN(2, 6, 1, dropout=0.0)
    reference.load_state_dict(ours.state_dict())
    fit(ours, (X, y), epochs=25, lr=0.1, batch_size=16, optimizer="sgd", momentum=0.9,
        loss="mse", progress=False)
    opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for _ in range(25):
        opt.zero_grad()
        F.mse_loss(reference(torch.from_numpy(X)), target).backward()
        opt.step()
    for a, b in zip(ours.parameters(), reference.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_evaluate_matches_a_direct_computation(digits):
    _, (X, y), _ = digits
    torch.manual_seed(0)
    model = SimpleNN(64, 32, 10)
    model.train()
    scores = evaluate(model, X, y, batch_size=50)
    assert model.training  # evaluate restores the mode
    model.eval()
    with torch.no_grad():
        logits = model(torch.from_numpy(X))
    expected_loss = F.cross_entropy(logits, torch.from_numpy(y)).item()
    assert scores["loss"] == pytest.approx(expected_loss, rel=1e-5)
    assert scores["accuracy"] == pytest.approx((logits.argmax(1).numpy() == y).mean())


def test_fit_accepts_tensors_float64_arrays_and_an_optimizer(digits):
    (X, y), _, _ = digits
    torch.manual_seed(0)
    model = SimpleNN(64, 16, 10)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    history = fit(model, (torch.from_numpy(X[:128]), torch.from_numpy(y[:128])), epochs=1,
                  optimizer=opt, progress=False)
    assert history.val_loss == [] and len(history.loss) == 1
    history = fit(model, (X[:128].astype(np.float64), y[:128]), epochs=1, progress=False)
    assert next(model.parameters()).dtype == torch.float32
    assert np.isfinite(history.loss[0])


def test_one_hot_targets_with_mse():
    X = np.eye(3, dtype=np.float32)
    y = np.eye(3, dtype=np.float32)
    model = SimpleNN(3, 8, 3, dropout=0.0)
    fit(model, (X, y), epochs=200, lr=0.05, loss="mse", batch_size=3, progress=False)
    assert evaluate(model, X, y, loss="mse")["accuracy"] == 1.0
    np.testing.assert_array_equal(predict(model, X), [0, 1, 2])


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"loss": "hinge"}, ValueError, "unknown loss 'hinge'; expected one of"),
        ({"optimizer": "lbfgs"}, ValueError, "unknown optimizer 'lbfgs'"),
        ({"epochs": 0}, ValueError, "epochs must be an integer >= 1"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"lr": 0.0}, ValueError, "lr must be a finite number > 0"),
    ],
)
def test_fit_rejects_bad_settings(kwargs, error, match):
    X, y = make_xor()
    with pytest.raises(error, match=match):
        fit(SimpleNN(2, 4, 2), (X, y), progress=False, **kwargs)


def test_fit_rejects_bad_data():
    X, y = make_xor()
    model = SimpleNN(2, 4, 2)
    with pytest.raises(ValueError, match=r"y has labels in \[0, 5\]; expected values in \[0, 1\]"):
        fit(model, (X, np.array([0, 1, 5, 0])), progress=False)
    with pytest.raises(ValueError, match="X has 4 samples .* but y has 3"):
        fit(model, (X, y[:3]), progress=False)
    with pytest.raises(ValueError, match=r"cannot take X of shape \(4, 3\)"):
        fit(model, (np.ones((4, 3)), y), progress=False)
    with pytest.raises(TypeError, match=r"train_data must be a pair \(X, y\)"):
        fit(model, X, progress=False)
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains NaN"):
        fit(model, (bad, y), progress=False)
    with pytest.raises(ValueError, match=r"needs targets y of shape \(4, 2\)"):
        fit(model, (X, np.ones((4, 3))), loss="mse", progress=False)
    with pytest.raises(ValueError, match="X_val has 4 samples .* but y_val has 2"):
        fit(model, (X, y), (X, y[:2]), progress=False)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module"):
        evaluate("model", X, y)


def test_numpy_and_pytorch_fit_share_their_arguments():
    import inspect

    from dlbasics.networks import MLP

    ours, theirs = inspect.signature(MLP.fit).parameters, inspect.signature(fit).parameters
    shared = {"val_data", "epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "seed",
              "progress"}
    assert shared <= set(ours) & set(theirs)
    assert {name: ours[name].default for name in shared} == {name: theirs[name].default for name in shared}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_numpy_and_pytorch_fit_give_the_same_history(optimizer):
    # full batches, so the order of the samples does not matter: the two loops do the same steps,
    # with weight decay on the weights only, and record loss and accuracy with the same meaning
    from dlbasics.networks import MLP

    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 3)), rng.integers(0, 3, 40)
    X_val, y_val = rng.standard_normal((10, 3)), rng.integers(0, 3, 10)
    mlp = MLP([3, 8, 3], seed=0, dtype=np.float64)
    for b in mlp.biases:
        b[:] = rng.standard_normal(b.shape)
    net = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)).double()
    with torch.no_grad():
        for layer, w, b in zip((net[0], net[2]), mlp.weights, mlp.biases):
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
    settings = dict(epochs=4, batch_size=40, optimizer=optimizer, lr=0.1, momentum=0.9 * (optimizer == "sgd"),
                    weight_decay=0.05, progress=False)
    ours = mlp.fit(X, y, (X_val, y_val), **settings)
    theirs = fit(net, (X, y), (X_val, y_val), **settings)
    for field in ("loss", "accuracy", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(getattr(ours, field), getattr(theirs, field), rtol=1e-9, err_msg=field)
    np.testing.assert_allclose(mlp.biases[0], net[0].bias.detach().numpy(), rtol=1e-9)
