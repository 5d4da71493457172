"""Public checks of Exercise 3 (text classification with an LSTM and attention).

Each check runs the learner's code on a small public case and compares with
``dlbasics.Vocabulary`` or with what the exercise asks for. The grade itself
comes from other, hidden cases and held-out reviews.
"""

from __future__ import annotations

import numpy as np

from dlbasics.checks._common import fmt, seeded_torch
from dlbasics.checks._training import train_and_check
from dlbasics.checks.registry import CheckOutcome, register


def _padded_ids(vocab_size: int = 30, seed: int = 0):
    """A batch of ids (4, 8) padded with 0 at the end, and the lengths (8, 5, 2, 1)."""
    import torch

    rng = np.random.default_rng(seed)
    lengths = [8, 5, 2, 1]
    ids = np.zeros((4, 8), dtype=np.int64)
    for i, n in enumerate(lengths):
        ids[i, :n] = rng.integers(2, vocab_size, n)
    return torch.from_numpy(ids), lengths


@register("ex3.encode")
def check_encode(encode_texts) -> CheckOutcome:
    """Ids padded with 0 at the end, a bool mask, unknown words -> 1, max_len."""
    import torch

    from dlbasics.text import Vocabulary

    vocab = Vocabulary.from_texts(["the plot was good .", "the plot was not good ."])
    texts = ["the plot was not good .", "good .", "the ending was awful ."]
    for max_len in (None, 4):
        result = encode_texts(texts, vocab, max_len)
        call = f"encode_texts({texts}, vocab, max_len={max_len})"
        if not isinstance(result, tuple) or len(result) != 2:
            return CheckOutcome(False, "encode_texts should return (ids, mask).",
                                f"given: {type(result).__name__}")
        ids, mask = result
        want_ids, _, want_mask = vocab.encode_batch(texts, max_len=max_len)
        for name, got, want, dtype in (("ids", ids, want_ids, torch.int64),
                                       ("mask", mask, want_mask, torch.bool)):
            if not isinstance(got, torch.Tensor) or got.dtype != dtype:
                return CheckOutcome(False, f"{name} should be a torch.Tensor of dtype {dtype}.",
                                    f"{call}\n  given: {type(got).__name__} "
                                    f"{getattr(got, 'dtype', '')}")
            if tuple(got.shape) != want.shape or not np.array_equal(got.numpy(), want):
                return CheckOutcome(False, f"{name} is not right.",
                                    f"{call}\n  expected:\n{want}\n  given:\n{got.numpy()}\n"
                                    "Unknown words are 1 (<unk>), padding is 0 at the end, the "
                                    "mask is True on real tokens.")
    return CheckOutcome(True, "ids, mask, unknown words and max_len are right.")


@register("ex3.attention")
def check_attention(AdditiveAttention) -> CheckOutcome:
    """Weights >= 0 summing to 1, exactly 0 on padding; context = weighted sum of h."""
    torch = seeded_torch()
    layer = AdditiveAttention(6)
    h = torch.randn(3, 5, 6)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=torch.bool)
    with torch.no_grad():
        result = layer(h, mask)
    if not isinstance(result, tuple) or len(result) != 2:
        return CheckOutcome(False, "forward should return (context, weights).")
    context, weights = result
    if tuple(weights.shape) != (3, 5) or tuple(context.shape) != (3, 6):
        return CheckOutcome(False, "wrong shapes.",
                            f"h: (3, 5, 6), mask: (3, 5)\n  expected context (3, 6) and weights "
                            f"(3, 5); given {tuple(context.shape)} and {tuple(weights.shape)}")
    w = weights.double()
    if not torch.isfinite(w).all() or (w < 0).any() or not torch.allclose(
            w.sum(dim=1), torch.ones(3, dtype=torch.float64), atol=1e-5):
        return CheckOutcome(False, "each row of weights should be >= 0 and sum to 1.",
                            f"weights:\n{fmt(w.numpy())}")
    if (w[~mask] != 0).any():
        return CheckOutcome(False, "padded positions must get exactly 0 weight.",
                            f"mask:\n{mask.int().numpy()}\n  weights:\n{fmt(w.numpy())}\n"
                            "Set their scores to -inf (masked_fill) before the softmax.")
    if torch.allclose(w[0], torch.full((5,), 0.2, dtype=torch.float64)):
        return CheckOutcome(False, "the weights are uniform.",
                            "They should come from learned scores v . tanh(W h_t + b).")
    want = torch.einsum("bt,bth->bh", w, h.double())
    if not torch.allclose(context.double(), want, rtol=1e-4, atol=1e-5):
        return CheckOutcome(False, "the context is not the weighted sum of h.",
                            f"expected:\n{fmt(want.numpy())}\n  given:\n"
                            f"{fmt(context.double().numpy())}")
    h2 = h.clone()
    h2[~mask] = 100.0
    with torch.no_grad():
        context2, _ = layer(h2, mask)
    if not torch.allclose(context2, context, rtol=1e-4, atol=1e-5):
        return CheckOutcome(False, "values at padded positions change the output.")
    return CheckOutcome(True, "weights sum to 1, are exactly 0 on padding, and the context is the "
                        "weighted sum of h.")


