"""A made-up language for character-level language models, written offline from a seed.

``make_toy_text(n_chars, seed)`` writes sentences of a small invented language:
its words are random syllables chosen by the seed, and its grammar has rules a
model must look back to follow. Within a word, the next letter depends on the
letters before it (spelling). Across words, a sentence has a subject, a verb
that **agrees** with it (a plural subject, whose noun ends in ``-s``, takes the
verb ending ``-en``: the model must look back past the adjectives to the noun),
and an object the verb prefers; sentences start with a capital letter and end
with a full stop; some have a second clause after a comma. A model that sees
only the previous character (a bigram model) cannot follow these rules; a
model with a context of a few dozen characters can.

Every seed invents a different lexicon with the same grammar, so a model that
learnt one seed's text has to learn another's from scratch: Exercise 4's
grader trains and tests on seeds of its own.

All characters come from :data:`TOY_ALPHABET`; :func:`encode_chars` and
:func:`decode_chars` map text to integer ids and back.
"""

from __future__ import annotations

import numpy as np

from dlbasics.validation import as_generator, check_int

__all__ = ["TOY_ALPHABET", "decode_chars", "encode_chars", "make_toy_text"]

_CONSONANTS = "bdfgklmnprstvz"
_VOCALS = "aeiou"
_CODAS = "nlr"
TOY_ALPHABET = "\n ,." + "".join(sorted(set(_CONSONANTS + _VOCALS).union(
    c.upper() for c in _CONSONANTS + _VOCALS)))
"""Every character :func:`make_toy_text` can write, in id order: newline, space, comma, full
stop, the capitals, then the lower-case letters."""

_INDEX = {c: i for i, c in enumerate(TOY_ALPHABET)}
_SIZES = {"noun": 24, "verb": 14, "adjective": 10, "determiner": 3, "conjunction": 3}
_SYLLABLES = {"noun": (2, 3), "verb": (2, 3), "adjective": (2, 3), "determiner": (1, 1),
              "conjunction": (1, 2)}


def _word(rng: np.random.Generator, syllables: int) -> str:
    parts = []
    for _ in range(syllables):
        part = _CONSONANTS[rng.integers(len(_CONSONANTS))] + _VOCALS[rng.integers(len(_VOCALS))]
        if rng.random() < 0.2:
            part += _CODAS[rng.integers(len(_CODAS))]
        parts.append(part)
    return "".join(parts)


def _lexicon(rng: np.random.Generator) -> dict[str, list[str]]:
    """Distinct made-up words for each word class (no noun or verb ends in ``s``)."""
    seen: set[str] = set()
    lexicon: dict[str, list[str]] = {}
    for kind, size in _SIZES.items():
        low, high = _SYLLABLES[kind]
        words: list[str] = []
        while len(words) < size:
            word = _word(rng, int(rng.integers(low, high + 1)))
            if word not in seen and not word.endswith("s"):
                seen.add(word)
                words.append(word)
        lexicon[kind] = words
    return lexicon


def _zipf(n: int) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1)
    return p / p.sum()


class _Grammar:
    """The lexicon of one seed, word frequencies, and each verb's preferred objects."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.words = _lexicon(rng)
        self.freq = {kind: _zipf(len(words)) for kind, words in self.words.items()}
        n_nouns = len(self.words["noun"])
        self.objects = [rng.choice(n_nouns, size=3, replace=False)
                        for _ in self.words["verb"]]

    def pick(self, kind: str) -> int:
        return int(self.rng.choice(len(self.words[kind]), p=self.freq[kind]))

    def noun_phrase(self, noun: int | None = None) -> tuple[str, bool]:
        rng = self.rng
        words = [self.words["determiner"][self.pick("determiner")]]
        if rng.random() < 0.4:
            words.append(self.words["adjective"][self.pick("adjective")])
        plural = bool(rng.random() < 0.4)
        noun = self.pick("noun") if noun is None else noun
        words.append(self.words["noun"][noun] + ("s" if plural else ""))
        return " ".join(words), plural

    def clause(self) -> str:
        subject, plural = self.noun_phrase()
        verb = self.pick("verb")
        text = f"{subject} {self.words['verb'][verb]}{'en' if plural else ''}"
        if self.rng.random() < 0.7:
            obj = int(self.rng.choice(self.objects[verb]))
            text += " " + self.noun_phrase(obj)[0]
        return text

    def sentence(self) -> str:
        text = self.clause()
        if self.rng.random() < 0.3:
            text += f", {self.words['conjunction'][self.pick('conjunction')]} {self.clause()}"
        return text[0].upper() + text[1:] + "."


def make_toy_text(n_chars: int, seed: int | np.random.Generator | None = 0) -> str:
    """Text of the made-up language, exactly ``n_chars`` characters long.

    Parameters
    ----------
    n_chars : int
        Length of the text (positive). The last sentence is cut where the
        text reaches this length.
    seed : int, np.random.Generator or None
        Chooses the lexicon and the sentences (``None`` means 0, as everywhere
        in the package); two seeds give two different languages with the same
        grammar.

    Returns
    -------
    str
        Sentences separated by spaces, four to eight to a line.

    Examples
    --------
    >>> text = make_toy_text(200, seed=0)
    >>> len(text), set(text) <= set(TOY_ALPHABET)
    (200, True)
    """
    n_chars = check_int(n_chars, "n_chars", minimum=1)
    grammar = _Grammar(as_generator(seed))
    lines: list[str] = []
    total = 0
    while total < n_chars:
        n = int(grammar.rng.integers(4, 9))
        line = " ".join(grammar.sentence() for _ in range(n)) + "\n"
        lines.append(line)
        total += len(line)
    return "".join(lines)[:n_chars]


def encode_chars(text: str) -> np.ndarray:
    """Ids of the characters of ``text`` (positions in :data:`TOY_ALPHABET`), int64 ``(len,)``.

    A character outside the alphabet raises ``ValueError`` naming it.
    """
    try:
        return np.fromiter((_INDEX[c] for c in text), dtype=np.int64, count=len(text))
    except KeyError as exc:
        raise ValueError(f"character {exc.args[0]!r} is not in TOY_ALPHABET "
                         f"({TOY_ALPHABET!r})") from None


def decode_chars(ids: np.ndarray | list[int]) -> str:
    """The text of integer ids (positions in :data:`TOY_ALPHABET`)."""
    ids = np.asarray(ids)
    if ids.ndim != 1 or (ids.size and (ids.min() < 0 or ids.max() >= len(TOY_ALPHABET))):
        raise ValueError(f"ids must be a 1-d array of integers in [0, {len(TOY_ALPHABET)}), "
                         f"got shape {ids.shape}")
    return "".join(TOY_ALPHABET[int(i)] for i in ids)
