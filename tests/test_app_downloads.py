"""Table downloads: a formula-safe CSV and an Excel workbook beside every table of every page,
holding the whole table; the grid's own CSV export (which writes formulas as they are) is
switched off."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib

import openpyxl
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

from erroranalysis import export
from erroranalysis.store import open_project

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
