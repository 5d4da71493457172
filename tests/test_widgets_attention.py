"""The attention explorer and its static heat map (sequence-models chapter)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")

from torch import nn  # noqa: E402

import dlbasics  # noqa: E402
from dlbasics.widgets import attention_explorer, attention_weights, plot_attention  # noqa: E402
from dlbasics.widgets.attention import DEFAULT_FILLERS, DEFAULT_FRAMES  # noqa: E402


class TinyAttentionModel(nn.Module):
    """Embedding -> masked dot-product attention over the embeddings -> linear."""

    def __init__(self, vocab_size: int) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, 4, padding_idx=0)
        self.query = nn.Parameter(torch.randn(4))
        self.out = nn.Linear(4, 2)

    def forward(self, ids):
        e = self.embedding(ids)
        scores = (e @ self.query).masked_fill(ids == 0, float("-inf"))
        weights = torch.softmax(scores, dim=1)
        return self.out((weights.unsqueeze(2) * e).sum(dim=1)), weights


@pytest.fixture(scope="module")
def vocab():
    texts, _ = dlbasics.make_sentiment_corpus(400, seed=0)
    return dlbasics.Vocabulary.from_texts(texts)


@pytest.fixture(scope="module")
def model(vocab):
    torch.manual_seed(0)
    return TinyAttentionModel(len(vocab))


def test_weights_are_the_models_own_and_drop_the_padding(model, vocab):
    texts = ["the plot was good .", "although the cast was dull , the ending was great ."]
    prob, weights, tokens = attention_weights(model, vocab, texts)
    ids = torch.from_numpy(vocab.encode_batch(texts)[0])
    logits, full = model(ids)
    assert [len(w) for w in weights] == [len(t) for t in tokens] == [5, 11]
    np.testing.assert_allclose(weights[0], full[0, :5].detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(prob, torch.softmax(logits, 1)[:, 1].detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose([w.sum() for w in weights], 1.0, rtol=1e-6)


def test_model_mode_is_restored(model, vocab):
    model.train()
    attention_weights(model, vocab, ["the plot was good ."])
    assert model.training
    model.eval()


def test_heat_map_has_one_row_per_review(model, vocab):
    fig = plot_attention(model, vocab, ["the plot was not bad .", "the film was dull ."])
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 2 and "rule: positive" in labels[0] and "rule: negative" in labels[1]
    assert sum(t.get_text() == "not" for t in ax.texts) == 1


def test_bad_arguments_are_rejected(model, vocab):
    with pytest.raises(ValueError, match="exactly one"):
        attention_explorer(model, vocab, frames=["the plot was good ."])
    with pytest.raises(ValueError, match="vocabulary does not know.*zebra"):
        attention_explorer(model, vocab, fillers=["zebra"])
    with pytest.raises(TypeError, match="non-empty list"):
        attention_weights(model, vocab, "the plot was good .")

    class NoWeights(nn.Module):
        def forward(self, ids):
            return torch.zeros(len(ids), 2)

    with pytest.raises(TypeError, match=r"must return \(logits, weights\)"):
        attention_weights(NoWeights(), vocab, ["the plot was good ."])


def test_explorer_draws_every_frame_and_filler(model, vocab):
    from dlbasics.widgets.display import static_view

    box = attention_explorer(model, vocab, frames=DEFAULT_FRAMES[:2], fillers=DEFAULT_FILLERS[:3])
    views = {static_view(box, frame=i, filler=j)[0].value for i in range(2) for j in range(3)}
    assert len(views) == 6


def test_explorer_bar_chart_has_one_bar_per_token(model, vocab):
    from dlbasics.widgets.attention import _draw_weights

    text = "the acting was good but the plot was bad ."
    _, weights, tokens = attention_weights(model, vocab, [text])
    ax = _draw_weights(model, vocab, text).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == tokens[0]
    assert len(ax.patches) == len(tokens[0])
    np.testing.assert_allclose([b.get_height() for b in ax.patches], weights[0])
