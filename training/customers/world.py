"""The built-in customer world: a reproducible synthetic customer base with its ground truth.

Every customer is drawn from a latent structure (docs/customer-world.md tells the whole story):
city tier shapes occupation; occupation shapes age, plan, calling pattern, SP service use and
content taste; age and occupation shape channel reliance, and the channel contact counts are
noisy draws from it; a hidden dissatisfaction drives complaints, survey scores, a falling bill and
churn, together with tenure and contract. Labels are drawn, not derived, so no model is perfect.

The world is cut into blocks of ``BLOCK_ROWS`` customers; block ``b`` is drawn from
``SeedSequence(seed, spawn_key=(b,))`` alone, so row ``r`` of a world is the same whatever ``n``
and whatever ``chunk_rows`` the files are written with. All draws are vectorised numpy.

A drifted world (``drift="price-war"``, see ``DRIFTED_WORLDS``) is the same world with a
documented shift applied from the shift's own random stream: the columns it does not move are
the base world's, row for row.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from training.customers.price_war import PriceWar
from training.customers.schema import (
    CALL_SHARE_COLUMNS,
    CATEGORICAL_COLUMNS,
    CHANNEL_CONTACT_COLUMNS,
    CHANNEL_SLUGS,
    CHANNELS,
    COLUMNS,
    CONTENT_CATEGORIES,
    CONTENT_SLUGS,
    DRIFTED_WORLDS,
    LABEL_COLUMNS,
    MISSING_RATES,
    OCCUPATIONS,
    SP_SERVICE_TYPES,
)

__all__ = [
    "BLOCK_ROWS",
    "CHANNELS",
    "CHANNEL_SLUGS",
    "CONTENT_CATEGORIES",
    "CONTENT_SLUGS",
    "DRIFTED_WORLDS",
    "OCCUPATIONS",
    "customer_rows",
    "generate_customers",
    "write_customers",
]

BLOCK_ROWS = 10_000
FILE_FORMATS = ("parquet", "csv")
_CHUNK_FILE = re.compile(r"customers-\d{5}\.(parquet|csv)")

Columns = dict[str, np.ndarray]  # column name -> one value per customer of a block

# Tables with one row per occupation, in OCCUPATIONS order: 学生 商务人士 外来务工者 年轻白领
# 低收入人群 司机. _PEOPLE describes who holds the occupation; _HABITS how they use the phone.
_PEOPLE = {
    "share": np.array([0.15, 0.12, 0.17, 0.20, 0.20, 0.16]),
    "age_mean": np.array([20, 42, 35, 28, 52, 41]),
    "age_sd": np.array([2.5, 8, 9, 3.5, 15, 8]),
    "male_share": np.array([0.5, 0.68, 0.62, 0.47, 0.44, 0.92]),
    "churn_shift": np.array([0.3, -0.1, 0.35, 0.1, 0.0, -0.1]),
}
_HABITS = {
    "voice_minutes": np.array([110, 650, 300, 260, 100, 380]),  # medians
    "mean_call_minutes": np.array([1.9, 3.6, 4.2, 2.5, 2.3, 1.5]),
    "sms": np.array([10, 18, 14, 8, 28, 12]),
    "data_gb": np.array([14, 10, 6, 20, 2.5, 8]),
    "distinct_numbers": np.array([16, 80, 24, 42, 14, 55]),
    "station_changes": np.array([7, 20, 9, 10, 5, 40]),
    "extra_spend": np.array([6, 35, 6, 15, 3, 14]),
    "long_distance_odds": np.array([0.55, 0.92, 0.92, 0.6, 0.35, 0.6]),
    "long_distance_mean": np.array([0.08, 0.25, 0.35, 0.10, 0.06, 0.12]),
    "top_province_mean": np.array([0.55, 0.40, 0.78, 0.50, 0.60, 0.55]),
    "roaming_odds": np.array([0.35, 0.85, 0.3, 0.35, 0.1, 0.6]),
    "roaming_mean": np.array([0.08, 0.20, 0.06, 0.06, 0.04, 0.12]),
    "call_time_alpha": np.array(  # morning, daytime, evening, night
        [[1.0, 2.4, 4.0, 3.0], [2.0, 6.5, 2.0, 0.6], [1.6, 2.6, 4.6, 1.4],
         [1.4, 5.0, 3.2, 1.1], [2.4, 4.0, 3.0, 0.8], [2.6, 5.4, 2.4, 1.2]]
    ),
    "plan_mix": 0.8 * np.array(  # PLANS: 校园 基础 畅享 大流量 商旅 亲情
        [[0.70, 0.05, 0.10, 0.10, 0.00, 0.05], [0.00, 0.02, 0.25, 0.20, 0.45, 0.08],
         [0.00, 0.45, 0.20, 0.05, 0.00, 0.30], [0.02, 0.05, 0.35, 0.43, 0.05, 0.10],
         [0.00, 0.65, 0.10, 0.00, 0.00, 0.25], [0.00, 0.20, 0.40, 0.20, 0.05, 0.15]]
    ) + 0.2 / 6,
    "long_distance_mix": np.array(  # 省内 省际 国际
        [[0.5, 0.48, 0.02], [0.3, 0.55, 0.15], [0.1, 0.88, 0.02],
         [0.45, 0.5, 0.05], [0.7, 0.29, 0.01], [0.7, 0.29, 0.01]]
    ),
    "roaming_mix": np.array(  # 省内 省际 国际
        [[0.4, 0.58, 0.02], [0.25, 0.55, 0.2], [0.3, 0.68, 0.02],
         [0.4, 0.5, 0.1], [0.7, 0.3, 0.0], [0.6, 0.4, 0.0]]
    ),
    "sp_base": np.array(  # music video game reading payment navigation, uses/month
        [[6, 10, 8, 2, 3, 1], [2, 4, 0.5, 3, 10, 6], [3, 6, 1.5, 0.5, 2, 1],
         [5, 8, 2, 3, 8, 3], [1, 2, 0.3, 1, 1, 0.3], [3, 3, 0.5, 0.5, 4, 20]]
    ),
}  # fmt: skip
_BLEND = (1.8, 2.2)  # Beta parameters of the weight of a customer's second, borrowed habits
_TIER_SHARES = np.array([0.2, 0.3, 0.3, 0.2])
_TIER_EFFECT = np.array(  # city tier 1..4 x occupation, added to the log share
    [[0.0, 0.6, 0.4, 0.5, -0.6, 0.0], [0.0, 0.2, 0.3, 0.3, -0.2, 0.0],
     [0.0, -0.3, -0.2, -0.2, 0.2, 0.0], [0.0, -0.8, -0.6, -0.8, 0.7, 0.0]]
)  # fmt: skip
_REGION_SHARES = np.array([0.16, 0.08, 0.26, 0.15, 0.16, 0.12, 0.07])
_PLAN_FEES = np.array(
    [[19, 29, 39], [8, 18, 28], [58, 88, 128], [98, 128, 198], [128, 188, 288], [38, 58, 88]],
    dtype=float,
)
_CONTRACT_MIX = np.array(  # occupation x none, 12 months, 24 months
    [[0.7, 0.2, 0.1], [0.3, 0.25, 0.45], [0.6, 0.25, 0.15],
     [0.4, 0.25, 0.35], [0.55, 0.25, 0.2], [0.4, 0.3, 0.3]]
)  # fmt: skip
_CONTRACT_LENGTH = np.array([0, 12, 24])
_MAX_TENURE = 300  # months; mobile accounts older than 25 years are not in the base
_SP_PRICE = np.array([0.25, 0.5, 0.8, 0.15, 0.05, 0.1])  # yuan per use
_SP_BY_TASTE = np.array(  # content category x SP type: log-rate lift for a customer who likes it
    [[0, 0, 0, 0.3, 0, 0], [0, 0, 0, 0, 0.4, 0.1], [0, 0, 0, 0, 0.5, 0], [0, 0.3, 0, 0, 0, 0],
     [0.4, 0.5, 0, 0, 0, 0], [0.2, 0, 0, 0, 0.2, 0.2], [0.2, 0, 0, 0.5, 0, 0], [0, 0, 0.8, 0, 0, 0]]
)  # fmt: skip
_TASTE_BASE = np.array([-0.6, -1.6, -1.4, -1.0, -0.4, -0.7, -1.4, -1.2])
_TASTE_BY_OCC = np.array(  # occupation x 新闻 商务 财经 体育 娱乐 生活 文化 游戏
    [[-0.8, -1.5, -1.2, 0.4, 1.0, 0.0, 0.3, 1.6], [0.8, 1.7, 1.4, 0.3, -0.3, -0.2, 0.1, -0.8],
     [0.0, -1.0, -0.8, 0.2, 0.9, 0.5, -0.5, 0.2], [0.2, 0.3, 0.7, 0.2, 0.6, 1.0, 0.4, 0.3],
     [0.7, -1.2, -0.6, -0.2, 0.2, 0.7, 0.0, -0.8], [0.6, -0.5, -0.3, 0.9, 0.4, 0.0, -0.6, -0.3]]
)  # fmt: skip
_TASTE_AGE_SLOPE = np.array([0.3, 0.1, 0.1, 0.0, -0.2, 0.1, 0.15, -0.5])  # per decade over 35
_TASTE_MALE_SHIFT = np.array([0.1, 0.1, 0.2, 0.7, -0.2, -0.5, -0.1, 0.5])
_EXPLICIT_SHARE = 0.6  # likers who show a subscription or visits
_STRAY_SHARE = 0.04  # non-likers who visit anyway
_RELIANCE_BASE = np.array([-0.6, -0.9, 0.3, -1.3, -0.9, -1.6])  # store web app sms hotline kiosk
_RELIANCE_AGE_SLOPE = np.array([0.5, -0.3, -0.6, 0.2, 0.4, 0.0])  # per decade over 40
_RELIANCE_BY_OCC = np.array(  # occupation x channel
    [[-0.8, 0.3, 0.8, -0.3, -0.5, 0.0], [-0.2, 0.5, 0.5, -0.5, 0.5, -0.3],
     [0.3, -0.5, 0.0, 0.2, 0.0, 0.7], [-0.6, 0.6, 1.2, -0.5, -0.3, -0.2],
     [0.4, -0.6, -0.8, 1.0, 0.2, 0.4], [-0.3, -0.3, 0.2, 0.0, 1.2, 0.0]]
)  # fmt: skip
_CONTACTS_IF_RELIANT = np.array([2.5, 5.0, 15.0, 4.0, 2.5, 1.6])  # per 6 months
_CONTACTS_OTHERWISE = np.array([0.6, 1.0, 3.0, 0.8, 0.6, 0.4])
_HOTLINE = list(CHANNEL_SLUGS.values()).index("hotline")
_VIDEO_TASTES = [
    list(CONTENT_SLUGS.values()).index(s) for s in ("sports", "entertainment", "games")
]
_SHIFTS = {"price-war": PriceWar}  # a drifted world's name -> its shift, one per DRIFTED_WORLDS
_SHIFT_STREAM = 1  # spawn key of a shift's random stream, beside the block's own


def generate_customers(n: int, *, seed: int = 0, drift: str | None = None) -> pd.DataFrame:
    """The first ``n`` customers of the world drawn from ``seed``, features and labels;
    ``drift`` names a drifted world (``DRIFTED_WORLDS``), None the base world."""
    return customer_rows(0, n, seed=seed, drift=drift)


def customer_rows(
    start: int, stop: int, *, seed: int = 0, drift: str | None = None
) -> pd.DataFrame:
    """Rows ``start:stop`` (0-based) of the world drawn from ``seed``."""
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got {start}:{stop}")
    if drift is not None and drift not in DRIFTED_WORLDS:
        raise ValueError(f"drift must be one of {tuple(DRIFTED_WORLDS)}, got {drift!r}")
    first_block, last_block = start // BLOCK_ROWS, max(start, stop - 1) // BLOCK_ROWS
    blocks = [_draw_block(seed, block, drift) for block in range(first_block, last_block + 1)]
    frame = blocks[0] if len(blocks) == 1 else pd.concat(blocks, ignore_index=True)
    offset = start - first_block * BLOCK_ROWS
    return frame.iloc[offset : offset + stop - start].reset_index(drop=True)


def write_customers(
    out_dir: Path,
    n: int,
    *,
    seed: int = 0,
    chunk_rows: int = 200_000,
    file_format: str = "parquet",
    labels: bool = True,
    drift: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Path]:
    """Write the first ``n`` customers as ``customers-00000.<format>``, ... in ``out_dir``.

    One chunk of ``chunk_rows`` customers is in memory at a time. The rows do not depend on
    ``chunk_rows``: the files concatenated equal ``generate_customers(n, seed=seed)``. Chunk files
    left in ``out_dir`` by an earlier run are removed first. ``progress`` is called after each
    file with the number of customers just written. ``labels=False`` leaves out the
    ground-truth columns: what a CRM would hold, for loading into the customer store.
    ``drift`` names a drifted world, as for ``generate_customers``.
    """
    if file_format not in FILE_FORMATS:
        raise ValueError(f"file_format must be one of {FILE_FORMATS}, got {file_format!r}")
    if n < 0 or chunk_rows < 1:
        raise ValueError(f"need n >= 0 and chunk_rows >= 1, got n={n}, chunk_rows={chunk_rows}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_old_chunks(out_dir)
    paths = []
    for index, start in enumerate(range(0, n, chunk_rows)):
        stop = min(n, start + chunk_rows)
        path = out_dir / f"customers-{index:05d}.{file_format}"
        rows = customer_rows(start, stop, seed=seed, drift=drift)
        _write_chunk(rows if labels else rows.drop(columns=list(LABEL_COLUMNS)), path)
        paths.append(path)
        if progress is not None:
            progress(stop - start)
    return paths


def _remove_old_chunks(out_dir: Path) -> None:
    for path in out_dir.iterdir():
        if _CHUNK_FILE.fullmatch(path.name):
            path.unlink()


def _write_chunk(frame: pd.DataFrame, path: Path) -> None:
    """Write through a temporary name so a file that exists is always complete."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    partial = path.with_name(path.name + ".partial")
    if path.suffix == ".csv":
        pa_csv.write_csv(table, partial)
    else:
        pq.write_table(table, partial)
    os.replace(partial, path)


