"""Model versions registered before training/ was split pickled the old flat module names."""

import importlib
import pickle

import numpy as np
import pytest

from training import MOVED_MODULES
from training.text.model import TextClassifierModel, build_text_pipeline


@pytest.mark.parametrize("old, new", sorted(MOVED_MODULES.items()))
def test_each_old_module_name_is_the_module_that_holds_its_code_now(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_a_model_pickled_under_the_old_names_loads_and_answers_the_same(demand_corpus):
    rows = demand_corpus.dropna(subset=["category"]).head(600)
    pipeline = build_text_pipeline(calibration_folds=2)
    model = TextClassifierModel(
        pipeline.fit(rows["text"].tolist(), rows["category"].tolist()), text_column="text"
    )
    pickled = pickle.dumps(model, protocol=0).decode("latin-1")  # names stand as plain text
    old_names = {new: old for old, new in MOVED_MODULES.items()}
    for new in sorted(old_names, key=len, reverse=True):
        pickled = pickled.replace(f"c{new}\n", f"c{old_names[new]}\n")
    assert "ctraining.text_model\nTextClassifierModel\n" in pickled
    assert "ctraining.text_features\n" in pickled  # the tokenizer and preprocessors

    loaded = pickle.loads(pickled.encode("latin-1"))
    answers, expected = loaded.predict(None, rows.head(50)), model.predict(None, rows.head(50))
    assert list(answers["label"]) == list(expected["label"])
    np.testing.assert_allclose(answers["confidence"], expected["confidence"], atol=1e-12)
