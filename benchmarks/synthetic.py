"""Synthetic projects for the benchmarks: a million examples of a 10-class model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

CLASSES = [f"class_{i}" for i in range(10)]


def examples(n: int = 1_000_000, *, seed: int = 0) -> pd.DataFrame:
    """``n`` predictions with id, label, prediction, confidence and 10 metadata columns
    (one of them, ``site``, with 20 values for slicing)."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, len(CLASSES), n)
    wrong = rng.random(n) < 0.12
    prediction = np.where(wrong, (label + rng.integers(1, len(CLASSES), n)) % len(CLASSES), label)
    names = np.array(CLASSES)
    return pd.DataFrame(
        {
            "id": np.char.add("ex", np.arange(n).astype(str)),
            "label": names[label],
            "prediction": names[prediction],
            "confidence": np.round(np.where(wrong, rng.beta(2, 3, n), rng.beta(5, 1.5, n)), 4),
            "snr_db": np.round(rng.normal(15, 8, n), 2),
            "duration_s": np.round(rng.gamma(2, 0.6, n), 3),
            "bandwidth_khz": rng.choice([4, 8, 16], n),
            "device": rng.choice(["phone", "laptop", "headset", "car kit"], n),
            "speaker_age": rng.integers(18, 80, n),
            "site": np.char.add("site_", rng.integers(0, 20, n).astype(str)),
            "noise": rng.choice(["clean", "car", "people", "street", "music"], n),
            "gender": rng.choice(["f", "m", "x"], n),
            "session": rng.integers(0, 5000, n),
            "loudness_db": np.round(rng.normal(-23, 5, n), 2),
        }
    )


def tag_matrix(frame: pd.DataFrame, k: int = 50, *, seed: int = 1) -> pd.DataFrame:
    """``k`` boolean tags with prevalence from 0.1% to 40%, more frequent among errors."""
    rng = np.random.default_rng(seed)
    n = len(frame)
    error = (frame["label"] != frame["prediction"]).to_numpy()
    prevalence = np.geomspace(0.001, 0.4, k)
    draws = rng.random((n, k), dtype=np.float32)
    lift = np.where(error[:, None], 2.0, 0.86).astype(np.float32)
    matrix = draws < (prevalence[None, :] * lift)
    return pd.DataFrame(matrix, columns=[f"tag {i:02d}" for i in range(k)], index=frame.index)


def write(folder: Path, n: int = 1_000_000) -> dict[str, Path]:
    """Write the synthetic set as CSV and Parquet under ``folder`` (reused if present)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"csv": folder / f"synthetic_{n}.csv", "parquet": folder / f"synthetic_{n}.parquet"}
    if not all(p.exists() for p in paths.values()):
        frame = examples(n)
        frame.to_csv(paths["csv"], index=False)
        frame.to_parquet(paths["parquet"], index=False)
    return paths
