"""Reference implementations kept for the tests: the frame-based estimators as they were
before each became two steps (count, then estimate from the counts).

The property tests hold the counts-based public functions equal to these, exactly. What is
copied here is the per-example work (how each function went from the examples to its
numbers); the per-row formulas and the pieces they share with the package (a slice row's
metrics, p-value adjustments, class codes, column bins) are imported: they did not change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from erroranalysis.compare import (
    ALL_EXAMPLES,
    ALL_KIND,
    ALPHA,
    COMPARE_COLUMNS,
    DESIGN_TEST,
    EXACT_TEST,
    LEVEL,
    _check_options,
    _check_pair,
    _exact_rows,
    _finish,
    _insufficient_note,
    _weighted_estimates,
)
from erroranalysis.compare_counts import (
    ONLY_A,
    ONLY_B,
    _align,
    _block,
    _cell_counts,
    _observed,
    _rows_at,
    _tags,
)
from erroranalysis.drift import (
    DRAWS,
    DRIFT_BY_COLUMNS,
    DRIFT_COLUMNS,
    HLP_DRAWS,
    MAX_VALUES,
    NOTE_ONLY_PRODUCTION,
    _check_against,
    _name,
    _rng,
    _shares,
    _value_text,
    projection,
)
from erroranalysis.drift import LEVEL as DRIFT_LEVEL
from erroranalysis.drift import MISSING as DRIFT_MISSING
from erroranalysis.drift import NOTE_NO_HLP as DRIFT_NO_HLP
from erroranalysis.drift import _check_options as _check_drift_options
from erroranalysis.evidence import Checked, Evidence, check_evidence
from erroranalysis.priorities import priority_table
from erroranalysis.slice_counts import _codes, _column_slices, _pair_counts
from erroranalysis.slices import (
    BASELINE_COLUMNS,
    EXAMPLE_COLUMNS,
    _check_slicing,
    _slice_frame,
    _slice_row,
)
from erroranalysis.vocabulary import (
    NOTE_NO_HLP,
    NOTE_NOT_SEEN_DATASET,
    NOTE_NOT_SEEN_REVIEWED,
    NOTE_REVIEWED_TAG_SLICE,
    SLICE_BY_TAGS,
)

# --------------------------------------------------------------------------- slices


@dataclass(frozen=True)
class _Run:
    """The examples a slice table compares, as codes over the whole run's classes."""

    label: np.ndarray
    prediction: np.ndarray
    classes: np.ndarray
    correct: np.ndarray
    known: np.ndarray  # has a human label
    agrees: np.ndarray  # and it equals the label

    @classmethod
    def of(cls, examples: pd.DataFrame, inputs: Checked) -> _Run:
        label, prediction, classes = _codes(examples)
        n = len(examples)
        known, agrees = inputs.human if inputs.human is not None else (np.zeros(n, bool),) * 2
        return cls(label, prediction, classes, inputs.correct, known, agrees)

    def subset(self, mask: np.ndarray) -> _Run:
        return _Run(
            self.label[mask],
            self.prediction[mask],
            self.classes,
            self.correct[mask],
            self.known[mask],
            self.agrees[mask],
        )


@dataclass(frozen=True)
class _SliceCounts:
    sizes: np.ndarray
    correct: np.ndarray
    pairs: list[tuple[np.ndarray, np.ndarray]]  # per slice: (label, prediction) codes, counts
    labelled: np.ndarray
    agreeing: np.ndarray


def _mask_counts(run: _Run, masks: list[np.ndarray]) -> _SliceCounts:
    n_classes = len(run.classes)
    pair = run.label.astype(np.int64) * n_classes + run.prediction
    return _SliceCounts(
        sizes=np.array([np.count_nonzero(mask) for mask in masks], dtype=np.int64),
        correct=np.array([np.count_nonzero(run.correct & mask) for mask in masks], np.int64),
        pairs=[_pair_counts(pair[mask], n_classes**2) for mask in masks],
        labelled=np.array([np.count_nonzero(run.known & mask) for mask in masks]),
        agreeing=np.array([np.count_nonzero(run.agrees & mask) for mask in masks]),
    )


