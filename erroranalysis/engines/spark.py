"""The Spark SQL engine: a run counted where its predictions live, in a cluster.

``erroranalysis import --engine spark PATH`` reads PATH (a Parquet path, or a table name
the SparkSession can read) with the column roles of the in-memory import and, in Spark:

* checks every example as the in-memory import does: the roles are resolved by
  :func:`erroranalysis.importing.canonical.canonical` on the source's column names, and
  the values of every example are checked in one aggregation (ids given and distinct,
  booleans and tag names by the importer's own rules applied to the distinct values,
  confidences in [0, 1]); every problem found is listed and nothing is written;
* counts the run's census (:mod:`erroranalysis.census`) in one Spark SQL GROUP BY
  (:func:`erroranalysis.engines.sql.census_sql`) over the source seen as the canonical
  frame: per stratum (errors, correct predictions) its size, and per dataset tag
  (``tag:NAME`` columns, the tags column) and rule tag (each rule of the project, compiled
  by :func:`~erroranalysis.engines.sql.rule_sql`) the examples carrying it, with a second
  person's label, and agreeing with it;
* draws the review queue: a stratified sample (:mod:`erroranalysis.sampling`'s sizes per
  stratum, inclusion probability n_h / N_h) of the examples with the smallest seeded hash
  of their id in each stratum, a draw that does not depend on how Spark partitions the
  data.

Locally it keeps only the census and the drawn examples, read by the in-memory importer as
the run's frame (so they are checked and typed as any import), with the draw recorded as
the run's sample, so the reviews' design weights follow (:mod:`erroranalysis.design`).
pyspark is imported only here.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..census import Census
from ..importing.canonical import canonical
from ..importing.report import Report, value_text
from ..importing.tags import tag_name
from ..importing.values import to_bool
from ..roles import ColumnMapping
from ..sampling import DEFAULT_CORRECT_FRACTION, Draw, check_sample_options, class_sizes
from ..vocabulary import (
    DEFAULT_QUEUE_SIZE,
    DEFAULT_RUN,
    STRATUM_CORRECT,
    STRATUM_ERROR,
    TAG_PREFIX,
    TAG_SEPARATOR,
)

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from ..importing import ImportResult
    from ..store import Project, RunInfo

__all__ = ["ENGINE", "SparkRun", "count_run", "import_spark", "read_source", "spark_session"]

ENGINE = "spark"
# A column of booleans holds few distinct values; more than this many is a column of
# something else, reported without listing them all.
_MAX_DISTINCT = 1000
_ORDER_SALT = 1  # the review order's hash: another seed than the draw's


def spark_session() -> SparkSession:
    """The active SparkSession, else one built from the environment's Spark settings
    (``spark-submit``, ``SPARK_HOME``; a local one without them)."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    return active or SparkSession.builder.appName("erroranalysis").getOrCreate()


def read_source(spark: SparkSession, source: str) -> DataFrame:
    """``source`` as a Spark DataFrame: a Parquet path (a file or folder, local or a URL
    the session reads) or else the name of a table. ValueError naming it when neither."""
    from pyspark.errors import AnalysisException

    looks_like_path = "://" in source or os.sep in source or Path(source).suffix != ""
    try:
        if looks_like_path or Path(source).exists():
            return spark.read.parquet(source)
        return spark.read.table(source)
    except AnalysisException as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        what = "Parquet path" if looks_like_path else "table"
        raise ValueError(f"Spark cannot read the {what} {source!r}: {first}") from None


@dataclass(frozen=True)
class SparkRun:
    """A run counted in Spark: the drawn examples as an import ``result`` (the run's frame),
    its ``census`` and the ``draw`` of the review queue (for run ``draw.run``)."""

    result: ImportResult
    census: Census
    draw: Draw


# --------------------------------------------------------------------------- values
def _text(column: Column) -> Column:
    return column.cast("string")


def _distinct(frame: DataFrame, name: str) -> list[object]:
    from pyspark.sql import functions as F

    rows = frame.select(F.col(f"`{name}`")).distinct().limit(_MAX_DISTINCT + 1).collect()
    return [row[0] for row in rows]


