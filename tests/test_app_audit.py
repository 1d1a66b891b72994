"""The Audit page: slice metrics, precision/recall for a positive class, confusion, baselines."""

from __future__ import annotations

import pytest
from app_support import no_errors, open_page


@pytest.fixture
def audit(app):
    return open_page(app, "audit")


def test_smoke(audit):
    no_errors(audit)
    slices = audit.dataframe[0].value
    assert {"slice", "examples", "accuracy", "precision", "recall", "f1", "flagged"} <= set(
        slices.columns
    )
    assert "clipped" in set(slices["slice"])
    # Slice accuracy and the confusion matrix.
    assert len(audit.get("plotly_chart")) == 2
    baselines = audit.dataframe[-1].value
    assert baselines["baseline"].tolist() == ["model", "most frequent class", "HLP"]


def test_slice_by_metadata(audit):
    audit.selectbox(key="au_by").select("noise").run()
    no_errors(audit)
    slices = audit.dataframe[0].value.set_index("slice")
    assert slices.loc["car", "examples"] == 8
    assert slices.loc["clean", "examples"] == 32


def test_precision_and_recall_for_a_positive_class(audit):
    audit.selectbox(key="au_by").select("noise").run()
    macro = audit.dataframe[0].value.set_index("slice")
    audit.selectbox(key="au_positive").select("yes").run()
    no_errors(audit)
    positive = audit.dataframe[0].value.set_index("slice")
    assert not positive["recall"].equals(macro["recall"])


def test_confusion_matrix_of_one_tag(audit):
    audit.selectbox(key="au_confusion_tag").select("clipped").run()
    no_errors(audit)
    assert len(audit.get("plotly_chart")) == 2
