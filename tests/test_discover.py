"""Weak-slice discovery: it recovers planted slices, agrees with the sliceline package and
with an exhaustive search, counts and tests exactly, controls false discoveries by
simulation, refuses bad input, and adopts a slice as a rule tag as one logged action."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from erroranalysis import cli
from erroranalysis.discover import (
    DISCOVER_COLUMNS,
    adopt_slice,
    benjamini_hochberg,
    discover_slices,
    lattice_size,
    slice_features,
    suggested_name,
)
from erroranalysis.errors import StoreError
from erroranalysis.evidence import Evidence, load_evidence
from erroranalysis.importing import read_dataset
from erroranalysis.rules import evaluate_rule
from erroranalysis.store import open_project

# The two planted weak slices of level 2, as discovery writes them.
PLANTED = ("noise = car & device = phone", "site = north & mic = usb")


def planted_frame(n: int, *, seed: int = 0) -> pd.DataFrame:
    """Examples with two weak slices of level 2 (error rate 35% and 30% against 8%) and
    noise columns: a numeric one and a categorical one the errors do not depend on."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "noise": rng.choice(["car", "clean", "people", "street"], n),
            "device": rng.choice(["phone", "laptop", "headset"], n),
            "site": rng.choice(["north", "south", "east"], n),
            "mic": rng.choice(["usb", "builtin"], n),
            "snr_db": rng.uniform(-5, 40, n).round(1),
            "batch": rng.choice(list("abcdefgh"), n),
        }
    )
    p = np.full(n, 0.08)
    p[(frame["noise"] == "car") & (frame["device"] == "phone")] = 0.35
    p[(frame["site"] == "north") & (frame["mic"] == "usb")] = 0.30
    wrong = rng.random(n) < p
    return frame.assign(
        id=[f"e{i}" for i in range(n)],
        label="yes",
        prediction=np.where(wrong, "no", "yes"),
        correct=~wrong,
    )


@pytest.fixture(scope="module")
def planted() -> Evidence:
    return Evidence(planted_frame(100_000))


def test_both_planted_slices_rank_in_the_top_five_at_100k(planted):
    table = discover_slices(planted)
    assert list(table.columns) == DISCOVER_COLUMNS
    top = table.head(5).set_index("slice")
    assert set(PLANTED) <= set(top.index), table.head(5)["slice"].tolist()
    assert top.loc[list(PLANTED), "significant"].all()
    assert (top.loc[list(PLANTED), "level"] == 2).all()
    assert table["score"].is_monotonic_decreasing
    assert table["rank"].tolist() == list(range(1, len(table) + 1))


def test_each_slice_is_counted_and_tested_exactly(planted):
    """Sizes, errors and rates from the slice's own rule; the p-value is scipy's one-sided
    Fisher exact test of the 2x2 table slice/rest x error/correct."""
    examples = planted.examples
    errors = ~examples["correct"].to_numpy()
    table = discover_slices(planted, top=8)
    for row in table.itertuples():
        inside = evaluate_rule(row.rule, examples).to_numpy()
        assert row.examples == inside.sum()
        assert row.errors == (inside & errors).sum()
        assert row.share == inside.mean()
        assert row.error_rate == pytest.approx(errors[inside].mean(), abs=1e-15)
        assert row.error_rate_elsewhere == pytest.approx(errors[~inside].mean(), abs=1e-15)
        a, b = (inside & errors).sum(), (inside & ~errors).sum()
        c, d = (~inside & errors).sum(), (~inside & ~errors).sum()
        expected = fisher_exact([[a, b], [c, d]], alternative="greater").pvalue
        assert row.p_value == pytest.approx(expected, rel=1e-6, abs=1e-300)


def sliceline_text(column: str, value: object, features: pd.DataFrame) -> str:
    """The predicate text discovery writes for the sliceline package's (column, value)."""
    numeric = pd.api.types.is_numeric_dtype(planted_frame(10)[column].dtype)
    return str(value) if numeric else f"{column} = {value}"


