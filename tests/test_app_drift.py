"""The Drift page, and how the other pages treat a production sample (no labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_support import APP, DATASET, no_errors, open_page, speech_frame
from streamlit.testing.v1 import AppTest

from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

PRODUCTION = "prod"


def production_frame() -> pd.DataFrame:
    """30 production examples, two thirds of them in car noise (dev: one fifth)."""
    n = 30
    return pd.DataFrame(
        {
            "id": [f"p{i:02d}" for i in range(n)],
            "prediction": ["yes"] * n,
            "snr_db": np.arange(n, dtype=float),
            "noise": ["car" if i % 3 else "clean" for i in range(n)],
            "tags": ["clipped" if i % 2 else "" for i in range(n)],
        }
    )


@pytest.fixture
def with_production(project_file, tmp_path):
    csv = tmp_path / "prod.csv"
    production_frame().to_csv(csv, index=False)
    with open_project(project_file) as project:
        project.dataset(PRODUCTION, create=True).import_result(
            read_dataset(csv, production=True), actor="setup"
        )
        project.define_tag("quiet", rule="snr_db < 10", actor="setup")
    return project_file


@pytest.fixture
def app(with_production, app) -> AppTest:
    """The app started once the production sample is in the project."""
    return app


def test_drift_by_tag_shows_the_table_and_the_chart(app):
    open_page(app, "drift")
    no_errors(app)
    table = app.dataframe[0].value
    assert set(table["tag"]) == {"quiet", "clipped"}
    row = table.set_index("tag").loc["clipped"]
    assert (row["examples_dev"], row["examples_against"]) == (4, 15)
    assert bool(row["drifted"])
    assert len(app.get("plotly_chart")) == 1
    assert app.metric[1].value == "1"  # one drifted row


def test_drift_by_a_column_shows_the_projected_accuracy(app):
    open_page(app, "drift")
    app.selectbox(key="dr_by").select("noise").run()
    no_errors(app)
    table = app.dataframe[0].value
    assert table["value"].tolist() == ["car", "clean"]
    # dev: car 8 examples (6 right: s00, s20 wrong), clean 32 (24 right); production 20/10.
    dev = speech_frame()
    right = dev["label"] == dev["prediction"]
    car = right[dev["noise"] == "car"].mean()
    clean = right[dev["noise"] == "clean"].mean()
    expected = 20 / 30 * car + 10 / 30 * clean
    assert app.metric[2].value == f"{expected:.1%}"


def test_drift_without_a_production_sample_says_how_to_import_one(project_file):
    at = AppTest.from_file(APP, default_timeout=60).run()
    open_page(at, "drift")
    no_errors(at)
    assert any("--production" in info.value for info in at.info)
    assert not at.dataframe


def test_a_rule_production_cannot_evaluate_is_named(app, with_production):
    with open_project(with_production) as project:
        project.define_tag("text rule", rule="text == 'x'", actor="setup")
    open_page(app, "drift")
    assert any("rule tag 'text rule' cannot be evaluated" in e.value for e in app.error)


@pytest.mark.parametrize("page", ["priorities", "audit", "tags", "review"])
def test_pages_that_need_labels_say_a_production_sample_has_none(app, page):
    app.sidebar.selectbox(key="dataset").select(PRODUCTION).run()
    open_page(app, page)
    no_errors(app)
    assert any("is a production sample" in info.value for info in app.info)
    assert any("Drift" in str(link.proto.label) for link in app.get("page_link"))


def test_datasets_page_marks_a_production_sample(app):
    app.sidebar.selectbox(key="dataset").select(PRODUCTION).run()
    no_errors(app)
    runs = app.dataframe[0].value.set_index("dataset")
    assert runs["production"].to_dict() == {DATASET: False, PRODUCTION: True}
    assert any("production sample" in info.value for info in app.info)
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Examples"] == "30"
    assert "Accuracy" not in metrics


def submit(at: AppTest) -> AppTest:
    return at.button(key="FormSubmitter:ds_import-Validate and import").click().run()


def test_the_datasets_page_imports_a_production_sample(app, with_production):
    data = production_frame().head(6).to_csv(index=False).encode()
    app.file_uploader(key="ds_upload").upload("week2.csv", data, "text/csv").run()
    app.toggle(key="ds_production").set_value(True).run()
    no_errors(app)
    # Without labels, the label role may stay unmapped.
    assert app.selectbox(key="ds_role:production:label").value == "(none)"
    app.text_input(key="ds_name").input("week2")
    submit(app)
    no_errors(app)
    assert any("6 examples (a production sample, no labels)" in s.value for s in app.success)
    with open_project(with_production) as project:
        assert project.dataset("week2").production


def test_a_labelled_file_uploaded_as_production_is_refused(app, with_production):
    data = speech_frame().head(4).drop(columns=["audio"]).to_csv(index=False).encode()
    app.file_uploader(key="ds_upload").upload("mixed.csv", data, "text/csv").run()
    app.toggle(key="ds_production").set_value(True).run()
    app.text_input(key="ds_name").input("mixed")
    submit(app)
    no_errors(app)
    problems = app.dataframe[-1].value["problem"].tolist()
    assert any("a production sample has no labels" in p for p in problems)
    with open_project(with_production) as project:
        assert "mixed" not in project.dataset_names()
