"""The command line, as a user runs it: exit codes, messages, and what lands in the project."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from erroranalysis import analyses, cli
from erroranalysis.cli import main
from erroranalysis.exports import export_bytes
from erroranalysis.store import open_project

GOOD = "id,label,prediction,confidence,noise,snr_db\n007,yes,yes,0.9,car,5\n7,no,yes,0.6,clean,30\n8,no,no,0.8,people,12\n"


def dump(path: Path) -> str:
    """Everything the project file holds, as SQL text (WAL content included)."""
    if not path.exists():
        return ""
    with sqlite3.connect(path) as conn:
        return "\n".join(conn.iterdump())


def run_cli(*args: str) -> tuple[int, str, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "erroranalysis", *args], capture_output=True, text=True, timeout=120
    )
    return proc.returncode, proc.stdout, proc.stderr


def imported(folder: Path, dataset: str, text: str, *, db: str) -> Path:
    """A project file ``db`` in ``folder`` holding ``text`` imported by the CLI as ``dataset``."""
    data = folder / f"{dataset}.csv"
    data.write_text(text)
    assert main(["import", str(data), "--db", str(folder / db), "--dataset", dataset]) == 0
    return folder / db


@pytest.fixture
def project(tmp_path):
    return imported(tmp_path, "dev", GOOD, db="p.db")


def test_import_keeps_ids_and_labels_as_text(project):
    with open_project(project) as p:
        frame = p.dataset("dev").examples()
        assert frame["id"].tolist() == ["007", "7", "8"]
        assert frame["correct"].tolist() == [True, False, True]
        assert p.dataset("dev").run().metadata_columns == ("noise", "snr_db")


def test_every_subcommand_has_help():
    for command in (
        ["import"],
        ["reviews", "import"],
        ["sample"],
        ["tags", "import"],
        ["tags", "list"],
        ["datasets"],
        ["priorities"],
        ["slices"],
        ["discover"],
        ["undo"],
        ["demo"],
        ["serve"],
    ):
        code, out, _ = run_cli(*command, "--help")
        assert code == 0 and "--db" in out and "--dataset" in out, command


BAD_FILES = [
    ("empty.csv", "", "empty"),
    ("header_only.csv", "id,label,prediction\n", "no rows"),
    ("no_prediction.csv", "id,label\n1,a\n", "prediction"),
    ("dup.csv", "id,label,prediction\n1,a,a\n1,b,b\n", "duplicate"),
    ("empty_id.csv", "id,label,prediction\n,a,a\n", "id"),
    ("ragged.csv", "id,label,prediction\n1,a,a,extra\n2,b\n", "line 2"),
    ("conf.csv", "id,label,prediction,confidence\n1,a,a,1.7\n2,a,a,high\n", "1.7"),
    ("bool.csv", "id,label,prediction,correct\n1,a,a,maybe\n", "maybe"),
    ("escape.csv", "id,label,prediction,audio\n1,a,a,../../etc/passwd\n", "../../etc/passwd"),
    ("absolute.csv", "id,label,prediction,image\n1,a,a,/etc/passwd\n", "/etc/passwd"),
    ("bad.jsonl", '{"id": "1", "label": "a", "prediction": "a"}\n{"id": 2,\n', "line 2"),
    ("notparquet.parquet", "id,label,prediction\n1,a,a\n", "Parquet"),
]


@pytest.mark.parametrize(("name", "content", "expected"), BAD_FILES)
def test_bad_input_fails_clearly_and_changes_nothing(project, tmp_path, name, content, expected):
    bad = tmp_path / name
    bad.write_text(content)
    before = dump(project)
    code, out, err = run_cli("import", str(bad), "--db", str(project), "--dataset", "other")
    assert code == 1
    assert expected.lower() in err.lower()
    assert "Traceback" not in err
    assert dump(project) == before


def test_not_utf8_says_how_to_pass_the_encoding(project, tmp_path):
    bad = tmp_path / "latin.csv"
    bad.write_bytes("id,label,prediction\n1,café,café\n".encode("latin-1"))
    before = dump(project)
    code, _, err = run_cli("import", str(bad), "--db", str(project), "--dataset", "other")
    assert code == 1 and "--encoding" in err and dump(project) == before
    code, _, _ = run_cli(
        "import", str(bad), "--db", str(project), "--dataset", "other", "--encoding", "latin-1"
    )
    assert code == 0


def test_reimport_needs_replace(project, tmp_path):
    data = tmp_path / "dev.csv"
    before = dump(project)
    code, _, err = run_cli("import", str(data), "--db", str(project), "--dataset", "dev")
    assert code == 1 and "--replace" in err and dump(project) == before
    code, _, _ = run_cli("import", str(data), "--db", str(project), "--dataset", "dev", "--replace")
    assert code == 0


def test_column_mapping_flags(tmp_path):
    data = tmp_path / "mapped.csv"
    data.write_text("key,gold,guess\na,x,x\nb,x,y\n")
    db = tmp_path / "m.db"
    args = ["import", str(data), "--db", str(db), "--dataset", "m", "--id-column", "key"]
    assert main([*args, "--label-column", "gold", "--prediction-column", "guess"]) == 0
    with open_project(db) as p:
        assert p.dataset("m").examples()[["id", "label", "prediction"]].values.tolist() == [
            ["a", "x", "x"],
            ["b", "x", "y"],
        ]


def test_reviews_and_tags_import(project, tmp_path):
    reviews = tmp_path / "reviews.csv"
    reviews.write_text("id,reviewer,tags\n7,ana,car noise;low bandwidth\n007,ben,\n")
    tags = tmp_path / "tags.csv"
    tags.write_text(
        "tag,hlp,effort,description\ncar noise,0.93,2,engine hum\nlow bandwidth,0.7,,\n"
    )
    assert main(["reviews", "import", str(reviews), "--db", str(project), "--dataset", "dev"]) == 0
    assert main(["tags", "import", str(tags), "--db", str(project)]) == 0
    with open_project(project) as p:
        assert p.dataset("dev").example_tags("7") == ["car noise", "low bandwidth"]
        assert p.dataset("dev").example_tags("007") == []
        assert p.dataset("dev").reviews()[["example_id", "reviewer"]].values.tolist() == [
            ["7", "ana"],
            ["007", "ben"],
        ]
        definitions = p.tag_definitions().set_index("tag")
        assert definitions.loc["car noise", "hlp"] == 0.93
        assert definitions.loc["car noise", "effort"] == 2
        assert pd.isna(definitions.loc["low bandwidth", "effort"])


REVIEWS_IMPORT = ("reviews", "import", "--dataset", "dev")
TAGS_IMPORT = ("tags", "import")


@pytest.mark.parametrize(
    ("command", "content", "expected"),
    [
        (REVIEWS_IMPORT, "id,reviewer,tags\n404,ana,x\n", "line 2, column 'id'"),
        (REVIEWS_IMPORT, "id,reviewer,tags\n7,,x\n", "reviewer"),
        (REVIEWS_IMPORT, "id,reviewer\n7,ana\n", "tags"),
        (REVIEWS_IMPORT, "id,reviewer,tags\n7,ana,a\x01b\n", "control"),
        (TAGS_IMPORT, "tag,hlp\nx,1.5\n", "hlp"),
        (TAGS_IMPORT, "tag,hlp,effort\nx,0.9,-1\n", "effort"),
        (TAGS_IMPORT, "tag,hlp\nx,0.9\nx,0.8\n", "listed twice"),
        (TAGS_IMPORT, "tag\nx\n", "hlp"),
    ],
)
def test_a_bad_import_file_changes_nothing(project, tmp_path, command, content, expected):
    kind, verb, *options = command
    file = tmp_path / f"{kind}.csv"
    file.write_text(content)
    before = dump(project)
    code, _, err = run_cli(kind, verb, str(file), "--db", str(project), *options)
    assert code == 1 and expected in err and dump(project) == before


def test_undo_from_the_command_line(project):
    with open_project(project) as p:
        p.dataset("dev").set_tag("7", "x", actor="ana")
    code, out, _ = run_cli("undo", "--db", str(project), "--dataset", "dev", "--reviewer", "ana")
    assert code == 0 and "undid" in out
    with open_project(project) as p:
        assert p.dataset("dev").example_tags("7") == []


def test_unknown_dataset_is_a_clear_error(project):
    code, _, err = run_cli("priorities", "--db", str(project), "--dataset", "nope")
    assert code == 1 and "no dataset named 'nope'" in err and "Traceback" not in err


def test_datasets_lists_runs(project):
    code, out, _ = run_cli("datasets", "--db", str(project))
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert table[["dataset", "run", "examples", "errors"]].values.tolist() == [
        ["dev", "main", 3, 1]
    ]


PRIORITY_COLUMNS = [
    "rank",
    "tag",
    "examples",
    "share",
    "share_low",
    "share_high",
    "accuracy",
    "accuracy_low",
    "accuracy_high",
    "hlp",
    "gap",
    "marginal_effect",
    "marginal_effect_low",
    "marginal_effect_high",
    "effort",
    "evidence",
]


@pytest.fixture
def reviewed(project, tmp_path):
    """The project with every example reviewed and a formula-like tag on the error."""
    reviews = tmp_path / "reviews.csv"
    reviews.write_text(
        'id,reviewer,tags\n7,ana,"=HYPERLINK(""http://x"")";car noise\n007,ana,car noise\n8,ben,\n'
    )
    tags = tmp_path / "tags.csv"
    tags.write_text("tag,hlp,effort\ncar noise,0.9,2\n")
    assert main(["reviews", "import", str(reviews), "--db", str(project), "--dataset", "dev"]) == 0
    assert main(["tags", "import", str(tags), "--db", str(project)]) == 0
    return project


def test_priorities_csv_is_safe_and_complete(reviewed, tmp_path):
    out = tmp_path / "priorities.csv"
    code, _, _ = run_cli("priorities", "--db", str(reviewed), "--dataset", "dev", "--out", str(out))
    assert code == 0
    table = pd.read_csv(out)
    assert set(PRIORITY_COLUMNS) <= set(table.columns)
    assert table.columns[0] == "rank"
    rows = table.set_index("tag")
    # 2 of the 3 examples carry car noise; 1 of those 2 is correct; HLP 0.9 set. Rates are
    # written to 4 significant digits, as `export priorities` writes them.
    assert rows.loc["car noise", ["examples", "share", "accuracy", "hlp"]].tolist() == [
        2,
        0.6667,
        0.5,
        0.9,
    ]
    assert rows.loc["car noise", "marginal_effect"] == 0.2667  # 0.4 × 2/3
    assert rows.loc["car noise", "evidence"] == "reviewed"
    # the formula-like tag name survives, neutralised; numbers stay numbers
    assert '\'=HYPERLINK("http://x")' in rows.index
    assert table["share"].dtype.kind == "f"


def test_priorities_as_json_and_by_effort(reviewed):
    code, out, _ = run_cli(
        "priorities",
        "--db",
        str(reviewed),
        "--dataset",
        "dev",
        "--format",
        "json",
        "--by",
        "effort",
    )
    assert code == 0
    records = json.loads(out)
    assert records[0]["tag"] == "car noise" and records[0]["rank"] == 1
    assert records[1]["marginal_effect"] is None  # no HLP for the other tag: unknown, not 0


@pytest.mark.parametrize("by", ["noise", "snr_db", "tags"])
def test_slices_have_the_audit_columns(reviewed, by):
    code, out, _ = run_cli("slices", "--db", str(reviewed), "--dataset", "dev", "--by", by)
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert {"slice", "examples", "accuracy", "precision", "recall", "f1", "flagged"} <= set(
        table.columns
    )
    assert table["examples"].sum() >= 2


@pytest.mark.parametrize(("by", "positive"), [("noise", None), ("snr_db", None), ("noise", "yes")])
def test_slices_by_a_column_read_alone_are_those_of_the_whole_evidence(
    reviewed, by, positive, capsys
):
    with open_project(reviewed, readonly=True) as project:
        evidence = analyses.load_evidence(project, "dev")
    table = analyses.slice_table(evidence, by=by, positive=positive)
    expected = export_bytes(table, format="csv", kind="slices").decode()
    option = ["--positive", positive] if positive else []
    assert main(["slices", "--db", str(reviewed), "--dataset", "dev", "--by", by, *option]) == 0
    assert capsys.readouterr().out == expected


# ---------------------------------------------------------------------- serve
def test_serve_command_listens_where_asked_and_names_the_media_roots(tmp_path):
    media = tmp_path / "media"
    (media / "clips").mkdir(parents=True)
    (tmp_path / "link").symlink_to(media / "clips")
    roots = cli.media_roots([str(tmp_path / "link"), str(media), str(media / "clips")])
    assert roots == [(media / "clips").resolve(), media.resolve()]  # resolved, each once
    command, env = cli.serve_command(
        app=Path("app.py"), db=tmp_path / "p.db", host="127.0.0.1", port=8600, media_roots=roots
    )
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", "app.py"]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options == {
        "--server.headless": "true",
        "--server.address": "127.0.0.1",
        "--server.port": "8600",
        "--browser.gatherUsageStats": "false",
        "--client.disableDataExport": "true",
    }
    assert env == {
        "ERRORANALYSIS_DB": str((tmp_path / "p.db").resolve()),
        cli.MEDIA_ROOTS_ENV: os.pathsep.join(str(r) for r in roots),
    }
    _, env = cli.serve_command(app=Path("app.py"), db=tmp_path / "p.db")
    assert env[cli.MEDIA_ROOTS_ENV] == ""  # no folder allowed unless named


def test_serve_reads_the_secrets_file_it_is_given(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        + "".join(f'{key} = "http://localhost:8501/oauth2callback"\n' for key in cli.AUTH_KEYS)
    )
    args = cli.build_parser().parse_args(["serve", "--secrets", str(secrets)])
    assert args.secrets == str(secrets)
    assert cli.check_secrets(secrets) == secrets.resolve()
    command, _ = cli.serve_command(app=Path("app.py"), db=tmp_path / "p.db", secrets=secrets)
    assert command[-2:] == ["--secrets.files", str(secrets)]
    default, _ = cli.serve_command(app=Path("app.py"), db=tmp_path / "p.db")
    assert "--secrets.files" not in default  # Streamlit's own search


def test_serve_defaults_to_this_machine_only():
    args = cli.build_parser().parse_args(["serve"])
    assert (args.host, args.port, args.media_roots) == ("127.0.0.1", 8501, [])


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "127.0.0.1",
            "serving p.db at http://127.0.0.1:8501 (only this machine; pass --host "
            "0.0.0.0 to listen on all interfaces); no media folders on the server",
        ),
        ("::1", "serving p.db at http://[::1]:8501 (only this machine;"),
        (
            "0.0.0.0",
            "serving p.db at http://0.0.0.0:8501 (other machines can reach it, and sign-in "
            "is off (see --secrets): anyone who reaches the port can read and tag the project",
        ),
    ],
)
def test_serve_says_who_can_reach_it(host, expected):
    assert cli.serve_banner(Path("p.db"), host=host, port=8501, media_roots=[]).startswith(expected)
    banner = cli.serve_banner(Path("p.db"), host=host, port=8501, media_roots=[Path("/m")])
    assert banner.endswith("media from the server only inside /m")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (
            "127.0.0.1",
            "serving p.db at http://127.0.0.1:8501 (only this machine; every page asks to "
            "sign in, as /s/secrets.toml configures); no media folders on the server (pass --media-root DIR to allow one)",
        ),
        (
            "0.0.0.0",
            "serving p.db at http://0.0.0.0:8501 (other machines can reach it; every page "
            "asks to sign in, as /s/secrets.toml configures); no media folders on the server (pass --media-root DIR to allow one)",
        ),
    ],
)
def test_serve_says_that_sign_in_is_on(host, expected):
    banner = cli.serve_banner(
        Path("p.db"), host=host, port=8501, media_roots=[], secrets=Path("/s/secrets.toml")
    )
    assert banner == expected


def _secrets_toml(folder: Path, content: str) -> Path:
    path = folder / ".streamlit" / "secrets.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


AUTH_TOML = "[auth]\n" + "".join(
    f'{key} = "http://localhost:8501/oauth2callback"\n' for key in cli.AUTH_KEYS
)


@pytest.mark.parametrize(
    ("home", "cwd", "expected"),
    [
        (None, None, None),  # no file: sign-in off
        ("[other]\nx = 1\n", None, None),  # no [auth]: sign-in off
        (AUTH_TOML, None, "home"),
        (AUTH_TOML, "[other]\nx = 1\n", "home"),
        ("[other]\nx = 1\n", AUTH_TOML, "cwd"),
        # The working directory's [auth] replaces the user's, as in Streamlit.
        ("[auth]\nclient_id = 'x'\n", AUTH_TOML, "cwd"),
        (AUTH_TOML, "[auth]\nclient_id = 'x'\n", "[auth] lacks redirect_uri, cookie_secret"),
        ("[auth\n", None, "not a valid TOML file"),
        (None, "[auth]\nredirect_uri = 'http://localhost:8501/'\n", "[auth] lacks cookie_secret"),
    ],
)
def test_serve_checks_the_secrets_streamlit_finds_by_itself(
    tmp_path, monkeypatch, home, cwd, expected
):
    places = {"home": tmp_path / "home", "cwd": tmp_path / "work"}
    for place in places.values():
        place.mkdir()
    files = {
        name: _secrets_toml(places[name], text)
        for name, text in (("home", home), ("cwd", cwd))
        if text is not None
    }
    monkeypatch.setenv("HOME", str(places["home"]))
    monkeypatch.chdir(places["cwd"])
    app = tmp_path / "app" / "app.py"  # a folder without secrets
    if expected is None or expected in files:
        assert cli.check_default_secrets(app) == files.get(expected)
    else:
        with pytest.raises(cli.CliError, match=re.escape(expected)):
            cli.check_default_secrets(app)


@pytest.mark.parametrize(
    ("secrets", "banner"),
    [
        (None, "(only this machine; pass --host 0.0.0.0"),
        (AUTH_TOML, "(only this machine; every page asks to sign in, as {file} configures)"),
    ],
)
def test_serve_says_whether_the_secrets_it_finds_turn_sign_in_on(
    tmp_path, monkeypatch, capsys, project, secrets, banner
):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    file = _secrets_toml(tmp_path, secrets) if secrets else None
    started = []
    monkeypatch.setattr(cli, "run_child", lambda command, env: started.append(command) or 0)
    assert main(["serve", "--db", str(project), "--port", "8599"]) == 0
    assert banner.format(file=file) in capsys.readouterr().out
    assert "--secrets.files" not in started[0]  # Streamlit searches as it always does


def test_serve_refuses_to_start_on_a_broken_default_secrets_file(
    tmp_path, monkeypatch, capsys, project
):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    broken = _secrets_toml(tmp_path, "[auth]\nclient_id = 'x'\n")
    started = []
    monkeypatch.setattr(cli, "run_child", lambda command, env: started.append(command) or 0)
    capsys.readouterr()  # what building the project printed
    assert main(["serve", "--db", str(project), "--port", "8599"]) == 1
    captured = capsys.readouterr()
    assert started == [] and captured.out == ""
    assert captured.err.startswith(f"error: {broken}: [auth] lacks redirect_uri, cookie_secret")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # no packet is sent for UDP
            address = probe.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


def _serve(project: Path, port: int, *options: str) -> subprocess.Popen:
    """``erroranalysis serve`` on ``project``, in a session (a process group) of its own."""
    command = [sys.executable, "-m", "erroranalysis", "serve", "--db", str(project)]
    return subprocess.Popen(
        [*command, "--port", str(port), *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _health(proc: subprocess.Popen, port: int) -> str | None:
    """The app's answer on ``/_stcore/health`` once it gives one (None if ``proc`` ends or
    90 s pass first)."""
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            url = f"http://127.0.0.1:{port}/_stcore/health"
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.read().decode()
        except OSError:
            time.sleep(0.5)
    return None


def _stop_group(proc: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    proc.stdout.close()


@pytest.mark.slow
def test_serve_starts_on_127_0_0_1_only(project, tmp_path):
    port = _free_port()
    media = tmp_path / "media"
    media.mkdir()
    proc = _serve(project, port, "--media-root", str(media))
    try:
        banner = proc.stdout.readline()
        assert banner.startswith(f"serving {project.resolve()} at http://127.0.0.1:{port} (only")
        assert banner.rstrip().endswith(f"media from the server only inside {media.resolve()}")
        assert _health(proc, port) == "ok"
        other = _other_address()
        if other is not None:
            with pytest.raises(OSError), socket.create_connection((other, port), timeout=2):
                pass
    finally:
        _stop_group(proc)


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["TERM", "INT"])
def test_serve_stops_its_streamlit_child_when_it_is_stopped(project, signum):
    port = _free_port()
    proc = _serve(project, port)
    try:
        assert _health(proc, port) == "ok"
        os.kill(proc.pid, signum)  # serve alone, not its process group
        proc.wait(timeout=30)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
        with pytest.raises(ProcessLookupError):  # nothing of the group is left running
            os.killpg(proc.pid, 0)
    finally:
        _stop_group(proc)


# A child that writes its process id to the file named by its argument, then sleeps
# (ignoring SIGTERM if its second argument says so). It stops on SIGINT and SIGHUP even
# where the test runs with them ignored (under nohup, or in a background job), which its
# process would inherit.
SLEEPER = """
import pathlib, signal, sys, time
signal.signal(signal.SIGINT, signal.default_int_handler)
signal.signal(signal.SIGHUP, signal.SIG_DFL)
if sys.argv[2:] == ["ignore"]:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
pathlib.Path(sys.argv[1]).write_text(str(__import__("os").getpid()))
time.sleep(120)
"""
RUN_CHILD = """
import os, sys
from erroranalysis.cli import run_child
sys.exit(run_child([sys.executable, "-c", sys.argv[1], *sys.argv[2:]], env=os.environ, grace=1))
"""


@pytest.mark.parametrize(
    ("signum", "ignore", "code"),
    [
        (signal.SIGTERM, False, 128 + signal.SIGTERM),
        (signal.SIGINT, False, 128 + signal.SIGINT),
        (signal.SIGHUP, False, 128 + signal.SIGHUP),
        (signal.SIGTERM, True, 128 + signal.SIGKILL),  # killed once the grace is over
    ],
)
def test_run_child_passes_a_stop_on_and_never_leaves_the_child_running(
    tmp_path, signum, ignore, code
):
    pid_file = tmp_path / "child.pid"
    argv = [SLEEPER, str(pid_file), *(["ignore"] if ignore else [])]
    parent = subprocess.Popen([sys.executable, "-c", RUN_CHILD, *argv], start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not pid_file.exists() or not pid_file.read_text():
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        child = int(pid_file.read_text())
        parent.send_signal(signum)
        assert parent.wait(timeout=30) == code
        with pytest.raises(ProcessLookupError):  # ended and reaped, not a zombie
            os.kill(child, 0)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(parent.pid, signal.SIGKILL)
        parent.wait()


def test_serve_refuses_a_file_that_is_not_a_project(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("hello\n")
    code, out, err = run_cli("serve", "--db", str(notes), "--port", str(_free_port()))
    assert code == 1 and "not an SQLite file" in err and out == "" and "Traceback" not in err
    assert notes.read_text() == "hello\n"


# ---------------------------------------------------------------------- samples
SPEECH = "id,label,prediction,confidence,noise\n" + "".join(
    f"s{i:02d},{'yes' if i % 2 else 'no'},{'yes' if i % 3 else 'no'},0.{i % 10},"
    f"{'=car' if i % 4 == 0 else 'clean'}\n"
    for i in range(100)
)


@pytest.fixture
def speech(tmp_path):
    return imported(tmp_path, "speech", SPEECH, db="s.db")


def draw(db, out, *options):
    return main(["sample", "--db", str(db), "--dataset", "speech", "--out", str(out), *options])


def test_sample_writes_the_drawn_examples_and_records_them(speech, tmp_path, capsys):
    out = tmp_path / "sample.csv"
    assert draw(speech, out, "--size", "12", "--seed", "5") == 0
    assert "drew sample 1" in capsys.readouterr().out
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert sheet.columns.tolist() == [
        "id",
        "sample",
        "run",
        "stratum",
        "weight",
        "label",
        "prediction",
        "confidence",
        "noise",
        "reviewer",
        "tags",
    ]
    with open_project(speech) as p:
        draws = p.dataset("speech").sample_draws(1)
        assert p.dataset("speech").samples()["seed"].tolist() == [5]
    assert sheet["id"].tolist() == draws["id"].tolist()
    assert (sheet["sample"] == "1").all() and (sheet["run"] == "main").all()
    assert sheet["weight"].astype(float).tolist() == (1 / draws["probability"]).tolist()
    assert (sheet["reviewer"] == "").all() and (sheet["tags"] == "").all()
    noise = sheet["noise"][sheet["noise"].str.contains("car")]
    assert (noise == "'=car").all()  # formula-safe: a spreadsheet shows text


def test_a_sample_file_comes_back_as_reviews_of_that_sample(speech, tmp_path):
    out = tmp_path / "sample.csv"
    assert draw(speech, out, "--size", "50", "--seed", "5", "--strategy", "confidence") == 0
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False)
    sheet.loc[:5, "reviewer"] = "ana"
    sheet.loc[:2, "tags"] = "car noise"
    sheet.to_csv(out, index=False)
    assert main(["reviews", "import", str(out), "--db", str(speech), "--dataset", "speech"]) == 0
    with open_project(speech) as p:
        reviews = p.dataset("speech").reviews()
        tagged = p.dataset("speech").tag_assignments()
    assert reviews["example_id"].tolist() == sheet["id"][:6].tolist()
    assert reviews["sample_id"].tolist() == [1] * 6
    assert sorted(tagged["example_id"]) == sorted(sheet["id"][:3])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"weight": "0"}, "line 2, column 'weight': value '0' is not a positive number"),
        ({"weight": "heavy"}, "column 'weight': value 'heavy' is not a positive number"),
        ({"weight": "1.5"}, "value '1.5' is not the weight sample 1 recorded for this example"),
        ({"sample": "7"}, "line 2, column 'sample': value '7' is not a sample of this dataset"),
        ({"id": "nope"}, "value 'nope' was not drawn in sample 1"),
        ({"id": "nope"}, "column 'id': value 'nope' is not an id of this dataset"),
        ({"run": "v9"}, "value 'v9' is not the run sample 1 was drawn from ('main')"),
    ],
)
def test_a_bad_sample_file_changes_nothing(speech, tmp_path, capsys, change, expected):
    out = tmp_path / "sample.csv"
    assert draw(speech, out, "--size", "6", "--seed", "1") == 0
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False).assign(reviewer="ana")
    for column, value in change.items():
        sheet.loc[0, column] = value
    sheet.to_csv(out, index=False)
    before = dump(speech)
    capsys.readouterr()
    assert main(["reviews", "import", str(out), "--db", str(speech), "--dataset", "speech"]) == 1
    assert expected in capsys.readouterr().err
    assert dump(speech) == before


def test_a_sample_file_is_of_its_run(speech, tmp_path, capsys):
    out = tmp_path / "sample.csv"
    assert draw(speech, out, "--size", "6", "--seed", "1") == 0
    pd.read_csv(out, dtype=str).assign(reviewer="ana").to_csv(out, index=False)
    data = tmp_path / "v2.csv"
    data.write_text(SPEECH)
    assert main(["import", str(data), "--db", str(speech), "--dataset", "speech", "--run=v2"]) == 0
    before = dump(speech)
    capsys.readouterr()
    command = ["reviews", "import", str(out), "--db", str(speech), "--dataset", "speech"]
    assert main([*command, "--run", "v2"]) == 1
    assert "samples drawn from run 'main', not 'v2'" in capsys.readouterr().err
    assert dump(speech) == before
    assert main(command) == 0  # the sample's run, though v2 is the latest
    with open_project(speech) as p:
        assert set(p.dataset("speech").reviews()["run"]) == {"main"}


def test_a_plain_reviews_file_keeps_its_meaning(speech, tmp_path):
    plain = tmp_path / "reviews.csv"
    plain.write_text("id,reviewer,tags\ns00,ana,car noise\ns01,ana,\n")
    assert main(["reviews", "import", str(plain), "--db", str(speech), "--dataset", "speech"]) == 0
    with open_project(speech) as p:
        assert p.dataset("speech").reviews()["sample_id"].isna().all()
        assert p.dataset("speech").samples().empty


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (["--size", "0"], "sample: size must be"),
        (["--size", "101"], "sample: size 101 is more than the 100 examples of the run"),
        (["--size", "5", "--run", "v9"], "has no run 'v9'"),
        (["--size", "5", "--strategy", "active"], "sample: active sampling has no target"),
    ],
)
def test_a_bad_sample_request_records_nothing(speech, tmp_path, capsys, options, expected):
    before = dump(speech)
    assert draw(speech, tmp_path / "s.csv", *options) == 1
    assert expected in capsys.readouterr().err
    assert dump(speech) == before and not (tmp_path / "s.csv").exists()


def test_an_unknown_strategy_is_refused(speech, tmp_path):
    code, _, err = run_cli(
        "sample",
        "--db",
        str(speech),
        "--dataset",
        "speech",
        "--size",
        "3",
        "--strategy",
        "lowest",
        "--out",
        str(tmp_path / "s.csv"),
    )
    assert code == 2 and "invalid choice: 'lowest'" in err


# ---------------------------------------------------------------------- SQL rows
def test_a_big_run_is_imported_without_sql_rows_until_asked(tmp_path, monkeypatch, capsys):
    from erroranalysis.store import dataset as dataset_module

    for module in (cli, dataset_module):
        monkeypatch.setattr(module, "SQL_ROWS_LIMIT", 2)
    project = imported(tmp_path, "dev", GOOD, db="p.db")
    err = capsys.readouterr().err
    assert "more than 2 examples is imported without its SQL rows" in err
    assert f"erroranalysis sql-rows --db {project} --dataset dev --run main" in err
    assert main(["datasets", "--db", str(project), "--out", str(tmp_path / "runs.csv")]) == 0
    assert pd.read_csv(tmp_path / "runs.csv")["in_sql"].tolist() == [False]
    capsys.readouterr()
    assert main(["sql-rows", "--db", str(project), "--dataset", "dev", "--actor", "ana"]) == 0
    assert capsys.readouterr().out == (
        "run 'main' of 'dev' now has its 3 examples as SQL rows (the examples and "
        "tagged_examples views)\n"
    )
    with sqlite3.connect(project) as conn:
        assert conn.execute("SELECT example_id FROM examples ORDER BY 1").fetchall() == [
            ("007",),
            ("7",),
            ("8",),
        ]
    assert main(["sql-rows", "--db", str(project), "--dataset", "dev"]) == 0
    assert "already had its 3 examples" in capsys.readouterr().out
    # --sql-rows writes them at import, whatever the size.
    data = tmp_path / "dev.csv"
    args = ["import", str(data), "--db", str(project), "--dataset", "dev", "--run", "v2"]
    assert main([*args, "--sql-rows"]) == 0
    assert "sql-rows" not in capsys.readouterr().err
    with open_project(project) as p:
        assert p.dataset("dev").run("v2").in_sql


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "nope"], "no dataset named 'nope' in p.db (datasets: dev)"),
        (["--dataset", "dev", "--run", "v9"], "dataset 'dev' has no run 'v9' (runs: main)"),
    ],
)
def test_sql_rows_of_what_is_not_there_is_refused(project, capsys, args, message):
    before = dump(project)
    assert main(["sql-rows", "--db", str(project), *args]) != 0
    assert message in capsys.readouterr().err
    assert dump(project) == before
