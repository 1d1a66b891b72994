"""What every page shares: the project connection, cached reads and a few widgets.

Caching rules (Streamlit's ``st.cache_data`` returns a pickled copy on every hit, so big
frames live in ``st.cache_resource`` and are never mutated):

* every cache is keyed on a :class:`RunKey` (project file, dataset, run, run id,
  imported_at);
* the run's example frame is big and immutable: ``st.cache_resource``, never mutated by a
  page; so is the run's :class:`~erroranalysis.evidence.Evidence` at a revision, built
  from the run's latest evidence (``load_evidence(base=...)``) so that a tag toggle
  recomputes only what it changed;
* everything derived from tags or reviews is keyed on the change stamps of what it reads
  (:func:`changed`: ``Project.changes()``, one per kind of content, such as the reviews or
  the tags on examples), so that a change another reviewer makes shows up on the next
  rerun while a tag toggle does not read the reviews again; what reads all of it (the
  evidence, the analyses, the log) is keyed on ``Project.revision()``;
* every analysis goes through one ``st.cache_data`` entry point, :func:`analysis`, keyed
  on (analysis name, run key, revision, options): derived tables are small, so a copy per
  hit is cheap for them;
* every chart goes through :func:`chart`, kept per distinct table (a digest of its
  content) and options, not per revision: a tag that moves no estimate leaves the
  figures as they were, and a Plotly figure is slow to build;
* the connection itself is never cached: a :class:`Project` is bound to its thread and
  Streamlit runs every script run in a thread of its own, so :func:`project` keeps one
  per thread.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import io
import math
import os
import pickle
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import streamlit as st
from PIL import Image

from app_pages import _charts
from erroranalysis import (
    analyses,
    counts,
    exports,
    importing,
    media,
    review,
    rules,
    sampling,
    second_review,
    workbook,
)
from erroranalysis.embeddings import Embeddings
from erroranalysis.errors import ProjectBusy, ProjectFileError
from erroranalysis.store import Project, RunInfo, StoreError, check_actor, open_project
from erroranalysis.store.log import LogPage
from erroranalysis.vocabulary import MAX_NAME

DB_ENV = "ERRORANALYSIS_DB"
DEFAULT_DB = "erroranalysis.db"
# Rows of a table sent to the browser at once: a page selector offers the others, and the
# download holds them all. With 2,000 tags a whole table was half a megabyte per rerun.
PAGE_ROWS = 50
DATASET_KEY = "dataset"
RUN_KEY = "run"
REVIEWER_KEY = "reviewer"
# The address parameter that keeps the reviewer's name across reloads while sign-in is off.
REVIEWER_PARAM = "reviewer"
MAX_CHART_BARS = 40
SMALL_IMAGE = 240  # pixels: narrower images are shown this wide
# The review page's queue settings: kept when the reviewer visits another page and returns.
REVIEW_DEFAULTS: dict[str, Any] = {
    "rv_fraction": 10,
    "rv_order": "random",
    "rv_skip": True,
    "rv_true": [],
    "rv_pred": [],
    "rv_tags": [],
    "rv_untagged": False,
    "rv_confidence": (0.0, 1.0),
    "rv_meta_column": None,
    "rv_seed": 0,
    "rv_blind": False,  # the blind second-review queue instead of the sample's
}

# What a download button offers: per format, its label, MIME type and what the file is for.
DOWNLOAD_FORMATS = {
    "csv": ("CSV", "text/csv", "safe to open in a spreadsheet"),
    "xlsx": (
        "Excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "safe to open in a spreadsheet",
    ),
    "parquet": ("Parquet", "application/vnd.apache.parquet", "with every digit, for a program"),
}
TABLE_FORMATS = ("csv", "xlsx")

# A table, or what builds it when its download is clicked.
TableSource = pd.DataFrame | Callable[[], pd.DataFrame]


# A click waits for another writer (a long import) at most BUSY_ATTEMPTS × BUSY_WAIT_S, about
# 2 s; then the change is kept in the session and saved on the next rerun or on Retry.
BUSY_ATTEMPTS = 4
BUSY_WAIT_S = 0.5
# An automatic retry of kept changes at most this often: a full rerun of the Review page
# reaches two places that retry, and each attempt may wait BUSY_WAIT_S.
AUTO_RETRY_S = 1.0
PENDING_KEY = "_pending_changes"

_local = threading.local()
_migrated: set[str] = set()
_migrate_lock = threading.Lock()


# ------------------------------------------------------------------ the project
def db_path() -> str:
    """The project file the app serves (``$ERRORANALYSIS_DB``, else ./erroranalysis.db)."""
    path = os.environ.get(DB_ENV) or DEFAULT_DB
    # Only a relative path needs the working directory (a system call: 20 of a Review
    # rerun's ~100 calls took 20 ms on the loaded machine); serve passes an absolute one.
    return _resolved(path, "" if os.path.isabs(path) else os.getcwd())


@functools.lru_cache(maxsize=8)
def _resolved(path: str, cwd: str) -> str:
    # Every cache key holds the path: resolving it (a system call per part) each time was
    # ~30 calls and 30 ms of a Review rerun on two busy cores. ``cwd`` is in the key, as a
    # relative path resolves against it.
    return str(Path(cwd, path).resolve())


def project() -> Project:
    """This thread's connection to the project file (opened on first use).

    Raises :class:`ProjectFileError` for a file that is not a project (checked before
    anything touches it; :func:`ensure_project` has made a missing one already).
    """
    path = db_path()
    current: Project | None = getattr(_local, "project", None)
    if current is None or str(current.path) != path:
        if current is not None:
            current.close()
            _local.project = None
        borrowing = getattr(_local, "borrowing", False)
        current = _borrow(path) if borrowing else None
        if current is None:
            with _migrate_lock:
                # Migrating takes the write lock: once per process is enough.
                first = path not in _migrated
                current = open_project(path, migrate=first, create=False, lendable=borrowing)
                _migrated.add(path)
        _local.project = current
    return current


# Connections the runs of the app's script give back for the next runs to borrow (see
# script_run), newest last: a run no longer opens the file, which took a quarter of a
# small page's script (a second connection to check the file, its folder listed).
_idle: list[Project] = []
_idle_lock = threading.Lock()
IDLE_CONNECTIONS = 4  # kept at most, over every project file; more runs at once open more


@contextmanager
def script_run() -> Iterator[None]:
    """Around one run of the app's script (``app.py``): the run borrows a connection to the
    project file from those earlier runs gave back (each lent to one thread at a time,
    :meth:`~erroranalysis.store.Project.lend_to_this_thread`) and gives it back at its end.
    A connection the run forgot (the file was unusable) is not given back."""
    _local.borrowing = True
    try:
        yield
    finally:
        _local.borrowing = False
        current: Project | None = getattr(_local, "project", None)
        _local.project = None
        if current is not None:
            _give_back(current)


def _borrow(path: str) -> Project | None:
    while True:
        with _idle_lock:
            found = next((p for p in reversed(_idle) if str(p.path) == path), None)
            if found is None:
                return None
            _idle.remove(found)
        if found.lend_to_this_thread():
            return found
        found.close()  # the path names another file now (or none): open it again


def _give_back(project: Project) -> None:
    if not project.lendable:  # opened before the run began (in a widget's callback)
        project.close()
        return
    with _idle_lock:
        _idle.append(project)
        oldest = _idle.pop(0) if len(_idle) > IDLE_CONNECTIONS else None
    if oldest is not None:
        oldest.close()


def forget_project() -> None:
    """Close this thread's connection, so the next :func:`project` opens the file again
    (after it failed: it may have been replaced or repaired meanwhile)."""
    current: Project | None = getattr(_local, "project", None)
    _local.project = None
    if current is not None:
        current.close()


def ensure_project() -> str | None:
    """Create the project file on first start, with the demo datasets when they are at hand.

    Returns a message for the user when the demo could not be built, else None.
    """
    path = Path(db_path())
    if path.exists():
        return None
    with _migrate_lock:
        if path.exists():
            return None
        try:
            from erroranalysis.demo import build_demo

            build_demo(path)
        except Exception as err:  # the app must start even without the sample data
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            open_project(path).close()
            return f"The demo datasets could not be built ({err}); import a dataset on the Datasets page."
    return None


def new_run() -> None:
    """Forget what this script run remembered (:func:`_this_run`): called first in every
    run of the app, as Streamlit may run the next one on the same thread."""
    _local.this_run = {}


def _this_run() -> dict[str, Any]:
    # What one script run reads once and uses several times (whether sign-in is on, the
    # datasets, runs and team: see _remembered). Kept per thread: Streamlit runs a script
    # on a thread of its own, and new_run() empties it where a thread runs the next one. A
    # change saved in the run empties it too (_save).
    memo = getattr(_local, "this_run", None)
    if memo is None:
        memo = _local.this_run = {}
    return memo


def revision() -> int:
    return project().revision()


def changed(*kinds: str) -> tuple[int, ...]:
    """The change stamps of ``kinds`` (fields of :class:`~erroranalysis.store.project.Changes`:
    "reviews", "tag_assignments", "taxonomy", ...), the cache key of what reads only those:
    each moves only when a change of its kind is written, by anyone."""
    stamps = project().changes()
    return tuple(getattr(stamps, kind) for kind in kinds)


# ------------------------------------------------------------------ text from data
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=])")


# What GitHub-flavoured Markdown turns into a link by itself: "http://…", "www.…", e-mail.
_AUTOLINK = re.compile(r"(?i)://|@|(?<=www)\.")
_ZERO_WIDTH_SPACE = "\u200b"


def md(text: object) -> str:
    """``text`` made inert for the few places where Streamlit renders Markdown (button
    labels, metric values, headings): a zero-width space breaks what would become a link
    by itself, then every Markdown control character is escaped. Text from data never
    becomes a link, an image or formatting."""
    unlinked = _AUTOLINK.sub(lambda m: _ZERO_WIDTH_SPACE + m.group(0), str(text))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", unlinked).replace("\n", " ")


# ------------------------------------------------------------------ who and which run
def sign_in_on() -> bool:
    """Whether the deployment configures a sign-in provider: an ``[auth]`` section in the
    Streamlit secrets (``erroranalysis serve --secrets FILE``, else
    ``.streamlit/secrets.toml``)."""
    # Once per run: Streamlit looks for the secrets files at each call.
    return _remembered(
        "sign_in_on", lambda: bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    )


def signed_in() -> bool:
    """Whether someone is signed in through the provider (False while sign-in is off)."""
    return sign_in_on() and st.user.get("is_logged_in") is True


def identity() -> str:
    """Who the provider says is signed in: ``st.user.email``, else its subject id ``sub``
    (stable and unique, unlike a display name); empty when nobody is."""
    if not signed_in():
        return ""
    return str(st.user.get("email") or st.user.get("sub") or "")


def reviewer() -> str | None:
    """Who acts, the actor of every change the app records: the signed-in identity when
    sign-in is on, else the name typed in the sidebar; None while unknown (or unusable as
    a name)."""
    name = identity() if sign_in_on() else st.session_state.get(REVIEWER_KEY) or ""
    try:
        return check_actor(name)
    except StoreError:
        return None


def can(role: str, *, doing: str | None = None) -> bool:
    """Whether the person using the app may do what needs ``role`` (a project with no
    roles lets everyone; see :mod:`erroranalysis.store.team`), so that a page offers only
    what the package would accept. When not, and ``doing`` names what is switched off, a
    short note on the page says why (their role)."""
    name = reviewer()
    allowed = project().may(name, role)
    if not allowed and doing is not None and name is not None:
        have = project().role_of(name)
        who = f"you ({md(name)}) are a {have}" if have else f"you ({md(name)}) have no role here"
        st.caption(
            f":material/lock: Read-only: {doing} needs the {role} role, and {who}.",
        )
    return allowed


PAGES = {
    "datasets": ("Datasets", ":material/database:"),
    "review": ("Review", ":material/rate_review:"),
    "tags": ("Tags", ":material/sell:"),
    "priorities": ("Priorities", ":material/leaderboard:"),
    "compare": ("Compare", ":material/compare_arrows:"),
    "discover": ("Discover", ":material/travel_explore:"),
    "clusters": ("Clusters", ":material/bubble_chart:"),
    "audit": ("Audit", ":material/fact_check:"),
    "adjudicate": ("Adjudicate", ":material/gavel:"),
    "drift": ("Drift", ":material/moving:"),
    "log": ("Log", ":material/history:"),
}


def _home() -> None:
    # The root URL opens the Datasets page at its own address, so /datasets is a real link;
    # its query (?reviewer=...) goes along.
    st.switch_page(page_path("datasets"), query_params=st.query_params.to_dict())


# What the other pages load on their first visit: the analyses' modules and what they use
# (scipy, scikit-learn), and Plotly Express. warm_up() imports them in the background.
WARM_MODULES = (
    "erroranalysis.clusters",
    "erroranalysis.compare",
    "erroranalysis.discover",
    "erroranalysis.drift",
    "scipy.special",
    "scipy.stats",
    "sklearn.metrics",
    "sklearn.cluster",
    "plotly.express",
)


# Seconds between the first page's script run and the warm-up: the browser is still
# fetching and drawing that page, and the imports slowed it by 0.5 s on two busy cores
# when they began at once (or 3 s later).
WARM_DELAY_S = 10.0


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Import :data:`WARM_MODULES` in a background thread, once per server process,
    :data:`WARM_DELAY_S` seconds from now (call it once a page is drawn)."""
    thread = threading.Timer(WARM_DELAY_S, _import_all, args=(WARM_MODULES,))
    thread.name, thread.daemon = "warm-up", True
    thread.start()
    return thread


