"""The project's tag taxonomy: defining, renaming, merging and deleting tags."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

import pandas as pd

from ..errors import StoreError
from ..vocabulary import MAX_TAGS, check_tag_name
from .common import check_actor, now
from .files import _guarded


class Taxonomy:
    """The tag methods of :class:`~erroranalysis.store.project.Project`."""

    def _tag_id(
        self, conn: sqlite3.Connection, name: str, actor: str, stamp: str, *, create: bool
    ) -> int:
        name = check_tag_name(name)
        row = conn.execute("SELECT id, deleted_at FROM tags WHERE name = ?", (name,)).fetchone()
        if row is not None and row[1] is None:
            return row[0]
        if not create:
            raise StoreError(f"no tag named {name!r}")
        self._count_new_tag(conn, name)
        if row is not None:  # a deleted tag of that name comes back
            conn.execute("UPDATE tags SET deleted_at = NULL WHERE id = ?", (row[0],))
            return row[0]
        return conn.execute(
            "INSERT INTO tags (name, created_at, created_by) VALUES (?, ?, ?)",
            (name, stamp, actor),
        ).lastrowid

    def _count_new_tag(self, conn: sqlite3.Connection, name: str) -> None:
        # However a tag arrives (a click, a review, an import, a definition), the project
        # holds at most MAX_TAGS; the count is read once per transaction.
        if self._active_tags is None:
            self._active_tags = conn.execute(
                "SELECT count(*) FROM tags WHERE deleted_at IS NULL"
            ).fetchone()[0]
        if self._active_tags >= MAX_TAGS:
            raise StoreError(
                f"the project already has {MAX_TAGS} tags, the most it can hold; tag "
                f"{name!r} was not created and nothing was changed (merge or delete tags "
                "first)"
            )
        self._active_tags += 1

    def _tag_exists(self, conn: sqlite3.Connection, name: str) -> bool:
        return (
            conn.execute(
                "SELECT 1 FROM tags WHERE name = ? AND deleted_at IS NULL", (check_tag_name(name),)
            ).fetchone()
            is not None
        )

    @_guarded
    def tag_definitions(self) -> pd.DataFrame:
        """The project's tags: name, description, hlp, effort, rule, created_at, created_by."""
        return self._query(
            "SELECT name AS tag, description, hlp, effort, rule, created_at, created_by"
            " FROM tags WHERE deleted_at IS NULL ORDER BY name"
        )

    @staticmethod
    def _definition_changes(
        name: str,
        *,
        description: str | None,
        hlp: float | None,
        effort: float | None,
        rule: str | None,
        clear: Iterable[str],
    ) -> dict[str, object]:
        if hlp is not None and not 0 <= hlp <= 1:
            raise StoreError(f"HLP of {name!r} must be in [0, 1], got {hlp}")
        if effort is not None and not effort > 0:
            raise StoreError(f"effort of {name!r} must be positive, got {effort}")
        fields = {"description": description, "hlp": hlp, "effort": effort, "rule": rule}
        changes = {k: v for k, v in fields.items() if v is not None}
        for key in clear:
            if key not in ("hlp", "effort", "rule"):
                raise StoreError(f"cannot clear {key!r}")
            changes[key] = None
        return changes

    def _define(
        self,
        conn: sqlite3.Connection,
        name: str,
        changes: dict[str, object],
        actor: str,
        stamp: str,
    ) -> None:
        tag_id = self._tag_id(conn, name, actor, stamp, create=True)
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE tags SET {assignments} WHERE id = ?", (*changes.values(), tag_id))
        self._action(conn, None, "define_tag", actor, stamp, detail={"tag": name, **changes})

    @_guarded
    def define_tag(
        self,
        name: str,
        *,
        actor: str,
        description: str | None = None,
        hlp: float | None = None,
        effort: float | None = None,
        rule: str | None = None,
        clear: Iterable[str] = (),
        new: bool = False,
    ) -> None:
        """Create a tag or update its definition. Fields left None keep their value;
        fields named in ``clear`` are set to NULL (e.g. ``clear=["hlp"]`` to measure HLP).
        With ``new``, a tag of that name must not exist yet (checked in the same
        transaction, so two people creating one name cannot overwrite each other):
        :class:`StoreError`, nothing changed."""
        self._require_writable()
        actor = check_actor(actor)
        changes = self._definition_changes(
            name, description=description, hlp=hlp, effort=effort, rule=rule, clear=clear
        )
        stamp = now()
        with self.write() as conn:
            if (
                new
                and conn.execute(
                    "SELECT 1 FROM tags WHERE name = ? AND deleted_at IS NULL", (name,)
                ).fetchone()
            ):
                raise StoreError(
                    f"a tag named {name!r} exists already; nothing was changed "
                    "(choose another name)"
                )
            self._define(conn, name, changes, actor, stamp)
            self._bump()

    @_guarded
    def define_tags(self, definitions: pd.DataFrame, *, actor: str) -> None:
        """Apply a table of definitions (tag, hlp, effort, description, as read by
        :func:`erroranalysis.importing.read_tag_definitions`): an empty HLP or effort clears it.

        All rows or none: every row is checked first, then the table is applied in one
        transaction.
        """
        self._require_writable()
        actor = check_actor(actor)
        planned = []
        for row in definitions.itertuples(index=False):
            clear = [k for k in ("hlp", "effort") if pd.isna(getattr(row, k))]
            name = check_tag_name(row.tag)
            planned.append(
                (
                    name,
                    self._definition_changes(
                        name,
                        description=row.description or None,
                        hlp=None if "hlp" in clear else float(row.hlp),
                        effort=None if "effort" in clear else float(row.effort),
                        rule=None,
                        clear=clear,
                    ),
                )
            )
        stamp = now()
        with self.write() as conn:
            for name, changes in planned:
                self._define(conn, name, changes, actor, stamp)
            self._bump()

    @_guarded
    def rename_tag(self, old: str, new: str, *, actor: str) -> None:
        """Rename a tag everywhere (assignments follow: they point at the tag's id)."""
        self._require_writable()
        actor = check_actor(actor)
        new = check_tag_name(new)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, old, actor, stamp, create=False)
            clash = conn.execute("SELECT id FROM tags WHERE name = ?", (new,)).fetchone()
            if clash is not None:
                raise StoreError(f"a tag named {new!r} exists already; merge instead")
            conn.execute("UPDATE tags SET name = ? WHERE id = ?", (new, tag_id))
            self._action(conn, None, "rename_tag", actor, stamp, detail={"from": old, "to": new})
            self._bump()

    @_guarded
    def merge_tags(self, source: str, target: str, *, actor: str) -> int:
        """Move every assignment of ``source`` onto ``target`` and delete ``source``.

        Returns the number of examples that changed. Logged as remove/add events, in one
        transaction of a few statements however many examples carry the tag.
        """
        self._require_writable()
        actor = check_actor(actor)
        stamp = now()
        with self.write() as conn:
            src = self._tag_id(conn, source, actor, stamp, create=False)
            dst = self._tag_id(conn, target, actor, stamp, create=False)
            if src == dst:
                raise StoreError("cannot merge a tag into itself")
            action = self._action(
                conn, None, "merge_tags", actor, stamp, detail={"from": source, "to": target}
            )
            present_s, present_d = self._present("s"), self._present("d")
            moved = self._log_removal(conn, src, action, actor, stamp)
            conn.execute(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " SELECT ?, s.dataset_id, s.example_id, ?, 'add', ?, ? FROM tag_assignments s"
                f" WHERE s.tag_id = ? AND {present_s} AND NOT EXISTS (SELECT 1 FROM"
                " tag_assignments d WHERE d.dataset_id = s.dataset_id"
                f" AND d.example_id = s.example_id AND d.tag_id = ? AND {present_d})"
                " ORDER BY s.dataset_id, s.example_id",
                (action, dst, actor, stamp, src, dst),
            )
            # Where dst is there already, the insert changes nothing (the WHERE of the
            # conflict clause is false for a row that counts).
            conn.execute(
                "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
                " SELECT dataset_id, example_id, ?, ?, ? FROM tag_assignments s"
                f" WHERE tag_id = ? AND {present_s}{self._take_over()}",
                (dst, actor, stamp, src),
            )
            self._drop_tag(conn, src, stamp)
            self._bump()
        return moved

    def _log_removal(
        self, conn: sqlite3.Connection, tag_id: int, action: int, actor: str, stamp: str
    ) -> int:
        """Log, under ``action``, a 'remove' event for every example carrying the tag;
        returns how many (the assignments themselves are left for :meth:`_drop_tag`)."""
        return conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, dataset_id, example_id, tag_id, 'remove', ?, ? FROM tag_assignments a"
            f" WHERE tag_id = ? AND {self._present('a')} ORDER BY dataset_id, example_id",
            (action, actor, stamp, tag_id),
        ).rowcount

    def _drop_tag(self, conn: sqlite3.Connection, tag_id: int, stamp: str) -> None:
        """Take the tag off every example and out of the taxonomy (kept, marked deleted,
        so the log still replays)."""
        conn.execute(
            f"DELETE FROM tag_assignments AS a WHERE tag_id = ? AND {self._present('a')}",
            (tag_id,),
        )
        conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, tag_id))

    @_guarded
    def delete_tag(self, name: str, *, actor: str) -> int:
        """Remove a tag from every example (logged) and from the taxonomy."""
        self._require_writable()
        actor = check_actor(actor)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, name, actor, stamp, create=False)
            action = self._action(conn, None, "delete_tag", actor, stamp, detail={"tag": name})
            removed = self._log_removal(conn, tag_id, action, actor, stamp)
            self._drop_tag(conn, tag_id, stamp)
            self._bump()
        return removed
