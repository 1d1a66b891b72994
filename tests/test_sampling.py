"""Samples for review: every strategy records the inclusion probabilities it draws with
(checked by simulation over many seeds), reaches every stratum, and repeats itself for the
same seed; bad input gets a clear error."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from estimate_support import run_frame

from erroranalysis.evidence import Evidence
from erroranalysis.review import ReviewFilters
from erroranalysis.sampling import (
    DRAW_COLUMNS,
    Draw,
    active_probabilities,
    band_stratum,
    draw_sample,
    outlook,
    tag_chances,
    tag_features,
    target_tag,
)
from erroranalysis.store import open_project
from erroranalysis.vocabulary import STRATEGIES, STRATUM_ACTIVE, STRATUM_CORRECT, STRATUM_ERROR

TAG = "car noise"


def planted(n: int = 240, *, seed: int = 0, reviewed: int = 80) -> Evidence:
    """n examples: car noise on most examples with noise "car" (a fifth of them), which
    the model gets wrong half the time; low confidence where it errs. ``reviewed``
    examples (a stratified start: errors first, then correct ones) carry their tags."""
    rng = np.random.default_rng(seed)
    noise = np.where(np.arange(n) % 5 == 0, "car", "clean")
    correct = rng.random(n) < np.where(noise == "car", 0.5, 0.9)
    confidence = np.clip(np.where(correct, 0.75, 0.45) + rng.normal(0, 0.15, n), 0, 1)
    tagged = ((noise == "car") & (rng.random(n) < 0.9)) | (rng.random(n) < 0.03)
    frame = run_frame(
        [f"x{i:04d}" for i in range(n)],
        correct,
        confidence,
        noise,
        rng.normal(20, 5, n),
        label="a",
        wrong="b",
    )
    order = np.argsort(correct, kind="stable")  # errors first
    seen = np.zeros(n, dtype=bool)
    seen[order[: reviewed // 2]] = True
    seen[rng.choice(np.flatnonzero(correct), reviewed // 2, replace=False)] = True
    return car_noise_evidence(frame, tagged, seen)


def car_noise_evidence(frame: pd.DataFrame, tagged: np.ndarray, seen: np.ndarray) -> Evidence:
    """Run "main" with the reviewed tag car noise (HLP 0.95) on ``tagged``, seen where
    ``seen``."""
    return Evidence(
        frame,
        tags=pd.DataFrame({TAG: tagged}, index=frame.index),
        kinds={TAG: "reviewed"},
        reviewed=pd.Series(seen, index=frame.index),
        hlp={TAG: 0.95},
        run="main",
    )


@pytest.fixture(scope="module")
def evidence() -> Evidence:
    return planted()


OPTIONS = {
    "stratified": {"size": 60, "correct_fraction": 0.3},
    "confidence": {"size": 60, "correct_fraction": 0.4, "bands": 3},
    "active": {"size": 30, "tag": TAG},  # the target named: no priority table per draw
}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_draw_is_a_well_formed_sample(evidence, strategy):
    draw = draw_sample(evidence, strategy=strategy, seed=1, **OPTIONS[strategy])
    assert isinstance(draw, Draw)
    assert (draw.run, draw.strategy, draw.seed) == ("main", strategy, 1)
    drawn = draw.examples
    assert list(drawn.columns) == list(DRAW_COLUMNS)
    assert drawn["id"].is_unique and drawn["id"].isin(evidence.examples["id"]).all()
    assert all(isinstance(i, str) for i in drawn["id"])
    assert ((drawn["probability"] > 0) & (drawn["probability"] <= 1)).all()
    assert drawn["order"].tolist() == list(range(len(drawn)))
    json.dumps(draw.design, allow_nan=False)  # the design is recorded as JSON
    assert draw.design["frame"] is None
    assert sum(s["drawn"] for s in draw.design["strata"]) == len(drawn)
    if strategy != "active":
        assert len(drawn) == draw.size
    # The positions kept beside the ids point at the same examples.
    assert (evidence.examples["id"].to_numpy()[draw.positions] == drawn["id"].to_numpy()).all()


def test_stratified_draws_every_error_and_a_share_of_correct(evidence):
    errors = int((~evidence.examples["correct"]).sum())
    correct = len(evidence.examples) - errors
    size = errors + 20
    draw = draw_sample(evidence, size=size, seed=0, correct_fraction=0.2)
    strata = {s["name"]: (s["size"], s["drawn"]) for s in draw.design["strata"]}
    assert strata == {STRATUM_ERROR: (errors, errors), STRATUM_CORRECT: (correct, 20)}
    probability = draw.examples.groupby("stratum")["probability"].unique()
    assert probability[STRATUM_ERROR].tolist() == [1.0]
    assert probability[STRATUM_CORRECT].tolist() == [20 / correct]


@pytest.mark.parametrize(
    ("size", "fraction", "errors", "correct"),
    [
        (10, 0.1, 9, 1),  # floor(10 × 0.1) correct, errors for the rest
        (10, 0.0, 10, 0),
        (10, 0.55, 5, 5),
        (200, 0.1, 65, 135),  # more than the 65 errors: correct ones fill the rest
    ],
)
def test_stratified_allocation(size, fraction, errors, correct):
    frame = pd.DataFrame(
        {
            "id": [str(i) for i in range(300)],
            "correct": np.arange(300) >= 65,
        }
    )
    draw = draw_sample(Evidence(frame), size=size, seed=0, correct_fraction=fraction)
    drawn = {s["name"]: s["drawn"] for s in draw.design["strata"]}
    assert drawn == {STRATUM_ERROR: errors, STRATUM_CORRECT: correct}


def test_stratified_samples_are_nested(evidence):
    small = draw_sample(evidence, size=70, seed=5, correct_fraction=0.5)
    large = draw_sample(evidence, size=120, seed=5, correct_fraction=0.5)
    assert set(small.examples["id"]) < set(large.examples["id"])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_same_seed_draws_the_same_sample(evidence, strategy):
    a = draw_sample(evidence, strategy=strategy, seed=11, **OPTIONS[strategy])
    b = draw_sample(evidence, strategy=strategy, seed=11, **OPTIONS[strategy])
    c = draw_sample(evidence, strategy=strategy, seed=12, **OPTIONS[strategy])
    pd.testing.assert_frame_equal(a.examples, b.examples)
    assert a.design == b.design
    assert a.examples["id"].tolist() != c.examples["id"].tolist()


def inclusion_frequencies(evidence, strategy, repetitions):
    """How often each example was drawn over ``repetitions`` seeds, and the probability
    recorded for it (the same in every draw that holds it)."""
    n = len(evidence.examples)
    ids = pd.Index(evidence.examples["id"])
    counts = np.zeros(n)
    recorded = np.full(n, np.nan)
    for seed in range(repetitions):
        draw = draw_sample(evidence, strategy=strategy, seed=seed, **OPTIONS[strategy])
        where = ids.get_indexer(draw.examples["id"])
        counts[where] += 1
        probability = draw.examples["probability"].to_numpy()
        known = ~np.isnan(recorded[where])
        np.testing.assert_allclose(recorded[where][known], probability[known], rtol=1e-12)
        recorded[where] = probability
    return counts / repetitions, recorded


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_inclusion_frequencies_match_the_recorded_probabilities(evidence, strategy):
    repetitions = 200 if strategy == "active" else 400  # an active draw fits a model
    frequency, recorded = inclusion_frequencies(evidence, strategy, repetitions)
    drawn = ~np.isnan(recorded)
    # Every example with a recorded probability is drawn about that often (4.5 standard
    # errors over 240 examples: a false alarm about once in 600 runs of the suite).
    p = recorded[drawn]
    tolerance = 4.5 * np.sqrt(p * (1 - p) / repetitions) + 1 / repetitions
    worst = np.max(np.abs(frequency[drawn] - p) - tolerance)
    assert worst <= 0, f"an inclusion frequency is {worst:.4f} beyond its tolerance"
    if strategy == "active":
        # Only examples with a small chance stay undrawn in 200 tries.
        assert drawn.mean() > 0.9
    else:
        assert drawn.all() or strategy == "stratified"


@pytest.mark.slow
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_inclusion_frequencies_match_over_many_seeds(evidence, strategy):
    repetitions = 3000
    frequency, recorded = inclusion_frequencies(evidence, strategy, repetitions)
    drawn = ~np.isnan(recorded)
    p = recorded[drawn]
    tolerance = 4.5 * np.sqrt(p * (1 - p) / repetitions) + 1 / repetitions
    assert (np.abs(frequency[drawn] - p) <= tolerance).all()
    assert drawn.all()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_weighted_totals_are_unbiased(evidence, strategy):
    # The Horvitz-Thompson total of the tag, Σ t_i / π_i over the drawn examples, averages
    # to the true count of tagged examples over many draws.
    tagged = evidence.tags[TAG].to_numpy()
    ids = pd.Index(evidence.examples["id"])
    totals = []
    for seed in range(200):
        draw = draw_sample(evidence, strategy=strategy, seed=seed, **OPTIONS[strategy])
        where = ids.get_indexer(draw.examples["id"])
        totals.append((tagged[where] / draw.examples["probability"].to_numpy()).sum())
    totals = np.array(totals)
    error = totals.std(ddof=1) / np.sqrt(len(totals))
    assert abs(totals.mean() - tagged.sum()) < 4 * error


def test_confidence_bands_reach_every_stratum_and_favour_low_confidence(evidence):
    draw = draw_sample(evidence, size=60, strategy="confidence", seed=0, correct_fraction=0.4)
    design = draw.design
    edges = design["bands"]["edges"]
    assert len(edges) == 5 and edges == sorted(edges)
    confidence = evidence.examples["confidence"]
    assert edges[0] == confidence.min() and edges[-1] == confidence.max()
    strata = {s["name"]: s for s in design["strata"]}
    # Every stratum of correctness × band that holds an example gets at least one draw.
    band = np.searchsorted(edges[1:-1], confidence.to_numpy(), side="right") + 1
    cells = {band_stratum(c, b, 4) for c, b in zip(evidence.examples["correct"], band, strict=True)}
    assert set(strata) == cells and len(cells) >= 7
    assert all(s["drawn"] >= 1 for s in strata.values())
    assert set(draw.examples["stratum"]) == set(strata)
    for correct in (False, True):
        names = [band_stratum(correct, b, 4) for b in range(1, 5)]
        density = [strata[n]["drawn"] / strata[n]["size"] for n in names if n in strata]
        assert density[0] > density[-1], density
    assert sum(s["drawn"] for s in strata.values()) == 60
    assert sum(s["drawn"] for n, s in strata.items() if n.startswith("correct")) == 24


def test_confidence_band_of_each_draw_is_its_confidence(evidence):
    draw = draw_sample(evidence, size=60, strategy="confidence", seed=3, bands=2)
    edges = draw.design["bands"]["edges"]
    frame = evidence.examples.set_index("id").loc[draw.examples["id"]]
    low = draw.examples["stratum"].str.endswith("band 1 of 2").to_numpy()
    assert (frame["confidence"].to_numpy()[low] <= edges[1]).all()
    assert (frame["confidence"].to_numpy()[~low] >= edges[1]).all()
    errors = draw.examples["stratum"].str.startswith(STRATUM_ERROR).to_numpy()
    assert (~frame["correct"].to_numpy()[errors]).all()


def test_equal_confidence_makes_one_band():
    frame = pd.DataFrame(
        {"id": [str(i) for i in range(20)], "correct": np.arange(20) % 2 == 0, "confidence": 0.5}
    )
    draw = draw_sample(Evidence(frame), size=6, strategy="confidence", correct_fraction=0.5)
    assert [s["name"] for s in draw.design["strata"]] == [
        band_stratum(False, 1, 1),
        band_stratum(True, 1, 1),
    ]


def test_active_batches_aim_at_the_widest_interval(evidence):
    assert target_tag(evidence) == TAG
    draw = draw_sample(evidence, size=30, strategy="active", seed=0)
    design = draw.design
    assert design["target"] == TAG
    assert design["model"]["kind"] == "logistic regression"
    assert design["model"]["features"] == ["noise", "snr_db", "confidence", "correct"]
    assert design["strata"] == [
        {"name": STRATUM_ACTIVE, "size": len(evidence.examples), "drawn": len(draw.examples)}
    ]
    assert design["expected_size"] == pytest.approx(30)
    # The model finds the tag where the metadata says: car noise examples score higher.
    chances, _ = tag_chances(evidence, TAG)
    car = (evidence.examples["noise"] == "car").to_numpy()
    assert chances[car].mean() > 0.6 > 0.2 > chances[~car].mean()


def test_active_probabilities_are_defensive_and_sum_to_the_size():
    rng = np.random.default_rng(0)
    chances = np.concatenate([np.full(990, 0.001), rng.uniform(0.3, 0.7, 10)])
    correct = np.arange(1000) % 3 > 0
    probability, scale = active_probabilities(chances, correct, 50, defensive=0.2)
    assert probability.sum() == pytest.approx(50)
    assert (probability <= 1).all()
    # Every example keeps at least its defensive share: ε × size / N.
    assert probability.min() >= 0.2 * 50 / 1000 - 1e-12
    assert probability[990:].min() > 10 * probability[:990].max()
    # A batch as large as the frame draws everything.
    assert (active_probabilities(chances, correct, 1000, defensive=0.2)[0] == 1).all()


def test_a_certain_example_leaves_the_rest_to_share():
    chances = np.array([0.5, 0.001, 0.001, 0.001, 0.001])
    probability, _ = active_probabilities(chances, np.zeros(5, dtype=bool), 2, defensive=0.1)
    assert probability[0] == 1.0
    assert probability.sum() == pytest.approx(2)


def test_one_kind_of_review_gives_a_constant_chance(evidence):
    frame = evidence.examples
    nobody = Evidence(
        frame,
        tags=pd.DataFrame({TAG: np.zeros(len(frame), dtype=bool)}, index=frame.index),
        kinds={TAG: "reviewed"},
        reviewed=evidence.reviewed,
    )
    chances, model = tag_chances(nobody, TAG)
    assert model["kind"] == "constant"
    assert np.unique(chances).tolist() == [pytest.approx(0.5 / 81)]


@pytest.mark.parametrize(
    "dtype", ["str", "category", pd.ArrowDtype(pa.string())], ids=["str", "category", "arrow"]
)
def test_a_text_feature_gives_the_same_chances_however_it_is_stored(evidence, dtype):
    # 25 sites: the model reads the 20 most frequent, the rest and the missing ones as none.
    rng = np.random.default_rng(3)
    sites = np.array([f"site {i:02d}" for i in range(25)], dtype=object)
    sites = sites[rng.integers(0, 25, len(evidence.examples))]
    sites[::7] = None
    tagged, seen = evidence.tags[TAG].to_numpy(), evidence.reviewed.to_numpy()

    def chances_with(column: pd.Series) -> tuple[np.ndarray, dict]:
        frame = evidence.examples.assign(site=column.set_axis(evidence.examples.index))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # pandas 4 refuses values outside a Categorical's
            return tag_chances(car_noise_evidence(frame, tagged, seen), TAG)

    expected, model = chances_with(pd.Series(sites, dtype=object))
    chances, _ = chances_with(pd.Series(sites, dtype=object).astype(dtype))
    assert "site" in model["features"]
    np.testing.assert_array_equal(chances, expected)


def test_features_made_once_give_what_each_fit_makes_itself(evidence):
    features = tag_features(evidence)
    assert features.examples == len(evidence.examples)
    assert features.columns[-2:] == ("confidence", "correct")
    chances, model = tag_chances(evidence, TAG)
    again, recorded = tag_chances(evidence, TAG, features=features)
    np.testing.assert_array_equal(again, chances)
    assert recorded == model
    draw = draw_sample(evidence, size=30, strategy="active", seed=4)
    same = draw_sample(evidence, size=30, strategy="active", seed=4, features=features)
    pd.testing.assert_frame_equal(same.examples, draw.examples)
    assert same.design == draw.design
    assert outlook(evidence, draw) == outlook(evidence, draw, features=features)
    noise = tag_features(evidence, columns=["noise"])
    assert noise.columns == ("noise", "confidence", "correct")
    assert (
        tag_chances(evidence, TAG, features=noise)[1]
        == tag_chances(evidence, TAG, columns=["noise"])[1]
    )


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: tag_features(e, columns=["weather"]), "unknown column 'weather' for the tag"),
        (lambda e: tag_features(e.examples), "evidence must be an Evidence, got DataFrame"),
        (
            lambda e: tag_chances(e, TAG, columns=["noise"], features=tag_features(e)),
            "pass columns or features, not both",
        ),
        (
            lambda e: tag_chances(e, TAG, features=tag_features(planted(100))),
            "the features are of 100 examples; the evidence has 240",
        ),
    ],
)
def test_features_that_do_not_fit_are_refused(evidence, call, message):
    with pytest.raises(ValueError, match=message):
        call(evidence)


def test_a_filtered_draw_records_its_frame(evidence):
    filters = ReviewFilters(metadata_column="noise", metadata_values=("car",))
    for strategy in ("stratified", "active"):
        size = 20 if strategy == "stratified" else 10
        draw = draw_sample(evidence, size=size, strategy=strategy, filters=filters)
        assert draw.design["frame"]["metadata_values"] == ["car"]
        assert draw.design["frame_size"] == 48
        drawn = evidence.examples.set_index("id").loc[draw.examples["id"], "noise"]
        assert (drawn == "car").all()


def test_the_outlook_narrows_the_interval(evidence):
    draw = draw_sample(evidence, size=30, strategy="active", seed=0)
    seen = outlook(evidence, draw)
    drawn = evidence.examples["id"].isin(draw.examples["id"]).to_numpy()
    waiting = int((drawn & ~evidence.reviewed.to_numpy()).sum())
    assert 0 < waiting < len(draw.examples)  # some drawn examples were reviewed already
    assert seen.tag == TAG and seen.reviews == waiting
    assert 0 < seen.expected_width < seen.width
    fewer = outlook(evidence, draw, reviews=5)
    assert seen.expected_width < fewer.expected_width < seen.width
    # A draw reviewed in full buys nothing more.
    done = Evidence(
        evidence.examples,
        tags=evidence.tags,
        kinds=evidence.kinds,
        reviewed=evidence.reviewed | pd.Series(drawn, index=evidence.examples.index),
        hlp=evidence.hlp,
    )
    finished = outlook(done, draw)
    assert finished.reviews == 0 and finished.expected_width == finished.width


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "lowest_confidence"}, "strategy must be one of stratified, confidence"),
        ({"size": 0}, "size must be at least 1, got 0"),
        ({"size": -3}, "size must be at least 1"),
        ({"size": True}, "size must be a whole number, got True"),
        ({"size": 2.5}, "size must be a whole number"),
        ({"size": 241}, "size 241 is more than the 240 examples of the run"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"correct_fraction": 1.0}, r"correct_fraction must be in \[0, 1\)"),
        ({"correct_fraction": "half"}, "correct_fraction must be a number"),
        ({"strategy": "confidence", "bands": 0}, "bands must be a whole number of at least 1"),
        (
            {"strategy": "confidence", "size": 10, "correct_fraction": 0.2},
            "a sample of 2 correct examples is too small for confidence sampling",
        ),
        ({"strategy": "active", "defensive": 0}, r"defensive must be a number in \(0, 1\]"),
        ({"strategy": "active", "tag": "nope"}, "unknown tag 'nope'"),
        (
            {
                "filters": ReviewFilters(metadata_column="noise", metadata_values=("car",)),
                "size": 49,
            },
            "size 49 is more than the 48 examples of the filtered queue",
        ),
    ],
)
def test_bad_options_say_what_is_wrong(evidence, options, message):
    with pytest.raises(ValueError, match=message):
        draw_sample(evidence, **{"size": 20, **options})


def frame_of(correct: list[bool], **columns) -> Evidence:
    frame = pd.DataFrame({"id": [str(i) for i in range(len(correct))], "correct": correct})
    return Evidence(frame.assign(**columns))


@pytest.mark.parametrize(
    ("evidence", "options", "message"),
    [
        (frame_of([True] * 5), {}, "the run has no errors"),
        (frame_of([False] * 5), {"correct_fraction": 0.2}, "no correct examples to draw 20%"),
        (frame_of([False, True] * 3), {"strategy": "confidence"}, "no confidence column"),
        (
            frame_of([False, True] * 3, confidence=[0.1, np.nan, 0.3, 0.4, 0.5, 0.6]),
            {"strategy": "confidence"},
            "1 examples of the run have no confidence",
        ),
        (frame_of([False, True] * 3), {"strategy": "active"}, "active sampling has no target"),
    ],
)
def test_a_run_without_what_the_strategy_needs(evidence, options, message):
    with pytest.raises(ValueError, match=message):
        draw_sample(evidence, **{"size": 2, **options})


def test_errors_only_need_no_correct_examples():
    draw = draw_sample(frame_of([False] * 5), size=3, correct_fraction=0)
    assert draw.examples["stratum"].tolist() == [STRATUM_ERROR] * 3


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_the_store_records_every_strategy(project_file, strategy):
    with open_project(project_file) as project:
        store = project.dataset("speech")
        frame = store.examples()
        correct = frame["correct"].to_numpy()
        tagged = (frame["noise"] == "car").to_numpy()
        seen = np.zeros(len(frame), dtype=bool)
        seen[::2] = True
        evidence = car_noise_evidence(frame, tagged, seen)
        assert (~correct).sum() == 10
        draw = draw_sample(evidence, size=20, strategy=strategy, correct_fraction=0.5, bands=2)
        sample = store.record_sample(draw, actor="ana")
        stored = store.sample_draws(sample)
        assert stored["id"].tolist() == draw.examples["id"].tolist()
        assert stored["stratum"].tolist() == draw.examples["stratum"].tolist()
        assert stored["probability"].tolist() == draw.examples["probability"].tolist()
        assert store.samples()["design"].iloc[-1] == json.loads(json.dumps(draw.design))
