"""The web app: review a model's errors, tag them, and rank what data to improve next.

Run it with ``erroranalysis serve --db project.db`` (or ``make run``); the project file comes
from ``$ERRORANALYSIS_DB``. On first start, without a project file, the demo is built.
The pages live in ``app_pages/``; each starts with ``_ui.start_page()`` (page config, the
project file, the sidebar). A project file the app cannot use is a message on the page,
not a traceback.
"""

from __future__ import annotations

from app_pages import _ui

with _ui.script_run():  # the run borrows a connection to the project file
    page = _ui.navigation()
    with _ui.project_problems():
        page.run()
_ui.warm_up()  # the page is drawn: load what the other pages need, in the background
