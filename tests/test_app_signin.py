"""Who acts in the app: the signed-in identity when the deployment configures sign-in, else
the name typed in the sidebar, kept in the address (``?reviewer=``) across reloads.

AppTest seeds ``st.user`` from ``at.user`` and ``st.secrets`` from ``at.secrets``; the sign-in
round trip through a real provider is in ``tests/e2e/test_e2e_signin.py``.
"""

from __future__ import annotations

import pytest
from app_support import APP, DATASET, no_errors, open_page
from streamlit.testing.v1 import AppTest

from app_pages._ui import PAGES
from erroranalysis.store import open_project

AUTH = {
    "auth": {
        "redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "a long random string for the test",
        "client_id": "workbench",
        "client_secret": "s3cret",
        "server_metadata_url": "http://localhost:9400/.well-known/openid-configuration",
    }
}
SIGN_IN_OFF = "Sign-in is off"


def fresh(project_file, *, user: dict | None = None, **query: str) -> AppTest:
    """A new session (no name typed yet) at ``?query``; with ``user``, on a deployment that
    configures sign-in, as ``st.user`` says."""
    at = AppTest.from_file(APP, default_timeout=60)
    if user is not None:
        at.secrets = AUTH
        at.user = user
    for key, value in query.items():
        at.query_params[key] = value
    return at


def toggle_first_tag(at: AppTest) -> str:
    """Toggle "people noise" on the Review page's current example; returns the example."""
    example = at.session_state["rv_current"]
    at.button(key="rv_tag:people noise").click().run()
    no_errors(at)
    return example


def last_tag_actor(project_file) -> str:
    with open_project(project_file) as project:
        return project.dataset(DATASET).tag_events()["actor"].iloc[-1]


def captions(at: AppTest) -> list[str]:
    return [c.value for c in at.sidebar.caption]


# ---------------------------------------------------------------------- sign-in off
def test_without_a_provider_the_sidebar_asks_a_name_and_says_sign_in_is_off(project_file):
    at = fresh(project_file).run()
    no_errors(at)
    assert at.sidebar.text_input(key="reviewer").value == ""
    assert any(c.startswith(SIGN_IN_OFF) for c in captions(at))
    assert not [b for b in at.sidebar.button if b.label == "Sign out"]
    open_page(at, "review")
    assert "Enter your name in the sidebar" in at.warning[0].value
    assert at.button(key="rv_tag:people noise").disabled


def test_the_name_comes_from_the_address_of_a_new_session(project_file):
    at = fresh(project_file, reviewer="ben", dataset=DATASET)
    at.switch_page("app_pages/review.py").run()
    assert at.sidebar.text_input(key="reviewer").value == "ben"
    toggle_first_tag(at)
    assert last_tag_actor(project_file) == "ben"
    # The Review page rewrites the address to the example it shows, and keeps the name.
    assert at.query_params["reviewer"] == "ben"
    assert at.query_params["dataset"] == DATASET


@pytest.mark.parametrize(
    ("typed", "param"),
    [("cleo", "cleo"), ("  dan  ", "dan"), ("", None)],
)
def test_the_typed_name_goes_into_the_address(project_file, typed, param):
    at = fresh(project_file, reviewer="ben").run()
    at.sidebar.text_input(key="reviewer").input(typed).run()
    no_errors(at)
    assert at.query_params.get("reviewer") == param
    open_page(at, "tags")  # another page keeps it
    assert at.query_params.get("reviewer") == param


def test_a_name_in_the_address_that_is_no_name_acts_as_none(project_file):
    at = fresh(project_file, reviewer="bad\x00name", dataset=DATASET)
    at.switch_page("app_pages/review.py").run()
    no_errors(at)
    assert at.button(key="rv_tag:people noise").disabled
    assert at.query_params.get("reviewer") is None  # not written back


# ---------------------------------------------------------------------- sign-in on
@pytest.mark.parametrize("page", list(PAGES))
def test_nobody_signed_in_sees_only_the_sign_in_page(project_file, page):
    at = fresh(project_file, user={"is_logged_in": False}, dataset=DATASET, reviewer="ana")
    at.run()
    no_errors(at)
    assert [t.value for t in at.title] == ["Error analysis"]
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.sidebar) == 0 and not at.get("selectbox") and not at.dataframe
    assert DATASET not in str([m.value for m in at.markdown])
    # A project page asked for by name is not among the pages: only the sign-in page is.
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"app_pages/{page}.py").run()


@pytest.mark.parametrize(
    ("user", "actor"),
    [
        ({"is_logged_in": True, "email": "ana@example.org", "sub": "u-17"}, "ana@example.org"),
        ({"is_logged_in": True, "sub": "u-17", "name": "Ana"}, "u-17"),
        ({"is_logged_in": True, "email": "", "sub": " u-18 "}, "u-18"),
    ],
)
def test_the_signed_in_identity_acts_and_the_name_box_is_gone(project_file, user, actor):
    # A name in the address is not who acts once sign-in is on.
    at = fresh(project_file, user=user, reviewer="mallory", dataset=DATASET)
    at.switch_page("app_pages/review.py").run()
    no_errors(at)
    assert not at.sidebar.text_input
    assert not any(c.startswith(SIGN_IN_OFF) for c in captions(at))
    # Sign out, and the second-review plan's form (anyone may while no role is granted).
    assert [b.label for b in at.sidebar.button] == ["Sign out", "Save the plan"]
    assert any(c.startswith("Signed in as") for c in captions(at))
    assert not at.warning
    toggle_first_tag(at)
    assert last_tag_actor(project_file) == actor


def test_an_identity_that_is_no_usable_name_changes_nothing(project_file):
    user = {"is_logged_in": True, "email": "x" * 101}
    at = fresh(project_file, user=user, dataset=DATASET)
    at.switch_page("app_pages/review.py").run()
    no_errors(at)
    assert "no usable name" in at.sidebar.error[0].value
    assert at.button(key="rv_tag:people noise").disabled
    assert not at.warning  # no prompt for a name box that is not there


def test_signing_out_leaves_only_the_sign_in_page(project_file):
    user = {"is_logged_in": True, "email": "ana@example.org"}
    at = fresh(project_file, user=user).run()
    next(b for b in at.sidebar.button if b.label == "Sign out").click().run()
    no_errors(at)
    assert not at.title  # the page stops while the browser is sent to sign out
    at.run()
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.sidebar) == 0
