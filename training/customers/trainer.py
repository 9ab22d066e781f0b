"""Train a customer model on held-out-checked data, log it to MLflow and register it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from model_registry.store import MlflowStore
from training.common.evaluation import headline_figures
from training.common.feedback import Feedback, feedback_run_figures, held_out_mask
from training.common.labels import DataError, binary_labels, clean_labels
from training.common.model_card import customer_model_card, feedback_card
from training.common.profile import log_reference_profile
from training.common.progress import report, step
from training.common.registration import log_and_register
from training.common.selection import (
    ALL,
    SELECTION_FOLDS,
    Candidate,
    Selection,
    choose_candidates,
    log_selection,
    select,
)
from training.customers.data import FeatureSpec, infer_features, read_customer_table
from training.customers.evaluation import (
    OneFeatureRule,
    TaskEvaluation,
    evaluate_channels,
    evaluate_churn,
    evaluate_content,
    evaluate_occupation,
)
from training.customers.model import (
    CustomerModel,
    boosted_trees,
    build_linear_pipeline,
    build_tabular_pipeline,
    column_step,
    linear_steps,
    typical_values,
)
from training.customers.profile import customer_profile
from training.customers.schema import LABEL_COLUMNS
from training.customers.tasks import ANSWERS, CustomerTask

EXPERIMENT = "customer-models"
BUILT_IN_CUSTOMERS = 40_000
MIN_CLASS_SIZE = 10


@dataclass(frozen=True)
class CustomerData:
    """Feature records and one label array per target, rows aligned."""

    frame: pd.DataFrame
    raw_features: pd.DataFrame  # the feature columns as the table gave them
    labels: dict[str, np.ndarray]
    features: FeatureSpec
    source: str
    dropped_rows: int


@dataclass(frozen=True)
class CustomerTrainingOutcome:
    run_id: str
    version: str
    evaluation: TaskEvaluation
    selections: dict[str, Selection]  # per target


LOGISTIC_C_VALUES = (0.1, 1.0)
# Cross-validation reads at most this many training rows (stratified): enough to tell the
# families apart where they differ, at a sixth of the cost of all 32,000 training rows of the
# built-in world.
SELECTION_ROWS = 5_000
# The folds' trees fit side by side, one per core (each fit uses one: OMP_NUM_THREADS=1).
SELECTION_JOBS = -1


def customer_candidates(features: FeatureSpec, seed: int = 0) -> list[Candidate]:
    """Today's boosted trees and a regularised logistic regression at a few strengths."""
    trees = Candidate("trees", {"model": boosted_trees(features, seed)}, "boosted trees")
    logistic = [
        Candidate(
            "logistic",
            {"model": Pipeline(linear_steps(features, c=c))},
            f"logistic regression, C={c:g}",
        )
        for c in LOGISTIC_C_VALUES
    ]
    return [trees, *logistic]


def fit_target(
    candidates: list[Candidate],
    features: FeatureSpec,
    frame: pd.DataFrame,
    labels: np.ndarray,
    *,
    multiclass: bool,
    seed: int,
) -> tuple[Pipeline, Selection]:
    """One target's model: the best candidate by cross-validation on (at most
    ``SELECTION_ROWS`` of) ``frame``, then fitted on all of it; and the table that chose it."""
    rows = np.arange(len(labels))
    if len(rows) > SELECTION_ROWS:
        rows, _ = train_test_split(
            rows, train_size=SELECTION_ROWS, stratify=labels, random_state=seed
        )
    searched = Pipeline([("columns", column_step(features)), ("model", boosted_trees(features))])
    with step(
        f"choosing among {len(candidates)} candidates by {SELECTION_FOLDS}-fold "
        f"cross-validation on {len(rows)} customers"
    ):
        selection = select(
            searched,
            candidates,
            frame.iloc[rows],
            labels[rows],
            scoring="f1_macro" if multiclass else "roc_auc",
            seed=seed,
            n_jobs=SELECTION_JOBS,
        )
    winner = next(c for c in candidates if c.label == selection.winner["candidate"])
    if winner.family == "trees":
        pipeline = build_tabular_pipeline(features, seed=seed)
    else:
        pipeline = build_linear_pipeline(features, c=winner.params["model"][-1].C)
    with step(f"fitting {winner.label}"):
        return pipeline.fit(frame, labels), selection


