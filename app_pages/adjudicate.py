"""Adjudicate: where the reviewers of an example disagree on a tag, decide it.

One row per (example, tag) that some of the example's reviewers gave and some did not,
with who gave it and who did not. Choosing a row and Present or Absent records an
adjudication; under the dataset's ``adjudicated`` rule the example's tags follow it. The
author's Undo takes it back.
"""

from __future__ import annotations

import streamlit as st

from app_pages import _ui

_ui.start_page()

RULE_NAMES = {
    "any": "a tag any reviewer gave",
    "majority": "the tags more than half of the reviewers gave",
    "adjudicated": "the adjudications below, else the first reviewer's tags",
}
VERDICTS = {True: "present", False: "absent", None: ""}
TABLE = "adjudications"

st.title("Adjudicate")
info = _ui.require_run()
actor = _ui.need_reviewer()
plan = _ui.project().dataset(info.dataset).review_plan()
if plan is None:
    st.caption(
        "No plan of second reviews is set for this dataset: each example keeps the tags its "
        "reviewers left it with. An admin sets one in the Review page's sidebar."
    )
else:
    st.caption(
        f"Rule of this dataset: an example with two or more reviewers carries "
        f"{RULE_NAMES[plan.rule]}."
    )

table = _ui.disagreements(info)
if table.empty:
    st.info("No disagreements: every example seen by two or more reviewers has the same tags.")
    st.stop()

shown = table.assign(
    given_by=[", ".join(r) for r in table["given_by"]],
    not_given_by=[", ".join(r) for r in table["not_given_by"]],
    adjudicated=[VERDICTS[v] for v in table["adjudicated"]],
)
st.caption(f"{len(table):,} disagreements. Choose one, then decide it.")
event = _ui.show_table(
    shown,
    name=TABLE,
    run=info,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="adj_table",
)
rows = event.selection.rows if event is not None else []


def _decide(example_id: str, tag: str, present: bool, actor: str) -> None:
    dataset = info.dataset
    _ui.act(
        lambda: _ui.project().dataset(dataset).adjudicate(example_id, tag, present, actor=actor),
        what=f"the adjudication of {tag!r} on {example_id}",
        done=f"{tag!r} on {example_id}: {VERDICTS[present]}.",
    )


def _undo(actor: str) -> None:
    dataset = info.dataset
    _ui.act(lambda: _ui.project().dataset(dataset).undo(actor=actor), what="undo", then=_undone)


def _undone(undone: object) -> None:
    # None: nothing of this reviewer's is left to undo in the dataset.
    if isinstance(undone, dict):
        st.session_state["_flash"] = ("success", f"Undid your last {undone['kind']}.")
    else:
        st.session_state["_flash"] = ("error", "Nothing of yours left to undo in this dataset.")


_ui.flash()
bar = st.container(horizontal=True, vertical_alignment="center")
chosen = _ui.table_page(table, name=TABLE).iloc[rows[0]] if rows else None
allowed = actor is not None and _ui.can("reviewer", doing="adjudicating")
for text, present, icon in (
    ("Present", True, ":material/check:"),
    ("Absent", False, ":material/close:"),
):
    bar.button(
        text,
        icon=icon,
        key=f"adj_{text.lower()}",
        disabled=chosen is None or not allowed,
        on_click=_decide,
        args=(None, None, present, actor)
        if chosen is None
        else (str(chosen["example_id"]), str(chosen["tag"]), present, actor),
    )
bar.button(
    "Undo",
    icon=":material/undo:",
    key="adj_undo",
    disabled=actor is None,
    on_click=_undo,
    args=(actor,),
)
if chosen is not None:
    bar.caption(f"Deciding {_ui.md(chosen['tag'])} on example {_ui.md(chosen['example_id'])}")
    bar.page_link(
        _ui.page_path("review"),
        label="Open it in Review",
        icon=_ui.PAGES["review"][1],
        query_params={"dataset": info.dataset, "example": str(chosen["example_id"])},
    )
