"""Brute-force oracles for the property tests of tests/test_from_counts.py: each table
computed from its definition (docs/statistics.md, the functions' docstrings), example by
example and group by group, in plain Python loops, without the counts layer.

What they take from the package is what the definitions name and the tests do not
question here: the validation of the inputs (so that both refuse the same input with the
same message), the published formulas (intervals, tests, p-value adjustments, a column's
bins) and the seeded random streams, whose draws must come in the package's order for
the intervals to be equal. Everything between the examples and those formulas (which
examples fall in which group, how they are counted and combined into a row, the notes,
the order of the rows) is written again here, the slow and obvious way.
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pandas as pd
from scipy.stats import hypergeom
from sklearn.metrics import precision_recall_fscore_support

from erroranalysis.compare import (
    ALL_EXAMPLES,
    ALL_KIND,
    COLUMNS_DTYPES,
    COMPARE_COLUMNS,
    DESIGN_TEST,
    EXACT_TEST,
    _check_runs,
    _tag_rng,
    _tail_probability,
    mcnemar_p,
    paired_interval,
)
from erroranalysis.compare_counts import CELL_NAMES
from erroranalysis.drift import (
    DRIFT_BY_COLUMNS,
    DRIFT_COLUMNS,
    HLP_DRAWS,
    MAX_VALUES,
    MISSING,
    NOTE_NO_HLP,
    NOTE_ONLY_PRODUCTION,
    _check_against,
    _fisher,
    _rng,
    _value_text,
    projection,
)
from erroranalysis.drift import _check_options as _check_drift_options
from erroranalysis.estimation import proportion_interval
from erroranalysis.evidence import Evidence, check_evidence
from erroranalysis.priorities import priority_table
from erroranalysis.slice_counts import _column_slices
from erroranalysis.slices import (
    BASELINE_COLUMNS,
    EXAMPLE_COLUMNS,
    SLICE_COLUMNS,
    _check_slicing,
    bonferroni_adjust,
    holm_adjust,
)
from erroranalysis.vocabulary import NOTE_NO_HLP as NOTE_NO_HUMAN_LABELS
from erroranalysis.vocabulary import (
    NOTE_NOT_SEEN_DATASET,
    NOTE_NOT_SEEN_REVIEWED,
    NOTE_REVIEWED_TAG_SLICE,
    SLICE_BY_TAGS,
)


def _fraction(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


# --------------------------------------------------------------------------- slices


def _people(examples: pd.DataFrame) -> list[tuple[bool, bool]]:
    """Per example: (has a human label, and it equals the label)."""
    if "human_label" not in examples.columns:
        return [(False, False)] * len(examples)
    return [
        (not pd.isna(human), not pd.isna(human) and human == label)
        for human, label in zip(examples["human_label"], examples["label"], strict=True)
    ]


def _most_frequent(labels: list, classes: list) -> object:
    """The label the most frequent in ``labels``, ties to the first of ``classes``."""
    best, best_count = classes[0] if classes else None, -1
    for value in classes:
        count = labels.count(value)
        if count > best_count:
            best, best_count = value, count
    return best


def _slice_scores(truth: list, predicted: list, positive: object) -> tuple[float, ...]:
    if not truth:
        return math.nan, math.nan, math.nan
    if positive is None:
        present = sorted(set(truth) | set(predicted))
        scores = precision_recall_fscore_support(
            truth, predicted, labels=present, average="macro", zero_division=0
        )
        return tuple(float(s) for s in scores[:3])
    scores = precision_recall_fscore_support(
        truth, predicted, labels=[positive], average=None, zero_division=0
    )
    return tuple(float(s[0]) for s in scores[:3])


def _slice_rows(groups, base: list[int], run: dict, *, positive, hlp) -> list[dict]:
    """One row per (name, member rows) of ``groups``, each compared with ``base``."""
    n = len(base)
    base_correct = sum(run["correct"][i] for i in base)
    majority = _most_frequent([run["label"][i] for i in base], run["classes"])
    rows = []
    for name, members in groups:
        size = len(members)
        right = sum(run["correct"][i] for i in members)
        truth = [run["label"][i] for i in members]
        predicted = [run["prediction"][i] for i in members]
        labelled = sum(run["people"][i][0] for i in members)
        agreeing = sum(run["people"][i][1] for i in members)
        if name in hlp:
            person, source = float(hlp[name]), "set"
        elif labelled:
            person, source = agreeing / labelled, "measured"
        else:
            person, source = math.nan, "empty"
        precision, recall, f1 = _slice_scores(truth, predicted, positive)
        rest = n - size
        tested = size > 0 and rest > 0
        rows.append(
            {
                "slice": name,
                "examples": size,
                "share": _fraction(size, n),
                "accuracy": _fraction(right, size),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "baseline_accuracy": _fraction(truth.count(majority), size),
                "hlp": person,
                "hlp_source": source,
                "accuracy_rest": _fraction(base_correct - right, rest),
                "p_value": float(hypergeom.cdf(right, n, base_correct, size))
                if tested
                else math.nan,
            }
        )
    return rows


def _slice_frame(rows: list[dict], *, alpha: float, correction: str) -> pd.DataFrame:
    """The rows of one base as the table: p-values adjusted over them, the flags."""
    frame = pd.DataFrame.from_records(rows, columns=SLICE_COLUMNS[:-2])
    types = {c: np.float64 for c in SLICE_COLUMNS[:-2]}
    types.update(slice="str", hlp_source="str", examples=np.int64)
    frame = frame.astype(types)
    p = frame["p_value"].to_numpy()
    frame["p_adjusted"] = holm_adjust(p) if correction == "holm" else bonferroni_adjust(p)
    worse = [
        bool(adjusted < alpha and accuracy < rest)
        for adjusted, accuracy, rest in zip(
            frame["p_adjusted"], frame["accuracy"], frame["accuracy_rest"], strict=True
        )
    ]
    frame["flagged"] = np.array(worse, dtype=bool)
    return frame


def slice_table(
    evidence: Evidence, *, by, positive, correction, bins, alpha=0.05, max_slices=100
) -> pd.DataFrame:
    """The slice table of :func:`erroranalysis.slices.slice_table`, slice by slice."""
    options = {"positive": positive, "alpha": alpha, "correction": correction}
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    examples = evidence.examples
    _check_slicing(examples, by=by, bins=bins, max_slices=max_slices, **options)
    labels, predictions = examples["label"].tolist(), examples["prediction"].tolist()
    run = {
        "label": labels,
        "prediction": predictions,
        "classes": sorted(set(labels) | set(predictions)),
        "correct": [bool(c) for c in inputs.correct],
        "people": _people(examples),
    }
    everyone = list(range(len(examples)))
    alpha, correction = options["alpha"], options["correction"]
    positive = options["positive"]
    if by != SLICE_BY_TAGS:
        codes, names = _column_slices(examples[by], bins, max_slices)
        groups = [(name, [i for i in everyone if codes[i] == s]) for s, name in enumerate(names)]
        rows = _slice_rows(groups, everyone, run, positive=positive, hlp={})
        return _slice_frame(rows, alpha=alpha, correction=correction)

    reviewed = [i for i in everyone if inputs.reviewed[i]]
    parts = []
    # Dataset and rule tags are sliced on every example; reviewed tags on the reviewed
    # ones, when there are some.
    for evidence_text, base, wanted in (
        ("dataset", everyone, lambda kind: kind != "reviewed"),
        (NOTE_REVIEWED_TAG_SLICE, reviewed, lambda kind: kind == "reviewed"),
    ):
        if base is reviewed and not reviewed:
            continue
        groups = [
            (name, [i for i in base if inputs.matrix[i, j]])
            for j, (name, kind) in enumerate(zip(inputs.tag_names, inputs.kinds, strict=True))
            if wanted(kind)
        ]
        if groups:
            rows = _slice_rows(groups, base, run, positive=positive, hlp=inputs.hlp)
            part = _slice_frame(rows, alpha=alpha, correction=correction)
            parts.append(part.assign(evidence=evidence_text))
    if not parts:
        empty = _slice_frame([], alpha=alpha, correction=correction)
        return empty.assign(evidence=pd.Series(dtype="str"))
    return pd.concat(parts, ignore_index=True)


def baselines(evidence: Evidence, *, hlp: float | None = None) -> pd.DataFrame:
    """The baselines of :func:`erroranalysis.slices.baselines`, by counting the examples."""
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    if hlp is not None and (
        isinstance(hlp, bool) or not isinstance(hlp, int | float) or not 0 <= hlp <= 1
    ):
        raise ValueError(f"hlp must be between 0 and 1, got {hlp!r}")
    examples = evidence.examples
    labels = examples["label"].tolist()
    classes = sorted(set(labels) | set(examples["prediction"].tolist()))
    n = len(labels)
    model = _fraction(sum(bool(c) for c in inputs.correct), n)
    if n:
        majority = _most_frequent(labels, classes)
        dummy, dummy_note = labels.count(majority) / n, f"always predicting {majority!r}"
    else:
        dummy, dummy_note = math.nan, "no examples"
    people = _people(examples)
    labelled = sum(known for known, _ in people)
    if hlp is not None:
        human, human_note = float(hlp), "set by the team"
    elif labelled:
        human = sum(agrees for _, agrees in people) / labelled
        human_note = "measured from human labels"
    else:
        human, human_note = math.nan, NOTE_NO_HUMAN_LABELS
    records = [
        ("model", model, "fraction of correct predictions"),
        ("most frequent class", dummy, dummy_note),
        ("HLP", human, human_note),
    ]
    return pd.DataFrame.from_records(records, columns=BASELINE_COLUMNS)


# --------------------------------------------------------------------------- compare


def _ids(examples: pd.DataFrame) -> list[str]:
    raw = examples["id"] if "id" in examples.columns else examples.index
    return [str(value) for value in raw]


def _pairs(evidence: Evidence, baseline: Evidence) -> list[tuple[int, int]]:
    """(row in run B, row in run A) of every example id in both runs, in run B's order."""
    ids_b, ids_a = _ids(evidence.examples), _ids(baseline.examples)
    if ids_b != ids_a or not ids_b:
        for ids, which in ((ids_b, "evidence"), (ids_a, "baseline")):
            repeated = sorted({i for i in ids if ids.count(i) > 1})
            if repeated:
                raise ValueError(f"{which} has duplicate example ids: {repeated[:5]}")
    where_a = {example: row for row, example in enumerate(ids_a)}
    pairs = [(row, where_a[example]) for row, example in enumerate(ids_b) if example in where_a]
    if not pairs:
        names = [
            repr(e.run) if e.run else fallback for e, fallback in ((baseline, "A"), (evidence, "B"))
        ]
        raise ValueError(
            f"runs {names[0]} and {names[1]} share no examples "
            "(no example id is in both): compare two runs of the same examples"
        )
    return pairs


