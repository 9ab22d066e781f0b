import pandas as pd
import pytest

from training.common.labels import DataError, binary_labels, clean_labels


def test_binary_labels_read_the_usual_spellings():
    values = pd.Series(["1", "0", "Yes", "no", "TRUE", "false", "spam", "ham", "是", "否", ""])
    assert binary_labels(values, column="spam").tolist() == [
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        True,
        False,
        None,
    ]


def test_binary_labels_name_the_column_and_values_they_cannot_read():
    with pytest.raises(DataError, match=r"'label'.*'maybe'"):
        binary_labels(pd.Series(["yes", "maybe"]), column="label")


def test_clean_labels_strip_and_blank_out():
    assert clean_labels(pd.Series([" 账单查询 ", "  ", "宽带"])).tolist() == [
        "账单查询",
        pd.NA,
        "宽带",
    ]
