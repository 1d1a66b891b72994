"""The Datasets page: the summary, picking a dataset, and importing with a validation report."""

from __future__ import annotations

import hashlib
import io
import wave
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from app_support import APP, DATASET, REVIEWER, no_errors, open_page
from store_support import add_run
from streamlit.runtime.memory_media_file_storage import _calculate_file_id
from streamlit.testing.v1 import AppTest

from app_pages._ui import md
from erroranalysis.archive import media_area
from erroranalysis.media import MEDIA_ROOTS_ENV
from erroranalysis.store import open_project
from erroranalysis.vocabulary import DEFAULT_RUN


def metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def submit(at):
    return at.button(key="FormSubmitter:ds_import-Validate and import").click().run()


def test_smoke_summary(app):
    no_errors(app)
    shown = metrics(app)
    assert shown["Examples"] == "40"
    assert shown["Errors"] == "10"
    assert shown["Accuracy"] == "75.0%"
    # 14 of 40 labels are "yes": always predicting it is right 35% of the time.
    assert shown["Most-frequent-class baseline"] == "35.0%"
    assert len(app.get("plotly_chart")) == 1  # class balance


def test_skewed_classes_warn_and_point_to_precision_and_recall(tmp_path, monkeypatch):
    from app_support import APP
    from streamlit.testing.v1 import AppTest

    frame = pd.DataFrame(
        {
            "id": [str(i) for i in range(100)],
            "label": ["no"] * 95 + ["yes"] * 5,
            "prediction": ["no"] * 100,
            "correct": [True] * 95 + [False] * 5,
        }
    )
    db = tmp_path / "skew.db"
    with open_project(db) as project:
        add_run(project, "skewed", frame)
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    no_errors(at)
    assert any("precision and recall" in w.value for w in at.warning)
    assert any("Audit" in str(link.proto.label) for link in at.get("page_link"))


def test_pick_another_dataset(app, project_file):
    with open_project(project_file) as project:
        frame = project.dataset(DATASET).examples().head(8)
        add_run(project, "production", frame, actor="setup")
    app.run()
    assert app.dataframe[0].value["dataset"].tolist() == [DATASET, "production"]
    app.sidebar.selectbox(key="dataset").select("production").run()
    no_errors(app)
    assert metrics(app)["Examples"] == "8"


MALFORMED = (
    b"id,label,prediction,confidence\n"
    b"a1,yes,yes,0.9\n"
    b"a1,no,yes,0.4\n"  # duplicate id
    b"a3,no,no,1.7\n"  # confidence out of range
    b"a4,yes,no,high\n"  # confidence not a number
)


def test_a_malformed_upload_lists_every_problem_and_writes_nothing(app, project_file):
    with open_project(project_file) as project:
        before = project.revision()
    app.file_uploader(key="ds_upload").upload("bad.csv", MALFORMED, "text/csv").run()
    no_errors(app)
    submit(app)
    no_errors(app)
    assert any("Nothing was imported" in e.value for e in app.error)
    report = app.dataframe[-1].value
    assert len(report) >= 3
    text = " ".join(report["problem"])
    assert "a1" in " ".join(report["value"]) and "1.7" in " ".join(report["value"])
    assert "duplicate" in text.lower() or "twice" in text.lower()
    with open_project(project_file) as project:
        assert project.revision() == before
        assert project.dataset_names() == [DATASET]


