"""Excel workbooks: formatted sheets whose text cells are text, never formulas."""

from __future__ import annotations

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook
from spreadsheet_support import HOSTILE

from erroranalysis.workbook import (
    MAX_CELL_TEXT,
    PERCENT_FORMAT,
    sheet_name,
    workbook_bytes,
    write_workbook,
)


def read(data: bytes):
    return load_workbook(io.BytesIO(data))


def rows(sheet) -> list[list]:
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def priorities() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "rank": [1, 2, 3],
            "tag": ["people noise", '=HYPERLINK("x")', "car noise"],
            "share": [0.26, 0.04, np.nan],
            "share_low": [0.2, 0.01, np.nan],
            "gap": [0.21, -0.03, 0.0],
            "flagged": [True, False, True],
        }
    )


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("priorities", "priorities"),
        ("error-shares", "error-shares"),
        ("a[1]:b", "a_1__b"),
        ("a/b\\c?d*e", "a_b_c_d_e"),
        ("x" * 40, "x" * 31),
        ("'quoted'", "quoted"),
        ("  tags  ", "tags"),
        ("tab\there", "tab_here"),
        ("=SUM(A1)", "=SUM(A1)"),  # a sheet name is never evaluated
        ("History of runs", "History of runs"),
    ],
)
def test_sheet_name(name, expected):
    assert sheet_name(name) == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "is empty once made valid"),
        ("'''", "is empty once made valid"),
        ("   ", "is empty once made valid"),
        ("History", "reserved by Excel"),
        ("history", "reserved by Excel"),
        (3, "must be a string, got int"),
    ],
)
def test_sheet_name_rejects(name, message):
    with pytest.raises(ValueError, match=message):
        sheet_name(name)


FRAME = pd.DataFrame({"tag": ["a"], "share": [0.5]})


@pytest.mark.parametrize(
    ("sheets", "percent", "message"),
    [
        (FRAME, None, "sheets must be a mapping of sheet name to DataFrame, got DataFrame"),
        ({}, None, "sheets is empty"),
        ({"log": [1, 2]}, None, "sheet 'log' must be a pandas DataFrame, got list"),
        ({"a:b": FRAME, "a/b": FRAME}, None, "sheets 'a:b' and 'a/b' both become .*'a_b'"),
        ({"Tags": FRAME, "tags": FRAME}, None, "sheets 'Tags' and 'tags' both .*ignores case"),
        ({"": FRAME}, None, "sheet name '' is empty"),
        ({"p": FRAME}, {"q": ["share"]}, "percent_columns names sheet 'q'"),
        ({"p": FRAME}, {"p": ["gap"]}, "percent column 'gap' is not a column of sheet 'p'"),
        ({"p": FRAME}, {"p": ["tag"]}, "percent column 'tag' of sheet 'p' must be one numeric"),
        ({"p": FRAME}, {"p": "share"}, r"percent_columns\['p'\] must be a collection"),
        ({"p": FRAME}, ["share"], "percent_columns must be a mapping"),
        (
            {"p": pd.DataFrame({"flag": [True]})},
            {"p": ["flag"]},
            "percent column 'flag' of sheet 'p' must be one numeric",
        ),
        (
            {"log": pd.DataFrame({"note": ["ok", "x" * (MAX_CELL_TEXT + 1)]})},
            None,
            "sheet 'log', column 'note', row 3: 32,768 characters; a cell holds 32,767",
        ),
    ],
)
def test_bad_input_is_refused_and_writes_nothing(tmp_path, sheets, percent, message):
    target = tmp_path / "out.xlsx"
    target.write_bytes(b"before")
    with pytest.raises(ValueError, match=message):
        write_workbook(sheets, target, percent_columns=percent)
    assert target.read_bytes() == b"before"


