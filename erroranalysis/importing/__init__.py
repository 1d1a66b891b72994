"""Read a file of model predictions into one validated, canonical frame.

A user's file is hostile until validated. :func:`read_dataset` reads CSV, Parquet or JSON
Lines, collects *every* problem it finds (each naming the line or row, the column and the
value), and raises one :class:`ImportValidationError` listing them; nothing is returned
from a file with problems. On success it returns an :class:`ImportResult` whose ``frame``
is the contract with the store and the engine:

* a ``RangeIndex`` and, in this order, the columns
* ``id``, ``label``, ``prediction`` -- text (pandas' ``str`` dtype), exactly as written in
  the file: ``007`` stays ``007``; numbers from JSON or Parquet become their decimal text;
* ``correct`` -- bool, from the file's ``correct`` column or else ``label == prediction``;
* ``confidence`` -- float64 in [0, 1], NaN where empty (only if the file has the column);
* ``human_label`` -- text, missing as NaN (only if present);
* ``text``, ``audio``, ``image`` -- text (only if present); audio and image hold paths
  relative to the media root or http(s) URLs, missing as NaN;
* every other column of the file as metadata, under its own name, typed as pandas would
  infer it (numbers numeric);
* one bool column ``tag:NAME`` per dataset tag, from the ``tags`` column (``;``-separated
  names) and from boolean ``tag:NAME`` columns of the file.

Column roles can be mapped to other file columns with :class:`ColumnMapping`.
"""

from __future__ import annotations

import csv
import difflib
import io
import json
import math
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..errors import InvalidName
from ..media import URL_PATTERN, scan_media_paths
from ..vocabulary import MAX_TAGS, TAG_PREFIX, TAG_SEPARATOR, check_tag_name
from .csv_reader import read_csv
from .jsonl_reader import read_jsonl
from .parquet_reader import read_parquet
from .report import (
    MAX_LISTED_PROBLEMS,
    MAX_PROBLEMS_PER_CHECK,
    ImportValidationError,
    Problem,
    Report,
    value_text,
)
from .source import check_encoding, load

__all__ = [
    "FORMATS",
    "MAX_LISTED_PROBLEMS",
    "MAX_PROBLEMS_PER_CHECK",
    "REQUIRED_ROLES",
    "ROLES",
    "ColumnMapping",
    "ImportResult",
    "ImportValidationError",
    "Problem",
    "check_encoding",
    "peek_columns",
    "read_dataset",
]

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


REQUIRED_ROLES = ("id", "label", "prediction")
TEXT_ROLES = ("id", "label", "prediction", "human_label", "text", "audio", "image", "tags")
MEDIA_ROLES = ("audio", "image")
TRUE_WORDS = frozenset({"true", "1", "yes", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "f"})
BOOLEAN_HINT = "expected true or false (also 1/0, yes/no, t/f)"


