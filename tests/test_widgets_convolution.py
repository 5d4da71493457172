"""The convolution explorer (chapter 8): feature maps, output sizes, redraws, static figures."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import dlbasics  # noqa: E402
from dlbasics.widgets import convolution_explorer, plot_convolution, plot_convolution_grid  # noqa: E402
from dlbasics.widgets.convolution import KERNELS, PADDINGS, STRIDES, convolve_image  # noqa: E402


@pytest.fixture(scope="module")
def digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = dlbasics.load_digits(return_images=True, image_size=28, dtype=np.float64)
    return X[:3], y[:3]


@pytest.mark.parametrize("kernel", list(KERNELS))
@pytest.mark.parametrize("stride", STRIDES)
@pytest.mark.parametrize("padding", PADDINGS)
def test_feature_map_equals_torch_conv2d_and_the_size_formula(digits, kernel, stride, padding):
    img = digits[0][1]
    out = convolve_image(img, kernel, stride, padding)
    w = torch.from_numpy(KERNELS[kernel])[None, None]
    ref = F.conv2d(torch.from_numpy(img)[None, None], w, stride=stride, padding=padding)[0, 0]
    np.testing.assert_allclose(out, ref.numpy(), rtol=1e-12, atol=1e-12)
    k = KERNELS[kernel].shape[0]
    side = (28 + 2 * padding - k) // stride + 1
    assert out.shape == (side, side)


def test_flat_rows_and_custom_kernels_are_accepted(digits):
    img = digits[0][0]
    np.testing.assert_array_equal(convolve_image(img.ravel(), "blur 3x3"), convolve_image(img, "blur 3x3"))
    custom = np.array([[0.0, 0.0], [0.0, 1.0]])
    np.testing.assert_array_equal(convolve_image(img, custom), img[1:, 1:])


def test_static_figures_have_the_expected_panels(digits):
    fig = plot_convolution(digits[0][0], "sharpen", stride=3, padding=1)
    assert len(fig.axes) == 3
    assert "10×10" in fig.axes[2].get_title()
    grid = plot_convolution_grid(digits[0][0], kernels=("blur 3x3", "sharpen"),
                                 settings=((1, 0), (2, 1)))
    assert len(grid.axes) == 2 * 3
    assert grid.axes[2].get_title() == "s=2, p=1: 14×14"


def test_bad_arguments_give_clear_errors(digits):
    img = digits[0][0]
    with pytest.raises(ValueError, match="unknown kernel 'emboss'"):
        convolve_image(img, "emboss")
    with pytest.raises(ValueError, match="square"):
        convolve_image(img, np.ones((2, 3)))
    with pytest.raises(ValueError, match="square number of pixels"):
        convolve_image(np.ones(10), "blur 3x3")
    with pytest.raises(ValueError, match="stride"):
        convolve_image(img, "blur 3x3", stride=0)
    with pytest.raises(ValueError, match=r"images must be \(n, H, W\)"):
        convolution_explorer(np.ones((1, 2, 28, 28)))
    with pytest.raises(ValueError, match="2 labels for 3 images"):
        convolution_explorer(digits[0], [0, 1])


def test_explorer_reports_the_size_for_every_setting(digits):
    from dlbasics.widgets.display import static_view

    X, y = digits
    box = convolution_explorer(X[:1], y[:1], precompute=False)
    assert "= 26" in box.live[0].value
    box.show(stride=2)
    assert "= 13" in box.live[0].value
    box.show(stride=2, padding=2, kernel="blur 5x5")
    assert "= 14" in box.live[0].value
    static = convolution_explorer(X[:1], y[:1])
    assert "label" in str(static.controls["image"].options)
    assert "= 15" in static_view(static, stride=1, padding=2)[0].value
