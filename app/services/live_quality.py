"""Live quality: how each model version that answered did on the feedback received in a window,
beside the same figure from its training run (``insight monitor quality``, the service's
``insight_live_quality`` gauges; docs/monitoring.md, "Live quality").

Text corrections keep what the service had said (``answered``: category, spam verdict and the
versions that answered), so the demand classifier and the spam filter are judged on the
answers they gave. Customer outcomes are paired with each customer model's latest answer about
the customer (``customer_scores``), only when that answer was given on or before the
outcome's date (UTC): an answer given after it is not a forecast of it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from sklearn.metrics import roc_auc_score
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db.models import CustomerOutcome, CustomerScore, TextCorrection
from model_registry.gates import run_metrics
from model_registry.registry import PRODUCTION, ModelNotFoundError, alias_version, resolve_version
from training.common.evaluation import headline_figures
from training.text.data import HAM, SPAM

# Each model's figures: the names its training run logs them under (training/*/evaluation.py).
METRICS: dict[str, tuple[str, ...]] = {
    "demand-classifier": ("accuracy", "macro_f1"),
    "spam-filter": ("accuracy", "macro_f1"),
    "churn": ("roc_auc",),
    "occupation": ("accuracy", "macro_f1"),
    "channel-preference": ("mean_roc_auc",),
    "content-preference": ("mean_roc_auc",),
}
# The outcome field that judges each customer model, and where its answer keeps the score.
OUTCOME_FIELDS = {
    "churn": "churned",
    "occupation": "occupation",
    "channel-preference": "channels",
    "content-preference": "content",
}
TARGET_SCORE_SUFFIX = {"channel-preference": "_probability", "content-preference": "_score"}
NO_ROWS = "no feedback in the window"


@dataclass(frozen=True)
class Window:
    """Feedback received at or after ``since`` and before ``until`` (None: no bound)."""

    since: datetime | None = None
    until: datetime | None = None

    def bounds(self, received_at) -> list:
        return [
            *([] if self.since is None else [received_at >= self.since]),
            *([] if self.until is None else [received_at < self.until]),
        ]


@dataclass(frozen=True)
class QualityFigure:
    """One metric of one version: live (None, with ``note`` saying why, when it cannot be
    computed) and at training (None when the run did not log it)."""

    metric: str
    live: float | None
    training: float | None = None
    note: str | None = None


@dataclass(frozen=True)
class VersionQuality:
    """One model version's figures on ``rows`` feedback rows."""

    model: str
    version: str
    rows: int
    figures: tuple[QualityFigure, ...]


@dataclass
class _Pairs:
    """What one version said and what turned out true, row by row."""

    truth: list = field(default_factory=list)
    said: list = field(default_factory=list)

    def add(self, truth: Any, said: Any) -> None:
        self.truth.append(truth)
        self.said.append(said)


def live_quality(
    session: Session, window: Window, *, serving: Mapping[str, str] | None = None
) -> list[VersionQuality]:
    """Every version that answered feedback received in ``window``, with its live figures;
    plus, with no rows, each version of ``serving`` (model -> version) that had none."""
    pairs = _text_pairs(session, window) | _outcome_pairs(session, window)
    for model, version in (serving or {}).items():
        if model in METRICS:
            pairs.setdefault((model, version), _Pairs())
    return [
        VersionQuality(model, version, len(found.truth), _figures(model, found))
        for (model, version), found in sorted(pairs.items(), key=_by_model_and_version)
    ]


def _by_model_and_version(item) -> tuple:
    (model, version), _ = item
    return (model, int(version) if version.isdigit() else 0, version)


def _text_pairs(session: Session, window: Window) -> dict[tuple[str, str], _Pairs]:
    rows = session.execute(
        select(TextCorrection.category, TextCorrection.spam, TextCorrection.answered).where(
            TextCorrection.answered.is_not(None), *window.bounds(TextCorrection.received_at)
        )
    )
    pairs: dict[tuple[str, str], _Pairs] = defaultdict(_Pairs)
    for category, spam, answered in rows:
        versions = {ref.get("name"): ref.get("version") for ref in answered.get("models") or []}
        for model, truth, said in (
            ("demand-classifier", category, answered.get("category")),
            ("spam-filter", _spam_label(spam), _spam_label(answered.get("spam"))),
        ):
            if truth is not None and said is not None and versions.get(model):
                pairs[model, str(versions[model])].add(truth, said)
    return pairs


def _spam_label(spam: bool | None) -> str | None:
    """A spam verdict as the spam filter's training labels it."""
    return None if spam is None else SPAM if spam else HAM


