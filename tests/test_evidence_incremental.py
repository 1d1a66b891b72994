"""Evidence loaded with ``base`` (the run's evidence at an earlier revision) equals a load
from scratch after any sequence of changes, and reuses the design weights exactly when
the reviews, the samples and the runs are unchanged (a tag only recounts the tagged
examples left out)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.evidence import Evidence
from erroranalysis.sampling import draw_sample
from erroranalysis.store import Project, open_project

N = 30
IDS = [f"e{i:02d}" for i in range(N)]
TAGS = ["noise", "blur"]
RULES = ["correct == False", "correct == True", "no_such_column > 1"]


def new_project(path: Path) -> tuple[Project, pd.DataFrame]:
    project = open_project(path)
    frame = pd.DataFrame(
        {
            "id": IDS,
            "label": "a",
            "prediction": ["b" if i % 3 == 0 else "a" for i in range(N)],
            "correct": [i % 3 != 0 for i in range(N)],
            "tag:data": [i % 5 == 0 for i in range(N)],
        }
    )
    add_run(project, "dev", frame, dataset_tags=["data"], actor="setup")
    store = project.dataset("dev")
    for tag in TAGS:
        project.define_tag(tag, actor="lead", hlp=0.5)
    project.define_tag("wrong", actor="lead", rule=RULES[0])
    return project, store.examples()


def assert_same(incremental: Evidence, fresh: Evidence) -> None:
    assert_frame_equal(incremental.tags, fresh.tags, check_exact=True)
    assert_series_equal(incremental.weights, fresh.weights, check_exact=True)
    assert_series_equal(incremental.reviewed, fresh.reviewed)
    assert incremental.kinds == fresh.kinds
    assert incremental.left_out == fresh.left_out
    assert incremental.rule_problems == fresh.rule_problems
    assert (incremental.hlp, incremental.effort) == (fresh.hlp, fresh.effort)
    assert_frame_equal(incremental.definitions, fresh.definitions)
    assert_frame_equal(
        analyses.priority_table(incremental), analyses.priority_table(fresh), check_exact=True
    )


example = st.sampled_from(IDS)
changes = st.one_of(
    st.tuples(st.just("tag"), example, st.sampled_from(TAGS), st.booleans()),
    st.tuples(st.just("review"), example, st.lists(st.sampled_from(TAGS), unique=True)),
    st.tuples(st.just("direct"), example, st.lists(st.sampled_from(TAGS), unique=True)),
    st.tuples(st.just("sample"), st.integers(2, 10), st.integers(0, 2**16)),
    st.tuples(st.just("rule"), st.sampled_from(RULES)),
)


def apply(project: Project, change: tuple) -> None:
    store = project.dataset("dev")
    kind = change[0]
    if kind == "tag":
        store.set_tag(change[1], change[2], change[3], actor="ben")
    elif kind in ("review", "direct"):
        queue = "direct" if kind == "direct" else ""
        store.record_review(change[1], reviewer="ana", tags=change[2], queue=queue)
    elif kind == "sample":
        drawn = draw_sample(analyses.load_evidence(project, "dev"), size=change[1], seed=change[2])
        store.record_sample(drawn, actor="lead")
    else:
        project.define_tag("wrong", actor="lead", rule=change[1])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequence=st.lists(changes, min_size=1, max_size=8))
def test_incremental_evidence_equals_a_fresh_load(sequence):
    with tempfile.TemporaryDirectory() as tmp:
        project, frame = new_project(Path(tmp) / "p.db")
        with project:
            base = analyses.load_evidence(project, "dev", examples=frame)
            for change in sequence:
                apply(project, change)
                incremental = analyses.load_evidence(project, "dev", examples=frame, base=base)
                assert_same(incremental, analyses.load_evidence(project, "dev", examples=frame))
                base = incremental


@pytest.fixture
def reviewed(tmp_path):
    project, frame = new_project(tmp_path / "p.db")
    with project:
        for i in range(0, N, 2):
            project.dataset("dev").record_review(IDS[i], reviewer="ana", tags=["noise"])
        yield project, frame, analyses.load_evidence(project, "dev", examples=frame)


@pytest.mark.parametrize(
    "change, reused",
    [
        (("tag", "e00", "blur", True), True),  # e00 already carries a reviewed tag
        (("tag", "e00", "noise", False), True),  # e00 still carries blur (tagged first)
        (("tag", "e01", "blur", True), True),  # tagged, not reviewed: only left_out moves
        (("review", "e01", ["blur"]), False),
        (("direct", "e03", []), False),
        (("sample", 4, 7), False),
        (("rule", RULES[1]), True),
    ],
)
def test_the_design_is_reused_only_when_its_inputs_are_unchanged(reviewed, change, reused):
    project, frame, base = reviewed
    if change[0] == "tag" and change[2] == "noise":  # untag e00 only after tagging it blur
        apply(project, ("tag", "e00", "blur", True))
        base = analyses.load_evidence(project, "dev", examples=frame, base=base)
    apply(project, change)
    incremental = analyses.load_evidence(project, "dev", examples=frame, base=base)
    assert (incremental.weights is base.weights) is reused
    assert_same(incremental, analyses.load_evidence(project, "dev", examples=frame))


def test_a_base_of_another_frame_is_not_reused(reviewed):
    project, frame, base = reviewed
    copy = frame.copy()
    incremental = analyses.load_evidence(project, "dev", examples=copy, base=base)
    assert incremental.weights is not base.weights
    assert incremental.tags["wrong"].to_numpy() is not base.tags["wrong"].to_numpy()
    assert_same(incremental, base)