# ---------------------------------------------------------------------- public types
@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file plays which role (defaults: the role's own name)."""

    id: str = "id"
    label: str = "label"
    prediction: str = "prediction"
    correct: str = "correct"
    confidence: str = "confidence"
    human_label: str = "human_label"
    text: str = "text"
    audio: str = "audio"
    image: str = "image"
    tags: str = "tags"

    def roles(self) -> dict[str, str]:
        """``{role: file column}`` for every role."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


ROLES = tuple(f.name for f in fields(ColumnMapping))


@dataclass(frozen=True)
class ImportResult:
    """A validated dataset: the canonical ``frame`` (see the module docstring) and its context."""

    frame: pd.DataFrame
    metadata_columns: list[str]
    dataset_tags: list[str]
    media_root: Path | None
    source: str
    format: str
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- entry point
def read_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    filename: str | None = None,
    columns: ColumnMapping = ColumnMapping(),  # noqa: B008 -- frozen, so sharing is safe
    media_root: str | Path | None = None,
    encoding: str = "utf-8",
) -> ImportResult:
    """Read and validate a CSV, Parquet or JSON Lines file of predictions.

    ``source`` is a path or a binary file object (then ``filename`` gives the name, and so
    the format, unless the object has a ``name``). The format follows the extension:
    ``.csv``, ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``. Media paths are resolved against
    ``media_root``, by default the data file's folder; a file object has none.

    Raises :class:`ImportValidationError` listing every problem found; returns only a fully
    valid result.
    """
    name, raw, folder = load(source, filename)
    report = Report()
    fmt = FORMATS.get(Path(name).suffix.lower()) if name else None
    if fmt is None:
        what = f"{Path(name).suffix!r}" if name and Path(name).suffix else "no extension"
        report.add(
            f"cannot tell the format of {name or 'the upload'!r} ({what}); "
            "use a .csv, .parquet (.pq) or .jsonl (.ndjson) file"
            + ("" if name else ", and pass filename= with a file object")
        )
        raise report.error(name)

    root: Path | None = None
    if media_root is not None:
        root = Path(media_root).expanduser().resolve()
        if not root.is_dir():
            report.add(f"the media root {str(root)!r} is not a folder")
    elif folder is not None:
        root = folder

    # Each reader returns the file's own columns (text roles already as text), or None
    # when the file cannot be read at all.
    text_columns = [c for role, c in columns.roles().items() if role in TEXT_ROLES]
    if fmt == "parquet":
        parsed = read_parquet(raw, text_columns=text_columns, report=report)
    else:
        reader = read_csv if fmt == "csv" else read_jsonl
        parsed = reader(raw, encoding=encoding, text_columns=text_columns, report=report)
    if parsed is None:
        raise report.error(name)
    frame, metadata, tags = _canonical(parsed, columns, root, report)
    if report.problems:
        raise report.error(name)
    return ImportResult(
        frame=frame,
        metadata_columns=metadata,
        dataset_tags=tags,
        media_root=root,
        source=name,
        format=fmt,
        warnings=report.warnings,
    )


def peek_columns(data: bytes, *, filename: str) -> list[str]:
    """The column names of a data file, read from its head (for a column-mapping form).

    Best effort and never raises: :func:`read_dataset` validates everything and reports what
    is wrong.
    """
    suffix = Path(filename).suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return list(pq.read_schema(io.BytesIO(data)).names)
        head = data[: 1 << 16].decode("utf-8-sig", errors="replace")
        if suffix in (".jsonl", ".ndjson"):
            names: dict[str, None] = {}
            for line in head.splitlines()[:100]:
                try:
                    record = json.loads(line)
                except ValueError:  # blank, or cut off at the end of the peek
                    continue
                if isinstance(record, dict):
                    names.update(dict.fromkeys(map(str, record)))
            return list(names)
        return next(csv.reader(io.StringIO(head)), [])
    except Exception:  # noqa: BLE001 - a malformed file: the import's report will say why
        return []


# ---------------------------------------------------------------------- roles
_CANONICAL = frozenset(ROLES)


def _canonical(
    frame: pd.DataFrame, mapping: ColumnMapping, root: Path | None, report: Report
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check every role and build the canonical frame (meaningful only if no problems)."""
    names = list(frame.columns)
    roles = mapping.roles()
    owner: dict[str, str] = {}
    for role, name in roles.items():
        if name in owner:
            report.add(
                f"is mapped to both {owner[name]} and {role}; map each role to its own column",
                column=name,
            )
        owner.setdefault(name, role)
    present = {role: name for role, name in roles.items() if name in frame.columns}
    for role in REQUIRED_ROLES:
        if role not in present:
            report.add(_missing_message(role, roles[role], names), column=roles[role])
    used = set(present.values())
    for name in names:
        if name not in used and name in _CANONICAL:
            report.add(
                f"has the name of the {name} role, but that role is mapped to column "
                f"{roles[name]!r}; rename or remove this column, or map the role to it "
                f"(--{name.replace('_', '-')}-column {name!r})",
                column=name,
            )
    tag_columns = [n for n in names if n not in used and n.startswith(TAG_PREFIX)]
    metadata = [n for n in names if n not in used and n not in _CANONICAL and n not in tag_columns]
    n = len(frame)
    _check_nul(frame, report)

    def text(role: str) -> pd.Series:
        return frame[present[role]].astype("str").reset_index(drop=True)

    out: dict[str, object] = {}
    if "id" in present:
        out["id"] = _check_ids(text("id"), present["id"], report)
    for role in ("label", "prediction"):
        if role in present:
            values = text(role).fillna("")
            out[role] = values
            _warn_blanks(values, role, report)
    if "correct" in present:
        correct, bad = _to_bool(frame[present["correct"]], empty_ok=False)
        _report_booleans(frame[present["correct"]], bad, present["correct"], report)
        out["correct"] = correct
    elif "label" in out and "prediction" in out:
        out["correct"] = (out["label"] == out["prediction"]).to_numpy(dtype=bool)
    if "confidence" in present:
        out["confidence"] = _check_confidence(
            frame[present["confidence"]], present["confidence"], report
        )
    if "human_label" in present:
        values = text("human_label")
        out["human_label"] = values.mask(values == "")
    if "text" in present:
        out["text"] = text("text")
    for role in MEDIA_ROLES:
        if role in present:
            values = text(role)
            values = values.mask(values == "")
            _check_media(values, present[role], root, report)
            out[role] = values
    for name in metadata:
        out[name] = frame[name].reset_index(drop=True)
    tags = _collect_tags(frame, tag_columns, present.get("tags"), n, report)
    for tag, flags in tags.items():
        out[TAG_PREFIX + tag] = flags
    if report.problems:
        return pd.DataFrame(), metadata, list(tags)
    return pd.DataFrame(out, index=pd.RangeIndex(n)), metadata, list(tags)


def _check_nul(frame: pd.DataFrame, report: Report) -> None:
    """Refuse a NUL character in any column name or text value, in every format.

    A CSV with a NUL byte is refused whole as binary; JSON (``"\\u0000"``) and Parquet
    carry one inside a string, where it would cut the text short in C code, SQLite tools
    and terminals, and let two different ids print the same.
    """
    for name in frame.columns:
        if "\x00" in str(name):
            report.add("the column name contains a NUL character", column=str(name))
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, pd.StringDtype):
            found = column.str.contains("\x00", regex=False).fillna(False)
        elif isinstance(dtype, pd.CategoricalDtype):
            bad = [c for c in dtype.categories if isinstance(c, str) and "\x00" in c]
            found = column.isin(bad)
        elif pd.api.types.is_object_dtype(dtype):
            found = column.map(lambda v: isinstance(v, str) and "\x00" in v)
        else:
            continue
        positions = np.flatnonzero(found.to_numpy(dtype=bool))
        if len(positions):
            report.at_rows(
                positions,
                "contains a NUL character (\\x00), which text may not hold",
                column=str(name),
                values=lambda p, column=column: value_text(column.iloc[p]),
            )


