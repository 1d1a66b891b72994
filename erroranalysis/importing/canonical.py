"""What each column role means, checked on a parsed file: the canonical frame.

:func:`canonical` checks every role of the columns a reader returns (each role mapped to
its own column, the required ones present, ids given and unique, labels, booleans,
confidences in [0, 1], media paths inside the media root, tags, no NUL in any text) and
builds the canonical frame described in :mod:`erroranalysis.importing`. The roles
themselves, and which column plays each, are in :mod:`erroranalysis.roles`.
"""

from __future__ import annotations

import difflib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..media import URL_PATTERN, scan_media_paths
from ..roles import LABEL_ROLES, PRODUCTION_ROLES, REQUIRED_ROLES, ROLES, ColumnMapping, column_flag
from ..vocabulary import TAG_PREFIX
from .report import Report, value_text
from .tags import collect_tags
from .values import report_booleans, to_bool, to_float

MEDIA_ROLES = ("audio", "image")
_CANONICAL = frozenset(ROLES)


def canonical(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    root: Path | None,
    report: Report,
    *,
    production: bool = False,
    distinct_ids: bool | None = None,
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """(canonical frame, metadata columns, dataset tags) of a parsed file, every role checked.
    ``distinct_ids``: whether the id column's values are all distinct, if the reader knows
    (:func:`.parquet_reader.read_parquet` works it out on the other core), else None.

    A ``production`` sample needs only an id and a prediction, and a column of a label
    role (label, correct, human label) is a problem: its labels would be dropped unseen.
    Problems go to ``report``; the frame is empty when there are any.
    """
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
    for role in PRODUCTION_ROLES if production else REQUIRED_ROLES:
        if role not in present:
            report.add(_missing_message(role, roles[role], names), column=roles[role])
    for role in LABEL_ROLES if production else ():
        if role in present:
            report.add(
                f"is the {role.replace('_', ' ')} column, but a production sample has no "
                "labels: import the file without --production (as a labelled dataset), or "
                "remove the column",
                column=present[role],
            )
    used = set(present.values())
    for name in names:
        if name not in used and name in _CANONICAL:
            report.add(
                f"has the name of the {name} role, but that role is mapped to column "
                f"{roles[name]!r}; rename or remove this column, or map the role to it "
                f"({column_flag(name)} {name!r})",
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
        out["id"] = _check_ids(text("id"), present["id"], report, distinct=distinct_ids)
    for role in ("label", "prediction"):
        if role in present:
            values = text(role).fillna("")
            out[role] = values
            _warn_blanks(values, role, report)
    if "correct" in present:
        correct, bad = to_bool(frame[present["correct"]], empty_ok=False)
        report_booleans(frame[present["correct"]], bad, present["correct"], report)
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
    tags = collect_tags(frame, tag_columns, present.get("tags"), n, report)
    for tag, flags in tags.items():
        out[TAG_PREFIX + tag] = flags
    if report.problems:
        return pd.DataFrame(), metadata, list(tags)
    # Not consolidated: stacking the tag columns into one block copied them all (2.6 s of a
    # 10M-row import with 50 tags); the store encodes the frame column by column anyway.
    return pd.DataFrame(out, index=pd.RangeIndex(n), copy=False), metadata, list(tags)


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
        if isinstance(dtype, pd.StringDtype) and not _may_hold_nul(column):
            continue
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


def _may_hold_nul(column: pd.Series) -> bool:
    """False when no byte of the text column's storage is NUL (one scan of its bytes, a
    tenth of the per-value search); True when one is, or when its storage is not Arrow's."""
    if not isinstance(column.array, pd.arrays.ArrowStringArray):
        return True
    stored = column.array.__arrow_array__()  # the Arrow data itself, not a copy
    for chunk in getattr(stored, "chunks", [stored]):
        buffers = chunk.buffers()
        data = buffers[2] if len(buffers) > 2 else None
        if data is not None and data.size and np.frombuffer(data, dtype=np.uint8).min() == 0:
            return True
    return False


def _missing_message(role: str, name: str, names: list[str]) -> str:
    """Why a required column is missing, as far as the file's ``names`` tell, and the fix."""
    listing = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
    message = f"the required {role.replace('_', ' ')} column is missing (the file has: {listing})"
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = "';'" if ";" in names[0] else "a tab"
        return message + f"; the file seems to separate values with {separator}, use commas"
    close = [n for n in names if n.strip().lower() == name.strip().lower()]
    close = close or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        message += f"; did you mean {close[0]!r}?"
    flag = column_flag(role)
    return message + f"; map another column to it with {flag} NAME, or ColumnMapping({role}=...)"


def _rows(count: int) -> str:
    """The start of a sentence about ``count`` rows: "1 row has", "3 rows have"."""
    return "1 row has" if count == 1 else f"{count} rows have"


def _check_ids(
    ids: pd.Series, column: str, report: Report, *, distinct: bool | None = None
) -> pd.Series:
    """The ids, each reported if empty or a repeat (naming the line of its first use);
    ``distinct`` says whether they are all distinct, if known already."""
    empty = (ids.isna() | (ids == "")).to_numpy()
    if empty.any():
        report.at_rows(np.flatnonzero(empty), "id is empty", column=column)
    if distinct is None:
        distinct = len(pc.unique(pa.array(ids, from_pandas=True))) == len(ids)
    if distinct:
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
    """Warn of empty values and of values padded with spaces (kept as they are)."""
    empty = int((values == "").sum())
    if empty:
        report.warnings.append(f"{_rows(empty)} an empty {role}")
    padded = int((values.str.strip() != values).sum())
    if padded:
        report.warnings.append(
            f"{_rows(padded)} a {role} that starts or ends with spaces; it is kept, and "
            "compared, as it is"
        )


def _check_confidence(values: pd.Series, column: str, report: Report) -> np.ndarray:
    """float64 confidences; types are checked first, then the [0, 1] range of the numbers."""
    numbers, not_number = to_float(values)
    with np.errstate(invalid="ignore"):
        outside = ~not_number & ~np.isnan(numbers) & ((numbers < 0) | (numbers > 1))
    for bad, message in (
        (not_number, "is not a number (confidence must be a number in [0, 1])"),
        (outside, "is not a number in [0, 1]"),
    ):
        if bad.any():
            report.at_rows(
                np.flatnonzero(bad),
                message,
                column=column,
                values=lambda p: value_text(values.iloc[p]),
            )
    return numbers


def _check_media(values: pd.Series, column: str, root: Path | None, report: Report) -> None:
    """Refuse media paths that leave ``root`` (or that have no root to be found in); warn
    of files that do not exist. http(s) URLs are not checked."""
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
