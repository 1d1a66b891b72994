"""Weak-slice discovery: the conjunctions of metadata values and tags where the model fails.

:func:`discover_slices` searches slices -- conjunctions of up to ``max_level`` predicates
on distinct columns -- with SliceLine (Sagadeeva & Boehm, SIGMOD 2021). A predicate is a
value of a categorical column (``noise == "car"``), a quantile bin of a numeric column with
readable edges (``snr_db >= 3.5 and snr_db < 9.1``), or a tag known on every example (a
dataset tag, a rule tag). Reviewed tags are left out: they are known only on the reviewed
examples, mostly errors, so any of them would look weak. Each slice S of at least
``min_support`` of the n examples gets SliceLine's score

    sc(S) = α (ē_S / ē − 1) − (1 − α) (n / |S| − 1)

(ē_S its error rate, ē the run's), worse and bigger being better; α trades one for the
other. The lattice is walked level by level: a slice of level L is a candidate only if all
its L parents of level L − 1 were kept (at least ``min_support`` examples, one error or
more), and it is counted only if SliceLine's upper bound of its score, taken from its
parents' sizes and errors, beats the ``top``-th score found so far (slices of the same size
and errors counted once, as they may hold the same examples, which are listed once). The
bound is sound, so the ``top`` slices are exactly those of an exhaustive search. Counting is vectorised: for
each combination of columns the candidates of one level share, one ``bincount`` of the
examples' combined codes gives every candidate's size and errors.

Significance: each slice's error rate is tested against the rest of the data with a
one-sided Fisher exact test (hypergeometric: the chance of at least its errors among its
size, given the run's errors). The p-values are corrected with Benjamini–Hochberg, which
keeps the expected share of false discoveries among significant slices at ``fdr``. The
hypotheses counted are every slice the search could have tested, whatever the errors:
every conjunction of up to ``max_level`` predicates on distinct columns, each predicate
holding for at least ``min_support`` of the examples. Slices the bound pruned count with a
p-value of 1. That count only grows with the lattice, so the correction errs on the strict
side; on data where errors do not depend on the columns, the rate of runs with any
significant slice stays below ``fdr`` (checked by simulation in the tests).

:func:`adopt_slice` turns a discovered slice into a rule tag with its condition (the
``rule`` column, in :mod:`erroranalysis.rules`' grammar) as one logged action.

The module runs past 600 lines because the search is one algorithm: the features it
searches (values, readable quantile bins, tags), the lattice walk with its bound, the
vectorised counting, the significance of what it finds and the adoption share one private
encoding (each column's codes, predicate ids numbered column by column), which a split
would have to make public for a single caller.
"""

from __future__ import annotations

import contextlib
import keyword
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .errors import StoreError
from .evidence import Evidence, _check_fraction, check_evidence
from .roles import ROLES
from .rules import evaluate_rule, parse_rule
from .vocabulary import MAX_NAME, TAG_PREFIX, check_tag_name

if TYPE_CHECKING:
    from .store import Project

MAX_LEVEL = 4
CORRECTION = "Benjamini-Hochberg"
DISCOVER_COLUMNS = [
    "rank",
    "slice",
    "level",
    "examples",
    "share",
    "errors",
    "error_rate",
    "error_rate_elsewhere",
    "score",
    "p_value",
    "p_adjusted",
    "significant",
    "rule",
]
# Candidates of one column combination are counted with a dense bincount up to this many
# cells, beyond it by looking each example's code up among the candidates' codes.
_DENSE_CELLS = 1 << 22


# --------------------------------------------------------------------------- validation


