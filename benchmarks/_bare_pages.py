"""A bare multipage Streamlit app that draws pages captured by ``_replay.capture``.

Serve it with ``$REPLAY_PAGES`` naming a pickle of ``{"pages": {url_path: {"title",
"icon", "records"}}}`` (as ``page_warm.py`` writes it): one page per captured page, in the
same navigation, each drawing its records again with plain ``st.*`` calls and nothing else.
"""

from __future__ import annotations

import os
import pickle

import _replay
import streamlit as st


@st.cache_resource
def captured(path: str) -> dict:
    with open(path, "rb") as source:
        pages = pickle.load(source)["pages"]
    return {
        name: {**page, "records": _replay.prepare(page["records"])} for name, page in pages.items()
    }


def page_of(records: dict, links: dict):
    return lambda: _replay.replay(records, links=links)


st.set_page_config(page_title="Error analysis", layout="wide")
pages = captured(os.environ[_replay.CAPTURE_ENV])
# The page a visit to the root address opens: the first, or the one the session names
# (so AppTest, which switches only between page files, can open each).
first = st.session_state.get(_replay.PAGE_KEY, next(iter(pages)))
links: dict = {}
for name, page in pages.items():
    links[name] = st.Page(
        page_of(page["records"], links),
        title=page["title"],
        icon=page["icon"],
        url_path=name,
        default=name == first,
    )
st.navigation(list(links.values())).run()
