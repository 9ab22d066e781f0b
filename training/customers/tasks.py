"""The four customer tasks: what each predicts, from which targets, and how it answers."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.customers.schema import CHANNEL_SLUGS, CONTENT_SLUGS

# Churn risk levels: upper bounds of the churn probability, documented in the README.
CHURN_RISK_LEVELS = ((0.15, "低"), (0.35, "中"), (0.60, "高"), (1.0, "极高"))
# The source material's five-level channel reliance scale, 20 points of probability each.
CHANNEL_LEVELS = ("基本不接触", "偶尔接触", "普通依赖", "较依赖", "依赖")


@dataclass(frozen=True)
class CustomerTask:
    """One registered customer model: its name, default targets and kind of answer."""

    model_name: str
    targets: tuple[str, ...]
    multiclass: bool
    purpose: str
    target_prefix: str = ""

    def slug(self, target: str) -> str:
        """The short name of a target in answers: ``relies_on_app`` -> ``app``."""
        return target.removeprefix(self.target_prefix)


CHURN = CustomerTask(
    "churn", ("churned",), False, "Estimate how likely a customer is to leave, and why."
)
CHANNEL_PREFERENCE = CustomerTask(
    "channel-preference",
    tuple(f"relies_on_{slug}" for slug in CHANNEL_SLUGS.values()),
    False,
    "For each service channel, how likely the customer relies on it, on a five-level scale.",
    target_prefix="relies_on_",
)
OCCUPATION = CustomerTask(
    "occupation", ("occupation",), True, "Guess a customer's occupation from calling behaviour."
)
CONTENT_PREFERENCE = CustomerTask(
    "content-preference",
    tuple(f"likes_{slug}" for slug in CONTENT_SLUGS.values()),
    False,
    "Score each content category by how much the customer cares for it, seen or latent.",
    target_prefix="likes_",
)
CUSTOMER_TASKS = {
    task.model_name: task for task in (CHURN, CHANNEL_PREFERENCE, OCCUPATION, CONTENT_PREFERENCE)
}


def churn_risk_level(probability: float) -> str:
    return churn_risk_levels(np.array([probability]))[0]


def channel_level(probability: float) -> str:
    return channel_levels(np.array([probability]))[0]


Columns = dict[str, list]  # an answer, column by column, in plain Python values


def churn_answer(probabilities: dict[str, np.ndarray], classes: list[str]) -> Columns:
    (churn,) = probabilities.values()
    return {"churn_probability": churn.tolist(), "churn_risk_level": churn_risk_levels(churn)}


def channel_answer(probabilities: dict[str, np.ndarray], classes: list[str]) -> Columns:
    columns = {}
    for target, probability in probabilities.items():
        slug = CHANNEL_PREFERENCE.slug(target)
        columns[f"{slug}_probability"] = probability.tolist()
        columns[f"{slug}_level"] = channel_levels(probability)
    return columns


def churn_risk_levels(probabilities: np.ndarray) -> list[str]:
    """``churn_risk_level`` of each probability, at once."""
    bounds = [bound for bound, _ in CHURN_RISK_LEVELS[:-1]]
    levels = np.searchsorted(bounds, probabilities, side="right")
    return _LEVEL_NAMES["churn"][levels].tolist()


def channel_levels(probabilities: np.ndarray) -> list[str]:
    """``channel_level`` of each probability, at once."""
    scaled = (np.asarray(probabilities) * len(CHANNEL_LEVELS)).astype(int)
    levels = np.minimum(scaled, len(CHANNEL_LEVELS) - 1)
    return _LEVEL_NAMES["channel"][levels].tolist()


_LEVEL_NAMES = {
    "churn": np.array([level for _, level in CHURN_RISK_LEVELS], dtype=object),
    "channel": np.array(CHANNEL_LEVELS, dtype=object),
}


def occupation_answer(probabilities: dict[str, np.ndarray], classes: list[str]) -> Columns:
    (proba,) = probabilities.values()
    best = proba.argmax(axis=1)
    columns = {
        "occupation": [classes[i] for i in best],
        "occupation_probability": proba[np.arange(len(proba)), best].tolist(),
    }
    columns.update({f"p_{label}": proba[:, i].tolist() for i, label in enumerate(classes)})
    return columns


def content_answer(probabilities: dict[str, np.ndarray], classes: list[str]) -> Columns:
    return {f"{CONTENT_PREFERENCE.slug(t)}_score": p.tolist() for t, p in probabilities.items()}


ANSWERS = {
    "churn": churn_answer,
    "channel-preference": channel_answer,
    "occupation": occupation_answer,
    "content-preference": content_answer,
}
