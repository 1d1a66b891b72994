"""The :class:`Project`: an open project file, its datasets, runs and tags on examples.

The module runs past 600 lines because the connection's life is in one place: opening
the file (checked, set up, migrated, lent from thread to thread), its write transaction
and change stamps, and the reads of the whole project its datasets share (the runs, the
ids a replace drops, the shared index of a run's ids).
"""

from __future__ import annotations

import functools
import io
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from ..errors import ProjectFileError, StoreError
from .common import RunInfo, _blob_to_frame, read_media_root
from .dataset import DatasetStore
from .examples import EXAMPLES_SCHEMA
from .files import (
    _create_project_file,
    _file_of,
    _guarded,
    _opened,
    _remove_abandoned_drafts,
    _size,
    _sqlite_code,
    _translate,
    _uri,
    _wal_out_of_reach,
    check_project_file,
)
from .log import TagLog
from .schema import (
    CENSUS_SCHEMA,
    READABLE_FROM,
    SCHEMA_VERSION,
    SQL_ROWS_SCHEMA,
    _apply_migration,
)
from .staging import ReviewStaging
from .tags import Taxonomy
from .team import Team

if TYPE_CHECKING:
    pass


# The ids and correctness of each run, shared by every Project of the process: a run is
# immutable once imported, and rebuilding a 1M-id hash table on each tag write would cost
# half a second. Keyed on (file, run id, import stamp), so a re-import is never served stale.
_RUN_INDEX: dict[tuple[str, int, str], tuple[pd.Index, np.ndarray]] = {}
_RUN_INDEX_LOCK = threading.Lock()


# The kinds of the project's content and the tables of each, whose changes
# :meth:`Project.changes` follows one by one (the log, ``actions`` and ``tag_events``,
# follows every change: the revision).
CHANGE_TABLES: dict[str, tuple[str, ...]] = {
    "runs": (
        "datasets",
        "runs",
        "run_classes",
        "run_examples",
        "run_tags",
        "embeddings",
        "census_counts",
    ),
    "taxonomy": ("tags", "tag_scopes"),
    "tag_assignments": ("tag_assignments",),
    "reviews": ("reviews",),
    "samples": ("samples",),
    "review_plans": ("review_plans",),
    "adjudications": ("adjudications",),
    "roles": ("roles",),
}
_REVISION = "revision"
# The revision at which the stamps were last set: when it is not the revision, a change
# was made without them (an older version wrote the file).
_TRACKED = "revision:tracked"
_READ_STAMPS = "SELECT key, value FROM meta WHERE key = 'revision' OR key GLOB 'revision:*'"


def _stamp_key(kind: str) -> str:
    return f"revision:{kind}"


class Changes(NamedTuple):
    """The project's revision and, per kind of content, the revision of its latest change
    (see :meth:`Project.changes`)."""

    revision: int
    runs: int
    taxonomy: int
    tag_assignments: int
    reviews: int
    samples: int
    review_plans: int
    adjudications: int
    roles: int


