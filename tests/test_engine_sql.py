"""Rule tags and the census compiled to SQL: DuckDB evaluating them agrees with pandas row
for row, counts exactly what the in-memory path counts, and quoting keeps names inert."""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.counts import tag_counts
from erroranalysis.engines.sql import (
    arrow_kinds,
    census_counts,
    census_sql,
    quote_name,
    quote_text,
    rule_sql,
)
from erroranalysis.evidence import Evidence
from erroranalysis.rules import evaluate_rule
from erroranalysis.store.common import _blob_to_frame, _frame_to_blob

KINDS = {"x": "number", "n": "number", "s": "text", "b": "bool"}

# (rule, DuckDB, Spark SQL)
LITERAL = [
    ("x < 2", 'COALESCE("x" < 2, FALSE)', "COALESCE(`x` < 2, FALSE)"),
    ("x != 1.5", 'COALESCE("x" <> 1.5E0, TRUE)', "COALESCE(`x` <> 1.5E0, TRUE)"),
    ("n >= -3", 'COALESCE("n" >= -3, FALSE)', "COALESCE(`n` >= -3, FALSE)"),
    ("x < 1e-05", 'COALESCE("x" < 1e-05, FALSE)', "COALESCE(`x` < 1e-05, FALSE)"),
    (
        "x < 1e999",
        "COALESCE(\"x\" < CAST('Infinity' AS DOUBLE), FALSE)",
        "COALESCE(`x` < CAST('Infinity' AS DOUBLE), FALSE)",
    ),
    ('s == "it\'s"', "COALESCE(\"s\" = 'it''s', FALSE)", "COALESCE(`s` = 'it\\'s', FALSE)"),
    ("s == 'a\\\\b'", "COALESCE(\"s\" = 'a\\b', FALSE)", "COALESCE(`s` = 'a\\\\b', FALSE)"),
    ("s", "COALESCE(\"s\" <> '', FALSE)", "COALESCE(`s` <> '', FALSE)"),
    ("x", 'COALESCE("x" <> 0, FALSE)', "COALESCE(`x` <> 0, FALSE)"),
    ("not b", '(NOT COALESCE("b", FALSE))', "(NOT COALESCE(`b`, FALSE))"),
    (
        "b == True",
        'COALESCE(CAST("b" AS INTEGER) = 1, FALSE)',
        "COALESCE(CAST(`b` AS INTEGER) = 1, FALSE)",
    ),
    (
        "s in ['car', 1, 'car']",
        "COALESCE(\"s\" IN ('car'), FALSE)",
        "COALESCE(`s` IN ('car'), FALSE)",
    ),
    (
        "n not in [1, 2.5]",
        '(NOT COALESCE("n" IN (1, 2.5E0), FALSE))',
        "(NOT COALESCE(`n` IN (1, 2.5E0), FALSE))",
    ),
    ("n in ['a']", "FALSE", "FALSE"),
    ("s not in [1]", "TRUE", "TRUE"),
    ("s == 1", "FALSE", "FALSE"),
    ("x != 'a'", "TRUE", "TRUE"),
    (
        "1 < n <= 4",
        '(COALESCE(1 < "n", FALSE) AND COALESCE("n" <= 4, FALSE))',
        "(COALESCE(1 < `n`, FALSE) AND COALESCE(`n` <= 4, FALSE))",
    ),
    ("n < 3 < 2", '(COALESCE("n" < 3, FALSE) AND FALSE)', "(COALESCE(`n` < 3, FALSE) AND FALSE)"),
    (
        "x < 1 and (s == 'a' or not b)",
        '(COALESCE("x" < 1, FALSE) AND (COALESCE("s" = \'a\', FALSE) OR (NOT COALESCE("b", FALSE))))',
        "(COALESCE(`x` < 1, FALSE) AND (COALESCE(`s` = 'a', FALSE) OR (NOT COALESCE(`b`, FALSE))))",
    ),
]


@pytest.mark.parametrize(("rule", "duck", "spark"), LITERAL)
def test_rule_sql_literal(rule, duck, spark):
    assert rule_sql(rule, dialect="duckdb", columns=KINDS) == duck
    assert rule_sql(rule, dialect="spark", columns=KINDS) == spark


