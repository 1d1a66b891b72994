"""The app's entry point, and how text from data is shown."""

from __future__ import annotations

import re

import pytest
from app_support import APP, DATASET, REVIEWER, no_errors, open_page
from streamlit.testing.v1 import AppTest

from app_pages._ui import md
from erroranalysis.store import open_project


# ---------------------------------------------------------------------- the entry point
def test_app_starts_on_the_datasets_page(app):
    no_errors(app)
    assert app.title[0].value == "Datasets"
    assert app.sidebar.selectbox(key="dataset").value == DATASET


def test_first_start_builds_the_demo(tmp_path, monkeypatch):
    db = tmp_path / "new.db"
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=120).run()
    no_errors(at)
    with open_project(db) as project:
        assert project.dataset_names() == ["speech-commands", "digits"]
    assert at.sidebar.selectbox(key="dataset").value == "speech-commands"


def test_an_empty_project_points_to_the_import(tmp_path, monkeypatch):
    db = tmp_path / "empty.db"
    open_project(db).close()
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    at = AppTest.from_file(APP, default_timeout=60).run()
    no_errors(at)
    for page in ("review", "tags", "priorities", "audit"):
        open_page(at, page)
        no_errors(at)
        assert "No dataset yet" in at.info[0].value


def test_reviewer_name_is_kept_across_pages(app):
    app.sidebar.text_input(key="reviewer").input("ben").run()
    open_page(app, "tags")
    assert app.sidebar.text_input(key="reviewer").value == "ben"


# ---------------------------------------------------------------------- text from data
@pytest.mark.parametrize(
    "text",
    [
        "![x](http://example.invalid/a.png)",
        "[click](javascript:alert(1))",
        "**bold** _it_ `code` ~~s~~ $x^2$ :red[red] :material/home:",
        "<b>html</b> &lt;",
        "www.example.invalid and someone@example.invalid",
        "# heading\n- list",
        "car noise",
    ],
)
def test_md_makes_text_from_data_inert(text):
    shown = md(text)
    # Every Markdown control character is escaped...
    assert re.search(r"(?<!\\)[\[\]()*_`<>!#~$:&|-]", shown) is None
    # ...nothing is left that GitHub-flavoured Markdown links by itself...
    plain = shown.replace("\\", "")
    assert "p://" not in plain and "www." not in plain and re.search(r"\w@", plain) is None
    # ...and what the reader sees is the text itself.
    assert plain.replace("\u200b", "") == text.replace("\n", " ")


def test_labels_from_data_are_escaped_on_the_page(project_file):
    with open_project(project_file) as project:
        project.set_tag(DATASET, "s00", "![t](http://example.invalid/t.png)", actor="setup")
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at.run()
    at = open_page(at, "review", dataset=DATASET, example="s00")
    no_errors(at)
    labels = [b.label for b in at.button]
    assert md("![t](http://example.invalid/t.png)") in labels
