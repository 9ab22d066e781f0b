"""The built-in Chinese demand corpus: customer demand texts per category, and spam.

Texts read like hotline notes, web and app forms, SMS and survey answers: intents drawn from
``training.text.phrases`` with filled slots, a second category touched in about one demand
text in four, fillers and emotion, paraphrases and typos, channel framing, a spread of lengths,
and spam that borrows the operator's own vocabulary. As with human labelling, 3% of demand
labels name another category and 4.5% of spam flags are wrong; ``generate_demands`` records that
nowhere, ``generate_demand_records`` keeps the truth for tests and tuning. Every draw comes from
one ``numpy.random.default_rng(seed)``. See docs/demand-corpus.md.

A drifted corpus (``drift="new-wording"``, see ``DRIFTED_WORDINGS``) is the same corpus with one
category's rows written again in that category's new wording, from the drift's own random
stream: every other row is the base corpus's, and ``generate_drifted_demands`` writes texts of
the new wording only.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import pandas as pd

from training.text.drifted_phrases import DRIFTED_WORDINGS
from training.text.phrases import (
    CATEGORY_INTENTS,
    CHANNELS,
    CUSTOMER_CONTEXT,
    DEMAND_CATEGORIES,
    GENERIC_ASKS,
    HOTLINE_DEMANDS,
    HOTLINE_FRAMES,
    ONLINE_FRAMES,
    PARAPHRASES,
    PREFIXES,
    RANTS,
    RELATED_CATEGORIES,
    SHORT_GISTS,
    SHORT_SPAM,
    SIDE_CONNECTORS,
    SIDE_MENTIONS,
    SLOT_VALUES,
    SPAM_DISGUISES,
    SPAM_TEMPLATES,
    STORE_FRAMES,
    STORY_OPENERS,
    SUFFIXES,
    SURVEY_FRAMES,
    TYPOS,
    Intent,
)

__all__ = [
    "CHANNELS",
    "CORPUS_COLUMNS",
    "DEMAND_CATEGORIES",
    "DRIFTED_WORDINGS",
    "CorpusKnobs",
    "generate_demand_records",
    "generate_demands",
    "generate_drifted_demands",
]

CORPUS_COLUMNS = ("text", "category", "spam", "channel")
SHORT, NORMAL, LONG = "short", "normal", "long"
SPAM_MISFILED_AS = ("营销活动", "骚扰诈骗", "积分权益", "资费套餐", "流量使用")
LONG_MIN_CHARS, LONG_MAX_CHARS, SHORT_MAX_CHARS = 80, 200, 12

T = TypeVar("T")
_SLOT = re.compile(r"\{(\w+)\}")
_DRIFT_STREAM = 1  # spawn key of a drift's random stream, beside the corpus's own


@dataclass(frozen=True)
class CorpusKnobs:
    """How the corpus is drawn; the defaults are what ``generate_demands`` uses."""

    spam_share: float = 0.13
    label_noise: float = 0.03  # share of demand rows whose label is flipped to another category
    spam_label_noise: float = 0.045  # share of all rows whose spam flag is wrong, half each way
    category_jitter: float = 0.12  # category weights drawn from 1 ± jitter
    short_share: float = 0.10  # 5-12 character vague texts
    long_share: float = 0.08  # 80-200 character rambling texts
    side_share: float = 0.22  # normal-length texts that mention a second category
    long_side_share: float = 0.5  # long texts that mention a second category
    related_side_share: float = 0.7  # second categories drawn from RELATED_CATEGORIES
    paraphrase_share: float = 0.7
    generic_ask_share: float = 0.4
    customer_context_share: float = 0.25  # "我的套餐是…，" before any kind of demand
    typo_share: float = 0.4
    dropped_char_share: float = 0.06
    demand_channel_weights: tuple[float, ...] = (0.35, 0.15, 0.2, 0.1, 0.1, 0.1)
    spam_channel_weights: tuple[float, ...] = (0.0, 0.25, 0.15, 0.5, 0.1, 0.0)


class Dice:
    """Uniform draws from one numpy Generator, fetched in blocks: one-at-a-time draws are slow."""

    def __init__(self, rng: np.random.Generator, block: int = 8192):
        self._rng = rng
        self._block = block
        self._draws: list[float] = []

    def uniform(self) -> float:
        if not self._draws:
            self._draws = self._rng.random(self._block).tolist()
        return self._draws.pop()

    def chance(self, probability: float) -> bool:
        return self.uniform() < probability

    def pick(self, options: Sequence[T]) -> T:
        return options[int(self.uniform() * len(options))]


@dataclass(frozen=True)
class _Wording:
    """The tables texts are written from: each category's intents and short gists."""

    intents: dict[str, tuple[Intent, ...]]
    gists: dict[str, tuple[str, ...]]

    @classmethod
    def drifted(cls, drift: str) -> _Wording:
        """The base tables with the drifted category's replaced by its new wording."""
        new = DRIFTED_WORDINGS[drift]
        return cls(
            {**CATEGORY_INTENTS, new.category: new.intents},
            {**SHORT_GISTS, new.category: new.short_gists},
        )


