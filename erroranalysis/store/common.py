"""What the store hands out and the small helpers its modules share."""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from ..background import in_background
from ..vocabulary import check_name


@dataclass(frozen=True)
class RunInfo:
    """One model run of a dataset, as imported."""

    id: int
    dataset_id: int
    dataset: str
    name: str
    source: str
    format: str
    media_root: Path | None
    n_examples: int
    n_errors: int
    metadata_columns: tuple[str, ...]
    dataset_tags: tuple[str, ...]
    imported_at: str
    imported_by: str
    production: bool = False  # of a production sample: no labels, so no errors or accuracy
    # The engine that counted the run where its data is (erroranalysis.census): its frame
    # then holds only the examples drawn for review. None: every example is in the frame.
    counted_by: str | None = None
    # Whether the run's examples and dataset tags are in the SQL tables the project file's
    # views read (run_examples, run_tags): a run of more than vocabulary.SQL_ROWS_LIMIT
    # examples is imported without them, until asked for (DatasetStore.write_sql_rows).
    in_sql: bool = True

    @property
    def accuracy(self) -> float:
        if self.production or not self.n_examples:
            return float("nan")
        return 1 - self.n_errors / self.n_examples


def now() -> str:
    """Current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_actor(actor: str) -> str:
    """The trimmed name of who acts (a reviewer, an importer), or :class:`InvalidName`."""
    return check_name(actor, kind="reviewer")


def stored_media_root(project_file: str | Path, root: str | Path | None) -> str | None:
    """How a run's media root is written in the project file at ``project_file``: relative
    to the file's folder (with ``/``) where the root lies below that folder, so the
    project and its media move together; absolute otherwise; None for no root."""
    if root is None or str(root) == "":
        return None
    folder = Path(project_file).resolve().parent
    resolved = Path(root).resolve()
    if resolved.is_relative_to(folder):
        return resolved.relative_to(folder).as_posix() or "."
    return str(resolved)


def read_media_root(project_file: str | Path, stored: str | None) -> Path | None:
    """The media root that :func:`stored_media_root` wrote: a relative one is resolved
    against the project file's folder, an absolute one (written by older versions, or
    outside the folder) is taken as it is."""
    if not stored:
        return None
    root = Path(stored)
    if root.is_absolute():
        return root
    return Path(os.path.normpath(Path(project_file).resolve().parent / root))


def encode_run(frame: pd.DataFrame) -> Future[bytes]:
    """The Parquet blob of a run's ``frame``, encoded on a thread of its own (the encoder
    runs without the GIL, so the import goes on meanwhile)."""
    return in_background(lambda: _frame_to_blob(frame), name="encode-run")


def _frame_to_blob(frame: pd.DataFrame) -> bytes:
    import pyarrow.parquet as pq  # loaded on first use: a command that reads no run skips it

    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    # No min/max statistics: a run is read whole or by columns, never filtered by value,
    # and computing them was a fifth of the encoding.
    pq.write_table(table, sink, compression="zstd", write_statistics=False)
    return sink.getvalue()


def _blob_to_frame(
    blob: bytes, columns: Sequence[str] | None = None, *, missing_ok: bool = False
) -> pd.DataFrame:
    """The frame stored in ``blob``: only ``columns`` if given (those it has, in its own
    order, if ``missing_ok``)."""
    import pyarrow.parquet as pq

    source = io.BytesIO(blob)
    if columns and missing_ok:
        wanted = set(columns)
        columns = [name for name in pq.read_schema(source).names if name in wanted]
        source.seek(0)
    table = pq.read_table(source, columns=list(columns) if columns else None)
    return table.to_pandas()
