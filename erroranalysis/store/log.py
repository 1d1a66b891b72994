"""The action and tag-event log: every change is an action whose tag events are
appended, the current state follows them, and an undo appends the inverse events.

An undo is exact whatever the order: each (example, tag) the undone action changed is set
to what the live actions say, the latest event of an action that is neither undone nor an
undo itself (absent when there is none), so undoing A then B, or B then A, leaves the same
tags. A tag action (rename, merge, delete, definition) that a later one depends on is
refused with the later action named, and nothing is changed.

The module runs past 600 lines because the log is read (pages of it, the words for each
action) and inverted (the exact undo) in the one place that knows its events' layout.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd

from ..errors import StoreError
from .common import check_actor, now
from .files import _guarded
from .tags import TAG_ACTIONS

# The kinds of action the log holds (other kinds a newer version logs are shown too).
ACTION_KINDS = (
    "import",
    "relink",
    "sample",
    "tag",
    "tag_examples",
    "review",
    "reviews_import",
    "confirm_cluster",
    *TAG_ACTIONS,
    "role",
    "review_plan",
    "adjudicate",
    "undo",
)
# What an undo takes back on one dataset: tag events, reviews and adjudications. Tag
# actions are the project's (their dataset is NULL); runs, relinks, samples, plans of
# second reviews, roles and undos are not undone.
DATASET_UNDOABLE = (
    "tag",
    "tag_examples",
    "review",
    "reviews_import",
    "confirm_cluster",
    "adjudicate",
)
LOG_COLUMNS = (
    "id",
    "at",
    "actor",
    "kind",
    "dataset",
    "what",
    "undone",
    "undone_by",
    "undoable",
    "undoes",
    "detail",
)
# A log page holds this many actions unless asked otherwise.
LOG_PAGE = 50


@dataclass(frozen=True)
class LogPage:
    """One page of the log, newest first: ``rows`` (columns :data:`LOG_COLUMNS`) and
    ``total``, how many actions the filters chose in all (``offset`` and ``limit`` as
    asked, so a page reads "actions 51–100 of 1,234")."""

    rows: pd.DataFrame
    total: int
    offset: int
    limit: int | None

    @property
    def first(self) -> int:
        """The 1-based number of the page's first action (0 when it has none)."""
        return self.offset + 1 if len(self.rows) else 0

    @property
    def last(self) -> int:
        """The 1-based number of the page's last action (0 when it has none)."""
        return self.offset + len(self.rows) if len(self.rows) else 0


def _quoted(value: object) -> str:
    return repr(str(value)) if value is not None else "?"


