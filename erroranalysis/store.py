"""The project store: one SQLite file holds a whole error-analysis project.

What lives in the file
----------------------
``datasets``        a named set of examples (a dev set, a production sample, ...).
``runs``            one model's predictions on a dataset; a dataset may have several runs
                    (model versions) of the same examples. Each run keeps its validated
                    example frame as a Parquet blob: runs are immutable snapshots, and
                    reading 1M rows back from Parquet takes ~0.1 s where rebuilding them
                    from SQL rows takes seconds.
``tags``            the project's tag taxonomy (name, description, HLP, effort, rule),
                    shared by all datasets so the same taxonomy serves every model version.
``actions``         one row per user action (tag toggle, review, import, undo, rename, ...):
                    who, when, what it undoes.
``tag_events``      the append-only log of every tag change (example, tag, add/remove).
``tag_assignments`` the current state, maintained in the same transaction as the log and
                    always equal to a replay of it (:meth:`Project.replay_tags`).
``reviews``         who reviewed which example of which run, when, in which stratum.

Concurrency: WAL, a busy timeout, and ``BEGIN IMMEDIATE`` around every read-then-write, so
several reviewers (threads or processes) never lose each other's changes. A
:class:`Project` holds one connection and must stay on the thread that opened it; open one
per thread, session or process.
"""

from __future__ import annotations

import io
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlite_utils

from .errors import StoreError
from .vocabulary import DEFAULT_RUN, check_name, check_tag_name

if TYPE_CHECKING:
    from .importing import ImportResult

SCHEMA_VERSION = 2

_MIGRATIONS: dict[int, str] = {
    # Version 1: datasets, runs, tags, the action/event log and reviews.
    1: """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('revision', '0');
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            format TEXT NOT NULL,
            media_root TEXT,
            n_examples INTEGER NOT NULL,
            n_errors INTEGER NOT NULL,
            metadata_columns TEXT NOT NULL,
            dataset_tags TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL,
            frame BLOB NOT NULL,
            UNIQUE (dataset_id, name)
        );
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            hlp REAL,
            effort REAL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER REFERENCES datasets(id),
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            undoes INTEGER REFERENCES actions(id),
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX actions_by_actor ON actions (dataset_id, actor, id);
        CREATE TABLE tag_events (
            id INTEGER PRIMARY KEY,
            action_id INTEGER NOT NULL REFERENCES actions(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            example_id TEXT NOT NULL,
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX tag_events_by_action ON tag_events (action_id);
        CREATE TABLE tag_assignments (
            dataset_id INTEGER NOT NULL,
            example_id TEXT NOT NULL,
            tag_id INTEGER NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (dataset_id, example_id, tag_id)
        ) WITHOUT ROWID;
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            action_id INTEGER NOT NULL REFERENCES actions(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            run_id INTEGER REFERENCES runs(id),
            example_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            at TEXT NOT NULL,
            stratum TEXT NOT NULL CHECK (stratum IN ('error', 'correct')),
            retracted_by INTEGER REFERENCES actions(id)
        );
        CREATE INDEX reviews_by_example ON reviews (dataset_id, example_id);
    """,
    # Version 2: rule tags and soft deletion of tags (so the log still replays), and what a
    # reviewer says beyond tags: a note, "the label is wrong" with the corrected label, and
    # which queue the example came from.
    2: """
        ALTER TABLE tags ADD COLUMN rule TEXT;
        ALTER TABLE tags ADD COLUMN deleted_at TEXT;
        ALTER TABLE reviews ADD COLUMN note TEXT NOT NULL DEFAULT '';
        ALTER TABLE reviews ADD COLUMN label_wrong INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reviews ADD COLUMN corrected_label TEXT;
        ALTER TABLE reviews ADD COLUMN queue TEXT NOT NULL DEFAULT '';
    """,
}


# The ids and correctness of each run, shared by every Project of the process: a run is
# immutable once imported, and rebuilding a 1M-id hash table on each tag write would cost
# half a second. Keyed on (file, run id, import stamp), so a re-import is never served stale.
_RUN_INDEX: dict[tuple[str, int, str], tuple[pd.Index, np.ndarray]] = {}
_RUN_INDEX_LOCK = threading.Lock()


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

    @property
    def accuracy(self) -> float:
        return 1 - self.n_errors / self.n_examples if self.n_examples else float("nan")