def customer_data(
    frame: pd.DataFrame,
    *,
    task: CustomerTask,
    targets: tuple[str, ...],
    id_column: str | None,
    source: str,
) -> CustomerData:
    """Pick features and labels; drop rows whose label is blank or unreadable as asked."""
    missing = [t for t in targets if t not in frame.columns]
    if missing:
        raise DataError(f"target column(s) not found: {', '.join(missing)}")
    labels = {t: _labels(frame[t], column=t, multiclass=task.multiclass) for t in targets}
    usable = np.logical_and.reduce([labels[t].notna().to_numpy() for t in targets])
    if task.multiclass:
        counts = labels[targets[0]][usable].value_counts()
        usable &= ~labels[targets[0]].isin(counts[counts < MIN_CLASS_SIZE].index).to_numpy()
    exclude = {*targets, *(LABEL_COLUMNS if set(targets) <= set(LABEL_COLUMNS) else ())}
    if id_column:
        exclude.add(id_column)
    features = infer_features(frame[usable], exclude=exclude)
    kept = frame[usable].reset_index(drop=True)
    return CustomerData(
        frame=features.prepare(kept),
        raw_features=kept[list(features.columns)],
        labels={t: labels[t][usable].to_numpy() for t in targets},
        features=features,
        source=source,
        dropped_rows=int((~usable).sum()),
    )


def _labels(values: pd.Series, *, column: str, multiclass: bool) -> pd.Series:
    if multiclass:
        return clean_labels(values).astype(object)
    flags = binary_labels(values.astype("string"), column=column)
    return flags.map(lambda flag: None if flag is None else int(flag))


def train_customer_model(
    task: CustomerTask,
    data: CustomerData,
    *,
    store: MlflowStore,
    seed: int = 0,
    test_size: float = 0.2,
    candidates: str = ALL,
    feedback: Feedback | None = None,
) -> CustomerTrainingOutcome:
    """Choose and fit one pipeline per target by cross-validation on the training split,
    evaluate on held-out customers, log, register.

    With ``feedback`` (stored customers' records with their observed outcomes as target
    columns), the outcomes join the training split but for a held-out share, on which the new
    version and the production version are both judged."""
    every = customer_candidates(data.features, seed)
    chosen = choose_candidates(every, candidates, default=every[0])
    first = data.labels[next(iter(data.labels))]
    train_rows, test_rows = train_test_split(
        np.arange(len(first)), test_size=test_size, stratify=first, random_state=seed
    )
    report(
        f"{task.model_name}: {len(train_rows)} training and {len(test_rows)} held-out customers, "
        f"{len(data.features.columns)} features"
    )
    train = data.frame.iloc[train_rows]
    train_labels = {target: labels[train_rows] for target, labels in data.labels.items()}
    if feedback:
        outcomes = feedback.rows
        held = held_out_mask(len(outcomes), seed)
        train = pd.concat([train, data.features.prepare(outcomes[~held])], ignore_index=True)
        for target in train_labels:
            given = _labels(outcomes[target][~held], column=target, multiclass=task.multiclass)
            train_labels[target] = np.concatenate([train_labels[target], given.to_numpy()])
    pipelines, selections = {}, {}
    for target, labels in train_labels.items():
        report(f"{target}:")
        pipelines[target], selections[target] = fit_target(
            chosen, data.features, train, labels, multiclass=task.multiclass, seed=seed
        )
    model = CustomerModel(
        task=task.model_name,
        features=data.features,
        pipelines=pipelines,
        typical=typical_values(data.frame.iloc[train_rows], data.features),
        answer=ANSWERS[task.model_name],
    )
    with step("evaluating on held-out customers against the baseline"):
        evaluation = _evaluate(task, model, data, train_rows, test_rows, seed)
    params = _params(task, data, seed, test_size, candidates, selections)
    feedback_metrics = {}
    if feedback:
        feedback_params, feedback_metrics = feedback_run_figures(
            task.model_name,
            feedback,
            training_rows=int((~held).sum()),
            held_out_rows=int(held.sum()),
            judge=_outcome_judge(task, outcomes[held]),
            candidate=model,
        )
        params |= feedback_params
    with step("logging the run to MLflow and registering the model"):
        run_id, version = _log_run(
            task, model, data, evaluation, params, feedback_metrics, selections, store
        )
        training, held_out = data.frame.iloc[train_rows], data.frame.iloc[test_rows]
        profile = customer_profile(task.model_name, model, training=training, held_out=held_out)
        log_reference_profile(run_id, profile)
    report(f"{task.model_name}: chose {params['chosen']}")
    report(f"{task.model_name}: {evaluation.headline}")
    return CustomerTrainingOutcome(run_id, version, evaluation, selections)


