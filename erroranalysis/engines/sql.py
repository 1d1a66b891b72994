"""Rule tags and the census of a run's tags as SQL, for an engine that counts where the data is.

:func:`rule_sql` compiles a rule (the grammar of :mod:`erroranalysis.rules`) to a boolean
SQL expression that holds on exactly the rows :func:`~erroranalysis.rules.evaluate_rule`
holds on in pandas, missing values included: pandas compares a missing value as False
with ``==``, ``<``, ``in``… and True with ``!=``, so every comparison is wrapped in
``COALESCE`` and the expression is never NULL. Text and numbers compare as in pandas:
``==`` between them is False, ``!=`` True, and an order (``<``…) is refused with the same
message. A column's kind (:data:`KINDS`) comes from the data's schema
(:func:`arrow_kinds`); identifiers and text are quoted for the dialect, so a quote,
backtick or semicolon in a name or a value stays part of it.

:func:`census_sql` is the one GROUP BY over a run that counts, per target stratum and
human-label status, the examples and those carrying each dataset tag and each rule;
:func:`census_counts` turns its rows into :class:`~erroranalysis.counts.TagCounts`, and
:func:`census_of` into the :class:`~erroranalysis.census.Census` of the run.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..rules import COMPARISONS, Rule, literal, parse_rule
from ..vocabulary import TAG_PREFIX

if TYPE_CHECKING:
    import pyarrow as pa

    from ..census import Census
    from ..counts import TagCounts

__all__ = [
    "DIALECTS",
    "KINDS",
    "arrow_kinds",
    "census_counts",
    "census_sql",
    "census_of",
    "quote_name",
    "quote_text",
    "rule_sql",
]

DIALECTS = ("duckdb", "spark")
# What a rule can do with a column: bool and number columns compare as numbers (True is 1,
# as in pandas), text as text; a column of nothing but missing values holds for nothing.
KINDS = ("bool", "number", "text", "null")

_SQL_OPERATORS: dict[type, str] = {
    ast.Eq: "=",
    ast.NotEq: "<>",
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
}


def _check_dialect(dialect: object) -> str:
    if dialect not in DIALECTS:
        raise ValueError(f"dialect must be one of {DIALECTS}, got {dialect!r}")
    return dialect


def quote_name(name: str, *, dialect: str) -> str:
    """``name`` as an identifier of ``dialect``: DuckDB ``"a""b"``, Spark ```a``b```."""
    mark = '"' if _check_dialect(dialect) == "duckdb" else "`"
    return mark + name.replace(mark, mark * 2) + mark


def quote_text(value: str, *, dialect: str) -> str:
    """``value`` as a text literal of ``dialect`` (Spark reads backslashes as escapes)."""
    if _check_dialect(dialect) == "spark":
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + value.replace("'", "''") + "'"


def arrow_kinds(schema: pa.Schema) -> dict[str, str]:
    """Each column of ``schema`` -> its kind (one of :data:`KINDS`; other types are left
    out, so a rule on them is refused)."""
    import pyarrow as pa

    kinds: dict[str, str] = {}
    for field in schema:
        kind = field.type
        if pa.types.is_dictionary(kind):
            kind = kind.value_type
        if pa.types.is_boolean(kind):
            kinds[field.name] = "bool"
        elif pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
            kinds[field.name] = "number"
        elif any(
            check(kind)
            for check in (pa.types.is_string, pa.types.is_large_string, pa.types.is_string_view)
        ):
            kinds[field.name] = "text"
        elif pa.types.is_null(kind):
            kinds[field.name] = "null"
    return kinds


def _number(value: int | float) -> str:
    """A number as a literal both dialects read the same: floats as DOUBLE (an exponent),
    never DECIMAL."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return f"CAST('{'-' if value < 0 else ''}Infinity' AS DOUBLE)"
    text = repr(value)
    return text if "e" in text else text + "E0"


