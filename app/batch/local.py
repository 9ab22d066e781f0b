"""The local batch engine: the input's parts scored by worker processes, one per core, each
streaming its part in bounded frames and writing its own answer file."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from mlflow.models import Model

from app.batch.job import JobFolder, PartResult
from app.batch.scoring import ChunkScorer, ModelSource, check_columns, required_columns
from app.batch.sources import Part
from app.services.served_models import TEXT_MODELS
from training.common.progress import report

FRAME_ROWS = 10_000  # rows a worker scores at once: about 0.2 GB at its peak, whatever the part


@dataclass(frozen=True)
class ScorerSpec:
    """What a worker needs to build its own ChunkScorer: picklable, unlike the models."""

    sources: tuple[ModelSource, ...]
    id_column: str | None
    text_column: str

    def load(self) -> ChunkScorer:
        return ChunkScorer.load(
            self.sources, id_column=self.id_column, text_column=self.text_column
        )

    def check_columns(self, columns: Sequence[str]) -> None:
        """What ``ChunkScorer.check_columns`` checks, from the models' signatures alone (the
        main process need not hold the models)."""
        texts = [s for s in self.sources if s.name in TEXT_MODELS]
        schemas = [Model.load(s.uri).get_input_schema() for s in self.sources if s not in texts]
        text_column = self.text_column if texts else None
        check_columns(
            columns, required_columns(schemas, id_column=self.id_column, text_column=text_column)
        )


def run_local(
    parts: Sequence[Part],
    spec: ScorerSpec,
    folder: JobFolder,
    done: dict[int, PartResult],
    *,
    workers: int,
    frame_rows: int = FRAME_ROWS,
) -> dict[int, PartResult]:
    """Score every part not in ``done``; the results of all parts."""
    results = dict(done)
    todo = [(number, part) for number, part in enumerate(parts) if number not in done]
    progress = Progress(parts, done)
    if workers <= 1 or len(todo) <= 1:
        scorer = spec.load()
        for number, part in todo:
            results[number] = folder.write_part(number, part, scorer, frame_rows)
            progress.update(results[number])
        return results
    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads
    with ProcessPoolExecutor(
        min(workers, len(todo)), mp_context=context, initializer=_load_scorer, initargs=(spec,)
    ) as pool:
        futures = [pool.submit(_write_part, folder, n, part, frame_rows) for n, part in todo]
        try:
            for future in as_completed(futures):
                result = future.result()
                results[result.number] = result
                progress.update(result)
        except BaseException:
            pool.shutdown(cancel_futures=True)
            raise
    return results


_scorer: ChunkScorer | None = None


def _load_scorer(spec: ScorerSpec) -> None:
    global _scorer
    _scorer = spec.load()


def _write_part(folder: JobFolder, number: int, part: Part, frame_rows: int) -> PartResult:
    assert _scorer is not None, "the worker's initializer loads the scorer"
    return folder.write_part(number, part, _scorer, frame_rows)


class Progress:
    """A line on stderr as parts finish: rows done, rows/s and, when the total is known, the
    share done and the time left. At most one line every few seconds, and the last."""

    EVERY_S = 2.0

    def __init__(self, parts: Sequence[Part], done: dict[int, PartResult]):
        sizes = [part.rows for part in parts]
        self.total = None if None in sizes else sum(sizes)
        self.parts = len(parts)
        self.finished = len(done)
        self.rows = sum(r.rows + r.bad_rows for r in done.values())
        self.started_rows = self.rows
        self.started = self.last = time.monotonic()
        if done:
            report(f"… resuming: {len(done)} of {len(parts)} parts were written before")

    def update(self, result: PartResult) -> None:
        self.finished += 1
        self.rows += result.rows + result.bad_rows
        now = time.monotonic()
        if now - self.last < self.EVERY_S and self.finished < self.parts:
            return
        self.last = now
        rate = (self.rows - self.started_rows) / max(now - self.started, 1e-9)
        line = f"… {self.finished}/{self.parts} parts, {self.rows:,} rows, {rate:,.0f} rows/s"
        if self.total:
            left = (self.total - self.rows) / rate if rate else float("inf")
            line += f", {100 * self.rows / self.total:.0f}%, ETA {_duration(left)}"
        report(line)


def _duration(seconds: float) -> str:
    if seconds == float("inf"):
        return "unknown"
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
