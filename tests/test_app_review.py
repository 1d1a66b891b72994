"""The Review page: the queue, tagging, marking reviewed, undo and deep links."""

from __future__ import annotations

import json
import threading

import pytest
from app_support import DATASET, REVIEWER, add_many_tags, no_errors, open_page
from store_support import add_run

from app_pages import _ui
from app_pages.review import TAG_BUTTONS
from erroranalysis.store import open_project


@pytest.fixture
def review(app):
    return open_page(app, "review")


def current(at) -> str:
    return at.session_state["rv_current"]


def button(at, label: str):
    return next(b for b in at.button if b.label == label)


def tag_button(at, tag: str):
    return at.button(key=f"rv_tag:{tag}")


def test_smoke(review):
    no_errors(review)
    assert review.title[0].value == "Review"
    # 10 errors (every fourth of 40); s04 is reviewed, so the queue starts elsewhere.
    assert len(review.get("progress")) == 2
    assert "Reviewed errors: 1 of 10" in review.get("progress")[0].proto.text
    assert current(review).startswith("s")
    assert current(review) != "s04"


def test_example_is_shown_as_inert_text(review):
    texts = [t.value for t in review.text]
    assert any("<b>bold?</b> ![x](http://example.invalid/x.png)" in t for t in texts)
    assert len(review.get("audio")) == 1
    # The audio is sent as bytes read from inside the media root, not as a path.
    assert "/media/" in review.get("audio")[0].proto.url
    assert review.get("audio")[0].proto.url.endswith(".wav")


def test_toggle_a_tag(review, project_file):
    example = current(review)
    tag_button(review, "people noise").click().run()
    no_errors(review)
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags(example) == ["people noise"]
        assert project.dataset(DATASET).tag_events()["actor"].iloc[-1] == REVIEWER
    assert tag_button(review, "people noise").proto.type == "primary"
    tag_button(review, "people noise").click().run()
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags(example) == []


def test_new_tag_inline(review, project_file):
    example = current(review)
    review.text_input(key="rv_new_tag").input("low bandwidth")
    review.button(key="FormSubmitter:rv_new_tag_form-Add tag").click().run()
    no_errors(review)
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags(example) == ["low bandwidth"]
    assert tag_button(review, "low bandwidth").proto.type == "primary"


def test_mark_reviewed_records_the_review_and_moves_on(review, project_file):
    review.slider(key="rv_fraction").set_value(0).run()  # errors only
    example = current(review)
    review.checkbox(key=f"rv_wrong:{example}").check().run()
    review.selectbox(key=f"rv_corrected:{example}").select("up")
    review.text_area(key=f"rv_note:{example}").input("speaker far away")
    button(review, "Mark reviewed").click().run()
    no_errors(review)
    with open_project(project_file) as project:
        reviews = project.dataset(DATASET).reviews()
    mine = reviews[reviews["example_id"] == example].iloc[-1]
    assert (mine["reviewer"], mine["note"], mine["queue"]) == (
        REVIEWER,
        "speaker far away",
        "error",
    )
    assert bool(mine["label_wrong"]) and mine["corrected_label"] == "up"
    assert current(review) != example
    assert "Reviewed errors: 2 of 10" in review.get("progress")[0].proto.text


def test_undo_takes_back_the_review_and_returns_to_the_example(review, project_file):
    example = current(review)
    button(review, "Mark reviewed").click().run()
    assert current(review) != example
    button(review, "Undo").click().run()
    no_errors(review)
    assert current(review) == example
    with open_project(project_file) as project:
        assert example not in set(project.dataset(DATASET).reviews()["example_id"])


def test_undo_a_tag(review, project_file):
    example = current(review)
    tag_button(review, "car noise").click().run()
    button(review, "Undo").click().run()
    with open_project(project_file) as project:
        assert project.dataset(DATASET).example_tags(example) == []


def test_next_and_previous(review):
    first = current(review)
    button(review, "Next").click().run()
    second = current(review)
    assert second != first
    button(review, "Previous").click().run()
    assert current(review) == first


def test_shortcuts(review):
    shortcuts = {b.label: b.proto.shortcut for b in review.button if b.proto.shortcut}
    assert shortcuts["Previous"] == "left"
    assert shortcuts["Next"] == "right"
    assert shortcuts["Mark reviewed"] == "m"
    assert shortcuts["Undo"] == "u"
    assert tag_button(review, "car noise").proto.shortcut == "1"


