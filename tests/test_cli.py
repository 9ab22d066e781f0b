"""The command line end to end: data, train, promote, list, predict; in a temporary store."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from app.cli import main


@pytest.fixture
def insight(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("INSIGHT_DATA_DIR", str(tmp_path / "var"))
    runner = CliRunner()

    def run(*args: str):
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result

    return run


def test_data_train_promote_predict(insight, tmp_path):
    corpus = tmp_path / "demands.csv"
    assert (
        insight("data", "demands", "--out", str(corpus), "--n", "900", "--seed", "3").exit_code == 0
    )
    frame = pd.read_csv(corpus)
    assert len(frame) == 900 and {"text", "category", "spam"} <= set(frame.columns)

    trained = insight("train", "demand-classifier", "--data", str(corpus))
    assert trained.exit_code == 0, trained.output
    assert "registered demand-classifier version 1" in trained.output
    assert "run id:" in trained.output

    promoted = insight("models", "promote", "demand-classifier", "--version", "latest")
    assert promoted.stdout.strip() == "demand-classifier@production -> version 1"
    listed = insight("models", "list").output
    assert "demand-classifier" in listed and "production" in listed

    out = tmp_path / "predicted"
    predicted = insight("predict", "demand-classifier", "--data", str(corpus), "--out", str(out))
    assert predicted.exit_code == 0, predicted.output
    answers = pd.read_parquet(out)
    assert answers["source_row"].tolist() == list(range(900))
    assert answers["confidence"].between(0, 1).all()
    assert set(answers["demand_classifier_version"]) == {"1"}
    labelled = frame["category"].notna()
    assert (answers["category"][labelled] == frame["category"][labelled]).mean() > 0.6


def test_spam_filter_trains_on_any_label_spelling(insight, tmp_path, demand_corpus):
    frame = demand_corpus.assign(垃圾=demand_corpus["spam"].map({1: "是", 0: "否"}))
    path = tmp_path / "spam.csv"
    frame.rename(columns={"text": "内容"}).to_csv(path, index=False)
    result = insight(
        "train",
        "spam-filter",
        "--data",
        str(path),
        "--text-column",
        "内容",
        "--label-column",
        "垃圾",
    )
    assert result.exit_code == 0, result.output
    assert "registered spam-filter version 1" in result.output


def test_user_mistakes_are_reported_without_a_traceback(insight, tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"text": ["a"] * 30, "label": ["x", "y", "z"] * 10}).to_csv(path, index=False)
    missing = insight("train", "demand-classifier", "--data", str(path))
    assert missing.exit_code == 1
    assert "column 'category' not found" in missing.output and "Traceback" not in missing.output
    family = insight(
        "train",
        "demand-classifier",
        "--data",
        str(path),
        "--label-column",
        "label",
        "--candidates",
        "trees",
    )
    assert family.exit_code == 1 and "Traceback" not in family.output
    assert "unknown candidate family trees; choose all, default, or from" in family.output
    precision = insight("train", "spam-filter", "--target-precision", "1.5")
    assert precision.exit_code == 2 and "--target-precision" in precision.output
    unknown = insight("models", "promote", "no-such-model", "--version", "1")
    assert unknown.exit_code == 1 and "no-such-model" in unknown.output
    both = insight(
        "predict", "x", "--data", str(path), "--out", "o.csv", "--alias", "a", "--version", "1"
    )
    assert both.exit_code == 2


def test_every_command_has_help(insight):
    for command in (
        [],
        ["data", "demands"],
        ["train", "demand-classifier"],
        ["train", "spam-filter"],
        ["models", "list"],
        ["models", "stage"],
        ["models", "promote"],
        ["models", "rollback"],
        ["models", "describe"],
        ["predict"],
        ["serve"],
    ):
        result = insight(*command, "--help")
        assert result.exit_code == 0 and "Usage:" in result.output