_BASE_WORDING = _Wording(CATEGORY_INTENTS, SHORT_GISTS)
_SLOT_VALUES = SLOT_VALUES | {
    name: values for new in DRIFTED_WORDINGS.values() for name, values in new.slots.items()
}


@dataclass(frozen=True)
class _RowPlan:
    """What each row will be, decided before any text is written."""

    spam: np.ndarray
    category: list[str | None]
    side: list[str | None]
    shape: list[str]
    channel: list[str]


def generate_demands(n: int = 6000, *, seed: int = 0, drift: str | None = None) -> pd.DataFrame:
    """``n`` shuffled texts with columns text, category (None for spam), spam (0/1), channel;
    ``drift`` names a drifted corpus (``DRIFTED_WORDINGS``), None the base corpus."""
    return generate_demand_records(n, seed=seed, drift=drift)[list(CORPUS_COLUMNS)]


def generate_demand_records(
    n: int = 6000,
    *,
    seed: int = 0,
    knobs: CorpusKnobs = CorpusKnobs(),
    drift: str | None = None,
) -> pd.DataFrame:
    """The corpus plus its truth, for tests and tuning.

    Extra columns: ``true_category`` and ``true_spam`` (before label noise), ``side_category``
    (the second category a demand text touches, if any) and ``shape`` (short, normal, long).
    """
    if n < 0:
        raise ValueError("n must not be negative")
    _check_drift(drift)
    rng = np.random.default_rng(seed)
    plan = _plan_rows(_shuffled_labels(n, rng, knobs), rng, knobs)
    dice = Dice(rng)
    written = [_write_row(dice, plan, row, knobs) for row in range(n)]
    if drift is not None:
        written = _reworded(written, plan, knobs, seed, drift)
    labels = _flip_labels(plan.category, rng, knobs.label_noise)
    spam, labels = _misjudge_spam(plan.spam, labels, rng, knobs.spam_label_noise)
    return pd.DataFrame(
        {
            "text": [text for text, _ in written],
            "category": labels,
            "spam": spam.astype(np.int64),
            "channel": plan.channel,
            "true_category": plan.category,
            "true_spam": plan.spam.astype(np.int64),
            "side_category": [second for _, second in written],
            "shape": plan.shape,
        }
    )


def generate_drifted_demands(n: int = 1000, *, seed: int = 0, drift: str) -> pd.DataFrame:
    """``n`` texts of the drifted category only, all in its new wording, with the corpus's
    columns and the true category (no spam, no label noise): held-out texts of the drift."""
    if n < 0:
        raise ValueError("n must not be negative")
    _check_drift(drift)
    category = DRIFTED_WORDINGS[drift].category
    rng = np.random.default_rng(seed)
    knobs = CorpusKnobs()
    plan = _plan_rows(np.full(n, DEMAND_CATEGORIES.index(category)), rng, knobs)
    dice, wording = Dice(rng), _Wording.drifted(drift)
    written = [_write_row(dice, plan, row, knobs, wording) for row in range(n)]
    return pd.DataFrame(
        {
            "text": [text for text, _ in written],
            "category": plan.category,
            "spam": np.zeros(n, dtype=np.int64),
            "channel": plan.channel,
        }
    )


def _check_drift(drift: str | None) -> None:
    if drift is not None and drift not in DRIFTED_WORDINGS:
        raise ValueError(f"drift must be one of {tuple(DRIFTED_WORDINGS)}, got {drift!r}")


def _reworded(
    written: list[tuple[str, str | None]], plan: _RowPlan, knobs: CorpusKnobs, seed: int, drift: str
) -> list[tuple[str, str | None]]:
    """The drifted category's rows written again in its new wording, from the drift's own
    random stream, so that every other row stays the base corpus's."""
    category, wording = DRIFTED_WORDINGS[drift].category, _Wording.drifted(drift)
    dice = Dice(np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_DRIFT_STREAM,))))
    return [
        _write_row(dice, plan, row, knobs, wording) if plan.category[row] == category else old
        for row, old in enumerate(written)
    ]


