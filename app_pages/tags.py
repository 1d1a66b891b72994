"""Tags: the project's taxonomy with counts and HLP; edit, rename, merge, delete, rule tags."""

from __future__ import annotations

import math

import streamlit as st

from app_pages import _charts, _ui
from erroranalysis.store import StoreError
from erroranalysis.vocabulary import AGREEMENT_THRESHOLD

_ui.start_page()

HLP_SOURCES = {"set": "Set by the team", "measured": "Measured from human labels"}

st.title("Tags")
info = _ui.require_run()
actor = _ui.reviewer()
_ui.flash()

overview = _ui.analysis("tag_overview", info)
_ui.show_table(
    overview,
    name="tags",
    run=info,
    hide_index=True,
    column_config=_charts.TAG_COLUMNS,
    width="stretch",
)
st.caption(
    "Kinds: dataset tags come with the import, reviewed tags from reviewers, rule tags from a "
    "condition on the metadata. HLP is human-level performance: set by the team, or measured "
    "from a second person's labels where the import has them."
)
if actor is None:
    _ui.need_reviewer()
# Defining, renaming, merging and deleting tags is an admin's (the package refuses others).
off = actor is None or not _ui.can("admin", doing="changing tags")


# Every write goes through _ui.act with the values of the click (and opens the project in
# the thread that saves it), so a change the project cannot take yet is kept and saved
# later exactly as asked.
def _save(tag: str) -> None:
    state, who = st.session_state, actor
    measured = state[f"tg_hlp_source:{tag}"] == "measured"
    effort = state.get(f"tg_effort:{tag}")
    rule = state.get(f"tg_rule_edit:{tag}")
    description = state.get(f"tg_description:{tag}", "")
    hlp = None if measured else state.get(f"tg_hlp:{tag}")
    if rule is not None and not _valid_rule(rule):
        return
    _ui.act(
        lambda: _ui.project().define_tag(
            tag,
            actor=who,
            description=description,
            hlp=hlp,
            rule=rule,
            effort=effort if effort else None,
            clear=[*(["hlp"] if measured else []), *([] if effort else ["effort"])],
        ),
        what=f"the definition of {tag!r}",
        done=f"Saved {tag!r}.",
    )


def _valid_rule(text: str) -> bool:
    try:
        _ui.rule_preview(info, text)
    except ValueError as err:
        st.session_state["_flash"] = ("error", f"Not a valid rule: {err}")
        return False
    return True


def _ask(kind: str, tag: str, other: str | None = None) -> None:
    st.session_state["tg_pending"] = (kind, tag, other)


def _select(name: str | None) -> None:
    if name is None:
        st.session_state.pop("tg_tag", None)
    else:
        st.session_state["tg_tag"] = name


def _confirm() -> None:
    kind, tag, other = st.session_state.pop("tg_pending")
    who, project = actor, _ui.project
    # kind -> (the change, what it is, what to say when done, the tag to select after)
    changes = {
        "rename": (
            lambda: project().rename_tag(tag, other, actor=who),
            f"renaming {tag!r} to {other!r}",
            f"Renamed {tag!r} to {other!r}.",
            other,
        ),
        "merge": (
            lambda: project().merge_tags(tag, other, actor=who),
            f"merging {tag!r} into {other!r}",
            f"Merged {tag!r} into {other!r}.",
            other,
        ),
        "delete": (
            lambda: project().delete_tag(tag, actor=who),
            f"deleting {tag!r}",
            f"Deleted {tag!r}.",
            None,
        ),
    }
    change, what, done, selected = changes[kind]
    _ui.act(change, what=what, done=done, then=lambda _: _select(selected))


def _cancel() -> None:
    st.session_state.pop("tg_pending", None)


def _save_rule() -> None:
    state, who = st.session_state, actor
    name, rule = state.get("tg_rule_name", ""), state.get("tg_rule", "").strip()
    description = state.get("tg_rule_description") or None
    if not _valid_rule(rule):
        return
    _ui.act(
        lambda: _ui.project().define_tag(name, actor=who, rule=rule, description=description),
        what=f"the rule tag {name!r}",
        done=f"Saved rule tag {name!r}.",
    )


