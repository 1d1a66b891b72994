"""Exports: every kind of table in every format, the examples sheet and the corrected labels
exactly, formula-safe CSV with readable numbers, raw Parquet, and bad requests that write
nothing."""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from store_support import add_run

from erroranalysis.analyses import load_evidence
from erroranalysis.cli import main
from erroranalysis.errors import ExpectedError, StoreError
from erroranalysis.evidence import Evidence
from erroranalysis.exports import (
    EXPORT_KINDS,
    FORMATS,
    KIND_OPTIONS,
    apply_corrections,
    corrected_labels,
    examples_sheet,
    export_bytes,
    export_table,
    format_for,
    joined_tags,
    rate_columns,
    write_export,
)
from erroranalysis.store import open_project

FORMULA_TAG = '=HYPERLINK("http://x")'
# The options each kind is exported with in the tables below.
OPTIONS = {"slices": {"by": "noise"}}


def run_frame(prediction: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["007", "7", "8", "9", "10"],
            "label": ["yes", "no", "no", "up", "up"],
            "prediction": [*prediction, "yes"],
            "confidence": [0.9, 0.6, 0.8, 0.55, 0.3],
            "noise": ["car", "clean", "=cmd", "car", "clean"],
            "tag:clipped": [False, True, False, False, False],
        }
    ).assign(correct=lambda f: f["label"] == f["prediction"])


def reviews(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "reviewer", "note", "label_wrong", "corrected_label"])


@pytest.fixture
def db(tmp_path) -> Path:
    """dev: runs v2 then main (the latest) of 5 examples; ana reviews 007 and 7, then ben
    reviews 7 again, 9 and 10 (an error he tags with nothing); a second dataset with one
    run."""
    path = tmp_path / "p.db"
    with open_project(path) as p:
        settings_ = {"metadata_columns": ["noise"], "dataset_tags": ["clipped"]}
        add_run(p, "dev", run_frame(["yes", "yes", "no", "up"]), run="v2", **settings_)
        add_run(p, "dev", run_frame(["yes", "yes", "no", "no"]), run="main", **settings_)
        add_run(p, "other", run_frame(["yes", "no", "no", "up"]), **settings_)
        production = run_frame(["yes", "no", "no", "up"]).drop(columns=["label", "correct"])
        add_run(p, "prod", production, production=True)
        store = p.dataset("dev")
        store.record_reviews(
            reviews([("7", "ana", "=1+1", True, "yes"), ("007", "ana", "", False, None)]),
            tags=[["car noise", FORMULA_TAG], ["car noise"]],
            run="main",
        )
        store.record_reviews(
            reviews(
                [
                    ("7", "ben", "second look", False, None),
                    ("9", "ben", "@SUM(1)", True, "no"),
                    ("10", "ben", "", False, None),
                ]
            ),
            tags=[[], ["car noise"], []],
            run="main",
        )
        p.define_tag("car noise", actor="lead", hlp=0.9)
    return path


@pytest.fixture
def project(db):
    with open_project(db, readonly=True) as p:
        yield p


# ---------------------------------------------------------------------- the examples sheet
def test_examples_sheet_columns_in_order(project):
    sheet = export_table(project, "dev", "examples")
    assert list(sheet.columns) == [
        "id", "label", "prediction", "correct", "confidence", "noise", "tags",
        "tag:clipped", f"tag:{FORMULA_TAG}", "tag:car noise",
        "reviewer", "reviewed_at", "note", "label_wrong", "corrected_label",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("id_", "tags", "reviewer", "note", "label_wrong", "corrected"),
    [
        ("007", "car noise", "ana", "", False, None),
        ("7", f"clipped;{FORMULA_TAG};car noise", "ana;ben", "second look", True, "yes"),
        ("8", "", "", "", False, None),
        ("9", "car noise", "ben", "@SUM(1)", True, "no"),
        ("10", "", "ben", "", False, None),
    ],
)
def test_examples_sheet_row(project, id_, tags, reviewer, note, label_wrong, corrected):
    row = export_table(project, "dev", "examples").set_index("id").loc[id_]
    assert row["tags"] == tags
    assert row["reviewer"] == reviewer
    assert row["note"] == note
    assert bool(row["label_wrong"]) is label_wrong
    assert (None if pd.isna(row["corrected_label"]) else row["corrected_label"]) == corrected
    for tag in ("clipped", FORMULA_TAG, "car noise"):
        assert bool(row[f"tag:{tag}"]) is (tag in tags.split(";"))
    assert pd.isna(row["reviewed_at"]) is (reviewer == "")


