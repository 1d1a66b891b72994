"""The report of an import: every problem found, each naming its line or row, column and value.

:class:`Problem` is one thing wrong with the input and :class:`ImportValidationError` the
error that lists them all. :class:`Report` collects problems and warnings while a file is
read and checked, and turns frame positions into the file's line or row numbers, so that
each check only says which positions are wrong.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import ExpectedError

MAX_LISTED_PROBLEMS = 50
# Past this many rows with the same problem, one summary problem stands for the rest.
MAX_PROBLEMS_PER_CHECK = 1000

# Shown escaped in messages too: a lone surrogate cannot even be printed.
_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input.

    ``row`` is the 1-based line number in a CSV or JSON Lines file (the header is line 1),
    or the 1-based row of a Parquet file; ``unit`` says which ("line" or "row").
    """

    message: str
    column: str | None = None
    row: int | None = None
    value: str | None = None
    unit: str = "line"

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"{self.unit} {self.row}")
        if self.column is not None:
            where.append(f"column {_show(self.column)}")
        text = self.message if self.value is None else f"value {_show(self.value)} {self.message}"
        return f"{', '.join(where)}: {text}" if where else text


class ImportValidationError(ExpectedError):
    """The input has problems; ``problems`` lists every one, ``str()`` shows them one per line."""

    def __init__(self, problems: Sequence[Problem], *, source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(self._listing())

    def _listing(self) -> str:
        n = len(self.problems)
        head = f"{n} problem{'' if n == 1 else 's'}"
        if self.source:
            head += f" in {self.source}"
        lines = [head + ":"]
        lines += [f"  {p}" for p in self.problems[:MAX_LISTED_PROBLEMS]]
        if n > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {n - MAX_LISTED_PROBLEMS} more")
        return "\n".join(lines)


class Report:
    """Problems and warnings found so far; turns frame positions into line or row numbers."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []
        self.warnings: list[str] = []
        self.unit = "line"
        self.locate: Callable[[np.ndarray], np.ndarray] = lambda positions: positions + 2

    def add(
        self,
        message: str,
        *,
        column: str | None = None,
        row: int | None = None,
        value: str | None = None,
    ) -> None:
        """One problem; ``row`` is a line or row number of the file, not a frame position."""
        self.problems.append(Problem(message, column=column, row=row, value=value, unit=self.unit))

    def at_rows(
        self,
        positions: Sequence[int] | np.ndarray,
        message: str | Callable[[int], str],
        *,
        column: str | None,
        values: Callable[[int], str | None] | None = None,
    ) -> None:
        """One problem per frame position (0-based), capped at MAX_PROBLEMS_PER_CHECK."""
        positions = np.asarray(positions, dtype=np.int64)
        shown = positions[:MAX_PROBLEMS_PER_CHECK]
        rows = self.locate(shown) if len(shown) else shown
        for position, row in zip(shown.tolist(), np.asarray(rows).tolist(), strict=True):
            self.add(
                message(position) if callable(message) else message,
                column=column,
                row=int(row),
                value=None if values is None else values(position),
            )
        self.more(len(positions) - len(shown), column=column)

    def more(self, hidden: int, *, column: str | None = None) -> None:
        """One problem standing for ``hidden`` more of the same kind (none if there are none)."""
        if hidden > 0:
            self.add(f"... and {hidden} more {self.unit}s with the same problem", column=column)

    def mark(self) -> tuple[int, int]:
        """Where the report stands: :meth:`rewind` takes it back there."""
        return len(self.problems), len(self.warnings)

    def rewind(self, mark: tuple[int, int]) -> None:
        """Forget the problems and warnings found since ``mark`` (to check again)."""
        del self.problems[mark[0] :]
        del self.warnings[mark[1] :]

    def error(self, source: str | None) -> ImportValidationError:
        """The error listing every problem found, in the file named ``source``."""
        return ImportValidationError(self.problems, source=source)


def value_text(value: object) -> str:
    """A value of any type as the text a message shows (bytes decoded, never failing)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _show(value: str, limit: int = 80) -> str:
    """A value quoted for a one-line message: control characters escaped, long text cut."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    return "'" + _UNPRINTABLE.sub(_escape, value) + "'"


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
