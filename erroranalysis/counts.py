"""The sufficient statistics of the priority table: what the estimates need from the data.

Every estimate of a tag (share, accuracy, HLP, gap, marginal effect and their intervals)
is a function of a few sums per *target stratum* h (0 = the errors, 1 = the correct
predictions of the run estimated) and tag t, and of nothing else:

=============  ==========================================================================
``size``       N_h, the examples of the stratum in the run (exact integers)
``n``          n_h, the examples where the tag is known and that enter the estimates:
               every example for dataset and rule tags, the reviewed ones (weight not
               NaN) for reviewed tags
``x``          of those, how many carry the tag (exact integers)
``w``, ``w2``  Σw and Σw² over those n_h examples (w = the design weight, 1 where none)
``wx``         Σw·t, the weight of those carrying the tag
``w2x``        Σw²·t
``equal``      every one of those n_h examples has the same weight, so that the integer
               counts say everything (the estimates are then exact ratios of integers)
=============  ==========================================================================

and the same six sums (:class:`Proportion`) for the human-label agreement behind a measured
HLP: over the tagged examples of the stratum that have a second person's label, how many
(and how much weight) agree with the label. :class:`TagCounts` holds them for K tags.

:func:`count_tags` produces them in one vectorised pass over the evidence's bool tag
matrix; another engine (a DuckDB or Spark SQL aggregation grouped by stratum and human
status) produces the same arrays, and :func:`erroranalysis.estimation.estimate` turns them
into the table's numbers. Dataset and rule tags are counted over every example, with
weight 1: their counts are exact integers whatever the reviews' weights.

A :class:`Tally` is a run's evidence as counts: the tags' names and kinds, their
:class:`TagCounts` and what the team set per tag (HLP, effort), with the reviews left out
of the estimates. It is everything :func:`erroranalysis.priorities.priority_table` reads,
so an engine that counts the data elsewhere hands over a Tally (:func:`tally` is the
in-memory one) and the same table follows; :func:`join_tallies` puts the tags counted by
different engines side by side, e.g. dataset and rule tags counted where the data is and
reviewed tags counted from the local reviews.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from .evidence import Checked, Evidence, check_evidence
from .vocabulary import KINDS

__all__ = ["Proportion", "TagCounts", "Tally", "count_tags", "join_tallies", "tag_counts", "tally"]

# Rows per block: a block of bool (and, for weights, float) tag columns stays in the cache.
_CHUNK_ROWS = 1 << 14
_WEIGHT_CHUNK_ROWS = 1 << 12
# The fields of a Proportion, each a (2, K) array.
_SUMS = ("n", "x", "w", "w2", "wx", "w2x", "equal")


@dataclass(frozen=True)
class Proportion:
    """The sufficient statistics of one weighted proportion per stratum and tag: arrays of
    shape (2, K), axis 0 the target stratum (0 errors, 1 correct predictions)."""

    n: np.ndarray  # int64: examples counted
    x: np.ndarray  # int64: of those, with the property
    w: np.ndarray  # float: Σw over the examples counted
    w2: np.ndarray  # float: Σw²
    wx: np.ndarray  # float: Σw over those with the property
    w2x: np.ndarray  # float: Σw² over those with the property
    equal: np.ndarray  # bool: every example counted has the same weight

    @classmethod
    def unweighted(cls, n: np.ndarray, x: np.ndarray) -> Proportion:
        """Counts of examples of weight 1 (a census, or a simple random sample)."""
        n = np.asarray(n, dtype=np.int64)
        x = np.asarray(x, dtype=np.int64)
        return cls(
            n=n,
            x=x,
            w=n.astype(float),
            w2=n.astype(float),
            wx=x.astype(float),
            w2x=x.astype(float),
            equal=np.ones(n.shape, dtype=bool),
        )


@dataclass(frozen=True)
class TagCounts:
    """Everything the estimates of K tags need (see the module): the contract between an
    engine that aggregates the data and :func:`erroranalysis.estimation.estimate`."""

    size: np.ndarray  # int64 (2,) or (2, K): N_h, examples per stratum of the target run
    tag: Proportion  # over the examples where the tag is known: carries the tag
    agreement: Proportion  # over those carrying it with a human label: the label agrees

    @property
    def sizes(self) -> np.ndarray:
        """``size`` as (2, K)."""
        return np.broadcast_to(self.size.reshape(2, -1), self.tag.n.shape)

    @classmethod
    def unweighted(
        cls,
        *,
        size: np.ndarray,
        seen: np.ndarray,
        tagged: np.ndarray,
        human: np.ndarray | None = None,
        agree: np.ndarray | None = None,
    ) -> TagCounts:
        """From integer counts alone, every example of weight 1: ``size`` (2,) or (2, K);
        ``seen``, ``tagged`` and, for a measured HLP, ``human`` and ``agree`` (2, K)."""
        tagged = np.asarray(tagged)
        none = np.zeros(tagged.shape, dtype=np.int64)
        return cls(
            size=np.asarray(size, dtype=np.int64),
            tag=Proportion.unweighted(seen, tagged),
            agreement=Proportion.unweighted(
                none if human is None else human, none if agree is None else agree
            ),
        )


def _group_counts(matrix: np.ndarray, codes: np.ndarray, groups: int) -> np.ndarray:
    """Count true cells per (group, column): ``out[g, j] = sum(matrix[codes == g, j])``.

    Rows with a negative code are skipped. Works in row chunks that stay in
    the CPU cache: one pass over the bool matrix, no float copy of it. Each chunk is
    summed as bytes into 16-bit counters (a chunk holds fewer than 65,536 rows), which
    is faster than ``count_nonzero`` and exact.
    """
    out = np.zeros((groups, matrix.shape[1]), dtype=np.int64)
    if matrix.shape[1] == 0 or len(codes) == 0:
        return out
    present = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=groups))
    if len(present) == 0:
        return out
    skipped = bool((codes < 0).any())
    counted = present if skipped else present[:-1]
    for start in range(0, len(codes), _CHUNK_ROWS):
        block = matrix[start : start + _CHUNK_ROWS].view(np.uint8)
        block_codes = codes[start : start + _CHUNK_ROWS]
        rest = None if skipped else block.sum(axis=0, dtype=np.uint16).astype(np.int64)
        for group in counted:
            count = block[block_codes == group].sum(axis=0, dtype=np.uint16)
            out[group] += count
            if rest is not None:
                rest -= count
        if rest is not None:
            out[present[-1]] += rest
    return out


def _weighted_sums(
    matrix: np.ndarray, codes: np.ndarray, groups: int, weights: np.ndarray
) -> np.ndarray:
    """(2, groups, K): ``out[p, g, j]`` = Σ w^(p+1) over the rows of group g carrying tag j.

    One matrix product per block of rows: (2 * groups, rows) weights by (rows, K) tags.
    """
    out = np.zeros((2 * groups, matrix.shape[1]))
    for start in range(0, len(codes), _WEIGHT_CHUNK_ROWS):
        block = matrix[start : start + _WEIGHT_CHUNK_ROWS].astype(float)
        block_codes = codes[start : start + _WEIGHT_CHUNK_ROWS]
        w = weights[start : start + _WEIGHT_CHUNK_ROWS]
        member = block_codes[None, :] == np.arange(groups)[:, None]  # (groups, rows)
        out += np.concatenate([member * w, member * w**2]) @ block
    return out.reshape(2, groups, -1)


def count_tags(inputs: Checked, *, columns: Sequence[int] | None = None) -> TagCounts:
    """The sufficient statistics of the tags of checked evidence (see the module): of every
    tag, or of those at the positions ``columns``, in that order.

    Its ``weights`` (None for weight 1) weigh the reviewed examples of reviewed tags;
    dataset and rule tags are counted over every example. Counting the reviewed tags
    alone reads only the reviewed examples' rows of the tag matrix.
    """
    n_all = len(inputs.tag_names)
    picked = np.arange(n_all) if columns is None else np.asarray(columns, dtype=np.intp)
    if picked.ndim != 1 or ((picked < 0) | (picked >= n_all)).any():
        raise ValueError(f"columns must be positions of the {n_all} tags, got {columns!r}")
    whole = len(picked) == n_all and bool((picked == np.arange(n_all)).all())
    weights = inputs.weights
    n_tags = len(picked)
    size = np.bincount(inputs.correct.astype(np.int8), minlength=2).astype(np.int64)
    is_reviewed_kind = np.array([inputs.kinds[c] == "reviewed" for c in picked], dtype=bool)
    reviewed = inputs.reviewed
    everywhere = np.flatnonzero(~is_reviewed_kind)  # positions among the tags counted
    only_reviewed = np.flatnonzero(is_reviewed_kind)
    weighted = weights is not None and len(only_reviewed) > 0
    groups = 2 if inputs.human is None else 6
    rows = np.flatnonzero(reviewed)

    def codes_of(at: np.ndarray | None = None) -> np.ndarray:
        """Per example (or per example at ``at``): its target stratum (0 errors, 1 correct)
        and, with human labels, 2 × its human status (0 none, 1 agrees, 2 does not)."""
        correct = inputs.correct if at is None else inputs.correct[at]
        stratum = correct.astype(np.int64)
        if inputs.human is None:
            return stratum
        known, agrees = (part if at is None else part[at] for part in inputs.human)
        return stratum + 2 * np.where(known, np.where(agrees, 1, 2), 0)

    def tag_columns(at: np.ndarray) -> np.ndarray:
        """The matrix columns of the counted tags at positions ``at`` (the matrix itself,
        no copy, when that is every column in order)."""
        if whole and len(at) == n_all:
            return inputs.matrix
        return inputs.matrix[:, picked[at]]

    # Dataset and rule tags are counted over every example, reviewed tags over the
    # reviewed ones only. Selecting rows or columns copies the matrix: worth it when few
    # are reviewed, or with weights (the copy serves both the counts and the weighted
    # sums); else the all-reviewed case skips rows by code -1 in one pass over the matrix.
    reviewed_correct = inputs.correct[rows]
    row_codes = codes_of(rows) if len(only_reviewed) else None  # once, for counts and sums
    subset = None
    if len(only_reviewed) and (
        weighted or 4 * len(rows) <= len(reviewed) or not whole or len(everywhere)
    ):
        subset = inputs.matrix[np.ix_(rows, picked[only_reviewed])]
    by_group = np.zeros((groups, n_tags), dtype=np.int64)
    if len(everywhere):
        by_group[:, everywhere] = _group_counts(tag_columns(everywhere), codes_of(), groups)
    if len(only_reviewed) and subset is None:  # every tag, all reviewed, most examples
        by_group = _group_counts(inputs.matrix, np.where(reviewed, codes_of(), -1), groups)
    elif len(only_reviewed):
        by_group[:, only_reviewed] = _group_counts(subset, row_codes, groups)
    reviewed_size = np.bincount(reviewed_correct.astype(np.int8), minlength=2)
    seen = np.where(is_reviewed_kind, reviewed_size[:, None], size[:, None])
    # (human status, stratum, tag): 0 no label, 1 agrees, 2 does not
    by_group = by_group.reshape(groups // 2, 2, n_tags)
    zeros = np.zeros((2, n_tags), dtype=np.int64)
    tag = Proportion.unweighted(seen, by_group.sum(axis=0))
    agreement = Proportion.unweighted(
        by_group[1:].sum(axis=0) if groups == 6 else zeros, by_group[1] if groups == 6 else zeros
    )
    if not weighted:
        return TagCounts(size=size, tag=tag, agreement=agreement)
    sums = _weighted_sums(subset, row_codes, groups, weights[rows])
    stratum = reviewed_correct.astype(np.int64)
    return TagCounts(
        size=size,
        **_weigh(sums, weights[rows], stratum, groups, only_reviewed, tag, agreement),
    )


def _weigh(
    sums: np.ndarray,
    w: np.ndarray,
    s: np.ndarray,
    groups: int,
    columns: np.ndarray,
    tag: Proportion,
    agreement: Proportion,
) -> dict[str, Proportion]:
    """``tag`` and ``agreement`` with the weighted sums of the reviewed tags at ``columns``
    in place of their weight-1 sums; the integer counts stay as they are. ``sums`` come
    from :func:`_weighted_sums` over the reviewed examples, of weights ``w`` and strata
    ``s``."""
    sums = sums.reshape(2, groups // 2, 2, len(columns))  # (power, human status, stratum, tag)
    per_stratum = [np.bincount(s, weights=w**power, minlength=2) for power in (1, 2)]
    lowest = np.array([w[s == h].min() if (s == h).any() else 0.0 for h in (0, 1)])
    highest = np.array([w[s == h].max() if (s == h).any() else 0.0 for h in (0, 1)])
    equal = lowest == highest

    def with_columns(proportion: Proportion, **values: np.ndarray) -> Proportion:
        fields = {name: getattr(proportion, name).copy() for name in ("w", "w2", "wx", "w2x")}
        fields["equal"] = proportion.equal.copy()
        for name, value in values.items():
            fields[name][:, columns] = value
        return Proportion(n=proportion.n, x=proportion.x, **fields)

    labelled = sums[:, 1:].sum(axis=1) if groups == 6 else np.zeros((2, 2, len(columns)))
    agrees = sums[:, 1] if groups == 6 else np.zeros((2, 2, len(columns)))
    repeat = np.repeat(equal[:, None], len(columns), axis=1)
    return {
        "tag": with_columns(
            tag,
            w=per_stratum[0][:, None],
            w2=per_stratum[1][:, None],
            wx=sums[0].sum(axis=0),
            w2x=sums[1].sum(axis=0),
            equal=repeat,
        ),
        "agreement": with_columns(
            agreement,
            w=labelled[0],
            w2=labelled[1],
            wx=agrees[0],
            w2x=agrees[1],
            equal=repeat,
        ),
    }


def tag_counts(evidence: Evidence) -> TagCounts:
    """The sufficient statistics of every tag of ``evidence``, weighted by its ``weights``
    (ValueError naming the problem for evidence an analysis would refuse)."""
    return count_tags(check_evidence(evidence))


@dataclass(frozen=True)
class Tally:
    """A run's evidence as counts (see the module): per tag, in order, its name, its kind
    (one of :data:`~erroranalysis.vocabulary.KINDS`) and the column of ``counts``; the HLP
    and effort the team set, by tag; the reviews left out of the estimates, by reason."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    counts: TagCounts
    hlp: Mapping[str, float] = field(default_factory=dict)
    effort: Mapping[str, float] = field(default_factory=dict)
    left_out: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.kinds) != len(self.names):
            raise ValueError(f"a tally of {len(self.names)} tags has {len(self.kinds)} kinds")
        if len(set(self.names)) != len(self.names):
            raise ValueError("a tally names a tag twice")
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown tag kind {unknown[0]!r}: the kinds are {KINDS}")
        shape = (2, len(self.names))
        for part in ("tag", "agreement"):
            for name in _SUMS:
                got = np.shape(getattr(getattr(self.counts, part), name))
                if got != shape:
                    raise ValueError(
                        f"counts.{part}.{name} has shape {got}, not {shape} for "
                        f"{len(self.names)} tags"
                    )
        if np.shape(self.counts.size) not in ((2,), shape):
            raise ValueError(f"counts.size has shape {np.shape(self.counts.size)}, not (2,)")

    def select(self, names: Sequence[str]) -> Tally:
        """The tally of the tags ``names`` only, in that order (ValueError naming a tag it
        does not hold)."""
        where = {name: i for i, name in enumerate(self.names)}
        missing = [name for name in names if name not in where]
        if missing:
            raise ValueError(f"the tally has no tag {missing[0]!r}")
        keep = [where[name] for name in names]

        def take(proportion: Proportion) -> Proportion:
            return Proportion(**{f: np.asarray(getattr(proportion, f))[:, keep] for f in _SUMS})

        size = self.counts.size
        chosen = set(names)
        return Tally(
            names=tuple(names),
            kinds=tuple(self.kinds[i] for i in keep),
            counts=TagCounts(
                size=size if size.ndim == 1 else size[:, keep],
                tag=take(self.counts.tag),
                agreement=take(self.counts.agreement),
            ),
            hlp={t: v for t, v in self.hlp.items() if t in chosen},
            effort={t: v for t, v in self.effort.items() if t in chosen},
            left_out=dict(self.left_out),
        )


