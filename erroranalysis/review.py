"""The review queue: which examples a reviewer sees, in which order, and how far the review got.

A queue is a sample (:class:`erroranalysis.sampling.Draw`) in review order: by default every
error that matches the filters plus a seeded random sample of the correct examples that
match them (the ``stratified`` strategy); the Review page also draws by confidence band or
in active batches. The correct sample keeps the review honest: a tag's share among errors
only means something next to its share among correct examples, and a reviewer who sees
nothing but errors cannot tell "this slice is hard" from "this slice is common". Each queue
row says which stratum it came from and its inclusion probability; the stratum is recorded
with the review, and the sample itself (:func:`record_queue_sample`) with the first review
made from the queue, so opening the page writes nothing.

Everything here is vectorised over the example frame (numpy masks, one random key per
example), so building a queue over a million examples takes a fraction of a second.

The module runs past 600 lines because it is the whole package side of the Review page:
the queue, its filters, the cursor through it and the view of one example are pure
functions over the same queue.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .evidence import Evidence
from .vocabulary import STRATEGIES, STRATUM_CORRECT, STRATUM_DIRECT, STRATUM_ERROR, TAG_PREFIX

if TYPE_CHECKING:
    from .sampling import Draw
    from .store import DatasetStore

ERROR = STRATUM_ERROR
CORRECT_SAMPLE = STRATUM_CORRECT
DIRECT = STRATUM_DIRECT  # opened by id or link, outside the queue's sample
# The queue orders of earlier versions, kept in sessions and links: the strategy each became.
# "Lowest confidence first" is now a sample by confidence band, in random order.
LEGACY_ORDERS = {"random": "stratified", "lowest_confidence": "confidence"}
MAX_CORRECT_FRACTION = 0.9
QUEUE_COLUMNS = ("position", "id", "queue", "probability", "correct")


@dataclass(frozen=True)
class ReviewFilters:
    """Which examples may enter the queue. Empty fields filter nothing.

    ``tags`` keeps examples carrying any of the named tags (reviewed or dataset tags);
    ``untagged`` keeps examples without any tag; both together keep either.
    ``metadata_values`` (a set of values) and ``metadata_range`` (inclusive bounds) apply to
    ``metadata_column``.
    """

    true_classes: tuple[str, ...] = ()
    predicted_classes: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    untagged: bool = False
    confidence: tuple[float, float] | None = None
    metadata_column: str | None = None
    metadata_values: tuple[object, ...] = ()
    metadata_range: tuple[float, float] | None = None


@dataclass(frozen=True)
class ReviewProgress:
    """How much of the review is done."""

    errors_reviewed: int
    errors_total: int
    correct_reviewed: int
    correct_sampled: int

    @property
    def errors_done(self) -> float:
        return self.errors_reviewed / self.errors_total if self.errors_total else 0.0

    @property
    def correct_done(self) -> float:
        return self.correct_reviewed / self.correct_sampled if self.correct_sampled else 0.0


def positions_of(ids: pd.Index, wanted: Iterable[str]) -> np.ndarray:
    """Positions in ``ids`` (an example frame's ``id`` column as an Index) of the ``wanted``
    ids that it holds, in no particular order; unknown ids are skipped."""
    wanted = pd.Index(pd.unique(pd.Series(list(wanted), dtype=object)), dtype=object)
    if len(wanted) == 0:
        return np.empty(0, dtype=np.int64)
    found = ids.get_indexer(wanted)
    return found[found >= 0].astype(np.int64)


def _id_index(examples: pd.DataFrame, ids: pd.Index | None) -> pd.Index:
    return ids if ids is not None else pd.Index(examples["id"].astype(str), dtype=object)


def _mask_at(n: int, positions: np.ndarray) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    mask[positions] = True
    return mask


def check_filters(examples: pd.DataFrame, filters: ReviewFilters) -> None:
    """Raise ValueError naming the first filter that does not fit ``examples``."""
    if filters.confidence is not None and "confidence" not in examples.columns:
        raise ValueError("this run has no confidence column to filter on")
    column = filters.metadata_column
    if (filters.metadata_values or filters.metadata_range is not None) and column is None:
        raise ValueError("a metadata filter needs a metadata column")
    if column is not None and column not in examples.columns:
        raise ValueError(f"unknown metadata column {column!r}")
    for bounds, name in ((filters.confidence, "confidence"), (filters.metadata_range, "range")):
        if bounds is not None and not bounds[0] <= bounds[1]:
            raise ValueError(f"the {name} range is empty: {bounds[0]} > {bounds[1]}")


def filter_mask(
    examples: pd.DataFrame,
    filters: ReviewFilters,
    *,
    tags_by_example: pd.DataFrame | None = None,
    ids: pd.Index | None = None,
) -> np.ndarray:
    """A bool array over ``examples``: True where the example passes every filter.

    ``tags_by_example`` holds the reviewed tags as rows (``example_id``, ``tag``); dataset
    tags come from the frame's ``tag:NAME`` columns.
    """
    check_filters(examples, filters)
    n = len(examples)
    mask = np.ones(n, dtype=bool)
    if filters.true_classes:
        mask &= examples["label"].astype(str).isin(filters.true_classes).to_numpy()
    if filters.predicted_classes:
        mask &= examples["prediction"].astype(str).isin(filters.predicted_classes).to_numpy()
    if filters.confidence is not None:
        low, high = filters.confidence
        confidence = examples["confidence"].to_numpy(dtype=float, na_value=np.nan)
        mask &= (confidence >= low) & (confidence <= high)
    if filters.metadata_column is not None:
        values = examples[filters.metadata_column]
        if filters.metadata_values:
            mask &= values.isin(list(filters.metadata_values)).to_numpy()
        if filters.metadata_range is not None:
            low, high = filters.metadata_range
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            mask &= (numbers >= low) & (numbers <= high)
    if filters.tags or filters.untagged:
        mask &= _tag_mask(examples, filters, tags_by_example, _id_index(examples, ids))
    return mask


def _tag_mask(
    examples: pd.DataFrame,
    filters: ReviewFilters,
    tags_by_example: pd.DataFrame | None,
    ids: pd.Index,
) -> np.ndarray:
    n = len(examples)
    assigned = (
        tags_by_example
        if tags_by_example is not None
        else pd.DataFrame({"example_id": [], "tag": []})
    )
    dataset_columns = [c for c in examples.columns if str(c).startswith(TAG_PREFIX)]
    keep = np.zeros(n, dtype=bool)
    if filters.tags:
        chosen = assigned["example_id"][assigned["tag"].isin(filters.tags)]
        keep |= _mask_at(n, positions_of(ids, chosen.astype(str)))
        for tag in filters.tags:
            column = TAG_PREFIX + tag
            if column in examples.columns:
                keep |= examples[column].fillna(False).astype(bool).to_numpy()
    if filters.untagged:
        tagged = _mask_at(n, positions_of(ids, assigned["example_id"].astype(str)))
        for column in dataset_columns:
            tagged |= examples[column].fillna(False).astype(bool).to_numpy()
        keep |= ~tagged
    return keep


def correct_sample_size(n_errors: int, n_correct: int, correct_fraction: float) -> int:
    """How many correct examples make them ``correct_fraction`` of a queue with
    ``n_errors`` errors (at most all ``n_correct`` of them)."""
    if not 0 <= correct_fraction <= MAX_CORRECT_FRACTION:
        raise ValueError(
            f"correct_fraction must be in [0, {MAX_CORRECT_FRACTION}], got {correct_fraction}"
        )
    wanted = round(n_errors * correct_fraction / (1 - correct_fraction))
    return int(min(n_correct, wanted))


def queue_strategy(value: object) -> str:
    """The sampling strategy named by ``value``: one of :data:`STRATEGIES`, or an order of
    earlier versions (:data:`LEGACY_ORDERS`), so old sessions and links keep working."""
    if isinstance(value, str):
        value = LEGACY_ORDERS.get(value, value)
        if value in STRATEGIES:
            return value
    raise ValueError(f"the queue's strategy must be one of {', '.join(STRATEGIES)}, got {value!r}")


def queue_from_draw(
    draw: Draw,
    examples: pd.DataFrame,
    *,
    reviewed_ids: Collection[str] = (),
    include_reviewed: bool = True,
    ids: pd.Index | None = None,
) -> pd.DataFrame:
    """The queue of ``draw`` over the run's ``examples``, in the draw's order (random within
    each stratum, strata interleaved at random).

    Already reviewed examples stay in (they are part of the sample) unless
    ``include_reviewed`` is False. ``ids`` may pass ``pd.Index(examples["id"])`` built once.
    Returns a frame with columns :data:`QUEUE_COLUMNS`: ``position`` (row position in
    ``examples``), ``id``, ``queue`` (the stratum), ``probability`` (the inclusion
    probability) and ``correct``, indexed 0..n-1 in review order.
    """
    ids = _id_index(examples, ids)
    values = np.asarray(ids, dtype=object)  # the Index's own array: no copy
    drawn = draw.examples
    positions = draw_positions(draw, ids)
    if (positions < 0).any():
        missing = drawn["id"][positions < 0].iloc[0]
        raise ValueError(f"the sample draws {missing!r}, which the run does not hold")
    rank = np.argsort(drawn["order"].to_numpy(), kind="stable")
    positions = positions[rank]
    keep = np.ones(len(positions), dtype=bool)
    if not include_reviewed and len(reviewed_ids):
        keep = ~np.isin(positions, positions_of(ids, reviewed_ids))
    positions = positions[keep].astype(np.int64)
    return pd.DataFrame(
        {
            "position": positions,
            "id": pd.Series(values[positions], dtype=object),
            "queue": pd.Series(drawn["stratum"].to_numpy(dtype=object)[rank][keep], dtype=object),
            "probability": drawn["probability"].to_numpy(dtype=float)[rank][keep],
            "correct": examples["correct"].to_numpy(dtype=bool)[positions],
        }
    )


def draw_positions(draw: Draw, ids: pd.Index | pd.Series) -> np.ndarray:
    """Where each example of ``draw`` stands in a run whose ids are ``ids`` (-1: not
    there). The draw's own ``positions`` serve when they are of these ids: the same ids at
    a few dozen of them, evenly spread (comparing all would cost more than the lookup
    saves); otherwise, and for a draw read back from the store, the ids are looked up."""
    values = np.asarray(ids, dtype=object)
    wanted = draw.examples["id"].to_numpy(dtype=object)
    positions = None if draw.positions is None else np.asarray(draw.positions, dtype=np.int64)
    probe = np.linspace(0, len(wanted) - 1, min(len(wanted), 64)).astype(np.int64)
    if (
        positions is not None
        and len(positions) == len(wanted)
        and (not len(positions) or positions.max() < len(values))
        and (values[positions[probe]] == wanted[probe]).all()
    ):
        return positions
    index = ids if isinstance(ids, pd.Index) else pd.Index(values.astype(str), dtype=object)
    return index.get_indexer(pd.Index(wanted.astype(str), dtype=object))


def stratified_size(
    examples: pd.DataFrame,
    *,
    correct_fraction: float,
    filters: ReviewFilters | None = None,
    tags_by_example: pd.DataFrame | None = None,
    ids: pd.Index | None = None,
) -> tuple[int, float]:
    """The size of the stratified queue that holds every error passing ``filters`` and
    :func:`correct_sample_size` correct examples, and the ``correct_fraction`` to draw it
    with (0 when it holds no correct example). The size is 0 when no error passes."""
    passes = (
        np.ones(len(examples), dtype=bool)
        if filters is None
        else filter_mask(examples, filters, tags_by_example=tags_by_example, ids=ids)
    )
    correct = examples["correct"].to_numpy(dtype=bool)
    errors = int((passes & ~correct).sum())
    sample = correct_sample_size(errors, int((passes & correct).sum()), correct_fraction)
    if errors == 0:
        return 0, 0.0
    return errors + sample, correct_fraction if sample else 0.0


def review_queue(
    examples: pd.DataFrame,
    *,
    reviewed_ids: Collection[str] = (),
    correct_fraction: float = 0.1,
    seed: int = 0,
    filters: ReviewFilters | None = None,
    order: str = "stratified",
    tags_by_example: pd.DataFrame | None = None,
    include_reviewed: bool = False,
    ids: pd.Index | None = None,
) -> pd.DataFrame:
    """The stratified queue: every error that passes ``filters`` plus a seeded random sample
    of the correct examples that pass them, sized so that correct examples make up
    ``correct_fraction`` of the queue, in random order (see :func:`queue_from_draw`).

    The sample is nested: a larger fraction (same seed) keeps every example of a smaller
    one, so moving the slider never reshuffles what was already sampled. Already reviewed
    examples count towards the sample but leave the queue unless ``include_reviewed``.
    ``order`` is ``"stratified"`` (or its old name ``"random"``); confidence and active
    queues are drawn with :func:`erroranalysis.sampling.draw_sample` for a size of their
    own. Empty when no error passes the filters.
    """
    strategy = queue_strategy(order)
    if strategy != "stratified":
        raise ValueError(
            f"review_queue draws stratified queues; draw a {strategy} one with "
            "sampling.draw_sample and queue_from_draw"
        )
    ids = _id_index(examples, ids)
    draw = queue_draw(
        Evidence(examples),
        seed=seed,
        filters=filters,
        correct_fraction=correct_fraction,
        tags_by_example=tags_by_example,
        ids=ids,
    )
    if draw is None:
        return empty_queue()
    return queue_from_draw(
        draw, examples, reviewed_ids=reviewed_ids, include_reviewed=include_reviewed, ids=ids
    )


def queue_draw(
    evidence: Evidence,
    *,
    strategy: str = "stratified",
    size: int = 0,
    seed: int = 0,
    correct_fraction: float = 0.1,
    filters: ReviewFilters | None = None,
    tags_by_example: pd.DataFrame | None = None,
    ids: pd.Index | None = None,
) -> Draw | None:
    """The sample behind a ``strategy`` queue of the evidence's run (see
    :func:`erroranalysis.sampling.draw_sample`). A ``stratified`` one ignores ``size``: it
    holds every error passing ``filters`` and :func:`correct_sample_size` correct examples
    for ``correct_fraction``, and is None when no error passes; the others draw ``size``."""
    # sampling reads this module's filters, so it is imported when a queue is drawn.
    from .sampling import draw_sample

    if strategy == "stratified":
        size, correct_fraction = stratified_size(
            evidence.examples,
            correct_fraction=correct_fraction,
            filters=filters,
            tags_by_example=tags_by_example,
            ids=ids,
        )
        if size == 0:
            return None
    return draw_sample(
        evidence,
        size=size,
        strategy=strategy,
        seed=seed,
        filters=filters,
        correct_fraction=correct_fraction,
        tags_by_example=tags_by_example,
        ids=ids,
    )


_QUEUE_DTYPES = {
    "position": np.int64,
    "id": object,
    "queue": object,
    "probability": float,
    "correct": bool,
}


def empty_queue() -> pd.DataFrame:
    """A queue with no example, with the columns and types of :func:`queue_from_draw`."""
    return pd.DataFrame({c: pd.Series(dtype=d) for c, d in _QUEUE_DTYPES.items()})


def queue_mix(queue: pd.DataFrame) -> dict[str, int]:
    """How many queue rows are errors and how many correct examples:
    ``{"error": n, "correct sample": m}``."""
    correct = int(queue["correct"].sum())
    return {ERROR: len(queue) - correct, CORRECT_SAMPLE: correct}


def review_progress(
    examples: pd.DataFrame,
    queue: pd.DataFrame,
    reviewed_ids: Iterable[str],
    *,
    ids: pd.Index | None = None,
) -> ReviewProgress:
    """Reviewed errors out of all the run's errors, and reviewed correct examples out of the
    correct examples of ``queue`` (built with reviewed examples kept in)."""
    ids = _id_index(examples, ids)
    reviewed = positions_of(ids, reviewed_ids)
    correct = examples["correct"].to_numpy(dtype=bool)
    sampled = queue["position"].to_numpy()[queue["correct"].to_numpy(dtype=bool)]
    return ReviewProgress(
        errors_reviewed=int((~correct[reviewed]).sum()),
        errors_total=int((~correct).sum()),
        correct_reviewed=int(np.isin(sampled, reviewed).sum()),
        correct_sampled=len(sampled),
    )


def record_queue_sample(store: DatasetStore, draw: Draw, *, actor: str) -> int:
    """The id of the sample to record with a review made from the queue of ``draw``: a
    sample recorded before (by anyone) of the same run, strategy, seed, size and design
    that drew the same examples, else ``draw`` recorded now. Idempotent, so a queue
    records its sample with its first review, and opening or redrawing it writes nothing.
    (The examples are compared too: under a tag filter the same settings may frame other
    examples once the tags have changed.)"""
    design = json.loads(json.dumps(draw.design, sort_keys=True))
    samples = store.samples()
    same = samples[
        (samples["run"] == draw.run)
        & (samples["strategy"] == draw.strategy)
        & (samples["seed"] == draw.seed)
        & (samples["size"] == draw.size)
    ]
    drawn = draw.examples["id"].tolist()
    for sample_id, recorded in zip(same["id"], same["design"], strict=True):
        if recorded == design and store.sample_draws(int(sample_id))["id"].tolist() == drawn:
            return int(sample_id)
    return store.record_sample(draw, actor=actor)


def step(
    queue: pd.DataFrame,
    current: int,
    *,
    direction: int = 1,
    skip_ids: Collection[str] = (),
) -> int | None:
    """The queue index after (``direction=1``) or before (``-1``) ``current`` whose example is
    not in ``skip_ids``; None when there is none. ``current`` may be -1 (before the start)
    or ``len(queue)`` (after the end)."""
    if direction not in (1, -1):
        raise ValueError(f"direction must be 1 or -1, got {direction}")
    ids = queue["id"].to_numpy(dtype=object)
    if direction == 1:
        start = max(current + 1, 0)
        candidates = ids[start:]
    else:
        start = max(min(current, len(ids)), 0)  # from -1 back: nothing before the start
        candidates = ids[:start][::-1]
    offset = _first_not_in(candidates, skip_ids)
    if offset is None:
        return None
    return start + offset if direction == 1 else start - 1 - offset


# Queue places looked at one by one before the rest is matched at once: the next example
# to review is nearly always among the first few, and matching a 160,000-example queue
# against the reviewed ids took 20 ms on every tag toggle.
_NEAR = 64


def _first_not_in(ids: np.ndarray, skip_ids: Collection[str]) -> int | None:
    """The first place in ``ids`` whose id is not in ``skip_ids``; None if there is none."""
    if not len(skip_ids):
        return 0 if len(ids) else None
    skip = skip_ids if isinstance(skip_ids, (set, frozenset)) else frozenset(skip_ids)
    for offset, example in enumerate(ids[:_NEAR]):
        if example not in skip:
            return offset
    free = np.flatnonzero(~pd.Index(ids[_NEAR:], dtype=object).isin(list(skip)))
    return _NEAR + int(free[0]) if len(free) else None


def queue_index(queue: pd.DataFrame, example_id: str, *, ids: pd.Index | None = None) -> int | None:
    """Where ``example_id`` first stands in ``queue``, or None when it is not in it.

    ``ids`` may pass ``pd.Index(queue["id"])`` built once: the lookup is then a hash probe
    instead of a scan of the queue.
    """
    if ids is not None and ids.is_unique:  # always for a queue built from a run
        found = int(ids.get_indexer([example_id])[0])
        return found if found >= 0 else None
    found = np.flatnonzero(queue["id"].to_numpy(dtype=object) == example_id)
    return int(found[0]) if len(found) else None


@dataclass(frozen=True)
class Cursor:
    """Where the reviewer stands in a queue (see :func:`review_cursor`)."""

    current: str | None  # the example to show; None when the queue is empty
    index: int | None  # its place in the queue; None for a pinned example outside it
    previous: str | None  # what Previous opens; None at the start of the queue
    next: str | None  # what Next opens; None when nothing is left after it


def review_cursor(
    queue: pd.DataFrame,
    current: str | None,
    *,
    pinned: str | None = None,
    run_ids: Collection[str] | None = None,
    skip_ids: Collection[str] = (),
    ids: pd.Index | None = None,
) -> Cursor:
    """Which example the review shows, and where Previous and Next lead from it.

    ``current`` (the example shown last, None at first) stays while it is in ``queue``, or
    outside it when it is ``pinned`` (opened by id, by a link or by an undo). Otherwise the
    cursor goes to the first example of the queue not in ``skip_ids``, or to the first of
    all when every one is skipped. A ``current`` that ``run_ids`` lacks (left over from
    another dataset) counts as None.

    Previous is the example just before, reviewed or not, so the last decision is one key
    away; None at the start and for an example outside the queue. Next is the first after
    it not in ``skip_ids`` (from the start of the queue for an example outside it); None
    at the end. ``ids`` may pass ``pd.Index(queue["id"])`` built once (see
    :func:`queue_index`).
    """
    if current is not None and run_ids is not None and current not in run_ids:
        current = None
    index = None if current is None else queue_index(queue, current, ids=ids)
    if index is None and (current is None or current != pinned):
        first = step(queue, -1, skip_ids=skip_ids)
        index = first if first is not None else (0 if len(queue) else None)
        current = None if index is None else str(queue["id"].iloc[index])
    if current is None:
        return Cursor(current=None, index=None, previous=None, next=None)
    before = None if index is None else step(queue, index, direction=-1)
    others = set(skip_ids) - {current} if current in skip_ids else skip_ids
    after = step(queue, -1 if index is None else index, skip_ids=others)
    return Cursor(
        current=current,
        index=index,
        previous=None if before is None else str(queue["id"].iloc[before]),
        next=None if after is None else str(queue["id"].iloc[after]),
    )


def classes(examples: pd.DataFrame) -> tuple[str, ...]:
    """Every class seen as a label or a prediction, sorted."""
    seen = pd.unique(pd.concat([examples["label"], examples["prediction"]]).astype(str))
    return tuple(sorted(seen))


@dataclass(frozen=True)
class ColumnChoices:
    """What a metadata filter can offer for one column: a set of values, or a numeric range."""

    kind: str  # "values" or "range"
    values: tuple[object, ...] = ()
    low: float = 0.0
    high: float = 0.0
    truncated: bool = False


def column_choices(examples: pd.DataFrame, column: str, *, limit: int = 200) -> ColumnChoices:
    """A numeric column offers its range; any other offers its (at most ``limit``) most
    frequent values."""
    if column not in examples.columns:
        raise ValueError(f"unknown metadata column {column!r}")
    values = examples[column]
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        finite = values.replace([np.inf, -np.inf], np.nan).dropna()
        if finite.empty:
            return ColumnChoices(kind="values")
        return ColumnChoices(kind="range", low=float(finite.min()), high=float(finite.max()))
    counts = values.dropna().value_counts()
    top = counts.index[:limit]
    return ColumnChoices(kind="values", values=tuple(top.tolist()), truncated=len(counts) > limit)


@dataclass(frozen=True)
class ExampleView:
    """One example as the review page shows it (values as imported, None when absent)."""

    id: str
    label: str
    prediction: str
    correct: bool
    confidence: float | None
    human_label: str | None
    text: str | None
    audio: str | None
    image: str | None
    metadata: pd.DataFrame  # columns: column, value (as text)
    dataset_tags: tuple[str, ...]


def _present(value: object) -> object | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value


def example_view(
    examples: pd.DataFrame, position: int, *, metadata_columns: Iterable[str] = ()
) -> ExampleView:
    """The example at row ``position`` of ``examples``."""
    row = examples.iloc[position]

    def get(column: str) -> object | None:
        return _present(row[column]) if column in examples.columns else None

    confidence = get("confidence")
    human = get("human_label")
    columns = [c for c in metadata_columns if c in examples.columns]
    metadata = pd.DataFrame(
        {"column": columns, "value": ["" if get(c) is None else str(row[c]) for c in columns]}
    )
    tags = tuple(
        str(c)[len(TAG_PREFIX) :]
        for c in examples.columns
        if str(c).startswith(TAG_PREFIX) and bool(get(c))
    )
    return ExampleView(
        id=str(row["id"]),
        label=str(row["label"]),
        prediction=str(row["prediction"]),
        correct=bool(row["correct"]),
        confidence=None if confidence is None else float(confidence),
        human_label=None if human is None else str(human),
        text=None if get("text") is None else str(row["text"]),
        audio=None if get("audio") is None else str(row["audio"]),
        image=None if get("image") is None else str(row["image"]),
        metadata=metadata,
        dataset_tags=tags,
    )


def review_history(reviews: pd.DataFrame, example_id: str) -> pd.DataFrame:
    """The reviews of one example (from ``DatasetStore.reviews``), newest first."""
    mine = reviews[reviews["example_id"] == example_id]
    return mine.iloc[::-1].reset_index(drop=True)


def queue_label(queue: pd.DataFrame, example_id: str, *, ids: pd.Index | None = None) -> str:
    """The stratum to record with a review of ``example_id``: its queue label, or
    ``"direct"`` for an example opened outside the queue (by id, by a link): it was not
    drawn, so it is kept and shown but enters no estimate as part of a sample. ``ids`` as for
    :func:`queue_index`."""
    index = queue_index(queue, example_id, ids=ids)
    if index is not None:
        return str(queue["queue"].iloc[index])
    return DIRECT