def test_upload_with_a_column_mapping(app, project_file):
    frame = pd.DataFrame(
        {
            "uid": ["007", "008", "009"],
            "truth": ["cat", "dog", "cat"],
            "guess": ["cat", "cat", "cat"],
            "site": ["a", "b", "a"],
        }
    )
    data = frame.to_csv(index=False).encode()
    app.file_uploader(key="ds_upload").upload("pets.csv", data, "text/csv").run()
    app.selectbox(key="ds_role:id").select("uid")
    app.selectbox(key="ds_role:label").select("truth")
    app.selectbox(key="ds_role:prediction").select("guess")
    app.text_input(key="ds_name").input("pets")
    submit(app)
    no_errors(app)
    assert any("Imported 3 examples" in s.value for s in app.success)
    with open_project(project_file) as project:
        examples = project.dataset("pets").examples()
        assert examples["id"].tolist() == ["007", "008", "009"]
        assert project.dataset("pets").run().metadata_columns == ("site",)
    assert app.sidebar.selectbox(key="dataset").value == "pets"


def test_upload_parquet(app, project_file):
    frame = pd.DataFrame({"id": ["1", "2"], "label": ["a", "b"], "prediction": ["a", "a"]})
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    app.file_uploader(key="ds_upload").upload("more.parquet", sink.getvalue()).run()
    submit(app)
    no_errors(app)
    with open_project(project_file) as project:
        assert project.dataset("more").run().n_errors == 1


def test_upload_size_is_limited(app):
    assert app.file_uploader(key="ds_upload").proto.max_upload_size_mb == 200


# ---------------------------------------------------------------------- where media come from
SECRET = b"-----BEGIN OPENSSH PRIVATE KEY-----\nc2VjcmV0LWtleS1ieXRlcw==\n-----END OPENSSH PRIVATE KEY-----\n"
TOKEN = b"API_TOKEN=sk-live-do-not-leak\n"


def wav_bytes() -> bytes:
    sink = io.BytesIO()
    with wave.open(sink, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes((np.sin(np.arange(800) / 5) * 8000).astype(np.int16).tobytes())
    return sink.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return sink.getvalue()


@pytest.fixture
def secrets(project_file) -> Path:
    """A private key and an API token beside the project file, as in the report."""
    folder = project_file.parent
    (folder / ".ssh").mkdir()
    (folder / ".ssh" / "id_rsa").write_bytes(SECRET)
    (folder / "work").mkdir()
    (folder / "work" / ".env").write_bytes(TOKEN)
    return folder


def media_widgets(at) -> list[str]:
    keys = [w.key for w in at.text_input] + [w.key for w in at.selectbox]
    return [k for k in keys if k and k.startswith("ds_media")]


def datasets(project_file) -> list[str]:
    with open_project(project_file) as project:
        return project.dataset_names()


def upload(at, name: str, data: bytes):
    return at.file_uploader(key="ds_upload").upload(name, data, "application/octet-stream").run()


def test_without_allowed_folders_no_server_path_can_be_given(app, project_file, secrets):
    # The report's reproduction: a path beside the project, with the folder typed in.
    upload(app, "k.csv", b"id,label,prediction,audio\nk1,a,b,id_rsa\n")
    no_errors(app)
    assert media_widgets(app) == []  # nowhere to type a folder
    assert any("the operator allowed no folder on this server" in m.value for m in app.markdown)
    submit(app)
    assert any("Nothing was imported" in e.value for e in app.error)
    assert "no media root" in " ".join(app.dataframe[-1].value["problem"])
    assert "k" not in datasets(project_file)


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("ds_media_root", "{folder}/.ssh", "not one of the folders the operator allowed"),
        ("ds_media_root", "{folder}/work", "not one of the folders the operator allowed"),
        ("ds_media", ".ssh", "Nothing was imported"),  # the old free-text field is not read
    ],
)
def test_without_allowed_folders_a_folder_sent_anyway_is_not_used(
    app, project_file, secrets, key, value, shown
):
    # What a crafted browser could put in the session: never a folder the operator did not allow.
    upload(app, "k.csv", b"id,label,prediction,audio\nk1,a,b,id_rsa\nk2,a,a,.env\n")
    app.session_state[key] = value.format(folder=secrets)
    submit(app)
    no_errors(app)
    assert any(shown in e.value for e in app.error), [e.value for e in app.error]
    assert "k" not in datasets(project_file)


