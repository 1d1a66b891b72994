"""Fixtures shared by the page tests (AppTest): a project file and the app on it."""

from __future__ import annotations

import pytest
from app_support import build_project, project_file_of, record_downloads, start_app
from hypothesis import settings
from streamlit.testing.v1 import AppTest

# Property tests judge what a function returns, never how fast: on a shared or loaded
# machine (CI included) hypothesis's per-example deadline of 200 ms fails them at random.
settings.register_profile("default", deadline=None)
settings.load_profile("default")

project_file = project_file_of(build_project)


@pytest.fixture
def app(project_file) -> AppTest:
    """The app on the project file, with the reviewer's name filled in."""
    return start_app()


@pytest.fixture
def made(monkeypatch):
    """Every deferred download the app registers from now on (see ``record_downloads``)."""
    return record_downloads(monkeypatch)
