"""The Datasets page refuses a malformed upload: every problem is listed, nothing is written."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from e2e_helpers import grid_texts, no_exception, open_page, wait_idle
from playwright.sync_api import Page, expect

from erroranalysis.demo import build_demo
from erroranalysis.importing import ImportValidationError, read_dataset
from erroranalysis.store import open_project

pytestmark = pytest.mark.browser

# A duplicate id, a confidence out of range, one that is not a number, a ragged row.
BAD_CSV = b"""id,label,prediction,confidence
a1,yes,no,0.4
a1,no,no,0.9
a3,up,up,0.2
a4,up,down,1.7
a5,up,up,high
a6,up,up,0.5,extra
"""
# CSV text under a Parquet name: the content is checked, not only the file name.
FAKE_PARQUET = b"id,label,prediction\na,b,c\n"


@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("datasets") / "demo.db"
    build_demo(db)
    return db


def snapshot(db: Path) -> tuple:
    """What an import would change: the revision counter, the datasets and their runs."""
    with open_project(db) as project:
        runs = [(r.dataset, r.name, r.n_examples, r.imported_at) for r in project.runs()]
        return project.revision(), project.dataset_names(), runs


def expected_problems(name: str, data: bytes) -> list[tuple[str, str]]:
    """(where, problem) of every problem the importer finds, as the page's table shows them."""
    with pytest.raises(ImportValidationError) as caught:
        read_dataset(io.BytesIO(data), filename=name)
    return [
        (f"{p.unit} {p.row}" if p.row is not None else "", p.message) for p in caught.value.problems
    ]


@pytest.mark.parametrize(
    ("name", "data", "count"),
    [("bad.csv", BAD_CSV, 4), ("fake.parquet", FAKE_PARQUET, 1)],
    ids=["csv-with-four-problems", "csv-named-parquet"],
)
def test_malformed_upload_lists_every_problem_and_changes_nothing(
    app, page: Page, name: str, data: bytes, count: int
):
    expected = expected_problems(name, data)
    assert len(expected) == count
    before = snapshot(app.db)

    # The default page lives at the root ("/datasets" is "Page not found").
    open_page(page, app.page_url(""))
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}]
    )
    submit = page.get_by_role("button", name=re.compile("Validate and import"))
    expect(submit).to_be_visible()
    wait_idle(page)
    submit.click()

    plural = "problem" if count == 1 else "problems"
    expect(
        page.get_by_text(f"Nothing was imported: the file has {count} {plural}.")
    ).to_be_visible()
    wait_idle(page)
    no_exception(page)
    report = page.get_by_test_id("stDataFrame").last
    # The grid is drawn on a canvas; its cells are mirrored in an accessible (hidden) table.
    for _, message in expected:
        expect(report.get_by_text(message, exact=True)).to_be_attached()
    shown = list(zip(grid_texts(report, column=0), grid_texts(report, column=3), strict=True))
    assert sorted(shown) == sorted(expected)

    assert snapshot(app.db) == before
    stem = Path(name).stem
    expect(page.get_by_text(re.compile(r"^Imported [\d,]+ examples"))).to_have_count(0)
    with open_project(app.db) as project:
        assert stem not in project.dataset_names()