@pytest.fixture
def allowed(secrets, monkeypatch) -> tuple[Path, Path]:
    """Two folders the operator allowed; the secrets stay outside them."""
    first, second = secrets / "media" / "speech", secrets / "media" / "more"
    (first / "clips").mkdir(parents=True)
    second.mkdir(parents=True)
    (first / "clips" / "ok.wav").write_bytes(wav_bytes())
    (first / "clips" / "key.wav").write_bytes(SECRET)  # a secret under an audio name
    (first / "out").symlink_to(secrets / ".ssh", target_is_directory=True)
    monkeypatch.setenv(MEDIA_ROOTS_ENV, f"{first}:{second}")
    return first, second


@pytest.fixture
def app_with_roots(allowed, project_file) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    return at.run()


def test_with_allowed_folders_only_those_are_offered(app_with_roots, allowed, project_file):
    at = upload(app_with_roots, "picked.csv", b"id,label,prediction,audio\np1,a,b,ok.wav\n")
    no_errors(at)
    assert at.selectbox(key="ds_media_root").options == ["(none)", *map(str, allowed)]
    assert any(md(str(allowed[0])) in m.value for m in at.markdown)  # the page names them
    at.selectbox(key="ds_media_root").select(str(allowed[0]))
    at.text_input(key="ds_media_sub").input("clips")
    submit(at)
    no_errors(at)
    assert any("Imported 1 examples" in s.value for s in at.success)
    with open_project(project_file) as project:
        assert project.dataset("picked").run().media_root == (allowed[0] / "clips").resolve()
    review = open_page(at, "review", dataset="picked", example="p1")
    no_errors(review)
    audio = review.get("audio")
    assert len(audio) == 1
    assert audio[0].proto.url.endswith(_calculate_file_id(wav_bytes(), "audio/wav") + ".wav")


@pytest.mark.parametrize(
    ("sub", "reason"),
    [
        ("..", "sub-folder '..' leads outside"),
        ("../../.ssh", "sub-folder '../../.ssh' leads outside"),
        ("{folder}/.ssh", "is an absolute path"),
        ("out", "sub-folder 'out' leads outside the media root"),  # a link out of it
        ("clips/ok.wav", "is not a folder"),
    ],
)
def test_a_sub_folder_cannot_leave_the_allowed_folder(
    app_with_roots, allowed, secrets, project_file, sub, reason
):
    at = upload(app_with_roots, "k.csv", b"id,label,prediction,audio\nk1,a,b,id_rsa\n")
    at.selectbox(key="ds_media_root").select(str(allowed[0]))
    at.text_input(key="ds_media_sub").input(sub.format(folder=secrets))
    submit(at)
    no_errors(at)
    assert any(md(reason) in e.value for e in at.error), [e.value for e in at.error]
    assert "k" not in datasets(project_file)


@pytest.mark.parametrize("path", ["../../.ssh/id_rsa", "out/id_rsa", "{folder}/.ssh/id_rsa"])
def test_paths_in_the_file_cannot_leave_the_allowed_folder(
    app_with_roots, allowed, secrets, project_file, path
):
    data = f"id,label,prediction,audio\nk1,a,b,{path.format(folder=secrets)}\n".encode()
    at = upload(app_with_roots, "k.csv", data)
    at.selectbox(key="ds_media_root").select(str(allowed[0]))
    submit(at)
    no_errors(at)
    assert any("Nothing was imported" in e.value for e in at.error)
    assert "k" not in datasets(project_file)


def test_a_secret_under_an_audio_name_is_not_sent(app_with_roots, allowed, project_file):
    at = upload(app_with_roots, "named.csv", b"id,label,prediction,audio\nn1,a,b,clips/key.wav\n")
    at.selectbox(key="ds_media_root").select(str(allowed[0]))
    submit(at)
    no_errors(at)
    review = open_page(at, "review", dataset="named", example="n1")
    no_errors(review)
    assert review.session_state["rv_current"] == "n1"
    assert len(review.get("audio")) == 0
    assert any("is not audio" in w.value for w in review.warning)