def _draw_block(seed: int, block: int, drift: str | None) -> pd.DataFrame:
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(block,)))
    shift = None
    if drift is not None:
        stream = np.random.SeedSequence(seed, spawn_key=(block, _SHIFT_STREAM))
        shift = _SHIFTS[drift](np.random.default_rng(stream))
    columns = _draw_world(rng, BLOCK_ROWS, shift)
    _blank_out(rng, columns)
    return _to_frame(columns, first_number=block * BLOCK_ROWS + 1)


def _draw_world(rng: np.random.Generator, n: int, shift: PriceWar | None = None) -> Columns:
    columns = _draw_people(rng, n)
    occupation, age = columns["occupation"], columns["age"]
    habits = _blend_habits(rng, occupation)
    columns |= _draw_account(rng, occupation, age, habits["plan_mix"])
    columns |= _draw_calling(rng, habits)
    likes = _draw_taste(rng, occupation, age, columns["gender"] == 0)
    columns |= _content_columns(rng, likes)
    service_use, sp_spend = _draw_service_use(rng, habits, likes)
    columns |= service_use
    dissatisfaction = rng.normal(size=n)
    columns |= _draw_satisfaction(rng, dissatisfaction)
    bill_drift = -0.03 * dissatisfaction + rng.normal(0, 0.04, n)  # true change per month
    usage_spend = _lognormal(rng, habits["extra_spend"], 0.6)
    discount = None if shift is None else shift.bill_factors(n)
    base_spend = columns["plan_monthly_fee"] + usage_spend
    columns |= _draw_bills(rng, base_spend, sp_spend, bill_drift, discount)
    columns |= _draw_channels(rng, occupation, age, columns["complaints_6m"])
    pull = 0.0
    if shift is not None:
        pull = shift.churn_pull(
            occupation, columns["contract_type"], columns["contract_months_left"]
        )
    columns["churned"] = _draw_churn(rng, columns, dissatisfaction, bill_drift, pull)
    return columns