def assert_agrees_with_sliceline(evidence: Evidence, *, k: int, max_level: int) -> None:
    from sliceline.slicefinder import Slicefinder

    features = slice_features(evidence)
    assert not features.isna().any().any()  # every example holds a predicate per column
    errors = (~evidence.examples["correct"]).to_numpy(dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sliceline's advice to install numba
        finder = Slicefinder(alpha=0.95, k=k, max_l=max_level, min_sup=0.01, verbose=False)
        finder.fit(features.astype(str).to_numpy(), errors)
    theirs = []
    for values, stats in zip(finder.top_slices_, finder.top_slices_statistics_, strict=True):
        text = " & ".join(
            sliceline_text(column, value, features)
            for column, value in zip(features.columns, values, strict=True)
            if value is not None
        )
        theirs.append((text, int(stats["slice_size"]), int(stats["sum_slice_error"])))
        theirs[-1] += (stats["slice_score"],)
    ours = discover_slices(evidence, top=k, max_level=max_level, distinct=False)
    assert len(theirs) == len(ours) == k
    for (text, size, wrong, score), row in zip(theirs, ours.itertuples(), strict=True):
        assert (row.slice, row.examples, row.errors) == (text, size, wrong)
        assert row.error_rate == wrong / size
        assert row.score == pytest.approx(score, rel=1e-9)


def test_top_slices_agree_with_the_sliceline_package():
    assert_agrees_with_sliceline(Evidence(planted_frame(20_000, seed=1)), k=10, max_level=3)


@pytest.mark.slow
def test_top_slices_agree_with_the_sliceline_package_at_100k(planted):
    assert_agrees_with_sliceline(planted, k=10, max_level=3)


def exhaustive_top(evidence: Evidence, *, k: int, max_level: int, alpha: float) -> list:
    """Every conjunction of predicates on distinct columns, scored without any pruning."""
    features = slice_features(evidence)
    errors = (~evidence.examples["correct"]).to_numpy()
    n, mean = len(errors), errors.mean()
    min_sup = max(1, int(0.01 * n))
    predicates = [
        (column, value)
        for column in features.columns
        for value in features[column].dropna().unique()
    ]
    scored = []
    for level in range(1, max_level + 1):
        for combo in itertools.combinations(predicates, level):
            if len({column for column, _ in combo}) < level:
                continue
            inside = np.logical_and.reduce([features[c].to_numpy() == v for c, v in combo])
            size, wrong = inside.sum(), (inside & errors).sum()
            if size < min_sup:
                continue
            score = alpha * (wrong / size / mean - 1) - (1 - alpha) * (n / size - 1)
            if score > 0:
                scored.append((round(score, 12), size, wrong))
    return sorted(scored, reverse=True)[:k]


@pytest.mark.parametrize(("seed", "alpha", "max_level"), [(0, 0.95, 3), (1, 0.7, 2), (2, 0.99, 3)])
def test_the_pruned_search_finds_the_exhaustive_top_slices(seed, alpha, max_level):
    evidence = Evidence(planted_frame(3_000, seed=seed).drop(columns=["batch"]))
    expected = exhaustive_top(evidence, k=12, max_level=max_level, alpha=alpha)
    table = discover_slices(evidence, top=12, max_level=max_level, alpha=alpha, distinct=False)
    found = [
        (round(s, 12), e, w)
        for s, e, w in zip(table.score, table.examples, table.errors, strict=True)
    ]
    assert found == expected


def test_a_slice_of_the_same_examples_as_one_above_is_left_out():
    """bandwidth is 3.4 exactly where noise is low_bandwidth: one slice, not two (nor the
    pair of them); SliceLine's own list keeps all three."""
    frame = planted_frame(6_000, seed=6)
    low = frame["noise"] == "car"
    frame = frame.assign(bandwidth=np.where(low, 3.4, 8.0))
    evidence = Evidence(frame)
    full = discover_slices(evidence, distinct=False, top=40)
    assert {"noise = car", "bandwidth = 3.4", "noise = car & bandwidth = 3.4"} <= set(full["slice"])
    table = discover_slices(evidence, top=40)
    assert "noise = car" in set(table["slice"])
    assert not table["slice"].str.contains("bandwidth = 3.4").any()
    # The same as SliceLine's longer list with every repeat of a set of examples dropped.
    seen, expected = set(), []
    for row in discover_slices(evidence, distinct=False, top=400).itertuples():
        held = evaluate_rule(row.rule, frame).to_numpy().tobytes()
        if held not in seen:
            seen.add(held)
            expected.append(row.slice)
    assert table["slice"].tolist() == expected[:40]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        # quintile cuts 19.8, 39.6, 59.4, 79.2: two significant digits, whole numbers
        (
            pd.Series(np.arange(100)),
            ["x < 20", "20 ≤ x < 40", "40 ≤ x < 59", "59 ≤ x < 79", "x ≥ 79"],
        ),
        (
            pd.Series(np.arange(100) / 10),
            ["x < 2", "2 ≤ x < 4", "4 ≤ x < 5.9", "5.9 ≤ x < 7.9", "x ≥ 7.9"],
        ),
        # cuts 1.008, 1.016, 1.024, 1.032 need four digits to stay apart
        (
            pd.Series(np.linspace(1.0, 1.04, 100)),
            [
                "x < 1.008",
                "1.008 ≤ x < 1.016",
                "1.016 ≤ x < 1.024",
                "1.024 ≤ x < 1.032",
                "x ≥ 1.032",
            ],
        ),
        # few values: one predicate per value, not bins
        (pd.Series([3.4, 8.0] * 50), ["3.4", "8.0"]),
        (pd.Series(["b", "a", None] * 40), ["a", "b"]),
        (pd.Series(pd.Categorical(["b", "a", None] * 40, categories=["a", "b", "z"])), ["a", "b"]),
    ],
    ids=["integers", "tenths", "close cuts", "two numbers", "text with missing", "categorical"],
)
def test_numeric_columns_are_cut_at_readable_edges(values, expected):
    examples = pd.DataFrame({"x": values, "correct": np.arange(len(values)) % 3 == 0})
    features = slice_features(Evidence(examples))
    assert sorted({str(v) for v in features["x"].dropna()}) == sorted(expected)


