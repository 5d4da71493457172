"""Weights stored as (n_in, n_out): consistent with itself, so training works, but not the API."""

from . import patched

cells = patched(
    ("size=(n_out, n_in)", "size=(n_in, n_out)"),
    ("z = a @ W.T + b", "z = a @ W + b"),
    ("dW[layer] = delta.T @ inputs[layer]", "dW[layer] = inputs[layer].T @ delta"),
    ("delta = (delta @ self.weights[layer]) * f_prime",
     "delta = (delta @ self.weights[layer].T) * f_prime"),
)

EXPECT_SCORE = 2
EXPECT_STATUS = {"ex1.init": "failed", "ex1.forward": "error", "ex1.backward": "error"}
EXPECT_OUTPUT = ["expected (300, 2) = (n_out, n_in)"]
