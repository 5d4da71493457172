"""Text tools that need no network: a tokenizer, a vocabulary, padding, and a corpus.

The corpus is the point of this module. Real sentiment data sets need a
download, and on many of them a bag-of-words model is almost as good as a
recurrent one, so they cannot show *why* word order matters.
:func:`make_sentiment_corpus` writes short movie reviews whose label depends on
order:

* **negation** -- ``"the plot was not good"`` is negative and
  ``"the plot was not bad"`` positive;
* **contrast** -- in ``"X but Y"`` and ``"although X , Y"`` the clause ``Y``
  decides, in ``"X , although Y"`` the clause ``X`` decides;
* **intensifiers and openers** (``very``, ``honestly ,``) add words that carry
  no label.

The two clauses of a contrast sentence are drawn independently, so
``"the plot was good but the cast was dull"`` (negative) and
``"the cast was dull but the plot was good"`` (positive) are equally likely:
they hold the same bag of words with opposite labels, and no model that sees
only word counts can get both right. :func:`sentiment_label` is the rule that
labels the corpus and :func:`swap_clauses` builds such twins, which measures
that ceiling.

Encoded batches are NumPy arrays (``int64`` ids, ``bool`` masks), batch-first:
``ids`` is ``(n_sequences, max_len)``. ``torch.from_numpy`` turns them into
tensors without a copy.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

import numpy as np

from dlbasics.validation import check_indices, check_int, check_probability

__all__ = [
    "PAD_TOKEN",
    "UNK_TOKEN",
    "SENTIMENT_KINDS",
    "Vocabulary",
    "make_sentiment_corpus",
    "pad_sequences",
    "sentiment_label",
    "swap_clauses",
    "tokenize",
]

PAD_TOKEN = "<pad>"
UNK_TOKEN = "<unk>"


_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?|[^\sa-z0-9]")


def tokenize(text: str) -> list[str]:
    """Split ``text`` into lower-case word and punctuation tokens.

    Words are runs of letters and digits (an apostrophe suffix such as
    ``"n't"`` or ``"'s"`` stays attached); every other non-space character is a
    token of its own.

    Parameters
    ----------
    text : str
        The text to split.

    Returns
    -------
    list of str
        The tokens, in order. ``"The plot, honestly."`` gives
        ``["the", "plot", ",", "honestly", "."]``.

    Raises
    ------
    TypeError
        If ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__} {text!r:.60}")
    return _TOKEN_RE.findall(text.lower())


def _as_tokens(item: str | Sequence[str], name: str) -> list[str]:
    """A text (tokenized here) or an already tokenized sequence of strings."""
    if isinstance(item, str):
        return tokenize(item)
    if isinstance(item, Sequence) and all(isinstance(t, str) for t in item):
        return list(item)
    raise TypeError(
        f"{name} must be a str or a sequence of str tokens, got {type(item).__name__} {item!r:.60}"
    )


