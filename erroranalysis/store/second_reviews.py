"""A dataset's plan of second reviews and its adjudications, kept in the project file.

The plan (``review_plans``) is append-only: the dataset's latest row is its plan, each
one logged as a ``review_plan`` action. An adjudication (``adjudications``) decides one
tag of one example present or absent where its reviewers disagree; it is a logged
``adjudicate`` action that its author's undo retracts. What the plan means is stated in
:mod:`erroranalysis.second_review`.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import StoreError
from ..second_review import ReviewPlan, check_plan
from ..vocabulary import check_tag_name
from .common import now
from .files import _guarded
from .team import TEAM_SCHEMA

if TYPE_CHECKING:
    from .project import Project

SEED_RANGE = 2**31  # a fresh seed is drawn below this, so it reads as a plain number


class SecondReviews:
    """The second-review part of :class:`~erroranalysis.store.dataset.DatasetStore`."""

    # DatasetStore provides these, and id, path and _check_example.
    project: Project
    name: str

    def _need_plans(self) -> None:
        if self.project.schema_version < TEAM_SCHEMA:
            raise StoreError(
                f"{self.path.name} predates second reviews; open it for writing to upgrade"
            )

    @_guarded
    def set_review_plan(
        self,
        *,
        share: float,
        reviewers: int = 2,
        rule: str = "any",
        seed: int | None = None,
        actor: str,
    ) -> ReviewPlan:
        """Set the dataset's plan of second reviews (see
        :mod:`erroranalysis.second_review`), as ``actor``, who must be an admin once the
        project has a team. ``seed`` None draws a fresh one, recorded with the plan. A bad
        value raises :class:`StoreError` naming it and changes nothing. Logged as a
        ``review_plan`` action; returns the plan as recorded."""
        actor = self.project._permit(actor, "set_review_plan")
        self._need_plans()
        if seed is None:
            seed = secrets.randbelow(SEED_RANGE)
        try:
            plan = check_plan(share, reviewers=reviewers, rule=rule, seed=seed)
        except ValueError as err:
            raise StoreError(f"{err}; nothing was changed") from None
        stamp = now()
        with self.project.write() as conn:
            dataset_id = self.id
            conn.execute(
                "INSERT INTO review_plans (dataset_id, share, seed, reviewers, rule, set_by,"
                " set_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset_id, plan.share, plan.seed, plan.reviewers, plan.rule, actor, stamp),
            )
            detail = {
                "share": plan.share,
                "seed": plan.seed,
                "reviewers": plan.reviewers,
                "rule": plan.rule,
            }
            self.project._action(conn, dataset_id, "review_plan", actor, stamp, detail=detail)
            self.project._bump("review_plans")
        return self.review_plan()

    @_guarded
    def review_plan(self) -> ReviewPlan | None:
        """The dataset's current plan of second reviews, or None when none was set (always
        for a file older than schema 6)."""
        if self.project.schema_version < TEAM_SCHEMA:
            return None
        row = self.project._conn.execute(
            "SELECT share, seed, reviewers, rule, set_by, set_at FROM review_plans"
            " WHERE dataset_id = ? ORDER BY id DESC LIMIT 1",
            (self.id,),
        ).fetchone()
        if row is None:
            return None
        share, seed, reviewers, rule, set_by, set_at = row
        return ReviewPlan(
            share=float(share),
            seed=int(seed),
            reviewers=int(reviewers),
            rule=str(rule),
            set_by=set_by,
            set_at=set_at,
        )

    @_guarded
    def adjudicate(self, example_id: str, tag: str, present: bool, *, actor: str) -> int:
        """Decide that ``example_id`` carries ``tag`` (``present``) or not, as ``actor`` (a
        reviewer, once the project has a team), where its reviewers disagree; under the
        ``adjudicated`` rule the example's tags follow it. Logged as an ``adjudicate``
        action, which its author's undo retracts; returns the action's id. An unknown
        example or tag raises :class:`StoreError` and changes nothing."""
        actor = self.project._permit(actor, "adjudicate")
        tag = check_tag_name(tag)
        if not isinstance(present, bool):
            raise StoreError(f"present must be True or False, got {present!r}")
        self._need_plans()
        self._check_example(example_id)
        stamp = now()
        with self.project.write() as conn:
            dataset_id = self.id
            tag_id = self.project._tag_id(conn, tag, actor, stamp, create=False)
            detail = {"example": example_id, "tag": tag, "present": present}
            action = self.project._action(
                conn, dataset_id, "adjudicate", actor, stamp, detail=detail
            )
            conn.execute(
                "INSERT INTO adjudications (action_id, dataset_id, example_id, tag_id, present,"
                " actor, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (action, dataset_id, example_id, tag_id, int(present), actor, stamp),
            )
            self.project._bump("adjudications")
        return action

    @_guarded
    def adjudications(self) -> pd.DataFrame:
        """The live adjudications of the dataset, the latest per (example, tag) of a live
        tag: example_id, tag, present, actor, at, by example and tag (none for a file
        older than schema 6)."""
        frame = self.project._query_from(
            TEAM_SCHEMA,
            ["example_id", "tag", "present", "actor", "at"],
            "SELECT a.example_id, t.name AS tag, a.present, a.actor, a.at FROM adjudications a"
            " JOIN tags t ON t.id = a.tag_id WHERE a.dataset_id = ? AND a.retracted_by IS NULL"
            " AND t.deleted_at IS NULL AND a.id = (SELECT max(b.id) FROM adjudications b"
            " WHERE b.dataset_id = a.dataset_id AND b.example_id = a.example_id"
            " AND b.tag_id = a.tag_id AND b.retracted_by IS NULL)"
            " ORDER BY a.example_id, t.name",
            (self.id,),
        )
        frame["present"] = frame["present"].astype(bool)
        return frame
