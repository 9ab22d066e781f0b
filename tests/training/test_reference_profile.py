"""Every trained version carries its reference profile, in the documented shape."""

import json

import numpy as np
import pytest

from model_registry.registry import resolve_version
from training.common.profile import PROFILE_ARTIFACT, PROFILE_FORMAT
from training.customers.schema import CATEGORICAL_COLUMNS, FEATURE_COLUMNS

ANSWER_FIELDS = {
    "demand-classifier": {"category", "confidence"},
    "spam-filter": {"spam", "spam_probability"},
    "churn": {"churn_probability", "churn_risk_level"},
    "occupation": {"occupation", "occupation_probability", "p_学生"},
    "channel-preference": {"app_probability", "app_level"},
    "content-preference": {"games_score"},
}


def _profile(store, model: str) -> dict:
    client = store.activate()
    run_id = resolve_version(client, model).run_id
    folder = client.download_artifacts(run_id, PROFILE_ARTIFACT)
    with open(folder, encoding="utf-8") as file:
        return json.load(file)


def _assert_shares(reference: dict) -> None:
    shares = np.asarray(reference["shares"])
    assert shares.sum() == pytest.approx(1.0)
    assert (shares >= 0).all()
    if reference["kind"] == "numeric":
        assert len(shares) == len(reference["edges"]) + 2  # bins, then missing
        assert reference["edges"] == sorted(reference["edges"])
    else:
        assert len(shares) == len(reference["categories"]) + 1  # categories, then other


@pytest.mark.parametrize("model", sorted(ANSWER_FIELDS))
def test_each_version_logs_its_reference_profile(full_store, model):
    profile = _profile(full_store, model)
    assert profile["format"] == PROFILE_FORMAT
    assert profile["model"] == model
    assert profile["rows"]["training"] > profile["rows"]["held_out"] > 0
    assert ANSWER_FIELDS[model] <= profile["answers"].keys()
    for reference in profile["answers"].values():
        _assert_shares(reference)
    if profile["kind"] == "text":
        texts = profile["texts"]
        _assert_shares(texts["length"])
        _assert_shares(texts["oov_share"])
        assert 0 < texts["oov_rate"] < 0.5
        return
    assert profile["kind"] == "customer"
    assert set(profile["features"]) == set(FEATURE_COLUMNS)
    for name, reference in profile["features"].items():
        _assert_shares(reference)
        expected = "categorical" if name in CATEGORICAL_COLUMNS else "numeric"
        assert reference["kind"] == expected, name
    # a number's edges at its training quantiles: about a tenth of customers per bin
    age = np.asarray(profile["features"]["age"]["shares"])
    assert len(age) == 11 and age.max() < 0.2  # ten bins, then missing
    # survey_score is blank for about half the customers
    assert profile["features"]["survey_score"]["shares"][-1] == pytest.approx(0.5, abs=0.05)
