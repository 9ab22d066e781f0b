"""Choosing a model family by cross-validation on the training split, the same way for text
and customer models.

The held-out split is never seen here: it stays for the figures a run reports. Every
candidate is scored by stratified k-fold cross-validation (scikit-learn's ``GridSearchCV``),
and the one with the best mean score wins; the table of all of them, with their fit times,
is logged with the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.model_selection import GridSearchCV, StratifiedKFold

from training.common.labels import DataError
from training.common.plots import selection_figure

# Three folds tell the candidates apart where they differ (their scores' spread across folds
# is in every table); five would cost two thirds more, and the six default models must train
# in under three minutes on two cores.
SELECTION_FOLDS = 3
ALL, DEFAULT = "all", "default"


@dataclass(frozen=True)
class Candidate:
    """One model a trainer may choose: its family and the settings that make it."""

    family: str
    params: dict[str, Any]  # set on the estimator searched (``GridSearchCV`` parameter names)
    label: str  # how tables and plots name it, e.g. "chars, C=0.5"


@dataclass(frozen=True)
class Selection:
    """The candidates' cross-validated scores and the winner."""

    table: pd.DataFrame  # one row per candidate, best first
    scoring: str
    folds: int

    @property
    def winner(self) -> pd.Series:
        return self.table.iloc[0]

    def reason(self) -> str:
        """Why the winner won, in a sentence for the model card."""
        best = self.winner
        if len(self.table) == 1:
            return f"{best['candidate']} was the only candidate"
        runner_up = self.table.iloc[1]
        return (
            f"{best['candidate']} had the best mean {self.folds}-fold {self.scoring} on the "
            f"training split ({best['score']:.4f} ± {best['score_std']:.4f}); next was "
            f"{runner_up['candidate']} ({runner_up['score']:.4f})"
        )

    def markdown(self) -> str:
        """The table for a model card."""
        lines = [f"| candidate | mean {self.folds}-fold {self.scoring} | ± | fit (s) |"]
        lines.append("|---|---|---|---|")
        for row in self.table.itertuples():
            lines.append(
                f"| {row.candidate} | {row.score:.4f} | {row.score_std:.4f} | "
                f"{row.fit_seconds:.2f} |"
            )
        return "\n".join(lines)


def choose_candidates(
    candidates: Sequence[Candidate], asked: str, *, default: Candidate
) -> list[Candidate]:
    """The candidates ``--candidates`` keeps: ``all``, ``default`` (the one model of before
    selection), or a comma-separated list of families."""
    if asked == ALL:
        return list(candidates)
    if asked == DEFAULT:
        return [default]
    families = [family.strip() for family in asked.split(",") if family.strip()]
    known = list(dict.fromkeys(candidate.family for candidate in candidates))
    unknown = [family for family in families if family not in known]
    if unknown or not families:
        raise DataError(
            f"unknown candidate famil{'ies' if len(unknown) > 1 else 'y'} "
            f"{', '.join(unknown) or '(none given)'}; choose {ALL}, {DEFAULT}, or from "
            f"{', '.join(known)}"
        )
    return [candidate for candidate in candidates if candidate.family in families]


def select(
    estimator: BaseEstimator,
    candidates: Sequence[Candidate],
    x: Any,
    y: Sequence,
    *,
    scoring: str,
    seed: int,
    folds: int = SELECTION_FOLDS,
    n_jobs: int | None = None,
) -> Selection:
    """Score every candidate on ``folds`` stratified folds of ``(x, y)``; best first.

    ``n_jobs=-1`` fits on every core, in worker processes (each a fresh copy of the data).
    """
    if len(candidates) == 1:
        row = {"candidate": candidates[0].label, "family": candidates[0].family}
        table = pd.DataFrame([row | {"score": float("nan"), "score_std": float("nan")}])
        return Selection(table.assign(fit_seconds=float("nan")), scoring, 0)
    search = GridSearchCV(
        estimator,
        [{name: [value] for name, value in candidate.params.items()} for candidate in candidates],
        scoring=scoring,
        cv=StratifiedKFold(folds, shuffle=True, random_state=seed),
        refit=False,
        error_score="raise",
        n_jobs=n_jobs,
    )
    search.fit(x, y)
    results = search.cv_results_
    table = pd.DataFrame(
        {
            "candidate": [candidate.label for candidate in candidates],
            "family": [candidate.family for candidate in candidates],
            "score": results["mean_test_score"],
            "score_std": results["std_test_score"],
            "fit_seconds": results["mean_fit_time"],
        }
    )
    table = table.sort_values("score", ascending=False, kind="stable").reset_index(drop=True)
    return Selection(table, scoring, folds)


def log_selection(selection: Selection, title: str, *, prefix: str = "") -> None:
    """Into the active run: the candidates' table, a plot of it, and the winner's
    cross-validated score as a metric."""
    mlflow.log_text(
        selection.table.to_csv(index=False, float_format="%.4f"), f"{prefix}selection.csv"
    )
    if selection.folds:
        figure = selection_figure(
            selection.table, scoring=selection.scoring, folds=selection.folds, title=title
        )
        mlflow.log_figure(figure, f"{prefix}selection.png")
        plt.close(figure)
        mlflow.log_metric(f"{prefix}selection.cv_score", float(selection.winner["score"]))