def _plan_rows(labels: np.ndarray, rng: np.random.Generator, knobs: CorpusKnobs) -> _RowPlan:
    """Shape, second topic and channel of each row, given its category index (-1 for spam)."""
    n = len(labels)
    spam = labels < 0
    draws = rng.random(n)
    shape = np.select(
        [draws < knobs.short_share, draws < knobs.short_share + knobs.long_share],
        [SHORT, LONG],
        NORMAL,
    )
    side_odds = np.select(
        [shape == SHORT, shape == LONG], [0.0, knobs.long_side_share], knobs.side_share
    )
    has_side = (rng.random(n) < side_odds) & ~spam
    channel = np.where(
        spam,
        rng.choice(len(CHANNELS), n, p=_normalized(knobs.spam_channel_weights)),
        rng.choice(len(CHANNELS), n, p=_normalized(knobs.demand_channel_weights)),
    )
    return _RowPlan(
        spam=spam,
        category=[None if label < 0 else DEMAND_CATEGORIES[label] for label in labels],
        side=_second_topics(labels, has_side, rng, knobs.related_side_share),
        shape=[str(s) for s in shape],
        channel=[CHANNELS[c] for c in channel],
    )


def _shuffled_labels(n: int, rng: np.random.Generator, knobs: CorpusKnobs) -> np.ndarray:
    """Category indices in random order, -1 for spam."""
    n_spam = round(n * knobs.spam_share)
    counts = _category_counts(n - n_spam, rng, knobs.category_jitter)
    categories = np.repeat(np.arange(len(DEMAND_CATEGORIES)), counts)
    return rng.permutation(np.concatenate([categories, np.full(n_spam, -1)]))


def _second_topics(
    labels: np.ndarray, has_side: np.ndarray, rng: np.random.Generator, related_share: float
) -> list[str | None]:
    """A second category for the rows that get one, mostly one raised together with the first."""
    related, which = rng.random((2, len(labels)))
    topics: list[str | None] = [None] * len(labels)
    for row in np.flatnonzero(has_side):
        category = DEMAND_CATEGORIES[labels[row]]
        if related[row] < related_share:
            pool = RELATED_CATEGORIES[category]
        else:
            pool = tuple(other for other in DEMAND_CATEGORIES if other != category)
        topics[row] = pool[int(which[row] * len(pool))]
    return topics


def _category_counts(n_demand: int, rng: np.random.Generator, jitter: float) -> np.ndarray:
    """Near-balanced counts summing to ``n_demand`` (largest-remainder rounding)."""
    weights = 1.0 + rng.uniform(-jitter, jitter, len(DEMAND_CATEGORIES))
    shares = weights / weights.sum() * n_demand
    counts = np.floor(shares).astype(np.int64)
    leftover = n_demand - int(counts.sum())
    counts[np.argsort(counts - shares, kind="stable")[:leftover]] += 1
    return counts


def _normalized(weights: Sequence[float]) -> np.ndarray:
    array = np.asarray(weights, dtype=float)
    return array / array.sum()


def _flip_labels(
    categories: list[str | None], rng: np.random.Generator, rate: float
) -> list[str | None]:
    """Relabel ``rate`` of the demand rows with another category, as careless labelling would."""
    demand_rows = np.flatnonzero([c is not None for c in categories])
    flipped = rng.permutation(demand_rows)[: round(rate * len(demand_rows))]
    labels = list(categories)
    offsets = rng.integers(1, len(DEMAND_CATEGORIES), len(flipped))
    for row, offset in zip(flipped, offsets):
        index = DEMAND_CATEGORIES.index(labels[row])
        labels[row] = DEMAND_CATEGORIES[(index + offset) % len(DEMAND_CATEGORIES)]
    return labels


def _misjudge_spam(
    spam: np.ndarray, labels: list[str | None], rng: np.random.Generator, rate: float
) -> tuple[np.ndarray, list[str | None]]:
    """Swap the spam flag of ``rate`` of the rows, half each way, so the spam share holds.

    Demand texts called spam lose their category; spam called a demand is filed under the
    topic it imitates, as a hurried labeller would.
    """
    swaps = min(round(rate * len(spam) / 2), int(spam.sum()), int((~spam).sum()))
    to_spam = rng.permutation(np.flatnonzero(~spam))[:swaps]
    to_demand = rng.permutation(np.flatnonzero(spam))[:swaps]
    filed_as = rng.integers(0, len(SPAM_MISFILED_AS), swaps)
    flags, labels = spam.copy(), list(labels)
    flags[to_spam], flags[to_demand] = True, False
    for row in to_spam:
        labels[row] = None
    for row, topic in zip(to_demand, filed_as):
        labels[row] = SPAM_MISFILED_AS[topic]
    return flags, labels


