"""Figures and texts that judge a classifier on held-out data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    classification_report,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)


@dataclass(frozen=True)
class ClassifierEvaluation:
    """How one classifier did on the held-out split."""

    labels: list[str]
    accuracy: float
    macro_f1: float
    precision: dict[str, float]
    recall: dict[str, float]
    confusion: np.ndarray
    report: str

    def metrics(self, prefix: str = "") -> dict[str, float]:
        """Flat metric names for MLflow: accuracy, macro_f1, precision.<class>, recall.<class>."""
        figures = {f"{prefix}accuracy": self.accuracy, f"{prefix}macro_f1": self.macro_f1}
        for label in self.labels:
            figures[f"{prefix}precision.{label}"] = self.precision[label]
            figures[f"{prefix}recall.{label}"] = self.recall[label]
        return figures


def evaluate_classifier(
    truth: Sequence[str], predicted: Sequence[str], labels: Sequence[str]
) -> ClassifierEvaluation:
    """Accuracy, macro-F1, per-class precision and recall, confusion matrix and report."""
    labels = list(labels)
    precision, recall, _, _ = precision_recall_fscore_support(
        truth, predicted, labels=labels, zero_division=0
    )
    return ClassifierEvaluation(
        labels=labels,
        accuracy=float(accuracy_score(truth, predicted)),
        macro_f1=float(f1_score(truth, predicted, labels=labels, average="macro", zero_division=0)),
        precision=dict(zip(labels, map(float, precision))),
        recall=dict(zip(labels, map(float, recall))),
        confusion=confusion_matrix(truth, predicted, labels=labels),
        report=classification_report(truth, predicted, labels=labels, digits=3, zero_division=0),
    )


def headline_figures(truth: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """Accuracy and macro-F1, macro over the classes in ``truth`` or ``predicted`` (sklearn's
    default): for a sample that may hold one class only, such as held-out feedback."""
    return {
        "accuracy": float(accuracy_score(truth, predicted)),
        "macro_f1": float(f1_score(truth, predicted, average="macro", zero_division=0)),
    }
