"""Metrics per slice of the data, and the slices where the model does worst.

A slice is the set of examples carrying a tag, or sharing a value of a
metadata column (numeric columns are cut into quantile bins). For each slice
:func:`slice_metrics` reports accuracy, precision, recall and F1 (scikit-learn's
definitions), a most-frequent-class baseline, HLP where known, and whether
the slice's accuracy is significantly below the rest of the data.

Speed: labels and predictions are turned into integer codes once; each slice
is then reduced to counts of (label, prediction) pairs, and scikit-learn's
metrics run on those pairs weighted by their counts, which gives exactly the
same numbers as running them on the slice's rows.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.stats import hypergeom
from sklearn.dummy import DummyClassifier
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

CORRECTIONS = ("holm", "bonferroni")
MISSING = "(missing)"

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


def _check_inputs(
    examples: pd.DataFrame,
    *,
    by: str | pd.DataFrame | None = None,
    positive: str | None = None,
    bins: int = 5,
    alpha: float = 0.05,
    correction: str = "holm",
    mask: object = None,
    max_slices: int = 100,
) -> None:
    """Validate slice inputs, types first, then values. Raises ValueError."""
    if not isinstance(examples, pd.DataFrame):
        raise ValueError(f"examples must be a pandas DataFrame, got {type(examples).__name__}")
    for column in ("correct", "label", "prediction"):
        if column not in examples.columns:
            raise ValueError(f"examples has no {column!r} column")
    if not pd.api.types.is_bool_dtype(examples["correct"].dtype):
        raise ValueError(
            f"examples['correct'] must have a bool dtype, got {examples['correct'].dtype}"
        )
    for column in ("correct", "label", "prediction"):
        if examples[column].hasnans:
            raise ValueError(f"examples[{column!r}] has missing values")
    if by is not None:
        if isinstance(by, pd.DataFrame):
            for column, dtype in by.dtypes.items():
                if not pd.api.types.is_bool_dtype(dtype):
                    raise ValueError(f"slice {column!r} of by must have a bool dtype, got {dtype}")
            if not by.columns.is_unique:
                raise ValueError("by has duplicate columns")
            if not by.index.equals(examples.index):
                raise ValueError("by must have the same index as examples")
            if any(by[column].hasnans for column in by.columns):
                raise ValueError("by has missing values")
        elif isinstance(by, str):
            if by not in examples.columns:
                raise ValueError(f"examples has no column {by!r} to slice by")
        else:
            raise ValueError(
                f"by must be a column name or a bool DataFrame, got {type(by).__name__}"
            )
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise ValueError(f"bins must be an integer of at least 2, got {bins!r}")
    if isinstance(alpha, bool) or not isinstance(alpha, int | float) or not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1, got {alpha!r}")
    if isinstance(max_slices, bool) or not isinstance(max_slices, int) or max_slices < 1:
        raise ValueError(f"max_slices must be a positive integer, got {max_slices!r}")
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if positive is not None and not (
        (examples["label"] == positive).any() or (examples["prediction"] == positive).any()
    ):
        raise ValueError(f"positive class {positive!r} is neither a label nor a prediction")
    if mask is not None:
        values = mask.to_numpy() if isinstance(mask, pd.Series) else np.asarray(mask)
        if values.dtype != bool or values.shape != (len(examples),):
            raise ValueError("mask must be a bool array or Series with one value per example")
        if isinstance(mask, pd.Series) and not mask.index.equals(examples.index):
            raise ValueError("mask must have the same index as examples")


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


def _bin_labels(edges: np.ndarray) -> list[str]:
    """Readable labels for quantile bins: the fewest significant digits that tell edges apart."""
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
    """Slice code per example and slice names; missing values get a slice of their own."""
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
            names = _bin_labels(edges)
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


def _human_agreement(examples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Per example: has a human label, and that label equals ``label``. None without the column."""
    if "human_label" not in examples.columns:
        return None
    human = examples["human_label"]
    known = human.notna().to_numpy()
    agrees = np.zeros(len(examples), dtype=bool)
    agrees[known] = (
        human.astype(object).to_numpy()[known] == examples["label"].astype(object).to_numpy()[known]
    )
    return known, agrees


def _measured_hlp(examples: pd.DataFrame, mask: np.ndarray) -> float:
    agreement = _human_agreement(examples)
    if agreement is None:
        return np.nan
    known, agrees = agreement
    labelled = np.count_nonzero(known & mask)
    return np.count_nonzero(agrees & mask) / labelled if labelled else np.nan


