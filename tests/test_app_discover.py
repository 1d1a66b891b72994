"""The Discover page: the table of weak slices, its settings, and adopting a slice as a rule
tag that the Priorities page then ranks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_support import (
    APP,
    REVIEWER,
    downloads,
    first_table,
    no_errors,
    open_page,
    project_file_of,
    record_downloads,
    rows_of_csv,
    unsafe_cells,
)
from streamlit.testing.v1 import AppTest

from app_pages.discover import SHOWN
from erroranalysis.discover import DISCOVER_COLUMNS
from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

DATASET = "calls"
WEAK = "noise = car & device = phone"


def build(folder, *, device: str = "device"):
    """600 calls: car noise on a phone fails half the time, everything else 5%."""
    rng = np.random.default_rng(7)
    n = 600
    noise = rng.choice(["car", "clean", "people"], n)
    phone = rng.choice(["phone", "laptop"], n)
    weak = (noise == "car") & (phone == "phone")
    wrong = rng.random(n) < np.where(weak, 0.5, 0.05)
    frame = pd.DataFrame(
        {
            "id": [f"c{i:03d}" for i in range(n)],
            "label": "yes",
            "prediction": np.where(wrong, "no", "yes"),
            "noise": noise,
            device: phone,
            "snr_db": rng.uniform(0, 40, n).round(1),
        }
    )
    csv = folder / "calls.csv"
    frame.to_csv(csv, index=False)
    db = folder / "project.db"
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(read_dataset(csv), actor="setup")
        project.define_tag("taken", actor="setup")
    return db


project_file = project_file_of(build)


@pytest.fixture
def page(app):
    return open_page(app, "discover")


def test_the_weak_slice_comes_first(page):
    no_errors(page)
    assert page.title[0].value == "Discover"
    table = first_table(page)
    assert list(table.columns) == SHOWN
    assert table["slice"].iloc[0] == WEAK
    assert bool(table["significant"].iloc[0])
    assert page.code[0].value == 'noise == "car" and device == "phone"'


def test_the_settings_change_the_search(page):
    before = first_table(page)
    page.number_input(key="dc_level").set_value(1).run()
    no_errors(page)
    assert set(first_table(page)["level"]) == {1}
    page.number_input(key="dc_level").set_value(2).run()
    page.slider(key="dc_alpha").set_value(0.9).run()
    no_errors(page)
    after = first_table(page)
    # Weighing size more, big slices climb and every score changes.
    assert not np.allclose(after["score"].iloc[:3], before["score"].iloc[:3])
    page.number_input(key="dc_support").set_value(0.2).run()
    no_errors(page)
    assert (first_table(page)["share"] >= 0.2).all() or "No slice" in page.info[0].value


def test_adopting_a_slice_makes_a_rule_tag_ranked_on_priorities(page, project_file):
    page.text_input(key="dc_name:1").input("car on phone").run()
    page.button(key="dc_adopt").click().run()
    no_errors(page)
    with open_project(project_file) as project:
        definitions = project.tag_definitions().set_index("tag")
        actions = project.dataset(DATASET).actions(limit=10)
    assert definitions.loc["car on phone", "rule"] == 'noise == "car" and device == "phone"'
    assert "error rate" in definitions.loc["car on phone", "description"]
    assert actions.iloc[0]["kind"] == "define_tag" and actions.iloc[0]["actor"] == REVIEWER
    open_page(page, "priorities")
    no_errors(page)
    ranking = page.dataframe[0].value.set_index("tag")
    assert ranking.loc["car on phone", "kind"] == "rule"
    assert ranking.loc["car on phone", "examples"] == shown_examples(project_file)
    # Back on Discover, the adopted tag is the slice (the same examples, said once).
    open_page(page, "discover")
    assert first_table(page)["slice"].iloc[0] == "tag car on phone"


def shown_examples(db) -> int:
    with open_project(db) as project:
        examples = project.dataset(DATASET).examples()
    return int(((examples["noise"] == "car") & (examples["device"] == "phone")).sum())


def test_a_taken_name_is_refused_and_changes_nothing(page, project_file):
    with open_project(project_file) as project:
        revision = project.revision()
    page.text_input(key="dc_name:1").input("taken").run()
    page.button(key="dc_adopt").click().run()
    no_errors(page)
    assert "a tag named 'taken' exists already" in page.error[0].value
    with open_project(project_file) as project:
        assert project.revision() == revision


def test_adopting_needs_a_reviewer_name(project_file):
    at = AppTest.from_file(APP, default_timeout=60).run()
    open_page(at, "discover")
    no_errors(at)
    assert at.button(key="dc_adopt").disabled
    assert any("Enter your name" in w.value for w in at.warning)


def test_the_download_is_the_whole_table_and_formula_safe(tmp_path, monkeypatch):
    """A column named like a formula makes slices whose text begins with one."""
    db = build(tmp_path, device="=device")
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    made = record_downloads(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at = open_page(at.run(), "discover")
    no_errors(at)
    files = downloads(at, made)
    assert list(files) == ["discovered-slices:csv"]
    name, text = files["discovered-slices:csv"]
    assert name == "calls-main-discovered-slices.csv"
    header, *body = rows_of_csv(text)
    assert header == DISCOVER_COLUMNS and len(body) == len(first_table(at))
    assert any(row[1].startswith("'=device") for row in body)
    assert unsafe_cells(text) == []