def _carriers(checked_b, checked_a, pairs) -> dict[str, tuple[str, list[bool]]]:
    """Every tag of either run (run B's first): its kind, and per pair whether the example
    carries it. A dataset or rule tag in either run is read from the runs where it is one;
    a reviewed tag, from the runs where it is reviewed."""
    runs = [
        (dict(zip(c.tag_names, range(len(c.tag_names)), strict=True)), c, side)
        for c, side in ((checked_b, 0), (checked_a, 1))
    ]
    out = {}
    for tag in dict.fromkeys([*checked_b.tag_names, *checked_a.tag_names]):
        kinds = [c.kinds[at[tag]] for at, c, _ in runs if tag in at]
        exact = [k for k in kinds if k != "reviewed"]
        kind = exact[0] if exact else "reviewed"
        carried = [False] * len(pairs)
        for at, checked, side in runs:
            if tag in at and (checked.kinds[at[tag]] == "reviewed") == (kind == "reviewed"):
                column = checked.matrix[:, at[tag]]
                carried = [
                    c or bool(column[pair[side]]) for c, pair in zip(carried, pairs, strict=True)
                ]
        out[tag] = (kind, carried)
    return out


def _exact_row(tag: str, kind: str, cells: list[int], level: float, note: str) -> dict:
    both_wrong, only_b, only_a, both_right = cells
    n = sum(cells)
    low, high = paired_interval(np.array(cells)[:, None], level=level)
    return {
        "tag": tag,
        "kind": kind,
        "examples": n,
        "accuracy_a": _fraction(both_right + only_a, n),
        "accuracy_b": _fraction(both_right + only_b, n),
        "difference": _fraction(only_b - only_a, n),
        "difference_low": float(low[0]),
        "difference_high": float(high[0]),
        "p_value": mcnemar_p(only_b, only_a) if n else math.nan,
        "evidence": "dataset",
        "test": EXACT_TEST,
        "only_a_correct": only_a,
        "only_b_correct": only_b,
        "note": note,
    }


