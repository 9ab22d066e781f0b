"""Reading a customer file (CSV or Parquet) in chunks, each row numbered as the user sees it.

CSV rows are numbered by file line (the header is line 1; a quoted value spanning lines counts
as one); Parquet rows by position (the first row is row 1). CSV is read as text, so every value
reaches the schema check as it was written; a CSV row with more or fewer fields than the header
is left out and reported as such, never padded with blanks.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from app.services.customer_records import RowProblem
from training.common.labels import DataError

CSV_SUFFIXES = (".csv", ".txt")
PARQUET_SUFFIXES = (".parquet", ".pq")
_READ_BLOCK = 1 << 20
_CSV_BLOCK = 1 << 22  # a CSV row must fit in one block of the reader


@dataclass(frozen=True)
class CustomerChunk:
    """Consecutive rows of the file and the number of each, as the user would find it, and the
    rows among them left out while reading (a CSV row of the wrong width)."""

    frame: pd.DataFrame
    lines: Sequence[int]
    problems: tuple[RowProblem, ...] = ()


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
        if self.kind == "csv":
            yield from _csv_chunks(self, chunk_rows)
            return
        first = 1
        for frame in self._parquet_frames(chunk_rows):
            yield CustomerChunk(frame.reset_index(drop=True), range(first, first + len(frame)))
            first += len(frame)

    def _parquet_frames(self, chunk_rows: int) -> Iterator[pd.DataFrame]:
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(self.path).iter_batches(batch_size=chunk_rows):
            # Whole numbers stay whole where a column has blanks (pandas would make them float).
            yield batch.to_pandas(integer_object_nulls=True)


def _csv_chunks(source: CustomerFile, chunk_rows: int) -> Iterator[CustomerChunk]:
    numbering = _Numbering(width=len(source.columns))
    pending: list[pa.RecordBatch] = []
    held = 0
    try:
        reader = _csv_reader(source, numbering)  # reads the first block already
        for batch in reader:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending)
                pending = table.slice(chunk_rows).to_batches()
                held -= chunk_rows
                yield numbering.chunk(table.slice(0, chunk_rows))
    except (pa.ArrowInvalid, UnicodeDecodeError):
        # Not the reader's message: it quotes the row (customer data).
        encoding = "UTF-8" if source.encoding == "utf-8-sig" else source.encoding.upper()
        raise DataError(
            f"{source.path.name} is not a well-formed {encoding} CSV file after line "
            f"{numbering.next_line - 1}"
        ) from None
    rest = numbering.chunk(pa.Table.from_batches(pending, schema=reader.schema), last=True)
    if len(rest.frame) or rest.problems:
        yield rest


def _csv_reader(source: CustomerFile, numbering: _Numbering) -> pa_csv.CSVStreamingReader:
    """Every column as text; only an empty cell is blank ("NA" stays "NA"); an empty line
    stays a row (reported as a blank id), so line numbers stay true."""
    return pa_csv.open_csv(
        source.path,
        # One thread: the rows come in order, each numbered (the numbering counts on it).
        read_options=pa_csv.ReadOptions(
            use_threads=False,
            block_size=_CSV_BLOCK,
            column_names=list(source.columns),  # pandas' names: a repeated one made unique
            skip_rows=1,
            encoding="utf8" if source.encoding == "utf-8-sig" else source.encoding,
        ),
        parse_options=pa_csv.ParseOptions(
            newlines_in_values=True,  # a quoted value may span lines, even across blocks
            ignore_empty_lines=False,
            invalid_row_handler=numbering.leave_out,
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in source.columns},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )


class _Numbering:
    """Numbers the rows read, in file order, leaving out those of the wrong width (which the
    reader reports, each with its number, before it hands over the rows after it)."""

    def __init__(self, *, width: int):
        self.width = width
        self.next_line = 2  # the header is line 1
        self._left_out: list[RowProblem] = []
        self._passed = 0  # left-out rows before the next line to number
        self._reported = 0  # left-out rows already handed over with a chunk

    def leave_out(self, row: pa_csv.InvalidRow) -> str:
        fields = "1 field" if row.actual_columns == 1 else f"{row.actual_columns} fields"
        reason = f"{fields}, the header has {self.width}"
        self._left_out.append(RowProblem(row.number, reason))
        return "skip"

    def chunk(self, table: pa.Table, *, last: bool = False) -> CustomerChunk:
        """The chunk of ``table``'s rows, numbered, with the rows left out before its last."""
        lines = []
        for _ in range(table.num_rows):
            self._step_over_left_out()
            lines.append(self.next_line)
            self.next_line += 1
        end = len(self._left_out) if last else self._passed
        problems = tuple(self._left_out[self._reported : end])
        self._reported = end
        return CustomerChunk(table.to_pandas(), lines, problems)

    def _step_over_left_out(self) -> None:
        while (
            self._passed < len(self._left_out)
            and self._left_out[self._passed].line <= self.next_line
        ):
            if self._left_out[self._passed].line == self.next_line:
                self.next_line += 1
            self._passed += 1


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
