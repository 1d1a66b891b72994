"""Metrics per slice of the data, and the slices where the model does worst.

A slice is the set of examples carrying a tag, or sharing a value of a
metadata column (numeric and date columns are cut into quantile bins). For each
slice :func:`slice_table` reports accuracy, precision, recall and F1 (scikit-learn's
definitions), a most-frequent-class baseline, HLP where known, and whether
the slice's accuracy is significantly below the rest of the data.
:func:`confusion`, :func:`baselines` and :func:`metric_warnings` complete the audit.

Each estimate is two steps: one aggregation of the examples into counts
(:func:`~erroranalysis.slice_counts.slice_counts`, the contract in
:mod:`erroranalysis.slice_counts`), then the statistics from those counts alone
(:func:`slices_from_counts`, :func:`baselines_from_counts`), so that another engine's
counts give the same table. scikit-learn's metrics run on each slice's (label, prediction)
pairs weighted by their counts, which gives exactly the same numbers as running them on
the slice's rows. :func:`confusion` and :func:`metric_warnings` read the examples
themselves: a confusion matrix is already a table of counts, and the warnings list the
labels in the order ``value_counts`` gives them, which counts alone do not fix.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .evidence import Evidence, _check_fraction, check_evidence
from .slice_counts import (
    MISSING,
    LabelCounts,
    SliceCounts,
    _codes,
    label_counts,
    slice_counts,
)
from .vocabulary import NOTE_NO_HLP, SLICE_BY_TAGS

__all__ = [
    "BASELINE_COLUMNS",
    "MISSING",
    "SLICE_COLUMNS",
    "baselines",
    "baselines_from_counts",
    "confusion",
    "metric_warnings",
    "slice_table",
    "slices_from_counts",
]

CORRECTIONS = ("holm", "bonferroni")
# The columns of the examples every function here reads.
EXAMPLE_COLUMNS = ("correct", "label", "prediction")

SLICE_COLUMNS = [
    "slice",
    "examples",
    "share",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "baseline_accuracy",
    "hlp",
    "hlp_source",
    "accuracy_rest",
    "p_value",
    "p_adjusted",
    "flagged",
]

BASELINE_COLUMNS = ["baseline", "accuracy", "note"]


# --------------------------------------------------------------------------- validation


def _check_slicing(
    examples: pd.DataFrame,
    *,
    by: object,
    positive: object,
    bins: object,
    alpha: object,
    correction: object,
    max_slices: object,
) -> None:
    """Validate the options of :func:`slice_table`, types first, then values."""
    if not isinstance(by, str):
        raise ValueError(f"by must be a column name or {SLICE_BY_TAGS!r}, got {type(by).__name__}")
    if by != SLICE_BY_TAGS and by not in examples.columns:
        raise ValueError(f"examples has no column {by!r} to slice by")
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2, got {bins!r}")
    _check_fraction(alpha, "alpha")
    if isinstance(max_slices, bool) or not isinstance(max_slices, int) or max_slices < 1:
        raise ValueError(f"max_slices must be a positive integer, got {max_slices!r}")
    if not isinstance(correction, str) or correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if positive is not None and not (
        (examples["label"] == positive).any() or (examples["prediction"] == positive).any()
    ):
        raise ValueError(f"positive class {positive!r} is neither a label nor a prediction")


# --------------------------------------------------------------------------- helpers


def holm_adjust(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (NaN entries are left out and stay NaN)."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    m = len(tested)
    if m == 0:
        return adjusted
    order = tested[np.argsort(p[tested], kind="stable")]
    scaled = p[order] * (m - np.arange(m))
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def bonferroni_adjust(p_values: np.ndarray | list[float]) -> np.ndarray:
    """Bonferroni adjusted p-values (NaN entries are left out and stay NaN)."""
    p = np.asarray(p_values, dtype=float)
    m = np.count_nonzero(~np.isnan(p))
    return np.minimum(p * m, 1.0)


def _scores(
    pairs: np.ndarray, counts: np.ndarray, n_classes: int, positive_code: int | None
) -> tuple[float, float, float]:
    """Precision, recall and F1 by scikit-learn from counts of (label, prediction) pairs.

    ``pairs`` are codes label * n_classes + prediction; weighting each pair
    by its count gives exactly the result on the rows themselves.
    """
    from sklearn.metrics import precision_recall_fscore_support

    if len(pairs) == 0:
        return np.nan, np.nan, np.nan
    y_true, y_pred = np.divmod(pairs, n_classes)
    if positive_code is None:
        present = np.union1d(y_true, y_pred)
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=present, average="macro", sample_weight=counts, zero_division=0
        )
    else:
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true,
            y_pred,
            labels=[positive_code],
            average=None,
            sample_weight=counts,
            zero_division=0,
        )
        precision, recall, f1 = precision[0], recall[0], f1[0]
    return float(precision), float(recall), float(f1)


def _pairs(counts: SliceCounts) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(slice, pair, examples) per (label, prediction) pair of each slice that has some:
    the cells summed over correctness and human-label status, pair codes ascending within
    each slice (pair = label * C + prediction)."""
    n_classes = len(counts.classes)
    key = counts.cell_slice * max(n_classes, 1) ** 2 + (
        counts.cell_label * n_classes + counts.cell_prediction
    )
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else key
    examples = np.add.reduceat(counts.cell_count, starts) if len(starts) else np.zeros(0, np.int64)
    slice_of, pair = np.divmod(key[starts], max(n_classes, 1) ** 2)
    return slice_of, pair, examples


