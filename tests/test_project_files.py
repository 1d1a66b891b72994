"""Which files open as projects: bad files are refused untouched, read-only opens write
nothing, old projects still open, and a busy or failing file is a clear error."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from store_support import add_run, numbered_frame

from erroranalysis.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    ProjectBusy,
    ProjectFileError,
    StoreError,
    check_project_file,
    open_project,
)
from erroranalysis.store.common import _frame_to_blob
from erroranalysis.store.schema import _MIGRATIONS

REPO = Path(__file__).resolve().parent.parent


def make_project(path: Path, n: int = 2000) -> Path:
    """A project of this version with a dataset, a tag and a review, closed cleanly."""
    with open_project(path) as p:
        add_run(p, "dev", numbered_frame(n))
        p.dataset("dev").set_tag("1", "car noise", actor="ana")
        p.dataset("dev").record_review("2", reviewer="ana", tags=["blurry"])
    return path


def make_legacy(path: Path, version: int) -> Path:
    """A project as versions 1 and 2 wrote it: no application id, WAL, some history."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("BEGIN")
    for v in range(1, version + 1):
        for statement in _MIGRATIONS[v].split(";"):
            if statement.strip():
                conn.execute(statement)
    blob = _frame_to_blob(numbered_frame(10))
    v1_review = "INSERT INTO reviews VALUES (?, 1, 1, 1, ?, 'ana', '2026-01-01', ?, NULL"
    for statement, params in (
        ("INSERT INTO datasets VALUES (1, 'dev', '2026-01-01', 'ana')", ()),
        (
            "INSERT INTO runs VALUES (1, 1, 'main', 'dev.csv', 'csv', NULL, 10, 4, '[]',"
            " '[]', '2026-01-01', 'ana', ?)",
            (blob,),
        ),
        (
            "INSERT INTO tags (id, name, hlp, created_at, created_by)"
            " VALUES (1, 'car noise', 0.9, '2026-01-01', 'ana')",
            (),
        ),
        (
            "INSERT INTO actions VALUES (1, 1, 'reviews_import', 'ana', '2026-01-01', NULL, '{}')",
            (),
        ),
        ("INSERT INTO tag_events VALUES (1, 1, 1, '0', 1, 'add', 'ana', '2026-01-01')", ()),
        ("INSERT INTO tag_events VALUES (2, 1, 1, '3', 1, 'add', 'ana', '2026-01-01')", ()),
        ("INSERT INTO tag_assignments VALUES (1, '0', 1, 'ana', '2026-01-01')", ()),
        ("INSERT INTO tag_assignments VALUES (1, '3', 1, 'ana', '2026-01-01')", ()),
    ):
        conn.execute(statement, params)
    for i, (example, stratum) in enumerate([("0", "error"), ("3", "error"), ("1", "correct")]):
        if version == 1:
            conn.execute(v1_review + ")", (i + 1, example, stratum))
        else:
            conn.execute(v1_review + ", 'seen', 0, NULL, 'import')", (i + 1, example, stratum))
    conn.execute(f"PRAGMA user_version = {version}")
    conn.execute("COMMIT")
    conn.close()
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def listing(folder: Path) -> list[str]:
    return sorted(os.listdir(folder))


def snapshot(folder: Path) -> dict[str, str]:
    """Every file of the folder (and one level below) with its content hash."""
    out = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            full = Path(root) / name
            out[str(full.relative_to(folder))] = sha256(full) if full.is_file() else "<dir>"
    return out


# ---------------------------------------------------------------- bad project files
def text_file(folder: Path) -> Path:
    path = folder / "dev.csv"
    path.write_text("id,label,prediction\n1,a,b\n", encoding="utf-8")
    return path


def random_bytes(folder: Path) -> Path:
    path = folder / "noise.db"
    path.write_bytes(random.Random(0).randbytes(8192))
    return path


def truncated_mid_page(folder: Path) -> Path:
    path = make_project(folder / "p.db")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 + 100])
    return path


def truncated_at_a_page(folder: Path) -> Path:
    path = make_project(folder / "p.db")
    data = path.read_bytes()
    path.write_bytes(data[: 4096 * 4])
    return path


def header_only(folder: Path) -> Path:
    path = folder / "p.db"
    path.write_bytes(make_project(folder / "full.db").read_bytes()[:60])
    (folder / "full.db").unlink()
    return path