def _write_row(
    dice: Dice, plan: _RowPlan, row: int, knobs: CorpusKnobs, wording: _Wording = _BASE_WORDING
) -> tuple[str, str | None]:
    """The row's text and the second category it touches, if any."""
    category = plan.category[row]
    if category is None:
        return _write_spam(dice, knobs), None
    if plan.shape[row] == SHORT:
        return _misspell(dice, _short_text(dice, wording.gists[category]), knobs), None
    long = plan.shape[row] == LONG
    body, second = _demand_body(dice, category, plan.side[row], long, knobs, wording)
    text = _punctuate(dice, _frame(dice, body, plan.channel[row]))
    return _misspell(dice, text, knobs), second


# --- demand texts ----------------------------------------------------------------------------


def _fill(dice: Dice, template: str) -> str:
    """Fill ``{slot}``s; slot values may hold slots themselves (a contact holds a WeChat id)."""
    while "{" in template:
        template = _SLOT.sub(lambda match: _slot_value(dice, match.group(1)), template)
    return template


def _slot_value(dice: Dice, name: str) -> str:
    """A value for one slot; the spam slots write a whole spam text."""
    if name == "spam_quote":  # a customer quoting the start of a scam SMS they received
        return _fill(dice, dice.pick(SPAM_TEMPLATES))[:30]
    if name == "spam_text":  # a customer forwarding the whole scam SMS
        return _fill(dice, dice.pick(SPAM_TEMPLATES))
    return dice.pick(_SLOT_VALUES[name])


def _situation(dice: Dice, intent: Intent) -> tuple[str, str | None]:
    """A situation of ``intent``, and the category it borrowed the words from, if any."""
    if intent.borrows:
        lender = dice.pick(intent.borrows)
        text, _ = _situation(dice, dice.pick(CATEGORY_INTENTS[lender]))
        return text, lender
    return _fill(dice, dice.pick(intent.situations)), None


def _short_text(dice: Dice, gists: tuple[str, ...]) -> str:
    """A vague 5-12 character text: a gist, dressed with a greeting or an ending if it fits."""
    gist = _fill(dice, dice.pick(gists))
    before = dice.pick(("", "", "请问", "你好，", "咨询", "问下"))
    after = dice.pick(("", "？", "谢谢", "急", "怎么弄", "。。。", "!!", "啊"))
    text = gist
    for candidate in (before + gist + after, gist + after, before + gist):
        if len(candidate) <= SHORT_MAX_CHARS:
            text = candidate
            break
    return text if len(text) >= 5 else text + dice.pick(("？？", "怎么办", "，谢谢", "。。。"))


def _demand_body(
    dice: Dice, category: str, side: str | None, long: bool, knobs: CorpusKnobs, wording: _Wording
) -> tuple[str, str | None]:
    """The customer's own words, and the second category they touch, if any."""
    intents = wording.intents[category]
    intent = dice.pick(intents)
    text, lender = _situation(dice, intent)
    if side is not None:
        text = _with_side_mention(dice, text, side)
    if long:
        text = _ramble(dice, text, intents)
    elif dice.chance(knobs.customer_context_share):
        text = _fill(dice, dice.pick(CUSTOMER_CONTEXT)) + text
    ask = (
        dice.pick(GENERIC_ASKS) if dice.chance(knobs.generic_ask_share) else dice.pick(intent.asks)
    )
    if ask:
        text += dice.pick(("，", "，", "。", "？", " ")) + ask
    if dice.chance(knobs.paraphrase_share):
        text = _reword(dice, text)
    return text, side or lender


def _reword(dice: Dice, text: str) -> str:
    """Swap some words for the everyday variants other writers use."""
    for plain, other in PARAPHRASES:
        if plain in text and dice.chance(0.3):
            text = text.replace(plain, other, 1)
    return text


def _with_side_mention(dice: Dice, text: str, side: str) -> str:
    """Mention a second category: a passing clause, or a whole situation given as background."""
    if dice.chance(0.5):
        background, _ = _situation(dice, dice.pick(CATEGORY_INTENTS[side]))
        return background + dice.pick(("，", "。", "，现在", "，然后", "，所以")) + text
    mention = _fill(dice, dice.pick(SIDE_MENTIONS[side]))
    if dice.chance(0.35):
        return mention + "，" + text
    return text + dice.pick(SIDE_CONNECTORS) + mention


