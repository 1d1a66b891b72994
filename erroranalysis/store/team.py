"""Who may do what in a project: the roles of its team, kept in the project file.

A user's role is their latest row in the append-only ``roles`` table (who granted it,
when); ``none`` takes it away. A project in which no role was ever granted (a laptop, the
demo) lets everyone do everything; once any role is granted, every write checks its
actor's role through :meth:`Team.require`, and a refused write raises
:class:`~erroranalysis.errors.NotPermitted` before anything is changed. A file older than
roles (schema 6) has no team: everyone may do everything, as before.
"""

from __future__ import annotations

import sqlite3

import pandas as pd

from ..errors import NotPermitted, StoreError
from ..vocabulary import NO_ROLE, USER_ROLES
from .common import check_actor, now
from .files import _guarded

# The first schema of a team: roles, each review's decision, plans of second reviews,
# adjudications and tags scoped to datasets (see schema.py).
TEAM_SCHEMA = 6
_RANK = {role: rank for rank, role in enumerate(USER_ROLES)}
# The role each public write of the package needs, and what the refusal calls it: the
# one place this rule is kept. Every write method calls :meth:`Team.permit` with its own
# name before it writes anything (tests/test_roles.py checks that none is missing).
WRITE_ROLES: dict[str, tuple[str, str]] = {
    "set_tag": ("reviewer", "tag examples"),
    "tag_examples": ("reviewer", "tag examples"),
    "record_reviews": ("reviewer", "record reviews"),
    "record_sample": ("reviewer", "draw a review sample"),
    "undo": ("reviewer", "undo their actions"),
    "import_run": ("admin", "import runs"),
    "relink_media": ("admin", "relink media"),
    "write_sql_rows": ("admin", "write a run's SQL rows"),
    "define_tag": ("admin", "define tags"),
    "define_tags": ("admin", "define tags"),
    "rename_tag": ("admin", "rename tags"),
    "merge_tags": ("admin", "merge tags"),
    "delete_tag": ("admin", "delete tags"),
    "scope_tag": ("admin", "choose the datasets of tags"),
    "order_tags": ("admin", "set the order of tags"),
    "grant_role": ("admin", "grant roles"),
    "set_review_plan": ("admin", "set the plan of second reviews"),
    "adjudicate": ("reviewer", "adjudicate a disagreement"),
}
# Each user's current role: their latest grant.
_CURRENT = (
    "SELECT user, role, granted_by, granted_at FROM roles r"
    " WHERE id = (SELECT max(id) FROM roles s WHERE s.user = r.user)"
)


def check_role(role: object) -> str:
    """``role`` if it is one of :data:`~erroranalysis.vocabulary.USER_ROLES` or
    ``none``, else :class:`StoreError` naming the choices."""
    if role not in (*USER_ROLES, NO_ROLE):
        raise StoreError(
            f"unknown role {role!r}: choose one of {', '.join(USER_ROLES)} (or {NO_ROLE} "
            "to take a role away); nothing was changed"
        )
    return str(role)


class Team:
    """The roles part of :class:`~erroranalysis.store.Project`."""

    def _has_roles(self) -> bool:
        return self.schema_version >= TEAM_SCHEMA

    @_guarded
    def roles(self) -> pd.DataFrame:
        """Who has a role now: user, role, granted_by, granted_at, by user name (users whose
        role was taken away are not listed)."""
        return self._query_from(
            TEAM_SCHEMA,
            ["user", "role", "granted_by", "granted_at"],
            f"SELECT * FROM ({_CURRENT}) WHERE role != ? ORDER BY user",
            (NO_ROLE,),
        )

    @_guarded
    def role_of(self, user: str) -> str | None:
        """``user``'s role, or None: no role, or no role granted in the project at all."""
        if not self._has_roles():
            return None
        row = self._conn.execute(
            "SELECT role FROM roles WHERE user = ? ORDER BY id DESC LIMIT 1", (user,)
        ).fetchone()
        return None if row is None or row[0] == NO_ROLE else row[0]

    def _team_formed(self, conn: sqlite3.Connection) -> bool:
        return (
            self._has_roles() and conn.execute("SELECT 1 FROM roles LIMIT 1").fetchone() is not None
        )

    @_guarded
    def has_team(self) -> bool:
        """Whether a role was ever granted in the project: from then on every write is
        checked against the writer's role (one indexed lookup, no table read)."""
        return self._team_formed(self._conn)

    def may(self, actor: str | None, role: str) -> bool:
        """Whether ``actor`` may act as ``role`` (or more): everyone may while no role has
        been granted in the project; after, nobody unnamed (None) may."""
        if not self._team_formed(self._conn):
            return True
        have = None if actor is None else self.role_of(actor)
        return have is not None and _RANK[have] >= _RANK[role]

    def require(self, actor: str, role: str, doing: str) -> None:
        """Raise :class:`NotPermitted` unless ``actor`` may act as ``role`` (or more) to do
        ``doing`` (words for the message, e.g. "delete a tag"). Everyone may while no role
        has been granted in the project."""
        if self.may(actor, role):
            return
        have = self.role_of(actor)
        raise NotPermitted(
            f"{actor!r} may not {doing}: that needs the {role} role, and "
            + (f"{actor!r} is a {have}" if have else f"{actor!r} has no role in this project")
            + "; nothing was changed (an admin grants roles with `erroranalysis roles set`)"
        )

    def permit(self, actor: str, write: str) -> None:
        """Raise :class:`NotPermitted` unless ``actor`` may do the write method named
        ``write`` (a key of :data:`WRITE_ROLES`)."""
        role, doing = WRITE_ROLES[write]
        self.require(actor, role, doing)

    def _permit(self, actor: str, write: str) -> str:
        """``actor`` checked, once the file is writable and ``actor`` may do the write
        method named ``write``; raises :class:`StoreError` or :class:`NotPermitted`
        otherwise, before anything is changed."""
        self._require_writable()
        actor = check_actor(actor)
        self.permit(actor, write)
        return actor

    @_guarded
    def grant_role(self, user: str, role: str, *, actor: str) -> None:
        """Give ``user`` the role ``role`` (``none`` takes their role away), as ``actor``.

        The first grant of a project forms its team, and must make someone an admin (an
        admin granting themself, or ``actor`` granting a first admin), so that the project
        is never left with roles and nobody to change them; after it, only an admin grants,
        and the last admin cannot give up the role. Logged as a ``role`` action."""
        self._require_writable()
        user, actor, role = check_actor(user), check_actor(actor), check_role(role)
        if not self._has_roles():
            raise StoreError(f"{self.path.name} predates roles; open it for writing to upgrade")
        stamp = now()
        with self.write() as conn:
            if self._team_formed(conn):
                self.permit(actor, "grant_role")
                admins = set(
                    pd.read_sql(f"SELECT user FROM ({_CURRENT}) WHERE role = 'admin'", conn)["user"]
                )
                if admins == {user} and role != "admin":
                    raise StoreError(
                        f"{user!r} is the project's only admin: make someone else an admin "
                        "first; nothing was changed"
                    )
            elif role != "admin":
                raise StoreError(
                    "the first role granted in a project makes its first admin (e.g. "
                    f"`erroranalysis roles set {actor} admin`); nothing was changed"
                )
            conn.execute(
                "INSERT INTO roles (user, role, granted_by, granted_at) VALUES (?, ?, ?, ?)",
                (user, role, actor, stamp),
            )
            self._action(conn, None, "role", actor, stamp, detail={"user": user, "role": role})
            self._bump("roles")
