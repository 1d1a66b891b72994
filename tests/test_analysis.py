"""From the project file to the analyses: which tags, which kinds, which examples count as
reviewed, and the analyses the CLI and the app call on that evidence."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.store import open_project
from erroranalysis.vocabulary import LEFT_OUT_TAGGED, NOTE_REVIEWED_TAG_SLICE


def run_frame() -> pd.DataFrame:
    # 10 examples; errors at 0, 3, 6, 9; a dataset tag on 0-4; snr falls with the position.
    label = ["a", "b"] * 5
    prediction = [("b" if x == "a" else "a") if i % 3 == 0 else x for i, x in enumerate(label)]
    return pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(10)],
            "label": label,
            "prediction": prediction,
            "correct": [i % 3 != 0 for i in range(10)],
            "snr_db": np.arange(10, 0, -1, dtype=float),
            "tag:clipped": [i < 5 for i in range(10)],
        }
    )


@pytest.fixture
def project(tmp_path):
    with open_project(tmp_path / "p.db") as p:
        add_run(p, "dev", run_frame(), metadata_columns=["snr_db"], dataset_tags=["clipped"])
        p.define_tag("quiet", actor="lead", rule="snr_db < 4", hlp=0.9)
        p.define_tag("broken rule", actor="lead", rule="volume > 3")
        p.define_tag("car noise", actor="lead", hlp=0.95, effort=2)
        yield p


def test_every_kind_of_tag_reaches_the_engine(project):
    project.dataset("dev").set_tag("e3", "car noise", actor="ana")
    project.dataset("dev").set_tag("e4", "car noise", actor="ana")
    evidence = analyses.load_evidence(project, "dev")
    assert evidence.kinds == {"clipped": "dataset", "quiet": "rule", "car noise": "reviewed"}
    assert evidence.tags["clipped"].tolist() == [True] * 5 + [False] * 5
    assert evidence.tags["quiet"].tolist() == [False] * 7 + [True] * 3
    assert evidence.tags["car noise"][evidence.tags["car noise"]].index.tolist() == [3, 4]
    assert evidence.hlp == {"quiet": 0.9, "car noise": 0.95}
    assert evidence.effort == {"car noise": 2.0}
    assert "volume" in evidence.rule_problems["broken rule"]


@pytest.mark.parametrize(
    ("reviews", "expected"),
    [
        # (example, queue) -> which positions count as reviewed
        ([("e0", "error"), ("e1", "correct sample")], [0, 1]),
        # a correct example opened by link was chosen, not sampled: it does not count...
        ([("e1", "direct")], []),
        # ...unless it was also reviewed from the queue; an error opened by link neither...
        ([("e1", "direct"), ("e1", "correct sample"), ("e3", "direct")], [1]),
        # ...unless every error has been reviewed (a census of the errors)
        ([("e0", "direct"), ("e3", "direct"), ("e6", "direct"), ("e9", "direct")], [0, 3, 6, 9]),
        ([("e2", "import")], [2]),
    ],
)
def test_which_examples_count_as_reviewed(project, reviews, expected):
    for example, queue in reviews:
        project.dataset("dev").record_review(example, reviewer="ana", queue=queue)
    evidence = analyses.load_evidence(project, "dev")
    assert np.flatnonzero(evidence.reviewed.to_numpy()).tolist() == expected


def test_a_tagged_example_counts_once_marked_reviewed(project):
    project.dataset("dev").set_tag("e6", "car noise", actor="ana")
    evidence = analyses.load_evidence(project, "dev")
    assert not evidence.reviewed.tolist()[6]
    assert evidence.left_out == {LEFT_OUT_TAGGED: 1}
    project.dataset("dev").record_review("e6", reviewer="ana", queue="error")
    evidence = analyses.load_evidence(project, "dev")
    assert evidence.reviewed.tolist()[6] and evidence.left_out == {}


def test_priorities_from_the_store_match_the_engine(project):
    for example in ("e0", "e3", "e6", "e9", "e1", "e2"):
        project.dataset("dev").record_review(
            example, reviewer="ana", tags=["car noise"] if example in ("e0", "e1") else []
        )
    table = analyses.priority_table(analyses.load_evidence(project, "dev")).set_index("tag")
    row = table.loc["car noise"]
    # errors: 1 of 4 reviewed carries it; correct: 1 of 2 reviewed, standing for 6
    assert row.evidence == "reviewed"
    assert row.share == pytest.approx((1 + 0.5 * 6) / 10)
    assert row.accuracy == pytest.approx(3 / 4)
    assert row.marginal_effect == pytest.approx((0.95 - 0.75) * 0.4)


def test_confusion_of_a_tag_uses_sklearn_on_that_slice(project):
    evidence = analyses.load_evidence(project, "dev")
    frame = run_frame()
    matrix = analyses.confusion(evidence, tag="clipped")
    mask = frame["tag:clipped"]
    expected = confusion_matrix(frame.label[mask], frame.prediction[mask], labels=["a", "b"])
    assert matrix.to_numpy().tolist() == expected.tolist()


def test_tag_overview_lists_the_taxonomy_with_kinds(project):
    project.dataset("dev").record_review("e3", reviewer="ana", tags=["car noise"], queue="error")
    overview = analyses.tag_overview(analyses.load_evidence(project, "dev")).set_index("tag")
    assert overview.loc["clipped", ["kind", "examples"]].tolist() == ["dataset", 5]
    assert overview.loc["quiet", ["kind", "examples", "hlp_source"]].tolist() == ["rule", 3, "set"]
    assert overview.loc["car noise", ["kind", "examples", "effort"]].tolist() == [
        "reviewed",
        1,
        2.0,
    ]
    assert overview.loc["broken rule", "rule_problem"].startswith("unknown column 'volume'")


def test_slices_by_tags_keep_reviewed_tags_apart(project):
    project.dataset("dev").record_review("e0", reviewer="ana", tags=["car noise"])
    evidence = analyses.load_evidence(project, "dev")
    table = analyses.slice_table(evidence, by="tags").set_index("slice")
    assert table.loc["clipped", "evidence"] == "dataset"
    assert table.loc["car noise", "evidence"] == NOTE_REVIEWED_TAG_SLICE
    assert table.loc["car noise", "examples"] == 1


def test_dataset_summary(project):
    summary = analyses.dataset_summary(analyses.Evidence(project.dataset("dev").examples()))
    assert (summary["examples"], summary["errors"], summary["accuracy"]) == (10, 4, 0.6)
    assert summary["class_balance"]["examples"].tolist() == [5, 5]


def test_reviewable_tags_leave_out_rules_and_tags_from_data(project):
    frame = run_frame().rename(columns={"tag:clipped": "tag:blurry"})
    add_run(project, "other", frame, dataset_tags=["blurry"], actor="setup")
    assert analyses.reviewable_tags(project) == ["car noise"]