def _rate(weights: list[float], carried: list[bool], cell_size: int) -> tuple[float, float]:
    """(Hájek rate, effective sample size) of a tag among one cell's reviews: the
    linearised variance summed review by review, Kish's size where the rate is 0 or 1."""
    sw = sum(weights)
    sw2 = sum(w * w for w in weights)
    p = sum(w for w, t in zip(weights, carried, strict=True) if t) / sw
    v = sum(w * w * (float(t) - p) ** 2 for w, t in zip(weights, carried, strict=True)) / (sw * sw)
    kish = sw * sw / sw2
    n_star = p * (1 - p) / v if 0 < p < 1 and v > 0 else kish
    reviews = len(weights)
    return p, min(min(n_star * (reviews - 1) / reviews, kish), cell_size)


def _reviewed_row(tag, cells, reviews, carried, *, level, draws, seed) -> dict:
    """A reviewed tag, post-stratified by the cells: ``reviews`` per cell (pair, weight)."""
    needed = [c for c in range(4) if cells[c] > 0]
    reached = all(reviews[c] for c in needed)
    rates, effective = [math.nan] * 4, [0.0] * 4
    for c in range(4):
        if reviews[c]:
            weights = [w for _, w in reviews[c]]
            marks = [carried[i] for i, _ in reviews[c]]
            rates[c], effective[c] = _rate(weights, marks, cells[c])
    totals = [cells[c] * (0.0 if math.isnan(rates[c]) else rates[c]) for c in range(4)]
    mass = totals[0] + totals[1] + totals[2] + totals[3]
    sufficient = reached and mass > 0
    tagged = [sum(carried[i] for i, _ in reviews[c]) for c in range(4)]
    row = {
        "tag": tag,
        "kind": "reviewed",
        "examples": sum(tagged),
        "accuracy_a": (totals[3] + totals[2]) / mass if sufficient else math.nan,
        "accuracy_b": (totals[3] + totals[1]) / mass if sufficient else math.nan,
        "difference": (totals[1] - totals[2]) / mass if sufficient else math.nan,
        "difference_low": math.nan,
        "difference_high": math.nan,
        "p_value": math.nan,
        "evidence": "reviewed" if sufficient else "insufficient",
        "test": DESIGN_TEST,
        "only_a_correct": tagged[2],
        "only_b_correct": tagged[1],
        "note": "",
    }
    if sufficient:
        rng = _tag_rng(seed, tag)
        drawn = {c: np.zeros(draws) for c in range(4)}
        for c in needed:
            x = rates[c] * effective[c]
            drawn[c] = cells[c] * rng.beta(x + 0.5, effective[c] - x + 0.5, draws)
        difference = (drawn[1] - drawn[2]) / (drawn[0] + drawn[1] + drawn[2] + drawn[3])
        tail = (1 - level) / 2
        row["difference_low"], row["difference_high"] = np.quantile(difference, [tail, 1 - tail])
        row["p_value"] = _tail_probability(difference)
    elif reached:
        row["note"] = NOTE_NOT_SEEN_REVIEWED
    else:
        lacking = " nor ".join(CELL_NAMES[c] for c in needed if not reviews[c])
        row["note"] = (
            f"no reviewed example {lacking}: review a few of them (a sample of either run's "
            "errors and correct predictions) to compare this tag"
        )
    return row