def damaged_legacy(folder: Path) -> Path:
    """A version-2 project (no mark, so SQLite checks it) with a page overwritten."""
    path = make_legacy(folder / "old.db", 2)
    data = bytearray(path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    data[2 * page_size : 3 * page_size] = random.Random(1).randbytes(page_size)
    path.write_bytes(bytes(data))
    return path


def bad_page_size(folder: Path) -> Path:
    path = make_project(folder / "p.db")
    data = bytearray(path.read_bytes())
    data[16:18] = (1000).to_bytes(2, "big")
    path.write_bytes(bytes(data))
    return path


def other_application(journal_mode: str, application_id: int = 0) -> Callable[[Path], Path]:
    def build(folder: Path) -> Path:
        path = folder / "other.sqlite"
        conn = sqlite3.connect(path)
        conn.execute(f"PRAGMA journal_mode = {journal_mode}")
        conn.execute(f"PRAGMA application_id = {application_id}")
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me as I am')")
        conn.commit()
        conn.close()
        return path

    return build


def other_application_with_our_table_names(folder: Path) -> Path:
    # Our table names at a version we never wrote without the mark: not ours.
    path = folder / "lookalike.db"
    conn = sqlite3.connect(path)
    for table in ("meta", "runs", "tags", "actions"):
        conn.execute(f"CREATE TABLE {table} (x)")
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()
    return path


def empty_sqlite(folder: Path) -> Path:
    path = folder / "blank.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA user_version = 0")
    conn.execute("VACUUM")  # writes the header, no tables
    conn.close()
    return path


def newer_version(folder: Path) -> Path:
    path = make_project(folder / "future.db")
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    return path


def a_folder(folder: Path) -> Path:
    path = folder / "project.db"
    path.mkdir()
    (path / "inside.txt").write_text("x")
    return path


def empty_file(folder: Path) -> Path:
    path = folder / "p.db"
    path.touch()
    return path


def missing_folder(folder: Path) -> Path:
    return folder / "missing" / "dir" / "p.db"


def a_file_as_folder(folder: Path) -> Path:
    (folder / "notes.txt").write_text("x")
    return folder / "notes.txt" / "p.db"


# One bad file per row (what it is, how it is made, what the error says): a table reads
# better unwrapped.
BAD_FILES = [
    ("text file", text_file, r"dev\.csv is not an SQLite file, so it is not a project"),
    ("random bytes", random_bytes, "noise.db is not an SQLite file"),
    ("truncated mid-page", truncated_mid_page, r"p\.db is truncated or damaged: its size"),
    ("truncated at a page", truncated_at_a_page, r"truncated or damaged: its header says [0-9,]+ bytes, the file has 16,384"),
    ("header cut short", header_only, r"truncated or damaged: its header is cut short \(60"),
    ("damaged page", damaged_legacy, "old.db is truncated or damaged: SQLite's check found"),
    ("bad page size", bad_page_size, r"damaged SQLite header \(page size 1000\)"),
    ("other app", other_application("delete"), "is an SQLite database of another application"),
    ("other app, WAL", other_application("wal"), "is an SQLite database of another application"),
    ("other app, own id", other_application("delete", 0x12345), "of another application"),
    ("our table names", other_application_with_our_table_names, "of another application"),
    ("empty SQLite", empty_sqlite, r"empty SQLite database \(no tables\), not a project"),
    ("newer version", newer_version, rf"newer version .*schema version {SCHEMA_VERSION + 1}.*upgrade"),
    ("a folder", a_folder, r"project\.db is a folder, not a project file"),
    ("empty file", empty_file, r"p\.db is empty \(0 bytes\), not a project file"),
    ("missing folder", missing_folder, r"the folder .*missing/dir does not exist"),
    ("file as folder", a_file_as_folder, "a part of this path is a file, not a folder"),
]  # fmt: skip

OPENERS = {
    "open for writing": lambda path: open_project(path),
    "open read-only": lambda path: open_project(path, readonly=True),
    "open existing only": lambda path: open_project(path, create=False),
    "check only": check_project_file,
}


@pytest.mark.parametrize("opener", OPENERS.values(), ids=OPENERS.keys())
@pytest.mark.parametrize(
    ("build", "message"), [b[1:] for b in BAD_FILES], ids=[b[0] for b in BAD_FILES]
)
def test_a_bad_file_is_refused_and_left_as_it_was(tmp_path, build, message, opener):
    path = build(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ProjectFileError, match=message) as raised:
        opener(path)
    assert "nothing was" in str(raised.value)
    assert Path(raised.value.path) == path
    assert snapshot(tmp_path) == before  # same bytes, no -wal, -shm or -journal


