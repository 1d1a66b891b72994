"""Portable projects: media roots stored relative to the project file, relinked when media
move, and a project bundled with its media into one archive that opens elsewhere."""

from __future__ import annotations

import json
import shutil
import sqlite3
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from app_support import APP, DATASET, REVIEWER, N, _wav, no_errors, open_page, speech_frame
from streamlit.testing.v1 import AppTest
from test_archive import WAV, make_zip, symlink_member

from erroranalysis import cli
from erroranalysis.archive import ArchiveError, extract_archive, run_folder
from erroranalysis.bundle import BundleError, bundle_project, open_bundle
from erroranalysis.errors import StoreError
from erroranalysis.importing import read_dataset
from erroranalysis.media import load_media
from erroranalysis.store import open_project
from erroranalysis.store.common import read_media_root, stored_media_root


def demo_like(folder: Path) -> Path:
    """A project ``demo.db`` with its media below it in ``sample_data/speech`` (as the
    repository's demo), one tag and one review; the project file's path."""
    speech = folder / "sample_data" / "speech"
    (speech / "clips").mkdir(parents=True)
    for i in range(N):
        _wav(speech / "clips" / f"s{i:02d}.wav")
    speech_frame().to_csv(speech / "speech.csv", index=False)
    db = folder / "demo.db"
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(
            read_dataset(speech / "speech.csv"), actor="setup"
        )
        project.dataset(DATASET).set_tag("s04", "car noise", actor="setup")
        project.dataset(DATASET).record_review("s04", reviewer="setup", queue="error")
    return db


def stored_root(db: Path) -> str | None:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT media_root FROM runs").fetchone()[0]


def media_root(db: Path):
    with open_project(db, readonly=True) as project:
        return project.dataset(DATASET).run().media_root


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ("media", "media"),
        ("media/speech/clips", "media/speech/clips"),
        ("media/../media/x", "media/x"),
        (".", "."),
        ("..", "ABS:.."),
        ("../elsewhere/media", "ABS:../elsewhere/media"),
        (None, None),
    ],
)
def test_a_media_root_is_stored_relative_where_it_lies_below_the_project(tmp_path, root, expected):
    project = tmp_path / "p" / "project.db"
    project.parent.mkdir()
    given = None if root is None else project.parent / root
    stored = stored_media_root(project, given)
    if expected is not None and expected.startswith("ABS:"):
        expected = str((project.parent / expected[4:]).resolve())
    assert stored == expected
    # Read back, it names the same folder.
    read = read_media_root(project, stored)
    assert read == (None if given is None else given.resolve())


def test_a_demo_like_project_stores_its_media_root_relative(tmp_path):
    db = demo_like(tmp_path)
    assert stored_root(db) == "sample_data/speech"
    assert media_root(db) == tmp_path / "sample_data" / "speech"


def test_a_copied_folder_keeps_its_audio(tmp_path):
    db = demo_like(tmp_path / "first")
    shutil.copytree(tmp_path / "first", tmp_path / "copy")
    shutil.rmtree(tmp_path / "first")
    root = media_root(tmp_path / "copy" / db.name)
    assert root == tmp_path / "copy" / "sample_data" / "speech"
    data, mime = load_media(root, "clips/s07.wav", kind="audio")
    assert mime == "audio/wav"
    assert data == (root / "clips" / "s07.wav").read_bytes()


def test_an_old_file_with_an_absolute_root_keeps_working(tmp_path):
    db = demo_like(tmp_path / "project")
    elsewhere = tmp_path / "media-elsewhere"
    shutil.copytree(tmp_path / "project" / "sample_data" / "speech", elsewhere)
    # Older versions wrote the absolute path of the root, wherever it was.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET media_root = ?", (str(elsewhere),))
    assert media_root(db) == elsewhere
    assert load_media(media_root(db), "clips/s00.wav", kind="audio")[1] == "audio/wav"


# ---------------------------------------------------------------------- relink
def move_media(db: Path, to: Path) -> Path:
    """Move the demo-like project's media folder to ``to``; ``to``."""
    shutil.move(db.parent / "sample_data" / "speech", to)
    return to


def revision(db: Path) -> int:
    with open_project(db, readonly=True) as project:
        return project.revision()


