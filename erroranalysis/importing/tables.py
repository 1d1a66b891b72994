"""Readers for the small CSV tables a team brings along: reviews and tag definitions.

Both read the file with the same checks as a dataset CSV (encoding, binary content and NUL
bytes, ragged rows, unclosed quotes, repeated header names), validate the whole file and
raise one :class:`~erroranalysis.importing.ImportValidationError` listing every problem,
each with its line, so nothing is written from a half-good file. Names a file brings
(reviewers, tags) pass the same rules as everywhere (:func:`~erroranalysis.vocabulary.check_name`),
and a file may not bring more than :data:`~erroranalysis.vocabulary.MAX_TAGS` tags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from ..errors import InvalidName
from ..vocabulary import MAX_TAGS, check_reviewer
from .csv_reader import read_text_table
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .tags import split_tags, tag_name

__all__ = ["ReviewTable", "read_reviews", "read_tag_definitions"]


@dataclass(frozen=True)
class ReviewTable:
    """Validated reviews: one row per reviewed example, with the tags seen on it."""

    reviews: pd.DataFrame  # columns: id, reviewer
    tags: list[list[str]]


def read_reviews(path: str | Path, *, known_ids: pd.Index, encoding: str = "utf-8") -> ReviewTable:
    """Read a reviews CSV (``id``, ``reviewer``, ``tags`` `;`-separated, empty = no tag).

    Every id must be one of ``known_ids``; reviewers and tags are checked as names. Each
    distinct reviewer and tag is checked once, so a million-row file reads in seconds.
    """
    frame, report = read_text_table(path, required=["id", "reviewer", "tags"], encoding=encoding)
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
    return ReviewTable(reviews=frame[["id", "reviewer"]].reset_index(drop=True), tags=tag_lists)


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
