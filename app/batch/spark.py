"""The Spark batch engine: the local engine's ``ChunkScorer`` run by Spark's executors inside
``mapInPandas``, so both engines give the same answers to the same rows.

The driver reads the registry; each model's folder goes to the executors with the job
(``SparkContext.addFile``, as ``mlflow.pyfunc.spark_udf`` ships a model), so executors need
this project's wheel and its dependencies, not the tracking server. Each Python worker loads
the models once. Parquet in; the answers land in the job folder as ``part-NNNNN.parquet`` (or
``.csv``), the bad rows in ``_bad_rows.csv``, with the file and row Spark read them from.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from app.batch.job import PartResult
from app.batch.local import FRAME_ROWS, ScorerSpec
from app.batch.scoring import PROBLEM_COLUMNS, ChunkScorer, ModelSource
from app.batch.sources import ParquetPart
from training.common.labels import DataError

INSTALL_HINT = "the Spark engine needs pyspark: pip install 'customer-insight[spark]'"
REASON = "_reason"  # set on a row the scorer skipped; null on an answer
SPARK_TYPES = {"float64": "double", "bool": "boolean", "int64": "long"}


def check(job) -> None:
    """What the Spark engine needs before it starts: pyspark, and Parquet input."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise DataError(INSTALL_HINT) from None
    _parquet_files(job.parts)


def run_spark(job, *, master: str) -> dict[int, PartResult]:
    """Score ``job`` on Spark at ``master``; one result for the whole job."""
    from pyspark import StorageLevel
    from pyspark.sql import SparkSession
    from pyspark.sql import functions as F

    files = _parquet_files(job.parts)
    if master.startswith("local"):
        # Executors in local mode run this interpreter (on a cluster: PYSPARK_PYTHON).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(master)
        .appName("insight predict")
        .config("spark.executorEnv.OMP_NUM_THREADS", "1")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(FRAME_ROWS))
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.showConsoleProgress", "true")
        .getOrCreate()
    )
    try:
        sample = job.spec.load().sample()
        spec = _shipped(spark, job.spec, job.folder.out / "_spark" / "models")
        table = spark.read.parquet(*map(str, files)).select(
            "*",
            F.col("_metadata.file_name").alias("_source_file"),
            F.col("_metadata.row_index").alias("_source_row"),
        )
        batches = _scorer_of_batches(spec, sample)
        scored = table.mapInPandas(batches, schema=_output_schema(sample))
        scored = scored.persist(StorageLevel.DISK_ONLY)  # scored once, read twice
        answers = scored.where(F.col(REASON).isNull()).select(*map(_quoted, sample.columns))
        problems = scored.where(F.col(REASON).isNotNull()).select(
            *(F.col(f"_{name}").alias(name) for name in PROBLEM_COLUMNS)
        )
        written = _write(answers, job.folder)
        bad = _write_problems(problems.orderBy("source_file", "source_row"), job.folder)
        scored.unpersist()
    finally:
        spark.stop()
        shutil.rmtree(job.folder.out / "_spark", ignore_errors=True)
    return {0: PartResult(0, written, bad)}


def _parquet_files(parts) -> list[Path]:
    if not all(isinstance(part, ParquetPart) for part in parts):
        raise DataError(
            "the Spark engine reads Parquet (a file or a folder of them), where each row's "
            "file and position are known; score CSV or the app database with --engine local"
        )
    return list(dict.fromkeys(part.path for part in parts))


def _shipped(spark, spec: ScorerSpec, staging: Path) -> ScorerSpec:
    """``spec`` with each model's folder shipped to the executors under its model's name."""
    sources = []
    for source in spec.sources:
        folder = staging / source.name
        shutil.copytree(source.uri, folder)
        spark.sparkContext.addFile(str(folder), recursive=True)
        sources.append(replace(source, uri=f"sparkfiles:{source.name}"))
    return replace(spec, sources=tuple(sources))


