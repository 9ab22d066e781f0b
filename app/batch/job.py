"""A batch job's output folder: one answer file per input part, the bad rows, and what the job
was run with, so a job that stopped can be run again and do only what is left.

    out/part-00000.parquet   the answers to part 0 (written whole, then renamed into place)
    out/_parts/00000.json    part 0 is done: its counts (written last)
    out/_parts/00000.csv     part 0's bad rows, when it had any
    out/_bad_rows.csv        every bad row: file, row, id, reason (when the job is done)
    out/_job.json            the input, its parts, the models and versions; the totals at the end

Names starting with ``_`` are skipped by Parquet readers (pandas, pyarrow, Spark), so the
folder reads as one table.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from app.batch.scoring import ChunkScorer
from app.batch.sources import Part
from training.common.labels import DataError

FORMATS = ("parquet", "csv")


@dataclass(frozen=True)
class PartResult:
    number: int
    rows: int
    bad_rows: int


class JobFolder:
    def __init__(self, out: Path, fmt: str):
        if fmt not in FORMATS:
            raise DataError(f"format must be one of {', '.join(FORMATS)}")
        self.out = out
        self.format = fmt

    def start(self, plan: dict) -> dict[int, PartResult]:
        """Take the folder for the job ``plan`` describes; the parts already done, when it
        holds an earlier run of the same job. A folder with anything else in it is refused."""
        job_file = self.out / "_job.json"
        if job_file.exists():
            earlier = json.loads(job_file.read_text())
            if earlier.get("plan") != plan:
                raise DataError(
                    f"{self.out} holds the output of another job (other input, models or "
                    "options); remove it or choose another folder"
                )
            return self.done_parts()
        if self.out.exists() and any(self.out.iterdir()):
            raise DataError(f"{self.out} is not empty; give a new or empty folder")
        (self.out / "_parts").mkdir(parents=True, exist_ok=True)
        _write_atomically(job_file, json.dumps({"plan": plan}, ensure_ascii=False, indent=1))
        return {}

    def done_parts(self) -> dict[int, PartResult]:
        done = {}
        for marker in (self.out / "_parts").glob("*.json"):
            result = PartResult(**json.loads(marker.read_text()))
            done[result.number] = result
        return done

    def part_path(self, number: int) -> Path:
        return self.out / f"part-{number:05d}.{self.format}"

    def write_part(self, number: int, part: Part, scorer: ChunkScorer, rows: int) -> PartResult:
        """Score ``part`` in frames of ``rows`` and write its answers, then its bad rows, then
        the mark that it is done."""
        target = self.part_path(number)
        temporary = target.with_name(f".{target.name}.tmp")
        writer = AnswerWriter(temporary, self.format)
        problems = []
        for first_row, frame in part.frames(rows):
            positions = np.arange(first_row, first_row + len(frame))
            scored = scorer.score(frame, file=part.file, rows=positions)
            writer.write(scored.answers)
            if len(scored.problems):
                problems.append(scored.problems)
        written = writer.close()
        if written:
            os.replace(temporary, target)
        if problems:
            pd.concat(problems).to_csv(self.out / "_parts" / f"{number:05d}.csv", index=False)
        result = PartResult(number, written, sum(map(len, problems)))
        _write_atomically(self.out / "_parts" / f"{number:05d}.json", json.dumps(asdict(result)))
        return result

    def finish(self, results: dict[int, PartResult], seconds: float) -> dict:
        """Gather the bad rows into one file and record the totals."""
        bad_files = sorted((self.out / "_parts").glob("*.csv"))
        frames = [pd.read_csv(path, dtype={"id": "string"}) for path in bad_files]
        bad_rows = self.out / "_bad_rows.csv"
        if frames:
            pd.concat(frames).to_csv(bad_rows, index=False)
        totals = {
            "rows": sum(r.rows for r in results.values()),
            "bad_rows": sum(r.bad_rows for r in results.values()),
            "parts": len(results),
            "seconds": round(seconds, 1),
        }
        job_file = self.out / "_job.json"
        job = json.loads(job_file.read_text()) | {"done": totals}
        _write_atomically(job_file, json.dumps(job, ensure_ascii=False, indent=1))
        return totals


class AnswerWriter:
    """Appends frames of answers to one Parquet or CSV file, all with the first one's columns."""

    def __init__(self, path: Path, fmt: str):
        self.path = path
        self.format = fmt
        self.rows = 0
        self._parquet: pq.ParquetWriter | None = None

    def write(self, answers: pd.DataFrame) -> None:
        if answers.empty:
            return
        if self.format == "csv":
            answers.to_csv(
                self.path, mode="a" if self.rows else "w", header=not self.rows, index=False
            )
        else:
            table = pa.Table.from_pandas(answers, preserve_index=False)
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema)
            self._parquet.write_table(table.cast(self._parquet.schema))
        self.rows += len(answers)

    def close(self) -> int:
        if self._parquet is not None:
            self._parquet.close()
        return self.rows


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