def _draw_people(rng: np.random.Generator, n: int) -> Columns:
    """City tier, then occupation given the tier, then age and gender given the occupation."""
    tier = _pick(rng, np.broadcast_to(_TIER_SHARES, (n, 4)))
    occupation = _pick(rng, _softmax(np.log(_PEOPLE["share"]) + _TIER_EFFECT[tier]))
    age = rng.normal(_PEOPLE["age_mean"][occupation], _PEOPLE["age_sd"][occupation])
    return {
        "occupation": occupation,
        "age": np.clip(np.rint(age), 16, 80).astype(np.int64),
        "gender": (rng.random(n) >= _PEOPLE["male_share"][occupation]).astype(np.int64),
        "region": _pick(rng, np.broadcast_to(_REGION_SHARES, (n, len(_REGION_SHARES)))),
        "city_tier": tier + 1,
    }


def _blend_habits(rng: np.random.Generator, occupation: np.ndarray) -> Columns:
    """Each customer's habits: their occupation's, blended with a second occupation's.

    The weight of the borrowed habits is Beta-distributed; where it passes one half, the
    customer behaves more like the other occupation than their own, which is what keeps the
    occupation model honest.
    """
    n = len(occupation)
    borrowed = _pick(rng, np.broadcast_to(_PEOPLE["share"], (n, len(OCCUPATIONS))))
    weight = rng.beta(*_BLEND, n)
    blended = {}
    for name, table in _HABITS.items():
        w = weight if table.ndim == 1 else weight[:, None]
        blended[name] = (1 - w) * table[occupation] + w * table[borrowed]
    return blended


