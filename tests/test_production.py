"""Production samples: predictions without labels, imported into a dataset of their own.

What ``import --production`` reads and refuses, how the store marks such a dataset and
keeps it apart from labelled ones (a refused import changes nothing), the analyses that
need labels refusing it in one message, and the ``drift`` command end to end.
"""

from __future__ import annotations

import io
import itertools
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.cli import main
from erroranalysis.errors import ExpectedError, StoreError
from erroranalysis.importing import ImportValidationError, read_dataset
from erroranalysis.store import open_project

DEV = (
    "id,label,prediction,confidence,noise,snr_db\n"
    "d1,yes,yes,0.9,car,5\nd2,no,yes,0.6,clean,30\nd3,no,no,0.8,people,12\n"
    "d4,yes,yes,0.7,clean,25\nd5,yes,no,0.55,car,3\nd6,no,no,0.9,clean,28\n"
)
PRODUCTION = (
    "id,prediction,confidence,noise,snr_db\n"
    "p1,yes,0.9,car,4\np2,no,0.5,car,6\np3,yes,0.8,clean,31\np4,no,0.7,people,11\n"
)


def read(text: str, **options):
    return read_dataset(io.BytesIO(text.encode()), filename="data.csv", **options)


def dump(path: Path) -> str:
    with sqlite3.connect(path) as conn:
        return "\n".join(conn.iterdump())


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "p.db"
    with open_project(path) as project:
        project.dataset("dev", create=True).import_result(read(DEV))
        project.dataset("prod", create=True).import_result(read(PRODUCTION, production=True))
        project.define_tag("noisy", rule="snr_db < 10", hlp=0.9, actor="setup")
    return path


def test_a_production_file_keeps_predictions_confidence_and_metadata():
    result = read(PRODUCTION, production=True)
    assert result.production
    assert list(result.frame.columns) == ["id", "prediction", "confidence", "noise", "snr_db"]
    assert result.frame["confidence"].tolist() == [0.9, 0.5, 0.8, 0.7]
    assert result.metadata_columns == ["noise", "snr_db"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DEV, "column 'label': is the label column, but a production sample has no labels"),
        (
            "id,prediction,correct\na,yes,true\n",
            "column 'correct': is the correct column, but a production sample",
        ),
        (
            "id,prediction,human_label\na,yes,no\n",
            "column 'human_label': is the human label column, but a production sample",
        ),
        ("id,confidence\na,0.5\n", "the required prediction column is missing"),
    ],
)
def test_a_production_file_with_labels_or_without_predictions_is_refused(text, message):
    with pytest.raises(ImportValidationError, match=message):
        read(text, production=True)


def test_a_labelled_file_still_needs_its_label():
    with pytest.raises(ImportValidationError, match="the required label column is missing"):
        read(PRODUCTION)


def test_the_store_marks_production_datasets(db):
    with open_project(db, readonly=True) as project:
        assert project.dataset("prod").production
        assert not project.dataset("dev").production
        info = project.dataset("prod").run()
        assert info.production and info.n_errors == 0
        assert pd.isna(info.accuracy)
        assert project.dataset("prod").example_ids().tolist() == ["p1", "p2", "p3", "p4"]
        runs = analyses.runs_table(project).set_index("dataset")
    assert runs["production"].to_dict() == {"dev": False, "prod": True}
    assert pd.isna(runs.at["prod", "errors"]) and pd.isna(runs.at["prod", "accuracy"])
    assert runs.at["dev", "errors"] == 2


@pytest.mark.parametrize(
    ("dataset", "production", "message"),
    [
        ("dev", True, "dataset 'dev' holds labelled runs: import the production sample"),
        ("prod", False, "dataset 'prod' is a production sample .*: import labelled"),
    ],
)
def test_production_and_labelled_runs_never_share_a_dataset(db, dataset, production, message):
    before = dump(db)
    result = read(PRODUCTION if production else DEV, production=production)
    with open_project(db) as project, pytest.raises(StoreError, match=message):
        project.dataset(dataset).import_result(result, run="second")
    assert dump(db) == before


def test_a_frame_that_does_not_match_its_role_is_refused(db):
    frame = read(DEV).frame
    with open_project(db) as project, pytest.raises(StoreError, match="production run has"):
        add_run(project, "other", frame, source="x.csv", production=True)


