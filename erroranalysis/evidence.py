"""What the analyses know about one run, and the one place they read it from the project.

:func:`load_evidence` gathers, for one run of a dataset, everything an analysis needs into
an :class:`Evidence`: the example frame, every tag as a bool column (dataset tags from the
data, rule tags evaluated on it, reviewed tags from the log), which examples enter the
estimates and how many examples each stands for (its design weight, from the samples the
reviews were drawn in: :mod:`erroranalysis.design`), the reviews left out and why, the
team's HLP and effort, the taxonomy and the tags other datasets bring with their data. Every analysis (see :mod:`erroranalysis.analyses`) is a pure function of an
Evidence; tests and scripts build one from frames directly.

:func:`check_evidence` is the one validator the analyses call first: it raises ValueError
naming the exact problem (types first, then values) and hands back the arrays they count
on. :func:`human_agreement` is the one rule for when a second person's label agrees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .design import DesignWeights, design_weights, retagged
from .errors import ExpectedError
from .frames import check_frame
from .rules import evaluate_rule
from .second_review import tags_by_rule
from .store import applies_to
from .vocabulary import KINDS, STRATUM_DIRECT, STRATUM_SECOND, TAG_PREFIX

if TYPE_CHECKING:
    from .store import Project
    from .store.common import RunInfo


def _no_definitions() -> pd.DataFrame:
    dtypes = {"description": object, "hlp": float, "effort": float, "rule": object}
    return pd.DataFrame(
        {column: pd.Series(dtype=dtype) for column, dtype in dtypes.items()},
        index=pd.Index([], dtype=object, name="tag"),
    )


@dataclass(frozen=True, eq=False)
class Evidence:
    """What is known about one run's tags, aligned on the run's examples (never mutate).

    Only ``examples`` is required; what is left out means "none": no tags, every tag a
    dataset tag, nobody reviewed, no HLP or effort set, an empty taxonomy.
    """

    examples: pd.DataFrame
    tags: pd.DataFrame | None = None  # bool, one column per tag, the index of examples
    kinds: Mapping[str, str] | None = None  # tag -> one of KINDS
    reviewed: pd.Series | None = None  # bool, the index of examples
    hlp: Mapping[str, float] = field(default_factory=dict)  # tag -> HLP set by the team
    effort: Mapping[str, float] = field(default_factory=dict)  # tag -> effort set
    # The project's taxonomy, indexed by tag: description, hlp, effort, rule.
    definitions: pd.DataFrame | None = None
    # Dataset -> the tags its runs bring with their data (tag:NAME columns).
    data_tags: Mapping[str, frozenset[str]] = field(default_factory=dict)
    rule_problems: Mapping[str, str] = field(default_factory=dict)  # rule tag -> why not
    dataset: str = ""
    run: str = ""
    # Float, the index of examples: the example's design weight (how many examples of the
    # dataset it stands for); NaN where it does not enter the estimates. None = every
    # reviewed example weight 1.
    weights: pd.Series | None = None
    # Reason (text, from vocabulary) -> reviews kept and shown but not in the estimates.
    left_out: Mapping[str, int] = field(default_factory=dict)
    # What the weights were computed from (see load_evidence's ``base``); None when the
    # evidence was built from frames.
    design_inputs: DesignInputs | None = field(default=None, repr=False)
    design: DesignWeights | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        # Fill in the defaults that follow from the frames; check_evidence judges the rest.
        if isinstance(self.examples, pd.DataFrame):
            if self.tags is None:
                object.__setattr__(self, "tags", pd.DataFrame(index=self.examples.index))
            if self.reviewed is None and isinstance(self.weights, pd.Series):
                object.__setattr__(self, "reviewed", self.weights.notna().rename("reviewed"))
            elif self.reviewed is None:
                nobody = pd.Series(False, index=self.examples.index, name="reviewed")
                object.__setattr__(self, "reviewed", nobody)
        if self.kinds is None and isinstance(self.tags, pd.DataFrame):
            object.__setattr__(self, "kinds", dict.fromkeys(self.tags.columns, "dataset"))
        if self.definitions is None:
            object.__setattr__(self, "definitions", _no_definitions())


# --------------------------------------------------------------------------- the project


@dataclass(frozen=True, eq=False)
class DesignInputs:
    """Everything a run's design weights depend on: the frame and id index they were
    computed for, the dataset's reviews (second reviews left out), its samples (a
    sample's draws never change once written) and runs. The ids carrying a reviewed tag
    only count the tagged examples left out (:func:`erroranalysis.design.retagged`)."""

    frame: pd.DataFrame
    ids: pd.Index
    reviews: pd.DataFrame
    samples: pd.DataFrame
    runs: tuple[RunInfo, ...]  # the dataset's runs

    def same(self, other: DesignInputs) -> bool:
        """Whether weights computed from ``other`` are the weights of these inputs."""
        return (
            self.frame is other.frame
            and self.ids is other.ids
            and self.reviews.equals(other.reviews)
            and self.samples[["id", "created_at"]].equals(other.samples[["id", "created_at"]])
            and self.runs == other.runs
        )


def taxonomy(
    project: Project, dataset: str | None = None
) -> tuple[pd.DataFrame, dict[str, frozenset[str]]]:
    """The tag definitions indexed by tag (with ``dataset``, only those of the tags that
    apply to it: a tag scoped to other datasets is no tag of this one), and each
    dataset's tags from data."""
    definitions = project.tag_definitions().set_index("tag")
    if dataset is not None:
        applies = definitions["datasets"].map(lambda scope: applies_to(scope, dataset))
        definitions = definitions[applies.astype(bool)]
    data_tags: dict[str, set[str]] = {}
    for info in project.runs():
        data_tags.setdefault(info.dataset, set()).update(info.dataset_tags)
    return definitions, {dataset: frozenset(tags) for dataset, tags in data_tags.items()}


