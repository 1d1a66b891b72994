"""Excel workbooks a meeting opens directly: one formatted sheet per table.

Each table becomes a sheet with a bold, frozen header row, an autofilter and column
widths that fit the content. Numbers are written as numbers, booleans as booleans,
datetimes as dates and missing values as empty cells; the columns named in
``percent_columns`` are shown as percentages (``0.0%``) while keeping their values.

A text cell is always written as text, never as a formula or an error value: openpyxl
on its own stores a string that begins with ``=`` as a formula and ``#N/A`` as an
error, so a tag named ``=HYPERLINK(...)`` would become a live link. Here every text
cell has its type forced to string, so its content is exactly the data's, with no
added ``'`` (that prefix is the CSV rule, :mod:`erroranalysis.export`). Text that a
spreadsheet would read as a formula also gets Excel's quote-prefix style, the one
typing a leading ``'`` gives, so editing the cell later keeps it text.

What a workbook cannot hold is changed visibly, not dropped: characters XML forbids
(control characters other than tab and line breaks, lone surrogates) become U+FFFD,
and an infinite number becomes the text ``inf`` or ``-inf``. openpyxl, in its
streaming mode, lays out the workbook; the rows below each header are streamed into
the sheet in chunks, so memory stays flat on a sheet of a million rows.
"""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import re
import zipfile
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING, Cell
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.utils.datetime import to_excel

from .export import FORMULA_STARTS, _default_index, python_scalar
from .frames import check_frame

__all__ = [
    "DATETIME_FORMAT",
    "DATE_FORMAT",
    "MAX_CELL_TEXT",
    "MAX_COLUMNS",
    "MAX_ROWS",
    "MAX_SHEET_NAME",
    "PERCENT_FORMAT",
    "sheet_name",
    "workbook_bytes",
    "write_workbook",
]

MAX_SHEET_NAME = 31  # characters Excel allows in a sheet name
MAX_ROWS = 1_048_576  # rows in a sheet, the header included
MAX_COLUMNS = 16_384
MAX_CELL_TEXT = 32_767  # characters Excel holds in one cell
PERCENT_FORMAT = "0.0%"
DATE_FORMAT = "yyyy-mm-dd"
DATETIME_FORMAT = "yyyy-mm-dd hh:mm:ss"

# Excel's forbidden characters, and every control character (a name is shown in tabs).
_SHEET_FORBIDDEN = re.compile("[][:*?/\\\\\x00-\x1f\x7f\ud800-\udfff\ufffe\uffff]")
# XML 1.0 cannot carry these; openpyxl refuses a cell that holds one.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_REPLACEMENT = "\ufffd"
# Width in characters: room for the header's filter button, and a cap so that one long
# note does not push every other column off the screen.
_MIN_WIDTH, _MAX_WIDTH, _FILTER_BUTTON = 6, 60, 3
_WIDTH_SAMPLE = 1_000  # rows read to size a column
_NUMBER_WIDTH, _PERCENT_WIDTH = 10, 8
_HEADER_FONT = Font(bold=True)


def sheet_name(name: str) -> str:
    """``name`` as a valid sheet name: ``[]:*?/\\`` and control characters become ``_``,
    surrounding spaces and apostrophes go, and it is cut to 31 characters.

    Raises ValueError when nothing is left or the name is Excel's reserved ``History``.
    """
    if not isinstance(name, str):
        raise ValueError(f"sheet name must be a string, got {type(name).__name__}")
    cleaned = _SHEET_FORBIDDEN.sub("_", name)
    cleaned = cleaned.strip().strip("'")[:MAX_SHEET_NAME].strip().strip("'")
    if not cleaned:
        raise ValueError(f"sheet name {name!r} is empty once made valid")
    if cleaned.casefold() == "history":
        raise ValueError(f"sheet name {name!r} is reserved by Excel")
    return cleaned


@dataclass(frozen=True)
class _Column:
    header: str
    values: pd.Series  # numbers as floats or ints, everything else as objects
    number_format: str | None  # for the column's numbers and dates
    width: float


@dataclass(frozen=True)
class _Sheet:
    title: str
    columns: list[_Column]
    rows: int


