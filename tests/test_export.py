"""Exports: spreadsheet-safe CSV (formulas neutralised, numbers kept) and JSON."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from erroranalysis.evidence import Evidence
from erroranalysis.export import (
    neutralize,
    neutralize_frame,
    python_scalar,
    restore,
    safe_csv,
    to_json_records,
    write_csv,
)
from erroranalysis.priorities import priority_table

FORMULA_NAMES = ['=HYPERLINK("http://x.example","click")', "+1", "-2", "@x", "\tcmd", "\rcmd"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x.example","click")', '\'=HYPERLINK("http://x.example","click")'),
        ("+1", "'+1"),
        ("-2", "'-2"),
        ("@x", "'@x"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("'=x", "''=x"),  # so that restore() can tell an added quote from one in the data
        ("car noise", "car noise"),
        ("a=b", "a=b"),
        ("'quoted", "'quoted"),
        ("", ""),
        (-0.03, -0.03),
        (3, 3),
        (None, None),
    ],
)
def test_neutralize(value, expected):
    assert neutralize(value) == expected
    assert restore(neutralize(value)) == value


def read_back(text: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), keep_default_na=False, na_values=[""], **kwargs)


def test_formula_tag_names_are_neutralised_and_numbers_stay_numbers():
    frame = pd.DataFrame(
        {
            "tag": FORMULA_NAMES + ["car noise"],
            "gap": [-0.03, 0.01, -2.0, 0.0, 1e-9, -1.5, 0.25],
            "examples": [1, 2, 3, 4, 5, 6, 7],
        }
    )
    text = safe_csv(frame)
    back = read_back(text, dtype={"tag": str})
    assert back["tag"].tolist() == [
        "'" + name if name[0] in "=+-@\t\r" else name for name in frame["tag"]
    ]
    # Numeric columns are written as numbers: read back as numbers, no quote.
    assert back["gap"].dtype == np.float64 and back["examples"].dtype == np.int64
    np.testing.assert_array_equal(back["gap"], frame["gap"])
    assert "\n-0.03," not in text and ",-0.03," in text
    assert len(back) == len(frame)


def test_headers_and_index_are_neutralised():
    frame = pd.DataFrame(
        [[1, 2], [3, 4]],
        index=pd.Index(["=a", "b"], name="tag"),
        columns=["=SUM(A1:A2)", "car noise"],
    )
    back = read_back(safe_csv(frame), dtype=str)
    assert back.columns.tolist() == ["tag", "'=SUM(A1:A2)", "car noise"]
    assert back["tag"].tolist() == ["'=a", "b"]


def test_missing_values_are_empty_cells_and_nothing_is_dropped():
    frame = pd.DataFrame(
        {
            "tag": ["a", None, "c"],
            "share": [0.5, np.nan, 0.25],
            "rank": pd.array([1, None, 3], dtype="Int64"),
        }
    )
    text = safe_csv(frame)
    assert text.splitlines()[2] == ",,"
    back = read_back(text)
    assert back.shape == frame.shape
    assert np.isnan(back.loc[1, "share"])


def test_mixed_object_column_neutralises_only_text():
    frame = pd.DataFrame({"value": pd.array(["-1", -1, 0.5, "=x"], dtype=object)})
    out = neutralize_frame(frame)
    assert out["value"].tolist() == ["'-1", -1, 0.5, "'=x"]
    assert frame["value"].tolist() == ["-1", -1, 0.5, "=x"]


def test_categorical_column():
    frame = pd.DataFrame({"tag": pd.Categorical(["=a", "b", "=a"])})
    assert read_back(safe_csv(frame))["tag"].tolist() == ["'=a", "b", "'=a"]


def test_default_range_index_is_not_written():
    frame = pd.DataFrame({"a": [1, 2]})
    assert safe_csv(frame) == "a\r\n1\r\n2\r\n"
    assert safe_csv(frame, index=True).splitlines()[0] == ",a"


def test_write_csv_to_path_and_stream(tmp_path):
    frame = pd.DataFrame({"tag": ["=x"], "share": [-0.5]})
    path = tmp_path / "priorities.csv"
    write_csv(frame, path)
    assert path.read_text(encoding="utf-8").replace("\r\n", "\n") == "tag,share\n'=x,-0.5\n"
    stream = io.StringIO()
    write_csv(frame, stream)
    assert stream.getvalue() == safe_csv(frame)


def test_priority_table_export_round_trip():
    examples = pd.DataFrame({"correct": [True, False, True, True, False, True]})
    tags = pd.DataFrame(
        {name: [True, False, True, False, True, True] for name in FORMULA_NAMES},
        index=examples.index,
    )
    table = priority_table(
        Evidence(examples, tags, hlp=dict.fromkeys(FORMULA_NAMES, 0.9)),
        draws=200,
    )
    back = read_back(safe_csv(table), dtype={"tag": str, "note": str, "hlp_source": str})
    assert sorted(back["tag"].map(restore)) == sorted(FORMULA_NAMES)
    assert all(value.startswith("'") for value in back["tag"])
    for column in ("share", "gap", "marginal_effect", "share_low"):
        assert back[column].dtype == np.float64
        np.testing.assert_allclose(back[column], table[column])


# Text a spreadsheet cell may hold: any characters but NUL and lone surrogates.
cell_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters=["\x00"]),
    min_size=1,
    max_size=30,
)
formula_text = st.builds(
    lambda start, rest: start + rest,
    st.sampled_from(["=", "+", "-", "@", "\t", "\r", "'="]),
    cell_text,
)


@settings(max_examples=200, deadline=None)
@given(
    texts=st.lists(st.one_of(cell_text, formula_text), min_size=1, max_size=8),
    numbers=st.lists(
        st.floats(allow_nan=False, allow_infinity=False, width=64), min_size=8, max_size=8
    ),
)
def test_csv_round_trip(texts, numbers):
    frame = pd.DataFrame({"tag": texts, "value": numbers[: len(texts)]})
    back = read_back(safe_csv(frame), dtype={"tag": str})
    assert back["tag"].map(restore).tolist() == texts
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for cell in back["tag"])
    assert back["value"].tolist() == frame["value"].tolist()


@settings(max_examples=200, deadline=None)
@given(value=st.one_of(cell_text, formula_text, st.just("")))
def test_neutralize_round_trip(value):
    safe = neutralize(value)
    assert restore(safe) == value
    assert not safe.startswith(("=", "+", "-", "@", "\t", "\r"))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        (pd.NA, None),
        (pd.NaT, None),
        (np.bool_(True), True),
        (False, False),
        (np.int64(-3), -3),
        (np.uint8(7), 7),
        (np.float32(0.5), 0.5),
        ("=1+1", "=1+1"),
        (pd.Timestamp("2026-01-02"), pd.Timestamp("2026-01-02")),
    ],
)
def test_python_scalar(value, expected):
    converted = python_scalar(value)
    assert type(converted) is type(expected) and converted == expected


def test_python_scalar_keeps_nan_a_float():
    nan = python_scalar(np.float64("nan"))
    assert type(nan) is float and np.isnan(nan)


def test_json_records():
    frame = pd.DataFrame(
        {
            "tag": ["=x", None],
            "share": [0.1234567890123456789, np.nan],
            "rank": pd.array([1, None], dtype="Int64"),
            "flagged": [True, False],
        }
    )
    records = json.loads(to_json_records(frame))
    assert records == [
        {"tag": "=x", "share": 0.12345678901234568, "rank": 1, "flagged": True},
        {"tag": None, "share": None, "rank": None, "flagged": False},
    ]


def test_json_records_with_named_index():
    frame = pd.DataFrame({"car": [1, 0]}, index=pd.Index(["car", "people"], name="tag"))
    assert json.loads(to_json_records(frame)) == [
        {"tag": "car", "car": 1},
        {"tag": "people", "car": 0},
    ]


@pytest.mark.parametrize(
    "function", [safe_csv, to_json_records, neutralize_frame, lambda f: write_csv(f, io.StringIO())]
)
def test_exporters_reject_non_frames(function):
    with pytest.raises(ValueError, match="must be a pandas DataFrame"):
        function([1, 2])
