"""The Datasets page: the summary, picking a dataset, and importing with a validation report."""

from __future__ import annotations

import io

import pandas as pd
from app_support import DATASET, no_errors

from erroranalysis.store import open_project


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
        project.import_run(
            "skewed", frame, source="x.csv", format="csv", media_root=None,
            metadata_columns=[], dataset_tags=[],
        )  # fmt: skip
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    no_errors(at)
    assert any("precision and recall" in w.value for w in at.warning)
    assert any("Audit" in str(link.proto.label) for link in at.get("page_link"))


def test_pick_another_dataset(app, project_file):
    with open_project(project_file) as project:
        frame = project.examples(DATASET).head(8)
        project.import_run(
            "production", frame, source="p.csv", format="csv", media_root=None,
            metadata_columns=[], dataset_tags=[], actor="setup",
        )  # fmt: skip
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
        examples = project.examples("pets")
        assert examples["id"].tolist() == ["007", "008", "009"]
        assert project.run("pets").metadata_columns == ("site",)
    assert app.sidebar.selectbox(key="dataset").value == "pets"


def test_upload_parquet(app, project_file):
    frame = pd.DataFrame({"id": ["1", "2"], "label": ["a", "b"], "prediction": ["a", "a"]})
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    app.file_uploader(key="ds_upload").upload("more.parquet", sink.getvalue()).run()
    submit(app)
    no_errors(app)
    with open_project(project_file) as project:
        assert project.run("more").n_errors == 1


def test_media_folder_must_stay_inside_the_project_folder(app, project_file):
    data = b"id,label,prediction\n1,a,a\n"
    app.file_uploader(key="ds_upload").upload("x.csv", data, "text/csv").run()
    app.text_input(key="ds_media").input("../../etc")
    submit(app)
    assert any("outside the media root" in e.value for e in app.error)
    with open_project(project_file) as project:
        assert "x" not in project.dataset_names()


def test_upload_size_is_limited(app):
    assert app.file_uploader(key="ds_upload").proto.max_upload_size_mb == 200