def _evaluate(task, model, data, train_rows, test_rows, seed) -> TaskEvaluation:
    test = data.frame.iloc[test_rows]
    scores = model.probabilities(test)
    truth = {t: labels[test_rows] for t, labels in data.labels.items()}
    numbers = data.frame[list(data.features.numeric)]
    if task.multiclass:
        target = next(iter(scores))
        return evaluate_occupation(truth[target], scores[target], model.classes(target))
    rules = {
        t: OneFeatureRule.fit(numbers.iloc[train_rows], y[train_rows])
        for t, y in data.labels.items()
    }
    baselines = {t: rule.score(numbers.iloc[test_rows]) for t, rule in rules.items()}
    slugs = {t: task.slug(t) for t in scores}
    if task.model_name == "churn":
        (target,) = scores
        return evaluate_churn(
            truth[target], scores[target], baselines[target], rules[target].feature
        )
    if task.model_name == "content-preference":
        latent, explicit = _latent_scores(data, slugs, train_rows, test_rows, seed)
        return evaluate_content(truth, scores, latent, explicit, slugs)
    return evaluate_channels(truth, scores, baselines, slugs)


def _outcome_judge(task: CustomerTask, held_out: pd.DataFrame):
    """A model's headline figures on held-out outcomes: accuracy and macro-F1 for a class,
    ROC-AUC for churn, mean ROC-AUC over the targets for channels and content (targets where
    every customer has the same outcome cannot be ranked and are left out)."""
    truth = {
        t: _labels(held_out[t], column=t, multiclass=task.multiclass).to_numpy()
        for t in task.targets
    }

    def judge(model) -> dict[str, float]:
        scores = model.probabilities(held_out)
        if task.multiclass:
            ((target, proba),) = scores.items()
            said = np.asarray(model.classes(target), dtype=object)[proba.argmax(axis=1)]
            return headline_figures(truth[target].tolist(), said.tolist())
        aucs = [
            roc_auc_score(truth[t].astype(int), scores[t])
            for t in scores
            if len(set(truth[t])) == 2
        ]
        if not aucs:
            return {}
        return {"roc_auc" if len(task.targets) == 1 else "mean_roc_auc": float(np.mean(aucs))}

    return judge


def _latent_scores(data, slugs, train_rows, test_rows, seed):
    """Per category: a model that never sees the category's explicit signals, and the signal."""
    latent, explicit = {}, {}
    for target, slug in slugs.items():
        signal_columns = [c for c in data.features.columns if c.startswith(f"{slug}_")]
        explicit[target] = (
            data.frame.iloc[test_rows][signal_columns].fillna(0).sum(axis=1).to_numpy()
        )
        blind = _without(data.features, signal_columns)
        with step(f"fitting the latent-only model for {target}"):
            pipeline = build_tabular_pipeline(blind, seed=seed).fit(
                data.frame.iloc[train_rows][list(blind.columns)], data.labels[target][train_rows]
            )
        test = data.frame.iloc[test_rows][list(blind.columns)]
        latent[target] = pipeline.predict_proba(test)[:, 1]
    return latent, explicit


