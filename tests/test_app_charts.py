"""The charts: Plotly figures and Vega-Lite specifications in which text from data is shown
literally, never as HTML."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from app_support import DATASET, no_errors, open_page, open_tab, vega_charts

from app_pages import _charts, _ui
from erroranalysis.store import open_project

EVIL = '<a href="javascript:alert(1)">x</a>'
ESCAPED = '&lt;a href="javascript:alert(1)"&gt;x&lt;/a&gt;'


def _priority_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tag": [EVIL, "car noise"],
            "kind": ["reviewed", "rule"],
            "share": [0.2, 0.1],
            "gap": [0.3, -0.1],
            "marginal_effect": [0.06, 0.0],
            "marginal_effect_low": [0.02, 0.0],
            "marginal_effect_high": [0.1, 0.01],
            "evidence": ["reviewed <b>sample</b>", "rule"],
        }
    )


def _figures():
    matrix = pd.DataFrame([[3, 1], [0, 2]], index=[EVIL, "b"], columns=[EVIL, "b"])
    slices = pd.DataFrame(
        {
            "slice": [EVIL, "clean"],
            "examples": [4, 9],
            "accuracy": [0.25, 0.9],
            "flagged": [True, False],
        }
    )
    balance = pd.DataFrame({"class": [EVIL, "yes"], "examples": [5, 7]})
    return {
        "heatmap": _charts.heatmap(matrix, title="Tag overlap", x="with", y="tag", value="n"),
        "slice_accuracy": _charts.slice_accuracy(slices),
        "class_balance": _charts.class_balance(balance, label="class", count="examples"),
    }


def _shares() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tag": [EVIL, "car noise"],
            "kind": ["reviewed", "dataset"],
            "errors": [3, 1],
            "reviewed_errors": [9, 9],
            "share_of_errors": [1 / 3, 1 / 9],
            "share_of_errors_low": [0.1, None],
            "share_of_errors_high": [0.6, None],
        }
    )


def _specs():
    """The Vega-Lite charts: they draw text as text, so names from data enter them as they
    are."""
    return {
        "marginal_effect_bars": _charts.marginal_effect_bars(_priority_table()),
        "gap_share_bubbles": _charts.gap_share_bubbles(_priority_table()),
        "error_share_bars": _charts.error_share_bars(_shares()),
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (EVIL, ESCAPED),
        ("a & b", "a &amp; b"),
        ("x<br>y", "x&lt;br&gt;y"),
        ("&lt;", "&amp;lt;"),  # an entity in data stays as typed
        (7, "7"),
        ("plain tag", "plain tag"),
    ],
)
def test_plain(text, expected):
    assert _charts.plain(text) == expected


def _strings(node) -> list[str]:
    """Every string in a figure's JSON (text, hover data, axis categories, names)."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return []


@pytest.mark.parametrize("name", list(_figures()))
def test_tag_names_are_escaped_in_the_figure(name):
    strings = _strings(json.loads(_figures()[name].to_json()))
    assert not any("<a" in s or "<b>sample" in s for s in strings)
    assert any(ESCAPED in s for s in strings)


@pytest.mark.parametrize("name", list(_specs()))
def test_tag_names_enter_the_vega_lite_charts_as_they_are(name):
    spec = _specs()[name]
    json.dumps(spec, allow_nan=False)  # plain JSON: no NaN, no numpy scalars
    values = spec["data"]["values"]
    assert EVIL in [row["tag"] for row in values]
    assert ESCAPED not in json.dumps(spec)
    if name == "marginal_effect_bars":  # the evidence in its tooltip, as it is
        assert [row["evidence"] for row in values] == ["reviewed <b>sample</b>", "rule"]


@pytest.mark.parametrize(
    ("name", "title", "x", "rows"),
    [
        (
            "marginal_effect_bars",
            "Marginal effect (95% interval)",
            "marginal effect on accuracy",
            # In rank order, with each interval's ends.
            [(EVIL, 0.06, 0.02, 0.1), ("car noise", 0.0, 0.0, 0.01)],
        ),
        (
            "error_share_bars",
            "Share of errors per tag",
            "share of errors",
            # Largest share first; no interval where its ends are unknown.
            [(EVIL, 1 / 3, 0.1, 0.6), ("car noise", 1 / 9, None, None)],
        ),
    ],
)
def test_bars_have_their_title_axis_and_interval(name, title, x, rows):
    spec = _specs()[name]
    bars, interval = spec["layer"]
    assert spec["title"]["text"] == title
    assert bars["encoding"]["x"]["title"] == x
    assert bars["encoding"]["x"]["axis"]["format"] == ".0%"
    assert spec["encoding"]["y"] == {"field": "tag", "type": "nominal", "sort": None, "title": None}
    assert interval["mark"]["type"] == "errorbar"
    field = bars["encoding"]["x"]["field"]
    low, high = interval["encoding"]["x"]["field"], interval["encoding"]["x2"]["field"]
    assert (low, high) == (f"{field}_low", f"{field}_high")
    assert [(r["tag"], r[field], r[low], r[high]) for r in spec["data"]["values"]] == rows


