"""Overviews: a run at a glance, every tag of the project, every run of the project."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .evidence import Evidence, check_evidence
from .priorities import priority_table
from .slices import EXAMPLE_COLUMNS, baselines, metric_warnings

if TYPE_CHECKING:
    from .store import Project

TAG_OVERVIEW_COLUMNS = [
    "tag",
    "kind",
    "examples",
    "hlp",
    "hlp_source",
    "effort",
    "description",
    "rule",
    "rule_problem",
]
SUMMARY_KEYS = ("examples", "errors", "accuracy", "class_balance", "warnings", "baselines")
CLASS_BALANCE_COLUMNS = ["class", "examples", "share", "predicted"]
RUN_COLUMNS = [
    "dataset",
    "run",
    "examples",
    "errors",
    "accuracy",
    "source",
    "imported_at",
    "imported_by",
    "production",
    "in_sql",  # its examples are in the project file's SQL views (see write_sql_rows)
]
# The tag overview shows counts and HLP, not intervals: fewer draws are plenty.
OVERVIEW_DRAWS = 200


def tag_overview(evidence: Evidence) -> pd.DataFrame:
    """Every tag of the project as the Tags page lists it: kind, count, HLP (set or
    measured), effort, description and rule (columns :data:`TAG_OVERVIEW_COLUMNS`),
    sorted by name ignoring case. Tags the run has not seen have kind ``reviewed`` and
    count 0; the tags another dataset brings with its data are left out."""
    table = priority_table(evidence, draws=OVERVIEW_DRAWS).set_index("tag")
    definitions = evidence.definitions
    # The taxonomy is shared by the project's datasets; another dataset's own data tags
    # mean nothing here.
    elsewhere = frozenset().union(
        *(tags for dataset, tags in evidence.data_tags.items() if dataset != evidence.dataset)
    )
    names = sorted((set(definitions.index) - elsewhere) | set(table.index), key=str.casefold)
    rows = []
    for name in names:
        seen, defined = name in table.index, name in definitions.index
        if seen:
            examples, hlp, source = (table.at[name, c] for c in ("examples", "hlp", "hlp_source"))
        else:
            hlp = definitions.at[name, "hlp"]
            examples, source = 0, "set" if pd.notna(hlp) else "empty"
        rows.append(
            {
                "tag": name,
                "kind": evidence.kinds.get(name, "reviewed"),
                "examples": int(examples),
                "hlp": hlp,
                "hlp_source": source,
                "effort": definitions.at[name, "effort"] if defined else np.nan,
                "description": definitions.at[name, "description"] if defined else "",
                "rule": definitions.at[name, "rule"] if defined else None,
                "rule_problem": evidence.rule_problems.get(name, ""),
            }
        )
    return pd.DataFrame(rows, columns=TAG_OVERVIEW_COLUMNS)


def dataset_summary(evidence: Evidence) -> dict:
    """A run at a glance, keys :data:`SUMMARY_KEYS`: its size, errors and accuracy, the
    class balance (columns :data:`CLASS_BALANCE_COLUMNS`), the warnings of
    :func:`~erroranalysis.slices.metric_warnings` and the
    :func:`~erroranalysis.slices.baselines`."""
    inputs = check_evidence(evidence, columns=EXAMPLE_COLUMNS)
    examples = evidence.examples
    n = len(examples)
    errors = int(np.count_nonzero(~inputs.correct))
    labels = examples["label"].value_counts()
    predicted = examples["prediction"].value_counts().reindex(labels.index, fill_value=0)
    balance = pd.DataFrame(
        {
            "class": labels.index.astype(str),
            "examples": labels.to_numpy(),
            "share": labels.to_numpy() / max(n, 1),
            "predicted": predicted.to_numpy(),
        }
    )
    return {
        "examples": n,
        "errors": errors,
        "accuracy": 1 - errors / n if n else float("nan"),
        "class_balance": balance,
        "warnings": metric_warnings(evidence),
        "baselines": baselines(evidence),
    }


def runs_table(project: Project) -> pd.DataFrame:
    """Every dataset and run of the project, one row per run (columns :data:`RUN_COLUMNS`).
    A production sample's run has no errors and no accuracy (missing values): no labels."""
    fields = ("dataset", "name", "n_examples", "n_errors", "accuracy", "source")
    fields += ("imported_at", "imported_by", "production", "in_sql")
    rows = [[getattr(info, field) for field in fields] for info in project.runs()]
    table = pd.DataFrame(rows, columns=RUN_COLUMNS)
    return table.assign(errors=table["errors"].astype("Int64").mask(table["production"]))
