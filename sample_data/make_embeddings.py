"""Write an embedding of every demo example beside its data, as a ``.npy`` file.

Run from the repository root, after ``make_speech.py`` and ``make_digits.py``::

    python sample_data/make_embeddings.py

Needs numpy, scipy and scikit-learn (no espeak-ng: the committed clips are read).
Takes a few seconds. Each file is a float32 matrix, one row per example in the row
order of the dataset's CSV, saved with ``np.save`` (no pickled objects):

- ``speech/speech_embeddings.npy`` (400 x 280): the speech model's own input, the
  log-mel statistics ``make_speech.features`` computes from each committed clip
  (40 mel bands x five time segments, their spread and their mean absolute delta).
- ``digits/digits_embeddings.npy`` (900 x 64): the 8x8 pixel values (0-16) of each
  dev image, read from scikit-learn's bundled digits by ``sklearn_index``.
"""

from __future__ import annotations

import csv
from pathlib import Path

import make_digits as md
import make_speech as ms
import numpy as np
from sklearn.datasets import load_digits


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def speech_embeddings() -> np.ndarray:
    """The model's log-mel features of every clip of ``speech_dev.csv``, in its row order."""
    rows = read_rows(ms.OUT_DIR / "speech_dev.csv")
    return np.stack([ms.features(ms.read_wav(ms.OUT_DIR / r["audio"])) for r in rows]).astype(
        np.float32
    )


def digits_embeddings() -> np.ndarray:
    """The 64 pixel values of every image of ``digits_dev.csv``, in its row order."""
    rows = read_rows(md.OUT_DIR / "digits_dev.csv")
    data = load_digits().data
    return data[[int(r["sklearn_index"]) for r in rows]].astype(np.float32)


def main() -> None:
    for path, matrix in (
        (ms.OUT_DIR / "speech_embeddings.npy", speech_embeddings()),
        (md.OUT_DIR / "digits_embeddings.npy", digits_embeddings()),
    ):
        np.save(path, matrix, allow_pickle=False)
        print(f"{path.relative_to(Path.cwd())}: {matrix.shape[0]} x {matrix.shape[1]} float32")


if __name__ == "__main__":
    main()
