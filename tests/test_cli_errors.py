"""Every subcommand x every bad argument: a message, exit code 1, and nothing touched.

The table of commands is read from :func:`erroranalysis.cli.build_parser` itself, so a new
command without a row here fails :func:`test_every_command_is_in_the_table`. Each case runs
the command in-process (a few through the real entry point) and asserts: exit code 1, a
message naming the problem, no traceback, every file of the test folder byte-for-byte as
it was (the project, the bad ``--db`` file itself), and no file appeared (no output, no
``-wal``, no temporary file).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from erroranalysis import cli
from erroranalysis.cli import build_parser, main

DATA = "id,label,prediction,noise\n1,yes,yes,car\n2,no,yes,clean\n3,no,no,car\n"
REVIEWS = "id,reviewer,tags\n2,ana,car noise\n"
TAGS = "tag,hlp\ncar noise,0.9\n"


def leaf_commands(parser) -> list[tuple[str, ...]]:
    """Every runnable command of the parser, as the words that name it."""
    found = []
    for action in parser._actions:
        if action.__class__.__name__ == "_SubParsersAction":
            for name, sub in action.choices.items():
                found += [(name, *rest) for rest in leaf_commands(sub) or [()]]
    return found


@dataclass(frozen=True)
class Command:
    args: list[str]  # what the command needs besides --db
    names: tuple[str, ...]  # the name flags it takes
    file: str | None = None  # the input file it reads, if any
    out: bool = False  # whether it takes --out
    creates: bool = False  # whether it may create a missing project file
    db: bool = True  # whether it takes --db (open takes a bundle instead)


COMMANDS = {
    ("import",): Command(["--dataset", "new"], ("--dataset", "--run", "--actor"), "data.csv",
                         creates=True),
    ("reviews", "import"): Command(["--dataset", "dev"], ("--dataset", "--run", "--actor"),
                                   "reviews.csv"),
    ("tags", "import"): Command([], ("--dataset", "--actor"), "tags.csv"),
    ("tags", "list"): Command([], ("--dataset",), out=True),
    ("tags", "scope"): Command(["car noise", "--dataset", "dev"], ("--dataset", "--actor")),
    ("tags", "order"): Command(["car noise"], ("--dataset", "--actor")),
    ("datasets",): Command([], ("--dataset",), out=True),
    ("priorities",): Command(["--dataset", "dev"], ("--dataset", "--run"), out=True),
    ("export",): Command(["examples", "--dataset", "dev", "--out", "out.csv"],
                         ("--dataset", "--run", "--baseline", "--tag"), out=True),
    ("slices",): Command(["--dataset", "dev", "--by", "noise"], ("--dataset", "--run"), out=True),
    ("clusters",): Command(["--dataset", "dev"], ("--dataset", "--run", "--actor"), out=True),
    ("discover",): Command(["--dataset", "dev"], ("--dataset", "--run", "--actor"), out=True),
    ("compare",): Command(["--dataset", "dev", "--runs", "main", "v2"], ("--dataset",), out=True),
    ("drift",): Command(["--dataset", "dev", "--against", "prod"],
                        ("--dataset", "--run", "--against", "--against-run"), out=True),
    ("agreement",): Command(["--dataset", "dev"], ("--dataset",), out=True),
    ("sample",): Command(["--dataset", "dev", "--size", "1", "--out", "sample.csv"],
                         ("--dataset", "--run", "--actor"), out=True),
    ("undo",): Command(["--dataset", "dev", "--actor", "ana"], ("--dataset", "--actor")),
    ("log",): Command([], ("--dataset", "--who"), out=True),
    ("roles", "set"): Command(["ana", "admin"], ("--dataset", "--actor")),
    ("roles", "list"): Command([], ("--dataset",), out=True),
    ("second-reviews", "set"): Command(["--dataset", "dev", "--share", "0.1"],
                                       ("--dataset", "--actor")),
    ("second-reviews", "show"): Command(["--dataset", "dev"], ("--dataset",)),
    ("demo",): Command(["--force"], ("--dataset",), creates=True),
    ("serve",): Command(["--port", "PORT"], ("--dataset",)),
    ("media", "relink"): Command(["--dataset", "dev", "--root", "."],
                                 ("--dataset", "--run", "--actor")),
    ("sql-rows",): Command(["--dataset", "dev"], ("--dataset", "--run", "--actor")),
    ("bundle",): Command(["--out", "b.zip"], ("--dataset", "--actor"), out=True),
    ("open",): Command([], (), db=False),
}  # fmt: skip


def test_every_command_is_in_the_table():
    assert sorted(leaf_commands(build_parser())) == sorted(COMMANDS)


# ---------------------------------------------------------------------- the folder
@pytest.fixture(scope="module")
def project_bytes(tmp_path_factory) -> bytes:
    folder = tmp_path_factory.mktemp("cli-project")
    (folder / "d.csv").write_text(DATA)
    (folder / "r.csv").write_text(REVIEWS)
    db = folder / "p.db"
    assert main(["import", str(folder / "d.csv"), "--db", str(db), "--dataset", "dev"]) == 0
    assert (
        main(["reviews", "import", str(folder / "r.csv"), "--db", str(db), "--dataset", "dev"]) == 0
    )
    return db.read_bytes()


@pytest.fixture
def folder(tmp_path, project_bytes) -> Path:
    (tmp_path / "p.db").write_bytes(project_bytes)
    (tmp_path / "data.csv").write_text(DATA)
    (tmp_path / "reviews.csv").write_text(REVIEWS)
    (tmp_path / "tags.csv").write_text(TAGS)
    return tmp_path


# SQLite's companions of the good project: a reader of a WAL file makes them when it can
# (and must, to see what a writer is committing); the project file itself never changes.
COMPANIONS = {"p.db-wal", "p.db-shm"}


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``, with a digest of each file's bytes."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if key in COMPANIONS:
            continue
        if path.is_fifo():
            found[key] = "fifo"
        elif path.is_dir():
            found[key] = "folder"
        else:
            found[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def other_sqlite(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("INSERT INTO notes (body) VALUES ('keep me')")
    conn.close()


# Each kind of bad --db: (make it in the folder -> its path, a fragment of the message).
BAD_DB: dict[str, tuple[Callable[[Path], Path], str]] = {
    "text file": (lambda f: _write(f / "notes.txt", "id,label\n1,a\n"), "not an SQLite file"),
    "random bytes": (lambda f: _write(f / "junk.db", os.urandom(4096)), "not an SQLite file"),
    "folder": (lambda f: _mkdir(f / "a-folder"), "is a folder, not a project file"),
    "missing folder": (lambda f: f / "no-such-folder" / "p.db", "does not exist"),
    "another app's SQLite": (
        lambda f: (other_sqlite(f / "other.db"), f / "other.db")[1],
        "an SQLite database of another application",
    ),
    "truncated project": (
        lambda f: _write(f / "cut.db", (f / "p.db").read_bytes()[:5000]),
        "truncated or damaged",
    ),
    "missing file": (lambda f: f / "missing.db", "no project file at"),
}


def _write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        path.write_text(content)
    else:
        path.write_bytes(content)
    return path


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


BAD_NAMES = {
    "control character": ("a\x07b", "contains control characters"),
    "direction override": ("exe\u202etxt", "Unicode direction controls"),
    "5,000 characters": ("n" * 5000, "longer than 100 characters"),
    "empty": ("  ", "name is empty"),
}
BAD_ENCODINGS = {
    "bogus": "unknown text encoding 'bogus'",
    "rot13": "'rot13' is a codec but not a text encoding",
    "base64": "'base64' is a codec but not a text encoding",
}


def _input_kinds() -> dict[str, tuple[Callable[[Path], Path], str]]:
    return {
        "missing input": (lambda f: f / "nope.csv", "no such file"),
        "input is a folder": (lambda f: _mkdir(f / "in-folder.csv"), "is a folder"),
        "input is a FIFO": (
            lambda f: (os.mkfifo(f / "fifo.csv"), f / "fifo.csv")[1],
            "is not a regular file",
        ),
    }


BAD_OUT: dict[str, tuple[Callable[[Path], Path], str]] = {
    "out is a folder": (lambda f: _mkdir(f / "out-folder"), "is a folder; name the file"),
    "out in a missing folder": (lambda f: f / "gone" / "out.csv", "does not exist"),
    "out is the project": (lambda f: f / "p.db", "is the project file"),
    "out unwritable": (lambda f: Path("/sys/out.csv"), "cannot write in /sys"),
}


@dataclass(frozen=True)
class Case:
    command: tuple[str, ...]
    name: str
    build: Callable[[Path], list[str]]  # the whole argument list, given the folder
    expected: str | tuple[str, ...]  # what the message says (every fragment)


def _args(
    command: tuple[str, ...],
    spec: Command,
    folder: Path,
    *,
    db: Path | None = None,
    file: Path | None = None,
    extra: list[str] = (),
) -> list[str]:
    words = list(command)
    if spec.file:
        words.append(str(file or folder / spec.file))
    if spec.db:
        words += ["--db", str(db or folder / "p.db")]
    words += [*spec.args, *extra]
    return [free_port() if word == "PORT" else word for word in words]


def free_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return str(probe.getsockname()[1])


def _replace(words: list[str], flag: str, value: str) -> list[str]:
    if flag in words:
        at = words.index(flag)
        return [*words[: at + 1], value, *words[at + 2 :]]
    return [*words, flag, value]


def cases() -> list[Case]:
    table: list[Case] = []
    for command, spec in COMMANDS.items():

        def add(name, build, expected, command=command):
            table.append(Case(command, name, build, expected))

        for kind, (make, expected) in BAD_DB.items() if spec.db else ():
            if kind == "missing file" and spec.creates:
                continue  # import and demo create a missing project
            add(
                f"--db {kind}",
                lambda f, s=spec, c=command, m=make: _args(c, s, f, db=m(f)),
                expected,
            )
        for flag in spec.names:
            for kind, (value, expected) in BAD_NAMES.items():
                add(
                    f"{flag} {kind}",
                    lambda f, s=spec, c=command, fl=flag, v=value: _replace(_args(c, s, f), fl, v),
                    (f"error: {flag}: ", expected),
                )
        if spec.file:
            for encoding, expected in BAD_ENCODINGS.items():
                add(
                    f"--encoding {encoding}",
                    lambda f, s=spec, c=command, e=encoding: _args(
                        c, s, f, extra=["--encoding", e]
                    ),
                    expected,
                )
            for kind, (make, expected) in _input_kinds().items():
                add(kind, lambda f, s=spec, c=command, m=make: _args(c, s, f, file=m(f)), expected)
        if spec.out:
            for kind, (make, expected) in BAD_OUT.items():
                add(
                    kind,
                    lambda f, s=spec, c=command, m=make: _args(c, s, f, extra=["--out", str(m(f))]),
                    expected,
                )
    return table


def _on_project(folder: Path, words: tuple[str, ...], *extra: str) -> list[str]:
    """``words`` (the command and its input file, if any), ``--db`` naming the folder's
    project, then ``extra``."""
    return [*words, "--db", str(folder / "p.db"), *extra]


def _relink(folder: Path, *extra: str) -> list[str]:
    return _on_project(folder, ("media", "relink"), "--dataset", "dev", *extra)


EXTRA = [
    Case(
        ("slices",),
        "--by an unknown column",
        lambda f: _on_project(f, ("slices",), "--dataset", "dev", "--by", "nope"),
        "--by 'nope': dataset 'dev' has no such column",
    ),
    Case(
        ("slices",),
        "--positive an unknown class",
        lambda f: _on_project(
            f, ("slices",), "--dataset", "dev", "--by", "noise", "--positive", "maybe"
        ),
        "--positive 'maybe' is neither a label nor a prediction",
    ),
    Case(
        ("priorities",),
        "an unknown dataset",
        lambda f: _on_project(f, ("priorities",), "--dataset", "nope"),
        "no dataset named 'nope'",
    ),
    Case(
        ("datasets",),
        "an unknown dataset",
        lambda f: _on_project(f, ("datasets",), "--dataset", "nope"),
        "no dataset named 'nope'",
    ),
    Case(
        ("reviews", "import"),
        "an unknown run",
        lambda f: _on_project(
            f, ("reviews", "import", str(f / "reviews.csv")), "--dataset", "dev", "--run", "nope"
        ),
        "has no run 'nope'",
    ),
    Case(
        ("import",),
        "--media-root missing",
        lambda f: _on_project(
            f,
            ("import", str(f / "data.csv")),
            "--dataset",
            "new",
            "--media-root",
            str(f / "no-media"),
        ),
        "no such folder",
    ),
    Case(
        ("import",),
        "a bad file into a new project",
        lambda f: [
            "import",
            str(_write(f / "bad.csv", "id,label\n1,a\n")),
            "--db",
            str(f / "new.db"),
            "--dataset",
            "new",
        ],
        "the required prediction column is missing",
    ),
    Case(
        ("demo",),
        "--sample-data missing",
        lambda f: ["demo", "--db", str(f / "demo.db"), "--sample-data", str(f / "none")],
        "--sample-data",
    ),
    Case(
        ("serve",),
        "--media-root missing",
        lambda f: _on_project(
            f, ("serve",), "--port", free_port(), "--media-root", str(f / "no-media")
        ),
        "--media-root",
    ),
    Case(
        ("serve",),
        "--media-root a file",
        lambda f: _on_project(
            f, ("serve",), "--port", free_port(), "--media-root", str(f / "data.csv")
        ),
        "is not a folder",
    ),
    Case(
        ("serve",),
        "--host unknown",
        lambda f: _on_project(f, ("serve",), "--host", "no-such-host.invalid"),
        "--host 'no-such-host.invalid'",
    ),
    Case(
        ("serve",),
        "--port out of range",
        lambda f: _on_project(f, ("serve",), "--port", "70000"),
        "a port is a number from 1 to 65535",
    ),
    Case(
        ("media", "relink"),
        "--root missing",
        lambda f: _relink(f, "--root", str(f / "no-media")),
        "media folder '",
    ),
    Case(
        ("media", "relink"),
        "an unknown run",
        lambda f: _relink(f, "--run", "nope", "--root", str(f)),
        "has no run 'nope'",
    ),
    Case(("open",), "a missing bundle", lambda f: ["open", str(f / "b.zip")], "no such file"),
    Case(
        ("open",),
        "a bundle that is a folder",
        lambda f: ["open", str(_mkdir(f / "b.zip"))],
        "is a folder",
    ),
    Case(
        ("open",),
        "a bundle that is no zip",
        lambda f: ["open", str(f / "data.csv")],
        "data.csv is not a readable .zip archive; nothing was written",
    ),
    Case(
        ("serve",),
        "a bundle that is no zip",
        lambda f: ["serve", str(_write(f / "b.zip", DATA)), "--port", free_port()],
        "b.zip is not a readable .zip archive",
    ),
]


def _serve_secrets(folder: Path, name: str, content: str | None) -> list[str]:
    """``serve --secrets`` with the file ``name`` holding ``content`` (None: no such file)."""
    secrets = folder / name
    if content is not None:
        _write(secrets, content)
    return _on_project(folder, ("serve",), "--port", free_port(), "--secrets", str(secrets))


AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "a long random string",
    "client_id": "workbench",
    "client_secret": "s3cret",
    "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration",
}


def _auth(**changes: str | None) -> str:
    keys = {**AUTH, **changes}
    return "[auth]\n" + "".join(f'{k} = "{v}"\n' for k, v in keys.items() if v is not None)


# serve --secrets FILE: (case, file name, content, what the message says)
SECRETS_CASES = [
    ("missing", "secrets.toml", None, "--secrets: ", "secrets.toml: no such file"),
    ("a folder", "dir.toml", "DIR", "dir.toml is a folder"),
    ("not named .toml", "secrets.txt", _auth(), "secrets.txt: the file name must end in .toml"),
    ("not TOML", "secrets.toml", "[auth\n", "secrets.toml: not a valid TOML file"),
    ("not UTF-8", "secrets.toml", b"[auth]\nclient_id = '\xff'\n", "not a valid TOML file"),
    ("no [auth]", "secrets.toml", '[other]\nx = 1\n', "no [auth] section"),
    ("auth not a table", "secrets.toml", 'auth = "on"\n', "no [auth] section"),
    ("keys missing", "secrets.toml", _auth(client_id=None, client_secret=None),
     "[auth] lacks client_id, client_secret"),
    ("a key empty", "secrets.toml", _auth(cookie_secret=""), "[auth] lacks cookie_secret"),
    ("a key not text", "secrets.toml", _auth(client_id=None) + "client_id = 42\n",
     "[auth] lacks client_id"),
    ("redirect_uri not the callback", "secrets.toml", _auth(redirect_uri="http://localhost:8501/"),
     "redirect_uri must be the app's address followed by /oauth2callback"),
]  # fmt: skip


def _secrets_case(name: str, file: str, content, *expected: str) -> Case:
    def build(folder: Path) -> list[str]:
        if content == "DIR":
            _mkdir(folder / file)
            return _serve_secrets(folder, file, None)
        return _serve_secrets(folder, file, content)

    return Case(("serve",), f"--secrets {name}", build, expected)


EXTRA += [_secrets_case(*case) for case in SECRETS_CASES]
ALL = cases() + EXTRA


@pytest.mark.parametrize("case", ALL, ids=[f"{' '.join(c.command)}: {c.name}" for c in ALL])
def test_bad_argument_is_a_message_and_changes_nothing(folder, capsys, case):
    if case.name == "out unwritable" and not Path("/sys").is_dir():
        pytest.skip("needs /sys")
    args = case.build(folder)
    before = snapshot(folder)
    code = main(args)
    captured = capsys.readouterr()
    assert code == 1, captured
    assert captured.err.startswith("error: ")
    expected = (case.expected,) if isinstance(case.expected, str) else case.expected
    for fragment in expected:
        assert fragment in captured.err, captured.err
    assert "Traceback" not in captured.err
    assert captured.out == ""
    assert snapshot(folder) == before


def test_every_command_has_bad_database_cases():
    covered = {(c.command, c.name) for c in ALL}
    for command, spec in COMMANDS.items():
        if not spec.db:
            assert (command, "a bundle that is no zip") in covered
            continue
        assert (command, "--db text file") in covered
        assert (command, "--dataset control character") in covered


def test_a_port_in_use_is_refused_before_starting(folder, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        before = snapshot(folder)
        assert main(["serve", "--db", str(folder / "p.db"), "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1 port {port}" in err and "Traceback" not in err
    assert snapshot(folder) == before


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads and writes whatever the mode says")
@pytest.mark.parametrize("kind", ["input", "out folder"])
def test_permissions(folder, capsys, kind):
    locked = folder / "locked"
    locked.mkdir()
    if kind == "input":
        target = locked / "data.csv"
        target.write_text(DATA)
        target.chmod(0)
        args = ["import", str(target), "--db", str(folder / "p.db"), "--dataset", "new"]
        expected = "cannot read"
    else:
        locked.chmod(0o500)
        args = ["datasets", "--db", str(folder / "p.db"), "--out", str(locked / "o.csv")]
        expected = "cannot write in"
    try:
        before = snapshot(folder)
        assert main(args) == 1
        assert expected in capsys.readouterr().err
        assert snapshot(folder) == before
    finally:
        locked.chmod(0o700)
        for child in locked.iterdir():
            child.chmod(0o600)


# ---------------------------------------------------------------------- the real entry point
@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (
            lambda f: _on_project(
                f, ("import", str(f / "data.csv")), "--dataset", "x", "--encoding", "rot13"
            ),
            "'rot13' is a codec but not a text encoding",
        ),
        (lambda f: ["datasets", "--db", str(f / "notes.txt")], "not an SQLite file"),
        (lambda f: ["serve", "--db", str(f / "gone" / "p.db")], "does not exist"),
        (
            lambda f: _on_project(f, ("priorities",), "--dataset", "dev", "--out", str(f)),
            "is a folder",
        ),
    ],
    ids=["import rot13", "datasets on a text file", "serve in a missing folder", "out a folder"],
)
def test_the_installed_command_reports_without_a_traceback(folder, build, expected):
    (folder / "notes.txt").write_text("not a project\n")
    before = snapshot(folder)
    proc = subprocess.run(
        [sys.executable, "-m", "erroranalysis", *build(folder)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert expected in proc.stderr and "Traceback" not in proc.stderr
    assert snapshot(folder) == before


# ---------------------------------------------------------------------- what still works
def test_read_commands_work_on_a_read_only_project(folder, capsys):
    db = folder / "p.db"
    db.chmod(0o444)
    folder.chmod(0o555)  # not even a -wal or -shm may be made
    try:
        before = snapshot(folder)
        for args in (
            ["datasets"],
            ["tags", "list"],
            ["priorities", "--dataset", "dev"],
            ["slices", "--dataset", "dev", "--by", "noise"],
        ):
            assert main([*args, "--db", str(db)]) == 0, capsys.readouterr().err
        assert "dev,main,3,1" in capsys.readouterr().out
        assert snapshot(folder) == before
    finally:
        folder.chmod(0o755)
        db.chmod(0o644)


def test_out_is_written_whole_with_a_normal_mode(folder, capsys):
    out = folder / "priorities.csv"
    assert (
        main(["priorities", "--db", str(folder / "p.db"), "--dataset", "dev", "--out", str(out)])
        == 0
    )
    assert out.read_text().startswith("rank,tag")
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) == []


def test_a_failed_write_leaves_the_old_file_and_no_temporary(folder, monkeypatch):
    out = folder / "o.csv"
    out.write_text("old\n")

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cli.os, "replace", broken)
    with pytest.raises(OSError, match="No space"):
        cli.write_atomic(out, "new\n")
    assert out.read_text() == "old\n"
    assert [p.name for p in folder.iterdir() if p.name.startswith(".o.csv")] == []


def test_names_are_trimmed_and_checked_once(folder, capsys):
    assert (
        main(
            [
                "import",
                str(folder / "data.csv"),
                "--db",
                str(folder / "p.db"),
                "--dataset",
                "  new  ",
                "--run",
                " r1 ",
            ]
        )
        == 0
    )
    assert "into dataset 'new', run 'r1'" in capsys.readouterr().out


def test_a_name_with_undecodable_bytes_is_refused(folder, capsys):
    before = snapshot(folder)
    name = os.fsdecode(b"caf\xe9")  # how Python hands over a byte that is not UTF-8
    assert (
        main(["import", str(folder / "data.csv"), "--db", str(folder / "p.db"), "--dataset", name])
        == 1
    )
    assert "--dataset: the dataset name is not valid text" in capsys.readouterr().err
    assert snapshot(folder) == before