@pytest.mark.parametrize(
    ("rule", "columns", "message"),
    [
        ("snr < 3", KINDS, "unknown column 'snr'; columns: x, n, s, b"),
        ("s < x", KINDS, "cannot compare s with x: text and numbers do not mix"),
        ("b < 'a'", KINDS, "cannot compare b with 'a': text and numbers do not mix"),
        ("'a' < 1 < n", KINDS, "cannot compare 'a' with 1: text and numbers do not mix"),
        ("x == [1]", KINDS, "'\\[1\\]' is not a plain value"),
        ("x < y", {"x": "number", "y": "date"}, "the kind of column 'y' must be one of"),
        ("__import__('os')", KINDS, "is not allowed"),
    ],
)
def test_rule_sql_refuses(rule, columns, message):
    with pytest.raises(ValueError, match=message):
        rule_sql(rule, dialect="duckdb", columns=columns)


def test_rule_sql_refuses_an_unknown_dialect():
    with pytest.raises(
        ValueError, match="dialect must be one of \\('duckdb', 'spark'\\), got 'pg'"
    ):
        rule_sql("x < 1", dialect="pg", columns=KINDS)


@pytest.mark.parametrize(
    ("name", "duck", "spark"),
    [
        ("plain", '"plain"', "`plain`"),
        ('a"b', '"a""b"', '`a"b`'),
        ("a`b", '"a`b"', "`a``b`"),
        ('x"; DROP TABLE t; --', '"x""; DROP TABLE t; --"', '`x"; DROP TABLE t; --`'),
    ],
)
def test_quote_name(name, duck, spark):
    assert quote_name(name, dialect="duckdb") == duck
    assert quote_name(name, dialect="spark") == spark


@pytest.mark.parametrize(
    ("value", "duck", "spark"),
    [
        ("it's", "'it''s'", "'it\\'s'"),
        ("a\\'; DROP TABLE t; --", "'a\\''; DROP TABLE t; --'", "'a\\\\\\'; DROP TABLE t; --'"),
    ],
)
def test_quote_text(value, duck, spark):
    assert quote_text(value, dialect="duckdb") == duck
    assert quote_text(value, dialect="spark") == spark


