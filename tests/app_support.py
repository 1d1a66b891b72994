"""What every page test shares: a small project built through the real importer, and helpers.

Each page test builds a small project file in ``tmp_path`` from a CSV (through the real
importer), points the app at it with ``$ERRORANALYSIS_DB`` and drives it with Streamlit's
AppTest. AppTest reruns the whole script on every interaction, so these tests check what
the pages do, not how fast fragments rerun (the browser tests and benchmarks do that).
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
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
            "text": [f"utterance number {i} <b>bold?</b> ![x](http://example.invalid/x.png)" for i in range(N)],
            "audio": [f"clips/s{i:02d}.wav" for i in range(N)],
            "snr_db": np.arange(N, dtype=float),
            "noise": ["car" if i % 5 == 0 else "clean" for i in range(N)],
            "tags": ["clipped" if i % 10 == 0 else "" for i in range(N)],
        }
    )  # fmt: skip


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
        project.import_result(DATASET, result, actor="setup")
        project.define_tag("car noise", actor="setup", description="engine hum", hlp=0.95)
        project.define_tag("people noise", actor="setup", hlp=0.9, effort=2.0)
        project.set_tag(DATASET, "s04", "car noise", actor="setup")
        project.record_review(DATASET, "s04", reviewer="setup", queue="error")
    return db


def png_bytes() -> bytes:
    sink = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(sink, format="PNG")
    return sink.getvalue()


def open_page(at: AppTest, page: str, **query: str) -> AppTest:
    for key, value in query.items():
        at.query_params[key] = value
    at.switch_page(f"app_pages/{page}.py")
    return at.run()


def no_errors(at: AppTest) -> None:
    assert not at.exception, [e.message for e in at.exception]
