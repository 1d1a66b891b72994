"""Review: walk the queue of errors (and a sample of correct examples) and tag each one.

The queue is a sample drawn by one of three strategies (stratified, confidence bands,
active batches); the page says which is on and what the next reviews buy: the target
tag's marginal-effect interval width now and the width expected after them. The sample is
recorded with the first review made from the queue, so opening the page writes nothing.
A run counted elsewhere (``import --engine spark``) holds only the examples drawn for
review where it was counted: its queue is that sample, recorded at the import.

Every click is written to the project file at once. The example panel is a fragment, so a
tag toggle or Next reruns only the panel, not the queue settings.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from app_pages import _charts, _ui
from erroranalysis import review, sampling
from erroranalysis.store import RunInfo
from erroranalysis.vocabulary import SECOND_REVIEW_RULES, STRATUM_SECOND

_ui.start_page()

SHORTCUTS = "← previous · → next · M mark reviewed · U undo · 1–9 toggle the first nine tags"
# Tags offered as buttons; the others (a project may have thousands) through a search box.
TAG_BUTTONS = 30
STRATEGY_NAMES = {
    "stratified": "Stratified",
    "confidence": "Confidence bands",
    "active": "Active",
}
STRATEGY_HELP = (
    "**Stratified**: every error and a random share of correct examples. "
    "**Confidence bands**: a sample from every band of confidence, errors and correct "
    "examples apart, the least confident bands drawn most densely. "
    "**Active**: batches that favour the examples most likely to narrow the widest "
    "interval among the top-ranked tags. Every review is weighted by its chance of being "
    "drawn, so the estimates stay unbiased whichever strategy chose it."
)
DEFAULT_SIZE = 50
MAX_SIZE = 10_000
ACTIVE_KEY = "rv_active_batch"  # the active batch drawn last: (settings, draw)
BLIND_HELP = (
    "Examples drawn for a second review that someone else has reviewed and you have not, "
    "shown without their tags, corrected labels or notes. Your tags are kept with your "
    "review only; the example's tags follow the dataset's rule."
)
RULE_HELP = (
    "How the tags of an example with two or more reviewers are decided: **any**, a tag any "
    "reviewer gave; **majority**, a tag more than half of them gave; **adjudicated**, the "
    "adjudicator's decision where there is one, else the first reviewer's tags."
)
# A blind review's own inputs, per example, apart from the open review's.
BLIND_TAGS = "rv_blind_tags:{}"

COUNTED_QUEUE = (
    "**{n:,} examples drawn for review** where this run was counted (`--engine {engine}`): "
    "every error and correct prediction of the run's {total:,} examples had a recorded "
    "chance of being drawn, so Priorities weighs each review by it. The project file "
    "holds these examples only: the queue is this sample, with no strategy or filter."
)

st.title("Review")
info = _ui.require_run(counted=True)
# A run counted elsewhere: its drawn examples are its frame here, and its queue is their
# sample as the import recorded it.
counted = info.counted_by is not None
data = _ui.run_data(info)
has_confidence = "confidence" in data.frame.columns

for key, default in _ui.REVIEW_DEFAULTS.items():
    st.session_state.setdefault(key, default)
st.session_state.setdefault("rv_queue_rev", _ui.revision())
# Sessions of earlier versions hold a queue order ("random", "lowest_confidence"): each
# became a strategy. The size is no widget default, so it is kept across pages by hand.
try:
    st.session_state["rv_order"] = review.queue_strategy(st.session_state["rv_order"])
except ValueError:
    st.session_state["rv_order"] = "stratified"
strategies = [s for s in STRATEGY_NAMES if s != "confidence" or has_confidence]
if st.session_state["rv_order"] not in strategies:
    st.session_state["rv_order"] = "stratified"
# At most the run's size: a size kept from a larger dataset shrinks to fit this one.
largest = max(1, min(MAX_SIZE, len(data.frame)))
# The size widget is not one of the settings every page keeps (_ui.REVIEW_DEFAULTS), so
# the page keeps its value itself, and sets the widget from it on every run.
kept = min(int(st.session_state.get("rv_size_kept", DEFAULT_SIZE)), largest)
st.session_state["rv_size"] = st.session_state["rv_size_kept"] = kept


def _queue_changed() -> None:
    # The tag filter is read at this revision until the reviewer changes the filters again:
    # tagging an example must not pull it out from under the reviewer.
    st.session_state["rv_queue_rev"] = _ui.revision()


def _size_changed() -> None:
    st.session_state["rv_size_kept"] = st.session_state["rv_size"]
    _queue_changed()


def _next_batch() -> None:
    st.session_state.pop(ACTIVE_KEY, None)


def _save_plan(plan: object, actor: str) -> None:
    state = st.session_state
    dataset = info.dataset
    share = float(state["rv_plan_share"]) / 100
    reviewers = int(state["rv_plan_reviewers"])
    rule = state["rv_plan_rule"]
    # The seed stays: changing the share or the rule does not draw other examples.
    seed = None if plan is None else plan.seed
    _ui.act(
        lambda: (
            _ui.project()
            .dataset(dataset)
            .set_review_plan(share=share, reviewers=reviewers, rule=rule, seed=seed, actor=actor)
        ),
        what="the plan of second reviews",
        done="The plan of second reviews is saved.",
    )


# ------------------------------------------------------------------ queue settings
def queue_filters() -> review.ReviewFilters:
    """The filters of the queue, from their widgets (in the sidebar's Filters expander)."""
    confidence = None
    values: tuple = ()
    bounds = None
    with st.expander("Filters", expanded=False):
        st.multiselect("True class", data.classes, key="rv_true", on_change=_queue_changed)
        st.multiselect("Predicted class", data.classes, key="rv_pred", on_change=_queue_changed)
        tag_names = sorted({*_ui.reviewed_tag_names(info), *info.dataset_tags})
        st.multiselect("Tag", tag_names, key="rv_tags", on_change=_queue_changed)
        st.checkbox("Untagged examples", key="rv_untagged", on_change=_queue_changed)
        if has_confidence:
            low, high = st.slider(
                "Confidence", 0.0, 1.0, step=0.01, key="rv_confidence", on_change=_queue_changed
            )
            confidence = None if (low, high) == (0.0, 1.0) else (low, high)
        column = st.selectbox(
            "Metadata column",
            [None, *info.metadata_columns],
            key="rv_meta_column",
            format_func=lambda c: "(none)" if c is None else str(c),
            on_change=_queue_changed,
        )
        if column is not None:
            choices = _ui.column_choices(info, column)
            if choices.kind == "range" and choices.low < choices.high:
                chosen = st.slider(
                    f"{_ui.md(column)} between",
                    choices.low,
                    choices.high,
                    value=(choices.low, choices.high),
                    key=f"rv_meta_range:{column}",
                    on_change=_queue_changed,
                )
                bounds = None if chosen == (choices.low, choices.high) else chosen
            elif choices.values:
                values = tuple(
                    st.multiselect(
                        f"{_ui.md(column)} is",
                        choices.values,
                        key=f"rv_meta_values:{column}",
                        on_change=_queue_changed,
                    )
                )
                if choices.truncated:
                    st.caption("Only the 200 most frequent values are offered.")
        st.number_input("Sample seed", min_value=0, step=1, key="rv_seed", on_change=_queue_changed)
    return review.ReviewFilters(
        true_classes=tuple(st.session_state["rv_true"]),
        predicted_classes=tuple(st.session_state["rv_pred"]),
        tags=tuple(st.session_state["rv_tags"]),
        untagged=bool(st.session_state["rv_untagged"]),
        confidence=confidence,
        metadata_column=column if (values or bounds) else None,
        metadata_values=values,
        metadata_range=bounds,
    )


def strategy_widgets() -> None:
    """The strategy of the queue and its settings (in the sidebar's Queue section)."""
    st.radio(
        "Strategy",
        strategies,
        format_func=STRATEGY_NAMES.get,
        key="rv_order",
        on_change=_queue_changed,
        help=STRATEGY_HELP,
    )
    strategy = st.session_state["rv_order"]
    if strategy != "active":
        st.slider(
            "Correct examples in the queue",
            0,
            50,
            step=5,
            format="%d%%",
            key="rv_fraction",
            on_change=_queue_changed,
            help="A random sample of correct predictions is mixed into the queue so that each "
            "tag's share can be estimated honestly, not from errors alone.",
        )
    if strategy != "stratified":
        st.number_input(
            "Sample size" if strategy == "confidence" else "Batch size",
            min_value=1,
            max_value=largest,
            step=10,
            key="rv_size",
            on_change=_size_changed,
        )
    if strategy == "active":
        st.button(
            "Draw the next batch",
            icon=":material/casino:",
            key="rv_next_batch",
            on_click=_next_batch,
            help="Fit the tag model again on every review so far and draw a new batch.",
        )


with st.sidebar:
    st.subheader("Queue")
    if counted:
        st.caption(
            COUNTED_QUEUE.format(
                n=len(data.frame), engine=_ui.md(info.counted_by), total=info.n_examples
            )
        )
    else:
        strategy_widgets()
    st.toggle("Skip reviewed examples", key="rv_skip")
    plan = _ui.project().dataset(info.dataset).review_plan()
    if plan is None:
        st.session_state["rv_blind"] = False
    else:
        st.toggle("Second review (blind)", key="rv_blind", help=BLIND_HELP)
    if _ui.reviewer() is not None and _ui.can("admin"):
        with st.expander("Second reviews", expanded=False):
            with st.form("rv_plan_form", border=False):
                st.number_input(
                    "Share of reviewed examples (%)",
                    0.0,
                    100.0,
                    value=10.0 if plan is None else plan.share * 100,
                    step=1.0,
                    key="rv_plan_share",
                    help="Each reviewed example is drawn for another review with this "
                    "chance, at random (a seeded hash of its id), so agreement is honest.",
                )
                st.number_input(
                    "Reviewers per example",
                    2,
                    10,
                    value=2 if plan is None else plan.reviewers,
                    key="rv_plan_reviewers",
                )
                st.selectbox(
                    "Rule",
                    SECOND_REVIEW_RULES,
                    index=0 if plan is None else SECOND_REVIEW_RULES.index(plan.rule),
                    key="rv_plan_rule",
                    help=RULE_HELP,
                )
                st.form_submit_button(
                    "Save the plan", on_click=_save_plan, args=(plan, _ui.reviewer())
                )
            if plan is not None:
                st.caption(
                    f"Now: {plan.share:.0%} of reviewed examples, {plan.reviewers} reviewers, "
                    f"rule {plan.rule}, seed {plan.seed} (set by {_ui.md(plan.set_by)})."
                )
    # The queue of a counted run is its recorded sample: nothing to filter.
    filters = review.ReviewFilters() if counted else queue_filters()
strategy = st.session_state["rv_order"]

filtered = filters != review.ReviewFilters()
seed = int(st.session_state["rv_seed"])
fraction = st.session_state["rv_fraction"] / 100
size = int(st.session_state["rv_size"])
uses_tags = bool(filters.tags or filters.untagged)
blind = bool(st.session_state["rv_blind"])


# ------------------------------------------------------------------ the sample
def _active_batch(
    filters: review.ReviewFilters, seed: int, size: int
) -> tuple[sampling.Draw, _ui.ReviewQueue]:
    """The active batch of these settings, drawn once at the revision it was asked for and
    kept in the session (a batch must not move under the reviews it is collecting). Its
    seed is the queue's plus that revision, so every batch draws with fresh chances."""
    settings = (_ui.run_key(info), filters, seed, size)
    kept = st.session_state.get(ACTIVE_KEY)
    if kept is not None and kept[0] == settings:
        return kept[1], kept[2]
    rev = _ui.revision()
    evidence = _ui.evidence(info)
    table = _ui.analysis("priority_table", info)
    assigned = _ui.project().dataset(info.dataset).tag_assignments() if uses_tags else None
    with st.spinner("Fitting the tag model and drawing a batch…"):
        draw = sampling.draw_sample(
            evidence,
            size=size,
            strategy="active",
            seed=seed + rev,
            filters=filters,
            table=table,
            tags_by_example=assigned,
            ids=data.ids,
            features=_ui.tag_features(info),
        )
    queue = _ui.queue_of(draw, info)
    st.session_state[ACTIVE_KEY] = (settings, draw, queue)
    return draw, queue


problem = None
try:
    if blind:
        draw, queue = None, _ui.blind_queue(info, _ui.reviewer())
    elif counted:
        draw, queue = _ui.counted_queue(info)
    elif strategy == "active":
        draw, queue = _active_batch(filters, seed, size)
    else:
        draw, queue = _ui.sample_queue(
            info,
            filters,
            strategy=strategy,
            seed=seed,
            size=size,
            fraction=fraction,
            rev=st.session_state["rv_queue_rev"],
        )
except ValueError as err:
    problem = str(err)
    draw = None
    queue = _ui.queue_of(None, info)


def show_strategy() -> None:
    """Which strategy is on and the interval width the next reviews buy."""
    if blind or counted:
        return  # the panel says it (its count changes with each review), or the sidebar
    name = STRATEGY_NAMES[strategy]
    if problem is not None:
        st.warning(f"**{name}**: {_ui.md(problem)}", icon=":material/info:")
        return
    if draw is None:
        return
    reviews = min(len(queue), size)
    settings = (strategy, filters, draw.seed, draw.size, fraction, len(draw.examples))
    outlook, current = _ui.outlook(info, draw, settings=settings, reviews=reviews)
    # Brought up to date in the background after changes: said while it is behind.
    behind = "" if current else " (as before the latest changes)"
    if outlook is None:
        st.caption(
            f"Strategy: **{name}**. What the next reviews buy is being worked out for this "
            "large run; it shows here on a later rerun."
        )
    elif isinstance(outlook, str):
        st.caption(f"Strategy: **{name}**. No interval to narrow yet{behind}: {_ui.md(outlook)}")
    elif outlook.reviews == 0:
        st.caption(
            f"Strategy: **{name}**. Every example of this queue is reviewed: the interval of "
            f"**{_ui.md(outlook.tag)}** is {outlook.width:.3f} wide{behind}. Draw another "
            "sample (a new seed, a larger share, or the next active batch) to narrow it."
        )
    else:
        st.caption(
            f"Strategy: **{name}**, narrowing the widest marginal-effect interval among the "
            f"top tags: **{_ui.md(outlook.tag)}**, {outlook.width:.3f} wide now, about "
            f"{outlook.expected_width:.3f} after the next {outlook.reviews:,} new reviews "
            f"from this queue{behind}."
        )
    if filtered:
        st.caption(
            ":material/filter_alt: A filter is on: reviews from this queue are kept and shown "
            "with their tags, but do not enter the estimates (the queue samples part of the "
            "run only)."
        )


opened = _ui.take_deep_link_example()
if opened is not None:
    if opened in data.ids:
        st.session_state["rv_current"] = opened
        st.session_state["rv_pinned"] = opened
    else:
        st.error(f"This run has no example with the id in the link: {_ui.md(repr(opened))}")


# ------------------------------------------------------------------ actions
def _go(example_id: str | None) -> None:
    st.session_state["rv_current"] = example_id
    st.session_state["rv_pinned"] = None


def _open_by_id() -> None:
    wanted = st.session_state.get("rv_goto", "").strip()
    if not wanted:
        return
    if wanted in _ui.run_data(info).ids:
        st.session_state["rv_current"] = wanted
        st.session_state["rv_pinned"] = wanted
    else:
        st.session_state["_flash"] = ("error", f"This run has no example with id {wanted!r}.")


# Every write goes through _ui.act with the values of the click, so a change the project
# cannot take yet (another writer holds it) is kept and saved later exactly as clicked.
def _toggle(example_id: str, tag: str, present: bool, actor: str) -> None:
    dataset = info.dataset
    _ui.act(
        lambda: _ui.project().dataset(dataset).set_tag(example_id, tag, present, actor=actor),
        what=f"{'adding' if present else 'removing'} the tag {tag!r} on {example_id}",
    )


def _add_listed_tag(example_id: str, actor: str) -> None:
    key = f"rv_more_tags:{example_id}"
    name = st.session_state.get(key)
    st.session_state[key] = None  # ready for the next one
    if name:
        _toggle(example_id, name, True, actor)


def _add_tag(example_id: str, actor: str) -> None:
    name = st.session_state.get("rv_new_tag", "")
    if name.strip():
        _toggle(example_id, name, True, actor)


def _mark(
    example_id: str,
    label: str,
    actor: str,
    next_id: str | None,
    draw: sampling.Draw | None,
) -> None:
    """Record the review; one made from the queue (``draw``: its sample, None for an
    example opened outside it) records the queue's sample first, once."""
    dataset, run = info.dataset, info.name
    given = _label_and_note_given(example_id, prefix="rv")

    def reviewed(_: object) -> None:
        st.session_state.setdefault("rv_history", []).append(example_id)
        # Saved later (the project was busy): move on only if the reviewer is still here.
        if st.session_state.get("rv_current") != example_id:
            return
        if next_id is not None:
            _go(next_id)
        else:
            st.session_state["_flash"] = (
                "success",
                "That was the last example left in this queue.",
            )

    def save() -> object:
        store = _ui.project().dataset(dataset)
        sample = None if draw is None else review.record_queue_sample(store, draw, actor=actor)
        return store.record_review(
            example_id, reviewer=actor, run=run, queue=label, sample=sample, **given
        )

    _ui.act(save, what=f"the review of {example_id}", then=reviewed)


def _label_and_note_given(example_id: str, *, prefix: str) -> dict[str, object]:
    """What the reviewer gave on ``example_id`` in the widgets of :func:`_label_and_note`:
    note, label_wrong and corrected_label, as ``record_review`` takes them."""
    state = st.session_state
    wrong = bool(state.get(f"{prefix}_wrong:{example_id}"))
    corrected = state.get(f"{prefix}_corrected:{example_id}") if wrong else None
    return {
        "note": state.get(f"{prefix}_note:{example_id}", ""),
        "label_wrong": wrong,
        "corrected_label": None if corrected is None else str(corrected),
    }


def _toggle_blind(example_id: str, tag: str, present: bool) -> None:
    # A blind review's tags stay in the session until the review is recorded with them.
    chosen = st.session_state.setdefault(BLIND_TAGS.format(example_id), set())
    (chosen.add if present else chosen.discard)(tag)


def _add_listed_blind_tag(example_id: str) -> None:
    key = f"rv_blind_more:{example_id}"
    name = st.session_state.get(key)
    st.session_state[key] = None
    if name:
        _toggle_blind(example_id, name, True)


def _mark_blind(example_id: str, actor: str) -> None:
    """Record the blind second review with the reviewer's own tags, label and note; the
    example's tags stay as they are."""
    dataset, run = info.dataset, info.name
    tags = sorted(st.session_state.get(BLIND_TAGS.format(example_id), set()))
    given = _label_and_note_given(example_id, prefix="rv_blind")

    def reviewed(_: object) -> None:
        st.session_state.setdefault("rv_history", []).append(example_id)

    _ui.act(
        lambda: (
            _ui.project()
            .dataset(dataset)
            .record_review(
                example_id,
                reviewer=actor,
                run=run,
                tags=tags,
                queue=STRATUM_SECOND,
                blind=True,
                **given,
            )
        ),
        what=f"the blind review of {example_id}",
        then=reviewed,
    )


def _undo(actor: str) -> None:
    dataset = info.dataset
    _ui.act(lambda: _ui.project().dataset(dataset).undo(actor=actor), what="undo", then=_undone)


def _undone(undone: object) -> None:
    # None: nothing of this reviewer's is left to undo in the dataset.
    if not isinstance(undone, dict):
        st.session_state["_flash"] = ("error", "Nothing of yours left to undo in this dataset.")
        return
    detail = undone.get("detail", {})
    history = st.session_state.setdefault("rv_history", [])
    back = None
    if undone["kind"] == "tag":
        back = detail.get("example")
    elif undone["kind"] == "review":
        back = history.pop() if history else None
    if back is not None:
        st.session_state["rv_current"] = back
        st.session_state["rv_pinned"] = back
    st.session_state["_flash"] = ("success", f"Undid the {undone['what']}.")


# ------------------------------------------------------------------ the example panel
@st.fragment
def review_panel(
    info: RunInfo, queue: _ui.ReviewQueue, draw: sampling.Draw | None, *, blind: bool
) -> None:
    """The example panel; ``blind``: the blind second review, which shows nothing of the
    earlier reviews (their tags, corrected labels, notes) and keeps the reviewer's tags in
    the session until the review is recorded."""
    _ui.flash()
    data = _ui.run_data(info)
    reviewed = _ui.reviewed_ids(info)
    skip = reviewed if st.session_state["rv_skip"] and not blind else frozenset()
    actor = _ui.need_reviewer()
    # Reviewing and tagging is a reviewer's: a viewer sees the panel with its controls off.
    off = actor is None or not _ui.can("reviewer", doing="reviewing and tagging")
    if blind:
        # Read again on a rerun of this panel alone: a review just recorded leaves it.
        queue = _ui.blind_queue(info, actor)

    cursor = review.review_cursor(
        queue.frame,
        st.session_state.get("rv_current"),
        # A blind review shows only its queue: no example opened by link or by id.
        pinned=None if blind else st.session_state.get("rv_pinned"),
        run_ids=data.ids,
        skip_ids=skip,
        ids=queue.ids,
    )
    current = st.session_state["rv_current"] = cursor.current
    if blind:
        blind_panel(info, queue, cursor, actor, off=off)
        return

    progress = review.review_progress(data.frame, queue.frame, reviewed, ids=data.ids)
    mix = review.queue_mix(queue.frame)
    left, right = st.columns(2)
    # A counted run's frame is its drawn examples: its errors here are the drawn ones.
    drawn_errors = " drawn" if info.counted_by is not None else ""
    left.progress(
        progress.errors_done,
        text=f"Reviewed errors: {progress.errors_reviewed:,} of {progress.errors_total:,}"
        f"{drawn_errors}",
    )
    right.progress(
        progress.correct_done,
        text=f"Reviewed correct examples: {progress.correct_reviewed:,} of "
        f"{progress.correct_sampled:,} sampled",
    )
    st.caption(
        f"Queue: {mix[review.ERROR]:,} errors and {mix[review.CORRECT_SAMPLE]:,} sampled correct "
        f"examples ({mix[review.CORRECT_SAMPLE] / max(len(queue), 1):.0%} correct)."
    )
    if current is None:
        st.info("No example matches these filters. Widen them in the sidebar.")
        return

    label = review.queue_label(queue.frame, current, ids=queue.ids)
    drawn = draw if label != review.DIRECT else None
    example = _example_and_buttons(
        info,
        queue,
        cursor,
        actor,
        off=off,
        mark="Mark reviewed",
        on_mark=_mark,
        args=(current, label, actor, cursor.next, drawn),
    )
    badges = _heading(example, label)
    if current in reviewed:
        badges.badge("reviewed", icon=":material/check:", color="blue")
    _show_example(info, example)

    st.markdown("**Tags**")
    present = set(_ui.project().dataset(info.dataset).example_tags(current))
    _tag_buttons(
        info,
        present,
        key="rv_tag",
        disabled=off,
        on_click=_toggle,
        args=lambda tag: (current, tag, tag not in present, actor),
    )
    listed = _ui.tag_choices(_ui.reviewed_tag_names(info), present, buttons=TAG_BUTTONS)[1]
    if listed:
        _more_tags(listed, f"rv_more_tags:{current}", off, _add_listed_tag, (current, actor))
    with st.form("rv_new_tag_form", clear_on_submit=True, border=False):
        row = st.container(horizontal=True, vertical_alignment="bottom")
        row.text_input("New tag", key="rv_new_tag", max_chars=100, placeholder="e.g. car noise")
        row.form_submit_button(
            "Add tag",
            icon=":material/add:",
            disabled=off,
            on_click=_add_tag,
            args=(current, actor),
        )
    _label_and_note(data, current, prefix="rv", off=off)

    history = review.review_history(_ui.reviews(info), current)
    if len(history):
        st.caption("Earlier reviews of this example")
        shown = history[
            ["reviewer", "at", "run", "queue", "label_wrong", "corrected_label", "note"]
        ]
        _ui.show_table(
            shown.assign(
                at=_ui.timestamps(shown["at"]),
                corrected_label=shown["corrected_label"].fillna(""),
                note=shown["note"].fillna(""),
            ),
            name=f"reviews-of-{current}",
            run=info,
            hide_index=True,
            column_config=_charts.HISTORY_COLUMNS,
        )
    _ui.mark_deep_link(info.dataset, current)


def blind_panel(
    info: RunInfo, queue: _ui.ReviewQueue, cursor: review.Cursor, actor: str | None, *, off: bool
) -> None:
    """The example of a blind second review: the example itself and the reviewer's own
    choices (tags kept in the session), nothing of the earlier reviews."""
    st.caption(
        f":material/visibility_off: **Blind second review**: {len(queue):,} examples wait "
        "for your review. Earlier tags, corrected labels and notes are hidden; your tags "
        "are kept with your review."
    )
    current = cursor.current
    if current is None:
        st.info(
            "No example waits for your blind second review: every example drawn for one "
            "has its reviewers, or is yours."
        )
        return
    data = _ui.run_data(info)
    example = _example_and_buttons(
        info,
        queue,
        cursor,
        actor,
        off=off,
        mark="Record my review",
        on_mark=_mark_blind,
        args=(current, actor),
    )
    _heading(example, f"{STRATUM_SECOND} (blind)")
    _show_example(info, example)

    st.markdown("**Your tags**")
    chosen = set(st.session_state.get(BLIND_TAGS.format(current), set()))
    _tag_buttons(
        info,
        chosen,
        key="rv_blind_tag",
        disabled=off,
        on_click=_toggle_blind,
        args=lambda tag: (current, tag, tag not in chosen),
    )
    listed = _ui.tag_choices(_ui.reviewed_tag_names(info), chosen, buttons=TAG_BUTTONS)[1]
    if listed:
        _more_tags(listed, f"rv_blind_more:{current}", off, _add_listed_blind_tag, (current,))
    _label_and_note(data, current, prefix="rv_blind", off=off)
    _ui.mark_deep_link(info.dataset, current)


def _example_and_buttons(
    info: RunInfo,
    queue: _ui.ReviewQueue,
    cursor: review.Cursor,
    actor: str | None,
    *,
    off: bool,
    mark: str,
    on_mark: Callable[..., None],
    args: tuple,
) -> review.ExampleView:
    """The cursor's example, after drawing the row of buttons above it: Previous, Next,
    ``mark`` (``on_mark(*args)``, key M) and Undo."""
    data = _ui.run_data(info)
    position = int(data.ids.get_loc(cursor.current))
    nav = st.container(horizontal=True, vertical_alignment="center")
    for text, icon, shortcut, target in (
        ("Previous", ":material/arrow_back:", "Left", cursor.previous),
        ("Next", ":material/arrow_forward:", "Right", cursor.next),
    ):
        nav.button(
            text,
            icon=icon,
            shortcut=shortcut,
            disabled=target is None,
            on_click=_go,
            args=(target,),
        )
    nav.button(
        mark,
        icon=":material/done_all:",
        shortcut="M",
        type="primary",
        disabled=off,
        on_click=on_mark,
        args=args,
    )
    nav.button(
        "Undo",
        icon=":material/undo:",
        shortcut="U",
        disabled=off,
        on_click=_undo,
        args=(actor,),
    )
    index = cursor.index
    where = "not in this queue" if index is None else f"{index + 1:,} of {len(queue):,}"
    nav.caption(f"Example {where} · keys: {SHORTCUTS}")
    return review.example_view(data.frame, position, metadata_columns=info.metadata_columns)


def _heading(example: review.ExampleView, label: str) -> DeltaGenerator:
    """The example's heading and badges (returned, for more)."""
    st.subheader(f"Example {_ui.md(example.id)}", anchor=False)
    badges = st.container(horizontal=True)
    badges.badge(
        "error" if not example.correct else "correct",
        color="red" if not example.correct else "green",
    )
    badges.badge(f"queue: {label}", color="gray")
    return badges


def _show_example(info: RunInfo, example: review.ExampleView) -> None:
    """What the example is: its media or text, label, prediction, confidence, metadata and
    the tags that come with the data."""
    shown, facts = st.columns([3, 2], gap="large")
    with shown:
        if example.text is not None:
            with st.container(border=True):
                st.text(example.text)
        if example.audio is not None:
            _ui.show_media(info, "audio", example.audio)
        if example.image is not None:
            _ui.show_media(info, "image", example.image)
        if example.text is None and example.audio is None and example.image is None:
            st.caption("This example has no text, audio or image.")
    with facts:
        a, b, c = st.columns(3)
        a.metric("Label", _ui.md(example.label))
        b.metric("Prediction", _ui.md(example.prediction))
        c.metric("Confidence", "—" if example.confidence is None else f"{example.confidence:.2f}")
        if example.human_label is not None:
            st.metric("Second human label", _ui.md(example.human_label))
        if len(example.metadata):
            _ui.show_table(
                example.metadata,
                name=f"example-{example.id}",
                run=info,
                hide_index=True,
                width="stretch",
            )
        if example.dataset_tags:
            st.caption("Dataset tags (from the import)")
            st.text(", ".join(example.dataset_tags))


def _tag_buttons(
    info: RunInfo,
    present: set[str],
    *,
    key: str,
    disabled: bool,
    on_click: Callable[..., None],
    args: Callable[[str], tuple],
) -> None:
    """A button per tag (the first nine on keys 1-9), on where ``present``;
    ``on_click(*args(tag))`` toggles it."""
    buttons, _ = _ui.tag_choices(_ui.reviewed_tag_names(info), present, buttons=TAG_BUTTONS)
    toggles = st.container(horizontal=True)
    for i, tag in enumerate(buttons):
        on = tag in present
        toggles.button(
            _ui.md(tag),
            key=f"{key}:{tag}",
            type="primary" if on else "secondary",
            icon=":material/check:" if on else None,
            shortcut=str(i + 1) if i < 9 else None,
            disabled=disabled,
            on_click=on_click,
            args=args(tag),
        )


def _more_tags(
    listed: list[str], key: str, off: bool, on_change: Callable[..., None], args: tuple
) -> None:
    st.selectbox(
        f"{len(listed):,} more tags",
        listed,
        index=None,
        key=key,
        placeholder="type to search, pick one to add it",
        disabled=off,
        on_change=on_change,
        args=args,
        help="A tag added here shows as a button while the example carries it.",
    )


def _label_and_note(data: _ui.RunData, current: str, *, prefix: str, off: bool) -> None:
    """Whether the label is wrong, the corrected label and the note, kept per example
    under keys that begin with ``prefix`` (switched ``off`` for who may not review)."""
    wrong_col, corrected_col = st.columns(2)
    wrong = wrong_col.checkbox("The label is wrong", key=f"{prefix}_wrong:{current}", disabled=off)
    if wrong:
        corrected_col.selectbox(
            "Corrected label",
            data.classes,
            index=None,
            accept_new_options=True,
            key=f"{prefix}_corrected:{current}",
            placeholder="choose or type the right label",
            disabled=off,
        )
    st.text_area("Note", key=f"{prefix}_note:{current}", max_chars=2000, height=80, disabled=off)


show_strategy()
review_panel(info, queue, draw, blind=blind)
st.divider()
st.text_input(
    "Open an example by id",
    key="rv_goto",
    on_change=_open_by_id,
    help="Or link to one: /review?dataset=NAME&example=ID",
)
