"""Build a production sample for the speech-command demo in ``sample_data/speech_production/``.

Run from the repository root, after ``make_speech.py`` has built the dev set::

    python sample_data/make_speech_prod.py

Needs ``espeak-ng``, numpy, scipy and scikit-learn, like ``make_speech.py``; takes a
few minutes on one core. The dev set's files are read, never written.

The story: the v1 model went live, and the app is now used more in cars and over
phone lines than the dev set foresaw. What the team gets back from production is
what the model saw and said, without labels:

1. 120 commands said by 20 new speakers (espeak voices neither the training nor the
   dev set uses), recorded with ``make_speech.record`` under the same four
   conditions, SNR ranges and microphones, in a different mix (``PROD_SHARES``).
2. The v1 model is trained again exactly as ``make_speech.py`` trains it and predicts
   them: ``speech_production.csv`` has the dev set's columns without ``label`` and
   ``human_label``; the clips are in ``clips/`` beside it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import make_speech as ms
import numpy as np

PROD_SEED = ms.SEED + 4
N_PROD = 120
N_PROD_SPEAKERS = 20
# The dev set's mix is clean 60%, car 8%, people 25%, telephone 7%.
PROD_SHARES = {"clean": 0.45, "car": 0.20, "people": 0.15, "low_bandwidth": 0.20}
OUT_DIR = Path(__file__).resolve().parent / "speech_production"


def production_speakers(used: set[str], rng: np.random.Generator) -> list[ms.Speaker]:
    """New talkers: accent + voice variant pairs no training or dev speaker has."""
    pairs = [f"{a}+{v}" for a in ms.ACCENTS for v in ms.VARIANTS if f"{a}+{v}" not in used]
    chosen = rng.choice(len(pairs), size=N_PROD_SPEAKERS, replace=False)
    return [
        ms.Speaker(
            name=f"prd{i + 1:03d}",
            voice=pairs[k],
            speed=int(rng.integers(130, 196)),
            pitch=int(rng.integers(25, 76)),
        )
        for i, k in enumerate(chosen)
    ]


def main() -> None:
    ms.require_espeak()
    train, dev, babble_pool = ms.design(np.random.default_rng(ms.SEED))
    rng = np.random.default_rng(PROD_SEED)
    speakers = production_speakers({c.speaker.voice for c in train + dev}, rng)
    prod = ms.plan_clips("p", N_PROD, PROD_SHARES, speakers, rng)

    clip_dir = OUT_DIR / "clips"
    clip_dir.mkdir(parents=True, exist_ok=True)
    for old in clip_dir.glob("*.wav"):
        old.unlink()
    print(f"rendering {len(prod)} production clips ...")
    ms.render(prod, clip_dir, babble_pool, PROD_SEED)
    with tempfile.TemporaryDirectory() as tmp:
        print(f"rendering {len(train)} v1 training clips in a temporary folder ...")
        ms.render(train, Path(tmp), babble_pool, ms.SEED + 2)
        x_train = ms.feature_matrix(train, Path(tmp))
    print("training v1 again ...")
    model = ms.train_model(x_train, [c.label for c in train])
    proba = model.predict_proba(ms.feature_matrix(prod, clip_dir))
    predictions = model.classes_[proba.argmax(axis=1)]

    rows = [  # the dev set's columns, but the labels: production has none
        {
            "id": c.id,
            "prediction": str(p),
            "confidence": f"{conf:.3f}",
            **ms.clip_columns(c),
        }
        for c, p, conf in zip(prod, predictions, proba.max(axis=1), strict=True)
    ]
    ms.write_csv(OUT_DIR / "speech_production.csv", rows)
    size = sum(p.stat().st_size for p in clip_dir.glob("*.wav"))
    counts = {n: sum(c.noise == n for c in prod) for n in ms.CONDITIONS}
    print(f"{len(prod)} clips ({size / 1e6:.1f} MB): {counts}")


if __name__ == "__main__":
    main()
