"""The sufficient statistics of comparing two runs: what :func:`~erroranalysis.compare.
compare_runs` needs from the data.

The two runs' examples are paired by id; each pair falls in one of four cells of joint
correctness, coded 2 * correct in A + correct in B (:data:`BOTH_WRONG`, :data:`ONLY_B`,
:data:`ONLY_A`, :data:`BOTH_RIGHT`). Every number of the comparison table is a function of
these arrays of :class:`CompareCounts` (axis 0 the cell, K the tags) and of nothing else:

==============  ==========================================================================
``names``       (K,) the tags compared, run B's first; ``kinds`` their kinds
``exact``       (K,) bool: known on every example (a dataset or rule tag in either run);
                the others are reviewed tags, known on run B's reviewed examples
``cell_size``   (4,) int64: the paired examples per cell (exact integers)
``paired``      the examples in both runs; ``only_a``, ``only_b``: in one run only
``tagged``      (4, K) int64: per cell, the examples carrying the tag (exact tags), or the
                reviewed examples carrying it (reviewed tags)
``reviews``     (4,) int64: run B's reviewed examples per cell
``w``, ``w2``   (4,) Σw and Σw² over those reviews (w the design weight, 1 where none)
``wt``, ``w2t`` (4, K) Σw and Σw² over the reviews carrying the tag (0 for exact tags)
==============  ==========================================================================

:func:`compare_counts` pairs the runs and produces them in one pass over the paired rows
(cache-sized blocks of the two tag matrices, counted per cell); another engine (a DuckDB or
Spark SQL join on the id grouped by cell) produces the same arrays, and
:func:`erroranalysis.compare.compare_from_counts` turns them into the table. Pairing the
examples by id is a join, not a count: it happens here, before counting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evidence import Checked, Evidence

__all__ = [
    "BOTH_RIGHT",
    "BOTH_WRONG",
    "CELL_NAMES",
    "ONLY_A",
    "ONLY_B",
    "CompareCounts",
    "compare_counts",
]

# The four cells of joint correctness, coded 2 * correct in A + correct in B.
BOTH_WRONG, ONLY_B, ONLY_A, BOTH_RIGHT = 0, 1, 2, 3
CELL_NAMES = {
    BOTH_WRONG: "wrong in both runs",
    ONLY_B: "wrong in A and correct in B",
    ONLY_A: "correct in A and wrong in B",
    BOTH_RIGHT: "correct in both runs",
}
_CHUNK_ROWS = 1 << 16  # rows per block when counting: the block stays in the CPU cache


@dataclass(frozen=True)
class CompareCounts:
    """Everything the comparison table needs (see the module): the contract between an
    engine that pairs and counts the runs and :func:`erroranalysis.compare.compare_from_counts`."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    exact: np.ndarray
    cell_size: np.ndarray
    paired: int
    only_a: int
    only_b: int
    tagged: np.ndarray
    reviews: np.ndarray
    w: np.ndarray
    w2: np.ndarray
    wt: np.ndarray
    w2t: np.ndarray


# --------------------------------------------------------------------------- pairing


def _raw_ids(examples: pd.DataFrame) -> pd.Series:
    """The example ids as stored: the ``id`` column, else the index."""
    ids = examples["id"] if "id" in examples.columns else examples.index.to_series()
    return ids.reset_index(drop=True)


def _ids(raw: pd.Series) -> pd.Index:
    return pd.Index(raw.astype(str).to_numpy(), dtype=object)


def _run_name(evidence: Evidence, fallback: str) -> str:
    return repr(evidence.run) if evidence.run else fallback


@dataclass(frozen=True)
class _Pair:
    """The examples of both runs, aligned: row i of the comparison is row ``rows_b[i]`` of
    run B and row ``rows_a[i]`` of run A (slices when both runs list the same ids in the
    same order)."""

    rows_b: np.ndarray | slice
    rows_a: np.ndarray | slice
    size: int
    only_b: int  # examples of run B that run A lacks
    only_a: int


