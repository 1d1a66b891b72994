"""Driving the Streamlit app from Playwright: serving it (with sign-in or without), a
browser per person, waits, and the Review page's controls by name.

Every action is followed by a wait for a DOM condition it must produce (a button turning
primary, a new example id in the heading), then for the script to finish
(``data-test-script-state='notRunning'``): waiting for the idle state alone can return
before the rerun an action asked for has even started.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import oidc_provider_mock
from playwright.sync_api import Browser, Locator, Page, expect

from benchmarks import _server

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"

IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
TIMEOUT_MS = 30_000
# Playwright's default of 5 s is tight for a rerun on a busy two-core CI machine.
expect.set_options(timeout=15_000)
EXAMPLE_HEADING = re.compile(r"^Example ")


@dataclass(frozen=True)
class App:
    """A running app: its address and the project file it serves."""

    url: str
    db: Path
    log: Path

    def page_url(self, path: str = "", **query: str) -> str:
        tail = f"?{urlencode(query)}" if query else ""
        return f"{self.url}/{path}{tail}"


def start_app(
    db: Path,
    log: Path,
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    flags: tuple[str, ...] = (),
    secrets: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start the app on ``db`` as ``erroranalysis serve`` does (``flags`` added to its
    command line, ``env`` to its environment, ``secrets`` as ``--secrets`` takes it);
    returns the process and its base URL once it answers."""
    return _server.start_app(APP, db, log, port=port, env=env, flags=flags, secrets=secrets)


@contextlib.contextmanager
def signed_in_app(db: Path, folder: Path, *, env: dict[str, str] | None = None) -> Iterator[App]:
    """The app on ``db`` served with ``--secrets`` naming a real OpenID Connect provider
    (oidc-provider-mock, on a local port), ``env`` added to its environment, its secrets and
    log in ``folder``; ``localhost`` on both sides, so the identity cookie set on the
    callback is sent with the app's requests. Afterwards the app's log must hold no
    exception."""
    port = _server.free_port()
    with oidc_provider_mock.run_server_in_thread(port=0) as provider:
        issuer = f"http://localhost:{provider.server_port}"
        secrets_file = folder / "secrets.toml"
        secrets_file.write_text(
            "[auth]\n"
            f'redirect_uri = "http://localhost:{port}/oauth2callback"\n'
            f'cookie_secret = "{secrets.token_hex(32)}"\n'
            'client_id = "workbench"\n'
            'client_secret = "workbench-secret"\n'
            f'server_metadata_url = "{issuer}/.well-known/openid-configuration"\n'
        )
        log = folder / "streamlit.log"
        process, _ = start_app(db, log, port=port, env=env, secrets=secrets_file)
        try:
            yield App(url=f"http://localhost:{port}", db=db, log=log)
        finally:
            _server.stop_app(process)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text, f"the app logged an exception:\n{text}"


@contextlib.contextmanager
def pages_of(
    browser: Browser, context_args: dict, names: Iterable[str]
) -> Iterator[dict[str, Page]]:
    """A page for each of ``names``, each in a browser context of its own (its own cookies
    and session), as people in different browsers; the contexts are closed afterwards."""
    contexts = {name: browser.new_context(**context_args) for name in names}
    try:
        yield {name: context.new_page() for name, context in contexts.items()}
    finally:
        for context in contexts.values():
            context.close()


def wait_idle(page: Page, *, timeout: float = TIMEOUT_MS) -> None:
    """Wait until no script run is in progress and no element is left over from a rerun."""
    page.wait_for_selector(IDLE, state="attached", timeout=timeout)
    expect(page.locator("[data-stale='true']")).to_have_count(0, timeout=timeout)


def no_exception(page: Page) -> None:
    """The app showed no exception (a script error is drawn on the page, not raised here)."""
    expect(page.get_by_test_id("stException")).to_have_count(0)


def open_page(page: Page, url: str) -> None:
    page.goto(url)
    # The first run of a fresh session may reroute itself through app.py once.
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=TIMEOUT_MS)
    wait_idle(page)
    expect(page.get_by_role("dialog").filter(has_text="Page not found")).to_have_count(0)


def expect_sign_in_page(page: Page) -> None:
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    wait_idle(page)
    no_exception(page)


