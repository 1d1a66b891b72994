"""Build the handwritten-digits demo dataset in ``sample_data/digits/``.

Run from the repository root::

    python sample_data/make_digits.py

Uses scikit-learn's bundled digits data (``sklearn.datasets.load_digits``: 1,797
8x8 images, nothing is downloaded), numpy and Pillow. Takes a few seconds.

What it does:

1. Splits the images into a dev set of 900 and a deliberately small training
   set of 400 (the remaining 497 are left unused).
2. Trains a logistic regression on the training set and predicts the dev set,
   giving real predictions, confidences and a few percent of real errors.
3. Writes each dev image as a 64x64 grayscale PNG (nearest-neighbour upscaled,
   dark ink on white) and ``digits_dev.csv`` with simple image measurements and
   two dataset tags (``tag:faint``, ``tag:slanted``).
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

SEED = 7
N_DEV = 900
N_TRAIN = 400
SCALE = 8  # 8x8 -> 64x64
MAX_VALUE = 16  # pixel values in load_digits run 0..16
OUT_DIR = Path(__file__).resolve().parent / "digits"

FAINT_QUANTILE = 0.10  # the 10% of images with the least ink are tagged faint
SLANT_DEGREES = 10.0  # |slant| above this is tagged slanted


def split(n_images: int, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified dev set and a small training set."""
    rest, dev = train_test_split(
        np.arange(n_images), test_size=N_DEV, stratify=labels, random_state=SEED
    )
    train = np.random.default_rng(SEED).choice(rest, size=N_TRAIN, replace=False)
    return np.sort(train), np.sort(dev)


def train_model(x: np.ndarray, y: np.ndarray):
    """A deliberately modest classifier: strongly regularised logistic regression."""
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
    return model.fit(x, y)


def ink(image: np.ndarray) -> float:
    """Mean intensity, 0 (blank) to 1 (solid)."""
    return float(image.mean() / MAX_VALUE)


def stroke_width(image: np.ndarray) -> float:
    """Rough pen width in pixels of the original 32x32 scan.

    Each 8x8 cell counts the inked pixels of a 4x4 block; a stroke of width w
    crossing a block covers about 4*w of them, so the mean count of inked cells
    divided by 4 estimates w.
    """
    inked = image[image > 0]
    return float(inked.mean() / 4) if inked.size else 0.0


def slant(image: np.ndarray) -> float:
    """Slant in degrees from second-order image moments; positive leans right."""
    rows, cols = np.indices(image.shape)
    mass = image.sum()
    r0, c0 = (rows * image).sum() / mass, (cols * image).sum() / mass
    mu11 = ((rows - r0) * (cols - c0) * image).sum()
    mu02 = ((rows - r0) ** 2 * image).sum()
    return float(np.degrees(np.arctan(-mu11 / mu02)))  # rows grow downwards


def save_png(image: np.ndarray, path: Path) -> None:
    """Dark ink on white, upscaled with nearest neighbour."""
    pixels = (255 - np.round(image * 255 / MAX_VALUE)).astype(np.uint8)
    big = np.kron(pixels, np.ones((SCALE, SCALE), dtype=np.uint8))
    Image.fromarray(big, mode="L").save(path, optimize=True)


def main() -> None:
    digits = load_digits()
    images, x, y = digits.images, digits.data, digits.target
    train, dev = split(len(y), y)

    model = train_model(x[train], y[train])
    proba = model.predict_proba(x[dev])
    predictions = model.classes_[proba.argmax(axis=1)]

    image_dir = OUT_DIR / "images"
    if image_dir.exists():
        shutil.rmtree(image_dir)
    image_dir.mkdir(parents=True)

    inks = np.array([ink(images[i]) for i in dev])
    faint_below = np.quantile(inks, FAINT_QUANTILE)
    rows = []
    for n, (i, pred, p) in enumerate(zip(dev, predictions, proba, strict=True), start=1):
        item_id = f"d{n:04d}"
        save_png(images[i], image_dir / f"{item_id}.png")
        tilt = slant(images[i])
        rows.append(
            {
                "id": item_id,
                "label": int(y[i]),
                "prediction": int(pred),
                "confidence": f"{p.max():.3f}",
                "image": f"images/{item_id}.png",
                "sklearn_index": int(i),
                "ink": f"{inks[n - 1]:.3f}",
                "stroke_width": f"{stroke_width(images[i]):.2f}",
                "slant_deg": f"{tilt:.1f}",
                "tag:faint": int(inks[n - 1] < faint_below),
                "tag:slanted": int(abs(tilt) > SLANT_DEGREES),
            }
        )

    with (OUT_DIR / "digits_dev.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    errors = int(np.sum(predictions != y[dev]))
    print(f"dev images: {len(dev)}, errors: {errors} ({errors / len(dev):.1%})")
    for tag in ("tag:faint", "tag:slanted"):
        tagged = [r for r in rows if r[tag]]
        wrong = sum(r["label"] != r["prediction"] for r in tagged)
        print(f"{tag}: {len(tagged)} images, error rate {wrong / len(tagged):.1%}")


if __name__ == "__main__":
    main()
