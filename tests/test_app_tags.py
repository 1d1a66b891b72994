"""The Tags page: the overview, editing HLP, rename / merge / delete with confirmation, rule tags."""

from __future__ import annotations

import pandas as pd
import pytest
from app_support import DATASET, REVIEWER, no_errors, open_page

from erroranalysis.store import open_project


@pytest.fixture
def tags(app):
    return open_page(app, "tags")


def overview(at):
    return at.dataframe[0].value.set_index("tag")


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def definitions(project_file):
    with open_project(project_file) as project:
        return project.tag_definitions().set_index("tag")


def test_smoke(tags):
    no_errors(tags)
    table = overview(tags)
    assert table.at["car noise", "kind"] == "reviewed"
    assert table.at["car noise", "examples"] == 1
    assert table.at["car noise", "hlp_source"] == "set"
    assert table.at["clipped", "kind"] == "dataset"
    assert table.at["clipped", "examples"] == 4


def test_edit_hlp_and_effort(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    tags.number_input(key="tg_hlp:car noise").set_value(0.8)
    tags.number_input(key="tg_effort:car noise").set_value(3.0)
    tags.text_area(key="tg_description:car noise").input("engine hum, road rumble")
    tags.button(key="FormSubmitter:tg_edit-Save").click().run()
    no_errors(tags)
    saved = definitions(project_file).loc["car noise"]
    assert (saved["hlp"], saved["effort"], saved["description"]) == (
        0.8,
        3.0,
        "engine hum, road rumble",
    )
    assert overview(tags).at["car noise", "hlp"] == 0.8


def test_measure_hlp_instead_of_setting_it(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    tags.radio(key="tg_hlp_source:car noise").set_value("measured")
    tags.button(key="FormSubmitter:tg_edit-Save").click().run()
    no_errors(tags)
    assert pd.isna(definitions(project_file).loc["car noise", "hlp"])


def test_rename_needs_confirmation(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    tags.text_input(key="tg_new_name").input("engine noise").run()
    button(tags, "Rename…").click().run()
    assert "car noise" in definitions(project_file).index  # nothing yet
    assert any("Rename" in w.value for w in tags.warning)
    tags.button(key="tg_confirm").click().run()
    no_errors(tags)
    assert "engine noise" in definitions(project_file).index
    assert "car noise" not in definitions(project_file).index
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags("s04") == ["engine noise"]
        assert project.actions()["kind"].iloc[0] == "rename_tag"


def test_cancel_leaves_the_tag(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    button(tags, "Delete…").click().run()
    tags.button(key="tg_cancel").click().run()
    assert "car noise" in definitions(project_file).index
    assert not [w for w in tags.warning if "Remove" in w.value]


def test_merge(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    tags.selectbox(key="tg_merge_target").select("people noise").run()
    button(tags, "Merge…").click().run()
    tags.button(key="tg_confirm").click().run()
    no_errors(tags)
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags("s04") == ["people noise"]
        assert project.actions()["kind"].iloc[0] == "merge_tags"
        assert project.actions()["actor"].iloc[0] == REVIEWER


def test_delete(tags, project_file):
    tags.selectbox(key="tg_tag").select("car noise").run()
    button(tags, "Delete…").click().run()
    tags.button(key="tg_confirm").click().run()
    no_errors(tags)
    assert "car noise" not in definitions(project_file).index
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags("s04") == []
        assert project.actions()["kind"].iloc[0] == "delete_tag"


def test_rule_preview_counts_live(tags):
    tags.text_input(key="tg_rule").input("snr_db < 10").run()
    no_errors(tags)
    # s00..s09 have snr_db 0..9; s00, s04 and s08 are errors.
    assert any("Matches 10 examples, 3 of them errors" in i.value for i in tags.info)


def test_rule_preview_says_what_is_wrong(tags):
    tags.text_input(key="tg_rule").input("__import__('os')").run()
    no_errors(tags)
    assert any("Not a valid rule" in e.value for e in tags.error)
    tags.text_input(key="tg_rule").input("colour == 'red'").run()
    assert any("unknown column 'colour'" in e.value for e in tags.error)


def test_save_a_rule_tag(tags, project_file):
    tags.text_input(key="tg_rule").input("noise == 'car'").run()
    tags.text_input(key="tg_rule_name").input("car (metadata)")
    tags.button(key="FormSubmitter:tg_rule_form-Save rule tag").click().run()
    no_errors(tags)
    assert definitions(project_file).loc["car (metadata)", "rule"] == "noise == 'car'"
    table = overview(tags)
    assert table.at["car (metadata)", "kind"] == "rule"
    assert table.at["car (metadata)", "examples"] == 8


def test_the_event_log_is_shown(tags):
    log = tags.dataframe[-1].value
    assert {"at", "actor", "kind"} <= set(log.columns)
    assert "review" in set(log["kind"])
    assert "review of example 's04'" in set(log["what"])


def test_edit_a_rule_tag(tags, project_file):
    with open_project(project_file) as project:
        project.define_tag("quiet", actor="setup", rule="snr_db < 5")
    tags.run()
    tags.selectbox(key="tg_tag").select("quiet").run()
    tags.text_input(key="tg_rule_edit:quiet").input("snr_db < 2")
    tags.button(key="FormSubmitter:tg_edit-Save").click().run()
    no_errors(tags)
    assert definitions(project_file).loc["quiet", "rule"] == "snr_db < 2"
    assert overview(tags).at["quiet", "examples"] == 2
    tags.text_input(key="tg_rule_edit:quiet").input("snr_db <")
    tags.button(key="FormSubmitter:tg_edit-Save").click().run()
    assert any("Not a valid rule" in e.value for e in tags.error)
    assert definitions(project_file).loc["quiet", "rule"] == "snr_db < 2"
