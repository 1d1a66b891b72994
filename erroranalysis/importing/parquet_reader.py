"""The Parquet reader.

The file's own types are kept; a damaged file (cut short, text that is not UTF-8, values
that do not match their type or that pandas cannot hold) is reported, never raised.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from concurrent.futures import Future

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..background import in_background
from .arrow import arrow_text, drop_nested, has_text, header_names
from .report import Report
from .source import magic

# pandas writes a non-default index as extra columns; it is not data.
_INDEX_COLUMN = re.compile(r"__index_level_\d+__")


def read_parquet(
    raw: bytes, *, text_columns: Sequence[str], report: Report, ids: str | None = None
) -> tuple[pd.DataFrame | None, Future[bool] | None]:
    """The file's columns, ``text_columns`` as text and the others of the file's own types;
    None, with the problems in ``report``, if the file cannot be read. Problems name rows.

    With it, whether the values of the text column ``ids`` are all distinct (None when the
    file has no such column), being worked out on the other core: hashing 10M ids takes
    3-5 s, longer than the table takes to become a frame."""
    report.unit = "row"
    report.locate = lambda positions: positions + 1
    if len(raw) < 12 or not (raw.startswith(b"PAR1") and raw.endswith(b"PAR1")):
        what = magic(raw)
        if raw.startswith(b"PAR1"):
            report.add(
                "the Parquet file is cut short (no 'PAR1' marker at its end): it was not "
                "written or copied completely"
            )
            return None, None
        if not raw:
            looks = "; the file is empty"
        elif what:
            looks = f"; it is {what}"
        elif b"\x00" not in raw[:4096]:
            looks = "; it looks like a text file (CSV or JSON Lines?)"
        else:
            looks = ""
        report.add(f"the file is not a Parquet file (no 'PAR1' marker){looks}")
        return None, None
    try:
        # A BufferReader hands pyarrow the bytes themselves: through a BytesIO every read of
        # a column is a Python call under the GIL, so the columns were read one at a time.
        parquet = pq.ParquetFile(pa.BufferReader(raw))
        # A schema may repeat a name; reading such a file fails deep inside pyarrow, so the
        # names are checked first and the repeated ones named.
        schema = parquet.schema_arrow
        data_names = [n for n in schema.names if not _INDEX_COLUMN.fullmatch(n)]
        if header_names(data_names, report, where="the file's schema") is None:
            return None, None
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as err:
        report.add(f"the file cannot be read as Parquet: {err}")
        return None, None
    table = table.select(
        [i for i, n in enumerate(table.column_names) if not _INDEX_COLUMN.fullmatch(n)]
    )
    names = header_names(table.column_names, report)
    if names is None:
        return None, None
    table = table.rename_columns(names)
    if table.num_rows == 0:
        report.add("the file has no rows")
        return None, None
    if not _parquet_valid(table, report):
        return None, None
    for name in text_columns:
        if name not in table.column_names:
            continue
        converted = _parquet_text(table.column(name), name, report)
        table = table.set_column(table.column_names.index(name), name, converted)
    table = drop_nested(table, exclude=set(text_columns), report=report)
    distinct = None
    if ids in table.column_names:
        column = table.column(ids)
        distinct = in_background(lambda: len(pc.unique(column)) == len(column), name="ids")
    try:
        # A block per column: numbers without nulls become the frame without a copy.
        frame = table.to_pandas(ignore_metadata=True, split_blocks=True)
    except (pa.ArrowException, OverflowError, ValueError) as err:
        # Values pandas cannot hold (a date past the year 2262 in nanoseconds, say).
        report.add(f"the file's values cannot be read: {err}")
        return None, None
    return frame, distinct


def _parquet_valid(table: pa.Table, report: Report) -> bool:
    """Whether every column holds what its type says (pyarrow does not check text is UTF-8
    when it reads a file, and a damaged file can hold anything)."""
    try:
        table.validate(full=True)
        return True
    except pa.ArrowException:
        pass
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            column.validate(full=True)
        except pa.ArrowException as err:
            kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                what = "text that is not valid UTF-8"
            else:
                what = f"values that do not match its type {kind}"
            report.add(f"holds {what} (is the file damaged?): {err}", column=name)
    return False


def _parquet_text(column: pa.ChunkedArray, name: str, report: Report) -> pa.ChunkedArray:
    """Text of a Parquet column for a text role; a column of the wrong type is reported and
    turned into text anyway, so that the other checks can still run."""
    kind = column.type
    value_kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    if has_text(kind):
        return arrow_text(column)
    if pa.types.is_binary(value_kind) or pa.types.is_large_binary(value_kind):
        try:
            return arrow_text(column)  # the cast checks that every value is UTF-8
        except pa.ArrowInvalid:
            pass
    try:
        values = column.to_pylist()
    except (pa.ArrowException, OverflowError, ValueError) as err:  # a date out of range, say
        report.add(f"has type {kind}, whose values cannot be read: {err}", column=name)
        # Distinct stand-ins, so that no other check reports them as empty or repeated.
        return pa.chunked_array([pa.array([f"row {i + 1}" for i in range(len(column))])])
    if pa.types.is_floating(value_kind):
        # Python's shortest round-trip text, as for numbers read from JSON.
        text = [None if v is None or v != v else repr(v) for v in values]
    elif pa.types.is_binary(value_kind) or pa.types.is_large_binary(value_kind):
        text, bad = [], []
        for position, value in enumerate(values):
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(value.decode("utf-8", errors="replace"))
                bad.append(position)
        report.at_rows(bad, "is not UTF-8 text", column=name)
    else:
        report.add(f"has type {kind}; expected text or whole numbers", column=name)
        text = [None if v is None else str(v) for v in values]
    return pa.chunked_array([pa.array(text, pa.string())])
