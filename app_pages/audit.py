"""Audit: performance per slice (tag or metadata value), the confusion matrix, baselines."""

from __future__ import annotations

import streamlit as st

from app_pages import _charts, _ui

_ui.start_page()

st.title("Audit")
info = _ui.require_run()
_ui.flash()
data = _ui.run_data(info)
st.caption(
    "Accuracy alone hides where a model fails. Slices flagged here are significantly worse "
    "than the rest of the data (one-sided Fisher test, Holm-adjusted)."
)

left, right = st.columns(2)
by = left.selectbox(
    "Slice by",
    ["tags", *info.metadata_columns],
    key="au_by",
    format_func=lambda c: "tags (one slice per tag)" if c == "tags" else f"metadata: {c}",
)
positive = right.selectbox(
    "Positive class for precision / recall / F1",
    [None, *data.classes],
    key="au_positive",
    format_func=lambda c: "macro average over classes" if c is None else str(c),
)

slices = _ui.analysis("slice_table", info, by=by, positive=positive)
flagged = int(slices["flagged"].sum()) if "flagged" in slices else 0
if flagged:
    st.warning(f"{flagged} slice{'s' if flagged > 1 else ''} significantly worse than the rest.")
_ui.show_table(
    slices,
    name=f"slices-{by}",
    run=info,
    kind="slices",
    hide_index=True,
    width="stretch",
    column_config=_charts.SLICE_COLUMNS,
)
_charts.show(_ui.chart("slice_accuracy", slices), key="au_slice_chart")

left, right = st.columns([3, 2])
with left:
    st.subheader("Confusion matrix", anchor=False)
    tags = _ui.analysis("tag_overview", info)
    tag = st.selectbox(
        "Examples",
        [None, *tags.loc[tags["examples"] > 0, "tag"]],
        key="au_confusion_tag",
        format_func=lambda t: "all examples" if t is None else f"tagged {t}",
    )
    matrix = _ui.analysis("confusion", info, tag=tag)
    _charts.show(
        _ui.chart("heatmap", matrix, title="", x="prediction", y="label", value="examples"),
        key="au_confusion_chart",
    )
    _ui.table_downloads(
        matrix,
        name="confusion" if tag is None else f"confusion-{tag}",
        run=info,
        kind="confusion",
        index=True,
        where=st.container(horizontal=True),
    )
with right:
    st.subheader("Baselines", anchor=False)
    _ui.show_table(
        _ui.analysis("dataset_summary", info)["baselines"],
        name="baselines",
        run=info,
        kind="baselines",
        hide_index=True,
        width="stretch",
        column_config={"accuracy": _charts.percent("accuracy")},
    )
