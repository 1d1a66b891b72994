"""The Tags page's Agreement panel: kappa per tag and per reviewer, the threshold, the flag,
and downloads of both tables."""

from __future__ import annotations

import pandas as pd
import pytest
from app_support import (
    APP,
    REVIEWER,
    build_project,
    downloads,
    no_errors,
    open_page,
    project_file_of,
    record_downloads,
    rows_of_csv,
)
from streamlit.testing.v1 import AppTest

from erroranalysis.store import open_project
from erroranalysis.vocabulary import NOTE_AGREEMENT_NO_OTHERS, NOTE_AGREEMENT_NO_PAIRS

# On s10-s17 (a sheet they filled in) ana and ben agree on car noise but for s13 (kappa
# 0.75); people noise they give to different examples (kappa -1/7).
ANA = {"car noise": ["s10", "s11", "s12", "s13"], "people noise": ["s14"]}
BEN = {"car noise": ["s10", "s11", "s12"], "people noise": ["s15"]}


def build_reviewed(folder):
    db = build_project(folder)
    ids = [f"s{i}" for i in range(10, 18)]
    tags = [
        [tag for tag, on in given.items() if example in on]
        for given in (ANA, BEN)
        for example in ids
    ]
    with open_project(db) as project:
        project.dataset("speech").record_reviews(
            pd.DataFrame({"id": ids * 2, "reviewer": ["ana"] * 8 + ["ben"] * 8}),
            tags=tags,
            exact=True,
        )
    return db


project_file = project_file_of(build_reviewed)


def table(at, name: str) -> pd.DataFrame:
    """The table whose downloads are keyed ``name``: the frame shown above them."""
    keys = [b.key for b in at.get("download_button") if b.key.endswith(":csv")]
    return at.dataframe[keys.index(f"{name}:csv")].value


@pytest.fixture
def tags(app):
    return open_page(app, "tags")


def test_the_panel_shows_kappa_per_tag_and_flags_the_inconsistent_ones(tags):
    no_errors(tags)
    shown = table(tags, "agreement").set_index("tag")
    assert shown.loc["car noise", ["examples", "reviewers", "method"]].tolist() == [8, 2, "cohen"]
    assert shown.at["car noise", "kappa"] == pytest.approx(0.75)
    assert shown.at["car noise", "observed_agreement"] == pytest.approx(7 / 8)
    assert shown.at["people noise", "kappa"] == pytest.approx(-1 / 7)
    assert shown["flagged"].tolist() == [False, True]
    [warning] = [w.value for w in tags.warning if "inconsistently" in w.value]
    assert "people noise" in warning and "car noise" not in warning


def test_the_threshold_is_the_teams_to_set(tags):
    tags.number_input(key="tg_agreement_threshold").set_value(0.8).run()
    no_errors(tags)
    assert table(tags, "agreement")["flagged"].tolist() == [True, True]
    assert table(tags, "reviewer-agreement")["flagged"].tolist() == [True, True, False]
    tags.number_input(key="tg_agreement_threshold").set_value(-1.0).run()
    assert not table(tags, "agreement")["flagged"].any()
    assert not any("inconsistently" in w.value for w in tags.warning)


def test_the_per_reviewer_table(tags):
    shown = table(tags, "reviewer-agreement").set_index("reviewer")
    assert shown.index.tolist() == ["ana", "ben", "setup"]  # setup reviewed s04 alone
    # 16 pairs (8 examples x 2 tags), 13 alike; ana gives a tag 5 times, ben 4.
    chance = (5 / 16) * (4 / 16) + (11 / 16) * (12 / 16)
    for name in ("ana", "ben"):
        assert shown.loc[name, ["examples", "others"]].tolist() == [8, 1]
        assert shown.at[name, "observed_agreement"] == pytest.approx(13 / 16)
        assert shown.at[name, "kappa"] == pytest.approx((13 / 16 - chance) / (1 - chance))
    assert shown.loc["setup", ["examples", "others"]].tolist() == [0, 0]
    assert shown.at["setup", "note"] == NOTE_AGREEMENT_NO_OTHERS
    assert shown["flagged"].tolist() == [True, True, False]


def test_both_tables_download_as_the_command_line_writes_them(project_file, monkeypatch, app):
    made = record_downloads(monkeypatch)
    at = open_page(app, "tags")
    files = downloads(at, made)
    name, text = files["agreement:csv"]
    assert name == "speech-main-agreement.csv"
    header, *rows = rows_of_csv(text)
    assert header[:8] == ["tag", "examples", "reviewers", "method", "observed_agreement",
                          "kappa", "kappa_low", "kappa_high"]  # fmt: skip
    assert [row[0] for row in rows] == ["car noise", "people noise"]
    assert rows[0][5] == "0.75"
    assert rows_of_csv(files["reviewer-agreement:csv"][1])[0][0] == "reviewer"
    assert set(downloads(at, made, format="xlsx")) >= {"agreement:xlsx", "reviewer-agreement:xlsx"}


def test_a_dataset_nobody_reviewed_twice_says_why_there_is_no_kappa(tmp_path, monkeypatch):
    monkeypatch.setenv("ERRORANALYSIS_DB", str(build_project(tmp_path)))
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["reviewer"] = REVIEWER
    at = open_page(at.run(), "tags")
    no_errors(at)
    shown = table(at, "agreement")
    assert shown["tag"].tolist() == ["car noise"]
    assert shown["note"].tolist() == [NOTE_AGREEMENT_NO_PAIRS]
    assert pd.isna(shown["kappa"]).all() and not shown["flagged"].any()
