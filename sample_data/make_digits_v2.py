"""Build the second model run, ``v2``, of the handwritten-digits dev set.

Run from the repository root, after ``make_digits.py``::

    python sample_data/make_digits_v2.py

Same dev set and the same small training set as ``make_digits.py``; the model is an
RBF support vector machine instead of the logistic regression, with probabilities
calibrated by isotonic regression on five cross-validation folds of the training set.
Writes ``sample_data/digits/digits_v2.csv``: the rows and columns of
``digits_dev.csv`` with v2's ``prediction`` and ``confidence``. Takes a second.
"""

from __future__ import annotations

import csv

import make_digits as md
import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.datasets import load_digits
from sklearn.svm import SVC


def train_model(x: np.ndarray, y: np.ndarray):
    """An RBF SVC on raw pixels; its scores calibrated into probabilities."""
    return CalibratedClassifierCV(SVC(), method="isotonic", ensemble=False).fit(x, y)


def main() -> None:
    digits = load_digits()
    x, y = digits.data, digits.target
    train, dev = md.split(len(y), y)
    with (md.OUT_DIR / "digits_dev.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    if [int(r["sklearn_index"]) for r in rows] != dev.tolist():
        raise SystemExit("digits_dev.csv does not hold the dev images make_digits.py splits")

    model = train_model(x[train], y[train])
    proba = model.predict_proba(x[dev])
    predictions = model.classes_[proba.argmax(axis=1)]
    out = [
        {**r, "prediction": int(pred), "confidence": f"{p.max():.3f}"}
        for r, pred, p in zip(rows, predictions, proba, strict=True)
    ]
    with (md.OUT_DIR / "digits_v2.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(out[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)

    v1_wrong = np.array([r["prediction"] != r["label"] for r in rows])
    v2_wrong = predictions != y[dev]
    print(f"dev images: {len(dev)}, errors: v1 {v1_wrong.sum()}, v2 {v2_wrong.sum()}")
    print(f"fixed by v2: {(v1_wrong & ~v2_wrong).sum()}, broken: {(~v1_wrong & v2_wrong).sum()}")
    for tag in ("tag:faint", "tag:slanted"):
        tagged = np.array([r[tag] == "1" for r in rows])
        print(
            f"{tag}: {tagged.sum()} images, error rate v1 {v1_wrong[tagged].mean():.1%}, "
            f"v2 {v2_wrong[tagged].mean():.1%}"
        )


if __name__ == "__main__":
    main()