def check_discover_options(
    *,
    max_level: object,
    min_support: object,
    top: object,
    alpha: object,
    bins: object = 5,
    fdr: object = 0.05,
) -> None:
    """Raise ValueError naming the first option of :func:`discover_slices` out of range."""
    if isinstance(max_level, bool) or not isinstance(max_level, int | np.integer):
        raise ValueError(f"max_level must be an integer from 1 to {MAX_LEVEL}, got {max_level!r}")
    if not 1 <= max_level <= MAX_LEVEL:
        raise ValueError(f"max_level must be an integer from 1 to {MAX_LEVEL}, got {max_level!r}")
    _check_support(min_support)
    if isinstance(top, bool) or not isinstance(top, int | np.integer) or top < 1:
        raise ValueError(f"top must be a positive integer, got {top!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha <= 1:
        raise ValueError(f"alpha must be above 0 and at most 1, got {alpha!r}")
    _check_bins(bins)
    _check_fraction(fdr, "fdr")


def _check_support(min_support: object) -> None:
    if (
        isinstance(min_support, bool)
        or not isinstance(min_support, int | float)
        or not 0 < min_support < 1
    ):
        raise ValueError(f"min_support must be a fraction above 0 and below 1, got {min_support!r}")


def _check_bins(bins: object) -> None:
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2, got {bins!r}")


def _check_columns(columns: object, evidence: Evidence, kinds: dict[str, str]) -> list[str]:
    """The feature names to search: metadata columns of the examples, or tags."""
    if columns is None:
        metadata = [c for c in evidence.examples.columns if _is_metadata(c, evidence.examples)]
        tags = [t for t, kind in kinds.items() if kind != "reviewed"]
        return metadata + tags
    if isinstance(columns, str) or not isinstance(columns, Sequence):
        raise ValueError(f"columns must be a list of column or tag names, got {columns!r}")
    chosen = []
    for name in columns:
        if not isinstance(name, str):
            raise ValueError(f"columns must be names, got {name!r}")
        if name in evidence.examples.columns:
            if name in ("id", "correct") or name.startswith(TAG_PREFIX):
                raise ValueError(f"column {name!r} cannot define a slice")
            if pd.api.types.is_datetime64_any_dtype(evidence.examples[name].dtype):
                raise ValueError(f"column {name!r} holds dates, which discovery does not bin")
        elif name in kinds:
            if kinds[name] == "reviewed":
                raise ValueError(
                    f"tag {name!r} is a reviewed tag, known only on the reviewed examples: "
                    "it cannot define a slice of the whole run"
                )
        else:
            raise ValueError(f"{name!r} is neither a column of the examples nor a tag")
        chosen.append(name)
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"columns names a column twice: {chosen}")
    return chosen


def _is_metadata(column: object, examples: pd.DataFrame) -> bool:
    return (
        isinstance(column, str)
        and column not in ROLES
        and not column.startswith(TAG_PREFIX)
        and not pd.api.types.is_datetime64_any_dtype(examples[column].dtype)
    )


# --------------------------------------------------------------------------- predicates


@dataclass(frozen=True)
class _Feature:
    """One column turned into predicates: ``codes`` 1..k name the predicate each example
    holds (0: none, e.g. a missing value or a value rarer than the minimum support)."""

    name: str
    codes: np.ndarray  # int32, one per example
    texts: list[str]  # readable predicate, by code - 1
    rules: list[str]  # the same predicate in the rule grammar
    labels: list[object]  # the value or bin each predicate stands for (see slice_features)


def _column_ref(name: str) -> str | None:
    """How a rule names column ``name`` (None: it cannot, the name holds a backtick)."""
    if name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__"):
        return name
    return None if "`" in name else f"`{name}`"


def _literal(value: object) -> str | None:
    """``value`` as a literal of the rule grammar, or None when it has none."""
    if isinstance(value, bool | np.bool_):
        return "True" if value else "False"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return repr(float(value)) if math.isfinite(value) else None
    if isinstance(value, str) and value.isprintable() and "`" not in value:
        # A backtick would be read as a column name even inside quotes (rules.py).
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return None


