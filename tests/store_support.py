"""Test setup shared by store, app and engine tests: runs imported straight from frames."""

from __future__ import annotations

import pandas as pd

from erroranalysis.store import Project, RunInfo


def add_run(project: Project, dataset: str, frame: pd.DataFrame, **options: object) -> RunInfo:
    """Import ``frame`` (id, label, prediction, correct, …) as a run of ``dataset``, made
    if new: from ``{dataset}.csv``, no media, no metadata and no dataset tags unless
    ``options`` (any of ``DatasetStore.import_run``'s) say otherwise."""
    settings = {
        "source": f"{dataset}.csv",
        "format": "csv",
        "media_root": None,
        "metadata_columns": [],
        "dataset_tags": [],
    }
    return project.dataset(dataset, create=True).import_run(frame, **{**settings, **options})
