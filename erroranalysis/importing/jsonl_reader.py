"""The JSON Lines reader.

pyarrow reads a well-formed file fast; a file it cannot read, or whose text columns hold
fractions, objects or mixed types, is read again line by line with Python's json module,
which names every malformed line, repeated key and lone UTF-16 surrogate.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as pa_json

from .arrow import arrow_text, drop_nested, has_text, temporal_as_text
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .source import SURROGATES, is_json_object, text_file

# Lines nested deeper than this are parsed by Python's json module (which limits depth).
MAX_JSON_DEPTH = 1000


def read_jsonl(
    raw: bytes, *, encoding: str, text_columns: Sequence[str], report: Report
) -> pd.DataFrame | None:
    """The file's columns, ``text_columns`` as text and the others as JSON typed them; None,
    with the problems in ``report``, if the file has no object to read."""
    decoded = text_file(raw, encoding=encoding, kind="JSON Lines", report=report)
    if decoded is None:
        return None
    data, line, first = decoded
    if first.startswith("["):
        report.add(
            "the file looks like one JSON array; JSON Lines needs one JSON object per line",
            row=line,
        )
        return None
    if not first.startswith("{") and not is_json_object(first):
        hint = " (it looks like CSV; give it a .csv extension)" if "," in first else ""
        report.add(
            f"the file does not look like JSON Lines: the line is not a JSON object{hint}", row=line
        )
        return None
    if not report.problems:
        parsed = _jsonl_fast(data, text_columns, report)
        if parsed is not None:
            return parsed
    return _jsonl_checked(data.decode("utf-8"), text_columns, report)


def _json_lines(data: bytes) -> tuple[np.ndarray, bool]:
    """(1-based numbers of the lines that are not blank, whether no line nests too deeply).

    pyarrow's JSON parser recurses once per nesting level and crashes the process on very
    deep input; a line cannot nest deeper than it has ``[`` and ``{`` characters.
    """
    octets = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(octets == ord("\n")), len(data))
    starts = np.append(0, ends[:-1] + 1)
    lengths = ends - starts
    shallow = True
    for i in np.flatnonzero(lengths > MAX_JSON_DEPTH).tolist():
        line = data[starts[i] : ends[i]]
        if line.count(b"[") + line.count(b"{") > MAX_JSON_DEPTH:
            shallow = False
            break
    blank = lengths == 0
    first = octets[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else octets[:0]
    maybe_blank = ~blank & np.isin(first, np.frombuffer(b" \t\r\x0b\x0c", dtype=np.uint8))
    for i in np.flatnonzero(maybe_blank).tolist():
        blank[i] = not data[starts[i] : ends[i]].strip()
    return np.flatnonzero(~blank) + 1, shallow


def _jsonl_fast(data: bytes, text_columns: Sequence[str], report: Report) -> pd.DataFrame | None:
    """Read with pyarrow; None when the file needs the line-by-line reader instead
    (malformed lines, mixed types, fractional or nested values in text columns)."""
    numbers, shallow = _json_lines(data)
    if not shallow:
        return None
    try:
        table = _arrow_json(data)
    except (pa.ArrowException, ValueError):
        return None
    if len(numbers) != table.num_rows:
        return None  # several objects on one line: the line-by-line reader reports it
    report.locate = lambda positions: numbers[positions]
    if table.num_rows == 0:
        return None
    for name in text_columns:
        if name not in table.column_names:
            continue
        if not has_text(table.schema.field(name).type):
            return None
        table = table.set_column(
            table.column_names.index(name), name, arrow_text(table.column(name))
        )

    def as_text(names: list[str]) -> pa.Table:
        return _arrow_json(
            data,
            pa_json.ParseOptions(
                explicit_schema=pa.schema([(name, pa.string()) for name in names]),
                unexpected_field_behavior="ignore",
            ),
        )

    spelled = table.column_names
    table = temporal_as_text(table, spelled=spelled, text_columns=text_columns, reread=as_text)
    table = drop_nested(table, exclude=set(text_columns), report=report)
    return table.to_pandas()


def _arrow_json(data: bytes, parse: pa_json.ParseOptions | None = None) -> pa.Table:
    """The file parsed by pyarrow in blocks of 16 MiB (a line longer than a block fails)."""
    return pa_json.read_json(
        io.BytesIO(data),
        read_options=pa_json.ReadOptions(block_size=1 << 24),
        parse_options=parse,
    )


class _DuplicateKey(ValueError):
    """A key that appears twice in one object (Python's json module keeps the last)."""


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """The object of ``pairs``, or :class:`_DuplicateKey` naming a key given twice."""
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _jsonl_checked(text: str, text_columns: Sequence[str], report: Report) -> pd.DataFrame | None:
    """Parse line by line, reporting every malformed or non-object line."""
    decode = json.JSONDecoder(object_pairs_hook=_unique_keys).decode
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    bad = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = decode(line)
        except _DuplicateKey as err:
            problem = ("the key appears more than once in this object", str(err))
        except json.JSONDecodeError as err:
            problem = (f"this line is not valid JSON: {err.msg} (at character {err.colno})", None)
        except RecursionError:
            problem = ("this line is nested too deeply", None)
        else:
            if not isinstance(value, dict):
                problem = (f"this line is a JSON {_json_kind(value)}, not an object", None)
            elif _ESCAPED_SURROGATE.search(line) and (found := _lone_surrogate(value, line)):
                problem = found
            else:
                records.append(value)
                numbers.append(number)
                continue
        bad += 1
        if bad <= MAX_PROBLEMS_PER_CHECK:
            report.add(problem[0], row=number, column=problem[1])
    report.more(bad - MAX_PROBLEMS_PER_CHECK)
    if not records:
        if not report.problems:
            report.add("the file has no rows")
        return None
    line_numbers = np.asarray(numbers, dtype=np.int64)
    report.locate = lambda positions: line_numbers[positions]
    frame = pd.DataFrame.from_records(records)
    for name in text_columns:
        if name in frame.columns:
            frame[name] = _object_text(frame[name], name, report)
    for name in list(frame.columns):
        if name in text_columns or frame[name].dtype != object:
            continue
        frame = _settle_object_column(frame, name, report)
    return frame


# A JSON escape of a UTF-16 surrogate: valid only as a high-low pair (an emoji, say).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# An escaped backslash, or a surrogate escape: scanned together so that the text
# "\\\\ud800" (a backslash, then "ud800") is not taken for an escape.
_ESCAPE_TOKEN = re.compile(r"\\\\|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_escape(line: str) -> re.Match[str] | None:
    """The first surrogate escape of ``line`` that is not half of a high-low pair."""
    pending: re.Match[str] | None = None  # a high surrogate waiting for its low half
    for token in _ESCAPE_TOKEN.finditer(line):
        text = token.group()
        if text == "\\\\":
            if pending is not None:
                return pending
            continue
        high = text[3].lower() in "89ab"
        if pending is not None:
            if not high and token.start() == pending.end():
                pending = None
                continue
            return pending
        if not high:
            return token
        pending = token
    return pending


def _lone_surrogate(record: dict[str, object], line: str) -> tuple[str, str | None] | None:
    """(problem, key) if a key or value of ``record`` holds a lone surrogate, else None.

    Python's json module decodes ``"\\ud800"`` to a string that cannot be encoded as UTF-8,
    so nothing downstream could store it: it is refused here, where the line is known.
    """

    def holds(value: object) -> bool:
        if isinstance(value, str):
            return SURROGATES.search(value) is not None
        if isinstance(value, dict):
            return any(holds(k) or holds(v) for k, v in value.items())
        if isinstance(value, list):
            return any(holds(v) for v in value)
        return False

    for key, value in record.items():
        if holds(key) or holds(value):
            escape = _lone_escape(line)
            at = f" '{escape.group()}' at character {escape.start() + 1}" if escape else ""
            message = (
                f"this line holds a lone UTF-16 surrogate{at}, half of a pair, which is not "
                "text; write the character itself, or both halves of the pair"
            )
            return message, None if holds(key) else key
    return None


def _json_kind(value: object) -> str:
    """The JSON name of the type of a decoded value, for messages."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _object_text(values: pd.Series, column: str, report: Report) -> pd.Series:
    """Text of JSON scalars: strings as they are, numbers in decimal, true/false; missing NaN."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype("str")
    out: list[str | None] = []
    bad: list[int] = []
    for position, value in enumerate(values.tolist()):
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        elif isinstance(value, str | int | float):  # bool is an int
            out.append(_scalar_text(value))
        else:  # reported here; kept as JSON text so it is not also reported as empty
            out.append(json.dumps(value))
            bad.append(position)
    if bad:
        report.at_rows(
            bad,
            lambda p: f"is a JSON {_json_kind(values.iloc[p])}; expected text or a number",
            column=column,
        )
    return pd.Series(out, dtype="str")


def _settle_object_column(frame: pd.DataFrame, name: str, report: Report) -> pd.DataFrame:
    """Metadata the store can keep: nested values are dropped, mixed scalars become text."""
    column = frame[name]
    if column.map(lambda v: isinstance(v, dict | list)).any():
        report.warnings.append(
            f"column {name!r} holds JSON objects or arrays; it was left out "
            "(flatten it to import it)"
        )
        return frame.drop(columns=[name])
    try:
        pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        why = (
            "holds whole numbers too large for 64 bits"
            if isinstance(err, OverflowError) or "too large" in str(err)
            else "mixes numbers and text"
        )
        report.warnings.append(f"column {name!r} {why}; it was read as text")
        frame[name] = column.map(lambda v: v if v is None or v != v else _scalar_text(v)).astype(
            "str"
        )
    return frame


def _scalar_text(value: object) -> str:
    """A JSON scalar as text: strings as they are, true/false, numbers as Python writes them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)