def _code_counts(run: _Run, codes: np.ndarray, n_slices: int) -> _SliceCounts:
    n_pairs = len(run.classes) ** 2
    pair = run.label.astype(np.int64) * len(run.classes) + run.prediction
    # One pass: count (slice, label, prediction) triples, then split by slice.
    keys, counts = _pair_counts(codes * n_pairs + pair, n_slices * n_pairs)
    starts = np.searchsorted(keys, np.arange(n_slices + 1) * n_pairs)
    return _SliceCounts(
        sizes=np.bincount(codes, minlength=n_slices),
        correct=np.bincount(codes, weights=run.correct, minlength=n_slices).astype(np.int64),
        pairs=[
            (keys[starts[s] : starts[s + 1]] - s * n_pairs, counts[starts[s] : starts[s + 1]])
            for s in range(n_slices)
        ],
        labelled=np.bincount(codes, weights=run.known, minlength=n_slices),
        agreeing=np.bincount(codes, weights=run.agrees, minlength=n_slices),
    )


def _metrics(
    run: _Run,
    names: list[str],
    counts: _SliceCounts,
    *,
    positive: object,
    alpha: float,
    correction: str,
    hlp: Mapping[str, float],
) -> pd.DataFrame:
    """The slice table (:data:`SLICE_COLUMNS`) of the slices counted in ``counts``."""
    n_classes = len(run.classes)
    n = len(run.label)
    positive_code = None if positive is None else int(np.flatnonzero(run.classes == positive)[0])
    base = {
        "n": n,
        "total_correct": int(run.correct.sum()),
        "majority": _majority_code(run.label, n_classes),
        "n_classes": n_classes,
        "positive_code": positive_code,
        "hlp": hlp,
    }
    rows = [
        _slice_row(
            name,
            size=int(counts.sizes[s]),
            correct=counts.correct[s],
            pairs=counts.pairs[s][0],
            pair_counts=counts.pairs[s][1],
            labelled=counts.labelled[s],
            agreeing=counts.agreeing[s],
            **base,
        )
        for s, name in enumerate(names)
    ]
    return _slice_frame(rows, alpha=alpha, correction=correction)


def _majority_code(label_codes: np.ndarray, n_classes: int) -> int:
    """The most frequent label, ties to the first class, as DummyClassifier picks it
    (counted here: importing scikit-learn for one count took 1.6 s of a first page)."""
    if len(label_codes) == 0:
        return 0
    return int(np.argmax(np.bincount(label_codes, minlength=n_classes)))


def slice_table_frames(
    evidence: Evidence,
    *,
    by: str,
    positive: str | None = None,
    bins: int = 5,
    alpha: float = 0.05,
    correction: str = "holm",
    max_slices: int = 100,
) -> pd.DataFrame:
    """Today's frame-based implementation, kept as the reference."""
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    examples = evidence.examples
    _check_slicing(
        examples,
        by=by,
        positive=positive,
        bins=bins,
        alpha=alpha,
        correction=correction,
        max_slices=max_slices,
    )
    run = _Run.of(examples, inputs)
    options = {"positive": positive, "alpha": alpha, "correction": correction}
    if by != SLICE_BY_TAGS:
        codes, names = _column_slices(examples[by], bins, max_slices)
        return _metrics(run, names, _code_counts(run, codes, len(names)), hlp={}, **options)

    kinds = inputs.kinds
    full = [j for j, kind in enumerate(kinds) if kind != "reviewed"]
    sampled = [j for j, kind in enumerate(kinds) if kind == "reviewed"]
    names = inputs.tag_names
    parts = []
    if full:
        masks = [inputs.matrix[:, j] for j in full]
        counts = _mask_counts(run, masks)
        part = _metrics(run, [names[j] for j in full], counts, hlp=inputs.hlp, **options)
        parts.append(part.assign(evidence="dataset"))
    if sampled and inputs.reviewed.any():
        reviewed = inputs.reviewed
        masks = [inputs.matrix[reviewed, j] for j in sampled]
        seen = run.subset(reviewed)
        counts = _mask_counts(seen, masks)
        part = _metrics(seen, [names[j] for j in sampled], counts, hlp=inputs.hlp, **options)
        parts.append(part.assign(evidence=NOTE_REVIEWED_TAG_SLICE))
    if not parts:
        empty = _metrics(run, [], _mask_counts(run, []), hlp={}, **options)
        return empty.assign(evidence=pd.Series(dtype="str"))
    return pd.concat(parts, ignore_index=True)


