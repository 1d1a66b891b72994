"""Portable projects: media roots stored relative to the project file, relinked when media
move, and a project bundled with its media into one archive that opens elsewhere."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from app_support import DATASET, N, _wav, speech_frame

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