def _check_sheets(
    sheets: Mapping[str, pd.DataFrame],
    percent_columns: Mapping[str, Collection[str]] | None,
) -> dict[str, str]:
    """Each key's sheet title, once every sheet and option is checked."""
    if not isinstance(sheets, Mapping):
        raise ValueError(
            f"sheets must be a mapping of sheet name to DataFrame, got {type(sheets).__name__}"
        )
    if not sheets:
        raise ValueError("sheets is empty: a workbook needs at least one sheet")
    titles: dict[str, str] = {}
    taken: dict[str, str] = {}
    for key, frame in sheets.items():
        check_frame(frame, f"sheet {key!r}")
        title = sheet_name(key)
        clash = taken.get(title.casefold())
        if clash is not None:
            raise ValueError(
                f"sheets {clash!r} and {key!r} both become the sheet name {title!r}; "
                "sheet names must differ (Excel ignores case)"
            )
        taken[title.casefold()] = key
        titles[key] = title
        rows, columns = _table(frame).shape
        if rows + 1 > MAX_ROWS:
            raise ValueError(
                f"sheet {key!r} has {rows:,} rows; a sheet holds {MAX_ROWS - 1:,} below its header"
            )
        if columns > MAX_COLUMNS:
            raise ValueError(
                f"sheet {key!r} has {columns:,} columns; a sheet holds {MAX_COLUMNS:,}"
            )
    if percent_columns is None:
        return titles
    if not isinstance(percent_columns, Mapping):
        raise ValueError(
            "percent_columns must be a mapping of sheet name to column names, "
            f"got {type(percent_columns).__name__}"
        )
    for key, names in percent_columns.items():
        if key not in sheets:
            raise ValueError(f"percent_columns names sheet {key!r}, which is not among the sheets")
        if isinstance(names, str) or not isinstance(names, Collection):
            raise ValueError(f"percent_columns[{key!r}] must be a collection of column names")
        frame = sheets[key]
        for name in names:
            if name not in frame.columns:
                raise ValueError(f"percent column {name!r} is not a column of sheet {key!r}")
            column = frame[name]
            if not isinstance(column, pd.Series) or not _is_number(column):
                raise ValueError(
                    f"percent column {name!r} of sheet {key!r} must be one numeric column"
                )
    return titles


def _table(frame: pd.DataFrame) -> pd.DataFrame:
    # The index is data when it is not the default 0..n-1, as in the CSV export.
    return frame if _default_index(frame) else frame.reset_index()


def _is_number(series: pd.Series) -> bool:
    dtype = series.dtype
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _header(label: Any) -> str:
    if isinstance(label, tuple):
        return " ".join(str(part) for part in label if str(part))
    return str(label)


def _clean_text(text: str) -> str:
    return _XML_ILLEGAL.sub(_REPLACEMENT, text)


def _number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _scalar(value: Any) -> Any:
    """A cell value openpyxl writes as itself: a str, bool, int, float, datetime or None."""
    value = python_scalar(value)
    if isinstance(value, float):
        return _number(value)
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, pd.Timestamp | dt.datetime):
        stamp = pd.Timestamp(value)
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None)
        return stamp.to_pydatetime()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    return str(value)


def _check_length(key: str, header: str, row: int, text: str) -> None:
    if len(text) > MAX_CELL_TEXT:
        raise ValueError(
            f"sheet {key!r}, column {header!r}, row {row}: {len(text):,} characters; "
            f"a cell holds {MAX_CELL_TEXT:,}"
        )


def _width(header: str, values: list[Any], floor: int) -> float:
    longest = max(
        (
            max(map(len, str(value).splitlines() or [""]))
            for value in values[:_WIDTH_SAMPLE]
            if value is not None
        ),
        default=0,
    )
    wanted = max(len(header) + _FILTER_BUTTON, longest + 1, floor, _MIN_WIDTH)
    return float(min(wanted, _MAX_WIDTH))


def _prepare(key: str, title: str, frame: pd.DataFrame, percent: Collection[str]) -> _Sheet:
    table = _table(frame)
    wanted = set(percent)
    percent_positions = {
        position for position, label in enumerate(frame.columns) if label in wanted
    }
    if table is not frame:
        # reset_index put the index's levels first.
        shift = table.shape[1] - frame.shape[1]
        percent_positions = {position + shift for position in percent_positions}
    columns = []
    for position in range(table.shape[1]):
        series = table.iloc[:, position]
        header = _clean_text(_header(table.columns[position]))
        _check_length(key, "header", 1, header)
        if position in percent_positions:
            values, number_format, floor = series.astype(float), PERCENT_FORMAT, _PERCENT_WIDTH
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            values = series.astype(object)
            stamps = series.dropna()
            if getattr(stamps.dt, "tz", None) is not None:
                stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
            midnight = bool((stamps == stamps.dt.normalize()).all())
            number_format = DATE_FORMAT if midnight else DATETIME_FORMAT
            floor = len(number_format)
        else:
            values = series if _is_number(series) else series.astype(object)
            number_format = None
            floor = _NUMBER_WIDTH if _is_number(series) else 0
            if not _is_number(series) and not pd.api.types.is_bool_dtype(series.dtype):
                for row, text in _long_texts(values):
                    _check_length(key, header, row, text)
        sample = [_scalar(value) for value in values.iloc[:_WIDTH_SAMPLE].tolist()]
        columns.append(_Column(header, values, number_format, _width(header, sample, floor)))
    return _Sheet(title, columns, len(table))


