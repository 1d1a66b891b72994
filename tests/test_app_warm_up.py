"""The app's start: once the first page is drawn, what the other pages need is imported
in the background, once per server process."""

from __future__ import annotations

import json
import subprocess
import sys

from app_support import APP, ROOT

from app_pages._ui import WARM_MODULES

# In a fresh interpreter: which of the warm-up's modules are loaded before the app runs
# and after its first page and the warm-up's thread; which threads the first run started;
# whether a second run starts another warm-up.
PROBE = f"""
import json, sys, threading
from streamlit.testing.v1 import AppTest
names = {WARM_MODULES!r}
before = [n for n in names if n in sys.modules]
started, start = [], threading.Thread.start
def recording(thread):
    started.append(thread.name)
    start(thread)
threading.Thread.start = recording
at = AppTest.from_file({APP!r}, default_timeout=120).run()
assert not at.exception, at.exception
started_by_the_run = "warm-up" in started
from app_pages import _ui
thread = _ui.warm_up()
thread.join(120)
at.run()
print(json.dumps({{
    "title": at.title[0].value,
    "before": before,
    "started": started_by_the_run,
    "loaded": [n for n in names if n in sys.modules],
    "alive": thread.is_alive(),
    "same_thread": _ui.warm_up() is thread and started.count("warm-up") == 1,
}}))
"""


def test_the_other_pages_modules_are_loaded_in_the_background_once(project_file):
    proc = subprocess.run(
        [sys.executable, "-c", PROBE],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer == {
        "title": "Datasets",
        "before": [],
        "started": True,
        "loaded": list(WARM_MODULES),
        "alive": False,
        "same_thread": True,
    }