def test_a_bin_rule_holds_exactly_on_its_bin():
    rng = np.random.default_rng(5)
    snr = rng.normal(10, 8, 5_000).round(2)
    examples = pd.DataFrame({"snr_db": snr, "correct": rng.random(5_000) < 0.6 + 0.015 * snr})
    examples.loc[:49, "snr_db"] = np.nan
    table = discover_slices(Evidence(examples), max_level=1, alpha=1.0)
    features = slice_features(Evidence(examples))
    assert len(table) >= 2  # the low bins, worse than the rest
    for row in table.itertuples():
        assert (evaluate_rule(row.rule, examples) == (features["snr_db"] == row.slice)).all()


# Column names a rule must quote (spaces, keywords, a leading dunder) or cannot name at all
# (a backtick), and text values with quotes, backslashes and non-ASCII letters.
NAMES = ["noise", "snr db", "not", "class", "__x", "tag:y", "a`b"]
TEXT = st.text(alphabet="ab \"'\\é=+-@$€\u200b", min_size=0, max_size=4)


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(40, 120))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True))
    columns = {}
    for name in names:
        kind = draw(st.sampled_from(["text", "float", "int"]))
        if kind == "text":
            pool = draw(st.lists(TEXT, min_size=1, max_size=4))
            values = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
        elif kind == "float":
            number = st.floats(-1e6, 1e6) | st.just(float("nan")) | st.just(float("inf"))
            values = draw(st.lists(number, min_size=n, max_size=n))
        else:
            values = draw(st.lists(st.integers(-50, 50), min_size=n, max_size=n))
        columns[name] = values
    correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return pd.DataFrame(columns).assign(correct=correct)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frames())
def test_every_slice_reads_back_through_its_rule(examples):
    """Whatever the names and values, a slice's rule parses and holds on exactly its
    examples: the rule tag adopted from it is the slice."""
    table = discover_slices(Evidence(examples), max_level=2, min_support=0.05, alpha=1.0, top=50)
    errors = ~examples["correct"].to_numpy()
    for row in table.itertuples():
        inside = evaluate_rule(row.rule, examples).to_numpy()
        assert (inside.sum(), (inside & errors).sum()) == (row.examples, row.errors)
    assert not table["slice"].str.contains("a`b").any()


def test_tags_are_predicates_and_reviewed_tags_are_not():
    frame = planted_frame(5_000, seed=3)
    car_phone = ((frame["noise"] == "car") & (frame["device"] == "phone")).to_numpy()
    tags = pd.DataFrame({"hum": car_phone, "seen": ~frame["correct"].to_numpy()}, index=frame.index)
    examples = frame.drop(columns=["noise", "device"]).assign(**{"tag:hum": car_phone})
    evidence = Evidence(examples, tags=tags, kinds={"hum": "dataset", "seen": "reviewed"})
    table = discover_slices(evidence, max_level=1)
    assert table["slice"].iloc[0] == "tag hum"
    assert table["rule"].iloc[0] == "`tag:hum`"
    assert not table["slice"].str.contains("seen").any()
    assert (evaluate_rule(table["rule"].iloc[0], examples).to_numpy() == car_phone).all()
    rule_tag = Evidence(
        frame,
        tags=tags[["hum"]],
        kinds={"hum": "rule"},
        definitions=pd.DataFrame(
            {
                "description": [""],
                "hlp": [np.nan],
                "effort": [np.nan],
                "rule": ['noise == "car" and device == "phone"'],
            },
            index=pd.Index(["hum"], name="tag"),
        ),
    )
    table = discover_slices(rule_tag, columns=["hum", "site"], max_level=1)
    assert table["rule"].iloc[0] == '(noise == "car" and device == "phone")'