def compare_runs(evidence: Evidence, *, baseline, level, draws, seed, alpha=0.05) -> pd.DataFrame:
    """The table of :func:`erroranalysis.compare.compare_runs`, pair by pair."""
    checked_b, checked_a = _check_runs(evidence, baseline, level, alpha, draws, seed)
    level, alpha = float(level), float(alpha)
    pairs = _pairs(evidence, baseline)
    cell_of = [2 * int(checked_a.correct[a]) + int(checked_b.correct[b]) for b, a in pairs]
    cells = [cell_of.count(c) for c in range(4)]
    weight = checked_b.weights
    reviews = {c: [] for c in range(4)}  # per cell: (pair, design weight) of B's reviews
    for i, (b, _) in enumerate(pairs):
        if checked_b.reviewed[b]:
            w = 1.0 if weight is None else (0.0 if np.isnan(weight[b]) else float(weight[b]))
            reviews[cell_of[i]].append((i, w))
    note = ""
    only_b, only_a = len(evidence.examples) - len(pairs), len(baseline.examples) - len(pairs)
    if only_a or only_b:
        note = (
            f"compared on the {len(pairs):,} examples in both runs; run A has {only_a:,} "
            f"more, run B {only_b:,} more"
        )
    rows = [_exact_row(ALL_EXAMPLES, ALL_KIND, cells, level, note)]
    tags = _carriers(checked_b, checked_a, pairs)
    for tag, (kind, carried) in tags.items():
        if kind != "reviewed":
            tally = [
                sum(t for t, c in zip(carried, cell_of, strict=True) if c == cell)
                for cell in range(4)
            ]
            note = "" if sum(tally) else NOTE_NOT_SEEN_DATASET
            rows.append(_exact_row(tag, kind, tally, level, note))
    for tag, (kind, carried) in tags.items():
        if kind == "reviewed":
            rows.append(
                _reviewed_row(
                    tag,
                    cells,
                    reviews,
                    carried,
                    level=level,
                    draws=int(draws),
                    seed=int(seed),
                )
            )
    return _flagged(rows, alpha)