def describe_action(
    kind: str,
    detail: dict,
    *,
    example: str | None = None,
    target: tuple[int, str, dict] | None = None,
) -> str:
    """What an action did, in words ("rename of tag 'a' to 'b'"), from its kind and
    detail: the one description the log, its exports and the messages of an undo use.
    ``example``: the example a single review was of; ``target``: (id, kind, detail) of the
    action an undo took back."""
    tag = _quoted(detail.get("tag"))
    if kind == "tag":
        example_id = _quoted(detail.get("example"))
        if detail.get("op") == "remove":
            return f"removal of tag {tag} from example {example_id}"
        return f"addition of tag {tag} to example {example_id}"
    if kind == "tag_examples":
        cluster = f" (cluster {detail['cluster']})" if "cluster" in detail else ""
        return f"addition of tag {tag} to {detail.get('examples', 0):,} examples{cluster}"
    if kind == "review":
        return f"review of example {_quoted(example)}" if example else "review of an example"
    if kind in ("reviews_import", "confirm_cluster"):
        what = "import" if kind == "reviews_import" else "confirmation of a cluster"
        n = detail.get("reviews")
        count = f" of {n:,} review{'s' if n != 1 else ''}" if isinstance(n, int) else ""
        return f"{what}{count} (run {_quoted(detail.get('run'))})"
    if kind == "import":
        again = "re-import" if detail.get("replace") else "import"
        return (
            f"{again} of run {_quoted(detail.get('run'))} ({detail.get('examples', 0):,} "
            f"examples from {_quoted(detail.get('source'))})"
        )
    if kind == "relink":
        return f"relink of media to {_quoted(detail.get('media_root'))}"
    if kind == "sample":
        return (
            f"sample of {detail.get('drawn', 0):,} examples from run "
            f"{_quoted(detail.get('run'))} ({detail.get('strategy')}, seed {detail.get('seed')})"
        )
    if kind == "define_tag":
        created = (detail.get("undo") or {}).get("before", {}) is None
        return f"{'definition of new' if created else 'change to the definition of'} tag {tag}"
    if kind == "define_tags":
        n = len(detail.get("tags") or [])
        return f"import of tag definitions ({n:,} tag{'s' if n != 1 else ''})"
    if kind == "rename_tag":
        return f"rename of tag {_quoted(detail.get('from'))} to {_quoted(detail.get('to'))}"
    if kind == "merge_tags":
        return f"merge of tag {_quoted(detail.get('from'))} into {_quoted(detail.get('to'))}"
    if kind == "delete_tag":
        return f"deletion of tag {tag}"
    if kind == "scope_tag":
        datasets = detail.get("datasets")
        if datasets is None:
            return f"tag {tag} given to the whole project"
        return f"tag {tag} given to dataset{'s' if len(datasets) != 1 else ''} " + ", ".join(
            map(_quoted, datasets)
        )
    if kind == "order_tags":
        return "shortcut order of the tags set to " + (
            ", ".join(map(_quoted, detail.get("tags") or [])) or "names only"
        )
    if kind == "role":
        if detail.get("role") == "none":
            return f"role of {_quoted(detail.get('user'))} taken away"
        return f"role of {_quoted(detail.get('user'))} set to {detail.get('role')}"
    if kind == "review_plan":
        return (
            f"plan of second reviews: share {detail.get('share')}, {detail.get('reviewers')} "
            f"reviewers, rule {detail.get('rule')}, seed {detail.get('seed')}"
        )
    if kind == "adjudicate":
        verdict = "present" if detail.get("present") else "absent"
        return f"adjudication of tag {tag} on example {_quoted(detail.get('example'))}: {verdict}"
    if kind == "undo":
        if target is None:
            return "undo"
        number, undone_kind, undone_detail = target
        return f"undo of action #{number} ({describe_action(undone_kind, undone_detail)})"
    return kind.replace("_", " ")


