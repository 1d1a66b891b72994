"""The pages on a run counted in Spark (import --engine spark): only its counts and the
examples drawn for review are in the project file, so every page that needs the run's
examples says so and points to the command line's priorities instead of failing; Review
walks the drawn examples, and Priorities weighs their reviews by the recorded draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from app_support import no_errors, open_page, start_app
from store_support import add_run

from erroranalysis.census import Census, census_tally, counted_draw
from erroranalysis.errors import StoreError
from erroranalysis.priorities import priority_table
from erroranalysis.sampling import Draw
from erroranalysis.store import open_project
from erroranalysis.vocabulary import STRATUM_CORRECT, STRATUM_ERROR

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
    # The draw as the Spark import records it: 2 of the 1,500 errors, 2 of the 8,500
    # correct predictions, in review order c, a, d, b.
    draws = pd.DataFrame(
        {
            "id": ["c", "a", "d", "b"],
            "stratum": [STRATUM_CORRECT, STRATUM_ERROR, STRATUM_CORRECT, STRATUM_ERROR],
            "probability": [2 / 8_500, 2 / 1_500, 2 / 8_500, 2 / 1_500],
            "order": [0, 1, 2, 3],
        }
    )
    design = {
        "frame": None,
        "frame_size": 10_000,
        "correct_fraction": 0.5,
        "engine": "spark",
        "strata": [
            {"name": STRATUM_ERROR, "size": 1_500, "drawn": 2},
            {"name": STRATUM_CORRECT, "size": 8_500, "drawn": 2},
        ],
    }
    draw = Draw(run="main", strategy="stratified", seed=7, size=4, examples=draws, design=design)
    with open_project(db) as project:
        add_run(project, "big", drawn, dataset_tags=["far"], actor="setup", census=census)
        project.dataset("big").record_sample(draw, actor="setup")
        info = project.dataset("big").run()
    assert (info.n_examples, info.n_errors, info.counted_by) == (10_000, 1_500, "spark")
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    return db


@pytest.mark.parametrize("page", ["audit", "tags", "discover"])
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


def test_review_walks_the_examples_drawn_where_the_run_was_counted(counted):
    at = open_page(start_app(), "review")
    no_errors(at)
    # The queue is the recorded draw, in its order: no strategy, size or filter to set.
    assert at.session_state["rv_current"] == "c"
    assert not at.radio and not at.slider
    assert [e.label for e in at.get("expander")] == ["Second reviews"]  # no Filters
    sidebar = " ".join(c.value for c in at.sidebar.caption)
    assert "4 examples drawn for review" in sidebar
    assert "10,000 examples" in sidebar and "--engine spark" in sidebar
    assert "Reviewed errors: 0 of 2 drawn" in at.get("progress")[0].proto.text
    assert "Reviewed correct examples: 0 of 2 sampled" in at.get("progress")[1].proto.text
    next(b for b in at.button if b.label == "Next").click().run()
    assert at.session_state["rv_current"] == "a"


def test_reviews_of_drawn_examples_count_with_the_imports_sample(counted):
    at = open_page(start_app(), "review")
    at.text_input(key="rv_new_tag").input("hum")
    at.button(key="FormSubmitter:rv_new_tag_form-Add tag").click().run()  # hum on c
    next(b for b in at.button if b.label == "Mark reviewed").click().run()
    assert at.session_state["rv_current"] == "a"
    next(b for b in at.button if b.label == "Mark reviewed").click().run()  # a: no hum
    no_errors(at)
    assert "Reviewed errors: 1 of 2 drawn" in at.get("progress")[0].proto.text
    assert "Reviewed correct examples: 1 of 2 sampled" in at.get("progress")[1].proto.text
    with open_project(counted) as project:
        store = project.dataset("big")
        reviews = store.reviews()
        samples = store.samples()
        table = priority_table(census_tally(project, "big")).set_index("tag")
    # Both reviews are of the sample the import recorded: no other sample is made.
    assert samples["id"].tolist() == [1]
    assert reviews["sample_id"].tolist() == [1, 1]
    assert reviews[["example_id", "queue"]].values.tolist() == [
        ["c", STRATUM_CORRECT],
        ["a", STRATUM_ERROR],
    ]
    # hum is on the reviewed correct prediction and not on the reviewed error: each
    # stands for its stratum, so hum covers the 8,500 correct predictions of 10,000.
    assert table.loc["hum", "share"] == 0.85
    shown = open_page(at, "priorities").dataframe[0].value.set_index("tag")
    assert shown.loc["hum", "share"] == 0.85
    assert shown.loc["hum", "accuracy"] == table.loc["hum", "accuracy"] == 1.0


def test_the_draw_of_a_counted_run_is_the_one_its_import_recorded(counted):
    with open_project(counted) as project:
        draw = counted_draw(project, "big")
    assert draw.examples["id"].tolist() == ["c", "a", "d", "b"]
    assert (draw.run, draw.strategy, draw.seed, draw.size) == ("main", "stratified", 7, 4)
    assert draw.design["engine"] == "spark"


def test_a_run_counted_in_memory_or_without_its_sample_has_no_counted_draw(tmp_path):
    frame = pd.DataFrame({"id": ["a"], "label": ["y"], "prediction": ["y"], "correct": [True]})
    census = Census(
        engine="spark",
        size=(0, 10),
        names=(),
        kinds=(),
        rules=(),
        tagged=np.zeros((2, 0), dtype=np.int64),
        human=np.zeros((2, 0), dtype=np.int64),
        agree=np.zeros((2, 0), dtype=np.int64),
    )
    with open_project(tmp_path / "p.db") as project:
        add_run(project, "small", frame, actor="setup")
        add_run(project, "big", frame, actor="setup", census=census)
        with pytest.raises(StoreError, match="'small' was counted in memory"):
            counted_draw(project, "small")
        with pytest.raises(StoreError, match="no sample of its examples was recorded"):
            counted_draw(project, "big")
