"""The project file in SQL: run_examples, run_tags and the views of schema 5, read as a
user reads them (plain SQL, Datasette, sqlite-utils), and the migration that adds them."""

from __future__ import annotations

import asyncio
import concurrent.futures
import math
import re
import sqlite3
import tracemalloc
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import sqlite_utils
from datasette.app import Datasette
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import add_run

from erroranalysis.errors import NotPermitted, StoreError
from erroranalysis.store import SCHEMA_VERSION, Project, open_project
from erroranalysis.store import dataset as dataset_module
from erroranalysis.store import examples as examples_module

README = Path(__file__).resolve().parents[1] / "README.md"
NAN = float("nan")


def speech_frame(ids=("s1", "s2", "s3", "s4"), labels=("yes", "yes", "no", "yes")) -> pd.DataFrame:
    """Four spoken commands: two errors, one confidence missing, a dataset tag on two."""
    predictions = ["yes", "no", "no", "no"][: len(ids)]
    return pd.DataFrame(
        {
            "id": list(ids),
            "label": list(labels),
            "prediction": predictions,
            "correct": [lab == pred for lab, pred in zip(labels, predictions, strict=True)],
            "confidence": [0.9, 0.4, NAN, 0.55][: len(ids)],
            "tag:telephone": [False, True, False, True][: len(ids)],
        }
    )


def build(project: Project) -> None:
    """A hand-built project: a labelled dataset with two runs, reviews (one retracted),
    reviewed and dataset tags, a deleted tag, and a production sample."""
    add_run(project, "speech", speech_frame(), dataset_tags=["telephone"])
    v2 = speech_frame().assign(prediction="yes", correct=lambda f: f["label"] == "yes")
    add_run(project, "speech", v2, run="v2", dataset_tags=["telephone"])
    store = project.dataset("speech")
    store.record_review(
        "s1", run="main", reviewer="ana", tags=["car noise"], note="engine", queue="error"
    )
    store.record_review(
        "s2",
        run="main",
        reviewer="ben",
        tags=["car noise", "babble"],
        label_wrong=True,
        corrected_label="no",
    )
    store.record_review("s4", run="main", reviewer="cy", tags=["car noise"])
    store.undo(actor="cy")  # retracts cy's review and takes its tag back
    project.delete_tag("babble", actor="ana")
    production = pd.DataFrame({"id": ["p1"], "prediction": ["go"]})
    add_run(project, "field", production, production=True)


@pytest.fixture
def built(tmp_path) -> Path:
    path = tmp_path / "project.db"
    with open_project(path) as project:
        build(project)
    return path


def rows(path: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def same_rows(got: list[tuple], expected: list[tuple]) -> bool:
    """Equal row by row, NaN in ``expected`` standing for NULL."""

    def norm(row: tuple) -> tuple:
        return tuple(None if isinstance(v, float) and math.isnan(v) else v for v in row)

    return [norm(r) for r in got] == [norm(r) for r in expected]


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "SELECT dataset, run, example_id, label, prediction, correct, confidence"
            " FROM examples ORDER BY dataset, run, example_id",
            [
                ("field", "main", "p1", None, "go", None, None),
                ("speech", "main", "s1", "yes", "yes", 1, 0.9),
                ("speech", "main", "s2", "yes", "no", 0, 0.4),
                ("speech", "main", "s3", "no", "no", 1, NAN),
                ("speech", "main", "s4", "yes", "no", 0, 0.55),
                ("speech", "v2", "s1", "yes", "yes", 1, 0.9),
                ("speech", "v2", "s2", "yes", "yes", 1, 0.4),
                ("speech", "v2", "s3", "no", "yes", 0, NAN),
                ("speech", "v2", "s4", "yes", "yes", 1, 0.55),
            ],
        ),
        (
            # babble was deleted, cy's car noise undone; telephone came with both runs.
            "SELECT dataset, example_id, tag, kind, actor, run FROM tagged_examples"
            " ORDER BY kind, tag, example_id, run",
            [
                ("speech", "s2", "telephone", "dataset", "import", "main"),
                ("speech", "s2", "telephone", "dataset", "import", "v2"),
                ("speech", "s4", "telephone", "dataset", "import", "main"),
                ("speech", "s4", "telephone", "dataset", "import", "v2"),
                ("speech", "s1", "car noise", "reviewed", "ana", None),
                ("speech", "s2", "car noise", "reviewed", "ben", None),
            ],
        ),
        (
            "SELECT dataset, run, example_id, reviewer, stratum, note, label_wrong,"
            " corrected_label, queue, retracted, sample FROM review_log ORDER BY review",
            [
                ("speech", "main", "s1", "ana", "correct", "engine", 0, None, "error", 0, None),
                ("speech", "main", "s2", "ben", "error", "", 1, "no", "", 0, None),
                ("speech", "main", "s4", "cy", "error", "", 0, None, "", 1, None),
            ],
        ),
        (
            "SELECT dataset, run, examples, errors, accuracy, production, source"
            " FROM runs_summary ORDER BY dataset, run",
            [
                ("field", "main", 1, None, None, 1, "field.csv"),
                ("speech", "main", 4, 2, 0.5, 0, "speech.csv"),
                ("speech", "v2", 4, 1, 0.75, 0, "speech.csv"),
            ],
        ),
    ],
    ids=["examples", "tagged_examples", "review_log", "runs_summary"],
)
def test_each_view_names_what_the_project_holds(built, sql, expected):
    assert same_rows(rows(built, sql), expected)