def _long_texts(values: pd.Series) -> list[tuple[int, str]]:
    """The (row, text) of every text longer than a cell holds, rows counted as in the sheet."""
    too_long = values.map(lambda v: isinstance(v, str) and len(v) > MAX_CELL_TEXT)
    return [(int(row) + 2, values.iloc[row]) for row in np.flatnonzero(too_long.to_numpy())]


# ---------------------------------------------------------------- writing
# openpyxl lays out the workbook (sheets, styles, header row, frozen pane, filter, widths)
# and the rows below the header are streamed straight into each sheet's XML, in the form
# openpyxl writes them (inline strings, typed cells). Building an openpyxl cell per value
# took 0.3 ms of CPU per row of 13 columns, forty times pandas' to_csv of the same rows;
# streamed, 100k rows of 17 columns take 3.3 s of CPU against to_csv's 0.64 s, half of it
# compressing the sheet.
_CHUNK_ROWS = 5_000
_SHEET_DATA_END = b"</sheetData>"


@dataclass(frozen=True)
class _Styles:
    """The workbook's style numbers of the cells below the header."""

    quoted: int
    formats: dict[str, int]


def _styles(worksheet: Any) -> _Styles:
    def style(**attributes: Any) -> int:
        probe = Cell(worksheet, row=1, column=1)
        for name, value in attributes.items():
            setattr(probe, name, value)
        return probe.style_id

    formats = (PERCENT_FORMAT, DATE_FORMAT, DATETIME_FORMAT)
    return _Styles(
        quoted=style(quotePrefix=True),
        formats={number_format: style(number_format=number_format) for number_format in formats},
    )