def test_hostile_text_is_stored_as_text_exactly():
    frame = pd.DataFrame({"tag": HOSTILE, "note": HOSTILE[::-1]})
    sheet = read(workbook_bytes({"tags": frame}))["tags"]
    cells = [cell for row in sheet.iter_rows(min_row=2) for cell in row]
    assert [cell.value for cell in cells[::2]] == HOSTILE
    assert {cell.data_type for cell in cells} == {"s"}
    # The quote-prefix style keeps a formula-looking cell text when someone edits it.
    assert [cell.quotePrefix for cell in cells[::2]] == [
        True, True, True, True, True, True, True, True, False, False, True, False
    ]  # fmt: skip


def test_hostile_headers_and_index_are_text():
    frame = pd.DataFrame(
        [[1, 2]], index=pd.Index(["=a"], name="@tag"), columns=["=SUM(A1:A2)", "-x"]
    )
    sheet = read(workbook_bytes({"t": frame}))["t"]
    assert rows(sheet) == [["@tag", "=SUM(A1:A2)", "-x"], ["=a", 1, 2]]
    assert all(cell.data_type == "s" for cell in sheet[1])
    assert sheet["A2"].data_type == "s"


def test_openpyxl_alone_would_write_a_formula():
    """The pitfall the module exists for: without forcing the type, "=" makes a formula."""
    from openpyxl import Workbook

    book = Workbook()
    book.active["A1"] = "=1+1"
    buffer = io.BytesIO()
    book.save(buffer)
    assert read(buffer.getvalue()).active["A1"].data_type == "f"


def test_types_formats_and_layout():
    frame = priorities().assign(
        reviewed_at=pd.to_datetime(["2026-03-01 09:30", None, "2026-03-02 17:00"]),
        day=pd.to_datetime(["2026-03-01", "2026-03-02", None]),
        examples=pd.array([10, None, 3], dtype="Int64"),
    )
    data = workbook_bytes({"priorities": frame}, percent_columns={"priorities": ["share", "gap"]})
    sheet = read(data)["priorities"]
    assert rows(sheet) == [
        ["rank", "tag", "share", "share_low", "gap", "flagged", "reviewed_at", "day", "examples"],
        [1, "people noise", 0.26, 0.2, 0.21, True, dt.datetime(2026, 3, 1, 9, 30),
         dt.datetime(2026, 3, 1), 10],
        [2, '=HYPERLINK("x")', 0.04, 0.01, -0.03, False, None, dt.datetime(2026, 3, 2), None],
        [3, "car noise", None, None, 0, True, dt.datetime(2026, 3, 2, 17), None, 3],
    ]  # fmt: skip
    second = sheet[2]
    assert [cell.data_type for cell in second] == ["n", "s", "n", "n", "n", "b", "d", "d", "n"]
    assert [cell.number_format for cell in second] == [
        "General", "General", PERCENT_FORMAT, "General", PERCENT_FORMAT, "General",
        "yyyy-mm-dd hh:mm:ss", "yyyy-mm-dd", "General",
    ]  # fmt: skip
    assert all(cell.font.b for cell in sheet[1])
    assert not any(cell.font.b for cell in second)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I4"
    widths = {letter: sheet.column_dimensions[letter].width for letter in "ABCDEFGHI"}
    assert widths["B"] == len('=HYPERLINK("x")') + 1
    assert widths["G"] == len("2026-03-01 09:30:00") + 1
    assert all(6 <= width <= 60 for width in widths.values())


def test_sheets_keep_their_order_and_an_empty_sheet_has_its_header():
    sheets = {
        "priorities": priorities(),
        "log": pd.DataFrame({"action": pd.Series([], dtype=str)}),
        "nothing": pd.DataFrame(),
    }
    book = read(workbook_bytes(sheets))
    assert book.sheetnames == ["priorities", "log", "nothing"]
    assert rows(book["log"]) == [["action"]]
    assert book["log"].auto_filter.ref == "A1:A1"
    assert rows(book["nothing"]) == []


