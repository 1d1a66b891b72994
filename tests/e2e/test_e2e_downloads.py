"""Every table the app shows can be downloaded, and no download holds a live formula.

The project carries formula payloads in every text field a table can show (ids, labels,
metadata, tag names, tag definitions, notes, reviewer, run and dataset names): each would
run in a spreadsheet if a download wrote it as it is. The test visits every page, clicks
every download the app offers and reads the files; it also checks that the grid's own
"Download as CSV" and cell copying, which write text as it is, are gone, and (against a
second server with them switched back on) that the probes would see them if they were not.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_support import (
    FORMULA_DATASET,
    FORMULAS,
    build_formula_project,
    rows_of_csv,
    unsafe_cells,
)
from e2e_helpers import by_key, no_exception, open_page, open_tab, wait_idle
from playwright.sync_api import Browser, Locator, Page, expect

from erroranalysis import export

pytestmark = pytest.mark.browser


def _fixtures_module():
    # The server helpers of this folder's conftest, loaded by path: "conftest" alone names
    # whichever conftest pytest imported last.
    spec = importlib.util.spec_from_file_location(
        "e2e_conftest", Path(__file__).with_name("conftest.py")
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_servers = _fixtures_module()
App, start_app, stop_app = _servers.App, _servers.start_app, _servers.stop_app

GRID = "stDataFrame"
GRID_DOWNLOAD = "[data-testid='stElementToolbarButton'] button[aria-label^='Download as CSV']"
SENTINEL = "clipboard untouched"
CSV_BUTTON = re.compile(r"\bCSV\b")
# A malformed upload whose problems table repeats the payloads it was given.
BAD_UPLOAD = (
    "id,label,prediction,confidence\n"
    + "".join(f'"{f}",yes,no,"{f}"\n' for f in FORMULAS[:4])
    + f'"{FORMULAS[0]}",yes,no,0.5\n'
).encode()


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_formula_project(tmp_path_factory.mktemp("formulas"))


def open_expanders(page: Page) -> None:
    """Open every collapsed expander (the Tags page keeps its event log in one)."""
    for summary in page.locator("[data-testid='stExpander'] details:not([open]) > summary").all():
        summary.click()
    expect(page.locator("[data-testid='stExpander'] details:not([open])")).to_have_count(0)


def download_buttons(page: Page) -> Locator:
    """The page's CSV downloads: "Download CSV" beside a table or a heatmap, "Sheet CSV",
    "Labels CSV" … in the Datasets page's Export section."""
    return page.get_by_test_id("stDownloadButton").get_by_role("button", name=CSV_BUTTON)


def downloads_on(page: Page, folder: Path) -> dict[str, str]:
    """Click every download button of the page; file name -> text of the file."""
    open_expanders(page)
    files = {}
    buttons = download_buttons(page)
    count = buttons.count()
    for i in range(count):
        with page.expect_download() as caught:
            buttons.nth(i).click()
        download = caught.value
        target = folder / f"{len(files)}-{download.suggested_filename}"
        download.save_as(target)
        # Bytes, not read_text: universal newlines would turn a cell's leading CR into LF.
        files[download.suggested_filename] = target.read_bytes().decode("utf-8")
    return files


def visit(page: Page, app: App, path: str, **query: str) -> None:
    open_page(page, app.page_url(path, dataset=FORMULA_DATASET, **query))
    # The Log page lists its actions in rows of text, not in a grid.
    shown = (
        page.get_by_text(re.compile(r"^Actions 1–")) if path == "log" else page.get_by_test_id(GRID)
    )
    expect(shown.first).to_be_visible()
    no_exception(page)


def slice_by(page: Page, column: str) -> None:
    field = by_key(page, "au_by").get_by_role("combobox")
    choice = f"metadata: {column}"
    field.click()
    if field.get_attribute("aria-expanded") != "true":  # the click can land while it closes
        field.press("ArrowDown")
    expect(field).to_have_attribute("aria-expanded", "true")
    page.get_by_role("option").filter(has_text=re.compile(f"^{re.escape(choice)}$")).click()
    expect(field).to_have_value(choice)
    wait_idle(page)


def upload_bad_file(page: Page) -> None:
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": "bad.csv", "mimeType": "text/csv", "buffer": BAD_UPLOAD}]
    )
    submit = page.get_by_role("button", name=re.compile("Validate and import"))
    expect(submit).to_be_visible()
    wait_idle(page)
    submit.click()
    expect(page.get_by_text(re.compile(r"^Nothing was imported"))).to_be_visible()
    wait_idle(page)


# (tables, CSV downloads) per view of the formula project: the review page adds the example's
# earlier reviews to its metadata where there are some; Priorities lists p2, the one untagged
# reviewed error (in its tab "Where the errors are"), and each tag's exclusive share, and
# downloads the overlap heatmap's matrix (in "Tag overlap");
# Audit the confusion matrix's; Datasets exports the sheet, the labels, the corrected dataset
# and the log; Tags adds the agreement per tag and per reviewer; the Log page lists the log.
REVIEWED = {FORMULAS[0], FORMULAS[1], FORMULAS[2], "p1", "p2"}
TABLES = {
    "datasets": (2, 6),
    "upload report": (3, 7),
    "tags": (4, 4),
    "log": (0, 1),
    "priorities": (1, 1),
    "priorities#Where the errors are": (2, 2),
    "priorities#Tag overlap": (1, 2),
    "audit": (2, 3),
}


