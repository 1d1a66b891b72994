"""Readers for the small CSV tables a team brings along: reviews and tag definitions.

Both read the file with the same checks as a dataset CSV (encoding, binary content and NUL
bytes, ragged rows, unclosed quotes, repeated header names), validate the whole file and
raise one :class:`~erroranalysis.importing.ImportValidationError` listing every problem,
each with its line, so nothing is written from a half-good file. Names a file brings
(reviewers, tags) pass the same rules as everywhere (:func:`~erroranalysis.vocabulary.check_name`),
and a file may not bring more than :data:`~erroranalysis.vocabulary.MAX_TAGS` tags.

A reviews file holds tags in a ``tags`` column, in ``tag:NAME`` columns or in one column
per tag, with a note and label flags (the rule is stated once, in :func:`read_reviews`). It
may also be a sample file as ``erroranalysis sample`` writes it (:func:`sample_sheet`:
``id, sample, run, stratum, weight``, the example's columns and empty ``reviewer`` and
``tags``), brought back with ``reviewer`` and ``tags`` filled in: its reviews are reviews of
that sample, checked against what the project recorded of it; or the examples sheet that
``erroranalysis export examples`` writes.

The module runs past 600 lines because a reviews table comes in the many layouts teams
keep (a tags cell, a column per tag, several reviewers in a cell, sample sheets), each
read into the one :class:`ReviewTable` here.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidName
from ..export import QUOTE, restore
from ..roles import ROLES
from ..vocabulary import MAX_TAGS, TAG_PREFIX, TAG_SEPARATOR, check_reviewer
from .csv_reader import read_text_table
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .tags import split_tags, tag_name

__all__ = [
    "EXAMPLE_COLUMNS",
    "MARKS",
    "NO_MARKS",
    "REVIEW_COLUMNS",
    "SAMPLE_COLUMNS",
    "KnownSample",
    "ReviewTable",
    "read_reviews",
    "read_tag_definitions",
    "sample_sheet",
]

# The columns a sample file begins with; the example's own columns and the reviewer's
# follow (see sample_sheet).
SAMPLE_COLUMNS = ("id", "sample", "run", "stratum", "weight")
# What a review holds beside its reviewer and tags (see DatasetStore.record_reviews).
REVIEW_COLUMNS = ("note", "label_wrong", "corrected_label")
# The columns of an example a sheet may carry beside its review (the run's roles, and when
# it was last reviewed, as the examples export writes them): kept, not read.
EXAMPLE_COLUMNS = (*(r for r in ROLES if r not in ("id", "tags")), "reviewed_at")
# A cell that marks a tag (or that a label is wrong), and one that does not; any case,
# trimmed.
MARKS = ("x", "1", "yes", "true")
NO_MARKS = ("", "0", "no", "false")
# A weight read back must be the recorded 1/π to this relative precision (a spreadsheet
# may write fewer digits than Python).
WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ReviewTable:
    """Validated reviews: one row per review, with the tags seen on it."""

    # columns: id, reviewer (and sample_id for a sample file; note, label_wrong and
    # corrected_label where the file has them)
    reviews: pd.DataFrame
    tags: list[list[str]]
    skipped: int = 0  # rows with no reviewer that record nothing


@dataclass(frozen=True)
class KnownSample:
    """What the project recorded of a sample, to check a sample file against."""

    run: str
    draws: pd.DataFrame  # id, probability (see DatasetStore.sample_draws)


def sample_sheet(
    examples: pd.DataFrame,
    draws: pd.DataFrame,
    *,
    sample: int,
    run: str,
    columns: Sequence[str] = (),
) -> pd.DataFrame:
    """The file a reviewer fills in for one sample: a row per drawn example in review
    order, with ``id, sample, run, stratum, weight`` (1/π, the number of examples it stands
    for), then ``label, prediction, confidence`` and ``columns`` (the run's metadata) where
    the run has them, then empty ``reviewer`` and ``tags``. Write it with
    :func:`erroranalysis.export.safe_csv`; :func:`read_reviews` reads it back."""
    rows = pd.Index(examples["id"].astype(str)).get_indexer(draws["id"].astype(str))
    if (rows < 0).any():
        missing = draws["id"][rows < 0].iloc[0]
        raise ValueError(f"the draws name example {missing!r}, which the examples lack")
    shown = [c for c in ("label", "prediction", "confidence", *columns) if c in examples.columns]
    shown = [c for c in dict.fromkeys(shown) if c not in (*SAMPLE_COLUMNS, "reviewer", "tags")]
    sheet = pd.DataFrame(
        {
            "id": draws["id"].astype(str).to_numpy(dtype=object),
            "sample": np.full(len(draws), int(sample), dtype=np.int64),
            "run": run,
            "stratum": draws["stratum"].astype(str).to_numpy(dtype=object),
            "weight": 1.0 / draws["probability"].to_numpy(dtype=float),
        }
    )
    picked = examples.iloc[rows][shown].reset_index(drop=True)
    return pd.concat([sheet, picked], axis=1).assign(reviewer="", tags="")


def read_reviews(
    path: str | Path,
    *,
    known_ids: pd.Index,
    samples: Mapping[int, KnownSample] | None = None,
    example_columns: Collection[str] = (),
    derived_tags: Collection[str] = (),
    encoding: str = "utf-8",
) -> ReviewTable:
    """Read a reviews CSV: a row per reviewed example, ``id`` and ``reviewer`` always.

    The rule for the other columns:

    - ``note`` (text), ``label_wrong`` (a mark, see below) and ``corrected_label`` (text)
      are read into the review. A corrected label implies ``label_wrong`` where that cell
      is empty or the column absent; beside an explicit ``label_wrong`` of ``0``, ``no``
      or ``false`` it is an error.
    - With a ``tags`` column (names ``;``-separated, empty = no tag), ``tag:NAME``
      columns each hold the tag NAME too; any other column not listed below is an error
      that names it.
    - Without a ``tags`` column, every column not listed below is one tag, named by its
      header (a ``tag:`` prefix is dropped): a spreadsheet's column per tag.
    - Kept and not read: a sample file's design columns (:data:`SAMPLE_COLUMNS`), the
      columns of an example the examples export writes beside its review
      (:data:`EXAMPLE_COLUMNS`) and the run's own ``example_columns`` (its metadata),
      which win over a review column of the same name. A column without a header that
      holds nothing is left out too.
    - ``derived_tags`` (the tags that come with the data or follow a rule, which the
      examples export writes too) are the example's own: named in ``tags`` or as a tag's
      column, they are kept and not read.

    A mark (a tag column's cell, ``label_wrong``) is ``x``, ``1``, ``yes`` or ``true`` (any
    case, trimmed) for yes and empty, ``0``, ``no`` or ``false`` for no; anything else is
    an error naming its line and column. A ``reviewer`` cell may name several reviewers
    ``;``-joined (as the examples export writes them): one review each, in that order,
    with the row's tags, note and label flags on the last. Rows that name no reviewer and
    record nothing (no tag, note or label flag) are skipped and counted in ``skipped``.

    Every id must be one of ``known_ids``; reviewers and tags are checked as names. Each
    distinct reviewer and tag is checked once, so a million-row file reads in seconds.

    A file with a ``sample`` column is a sample file (:func:`sample_sheet`): each row
    must name one of ``samples`` (sample id -> what the project recorded) that drew its
    example, with the ``weight`` (a positive number) it recorded, 1/π, and the sample's
    ``run``; the reviews carry ``sample_id``. Cells the export neutralized for
    spreadsheets (a leading ``'``) are read as they were. The file may be separated by
    ``,`` or ``;`` (its weights then may have a decimal comma) and start with a byte order
    mark, as spreadsheets write CSV.
    """
    frame, report, delimiter = read_text_table(path, required=["id", "reviewer"], encoding=encoding)
    derived = frozenset(derived_tags)
    layout = _layout(frame, report, example_columns, derived)
    frame = frame.assign(**{c: _restored(frame[c]) for c in layout.text if c in frame.columns})
    n = len(frame)
    if "tags" in frame.columns:
        tag_lists, distinct, tagged = _tag_lists(frame["tags"], report, ignore=derived)
    else:
        tag_lists, distinct, tagged = [[] for _ in range(n)], set(), np.zeros(n, dtype=bool)
    for column, name in layout.tag_columns.items():
        flags = _marks(frame[column], column, report, what=f"a mark of tag {name!r}")
        distinct.add(name)
        tagged |= flags
        for position in np.flatnonzero(flags).tolist():
            if name not in tag_lists[position]:
                tag_lists[position].append(name)
    wrong = given = None
    if "label_wrong" in layout.read:
        wrong = _marks(frame["label_wrong"], "label_wrong", report, what="a label flag")
        given = _blank(frame["label_wrong"]) > 0
    corrected = None
    if "corrected_label" in layout.read:
        corrected = frame["corrected_label"].where(_blank(frame["corrected_label"]) > 0, None)
    recorded = (_blank(frame["reviewer"]) > 0) | tagged
    if "note" in layout.read:
        recorded |= _blank(frame["note"]) > 0
    if wrong is not None:
        recorded |= wrong
    if corrected is not None:
        recorded |= corrected.notna().to_numpy()
    if not recorded.any():
        report.add("no row is reviewed yet: fill in reviewer (and tags) on the rows reviewed")
        raise report.error(Path(path).name)
    skipped = int(n - recorded.sum())
    if skipped:
        # Later checks name frame positions: point them at the lines the kept rows are on.
        lines = np.asarray(report.locate(np.arange(n)))[recorded]
        report.locate = lambda positions: lines[np.asarray(positions, dtype=np.int64)]
        kept = np.flatnonzero(recorded)
        frame = frame.iloc[kept].reset_index(drop=True)
        tag_lists = [tag_lists[position] for position in kept.tolist()]
        if wrong is not None and given is not None:
            wrong, given = wrong[kept], given[kept]
        if corrected is not None:
            corrected = corrected.iloc[kept].reset_index(drop=True)

    sampled = "sample" in frame.columns
    if sampled:
        frame = _sample_rows(frame, report, samples or {}, comma=delimiter == ";")
    ids = frame["id"]
    unknown = np.asarray(known_ids.get_indexer(ids) < 0)
    if unknown.any():
        report.at_rows(
            np.flatnonzero(unknown),
            "is not an id of this dataset",
            column="id",
            values=lambda p: ids.iloc[p],
        )
    reviewers = _reviewer_lists(frame["reviewer"], report)
    if len(distinct) > MAX_TAGS:
        report.add(
            f"the file holds {len(distinct)} different tags; at most {MAX_TAGS} are supported",
            column="tags" if "tags" in frame.columns else None,
        )
    review = pd.DataFrame({"id": ids, "reviewer": frame["reviewer"]})
    if sampled:
        review["sample_id"] = frame["sample_id"]
    if "note" in layout.read:
        review["note"] = frame["note"]
    if wrong is not None or corrected is not None:
        flags = np.zeros(len(frame), dtype=bool) if wrong is None else wrong
        if corrected is not None:
            has = corrected.notna().to_numpy()
            if given is not None:
                report.at_rows(
                    np.flatnonzero(has & given & ~flags),
                    "is a corrected label, but label_wrong on this line says the label is "
                    "right; mark label_wrong or clear the corrected label",
                    column="corrected_label",
                    values=lambda p: corrected.iloc[p],
                )
            flags = flags | has
        review["label_wrong"] = flags
        review["corrected_label"] = (
            pd.Series(None, index=review.index, dtype=object) if corrected is None else corrected
        )
    if report.problems:
        raise report.error(Path(path).name)
    review, tag_lists = _one_review_per_reviewer(review, tag_lists, *reviewers)
    return ReviewTable(reviews=review, tags=tag_lists, skipped=skipped)


@dataclass(frozen=True)
class _Layout:
    """How a reviews file's columns are read: ``read`` the review columns read,
    ``tag_columns`` each tag column's tag name, ``text`` the columns whose text counts."""

    read: tuple[str, ...]
    tag_columns: dict[str, str]
    text: tuple[str, ...]


def _layout(
    frame: pd.DataFrame, report: Report, example_columns: Collection[str], derived: frozenset[str]
) -> _Layout:
    """The columns of a reviews file by the rule of :func:`read_reviews`; every column it
    cannot read is reported."""
    kept = {*SAMPLE_COLUMNS, *EXAMPLE_COLUMNS, *example_columns} - {"id", "reviewer"}
    read = tuple(c for c in REVIEW_COLUMNS if c in frame.columns and c not in kept)
    by_tag = "tags" in frame.columns
    rest = [c for c in frame.columns if c not in {"id", "reviewer", "tags", *read, *kept}]
    tag_columns: dict[str, str] = {}
    headers = 0  # the columns that name a tag, derived or not
    for position, column in enumerate(frame.columns):
        if column not in rest:
            continue
        if column == f"Unnamed: {position}":  # no header (see header_names)
            if (_blank(frame[column]) > 0).any():
                report.add(
                    "has no header but holds values: name it (a tag's name, or "
                    f"{TAG_PREFIX}NAME beside a tags column)",
                    column=column,
                )
            continue  # one that holds nothing, as spreadsheets add, is left out
        header = restore(column)
        if by_tag and not header.startswith(TAG_PREFIX):
            report.add(
                "is not a column of a reviews file with a tags column: put the tag in the "
                f"tags column or name its column {TAG_PREFIX}NAME, or leave out the tags "
                "column to read every column as a tag (the columns read: id, reviewer, "
                f"tags, {', '.join(REVIEW_COLUMNS)})",
                column=column,
            )
            continue
        name, problem = tag_name(header.removeprefix(TAG_PREFIX))
        if problem is not None:
            why = (
                f"columns named {TAG_PREFIX}NAME hold one tag each"
                if by_tag
                else "without a tags column, every column other than id, reviewer, "
                f"{', '.join(REVIEW_COLUMNS)} and the example's own is a tag"
            )
            report.add(f"is not a tag name: {problem} ({why})", column=column)
            continue
        headers += 1
        if name not in derived:
            tag_columns[column] = name
    if not by_tag and not headers:
        found = ", ".join(map(repr, list(frame.columns)[:30]))
        report.add(
            "missing required column: a tags column (names ';'-separated) or one column "
            f"per tag (columns found: {found})",
            column="tags",
        )
    text = ("id", "reviewer", "tags", *(c for c in read if c != "label_wrong"))
    return _Layout(read=read, tag_columns=tag_columns, text=text)


def _blank(cells: pd.Series) -> np.ndarray:
    """The length of each cell's text once trimmed: 0 for a blank cell."""
    return cells.str.strip().str.len().to_numpy()


def _restored(cells: pd.Series) -> pd.Series:
    """The cells as they were before the export neutralized them (see export.restore);
    only cells that start with the export's ``'`` are looked at, so big files read fast."""
    quoted = cells.str.startswith(QUOTE).to_numpy()
    if not quoted.any():
        return cells
    out = cells.copy()
    out[quoted] = cells[quoted].map(restore)
    return out


def _marks(cells: pd.Series, column: str, report: Report, *, what: str) -> np.ndarray:
    """Whether each cell marks yes (:data:`MARKS`); a cell that is neither a mark nor one of
    :data:`NO_MARKS` is reported with its line."""
    words = cells.str.strip().str.lower()
    marked = words.isin(MARKS).to_numpy()
    bad = np.flatnonzero(~marked & ~words.isin(NO_MARKS).to_numpy())
    if len(bad):
        report.at_rows(
            bad,
            f"is not {what}: {', '.join(MARKS)} mark yes; empty, {', '.join(NO_MARKS[1:])} mark no",
            column=column,
            values=lambda p: cells.iloc[p],
        )
    return marked


def _reviewer_lists(cells: pd.Series, report: Report) -> tuple[np.ndarray, list[list[str]]]:
    """(each cell's code, the reviewers each distinct cell names ``;``-joined, as written);
    every cell with a name that is not a reviewer name (or with none) is reported where it
    appears."""
    codes, distinct = pd.factorize(cells)
    lists: list[list[str]] = []
    reasons: dict[int, str] = {}
    for code, cell in enumerate(distinct.tolist()):
        names = [name for name in cell.split(TAG_SEPARATOR) if name.strip()] or [""]
        lists.append(names)
        for name in names:
            try:
                check_reviewer(name)
            except InvalidName as err:
                reasons[code] = str(err)
                break
    if reasons:
        report.at_rows(
            np.flatnonzero(np.isin(codes, list(reasons))),
            lambda p: f"is not a reviewer name: {reasons[codes[p]]}",
            column="reviewer",
            values=lambda p: cells.iloc[p],
        )
    return codes, lists


def _one_review_per_reviewer(
    reviews: pd.DataFrame, tags: list[list[str]], codes: np.ndarray, lists: list[list[str]]
) -> tuple[pd.DataFrame, list[list[str]]]:
    """A review per reviewer a row names (row i names ``lists[codes[i]]``), in order; the
    row's tags, note and label flags go with its last reviewer."""
    sizes = np.asarray([len(names) for names in lists], dtype=np.int64)
    if (sizes == 1).all():
        if not reviews["reviewer"].str.contains(TAG_SEPARATOR, regex=False).any():
            return reviews, tags  # every cell is one name as written
        single = np.asarray([names[0] for names in lists], dtype=object)
        return reviews.assign(reviewer=single[codes]), tags
    counts = sizes[codes]
    rows = np.repeat(np.arange(len(reviews)), counts)
    last = np.zeros(len(rows), dtype=bool)
    last[np.cumsum(counts) - 1] = True
    out = reviews.iloc[rows].reset_index(drop=True)
    out["reviewer"] = [name for code in codes.tolist() for name in lists[code]]
    earlier = ~last
    if "note" in out.columns:
        out.loc[earlier, "note"] = ""
    if "label_wrong" in out.columns:
        out.loc[earlier, "label_wrong"] = False
        out.loc[earlier, "corrected_label"] = None
    row_tags = [tags[row] if at_last else [] for row, at_last in zip(rows, last, strict=True)]
    return out, row_tags


def _sample_rows(
    frame: pd.DataFrame, report: Report, samples: Mapping[int, KnownSample], *, comma: bool
) -> pd.DataFrame:
    """The rows of a sample file with ``sample_id``; every row that does not match the
    recorded sample is reported. ``comma``: weights may have a decimal comma."""
    lines = np.asarray(report.locate(np.arange(len(frame))))
    sample_ids = np.full(len(frame), -1, dtype=np.int64)
    for position in range(len(frame)):
        row = frame.iloc[position]
        line = int(lines[position])
        sample = _whole_number(row["sample"])
        if sample is None:
            report.add(
                "is not a sample id (a whole number)",
                column="sample",
                row=line,
                value=row["sample"],
            )
            continue
        known = samples.get(sample)
        if known is None:
            listing = ", ".join(map(str, sorted(samples))) or "none"
            report.add(
                f"is not a sample of this dataset (samples: {listing})",
                column="sample",
                row=line,
                value=row["sample"],
            )
            continue
        sample_ids[position] = sample
    # Examples against their samples: vectorised per sample, so a big sample reads fast.
    for sample in np.unique(sample_ids[sample_ids >= 0]).tolist():
        known = samples[sample]
        here = np.flatnonzero(sample_ids == sample)
        drawn = pd.Index(known.draws["id"].astype(str))
        where = drawn.get_indexer(frame["id"].iloc[here])
        for position in here[where < 0][:MAX_PROBLEMS_PER_CHECK].tolist():
            report.add(
                f"was not drawn in sample {sample}",
                column="id",
                row=int(lines[position]),
                value=frame["id"].iloc[position],
            )
        expected = 1.0 / known.draws["probability"].to_numpy(dtype=float)
        for position, at in zip(here.tolist(), where.tolist(), strict=True):
            if at < 0:
                continue
            line = int(lines[position])
            _check_weight(frame, position, line, expected[at], sample, report, comma=comma)
            if "run" in frame.columns and frame["run"].iloc[position] != known.run:
                report.add(
                    f"is not the run sample {sample} was drawn from ({known.run!r})",
                    column="run",
                    row=int(lines[position]),
                    value=frame["run"].iloc[position],
                )
    if "weight" not in frame.columns:
        report.add(
            "missing required column of a sample file (weight = 1/π of each example)",
            column="weight",
        )
    out = frame.copy()
    out["sample_id"] = pd.array(sample_ids, dtype="Int64")
    return out


def _whole_number(text: str) -> int | None:
    text = str(text).strip()
    return int(text) if text.isdecimal() and text.isascii() else None


def _check_weight(
    frame: pd.DataFrame,
    position: int,
    line: int,
    expected: float,
    sample: int,
    report: Report,
    *,
    comma: bool,
) -> None:
    if "weight" not in frame.columns:
        return
    raw = frame["weight"].iloc[position]
    try:
        value = _float(raw, comma=comma)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0) or "_" in raw:
        report.add("is not a positive number", column="weight", row=line, value=raw)
    elif not math.isclose(value, expected, rel_tol=WEIGHT_TOLERANCE):
        report.add(
            f"is not the weight sample {sample} recorded for this example ({expected:.10g})",
            column="weight",
            row=line,
            value=raw,
        )


def _tag_lists(
    cells: pd.Series, report: Report, *, ignore: frozenset[str]
) -> tuple[list[list[str]], set[str], np.ndarray]:
    """The checked tag names of every cell but those to ``ignore``, the names seen, and
    whether each cell names one; each bad name is reported where it appears."""
    distinct, codes, rows = split_tags(pa.array(cells, type=pa.string(), from_pandas=True))
    result: list[list[str]] = [[] for _ in range(len(cells))]
    tagged = np.zeros(len(cells), dtype=bool)
    if not distinct:
        return result, set(), tagged
    clean: list[str] = []
    reasons: dict[int, str] = {}
    for code, name in enumerate(distinct):
        checked, problem = tag_name(name)
        clean.append(checked)
        if problem is not None:
            reasons[code] = problem
    if reasons:
        bad = np.flatnonzero(np.isin(codes, list(reasons)))
        shown = bad[:MAX_PROBLEMS_PER_CHECK]
        lines = report.locate(rows[shown]) if len(shown) else shown
        for at, line in zip(shown.tolist(), np.asarray(lines).tolist(), strict=True):
            report.add(
                f"is not a tag name: {reasons[int(codes[at])]}",
                column="tags",
                row=int(line),
                value=clean[int(codes[at])],
            )
        report.more(len(bad) - len(shown), column="tags")
        tagged[rows] = True
        return result, set(), tagged
    seen = set(clean)
    if seen & ignore:
        read = np.asarray([name not in ignore for name in clean], dtype=bool)[codes]
        codes, rows = codes[read], rows[read]
        seen = {clean[code] for code in np.unique(codes).tolist()}
    for row, code in zip(rows.tolist(), codes.tolist(), strict=True):
        result[row].append(clean[code])
    tagged[rows] = True
    return result, seen, tagged


def read_tag_definitions(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a tags CSV (``tag``, ``hlp``, optional ``effort``, ``description``).

    Returns columns tag, hlp (float or NaN), effort (float or NaN), description. HLP is a
    number in [0, 1], effort a finite number > 0; empty means unknown. In a file separated
    by ``;`` a number may have a decimal comma (``0,93``).
    """
    frame, report, delimiter = read_text_table(path, required=["tag", "hlp"], encoding=encoding)
    comma = delimiter == ";"
    if frame["tag"].str.strip().nunique() > MAX_TAGS:
        # Checked first: past the limit the file is refused whatever its rows say.
        report.add(
            f"the file defines {frame['tag'].str.strip().nunique()} different tags; at most "
            f"{MAX_TAGS} are supported",
            column="tag",
        )
        raise report.error(Path(path).name)
    lines = np.asarray(report.locate(np.arange(len(frame)))).tolist()
    out = []
    seen: dict[str, int] = {}
    for line, row in zip(lines, frame.to_dict("records"), strict=True):
        tag, problem = tag_name(row["tag"])
        if problem is not None:
            report.add(f"is not a tag name: {problem}", column="tag", row=line, value=row["tag"])
        else:
            if tag in seen:
                report.add(
                    f"is listed twice (first on line {seen[tag]})",
                    column="tag",
                    row=line,
                    value=row["tag"],
                )
            seen.setdefault(tag, line)
        hlp = _number(row["hlp"], "hlp", line, report, low=0.0, high=1.0, comma=comma)
        effort = _number(
            row.get("effort", ""), "effort", line, report, low=0.0, strict_low=True, comma=comma
        )
        out.append(
            {"tag": tag, "hlp": hlp, "effort": effort, "description": row.get("description", "")}
        )
    if report.problems:
        raise report.error(Path(path).name)
    return pd.DataFrame(out, columns=["tag", "hlp", "effort", "description"])


def _number(
    raw: str,
    column: str,
    line: int,
    report: Report,
    *,
    low: float,
    high: float = math.inf,
    strict_low: bool = False,
    comma: bool = False,
) -> float:
    """The number in a cell (NaN if empty), or NaN with a problem if it is not a finite
    number from ``low`` (excluded if ``strict_low``) to ``high``; ``comma``: the number
    may have a decimal comma."""
    if raw is None or not str(raw).strip():
        return math.nan
    try:
        value = _float(raw, comma=comma)
    except ValueError:
        report.add("is not a number", column=column, row=line, value=raw)
        return math.nan
    below = value <= low if strict_low else value < low
    # float() also reads "inf", "nan" and "1_0"; only a finite number in range is a value.
    if not math.isfinite(value) or "_" in raw or below or value > high:
        bounds = f"> {low:g}" if strict_low else f"in [{low:g}, {high:g}]"
        report.add(f"is not a finite number {bounds}", column=column, row=line, value=raw)
        return math.nan
    return value


def _float(text: str, *, comma: bool) -> float:
    """``float(text)``; with ``comma`` (a file separated by ``;``, as spreadsheets write CSV
    where the decimal mark is a comma) ``0,5`` is read as ``0.5`` too."""
    if comma and text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    return float(text)
