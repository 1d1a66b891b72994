"""Samples in the store: the checks a draw passes before it is recorded, and the checks a
review that names a sample passes before it is written.

A sample is one draw from one run of a dataset (see :class:`erroranalysis.sampling.Draw`):
its strategy, seed, planned size, design (JSON) and draws, one row per drawn example with
its stratum, its inclusion probability and its place in the review order. The draws are
kept as one Parquet blob beside the row, like a run's frame: a sample of a million
examples reads back in a fraction of a second. :class:`~erroranalysis.store.DatasetStore`
calls these helpers and holds the transactions.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..errors import StoreError
from ..vocabulary import STRATEGIES
from .common import _blob_to_frame, _frame_to_blob

if TYPE_CHECKING:
    # Only the type: the store never imports the sampling engine.
    from ..sampling import Draw

DRAW_COLUMNS = ("id", "stratum", "probability", "order")
SAMPLE_COLUMNS = ("id", "run", "strategy", "seed", "size", "created_at", "created_by", "design")


def _more(values: Sequence[object]) -> str:
    """``'x'`` or ``'x' (and 3 more)``, for a message naming the first of several."""
    first = f"{values[0]!r}"
    return first + (f" (and {len(values) - 1} more)" if len(values) > 1 else "")


def _integer(value: object, name: str, *, low: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise StoreError(f"the sample's {name} must be a whole number, got {value!r}")
    if low is not None and value < low:
        raise StoreError(f"the sample's {name} must be at least {low}, got {value!r}")
    return int(value)


def check_draw(draw: Draw, *, run: str, run_ids: pd.Index) -> tuple[pd.DataFrame, str]:
    """The draw's rows as stored (id, stratum, probability, order, in review order) and
    its design as JSON, or :class:`StoreError` naming the first problem.

    Types are checked before values: every id must be text and an id of ``run``
    (``run_ids``), drawn once; every stratum non-empty text; every probability a number in
    (0, 1]; every order a distinct whole number. The design must be a JSON object.
    """
    strategy = draw.strategy
    if strategy not in STRATEGIES:
        known = ", ".join(STRATEGIES)
        raise StoreError(f"unknown sampling strategy {strategy!r} (strategies: {known})")
    _integer(draw.seed, "seed")
    _integer(draw.size, "size", low=1)
    if not isinstance(draw.design, Mapping):
        raise StoreError(f"the sample's design must be a mapping, got {type(draw.design).__name__}")
    try:
        design = json.dumps(dict(draw.design), allow_nan=False, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise StoreError(f"the sample's design is not JSON: {err}") from None
    examples = draw.examples
    if not isinstance(examples, pd.DataFrame):
        raise StoreError(f"the draws must be a DataFrame, got {type(examples).__name__}")
    missing = [c for c in DRAW_COLUMNS if c not in examples.columns]
    if missing:
        raise StoreError(f"the draws have no {missing} columns")
    if examples.empty:
        raise StoreError("the sample draws no example; nothing was recorded")
    ids = examples["id"]
    if not all(isinstance(v, str) for v in ids.tolist()):
        bad = [v for v in ids.tolist() if not isinstance(v, str)]
        raise StoreError(f"drawn ids must be text, got {_more(bad)}")
    strata = examples["stratum"].tolist()
    if not all(isinstance(v, str) and v for v in strata):
        bad = [v for v in strata if not (isinstance(v, str) and v)]
        raise StoreError(f"strata must be non-empty text, got {_more(bad)}")
    probability = examples["probability"]
    if not pd.api.types.is_numeric_dtype(probability) or pd.api.types.is_bool_dtype(probability):
        raise StoreError(f"inclusion probabilities must be numbers, got {probability.dtype}")
    order = examples["order"]
    if not pd.api.types.is_integer_dtype(order):
        raise StoreError(f"the draws' order must be whole numbers, got {order.dtype}")
    values = probability.to_numpy(dtype=float)
    bad = ~((values > 0) & (values <= 1))  # NaN fails both
    if bad.any():
        where = ids[bad].tolist()
        raise StoreError(
            f"the inclusion probability of {_more(where)} is {float(values[bad][0])!r}; "
            "it must be a number in (0, 1]"
        )
    if ids.duplicated().any():
        raise StoreError(f"example {_more(ids[ids.duplicated()].tolist())} is drawn twice")
    if order.duplicated().any():
        raise StoreError(f"the draws' order repeats {_more(order[order.duplicated()].tolist())}")
    unknown = run_ids.get_indexer(ids) < 0
    if unknown.any():
        raise StoreError(f"run {run!r} has no example with id {_more(ids[unknown].tolist())}")
    stored = pd.DataFrame(
        {
            "id": ids.astype(str).to_numpy(dtype=object),
            "stratum": np.asarray(strata, dtype=object),
            "probability": values,
            "order": order.to_numpy(dtype=np.int64),
        }
    )
    return stored.sort_values("order", kind="stable").reset_index(drop=True), design


def draws_blob(draws: pd.DataFrame) -> bytes:
    return _frame_to_blob(draws)


def blob_draws(blob: bytes) -> pd.DataFrame:
    frame = _blob_to_frame(blob)
    return frame.astype({"id": object, "stratum": object, "probability": float, "order": "int64"})


def no_samples() -> pd.DataFrame:
    """The frame :meth:`DatasetStore.samples` returns when there is none."""
    dtypes = {"id": "int64", "seed": "Int64", "size": "int64", "design": object}
    return pd.DataFrame(
        {c: pd.Series(dtype=dtypes.get(c, object)) for c in SAMPLE_COLUMNS},
    )


def check_review_samples(
    conn: sqlite3.Connection,
    *,
    dataset: str,
    dataset_id: int,
    ids: Sequence[str],
    samples: Sequence[int | None],
) -> str | None:
    """Check that every review naming a sample names one of ``dataset`` and an example
    drawn in it; returns the run the samples were drawn from (None when no row names a
    sample). Raises :class:`StoreError` naming the first bad row (1-based)."""
    named = sorted({s for s in samples if s is not None})
    if not named:
        return None
    rows = conn.execute(
        "SELECT samples.id, samples.dataset_id, datasets.name, runs.name, draws FROM samples"
        " JOIN datasets ON datasets.id = samples.dataset_id JOIN runs ON runs.id = run_id"
        f" WHERE samples.id IN ({','.join('?' * len(named))})",
        named,
    ).fetchall()
    found = {row[0]: row for row in rows}
    runs: set[str] = set()
    drawn: dict[int, pd.Index] = {}
    for sample in named:
        if sample not in found:
            row = next(i for i, s in enumerate(samples) if s == sample)
            raise StoreError(f"row {row + 1}: dataset {dataset!r} has no sample {sample}")
        _, owner, owner_name, run, blob = found[sample]
        if owner != dataset_id:
            row = next(i for i, s in enumerate(samples) if s == sample)
            raise StoreError(
                f"row {row + 1}: sample {sample} is a sample of dataset {owner_name!r}, "
                f"not of {dataset!r}"
            )
        runs.add(run)
        drawn[sample] = pd.Index(blob_draws(blob)["id"])
    examples = np.asarray(ids, dtype=object)
    named_in = np.asarray([-1 if s is None else s for s in samples], dtype=np.int64)
    for sample, index in drawn.items():
        rows_of = np.flatnonzero(named_in == sample)
        outside = index.get_indexer(examples[rows_of]) < 0
        if outside.any():
            row = int(rows_of[np.argmax(outside)])
            raise StoreError(
                f"row {row + 1}: example {examples[row]!r} was not drawn in sample {sample}"
            )
    if len(runs) > 1:
        listing = ", ".join(sorted(runs))
        raise StoreError(
            f"the reviews name samples of different runs ({listing}); import each apart"
        )
    return runs.pop()


def _whole(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int | np.integer):
        return True
    return isinstance(value, float | np.floating) and float(value).is_integer()


def sample_ids(reviews: pd.DataFrame) -> list[int | None]:
    """The ``sample_id`` column of ``reviews`` as ints and None (NA), or StoreError naming
    the first cell that is not a sample id (a whole number)."""
    if "sample_id" not in reviews.columns:
        return [None] * len(reviews)
    column = reviews["sample_id"]
    missing = column.isna().to_numpy()
    if pd.api.types.is_integer_dtype(column.dtype):
        values = column.to_numpy(dtype=np.int64, na_value=0).tolist()
        return [None if m else v for v, m in zip(values, missing, strict=True)]
    out: list[int | None] = []
    for row, (value, gone) in enumerate(zip(column.astype(object).tolist(), missing, strict=True)):
        if gone:
            out.append(None)
        elif _whole(value):
            out.append(int(value))
        else:
            raise StoreError(f"row {row + 1}: sample_id must be a whole number, got {value!r}")
    return out