def test_reviewed_at_is_the_latest_review(project):
    sheet = export_table(project, "dev", "examples").set_index("id")
    at = project.dataset("dev").reviews().groupby("example_id")["at"].max()
    assert sheet.loc["7", "reviewed_at"] == at["7"]
    assert sheet.loc["7", "reviewed_at"] > sheet.loc["007", "reviewed_at"]


def test_reviewed_only_keeps_the_reviewed_examples_in_run_order(project):
    sheet = export_table(project, "dev", "examples", reviewed_only=True)
    assert sheet["id"].tolist() == ["007", "7", "9", "10"]
    assert sheet.index.equals(pd.RangeIndex(4))


def test_examples_sheet_does_not_modify_its_inputs(project):
    evidence = load_evidence(project, "dev")
    frame, tags, given_reviews = (
        evidence.examples.copy(),
        evidence.tags.copy(),
        project.dataset("dev").reviews(),
    )
    kept = given_reviews.copy()
    examples_sheet(evidence, given_reviews, reviewed_only=True)
    pd.testing.assert_frame_equal(evidence.examples, frame)
    pd.testing.assert_frame_equal(evidence.tags, tags)
    pd.testing.assert_frame_equal(given_reviews, kept)


def test_a_nullable_tag_s_missing_values_are_false_in_the_sheet(project):
    evidence = load_evidence(project, "dev")
    tags = evidence.tags.astype("boolean")
    tags.iloc[1, 0] = pd.NA  # the first tag of "7", which it carries
    sheet = examples_sheet(
        dataclasses.replace(evidence, tags=tags), project.dataset("dev").reviews()
    )
    column = f"tag:{tags.columns[0]}"
    assert sheet[column].dtype == np.dtype(bool)
    assert sheet[column].tolist() == [False, False, False, False, False]
    assert tags.columns[0] not in sheet.loc[1, "tags"].split(";")
    assert sheet.loc[1, "tags"] == ";".join(str(t) for t in tags.columns[1:] if tags.iloc[1][t])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda e, r: examples_sheet(e.examples, r), "evidence must be an Evidence"),
        (
            lambda e, r: examples_sheet(e, r.drop(columns="note")),
            r"reviews has no \[.note.\] columns",
        ),
        (lambda e, r: examples_sheet(e, r, reviewed_only="yes"), "reviewed_only must be True"),
        (
            lambda e, r: examples_sheet(Evidence(e.examples.assign(note="x")), r),
            "the run has a column 'note'",
        ),
        (lambda e, r: corrected_labels(e.examples.drop(columns="label"), r), "no 'label'"),
        (lambda e, r: corrected_labels([1], r), "expected an Evidence or an examples"),
    ],
)
def test_bad_sheet_input_is_refused(project, make, message):
    with pytest.raises(ValueError, match=message):
        make(load_evidence(project, "dev"), project.dataset("dev").reviews())


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.booleans(), min_size=11, max_size=11), min_size=0, max_size=40))
def test_joined_tags_lists_each_rows_tags_in_order(rows):
    names = [f"t{j}" for j in range(11)]
    matrix = np.array(rows, dtype=bool).reshape(len(rows), 11)
    joined = joined_tags(matrix, names)
    assert [cell.split(";") if cell else [] for cell in joined] == [
        [name for name, on in zip(names, row, strict=True) if on] for row in matrix
    ]


# ---------------------------------------------------------------------- corrected labels
def test_labels_are_the_corrected_examples_only(project):
    labels = export_table(project, "dev", "labels")
    assert labels[["id", "label", "corrected_label", "reviewer"]].to_dict("records") == [
        {"id": "7", "label": "no", "corrected_label": "yes", "reviewer": "ana"},
        {"id": "9", "label": "up", "corrected_label": "no", "reviewer": "ben"},
    ]
    assert labels["at"].notna().all()


