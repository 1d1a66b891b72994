"""Consistency checks for the committed demo datasets in sample_data/."""

from __future__ import annotations

import csv
import importlib
import sys
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SPEECH = SAMPLE_DATA / "speech"
DIGITS = SAMPLE_DATA / "digits"

WORDS = {"yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go"}
NOISES = {"clean", "car", "people", "low_bandwidth"}
SPEECH_COLUMNS = [
    "id",
    "label",
    "prediction",
    "confidence",
    "human_label",
    "audio",
    "noise",
    "snr_db",
    "bandwidth_khz",
    "device",
    "speaker",
]
MAX_SPEECH_BYTES = 10_000_000


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        return list(reader.fieldnames or []), list(reader)


@pytest.fixture(scope="module")
def speech() -> list[dict[str, str]]:
    columns, rows = read_csv(SPEECH / "speech_dev.csv")
    assert columns == SPEECH_COLUMNS
    return rows


@pytest.fixture(scope="module")
def reviews() -> list[dict[str, str]]:
    columns, rows = read_csv(SPEECH / "reviews.csv")
    assert columns == ["id", "reviewer", "tags", "label_wrong", "corrected_label"]
    return rows


@pytest.fixture(scope="module")
def tags() -> list[dict[str, str]]:
    columns, rows = read_csv(SPEECH / "tags.csv")
    assert columns == ["tag", "hlp", "effort", "description"]
    return rows


@pytest.fixture(scope="module")
def digits() -> tuple[list[str], list[dict[str, str]]]:
    return read_csv(DIGITS / "digits_dev.csv")


def accuracy(rows: list[dict[str, str]], column: str = "prediction") -> float:
    return sum(r[column] == r["label"] for r in rows) / len(rows)


