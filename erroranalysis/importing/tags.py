"""Dataset tags from a file: the ``tags`` column of ``;``-separated names and ``tag:NAME`` columns.

Names are checked as the store checks them (:func:`~erroranalysis.vocabulary.check_tag_name`)
and the :data:`~erroranalysis.vocabulary.MAX_TAGS` limit counts both kinds together.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InvalidName
from ..vocabulary import MAX_TAGS, TAG_PREFIX, TAG_SEPARATOR, check_tag_name
from .report import MAX_PROBLEMS_PER_CHECK, Report
from .values import report_booleans, to_bool


class TagCells(NamedTuple):
    """The tags of a column of ``;``-separated names: every distinct name, trimmed, in order
    of first appearance, and for each name given in a cell its ``code`` (its position in
    ``names``) and its ``row``. Empty names are not given."""

    names: list[str]
    codes: np.ndarray
    rows: np.ndarray


def split_tags(cells: pa.Array | pa.ChunkedArray) -> TagCells:
    """The tag names of text ``cells`` (null cells hold none); nothing is checked yet."""
    # Arrow keeps this compact: a hostile cell of a million ';' is a million empty names.
    if isinstance(cells, pa.ChunkedArray):
        cells = cells.combine_chunks()
    lists = pc.split_pattern(cells, TAG_SEPARATOR)
    names = pc.utf8_trim_whitespace(pc.list_flatten(lists))
    rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
    given = pc.not_equal(names, "").to_numpy(zero_copy_only=False)
    if not given.any():
        return TagCells([], np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    encoded = pc.dictionary_encode(pc.filter(names, given))  # codes by first appearance
    return TagCells(
        encoded.dictionary.to_pylist(),
        encoded.indices.to_numpy(zero_copy_only=False),
        rows[given],
    )


def tag_name(name: str) -> tuple[str, str | None]:
    """(the name as the store keeps it, or the problem with it)."""
    try:
        return check_tag_name(name), None
    except InvalidName as err:
        return name, str(err)


def collect_tags(
    frame: pd.DataFrame, tag_columns: list[str], tags_column: str | None, n: int, report: Report
) -> dict[str, np.ndarray]:
    """One boolean array per tag name, from ``tag:NAME`` columns and the tags column.

    The names are checked as the store checks them, and the :data:`MAX_TAGS` limit counts
    the tags of both kinds of column together.
    """
    column_tags: dict[str, str] = {}  # tag:NAME column -> tag name
    for column in tag_columns:
        name, problem = tag_name(column[len(TAG_PREFIX) :])
        if problem:
            report.add(f"{problem} (columns named tag:NAME hold one tag each)", column=column)
        else:
            column_tags[column] = name
    cell_tags: list[str] = []  # distinct names of the tags column, by first appearance
    codes = rows = np.zeros(0, dtype=np.int64)
    if tags_column is not None:
        distinct, codes, rows = split_tags(
            pa.array(frame[tags_column].astype("str"), from_pandas=True)
        )
        if distinct:
            _, first = np.unique(codes, return_index=True)
            checked = [tag_name(name) for name in distinct]
            bad = [
                (int(rows[first[code]]), problem, distinct[code])
                for code, (_, problem) in enumerate(checked)
                if problem is not None
            ]
            for row, problem, name in bad[:MAX_PROBLEMS_PER_CHECK]:
                at = int(report.locate(np.asarray([row]))[0])
                report.add(problem or "", column=tags_column, row=at, value=name)
            report.more(len(bad) - MAX_PROBLEMS_PER_CHECK, column=tags_column)
            if bad:
                codes = rows = np.zeros(0, dtype=np.int64)
            else:
                cell_tags = [name for name, _ in checked]
    total = set(column_tags.values()) | set(cell_tags)
    if len(total) > MAX_TAGS:
        kinds = []
        if column_tags:
            kinds.append(f"{len(set(column_tags.values()))} in tag:NAME columns")
        if cell_tags:
            kinds.append(f"{len(set(cell_tags))} in the {tags_column!r} column")
        report.add(
            f"the file holds {len(total)} different tags ({', '.join(kinds)}); at most "
            f"{MAX_TAGS} are supported"
        )
        return {}
    tags: dict[str, np.ndarray] = {}
    for column, name in column_tags.items():
        flags, bad_flags = to_bool(frame[column], empty_ok=True)
        if bad_flags.any():
            report_booleans(frame[column], bad_flags, column, report)
            continue
        tags[name] = tags[name] | flags if name in tags else flags
    if cell_tags:
        # Two spellings may name one tag once checked (the store trims them alike).
        index = {name: i for i, name in enumerate(dict.fromkeys(cell_tags))}
        remap = np.asarray([index[name] for name in cell_tags], dtype=np.int64)
        matrix = np.zeros((len(index), n), dtype=bool)
        matrix[remap[codes], rows] = True
        for name, i in index.items():
            tags[name] = tags[name] | matrix[i] if name in tags else matrix[i]
    return tags