def test_a_path_with_a_nul_is_refused(tmp_path):
    with pytest.raises(ProjectFileError, match="contains a NUL character"):
        open_project(f"{tmp_path}/p\x00.db")
    assert listing(tmp_path) == []


def test_the_mark_is_the_bytes_eawb_in_every_new_file(tmp_path):
    path = make_project(tmp_path / "p.db")
    assert APPLICATION_ID.to_bytes(4, "big") == b"EAwb"
    header = path.read_bytes()[:100]
    assert header[68:72] == b"EAwb"
    assert int.from_bytes(header[60:64], "big") == SCHEMA_VERSION
    assert check_project_file(path) == SCHEMA_VERSION


def test_a_new_file_appears_complete_and_leaves_no_draft(tmp_path):
    path = tmp_path / "p.db"
    assert check_project_file(path) is None  # may be created
    with open_project(path) as p:
        assert p.schema_version == SCHEMA_VERSION
        assert not [f for f in listing(tmp_path) if ".draft-" in f]
    assert listing(tmp_path) == ["p.db"]


def test_a_draft_left_by_a_killed_creation_is_removed(tmp_path):
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    draft = tmp_path / f".p.db.draft-{dead}-abcd1234"
    draft.write_bytes(b"half a project")
    mine = tmp_path / f".p.db.draft-{os.getpid()}-abcd1234"  # a live process's: kept
    mine.write_bytes(b"in progress")
    open_project(tmp_path / "p.db").close()
    assert listing(tmp_path) == sorted(["p.db", mine.name])


# ---------------------------------------------------------------- read-only opening
def test_read_only_open_reads_and_writes_nothing(tmp_path):
    path = make_project(tmp_path / "p.db")
    digest = sha256(path)
    with open_project(path, readonly=True) as p:
        assert p.readonly
        assert p.dataset_names() == ["dev"]
        assert p.dataset("dev").example_tags("1") == ["car noise"]
        assert p.dataset("dev").reviews().example_id.tolist() == ["2"]
        assert p.schema_version == SCHEMA_VERSION
        for write in (
            lambda: p.dataset("dev").set_tag("1", "x", actor="ana"),
            lambda: p.define_tag("x", actor="ana", hlp=0.5),
            lambda: p.dataset("dev").undo(actor="ana"),
            lambda: p.dataset("dev").record_review("1", reviewer="ana"),
            lambda: p.write().__enter__(),
        ):
            with pytest.raises(StoreError, match="is open read-only; nothing was changed"):
                write()
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            p._conn.execute("CREATE TABLE sneaky (x)")  # even around the API: mode=ro
    assert sha256(path) == digest


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"readonly": True}, r"no project file at .*p\.db \(nothing was created"),
        ({"create": False}, r"no project file at .*p\.db \(nothing was created"),
    ],
)
def test_a_missing_file_is_not_created_when_asked_not_to(tmp_path, options, message):
    with pytest.raises(ProjectFileError, match=message):
        open_project(tmp_path / "p.db", **options)
    assert listing(tmp_path) == []


def test_read_only_sees_changes_still_in_the_wal(tmp_path):
    path = make_project(tmp_path / "p.db")
    with open_project(path) as writer:  # kept open: its changes stay in p.db-wal
        writer.dataset("dev").set_tag("5", "late", actor="ben")
        assert (tmp_path / "p.db-wal").stat().st_size > 0
        with open_project(path, readonly=True) as reader:
            assert reader.dataset("dev").example_tags("5") == ["late"]


def test_a_version_2_project_reads_without_being_changed(tmp_path):
    path = make_legacy(tmp_path / "old.db", 2)
    before = snapshot(tmp_path)
    with open_project(path, readonly=True) as p:
        assert p.schema_version == 2
        assert p.dataset("dev").reviews().example_id.tolist() == ["0", "3", "1"]
        assert sorted(p.dataset("dev").tag_assignments().example_id) == ["0", "3"]
        assert p.tag_definitions().tag.tolist() == ["car noise"]
        assert p.actions().kind.tolist() == ["reviews_import"]
    after = snapshot(tmp_path)
    assert after["old.db"] == before["old.db"]  # SQLite may add its -wal/-shm, nothing else
    assert set(after) - set(before) <= {"old.db-wal", "old.db-shm"}
    header = path.read_bytes()[:100]
    assert header[68:72] == bytes(4) and int.from_bytes(header[60:64], "big") == 2