ARCHIVE_CSV = b"id,label,prediction,audio\nz1,yes,no,clips/z1.wav\nz2,no,no,clips/deep/z2.wav\n"


def test_an_archive_upload_imports_and_its_audio_plays_as_bytes(app, project_file):
    clip = wav_bytes()
    data = zip_of(
        {
            "bundle/preds.csv": ARCHIVE_CSV,
            "bundle/clips/z1.wav": clip,
            "bundle/clips/deep/z2.wav": clip,
        }
    )
    at = upload(app, "bundle.zip", data)
    no_errors(at)
    assert media_widgets(at) == []  # the archive is the media folder
    assert any("inside the archive" in c.value for c in at.caption)
    assert at.text_input(key="ds_name").value == "bundle"
    submit(at)
    no_errors(at)
    assert any("Imported 2 examples (1 errors)" in s.value for s in at.success)
    with open_project(project_file) as project:
        run = project.dataset("bundle").run()
        assert run.source == "bundle.zip/bundle/preds.csv"
    digest = hashlib.sha256(data).hexdigest()[:12]
    # PROJECT.media/DATASET/RUN-HASH/, and in it the predictions file's folder.
    expected = media_area(project_file) / "bundle" / f"{DEFAULT_RUN}-{digest}" / "bundle"
    assert run.media_root == expected.resolve()
    assert (run.media_root / "clips" / "deep" / "z2.wav").read_bytes() == clip

    review = open_page(at, "review", dataset="bundle", example="z1")
    no_errors(review)
    audio = review.get("audio")
    assert len(audio) == 1
    # Sent as these very bytes, typed from their content.
    assert audio[0].proto.url.endswith(_calculate_file_id(clip, "audio/wav") + ".wav")


def test_a_refused_archive_shows_why_and_offers_no_import(app, project_file):
    data = zip_of({"preds.csv": b"id,label,prediction,audio\nk1,a,b,id_rsa\n", "../id_rsa": b"x"})
    at = upload(app, "evil.zip", data)
    no_errors(at)
    assert any(md("'../id_rsa' leads outside") in e.value for e in at.error)
    assert [b for b in at.button if "Validate" in (b.label or "")] == []
    assert not media_area(project_file).exists()


def test_a_failed_archive_import_leaves_no_files_behind(app, project_file):
    bad = b"id,label,prediction,audio\nz1,yes,no,clips/z1.wav\nz1,no,no,../../x.wav\n"
    at = upload(app, "broken.zip", zip_of({"preds.csv": bad, "clips/z1.wav": wav_bytes()}))
    submit(at)
    no_errors(at)
    assert any("Nothing was imported" in e.value for e in at.error)
    assert "broken" not in datasets(project_file)
    assert list(media_area(project_file).rglob("*.wav")) == []


def test_replacing_an_archive_run_removes_the_old_files(app, project_file):
    first = zip_of(
        {
            "preds.csv": ARCHIVE_CSV.replace(b"clips/deep/", b"clips/"),
            "clips/z1.wav": wav_bytes(),
            "clips/z2.wav": wav_bytes(),
        }
    )
    at = upload(app, "swap.zip", first)
    submit(at)
    no_errors(at)
    with open_project(project_file) as project:
        old = project.dataset("swap").run().media_root
    second = zip_of(
        {"preds.csv": ARCHIVE_CSV, "clips/z1.wav": wav_bytes(), "clips/deep/z2.wav": wav_bytes()}
    )
    at = upload(at, "swap.zip", second)
    at.checkbox(key="ds_replace").check()
    submit(at)
    no_errors(at)
    with open_project(project_file) as project:
        new = project.dataset("swap").run().media_root
    assert new != old and new.is_dir()
    assert not old.exists()
