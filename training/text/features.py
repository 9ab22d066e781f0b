"""Tokenizing Chinese customer texts, shared by training and serving.

The functions here are pickled by reference inside every text model, so they live at module
level (a bound ``jieba.lcut`` holds a lock and cannot be pickled) and ship with the model
through MLflow's ``code_paths``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import jieba
import opencc

jieba.setLogLevel(60)  # jieba prints its dictionary-loading chatter at INFO level

_SEPARATORS = re.compile(r"[\s\W_]+", re.UNICODE)
_LONG_NUMBERS = re.compile(r"\d{3,}")
# In a normalized (lower-case) text: a run of Latin letters and digits, or a run of other letters.
_RUNS = re.compile(r"[a-z0-9]+|[^\W\d_a-z]+")
_LATIN_RUNS = re.compile(r"[a-z0-9]+")
_NOT_OTHER_LETTERS = re.compile(r"[\W\d_a-z]+")


def normalize_text(text: str) -> str:
    """Fold full-width forms to half-width, Traditional characters to Simplified, and case;
    long numbers (amounts, phone numbers) become one token.

    Short digit runs stay as they are: "5g" and "4g" mean different things to a customer.
    The Traditional-to-Simplified step maps characters only (OpenCC's ``t2s``): its phrase
    tables for Taiwan usage also rewrite mainland words (呼叫转移 became 调用转移).
    """
    folded = _simplified().convert(_nfkc(text)).lower()
    return _LONG_NUMBERS.sub("000", folded)


def _nfkc(text: str) -> str:
    """``unicodedata.normalize("NFKC", text)``, five to ten times faster on Chinese texts.

    Full-width punctuation (，？！) makes Python normalize a text in full, character by
    character; mapped first to what NFKC makes of it, alone, the text usually passes
    Python's quick check and is returned as it is. The result is the same: NFKC decomposes
    ``c`` and ``NFKC(c)`` alike, so normalizing the mapped text gives NFKC of the original.
    """
    foldable, folded = _nfkc_of_punctuation()
    return unicodedata.normalize("NFKC", foldable.sub(lambda m: folded[m.group()], text))


# Where Chinese texts take their punctuation and symbols from: general punctuation, letter-like
# and enclosed forms, CJK symbols and compatibility, vertical, small and full-width forms.
_PUNCTUATION_BLOCKS = ((0x2000, 0x2BFF), (0x3000, 0x33FF), (0xFE10, 0xFE6F), (0xFF00, 0xFFEF))


@cache
def _nfkc_of_punctuation() -> tuple[re.Pattern, dict[str, str]]:
    """A pattern matching the characters of those blocks NFKC changes, and what it makes of
    each."""
    chars = (chr(point) for first, last in _PUNCTUATION_BLOCKS for point in range(first, last + 1))
    folded = {char: nfkc for char in chars if (nfkc := unicodedata.normalize("NFKC", char)) != char}
    return re.compile(f"[{re.escape(''.join(folded))}]"), folded


@cache
def _simplified() -> opencc.OpenCC:
    """One converter per process (it cannot be pickled, so models never hold it)."""
    return opencc.OpenCC("t2s")


def tokenize(text: str) -> list[str]:
    """Cut a normalized text into jieba words, dropping punctuation and whitespace.

    jieba's HMM guesser for unknown words is off: it doubles the cost of a cut, and the
    character n-grams beside the words already cover words the dictionary lacks.
    """
    if _remembered is None:
        return _cut(text)
    words = _remembered.get(text)
    if words is None:
        words = _remembered[text] = _cut(text)
    return words


def _cut(text: str) -> list[str]:
    return [word for word in jieba.lcut(text, HMM=False) if not _SEPARATORS.fullmatch(word)]


_remembered: dict[str, list[str]] | None = None


@contextmanager
def remembered_cuts() -> Iterator[None]:
    """Cut each distinct text once inside the block: training's cross-validation cuts the same
    texts dozens of times. Serving never remembers (its texts rarely repeat)."""
    global _remembered
    _remembered = {}
    try:
        yield
    finally:
        _remembered = None


def char_text(text: str) -> str:
    """The text with punctuation and whitespace squeezed out, for character n-grams."""
    return _SEPARATORS.sub("", text)


def evidence_terms(normalized: str) -> list[str]:
    """The terms the review rule's evidence check reads in a normalized text, without a
    dictionary: each run of Latin letters and digits whole ("5g", "app", "hello"), and each run
    of other letters (Chinese) as its character bigrams and trigrams, or whole when it is one
    character. About twenty times cheaper than jieba, so a model that reads character n-grams
    needs no jieba on the request path."""
    terms = []
    for run in _RUNS.findall(normalized):
        if run.isascii() or len(run) == 1:
            terms.append(run)
        else:
            terms.extend(
                run[start : start + n] for n in (2, 3) for start in range(len(run) - n + 1)
            )
    return terms


def latin_runs(normalized: str) -> list[str]:
    """The runs of Latin letters and digits of a normalized text: its evidence terms that are
    not from other letters."""
    return _LATIN_RUNS.findall(normalized)


def other_letter_runs(normalized: str) -> str:
    """The runs of other letters (Chinese) of a normalized text, a space between each two:
    the rest of its evidence terms are their bigrams and trigrams, or a run of one letter."""
    return _NOT_OTHER_LETTERS.sub(" ", normalized)


def evidence_view(text: str) -> list[str]:
    """``evidence_terms`` of a raw text (training reads texts as given)."""
    return evidence_terms(normalize_text(text))


def word_view(text: str) -> list[str]:
    """The word tokens a text model sees: jieba words of the normalized text."""
    return tokenize(normalize_text(text))


def char_view(text: str) -> str:
    """The character stream a text model's n-grams are taken from."""
    return char_text(normalize_text(text))
