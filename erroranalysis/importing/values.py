"""A column's values read as booleans or as numbers, whatever the format typed them as.

:func:`to_bool` and :func:`to_float` return, beside the values, which positions are not
booleans (or not numbers), so that the caller reports them in its own words;
:func:`report_booleans` reports bad booleans the one way every boolean column does.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .report import MAX_PROBLEMS_PER_CHECK, Report, value_text

TRUE_WORDS = frozenset({"true", "1", "yes", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "f"})
BOOLEAN_HINT = "expected true or false (also 1/0, yes/no, t/f)"


def to_bool(values: pd.Series, *, empty_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """(booleans, bad): true/false, 1/0, yes/no, t/f in any case, or real booleans.

    Empty values are False, and bad unless ``empty_ok``.
    """
    n = len(values)
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values.to_numpy(dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(dtype, pd.BooleanDtype):
        missing = values.isna().to_numpy()
        return values.fillna(False).to_numpy(dtype=bool), missing & (not empty_ok)
    if pd.api.types.is_numeric_dtype(dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        valid = (numbers == 0) | (numbers == 1)
        return numbers == 1, ~valid & ~(missing & empty_ok)
    if isinstance(dtype, pd.StringDtype):
        words = values.str.strip().str.lower()
        missing = (words.isna() | (words == "")).to_numpy()
        truth = words.isin(TRUE_WORDS).to_numpy()
        valid = truth | words.isin(FALSE_WORDS).to_numpy()
        return truth, ~valid & ~(missing & empty_ok)
    truth = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for position, value in enumerate(values.tolist()):
        flag = _one_bool(value)
        if flag is None:
            bad[position] = not empty_ok
        elif flag is _NOT_BOOL:
            bad[position] = True
        else:
            truth[position] = flag
    return truth, bad


_NOT_BOOL = object()


def _one_bool(value: object) -> object:
    """True, False, None for an empty value, or ``_NOT_BOOL``: :func:`to_bool` of one value."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return bool(value) if value in (0, 1) else _NOT_BOOL
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        return False if word in FALSE_WORDS else _NOT_BOOL
    return _NOT_BOOL


def report_booleans(values: pd.Series, bad: np.ndarray, column: str, report: Report) -> None:
    """One problem per ``bad`` position of a boolean column, saying empty or not a boolean."""
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    shown = values.iloc[positions[:MAX_PROBLEMS_PER_CHECK]]
    empty = {
        p for p, v in zip(positions.tolist(), shown.tolist(), strict=False) if _one_bool(v) is None
    }
    report.at_rows(
        positions,
        lambda p: (
            f"is empty; {BOOLEAN_HINT}" if p in empty else f"is not a boolean; {BOOLEAN_HINT}"
        ),
        column=column,
        values=lambda p: None if p in empty else value_text(values.iloc[p]),
    )


def to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 numbers with NaN for empty, bad) where bad marks values that are not numbers."""
    n = len(values)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(n, np.nan), values.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(n, dtype=bool)
    if isinstance(dtype, pd.StringDtype):
        array = pa.array(values, from_pandas=True)
        array = pc.if_else(
            pc.equal(pc.utf8_trim_whitespace(array), ""), pa.scalar(None, pa.string()), array
        )
        try:
            numbers = pc.cast(array, pa.float64()).to_numpy()
            return np.asarray(numbers, dtype=np.float64), np.zeros(n, dtype=bool)
        except pa.ArrowInvalid:
            pass  # some value is not a number: find which, one by one
    numbers = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    for position, value in enumerate(values.tolist()):
        if value is None or value is pd.NA:
            continue
        if isinstance(value, bool | np.bool_):
            bad[position] = True
            continue
        if isinstance(value, str):
            if not value.strip():
                continue
            try:
                numbers[position] = float(value)
            except ValueError:
                bad[position] = True
            continue
        try:
            numbers[position] = float(value)  # ints, floats, decimals
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past 1e308
            bad[position] = True
    return numbers, bad