def test_a_version_1_project_must_be_opened_for_writing_first(tmp_path):
    path = make_legacy(tmp_path / "old.db", 1)
    before = snapshot(tmp_path)
    with pytest.raises(
        ProjectFileError, match=r"older version \(schema version 1\): open it once for writing"
    ):
        open_project(path, readonly=True)
    assert snapshot(tmp_path) == before
    open_project(path).close()  # the upgrade
    with open_project(path, readonly=True) as p:
        assert p.schema_version == SCHEMA_VERSION


@pytest.mark.parametrize("version", [1, 2])
def test_an_old_project_opened_for_writing_is_marked_and_keeps_its_history(tmp_path, version):
    path = make_legacy(tmp_path / "old.db", version)
    with open_project(path) as p:
        assert p.schema_version == SCHEMA_VERSION
        assert p._conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        assert p.dataset("dev").reviews().example_id.tolist() == ["0", "3", "1"]
        assert p.dataset("dev").tag_events().example_id.tolist() == ["0", "3"]
        assert p.dataset("dev").undo(actor="ana")["kind"] == "reviews_import"
        assert p.dataset("dev").reviews().empty and p.dataset("dev").tag_assignments().empty
        pd.testing.assert_frame_equal(
            p.dataset("dev").replay_tags(),
            p.dataset("dev").tag_assignments()[["example_id", "tag"]],
        )
    assert check_project_file(path) == SCHEMA_VERSION  # now recognised from its header


# ---------------------------------------------------------------- a file we cannot write
@pytest.fixture
def unwritable_folder() -> Iterator[Path]:
    """A folder (and project in it) this test's child process may read but not write."""
    folder = Path(tempfile.mkdtemp(prefix="ea-readonly-"))
    try:
        make_project(folder / "p.db")
        os.chmod(folder / "p.db", 0o444)
        os.chmod(folder, 0o555)
        yield folder
    finally:
        os.chmod(folder, 0o755)
        shutil.rmtree(folder)


def run_unprivileged(code: str) -> subprocess.CompletedProcess:
    """Run Python as a user that cannot write the folder: root ignores file modes, so as
    root the child drops to ``nobody`` with setpriv (util-linux)."""
    command = [sys.executable, "-c", code]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            if os.environ.get("CI"):
                pytest.fail("setpriv (util-linux) is needed to drop root in this test")
            pytest.skip("setpriv is not installed")
        command = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", *command]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", timeout=120)


