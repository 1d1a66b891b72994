"""The project store: one SQLite file holds a whole error-analysis project.

What lives in the file
----------------------
``datasets``        a named set of examples (a dev set, a production sample, ...).
``runs``            one model's predictions on a dataset; a dataset may have several runs
                    (model versions) of the same examples. Each run keeps its validated
                    example frame as a Parquet blob: runs are immutable snapshots, and
                    reading 1M rows back from Parquet takes ~0.1 s where rebuilding them
                    from SQL rows takes seconds.
``tags``            the project's tag taxonomy (name, description, HLP, effort, rule),
                    shared by all datasets so the same taxonomy serves every model version.
``actions``         one row per user action (tag toggle, review, import, undo, rename, ...):
                    who, when, what it undoes.
``tag_events``      the append-only log of every tag change (example, tag, add/remove).
``tag_assignments`` the current state, maintained in the same transaction as the log and
                    always equal to a replay of it (:meth:`DatasetStore.replay_tags`).
``reviews``         who reviewed which example of which run, when, in which stratum.
``pending_actions`` big review imports being staged (see below); empty at rest.
                    A tag assignment whose ``pending`` action is listed here does not count
                    yet.
``run_examples``    each run's examples as rows (id, label and prediction as codes of
                    the run's ``run_classes``, correct, confidence) and ``run_tags`` the
                    dataset tags they came with, written with the run (up to
                    ``SQL_ROWS_LIMIT`` examples; ``runs.sql_rows`` says whether they
                    are there), for the views a user queries in plain SQL
                    (``examples``, ``tagged_examples``, ``review_log``, ``runs_summary``;
                    see :mod:`.examples`).

Recognising a project file
--------------------------
Every project file carries :data:`APPLICATION_ID` in its SQLite header (``PRAGMA
application_id``) and its schema version (``PRAGMA user_version``). Before SQLite is
allowed to touch a file, :func:`check_project_file` reads its first 100 bytes and refuses
anything that is not one of ours — a folder, a text file, another application's database,
a truncated copy, a file from a newer version — with :class:`ProjectFileError`, leaving it
byte-for-byte as it was and making no ``-wal``/``-shm``/``-journal`` file. Files of
schema 1–2 predate the mark and are recognised by their tables; opening one for writing
stamps it. A new file is built under a temporary name and linked into place complete, so
no process ever sees a half-made project.

Concurrency
-----------
WAL, a busy timeout, and ``BEGIN IMMEDIATE`` around every read-then-write, so several
reviewers (threads or processes) never lose each other's changes; every public write is
one transaction (a big review import several, which readers see as one). When the lock stays taken past the busy timeout, :class:`ProjectBusy`
says so and nothing was changed. Long imports prepare everything outside the lock —
validation, id lookups, Parquet encoding, rows — and hold it only briefly: a review import
of many rows writes its reviews, tag events and tag assignments in short transactions under
an action listed in ``pending_actions``, which no reader counts; one short transaction then
re-decides the few tags other reviewers changed meanwhile and removes the pending mark, so
the import appears all at once or not at all. One such import per dataset runs at a time.
Rows of an import whose process died are removed by the next process that opens the file
for writing.

A :class:`Project` holds one connection and must stay on the thread that opened it; open
one per thread, session or process.
"""

from ..errors import ProjectBusy, ProjectFileError, StoreError
from .common import RunInfo, check_actor
from .dataset import DatasetStore
from .files import check_project_file
from .project import Project, open_project
from .schema import APPLICATION_ID, SCHEMA_VERSION
from .tags import applies_to, shortcut_order

__all__ = [
    "APPLICATION_ID",
    "DatasetStore",
    "SCHEMA_VERSION",
    "Project",
    "ProjectBusy",
    "ProjectFileError",
    "RunInfo",
    "StoreError",
    "applies_to",
    "check_actor",
    "check_project_file",
    "open_project",
    "shortcut_order",
]