def _number(value: float) -> str:
    """The shortest text that reads back as exactly ``value`` (``20``, not ``20.0``)."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def _readable_edges(cuts: np.ndarray, *, integer: bool) -> np.ndarray:
    """Bin edges near the quantile ``cuts``, with the fewest significant digits (at least
    two) that keep them apart; whole numbers for an integer column."""
    cuts = np.unique(cuts)
    for digits in range(2, 16):
        edges = np.array([float(f"{c:.{digits}g}") for c in cuts])
        if integer:
            edges = np.ceil(edges)
        edges = np.unique(edges)
        if len(edges) == len(cuts):
            return edges
    return cuts


def _categorical(name: str, ref: str, values: pd.Series, min_count: int) -> _Feature:
    if isinstance(values.dtype, pd.CategoricalDtype):  # coded already
        codes, uniques = values.cat.codes.to_numpy().astype(np.int64), values.cat.categories
    else:
        codes, uniques = pd.factorize(values, sort=False)
    counts = np.bincount(codes + 1, minlength=len(uniques) + 1)[1:]
    keep = [i for i in range(len(uniques)) if counts[i] >= min_count]
    literals = {i: _literal(uniques[i]) for i in keep}
    keep = [i for i in keep if literals[i] is not None]
    with contextlib.suppress(TypeError):  # a readable order; the search does not need it
        keep.sort(key=lambda i: uniques[i])
    remap = np.zeros(len(uniques) + 1, dtype=np.int32)
    remap[np.array(keep, dtype=int) + 1] = np.arange(1, len(keep) + 1, dtype=np.int32)
    return _Feature(
        name=name,
        codes=remap[codes + 1],
        texts=[f"{name} = {uniques[i]}" for i in keep],
        rules=[f"{ref} == {literals[i]}" for i in keep],
        labels=[uniques[i] for i in keep],
    )


def _binned(name: str, ref: str, values: pd.Series, bins: int) -> _Feature:
    numbers = values.to_numpy(dtype=float, na_value=np.nan)
    known = ~np.isnan(numbers)
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return _Feature(
            name=name, codes=np.zeros(len(numbers), np.int32), texts=[], rules=[], labels=[]
        )
    cuts = np.quantile(finite, np.linspace(0, 1, bins + 1)[1:-1])
    integer = pd.api.types.is_integer_dtype(values.dtype)
    edges = _readable_edges(cuts, integer=integer)
    bin_of = np.searchsorted(edges, numbers, side="right")  # edges[i-1] <= x < edges[i]
    present = np.unique(bin_of[known])
    texts, rules, labels = [], [], []
    for b in present:
        low = _number(edges[b - 1]) if b > 0 else None
        high = _number(edges[b]) if b < len(edges) else None
        if low is None:
            texts.append(f"{name} < {high}")
            rules.append(f"{ref} < {high}")
        elif high is None:
            texts.append(f"{name} ≥ {low}")
            rules.append(f"{ref} >= {low}")
        else:
            texts.append(f"{low} ≤ {name} < {high}")
            rules.append(f"{ref} >= {low} and {ref} < {high}")
        labels.append(texts[-1])
    remap = np.zeros(len(edges) + 1, dtype=np.int32)
    remap[present] = np.arange(1, len(present) + 1, dtype=np.int32)
    codes = np.where(known, remap[bin_of], 0).astype(np.int32)
    return _Feature(name=name, codes=codes, texts=texts, rules=rules, labels=labels)


def _tag_feature(name: str, holds: np.ndarray, kind: str, rule: str | None) -> _Feature | None:
    if kind == "rule" and rule:
        condition = f"({rule})"
    else:
        ref = _column_ref(TAG_PREFIX + name)
        if ref is None:
            return None
        condition = ref
    return _Feature(
        name=name,
        codes=holds.astype(np.int32),
        texts=[f"tag {name}"],
        rules=[condition],
        labels=[True],
    )


def _features(
    evidence: Evidence, names: list[str], kinds: dict[str, str], *, bins: int, min_count: int
) -> list[_Feature]:
    examples, tags = evidence.examples, evidence.tags
    features = []
    for name in names:
        if name in examples.columns:
            ref = _column_ref(name)
            if ref is None:
                continue
            values = examples[name]
            numeric = pd.api.types.is_numeric_dtype(values.dtype) and not (
                pd.api.types.is_bool_dtype(values.dtype)
            )
            if numeric and values.nunique(dropna=True) > bins:
                features.append(_binned(name, ref, values, bins))
            elif values.notna().any():
                features.append(_categorical(name, ref, values, min_count))
        else:
            rule = evidence.definitions["rule"].get(name) if kinds[name] == "rule" else None
            rule = rule if isinstance(rule, str) else None
            holds = tags[name].to_numpy(dtype=bool, na_value=False)
            feature = _tag_feature(name, holds, kinds[name], rule)
            if feature is not None:
                features.append(feature)
    return [f for f in features if f.texts]


def slice_features(
    evidence: Evidence,
    *,
    columns: Sequence[str] | None = None,
    bins: int = 5,
    min_support: float = 0.01,
) -> pd.DataFrame:
    """The categorical features :func:`discover_slices` searches, one column per feature:
    each example's value (categorical columns) or bin (numeric columns, as readable text),
    True for an example carrying a tag, missing where it holds no predicate. One-hot
    encode this frame (as the ``sliceline`` package does) to get the search's predicates."""
    checked = check_evidence(evidence)
    _check_support(min_support)
    _check_bins(bins)
    kinds = dict(zip(checked.tag_names, checked.kinds, strict=True))
    names = _check_columns(columns, evidence, kinds)
    min_count = max(1, math.floor(min_support * len(evidence.examples)))
    frame = {}
    for feature in _features(evidence, names, kinds, bins=bins, min_count=min_count):
        labels = np.array([None, *feature.labels], dtype=object)
        frame[feature.name] = labels[feature.codes]
    return pd.DataFrame(frame, index=evidence.examples.index)