def _numbers(column: pd.Series) -> dict[str, float]:
    return {tag: float(v) for tag, v in column.items() if v is not None and not pd.isna(v)}


def tag_numbers(definitions: pd.DataFrame) -> tuple[dict[str, float], dict[str, float]]:
    """The HLP and the effort set in ``definitions`` (from :func:`taxonomy`), tag -> number,
    checked as :func:`check_evidence` checks them (ValueError naming the tag otherwise)."""
    return (
        _check_numbers(_numbers(definitions["hlp"]), "hlp"),
        _check_numbers(_numbers(definitions["effort"]), "effort", positive=True),
    )


def load_evidence(
    project: Project,
    dataset: str,
    *,
    run: str | None = None,
    examples: pd.DataFrame | None = None,
    base: Evidence | None = None,
    sample_only: bool = False,
) -> Evidence:
    """Everything the analyses need for ``dataset`` (its latest run unless ``run``).

    Pass ``examples`` (the run's frame, e.g. from a cache) to skip reading it again, and
    ``base`` (this run's evidence at an earlier revision, loaded with the same
    ``examples``) to reuse what did not change since: the rule tags whose rule is the
    same, and the design weights when the reviews, the samples and the runs are the same
    (a change in which examples carry a reviewed tag only recounts the tagged examples
    left out), so another reviewer's tag toggle recomputes only the reviewed tag columns.
    The result equals a load without ``base``.
    Each example's design weight comes from the samples its reviews were drawn in
    (:func:`erroranalysis.design.design_weights`, where the rules are): an example is
    ``reviewed`` when it has a weight, and ``left_out`` counts the reviews kept but not
    estimated, per reason.

    A run counted elsewhere (``import --engine spark``, :mod:`erroranalysis.census`) holds
    only the examples drawn for review: its evidence is refused (StoreError naming the run)
    unless ``sample_only``, which gives the evidence of those examples, with their design
    weights over the whole run's strata.
    """
    info = project.dataset(dataset).run(run)
    if info.counted_by is not None and not sample_only:
        from .census import counted_elsewhere

        raise counted_elsewhere(project, dataset, info.name)
    store = project.dataset(dataset)
    frame = store.examples(info.name, sample_only=True) if examples is None else examples
    definitions, data_tags = taxonomy(project, info.dataset)
    columns: dict[str, np.ndarray] = {}
    kinds: dict[str, str] = {}
    for column in frame.columns:
        if column.startswith(TAG_PREFIX):
            name = column[len(TAG_PREFIX) :]
            columns[name] = frame[column].to_numpy(dtype=bool)
            kinds[name] = "dataset"
    rule_problems: dict[str, str] = {}
    reusable = base is not None and base.examples is frame and base.run == info.name
    for name, rule in definitions["rule"].dropna().items():
        if name in kinds:
            continue
        if reusable and _same_rule(base, name, rule):
            columns[name] = base.tags[name].to_numpy()
            kinds[name] = "rule"
            continue
        try:
            columns[name] = evaluate_rule(rule, frame).to_numpy()
            kinds[name] = "rule"
        except ValueError as err:  # a rule on columns this dataset does not have
            rule_problems[name] = str(err)

    # The run's id index is built once per import and kept (Project.run_index): hashing a
    # million ids on every revision would cost most of a redraw.
    positions, _ = project.run_index(info)
    if len(positions) != len(frame):  # a frame that is not the stored run's
        positions = pd.Index(frame["id"].astype(str), dtype=object)
    assignments = reviewed_tags(project, dataset)
    where = positions.get_indexer(assignments["example_id"])
    assignments = assignments[where >= 0].assign(position=where[where >= 0])
    n = len(frame)
    for name, group in assignments.groupby("tag", sort=True):
        if name in kinds:  # the data already says, for every example
            continue
        if name not in definitions.index:  # scoped to other datasets since
            continue
        column = np.zeros(n, dtype=bool)
        column[group["position"].to_numpy()] = True
        columns[name] = column
        kinds[name] = "reviewed"

    inputs = design_inputs(project, dataset, frame, ids=positions)
    previous = base.design_inputs if reusable else None
    if previous is not None and base.design is not None and previous.same(inputs):
        # Only which examples carry a reviewed tag may differ: recount those left out.
        design = retagged(base.design, assignments["example_id"], ids=positions)
        inputs, reviewed = previous, base.reviewed
    else:
        sizes = (
            None if info.counted_by is None else (info.n_errors, info.n_examples - info.n_errors)
        )
        design = design_of(project, dataset, inputs, tagged=assignments["example_id"], sizes=sizes)
        reviewed = design.weights.notna().rename("reviewed")
    tags = pd.DataFrame(columns, index=frame.index) if columns else pd.DataFrame(index=frame.index)
    return Evidence(
        examples=frame,
        tags=tags,
        kinds=kinds,
        reviewed=reviewed,
        weights=design.weights,
        left_out=design.left_out,
        hlp={t: v for t, v in _numbers(definitions["hlp"]).items() if t in kinds},
        effort={t: v for t, v in _numbers(definitions["effort"]).items() if t in kinds},
        definitions=definitions,
        data_tags=data_tags,
        rule_problems=rule_problems,
        dataset=info.dataset,
        run=info.name,
        design_inputs=inputs,
        design=design,
    )