def _draw_account(
    rng: np.random.Generator, occupation: np.ndarray, age: np.ndarray, plan_mix: np.ndarray
) -> Columns:
    """Plan and fee, tenure (bounded by adult life), contract and the months it has left."""
    n = len(occupation)
    plan = _pick(rng, plan_mix)
    tenure = np.ceil(rng.exponential(6 + 2.0 * (age - 16)))
    tenure = np.clip(tenure, 1, np.minimum((age - 15) * 12, _MAX_TENURE)).astype(np.int64)
    contract = _pick(rng, _CONTRACT_MIX[occupation])
    length = _CONTRACT_LENGTH[contract]
    months_left = np.clip(rng.integers(0, length + 1), length - tenure, length)
    return {
        "plan_name": plan,
        "plan_monthly_fee": _PLAN_FEES[plan, rng.integers(0, 3, n)],
        "tenure_months": tenure,
        "contract_type": contract,
        "contract_months_left": months_left.astype(np.int64),
    }


def _draw_calling(rng: np.random.Generator, habits: Columns) -> Columns:
    """How much, when, how long and how widely a customer calls, and how much they move."""
    time_weights = rng.gamma(habits["call_time_alpha"])
    time_shares = time_weights / time_weights.sum(axis=1, keepdims=True)
    distinct_numbers = rng.poisson(_lognormal(rng, habits["distinct_numbers"], 0.5))
    columns = {
        "voice_minutes": _lognormal(rng, habits["voice_minutes"], 0.6).round(1),
        "sms_count": rng.poisson(_lognormal(rng, habits["sms"], 0.6)).astype(float),
        **{name: time_shares[:, i].round(4) for i, name in enumerate(CALL_SHARE_COLUMNS)},
        "mean_call_minutes": _lognormal(rng, habits["mean_call_minutes"], 0.45).round(2),
        "distinct_numbers_called": distinct_numbers.astype(float),
        "base_station_changes_per_day": _lognormal(rng, habits["station_changes"], 0.55).round(1),
    }
    return columns | _draw_travel(rng, habits)