def _missing_message(role: str, name: str, names: list[str]) -> str:
    listing = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
    message = f"the required {role.replace('_', ' ')} column is missing (the file has: {listing})"
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = "';'" if ";" in names[0] else "a tab"
        return message + f"; the file seems to separate values with {separator}, use commas"
    close = [n for n in names if n.strip().lower() == name.strip().lower()]
    close = close or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        message += f"; did you mean {close[0]!r}?"
    flag = f"--{role.replace('_', '-')}-column"
    return message + f"; map another column to it with {flag} NAME, or ColumnMapping({role}=...)"


def _rows(count: int) -> str:
    return "1 row has" if count == 1 else f"{count} rows have"


def _check_ids(ids: pd.Series, column: str, report: Report) -> pd.Series:
    empty = (ids.isna() | (ids == "")).to_numpy()
    if empty.any():
        report.at_rows(np.flatnonzero(empty), "id is empty", column=column)
    if len(pc.unique(pa.array(ids, from_pandas=True))) == len(ids):
        return ids.fillna("")
    duplicate = ids.duplicated(keep="first").to_numpy() & ~empty
    if duplicate.any():
        repeated = ids[duplicate]
        originals = ids.isin(repeated.unique()).to_numpy() & ~duplicate & ~empty
        first_positions = np.flatnonzero(originals)
        first_rows = report.locate(first_positions)
        first_row = dict(
            zip(ids.iloc[first_positions].tolist(), np.asarray(first_rows).tolist(), strict=True)
        )
        report.at_rows(
            np.flatnonzero(duplicate),
            lambda p: f"is a duplicate id (first on {report.unit} {first_row[ids.iloc[p]]})",
            column=column,
            values=lambda p: ids.iloc[p],
        )
    return ids.fillna("")


def _warn_blanks(values: pd.Series, role: str, report: Report) -> None:
    empty = int((values == "").sum())
    if empty:
        report.warnings.append(f"{_rows(empty)} an empty {role}")
    padded = int((values.str.strip() != values).sum())
    if padded:
        report.warnings.append(
            f"{_rows(padded)} a {role} that starts or ends with spaces; it is kept, and "
            "compared, as it is"
        )


def _to_bool(values: pd.Series, *, empty_ok: bool) -> tuple[np.ndarray, np.ndarray]:
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


def _report_booleans(values: pd.Series, bad: np.ndarray, column: str, report: Report) -> None:
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


def _check_confidence(values: pd.Series, column: str, report: Report) -> np.ndarray:
    """float64 confidences; types are checked first, then the [0, 1] range of the numbers."""
    numbers, not_number = _to_float(values)
    if not_number.any():
        report.at_rows(
            np.flatnonzero(not_number),
            "is not a number (confidence must be a number in [0, 1])",
            column=column,
            values=lambda p: value_text(values.iloc[p]),
        )
    with np.errstate(invalid="ignore"):
        outside = ~not_number & ~np.isnan(numbers) & ((numbers < 0) | (numbers > 1))
    if outside.any():
        report.at_rows(
            np.flatnonzero(outside),
            "is not a number in [0, 1]",
            column=column,
            values=lambda p: value_text(values.iloc[p]),
        )
    return numbers


def _to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
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


