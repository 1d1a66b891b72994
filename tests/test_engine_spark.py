"""The Spark engine (erroranalysis.engines.spark): ``import --engine spark`` then
``priorities`` gives the in-memory import's table exactly, on the same data, with the same
reviews of the queue drawn in Spark; bad input errors without writing; old files open."""

from __future__ import annotations

import io
import sqlite3

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from spark_support import spark  # noqa: F401 -- the session fixture

from erroranalysis.census import counted_draw
from erroranalysis.cli import main
from erroranalysis.errors import StoreError
from erroranalysis.review import record_queue_sample
from erroranalysis.sampling import Draw
from erroranalysis.store import SCHEMA_VERSION, open_project
from erroranalysis.vocabulary import STRATUM_CORRECT, STRATUM_ERROR

pytestmark = pytest.mark.usefixtures("spark")

ROWS = 3000
RULES = {
    "low snr": "snr < 10",
    "car noise": 'noise == "car"',
    "not car": 'noise != "car"',
    "babble or street": 'noise in ["babble", "street"]',
    "unsure": "confidence < 0.4 and not snr >= 20",
    "on a missing column": "missing_column > 1",
}


def predictions(rows: int = ROWS, seed: int = 7) -> pa.Table:
    """Predictions with dataset tags (a tags column, a tag:NAME column), a human label
    (some missing, some disagreeing), text with missing values and numbers with NaN."""
    rng = np.random.default_rng(seed)
    labels = rng.choice(["yes", "no", "up", "down"], rows)
    wrong = rng.random(rows) < 0.25
    prediction = np.where(wrong, np.roll(labels, 1), labels)
    human = np.where(rng.random(rows) < 0.9, labels, np.roll(labels, 2)).astype(object)
    human[rng.random(rows) < 0.3] = None
    noise = rng.choice(np.array(["car", "babble", "street", None], dtype=object), rows)
    snr = rng.normal(15, 8, rows)
    snr[rng.random(rows) < 0.1] = np.nan
    cells = rng.choice(np.array(["", "people", "people; far", "far", None], dtype=object), rows)
    return pa.table(
        {
            "id": [f"u{i:05d}" for i in range(rows)],
            "label": labels,
            "prediction": prediction,
            "human_label": pa.array(human, type=pa.string()),
            "confidence": rng.random(rows),
            "noise": pa.array(noise, type=pa.string()),
            "snr": snr,
            "tags": pa.array(cells, type=pa.string()),
            "tag:blurry": rng.random(rows) < 0.2,
        }
    )


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("spark-source") / "predictions.parquet"
    pq.write_table(predictions(), path)
    return str(path)


def _define_rules(db) -> None:
    with open_project(db) as project:
        for tag, rule in RULES.items():
            project.define_tag(tag, rule=rule, actor="lead")
        project.define_tag("muffled", hlp=0.9, actor="lead")
        project.define_tag("far", hlp=0.95, effort=2.0, actor="lead")


def _draw_of(project, dataset: str, sample: int) -> Draw:
    row = project.dataset(dataset).samples().set_index("id").loc[sample]
    return Draw(
        run=row["run"],
        strategy=row["strategy"],
        seed=int(row["seed"]),
        size=int(row["size"]),
        examples=project.dataset(dataset).sample_draws(sample),
        design=row["design"],
    )


def _review(db, dataset: str, sample: int | None, ids: list[str]) -> None:
    """The same reviews in either project, of the sample or of none (weighted as a sample
    of the run's strata): every third example muffled."""
    with open_project(db) as project:
        table = pd.DataFrame(
            {"id": ids, "reviewer": "ana", "sample_id": pd.array([sample] * len(ids), "Int64")}
        )
        tags = [["muffled"] if i % 3 == 0 else [] for i in range(len(ids))]
        project.dataset(dataset).record_reviews(table, tags=tags)


@pytest.fixture(scope="module", params=["of the sample", "of no sample"])
def projects(source, tmp_path_factory, request):
    """(in memory, counted in Spark, the Spark draw): the same file imported both ways,
    the Spark draw recorded in both and its first 300 examples reviewed alike, naming the
    sample or not."""
    folder = tmp_path_factory.mktemp("spark-projects")
    memory, counted = folder / "memory.db", folder / "spark.db"
    for db in (memory, counted):
        _define_rules(db)
    assert main(["import", source, "--db", str(memory), "--dataset", "dev"]) == 0
    args = ["import", source, "--db", str(counted), "--dataset", "dev", "--engine", "spark"]
    assert main([*args, "--queue-size", "400", "--seed", "3"]) == 0
    with open_project(counted) as project:
        sample = int(project.dataset("dev").samples()["id"].iloc[0])
        draw = _draw_of(project, "dev", sample)
    with open_project(memory) as project:
        copied = project.dataset("dev").record_sample(draw, actor="lead")
    reviewed = draw.examples["id"].tolist()[:300]
    named = request.param == "of the sample"
    _review(memory, "dev", copied if named else None, reviewed)
    _review(counted, "dev", sample if named else None, reviewed)
    return memory, counted, draw


