"""Blind second reviews: which examples a second (or third) reviewer sees, and how several
reviewers' decisions become an example's tags.

An admin sets a dataset's plan (:class:`ReviewPlan`): the ``share`` of reviewed examples
that get another review, a ``seed``, how many ``reviewers`` each of them should have
(2: one second review) and the ``rule`` that turns their decisions into the example's
tags.

**The draw.** An example is selected iff :func:`selection_keys` of (seed, example id) is
below ``share``. The key is a stable hash (BLAKE2b of the seed and the id, read as a
number in [0, 1)), so every example is selected independently with probability
``share``, whatever it shows or whoever reviewed it: a Bernoulli sample with inclusion
probability ``share``. The draw is reproducible from the recorded seed alone and does
not change as reviews arrive; agreement measured on it is an honest estimate for every
reviewed example, not only for the hard ones someone chose to look at twice.

**The queue** (:func:`blind_queue`): for one reviewer, the selected examples that have a
decision by someone else, fewer than ``reviewers`` reviewers' decisions, and none by this
reviewer, in the order of their keys (random, reproducible).

**The rule** (:func:`tags_by_rule`), for an example with decisions by two or more
reviewers (each reviewer's latest decision counts); an example with one reviewer keeps
its tags as they are:

* ``any``: the tags it carries and every tag any reviewer gave it;
* ``majority``: the tags more than half of its reviewers gave it;
* ``adjudicated``: the tags it carries (what the first reviewer left it with), with each
  adjudication (:func:`disagreements` lists what to adjudicate) setting its tag present
  or absent.

Every function here is pure and vectorised over frames.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .frames import check_frame
from .vocabulary import SECOND_REVIEW_RULES, STRATUM_SECOND

__all__ = [
    "ReviewPlan",
    "blind_queue",
    "check_plan",
    "disagreements",
    "latest_decisions",
    "selection_keys",
    "tags_by_rule",
]

DECISION_COLUMNS = ("example_id", "reviewer", "tags")
ADJUDICATION_COLUMNS = ("example_id", "tag", "present")
DISAGREEMENT_COLUMNS = ("example_id", "tag", "given_by", "not_given_by", "adjudicated")
_KEY_SPACE = float(2**64)


@dataclass(frozen=True)
class ReviewPlan:
    """A dataset's plan of second reviews (see the module docstring)."""

    share: float
    seed: int
    reviewers: int = 2
    rule: str = "any"
    set_by: str = ""
    set_at: str = ""


