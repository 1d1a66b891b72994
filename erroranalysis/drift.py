"""Drift by tag: has production moved toward the data where the model is weak?

:func:`drift_table` compares a labelled dataset (the dev set, ``evidence``) with a
production sample (``against``: predictions without labels, imported with
``--production``) tag by tag, or value by value of one column:

* **Shares.** For every dataset or rule tag known on both (a tag from the data whose
  column the production sample has; a rule evaluated on both), its share in dev and in
  production, each with the modified Jeffreys interval the rest of the tool uses
  (:func:`~erroranalysis.estimation.proportion_interval`), and the two-sided Fisher
  exact test of equal shares. ``p_adjusted`` is Holm's step-down adjustment over the
  rows of the table (one hypothesis per row: every tag, or every value, compared);
  ``drifted`` is ``p_adjusted < 1 - level``. A rule tag that cannot be evaluated on the
  production sample (a column it reads is missing there) is an error naming it: its
  drift cannot be told, and leaving it out would hide that. Reviewed tags are known only
  on the reviewed sample of dev and on nothing in production, so they are left out.
* **Projected accuracy.** The dev accuracies reweighted by production's shares: over a
  partition of the data into cells c, ``projected = sum_c share_against(c) *
  accuracy_dev(c)``. With ``by=COLUMN`` the cells are the column's values (missing is a
  value of its own) and every row carries the dataset's projection; per tag the cells
  are the tag and the rest, so a tag's ``projected_accuracy`` is the dataset's accuracy
  when only that tag's share moves to production's. Its interval comes from seeded
  Monte Carlo draws, as the priority table's: the production shares from a Dirichlet
  posterior (counts + 1/2), each cell's dev accuracy from its Jeffreys Beta posterior.
  A cell production has and dev lacks has no accuracy to project: the projection is
  then missing, with a note. The projection is valid when the cells mean the same in
  both (same tag definitions) and the model's accuracy within a cell does not change
  between dev and production; it does not see drift within a cell.
* **Marginal effects on production shares.** Per tag, ``max(hlp - accuracy_dev, 0)``
  times the share in dev and in production (the latter with an interval from draws of
  the accuracy and of the production share, the HLP at its priority-table value).

Two steps: :func:`drift_counts` counts each tag or value on both sides
(:class:`DriftCounts`, the contract another engine's aggregation also produces), then
:func:`drift_from_counts` computes the table from those counts alone. Telling which tags are
known on both sides, and a column's values, is done from the evidence before counting; a
tag's measured HLP is the priority table's, computed from its own counts.

``tests/test_drift.py`` checks the projection against a hand computation and the share
and projection intervals' coverage by simulation.
"""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .estimation import proportion_interval, ratio
from .evidence import (
    Checked,
    Evidence,
    _check_draws,
    _check_fraction,
    _check_tags,
    check_evidence,
)
from .priorities import priority_table
from .slices import holm_adjust

__all__ = [
    "DRIFT_BY_COLUMNS",
    "DRIFT_COLUMNS",
    "MAX_VALUES",
    "DriftCounts",
    "drift_counts",
    "drift_from_counts",
    "drift_table",
]

LEVEL = 0.95
DRAWS = 4000
MIN_DRAWS = 100
# A partition by a column with more values than this is refused: per-value shares of an
# id or a continuous number say nothing, and a rule tag bins it better.
MAX_VALUES = 100
MISSING = "(missing)"
SMALL_SUPPORT = 2000  # tables whose Fisher test sums the whole support (see _fisher)
HLP_DRAWS = 200  # the priority table is read for its HLP only: fewer draws are plenty
NOTE_ONLY_PRODUCTION = "in production only: dev has no accuracy for it, so no projection"
NOTE_NO_HLP = "no HLP: the marginal effect is unknown"

_SHARES = [
    "examples_dev",
    "examples_against",
    "share_dev",
    "share_dev_low",
    "share_dev_high",
    "share_against",
    "share_against_low",
    "share_against_high",
    "shift",
    "p_value",
    "p_adjusted",
    "drifted",
    "accuracy_dev",
    "accuracy_dev_low",
    "accuracy_dev_high",
]
_PROJECTION = ["projected_accuracy", "projected_accuracy_low", "projected_accuracy_high", "note"]
DRIFT_COLUMNS = [
    "tag",
    "kind",
    *_SHARES,
    "hlp",
    "marginal_effect_dev",
    "marginal_effect_against",
    "marginal_effect_against_low",
    "marginal_effect_against_high",
    *_PROJECTION,
]
DRIFT_BY_COLUMNS = ["tag", "value", *_SHARES, *_PROJECTION]