def test_the_views_times_are_those_of_the_store(built):
    with open_project(built, readonly=True) as project:
        store = project.dataset("speech")
        reviews = store.reviews(include_retracted=True)
        tags = store.tag_assignments()
        info = store.run("main")
        undone = project.actions().set_index("kind").loc["undo", "at"]
    assert rows(built, "SELECT at FROM review_log ORDER BY review") == [
        (at,) for at in reviews["at"]
    ]
    assert rows(built, "SELECT example_id, retracted_at FROM review_log WHERE retracted") == [
        ("s4", undone)
    ]
    reviewed = rows(
        built, "SELECT example_id, at FROM tagged_examples WHERE kind = 'reviewed' ORDER BY 1"
    )
    assert reviewed == sorted(zip(tags["example_id"], tags["at"], strict=True))
    assert rows(
        built, "SELECT DISTINCT at FROM tagged_examples WHERE kind = 'dataset' AND run = 'main'"
    ) == [(info.imported_at,)]


def test_a_replaced_run_replaces_its_rows(built):
    with open_project(built) as project:
        frame = speech_frame(ids=("s1", "s3", "s5"), labels=("no", "no", "yes"))
        add_run(
            project,
            "speech",
            frame.drop(columns="confidence"),
            dataset_tags=["telephone"],
            replace=True,
        )
    assert rows(
        built,
        "SELECT example_id, label, prediction, correct, confidence FROM examples"
        " WHERE dataset = 'speech' AND run = 'main' ORDER BY example_id",
    ) == [("s1", "no", "yes", 0, None), ("s3", "no", "no", 1, None), ("s5", "yes", "no", 0, None)]
    assert rows(
        built,
        "SELECT example_id, run FROM tagged_examples WHERE tag = 'telephone' ORDER BY run, 1",
    ) == [("s3", "main"), ("s2", "v2"), ("s4", "v2")]
    # The other run is as it was.
    assert rows(built, "SELECT count(*) FROM examples WHERE run = 'v2'") == [(4,)]


def test_a_column_read_in_pieces_is_written_whole(tmp_path):
    # A large CSV's text columns arrive as Arrow arrays of several chunks.
    def pieces(*chunks: list[str]) -> pd.Series:
        return pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(chunks)))

    frame = pd.DataFrame(
        {
            "id": pieces(["b", "a"], ["c"]),
            "label": pieces(["yes", "no"], ["no"]),
            "prediction": pieces(["yes"], ["yes", "no"]),
            "correct": [True, False, True],
        }
    )
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "dev", frame)
    assert rows(path, "SELECT example_id, label, prediction, correct FROM examples ORDER BY 1") == [
        ("a", "no", "yes", 0),
        ("b", "yes", "yes", 1),
        ("c", "no", "no", 1),
    ]