def _draw_travel(rng: np.random.Generator, habits: Columns) -> Columns:
    """Long-distance and roaming: whether at all, what share of minutes, and of which kind."""
    n = len(habits["roaming_odds"])
    far = rng.random(n) < habits["long_distance_odds"]
    far_share = np.where(far, _beta(rng, habits["long_distance_mean"], 8), 0.0)
    roams = rng.random(n) < habits["roaming_odds"]
    roam_share = np.where(roams, _beta(rng, habits["roaming_mean"], 8), 0.0)
    top_province = np.where(far, _beta(rng, habits["top_province_mean"], 6), 0.0)
    return {
        "long_distance_share": far_share.round(4),
        "long_distance_type": np.where(far, 1 + _pick(rng, habits["long_distance_mix"]), 0),
        "top_province_call_share": top_province.round(4),
        "roaming_share": roam_share.round(4),
        "roaming_type": np.where(roams, 1 + _pick(rng, habits["roaming_mix"]), 0),
    }


def _draw_taste(
    rng: np.random.Generator, occupation: np.ndarray, age: np.ndarray, male: np.ndarray
) -> np.ndarray:
    """Latent content preference: a customers x categories 0/1 matrix."""
    decades_over_35 = (age[:, None] - 35) / 10
    logits = (
        _TASTE_BASE
        + _TASTE_BY_OCC[occupation]
        + _TASTE_AGE_SLOPE * decades_over_35
        + _TASTE_MALE_SHIFT * male[:, None]
        + rng.normal(0, 0.8, (len(occupation), len(CONTENT_CATEGORIES)))
    )
    return (rng.random(logits.shape) < _sigmoid(logits)).astype(np.int64)


