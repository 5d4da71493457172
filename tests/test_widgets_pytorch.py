"""The CNN feature-map explorer and its static figure (chapter 7)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")

import torch.nn.functional as F  # noqa: E402

import dlbasics  # noqa: E402
from dlbasics.widgets import conv_feature_maps, feature_map_explorer, plot_feature_maps  # noqa: E402


@pytest.fixture(scope="module")
def cnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return dlbasics.SimpleCNN(num_classes=10, image_size=8)


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = dlbasics.load_digits()
    return X[:6], y[:6]




def test_conv1_maps_are_relu_of_the_models_own_convolution(cnn, digits):
    X, _ = digits
    maps = conv_feature_maps(cnn, X, "conv1")
    expected = F.relu(cnn.conv1(torch.from_numpy(X).reshape(-1, 1, 8, 8))).detach().numpy()
    assert maps.shape == (6, 32, 8, 8)
    np.testing.assert_allclose(maps, expected, rtol=1e-6, atol=1e-7)


def test_conv2_maps_read_the_pooled_conv1_output(cnn, digits):
    X, _ = digits
    x = torch.from_numpy(X).reshape(-1, 1, 8, 8)
    pre = conv_feature_maps(cnn, X, "conv2", after_relu=False)
    expected = cnn.conv2(cnn.pool(F.relu(cnn.conv1(x)))).detach().numpy()
    assert pre.shape == (6, 64, 4, 4)
    np.testing.assert_allclose(pre, expected, rtol=1e-6, atol=1e-7)
    assert (pre < 0).any()  # so the ReLU below is not vacuous
    np.testing.assert_array_equal(conv_feature_maps(cnn, X, "conv2"), np.maximum(pre, 0))


def test_image_layouts_give_the_same_maps(cnn, digits):
    X, _ = digits
    flat = conv_feature_maps(cnn, X)
    np.testing.assert_array_equal(conv_feature_maps(cnn, X.reshape(-1, 8, 8)), flat)
    np.testing.assert_array_equal(conv_feature_maps(cnn, torch.from_numpy(X).reshape(-1, 1, 8, 8)), flat)


def test_maps_leave_the_training_mode_alone(cnn, digits):
    cnn.train()
    conv_feature_maps(cnn, digits[0])
    assert cnn.training
    cnn.eval()
    conv_feature_maps(cnn, digits[0])
    assert not cnn.training


def test_static_figure_has_a_row_per_image_and_a_column_per_filter(cnn, digits):
    X, y = digits
    fig = plot_feature_maps(cnn, X[:3], filters=[0, 2, 4, 6], labels=y[:3])
    assert len(fig.axes) == (3 + 1) * (4 + 1)
    assert fig.axes[5].get_title() == "label 0"
    plt.close(fig)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda m, X: conv_feature_maps(m, X, "conv3"), ValueError, "unknown layer 'conv3'; expected one of"),
        (lambda m, X: conv_feature_maps(m, X[:, :63]), ValueError, "not flat square images"),
        (lambda m, X: conv_feature_maps(m, X[:0]), ValueError, "empty"),
        (lambda m, X: conv_feature_maps(torch.nn.Linear(2, 2), X), TypeError, "'conv1'"),
        (lambda m, X: conv_feature_maps("model", X), TypeError, "torch.nn.Module"),
        (lambda m, X: plot_feature_maps(m, X, filters=[40]), ValueError, "0..31"),
        (lambda m, X: plot_feature_maps(m, X, filters=[]), ValueError, "empty"),
        (lambda m, X: feature_map_explorer(m, X, labels=[1, 2]), ValueError, "2 labels for 6 images"),
    ],
)
def test_bad_input_is_reported_clearly(cnn, digits, call, error, message):
    with pytest.raises(error, match=message):
        call(cnn, digits[0])


def test_explorer_precomputes_every_image_layer_and_filter(cnn, digits):
    from dlbasics.widgets.display import static_view

    X, y = digits
    box = feature_map_explorer(cnn, X[:3], y[:3], filters=4)
    with torch.no_grad():
        assert list(box.data["predictions"]) == list(cnn.eval()(torch.from_numpy(X[:3])).argmax(dim=1))
    assert box.controls["layer"].options == (("conv1", 0), ("conv2", 1))
    views = {static_view(box, image=i, layer=k, filter=f)[1].value
             for i in range(3) for k in range(2) for f in range(4)}
    assert len(views) == 3 * 2 * 4
