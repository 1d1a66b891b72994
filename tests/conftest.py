"""Fixtures shared by the page tests (AppTest): a project file and the app on it."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_support import APP, REVIEWER, build_project
from streamlit.testing.v1 import AppTest


@pytest.fixture
def project_file(tmp_path, monkeypatch) -> Path:
    db = build_project(tmp_path)
    monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
    return db


@pytest.fixture
def app(project_file) -> AppTest:
    """The app on the project file, with the reviewer's name filled in."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    return at.run()
