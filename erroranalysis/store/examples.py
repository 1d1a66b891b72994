"""The examples of every run as SQL rows, so the project file answers queries by itself.

A run's frame lives in its Parquet blob, which the engine reads; from schema 5 the file
also holds, per run, one row per example in ``run_examples`` (id, the codes of its label
and prediction among the run's classes in ``run_classes``, correct, confidence) and one
row per dataset tag an example came with in ``run_tags``.
With the views of schema 5 (see :mod:`.schema`), ``sqlite3``, Datasette or sqlite-utils
join examples, tags and reviews by name. Both tables are written in the transaction that
imports the run (:func:`run_rows` sorts them before it; their values are made a chunk at
a time as they are written).
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..vocabulary import TAG_PREFIX

# The first schema with run_examples, run_tags and the views (see schema.py).
EXAMPLES_SCHEMA = 5
# The columns of a run's frame that run_examples repeats (label and prediction as codes
# of the run's classes); a production run has no label or correct (NULL), a run without
# confidences none (NULL).
EXAMPLE_COLUMNS = ("id", "label", "prediction", "correct", "confidence")
CLASS_COLUMNS = ("label", "prediction")


# Rows bound per INSERT statement (fewer where SQLite allows fewer parameters). One
# statement for many rows skips executemany's work on every row (a tuple, a step, a
# reset), which was most of the insert's time: a million five-column rows went in 2-3.5
# times faster here.
ROWS_PER_INSERT = 500
# Statements whose values are made as Python objects at a time. A run's values as one
# list (five per row, each a Python object) weighed more than its frame; a chunk of them
# at a time is a few megabytes, whatever the run's size.
STATEMENTS_PER_CHUNK = 100


@dataclass(frozen=True)
class RunRows:
    """One run's rows, sorted by id, whose values are made a chunk at a time
    (:meth:`example_values`, :meth:`tag_values`): for ``run_examples`` the columns of
    :data:`EXAMPLE_COLUMNS` (label and prediction as codes), for ``run_classes`` the name
    of each code, for ``run_tags`` the ids that carry each dataset tag."""

    ids: pa.Array | pa.ChunkedArray  # the frame's ids, in its row order
    order: np.ndarray  # the frame's positions in id order
    columns: tuple[np.ndarray | None, ...]  # the other columns, None where NULL
    classes: list[str]
    tagged: dict[str, np.ndarray]  # per dataset tag, the positions that carry it, in id order

    def __len__(self) -> int:
        return len(self.order)

    def example_values(self, lo: int, hi: int) -> list:
        """The values of rows ``lo`` to ``hi`` (in id order) one after another, five per
        row: Python strings, ints, bools and floats (a NaN confidence is stored as NULL)."""
        take = self.order[lo:hi]
        table = np.full((len(take), len(EXAMPLE_COLUMNS)), None, dtype=object)
        table[:, 0] = self.ids.take(take).to_pylist()
        for j, column in enumerate(self.columns, start=1):
            if column is not None:
                table[:, j] = column[take]
        return table.ravel().tolist()

    def tag_values(self, tag: str, lo: int, hi: int) -> list[str]:
        """The ids of rows ``lo`` to ``hi`` of those that carry ``tag``, in id order."""
        return self.ids.take(self.tagged[tag][lo:hi]).to_pylist()


def run_rows(frame: pd.DataFrame, tags: Sequence[str]) -> RunRows:
    """The SQL rows of a run's canonical frame and of its dataset ``tags`` (each a bool
    column ``tag:NAME`` of the frame), sorted by id so that both tables, keyed by id, grow
    at their end; the frame is not changed."""
    ids = pa.array(frame["id"].astype(str))
    order = pc.sort_indices(ids).to_numpy()
    classes, codes = _class_codes(frame)
    columns = []
    for name in EXAMPLE_COLUMNS[1:]:
        if name not in frame.columns:
            columns.append(None)  # NULL: a production run has no label or correct
        elif name in codes:
            columns.append(codes[name])
        else:
            columns.append(frame[name].to_numpy(dtype=bool if name == "correct" else None))
    tagged = {
        tag: order[frame[TAG_PREFIX + tag].to_numpy(dtype=bool)[order]]
        for tag in tags
        if TAG_PREFIX + tag in frame.columns
    }
    return RunRows(ids=ids, order=order, columns=tuple(columns), classes=classes, tagged=tagged)


def _class_codes(frame: pd.DataFrame) -> tuple[list[str], dict[str, np.ndarray]]:
    """The run's classes (the distinct labels and predictions, in order of appearance)
    and, for each of :data:`CLASS_COLUMNS` the frame has, an object array of each row's
    code among them (a Python int; None where the value is missing)."""
    present = [name for name in CLASS_COLUMNS if name in frame.columns]
    arrays = []
    for name in present:
        array = pa.array(frame[name])
        if isinstance(array, pa.ChunkedArray):  # a column read in pieces (a large CSV)
            array = array.combine_chunks()
        arrays.append(array.cast(pa.large_string()))
    if not arrays:
        return [], {}
    encoded = pc.dictionary_encode(pa.concat_arrays(arrays))
    classes = encoded.dictionary.to_pylist()
    # One Python int per class, repeated: a million new ints cost more than the lookup.
    numbers = np.asarray([*range(len(classes)), None], dtype=object)
    all_codes = numbers[pc.fill_null(encoded.indices, len(classes)).to_numpy()]
    n = len(frame)
    return classes, {name: all_codes[i * n : (i + 1) * n] for i, name in enumerate(present)}


def blob_rows(blob: bytes, tags: Sequence[str]) -> RunRows:
    """:func:`run_rows` of a run stored as a Parquet blob, reading only the columns needed."""
    source = io.BytesIO(blob)
    names = pq.read_schema(source).names
    wanted = {*EXAMPLE_COLUMNS, *(TAG_PREFIX + tag for tag in tags)}
    table = pq.read_table(source, columns=[n for n in names if n in wanted])
    return run_rows(table.to_pandas(), tags)


def write_run_rows(
    conn: sqlite3.Connection, run_id: int, rows: RunRows, tag_ids: dict[str, int]
) -> None:
    """Replace run ``run_id``'s rows in ``run_examples`` and ``run_tags`` by ``rows``
    (inside the caller's transaction); ``tag_ids`` maps each dataset tag to its id."""
    clear_run_rows(conn, run_id)
    # Ids of ours (ints) are written into the statements, so only the rows' values are bound.
    run = int(run_id)
    conn.executemany(
        "INSERT INTO run_classes (run_id, code, name) VALUES (?, ?, ?)",
        [(run, code, name) for code, name in enumerate(rows.classes)],
    )
    _insert(
        conn,
        "INSERT INTO run_examples"
        " (run_id, example_id, label_code, prediction_code, correct, confidence)",
        f"({run}, ?, ?, ?, ?, ?)",
        len(rows),
        rows.example_values,
    )
    for tag, positions in rows.tagged.items():
        _insert(
            conn,
            "INSERT INTO run_tags (tag_id, run_id, example_id)",
            f"({int(tag_ids[tag])}, {run}, ?)",
            len(positions),
            functools.partial(rows.tag_values, tag),
        )


def clear_run_rows(conn: sqlite3.Connection, run_id: int) -> None:
    """Delete run ``run_id``'s SQL rows (inside the caller's transaction)."""
    for table in ("run_examples", "run_classes", "run_tags"):
        conn.execute(f"DELETE FROM {table} WHERE run_id = ?", (run_id,))


def _insert(
    conn: sqlite3.Connection, head: str, row: str, n: int, values: Callable[[int, int], list]
) -> None:
    """``head VALUES row, row, ...`` over ``n`` rows, up to :data:`ROWS_PER_INSERT` a
    statement; ``values(lo, hi)`` gives the values of rows ``lo`` to ``hi`` one after
    another (as many per row as ``row`` has parameters), asked for
    :data:`STATEMENTS_PER_CHUNK` statements at a time."""
    width = row.count("?")
    per = min(ROWS_PER_INSERT, conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width)
    whole = n - n % per
    statement = f"{head} VALUES {', '.join([row] * per)}"
    step = per * width
    chunk = per * STATEMENTS_PER_CHUNK
    for start in range(0, whole, chunk):
        batch = values(start, min(start + chunk, whole))
        for lo in range(0, len(batch), step):
            conn.execute(statement, batch[lo : lo + step])
    if whole < n:
        conn.execute(f"{head} VALUES {', '.join([row] * (n - whole))}", values(whole, n))


def fill_run_rows(conn: sqlite3.Connection) -> None:
    """Write both tables for every run the file holds (the migration to schema 5)."""
    for (run_id,) in conn.execute("SELECT id FROM runs ORDER BY id").fetchall():
        write_run_rows(conn, run_id, *stored_run_rows(conn, run_id))


def stored_run_rows(conn: sqlite3.Connection, run_id: int) -> tuple[RunRows, dict[str, int]]:
    """The SQL rows of stored run ``run_id``, read from its Parquet blob, and the ids of
    its dataset tags, for :func:`write_run_rows`.

    A dataset tag is found by the name the run recorded; a tag renamed since has no row
    of that name and its rows are left out, as the tag of that name no longer exists."""
    tag_ids = dict(conn.execute("SELECT name, id FROM tags"))
    # One blob at a time: a file of many big runs never holds them all in memory.
    blob, tags = conn.execute(
        "SELECT frame, dataset_tags FROM runs WHERE id = ?", (run_id,)
    ).fetchone()
    known = [tag for tag in json.loads(tags) if tag in tag_ids]
    return blob_rows(blob, known), {tag: tag_ids[tag] for tag in known}