def by_noise(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    groups = defaultdict(list)
    for r in rows:
        groups[r["noise"]].append(r)
    return groups


def media_path(folder: Path, relative: str) -> Path:
    path = (folder / relative).resolve()
    assert path.is_relative_to(folder), f"{relative} points outside {folder}"
    assert path.is_file(), f"missing {relative}"
    return path


# --------------------------------------------------------------------------- speech


def test_speech_rows_are_well_formed(speech):
    assert 300 <= len(speech) <= 400
    assert len({r["id"] for r in speech}) == len(speech)
    for r in speech:
        assert {r["label"], r["prediction"], r["human_label"]} <= WORDS
        assert r["noise"] in NOISES
        assert 0.0 < float(r["confidence"]) <= 1.0
        float(r["snr_db"])
        assert float(r["bandwidth_khz"]) == (3.4 if r["noise"] == "low_bandwidth" else 8.0)
        assert r["device"] in {"laptop", "phone", "headset"}
        assert r["speaker"]


def test_speech_clips_exist_and_are_valid_wavs(speech):
    clips = SPEECH / "clips"
    referenced = {media_path(SPEECH, r["audio"]) for r in speech}
    assert referenced == set(clips.glob("*.wav")), "clips/ and speech_dev.csv disagree"
    for path in referenced:
        with wave.open(str(path)) as wav:
            assert wav.getnchannels() == 1
            assert wav.getsampwidth() == 2
            assert wav.getframerate() == 16_000
            assert 0.25 < wav.getnframes() / 16_000 < 1.5
            frames = wav.readframes(wav.getnframes())
        assert any(frames[1::2]), f"{path.name} is silent"
    assert sum(p.stat().st_size for p in referenced) <= MAX_SPEECH_BYTES


def test_speech_accuracy_tells_the_story(speech):
    groups = by_noise(speech)
    model = {noise: accuracy(rows) for noise, rows in groups.items()}
    human = {noise: accuracy(rows, "human_label") for noise, rows in groups.items()}
    assert set(model) == NOISES
    assert model["clean"] > 0.9
    assert model["clean"] == max(model.values())
    assert max(model["people"], model["low_bandwidth"]) < model["car"]
    assert model["low_bandwidth"] < 0.75 and model["people"] < 0.8
    for noise in ("people", "low_bandwidth"):
        assert human[noise] > model[noise] + 0.1
    # Shares roughly as in the README: mostly clean, then people noise.
    shares = {noise: len(rows) / len(speech) for noise, rows in groups.items()}
    assert shares["clean"] > shares["people"] > max(shares["car"], shares["low_bandwidth"])


def test_reviews_cover_all_errors_and_some_correct_examples(speech, reviews, tags):
    by_id = {r["id"]: r for r in speech}
    reviewed = [r["id"] for r in reviews]
    assert len(set(reviewed)) == len(reviewed)
    assert set(reviewed) <= set(by_id)
    errors = {r["id"] for r in speech if r["prediction"] != r["label"]}
    assert errors <= set(reviewed)
    correct_reviewed = len(set(reviewed) - errors)
    assert 0.1 <= correct_reviewed / (len(speech) - len(errors)) <= 0.3
    known_tags = {t["tag"] for t in tags}
    for r in reviews:
        assert r["reviewer"] in {"ana", "ben"}
        assert {t for t in r["tags"].split(";") if t} <= known_tags


def test_review_tags_match_the_recording_condition(speech, reviews):
    by_id = {r["id"]: r for r in speech}
    condition_tag = {
        "clean": "clean speech",
        "car": "car noise",
        "people": "people noise",
        "low_bandwidth": "low bandwidth",
    }
    for r in reviews:
        row_tags = set(r["tags"].split(";")) - {""}
        noise_tags = row_tags & set(condition_tag.values())
        assert noise_tags <= {condition_tag[by_id[r["id"]]["noise"]]}


def test_tags_table(tags):
    names = [t["tag"] for t in tags]
    assert len(set(names)) == len(names)
    assert {"clean speech", "car noise", "people noise", "low bandwidth"} <= set(names)
    for t in tags:
        if t["hlp"]:
            assert 0.5 < float(t["hlp"]) <= 1.0
        assert float(t["effort"]) > 0
        assert t["description"]


# --------------------------------------------------------------------------- digits


def test_digits_rows_and_images(digits):
    columns, rows = digits
    for column in ("id", "label", "prediction", "confidence", "image", "ink", "stroke_width"):
        assert column in columns
    tag_columns = [c for c in columns if c.startswith("tag:")]
    assert tag_columns
    assert len({r["id"] for r in rows}) == len(rows) >= 500
    paths = {media_path(DIGITS, r["image"]) for r in rows}
    assert paths == set((DIGITS / "images").glob("*.png"))
    for r in rows:
        assert r["label"] in set("0123456789") and r["prediction"] in set("0123456789")
        assert 0.0 < float(r["confidence"]) <= 1.0
        assert all(r[c] in {"0", "1"} for c in tag_columns)
    with Image.open(next(iter(paths))) as image:
        assert image.size == (64, 64) and image.mode == "L"
    assert sum(p.stat().st_size for p in paths) < 1_000_000


def test_digits_error_rate(digits):
    _, rows = digits
    assert 0.03 <= 1 - accuracy(rows) <= 0.08


# --------------------------------------------------------------------------- second runs


def changed_rows(first: list[dict[str, str]], second: list[dict[str, str]]) -> list[int]:
    """Rows whose prediction differs; every other column must be the same."""
    assert [r["id"] for r in second] == [r["id"] for r in first]
    model = {"prediction", "confidence"}
    for a, b in zip(first, second, strict=True):
        assert {k: v for k, v in a.items() if k not in model} == {
            k: v for k, v in b.items() if k not in model
        }, a["id"]
    return [
        i
        for i, (a, b) in enumerate(zip(first, second, strict=True))
        if a["prediction"] != b["prediction"]
    ]


def test_speech_v2_is_another_model_on_the_same_clips(speech):
    columns, v2 = read_csv(SPEECH / "speech_v2.csv")
    assert columns == SPEECH_COLUMNS
    changed = changed_rows(speech, v2)
    fixed = [i for i in changed if v2[i]["prediction"] == v2[i]["label"]]
    broken = [i for i in changed if speech[i]["prediction"] == speech[i]["label"]]
    assert len(fixed) >= 10 and broken, "v2 both fixes and breaks real examples"
    for r in v2:
        assert r["prediction"] in WORDS and 0.0 < float(r["confidence"]) <= 1.0
    # The story of sample_data/README.md: telephone audio improves most, babble a little.
    before, after = by_noise(speech), by_noise(v2)
    gain = {noise: accuracy(after[noise]) - accuracy(before[noise]) for noise in NOISES}
    assert gain["low_bandwidth"] > 0.2
    assert gain["low_bandwidth"] == max(gain.values())
    assert gain["people"] > 0


def test_digits_v2_is_another_model_on_the_same_images(digits):
    columns, rows = digits
    v2_columns, v2 = read_csv(DIGITS / "digits_v2.csv")
    assert v2_columns == columns
    changed = changed_rows(rows, v2)
    assert len(changed) >= 10
    assert any(rows[i]["prediction"] == rows[i]["label"] for i in changed)
    assert accuracy(v2) > accuracy(rows)


# --------------------------------------------------------------------------- embeddings


@pytest.fixture(scope="module")
def generators():
    """The sample-data scripts, imported as modules (they import each other by name)."""
    sys.path.insert(0, str(SAMPLE_DATA))
    try:
        yield importlib.import_module("make_speech")
    finally:
        sys.path.remove(str(SAMPLE_DATA))


def load_embeddings(path: Path, rows: int) -> np.ndarray:
    matrix = np.load(path, allow_pickle=False)
    assert matrix.dtype == np.float32 and matrix.ndim == 2 and matrix.shape[0] == rows
    assert np.isfinite(matrix).all()
    assert len(np.unique(matrix, axis=0)) == rows, "two examples share a vector"
    return matrix


def test_speech_embeddings_are_the_model_features_in_row_order(speech, generators):
    matrix = load_embeddings(SPEECH / "speech_embeddings.npy", len(speech))
    assert matrix.shape[1] == 40 * 7
    for i in (0, 1, len(speech) // 2, len(speech) - 1):
        clip = generators.read_wav(media_path(SPEECH, speech[i]["audio"]))
        np.testing.assert_array_equal(matrix[i], generators.features(clip).astype(np.float32))


def test_digits_embeddings_are_the_pixels_in_row_order(digits):
    from sklearn.datasets import load_digits

    _, rows = digits
    matrix = load_embeddings(DIGITS / "digits_embeddings.npy", len(rows))
    pixels = load_digits().data[[int(r["sklearn_index"]) for r in rows]]
    np.testing.assert_array_equal(matrix, pixels.astype(np.float32))


# --------------------------------------------------------------------------- the demo


def test_the_demo_has_two_runs_and_opens_on_the_reviewed_one(tmp_path, speech, reviews):
    from erroranalysis.demo import DIGITS as DIGITS_NAME
    from erroranalysis.demo import NEXT_RUN, build_demo
    from erroranalysis.demo import SPEECH as SPEECH_NAME
    from erroranalysis.store import open_project
    from erroranalysis.vocabulary import DEFAULT_RUN

    build_demo(tmp_path / "demo.db")
    with open_project(tmp_path / "demo.db", readonly=True) as project:
        for name in (SPEECH_NAME, DIGITS_NAME):
            dataset = project.dataset(name)
            assert [r.name for r in dataset.runs()] == [NEXT_RUN, DEFAULT_RUN]
            assert dataset.run().name == DEFAULT_RUN
        store = project.dataset(SPEECH_NAME)
        errors = {run: store.run(run).n_errors for run in (DEFAULT_RUN, NEXT_RUN)}
        assert errors[DEFAULT_RUN] == sum(r["prediction"] != r["label"] for r in speech)
        assert errors[NEXT_RUN] != errors[DEFAULT_RUN]
        recorded = store.reviews()
        assert len(recorded) == len(reviews)
        assert set(recorded["run"]) == {DEFAULT_RUN}


# --------------------------------------------------------------------------- production


PRODUCTION = SAMPLE_DATA / "speech_production"
MAX_PRODUCTION_BYTES = 3_000_000


def test_speech_production_sample_has_no_labels_and_real_clips(speech):
    from erroranalysis.importing import read_dataset

    columns, rows = read_csv(PRODUCTION / "speech_production.csv")
    assert columns == [c for c in SPEECH_COLUMNS if c not in ("label", "human_label")]
    assert len({r["id"] for r in rows}) == len(rows) >= 100
    referenced = {media_path(PRODUCTION, r["audio"]) for r in rows}
    assert referenced == set((PRODUCTION / "clips").glob("*.wav"))
    for path in referenced:
        with wave.open(str(path)) as wav:
            assert (wav.getnchannels(), wav.getsampwidth(), wav.getframerate()) == (1, 2, 16_000)
            assert any(wav.readframes(wav.getnframes())[1::2]), f"{path.name} is silent"
    assert sum(p.stat().st_size for p in referenced) <= MAX_PRODUCTION_BYTES
    assert not {r["speaker"] for r in rows} & {r["speaker"] for r in speech}
    # The mix has moved toward the conditions the model is weakest on.
    dev_share = {n: len(g) / len(speech) for n, g in by_noise(speech).items()}
    prod_share = {n: len(g) / len(rows) for n, g in by_noise(rows).items()}
    assert prod_share["low_bandwidth"] > 2 * dev_share["low_bandwidth"]
    assert prod_share["car"] > 2 * dev_share["car"]
    result = read_dataset(PRODUCTION / "speech_production.csv", production=True)
    assert result.production and len(result.frame) == len(rows)


def test_the_reviewers_correct_the_labels_they_tag_mislabel(speech, reviews):
    # The demo's corrected labels (export labels) are the second listener's: a reviewer who
    # tags an example "mislabel" marks its label wrong and gives the human label.
    human = {r["id"]: (r["label"], r["human_label"]) for r in speech}
    for review in reviews:
        mislabel = "mislabel" in review["tags"].split(";")
        label, heard = human[review["id"]]
        assert review["label_wrong"] == ("yes" if mislabel else "")
        assert review["corrected_label"] == (heard if mislabel else "")
        assert not mislabel or heard != label
    assert sum(r["label_wrong"] == "yes" for r in reviews) == 5