def pad_sequences(
    sequences: Sequence[Sequence[int]],
    pad_value: int = 0,
    max_len: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pad integer sequences at the end into one batch.

    Parameters
    ----------
    sequences : sequence of sequences of int
        ``n`` sequences of token ids; each must hold at least one id.
    pad_value : int, default 0
        The id written into padded positions.
    max_len : int, optional
        Truncate longer sequences to their first ``max_len`` ids. By default
        the batch is as long as its longest sequence.

    Returns
    -------
    ids : numpy.ndarray of int64, shape (n, L)
        Padded ids, ``L = max(lengths)``.
    lengths : numpy.ndarray of int64, shape (n,)
        The number of real (non-padding) positions of each row.
    mask : numpy.ndarray of bool, shape (n, L)
        ``True`` on real positions, ``False`` on padding:
        ``mask[i, t] == (t < lengths[i])``.

    Raises
    ------
    ValueError
        If there are no sequences, a sequence is empty, or ``max_len < 1``.
    TypeError
        If a sequence holds something other than integers.
    """
    if isinstance(sequences, (str, bytes)) or not isinstance(sequences, Sequence):
        raise TypeError(
            f"sequences must be a list of integer sequences, got {type(sequences).__name__}"
        )
    if len(sequences) == 0:
        raise ValueError("sequences is empty; expected at least one sequence to pad")
    if max_len is not None:
        max_len = check_int(max_len, "max_len", minimum=1)
    rows = []
    for i, seq in enumerate(sequences):
        arr = np.asarray(seq)
        if arr.ndim != 1:
            raise ValueError(
                f"sequence {i} must be a flat list of ids, but has shape {arr.shape}"
            )
        if arr.size == 0:
            raise ValueError(
                f"sequence {i} is empty; every sequence needs at least one token "
                "(attention over zero positions is undefined)"
            )
        if arr.dtype.kind not in "iu":
            raise TypeError(f"sequence {i} has dtype {arr.dtype}; expected integer token ids")
        rows.append(arr[:max_len] if max_len is not None else arr)
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    ids = np.full((len(rows), int(lengths.max())), pad_value, dtype=np.int64)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = row
    mask = np.arange(ids.shape[1])[None, :] < lengths[:, None]
    return ids, lengths, mask


class Vocabulary:
    """A two-way map between tokens and integer ids.

    Id 0 is always ``"<pad>"`` and id 1 always ``"<unk>"``; the tokens given
    follow from id 2 on, in order. Unknown tokens encode to 1.

    Parameters
    ----------
    tokens : iterable of str
        The vocabulary's tokens, most useful first. Duplicates and the two
        special tokens are skipped.

    Examples
    --------
    >>> vocab = Vocabulary.from_texts(["not good", "not bad"])
    >>> vocab.encode("not good at all")
    [2, 3, 1, 1]
    >>> vocab.decode([2, 3, 0, 0])
    'not good'
    """

    pad_index: int = 0
    unk_index: int = 1

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self.itos: list[str] = [PAD_TOKEN, UNK_TOKEN]
        self.stoi: dict[str, int] = {PAD_TOKEN: 0, UNK_TOKEN: 1}
        for token in tokens:
            if not isinstance(token, str):
                raise TypeError(f"tokens must be strings, got {type(token).__name__} {token!r}")
            if token not in self.stoi:
                self.stoi[token] = len(self.itos)
                self.itos.append(token)

    @classmethod
    def from_texts(
        cls,
        texts: Iterable[str | Sequence[str]],
        min_freq: int = 1,
        max_size: int | None = None,
    ) -> Vocabulary:
        """Build a vocabulary from the tokens of ``texts``.

        Parameters
        ----------
        texts : iterable of str or of token lists
            Training texts; strings are split with :func:`tokenize`.
        min_freq : int, default 1
            Keep only tokens seen at least this many times; rarer ones will
            encode to ``<unk>``.
        max_size : int, optional
            Keep at most this many tokens besides ``<pad>`` and ``<unk>``.

        Returns
        -------
        Vocabulary
            Tokens ordered by decreasing count, ties by first appearance.
        """
        min_freq = check_int(min_freq, "min_freq", minimum=1)
        if max_size is not None:
            max_size = check_int(max_size, "max_size", minimum=0)
        if isinstance(texts, str):
            raise TypeError("texts must be a list of texts, got a single str")
        counts: Counter[str] = Counter()
        for i, text in enumerate(texts):
            counts.update(_as_tokens(text, f"texts[{i}]"))
        # Counter.most_common keeps first-seen order among equal counts.
        kept = [tok for tok, c in counts.most_common() if c >= min_freq]
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept)

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, token: object) -> bool:
        return token in self.stoi

    def __repr__(self) -> str:
        preview = ", ".join(self.itos[2:8])
        more = ", ..." if len(self.itos) > 8 else ""
        return f"Vocabulary({len(self)} tokens: <pad>, <unk>, {preview}{more})"

    def encode(self, text: str | Sequence[str]) -> list[int]:
        """Ids of the tokens of ``text`` (a string or a token list); unknown tokens give 1."""
        unk = self.unk_index
        return [self.stoi.get(tok, unk) for tok in _as_tokens(text, "text")]

    def decode(self, ids: Iterable[int], skip_padding: bool = True) -> str:
        """The tokens of ``ids`` joined by spaces.

        Padding ids are dropped unless ``skip_padding`` is False. For a text
        whose tokens are all in the vocabulary,
        ``decode(encode(text)) == " ".join(tokenize(text))``.
        """
        ids = list(ids)
        arr = np.asarray(ids).ravel() if ids else np.zeros(0, np.int64)
        arr = check_indices(arr, len(self.itos), "ids", f"the vocabulary has {len(self)} tokens")
        return " ".join(self.itos[i] for i in arr if not (skip_padding and i == self.pad_index))

    def encode_batch(
        self, texts: Sequence[str | Sequence[str]], max_len: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Encode and pad ``texts`` into one batch.

        Parameters
        ----------
        texts : sequence of str or of token lists
            ``n`` texts, each with at least one token.
        max_len : int, optional
            Truncate longer texts to their first ``max_len`` tokens.

        Returns
        -------
        ids : numpy.ndarray of int64, shape (n, L)
        lengths : numpy.ndarray of int64, shape (n,)
        mask : numpy.ndarray of bool, shape (n, L)
            As :func:`pad_sequences`, padded with ``pad_index`` (0).
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a list of texts, got a single str")
        encoded = []
        for i, text in enumerate(texts):
            ids = self.encode(_as_tokens(text, f"texts[{i}]"))
            if not ids:
                raise ValueError(f"texts[{i}] = {text!r} has no tokens; every text needs at least one")
            encoded.append(ids)
        return pad_sequences(encoded, pad_value=self.pad_index, max_len=max_len)


# --------------------------------------------------------------------------
# The synthetic sentiment corpus
# --------------------------------------------------------------------------

_SUBJECTS = (
    "movie", "film", "plot", "story", "acting", "cast", "script", "ending",
    "soundtrack", "dialogue", "pacing", "direction", "humor", "camerawork",
)
_POSITIVE = (
    "good", "great", "excellent", "wonderful", "brilliant", "enjoyable",
    "charming", "moving", "superb", "clever", "beautiful", "fun",
)
_NEGATIVE = (
    "bad", "terrible", "awful", "boring", "dull", "weak",
    "poor", "bland", "tedious", "clumsy", "messy", "forgettable",
)
_INTENSIFIERS = ("very", "really", "extremely", "quite", "truly", "so")
_NEGATORS = ("not", "never", "hardly")
_VERBS = ("was", "is")
_OPENERS = ("honestly ,", "overall ,", "i think", "in my opinion ,", "frankly ,")

#: The sentence patterns of :func:`make_sentiment_corpus` and the clause that decides each.
SENTIMENT_KINDS: dict[str, str] = {
    "plain": "one clause, no negation: its adjective decides",
    "negated": "one clause with not / never / hardly: the adjective's polarity flips",
    "but": "X but Y: the clause after 'but' decides",
    "although_first": "although X , Y: the main clause Y (after the comma) decides",
    "although_last": "X , although Y: the main clause X (before 'although') decides",
}
_KIND_PROBS = {"plain": 0.15, "negated": 0.15, "but": 0.3, "although_first": 0.2,
               "although_last": 0.2}
# The two-clause patterns: {0} is the first clause, {1} the second.
_CONTRAST = {
    "but": "{0} but {1}",
    "although_first": "although {0} , {1}",
    "although_last": "{0} , although {1}",
}


def _clause(polarity: int, rng: np.random.Generator, p_negation: float, p_intensifier: float) -> str:
    """One clause ``"the SUBJ VERB [NEG] [INT] ADJ"`` whose meaning is ``polarity``."""
    negated = rng.random() < p_negation
    adj_polarity = polarity ^ int(negated)
    words = ["the", _SUBJECTS[rng.integers(len(_SUBJECTS))], _VERBS[rng.integers(len(_VERBS))]]
    if negated:
        words.append(_NEGATORS[rng.integers(len(_NEGATORS))])
    if rng.random() < p_intensifier:
        words.append(_INTENSIFIERS[rng.integers(len(_INTENSIFIERS))])
    adjectives = _POSITIVE if adj_polarity == 1 else _NEGATIVE
    words.append(adjectives[rng.integers(len(adjectives))])
    return " ".join(words)


def make_sentiment_corpus(
    n_samples: int,
    seed: int = 0,
    *,
    p_negation: float = 0.4,
    p_intensifier: float = 0.4,
    p_opener: float = 0.2,
    return_kinds: bool = False,
) -> tuple[list[str], np.ndarray] | tuple[list[str], np.ndarray, list[str]]:
    """Generate short movie reviews whose sentiment depends on word order.

    Every review is one of the patterns in :data:`SENTIMENT_KINDS` (15 %
    ``plain``, 15 % ``negated``, 30 % ``but``, 20 % each ``although``
    order). Each clause reads ``"the SUBJECT is|was [not|never|hardly]
    [INTENSIFIER] ADJECTIVE"``; the clause that does not decide the label has
    a random polarity, independent of it, so a contrast sentence and the same
    sentence with its clauses swapped are equally likely.

    Parameters
    ----------
    n_samples : int
        Number of reviews; labels are balanced (``n_samples // 2`` negatives).
    seed : int, default 0
        Seed of the ``numpy.random.Generator``; the same seed gives the same corpus.
    p_negation : float, default 0.4
        Probability that a clause is negated.
    p_intensifier : float, default 0.4
        Probability that a clause has an intensifier (``very``, ``really``...).
    p_opener : float, default 0.2
        Probability that a review starts with an opener (``honestly ,``...).
    return_kinds : bool, default False
        Also return each review's pattern name.

    Returns
    -------
    texts : list of str, length n_samples
        Lower-case reviews, tokens separated by single spaces, ending in ``" ."``.
    labels : numpy.ndarray of int64, shape (n_samples,)
        1 for positive, 0 for negative; equal to ``sentiment_label(text)``.
    kinds : list of str, length n_samples
        Only with ``return_kinds=True``: the key of :data:`SENTIMENT_KINDS`.
    """
    n_samples = check_int(n_samples, "n_samples", minimum=1)
    for name, p in (("p_negation", p_negation), ("p_intensifier", p_intensifier),
                    ("p_opener", p_opener)):
        check_probability(p, name, allow_one=True)
    rng = np.random.default_rng(seed)
    n = int(n_samples)
    labels = np.zeros(n, dtype=np.int64)
    labels[: n - n // 2] = 1
    rng.shuffle(labels)
    kind_names = list(_KIND_PROBS)
    kind_idx = rng.choice(len(kind_names), size=n, p=list(_KIND_PROBS.values()))

    texts: list[str] = []
    kinds: list[str] = []
    for y, k in zip(labels.tolist(), kind_idx.tolist(), strict=True):
        kind = kind_names[k]
        if kind == "plain":
            body = _clause(y, rng, 0.0, p_intensifier)
        elif kind == "negated":
            body = _clause(y, rng, 1.0, p_intensifier)
        else:
            other = int(rng.integers(2))
            deciding = _clause(y, rng, p_negation, p_intensifier)
            aside = _clause(other, rng, p_negation, p_intensifier)
            first, second = (deciding, aside) if kind == "although_last" else (aside, deciding)
            body = _CONTRAST[kind].format(first, second)
        if rng.random() < p_opener:
            body = f"{_OPENERS[rng.integers(len(_OPENERS))]} {body}"
        texts.append(body + " .")
        kinds.append(kind)
    if return_kinds:
        return texts, labels, kinds
    return texts, labels


def _clause_polarity(tokens: list[str]) -> int:
    """Polarity (1 positive, 0 negative) of a clause: its adjective, flipped by a negator."""
    adjectives = [t for t in tokens if t in _POSITIVE or t in _NEGATIVE]
    if len(adjectives) != 1:
        raise ValueError(
            f"clause {' '.join(tokens)!r} must hold exactly one sentiment adjective, "
            f"found {adjectives}"
        )
    polarity = int(adjectives[0] in _POSITIVE)
    negations = sum(t in _NEGATORS for t in tokens)
    return polarity ^ (negations % 2)


def _split_opener(tokens: list[str]) -> tuple[list[str], list[str]]:
    """``(opener tokens, the rest)``; the opener is empty when there is none."""
    for opener in _OPENERS:
        words = opener.split()
        if tokens[: len(words)] == words:
            return tokens[: len(words)], tokens[len(words) :]
    return [], tokens


def _clauses(tokens: list[str]) -> tuple[str, list[str], list[str]]:
    """``(pattern, X, Y)`` of a review without opener and final period.

    ``pattern`` is ``"plain"`` (``Y`` is empty), ``"but"`` (X but Y),
    ``"although_first"`` (although X , Y) or ``"although_last"`` (X , although Y).
    """
    if "but" in tokens:
        at = tokens.index("but")
        return "but", tokens[:at], tokens[at + 1 :]
    if "although" in tokens:
        at = tokens.index("although")
        if at > 0 and tokens[at - 1] == ",":
            return "although_last", tokens[: at - 1], tokens[at + 1 :]
        rest = tokens[at + 1 :]
        if at != 0 or "," not in rest:
            raise ValueError(
                f"{' '.join(tokens)!r}: expected 'although X , Y' or 'X , although Y'"
            )
        return "although_first", rest[: rest.index(",")], rest[rest.index(",") + 1 :]
    return "plain", tokens, []


def _parse(text: str | Sequence[str]) -> tuple[list[str], str, list[str], list[str]]:
    tokens = _as_tokens(text, "text")
    if tokens and tokens[-1] == ".":
        tokens = tokens[:-1]
    opener, body = _split_opener(tokens)
    return (opener, *_clauses(body))


def swap_clauses(text: str | Sequence[str]) -> str:
    """The same words with the two clauses of a contrast review swapped.

    ``"X but Y ."`` becomes ``"Y but X ."``, ``"although X , Y ."`` becomes
    ``"although Y , X ."`` and ``"X , although Y ."`` becomes
    ``"Y , although X ."``; a leading opener stays in front. Every word count
    is unchanged, so a bag-of-words model cannot tell a review from its swap,
    although their labels differ whenever the two clauses disagree.

    Raises
    ------
    ValueError
        If ``text`` has a single clause.
    """
    opener, pattern, x, y = _parse(text)
    if pattern == "plain":
        raise ValueError(f"{' '.join(x)!r} has a single clause; nothing to swap")
    body = _CONTRAST[pattern].format(" ".join(y), " ".join(x))
    return " ".join([*opener, body, "."])


def sentiment_label(text: str | Sequence[str]) -> int:
    """The label :func:`make_sentiment_corpus` gives ``text``, computed from word order.

    The rule: drop a leading opener (``honestly ,``); find the deciding clause
    (after ``but``; after the comma of a leading ``although``; before a
    trailing ``, although``); take its adjective's polarity and flip it for
    each negator in that clause.

    Parameters
    ----------
    text : str or list of str
        A review in the corpus's language.

    Returns
    -------
    int
        1 (positive) or 0 (negative).

    Raises
    ------
    ValueError
        If the deciding clause does not hold exactly one sentiment adjective.
    """
    _, pattern, x, y = _parse(text)
    clause = {"plain": x, "but": y, "although_first": y, "although_last": x}[pattern]
    return _clause_polarity(clause)
