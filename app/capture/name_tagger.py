"""Whether a few characters are a person's name, asked of jieba's dictionary and its
part-of-speech tags.

Masking finds a candidate by its shape (a surname and a character or two, right beside a phone
or ID number) and asks here. jieba's dictionary knows the words that start with a surname but
are no name (高速, 周末, 石头, 江苏, 马上); a run it does not know (张伟, cut as 张 / 伟) is
taken for the name the shape says it is. Its ``nr`` (person name) tag is trusted only on rare
words: it also tags everyday words so (谢谢, 顾客, 顾问, 高峰), which its corpus sees often, and
the names in it (王海燕, 李强) it sees seldom.

The tagger runs without its HMM, on a window of a few characters: 20-50 µs. With the HMM
(which guesses unknown names) it took 0.4-2 ms per window here, and it is needed only for
names away from any datum, which no candidate finds anyway.
"""

from __future__ import annotations

import functools
from types import ModuleType

# Words that end a name when they follow it (张伟说, 张伟打来): verbs and particles, not the
# characters of given names, whatever jieba tags those (刚 is an adverb, 超 a verb).
_AFTER_NAME = set("说打是在给和跟与让叫找问要想来去把被对向从也都就还又已的")
_CONTEXT = 2  # characters of context on each side, so a word running into the name shows
# Above this count in jieba's corpus an ``nr`` word is an everyday word (祝贺 560, 谢谢 1,089);
# below it, a name (李娜 438, 李强 159). The few famous names above it (高明 791) are missed.
_COMMON = 500


def name_length(text: str, start: int, end: int, *, surname: int = 1) -> int:
    """How many characters of ``text[start:end]`` (a candidate: a surname of ``surname``
    characters first) are a name; 0 when they are not one (a known word starts there, or one
    runs into it from the left)."""
    left = max(0, start - _CONTEXT)
    position, name_end = left, start
    for word, flag in _tagged(text[left : end + _CONTEXT]):
        word_start, position = position, position + len(word)
        if position <= start:
            continue
        if word_start < start:
            return 0  # 江苏 in 江苏移动: the "surname" belongs to the word before
        if word_start == start:
            if len(word) > surname and not _rare_name(word, flag):
                return 0  # 高速, 周末, 谢谢: a word that is no name
        elif position > end or word in _AFTER_NAME:
            break
        name_end = min(position, end)
        if name_end == end:
            break
    return name_end - start if name_end - start >= 2 else 0


def _rare_name(word: str, flag: str) -> bool:
    """A person's name (``nr``) jieba's corpus seldom sees; or a place's (``ns``): many given
    names are place names too (黄洋, 高平)."""
    return flag[:2] in ("nr", "ns") and _jieba().dt.FREQ.get(word, 0) < _COMMON


def _tagged(text: str) -> list[tuple[str, str]]:
    return [(pair.word, pair.flag) for pair in _jieba().posseg.lcut(text, HMM=False)]


@functools.cache
def _jieba() -> ModuleType:
    """jieba with its tagger, loaded on first use (its dictionary takes about a second)."""
    import jieba
    import jieba.posseg

    jieba.setLogLevel(60)  # its dictionary-loading chatter
    jieba.initialize()
    return jieba