def schema_4_project(path: Path) -> dict[str, pd.DataFrame]:
    """A project written by schema 4 (the same build, before examples were rows); returns
    what its store reads back."""
    old = Project(path, migrate=False)
    old.migrate(to=4)
    build(old)
    seen = read_back(old)
    old.close()
    return seen


def read_back(project: Project) -> dict[str, pd.DataFrame]:
    store = project.dataset("speech")
    return {
        "reviews": store.reviews(include_retracted=True),
        "events": store.tag_events(),
        "tags": store.tag_assignments(),
        "actions": project.actions(limit=1000),
        "definitions": project.tag_definitions(),
    }


def test_a_schema_4_file_reads_as_it_is_and_migrates_keeping_its_history(tmp_path):
    path = tmp_path / "old.db"
    before = schema_4_project(path)
    with open_project(path, readonly=True) as project:  # read without migrating it
        assert project.schema_version == 4
        for name, frame in read_back(project).items():
            pd.testing.assert_frame_equal(frame, before[name], obj=name)
    assert rows(path, "SELECT name FROM sqlite_master WHERE name = 'run_examples'") == []
    with open_project(path) as project:
        assert project.schema_version == SCHEMA_VERSION
        for name, frame in read_back(project).items():
            pd.testing.assert_frame_equal(frame, before[name], obj=name)
        assert [info.in_sql for info in project.runs()] == [True] * len(project.runs())
    assert {r[0] for r in rows(path, "SELECT in_sql FROM runs_summary")} == {1}
    built = tmp_path / "new.db"
    with open_project(built) as project:
        build(project)
    # Filled from each run's frame, the migrated file answers as one built at schema 5.
    for sql in [
        "SELECT * FROM examples ORDER BY dataset, run, example_id",
        "SELECT * FROM run_tags ORDER BY tag_id, run_id, example_id",
        "SELECT dataset, example_id, tag, kind, actor, run FROM tagged_examples"
        " ORDER BY kind, tag, example_id, run",
    ]:
        assert rows(path, sql) and same_rows(rows(path, sql), rows(built, sql)), sql


def readme_query() -> str:
    """The SQL of the README's section on the project file in SQL."""
    section = README.read_text().split("## The project file in SQL", 1)[1]
    return re.search(r"```sql\n(.*?)```", section, re.S).group(1).strip()


@pytest.fixture
def readme_project(tmp_path) -> Path:
    """The README's question asked of the speech demo's shape: labelled go, car noise."""
    path = tmp_path / "demo.db"
    with open_project(path) as project:
        frame = pd.DataFrame(
            {
                "id": ["s0001", "s0002", "s0003", "s0004"],
                "label": ["go", "go", "no", "go"],
                "prediction": ["no", "go", "no", "go"],
                "correct": [False, True, True, True],
                "confidence": [0.41, 0.93, 0.88, 0.7],
            }
        )
        add_run(project, "speech-commands", frame)
        store = project.dataset("speech-commands")
        for example, tag in [
            ("s0001", "car noise"),
            ("s0002", "car noise"),
            ("s0003", "car noise"),
            ("s0004", "people noise"),
        ]:
            store.record_review(example, reviewer="ana", tags=[tag])
    return path


README_ANSWER = [
    {"example_id": "s0001", "prediction": "no", "confidence": 0.41, "reviewer": "ana"},
    {"example_id": "s0002", "prediction": "go", "confidence": 0.93, "reviewer": "ana"},
]


