"""The pages as a viewer sees them once the project has a team: every write control off,
with a note saying why, and every download still there; the Team section for admins."""

from __future__ import annotations

import pytest
from app_support import APP, build_project, no_errors, open_page, project_file_of
from streamlit.testing.v1 import AppTest

from erroranalysis.store import open_project

ADMIN, REVIEWER, VIEWER = "boss", "rita", "vera"


def build_team_project(folder):
    """The speech project with a team: boss (admin), rita (reviewer), vera (viewer)."""
    db = build_project(folder)
    with open_project(db) as project:
        project.grant_role(ADMIN, "admin", actor=ADMIN)
        project.grant_role(REVIEWER, "reviewer", actor=ADMIN)
        project.grant_role(VIEWER, "viewer", actor=ADMIN)
    return db


team_file = project_file_of(build_team_project)


def as_user(name: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if name is not None:
        at.session_state["reviewer"] = name
    return at.run()


# Per page with write controls: the role they need, the buttons that write, and the other
# inputs of a write that are off too.
WRITE_CONTROLS = {
    "review": (
        "reviewer",
        ["Mark reviewed", "Undo", "car noise", "people noise", "Add tag"],
        {"checkbox": ["The label is wrong"], "text_area": ["Note"]},
    ),
    "tags": ("admin", ["Save", "Rename…", "Merge…", "Delete…"], {}),
    "discover": ("admin", ["Adopt as rule tag"], {}),
    "clusters": ("reviewer", ["Name this cluster", "Confirm all as reviewed"], {}),
    "datasets": ("admin", [], {"file_uploader": ["Predictions file"]}),
}
NOTES = {
    "review": "reviewing and tagging",
    "tags": "changing tags",
    "discover": "“Adopt as rule tag”",
    "clusters": "“Name this cluster”",
    "datasets": "importing a run",
}


def buttons(at: AppTest) -> dict[str, bool]:
    """Each button of the page (form buttons too), by label: whether it is off."""
    return {b.label: b.disabled for b in at.button}


def inputs_off(at: AppTest, kind: str) -> dict[str, bool]:
    return {e.proto.label.split(" (")[0]: e.proto.disabled for e in at.get(kind)}


def read_only_notes(at: AppTest) -> list[str]:
    return [c.value for c in at.caption if "Read-only" in c.value]


@pytest.mark.parametrize("page", list(WRITE_CONTROLS))
def test_a_viewer_sees_every_write_control_off_and_can_download(team_file, page):
    role, labels, others = WRITE_CONTROLS[page]
    at = open_page(as_user(VIEWER), page)
    no_errors(at)
    shown = buttons(at)
    assert {label: shown.get(label) for label in labels} == dict.fromkeys(labels, True)
    for kind, names in others.items():
        off = inputs_off(at, kind)
        assert {n: off.get(n) for n in names} == dict.fromkeys(names, True)
    assert read_only_notes(at) == [
        f":material/lock: Read-only: {NOTES[page]} needs the {role} role, and you ({VIEWER}) "
        "are a viewer."
    ]
    assert "Your role: **viewer** (read and download)" in [c.value for c in at.sidebar.caption]
    downloads = [(d.proto.label, d.proto.disabled) for d in at.get("download_button")]
    assert downloads and all(not disabled for _, disabled in downloads)
    assert ("Download CSV", False) in downloads


@pytest.mark.parametrize(
    ("user", "page", "note"),
    [
        (REVIEWER, "review", None),
        (REVIEWER, "clusters", None),
        (REVIEWER, "tags", f"you ({REVIEWER}) are a reviewer"),
        (REVIEWER, "discover", f"you ({REVIEWER}) are a reviewer"),
        (ADMIN, "tags", None),
        (ADMIN, "datasets", None),
        ("nobody", "review", "you (nobody) have no role here"),
    ],
)
def test_each_role_gets_what_it_may_do(team_file, user, page, note):
    role, labels, _ = WRITE_CONTROLS[page]
    at = open_page(as_user(user), page)
    no_errors(at)
    notes = read_only_notes(at)
    if note is None:
        assert notes == []
        shown = buttons(at)
        # These wait for a name or a target to be given; the rest are on.
        waiting = ("Rename…", "Merge…", "Name this cluster")
        on = [label for label in labels if label not in waiting]
        assert {label: shown[label] for label in on} == dict.fromkeys(on, False)
    else:
        assert len(notes) == 1 and notes[0].endswith(f"needs the {role} role, and {note}.")
        assert all(buttons(at)[label] for label in labels)


@pytest.mark.parametrize(
    ("user", "caption"),
    [
        (ADMIN, "Your role: **admin** (everything, roles too)"),
        (REVIEWER, "Your role: **reviewer** (review and tag)"),
        ("nobody", "You have no role in this project: you can look, not change anything."),
    ],
)
def test_the_sidebar_says_the_users_role(team_file, user, caption):
    at = as_user(user)
    assert caption in [c.value for c in at.sidebar.caption]


def test_without_a_name_a_team_project_asks_for_it_and_writes_nothing(team_file):
    at = open_page(as_user(None), "review")
    assert any("Enter your name" in w.value for w in at.warning)
    assert read_only_notes(at) == []  # no name: no role to state yet
    assert buttons(at)["Mark reviewed"]


def grant(at: AppTest, user: str, role: str) -> AppTest:
    """Grant ``role`` to ``user`` with the Team section's form."""
    at.text_input(key="ds_team_user").input(user)
    at.selectbox(key="ds_team_role").select(role)
    return at.button(key="FormSubmitter:ds_team-Grant").click().run()


def test_an_admin_grants_a_role_in_the_team_section(team_file):
    at = open_page(as_user(ADMIN), "datasets")
    assert "Team" in [h.value for h in at.header]
    no_errors(grant(at, "sam", "reviewer"))
    with open_project(team_file) as project:
        assert project.role_of("sam") == "reviewer"
        assert project.roles().set_index("user").loc["sam", "granted_by"] == ADMIN


def test_the_team_section_is_for_admins_only(team_file):
    for user in (REVIEWER, VIEWER):
        at = open_page(as_user(user), "datasets")
        assert "Team" not in [h.value for h in at.header]
        assert "Grant" not in buttons(at)


def test_without_a_team_anyone_may_form_one(project_file):
    at = open_page(as_user("ana"), "datasets")
    assert "Team" in [h.value for h in at.header]
    assert any("No role is granted yet" in c.value for c in at.caption)
    assert not [c for c in at.sidebar.caption if "role" in c.value]  # no team, no roles
    no_errors(grant(at, "ana", "admin"))
    with open_project(project_file) as project:
        assert project.role_of("ana") == "admin"


def test_a_refused_change_is_a_message_and_changes_nothing(team_file):
    """The pages switch controls off, and the package refuses anyway: a grant by someone
    whose role was taken away since the page was drawn is a message on the page."""
    at = open_page(as_user(ADMIN), "datasets")
    with open_project(team_file) as project:
        project.grant_role("sam", "admin", actor=ADMIN)
        project.grant_role(ADMIN, "viewer", actor="sam")
        before = project.roles()
    at = grant(at, "zoe", "viewer")
    assert any(f"'{ADMIN}' may not grant roles" in e.value for e in at.error)
    with open_project(team_file) as project:
        assert project.roles().equals(before)


@pytest.mark.parametrize(("user", "offered"), [(VIEWER, False), (REVIEWER, False), (ADMIN, True)])
def test_the_log_offers_undo_only_to_who_may(team_file, user, offered):
    """The log's actions are setup's: only an admin may undo someone else's."""
    at = open_page(as_user(user), "log")
    no_errors(at)
    assert any(b.label == "Undo" for b in at.button) is offered
    assert [d.proto.label for d in at.get("download_button")][:1] == ["Download CSV"]
