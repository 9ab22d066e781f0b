"""``insight predict``: a table (or the app database's customers) scored by registered models
into a folder of answer files, on the local engine or on Spark."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlflow.artifacts
from mlflow.tracking import MlflowClient

from app.batch.job import JobFolder
from app.batch.local import ScorerSpec, run_local
from app.batch.scoring import ModelSource
from app.batch.sources import Part, customer_pages, table_parts
from app.services.served_models import ALL_MODELS, CUSTOMER_MODELS
from model_registry.registry import resolve_version
from training.common.labels import DataError

DEFAULT_ID_COLUMN = "customer_id"
DB_PAGE_ROWS = 100_000  # customers per part when scoring the app database
ENGINES = ("local", "spark")


@dataclass(frozen=True)
class BatchJob:
    """Everything a run needs besides the engine: what to read, with which models, where to."""

    parts: list[Part]
    input: str  # the input as the job records it: a path, or the app database
    models: tuple[ModelSource, ...]
    id_column: str | None
    text_column: str
    folder: JobFolder

    @property
    def spec(self) -> ScorerSpec:
        return ScorerSpec(self.models, self.id_column, self.text_column)

    def plan(self, engine: str) -> dict:
        """What makes two runs the same job (a rerun then skips the parts already written)."""
        return {
            "input": self.input,
            "parts": [[part.file, part.first_row, part.rows] for part in self.parts],
            "models": {source.name: source.version for source in self.models},
            "id_column": self.id_column,
            "text_column": self.text_column,
            "format": self.folder.format,
            "engine": engine,
        }


def model_sources(
    client: MlflowClient,
    names: Sequence[str],
    *,
    alias: str | None,
    version: str | None,
    download_to: Path,
) -> tuple[ModelSource, ...]:
    """The versions to score with (every customer model by default), as local folders."""
    names = list(names) or list(CUSTOMER_MODELS)
    unknown = [name for name in names if name not in ALL_MODELS]
    if unknown:
        raise DataError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(ALL_MODELS)}")
    if version is not None and len(names) != 1:
        raise DataError("--version names the version of one model; give one model with it")
    sources = []
    for name in dict.fromkeys(names):
        chosen = resolve_version(client, name, alias=alias, version=version)
        uri = client.get_model_version_download_uri(name, chosen.version)
        if not Path(uri).is_dir():  # a tracking server's store: fetched once, for every worker
            uri = mlflow.artifacts.download_artifacts(uri, dst_path=str(download_to / name))
        sources.append(ModelSource(name, str(chosen.version), uri))
    return tuple(sources)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def run(job: BatchJob, *, engine: str, workers: int, spark_master: str | None) -> dict:
    """Score every part not written by an earlier run of the same job; the job's totals."""
    if engine not in ENGINES:
        raise DataError(f"engine must be one of {', '.join(ENGINES)}")
    started = time.monotonic()
    if engine == "spark":
        from app.batch import spark

        spark.check(job)
    job.spec.check_columns(first_columns(job.parts))
    done = job.folder.start(job.plan(engine))
    if engine == "spark":  # Spark retries its own tasks; a rerun scores the whole job again
        results = spark.run_spark(job, master=spark_master or "local[*]")
    else:
        results = run_local(job.parts, job.spec, job.folder, done, workers=workers)
    return job.folder.finish(results, time.monotonic() - started)


def job_input(
    data: Path | None, database_url: str | None, id_column: str | None
) -> tuple[list[Part], str, str | None]:
    """The parts to read, the input as the job records it, and the id column: ``id_column``,
    or customer_id when the table has one (read as text: a CSV reader would make 00123 the
    number 123); the app database's customers when ``database_url`` is given."""
    if database_url is not None:
        return customer_pages(database_url, rows=DB_PAGE_ROWS), "app database", DEFAULT_ID_COLUMN
    assert data is not None
    parts = table_parts(data, id_column=id_column)
    if id_column is None and DEFAULT_ID_COLUMN in first_columns(parts):
        id_column = DEFAULT_ID_COLUMN
        parts = table_parts(data, id_column=id_column)
    return parts, str(data.resolve()), id_column


def first_columns(parts: Sequence[Part]) -> list[str]:
    """The columns of the first part: every part of one input must have them."""
    if not parts:
        raise DataError("the input holds no rows")
    return parts[0].columns()
