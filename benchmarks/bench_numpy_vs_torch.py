"""NumPy (dlbasics) against PyTorch on the CPU, measured side by side in one process.

Reports ratios ``dlbasics time / torch time`` (lower is better; 1.0 is parity):

* one training step (forward, backward, SGD update) of an MLP 784-256-128-10 on
  a float32 batch of 128;
* ``conv2d`` forward + backward on ``(64, 32, 14, 14)`` with 64 3x3 filters,
  padding 1, against ``torch.nn.functional.conv2d``, and against the three
  matrix products it is made of (forward ``cols @ w.T``, ``dw = dout.T @ cols``,
  ``dx`` rows ``= dout @ w``) timed alone on the same shapes: the cost of
  everything around the GEMMs (padding, windows, the strided adds).

Both libraries get the same number of threads (``--threads``, by default one
and then two). The two contenders alternate in rounds, and each reported time
is the median over rounds, so a burst of load on the machine hits both rather
than one. The header names NumPy's BLAS and the CPU kernel it picked: the
GEMMs that dominate both benchmarks run at that kernel's speed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np


def _median_times(contenders: dict[str, Callable[[], None]], rounds: int, repeats: int) -> dict[str, float]:
    for fn in contenders.values():  # warm-up: allocations, BLAS thread start, autograd graph
        fn()
        fn()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(repeats):
                fn()
            samples[name].append((time.perf_counter() - start) / repeats)
    return {name: statistics.median(ts) for name, ts in samples.items()}


def mlp_step(rounds: int, repeats: int) -> dict[str, float]:
    """Median seconds per training step for dlbasics.MLP and the same torch network."""
    import torch
    import torch.nn.functional as F

    from dlbasics import MLP, SGD

    rng = np.random.default_rng(0)
    X = rng.standard_normal((128, 784)).astype(np.float32)
    y = rng.integers(0, 10, 128)
    model = MLP([784, 256, 128, 10], seed=0)
    opt = SGD(lr=0.01)
    params = model.parameters()

    def ours() -> None:
        dW, db = model.gradients(X, y)
        opt.update(params, dW + db)

    net = torch.nn.Sequential(
        torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    topt = torch.optim.SGD(net.parameters(), lr=0.01)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def theirs() -> None:
        topt.zero_grad()
        F.cross_entropy(net(Xt), yt).backward()
        topt.step()

    return _median_times({"dlbasics": ours, "torch": theirs}, rounds, repeats)


def conv2d_step(rounds: int, repeats: int) -> dict[str, float]:
    """Median seconds per conv2d forward + backward for dlbasics and torch."""
    import torch
    import torch.nn.functional as F

    from dlbasics import conv2d_backward, conv2d_forward

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 32, 14, 14)).astype(np.float32)
    w = (rng.standard_normal((64, 32, 3, 3)) * 0.1).astype(np.float32)
    b = np.zeros(64, dtype=np.float32)
    dout = rng.standard_normal((64, 64, 14, 14)).astype(np.float32)

    def ours() -> None:
        out, cache = conv2d_forward(x, w, b, stride=1, padding=1)
        conv2d_backward(dout, cache)

    xt = torch.from_numpy(x).requires_grad_()
    wt = torch.from_numpy(w).requires_grad_()
    bt = torch.from_numpy(b).requires_grad_()
    dt = torch.from_numpy(dout)

    def theirs() -> None:
        xt.grad = wt.grad = bt.grad = None
        F.conv2d(xt, wt, bt, padding=1).backward(dt)

    cols = rng.standard_normal((64 * 14 * 14, 3 * 3 * 32)).astype(np.float32)
    w_rows = w.transpose(0, 2, 3, 1).reshape(64, -1)
    dout_rows = np.ascontiguousarray(dout.transpose(0, 2, 3, 1).reshape(-1, 64))

    def gemms() -> None:
        cols @ w_rows.T
        dout_rows.T @ cols
        dout_rows @ w_rows

    return _median_times({"dlbasics": ours, "torch": theirs, "gemms": gemms}, rounds, repeats)


BENCHMARKS = (
    ("MLP 784-256-128-10 train step, batch 128", mlp_step, 20),
    ("conv2d fwd+bwd (64,32,14,14), 64 3x3, pad 1", conv2d_step, 3),
)


def _blas() -> str:
    """NumPy's BLAS and the CPU kernel it chose, e.g. ``openblas 0.3.31 (Haswell)``."""
    from threadpoolctl import threadpool_info

    for pool in threadpool_info():
        if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
            return f"{pool['internal_api']} {pool['version']} ({pool.get('architecture', '?')} kernel)"
    return "unknown BLAS"


def main(argv: list[str] | None = None) -> dict[tuple[str, int], float]:
    """Run both comparisons at each thread count, print a table, return the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2],
                        help="thread counts to compare at, the same for both libraries (default: 1 2)")
    args = parser.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    print(f"dlbasics (NumPy {np.__version__}, {_blas()}) vs torch {torch.__version__}, "
          f"median of {args.rounds} alternating rounds")
    print(f"{'benchmark':<46}{'threads':>8}{'dlbasics':>11}{'torch':>11}{'ratio':>8}")
    ratios = {}
    for threads in args.threads:
        torch.set_num_threads(threads)
        with threadpool_limits(limits=threads):
            for name, fn, repeats in BENCHMARKS:
                t = fn(args.rounds, repeats)
                ratios[name, threads] = t["dlbasics"] / t["torch"]
                print(f"{name:<46}{threads:>8}{t['dlbasics'] * 1e3:>9.2f}ms{t['torch'] * 1e3:>9.2f}ms"
                      f"{ratios[name, threads]:>7.2f}x")
                if "gemms" in t:  # the second column is then the GEMMs alone, not torch
                    ratios["conv2d / its 3 GEMMs", threads] = t["dlbasics"] / t["gemms"]
                    print(f"{'  the same conv2d / its 3 GEMMs alone':<46}{threads:>8}"
                          f"{t['dlbasics'] * 1e3:>9.2f}ms{t['gemms'] * 1e3:>9.2f}ms"
                          f"{ratios['conv2d / its 3 GEMMs', threads]:>7.2f}x")
    return ratios


if __name__ == "__main__":
    main()