def tally(evidence: Evidence, *, kinds: Collection[str] = KINDS) -> Tally:
    """The in-memory engine: ``evidence``'s tags counted in one pass over its frames, those
    of ``kinds`` only (of :data:`~erroranalysis.vocabulary.KINDS`) when given (ValueError
    naming the problem for evidence an analysis would refuse).

    Joined again in the evidence's order, tallies by kind equal the whole tally: a cache
    may keep the dataset and rule tags' counts, which only a new rule or import changes,
    and count the reviewed tags, which read only the reviewed rows, after each review."""
    unknown = sorted(set(kinds) - set(KINDS)) if not isinstance(kinds, str) else [kinds]
    if unknown:
        raise ValueError(f"kinds must be a collection of {KINDS}, got {unknown[0]!r}")
    inputs = check_evidence(evidence)
    columns = [i for i, kind in enumerate(inputs.kinds) if kind in kinds]
    names = tuple(inputs.tag_names[i] for i in columns)
    return Tally(
        names=names,
        kinds=tuple(inputs.kinds[i] for i in columns),
        counts=count_tags(inputs, columns=columns),
        hlp={t: v for t, v in inputs.hlp.items() if t in names},
        effort={t: v for t, v in inputs.effort.items() if t in names},
        # The reviews left out concern the reviewed tags' estimates alone.
        left_out={str(k): int(v) for k, v in evidence.left_out.items()}
        if "reviewed" in kinds
        else {},
    )


