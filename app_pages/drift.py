"""Drift: has production moved toward the tags where the model is weak?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _charts, _ui

_ui.start_page()

BY_TAGS = "(tags)"
SHOWN = [
    "tag",
    "kind",
    "value",
    "examples_dev",
    "examples_against",
    "share_dev",
    "share_against",
    "interval",
    "shift",
    "p_adjusted",
    "drifted",
    "accuracy_dev",
    "hlp",
    "marginal_effect_dev",
    "marginal_effect_against",
    "projected_accuracy",
    "note",
]

st.title("Drift")
_ui.flash()
st.caption(
    "A production sample (the model's predictions on new data, without labels) against a "
    "labelled dataset: each dataset or rule tag's share in both with 95% intervals and a "
    "two-sided Fisher test (Holm-adjusted over the rows), and the accuracy production can "
    "expect: the dev accuracies reweighted by production's shares. The projection holds "
    "when the tags mean the same in both and the model's accuracy within a tag does not "
    "change."
)

chosen = _ui.require_run(labelled=False)
runs = _ui.all_runs()
production = list(dict.fromkeys(r.dataset for r in runs if r.production))
labelled = list(dict.fromkeys(r.dataset for r in runs if not r.production))
if not production or not labelled:
    missing = "production sample" if not production else "labelled dataset"
    st.info(
        f"Drift needs a labelled dataset and a production sample; this project has no "
        f"{missing} yet. Import a production sample with "
        "`erroranalysis import FILE --dataset prod --production` (predictions, confidence "
        "and metadata; no label column)."
    )
    st.stop()

left, middle, right = st.columns(3)
dev_name = left.selectbox(
    "Labelled dataset",
    labelled,
    index=labelled.index(chosen.dataset) if chosen.dataset in labelled else 0,
    key="dr_dev",
)
against_name = middle.selectbox(
    "Production sample",
    production,
    index=production.index(chosen.dataset) if chosen.dataset in production else 0,
    key="dr_against",
)
# The run picked in the sidebar where it is one of the two datasets, else the latest.
dev = chosen if chosen.dataset == dev_name else _ui.project().dataset(dev_name).run()
against = chosen if chosen.dataset == against_name else _ui.project().dataset(against_name).run()
shared = [c for c in dev.metadata_columns if c in against.metadata_columns]
by = right.selectbox(
    "Compare by",
    [BY_TAGS, *shared],
    key="dr_by",
    format_func=lambda c: "dataset and rule tags" if c == BY_TAGS else f"column: {c}",
    help="A column's values partition the data: the projected accuracy is then the "
    "dataset's, over those values.",
)

try:
    table = _ui.analysis("drift_table", dev, against=against, by=None if by == BY_TAGS else by)
except ValueError as err:  # the analysis names the problem (a rule, a column)
    st.error(_ui.md(err), icon=":material/error:")
    st.stop()

if table.empty:
    st.info(
        "No dataset or rule tag is known on both datasets. Define a rule tag on the Tags "
        "page (such as `bandwidth_khz < 4`), or compare by a column."
    )
    st.stop()

drifted = int(table["drifted"].sum())
a, b, c = st.columns(3)
a.metric("Rows compared", f"{len(table):,}")
b.metric("Drifted", f"{drifted:,}", help="Holm-adjusted p below 5%")
if by != BY_TAGS:
    projected = table.iloc[0]
    low, high = projected["projected_accuracy_low"], projected["projected_accuracy_high"]
    c.metric(
        "Projected accuracy in production",
        "unknown"
        if pd.isna(projected["projected_accuracy"])
        else f"{projected['projected_accuracy']:.1%}",
        help=f"95% interval {low:.1%}–{high:.1%}; dev accuracy {dev.accuracy:.1%}",
    )
else:
    c.metric("Accuracy in dev", f"{dev.accuracy:.1%}")

shown = _ui.with_interval(table, column="share_against")
_ui.show_table(
    shown[[column for column in SHOWN if column in shown.columns]],
    name=f"drift-{against.dataset}",
    run=dev,
    export_frame=table,
    hide_index=True,
    width="stretch",
    column_config=_charts.DRIFT_COLUMNS,
)
_charts.show(_ui.chart("drift_shares", table), key="dr_share_chart")
