"""The bridge between the project store and the pure engine functions.

:func:`load_evidence` gathers, for one run of a dataset, everything the engine needs — the
example frame, every tag as a bool column (dataset tags from the data, rule tags evaluated
on it, reviewed tags from the log), which examples were reviewed, and the team's HLP and
effort — and the other functions hand that :class:`Evidence` to
:mod:`erroranalysis.priorities` and :mod:`erroranalysis.slices`. The CLI and the app call
only these, so both show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import priorities, slices
from .review import DIRECT as DIRECT_QUEUE
from .rules import evaluate_rule
from .store import Project
from .vocabulary import TAG_PREFIX

REVIEWED_TAG_SLICE_NOTE = "reviewed examples only (mostly errors): accuracy is biased low"


@dataclass(frozen=True)
class Evidence:
    """What is known about one run's tags, aligned on the run's examples."""

    examples: pd.DataFrame
    tags: pd.DataFrame
    kinds: dict[str, str]
    reviewed: pd.Series
    hlp: dict[str, float]
    effort: dict[str, float]
    rule_problems: dict[str, str] = field(default_factory=dict)

    def engine_options(self) -> dict:
        return {"kinds": self.kinds, "reviewed": self.reviewed}


def _definitions(project: Project) -> pd.DataFrame:
    return project.tag_definitions().set_index("tag")


def _numbers(column: pd.Series) -> dict[str, float]:
    return {tag: float(v) for tag, v in column.items() if v is not None and not pd.isna(v)}


def load_evidence(
    project: Project,
    dataset: str,
    *,
    run: str | None = None,
    examples: pd.DataFrame | None = None,
) -> Evidence:
    """Everything the engine needs for ``dataset`` (its latest run unless ``run``).

    Pass ``examples`` (the run's frame, e.g. from a cache) to skip reading it again.
    An example counts as reviewed when someone marked it reviewed or tagged it.
    """
    frame = project.dataset(dataset).examples(run) if examples is None else examples
    definitions = _definitions(project)
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for column in frame.columns:
        if column.startswith(TAG_PREFIX):
            name = column[len(TAG_PREFIX) :]
            columns[name] = frame[column].to_numpy(dtype=bool)
            kinds[name] = "dataset"
    rule_problems: dict[str, str] = {}
    for name, rule in definitions["rule"].dropna().items():
        if name in kinds:
            continue
        try:
            columns[name] = evaluate_rule(rule, frame).to_numpy()
            kinds[name] = "rule"
        except ValueError as err:  # a rule on columns this dataset does not have
            rule_problems[name] = str(err)

    positions = pd.Index(frame["id"].astype(str))
    assignments = project.dataset(dataset).tag_assignments()
    where = positions.get_indexer(assignments["example_id"])
    assignments = assignments[where >= 0].assign(position=where[where >= 0])
    n = len(frame)
    for name, group in assignments.groupby("tag", sort=True):
        if name in kinds:  # the data already says, for every example
            continue
        column = np.zeros(n, dtype=bool)
        column[group["position"].to_numpy()] = True
        columns[name] = column
        kinds[name] = "reviewed"

    # The estimates treat the reviewed correct examples as a random sample of the correct
    # ones. A correct example opened directly (a link, a search by id) was chosen, not
    # sampled, so it counts only if it was also reviewed from a queue; errors all count.
    reviews = project.dataset(dataset).reviews()
    sampled = reviews.loc[reviews["queue"] != DIRECT_QUEUE, "example_id"]
    direct = reviews.loc[reviews["queue"] == DIRECT_QUEUE, "example_id"]
    reviewed = np.zeros(n, dtype=bool)
    for ids in (reviews["example_id"], assignments["example_id"]):
        found = positions.get_indexer(ids)
        reviewed[found[found >= 0]] = True
    correct = frame["correct"].to_numpy(dtype=bool)
    chosen = np.zeros(n, dtype=bool)
    found = positions.get_indexer(direct)
    chosen[found[found >= 0]] = True
    found = positions.get_indexer(sampled)
    chosen[found[found >= 0]] = False
    reviewed &= ~(chosen & correct)

    tags = pd.DataFrame(columns, index=frame.index) if columns else pd.DataFrame(index=frame.index)
    known = [t for t in tags.columns]
    return Evidence(
        examples=frame,
        tags=tags,
        kinds=kinds,
        reviewed=pd.Series(reviewed, index=frame.index, name="reviewed"),
        hlp={t: v for t, v in _numbers(definitions["hlp"]).items() if t in known},
        effort={t: v for t, v in _numbers(definitions["effort"]).items() if t in known},
        rule_problems=rule_problems,
    )


def priority_table(
    project: Project,
    dataset: str,
    *,
    run: str | None = None,
    by: str = "marginal_effect",
    evidence: Evidence | None = None,
) -> pd.DataFrame:
    """The ranked priority table (see :func:`erroranalysis.priorities.priority_table`)."""
    evidence = evidence or load_evidence(project, dataset, run=run)
    return priorities.priority_table(
        evidence.examples, evidence.tags, hlp=evidence.hlp, effort=evidence.effort, by=by,
        **evidence.engine_options(),
    )  # fmt: skip


def error_share_table(evidence: Evidence) -> pd.DataFrame:
    """Share of errors carrying each tag, with intervals (the spreadsheet view)."""
    return priorities.error_shares(evidence.examples, evidence.tags, **evidence.engine_options())


def untagged_errors(evidence: Evidence) -> pd.DataFrame:
    """Reviewed errors that carry no tag yet."""
    return priorities.untagged_errors(evidence.examples, evidence.tags, **evidence.engine_options())


def tag_overlap(
    evidence: Evidence, *, measure: str = "count", errors_only: bool = False
) -> pd.DataFrame:
    """Tag co-occurrence (square frame), to see where marginal effects double-count."""
    return priorities.tag_overlap(
        evidence.examples, evidence.tags, measure=measure, errors_only=errors_only,
        **evidence.engine_options(),
    )  # fmt: skip


def exclusive_shares(evidence: Evidence) -> pd.DataFrame:
    """Per tag: how many of its examples carry no other tag."""
    return priorities.exclusive_shares(
        evidence.examples, evidence.tags, **evidence.engine_options()
    )


def reviewable_tags(project: Project, dataset: str) -> list[str]:
    """The tags a reviewer sets by hand on ``dataset``: the taxonomy without rule tags and
    without tags that come with the data (of this dataset or any other)."""
    definitions = project.tag_definitions()
    data_tags = {t for info in project.runs() for t in info.dataset_tags}
    manual = definitions.loc[definitions["rule"].isna() | (definitions["rule"] == ""), "tag"]
    return [t for t in manual if t not in data_tags]


def tag_overview(
    project: Project,
    dataset: str,
    *,
    run: str | None = None,
    evidence: Evidence | None = None,
) -> pd.DataFrame:
    """Every tag of the project as the Tags page lists it: kind, count, HLP (set or
    measured), effort, description and rule. Tags the dataset has not seen have kind
    ``reviewed`` and count 0."""
    evidence = evidence or load_evidence(project, dataset, run=run)
    table = priorities.priority_table(
        evidence.examples, evidence.tags, hlp=evidence.hlp, effort=evidence.effort, draws=200,
        **evidence.engine_options(),
    ).set_index("tag")  # fmt: skip
    definitions = _definitions(project)
    # The taxonomy is shared by the project's datasets; another dataset's own data tags
    # mean nothing here.
    elsewhere = {t for info in project.runs() if info.dataset != dataset for t in info.dataset_tags}
    names = sorted((set(definitions.index) - elsewhere) | set(table.index), key=str.casefold)
    rows = []
    for name in names:
        known = name in table.index
        rows.append(
            {
                "tag": name,
                "kind": evidence.kinds.get(name, "reviewed"),
                "examples": int(table.at[name, "examples"]) if known else 0,
                "hlp": table.at[name, "hlp"] if known else definitions.at[name, "hlp"],
                "hlp_source": table.at[name, "hlp_source"] if known else (
                    "set" if pd.notna(definitions.at[name, "hlp"]) else "empty"
                ),
                "effort": definitions.at[name, "effort"] if name in definitions.index else np.nan,
                "description": definitions.at[name, "description"] if name in definitions.index else "",
                "rule": definitions.at[name, "rule"] if name in definitions.index else None,
                "rule_problem": evidence.rule_problems.get(name, ""),
            }
        )  # fmt: skip
    return pd.DataFrame(
        rows,
        columns=["tag", "kind", "examples", "hlp", "hlp_source", "effort", "description",
                 "rule", "rule_problem"],
    )  # fmt: skip


def slice_table(
    project: Project,
    dataset: str,
    *,
    by: str,
    run: str | None = None,
    positive: str | None = None,
    evidence: Evidence | None = None,
) -> pd.DataFrame:
    """Performance audit: metrics per slice of a metadata column, or per tag (``by="tags"``).

    Dataset and rule tags are sliced on every example. A reviewed tag is known only on the
    reviewed examples, mostly errors, so its slice is computed there and says so.
    """
    evidence = evidence or load_evidence(project, dataset, run=run)
    frame = evidence.examples
    if by != "tags":
        return slices.slice_metrics(frame, by=by, positive=positive)
    full = [t for t, k in evidence.kinds.items() if k != "reviewed"]
    sampled = [t for t, k in evidence.kinds.items() if k == "reviewed"]
    parts = []
    if full:
        part = slices.slice_metrics(
            frame, by=evidence.tags[full], positive=positive, hlp=evidence.hlp
        )
        parts.append(part.assign(evidence="dataset"))
    if sampled and evidence.reviewed.any():
        mask = evidence.reviewed.to_numpy()
        part = slices.slice_metrics(
            frame[mask], by=evidence.tags.loc[mask, sampled], positive=positive, hlp=evidence.hlp
        )
        parts.append(part.assign(evidence=REVIEWED_TAG_SLICE_NOTE))
    if not parts:
        return slices.slice_metrics(frame, by=evidence.tags[[]], positive=positive)
    return pd.concat(parts, ignore_index=True)


def confusion(evidence: Evidence, *, tag: str | None = None) -> pd.DataFrame:
    """Confusion matrix of the run, or of the examples carrying ``tag`` (for a reviewed
    tag: the reviewed ones), with the run's classes on both axes."""
    frame = evidence.examples
    labels = sorted(set(frame["label"].astype(str)) | set(frame["prediction"].astype(str)))
    mask = None
    if tag is not None:
        mask = evidence.tags[tag].to_numpy()
        if evidence.kinds.get(tag) == "reviewed":
            mask = mask & evidence.reviewed.to_numpy()
    return slices.confusion(frame, mask=mask, labels=labels)


def dataset_summary(examples: pd.DataFrame, *, hlp: Mapping[str, float] | None = None) -> dict:
    """Size, errors, accuracy, class balance, skew warnings and baselines of a run."""
    n = len(examples)
    errors = int((~examples["correct"].astype(bool)).sum())
    labels = examples["label"].value_counts()
    balance = pd.DataFrame(
        {
            "class": labels.index.astype(str),
            "examples": labels.to_numpy(),
            "share": labels.to_numpy() / max(n, 1),
            "predicted": examples["prediction"].value_counts().reindex(labels.index, fill_value=0).to_numpy(),
        }
    )  # fmt: skip
    return {
        "examples": n,
        "errors": errors,
        "accuracy": 1 - errors / n if n else float("nan"),
        "class_balance": balance,
        "warnings": slices.metric_warnings(examples),
        "baselines": slices.baselines(examples),
    }


RUN_COLUMNS = [
    "dataset", "run", "examples", "errors", "accuracy", "source", "imported_at", "imported_by",
]  # fmt: skip


def runs_table(project: Project) -> pd.DataFrame:
    """Every dataset and run of the project, one row per run."""
    rows = [
        (r.dataset, r.name, r.n_examples, r.n_errors, r.accuracy, r.source, r.imported_at,
         r.imported_by)
        for r in project.runs()
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=RUN_COLUMNS)