@register("ex3.model")
def check_model(SentimentClassifier) -> CheckOutcome:
    """Shapes of logits and weights; padding does not change a review's logits."""
    torch = seeded_torch()
    ids, lengths = _padded_ids()
    for classes in (2, 3):
        model = SentimentClassifier(30, num_classes=classes)
        model.eval()
        with torch.no_grad():
            result = model(ids)
        if not isinstance(result, tuple) or len(result) != 2:
            return CheckOutcome(False, "forward should return (logits, attention_weights).")
        logits, weights = result
        if tuple(logits.shape) != (4, classes) or tuple(weights.shape) != (4, 8):
            return CheckOutcome(False, "wrong shapes.",
                                f"ids: (4, 8), num_classes={classes}\n  expected logits "
                                f"(4, {classes}) and weights (4, 8); given "
                                f"{tuple(logits.shape)} and {tuple(weights.shape)}")
    mask = ids != 0
    if (weights[~mask] != 0).any():
        return CheckOutcome(False, "the attention gives weight to padding (id 0).",
                            "Compute mask = ids != self.pad_index and pass it to the attention.")
    with torch.no_grad():
        alone = torch.cat([model(ids[i:i + 1, :n])[0] for i, n in enumerate(lengths)])
    if not torch.allclose(alone, logits, rtol=1e-4, atol=1e-5):
        return CheckOutcome(False, "a review's logits change with the padding after it.",
                            f"in the batch:\n{fmt(logits.numpy())}\n  alone, without padding:\n"
                            f"{fmt(alone.numpy())}")
    return CheckOutcome(True, "logits (batch, num_classes), weights (batch, length), and padding "
                        "does not change the logits.")


@register("ex3.gradients")
def check_gradients(SentimentClassifier) -> CheckOutcome:
    """The cross-entropy's gradient reaches the embedding and the LSTM."""
    import torch.nn.functional as F
    from torch import nn

    torch = seeded_torch()
    ids, _ = _padded_ids()
    model = SentimentClassifier(30)
    logits, _ = model(ids)
    F.cross_entropy(logits, torch.tensor([0, 1, 1, 0])).backward()
    for kind, what in ((nn.Embedding, "nn.Embedding"), (nn.LSTM, "nn.LSTM")):
        modules = [m for m in model.modules() if isinstance(m, kind)]
        if not modules:
            return CheckOutcome(False, f"the model has no {what} module.")
        for m in modules:
            for name, p in m.named_parameters():
                if p.grad is None or not torch.isfinite(p.grad).all() or p.grad.norm() == 0:
                    return CheckOutcome(False, f"{what}.{name} gets no gradient.",
                                        "Something cuts the graph between it and the loss "
                                        "(.detach(), .numpy(), torch.no_grad(), or it is unused).")
    norms = {n: p.grad.norm().item() for n, p in model.named_parameters() if p.grad is not None}
    listing = ", ".join(f"{n}: {v:.1e}" for n, v in list(norms.items())[:4])
    return CheckOutcome(True, "the gradient reaches the embedding and the LSTM.",
                        f"gradient norms: {listing}, ...")


@register("ex3.training")
def check_training(train_model, predict) -> CheckOutcome:
    """Two epochs of a small bag-of-words model: per-epoch history, int64 predictions."""
    import torch
    from torch import nn

    from dlbasics.text import Vocabulary, make_sentiment_corpus

    class MeanEmbedding(nn.Module):
        def __init__(self, vocab_size: int, pad_index: int = 0):
            super().__init__()
            self.pad_index = pad_index
            self.embedding = nn.Embedding(vocab_size, 16, padding_idx=pad_index)
            self.out = nn.Linear(16, 2)

        def forward(self, ids):
            mask = (ids != self.pad_index).unsqueeze(-1).float()
            return self.out((self.embedding(ids) * mask).sum(1) / mask.sum(1)), None

    torch.manual_seed(0)
    texts, labels = make_sentiment_corpus(500, seed=1)
    vocab = Vocabulary.from_texts(texts[:400])
    ids = torch.from_numpy(vocab.encode_batch(texts)[0])
    y = torch.from_numpy(labels)
    model = MeanEmbedding(len(vocab))
    return train_and_check(
        train_model, predict, model, ids, y, n_train=400, epochs=3, kind="ids",
        summary=lambda losses, acc: (f"3 epochs of a small bag-of-words model: loss "
                                     f"{losses[0]:.2f} -> {losses[-1]:.2f}; predict returns int64 "
                                     "labels."))
