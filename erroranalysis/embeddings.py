"""Embeddings of a run's examples: read and validated at import, stored with the run, or made
from a text column by TF-IDF.

A run's embedding is one vector per example, in the row order of the data file, kept as a
float32 array in the project's ``embeddings`` table (one row per run). It comes from one of:

* a column named ``embedding`` holding a list of numbers per example (a Parquet list
  column, a JSON Lines array, or a JSON array written as text in a CSV cell);
* numeric columns ``emb_0``, ``emb_1``, … ``emb_{d-1}`` (all of them, numbered from 0,
  none missing); they are not kept as metadata;
* a ``.npy`` file given at import (``import --embeddings FILE.npy``): one 2-D numeric array
  whose row i is the data file's example i, read with ``allow_pickle=False``.

Every problem (ragged lengths, values that are not numbers, NaN or infinity, a row count
that differs from the data, an array that is not 2-D, an object array) is reported by the
import like any other, naming the line or row; nothing is stored from a file with
problems. :func:`tfidf_embeddings` embeds a text column when there is no embedding.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from .importing.report import Report

__all__ = [
    "EMBEDDING_COLUMN",
    "EMBEDDING_PREFIX",
    "EMBEDDINGS_SCHEMA",
    "MAX_BYTES",
    "Embeddings",
    "from_blob",
    "read_npy",
    "take_embeddings",
    "tfidf_embeddings",
    "to_blob",
]

# The first schema of the project file with a table of embeddings (see store/schema.py).
EMBEDDINGS_SCHEMA = 4
EMBEDDING_COLUMN = "embedding"
EMBEDDING_PREFIX = "emb_"
# SQLite refuses a value longer than 10^9 bytes (its default SQLITE_MAX_LENGTH).
MAX_BYTES = 1_000_000_000
# Dimensions of a TF-IDF embedding after its reduction by truncated SVD (latent semantic
# analysis): enough for k-means to separate topics, small enough to cluster fast.
TFIDF_DIMENSIONS = 100
_NUMBERED = re.compile(rf"{EMBEDDING_PREFIX}(0|[1-9][0-9]*)")


class Embeddings:
    """One vector per example of a run (row i = example i of the run's frame).

    ``vectors`` is a read-only float32 array (examples × dimensions); ``source`` says where
    it came from ("column 'embedding'", "columns emb_0 … emb_383", a file name, "TF-IDF of
    column 'text'"). The array given is never changed: a writable one is copied.

    A plain class, not a dataclass: the app's cache hashes an analysis' options, and
    Streamlit turns a dataclass into a dict (copying its arrays) to hash it, where it
    samples a large array of a plain object.
    """

    __slots__ = ("source", "vectors")

    def __init__(self, vectors: np.ndarray, source: str) -> None:
        given = np.asarray(vectors)
        array = np.ascontiguousarray(given, dtype=np.float32)
        if array.ndim != 2:
            raise ValueError(f"embeddings must be a 2-D array, got {array.ndim} dimensions")
        if array.flags.writeable and np.may_share_memory(array, given):
            array = array.copy()
        array.flags.writeable = False
        self.vectors = array
        self.source = source

    def __reduce__(self) -> tuple:
        return (Embeddings, (self.vectors, self.source))

    def __repr__(self) -> str:
        return f"<Embeddings {self.vectors.shape[0]} x {self.vectors.shape[1]} from {self.source}>"

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]


def to_blob(embeddings: Embeddings) -> bytes:
    """The vectors as little-endian float32 bytes, row after row (the store's format)."""
    return embeddings.vectors.astype("<f4", copy=False).tobytes()


def from_blob(blob: bytes, *, dimensions: int, source: str) -> Embeddings:
    """The :class:`Embeddings` :func:`to_blob` wrote."""
    vectors = np.frombuffer(blob, dtype="<f4").reshape(-1, dimensions)
    return Embeddings(vectors, source)


# --------------------------------------------------------------------------- at import


def take_embeddings(
    parsed: pd.DataFrame, *, raw: bytes, fmt: str, report: Report
) -> tuple[pd.DataFrame, Embeddings | None]:
    """Split the embedding out of a file's parsed columns: ``parsed`` without the embedding
    columns, and the embedding (None when the file has none or it has problems, which are
    added to ``report``). ``raw`` is the file's bytes: the readers leave nested columns out,
    so a Parquet or JSON Lines list column is read again from them."""
    numbered = [c for c in parsed.columns if isinstance(c, str) and c.startswith(EMBEDDING_PREFIX)]
    nested = _dropped_nested(report)
    in_frame = EMBEDDING_COLUMN in parsed.columns
    if not (numbered or nested or in_frame):
        return parsed, None
    if (nested or in_frame) and numbered:
        report.add(
            f"the file has both an {EMBEDDING_COLUMN!r} column and {EMBEDDING_PREFIX}* "
            "columns; keep one embedding"
        )
        return parsed, None
    if numbered:
        return parsed.drop(columns=numbered), _from_numbered(parsed, numbered, report)
    if in_frame:
        values = parsed[EMBEDDING_COLUMN].tolist()
        rest = parsed.drop(columns=[EMBEDDING_COLUMN])
        return rest, _from_lists(_json_cells(values, report), report)
    if fmt == "parquet":
        return parsed, _from_parquet(raw, len(parsed), report)
    return parsed, _from_lists(_jsonl_values(raw, len(parsed), report), report)


def _dropped_nested(report: Report) -> bool:
    # The readers leave a nested column out with a warning; for the embedding column that
    # warning would be wrong (it is read here), so it goes.
    mark = f"column {EMBEDDING_COLUMN!r} holds "
    kept = [w for w in report.warnings if not w.startswith(mark)]
    dropped = len(kept) != len(report.warnings)
    report.warnings[:] = kept
    return dropped


def _from_numbered(parsed: pd.DataFrame, names: list[str], report: Report) -> Embeddings | None:
    bad = [n for n in names if not _NUMBERED.fullmatch(n)]
    if bad:
        report.add(
            f"embedding columns are named {EMBEDDING_PREFIX}0, {EMBEDDING_PREFIX}1, … "
            f"(numbered from 0, no leading zeros); got {', '.join(map(repr, bad[:5]))}"
        )
        return None
    numbers = sorted(int(n[len(EMBEDDING_PREFIX) :]) for n in names)
    missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
    if missing:
        listed = ", ".join(f"{EMBEDDING_PREFIX}{i}" for i in missing[:5])
        report.add(
            f"embedding columns {EMBEDDING_PREFIX}0 … {EMBEDDING_PREFIX}{numbers[-1]} must all "
            f"be there; missing {listed}" + (" …" if len(missing) > 5 else "")
        )
        return None
    ordered = [f"{EMBEDDING_PREFIX}{i}" for i in numbers]
    before = len(report.problems)
    columns = []
    for name in ordered:
        column = parsed[name]
        values = pd.to_numeric(column, errors="coerce")
        is_bool = pd.api.types.is_bool_dtype(column.dtype)
        text = column.notna().to_numpy() & values.isna().to_numpy()
        if is_bool or text.any():
            where = np.arange(len(column)) if is_bool else np.flatnonzero(text)
            report.at_rows(
                where,
                "is not a number",
                column=name,
                values=lambda p, c=column: str(c.iloc[p]),
            )
            continue
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
        _report_not_finite(array, name, report)
        columns.append(array)
    if len(report.problems) > before:
        return None
    vectors = np.column_stack(columns)
    return _sized(vectors, f"columns {ordered[0]} … {ordered[-1]}", report)


def _report_not_finite(array: np.ndarray, column: str, report: Report) -> None:
    missing = np.flatnonzero(np.isnan(array))
    report.at_rows(
        missing, "is empty or NaN; every embedding value must be a number", column=column
    )
    infinite = np.flatnonzero(np.isinf(array))
    report.at_rows(infinite, "is infinite; every embedding value must be finite", column=column)


def _json_cells(values: list, report: Report) -> list:
    """Cells of an ``embedding`` column read as text (a CSV): each a JSON array."""
    out: list = []
    bad: list[int] = []
    for position, value in enumerate(values):
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                bad.append(position)
                value = None
        out.append(value)
    report.at_rows(
        bad,
        "is not a JSON array of numbers such as [0.1, -2.5]",
        column=EMBEDDING_COLUMN,
        values=lambda p: str(values[p]),
    )
    return out


def _jsonl_values(raw: bytes, rows: int, report: Report) -> list | None:
    """The ``embedding`` value of each record of a JSON Lines file (blank lines skipped, as
    the reader does); None if the file's records cannot be matched with its rows (the reader
    reported why)."""
    text = raw.decode("utf-8-sig", errors="replace")
    out: list = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            return None
        if not isinstance(record, dict):
            return None
        out.append(record.get(EMBEDDING_COLUMN))
    return out if len(out) == rows else None


def _from_lists(values: list | None, report: Report) -> Embeddings | None:
    if values is None:
        return None
    before = len(report.problems)
    lengths = np.full(len(values), -1, dtype=np.int64)
    not_lists, not_numbers = [], []
    for position, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        if isinstance(value, list | tuple | np.ndarray):
            lengths[position] = len(value)
            if not all(_is_number(v) for v in value):
                not_numbers.append(position)
        else:
            not_lists.append(position)
            lengths[position] = -2
    column = EMBEDDING_COLUMN
    report.at_rows(
        not_lists, "is not a list of numbers", column=column, values=lambda p: str(values[p])
    )
    report.at_rows(
        not_numbers,
        lambda p: f"holds {_first_non_number(values[p])!r}, which is not a number",
        column=column,
    )
    dimensions = _check_lengths(lengths, report)
    if dimensions is None or len(report.problems) > before:
        return None
    vectors = np.asarray(values, dtype=np.float64).reshape(len(values), dimensions)
    return _checked_array(vectors, f"column {column!r}", report)


def _check_lengths(lengths: np.ndarray, report: Report) -> int | None:
    """The embedding's length, or None after reporting the rows without one (-1) and the rows
    whose length differs from the first row's (-2: not a list, already reported)."""
    column = EMBEDDING_COLUMN
    report.at_rows(
        np.flatnonzero(lengths == -1), "has no embedding (every example needs one)", column=column
    )
    sized = lengths[lengths >= 0]
    if not len(sized):
        return None
    first = int(sized[0])
    if first == 0:
        report.add("the first embedding is an empty list", column=column)
        return None
    ragged = np.flatnonzero((lengths >= 0) & (lengths != first))
    report.at_rows(
        ragged,
        lambda p: (
            f"has {lengths[p]} values where the first embedding has {first} "
            "(every embedding must have the same length)"
        ),
        column=column,
    )
    return None if len(ragged) or (lengths < 0).any() else first


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.bool_
    )


def _first_non_number(value: list) -> object:
    return next(v for v in value if not _is_number(v))


def _from_parquet(raw: bytes, rows: int, report: Report) -> Embeddings | None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pq.read_table(io.BytesIO(raw), columns=[EMBEDDING_COLUMN]).column(0)
    kind = column.type
    lists = (pa.types.is_list, pa.types.is_large_list, pa.types.is_fixed_size_list)
    if not any(is_kind(kind) for is_kind in lists):
        report.add(f"has type {kind}; expected a list of numbers", column=EMBEDDING_COLUMN)
        return None
    value_kind = kind.value_type
    if not (pa.types.is_integer(value_kind) or pa.types.is_floating(value_kind)):
        report.add(
            f"holds lists of {value_kind}; expected lists of numbers", column=EMBEDDING_COLUMN
        )
        return None
    array = column.combine_chunks()
    if len(array) != rows:
        return None
    before = len(report.problems)
    flat = array.flatten()
    lengths = np.asarray(array.value_lengths().fill_null(-1).to_numpy(zero_copy_only=False))
    if flat.null_count:
        # A list holding a null: an embedding with a value missing.
        owner = np.repeat(np.arange(rows), np.maximum(lengths, 0))
        holes = np.unique(owner[np.asarray(flat.is_null().to_numpy(zero_copy_only=False))])
        report.at_rows(
            holes,
            "holds a missing value; every embedding value must be a number",
            column=EMBEDDING_COLUMN,
        )
    dimensions = _check_lengths(lengths, report)
    if dimensions is None or len(report.problems) > before:
        return None
    numbers = flat.to_numpy(zero_copy_only=False).astype(np.float64)
    return _checked_array(numbers.reshape(rows, dimensions), f"column {EMBEDDING_COLUMN!r}", report)


def _checked_array(vectors: np.ndarray, source: str, report: Report) -> Embeddings | None:
    bad = ~np.isfinite(vectors).all(axis=1)
    if bad.any():
        report.at_rows(
            np.flatnonzero(bad),
            "holds NaN or infinity; every embedding value must be a finite number",
            column=EMBEDDING_COLUMN if source.startswith("column") else None,
        )
        return None
    return _sized(vectors, source, report)


def _sized(vectors: np.ndarray, source: str, report: Report) -> Embeddings | None:
    size = vectors.shape[0] * vectors.shape[1] * 4
    if size > MAX_BYTES:
        report.add(
            f"the embedding ({vectors.shape[0]:,} × {vectors.shape[1]:,} float32 values, "
            f"{size / 1e9:.1f} GB) is larger than a project can store ({MAX_BYTES / 1e9:g} GB); "
            "reduce its dimensions"
        )
        return None
    if np.abs(vectors).max(initial=0.0) > np.finfo(np.float32).max:
        report.add("the embedding holds values too large for float32")
        return None
    return Embeddings(vectors.astype(np.float32), source)


def read_npy(path: str | Path, *, rows: int, report: Report) -> Embeddings | None:
    """The embedding in the ``.npy`` file at ``path`` for a data file of ``rows`` examples, or
    None with its problems added to ``report``. Row i of the array is example i of the data
    file; pickled (object) arrays are refused, never loaded."""
    path = Path(path)
    name = path.name
    try:
        array = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        report.add(f"the embeddings file {str(path)!r} does not exist")
        return None
    except IsADirectoryError:
        report.add(f"the embeddings file {str(path)!r} is a folder")
        return None
    except ValueError as err:
        if "allow_pickle" in str(err):
            what = "holds a pickled (object) array or is not a .npy file"
        else:
            what = f"cannot be read as a .npy array ({err})"
        report.add(f"the embeddings file {name!r} {what}; save a numeric array with numpy.save")
        return None
    except (OSError, EOFError) as err:
        report.add(f"the embeddings file {name!r} cannot be read: {err}")
        return None
    if not isinstance(array, np.ndarray):  # an .npz archive
        array.close()
        report.add(
            f"the embeddings file {name!r} is an .npz archive; save one array with numpy.save"
        )
        return None
    if array.ndim != 2:
        report.add(
            f"the embeddings file {name!r} holds a {array.ndim}-D array of shape "
            f"{array.shape}; expected a 2-D array (one row per example)"
        )
        return None
    if array.dtype.kind not in "iuf":
        report.add(f"the embeddings file {name!r} holds {array.dtype} values; expected numbers")
        return None
    if array.shape[0] != rows:
        report.add(
            f"the embeddings file {name!r} has {array.shape[0]:,} rows but the data has "
            f"{rows:,} examples (row i of the array is example i of the data file)"
        )
        return None
    if array.shape[1] == 0:
        report.add(f"the embeddings file {name!r} has no columns")
        return None
    vectors = array.astype(np.float64, copy=False)
    bad = np.flatnonzero(~np.isfinite(vectors).all(axis=1))
    if len(bad):
        shown = ", ".join(str(i) for i in bad[:5].tolist())
        report.add(
            f"the embeddings file {name!r} holds NaN or infinity in {len(bad):,} rows "
            f"(array rows {shown}{' …' if len(bad) > 5 else ''}, counted from 0)"
        )
        return None
    return _sized(vectors, name, report)


# --------------------------------------------------------------------------- TF-IDF


def tfidf_embeddings(examples: pd.DataFrame, column: str, *, seed: int = 0) -> Embeddings:
    """An embedding of the text in ``column`` of every example: TF-IDF (scikit-learn, words
    and word pairs, sublinear term frequency), reduced to at most ``TFIDF_DIMENSIONS``
    dimensions by truncated SVD (seeded). Empty text embeds as a zero vector. Raises
    ValueError when the column holds no words at all."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    text = examples[column].astype(object).where(examples[column].notna(), "").astype(str)
    # Words of one character count too (digits, "a", "x"): short labels are text as well.
    vectorizer = TfidfVectorizer(
        ngram_range=(1, 2), sublinear_tf=True, max_features=50_000, token_pattern=r"(?u)\b\w+\b"
    )
    try:
        matrix = vectorizer.fit_transform(text.tolist())
    except ValueError:
        raise ValueError(f"column {column!r} holds no words to embed by TF-IDF") from None
    features = matrix.shape[1]
    if features <= TFIDF_DIMENSIONS or matrix.shape[0] <= TFIDF_DIMENSIONS:
        vectors = matrix.toarray()
    else:
        svd = TruncatedSVD(n_components=TFIDF_DIMENSIONS, random_state=seed)
        vectors = svd.fit_transform(matrix)
    return Embeddings(vectors, f"TF-IDF of column {column!r}")
