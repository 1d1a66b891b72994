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


def numbered_frame(n: int) -> pd.DataFrame:
    """A run of ``n`` examples with ids "0".."n-1", every third one an error."""
    ids = [str(i) for i in range(n)]
    return pd.DataFrame(
        {
            "id": ids,
            "label": ["a"] * n,
            "prediction": ["a" if i % 3 else "b" for i in range(n)],
            "correct": [bool(i % 3) for i in range(n)],
        }
    )
