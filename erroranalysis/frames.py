"""The check every function that takes a table starts with: it is a DataFrame and holds
the columns the function reads, each failure a ValueError naming the table. One wording,
whichever function it guards. Imports pandas only when called, so light modules (the
exports the command line reaches first) may import it at their top."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["check_frame"]


def check_frame(frame: object, name: str, columns: Iterable[str] = ()) -> pd.DataFrame:
    """``frame``, once it is a DataFrame with every one of ``columns``; otherwise a
    ValueError saying what ``name`` is or lacks. Never modifies the frame."""
    import pandas as pd

    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} has no {missing} columns")
    return frame
