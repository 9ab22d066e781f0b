"""training/ in three packages: no module imports itself back, and the flat module names that
model versions registered before the split pickled still load."""

import ast
import importlib
import pickle
from pathlib import Path

import numpy as np
import pytest

import training
from training import MOVED_MODULES
from training.text.model import TextClassifierModel, build_text_pipeline


def _imports_of_each_module() -> dict[str, set[str]]:
    root = Path(training.__file__).parent
    graph = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        graph[module] = {
            node.module
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("training.")
        }
    return graph


def test_no_training_module_imports_itself_back_through_others():
    graph = _imports_of_each_module()
    assert {"training.text.model", "training.customers.forest_scorer"} <= graph.keys()
    finished, path = set(), []

    def visit(module):
        assert module not in path, f"import circle: {' -> '.join([*path, module])}"
        if module in finished:
            return
        path.append(module)
        for imported in graph.get(module, ()):
            visit(imported)
        path.pop()
        finished.add(module)

    for module in graph:
        visit(module)


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
