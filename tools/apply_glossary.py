"""Apply the package glossary's renames to the code (and the code in prose) of notebooks.

The glossary (``dlbasics/__init__.py``) names each hyper-parameter once, PyTorch's way:
``lr``, ``eps``, ``weight_decay``, RMSprop's ``alpha``, Adam's ``betas``. This script
rewrites the notebooks that used the older names. Each rewrite is an exact ``(old, new)``
text pair for one notebook, so it never touches maths written in LaTeX; running the script
again changes nothing (idempotent), and ``--check`` exits 1 if a notebook still needs it.

Usage: ``python tools/apply_glossary.py [--check]``. Outputs are left as they are: execute
a changed chapter again afterwards.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]

# word-level renames applied to every code cell of the listed notebooks
CODE_WORDS = {
    "learning_rate": "lr",
    "epsilon": "eps",
}

# exact (old, new) replacements, per notebook, in code and markdown cells alike
EXACT: dict[str, list[tuple[str, str]]] = {
    "chapters/05_optimizers.ipynb": [
        ("RMSprop(0.1, rho=0.9)", "RMSprop(0.1, alpha=0.9)"),
        ("    # v <- rho * v + (1 - rho) * g^2,", "    # v <- alpha * v + (1 - alpha) * g^2,"),
        ("def __init__(self, lr=0.001, rho=0.9, eps=1e-8):",
         "def __init__(self, lr=0.001, alpha=0.9, eps=1e-8):"),
        ("self.lr, self.rho, self.eps, self.v = lr, rho, eps, None",
         "self.lr, self.alpha, self.eps, self.v = lr, alpha, eps, None"),
        ("v *= self.rho\n", "v *= self.alpha\n"),
        ("v += (1 - self.rho) * g * g", "v += (1 - self.alpha) * g * g"),
        ("def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):",
         "def __init__(self, lr=0.001, betas=(0.9, 0.999), eps=1e-8):"),
        ("self.lr, self.beta1, self.beta2, self.eps = lr, beta1, beta2, eps",
         "self.lr, (self.beta1, self.beta2), self.eps = lr, betas, eps"),
        ("- **PyTorch calls $\\rho$ `alpha`**, and its default is `alpha=0.99` with `lr=0.01`; ours are\n"
         "  `rho=0.9` and `learning_rate=0.001`. Pass the values explicitly when you compare.",
         "- **The decay is `alpha` in both `dlbasics.RMSprop` and PyTorch, with different defaults**:\n"
         "  PyTorch's are `alpha=0.99` and `lr=0.01`, ours `alpha=0.9` and `lr=0.001` (Keras calls\n"
         "  the decay `rho`). Pass the values explicitly when you compare."),
        ("`learning_rate`; call `step()`", "`lr`; call `step()`"),
        ("4. PyTorch's decay is called `alpha` and defaults to 0.99; ours is `rho` with default 0.9. Pass\n"
         "   `alpha=0.9` (and the same `eps`) to PyTorch, or `rho=0.99` to `dlbasics.RMSprop`.",
         "4. PyTorch's decay `alpha` defaults to 0.99; ours has the same name with default 0.9. Pass\n"
         "   `alpha=0.9` (and the same `eps`) to PyTorch, or `alpha=0.99` to `dlbasics.RMSprop`."),
        ("plot_learning_rate_grid(\"valley\", lrs=", "plot_learning_rate_grid(\"valley\", lrs="),
        ("plot_learning_rate_grid(\"valley\", learning_rates=", "plot_learning_rate_grid(\"valley\", lrs="),
    ],
    "chapters/06_regularization.ipynb": [
        ("regularization arguments of MLP.fit (l2, dropout, early_stopping)",
         "regularization arguments of MLP.fit (weight_decay, dropout, early_stopping)"),
        ("while `MLP.fit(..., l2=λ)` penalizes", "while `MLP.fit(..., weight_decay=λ)` penalizes"),
        ("as MLP.fit(l2=...)", "as MLP.fit(weight_decay=...)"),
        ("meant to match `MLP.fit(l2=λ)` builds", "meant to match `MLP.fit(weight_decay=λ)` builds"),
        ("train(l2=0.01)", "train(weight_decay=0.01)"),
        ("train(l2=0.001)           # L2", "train(weight_decay=0.001)  # L2"),
        ("train(weight_decay=0.001)           # L2", "train(weight_decay=0.001)  # L2"),
        ("`MLP.fit` has an `l2` argument but no `l1`",
         "`MLP.fit` has a `weight_decay` (L2) argument but no L1"),
        ("l2_values=", "weight_decay_values="),
        ("grid.l2_values", "grid.weight_decay_values"),
        ("regularization_explorer(fine_grid, l2=0.0,",
         "regularization_explorer(fine_grid, weight_decay=0.0,"),
    ],
    "chapters/11_exercises.ipynb": [
        ("batch_size=32, learning_rate=0.1)`", "batch_size=32, lr=0.1)`"),
    ],
    "solutions/ex1_neural_network.ipynb": [
        ("with learning rate $\\eta$ = `learning_rate`.", "with learning rate $\\eta$ = `lr`."),
    ],
}
CODE_NOTEBOOKS = [
    "chapters/01_introduction.ipynb",
    "chapters/04_backpropagation.ipynb",
    "chapters/05_optimizers.ipynb",
    "chapters/06_regularization.ipynb",
    "chapters/07_pytorch.ipynb",
    "solutions/ex1_neural_network.ipynb",
]
# keyword arguments renamed in calls: learning_rates= (a sweep's values) becomes lrs=, MLP.fit's
# validation_data= becomes val_data= (the name dlbasics.torch_models.fit uses)
CALL_KEYWORDS = {"learning_rates=": "lrs=", "validation_data=": "val_data="}


def rewrite(source: str, cell_type: str, name: str) -> str:
    out = source
    if cell_type == "code" and name in CODE_NOTEBOOKS:
        for old, new in CODE_WORDS.items():
            out = re.sub(rf"\b{old}\b", new, out)
        for old, new in CALL_KEYWORDS.items():
            out = re.sub(rf"(?<=[(,\s]){re.escape(old)}", new, out)
    for old, new in EXACT.get(name, []):
        out = out.replace(old, new)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report notebooks still to rewrite")
    args = parser.parse_args(argv)
    stale = []
    for name in sorted(set(CODE_NOTEBOOKS) | set(EXACT)):
        path = REPO / name
        nb = nbformat.read(path, as_version=4)
        changed = False
        for cell in nb.cells:
            new = rewrite(cell.source, cell.cell_type, name)
            if new != cell.source:
                cell.source, changed = new, True
        if changed:
            stale.append(name)
            if not args.check:
                nbformat.write(nb, str(path))
    for name in stale:
        print(("needs the glossary: " if args.check else "rewritten: ") + name)
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    sys.exit(main())