def test_deep_link_opens_one_example(app):
    at = open_page(app, "review", dataset=DATASET, example="s07")
    no_errors(at)
    assert current(at) == "s07"  # a correct example, outside the queue: shown anyway
    assert any("not in this queue" in c.value for c in at.caption)
    assert at.query_params["example"] == "s07"


def test_deep_link_to_an_unknown_example(app):
    at = open_page(app, "review", dataset=DATASET, example="nope")
    assert any("no example with the id in the link" in e.value for e in at.error)


def test_correct_examples_opened_directly_are_not_the_random_sample(app, project_file):
    at = open_page(app, "review", dataset=DATASET, example="s07")
    button(at, "Mark reviewed").click().run()
    with open_project(project_file) as project:
        reviews = project.dataset(DATASET).reviews()
    assert reviews.loc[reviews["example_id"] == "s07", "queue"].tolist() == ["direct"]


def test_filters_narrow_the_queue(review):
    review.multiselect(key="rv_true").select("yes").run()
    no_errors(review)
    # Errors labelled "yes": s00, s12, s24, s36.
    assert "Queue: 4 errors" in " ".join(c.value for c in review.caption)
    review.checkbox(key="rv_untagged").check().run()
    review.slider(key="rv_fraction").set_value(0).run()
    captions = " ".join(c.value for c in review.caption)
    assert "0 sampled correct" in captions


def test_filter_by_metadata(review):
    review.selectbox(key="rv_meta_column").select("noise").run()
    review.multiselect(key="rv_meta_values:noise").select("car").run()
    no_errors(review)
    example = current(review)
    assert int(example[1:]) % 5 == 0


def strategy_caption(at) -> str:
    return next(c.value for c in at.caption if c.value.startswith("Strategy:"))


def test_a_session_of_an_earlier_version_keeps_its_order_as_a_strategy(project_file):
    from app_support import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at.session_state["rv_order"] = "lowest_confidence"  # the order's old name
    at = open_page(at.run(), "review")
    no_errors(at)
    assert at.radio(key="rv_order").value == "confidence"
    assert "Confidence bands" in strategy_caption(at)


def test_the_strategy_switch_draws_confidence_bands(review, project_file):
    assert review.radio(key="rv_order").value == "stratified"
    assert "Stratified" in strategy_caption(review)
    review.radio(key="rv_order").set_value("confidence").run()
    review.number_input(key="rv_size").set_value(12).run()
    # 10% of 12 is one correct example, too few for four confidence bands of them.
    assert any("every one of its 4 strata needs" in w.value for w in review.warning)
    review.slider(key="rv_fraction").set_value(50).run()
    no_errors(review)
    assert "Confidence bands" in strategy_caption(review)
    assert any("queue: error, confidence band" in m.value for m in review.markdown)
    # Opening and switching wrote nothing; the first review records the sample.
    with open_project(project_file) as project:
        assert project.dataset(DATASET).samples().empty
    first = current(review)
    button(review, "Mark reviewed").click().run()
    second = current(review)
    button(review, "Mark reviewed").click().run()
    no_errors(review)
    with open_project(project_file) as project:
        samples = project.dataset(DATASET).samples()
        reviews = project.dataset(DATASET).reviews().set_index("example_id")
        draws = project.dataset(DATASET).sample_draws(int(samples["id"].iloc[0]))
    assert samples[["strategy", "size", "seed"]].values.tolist() == [["confidence", 12, 0]]
    assert samples["design"].iloc[0]["frame"] is None
    assert reviews.loc[[first, second], "sample_id"].tolist() == [samples["id"].iloc[0]] * 2
    assert "confidence band" in reviews.loc[first, "queue"]
    assert {first, second} <= set(draws["id"])


def test_the_strategy_survives_a_visit_to_another_page(review):
    review.radio(key="rv_order").set_value("confidence").run()
    review.number_input(key="rv_size").set_value(20).run()
    open_page(review, "tags")
    open_page(review, "review")
    assert review.radio(key="rv_order").value == "confidence"
    assert review.number_input(key="rv_size").value == 20


def test_a_filtered_queue_says_its_reviews_do_not_enter_the_estimates(review, project_file):
    assert not any("A filter is on" in c.value for c in review.caption)
    review.multiselect(key="rv_true").select("yes").run()
    assert any("do not enter the estimates" in c.value for c in review.caption)
    button(review, "Mark reviewed").click().run()
    with open_project(project_file) as project:
        design = project.dataset(DATASET).samples()["design"].iloc[0]
    assert design["frame"]["true_classes"] == ["yes"]