def _booleans(frame: DataFrame, name: str, *, empty_ok: bool, report: Report) -> Column | None:
    """Column ``name`` as a boolean column by the importer's rules (:func:`to_bool`),
    worked out on its distinct values; None, with the problems in ``report``, when some
    value is no boolean."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import BooleanType

    column = F.col(f"`{name}`")
    if isinstance(frame.schema[name].dataType, BooleanType):
        if not empty_ok and frame.where(column.isNull()).limit(1).count():
            report.add("is empty in some rows (true or false needed)", column=name)
            return None
        return F.coalesce(column, F.lit(False))
    values = _distinct(frame, name)
    truth, bad = to_bool(pd.Series(values, dtype=object), empty_ok=empty_ok)
    if bad.any() or len(values) > _MAX_DISTINCT:
        wrong = [v for v, b in zip(values, bad, strict=True) if b][:3]
        shown = ", ".join(value_text(v) for v in wrong) if wrong else "more than a thousand values"
        report.add(f"holds values that are not true/false, 1/0 or yes/no ({shown})", column=name)
        return None
    trues = [v for v, t in zip(values, truth, strict=True) if t and v is not None]
    return F.coalesce(column.isin(trues), F.lit(False)) if trues else F.lit(False)


def _tag_cells(frame: DataFrame, name: str, report: Report) -> dict[str, Column]:
    """The dataset tags of a column of ``;``-separated names, by first appearance in the
    source, each as a boolean column; names checked as the store checks them."""
    from pyspark.sql import functions as F

    names = F.transform(
        F.split(F.coalesce(_text(F.col(f"`{name}`")), F.lit("")), TAG_SEPARATOR, -1),
        lambda x: F.trim(x),
    )
    found = (
        frame.select(F.monotonically_increasing_id().alias("row"), F.posexplode(names))
        .where(F.col("col") != "")
        .groupBy("col")
        .agg(F.min(F.struct("row", "pos")).alias("first"))
        .orderBy("first")
        .collect()
    )
    tags: dict[str, list[str]] = {}
    for row in found:
        checked, problem = tag_name(row["col"])
        if problem:
            report.add(problem, column=name, value=row["col"])
        else:
            tags.setdefault(checked, []).append(row["col"])
    return {tag: F.arrays_overlap(names, F.array(*map(F.lit, raw))) for tag, raw in tags.items()}


def _dataset_tags(frame: DataFrame, mapping: ColumnMapping, report: Report) -> dict[str, Column]:
    """Every dataset tag of the source as a boolean column, in the in-memory import's
    order: ``tag:NAME`` columns, then the tags column's names."""
    tags: dict[str, Column] = {}
    for name in frame.columns:
        if not name.startswith(TAG_PREFIX) or name in mapping.roles().values():
            continue
        checked, problem = tag_name(name[len(TAG_PREFIX) :])
        flags = None if problem else _booleans(frame, name, empty_ok=True, report=report)
        if flags is not None:
            tags[checked] = tags[checked] | flags if checked in tags else flags
    if mapping.tags in frame.columns:
        for tag, flags in _tag_cells(frame, mapping.tags, report).items():
            tags[tag] = tags[tag] | flags if tag in tags else flags
    return tags