def _flagged(rows: list[dict], alpha: float) -> pd.DataFrame:
    """Holm over every tested row, the flags and their notes; the whole dataset first,
    then the rows by difference (the largest drop first, untested last, ties in order)."""
    adjusted = holm_adjust([row["p_value"] for row in rows])
    tested = sum(not math.isnan(p) for p in adjusted)
    for row, p in zip(rows, adjusted, strict=True):
        significant = not math.isnan(p) and p < alpha
        row["p_adjusted"] = p
        row["regression"] = significant and row["difference"] < 0
        row["improved"] = significant and row["difference"] > 0
        if significant:
            word = "worse" if row["difference"] < 0 else "better"
            flag = (
                f"significantly {word} in run B (Holm-adjusted p {p:.2g} < {alpha:g}, "
                f"over {tested} tests)"
            )
            row["note"] = f"{row['note']}; {flag}" if row["note"] else flag
    first, rest = rows[:1], rows[1:]
    rest = sorted(rest, key=lambda r: math.inf if math.isnan(r["difference"]) else r["difference"])
    frame = pd.DataFrame.from_records(first + rest, columns=COMPARE_COLUMNS)
    return frame.astype(COLUMNS_DTYPES)


# --------------------------------------------------------------------------- drift


def _shares_row(x_dev: int, n_dev: int, correct: int, x_against: int, n_against: int, level):
    """The share, Fisher test and accuracy columns of one row; the intervals and the
    adjusted p-value are filled over all rows by :func:`_over_rows`."""
    share_dev, share_against = _fraction(x_dev, n_dev), _fraction(x_against, n_against)
    return {
        "examples_dev": x_dev,
        "examples_against": x_against,
        "share_dev": share_dev,
        "share_against": share_against,
        "shift": share_against - share_dev,
        "p_value": _fisher(x_dev, n_dev, x_against, n_against),
        "accuracy_dev": _fraction(correct, x_dev),
        "correct_dev": correct,
    }


