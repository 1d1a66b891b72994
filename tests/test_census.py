"""A run counted elsewhere (erroranalysis.census) in the store, without Spark: its census
is kept with the run, read back as written, and joined with the reviewed tags; a rule
changed or defined since it was counted is left out, as its examples are not here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from store_support import add_run

from erroranalysis.census import Census, census_tally
from erroranalysis.errors import StoreError
from erroranalysis.store import open_project


def census(**changes: object) -> Census:
    fields = {
        "engine": "spark",
        "size": (1_500, 8_500),
        "names": ("far", "quiet"),
        "kinds": ("dataset", "rule"),
        "rules": (None, "snr < 10"),
        "tagged": np.array([[300, 700], [900, 1_200]]),
        "human": np.array([[30, 0], [90, 0]]),
        "agree": np.array([[20, 0], [85, 0]]),
    }
    return Census(**{**fields, **changes})


def drawn() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "label": ["yes", "no", "yes", "no"],
            "prediction": ["no", "yes", "yes", "no"],
            "correct": [False, False, True, True],
            "snr": [3.0, 12.0, 5.0, 20.0],
            "tag:far": [True, False, False, True],
        }
    )


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "counted.db") as project:
        project.define_tag("quiet", rule="snr < 10", actor="lead")
        add_run(project, "big", drawn(), dataset_tags=["far"], actor="lead", census=census())
        yield project


def test_the_census_reads_back_as_written(project):
    got = project.dataset("big").census()
    want = census()
    assert (got.engine, got.size, got.names, got.kinds, got.rules) == (
        want.engine, want.size, want.names, want.kinds, want.rules,
    )  # fmt: skip
    for name in ("tagged", "human", "agree"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))
    info = project.dataset("big").run()
    assert (info.n_examples, info.n_errors, info.counted_by) == (10_000, 1_500, "spark")


def test_the_tally_has_the_census_and_the_reviewed_tags(project):
    table = pd.DataFrame({"id": ["a", "c"], "reviewer": "ana"})
    project.dataset("big").record_reviews(table, tags=[["muffled"], []])
    counted = census_tally(project, "big")
    assert counted.names == ("far", "quiet", "muffled")
    assert counted.kinds == ("dataset", "rule", "reviewed")
    np.testing.assert_array_equal(counted.counts.sizes, [[1_500] * 3, [8_500] * 3])
    np.testing.assert_array_equal(counted.counts.tag.n, [[1_500, 1_500, 1], [8_500, 8_500, 1]])
    np.testing.assert_array_equal(counted.counts.tag.x, [[300, 700, 1], [900, 1_200, 0]])
    # One review per stratum stands for the whole stratum of the run, not for the two
    # examples of each stratum that are here; a census tag counts every example once.
    np.testing.assert_array_equal(counted.counts.tag.w, [[1_500] * 3, [8_500] * 3])


@pytest.mark.parametrize("rule", ["snr < 5", None])
def test_a_rule_changed_or_cleared_since_the_count_is_left_out(project, rule):
    if rule is None:
        project.define_tag("quiet", clear=["rule"], actor="lead")
    else:
        project.define_tag("quiet", rule=rule, actor="lead")
    assert census_tally(project, "big").names == ("far",)


def test_a_deleted_tag_leaves_the_census(project):
    project.delete_tag("quiet", actor="lead")
    assert project.dataset("big").census().names == ("far",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kinds": ("dataset", "reviewed")}, "counts dataset and rule tags, not 'reviewed'"),
        ({"rules": (None,)}, "a census of 2 tags needs 2 kinds and 2 rules"),
        ({"tagged": np.zeros((2, 3))}, "tagged counts must have shape \\(2, 2\\)"),
    ],
)
def test_a_malformed_census_is_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        census(**changes)


def test_a_census_of_a_dataset_tag_the_run_lacks_writes_nothing(tmp_path):
    with open_project(tmp_path / "p.db") as project:
        with pytest.raises(StoreError, match="dataset tag 'far' the run does not have"):
            add_run(project, "big", drawn(), actor="lead", census=census())
        assert project.dataset_names() == []
