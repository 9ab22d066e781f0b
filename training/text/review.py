"""When a text model's answer goes to a person: too little confidence, or no evidence at all.

A CRM routes demands by our answer, so an answer we are unsure of must say so. Two rules,
both learned from the training split only:

- **confidence**: out-of-fold predictions show how precise the answers are at each
  confidence; below the lowest confidence at which the answers above it are still at least
  ``target_precision`` right, an answer needs review;
- **evidence**: a text none of whose terms the training split ties to a class (only digits, a
  greeting every class shares, another language) needs review however confident the model
  looks, since its answer then only echoes the class priors. The terms are
  ``features.evidence_terms`` (runs of Latin letters whole, character bigrams and trigrams of
  Chinese); rules learned before them read jieba words (``evidence_cut = "jieba"``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Protocol

import numpy as np
from pandas._libs.hashtable import Int64HashTable
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.preprocessing import LabelBinarizer

from training.text.features import evidence_view
from training.text.terms import MAX_CODED_CHARS, EvidenceTerms, ngram_code

DEFAULT_TARGET_PRECISION = 0.95
# A word is evidence when it multiplies the odds of some class at least this much.
EVIDENCE_ODDS_RATIO = 2.0


class CutTexts(Protocol):
    """Texts cut both ways a rule may read them (``terms.TextBatch``)."""

    def __len__(self) -> int: ...

    @property
    def words(self) -> list[list[str]]: ...

    @property
    def evidence(self) -> EvidenceTerms: ...


@dataclass(frozen=True)
class ReviewRule:
    """When one text model's answer needs a person."""

    min_confidence: float  # answers less confident than this need review (inf: all do)
    target_precision: float
    coverage: float  # share of the out-of-fold answers at or above ``min_confidence``
    precision: float  # how many of those were right (nan when none)
    evidence_words: frozenset[str]  # the evidence terms (jieba words for an older rule)
    evidence_cut: str = "terms"  # "terms": features.evidence_terms; "jieba": jieba words

    def confident(self, confidence: np.ndarray) -> np.ndarray:
        return confidence >= self.min_confidence

    def has_evidence(self, terms: Iterable[str]) -> bool:
        return not self.evidence_words.isdisjoint(terms)

    def needs_review(self, confident: np.ndarray, texts: CutTexts) -> np.ndarray:
        """Per text: not ``confident``, or none of its terms is evidence."""
        if not confident.any():
            return ~confident
        return ~confident | ~self.evidence_in(texts)

    def evidence_in(self, texts: CutTexts) -> np.ndarray:
        """Per text: whether any of its terms is evidence."""
        if self.evidence_cut == "jieba":
            return np.array([self.has_evidence(words) for words in texts.words], dtype=bool)
        found = texts.evidence
        evidence = np.zeros(len(texts), dtype=bool)
        if len(found.codes):
            evidence[found.rows[self._evidence_codes.lookup(found.codes) >= 0]] = True
        for row in np.flatnonzero(~evidence):
            evidence[row] = self.has_evidence(found.as_text[row])
        return evidence

    @cached_property
    def _evidence_codes(self) -> Int64HashTable:
        """The evidence terms from other letters (Chinese), by ``ngram_code``."""
        other = [word for word in self.evidence_words if not word.isascii()]
        codes = np.array([ngram_code(w) for w in other if len(w) <= MAX_CODED_CHARS], np.int64)
        table = Int64HashTable(len(codes))
        table.map_locations(codes)
        return table

    def __getstate__(self) -> dict:
        return {field.name: getattr(self, field.name) for field in fields(self)}  # no caches

    def __setstate__(self, state: dict) -> None:
        # Rules pickled before ``evidence_cut`` existed read jieba words.
        object.__setattr__(self, "__dict__", {"evidence_cut": "jieba", **state})


def learn_review_rule(
    texts: Sequence[str],
    labels: Sequence[str],
    out_of_fold: np.ndarray,
    classes: Sequence[str],
    *,
    target_precision: float = DEFAULT_TARGET_PRECISION,
) -> ReviewRule:
    """The rule for a model whose out-of-fold probabilities on ``texts`` are ``out_of_fold``
    (columns in the order of ``classes``)."""
    best = out_of_fold.argmax(axis=1)
    confidence = out_of_fold[np.arange(len(best)), best]
    correct = np.asarray(classes, dtype=object)[best] == np.asarray(labels, dtype=object)
    min_confidence, coverage, precision = confidence_floor(confidence, correct, target_precision)
    return ReviewRule(
        min_confidence=min_confidence,
        target_precision=target_precision,
        coverage=coverage,
        precision=precision,
        evidence_words=evidence_words(texts, labels),
    )


def confidence_floor(
    confidence: np.ndarray, correct: np.ndarray, target_precision: float
) -> tuple[float, float, float]:
    """The lowest confidence whose answers at or above it are at least ``target_precision``
    right, with the share of answers it keeps and their precision.

    ``(inf, 0, nan)`` when no confidence reaches the target.
    """
    order = np.argsort(-confidence, kind="stable")
    ranked, right = confidence[order], correct[order].astype(float)
    precision = np.cumsum(right) / np.arange(1, len(right) + 1)
    # Only the last of equally confident answers is a place a threshold can fall.
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    reached = ends[precision[ends] >= target_precision]
    if not len(reached):
        return math.inf, 0.0, math.nan
    last = reached[-1]
    return float(ranked[last]), (last + 1) / len(ranked), float(precision[last])


def evidence_words(texts: Sequence[str], labels: Sequence[str]) -> frozenset[str]:
    """The terms the training split ties to a class: with 95% confidence, a text holding the
    term has at least ``EVIDENCE_ODDS_RATIO`` times the odds of some class. A bare number is
    never evidence, whatever it is tied to."""
    presence = CountVectorizer(analyzer=evidence_view, binary=True, min_df=2)
    has_word = presence.fit_transform(texts).tocsc().astype(float)
    in_class = LabelBinarizer().fit_transform(labels).astype(float)
    if in_class.shape[1] == 1:  # two classes come as one column
        in_class = np.hstack([1.0 - in_class, in_class])
    # The 2x2 table of every word against every class, halves added (Haldane) so no cell is 0.
    both = np.asarray(has_word.T @ in_class) + 0.5
    word_only = np.asarray(has_word.sum(axis=0)).T + 1.0 - both
    class_only = in_class.sum(axis=0) + 1.0 - both
    neither = len(labels) + 2.0 - both - word_only - class_only
    log_odds_ratio = np.log(both * neither / (word_only * class_only))
    spread = 1.96 * np.sqrt(1 / both + 1 / word_only + 1 / class_only + 1 / neither)
    tied = (log_odds_ratio - spread).max(axis=1) >= math.log(EVIDENCE_ODDS_RATIO)
    words = presence.get_feature_names_out()
    return frozenset(
        str(word) for word in words[tied] if any(character.isalpha() for character in word)
    )
