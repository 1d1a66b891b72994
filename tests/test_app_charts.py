"""The charts: Plotly figures in which text from data is shown literally, never as HTML."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from app_support import DATASET, no_errors, open_page

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
    shares = pd.DataFrame(
        {
            "tag": [EVIL],
            "kind": ["reviewed"],
            "errors": [3],
            "reviewed_errors": [9],
            "share_of_errors": [1 / 3],
            "share_of_errors_low": [0.1],
            "share_of_errors_high": [0.6],
        }
    )
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
        "marginal_effect_bars": _charts.marginal_effect_bars(_priority_table()),
        "gap_share_bubbles": _charts.gap_share_bubbles(_priority_table()),
        "error_share_bars": _charts.error_share_bars(shares),
        "heatmap": _charts.heatmap(matrix, title="Tag overlap", x="with", y="tag", value="n"),
        "slice_accuracy": _charts.slice_accuracy(slices),
        "class_balance": _charts.class_balance(balance, label="class", count="examples"),
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
    fig = _charts.gap_share_bubbles(table)
    labels = [t for trace in fig.data for t in trace.text if t]
    assert sorted(labels) == sorted(names[-_charts.BUBBLE_LABELS :])
    assert len([c for trace in fig.data for c in trace.customdata]) == 12  # hover shows all


def test_empty_inputs_draw_an_empty_chart():
    fig = _charts.marginal_effect_bars(_priority_table().iloc[:0])
    assert fig.layout.annotations[0].text == "Nothing to chart yet"


def test_priorities_page_escapes_tag_names(app, project_file):
    with open_project(project_file) as project:
        project.dataset(DATASET).record_review("s08", reviewer="ben", tags=[EVIL])
        project.dataset(DATASET).record_review("s01", reviewer="ben", tags=[EVIL, "car noise"])
    page = open_page(app, "priorities")
    no_errors(page)
    specs = [chart.proto.spec for chart in page.get("plotly_chart")]
    assert len(specs) == 4
    assert not any("<a href" in s or "\\u003ca href" in s for s in specs)
    assert any("&lt;a href" in s for s in specs)


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
    assert list(changed.data[0].x) == [0.07]
    assert _ui.chart("marginal_effect_bars", table, top=1) is not first  # other options
    assert built == [2, 2, 2]
