"""Metrics per slice of the data, and the slices where the model does worst.

A slice is the set of examples carrying a tag, or sharing a value of a
metadata column (numeric and date columns are cut into quantile bins). For each
slice :func:`slice_table` reports accuracy, precision, recall and F1 (scikit-learn's
definitions), a most-frequent-class baseline, HLP where known, and whether
the slice's accuracy is significantly below the rest of the data.
:func:`confusion`, :func:`baselines` and :func:`metric_warnings` complete the audit.

Speed: labels and predictions are turned into integer codes once; each slice
is then reduced to counts of (label, prediction) pairs, and scikit-learn's
metrics run on those pairs weighted by their counts, which gives exactly the
same numbers as running them on the slice's rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .evidence import Checked, Evidence, _check_fraction, check_evidence
from .vocabulary import NOTE_NO_HLP, NOTE_REVIEWED_TAG_SLICE, SLICE_BY_TAGS

CORRECTIONS = ("holm", "bonferroni")
MISSING = "(missing)"
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


def _codes(examples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integer codes for label and prediction over one sorted list of classes."""
    label_codes, label_classes = pd.factorize(examples["label"], sort=True)
    prediction_codes, prediction_classes = pd.factorize(examples["prediction"], sort=True)
    classes = label_classes.append(prediction_classes).unique()
    # Mixed types cannot be ordered: keep the first-seen order then.
    with contextlib.suppress(TypeError):
        classes = classes.sort_values()
    label_map = classes.get_indexer(label_classes)
    prediction_map = classes.get_indexer(prediction_classes)
    return label_map[label_codes], prediction_map[prediction_codes], np.asarray(classes)


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


def _number_bin_names(edges: np.ndarray) -> list[str]:
    """Names of the bins between numeric ``edges``: each edge written with the fewest
    significant digits, from 3 up to 15, that keep all edges apart."""
    for digits in range(3, 16):
        text = [f"{edge:.{digits}g}" for edge in edges]
        if len(set(text)) == len(text):
            break
    return _interval_names(text)


def _interval_names(text: list[str]) -> list[str]:
    """Bin names in interval notation, matching ``pd.cut(..., include_lowest=True)``: the
    first bin holds both edges, the others only their upper one. (An opening bracket also
    keeps a negative edge from reading as a formula in a spreadsheet.)"""
    return [f"{'[' if i == 0 else '('}{text[i]}, {text[i + 1]}]" for i in range(len(text) - 1)]


def _column_slices(values: pd.Series, bins: int, max_slices: int) -> tuple[np.ndarray, list[str]]:
    """Slice code per example and slice names, for one column.

    A numeric or date column with more than ``bins`` distinct values is cut into
    ``bins`` quantile bins (fewer where edges coincide), named in interval notation
    (:func:`_interval_names`): numbers by :func:`_number_bin_names`, dates by their
    timestamps in the column's time zone. Any other column gets one slice per value,
    sorted, named by ``str(value)``; more than ``max_slices`` values raise ValueError.
    Missing values get a slice of their own, ``(missing)``, last.
    """
    kind = values.dtype
    binned = (
        (pd.api.types.is_numeric_dtype(kind) and not pd.api.types.is_bool_dtype(kind))
        or pd.api.types.is_datetime64_any_dtype(kind)
    ) and values.nunique() > bins
    if binned:
        dates = pd.api.types.is_datetime64_any_dtype(kind)
        if dates:  # bin the underlying integer times; NaT stays missing
            numbers = pd.Series(values.array.asi8, index=values.index).where(values.notna())
        else:
            numbers = values
        numbers = numbers.astype(float)
        _, edges = pd.qcut(numbers, bins, retbins=True, duplicates="drop")
        if dates:
            unit = getattr(kind, "unit", None) or np.datetime_data(kind)[0]
            stamps = pd.to_datetime(edges.round().astype("int64"), unit=unit)
            if getattr(kind, "tz", None) is not None:  # int64 of an aware time is UTC
                stamps = stamps.tz_localize("UTC").tz_convert(kind.tz)
            text = [str(stamp) for stamp in stamps]
            names = _interval_names(text)
        else:
            names = _number_bin_names(edges)
        codes = pd.cut(numbers, edges, labels=False, include_lowest=True).to_numpy()
    else:
        codes, uniques = pd.factorize(values, sort=True)
        if len(uniques) > max_slices:
            raise ValueError(
                f"column {values.name!r} has {len(uniques):,} values, more than "
                f"max_slices={max_slices}: slice by a column with fewer values"
            )
        names = [str(value) for value in uniques]
    codes = np.asarray(codes, dtype=float)
    missing = np.isnan(codes) | (codes < 0)
    codes = np.where(missing, len(names), codes).astype(np.int64)
    if missing.any():
        names = [*names, MISSING]
    return codes, names


def _pair_counts(keys: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    """(key, count) for every key that occurs: bincount when the key space is small."""
    if n_keys <= 1 << 22:
        counts = np.bincount(keys, minlength=n_keys)
        present = np.flatnonzero(counts)
        return present, counts[present]
    return np.unique(keys, return_counts=True)


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
    from scipy.stats import hypergeom

    n_classes = len(run.classes)
    n = len(run.label)
    # The run's classes hold the positive class (checked), even where these examples (the
    # reviewed ones, say) lack it: it then matches no pair, and its scores are 0.
    positive_code = None if positive is None else int(np.flatnonzero(run.classes == positive)[0])
    majority = _majority_code(run.label, n_classes)
    total_correct = int(run.correct.sum())
    rows = []
    for s, name in enumerate(names):
        size = int(counts.sizes[s])
        pairs, pair_counts = counts.pairs[s]
        precision, recall, f1 = _scores(pairs, pair_counts, n_classes, positive_code)
        majority_hits = pair_counts[pairs // n_classes == majority].sum()
        rest = n - size
        correct = counts.correct[s]
        if name in hlp:
            slice_hlp, source = float(hlp[name]), "set"
        elif counts.labelled[s]:
            slice_hlp, source = counts.agreeing[s] / counts.labelled[s], "measured"
        else:
            slice_hlp, source = np.nan, "empty"
        rows.append(
            {
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
        )
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


def _majority_code(label_codes: np.ndarray, n_classes: int) -> int:
    """The most frequent label, ties to the first class, as DummyClassifier picks it
    (counted here: importing scikit-learn for one count took 1.6 s of a first page)."""
    if len(label_codes) == 0:
        return 0
    return int(np.argmax(np.bincount(label_codes, minlength=n_classes)))


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
        :func:`_column_slices`: a numeric or date column with more than ``bins``
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