def _align(evidence: Evidence, baseline: Evidence) -> _Pair:
    raw_b, raw_a = _raw_ids(evidence.examples), _raw_ids(baseline.examples)
    # Two runs of one export list the same ids in the same order: compared as stored (a
    # vectorised check), they need no lookup, and no million Python strings.
    if len(raw_b) and raw_b.dtype == raw_a.dtype and raw_b.equals(raw_a):
        whole = slice(0, len(raw_b))
        return _Pair(rows_b=whole, rows_a=whole, size=len(raw_b), only_b=0, only_a=0)
    ids_b, ids_a = _ids(raw_b), _ids(raw_a)
    for ids, which in ((ids_b, "evidence"), (ids_a, "baseline")):
        if not ids.is_unique:
            repeated = sorted(set(ids[ids.duplicated()]))[:5]
            raise ValueError(f"{which} has duplicate example ids: {repeated}")
    found = ids_a.get_indexer(ids_b)
    rows_b = np.flatnonzero(found >= 0)
    if len(rows_b) == 0:
        raise ValueError(
            f"runs {_run_name(baseline, 'A')} and {_run_name(evidence, 'B')} share no examples "
            "(no example id is in both): compare two runs of the same examples"
        )
    size = len(rows_b)
    return _Pair(
        rows_b=rows_b,
        rows_a=found[rows_b],
        size=size,
        only_b=len(ids_b) - size,
        only_a=len(ids_a) - size,
    )


def _observed(checked: Checked) -> tuple[np.ndarray, np.ndarray]:
    """(enters the estimates, design weight) per example: the reviewed examples, with
    their weights where the evidence has them (check_evidence checked them), else 1."""
    if checked.weights is None:
        return checked.reviewed, np.ones(len(checked.reviewed))
    return checked.reviewed, np.nan_to_num(checked.weights, nan=0.0)


# --------------------------------------------------------------------------- counting


@dataclass(frozen=True)
class _Tags:
    """The tags compared: per tag its column in each run's matrix (-1: not there)."""

    names: list[str]
    kinds: list[str]
    exact: np.ndarray  # bool: known on every example (a dataset or rule tag in a run)
    column_b: np.ndarray
    column_a: np.ndarray


def _tags(checked_b: Checked, checked_a: Checked) -> _Tags:
    """Every tag of either run, run B's first. A tag that is a dataset or rule tag in
    either run is exact, and an example carries it if it does in either run's data."""
    position_b = {tag: j for j, tag in enumerate(checked_b.tag_names)}
    position_a = {tag: j for j, tag in enumerate(checked_a.tag_names)}
    kind_b = dict(zip(checked_b.tag_names, checked_b.kinds, strict=True))
    kind_a = dict(zip(checked_a.tag_names, checked_a.kinds, strict=True))
    names = list(dict.fromkeys([*checked_b.tag_names, *checked_a.tag_names]))
    kinds, exact, column_b, column_a = [], [], [], []
    for tag in names:
        known = [k for k in (kind_b.get(tag), kind_a.get(tag)) if k not in (None, "reviewed")]
        is_exact = bool(known)
        kinds.append(known[0] if known else "reviewed")
        exact.append(is_exact)
        # An exact tag takes only the columns where it is exact; a reviewed one only those
        # where it is reviewed (the same assignments, read for either run).
        for position, kind, out in ((position_b, kind_b, column_b), (position_a, kind_a, column_a)):
            usable = tag in position and ((kind[tag] != "reviewed") == is_exact)
            out.append(position[tag] if usable else -1)
    return _Tags(
        names=names,
        kinds=kinds,
        exact=np.array(exact, dtype=bool),
        column_b=np.array(column_b, dtype=np.int64),
        column_a=np.array(column_a, dtype=np.int64),
    )


def _rows(rows: np.ndarray | slice, part: slice) -> np.ndarray | slice:
    if isinstance(rows, slice):
        return slice(rows.start + part.start, rows.start + part.stop)
    return rows[part]


def _block(
    matrix_b: np.ndarray,
    matrix_a: np.ndarray,
    column_b: np.ndarray,
    column_a: np.ndarray,
    rows_b: np.ndarray | slice,
    rows_a: np.ndarray | slice,
) -> np.ndarray:
    """The tags (columns) of some aligned rows: carried in run B's or in run A's matrix."""
    out = np.zeros((_length(rows_b), len(column_b)), dtype=bool)
    for matrix, columns, rows in ((matrix_b, column_b, rows_b), (matrix_a, column_a, rows_a)):
        present = np.flatnonzero(columns >= 0)
        if len(present) == 0:
            continue
        part = matrix[rows]
        if len(present) == len(columns) and np.array_equal(columns, np.arange(matrix.shape[1])):
            out |= part
        else:
            out[:, present] |= part[:, columns[present]]
    return out


