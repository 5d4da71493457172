"""Markup of the chapter notebooks that must read well outside the book too.

The book's self-check answers (and a few asides) fold away. MyST's
``:::{dropdown}`` directive does that in the built site only: JupyterLab, Colab
and GitHub show its raw markup. An HTML ``<details>`` element folds away in all
of them, and where it is not understood it degrades to the plain text of its
summary and body. The book styles it (``assets/book.css``) and the PDF prints it
opened (``tools/build_book.py``)::

    :::{dropdown} Answers          <details class="dropdown">
    1. AND ...               ->    <summary>Answers</summary>
    :::                            (blank line)
                                   1. AND ...
                                   (blank line)
                                   </details>

The blank lines let Markdown inside the block (lists, maths, roles) be parsed
as Markdown, by MyST and by JupyterLab alike.

It also describes the images: a cell listed in :data:`IMAGE_ALT` (by cell id)
gets ``mystnb.image.alt`` metadata, which the book uses as the alt text of the
figures it outputs, or of every image an explorer draws
(``tools/sphinx_reader_view.py``). A figure with a caption and no entry takes
the caption's first sentence.

And it draws the figures for high-density screens: the set-up line
``%config InlineBackend.figure_format = ...`` becomes
``%config InlineBackend.figure_formats = ["retina"]``, so every Matplotlib figure
is a PNG with twice the pixels, shown at its usual size (the page hides the
line, ``tools/sphinx_reader_view.py``). That line is the only code it touches:
the notebook's saved figures follow at its next run (the book runs every
chapter it builds).

The rewrite is idempotent. Run it after editing or adding a chapter;
``tests/test_chapter_markup.py`` fails while a chapter still needs it::

    python tools/chapter_markup.py            # rewrite chapters/*.ipynb in place
    python tools/chapter_markup.py --check    # list what would change, exit 1 if anything
"""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"

#: What a cell's images show, by cell id: each explorer (the page adds its
#: current settings, "w₁ = 1, b = -1.5, ...") and each figure without a caption.
IMAGE_ALT = {
    # 01 introduction: neuron_explorer
    "8f0fe544": "Output of one neuron over the input square for the chosen weights, bias and "
                "activation, with its decision line and the truth table of the chosen logic gate",
    # 02 architecture: architecture_explorer
    "1cc221b3": "Diagram of a fully connected network with the chosen layer sizes and the shape "
                "of every array on the way through it",
    # 03 activations: activation_explorer
    "8aa9346e": "The chosen activation function and its derivative, and the product of "
                "derivatives along a chain of the chosen depth",
    # 04 backpropagation: backprop_explorer
    "55baf0db": "Loss curve of the chosen training recipe on XOR up to the chosen epoch, and the "
                "network's output over the input square at that epoch",
    # 05 optimizers: optimizer_race
    "63bbc6f0": "Paths of SGD, momentum, RMSprop and Adam on the chosen loss surface with the "
                "chosen learning rate, and their loss above the minimum step by step",
    # 06 regularization: regularization_explorer
    "745c31c1": "Decision regions of the network trained with the chosen L2 strength and dropout "
                "rate, with the training points",
    # 07 pytorch: feature_map_explorer
    "4cf84f72": "A test digit, the weights of the chosen filter of the chosen convolution layer, "
                "its output and its feature map after ReLU",
    # 08 convolutional networks: convolution_explorer
    "9e0d8c9a": "A 28 by 28 digit, the chosen kernel with its weights, and the feature map it "
                "produces at the chosen stride and padding",
    # 09 sequence models: attention_explorer
    "121d7228": "Attention weight of every token of the chosen sentence, with the model's "
                "probability that the review is positive",
    # 03 activations: figures without a caption
    "a3c1e7d1": "Gradient reaching the logit against the logit of a sample labelled 1, log scale: "
                "cross-entropy's stays large when confidently wrong, squared error's vanishes",
    "a3c1e7d3": "Validation accuracy per gradient-descent step of a softmax classifier on the "
                "digits trained with cross-entropy and with squared error, for two weight scales",
    # 06 regularization: figures without a caption
    "f6b20a19": "Cross-entropy on one batch of 32 images step by step, log scale: the correct "
                "network drives it towards 0, the one with a sign error in backward does not",
    "f6b20a1b": "Learning-rate range test: mini-batch loss as the rate grows after every batch, "
                "with the suggested rate, next to short runs at six fixed rates",
    "f6b20a1d": "Validation accuracy of grid search and random search runs over learning rate and "
                "L2 strength, both on log scales",
    # 08 convolutional networks: figure without a caption
    "d8e4a105": "Training curves of deep plain and residual convolutional networks, and the "
                "gradient norm of each 3x3 convolution at the first step, log scale",
    # 10 transformers
    "f781bf02": "Variance of attention scores against the dimension d of queries and keys, "
                "growing like d unless scaled by the square root of d, and the resulting weights",
    "a6b2e1d4": "Three attention masks as grids of query position against key position: "
                "padding, causal, and both (green: may attend)",
    "84302f96": "Sinusoidal position encoding for d = 64 as a heat map over position and feature, "
                "and dot products between encodings depending only on the offset",
    "a8b99cf4": "ReLU and GELU and their derivatives: GELU is smooth at 0 with a small negative dip",
    "89e91ddd": "Gradient norm of each block's first MLP weight matrix at initialization in a "
                "stack of 12 blocks, log scale: pre-LN and post-LN with residual connections, and "
                "without residual connections with and without layer normalization",
    "54f16273": "Training and validation cross-entropy per character of the Transformer and the "
                "LSTM against the training step, with the bigram baseline",
    "59246a44": "Attention map of the chosen head and layer of the trained character model on the "
                "chosen passage: how much each character attends to each earlier one",
    "e5e3c664": "Attention maps of every head of one layer of the trained model on a held-out "
                "passage",
}