def _outcome_pairs(session: Session, window: Window) -> dict[tuple[str, str], _Pairs]:
    """Each customer's latest outcome (in the window) that judges a model, paired with that
    model's answer about the customer when it was given on or before the outcome's date."""
    rows = session.execute(
        select(CustomerOutcome, CustomerScore)
        .join(CustomerScore, CustomerScore.customer_id == CustomerOutcome.customer_id)
        .where(
            CustomerScore.model_name.in_(OUTCOME_FIELDS),
            *window.bounds(CustomerOutcome.received_at),
        )
        .order_by(CustomerOutcome.customer_id, CustomerOutcome.as_of)
    )
    latest: dict[tuple[str, str], tuple[CustomerOutcome, CustomerScore]] = {}
    for outcome, score in rows.tuples():
        if getattr(outcome, OUTCOME_FIELDS[score.model_name]) is not None:
            latest[outcome.customer_id, score.model_name] = (outcome, score)
    pairs: dict[tuple[str, str], _Pairs] = defaultdict(_Pairs)
    for (_, model), (outcome, score) in latest.items():
        if score.scored_at.date() > outcome.as_of:
            continue
        truth = getattr(outcome, OUTCOME_FIELDS[model])
        said = _answer(model, score.output)
        if said is not None:
            pairs[model, score.model_version].add(truth, said)
    return pairs


def _answer(model: str, output: Mapping[str, Any]) -> Any:
    """What a customer model's stored answer says, in the form its figure reads: the churn
    probability, the occupation, or each target's score by slug; None if it holds none."""
    if model == "churn":
        return output.get("churn_probability")
    if model == "occupation":
        return output.get("occupation")
    suffix = TARGET_SCORE_SUFFIX[model]
    scores = {k.removesuffix(suffix): v for k, v in output.items() if k.endswith(suffix)}
    return scores or None


def _figures(model: str, pairs: _Pairs) -> tuple[QualityFigure, ...]:
    if not pairs.truth:
        return tuple(QualityFigure(metric, None, note=NO_ROWS) for metric in METRICS[model])
    if model == "churn":
        return (_roc_auc(pairs),)
    if model in TARGET_SCORE_SUFFIX:
        return (_mean_roc_auc(pairs),)
    figures = headline_figures(pairs.truth, pairs.said)  # as --with-feedback judges
    return tuple(QualityFigure(metric, figures[metric]) for metric in ("accuracy", "macro_f1"))


def _roc_auc(pairs: _Pairs) -> QualityFigure:
    truth = np.asarray(pairs.truth, dtype=int)
    if len(set(truth)) < 2:
        only = "churned" if truth[0] else "stayed"
        return QualityFigure("roc_auc", None, note=f"one class only: every customer {only}")
    return QualityFigure("roc_auc", float(roc_auc_score(truth, pairs.said)))


def _mean_roc_auc(pairs: _Pairs) -> QualityFigure:
    """The mean over the targets of ROC-AUC of each target's score against whether the customer
    used it; targets whose outcomes are all alike cannot be ranked and are left out (said)."""
    targets = sorted({slug for scores in pairs.said for slug in scores})
    aucs, alike = [], []
    for slug in targets:
        truth = np.array([slug in used for used in pairs.truth], dtype=int)
        scores = np.array([scores.get(slug, np.nan) for scores in pairs.said], dtype=float)
        if len(set(truth)) < 2 or np.isnan(scores).any():
            alike.append(slug)
            continue
        aucs.append(roc_auc_score(truth, scores))
    if not aucs:
        return QualityFigure(
            "mean_roc_auc", None, note="one class only: every target's outcomes are all alike"
        )
    note = f"over {len(aucs)} of {len(targets)} targets ({', '.join(alike)}: outcomes all alike)"
    return QualityFigure("mean_roc_auc", float(np.mean(aucs)), note=note if alike else None)


def with_training_figures(
    qualities: Iterable[VersionQuality], training: Mapping[tuple[str, str], Mapping[str, float]]
) -> list[VersionQuality]:
    """``qualities`` with each figure's training value from ``training`` ((model, version) ->
    the metrics its run logged)."""
    return [
        VersionQuality(
            quality.model,
            quality.version,
            quality.rows,
            tuple(
                QualityFigure(
                    figure.metric,
                    figure.live,
                    training.get((quality.model, quality.version), {}).get(figure.metric),
                    figure.note,
                )
                for figure in quality.figures
            ),
        )
        for quality in qualities
    ]


def training_metrics(client: MlflowClient, model: str, version: str) -> dict[str, float] | None:
    """The figures a version's training run logged (METRICS' names only); None when the
    registry cannot say (the version or its run gone, the registry unreachable)."""
    try:
        run_id = resolve_version(client, model, version=version).run_id or ""
    except (ModelNotFoundError, MlflowException):
        return None
    logged = run_metrics(client, run_id)
    return {name: logged[name] for name in METRICS.get(model, ()) if name in logged}


def production_versions(client: MlflowClient, names: Iterable[str]) -> dict[str, str]:
    """The version behind each model's production alias, for those of ``names`` that have one."""
    versions = {}
    for name in names:
        try:
            version = alias_version(client, name, PRODUCTION)
        except ModelNotFoundError:
            continue
        if version is not None:
            versions[name] = version
    return versions