def _import_all(names: tuple[str, ...]) -> None:
    for name in names:
        with suppress(Exception):  # a module that fails to import fails on its page, shown
            importlib.import_module(name)


def page_path(name: str) -> str:
    """The script path of one of the app's pages, for ``st.switch_page`` and ``st.page_link``."""
    return f"app_pages/{name}.py"


def navigation() -> Any:
    """The app's pages (``st.navigation``); returns the page to run. While sign-in is on
    and nobody is signed in, every address leads to the sign-in page: no page of the
    project runs, and the menu is hidden."""
    new_run()
    if sign_in_on() and not signed_in():
        gate = [
            st.Page(sign_in_page, title="Sign in", url_path=name, default=name == "home")
            for name in ("home", *PAGES)
        ]
        return st.navigation(gate, position="hidden")
    _read_ahead()
    pages = [
        st.Page(page_path(name), title=title, icon=icon, url_path=name)
        for name, (title, icon) in PAGES.items()
    ]
    home = st.Page(_home, title="Home", url_path="home", default=True, visibility="hidden")
    return st.navigation([home, *pages])


def _read_ahead() -> None:
    # Every page reads the same things before it draws: the project file (made on first
    # start), its datasets, runs and whether it has a team. They are read here, before the
    # navigation is drawn, so that the page's elements then go out together: while the
    # script waits on the disk, Streamlit sends what was drawn so far, and a page that
    # reaches the browser in parts is drawn once per part (on the small pages a quarter
    # more time). A file that cannot be used is left to start_page, which says why.
    with suppress(ProjectFileError, ProjectBusy):
        _this_run()["problem"] = ensure_project()
        all_runs()
        dataset_names()
        has_team()


def start_page() -> None:
    """What every page does first: page config, the project file, the shared sidebar.

    A project file the app cannot use stops the page with a message (see
    :func:`project_problems`); changes kept while the project was busy are saved first.
    """
    _page_config()
    memo = _this_run()
    problem = memo.pop("problem") if "problem" in memo else ensure_project()
    project()
    if problem:
        st.warning(md(problem))
    save_pending(automatic=True)
    keep_page_state()
    sidebar()


def _page_config() -> None:
    st.set_page_config(
        page_title="Error analysis", page_icon=":material/troubleshoot:", layout="wide"
    )


def sign_in_page() -> None:
    """What a visitor sees before signing in: the app's name and a sign-in button, nothing
    of the project."""
    _page_config()
    st.title("Error analysis")
    st.markdown(
        "Sign in to see this project. Every tag, review and edit you make is stored under "
        "the name your sign-in gives."
    )
    if st.button("Sign in", type="primary", icon=":material/login:", key="_sign_in"):
        st.login()


