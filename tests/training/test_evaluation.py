"""The headline figures of held-out feedback, which often holds a single class."""

import warnings

import pytest

from training.common.evaluation import headline_figures


def test_macro_f1_is_over_the_classes_in_truth_or_answer():
    figures = headline_figures(["宽带故障"] * 4, ["宽带故障", "宽带故障", "资费套餐", "资费套餐"])
    assert figures["accuracy"] == 0.5
    # 宽带故障: precision 1, recall 0.5 -> F1 2/3; 资费套餐: never right -> 0
    assert figures["macro_f1"] == pytest.approx(1 / 3)


def test_one_class_answered_right_is_perfect_and_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert headline_figures(["宽带故障"] * 3, ["宽带故障"] * 3) == {
            "accuracy": 1.0,
            "macro_f1": 1.0,
        }
