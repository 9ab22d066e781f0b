"""A batch of texts cut into terms once, however many models read them.

A text model's TF-IDF blocks read term counts: how often each term occurs in each text.
``TextBatch`` computes them once per way of cutting (a block's ``analysis``) for the whole
batch, as one sparse table (``TermCounts``) that every model reading the same cut shares; each
model then only picks the terms of its own vocabulary.

Character n-grams, what both built-in text models read, are counted without a Python object
per n-gram: every n-gram of up to three characters is one integer (its code points, 21 bits
each), so cutting a batch and looking its n-grams up in a vocabulary are a few numpy calls.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

# pandas' own hash tables (what pd.factorize and Index.get_indexer run on), without their
# wrappers' 10-15 µs a call: most batches the service scores are one text.
from pandas._libs.hashtable import Int64HashTable

from training.text.features import (
    char_text,
    evidence_terms,
    latin_runs,
    normalize_text,
    other_letter_runs,
    tokenize,
)

_CODE_BITS = 21  # every Unicode code point fits in 21 bits
MAX_CODED_CHARS = 3  # three of them in one int64
_BREAK = (1 << _CODE_BITS) - 1  # no code point: where a text ends, in a stream of them
_GAP = _BREAK - 1  # no code point either: where a run of letters ends, inside a text
_SPACE = ord(" ")
# Below this many texts, a batch's evidence terms are cut in Python text by text: the numpy
# calls that cut a larger batch at once cost more than the loop.
_FEW_TEXTS = 8
# A letter (no separator pattern removes it) that normalization leaves as it is and nobody
# writes: a batch joined by it is normalized, and cut into characters, in one call.
_JOINT = "\ua66e"  # CYRILLIC LETTER MULTIOCULAR O
_JOINT_POINT = ord(_JOINT)


@dataclass(frozen=True)
class TermCounts:
    """How often each term occurs in each of ``texts`` texts: one entry per distinct (text,
    term), in the order of the texts. Terms are ``ngram_code`` integers or strings, as the cut
    gives them."""

    texts: int
    rows: np.ndarray
    terms: np.ndarray
    counts: np.ndarray

    @cached_property
    def tf(self) -> np.ndarray:
        """scikit-learn's sublinear term frequency: 1 + ln(count)."""
        return 1.0 + np.log(self.counts)

    @cached_property
    def row_starts(self) -> np.ndarray:
        """Where each text's entries start, and where the last ends (a CSR matrix's indptr)."""
        return np.searchsorted(self.rows, np.arange(self.texts + 1))

    @classmethod
    def of_occurrences(cls, texts: int, rows: np.ndarray, terms: np.ndarray) -> TermCounts:
        """From one entry per occurrence of an integer term: counted in two hash passes
        (distinct terms, then distinct (text, term) pairs), then put in text order."""
        distinct, term = Int64HashTable(len(terms)).factorize(terms)
        width = max(len(distinct), 1)
        pairs, pair = Int64HashTable(len(terms)).factorize(rows * width + term)
        rows, terms, counts = pairs // width, distinct[pairs % width], np.bincount(pair)
        if texts > 1:
            order = np.argsort(rows, kind="stable")
            rows, terms, counts = rows[order], terms[order], counts[order]
        return cls(texts, rows, terms, counts)

    @classmethod
    def of_lists(cls, terms_per_text: Sequence[Sequence[str]]) -> TermCounts:
        rows, terms, counts = [], [], []
        for row, text_terms in enumerate(terms_per_text):
            for term, count in Counter(text_terms).items():
                rows.append(row)
                terms.append(term)
                counts.append(count)
        found = np.empty(len(terms), dtype=object)
        found[:] = terms
        rows, counts = np.asarray(rows, dtype=np.int64), np.asarray(counts, dtype=np.int64)
        return cls(len(terms_per_text), rows, found, counts)


