"""Every analysis in the registry held to the same rules, as scikit-learn's test_common.py
holds its estimators: it rejects each bad input with a precise ValueError, never modifies
its evidence, and returns what it documents, for a full run and for an empty one."""

from __future__ import annotations

import copy
import dataclasses
import inspect

import numpy as np
import pandas as pd
import pytest

from erroranalysis import analyses
from erroranalysis.analyses import ANALYSES
from erroranalysis.clusters import CLUSTER_COLUMNS, POINT_COLUMNS, ErrorClusters
from erroranalysis.compare import COMPARE_COLUMNS
from erroranalysis.discover import DISCOVER_COLUMNS
from erroranalysis.drift import DRIFT_BY_COLUMNS, DRIFT_COLUMNS
from erroranalysis.evidence import Evidence
from erroranalysis.priorities import COLUMNS, ERROR_SHARE_COLUMNS, EXCLUSIVE_COLUMNS
from erroranalysis.slices import BASELINE_COLUMNS, SLICE_COLUMNS
from erroranalysis.summary import CLASS_BALANCE_COLUMNS, SUMMARY_KEYS, TAG_OVERVIEW_COLUMNS

# The analyses that read label and prediction, not only correct.
READS_LABELS = {"slice_table", "confusion", "baselines", "metric_warnings", "dataset_summary"}

# Per analysis: the options it is called with here (each set once), and the options it
# must refuse, with the message that says why.
OPTIONS = {
    "priority_table": (
        [{"draws": 200}, {"by": "effort", "draws": 200, "seed": 3}],
        [
            ({"by": "share"}, "by must be one of"),
            ({"by": ["effort"]}, "by must be one of"),
            ({"draws": 10}, "draws must be an integer of at least 100"),
            ({"draws": 200.0}, "draws must be an integer of at least 100"),
            ({"seed": -1}, "seed must be a non-negative integer"),
            ({"seed": True}, "seed must be a non-negative integer"),
        ],
    ),
    "error_shares": (
        [{}, {"level": 0.9}],
        [
            ({"level": 1.5}, "level must be between 0 and 1"),
            ({"level": "95%"}, "level must be between 0 and 1"),
        ],
    ),
    "untagged_errors": ([{}], []),
    "tag_overlap": (
        [{}, {"measure": "jaccard", "errors_only": True}],
        [
            ({"measure": "dice"}, "measure must be 'count' or 'jaccard'"),
            ({"measure": None}, "measure must be 'count' or 'jaccard'"),
            ({"errors_only": "yes"}, "errors_only must be True or False"),
        ],
    ),
    "exclusive_shares": (
        [{}, {"errors_only": True}],
        [({"errors_only": 1}, "errors_only must be True or False")],
    ),
    "slice_table": (
        [{"by": "tags"}, {"by": "site"}, {"by": "snr_db", "positive": "b", "bins": 2}],
        [
            ({"by": "weather"}, "no column 'weather'"),
            ({"by": 3}, "by must be a column name or 'tags'"),
            ({"by": "site", "bins": 1}, "bins must be an integer of at least 2"),
            ({"by": "site", "alpha": 1.5}, "alpha must be between 0 and 1"),
            ({"by": "site", "positive": "zebra"}, "positive class 'zebra'"),
            ({"by": "site", "correction": "sidak"}, "correction must be one of"),
            ({"by": "site", "max_slices": 0}, "max_slices must be a positive integer"),
        ],
    ),
    "confusion": (
        [{}, {"tag": "car"}, {"tag": "people"}],
        [
            ({"tag": "nope"}, "evidence has no tag 'nope'"),
            ({"tag": 3}, "tag must be a tag name or None"),
        ],
    ),
    "baselines": (
        [{}, {"hlp": 0.97}],
        [
            ({"hlp": 1.5}, "hlp must be between 0 and 1"),
            ({"hlp": "high"}, "hlp must be between 0 and 1"),
        ],
    ),
    "metric_warnings": (
        [{}, {"rare_share": 0.3, "rare_count": 2, "skew_share": 0.5}],
        [
            ({"rare_share": 0}, "rare_share must be above 0 and at most 1"),
            ({"skew_share": 2}, "skew_share must be above 0 and at most 1"),
            ({"rare_count": -1}, "rare_count must be a non-negative integer"),
        ],
    ),
    "tag_overview": ([{}], []),
    "dataset_summary": ([{}], []),
    "discover_slices": (
        [{"max_level": 2}, {"columns": ["site", "car"], "alpha": 0.5, "top": 3}],
        [
            ({"max_level": 5}, "max_level must be an integer from 1 to 4"),
            ({"min_support": 1.0}, "min_support must be a fraction above 0 and below 1"),
            ({"alpha": 0}, "alpha must be above 0 and at most 1"),
            ({"top": 0}, "top must be a positive integer"),
            ({"columns": ["weather"]}, "'weather' is neither a column of the examples nor a tag"),
            ({"columns": ["people"]}, "tag 'people' is a reviewed tag"),
        ],
    ),
}

