"""The Priorities page: the ranked table, the charts and the CSV download; the error shares
and the tag overlap in tabs computed and drawn only when opened."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest
import streamlit
from app_support import (
    APP,
    DATASET,
    add_many_tags,
    downloads,
    elements,
    no_errors,
    open_page,
    open_tab,
    record_downloads,
    start_app,
    unsafe_cells,
    vega_charts,
)
from streamlit.testing.v1 import AppTest

from app_pages import _charts, _ui
from erroranalysis.review import DIRECT
from erroranalysis.store import open_project
from erroranalysis.store import tags as store_tags


@pytest.fixture
def reviewed(project_file):
    """Some more reviews, of errors and correct examples, so reviewed tags get estimates."""
    with open_project(project_file) as project:
        for example, tags in [
            ("s00", ["car noise"]),
            ("s08", ["people noise"]),
            ("s12", []),
            ("s01", []),
            ("s02", ["people noise"]),
        ]:
            project.dataset(DATASET).record_review(example, reviewer="ben", tags=tags)
        project.dataset(DATASET).set_tag("s03", '=HYPERLINK("http://x")', actor="ben")
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
    assert [t.label for t in priorities.tabs] == ["Ranking", "Where the errors are", "Tag overlap"]


ERRORS, OVERLAP = "Where the errors are", "Tag overlap"
EFFECT, BUBBLES = "Marginal effect (95% interval)", "Gap to HLP vs share of the data"
SHARES = "Share of errors per tag"


def _drawn(at: AppTest) -> tuple[list[str], list[str], list[str]]:
    """(charts: Vega-Lite ones by title, Plotly ones by key; table download names;
    subheaders) of what the page drew."""
    charts = [*vega_charts(at), *(c.proto.id.rsplit("-", 1)[-1] for c in at.get("plotly_chart"))]
    tables = [
        b.key.removesuffix(":csv") for b in at.get("download_button") if b.key.endswith(":csv")
    ]
    return charts, tables, [s.value for s in at.subheader]


@pytest.mark.parametrize(
    ("tab", "charts", "tables", "subheaders"),
    [
        (None, [EFFECT, BUBBLES], ["priorities"], []),
        (ERRORS, [SHARES], ["error-shares", "untagged-errors"], ["Untagged errors: 1"]),
        (OVERLAP, ["pr_overlap_chart"], ["overlap", "exclusive-shares"], []),
    ],
)
def test_only_the_open_tab_is_drawn(priorities, tab, charts, tables, subheaders):
    if tab is not None:
        open_tab(priorities, "priorities", tab)
    no_errors(priorities)
    assert _drawn(priorities) == (charts, tables, subheaders)
    assert len(priorities.dataframe) == len([t for t in tables if t != "overlap"])


def test_closed_tabs_run_no_analysis(priorities, monkeypatch):
    asked = []
    real = _ui.analysis
    monkeypatch.setattr(
        _ui, "analysis", lambda name, *a, **k: asked.append(name) or real(name, *a, **k)
    )
    priorities.run()
    assert asked == ["priority_table"]
    open_tab(priorities, "priorities", OVERLAP)
    assert asked[1:] == ["priority_table", "tag_overlap", "exclusive_shares"]
    # Back to the ranking: the overlap is drawn no more.
    open_tab(priorities, "priorities", "Ranking")
    assert _drawn(priorities)[0] == [EFFECT, BUBBLES]


def test_rank_by_effort(priorities):
    priorities.button_group(key="pr_by").set_value("effort").run()
    no_errors(priorities)
    assert priorities.dataframe[0].value["tag"].iloc[0] == "people noise"  # the only effort


def test_untagged_errors_lead_to_the_review_queue(priorities):
    open_tab(priorities, "priorities", ERRORS)
    assert any("Untagged errors: 1" in s.value for s in priorities.subheader)  # s12
    next(b for b in priorities.button if b.label == "Review untagged errors").click().run()
    no_errors(priorities)
    assert priorities.session_state["rv_untagged"] is True
    assert priorities.title[0].value == "Review"


def test_csv_download_is_the_safe_export(reviewed, monkeypatch):
    made = record_downloads(monkeypatch)
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = open_page(at, "priorities")
    button = at.download_button(key="priorities:csv")
    assert button.proto.label == "Download CSV"
    assert button.proto.deferred_file_id  # built on click, not on every run
    name, text = downloads(at, made)["priorities:csv"]
    assert name == "speech-main-priorities.csv"
    assert "'=HYPERLINK" in text and unsafe_cells(text) == []
    # The whole ranking, interval ends included.
    assert text.splitlines()[0].startswith("rank,tag,")
    assert "marginal_effect_low" in text.splitlines()[0]


@pytest.mark.parametrize(
    ("tag", "examples", "alone", "share"),
    [
        # Counted on the six reviewed examples: s00 carries clipped and car noise, s04 car
        # noise alone, s02 and s08 people noise alone.
        ("clipped", 1, 0, 0.0),
        ("car noise", 2, 1, 0.5),
        ("people noise", 2, 2, 1.0),
    ],
)
def test_exclusive_shares_beside_the_overlap(priorities, tag, examples, alone, share):
    open_tab(priorities, "priorities", OVERLAP)
    (table,) = [t.value for t in priorities.dataframe if "exclusive_share" in t.value.columns]
    assert table.columns.tolist() == ["tag", "examples", "exclusive", "exclusive_share"]
    row = table.set_index("tag").loc[tag]
    assert (row["examples"], row["exclusive"], row["exclusive_share"]) == (examples, alone, share)
    assert any(
        "exclusive share: of the examples carrying it" in c.value for c in priorities.caption
    )


def test_other_reviewers_tags_show_up(priorities, reviewed):
    before = priorities.dataframe[0].value.set_index("tag")
    with open_project(reviewed) as project:
        project.dataset(DATASET).set_tag("s16", "wind", actor="cy")
    priorities.run()
    after = priorities.dataframe[0].value.set_index("tag")
    assert "wind" not in before.index and "wind" in after.index


def test_dataset_and_rule_tags_are_counted_once_per_taxonomy(priorities, reviewed, monkeypatch):
    # A review recounts only the reviewed tags; a rule defined or changed recounts the rest.
    derived = []
    tally = _ui.counts.tally

    def counting(evidence, *, kinds=_ui.counts.KINDS):
        if tuple(kinds) == _ui.DERIVED_KINDS:
            derived.append(len(evidence.examples))
        return tally(evidence, kinds=kinds)

    monkeypatch.setattr(_ui.counts, "tally", counting)

    def ranking():
        priorities.run()
        no_errors(priorities)
        return priorities.dataframe[0].value.set_index("tag")

    before = ranking().loc["car noise", "examples"]
    derived.clear()
    with open_project(reviewed) as project:
        project.dataset(DATASET).record_review("s16", reviewer="cy", tags=["car noise"])
        assert ranking().loc["car noise", "examples"] == before + 1 and derived == []
        project.define_tag("loud", actor="cy", rule="snr_db >= 30")
        assert ranking().loc["loud", "examples"] == 10 and derived == [40]
        project.define_tag("loud", actor="cy", rule="snr_db >= 35")
        assert ranking().loc["loud", "examples"] == 5 and derived == [40, 40]
        project.dataset(DATASET).record_review("s20", reviewer="cy", tags=["people noise"])
        table = ranking()
    assert derived == [40, 40]
    # The same ranking as one counted from nothing.
    streamlit.cache_data.clear()
    streamlit.cache_resource.clear()
    fresh = open_page(start_app(), "priorities")
    no_errors(fresh)
    pd.testing.assert_frame_equal(table, fresh.dataframe[0].value.set_index("tag"))


# ---------------------------------------------------------------------- thousands of tags
def payload(at: AppTest) -> int:
    """Bytes of the page's elements as sent to the browser (their protobuf messages)."""
    return sum(element.proto.ByteSize() for element in elements(at._tree))