@pytest.mark.parametrize("where", ["below", "outside"])
def test_relink_points_the_run_at_moved_media_and_logs_it(tmp_path, where):
    db = demo_like(tmp_path / "project")
    to = tmp_path / "project" / "moved" if where == "below" else tmp_path / "elsewhere"
    move_media(db, to)
    before = revision(db)
    with open_project(db) as project:
        (info,) = project.dataset(DATASET).relink_media(to, actor="ana")
        action = project.dataset(DATASET).actions(limit=1).iloc[0]
    assert info.media_root == to
    assert stored_root(db) == ("moved" if where == "below" else str(to))
    assert (action["kind"], action["actor"]) == ("relink", "ana")
    assert json.loads(action["detail"]) == {
        "media_root": stored_root(db),
        "before": {"main": "sample_data/speech"},
    }
    assert revision(db) == before + 1
    assert load_media(media_root(db), "clips/s39.wav", kind="audio")[1] == "audio/wav"


def remove_clips(root: Path, count: int) -> None:
    for i in range(count):
        (root / "clips" / f"s{i:02d}.wav").unlink()


@pytest.mark.parametrize(
    ("change", "run", "reason"),
    [
        ("missing folder", None, "media folder '.*/nowhere' does not exist; nothing was changed"),
        (
            "one file gone",
            None,
            r"1 of 40 media files of run 'main' are not in '.*/moved' "
            r"\(first missing: 'clips/s00.wav'\); nothing was changed",
        ),
        ("all files gone", "main", "40 of 40 media files of run 'main' are not in"),
        ("unknown run", "v9", r"dataset 'speech' has no run 'v9' \(runs: main\)"),
    ],
)
def test_relink_refuses_a_root_without_the_media_and_changes_nothing(tmp_path, change, run, reason):
    db = demo_like(tmp_path)
    moved = move_media(db, tmp_path / "moved")
    if change == "one file gone":
        remove_clips(moved, 1)
    elif change == "all files gone":
        remove_clips(moved, N)
    root = tmp_path / "nowhere" if change == "missing folder" else moved
    before = revision(db)
    with open_project(db) as project, pytest.raises(StoreError, match=reason):
        project.dataset(DATASET).relink_media(root, run=run, actor="ana")
    assert stored_root(db) == "sample_data/speech"
    assert revision(db) == before


def test_media_relink_command(tmp_path, capsys):
    db = demo_like(tmp_path)
    moved = move_media(db, tmp_path / "moved")
    remove_clips(moved, 2)
    base = ["media", "relink", "--db", str(db), "--dataset", DATASET, "--actor", "ana"]
    assert cli.main([*base, "--root", str(moved)]) == 1
    assert "2 of 40 media files of run 'main'" in capsys.readouterr().err
    assert stored_root(db) == "sample_data/speech"
    for i in range(2):
        _wav(moved / "clips" / f"s{i:02d}.wav")
    assert cli.main([*base, "--run", "main", "--root", str(moved)]) == 0
    assert capsys.readouterr().out == f"run 'main' of 'speech' reads its media from {moved}\n"
    assert stored_root(db) == "moved"