# ------------------------------------------------------------------ edit one tag
names = overview["tag"].tolist()
if names:
    st.header("Edit a tag", anchor=False)
    tag = st.selectbox("Tag", names, key="tg_tag")
    row = overview.set_index("tag").loc[tag]
    with st.form("tg_edit"):
        st.text_area("Definition", value=row["description"] or "", key=f"tg_description:{tag}")
        if isinstance(row["rule"], str) and row["rule"]:
            st.text_input("Rule", value=row["rule"], key=f"tg_rule_edit:{tag}", max_chars=500)
            if row["rule_problem"]:
                st.error(f"This rule does not work on this dataset: {_ui.md(row['rule_problem'])}")
        left, middle, right = st.columns(3)
        left.radio(
            "HLP",
            list(HLP_SOURCES),
            format_func=HLP_SOURCES.get,
            key=f"tg_hlp_source:{tag}",
            index=0 if row["hlp_source"] == "set" else 1,
        )
        hlp = row["hlp"]
        middle.number_input(
            "HLP (when set by the team)",
            0.0,
            1.0,
            step=0.01,
            format="%.3f",
            key=f"tg_hlp:{tag}",
            value=None if hlp is None or math.isnan(hlp) else float(hlp),
        )
        effort = row["effort"]
        right.number_input(
            "Effort (relative cost of more data)",
            min_value=0.0,
            step=0.5,
            key=f"tg_effort:{tag}",
            value=None if effort is None or math.isnan(effort) else float(effort),
            help="Leave empty for none; priorities can be ranked by marginal effect per effort.",
        )
        st.form_submit_button("Save", type="primary", disabled=off, on_click=_save, args=(tag,))

    rename, merge, delete = st.columns(3)
    with rename:
        new = st.text_input("Rename to", key="tg_new_name", max_chars=100)
        st.button(
            "Rename…",
            disabled=off or not new.strip(),
            on_click=_ask,
            args=("rename", tag, new.strip()),
        )
    with merge:
        others = [n for n in names if n != tag]
        target = st.selectbox("Merge into", others, index=None, key="tg_merge_target")
        st.button(
            "Merge…",
            disabled=off or target is None,
            on_click=_ask,
            args=("merge", tag, target),
        )
    with delete:
        st.text(f"{int(row['examples']):,} examples carry it.")
        st.button("Delete…", disabled=off, on_click=_ask, args=("delete", tag))

    pending = st.session_state.get("tg_pending")
    if pending is not None and not off:
        kind, subject, other = pending
        question = {
            "rename": f"Rename {subject!r} to {other!r} everywhere?",
            "merge": f"Move every {subject!r} tag onto {other!r} and remove {subject!r}?",
            "delete": f"Remove {subject!r} from every example and from the taxonomy?",
        }[kind]
        with st.container(border=True):
            st.warning(
                _ui.md(question) + " The change is recorded in the event log.",
                icon=":material/warning:",
            )
            yes, no = st.columns(2)
            yes.button("Confirm", type="primary", on_click=_confirm, key="tg_confirm")
            no.button("Cancel", on_click=_cancel, key="tg_cancel")


# ------------------------------------------------------------------ datasets and order
def _save_scope(tag: str) -> None:
    who, chosen = actor, list(st.session_state.get(f"tg_scope:{tag}") or [])
    _ui.act(
        lambda: _ui.project().scope_tag(tag, chosen or None, actor=who),
        what=f"the datasets of {tag!r}",
        done=f"{tag!r} belongs to " + (", ".join(map(repr, chosen)) or "the whole project") + ".",
    )


def _move(order: list[str], tag: str, by: int) -> None:
    # The dataset's tags in their new order go first; tags of other datasets keep theirs.
    at = order.index(tag)
    moved = [t for t in order if t != tag]
    moved.insert(max(0, min(len(moved), at + by)), tag)
    who = actor
    _ui.act(
        lambda: _ui.project().order_tags(moved, actor=who),
        what="the order of the tags",
        done=f"Moved {tag!r} {'up' if by < 0 else 'down'}.",
    )


admin = not off
order = _ui.reviewed_tag_names(info)
if names or order:
    st.header("Datasets and shortcut order", anchor=False)
    st.caption(
        "A tag belongs to the whole project, or to the datasets chosen for it: Review offers "
        "it, and the tables count it, on those datasets only. Review's keys 1–9 follow the "
        "order set here (by an admin)."
    )
if names:
    scopes = _ui.tag_definitions().set_index("tag")["datasets"]
    scope, save = st.columns([3, 1], vertical_alignment="bottom")
    from_data = row["kind"] == "dataset"
    scope.multiselect(
        f"Datasets of {_ui.md(tag)}",
        _ui.dataset_names(),
        default=list(scopes.get(tag, ())),
        key=f"tg_scope:{tag}",
        placeholder="the whole project",
        disabled=not admin or from_data,
        help="A tag that comes with the data belongs to its dataset already."
        if from_data
        else "Leave empty for the whole project.",
    )
    save.button(
        "Save datasets",
        key="tg_scope_save",
        disabled=not admin or from_data,
        on_click=_save_scope,
        args=(tag,),
    )
