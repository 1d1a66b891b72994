"""Tags scoped to datasets in the app: Review offers a dataset only its tags and the
project's, keyed 1–9 in the team's order; the Tags page sets a tag's datasets and the order."""

from __future__ import annotations

import pytest
from app_support import DATASET, REVIEWER, no_errors, open_page
from store_support import add_run, numbered_frame

from erroranalysis.store import open_project

OTHER = "digits"


@pytest.fixture
def scoped(project_file):
    """The speech project and a digits dataset: 'car noise' belongs to speech, 'blur' and
    'ink' to digits, 'people noise' to both; the team put 'ink' first, 'people noise'
    second."""
    with open_project(project_file) as project:
        add_run(project, OTHER, numbered_frame(9))
        for name in ("blur", "ink"):
            project.define_tag(name, actor="setup")
            project.scope_tag(name, [OTHER], actor="setup")
        project.scope_tag("car noise", [DATASET], actor="setup")
        project.order_tags(["ink", "people noise"], actor="setup")
    return project_file


def tag_keys(at) -> list[tuple[str, str]]:
    """The Review page's tag buttons, in order, with their keyboard shortcuts."""
    return [
        (b.key.removeprefix("rv_tag:"), b.proto.shortcut)
        for b in at.button
        if (b.key or "").startswith("rv_tag:")
    ]


@pytest.mark.parametrize(
    ("dataset", "example", "keys"),
    [
        (OTHER, "0", [("ink", "1"), ("people noise", "2"), ("blur", "3")]),
        (DATASET, "s08", [("people noise", "1"), ("car noise", "2")]),
    ],
)
def test_review_offers_the_datasets_tags_in_the_teams_order(scoped, app, dataset, example, keys):
    at = open_page(app, "review", dataset=dataset, example=example)
    no_errors(at)
    assert tag_keys(at) == keys


def test_a_tag_of_another_dataset_is_not_in_this_datasets_tables(scoped, app):
    at = open_page(app, "tags", dataset=OTHER)
    no_errors(at)
    listed = at.dataframe[0].value["tag"].tolist()
    assert "car noise" not in listed and {"blur", "ink", "people noise"} <= set(listed)


def definitions(project_file):
    with open_project(project_file) as project:
        return project.tag_definitions().set_index("tag")


def test_the_tags_page_sets_a_tags_datasets(scoped, app):
    at = open_page(app, "tags", dataset=DATASET)
    at.selectbox(key="tg_tag").select("car noise").run()
    scope = at.multiselect(key="tg_scope:car noise")
    assert scope.value == [DATASET]
    assert set(scope.options) == {DATASET, OTHER}
    scope.set_value([DATASET, OTHER]).run()
    at.button(key="tg_scope_save").click().run()
    no_errors(at)
    assert definitions(scoped).at["car noise", "datasets"] == (OTHER, DATASET)
    at.multiselect(key="tg_scope:car noise").set_value([]).run()
    at.button(key="tg_scope_save").click().run()
    no_errors(at)
    assert definitions(scoped).at["car noise", "datasets"] == ()


def test_the_tags_page_moves_a_tag_in_the_shortcut_order(scoped, app):
    at = open_page(app, "tags", dataset=DATASET)
    no_errors(at)
    assert any("Keys on Review: 1 people noise · 2 car noise" in c.value for c in at.caption)
    assert at.button(key="tg_order_up").disabled  # the first can go no higher
    at.selectbox(key="tg_order_tag").select("car noise").run()
    at.button(key="tg_order_up").click().run()
    no_errors(at)
    positions = definitions(scoped)["position"]
    assert positions.dropna().astype(int).to_dict() == {"car noise": 1, "people noise": 2, "ink": 3}
    assert any("Keys on Review: 1 car noise · 2 people noise" in c.value for c in at.caption)
    at = open_page(at, "review", dataset=DATASET, example="s08")
    assert [k for k, _ in tag_keys(at)] == ["car noise", "people noise"]


def test_only_an_admin_sets_datasets_and_order(scoped, app):
    with open_project(scoped) as project:
        project.grant_role("lead", "admin", actor="lead")
        project.grant_role(REVIEWER, "reviewer", actor="lead")
    at = open_page(app, "tags", dataset=DATASET)
    no_errors(at)
    at.selectbox(key="tg_tag").select("people noise").run()
    assert at.multiselect(key="tg_scope:people noise").disabled
    assert at.button(key="tg_scope_save").disabled
    assert at.button(key="tg_order_down").disabled
    with open_project(scoped) as project:
        project.grant_role(REVIEWER, "admin", actor="lead")
    at.run()
    assert not at.button(key="tg_scope_save").disabled
    assert not at.button(key="tg_order_down").disabled