def test_the_marginal_effect_bars_are_coloured_by_kind():
    color = _specs()["marginal_effect_bars"]["layer"][0]["encoding"]["color"]
    assert color["field"] == "kind"
    assert color["scale"] == {"domain": ["reviewed", "rule"], "range": ["#1f77b4", "#2ca02c"]}


def test_a_vega_lite_chart_says_what_it_leaves_out():
    table = pd.DataFrame(
        {
            "tag": [f"t{i}" for i in range(30)],
            "kind": "reviewed",
            "marginal_effect": [0.3 - i / 100 for i in range(30)],
            "marginal_effect_low": 0.0,
            "marginal_effect_high": 0.4,
            "evidence": "reviewed",
        }
    )
    spec = _charts.marginal_effect_bars(table)
    assert [r["tag"] for r in spec["data"]["values"]] == [f"t{i}" for i in range(_charts.TOP)]
    assert spec["title"]["subtitle"] == (
        "Top 25 of 30 tags; 5 more tags: 3% of the summed marginal effect"
    )
    assert "subtitle" not in _charts.marginal_effect_bars(table.head(3))["title"]


def test_bars_draw_one_trace_per_group_that_has_rows():
    slices = pd.DataFrame(
        {"slice": ["a", "b", "c"], "examples": [4, 9, 5], "accuracy": [0.9, 0.2, 0.5]}
    )
    traces = _charts.slice_accuracy(slices.assign(flagged=[True, False, True])).data
    assert [(t.name, list(t.y)) for t in traces] == [
        ("not flagged", ["b"]),
        ("flagged", ["c", "a"]),
    ]
    traces = _charts.slice_accuracy(slices.assign(flagged=False)).data
    assert [(t.name, list(t.y)) for t in traces] == [("not flagged", ["b", "c", "a"])]
    compared = pd.DataFrame(
        {
            "tag": ["up", "down", "flat"],
            "kind": ["reviewed"] * 3,
            "accuracy_a": [0.5, 0.9, 0.7],
            "accuracy_b": [0.8, 0.6, 0.71],
            "difference": [0.3, -0.3, 0.01],
            "difference_low": [0.1, -0.5, -0.1],
            "difference_high": [0.5, -0.1, 0.12],
            "regression": [False, True, False],
            "improved": [True, False, False],
            "evidence": ["paired"] * 3,
        }
    )
    traces = _charts.difference_bars(compared).data
    assert [(t.name, list(t.y)) for t in traces] == [
        ("regressed", ["down"]),
        ("improved", ["up"]),
        ("no significant change", ["flat"]),
    ]
    traces = _charts.difference_bars(compared.iloc[[2]]).data
    assert [(t.name, list(t.y)) for t in traces] == [("no significant change", ["flat"])]


def test_numeric_looking_classes_stay_categories():
    fig = _charts.heatmap(
        pd.DataFrame([[1, 0], [0, 1]], index=["0", "7"], columns=["0", "7"]),
        title="",
        x="prediction",
        y="label",
        value="examples",
    )
    assert fig.layout.xaxis.type == "category" and fig.layout.yaxis.type == "category"
    assert list(fig.layout.yaxis.categoryarray) == ["0", "7"]


def test_heatmap_grows_with_its_rows():
    small = _charts.heatmap(
        pd.DataFrame([[1]], index=["a"], columns=["a"]), title="", x="x", y="y", value="v"
    )
    names = [f"tag {i}" for i in range(30)]
    big = _charts.heatmap(
        pd.DataFrame(0, index=names, columns=names), title="", x="x", y="y", value="v"
    )
    assert big.layout.height >= 28 * 30 > small.layout.height