OPTIONS["error_clusters"] = (
    [{"text_column": "site", "k": 2}, {"text_column": "site", "correct_sample": 2, "seed": 4}],
    [
        ({"text_column": "weather"}, "examples has no column 'weather'"),
        ({"k": 1}, "k must be an integer from 2 to 100"),
        ({"correct_sample": -1}, "correct_sample must be a non-negative integer"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"level": 1.5}, "level must be between 0 and 1"),
        ({"embeddings": [[0.0]]}, "give embeddings or text_column, not both"),
    ],
)


def run_fields(n: int = 12) -> dict:
    """A small run with a tag of every kind, human labels, metadata and a taxonomy."""
    index = pd.Index([f"ex{i}" for i in range(n)], name="id")
    label = np.array(["a", "b", "a"] * (n // 3))[:n]
    prediction = np.where(np.arange(n) % 4 == 0, np.where(label == "a", "b", "a"), label)
    examples = pd.DataFrame(
        {
            "label": label,
            "prediction": prediction,
            "correct": label == prediction,
            "human_label": pd.array([["a", None, "b"][i % 3] for i in range(n)], dtype=object),
            "site": [f"site {i % 3}" for i in range(n)],
            "snr_db": np.linspace(0.0, 30.0, n),
        },
        index=index,
    )
    tags = pd.DataFrame(
        {
            "car": np.arange(n) % 2 == 0,
            "quiet": np.arange(n) >= n - 4,
            "people": np.arange(n) % 3 == 0,
        },
        index=index,
    )
    definitions = pd.DataFrame(
        {
            "description": ["engine noise", "", "voices", "never seen", "from other data"],
            "hlp": [0.9, np.nan, np.nan, 0.8, np.nan],
            "effort": [2.0, np.nan, 1.0, np.nan, np.nan],
            "rule": [None, "snr_db > 20", None, None, None],
        },
        index=pd.Index(["car", "quiet", "people", "unused", "blurry"], name="tag"),
    )
    return {
        "examples": examples,
        "tags": tags,
        "kinds": {"car": "dataset", "quiet": "rule", "people": "reviewed"},
        "reviewed": pd.Series(~examples["correct"] | (np.arange(n) % 2 == 1), index=index),
        "hlp": {"car": 0.9},
        "effort": {"car": 2.0, "people": 1.0},
        "definitions": definitions,
        "data_tags": {"dev": frozenset({"car"}), "other": frozenset({"blurry"})},
        "rule_problems": {"broken": "unknown column 'volume'"},
        "dataset": "dev",
        "run": "main",
    }


# A second run of the same examples for compare_runs (compared with an empty run, it has
# no example in common: refused, see test_every_analysis_returns_what_it_documents).
OPTIONS["compare_runs"] = (
    [{"baseline": Evidence(**run_fields() | {"run": "v1"})}],
    [
        ({"baseline": "v1"}, "baseline must be an Evidence, got str"),
        ({"level": 1.5}, "level must be between 0 and 1"),
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"draws": 10}, "draws must be an integer of at least 100"),
    ],
)


def production_sample() -> Evidence:
    """A production sample beside run_fields for drift_table: no labels, the dataset and
    rule tags known on every example."""
    fields = run_fields()
    examples = fields["examples"].drop(columns=["label", "correct", "human_label"])
    tags = fields["tags"][["car", "quiet"]]
    return Evidence(examples, tags=tags, kinds={"car": "dataset", "quiet": "rule"})


OPTIONS["drift_table"] = (
    [
        {"against": production_sample(), "draws": 200},
        {"against": production_sample(), "by": "site", "draws": 200, "seed": 2},
    ],
    [
        ({"against": "prod"}, "against must be an Evidence, got str"),
        ({"against": Evidence(**run_fields())}, "against must be a production sample"),
        ({"by": "weather"}, "has no column 'weather'"),
        ({"by": 3}, "by must be a column name or None"),
        ({"level": 1.5}, "level must be between 0 and 1"),
        ({"draws": 10}, "draws must be an integer of at least 100"),
    ],
)


def empty_fields() -> dict:
    fields = run_fields()
    fields["examples"] = fields["examples"].iloc[:0]
    fields["tags"] = fields["tags"].iloc[:0]
    fields["reviewed"] = fields["reviewed"].iloc[:0]
    return fields