# --------------------------------------------------------------------------- the run
def _check_values(frame: DataFrame, roles: Mapping[str, str], report: Report) -> None:
    """Every example's id given and distinct, its confidence a number in [0, 1]: one
    aggregation over the source."""
    from pyspark.sql import functions as F

    ident = _text(F.col(f"`{roles['id']}`"))
    checks = [
        F.count(F.lit(1)).alias("rows"),
        F.sum(F.when(ident.isNull() | (ident == ""), 1).otherwise(0)).alias("empty"),
        F.countDistinct(ident).alias("distinct"),
    ]
    if "confidence" in roles:
        raw = F.col(f"`{roles['confidence']}`")
        number = raw.cast("double")
        checks += [
            F.sum(F.when(raw.isNotNull() & number.isNull(), 1).otherwise(0)).alias("not_number"),
            F.sum(F.when(~F.isnan(number) & ((number < 0) | (number > 1)), 1).otherwise(0)).alias(
                "outside"
            ),
        ]
    found = frame.agg(*checks).first()
    if found["rows"] == 0:
        report.add("the source has no rows")
        return
    if found["empty"]:
        report.add(f"id is empty in {found['empty']:,} rows", column=roles["id"])
    given = found["rows"] - found["empty"]
    if found["distinct"] < given:
        report.add(
            f"ids repeat: {given:,} rows with an id hold {found['distinct']:,} distinct ids",
            column=roles["id"],
        )
    if "confidence" in roles:
        for key, message in (
            ("not_number", "is not a number (confidence must be a number in [0, 1])"),
            ("outside", "is not a number in [0, 1]"),
        ):
            if found[key]:
                report.add(f"{message} in {found[key]:,} rows", column=roles["confidence"])


def count_run(
    frame: DataFrame,
    *,
    source: str,
    run: str = DEFAULT_RUN,
    columns: ColumnMapping = ColumnMapping(),  # noqa: B008 -- frozen, so sharing is safe
    rules: Mapping[str, str] | None = None,
    size: int = DEFAULT_QUEUE_SIZE,
    seed: int = 0,
    correct_fraction: float = DEFAULT_CORRECT_FRACTION,
    media_root: str | Path | None = None,
) -> SparkRun:
    """Check and count the Spark DataFrame ``frame`` (read from ``source``) as run ``run``
    and draw its review queue of ``size`` examples (see the module): the census of its
    dataset tags and of the ``rules`` (tag -> rule) whose columns it has, and the drawn
    examples as the in-memory importer reads them.

    Raises :class:`ImportValidationError` listing every problem found, ValueError for a
    draw the run cannot give (a size beyond it, no errors); returns only a valid run.
    """
    from pyspark.sql import functions as F

    report = Report()
    report.unit = "row"
    names = list(frame.columns)
    # The roles, by the in-memory import's own rules, on the source's column names.
    canonical(pd.DataFrame({n: pd.Series(dtype=object) for n in names}), columns, None, report)
    if report.problems:
        raise report.error(source)
    roles = {role: name for role, name in columns.roles().items() if name in names}
    label = F.coalesce(_text(F.col(f"`{roles['label']}`")), F.lit(""))
    prediction = F.coalesce(_text(F.col(f"`{roles['prediction']}`")), F.lit(""))
    correct = (
        _booleans(frame, roles["correct"], empty_ok=False, report=report)
        if "correct" in roles
        else label == prediction
    )
    tags = _dataset_tags(frame, columns, report)
    _check_values(frame, roles, report)
    if report.problems:
        raise report.error(source)
    view = _canonical_view(frame, roles, correct=correct, label=label, tags=tags)
    census = _census(view, tags=list(tags), rules=rules or {}, human="human_label" in roles)
    draw, drawn = _draw(
        frame,
        correct,
        census,
        source=source,
        run=run,
        size=size,
        seed=seed,
        fraction=correct_fraction,
        ident=_text(F.col(f"`{roles['id']}`")),
    )
    result = _local(drawn, source=source, columns=columns, media_root=media_root, tags=list(tags))
    return SparkRun(result=result, census=census, draw=_with_ids(draw, result.frame["id"]))


def _canonical_view(
    frame: DataFrame,
    roles: Mapping[str, str],
    *,
    correct: Column,
    label: Column,
    tags: Mapping[str, Column],
) -> DataFrame:
    """The source as the canonical frame's columns, which the census and the rules read:
    the roles under their own names (text, missing where the importer makes an empty text
    missing), ``tag:NAME`` per dataset tag, and the metadata columns (a float's NaN
    missing, as pandas reads it)."""
    from pyspark.sql import functions as F
    from pyspark.sql.types import FractionalType

    columns = [correct.alias("correct"), label.alias("label")]
    for role in ("id", "prediction", "text", "audio", "image", "human_label"):
        if role in roles:
            value = _text(F.col(f"`{roles[role]}`"))
            value = F.coalesce(value, F.lit("")) if role in ("id", "prediction") else value
            empty_missing = role in ("audio", "image", "human_label")
            columns.append((F.when(value != "", value) if empty_missing else value).alias(role))
    if "confidence" in roles:
        confidence = F.col(f"`{roles['confidence']}`").cast("double")
        columns.append(F.when(~F.isnan(confidence), confidence).alias("confidence"))
    columns += [flags.alias(TAG_PREFIX + tag) for tag, flags in tags.items()]
    used = set(roles.values())
    for field in frame.schema.fields:
        if field.name in used or field.name.startswith(TAG_PREFIX):
            continue
        value = F.col(f"`{field.name}`")
        if isinstance(field.dataType, FractionalType):
            value = F.when(~F.isnan(value), value)
        columns.append(value.alias(field.name))
    return frame.select(*columns)


