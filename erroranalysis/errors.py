"""The failures a user can act on, in one hierarchy so every shell reports them the same way.

The CLI prints an :class:`ExpectedError` as one message and exits with 1; the app shows it
as a message on the page. Anything else is a defect and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["ExpectedError", "InvalidName", "StoreError"]


class ExpectedError(ValueError):
    """A failure the user can act on: its message says what is wrong, and nothing was
    changed."""


class StoreError(ExpectedError):
    """A request the project cannot carry out (unknown dataset, bad tag name, ...)."""


class InvalidName(StoreError):
    """A name (dataset, run, tag, reviewer) that breaks the rules of
    :func:`erroranalysis.vocabulary.check_name`."""