def _length(rows: np.ndarray | slice) -> int:
    return rows.stop - rows.start if isinstance(rows, slice) else len(rows)


def _cell_counts(
    pair: _Pair, codes: np.ndarray, matrix_b, matrix_a, column_b, column_a
) -> np.ndarray:
    """(4, K): examples of each cell carrying each tag, one cache-sized block at a time."""
    out = np.zeros((4, len(column_b)), dtype=np.int64)
    if len(column_b) == 0:
        return out
    for start in range(0, pair.size, _CHUNK_ROWS):
        part = slice(start, min(start + _CHUNK_ROWS, pair.size))
        block = _block(
            matrix_b,
            matrix_a,
            column_b,
            column_a,
            _rows(pair.rows_b, part),
            _rows(pair.rows_a, part),
        )
        block_codes = codes[part]
        rest = np.count_nonzero(block, axis=0)
        for cell in (BOTH_WRONG, ONLY_B, ONLY_A):
            count = np.count_nonzero(block[block_codes == cell], axis=0)
            out[cell] += count
            rest -= count
        out[BOTH_RIGHT] += rest
    return out


def _rows_at(rows: np.ndarray | slice, positions: np.ndarray) -> np.ndarray:
    return rows.start + positions if isinstance(rows, slice) else rows[positions]


def _weighted_sums(
    codes: np.ndarray, weights: np.ndarray, tags: np.ndarray
) -> tuple[np.ndarray, ...]:
    """Per cell, from the reviews (``codes`` their cell, ``weights`` their design weights,
    ``tags`` (n, K) bool): reviews, reviews carrying each tag, Σw, Σw², Σw·t, Σw²·t."""
    k = tags.shape[1]
    reviews = np.bincount(codes, minlength=4).astype(np.int64)
    tagged = np.zeros((4, k), dtype=np.int64)
    w, w2 = np.zeros(4), np.zeros(4)
    wt, w2t = np.zeros((4, k)), np.zeros((4, k))
    values = tags.astype(float)
    for cell in range(4):
        here = codes == cell
        if not here.any():
            continue
        weight, t = weights[here], values[here]
        w[cell], w2[cell] = weight.sum(), (weight * weight).sum()
        wt[cell], w2t[cell] = weight @ t, (weight * weight) @ t
        tagged[cell] = np.count_nonzero(tags[here], axis=0)
    return reviews, tagged, w, w2, wt, w2t


def compare_counts(
    evidence: Evidence, baseline: Evidence, checked_b: Checked, checked_a: Checked
) -> CompareCounts:
    """The sufficient statistics of comparing run B (``evidence``) with run A
    (``baseline``), from their checked evidence (see the module). ValueError when the runs
    have duplicate ids or share no example."""
    observed_b, weights_b = _observed(checked_b)
    pair = _align(evidence, baseline)
    codes = 2 * checked_a.correct[pair.rows_a].astype(np.int64) + checked_b.correct[pair.rows_b]
    tags = _tags(checked_b, checked_a)
    k = len(tags.names)
    tagged = np.zeros((4, k), dtype=np.int64)
    wt, w2t = np.zeros((4, k)), np.zeros((4, k))
    exact = np.flatnonzero(tags.exact)
    if len(exact):
        tagged[:, exact] = _cell_counts(
            pair,
            codes,
            checked_b.matrix,
            checked_a.matrix,
            tags.column_b[exact],
            tags.column_a[exact],
        )
    observed = np.flatnonzero(observed_b[pair.rows_b])
    rows_b = _rows_at(pair.rows_b, observed)
    reviewed = np.flatnonzero(~tags.exact)
    values = _block(
        checked_b.matrix,
        checked_a.matrix,
        tags.column_b[reviewed],
        tags.column_a[reviewed],
        rows_b,
        _rows_at(pair.rows_a, observed),
    )
    reviews, seen, w, w2, sums, squares = _weighted_sums(codes[observed], weights_b[rows_b], values)
    tagged[:, reviewed], wt[:, reviewed], w2t[:, reviewed] = seen, sums, squares
    return CompareCounts(
        names=tuple(tags.names),
        kinds=tuple(tags.kinds),
        exact=tags.exact,
        cell_size=np.bincount(codes, minlength=4).astype(np.int64),
        paired=pair.size,
        only_a=pair.only_a,
        only_b=pair.only_b,
        tagged=tagged,
        reviews=reviews,
        w=w,
        w2=w2,
        wt=wt,
        w2t=w2t,
    )
