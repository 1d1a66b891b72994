"""The action and tag-event log: every change is an action whose tag events are
appended, the current state follows them, and an undo appends the inverse events."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd

from .files import _guarded


class TagLog:
    """The log methods of :class:`~erroranalysis.store.project.Project`."""

    def _action(
        self,
        conn: sqlite3.Connection,
        dataset_id: int | None,
        kind: str,
        actor: str,
        stamp: str,
        *,
        undoes: int | None = None,
        detail: dict | None = None,
    ) -> int:
        return conn.execute(
            "INSERT INTO actions (dataset_id, kind, actor, at, undoes, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (dataset_id, kind, actor, stamp, undoes, json.dumps(self._via(detail))),
        ).lastrowid

    def _via(self, detail: dict | None) -> dict:
        """An action's detail, with where it came from when the project says
        (:attr:`Project.via`)."""
        return {**(detail or {}), **({"via": self.via} if self.via else {})}

    def _apply(
        self,
        conn: sqlite3.Connection,
        action_id: int,
        dataset_id: int,
        example_id: str,
        tag_id: int,
        op: str,
        actor: str,
        stamp: str,
    ) -> bool:
        """Append one event and update the current state; False if it changed nothing."""
        if op == "add":
            changed = conn.execute(
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
                f" VALUES (?, ?, ?, ?, ?){self._take_over()}",
                (dataset_id, example_id, tag_id, actor, stamp),
            ).rowcount
        else:
            changed = conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND example_id = ?"
                f" AND tag_id = ? AND {self._present('a')}",
                (dataset_id, example_id, tag_id),
            ).rowcount
        if changed:
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (action_id, dataset_id, example_id, tag_id, op, actor, stamp),
            )
        return bool(changed)

    @_guarded
    def tag_events(self) -> pd.DataFrame:
        """The event log of every dataset, oldest first: id, action_id, dataset,
        example_id, tag, op, actor, at."""
        return self._tag_events(None)

    def _tag_events(self, dataset_id: int | None) -> pd.DataFrame:
        sql = (
            "SELECT tag_events.id, action_id, datasets.name AS dataset, example_id,"
            " tags.name AS tag, op, actor, at FROM tag_events"
            " JOIN tags ON tags.id = tag_id JOIN datasets ON datasets.id = dataset_id"
        )
        sql += f" WHERE {self._not_pending('action_id')}"
        params: tuple = ()
        if dataset_id is not None:
            sql += " AND dataset_id = ?"
            params = (dataset_id,)
        return self._query(sql + " ORDER BY tag_events.id", params)

    @_guarded
    def actions(self, *, limit: int | None = 100) -> pd.DataFrame:
        """The newest actions of the whole project (who did what, when), newest first;
        ``limit=None``: every action."""
        return self._actions(None, limit=limit)

    def _actions(self, dataset_id: int | None, *, limit: int | None) -> pd.DataFrame:
        sql = (
            "SELECT actions.id, datasets.name AS dataset, kind, actor, at, undoes, detail"
            f" FROM actions LEFT JOIN datasets ON datasets.id = dataset_id"
            f" WHERE {self._not_pending('actions.id')}"
        )
        params: tuple = ()
        if dataset_id is not None:
            sql += " AND (dataset_id = ? OR dataset_id IS NULL)"
            params = (dataset_id,)
        # SQLite reads a negative LIMIT as no limit.
        rows = -1 if limit is None else int(limit)
        return self._query(sql + " ORDER BY actions.id DESC LIMIT ?", (*params, rows))

    def _invert_events(
        self,
        conn: sqlite3.Connection,
        target: int,
        undo: int,
        dataset_id: int,
        actor: str,
        stamp: str,
    ) -> None:
        """Append, under action ``undo``, the inverse of the events ``target`` logged in
        dataset ``dataset_id`` (a tag action's events span datasets: one call each)."""
        repeated = conn.execute(
            "SELECT 1 FROM tag_events WHERE action_id = ? AND dataset_id = ?"
            " GROUP BY example_id, tag_id HAVING count(*) > 1 LIMIT 1",
            (target, dataset_id),
        ).fetchone()
        if repeated:
            # An action that changed one (example, tag) twice (written by older versions):
            # invert event by event, newest first.
            events = conn.execute(
                "SELECT example_id, tag_id, op FROM tag_events WHERE action_id = ?"
                " AND dataset_id = ? ORDER BY id DESC",
                (target, dataset_id),
            ).fetchall()
            for example_id, tag_id, op in events:
                inverse = "remove" if op == "add" else "add"
                self._apply(conn, undo, dataset_id, example_id, tag_id, inverse, actor, stamp)
            return
        # Each pair changed once: what it added and is still there goes, what it removed and
        # is still missing comes back, and the state follows the events just logged.
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, e.example_id, e.tag_id, 'remove', ?, ? FROM tag_events e"
            " WHERE e.action_id = ? AND e.dataset_id = ? AND e.op = 'add'"
            " AND EXISTS (SELECT 1 FROM tag_assignments a"
            " WHERE a.dataset_id = ? AND a.example_id = e.example_id AND a.tag_id = e.tag_id"
            f" AND {self._present('a')}) ORDER BY e.id DESC",
            (undo, dataset_id, actor, stamp, target, dataset_id, dataset_id),
        )
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, e.example_id, e.tag_id, 'add', ?, ? FROM tag_events e"
            " WHERE e.action_id = ? AND e.dataset_id = ? AND e.op = 'remove' AND NOT EXISTS"
            " (SELECT 1 FROM"
            " tag_assignments a WHERE a.dataset_id = ? AND a.example_id = e.example_id"
            f" AND a.tag_id = e.tag_id AND {self._present('a')}) ORDER BY e.id DESC",
            (undo, dataset_id, actor, stamp, target, dataset_id, dataset_id),
        )
        self._follow_events(conn, undo, dataset_id)

    def _follow_events(
        self, conn: sqlite3.Connection, action: int, dataset_id: int, *, removals: bool = True
    ) -> None:
        """Make ``tag_assignments`` follow the events ``action`` logged (each pair at most
        once, each event a real change); ``removals=False`` when it logged only adds."""
        if removals:
            conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND (example_id, tag_id)"
                " IN (SELECT example_id, tag_id FROM tag_events WHERE action_id = ?"
                f" AND op = 'remove') AND {self._present('a')}",
                (dataset_id, action),
            )
        conn.execute(
            "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
            " SELECT dataset_id, example_id, tag_id, actor, at FROM tag_events"
            " WHERE action_id = ? AND op = 'add' ORDER BY action_id, op, example_id, tag_id"
            f"{self._take_over()}",
            (action,),
        )