class TextBatch:
    """Texts with their normalization, jieba words, evidence terms and term counts, each
    computed once, when first asked for, for the whole batch."""

    def __init__(self, texts: Sequence[str]):
        self.texts = list(texts)
        # Whether the batch can be normalized and cut as one string (the texts joined by
        # _JOINT); a batch in which some text holds _JOINT is taken text by text.
        self._joinable = "".join(self.texts).count(_JOINT) == 0
        self._counts: dict[str, TermCounts] = {}

    def __len__(self) -> int:
        return len(self.texts)

    @cached_property
    def normalized(self) -> list[str]:
        """The texts as every feature view reads them (``normalize_text``), normalized in one
        call for the whole batch when it can be."""
        if self._joinable:
            return normalize_text(_JOINT.join(self.texts)).split(_JOINT)
        return [normalize_text(text) for text in self.texts]

    @cached_property
    def words(self) -> list[list[str]]:
        """The jieba words of each normalized text (what word n-grams read)."""
        return [tokenize(text) for text in self.normalized]

    @cached_property
    def evidence(self) -> EvidenceTerms:
        """The terms a review rule's evidence check reads (``features.evidence_terms``)."""
        if len(self) < _FEW_TEXTS:
            nothing = np.zeros(0, dtype=np.int64)
            return EvidenceTerms(nothing, nothing, [evidence_terms(t) for t in self.normalized])
        points = self._points(other_letter_runs)
        points[points == _SPACE] = _GAP
        rows, codes = _ngram_codes(points, 2, 3)
        letter = points < _GAP
        alone = letter.copy()  # a letter between two non-letters: a run of one
        alone[1:] &= ~letter[:-1]
        alone[:-1] &= ~letter[1:]
        return EvidenceTerms(
            np.concatenate([rows, np.cumsum(points == _BREAK)[alone]]),
            np.concatenate([codes, points[alone]]),
            [latin_runs(text) for text in self.normalized],
        )

    def term_counts(self, analysis: str, count: Callable[[TextBatch], TermCounts]) -> TermCounts:
        """The batch's term counts under ``analysis``, computed by ``count`` the first time."""
        found = self._counts.get(analysis)
        if found is None:
            found = self._counts[analysis] = count(self)
        return found

    def char_points(self) -> np.ndarray:
        """The code points of every text's ``char_text``, one text after another, each
        followed by ``_BREAK``."""
        return self._points(char_text)

    def _points(self, view: Callable[[str], str]) -> np.ndarray:
        """The code points of ``view`` of every normalized text, each followed by ``_BREAK``;
        ``view`` must read a text character by character (what it makes of two texts joined
        by _JOINT is what it makes of each, joined)."""
        if self._joinable:
            points = _code_points(view(_JOINT.join(self.normalized)) + _JOINT)
            points[points == _JOINT_POINT] = _BREAK
            return points
        pieces = [view(text) + _JOINT for text in self.normalized]
        points = _code_points("".join(pieces))
        points[np.cumsum([len(piece) for piece in pieces]) - 1] = _BREAK
        return points


@dataclass(frozen=True)
class EvidenceTerms:
    """A batch's evidence terms: some as codes, with their texts (in a large batch, those from
    runs of other letters, Chinese); the others as they are, per text."""

    rows: np.ndarray
    codes: np.ndarray
    as_text: list[list[str]]


def char_ngram_counts(batch: TextBatch, low: int, high: int) -> TermCounts:
    """The ``low``- to ``high``-character n-grams of each text's ``char_text``, as codes, the
    way scikit-learn's "char" analyzer takes them from a text without whitespace."""
    if high > MAX_CODED_CHARS:
        raise ValueError(f"n-grams of more than {MAX_CODED_CHARS} characters have no code")
    return TermCounts.of_occurrences(len(batch), *_ngram_codes(batch.char_points(), low, high))


def _ngram_codes(points: np.ndarray, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """The text and code of every ``low``- to ``high``-character n-gram in a stream of code
    points (the n-grams of each length in stream order); no n-gram spans a ``_GAP`` or a
    ``_BREAK`` (where a text ends)."""
    size = len(points)
    padded = np.concatenate([points, np.full(high, _BREAK)])
    letter = padded < _GAP
    texts_before = np.cumsum(points == _BREAK)
    code, whole = np.zeros(size, dtype=np.int64), np.ones(size, dtype=bool)
    rows, codes = [], []
    for n in range(1, high + 1):
        code = (code << _CODE_BITS) | padded[n - 1 : n - 1 + size]
        whole = whole & letter[n - 1 : n - 1 + size]  # no gap or break among the n
        if n >= low:
            rows.append(texts_before[whole])
            codes.append(code[whole])
    return np.concatenate(rows), np.concatenate(codes)


def ngram_code(term: str) -> int:
    """The code of a term of at most ``MAX_CODED_CHARS`` characters: its code points side by
    side. Shorter terms have smaller codes (no term holds NUL), so no two terms share one."""
    code = 0
    for char in term:
        code = (code << _CODE_BITS) | ord(char)
    return code


def _code_points(text: str) -> np.ndarray:
    # surrogatepass: half a surrogate pair is a character like any other here
    encoded = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(encoded, dtype=np.uint32).astype(np.int64)


def word_ngrams(words: list[str], low: int, high: int) -> list[str]:
    """The ``low``- to ``high``-grams of ``words``, joined by spaces as scikit-learn does."""
    return [
        " ".join(words[start : start + n])
        for n in range(low, high + 1)
        for start in range(len(words) - n + 1)
    ]