def baselines_frames(evidence: Evidence, *, hlp: float | None = None) -> pd.DataFrame:
    """Today's frame-based implementation, kept as the reference."""
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    if hlp is not None and (
        isinstance(hlp, bool) or not isinstance(hlp, int | float) or not 0 <= hlp <= 1
    ):
        raise ValueError(f"hlp must be between 0 and 1, got {hlp!r}")
    examples = evidence.examples
    n = len(examples)
    label_codes, _, classes = _codes(examples)
    model = float(examples["correct"].mean()) if n else np.nan
    if n:
        majority = _majority_code(label_codes, len(classes))
        dummy_accuracy = float(np.mean(label_codes == majority))
        dummy_note = f"always predicting {classes[majority]!r}"
    else:
        dummy_accuracy, dummy_note = np.nan, "no examples"
    labelled = 0 if inputs.human is None else np.count_nonzero(inputs.human[0])
    if hlp is not None:
        human, human_note = float(hlp), "set by the team"
    elif labelled:
        human = np.count_nonzero(inputs.human[1]) / labelled
        human_note = "measured from human labels"
    else:
        human, human_note = np.nan, NOTE_NO_HLP
    return pd.DataFrame(
        {
            "baseline": ["model", "most frequent class", "HLP"],
            "accuracy": [model, dummy_accuracy, human],
            "note": ["fraction of correct predictions", dummy_note, human_note],
        },
        columns=BASELINE_COLUMNS,
    )


# --------------------------------------------------------------------------- compare


@dataclass(frozen=True)
class _Weighted:
    """Design-weighted statistics of the reviewed tags, per cell (4, K)."""

    observed: np.ndarray  # reviews per cell (4,)
    tagged: np.ndarray  # reviews carrying the tag (4, K)
    rate: np.ndarray  # Hájek rate of the tag (4, K), NaN where the cell has no review
    effective: np.ndarray  # Kish effective sample size (4, K)


def weighted_rates(
    codes: np.ndarray, weights: np.ndarray, tags: np.ndarray, cell_size: np.ndarray
) -> _Weighted:
    """Per cell and tag, from the reviews (``codes`` their cell, ``weights`` their design
    weights, ``tags`` (n, K) bool): the Hájek rate p = Σw·t / Σw and the effective sample
    size n* = p(1 − p) / v of its linearised variance v = Σw²(t − p)² / (Σw)², or Kish's
    (Σw)² / Σw² when p is 0 or 1; at most the cell's size. Equal weights give n* = n."""
    k = tags.shape[1]
    observed = np.bincount(codes, minlength=4)
    tagged = np.zeros((4, k), dtype=np.int64)
    rate = np.full((4, k), np.nan)
    effective = np.zeros((4, k))
    values = tags.astype(float)
    for cell in range(4):
        here = codes == cell
        if not here.any():
            continue
        w, t = weights[here], values[here]
        sw, sw2 = w.sum(), (w * w).sum()
        p = (w @ t) / sw
        v = ((w * w) @ ((t - p) ** 2)) / (sw * sw)
        kish = sw * sw / sw2
        with np.errstate(divide="ignore", invalid="ignore"):
            n_star = np.where((p > 0) & (p < 1) & (v > 0), p * (1 - p) / v, kish)
        n_star = np.minimum(n_star * (here.sum() - 1) / here.sum(), kish)
        tagged[cell] = np.count_nonzero(tags[here], axis=0)
        rate[cell] = p
        effective[cell] = np.minimum(n_star, cell_size[cell])
    return _Weighted(observed=observed, tagged=tagged, rate=rate, effective=effective)


