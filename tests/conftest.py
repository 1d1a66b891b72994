"""Fixtures shared by the page tests (AppTest): a project file and the app on it."""

from __future__ import annotations

import pytest
from app_support import APP, REVIEWER, build_project, project_file_of
from streamlit.testing.v1 import AppTest

project_file = project_file_of(build_project)


@pytest.fixture
def app(project_file) -> AppTest:
    """The app on the project file, with the reviewer's name filled in."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    return at.run()