@contextmanager
def project_problems() -> Iterator[None]:
    """Run a page so that a project file the app cannot use (not SQLite, another
    application's database, truncated, a folder, from a newer version, gone) or a project
    busy past the wait ends it with one message saying what is wrong and what to do, not a
    traceback. Nothing is written to such a file."""
    try:
        yield
    except ProjectFileError as err:
        forget_project()
        st.error(
            f"**The app cannot use its project file.** {md(err)}",
            icon=":material/error:",
        )
        st.markdown(
            "Nothing was written to the file. Start the app on a project file "
            "(`erroranalysis serve --db PROJECT.db`), or on the path of a file that does not "
            "exist yet to begin a new project; a project from a newer version needs that "
            "version of erroranalysis. Reload this page once the file is fixed."
        )
    except ProjectBusy:
        st.warning(
            "**The project is busy:** another change (such as a long import) is being "
            "written and the page could not wait for it. Nothing was changed.",
            icon=":material/hourglass_top:",
        )
        st.button("Retry", icon=":material/refresh:", key="_busy_page_retry")


def keep_page_state() -> None:
    """Keep the sidebar and the review settings across page switches (Streamlit forgets
    the state of widgets a run does not draw, unless the value is set through Session
    State)."""
    for key in (DATASET_KEY, RUN_KEY, REVIEWER_KEY, *REVIEW_DEFAULTS):
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]


def sidebar() -> None:
    """The dataset and run pickers and the reviewer's name, drawn on every page.

    What it shows is read first and drawn after: a read lets Streamlit send what was drawn
    before it, and the browser then draws the page twice over (on the small pages, a
    quarter more time than a page that arrives whole).
    """
    names = dataset_names()
    _apply_deep_link(names)
    runs: list[str] = []
    if names:
        if st.session_state.get(DATASET_KEY) not in names:
            st.session_state[DATASET_KEY] = names[0]
        runs = [r.name for r in dataset_runs(st.session_state[DATASET_KEY])]
        if st.session_state.get(RUN_KEY) not in runs:
            st.session_state[RUN_KEY] = runs[-1] if runs else None
    role = role_note()
    with st.sidebar:
        if not names:
            st.caption("No dataset yet: import one on the Datasets page.")
        else:
            st.selectbox("Dataset", names, key=DATASET_KEY)
            if len(runs) > 1:
                st.selectbox(
                    "Model run", runs, key=RUN_KEY, help="The latest import is chosen first."
                )
        who_acts()
        if role:
            st.caption(role)


def _remembered(name: str, read: Callable[[], Any]) -> Any:
    # ``read()``, once per script run (see _this_run).
    memo = _this_run()
    if name not in memo:
        memo[name] = read()
    return memo[name]


def dataset_names() -> list[str]:
    """The project's datasets, oldest first (read once per script run)."""
    return _remembered("dataset_names", lambda: project().dataset_names())


def all_runs() -> list[RunInfo]:
    """Every run of every dataset, oldest import first (read once per script run)."""
    return _remembered("runs", lambda: project().runs())


def has_team() -> bool:
    """Whether the project has roles (read once per script run)."""
    return _remembered("has_team", lambda: project().has_team())


def dataset_runs(dataset: str) -> list[RunInfo]:
    """The runs of ``dataset``, oldest import first; :class:`StoreError` for a dataset the
    project does not have."""
    if dataset not in dataset_names():
        project().dataset(dataset)  # raises, naming the datasets there are
    return [info for info in all_runs() if info.dataset == dataset]


ROLE_WORDS = {
    "viewer": "read and download",
    "reviewer": "review and tag",
    "admin": "everything, roles too",
}


def role_note() -> str | None:
    """The sidebar's note of the user's role, once the project has roles (before, everyone
    may do everything and there is nothing to say)."""
    name = reviewer()
    if name is None or not has_team():
        return None
    role = project().role_of(name)
    if role:
        return f"Your role: **{role}** ({ROLE_WORDS[role]})"
    return "You have no role in this project: you can look, not change anything."


def who_acts() -> None:
    """The sidebar's say on who acts: with sign-in on, who is signed in and a sign-out
    button; with it off, the name box (its name kept in the address, ``?reviewer=``, so a
    reload keeps it) and a note that sign-in is off."""
    if sign_in_on():
        name = reviewer()
        if name is None:
            st.error("Your sign-in gives no usable name: you can look, not change anything.")
        else:
            st.caption(f"Signed in as **{md(name)}**")
        if st.button("Sign out", icon=":material/logout:", key="_sign_out"):
            st.logout()  # the browser is sent to sign out; nothing more of the page is drawn
            st.stop()
        return
    if REVIEWER_KEY not in st.session_state:  # a new session: the name from the address
        st.session_state[REVIEWER_KEY] = st.query_params.get(REVIEWER_PARAM, "")[:MAX_NAME]
    st.text_input(
        "Your name",
        key=REVIEWER_KEY,
        max_chars=MAX_NAME,
        placeholder="who is reviewing",
        help="Stored with every tag, review and edit you make.",
    )
    st.caption(
        "Sign-in is off: the name you type is stored with your changes, unchecked. "
        "See the README's Sign-in section to require sign-in."
    )
    kept = _kept_params()
    if st.query_params.get(REVIEWER_PARAM) != kept.get(REVIEWER_PARAM):
        if kept:
            st.query_params.update(kept)
        else:
            del st.query_params[REVIEWER_PARAM]


def _kept_params() -> dict[str, str]:
    # The address parameters every page keeps: the reviewer's name while sign-in is off.
    name = None if sign_in_on() else reviewer()
    return {REVIEWER_PARAM: name} if name else {}


def _apply_deep_link(names: list[str]) -> None:
    # ?dataset=…&example=… selects the dataset once per distinct link, so a later pick in the
    # sidebar is not overridden by the address bar.
    link = (st.query_params.get("dataset"), st.query_params.get("example"))
    if link[0] and link != st.session_state.get("_deep_link"):
        st.session_state["_deep_link"] = link
        if link[0] in names:
            st.session_state[DATASET_KEY] = link[0]
            st.session_state.pop(RUN_KEY, None)
            if link[1]:
                st.session_state["_open_example"] = link[1]


def take_deep_link_example() -> str | None:
    """The example id a deep link asked for, once."""
    return st.session_state.pop("_open_example", None)


def mark_deep_link(dataset: str, example_id: str | None) -> None:
    """Keep the address bar pointing at what is shown, without it being applied again."""
    params = {
        "dataset": dataset,
        **({"example": example_id} if example_id else {}),
        **_kept_params(),
    }
    st.session_state["_deep_link"] = (dataset, example_id)
    if dict(st.query_params) != params:
        st.query_params.from_dict(params)


def current_run() -> RunInfo | None:
    """The run chosen in the sidebar (None when there is none)."""
    dataset = st.session_state.get(DATASET_KEY)
    if not dataset:
        return None
    try:
        runs = dataset_runs(dataset)
    except StoreError:
        return None
    name = st.session_state.get(RUN_KEY)
    if name is None:
        return runs[-1] if runs else None
    return next((info for info in runs if info.name == name), None)


def require_run(*, labelled: bool = True, counted: bool = False) -> RunInfo:
    """The chosen run; stops the page with a pointer to the Datasets page when there is none
    and, unless ``labelled`` is False, with a pointer to the Drift page when the run is of a
    production sample: with no labels it has no errors, accuracy or reviews to show. A run
    counted elsewhere (``import --engine spark``) stops it too, unless ``counted`` says the
    page shows what its counts give (see :func:`counted_analysis`)."""
    info = current_run()
    if info is None:
        st.info("No dataset yet: import one on the Datasets page.")
        st.page_link("app_pages/datasets.py", label="Go to Datasets", icon=":material/database:")
        st.stop()
    if labelled and info.production:
        st.info(
            f"**{md(info.dataset)} is a production sample:** it has no labels, so it has no "
            "errors, accuracy or reviews to show here. Compare it with a labelled dataset on "
            "the Drift page, or pick a labelled dataset in the sidebar.",
            icon=":material/sensors:",
        )
        st.page_link(page_path("drift"), label="Go to Drift", icon=":material/moving:")
        st.stop()
    if info.counted_by is not None and not counted:  # only its counts and drawn examples
        from erroranalysis.census import counted_elsewhere

        refused = counted_elsewhere(project(), info.dataset, info.name)
        st.info(
            f"{md(str(refused))}. Its priority table: `erroranalysis priorities --dataset "
            f"{md(info.dataset)}` on the command line.",
            icon=":material/hub:",
        )
        st.stop()
    return info


