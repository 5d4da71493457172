"""Tests for dlbasics.toy_language: the made-up language of Exercise 4."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlbasics.toy_language import TOY_ALPHABET, decode_chars, encode_chars, make_toy_text


def test_text_has_the_length_asked_and_only_alphabet_characters():
    text = make_toy_text(5000, seed=3)
    assert len(text) == 5000
    assert set(text) <= set(TOY_ALPHABET)


def test_same_seed_same_text_and_a_longer_text_extends_a_shorter_one():
    assert make_toy_text(3000, seed=1) == make_toy_text(3000, seed=1)
    assert make_toy_text(9000, seed=1).startswith(make_toy_text(3000, seed=1))
    assert make_toy_text(3000, seed=None) == make_toy_text(3000, seed=0)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def test_two_seeds_invent_two_vocabularies():
    a, b = _words(make_toy_text(20_000, seed=0)), _words(make_toy_text(20_000, seed=1))
    assert len(a & b) < 0.2 * min(len(a), len(b))


def test_sentences_start_with_a_capital_and_end_with_a_full_stop():
    text = make_toy_text(20_000, seed=2)
    sentences = [s.strip() for s in re.split(r"(?<=\.)\s", text)[:-1] if s.strip()]
    assert len(sentences) > 100
    assert all(s[0].isupper() and s.endswith(".") for s in sentences)


def test_a_plural_subject_takes_the_verb_ending_en():
    """The grammar's long-range rule. Only plural nouns end in -s; a clause starts with a
    determiner (after a comma: a conjunction, then a determiner), an optional adjective and
    its subject noun, then the verb."""
    text = make_toy_text(50_000, seed=4)
    plural = 0
    for clause in re.split(r"[.,]", text.replace("\n", " ")):
        words = clause.split()
        subject = next((i for i in (1, 2) if i + 1 < len(words) and words[i].endswith("s")), None)
        if subject is not None:
            plural += 1
            assert words[subject + 1].endswith("en"), clause
    assert plural > 200


def test_a_bigram_model_cannot_follow_the_language_as_a_longer_context_can():
    ids = encode_chars(make_toy_text(60_000, seed=5))
    train, test = ids[:50_000], ids[50_000:]
    V = len(TOY_ALPHABET)

    def perplexity(context: int) -> float:
        counts: dict[tuple, int] = {}
        totals: dict[tuple, int] = {}
        for i in range(context, len(train)):
            key = tuple(train[i - context:i])
            counts[key + (train[i],)] = counts.get(key + (train[i],), 0) + 1
            totals[key] = totals.get(key, 0) + 1
        nll = [-np.log((counts.get(tuple(test[i - context:i + 1]), 0) + 0.1)
                       / (totals.get(tuple(test[i - context:i]), 0) + 0.1 * V))
               for i in range(context, len(test))]
        return float(np.exp(np.mean(nll)))

    assert perplexity(1) > 5.0 > 2.5 > perplexity(3)


def test_encode_and_decode_are_inverse():
    text = make_toy_text(500, seed=0)
    ids = encode_chars(text)
    assert ids.dtype == np.int64 and ids.shape == (500,)
    assert decode_chars(ids) == text
    assert decode_chars(list(ids[:10])) == text[:10]


@pytest.mark.parametrize("bad, error, match", [(0, ValueError, "n_chars must be an integer >= 1"),
                                               (-5, ValueError, "n_chars must be an integer >= 1"),
                                               (2.5, TypeError, "n_chars must be an integer, got float"),
                                               (True, TypeError, "n_chars must be an integer, got bool")])
def test_bad_length_is_refused(bad, error, match):
    with pytest.raises(error, match=match):
        make_toy_text(bad)


def test_characters_outside_the_alphabet_are_named():
    with pytest.raises(ValueError, match="'x' is not in TOY_ALPHABET"):
        encode_chars("Te box")
    with pytest.raises(ValueError, match="integers in"):
        decode_chars(np.array([0, len(TOY_ALPHABET)]))