# --------------------------------------------------------------------------- checks


def _check_options(by: object, level: object, draws: object, seed: object) -> None:
    if by is not None and not isinstance(by, str):
        raise ValueError(f"by must be a column name or None, got {by!r}")
    _check_fraction(level, "level")
    _check_draws(draws, seed, minimum=MIN_DRAWS)


def _name(evidence: Evidence, fallback: str) -> str:
    return f"dataset {evidence.dataset!r}" if evidence.dataset else fallback


def _check_against(against: object) -> Evidence:
    """A production sample: an Evidence whose examples have no labels, and bool tags."""
    if not isinstance(against, Evidence):
        raise ValueError(f"against must be an Evidence, got {type(against).__name__}")
    examples, tags = against.examples, against.tags
    if not isinstance(examples, pd.DataFrame):
        raise ValueError(
            f"against's examples must be a pandas DataFrame, got {type(examples).__name__}"
        )
    labelled = [c for c in ("label", "correct") if c in examples.columns]
    if labelled:
        raise ValueError(
            f"against must be a production sample (no labels), but "
            f"{_name(against, 'its examples')} has a {labelled[0]!r} column: drift compares "
            "a labelled dataset with a production one (import it with --production)"
        )
    if not isinstance(tags, pd.DataFrame):
        raise ValueError(f"against's tags must be a pandas DataFrame, got {type(tags).__name__}")
    _check_tags(tags, examples)
    for name in ("kinds", "rule_problems"):
        if not isinstance(getattr(against, name), Mapping):
            kind = type(getattr(against, name)).__name__
            raise ValueError(f"against's {name} must be a mapping, got {kind}")
    return against


# --------------------------------------------------------------------------- statistics


def _rng(seed: int, name: str) -> np.random.Generator:
    # One stream per row, keyed by its name: a row's intervals do not move when other
    # rows are added or removed.
    return np.random.default_rng([seed, zlib.crc32(name.encode("utf-8"))])


def _fisher(x_dev: int, n_dev: int, x_against: int, n_against: int) -> float:
    """Two-sided Fisher exact test of equal shares: the probability, given both margins, of
    a table no more likely than the one seen (:func:`scipy.stats.fisher_exact`'s rule)."""
    from scipy.stats import fisher_exact, hypergeom

    if n_dev == 0 or n_against == 0:
        return np.nan
    tagged, total = x_dev + x_against, n_dev + n_against
    low, high = max(0, tagged - n_against), min(tagged, n_dev)
    if high - low > SMALL_SUPPORT:  # scipy searches a large support faster
        table = [[x_dev, n_dev - x_dev], [x_against, n_against - x_against]]
        return float(fisher_exact(table, alternative="two-sided").pvalue)
    # A small support at once: several times faster than scipy's search there.
    pmf = hypergeom.pmf(np.arange(low, high + 1), total, tagged, n_dev)
    seen = hypergeom.pmf(x_dev, total, tagged, n_dev)
    # scipy's relative tolerance, so that tables as likely as the one seen count.
    return float(min(1.0, pmf[pmf <= seen * (1 + 1e-7)].sum()))


def projection(
    correct: np.ndarray,
    size: np.ndarray,
    against: np.ndarray,
    *,
    rng: np.random.Generator,
    draws: int = DRAWS,
    level: float = LEVEL,
) -> tuple[float, float, float]:
    """(point, low, high) of ``sum_c share_against(c) * accuracy_dev(c)`` over cells c.

    ``correct`` and ``size`` count each cell's correct predictions and examples in dev,
    ``against`` its examples in production. The interval is the equal-tailed percentile
    interval of draws: the shares from Dirichlet(against + 1/2) over the cells dev has,
    each accuracy from Beta(correct + 1/2, size - correct + 1/2). NaN when production
    has examples in a cell dev lacks, or has no examples at all.
    """
    correct, size, against = (np.asarray(a, dtype=float) for a in (correct, size, against))
    if against.sum() == 0 or ((size == 0) & (against > 0)).any():
        return np.nan, np.nan, np.nan
    cells = size > 0
    correct, size, against = correct[cells], size[cells], against[cells]
    point = float((against / against.sum() * correct / size).sum())
    shares = rng.dirichlet(against + 0.5, draws)
    accuracy = rng.beta(correct + 0.5, size - correct + 0.5, (draws, len(size)))
    projected = (shares * accuracy).sum(axis=1)
    tail = (1 - level) / 2
    low, high = np.quantile(projected, [tail, 1 - tail])
    return point, float(low), float(high)


