"""Where a trained text classifier looks: attention weights over the words of a review.

The functions work with any PyTorch model whose ``forward(ids)`` takes a
padded batch of token ids ``(n, L)`` (padding id 0 at the end) and returns
``(logits, weights)``: two-class logits ``(n, 2)`` and attention weights
``(n, L)``, like the classifiers of the sequence-models chapter and of
Exercise 3.

:func:`attention_weights` runs the model on a few texts, :func:`plot_attention`
draws the weights as a heat map with one row per review (the static figure),
and :func:`attention_explorer` lets a reader put different words into the same
sentence frame with two drop-downs and watch the weights and the prediction
move. The controls are discrete, so every state of the explorer can be drawn
in advance.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from dlbasics.activations import softmax
from dlbasics.text import Vocabulary, sentiment_label, tokenize
from dlbasics.widgets.display import Explorer

__all__ = [
    "DEFAULT_FILLERS",
    "DEFAULT_FRAMES",
    "attention_explorer",
    "attention_weights",
    "plot_attention",
]

#: Sentence frames of the corpus's grammar; ``{}`` takes a filler.
DEFAULT_FRAMES: tuple[str, ...] = (
    "the plot was {} .",
    "the acting was {} but the plot was good .",
    "the acting was good but the plot was {} .",
    "although the cast was {} , the ending was dull .",
    "honestly , the ending was {} , although the cast was great .",
)

#: What can fill a frame's slot: adjectives, negated and intensified.
DEFAULT_FILLERS: tuple[str, ...] = (
    "good", "bad", "not good", "not bad", "very boring", "never boring",
    "hardly enjoyable", "truly brilliant",
)


def _check_texts(texts: Any) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, Sequence) or len(texts) == 0:
        raise TypeError("texts must be a non-empty list of strings")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not tokenize(t):
            raise ValueError(f"texts[{i}] = {t!r} is not a text with at least one token")
    return list(texts)


def attention_weights(
    model: Any, vocab: Vocabulary, texts: Sequence[str]
) -> tuple[np.ndarray, list[np.ndarray], list[list[str]]]:
    """Run a classifier on ``texts``; return P(positive), the weights and the tokens of each.

    Parameters
    ----------
    model : torch.nn.Module
        ``model(ids) -> (logits (n, 2), weights (n, L))``; it is put in eval
        mode for the call and returned to its previous mode afterwards.
    vocab : dlbasics.text.Vocabulary
        The vocabulary the model was trained with.
    texts : sequence of str
        ``n`` reviews.

    Returns
    -------
    prob_positive : numpy.ndarray, shape (n,)
        Softmax probability of class 1.
    weights : list of numpy.ndarray
        Review ``i``'s weights over its own ``len(tokens[i])`` tokens (the
        weights on padding are dropped; for a masked model they are zero).
    tokens : list of list of str
        The tokens of each review, as :func:`dlbasics.tokenize` splits them.
    """
    import torch

    if not isinstance(vocab, Vocabulary):
        raise TypeError(f"vocab must be a dlbasics Vocabulary, got {type(vocab).__name__}")
    texts = _check_texts(texts)
    ids, lengths, _ = vocab.encode_batch(texts)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with torch.no_grad():
            result = model(torch.from_numpy(ids))
    finally:
        model.train(was_training)
    if not (isinstance(result, tuple) and len(result) == 2):
        raise TypeError("model(ids) must return (logits, weights), like the chapter's classifier")
    logits, weights = (r.detach().cpu().double().numpy() for r in result)
    if logits.shape != (len(texts), 2) or weights.shape != ids.shape:
        raise ValueError(
            f"model returned logits {logits.shape} and weights {weights.shape}; expected "
            f"({len(texts)}, 2) and {ids.shape} for a batch of ids of shape {ids.shape}"
        )
    prob = softmax(logits, axis=1)[:, 1]
    tokens = [tokenize(t) for t in texts]
    return prob, [w[:n] for w, n in zip(weights, lengths.tolist(), strict=True)], tokens


def _rule(text: str) -> str:
    try:
        return "positive" if sentiment_label(text) == 1 else "negative"
    except ValueError:
        return "not defined"


def plot_attention(
    model: Any, vocab: Vocabulary, texts: Sequence[str], ax: Axes | None = None
) -> Figure:
    """Heat map of attention weights: one row per review, one cell per token.

    Parameters
    ----------
    model : torch.nn.Module
        As for :func:`attention_weights`.
    vocab : dlbasics.text.Vocabulary
    texts : sequence of str
    ax : matplotlib.axes.Axes, optional
        Where to draw; a new figure by default.

    Returns
    -------
    matplotlib.figure.Figure
        Each row is labelled with the model's P(positive) and the label the
        corpus's rule (:func:`dlbasics.sentiment_label`) gives the review.
    """
    prob, weights, tokens = attention_weights(model, vocab, texts)
    width = max(len(t) for t in tokens)
    grid = np.full((len(texts), width), np.nan)
    for i, w in enumerate(weights):
        grid[i, : len(w)] = w
    if ax is None:
        fig = Figure(figsize=(min(1.0 + 0.62 * width, 14), 0.9 + 0.5 * len(texts)))
        ax = fig.subplots()
    else:
        fig = ax.figure
    image = ax.imshow(grid, cmap="Reds", vmin=0, vmax=max(float(np.nanmax(grid)), 1e-12),
                      aspect="auto")
    for i, toks in enumerate(tokens):
        for j, tok in enumerate(toks):
            dark = grid[i, j] > 0.6 * np.nanmax(grid)
            ax.text(j, i, tok, ha="center", va="center", fontsize=8,
                    color="white" if dark else "black")
    ax.set_yticks(range(len(texts)),
                  [f"P(pos) = {p:.2f}, rule: {_rule(t)}" for p, t in zip(prob, texts, strict=True)],
                  fontsize=8)
    ax.set_xticks(range(width), [str(j + 1) for j in range(width)])
    ax.set_xlabel("token position (1 = first token)")
    ax.set_title("Attention weight of each position (darker = more weight)", fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.025, label="attention weight")
    return fig


def _draw_weights(model: Any, vocab: Vocabulary, text: str) -> Figure:
    """Bar chart of the attention weights over the tokens of ``text``, titled with the prediction."""
    prob, weights, tokens = attention_weights(model, vocab, [text])
    tokens = tokens[0]
    fig = Figure(figsize=(max(6.0, 0.62 * len(tokens) + 1.5), 2.8), layout="tight")
    ax = fig.subplots()
    x = np.arange(len(tokens))
    ax.bar(x, weights[0], color="#c0392b")
    ax.set_xticks(x, tokens, fontsize=9)
    ax.set_ylim(0, 1)
    ax.set_ylabel("attention weight")
    verdict = "positive" if prob[0] >= 0.5 else "negative"
    ax.set_title(f"model: P(positive) = {float(prob[0]):.2f} ({verdict}); "
                 f"rule of the corpus: {_rule(text)}", fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return fig


def attention_explorer(
    model: Any,
    vocab: Vocabulary,
    frames: Sequence[str] = DEFAULT_FRAMES,
    fillers: Sequence[str] = DEFAULT_FILLERS,
    *,
    precompute: bool = True,
) -> Explorer:
    """Choose a sentence frame and the words in its slot; see the attention weights and prediction.

    Parameters
    ----------
    model : torch.nn.Module
        A trained classifier, ``model(ids) -> (logits (n, 2), weights (n, L))``.
    vocab : dlbasics.text.Vocabulary
        The vocabulary it was trained with.
    frames : sequence of str, default DEFAULT_FRAMES
        Sentences with one ``{}`` slot.
    fillers : sequence of str, default DEFAULT_FILLERS
        Words or phrases for the slot.

    precompute : bool, default True
        See :func:`dlbasics.widgets.display.explorer`: every (frame, filler)
        pair is drawn ahead for the static page.

    Returns
    -------
    Explorer
        Two drop-downs and a bar chart of the weights over the tokens, titled
        with the model's P(positive) and the label the corpus's rule gives
        the sentence; see :func:`dlbasics.widgets.display.explorer`.
    """
    frames, fillers = list(frames), list(fillers)
    if not frames or not fillers:
        raise ValueError("frames and fillers must each hold at least one entry")
    for f in frames:
        if not isinstance(f, str) or f.count("{}") != 1:
            raise ValueError(f"every frame needs exactly one '{{}}' slot, got {f!r}")
    _check_texts(fillers)
    unknown = sorted({tok for s in frames + fillers for tok in tokenize(s.replace("{}", ""))
                      if tok not in vocab})
    if unknown:
        raise ValueError(f"words the vocabulary does not know (they would read as <unk>): {unknown}")
    from dlbasics.widgets.display import Control, Layer, explorer

    controls = [
        Control("frame", tuple(frames), frames[0], "sentence", kind="dropdown", width="480px"),
        Control("filler", tuple(fillers), fillers[0], "{} =", kind="dropdown", width="220px"),
    ]

    def draw(frame: str, filler: str) -> Figure:
        return _draw_weights(model, vocab, frame.format(filler))

    return explorer(controls, [Layer(draw, ("frame", "filler"))], precompute=precompute,
                    rows=[["frame", "filler"]])