# --------------------------------------------------------------------------- the search


@dataclass
class _Level:
    """The slices of one level that were counted: predicate ids (one row per slice, in
    increasing order), sizes and errors."""

    slices: np.ndarray  # int64, slices x level
    sizes: np.ndarray  # int64
    errors: np.ndarray  # int64


def _score(
    sizes: np.ndarray, errors: np.ndarray, *, n: int, mean_error: float, alpha: float
) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        score = alpha * ((errors / sizes) / mean_error - 1) - (1 - alpha) * (n / sizes - 1)
    return np.where(sizes > 0, score, -np.inf)


def _score_bound(
    sizes: np.ndarray, errors: np.ndarray, *, n: int, mean_error: float, alpha: float, min_sup: int
) -> np.ndarray:
    """SliceLine's upper bound of the score of a slice with at most ``sizes`` examples and
    ``errors`` errors (each error weighs at most 1): the score is monotone between the
    points probed, so its maximum over sizes in [min_sup, sizes] is at one of them."""
    probes = np.column_stack(
        [np.full(len(sizes), float(min_sup)), np.maximum(errors, min_sup), sizes]
    ).astype(float)
    probes = np.minimum(probes, sizes[:, None])
    with np.errstate(divide="ignore", invalid="ignore"):
        bound = (
            alpha * (np.minimum(probes, errors[:, None]) / mean_error - probes)
            - (1 - alpha) * (n - probes)
        ) / probes
    return np.nanmax(np.where(probes > 0, bound, -np.inf), axis=1)


def _keys(slices: np.ndarray, base: int) -> np.ndarray:
    keys = np.zeros(len(slices), dtype=np.int64)
    for column in range(slices.shape[1]):
        keys = keys * base + slices[:, column]
    return keys


