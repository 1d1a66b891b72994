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
``pending_actions`` big review imports being staged (see below); empty at rest.
                    A tag assignment whose ``pending`` action is listed here does not count
                    yet.

Recognising a project file
--------------------------
Every project file carries :data:`APPLICATION_ID` in its SQLite header (``PRAGMA
application_id``) and its schema version (``PRAGMA user_version``). Before SQLite is
allowed to touch a file, :func:`check_project_file` reads its first 100 bytes and refuses
anything that is not one of ours — a folder, a text file, another application's database,
a truncated copy, a file from a newer version — with :class:`ProjectFileError`, leaving it
byte-for-byte as it was and making no ``-wal``/``-shm``/``-journal`` file. Files of
schema 1–2 predate the mark and are recognised by their tables; opening one for writing
stamps it. A new file is built under a temporary name and linked into place complete, so
no process ever sees a half-made project.

Concurrency
-----------
WAL, a busy timeout, and ``BEGIN IMMEDIATE`` around every read-then-write, so several
reviewers (threads or processes) never lose each other's changes; every public write is
one transaction (a big review import several, which readers see as one). When the lock stays taken past the busy timeout, :class:`ProjectBusy`
says so and nothing was changed. Long imports prepare everything outside the lock —
validation, id lookups, Parquet encoding, rows — and hold it only briefly: a review import
of many rows writes its reviews, tag events and tag assignments in short transactions under
an action listed in ``pending_actions``, which no reader counts; one short transaction then
re-decides the few tags other reviewers changed meanwhile and removes the pending mark, so
the import appears all at once or not at all. One such import per dataset runs at a time.
Rows of an import whose process died are removed by the next process that opens the file
for writing.

A :class:`Project` holds one connection and must stay on the thread that opened it; open
one per thread, session or process.
"""

from __future__ import annotations

import functools
import io
import json
import os
import secrets
import socket
import sqlite3
import stat
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import sqlite_utils

from .errors import ProjectBusy, ProjectFileError, StoreError
from .vocabulary import DEFAULT_RUN, MAX_TAGS, check_name, check_tag_name, show

if TYPE_CHECKING:
    from .importing import ImportResult

__all__ = [
    "APPLICATION_ID",
    "SCHEMA_VERSION",
    "Project",
    "ProjectBusy",
    "ProjectFileError",
    "RunInfo",
    "StoreError",
    "check_actor",
    "check_project_file",
    "open_project",
]

# The mark in every project file's SQLite header: the bytes "EAwb" (0x45417762).
APPLICATION_ID = int.from_bytes(b"EAwb", "big")
SCHEMA_VERSION = 3
# The oldest schema this code reads without migrating it: version 3 added only the file
# mark, the staging table and indexes, so a version-2 file reads as it is.
READABLE_FROM = 2
# What a project of schema 1–2 (before the mark) has, whatever else it holds.
_LEGACY_TABLES = frozenset({"meta", "runs", "tags", "actions"})
_LEGACY_VERSIONS = (1, 2)
_SQLITE_MAGIC = b"SQLite format 3\x00"

# Reviews per staging transaction: each holds the write lock for a few tens of
# milliseconds, so a reviewer's click gets in between two of them.
STAGE_ROWS = 10_000
# A stage whose process is gone (or silent this long) is removed by the next writer.
STAGE_ABANDONED_AFTER = timedelta(minutes=10)

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
    # Version 3: the file says it is a project; review imports are staged under a pending
    # action; reviews are found by dataset and by action (undo, staging) through indexes
    # that a bulk insert appends to, where the (dataset, example) index took 2-4 s of
    # random inserts per million reviews; an action's event on one (example, tag) is found
    # without reading its other events. A tag assignment staged by an import carries its
    # action in ``pending`` and counts only once that action has left pending_actions.
    3: f"""
        PRAGMA application_id = {APPLICATION_ID};
        CREATE TABLE pending_actions (
            action_id INTEGER PRIMARY KEY REFERENCES actions(id),
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            touched_at TEXT NOT NULL
        );
        DROP INDEX reviews_by_example;
        CREATE INDEX reviews_by_dataset ON reviews (dataset_id);
        CREATE INDEX reviews_by_action ON reviews (action_id);
        DROP INDEX tag_events_by_action;
        CREATE INDEX tag_events_by_action ON tag_events (action_id, op, example_id, tag_id);
        ALTER TABLE tag_assignments ADD COLUMN pending INTEGER;
    """,
}

_INSERT_REVIEW = (
    "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum,"
    " note, label_wrong, corrected_label, queue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Tag pairs of a review import, staged in this connection's TEMP schema: private to the
# connection, no write lock on the project, gone with the process if it dies.
_STAGING_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_tags (example_id TEXT NOT NULL,"
    " tag_ix INTEGER NOT NULL, reviewer TEXT NOT NULL, PRIMARY KEY (example_id, tag_ix))"
    " WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS staged_tag_ids (ix INTEGER PRIMARY KEY,"
    " tag_id INTEGER NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS staged_examples (example_id TEXT PRIMARY KEY,"
    " reviewer TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS gone_ids (id TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS changed_pairs (example_id TEXT NOT NULL,"
    " tag_id INTEGER NOT NULL, PRIMARY KEY (example_id, tag_id)) WITHOUT ROWID",
)


# The ids and correctness of each run, shared by every Project of the process: a run is
# immutable once imported, and rebuilding a 1M-id hash table on each tag write would cost
# half a second. Keyed on (file, run id, import stamp), so a re-import is never served stale.
_RUN_INDEX: dict[tuple[str, int, str], tuple[pd.Index, np.ndarray]] = {}
_RUN_INDEX_LOCK = threading.Lock()

# The files this process has open as projects, by (device, inode), with how many
# connections each. Closing *any* descriptor of a file drops every POSIX lock the process
# holds on it, SQLite's included (fcntl semantics): reading the header of a file that one
# of our connections has locked would let another process write under that connection.
# SQLite itself defers such closes; for these files we ask SQLite instead of reading.
_OPEN_FILES: dict[tuple[int, int], int] = {}
_OPEN_FILES_LOCK = threading.Lock()


def _file_key(info: os.stat_result) -> tuple[int, int]:
    return (info.st_dev, info.st_ino)


def _opened(path: Path, delta: int) -> None:
    try:
        key = _file_key(path.stat())
    except OSError:
        return
    with _OPEN_FILES_LOCK:
        count = _OPEN_FILES.get(key, 0) + delta
        if count > 0:
            _OPEN_FILES[key] = count
        else:
            _OPEN_FILES.pop(key, None)


def _open_here(info: os.stat_result) -> bool:
    with _OPEN_FILES_LOCK:
        return _file_key(info) in _OPEN_FILES


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


@dataclass(frozen=True)
class _TagPlan:
    """The tags of a review import, staged in this connection's TEMP tables."""

    names: list[str]  # distinct tag names; position = ``tag_ix`` in ``temp.staged_tags``
    pairs: int  # (example, tag) pairs the import wants present
    ranges: list[tuple[str | None, str | None]]  # staging ranges of example ids


@dataclass(frozen=True)
class _Stage:
    """A review import being staged under a pending action."""

    action: int
    dataset_id: int


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


# ------------------------------------------------------------------ recognising the file
@dataclass(frozen=True)
class _Header:
    """The fields of an SQLite file header (its first 100 bytes) that tell what it is."""

    page_size: int
    pages: int | None  # the in-header database size, when SQLite marked it valid
    wal: bool
    user_version: int
    application_id: int


