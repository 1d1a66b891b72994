"""A run counted where its data is: the census counts kept in the project file.

``erroranalysis import --engine spark`` counts a run that lives in a cluster where it lies
and keeps locally only these counts and the examples drawn for review (the run's frame).
A :class:`Census` holds, for every dataset and rule tag of the run, per target stratum
(0 errors, 1 correct predictions): the examples carrying it and, of those, the ones with a
second person's label and the ones where that label agrees (the integers
:func:`erroranalysis.counts.count_tags` gives for the same tags, every example of weight 1),
and the strata's sizes. :func:`census_tally` joins them with the reviewed tags counted from
the drawn examples' reviews into the :class:`~erroranalysis.counts.Tally` the priority
table is computed from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from .errors import StoreError

if TYPE_CHECKING:
    from .counts import Tally
    from .sampling import Draw
    from .store import Project

__all__ = ["Census", "census_tally", "counted_draw", "counted_elsewhere"]

CENSUS_KINDS = ("dataset", "rule")


@dataclass(frozen=True)
class Census:
    """The counts of a run made by ``engine`` over every example (see the module).

    ``size`` is (errors, correct predictions); ``tagged``, ``human`` and ``agree`` are
    int64 arrays of shape (2, K), one column per tag of ``names`` (its kind in ``kinds``,
    its rule's text in ``rules``, None for a dataset tag)."""

    engine: str
    size: tuple[int, int]
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    rules: tuple[str | None, ...]
    tagged: np.ndarray
    human: np.ndarray
    agree: np.ndarray

    def __post_init__(self) -> None:
        k = len(self.names)
        if len(self.kinds) != k or len(self.rules) != k:
            raise ValueError(f"a census of {k} tags needs {k} kinds and {k} rules")
        unknown = sorted(set(self.kinds) - set(CENSUS_KINDS))
        if unknown:
            raise ValueError(f"a census counts dataset and rule tags, not {unknown[0]!r} ones")
        for name in ("tagged", "human", "agree"):
            if np.shape(getattr(self, name)) != (2, k):
                raise ValueError(f"the census's {name} counts must have shape (2, {k})")

    def only(self, keep: list[int]) -> Census:
        """The census of its tags at positions ``keep`` only."""
        return Census(
            engine=self.engine,
            size=self.size,
            names=tuple(self.names[i] for i in keep),
            kinds=tuple(self.kinds[i] for i in keep),
            rules=tuple(self.rules[i] for i in keep),
            tagged=self.tagged[:, keep],
            human=self.human[:, keep],
            agree=self.agree[:, keep],
        )

    def tally(self, *, hlp: dict[str, float], effort: dict[str, float]) -> Tally:
        """The census as a :class:`~erroranalysis.counts.Tally` of its tags (weight 1)."""
        from .counts import TagCounts, Tally

        size = np.asarray(self.size, dtype=np.int64)
        seen = np.repeat(size[:, None], len(self.names), axis=1)
        return Tally(
            names=self.names,
            kinds=self.kinds,
            counts=TagCounts.unweighted(
                size=size, seen=seen, tagged=self.tagged, human=self.human, agree=self.agree
            ),
            hlp={t: v for t, v in hlp.items() if t in self.names},
            effort={t: v for t, v in effort.items() if t in self.names},
        )


def counted_elsewhere(project: Project, dataset: str, run: str | None = None) -> StoreError:
    """The error of an analysis that needs every example of a run counted elsewhere."""
    info = project.dataset(dataset).run(run)
    return StoreError(
        f"run {info.name!r} of dataset {dataset!r} was imported with --engine "
        f"{info.counted_by}: the project file holds its counts and the examples drawn for "
        f"review, not its {info.n_examples:,} examples, and this needs every example "
        "(priorities works from the counts)"
    )


def counted_draw(project: Project, dataset: str, run: str | None = None) -> Draw:
    """The review queue drawn where run ``run`` of ``dataset`` (its latest unless named)
    was counted: the sample its import recorded (the latest of the run made since it was
    imported whose design names the run's engine), its examples in review order, each
    with the chance it had of being drawn. StoreError for a run counted in memory, or one
    whose import recorded no sample."""
    from .sampling import Draw

    store = project.dataset(dataset)
    info = store.run(run)
    if info.counted_by is None:
        raise StoreError(
            f"run {info.name!r} of dataset {dataset!r} was counted in memory: its review "
            "queue is drawn on the Review page, not at its import"
        )
    samples = store.samples()
    by_engine = np.array([d.get("engine") == info.counted_by for d in samples["design"]], bool)
    made = samples[
        (samples["run"] == info.name) & (samples["created_at"] >= info.imported_at) & by_engine
    ]
    if made.empty:
        raise StoreError(
            f"run {info.name!r} of dataset {dataset!r} was imported with --engine "
            f"{info.counted_by} but no sample of its examples was recorded: import it again"
        )
    row = made.iloc[-1]
    return Draw(
        run=info.name,
        strategy=str(row["strategy"]),
        seed=int(row["seed"]),
        size=int(row["size"]),
        examples=store.sample_draws(int(row["id"])),
        design=row["design"],
    )


def census_tally(project: Project, dataset: str, *, run: str | None = None) -> Tally:
    """The tally of run ``run`` of ``dataset`` (its latest unless named) for the priority
    table: for a run counted in memory, :func:`erroranalysis.counts.tally` of its evidence;
    for a run counted elsewhere, its census (the dataset and rule tags, every example)
    joined with its reviewed tags counted from the reviews of its drawn examples, weighted
    by their design weights over the whole run's strata. A rule defined or changed since
    the run was counted is left out: its examples are not in the project file."""
    from .counts import join_tallies, tally
    from .evidence import load_evidence

    info = project.dataset(dataset).run(run)
    if info.counted_by is None:
        return tally(load_evidence(project, dataset, run=info.name))
    census = project.dataset(dataset).census(info.name)
    local = load_evidence(project, dataset, run=info.name, sample_only=True)
    rules = local.definitions["rule"]
    current = [
        i
        for i, (name, rule) in enumerate(zip(census.names, census.rules, strict=True))
        if rule is None or (name in rules.index and rules[name] == rule)
    ]
    census = census.only(current)
    counted = tally(local, kinds=("reviewed",))
    size = np.asarray(census.size, dtype=np.int64)
    reviewed = replace(counted, counts=replace(counted.counts, size=size))
    return join_tallies(census.tally(hlp=local.hlp, effort=local.effort), reviewed)