def _drawn_tags(spec: str) -> set[str]:
    """The tags a Plotly heatmap draws."""
    return {name for trace in json.loads(spec)["data"] for name in trace["y"]}


@pytest.fixture
def thousands(project_file, monkeypatch):
    # The store refuses a tag past MAX_TAGS, but a file made before that limit (the issue's
    # reproduction) holds 2,000: the page must stay light with them.
    monkeypatch.setattr(store_tags, "MAX_TAGS", 2_100)
    return add_many_tags(project_file, 2_000)


@pytest.mark.slow
def test_two_thousand_tags_stay_light(thousands, app, monkeypatch):
    made = record_downloads(monkeypatch)
    at = open_page(app, "priorities")
    no_errors(at)
    # 6.4 MB before the charts were cut to the top tags and the table was paged.
    assert payload(at) < 200_000, payload(at)
    ranking = at.dataframe[0].value
    assert len(ranking) == _ui.PAGE_ROWS
    assert ranking["rank"].tolist() == list(range(1, _ui.PAGE_ROWS + 1))
    # Each chart draws the top 25 tags and says how many more there are.
    notes, drawn = {}, {}
    for tab in (None, ERRORS, OVERLAP):
        if tab is not None:
            open_tab(at, "priorities", tab)
            no_errors(at)
            assert payload(at) < 200_000, (tab, payload(at))
        for title, (spec, rows) in vega_charts(at).items():
            drawn[title] = set(rows["tag"])
            notes[title] = spec["title"]["subtitle"]
        for chart in at.get("plotly_chart"):
            figure = json.loads(chart.proto.spec)
            drawn["overlap"] = _drawn_tags(chart.proto.spec)
            notes["overlap"] = figure["layout"]["title"]["subtitle"]["text"]
    assert sorted(drawn) == sorted([EFFECT, BUBBLES, SHARES, "overlap"])
    for title, note in notes.items():
        assert len(drawn[title]) == _charts.TOP, title
        # 2,000 tags, and "clipped" where it is known (it has no HLP: no marginal effect).
        assert re.match(r"Top 25 of 2,00([01]) tags; 1,97(5|6) more tags", note), note
    assert "of the summed marginal effect" in notes[EFFECT]
    open_tab(at, "priorities", "Ranking")
    ranking = at.dataframe[0].value
    # The chart draws the top of the ranking.
    assert drawn[EFFECT] == set(
        ranking.loc[ranking["marginal_effect"].notna(), "tag"].head(_charts.TOP)
    )
    _, text = downloads(at, made)["priorities:csv"]
    tags = [line.split(",")[1] for line in text.splitlines()[1:]]
    assert sorted(tags) == sorted([*thousands, "clipped"])  # every row, once
    at.number_input(key="priorities:page").set_value(3).run()
    no_errors(at)
    assert at.dataframe[0].value["rank"].tolist() == list(range(101, 151))


def test_the_page_says_which_reviews_are_left_out_of_the_estimates(app, project_file):
    open_page(app, "priorities")
    assert not [c for c in app.caption if "left out of the estimates" in c.value]
    with open_project(project_file) as project:
        for example in ("s01", "s02", "s03"):  # opened by link, outside any sample
            project.dataset(DATASET).record_review(
                example, reviewer="ben", tags=["car noise"], queue=DIRECT
            )
    app.run()
    no_errors(app)
    (line,) = [c.value for c in app.caption if "left out of the estimates" in c.value]
    assert line.startswith("3 reviews shown but left out of the estimates")
