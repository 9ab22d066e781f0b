"""Feedback in training: rows that came back from the service (corrections of texts, observed
customer outcomes) join the training data, and a share of them is held out to judge the model
on real traffic, before (the version in production) and after (the new version).

The held-out share never reaches training. Both versions are scored on it and the run logs
both figures, ``feedback.<metric>_before`` and ``feedback.<metric>_after``, beside how many
rows came from feedback (docs/feedback.md, "Retraining with feedback").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.common.progress import report

HELD_OUT_SHARE = 0.2
MIN_ROWS_TO_HOLD_OUT = 10  # fewer feedback rows all go to training: too few to judge on


@dataclass(frozen=True)
class Feedback:
    """Feedback rows for one model, the window they were received in, and the production
    version to compare with (None: nothing in production)."""

    rows: Any  # the trainer's own labelled form: LabelledTexts, or a customer frame
    window: str  # "since 2026-11-01T00:00:00+00:00", or "all"
    production: Any | None = None  # the production version's python model
    production_version: str | None = None

    def __len__(self) -> int:
        return len(self.rows)


def held_out_mask(rows: int, seed: int) -> np.ndarray:
    """Which of ``rows`` feedback rows are held out: a fixed share, drawn with the split seed;
    none when there are fewer than ``MIN_ROWS_TO_HOLD_OUT``."""
    mask = np.zeros(rows, dtype=bool)
    if rows >= MIN_ROWS_TO_HOLD_OUT:
        rng = np.random.default_rng(seed)
        mask[rng.choice(rows, round(rows * HELD_OUT_SHARE), replace=False)] = True
    return mask


Judge = Callable[[Any], Mapping[str, float]]  # a model -> its figures on the held-out feedback


def feedback_run_figures(
    model_name: str,
    feedback: Feedback,
    *,
    training_rows: int,
    held_out_rows: int,
    judge: Judge,
    candidate: Any,
    replaced: int = 0,
) -> tuple[dict[str, object], dict[str, float]]:
    """The run's feedback params and metrics: rows used, and the figures on the held-out
    feedback of the production version (``_before``) and of ``candidate`` (``_after``)."""
    params = {
        "feedback_window": feedback.window,
        "feedback_rows_training": training_rows,
        "feedback_rows_held_out": held_out_rows,
        "feedback_labels_replaced": replaced,
        "feedback_compared_with": feedback.production_version or "-",
    }
    report(
        f"{model_name}: {training_rows} feedback rows in training, {held_out_rows} held out"
        + (f"; {replaced} labels of the training data replaced" if replaced else "")
    )
    if not held_out_rows:
        return params, {}
    after = dict(judge(candidate))
    before = dict(judge(feedback.production)) if feedback.production is not None else {}
    for name, value in after.items():
        was = f"{before[name]:.3f} (version {feedback.production_version}) -> " if before else ""
        report(f"{model_name}: {name} on held-out feedback {was}{value:.3f}")
    metrics = {f"feedback.{name}_after": value for name, value in after.items()}
    return params, metrics | {f"feedback.{name}_before": value for name, value in before.items()}