def stored(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as the project stores a run (Parquet), read back as Arrow."""
    import io

    return pq.read_table(io.BytesIO(_frame_to_blob(frame)))


def duck_rule(table: pa.Table, sql: str) -> list[bool]:
    con = duckdb.connect()
    con.register("run", table)
    values = [bool(v) for (v,) in con.execute(f"SELECT {sql} FROM run").fetchall()]
    con.close()
    return values


INJECTIONS = [
    "'; DROP TABLE run; --",
    "a' OR '1'='1",
    '"; SELECT 1; --',
    "\\' OR 1=1 --",
]


@pytest.mark.parametrize("value", INJECTIONS)
def test_injected_text_stays_a_value(value):
    column = 'we"ird; DROP TABLE run; --'
    frame = pd.DataFrame({column: [value, "other", None], "x": [1.0, 2.0, 3.0]})
    table = stored(frame)
    rule = f"`{column}` == {value!r} or x > 2"
    sql = rule_sql(rule, dialect="duckdb", columns=arrow_kinds(table.schema))
    con = duckdb.connect()
    con.register("run", table)
    assert [bool(v) for (v,) in con.execute(f"SELECT {sql} FROM run").fetchall()] == [
        True,
        False,
        True,
    ]
    assert con.execute("SELECT COUNT(*) FROM run").fetchone() == (3,)
    con.close()


# --------------------------------------------------------------------------- properties

TEXT = st.text(alphabet=st.sampled_from("ab'\"\\;` é"), max_size=3)
NUMBER = st.one_of(
    st.integers(-3, 3),
    st.sampled_from([0.5, -1.5, 2.0, 1e-05, 1e999]),
    st.booleans(),
)
LITERALS = st.one_of(NUMBER, TEXT)
COLUMNS = ("x", "n", "s", "b", "z")


@st.composite
def frames(draw) -> pd.DataFrame:
    # At least one row: on no rows pandas compares no values, so it never finds a
    # number column ordered against a column of nothing (its type unknown), which SQL refuses.
    n = draw(st.integers(1, 12))
    floats = st.one_of(st.sampled_from([0.0, 0.5, 1.0, -1.5, 2.0, 1e-05]), st.just(np.nan))
    return pd.DataFrame(
        {
            "x": np.array(draw(st.lists(floats, min_size=n, max_size=n)), dtype=float),
            "n": np.array(draw(st.lists(st.integers(-3, 3), min_size=n, max_size=n)), dtype=int),
            "s": draw(st.lists(st.one_of(TEXT, st.none()), min_size=n, max_size=n)),
            "b": np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool),
            "z": pd.Series([None] * n, dtype=object),
        }
    )


def comparisons(draw) -> str:
    column = draw(st.sampled_from(COLUMNS))
    kind = draw(st.sampled_from(["compare", "chain", "in", "columns", "name"]))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if kind == "name":
        return column
    if kind == "in":
        values = draw(st.lists(LITERALS, min_size=1, max_size=3))
        word = draw(st.sampled_from(["in", "not in"]))
        return f"{column} {word} [{', '.join(map(repr, values))}]"
    if kind == "columns":
        return f"{column} {op} {draw(st.sampled_from(COLUMNS))}"
    value = repr(draw(LITERALS))
    if kind == "chain":
        return f"{value} {op} {column} {draw(st.sampled_from(['<', '<=']))} {repr(draw(LITERALS))}"
    return f"{column} {op} {value}" if draw(st.booleans()) else f"{value} {op} {column}"


@st.composite
def rules(draw, depth: int = 2) -> str:
    if depth == 0 or draw(st.booleans()):
        return comparisons(draw)
    form = draw(st.sampled_from(["and", "or", "not"]))
    if form == "not":
        return f"not ({draw(rules(depth - 1))})"
    return f"({draw(rules(depth - 1))}) {form} ({draw(rules(depth - 1))})"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=frames(), rule=rules())
def test_duckdb_holds_where_pandas_holds(frame, rule):
    table = stored(frame)
    back = table.to_pandas()  # what load_evidence evaluates rules on
    kinds = arrow_kinds(table.schema)
    try:
        expected = list(evaluate_rule(rule, back))
    except ValueError as err:
        with pytest.raises(ValueError) as raised:
            rule_sql(rule, dialect="duckdb", columns=kinds)
        assert str(raised.value) == str(err)
        return
    assert duck_rule(table, rule_sql(rule, dialect="duckdb", columns=kinds)) == expected


# --------------------------------------------------------------------------- the census


@st.composite
def runs(draw) -> tuple[pd.DataFrame, list[str], list[str], bool]:
    frame = draw(frames())
    n = len(frame)
    bools = st.lists(st.booleans(), min_size=n, max_size=n)
    frame["correct"] = np.array(draw(bools), dtype=bool)
    frame["label"] = draw(st.lists(st.sampled_from(["a", "b"]), min_size=n, max_size=n))
    human = draw(st.booleans())
    if human:
        labels = st.lists(st.sampled_from(["a", "b", None]), min_size=n, max_size=n)
        frame["human_label"] = pd.Series(draw(labels), dtype=object)
    tags = draw(st.lists(st.sampled_from(["car", "it's", 'q"`;']), unique=True, max_size=3))
    for tag in tags:
        frame[f"tag:{tag}"] = np.array(draw(bools), dtype=bool)
    rule_list = draw(st.lists(rules(), max_size=3))
    return frame, tags, rule_list, human


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(run=runs())
def test_census_equals_the_in_memory_counts(run):
    frame, tags, rule_list, human = run
    table = stored(frame)
    back = _blob_to_frame(_frame_to_blob(frame))
    kinds = arrow_kinds(table.schema)
    compiled, columns = {}, {t: back[f"tag:{t}"].to_numpy(dtype=bool) for t in tags}
    for i, rule in enumerate(rule_list):
        try:
            columns[f"rule {i}"] = evaluate_rule(rule, back).to_numpy()
        except ValueError:
            continue
        compiled[f"rule {i}"] = rule_sql(rule, dialect="duckdb", columns=kinds)
    names = list(columns)
    evidence = Evidence(
        back,
        pd.DataFrame(columns, index=back.index),
        kinds={name: "dataset" if name in tags else "rule" for name in names},
    )
    expected = tag_counts(evidence)
    con = duckdb.connect()
    con.register("run", table)
    rows = con.execute(
        census_sql("run", tags=tags, rules=compiled, human=human, dialect="duckdb")
    ).fetchall()
    con.close()
    got = census_counts(rows, tags=len(names), human=human)
    np.testing.assert_array_equal(got.size, expected.size)
    for part in ("tag", "agreement"):
        for field in ("n", "x", "w", "w2", "wx", "w2x", "equal"):
            np.testing.assert_array_equal(
                getattr(getattr(got, part), field), getattr(getattr(expected, part), field)
            )
