"""Checking customer rows against the schema: bad rows reported by line, nothing coerced."""

from __future__ import annotations

import pandas as pd

from app.services.customer_records import RowProblem, check_chunk


def _check(rows: dict[str, list]) -> tuple:
    frame = pd.DataFrame(rows)
    checked = check_chunk(frame, id_column="customer_id", lines=range(2, 2 + len(frame)))
    return checked.customer_ids, checked.records, checked.problems


def test_known_columns_are_typed_and_blanks_become_none():
    ids, records, problems = _check(
        {
            "customer_id": ["C1", "C2"],
            "age": ["35", ""],
            "survey_score": ["7.5", "NaN"],
            "gender": ["女", " "],
        }
    )
    assert problems == []
    assert ids == ["C1", "C2"]
    assert records == [
        {"age": 35, "survey_score": 7.5, "gender": "女"},
        {"age": None, "survey_score": None, "gender": None},
    ]


def test_values_that_do_not_fit_are_reported_not_changed():
    ids, _, problems = _check(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "age": ["abc", "35.5", "40", "41", "inf"],
            "gender": ["女", "女", "female", "男", "男"],
            "spend_m1": ["1", "2", "3", "x", "5"],
        }
    )
    assert ids == []
    assert problems == [
        RowProblem(2, "age: not a whole number"),
        RowProblem(3, "age: not a whole number"),
        RowProblem(4, "gender: not one of 男, 女"),
        RowProblem(5, "spend_m1: not a number"),
        RowProblem(6, "age: not a whole number"),
    ]


def test_blank_and_repeated_ids():
    ids, _, problems = _check({"customer_id": ["C1", "", "C1", None], "age": ["1", "2", "3", "4"]})
    assert ids == ["C1"]
    assert problems == [
        RowProblem(3, "customer_id: blank"),
        RowProblem(4, "customer_id: repeats the id on line 2"),
        RowProblem(5, "customer_id: blank"),
    ]


def test_reasons_never_quote_the_value():
    _, _, problems = _check({"customer_id": ["C1"], "gender": ["13800138000"]})
    assert "13800138000" not in problems[0].reason


def test_unknown_columns_are_kept_as_they_are():
    _, records, _ = _check({"customer_id": ["C1"], "vip_level": ["NA"], "score_2024": [" 12 "]})
    assert records == [{"vip_level": "NA", "score_2024": " 12 "}]
