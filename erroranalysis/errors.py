"""The failures a user can act on, in one hierarchy so every shell reports them the same way.

The CLI prints an :class:`ExpectedError` as one message and exits with 1; the app shows it
as a message on the page. Anything else is a defect and keeps its traceback.
"""

from __future__ import annotations

__all__ = [
    "ExpectedError",
    "InvalidName",
    "NotPermitted",
    "ProjectBusy",
    "ProjectFileError",
    "StoreError",
]


class ExpectedError(ValueError):
    """A failure the user can act on: its message says what is wrong, and nothing was
    changed."""


class StoreError(ExpectedError):
    """A request the project cannot carry out (unknown dataset, bad tag name, ...)."""


class InvalidName(StoreError):
    """A name (dataset, run, tag, reviewer) that breaks the rules of
    :func:`erroranalysis.vocabulary.check_name`."""


class NotPermitted(StoreError):
    """A write by someone whose role in the project does not allow it (see
    :mod:`erroranalysis.store.team`); nothing was changed."""


class ProjectFileError(StoreError):
    """A file that cannot be opened as a project (a folder, a missing folder, not SQLite,
    another application's database, truncated or damaged, from a newer version), or an
    open project file that failed (replaced, damaged, disk error). ``path`` names the file.

    A file refused when opening is left byte-for-byte as it was, with no side file made.
    """

    def __init__(self, message: str, *, path: object = None) -> None:
        super().__init__(message)
        self.path = path


class ProjectBusy(StoreError):
    """Another change held the project's write lock for longer than the busy timeout.
    Nothing was changed; the same request can simply be tried again."""

    def __init__(
        self,
        message: str = (
            "the project file is busy: another change is being written; "
            "nothing was changed, try again"
        ),
        *,
        path: object = None,
    ) -> None:
        super().__init__(message)
        self.path = path
