"""The CSV reader, and the reader of small all-text CSV tables (reviews, tag definitions).

pyarrow parses the file; the csv module walks it only when something is wrong, to name
the line of every ragged record and of an unclosed quote. Text roles are read exactly as
written; other columns are typed as pandas would type them. A UTF-8 byte order mark and
CRLF line ends read as plain UTF-8 text; a small table may also be separated by ``;``
(as spreadsheets write CSV in many locales, see :func:`sniff_delimiter`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from .arrow import give_back_memory, header_names, temporal_as_text
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .source import count_bytes, is_json_object, load, text_file

# pandas' default missing-value markers: metadata reads as pandas would read it. Kept as
# a two-line table (ruff would give each marker a line of its own).
NA_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
# The delimiters a small table may use: spreadsheets in locales whose decimal mark is a
# comma write CSV with ";".
DELIMITERS = (",", ";")


def read_csv(
    raw: bytes | Path, *, encoding: str, text_columns: Sequence[str], report: Report
) -> pd.DataFrame | None:
    """The file's columns, ``text_columns`` as written and the others as pandas would type
    them; None, with the problems in ``report``, if the file cannot be read as a table.

    ``raw`` is the file's bytes or its path: a UTF-8 file given by its path is parsed from
    the disk, so its bytes are never all in memory beside the table parsed from them."""
    read = _csv_table(
        raw,
        encoding=encoding,
        text_columns=text_columns,
        report=report,
        json_hint="; give it a .jsonl extension",
    )
    if read is None:
        return None
    table, original, again, _ = read

    def as_text(names: list[str]) -> pa.Table:
        return again(
            pa_csv.ConvertOptions(
                include_columns=names,
                column_types={name: pa.string() for name in names},
                strings_can_be_null=False,
            )
        )

    table = temporal_as_text(table, spelled=original, text_columns=text_columns, reread=as_text)
    table = _pandas_like_missing(table, exclude=set(text_columns))
    # Each column's Arrow memory is let go once it is converted, so the file's table and
    # its frame are not both held whole (the table is not used again).
    frame = table.to_pandas(split_blocks=True, self_destruct=True)
    give_back_memory()  # the parser's buffers, freed but kept by the allocator
    return frame


class TextTable(NamedTuple):
    """A small CSV table read whole as text (see :func:`read_text_table`)."""

    frame: pd.DataFrame
    report: Report
    delimiter: str  # "," or ";": a ";" file may write numbers with a decimal comma


def read_text_table(
    source: str | os.PathLike[str], *, required: Sequence[str], encoding: str = "utf-8"
) -> TextTable:
    """A small CSV table (reviews, tag definitions) with every value as text, as written.

    The file passes the same checks as a dataset CSV (encoding, binary content, NUL bytes,
    ragged rows, unclosed quotes, repeated header names) and must have the ``required``
    columns and at least one row. Its delimiter is ``,`` or ``;``, whichever the header
    uses (:func:`sniff_delimiter`). Returns the frame, the report, whose ``locate`` turns
    frame positions into file lines, for the caller's own checks, and the delimiter; raises
    :class:`ImportValidationError` at once if the file cannot be read as a table.
    """
    name, raw, _ = load(source, None)
    report = Report()
    read = _csv_table(
        raw, encoding=encoding, text_columns=None, report=report, json_hint="", delimiter=None
    )
    if read is None:
        raise report.error(name)
    table = read[0]
    missing = [c for c in required if c not in table.column_names]
    if missing:
        found = ", ".join(map(repr, table.column_names[:30])) or "none"
        for column in missing:
            report.add(f"missing required column (columns found: {found})", column=column)
        raise report.error(name)
    return TextTable(table.to_pandas(), report, read[3])


def _csv_table(
    raw: bytes | Path,
    *,
    encoding: str,
    text_columns: Sequence[str] | None,
    report: Report,
    json_hint: str,
    delimiter: str | None = ",",
) -> tuple[pa.Table, list[str], Callable[[pa_csv.ConvertOptions], pa.Table], str] | None:
    """Parse a CSV file into an Arrow table, reporting every malformed record.

    ``text_columns`` are read as text exactly as written; None reads *every* column so.
    ``delimiter`` None takes the one the header line uses (:func:`sniff_delimiter`).
    Returns (table with clean header names, the names as written, a function that parses
    the file again with other conversion options, the delimiter), or None if the file
    cannot be a table.
    On success ``report.locate`` maps table positions to file lines.
    """
    decoded = text_file(raw, encoding=encoding, kind="CSV", report=report)
    if decoded is None:
        return None
    data, line, first = decoded
    if first.startswith("{") and is_json_object(first):
        report.add(
            f"the file looks like JSON Lines, not CSV (a JSON object on line {line}){json_hint}"
        )
        return None
    if delimiter is None:
        delimiter = sniff_delimiter(first)

    ragged_count = 0

    def on_ragged(row: pa_csv.InvalidRow) -> str:
        nonlocal ragged_count
        ragged_count += 1  # the parser may call this from several threads; only a count
        return "skip"

    block_size = 1 << 20
    quotes = count_bytes(data, b'"')  # without quotes no value can span lines: parse faster

    def read(convert: pa_csv.ConvertOptions) -> pa.Table:
        # pyarrow's own file reads the disk without the GIL, in the parser's threads.
        opened = pa.OSFile(str(data)) if isinstance(data, Path) else io.BytesIO(data)
        with opened as stream:
            return pa_csv.read_csv(
                stream,
                read_options=pa_csv.ReadOptions(block_size=block_size),
                parse_options=pa_csv.ParseOptions(
                    delimiter=delimiter,
                    newlines_in_values=quotes > 0,
                    invalid_row_handler=on_ragged,
                ),
                convert_options=convert,
            )

    def convert(columns: Sequence[str]) -> pa_csv.ConvertOptions:
        return pa_csv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            null_values=list(NA_MARKERS),
            strings_can_be_null=False,
        )

    all_text = text_columns is None
    wanted = _csv_header(data, delimiter) if text_columns is None else text_columns
    try:
        try:
            table = read(convert(wanted))
        except pa.ArrowInvalid as err:
            if "straddling" not in str(err):
                raise
            # A value longer than a parser block: read the file as a single block.
            ragged_count = 0
            block_size = _size(data) + 1
            table = read(convert(wanted))
        if all_text and not all(pa.types.is_string(t) for t in table.schema.types):
            # The csv module read the header differently from pyarrow: use pyarrow's names.
            ragged_count = 0
            table = read(convert(table.column_names))
    except pa.ArrowInvalid as err:
        report.add(f"the file cannot be read as CSV: {err}")
        return None

    original = table.column_names
    names = header_names(original, report)
    if names is None:
        return None
    table = table.rename_columns(names)
    odd_quotes = quotes % 2 == 1
    scan = _scan_csv(data, delimiter) if ragged_count or odd_quotes else None
    if scan is not None:
        for line, count in scan.ragged[:MAX_PROBLEMS_PER_CHECK]:
            report.add(f"this row has {count} fields, but the header has {scan.fields}", row=line)
        report.more(len(scan.ragged) - MAX_PROBLEMS_PER_CHECK)
        if odd_quotes:
            report.add(
                "a quoted field that starts in this record is never closed (a '\"' is missing)",
                row=scan.last_start,
            )
    if table.num_rows == 0:
        if not report.problems:
            report.add("the file has a header but no rows")
        return None
    report.locate = _csv_locator(data, table.num_rows, scan, delimiter)
    return table, original, read, delimiter


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV file from its header line: ``;`` where the line holds more
    ``;`` than ``,`` outside quotes, else ``,``. Only those two are told apart."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return ";" if counts[";"] > counts[","] else ","


def _csv_header(data: bytes | Path, delimiter: str) -> list[str]:
    """The header's names as the csv module reads them (the first record that is not blank)."""
    with _csv_records(data, delimiter) as reader:
        for values in reader:
            if values:
                return values
    return []