def _parse_header(path: Path, head: bytes) -> _Header:
    raw_size = int.from_bytes(head[16:18], "big")
    page_size = 65536 if raw_size == 1 else raw_size
    if page_size < 512 or page_size & (page_size - 1):
        raise ProjectFileError(
            f"{path} has a damaged SQLite header (page size {raw_size}); not opened, "
            "nothing was changed",
            path=path,
        )
    change_counter = int.from_bytes(head[24:28], "big")
    pages = int.from_bytes(head[28:32], "big")
    valid_for = int.from_bytes(head[92:96], "big")
    return _Header(
        page_size=page_size,
        pages=pages if pages and valid_for == change_counter else None,
        wal=head[18] == 2 and head[19] == 2,
        user_version=int.from_bytes(head[60:64], "big", signed=True),
        application_id=int.from_bytes(head[68:72], "big", signed=True),
    )


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in params.items())
    return f"file:{urllib.parse.quote(str(path.absolute()))}?{query}"


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _sqlite_code(err: sqlite3.Error) -> int:
    """The primary SQLite result code of an error (0 when unknown)."""
    return (getattr(err, "sqlite_errorcode", None) or 0) & 0xFF


def check_project_file(path: str | Path, *, create: bool = True) -> int | None:
    """Decide, without writing anything, whether ``path`` can be opened as a project.

    Returns the file's schema version, or None for a missing file that may be created
    (``create``; its folder exists). Raises :class:`ProjectFileError` naming what is wrong
    for a folder, a missing folder, a missing file (``create=False``), an empty file, a
    file that is not SQLite, a truncated or damaged one, another application's database,
    or a project from a newer version. The file is left byte-for-byte as it was and no
    side file is made: the header is read directly, and SQLite (when it must look inside,
    for a file of schema 1–2 or with unsaved changes in its ``-wal``) reads it through a
    read-only connection that creates nothing.
    """
    path = Path(path)
    if "\x00" in str(path):
        raise ProjectFileError(
            f"the project path contains a NUL character: {show(str(path))}; nothing was changed",
            path=path,
        )
    try:
        info = path.stat()
    except FileNotFoundError:
        return _check_new_file(path, create=create)
    except NotADirectoryError:
        raise ProjectFileError(
            f"{path}: a part of this path is a file, not a folder; nothing was created",
            path=path,
        ) from None
    except OSError as err:
        raise ProjectFileError(
            f"{path} cannot be opened: {err.strerror}; nothing was changed", path=path
        ) from None
    if stat.S_ISDIR(info.st_mode):
        raise ProjectFileError(
            f"{path} is a folder, not a project file; pass the path of a project file "
            "(nothing was changed)",
            path=path,
        )
    if not stat.S_ISREG(info.st_mode):
        raise ProjectFileError(
            f"{path} is not a regular file, so not a project file; nothing was changed",
            path=path,
        )
    if info.st_size == 0:
        raise ProjectFileError(
            f"{path} is empty (0 bytes), not a project file; remove it or pass another "
            "path (nothing was changed)",
            path=path,
        )
    if _open_here(info):
        # Already recognised when this process opened it; never read it with open():
        # see _OPEN_FILES.
        return _schema_version_through_sqlite(path)
    try:
        with open(path, "rb") as file:
            head = file.read(100)
    except OSError as err:
        raise ProjectFileError(
            f"{path} cannot be read: {err.strerror}; nothing was changed", path=path
        ) from None
    if head[:16] != _SQLITE_MAGIC:
        raise ProjectFileError(
            f"{path} is not an SQLite file, so it is not a project file; not opened, "
            "nothing was changed",
            path=path,
        )
    if len(head) < 100:
        raise _truncated(path, f"its header is cut short ({len(head)} of 100 bytes)")
    header = _parse_header(path, head)
    # Committed changes not yet copied into the file live in its -wal; then SQLite, not
    # the header, knows the current mark and version, and the file may legitimately be
    # shorter than its header says (a checkpoint that was interrupted).
    live_wal = _size(Path(f"{path}-wal")) > 0
    expected = header.pages * header.page_size if header.pages else None
    if info.st_size % header.page_size:
        raise _truncated(path, f"its size ({info.st_size:,} bytes) is not a whole number of pages")
    doubtful = expected is None or expected > info.st_size
    if expected is not None and expected > info.st_size and not live_wal:
        raise _truncated(path, f"its header says {expected:,} bytes, the file has {info.st_size:,}")
    if not live_wal and not doubtful and header.application_id != 0:
        return _classify(path, header.application_id, header.user_version, tables=None)
    return _inspect(path, header, live_wal=live_wal, quick_check=doubtful)


def _schema_version_through_sqlite(path: Path) -> int:
    conn = sqlite3.connect(_uri(path, mode="ro"), uri=True, isolation_level=None)
    try:
        return conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.Error as err:
        raise (_translate(err, path) or err) from err
    finally:
        conn.close()


def _check_new_file(path: Path, *, create: bool) -> None:
    parent = path.absolute().parent
    if not parent.is_dir():
        raise ProjectFileError(
            f"the folder {parent} does not exist, so no project file can be made at "
            f"{path}; create the folder first (nothing was created)",
            path=path,
        )
    if not create:
        raise ProjectFileError(
            f"no project file at {path} (nothing was created; import a dataset first or "
            "pass another path)",
            path=path,
        )
    return None


def _truncated(path: Path, why: str) -> ProjectFileError:
    return ProjectFileError(
        f"{path} is truncated or damaged: {why}; not opened, nothing was changed "
        "(restore it from a copy)",
        path=path,
    )


def _inspect(path: Path, header: _Header, *, live_wal: bool, quick_check: bool) -> int:
    """Read the mark, version and tables through SQLite without writing anything."""
    # mode=ro on a WAL file with no -wal would create -wal and -shm; with nothing in a
    # -wal there is nothing to miss, so read the file as immutable (no locks, no files).
    if live_wal or not header.wal:
        uri = _uri(path, mode="ro")
    else:
        uri = _uri(path, mode="ro", immutable="1")
    try:
        conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    except sqlite3.Error as err:
        raise _unreadable(path, err) from None
    try:
        application_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        legacy = application_id == 0 and version in _LEGACY_VERSIONS and tables >= _LEGACY_TABLES
        if quick_check or legacy:
            problems = [r[0] for r in conn.execute("PRAGMA quick_check(3)")]
            if problems != ["ok"]:
                raise _truncated(path, f"SQLite's check found {'; '.join(problems)}")
    except sqlite3.DatabaseError as err:
        if live_wal and _sqlite_code(err) in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN):
            raise _wal_out_of_reach(path) from None
        raise _unreadable(path, err) from None
    finally:
        conn.close()
    return _classify(path, application_id, version, tables=tables)


def _wal_out_of_reach(path: Path) -> ProjectFileError:
    return ProjectFileError(
        f"{path} has changes in {path.name}-wal that only a process able to write in "
        f"{path.absolute().parent} can read; open it there once, or copy the folder; "
        "nothing was changed",
        path=path,
    )


def _unreadable(path: Path, err: sqlite3.Error) -> ProjectFileError:
    return ProjectFileError(
        f"{path} could not be read as an SQLite database ({err}); not opened, nothing was changed",
        path=path,
    )


def _classify(path: Path, application_id: int, version: int, *, tables: set[str] | None) -> int:
    if application_id == APPLICATION_ID or (
        application_id == 0 and tables is not None and tables >= _LEGACY_TABLES
        and version in _LEGACY_VERSIONS
    ):  # fmt: skip
        if version > SCHEMA_VERSION:
            raise ProjectFileError(
                f"{path} was written by a newer version of erroranalysis (schema version "
                f"{version}; this version knows up to {SCHEMA_VERSION}): upgrade "
                "erroranalysis to open it; nothing was changed",
                path=path,
            )
        return version
    if application_id == 0 and tables is not None and not tables:
        raise ProjectFileError(
            f"{path} is an empty SQLite database (no tables), not a project file; not "
            "opened, nothing was changed",
            path=path,
        )
    raise ProjectFileError(
        f"{path} is an SQLite database of another application; not opened, nothing was changed",
        path=path,
    )


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    return True