def _census(view: DataFrame, *, tags: list[str], rules: Mapping[str, str], human: bool) -> Census:
    """The census of the canonical ``view``: its dataset ``tags`` and those of ``rules``
    (tag -> rule) that read only columns it has (as in memory, another rule is no tag of
    the run), in one GROUP BY (:func:`erroranalysis.engines.sql.census_sql`)."""
    from pyspark.sql.pandas.types import to_arrow_schema

    from .sql import arrow_kinds, census_of, census_sql, rule_sql

    kinds = arrow_kinds(to_arrow_schema(view.schema))
    compiled: dict[str, str] = {}
    texts: dict[str, str] = {}
    for tag, text in rules.items():
        if tag in tags:
            continue
        try:
            compiled[tag] = rule_sql(text, dialect=ENGINE, columns=kinds)
            texts[tag] = text
        except ValueError:
            continue
    name = f"erroranalysis_census_{abs(hash((id(view), tuple(tags)))):x}"
    view.createOrReplaceTempView(name)
    try:
        query = census_sql(name, tags=tags, rules=compiled, human=human, dialect=ENGINE)
        rows = view.sparkSession.sql(query).collect()
    finally:
        view.sparkSession.catalog.dropTempView(name)
    return census_of(rows, tags=tags, rules=texts, human=human, engine=ENGINE)


def _draw(
    frame: DataFrame,
    correct: Column,
    census: Census,
    *,
    source: str,
    run: str,
    size: int,
    seed: int,
    fraction: float,
    ident: Column,
) -> tuple[Draw, pd.DataFrame]:
    """The stratified review queue, drawn in Spark: per stratum the examples with the
    smallest seeded hash of their id; and the drawn rows of the source (Arrow)."""
    from pyspark.sql import functions as F

    size, _, seed, fraction = check_sample_options(size, "stratified", seed, fraction)
    total = census.size[0] + census.size[1]
    if size > total:
        raise ValueError(f"size {size:,} is more than the {total:,} examples of the run")
    wanted = class_sizes(size, census.size[0], census.size[1], fraction, where="the run")
    keyed = frame.withColumn("__stratum", correct.cast("int")).withColumn(
        "__key", F.xxhash64(F.lit(seed), ident)
    )
    parts = [
        keyed.where(F.col("__stratum") == h).orderBy("__key", ident).limit(int(n))
        for h, n in enumerate(wanted)
        if n > 0
    ]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    union = union.withColumn("__order", F.xxhash64(F.lit(seed + _ORDER_SALT), ident))
    table = union.toArrow()
    order = np.lexsort((table.column("__key").to_numpy(), table.column("__order").to_numpy()))
    table = table.take(order)
    strata = table.column("__stratum").to_numpy()
    names = np.where(strata == 1, STRATUM_CORRECT, STRATUM_ERROR).astype(object)
    chance = np.asarray(wanted, dtype=float) / np.asarray(census.size, dtype=float)
    rows = table.drop_columns(["__stratum", "__key", "__order"])
    design = {
        "frame": None,
        "frame_size": int(total),
        "correct_fraction": fraction,
        "engine": ENGINE,
        "strata": [
            {"name": name, "size": int(census.size[h]), "drawn": int(wanted[h])}
            for h, name in enumerate((STRATUM_ERROR, STRATUM_CORRECT))
            if census.size[h] > 0
        ],
    }
    draws = pd.DataFrame(
        {
            "stratum": pd.Series(names, dtype=object),
            "probability": chance[strata],
            "order": np.arange(len(strata), dtype=np.int64),
        }
    )
    draw = Draw(run=run, strategy="stratified", seed=seed, size=size, examples=draws, design=design)
    return draw, rows


