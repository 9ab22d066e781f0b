"""Short model cards: data, split, figures, intended use and limits."""

from __future__ import annotations

from typing import Any

from training.common.evaluation import ClassifierEvaluation


def text_model_card(
    task: Any,
    params: dict[str, Any],
    svm: ClassifierEvaluation,
    keywords: ClassifierEvaluation,
    review: dict[str, float],
    selection: Any,
) -> str:
    """A Markdown model card for a text classifier run."""
    rows = "\n".join(
        f"| {label} | {svm.precision[label]:.3f} | {svm.recall[label]:.3f} |"
        for label in svm.labels
    )
    return f"""# Model card: {task.model_name}

**Intended use.** {task.purpose} Answers a category with a calibrated confidence and the
other categories' probabilities; low confidence means a person should read the text.

**Data.** {params["data_source"]}: {params["rows_used"]} labelled texts used,
{params["rows_dropped_blank"]} rows dropped for a blank text or label,
classes dropped for having too few rows: {params["classes_dropped_too_small"]}.

**Split.** Stratified hold-out of {params["test_size"]:.0%} (seed {params["split_seed"]}),
never seen in training or calibration.

**Model.** {params["features"]}; linear SVM (C={params["svm_c"]});
probabilities by {params["calibration"]} calibration.

**Why this model.** Chosen among the candidates `{params["candidates"]}` by cross-validation
on the training split only: {params["chosen_because"]}.

{selection.markdown()}

**When to send the text to a person.** An answer says `needs_review` when its confidence is
below {params["review_below_confidence"]:.4f} (out of fold on the training split, the answers
at or above it were at least {params["target_precision"]:.0%} right, and they were
{review["review.out_of_fold_coverage"]:.1%} of all answers), or when the text holds none of
the {params["evidence_words"]} terms the training data ties to a class (runs of Latin letters,
character bigrams and trigrams of Chinese). On the held-out split
{review["review.held_out_coverage"]:.1%} of the answers needed no review, and
{review["review.held_out_precision"]:.3f} of those were right.

**Figures on the held-out split.**

| model | accuracy | macro-F1 |
|---|---|---|
| TF-IDF + SVM | {svm.accuracy:.3f} | {svm.macro_f1:.3f} |
| automatic keywords ({params["keyword_count_per_class"]} per class) | {keywords.accuracy:.3f} | {keywords.macro_f1:.3f} |

| class | precision | recall |
|---|---|---|
{rows}

**Limits.** Learns only the categories and wording present in its training data; texts about
new products or in other languages fall back to the nearest known category, usually with low
confidence. A built-in-corpus model has seen synthetic texts only: retrain on real labelled
texts before relying on it.
"""


def customer_model_card(
    task: Any, params: dict[str, Any], evaluation: Any, selections: dict[str, Any]
) -> str:
    """A Markdown model card for a customer model run."""
    choices = "\n\n".join(
        f"*{target}*: {selection.reason()}.\n\n{selection.markdown()}"
        for target, selection in selections.items()
    )
    figures = "\n".join(
        f"| {name} | {value:.4f} |"
        for name, value in evaluation.metrics.items()
        if not name.startswith("level_share.")
    )
    return f"""# Model card: {task.model_name}

**Intended use.** {task.purpose} Answers for one customer or a batch, from the customer's
feature record; every answer names the model version.

**Data.** {params["data_source"]}: {params["rows_used"]} customers used,
{params["rows_dropped_blank_label"]} dropped for a blank or unreadable label. Targets:
{params["targets"]}. Features: {params["numeric_features"]} numeric and
{params["categorical_features"]} categorical, types inferred from the data; columns dropped as
blank, ids or free text: {params["dropped_columns"]}.

**Split.** Stratified hold-out of {params["test_size"]:.0%} of customers (seed
{params["split_seed"]}), never seen in training.

**Model.** {params["model"]}.

**Why these models.** Each target's model was chosen among the candidates
`{params["candidates"]}` by {params["selection"]} (never the held-out customers).

{choices}

**Held-out figures.** {evaluation.headline}

| metric | value |
|---|---|
{figures}

**Limits.** Learns the patterns of its training table only; a customer base whose behaviour
or product mix has moved needs retraining. A built-in-world model has seen synthetic customers
only. Probabilities are scores for ranking and triage, not decisions about a person.
"""


def feedback_card(params: dict[str, Any], metrics: dict[str, float]) -> str:
    """The card's paragraph on feedback from the service, when the run trained on some."""
    if "feedback_window" not in params:
        return ""
    figures = "\n".join(
        f"| {name.removeprefix('feedback.').removesuffix('_after')} | "
        f"{metrics.get(name.replace('_after', '_before'), float('nan')):.3f} | {value:.3f} |"
        for name, value in metrics.items()
        if name.endswith("_after")
    )
    table = (
        f"\n| metric | production (version {params['feedback_compared_with']}) | this version |"
        f"\n|---|---|---|\n{figures}\n"
        if figures
        else "\nToo little feedback to hold any out: no figures on real traffic.\n"
    )
    return f"""
**Feedback.** {params["feedback_rows_training"]} rows of feedback from the service
({params["feedback_window"]}) joined the training split; they replaced the label of
{params["feedback_labels_replaced"]} rows of the training data. {params["feedback_rows_held_out"]}
more were held out, never trained on, to judge this version and the production version on real
traffic:
{table}"""