def _over_rows(rows: list[dict], n_dev: int, n_against: int, level: float) -> None:
    """The rows' Jeffreys intervals (one call per column: the formula computed on arrays
    can differ from it on a scalar in the last bit) and Holm's adjustment over them."""
    x_dev = np.array([row["examples_dev"] for row in rows], dtype=np.int64)
    x_against = np.array([row["examples_against"] for row in rows], dtype=np.int64)
    correct = np.array([row.pop("correct_dev") for row in rows], dtype=np.int64)
    intervals = {
        "share_dev": proportion_interval(x_dev, np.full(len(rows), n_dev), level=level),
        "share_against": proportion_interval(x_against, np.full(len(rows), n_against), level=level),
        "accuracy_dev": proportion_interval(correct, x_dev, level=level),
    }
    adjusted = holm_adjust([row["p_value"] for row in rows])
    for i, row in enumerate(rows):
        for name, (low, high) in intervals.items():
            row[f"{name}_low"], row[f"{name}_high"] = low[i], high[i]
        row["p_adjusted"] = adjusted[i]
        row["drifted"] = not math.isnan(adjusted[i]) and adjusted[i] < 1 - level


def _drift_by_tags(evidence, inputs, against, *, level, draws, seed) -> pd.DataFrame:
    n_dev, n_against = len(evidence.examples), len(against.examples)
    correct = [bool(c) for c in inputs.correct]
    # Known on both sides: dataset and rule tags (reviewed ones are known on neither).
    known = ("dataset", "rule")
    in_production = {
        tag for tag in against.tags.columns if against.kinds.get(tag, "dataset") in known
    }
    chosen = []
    for j, (tag, kind) in enumerate(zip(inputs.tag_names, inputs.kinds, strict=True)):
        if kind not in known:
            continue
        if kind == "rule" and tag in against.rule_problems:
            raise ValueError(
                f"rule tag {tag!r} cannot be evaluated on the production sample "
                f"({f'dataset {against.dataset!r}' if against.dataset else 'against'}): "
                f"{against.rule_problems[tag]}"
            )
        if tag in in_production:
            chosen.append((j, tag, kind))
    # The HLP as the priority table has it, when there are human labels to measure it.
    hlps = inputs.hlp
    if chosen and inputs.human is not None:
        hlps = priority_table(evidence, draws=HLP_DRAWS).set_index("tag")["hlp"].to_dict()
    rows = []
    all_correct = sum(correct)
    tail = (1 - level) / 2
    for j, tag, kind in chosen:
        carriers = [i for i in range(n_dev) if inputs.matrix[i, j]]
        x_dev, right = len(carriers), sum(correct[i] for i in carriers)
        x_against = sum(bool(v) for v in against.tags[tag])
        row = {
            "tag": tag,
            "kind": kind,
            **_shares_row(x_dev, n_dev, right, x_against, n_against, level),
        }
        hlp = float(hlps.get(tag, math.nan))
        gap = max(hlp - row["accuracy_dev"], 0.0)  # NaN stays NaN
        row["hlp"] = hlp
        row["marginal_effect_dev"] = gap * row["share_dev"]
        # The tag and the rest of the data are the projection's two cells.
        rng = _rng(seed, tag)
        point, low, high = projection(
            [right, all_correct - right],
            [x_dev, n_dev - x_dev],
            [x_against, n_against - x_against],
            rng=rng,
            draws=draws,
            level=level,
        )
        effect = (math.nan, math.nan, math.nan)
        note = ""
        if x_dev == 0 and x_against > 0:
            note = NOTE_ONLY_PRODUCTION
        elif math.isnan(hlp):
            note = NOTE_NO_HLP
        elif n_against and x_dev:
            accuracy = rng.beta(right + 0.5, x_dev - right + 0.5, draws)
            share = rng.beta(x_against + 0.5, n_against - x_against + 0.5, draws)
            spread = np.quantile(np.clip(hlp - accuracy, 0.0, None) * share, [tail, 1 - tail])
            effect = (gap * row["share_against"], spread[0], spread[1])
        row["marginal_effect_against"] = effect[0]
        row["marginal_effect_against_low"] = effect[1]
        row["marginal_effect_against_high"] = effect[2]
        row |= {"projected_accuracy": point, "projected_accuracy_low": low}
        row |= {"projected_accuracy_high": high, "note": note}
        rows.append(row)
    _over_rows(rows, n_dev, n_against, level)
    rows.sort(key=lambda r: (2.0 if math.isnan(r["p_value"]) else r["p_value"], r["tag"]))
    return _drift_frame(rows, DRIFT_COLUMNS)


