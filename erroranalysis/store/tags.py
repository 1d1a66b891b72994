"""The project's tag taxonomy: defining, renaming, merging and deleting tags.

The module runs past 600 lines because every change to the taxonomy (define, rename,
merge, delete, scope, order) and its undo keep the same invariants on the tags table and
the log, each in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence

import pandas as pd

from ..errors import StoreError
from ..vocabulary import MAX_TAGS, TAG_PREFIX, check_tag_name
from .common import now
from .files import _guarded
from .team import TEAM_SCHEMA

# What a tag's definition holds, as restored by an undo; a deleted tag also gets back
# who made it and when, and (from schema 6) its place in the shortcut order and its
# datasets.
DEFINITION = ("description", "hlp", "effort", "rule")
ORIGIN = ("created_at", "created_by")
PLACE = ("position",)
# Actions on the taxonomy (logged project-wide, dataset NULL), each undoable when its
# detail holds what the undo needs (under "undo": older versions logged none).
TAG_ACTIONS = (
    "define_tag",
    "define_tags",
    "rename_tag",
    "merge_tags",
    "delete_tag",
    "scope_tag",
    "order_tags",
)
# The schema that brought tag scopes and positions (with roles: a team's project).
SCOPES_SCHEMA = TEAM_SCHEMA
# A deleted tag whose name is taken again keeps its rows under this name: the mark at its
# end (U+200E) is one no tag name may hold, so it never clashes with a live tag.
_SET_ASIDE = "{name} (deleted #{id})\u200e"


def applies_to(datasets: Sequence[str], dataset: str) -> bool:
    """Whether a tag whose scope is ``datasets`` (as in :meth:`Taxonomy.tag_definitions`;
    empty: the whole project) applies to ``dataset``."""
    return not datasets or dataset in datasets


def shortcut_order(definitions: pd.DataFrame) -> pd.DataFrame:
    """Rows of :meth:`Taxonomy.tag_definitions` in shortcut order: the positions the team
    set, then the tags without one, by name."""
    return (
        definitions.assign(_unplaced=definitions["position"].isna())
        .sort_values(["_unplaced", "position", "tag"], kind="stable")
        .drop(columns="_unplaced")
    )


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
        self._touch("taxonomy")
        if row is not None:  # a deleted name is taken again: a new tag, defined anew
            conn.execute(
                "UPDATE tags SET deleted_at = NULL, description = '', hlp = NULL, effort = NULL,"
                " rule = NULL, created_at = ?, created_by = ? WHERE id = ?",
                (stamp, actor, row[0]),
            )
            self._unplace(conn, row[0])
            return row[0]
        return conn.execute(
            "INSERT INTO tags (name, created_at, created_by) VALUES (?, ?, ?)",
            (name, stamp, actor),
        ).lastrowid

    def _unplace(self, conn: sqlite3.Connection, tag_id: int) -> None:
        """A deleted tag made anew belongs to the whole project, in no set place."""
        if self._has_scopes():
            conn.execute("UPDATE tags SET position = NULL WHERE id = ?", (tag_id,))
            conn.execute("DELETE FROM tag_scopes WHERE tag_id = ?", (tag_id,))

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

    def _has_scopes(self) -> bool:
        return self.schema_version >= SCOPES_SCHEMA

    @_guarded
    def tag_definitions(self) -> pd.DataFrame:
        """The project's tags by name: tag, description, hlp, effort, rule, created_at,
        created_by, datasets (the sorted tuple of the datasets the tag belongs to; empty:
        the whole project) and position (its place in the shortcut order, missing where
        the team set none)."""
        scoped = self._has_scopes()
        frame = self._query(
            "SELECT name AS tag, description, hlp, effort, rule, created_at, created_by, "
            + ("position" if scoped else "NULL AS position")
            + " FROM tags WHERE deleted_at IS NULL ORDER BY name"
        )
        scopes = self._scopes() if scoped else {}
        return frame.assign(
            datasets=[scopes.get(tag, ()) for tag in frame["tag"]],
            position=frame["position"].astype("Int64"),
        )[[*frame.columns.drop("position"), "datasets", "position"]]

    def _scopes(self) -> dict[str, tuple[str, ...]]:
        """Each scoped live tag's datasets, by name."""
        scopes: dict[str, tuple[str, ...]] = {}
        rows = self._conn.execute(
            "SELECT t.name, d.name FROM tag_scopes s JOIN tags t ON t.id = s.tag_id"
            " JOIN datasets d ON d.id = s.dataset_id WHERE t.deleted_at IS NULL"
            " ORDER BY t.name, d.name"
        )
        for tag, dataset in rows:
            scopes[tag] = (*scopes.get(tag, ()), dataset)
        return scopes

    @_guarded
    def tags_for(self, dataset: str | None) -> list[str]:
        """The tags a reviewer sets by hand on ``dataset``, in shortcut order (the order the
        team set, then the others by name): the tags of the whole project and those scoped
        to ``dataset``, without rule tags and tags that come with any dataset's data.
        ``None``: those of every dataset. An unknown dataset raises :class:`StoreError`."""
        if dataset is not None:
            self._dataset_id(dataset)
        definitions = self.tag_definitions()
        data = {tag for info in self.runs() for tag in info.dataset_tags}
        rules = definitions["rule"]
        keep = (rules.isna() | (rules == "")) & ~definitions["tag"].isin(data)
        if dataset is not None:
            keep &= (
                definitions["datasets"].map(lambda scope: applies_to(scope, dataset)).astype(bool)
            )
        return shortcut_order(definitions[keep])["tag"].tolist()

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
    ) -> dict[str, object]:
        """Apply one definition; returns what its undo needs: the tag's id and its
        definition before (None: the tag was created)."""
        before = self._definition(conn, name)
        tag_id = self._tag_id(conn, name, actor, stamp, create=True)
        if changes:
            assignments = ", ".join(f"{k} = ?" for k in changes)
            conn.execute(f"UPDATE tags SET {assignments} WHERE id = ?", (*changes.values(), tag_id))
        return {"tag_id": tag_id, "before": before}

    def _definition(
        self, conn: sqlite3.Connection, name: str, *, origin: bool = False
    ) -> dict[str, object] | None:
        """The definition of the live tag ``name`` (with ``origin``, also who made it and
        when), None if there is none."""
        fields = DEFINITION + ORIGIN if origin else DEFINITION
        if origin and self._has_scopes():
            fields += PLACE
        row = conn.execute(
            f"SELECT id, {', '.join(fields)} FROM tags WHERE name = ? AND deleted_at IS NULL",
            (name,),
        ).fetchone()
        if row is None:
            return None
        found = dict(zip(fields, row[1:], strict=True))
        if origin and self._has_scopes():
            found["datasets"] = self._scope_ids(conn, row[0])
        return found

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
        actor = self._permit(actor, "define_tag")
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
            undo = self._define(conn, name, changes, actor, stamp)
            detail = {"tag": name, **changes, "undo": undo}
            self._action(conn, None, "define_tag", actor, stamp, detail=detail)
            self._bump("taxonomy")

    @_guarded
    def define_tags(self, definitions: pd.DataFrame, *, actor: str) -> None:
        """Apply a table of definitions (tag, hlp, effort, description, as read by
        :func:`erroranalysis.importing.read_tag_definitions`): an empty HLP or effort clears it.

        All rows or none: every row is checked first, then the table is applied in one
        transaction, logged as one action (kind ``define_tags``) that an undo takes back
        whole.
        """
        actor = self._permit(actor, "define_tags")
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
            undo = [self._define(conn, name, changes, actor, stamp) for name, changes in planned]
            detail = {"tags": [name for name, _ in planned], "undo": {"tags": undo}}
            self._action(conn, None, "define_tags", actor, stamp, detail=detail)
            self._bump("taxonomy")

    def _check_not_data(self, conn: sqlite3.Connection, name: str, doing: str) -> None:
        """A tag that comes with a run's data (its ``tag:NAME`` column) changes only with
        the data: renaming, merging or deleting it in the project would leave the column
        as it is, so :class:`StoreError` says how instead."""
        runs = conn.execute(
            "SELECT datasets.name, runs.name, runs.dataset_tags FROM runs"
            " JOIN datasets ON datasets.id = runs.dataset_id ORDER BY runs.id"
        ).fetchall()
        for dataset, run, tags in runs:
            if name in json.loads(tags):
                raise StoreError(
                    f"{name!r} comes with the data (the {TAG_PREFIX}{name} column of run {run!r} of "
                    f"dataset {dataset!r}), so it cannot be {doing} here; nothing was changed "
                    "(rename or drop the column and import the run again with --replace)"
                )

    def _free_name(
        self, conn: sqlite3.Connection, name: str, clash: str, *, since: int | None = None
    ) -> int | None:
        """Make ``name`` free for a tag to take: a deleted tag holding it is set aside
        (its id is returned, so an undo can give the name back); a live one raises
        :class:`StoreError` ending in ``clash`` (for an undo of action ``since``, naming
        the later action that gave the name)."""
        row = conn.execute("SELECT id, deleted_at FROM tags WHERE name = ?", (name,)).fetchone()
        if row is None:
            return None
        if row[1] is None:
            later = (
                "" if since is None else self._later_action(conn, since, tag_id=row[0], name=name)
            )
            raise StoreError(f"a tag named {name!r} exists already{later}; {clash}")
        conn.execute(
            "UPDATE tags SET name = ? WHERE id = ?",
            (_SET_ASIDE.format(name=name, id=row[0]), row[0]),
        )
        return row[0]

    @_guarded
    def rename_tag(self, old: str, new: str, *, actor: str) -> None:
        """Rename a tag everywhere (assignments follow: they point at the tag's id).

        A reviewed or rule tag may take the name of a deleted tag; renaming onto a live
        tag's name, or renaming a tag that comes with a run's data, raises
        :class:`StoreError` and changes nothing."""
        actor = self._permit(actor, "rename_tag")
        old, new = check_tag_name(old), check_tag_name(new)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, old, actor, stamp, create=False)
            self._check_not_data(conn, old, "renamed")
            freed = self._free_name(conn, new, "nothing was changed (merge instead)")
            conn.execute("UPDATE tags SET name = ? WHERE id = ?", (new, tag_id))
            detail = {"from": old, "to": new, "undo": {"tag_id": tag_id, "freed": freed}}
            self._action(conn, None, "rename_tag", actor, stamp, detail=detail)
            self._bump("taxonomy")

    @_guarded
    def merge_tags(self, source: str, target: str, *, actor: str) -> int:
        """Move every assignment of ``source`` onto ``target`` and delete ``source``.

        Returns the number of examples that changed. Logged as remove/add events, in one
        transaction of a few statements however many examples carry the tag. A tag that
        comes with a run's data (either side), or a rule tag as ``target``, raises
        :class:`StoreError` and changes nothing.
        """
        actor = self._permit(actor, "merge_tags")
        source, target = check_tag_name(source), check_tag_name(target)
        stamp = now()
        with self.write() as conn:
            src = self._tag_id(conn, source, actor, stamp, create=False)
            dst = self._tag_id(conn, target, actor, stamp, create=False)
            if src == dst:
                raise StoreError("cannot merge a tag into itself")
            self._check_not_data(conn, source, "merged")
            self._check_not_data(conn, target, "merged into")
            carried = (
                self._carried_outside(conn, src, self._scope_ids(conn, dst))
                if self._has_scopes()
                else None
            )
            if carried is not None:
                raise StoreError(
                    f"{source!r} is on {carried[1]:,} examples of dataset {carried[0]!r}, to "
                    f"which {target!r} does not belong; nothing was changed (add the dataset "
                    f"to {target!r}'s datasets first)"
                )
            if conn.execute("SELECT rule FROM tags WHERE id = ?", (dst,)).fetchone()[0]:
                raise StoreError(
                    f"{target!r} is a rule tag (its examples follow its rule), so no tag can "
                    "be merged into it; nothing was changed"
                )
            detail = {
                "from": source,
                "to": target,
                "undo": {"tag_id": src, "before": self._definition(conn, source, origin=True)},
            }
            action = self._action(conn, None, "merge_tags", actor, stamp, detail=detail)
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
            self._bump("taxonomy")
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
        dropped = conn.execute(
            f"DELETE FROM tag_assignments AS a WHERE tag_id = ? AND {self._present('a')}",
            (tag_id,),
        ).rowcount
        if dropped:  # merged into another tag, the examples carry that one: a change too
            self._touch("tag_assignments")
        conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, tag_id))

    @_guarded
    def delete_tag(self, name: str, *, actor: str) -> int:
        """Remove a tag from every example (logged) and from the taxonomy; its name is free
        again. A tag that comes with a run's data raises :class:`StoreError` (nothing
        changed)."""
        actor = self._permit(actor, "delete_tag")
        name = check_tag_name(name)
        stamp = now()
        with self.write() as conn:
            tag_id = self._tag_id(conn, name, actor, stamp, create=False)
            self._check_not_data(conn, name, "deleted")
            detail = {
                "tag": name,
                "undo": {"tag_id": tag_id, "before": self._definition(conn, name, origin=True)},
            }
            action = self._action(conn, None, "delete_tag", actor, stamp, detail=detail)
            removed = self._log_removal(conn, tag_id, action, actor, stamp)
            self._drop_tag(conn, tag_id, stamp)
            self._bump("taxonomy")
        return removed

    @_guarded
    def scope_tag(self, name: str, datasets: Sequence[str] | None, *, actor: str) -> None:
        """Let tag ``name`` belong to ``datasets`` only (None: to the whole project again):
        Review offers it, and the analyses count it, on those datasets alone. An admin's
        action, logged (kind ``scope_tag``) with the scope before, which an undo restores.

        An unknown tag or dataset, an empty list, a tag that comes with a run's data, or a
        scope that would leave out a dataset whose examples carry the tag raises
        :class:`StoreError` and changes nothing."""
        actor = self._permit(actor, "scope_tag")
        name = check_tag_name(name)
        if datasets is not None:
            datasets = list(dict.fromkeys(datasets))
            if not datasets:
                raise StoreError(
                    f"no datasets given for tag {name!r}; name at least one, or the whole "
                    "project; nothing was changed"
                )
        if not self._has_scopes():
            raise StoreError(f"{self.path.name} predates tag scopes; open it for writing first")
        stamp = now()
        with self.write() as conn:
            ids = [] if datasets is None else [self._dataset_id(d) for d in datasets]
            tag_id = self._tag_id(conn, name, actor, stamp, create=False)
            self._check_not_data(conn, name, "given datasets")
            before = self._scope_ids(conn, tag_id)
            if sorted(ids) == before:
                return
            self._set_scope(conn, tag_id, name, ids)
            detail = {
                "tag": name,
                "datasets": None if datasets is None else sorted(datasets),
                "undo": {"tag_id": tag_id, "before": before},
            }
            self._action(conn, None, "scope_tag", actor, stamp, detail=detail)
            self._bump("taxonomy")

    @staticmethod
    def _scope_ids(conn: sqlite3.Connection, tag_id: int) -> list[int]:
        rows = conn.execute(
            "SELECT dataset_id FROM tag_scopes WHERE tag_id = ? ORDER BY dataset_id", (tag_id,)
        )
        return [r[0] for r in rows]

    def _set_scope(
        self, conn: sqlite3.Connection, tag_id: int, name: str, dataset_ids: Sequence[int]
    ) -> None:
        """Give the tag the datasets ``dataset_ids`` (none: the whole project), unless
        examples of a dataset left out carry it (:class:`StoreError`, nothing changed)."""
        carried = self._carried_outside(conn, tag_id, dataset_ids)
        if carried is not None:
            raise StoreError(
                f"tag {name!r} is on {carried[1]:,} examples of dataset {carried[0]!r}, "
                "which its datasets would leave out; nothing was changed (take the tag "
                f"off them first, or keep {carried[0]!r})"
            )
        conn.execute("DELETE FROM tag_scopes WHERE tag_id = ?", (tag_id,))
        conn.executemany(
            "INSERT INTO tag_scopes (tag_id, dataset_id) VALUES (?, ?)",
            [(tag_id, d) for d in sorted(dataset_ids)],
        )

    def _carried_outside(
        self, conn: sqlite3.Connection, tag_id: int, dataset_ids: Sequence[int]
    ) -> tuple[str, int] | None:
        """The first dataset (by name) outside ``dataset_ids`` whose examples carry the tag,
        and how many do; None if there is none, or if ``dataset_ids`` is empty (the whole
        project)."""
        if not dataset_ids:
            return None
        marks = ",".join("?" * len(dataset_ids))
        return conn.execute(
            "SELECT d.name, count(*) FROM tag_assignments a JOIN datasets d"
            f" ON d.id = a.dataset_id WHERE a.tag_id = ? AND {self._present('a')}"
            f" AND a.dataset_id NOT IN ({marks}) GROUP BY d.name ORDER BY d.name LIMIT 1",
            (tag_id, *dataset_ids),
        ).fetchone()

    def _check_in_scope(
        self, conn: sqlite3.Connection, tag_ids: Iterable[int], dataset_id: int
    ) -> None:
        """Raise :class:`StoreError` if one of the live tags belongs to other datasets only,
        so it may not be put on an example of dataset ``dataset_id`` (a deleted one that an
        import makes anew belongs to the whole project then)."""
        tag_ids = list(tag_ids)
        if not tag_ids or not self._has_scopes():
            return
        marks = ",".join("?" * len(tag_ids))
        row = conn.execute(
            "SELECT t.name, group_concat(d.name, ', ') FROM tag_scopes s"
            " JOIN tags t ON t.id = s.tag_id JOIN datasets d ON d.id = s.dataset_id"
            f" WHERE s.tag_id IN ({marks}) AND t.deleted_at IS NULL GROUP BY s.tag_id"
            " HAVING sum(s.dataset_id = ?) = 0 ORDER BY t.name LIMIT 1",
            (*tag_ids, dataset_id),
        ).fetchone()
        if row is not None:
            here = conn.execute("SELECT name FROM datasets WHERE id = ?", (dataset_id,)).fetchone()
            raise StoreError(
                f"tag {row[0]!r} belongs to dataset(s) {row[1]}, not to {here[0]!r}; nothing "
                "was changed (an admin can add the dataset to the tag's datasets on the Tags "
                "page or with `erroranalysis tags scope`)"
            )

    @_guarded
    def order_tags(self, names: Sequence[str], *, actor: str) -> None:
        """Put the tags ``names`` first in the shortcut order, in that order (Review's keys
        1–9 follow it); the other tags with a place keep theirs, in the same order, after
        them; tags never placed come last, by name. An admin's action, logged (kind
        ``order_tags``) with every position before, which an undo restores.

        An unknown or repeated name raises :class:`StoreError` and changes nothing."""
        actor = self._permit(actor, "order_tags")
        names = [check_tag_name(n) for n in names]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise StoreError(
                f"tag {repeated[0]!r} is named twice in the order; nothing was changed"
            )
        if not self._has_scopes():
            raise StoreError(f"{self.path.name} predates tag order; open it for writing first")
        stamp = now()
        with self.write() as conn:
            ids = [self._tag_id(conn, n, actor, stamp, create=False) for n in names]
            before = self._positions(conn)
            rest = [t for t, _ in sorted(before.items(), key=lambda kv: kv[1]) if t not in ids]
            after = {t: i for i, t in enumerate([*ids, *rest], start=1)}
            if after == before:
                return
            self._set_positions(conn, after)
            detail = {
                "tags": names,
                "undo": {"before": [[t, p] for t, p in sorted(before.items())]},
            }
            self._action(conn, None, "order_tags", actor, stamp, detail=detail)
            self._bump("taxonomy")

    @staticmethod
    def _positions(conn: sqlite3.Connection) -> dict[int, int]:
        """The place of every live tag that has one, by tag id."""
        return dict(
            conn.execute(
                "SELECT id, position FROM tags WHERE deleted_at IS NULL AND position IS NOT NULL"
            ).fetchall()
        )

    @staticmethod
    def _set_positions(conn: sqlite3.Connection, positions: dict[int, int]) -> None:
        conn.execute(
            "UPDATE tags SET position = NULL WHERE deleted_at IS NULL AND position IS NOT NULL"
        )
        conn.executemany(
            "UPDATE tags SET position = ? WHERE id = ?", [(p, t) for t, p in positions.items()]
        )

    def _undo_tag_action(
        self,
        conn: sqlite3.Connection,
        target: int,
        kind: str,
        detail: dict,
        undo: int,
        actor: str,
        stamp: str,
    ) -> None:
        """Bring the taxonomy, and the assignments, back to what they were before tag
        action ``target`` (logged by this version: its detail holds ``undo``), appending
        the inverse events under action ``undo``. A later change that makes this
        impossible (the tag deleted or made anew since, its old name taken) raises
        :class:`StoreError`."""
        info = detail["undo"]
        if kind == "scope_tag":
            self._live_tag(conn, info["tag_id"], detail["tag"], since=target)
            later = self._later_action(conn, target, tag_id=info["tag_id"], kinds=("scope_tag",))
            if later:
                raise StoreError(
                    f"the datasets of tag {detail['tag']!r} were changed again since{later}; "
                    "nothing was changed"
                )
            self._set_scope(conn, info["tag_id"], detail["tag"], info["before"])
        elif kind == "order_tags":
            later = self._later_action(conn, target, tag_id=None, kinds=("order_tags",))
            if later:
                raise StoreError(
                    f"the order of the tags was changed again since{later}; nothing was changed"
                )
            self._set_positions(conn, {t: p for t, p in info["before"]})
        elif kind == "define_tag":
            self._restore_definition(conn, detail["tag"], info, stamp, since=target)
        elif kind == "define_tags":
            for name, each in reversed(list(zip(detail["tags"], info["tags"], strict=True))):
                self._restore_definition(conn, name, each, stamp, since=target)
        elif kind == "rename_tag":
            self._live_tag(conn, info["tag_id"], detail["to"], since=target)
            self._free_name(
                conn, detail["from"], "nothing was changed (rename that one first)", since=target
            )
            conn.execute("UPDATE tags SET name = ? WHERE id = ?", (detail["from"], info["tag_id"]))
            if info["freed"] is not None:  # the deleted tag set aside gets its name back
                conn.execute(
                    "UPDATE tags SET name = ? WHERE id = ? AND deleted_at IS NOT NULL",
                    (detail["to"], info["freed"]),
                )
        else:  # merge_tags, delete_tag: the tag comes back, defined and assigned as before
            name = detail["from" if kind == "merge_tags" else "tag"]
            tag_id = info["tag_id"]
            if (
                conn.execute("SELECT deleted_at FROM tags WHERE id = ?", (tag_id,)).fetchone()[0]
                is None
            ):
                later = self._later_action(conn, target, tag_id=tag_id, name=name)
                raise StoreError(f"tag {name!r} was made again since{later}; nothing was changed")
            conn.execute(
                "UPDATE tags SET name = ? WHERE id = ?",
                (_SET_ASIDE.format(name=name, id=tag_id), tag_id),
            )
            self._free_name(conn, name, "nothing was changed (rename that one first)", since=target)
            self._count_new_tag(conn, name)
            fields = DEFINITION + ORIGIN + PLACE
            before = {k: info["before"][k] for k in fields if k in info["before"]}
            conn.execute(
                f"UPDATE tags SET name = ?, deleted_at = NULL, {', '.join(f'{k} = ?' for k in before)}"
                " WHERE id = ?",
                (name, *before.values(), tag_id),
            )
            if "datasets" in info["before"]:
                self._set_scope(conn, tag_id, name, info["before"]["datasets"])
            datasets = conn.execute(
                "SELECT DISTINCT dataset_id FROM tag_events WHERE action_id = ? ORDER BY 1",
                (target,),
            ).fetchall()
            for (dataset_id,) in datasets:
                self._invert_events(conn, target, undo, dataset_id, actor, stamp)

    def _live_tag(self, conn: sqlite3.Connection, tag_id: int, name: str, *, since: int) -> None:
        """The tag ``tag_id`` is live and named ``name``, as action ``since`` left it,
        else :class:`StoreError` names the later action that changed it."""
        row = conn.execute("SELECT name, deleted_at FROM tags WHERE id = ?", (tag_id,)).fetchone()
        if row[1] is not None or row[0] != name:
            later = self._later_action(conn, since, tag_id=tag_id)
            how = "deleted" if row[1] is not None else f"renamed {row[0]!r}"
            raise StoreError(f"tag {name!r} was {how} since{later}; nothing was changed")

    def _restore_definition(
        self, conn: sqlite3.Connection, name: str, info: dict, stamp: str, *, since: int
    ) -> None:
        """Give tag ``name`` the definition recorded before definition ``since`` changed
        it; one that the definition created is deleted again, if no example carries it. A
        later definition of the tag that is not undone is not overwritten: :class:`StoreError`
        names it."""
        tag_id, before = info["tag_id"], info["before"]
        self._live_tag(conn, tag_id, name, since=since)
        later = self._later_action(conn, since, tag_id=tag_id, kinds=("define_tag", "define_tags"))
        if later:
            raise StoreError(
                f"the definition of tag {name!r} was changed again since{later}; nothing was "
                "changed"
            )
        if before is not None:
            conn.execute(
                f"UPDATE tags SET {', '.join(f'{k} = ?' for k in DEFINITION)} WHERE id = ?",
                (*(before[k] for k in DEFINITION), tag_id),
            )
            return
        carried = conn.execute(
            f"SELECT count(*) FROM tag_assignments a WHERE tag_id = ? AND {self._present('a')}",
            (tag_id,),
        ).fetchone()[0]
        if carried:
            raise StoreError(
                f"tag {name!r}, which the definition created, is on {carried} examples now; "
                "nothing was changed (delete the tag instead)"
            )
        conn.execute("UPDATE tags SET deleted_at = ? WHERE id = ?", (stamp, tag_id))
        if self._active_tags is not None:
            self._active_tags -= 1

    def _forget_created_tags(self, conn: sqlite3.Connection, target: int, stamp: str) -> None:
        """Delete again the tag that toggle ``target`` created (logged ``created``), once
        the toggle is undone: if no example carries it now and nobody has defined it since."""
        forgotten = conn.execute(
            "UPDATE tags SET deleted_at = ? WHERE deleted_at IS NULL AND id IN"
            " (SELECT tag_id FROM tag_events WHERE action_id = ?)"
            " AND description = '' AND hlp IS NULL AND effort IS NULL AND rule IS NULL"
            " AND NOT EXISTS (SELECT 1 FROM tag_assignments a WHERE a.tag_id = tags.id"
            f" AND {self._present('a')}) AND NOT EXISTS (SELECT 1 FROM actions l"
            " WHERE l.id > ? AND json_extract(l.detail, '$.undo.tag_id') = tags.id"
            f" AND {self._live_action('l.id')})",
            (stamp, target, target),
        ).rowcount
        if forgotten:
            self._touch("taxonomy")
        self._active_tags = None  # counted again if this transaction creates one