def compare_runs_frames(
    evidence: Evidence,
    *,
    baseline: Evidence,
    level: float = LEVEL,
    alpha: float = ALPHA,
    draws: int = 4000,
    seed: int = 0,
) -> pd.DataFrame:
    """Today's frame-based implementation, kept as the reference."""
    checked_b = check_evidence(evidence)
    if not isinstance(baseline, Evidence):
        raise ValueError(f"baseline must be an Evidence, got {type(baseline).__name__}")
    try:
        checked_a = check_evidence(baseline)
    except ValueError as err:
        raise ValueError(f"baseline: {err}") from None
    _check_options(level, alpha, draws, seed)
    level, alpha = float(level), float(alpha)
    _check_pair(evidence, baseline)
    observed_b, weights_b = _observed(checked_b)
    pair = _align(evidence, baseline)

    codes = 2 * checked_a.correct[pair.rows_a].astype(np.int64) + checked_b.correct[pair.rows_b]
    cell_size = np.bincount(codes, minlength=4)
    tags = _tags(checked_b, checked_a)
    computed = [c for c in COMPARE_COLUMNS if c not in ("p_adjusted", "regression", "improved")]
    columns: dict[str, list] = {column: [] for column in computed}
    numbers = [c for c in computed if c not in ("tag", "kind", "evidence", "test", "note")]

    def add(names, kinds, values: dict[str, np.ndarray], evidence_kind, test, notes) -> None:
        columns["tag"].extend(names)
        columns["kind"].extend(kinds)
        for name in numbers:
            columns[name].extend(values[name].tolist())
        columns["evidence"].extend(evidence_kind)
        columns["test"].extend(test)
        columns["note"].extend(notes)

    whole = _exact_rows(cell_size[:, None], level)
    note = ""
    if pair.only_a or pair.only_b:
        note = (
            f"compared on the {pair.size:,} examples in both runs; run A has {pair.only_a:,} "
            f"more, run B {pair.only_b:,} more"
        )
    add([ALL_EXAMPLES], [ALL_KIND], whole, ["dataset"], [EXACT_TEST], [note])

    exact = np.flatnonzero(tags.exact)
    if len(exact):
        counts = _cell_counts(
            pair,
            codes,
            checked_b.matrix,
            checked_a.matrix,
            tags.column_b[exact],
            tags.column_a[exact],
        )
        rows = _exact_rows(counts, level)
        seen = rows["examples"] > 0
        add(
            [tags.names[j] for j in exact],
            [tags.kinds[j] for j in exact],
            rows,
            ["dataset"] * len(exact),
            [EXACT_TEST] * len(exact),
            ["" if s else NOTE_NOT_SEEN_DATASET for s in seen],
        )

    reviewed = np.flatnonzero(~tags.exact)
    if len(reviewed):
        observed = np.flatnonzero(observed_b[pair.rows_b])
        rows_b = _rows_at(pair.rows_b, observed)
        rows_a = _rows_at(pair.rows_a, observed)
        values = _block(
            checked_b.matrix,
            checked_a.matrix,
            tags.column_b[reviewed],
            tags.column_a[reviewed],
            rows_b,
            rows_a,
        )
        names = [tags.names[j] for j in reviewed]
        stats = weighted_rates(codes[observed], weights_b[rows_b], values, cell_size)
        estimates = _weighted_estimates(
            stats, cell_size, names, level=level, draws=int(draws), seed=int(seed)
        )
        sufficient = estimates["sufficient"]
        # Insufficient either because a cell has no review, or because no review carries
        # the tag at all.
        reached = bool((stats.observed[cell_size > 0] > 0).all())
        missing = (
            NOTE_NOT_SEEN_REVIEWED if reached else _insufficient_note(stats.observed, cell_size)
        )
        notes = ["" if s else missing for s in sufficient]
        add(
            names,
            ["reviewed"] * len(reviewed),
            estimates
            | {
                "examples": stats.tagged.sum(axis=0),
                "only_a_correct": stats.tagged[ONLY_A],
                "only_b_correct": stats.tagged[ONLY_B],
            },
            np.where(sufficient, "reviewed", "insufficient").tolist(),
            [DESIGN_TEST] * len(reviewed),
            notes,
        )

    return _finish(pd.DataFrame(columns), alpha)