def _drift_frame(rows: list[dict], columns: list[str]) -> pd.DataFrame:
    # Column by column, as lists: an empty table's text columns take the package's type.
    data = {c: [row[c] for row in rows] for c in columns}
    if "value" in data:  # a column's values as they are, of whatever type
        data["value"] = pd.array(data["value"], dtype=object)
    data["note"] = np.array(data["note"], dtype=object)
    frame = pd.DataFrame(data, columns=columns)
    numbers = [c for c in columns if c not in ("tag", "kind", "value", "note", "drifted")]
    types = {c: np.float64 for c in numbers} | {"drifted": bool}
    types |= {"examples_dev": np.int64, "examples_against": np.int64}
    return frame.astype(types)


def _drift_by_column(evidence, inputs, against, by, *, level, draws, seed) -> pd.DataFrame:
    for side, fallback in ((evidence, "dev"), (against, "the production sample")):
        if by not in side.examples.columns:
            name = f"dataset {side.dataset!r}" if side.dataset else fallback
            shown = ", ".join(repr(c) for c in list(side.examples.columns)[:20])
            raise ValueError(f"by: {name} has no column {by!r} (columns: {shown})")
    dev = evidence.examples[by].tolist()
    production = against.examples[by].tolist()
    values = list(dict.fromkeys(v for v in dev + production if not pd.isna(v)))
    if len(values) > MAX_VALUES:
        raise ValueError(
            f"by: column {by!r} has {len(values):,} values, more than {MAX_VALUES}: drift by "
            "a column of few values (or define a rule tag that bins it)"
        )
    with contextlib.suppress(TypeError):  # text and numbers mixed have no order
        values = sorted(values)
    correct = [bool(c) for c in inputs.correct]
    cells = []  # (value, dev examples, correct among them, production examples)
    for value in [*values, MISSING]:

        def here(v, value=value):
            return pd.isna(v) if value is MISSING else (not pd.isna(v) and v == value)

        rows = [i for i, v in enumerate(dev) if here(v)]
        cell = (value, len(rows), sum(correct[i] for i in rows), sum(map(here, production)))
        if cell[1] or cell[3]:
            cells.append(cell)
    point, low, high = projection(
        [c[2] for c in cells],
        [c[1] for c in cells],
        [c[3] for c in cells],
        rng=_rng(seed, by),
        draws=draws,
        level=level,
    )
    rows = []
    for value, size, right, in_production in cells:
        row = {"tag": _value_text(by, value), "value": value}
        row |= _shares_row(size, len(dev), right, in_production, len(production), level)
        row |= {"projected_accuracy": point, "projected_accuracy_low": low}
        row |= {"projected_accuracy_high": high}
        row["note"] = NOTE_ONLY_PRODUCTION if size == 0 and in_production else ""
        rows.append(row)
    _over_rows(rows, len(dev), len(production), level)
    return _drift_frame(rows, DRIFT_BY_COLUMNS)


def drift_table(evidence: Evidence, *, against, by, level, draws, seed=0) -> pd.DataFrame:
    """The table of :func:`erroranalysis.drift.drift_table`, tag by tag or value by value."""
    inputs = check_evidence(evidence)
    against = _check_against(against)
    _check_drift_options(by, level, draws, seed)
    options = {"level": float(level), "draws": int(draws), "seed": int(seed)}
    if by is None:
        return _drift_by_tags(evidence, inputs, against, **options)
    return _drift_by_column(evidence, inputs, against, by, **options)
