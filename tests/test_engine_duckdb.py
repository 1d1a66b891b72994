"""The DuckDB engine counts a stored run out-of-core to exactly the tally, and so the
priority table, of the in-memory path, whatever the project holds; ``load_tally`` picks
the engine and the CLI's ``priorities --engine`` passes it on."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.cli import main
from erroranalysis.counts import Tally, tally
from erroranalysis.engines import duckdb as duckdb_engine
from erroranalysis.engines.duckdb import duckdb_tally, engine_for, load_tally
from erroranalysis.sampling import draw_sample
from erroranalysis.store import Project, open_project
from erroranalysis.vocabulary import ENGINE_ROWS

N = 24
IDS = [f"e{i:02d}" for i in range(N)]
TAGS = ["noise", "blur", 'it\'s "odd"']
RULES = {
    "quiet": "snr < 10",
    "car": "kind == 'car' or kind == \"it's\"",
    "broken": "no_such_column > 1",
    "mixed": "kind < 3",
}


def assert_same_tally(got: Tally, expected: Tally) -> None:
    assert (got.names, got.kinds) == (expected.names, expected.kinds)
    assert (dict(got.hlp), dict(got.effort)) == (dict(expected.hlp), dict(expected.effort))
    assert dict(got.left_out) == dict(expected.left_out)
    np.testing.assert_array_equal(got.counts.sizes, expected.counts.sizes)
    for part in ("tag", "agreement"):
        for field in ("n", "x", "w", "w2", "wx", "w2x", "equal"):
            np.testing.assert_array_equal(
                getattr(getattr(got.counts, part), field),
                getattr(getattr(expected.counts, part), field),
                err_msg=f"{part}.{field}",
            )


@st.composite
def projects(draw) -> dict:
    correct = draw(st.lists(st.booleans(), min_size=N, max_size=N))
    if draw(st.booleans()):
        correct = [True] * N  # a run with no errors
    snr = draw(st.lists(st.one_of(st.floats(0, 20), st.just(np.nan)), min_size=N, max_size=N))
    kind = draw(st.lists(st.sampled_from(["car", "it's", "", None]), min_size=N, max_size=N))
    human = draw(
        st.one_of(st.none(), st.lists(st.sampled_from(["a", "b", None]), min_size=N, max_size=N))
    )
    data_tag = draw(st.lists(st.booleans(), min_size=N, max_size=N))
    example = st.sampled_from(IDS)
    changes = draw(
        st.lists(
            st.one_of(
                st.tuples(st.just("tag"), example, st.sampled_from(TAGS), st.booleans()),
                st.tuples(st.just("review"), example, st.lists(st.sampled_from(TAGS), unique=True)),
                st.tuples(st.just("direct"), example, st.lists(st.sampled_from(TAGS), unique=True)),
                st.tuples(st.just("sample"), st.integers(2, 10), st.integers(0, 2**16)),
            ),
            max_size=10,
        )
    )
    rules = draw(st.lists(st.sampled_from(sorted(RULES)), unique=True, max_size=4))
    hlp = draw(st.dictionaries(st.sampled_from([*TAGS, "data", *RULES]), st.floats(0, 1)))
    return {
        "correct": correct,
        "snr": snr,
        "kind": kind,
        "human": human,
        "data": data_tag,
        "changes": changes,
        "rules": rules,
        "hlp": hlp,
    }


def build(path: Path, spec: dict) -> Project:
    project = open_project(path)
    frame = pd.DataFrame(
        {
            "id": IDS,
            "label": "a",
            "prediction": ["a" if c else "b" for c in spec["correct"]],
            "correct": spec["correct"],
            "snr": spec["snr"],
            "kind": pd.Series(spec["kind"], dtype=object),
            "tag:data": spec["data"],
        }
    )
    if spec["human"] is not None:
        frame["human_label"] = pd.Series(spec["human"], dtype=object)
    add_run(project, "dev", frame, metadata_columns=["snr", "kind"], dataset_tags=["data"])
    store = project.dataset("dev")
    for tag in TAGS:
        project.define_tag(tag, actor="lead", effort=2.0)
    for name in spec["rules"]:
        project.define_tag(name, actor="lead", rule=RULES[name])
    for tag, value in spec["hlp"].items():
        if tag != "data":
            project.define_tag(tag, actor="lead", hlp=value)
    for change in spec["changes"]:
        if change[0] == "tag":
            store.set_tag(change[1], change[2], change[3], actor="ben")
        elif change[0] in ("review", "direct"):
            queue = "direct" if change[0] == "direct" else ""
            store.record_review(change[1], reviewer="ana", tags=change[2], queue=queue)
        else:
            evidence = analyses.load_evidence(project, "dev")
            try:
                drawn = draw_sample(evidence, size=change[1], seed=change[2])
            except ValueError:  # a run with no errors (or no correct examples) to draw from
                continue
            store.record_sample(drawn, actor="lead")
    return project


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=projects())
def test_the_duckdb_tally_and_table_equal_the_memory_ones(spec):
    with tempfile.TemporaryDirectory() as tmp, build(Path(tmp) / "p.db", spec) as project:
        evidence = analyses.load_evidence(project, "dev")
        expected = tally(evidence)
        got = duckdb_tally(project, "dev")
        assert_same_tally(got, expected)
        assert_frame_equal(
            analyses.priority_table(got, draws=200, seed=1),
            analyses.priority_table(evidence, draws=200, seed=1),
            check_exact=True,
        )


SPEC = {
    "correct": [i % 3 != 0 for i in range(N)],
    "snr": [float(i) for i in range(N)],
    "kind": ["car", None, "it's", ""] * (N // 4),
    "human": ["a", "b", None] * (N // 3),
    "data": [i % 5 == 0 for i in range(N)],
    "changes": [("review", IDS[i], ["noise"] if i % 2 else []) for i in range(0, N, 3)]
    + [("tag", "e01", "blur", True)],
    "rules": ["quiet", "car", "broken"],
    "hlp": {"noise": 0.9, "quiet": 0.8},
}


@pytest.fixture
def reviewed(tmp_path):
    with build(tmp_path / "p.db", SPEC) as project:
        yield project, tmp_path / "p.db"


def test_the_duckdb_tally_of_a_reviewed_project(reviewed):
    project, _ = reviewed
    got = duckdb_tally(project, "dev")
    assert got.names == ("data", "car", "quiet", "blur", "noise")
    assert got.kinds == ("dataset", "rule", "rule", "reviewed", "reviewed")
    assert got.counts.sizes[:, 0].tolist() == [8, 16]  # errors: every third example
    # data: i % 5 == 0; car: even i; quiet: snr (= i) < 10; every error is reviewed
    # (weight 1, a census of the errors), with noise on the odd ones; blur only tagged
    assert got.counts.tag.x.tolist() == [[2, 4, 4, 0, 4], [3, 8, 6, 0, 0]]
    assert got.counts.tag.n.tolist() == [[8, 8, 8, 8, 8], [16, 16, 16, 0, 0]]
    # every error's human label is "a", as its label; a third of the correct ones "b"
    assert got.counts.agreement.n.tolist() == [[2, 4, 4, 0, 4], [1, 4, 3, 0, 0]]
    assert got.counts.agreement.x.tolist() == [[2, 4, 4, 0, 4], [0, 0, 0, 0, 0]]
    assert dict(got.left_out) == {"tagged without being marked reviewed": 1}
    assert (dict(got.hlp), dict(got.effort)) == (
        {"noise": 0.9, "quiet": 0.8},
        {"blur": 2.0, "noise": 2.0},
    )
    assert_same_tally(got, tally(analyses.load_evidence(project, "dev")))


@pytest.mark.parametrize(
    ("n_examples", "engine", "expected"),
    [
        (10, "auto", "memory"),
        (ENGINE_ROWS, "auto", "memory"),
        (ENGINE_ROWS + 1, "auto", "duckdb"),
        (10, "duckdb", "duckdb"),
        (ENGINE_ROWS + 1, "memory", "memory"),
    ],
)
def test_engine_for(reviewed, n_examples, engine, expected):
    project, _ = reviewed
    info = project.dataset("dev").run()
    from dataclasses import replace

    assert engine_for(replace(info, n_examples=n_examples), engine) == expected


@pytest.mark.parametrize("engine", ["spark", "", None, "DuckDB"])
def test_load_tally_refuses_an_unknown_engine(reviewed, engine):
    project, _ = reviewed
    with pytest.raises(ValueError, match="engine must be one of \\('auto', 'memory', 'duckdb'\\)"):
        load_tally(project, "dev", engine=engine)


def test_a_rule_on_a_column_sql_does_not_compare_is_refused_by_name(tmp_path, monkeypatch):
    with build(tmp_path / "p.db", SPEC) as project:
        frame = project.dataset("dev").examples().assign(when=pd.Timestamp("2024-01-01"))
        add_run(project, "dev", frame, run="v2", metadata_columns=["snr", "kind", "when"])
        project.define_tag("recent", actor="lead", rule="when > '2023-01-01'")
        with pytest.raises(ValueError, match="rule tag 'recent' reads column 'when' of type"):
            duckdb_tally(project, "dev", run="v2")
        with pytest.raises(ValueError, match="rule tag 'recent' reads column 'when' of type"):
            load_tally(project, "dev", run="v2", engine="duckdb")
        # auto counts such a run in memory, whatever its size
        monkeypatch.setattr(duckdb_engine, "ENGINE_ROWS", 0)
        assert engine_for(project.dataset("dev").run("v2")) == "duckdb"
        expected = tally(analyses.load_evidence(project, "dev", run="v2"))
        assert "recent" in expected.names
        assert_same_tally(load_tally(project, "dev", run="v2"), expected)


@pytest.mark.parametrize("engine", ["memory", "duckdb", "auto"])
def test_cli_priorities_is_the_same_table_by_every_engine(reviewed, tmp_path, engine):
    _, db = reviewed
    out = tmp_path / f"{engine}.csv"
    assert main(["priorities", "--db", str(db), "--dataset", "dev", "--out", str(out)]) == 0
    again = tmp_path / f"{engine}-again.csv"
    argv = ["priorities", "--db", str(db), "--dataset", "dev", "--engine", engine]
    assert main([*argv, "--out", str(again)]) == 0
    assert again.read_text() == out.read_text()


def test_cli_priorities_refuses_an_unknown_engine(reviewed, capsys):
    _, db = reviewed
    with pytest.raises(SystemExit) as exited:
        main(["priorities", "--db", str(db), "--dataset", "dev", "--engine", "spark"])
    assert exited.value.code == 2
    assert "--engine: invalid choice: 'spark' (choose from 'auto', 'memory', 'duckdb')" in (
        capsys.readouterr().err
    )
