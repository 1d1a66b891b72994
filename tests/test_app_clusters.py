"""The Clusters page: the map, the table and the representatives of clusters found on the
run's embedding (or a TF-IDF of its text), and naming a cluster as a reviewed tag."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import (
    APP,
    REVIEWER,
    _wav,
    first_table,
    no_errors,
    open_page,
    project_file_of,
    speech_frame,
)
from streamlit.testing.v1 import AppTest

from app_pages._ui import md
from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

DATASET = "speech"


def build(folder, *, embedding: bool = True, text: bool = True):
    """speech_frame's 40 examples (10 errors), with a 16-d embedding where the errors s00,
    s04, …, s16 lie around one direction, s20, …, s36 around another, and every correct
    example around a third."""
    frame = speech_frame()
    if not text:
        frame = frame.drop(columns="text")
    clips = folder / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    for i in range(len(frame)):
        _wav(clips / f"s{i:02d}.wav")
    rng = np.random.default_rng(0)
    directions = np.eye(16)[:3] * 5
    group = np.where(np.arange(40) % 4 == 0, np.where(np.arange(40) < 20, 0, 1), 2)
    vectors = directions[group] + 0.2 * rng.normal(size=(40, 16))
    csv = folder / "speech.csv"
    frame.to_csv(csv, index=False)
    np.save(folder / "emb.npy", vectors)
    result = read_dataset(csv, embeddings=folder / "emb.npy" if embedding else None)
    db = folder / "project.db"
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(result, actor="setup")
    return db


project_file = project_file_of(build)


@pytest.fixture
def page(app):
    return open_page(app, "clusters")


def page_caption_source(at: AppTest) -> str:
    return at.caption[0].value.removeprefix("On ").split(": every error")[0]


def test_the_page_shows_the_map_the_table_and_the_representatives(page):
    no_errors(page)
    assert page.title[0].value == "Clusters"
    shown = first_table(page)
    assert shown["errors"].sum() == 10 and shown["examples"].sum() == 40
    assert page.caption[0].value.startswith("On " + md("emb.npy") + ":")
    assert len(page.get("plotly_chart")) == 1
    # Representatives of cluster 1: three errors, each with its audio and a link to Review.
    assert len(page.get("audio")) == 3
    labels = [m.value for m in page.markdown if m.value.startswith("**s")]
    assert len(labels) == 3 and all("predicted" in text for text in labels)


def test_two_clusters_where_the_model_fails_and_one_where_it_does_well(page):
    shown = first_table(page).set_index("cluster")
    # Chosen by the silhouette rule: the two groups of errors, and the correct examples.
    assert len(shown) == 3
    assert shown["errors"].tolist() == [5, 5, 0] and shown["weak"].tolist() == [True, True, False]


def test_k_can_be_set(page):
    page.number_input(key="cl_k").set_value(2).run()
    no_errors(page)
    assert len(first_table(page)) == 2


def test_naming_a_cluster_tags_its_errors_without_reviewing_them(page, project_file):
    page.text_input(key="cl_tag:1").input("telephone").run()
    page.button(key="cl_name").click().run()
    no_errors(page)
    with open_project(project_file, readonly=True) as project:
        store = project.dataset(DATASET)
        tagged = store.tag_assignments()
        assert set(tagged["tag"]) == {"telephone"} and len(tagged) == 5
        assert tagged["actor"].eq(REVIEWER).all()
        assert store.reviews().empty
        assert store.actions().iloc[0]["kind"] == "tag_examples"


def test_confirming_a_cluster_reviews_its_errors_with_their_tags(page, project_file):
    page.text_input(key="cl_tag:1").input("telephone").run()
    page.button(key="cl_name").click().run()
    page.button(key="cl_confirm").click().run()
    no_errors(page)
    with open_project(project_file, readonly=True) as project:
        store = project.dataset(DATASET)
        reviews = store.reviews()
        assert len(reviews) == 5 and reviews["reviewer"].eq(REVIEWER).all()
        assert sorted(reviews["example_id"]) == sorted(store.tag_assignments()["example_id"])
        assert store.actions().iloc[0]["kind"] == "confirm_cluster"


def test_naming_needs_a_reviewer(project_file):
    at = AppTest.from_file(APP, default_timeout=60).run()
    at = open_page(at, "clusters")
    no_errors(at)
    assert at.button(key="cl_name").disabled and at.button(key="cl_confirm").disabled


def test_a_run_without_an_embedding_is_clustered_on_its_text(tmp_path, monkeypatch):
    monkeypatch.setenv("ERRORANALYSIS_DB", str(build(tmp_path, embedding=False)))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at = open_page(at.run(), "clusters")
    no_errors(at)
    assert page_caption_source(at) == md("TF-IDF of column 'text'")
    assert first_table(at)["errors"].sum() == 10


def test_a_run_without_an_embedding_or_text_says_how_to_import_one(tmp_path, monkeypatch):
    monkeypatch.setenv("ERRORANALYSIS_DB", str(build(tmp_path, embedding=False, text=False)))
    at = open_page(AppTest.from_file(APP, default_timeout=60).run(), "clusters")
    no_errors(at)
    assert "--embeddings FILE.npy" in at.info[0].value
    assert not at.dataframe