def check_plan(share: object, *, reviewers: object, rule: object, seed: object) -> ReviewPlan:
    """The plan of these values, or ValueError naming the first one that is wrong: ``share``
    a number in [0, 1], ``reviewers`` an integer of at least 2, ``rule`` one of
    :data:`~erroranalysis.vocabulary.SECOND_REVIEW_RULES`, ``seed`` a non-negative
    integer."""
    if isinstance(share, bool) or not isinstance(share, int | float | np.integer | np.floating):
        raise ValueError(f"the share of second reviews must be a number, got {share!r}")
    if not 0.0 <= float(share) <= 1.0:
        raise ValueError(f"the share of second reviews must be between 0 and 1, got {share!r}")
    if isinstance(reviewers, bool) or not isinstance(reviewers, int | np.integer):
        raise ValueError(f"reviewers must be a whole number of at least 2, got {reviewers!r}")
    if reviewers < 2:
        raise ValueError(
            f"reviewers must be at least 2 (the first reviewer and one second), got {reviewers}"
        )
    if rule not in SECOND_REVIEW_RULES:
        raise ValueError(f"the rule must be one of {', '.join(SECOND_REVIEW_RULES)}, got {rule!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"the seed must be a non-negative integer, got {seed!r}")
    return ReviewPlan(share=float(share), seed=int(seed), reviewers=int(reviewers), rule=str(rule))


def selection_keys(example_ids: Iterable[str], *, seed: int) -> np.ndarray:
    """One uniform number in [0, 1) per id: BLAKE2b (8 bytes) of ``seed`` and the id, read
    as an integer over 2**64. The same seed and id give the same key on every machine and
    in every version; an example is selected for a second review iff its key < share."""
    prefix = f"{int(seed)}\x00".encode()
    return np.array(
        [
            int.from_bytes(hashlib.blake2b(prefix + str(i).encode(), digest_size=8).digest(), "big")
            / _KEY_SPACE
            for i in example_ids
        ],
        dtype=float,
    )


def _objects(column: pd.Series) -> np.ndarray:
    # Hash lookups on plain object arrays: isin and drop_duplicates on Arrow-backed text
    # walk it in Python, many times slower.
    return column.to_numpy(dtype=object)


def latest_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """Each reviewer's latest decision per example (rows of ``DatasetStore.decisions``,
    oldest first), in the order of ``decisions``."""
    check_frame(decisions, "decisions", DECISION_COLUMNS)
    examples, _ = pd.factorize(_objects(decisions["example_id"]))
    return decisions[_latest(examples, _objects(decisions["reviewer"]))]


def _latest(examples: np.ndarray, reviewers: np.ndarray) -> np.ndarray:
    """True on each (example code, reviewer)'s last row."""
    codes, names = pd.factorize(reviewers)
    pairs = examples.astype(np.int64) * max(len(names), 1) + codes
    return ~pd.Series(pairs).duplicated(keep="last").to_numpy()


@dataclass(frozen=True)
class _Reviewed:
    """The latest decisions by example: the examples (unique ids), each one's number of
    reviewers, and per decision its example's code, reviewer and tags."""

    ids: np.ndarray
    reviewers: np.ndarray
    example: np.ndarray
    reviewer: np.ndarray
    tags: list[tuple[str, ...]]


def _reviewed(decisions: pd.DataFrame) -> _Reviewed:
    check_frame(decisions, "decisions", DECISION_COLUMNS)
    example, ids = pd.factorize(_objects(decisions["example_id"]))
    reviewer = _objects(decisions["reviewer"])
    keep = _latest(example, reviewer)
    example = example[keep]  # every example keeps its latest row: the ids stay
    return _Reviewed(
        ids=np.asarray(ids, dtype=object),
        reviewers=np.bincount(example, minlength=len(ids)),
        example=example,
        reviewer=reviewer[keep],
        tags=decisions["tags"].to_numpy(dtype=object)[keep].tolist(),
    )


def blind_queue(
    decisions: pd.DataFrame,
    examples: pd.DataFrame,
    *,
    plan: ReviewPlan,
    reviewer: str,
    ids: pd.Index | None = None,
) -> pd.DataFrame:
    """The blind second-review queue of ``reviewer`` over the run's ``examples``: the
    selected examples (key < ``plan.share``) that the run holds, with a decision by
    someone else, fewer than ``plan.reviewers`` reviewers' decisions and none by
    ``reviewer``, ordered by key. The columns of :func:`erroranalysis.review.queue_from_draw`
    (``queue`` is ``"second review"``, ``probability`` the share)."""
    seen = _reviewed(decisions)
    ids = ids if ids is not None else pd.Index(examples["id"].astype(str), dtype=object)
    mine = np.zeros(len(seen.ids), dtype=bool)
    mine[seen.example[seen.reviewer == reviewer]] = True
    wanted = seen.ids[(seen.reviewers < plan.reviewers) & ~mine]
    keys = selection_keys(wanted, seed=plan.seed)
    drawn = keys < plan.share
    positions = ids.get_indexer(pd.Index(wanted[drawn].astype(str), dtype=object))
    held = positions >= 0
    order = np.argsort(keys[drawn][held], kind="stable")
    positions = positions[held][order].astype(np.int64)
    values = np.asarray(ids, dtype=object)
    return pd.DataFrame(
        {
            "position": positions,
            "id": pd.Series(values[positions], dtype=object),
            "queue": pd.Series([STRATUM_SECOND] * len(positions), dtype=object),
            "probability": np.full(len(positions), plan.share, dtype=float),
            "correct": examples["correct"].to_numpy(dtype=bool)[positions],
        }
    )


def _votes(seen: _Reviewed) -> tuple[pd.DataFrame, pd.Index]:
    """(example_id, tag, votes, reviewers) of the examples with two or more reviewers,
    sorted by example and tag, and those examples' ids. (A decision names each tag once.)"""
    several = seen.reviewers >= 2
    rows = np.flatnonzero(several[seen.example])
    lengths = np.fromiter((len(seen.tags[i]) for i in rows), dtype=np.int64, count=len(rows))
    given = np.array([t for i in rows for t in seen.tags[i]], dtype=object)
    tag, names = pd.factorize(given)
    example = np.repeat(seen.example[rows], lengths)
    pairs, votes = np.unique(
        example.astype(np.int64) * max(len(names), 1) + tag, return_counts=True
    )
    example, tag = np.divmod(pairs, max(len(names), 1))
    ids = seen.ids[example]
    names = np.asarray(names, dtype=object)[tag] if len(names) else np.empty(0, dtype=object)
    table = pd.DataFrame(
        {
            "example_id": pd.Series(ids, dtype=object),
            "tag": pd.Series(names, dtype=object),
            "votes": votes,
            "reviewers": seen.reviewers[example],
        }
    )
    table = table.sort_values(["example_id", "tag"], kind="stable", ignore_index=True)
    return table, pd.Index(seen.ids[several], dtype=object)


def tags_by_rule(
    assignments: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    rule: str,
    adjudications: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The (example_id, tag) pairs of the examples' tags under ``rule`` (see the module
    docstring): ``assignments`` are the tags the examples carry (``example_id``, ``tag``),
    ``decisions`` the reviewers' (``example_id``, ``reviewer``, ``tags``, oldest first),
    ``adjudications`` (``example_id``, ``tag``, ``present``: the latest live one per pair)
    only for ``adjudicated``. Examples with fewer than two reviewers keep their rows as
    they are; the others' rows are the rule's, sorted by example and tag."""
    if rule not in SECOND_REVIEW_RULES:
        raise ValueError(f"the rule must be one of {', '.join(SECOND_REVIEW_RULES)}, got {rule!r}")
    check_frame(assignments, "assignments", ("example_id", "tag"))
    votes, several = _votes(_reviewed(decisions))
    if several.empty:
        return assignments
    decided = several.get_indexer(_objects(assignments["example_id"])) >= 0
    kept = assignments.loc[~decided, ["example_id", "tag"]]
    carried = _pairs(assignments.loc[decided, "example_id"], assignments.loc[decided, "tag"])
    if rule == "any":
        ruled = pd.concat([carried, votes[["example_id", "tag"]]])
    elif rule == "majority":
        ruled = votes.loc[votes["votes"] * 2 > votes["reviewers"], ["example_id", "tag"]]
    else:
        ruled = _adjudicated(carried, adjudications, several)
    ruled = ruled.drop_duplicates().sort_values(["example_id", "tag"], kind="stable")
    return pd.concat([kept, ruled], ignore_index=True)


def _pairs(example_id: pd.Series, tag: pd.Series) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "example_id": pd.Series(_objects(example_id), dtype=object),
            "tag": pd.Series(_objects(tag), dtype=object),
        }
    )


def _adjudicated(
    carried: pd.DataFrame, adjudications: pd.DataFrame | None, examples: pd.Index
) -> pd.DataFrame:
    if adjudications is None or adjudications.empty:
        return carried
    check_frame(adjudications, "adjudications", ADJUDICATION_COLUMNS)
    decided = adjudications[examples.get_indexer(_objects(adjudications["example_id"])) >= 0]
    pairs = pd.MultiIndex.from_arrays([_objects(decided["example_id"]), _objects(decided["tag"])])
    overruled = pd.MultiIndex.from_arrays(
        [_objects(carried["example_id"]), _objects(carried["tag"])]
    ).isin(pairs)
    present = decided["present"].astype(bool).to_numpy()
    return pd.concat(
        [carried[~overruled], _pairs(decided["example_id"][present], decided["tag"][present])]
    )


def disagreements(
    decisions: pd.DataFrame, *, adjudications: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Where the reviewers of an example disagree: one row per (example, tag) that some of
    its reviewers (two or more, each's latest decision) gave and some did not, sorted by
    example and tag, with ``given_by`` and ``not_given_by`` (sorted tuples of reviewers)
    and ``adjudicated``: True (present), False (absent) or None (not yet)."""
    seen = _reviewed(decisions)
    votes, _ = _votes(seen)
    split = votes[votes["votes"] < votes["reviewers"]]
    if split.empty:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in DISAGREEMENT_COLUMNS})
    gave: dict[tuple[str, str], set[str]] = {}
    who: dict[str, list[str]] = {}
    for example, reviewer, tags in zip(
        seen.ids[seen.example], seen.reviewer, seen.tags, strict=True
    ):
        gave[(example, reviewer)] = set(tags)
        who.setdefault(example, []).append(reviewer)
    rows = []
    for example, tag in zip(split["example_id"], split["tag"], strict=True):
        reviewers = sorted(who[example])
        given = tuple(r for r in reviewers if tag in gave[(example, r)])
        rows.append((example, tag, given, tuple(r for r in reviewers if r not in given)))
    table = pd.DataFrame(rows, columns=list(DISAGREEMENT_COLUMNS[:-1]), dtype=object)
    verdict: dict[tuple[str, str], bool] = {}
    if adjudications is not None and not adjudications.empty:
        check_frame(adjudications, "adjudications", ADJUDICATION_COLUMNS)
        verdict = {
            (e, t): bool(p)
            for e, t, p in zip(
                adjudications["example_id"],
                adjudications["tag"],
                adjudications["present"],
                strict=True,
            )
        }
    table["adjudicated"] = pd.Series(
        [verdict.get(pair) for pair in zip(table["example_id"], table["tag"], strict=True)],
        dtype=object,
    )
    return table