def _create_project_file(path: Path, *, schema: bool) -> None:
    """Make a project file at ``path`` (with the whole schema, or only the mark), built
    under a temporary name and hard-linked into place complete: a process killed while
    creating leaves no half-made project, and of two processes creating at once, the
    second opens the first's file."""
    _remove_abandoned_drafts(path)
    draft = path.with_name(f".{path.name}.draft-{os.getpid()}-{secrets.token_hex(4)}")
    try:
        conn = sqlite3.connect(_uri(draft, mode="rwc"), uri=True, isolation_level=None)
        try:
            conn.execute("BEGIN")
            if schema:
                for version in range(1, SCHEMA_VERSION + 1):
                    _apply_migration(conn, version)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION if schema else 0}")
            conn.execute("COMMIT")
            conn.execute("PRAGMA journal_mode = WAL")
        finally:
            conn.close()  # the last connection: SQLite folds the -wal in and removes it
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # made by another process meanwhile: open that one
        except OSError:
            # A file system without hard links: a rename, which (unlike the link) could
            # replace a file made in the last microseconds, so look first.
            if not path.exists():
                os.replace(draft, path)
    except sqlite3.Error as err:
        raise ProjectFileError(
            f"no project file could be made at {path}: {err}; nothing was created", path=path
        ) from None
    except OSError as err:
        raise ProjectFileError(
            f"no project file could be made at {path}: {err.strerror}; nothing was created",
            path=path,
        ) from None
    finally:
        for suffix in ("", "-journal", "-wal", "-shm"):
            Path(f"{draft}{suffix}").unlink(missing_ok=True)


def _remove_abandoned_drafts(path: Path) -> None:
    prefix = f".{path.name}.draft-"
    try:
        candidates = [p for p in path.parent.iterdir() if p.name.startswith(prefix)]
    except OSError:
        return
    for draft in candidates:
        pid = draft.name[len(prefix) :].split("-", 1)[0]
        if pid.isdigit() and not _pid_alive(int(pid)):
            draft.unlink(missing_ok=True)


def _apply_migration(conn: sqlite3.Connection, version: int) -> None:
    for statement in _split_sql(_MIGRATIONS[version]):
        conn.execute(statement)


# ------------------------------------------------------------------ errors while open
_FILE_PROBLEMS = {
    sqlite3.SQLITE_READONLY: "it cannot be written here (a read-only file, folder or disk)",
    sqlite3.SQLITE_FULL: "the disk is full",
    sqlite3.SQLITE_IOERR: "the disk failed to read or write it",
    sqlite3.SQLITE_CORRUPT: "it is damaged",
    sqlite3.SQLITE_NOTADB: "it is no longer an SQLite database (was it replaced?)",
    sqlite3.SQLITE_CANTOPEN: "it cannot be opened (was it moved or deleted?)",
}

_T = TypeVar("_T")


def _translate(err: sqlite3.Error, path: Path) -> StoreError | None:
    """The expected error that ``err`` stands for, or None when it is a defect to keep
    (a constraint or an API misuse)."""
    if isinstance(
        err, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError
        | sqlite3.DataError | sqlite3.NotSupportedError,
    ):  # fmt: skip
        return None
    code = _sqlite_code(err)
    if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return ProjectBusy(path=path)
    problem = _FILE_PROBLEMS.get(code, "it could not be read or written")
    return ProjectFileError(
        f"the project file {path} failed: {problem} (SQLite: {err}); nothing was changed",
        path=path,
    )


def _guarded(method: Callable[..., _T]) -> Callable[..., _T]:
    """Turn a SQLite failure inside a public method into :class:`ProjectBusy` or
    :class:`ProjectFileError` naming the file, so no caller sees a raw ``sqlite3`` error."""

    @functools.wraps(method)
    def wrapper(self: Project, *args: object, **kwargs: object) -> _T:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.Error as err:
            problem = _translate(err, self.path)
            if problem is None:
                raise
            raise problem from err

    return wrapper


