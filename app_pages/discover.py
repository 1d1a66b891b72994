"""Discover: the slices of the metadata and tags where the model fails, to adopt as rule tags."""

from __future__ import annotations

import streamlit as st

from app_pages import _ui
from erroranalysis import discover

_ui.start_page()

TOP = 20
COLUMNS = {
    "rank": st.column_config.NumberColumn("Rank", width="small"),
    "slice": st.column_config.TextColumn("Slice", width="large"),
    "level": st.column_config.NumberColumn("Predicates", help="Conditions joined by and"),
    "examples": st.column_config.NumberColumn("Examples", format="%d"),
    "share": st.column_config.NumberColumn("Share", format="percent"),
    "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
    "error_rate_elsewhere": st.column_config.NumberColumn("Error rate elsewhere", format="percent"),
    "score": st.column_config.NumberColumn("Score", format="%.3f"),
    "p_adjusted": st.column_config.NumberColumn(
        "Adjusted p", format="%.2g", help="Benjamini–Hochberg adjusted p-value"
    ),
    "significant": st.column_config.CheckboxColumn("Significant", help="Adjusted p ≤ 0.05"),
}
SHOWN = list(COLUMNS)  # the table's columns, in this order

st.title("Discover")
info = _ui.require_run()
actor = _ui.reviewer()
_ui.flash()
st.caption(
    "Combinations of metadata values (numbers cut into quantile bins) and dataset or rule tags "
    "where the model does worst, ranked by SliceLine's score: α weighs how much worse a slice "
    "is against how big it is. Each slice's error rate is tested against the rest of the data "
    "(one-sided Fisher exact test), with a Benjamini–Hochberg correction (false discovery rate "
    "5%) over every slice the search could test: each combination of up to the chosen number "
    "of conditions on distinct columns, each condition holding for at least the smallest "
    "slice. Reviewed tags are left out: they are known only on the reviewed examples."
)

left, middle, right = st.columns(3)
alpha = left.slider(
    "α: error rate against size",
    min_value=0.05,
    max_value=1.0,
    value=0.95,
    step=0.01,
    key="dc_alpha",
    help="1 ranks by error rate alone; lower values favour bigger slices.",
)
max_level = middle.number_input(
    "Most conditions per slice",
    min_value=1,
    max_value=discover.MAX_LEVEL,
    value=3,
    step=1,
    key="dc_level",
)
min_support = right.number_input(
    "Smallest slice (share of the examples)",
    min_value=0.001,
    max_value=0.5,
    value=0.01,
    step=0.005,
    format="%.3f",
    key="dc_support",
)

table = _ui.analysis(
    "discover_slices",
    info,
    alpha=float(alpha),
    max_level=int(max_level),
    min_support=float(min_support),
    top=TOP,
)
if table.empty:
    st.info("No slice is worse than the rest of the data at these settings.")
    st.stop()
_ui.show_table(
    table[SHOWN],
    name="discovered-slices",
    run=info,
    export_frame=table,
    hide_index=True,
    width="stretch",
    column_config=COLUMNS,
)


# ------------------------------------------------------------------ adopt a slice
def _adopt(rule: str, name: str, description: str) -> None:
    who, frame = actor, _ui.run_data(info).frame
    _ui.act(
        lambda: discover.adopt_slice(
            _ui.project(),
            rule=rule,
            name=name,
            actor=who,
            examples=frame,
            description=description,
        ),
        what=f"the rule tag {name!r}",
        done=f"Adopted {name!r} as a rule tag: Priorities ranks it now.",
    )


st.header("Adopt as rule tag", anchor=False)
by_rank = table.set_index("rank")
rank = st.selectbox(
    "Slice",
    by_rank.index.tolist(),
    format_func=lambda r: f"{r}. {by_rank.loc[r, 'slice']}",
    key="dc_rank",
)
row = by_rank.loc[rank]
st.code(row["rule"], language=None)
name = st.text_input(
    "Tag name", value=discover.suggested_name(row), key=f"dc_name:{rank}", max_chars=100
)
description = (
    f"Found by Discover on run {info.name!r}: error rate {row['error_rate']:.1%} against "
    f"{row['error_rate_elsewhere']:.1%} elsewhere, {row['examples']:,} examples"
)
_ui.tag_button(
    "Adopt as rule tag",
    name,
    role="admin",  # a rule tag is a tag definition
    on_click=_adopt,
    args=(row["rule"], name.strip(), description),
    key="dc_adopt",
)
if actor is None:
    _ui.need_reviewer()
st.page_link(_ui.page_path("priorities"), label="See Priorities", icon=":material/leaderboard:")
