"""The DuckDB engine: a run's counts out-of-core, without the run as a pandas frame.

A run is a Parquet blob in the project file. :func:`duckdb_tally` copies it from SQLite
(:meth:`~erroranalysis.store.DatasetStore.copy_frame`, a few megabytes at a time) to a temporary file, and
DuckDB reads only the columns the counts need (``correct``, the human labels, the
``tag:NAME`` columns and the columns of the rules) to count every dataset tag and every
rule (compiled by :mod:`.sql`) over every example in one GROUP BY. Reviewed
tags come from the local reviews, which are few: their design weights are computed by
:mod:`erroranalysis.design` from the run's ids and correctness
(:meth:`~erroranalysis.store.Project.run_index`, the same two columns the memory path
keeps per run), and they are counted by :func:`~erroranalysis.counts.count_tags` over the
reviewed examples' rows alone. The result equals ``tally(load_evidence(...))`` exactly:
the integers are the same counts, the weighted sums the same code on the same rows.

:func:`load_tally` picks the engine: in memory for runs up to
:data:`~erroranalysis.vocabulary.ENGINE_ROWS` examples, DuckDB above.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..counts import TagCounts, Tally, count_tags, join_tallies, tally
from ..errors import ExpectedError
from ..evidence import (
    Checked,
    design_inputs,
    design_of,
    human_agreement,
    load_evidence,
    no_labels,
    reviewed_tags,
    tag_numbers,
    taxonomy,
)
from ..rules import parse_rule
from ..vocabulary import COUNT_ENGINES, ENGINE_ROWS, TAG_PREFIX
from .sql import arrow_kinds, census_of, census_sql, quote_text, rule_sql

if TYPE_CHECKING:
    import pyarrow as pa

    from ..store import Project
    from ..store.common import RunInfo

__all__ = ["UncompiledRule", "check_engine", "duckdb_tally", "engine_for", "load_tally"]

# Rows per record batch read for the reviewed examples' human labels.
_BATCH_ROWS = 1 << 16


@contextmanager
def _run_file(project: Project, info: RunInfo) -> Iterator[Path]:
    """The run's Parquet blob copied, a few megabytes at a time, to a temporary file that
    DuckDB reads natively (all its threads, only the column chunks a query reads); removed
    afterwards. Streaming the blob to DuckDB through Python instead took twice as long
    or more at 10M examples (docs/performance.md)."""
    with tempfile.TemporaryDirectory(prefix="erroranalysis-run-") as folder:
        path = Path(folder) / "run.parquet"
        project.dataset(info.dataset).copy_frame(info.name, path)
        yield path


class UncompiledRule(ExpectedError):
    """A rule tag reads a column of a type the SQL of rules does not compare (a date, a
    list…): the DuckDB engine cannot count the run."""


def check_engine(engine: object) -> str:
    """``engine`` if it is one of :data:`~erroranalysis.vocabulary.COUNT_ENGINES`, else ValueError."""
    if engine not in COUNT_ENGINES:
        raise ValueError(f"engine must be one of {COUNT_ENGINES}, got {engine!r}")
    return engine


def engine_for(info: RunInfo, engine: str = "auto") -> str:
    """The engine that counts run ``info``: ``engine``, or for ``auto`` DuckDB above
    :data:`~erroranalysis.vocabulary.ENGINE_ROWS` examples, memory up to it."""
    if check_engine(engine) != "auto":
        return engine
    return "duckdb" if info.n_examples > ENGINE_ROWS else "memory"


def load_tally(
    project: Project, dataset: str, *, run: str | None = None, engine: str = "auto"
) -> Tally:
    """The counts of ``dataset``'s run (its latest unless ``run``), by ``engine`` (one of
    :data:`~erroranalysis.vocabulary.COUNT_ENGINES`): the same :class:`~erroranalysis.counts.Tally`
    whichever counts it, ``tally(load_evidence(...))``. ``auto`` counts in memory a run
    whose rule tags read a column DuckDB does not compare (:class:`UncompiledRule`)."""
    info = project.dataset(dataset).run(run)
    chosen = engine_for(info, engine)
    if info.counted_by is not None:  # only its census and drawn examples are here
        from ..census import census_tally

        return census_tally(project, dataset, run=info.name)
    if chosen == "duckdb":
        try:
            return duckdb_tally(project, dataset, run=info.name)
        except UncompiledRule:
            if engine != "auto":
                raise
    return tally(load_evidence(project, dataset, run=info.name))


def duckdb_tally(project: Project, dataset: str, *, run: str | None = None) -> Tally:
    """The counts of ``dataset``'s run counted by DuckDB over the stored Parquet (see the
    module); equal to ``tally(load_evidence(project, dataset, run=run))``."""
    import pyarrow.parquet as pq

    info = project.dataset(dataset).run(run)
    definitions, _ = taxonomy(project, info.dataset)
    with _run_file(project, info) as path:
        parquet = pq.ParquetFile(path)
        schema = parquet.schema_arrow
        if "correct" not in schema.names:
            raise ExpectedError(no_labels(info.dataset))
        kinds = arrow_kinds(schema)
        tags = [n[len(TAG_PREFIX) :] for n in schema.names if n.startswith(TAG_PREFIX)]
        rules, texts = _compiled_rules(definitions, tags, kinds, schema)
        human = "human_label" in schema.names
        rows = _census(path, tags=tags, rules=rules, human=human)
        census = census_of(rows, tags=tags, rules=texts, human=human, engine="duckdb")
        size = np.asarray(census.size, dtype=np.int64)
        reviewed = _reviewed_tally(
            project, info, definitions, {*tags, *rules}, parquet, human, size
        )
    hlp, effort = tag_numbers(definitions)
    joined = join_tallies(census.tally(hlp={}, effort={}), reviewed)
    return replace(
        joined,
        hlp={t: v for t, v in hlp.items() if t in joined.names},
        effort={t: v for t, v in effort.items() if t in joined.names},
    )


def _compiled_rules(
    definitions: pd.DataFrame, tags: list[str], kinds: dict[str, str], schema: pa.Schema
) -> tuple[dict[str, str], dict[str, str]]:
    """The rule tags this run evaluates, in the taxonomy's order: name -> DuckDB SQL,
    name -> the rule's text. A rule the run cannot evaluate is left out, as the memory path
    leaves it out (a rule problem); a rule on a column of a type the SQL does not read
    (dates, lists…) is refused, naming it."""
    compiled: dict[str, str] = {}
    texts: dict[str, str] = {}
    for name, text in definitions["rule"].dropna().items():
        if name in tags:
            continue
        try:
            rule = parse_rule(text)
        except ValueError:
            continue
        unread = [c for c in rule.columns if c in schema.names and c not in kinds]
        if unread:
            kind = schema.field(unread[0]).type
            raise UncompiledRule(
                f"rule tag {name!r} reads column {unread[0]!r} of type {kind}, which the "
                "DuckDB engine does not compare: count this run with engine 'memory'"
            )
        try:
            compiled[name] = rule_sql(rule, dialect="duckdb", columns=kinds)
        except ValueError:
            continue
        texts[name] = text
    return compiled, texts


def _census(path: Path, *, tags: list[str], rules: dict[str, str], human: bool) -> list[tuple]:
    """The rows of :func:`~.sql.census_sql` over the run's Parquet file at ``path``, read
    by DuckDB (only the columns the query names, a row group at a time)."""
    import duckdb

    relation = f"read_parquet({quote_text(str(path), dialect='duckdb')})"
    query = census_sql(relation, tags=tags, rules=rules, human=human, dialect="duckdb")
    connection = duckdb.connect()
    try:
        connection.execute("SET enable_progress_bar = false")
        return connection.execute(query).fetchall()
    finally:
        connection.close()


def _reviewed_tally(
    project: Project,
    info: RunInfo,
    definitions: pd.DataFrame,
    derived: set[str],
    parquet,
    human: bool,
    size: np.ndarray,
) -> Tally:
    """The reviewed tags of the run (of ``size`` examples per stratum), counted over its
    reviewed examples only: their tags from the log, their design weights and correctness
    from the run's index, their human labels read from the Parquet for those rows alone.
    Without reviews or reviewed tags nothing is read."""
    assignments = reviewed_tags(project, info.dataset)
    inputs = design_inputs(project, info.dataset, None, ids=None)
    if assignments.empty and inputs.reviews.empty:
        none = np.zeros((2, 0), dtype=np.int64)
        return Tally(
            names=(), kinds=(), counts=TagCounts.unweighted(size=size, seen=none, tagged=none)
        )
    ids, correct = project.run_index(info)
    where = ids.get_indexer(assignments["example_id"])
    assignments = assignments[where >= 0].assign(position=where[where >= 0])
    frame = pd.DataFrame({"id": ids, "correct": correct}, copy=False)
    inputs = replace(inputs, frame=frame, ids=ids)
    design = design_of(project, info.dataset, inputs, tagged=assignments["example_id"])
    weights = design.weights.to_numpy(dtype=float)
    rows = np.flatnonzero(~np.isnan(weights))
    names, tagged = [], []
    for name, group in assignments.groupby("tag", sort=True):
        if name in derived or name not in definitions.index:
            continue
        names.append(name)
        tagged.append(np.isin(rows, group["position"].to_numpy()))
    matrix = np.column_stack(tagged) if names else np.zeros((len(rows), 0), dtype=bool)
    checked = Checked(
        tag_names=names,
        kinds=["reviewed"] * len(names),
        correct=correct[rows],
        reviewed=np.ones(len(rows), dtype=bool),
        matrix=matrix,
        human=human_agreement(_rows_of(parquet, ["label", "human_label"], rows)) if human else None,
        hlp={},
        effort={},
        weights=weights[rows],
    )
    counts = count_tags(checked)
    return Tally(
        names=tuple(names),
        kinds=("reviewed",) * len(names),
        counts=type(counts)(size=size, tag=counts.tag, agreement=counts.agreement),
        left_out={str(k): int(v) for k, v in design.left_out.items()},
    )


def _rows_of(parquet, columns: list[str], rows: np.ndarray) -> pd.DataFrame:
    """The ``columns`` of the run's rows at positions ``rows`` (sorted), read batch by
    batch: never the whole column."""
    import pyarrow as pa

    parts, start = [], 0
    for batch in parquet.iter_batches(batch_size=_BATCH_ROWS, columns=columns, use_threads=False):
        end = start + batch.num_rows
        lo, hi = np.searchsorted(rows, [start, end])
        if hi > lo:
            parts.append(batch.take(pa.array(rows[lo:hi] - start)))
        start = end
    if not parts:
        return parquet.schema_arrow.empty_table().select(columns).to_pandas()
    return pa.Table.from_batches(parts).to_pandas()
