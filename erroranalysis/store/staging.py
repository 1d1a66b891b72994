"""Recording reviews, and staging a big review import under a pending action so that
it appears all at once while reviewers keep writing (see the package docstring)."""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from ..errors import ProjectBusy, StoreError
from ..vocabulary import check_tag_name
from .common import RunInfo, now
from .files import _pid_alive

# Reviews per staging transaction: each holds the write lock for a few tens of
# milliseconds, so a reviewer's click gets in between two of them.
STAGE_ROWS = 10_000
# A stage whose process is gone (or silent this long) is removed by the next writer.
STAGE_ABANDONED_AFTER = timedelta(minutes=10)

_INSERT_REVIEW = (
    "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum,"
    " note, label_wrong, corrected_label, queue) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# Tag pairs of a review import, staged in this connection's TEMP schema: private to the
# connection, no write lock on the project, gone with the process if it dies.
_STAGING_TABLES = (
    "CREATE TEMP TABLE IF NOT EXISTS staged_tags (example_id TEXT NOT NULL,"
    " tag_ix INTEGER NOT NULL, reviewer TEXT NOT NULL, PRIMARY KEY (example_id, tag_ix))"
    " WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS staged_tag_ids (ix INTEGER PRIMARY KEY,"
    " tag_id INTEGER NOT NULL)",
    "CREATE TEMP TABLE IF NOT EXISTS staged_examples (example_id TEXT PRIMARY KEY,"
    " reviewer TEXT NOT NULL) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS gone_ids (id TEXT PRIMARY KEY) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS changed_pairs (example_id TEXT NOT NULL,"
    " tag_id INTEGER NOT NULL, PRIMARY KEY (example_id, tag_id)) WITHOUT ROWID",
    "CREATE TEMP TABLE IF NOT EXISTS staged_actions (reviewer TEXT PRIMARY KEY,"
    " action_id INTEGER NOT NULL) WITHOUT ROWID",
)
# The action of a tag event of a review import: its reviewer's own action where the import
# is one action per reviewer (``temp.staged_actions``), else the import's one action (the
# parameter). ``{}`` is the column holding the event's reviewer.
_EVENT_ACTION = "coalesce((SELECT r.action_id FROM temp.staged_actions r WHERE r.reviewer = {}), ?)"
# Every action of a review import whose first action is the parameter.
_IMPORT_ACTIONS = "(SELECT action_id FROM temp.staged_actions UNION SELECT ?)"


# The ids and correctness of each run, shared by every Project of the process: a run is
# immutable once imported, and rebuilding a 1M-id hash table on each tag write would cost
# half a second. Keyed on (file, run id, import stamp), so a re-import is never served stale.


@dataclass(frozen=True)
class _TagPlan:
    """The tags of a review import, staged in this connection's TEMP tables."""

    names: list[str]  # distinct tag names; position = ``tag_ix`` in ``temp.staged_tags``
    pairs: int  # (example, tag) pairs the import wants present
    ranges: list[tuple[str | None, str | None]]  # staging ranges of example ids


@dataclass(frozen=True)
class _Stage:
    """A review import being staged under pending actions (``action`` the first, one per
    reviewer where the import is split by reviewer)."""

    action: int
    dataset_id: int
    actions: tuple[int, ...]


def _values(frame: pd.DataFrame, column: str, n: int) -> list:
    """A column as plain Python values (None where missing, or for a missing column)."""
    if column not in frame.columns:
        return [None] * n
    series = frame[column]
    missing = series.isna().to_numpy()
    return [None if m else v for v, m in zip(series.astype(object).tolist(), missing, strict=True)]


class ReviewStaging:
    """The review methods of :class:`~erroranalysis.store.project.Project`."""

    def _stage_ids(self, table: str, ids: pd.Index) -> None:
        """Fill a TEMP table of this connection: outside a write transaction this takes no
        lock on the project; inside one it is part of it."""
        self._create_staging_tables()
        with self._temp_transaction():
            self._conn.execute(f"DELETE FROM temp.{table}")
            self._conn.executemany(
                f"INSERT OR IGNORE INTO temp.{table} VALUES (?)", ((i,) for i in ids)
            )

    @contextmanager
    def _temp_transaction(self) -> Iterator[None]:
        """One transaction around writes to TEMP tables (or none, inside a write)."""
        if self._conn.in_transaction:
            yield
            return
        self._conn.execute("BEGIN")
        try:
            yield
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def _create_staging_tables(self) -> None:
        for statement in _STAGING_TABLES:
            self._conn.execute(statement)

    def _stage_review_tags(
        self,
        ids: list[str],
        reviewers: list[str],
        tags: Sequence[Sequence[str]] | None,
        *,
        exact: bool,
    ) -> _TagPlan | None:
        """Check the tags of a review import and stage what it wants in TEMP tables:
        ``staged_tags`` the (example, tag) pairs to be present, ``staged_examples`` (with
        ``exact``) the examples whose other tags go."""
        if tags is None:
            return None
        checked: dict[str, str] = {}
        for row in tags:
            for raw in row:
                if raw not in checked:
                    checked[raw] = check_tag_name(raw)
        frame = pd.DataFrame({"example_id": ids, "reviewer": reviewers})
        if exact:  # an example listed twice ends with the tags of its last row
            last = ~frame["example_id"].duplicated(keep="last").to_numpy()
        else:
            last = np.ones(len(frame), dtype=bool)
        lengths = np.fromiter((len(row) for row in tags), dtype=np.int64, count=len(tags))
        rows = np.repeat(np.arange(len(frame)), lengths)
        names = [checked[raw] for row in tags for raw in row]
        pairs = pd.DataFrame(
            {"row": rows, "example_id": frame["example_id"].to_numpy()[rows], "tag": names}
        )
        # Every row's tags are mapped (each row's reviewer decided them), also the tags of
        # rows that a later row of their example overrides.
        distinct = sorted(set(pairs["tag"]))
        pairs = pairs[last[rows]].drop_duplicates(["example_id", "tag"], keep="first")
        pairs = pairs.assign(
            tag_ix=pd.Categorical(pairs["tag"], categories=distinct).codes.astype(np.int64),
            reviewer=frame["reviewer"].to_numpy()[pairs["row"].to_numpy()],
        ).sort_values(["example_id", "tag_ix"])
        chosen = frame[last].sort_values("example_id") if exact else None
        self._create_staging_tables()
        with self._temp_transaction():  # TEMP tables only: no lock on the project
            for table in ("staged_tags", "staged_examples"):
                self._conn.execute(f"DELETE FROM temp.{table}")
            self._conn.executemany(
                "INSERT INTO temp.staged_tags VALUES (?, ?, ?)",
                zip(
                    pairs["example_id"].tolist(),
                    pairs["tag_ix"].tolist(),
                    pairs["reviewer"].tolist(),
                    strict=True,
                ),
            )
            if chosen is not None:
                self._conn.executemany(
                    "INSERT INTO temp.staged_examples VALUES (?, ?) ON CONFLICT DO NOTHING",
                    zip(chosen["example_id"].tolist(), chosen["reviewer"].tolist(), strict=True),
                )
        # Staging ranges of whole examples (so an example's removals and additions are
        # decided together), about STAGE_ROWS pairs or examples each.
        keys = (chosen if chosen is not None else pairs)["example_id"].drop_duplicates().tolist()
        step = max(
            1, STAGE_ROWS if chosen is not None else STAGE_ROWS * len(keys) // max(1, len(pairs))
        )
        bounds = keys[step::step]
        ranges = list(zip([None, *bounds], [*bounds, None], strict=True))
        return _TagPlan(names=distinct, pairs=len(pairs), ranges=ranges)

    def _map_review_tags(
        self,
        conn: sqlite3.Connection,
        plan: _TagPlan,
        actor: str,
        stamp: str,
        *,
        hidden: bool,
        dataset_id: int,
    ) -> None:
        """Fill ``temp.staged_tag_ids`` with the id of each staged tag name. ``hidden``
        makes a missing tag as deleted, to come back when the import completes. A tag that
        belongs to other datasets than ``dataset_id`` raises :class:`StoreError`."""
        ids = []
        for name in plan.names:
            if not hidden:
                ids.append(self._tag_id(conn, name, actor, stamp, create=True))
                continue
            row = conn.execute("SELECT id, deleted_at FROM tags WHERE name = ?", (name,)).fetchone()
            if row is None:
                row = (
                    conn.execute(
                        "INSERT INTO tags (name, created_at, created_by, deleted_at)"
                        " VALUES (?, ?, ?, ?)",
                        (name, stamp, actor, stamp),
                    ).lastrowid,
                    stamp,
                )
            ids.append(row[0])
        self._check_in_scope(conn, ids, dataset_id)
        conn.execute("DELETE FROM temp.staged_tag_ids")
        conn.executemany("INSERT INTO temp.staged_tag_ids VALUES (?, ?)", list(enumerate(ids)))

    def _review_tag_events(
        self,
        conn: sqlite3.Connection,
        action: int,
        dataset_id: int,
        stamp: str,
        *,
        exact: bool,
        lo: str | None = None,
        hi: str | None = None,
        stage: bool = False,
    ) -> None:
        """Log, for the staged examples in [lo, hi), the events that bring the current
        state to what the import wants (``staged_tags``; with ``exact`` nothing else).
        With ``stage``, also write the assignments they add, marked pending."""

        def within(column: str) -> tuple[str, tuple]:
            sql, params = "", ()
            if lo is not None:
                sql, params = f" AND {column} >= ?", (lo,)
            if hi is not None:
                sql, params = sql + f" AND {column} < ?", (*params, hi)
            return sql, params

        if exact:
            where, params = within("e.example_id")
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                f" SELECT {_EVENT_ACTION.format('e.reviewer')}, a.dataset_id, a.example_id,"
                " a.tag_id, 'remove', e.reviewer, ?"
                " FROM temp.staged_examples e JOIN tag_assignments a"
                " ON a.dataset_id = ? AND a.example_id = e.example_id"
                " WHERE NOT EXISTS (SELECT 1 FROM temp.staged_tags s"
                " JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
                " WHERE s.example_id = a.example_id AND m.tag_id = a.tag_id)"
                f" AND {self._present('a')}{where}"
                " ORDER BY a.example_id, a.tag_id",
                (action, stamp, dataset_id, *params),
            )
        where, params = within("s.example_id")
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            f" SELECT {_EVENT_ACTION.format('s.reviewer')}, ?, s.example_id, m.tag_id, 'add',"
            " s.reviewer, ? FROM temp.staged_tags s JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
            " WHERE NOT EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
            " AND a.example_id = s.example_id AND a.tag_id = m.tag_id"
            f" AND {self._present('a')}){where} ORDER BY s.example_id, s.tag_ix",
            (action, dataset_id, stamp, dataset_id, *params),
        )
        if stage:
            # No other row can hold these keys: one import per dataset is staged at a
            # time, and each pair is added once and had no row that counts.
            where, params = within("example_id")
            conn.execute(
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at, pending)"
                " SELECT dataset_id, example_id, tag_id, actor, at, action_id FROM tag_events"
                f" WHERE action_id IN {_IMPORT_ACTIONS} AND op = 'add'{where}"
                " ORDER BY action_id, op, example_id, tag_id",
                (action, *params),
            )

    def _settle_review_tags(
        self, conn: sqlite3.Connection, stage: _Stage, stamp: str, *, exact: bool
    ) -> None:
        """Complete a staged import's tags in its final transaction.

        Its events and assignments were decided against the state of their staging
        transaction. A pair that another action changed since (one committed after the
        stage began: one import per dataset is staged at a time) is decided again: its
        staged event goes (no reader has seen it) and, if the state differs from what the
        import wants, a new event is appended after the other action's. Every other staged
        event is still a real change at its place in the log, and its assignment counts as
        soon as the pending mark goes. Work in proportion to the changed pairs only (and,
        with ``exact``, to the tags removed).
        """
        tag_ids = [r[0] for r in conn.execute("SELECT tag_id FROM temp.staged_tag_ids")]
        for tag_id in tag_ids:  # made hidden, or deleted meanwhile: the import brings it back
            name, deleted = conn.execute(
                "SELECT name, deleted_at FROM tags WHERE id = ?", (tag_id,)
            ).fetchone()
            if deleted is not None:
                self._count_new_tag(conn, name)
                conn.execute("UPDATE tags SET deleted_at = NULL WHERE id = ?", (tag_id,))
                self._unplace(conn, tag_id)
                self._touch("taxonomy")
        present = self._present("a")
        conn.execute("DELETE FROM temp.changed_pairs")
        conn.execute(
            "INSERT OR IGNORE INTO temp.changed_pairs SELECT example_id, tag_id FROM tag_events"
            " WHERE dataset_id = ? AND action_id IN (SELECT id FROM actions WHERE id > ?"
            f" AND {self._not_pending('id')})",
            (stage.dataset_id, stage.action),
        )
        conn.execute(
            f"DELETE FROM tag_events WHERE action_id IN {_IMPORT_ACTIONS}"
            " AND op IN ('add', 'remove')"
            " AND (example_id, tag_id) IN (SELECT example_id, tag_id FROM temp.changed_pairs)",
            (stage.action,),
        )
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            f" SELECT {_EVENT_ACTION.format('s.reviewer')}, ?, c.example_id, c.tag_id, 'add',"
            " s.reviewer, ?"
            # CROSS JOIN keeps SQLite reading from the few changed pairs, not the import.
            " FROM temp.changed_pairs c CROSS JOIN temp.staged_tag_ids m ON m.tag_id = c.tag_id"
            " CROSS JOIN temp.staged_tags s ON s.example_id = c.example_id AND s.tag_ix = m.ix"
            " WHERE NOT EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
            f" AND a.example_id = c.example_id AND a.tag_id = c.tag_id AND {present})"
            " ORDER BY c.example_id, c.tag_id",
            (stage.action, stage.dataset_id, stamp, stage.dataset_id),
        )
        # Their assignments: new rows, or the import's own staged row made to count now.
        conn.execute(
            "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
            " SELECT dataset_id, example_id, tag_id, actor, at FROM tag_events"
            f" WHERE action_id IN {_IMPORT_ACTIONS} AND op = 'add' AND (example_id, tag_id) IN"
            " (SELECT example_id, tag_id FROM temp.changed_pairs)"
            f" ORDER BY action_id, op, example_id, tag_id{self._take_over()}",
            (stage.action,),
        )
        if exact:
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                f" SELECT {_EVENT_ACTION.format('e.reviewer')}, ?, c.example_id, c.tag_id,"
                " 'remove', e.reviewer, ?"
                " FROM temp.changed_pairs c CROSS JOIN temp.staged_examples e"
                " ON e.example_id = c.example_id"
                " WHERE NOT EXISTS (SELECT 1 FROM temp.staged_tags s"
                " JOIN temp.staged_tag_ids m ON m.ix = s.tag_ix"
                " WHERE s.example_id = c.example_id AND m.tag_id = c.tag_id)"
                " AND EXISTS (SELECT 1 FROM tag_assignments a WHERE a.dataset_id = ?"
                f" AND a.example_id = c.example_id AND a.tag_id = c.tag_id AND {present})"
                " ORDER BY c.example_id, c.tag_id",
                (stage.action, stage.dataset_id, stamp, stage.dataset_id),
            )
            conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND (example_id, tag_id)"
                " IN (SELECT example_id, tag_id FROM tag_events"
                f" WHERE action_id IN {_IMPORT_ACTIONS} AND op = 'remove') AND {present}",
                (stage.dataset_id, stage.action),
            )

    def _check_run_unchanged(self, conn: sqlite3.Connection, dataset: str, info: RunInfo) -> None:
        row = conn.execute("SELECT imported_at FROM runs WHERE id = ?", (info.id,)).fetchone()
        if row is None or row[0] != info.imported_at:
            raise StoreError(
                f"run {info.name!r} of dataset {dataset!r} was re-imported while the reviews "
                "were being recorded; nothing was recorded, run the import again"
            )

    def _import_actions(
        self,
        conn: sqlite3.Connection,
        dataset_id: int,
        kind: str,
        actors: dict[str, int],
        stamp: str,
        detail: dict,
        *,
        split: bool,
        pending: bool,
    ) -> dict[str, int]:
        """Log the actions of a review import: one per actor of ``actors`` (actor -> how
        many of the reviews are theirs, detail ``reviews``), in that order, and with
        ``split`` fill ``temp.staged_actions`` so that each reviewer's tag events go to
        their own action; with ``pending``, every action is listed as pending."""
        self._create_staging_tables()
        conn.execute("DELETE FROM temp.staged_actions")
        actions = {
            actor: self._action(
                conn, dataset_id, kind, actor, stamp, detail={**detail, "reviews": n}
            )
            for actor, n in actors.items()
        }
        if split:
            conn.executemany("INSERT INTO temp.staged_actions VALUES (?, ?)", actions.items())
        if pending:
            conn.executemany(
                "INSERT INTO pending_actions (action_id, pid, host, started_at, touched_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(a, os.getpid(), socket.gethostname(), stamp, stamp) for a in actions.values()],
            )
        return actions

    def _begin_stage(
        self,
        dataset: str,
        info: RunInfo,
        kind: str,
        actors: dict[str, int],
        stamp: str,
        detail: dict,
        plan: _TagPlan | None,
        *,
        split: bool,
    ) -> tuple[_Stage, dict[str, int]]:
        self._discard_abandoned_stages()
        with self.write() as conn:
            self._check_run_unchanged(conn, dataset, info)
            dataset_id = self._dataset_id(dataset)
            other = conn.execute(
                "SELECT p.pid FROM pending_actions p JOIN actions ON actions.id = p.action_id"
                " WHERE actions.dataset_id = ?",
                (dataset_id,),
            ).fetchone()
            if other is not None:
                raise ProjectBusy(
                    f"another review import into dataset {dataset!r} is being recorded "
                    f"(process {other[0]}); nothing was changed, try again when it has "
                    "finished",
                    path=self.path,
                )
            actions = self._import_actions(
                conn, dataset_id, kind, actors, stamp, detail, split=split, pending=True
            )
            first = next(iter(actions))
            if plan is not None:
                self._map_review_tags(conn, plan, first, stamp, hidden=True, dataset_id=dataset_id)
        ids = tuple(actions.values())
        return _Stage(ids[0], dataset_id, ids), actions

    def _staged_write(self, stage: _Stage, write: Callable[[sqlite3.Connection], object]) -> None:
        """One short transaction of a staged import (under its pending action)."""
        started = time.perf_counter()
        with self.write() as conn:
            marks = ",".join("?" * len(stage.actions))
            touched = conn.execute(
                f"UPDATE pending_actions SET touched_at = ? WHERE action_id IN ({marks})",
                (now(), *stage.actions),
            ).rowcount
            if touched != len(stage.actions):
                raise StoreError(
                    "the review import was discarded by another process while it was being "
                    "written (it looked abandoned); nothing was recorded, run it again"
                )
            write(conn)
        # Leave the lock free for about as long as it was held (at least a few of a waiting
        # writer's tries, see _begin_immediate), so a reviewer's write gets its turn.
        time.sleep(min(max(time.perf_counter() - started, 0.01), 0.05))

    def _check_stage_complete(self, conn: sqlite3.Connection, stage: _Stage, n: int) -> None:
        marks = ",".join("?" * len(stage.actions))
        pending = conn.execute(
            f"SELECT count(*) FROM pending_actions WHERE action_id IN ({marks})", stage.actions
        ).fetchone()[0]
        staged = conn.execute(
            f"SELECT count(*) FROM reviews WHERE action_id IN ({marks})", stage.actions
        ).fetchone()[0]
        if pending != len(stage.actions) or staged != n:
            raise StoreError(
                "the review import was discarded by another process while it was being "
                "written (it looked abandoned); nothing was recorded, run it again"
            )

    def _discard_stage(self, action: int) -> None:
        """Remove the rows of a review import that never completed, in short transactions;
        never touches an action that has completed (its pending mark is gone). Best
        effort: if the file is busy or failing, the next writer removes them."""
        with suppress(StoreError, sqlite3.Error):
            self._discard_stage_rows(action)

    def _discard_stage_rows(self, action: int) -> None:
        still_pending = "EXISTS (SELECT 1 FROM pending_actions WHERE action_id = ?)"
        # Reviews first: a live import checks their count before it completes.
        while True:
            with self.write() as conn:
                deleted = conn.execute(
                    "DELETE FROM reviews WHERE id IN (SELECT id FROM reviews"
                    f" WHERE action_id = ? AND {still_pending} LIMIT ?)",
                    (action, action, STAGE_ROWS),
                ).rowcount
            if not deleted:
                break
        # Then events with the staged assignments they made (those another writer took
        # over since have lost their pending mark and stay).
        first = (
            "SELECT {} FROM tag_events WHERE action_id = ? AND {} ORDER BY action_id, op,"
            " example_id, tag_id LIMIT ?"
        )
        while True:
            with self.write() as conn:
                conn.execute(
                    "DELETE FROM tag_assignments WHERE pending = ? AND (dataset_id, example_id,"
                    f" tag_id) IN ({first.format('dataset_id, example_id, tag_id', still_pending)})",
                    (action, action, action, STAGE_ROWS),
                )
                deleted = conn.execute(
                    f"DELETE FROM tag_events WHERE id IN ({first.format('id', still_pending)})",
                    (action, action, STAGE_ROWS),
                ).rowcount
            if not deleted:
                break
        with self.write() as conn:
            if conn.execute("DELETE FROM pending_actions WHERE action_id = ?", (action,)).rowcount:
                conn.execute("DELETE FROM actions WHERE id = ?", (action,))

    def _discard_abandoned_stages(self) -> None:
        stages = self._conn.execute(
            "SELECT action_id, pid, host, touched_at FROM pending_actions"
        ).fetchall()
        host = socket.gethostname()
        for action, pid, stage_host, touched_at in stages:
            silent = datetime.now(UTC) - datetime.fromisoformat(touched_at)
            if (stage_host == host and not _pid_alive(pid)) or silent > STAGE_ABANDONED_AFTER:
                self._discard_stage(action)
