"""The app's downloads. Beside every table of every page there is a formula-safe CSV and
an Excel workbook holding the whole table (the grid's own CSV export, which writes
formulas as they are, is switched off), and each is the file ``erroranalysis export KIND``
writes for it. The Datasets page's Export section gives the error-analysis sheet, the
corrected labels, the corrected dataset, the whole action log and the meeting workbook,
each built only when clicked."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib

import numpy as np
import openpyxl
import pandas as pd
import pytest
from app_support import (
    APP,
    DATASET,
    FORMULA_DATASET,
    FORMULAS,
    PRIORITY_TABS,
    ROOT,
    TAB_KEYS,
    build_formula_project,
    downloads,
    no_errors,
    open_page,
    open_tab,
    open_view,
    rows_of_csv,
    start_app,
    unsafe_cells,
)
from store_support import add_run
from streamlit.testing.v1 import AppTest

from erroranalysis import export, exports, workbook
from erroranalysis.store import open_project
from erroranalysis.vocabulary import TAG_PREFIX

# ---------------------------------------------------------------------- one per table
# Per page (or tab of a page) of the speech project: its tables, in order, and what else it
# downloads (the matrices behind its heatmaps; on Datasets, the Export section).
TABLES = {
    "datasets": (["runs", "class-balance"], ["reviewed-examples", "log"]),
    "review": (["example-s04", "reviews-of-s04"], []),
    "tags": (["tags", "agreement", "reviewer-agreement", "event-log"], []),
    "priorities": (["priorities"], []),
    "priorities#Where the errors are": (["error-shares"], []),
    "priorities#Tag overlap": (["exclusive-shares"], ["overlap"]),
    "audit": (["slices-tags", "baselines"], ["confusion"]),
}


@pytest.mark.parametrize("view", list(TABLES))
def test_every_table_has_a_download_beside_it(project_file, made, view):
    at = start_app()
    query = {"dataset": DATASET, "example": "s04"} if view == "review" else {}  # s04: reviewed
    at = open_view(at, view, **query)
    no_errors(at)
    tables, others = TABLES[view]
    assert len(at.dataframe) == len(tables)
    buttons = [b.key for b in at.get("download_button")]
    meeting = ["meeting:xlsx"] if view == "datasets" else []
    assert sorted(buttons) == sorted(
        [f"{name}:{format}" for name in [*tables, *others] for format in ("csv", "xlsx")] + meeting
    )
    files = downloads(at, made)
    books = downloads(at, made, format="xlsx")
    for name in [*tables, *others]:
        csv_name, text = files[f"{name}:csv"]
        xlsx_name, data = books[f"{name}:xlsx"]
        assert csv_name.endswith(".csv") and xlsx_name == csv_name[: -len("csv")] + "xlsx"
        assert "/" not in csv_name
        header = rows_of_csv(text)[0]
        assert header, "a header row"
        sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
        assert [cell.value for cell in next(sheet.iter_rows(max_row=1))] == header


def test_the_download_is_the_table_shown(project_file, made):
    at = open_page(start_app(), "tags")
    shown = at.dataframe[0].value
    name, text = downloads(at, made)["tags:csv"]
    assert name == "speech-main-tags.csv"
    header, *body = rows_of_csv(text)
    assert header == [str(c) for c in shown.columns]
    assert [r[0] for r in body] == shown["tag"].tolist()


def test_the_review_pages_tables_are_downloads_of_the_example(project_file, made):
    at = open_page(start_app(), "review", dataset=DATASET, example="s04")
    files = downloads(at, made)
    assert set(files) == {"example-s04:csv", "reviews-of-s04:csv"}
    history = rows_of_csv(files["reviews-of-s04:csv"][1])
    assert history[0][0] == "reviewer" and history[1][0] == "setup"


# ---------------------------------------------------------------------- formulas
@pytest.fixture
def formulas(tmp_path, monkeypatch):
    db = build_formula_project(tmp_path / "formulas")
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    return db


def visits() -> list[tuple[str, dict, dict]]:
    """(page, query, widget values) for every view of the formula project with tables."""
    examples = [*FORMULAS, "p1", "p2"]
    return [
        ("datasets", {}, {}),
        *[("review", {"dataset": FORMULA_DATASET, "example": e}, {}) for e in examples],
        ("tags", {}, {}),
        *[("priorities", {}, {TAB_KEYS["priorities"]: tab}) for tab in PRIORITY_TABS],
        ("audit", {}, {}),
        ("audit", {}, {"au_by": "@cmd"}),
        ("audit", {}, {"au_by": "snr_db"}),
    ]


def test_no_download_holds_a_live_formula(formulas, made):
    at = start_app()
    seen: dict[str, str] = {}
    for page, query, values in visits():
        at = open_page(at, page, **query)
        for key, value in values.items():
            if key in TAB_KEYS.values():
                open_tab(at, page, value)
            else:
                at.selectbox(key=key).select(value).run()
        no_errors(at)
        files = downloads(at, made)
        assert files, f"no download on {page} {query} {values}"
        for key, (_, text) in files.items():
            assert unsafe_cells(text) == [], (page, key)
            seen[f"{page}/{key}"] = text
        for key, (_, data) in downloads(at, made, format="xlsx").items():
            book = openpyxl.load_workbook(io.BytesIO(data))
            cells = [cell for sheet in book for row in sheet.iter_rows() for cell in row]
            assert [c.coordinate for c in cells if c.data_type == "f"] == [], (page, key)
    everything = "\n".join(seen.values())
    cells = {cell for text in seen.values() for row in rows_of_csv(text) for cell in row}
    # The payloads did reach the downloads, each one neutralised, never dropped.
    for payload in FORMULAS:
        assert export.neutralize(payload) in cells, repr(payload)
    assert "-7.25" in cells  # a negative number stays a number
    assert "'=HYPERLINK" in everything


# ---------------------------------------------------------------------- the whole table
@pytest.fixture
def many_tags(project_file):
    with open_project(project_file) as project:
        for i in range(60):
            project.dataset(DATASET).set_tag(f"s{i % 40:02d}", f"t{i:02d}", actor="setup")
    return project_file


def test_a_long_table_is_paged_and_downloaded_whole(many_tags, made):
    at = open_page(start_app(), "tags")
    no_errors(at)
    total = len(at.dataframe[0].value)
    assert total == 50
    _, text = downloads(at, made)["tags:csv"]
    tags = [r[0] for r in rows_of_csv(text)[1:]]
    assert len(tags) == 63  # car noise, people noise, clipped and t00..t59
    assert tags[:50] == at.dataframe[0].value["tag"].tolist()
    at.number_input(key="tags:page").set_value(2).run()
    no_errors(at)
    assert at.dataframe[0].value["tag"].tolist() == tags[50:]
    assert any("rows 51–63 of 63" in c.value for c in at.caption)


def test_a_page_past_the_end_after_the_table_shrinks(many_tags, made):
    at = open_page(start_app(), "tags")
    at.number_input(key="tags:page").set_value(2).run()
    with open_project(many_tags) as project:
        for i in range(30):
            project.delete_tag(f"t{i:02d}", actor="setup")
    at.run()
    no_errors(at)
    assert len(at.dataframe[0].value) == 33  # one page: no selector left over
    assert "tags:page" not in [n.key for n in at.number_input]


# ---------------------------------------------------------------------- the grid's own export
def test_the_grids_own_export_is_switched_off_in_the_config():
    config = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())
    assert config["client"]["disableDataExport"] is True


def test_the_config_is_read_whatever_the_working_directory(tmp_path):
    # `erroranalysis serve` runs `streamlit run /path/to/app.py` from the user's folder:
    # Streamlit reads .streamlit/config.toml next to the main script as well as in the cwd.
    probe = (
        "from streamlit import config; "
        f"config._main_script_path = {str(APP)!r}; "
        "config.get_config_options(force_reparse=True); "
        "print(config.get_option('client.disableDataExport'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "True"


# ---------------------------------------------------------------------- a reviewed project
FORMULA_TAG = '=HYPERLINK("http://x")'


@pytest.fixture
def reviewed(project_file):
    """More reviews (one untagged error, s12), a corrected label on s08 and s00, and a tag
    named like a formula on the reviewed s01."""
    with open_project(project_file) as project:
        store = project.dataset(DATASET)
        for example, tags, corrected in [
            ("s00", ["car noise"], "no"),
            ("s08", ["people noise"], "up"),
            ("s12", [], None),
            ("s01", [FORMULA_TAG], None),
            ("s02", ["people noise"], None),
        ]:
            store.record_review(
                example,
                reviewer="ben",
                tags=tags,
                label_wrong=corrected is not None,
                corrected_label=corrected,
                note=f"seen {example}",
            )
    return project_file


def exported(db, kind: str, *, format: str = "csv", run: str | None = "main", **options) -> bytes:
    """The file ``erroranalysis export KIND`` writes for the run (the log: the dataset's)."""
    with open_project(db) as project:
        table = exports.export_table(project, DATASET, kind, run=run, **options)
    return exports.export_bytes(table, format=format, kind=kind)


def clicked(at: AppTest, made: dict, key: str) -> bytes:
    """The bytes a click on the download button ``key`` sends."""
    button = at.download_button(key=key)
    assert button.proto.deferred_file_id  # built on the click, not on every run
    _, build = made[button.proto.deferred_file_id]
    return build()


# ---------------------------------------------------------------------- the same file as the CLI
@pytest.mark.parametrize(
    ("page", "key", "kind", "options"),
    [
        ("priorities", "priorities:csv", "priorities", {}),
        ("priorities#Where the errors are", "error-shares:csv", "error-shares", {}),
        ("priorities#Where the errors are", "untagged-errors:csv", "untagged", {}),
        ("priorities#Tag overlap", "exclusive-shares:csv", "exclusive-shares", {}),
        ("priorities#Tag overlap", "overlap:csv", "overlap", {}),
        ("audit", "slices-tags:csv", "slices", {"by": "tags"}),
        ("audit", "confusion:csv", "confusion", {}),
        ("audit", "baselines:csv", "baselines", {}),
        ("tags", "event-log:csv", "log", {"run": None}),
        ("datasets", "reviewed-examples:csv", "examples", {"reviewed_only": True}),
        ("datasets", "corrected-labels:csv", "labels", {}),
        ("datasets", "corrected-labels:parquet", "labels", {"format": "parquet"}),
        ("datasets", "corrected-dataset:csv", "labels", {"apply": True}),
        ("datasets", "corrected-dataset:parquet", "labels", {"apply": True, "format": "parquet"}),
        ("datasets", "log:csv", "log", {"run": None}),
    ],
)
def test_each_download_is_the_command_lines_export(reviewed, made, page, key, kind, options):
    at = open_view(start_app(), page)
    no_errors(at)
    assert clicked(at, made, key) == exported(reviewed, kind, **options)


def test_all_examples_when_not_only_the_reviewed(reviewed, made):
    at = open_page(start_app(), "datasets")
    at.toggle(key="ds_export_reviewed").set_value(False).run()
    no_errors(at)
    assert "reviewed-examples:csv" not in [b.key for b in at.get("download_button")]
    text = clicked(at, made, "examples:csv")
    assert text == exported(reviewed, "examples")
    assert len(rows_of_csv(text.decode())) == 1 + 40


def test_the_sheet_holds_the_reviews_and_a_formula_tag_is_neutralized(reviewed, made):
    at = open_page(start_app(), "datasets")
    text = clicked(at, made, "reviewed-examples:csv").decode()
    sheet = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False).set_index("id")
    # s04 (by setup), then the five reviewed by ben, in the run's order.
    assert sheet.index.tolist() == ["s00", "s01", "s02", "s04", "s08", "s12"]
    assert sheet.loc["s08", ["reviewer", "note", "label_wrong", "corrected_label"]].tolist() == [
        "ben",
        "seen s08",
        "True",
        "up",
    ]
    assert sheet.loc["s00", "tags"] == "clipped;car noise"
    assert sheet.loc["s01", "tags"] == "'" + FORMULA_TAG
    assert sheet.loc["s01", TAG_PREFIX + FORMULA_TAG] == "True"
    assert unsafe_cells(text) == []
    # The Parquet of the corrected dataset keeps text raw: it is not opened in a spreadsheet.
    data = pd.read_parquet(io.BytesIO(clicked(at, made, "corrected-dataset:parquet")))
    assert data.set_index("id").loc[["s00", "s08", "s12"], "label"].tolist() == ["no", "up", "yes"]