def _join(parents: _Level, feature_of: np.ndarray, base: int) -> tuple[np.ndarray, ...]:
    """The candidates of the next level: pairs of parents that share all predicates but
    their last (on different columns), kept when every other parent was kept too. Returns
    the candidates and the smallest size and error count among their parents."""
    slices, m = parents.slices, len(parents.slices)
    level = slices.shape[1] + 1
    if m < 2:
        empty = np.zeros((0, level), dtype=np.int64)
        return empty, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    # Rows are sorted, so parents sharing a prefix are contiguous: pair each row with the
    # rows after it in its group.
    prefix = slices[:, :-1]
    starts = np.zeros(m, dtype=bool)
    starts[0] = True
    if prefix.shape[1]:
        starts[1:] = (prefix[1:] != prefix[:-1]).any(axis=1)
    group = np.cumsum(starts) - 1
    group_end = np.flatnonzero(np.append(starts[1:], True))[group] + 1
    partners = group_end - np.arange(m) - 1
    first = np.repeat(np.arange(m), partners)
    offset = np.arange(len(first)) - np.repeat(np.cumsum(partners) - partners, partners)
    second = first + 1 + offset
    apart = feature_of[slices[first, -1]] != feature_of[slices[second, -1]]
    first, second = first[apart], second[apart]
    candidates = np.column_stack([slices[first], slices[second, -1]])
    sizes = np.minimum(parents.sizes[first], parents.sizes[second])
    errors = np.minimum(parents.errors[first], parents.errors[second])
    if level > 2:
        known = _keys(slices, base)  # sorted, as the rows are
        keep = np.ones(len(candidates), dtype=bool)
        for drop in range(level - 2):
            sub = np.delete(candidates, drop, axis=1)
            where = np.searchsorted(known, _keys(sub, base))
            where = np.minimum(where, m - 1)
            found = known[where] == _keys(sub, base)
            keep &= found
            sizes = np.minimum(sizes, np.where(found, parents.sizes[where], 0))
            errors = np.minimum(errors, np.where(found, parents.errors[where], 0))
        candidates, sizes, errors = candidates[keep], sizes[keep], errors[keep]
    return candidates, sizes, errors


def _count(
    candidates: np.ndarray,
    features: list[_Feature],
    feature_of: np.ndarray,
    value_of: np.ndarray,
    error_codes: list[np.ndarray],
) -> tuple[np.ndarray, np.ndarray]:
    """Size and errors of each candidate: per combination of columns, the examples' codes
    combined into one mixed-radix number (the errors' apart, from ``error_codes``, the
    codes of the erroneous examples), counted by one bincount. Combinations come sorted,
    so those sharing all columns but the last reuse the previous combined codes."""
    sizes = np.zeros(len(candidates), dtype=np.int64)
    wrong = np.zeros(len(candidates), dtype=np.int64)
    combos, which = np.unique(feature_of[candidates], axis=0, return_inverse=True)
    which = which.ravel()
    grouped = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[grouped], np.arange(len(combos) + 1))
    prefix: tuple[int, ...] = ()
    prefix_codes: tuple[np.ndarray, np.ndarray] | None = None
    for c, combo in enumerate(combos.tolist()):
        rows = grouped[bounds[c] : bounds[c + 1]]
        cards = [len(features[f].texts) + 1 for f in combo]
        total = math.prod(cards)
        dtype = np.int32 if total < 2**31 else np.int64
        if tuple(combo[:-1]) == prefix and prefix_codes is not None:
            code, code_wrong = prefix_codes
        else:
            code = features[combo[0]].codes.astype(dtype)
            code_wrong = error_codes[combo[0]].astype(dtype)
            for f in combo[1:-1]:
                code = code * dtype(len(features[f].texts) + 1) + features[f].codes
                code_wrong = code_wrong * dtype(len(features[f].texts) + 1) + error_codes[f]
            prefix, prefix_codes = tuple(combo[:-1]), (code, code_wrong)
        last, radix = combo[-1], dtype(cards[-1])
        code = code * radix + features[last].codes
        code_wrong = code_wrong * radix + error_codes[last]
        cells = np.zeros(len(rows), dtype=np.int64)
        for f, card in zip(range(len(combo)), cards, strict=True):
            cells = cells * card + value_of[candidates[rows, f]]
        if total <= _DENSE_CELLS:
            sizes[rows] = np.bincount(code, minlength=total)[cells]
            wrong[rows] = np.bincount(code_wrong, minlength=total)[cells]
        else:
            order = np.argsort(cells)
            sorted_cells = cells[order]
            for counts, codes in ((sizes, code), (wrong, code_wrong)):
                where = np.minimum(np.searchsorted(sorted_cells, codes), len(cells) - 1)
                hit = sorted_cells[where] == codes
                counts[rows[order]] = np.bincount(where[hit], minlength=len(cells))
    return sizes, wrong