def _joined(parts: list[Proportion]) -> Proportion:
    return Proportion(
        **{name: np.concatenate([getattr(part, name) for part in parts], axis=1) for name in _SUMS}
    )


def _merged(mappings: list[Mapping], what: str) -> dict:
    merged: dict = {}
    for mapping in mappings:
        for key, value in mapping.items():
            if key in merged and merged[key] != value:
                raise ValueError(f"the tallies disagree on the {what} of {key!r}")
            merged[key] = value
    return merged


def join_tallies(*parts: Tally) -> Tally:
    """The tags of ``parts`` side by side, in order, e.g. the dataset and rule tags of a
    run counted where its data is and its reviewed tags counted from the local reviews
    (ValueError where a tag repeats or the parts disagree on a tag's HLP or effort, or on
    the reviews left out)."""
    if not parts:
        raise ValueError("join_tallies needs at least one tally")
    size = np.concatenate([p.counts.sizes for p in parts], axis=1)
    if (size == size[:, :1]).all():  # one size per stratum, as one engine gives it
        size = (size if size.shape[1] else parts[0].counts.size.reshape(2, -1))[:, 0].copy()
    return Tally(
        names=tuple(name for p in parts for name in p.names),
        kinds=tuple(kind for p in parts for kind in p.kinds),
        counts=TagCounts(
            size=size,
            tag=_joined([p.counts.tag for p in parts]),
            agreement=_joined([p.counts.agreement for p in parts]),
        ),
        hlp=_merged([p.hlp for p in parts], "HLP"),
        effort=_merged([p.effort for p in parts], "effort"),
        left_out=_merged([p.left_out for p in parts], "reviews left out for the reason"),
    )