def _shares(
    x_dev: np.ndarray,
    n_dev: int,
    correct: np.ndarray,
    x_against: np.ndarray,
    n_against: int,
    level: float,
) -> dict[str, np.ndarray]:
    """The share, test and accuracy columns for rows of counts (tagged, correct among them)."""
    dev_low, dev_high = proportion_interval(x_dev, np.full(len(x_dev), n_dev), level=level)
    against_low, against_high = proportion_interval(
        x_against, np.full(len(x_against), n_against), level=level
    )
    acc_low, acc_high = proportion_interval(correct, x_dev, level=level)
    p = np.array(
        [_fisher(int(a), n_dev, int(b), n_against) for a, b in zip(x_dev, x_against, strict=True)]
    )
    adjusted = holm_adjust(p)
    share_dev = ratio(x_dev.astype(float), np.full(len(x_dev), float(n_dev)))
    share_against = ratio(x_against.astype(float), np.full(len(x_against), float(n_against)))
    return {
        "examples_dev": x_dev.astype(np.int64),
        "examples_against": x_against.astype(np.int64),
        "share_dev": share_dev,
        "share_dev_low": np.asarray(dev_low, dtype=float),
        "share_dev_high": np.asarray(dev_high, dtype=float),
        "share_against": share_against,
        "share_against_low": np.asarray(against_low, dtype=float),
        "share_against_high": np.asarray(against_high, dtype=float),
        "shift": share_against - share_dev,
        "p_value": p,
        "p_adjusted": adjusted,
        "drifted": np.nan_to_num(adjusted, nan=1.0) < 1 - level,
        "accuracy_dev": ratio(correct.astype(float), x_dev.astype(float)),
        "accuracy_dev_low": np.asarray(acc_low, dtype=float),
        "accuracy_dev_high": np.asarray(acc_high, dtype=float),
    }


# --------------------------------------------------------------------------- counts


@dataclass(frozen=True)
class DriftCounts:
    """Everything the drift table needs (see the module): the contract between an engine
    that counts both sides and :func:`drift_from_counts`. Per row (R rows: the tags known
    on both sides, or the values of ``by`` either side has, :data:`MISSING` last):

    ``dev``, ``correct`` and ``against`` (int64, R) count the dev examples carrying the
    tag (having the value), the correct predictions among them, and the production
    examples carrying it; ``dev_examples``, ``dev_correct`` and ``against_examples`` are
    the sides' totals. ``hlp`` (float, R) is each tag's HLP as the priority table has it
    (set, else measured from its own counts), NaN where unknown or for a column.
    """

    by: str | None  # None: per tag; else the column whose values are the rows
    names: tuple[object, ...]  # tag names, or the column's values
    kinds: tuple[str, ...]  # per tag: "dataset" or "rule"; empty for a column
    dev: np.ndarray
    correct: np.ndarray
    against: np.ndarray
    dev_examples: int
    dev_correct: int
    against_examples: int
    hlp: np.ndarray


def _tag_counts(evidence: Evidence, inputs: Checked, against: Evidence) -> DriftCounts:
    known = [
        (j, tag, kind)
        for j, (tag, kind) in enumerate(zip(inputs.tag_names, inputs.kinds, strict=True))
        if kind in ("dataset", "rule")
    ]
    for _, tag, kind in known:
        if kind == "rule" and tag in against.rule_problems:
            raise ValueError(
                f"rule tag {tag!r} cannot be evaluated on the production sample "
                f"({_name(against, 'against')}): {against.rule_problems[tag]}"
            )
    production = {
        tag
        for tag in against.tags.columns
        if against.kinds.get(tag, "dataset") in ("dataset", "rule")
    }
    rows = [(j, tag, kind) for j, tag, kind in known if tag in production]
    matrix = inputs.matrix[:, [j for j, _, _ in rows]]
    names = [tag for _, tag, _ in rows]
    # The HLP as the priority table has it: set by the team, else measured from human
    # labels (which only the priority table's estimator measures).
    hlp = np.array([inputs.hlp.get(tag, np.nan) for tag in names], dtype=float)
    if rows and inputs.human is not None:
        table = priority_table(evidence, draws=HLP_DRAWS).set_index("tag")["hlp"]
        hlp = table.reindex(names).to_numpy(dtype=float)
    return DriftCounts(
        by=None,
        names=tuple(names),
        kinds=tuple(kind for _, _, kind in rows),
        dev=matrix.sum(axis=0).astype(np.int64),
        correct=(matrix & inputs.correct[:, None]).sum(axis=0).astype(np.int64),
        against=np.array(
            [int(np.count_nonzero(against.tags[tag].to_numpy(dtype=bool))) for tag in names],
            dtype=np.int64,
        ),
        dev_examples=len(evidence.examples),
        dev_correct=int(np.count_nonzero(inputs.correct)),
        against_examples=len(against.examples),
        hlp=hlp,
    )