def _threshold(
    scores: list[np.ndarray], keys: list[np.ndarray], top: int, *, distinct: bool
) -> float:
    """The score a candidate's bound must beat: the ``top``-th best so far, or 0. With
    ``distinct``, slices of the same size and errors count once: they may hold the same
    examples, and the score is a function of the two, so the ``top`` distinct slices
    score at least this."""
    score = np.concatenate(scores) if scores else np.zeros(0)
    positive = score > 0
    score = score[positive]
    if distinct and len(score):
        _, first = np.unique(np.concatenate(keys)[positive], return_index=True)
        score = score[first]
    if len(score) < top:
        return 0.0
    return float(np.partition(score, len(score) - top)[len(score) - top])


def _search(
    features: list[_Feature],
    errors: np.ndarray,
    *,
    max_level: int,
    min_sup: int,
    top: int,
    alpha: float,
    distinct: bool,
) -> list[_Level]:
    """Every slice SliceLine counts, level by level (only those of at least ``min_sup``
    examples are returned)."""
    n, n_errors = len(errors), int(errors.sum())
    mean_error = n_errors / n
    feature_of = np.concatenate(
        [np.full(len(f.texts), i, dtype=np.int64) for i, f in enumerate(features)]
    )
    value_of = np.concatenate([np.arange(1, len(f.texts) + 1) for f in features]).astype(np.int64)
    base = len(feature_of) + 1
    if base ** min(max_level, len(features)) >= 2**62:
        raise ValueError(
            f"{len(feature_of):,} predicates are too many to search to level {max_level}: "
            "name fewer columns or raise min_support"
        )
    error_codes = [f.codes[errors] for f in features]
    sizes = np.concatenate([np.bincount(f.codes, minlength=len(f.texts) + 1)[1:] for f in features])
    wrong = np.concatenate(
        [
            np.bincount(c, minlength=len(f.texts) + 1)[1:]
            for f, c in zip(features, error_codes, strict=True)
        ]
    )
    level = _Level(np.arange(len(feature_of), dtype=np.int64)[:, None], sizes, wrong)
    counted: list[_Level] = []
    scores: list[np.ndarray] = []
    keys: list[np.ndarray] = []  # size and errors as one number
    for depth in range(1, min(max_level, len(features)) + 1):
        if depth > 1:
            kept = (level.sizes >= min_sup) & (level.errors > 0)
            parents = _Level(level.slices[kept], level.sizes[kept], level.errors[kept])
            candidates, size_bound, error_bound = _join(parents, feature_of, base)
            bound = _score_bound(
                size_bound.astype(float),
                error_bound.astype(float),
                n=n,
                mean_error=mean_error,
                alpha=alpha,
                min_sup=min_sup,
            )
            promising = (size_bound >= min_sup) & (
                bound > _threshold(scores, keys, top, distinct=distinct)
            )
            candidates = candidates[promising]
            if not len(candidates):
                break
            sizes, wrong = _count(candidates, features, feature_of, value_of, error_codes)
            level = _Level(candidates, sizes, wrong)
        supported = level.sizes >= min_sup
        counted.append(
            _Level(level.slices[supported], level.sizes[supported], level.errors[supported])
        )
        scores.append(
            _score(
                level.sizes[supported],
                level.errors[supported],
                n=n,
                mean_error=mean_error,
                alpha=alpha,
            )
        )
        keys.append(level.sizes[supported] * (n + 1) + level.errors[supported])
    return counted