# --------------------------------------------------------------------------- drift


def _drift_tags_frames(
    evidence: Evidence,
    inputs: Checked,
    against: Evidence,
    *,
    level: float,
    draws: int,
    seed: int,
) -> pd.DataFrame:
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
    n_dev, n_against = len(evidence.examples), len(against.examples)
    matrix = inputs.matrix[:, [j for j, _, _ in rows]]
    x_dev = matrix.sum(axis=0).astype(np.int64)
    correct = (matrix & inputs.correct[:, None]).sum(axis=0).astype(np.int64)
    names = [tag for _, tag, _ in rows]
    x_against = np.array(
        [int(np.count_nonzero(against.tags[tag].to_numpy(dtype=bool))) for tag in names],
        dtype=np.int64,
    )
    columns = _shares(x_dev, n_dev, correct, x_against, n_against, level)
    accuracy = columns["accuracy_dev"]

    # The HLP as the priority table has it: set by the team, else measured from human
    # labels (which only the priority table's estimator measures).
    hlp = np.array([inputs.hlp.get(tag, np.nan) for tag in names], dtype=float)
    if rows and inputs.human is not None:
        table = priority_table(evidence, draws=HLP_DRAWS).set_index("tag")["hlp"]
        hlp = table.reindex(names).to_numpy(dtype=float)
    gap = np.clip(hlp - accuracy, 0.0, None)
    effect_against = np.full((3, len(rows)), np.nan)
    projected = np.full((3, len(rows)), np.nan)
    notes = np.full(len(rows), "", dtype=object)
    total_correct = int(np.count_nonzero(inputs.correct))
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
            notes[i] = DRIFT_NO_HLP
        elif n_against and x_dev[i]:
            acc = rng.beta(correct[i] + 0.5, x_dev[i] - correct[i] + 0.5, draws)
            share = rng.beta(x_against[i] + 0.5, n_against - x_against[i] + 0.5, draws)
            effect = np.clip(hlp[i] - acc, 0.0, None) * share
            low, high = np.quantile(effect, [tail, 1 - tail])
            effect_against[:, i] = (gap[i] * columns["share_against"][i], low, high)
    frame = pd.DataFrame(
        {
            "tag": names,
            "kind": [kind for _, _, kind in rows],
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


def _drift_by_frames(
    evidence: Evidence,
    inputs: Checked,
    against: Evidence,
    by: str,
    *,
    level: float,
    draws: int,
    seed: int,
) -> pd.DataFrame:
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
    labels = [*values.tolist(), DRIFT_MISSING]
    codes = np.where(codes < 0, len(values), codes)
    n_cells = len(labels)
    dev_codes, prod_codes = codes[: len(dev)], codes[len(dev) :]
    size = np.bincount(dev_codes, minlength=n_cells)
    correct = np.bincount(dev_codes, weights=inputs.correct, minlength=n_cells).astype(np.int64)
    in_prod = np.bincount(prod_codes, minlength=n_cells)
    keep = (size > 0) | (in_prod > 0)
    columns = _shares(size[keep], len(dev), correct[keep], in_prod[keep], len(prod), level)
    point, low, high = projection(
        correct, size, in_prod, rng=_rng(seed, by), draws=draws, level=level
    )
    shown = [label for label, kept in zip(labels, keep, strict=True) if kept]
    notes = np.where((size[keep] == 0) & (in_prod[keep] > 0), NOTE_ONLY_PRODUCTION, "")
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


def drift_table_frames(
    evidence: Evidence,
    *,
    against: Evidence,
    by: str | None = None,
    level: float = DRIFT_LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Today's frame-based implementation, kept as the reference."""
    inputs = check_evidence(evidence)
    against = _check_against(against)
    _check_drift_options(by, level, draws, seed)
    level, draws, seed = float(level), int(draws), int(seed)
    if by is None:
        return _drift_tags_frames(evidence, inputs, against, level=level, draws=draws, seed=seed)
    return _drift_by_frames(evidence, inputs, against, by, level=level, draws=draws, seed=seed)