def _output_schema(sample: pd.DataFrame) -> str:
    """The answers' columns (as the scorer gave them for the models' input examples), then
    where a skipped row came from and why: one DDL schema for both kinds of row."""
    columns = [f"{_quoted(name)} {_spark_type(sample[name])}" for name in sample.columns]
    columns += [
        f"_{name} {'long' if name == 'source_row' else 'string'}" for name in PROBLEM_COLUMNS
    ]
    return ", ".join(columns)


def _spark_type(column: pd.Series) -> str:
    return SPARK_TYPES.get(str(column.dtype), "string")


def _quoted(name: str) -> str:
    return f"`{name}`"


def _scorer_of_batches(spec: ScorerSpec, sample: pd.DataFrame):
    """The function ``mapInPandas`` runs on each partition: per Arrow batch, one frame of
    answers and one of skipped rows, both with every column of the output schema."""
    columns = [*sample.columns, *(f"_{name}" for name in PROBLEM_COLUMNS)]
    text = [c for c in sample.columns if _spark_type(sample[c]) == "string"]
    text += ["_source_file", "_id", "_reason"]

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        scorer = _executor_scorer(spec)
        for frame in batches:
            files = frame.pop("_source_file").to_numpy(dtype=object)
            rows = frame.pop("_source_row").to_numpy(dtype=np.int64)
            scored = scorer.score(frame, file=files, rows=rows)
            yield _plain(scored.answers, columns, text)
            problems = scored.problems.set_axis(columns[-len(PROBLEM_COLUMNS) :], axis=1)
            yield _plain(problems, columns, text)

    return score


def _plain(frame: pd.DataFrame, columns: list[str], text: list[str]) -> pd.DataFrame:
    """``frame`` with every one of ``columns`` (None where it has none), the ``text`` ones as
    Python objects: pyspark takes neither pandas' Arrow-backed strings nor an empty column's
    float type for text."""
    empty = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    frame = frame.assign(**{name: empty for name in columns if name not in frame})[columns]
    return frame.astype(dict.fromkeys(text, object))


_SCORERS: dict[ScorerSpec, ChunkScorer] = {}


def _executor_scorer(spec: ScorerSpec) -> ChunkScorer:
    """The models shipped with the job, loaded once per Python worker."""
    from pyspark import SparkFiles

    if spec not in _SCORERS:
        local = tuple(
            ModelSource(s.name, s.version, SparkFiles.get(s.uri.removeprefix("sparkfiles:")))
            for s in spec.sources
        )
        _SCORERS[spec] = replace(spec, sources=local).load()
    return _SCORERS[spec]


def _write(answers, folder) -> int:
    """Spark writes its files to a folder of its own; they are moved into the job folder under
    the local engine's names."""
    spark_out = folder.out / "_spark" / "answers"
    writer = answers.write.mode("overwrite")
    if folder.format == "csv":
        writer.option("header", "true").csv(str(spark_out))
    else:
        writer.parquet(str(spark_out))
    rows = 0
    for number, path in enumerate(sorted(spark_out.glob(f"part-*.{folder.format}"))):
        target = folder.part_path(number)
        shutil.move(path, target)
        rows += _rows_in(target, folder.format)
    return rows


def _rows_in(path: Path, fmt: str) -> int:
    if fmt == "csv":
        return len(pd.read_csv(path, usecols=[0]))
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def _write_problems(problems, folder) -> int:
    """The bad rows, in file and row order, as part 0's list of bad rows (one CSV file)."""
    spark_out = folder.out / "_spark" / "bad_rows"
    problems.coalesce(1).write.mode("overwrite").option("header", "true").csv(str(spark_out))
    (written,) = spark_out.glob("part-*.csv")
    rows = _rows_in(written, "csv")
    if rows:
        shutil.move(written, folder.out / "_parts" / "00000.csv")
    return rows