def now() -> str:
    """Current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def check_actor(actor: str) -> str:
    """The trimmed name of who acts (a reviewer, an importer), or :class:`InvalidName`."""
    return check_name(actor, kind="reviewer")


def _frame_to_blob(frame: pd.DataFrame) -> bytes:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue()


def _blob_to_frame(blob: bytes, columns: Sequence[str] | None = None) -> pd.DataFrame:
    table = pq.read_table(io.BytesIO(blob), columns=list(columns) if columns else None)
    return table.to_pandas()


class Project:
    """An open project file. One instance per thread; see the module docstring."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0, migrate: bool = True):
        self.path = Path(path)
        self._conn = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        self._thread = threading.get_ident()
        self.db = sqlite_utils.Database(self._conn)
        self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
        self._conn.execute("PRAGMA journal_mode = WAL")
        # NORMAL is durable against process crashes in WAL mode and keeps one committed tag
        # event well under a millisecond; only the last commits before a power loss may go.
        self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        if migrate:
            self.migrate()

    # ----------------------------------------------------------------- plumbing
    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def migrate(self, *, to: int = SCHEMA_VERSION) -> None:
        """Bring the file up to schema version ``to``, one migration per transaction."""
        while True:
            with self.write():
                version = self.schema_version
                if version >= to:
                    if version > SCHEMA_VERSION:
                        raise StoreError(
                            f"{self.path} has schema version {version}; this version of "
                            f"erroranalysis knows up to {SCHEMA_VERSION}: upgrade it"
                        )
                    return
                for statement in _split_sql(_MIGRATIONS[version + 1]):
                    self._conn.execute(statement)
                self._conn.execute(f"PRAGMA user_version = {version + 1}")

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``).

        Every read-then-write goes through here: a deferred transaction that reads and then
        writes fails with SQLITE_BUSY under contention, whatever the busy timeout.
        """
        if threading.get_ident() != self._thread:
            raise StoreError("a Project is bound to the thread that opened it; open another")
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
            raise
        else:
            self._conn.execute("COMMIT")

    def _bump(self) -> None:
        self._conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'"
        )

    def revision(self) -> int:
        """A counter that grows with every change to the project (cache key for readers)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def _query(self, sql: str, params: Sequence | dict = ()) -> pd.DataFrame:
        cursor = self._conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

    # ----------------------------------------------------------------- datasets
    def dataset_names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY id")]

    def _dataset_id(self, name: str) -> int:
        row = self._conn.execute("SELECT id FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.dataset_names()) or "none yet"
            raise StoreError(f"no dataset named {name!r} in {self.path.name} (datasets: {known})")
        return row[0]

    def runs(self, dataset: str | None = None) -> list[RunInfo]:
        sql = (
            "SELECT runs.id, dataset_id, datasets.name, runs.name, source, format, media_root,"
            " n_examples, n_errors, metadata_columns, dataset_tags, imported_at, imported_by"
            " FROM runs JOIN datasets ON datasets.id = runs.dataset_id"
        )
        params: tuple = ()
        if dataset is not None:
            self._dataset_id(dataset)
            sql += " WHERE datasets.name = ?"
            params = (dataset,)
        rows = self._conn.execute(sql + " ORDER BY runs.id", params).fetchall()
        return [
            RunInfo(
                id=r[0], dataset_id=r[1], dataset=r[2], name=r[3], source=r[4], format=r[5],
                media_root=Path(r[6]) if r[6] else None, n_examples=r[7], n_errors=r[8],
                metadata_columns=tuple(json.loads(r[9])), dataset_tags=tuple(json.loads(r[10])),
                imported_at=r[11], imported_by=r[12],
            )
            for r in rows
        ]  # fmt: skip

    def run(self, dataset: str, run: str | None = None) -> RunInfo:
        """A run of ``dataset``: the named one, else the latest imported."""
        runs = self.runs(dataset)
        if run is None:
            if not runs:
                raise StoreError(f"dataset {dataset!r} has no imported run")
            return runs[-1]
        for info in runs:
            if info.name == run:
                return info
        names = ", ".join(r.name for r in runs)
        raise StoreError(f"dataset {dataset!r} has no run {run!r} (runs: {names})")

    def import_run(
        self,
        dataset: str,
        frame: pd.DataFrame,
        *,
        run: str = DEFAULT_RUN,
        source: str,
        format: str,
        media_root: str | Path | None,
        metadata_columns: Sequence[str],
        dataset_tags: Sequence[str],
        replace: bool = False,
        actor: str = "import",
    ) -> RunInfo:
        """Store a validated example frame (see :mod:`erroranalysis.importing`) as a run.

        Re-importing an existing run needs ``replace=True``; tags and reviews of ids that
        still exist are kept, those of ids that are gone are retracted through the log.
        """
        actor = check_actor(actor)
        dataset = check_name(dataset, kind="dataset")
        run = check_name(run, kind="run")
        tags = [check_tag_name(t) for t in dataset_tags]
        blob = _frame_to_blob(frame)
        n_errors = int((~frame["correct"].astype(bool)).sum())
        stamp = now()
        with self.write() as conn:
            row = conn.execute("SELECT id FROM datasets WHERE name = ?", (dataset,)).fetchone()
            if row is None:
                dataset_id = conn.execute(
                    "INSERT INTO datasets (name, created_at, created_by) VALUES (?, ?, ?)",
                    (dataset, stamp, actor),
                ).lastrowid
            else:
                dataset_id = row[0]
            old = conn.execute(
                "SELECT id FROM runs WHERE dataset_id = ? AND name = ?", (dataset_id, run)
            ).fetchone()
            if old is not None and not replace:
                raise StoreError(
                    f"dataset {dataset!r} already has run {run!r}; pass --replace to replace it "
                    "(tags and reviews of ids that still exist are kept)"
                )
            action_id = self._action(
                conn, dataset_id, "import", actor, stamp,
                detail={"run": run, "source": source, "examples": len(frame), "replace": old is not None},
            )  # fmt: skip
            values = (
                source, format, str(media_root) if media_root else None, len(frame), n_errors,
                json.dumps(list(metadata_columns)), json.dumps(tags), stamp, actor, blob,
            )  # fmt: skip
            if old is None:
                run_id = conn.execute(
                    "INSERT INTO runs (source, format, media_root, n_examples, n_errors,"
                    " metadata_columns, dataset_tags, imported_at, imported_by, frame,"
                    " dataset_id, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, dataset_id, run),
                ).lastrowid
            else:
                run_id = old[0]
                conn.execute(
                    "UPDATE runs SET source = ?, format = ?, media_root = ?, n_examples = ?,"
                    " n_errors = ?, metadata_columns = ?, dataset_tags = ?, imported_at = ?,"
                    " imported_by = ?, frame = ? WHERE id = ?",
                    (*values, run_id),
                )
                self._forget_missing_ids(conn, dataset_id, action_id, actor, stamp)
            for tag in tags:
                self._tag_id(conn, tag, actor, stamp, create=True)
            self._bump()
        return self.run(dataset, run)

    def import_result(
        self,
        dataset: str,
        result: ImportResult,
        *,
        run: str = DEFAULT_RUN,
        replace: bool = False,
        actor: str = "import",
    ) -> RunInfo:
        """Store what :func:`erroranalysis.importing.read_dataset` validated, as a run."""
        return self.import_run(
            dataset, result.frame, run=run, source=result.source, format=result.format,
            media_root=result.media_root, metadata_columns=result.metadata_columns,
            dataset_tags=result.dataset_tags, replace=replace, actor=actor,
        )  # fmt: skip

    def _forget_missing_ids(
        self, conn: sqlite3.Connection, dataset_id: int, action_id: int, actor: str, stamp: str
    ) -> None:
        # Called after the replaced run was rewritten: an id loses its tags and reviews only
        # when no run of the dataset has it any more.
        tagged = pd.DataFrame(
            conn.execute(
                "SELECT example_id, tag_id FROM tag_assignments WHERE dataset_id = ?",
                (dataset_id,),
            ).fetchall(),
            columns=["example_id", "tag_id"],
        )
        reviewed = pd.DataFrame(
            conn.execute(
                "SELECT id, example_id FROM reviews WHERE dataset_id = ? AND retracted_by IS NULL",
                (dataset_id,),
            ).fetchall(),
            columns=["id", "example_id"],
        )
        if tagged.empty and reviewed.empty:
            return
        keep = pd.concat(
            _blob_to_frame(blob, ["id"])["id"].astype(str)
            for (blob,) in conn.execute(
                "SELECT frame FROM runs WHERE dataset_id = ?", (dataset_id,)
            )
        )
        gone = tagged[~tagged["example_id"].isin(keep)]
        conn.executemany(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " VALUES (?, ?, ?, ?, 'remove', ?, ?)",
            [
                (action_id, dataset_id, e, int(t), actor, stamp)
                for e, t in gone.itertuples(index=False)
            ],
        )
        conn.executemany(
            "DELETE FROM tag_assignments WHERE dataset_id = ? AND example_id = ? AND tag_id = ?",
            [(dataset_id, e, int(t)) for e, t in gone.itertuples(index=False)],
        )
        retract = reviewed.loc[~reviewed["example_id"].isin(keep), "id"]
        conn.executemany(
            "UPDATE reviews SET retracted_by = ? WHERE id = ?",
            [(action_id, int(rid)) for rid in retract],
        )

    def examples(self, dataset: str, run: str | None = None) -> pd.DataFrame:
        """The run's example frame as imported (a fresh copy on every call)."""
        info = self.run(dataset, run)
        blob = self._conn.execute("SELECT frame FROM runs WHERE id = ?", (info.id,)).fetchone()
        return _blob_to_frame(blob[0])

    def run_index(self, info: RunInfo) -> tuple[pd.Index, np.ndarray]:
        """The run's example ids (an Index, position = row of :meth:`examples`) and its
        ``correct`` column, cached process-wide per import."""
        key = (str(self.path.resolve()), info.id, info.imported_at)
        with _RUN_INDEX_LOCK:
            cached = _RUN_INDEX.get(key)
        if cached is None:
            blob = self._conn.execute("SELECT frame FROM runs WHERE id = ?", (info.id,)).fetchone()
            frame = _blob_to_frame(blob[0], ["id", "correct"])
            cached = (pd.Index(frame["id"].astype(str)), frame["correct"].to_numpy(dtype=bool))
            with _RUN_INDEX_LOCK:
                for old in [k for k in _RUN_INDEX if k[:2] == key[:2]]:
                    del _RUN_INDEX[old]
                _RUN_INDEX[key] = cached
        return cached

    def example_ids(self, dataset: str) -> pd.Index:
        """Every example id of the dataset, across its runs."""
        indexes = [self.run_index(info)[0] for info in self.runs(dataset)]
        if len(indexes) == 1:
            return indexes[0]
        return indexes[0].append(indexes[1:]).unique() if indexes else pd.Index([], dtype=str)

    # ----------------------------------------------------------------- tags
    def _tag_id(
        self, conn: sqlite3.Connection, name: str, actor: str, stamp: str, *, create: bool
    ) -> int:
        name = check_tag_name(name)
        row = conn.execute("SELECT id, deleted_at FROM tags WHERE name = ?", (name,)).fetchone()
        if row is not None and row[1] is None:
            return row[0]
        if not create:
            raise StoreError(f"no tag named {name!r}")
        if row is not None:  # a deleted tag of that name comes back
            conn.execute("UPDATE tags SET deleted_at = NULL WHERE id = ?", (row[0],))
            return row[0]
        return conn.execute(
            "INSERT INTO tags (name, created_at, created_by) VALUES (?, ?, ?)",
            (name, stamp, actor),
        ).lastrowid

    def _tag_exists(self, conn: sqlite3.Connection, name: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM tags WHERE name = ? AND deleted_at IS NULL", (check_tag_name(name),)
            ).fetchone()
            is not None
        )

    def tag_definitions(self) -> pd.DataFrame:
        """The project's tags: name, description, hlp, effort, rule, created_at, created_by."""
        return self._query(
            "SELECT name AS tag, description, hlp, effort, rule, created_at, created_by"
            " FROM tags WHERE deleted_at IS NULL ORDER BY name"
        )

    def define_tag(
        self,
        name: str,
        *,
        actor: str,
        description: str | None = None,
        hlp: float | None = None,
        effort: float | None = None,
        rule: str | None = None,
        clear: Iterable[str] = (),
    ) -> None:
        """Create a tag or update its definition. Fields left None keep their value;
        fields named in ``clear`` are set to NULL (e.g. ``clear=["hlp"]`` to measure HLP)."""
        actor = check_actor(actor)
        if hlp is not None and not 0 <= hlp <= 1:
            raise StoreError(f"HLP of {name!r} must be in [0, 1], got {hlp}")
        if effort is not None and not effort > 0:
            raise StoreError(f"effort of {name!r} must be positive, got {effort}")
        stamp = now()
        fields = {"description": description, "hlp": hlp, "effort": effort, "rule": rule}
        changes = {k: v for k, v in fields.items() if v is not None}
        for key in clear:
            if key not in ("hlp", "effort", "rule"):
                raise StoreError(f"cannot clear {key!r}")
            changes[key] = None
        with self.write() as conn:
            tag_id = self._tag_id(conn, name, actor, stamp, create=True)
            if changes:
                assignments = ", ".join(f"{k} = ?" for k in changes)
                conn.execute(
                    f"UPDATE tags SET {assignments} WHERE id = ?", (*changes.values(), tag_id)
                )
            self._action(conn, None, "define_tag", actor, stamp, detail={"tag": name, **changes})
            self._bump()

    def define_tags(self, definitions: pd.DataFrame, *, actor: str) -> None:
        """Apply a table of definitions (tag, hlp, effort, description, as read by
        :func:`erroranalysis.tables.read_tag_definitions`): an empty HLP or effort clears it."""
        for row in definitions.itertuples(index=False):
            clear = [k for k in ("hlp", "effort") if pd.isna(getattr(row, k))]
            self.define_tag(
                row.tag, actor=actor, description=row.description or None,
                hlp=None if "hlp" in clear else float(row.hlp),
                effort=None if "effort" in clear else float(row.effort), clear=clear,
            )  # fmt: skip

    def rename_tag(self, old: str, new: str, *, actor: str) -> None:
        """Rename a tag everywhere (assignments follow: they point at the tag's id)."""
        actor = check_actor(actor)
        new = check_tag_name(new)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, old, actor, stamp, create=False)
            clash = conn.execute("SELECT id FROM tags WHERE name = ?", (new,)).fetchone()
            if clash is not None:
                raise StoreError(f"a tag named {new!r} exists already; merge instead")
            conn.execute("UPDATE tags SET name = ? WHERE id = ?", (new, tag_id))
            self._action(conn, None, "rename_tag", actor, stamp, detail={"from": old, "to": new})
            self._bump()

    def merge_tags(self, source: str, target: str, *, actor: str) -> int:
        """Move every assignment of ``source`` onto ``target`` and delete ``source``.

        Returns the number of examples that changed. Logged as remove/add events.
        """
        actor = check_actor(actor)
        stamp = now()
        with self.write() as conn:
            src = self._tag_id(conn, source, actor, stamp, create=False)
            dst = self._tag_id(conn, target, actor, stamp, create=False)
            if src == dst:
                raise StoreError("cannot merge a tag into itself")
            action = self._action(
                conn, None, "merge_tags", actor, stamp, detail={"from": source, "to": target}
            )
            rows = conn.execute(
                "SELECT dataset_id, example_id FROM tag_assignments WHERE tag_id = ?", (src,)
            ).fetchall()
            for dataset_id, example_id in rows:
                self._apply(conn, action, dataset_id, example_id, src, "remove", actor, stamp)
                self._apply(conn, action, dataset_id, example_id, dst, "add", actor, stamp)
            conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, src))
            self._bump()
        return len(rows)

    def delete_tag(self, name: str, *, actor: str) -> int:
        """Remove a tag from every example (logged) and from the taxonomy."""
        actor = check_actor(actor)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, name, actor, stamp, create=False)
            action = self._action(conn, None, "delete_tag", actor, stamp, detail={"tag": name})
            rows = conn.execute(
                "SELECT dataset_id, example_id FROM tag_assignments WHERE tag_id = ?", (tag_id,)
            ).fetchall()
            for dataset_id, example_id in rows:
                self._apply(conn, action, dataset_id, example_id, tag_id, "remove", actor, stamp)
            conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, tag_id))
            self._bump()
        return len(rows)

    # ----------------------------------------------------------------- events
    def _action(
        self, conn: sqlite3.Connection, dataset_id: int | None, kind: str, actor: str,
        stamp: str, *, undoes: int | None = None, detail: dict | None = None,
    ) -> int:  # fmt: skip
        return conn.execute(
            "INSERT INTO actions (dataset_id, kind, actor, at, undoes, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (dataset_id, kind, actor, stamp, undoes, json.dumps(detail or {})),
        ).lastrowid

    def _apply(
        self, conn: sqlite3.Connection, action_id: int, dataset_id: int, example_id: str,
        tag_id: int, op: str, actor: str, stamp: str,
    ) -> bool:  # fmt: skip
        """Append one event and update the current state; False if it changed nothing."""
        if op == "add":
            changed = conn.execute(
                "INSERT OR IGNORE INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
                " VALUES (?, ?, ?, ?, ?)",
                (dataset_id, example_id, tag_id, actor, stamp),
            ).rowcount
        else:
            changed = conn.execute(
                "DELETE FROM tag_assignments WHERE dataset_id = ? AND example_id = ? AND tag_id = ?",
                (dataset_id, example_id, tag_id),
            ).rowcount
        if changed:
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (action_id, dataset_id, example_id, tag_id, op, actor, stamp),
            )
        return bool(changed)

    def _check_example(self, dataset: str, example_id: str) -> None:
        if example_id not in self.example_ids(dataset):
            raise StoreError(f"dataset {dataset!r} has no example with id {example_id!r}")

    def set_tag(
        self, dataset: str, example_id: str, tag: str, present: bool = True, *, actor: str
    ) -> int | None:
        """Add (``present=True``) or remove a tag on one example, creating the tag if new.

        Returns the id of the logged action, or None when the example already was in that
        state (nothing is logged then).
        """
        actor = check_actor(actor)
        self._check_example(dataset, example_id)
        stamp = now()
        op = "add" if present else "remove"
        with self.write() as conn:
            dataset_id = self._dataset_id(dataset)
            if not present and not self._tag_exists(conn, tag):
                return None
            tag_id = self._tag_id(conn, tag, actor, stamp, create=present)
            action = self._action(
                conn, dataset_id, "tag", actor, stamp,
                detail={"example": example_id, "tag": tag, "op": op},
            )  # fmt: skip
            if not self._apply(conn, action, dataset_id, example_id, tag_id, op, actor, stamp):
                conn.execute("DELETE FROM actions WHERE id = ?", (action,))
                return None
            self._bump()
        return action

    def example_tags(self, dataset: str, example_id: str) -> list[str]:
        """Reviewed tags currently on one example, by name."""
        dataset_id = self._dataset_id(dataset)
        rows = self._conn.execute(
            "SELECT tags.name FROM tag_assignments JOIN tags ON tags.id = tag_id"
            " WHERE dataset_id = ? AND example_id = ? ORDER BY tags.name",
            (dataset_id, example_id),
        )
        return [r[0] for r in rows]

    def tag_assignments(self, dataset: str) -> pd.DataFrame:
        """Current reviewed tags of a dataset: one row per (example_id, tag)."""
        return self._query(
            "SELECT example_id, tags.name AS tag, actor, at FROM tag_assignments"
            " JOIN tags ON tags.id = tag_id WHERE dataset_id = ? ORDER BY example_id, tags.name",
            (self._dataset_id(dataset),),
        )

    def tag_events(self, dataset: str | None = None) -> pd.DataFrame:
        """The event log, oldest first: id, action_id, example_id, tag, op, actor, at."""
        sql = (
            "SELECT tag_events.id, action_id, datasets.name AS dataset, example_id,"
            " tags.name AS tag, op, actor, at FROM tag_events"
            " JOIN tags ON tags.id = tag_id JOIN datasets ON datasets.id = dataset_id"
        )
        params: tuple = ()
        if dataset is not None:
            sql += " WHERE dataset_id = ?"
            params = (self._dataset_id(dataset),)
        return self._query(sql + " ORDER BY tag_events.id", params)

    def replay_tags(self, dataset: str) -> pd.DataFrame:
        """Rebuild the current (example_id, tag) pairs from the event log alone."""
        events = self._conn.execute(
            "SELECT example_id, tags.name, op FROM tag_events JOIN tags ON tags.id = tag_id"
            " WHERE dataset_id = ? ORDER BY tag_events.id",
            (self._dataset_id(dataset),),
        )
        state: set[tuple[str, str]] = set()
        for example_id, tag, op in events:
            if op == "add":
                state.add((example_id, tag))
            else:
                state.discard((example_id, tag))
        return pd.DataFrame(sorted(state), columns=["example_id", "tag"])

    def actions(self, dataset: str | None = None, *, limit: int = 100) -> pd.DataFrame:
        """The newest actions (who did what, when), newest first."""
        sql = (
            "SELECT actions.id, datasets.name AS dataset, kind, actor, at, undoes, detail"
            " FROM actions LEFT JOIN datasets ON datasets.id = dataset_id"
        )
        params: tuple = ()
        if dataset is not None:
            sql += " WHERE dataset_id = ? OR dataset_id IS NULL"
            params = (self._dataset_id(dataset),)
        return self._query(sql + " ORDER BY actions.id DESC LIMIT ?", (*params, int(limit)))

    def undo(self, dataset: str, *, actor: str) -> dict | None:
        """Undo ``actor``'s last action on ``dataset`` that is not undone yet.

        The undo is itself an action that appends the inverse events, so the log stays
        append-only. Returns a description of what was undone, or None if nothing was left.
        """
        actor = check_actor(actor)
        stamp = now()
        undoable = ("tag", "review", "reviews_import")
        with self.write() as conn:
            dataset_id = self._dataset_id(dataset)
            row = conn.execute(
                f"SELECT id, kind, detail FROM actions a WHERE dataset_id = ? AND actor = ?"
                f" AND kind IN ({','.join('?' * len(undoable))})"
                " AND NOT EXISTS (SELECT 1 FROM actions u WHERE u.undoes = a.id)"
                " ORDER BY id DESC LIMIT 1",
                (dataset_id, actor, *undoable),
            ).fetchone()
            if row is None:
                return None
            target, kind, detail = row
            undo = self._action(conn, dataset_id, "undo", actor, stamp, undoes=target)
            events = conn.execute(
                "SELECT example_id, tag_id, op FROM tag_events WHERE action_id = ? ORDER BY id DESC",
                (target,),
            ).fetchall()
            for example_id, tag_id, op in events:
                inverse = "remove" if op == "add" else "add"
                self._apply(conn, undo, dataset_id, example_id, tag_id, inverse, actor, stamp)
            conn.execute(
                "UPDATE reviews SET retracted_by = ? WHERE action_id = ? AND retracted_by IS NULL",
                (undo, target),
            )
            self._bump()
        return {"action": target, "kind": kind, "detail": json.loads(detail)}

    # ----------------------------------------------------------------- reviews
    def record_review(
        self,
        dataset: str,
        example_id: str,
        *,
        reviewer: str,
        run: str | None = None,
        tags: Iterable[str] | None = None,
        note: str = "",
        label_wrong: bool = False,
        corrected_label: str | None = None,
        queue: str = "",
    ) -> int:
        """Mark one example reviewed by ``reviewer``; with ``tags``, its reviewed tags are
        set to exactly those (added and removed through the log) in the same action."""
        reviews = pd.DataFrame(
            {"id": [example_id], "reviewer": [reviewer], "note": [note],
             "label_wrong": [label_wrong], "corrected_label": [corrected_label]}
        )  # fmt: skip
        return self.record_reviews(
            dataset, reviews, tags=None if tags is None else [list(tags)], run=run,
            exact=True, queue=queue, kind="review", actor=reviewer,
        )  # fmt: skip

    def record_reviews(
        self,
        dataset: str,
        reviews: pd.DataFrame,
        *,
        tags: Sequence[Sequence[str]] | None,
        run: str | None = None,
        exact: bool = False,
        queue: str = "import",
        kind: str = "reviews_import",
        actor: str | None = None,
    ) -> int:
        """Record many reviews in one action (one transaction).

        ``reviews`` has columns ``id`` and ``reviewer`` (optionally ``note``, ``label_wrong``,
        ``corrected_label``); ``tags[i]`` are the tags seen on row i. With ``exact`` the
        example's other reviewed tags are removed; otherwise tags are only added.
        """
        info = self.run(dataset, run)
        ids = reviews["id"].astype(str)
        run_ids, run_correct = self.run_index(info)
        positions = run_ids.get_indexer(ids)
        missing = ids[positions < 0]
        if len(missing):
            raise StoreError(
                f"run {info.name!r} of dataset {dataset!r} has no example with id "
                f"{missing.iloc[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        reviewers = [check_actor(r) for r in reviews["reviewer"].astype(str)]
        actor = check_actor(actor) if actor else reviewers[0] if reviewers else "import"
        tag_lists = [[check_tag_name(t) for t in row] for row in tags] if tags is not None else None
        strata = np.where(run_correct[positions], "correct", "error")
        stamp = now()
        with self.write() as conn:
            dataset_id = self._dataset_id(dataset)
            action = self._action(
                conn, dataset_id, kind, actor, stamp,
                detail={"run": info.name, "reviews": len(reviews)},
            )  # fmt: skip
            rows = []
            for i, (example_id, reviewer) in enumerate(zip(ids, reviewers, strict=True)):
                stratum = str(strata[i])
                rows.append((
                    action, dataset_id, info.id, example_id, reviewer, stamp, stratum,
                    str(_get(reviews, "note", i, "") or ""),
                    int(bool(_get(reviews, "label_wrong", i, False))),
                    _get(reviews, "corrected_label", i, None), queue,
                ))  # fmt: skip
            conn.executemany(
                "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at,"
                " stratum, note, label_wrong, corrected_label, queue)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            if tag_lists is not None:
                tag_ids = {
                    name: self._tag_id(conn, name, actor, stamp, create=True)
                    for name in {t for row in tag_lists for t in row}
                }
                for example_id, reviewer, names in zip(ids, reviewers, tag_lists, strict=True):
                    wanted = {tag_ids[n] for n in names}
                    if exact:
                        current = {
                            r[0]
                            for r in conn.execute(
                                "SELECT tag_id FROM tag_assignments"
                                " WHERE dataset_id = ? AND example_id = ?",
                                (dataset_id, example_id),
                            )
                        }
                        for tag_id in sorted(current - wanted):
                            self._apply(
                                conn, action, dataset_id, example_id, tag_id, "remove", reviewer, stamp
                            )  # fmt: skip
                    for tag_id in sorted(wanted):
                        self._apply(
                            conn, action, dataset_id, example_id, tag_id, "add", reviewer, stamp
                        )
            self._bump()
        return action

    def reviews(self, dataset: str, *, include_retracted: bool = False) -> pd.DataFrame:
        """Reviews of a dataset: example_id, reviewer, at, run, stratum, note, label_wrong,
        corrected_label, queue (one row per review; an example may have several)."""
        sql = (
            "SELECT example_id, reviewer, at, runs.name AS run, stratum, note,"
            " label_wrong, corrected_label, queue, retracted_by FROM reviews"
            " LEFT JOIN runs ON runs.id = run_id WHERE reviews.dataset_id = ?"
        )
        if not include_retracted:
            sql += " AND retracted_by IS NULL"
        frame = self._query(sql + " ORDER BY reviews.id", (self._dataset_id(dataset),))
        frame["label_wrong"] = frame["label_wrong"].astype(bool)
        return frame


def _get(frame: pd.DataFrame, column: str, i: int, default: object) -> object:
    if column not in frame.columns:
        return default
    value = frame[column].iloc[i]
    return default if value is None or (isinstance(value, float) and value != value) else value


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def open_project(path: str | Path, **options: object) -> Project:
    """Open (creating and migrating if needed) the project file at ``path``."""
    return Project(path, **options)  # type: ignore[arg-type]