if order:
    keys = st.container(horizontal=True, vertical_alignment="bottom")
    moving = keys.selectbox(
        f"Shortcut order on {_ui.md(info.dataset)}",
        order,
        key="tg_order_tag",
        format_func=lambda t: f"{order.index(t) + 1} · {t}" if order.index(t) < 9 else t,
    )
    keys.button(
        "Move up",
        icon=":material/arrow_upward:",
        key="tg_order_up",
        disabled=not admin or order.index(moving) == 0,
        on_click=_move,
        args=(order, moving, -1),
    )
    keys.button(
        "Move down",
        icon=":material/arrow_downward:",
        key="tg_order_down",
        disabled=not admin or order.index(moving) == len(order) - 1,
        on_click=_move,
        args=(order, moving, 1),
    )
    st.caption(
        "Keys on Review: "
        + " · ".join(f"{i} {_ui.md(t)}" for i, t in enumerate(order[:9], start=1))
    )

# ------------------------------------------------------------------ rule tags
st.header("Rule tag", anchor=False)
st.caption(
    "A tag that holds wherever a condition on the metadata holds, e.g. `snr_db < 10` or "
    "`noise in ['car', 'people'] and snr_db < 15`. Columns: "
    + (_ui.md(", ".join(info.metadata_columns)) or "none in this run")
    + ". Put names that are not plain words in backticks."
)
rule = st.text_input("Condition", key="tg_rule", max_chars=500, placeholder="snr_db < 10")
if rule.strip():
    try:
        matched, errors = _ui.rule_preview(info, rule)
    except ValueError as err:
        st.error(f"Not a valid rule: {_ui.md(err)}")
        matched = None
    else:
        st.info(
            f"Matches {matched:,} examples, {errors:,} of them errors.",
            icon=":material/filter_alt:",
        )
    with st.form("tg_rule_form", border=False):
        left, right = st.columns(2)
        left.text_input("Tag name", key="tg_rule_name", max_chars=100)
        right.text_input("Definition (optional)", key="tg_rule_description")
        st.form_submit_button("Save rule tag", disabled=off or matched is None, on_click=_save_rule)


# ------------------------------------------------------------------ agreement
def _agreement_table(table, name: str, columns: dict) -> None:
    _ui.show_table(
        table,
        name=name,
        run=info,
        kind="agreement",
        hide_index=True,
        column_config=columns,
        width="stretch",
    )


st.header("Agreement", anchor=False)
st.caption(
    "Do reviewers who look at the same examples give them the same tags? Kappa per tag, over "
    "the examples two or more reviewers decided without seeing each other's tags (blind "
    "reviews, imported sheets, first reviews): 1 is perfect agreement, 0 no better than "
    "chance. The 95% interval is a bootstrap over the examples."
)
threshold = st.number_input(
    "Flag tags with kappa below",
    min_value=-1.0,
    max_value=1.0,
    value=AGREEMENT_THRESHOLD,
    step=0.05,
    key="tg_agreement_threshold",
    help="A flagged tag's definition is read differently by different reviewers.",
)
agreement = _ui.analysis("tag_agreement", info, threshold=threshold)
if agreement.empty:
    st.info("No reviewer has tagged an example of this dataset yet.", icon=":material/group:")
else:
    flagged = agreement["tag"][agreement["flagged"]].tolist()
    if flagged:
        st.warning(
            f"Applied inconsistently (kappa below {threshold:g}): "
            + ", ".join(_ui.md(tag) for tag in flagged),
            icon=":material/warning:",
        )
    _agreement_table(agreement, "agreement", _charts.AGREEMENT_COLUMNS)
    st.subheader("Per reviewer", anchor=False)
    st.caption(
        "Each reviewer against the others on the examples they share: every tag and every "
        "other reviewer on an example is one pair of decisions, kappa is Cohen's over them."
    )
    _agreement_table(
        _ui.analysis("reviewer_agreement", info, threshold=threshold),
        "reviewer-agreement",
        _charts.REVIEWER_AGREEMENT_COLUMNS,
    )

# ------------------------------------------------------------------ the log
with st.expander("Recent changes (event log)"):
    try:
        log = _ui.recent_actions(info)
    except StoreError as err:
        st.error(_ui.md(err))
    else:
        # The page shows the newest changes; the downloads hold the whole log.
        _ui.show_table(
            log,
            name="event-log",
            run=info,
            kind="log",
            export_frame=_ui.run_export(info, "log"),
            hide_index=True,
            width="stretch",
        )
        st.page_link(
            _ui.page_path("log"),
            label="The whole log, with filters and Undo",
            icon=_ui.PAGES["log"][1],
        )