def _column_counts(evidence: Evidence, inputs: Checked, against: Evidence, by: str) -> DriftCounts:
    for side, name in ((evidence, "dev"), (against, "the production sample")):
        if by not in side.examples.columns:
            listing = ", ".join(repr(c) for c in list(side.examples.columns)[:20])
            raise ValueError(f"by: {_name(side, name)} has no column {by!r} (columns: {listing})")
    dev, prod = evidence.examples[by], against.examples[by]
    # Each side is factorised in its own dtype (fast), then their few values are joined.
    dev_codes, dev_values = pd.factorize(dev)
    prod_codes, prod_values = pd.factorize(prod)
    values = pd.Index(dev_values, dtype=object).append(pd.Index(prod_values, dtype=object))
    values = values.unique()
    if len(values) > MAX_VALUES:
        raise ValueError(
            f"by: column {by!r} has {len(values):,} values, more than {MAX_VALUES}: drift by "
            "a column of few values (or define a rule tag that bins it)"
        )
    with contextlib.suppress(TypeError):  # values of several types (text, numbers) do not sort
        values = values.sort_values()
    # A missing value's code, -1, picks the -1 appended to each side's map.
    codes = np.concatenate(
        [
            np.append(values.get_indexer(side_values), -1)[side_codes]
            for side_codes, side_values in ((dev_codes, dev_values), (prod_codes, prod_values))
        ]
    )
    labels = [*values.tolist(), MISSING]
    codes = np.where(codes < 0, len(values), codes)
    n_cells = len(labels)
    dev_codes, prod_codes = codes[: len(dev)], codes[len(dev) :]
    size = np.bincount(dev_codes, minlength=n_cells)
    correct = np.bincount(dev_codes, weights=inputs.correct, minlength=n_cells).astype(np.int64)
    in_prod = np.bincount(prod_codes, minlength=n_cells)
    # A value neither side has (the missing one, mostly) is no row, and no cell of the
    # projection (it has no dev examples).
    keep = (size > 0) | (in_prod > 0)
    return DriftCounts(
        by=by,
        names=tuple(label for label, kept in zip(labels, keep, strict=True) if kept),
        kinds=(),
        dev=size[keep].astype(np.int64),
        correct=correct[keep],
        against=in_prod[keep].astype(np.int64),
        dev_examples=len(dev),
        dev_correct=int(np.count_nonzero(inputs.correct)),
        against_examples=len(prod),
        hlp=np.full(int(keep.sum()), np.nan),
    )


def drift_counts(evidence: Evidence, *, against: Evidence, by: str | None = None) -> DriftCounts:
    """The sufficient statistics of :func:`drift_table` (see :class:`DriftCounts`): one
    count per tag or value and side. ValueError naming the exact problem."""
    inputs = check_evidence(evidence)
    against = _check_against(against)
    _check_options(by, LEVEL, DRAWS, 0)
    if by is None:
        return _tag_counts(evidence, inputs, against)
    return _column_counts(evidence, inputs, against, by)


# --------------------------------------------------------------------------- tags


