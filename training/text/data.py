"""Labelled texts read from a table, with what was dropped and why."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from training.common.feedback import held_out_mask
from training.common.labels import DataError, binary_labels, clean_labels

SPAM, HAM = "spam", "ham"
MIN_CLASS_SIZE = 10  # calibration cross-validates in 5 folds after a 20% hold-out


@dataclass(frozen=True)
class LabelledTexts:
    """Texts and their labels, ready to split."""

    texts: list[str]
    labels: list[str]
    source: str
    dropped_blank: int = 0
    dropped_classes: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def read_table(path: Path) -> pd.DataFrame:
    """A CSV file as strings, in UTF-8 (with or without BOM) or GB18030."""
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except UnicodeDecodeError:
        return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="gb18030")


def labelled_texts(
    frame: pd.DataFrame, *, text_column: str, label_column: str, binary: bool, source: str
) -> LabelledTexts:
    """Pick the text and label columns, drop blank rows and classes too small to learn."""
    for column in (text_column, label_column):
        if column not in frame.columns:
            raise DataError(
                f"column {column!r} not found; the table has: {', '.join(map(str, frame.columns))}"
            )
    texts = frame[text_column].astype("string").str.strip()
    if binary:
        labels = binary_labels(frame[label_column], column=label_column)
        labels = labels.map(lambda flag: None if flag is None else (SPAM if flag else HAM))
    else:
        labels = clean_labels(frame[label_column])
    usable = texts.notna() & (texts != "") & labels.notna()
    texts, labels = texts[usable], labels[usable].astype(str)
    counts = labels.value_counts()
    too_small = counts[counts < MIN_CLASS_SIZE]
    keep = ~labels.isin(too_small.index)
    data = LabelledTexts(
        texts=texts[keep].tolist(),
        labels=labels[keep].tolist(),
        source=source,
        dropped_blank=int((~usable).sum()),
        dropped_classes={str(k): int(v) for k, v in too_small.items()},
    )
    if len(set(data.labels)) < 2:
        raise DataError(
            f"column {label_column!r} needs at least two classes with {MIN_CLASS_SIZE}+ rows each"
        )
    return data


@dataclass(frozen=True)
class TextFeedbackSplit:
    """Training data and corrections from the service, ready to train on: a correction
    replaces the label of the same text, and a held-out share of the corrections is kept apart
    to judge the model on (``training.common.feedback``)."""

    data: LabelledTexts  # the training data without the texts the corrections speak of
    training: LabelledTexts  # corrections that join the training split
    held_out: LabelledTexts  # corrections no model is trained on
    replaced: int  # texts of the data whose label a correction changed


def split_feedback(data: LabelledTexts, corrections: LabelledTexts, seed: int) -> TextFeedbackSplit:
    """The latest correction of each text (``corrections`` in the order received) replaces
    the text's rows in ``data``; ``held_out_mask`` picks the corrections held out."""
    latest = pd.DataFrame({"text": corrections.texts, "label": corrections.labels})
    latest = latest.drop_duplicates("text", keep="last").reset_index(drop=True)
    given = pd.DataFrame({"text": data.texts, "label": data.labels})
    corrected = given["text"].isin(latest["text"])
    before = given[corrected].drop_duplicates("text").set_index("text")["label"]
    replaced = int((before != latest.set_index("text")["label"].reindex(before.index)).sum())
    held = held_out_mask(len(latest), seed)
    kept = given[~corrected]
    return TextFeedbackSplit(
        data=replace(data, texts=kept["text"].tolist(), labels=kept["label"].tolist()),
        training=_labelled(latest[~held], corrections.source),
        held_out=_labelled(latest[held], corrections.source),
        replaced=replaced,
    )


def _labelled(frame: pd.DataFrame, source: str) -> LabelledTexts:
    return LabelledTexts(frame["text"].tolist(), frame["label"].tolist(), source)