def _per_slice(counts: SliceCounts, where: np.ndarray) -> np.ndarray:
    """Examples per slice of the cells ``where`` holds, exact integers."""
    out = np.zeros(len(counts.names), dtype=np.int64)
    np.add.at(out, counts.cell_slice[where], counts.cell_count[where])
    return out


def _slice_row(
    name: str,
    *,
    size: int,
    correct: int,
    pairs: np.ndarray,
    pair_counts: np.ndarray,
    labelled: int,
    agreeing: int,
    n: int,
    total_correct: int,
    majority: int,
    n_classes: int,
    positive_code: int | None,
    hlp: Mapping[str, float],
) -> dict[str, object]:
    """One row of the slice table from the slice's counts and those of its base (``n``
    examples, ``total_correct``, the ``majority`` label's code)."""
    from scipy.stats import hypergeom

    precision, recall, f1 = _scores(pairs, pair_counts, n_classes, positive_code)
    majority_hits = pair_counts[pairs // n_classes == majority].sum()
    rest = n - size
    if name in hlp:
        slice_hlp, source = float(hlp[name]), "set"
    elif labelled:
        slice_hlp, source = agreeing / labelled, "measured"
    else:
        slice_hlp, source = np.nan, "empty"
    return {
        "slice": name,
        "examples": size,
        "share": size / n if n else np.nan,
        "accuracy": correct / size if size else np.nan,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "baseline_accuracy": majority_hits / size if size else np.nan,
        "hlp": slice_hlp,
        "hlp_source": source,
        "accuracy_rest": (total_correct - correct) / rest if rest else np.nan,
        # One-sided Fisher exact test: the chance of so few correct
        # predictions in a slice of this size drawn from all examples.
        "p_value": float(hypergeom.cdf(correct, n, total_correct, size))
        if size and rest
        else np.nan,
    }


def _slice_frame(rows: list[dict], *, alpha: float, correction: str) -> pd.DataFrame:
    """The slice table (:data:`SLICE_COLUMNS`) of the rows of one base: the p-values
    adjusted over them, the flags."""
    table = pd.DataFrame(rows, columns=SLICE_COLUMNS[:-2])
    dtypes = dict.fromkeys(SLICE_COLUMNS[:-2], np.float64)
    dtypes |= {"slice": "str", "hlp_source": "str", "examples": np.int64}
    table = table.astype(dtypes)
    adjust = holm_adjust if correction == "holm" else bonferroni_adjust
    table["p_adjusted"] = adjust(table["p_value"].to_numpy())
    table["flagged"] = (
        (table["p_adjusted"] < alpha) & (table["accuracy"] < table["accuracy_rest"])
    ).to_numpy(dtype=bool)
    return table


def _metrics(
    counts: SliceCounts | None,
    b: int,
    *,
    positive: object,
    alpha: float,
    correction: str,
) -> pd.DataFrame:
    """The slice table of the slices of base ``b`` (no rows when ``counts`` is None)."""
    if counts is None:
        return _slice_frame([], alpha=alpha, correction=correction)
    classes = counts.classes
    n = int(counts.base_examples[b])
    base = {
        "n": n,
        "total_correct": int(counts.base_correct[b]),
        "majority": int(np.argmax(counts.base_labels[b])) if n else 0,
        "n_classes": len(classes),
        # The run's classes hold the positive class (checked), even where these examples
        # (the reviewed ones, say) lack it: it then matches no pair, and its scores are 0.
        "positive_code": None if positive is None else int(np.flatnonzero(classes == positive)[0]),
        "hlp": counts.hlp,
    }
    every = np.ones(len(counts.cell_count), dtype=bool)
    sizes = _per_slice(counts, every)
    correct = _per_slice(counts, counts.cell_correct)
    labelled = _per_slice(counts, counts.cell_human > 0)
    agreeing = _per_slice(counts, counts.cell_human == 1)
    slice_of, pair, pair_examples = _pairs(counts)
    bounds = np.searchsorted(slice_of, np.arange(len(counts.names) + 1))
    rows = [
        _slice_row(
            counts.names[s],
            size=int(sizes[s]),
            correct=int(correct[s]),
            pairs=pair[bounds[s] : bounds[s + 1]],
            pair_counts=pair_examples[bounds[s] : bounds[s + 1]],
            labelled=int(labelled[s]),
            agreeing=int(agreeing[s]),
            **base,
        )
        for s in np.flatnonzero(counts.base == b)
    ]
    return _slice_frame(rows, alpha=alpha, correction=correction)


def _check_statistics(
    counts: object, *, positive: object, alpha: object, correction: object
) -> SliceCounts:
    """Validate the options of :func:`slices_from_counts`, types first, then values."""
    if not isinstance(counts, SliceCounts):
        raise ValueError(f"counts must be SliceCounts, got {type(counts).__name__}")
    _check_fraction(alpha, "alpha")
    if not isinstance(correction, str) or correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if positive is not None and not (counts.classes == positive).any():
        raise ValueError(f"positive class {positive!r} is neither a label nor a prediction")
    return counts


def slices_from_counts(
    counts: SliceCounts,
    *,
    positive: str | None = None,
    alpha: float = 0.05,
    correction: str = "holm",
) -> pd.DataFrame:
    """The slice table of :func:`slice_table` from its sufficient statistics
    (:class:`~erroranalysis.slice_counts.SliceCounts`), whoever counted them: no
    per-example work. Options as :func:`slice_table`'s; ValueError naming a bad one."""
    counts = _check_statistics(counts, positive=positive, alpha=alpha, correction=correction)
    options = {"positive": positive, "alpha": alpha, "correction": correction}
    parts = [_metrics(counts, b, **options) for b in range(len(counts.evidence))]
    if counts.evidence == (None,):
        return parts[0]
    parts = [part.assign(evidence=text) for part, text in zip(parts, counts.evidence, strict=True)]
    if not parts:
        empty = _metrics(None, 0, **options)
        return empty.assign(evidence=pd.Series(dtype="str"))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- public API


def slice_table(
    evidence: Evidence,
    *,
    by: str,
    positive: str | None = None,
    bins: int = 5,
    alpha: float = 0.05,
    correction: str = "holm",
    max_slices: int = 100,
) -> pd.DataFrame:
    """Metrics for each slice, and which slices are significantly worse than the rest.

    Reads ``correct`` (bool), ``label`` and ``prediction`` of the examples, and
    ``human_label`` for measured HLP.

    Parameters
    ----------
    by
        A column of the examples: one slice per value, or per quantile bin (see
        :func:`~erroranalysis.slice_counts._column_slices`: a numeric or date column with more than ``bins``
        values is cut into ``bins`` bins named like ``[0, 24.8]``, ``(24.8, 49.5]``;
        missing values form a ``(missing)`` slice). Or ``"tags"``
        (:data:`~erroranalysis.vocabulary.SLICE_BY_TAGS`): one slice per tag. Dataset
        and rule tags are sliced on every example. A reviewed tag is known only on
        the reviewed examples, mostly errors, so its slice is computed there and says
        so in the ``evidence`` column.
    positive
        The positive class: precision, recall and F1 are then those of that
        class (one-vs-rest). None: their macro average over the classes
        present in the slice.
    alpha, correction
        A slice is ``flagged`` when its accuracy is below the rest of the
        data with a one-sided Fisher exact test p-value, adjusted for the
        number of slices compared (``"holm"`` or ``"bonferroni"``), below
        ``alpha``.
    max_slices
        A non-numeric column with more distinct values than this raises
        ValueError (slicing by an id column is a mistake, and slow).

    Returns
    -------
    DataFrame with the columns :data:`SLICE_COLUMNS`, one row per slice, and for
    ``by="tags"`` an ``evidence`` column (``"dataset"``, or
    :data:`~erroranalysis.vocabulary.NOTE_REVIEWED_TAG_SLICE` for reviewed tags).
    ``accuracy`` is the fraction of ``correct`` examples (scikit-learn's
    ``accuracy_score`` when ``correct`` means label == prediction);
    precision/recall/F1 are scikit-learn's ``precision_recall_fscore_support``
    with ``zero_division=0``; ``baseline_accuracy`` is the accuracy on the
    slice of always predicting the most frequent label of the examples compared
    (scikit-learn's ``DummyClassifier(strategy="most_frequent")``). ``hlp`` is the
    tag's HLP set by the team, else measured from ``human_label`` (fraction equal to
    ``label``) where the slice has human labels.
    """
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
    counts = slice_counts(examples, inputs, by=by, bins=bins, max_slices=max_slices)
    return slices_from_counts(counts, positive=positive, alpha=alpha, correction=correction)


def _confusion(examples: pd.DataFrame, mask: np.ndarray | None, labels: list) -> pd.DataFrame:
    """Confusion matrix (scikit-learn's) of the examples selected by ``mask`` (None: all),
    with ``labels`` on both axes in that order."""
    from sklearn.metrics import confusion_matrix

    label_codes, prediction_codes, classes = _codes(examples)
    position = {value: i for i, value in enumerate(classes)}
    wanted = [position.get(value, -1 - i) for i, value in enumerate(labels)]
    selected = np.ones(len(examples), dtype=bool) if mask is None else mask
    if not labels:
        return pd.DataFrame(
            np.zeros((0, 0), dtype=np.int64),
            index=pd.Index([], name="label"),
            columns=pd.Index([], name="prediction"),
        )
    matrix = confusion_matrix(
        label_codes[selected], prediction_codes[selected], labels=wanted
    ).astype(np.int64)
    return pd.DataFrame(
        matrix,
        index=pd.Index(list(labels), name="label"),
        columns=pd.Index(list(labels), name="prediction"),
    )


def confusion(evidence: Evidence, *, tag: str | None = None) -> pd.DataFrame:
    """Confusion matrix of the run, or of the examples carrying ``tag`` (for a reviewed
    tag: the reviewed ones), with every class of the run on both axes, sorted as text,
    so that matrices of different tags line up.

    Rows are true labels (index named ``label``), columns predictions (named
    ``prediction``); the counts are scikit-learn's ``confusion_matrix``.
    """
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    if tag is not None and not isinstance(tag, str):
        raise ValueError(f"tag must be a tag name or None, got {type(tag).__name__}")
    if tag is not None and tag not in inputs.tag_names:
        raise ValueError(f"evidence has no tag {tag!r}")
    examples = evidence.examples
    # The distinct values first, then as text: the same classes as every value as text,
    # without a Python string per example.
    labels = sorted(
        set(pd.Series(examples["label"].unique()).astype(str))
        | set(pd.Series(examples["prediction"].unique()).astype(str))
    )
    mask = None
    if tag is not None:
        j = inputs.tag_names.index(tag)
        mask = inputs.matrix[:, j]
        if inputs.kinds[j] == "reviewed":
            mask = mask & inputs.reviewed
    return _confusion(examples, mask, labels)


def baselines(evidence: Evidence, *, hlp: float | None = None) -> pd.DataFrame:
    """What the model's accuracy should be compared with.

    Rows: ``model`` (its accuracy), ``most frequent class`` (always predicting
    the most frequent label; scikit-learn's DummyClassifier) and ``HLP``
    (``hlp``, else measured from ``human_label``; NaN if unknown).
    Columns :data:`BASELINE_COLUMNS`.
    """
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    if hlp is not None and (
        isinstance(hlp, bool) or not isinstance(hlp, int | float) or not 0 <= hlp <= 1
    ):
        raise ValueError(f"hlp must be between 0 and 1, got {hlp!r}")
    return baselines_from_counts(label_counts(evidence.examples, inputs), hlp=hlp)


def baselines_from_counts(counts: LabelCounts, *, hlp: float | None = None) -> pd.DataFrame:
    """The table of :func:`baselines` from its sufficient statistics
    (:class:`~erroranalysis.slice_counts.LabelCounts`): no per-example work."""
    if not isinstance(counts, LabelCounts):
        raise ValueError(f"counts must be LabelCounts, got {type(counts).__name__}")
    n = counts.examples
    model = counts.correct / n if n else np.nan
    if n:
        majority = int(np.argmax(counts.labels))
        dummy_accuracy = int(counts.labels[majority]) / n
        dummy_note = f"always predicting {counts.classes[majority]!r}"
    else:
        dummy_accuracy, dummy_note = np.nan, "no examples"
    if hlp is not None:
        human, human_note = float(hlp), "set by the team"
    elif counts.labelled:
        human = counts.agreeing / counts.labelled
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


def metric_warnings(
    evidence: Evidence,
    *,
    rare_share: float = 0.05,
    rare_count: int = 30,
    skew_share: float = 0.8,
) -> list[str]:
    """Plain-language warnings about label distributions where accuracy misleads.

    * skewed: the most frequent label is at least ``skew_share`` of the
      examples, so always predicting it already scores that accuracy;
    * rare classes: a label with fewer than ``rare_count`` examples or under
      ``rare_share`` of them, whose errors barely move accuracy.
    """
    check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    for name, value in (("rare_share", rare_share), ("skew_share", skew_share)):
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
            raise ValueError(f"{name} must be above 0 and at most 1, got {value!r}")
    if isinstance(rare_count, bool) or not isinstance(rare_count, int) or rare_count < 0:
        raise ValueError(f"rare_count must be a non-negative integer, got {rare_count!r}")
    counts = evidence.examples["label"].value_counts(sort=True)
    n = int(counts.sum())
    if n == 0:
        return []
    messages = []
    top_label, top_count = counts.index[0], int(counts.iloc[0])
    if len(counts) > 1 and top_count / n >= skew_share:
        messages.append(
            f"Label {str(top_label)!r} makes up {top_count / n:.1%} of the examples: "
            f"always predicting it scores {top_count / n:.1%} accuracy. "
            "Look at precision and recall per class, not accuracy alone."
        )
    for label, count in counts.items():
        if len(counts) > 1 and (count < rare_count or count / n < rare_share):
            messages.append(
                f"Label {str(label)!r} is rare ({int(count)} examples, {count / n:.1%}): "
                "errors on it barely change accuracy, and its precision and recall "
                "rest on few examples. Check its recall, and collect more if it matters."
            )
    return messages
