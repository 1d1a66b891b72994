"""Review: walk the queue of errors (and a sample of correct examples) and tag each one.

The queue is a sample drawn by one of three strategies (stratified, confidence bands,
active batches); the page says which is on and what the next reviews buy: the target
tag's marginal-effect interval width now and the width expected after them. The sample is
recorded with the first review made from the queue, so opening the page writes nothing.

Every click is written to the project file at once. The example panel is a fragment, so a
tag toggle or Next reruns only the panel, not the queue settings.
"""

from __future__ import annotations

import streamlit as st

from app_pages import _charts, _ui
from erroranalysis import review, sampling
from erroranalysis.store import RunInfo

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

st.title("Review")
info = _ui.require_run()
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


# ------------------------------------------------------------------ queue settings
with st.sidebar:
    st.subheader("Queue")
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
    st.toggle("Skip reviewed examples", key="rv_skip")
    with st.expander("Filters", expanded=False):
        st.multiselect("True class", data.classes, key="rv_true", on_change=_queue_changed)
        st.multiselect("Predicted class", data.classes, key="rv_pred", on_change=_queue_changed)
        tag_names = sorted({*_ui.reviewed_tag_names(info), *info.dataset_tags})
        st.multiselect("Tag", tag_names, key="rv_tags", on_change=_queue_changed)
        st.checkbox("Untagged examples", key="rv_untagged", on_change=_queue_changed)
        confidence = None
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
        values: tuple = ()
        bounds = None
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

filters = review.ReviewFilters(
    true_classes=tuple(st.session_state["rv_true"]),
    predicted_classes=tuple(st.session_state["rv_pred"]),
    tags=tuple(st.session_state["rv_tags"]),
    untagged=bool(st.session_state["rv_untagged"]),
    confidence=confidence,
    metadata_column=column if (values or bounds) else None,
    metadata_values=values,
    metadata_range=bounds,
)
filtered = filters != review.ReviewFilters()
seed = int(st.session_state["rv_seed"])
fraction = st.session_state["rv_fraction"] / 100
size = int(st.session_state["rv_size"])
uses_tags = bool(filters.tags or filters.untagged)


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
        )
    queue = _ui.queue_of(draw, info)
    st.session_state[ACTIVE_KEY] = (settings, draw, queue)
    return draw, queue