class _Compiler:
    def __init__(self, rule: Rule, columns: Mapping[str, str], dialect: str) -> None:
        self.rule = rule
        self.columns = columns
        self.dialect = dialect

    def node(self, node: ast.AST) -> str:
        if isinstance(node, ast.BoolOp):
            joint = " AND " if isinstance(node.op, ast.And) else " OR "
            return "(" + joint.join(self.node(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp):
            return f"(NOT {self.node(node.operand)})"
        if isinstance(node, ast.Name):
            name, kind = self.column(node)
            ref = quote_name(name, dialect=self.dialect)
            return {
                "bool": f"COALESCE({ref}, FALSE)",
                "number": f"COALESCE({ref} <> 0, FALSE)",
                "text": f"COALESCE({ref} <> '', FALSE)",
                "null": "FALSE",
            }[kind]
        assert isinstance(node, ast.Compare)
        operands = [node.left, *node.comparators]
        parts = [
            self.compare(op, left, right)
            for op, left, right in zip(node.ops, operands, operands[1:], strict=False)
        ]
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def column(self, node: ast.Name) -> tuple[str, str]:
        name = self.rule.aliases.get(node.id, node.id)
        return name, self.columns[name]

    def operand(self, node: ast.AST) -> tuple[str, str | None, object]:
        """(kind, SQL of a column or None, the literal value)."""
        if isinstance(node, ast.Name):
            name, kind = self.column(node)
            ref = quote_name(name, dialect=self.dialect)
            if kind == "bool":  # compared as a number, as pandas does
                ref, kind = f"CAST({ref} AS INTEGER)", "number"
            return kind, ref, None
        value = literal(node)
        return ("text" if isinstance(value, str) else "number"), None, value

    def literal(self, value: object) -> str:
        if isinstance(value, str):
            return quote_text(value, dialect=self.dialect)
        return _number(value)

    def compare(self, op: ast.cmpop, left: ast.AST, right: ast.AST) -> str:
        a_kind, a_ref, a = self.operand(left)
        if isinstance(op, ast.In | ast.NotIn):
            values = [literal(item) for item in right.elts]
            if a_ref is None:
                held = a in values
                return _truth(held if isinstance(op, ast.In) else not held)
            wanted = [v for v in values if (isinstance(v, str)) == (a_kind == "text")]
            if a_kind == "null" or not wanted:
                return _truth(isinstance(op, ast.NotIn))
            inside = ", ".join(self.literal(v) for v in dict.fromkeys(wanted))
            held = f"COALESCE({a_ref} IN ({inside}), FALSE)"
            return held if isinstance(op, ast.In) else f"(NOT {held})"
        b_kind, b_ref, b = self.operand(right)
        if a_ref is None and b_ref is None:
            try:
                return _truth(bool(COMPARISONS[type(op)](a, b)))
            except TypeError:
                raise _mixed(left, right) from None
        differs = isinstance(op, ast.NotEq)
        ordered = not isinstance(op, ast.Eq | ast.NotEq)
        if b_kind == "null" and a_kind == "number" and a_ref is not None and ordered:
            # pandas orders a number column against a column of only missing values
            # (object dtype) as mixed types, though not the other way round
            raise _mixed(left, right)
        if "null" in (a_kind, b_kind):
            return _truth(differs)
        if a_kind != b_kind:
            if ordered:
                raise _mixed(left, right)
            return _truth(differs)
        sql_a = a_ref if a_ref is not None else self.literal(a)
        sql_b = b_ref if b_ref is not None else self.literal(b)
        return f"COALESCE({sql_a} {_SQL_OPERATORS[type(op)]} {sql_b}, {_truth(differs)})"


def _truth(value: bool) -> str:
    return "TRUE" if value else "FALSE"


def _mixed(left: ast.AST, right: ast.AST) -> ValueError:
    return ValueError(
        f"cannot compare {ast.unparse(left)} with {ast.unparse(right)}: text and numbers do not mix"
    )


def rule_sql(rule: str | Rule, *, dialect: str, columns: Mapping[str, str]) -> str:
    """``rule`` as a boolean SQL expression of ``dialect`` over a relation whose columns
    have the kinds ``columns`` (name -> one of :data:`KINDS`, e.g. :func:`arrow_kinds`).

    The expression is never NULL and holds exactly where ``evaluate_rule`` holds on the
    same data in pandas. Raises ValueError as ``evaluate_rule`` does (an unknown column,
    text ordered against numbers, a malformed rule), or naming a column of a kind rules
    do not read.
    """
    _check_dialect(dialect)
    rule = parse_rule(rule) if isinstance(rule, str) else rule
    if not isinstance(columns, Mapping):
        raise ValueError(f"columns must be a mapping name -> kind, got {type(columns).__name__}")
    for name, kind in columns.items():
        if kind not in KINDS:
            raise ValueError(f"the kind of column {name!r} must be one of {KINDS}, got {kind!r}")
    missing = [c for c in rule.columns if c not in columns]
    if missing:
        raise ValueError(f"unknown column {missing[0]!r}; columns: {', '.join(map(str, columns))}")
    return _Compiler(rule, columns, dialect).node(rule.tree.body)


def census_sql(
    table: str,
    *,
    tags: Sequence[str],
    rules: Mapping[str, str],
    human: bool,
    dialect: str,
) -> str:
    """One GROUP BY over ``table`` (a relation of ``dialect``, inserted as given: a quoted
    name or a table function) with, per target stratum (``correct`` as 0/1) and, when
    ``human``, human-label status (0 none, 1 agrees with ``label``, 2 does not): the
    examples, then per dataset tag in ``tags`` (column ``tag:NAME``) and per rule in
    ``rules`` (name -> SQL from :func:`rule_sql`), in that order, those carrying it.
    Columns: ``stratum``, ``human``, ``examples``, ``t0``, ``t1``…"""
    _check_dialect(dialect)
    name = {column: quote_name(column, dialect=dialect) for column in ("correct", "label")}
    status = "0"
    if human:
        mark = quote_name("human_label", dialect=dialect)
        status = (
            f"CASE WHEN {mark} IS NULL THEN 0 "
            f"WHEN COALESCE({mark} = {name['label']}, FALSE) THEN 1 ELSE 2 END"
        )
    conditions = [f"{quote_name(TAG_PREFIX + tag, dialect=dialect)}" for tag in tags]
    conditions += list(rules.values())
    counted = "".join(
        f", SUM(CAST({condition} AS INTEGER)) AS t{i}" for i, condition in enumerate(conditions)
    )
    group = "1, 2" if human else "1"
    return (
        f"SELECT CAST({name['correct']} AS INTEGER) AS stratum, {status} AS human, "
        f"COUNT(*) AS examples{counted} FROM {table} GROUP BY {group}"
    )


def census_counts(rows: Iterable[Sequence[object]], *, tags: int, human: bool) -> TagCounts:
    """The :class:`~erroranalysis.counts.TagCounts` of ``tags`` dataset and rule tags
    from the rows of :func:`census_sql` (``stratum, human, examples, t0…``): every example
    counted, weight 1, exact integers."""
    from ..counts import TagCounts

    # (human status, stratum): examples, then one count per tag
    table = np.zeros((3, 2, tags + 1), dtype=np.int64)
    for row in rows:
        stratum, status, *counts = row
        if len(counts) != tags + 1:
            raise ValueError(f"a census row has {len(counts) - 1} tag counts, not {tags}")
        table[int(status), int(stratum)] += np.array([int(c or 0) for c in counts], np.int64)
    size = table[:, :, 0].sum(axis=0)
    tagged = table[:, :, 1:].sum(axis=0)
    return TagCounts.unweighted(
        size=size,
        seen=np.repeat(size[:, None], tags, axis=1),
        tagged=tagged,
        human=table[1:, :, 1:].sum(axis=0) if human else None,
        agree=table[1, :, 1:] if human else None,
    )


def census_of(
    rows: Iterable[Sequence[object]],
    *,
    tags: Sequence[str],
    rules: Mapping[str, str],
    human: bool,
    engine: str,
) -> Census:
    """The :class:`~erroranalysis.census.Census` that ``engine`` counted with
    :func:`census_sql`: from its ``rows``, of the dataset tags ``tags`` and the rule tags
    ``rules`` (name -> the rule's text), in that order."""
    from ..census import Census

    names = (*tags, *rules)
    counts = census_counts(rows, tags=len(names), human=human)
    return Census(
        engine=engine,
        size=(int(counts.size[0]), int(counts.size[1])),
        names=names,
        kinds=("dataset",) * len(tags) + ("rule",) * len(rules),
        rules=(None,) * len(tags) + tuple(rules.values()),
        tagged=counts.tag.x,
        human=counts.agreement.n,
        agree=counts.agreement.x,
    )
