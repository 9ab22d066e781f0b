"""Training: the text models (``training.text``), the customer models (``training.customers``)
and what both use (``training.common``).

Model versions registered before this layout pickled their classes and functions under the
old flat module names (``training.text_model``, ``training.tabular_model``, ...). Those names
still load, as aliases of the modules that now hold the same code, so every registered
version stays servable and can be rolled back to.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED_MODULES = {
    "training.evaluation": "training.common.evaluation",
    "training.labels": "training.common.labels",
    "training.model_card": "training.common.model_card",
    "training.plots": "training.common.plots",
    "training.progress": "training.common.progress",
    "training.registration": "training.common.registration",
    "training.selection": "training.common.selection",
    "training.demand_corpus": "training.text.corpus",
    "training.demand_phrases": "training.text.phrases",
    "training.keyword_baseline": "training.text.keyword_baseline",
    "training.text_data": "training.text.data",
    "training.text_features": "training.text.features",
    "training.text_model": "training.text.model",
    "training.text_review": "training.text.review",
    "training.text_trainer": "training.text.trainer",
    "training.customer_evaluation": "training.customers.evaluation",
    "training.customer_schema": "training.customers.schema",
    "training.customer_scorer": "training.customers.scorer",
    "training.customer_tasks": "training.customers.tasks",
    "training.customer_trainer": "training.customers.trainer",
    "training.customer_world": "training.customers.world",
    "training.forest_scorer": "training.customers.forest_scorer",
    "training.linear_scorer": "training.customers.linear_scorer",
    "training.risk_factors": "training.customers.risk_factors",
    "training.tabular_data": "training.customers.data",
    "training.tabular_model": "training.customers.model",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module name as the module that holds its code now (the same object,
    so a class unpickled through either name is one class)."""

    def find_spec(self, name, path, target=None):
        if name not in MOVED_MODULES:
            return None
        return importlib.util.spec_from_loader(name, self)

    def create_module(self, spec):
        return importlib.import_module(MOVED_MODULES[spec.name])

    def exec_module(self, module):
        pass  # already executed under its new name


if not any(isinstance(finder, _MovedModuleFinder) for finder in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())