class RunKey(NamedTuple):
    """What identifies a run's data in the caches: the project file, the dataset, the run,
    and the run's id and import time (a run imported again under the same name is new)."""

    db: str
    dataset: str
    run: str
    run_id: int
    imported_at: str


def run_key(info: RunInfo) -> RunKey:
    """The cache key of ``info`` in the project file the app serves."""
    return RunKey(db_path(), info.dataset, info.name, info.id, info.imported_at)


# ------------------------------------------------------------------ the example frame
@dataclass(frozen=True)
class RunData:
    """A run's examples as imported (never mutate) and their ids as a hashed Index."""

    frame: pd.DataFrame
    ids: pd.Index
    classes: tuple[str, ...]


@st.cache_resource(max_entries=4, show_spinner="Loading examples…")
def _run_data(key: RunKey) -> RunData:
    store = project().dataset(key.dataset)
    # A run counted elsewhere holds the examples drawn for review: they are its frame here
    # (the pages that need every example stop before, in require_run).
    frame = store.examples(key.run, sample_only=True)
    # The store's Index of the run's ids: one hash table per run, shared with the analyses.
    ids, _ = project().run_index(store.run(key.run))
    # A production sample has predictions but no labels, and so no classes to list.
    classes = review.classes(frame) if "label" in frame.columns else ()
    return RunData(frame=frame, ids=ids, classes=classes)


def run_data(info: RunInfo) -> RunData:
    return _run_data(run_key(info))


@st.cache_resource(max_entries=4, show_spinner="Loading the embedding…")
def _embeddings(key: RunKey) -> Embeddings | None:
    # Big and immutable (read-only vectors): kept once per run, like the run's frame.
    return project().dataset(key.dataset).embeddings(key.run)


def embeddings(info: RunInfo) -> Embeddings | None:
    """The run's embedding (None when it has none)."""
    return _embeddings(run_key(info))


# ------------------------------------------------------------------ tags and reviews
# What each cached read below reads, by kind of change (see :func:`changed`).
TAXONOMY = ("taxonomy", "runs")  # the tags' definitions and the runs' tags from data
REVIEWS = ("reviews", "runs")  # the reviews, with the names of their runs
DECISIONS = ("reviews", "taxonomy", "review_plans", "adjudications")


@st.cache_data(max_entries=16, show_spinner=False)
def _reviewable_tags(key: RunKey, rev: tuple[int, ...]) -> list[str]:
    return analyses.reviewable_tags(project(), key.dataset)


def reviewed_tag_names(info: RunInfo) -> list[str]:
    """Tags a reviewer sets by hand on this dataset (no rule tags, no tags from data, none
    of other datasets only), in the shortcut order the team set (keys 1–9)."""
    return _reviewable_tags(run_key(info), changed(*TAXONOMY))


@st.cache_data(max_entries=4, show_spinner=False)
def _tag_definitions(db: str, rev: tuple[int, ...]) -> pd.DataFrame:
    return project().tag_definitions()


def tag_definitions() -> pd.DataFrame:
    """The project's tag definitions, with each tag's datasets and position."""
    return _tag_definitions(db_path(), changed(*TAXONOMY))


@st.cache_resource(max_entries=16, show_spinner=False)
def _reviewed_ids(key: RunKey, rev: tuple[int, ...]) -> frozenset[str]:
    return frozenset(_reviews(key, rev)["example_id"].astype(str))


def reviewed_ids(info: RunInfo) -> frozenset[str]:
    """Ids of the dataset's examples with at least one review (in any run)."""
    return _reviewed_ids(run_key(info), changed(*REVIEWS))


@st.cache_data(max_entries=16, show_spinner=False)
def _reviews(key: RunKey, rev: tuple[int, ...]) -> pd.DataFrame:
    return project().dataset(key.dataset).reviews()


def reviews(info: RunInfo) -> pd.DataFrame:
    return _reviews(run_key(info), changed(*REVIEWS))


@dataclass(frozen=True)
class ReviewQueue:
    """The review queue (never mutate) and its ids as a hashed Index, so finding the current
    example (``review.review_cursor(..., ids=queue.ids)``) is a lookup instead of a scan of
    the whole queue on every rerun."""

    frame: pd.DataFrame
    ids: pd.Index

    def __len__(self) -> int:
        return len(self.frame)


@st.cache_resource(max_entries=16, show_spinner="Drawing the queue…")
def _sample(
    key: RunKey, filters: review.ReviewFilters, options: tuple, rev: int
) -> tuple[sampling.Draw | None, ReviewQueue]:
    data = _run_data(key)
    assigned = (
        project().dataset(key.dataset).tag_assignments()
        if (filters.tags or filters.untagged)
        else None
    )
    draw = review.queue_draw(
        analyses.Evidence(data.frame, dataset=key.dataset, run=key.run),
        filters=filters,
        tags_by_example=assigned,
        ids=data.ids,
        **dict(options),
    )
    return draw, _queue_of(draw, data)


def sample_queue(
    info: RunInfo,
    filters: review.ReviewFilters,
    *,
    strategy: str,
    seed: int,
    size: int,
    fraction: float,
    rev: int,
) -> tuple[sampling.Draw | None, ReviewQueue]:
    """A stratified or confidence sample of the run and its queue (shared, read-only); for
    a stratified queue ``fraction`` is the share of correct examples and ``size`` is worked
    out from it. (None, an empty queue) when the filters leave no error to review.

    ``rev`` is the revision a tag filter was read at: the queue only changes when the
    reviewer changes the filters, not each time a tag toggles under them.
    """
    uses_tags = bool(filters.tags or filters.untagged)
    options = (
        ("strategy", strategy),
        ("seed", seed),
        ("size", size),
        ("correct_fraction", fraction),
    )
    return _sample(run_key(info), filters, options, rev if uses_tags else 0)


@st.cache_resource(max_entries=16, show_spinner=False)
def _blind_queue(key: RunKey, rev: tuple[int, ...], reviewer: str) -> ReviewQueue:
    store = project().dataset(key.dataset)
    plan = store.review_plan()
    if plan is None:
        frame = review.empty_queue()
    else:
        data = _run_data(key)
        frame = second_review.blind_queue(
            store.decisions(), data.frame, plan=plan, reviewer=reviewer, ids=data.ids
        )
    return ReviewQueue(frame=frame, ids=pd.Index(frame["id"], dtype=object))


def blind_queue(info: RunInfo, reviewer: str | None) -> ReviewQueue:
    """``reviewer``'s blind second-review queue of the run at the current revision (empty
    without a plan or a reviewer): see :func:`erroranalysis.second_review.blind_queue`."""
    if reviewer is None:
        frame = review.empty_queue()
        return ReviewQueue(frame=frame, ids=pd.Index(frame["id"], dtype=object))
    return _blind_queue(run_key(info), changed(*DECISIONS), reviewer)


@st.cache_data(max_entries=16, show_spinner=False)
def _disagreements(key: RunKey, rev: tuple[int, ...]) -> pd.DataFrame:
    store = project().dataset(key.dataset)
    return second_review.disagreements(store.decisions(), adjudications=store.adjudications())


def disagreements(info: RunInfo) -> pd.DataFrame:
    """Where the dataset's reviewers disagree (see
    :func:`erroranalysis.second_review.disagreements`), at the current revision."""
    return _disagreements(run_key(info), changed(*DECISIONS))