def _same_rule(base: Evidence, name: str, rule: str) -> bool:
    """Whether ``base`` evaluated rule tag ``name`` from the same ``rule`` text."""
    if base.kinds.get(name) != "rule" or name not in base.definitions.index:
        return False
    return base.definitions.at[name, "rule"] == rule


def reviewed_tags(project: Project, dataset: str) -> pd.DataFrame:
    """The dataset's reviewed tags as (example_id, tag) rows: the tags its examples carry,
    and where a plan of second reviews is set, on each example with two or more
    reviewers' decisions the tags of the plan's rule
    (:func:`erroranalysis.second_review.tags_by_rule`)."""
    store = project.dataset(dataset)
    assignments = store.tag_assignments()
    plan = store.review_plan()
    if plan is None:
        return assignments
    return tags_by_rule(
        assignments,
        store.decisions(),
        rule=plan.rule,
        adjudications=store.adjudications() if plan.rule == "adjudicated" else None,
    )


def design_inputs(
    project: Project, dataset: str, frame: pd.DataFrame, *, ids: pd.Index
) -> DesignInputs:
    """What ``frame``'s design weights depend on. Second reviews are left out: their
    examples entered with the first review."""
    store = project.dataset(dataset)
    reviews = store.reviews()
    reviews = reviews[reviews["queue"] != STRATUM_SECOND]
    return DesignInputs(
        frame=frame,
        ids=ids,
        reviews=reviews,
        samples=store.samples(),
        runs=tuple(store.runs()),
    )