def test_the_priority_tables_formula_tag_is_neutralized(reviewed, made):
    at = open_page(start_app(), "priorities")
    text = clicked(at, made, "priorities:csv").decode()
    tags = [row[1] for row in rows_of_csv(text)[1:]]
    assert "'" + FORMULA_TAG in tags and FORMULA_TAG not in tags
    assert unsafe_cells(text) == []


def test_rates_are_written_with_four_significant_digits(reviewed, made):
    at = open_view(start_app(), "priorities#Tag overlap")
    header, *rows = rows_of_csv(clicked(at, made, "exclusive-shares:csv").decode())
    assert header == ["tag", "examples", "exclusive", "exclusive_share"]
    shares = {row[0]: row[1:] for row in rows}
    # car noise on s00 (with clipped) and s04 (alone); people noise on s02 and s08 alone.
    assert shares["car noise"] == ["2", "1", "0.5"]
    assert shares["people noise"] == ["2", "2", "1.0"]
    at = open_page(at, "audit")
    header, *rows = rows_of_csv(clicked(at, made, "slices-tags:csv").decode())
    slices = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    # clipped: s00, s10, s20, s30, two errors (s00, s20) in four.
    assert (slices["clipped"]["share"], slices["clipped"]["accuracy"]) == ("0.1", "0.5")