def with_examples(change):
    return lambda f: f | {"examples": change(f["examples"])}


def with_tags(change, **more):
    return lambda f: f | {"tags": change(f["tags"])} | more


# Evidence every analysis must refuse, and the message saying what is wrong with it.
BAD_EVIDENCE = [
    (with_examples(lambda e: e.drop(columns="correct")), "no 'correct' column"),
    (with_examples(lambda e: e.assign(correct=e["correct"].astype(int))), "bool dtype"),
    (
        with_examples(
            lambda e: e.assign(correct=e["correct"].astype("boolean").mask(e.label == "a"))
        ),
        r"examples\['correct'\] has missing values",
    ),
    (with_examples(lambda e: [1, 2]), "examples must be a pandas DataFrame"),
    (
        with_examples(lambda e: e.drop(columns="label")),
        "no 'label' column|a 'human_label' column but no 'label' column",
    ),
    (with_tags(lambda t: t.astype(int)), "tag 'car' must have a bool dtype"),
    (with_tags(lambda t: t.iloc[::-1]), "tags must have the same index as examples"),
    (with_tags(lambda t: pd.DataFrame({"car": [True]})), "tags must have the same index"),
    (with_tags(lambda t: t.values), "tags must be a pandas DataFrame"),
    (with_tags(lambda t: t.set_axis(["car", "car", "x"], axis=1)), "duplicate columns"),
    (
        with_tags(lambda t: t.rename(columns={"car": 3}), kinds={3: "dataset"}),
        "tag names must be strings",
    ),
    (
        with_tags(lambda t: t.astype("boolean").mask(t["car"], pd.NA)),
        "tag 'car' has missing values where it is known",
    ),
    (lambda f: f | {"kinds": {}}, "kinds has no kind for tag 'car'"),
    (lambda f: f | {"kinds": f["kinds"] | {"car": "manual"}}, "kind of tag 'car' must be one of"),
    (lambda f: f | {"kinds": ["car"]}, "kinds must be a mapping"),
    (lambda f: f | {"reviewed": f["reviewed"].iloc[:-1]}, "reviewed must have the same index"),
    (lambda f: f | {"reviewed": f["reviewed"].astype(int)}, "reviewed must have a bool dtype"),
    (lambda f: f | {"reviewed": f["reviewed"].to_numpy()}, "reviewed must be a pandas Series"),
    (lambda f: f | {"hlp": {"car": 1.5}}, r"hlp\['car'\] must be between 0 and 1"),
    (lambda f: f | {"hlp": {"car": "high"}}, r"hlp\['car'\] must be a number"),
    (lambda f: f | {"hlp": [0.9]}, "hlp must be a mapping tag -> number"),
    (lambda f: f | {"effort": {"car": 0}}, r"effort\['car'\] must be a positive number"),
    (lambda f: f | {"definitions": {}}, "definitions must be a pandas DataFrame"),
    (
        lambda f: f | {"definitions": f["definitions"].drop(columns="rule")},
        r"definitions has no \['rule'\] columns",
    ),
    (lambda f: f | {"data_tags": ["car"]}, "data_tags must be a mapping"),
]

# Evidence only the analyses that read labels and predictions must refuse.
BAD_LABELS = [
    (with_examples(lambda e: e.drop(columns="prediction")), "no 'prediction' column"),
    (with_examples(lambda e: e.assign(label=None)), r"examples\['label'\] has missing values"),
    (
        with_examples(lambda e: e.assign(prediction=e["prediction"].where(e.correct))),
        r"examples\['prediction'\] has missing values",
    ),
]


def good_calls() -> list[tuple[str, dict]]:
    return [(name, options) for name in sorted(ANALYSES) for options in OPTIONS[name][0]]


def call_id(call) -> str:
    name, options = call
    return name + "".join(f"-{k}={v}" for k, v in options.items())


def test_every_analysis_is_registered_once_and_covered_here():
    takes_evidence = {
        name
        for name in analyses.__all__
        if callable(getattr(analyses, name))
        and next(iter(inspect.signature(getattr(analyses, name)).parameters), None) == "evidence"
    }
    assert set(ANALYSES) == takes_evidence
    assert all(ANALYSES[name].__name__ == name for name in ANALYSES)
    assert set(OPTIONS) == set(ANALYSES)


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysis_refuses_what_is_not_evidence(name):
    with pytest.raises(ValueError, match="evidence must be an Evidence, got DataFrame"):
        ANALYSES[name](run_fields()["examples"], **OPTIONS[name][0][0])


# Every analysis refuses BAD_EVIDENCE; those that read labels refuse BAD_LABELS too.
REFUSED = [
    (name, change, message)
    for names, bad in ((ANALYSES, BAD_EVIDENCE), (READS_LABELS, BAD_LABELS))
    for name in sorted(names)
    for change, message in bad
]


