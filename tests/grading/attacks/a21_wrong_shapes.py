"""Weights stored as (n_in, n_out): consistent with itself, so training works, but not the API."""


def cells(solution_cells):
    out = []
    for src in solution_cells:
        src = src.replace("size=(n_out, n_in)", "size=(n_in, n_out)")
        src = src.replace("z = a @ W.T + b", "z = a @ W + b")
        src = src.replace("dW[layer] = delta.T @ inputs[layer]",
                          "dW[layer] = inputs[layer].T @ delta")
        src = src.replace("delta = (delta @ self.weights[layer]) * f_prime",
                          "delta = (delta @ self.weights[layer].T) * f_prime")
        out.append(src)
    return out


EXPECT_SCORE = 2
EXPECT_STATUS = {"ex1.init": "failed", "ex1.forward": "error", "ex1.backward": "error"}
EXPECT_OUTPUT = ["expected (300, 2) = (n_out, n_in)"]