# An opening fence: three or more colons or backticks, then {dropdown} and its title.
_OPEN = re.compile(r"^(?P<fence>:{3,}|`{3,})\{dropdown\}[ \t]*(?P<title>.*?)[ \t]*$")
_OPTION = re.compile(r"^:[\w-]+:")
# The set-up line choosing the inline figure format, and what it becomes.
_FIGURE_FORMAT = re.compile(r"^%config\s+InlineBackend\.figure_formats?\s*=.*$", re.M)
RETINA = '%config InlineBackend.figure_formats = ["retina"]'


def _plain_title(title: str) -> str:
    """The summary text: Markdown inline code and emphasis are kept as HTML."""
    text = html.escape(title or "Show", quote=False)
    text = re.sub(r"`([^`]+)`", r"<code>\1</code>", text)
    return re.sub(r"\*\*([^*]+)\*\*|\*([^*]+)\*",
                  lambda m: f"<strong>{m[1]}</strong>" if m[1] else f"<em>{m[2]}</em>", text)


def convert_dropdowns(markdown: str) -> str:
    """Every ``{dropdown}`` block of ``markdown`` as a ``<details>`` element.

    Parameters
    ----------
    markdown : str
        The source of one markdown cell.

    Returns
    -------
    str
        The same text with each dropdown rewritten; text without one is
        returned unchanged.

    Raises
    ------
    ValueError
        When a dropdown is never closed (its fence has no closing line).
    """
    lines = markdown.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _OPEN.match(lines[i])
        if not match:
            out.append(lines[i])
            i += 1
            continue
        fence = match["fence"]
        close = re.compile(rf"^{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        j = i + 1
        while j < len(lines) and _OPTION.match(lines[j]):  # :open:, :class: ... are dropped
            j += 1
        body_start = j
        while j < len(lines) and not close.match(lines[j]):
            j += 1
        if j == len(lines):
            raise ValueError(f"a {{dropdown}} opened on line {i + 1} is never closed by {fence}")
        body = lines[body_start:j]
        while body and not body[0].strip():
            body.pop(0)
        while body and not body[-1].strip():
            body.pop()
        out += ['<details class="dropdown">', f"<summary>{_plain_title(match['title'])}</summary>",
                "", *body, "", "</details>"]
        i = j + 1
    return "\n".join(out)


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def apply(path: Path, write: bool = True) -> list[str]:
    """Rewrite one notebook; return a line per cell that changed (or would)."""
    import nbformat

    nb = nbformat.read(path, as_version=4)
    changes = []
    for index, cell in enumerate(nb.cells):
        alt = IMAGE_ALT.get(cell.get("id", ""))
        if alt and cell.metadata.get("mystnb", {}).get("image", {}).get("alt") != alt:
            cell.metadata.setdefault("mystnb", {}).setdefault("image", {})["alt"] = alt
            changes.append(f"{path.relative_to(ROOT)}: cell {index}: alt text")
        if cell.cell_type == "code":
            before = _source(cell)
            after = _FIGURE_FORMAT.sub(RETINA, before)
            if after != before:
                cell.source = after
                changes.append(f"{path.relative_to(ROOT)}: cell {index}: figures for 2x screens")
        if cell.cell_type != "markdown":
            continue
        before = _source(cell)
        after = convert_dropdowns(before)
        if after != before:
            cell.source = after
            changes.append(f"{path.relative_to(ROOT)}: cell {index}: {{dropdown}} -> <details>")
    if changes and write:
        nbformat.write(nb, path)
    return changes


def chapter_notebooks() -> list[Path]:
    return sorted(CHAPTERS.glob("*.ipynb"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 and list the cells that need the rewrite")
    parser.add_argument("notebooks", nargs="*", type=Path,
                        help="notebooks to process (default: chapters/*.ipynb)")
    args = parser.parse_args(argv)
    changes = []
    for path in args.notebooks or chapter_notebooks():
        changes += apply(path.resolve(), write=not args.check)
    for line in changes:
        print(line)
    if args.check and changes:
        print(f"{len(changes)} cell(s) need `python tools/chapter_markup.py`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
