"""Readers for the small CSV tables a team brings along: reviews and tag definitions.

Both validate the whole file first and raise one
:class:`~erroranalysis.importing.ImportValidationError` listing every problem, so nothing is
written from a half-good file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .importing import ImportValidationError, Problem
from .store import StoreError, check_actor, check_tag_name


@dataclass(frozen=True)
class ReviewTable:
    """Validated reviews: one row per reviewed example, with the tags seen on it."""

    reviews: pd.DataFrame  # columns: id, reviewer
    tags: list[list[str]]


def _read_csv(path: str | Path, required: list[str], *, encoding: str) -> pd.DataFrame:
    path = Path(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=encoding)
    except FileNotFoundError:
        raise ImportValidationError([Problem(f"file not found: {path}")]) from None
    except UnicodeDecodeError as err:
        raise ImportValidationError(
            [Problem(f"{path.name} is not {encoding} text ({err.reason}); pass --encoding")]
        ) from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise ImportValidationError(
            [Problem(f"{path.name} is not a readable CSV: {err}")]
        ) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        found = ", ".join(map(repr, frame.columns)) or "none"
        raise ImportValidationError(
            [
                Problem(f"missing required column (columns found: {found})", column=c)
                for c in missing
            ]
        )
    if frame.empty:
        raise ImportValidationError([Problem(f"{path.name} has no rows")])
    return frame


def read_reviews(path: str | Path, *, known_ids: pd.Index, encoding: str = "utf-8") -> ReviewTable:
    """Read a reviews CSV (``id``, ``reviewer``, ``tags`` `;`-separated, empty = no tag)."""
    frame = _read_csv(path, ["id", "reviewer", "tags"], encoding=encoding)
    problems: list[Problem] = []
    tag_lists: list[list[str]] = []
    unknown = pd.Series(known_ids.get_indexer(frame["id"]) < 0)
    for position, (example_id, reviewer, tags) in enumerate(
        zip(frame["id"], frame["reviewer"], frame["tags"], strict=True)
    ):
        line = position + 2
        if unknown.iloc[position]:
            problems.append(
                Problem("is not an id of this dataset", column="id", row=line, value=example_id)
            )
        try:
            check_actor(reviewer)
        except StoreError as err:
            problems.append(
                Problem(
                    f"is not a reviewer name: {err}", column="reviewer", row=line, value=reviewer
                )
            )
        names = []
        for raw in tags.split(";"):
            if not raw.strip():
                continue
            try:
                names.append(check_tag_name(raw))
            except StoreError as err:
                problems.append(
                    Problem(f"is not a tag name: {err}", column="tags", row=line, value=raw)
                )
        tag_lists.append(names)
    if problems:
        raise ImportValidationError(problems)
    return ReviewTable(reviews=frame[["id", "reviewer"]].reset_index(drop=True), tags=tag_lists)


def read_tag_definitions(path: str | Path, *, encoding: str = "utf-8") -> pd.DataFrame:
    """Read a tags CSV (``tag``, ``hlp``, optional ``effort``, ``description``).

    Returns columns tag, hlp (float or NaN), effort (float or NaN), description.
    """
    frame = _read_csv(path, ["tag", "hlp"], encoding=encoding)
    problems: list[Problem] = []
    out = []
    for position, row in enumerate(frame.to_dict("records")):
        line = position + 2
        try:
            tag = check_tag_name(row["tag"])
        except StoreError as err:
            problems.append(
                Problem(f"is not a tag name: {err}", column="tag", row=line, value=row["tag"])
            )
            tag = row["tag"]
        hlp = _number(row["hlp"], "hlp", line, problems, low=0.0, high=1.0)
        effort = _number(row.get("effort", ""), "effort", line, problems, low=0.0, strict_low=True)
        out.append(
            {"tag": tag, "hlp": hlp, "effort": effort, "description": row.get("description", "")}
        )
    duplicated = frame["tag"].str.strip().duplicated()
    for position in duplicated[duplicated].index:
        problems.append(
            Problem("is listed twice", column="tag", row=position + 2, value=frame["tag"][position])
        )
    if problems:
        raise ImportValidationError(problems)
    return pd.DataFrame(out, columns=["tag", "hlp", "effort", "description"])


def _number(
    raw: str, column: str, line: int, problems: list[Problem], *, low: float,
    high: float = math.inf, strict_low: bool = False,
) -> float:  # fmt: skip
    if raw is None or not str(raw).strip():
        return math.nan
    try:
        value = float(raw)
    except ValueError:
        problems.append(Problem("is not a number", column=column, row=line, value=raw))
        return math.nan
    below = value <= low if strict_low else value < low
    if math.isnan(value) or below or value > high:
        bounds = f"> {low:g}" if strict_low else f"in [{low:g}, {high:g}]"
        problems.append(Problem(f"is not a number {bounds}", column=column, row=line, value=raw))
        return math.nan
    return value
