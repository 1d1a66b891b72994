"""The Priorities page: the ranked table, the charts and the CSV download."""

from __future__ import annotations

import pytest
from app_support import DATASET, no_errors, open_page

from erroranalysis.store import open_project


@pytest.fixture
def reviewed(project_file):
    """Some more reviews, of errors and correct examples, so reviewed tags get estimates."""
    with open_project(project_file) as project:
        for example, tags in [("s00", ["car noise"]), ("s08", ["people noise"]),
                              ("s12", []), ("s01", []), ("s02", ["people noise"])]:  # fmt: skip
            project.record_review(DATASET, example, reviewer="ben", tags=tags)
        project.set_tag(DATASET, "s03", '=HYPERLINK("http://x")', actor="ben")
    return project_file


@pytest.fixture
def priorities(reviewed, app):
    return open_page(app, "priorities")


def test_smoke(priorities):
    no_errors(priorities)
    table = priorities.dataframe[0].value
    assert {"rank", "tag", "share", "accuracy", "hlp", "gap", "marginal_effect", "interval"} <= set(
        table.columns
    )
    assert {"car noise", "people noise", "clipped"} <= set(table["tag"])
    # Marginal effect, error shares, gap-vs-share, overlap.
    assert len(priorities.get("plotly_chart")) == 4


def test_rank_by_effort(priorities):
    priorities.button_group(key="pr_by").set_value("effort").run()
    no_errors(priorities)
    assert priorities.dataframe[0].value["tag"].iloc[0] == "people noise"  # the only effort


def test_untagged_errors_lead_to_the_review_queue(priorities):
    assert any("Untagged errors: 1" in s.value for s in priorities.subheader)  # s12
    next(b for b in priorities.button if b.label == "Review untagged errors").click().run()
    no_errors(priorities)
    assert priorities.session_state["rv_untagged"] is True
    assert priorities.title[0].value == "Review"


def test_csv_download_is_the_safe_export(priorities):
    button = priorities.download_button(key="pr_download")
    assert button.proto.label == "Download CSV"
    assert button.proto.deferred_file_id or button.proto.url  # built on click, not on every run


def test_other_reviewers_tags_show_up(priorities, reviewed):
    before = priorities.dataframe[0].value.set_index("tag")
    with open_project(reviewed) as project:
        project.set_tag(DATASET, "s16", "wind", actor="cy")
    priorities.run()
    after = priorities.dataframe[0].value.set_index("tag")
    assert "wind" not in before.index and "wind" in after.index