@pytest.mark.parametrize(("name", "change", "message"), REFUSED)
def test_every_analysis_refuses_bad_evidence_and_missing_labels(name, change, message):
    evidence = Evidence(**change(run_fields()))
    with pytest.raises(ValueError, match=message):
        ANALYSES[name](evidence, **OPTIONS[name][0][0])


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [(name, options, message) for name in sorted(OPTIONS) for options, message in OPTIONS[name][1]],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_every_analysis_refuses_bad_options(name, options, message):
    good = OPTIONS[name][0][0]
    with pytest.raises(ValueError, match=message):
        ANALYSES[name](Evidence(**run_fields()), **(good | options))


def assert_same_evidence(evidence: Evidence, before: Evidence) -> None:
    for field in dataclasses.fields(Evidence):
        now, then = getattr(evidence, field.name), getattr(before, field.name)
        if isinstance(now, pd.DataFrame):
            pd.testing.assert_frame_equal(now, then, check_exact=True)
        elif isinstance(now, pd.Series):
            pd.testing.assert_series_equal(now, then, check_exact=True)
        else:
            assert now == then, field.name


@pytest.mark.parametrize("call", good_calls(), ids=call_id)
def test_no_analysis_modifies_its_evidence(call):
    name, options = call
    evidence = Evidence(**run_fields())
    before = copy.deepcopy(evidence)
    ANALYSES[name](evidence, **options)
    assert_same_evidence(evidence, before)


def assert_documented(name: str, result: object, evidence: Evidence, options: dict) -> None:
    """``result`` has the shape and the columns (or keys) ``name`` documents."""
    if name == "dataset_summary":
        assert isinstance(result, dict) and tuple(result) == SUMMARY_KEYS
        assert list(result["class_balance"].columns) == CLASS_BALANCE_COLUMNS
        assert list(result["baselines"].columns) == BASELINE_COLUMNS
        assert all(isinstance(text, str) for text in result["warnings"])
        return
    if name == "error_clusters":
        assert isinstance(result, ErrorClusters)
        assert list(result.clusters.columns) == CLUSTER_COLUMNS
        assert list(result.points.columns) == POINT_COLUMNS
        return
    if name == "metric_warnings":
        assert isinstance(result, list) and all(isinstance(text, str) for text in result)
        return
    assert isinstance(result, pd.DataFrame)
    tags = list(evidence.tags.columns)
    classes = sorted(set(evidence.examples["label"]) | set(evidence.examples["prediction"]))
    columns = {
        "priority_table": COLUMNS,
        "error_shares": ERROR_SHARE_COLUMNS,
        "untagged_errors": list(evidence.examples.columns),
        "tag_overlap": tags,
        "exclusive_shares": EXCLUSIVE_COLUMNS,
        "slice_table": SLICE_COLUMNS + (["evidence"] if options.get("by") == "tags" else []),
        "confusion": classes,
        "baselines": BASELINE_COLUMNS,
        "tag_overview": TAG_OVERVIEW_COLUMNS,
        "drift_table": DRIFT_BY_COLUMNS if options.get("by") else DRIFT_COLUMNS,
        "discover_slices": DISCOVER_COLUMNS,
        "compare_runs": COMPARE_COLUMNS,
    }[name]
    assert list(result.columns) == columns
    if name in ("tag_overlap", "confusion"):
        assert list(result.index) == columns
    if name in ("priority_table", "error_shares", "exclusive_shares"):
        assert sorted(result["tag"]) == sorted(tags)


@pytest.mark.parametrize("fields", [run_fields, empty_fields], ids=["run", "empty run"])
@pytest.mark.parametrize("call", good_calls(), ids=call_id)
def test_every_analysis_returns_what_it_documents(call, fields):
    name, options = call
    evidence = Evidence(**fields())
    if not len(evidence.examples) and "positive" in options:
        options = {k: v for k, v in options.items() if k != "positive"}  # no class to name
    if name == "compare_runs" and not len(evidence.examples):
        with pytest.raises(ValueError, match="share no examples"):
            ANALYSES[name](evidence, **options)
        return
    assert_documented(name, ANALYSES[name](evidence, **options), evidence, options)


@pytest.mark.parametrize("name", sorted(ANALYSES))
def test_every_analysis_runs_on_evidence_built_from_examples_alone(name):
    examples = run_fields()["examples"]
    evidence = Evidence(examples)
    options = OPTIONS[name][0][0]
    if name == "confusion":
        options = {}
    assert_documented(name, ANALYSES[name](evidence, **options), evidence, options)