class Project:
    """An open project file. One instance per thread; see the module docstring.

    ``readonly`` opens the file through SQLite's read-only mode: nothing is migrated or
    written, and write methods raise :class:`StoreError`. ``create=False`` refuses a
    missing file instead of making one. ``timeout`` is how long a write waits for the
    lock before :class:`ProjectBusy` (see also :meth:`busy_timeout`).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout: float = 30.0,
        migrate: bool = True,
        readonly: bool = False,
        create: bool = True,
    ):
        self.path = Path(path)
        self.readonly = readonly
        self.timeout = timeout
        self._thread = threading.get_ident()
        self._active_tags: int | None = None
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
        self.db = sqlite_utils.Database(self._conn)
        _opened(self.path, +1)
        self._registered = True

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(
                _uri(self.path, mode="rw"), uri=True, timeout=self.timeout, isolation_level=None
            )
        conn = sqlite3.connect(
            _uri(self.path, mode="ro"), uri=True, timeout=self.timeout, isolation_level=None
        )
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
        return sqlite3.connect(
            _uri(self.path, mode="ro", immutable="1"), uri=True, isolation_level=None
        )

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
            _opened(self.path, -1)

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

    def _bump(self) -> None:
        self._conn.execute(
            "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'revision'"
        )

    @_guarded
    def revision(self) -> int:
        """A counter that grows with every change to the project (cache key for readers)."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0])

    def _query(self, sql: str, params: Sequence | dict = ()) -> pd.DataFrame:
        cursor = self._conn.execute(sql, params)
        columns = [d[0] for d in cursor.description]
        return pd.DataFrame(cursor.fetchall(), columns=columns)

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

    def _dataset_id(self, name: str) -> int:
        row = self._conn.execute("SELECT id FROM datasets WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = ", ".join(self.dataset_names()) or "none yet"
            raise StoreError(f"no dataset named {name!r} in {self.path.name} (datasets: {known})")
        return row[0]

    @_guarded
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

    @_guarded
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

    @_guarded
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
        One transaction; the Parquet encoding and the ids that go are worked out before it.
        """
        self._require_writable()
        actor = check_actor(actor)
        dataset = check_name(dataset, kind="dataset")
        run = check_name(run, kind="run")
        tags = [check_tag_name(t) for t in dataset_tags]
        blob = _frame_to_blob(frame)
        n_errors = int((~frame["correct"].astype(bool)).sum())
        new_ids = pd.Index(frame["id"].astype(str))
        existing = self._dataset_runs(dataset)
        replacing = any(info.name == run for info in existing)
        if replacing and not replace:
            raise self._replace_needed(dataset, run)
        gone = self._gone_ids(existing, run, new_ids) if replacing else None
        if gone is not None:
            self._stage_ids("gone_ids", gone)
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
                raise self._replace_needed(dataset, run)
            if old is not None and self._dataset_runs(dataset) != existing:
                # Another import of this dataset landed since the ids were worked out.
                gone = self._gone_ids(self._dataset_runs(dataset), run, new_ids)
                self._stage_ids("gone_ids", gone)
            action_id = self._action(
                conn, dataset_id, "import", actor, stamp,
                detail={"run": run, "source": source, "examples": len(frame), "replace": old is not None},
            )  # fmt: skip
            values = (
                source, format, str(media_root) if media_root else None, len(frame), n_errors,
                json.dumps(list(metadata_columns)), json.dumps(tags), stamp, actor, blob,
            )  # fmt: skip
            if old is None:
                conn.execute(
                    "INSERT INTO runs (source, format, media_root, n_examples, n_errors,"
                    " metadata_columns, dataset_tags, imported_at, imported_by, frame,"
                    " dataset_id, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, dataset_id, run),
                )
            else:
                conn.execute(
                    "UPDATE runs SET source = ?, format = ?, media_root = ?, n_examples = ?,"
                    " n_errors = ?, metadata_columns = ?, dataset_tags = ?, imported_at = ?,"
                    " imported_by = ?, frame = ? WHERE id = ?",
                    (*values, old[0]),
                )
                self._forget_gone_ids(conn, dataset_id, action_id, actor, stamp)
            for tag in tags:
                self._tag_id(conn, tag, actor, stamp, create=True)
            self._bump()
        return self.run(dataset, run)

    @staticmethod
    def _replace_needed(dataset: str, run: str) -> StoreError:
        return StoreError(
            f"dataset {dataset!r} already has run {run!r}; pass --replace to replace it "
            "(tags and reviews of ids that still exist are kept)"
        )

    def _dataset_runs(self, dataset: str) -> list[RunInfo]:
        if dataset not in self.dataset_names():
            return []
        return self.runs(dataset)

    def _gone_ids(self, runs: list[RunInfo], replaced: str, new_ids: pd.Index) -> pd.Index:
        """Ids of the dataset that no run has once ``replaced`` holds ``new_ids``: only
        those lose their tags and reviews (tags and reviews exist only on ids of a run)."""
        before = [self.run_index(info)[0] for info in runs]
        after = [self.run_index(info)[0] for info in runs if info.name != replaced]
        known = before[0].append(before[1:]) if len(before) > 1 else before[0]
        keep = new_ids.append(after) if after else new_ids
        return known.unique().difference(keep.unique())

    def _stage_ids(self, table: str, ids: pd.Index) -> None:
        """Fill a TEMP table of this connection: outside a write transaction this takes no
        lock on the project; inside one it is part of it."""
        self._create_staging_tables()
        with self._temp_transaction():
            self._conn.execute(f"DELETE FROM temp.{table}")
            self._conn.executemany(
                f"INSERT OR IGNORE INTO temp.{table} VALUES (?)", ((i,) for i in ids)
            )

    @contextmanager
    def _temp_transaction(self) -> Iterator[None]:
        """One transaction around writes to TEMP tables (or none, inside a write)."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _create_staging_tables(self) -> None:
        for statement in _STAGING_TABLES:
            self._conn.execute(statement)

    @_guarded
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
        conn.execute(
            "DELETE FROM tag_assignments AS a WHERE dataset_id = ?"
            f" AND example_id IN (SELECT id FROM temp.gone_ids) AND {self._present('a')}",
            (dataset_id,),
        )
        conn.execute(
            "UPDATE reviews SET retracted_by = ? WHERE dataset_id = ? AND retracted_by IS NULL"
            f" AND example_id IN (SELECT id FROM temp.gone_ids) AND {self._not_pending('action_id')}",
            (action_id, dataset_id),
        )

    @_guarded
    def examples(self, dataset: str, run: str | None = None) -> pd.DataFrame:
        """The run's example frame as imported (a fresh copy on every call)."""
        info = self.run(dataset, run)
        blob = self._conn.execute("SELECT frame FROM runs WHERE id = ?", (info.id,)).fetchone()
        return _blob_to_frame(blob[0])

    @_guarded
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

    @_guarded
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
        self._count_new_tag(conn, name)
        if row is not None:  # a deleted tag of that name comes back
            conn.execute("UPDATE tags SET deleted_at = NULL WHERE id = ?", (row[0],))
            return row[0]
        return conn.execute(
            "INSERT INTO tags (name, created_at, created_by) VALUES (?, ?, ?)",
            (name, stamp, actor),
        ).lastrowid

    def _count_new_tag(self, conn: sqlite3.Connection, name: str) -> None:
        # However a tag arrives (a click, a review, an import, a definition), the project
        # holds at most MAX_TAGS; the count is read once per transaction.
        if self._active_tags is None:
            self._active_tags = conn.execute(
                "SELECT count(*) FROM tags WHERE deleted_at IS NULL"
            ).fetchone()[0]
        if self._active_tags >= MAX_TAGS:
            raise StoreError(
                f"the project already has {MAX_TAGS} tags, the most it can hold; tag "
                f"{name!r} was not created and nothing was changed (merge or delete tags "
                "first)"
            )
        self._active_tags += 1

    def _tag_exists(self, conn: sqlite3.Connection, name: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM tags WHERE name = ? AND deleted_at IS NULL", (check_tag_name(name),)
            ).fetchone()
            is not None
        )

    @_guarded
    def tag_definitions(self) -> pd.DataFrame:
        """The project's tags: name, description, hlp, effort, rule, created_at, created_by."""
        return self._query(
            "SELECT name AS tag, description, hlp, effort, rule, created_at, created_by"
            " FROM tags WHERE deleted_at IS NULL ORDER BY name"
        )

    @staticmethod
    def _definition_changes(
        name: str,
        *,
        description: str | None,
        hlp: float | None,
        effort: float | None,
        rule: str | None,
        clear: Iterable[str],
    ) -> dict[str, object]:
        if hlp is not None and not 0 <= hlp <= 1:
            raise StoreError(f"HLP of {name!r} must be in [0, 1], got {hlp}")
        if effort is not None and not effort > 0:
            raise StoreError(f"effort of {name!r} must be positive, got {effort}")
        fields = {"description": description, "hlp": hlp, "effort": effort, "rule": rule}
        changes = {k: v for k, v in fields.items() if v is not None}
        for key in clear:
            if key not in ("hlp", "effort", "rule"):
                raise StoreError(f"cannot clear {key!r}")
            changes[key] = None
        return changes

    def _define(
        self, conn: sqlite3.Connection, name: str, changes: dict[str, object], actor: str,
        stamp: str,
    ) -> None:  # fmt: skip
        tag_id = self._tag_id(conn, name, actor, stamp, create=True)
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE tags SET {assignments} WHERE id = ?", (*changes.values(), tag_id))
        self._action(conn, None, "define_tag", actor, stamp, detail={"tag": name, **changes})

    @_guarded
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
        self._require_writable()
        actor = check_actor(actor)
        changes = self._definition_changes(
            name, description=description, hlp=hlp, effort=effort, rule=rule, clear=clear
        )
        stamp = now()
        with self.write() as conn:
            self._define(conn, name, changes, actor, stamp)
            self._bump()

    @_guarded
    def define_tags(self, definitions: pd.DataFrame, *, actor: str) -> None:
        """Apply a table of definitions (tag, hlp, effort, description, as read by
        :func:`erroranalysis.tables.read_tag_definitions`): an empty HLP or effort clears it.

        All rows or none: every row is checked first, then the table is applied in one
        transaction.
        """
        self._require_writable()
        actor = check_actor(actor)
        planned = []
        for row in definitions.itertuples(index=False):
            clear = [k for k in ("hlp", "effort") if pd.isna(getattr(row, k))]
            name = check_tag_name(row.tag)
            planned.append(
                (name, self._definition_changes(
                    name, description=row.description or None,
                    hlp=None if "hlp" in clear else float(row.hlp),
                    effort=None if "effort" in clear else float(row.effort),
                    rule=None, clear=clear,
                ))
            )  # fmt: skip
        stamp = now()
        with self.write() as conn:
            for name, changes in planned:
                self._define(conn, name, changes, actor, stamp)
            self._bump()

    @_guarded
    def rename_tag(self, old: str, new: str, *, actor: str) -> None:
        """Rename a tag everywhere (assignments follow: they point at the tag's id)."""
        self._require_writable()
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

    @_guarded
    def merge_tags(self, source: str, target: str, *, actor: str) -> int:
        """Move every assignment of ``source`` onto ``target`` and delete ``source``.

        Returns the number of examples that changed. Logged as remove/add events, in one
        transaction of a few statements however many examples carry the tag.
        """
        self._require_writable()
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
            present_s, present_d = self._present("s"), self._present("d")
            moved = conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, dataset_id, example_id, tag_id, 'remove', ?, ? FROM tag_assignments s"
                f" WHERE tag_id = ? AND {present_s} ORDER BY dataset_id, example_id",
                (action, actor, stamp, src),
            ).rowcount
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, s.dataset_id, s.example_id, ?, 'add', ?, ? FROM tag_assignments s"
                f" WHERE s.tag_id = ? AND {present_s} AND NOT EXISTS (SELECT 1 FROM"
                " tag_assignments d WHERE d.dataset_id = s.dataset_id"
                f" AND d.example_id = s.example_id AND d.tag_id = ? AND {present_d})"
                " ORDER BY s.dataset_id, s.example_id",
                (action, dst, actor, stamp, src, dst),
            )
            # Where dst is there already, the insert changes nothing (the WHERE of the
            # conflict clause is false for a row that counts).
            conn.execute(
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
                " SELECT dataset_id, example_id, ?, ?, ? FROM tag_assignments s"
                f" WHERE tag_id = ? AND {present_s}{self._take_over()}",
                (dst, actor, stamp, src),
            )
            conn.execute(
                f"DELETE FROM tag_assignments AS s WHERE tag_id = ? AND {present_s}", (src,)
            )
            conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, src))
            self._bump()
        return moved

    @_guarded
    def delete_tag(self, name: str, *, actor: str) -> int:
        """Remove a tag from every example (logged) and from the taxonomy."""
        self._require_writable()
        actor = check_actor(actor)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, name, actor, stamp, create=False)
            action = self._action(conn, None, "delete_tag", actor, stamp, detail={"tag": name})
            present = self._present("a")
            removed = conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, dataset_id, example_id, tag_id, 'remove', ?, ? FROM tag_assignments a"
                f" WHERE tag_id = ? AND {present} ORDER BY dataset_id, example_id",
                (action, actor, stamp, tag_id),
            ).rowcount
            conn.execute(
                f"DELETE FROM tag_assignments AS a WHERE tag_id = ? AND {present}", (tag_id,)
            )
            conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, tag_id))
            self._bump()
        return removed

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
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
                f" VALUES (?, ?, ?, ?, ?){self._take_over()}",
                (dataset_id, example_id, tag_id, actor, stamp),
            ).rowcount
        else:
            changed = conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND example_id = ?"
                f" AND tag_id = ? AND {self._present('a')}",
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

    @_guarded
    def set_tag(
        self, dataset: str, example_id: str, tag: str, present: bool = True, *, actor: str
    ) -> int | None:
        """Add (``present=True``) or remove a tag on one example, creating the tag if new.

        Returns the id of the logged action, or None when the example already was in that
        state (nothing is logged then).
        """
        self._require_writable()
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

    @_guarded
    def example_tags(self, dataset: str, example_id: str) -> list[str]:
        """Reviewed tags currently on one example, by name."""
        dataset_id = self._dataset_id(dataset)
        rows = self._conn.execute(
            "SELECT tags.name FROM tag_assignments a JOIN tags ON tags.id = tag_id"
            f" WHERE dataset_id = ? AND example_id = ? AND {self._present('a')}"
            " ORDER BY tags.name",
            (dataset_id, example_id),
        )
        return [r[0] for r in rows]

    @_guarded
    def tag_assignments(self, dataset: str) -> pd.DataFrame:
        """Current reviewed tags of a dataset: one row per (example_id, tag)."""
        return self._query(
            "SELECT example_id, tags.name AS tag, actor, at FROM tag_assignments a"
            f" JOIN tags ON tags.id = tag_id WHERE dataset_id = ? AND {self._present('a')}"
            " ORDER BY example_id, tags.name",
            (self._dataset_id(dataset),),
        )

    @_guarded
    def tag_events(self, dataset: str | None = None) -> pd.DataFrame:
        """The event log, oldest first: id, action_id, example_id, tag, op, actor, at."""
        sql = (
            "SELECT tag_events.id, action_id, datasets.name AS dataset, example_id,"
            " tags.name AS tag, op, actor, at FROM tag_events"
            " JOIN tags ON tags.id = tag_id JOIN datasets ON datasets.id = dataset_id"
        )
        sql += f" WHERE {self._not_pending('action_id')}"
        params: tuple = ()
        if dataset is not None:
            sql += " AND dataset_id = ?"
            params = (self._dataset_id(dataset),)
        return self._query(sql + " ORDER BY tag_events.id", params)

    @_guarded
    def replay_tags(self, dataset: str) -> pd.DataFrame:
        """Rebuild the current (example_id, tag) pairs from the event log alone."""
        events = self._conn.execute(
            "SELECT example_id, tags.name, op FROM tag_events JOIN tags ON tags.id = tag_id"
            f" WHERE dataset_id = ? AND {self._not_pending('action_id')} ORDER BY tag_events.id",
            (self._dataset_id(dataset),),
        )
        state: set[tuple[str, str]] = set()
        for example_id, tag, op in events:
            if op == "add":
                state.add((example_id, tag))
            else:
                state.discard((example_id, tag))
        return pd.DataFrame(sorted(state), columns=["example_id", "tag"])

    @_guarded
    def actions(self, dataset: str | None = None, *, limit: int = 100) -> pd.DataFrame:
        """The newest actions (who did what, when), newest first."""
        sql = (
            "SELECT actions.id, datasets.name AS dataset, kind, actor, at, undoes, detail"
            f" FROM actions LEFT JOIN datasets ON datasets.id = dataset_id"
            f" WHERE {self._not_pending('actions.id')}"
        )
        params: tuple = ()
        if dataset is not None:
            sql += " AND (dataset_id = ? OR dataset_id IS NULL)"
            params = (self._dataset_id(dataset),)
        return self._query(sql + " ORDER BY actions.id DESC LIMIT ?", (*params, int(limit)))

    @_guarded
    def undo(self, dataset: str, *, actor: str) -> dict | None:
        """Undo ``actor``'s last action on ``dataset`` that is not undone yet.

        The undo is itself an action that appends the inverse events, so the log stays
        append-only. Returns a description of what was undone, or None if nothing was left.
        One transaction of a few statements, however many events the action had.
        """
        self._require_writable()
        actor = check_actor(actor)
        stamp = now()
        undoable = ("tag", "review", "reviews_import")
        with self.write() as conn:
            dataset_id = self._dataset_id(dataset)
            row = conn.execute(
                f"SELECT id, kind, detail FROM actions a WHERE dataset_id = ? AND actor = ?"
                f" AND kind IN ({','.join('?' * len(undoable))})"
                " AND NOT EXISTS (SELECT 1 FROM actions u WHERE u.undoes = a.id)"
                f" AND {self._not_pending('a.id')} ORDER BY id DESC LIMIT 1",
                (dataset_id, actor, *undoable),
            ).fetchone()
            if row is None:
                return None
            target, kind, detail = row
            undo = self._action(conn, dataset_id, "undo", actor, stamp, undoes=target)
            self._invert_events(conn, target, undo, dataset_id, actor, stamp)
            conn.execute(
                "UPDATE reviews SET retracted_by = ? WHERE action_id = ? AND retracted_by IS NULL",
                (undo, target),
            )
            self._bump()
        return {"action": target, "kind": kind, "detail": json.loads(detail)}

    def _invert_events(
        self, conn: sqlite3.Connection, target: int, undo: int, dataset_id: int, actor: str,
        stamp: str,
    ) -> None:  # fmt: skip
        repeated = conn.execute(
            "SELECT 1 FROM tag_events WHERE action_id = ?"
            " GROUP BY example_id, tag_id HAVING count(*) > 1 LIMIT 1",
            (target,),
        ).fetchone()
        if repeated:
            # An action that changed one (example, tag) twice (written by older versions):
            # invert event by event, newest first.
            events = conn.execute(
                "SELECT example_id, tag_id, op FROM tag_events WHERE action_id = ?"
                " ORDER BY id DESC",
                (target,),
            ).fetchall()
            for example_id, tag_id, op in events:
                inverse = "remove" if op == "add" else "add"
                self._apply(conn, undo, dataset_id, example_id, tag_id, inverse, actor, stamp)
            return
        # Each pair changed once: what it added and is still there goes, what it removed and
        # is still missing comes back, and the state follows the events just logged.
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, e.example_id, e.tag_id, 'remove', ?, ? FROM tag_events e"
            " WHERE e.action_id = ? AND e.op = 'add' AND EXISTS (SELECT 1 FROM tag_assignments a"
            " WHERE a.dataset_id = ? AND a.example_id = e.example_id AND a.tag_id = e.tag_id"
            f" AND {self._present('a')}) ORDER BY e.id DESC",
            (undo, dataset_id, actor, stamp, target, dataset_id),
        )
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, e.example_id, e.tag_id, 'add', ?, ? FROM tag_events e"
            " WHERE e.action_id = ? AND e.op = 'remove' AND NOT EXISTS (SELECT 1 FROM"
            " tag_assignments a WHERE a.dataset_id = ? AND a.example_id = e.example_id"
            f" AND a.tag_id = e.tag_id AND {self._present('a')}) ORDER BY e.id DESC",
            (undo, dataset_id, actor, stamp, target, dataset_id),
        )
        self._follow_events(conn, undo, dataset_id)

    def _follow_events(
        self, conn: sqlite3.Connection, action: int, dataset_id: int, *, removals: bool = True
    ) -> None:
        """Make ``tag_assignments`` follow the events ``action`` logged (each pair at most
        once, each event a real change); ``removals=False`` when it logged only adds."""
        if removals:
            conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND (example_id, tag_id)"
                " IN (SELECT example_id, tag_id FROM tag_events WHERE action_id = ?"
                f" AND op = 'remove') AND {self._present('a')}",
                (dataset_id, action),
            )
        conn.execute(
            "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
            " SELECT dataset_id, example_id, tag_id, actor, at FROM tag_events"
            " WHERE action_id = ? AND op = 'add' ORDER BY action_id, op, example_id, tag_id"
            f"{self._take_over()}",
            (action,),
        )

    # ----------------------------------------------------------------- reviews
    @_guarded
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

    @_guarded
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
        """Record many reviews in one action, all or nothing; returns the action's id.

        ``reviews`` has columns ``id`` and ``reviewer`` (optionally ``note``, ``label_wrong``,
        ``corrected_label``); ``tags[i]`` are the tags seen on row i. With ``exact`` the
        example's other reviewed tags are removed (an example listed twice ends with the
        tags of its last row); otherwise tags are only added.

        Everything is checked and prepared before the write lock is taken. Up to
        :data:`STAGE_ROWS` reviews and tag pairs are written in one transaction. More are
        staged: reviews, tag events and tag assignments are written in short transactions
        under a pending action that no reader counts, then one short transaction re-decides
        the few tags other reviewers changed meanwhile and removes the pending mark, so the
        whole import appears at once. While one import into a dataset is being staged,
        another raises :class:`ProjectBusy`; one that fails or is interrupted leaves
        nothing (a killed one is removed by the next process that opens the file to write).
        """
        self._require_writable()
        info = self.run(dataset, run)
        n = len(reviews)
        if tags is not None and len(tags) != n:
            raise StoreError(f"{len(tags)} tag lists for {n} reviews; nothing was recorded")
        ids = reviews["id"].astype(str).tolist()
        run_ids, run_correct = self.run_index(info)
        positions = run_ids.get_indexer(ids)
        if (positions < 0).any():
            missing = [example for example, p in zip(ids, positions, strict=True) if p < 0]
            raise StoreError(
                f"run {info.name!r} of dataset {dataset!r} has no example with id "
                f"{missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        names = {r: check_actor(r) for r in pd.unique(reviews["reviewer"].astype(str))}
        reviewers = [names[r] for r in reviews["reviewer"].astype(str)]
        actor = check_actor(actor) if actor else reviewers[0] if reviewers else "import"
        strata = np.where(run_correct[positions], "correct", "error").tolist()
        notes = [str(v) if v else "" for v in _values(reviews, "note", n)]
        label_wrong = [int(bool(v)) for v in _values(reviews, "label_wrong", n)]
        corrected = _values(reviews, "corrected_label", n)
        plan = self._stage_review_tags(ids, reviewers, tags, exact=exact)
        detail = {"run": info.name, "reviews": n}
        stamp = now()

        def rows(action: int, dataset_id: int, lo: int, hi: int) -> Iterator[tuple]:
            return zip(
                repeat(action), repeat(dataset_id), repeat(info.id), ids[lo:hi],
                reviewers[lo:hi], repeat(stamp), strata[lo:hi], notes[lo:hi],
                label_wrong[lo:hi], corrected[lo:hi], repeat(queue),
            )  # fmt: skip

        if n <= STAGE_ROWS and (plan is None or plan.pairs <= STAGE_ROWS):
            with self.write() as conn:
                dataset_id = self._dataset_id(dataset)
                self._check_run_unchanged(conn, dataset, info)
                action = self._action(conn, dataset_id, kind, actor, stamp, detail=detail)
                conn.executemany(_INSERT_REVIEW, rows(action, dataset_id, 0, n))
                if plan is not None:
                    self._map_review_tags(conn, plan, actor, stamp, hidden=False)
                    self._review_tag_events(conn, action, dataset_id, stamp, exact=exact)
                    self._follow_events(conn, action, dataset_id, removals=exact)
                self._bump()
            return action
        stage = self._begin_stage(dataset, info, kind, actor, stamp, detail, plan)
        try:
            dataset_id = stage.dataset_id
            for lo in range(0, n, STAGE_ROWS):
                self._staged_write(stage, lambda conn, lo=lo: conn.executemany(
                    _INSERT_REVIEW, rows(stage.action, dataset_id, lo, lo + STAGE_ROWS)))  # fmt: skip
            if plan is not None:
                for lo, hi in plan.ranges:
                    self._staged_write(stage, lambda conn, lo=lo, hi=hi: self._review_tag_events(
                        conn, stage.action, dataset_id, stamp, exact=exact, lo=lo, hi=hi,
                        stage=True))  # fmt: skip
            with self.write() as conn:
                self._check_run_unchanged(conn, dataset, info)
                self._check_stage_complete(conn, stage.action, n)
                if plan is not None:
                    self._settle_review_tags(conn, stage, stamp, exact=exact)
                conn.execute("DELETE FROM pending_actions WHERE action_id = ?", (stage.action,))
                self._bump()
        except BaseException:
            self._discard_stage(stage.action)
            raise
        return stage.action

    def _stage_review_tags(
        self, ids: list[str], reviewers: list[str], tags: Sequence[Sequence[str]] | None,
        *, exact: bool,
    ) -> _TagPlan | None:  # fmt: skip
        """Check the tags of a review import and stage what it wants in TEMP tables:
        ``staged_tags`` the (example, tag) pairs to be present, ``staged_examples`` (with
        ``exact``) the examples whose other tags go."""
        if tags is None:
            return None
        checked: dict[str, str] = {}
        for row in tags:
            for raw in row:
                if raw not in checked:
                    checked[raw] = check_tag_name(raw)
        frame = pd.DataFrame({"example_id": ids, "reviewer": reviewers})
        if exact:  # an example listed twice ends with the tags of its last row
            last = ~frame["example_id"].duplicated(keep="last").to_numpy()
        else:
            last = np.ones(len(frame), dtype=bool)
        lengths = np.fromiter((len(row) for row in tags), dtype=np.int64, count=len(tags))
        rows = np.repeat(np.arange(len(frame)), lengths)
        names = [checked[raw] for row in tags for raw in row]
        pairs = pd.DataFrame(
            {"row": rows, "example_id": frame["example_id"].to_numpy()[rows], "tag": names}
        )
        pairs = pairs[last[rows]].drop_duplicates(["example_id", "tag"], keep="first")
        distinct = sorted(set(pairs["tag"]))
        pairs = pairs.assign(
            tag_ix=pd.Categorical(pairs["tag"], categories=distinct).codes.astype(np.int64),
            reviewer=frame["reviewer"].to_numpy()[pairs["row"].to_numpy()],
        ).sort_values(["example_id", "tag_ix"])
        chosen = frame[last].sort_values("example_id") if exact else None
        self._create_staging_tables()
        with self._temp_transaction():  # TEMP tables only: no lock on the project
            for table in ("staged_tags", "staged_examples"):
                self._conn.execute(f"DELETE FROM temp.{table}")
            self._conn.executemany(
                "INSERT INTO temp.staged_tags VALUES (?, ?, ?)",
                zip(pairs["example_id"].tolist(), pairs["tag_ix"].tolist(),
                    pairs["reviewer"].tolist(), strict=True),
            )  # fmt: skip
            if chosen is not None:
                self._conn.executemany(
                    "INSERT INTO temp.staged_examples VALUES (?, ?) ON CONFLICT DO NOTHING",
                    zip(chosen["example_id"].tolist(), chosen["reviewer"].tolist(), strict=True),
                )
        # Staging ranges of whole examples (so an example's removals and additions are
        # decided together), about STAGE_ROWS pairs or examples each.
        keys = (chosen if chosen is not None else pairs)["example_id"].drop_duplicates().tolist()
        step = max(
            1, STAGE_ROWS if chosen is not None else STAGE_ROWS * len(keys) // max(1, len(pairs))
        )
        bounds = keys[step::step]
        ranges = list(zip([None, *bounds], [*bounds, None], strict=True))
        return _TagPlan(names=distinct, pairs=len(pairs), ranges=ranges)

    def _map_review_tags(
        self, conn: sqlite3.Connection, plan: _TagPlan, actor: str, stamp: str, *, hidden: bool
    ) -> None:
        """Fill ``temp.staged_tag_ids`` with the id of each staged tag name. ``hidden``
        makes a missing tag as deleted, to come back when the import completes."""
        ids = []
        for name in plan.names:
            if not hidden:
                ids.append(self._tag_id(conn, name, actor, stamp, create=True))
                continue
            row = conn.execute("SELECT id, deleted_at FROM tags WHERE name = ?", (name,)).fetchone()
            if row is None:
                row = (conn.execute(
                    "INSERT INTO tags (name, created_at, created_by, deleted_at)"
                    " VALUES (?, ?, ?, ?)", (name, stamp, actor, stamp),
                ).lastrowid, stamp)  # fmt: skip
            ids.append(row[0])
        conn.execute("DELETE FROM temp.staged_tag_ids")
        conn.executemany("INSERT INTO temp.staged_tag_ids VALUES (?, ?)", list(enumerate(ids)))

    def _review_tag_events(
        self, conn: sqlite3.Connection, action: int, dataset_id: int, stamp: str, *,
        exact: bool, lo: str | None = None, hi: str | None = None, stage: bool = False,
    ) -> None:  # fmt: skip
        """Log, for the staged examples in [lo, hi), the events that bring the current
        state to what the import wants (``staged_tags``; with ``exact`` nothing else).
        With ``stage``, also write the assignments they add, marked pending."""

        def within(column: str) -> tuple[str, tuple]:
            sql, params = "", ()
            if lo is not None:
                sql, params = f" AND {column} >= ?", (lo,)
            if hi is not None:
                sql, params = sql + f" AND {column} < ?", (*params, hi)
            return sql, params

        if exact:
            where, params = within("e.example_id")
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, a.dataset_id, a.example_id, a.tag_id, 'remove', e.reviewer, ?"
                " FROM temp.staged_examples e JOIN tag_assignments a"
                " ON a.dataset_id = ? AND a.example_id = e.example_id"
                " WHERE NOT EXISTS (SELECT 1 FROM temp.staged_tags s"
                " JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
                " WHERE s.example_id = a.example_id AND m.tag_id = a.tag_id)"
                f" AND {self._present('a')}{where}"
                " ORDER BY a.example_id, a.tag_id",
                (action, stamp, dataset_id, *params),
            )
        where, params = within("s.example_id")
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, s.example_id, m.tag_id, 'add', s.reviewer, ?"
            " FROM temp.staged_tags s JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
            " WHERE NOT EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
            " AND a.example_id = s.example_id AND a.tag_id = m.tag_id"
            f" AND {self._present('a')}){where} ORDER BY s.example_id, s.tag_ix",
            (action, dataset_id, stamp, dataset_id, *params),
        )
        if stage:
            # No other row can hold these keys: one import per dataset is staged at a
            # time, and each pair is added once and had no row that counts.
            where, params = within("example_id")
            conn.execute(
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at, pending)"
                " SELECT dataset_id, example_id, tag_id, actor, at, action_id FROM tag_events"
                f" WHERE action_id = ? AND op = 'add'{where}"
                " ORDER BY action_id, op, example_id, tag_id",
                (action, *params),
            )

    def _settle_review_tags(
        self, conn: sqlite3.Connection, stage: _Stage, stamp: str, *, exact: bool
    ) -> None:
        """Complete a staged import's tags in its final transaction.

        Its events and assignments were decided against the state of their staging
        transaction. A pair that another action changed since (one committed after the
        stage began: one import per dataset is staged at a time) is decided again: its
        staged event goes (no reader has seen it) and, if the state differs from what the
        import wants, a new event is appended after the other action's. Every other staged
        event is still a real change at its place in the log, and its assignment counts as
        soon as the pending mark goes. Work in proportion to the changed pairs only (and,
        with ``exact``, to the tags removed).
        """
        tag_ids = [r[0] for r in conn.execute("SELECT tag_id FROM temp.staged_tag_ids")]
        for tag_id in tag_ids:  # made hidden, or deleted meanwhile: the import brings it back
            name, deleted = conn.execute(
                "SELECT name, deleted_at FROM tags WHERE id = ?", (tag_id,)
            ).fetchone()
            if deleted is not None:
                self._count_new_tag(conn, name)
                conn.execute("UPDATE tags SET deleted_at = NULL WHERE id = ?", (tag_id,))
        present = self._present("a")
        conn.execute("DELETE FROM temp.changed_pairs")
        conn.execute(
            "INSERT OR IGNORE INTO temp.changed_pairs SELECT example_id, tag_id FROM tag_events"
            " WHERE dataset_id = ? AND action_id IN (SELECT id FROM actions WHERE id > ?"
            f" AND {self._not_pending('id')})",
            (stage.dataset_id, stage.action),
        )
        conn.execute(
            "DELETE FROM tag_events WHERE action_id = ? AND op IN ('add', 'remove')"
            " AND (example_id, tag_id) IN (SELECT example_id, tag_id FROM temp.changed_pairs)",
            (stage.action,),
        )
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, c.example_id, c.tag_id, 'add', s.reviewer, ?"
            # CROSS JOIN keeps SQLite reading from the few changed pairs, not the import.
            " FROM temp.changed_pairs c CROSS JOIN temp.staged_tag_ids m ON m.tag_id = c.tag_id"
            " CROSS JOIN temp.staged_tags s ON s.example_id = c.example_id AND s.tag_ix = m.ix"
            " WHERE NOT EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
            f" AND a.example_id = c.example_id AND a.tag_id = c.tag_id AND {present})"
            " ORDER BY c.example_id, c.tag_id",
            (stage.action, stage.dataset_id, stamp, stage.dataset_id),
        )
        # Their assignments: new rows, or the import's own staged row made to count now.
        conn.execute(
            "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
            " SELECT dataset_id, example_id, tag_id, actor, at FROM tag_events"
            " WHERE action_id = ? AND op = 'add' AND (example_id, tag_id) IN"
            " (SELECT example_id, tag_id FROM temp.changed_pairs)"
            f" ORDER BY action_id, op, example_id, tag_id{self._take_over()}",
            (stage.action,),
        )
        if exact:
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, ?, c.example_id, c.tag_id, 'remove', e.reviewer, ?"
                " FROM temp.changed_pairs c CROSS JOIN temp.staged_examples e"
                " ON e.example_id = c.example_id"
                " WHERE NOT EXISTS (SELECT 1 FROM temp.staged_tags s"
                " JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
                " WHERE s.example_id = c.example_id AND m.tag_id = c.tag_id)"
                " AND EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
                f" AND a.example_id = c.example_id AND a.tag_id = c.tag_id AND {present})"
                " ORDER BY c.example_id, c.tag_id",
                (stage.action, stage.dataset_id, stamp, stage.dataset_id),
            )
            conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND (example_id, tag_id)"
                " IN (SELECT example_id, tag_id FROM tag_events WHERE action_id = ?"
                f" AND op = 'remove') AND {present}",
                (stage.dataset_id, stage.action),
            )

    def _check_run_unchanged(self, conn: sqlite3.Connection, dataset: str, info: RunInfo) -> None:
        row = conn.execute("SELECT imported_at FROM runs WHERE id = ?", (info.id,)).fetchone()
        if row is None or row[0] != info.imported_at:
            raise StoreError(
                f"run {info.name!r} of dataset {dataset!r} was re-imported while the reviews "
                "were being recorded; nothing was recorded, run the import again"
            )

    def _begin_stage(
        self, dataset: str, info: RunInfo, kind: str, actor: str, stamp: str, detail: dict,
        plan: _TagPlan | None,
    ) -> _Stage:  # fmt: skip
        self._discard_abandoned_stages()
        with self.write() as conn:
            self._check_run_unchanged(conn, dataset, info)
            dataset_id = self._dataset_id(dataset)
            other = conn.execute(
                "SELECT p.pid FROM pending_actions p JOIN actions ON actions.id = p.action_id"
                " WHERE actions.dataset_id = ?",
                (dataset_id,),
            ).fetchone()
            if other is not None:
                raise ProjectBusy(
                    f"another review import into dataset {dataset!r} is being recorded "
                    f"(process {other[0]}); nothing was changed, try again when it has "
                    "finished",
                    path=self.path,
                )
            action = self._action(conn, dataset_id, kind, actor, stamp, detail=detail)
            conn.execute(
                "INSERT INTO pending_actions (action_id, pid, host, started_at, touched_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (action, os.getpid(), socket.gethostname(), stamp, stamp),
            )
            if plan is not None:
                self._map_review_tags(conn, plan, actor, stamp, hidden=True)
        return _Stage(action, dataset_id)

    def _staged_write(self, stage: _Stage, write: Callable[[sqlite3.Connection], object]) -> None:
        """One short transaction of a staged import (under its pending action)."""
        started = time.perf_counter()
        with self.write() as conn:
            touched = conn.execute(
                "UPDATE pending_actions SET touched_at = ? WHERE action_id = ?",
                (now(), stage.action),
            ).rowcount
            if not touched:
                raise StoreError(
                    "the review import was discarded by another process while it was being "
                    "written (it looked abandoned); nothing was recorded, run it again"
                )
            write(conn)
        # Leave the lock free for about as long as it was held (at least a few of a waiting
        # writer's tries, see _begin_immediate), so a reviewer's write gets its turn.
        time.sleep(min(max(time.perf_counter() - started, 0.01), 0.05))

    def _check_stage_complete(self, conn: sqlite3.Connection, action: int, n: int) -> None:
        pending = conn.execute(
            "SELECT 1 FROM pending_actions WHERE action_id = ?", (action,)
        ).fetchone()
        staged = conn.execute(
            "SELECT count(*) FROM reviews WHERE action_id = ?", (action,)
        ).fetchone()[0]
        if pending is None or staged != n:
            raise StoreError(
                "the review import was discarded by another process while it was being "
                "written (it looked abandoned); nothing was recorded, run it again"
            )

    def _discard_stage(self, action: int) -> None:
        """Remove the rows of a review import that never completed, in short transactions;
        never touches an action that has completed (its pending mark is gone). Best
        effort: if the file is busy or failing, the next writer removes them."""
        with suppress(StoreError, sqlite3.Error):
            self._discard_stage_rows(action)

    def _discard_stage_rows(self, action: int) -> None:
        still_pending = "EXISTS (SELECT 1 FROM pending_actions WHERE action_id = ?)"
        # Reviews first: a live import checks their count before it completes.
        while True:
            with self.write() as conn:
                deleted = conn.execute(
                    "DELETE FROM reviews WHERE id IN (SELECT id FROM reviews"
                    f" WHERE action_id = ? AND {still_pending} LIMIT ?)",
                    (action, action, STAGE_ROWS),
                ).rowcount
            if not deleted:
                break
        # Then events with the staged assignments they made (those another writer took
        # over since have lost their pending mark and stay).
        first = (
            "SELECT {} FROM tag_events WHERE action_id = ? AND {} ORDER BY action_id, op,"
            " example_id, tag_id LIMIT ?"
        )
        while True:
            with self.write() as conn:
                conn.execute(
                    "DELETE FROM tag_assignments WHERE pending = ? AND (dataset_id, example_id,"
                    f" tag_id) IN ({first.format('dataset_id, example_id, tag_id', still_pending)})",
                    (action, action, action, STAGE_ROWS),
                )
                deleted = conn.execute(
                    f"DELETE FROM tag_events WHERE id IN ({first.format('id', still_pending)})",
                    (action, action, STAGE_ROWS),
                ).rowcount
            if not deleted:
                break
        with self.write() as conn:
            if conn.execute("DELETE FROM pending_actions WHERE action_id = ?", (action,)).rowcount:
                conn.execute("DELETE FROM actions WHERE id = ?", (action,))

    def _discard_abandoned_stages(self) -> None:
        stages = self._conn.execute(
            "SELECT action_id, pid, host, touched_at FROM pending_actions"
        ).fetchall()
        host = socket.gethostname()
        for action, pid, stage_host, touched_at in stages:
            silent = datetime.now(UTC) - datetime.fromisoformat(touched_at)
            if (stage_host == host and not _pid_alive(pid)) or silent > STAGE_ABANDONED_AFTER:
                self._discard_stage(action)

    @_guarded
    def reviews(self, dataset: str, *, include_retracted: bool = False) -> pd.DataFrame:
        """Reviews of a dataset: example_id, reviewer, at, run, stratum, note, label_wrong,
        corrected_label, queue (one row per review; an example may have several)."""
        sql = (
            "SELECT example_id, reviewer, at, runs.name AS run, stratum, note,"
            " label_wrong, corrected_label, queue, retracted_by FROM reviews"
            " LEFT JOIN runs ON runs.id = run_id WHERE reviews.dataset_id = ?"
            f" AND {self._not_pending('reviews.action_id')}"
        )
        if not include_retracted:
            sql += " AND retracted_by IS NULL"
        frame = self._query(sql + " ORDER BY reviews.id", (self._dataset_id(dataset),))
        frame["label_wrong"] = frame["label_wrong"].astype(bool)
        return frame


def _values(frame: pd.DataFrame, column: str, n: int) -> list:
    """A column as plain Python values (None where missing, or for a missing column)."""
    if column not in frame.columns:
        return [None] * n
    series = frame[column]
    missing = series.isna().to_numpy()
    return [None if m else v for v, m in zip(series.astype(object).tolist(), missing, strict=True)]


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def open_project(
    path: str | Path,
    *,
    readonly: bool = False,
    create: bool = True,
    timeout: float = 30.0,
    migrate: bool = True,
) -> Project:
    """Open the project file at ``path``, checked first by :func:`check_project_file`.

    By default a missing file is created and an older one migrated; ``create=False``
    refuses a missing file, and ``readonly=True`` reads without writing anything.
    """
    return Project(path, readonly=readonly, create=create, timeout=timeout, migrate=migrate)
