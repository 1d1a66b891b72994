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

A **production** sample (``production=True``: the model's predictions on data nobody has
labelled yet) has no ``label``, ``correct`` or ``human_label`` column: a file with one is
refused, so that labels are never dropped unseen. Its frame has ``id``, ``prediction`` and
the rest as above, and no ``correct`` column.

Column roles can be mapped to other file columns with :class:`ColumnMapping`.
:func:`read_reviews` and :func:`read_tag_definitions` read the small CSV tables a team
brings along with the same checks.

The package holds one module per concern: ``report`` (the problems and the error that
lists them), ``source`` (a file's bytes and the preamble of every text format),
``csv_reader``, ``jsonl_reader`` and ``parquet_reader`` (one per format, and ``arrow`` for
what they share), ``canonical`` (what each column role must hold, and the canonical
frame), ``values`` (booleans and numbers of any type), ``tags`` (dataset tags) and
``tables`` (reviews and tag definitions). The roles themselves are in
:mod:`erroranalysis.roles`.
"""

from __future__ import annotations

import csv
import io
import json
import os
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import pyarrow.parquet as pq

from ..embeddings import Embeddings, read_npy, take_embeddings
from ..roles import REQUIRED_ROLES, ROLE_HELP, ROLES, ColumnMapping
from .arrow import allocator_for, give_back_memory
from .canonical import canonical
from .csv_reader import read_csv
from .jsonl_reader import read_jsonl
from .parquet_reader import read_parquet
from .report import (
    MAX_LISTED_PROBLEMS,
    MAX_PROBLEMS_PER_CHECK,
    ImportValidationError,
    Problem,
    Report,
)
from .source import check_encoding, load
from .tables import ReviewTable, read_reviews, read_tag_definitions

__all__ = [
    "FORMATS",
    "MAX_LISTED_PROBLEMS",
    "MAX_PROBLEMS_PER_CHECK",
    "REQUIRED_ROLES",
    "ROLES",
    "ROLE_HELP",
    "ColumnMapping",
    "ImportResult",
    "ImportValidationError",
    "Problem",
    "ReviewTable",
    "check_encoding",
    "peek_columns",
    "read_dataset",
    "read_reviews",
    "read_tag_definitions",
]

# The data file formats, by file extension.
FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


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
    production: bool = False  # a production sample: no labels (see the module docstring)
    embeddings: Embeddings | None = None  # see erroranalysis.embeddings
    # The run's Parquet blob of ``frame``, being encoded (erroranalysis.store.common.
    # encode_run) while the import finished its checks; None: the store encodes it.
    encoded: Future[bytes] | None = field(default=None, repr=False, compare=False)


def read_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    filename: str | None = None,
    columns: ColumnMapping = ColumnMapping(),  # noqa: B008 -- frozen, so sharing is safe
    media_root: str | Path | None = None,
    encoding: str = "utf-8",
    production: bool = False,
    embeddings: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Read and validate a CSV, Parquet or JSON Lines file of predictions (of a
    ``production`` sample, without labels: see the module docstring).

    ``source`` is a path or a binary file object (then ``filename`` gives the name, and so
    the format, unless the object has a ``name``). The format follows the extension:
    ``.csv``, ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``. Media paths are resolved against
    ``media_root``, by default the data file's folder; a file object has none.
    ``embeddings`` names a ``.npy`` file of one vector per example, in the file's row order
    (see :mod:`erroranalysis.embeddings`, which also reads an embedding column).

    Raises :class:`ImportValidationError` listing every problem found; returns only a fully
    valid result.
    """
    # A CSV file is parsed from the disk (read_csv), the others from their bytes.
    name, raw, folder = load(source, filename, keep_path=True)
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
    allocator_for(fmt)  # before the file's first table (why: see its docstring)
    if fmt != "csv" and isinstance(raw, Path):
        raw = raw.read_bytes()

    root: Path | None = None
    if media_root is not None:
        root = Path(media_root).expanduser().resolve()
        if not root.is_dir():
            report.add(f"the media root {str(root)!r} is not a folder")
    elif folder is not None:
        root = folder

    # Each reader returns the file's own columns (text roles already as text), or None
    # when the file cannot be read at all.
    text_columns = columns.text_columns()
    distinct_ids = None  # not known yet: the checks of the ids work it out
    if fmt == "parquet":
        parsed, distinct_ids = read_parquet(
            raw, text_columns=text_columns, report=report, ids=columns.id
        )
    else:
        reader = read_csv if fmt == "csv" else read_jsonl
        parsed = reader(raw, encoding=encoding, text_columns=text_columns, report=report)
    if parsed is None:
        raise report.error(name)
    # A CSV's embedding is in its columns (CSV has no nested values): its bytes are not needed.
    parsed, vectors = take_embeddings(
        parsed, raw=raw if isinstance(raw, bytes) else b"", fmt=fmt, report=report
    )
    if embeddings is not None and vectors is not None:
        report.add(f"the file has its own embedding ({vectors.source}) and --embeddings was given")
    elif embeddings is not None:
        vectors = read_npy(embeddings, rows=len(parsed), report=report)
    mark = report.mark()
    # A Parquet file's ids are still being hashed: checked as if distinct, the frame starts
    # being encoded as the run's blob meanwhile; if they are not, it is all checked again.
    frame, metadata, tags = canonical(
        parsed,
        columns,
        root,
        report,
        production=production,
        distinct_ids=None if distinct_ids is None else True,
    )
    encoded = None
    if distinct_ids is not None and not report.problems:
        # The store's encoding of a run, started here: the one place that knows when the
        # frame is ready while a check still runs. Loaded on use (the store is big).
        from ..store.common import encode_run

        encoded = encode_run(frame)
    if distinct_ids is not None and not distinct_ids.result():
        encoded = None
        report.rewind(mark)
        frame, metadata, tags = canonical(
            parsed, columns, root, report, production=production, distinct_ids=False
        )
    del parsed
    give_back_memory()  # what the checks made and dropped, before the caller stores the frame
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
        production=production,
        embeddings=vectors,
        encoded=encoded,
    )


def peek_columns(data: bytes, *, filename: str) -> list[str]:
    """The column names of a data file, read from its head (for a column-mapping form).

    Best effort and never raises: :func:`read_dataset` validates everything and reports what
    is wrong.
    """
    fmt = FORMATS.get(Path(filename).suffix.lower())
    try:
        if fmt == "parquet":
            return list(pq.read_schema(io.BytesIO(data)).names)
        head = data[: 1 << 16].decode("utf-8-sig", errors="replace")
        if fmt == "jsonl":
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