def test_every_download_is_formula_safe(app, page: Page, tmp_path: Path):
    seen: dict[str, str] = {}

    def collect(where: str, counts: tuple[int, int]) -> None:
        tables, csvs = counts
        open_expanders(page)
        # Every table is drawn, and a download beside each one.
        expect(page.get_by_test_id(GRID)).to_have_count(tables)
        expect(download_buttons(page)).to_have_count(csvs)
        files = downloads_on(page, tmp_path)
        assert len(files) == csvs, f"{where}: downloads {sorted(files)}"
        for name, text in files.items():
            assert name.endswith(".csv"), name
            assert unsafe_cells(text) == [], f"{where}: {name}"
            seen[f"{where}/{name}"] = text

    visit(page, app, "datasets")
    collect("datasets", TABLES["datasets"])
    # The Export section's files, built by the server when clicked.
    for export_name in ("reviewed-examples", "corrected-labels", "corrected-dataset", "log"):
        assert any(w.endswith(f"-{export_name}.csv") for w in seen), export_name
    upload_bad_file(page)
    collect("upload report", TABLES["upload report"])
    for example in [*FORMULAS, "p1", "p2"]:
        visit(page, app, "review", example=example)
        shown = 2 if example in REVIEWED else 1
        collect(f"review {example!r}", (shown, shown))
    for path in ("tags", "priorities", "log"):
        visit(page, app, path)
        collect(path, TABLES[path])
        for view in (v for v in TABLES if v.startswith(f"{path}#")):
            open_tab(page, view.partition("#")[2])
            collect(view, TABLES[view])
    visit(page, app, "audit")
    collect("audit", TABLES["audit"])
    for column in ("@cmd", "snr_db"):
        slice_by(page, column)
        collect(f"audit by {column}", TABLES["audit"])

    cells = {cell for text in seen.values() for row in rows_of_csv(text) for cell in row}
    for payload in FORMULAS:  # each one reached a download, neutralised
        assert export.neutralize(payload) in cells, repr(payload)
    assert "-7.25" in cells  # numbers stay numbers
    report = next(text for where, text in seen.items() if "import-problems" in where)
    assert "'+cmd|' /C calc'!A0" in report


# ---------------------------------------------------------------------- the grid's controls
def grid_controls(page: Page) -> tuple[int, int, bool]:
    """(grids whose toolbar appeared, grid downloads seen, whether copying a cell reached
    the clipboard), hovering and clicking into every grid of the page."""
    open_expanders(page)
    grids = page.get_by_test_id(GRID)
    toolbars = downloads = 0
    copied = False
    for i in range(grids.count()):
        grid = grids.nth(i)
        grid.scroll_into_view_if_needed()
        grid.hover()
        # The toolbar (search, fullscreen) shows on hover; the grid's download would be in it.
        toolbar = page.get_by_test_id("stElementToolbar").filter(
            has=page.get_by_role("button", name=re.compile("^(Search|Fullscreen)"))
        )
        if toolbar.count():
            toolbars += 1
        downloads += page.locator(GRID_DOWNLOAD).count()
        page.evaluate(f"navigator.clipboard.writeText({SENTINEL!r})")
        box = grid.bounding_box()
        assert box is not None
        page.mouse.click(box["x"] + 30, box["y"] + 52)  # the first cell under the header
        page.keyboard.press("ControlOrMeta+c")
        page.wait_for_timeout(300)
        copied |= page.evaluate("navigator.clipboard.readText()") != SENTINEL
    return toolbars, downloads, copied


@pytest.fixture
def clipboard_page(browser: Browser, browser_context_args: dict) -> Iterator[Page]:
    context = browser.new_context(**browser_context_args)
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    yield context.new_page()
    context.close()


@pytest.mark.parametrize("path", ["datasets", "review", "tags", "priorities", "audit"])
def test_the_grids_own_download_and_copy_are_gone(app, clipboard_page: Page, path: str):
    page = clipboard_page
    visit(page, app, path, **({"example": "p1"} if path == "review" else {}))
    toolbars, downloads, copied = grid_controls(page)
    assert toolbars >= 1  # the probe did reach a toolbar
    assert downloads == 0
    assert not copied


@pytest.fixture(scope="module")
def exporting_app(
    browser_type_launch_args: dict, project_file: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    """The same project served with the grid's export switched back on (the control)."""
    log = tmp_path_factory.mktemp("exporting") / "streamlit.log"
    process, url = start_app(project_file, log, flags=("--client.disableDataExport", "false"))
    try:
        yield App(url=url, db=project_file, log=log)
    finally:
        stop_app(process)


def test_the_probes_see_the_grids_controls_when_they_are_on(
    app, exporting_app: App, clipboard_page: Page
):
    page = clipboard_page
    visit(page, exporting_app, "tags")
    toolbars, downloads, copied = grid_controls(page)
    assert toolbars >= 1 and downloads >= 1 and copied
