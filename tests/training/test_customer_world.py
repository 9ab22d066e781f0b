"""The built-in customer world: shape, reproducibility, the latent structure, learnability."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import f1_score, roc_auc_score

from training.customers.schema import (
    CALL_SHARE_COLUMNS,
    CHANNEL_CONTACT_COLUMNS,
    COLUMNS,
    FEATURE_COLUMNS,
    LABEL_COLUMNS,
    MISSING_RATES,
)
from training.customers.world import (
    BLOCK_ROWS,
    CHANNEL_SLUGS,
    CHANNELS,
    CONTENT_CATEGORIES,
    CONTENT_SLUGS,
    OCCUPATIONS,
    customer_rows,
    generate_customers,
    write_customers,
)

ROWS = 20_000
TRAIN_ROWS = 15_000
DOC = Path(__file__).resolve().parents[2] / "docs" / "customer-world.md"


@pytest.fixture(scope="module")
def world() -> pd.DataFrame:
    return generate_customers(ROWS, seed=11)


def by_occupation(world: pd.DataFrame, column: str) -> pd.Series:
    return world.groupby("occupation", observed=True)[column].mean()


def test_the_vocabulary_is_the_one_the_design_names():
    assert OCCUPATIONS == ("学生", "商务人士", "外来务工者", "年轻白领", "低收入人群", "司机")
    assert list(CHANNEL_SLUGS) == list(CHANNELS)
    assert list(CHANNEL_SLUGS.values()) == ["store", "web", "app", "sms", "hotline", "kiosk"]
    assert list(CONTENT_SLUGS) == list(CONTENT_CATEGORIES)
    assert CONTENT_SLUGS["游戏"] == "games" and CONTENT_SLUGS["财经"] == "finance"


def test_same_seed_gives_the_same_world_and_another_seed_another():
    first = generate_customers(3000, seed=4)
    pd.testing.assert_frame_equal(first, generate_customers(3000, seed=4))
    other = generate_customers(3000, seed=5)
    assert not first.drop(columns="customer_id").equals(other.drop(columns="customer_id"))
    assert (first["age"] != other["age"]).mean() > 0.5


def test_a_customer_does_not_depend_on_how_many_are_drawn():
    small = generate_customers(2500, seed=3)
    large = generate_customers(BLOCK_ROWS + 2000, seed=3)
    pd.testing.assert_frame_equal(small, large.head(2500))
    across_blocks = customer_rows(BLOCK_ROWS - 10, BLOCK_ROWS + 20, seed=3)
    expected = large.iloc[BLOCK_ROWS - 10 : BLOCK_ROWS + 20].reset_index(drop=True)
    pd.testing.assert_frame_equal(across_blocks, expected)


@pytest.mark.parametrize("n", [0, 1, 9_999, 10_001])
def test_exactly_n_customers_with_unique_numbered_ids(n: int):
    customers = generate_customers(n, seed=1)
    assert len(customers) == n
    assert customers["customer_id"].is_unique
    if n:
        assert customers["customer_id"].iloc[0] == "C00000001"
        assert customers["customer_id"].iloc[-1] == f"C{n:08d}"


def test_columns_and_dtypes_follow_the_schema(world: pd.DataFrame):
    assert list(world.columns) == [column.name for column in COLUMNS]
    for column in COLUMNS:
        dtype = world[column.name].dtype
        if column.dtype == "category":
            assert list(dtype.categories) == list(column.categories), column.name
        elif column.dtype == "str":
            assert pd.api.types.is_string_dtype(dtype), column.name
        else:
            assert dtype == np.dtype(column.dtype), column.name
    assert set(FEATURE_COLUMNS).isdisjoint({"churned", "occupation", "customer_id"})


def test_values_stay_in_their_ranges(world: pd.DataFrame):
    assert world["age"].between(16, 80).all()
    assert world["city_tier"].between(1, 4).all()
    assert (world["tenure_months"] >= 1).all()
    assert world["survey_score"].dropna().between(1, 10).all()
    lengths = world["contract_type"].map({"无合约": 0, "12个月合约": 12, "24个月合约": 24})
    assert world["contract_months_left"].between(0, lengths.astype(int)).all()
    shares = world[list(CALL_SHARE_COLUMNS)].dropna()
    assert np.allclose(shares.sum(axis=1), 1, atol=0.002)
    for column in ("long_distance_share", "roaming_share", "vas_revenue_share"):
        assert world[column].dropna().between(0, 1).all(), column
    spend = world[["spend_m1", "spend_m2", "spend_m3"]]
    assert (spend > 0).all().all() and (world["plan_monthly_fee"] > 0).all()
    flags = world[[c.name for c in COLUMNS if c.label and c.dtype == "int64"]]
    assert set(np.unique(flags.to_numpy())) == {0, 1}


def test_churn_rate_and_occupation_shares_are_in_band(world: pd.DataFrame):
    assert 0.15 <= world["churned"].mean() <= 0.25
    shares = world["occupation"].value_counts(normalize=True)
    assert set(shares.index) == set(OCCUPATIONS)
    assert shares.between(0.08, 0.30).all(), shares


def test_blanks_follow_the_schema(world: pd.DataFrame):
    missing = world.isna().mean()
    for column, rate in MISSING_RATES.items():
        assert abs(missing[column] - rate) < max(0.01, rate * 0.1), column
    assert 0.45 <= missing["survey_score"] <= 0.55
    assert (missing.drop(list(MISSING_RATES)) == 0).all()
    call_time_blanks = world[list(CALL_SHARE_COLUMNS)].isna()
    assert call_time_blanks.all(axis=1).equals(call_time_blanks.any(axis=1))


def test_occupation_shapes_the_calling_pattern(world: pd.DataFrame):
    stations = by_occupation(world, "base_station_changes_per_day")
    assert stations["司机"] > 2 * stations["学生"]
    assert stations["司机"] == stations.max()
    assert by_occupation(world, "call_share_night").idxmax() == "学生"
    assert by_occupation(world, "call_share_daytime").idxmax() == "商务人士"
    assert by_occupation(world, "distinct_numbers_called").idxmax() == "商务人士"
    assert by_occupation(world, "roaming_share").idxmax() == "商务人士"
    assert by_occupation(world, "top_province_call_share").idxmax() == "外来务工者"
    assert by_occupation(world, "data_gb").idxmax() == "年轻白领"
    assert by_occupation(world, "spend_m1").idxmin() == "低收入人群"


def test_churn_follows_tenure_contract_complaints_and_falling_bills(world: pd.DataFrame):
    churners, stayers = world[world["churned"] == 1], world[world["churned"] == 0]
    assert churners["tenure_months"].mean() < 0.8 * stayers["tenure_months"].mean()
    assert churners["complaints_6m"].mean() > 1.5 * stayers["complaints_6m"].mean()
    assert churners["spend_trend"].mean() < stayers["spend_trend"].mean() - 0.01
    assert churners["survey_score"].mean() < stayers["survey_score"].mean() - 0.5
    bound_for_long = world[world["contract_months_left"] > 2]
    no_contract = world[world["contract_type"] == "无合约"]
    assert no_contract["churned"].mean() > 1.5 * bound_for_long["churned"].mean()


def test_age_and_occupation_shape_channel_reliance(world: pd.DataFrame):
    older, younger = world[world["age"] >= 55], world[world["age"] < 30]
    assert older["relies_on_store"].mean() > younger["relies_on_store"].mean() + 0.15
    assert older["relies_on_hotline"].mean() > younger["relies_on_hotline"].mean()
    assert younger["relies_on_app"].mean() > older["relies_on_app"].mean() + 0.2
    assert by_occupation(world, "relies_on_hotline").idxmax() == "司机"
    for slug, contacts in CHANNEL_CONTACT_COLUMNS.items():
        reliant = world[f"relies_on_{slug}"] == 1
        assert world.loc[reliant, contacts].mean() > 2 * world.loc[~reliant, contacts].mean()


def test_a_fair_share_of_likers_show_no_explicit_signal(world: pd.DataFrame):
    for slug in CONTENT_SLUGS.values():
        likers = world[world[f"likes_{slug}"] == 1]
        silent = (likers[f"{slug}_subscriptions"] == 0) & (likers[f"{slug}_visits_30d"] == 0)
        assert 0.3 <= silent.mean() <= 0.5, slug
    assert by_occupation(world, "likes_games").idxmax() == "学生"
    assert by_occupation(world, "likes_business").idxmax() == "商务人士"


def test_write_customers_streams_chunks_that_add_up_to_the_world(tmp_path: Path):
    (tmp_path / "customers-00009.parquet").write_bytes(b"left over from a bigger run")
    (tmp_path / "notes.txt").write_text("not ours")
    written: list[int] = []
    paths = write_customers(tmp_path, 13_000, seed=2, chunk_rows=4_000, progress=written.append)
    assert [path.name for path in paths] == [f"customers-{i:05d}.parquet" for i in range(4)]
    assert written == [4_000, 4_000, 4_000, 1_000]  # the third chunk spans two blocks
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [p.name for p in paths] + ["notes.txt"]
    )
    chunks = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    assert len(chunks) == 13_000 and chunks["customer_id"].is_unique
    pd.testing.assert_frame_equal(chunks, generate_customers(13_000, seed=2))


def test_write_customers_as_csv(tmp_path: Path):
    paths = write_customers(tmp_path, 2_500, seed=2, chunk_rows=1_000, file_format="csv")
    assert [path.name for path in paths] == [f"customers-{i:05d}.csv" for i in range(3)]
    chunks = pd.concat([pd.read_csv(path) for path in paths], ignore_index=True)
    expected = generate_customers(2_500, seed=2)
    assert list(chunks.columns) == list(expected.columns)
    assert chunks["customer_id"].tolist() == expected["customer_id"].tolist()
    assert np.allclose(chunks["spend_m1"], expected["spend_m1"])
    assert chunks["survey_score"].isna().sum() == expected["survey_score"].isna().sum()


def test_write_customers_without_labels_keeps_only_what_a_crm_holds(tmp_path: Path):
    (path,) = write_customers(tmp_path, 300, seed=2, file_format="csv", labels=False)
    written = pd.read_csv(path)
    expected = generate_customers(300, seed=2).drop(columns=list(LABEL_COLUMNS))
    assert list(written.columns) == list(expected.columns)
    assert not set(LABEL_COLUMNS) & set(written.columns)


def test_write_customers_refuses_what_it_cannot_write(tmp_path: Path):
    with pytest.raises(ValueError, match="file_format"):
        write_customers(tmp_path, 10, file_format="xlsx")
    with pytest.raises(ValueError, match="chunk_rows"):
        write_customers(tmp_path, 10, chunk_rows=0)


def fit_and_predict(
    world: pd.DataFrame, features: list[str], labels: pd.Series, **params
) -> np.ndarray:
    """Train on the first TRAIN_ROWS customers; class probabilities for the rest."""
    model = HistGradientBoostingClassifier(
        categorical_features="from_dtype", random_state=0, **params
    )
    model.fit(world[features][:TRAIN_ROWS], labels[:TRAIN_ROWS])
    return model.predict_proba(world[features][TRAIN_ROWS:])


def test_churn_is_learnable_but_not_trivial(world: pd.DataFrame):
    held_out = world["churned"][TRAIN_ROWS:]
    model_auc = roc_auc_score(
        held_out, fit_and_predict(world, list(FEATURE_COLUMNS), world["churned"])[:, 1]
    )
    tenure_auc = roc_auc_score(held_out, -world["tenure_months"][TRAIN_ROWS:])
    assert 0.75 <= model_auc <= 0.95
    assert model_auc > tenure_auc + 0.08


def test_occupation_is_learnable_but_not_trivial(world: pd.DataFrame):
    codes = world["occupation"].cat.codes
    held_out = codes[TRAIN_ROWS:]
    quick = {"max_iter": 60, "learning_rate": 0.15, "early_stopping": False}
    probabilities = fit_and_predict(world, list(FEATURE_COLUMNS), codes, **quick)
    macro_f1 = f1_score(held_out, probabilities.argmax(axis=1), average="macro")
    one_feature = fit_and_predict(world, ["base_station_changes_per_day"], codes, **quick)
    baseline_f1 = f1_score(held_out, one_feature.argmax(axis=1), average="macro")
    assert 0.5 <= macro_f1 <= 0.9
    assert macro_f1 > baseline_f1 + 0.25


def test_latent_taste_can_be_found_without_explicit_signals(world: pd.DataFrame):
    explicit = {c for c in FEATURE_COLUMNS if c.endswith(("_subscriptions", "_visits_30d"))}
    implicit = [c for c in FEATURE_COLUMNS if c not in explicit]
    rows = world[TRAIN_ROWS:]
    silent = ((rows["games_subscriptions"] == 0) & (rows["games_visits_30d"] == 0)).to_numpy()
    scores = fit_and_predict(world, implicit, world["likes_games"], max_iter=60)[:, 1]
    assert roc_auc_score(rows["likes_games"][silent], scores[silent]) > 0.7


def test_the_documented_schema_lists_every_column():
    documented = set(re.findall(r"^\| `(\w+)`", DOC.read_text(encoding="utf-8"), re.MULTILINE))
    assert documented == {column.name for column in COLUMNS}