def _distinct(
    order: np.ndarray,
    slices: np.ndarray,
    sizes: np.ndarray,
    wrong: np.ndarray,
    features: list[_Feature],
    top: int,
) -> np.ndarray:
    """The first ``top`` of ``order`` that do not hold exactly the examples of one before
    them. Only slices of equal size and errors can; their examples are compared then."""
    # Predicate p is value p - start[j] + 1 of feature j.
    feature_of = [j for j, f in enumerate(features) for _ in f.texts]
    start = np.cumsum([0] + [len(f.texts) for f in features])
    masks: dict[int, np.ndarray] = {}

    def mask(i: int) -> np.ndarray:
        if i not in masks:
            held = [int(p) for p in slices[i] if p >= 0]
            masks[i] = np.logical_and.reduce(
                [features[feature_of[p]].codes == p - start[feature_of[p]] + 1 for p in held]
            )
        return masks[i]

    kept: list[int] = []
    by_key: dict[tuple[int, int], list[int]] = {}
    for i in order:
        same = by_key.setdefault((int(sizes[i]), int(wrong[i])), [])
        if any(np.array_equal(mask(i), mask(j)) for j in same):
            continue
        same.append(i)
        kept.append(i)
        if len(kept) == top:
            break
    return np.array(kept, dtype=np.int64)


def lattice_size(features_predicates: Sequence[int], max_level: int) -> int:
    """How many conjunctions of 1 to ``max_level`` predicates on distinct columns there
    are, when column i offers ``features_predicates[i]`` predicates: the count of
    hypotheses the correction takes (elementary symmetric sums of the counts)."""
    sums = [1] + [0] * max_level
    for count in features_predicates:
        for level in range(max_level, 0, -1):
            sums[level] += sums[level - 1] * int(count)
    return sum(sums[1:])