def run_async(coroutine):
    """Run ``coroutine`` to its end in a thread of its own: the browser tests leave an event
    loop running in this one, where asyncio.run refuses to start another."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def test_the_readme_query_through_datasette(readme_project):
    async def ask() -> list[dict]:
        datasette = Datasette([str(readme_project)])
        response = await datasette.client.get(
            "/demo.json", params={"sql": readme_query(), "_shape": "array"}
        )
        assert response.status_code == 200, response.text
        return response.json()

    assert run_async(ask()) == README_ANSWER


def test_the_readme_query_through_sqlite_utils(readme_project):
    assert list(sqlite_utils.Database(readme_project).query(readme_query())) == README_ANSWER


def test_datasette_lists_the_views(built):
    async def views() -> list[str]:
        response = await Datasette([str(built)]).client.get("/project.json")
        return sorted(v["name"] for v in response.json()["views"])

    assert run_async(views()) == ["examples", "review_log", "runs_summary", "tagged_examples"]


text = st.text(
    st.characters(exclude_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")), max_size=12
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(text, text, st.booleans(), st.none() | st.floats(0, 1), st.booleans()),
        min_size=1,
        max_size=20,
    )
)
def test_examples_and_dataset_tags_read_back_as_imported(tmp_path_factory, monkeypatch, examples):
    # Three rows a statement, so that full statements and the last, shorter one all run.
    monkeypatch.setattr(examples_module, "ROWS_PER_INSERT", 3)
    path = tmp_path_factory.mktemp("roundtrip") / "p.db"
    frame = pd.DataFrame(
        {
            "id": [f"e{i}" for i in range(len(examples))],
            "label": [e[0] for e in examples],
            "prediction": [e[1] for e in examples],
            "correct": [e[2] for e in examples],
            "confidence": [NAN if e[3] is None else e[3] for e in examples],
            "tag:noisy": [e[4] for e in examples],
        }
    )
    with open_project(path) as project:
        add_run(project, "dev", frame, dataset_tags=["noisy"])
    got = rows(
        path,
        "SELECT example_id, label, prediction, correct, confidence FROM examples"
        " ORDER BY example_id",
    )
    assert got == sorted((f"e{i}", e[0], e[1], int(e[2]), e[3]) for i, e in enumerate(examples))
    tagged = rows(path, "SELECT example_id FROM tagged_examples WHERE tag = 'noisy' ORDER BY 1")
    assert tagged == sorted((f"e{i}",) for i, e in enumerate(examples) if e[4])


def test_a_runs_rows_are_made_a_chunk_at_a_time(tmp_path, monkeypatch):
    # A run's SQL values made at once as Python objects (five a row, the ids as strings)
    # weigh about 190 bytes a row; made 2,000 rows at a time, what lives at once is the
    # run's sort order and class codes (24 bytes a row) and one chunk.
    monkeypatch.setattr(examples_module, "STATEMENTS_PER_CHUNK", 4)
    n = 200_000
    frame = pd.DataFrame(
        {
            "id": pd.array([f"example-{i:07d}" for i in range(n)], dtype="str"),
            "label": pd.array(["yes", "no"] * (n // 2), dtype="str"),
            "prediction": pd.array(["yes"] * n, dtype="str"),
            "correct": [True, False] * (n // 2),
            "confidence": [0.25] * n,
            "tag:telephone": [True] * n,
        }
    )
    path = tmp_path / "p.db"
    with open_project(path) as project:
        tracemalloc.start()
        try:
            add_run(project, "dev", frame, dataset_tags=["telephone"])
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert rows(path, "SELECT count(*), sum(correct) FROM examples") == [(n, n // 2)]
    assert rows(path, "SELECT count(*) FROM tagged_examples") == [(n,)]
    assert peak < 40 * n, peak


# ---------------------------------------------------------------------- runs past the limit
VIEWS = [
    "SELECT * FROM examples ORDER BY dataset, run, example_id",
    "SELECT * FROM run_tags ORDER BY tag_id, run_id, example_id",
    "SELECT dataset, example_id, tag, kind, actor, run FROM tagged_examples"
    " ORDER BY kind, tag, example_id, run",
]


def test_a_run_past_the_limit_waits_for_its_rows_until_asked(tmp_path, monkeypatch, built):
    # The speech runs (four examples) pass a limit of three, the production sample does not.
    monkeypatch.setattr(dataset_module, "SQL_ROWS_LIMIT", 3)
    path = tmp_path / "big.db"
    with open_project(path) as project:
        build(project)
    summary = "SELECT dataset, run, in_sql FROM runs_summary ORDER BY dataset, run"
    assert rows(path, summary) == [("field", "main", 1), ("speech", "main", 0), ("speech", "v2", 0)]
    assert rows(path, "SELECT DISTINCT dataset FROM examples") == [("field",)]
    assert rows(path, "SELECT count(*) FROM tagged_examples WHERE kind = 'dataset'") == [(0,)]
    with open_project(path) as project:
        store = project.dataset("speech")
        assert [info.in_sql for info in store.runs()] == [False, False]
        revision, actions = project.revision(), len(project.actions(limit=None))
        assert store.write_sql_rows("main", actor="ana").in_sql
        assert store.write_sql_rows(actor="ana").in_sql  # the latest run, v2
        assert store.write_sql_rows("v2", actor="ana").in_sql  # had them: left as it is
        # The rows repeat what the runs hold: no change to the project, no action logged.
        assert (project.revision(), len(project.actions(limit=None))) == (revision, actions)
    assert rows(path, summary) == [("field", "main", 1), ("speech", "main", 1), ("speech", "v2", 1)]
    for sql in VIEWS:  # as if written at import
        assert rows(path, sql) and same_rows(rows(path, sql), rows(built, sql)), sql


@pytest.mark.parametrize(("limit", "asked", "in_sql"), [(3, True, 1), (3, None, 0), (10, False, 0)])
def test_an_import_writes_the_rows_when_asked_whatever_the_size(
    tmp_path, monkeypatch, limit, asked, in_sql
):
    monkeypatch.setattr(dataset_module, "SQL_ROWS_LIMIT", limit)
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "speech", speech_frame(), dataset_tags=["telephone"], sql_rows=asked)
    assert rows(path, "SELECT in_sql FROM runs_summary") == [(in_sql,)]
    assert rows(path, "SELECT count(*) FROM examples") == [(4 * in_sql,)]
    assert rows(path, "SELECT count(*) FROM run_tags") == [(2 * in_sql,)]


def test_a_run_replaced_past_the_limit_keeps_no_old_rows(tmp_path, monkeypatch):
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "speech", speech_frame(), dataset_tags=["telephone"])
        assert rows(path, "SELECT count(*) FROM examples") == [(4,)]
        monkeypatch.setattr(dataset_module, "SQL_ROWS_LIMIT", 3)
        add_run(project, "speech", speech_frame(), dataset_tags=["telephone"], replace=True)
    assert rows(path, "SELECT in_sql FROM runs_summary") == [(0,)]
    for table in ("run_examples", "run_classes", "run_tags"):
        assert rows(path, f"SELECT count(*) FROM {table}") == [(0,)], table


def test_rows_made_while_the_run_was_imported_again_are_not_written(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, "SQL_ROWS_LIMIT", 3)
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "speech", speech_frame(), dataset_tags=["telephone"])
    made = dataset_module.stored_run_rows

    def then_imported_again(conn, run_id):
        result = made(conn, run_id)
        with open_project(path) as other:
            add_run(other, "speech", speech_frame(), dataset_tags=["telephone"], replace=True)
        return result

    monkeypatch.setattr(dataset_module, "stored_run_rows", then_imported_again)
    message = "was imported again while its SQL rows were made"
    with open_project(path) as project, pytest.raises(StoreError, match=message):
        project.dataset("speech").write_sql_rows(actor="ana")
    assert rows(path, "SELECT in_sql FROM runs_summary") == [(0,)]
    assert rows(path, "SELECT count(*) FROM run_examples") == [(0,)]


def test_only_an_admin_writes_the_rows(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_module, "SQL_ROWS_LIMIT", 3)
    path = tmp_path / "p.db"
    with open_project(path) as project:
        add_run(project, "speech", speech_frame(), actor="boss")
        project.grant_role("boss", "admin", actor="boss")
        project.grant_role("ana", "reviewer", actor="boss")
        with pytest.raises(NotPermitted, match="'ana' may not write a run's SQL rows"):
            project.dataset("speech").write_sql_rows(actor="ana")
        assert project.dataset("speech").write_sql_rows(actor="boss").in_sql
