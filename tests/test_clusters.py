"""Clusters of similar errors: planted clusters recovered (embeddings and TF-IDF), counts
exact over the whole run, the same clusters for the same seed, every bad option refused,
and naming a cluster as one logged, undoable action that reviews nothing."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from erroranalysis.clusters import (
    CLUSTER_COLUMNS,
    K_RULE,
    POINT_COLUMNS,
    confirm_cluster,
    error_clusters,
    name_cluster,
)
from erroranalysis.embeddings import Embeddings
from erroranalysis.errors import StoreError
from erroranalysis.estimation import proportion_interval
from erroranalysis.evidence import Evidence, load_evidence
from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project
from erroranalysis.vocabulary import LEFT_OUT_DIRECT

# Four groups where the model fails (70% errors) and four where it does well (3%), 400
# examples each, around random directions of a 64-d space.
GROUPS = 8
WEAK_GROUPS = 4
PER_GROUP = 400


def planted(seed: int = 0, spread: float = 0.25) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(GROUPS, 64))
    group = np.repeat(np.arange(GROUPS), PER_GROUP)
    vectors = centres[group] + spread * rng.normal(size=(len(group), 64))
    error_rate = np.where(group < WEAK_GROUPS, 0.7, 0.03)
    correct = rng.random(len(group)) >= error_rate
    labels = np.array(["yes", "no", "up", "down"])[group % 4]
    examples = pd.DataFrame(
        {
            "id": [f"x{i:04d}" for i in range(len(group))],
            "label": labels,
            "prediction": np.where(correct, labels, "off"),
            "correct": correct,
        }
    )
    return examples, vectors, group


@pytest.fixture(scope="module")
def found():
    examples, vectors, group = planted()
    return examples, group, error_clusters(Evidence(examples), embeddings=Embeddings(vectors, "t"))


def test_planted_clusters_are_recovered_and_told_from_dense_correct_ones(found):
    examples, group, result = found
    assert result.k == GROUPS and result.k_rule == K_RULE
    points = result.points.merge(pd.DataFrame({"id": examples["id"], "group": group}), on="id")
    errors = points[points["error"]]
    assert adjusted_rand_score(errors["group"], errors["cluster"]) > 0.99
    table = result.clusters.set_index("cluster")
    for planted_group in range(GROUPS):
        members = points[points["group"] == planted_group]
        cluster = members["cluster"].mode()[0]
        assert (members["cluster"] == cluster).mean() > 0.99
        row = table.loc[cluster]
        if planted_group < WEAK_GROUPS:
            assert row["weak"] and 0.6 < row["error_rate"] < 0.8
        else:
            assert not row["weak"] and row["error_rate"] < 0.08
    # The clusters where the model fails come first: numbered by errors.
    assert table["weak"].tolist() == [True] * WEAK_GROUPS + [False] * (GROUPS - WEAK_GROUPS)


def test_counts_are_exact_over_the_whole_run(found):
    examples, group, result = found
    table = result.clusters
    assert list(table.columns) == CLUSTER_COLUMNS
    assert table["examples"].sum() == len(examples)
    assert table["errors"].sum() == (~examples["correct"]).sum()
    np.testing.assert_array_equal(table["error_rate"], table["errors"] / table["examples"])
    low, high = proportion_interval(table["errors"].to_numpy(), table["examples"].to_numpy())
    np.testing.assert_array_equal(table["error_rate_low"], low)
    np.testing.assert_array_equal(table["error_rate_high"], high)
    assert table["share_of_errors"].sum() == pytest.approx(1.0)
    assert (table["weak"] == (table["error_rate_low"] > result.error_rate)).all()
    # Every error is clustered, and as many correct examples as errors beside them.
    points = result.points
    assert list(points.columns) == POINT_COLUMNS
    assert points["error"].sum() == (~examples["correct"]).sum()
    assert (~points["error"]).sum() == result.correct_sampled == points["error"].sum()
    assert result.correct_total == examples["correct"].sum()


def test_representatives_are_errors_of_their_cluster_nearest_its_centre(found):
    examples, _, result = found
    points = result.points
    for row in result.clusters.itertuples():
        listed = row.representatives.split("; ")
        chosen = points[(points["cluster"] == row.cluster) & (points["representative"] > 0)]
        assert chosen.sort_values("representative")["id"].tolist() == listed
        assert len(listed) == min(3, row.errors) and chosen["error"].all()
        assert set(listed) <= set(result.members(row.cluster))


def test_the_map_outlines_and_labels_every_cluster(found):
    _, _, result = found
    assert sorted(result.centres["cluster"]) == list(range(1, GROUPS + 1))
    for _, outline in result.outlines.groupby("cluster"):
        assert len(outline) >= 3
        assert outline.iloc[0][["x", "y"]].tolist() == outline.iloc[-1][["x", "y"]].tolist()
    # The clusters are drawn apart: each cluster's errors lie nearer their own centre on
    # the map than any other centre, for nearly all of them.
    points = result.points.merge(result.centres, on="cluster", suffixes=("", "_c"))
    centres = result.centres[["x", "y"]].to_numpy()
    xy = points[["x", "y"]].to_numpy()
    nearest = np.argmin(((xy[:, None, :] - centres[None]) ** 2).sum(axis=2), axis=1) + 1
    assert (nearest == points["cluster"].to_numpy()).mean() > 0.9


def test_the_same_seed_gives_the_same_clusters_and_another_the_same_partition():
    examples, vectors, _ = planted(seed=3)
    evidence, embeddings = Evidence(examples), Embeddings(vectors, "t")
    first = error_clusters(evidence, embeddings=embeddings, seed=5)
    again = error_clusters(evidence, embeddings=embeddings, seed=5)
    for name in ("clusters", "points", "outlines", "centres"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    other = error_clusters(evidence, embeddings=embeddings, seed=6)
    assert set(other.points["id"]) != set(first.points["id"])  # another sample of correct ones
    errors = first.points[first.points["error"]].merge(other.points[other.points["error"]], on="id")
    assert adjusted_rand_score(errors["cluster_x"], errors["cluster_y"]) > 0.99


@pytest.mark.parametrize(
    ("options", "k", "rule"),
    [
        ({"k": 3}, 3, "k = 3 (given)"),
        ({"k": 12}, 12, "k = 12 (given)"),
        ({"k": 30, "correct_sample": 0}, 23, "k = 30 (given), reduced to 23: only 23 distinct"),
    ],
)
def test_k_can_be_given(options, k, rule):
    examples, vectors, _ = planted(seed=1)
    small = examples.iloc[:800].assign(correct=[i >= 23 for i in range(800)])
    result = error_clusters(Evidence(small), embeddings=Embeddings(vectors[:800], "t"), **options)
    assert result.k == k and result.k_rule.startswith(rule)
    assert len(result.clusters) == k


def test_correct_sample_sets_how_many_correct_examples_join_the_fit():
    examples, vectors, _ = planted()
    evidence, embeddings = Evidence(examples), Embeddings(vectors, "t")
    result = error_clusters(evidence, embeddings=embeddings, correct_sample=100, k=8)
    assert result.correct_sampled == (~result.points["error"]).sum() == 100
    everything = error_clusters(evidence, embeddings=embeddings, correct_sample=10**6, k=8)
    assert everything.correct_sampled == examples["correct"].sum()


def test_a_run_without_errors_has_no_clusters():
    examples, vectors, _ = planted()
    perfect = examples.assign(correct=True)
    result = error_clusters(Evidence(perfect), embeddings=Embeddings(vectors, "t"))
    assert result.k == 0 and result.clusters.empty and result.points.empty
    assert list(result.clusters.columns) == CLUSTER_COLUMNS
    with pytest.raises(
        ValueError, match=r"there is no cluster 1 \(clusters: none: the run has no errors\)"
    ):
        result.members(1)


def test_text_is_clustered_by_tfidf():
    topics = [
        "engine car road hum driving",
        "crowd people talking babble cafe",
        "phone line telephone narrow band",
    ]
    rng = np.random.default_rng(0)
    rows = []
    for i in range(300):
        topic = i % 3
        words = rng.choice(topics[topic].split(), 4).tolist() + [f"w{rng.integers(50)}"]
        rows.append((f"t{i}", " ".join(words), topic, bool(topic == 2 or rng.random() < 0.3)))
    examples = pd.DataFrame(rows, columns=["id", "text", "topic", "error"])
    examples = examples.assign(correct=~examples["error"])
    result = error_clusters(Evidence(examples), text_column="text", k=3)
    assert result.source == "TF-IDF of column 'text'"
    points = result.points.merge(examples[["id", "topic"]], on="id")
    assert adjusted_rand_score(points["topic"], points["cluster"]) > 0.95
    assert result.clusters.loc[0, "weak"]  # the telephone topic: every example an error


BAD_OPTIONS = [
    ({}, "no embedding to cluster: import one with the data"),
    ({"embeddings": np.zeros((3, 2))}, "embeddings must be an Embeddings, got ndarray"),
    ({"embeddings": Embeddings(np.zeros((2, 2)), "t")}, "embeddings has 2 rows but the run has 3"),
    ({"embeddings": Embeddings(np.zeros((3, 2)), "t"), "text_column": "text"}, "not both"),
    ({"text_column": "words"}, "examples has no column 'words' to embed by TF-IDF"),
    ({"text_column": 3}, "text_column must be a column name"),
    ({"text_column": "text", "k": 1}, "k must be an integer from 2 to 100"),
    ({"text_column": "text", "k": 2.0}, "k must be an integer from 2 to 100"),
    ({"text_column": "text", "k": True}, "k must be an integer from 2 to 100"),
    ({"text_column": "text", "correct_sample": -1}, "correct_sample must be a non-negative"),
    ({"text_column": "text", "seed": -2}, "seed must be a non-negative integer"),
    ({"text_column": "text", "level": 1.0}, "level must be between 0 and 1"),
    ({"text_column": "text", "representatives": 0}, "representatives must be a positive"),
]


@pytest.mark.parametrize(("options", "message"), BAD_OPTIONS)
def test_bad_options_are_refused_with_the_problem_named(options, message):
    examples = pd.DataFrame(
        {"id": ["a", "b", "c"], "text": ["x y", "y z", "z x"], "correct": [True, False, True]}
    )
    with pytest.raises(ValueError, match=message):
        error_clusters(Evidence(examples), **options)


# ---------------------------------------------------------------------- naming a cluster
@pytest.fixture
def project(tmp_path):
    examples, vectors, _ = planted()
    path = tmp_path / "run.csv"
    examples.drop(columns="correct").to_csv(path, index=False)
    np.save(tmp_path / "emb.npy", vectors)
    with open_project(tmp_path / "p.db") as project:
        store = project.dataset("dev", create=True)
        store.import_result(read_dataset(path, embeddings=tmp_path / "emb.npy"), actor="t")
        project.define_tag("loud", actor="t", rule="label == 'yes'")
        yield project


def clusters_of(project):
    store = project.dataset("dev")
    evidence = load_evidence(project, "dev")
    return error_clusters(evidence, embeddings=store.embeddings(), k=GROUPS)


def test_naming_a_cluster_tags_its_errors_in_one_undoable_action(project):
    store = project.dataset("dev")
    result = clusters_of(project)
    members = result.members(1)
    before = len(store.actions())
    action = name_cluster(store, result, 1, "telephone", actor="ana")
    actions = store.actions()
    assert len(actions) == before + 1 and actions.iloc[0]["kind"] == "tag_examples"
    assert '"cluster": 1' in actions.iloc[0]["detail"]
    assigned = store.tag_assignments()
    assert sorted(assigned.loc[assigned["tag"] == "telephone", "example_id"]) == sorted(members)
    events = store.tag_events()
    assert (events["action_id"] == action).sum() == len(members)
    # Tagging is not reviewing: nobody reviewed them, and the estimates leave them out.
    assert store.reviews().empty
    evidence = load_evidence(project, "dev")
    assert not evidence.reviewed.any()
    assert evidence.tags["telephone"].sum() == len(members)
    # Naming it again changes nothing and logs nothing; undo takes the whole action back.
    assert name_cluster(store, result, 1, "telephone", actor="ana") is None
    assert len(store.actions()) == before + 1
    undone = store.undo(actor="ana")
    assert undone["kind"] == "tag_examples"
    assert store.tag_assignments().empty
    assert store.replay_tags().empty


@pytest.mark.parametrize(
    ("tag", "message"),
    [
        ("loud", "'loud' is a rule tag"),
        ("", "tag name"),
    ],
)
def test_naming_with_a_tag_that_cannot_be_reviewed_changes_nothing(project, tag, message):
    store = project.dataset("dev")
    result = clusters_of(project)
    before = project.revision()
    with pytest.raises(StoreError, match=message):
        name_cluster(store, result, 1, tag, actor="ana")
    assert project.revision() == before and store.tag_assignments().empty


def test_tagging_unknown_ids_changes_nothing(project):
    store = project.dataset("dev")
    before = project.revision()
    with pytest.raises(StoreError, match="no example with id 'nope' .and 1 more.; nothing"):
        store.tag_examples(["x0000", "nope", "gone"], "telephone", actor="ana")
    assert project.revision() == before and "telephone" not in set(project.tag_definitions().tag)


def test_naming_a_cluster_that_does_not_exist_is_refused(project):
    result = clusters_of(project)
    with pytest.raises(ValueError, match=r"there is no cluster 9 \(clusters: 1 to 8\)"):
        name_cluster(project.dataset("dev"), result, 9, "telephone", actor="ana")


# ---------------------------------------------------------------------- the command line
@pytest.fixture
def project_path(project, tmp_path):
    return str(project.path)


def test_the_cli_writes_the_table_and_names_a_cluster(project_path, tmp_path, capsys):
    from erroranalysis.cli import main

    out = tmp_path / "clusters.csv"
    args = ["clusters", "--dataset", "dev", "--db", project_path, "--k", "8"]
    assert main([*args, "--out", str(out)]) == 0
    table = pd.read_csv(out)
    assert list(table.columns) == CLUSTER_COLUMNS and len(table) == GROUPS
    assert main([*args, "--name", "1", "telephone", "--actor", "ana"]) == 0
    err = capsys.readouterr().err
    assert f"cluster 1: its {table.loc[0, 'errors']} errors are tagged" in err
    with open_project(project_path, readonly=True) as project:
        assert len(project.dataset("dev").tag_assignments()) == table.loc[0, "errors"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--k", "1"], "--k: k must be an integer from 2 to 100"),
        (["--seed", "-1"], "--seed: seed must be a non-negative integer"),
        (["--name", "one", "telephone"], "--name one telephone: N is the number of a cluster"),
        (["--name", "9", "telephone", "--k", "8"], "--name 9: there are clusters 1 to 8 only"),
        (["--text-column", "label"], "--text-column: run 'main' has an embedding already"),
        (["--run", "v9"], "dataset 'dev' has no run 'v9'"),
    ],
)
def test_the_cli_refuses_bad_arguments_and_changes_nothing(project_path, capsys, extra, message):
    from erroranalysis.cli import main

    assert main(["clusters", "--dataset", "dev", "--db", project_path, *extra]) == 1
    assert message in capsys.readouterr().err
    with open_project(project_path, readonly=True) as project:
        assert project.dataset("dev").tag_assignments().empty


def test_the_cli_clusters_text_without_an_embedding(tmp_path, capsys):
    from erroranalysis.cli import main

    data = tmp_path / "text.csv"
    pd.DataFrame(
        {
            "id": [f"t{i}" for i in range(60)],
            "label": "a",
            "prediction": ["b" if i % 3 == 0 else "a" for i in range(60)],
            "text": [["car engine road", "people talking", "phone line"][i % 3] for i in range(60)],
        }
    ).to_csv(data, index=False)
    db = str(tmp_path / "t.db")
    assert main(["import", str(data), "--dataset", "t", "--db", db]) == 0
    capsys.readouterr()
    assert main(["clusters", "--dataset", "t", "--db", db, "--k", "3"]) == 0
    captured = capsys.readouterr()
    assert "3 clusters of TF-IDF of column 'text'" in captured.err
    assert pd.read_csv(io.StringIO(captured.out))["errors"].tolist() == [20, 0, 0]
    assert main(["clusters", "--dataset", "t", "--db", db, "--text-column", "nope"]) == 1
    assert "--text-column 'nope': dataset 't' has no such column" in capsys.readouterr().err


@pytest.mark.parametrize("k", [2, 3, 7])
def test_the_silhouette_is_scikit_learns(k):
    from sklearn.metrics import pairwise_distances, silhouette_score

    from erroranalysis.clusters import silhouette

    rng = np.random.default_rng(k)
    points = rng.normal(size=(300, 5))
    labels = rng.integers(0, k, 300)
    labels[0] = k  # a cluster of one point
    distances = pairwise_distances(points)
    assert silhouette(distances, labels) == pytest.approx(
        silhouette_score(distances, labels, metric="precomputed"), rel=1e-9
    )


def test_the_demo_clusters_its_telephone_errors_apart(tmp_path):
    from erroranalysis.demo import SPEECH, build_demo

    build_demo(tmp_path / "demo.db")
    with open_project(tmp_path / "demo.db", readonly=True) as project:
        store = project.dataset(SPEECH)
        assert {r.name for r in store.runs()} == {"main", "v2"}
        assert all(store.embeddings(run).dimensions == 280 for run in ("main", "v2"))
        evidence = load_evidence(project, SPEECH)
        result = error_clusters(evidence, embeddings=store.embeddings())
    frame = evidence.examples.set_index("id")
    telephone = frame.index[(frame["bandwidth_khz"] < 4) & ~frame["correct"]]
    weak = result.clusters[result.clusters["weak"]]
    assert len(weak) == 1
    assert sorted(result.members(int(weak["cluster"].iloc[0]))) == sorted(telephone)
    assert (
        weak["common_metadata"].iloc[0] == "noise = low_bandwidth (13 of 13 errors; 7% of the run)"
    )


def test_each_cluster_names_its_most_over_represented_metadata_value():
    examples, vectors, group = planted()
    # A room that holds planted group 0 and a quarter of group 5; a column with too many
    # values to profile; a tag column and the roles, never profiled.
    room = np.where(
        group == 0,
        "attic",
        np.where((group == 5) & (np.arange(len(group)) % 4 == 0), "attic", "hall"),
    )
    examples = examples.assign(
        room=room,
        speaker=[f"spk{i % 50}" for i in range(len(group))],
        confidence=0.5,
        **{"tag:loud": group == 1},
    )
    result = error_clusters(Evidence(examples), embeddings=Embeddings(vectors, "t"), k=GROUPS)
    points = result.points.merge(pd.DataFrame({"id": examples["id"], "group": group}), on="id")
    attic = points.loc[points["group"] == 0, "cluster"].mode()[0]
    row = result.clusters.set_index("cluster").loc[attic]
    errors = int(row["errors"])
    share = (room == "attic").mean()
    assert (
        row["common_metadata"]
        == f"room = attic ({errors} of {errors} errors; {share:.0%} of the run)"
    )
    profiled = " ".join(result.clusters["common_metadata"])
    assert "speaker" not in profiled and "loud" not in profiled and "confidence" not in profiled


def test_confirming_a_cluster_reviews_its_errors_in_one_undoable_action(project):
    store = project.dataset("dev")
    result = clusters_of(project)
    members = result.members(1)
    name_cluster(store, result, 1, "telephone", actor="ana")
    store.record_review(members[0], reviewer="ben", tags=["telephone"])  # one seen before
    action = confirm_cluster(store, result, 1, reviewer="ana")
    reviews = store.reviews()
    mine = reviews[reviews["reviewer"] == "ana"]
    assert sorted(mine["example_id"]) == sorted(members[1:])
    assert set(mine["queue"]) == {"direct"}
    assert store.actions().iloc[0][["id", "kind"]].tolist() == [action, "confirm_cluster"]
    # The tags stay as they were; the reviews are kept, but drawn in no sample.
    assigned = store.tag_assignments()
    assert sorted(assigned.loc[assigned["tag"] == "telephone", "example_id"]) == sorted(members)
    evidence = load_evidence(project, "dev")
    assert evidence.reviewed.sum() == 1  # ben's, from no queue: the legacy sample
    assert evidence.left_out[LEFT_OUT_DIRECT] == len(members) - 1
    # Confirming again records nothing; undo takes the whole confirmation back.
    assert confirm_cluster(store, result, 1, reviewer="ana") is None
    assert store.undo(actor="ana")["kind"] == "confirm_cluster"
    assert len(store.reviews()) == 1
