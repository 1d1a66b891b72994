"""Readers for the small CSV tables a team brings along: reviews and tag definitions.

Both read the file with the same checks as a dataset CSV (encoding, binary content and NUL
bytes, ragged rows, unclosed quotes, repeated header names), validate the whole file and
raise one :class:`~erroranalysis.importing.ImportValidationError` listing every problem,
each with its line, so nothing is written from a half-good file. Names a file brings
(reviewers, tags) pass the same rules as everywhere (:func:`~erroranalysis.vocabulary.check_name`),
and a file may not bring more than :data:`~erroranalysis.vocabulary.MAX_TAGS` tags.

A reviews file may also be a sample file as ``erroranalysis sample`` writes it
(:func:`sample_sheet`: ``id, sample, run, stratum, weight``, the example's columns and empty
``reviewer`` and ``tags``), brought back with ``reviewer`` and ``tags`` filled in: its
reviews are reviews of that sample, checked against what the project recorded of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidName
from ..export import restore
from ..vocabulary import MAX_TAGS, TAG_SEPARATOR, check_reviewer
from .csv_reader import read_text_table
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .tags import split_tags, tag_name

__all__ = [
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
# A weight read back must be the recorded 1/π to this relative precision (a spreadsheet
# may write fewer digits than Python).
WEIGHT_TOLERANCE = 1e-9


@dataclass(frozen=True)
class ReviewTable:
    """Validated reviews: one row per reviewed example, with the tags seen on it."""

    reviews: pd.DataFrame  # columns: id, reviewer (and sample_id for a sample file)
    tags: list[list[str]]


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
    encoding: str = "utf-8",
) -> ReviewTable:
    """Read a reviews CSV (``id``, ``reviewer``, ``tags`` `;`-separated, empty = no tag).

    Every id must be one of ``known_ids``; reviewers and tags are checked as names. Each
    distinct reviewer and tag is checked once, so a million-row file reads in seconds.

    A file with a ``sample`` column is a sample file (:func:`sample_sheet`): each row
    must name one of ``samples`` (sample id -> what the project recorded) that drew its
    example, with the ``weight`` (a positive number) it recorded, 1/π, and the sample's
    ``run``; its other columns are kept and not read. Rows nobody reviewed (no reviewer
    and no tags) are skipped; the reviews carry ``sample_id``. Cells the export
    neutralized for spreadsheets (a leading ``'``) are read as they were.
    """
    frame, report = read_text_table(path, required=["id", "reviewer", "tags"], encoding=encoding)
    sampled = "sample" in frame.columns
    if sampled:
        frame = _sample_rows(frame, report, samples or {})
    ids = frame["id"]
    unknown = np.asarray(known_ids.get_indexer(ids) < 0)
    if unknown.any():
        report.at_rows(
            np.flatnonzero(unknown),
            "is not an id of this dataset",
            column="id",
            values=lambda p: ids.iloc[p],
        )
    reviewers = frame["reviewer"]
    codes, distinct = pd.factorize(reviewers)
    reasons = {}
    for code, name in enumerate(distinct.tolist()):
        try:
            check_reviewer(name)
        except InvalidName as err:
            reasons[code] = str(err)
    if reasons:
        report.at_rows(
            np.flatnonzero(np.isin(codes, list(reasons))),
            lambda p: f"is not a reviewer name: {reasons[codes[p]]}",
            column="reviewer",
            values=lambda p: reviewers.iloc[p],
        )
    tag_lists = _tag_lists(frame["tags"], report)
    if report.problems:
        raise report.error(Path(path).name)
    kept = ["id", "reviewer", "sample_id"] if sampled else ["id", "reviewer"]
    return ReviewTable(reviews=frame[kept].reset_index(drop=True), tags=tag_lists)


def _sample_rows(
    frame: pd.DataFrame, report: Report, samples: Mapping[int, KnownSample]
) -> pd.DataFrame:
    """The reviewed rows of a sample file, with ``sample_id``, its cells restored from the
    export's neutralizing; every row that does not match the recorded sample is reported.
    The later checks of the kept rows still name the lines of the file."""
    frame = frame.assign(**{c: frame[c].map(restore) for c in ("id", "reviewer", "tags")})
    lines = np.asarray(report.locate(np.arange(len(frame))))
    reviewed = (frame["reviewer"].str.strip() != "") | (
        frame["tags"].str.strip(f" {TAG_SEPARATOR}") != ""
    )
    sample_ids = np.full(len(frame), -1, dtype=np.int64)
    for position in np.flatnonzero(reviewed.to_numpy()):
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
            _check_weight(frame, position, int(lines[position]), expected[at], sample, report)
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
    keep = reviewed.to_numpy()
    if not keep.any():
        report.add("no row is reviewed yet: fill in reviewer (and tags) on the rows reviewed")
    # Later checks name frame positions: point them at the lines the kept rows are on.
    kept_lines = lines[keep]
    report.locate = lambda positions: kept_lines[np.asarray(positions, dtype=np.int64)]
    out = frame[keep].copy()
    out["sample_id"] = pd.array(sample_ids[keep], dtype="Int64")
    return out


def _whole_number(text: str) -> int | None:
    text = str(text).strip()
    return int(text) if text.isdecimal() and text.isascii() else None


def _check_weight(
    frame: pd.DataFrame, position: int, line: int, expected: float, sample: int, report: Report
) -> None:
    if "weight" not in frame.columns:
        return
    raw = frame["weight"].iloc[position]
    try:
        value = float(raw)
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


def _tag_lists(cells: pd.Series, report: Report) -> list[list[str]]:
    """The checked tag names of every cell, reporting each bad name where it appears."""
    distinct, codes, rows = split_tags(pa.array(cells, type=pa.string(), from_pandas=True))
    result: list[list[str]] = [[] for _ in range(len(cells))]
    if not distinct:
        return result
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
        return result
    if len(set(clean)) > MAX_TAGS:
        report.add(
            f"the file holds {len(set(clean))} different tags; at most {MAX_TAGS} are supported",
            column="tags",
        )
        return result
    for row, code in zip(rows.tolist(), codes.tolist(), strict=True):
        result[row].append(clean[code])
    return result


def read_tag_definitions(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a tags CSV (``tag``, ``hlp``, optional ``effort``, ``description``).

    Returns columns tag, hlp (float or NaN), effort (float or NaN), description. HLP is a
    number in [0, 1], effort a finite number > 0; empty means unknown.
    """
    frame, report = read_text_table(path, required=["tag", "hlp"], encoding=encoding)
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
        hlp = _number(row["hlp"], "hlp", line, report, low=0.0, high=1.0)
        effort = _number(row.get("effort", ""), "effort", line, report, low=0.0, strict_low=True)
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
) -> float:
    """The number in a cell (NaN if empty), or NaN with a problem if it is not a finite
    number from ``low`` (excluded if ``strict_low``) to ``high``."""
    if raw is None or not str(raw).strip():
        return math.nan
    try:
        value = float(raw)
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
