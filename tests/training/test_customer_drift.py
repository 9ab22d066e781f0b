"""Drifted customer worlds: the base world stays as it was; the price war moves the bills and
churn as docs/customer-world.md says, measured with the drift monitor's own statistics."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training.common.drift import bin_shares, category_shares, psi, quantile_edges
from training.customers.schema import (
    CATEGORICAL_COLUMNS,
    DRIFTED_WORLDS,
    FEATURE_COLUMNS,
    MISSING_RATES,
)
from training.customers.world import (
    BLOCK_ROWS,
    customer_rows,
    generate_customers,
    write_customers,
)

ROWS = 20_000
SHIFTED = DRIFTED_WORLDS["price-war"]
PRICE_SENSITIVE = ["学生", "外来务工者", "低收入人群"]


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    return generate_customers(ROWS, seed=0)


@pytest.fixture(scope="module")
def war() -> pd.DataFrame:
    """The price war drawn from another seed than the base world, as production traffic is."""
    return generate_customers(ROWS, seed=1, drift="price-war")


@pytest.fixture(scope="module")
def war_of_the_same_seed() -> pd.DataFrame:
    return generate_customers(ROWS, seed=0, drift="price-war")


def column_psi(column: str, reference: pd.DataFrame, current: pd.DataFrame) -> float:
    """PSI of one column as the drift monitor takes it: 10 quantile bins of the reference (and
    the missing share) for numbers, the categories' shares for categories."""
    if column in CATEGORICAL_COLUMNS:
        categories = list(CATEGORICAL_COLUMNS[column])
        return psi(
            category_shares(reference[column].astype(object), categories),
            category_shares(current[column].astype(object), categories),
        )
    values = reference[column].to_numpy(dtype=float)
    edges = quantile_edges(values, 10)
    return psi(bin_shares(values, edges), bin_shares(current[column].to_numpy(dtype=float), edges))


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()


def test_the_base_world_is_the_one_drawn_before_drifted_worlds_existed():
    # Digests taken before the drift option was added. numpy's Generator streams or pandas'
    # CSV formatting could change them on an upgrade; nothing in this repository should.
    assert digest(generate_customers(3000, seed=7)) == (
        "5f9c0f033e0ed6f0ff306465b60f4736504d63e210cc80d07513c11d960efe24"
    )
    assert digest(customer_rows(9990, 10020, seed=2)) == (
        "d3abe3833547a6e1fd8ece60f2eca3725dc58181ed72b9b17f4874c49dbd35f3"
    )


def test_every_drifted_world_names_feature_columns():
    for name, columns in DRIFTED_WORLDS.items():
        assert columns and set(columns) <= set(FEATURE_COLUMNS), name
        assert len(generate_customers(10, seed=0, drift=name)) == 10


@pytest.mark.parametrize("column", SHIFTED)
def test_the_price_war_moves_each_shifted_feature(column, base, war):
    assert column_psi(column, base, war) > 0.25


def test_the_price_war_leaves_every_other_feature_where_it_was(base, war):
    others = [column for column in FEATURE_COLUMNS if column not in SHIFTED]
    assert "spend_m3" in others and "vas_revenue_share" in others
    shifts = {column: column_psi(column, base, war) for column in others}
    assert max(shifts.values()) < 0.02, sorted(shifts.items(), key=lambda item: -item[1])[:3]
    for column in MISSING_RATES:
        assert abs(war[column].isna().mean() - base[column].isna().mean()) < 0.01, column


def test_of_the_same_seed_only_the_bills_and_churn_differ(base, war_of_the_same_seed):
    kept = [column for column in base.columns if column not in (*SHIFTED, "churned")]
    pd.testing.assert_frame_equal(war_of_the_same_seed[kept], base[kept])
    remaining = war_of_the_same_seed["spend_m1"] / base["spend_m1"]
    assert remaining.between(0.2, 1.0).all()
    assert 0.6 < remaining.mean() < 0.7
    assert (war_of_the_same_seed["spend_trend"] < base["spend_trend"]).mean() > 0.99


def test_the_price_war_drives_price_sensitive_customers_away(base, war_of_the_same_seed):
    war = war_of_the_same_seed
    assert 0.09 < war["churned"].mean() - base["churned"].mean() < 0.14
    assert (war["churned"] >= base["churned"]).all()  # nobody who left stays
    business = base["occupation"] == "商务人士"
    assert (war["churned"][business] == base["churned"][business]).all()
    free = base["occupation"].isin(PRICE_SENSITIVE) & (base["contract_type"] == "无合约")
    assert war["churned"][free].mean() - base["churned"][free].mean() > 0.2


def test_a_drifted_customer_does_not_depend_on_how_many_are_drawn(tmp_path: Path):
    large = generate_customers(BLOCK_ROWS + 500, seed=3, drift="price-war")
    small = generate_customers(700, seed=3, drift="price-war")
    pd.testing.assert_frame_equal(small, large.head(700))
    across = customer_rows(BLOCK_ROWS - 5, BLOCK_ROWS + 5, seed=3, drift="price-war")
    expected = large.iloc[BLOCK_ROWS - 5 : BLOCK_ROWS + 5].reset_index(drop=True)
    pd.testing.assert_frame_equal(across, expected)
    paths = write_customers(tmp_path, BLOCK_ROWS + 500, seed=3, chunk_rows=4000, drift="price-war")
    written = pd.concat([pd.read_parquet(path) for path in paths], ignore_index=True)
    pd.testing.assert_frame_equal(written, large)


def test_an_unknown_drift_is_refused_by_name():
    with pytest.raises(ValueError, match="price-war"):
        generate_customers(10, drift="recession")
    assert np.isfinite(generate_customers(10, drift=None)["spend_m1"]).all()