def benjamini_hochberg(p_values: np.ndarray, *, hypotheses: int) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values of ``p_values`` among ``hypotheses`` in all
    (the hypotheses not given count with a p-value of 1)."""
    p = np.asarray(p_values, dtype=float)
    if hypotheses < len(p):
        raise ValueError(f"hypotheses ({hypotheses}) must be at least the p-values ({len(p)})")
    order = np.argsort(p, kind="stable")
    ranked = p[order] * hypotheses / np.arange(1, len(p) + 1)
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)
    return adjusted


def _empty() -> pd.DataFrame:
    dtypes = {
        "rank": "int64",
        "slice": object,
        "level": "int64",
        "examples": "int64",
        "share": float,
        "errors": "int64",
        "error_rate": float,
        "error_rate_elsewhere": float,
        "score": float,
        "p_value": float,
        "p_adjusted": float,
        "significant": bool,
        "rule": object,
    }
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in DISCOVER_COLUMNS})


def discover_slices(
    evidence: Evidence,
    *,
    max_level: int = 3,
    min_support: float = 0.01,
    top: int = 20,
    alpha: float = 0.95,
    columns: Sequence[str] | None = None,
    bins: int = 5,
    fdr: float = 0.05,
    distinct: bool = True,
) -> pd.DataFrame:
    """The ``top`` slices by SliceLine's score (see the module docstring), best first.

    Searches conjunctions of up to ``max_level`` (1 to 4) predicates over ``columns``
    (default: every metadata column and every dataset or rule tag), each slice holding at
    least ``min_support`` of the examples; numeric columns with more than ``bins`` values
    are cut into ``bins`` quantile bins. ``alpha`` weighs error rate against size. Only
    slices with a positive score are listed. Columns: see :data:`DISCOVER_COLUMNS`;
    ``p_value`` is the one-sided Fisher exact test of the slice's error rate against the
    rest, ``p_adjusted`` its Benjamini–Hochberg correction over every slice the search
    could have tested (the count is in the module docstring), ``significant`` whether that
    is at most ``fdr``; ``rule`` is the slice's condition for a rule tag. With
    ``distinct``, a slice holding exactly the examples of one ranked above it (a longer
    description of the same examples, say ``bandwidth_khz = 3.4`` beside
    ``noise = low_bandwidth``) is left out; without, the list is SliceLine's own.
    """
    from scipy.stats import hypergeom

    checked = check_evidence(evidence)
    check_discover_options(
        max_level=max_level, min_support=min_support, top=top, alpha=alpha, bins=bins, fdr=fdr
    )
    kinds = dict(zip(checked.tag_names, checked.kinds, strict=True))
    names = _check_columns(columns, evidence, kinds)
    errors = ~checked.correct
    n, n_errors = len(errors), int(errors.sum())
    if n_errors == 0:  # no errors (or no examples): no slice is worse than the rest
        return _empty()
    min_sup = max(1, math.floor(min_support * n))
    features = _features(evidence, names, kinds, bins=bins, min_count=min_sup)
    if not features:
        return _empty()
    levels = _search(
        features,
        errors,
        max_level=max_level,
        min_sup=min_sup,
        top=top,
        alpha=alpha,
        distinct=distinct,
    )
    slices = [
        np.pad(lv.slices, ((0, 0), (0, MAX_LEVEL - lv.slices.shape[1])), constant_values=-1)
        for lv in levels
    ]
    table = np.concatenate(slices)
    sizes = np.concatenate([lv.sizes for lv in levels])
    wrong = np.concatenate([lv.errors for lv in levels])
    depth = np.concatenate([np.full(len(lv.sizes), lv.slices.shape[1]) for lv in levels])
    score = _score(sizes, wrong, n=n, mean_error=n_errors / n, alpha=alpha)

    p_value = hypergeom.sf(wrong - 1, n, n_errors, sizes)
    # The predicates of at least min_sup examples, per column: the first level's slices.
    owner = np.concatenate([np.full(len(f.texts), i) for i, f in enumerate(features)])
    offered = np.bincount(owner[levels[0].slices[:, 0]], minlength=len(features))
    hypotheses = lattice_size(offered.tolist(), max_level)
    p_adjusted = benjamini_hochberg(p_value, hypotheses=hypotheses)

    order = np.lexsort((*table.T[::-1], depth, -score))
    order = order[score[order] > 0]
    order = _distinct(order, table, sizes, wrong, features, top) if distinct else order[:top]
    texts = [t for f in features for t in f.texts]
    rules = [r for f in features for r in f.rules]
    rows = []
    for rank, i in enumerate(order, start=1):
        predicates = [int(p) for p in table[i] if p >= 0]
        rest = n - sizes[i]
        rows.append(
            {
                "rank": rank,
                "slice": " & ".join(texts[p] for p in predicates),
                "level": int(depth[i]),
                "examples": int(sizes[i]),
                "share": sizes[i] / n,
                "errors": int(wrong[i]),
                "error_rate": wrong[i] / sizes[i],
                "error_rate_elsewhere": (n_errors - wrong[i]) / rest if rest else np.nan,
                "score": float(score[i]),
                "p_value": float(p_value[i]),
                "p_adjusted": float(p_adjusted[i]),
                "significant": bool(p_adjusted[i] <= fdr),
                "rule": " and ".join(rules[p] for p in predicates),
            }
        )
    if not rows:
        return _empty()
    return pd.DataFrame(rows, columns=DISCOVER_COLUMNS).astype(_empty().dtypes.to_dict())


# --------------------------------------------------------------------------- adoption


def suggested_name(row: pd.Series | dict) -> str:
    """A tag name for a discovered slice: its readable text, cut to the longest name."""
    text = str(row["slice"])
    return text if len(text) <= MAX_NAME else text[: MAX_NAME - 1] + "…"


def adopt_slice(
    project: Project,
    *,
    rule: str,
    name: str,
    actor: str,
    examples: pd.DataFrame | None = None,
    description: str | None = None,
) -> str:
    """Define a new rule tag ``name`` holding where ``rule`` holds (one logged action) and
    return its name. Refuses, changing nothing, a name already taken by a tag of the
    project or of any dataset's data (:class:`StoreError`), and a rule that does not parse
    or, given the run's ``examples``, does not evaluate on them (ValueError)."""
    name = check_tag_name(name)
    try:
        parse_rule(rule)
        if examples is not None:
            evaluate_rule(rule, examples)
    except ValueError as err:
        raise ValueError(f"the slice's rule {rule!r} is not a valid rule: {err}") from None
    taken = set(project.tag_definitions()["tag"])
    for info in project.runs():
        taken.update(info.dataset_tags)
    if name in taken:
        raise StoreError(
            f"a tag named {name!r} exists already; nothing was changed (choose another name)"
        )
    project.define_tag(name, actor=actor, rule=rule, description=description, new=True)
    return name