def test_a_production_sample_takes_no_reviews(db):
    with open_project(db) as project, pytest.raises(StoreError, match="no errors or correct"):
        project.dataset("prod").record_review("p1", reviewer="ana")


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("priority_table", {}),
        ("slice_table", {"by": "noise"}),
        ("confusion", {}),
        ("error_shares", {}),
        ("dataset_summary", {}),
        ("tag_overview", {}),
    ],
)
def test_analyses_that_need_labels_refuse_a_production_sample(db, name, options):
    with open_project(db, readonly=True) as project:
        evidence = analyses.load_evidence(project, "prod")
    assert evidence.tags.columns.tolist() == ["noisy"]  # the rule holds on production too
    with pytest.raises(ExpectedError, match="dataset 'prod' is a production sample: it has no"):
        analyses.ANALYSES[name](evidence, **options)


# --------------------------------------------------------------------------- the CLI


def test_cli_imports_a_production_sample(tmp_path, capsys):
    data = tmp_path / "prod.csv"
    data.write_text(PRODUCTION)
    db = tmp_path / "c.db"
    assert main(["import", str(data), "--db", str(db), "--dataset", "prod", "--production"]) == 0
    assert "4 examples (a production sample, no labels)" in capsys.readouterr().out
    assert main(["import", str(data), "--db", str(db), "--dataset", "again"]) == 1
    assert "the required label column is missing" in capsys.readouterr().err


def test_cli_drift_writes_the_table(db, tmp_path, capsys):
    out = tmp_path / "drift.csv"
    args = ["drift", "--db", str(db), "--dataset", "dev", "--against", "prod"]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert table["tag"].tolist() == ["noisy"]
    assert table[["examples_dev", "examples_against"]].iloc[0].tolist() == [2, 2]
    assert main([*args, "--by", "noise", "--format", "json"]) == 0
    assert '"value":"car"' in capsys.readouterr().out.replace(" ", "")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--by", "weather"], "error: drift: by: dataset 'dev' has no column 'weather'"),
        (["--against", "dev"], "error: drift: against must be a production sample"),
        (["--dataset", "prod"], "error: drift: dataset 'prod' is a production sample"),
        (["--against", "nowhere"], "error: no dataset named 'nowhere'"),
    ],
)
def test_cli_drift_refuses_bad_input_in_one_line(db, capsys, extra, message):
    args = ["drift", "--db", str(db), "--dataset", "dev", "--against", "prod", *extra]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def test_cli_drift_names_a_rule_production_cannot_evaluate(db, capsys):
    with open_project(db) as project:
        project.define_tag("fast", rule="speed > 2", actor="setup")
    # dev has no speed column either: the rule is nobody's tag, and drift goes on.
    assert main(["drift", "--db", str(db), "--dataset", "dev", "--against", "prod"]) == 0
    capsys.readouterr()
    with open_project(db) as project:
        project.dataset("dev").import_result(read(DEV.replace("snr_db", "speed")), run="v2")
    assert main(["drift", "--db", str(db), "--dataset", "dev", "--against", "prod"]) == 1
    assert "rule tag 'fast' cannot be evaluated on the production sample" in capsys.readouterr().err


ROUND = itertools.count()
IDS = st.text(alphabet="0123456789abcXYZ_-", min_size=1, max_size=8)
ROWS = st.lists(
    st.tuples(IDS, st.sampled_from(["yes", "no", "007", "7"]), st.floats(0, 1)),
    min_size=1,
    max_size=25,
    unique_by=lambda row: row[0],
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(rows=ROWS)
def test_a_production_sample_reads_back_as_written(tmp_path, rows):
    frame = pd.DataFrame(rows, columns=["id", "prediction", "confidence"])
    data = frame.to_csv(index=False)
    db = tmp_path / f"round-{next(ROUND)}.db"  # one project per example hypothesis draws
    with open_project(db) as project:
        project.dataset("prod", create=True).import_result(read(data, production=True))
        back = project.dataset("prod").examples()
    assert back["id"].tolist() == frame["id"].tolist()
    assert back["prediction"].tolist() == frame["prediction"].tolist()
    assert back["confidence"].tolist() == pytest.approx(frame["confidence"].tolist(), abs=0)
    assert "correct" not in back.columns and "label" not in back.columns
