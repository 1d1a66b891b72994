"""Shared by the sampling and active-simulation tests: a planted single-label run."""

from __future__ import annotations

import numpy as np
import pandas as pd


def run_frame(
    ids: list[str],
    correct: np.ndarray,
    confidence: np.ndarray,
    noise: np.ndarray,
    snr_db: np.ndarray,
    *,
    label: str,
    wrong: str,
) -> pd.DataFrame:
    """The run's examples (id, label, prediction, correct, confidence, noise, snr_db): every
    example labelled ``label``, predicted ``label`` where ``correct`` and ``wrong`` elsewhere."""
    return pd.DataFrame(
        {
            "id": ids,
            "label": label,
            "prediction": np.where(correct, label, wrong),
            "correct": correct,
            "confidence": confidence,
            "noise": noise,
            "snr_db": snr_db,
        }
    )