def test_apply_substitutes_labels_and_recomputes_correct(project):
    applied = export_table(project, "dev", "labels", apply=True)
    assert applied["label"].tolist() == ["yes", "yes", "no", "no", "up"]
    assert applied["correct"].tolist() == [True, True, True, True, False]
    original = project.dataset("dev").examples()
    assert list(applied.columns) == list(original.columns)
    pd.testing.assert_frame_equal(applied.drop(columns=["label", "correct"]),
                                  original.drop(columns=["label", "correct"]))  # fmt: skip


def test_apply_keeps_a_correct_column_the_file_gave_otherwise():
    # The file said 8 is correct although its label and prediction differ (a synonym).
    examples = pd.DataFrame(
        {"id": ["7", "8"], "label": ["no", "yes"], "prediction": ["yes", "yep"],
         "correct": [False, True]}
    )  # fmt: skip
    labels = pd.DataFrame({"id": ["7"], "corrected_label": ["yes"]})
    applied = apply_corrections(examples, labels)
    assert applied["label"].tolist() == ["yes", "yes"]
    assert applied["correct"].tolist() == [False, True]
    assert examples["label"].tolist() == ["no", "yes"]  # not modified


def test_apply_refuses_an_unknown_id():
    examples = pd.DataFrame({"id": ["1"], "label": ["a"]})
    with pytest.raises(ValueError, match="examples has no id '2'"):
        apply_corrections(examples, pd.DataFrame({"id": ["2"], "corrected_label": ["b"]}))