def _content_columns(rng: np.random.Generator, likes: np.ndarray) -> Columns:
    """Explicit signals (subscriptions, visits) for most likers and a few strays; the labels."""
    explicit = (likes == 1) & (rng.random(likes.shape) < _EXPLICIT_SHARE)
    stray = (likes == 0) & (rng.random(likes.shape) < _STRAY_SHARE)
    keen_visits = 1 + rng.poisson(_lognormal(rng, np.full(likes.shape, 8.0), 0.8))
    visits = np.where(explicit, keen_visits, np.where(stray, rng.poisson(1.5, likes.shape), 0))
    stray_subscriptions = stray & (rng.random(likes.shape) < 0.1)
    subscriptions = np.where(explicit, rng.poisson(0.9, likes.shape), stray_subscriptions)
    columns = {}
    for i, slug in enumerate(CONTENT_SLUGS.values()):
        columns[f"{slug}_subscriptions"] = subscriptions[:, i].astype(np.int64)
        columns[f"{slug}_visits_30d"] = visits[:, i]
        columns[f"likes_{slug}"] = likes[:, i]
    return columns


def _draw_service_use(
    rng: np.random.Generator, habits: Columns, likes: np.ndarray
) -> tuple[Columns, np.ndarray]:
    """SP service uses by type and data volume from habits and taste; and the SP spend."""
    rates = habits["sp_base"] * np.exp(likes @ _SP_BY_TASTE)
    uses = rng.poisson(rates * _lognormal(rng, np.ones_like(rates), 0.5))
    video_taste = likes[:, _VIDEO_TASTES].sum(axis=1)
    data_gb = _lognormal(rng, habits["data_gb"] * (1 + 0.25 * video_taste), 0.7)
    columns = {f"sp_{kind}_uses": uses[:, i] for i, kind in enumerate(SP_SERVICE_TYPES)}
    columns["data_gb"] = data_gb.round(2)
    sp_spend = (uses * _SP_PRICE).sum(axis=1) * _lognormal(rng, 1.0, 0.3, len(uses))
    return columns, sp_spend


def _draw_satisfaction(rng: np.random.Generator, dissatisfaction: np.ndarray) -> Columns:
    """Complaints and the survey score, both symptoms of the hidden dissatisfaction."""
    n = len(dissatisfaction)
    score = 7.3 - 1.3 * dissatisfaction + rng.normal(0, 1.3, n)
    return {
        "complaints_6m": rng.poisson(np.exp(-1.4 + 0.75 * dissatisfaction)),
        "survey_score": np.clip(np.rint(score), 1, 10),
    }


def _draw_bills(
    rng: np.random.Generator,
    base_spend: np.ndarray,
    sp_spend: np.ndarray,
    bill_drift: np.ndarray,
    discount: np.ndarray | None = None,
) -> Columns:
    """Three monthly bills around fee + usage + SP spend, moving with the customer's drift;
    ``discount``, if given, is what is left of each bill (customers x m1, m2, m3)."""
    level = base_spend + sp_spend
    bills = {}
    for m in (1, 2, 3):
        bill = level * (1 + bill_drift * (2 - m)) * _lognormal(rng, 1.0, 0.03, len(level))
        if discount is not None:
            bill = bill * discount[:, m - 1]
        bills[f"spend_m{m}"] = np.maximum(bill, 0).round(2)
    mean = (bills["spend_m1"] + bills["spend_m2"] + bills["spend_m3"]) / 3
    trend = (bills["spend_m1"] - bills["spend_m3"]) / 2 / np.maximum(mean, 0.01)
    return bills | {"spend_trend": trend.round(4), "vas_revenue_share": (sp_spend / level).round(4)}


