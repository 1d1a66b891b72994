"""The review queue: filters, the correct sample, order, progress, stepping, the cursor, and
the sample recorded with the first review made from a queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erroranalysis.evidence import Evidence
from erroranalysis.review import (
    CORRECT_SAMPLE,
    DIRECT,
    ERROR,
    QUEUE_COLUMNS,
    Cursor,
    ReviewFilters,
    correct_sample_size,
    filter_mask,
    queue_draw,
    queue_from_draw,
    queue_index,
    queue_label,
    queue_mix,
    queue_strategy,
    record_queue_sample,
    review_cursor,
    review_progress,
    review_queue,
    step,
)
from erroranalysis.sampling import Draw, draw_sample
from erroranalysis.store import open_project


def examples(n: int = 100, *, error_every: int = 5) -> pd.DataFrame:
    """n examples, every ``error_every``-th one an error; two classes, a noise column."""
    ids = [f"e{i:04d}" for i in range(n)]
    labels = ["yes" if i % 2 else "no" for i in range(n)]
    correct = [i % error_every != 0 for i in range(n)]
    predictions = [
        lab if ok else ("no" if lab == "yes" else "yes")
        for lab, ok in zip(labels, correct, strict=True)
    ]
    return pd.DataFrame(
        {
            "id": ids,
            "label": labels,
            "prediction": predictions,
            "correct": correct,
            "confidence": np.linspace(0.0, 1.0, n),
            "noise": ["car" if i % 3 == 0 else "clean" for i in range(n)],
            "snr_db": np.arange(n, dtype=float),
            "tag:clipped": [i % 10 == 0 for i in range(n)],
        }
    )


@pytest.fixture
def frame() -> pd.DataFrame:
    return examples()


def test_queue_holds_every_error_and_a_sample_of_correct(frame):
    queue = review_queue(frame, correct_fraction=0.2, seed=1)
    errors = queue[queue["queue"] == ERROR]
    sample = queue[queue["queue"] == CORRECT_SAMPLE]
    assert set(errors["id"]) == set(frame.loc[~frame["correct"], "id"])
    # 20 errors; correct examples are 20% of the queue: 20 * 0.2 / 0.8 = 5.
    assert len(sample) == 5
    assert frame.set_index("id").loc[sample["id"], "correct"].all()
    assert queue_mix(queue) == {ERROR: 20, CORRECT_SAMPLE: 5}
    assert list(queue.columns) == list(QUEUE_COLUMNS)
    assert (frame["id"].to_numpy()[queue["position"]] == queue["id"].to_numpy()).all()
    # Errors are drawn in full, the correct sample 5 of 80.
    assert set(errors["probability"]) == {1.0}
    assert set(sample["probability"]) == {5 / 80}
    assert (queue["correct"] == (queue["queue"] == CORRECT_SAMPLE)).all()


@pytest.mark.parametrize(
    ("n_errors", "n_correct", "fraction", "expected"),
    [
        (100, 900, 0.0, 0),
        (100, 900, 0.1, 11),
        (100, 900, 0.5, 100),
        (100, 50, 0.5, 50),
        (0, 900, 0.3, 0),
        (100, 900, 0.9, 900),
    ],
)
def test_correct_sample_size(n_errors, n_correct, fraction, expected):
    assert correct_sample_size(n_errors, n_correct, fraction) == expected


@pytest.mark.parametrize("fraction", [-0.1, 0.95, 1.0])
def test_correct_fraction_out_of_range(fraction):
    with pytest.raises(ValueError, match="correct_fraction must be in"):
        correct_sample_size(10, 10, fraction)


def test_same_seed_same_queue_other_seed_other_sample(frame):
    a = review_queue(frame, correct_fraction=0.3, seed=7)
    b = review_queue(frame, correct_fraction=0.3, seed=7)
    c = review_queue(frame, correct_fraction=0.3, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["id"]) != set(c["id"])


def test_a_larger_fraction_keeps_the_smaller_sample():
    frame = examples(2000)
    small = review_queue(frame, correct_fraction=0.1, seed=3)
    large = review_queue(frame, correct_fraction=0.4, seed=3)
    small_sample = set(small.loc[small["queue"] == CORRECT_SAMPLE, "id"])
    large_sample = set(large.loc[large["queue"] == CORRECT_SAMPLE, "id"])
    assert small_sample < large_sample


def test_sample_is_uniform_over_correct_examples():
    # Over many seeds every correct example is drawn about equally often.
    frame = examples(200)
    counts = pd.Series(0, index=frame.loc[frame["correct"], "id"])
    for seed in range(2000):
        queue = review_queue(frame, correct_fraction=0.2, seed=seed)
        counts[queue.loc[queue["queue"] == CORRECT_SAMPLE, "id"]] += 1
    expected = 2000 * correct_sample_size(40, 160, 0.2) / 160
    assert counts.between(expected * 0.6, expected * 1.4).all()


def test_reviewed_examples_leave_the_queue_but_keep_the_sample(frame):
    full = review_queue(frame, correct_fraction=0.2, seed=1, include_reviewed=True)
    reviewed = list(full["id"][:5])
    rest = review_queue(frame, correct_fraction=0.2, seed=1, reviewed_ids=reviewed)
    assert list(rest["id"]) == [i for i in full["id"] if i not in reviewed]


def test_random_order_mixes_errors_and_correct():
    frame = examples(400)
    queue = review_queue(frame, correct_fraction=0.5, seed=2)
    first_half = queue["queue"][: len(queue) // 2]
    assert 0 < (first_half == CORRECT_SAMPLE).sum() < len(first_half)


def test_the_old_orders_name_strategies():
    assert queue_strategy("random") == "stratified"
    assert queue_strategy("lowest_confidence") == "confidence"
    assert queue_strategy("active") == "active"
    with pytest.raises(ValueError, match="strategy must be one of stratified, confidence, active"):
        queue_strategy("newest")


def test_review_queue_draws_stratified_queues_only(frame):
    with pytest.raises(ValueError, match="strategy must be one of"):
        review_queue(frame, order="newest")
    with pytest.raises(ValueError, match="draw a confidence one with sampling.draw_sample"):
        review_queue(frame, order="lowest_confidence")


def test_a_queue_from_a_confidence_draw_keeps_its_order_and_strata(frame):
    draw = draw_sample(Evidence(frame), size=30, strategy="confidence", seed=4, bands=2)
    queue = queue_from_draw(draw, frame)
    assert queue["id"].tolist() == draw.examples["id"].tolist()
    assert queue["queue"].tolist() == draw.examples["stratum"].tolist()
    assert queue["probability"].tolist() == draw.examples["probability"].tolist()
    assert (frame["id"].to_numpy()[queue["position"]] == queue["id"].to_numpy()).all()
    # A draw read back from the store has no positions: the ids are looked up instead.
    stored = type(draw)(draw.run, draw.strategy, draw.seed, draw.size, draw.examples, draw.design)
    pd.testing.assert_frame_equal(queue_from_draw(stored, frame), queue)
    # Errors come first in none of the strata: the order interleaves them at random.
    first = queue["queue"].iloc[:10]
    assert first.nunique() > 1
    rest = queue_from_draw(draw, frame, reviewed_ids=list(queue["id"][:3]), include_reviewed=False)
    assert rest["id"].tolist() == queue["id"].tolist()[3:]


@pytest.mark.parametrize(
    ("strategy", "size", "expected"),
    [("stratified", 3, 22), ("stratified", 0, 22), ("confidence", 30, 30), ("confidence", 5, 5)],
)
def test_queue_draw_sizes_a_stratified_draw_from_its_fraction(frame, strategy, size, expected):
    draw = queue_draw(Evidence(frame), strategy=strategy, size=size, seed=4, correct_fraction=0.1)
    assert (draw.strategy, len(draw.examples)) == (strategy, expected)
    if strategy == "stratified":
        queue = review_queue(frame, correct_fraction=0.1, seed=4, include_reviewed=True)
        assert draw.examples["id"].tolist() == queue["id"].tolist()


def test_queue_draw_is_none_when_no_error_passes_the_filters(frame):
    filters = ReviewFilters(metadata_column="snr_db", metadata_range=(1, 4))
    assert queue_draw(Evidence(frame), filters=filters) is None
    with pytest.raises(ValueError, match="the filtered queue has no errors"):
        queue_draw(Evidence(frame), strategy="confidence", size=4, filters=filters)


def test_a_draw_of_another_run_is_refused(frame):
    draw = draw_sample(Evidence(frame), size=10, seed=0)
    with pytest.raises(ValueError, match="which the run does not hold"):
        queue_from_draw(draw, frame.iloc[50:].reset_index(drop=True))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (ReviewFilters(), 100),
        (ReviewFilters(true_classes=("yes",)), 50),
        (ReviewFilters(predicted_classes=("yes",)), 50),
        (ReviewFilters(true_classes=("yes",), predicted_classes=("no",)), 10),
        (ReviewFilters(confidence=(0.0, 0.5)), 50),
        (ReviewFilters(metadata_column="noise", metadata_values=("car",)), 34),
        (ReviewFilters(metadata_column="snr_db", metadata_range=(10, 19)), 10),
        (ReviewFilters(tags=("clipped",)), 10),
        (ReviewFilters(tags=("car noise",)), 2),
        (ReviewFilters(tags=("car noise", "clipped")), 11),
        (ReviewFilters(untagged=True), 89),
    ],
)
def test_filters(frame, filters, expected):
    reviewed_tags = pd.DataFrame({"example_id": ["e0001", "e0010"], "tag": ["car noise"] * 2})
    mask = filter_mask(frame, filters, tags_by_example=reviewed_tags)
    assert mask.sum() == expected


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        (ReviewFilters(metadata_column="colour"), "unknown metadata column 'colour'"),
        (ReviewFilters(metadata_values=("car",)), "needs a metadata column"),
        (ReviewFilters(confidence=(0.8, 0.2)), "confidence range is empty"),
    ],
)
def test_bad_filters_say_what_is_wrong(frame, filters, message):
    with pytest.raises(ValueError, match=message):
        review_queue(frame, filters=filters)


def test_filters_apply_to_both_strata(frame):
    filters = ReviewFilters(true_classes=("yes",))
    queue = review_queue(frame, correct_fraction=0.5, seed=0, filters=filters)
    assert (frame["label"].to_numpy()[queue["position"]] == "yes").all()
    assert queue_mix(queue)[CORRECT_SAMPLE] > 0


def test_progress(frame):
    queue = review_queue(frame, correct_fraction=0.2, seed=1, include_reviewed=True)
    errors = list(queue.loc[queue["queue"] == ERROR, "id"][:3])
    sampled = list(queue.loc[queue["queue"] == CORRECT_SAMPLE, "id"][:2])
    outside = frame.loc[frame["correct"] & ~frame["id"].isin(queue["id"]), "id"].iloc[0]
    progress = review_progress(frame, queue, [*errors, *sampled, outside, "unknown id"])
    assert (progress.errors_reviewed, progress.errors_total) == (3, 20)
    assert (progress.correct_reviewed, progress.correct_sampled) == (2, 5)
    assert progress.errors_done == pytest.approx(3 / 20)
    assert progress.correct_done == pytest.approx(2 / 5)


def test_progress_of_an_empty_queue():
    frame = examples(8, error_every=100)  # one error: e0000
    queue = review_queue(frame.iloc[1:], correct_fraction=0.0, seed=0, include_reviewed=True)
    progress = review_progress(frame.iloc[1:], queue, [])
    assert (progress.errors_done, progress.correct_done) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("current", "direction", "skip", "expected"),
    [
        (-1, 1, (), 0),
        (0, 1, (), 1),
        (0, 1, ("b", "c"), 3),
        (3, 1, (), None),
        (3, -1, (), 2),
        (3, -1, ("c", "b"), 0),
        (0, -1, (), None),
        (-1, -1, (), None),
        (4, -1, (), 3),
        (1, 1, ("c", "d"), None),
    ],
)
def test_step(current, direction, skip, expected):
    queue = pd.DataFrame({"position": [0, 1, 2, 3], "id": list("abcd"), "queue": [ERROR] * 4})
    assert step(queue, current, direction=direction, skip_ids=skip) == expected


def _step_scanning_all(queue, current, *, direction, skip_ids):
    """What step gives, read off the whole queue at once."""
    ids = queue["id"].to_numpy(dtype=object)
    order = (
        range(max(current + 1, 0), len(ids))
        if direction == 1
        else range(min(current, len(ids)) - 1, -1, -1)
    )
    return next((i for i in order if ids[i] not in set(skip_ids)), None)


@settings(deadline=None, max_examples=60)
@given(
    n=st.integers(0, 300),
    reviewed=st.sets(st.integers(0, 299)),
    current=st.integers(-1, 300),
    direction=st.sampled_from([1, -1]),
    as_list=st.booleans(),
)
def test_step_equals_a_scan_of_the_whole_queue(n, reviewed, current, direction, as_list):
    # Long runs of reviewed examples, past the places step looks at one by one.
    queue = pd.DataFrame({"position": range(n), "id": [f"e{i}" for i in range(n)]})
    skip = [f"e{i}" for i in sorted(reviewed)]
    current = min(current, n)
    expected = _step_scanning_all(queue, current, direction=direction, skip_ids=skip)
    skip_ids = skip if as_list else frozenset(skip)
    assert step(queue, current, direction=direction, skip_ids=skip_ids) == expected


@pytest.mark.parametrize("ids", [None, pd.Index(["x", "y"], dtype=object)])
def test_queue_index(ids):
    queue = pd.DataFrame({"position": [5, 7], "id": ["x", "y"], "queue": [ERROR] * 2})
    assert queue_index(queue, "y", ids=ids) == 1
    assert queue_index(queue, "z", ids=ids) is None


def test_queue_index_with_repeated_ids_finds_the_first():
    queue = pd.DataFrame({"position": [5, 7, 9], "id": ["x", "y", "x"], "queue": [ERROR] * 3})
    assert queue_index(queue, "x", ids=pd.Index(queue["id"], dtype=object)) == 0


# An example opened outside the queue was not drawn, error or not: it is "direct".
@pytest.mark.parametrize(
    ("example_id", "expected"), [("a", CORRECT_SAMPLE), ("b", ERROR), ("z", DIRECT)]
)
def test_queue_label(example_id, expected):
    queue = pd.DataFrame({"position": [0, 1], "id": ["a", "b"], "queue": [CORRECT_SAMPLE, ERROR]})
    ids = pd.Index(queue["id"], dtype=object)
    assert queue_label(queue, example_id) == expected
    assert queue_label(queue, example_id, ids=ids) == expected


# The queue is a b c d; the run also holds x, outside the queue.
@pytest.mark.parametrize(
    ("current", "pinned", "skip", "expected"),
    [
        # first visit: the first example not skipped
        (None, None, (), Cursor("a", 0, None, "b")),
        (None, None, ("a", "b"), Cursor("c", 2, "b", "d")),
        # everything skipped: the first of all, and nothing is next
        (None, None, tuple("abcd"), Cursor("a", 0, None, None)),
        # an example in the queue stays; Next skips, Previous does not
        ("b", None, (), Cursor("b", 1, "a", "c")),
        ("b", None, ("a", "c"), Cursor("b", 1, "a", "d")),
        # the current example is reviewed: it stays, Next still moves on
        ("b", None, ("b",), Cursor("b", 1, "a", "c")),
        # the ends of the queue
        ("a", None, (), Cursor("a", 0, None, "b")),
        ("d", None, (), Cursor("d", 3, "c", None)),
        ("c", None, ("d",), Cursor("c", 2, "b", None)),
        # pinned outside the queue (a link, an id, an undo): kept, Next from the start
        ("x", "x", (), Cursor("x", None, None, "a")),
        ("x", "x", ("a",), Cursor("x", None, None, "b")),
        # outside the queue and not pinned (the filters changed): back to the first
        ("x", None, ("a",), Cursor("b", 1, "a", "c")),
        ("x", "b", (), Cursor("a", 0, None, "b")),
        # left over from another dataset, even when pinned there
        ("gone", "gone", (), Cursor("a", 0, None, "b")),
    ],
)
def test_review_cursor(current, pinned, skip, expected):
    queue = pd.DataFrame({"position": [0, 1, 2, 3], "id": list("abcd"), "queue": [ERROR] * 4})
    run_ids = pd.Index([*"abcd", "x"], dtype=object)
    for ids in (None, pd.Index(queue["id"], dtype=object)):
        cursor = review_cursor(
            queue, current, pinned=pinned, run_ids=run_ids, skip_ids=frozenset(skip), ids=ids
        )
        assert cursor == expected


@pytest.mark.parametrize("current", [None, "x"])
def test_review_cursor_on_an_empty_queue(current):
    queue = pd.DataFrame({"position": [], "id": [], "queue": []})
    assert review_cursor(queue, current) == Cursor(None, None, None, None)


@settings(max_examples=50, deadline=None)
@given(
    correct=st.lists(st.booleans(), min_size=1, max_size=60),
    fraction=st.floats(0, 0.9),
    seed=st.integers(0, 2**32 - 1),
)
def test_queue_invariants(correct, fraction, seed):
    frame = pd.DataFrame(
        {
            "id": [str(i) for i in range(len(correct))],
            "label": "a",
            "prediction": ["a" if c else "b" for c in correct],
            "correct": correct,
        }
    )
    queue = review_queue(frame, correct_fraction=fraction, seed=seed)
    assert queue["id"].is_unique
    assert queue_mix(queue)[ERROR] == correct.count(False)
    expected = correct_sample_size(correct.count(False), correct.count(True), fraction)
    assert queue_mix(queue)[CORRECT_SAMPLE] == expected


def test_the_queue_records_its_sample_once(project_file):
    # The first review from a queue records the queue's sample; the same run, strategy,
    # seed, filters and size find it again, whoever draws it; anything else is another.
    with open_project(project_file) as project:
        store = project.dataset("speech")
        frame = store.examples()
        evidence = Evidence(frame, run="main")
        first = draw_sample(evidence, size=15, seed=3)
        again = draw_sample(evidence, size=15, seed=3)
        filtered = draw_sample(
            evidence, size=15, seed=3, filters=ReviewFilters(true_classes=("yes", "no", "up"))
        )
        assert store.samples().empty
        sample = record_queue_sample(store, first, actor="ana")
        assert record_queue_sample(store, again, actor="ben") == sample
        assert record_queue_sample(store, filtered, actor="ana") != sample
        assert record_queue_sample(
            store, draw_sample(evidence, size=15, seed=4), actor="ana"
        ) not in (sample,)
        # The same settings that frame other examples (a tag filter after the tags
        # changed) are another sample.
        other = Draw(
            first.run,
            first.strategy,
            first.seed,
            first.size,
            first.examples.assign(id=list(reversed(frame["id"]))[:15]),
            first.design,
        )
        assert record_queue_sample(store, other, actor="ana") not in (sample,)
        samples = store.samples()
        assert len(samples) == 4
        assert samples["design"].iloc[1]["frame"]["true_classes"] == ["yes", "no", "up"]
        draws = store.sample_draws(sample)
        assert draws["id"].tolist() == first.examples["id"].tolist()
        assert draws["probability"].tolist() == first.examples["probability"].tolist()