# ---------------------------------------------------------------------- every kind x format
def read(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "csv":
        return pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={"id": str})
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "xlsx":
        return pd.read_excel(path, sheet_name=0, dtype={"id": str})
    return pd.DataFrame([json.loads(line) for line in path.read_text("utf-8").splitlines()])


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_kind_in_every_format(project, tmp_path, kind, fmt):
    table = export_table(project, "dev", kind, **OPTIONS.get(kind, {}))
    out = tmp_path / f"{kind}.{fmt}"
    write_export(table, out, format=fmt, kind=kind)
    back = read(out, fmt)
    assert back.shape == table.shape
    assert [str(c) for c in back.columns] == [str(c) for c in table.columns] or fmt == "csv"
    for position, column in enumerate(table.columns):
        values = table[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and values.notna().any() and column != "id":
            assert pd.api.types.is_numeric_dtype(back.iloc[:, position].dtype), (kind, column)
    if fmt != "xlsx":  # a workbook records when it was written
        assert export_bytes(table, format=fmt, kind=kind) == out.read_bytes()


@pytest.mark.parametrize(
    ("kind", "shape"),
    [
        ("examples", (5, 15)),
        ("labels", (2, 5)),
        ("priorities", (3, 25)),
        ("compare", (4, 17)),
        ("error-shares", (3, 8)),
        ("untagged", (1, 7)),
        ("overlap", (3, 4)),
        ("exclusive-shares", (3, 4)),
        ("slices", (3, 14)),
        ("confusion", (3, 4)),
        ("baselines", (3, 3)),
        ("agreement", (2, 10)),
        ("log", (5, 11)),
    ],
)
def test_shape_of_each_kind(project, kind, shape):
    assert export_table(project, "dev", kind, **OPTIONS.get(kind, {})).shape == shape


def test_every_kind_has_a_row_above():
    assert set(KIND_OPTIONS) == set(EXPORT_KINDS)


def test_log_is_every_action_oldest_first(project):
    log = export_table(project, "dev", "log")
    # The other dataset's import is not in it; the taxonomy's change is.
    assert log["kind"].tolist() == [
        "import", "import", "reviews_import", "reviews_import", "define_tag"
    ]  # fmt: skip
    assert log["actor"].tolist() == ["import", "import", "ana", "ben", "lead"]
    assert log["id"].is_monotonic_increasing
    assert json.loads(log["detail"].iloc[3]) == {"run": "main", "reviews": 3}


def test_compare_defaults_to_the_other_run(project):
    table = export_table(project, "dev", "compare")
    # main (B) gets 9 wrong, which v2 (A) got right: 3 of 5 correct in A, 2 of 5 in B.
    whole = table.iloc[0]
    assert (whole["accuracy_a"], whole["accuracy_b"]) == (0.6, 0.4)
    assert whole["difference"] == pytest.approx(-0.2)


def test_confusion_of_a_tag(project):
    table = export_table(project, "dev", "confusion", tag="car noise")
    assert table.set_index("label").to_dict("index") == {
        "no": {"no": 0, "up": 0, "yes": 1},
        "up": {"no": 1, "up": 0, "yes": 0},
        "yes": {"no": 0, "up": 0, "yes": 1},
    }


# ---------------------------------------------------------------------- precision and safety
def test_csv_rates_have_four_significant_digits_and_parquet_all(project, tmp_path):
    table = export_table(project, "dev", "priorities")
    assert {"share", "accuracy_low", "marginal_effect_high"} <= set(
        rate_columns(table, "priorities")
    )
    write_export(table, tmp_path / "p.csv", format="csv", kind="priorities")
    write_export(table, tmp_path / "p.parquet", format="parquet", kind="priorities")
    csv, parquet = read(tmp_path / "p.csv", "csv"), read(tmp_path / "p.parquet", "parquet")
    for column in rate_columns(table, "priorities"):
        expected = [float(f"{v:.4g}") for v in table[column]]
        np.testing.assert_array_equal(csv[column].to_numpy(dtype=float), expected)
        np.testing.assert_array_equal(parquet[column].to_numpy(dtype=float), table[column])
    text = (tmp_path / "p.csv").read_text()
    long = [v for v in table["accuracy_high"] if repr(float(v)) != f"{v:.4g}"][0]
    assert repr(float(long)) not in text and f",{long:.4g}," in text
    assert csv["examples"].dtype == np.int64 and csv["rank"].dtype == np.int64


def test_data_kinds_keep_every_digit(project):
    examples = export_table(project, "dev", "examples")
    assert rate_columns(examples.assign(share=0.123456789), "examples") == []
    shares = pd.DataFrame({"share": [1 / 3], "effort": [1 / 3]})
    assert rate_columns(shares, "error-shares") == ["share"]
    assert export_bytes(shares, format="csv", kind="error-shares").decode() == (
        f"share,effort\r\n0.3333,{1 / 3!r}\r\n"
    )


@pytest.mark.parametrize(
    ("kind", "expected"),
    [("priorities", "estimated_examples\r\n102.8\r\n"), ("untagged", None)],
)
def test_estimated_counts_are_rounded_in_analysis_tables_only(kind, expected):
    table = pd.DataFrame({"estimated_examples": [102.78947368421052]})
    text = export_bytes(table, format="csv", kind=kind).decode()
    assert text == (expected or f"estimated_examples\r\n{102.78947368421052!r}\r\n")
    assert "estimated_examples" not in rate_columns(table, kind)  # not a percentage


def test_formula_text_is_neutralised_in_csv_and_raw_in_parquet(project, tmp_path):
    sheet = export_table(project, "dev", "examples")
    write_export(sheet, tmp_path / "e.csv", format="csv", kind="examples")
    write_export(sheet, tmp_path / "e.parquet", format="parquet", kind="examples")
    csv = read(tmp_path / "e.csv", "csv").set_index("id")
    raw = read(tmp_path / "e.parquet", "parquet").set_index("id")
    assert (csv.loc["8", "noise"], csv.loc["9", "note"]) == ("'=cmd", "'@SUM(1)")
    assert (raw.loc["8", "noise"], raw.loc["9", "note"]) == ("=cmd", "@SUM(1)")
    assert csv["confidence"].tolist() == [0.9, 0.6, 0.8, 0.55, 0.3]
    shares = export_bytes(export_table(project, "dev", "error-shares"), format="csv")
    assert b'\r\n"\'=HYPERLINK(""http://x"")",reviewed,' in shares


def test_jsonl_is_one_object_per_line_at_full_precision(project):
    table = export_table(project, "dev", "priorities")
    lines = export_bytes(table, format="jsonl", kind="priorities").decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert len(records) == len(table)
    first = table.iloc[0]
    assert records[0]["tag"] == first["tag"] and records[0]["share"] == first["share"]
    assert all(r["hlp"] is None or isinstance(r["hlp"], float) for r in records)


# ---------------------------------------------------------------------- bad requests
@pytest.mark.parametrize(
    ("dataset", "kind", "options", "error", "message"),
    [
        ("dev", "nope", {}, ExpectedError, "unknown export kind 'nope'; choose one of examples"),
        (
            "dev",
            "slices",
            {},
            ExpectedError,
            "export slices needs 'by' \\(a column of the run to slice by, or tags\\)",
        ),
        ("dev", "slices", {"by": "volume"}, ValueError, "no column 'volume'"),
        ("dev", "examples", {"tag": "x"}, ExpectedError, "does not take 'tag'.*reviewed_only"),
        ("dev", "baselines", {"by": "x"}, ExpectedError, "takes no options"),
        ("dev", "compare", {"baseline": "zzz"}, StoreError, "has no run 'zzz'"),
        ("dev", "compare", {"baseline": "main"}, ExpectedError, "run 'main' itself"),
        ("other", "compare", {}, ExpectedError, "needs a baseline run"),
        ("dev", "priorities", {"by": "noise"}, ExpectedError, "orders by one of"),
        ("dev", "confusion", {"tag": "nope"}, ValueError, "no tag 'nope'"),
        ("dev", "log", {"run": "main"}, ExpectedError, "does not take a run"),
        ("gone", "examples", {}, StoreError, "no dataset named 'gone'"),
        ("dev", "examples", {"run": "v9"}, StoreError, "has no run 'v9'"),
        ("dev", "examples", {"reviewed_only": "yes"}, ValueError, "must be True or False"),
        ("prod", "labels", {}, ExpectedError, "'prod' is a production sample"),
    ],
)
def test_bad_requests_name_the_problem(project, dataset, kind, options, error, message):
    with pytest.raises(error, match=message):
        export_table(project, dataset, kind, **options)


@pytest.mark.parametrize(
    ("path", "fmt", "expected"),
    [
        ("a.csv", None, "csv"),
        ("a.PARQUET", None, "parquet"),
        ("a.jsonl", None, "jsonl"),
        ("a.xlsx", None, "xlsx"),
        ("a.txt", None, "csv"),
        ("a", "parquet", "parquet"),
        ("a.jsonl", "jsonl", "jsonl"),
    ],
)
def test_format_from_the_suffix(path, fmt, expected):
    assert format_for(path, fmt) == expected


@pytest.mark.parametrize(
    ("path", "fmt", "message"),
    [("a.csv", "parquet", "ends in .csv but the format is parquet"), ("a", "xls", "one of csv")],
)
def test_format_conflicts_are_refused(path, fmt, message):
    with pytest.raises(ExpectedError, match=message):
        format_for(path, fmt)


def test_a_failed_write_leaves_the_old_file(tmp_path):
    out = tmp_path / "t.jsonl"
    out.write_text("old")
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(ValueError, match="duplicate column names"):
        write_export(frame, out, format="jsonl")
    assert out.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.jsonl"]


# ---------------------------------------------------------------------- the command
def export(db: Path, *args: str) -> int:
    return main(["export", *args, "--db", str(db), "--dataset", "dev"])


def test_cli_writes_the_format_of_the_suffix(db, tmp_path, capsys):
    assert export(db, "examples", "--reviewed", "--out", str(tmp_path / "e.parquet")) == 0
    back = pd.read_parquet(tmp_path / "e.parquet")
    assert back["id"].tolist() == ["007", "7", "9", "10"]
    assert "wrote 4 rows of examples" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "column", "expected"),
    [
        (["labels", "--apply"], "label", ["yes", "yes", "no", "no"]),
        (["labels"], "corrected_label", ["yes", "no"]),
        (["slices", "--by", "noise"], "slice", ["'=cmd", "car", "clean"]),
        (["compare", "--baseline", "v2"], "tag", ["(all examples)"]),
        (["confusion", "--tag", "car noise"], "label", ["no", "up", "yes"]),
        (["priorities", "--by", "effort"], "rank", [1, 2, 3]),
    ],
)
def test_cli_exports(db, tmp_path, args, column, expected):
    out = tmp_path / "t.csv"
    assert export(db, *args, "--out", str(out)) == 0
    values = read(out, "csv")[column].tolist()
    assert values[: len(expected)] == expected


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["slices", "--out", "{tmp}/t.csv"],
            "export slices needs 'by' (a column of the run to slice by, or tags)",
        ),
        (["slices", "--by", "volume", "--out", "{tmp}/t.csv"], "export slices: "),
        (["examples", "--by", "noise", "--out", "{tmp}/t.csv"], "does not take 'by'"),
        (["compare", "--baseline", "zzz", "--out", "{tmp}/t.csv"], "has no run 'zzz'"),
        (["examples", "--out", "{tmp}/gone/t.csv"], "does not exist"),
        (["examples", "--out", "{tmp}/t.csv", "--format", "parquet"], "ends in .csv"),
        (["log", "--run", "main", "--out", "{tmp}/t.csv"], "does not take a run"),
    ],
)
def test_cli_errors_write_nothing(db, tmp_path, capsys, args, message):
    before = db.read_bytes()
    folder = tmp_path / "out"
    folder.mkdir()
    code = export(db, *(a.format(tmp=folder) for a in args))
    assert code == 1
    assert message in capsys.readouterr().err
    assert list(folder.iterdir()) == []
    assert db.read_bytes() == before


