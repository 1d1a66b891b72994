"""Recognising a project file before SQLite touches it, making a new one, and the
expected errors that a SQLite failure stands for once it is open."""

from __future__ import annotations

import functools
import os
import secrets
import sqlite3
import stat
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from ..errors import ProjectBusy, ProjectFileError, StoreError
from ..vocabulary import show
from .schema import (
    _LEGACY_TABLES,
    _LEGACY_VERSIONS,
    APPLICATION_ID,
    SCHEMA_VERSION,
    _apply_migration,
)

if TYPE_CHECKING:
    from .project import Project


_SQLITE_MAGIC = b"SQLite format 3\x00"

# The files this process has open as projects, by (device, inode), with how many
# connections each. Closing *any* descriptor of a file drops every POSIX lock the process
# holds on it, SQLite's included (fcntl semantics): reading the header of a file that one
# of our connections has locked would let another process write under that connection.
# SQLite itself defers such closes; for these files we ask SQLite instead of reading.
_OPEN_FILES: dict[tuple[int, int], int] = {}
_OPEN_FILES_LOCK = threading.Lock()


def _file_key(info: os.stat_result) -> tuple[int, int]:
    return (info.st_dev, info.st_ino)


def _opened(key: tuple[int, int] | None, delta: int) -> None:
    # ``key``: the file as it was when opened (see _file_of), so that closing it counts
    # down the same file even when its path names another one by then.
    if key is None:
        return
    with _OPEN_FILES_LOCK:
        count = _OPEN_FILES.get(key, 0) + delta
        if count > 0:
            _OPEN_FILES[key] = count
        else:
            _OPEN_FILES.pop(key, None)


def _file_of(path: Path) -> tuple[int, int] | None:
    """Which file ``path`` names now (device and inode; None when it names none)."""
    try:
        return _file_key(path.stat())
    except OSError:
        return None


def _open_here(info: os.stat_result) -> bool:
    with _OPEN_FILES_LOCK:
        return _file_key(info) in _OPEN_FILES


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
        application_id == 0
        and tables is not None
        and tables >= _LEGACY_TABLES
        and version in _LEGACY_VERSIONS
    ):
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
        err,
        sqlite3.IntegrityError
        | sqlite3.ProgrammingError
        | sqlite3.InterfaceError
        | sqlite3.DataError
        | sqlite3.NotSupportedError,
    ):
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