class Project(Taxonomy, TagLog, ReviewStaging, Team):
    """An open project file. One instance per thread; see the package docstring.

    ``readonly`` opens the file through SQLite's read-only mode: nothing is migrated or
    written, and write methods raise :class:`StoreError`. ``create=False`` refuses a
    missing file instead of making one. ``timeout`` is how long a write waits for the
    lock before :class:`ProjectBusy` (see also :meth:`busy_timeout`). ``via`` names where
    the changes come from (``"cli"`` for the command line): every action logged through
    this instance says so in its detail (``"via": ...``). ``lendable`` opens it for a pool
    that lends it to one thread at a time (:meth:`lend_to_this_thread`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 30.0,
        migrate: bool = True,
        readonly: bool = False,
        create: bool = True,
        via: str | None = None,
        lendable: bool = False,
    ):
        self.path = Path(path)
        self.readonly = readonly
        self.via = via
        self.timeout = timeout
        self.lendable = lendable
        self._thread = threading.get_ident()
        self._active_tags: int | None = None
        self._touched: set[str] = set()  # what the write in progress changes (see _touch)
        self._has_staging = False
        version = check_project_file(self.path, create=create and not readonly)
        if version is None:
            _create_project_file(self.path, schema=migrate)
            version = check_project_file(self.path, create=False)
        if readonly and version < READABLE_FROM:
            raise ProjectFileError(
                f"{self.path} is a project of an older version (schema version {version}): "
                "open it once for writing (any import, tag or undo command) to upgrade it, "
                "then read it; nothing was changed",
                path=self.path,
            )
        try:
            self._conn = self._connect()
        except sqlite3.Error as err:
            raise (_translate(err, self.path) or err) from err
        try:
            self._setup(migrate=migrate)
        except BaseException:
            self._conn.close()
            raise
        self._file = _file_of(self.path)
        _opened(self._file, +1)
        self._registered = True

    def _connect(self) -> sqlite3.Connection:
        connect = functools.partial(
            sqlite3.connect, uri=True, isolation_level=None, check_same_thread=not self.lendable
        )
        if not self.readonly:
            return connect(_uri(self.path, mode="rw"), timeout=self.timeout)
        conn = connect(_uri(self.path, mode="ro"), timeout=self.timeout)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError as err:
            conn.close()
            if _sqlite_code(err) not in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
                raise
        # Reading a WAL file needs a -shm beside it, which a folder we cannot write in
        # does not let SQLite make. With no -wal either, the file holds everything and
        # nobody can be writing it (a writer needs that folder too): read it as immutable.
        if _size(Path(f"{self.path}-wal")) > 0:
            raise _wal_out_of_reach(self.path)
        return connect(_uri(self.path, mode="ro", immutable="1"))

    @_guarded
    def _setup(self, *, migrate: bool) -> None:
        self._set_busy_timeout(self.timeout)
        if self.readonly:
            self._conn.execute("PRAGMA query_only = ON")
        else:
            self._conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL is durable against process crashes in WAL mode and keeps one
            # committed tag event well under a millisecond; only the last commits before a
            # power loss may go.
            self._conn.execute("PRAGMA synchronous = NORMAL")
        self._conn.execute("PRAGMA foreign_keys = ON")
        if migrate and not self.readonly:
            self.migrate()
        if not self.readonly:
            _remove_abandoned_drafts(self.path)
            if self._staging_schema():
                self._discard_abandoned_stages()

    # ----------------------------------------------------------------- plumbing
    def close(self) -> None:
        self._conn.close()
        if self._registered:
            self._registered = False
            _opened(self._file, -1)

    def lend_to_this_thread(self) -> bool:
        """Bind a ``lendable`` project to the calling thread, for a pool that lends each
        connection to one thread at a time (the app lends one to each script run). False,
        and nothing bound, when its path no longer names the file it opened (replaced,
        moved or removed): close it, and open the path again to learn what is there."""
        if not self.lendable:
            raise StoreError("this Project was not opened lendable; open another per thread")
        if _file_of(self.path) != self._file:
            return False
        self._thread = threading.get_ident()
        return True

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _set_busy_timeout(self, seconds: float) -> None:
        self._lock_wait = max(0.0, seconds)
        self._conn.execute(f"PRAGMA busy_timeout = {int(self._lock_wait * 1000)}")

    @contextmanager
    def busy_timeout(self, seconds: float) -> Iterator[None]:
        """Inside the block, a write waits at most ``seconds`` for the lock before
        :class:`ProjectBusy` (the app waits briefly, then retries with the reviewer's
        click kept), then the project's own timeout applies again."""
        self._set_busy_timeout(seconds)
        try:
            yield
        finally:
            self._set_busy_timeout(self.timeout)

    def _begin_immediate(self) -> None:
        """Take the write lock, trying every few milliseconds until the busy timeout.

        SQLite's own busy handler sleeps up to 100 ms between tries, so a waiting reviewer
        could miss every short gap a staged import leaves between its transactions and
        wait for the whole import; trying often finds the first gap.
        """
        deadline = time.monotonic() + self._lock_wait
        pause = 0.0005
        self._conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self._conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as err:
                    if _sqlite_code(err) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                        raise
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
                pause = min(pause * 2, 0.004)
        finally:
            self._conn.execute(f"PRAGMA busy_timeout = {int(self._lock_wait * 1000)}")

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _staging_schema(self) -> bool:
        """Whether the file has the pending marks of schema 3 (read until it does: a
        version only ever goes up, so then it is kept)."""
        if not self._has_staging:
            self._has_staging = self.schema_version >= 3
        return self._has_staging

    @_guarded
    def migrate(self, *, to: int = SCHEMA_VERSION) -> None:
        """Bring the file up to schema version ``to``, one migration per transaction.

        A file already at ``to`` is only read: opening a project never waits for the
        write lock of an import in progress.
        """
        while True:
            version = self.schema_version
            if version > SCHEMA_VERSION:
                raise ProjectFileError(
                    f"{self.path} has schema version {version}; this version of "
                    f"erroranalysis knows up to {SCHEMA_VERSION}: upgrade it",
                    path=self.path,
                )
            if version >= to:
                return
            with self.write() as conn:
                if self.schema_version == version:  # not migrated meanwhile by another
                    _apply_migration(conn, version + 1)
                    conn.execute(f"PRAGMA user_version = {version + 1}")

    def _require_writable(self) -> None:
        if self.readonly:
            raise StoreError(
                f"{self.path} is open read-only; nothing was changed (open it without "
                "readonly to change it)"
            )

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (``BEGIN IMMEDIATE``).

        Every read-then-write goes through here: a deferred transaction that reads and then
        writes fails with SQLITE_BUSY under contention, whatever the busy timeout. When the
        lock is not free within the busy timeout, raises :class:`ProjectBusy`; any other
        SQLite failure inside the block rolls back and raises :class:`ProjectFileError`.
        """
        if threading.get_ident() != self._thread:
            raise StoreError("a Project is bound to the thread that opened it; open another")
        self._require_writable()
        try:
            self._begin_immediate()
        except sqlite3.Error as err:
            raise (_translate(err, self.path) or err) from err
        self._active_tags = None  # counted at most once per transaction
        self._touched.clear()
        try:
            yield self._conn
            self._conn.execute("COMMIT")
        except BaseException as failure:
            if self._conn.in_transaction:
                # If the connection is gone, SQLite rolls back when the file is next opened.
                with suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
            if isinstance(failure, sqlite3.Error):
                problem = _translate(failure, self.path)
                if problem is not None:
                    raise problem from failure
            raise

    def _touch(self, *kinds: str) -> None:
        """Note that this transaction changes ``kinds`` (of :data:`CHANGE_TABLES`): they
        move with its :meth:`_bump`."""
        self._touched.update(kinds)

    def _bump(self, *kinds: str) -> None:
        """One more revision, and the change stamp of each kind this transaction changed
        (``kinds`` and those :meth:`_touch` noted) set to it, in the write's transaction."""
        kinds = (*kinds, *self._touched)
        unknown = sorted(set(kinds) - set(CHANGE_TABLES))
        if unknown:
            raise ValueError(f"no such kind of change: {unknown[0]!r}")
        revision, stamps = self._stamps()
        if stamps is None:  # any kind may have changed unstamped: every kind moves now
            kinds = tuple(CHANGE_TABLES)
        self._conn.executemany(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, str(revision + 1)) for key in (_REVISION, _TRACKED, *map(_stamp_key, kinds))],
        )
        self._touched.clear()

    @_guarded
    def revision(self) -> int:
        """A counter that grows with every change to the project (cache key for readers)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    @_guarded
    def changes(self) -> Changes:
        """The revision and, per kind of the project's content (:data:`CHANGE_TABLES`),
        the revision of its latest change: a cache of what reads only the reviews, keyed
        on ``changes().reviews``, stays valid while tags toggle. One query."""
        revision, stamps = self._stamps()
        if stamps is None:  # any kind may have changed at the latest revision
            return Changes(revision, *(revision for _ in CHANGE_TABLES))
        return Changes(revision, *(stamps.get(_stamp_key(k), 0) for k in CHANGE_TABLES))

    def _stamps(self) -> tuple[int, dict[str, int] | None]:
        """The revision and the change stamps by key; None for the stamps when the latest
        change was made without them (by an older version, or before stamps began)."""
        stamps = {k: int(v) for k, v in self._conn.execute(_READ_STAMPS)}
        revision = stamps[_REVISION]
        return revision, stamps if stamps.get(_TRACKED) == revision else None

    @_guarded
    def snapshot(self, dest: str | Path) -> None:
        """Write a consistent copy of the whole project to the new file ``dest``, through
        SQLite's backup API: every committed change is in it (those still in the WAL too),
        none half-made, and the copy needs no ``-wal`` file beside it."""
        dest = Path(dest)
        if dest.exists() or dest.is_symlink():
            raise StoreError(f"{dest} exists already; a snapshot is written to a new file")
        target = sqlite3.connect(dest)
        try:
            self._conn.backup(target)
            # A copy made from a WAL file is in WAL mode too; DELETE folds everything into
            # the one file (the next writer switches it back).
            target.execute("PRAGMA journal_mode = DELETE")
        finally:
            target.close()

    def _query(self, sql: str, params: Sequence | dict = ()) -> pd.DataFrame:
        cursor = self._conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

    def _query_from(
        self, schema: int, columns: Sequence[str], sql: str, params: Sequence | dict = ()
    ) -> pd.DataFrame:
        """The ``columns`` of :meth:`_query` on a file of schema ``schema`` or later; an
        older file, which has none of what ``sql`` reads, gives none of its rows."""
        if self.schema_version < schema:
            return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
        return self._query(sql, params)[list(columns)]

    def _present(self, alias: str) -> str:
        """An SQL condition: the tag assignment ``alias`` counts (it was not staged by an
        import that is still pending)."""
        if not self._staging_schema():
            return "1"
        return (
            f"({alias}.pending IS NULL"
            f" OR {alias}.pending NOT IN (SELECT action_id FROM pending_actions))"
        )

    def _take_over(self) -> str:
        """The conflict clause of an insert into ``tag_assignments``: a row staged by an
        import still pending gives way to the new one (which counts at once)."""
        if not self._staging_schema():
            return " ON CONFLICT DO NOTHING"
        return (
            " ON CONFLICT (dataset_id, example_id, tag_id) DO UPDATE SET actor = excluded.actor,"
            " at = excluded.at, pending = NULL"
            " WHERE tag_assignments.pending IN (SELECT action_id FROM pending_actions)"
        )

    def _not_pending(self, column: str) -> str:
        """An SQL condition: the action in ``column`` is not a review import being staged."""
        if not self._staging_schema():
            return "1"
        return f"{column} NOT IN (SELECT action_id FROM pending_actions)"

    # ----------------------------------------------------------------- datasets
    @_guarded
    def dataset_names(self) -> list[str]:
        return [r[0] for r in self._conn.execute("SELECT name FROM datasets ORDER BY id")]

    @_guarded
    def dataset(self, name: str, *, create: bool = False) -> DatasetStore:
        """The dataset named ``name``, bound once (see :class:`DatasetStore`); an unknown
        name raises :class:`StoreError` naming the datasets there are, unless ``create``
        (for an import, which makes the dataset)."""
        return DatasetStore(self, name, create=create)

    def _dataset_id(self, name: str) -> int:
        row = self._conn.execute("SELECT id FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.dataset_names()) or "none yet"
            raise StoreError(f"no dataset named {name!r} in {self.path.name} (datasets: {known})")
        return row[0]

    @_guarded
    def runs(self) -> list[RunInfo]:
        """Every run of every dataset, oldest import first."""
        return self._runs(None)

    def _runs(self, dataset_id: int | None) -> list[RunInfo]:
        # Schema 4 marks production datasets; older files have none.
        production = "datasets.production" if self.schema_version >= 4 else "0"
        # Schema 7 marks runs counted elsewhere (erroranalysis.census).
        counted_by = "runs.counted_by" if self.schema_version >= CENSUS_SCHEMA else "NULL"
        # Schema 8 says whether a run's SQL rows were written; before, schema 5 on wrote them
        # at every import (and the migration to 5 for the runs before it).
        in_sql = (
            "runs.sql_rows"
            if self.schema_version >= SQL_ROWS_SCHEMA
            else str(int(self.schema_version >= EXAMPLES_SCHEMA))
        )
        sql = (
            "SELECT runs.id, dataset_id, datasets.name, runs.name, source, format, media_root,"
            " n_examples, n_errors, metadata_columns, dataset_tags, imported_at, imported_by,"
            f" {production}, {counted_by}, {in_sql} FROM runs"
            " JOIN datasets ON datasets.id = runs.dataset_id"
        )
        params: tuple = ()
        if dataset_id is not None:
            sql += " WHERE runs.dataset_id = ?"
            params = (dataset_id,)
        rows = self._conn.execute(sql + " ORDER BY runs.id", params).fetchall()
        return [
            RunInfo(
                id=r[0],
                dataset_id=r[1],
                dataset=r[2],
                name=r[3],
                source=r[4],
                format=r[5],
                media_root=read_media_root(self.path, r[6]),
                n_examples=r[7],
                n_errors=r[8],
                metadata_columns=tuple(json.loads(r[9])),
                dataset_tags=tuple(json.loads(r[10])),
                imported_at=r[11],
                imported_by=r[12],
                production=bool(r[13]),
                counted_by=r[14],
                in_sql=bool(r[15]),
            )
            for r in rows
        ]

    def _gone_ids(self, runs: list[RunInfo], replaced: str, new_ids: pd.Index) -> pd.Index:
        """Ids of the dataset that no run has once ``replaced`` holds ``new_ids``: only
        those lose their tags and reviews (tags and reviews exist only on ids of a run)."""
        old = next((info for info in runs if info.name == replaced), None)
        if old is not None and self._holds_ids(old, new_ids):
            # The run predicted again on the same examples, in the same order (the usual
            # replace): no id goes, whatever the other runs hold. One pass over the ids,
            # where the sets below hash every id of every run (13 s at 10M).
            return pd.Index([], dtype=object)
        before = [self.run_index(info)[0] for info in runs]
        after = [self.run_index(info)[0] for info in runs if info.name != replaced]
        known = before[0].append(before[1:]) if len(before) > 1 else before[0]
        keep = new_ids.append(after) if after else new_ids
        return known.unique().difference(keep.unique())

    def _holds_ids(self, info: RunInfo, ids: pd.Index) -> bool:
        """Whether run ``info`` holds exactly ``ids``, in that order (its id column read as
        Arrow text from its blob, compared in one pass)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        (blob,) = self._conn.execute("SELECT frame FROM runs WHERE id = ?", (info.id,)).fetchone()
        stored = pq.read_table(io.BytesIO(blob), columns=["id"]).column("id")
        if len(stored) != len(ids):
            return False
        values = ids.array
        given = (
            values.__arrow_array__()  # Arrow text already: no copy
            if hasattr(values, "__arrow_array__")
            else pa.array(np.asarray(values, dtype=object), pa.large_string())
        )
        if isinstance(given, pa.ChunkedArray):
            given = given.combine_chunks()
        return stored.cast(pa.large_string()).combine_chunks().equals(given.cast(pa.large_string()))

    def _forget_gone_ids(
        self, conn: sqlite3.Connection, dataset_id: int, action_id: int, actor: str, stamp: str
    ) -> None:
        # The ids in temp.gone_ids are in no run of the dataset any more: their tags are
        # removed through the log and their reviews retracted by this import.
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, dataset_id, example_id, tag_id, 'remove', ?, ? FROM tag_assignments a"
            " WHERE dataset_id = ? AND example_id IN (SELECT id FROM temp.gone_ids)"
            f" AND {self._present('a')} ORDER BY example_id, tag_id",
            (action_id, actor, stamp, dataset_id),
        )
        if conn.execute(
            "DELETE FROM tag_assignments AS a WHERE dataset_id = ?"
            f" AND example_id IN (SELECT id FROM temp.gone_ids) AND {self._present('a')}",
            (dataset_id,),
        ).rowcount:
            self._touch("tag_assignments")
        if conn.execute(
            "UPDATE reviews SET retracted_by = ? WHERE dataset_id = ? AND retracted_by IS NULL"
            f" AND example_id IN (SELECT id FROM temp.gone_ids) AND {self._not_pending('action_id')}",
            (action_id, dataset_id),
        ).rowcount:
            self._touch("reviews")

    @_guarded
    def run_index(self, info: RunInfo) -> tuple[pd.Index, np.ndarray]:
        """The run's example ids (an object Index, position = row of :meth:`examples`) and
        its ``correct`` column (all False for a production run, which has none), cached
        process-wide per import: the one Index of the run that the store, the analyses and
        the app look ids up in, so its hash table (seconds at 10M examples) is built once."""
        key = (str(self.path.resolve()), info.id, info.imported_at)
        with _RUN_INDEX_LOCK:
            cached = _RUN_INDEX.get(key)
        if cached is None:
            blob = self._conn.execute("SELECT frame FROM runs WHERE id = ?", (info.id,)).fetchone()
            # A production run has no labels: none of its predictions is known correct.
            frame = _blob_to_frame(blob[0], ["id"] if info.production else ["id", "correct"])
            correct = (
                np.zeros(len(frame), dtype=bool)
                if info.production
                else frame["correct"].to_numpy(dtype=bool)
            )
            # Object, not Arrow strings: large id arrays are looked up in it, which an
            # Arrow-string Index does value by value.
            cached = (pd.Index(frame["id"].astype(str), dtype=object), correct)
            with _RUN_INDEX_LOCK:
                for old in [k for k in _RUN_INDEX if k[:2] == key[:2]]:
                    del _RUN_INDEX[old]
                _RUN_INDEX[key] = cached
        return cached


def open_project(
    path: str | Path,
    *,
    readonly: bool = False,
    create: bool = True,
    timeout: float = 30.0,
    migrate: bool = True,
    via: str | None = None,
    lendable: bool = False,
) -> Project:
    """Open the project file at ``path``, checked first by :func:`check_project_file`.

    By default a missing file is created and an older one migrated; ``create=False``
    refuses a missing file, and ``readonly=True`` reads without writing anything. ``via``
    is logged with every action, and ``lendable`` lets a pool lend it from thread to
    thread (see :class:`Project`).
    """
    return Project(
        path,
        readonly=readonly,
        create=create,
        timeout=timeout,
        migrate=migrate,
        via=via,
        lendable=lendable,
    )