def _queue_of(draw: sampling.Draw | None, data: RunData) -> ReviewQueue:
    if draw is None:
        frame = review.empty_queue()
    else:
        frame = review.queue_from_draw(draw, data.frame, ids=data.ids)
    return ReviewQueue(frame=frame, ids=pd.Index(frame["id"], dtype=object))


def queue_of(draw: sampling.Draw | None, info: RunInfo) -> ReviewQueue:
    """The review queue of ``draw`` (None: an empty queue), its ids hashed once."""
    return _queue_of(draw, run_data(info))


@st.cache_resource(max_entries=4, show_spinner=False)
def _counted_queue(key: RunKey) -> tuple[sampling.Draw, ReviewQueue]:
    from erroranalysis.census import counted_draw

    draw = counted_draw(project(), key.dataset, key.run)
    return draw, _queue_of(draw, _run_data(key))


def counted_queue(info: RunInfo) -> tuple[sampling.Draw, ReviewQueue]:
    """The queue of a run counted elsewhere: the sample drawn where it was counted and
    recorded at its import (:func:`erroranalysis.census.counted_draw`), which never
    changes for that import (shared, read-only)."""
    return _counted_queue(run_key(info))


# Outlooks kept per process: one per (run key, draw's settings, reviews), at most this many.
MAX_OUTLOOKS = 16
# An outlook is brought up to date in the background at most this often: each update takes
# seconds of the server's CPU at 1M examples, and while reviewers tag, every click is a
# change (a hint for planning the next reviews may be a few changes behind).
OUTLOOK_REFRESH_S = 20.0
# The first outlook of a run of up to this many examples is computed while the page waits
# (well under a second); of a larger run in the background too (a minute at 10M), the page
# saying it is on its way.
OUTLOOK_FOREGROUND_ROWS = 100_000


class _Outlooks(NamedTuple):
    lock: threading.Lock
    # (run key, settings, reviews) -> (the revision it is of, the outlook or why none)
    latest: dict[tuple, tuple[int, sampling.Outlook | str]]
    running: set[tuple]  # those being brought up to date in the background
    started: dict[tuple, float]  # when each was last brought up to date (time.monotonic)


@st.cache_resource(show_spinner=False)
def _outlooks() -> _Outlooks:
    return _Outlooks(threading.Lock(), {}, set(), {})


@st.cache_resource(max_entries=4, show_spinner=False)
def _tag_features(key: RunKey, _rev: int) -> sampling.TagFeatures:
    # Keyed on the run alone: the features are of its examples, the same at every revision.
    return sampling.tag_features(_evidence(key, _rev))


def tag_features(info: RunInfo) -> sampling.TagFeatures:
    """What the tag model reads of the run's examples, encoded once per run (shared)."""
    return _tag_features(run_key(info), revision())


def _compute_outlook(
    key: RunKey, rev: int, reviews: int, draw: sampling.Draw
) -> sampling.Outlook | str:
    table = _analysis("priority_table", key, rev, ())
    try:
        evidence, features = _evidence(key, rev), _tag_features(key, rev)
        return sampling.outlook(evidence, draw, reviews=reviews, table=table, features=features)
    except ValueError as err:
        return str(err)


def _keep_outlook(slot: tuple, rev: int, result: sampling.Outlook | str) -> None:
    store = _outlooks()
    with store.lock:
        known = store.latest.get(slot)
        if known is None or known[0] <= rev:  # never replaced by an older revision's
            store.latest.pop(slot, None)
            store.latest[slot] = (rev, result)
        while len(store.latest) > MAX_OUTLOOKS:
            oldest = next(iter(store.latest))  # the least recently kept
            del store.latest[oldest]
            store.started.pop(oldest, None)


def _refresh_outlook(slot: tuple, rev: int, draw: sampling.Draw) -> None:
    key, _, reviews = slot
    try:
        _keep_outlook(slot, rev, _compute_outlook(key, rev, reviews, draw))
    except Exception:  # a later rerun tries again (in the foreground for a small run)
        pass
    finally:
        store = _outlooks()
        with store.lock:
            store.running.discard(slot)


def outlook(
    info: RunInfo, draw: sampling.Draw, *, settings: tuple, reviews: int
) -> tuple[sampling.Outlook | str | None, bool]:
    """What the next ``reviews`` of ``draw``'s queue buy (the target tag's interval width
    now and after them), or why that cannot be said yet; ``settings`` identify the draw.
    The second value says whether it is of the project's current revision.

    It takes seconds at a million examples (the tag model is fitted on every example), so
    only the first one of a draw of a run of up to :data:`OUTLOOK_FOREGROUND_ROWS` examples
    is computed while the page waits; for a larger run the first is None (being computed).
    After a change the page gets the last one (False) while the current one is computed in
    a thread of its own, for the next rerun, at most every :data:`OUTLOOK_REFRESH_S`
    seconds."""
    key, rev = run_key(info), revision()
    slot = (key, settings, reviews)
    store = _outlooks()
    foreground = info.n_examples <= OUTLOOK_FOREGROUND_ROWS
    with store.lock:
        known = store.latest.get(slot)
        now = time.monotonic()
        behind = not foreground if known is None else known[0] != rev
        start = (
            behind
            and slot not in store.running
            and now - store.started.get(slot, -math.inf) >= OUTLOOK_REFRESH_S
        )
        if start:
            store.running.add(slot)
            store.started[slot] = now
    if known is None and foreground:
        result = _compute_outlook(key, rev, reviews, draw)
        _keep_outlook(slot, rev, result)
        return result, True
    if start:
        worker = threading.Thread(
            target=_refresh_outlook, args=(slot, rev, draw), name="outlook", daemon=True
        )
        worker.start()
    if known is None:
        return None, False
    return known[1], known[0] == rev


@st.cache_data(max_entries=16, show_spinner=False)
def _column_choices(key: RunKey, column: str) -> review.ColumnChoices:
    return review.column_choices(_run_data(key).frame, column)


def column_choices(info: RunInfo, column: str) -> review.ColumnChoices:
    return _column_choices(run_key(info), column)


# ------------------------------------------------------------------ analysis
# Analyses that read only the run's examples: keyed without the revision, so a tag toggle
# does not recompute them and the Datasets page never loads the tags.
RUN_ONLY_ANALYSES = frozenset({"dataset_summary", "error_clusters"})
# Analyses of the reviewers' decisions on the dataset (DatasetStore.decisions()), not of
# a run's evidence.
DECISION_ANALYSES = frozenset({"tag_agreement", "reviewer_agreement"})


class _Latest(NamedTuple):
    lock: threading.Lock
    evidence: dict[RunKey, analyses.Evidence]


def _same_run(a: RunKey, b: RunKey) -> bool:
    """The same run of the same dataset in the same project, whichever import of it."""
    return (a.db, a.dataset, a.run) == (b.db, b.dataset, b.run)


@st.cache_resource(show_spinner=False)
def _latest_evidence() -> _Latest:
    """Each run's most recently loaded evidence, the base the next revision's is built on
    (one per run: the run's frame and tags, which the revision's cache holds anyway)."""
    return _Latest(threading.Lock(), {})


@st.cache_resource(max_entries=4, show_spinner="Estimating…")
def _evidence(key: RunKey, rev: int) -> analyses.Evidence:
    frame = _run_data(key).frame
    latest = _latest_evidence()
    with latest.lock:
        base = latest.evidence.get(key)
    loaded = analyses.load_evidence(project(), key.dataset, run=key.run, examples=frame, base=base)
    with latest.lock:
        for old in [k for k in latest.evidence if _same_run(k, key) and k != key]:
            del latest.evidence[old]  # a run imported again: its old evidence is no base
        latest.evidence[key] = loaded
    return loaded


# The kinds of tag only a new rule or a new import of the run changes: their counts are kept
# per taxonomy, not per revision.
DERIVED_KINDS = ("dataset", "rule")


@st.cache_resource(max_entries=4, show_spinner=False)
def _derived_tally(key: RunKey, stamps: tuple[int, ...], _rev: int) -> counts.Tally:
    # Keyed on the taxonomy's and the runs' change stamps only: the evidence of any revision
    # at those stamps has the same dataset and rule tags.
    return counts.tally(_evidence(key, _rev), kinds=DERIVED_KINDS)