def test_a_file_the_process_cannot_write_opens_read_only(unwritable_folder):
    before = snapshot(unwritable_folder)
    child = run_unprivileged(
        "from erroranalysis.store import open_project\n"
        f"with open_project({str(unwritable_folder / 'p.db')!r}, readonly=True) as p:\n"
        "    print(p.dataset_names(), p.dataset('dev').example_tags('1'), len(p.dataset('dev').reviews()))\n"
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "['dev'] ['car noise'] 1"
    assert snapshot(unwritable_folder) == before  # immutable read: not even a -shm


def test_opening_an_unwritable_file_for_writing_is_a_clear_error(unwritable_folder):
    before = snapshot(unwritable_folder)
    child = run_unprivileged(
        "from erroranalysis.store import open_project, ProjectFileError\n"
        "try:\n"
        f"    open_project({str(unwritable_folder / 'p.db')!r})\n"
        "except ProjectFileError as err:\n"
        "    print(err)\n"
    )
    assert child.returncode == 0, child.stderr
    assert "cannot be written here" in child.stdout and "nothing was changed" in child.stdout
    assert snapshot(unwritable_folder) == before


# ---------------------------------------------------------------- busy and failing files
@pytest.fixture
def project_path(tmp_path) -> Path:
    return make_project(tmp_path / "p.db")


@pytest.fixture
def lock_holder(project_path) -> Iterator[sqlite3.Connection]:
    """Another connection in the middle of a write (holding the write lock)."""
    conn = sqlite3.connect(project_path, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("UPDATE meta SET value = value WHERE key = 'revision'")
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


BUSY = "the project file is busy: another change is being written; nothing was changed, try again"


def test_a_busy_project_is_a_plain_error_and_nothing_changes(project_path, lock_holder):
    with open_project(project_path, timeout=0.2) as p:
        events = len(p.dataset("dev").tag_events())
        start = time.perf_counter()
        with pytest.raises(ProjectBusy) as raised:
            p.dataset("dev").set_tag("7", "car noise", actor="ben")
        assert time.perf_counter() - start < 5
        assert str(raised.value) == BUSY
        assert isinstance(raised.value, StoreError)
        lock_holder.execute("ROLLBACK")
        lock_holder.execute("BEGIN")  # for the fixture's ROLLBACK
        assert len(p.dataset("dev").tag_events()) == events
        assert (
            p.dataset("dev").set_tag("7", "car noise", actor="ben") is not None
        )  # the retry works


def test_a_short_busy_timeout_for_one_block(project_path, lock_holder):
    with open_project(project_path) as p:  # waits 30 s by default
        start = time.perf_counter()
        with p.busy_timeout(0.1), pytest.raises(ProjectBusy, match="try again"):
            p.define_tag("car noise", actor="lead", hlp=0.5)
        assert time.perf_counter() - start < 5
        assert p._conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000  # restored


@pytest.mark.parametrize(
    "write",
    [
        lambda p: p.dataset("dev").set_tag("7", "x", actor="ben"),
        lambda p: p.dataset("dev").record_review("7", reviewer="ben", tags=["x"]),
        lambda p: p.define_tags(
            pd.DataFrame({"tag": ["x"], "hlp": [0.5], "effort": [1.0], "description": [""]}),
            actor="ben",
        ),
        lambda p: p.dataset("dev").undo(actor="ana"),
        lambda p: p.delete_tag("car noise", actor="ben"),
        lambda p: add_run(p, "dev", numbered_frame(10), replace=True),
    ],
    ids=["set_tag", "record_review", "define_tags", "undo", "delete_tag", "import_run"],
)
def test_every_write_reports_busy_the_same_way(project_path, lock_holder, write):
    with open_project(project_path, timeout=0.05) as p, pytest.raises(ProjectBusy):
        write(p)


def test_a_project_that_fails_while_open_names_its_file(project_path):
    with open_project(project_path) as p:
        data = bytearray(project_path.read_bytes())
        page_size = int.from_bytes(data[16:18], "big")
        data[2 * page_size :] = random.Random(2).randbytes(len(data) - 2 * page_size)
        project_path.write_bytes(bytes(data))  # damaged under the open project
        with pytest.raises(ProjectFileError, match=r"p\.db failed: it is damaged") as raised:
            p.dataset("dev").examples()
        assert raised.value.path == project_path
        assert isinstance(raised.value.__cause__, sqlite3.DatabaseError)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (other_application("wal"), "of another application"),
        (truncated_mid_page, "truncated or damaged"),
        (a_folder, "is a folder"),
    ],
    ids=["other app", "damaged project", "a folder"],
)
def test_rebuilding_the_demo_never_deletes_what_is_not_a_project(tmp_path, build, message):
    from erroranalysis.demo import build_demo

    path = build(tmp_path)
    before = snapshot(tmp_path)
    with pytest.raises(ProjectFileError, match=message):
        build_demo(path, force=True)
    assert snapshot(tmp_path) == before


def test_opening_a_project_again_keeps_the_locks_of_the_first_connection(tmp_path):
    """Closing any descriptor of a file drops the process's POSIX locks on it. A second
    open in this process must not read the file itself while a first connection is open:
    else another process that writes and closes believes it is the last one, removes the
    -wal and -shm, and the first connection fails with a disk I/O error."""
    path = tmp_path / "p.db"
    open_project(path).close()
    first = open_project(path)
    first.revision()
    open_project(path).close()
    open_project(path, readonly=True).close()
    writer = (
        "import sys\n"
        "import pandas as pd\n"
        "from erroranalysis.store import open_project\n"
        "with open_project(sys.argv[1]) as p:\n"
        "    p.define_tags(pd.DataFrame({'tag': ['from another process'], 'hlp': [0.9], 'effort': [1.0], 'description': ['']}), actor='ben')\n"
    )
    subprocess.run(
        [sys.executable, "-c", writer, str(path)], check=True, cwd=Path(__file__).parent.parent
    )
    assert Path(f"{path}-shm").exists(), "another process removed the -shm under an open project"
    first.define_tags(
        pd.DataFrame({"tag": ["after"], "hlp": [0.8], "effort": [1.0], "description": [""]}),
        actor="ana",
    )
    assert set(first.tag_definitions()["tag"]) >= {"from another process", "after"}
    first.close()