def test_only_the_largest_bubbles_are_labelled():
    names = [f"tag {i}" for i in range(12)]
    table = pd.DataFrame(
        {
            "tag": names,
            "kind": "reviewed",
            "share": 0.05,
            "gap": 0.1,
            "marginal_effect": [i / 100 for i in range(12)],
            "evidence": "reviewed",
        }
    )
    spec = _charts.gap_share_bubbles(table)
    values = spec["data"]["values"]
    labelled = sorted(r["tag"] for r in values if r["label"])
    assert labelled == sorted(names[-_charts.BUBBLE_LABELS :])
    bubbles, above, below = spec["layer"]
    assert above["transform"] == [{"filter": {"field": "label", "equal": "above"}}]
    assert below["transform"] == [{"filter": {"field": "label", "equal": "below"}}]
    assert len(values) == 12 and "tooltip" in bubbles["encoding"]  # hover shows all
    # The largest bubble 44 pixels across, the smallest (no marginal effect) 10.
    areas = {r["tag"]: r["area"] for r in values}
    assert (areas["tag 11"], areas["tag 0"]) == (44.0**2, 10.0**2)


@pytest.mark.parametrize(
    ("name", "frame"),
    [
        ("marginal_effect_bars", _priority_table().iloc[:0]),
        ("gap_share_bubbles", _priority_table().iloc[:0]),
        ("error_share_bars", _shares().iloc[:0]),
    ],
)
def test_empty_inputs_draw_an_empty_chart(name, frame):
    spec = getattr(_charts, name)(frame)
    assert spec["data"]["values"] == [{"text": "Nothing to chart yet"}]
    assert spec["mark"]["type"] == "text"


def test_an_empty_plotly_chart_says_so():
    fig = _charts.slice_accuracy(pd.DataFrame(columns=["slice", "examples", "accuracy"]))
    assert fig.layout.annotations[0].text == "Nothing to chart yet"


def test_priorities_page_escapes_tag_names(app, project_file):
    with open_project(project_file) as project:
        project.dataset(DATASET).record_review("s08", reviewer="ben", tags=[EVIL])
        project.dataset(DATASET).record_review("s01", reviewer="ben", tags=[EVIL, "car noise"])
    page = open_page(app, "priorities")
    no_errors(page)
    plotly, shown = [], []
    for tab in ("Ranking", "Where the errors are", "Tag overlap"):
        open_tab(page, "priorities", tab)
        no_errors(page)
        plotly += [chart.proto.spec for chart in page.get("plotly_chart")]
        shown += [rows for _, rows in vega_charts(page).values()]
    # The overlap heatmap (Plotly) escapes them; the Vega-Lite charts draw them as text.
    assert len(plotly) == 1 and len(shown) == 3
    assert not any("<a href" in s or "\\u003ca href" in s for s in plotly)
    assert any("&lt;a href" in s for s in plotly)
    names = {name for rows in shown for name in rows["tag"]}
    assert EVIL in names and ESCAPED not in names


def _edited(frame: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    changed = frame.copy()
    changed.loc[changed.index[row], column] = value
    return changed


BIG = pd.DataFrame({"tag": [f"t{i}" for i in range(60_000)], "share": 0.5})


@pytest.mark.parametrize(
    ("frame", "other"),
    [
        (_priority_table(), _edited(_priority_table(), 1, "share", 0.11)),
        (_priority_table(), _edited(_priority_table(), 0, "tag", "car noise 2")),
        (_priority_table(), _priority_table().rename(columns={"gap": "gap2"})),
        (_priority_table(), _priority_table().set_axis([5, 6])),
        (_priority_table(), _priority_table().astype({"share": "float32"})),
        # Past Streamlit's own hash, which samples 10,000 of 50,000 rows or more.
        (BIG, _edited(BIG, 59_123, "share", 0.25)),
    ],
)
def test_frame_digest_tells_every_change(frame, other):
    assert _ui.frame_digest(frame) == _ui.frame_digest(frame.copy())
    assert _ui.frame_digest(frame) != _ui.frame_digest(other)


def test_a_chart_is_built_once_per_distinct_table(monkeypatch):
    built = []
    real = _charts.marginal_effect_bars

    def counting(table, **options):
        built.append(len(table))
        return real(table, **options)

    monkeypatch.setattr(_charts, "marginal_effect_bars", counting)
    _ui._chart.clear()
    table = _priority_table()
    first = _ui.chart("marginal_effect_bars", table)
    assert _ui.chart("marginal_effect_bars", table.copy()) is first  # the same content
    assert built == [2]
    changed = _ui.chart("marginal_effect_bars", _edited(table, 0, "marginal_effect", 0.07))
    assert changed is not first and built == [2, 2]
    assert changed["data"]["values"][0]["marginal_effect"] == 0.07
    assert _ui.chart("marginal_effect_bars", table, top=1) is not first  # other options
    assert built == [2, 2, 2]