def design_of(
    project: Project,
    dataset: str,
    inputs: DesignInputs,
    *,
    tagged: pd.Series,
    sizes: tuple[int, int] | None = None,
) -> DesignWeights:
    """The design weights of ``inputs.frame``'s examples from the reviews and samples
    (``sizes``: the whole run's strata, when the frame holds only its drawn examples)."""
    store = project.dataset(dataset)
    reviews, samples = inputs.reviews, inputs.samples
    draws = {int(s): store.sample_draws(int(s)) for s in samples["id"]}
    legacy = reviews["sample_id"].isna() & (reviews["queue"] != STRATUM_DIRECT)
    legacy_runs = set(reviews.loc[legacy, "run"].dropna())
    runs = {info.name: project.run_index(info) for info in inputs.runs if info.name in legacy_runs}
    counted = {
        info.name: (info.n_errors, info.n_examples - info.n_errors)
        for info in inputs.runs
        if info.name in legacy_runs and info.counted_by is not None
    }
    # A production sample has no labels, so no correct column, and no reviews.
    frame = inputs.frame
    target = frame if "correct" in frame else frame.assign(correct=False)
    return design_weights(
        target,
        reviews,
        samples=samples,
        draws=draws,
        runs=runs,
        tagged=tagged,
        ids=inputs.ids,
        stratum_sizes=sizes,
        run_sizes=counted,
    )


def reviewable_tags(project: Project, dataset: str | None = None) -> list[str]:
    """The tags a reviewer sets by hand (on ``dataset``, if given), in shortcut order: the
    taxonomy without rule tags, tags that come with the data of any dataset, and tags
    scoped to other datasets (see :meth:`~erroranalysis.store.Project.tags_for`). Cheaper
    than :func:`load_evidence`: it reads only the taxonomy and the list of runs."""
    return project.tags_for(dataset)


def derived_tags(project: Project) -> frozenset[str]:
    """The tags nobody sets by hand (the complement of :func:`reviewable_tags`): rule tags
    and the tags that come with the data of any dataset."""
    definitions, data_tags = taxonomy(project)
    every = frozenset(definitions.index).union(*data_tags.values())
    return every - frozenset(project.tags_for(None))


# --------------------------------------------------------------------------- validation


@dataclass(frozen=True)
class Checked:
    """An :class:`Evidence` after :func:`check_evidence`, as the arrays the analyses count."""

    tag_names: list[str]
    kinds: list[str]
    correct: np.ndarray  # bool, one per example
    reviewed: np.ndarray  # bool, one per example
    matrix: np.ndarray  # bool, examples x tags (read-only: may share the evidence's memory)
    human: tuple[np.ndarray, np.ndarray] | None  # see human_agreement
    hlp: dict[str, float]
    effort: dict[str, float]
    weights: np.ndarray | None = None  # float, one per example, NaN where not reviewed


def human_agreement(examples: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Per example: whether it has a second person's label (``human_label``), and whether
    that label equals ``label``. None when the frame has no ``human_label`` column."""
    if "human_label" not in examples.columns:
        return None
    human = examples["human_label"]
    known = human.notna().to_numpy()
    agrees = np.zeros(len(examples), dtype=bool)
    if known.any():
        agrees[known] = (
            human.astype(object).to_numpy()[known]
            == examples["label"].astype(object).to_numpy()[known]
        )
    return known, agrees


def _check_bool_series(values: object, name: str, index: pd.Index) -> np.ndarray:
    if not isinstance(values, pd.Series):
        raise ValueError(f"{name} must be a pandas Series, got {type(values).__name__}")
    if not pd.api.types.is_bool_dtype(values.dtype):
        raise ValueError(f"{name} must have a bool dtype, got {values.dtype}")
    if values.hasnans:
        raise ValueError(f"{name} has missing values at {list(values.index[values.isna()][:5])}")
    if not values.index.equals(index):
        raise ValueError(f"{name} must have the same index as examples")
    return values.to_numpy(dtype=bool)


def _check_fraction(value: object, name: str) -> None:
    """``value`` is a number strictly between 0 and 1 (a level or a significance)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")
    if not 0 < float(value) < 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value!r}")