@pytest.mark.parametrize(
    ("counts", "max_level", "expected"),
    [
        ([2, 3], 1, 5),
        ([2, 3], 2, 11),
        ([4, 3, 5], 3, 12 + 47 + 60),
        ([4, 3, 5], 4, 119),
        ([], 3, 0),
    ],
)
def test_the_hypotheses_counted_are_the_whole_lattice(counts, max_level, expected):
    assert lattice_size(counts, max_level) == expected


@pytest.mark.parametrize("hypotheses", [6, 10, 1000])
def test_benjamini_hochberg_matches_statsmodels(hypotheses):
    p = np.array([0.001, 0.04, 0.03, 0.2, 0.0005, 0.04])
    padded = np.concatenate([p, np.ones(hypotheses - len(p))])
    expected = multipletests(padded, method="fdr_bh")[1][: len(p)]
    np.testing.assert_allclose(benjamini_hochberg(p, hypotheses=hypotheses), expected)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"max_level": 0}, "max_level must be an integer from 1 to 4, got 0"),
        ({"max_level": 5}, "max_level must be an integer from 1 to 4, got 5"),
        ({"max_level": 2.0}, "max_level must be an integer from 1 to 4"),
        ({"min_support": 0}, "min_support must be a fraction above 0 and below 1, got 0"),
        ({"min_support": 1.5}, "min_support must be a fraction above 0 and below 1"),
        ({"min_support": "1%"}, "min_support must be a fraction above 0 and below 1"),
        ({"top": 0}, "top must be a positive integer"),
        ({"alpha": 1.2}, "alpha must be above 0 and at most 1"),
        ({"bins": 1}, "bins must be an integer of at least 2"),
        ({"fdr": 0}, "fdr must be between 0 and 1"),
        ({"columns": "noise"}, "columns must be a list of column or tag names"),
        ({"columns": ["noise", "noise"]}, "columns names a column twice"),
        ({"columns": ["weather"]}, "'weather' is neither a column of the examples nor a tag"),
        ({"columns": ["correct"]}, "column 'correct' cannot define a slice"),
        ({"columns": ["when"]}, "column 'when' holds dates"),
    ],
)
def test_bad_options_are_refused_by_name(options, message):
    frame = planted_frame(200).assign(when=pd.Timestamp("2024-01-01"))
    with pytest.raises(ValueError, match=message):
        discover_slices(Evidence(frame), **options)


@pytest.mark.parametrize("correct", [[True] * 6, []], ids=["no errors", "no examples"])
def test_no_errors_means_no_weak_slice(correct):
    examples = pd.DataFrame({"noise": ["car", "clean"] * 3, "correct": [True] * 6})
    examples = examples.iloc[: len(correct)]
    table = discover_slices(Evidence(examples))
    assert table.empty and list(table.columns) == DISCOVER_COLUMNS


# --------------------------------------------------------------------------- false discoveries


def null_runs(repetitions: int, *, n: int = 2_000, seed: int = 11) -> tuple[float, float]:
    """On data whose errors do not depend on any column: the share of runs with any
    significant slice (a false discovery, as every slice is null), and with any slice whose
    uncorrected p-value is below 0.05."""
    rng = np.random.default_rng(seed)
    any_significant = any_raw = 0
    for _ in range(repetitions):
        examples = pd.DataFrame(
            {
                "a": rng.choice(["a0", "a1"], n),
                "b": rng.choice(["b0", "b1", "b2"], n),
                "c": rng.choice(["c0", "c1", "c2", "c3"], n, p=[0.4, 0.3, 0.2, 0.1]),
                "x": rng.normal(size=n),
                "correct": rng.random(n) >= 0.15,
            }
        )
        table = discover_slices(Evidence(examples), max_level=2, top=20)
        any_significant += bool(table["significant"].any())
        any_raw += bool((table["p_value"] < 0.05).any())
    return any_significant / repetitions, any_raw / repetitions


def test_no_planted_slice_few_false_discoveries():
    significant, raw = null_runs(150)
    # Every discovery is false here, so the FDR is the chance of any: at most 5%, plus
    # three standard errors of 150 runs. Uncorrected, about half the runs would report one.
    assert significant <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 150)
    assert raw >= 0.3