def sign_in(page: Page, app: App, who: str) -> None:
    """Sign in as ``who`` through the provider's form; back on the app, signed in."""
    page.goto(app.page_url())
    expect_sign_in_page(page)
    page.get_by_role("button", name="Sign in").click()
    page.locator("input[name=sub]").fill(who)
    page.get_by_role("button", name="Authorize", exact=True).click()
    page.wait_for_selector("[data-testid='stSidebarNav']", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stSidebar").get_by_text("Signed in as")).to_be_visible()
    wait_idle(page)


def open_review(page: Page, app: App, dataset: str) -> None:
    """Open the Review page on ``dataset`` (by its address) and wait until it is drawn."""
    page.goto(app.page_url("review", dataset=dataset))
    expect(page.get_by_role("heading", name="Review")).to_be_visible()
    wait_idle(page)
    no_exception(page)


def go_to(page: Page, name: str) -> None:
    """Open the page ``name`` from the sidebar and wait until it is drawn without error."""
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    wait_idle(page)
    no_exception(page)


def open_tab(page: Page, label: str) -> None:
    """Open the page's tab ``label`` (a click reruns the page, which draws its content)."""
    tab = page.get_by_role("tab", name=label, exact=True)
    tab.click()
    expect(tab).to_have_attribute("aria-selected", "true")
    wait_idle(page)
    no_exception(page)


def drop_file(page: Page, name: str, data: bytes, *, mime: str = "text/csv") -> Locator:
    """Drop ``data`` as the file ``name`` on the Datasets page's uploader; once the import
    form is drawn, its "Validate and import" button."""
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )
    submit = page.get_by_role("button", name=re.compile("Validate and import"))
    expect(submit).to_be_visible()
    wait_idle(page)
    return submit


def priority_row(page: Page, url: str, tag: str) -> tuple[Locator, int]:
    """Open Priorities at ``url`` until ``tag`` is in its first table (the priority table:
    rank, tag, kind, examples, ...); that grid and the tag's row in it."""
    open_page(page, url)
    expect(page.get_by_role("heading", name="Priorities")).to_be_visible()
    grid = page.get_by_test_id("stDataFrame").first
    # The grid is drawn on a canvas; its cells are mirrored in an accessible (hidden) table.
    expect(grid.get_by_text(tag, exact=True)).to_be_attached()
    return grid, grid_texts(grid, column=1).index(tag)


def key_class(key: str) -> str:
    """The CSS class Streamlit gives the element of a widget ``key`` (st-key-…)."""
    return "st-key-" + re.sub(r"[^a-zA-Z0-9_-]", "-", key.strip())


def by_key(page: Page, key: str) -> Locator:
    return page.locator(f".{key_class(key)}")


def enter_text(page: Page, label: str, text: str) -> None:
    """Type ``text`` in the text box labelled ``label``, press Enter and wait for the rerun."""
    field = page.get_by_role("textbox", name=label)
    field.fill(text)
    field.press("Enter")
    wait_idle(page)


def set_reviewer(page: Page, name: str) -> None:
    """Type the reviewer's name in the sidebar and wait until the Review page accepts it."""
    field = page.get_by_role("textbox", name="Your name")
    field.fill(name)
    field.press("Enter")
    expect(page.get_by_text("Enter your name in the sidebar")).to_have_count(0)
    wait_idle(page)
    # Shortcuts are ignored while the focus is in a text field.
    field.blur()


def write_note(page: Page, text: str) -> None:
    """Write ``text`` in the Review page's note and wait until the app has it."""
    note = page.get_by_role("textbox", name="Note")
    note.fill(text)
    note.press("Tab")  # the text area sends its value when it loses the focus
    wait_idle(page)


def current_example(page: Page) -> str:
    heading = page.get_by_role("heading", name=EXAMPLE_HEADING)
    expect(heading).to_have_count(1)
    return heading.inner_text().strip().removeprefix("Example ")


def expect_example(page: Page, example_id: str) -> None:
    expect(page.get_by_role("heading", name=f"Example {example_id}", exact=True)).to_be_visible()
    wait_idle(page)


def expect_other_example(page: Page, previous: str) -> str:
    """Wait for the Review page to move away from ``previous``; return the new example's id."""
    expect(page.get_by_role("heading", name=f"Example {previous}", exact=True)).to_have_count(0)
    wait_idle(page)
    return current_example(page)


def tag_button(page: Page, tag: str) -> Locator:
    return by_key(page, f"rv_tag:{tag}").locator("button")


def tag_shortcut(page: Page, tag: str) -> str:
    """The key the Review page shows on a tag's button (the first nine tags have one)."""
    return tag_button(page, tag).locator("kbd").inner_text().strip()


def expect_tag(page: Page, tag: str, on: bool) -> None:
    expect(tag_button(page, tag)).to_have_attribute("kind", "primary" if on else "secondary")
    wait_idle(page)


def nav_button(page: Page, label: str) -> Locator:
    """Previous, Next, Mark reviewed or Undo (their text also holds an icon and a key)."""
    return (
        page.get_by_test_id("stButton")
        .locator("button")
        .filter(has=page.locator("p", has_text=re.compile(f"^{re.escape(label)}$")))
    )


def grid_texts(grid: Locator, column: int) -> list[str]:
    """The text of one column of an st.dataframe, from the accessible table that mirrors its
    canvas (hidden, so read it; do not expect it to be visible)."""
    cells = grid.locator(f"[data-testid^='glide-cell-{column}-']")
    cells.first.wait_for(state="attached")  # a grid just drawn may not have its cells yet
    return [t.strip() for t in cells.all_inner_texts()]
