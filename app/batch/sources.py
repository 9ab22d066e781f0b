"""What a batch job reads, cut into parts each worker reads on its own: a Parquet file's row
groups, a CSV file, a page of the app database's customers.

A part streams its rows in frames of a bounded size, so memory stays flat whatever the input
size; its number names its output file, and the plan of parts is the same every time the same
input is read, so a job that stopped can be run again and skip the parts already written.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from training.common.labels import DataError

PARQUET_SUFFIXES = {".parquet", ".pq"}
TABLE_SUFFIXES = PARQUET_SUFFIXES | {".csv"}


@dataclass(frozen=True)
class ParquetPart:
    """One row group of a Parquet file."""

    path: Path
    row_group: int
    first_row: int
    rows: int

    @property
    def file(self) -> str:
        return self.path.name

    def columns(self) -> list[str]:
        return pq.ParquetFile(self.path).schema_arrow.names

    def frames(self, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
        """(first row within the file, frame) for each slice of at most ``rows`` rows."""
        first = self.first_row
        for batch in pq.ParquetFile(self.path).iter_batches(rows, row_groups=[self.row_group]):
            yield first, batch.to_pandas()
            first += batch.num_rows


@dataclass(frozen=True)
class CsvPart:
    """A whole CSV file (UTF-8 or GB18030, as training reads them), read in slices."""

    path: Path
    id_column: str | None
    first_row: int = 0
    rows: int | None = None  # unknown until read

    @property
    def file(self) -> str:
        return self.path.name

    def columns(self) -> list[str]:
        return _first_columns(self)

    def frames(self, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
        # Ids as text: a CSV reader would make 00123 the number 123. An empty line is a row
        # (a blank text, say): skipping it would drop it unreported and shift every position.
        dtype = {self.id_column: str} if self.id_column else None
        first = 0
        try:
            for frame in pd.read_csv(
                self.path,
                chunksize=rows,
                encoding=csv_encoding(self.path),
                dtype=dtype,
                low_memory=False,
                skip_blank_lines=False,
            ):
                yield first, frame
                first += len(frame)
        except UnicodeDecodeError:
            raise DataError(f"{self.path.name} is neither UTF-8 nor GB18030 text") from None


@dataclass(frozen=True)
class CustomerPage:
    """The app database's customers with ids from ``first_id`` to ``last_id``, in id order."""

    database_url: str
    first_id: str
    last_id: str
    first_row: int
    rows: int

    file = "customers"

    def columns(self) -> list[str]:
        return _first_columns(self)

    def frames(self, rows: int) -> Iterator[tuple[int, pd.DataFrame]]:
        from app.services.customer_store import customer_records_between

        first = self.first_row
        for ids, records in customer_records_between(
            self.database_url, self.first_id, self.last_id, page=rows
        ):
            yield first, pd.DataFrame(records).assign(customer_id=ids)
            first += len(ids)


Part = ParquetPart | CsvPart | CustomerPage


def _first_columns(part: CsvPart | CustomerPage) -> list[str]:
    for _, frame in part.frames(1):
        return list(frame.columns)
    return []


def table_parts(path: Path, *, id_column: str | None) -> list[Part]:
    """The parts of a Parquet or CSV file, or of every such file in a folder (by name)."""
    files = sorted(p for p in path.iterdir() if _is_table(p)) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path} holds no .parquet or .csv file")
    parts: list[Part] = []
    for file in files:
        if file.suffix.lower() in PARQUET_SUFFIXES:
            parts.extend(_parquet_parts(file))
        elif file.suffix.lower() == ".csv":
            parts.append(CsvPart(file, id_column))
        else:
            raise DataError(f"{file.name}: give a .parquet or .csv file")
    return parts


def customer_pages(database_url: str, *, rows: int) -> list[Part]:
    """The app database's customers in pages of ``rows``, cut at ids read once, in order."""
    from app.services.customer_store import customer_id_bounds

    pages: list[Part] = []
    first_row = 0
    for first_id, last_id, count in customer_id_bounds(database_url, page=rows):
        pages.append(CustomerPage(database_url, first_id, last_id, first_row, count))
        first_row += count
    return pages


def _is_table(path: Path) -> bool:
    return (
        path.is_file()
        and not path.name.startswith(("_", "."))
        and (path.suffix.lower() in TABLE_SUFFIXES)
    )


def _parquet_parts(path: Path) -> list[Part]:
    try:
        metadata = pq.ParquetFile(path).metadata
    except Exception as error:  # pyarrow's own errors: not a Parquet file, cut short...
        raise DataError(f"{path.name} is not a readable Parquet file ({error})") from None
    parts: list[Part] = []
    first = 0
    for group in range(metadata.num_row_groups):
        rows = metadata.row_group(group).num_rows
        parts.append(ParquetPart(path, group, first, rows))
        first += rows
    return parts


def csv_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) when the whole file is, else GB18030: as training reads it.
    Decided before the first slice is read; one pass, bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as file:
            while block := file.read(1 << 20):
                decoder.decode(block)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8-sig"