def test_the_priority_tables_estimates_are_rounded_to_four_digits(reviewed, made):
    at = open_page(start_app(), "priorities")
    shown = pd.read_csv(io.BytesIO(clicked(at, made, "priorities:csv")))
    with open_project(reviewed) as project:
        full = exports.export_table(project, DATASET, "priorities", run="main")
    rates = [c for c in exports.RATE_COLUMNS if c in full.columns]
    assert {"share", "accuracy", "marginal_effect_low"} <= set(rates)
    raw = full[rates].to_numpy(dtype=float)
    written = shown[rates].to_numpy(dtype=float)
    four = np.array([[float(f"{v:.4g}") for v in row] for row in raw])
    np.testing.assert_array_equal(written, four)  # NaN where NaN
    assert (np.abs(raw - written) > 0).any()  # some were rounded


# ---------------------------------------------------------------------- the whole log
def test_the_log_download_holds_every_action_not_the_last_hundred(project_file, made):
    with open_project(project_file) as project:
        for i in range(120):
            project.dataset(DATASET).set_tag(f"s{i % 40:02d}", f"t{i % 3}", actor="cy")
        every = len(project.dataset(DATASET).actions(limit=None))
    at = open_page(start_app(), "tags")
    no_errors(at)
    text = clicked(at, made, "event-log:csv").decode()
    header, *rows = rows_of_csv(text)
    assert every > 120 and len(rows) == every
    assert header[:4] == ["id", "at", "actor", "kind"]
    assert [int(row[0]) for row in rows] == sorted(int(row[0]) for row in rows)  # oldest first