def _tally(key: RunKey, rev: int) -> counts.Tally:
    """The run's counts at revision ``rev``: the dataset and rule tags' counted once per
    taxonomy (a pass over every example, seconds at 10M), the reviewed tags' per revision
    (only the reviewed rows), joined in the evidence's order, which equals counting them
    all at once (tests/test_counts.py)."""
    evidence = _evidence(key, rev)
    stamps = project().changes()
    if stamps.revision != rev:  # the project moved on since rev was read: count it whole
        return counts.tally(evidence)
    derived = _derived_tally(key, tuple(getattr(stamps, kind) for kind in TAXONOMY), rev)
    names = tuple(evidence.tags.columns)
    if derived.names != tuple(n for n in names if evidence.kinds[n] in DERIVED_KINDS):
        return counts.tally(evidence)  # not of this evidence's tags: never mix them
    reviewed = counts.tally(evidence, kinds=("reviewed",))
    return counts.join_tallies(derived, reviewed).select(names)


@st.cache_data(max_entries=64, show_spinner=False)
def _analysis(name: str, key: RunKey, rev: int | None, options: tuple) -> Any:
    if name in DECISION_ANALYSES:
        decisions = project().dataset(key.dataset).decisions()
        return getattr(analyses, name)(decisions, **dict(options))
    if name in COUNTED_ANALYSES and rev is not None:
        return analyses.ANALYSES[name](_tally(key, rev), **dict(options))
    # rev is None for RUN_ONLY_ANALYSES: the run's examples alone, no tags read.
    evidence = analyses.Evidence(_run_data(key).frame) if rev is None else _evidence(key, rev)
    # An option that names another run (drift's ``against``) is that run's evidence.
    resolved = {k: _evidence(v, rev) if isinstance(v, RunKey) else v for k, v in options}
    return analyses.ANALYSES[name](evidence, **resolved)


def evidence(info: RunInfo) -> analyses.Evidence:
    """The run's evidence at the project's current revision (shared, read-only): the one
    copy every page and analysis of this revision uses."""
    return _evidence(run_key(info), revision())


def analysis(name: str, info: RunInfo, **options: Any) -> Any:
    """``analyses.ANALYSES[name]`` of the run at the project's current revision, with
    ``options`` (hashable values): computed once per revision and shared by every page
    and session. A name in :data:`DECISION_ANALYSES` is of the run's dataset's decisions. What it returns is a copy, the page's own. An option that is a
    :class:`RunInfo` (another run, as drift's ``against``) reaches the analysis as that
    run's evidence."""
    rev = None if name in RUN_ONLY_ANALYSES else revision()
    keyed = {k: run_key(v) if isinstance(v, RunInfo) else v for k, v in options.items()}
    return _analysis(name, run_key(info), rev, tuple(sorted(keyed.items())))


# The analyses that take a run's counts (a Tally) as well as its evidence: on a run counted
# elsewhere they are computed from its census and the reviews of its drawn examples.
COUNTED_ANALYSES = frozenset({"priority_table"})


@st.cache_data(max_entries=16, show_spinner=False)
def _counted_analysis(name: str, key: RunKey, rev: int, options: tuple) -> Any:
    from erroranalysis.census import census_tally

    counts = census_tally(project(), key.dataset, run=key.run)
    return analyses.ANALYSES[name](counts, **dict(options))


def counted_analysis(name: str, info: RunInfo, **options: Any) -> Any:
    """:func:`analysis` of a run counted elsewhere, for a name in :data:`COUNTED_ANALYSES`:
    from its counts, once per revision; a copy, the page's own."""
    if name not in COUNTED_ANALYSES:
        raise ValueError(f"{name!r} needs every example; from counts: {sorted(COUNTED_ANALYSES)}")
    return _counted_analysis(name, run_key(info), revision(), tuple(sorted(options.items())))


def frame_digest(frame: pd.DataFrame) -> str:
    """A digest of everything in ``frame`` a chart can show: its values, index, column
    names and dtypes, every row (Streamlit's own hash samples frames of 50,000 rows or
    more, so two such frames could share one)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(repr((list(frame.columns), [str(t) for t in frame.dtypes])).encode())
    try:
        digest.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    except TypeError:  # a cell pandas cannot hash (a list): its pickle, as exact
        digest.update(pickle.dumps(frame, protocol=pickle.HIGHEST_PROTOCOL))
    return digest.hexdigest()


@st.cache_resource(max_entries=64, show_spinner=False)
def _chart(name: str, digest: str, options: tuple, _frame: pd.DataFrame) -> Any:
    # ``digest`` stands for ``_frame`` (not hashed): the figure of the same table is kept.
    return getattr(_charts, name)(_frame, **dict(options))


def chart(name: str, frame: pd.DataFrame, **options: Any) -> Any:
    """``_charts.NAME(frame, **options)`` (hashable options), built once per distinct
    ``frame`` and options and shared by every session (never mutate it). Building a
    Plotly figure takes 50–250 ms, and a new revision often leaves the table a chart draws
    as it was (a tag on an example nobody has reviewed yet moves no estimate)."""
    return _chart(name, frame_digest(frame), tuple(sorted(options.items())), frame)


@st.cache_data(max_entries=64, show_spinner=False)
def _rule_preview(key: RunKey, text: str) -> tuple[int, int]:
    frame = _run_data(key).frame
    matched = rules.evaluate_rule(text, frame).to_numpy()
    return int(matched.sum()), int((matched & ~frame["correct"].to_numpy(dtype=bool)).sum())


def rule_preview(info: RunInfo, text: str) -> tuple[int, int]:
    """(examples, errors) a rule matches in the run; ValueError says what is wrong with it."""
    return _rule_preview(run_key(info), text.strip())


def recent_actions(info: RunInfo, *, limit: int = 100) -> pd.DataFrame:
    """The newest actions on the dataset and the taxonomy: which, when, who, what (in
    words), and what undid it."""
    rows = log_page(offset=0, limit=limit, dataset=info.dataset).rows
    return rows[["id", "at", "actor", "kind", "what", "undone_by"]]


# ------------------------------------------------------------------ exports
class ExportCounts(NamedTuple):
    """What a run has to export beyond its tables: examples with a review, and with a
    corrected label."""

    reviewed: int
    corrected: int


@st.cache_data(max_entries=16, show_spinner=False)
def _export_counts(key: RunKey, rev: tuple[int, ...]) -> ExportCounts:
    data = _run_data(key)
    # isin, not get_indexer: at 1M ids and 20k reviewed ones 0.22 s against 0.43 s here.
    reviewed = data.ids.isin(list(_reviewed_ids(key, rev)))
    corrected = exports.corrected_labels(data.frame, _reviews(key, rev))
    return ExportCounts(reviewed=int(reviewed.sum()), corrected=len(corrected))


def sheet_formats(rows: int) -> tuple[str, ...]:
    """The formats a table of ``rows`` rows downloads in: CSV and Excel, or CSV alone when
    an Excel sheet cannot hold that many."""
    return TABLE_FORMATS if rows < workbook.MAX_ROWS else ("csv",)


def export_counts(info: RunInfo) -> ExportCounts:
    """How many of the run's examples are reviewed, and how many have a corrected label."""
    return _export_counts(run_key(info), changed(*REVIEWS))


def run_export(info: RunInfo, kind: str, **options: Any) -> Callable[[], pd.DataFrame]:
    """What builds ``erroranalysis export KIND`` of the run (the log: of its dataset) with
    ``options``, from the project file as it is when called (see :func:`project_export`)."""
    run = None if kind in exports.DATASET_KINDS else info.name
    return project_export(kind, dataset=info.dataset, run=run, **options)


def project_export(
    kind: str, *, dataset: str | None, run: str | None = None, **options: Any
) -> Callable[[], pd.DataFrame]:
    """What builds ``erroranalysis export KIND`` of ``dataset`` (None: the whole project,
    for the log) with ``options``, from the project file as it is when called. A download
    runs it on a click, in a thread of its own, so it reads through a read-only connection
    of its own."""
    path = db_path()

    def build() -> pd.DataFrame:
        with open_project(path, readonly=True, create=False) as store:
            return exports.export_table(store, dataset, kind, run=run, **options)

    return build


