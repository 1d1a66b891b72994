"""Everything the team made, out again as a file: the examples sheet, the corrected labels,
every table the app shows and the action log.

    table = export_table(project, "dev", "slices", by="noise")
    write_export(table, "slices.csv", format="csv", kind="slices")

:func:`export_table` builds the table of one of :data:`EXPORT_KINDS` from the project (the
analyses come from :mod:`erroranalysis.analyses`, so the numbers are the app's);
:func:`write_export` and :func:`export_bytes` write it as one of :data:`FORMATS`.

How the numbers are written: in CSV, a float column named in :data:`RATE_COLUMNS` (a
share, an accuracy, a gap, a marginal effect, a difference, a p-value, a kappa, or an
interval bound of one) or in :data:`ESTIMATE_COLUMNS` (an estimated number of examples) of an
analysis table is rounded to 4 significant digits (0.8139, 102.8); the
tables of examples (``examples``, ``labels``, ``untagged``) and the ``log`` are data and
keep every digit, as do all other columns. Counts are integers, ids and labels text as
imported. Text cells are made formula-safe (:func:`erroranalysis.export.write_csv`).
Parquet and JSON Lines keep full precision and raw text (a spreadsheet does not open them).

The module imports nothing heavy at the top, so the command line builds its options from
it without loading pandas.

The module runs past 600 lines because every kind of export is built here: the examples
sheet and the labels from the project, the analyses' tables, the log, and the four
formats with their number rules.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import stat
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from .errors import ExpectedError
from .frames import check_frame
from .vocabulary import AGREEMENT_BY, ORDERS, TAG_PREFIX, TAG_SEPARATOR

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from .evidence import Evidence
    from .store import DatasetStore, Project

__all__ = [
    "EXAMPLE_SHEET_COLUMNS",
    "EXPORT_KINDS",
    "FORMATS",
    "KIND_OPTIONS",
    "LABEL_COLUMNS",
    "RATE_COLUMNS",
    "agreement_table",
    "apply_corrections",
    "corrected_labels",
    "examples_sheet",
    "export_bytes",
    "export_table",
    "extra_sheets",
    "format_for",
    "replace_atomically",
    "write_export",
]

EXPORT_KINDS: tuple[str, ...] = (
    "examples",
    "labels",
    "priorities",
    "compare",
    "error-shares",
    "untagged",
    "overlap",
    "exclusive-shares",
    "slices",
    "confusion",
    "baselines",
    "agreement",
    "log",
)
FORMATS: tuple[str, ...] = ("csv", "parquet", "jsonl", "xlsx")
# The format an --out file's suffix implies.
SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".jsonl": "jsonl", ".xlsx": "xlsx"}
# The options of export_table each kind takes besides ``run``; "slices" needs ``by``.
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "examples": ("reviewed_only",),
    "labels": ("apply",),
    "priorities": ("by",),
    "compare": ("baseline",),
    "error-shares": (),
    "untagged": (),
    "overlap": (),
    "exclusive-shares": (),
    "slices": ("by", "positive"),
    "confusion": ("tag",),
    "baselines": (),
    "agreement": ("by", "threshold"),
    "log": ("who", "kinds", "since", "until"),
}
# The options a kind cannot do without, each with what it holds (said when it is missing).
REQUIRED_OPTIONS = {"slices": {"by": "a column of the run to slice by, or tags"}}
# Tables of examples and the log: data, written with every digit (see the module's text).
DATA_KINDS = frozenset({"examples", "labels", "untagged", "log"})
# Tables of the whole dataset, whatever run: the log and the reviewers' agreement.
DATASET_KINDS = frozenset({"log", "agreement"})

_RATES = (
    "kappa",
    "share",
    "accuracy",
    "hlp",
    "gap",
    "marginal_effect",
    "share_of_errors",
    "difference",
)
RATE_COLUMNS = frozenset(
    {f"{rate}{end}" for rate in _RATES for end in ("", "_low", "_high")}
    | {
        "marginal_effect_per_effort",
        "exclusive_share",
        "accuracy_a",
        "accuracy_b",
        "precision",
        "recall",
        "f1",
        "baseline_accuracy",
        "accuracy_rest",
        "p_value",
        "p_adjusted",
        "observed_agreement",
    }
)
# Estimated counts of examples: rounded like the rates, but counts, not percentages.
ESTIMATE_COLUMNS = frozenset({"estimated_examples"})
SIGNIFICANT_DIGITS = 4

# The examples sheet: these columns first (where the run has them), then the run's other
# columns, then the tags and the reviews.
LEADING_COLUMNS = ("id", "label", "prediction", "correct", "confidence")
REVIEW_COLUMNS = ("reviewer", "reviewed_at", "note", "label_wrong", "corrected_label")
EXAMPLE_SHEET_COLUMNS = (*LEADING_COLUMNS, "tags", *REVIEW_COLUMNS)
LABEL_COLUMNS = ("id", "label", "corrected_label", "reviewer", "at")
_REVIEWS_NEED = ("example_id", "reviewer", "at", "note", "label_wrong", "corrected_label")


# --------------------------------------------------------------------------- options
def format_for(path: str | os.PathLike[str], format: str | None = None) -> str:
    """The format to write ``path`` in: ``format`` if given, else the one its suffix names
    (.csv, .parquet, .jsonl, .xlsx), else csv. A ``format`` the suffix contradicts (or one
    not in :data:`FORMATS`) is an :class:`ExpectedError`."""
    implied = SUFFIXES.get(Path(path).suffix.lower())
    if format is None:
        return implied or "csv"
    if format not in FORMATS:
        raise ExpectedError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if implied is not None and implied != format:
        raise ExpectedError(
            f"the file {Path(path).name} ends in {Path(path).suffix} but the format is "
            f"{format}: name a .{format} file or leave the format out"
        )
    return format


def _check_kind(kind: object) -> str:
    if kind not in EXPORT_KINDS:
        raise ExpectedError(
            f"unknown export kind {kind!r}; choose one of {', '.join(EXPORT_KINDS)}"
        )
    return str(kind)


def _check_options(kind: str, options: Mapping[str, Any]) -> None:
    allowed = KIND_OPTIONS[kind]
    for name, value in options.items():
        if name not in allowed and value is not None:
            takes = ", ".join(allowed) if allowed else "no options"
            raise ExpectedError(f"export {kind} does not take {name!r} (it takes {takes})")
    for name, holds in REQUIRED_OPTIONS.get(kind, {}).items():
        if options.get(name) is None:
            raise ExpectedError(f"export {kind} needs {name!r} ({holds})")


# --------------------------------------------------------------------------- tables
def export_table(
    project: Project, dataset: str | None, kind: str, *, run: str | None = None, **options: Any
) -> pd.DataFrame:
    """The table of ``kind`` (one of :data:`EXPORT_KINDS`) for ``dataset``'s run ``run``
    (the latest unless named), with a default 0..n-1 index.

    ``options`` (:data:`KIND_OPTIONS`): ``reviewed_only`` (examples: only the reviewed
    ones), ``apply`` (labels: the run's examples with the corrected labels substituted,
    see :func:`apply_corrections`), ``by`` (priorities: an order of
    :data:`~erroranalysis.vocabulary.ORDERS`; slices, required: a column or ``"tags"``),
    ``positive`` (slices), ``baseline`` (compare: run A; default the dataset's other run
    when it has exactly two), ``tag`` (confusion: only the examples carrying it),
    ``by`` and ``threshold`` (agreement: see :func:`agreement_table`), ``who``,
    ``kinds``, ``since`` and ``until`` (log: see :func:`log_table`; its ``dataset`` may be
    None, for the whole project's log). An option the kind does not take, an unknown kind,
    dataset or run raises :class:`ExpectedError` (a ValueError) naming it and the valid
    choices.
    """
    from . import analyses
    from .evidence import no_labels

    kind = _check_kind(kind)
    _check_options(kind, options)
    if kind in DATASET_KINDS and run is not None:
        raise ExpectedError(f"export {kind} is of the whole dataset; it does not take a run")
    if kind == "log":
        return log_table(project, dataset=dataset, **options)
    if dataset is None:
        raise ExpectedError(f"export {kind} needs a dataset")
    store = project.dataset(dataset)
    if kind == "agreement":
        return agreement_table(store, by=options.get("by"), threshold=options.get("threshold"))
    evidence = analyses.load_evidence(project, dataset, run=run)
    if kind == "examples":
        reviewed_only = options.get("reviewed_only") or False
        return examples_sheet(evidence, store.reviews(), reviewed_only=reviewed_only)
    if kind == "labels":
        if "label" not in evidence.examples.columns:
            raise ExpectedError(no_labels(dataset))
        labels = corrected_labels(evidence, store.reviews())
        return apply_corrections(evidence.examples, labels) if options.get("apply") else labels
    if kind == "compare":
        baseline = _baseline(store, evidence.run, options.get("baseline"))
        other = analyses.load_evidence(project, dataset, run=baseline)
        return analyses.compare_runs(evidence, baseline=other)
    return _analysis(kind, evidence, options).reset_index(drop=True)


def _analysis(kind: str, evidence: Evidence, options: Mapping[str, Any]) -> pd.DataFrame:
    from . import analyses

    if kind == "priorities":
        by = options.get("by") or ORDERS[0]
        if by not in ORDERS:
            raise ExpectedError(f"export priorities orders by one of {ORDERS}, got {by!r}")
        return analyses.priority_table(evidence, by=by)
    if kind == "slices":
        return analyses.slice_table(evidence, by=options["by"], positive=options.get("positive"))
    if kind == "confusion":
        return analyses.confusion(evidence, tag=options.get("tag")).reset_index()
    if kind == "overlap":
        return analyses.tag_overlap(evidence).reset_index()
    simple: dict[str, Callable[[Evidence], pd.DataFrame]] = {
        "error-shares": analyses.error_shares,
        "untagged": analyses.untagged_errors,
        "exclusive-shares": analyses.exclusive_shares,
        "baselines": analyses.baselines,
    }
    return simple[kind](evidence)


def _baseline(store: DatasetStore, run: str, baseline: str | None) -> str:
    """Run A of a comparison with ``run``: ``baseline``, else the dataset's other run."""
    names = [info.name for info in store.runs()]
    if baseline is None:
        others = [name for name in names if name != run]
        if len(others) != 1:
            raise ExpectedError(
                f"export compare needs a baseline run: dataset {store.name!r} has runs "
                f"{', '.join(names)}; name the run to compare {run!r} with"
            )
        return others[0]
    if baseline == run:
        raise ExpectedError(f"the baseline is run {run!r} itself; name another run")
    store.run(baseline)  # an unknown run: StoreError naming the runs
    return baseline


def agreement_table(
    store: DatasetStore, *, by: str | None = None, threshold: float | None = None
) -> pd.DataFrame:
    """The reviewers' agreement on the dataset: per tag (``by`` ``"tag"``, the default,
    :func:`~erroranalysis.agreement.tag_agreement`) or per reviewer (``"reviewer"``,
    :func:`~erroranalysis.agreement.reviewer_agreement`), tags flagged below
    ``threshold`` (default :data:`~erroranalysis.agreement.THRESHOLD`). Another ``by``
    is an :class:`ExpectedError`; a bad threshold a ValueError from the analysis."""
    from . import analyses

    by = by or AGREEMENT_BY[0]
    if by not in AGREEMENT_BY:
        raise ExpectedError(f"agreement is by one of {', '.join(AGREEMENT_BY)}, got {by!r}")
    analysis = analyses.tag_agreement if by == "tag" else analyses.reviewer_agreement
    options = {} if threshold is None else {"threshold": threshold}
    return analysis(store.decisions(), **options)


def log_table(
    project: Project,
    *,
    dataset: str | None = None,
    who: str | None = None,
    kinds: str | Sequence[str] | None = None,
    since: object = None,
    until: object = None,
) -> pd.DataFrame:
    """Every action the filters of :meth:`Project.log` choose (by default all of them; with
    ``dataset``, that dataset's and the project's own: tags and roles), oldest first: id,
    at, actor, kind, dataset, what (in words), undone, undone_by, undoes, detail (JSON)."""
    page = project.log(who=who, kinds=kinds, since=since, until=until, dataset=dataset, limit=None)
    return page.rows.iloc[::-1].reset_index(drop=True)


# --------------------------------------------------------------------------- examples
def _check_reviews(reviews: object) -> pd.DataFrame:
    return check_frame(reviews, "reviews", _REVIEWS_NEED)


def _examples_of(evidence_or_examples: object) -> pd.DataFrame:
    import pandas as pd

    from .evidence import Evidence

    if isinstance(evidence_or_examples, Evidence):
        return evidence_or_examples.examples
    if isinstance(evidence_or_examples, pd.DataFrame):
        return evidence_or_examples
    kind = type(evidence_or_examples).__name__
    raise ValueError(f"expected an Evidence or an examples DataFrame, got {kind}")


def _positions(examples: pd.DataFrame, reviews: pd.DataFrame) -> pd.DataFrame:
    """The reviews of ``examples``' ids in review order, with each one's row ``position``.

    The run's ids are looked up among the (few) distinct reviewed ids, in Arrow: hashing a
    million ids into an index would cost more than the rest of the sheet."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if "id" not in examples.columns:
        raise ValueError("examples has no 'id' column")
    distinct, code = np.unique(reviews["example_id"].astype(str).to_numpy(), return_inverse=True)
    ids = pa.array(examples["id"].astype(str), type=pa.large_string())
    found = pc.index_in(ids, value_set=pa.array(distinct.tolist(), type=pa.large_string()))
    found = pc.fill_null(found, -1).to_numpy()
    row_of = np.full(len(distinct), -1, dtype=np.int64)
    rows = np.flatnonzero(found >= 0)
    row_of[found[rows]] = rows
    where = row_of[code.ravel()]
    return reviews.loc[where >= 0].assign(position=where[where >= 0])


def _latest(reviews: pd.DataFrame, keep: pd.Series | None = None) -> pd.DataFrame:
    """Per example, its last review (of those where ``keep``)."""
    chosen = reviews if keep is None else reviews.loc[keep.to_numpy(dtype=bool)]
    return chosen.drop_duplicates("position", keep="last")


def _given(values: pd.Series) -> pd.Series:
    """Where a text column of the reviews holds something (not missing, not empty)."""
    return values.notna() & (values.astype(object).fillna("").astype(str) != "")


def _spread(n: int, positions: np.ndarray, values: object, *, fill: str | None) -> pd.Series:
    """A text column of ``n`` rows: ``values`` at ``positions``, ``fill`` elsewhere (None:
    missing). Built in Arrow: most rows of a big run are nobody's review."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    index = np.full(n, -1, dtype=np.int64)
    index[positions] = np.arange(len(positions))
    texts = pa.array(list(values), type=pa.large_string())
    column = texts.take(pa.array(index, mask=index < 0))
    return (column if fill is None else pc.fill_null(column, fill)).to_pandas()


def _place(n: int, latest: pd.DataFrame, column: str, *, fill: str | None = None) -> pd.Series:
    """``latest[column]`` at each example's row, ``fill`` where it has none."""
    values = latest[column].astype(object).where(latest[column].notna(), None)
    return _spread(n, latest["position"].to_numpy(), values, fill=fill)


def _reviewers(n: int, reviews: pd.DataFrame) -> pd.Series:
    """Each example's reviewers, ``;``-joined in the order they first reviewed it."""
    import numpy as np

    pairs = reviews.drop_duplicates(["position", "reviewer"])
    order = np.argsort(pairs["position"].to_numpy(), kind="stable")  # review order kept
    position = pairs["position"].to_numpy()[order]
    starts = np.flatnonzero(np.r_[True, position[1:] != position[:-1]]) if len(order) else order
    offsets = np.r_[starts, len(order)]
    names = pairs["reviewer"].astype(str).to_numpy(dtype=object)[order]
    return _spread(n, position[starts], _joined(offsets, names).to_pylist(), fill="")


def _joined(offsets: np.ndarray, values: object) -> pa.Array:
    """Text i: ``values[offsets[i]:offsets[i + 1]]`` joined with the tag separator."""
    import pyarrow as pa
    import pyarrow.compute as pc

    texts = values if isinstance(values, pa.Array) else pa.array(values, type=pa.large_string())
    lists = pa.LargeListArray.from_arrays(pa.array(offsets, type=pa.int64()), texts)
    return pc.binary_join(lists, pa.scalar(TAG_SEPARATOR, pa.large_string()))


def joined_tags(matrix: np.ndarray, names: list[str]) -> pd.Series:
    """Per row of a bool examples x tags ``matrix``, the names of its tags joined with
    :data:`~erroranalysis.vocabulary.TAG_SEPARATOR` in ``names``' order ("" for none).

    Joined in Arrow from the matrix's nonzero cells (one list of tag names per row), so a
    million rows with 50 tags take a fraction of a second."""
    import numpy as np
    import pyarrow as pa

    # Row by row, each row's tags in column order: the flat positions of a C-ordered copy
    # (nonzero of the column-ordered frame's matrix takes twice as long).
    flat = np.flatnonzero(np.ascontiguousarray(matrix))
    cols = flat % matrix.shape[1] if matrix.shape[1] else flat
    offsets = np.zeros(matrix.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.count_nonzero(matrix, axis=1), out=offsets[1:])
    labels = pa.array(list(names), type=pa.large_string()).take(pa.array(cols))
    return _joined(offsets, labels).to_pandas()


def examples_sheet(
    evidence: Evidence, reviews: pd.DataFrame, *, reviewed_only: bool = False
) -> pd.DataFrame:
    """The error-analysis sheet: one row per example of the run (only the reviewed ones if
    ``reviewed_only``), in the run's order.

    Columns, in order: ``id, label, prediction, correct, confidence`` (those the run has),
    the run's other columns (metadata, human label, text, media) as imported, ``tags``
    (every tag of the evidence the example carries, ``;``-joined), one bool column
    ``tag:NAME`` per tag, then from ``reviews`` (as :meth:`DatasetStore.reviews` gives
    them): ``reviewer`` (its reviewers, ``;``-joined in the order they first reviewed it;
    "" if none), ``reviewed_at`` (its latest review), ``note`` (the latest non-empty one),
    ``label_wrong`` and ``corrected_label`` (of its latest review that flags the label or
    corrects it). Reviews of ids the run lacks are ignored. Inputs are not modified.
    """
    import numpy as np
    import pandas as pd

    from .evidence import Evidence, check_flag

    reviewed_only = check_flag(reviewed_only, "reviewed_only")
    if not isinstance(evidence, Evidence):
        raise ValueError(f"evidence must be an Evidence, got {type(evidence).__name__}")
    reviews = _check_reviews(reviews)
    examples = evidence.examples
    leading = [c for c in LEADING_COLUMNS if c in examples.columns]
    rest = [c for c in examples.columns if c not in leading and not c.startswith(TAG_PREFIX)]
    clash = [c for c in rest if c in ("tags", *REVIEW_COLUMNS)]
    if clash:
        raise ValueError(
            f"the run has a column {clash[0]!r}, which the examples sheet uses for its "
            "reviews; rename it in the data and import the run again"
        )
    n = len(examples)
    index = pd.RangeIndex(n)
    names = [str(c) for c in evidence.tags.columns]
    # The evidence's own tag columns (shared, not copied, under copy-on-write), NA as
    # False where a tag is of pandas' nullable boolean type.
    tag_columns = evidence.tags
    if any(dtype != np.dtype(bool) for dtype in tag_columns.dtypes):
        tag_columns = tag_columns.fillna(False).astype(bool)
    tag_columns = tag_columns.set_axis(index, axis=0).set_axis(
        [TAG_PREFIX + t for t in names], axis=1
    )
    mine = _positions(examples, reviews)
    flags = mine["label_wrong"].astype(bool) | _given(mine["corrected_label"])
    flagged = _latest(mine, flags)
    label_wrong = np.zeros(n, dtype=bool)
    label_wrong[flagged["position"].to_numpy()] = flagged["label_wrong"].to_numpy(dtype=bool)
    head: dict[str, object] = {c: examples[c].reset_index(drop=True) for c in (*leading, *rest)}
    head["tags"] = joined_tags(tag_columns.to_numpy(dtype=bool), names)
    tail = {
        "reviewer": _reviewers(n, mine),
        "reviewed_at": _place(n, _latest(mine), "at"),
        "note": _place(n, _latest(mine, _given(mine["note"])), "note", fill=""),
        "label_wrong": label_wrong,
        "corrected_label": _place(n, flagged, "corrected_label"),
    }
    # Joined, not built from one dict of columns: that copied every tag column into one
    # new block (0.1-0.2 s at 1M x 50 tags).
    sheet = pd.concat(
        [pd.DataFrame(head, index=index), tag_columns, pd.DataFrame(tail, index=index)], axis=1
    )
    if reviewed_only:
        reviewed = np.zeros(n, dtype=bool)
        reviewed[mine["position"].to_numpy()] = True
        sheet = sheet.loc[reviewed].reset_index(drop=True)
    return sheet


def corrected_labels(
    evidence_or_examples: Evidence | pd.DataFrame, reviews: pd.DataFrame
) -> pd.DataFrame:
    """The examples someone corrected, in the run's order: ``id, label`` (as imported),
    ``corrected_label``, and the ``reviewer`` and time (``at``) of the latest review that
    gave one. Reviews without a corrected label, and of ids the run lacks, are ignored."""
    import pandas as pd

    examples = _examples_of(evidence_or_examples)
    if "label" not in examples.columns:
        raise ValueError("examples has no 'label' column: a production sample has no labels")
    mine = _positions(examples, _check_reviews(reviews))
    latest = _latest(mine, _given(mine["corrected_label"])).sort_values("position")
    rows = latest["position"].to_numpy()
    return pd.DataFrame(
        {
            "id": examples["id"].astype(str).to_numpy()[rows],
            "label": examples["label"].to_numpy()[rows],
            "corrected_label": latest["corrected_label"].astype(str).to_numpy(),
            "reviewer": latest["reviewer"].to_numpy(),
            "at": latest["at"].to_numpy(),
        },
        columns=list(LABEL_COLUMNS),
    )


def apply_corrections(examples: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``examples`` with each ``labels`` row's ``corrected_label`` in place of the label of
    the example with its ``id``.

    ``correct`` is recomputed as label == prediction when the run's ``correct`` is exactly
    that on every example (the importer derives it so when the file has no correct column);
    a ``correct`` the file gave otherwise is kept. An id the examples lack raises
    ValueError. Inputs are not modified.
    """
    import numpy as np
    import pandas as pd

    check_frame(examples, "examples", ("id", "label"))
    check_frame(labels, "labels", ("id", "corrected_label"))
    rows = pd.Index(examples["id"].astype(str)).get_indexer(labels["id"].astype(str))
    if (rows < 0).any():
        raise ValueError(f"examples has no id {labels['id'].astype(str)[rows < 0].iloc[0]!r}")
    old = examples["label"].astype(object).to_numpy()
    new = old.copy()
    new[rows] = labels["corrected_label"].astype(object).to_numpy()
    out = examples.assign(label=pd.Series(new, index=examples.index, dtype=examples["label"].dtype))
    if "correct" in examples.columns and "prediction" in examples.columns:
        prediction = examples["prediction"].astype(object).to_numpy()
        if np.array_equal(examples["correct"].to_numpy(dtype=bool), old == prediction):
            out["correct"] = new == prediction
    return out


def extra_sheets(
    project: Project, dataset: str, kind: str, *, run: str | None = None
) -> dict[str, pd.DataFrame]:
    """The sheets a workbook of ``kind`` carries after its own: the examples and the log
    for ``priorities``, none for the other kinds."""
    if _check_kind(kind) != "priorities":
        return {}
    return {
        "examples": export_table(project, dataset, "examples", run=run),
        "log": export_table(project, dataset, "log"),
    }


# --------------------------------------------------------------------------- writing
def rate_columns(frame: pd.DataFrame, kind: str | None) -> list[str]:
    """The float columns of ``frame`` written as rates (see the module's text): those named
    in :data:`RATE_COLUMNS`, unless ``kind`` is a table of examples or the log."""
    return _float_columns(frame, kind, RATE_COLUMNS)


def _float_columns(frame: pd.DataFrame, kind: str | None, names: frozenset[str]) -> list[str]:
    """The float columns of ``frame`` among ``names``; none in a table of examples or the log."""
    import pandas as pd

    if kind in DATA_KINDS:
        return []
    return [
        column
        for column in frame.columns
        if column in names and pd.api.types.is_float_dtype(frame[column].dtype)
    ]


def _rounded(frame: pd.DataFrame, kind: str | None) -> pd.DataFrame:
    """``frame`` with its rate and estimate columns rounded to :data:`SIGNIFICANT_DIGITS`
    (still floats, so CSV writes ``0.8139``)."""
    import numpy as np

    spec = f".{SIGNIFICANT_DIGITS}g"
    changes = {
        column: np.array([float(format(v, spec)) for v in frame[column].to_numpy(dtype=float)])
        for column in _float_columns(frame, kind, RATE_COLUMNS | ESTIMATE_COLUMNS)
    }
    return frame.assign(**changes) if changes else frame


def _json_lines(frame: pd.DataFrame, stream: IO[bytes]) -> None:
    """One JSON object per row; NaN and missing values null, floats at full precision."""
    import numpy as np
    import pandas as pd

    from .export import _jsonable

    if not frame.columns.is_unique:
        raise ValueError("frame has duplicate column names; JSON objects need unique keys")
    names = [str(column) for column in frame.columns]
    columns = []
    for position in range(frame.shape[1]):
        series = frame.iloc[:, position]
        dtype = series.dtype
        if pd.api.types.is_bool_dtype(dtype) and not series.hasnans:
            columns.append(series.to_numpy(dtype=bool).tolist())
        elif pd.api.types.is_float_dtype(dtype) and isinstance(dtype, np.dtype):
            values = series.to_numpy()
            listed = values.astype(object)
            listed[~np.isfinite(values)] = None
            columns.append(listed.tolist())
        elif pd.api.types.is_integer_dtype(dtype) and isinstance(dtype, np.dtype):
            columns.append(series.to_numpy().tolist())
        else:
            columns.append([_jsonable(v) for v in series.astype(object).to_numpy()])
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    for row in zip(*columns, strict=True):
        stream.write((encode(dict(zip(names, row, strict=True))) + "\n").encode("utf-8"))


def _write(
    frame: pd.DataFrame,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    format: str,
    kind: str | None,
    sheets: Mapping[str, pd.DataFrame] | None,
) -> None:
    check_frame(frame, "frame")
    if format not in FORMATS:
        raise ExpectedError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if sheets and format != "xlsx":
        raise ValueError("further sheets go only in an xlsx workbook")
    if format == "csv":
        from .export import write_csv

        stream = io.TextIOWrapper(target, encoding="utf-8", newline="", write_through=True)
        write_csv(_rounded(frame, kind), stream)
        stream.detach()
    elif format == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), target)
    elif format == "jsonl":
        _json_lines(frame, target)
    else:
        _workbook({str(kind or "table"): frame, **(sheets or {})}, target, kind=kind)


# Shown as percentages in a workbook: the rates, but not the p-values and kappas.
NOT_PERCENT = frozenset({"p_value", "p_adjusted", "kappa", "kappa_low", "kappa_high"})


def _workbook(sheets: Mapping[str, pd.DataFrame], target: IO[bytes], *, kind: str | None) -> None:
    from .workbook import write_workbook

    percent = {
        name: [c for c in rate_columns(frame, kind if i == 0 else name) if c not in NOT_PERCENT]
        for i, (name, frame) in enumerate(sheets.items())
    }
    write_workbook(sheets, target, percent_columns=percent)


def export_bytes(
    frame: pd.DataFrame,
    *,
    format: str,
    kind: str | None = None,
    sheets: Mapping[str, pd.DataFrame] | None = None,
) -> bytes:
    """The file :func:`write_export` writes, as bytes (for a download button)."""
    buffer = io.BytesIO()
    _write(frame, buffer, format=format, kind=kind, sheets=sheets)
    return buffer.getvalue()


def write_export(
    frame: pd.DataFrame,
    target: str | os.PathLike[str] | IO[bytes],
    *,
    format: str,
    kind: str | None = None,
    sheets: Mapping[str, pd.DataFrame] | None = None,
) -> None:
    """Write ``frame`` (a table of ``kind``, which decides its rate columns: see the
    module's text) as ``format`` to a path, whole or not at all, or to an open binary
    stream. ``sheets``: further sheets of an xlsx workbook, after the frame's (named
    ``kind``)."""
    if isinstance(target, str | os.PathLike):
        replace_atomically(
            target, lambda stream: _write(frame, stream, format=format, kind=kind, sheets=sheets)
        )
    else:
        _write(frame, target, format=format, kind=kind, sheets=sheets)


def replace_atomically(path: str | os.PathLike[str], write: Callable[[IO[bytes]], None]) -> None:
    """Call ``write`` with a binary stream whose content then replaces ``path`` whole.

    The stream is a temporary file in the same folder, renamed over ``path`` once written
    and synced: a reader sees the old file or the new one, and a failed or killed write
    leaves at most the temporary file, never half a file under the real name.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        # mkstemp makes the file private (0600); give it the mode a new file would get.
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