def test_cli_priorities_workbook_has_the_examples_and_the_log(db, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "meeting.xlsx"
    assert export(db, "priorities", "--out", str(out)) == 0
    book = load_workbook(out)
    assert book.sheetnames == ["priorities", "examples", "log"]
    sheets = pd.read_excel(out, sheet_name=None, dtype={"id": str})
    assert len(sheets["examples"]) == 5 and len(sheets["log"]) == 5
    priorities = book["priorities"]
    header = [cell.value for cell in priorities[1]]
    share = priorities.cell(row=2, column=header.index("share") + 1)
    assert isinstance(share.value, float) and "%" in share.number_format
    cells = [cell for row in book["examples"].iter_rows() for cell in row]
    assert "=cmd" in [cell.value for cell in cells]
    assert all(cell.data_type != "f" for cell in cells)


def test_workbook_shows_rates_as_percentages_but_not_p_values(project, tmp_path):
    from openpyxl import load_workbook

    out = tmp_path / "compare.xlsx"
    write_export(export_table(project, "dev", "compare"), out, format="xlsx", kind="compare")
    sheet = load_workbook(out)["compare"]
    header = [cell.value for cell in sheet[1]]
    formats = {name: sheet.cell(row=2, column=i + 1).number_format for i, name in enumerate(header)}
    assert "%" in formats["difference"] and "%" in formats["accuracy_a"]
    assert "%" not in formats["p_value"] and "%" not in formats["examples"]


def test_cli_a_note_too_long_for_a_workbook_cell_writes_nothing(db, tmp_path, capsys):
    with open_project(db) as p:
        p.dataset("dev").record_review("8", reviewer="ana", note="n" * 40_000, run="main")
    out = tmp_path / "sheet.xlsx"
    assert export(db, "examples", "--out", str(out)) == 1
    assert "error: export examples: " in capsys.readouterr().err
    assert not [path.name for path in tmp_path.iterdir() if "sheet" in path.name]
    assert export(db, "examples", "--out", str(tmp_path / "sheet.csv")) == 0  # CSV holds it


def test_cli_unknown_kind_is_refused_by_the_parser(db, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        export(db, "everything", "--out", str(tmp_path / "t.csv"))
    assert exit_.value.code == 2
    assert "invalid choice: 'everything'" in capsys.readouterr().err
    assert not (tmp_path / "t.csv").exists()


def test_cli_csv_is_read_back_as_numbers(db, tmp_path):
    out = tmp_path / "shares.csv"
    assert export(db, "error-shares", "--out", str(out)) == 0
    table = pd.read_csv(io.StringIO(out.read_text()))
    assert table["errors"].dtype == np.int64
    assert table["share_of_errors"].dtype == np.float64
