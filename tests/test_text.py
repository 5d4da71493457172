"""Tests for dlbasics.text: tokenizer, vocabulary, padding and the sentiment corpus."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dlbasics.text import (
    SENTIMENT_KINDS,
    Vocabulary,
    make_sentiment_corpus,
    pad_sequences,
    sentiment_label,
    swap_clauses,
    tokenize,
)

# --------------------------------------------------------------------------
# tokenize
# --------------------------------------------------------------------------


def test_tokenize_lowercases_and_splits_punctuation():
    assert tokenize("The plot, honestly, was NOT good!") == [
        "the", "plot", ",", "honestly", ",", "was", "not", "good", "!",
    ]


def test_tokenize_keeps_apostrophe_suffixes_and_digits():
    assert tokenize("It isn't 2 hours' worth") == ["it", "isn't", "2", "hours", "'", "worth"]


def test_tokenize_empty_and_whitespace_give_no_tokens():
    assert tokenize("") == []
    assert tokenize("  \n\t ") == []


@pytest.mark.parametrize("bad", [None, 3, ["a", "b"], b"bytes"])
def test_tokenize_rejects_non_strings(bad):
    with pytest.raises(TypeError, match="text must be a str"):
        tokenize(bad)


# --------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------


def test_vocabulary_reserves_pad_and_unk():
    vocab = Vocabulary.from_texts(["good movie", "bad movie"])
    assert vocab.itos[:2] == ["<pad>", "<unk>"]
    assert vocab.stoi["<pad>"] == vocab.pad_index == 0
    assert vocab.stoi["<unk>"] == vocab.unk_index == 1
    # most frequent first, ties in order of first appearance
    assert vocab.itos[2:] == ["movie", "good", "bad"]
    assert len(vocab) == 5
    assert "movie" in vocab and "great" not in vocab


def test_vocabulary_min_freq_and_max_size():
    texts = ["a a a b b c", "a b d"]
    assert Vocabulary.from_texts(texts, min_freq=2).itos[2:] == ["a", "b"]
    assert Vocabulary.from_texts(texts, min_freq=5).itos[2:] == []
    assert Vocabulary.from_texts(texts, max_size=1).itos[2:] == ["a"]
    # rare words encode to <unk>
    assert Vocabulary.from_texts(texts, min_freq=2).encode("a c d") == [2, 1, 1]


def test_vocabulary_round_trip_on_corpus():
    texts, _ = make_sentiment_corpus(300, seed=3)
    vocab = Vocabulary.from_texts(texts)
    for text in texts:
        ids = vocab.encode(text)
        assert 1 not in ids  # every token is known
        assert vocab.decode(ids) == " ".join(tokenize(text))


def test_vocabulary_accepts_token_lists_and_skips_duplicates():
    vocab = Vocabulary(["x", "y", "x", "<pad>"])
    assert vocab.itos == ["<pad>", "<unk>", "x", "y"]
    assert vocab.encode(["y", "z"]) == [3, 1]
    assert vocab.decode([2, 0, 3], skip_padding=False) == "x <pad> y"


def test_vocabulary_errors_name_what_was_expected():
    vocab = Vocabulary(["x"])
    with pytest.raises(ValueError, match=r"ids holds 1 id\(s\) outside \[0, 2\] \(first: 5\); the vocab"):
        vocab.decode([5])
    with pytest.raises(TypeError, match="ids has dtype float64; expected integer token ids"):
        vocab.decode([1.5])
    with pytest.raises(TypeError, match="str or a sequence of str"):
        vocab.encode(42)
    with pytest.raises(ValueError, match="min_freq must be an integer >= 1, got 0"):
        Vocabulary.from_texts(["a"], min_freq=0)
    with pytest.raises(ValueError, match="max_size must be an integer >= 0, got -1"):
        Vocabulary.from_texts(["a"], max_size=-1)
    with pytest.raises(TypeError, match="single str"):
        Vocabulary.from_texts("not a list")
    with pytest.raises(TypeError, match="tokens must be strings"):
        Vocabulary(["a", 3])


def test_encode_batch_pads_with_zero_and_masks():
    vocab = Vocabulary.from_texts(["not good at all", "bad"])
    ids, lengths, mask = vocab.encode_batch(["not good at all", "bad", "good unknownword"])
    assert ids.dtype == np.int64 and lengths.dtype == np.int64 and mask.dtype == np.bool_
    assert ids.shape == mask.shape == (3, 4)
    np.testing.assert_array_equal(lengths, [4, 1, 2])
    np.testing.assert_array_equal(
        mask, [[True] * 4, [True, False, False, False], [True, True, False, False]]
    )
    assert (ids[~mask] == 0).all()
    assert (ids[mask] != 0).all()
    np.testing.assert_array_equal(ids[2, :2], [vocab.stoi["good"], vocab.unk_index])


def test_encode_batch_truncates_and_rejects_empty_texts():
    vocab = Vocabulary.from_texts(["a b c d"])
    ids, lengths, mask = vocab.encode_batch(["a b c d", "a"], max_len=2)
    assert ids.shape == (2, 2)
    np.testing.assert_array_equal(lengths, [2, 1])
    with pytest.raises(ValueError, match=r"texts\[1\] = '  ' has no tokens"):
        vocab.encode_batch(["a", "  "])


# --------------------------------------------------------------------------
# pad_sequences
# --------------------------------------------------------------------------


def test_pad_sequences_mask_matches_lengths():
    rng = np.random.default_rng(0)
    seqs = [rng.integers(1, 50, size=int(n)).tolist() for n in rng.integers(1, 12, size=20)]
    ids, lengths, mask = pad_sequences(seqs, pad_value=0)
    assert ids.shape == (20, max(len(s) for s in seqs))
    np.testing.assert_array_equal(lengths, [len(s) for s in seqs])
    np.testing.assert_array_equal(mask, np.arange(ids.shape[1]) < lengths[:, None])
    for row, seq in zip(ids, seqs, strict=True):
        np.testing.assert_array_equal(row[: len(seq)], seq)
        assert (row[len(seq):] == 0).all()


def test_pad_sequences_custom_pad_value():
    ids, _, mask = pad_sequences([[5], [6, 7]], pad_value=-1)
    np.testing.assert_array_equal(ids, [[5, -1], [6, 7]])
    np.testing.assert_array_equal(mask, [[True, False], [True, True]])


@pytest.mark.parametrize(
    ("sequences", "kwargs", "error", "match"),
    [
        ([], {}, ValueError, "sequences is empty"),
        ([[1], []], {}, ValueError, "sequence 1 is empty"),
        ([[1.5, 2.0]], {}, TypeError, "expected integer token ids"),
        ([[[1, 2]]], {}, ValueError, "flat list of ids"),
        ([[1]], {"max_len": 0}, ValueError, "max_len must be an integer >= 1, got 0"),
        ("abc", {}, TypeError, "list of integer sequences"),
    ],
)
def test_pad_sequences_rejects_bad_input(sequences, kwargs, error, match):
    with pytest.raises(error, match=match):
        pad_sequences(sequences, **kwargs)


# --------------------------------------------------------------------------
# the sentiment corpus
# --------------------------------------------------------------------------


def test_corpus_is_deterministic_by_seed():
    a_texts, a_labels = make_sentiment_corpus(200, seed=7)
    b_texts, b_labels = make_sentiment_corpus(200, seed=7)
    c_texts, _ = make_sentiment_corpus(200, seed=8)
    assert a_texts == b_texts
    np.testing.assert_array_equal(a_labels, b_labels)
    assert a_texts != c_texts


def test_corpus_is_balanced_and_typed():
    for n in (1, 2, 101, 1000):
        texts, labels = make_sentiment_corpus(n, seed=1)
        assert len(texts) == n and labels.shape == (n,) and labels.dtype == np.int64
        assert labels.sum() == n - n // 2
        assert set(labels.tolist()) <= {0, 1}


def test_corpus_labels_follow_the_word_order_rule():
    texts, labels, kinds = make_sentiment_corpus(2000, seed=2, return_kinds=True)
    assert [sentiment_label(t) for t in texts] == labels.tolist()
    counts = Counter(kinds)
    assert set(counts) == set(SENTIMENT_KINDS)
    assert all(c > 150 for c in counts.values())
    for text, kind in zip(texts, kinds, strict=True):
        tokens = tokenize(text)
        assert tokens[-1] == "."
        if kind == "but":
            assert "but" in tokens
        elif kind == "negated":
            assert {"not", "never", "hardly"} & set(tokens)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("the plot was good .", 1),
        ("the plot was not good .", 0),
        ("the plot was not bad .", 1),
        ("the plot was hardly very enjoyable .", 0),
        ("the plot was good but the acting was boring .", 0),
        ("the acting was boring but the plot was good .", 1),
        ("the acting was boring but the plot was not bad .", 1),
        ("although the plot was good , the acting was boring .", 0),
        ("the plot was good , although the acting was boring .", 1),
        ("honestly , although the plot was good , the acting was boring .", 0),
    ],
)
def test_sentiment_label_reads_negation_and_contrast(text, label):
    assert sentiment_label(text) == label


def test_sentiment_label_rejects_text_without_one_adjective():
    with pytest.raises(ValueError, match="exactly one sentiment adjective"):
        sentiment_label("the plot was there .")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n_samples": 0}, ValueError, "n_samples must be an integer >= 1, got 0"),
        ({"n_samples": 2.5}, TypeError, "n_samples must be an integer, got float 2.5"),
        ({"n_samples": 10, "p_negation": 1.5}, ValueError, r"p_negation must be in \[0, 1\], got 1.5"),
    ],
)
def test_corpus_rejects_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        make_sentiment_corpus(**kwargs)


@pytest.mark.parametrize(
    ("text", "swapped"),
    [
        ("the plot was good but the cast was dull .", "the cast was dull but the plot was good ."),
        ("honestly , although the plot was good , the cast was dull .",
         "honestly , although the cast was dull , the plot was good ."),
        ("the plot was good , although the cast was not dull .",
         "the cast was not dull , although the plot was good ."),
    ],
)
def test_swap_clauses_keeps_words_and_swaps_roles(text, swapped):
    assert swap_clauses(text) == swapped
    assert swap_clauses(swapped) == text
    assert Counter(tokenize(swapped)) == Counter(tokenize(text))


def test_swap_clauses_rejects_single_clause():
    with pytest.raises(ValueError, match="single clause"):
        swap_clauses("the plot was good .")


def test_bag_of_words_cannot_separate_a_large_share_of_the_corpus():
    """Any model that sees only word counts is capped well below 100 %.

    For a contrast review whose clauses disagree, swapping the clauses keeps
    every word count and flips the label. The generator draws the two clauses
    independently, so a review and its swap are equally likely: a
    bag-of-words classifier is right on at most half of these reviews.
    """
    texts, labels, kinds = make_sentiment_corpus(3000, seed=11, return_kinds=True)
    n_twins = 0
    for text, y, kind in zip(texts, labels.tolist(), kinds, strict=True):
        if kind in ("plain", "negated"):
            continue
        twin = swap_clauses(text)
        assert Counter(tokenize(twin)) == Counter(tokenize(text))
        n_twins += sentiment_label(twin) != y
    share = n_twins / len(texts)
    ceiling = 1 - share / 2
    # 70 % of reviews are contrasts, and about half of those have disagreeing clauses
    assert 0.3 < share < 0.4
    assert ceiling < 0.85


def test_linear_bag_of_words_model_stays_below_the_rule():
    """Logistic regression on word counts: decent, far from the order-aware rule's 100 %."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    train_texts, train_y = make_sentiment_corpus(2000, seed=0)
    test_texts, test_y = make_sentiment_corpus(1000, seed=1)
    vec = CountVectorizer(token_pattern=r"[^ ]+")
    clf = LogisticRegression(max_iter=1000).fit(vec.fit_transform(train_texts), train_y)
    bow_acc = clf.score(vec.transform(test_texts), test_y)
    rule_acc = np.mean([sentiment_label(t) for t in test_texts] == test_y)
    assert rule_acc == 1.0
    assert bow_acc < 0.8
