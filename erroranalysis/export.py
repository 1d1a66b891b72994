"""Export tables as CSV that is safe to open in a spreadsheet, or as JSON.

A spreadsheet evaluates a cell that begins with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or carriage return) as a formula, so a tag named
``=HYPERLINK(...)`` could run when a teammate opens the export. Following
OWASP, such text cells get a leading ``'``; quoting the CSV field does not
help. Numeric columns stay numbers, so ``-0.03`` is still a number.

Text that already begins with ``'`` followed by one of those characters also
gets one more ``'``, so that :func:`restore` can undo :func:`neutralize`
exactly.
"""

from __future__ import annotations

import io
import json
import math
import os
from typing import Any, TextIO

import numpy as np
import pandas as pd

from .frames import check_frame

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
QUOTE = "'"


def _looks_like_formula(text: str) -> bool:
    return text.lstrip(QUOTE).startswith(FORMULA_STARTS)


def neutralize(value: Any) -> Any:
    """Prefix ``'`` to a string a spreadsheet would read as a formula; return anything else as is."""
    if isinstance(value, str) and _looks_like_formula(value):
        return QUOTE + value
    return value


def restore(value: Any) -> Any:
    """Undo :func:`neutralize`: ``restore(neutralize(v)) == v`` for every value."""
    if isinstance(value, str) and value.startswith(QUOTE) and _looks_like_formula(value[1:]):
        return value[1:]
    return value


def _neutralize_index(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        return index.map(lambda values: tuple(neutralize(v) for v in values))
    if pd.api.types.is_numeric_dtype(index.dtype) or pd.api.types.is_bool_dtype(index.dtype):
        return index
    return pd.Index([neutralize(v) for v in index], name=neutralize(index.name), dtype=object)


def _is_text(series: pd.Series) -> bool:
    dtype = series.dtype
    return (
        pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
        or isinstance(dtype, pd.CategoricalDtype)
    )


def _default_index(frame: pd.DataFrame) -> bool:
    index = frame.index
    return isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are neutralized.

    Numeric, bool and datetime columns are left alone; in mixed (object)
    columns only the string cells change. The input is not modified.
    """
    check_frame(frame, "frame")
    out = frame.copy()
    for position, column in enumerate(frame.columns):
        series = frame.iloc[:, position]
        if _is_text(series):
            if isinstance(series.dtype, pd.CategoricalDtype):
                series = series.astype(object)
            out.isetitem(position, series.map(neutralize).astype(object))
        else:
            out.isetitem(position, series)
        del column
    out.columns = _neutralize_index(frame.columns)
    out.index = _neutralize_index(frame.index)
    return out


def safe_csv(frame: pd.DataFrame, *, index: bool | None = None) -> str:
    """The frame as CSV text that is safe to open in a spreadsheet.

    Text cells, headers and index labels that begin with ``=``, ``+``, ``-``,
    ``@``, tab or carriage return are prefixed with ``'``; numbers are written
    as numbers; missing values (NaN, None, NA) as empty cells; nothing is
    dropped. ``index``: write the index; None (default) writes it unless it
    is the default 0..n-1 range.
    """
    buffer = io.StringIO()
    write_csv(frame, buffer, index=index)
    return buffer.getvalue()


def write_csv(
    frame: pd.DataFrame, target: str | os.PathLike[str] | TextIO, *, index: bool | None = None
) -> None:
    """Write :func:`safe_csv` output to a path or an open text stream (UTF-8)."""
    check_frame(frame, "frame")
    write_index = (not _default_index(frame)) if index is None else bool(index)
    safe = neutralize_frame(frame)
    if isinstance(target, str | os.PathLike):
        safe.to_csv(target, index=write_index, na_rep="", encoding="utf-8", lineterminator="\r\n")
    else:
        safe.to_csv(target, index=write_index, na_rep="", lineterminator="\r\n")


def python_scalar(value: Any) -> Any:
    """``value`` as plain Python: None for a missing value (None, ``pd.NA``, ``pd.NaT``), a
    boolean, integer or float (numpy's too) as bool, int or float; anything else as it is."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    return value


def _jsonable(value: Any) -> Any:
    value = python_scalar(value)
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, pd.Interval):
        return str(value)
    if isinstance(value, str):
        return value
    return str(value)


def to_json_records(frame: pd.DataFrame, *, index: bool | None = None) -> str:
    """The frame as a JSON array of row objects; NaN and missing values become null.

    Floats keep full precision. ``index`` as in :func:`safe_csv`; the index
    goes in a field named after it (``"index"`` if unnamed).
    """
    check_frame(frame, "frame")
    write_index = (not _default_index(frame)) if index is None else bool(index)
    data = frame.reset_index() if write_index else frame
    if not data.columns.is_unique:
        raise ValueError("frame has duplicate column names; JSON objects need unique keys")
    columns = [str(column) for column in data.columns]
    records = [
        {column: _jsonable(value) for column, value in zip(columns, row, strict=True)}
        for row in data.itertuples(index=False, name=None)
    ]
    return json.dumps(records, ensure_ascii=False, allow_nan=False)