@st.cache_data(max_entries=32, show_spinner=False)
def _log_page(db: str, rev: int, filters: tuple, offset: int, limit: int) -> LogPage:
    return project().log(**dict(filters), offset=offset, limit=limit)


def log_page(*, offset: int, limit: int, **filters: Any) -> LogPage:
    """One page of the project's log (:meth:`Project.log`) with ``filters`` (hashable
    values), at the project's current revision."""
    return _log_page(db_path(), revision(), tuple(sorted(filters.items())), offset, limit)


def may_undo(actor: str | None, owner: str) -> bool:
    """Whether ``actor`` may undo an action of ``owner``: their own, or anyone's as an
    admin (everyone may while no role is granted; nobody unnamed)."""
    return actor is not None and project().may_undo(actor, owner)


def run_downloads(
    info: RunInfo,
    kind: str,
    *,
    name: str,
    label: str,
    formats: tuple[str, ...] = TABLE_FORMATS,
    where: Any = None,
    **options: Any,
) -> None:
    """A row of download buttons (``where``: a new one unless given) for ``erroranalysis
    export KIND`` of the run with ``options`` (:func:`run_export`), built on a click."""
    table_downloads(
        run_export(info, kind, **options),
        name=name,
        run=info,
        kind=kind,
        formats=formats,
        label=label,
        where=st.container(horizontal=True) if where is None else where,
    )


def nothing_to_export(reason: str) -> None:
    """Said in place of a download that would give an empty file."""
    st.caption(f":material/block: Nothing to export: {reason}.")


def meeting_workbook(info: RunInfo) -> Callable[[], bytes]:
    """What builds the run's meeting workbook, the file of ``erroranalysis export priorities
    --format xlsx``: the priority table, then the examples and the log on their own sheets."""
    path, dataset, run = db_path(), info.dataset, info.name

    def build() -> bytes:
        with open_project(path, readonly=True, create=False) as store:
            table = exports.export_table(store, dataset, "priorities", run=run)
            sheets = exports.extra_sheets(store, dataset, "priorities", run=run)
        return exports.export_bytes(table, format="xlsx", kind="priorities", sheets=sheets)

    return build


# ------------------------------------------------------------------ imports
def runs_table() -> pd.DataFrame:
    """Every dataset and run of the project, one row per run."""
    return analyses.runs_table(project())


@st.cache_data(max_entries=4, show_spinner=False)
def file_columns(data: bytes, filename: str) -> list[str]:
    """The column names of an uploaded file, to offer in the column mapping."""
    return importing.peek_columns(data, filename=filename)


def problem_table(problems: list) -> pd.DataFrame:
    """An import's problems as a table: where (line or row, column), the value, what is wrong."""
    return pd.DataFrame(
        {
            "where": [f"{p.unit} {p.row}" if p.row is not None else "" for p in problems],
            "column": [p.column or "" for p in problems],
            "value": [p.value or "" for p in problems],
            "problem": [p.message for p in problems],
        }
    )


def safe_filename(*parts: str) -> str:
    """A download file name from names that come from data."""
    return "-".join(re.sub(r"[^A-Za-z0-9._-]+", "_", p).strip("._") or "x" for p in parts)


# ------------------------------------------------------------------ shared widgets
def media_roots() -> tuple[Path, ...]:
    """The server folders the operator allowed uploads to take media from
    (``serve --media-root DIR``, passed in ``$ERRORANALYSIS_MEDIA_ROOTS``); often none."""
    return media.allowed_roots(os.environ.get(media.MEDIA_ROOTS_ENV))


def show_media(info: RunInfo, kind: str, value: object) -> None:
    """Play or show one media value of a run: an http(s) URL is passed on as it is; a path is
    resolved inside the run's media root (which must still be a folder), its bytes are read
    and sent only if their content is ``kind`` (audio or an image, whatever the file is
    called), with the MIME type sniffed from them. No path from data ever reaches
    Streamlit's file serving."""
    if not isinstance(value, str) or not value:
        return
    show = st.audio if kind == "audio" else st.image
    if media.is_url(value):
        show(value)
        return
    if info.media_root is None:
        st.warning(f"No media folder is known for this run, so its {kind} cannot be shown.")
        return
    try:
        data, mime = media.load_media(info.media_root, value, kind=kind)
    except media.UnsafeMediaPath as err:
        st.error(f"Not shown: {md(err)}")
        return
    except media.RefusedMedia as err:
        st.warning(f"Not shown: {md(err)}")
        return
    except OSError:
        st.warning(f"The {kind} file is missing from the media folder.")
        st.code(value, language=None)
        return
    try:
        if kind == "audio":
            st.audio(data, format=mime)
        else:
            # Decoded and re-served as PNG/JPEG/GIF, never as SVG or HTML. Thumbnails such as
            # 8x8 digits are drawn large enough to read; big images fit the column.
            with Image.open(io.BytesIO(data)) as image:
                small = image.width < SMALL_IMAGE
            st.image(data, width=SMALL_IMAGE if small else "stretch")
    except Exception:  # an undecodable image: say so, do not crash the page
        st.warning(f"The {kind} file could not be decoded.")


def _page_key(name: str) -> str:
    return f"{name}:page"


def _pages(frame: pd.DataFrame, page_rows: int) -> int:
    return max(1, math.ceil(len(frame) / page_rows))


def table_page(frame: pd.DataFrame, *, name: str, page_rows: int = PAGE_ROWS) -> pd.DataFrame:
    """The rows of ``frame`` that :func:`show_table` (called with the same ``name``) shows
    now: the page the reader chose. A selection callback maps a selected position to its
    row through it."""
    page = min(max(int(st.session_state.get(_page_key(name)) or 1), 1), _pages(frame, page_rows))
    return frame.iloc[(page - 1) * page_rows : page * page_rows]


def export_file(
    table: TableSource, *, format: str, kind: str | None = None, index: bool = False
) -> Callable[[], bytes]:
    """What a click on a download of ``table`` sends: :func:`exports.export_bytes` of it,
    the file ``erroranalysis export KIND`` writes for the same table (formula-safe text,
    numbers as numbers, rates to 4 significant digits in CSV). ``index``: the table's index
    goes in as its first column (a matrix such as the tag overlap); else it is left out."""

    def build() -> bytes:
        frame = table() if callable(table) else table
        return exports.export_bytes(frame.reset_index(drop=not index), format=format, kind=kind)

    return build


def table_downloads(
    table: TableSource,
    *,
    name: str,
    run: RunInfo | None = None,
    kind: str | None = None,
    index: bool = False,
    formats: tuple[str, ...] = TABLE_FORMATS,
    label: str = "Download",
    where: Any = st,
) -> None:
    """A download button per format (CSV and Excel unless ``formats`` says otherwise) for
    ``table`` (see :func:`export_file`), built only when clicked. ``kind`` is the table's
    kind in :data:`exports.EXPORT_KINDS` (None for a table the command line does not
    export); ``name`` names the file, ``<dataset>-<run>-<name>.<format>``, and the buttons'
    keys, ``<name>:<format>``."""
    parts = (run.dataset, run.name, name) if run is not None else (name,)
    for format in formats:
        text, mime, purpose = DOWNLOAD_FORMATS[format]
        where.download_button(
            f"{label} {text}".strip(),
            data=export_file(table, format=format, kind=kind, index=index),
            file_name=f"{safe_filename(*parts)}.{format}",
            mime=mime,
            icon=":material/download:",
            on_click="ignore",
            key=f"{name}:{format}",
            type="tertiary",
            help=f"The whole table as {text}, {purpose}.",
        )