def test_active_needs_an_estimate_first(review):
    review.radio(key="rv_order").set_value("active").run()
    no_errors(review)
    assert any("review a stratified sample first" in w.value for w in review.warning)
    assert "No interval to narrow yet" not in " ".join(c.value for c in review.caption)
    assert button(review, "Draw the next batch")


@pytest.fixture
def reviewed(project_file):
    """Half the errors and a third of the correct examples reviewed; car noise (every
    fifth example) tagged on the reviewed ones that carry it."""
    with open_project(project_file) as project:
        store = project.dataset(DATASET)
        for i in range(0, 40, 2):
            if i % 4 == 0 or i % 3 == 0:
                tags = ["car noise"] if i % 5 == 0 else []
                store.record_review(f"s{i:02d}", reviewer="setup", tags=tags, queue="error")
    return project_file


def active_queue(app):
    """The Review page with the active strategy on, batches of 8."""
    at = open_page(app, "review")
    at.radio(key="rv_order").set_value("active").run()
    return at.number_input(key="rv_size").set_value(8).run()


def test_active_batches_narrow_the_widest_interval(reviewed, app, project_file):
    at = active_queue(app)
    no_errors(at)
    caption = strategy_caption(at)
    assert "Active" in caption and "car noise" in caption
    assert "wide now, about" in caption
    first = current(at)
    button(at, "Mark reviewed").click().run()
    no_errors(at)
    with open_project(project_file) as project:
        samples = project.dataset(DATASET).samples()
        reviews = project.dataset(DATASET).reviews()
    assert samples["strategy"].tolist() == ["active"]
    assert samples["design"].iloc[0]["target"] == "car noise"
    mine = reviews[reviews["example_id"] == first].iloc[-1]
    assert (mine["queue"], mine["sample_id"]) == ("active", samples["id"].iloc[0])
    # The batch stays while it is reviewed; the next one is drawn with fresh chances.
    at.run()
    button(at, "Draw the next batch").click().run()
    button(at, "Mark reviewed").click().run()
    no_errors(at)
    with open_project(project_file) as project:
        samples = project.dataset(DATASET).samples()
    assert samples["strategy"].tolist() == ["active", "active"]
    assert samples["seed"].iloc[0] != samples["seed"].iloc[1]


def outlooks_done(at) -> None:
    """Wait for the outlooks computed in the background, then rerun the page."""
    for thread in [t for t in threading.enumerate() if t.name == "outlook"]:
        thread.join(timeout=60)
    at.run()


def test_after_a_change_the_last_outlook_is_shown_while_the_next_is_computed(
    reviewed, app, project_file, monkeypatch
):
    monkeypatch.setattr(_ui, "OUTLOOK_REFRESH_S", 3600.0)
    at = active_queue(app)
    before = strategy_caption(at)
    assert "wide now, about" in before and "latest changes" not in before
    with open_project(project_file) as project:  # another reviewer's review moves the estimates
        project.dataset(DATASET).record_review("s01", reviewer="ben", tags=["car noise"])
    at.run()
    no_errors(at)
    behind = strategy_caption(at)
    assert behind == before.replace(
        "from this queue.", "from this queue (as before the latest changes)."
    )
    outlooks_done(at)
    no_errors(at)
    after = strategy_caption(at)
    assert "wide now, about" in after and "latest changes" not in after
    assert after != before  # the review of s01 is in it now
    with open_project(project_file) as project:
        project.dataset(DATASET).record_review("s03", reviewer="ben", tags=[])
    at.run()
    outlooks_done(at)
    # At most one update per OUTLOOK_REFRESH_S: the next change waits for it.
    assert strategy_caption(at) == after.replace(
        "from this queue.", "from this queue (as before the latest changes)."
    )


def test_a_large_runs_first_outlook_is_computed_in_the_background(
    reviewed, app, project_file, monkeypatch
):
    # The test run's 40 examples stand for a large one: above the threshold the first visit
    # does not wait for the outlook (a minute at 10M examples).
    monkeypatch.setattr(_ui, "OUTLOOK_FOREGROUND_ROWS", 10)
    at = active_queue(app)
    no_errors(at)
    assert strategy_caption(at) == (
        "Strategy: **Active**. What the next reviews buy is being worked out for this large "
        "run; it shows here on a later rerun."
    )
    outlooks_done(at)
    no_errors(at)
    shown = strategy_caption(at)
    assert "wide now, about" in shown and "latest changes" not in shown