def check_moment(value: object, *, name: str, end: bool = False) -> str | None:
    """``value`` (a date, a datetime, or ISO 8601 text such as ``2026-12-01`` or
    ``2026-12-01T09:30``; naive times are UTC) as a bound on the log's time stamps: the
    start of the moment, or with ``end`` the first moment after it (a date: the next day),
    in the stamps' own form. None stays None; anything else raises :class:`StoreError`
    naming ``name``."""
    if value is None:
        return None
    moment: datetime
    if isinstance(value, datetime):
        moment, whole_day = value, False
    elif isinstance(value, date):
        moment, whole_day = datetime.combine(value, time()), True
    elif isinstance(value, str):
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise StoreError(
                f"{name} {value!r} is not a date or time (write it as 2026-12-01 or "
                "2026-12-01T09:30); nothing was read"
            ) from None
        whole_day = len(text) == 10
    else:
        raise StoreError(f"{name} must be a date or time, got {type(value).__name__}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    if end:
        moment += timedelta(days=1) if whole_day else timedelta(milliseconds=1)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def _count(value: object, *, name: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise StoreError(f"{name} must be a whole number, got {value!r}")
    if value < least:
        raise StoreError(f"{name} must be {least} or more, got {value}")
    return value


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
            self._touch("tag_assignments")
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

    @_guarded
    def log(
        self,
        *,
        who: str | None = None,
        kinds: str | Iterable[str] | None = None,
        since: object = None,
        until: object = None,
        dataset: str | None = None,
        offset: int = 0,
        limit: int | None = LOG_PAGE,
    ) -> LogPage:
        """One page of the project's log, newest first, chosen by filters: ``who`` (the
        actor), ``kinds`` (one kind or several, of :data:`ACTION_KINDS` or logged in the
        file), ``since`` and ``until`` (dates or times, both included: ``until`` a date
        means to the end of that day; see :func:`check_moment`), ``dataset`` (its actions
        and the project's own: tags and roles), ``offset`` actions skipped and ``limit``
        shown (None: all). Each row says what the action did (``what``), whether it is
        undone and by which action (``undone_by``), whether an undo could take it
        back now (``undoable``), and which action an undo undid.

        A bad filter (an unknown kind or dataset, a date that is none, ``since`` after
        ``until``, a negative offset) raises :class:`StoreError` naming it. One query."""
        where, params = [self._not_pending("a.id")], []
        if who is not None:
            where.append("a.actor = ?")
            params.append(check_actor(who))
        if kinds is not None:
            chosen = self._check_kinds(kinds)
            where.append(f"a.kind IN ({','.join('?' * len(chosen))})")
            params.extend(chosen)
        start = check_moment(since, name="since")
        end = check_moment(until, name="until", end=True)
        if start is not None and end is not None and start >= end:
            raise StoreError(f"since ({since}) is after until ({until}); nothing was read")
        if start is not None:
            where.append("a.at >= ?")
            params.append(start)
        if end is not None:
            where.append("a.at < ?")
            params.append(end)
        if dataset is not None:
            where.append("(a.dataset_id = ? OR a.dataset_id IS NULL)")
            params.append(self._dataset_id(dataset))
        offset = _count(offset, name="offset", least=0)
        rows = -1 if limit is None else _count(limit, name="limit", least=1)
        # One statement: the count of every chosen action beside one page of them (a
        # single row of NULLs when the page is empty, so the count is always there).
        frame = self._query(
            "WITH chosen AS (SELECT a.id, a.at, a.actor, a.kind, d.name AS dataset,"
            " a.undoes, a.detail FROM actions a LEFT JOIN datasets d ON d.id = a.dataset_id"
            f" WHERE {' AND '.join(where)})"
            " SELECT (SELECT count(*) FROM chosen) AS total, page.* FROM (SELECT 1)"
            " LEFT JOIN (SELECT c.*, (SELECT min(u.id) FROM actions u WHERE u.undoes = c.id)"
            " AS undone_by, t.kind AS target_kind, t.detail AS target_detail,"
            " (SELECT r.example_id FROM reviews r WHERE r.action_id = CASE"
            " WHEN c.kind = 'review' THEN c.id WHEN t.kind = 'review' THEN t.id END LIMIT 1)"
            " AS example FROM chosen c LEFT JOIN actions t ON t.id = c.undoes"
            " ORDER BY c.id DESC LIMIT ? OFFSET ?) AS page ON 1 ORDER BY page.id DESC",
            (*params, rows, offset),
        )
        total = int(frame["total"].iloc[0])
        frame = frame.dropna(subset=["id"])
        return LogPage(rows=_log_rows(frame), total=total, offset=offset, limit=limit)

    def _check_kinds(self, kinds: str | Iterable[str]) -> list[str]:
        chosen = [kinds] if isinstance(kinds, str) else list(kinds)
        unknown = [k for k in chosen if k not in ACTION_KINDS]
        if unknown:
            logged = {r[0] for r in self._conn.execute("SELECT DISTINCT kind FROM actions")}
            unknown = [k for k in unknown if k not in logged]
        if unknown:
            raise StoreError(
                f"unknown action kind {unknown[0]!r}; choose among {', '.join(ACTION_KINDS)}"
            )
        if not chosen:
            raise StoreError(f"no action kind chosen; choose among {', '.join(ACTION_KINDS)}")
        return chosen

    @_guarded
    def undo(self, *, action: int, actor: str) -> dict:
        """Undo the action numbered ``action`` (of any dataset, or of the project's tags),
        as ``actor``: a reviewer undoes their own actions, an admin anyone's (everyone may
        while no role has been granted). What can be undone and how is as for
        :meth:`DatasetStore.undo`; an undo is exact in any order (see the module's text).
        Returns what was undone: ``action``, ``kind``, ``detail`` and ``what`` (in words).

        An unknown action, one already undone, one that cannot be undone (an import of a
        run, a relink, a sample, a role, an undo), or a tag action that a later action
        depends on raises :class:`StoreError` saying so (naming the later action), and
        nothing is changed."""
        actor = self._permit(actor, "undo")
        target = _count(action, name="action", least=1)
        stamp = now()
        with self.write() as conn:
            row = conn.execute(
                "SELECT id, kind, detail, dataset_id, actor FROM actions WHERE id = ?"
                f" AND {self._not_pending('id')}",
                (target,),
            ).fetchone()
            if row is None:
                raise StoreError(f"there is no action #{target} in {self.path.name}")
            if row[4] != actor:
                self.require(actor, "admin", "undo another person's action")
            undone = self._undo_row(conn, row[:4], actor, stamp, by_id=True)
        return undone

    def may_undo(self, actor: str, owner: str) -> bool:
        """Whether ``actor`` may undo an action of ``owner`` (see :meth:`undo`): a reviewer
        their own, an admin anyone's; everyone while no role has been granted."""
        return self.may(actor, "reviewer" if actor == owner else "admin")

    def _undo_row(
        self,
        conn: sqlite3.Connection,
        row: tuple[int, str, str, int | None],
        actor: str,
        stamp: str,
        *,
        by_id: bool = False,
    ) -> dict:
        """Undo the action ``row`` (id, kind, detail, dataset id) inside the transaction
        ``conn``, logged as an undo by ``actor``; returns what was undone."""
        target, kind, text, scope = row
        detail = json.loads(text)
        what = self._described(conn, target, kind, detail)
        if not _undoable(kind, detail, scope is not None):
            raise StoreError(
                f"action #{target} ({what}) cannot be undone: imports of runs, relinks, "
                "samples, plans of second reviews, roles, undos and tag changes logged by "
                "older versions are kept; nothing was changed"
            )
        if by_id:
            undone_by = conn.execute(
                "SELECT min(id) FROM actions WHERE undoes = ?", (target,)
            ).fetchone()[0]
            if undone_by is not None:
                raise StoreError(
                    f"action #{target} ({what}) was undone already, by action #{undone_by}; "
                    "nothing was changed"
                )
        undo = self._action(conn, scope, "undo", actor, stamp, undoes=target)
        if scope is None:
            self._undo_tag_action(conn, target, kind, detail, undo, actor, stamp)
        else:
            self._invert_events(conn, target, undo, scope, actor, stamp)
            retracted = "adjudications" if kind == "adjudicate" else "reviews"
            if conn.execute(
                f"UPDATE {retracted} SET retracted_by = ? WHERE action_id = ?"
                " AND retracted_by IS NULL",
                (undo, target),
            ).rowcount:
                self._touch(retracted)
            if detail.get("created"):
                self._forget_created_tags(conn, target, stamp)
        self._bump(*(("taxonomy",) if scope is None else ()))
        return {"action": target, "kind": kind, "detail": detail, "what": what}

    def _action_dataset(self, action: int) -> int | None:
        """The dataset id of the action numbered ``action`` (None: a project-wide action,
        or no such action)."""
        row = self._conn.execute(
            "SELECT dataset_id FROM actions WHERE id = ?", (_count(action, name="action", least=1),)
        ).fetchone()
        return None if row is None else row[0]

    def _described(self, conn: sqlite3.Connection, action: int, kind: str, detail: dict) -> str:
        """:func:`describe_action` of one action, with the example of a review and the
        action an undo took back."""
        if kind == "undo":
            row = conn.execute(
                "SELECT t.id, t.kind, t.detail FROM actions u JOIN actions t ON t.id = u.undoes"
                " WHERE u.id = ?",
                (action,),
            ).fetchone()
            target = None if row is None else (row[0], row[1], json.loads(row[2]))
            return describe_action(kind, detail, target=target)
        example = None
        if kind == "review":
            row = conn.execute(
                "SELECT example_id FROM reviews WHERE action_id = ? LIMIT 1", (action,)
            ).fetchone()
            example = None if row is None else row[0]
        return describe_action(kind, detail, example=example)

    def _later_action(
        self,
        conn: sqlite3.Connection,
        target: int,
        *,
        tag_id: int | None,
        name: str | None = None,
        kinds: tuple[str, ...] | None = None,
    ) -> str:
        """Words for the latest live action after ``target`` that changed the tag
        ``tag_id`` (or, with ``name``, gave a tag that name; ``tag_id`` None: any action of
        ``kinds``), for a refused undo: " by action #N (what, actor, when); undo that
        first", or "" when none is found."""
        live = self._live_action("a.id")
        chosen = f" AND a.kind IN ({','.join('?' * len(kinds))})" if kinds else ""
        row = conn.execute(
            "SELECT a.id, a.kind, a.detail, a.actor, a.at FROM actions a WHERE a.id > ?"
            f" AND {live}{chosen} AND (? IS NULL OR json_extract(a.detail, '$.undo.tag_id') = ?"
            " OR EXISTS (SELECT 1 FROM json_each(a.detail, '$.undo.tags') j"
            " WHERE json_extract(j.value, '$.tag_id') = ?)"
            " OR EXISTS (SELECT 1 FROM tag_events e WHERE e.action_id = a.id AND e.tag_id = ?)"
            " OR (? IS NOT NULL AND ? IN (json_extract(a.detail, '$.tag'),"
            " json_extract(a.detail, '$.to'))))"
            " ORDER BY a.id DESC LIMIT 1",
            (target, *(kinds or ()), tag_id, tag_id, tag_id, tag_id, name, name),
        ).fetchone()
        if row is None:
            return ""
        number, kind, text, who, at = row
        what = describe_action(kind, json.loads(text))
        return f" by action #{number} ({what}, {who}, {at[:16].replace('T', ' ')}); undo that first"

    def _live_action(self, column: str) -> str:
        """An SQL condition: the action in ``column`` counts (neither undone, nor an undo,
        nor a review import being staged)."""
        return (
            f"{column} NOT IN (SELECT undoes FROM actions WHERE undoes IS NOT NULL)"
            f" AND {column} NOT IN (SELECT id FROM actions WHERE kind = 'undo')"
            f" AND {self._not_pending(column)}"
        )

    def _invert_events(
        self,
        conn: sqlite3.Connection,
        target: int,
        undo: int,
        dataset_id: int,
        actor: str,
        stamp: str,
    ) -> None:
        """Append, under action ``undo``, the events that give each (example, tag) that
        ``target`` changed in dataset ``dataset_id`` the value the live actions say: the
        latest event of a live action other than ``target``, or absent when there is none
        (a tag action's events span datasets: one call each). The state follows them."""
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS undo_pairs (example_id TEXT NOT NULL,"
            " tag_id INTEGER NOT NULL, first_id INTEGER NOT NULL, first_op TEXT NOT NULL,"
            " wanted TEXT, PRIMARY KEY (example_id, tag_id)) WITHOUT ROWID"
        )
        conn.execute("DELETE FROM temp.undo_pairs")
        # Each pair with the first event the target logged on it (min picks that row's op).
        conn.execute(
            "INSERT INTO temp.undo_pairs (example_id, tag_id, first_id, first_op)"
            " SELECT example_id, tag_id, min(id), op FROM tag_events"
            " WHERE action_id = ? AND dataset_id = ? GROUP BY example_id, tag_id",
            (target, dataset_id),
        )
        first = conn.execute("SELECT min(first_id) FROM temp.undo_pairs").fetchone()[0]
        if first is None:
            return
        # While no action older than the target has been undone since it, each pair was,
        # before the target's event, what the live actions said then: the opposite of that
        # event. Only the events after it need reading; otherwise the whole history does.
        reordered = conn.execute(
            "SELECT 1 FROM actions WHERE id > ? AND undoes < ? LIMIT 1", (target, target)
        ).fetchone()
        after = "" if reordered else " AND e.id > ? AND e.id > p.first_id"
        conn.execute(
            "UPDATE temp.undo_pairs SET wanted = latest.op FROM (SELECT e.example_id,"
            " e.tag_id, e.op, max(e.id) FROM tag_events e JOIN temp.undo_pairs p"
            " ON p.example_id = e.example_id AND p.tag_id = e.tag_id"
            f" WHERE e.dataset_id = ? AND e.action_id != ?{after}"
            f" AND {self._live_action('e.action_id')} GROUP BY e.example_id, e.tag_id) AS latest"
            " WHERE latest.example_id = undo_pairs.example_id"
            " AND latest.tag_id = undo_pairs.tag_id",
            (dataset_id, target) if reordered else (dataset_id, target, first),
        )
        before = (
            "'remove'" if reordered else "CASE first_op WHEN 'add' THEN 'remove' ELSE 'add' END"
        )
        conn.execute(f"UPDATE temp.undo_pairs SET wanted = {before} WHERE wanted IS NULL")
        conn.execute(
            "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
            " SELECT ?, ?, p.example_id, p.tag_id, p.wanted, ?, ? FROM temp.undo_pairs p"
            " WHERE (p.wanted = 'add') != EXISTS (SELECT 1 FROM tag_assignments a"
            " WHERE a.dataset_id = ? AND a.example_id = p.example_id AND a.tag_id = p.tag_id"
            f" AND {self._present('a')}) ORDER BY p.first_id DESC",
            (undo, dataset_id, actor, stamp, dataset_id),
        )
        self._follow_events(conn, undo, dataset_id)

    def _follow_events(
        self, conn: sqlite3.Connection, action: int, dataset_id: int, *, removals: bool = True
    ) -> None:
        """Make ``tag_assignments`` follow the events ``action`` logged (each pair at most
        once, each event a real change); ``removals=False`` when it logged only adds."""
        removed = 0
        if removals:
            removed = conn.execute(
                "DELETE FROM tag_assignments AS a WHERE dataset_id = ? AND (example_id, tag_id)"
                " IN (SELECT example_id, tag_id FROM tag_events WHERE action_id = ?"
                f" AND op = 'remove') AND {self._present('a')}",
                (dataset_id, action),
            ).rowcount
        added = conn.execute(
            "INSERT INTO tag_assignments (dataset_id, example_id, tag_id, actor, at)"
            " SELECT dataset_id, example_id, tag_id, actor, at FROM tag_events"
            " WHERE action_id = ? AND op = 'add' ORDER BY action_id, op, example_id, tag_id"
            f"{self._take_over()}",
            (action,),
        ).rowcount
        if removed or added:
            self._touch("tag_assignments")


def _log_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a log page (:data:`LOG_COLUMNS`) from the query's columns."""
    details = [json.loads(d) for d in frame["detail"]]
    targets = [
        None if pd.isna(t) else (int(t), k, json.loads(d))
        for t, k, d in zip(
            frame["undoes"], frame["target_kind"], frame["target_detail"], strict=True
        )
    ]
    what = [
        describe_action(kind, detail, example=None if pd.isna(e) else e, target=target)
        for kind, detail, e, target in zip(
            frame["kind"], details, frame["example"], targets, strict=True
        )
    ]
    undone_by = frame["undone_by"].astype("Int64")
    undoable = [
        _undoable(kind, detail, pd.notna(dataset))
        for kind, detail, dataset in zip(frame["kind"], details, frame["dataset"], strict=True)
    ]
    rows = frame.assign(
        id=frame["id"].astype("int64"),
        what=pd.Series(what, index=frame.index, dtype=object),
        undone=undone_by.notna().astype(bool),
        undone_by=undone_by,
        undoes=frame["undoes"].astype("Int64"),
    )
    rows["undoable"] = pd.Series(undoable, index=frame.index, dtype=bool) & ~rows["undone"]
    return rows[list(LOG_COLUMNS)].reset_index(drop=True)


def _undoable(kind: str, detail: dict, of_dataset: bool) -> bool:
    """Whether an action of ``kind`` is one an undo takes back: on a dataset, tag events
    and reviews; project-wide, tag actions that logged what their undo needs."""
    if of_dataset:
        return kind in DATASET_UNDOABLE
    return kind in TAG_ACTIONS and "undo" in detail