problem = None
try:
    if strategy == "active":
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
    name = STRATEGY_NAMES[strategy]
    if problem is not None:
        st.warning(f"**{name}**: {_ui.md(problem)}", icon=":material/info:")
        return
    if draw is None:
        return
    reviews = min(len(queue), size)
    settings = (strategy, filters, draw.seed, draw.size, fraction, len(draw.examples))
    outlook = _ui.outlook(info, draw, settings=settings, reviews=reviews)
    if isinstance(outlook, str):
        st.caption(f"Strategy: **{name}**. No interval to narrow yet: {_ui.md(outlook)}")
    elif outlook.reviews == 0:
        st.caption(
            f"Strategy: **{name}**. Every example of this queue is reviewed: the interval of "
            f"**{_ui.md(outlook.tag)}** is {outlook.width:.3f} wide. Draw another sample "
            "(a new seed, a larger share, or the next active batch) to narrow it."
        )
    else:
        st.caption(
            f"Strategy: **{name}**, narrowing the widest marginal-effect interval among the "
            f"top tags: **{_ui.md(outlook.tag)}**, {outlook.width:.3f} wide now, about "
            f"{outlook.expected_width:.3f} after the next {outlook.reviews:,} new reviews "
            "from this queue."
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
    state = st.session_state
    dataset, run = info.dataset, info.name
    wrong = bool(state.get(f"rv_wrong:{example_id}"))
    corrected = state.get(f"rv_corrected:{example_id}") if wrong else None
    note = state.get(f"rv_note:{example_id}", "")

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
            example_id,
            reviewer=actor,
            run=run,
            note=note,
            label_wrong=wrong,
            corrected_label=None if corrected is None else str(corrected),
            queue=label,
            sample=sample,
        )

    _ui.act(save, what=f"the review of {example_id}", then=reviewed)


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
def review_panel(info: RunInfo, queue: _ui.ReviewQueue, draw: sampling.Draw | None) -> None:
    _ui.flash()
    data = _ui.run_data(info)
    reviewed = _ui.reviewed_ids(info)
    skip = reviewed if st.session_state["rv_skip"] else frozenset()
    actor = _ui.need_reviewer()
    # Reviewing and tagging is a reviewer's: a viewer sees the panel with its controls off.
    off = actor is None or not _ui.can("reviewer", doing="reviewing and tagging")

    cursor = review.review_cursor(
        queue.frame,
        st.session_state.get("rv_current"),
        pinned=st.session_state.get("rv_pinned"),
        run_ids=data.ids,
        skip_ids=skip,
        ids=queue.ids,
    )
    current = st.session_state["rv_current"] = cursor.current

    progress = review.review_progress(data.frame, queue.frame, reviewed, ids=data.ids)
    mix = review.queue_mix(queue.frame)
    left, right = st.columns(2)
    left.progress(
        progress.errors_done,
        text=f"Reviewed errors: {progress.errors_reviewed:,} of {progress.errors_total:,}",
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

    position = int(data.ids.get_loc(current))
    example = review.example_view(data.frame, position, metadata_columns=info.metadata_columns)
    label = review.queue_label(queue.frame, current, ids=queue.ids)
    drawn = draw if label != review.DIRECT else None

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
        "Mark reviewed",
        icon=":material/done_all:",
        shortcut="M",
        type="primary",
        disabled=off,
        on_click=_mark,
        args=(current, label, actor, cursor.next, drawn),
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

    st.subheader(f"Example {_ui.md(example.id)}", anchor=False)
    badges = st.container(horizontal=True)
    badges.badge(
        "error" if not example.correct else "correct",
        color="red" if not example.correct else "green",
    )
    badges.badge(f"queue: {label}", color="gray")
    if current in reviewed:
        badges.badge("reviewed", icon=":material/check:", color="blue")

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

    st.markdown("**Tags**")
    present = set(_ui.project().dataset(info.dataset).example_tags(current))
    names = _ui.reviewed_tag_names(info)
    buttons, listed = _ui.tag_choices(names, present, buttons=TAG_BUTTONS)
    toggles = st.container(horizontal=True)
    for i, tag in enumerate(buttons):
        on = tag in present
        toggles.button(
            _ui.md(tag),
            key=f"rv_tag:{tag}",
            type="primary" if on else "secondary",
            icon=":material/check:" if on else None,
            shortcut=str(i + 1) if i < 9 else None,
            disabled=off,
            on_click=_toggle,
            args=(current, tag, not on, actor),
        )
    if listed:
        st.selectbox(
            f"{len(listed):,} more tags",
            listed,
            index=None,
            key=f"rv_more_tags:{current}",
            placeholder="type to search, pick one to add it",
            disabled=off,
            on_change=_add_listed_tag,
            args=(current, actor),
            help="A tag added here shows as a button while the example carries it.",
        )
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

    wrong_col, corrected_col = st.columns(2)
    wrong = wrong_col.checkbox("The label is wrong", key=f"rv_wrong:{current}", disabled=off)
    if wrong:
        corrected_col.selectbox(
            "Corrected label",
            data.classes,
            index=None,
            accept_new_options=True,
            key=f"rv_corrected:{current}",
            placeholder="choose or type the right label",
            disabled=off,
        )
    st.text_area("Note", key=f"rv_note:{current}", max_chars=2000, height=80, disabled=off)

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


show_strategy()
review_panel(info, queue, draw)
st.divider()
st.text_input(
    "Open an example by id",
    key="rv_goto",
    on_change=_open_by_id,
    help="Or link to one: /review?dataset=NAME&example=ID",
)
