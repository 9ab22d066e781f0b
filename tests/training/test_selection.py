"""Choosing a model family by cross-validation on the training split."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from training.common.labels import DataError
from training.common.selection import Candidate, choose_candidates, select


def informative(x):
    return x[:, :1]


def noise(x):
    return x[:, 1:]


CANDIDATES = [
    Candidate(family, {"pick": FunctionTransformer(pick), "model__C": c}, f"{family}, C={c}")
    for family, pick in (("noise", noise), ("informative", informative))
    for c in (0.1, 1.0)
]


def _data(rows=400):
    random = np.random.default_rng(0)
    signal = random.normal(size=rows)
    x = np.column_stack([signal, random.normal(size=(rows, 3))])
    y = np.where(signal + 0.3 * random.normal(size=rows) > 0, "left", "right")
    return x, y


def test_the_candidate_that_generalizes_wins_and_every_one_is_in_the_table():
    x, y = _data()
    searched = Pipeline([("pick", FunctionTransformer()), ("model", LogisticRegression())])
    selection = select(searched, CANDIDATES, x, y, scoring="f1_macro", seed=0)
    assert selection.winner["family"] == "informative"
    assert set(selection.table["candidate"]) == {c.label for c in CANDIDATES}
    assert list(selection.table["score"]) == sorted(selection.table["score"], reverse=True)
    assert (selection.table["fit_seconds"] > 0).all()
    assert selection.table.iloc[-1]["score"] < 0.7 < selection.winner["score"]
    reason = selection.reason()
    assert selection.winner["candidate"] in reason and "next was" in reason
    assert "| candidate |" in selection.markdown()


def test_one_candidate_is_not_searched():
    x, y = _data(40)
    selection = select(None, CANDIDATES[:1], x, y, scoring="f1_macro", seed=0)
    assert selection.winner["candidate"] == CANDIDATES[0].label
    assert "only candidate" in selection.reason()


@pytest.mark.parametrize(
    ("asked", "families"),
    [
        ("all", ["noise", "noise", "informative", "informative"]),
        ("default", ["informative"]),
        ("informative", ["informative", "informative"]),
        (" noise , informative ", ["noise", "noise", "informative", "informative"]),
    ],
)
def test_candidates_asked_for(asked, families):
    chosen = choose_candidates(CANDIDATES, asked, default=CANDIDATES[-1])
    assert [candidate.family for candidate in chosen] == families


@pytest.mark.parametrize("asked", ["trees", "", "noise,trees"])
def test_an_unknown_family_is_named_with_the_known_ones(asked):
    with pytest.raises(DataError, match="choose all, default, or from noise, informative"):
        choose_candidates(CANDIDATES, asked, default=CANDIDATES[0])
