"""The pages on a run counted in Spark (import --engine spark): only its counts and the
examples drawn for review are in the project file, so every page that needs the run's
examples says so and points to the command line's priorities instead of failing."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_support import no_errors, open_page, start_app
from store_support import add_run

from erroranalysis.census import Census, census_tally
from erroranalysis.priorities import priority_table
from erroranalysis.store import open_project

NOTE = "was imported with --engine spark"


@pytest.fixture
def counted(tmp_path, monkeypatch):
    """A project whose one run was counted elsewhere: 10,000 examples, 4 drawn."""
    db = tmp_path / "counted.db"
    drawn = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "label": ["yes", "no", "yes", "no"],
            "prediction": ["no", "yes", "yes", "no"],
            "correct": [False, False, True, True],
            "tag:far": [True, False, False, True],
        }
    )
    census = Census(
        engine="spark",
        size=(1_500, 8_500),
        names=("far",),
        kinds=("dataset",),
        rules=(None,),
        tagged=np.array([[300], [900]]),
        human=np.zeros((2, 1), dtype=np.int64),
        agree=np.zeros((2, 1), dtype=np.int64),
    )
    with open_project(db) as project:
        add_run(project, "big", drawn, dataset_tags=["far"], actor="setup", census=census)
        info = project.dataset("big").run()
    assert (info.n_examples, info.n_errors, info.counted_by) == (10_000, 1_500, "spark")
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    return db


@pytest.mark.parametrize("page", ["review", "audit", "tags", "discover"])
def test_pages_that_need_every_example_say_the_run_was_counted_elsewhere(counted, page):
    at = open_page(start_app(), page)
    no_errors(at)
    shown = " ".join(info.value for info in at.info)
    assert "run 'main' of dataset 'big'" in shown.replace("\\", "")
    assert NOTE in shown.replace("\\", "")
    assert "erroranalysis priorities" in shown


def test_the_datasets_page_shows_the_whole_run_and_what_stays_local(counted):
    at = open_page(start_app(), "datasets")
    no_errors(at)
    assert [m.value for m in at.metric] == ["10,000", "1,500", "85.0%"]
    assert NOTE in " ".join(info.value for info in at.info).replace("\\", "")


def test_priorities_ranks_the_run_from_its_counts(counted):
    at = open_page(start_app(), "priorities")
    no_errors(at)
    with open_project(counted) as project:
        expected = priority_table(census_tally(project, "big"))
    shown = at.dataframe[0].value
    assert shown["tag"].tolist() == expected["tag"].tolist() == ["far"]
    # 300 of 1,500 errors and 900 of 8,500 correct predictions carry it: share 12%.
    assert shown["share"].tolist() == expected["share"].tolist() == [0.12]
    assert shown["accuracy"].tolist() == expected["accuracy"].tolist() == [0.75]
    notes = " ".join(info.value for info in at.info)
    assert "the ranking comes from its counts" in notes
    assert "error shares, untagged errors and overlaps need every example" in notes