def test_without_a_name_nothing_can_be_written(project_file):
    from app_support import APP
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60).run()
    at = open_page(at, "review")
    assert any("Enter your name" in w.value for w in at.warning)
    assert button(at, "Mark reviewed").disabled
    assert tag_button(at, "car noise").disabled


def test_the_queue_survives_a_visit_to_another_page(review):
    review.slider(key="rv_fraction").set_value(30).run()
    open_page(review, "tags")
    open_page(review, "review")
    assert review.slider(key="rv_fraction").value == 30


def test_previous_goes_back_to_the_example_just_reviewed(review):
    example = current(review)
    button(review, "Mark reviewed").click().run()
    assert current(review) != example
    button(review, "Previous").click().run()
    assert current(review) == example


def test_another_reviewers_tag_shows_up(review, project_file):
    example = current(review)
    with open_project(project_file) as project:
        project.dataset(DATASET).set_tag(example, "people noise", actor="ben")
    review.run()
    assert tag_button(review, "people noise").proto.type == "primary"


def test_after_my_toggle_another_reviewers_review_and_tag_show_up(review, project_file):
    """The reviews and the taxonomy are cached apart from the tags on examples (a toggle
    reads neither again): what another session writes to them still shows on the next run."""
    example = current(review)
    tag_button(review, "people noise").click().run()
    assert "Earlier reviews of this example" not in [c.value for c in review.caption]
    with open_project(project_file) as project:
        project.dataset(DATASET).record_review(example, reviewer="ben")
        project.define_tag("wind", actor="ben")
    review.run()
    no_errors(review)
    assert current(review) == example
    assert review.dataframe[-1].value["reviewer"].tolist() == ["ben"]
    assert tag_button(review, "wind").proto.type == "secondary"
    assert tag_button(review, "people noise").proto.type == "primary"


def test_switching_dataset_after_a_deep_link(app, project_file):
    with open_project(project_file) as project:
        frame = project.dataset(DATASET).examples().iloc[20:].reset_index(drop=True)
        add_run(project, "other", frame, actor="setup")
    at = open_page(app, "review", dataset=DATASET, example="s07")
    at.sidebar.selectbox(key="dataset").select("other").run()
    no_errors(at)
    assert int(current(at)[1:]) >= 20


def test_earlier_reviews_read_as_a_table_for_people(app):
    review = open_page(app, "review", dataset=DATASET, example="s04")  # reviewed by setup
    no_errors(review)
    history = review.dataframe[-1].value
    assert history["reviewer"].tolist() == ["setup"]
    assert history["corrected_label"].tolist() == [""]  # not "None"
    assert str(history["at"].dtype).startswith("datetime64")
    assert str(history["at"].dt.tz) == "UTC"
    columns = json.loads(review.dataframe[-1].proto.columns)
    assert columns["at"]["label"] == "when (UTC)"
    assert columns["corrected_label"]["label"] == "corrected label"


# ---------------------------------------------------------------------- many tags
@pytest.fixture
def many(project_file):
    return add_many_tags(project_file, 200)


def test_many_tags_are_a_few_buttons_and_a_search(many, app, project_file):
    at = open_page(app, "review", dataset=DATASET, example="s07")
    no_errors(at)
    buttons = [
        b.key.removeprefix("rv_tag:") for b in at.button if (b.key or "").startswith("rv_tag:")
    ]
    with open_project(project_file) as project:
        carried = project.dataset(DATASET).example_tags("s07")  # many 0007, many 0047, ...
    names = sorted([*many, "car noise", "people noise"])
    first = names[:TAG_BUTTONS]
    assert buttons == [*first, *sorted(set(carried) - set(first))]
    search = at.selectbox(key="rv_more_tags:s07")
    assert search.label == f"{len(names) - len(buttons):,} more tags"
    assert set(search.options) == set(names) - set(buttons)
    # Picking one from the search box adds it; it then shows as a button that is on.
    pick = "many 0199"
    search.select(pick).run()
    no_errors(at)
    with open_project(project_file) as project:
        assert pick in project.dataset(DATASET).example_tags("s07")
    assert at.button(key=f"rv_tag:{pick}").proto.type == "primary"
    assert pick not in at.selectbox(key="rv_more_tags:s07").options
    assert at.selectbox(key="rv_more_tags:s07").value is None