@pytest.mark.slow
def test_false_discovery_rate_by_simulation():
    significant, raw = null_runs(1_000, seed=12)
    assert significant <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 1_000)
    assert raw >= 0.3


# --------------------------------------------------------------------------- adoption


@pytest.fixture
def project_file(tmp_path):
    frame = planted_frame(4_000, seed=4).drop(columns="correct")
    csv = tmp_path / "dev.csv"
    frame.to_csv(csv, index=False)
    db = tmp_path / "project.db"
    with open_project(db) as project:
        project.dataset("dev", create=True).import_result(read_dataset(csv), actor="setup")
        project.define_tag("taken", actor="setup", description="already here")
    return db


def test_adopting_a_slice_makes_a_rule_tag_with_its_condition(project_file):
    with open_project(project_file) as project:
        evidence = load_evidence(project, "dev")
        row = discover_slices(evidence).iloc[0]
        before = len(project.dataset("dev").actions(limit=1000))
        name = adopt_slice(
            project,
            rule=row["rule"],
            name=suggested_name(row),
            actor="ana",
            examples=evidence.examples,
        )
        after = project.dataset("dev").actions(limit=1000)
        definitions = project.tag_definitions().set_index("tag")
        adopted = load_evidence(project, "dev")
    assert name == row["slice"]
    assert definitions.loc[name, "rule"] == row["rule"]
    assert len(after) == before + 1 and after.iloc[0]["kind"] == "define_tag"
    assert adopted.kinds[name] == "rule"
    assert adopted.tags[name].sum() == row["examples"]


@pytest.mark.parametrize(
    ("name", "rule", "error", "message"),
    [
        ("taken", 'noise == "car"', StoreError, "a tag named 'taken' exists already"),
        ("new", "noise ==", ValueError, "is not a valid rule"),
        ("new", 'weather == "rain"', ValueError, "unknown column 'weather'"),
        ("", 'noise == "car"', StoreError, "tag name is empty"),
    ],
)
def test_a_bad_adoption_changes_nothing(project_file, name, rule, error, message):
    with open_project(project_file) as project:
        revision = project.revision()
        examples = project.dataset("dev").examples()
        with pytest.raises(error, match=message):
            adopt_slice(project, rule=rule, name=name, actor="ana", examples=examples)
        assert project.revision() == revision
        assert list(project.tag_definitions()["tag"]) == ["taken"]


# --------------------------------------------------------------------------- command line


def test_cli_discovers_and_adopts(project_file, tmp_path, capsys):
    out = tmp_path / "slices.csv"
    code = cli.main(
        ["discover", "--db", str(project_file), "--dataset", "dev", "--top", "5", "--out", str(out)]
    )
    assert code == 0
    table = pd.read_csv(out)
    assert list(table.columns) == DISCOVER_COLUMNS and len(table) == 5
    code = cli.main(
        [
            "discover",
            "--db",
            str(project_file),
            "--dataset",
            "dev",
            "--adopt",
            "2",
            "--name",
            "weak 2",
        ]
    )
    assert code == 0
    assert "weak 2" in capsys.readouterr().out
    with open_project(project_file, readonly=True) as project:
        rule = project.tag_definitions().set_index("tag").loc["weak 2", "rule"]
    assert rule == table.loc[1, "rule"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--max-level", "5"], "--max-level: max_level must be an integer from 1 to 4, got 5"),
        (["--max-level", "0"], "--max-level: max_level must be an integer from 1 to 4, got 0"),
        (["--min-support", "1.5"], "--min-support: min_support must be a fraction above 0"),
        (["--min-support", "0"], "--min-support: min_support must be a fraction above 0"),
        (["--alpha", "0"], "--alpha: alpha must be above 0 and at most 1"),
        (["--top", "0"], "--top: top must be a positive integer"),
        (["--adopt", "99"], "--adopt 99: there are only"),
        (["--adopt", "1", "--name", "taken"], "a tag named 'taken' exists already"),
        (["--name", "x"], "--name goes with --adopt"),
    ],
)
def test_cli_refuses_bad_arguments_and_changes_nothing(project_file, capsys, arguments, message):
    with open_project(project_file, readonly=True) as project:
        revision = project.revision()
    code = cli.main(
        ["discover", "--db", str(project_file), "--dataset", "dev", "--top", "3", *arguments]
    )
    assert code == 1
    assert message in capsys.readouterr().err
    with open_project(project_file, readonly=True) as project:
        assert project.revision() == revision