@pytest.mark.parametrize("out", [True, False], ids=["csv file", "table on stdout"])
def test_priorities_equal_the_in_memory_import(projects, tmp_path, capsys, out):
    texts = []
    for db in projects[:2]:
        args = ["priorities", "--db", str(db), "--dataset", "dev"]
        target = tmp_path / f"{db.stem}.csv"
        capsys.readouterr()
        assert main([*args, "--out", str(target)] if out else args) == 0
        texts.append(target.read_text() if out else capsys.readouterr().out)
    assert texts[0] == texts[1]
    table = pd.read_csv(io.StringIO(texts[1]))
    # Every kind of tag is in it: dataset (both columns), rule (strings, NaN), reviewed.
    assert set(table["tag"]) == {
        "blurry", "people", "far", "low snr", "car noise", "not car", "babble or street",
        "unsure", "muffled",
    }  # fmt: skip
    assert table.set_index("tag").loc["muffled", "kind"] == "reviewed"


def test_the_run_keeps_its_size_and_only_the_drawn_examples(projects, source):
    memory, counted, draw = projects
    frame = pq.read_table(source).to_pandas()
    errors = int((frame["label"] != frame["prediction"]).sum())
    with open_project(counted) as project:
        info = project.dataset("dev").run()
        kept = project.dataset("dev").examples(sample_only=True)
        with pytest.raises(StoreError, match="holds its counts and the examples drawn for"):
            project.dataset("dev").examples()
    assert (info.counted_by, info.n_examples, info.n_errors) == ("spark", ROWS, errors)
    assert len(kept) == 400
    assert kept["id"].tolist() == draw.examples["id"].tolist()
    with open_project(memory) as project:
        assert project.dataset("dev").run().counted_by is None
        whole = project.dataset("dev").examples().set_index("id")
    # The drawn examples are read as the in-memory import reads them.
    pd.testing.assert_frame_equal(kept.set_index("id"), whole.loc[kept["id"]])


def test_the_queue_is_drawn_per_stratum_with_its_inclusion_probabilities(projects, source):
    frame = pq.read_table(source).to_pandas()
    errors = int((frame["label"] != frame["prediction"]).sum())
    draw = projects[2]
    # 10% of 400 correct predictions, the rest errors: n_h / N_h each.
    wanted = {STRATUM_ERROR: (360, errors), STRATUM_CORRECT: (40, ROWS - errors)}
    strata = draw.examples.groupby("stratum")["probability"].agg(["size", "min", "max"])
    for stratum, (n, size) in wanted.items():
        assert strata.loc[stratum].tolist() == [n, n / size, n / size]
    assert draw.design["strata"] == [
        {"name": STRATUM_ERROR, "size": errors, "drawn": 360},
        {"name": STRATUM_CORRECT, "size": ROWS - errors, "drawn": 40},
    ]
    assert (draw.strategy, draw.seed, draw.size) == ("stratified", 3, 400)
    correct = frame.set_index("id").loc[draw.examples["id"]]
    is_error = (correct["label"] != correct["prediction"]).to_numpy()
    assert (is_error == (draw.examples["stratum"] == STRATUM_ERROR).to_numpy()).all()


def test_the_review_page_queue_is_the_draw_the_import_recorded(projects):
    counted, draw = projects[1], projects[2]
    with open_project(counted) as project:
        store = project.dataset("dev")
        queue = counted_draw(project, "dev")
        samples = store.samples()["id"].tolist()
        # A review from the page's queue is recorded with the import's sample, no other.
        assert record_queue_sample(store, queue, actor="ana") == samples[0]
        assert store.samples()["id"].tolist() == samples
    assert queue.examples["id"].tolist() == draw.examples["id"].tolist()
    pd.testing.assert_frame_equal(queue.examples, draw.examples)
    assert queue.design == draw.design


