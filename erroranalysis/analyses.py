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

from collections.abc import Callable

from .clusters import error_clusters
from .compare import compare_runs
from .discover import discover_slices
from .drift import drift_table
from .evidence import Evidence, load_evidence, reviewable_tags
from .priorities import error_shares, exclusive_shares, priority_table, tag_overlap, untagged_errors
from .slices import baselines, confusion, metric_warnings, slice_table
from .summary import dataset_summary, runs_table, tag_overview

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
    "runs_table",
    "slice_table",
    "tag_overlap",
    "tag_overview",
    "untagged_errors",
]

ANALYSES: dict[str, Callable[..., object]] = {
    analysis.__name__: analysis
    for analysis in (
        priority_table,
        error_shares,
        untagged_errors,
        tag_overlap,
        exclusive_shares,
        slice_table,
        confusion,
        baselines,
        metric_warnings,
        tag_overview,
        dataset_summary,
        drift_table,
        discover_slices,
        error_clusters,
        compare_runs,
    )
}
