"""Priorities: which tag's data to improve next, ranked by marginal effect."""

from __future__ import annotations

import streamlit as st

from app_pages import _charts, _ui
from erroranalysis import priorities

_ui.start_page()

RANK_BY = {"marginal_effect": "Marginal effect", "effort": "Marginal effect per effort"}
SHOWN = [
    "rank",
    "tag",
    "kind",
    "examples",
    "share",
    "accuracy",
    "hlp",
    "hlp_source",
    "gap",
    "marginal_effect",
    "interval",
    "effort",
    "evidence",
    "note",
]
ERROR_SHARE_SHOWN = ["tag", "share_of_errors", "interval", "errors", "reviewed_errors", "kind"]

SECTIONS = ["Ranking", "Where the errors are", "Tag overlap"]
SECTION_KEY = "pr_section"

st.title("Priorities")
info = _ui.require_run(counted=True)
_ui.flash()
st.caption(
    "For each tag: gap = HLP − accuracy, share = fraction of the data with the tag, and "
    "marginal effect = max(gap, 0) × share, the accuracy to gain by bringing that tag to "
    "human level. Reviewed tags are estimated from the reviewed sample (errors and correct "
    "examples), with 95% intervals."
)

by = st.segmented_control(
    "Rank by", list(RANK_BY), format_func=RANK_BY.get, key="pr_by", default="marginal_effect"
)
# A run counted elsewhere (import --engine spark) has its counts here, not its examples: the
# ranking and its charts come from the counts; what needs every example is not shown.
counted = info.counted_by is not None
rank = _ui.counted_analysis if counted else _ui.analysis
table = rank("priority_table", info, by=by or "marginal_effect")
COUNTED_NOTE = (
    f"Run {_ui.md(info.name)} was imported with `--engine {info.counted_by}`: the "
    "ranking comes from its counts and the reviews of its drawn examples. The error "
    "shares, untagged errors and overlaps need every example, which stay where the run "
    "was counted."
)

# Only the open section is computed and drawn: a tab switch reruns the page, so a closed
# section costs nothing after another reviewer's change (its charts and grids were most of
# the page's time in the browser).
ranking, errors, overlaps = st.tabs(SECTIONS, key=SECTION_KEY, on_change="rerun")
if ranking.open:
    with ranking:
        if left_out := priorities.left_out_summary(table.attrs.get("left_out", {})):
            st.caption(_ui.md(left_out))
        # The download holds every column of the ranking (the interval ends too), not just
        # those shown.
        _ui.show_table(
            _ui.with_interval(table)[SHOWN],
            name="priorities",
            run=info,
            kind="priorities",
            export_frame=table,
            hide_index=True,
            width="stretch",
            column_config=_charts.PRIORITY_COLUMNS,
        )
        left, right = st.columns(2)
        _charts.show(_ui.chart("marginal_effect_bars", table), key="pr_effect_chart", where=left)
        _charts.show(_ui.chart("gap_share_bubbles", table), key="pr_bubble_chart", where=right)
        if counted:
            st.info(COUNTED_NOTE, icon=":material/hub:")

if errors.open:
    with errors:
        if counted:
            st.info(COUNTED_NOTE, icon=":material/hub:")
            st.stop()
        shares = _ui.analysis("error_shares", info)
        left, right = st.columns(2)
        _charts.show(_ui.chart("error_share_bars", shares), key="pr_share_chart", where=left)
        with right:
            _ui.show_table(
                _ui.with_interval(shares, column="share_of_errors")[ERROR_SHARE_SHOWN],
                name="error-shares",
                run=info,
                kind="error-shares",
                export_frame=shares,
                hide_index=True,
                column_config=_charts.ERROR_SHARE_COLUMNS,
            )

        untagged = _ui.analysis("untagged_errors", info)
        st.subheader(f"Untagged errors: {len(untagged):,}", anchor=False)
        if len(untagged):
            st.caption("Reviewed errors that carry no tag: a new tag may be waiting in them.")
            _ui.show_table(
                untagged, name="untagged-errors", run=info, kind="untagged", hide_index=True
            )
            if st.button(
                "Review untagged errors", icon=":material/rate_review:", key="pr_untagged"
            ):
                _ui.review_untagged()
                st.switch_page("app_pages/review.py")

if overlaps.open:
    with overlaps:
        if counted:
            st.info(COUNTED_NOTE, icon=":material/hub:")
            st.stop()
        st.caption(
            "Examples carrying both tags, for the tags ranked first, and each tag's exclusive "
            "share: of the examples carrying it, the fraction that carry no other tag. "
            "Overlapping marginal effects do not add up; a low exclusive share means most of a "
            "tag's marginal effect is shared with other tags."
        )
        overlap = _ui.analysis("tag_overlap", info)
        # All pairs of 2,000 tags are 4 million cells (5 MB of chart): the tags ranked first.
        top = _charts.top_overlap(overlap, table["tag"])
        left, right = st.columns([3, 2])
        _charts.show(
            _ui.chart(
                "heatmap",
                top,
                title="",
                x="with",
                y="tag",
                value="examples",
                note=_charts.rest_note(len(top), len(overlap)),
            ),
            key="pr_overlap_chart",
            where=left,
        )
        # Every pair, not only the tags the heatmap draws.
        _ui.table_downloads(
            overlap,
            name="overlap",
            run=info,
            kind="overlap",
            index=True,
            where=left.container(horizontal=True),
        )
        with right:
            _ui.show_table(
                _ui.analysis("exclusive_shares", info),
                name="exclusive-shares",
                run=info,
                kind="exclusive-shares",
                hide_index=True,
                column_config=_charts.EXCLUSIVE_COLUMNS,
            )
