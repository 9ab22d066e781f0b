"""Reading a customer file (CSV or Parquet) in chunks, each row numbered as the user sees it.

CSV rows are numbered by file line (the header is line 1); Parquet rows by position (the first
row is row 1). CSV is read as text, so every value reaches the schema check as it was written.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from training.labels import DataError

CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
_READ_BLOCK = 1 << 20


@dataclass(frozen=True)
class CustomerChunk:
    """Consecutive rows of the file and the number of each, as the user would find it."""

    frame: pd.DataFrame
    lines: range


@dataclass(frozen=True)
class CustomerFile:
    """A CSV or Parquet file of customer rows."""

    path: Path
    kind: str  # "csv" or "parquet"
    columns: tuple[str, ...]
    rows: int  # for CSV, the data lines; a quoted value spanning lines counts more than once
    encoding: str = "utf-8-sig"

    @property
    def row_word(self) -> str:
        """What a row's number counts: lines of a CSV file, rows of a Parquet file."""
        return "line" if self.kind == "csv" else "row"

    def chunks(self, chunk_rows: int) -> Iterator[CustomerChunk]:
        """The rows, ``chunk_rows`` at a time."""
        frames = (
            self._csv_frames(chunk_rows) if self.kind == "csv" else self._parquet_frames(chunk_rows)
        )
        first = 2 if self.kind == "csv" else 1
        for frame in frames:
            yield CustomerChunk(frame.reset_index(drop=True), range(first, first + len(frame)))
            first += len(frame)

    def _csv_frames(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        reader = pd.read_csv(
            self.path,
            dtype=str,
            keep_default_na=False,  # "NA" stays "NA": only an empty cell is blank
            na_values=[""],
            # An empty line stays a row (reported as a blank id) so line numbers stay true.
            skip_blank_lines=False,
            encoding=self.encoding,
            chunksize=chunk_rows,
        )
        try:
            with reader:
                yield from reader
        except pd.errors.ParserError as error:
            raise DataError(f"{self.path.name} is not a well-formed CSV file: {error}") from None

    def _parquet_frames(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=chunk_rows):
            # Whole numbers stay whole where a column has blanks (pandas would make them float).
            yield batch.to_pandas(integer_object_nulls=True)


def open_customer_file(path: Path) -> CustomerFile:
    """The file at ``path``, its columns and its row count; CSV may be UTF-8 or GB18030."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return _open_parquet(path)
    if suffix in CSV_SUFFIXES:
        return _open_csv(path)
    raise DataError(f"{path.name}: expected a .csv or .parquet file")


def _open_parquet(path: Path) -> CustomerFile:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except Exception as error:  # pyarrow raises several types for an unreadable file
        raise DataError(f"{path.name} is not a readable Parquet file: {error}") from None
    return CustomerFile(
        path, "parquet", tuple(parquet.schema_arrow.names), parquet.metadata.num_rows
    )


def _open_csv(path: Path) -> CustomerFile:
    lines, is_utf8 = _scan(path)
    encoding = "utf-8-sig" if is_utf8 else "gb18030"
    try:
        header = pd.read_csv(path, dtype=str, nrows=0, encoding=encoding)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataError(f"{path.name} is not a readable CSV file: {error}") from None
    return CustomerFile(path, "csv", tuple(header.columns), max(lines - 1, 0), encoding)


def _scan(path: Path) -> tuple[int, bool]:
    """The number of lines in the file, and whether it is valid UTF-8; one pass, bounded memory."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines, is_utf8, last = 0, True, b"\n"
    with path.open("rb") as file:
        while block := file.read(_READ_BLOCK):
            lines += block.count(b"\n")
            last = block[-1:]
            if is_utf8:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    is_utf8 = False
    return lines + (last != b"\n"), is_utf8
