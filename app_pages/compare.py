"""Compare: two runs of a dataset per tag. Did the next model fix the tags it was meant to
fix, and did anything get worse?"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_pages import _charts, _ui
from erroranalysis import compare

_ui.start_page()

# The comparison's columns, its interval's bounds shown as one text and the detail left out.
HIDDEN = {"difference_high", "p_value", "test", "only_a_correct", "only_b_correct"}
SHOWN = [
    "interval" if column == "difference_low" else column
    for column in compare.COMPARE_COLUMNS
    if column not in HIDDEN
]
COLUMNS = {
    "examples": st.column_config.NumberColumn("examples", format="localized"),
    "accuracy_a": _charts.percent("accuracy in A"),
    "accuracy_b": _charts.percent("accuracy in B"),
    "difference": _charts.percent("B − A", "accuracy in B minus accuracy in A"),
    "interval": st.column_config.TextColumn("95% interval", help="of the difference B − A"),
    "p_adjusted": st.column_config.NumberColumn(
        "p (Holm)", format="%.2g", help="the paired test's p-value, Holm-adjusted across rows"
    ),
    "regression": st.column_config.CheckboxColumn(
        "regressed", help="B significantly worse than A (Holm-adjusted p < 0.05)"
    ),
    "improved": st.column_config.CheckboxColumn(
        "improved", help="B significantly better than A (Holm-adjusted p < 0.05)"
    ),
}


def _names(tags: pd.Series) -> str:
    shown = ", ".join(_ui.md(tag) for tag in tags.head(10))
    return shown + (f" and {len(tags) - 10:,} more" if len(tags) > 10 else "")


st.title("Compare")
info = _ui.require_run()
_ui.flash()
runs = [run.name for run in _ui.dataset_runs(info.dataset)]
if len(runs) < 2:
    st.info(
        f"**{_ui.md(info.dataset)} has one run** ({_ui.md(runs[0])}), so there is nothing to "
        "compare yet. Import the next model's predictions for the same examples as a new run "
        "(Datasets page, another run name), then compare it here tag by tag.",
        icon=":material/compare_arrows:",
    )
    st.page_link(_ui.page_path("datasets"), label="Go to Datasets", icon=":material/database:")
    st.stop()

st.caption(
    "For the whole dataset and every tag: accuracy in run A and in run B on the examples both "
    "runs hold, the difference B − A with its 95% interval, and a paired test (exact McNemar "
    "for dataset and rule tags; design-weighted estimates from the reviews for reviewed "
    "tags). A tag is flagged regressed or improved when the change is significant after "
    "Holm's correction across all rows."
)
reviewed_runs = set(_ui.reviews(info)["run"].dropna())
for key, default in zip(("cmp_a", "cmp_b"), compare.default_runs(runs, reviewed_runs), strict=True):
    if st.session_state.get(key) not in runs:
        st.session_state[key] = default
left, right = st.columns(2)
run_a = left.selectbox(
    "Baseline run (A)", runs, key="cmp_a", help="First the latest run with reviews."
)
run_b = right.selectbox("Compared run (B)", runs, key="cmp_b", help="First the latest other run.")
if run_a == run_b:
    st.warning("Pick two different runs to compare.", icon=":material/compare_arrows:")
    st.stop()

dataset = _ui.project().dataset(info.dataset)
info_a, info_b = dataset.run(run_a), dataset.run(run_b)
try:
    table = _ui.analysis("compare_runs", info_b, baseline=info_a)
except ValueError as err:  # runs that share no example
    st.error(_ui.md(err), icon=":material/block:")
    st.stop()

whole = table.iloc[0]
regressed = table.loc[table["regression"] & (table["kind"] != "all"), "tag"]
improved = table.loc[table["improved"] & (table["kind"] != "all"), "tag"]
a, b, c = st.columns(3)
a.metric(
    f"Accuracy, {_ui.md(run_a)} → {_ui.md(run_b)}",
    f"{whole['accuracy_b']:.1%}",
    delta=f"{whole['difference']:+.1%}",
    help=f"On the {whole['examples']:,} examples both runs hold; {_ui.md(run_a)} had "
    f"{whole['accuracy_a']:.1%}.",
)
b.metric("Tags regressed", f"{len(regressed):,}", help="B significantly worse than A")
c.metric("Tags improved", f"{len(improved):,}", help="B significantly better than A")
if len(regressed):
    st.error(
        f"**Regressed in {_ui.md(run_b)}:** {_names(regressed)}", icon=":material/trending_down:"
    )
if len(improved):
    st.success(
        f"**Improved in {_ui.md(run_b)}:** {_names(improved)}", icon=":material/trending_up:"
    )
if whole["note"]:
    st.caption(_ui.md(whole["note"]))

_charts.show(_ui.chart("difference_bars", table), key="cmp_chart")
_ui.show_table(
    _ui.with_interval(table, column="difference")[SHOWN],
    name=f"compare-{run_a}-{run_b}",
    run=info_b,
    kind="compare",
    export_frame=table,
    hide_index=True,
    width="stretch",
    column_config=COLUMNS,
)