# ---------------------------------------------------------------------- Excel
def test_the_meeting_workbook_has_the_priorities_then_the_examples_and_the_log(reviewed, made):
    at = open_page(start_app(), "datasets")
    book = openpyxl.load_workbook(io.BytesIO(clicked(at, made, "meeting:xlsx")))
    assert book.sheetnames == ["priorities", "examples", "log"]
    header = [cell.value for cell in next(book["priorities"].iter_rows(max_row=1))]
    assert header[:2] == ["rank", "tag"]
    values = [cell for row in book.worksheets[0].iter_rows() for cell in row]
    assert FORMULA_TAG in [cell.value for cell in values]  # a string cell, not a formula
    assert all(cell.data_type != "f" for sheet in book for row in sheet.iter_rows() for cell in row)


def test_every_table_downloads_as_excel_too(reviewed, made):
    at = open_page(start_app(), "priorities")
    books = {}
    for tab in PRIORITY_TABS:
        books |= downloads(open_tab(at, "priorities", tab), made, format="xlsx")
    assert set(books) == {
        f"{name}:xlsx"
        for name in ("priorities", "error-shares", "untagged-errors", "exclusive-shares", "overlap")
    }
    for name, data in books.values():
        assert name.endswith(".xlsx")
        sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
        assert sheet.max_row > 1


# ---------------------------------------------------------------------- nothing to export
def test_a_run_without_reviews_says_there_is_nothing_to_export(tmp_path, monkeypatch, made):
    db = tmp_path / "plain.db"
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "label": ["x", "y", "x"],
            "prediction": ["x", "x", "x"],
            "correct": [True, False, True],
        }
    )
    with open_project(db) as project:
        add_run(project, "plain", frame)
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = open_page(start_app(), "datasets")
    no_errors(at)
    keys = {b.key for b in at.get("download_button")}
    assert {"reviewed-examples:csv", "corrected-labels:csv", "corrected-dataset:csv"}.isdisjoint(
        keys
    )
    said = [c.value for c in at.caption if "Nothing to export" in c.value]
    assert said == [
        ":material/block: Nothing to export: no example of this run is reviewed yet.",
        ":material/block: Nothing to export: no label of this run is corrected yet.",
    ]
    # Every example can still go out, and the log.
    at.toggle(key="ds_export_reviewed").set_value(False).run()
    assert len(rows_of_csv(clicked(at, made, "examples:csv").decode())) == 4
    assert {"log:csv", "meeting:xlsx"} <= {b.key for b in at.get("download_button")}


def test_a_run_larger_than_an_excel_sheet_exports_as_csv(project_file, made, monkeypatch):
    monkeypatch.setattr(workbook, "MAX_ROWS", 20)  # the speech run has 40 examples
    at = open_page(start_app(), "datasets")
    keys = {b.key for b in at.get("download_button")}
    assert {"reviewed-examples:csv", "reviewed-examples:xlsx"} <= keys  # s04 alone
    assert "meeting:xlsx" not in keys
    assert any("40 examples are more than an Excel sheet holds" in c.value for c in at.caption)
    at.toggle(key="ds_export_reviewed").set_value(False).run()
    keys = {b.key for b in at.get("download_button")}
    assert "examples:csv" in keys and "examples:xlsx" not in keys
