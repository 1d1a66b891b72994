"""The review queue: which examples a reviewer sees, in which order, and how far the review got.

A queue holds every error that matches the filters plus a seeded random sample of the
correct examples that match them. The correct sample keeps the review honest: a tag's share
among errors only means something next to its share among correct examples, and a reviewer
who sees nothing but errors cannot tell "this slice is hard" from "this slice is common".
Each queue row says which stratum it came from (``"error"`` or ``"correct sample"``), and
that label is recorded with the review.

Everything here is vectorised over the example frame (numpy masks, one random key per
example), so building a queue over a million examples takes a fraction of a second.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .vocabulary import TAG_PREFIX

ERROR = "error"
CORRECT_SAMPLE = "correct sample"
DIRECT = "direct"  # a correct example opened by id or link, outside the random sample
ORDERS = ("random", "lowest_confidence")
MAX_CORRECT_FRACTION = 0.9


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


def review_queue(
    examples: pd.DataFrame,
    *,
    reviewed_ids: Collection[str] = (),
    correct_fraction: float = 0.1,
    seed: int = 0,
    filters: ReviewFilters | None = None,
    order: str = "random",
    tags_by_example: pd.DataFrame | None = None,
    include_reviewed: bool = False,
    ids: pd.Index | None = None,
) -> pd.DataFrame:
    """The examples to review, in review order.

    Every error that passes ``filters`` plus a seeded random sample of the correct examples
    that pass them, sized so that correct examples make up ``correct_fraction`` of the queue.
    The sample is nested: a larger fraction (same seed) keeps every example of a smaller
    one, so moving the slider never reshuffles what was already sampled. Already reviewed
    examples count towards the sample but leave the queue unless ``include_reviewed``.

    ``order`` is ``"random"`` (errors and correct examples mixed, seeded) or
    ``"lowest_confidence"``. ``ids`` may pass ``pd.Index(examples["id"])`` built once, to skip
    rebuilding its hash table on every call.

    Returns a frame with columns ``position`` (row position in ``examples``), ``id`` and
    ``queue`` (``"error"`` or ``"correct sample"``), indexed 0..n-1 in review order.
    """
    if order not in ORDERS:
        raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
    if order == "lowest_confidence" and "confidence" not in examples.columns:
        raise ValueError("this run has no confidence column to order by")
    filters = filters or ReviewFilters()
    ids = _id_index(examples, ids)
    n = len(examples)
    # One random key per example, drawn over the whole frame: the same seed gives the same
    # keys whatever the filters, which keeps samples stable and nested.
    keys = np.random.default_rng(seed).random(n)
    passes = filter_mask(examples, filters, tags_by_example=tags_by_example, ids=ids)
    correct = examples["correct"].to_numpy(dtype=bool)
    errors = np.flatnonzero(passes & ~correct)
    candidates = np.flatnonzero(passes & correct)
    size = correct_sample_size(len(errors), len(candidates), correct_fraction)
    if size < len(candidates):
        # The ``size`` candidates with the smallest keys, in O(n): no full sort.
        sample = candidates[np.argpartition(keys[candidates], size)[:size]]
    else:
        sample = candidates
    positions = np.concatenate([errors, np.sort(sample)]).astype(np.int64)
    labels = np.array([ERROR] * len(errors) + [CORRECT_SAMPLE] * len(sample), dtype=object)
    if not include_reviewed and len(reviewed_ids):
        keep = ~np.isin(positions, positions_of(ids, reviewed_ids))
        positions, labels = positions[keep], labels[keep]
    if order == "random":
        rank = np.argsort(keys[positions], kind="stable")
    else:
        confidence = examples["confidence"].to_numpy(dtype=float, na_value=np.nan)[positions]
        # lexsort sorts by the last key first: confidence (NaN last), then the random key.
        rank = np.lexsort((keys[positions], np.where(np.isnan(confidence), np.inf, confidence)))
    positions, labels = positions[rank], labels[rank]
    return pd.DataFrame(
        {
            "position": positions,
            "id": ids[positions].to_numpy(dtype=object),
            "queue": labels,
        }
    )


def queue_mix(queue: pd.DataFrame) -> dict[str, int]:
    """How many queue rows came from each stratum: ``{"error": n, "correct sample": m}``."""
    counts = queue["queue"].value_counts()
    return {label: int(counts.get(label, 0)) for label in (ERROR, CORRECT_SAMPLE)}


def review_progress(
    examples: pd.DataFrame,
    queue: pd.DataFrame,
    reviewed_ids: Iterable[str],
    *,
    ids: pd.Index | None = None,
) -> ReviewProgress:
    """Reviewed errors out of all the run's errors, and reviewed correct examples out of the
    correct sample of ``queue`` (built with ``include_reviewed=True``)."""
    ids = _id_index(examples, ids)
    reviewed = positions_of(ids, reviewed_ids)
    correct = examples["correct"].to_numpy(dtype=bool)
    sampled = queue["position"].to_numpy()[queue["queue"].to_numpy() == CORRECT_SAMPLE]
    return ReviewProgress(
        errors_reviewed=int((~correct[reviewed]).sum()),
        errors_total=int((~correct).sum()),
        correct_reviewed=int(np.isin(sampled, reviewed).sum()),
        correct_sampled=len(sampled),
    )


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
        start = min(current, len(ids))
        candidates = ids[:start][::-1]
    if len(skip_ids):
        free = np.flatnonzero(~pd.Index(candidates, dtype=object).isin(list(skip_ids)))
    else:
        free = np.arange(len(candidates))
    if not len(free):
        return None
    offset = int(free[0])
    return start + offset if direction == 1 else start - 1 - offset


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


def queue_label(
    queue: pd.DataFrame, example_id: str, *, correct: bool, ids: pd.Index | None = None
) -> str:
    """The stratum to record with a review of ``example_id``: its queue label, or for an
    example opened outside the queue ``"error"`` / ``"direct"`` (a correct example that
    was not drawn at random, so it must not count as part of the correct sample).
    ``ids`` as for :func:`queue_index`."""
    index = queue_index(queue, example_id, ids=ids)
    if index is not None:
        return str(queue["queue"].iloc[index])
    return DIRECT if correct else ERROR