def _check_media(values: pd.Series, column: str, root: Path | None, report: Report) -> None:
    given = values.dropna()
    if given.empty:
        return
    local = given[~given.str.fullmatch(URL_PATTERN).to_numpy(dtype=bool)]
    if local.empty:
        return
    if root is None:
        report.add(
            f"{len(local)} values are local file paths, but there is no media root to find them "
            "in (pass media_root= with an uploaded file, or use http(s) URLs)",
            column=column,
            row=int(report.locate(np.asarray([local.index[0]]))[0]),
            value=local.iloc[0],
        )
        return
    scan = scan_media_paths(root, local)
    if scan.unsafe:
        where = local.index.to_numpy()
        reasons = {int(where[p]): reason for p, _, reason in scan.unsafe}
        report.at_rows(
            sorted(reasons),
            lambda p: reasons[p],
            column=column,
            values=lambda p: values.iloc[p],
        )
    if scan.missing:
        first = ", ".join(repr(local.iloc[p]) for p in scan.missing[:3])
        report.warnings.append(
            f"{len(scan.missing)} of {len(local)} files in column {column!r} do not exist "
            f"under {str(root)!r} (first: {first})"
        )


# ---------------------------------------------------------------------- tags
def _tag_name(name: str) -> tuple[str, str | None]:
    """(the name as the store keeps it, or the problem with it)."""
    try:
        return check_tag_name(name), None
    except InvalidName as err:
        return name, str(err)


def _collect_tags(
    frame: pd.DataFrame, tag_columns: list[str], tags_column: str | None, n: int, report: Report
) -> dict[str, np.ndarray]:
    """One boolean array per tag name, from ``tag:NAME`` columns and the tags column.

    The names are checked as the store checks them, and the :data:`MAX_TAGS` limit counts
    the tags of both kinds of column together.
    """
    column_tags: dict[str, str] = {}  # tag:NAME column -> tag name
    for column in tag_columns:
        name, problem = _tag_name(column[len(TAG_PREFIX) :])
        if problem:
            report.add(f"{problem} (columns named tag:NAME hold one tag each)", column=column)
        else:
            column_tags[column] = name
    cell_tags: list[str] = []  # distinct names of the tags column, by first appearance
    codes = rows = np.zeros(0, dtype=np.int64)
    if tags_column is not None:
        # Arrow keeps this compact: a hostile cell of a million ';' is a million empty names.
        cells = pa.array(frame[tags_column].astype("str"), from_pandas=True)
        if isinstance(cells, pa.ChunkedArray):
            cells = cells.combine_chunks()
        lists = pc.split_pattern(cells, TAG_SEPARATOR)
        names = pc.utf8_trim_whitespace(pc.list_flatten(lists))
        rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        given = pc.not_equal(names, "").to_numpy(zero_copy_only=False)
        if given.any():
            encoded = pc.dictionary_encode(pc.filter(names, given))  # codes by first appearance
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            rows = rows[given]
            distinct = encoded.dictionary.to_pylist()
            _, first = np.unique(codes, return_index=True)
            checked = [_tag_name(name) for name in distinct]
            bad = [
                (int(rows[first[code]]), problem, distinct[code])
                for code, (_, problem) in enumerate(checked)
                if problem is not None
            ]
            for row, problem, name in bad[:MAX_PROBLEMS_PER_CHECK]:
                at = int(report.locate(np.asarray([row]))[0])
                report.add(problem or "", column=tags_column, row=at, value=name)
            report.more(len(bad) - MAX_PROBLEMS_PER_CHECK, column=tags_column)
            if bad:
                codes = rows = np.zeros(0, dtype=np.int64)
            else:
                cell_tags = [name for name, _ in checked]
    total = set(column_tags.values()) | set(cell_tags)
    if len(total) > MAX_TAGS:
        kinds = []
        if column_tags:
            kinds.append(f"{len(set(column_tags.values()))} in tag:NAME columns")
        if cell_tags:
            kinds.append(f"{len(set(cell_tags))} in the {tags_column!r} column")
        report.add(
            f"the file holds {len(total)} different tags ({', '.join(kinds)}); at most "
            f"{MAX_TAGS} are supported"
        )
        return {}
    tags: dict[str, np.ndarray] = {}
    for column, name in column_tags.items():
        flags, bad_flags = _to_bool(frame[column], empty_ok=True)
        if bad_flags.any():
            _report_booleans(frame[column], bad_flags, column, report)
            continue
        tags[name] = tags[name] | flags if name in tags else flags
    if cell_tags:
        # Two spellings may name one tag once checked (the store trims them alike).
        index = {name: i for i, name in enumerate(dict.fromkeys(cell_tags))}
        remap = np.asarray([index[name] for name in cell_tags], dtype=np.int64)
        matrix = np.zeros((len(index), n), dtype=bool)
        matrix[remap[codes], rows] = True
        for name, i in index.items():
            tags[name] = tags[name] | matrix[i] if name in tags else matrix[i]
    return tags
