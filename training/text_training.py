"""The ``insight train <text model>`` job: read or generate data, then train and register."""

from __future__ import annotations

from pathlib import Path

from model_registry.store import MlflowStore
from training.progress import step
from training.text_data import labelled_texts, read_table
from training.text_trainer import TextTask, TextTrainingOutcome, train_text_model

BUILT_IN_ROWS = 6000


def train_text_command(
    task: TextTask,
    *,
    data_file: Path | None,
    text_column: str,
    label_column: str,
    seed: int,
    store: MlflowStore,
) -> TextTrainingOutcome:
    """Train ``task`` on ``data_file`` or, without one, on the built-in corpus."""
    if data_file is None:
        from training.demand_corpus import generate_demands

        with step(f"generating the built-in demand corpus ({BUILT_IN_ROWS} texts)"):
            frame = generate_demands(BUILT_IN_ROWS, seed=0)
        source = f"built-in demand corpus, {BUILT_IN_ROWS} texts, seed 0"
    else:
        frame = read_table(data_file)
        source = f"{data_file.name} ({len(frame)} rows)"
    data = labelled_texts(
        frame, text_column=text_column, label_column=label_column, binary=task.binary, source=source
    )
    return train_text_model(task, data, store=store, seed=seed)