def _draw_channels(
    rng: np.random.Generator, occupation: np.ndarray, age: np.ndarray, complaints: np.ndarray
) -> Columns:
    """Reliance on each channel (the labels), then noisy contact counts drawn from it."""
    n = len(occupation)
    logits = (
        _RELIANCE_BASE
        + _RELIANCE_AGE_SLOPE * (age[:, None] - 40) / 10
        + _RELIANCE_BY_OCC[occupation]
        + rng.normal(0, 0.8, (n, len(CHANNELS)))
    )
    relies = (rng.random(logits.shape) < _sigmoid(logits)).astype(np.int64)
    activity = _lognormal(rng, 1.0, 0.7, n)[:, None]
    rate = np.where(relies == 1, _CONTACTS_IF_RELIANT, _CONTACTS_OTHERWISE) * activity
    rate[:, _HOTLINE] *= 1 + complaints  # complaints come in over the hotline
    counts = rng.poisson(rate * _lognormal(rng, np.ones_like(rate), 0.6))
    columns = {}
    for i, (slug, contact_column) in enumerate(CHANNEL_CONTACT_COLUMNS.items()):
        columns[contact_column] = counts[:, i]
        columns[f"relies_on_{slug}"] = relies[:, i]
    return columns


def _draw_churn(
    rng: np.random.Generator,
    columns: Columns,
    dissatisfaction: np.ndarray,
    bill_drift: np.ndarray,
    pull: np.ndarray | float = 0.0,
) -> np.ndarray:
    """Churn from tenure, complaints, the bill's drift, contract, dissatisfaction and noise;
    ``pull`` is a drifted world's addition to the logit (the uniform draws stay the same)."""
    tenure, months_left = columns["tenure_months"], columns["contract_months_left"]
    bound = columns["contract_type"] > 0
    contract = np.where(bound, np.where(months_left <= 2, 0.8, -1.2), 0.5)
    logit = (
        -2.2
        - 0.8 * np.log(tenure / 24)
        + 0.45 * np.minimum(columns["complaints_6m"], 5)
        - 14 * bill_drift
        + contract
        + 0.8 * dissatisfaction
        + _PEOPLE["churn_shift"][columns["occupation"]]
        + rng.normal(0, 0.3, len(tenure))
    )
    return (rng.random(len(tenure)) < _sigmoid(logit + pull)).astype(np.int64)


def _blank_out(rng: np.random.Generator, columns: Columns) -> None:
    """Blank cells at each column's missing rate; the four call-time shares go together."""
    n = len(columns["age"])
    call_time_missing = rng.random(n) < MISSING_RATES[CALL_SHARE_COLUMNS[0]]
    for name, rate in MISSING_RATES.items():
        missing = call_time_missing if name in CALL_SHARE_COLUMNS else rng.random(n) < rate
        columns[name] = np.where(missing, np.nan, columns[name])


def _to_frame(columns: Columns, first_number: int) -> pd.DataFrame:
    n = len(columns["age"])
    numbers = pd.Series(np.arange(first_number, first_number + n))
    columns["customer_id"] = ("C" + numbers.astype(str).str.zfill(8)).to_numpy()
    data = {}
    for column in COLUMNS:
        values = columns[column.name]
        if column.dtype == "category":
            data[column.name] = pd.Categorical.from_codes(
                values, categories=CATEGORICAL_COLUMNS[column.name]
            )
        elif column.dtype == "str":
            data[column.name] = pd.array(values, dtype="str")
        else:
            data[column.name] = values.astype(column.dtype, copy=False)
    return pd.DataFrame(data)


def _pick(rng: np.random.Generator, probabilities: np.ndarray) -> np.ndarray:
    """One category index per row, row i drawn with probabilities[i]."""
    cumulative = np.cumsum(probabilities, axis=1)
    draws = rng.random((len(probabilities), 1)) * cumulative[:, -1:]
    return np.minimum((draws >= cumulative).sum(axis=1), probabilities.shape[1] - 1)


def _softmax(logits: np.ndarray) -> np.ndarray:
    weights = np.exp(logits - logits.max(axis=1, keepdims=True))
    return weights / weights.sum(axis=1, keepdims=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _lognormal(
    rng: np.random.Generator, median: np.ndarray | float, sigma: float, size: int | None = None
) -> np.ndarray:
    shape = np.shape(median) if size is None else size
    return np.asarray(median) * rng.lognormal(0.0, sigma, shape)


def _beta(rng: np.random.Generator, mean: np.ndarray, concentration: float) -> np.ndarray:
    return rng.beta(mean * concentration, (1 - mean) * concentration)
