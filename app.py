"""The web app: review a model's errors, tag them, and rank what data to improve next.

Run it with ``erroranalysis serve --db project.db`` (or ``make run``); the project file comes
from ``$ERRORANALYSIS_DB``. On first start, without a project file, the demo is built.
The pages live in ``app_pages/``; each starts with ``_ui.start_page()`` (page config, the
project file, the sidebar).
"""

from __future__ import annotations

from app_pages import _ui

_ui.navigation().run()
