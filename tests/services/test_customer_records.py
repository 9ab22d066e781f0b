"""Checking customer rows against the schema: bad rows reported by line, nothing coerced."""

from __future__ import annotations

import pandas as pd

from app.core.errors import FieldError
from app.services.customer_records import RowProblem, check_chunk, record_problems


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


def test_whole_numbers_must_be_written_as_such():
    ids, records, problems = _check(
        {
            "customer_id": ["C1", "C2", "C3", "C4", "C5"],
            "city_tier": ["1e3", "30.0", str(2**53), " 2 ", "-3"],
        }
    )
    assert problems == [
        RowProblem(2, "city_tier: not a whole number"),
        RowProblem(3, "city_tier: not a whole number"),
        RowProblem(4, "city_tier: not a whole number"),
    ]
    assert records == [{"city_tier": 2}, {"city_tier": -3}]


def test_ids_and_text_that_cannot_be_stored():
    ids, _, problems = _check(
        {"customer_id": ["C1", "C\x002", "C" * 129, "C 4"], "note": ["a\x00b", "", "", ""]}
    )
    assert ids == []
    assert problems == [
        RowProblem(2, "note: holds a NUL character"),
        RowProblem(3, "customer_id: may hold only ASCII letters, digits and - _ . : @ +"),
        RowProblem(4, "customer_id: longer than 128 characters"),
        RowProblem(5, "customer_id: may hold only ASCII letters, digits and - _ . : @ +"),
    ]


def test_a_json_record_keeps_the_same_rules():
    problems = record_problems(
        {
            "age": "abc",
            "city_tier": 2.5,
            "gender": "female",
            "survey_score": float("nan"),
            "complaints_6m": True,  # a boolean is not a number here
            "note": "a\x00b",
            "history": {"nested": [1]},  # a record is a row of a table: plain values only
            "tags": ["a"],
            "tenure_months": 12.0,  # JSON has one number type: whole is whole
            "vip_level": "金卡",
            "region": None,
        }
    )
    assert problems == [
        FieldError("features.age", "not a whole number"),
        FieldError("features.city_tier", "not a whole number"),
        FieldError("features.gender", "not one of 男, 女"),
        FieldError("features.survey_score", "not a number"),
        FieldError("features.complaints_6m", "not a whole number"),
        FieldError("features.note", "holds a NUL character"),
        FieldError("features.history", "must be a number, text, true or false, or null"),
        FieldError("features.tags", "must be a number, text, true or false, or null"),
    ]
    assert record_problems({}) == [FieldError("features", "must hold at least one feature")]
    assert record_problems({"bad\x00name": 1}) == [
        FieldError("features", "a feature's name holds a NUL character")
    ]