# ---------------------------------------------------------------------- bundle and open
def project_state(db: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The dataset's tags on examples and its reviews, without row ids or actions."""
    with open_project(db, readonly=True) as project:
        store = project.dataset(DATASET)
        tags = store.tag_assignments()
        reviews = store.reviews().drop(columns=["id", "action_id"], errors="ignore")
    return tags, reviews


def test_a_bundle_opens_elsewhere_with_its_media_tags_and_reviews(tmp_path, capsys):
    db = demo_like(tmp_path / "source")
    out = tmp_path / "out" / "speech.zip"
    out.parent.mkdir()
    assert cli.main(["bundle", "--db", str(db), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"wrote {out}: the project {db} and 40 media files\n"
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
    assert names[:3] == ["bundle.json", "demo.db", "media/speech/main/clips/s00.wav"]
    assert len(names) == 2 + N
    # Elsewhere, without the source.
    shutil.move(out, tmp_path / "speech.zip")
    expected = project_state(db)
    shutil.rmtree(tmp_path / "source")
    assert cli.main(["open", str(tmp_path / "speech.zip")]) == 0
    opened = tmp_path / "speech" / "demo.db"
    captured = capsys.readouterr()
    assert captured.out == f"serve it with: erroranalysis serve --db {opened}\n"
    assert f"project file: {opened}" in captured.err
    assert stored_root(opened) == "media/speech/main"
    root = media_root(opened)
    assert root == tmp_path / "speech" / "media" / "speech" / "main"
    assert load_media(root, "clips/s12.wav", kind="audio")[1] == "audio/wav"
    tags, reviews = project_state(opened)
    pd.testing.assert_frame_equal(tags, expected[0])
    pd.testing.assert_frame_equal(reviews, expected[1])
    assert list(tags["tag"]) == ["car noise"]


def test_anyone_on_a_team_may_bundle_it_as_it_is_a_read(tmp_path, capsys):
    db = demo_like(tmp_path / "source")
    with open_project(db) as project:
        project.grant_role("ana", "admin", actor="ana")
        project.grant_role("vera", "viewer", actor="ana")
        revision = project.revision()
    out = tmp_path / "team.zip"
    assert cli.main(["bundle", "--db", str(db), "--out", str(out), "--actor", "vera"]) == 0
    assert f"and {N} media files" in capsys.readouterr().out
    with open_project(db, readonly=True) as project:
        assert project.revision() == revision  # the source is only read
    assert cli.main(["open", str(out)]) == 0
    with open_project(tmp_path / "team" / "demo.db", readonly=True) as copy:
        assert copy.roles()["user"].tolist() == ["ana", "vera"]  # the team comes along
        assert copy.actions(limit=1)[["kind", "actor"]].values.tolist() == [["relink", "vera"]]
    assert stored_root(tmp_path / "team" / "demo.db") == "media/speech/main"


def test_opening_a_bundle_again_reuses_its_folder_and_refuses_another(tmp_path):
    db = demo_like(tmp_path / "source")
    bundle_project(db, tmp_path / "b.zip")
    first = open_bundle(tmp_path / "b.zip")
    assert (first.folder, first.reused) == (tmp_path / "b", False)
    again = open_bundle(tmp_path / "b.zip")
    assert (again.project, again.reused) == (first.project, True)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(BundleError, match="other exists and is not an empty folder"):
        open_bundle(tmp_path / "b.zip", into=tmp_path / "other")
    assert sorted(p.name for p in (tmp_path / "other").iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert open_bundle(tmp_path / "b.zip", into=tmp_path / "empty").project.is_file()


def test_bundle_refuses_missing_media_and_a_missing_folder(tmp_path, capsys):
    db = demo_like(tmp_path)
    remove_clips(tmp_path / "sample_data" / "speech", 3)
    with pytest.raises(BundleError, match=r"3 of 40 media files .* \(first missing: 'clips/s00"):
        bundle_project(db, tmp_path / "b.zip")
    assert cli.main(["bundle", "--db", str(db), "--out", str(tmp_path / "no" / "b.zip")]) == 1
    assert "the folder" in capsys.readouterr().err
    # Nothing but the project (with the -wal and -shm a reader leaves) and its media.
    assert {p.name for p in tmp_path.iterdir()} <= {
        "demo.db",
        "demo.db-wal",
        "demo.db-shm",
        "sample_data",
    }


def bundle_with(tmp_path: Path, extra: tuple) -> Path:
    """A real bundle with one crafted member added."""
    db = demo_like(tmp_path / "source")
    good = tmp_path / "good.zip"
    bundle_project(db, good)
    crafted = tmp_path / "crafted.zip"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(crafted, "w") as sink:
        for info in source.infolist():
            sink.writestr(info, source.read(info))
        sink.writestr(*extra)
    return crafted


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        (("../escaped.txt", b"x"), "leads outside the archive"),
        (("media/../../escaped.txt", b"x"), "leads outside the archive"),
        (("/tmp/escaped.txt", b"x"), "is an absolute path"),
        (symlink_member("media/speech/main/link", "/etc/passwd"), "is a symbolic link"),
    ],
)
def test_a_bundle_with_an_unsafe_member_is_refused_and_nothing_is_written(tmp_path, extra, reason):
    crafted = bundle_with(tmp_path, extra)
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ArchiveError, match=reason):
        open_bundle(crafted, into=tmp_path / "opened")
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert not (tmp_path / "escaped.txt").exists()
    assert cli.main(["open", str(crafted)]) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_an_archive_that_is_no_bundle_is_refused(tmp_path):
    (tmp_path / "x.zip").write_bytes(make_zip([("speech.csv", b"id,label\n")]))
    with pytest.raises(BundleError, match="is not a project bundle"):
        open_bundle(tmp_path / "x.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.zip"]


@pytest.mark.parametrize("how", ["positional", "--db"])
def test_serve_opens_a_bundle_and_serves_its_project(tmp_path, monkeypatch, how):
    db = demo_like(tmp_path / "source")
    bundle_project(db, tmp_path / "b.zip")
    started = {}
    monkeypatch.setattr(cli, "run_child", lambda command, env: started.update(env) or 0)
    zip_args = (
        [str(tmp_path / "b.zip")] if how == "positional" else ["--db", str(tmp_path / "b.zip")]
    )
    assert cli.main(["serve", "--port", "8599", *zip_args]) == 0
    assert started["ERRORANALYSIS_DB"] == str((tmp_path / "b" / "demo.db").resolve())


def test_a_bundle_holds_what_a_writer_committed_but_has_not_checkpointed(tmp_path):
    db = demo_like(tmp_path / "source")
    with open_project(db) as writer:
        writer.dataset(DATASET).set_tag("s08", "people noise", actor="ana")
        # The change is committed to the WAL; the main file does not hold it yet.
        assert Path(f"{db}-wal").stat().st_size > 0
        bundle_project(db, tmp_path / "b.zip")
    opened = open_bundle(tmp_path / "b.zip")
    tags = project_state(opened.project)[0]
    assert sorted(tags["example_id"] + ":" + tags["tag"]) == ["s04:car noise", "s08:people noise"]


def test_runs_on_the_same_media_share_one_copy_in_the_bundle(tmp_path):
    db = demo_like(tmp_path / "source")
    speech = tmp_path / "source" / "sample_data" / "speech"
    with open_project(db) as project:
        project.dataset(DATASET).import_result(
            read_dataset(speech / "speech.csv"), run="v2", actor="setup"
        )
    assert bundle_project(db, tmp_path / "b.zip") == N
    opened = open_bundle(tmp_path / "b.zip")
    with sqlite3.connect(opened.project) as conn:
        roots = conn.execute("SELECT name, media_root FROM runs ORDER BY id").fetchall()
    assert roots == [("main", "media/speech/main"), ("v2", "media/speech/main")]


def test_an_uploaded_archive_is_stored_relative_to_the_project(tmp_path):
    db = tmp_path / "project.db"
    data = make_zip(
        [("speech.csv", b"id,label,prediction,audio\n1,a,a,clips/a.wav\n"), ("clips/a.wav", WAV)]
    )
    extracted = extract_archive(data, run_folder(db, DATASET, "main", data))
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(
            read_dataset(extracted.predictions), actor="setup"
        )
    assert stored_root(db) == f"project.media/speech/{extracted.folder.name}"
    shutil.copytree(tmp_path, tmp_path.parent / f"{tmp_path.name}-copy")
    copied = tmp_path.parent / f"{tmp_path.name}-copy" / "project.db"
    root = media_root(copied)
    assert root == copied.parent / "project.media" / "speech" / extracted.folder.name
    assert load_media(root, "clips/a.wav", kind="audio") == (WAV, "audio/wav")


def test_the_review_page_plays_the_audio_of_an_opened_bundle(tmp_path, monkeypatch):
    db = demo_like(tmp_path / "source")
    bundle_project(db, tmp_path / "b.zip")
    shutil.rmtree(tmp_path / "source")
    opened = open_bundle(tmp_path / "b.zip", into=tmp_path / "elsewhere")
    monkeypatch.setenv("ERRORANALYSIS_DB", str(opened.project))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    review = open_page(at.run(), "review")
    no_errors(review)
    assert [w.value for w in review.warning] == []
    assert len(review.get("audio")) == 1
    assert review.get("audio")[0].proto.url.endswith(".wav")