def _ramble(dice: Dice, text: str, intents: tuple[Intent, ...]) -> str:
    """Pad a text into a long, repetitive account, the way upset customers write."""
    text = _fill(dice, dice.pick(STORY_OPENERS)) + text
    while len(text) < LONG_MIN_CHARS:
        if dice.chance(0.5):
            more, _ = _situation(dice, dice.pick(intents))
        else:
            more = dice.pick(RANTS)
        if more not in text:  # people repeat themselves, but not word for word
            text += dice.pick(("，", "。", "，而且", "，", "。。")) + more
    return text[: LONG_MAX_CHARS - 20]  # room for the ask, the frame and an ending


def _frame(dice: Dice, body: str, channel: str) -> str:
    """Dress the text the way ``channel`` records it."""
    if channel == "热线" and dice.chance(0.6):
        return _agent_note(dice, body)
    frame = dice.pick(_CHANNEL_FRAMES[channel])
    if frame == "{body}" and dice.chance(0.35):  # greetings only where the customer writes
        body = dice.pick(PREFIXES) + body
    if dice.chance(0.35):
        body += dice.pick(SUFFIXES)
    return _put(dice, frame, body)


_CHANNEL_FRAMES = {
    "热线": ("{body}",),
    "网上营业厅": ONLINE_FRAMES,
    "手机营业厅": ONLINE_FRAMES,
    "短信": ("{body}",),
    "满意度问卷": SURVEY_FRAMES,
    "营业厅": STORE_FRAMES,
}


def _put(dice: Dice, frame: str, body: str) -> str:
    """``frame`` with its slots filled and ``body`` in place of ``{body}``."""
    return _fill(dice, frame.replace("{body}", "\x00")).replace("\x00", body)


def _agent_note(dice: Dice, body: str) -> str:
    """The text as an agent's note: third person, the operator as 我司, maybe a demand."""
    third_person = body.replace("你们", "\x01").replace("我的", "其").replace("我", "其")
    frame = dice.pick(HOTLINE_FRAMES)
    note = _put(dice, frame, third_person.replace("\x01", "我司"))
    if frame.rstrip("。").endswith("{body}") and dice.chance(0.4):
        note = note.rstrip("。") + "，" + dice.pick(HOTLINE_DEMANDS) + "。"
    if dice.chance(0.1):
        note += "用户情绪激动。"
    return note


def _punctuate(dice: Dice, text: str) -> str:
    """Writers differ: full-width, half-width, or hardly any punctuation (SMS style)."""
    style = dice.uniform()
    if style < 0.2:
        return text.translate(_HALF_WIDTH)
    if style < 0.28:
        return text.translate(_SPACES).strip()
    return text


_HALF_WIDTH = str.maketrans({"，": ",", "？": "?", "！": "!", "：": ":", "；": ";"})
_SPACES = str.maketrans({"，": " ", "。": " ", "；": " "})


def _misspell(dice: Dice, text: str, knobs: CorpusKnobs) -> str:
    """Homophone and near-form slips, now and then a dropped character."""
    if dice.chance(knobs.typo_share):
        for right, wrong in TYPOS:
            if right in text and dice.chance(0.4):
                text = text.replace(right, wrong, 1)
    if len(text) > 8 and dice.chance(knobs.dropped_char_share):
        position = int(dice.uniform() * len(text))
        text = text[:position] + text[position + 1 :]
    return text


# --- spam ------------------------------------------------------------------------------------


def _write_spam(dice: Dice, knobs: CorpusKnobs) -> str:
    """A fraud, advertising, sales or phishing text, disguised now and then."""
    template = dice.pick(SHORT_SPAM) if dice.chance(0.25) else dice.pick(SPAM_TEMPLATES)
    text = _fill(dice, template)
    if dice.chance(0.15):  # spam posted into a web form opens like a customer
        text = dice.pick(PREFIXES) + text
    if dice.chance(0.35):
        for plain, disguised in SPAM_DISGUISES:
            if plain in text and dice.chance(0.5):
                text = text.replace(plain, disguised)
    if dice.chance(0.2):
        text += dice.pick(("回T退订", "【限时】", " 拒收请回复R", "！！！", "~"))
    if dice.chance(knobs.paraphrase_share):  # spammers vary their wording to dodge filters
        text = _reword(dice, text)
    return _misspell(dice, _punctuate(dice, text), knobs)
