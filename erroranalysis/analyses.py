"""The analysis API in one place: load a run's evidence, then ask for any analysis by name.

    evidence = load_evidence(project, "dev")
    table = priority_table(evidence, by="effort")
    table = ANALYSES["priority_table"](evidence, by="effort")  # the same

Every analysis is a pure function ``f(evidence, **options)`` of an
:class:`~erroranalysis.evidence.Evidence` that never modifies it: it raises ValueError
naming the exact problem with its input, and returns a DataFrame (the summary a dict,
the warnings a list). :data:`ANALYSES` names each one once, so a cache or a test can
treat them all alike. The CLI and the app call only this module, so both show the
same numbers.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING

from .evidence import Evidence, load_evidence, reviewable_tags

if TYPE_CHECKING:
    from .agreement import reviewer_agreement, tag_agreement
    from .clusters import error_clusters
    from .compare import compare_runs
    from .discover import discover_slices
    from .drift import drift_table
    from .priorities import (
        error_shares,
        exclusive_shares,
        priority_table,
        tag_overlap,
        untagged_errors,
    )
    from .slices import baselines, confusion, metric_warnings, slice_table
    from .summary import dataset_summary, runs_table, tag_overview

# Where each analysis lives. Its module (and what that imports: scipy, scikit-learn) is
# imported on first use, so a command that needs none of them starts as fast as pandas.
_MODULES = {
    "priority_table": "priorities",
    "error_shares": "priorities",
    "untagged_errors": "priorities",
    "tag_overlap": "priorities",
    "exclusive_shares": "priorities",
    "slice_table": "slices",
    "confusion": "slices",
    "baselines": "slices",
    "metric_warnings": "slices",
    "tag_overview": "summary",
    "dataset_summary": "summary",
    "drift_table": "drift",
    "discover_slices": "discover",
    "error_clusters": "clusters",
    "compare_runs": "compare",
}
# Analyses of something else than a run's evidence: the project's runs, the reviewers'
# decisions (DatasetStore.decisions()).
_LAZY = {
    **_MODULES,
    "runs_table": "summary",
    "tag_agreement": "agreement",
    "reviewer_agreement": "agreement",
}

__all__ = [
    "ANALYSES",
    "Evidence",
    "baselines",
    "compare_runs",
    "confusion",
    "dataset_summary",
    "discover_slices",
    "error_clusters",
    "drift_table",
    "error_shares",
    "exclusive_shares",
    "load_evidence",
    "metric_warnings",
    "priority_table",
    "reviewable_tags",
    "reviewer_agreement",
    "runs_table",
    "slice_table",
    "tag_agreement",
    "tag_overlap",
    "tag_overview",
    "untagged_errors",
]


def __getattr__(name: str) -> object:
    """``analyses.NAME`` (and ``from erroranalysis.analyses import NAME``), imported on
    first use."""
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_LAZY[name]}", __package__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Analyses(Mapping[str, Callable[..., object]]):
    """Every analysis by name, in a fixed order; each imported on first access."""

    def __getitem__(self, name: str) -> Callable[..., object]:
        if name not in _MODULES:
            raise KeyError(name)
        return __getattr__(name)  # type: ignore[return-value]

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


ANALYSES: Mapping[str, Callable[..., object]] = _Analyses()
