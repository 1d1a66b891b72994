"""The page benchmark's capture and replay (benchmarks/_replay.py): a page with known
elements, captured under AppTest, then drawn again by the bare app, draws the same element
kinds with the same values; no browser."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from benchmarks import _replay
from benchmarks.page_warm import app_settings, drawn_js, visible

KNOWN_PAGE = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

with st.sidebar:
    st.selectbox("Dataset", ["speech", "digits"], index=1, key="dataset")
    st.text_input("Your name", value="ana", key="reviewer")
st.title("Known")
st.caption("a caption")
left, right = st.columns([2, 1])
left.metric("Examples", "1,000", "+5")
right.button("Go", type="primary", key="go")
st.dataframe(
    pd.DataFrame({"tag": ["car", "rain"], "examples": [3, 4]}),
    hide_index=True,
    column_config={"examples": st.column_config.NumberColumn("Examples", width="small")},
    key="table",
)
st.plotly_chart(go.Figure(go.Bar(x=[1, 2], y=["a", "b"], orientation="h")), key="chart")
st.vega_lite_chart(
    pd.DataFrame({"x": [1, 2]}), {"mark": "bar", "encoding": {"x": {"field": "x"}}}, key="vega"
)
with st.expander("More"):
    st.toggle("Reviewed only", value=True, key="only")
    st.number_input("Size", min_value=1, max_value=50, value=10, key="size")
st.download_button("CSV", data=b"x", file_name="x.csv", key="csv")
"""

MAIN_KINDS = [
    "title",
    "caption",
    "columns",
    "column",
    "metric",
    "column",
    "button",
    "dataframe",
    "plotly_chart",
    "vega_lite_chart",
    "expander",
    "toggle",
    "number_input",
    "download_button",
]


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> tuple[dict, Path]:
    """The known page captured, and the pickle the bare app reads it from."""
    folder = tmp_path_factory.mktemp("replay")
    script = folder / "known.py"
    script.write_text(KNOWN_PAGE)
    at = AppTest.from_file(str(script), default_timeout=60).run()
    assert not at.exception
    records = _replay.capture(at)
    capture_file = folder / "pages.pickle"
    page = {"title": "Known", "icon": ":material/star:", "records": records}
    capture_file.write_bytes(pickle.dumps({"pages": {"known": page}}))
    return records, capture_file


def flat(records: list[dict]) -> list[dict]:
    out = []
    for record in records:
        out.append(record)
        out.extend(flat(record.get("children", [])))
    return out


def test_capture_reads_kinds_and_values(known):
    records, _ = known
    assert list(_replay.kinds(records["main"])) == MAIN_KINDS
    assert [(r["kind"], r.get("label")) for r in records["sidebar"]] == [
        ("selectbox", "Dataset"),
        ("text_input", "Your name"),
    ]
    by_kind = {r["kind"]: r for r in flat(records["main"])}
    assert by_kind["title"]["body"] == "Known"
    assert (by_kind["metric"]["label"], by_kind["metric"]["value"]) == ("Examples", "1,000")
    assert (by_kind["button"]["label"], by_kind["button"]["type"]) == ("Go", "primary")
    assert by_kind["dataframe"]["value"].to_dict("list") == {
        "tag": ["car", "rain"],
        "examples": [3, 4],
    }
    assert by_kind["dataframe"]["column_config"]["examples"]["width"] == "small"
    assert json.loads(by_kind["plotly_chart"]["spec"])["data"][0]["y"] == ["a", "b"]
    assert json.loads(by_kind["vega_lite_chart"]["spec"])["mark"] == "bar"
    assert by_kind["vega_lite_chart"]["data"].to_dict("list") == {"x": [1, 2]}
    assert (by_kind["toggle"]["value"], by_kind["number_input"]["value"]) == (True, 10)
    assert [r["weight"] for r in records["main"][2]["children"]] == pytest.approx([2 / 3, 1 / 3])
    assert records["sidebar"][0]["index"] == 1
    assert records["sidebar"][1]["value"] == "ana"


def test_replay_draws_the_same_elements_and_values(known):
    records, capture_file = known
    again = _replay.replayed(capture_file, ["known"])["known"]
    assert list(_replay.kinds(again["main"])) == MAIN_KINDS
    for area in ("main", "sidebar"):
        assert _replay.comparable(again[area]) == _replay.comparable(records[area])


def test_comparable_sees_a_changed_value(known):
    records, _ = known
    changed = [dict(r) for r in records["main"]]
    changed[0] = {**changed[0], "body": "Other"}
    assert _replay.comparable(changed) != _replay.comparable(records["main"])


def test_a_failing_replay_names_its_page(tmp_path):
    capture_file = tmp_path / "pages.pickle"
    broken = {"main": [{"kind": "metric", "label": "x"}], "sidebar": []}
    page = {"title": "Broken", "icon": None, "records": broken}
    capture_file.write_bytes(pickle.dumps({"pages": {"broken": page}}))
    with pytest.raises(RuntimeError, match="replaying broken failed"):
        _replay.replayed(capture_file, ["broken"])


@pytest.mark.parametrize(
    ("record", "on_screen"),
    [
        (
            {
                "kind": "expander",
                "label": "x",
                "expanded": False,
                "children": [{"kind": "dataframe"}],
            },
            [],
        ),
        (
            {"kind": "expander", "label": "x", "expanded": True, "children": [{"kind": "text"}]},
            ["expander", "text"],
        ),
        (
            {
                "kind": "tabs",
                "children": [
                    {"kind": "tab", "label": "a", "children": [{"kind": "caption"}]},
                    {"kind": "tab", "label": "b", "children": [{"kind": "dataframe"}]},
                ],
            },
            ["tabs", "tab", "caption"],
        ),
        ({"kind": "popover", "label": "p", "children": [{"kind": "button"}]}, []),
    ],
)
def test_visible_leaves_out_what_is_not_on_screen(record, on_screen):
    assert list(_replay.kinds(visible([record]))) == on_screen


def test_drawn_condition_waits_for_visible_tables_with_rows_and_charts():
    rows = pd.DataFrame({"a": [1]})
    records = [
        {"kind": "dataframe", "value": rows},
        {"kind": "dataframe", "value": rows.iloc[:0]},
        {"kind": "plotly_chart", "spec": "{}"},
        {
            "kind": "expander",
            "label": "x",
            "expanded": False,
            "children": [{"kind": "dataframe", "value": rows}],
        },
    ]
    condition = drawn_js("Known", records)
    assert "grids >= 1 && charts >= 1 && idle" in condition
    assert '"Known"' in condition


def test_the_bare_app_is_served_with_the_apps_settings():
    flags = app_settings()
    pairs = dict(zip(flags[::2], flags[1::2], strict=True))
    assert pairs["--runner.postScriptGC"] == "false"
    assert pairs["--client.toolbarMode"] == "minimal"
