"""The Compare page: two run pickers, the per-tag table and chart, regressions at a glance."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from app_support import DATASET, downloads, no_errors, open_page, record_downloads, speech_frame

from erroranalysis import exports
from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project


def add_second_run(db, folder) -> None:
    """Run v2: every example with snr_db below 12 wrong (9 new errors on "quiet", a tag its
    data brings), the errors of run main from s12 on kept."""
    frame = speech_frame()
    index = pd.RangeIndex(len(frame))
    wrong = (index < 12) | ((index % 4 == 0) & (index >= 12))
    right = frame["prediction"] == frame["label"]
    frame.loc[wrong & right, "prediction"] = "down"
    frame.loc[~wrong, "prediction"] = frame.loc[~wrong, "label"]
    frame["tags"] = ["quiet" if i < 12 else "" for i in range(len(frame))]
    path = folder / "speech_v2.csv"
    frame.to_csv(path, index=False)
    with open_project(db) as project:
        project.dataset(DATASET).import_result(read_dataset(path), run="v2", actor="setup")


@pytest.fixture
def compare(project_file, app, tmp_path):
    add_second_run(project_file, tmp_path)
    return open_page(app, "compare")


def test_regressions_and_the_table_at_a_glance(compare):
    no_errors(compare)
    assert compare.selectbox(key="cmp_a").value == "main"
    assert compare.selectbox(key="cmp_b").value == "v2"
    table = compare.dataframe[0].value.set_index("tag")
    assert table.index[0] == "(all examples)"
    assert table.loc["(all examples)", "accuracy_a"] == 30 / 40
    assert table.loc["(all examples)", "accuracy_b"] == 21 / 40
    assert table.loc["quiet", "regression"] and not table.loc["quiet", "improved"]
    assert table.loc["quiet", "interval"].startswith("-")
    assert not table.loc["clipped", "regression"]
    assert [m.value for m in compare.metric] == ["52.5%", "1", "0"]
    assert "quiet" in compare.error[0].value
    assert len(compare.get("plotly_chart")) == 1


def test_swapping_the_runs_shows_an_improvement(compare):
    compare.selectbox(key="cmp_a").select("v2").run()
    compare.selectbox(key="cmp_b").select("main").run()
    no_errors(compare)
    table = compare.dataframe[0].value.set_index("tag")
    assert table.loc["quiet", "improved"] and not table.loc["quiet", "regression"]
    assert "quiet" in compare.success[0].value and not compare.error


def test_the_same_run_twice_is_not_compared(compare):
    compare.selectbox(key="cmp_a").select("v2").run()
    no_errors(compare)
    assert "Pick two different runs" in compare.warning[0].value
    assert not compare.dataframe


def test_the_download_holds_the_whole_comparison(project_file, app, tmp_path, monkeypatch):
    made = record_downloads(monkeypatch)
    add_second_run(project_file, tmp_path)
    at = open_page(app, "compare")
    name, text = downloads(at, made)["compare-main-v2:csv"]
    assert name == "speech-v2-compare-main-v2.csv"
    frame = pd.read_csv(io.StringIO(text))
    assert {"difference_low", "difference_high", "p_value", "test"} <= set(frame.columns)
    assert len(frame) == len(at.dataframe[0].value)
    # The file `erroranalysis export compare --run v2 --baseline main` writes.
    with open_project(project_file) as project:
        table = exports.export_table(project, DATASET, "compare", run="v2", baseline="main")
    assert text.encode() == exports.export_bytes(table, format="csv", kind="compare")


def test_a_dataset_with_one_run_says_so(app):
    at = open_page(app, "compare")
    no_errors(at)
    assert "has one run" in at.info[0].value
    assert not at.dataframe and not at.get("plotly_chart")