# What a text needs changed before it goes into the XML; most texts need nothing.
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    text = _clean_text(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    # A literal carriage return would read back as a line feed.
    return text.replace("\r", "&#13;")


def _text_xml(ref: str, text: str, styles: _Styles) -> str:
    """A text cell: always an inline string, so never a formula or an error value."""
    if not text:
        return ""
    quoted = f' s="{styles.quoted}"' if text.lstrip("'").startswith(FORMULA_STARTS) else ""
    return (
        f'<c r="{ref}" t="inlineStr"{quoted}><is><t xml:space="preserve">'
        f"{_escape(text)}</t></is></c>"
    )


def _cell_xml(ref: str, value: Any, number_format: str | None, styles: _Styles) -> str:
    """One cell's XML, for a value :func:`_scalar` gave."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _text_xml(ref, value, styles)
    if isinstance(value, bool):
        return f'<c r="{ref}" t="b"><v>{int(value)}</v></c>'
    if isinstance(value, dt.datetime):
        style = styles.formats[number_format or DATETIME_FORMAT]
        return f'<c r="{ref}" s="{style}"><v>{to_excel(value)!r}</v></c>'
    style = f' s="{styles.formats[number_format]}"' if number_format else ""
    return f'<c r="{ref}"{style}><v>{value!r}</v></c>'


def _column_xml(column: _Column, start: int, stop: int, letter: str, styles: _Styles) -> list[str]:
    """The XML of the column's cells in the rows ``start`` to ``stop`` below the header.

    A column of plain numbers or booleans is written without a per-value type check; any
    other goes value by value.
    """
    values = column.values.iloc[start:stop]
    rows = range(start + 2, stop + 2)
    dtype = values.dtype
    plain = isinstance(dtype, np.dtype)
    if plain and pd.api.types.is_bool_dtype(dtype):
        return [
            f'<c r="{letter}{n}" t="b"><v>{int(v)}</v></c>'
            for n, v in zip(rows, values.tolist(), strict=True)
        ]
    style = f' s="{styles.formats[column.number_format]}"' if column.number_format else ""
    if plain and pd.api.types.is_integer_dtype(dtype):
        return [
            f'<c r="{letter}{n}"{style}><v>{v}</v></c>'
            for n, v in zip(rows, values.tolist(), strict=True)
        ]
    if pd.api.types.is_float_dtype(dtype):
        numbers = values.to_numpy(dtype=float, na_value=np.nan).tolist()
        return [
            f'<c r="{letter}{n}"{style}><v>{v!r}</v></c>'
            if math.isfinite(v)
            else _cell_xml(f"{letter}{n}", _number(v), None, styles)
            for n, v in zip(rows, numbers, strict=True)
        ]
    return [
        _text_xml(f"{letter}{n}", v, styles)
        if type(v) is str
        else _cell_xml(f"{letter}{n}", _scalar(v), column.number_format, styles)
        for n, v in zip(rows, values.tolist(), strict=True)
    ]


def _rows_xml(sheet: _Sheet, styles: _Styles) -> Iterator[bytes]:
    letters = [get_column_letter(number) for number in range(1, len(sheet.columns) + 1)]
    for start in range(0, sheet.rows, _CHUNK_ROWS):
        stop = min(start + _CHUNK_ROWS, sheet.rows)
        cells = [
            _column_xml(column, start, stop, letter, styles)
            for column, letter in zip(sheet.columns, letters, strict=True)
        ]
        rows = zip(range(start + 2, stop + 2), zip(*cells, strict=True), strict=True)
        yield "".join(f'<row r="{n}">{"".join(row)}</row>' for n, row in rows).encode("utf-8")


def _layout(book: Workbook, sheet: _Sheet) -> _Styles:
    """Add the sheet with its header row; the styles of the cells below it."""
    worksheet = book.create_sheet(sheet.title)
    for number, column in enumerate(sheet.columns, start=1):
        worksheet.column_dimensions[get_column_letter(number)].width = column.width
    styles = _styles(worksheet)
    if sheet.columns:
        worksheet.freeze_panes = "A2"
        last = get_column_letter(len(sheet.columns))
        worksheet.auto_filter.ref = f"A1:{last}{sheet.rows + 1}"
        header = []
        for column in sheet.columns:
            cell = Cell(worksheet, row=1, column=1)
            # Set the type after the value: assigning the value would infer a formula
            # from "=" and an error from "#N/A".
            cell._value = column.header
            cell.data_type = TYPE_STRING
            cell.font = _HEADER_FONT
            cell.quotePrefix = column.header.lstrip("'").startswith(FORMULA_STARTS)
            header.append(cell)
        worksheet.append(header)
    return styles


def _fill(
    layout: bytes, target: BinaryIO | str | os.PathLike[str], rows: dict[str, Iterator[bytes]]
) -> None:
    """Copy the laid-out workbook to ``target``, streaming the rows of each sheet in
    ``rows`` after its header row (the last one before ``</sheetData>``)."""
    with (
        zipfile.ZipFile(io.BytesIO(layout)) as source,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for member in source.infolist():
            data = source.read(member)
            if member.filename not in rows:
                out.writestr(member, data)
                continue
            head, tail = data.rsplit(_SHEET_DATA_END, 1)
            with out.open(member.filename, "w", force_zip64=True) as stream:
                stream.write(head)
                for chunk in rows[member.filename]:
                    stream.write(chunk)
                stream.write(_SHEET_DATA_END + tail)


def write_workbook(
    sheets: Mapping[str, pd.DataFrame],
    target: str | os.PathLike[str] | BinaryIO,
    *,
    percent_columns: Mapping[str, Collection[str]] | None = None,
) -> None:
    """Write one sheet per entry of ``sheets``, in order, to a path or a binary stream.

    Sheet names are made valid by :func:`sheet_name`; a non-default index is written as
    leading columns. ``percent_columns[sheet]`` names the numeric columns shown as
    percentages. Everything is checked before anything is written: a value that is not
    a DataFrame, an empty mapping, two sheets whose names clash once made valid, a
    percent column that is missing or not numeric, a sheet too large for Excel or a text
    longer than a cell holds raises ValueError naming it.
    """
    titles = _check_sheets(sheets, percent_columns)
    percent = percent_columns or {}
    prepared = [
        _prepare(key, titles[key], frame, percent.get(key, ())) for key, frame in sheets.items()
    ]
    book = Workbook(write_only=True)
    streams = [_rows_xml(sheet, _layout(book, sheet)) for sheet in prepared]
    layout = io.BytesIO()
    book.save(layout)
    # A sheet's part name is numbered when the workbook is saved.
    members = [worksheet.path.lstrip("/") for worksheet in book.worksheets]
    rows = {
        member: stream
        for member, stream, sheet in zip(members, streams, prepared, strict=True)
        if sheet.rows and sheet.columns
    }
    _fill(layout.getvalue(), target, rows)


def workbook_bytes(
    sheets: Mapping[str, pd.DataFrame],
    *,
    percent_columns: Mapping[str, Collection[str]] | None = None,
) -> bytes:
    """The workbook :func:`write_workbook` writes, as bytes (for a download button)."""
    buffer = io.BytesIO()
    write_workbook(sheets, buffer, percent_columns=percent_columns)
    return buffer.getvalue()