@contextmanager
def _csv_records(data: bytes | Path, delimiter: str) -> Iterator[csv._reader]:
    """The csv module's reader over the UTF-8 ``data`` (bytes or a file's path), decoded
    as it goes (never the whole file's text at once)."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    with _binary(data) as raw, io.TextIOWrapper(raw, encoding="utf-8", newline="") as stream:
        yield csv.reader(stream, delimiter=delimiter)


def _binary(data: bytes | Path) -> BinaryIO:
    """The UTF-8 ``data`` to read from: the bytes, or the file at the path."""
    return data.open("rb") if isinstance(data, Path) else io.BytesIO(data)


def _size(data: bytes | Path) -> int:
    return data.stat().st_size if isinstance(data, Path) else len(data)


def _pandas_like_missing(table: pa.Table, *, exclude: set[str]) -> pa.Table:
    """Missing markers ('', 'NA', ...) in inferred text columns become null, as in pandas;
    all-empty columns become float NaN."""
    markers = pa.array(NA_MARKERS)
    for i, (name, kind) in enumerate(zip(table.column_names, table.schema.types, strict=True)):
        if name in exclude:
            continue
        column = table.column(i)
        if pa.types.is_string(kind):
            missing = pc.is_in(column, value_set=markers)
            if pc.any(missing).as_py():
                column = pc.if_else(missing, pa.scalar(None, pa.string()), column)
                table = table.set_column(i, name, column)
        elif pa.types.is_null(kind):
            table = table.set_column(i, name, pa.nulls(len(column), pa.float64()))
    return table


@dataclass
class _CsvScan:
    """Where the records of a CSV file start, as the csv module reads it."""

    records: list[int]  # first line of every well-formed data record
    ragged: list[tuple[int, int]]  # (line, fields) of records with the wrong field count
    fields: int  # fields in the header
    last_start: int  # first line of the last record


def _scan_csv(data: bytes | Path, delimiter: str) -> _CsvScan:
    """Walk the file with the csv module to find where each record starts.

    Only called when something is wrong (or line numbers cannot be derived directly):
    it takes about a second per million rows.
    """
    records: list[int] = []
    ragged: list[tuple[int, int]] = []
    expected: int | None = None
    previous = 0
    start = 1
    with _csv_records(data, delimiter) as reader:
        for values in reader:
            start, previous = previous + 1, reader.line_num
            if not values:
                continue
            if expected is None:
                expected = len(values)
            elif len(values) == expected:
                records.append(start)
            else:
                ragged.append((start, len(values)))
    return _CsvScan(records, ragged, expected or 0, start)


def _csv_locator(
    source: bytes | Path, rows: int, scan: _CsvScan | None, delimiter: str
) -> Callable[[np.ndarray], np.ndarray]:
    """Map frame positions to file lines; scans the file only if it must, and only once
    (a file left on disk is read again then: only a file with problems is located)."""
    cache: dict[str, np.ndarray | None] = {}

    def locate(positions: np.ndarray) -> np.ndarray:
        if "lines" not in cache:
            data = source.read_bytes() if isinstance(source, Path) else source
            simple = (
                scan is None
                and b'"' not in data
                and data.count(b"\r") == data.count(b"\r\n")
                and b"\n\n" not in data
                and b"\r\n\r\n" not in data
                and not data.startswith((b"\n", b"\r"))
            )
            records = None if simple else (scan or _scan_csv(data, delimiter)).records
            # If the csv module and the parser disagree, fall back to the plain count.
            cache["lines"] = np.asarray(records) if records and len(records) == rows else None
        lines = cache["lines"]
        return positions + 2 if lines is None else lines[positions]

    return locate