def test_special_values():
    frame = pd.DataFrame(
        {
            "value": [np.inf, -np.inf, np.nan, -0.03],
            "mixed": pd.array(["-1", -1, None, pd.Timestamp("2026-01-01")], dtype=object),
            "tag": pd.Categorical(["=a", "b", None, "=a"]),
            "when": pd.to_datetime(["2026-01-01 12:00"] * 4).tz_localize("Europe/Paris"),
            "text": pd.Series(["bell\x07", "nul\x00", "line\nbreak", "lone \ud800"], dtype=object),
            "interval": [pd.Interval(0, 1)] * 4,
        }
    )
    assert rows(read(workbook_bytes({"t": frame}))["t"])[1:] == [
        ["inf", "-1", "=a", dt.datetime(2026, 1, 1, 11), "bell\ufffd", "(0, 1]"],
        ["-inf", -1, "b", dt.datetime(2026, 1, 1, 11), "nul\ufffd", "(0, 1]"],
        [None, None, None, dt.datetime(2026, 1, 1, 11), "line\nbreak", "(0, 1]"],
        [-0.03, dt.datetime(2026, 1, 1), "=a", dt.datetime(2026, 1, 1, 11), "lone \ufffd", "(0, 1]"],
    ]  # fmt: skip


def test_inputs_are_not_modified():
    frame = priorities()
    before = frame.copy()
    sheets = {"priorities": frame}
    percent = {"priorities": ["share"]}
    workbook_bytes(sheets, percent_columns=percent)
    pd.testing.assert_frame_equal(frame, before)
    assert list(sheets) == ["priorities"] and percent == {"priorities": ["share"]}


def test_path_and_stream_targets_hold_the_same_workbook(tmp_path):
    sheets = {"priorities": priorities()}
    path = tmp_path / "priorities.xlsx"
    write_workbook(sheets, path)
    stream = io.BytesIO()
    write_workbook(sheets, stream)
    assert rows(read(path.read_bytes())["priorities"]) == rows(
        read(stream.getvalue())["priorities"]
    )
    assert rows(read(workbook_bytes(sheets))["priorities"]) == rows(
        read(stream.getvalue())["priorities"]
    )


# Text XML carries as itself: no control characters but tab and line breaks, no surrogates.
carried_text = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters=[chr(c) for c in range(32) if chr(c) not in "\t\n\r"]
        + ["\ufffe", "\uffff"],
    ),
    max_size=30,
)
formula_text = st.builds(
    lambda start, rest: start + rest, st.sampled_from("=+-@\t'#"), carried_text
)


@settings(max_examples=100, deadline=None)
@given(
    texts=st.lists(st.one_of(carried_text, formula_text), min_size=1, max_size=6),
    # Near the largest double, 16 digits round up past it and read back as infinity.
    numbers=st.lists(st.floats(min_value=-1e300, max_value=1e300), min_size=6, max_size=6),
    flags=st.lists(st.booleans(), min_size=6, max_size=6),
)
def test_round_trip(texts, numbers, flags):
    size = len(texts)
    frame = pd.DataFrame({"tag": texts, "value": numbers[:size], "flag": flags[:size]})
    sheet = read(workbook_bytes({"t": frame}))["t"]
    back = rows(sheet)[1:]
    # An empty text is an empty cell.
    assert [row[0] for row in back] == [text or None for text in texts]
    # Excel keeps 15 significant digits; openpyxl writes 16.
    assert [row[1] for row in back] == pytest.approx(numbers[:size], rel=1e-15)
    assert [row[2] for row in back] == flags[:size]
    assert not any(cell.data_type == "f" for row in sheet.iter_rows() for cell in row)


def test_a_sheet_of_many_chunks_keeps_every_row_in_order():
    size = 12_345  # rows are streamed 5,000 at a time
    frame = pd.DataFrame({"id": [f"s{i:05d}" for i in range(size)], "rank": np.arange(size)})
    sheet = load_workbook(io.BytesIO(workbook_bytes({"examples": frame})), read_only=True)[
        "examples"
    ]
    back = list(sheet.iter_rows(values_only=True))
    assert back[0] == ("id", "rank")
    assert back[1:] == list(zip(frame["id"], frame["rank"].tolist(), strict=True))
