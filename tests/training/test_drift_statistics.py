"""The drift statistics against hand-worked values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.common.drift import (
    bin_shares,
    category_shares,
    jensen_shannon,
    psi,
    quantile_edges,
)


def test_quantile_edges_split_the_reference_evenly_and_ignore_missing():
    values = np.append(np.arange(1000, dtype=float), [np.nan, np.inf])
    edges = quantile_edges(values, bins=4)
    assert edges.tolist() == pytest.approx([249.75, 499.5, 749.25])
    shares = bin_shares(values[:1000], edges)
    assert shares.tolist() == pytest.approx([0.25, 0.25, 0.25, 0.25, 0.0])


def test_a_constant_column_has_one_edge_and_missing_values_their_own_share():
    edges = quantile_edges(np.full(50, 3.0))
    assert edges.tolist() == [3.0]
    shares = bin_shares(np.array([1.0, 3.0, 7.0, np.nan]), edges)
    assert shares.tolist() == [0.25, 0.5, 0.25]


def test_psi_is_zero_for_equal_shares_and_matches_the_formula():
    reference = np.array([0.5, 0.5])
    assert psi(reference, reference) == pytest.approx(0.0, abs=1e-12)
    expected = (0.8 - 0.5) * math.log(0.8 / 0.5) + (0.2 - 0.5) * math.log(0.2 / 0.5)
    assert psi(reference, np.array([0.8, 0.2])) == pytest.approx(expected, rel=1e-3)


def test_an_empty_bin_is_a_large_shift_not_an_infinite_one():
    value = psi(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert math.isfinite(value) and value > 10


def test_jensen_shannon_is_between_zero_and_one():
    assert jensen_shannon(np.array([0.3, 0.7]), np.array([0.3, 0.7])) == pytest.approx(0, abs=1e-9)
    assert jensen_shannon(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(1, abs=1e-2)


def test_category_shares_count_unknown_categories_as_other():
    shares = category_shares(["a", "b", "b", "z"], ["a", "b"])
    assert shares.tolist() == [0.25, 0.5, 0.25]
    assert category_shares([], ["a"]).tolist() == [0.0, 0.0]