def _without(features: FeatureSpec, columns: list[str]) -> FeatureSpec:
    return FeatureSpec(
        numeric=tuple(c for c in features.numeric if c not in columns),
        categorical={c: v for c, v in features.categorical.items() if c not in columns},
    )


def _params(task, data, seed, test_size, candidates, selections) -> dict:
    chosen = {
        target: str(selection.winner["candidate"]) for target, selection in selections.items()
    }
    return {
        "data_source": data.source,
        "rows_used": len(data.frame),
        "rows_dropped_blank_label": data.dropped_rows,
        "targets": ",".join(data.labels),
        "numeric_features": len(data.features.numeric),
        "categorical_features": len(data.features.categorical),
        "dropped_columns": ",".join(data.features.dropped) or "-",
        "test_size": test_size,
        "split_seed": seed,
        "candidates": candidates,
        "selection": f"{SELECTION_FOLDS}-fold cross-validation on at most {SELECTION_ROWS} "
        "training rows",
        "chosen": json.dumps(chosen, ensure_ascii=False),
        "model": "per target, the candidate with the best cross-validated score: "
        "HistGradientBoostingClassifier (lr 0.08, 15 leaves, early stopping) or "
        "LogisticRegression (one-hot categories, scaled numbers, missing-value flags)",
    }


def _log_run(task, model, data, evaluation, params, feedback_metrics, selections, store):
    experiment_id = store.experiment_id(EXPERIMENT)
    with mlflow.start_run(experiment_id=experiment_id, run_name=task.model_name) as run:
        mlflow.set_tag("model_name", task.model_name)
        mlflow.log_params(params)
        mlflow.log_metrics(evaluation.metrics | feedback_metrics)
        for name, figure in evaluation.figures.items():
            mlflow.log_figure(figure, name)
            plt.close(figure)  # pyplot keeps every figure until closed
        for name, text in evaluation.tables.items():
            mlflow.log_text(text, name)
        for target, selection in selections.items():
            log_selection(selection, f"{task.model_name}: {target}", prefix=f"{target}.")
        card = customer_model_card(task, params, evaluation, selections)
        card += feedback_card(params, feedback_metrics)
        mlflow.log_text(card, "model_card.md")
        mlflow.log_dict(
            {"numeric": data.features.numeric, "categorical": data.features.categorical},
            "features.json",
        )
        example = _input_example(data)
        version = log_and_register(model, model_name=task.model_name, example=example, card=card)
    return run.info.run_id, version


def _input_example(data: CustomerData) -> pd.DataFrame:
    """Two complete rows in the table's own types: the signature MLflow enforces on callers."""
    raw = data.raw_features
    complete = raw.dropna()
    example = (complete if len(complete) >= 2 else raw.ffill().bfill()).head(2)
    categories = list(data.features.categorical)
    return example.astype({column: str for column in categories})


def train_customer_task(
    task: CustomerTask,
    *,
    data_file: Path | None,
    targets: tuple[str, ...],
    id_column: str | None,
    seed: int,
    store: MlflowStore,
    candidates: str = ALL,
    feedback: Feedback | None = None,
) -> CustomerTrainingOutcome:
    """Train ``task`` on ``data_file`` or, without one, on the built-in customer world, and
    on ``feedback`` when given."""
    if data_file is None:
        from training.customers.world import generate_customers

        with step(f"generating the built-in customer world ({BUILT_IN_CUSTOMERS} customers)"):
            frame = generate_customers(BUILT_IN_CUSTOMERS, seed=0)
        source = f"built-in customer world, {BUILT_IN_CUSTOMERS} customers, seed 0"
        id_column = id_column or "customer_id"
    else:
        frame = read_customer_table(data_file)
        source = f"{data_file.name} ({len(frame)} rows)"
    data = customer_data(
        frame, task=task, targets=targets or task.targets, id_column=id_column, source=source
    )
    return train_customer_model(
        task, data, store=store, seed=seed, candidates=candidates, feedback=feedback
    )
