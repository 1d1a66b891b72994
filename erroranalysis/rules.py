"""Rule tags: a tag defined by a condition on an example's columns, e.g. ``snr_db < 10``.

A rule is parsed with :mod:`ast` and only a small grammar is accepted — comparisons of
columns with literal values joined by ``and``/``or``/``not`` — so a rule typed into the app
can never run code. Column names that are not identifiers go in backticks:
```` `noise type` == "car" ````.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

MAX_RULE_LENGTH = 500

# What each comparison of the grammar does (the SQL of rules compiles the same operators).
COMPARISONS: dict[type, Callable] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_BACKTICK = re.compile(r"`([^`]*)`")


@dataclass(frozen=True)
class Rule:
    """A parsed rule: its text, its syntax tree and the columns it reads."""

    text: str
    tree: ast.Expression
    columns: tuple[str, ...]
    aliases: dict[str, str]


def parse_rule(text: str) -> Rule:
    """Parse ``text`` or raise ValueError saying exactly what is not allowed."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("the rule is empty")
    if len(text) > MAX_RULE_LENGTH:
        raise ValueError(f"the rule is longer than {MAX_RULE_LENGTH} characters")
    aliases: dict[str, str] = {}

    def alias(match: re.Match) -> str:
        name = f"__column_{len(aliases)}"
        aliases[name] = match.group(1)
        return name

    source = _BACKTICK.sub(alias, text.strip())
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ValueError(f"the rule is not a condition: {err.msg} at column {err.offset}") from None
    columns: list[str] = []
    _check(tree.body, columns, aliases)
    return Rule(
        text=text.strip(), tree=tree, columns=tuple(dict.fromkeys(columns)), aliases=aliases
    )


def _check(node: ast.AST, columns: list[str], aliases: dict[str, str]) -> None:
    if isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, columns, aliases)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, columns, aliases)
    elif isinstance(node, ast.Compare):
        operands = [node.left, *node.comparators]
        for op, right in zip(node.ops, operands[1:], strict=True):
            if isinstance(op, ast.In | ast.NotIn):
                if not isinstance(right, ast.List | ast.Tuple | ast.Set):
                    raise ValueError("'in' needs a list of values, e.g. noise in ['car', 'people']")
                for item in right.elts:
                    literal(item)
            elif type(op) not in COMPARISONS:
                raise ValueError(f"comparison {type(op).__name__} is not allowed")
        for operand in operands:
            if isinstance(operand, ast.Name):
                columns.append(aliases.get(operand.id, operand.id))
            elif not isinstance(operand, ast.List | ast.Tuple | ast.Set):
                literal(operand)
        if not any(isinstance(o, ast.Name) for o in operands):
            raise ValueError("a comparison must name a column")
    elif isinstance(node, ast.Name):
        columns.append(aliases.get(node.id, node.id))  # a boolean column on its own
    else:
        raise ValueError(
            f"{ast.unparse(node)!r} is not allowed: use comparisons of columns with values, "
            "joined by and / or / not"
        )


def literal(node: ast.AST) -> object:
    """The value a rule's literal stands for: text, a number (signed) or a bool; ValueError
    naming anything else (so a rule never evaluates an expression)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = literal(node.operand)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int | float | bool):
        return node.value
    raise ValueError(f"{ast.unparse(node)!r} is not a plain value (text in quotes, or a number)")


def evaluate_rule(rule: str | Rule, frame: pd.DataFrame) -> pd.Series:
    """The examples of ``frame`` the rule holds for, as a bool Series (missing values: False)."""
    rule = parse_rule(rule) if isinstance(rule, str) else rule
    missing = [c for c in rule.columns if c not in frame.columns]
    if missing:
        raise ValueError(
            f"unknown column {missing[0]!r}; columns: {', '.join(map(str, frame.columns))}"
        )
    result = _evaluate(rule.tree.body, frame, rule.aliases)
    return pd.Series(np.asarray(result, dtype=bool), index=frame.index, name=rule.text)


def _evaluate(node: ast.AST, frame: pd.DataFrame, aliases: dict[str, str]) -> np.ndarray:
    if isinstance(node, ast.BoolOp):
        parts = [_evaluate(v, frame, aliases) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        return combine.reduce(parts)
    if isinstance(node, ast.UnaryOp):
        return ~_evaluate(node.operand, frame, aliases)
    if isinstance(node, ast.Name):
        return _holds(_column(frame, node, aliases))
    assert isinstance(node, ast.Compare)
    operands = [node.left, *node.comparators]
    result = np.ones(len(frame), dtype=bool)
    for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
        a = _operand(left, frame, aliases)
        if isinstance(op, ast.In | ast.NotIn):
            values = [literal(item) for item in right.elts]
            held = (
                a.isin(values).to_numpy()
                if isinstance(a, pd.Series)
                else np.full(len(frame), a in values)
            )
            result &= held if isinstance(op, ast.In) else ~held
            continue
        b = _operand(right, frame, aliases)
        try:
            compared = COMPARISONS[type(op)](a, b)
        except TypeError:
            raise ValueError(
                f"cannot compare {ast.unparse(left)} with {ast.unparse(right)}: "
                "text and numbers do not mix"
            ) from None
        result &= (
            _holds(compared)
            if isinstance(compared, pd.Series)
            else np.asarray(compared, dtype=bool)
        )
    return result


def _holds(values: pd.Series) -> np.ndarray:
    """Per row, whether ``values`` is true; a missing value is false. Only the known values
    are cast: filling the missing ones with False first would put a bool in a text or float
    column, which pandas is deprecating."""
    missing = values.isna().to_numpy()
    if not missing.any():
        return values.astype(bool).to_numpy()
    held = np.zeros(len(values), dtype=bool)
    held[~missing] = values[~missing].astype(bool).to_numpy()
    return held


def _operand(node: ast.AST, frame: pd.DataFrame, aliases: dict[str, str]):
    if isinstance(node, ast.Name):
        return _column(frame, node, aliases)
    return literal(node)


def _column(frame: pd.DataFrame, node: ast.Name, aliases: dict[str, str]) -> pd.Series:
    return frame[aliases.get(node.id, node.id)]
