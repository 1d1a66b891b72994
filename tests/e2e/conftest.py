"""Fixtures for the end-to-end tests: the real app, served on a project file, in headless Chromium.

A test module defines a module-scoped ``project_file`` fixture (the speech demo unless it
overrides ``project_file``); the ``app`` fixture serves
that file with ``streamlit run`` on a free port for the whole module (one server per module)
and stops it afterwards. Browsers come from pytest-playwright (``browser``, ``context``,
``page``), launched from Debian's Chromium with the flags that keep it off the network.

Without Chromium the tests are skipped, except in CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from e2e_helpers import App, signed_in_app, start_app

from benchmarks._server import CHROMIUM_ARGS, CHROMIUM_ENV, DEFAULT_CHROMIUM, stop_app
from erroranalysis.demo import build_demo

VIEWPORT = {"width": 1400, "height": 1000}
# pytest-playwright's own base_url fixture trips a pytest deprecation; not ours to fix.
PLUGIN_WARNING = (
    "ignore:Session-scoped fixtures defined as instance methods:pytest.PytestRemovedIn10Warning"
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.filterwarnings(PLUGIN_WARNING))


def chromium_path() -> str | None:
    """The Chromium to drive: ``$ERRORANALYSIS_CHROMIUM``, else Debian's, else one on PATH."""
    for wanted in (os.environ.get(CHROMIUM_ENV), DEFAULT_CHROMIUM):
        if wanted and Path(wanted).is_file():
            return wanted
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    executable = chromium_path()
    if executable is None:
        message = (
            f"Chromium not found (looked at ${CHROMIUM_ENV}, {DEFAULT_CHROMIUM} and PATH); "
            "install it with `apt-get install -y chromium`"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return {**browser_type_launch_args, "executable_path": executable, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": VIEWPORT, "accept_downloads": True}


# ---------------------------------------------------------------------- the app server
@pytest.fixture(scope="module")
def project_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project the module's app serves: the demo, unless the module overrides this."""
    db = tmp_path_factory.mktemp("demo") / "demo.db"
    build_demo(db)
    return db


@pytest.fixture(scope="module")
def app_env() -> dict[str, str]:
    """Environment variables the app server gets on top of ours; a module overrides this
    fixture to serve with, say, allowed media folders."""
    return {}


@pytest.fixture(scope="module")
def signed_in() -> bool:
    """Whether the module's app is served with sign-in on (``signed_in_app``: a real OpenID
    Connect provider); a module overrides this fixture to serve with sign-in."""
    return False


@pytest.fixture(scope="module")
def app(
    browser_type_launch_args: dict,
    project_file: Path,
    app_env: dict[str, str],
    signed_in: bool,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[App]:
    """The app serving this module's ``project_file`` (one server per test module), with
    sign-in when the module's ``signed_in`` says so.

    Asks for the launch arguments first, so that without Chromium no server is started.
    """
    if signed_in:
        folder = tmp_path_factory.mktemp("signed-in-server")
        with signed_in_app(project_file, folder, env=app_env) as served:
            yield served
        return
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    process, url = start_app(project_file, log, env=app_env)
    try:
        yield App(url=url, db=project_file, log=log)
    finally:
        stop_app(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, f"the app logged an exception:\n{text}"