def _check_draws(draws: object, seed: object, *, minimum: int) -> None:
    """``draws`` is an integer of at least ``minimum``; ``seed`` a non-negative integer."""
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < minimum:
        raise ValueError(f"draws must be an integer of at least {minimum}, got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _check_numbers(values: object, name: str, *, positive: bool = False) -> dict[str, float]:
    """Mapping tag -> finite float, in [0, 1] or positive; None or NaN mean "not set"."""
    if not isinstance(values, Mapping):
        raise ValueError(f"{name} must be a mapping tag -> number, got {type(values).__name__}")
    checked: dict[str, float] = {}
    for tag, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise ValueError(f"{name}[{tag!r}] must be a number, got {value!r}")
        value = float(value)
        if np.isnan(value):
            continue
        if positive:
            if not (np.isfinite(value) and value > 0):
                raise ValueError(f"{name}[{tag!r}] must be a positive number, got {value!r}")
        elif not 0.0 <= value <= 1.0:
            raise ValueError(f"{name}[{tag!r}] must be between 0 and 1, got {value!r}")
        checked[str(tag)] = value
    return checked


def _check_weights(weights: object, index: pd.Index, reviewed: np.ndarray) -> np.ndarray | None:
    """The design weights as floats (None: every reviewed example weight 1): a positive
    finite number exactly where an example is reviewed, NaN elsewhere."""
    if weights is None:
        return None
    if not isinstance(weights, pd.Series):
        raise ValueError(f"weights must be a pandas Series or None, got {type(weights).__name__}")
    dtype = weights.dtype
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_float_dtype(dtype):
        raise ValueError(f"weights must have a float dtype, got {dtype}")
    if not weights.index.equals(index):
        raise ValueError("weights must have the same index as examples")
    values = weights.to_numpy(dtype=float, na_value=np.nan)
    given = ~np.isnan(values)
    bad = given & ~(np.isfinite(values) & (values > 0))
    if bad.any():
        where = list(index[bad][:5])
        raise ValueError(
            f"weights must be positive numbers where given, got {values[bad][:5]} at {where}"
        )
    if (given != reviewed).any():
        where = list(index[given != reviewed][:5])
        raise ValueError(
            f"weights must be given exactly on the reviewed examples, not so at {where}"
        )
    return values


def _check_left_out(left_out: object) -> None:
    if not isinstance(left_out, Mapping):
        raise ValueError(
            f"left_out must be a mapping reason -> reviews, got {type(left_out).__name__}"
        )
    for reason, count in left_out.items():
        if not isinstance(reason, str):
            raise ValueError(f"left_out reasons must be text, got {reason!r}")
        if isinstance(count, bool) or not isinstance(count, int | np.integer) or count < 0:
            raise ValueError(f"left_out[{reason!r}] must be a count of reviews, got {count!r}")


def _check_tags(tags: pd.DataFrame, examples: pd.DataFrame) -> None:
    if not tags.columns.is_unique:
        duplicated = sorted({str(c) for c in tags.columns[tags.columns.duplicated()]})
        raise ValueError(f"tags has duplicate columns: {duplicated}")
    for column in tags.columns:
        if not isinstance(column, str):
            raise ValueError(f"tag names must be strings, got {column!r}")
    for column, dtype in tags.dtypes.items():
        if not pd.api.types.is_bool_dtype(dtype):
            raise ValueError(f"tag {column!r} must have a bool dtype, got {dtype}")
    if not tags.index.equals(examples.index):
        raise ValueError("tags must have the same index as examples")


def _check_taxonomy(evidence: Evidence) -> None:
    check_frame(evidence.definitions, "definitions", ("description", "hlp", "effort", "rule"))
    for name in ("data_tags", "rule_problems"):
        if not isinstance(getattr(evidence, name), Mapping):
            kind = type(getattr(evidence, name)).__name__
            raise ValueError(f"{name} must be a mapping, got {kind}")


def no_labels(dataset: str) -> str:
    """Why an analysis that needs labels refuses a production sample (it has none)."""
    name = f"dataset {dataset!r}" if dataset else "these examples"
    return (
        f"{name} is a production sample: it has no labels, so it has no errors or accuracy "
        "to analyse; compare it with a labelled dataset instead (erroranalysis drift "
        "--dataset DEV --against it, or the Drift page)"
    )


def check_evidence(evidence: object, *, columns: Sequence[str] = ("correct",)) -> Checked:
    """Validate ``evidence`` for an analysis that reads ``columns`` of its examples.

    ``correct`` must be bool; every column named must exist without missing values.
    Raises ValueError naming the exact problem. Never modifies the evidence.
    """
    if not isinstance(evidence, Evidence):
        raise ValueError(f"evidence must be an Evidence, got {type(evidence).__name__}")
    examples, tags = evidence.examples, evidence.tags
    check_frame(examples, "examples")
    check_frame(tags, "tags")
    kinds = evidence.kinds
    if not isinstance(kinds, Mapping):
        raise ValueError(f"kinds must be a mapping tag -> kind, got {type(kinds).__name__}")
    if "correct" not in examples.columns and "label" not in examples.columns:
        # An ExpectedError (a ValueError): the user asked for it, every shell says it in one line.
        raise ExpectedError(no_labels(evidence.dataset))
    for column in ("correct", *columns):
        if column not in examples.columns:
            raise ValueError(f"examples has no {column!r} column")
    correct = _check_bool_series(examples["correct"], "examples['correct']", examples.index)
    for column in columns:
        if column != "correct" and examples[column].hasnans:
            where = list(examples.index[examples[column].isna()][:5])
            raise ValueError(f"examples[{column!r}] has missing values at {where}")
    _check_tags(tags, examples)
    tag_names = list(tags.columns)
    tag_kinds = []
    for tag in tag_names:
        if tag not in kinds:
            raise ValueError(f"kinds has no kind for tag {tag!r}")
        if kinds[tag] not in KINDS:
            raise ValueError(f"kind of tag {tag!r} must be one of {KINDS}, got {kinds[tag]!r}")
        tag_kinds.append(kinds[tag])
    reviewed = _check_bool_series(evidence.reviewed, "reviewed", examples.index)
    weights = _check_weights(evidence.weights, examples.index, reviewed)
    _check_left_out(evidence.left_out)
    _check_taxonomy(evidence)
    if "human_label" in examples.columns and "label" not in examples.columns:
        raise ValueError("examples has a 'human_label' column but no 'label' column")

    # Missing values (nullable bool) are allowed only where a tag is unknown:
    # on the examples nobody reviewed, for a reviewed tag. Counting skips
    # those examples, so they may hold anything.
    for tag, kind in zip(tag_names, tag_kinds, strict=True):
        column = tags[tag]
        if isinstance(column.dtype, pd.api.extensions.ExtensionDtype) and column.hasnans:
            missing = column.isna().to_numpy()
            if kind != "reviewed" or (missing & reviewed).any():
                raise ValueError(f"tag {tag!r} has missing values where it is known")
    if tag_names and all(dtype == np.dtype(bool) for dtype in tags.dtypes):
        matrix = tags.to_numpy()  # no copy when the frame holds one bool block
    elif tag_names:
        matrix = tags.to_numpy(dtype=bool, na_value=False)
    else:
        matrix = np.zeros((len(examples), 0), dtype=bool)

    return Checked(
        tag_names=tag_names,
        kinds=tag_kinds,
        correct=correct,
        reviewed=reviewed,
        matrix=matrix,
        human=human_agreement(examples),
        hlp=_check_numbers(evidence.hlp, "hlp"),
        effort=_check_numbers(evidence.effort, "effort", positive=True),
        weights=weights,
    )


def check_flag(value: object, name: str) -> bool:
    """``value`` if it is True or False, else ValueError."""
    if not isinstance(value, bool | np.bool_):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)