@pytest.mark.parametrize(
    "command",
    [
        ["slices", "--by", "noise"],
        ["discover"],
        ["export", "examples", "--out", "examples.csv"],
    ],
)
def test_commands_that_need_every_example_name_the_run(projects, command, capsys, tmp_path):
    db = str(projects[1])
    command = [str(tmp_path / c) if c.endswith(".csv") else c for c in command]
    capsys.readouterr()
    assert main([command[0], "--db", db, "--dataset", "dev", *command[1:]]) == 1
    assert "run 'main' of dataset 'dev' was imported with --engine spark" in capsys.readouterr().err


def test_the_drawn_queue_is_written_to_fill_in_and_its_reviews_are_of_the_sample(
    source, tmp_path, capsys
):
    db, sheet = tmp_path / "project.db", tmp_path / "queue.csv"
    args = ["import", source, "--db", str(db), "--dataset", "dev", "--engine", "spark"]
    assert main([*args, "--queue-size", "120", "--seed", "5", "--queue-out", str(sheet)]) == 0
    assert f"wrote {sheet}: fill in reviewer and tags" in capsys.readouterr().out
    queue = pd.read_csv(sheet, keep_default_na=False)
    with open_project(db) as project:
        sample = int(project.dataset("dev").samples()["id"].iloc[0])
        draws = project.dataset("dev").sample_draws(sample)
    # One row per drawn example, in review order, each standing for 1/π examples.
    assert queue["id"].astype(str).tolist() == draws["id"].astype(str).tolist()
    assert set(queue["sample"]) == {sample} and set(queue["run"]) == {"main"}
    assert queue["weight"].tolist() == (1.0 / draws["probability"]).tolist()
    assert list(queue.columns[:5]) == ["id", "sample", "run", "stratum", "weight"]
    assert list(queue.columns[-2:]) == ["reviewer", "tags"]
    queue.loc[:29, "reviewer"] = "ana"
    queue.loc[:29, "tags"] = "muffled"
    queue.to_csv(sheet, index=False)
    assert main(["reviews", "import", str(sheet), "--db", str(db), "--dataset", "dev"]) == 0
    assert f"recorded 30 reviews of sample {sample}" in capsys.readouterr().out
    with open_project(db) as project:
        reviews = project.dataset("dev").reviews()
    assert len(reviews) == 30 and set(reviews["sample_id"]) == {sample}


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--engine", "spark", "--queue-out", "missing/queue.csv"], "its folder does not exist"),
        (["--queue-out", "queue.csv"], "--queue-out is for an import with --engine spark"),
    ],
    ids=["missing folder", "in memory"],
)
def test_a_queue_file_that_cannot_be_written_is_refused_before_the_import(
    source, tmp_path, capsys, flags, expected
):
    db = tmp_path / "project.db"
    flags = [str(tmp_path / f) if f.endswith(".csv") else f for f in flags]
    capsys.readouterr()
    assert main(["import", source, "--db", str(db), "--dataset", "dev", *flags]) == 1
    assert expected in capsys.readouterr().err
    assert not db.exists()
    assert not any(tmp_path.glob("**/queue.csv"))