def show_table(
    frame: pd.DataFrame,
    *,
    name: str,
    run: RunInfo | None = None,
    kind: str | None = None,
    export_frame: TableSource | None = None,
    page_rows: int = PAGE_ROWS,
    **options: Any,
) -> Any:
    """``st.dataframe`` of one page of ``frame``, with a page selector when there are more,
    and the app's own formula-safe download of the whole table beside it.

    Every table of the app goes through here. The grid's built-in CSV download is switched
    off (``client.disableDataExport`` in ``.streamlit/config.toml``): it writes text that
    begins with ``=``, ``+``, ``-`` or ``@`` as it is, and a spreadsheet runs that as a
    formula. ``name`` names the table: in the file name (with the run's dataset and name)
    and in the keys of its widgets, so it is unique on the page; ``kind`` is its kind of
    export (:func:`table_downloads`). ``export_frame`` is what the downloads hold when it
    is not the frame shown (e.g. with columns the grid hides, or every row of a log the
    page shows the end of): a frame, or what builds it on a click. ``options`` go to
    ``st.dataframe``; the index is not downloaded (every table hides it).
    """
    pages = _pages(frame, page_rows)
    key = _page_key(name)
    if pages > 1 and int(st.session_state.get(key) or 1) > pages:
        st.session_state[key] = pages  # the table shrank under the reader
    shown = table_page(frame, name=name, page_rows=page_rows)
    event = st.dataframe(shown, **options)
    bar = st.container(horizontal=True, vertical_alignment="center", gap="small")
    table_downloads(
        frame if export_frame is None else export_frame,
        name=name,
        run=run,
        kind=kind,
        where=bar,
    )
    if pages > 1:
        start = (int(st.session_state.get(key) or 1) - 1) * page_rows
        bar.caption("Page", width="content")
        bar.number_input(
            "Page",
            min_value=1,
            max_value=pages,
            step=1,
            key=key,
            width=120,
            label_visibility="collapsed",
            help=f"{page_rows} rows per page",
        )
        bar.caption(
            f"of {pages:,} · rows {start + 1:,}–{start + len(shown):,} of {len(frame):,}",
            width="content",
        )
    return event


def timestamps(values: pd.Series) -> pd.Series:
    """ISO timestamps from the project file as UTC datetimes, for a ``DatetimeColumn``."""
    return pd.to_datetime(values, utc=True, format="ISO8601", errors="coerce")


def with_interval(table: pd.DataFrame, *, column: str = "marginal_effect") -> pd.DataFrame:
    """``table`` with the interval of ``column`` (its ``_low`` and ``_high`` columns) written
    as text ("1.2%–3.4%") in an ``interval`` column."""
    low, high = table[f"{column}_low"], table[f"{column}_high"]
    text = [
        "" if pd.isna(a) or pd.isna(b) else f"{a:.1%}–{b:.1%}"
        for a, b in zip(low, high, strict=True)
    ]
    return table.assign(interval=text)


def tag_choices(
    names: list[str], present: set[str], *, buttons: int
) -> tuple[list[str], list[str]]:
    """The Review page's tags split into (buttons, the rest for a search box): the first
    ``buttons`` names keep their place (and their 1–9 keys), then every other tag the example
    carries, so what is on is always a button."""
    first = names[:buttons]
    more = [t for t in names[buttons:] if t in present]
    listed = [t for t in names[buttons:] if t not in present]
    return [*first, *more], listed


def review_untagged() -> None:
    """Set the review queue to untagged examples only (before switching to the Review page)."""
    for key, default in REVIEW_DEFAULTS.items():
        if key.startswith(("rv_true", "rv_pred", "rv_tags", "rv_meta")):
            st.session_state[key] = default
    st.session_state["rv_untagged"] = True
    st.session_state["rv_queue_rev"] = revision()


@dataclass(frozen=True)
class Change:
    """A change a user asked for, kept until the project takes it (see :func:`act`).

    ``apply`` calls the store with the values of the click (never read again from widgets,
    which may be gone by the time it is saved); ``then(result)`` is what the page does once
    it is saved; ``what`` names it in the busy message ("the tag 'car noise' on s04").
    """

    what: str
    apply: Callable[[], object]
    then: Callable[[object], None] | None = None
    done: str | None = None


def act(
    apply: Callable[[], object],
    *,
    what: str,
    done: str | None = None,
    then: Callable[[object], None] | None = None,
) -> None:
    """Save a change to the project, or keep it until the project is free: a click is
    never lost.

    Changes are saved in the order they were made, after any kept before. When another
    writer holds the project (a long import), each attempt waits ``BUSY_WAIT_S`` for the
    lock, ``BUSY_ATTEMPTS`` times; past that the change stays in the session and
    :func:`flash` says so with a Retry button. A refused change (``StoreError``,
    ``ValueError``) is dropped and its message kept for :func:`flash`; ``done`` is the
    message once saved.
    """
    pending = st.session_state.setdefault(PENDING_KEY, [])
    pending.append(Change(what=what, apply=apply, then=then, done=done))
    save_pending()


def pending_changes() -> list[Change]:
    """The changes kept while the project was busy, oldest first."""
    return list(st.session_state.get(PENDING_KEY) or [])


def save_pending(*, automatic: bool = False) -> None:
    """Save the kept changes, oldest first, until one finds the project still busy.

    ``automatic`` (a rerun, not a click): one short attempt, at most every
    ``AUTO_RETRY_S``, so a page does not stall while an import goes on.
    """
    pending = st.session_state.get(PENDING_KEY) or []
    if not pending:
        return
    now = time.monotonic()
    if automatic and now - st.session_state.get("_pending_tried", 0.0) < AUTO_RETRY_S:
        return
    attempts = 1 if automatic else BUSY_ATTEMPTS
    while pending:
        change = pending[0]
        try:
            result = _save(change.apply, attempts=attempts)
        except ProjectBusy:
            st.session_state["_pending_tried"] = time.monotonic()
            return
        except (StoreError, ValueError) as err:
            pending.pop(0)
            st.session_state["_flash"] = ("error", str(err))
            continue
        pending.pop(0)
        if change.done:
            st.session_state["_flash"] = ("success", change.done)
        if change.then is not None:
            change.then(result)


def _save(apply: Callable[[], object], *, attempts: int) -> object:
    _this_run().clear()  # what the run read before may have changed
    for attempt in range(attempts):
        try:
            with project().busy_timeout(BUSY_WAIT_S):
                return apply()
        except ProjectBusy:
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")  # attempts >= 1


def retry_pending() -> None:
    """The Retry button of the busy message: save the kept changes, waiting as a click does."""
    save_pending()


def flash() -> None:
    """Show (once) the message the last action left, and while the project is busy, what is
    kept for saving with a Retry button (kept changes are saved first, when they can be)."""
    save_pending(automatic=True)
    # One container whether or not there is a message: the elements after it keep their
    # place, so a fragment rerun that drops the message leaves no stale copy of them.
    box = st.container()
    message = st.session_state.pop("_flash", None)
    if message is not None:
        kind, text = message
        if kind == "error":
            box.error(md(text), icon=":material/error:")
        else:
            st.toast(md(text), icon=":material/check:")
    pending = pending_changes()
    if not pending:
        return
    kept = pending[0].what if len(pending) == 1 else f"{len(pending):,} changes"
    with box.container(border=True, key="_busy"):
        st.warning(
            f"**The project is busy:** another change (such as a long import) is being "
            f"written. Your change ({md(kept)}) is kept and will be saved when you retry, "
            "or with your next click.",
            icon=":material/hourglass_top:",
        )
        st.button(
            "Retry",
            type="primary",
            icon=":material/refresh:",
            key="_busy_retry",
            on_click=retry_pending,
        )


def tag_button(
    label: str, name: str, *, role: str, on_click: Callable[..., None], args: tuple, key: str
) -> None:
    """The button that makes the tag ``name`` from what the page shows (``on_click(*args)``):
    off until the reviewer is known, may act as ``role`` and the name is not blank."""
    allowed = can(role, doing=f"“{label}”")
    st.button(
        label,
        type="primary",
        icon=PAGES["tags"][1],
        disabled=reviewer() is None or not allowed or not name.strip(),
        on_click=on_click,
        args=args,
        key=key,
    )


def need_reviewer() -> str | None:
    """Who acts (:func:`reviewer`); when the name box is empty, a short prompt that asks
    for it once (a signed-in identity that is no usable name is said in the sidebar)."""
    name = reviewer()
    if name is None and not sign_in_on():
        st.warning("Enter your name in the sidebar: it is stored with every change you make.")
    return name