def _with_ids(draw: Draw, ids: pd.Series) -> Draw:
    """``draw`` with the ids of its examples, in its order, as the importer read them."""
    examples = draw.examples.assign(id=pd.Series(ids.to_numpy(dtype=object), dtype=object))
    return replace(draw, examples=examples[["id", "stratum", "probability", "order"]])


def _local(
    rows: object,
    *,
    source: str,
    columns: ColumnMapping,
    media_root: str | Path | None,
    tags: list[str],
) -> ImportResult:
    """The drawn rows (an Arrow table) read by the in-memory importer, with a column for
    every dataset tag of the whole run (false where none of the drawn examples has it)."""
    import pyarrow.parquet as pq

    from ..importing import read_dataset

    buffer = io.BytesIO()
    pq.write_table(rows, buffer)
    buffer.seek(0)
    result = read_dataset(
        buffer,
        filename=f"{Path(source).stem or 'spark'}.parquet",
        columns=columns,
        media_root=media_root,
    )
    frame = result.frame
    ordered = [c for c in frame.columns if not c.startswith(TAG_PREFIX)]
    flags = {TAG_PREFIX + t: frame.get(TAG_PREFIX + t, False) for t in tags}
    frame = frame[ordered].assign(**flags).astype({c: bool for c in flags})
    # The blob being encoded is of the frame as read, not of this one: the store encodes it.
    return replace(
        result, frame=frame, dataset_tags=tags, source=source, format=ENGINE, encoded=None
    )


# --------------------------------------------------------------------------- the import
def import_spark(
    project: Project,
    dataset: str,
    source: str,
    *,
    run: str = DEFAULT_RUN,
    columns: ColumnMapping = ColumnMapping(),  # noqa: B008 -- frozen, so sharing is safe
    size: int = DEFAULT_QUEUE_SIZE,
    seed: int = 0,
    correct_fraction: float = DEFAULT_CORRECT_FRACTION,
    media_root: str | Path | None = None,
    replace_run: bool = False,
    actor: str = "import",
    spark: SparkSession | None = None,
) -> tuple[RunInfo, int, list[str]]:
    """Count ``source`` in Spark as run ``run`` of ``dataset`` (see the module) and keep
    its census, its drawn examples as its frame and the draw as its sample; returns the
    run, the sample's id and the import's warnings.

    Everything is checked before anything is written: :class:`ImportValidationError`
    lists the source's problems, ValueError names a source Spark cannot read or a draw
    the run cannot give, StoreError what the project refuses; each changes nothing.
    """
    from ..errors import StoreError
    from ..store.samples import check_draw

    store = project.dataset(dataset, create=True)
    store.check_census_schema()
    if not replace_run and any(info.name == run for info in store._dataset_runs()):
        raise store._replace_needed(run)
    definitions = project.tag_definitions()
    rules = {
        str(tag): str(rule)
        for tag, rule in zip(definitions["tag"], definitions["rule"], strict=True)
        if isinstance(rule, str) and rule
    }
    session = spark or spark_session()
    counted = count_run(
        read_source(session, source),
        source=source,
        run=run,
        columns=columns,
        rules=rules,
        size=size,
        seed=seed,
        correct_fraction=correct_fraction,
        media_root=media_root,
    )
    result = counted.result
    try:
        check_draw(counted.draw, run=run, run_ids=pd.Index(result.frame["id"]))
    except StoreError as err:  # the draw is this module's own: a defect, said as such
        raise StoreError(f"the Spark draw of run {run!r} is not valid: {err}") from None
    info = store.import_result(
        result, run=run, replace=replace_run, actor=actor, census=counted.census
    )
    sample = store.record_sample(counted.draw, actor=actor)
    return info, sample, result.warnings
