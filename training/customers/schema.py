"""The customer world's vocabulary and its columns: name, type, unit, meaning, share of blanks.

``COLUMNS`` is the one table of what a customer record holds; the generator
(``training.customers.world``) draws its blanks from it, trainers pick features and labels from it,
and the table in docs/customer-world.md mirrors it (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass

OCCUPATIONS = ("学生", "商务人士", "外来务工者", "年轻白领", "低收入人群", "司机")
CHANNELS = ("营业厅", "网上营业厅", "手机营业厅", "短信营业厅", "热线", "自助终端")
CONTENT_CATEGORIES = ("新闻", "商务", "财经", "体育", "娱乐", "生活", "文化", "游戏")
CHANNEL_SLUGS = dict(zip(CHANNELS, ("store", "web", "app", "sms", "hotline", "kiosk")))
CONTENT_SLUGS = dict(
    zip(
        CONTENT_CATEGORIES,
        ("news", "business", "finance", "sports", "entertainment", "lifestyle", "culture", "games"),
    )
)
CHANNEL_CONTACT_COLUMNS = {
    "store": "store_visits_6m",
    "web": "web_logins_6m",
    "app": "app_logins_6m",
    "sms": "sms_requests_6m",
    "hotline": "hotline_calls_6m",
    "kiosk": "kiosk_uses_6m",
}
GENDERS = ("男", "女")
REGIONS = ("华北", "东北", "华东", "华中", "华南", "西南", "西北")
PLANS = ("校园套餐", "基础套餐", "畅享套餐", "大流量套餐", "商旅套餐", "亲情套餐")
CONTRACT_TYPES = ("无合约", "12个月合约", "24个月合约")
LONG_DISTANCE_TYPES = ("无", "省内长途", "省际长途", "国际长途")
ROAMING_TYPES = ("无", "省内漫游", "省际漫游", "国际漫游")
SP_SERVICE_TYPES = ("music", "video", "game", "reading", "payment", "navigation")
TIMES_OF_DAY = ("morning", "daytime", "evening", "night")
CALL_SHARE_COLUMNS = tuple(f"call_share_{time}" for time in TIMES_OF_DAY)


@dataclass(frozen=True)
class Column:
    """One column of a customer record."""

    name: str
    dtype: str  # "str", "int64", "float64" (numbers that may be blank) or "category"
    unit: str
    meaning: str
    missing_rate: float = 0.0  # share of blanks the generator draws
    categories: tuple[str, ...] = ()
    label: bool = False  # ground truth, not a feature


def _category(
    name: str, categories: tuple[str, ...], meaning: str, *, label: bool = False
) -> Column:
    return Column(name, "category", "", meaning, categories=categories, label=label)


def _flag(name: str, meaning: str) -> Column:
    return Column(name, "int64", "0/1", meaning, label=True)


_NATURAL = (
    Column(
        "customer_id", "str", "", "customer number: C and 8 digits (C00000001), unique in a world"
    ),
    Column("age", "int64", "years", "age, 16-80"),
    _category("gender", GENDERS, "gender"),
    _category("region", REGIONS, "region of the account"),
    Column("city_tier", "int64", "1-4", "city tier: 1 first-tier city ... 4 county town or rural"),
    _category("plan_name", PLANS, "tariff plan"),
    Column("plan_monthly_fee", "float64", "yuan/month", "the plan's monthly fee"),
    Column("tenure_months", "int64", "months", "months since the account was opened"),
    _category("contract_type", CONTRACT_TYPES, "contract the customer is bound by"),
    Column("contract_months_left", "int64", "months", "months until the contract ends; 0 if none"),
)

_CONSUMPTION = (
    Column("spend_m1", "float64", "yuan", "bill for the last complete month"),
    Column("spend_m2", "float64", "yuan", "bill for the month before"),
    Column("spend_m3", "float64", "yuan", "bill three months ago"),
    Column(
        "spend_trend", "float64", "share/month", "(spend_m1 - spend_m3) / 2 / mean of the three"
    ),
    Column("voice_minutes", "float64", "minutes/month", "outgoing voice minutes", 0.02),
    Column("data_gb", "float64", "GB/month", "mobile data used", 0.03),
    Column("sms_count", "float64", "messages/month", "SMS sent", 0.02),
    *(
        Column(column, "float64", "share", f"share of calls made in the {time}", 0.04)
        for column, time in zip(
            CALL_SHARE_COLUMNS,
            ("morning (06-09)", "daytime (09-18)", "evening (18-23)", "night (23-06)"),
        )
    ),
    Column("mean_call_minutes", "float64", "minutes", "mean length of a call", 0.04),
    Column(
        "long_distance_share",
        "float64",
        "share",
        "share of voice minutes that are long-distance",
        0.03,
    ),
    _category(
        "long_distance_type", LONG_DISTANCE_TYPES, "most frequent kind of long-distance call"
    ),
    Column(
        "top_province_call_share",
        "float64",
        "share",
        "share of long-distance minutes to the single most-called province; 0 if none",
        0.03,
    ),
    Column("roaming_share", "float64", "share", "share of voice minutes made while roaming", 0.03),
    _category("roaming_type", ROAMING_TYPES, "most frequent kind of roaming"),
    Column("distinct_numbers_called", "float64", "numbers/month", "distinct numbers called", 0.03),
    Column(
        "base_station_changes_per_day", "float64", "changes/day", "cell hand-overs and moves", 0.05
    ),
    Column(
        "vas_revenue_share", "float64", "share", "value-added/SP services' share of the bill", 0.04
    ),
    *(
        Column(f"sp_{kind}_uses", "int64", "uses/month", f"uses of {kind} SP services")
        for kind in SP_SERVICE_TYPES
    ),
)

_CHANNEL_CONTACTS = (
    "visits to",
    "logins to",
    "logins to",
    "requests sent to",
    "calls to",
    "uses of",
)
_CHANNEL_USE = tuple(
    Column(column, "int64", "count/6 months", f"{contacts} {name} ({slug}) in the last 6 months")
    for (name, slug), column, contacts in zip(
        CHANNEL_SLUGS.items(), CHANNEL_CONTACT_COLUMNS.values(), _CHANNEL_CONTACTS
    )
)

_CONTENT_USE = tuple(
    column
    for name, slug in CONTENT_SLUGS.items()
    for column in (
        Column(f"{slug}_subscriptions", "int64", "count", f"active {name} ({slug}) subscriptions"),
        Column(
            f"{slug}_visits_30d", "int64", "visits/30 days", f"app/WAP visits to {name} content"
        ),
    )
)

_SERVICE = (
    Column("complaints_6m", "int64", "count/6 months", "complaints filed"),
    Column("survey_score", "float64", "1-10", "last satisfaction survey score", 0.5),
)

_LABELS = (
    _flag("churned", "left within the following 3 months"),
    _category("occupation", OCCUPATIONS, "occupation", label=True),
    *(_flag(f"relies_on_{slug}", f"relies on {name}") for name, slug in CHANNEL_SLUGS.items()),
    *(_flag(f"likes_{slug}", f"likes {name} content") for name, slug in CONTENT_SLUGS.items()),
)

COLUMNS: tuple[Column, ...] = (
    *_NATURAL,
    *_CONSUMPTION,
    *_CHANNEL_USE,
    *_CONTENT_USE,
    *_SERVICE,
    *_LABELS,
)
COLUMN_NAMES = tuple(column.name for column in COLUMNS)
FEATURE_COLUMNS = tuple(c.name for c in COLUMNS if not c.label and c.name != "customer_id")
LABEL_COLUMNS = tuple(c.name for c in COLUMNS if c.label)
CATEGORICAL_COLUMNS = {c.name: c.categories for c in COLUMNS if c.dtype == "category"}
MISSING_RATES = {c.name: c.missing_rate for c in COLUMNS if c.missing_rate > 0}

# Drifted worlds (docs/customer-world.md, "Drifted worlds"): each name, with the feature columns
# it moves; every other feature column keeps its distribution.
DRIFTED_WORLDS: dict[str, tuple[str, ...]] = {
    "price-war": ("spend_m1", "spend_m2", "spend_trend"),
}