def _tags_from_counts(counts: DriftCounts, *, level: float, draws: int, seed: int) -> pd.DataFrame:
    names, hlp = list(counts.names), counts.hlp
    x_dev, correct, x_against = counts.dev, counts.correct, counts.against
    n_dev, n_against = counts.dev_examples, counts.against_examples
    columns = _shares(x_dev, n_dev, correct, x_against, n_against, level)
    accuracy = columns["accuracy_dev"]
    gap = np.clip(hlp - accuracy, 0.0, None)
    effect_against = np.full((3, len(names)), np.nan)
    projected = np.full((3, len(names)), np.nan)
    notes = np.full(len(names), "", dtype=object)
    total_correct = counts.dev_correct
    tail = (1 - level) / 2
    for i, tag in enumerate(names):
        rng = _rng(seed, tag)
        cells_correct = [correct[i], total_correct - correct[i]]
        cells_size = [x_dev[i], n_dev - x_dev[i]]
        cells_against = [x_against[i], n_against - x_against[i]]
        projected[:, i] = projection(
            cells_correct, cells_size, cells_against, rng=rng, draws=draws, level=level
        )
        if x_dev[i] == 0 and x_against[i] > 0:
            notes[i] = NOTE_ONLY_PRODUCTION
        elif np.isnan(hlp[i]):
            notes[i] = NOTE_NO_HLP
        elif n_against and x_dev[i]:
            acc = rng.beta(correct[i] + 0.5, x_dev[i] - correct[i] + 0.5, draws)
            share = rng.beta(x_against[i] + 0.5, n_against - x_against[i] + 0.5, draws)
            effect = np.clip(hlp[i] - acc, 0.0, None) * share
            low, high = np.quantile(effect, [tail, 1 - tail])
            effect_against[:, i] = (gap[i] * columns["share_against"][i], low, high)
    frame = pd.DataFrame(
        {
            "tag": names,
            "kind": list(counts.kinds),
            **columns,
            "hlp": hlp,
            "marginal_effect_dev": gap * columns["share_dev"],
            "marginal_effect_against": effect_against[0],
            "marginal_effect_against_low": effect_against[1],
            "marginal_effect_against_high": effect_against[2],
            "projected_accuracy": projected[0],
            "projected_accuracy_low": projected[1],
            "projected_accuracy_high": projected[2],
            "note": notes,
        },
        columns=DRIFT_COLUMNS,
    )
    order = np.lexsort((frame["tag"].to_numpy(dtype=str), np.nan_to_num(frame["p_value"], nan=2)))
    return frame.iloc[order].reset_index(drop=True)


# --------------------------------------------------------------------------- one column


# --------------------------------------------------------------------------- one column


def _value_text(column: str, value: object) -> str:
    """The row's name: a rule (in :mod:`erroranalysis.rules`' grammar) that picks it."""
    name = column if column.isidentifier() else f"`{column}`"
    if value is MISSING:
        return f"{name} {MISSING}"
    literal = repr(value.item() if isinstance(value, np.generic) else value)
    return f"{name} == {literal}"


def _column_from_counts(
    counts: DriftCounts, *, level: float, draws: int, seed: int
) -> pd.DataFrame:
    by, shown = counts.by, list(counts.names)
    size, correct, in_prod = counts.dev, counts.correct, counts.against
    columns = _shares(size, counts.dev_examples, correct, in_prod, counts.against_examples, level)
    point, low, high = projection(
        correct, size, in_prod, rng=_rng(seed, by), draws=draws, level=level
    )
    notes = np.where((size == 0) & (in_prod > 0), NOTE_ONLY_PRODUCTION, "")
    return pd.DataFrame(
        {
            "tag": [_value_text(by, value) for value in shown],
            "value": pd.array(shown, dtype=object),
            **columns,
            "projected_accuracy": np.full(len(shown), point),
            "projected_accuracy_low": np.full(len(shown), low),
            "projected_accuracy_high": np.full(len(shown), high),
            "note": notes.astype(object),
        },
        columns=DRIFT_BY_COLUMNS,
    )


def drift_from_counts(
    counts: DriftCounts, *, level: float = LEVEL, draws: int = DRAWS, seed: int = 0
) -> pd.DataFrame:
    """The table of :func:`drift_table` from its sufficient statistics
    (:class:`DriftCounts`), whoever counted them: no per-example work. Options as
    :func:`drift_table`'s; ValueError naming a bad one."""
    if not isinstance(counts, DriftCounts):
        raise ValueError(f"counts must be DriftCounts, got {type(counts).__name__}")
    _check_options(counts.by, level, draws, seed)
    options = {"level": float(level), "draws": int(draws), "seed": int(seed)}
    if counts.by is None:
        return _tags_from_counts(counts, **options)
    return _column_from_counts(counts, **options)


def drift_table(
    evidence: Evidence,
    *,
    against: Evidence,
    by: str | None = None,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """How a production sample (``against``, no labels) differs from the labelled dataset
    ``evidence``, per dataset or rule tag (columns :data:`DRIFT_COLUMNS`, the most
    significant drift first) or, with ``by``, per value of that column, a partition of
    the data (columns :data:`DRIFT_BY_COLUMNS`, in the order of the values, every row
    carrying the dataset's projected accuracy). See the module for the statistics and
    when the projection holds. Raises ValueError naming the exact problem.
    """
    inputs = check_evidence(evidence)
    against = _check_against(against)
    _check_options(by, level, draws, seed)
    if by is None:
        counts = _tag_counts(evidence, inputs, against)
    else:
        counts = _column_counts(evidence, inputs, against, by)
    return drift_from_counts(counts, level=level, draws=draws, seed=seed)