def _unchanged(db) -> tuple:
    """What a failed import must leave as it was: every table's rows."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return tuple(conn.execute(f"SELECT count(*) FROM '{t}'").fetchone()[0] for t in tables)


def _broken(table: pa.Table, column: str, values: list) -> pa.Table:
    head = table.slice(0, len(values))
    return head.set_column(head.column_names.index(column), column, pa.array(values))


@pytest.mark.parametrize(
    ("change", "flags", "expected"),
    [
        (None, ["--source-missing"], "Spark cannot read the Parquet path"),
        (None, ["--label-column", "truth"], "the required label column is missing"),
        (("id", ["a", "b", "a", "c"]), [], "ids repeat: 4 rows with an id hold 3 distinct ids"),
        (("id", ["a", "", "b", "c"]), [], "id is empty in 1 rows"),
        (("confidence", [0.1, 1.5, 0.2, -1.0]), [], "is not a number in \\[0, 1\\] in 2 rows"),
        (
            ("tag:blurry", ["yes", "no", "maybe", "no"]),
            [],
            "column 'tag:blurry': holds values that are not true/false, 1/0 or yes/no \\(maybe\\)",
        ),
        (
            ("tags", ["a;b", "x\x00y", "", "c"]),
            [],
            "column 'tags': value .* tag name contains control",
        ),
        (None, ["--queue-size", "5000"], "size 5,000 is more than the 3,000 examples"),
    ],
    ids=[
        "no source",
        "no label",
        "repeated id",
        "empty id",
        "confidence",
        "boolean",
        "tag",
        "size",
    ],
)
def test_bad_input_names_the_problem_and_writes_nothing(
    source, tmp_path, capsys, change, flags, expected
):
    import re

    db = tmp_path / "project.db"
    _define_rules(db)
    before = _unchanged(db)
    path = source
    if change is not None:
        path = str(tmp_path / "bad.parquet")
        pq.write_table(_broken(predictions(), *change), path)
    if flags[:1] == ["--source-missing"]:
        path, flags = str(tmp_path / "nowhere.parquet"), []
    capsys.readouterr()
    code = main(["import", path, "--db", str(db), "--dataset", "dev", "--engine", "spark", *flags])
    assert code == 1
    assert re.search(expected, capsys.readouterr().err)
    assert _unchanged(db) == before


def test_a_project_file_of_the_previous_schema_opens(tmp_path, source):
    from erroranalysis.importing import read_dataset
    from erroranalysis.store import Project

    path = tmp_path / "old.db"
    old = Project(path, migrate=False)
    old.migrate(to=6)
    old.dataset("dev", create=True).import_result(read_dataset(source), actor="ana")
    with pytest.raises(StoreError, match="schema version 6: open it for writing to upgrade"):
        from erroranalysis.engines.spark import import_spark

        import_spark(old, "dev", source, run="v2")
    old.close()
    with open_project(path, readonly=True) as project:  # read as it is
        assert project.schema_version == 6
        assert project.dataset("dev").run().counted_by is None
    with open_project(path) as project:
        assert project.schema_version == SCHEMA_VERSION
        info = project.dataset("dev").run()
    assert (info.counted_by, info.n_examples) == (None, ROWS)
    assert main(["priorities", "--db", str(path), "--dataset", "dev"]) == 0


@pytest.mark.slow
@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(rows=st.integers(20, 80), seed=st.integers(0, 2**16))
def test_the_census_equals_the_in_memory_counts(spark, tmp_path_factory, rows, seed):  # noqa: F811
    from erroranalysis.counts import tally
    from erroranalysis.engines.spark import count_run
    from erroranalysis.evidence import Evidence
    from erroranalysis.importing import read_dataset
    from erroranalysis.rules import evaluate_rule
    from erroranalysis.vocabulary import TAG_PREFIX

    path = tmp_path_factory.mktemp("census") / "run.parquet"
    pq.write_table(predictions(rows, seed), path)
    counted = count_run(spark.read.parquet(str(path)), source=str(path), rules=RULES, size=4)
    frame = read_dataset(path).frame
    tags = {c[len(TAG_PREFIX) :]: frame[c] for c in frame.columns if c.startswith(TAG_PREFIX)}
    kinds = dict.fromkeys(tags, "dataset")
    for name, rule in RULES.items():
        try:
            tags[name] = evaluate_rule(rule, frame)
        except ValueError:  # a rule on a column the run does not have: no tag of it
            continue
        kinds[name] = "rule"
    expected = tally(Evidence(frame, tags=pd.DataFrame(tags), kinds=kinds))
    census = counted.census
    assert census.names == expected.names
    assert census.kinds == expected.kinds
    assert census.size == tuple(int(n) for n in expected.counts.size)
    for got, want in (
        (census.tagged, expected.counts.tag.x),
        (census.human, expected.counts.agreement.n),
        (census.agree, expected.counts.agreement.x),
    ):
        np.testing.assert_array_equal(got, want)


def test_a_table_name_is_read_as_the_path_is(spark, source, tmp_path):  # noqa: F811
    from erroranalysis.engines.spark import import_spark

    spark.read.parquet(source).createOrReplaceTempView("predictions_table")
    census = []
    for name, where in (("path", source), ("table", "predictions_table")):
        with open_project(tmp_path / f"{name}.db") as project:
            info, sample, _ = import_spark(project, "dev", where, size=50, spark=spark)
            census.append(project.dataset("dev").census())
            drawn = project.dataset("dev").sample_draws(sample)["id"].tolist()
            census.append(drawn)
        assert (info.source, info.format, info.counted_by) == (where, "spark", "spark")
    (path_census, path_drawn, table_census, table_drawn) = census
    assert path_census.names == table_census.names
    np.testing.assert_array_equal(path_census.tagged, table_census.tagged)
    assert path_drawn == table_drawn  # the draw does not depend on how the rows arrive
    with (
        open_project(tmp_path / "none.db") as project,
        pytest.raises(ValueError, match="Spark cannot read the table 'no_such_table'"),
    ):
        import_spark(project, "dev", "no_such_table", spark=spark)