# --------------------------------------------------------------------------- public API


def slice_metrics(
    examples: pd.DataFrame,
    *,
    by: str | pd.DataFrame,
    positive: str | None = None,
    bins: int = 5,
    alpha: float = 0.05,
    correction: str = "holm",
    hlp: Mapping[str, float] | None = None,
    max_slices: int = 100,
) -> pd.DataFrame:
    """Metrics for each slice, and which slices are significantly worse than the rest.

    Parameters
    ----------
    examples
        Frame with ``correct`` (bool), ``label`` and ``prediction``;
        optionally ``human_label`` for measured HLP.
    by
        A column of ``examples`` (one slice per value; a numeric column with
        more than ``bins`` values is cut into ``bins`` quantile bins labelled
        ``"low to high"``, dates likewise; missing values form a
        ``"(missing)"`` slice), or a
        bool frame aligned with ``examples`` (one slice per column, e.g. tags).
    positive
        The positive class: precision, recall and F1 are then those of that
        class (one-vs-rest). None: their macro average over the classes
        present in the slice.
    alpha, correction
        A slice is ``flagged`` when its accuracy is below the rest of the
        data with a one-sided Fisher exact test p-value, adjusted for the
        number of slices compared (``"holm"`` or ``"bonferroni"``), below
        ``alpha``.
    hlp
        Slice name -> HLP; otherwise measured from ``human_label`` (fraction
        equal to ``label``) where the slice has human labels.
    max_slices
        A non-numeric column with more distinct values than this raises
        ValueError (slicing by an id column is a mistake, and slow).

    Returns
    -------
    DataFrame with the columns :data:`SLICE_COLUMNS`, one row per slice.
    ``accuracy`` is the fraction of ``correct`` examples (scikit-learn's
    ``accuracy_score`` when ``correct`` means label == prediction);
    precision/recall/F1 are scikit-learn's ``precision_recall_fscore_support``
    with ``zero_division=0``; ``baseline_accuracy`` is the accuracy on the
    slice of always predicting the most frequent label of all examples
    (scikit-learn's ``DummyClassifier(strategy="most_frequent")``).
    """
    _check_inputs(
        examples,
        by=by,
        positive=positive,
        bins=bins,
        alpha=alpha,
        correction=correction,
        max_slices=max_slices,
    )
    hlp = dict(hlp or {})
    label_codes, prediction_codes, classes = _codes(examples)
    n_classes = len(classes)
    pair = label_codes.astype(np.int64) * n_classes + prediction_codes
    correct = examples["correct"].to_numpy(dtype=bool)
    n = len(examples)
    positive_code = None if positive is None else int(np.flatnonzero(classes == positive)[0])
    majority = _majority_code(label_codes, n_classes)

    agreement = _human_agreement(examples)
    known, agrees = agreement if agreement is not None else (np.zeros(n, bool),) * 2
    n_pairs = n_classes**2
    if isinstance(by, pd.DataFrame):
        names = [str(column) for column in by.columns]
        masks = [by[column].to_numpy(dtype=bool) for column in by.columns]
        pair_counts = [_pair_counts(pair[mask], n_pairs) for mask in masks]
        sizes = np.array([np.count_nonzero(mask) for mask in masks], dtype=np.int64)
        correct_counts = np.array(
            [np.count_nonzero(correct & mask) for mask in masks], dtype=np.int64
        )
        labelled = np.array([np.count_nonzero(known & mask) for mask in masks])
        agreeing = np.array([np.count_nonzero(agrees & mask) for mask in masks])
    else:
        codes, names = _column_slices(examples[by], bins, max_slices)
        n_slices = len(names)
        sizes = np.bincount(codes, minlength=n_slices)
        correct_counts = np.bincount(codes, weights=correct, minlength=n_slices).astype(np.int64)
        # One pass: count (slice, label, prediction) triples, then split by slice.
        keys, counts = _pair_counts(codes * n_pairs + pair, n_slices * n_pairs)
        starts = np.searchsorted(keys, np.arange(n_slices + 1) * n_pairs)
        pair_counts = [
            (keys[starts[s] : starts[s + 1]] - s * n_pairs, counts[starts[s] : starts[s + 1]])
            for s in range(n_slices)
        ]

        labelled = np.bincount(codes, weights=known, minlength=n_slices)
        agreeing = np.bincount(codes, weights=agrees, minlength=n_slices)

    rows = []
    total_correct = int(correct.sum())
    for s, name in enumerate(names):
        size = int(sizes[s])
        pairs, counts = pair_counts[s]
        precision, recall, f1 = _scores(pairs, counts, n_classes, positive_code)
        majority_hits = counts[pairs // n_classes == majority].sum()
        rest = n - size
        if name in hlp and hlp[name] is not None:
            slice_hlp, source = float(hlp[name]), "set"
        elif labelled[s]:
            slice_hlp, source = agreeing[s] / labelled[s], "measured"
        else:
            slice_hlp, source = np.nan, "empty"
        rows.append(
            {
                "slice": name,
                "examples": size,
                "share": size / n if n else np.nan,
                "accuracy": correct_counts[s] / size if size else np.nan,
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "baseline_accuracy": majority_hits / size if size else np.nan,
                "hlp": slice_hlp,
                "hlp_source": source,
                "accuracy_rest": (total_correct - correct_counts[s]) / rest if rest else np.nan,
                # One-sided Fisher exact test: the chance of so few correct
                # predictions in a slice of this size drawn from all examples.
                "p_value": float(hypergeom.cdf(correct_counts[s], n, total_correct, size))
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
    """The most frequent label, ties to the first class, as DummyClassifier picks it."""
    if len(label_codes) == 0:
        return 0
    dummy = DummyClassifier(strategy="most_frequent")
    dummy.fit(np.zeros((len(label_codes), 1)), label_codes)
    return int(dummy.classes_[np.argmax(dummy.class_prior_)])


def confusion(
    examples: pd.DataFrame,
    *,
    mask: pd.Series | np.ndarray | None = None,
    labels: list | None = None,
) -> pd.DataFrame:
    """Confusion matrix (scikit-learn's) of the examples selected by ``mask``.

    Rows are true labels (index named ``label``), columns predictions (named
    ``prediction``). ``labels`` fixes the classes and their order; by default
    every class that occurs as a label or prediction in *all* examples, sorted,
    so that matrices of different slices line up.
    """
    _check_inputs(examples, mask=mask)
    label_codes, prediction_codes, classes = _codes(examples)
    if labels is None:
        wanted = list(range(len(classes)))
        names = list(classes)
    else:
        position = {value: i for i, value in enumerate(classes)}
        wanted = [position.get(value, -1 - i) for i, value in enumerate(labels)]
        names = list(labels)
    selected = np.ones(len(examples), dtype=bool) if mask is None else np.asarray(mask, bool)
    if not names:
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
        index=pd.Index(names, name="label"),
        columns=pd.Index(names, name="prediction"),
    )


def baselines(examples: pd.DataFrame, *, hlp: float | None = None) -> pd.DataFrame:
    """What the model's accuracy should be compared with.

    Rows: ``model`` (its accuracy), ``most frequent class`` (always predicting
    the most frequent label; scikit-learn's DummyClassifier) and ``HLP``
    (the given value, else measured from ``human_label``; NaN if unknown).
    Columns :data:`BASELINE_COLUMNS`.
    """
    _check_inputs(examples)
    if hlp is not None and not 0 <= hlp <= 1:
        raise ValueError(f"hlp must be between 0 and 1, got {hlp!r}")
    n = len(examples)
    label_codes, _, classes = _codes(examples)
    model = float(examples["correct"].mean()) if n else np.nan
    if n:
        majority = _majority_code(label_codes, len(classes))
        dummy_accuracy = float(np.mean(label_codes == majority))
        dummy_note = f"always predicting {classes[majority]!r}"
    else:
        dummy_accuracy, dummy_note = np.nan, "no examples"
    if hlp is not None:
        human, human_note = float(hlp), "set by the team"
    else:
        human = _measured_hlp(examples, np.ones(n, dtype=bool))
        human_note = (
            "no HLP: set one or add human labels"
            if np.isnan(human)
            else ("measured from human labels")
        )
    return pd.DataFrame(
        {
            "baseline": ["model", "most frequent class", "HLP"],
            "accuracy": [model, dummy_accuracy, human],
            "note": ["fraction of correct predictions", dummy_note, human_note],
        }
    )


def metric_warnings(
    examples: pd.DataFrame,
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
    _check_inputs(examples)
    counts = examples["label"].value_counts(sort=True)
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
