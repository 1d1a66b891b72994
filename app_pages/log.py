"""Log: every action of the project, newest first, filtered by who, kind, when and
dataset, paged through all of it, with an Undo beside each action the reader may take
back (their own; anyone's for an admin) and the filtered log as a formula-safe download."""

from __future__ import annotations

import math

import streamlit as st

from app_pages import _ui
from erroranalysis.store import StoreError
from erroranalysis.store.log import ACTION_KINDS, LOG_PAGE

PAGE_SIZES = (25, LOG_PAGE, 100, 200)

_ui.start_page()
st.title("Log")
_ui.flash()
st.caption(
    "Every change anyone made, newest first. Undo takes back one action exactly, whatever "
    "came after it; a change to a tag that a later change depends on says which one to "
    "undo first."
)
actor = _ui.reviewer()

# ------------------------------------------------------------------ filters
who_box, kind_box, dataset_box = st.columns([2, 3, 2])
who = who_box.text_input("Who", key="lg_who", max_chars=100, placeholder="everyone")
kinds = kind_box.multiselect(
    "Kind",
    ACTION_KINDS,
    key="lg_kinds",
    format_func=lambda k: k.replace("_", " "),
    placeholder="every kind",
)
dataset = dataset_box.selectbox(
    "Dataset",
    [None, *_ui.dataset_names()],
    key="lg_dataset",
    format_func=lambda d: "every dataset" if d is None else d,
    help="A dataset's actions, and the project's own (tags, roles).",
)
since_box, until_box, size_box = st.columns([2, 2, 1])
since = since_box.date_input("From", value=None, key="lg_since", format="YYYY-MM-DD")
until = until_box.date_input("To", value=None, key="lg_until", format="YYYY-MM-DD")
size = size_box.selectbox("Per page", PAGE_SIZES, index=1, key="lg_size")
filters = {
    "who": who.strip() or None,
    "kinds": tuple(kinds) or None,
    "since": since,
    "until": until,
    "dataset": dataset,
}
number = max(int(st.session_state.get("lg_page") or 1), 1)
try:
    page = _ui.log_page(**filters, offset=(number - 1) * size, limit=size)
except StoreError as err:
    st.error(_ui.md(err), icon=":material/error:")
    st.stop()
pages = max(1, math.ceil(page.total / size))
if number > pages:  # the filters left fewer pages than the one asked for
    st.session_state["lg_page"] = number = pages
    page = _ui.log_page(**filters, offset=(number - 1) * size, limit=size)


# ------------------------------------------------------------------ one page
def _undo(action: int, what: str, actor: str) -> None:
    _ui.act(
        lambda: _ui.project().undo(action=action, actor=actor),
        what=f"the undo of action #{action}",
        done=f"Undid the {what}.",
    )


bar = st.container(horizontal=True, vertical_alignment="center", gap="small")
bar.caption(
    f"Actions {page.first:,}–{page.last:,} of {page.total:,}"
    if page.total
    else "No action matches these filters.",
    width="content",
)
if pages > 1:
    bar.number_input(
        "Page",
        min_value=1,
        max_value=pages,
        step=1,
        key="lg_page",
        width=120,
        label_visibility="collapsed",
        help=f"{size} actions per page",
    )
    bar.caption(f"of {pages:,} pages", width="content")
_ui.table_downloads(
    _ui.project_export("log", **filters),
    name="log",
    kind="log",
    formats=_ui.sheet_formats(page.total),
    label="Download",
    where=bar,
)
if actor is None:
    st.info("Enter your name in the sidebar to undo your actions from here.")

WIDTHS = [0.7, 2.0, 1.3, 1.8, 5.0, 1.2]
if len(page.rows):
    for column, title in zip(
        st.columns(WIDTHS), ("Action", "When (UTC)", "Who", "Dataset", "What", ""), strict=True
    ):
        column.caption(title)
for row in page.rows.itertuples():
    number, when, who_cell, where, what, undo = st.columns(WIDTHS, vertical_alignment="center")
    number.text(f"#{row.id}")
    when.text(row.at[:16].replace("T", " "))
    who_cell.text(row.actor)
    where.text(row.dataset if isinstance(row.dataset, str) else "project")
    what.text(row.what)
    if row.undone:
        undo.caption(f"undone by #{row.undone_by}")
    elif row.undoable and _ui.may_undo(actor, row.actor):
        undo.button(
            "Undo",
            key=f"lg_undo_{row.id}",
            icon=":material/undo:",
            on_click=_undo,
            args=(int(row.id), row.what, actor),
        )
