"""Reading prediction files: round trips, the canonical frame, and every kind of bad input."""

from __future__ import annotations

import io
import json
import os
import string
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pandas.testing import assert_frame_equal, assert_series_equal

from erroranalysis import importing
from erroranalysis.cli import build_parser
from erroranalysis.importing import (
    MAX_LISTED_PROBLEMS,
    MAX_PROBLEMS_PER_CHECK,
    ROLE_HELP,
    ROLES,
    ColumnMapping,
    ImportValidationError,
    Problem,
    read_dataset,
    read_reviews,
    read_tag_definitions,
)
from erroranalysis.vocabulary import MAX_TAGS

CSV = b"id,label,prediction\n"


def read_bytes(data: bytes, name: str = "preds.csv", **options):
    return read_dataset(io.BytesIO(data), filename=name, **options)


def problems_of(data: bytes, name: str = "preds.csv", **options) -> ImportValidationError:
    with pytest.raises(ImportValidationError) as caught:
        read_bytes(data, name, **options)
    return caught.value


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return sink.getvalue()


def jsonl_bytes(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


# ---------------------------------------------------------------------- round trips
SOURCE = pd.DataFrame(
    {
        "id": ["007", "7", "a,b", 'say "hi"'],
        "label": ["cat", "dog", "cat", "multi\nline"],
        "prediction": ["cat", "cat", "dog", "multi\nline"],
        "confidence": [0.9, 0.25, 1.0, 0.0],
        "human_label": ["cat", "", "dog", ""],
        "speaker": ["ann", "bob", "ann", "cy"],
        "snr": [3, 10, -2, 7],
    }
)


def expected_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": pd.Series(SOURCE["id"], dtype="str"),
            "label": pd.Series(SOURCE["label"], dtype="str"),
            "prediction": pd.Series(SOURCE["prediction"], dtype="str"),
            "correct": [True, False, False, True],
            "confidence": SOURCE["confidence"].astype("float64"),
            "human_label": pd.Series(["cat", np.nan, "dog", np.nan], dtype="str"),
            "speaker": pd.Series(SOURCE["speaker"], dtype="str"),
            "snr": SOURCE["snr"].astype("int64"),
        }
    )


@pytest.mark.parametrize(
    ("name", "write"),
    [
        ("preds.csv", lambda f, path: f.to_csv(path, index=False)),
        ("preds.parquet", lambda f, path: f.to_parquet(path, index=False)),
        ("preds.pq", lambda f, path: f.to_parquet(path, index=False)),
        ("preds.jsonl", lambda f, path: f.to_json(path, orient="records", lines=True)),
        ("preds.ndjson", lambda f, path: f.to_json(path, orient="records", lines=True)),
    ],
)
def test_round_trip(tmp_path, name, write):
    path = tmp_path / name
    source = SOURCE.copy()
    if name.endswith(("jsonl", "ndjson", "parquet", "pq")):
        source["human_label"] = source["human_label"].replace("", None)
    write(source, path)
    result = read_dataset(path)
    assert_frame_equal(result.frame, expected_frame())
    assert isinstance(result.frame.index, pd.RangeIndex)
    assert result.metadata_columns == ["speaker", "snr"]
    assert result.dataset_tags == []
    assert result.source == name
    assert result.format == {"csv": "csv", "jsonl": "jsonl", "ndjson": "jsonl"}.get(
        name.rsplit(".", 1)[1], "parquet"
    )
    assert result.media_root == tmp_path.resolve()


def test_ids_are_text_even_when_they_look_like_numbers():
    frame = read_bytes(CSV + b"007,1,1\n7,01,1\n1e3,1.0,1\n").frame
    assert frame["id"].tolist() == ["007", "7", "1e3"]
    assert frame["label"].tolist() == ["1", "01", "1.0"]
    assert frame["correct"].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([7, 8], ["7", "8"]),
        ([2**62, -1], [str(2**62), "-1"]),
        ([1.5, 2.0], ["1.5", "2.0"]),
        ([True, False], ["true", "false"]),
    ],
)
def test_numbers_from_parquet_and_json_become_their_text(values, expected):
    frame = pd.DataFrame({"id": values, "label": values, "prediction": values})
    assert read_bytes(parquet_bytes(frame), "p.parquet").frame["id"].tolist() == expected
    records = frame.to_dict("records")
    assert read_bytes(jsonl_bytes(records), "p.jsonl").frame["id"].tolist() == expected


def test_json_ids_may_mix_text_and_numbers():
    data = jsonl_bytes(
        [
            {"id": "007", "label": 1, "prediction": "1", "m": 1},
            {"id": 7, "label": 2, "prediction": "x", "m": "text"},
        ]
    )
    result = read_bytes(data, "p.jsonl")
    assert result.frame["id"].tolist() == ["007", "7"]
    assert result.frame["correct"].tolist() == [True, False]
    assert result.frame["m"].tolist() == ["1", "text"]
    assert any("mixes numbers and text" in w for w in result.warnings)


_TEXT = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    max_size=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ids=st.lists(_TEXT.filter(bool), min_size=1, max_size=8, unique=True),
    labels=st.lists(_TEXT, min_size=8, max_size=8),
    data=st.data(),
)
def test_arbitrary_text_survives_csv_and_jsonl(ids, labels, data):
    n = len(ids)
    predictions = data.draw(st.lists(_TEXT, min_size=n, max_size=n))
    source = pd.DataFrame({"id": ids, "label": labels[:n], "prediction": predictions})
    # "\r\n" makes the writer quote a lone "\r" too, which "\n" does not: such a file is ambiguous.
    as_csv = source.to_csv(index=False, lineterminator="\r\n").encode()
    as_jsonl = source.to_json(orient="records", lines=True, force_ascii=False).encode()
    for raw, name in ((as_csv, "h.csv"), (as_jsonl, "h.jsonl")):
        frame = read_bytes(raw, name).frame
        assert frame["id"].tolist() == ids
        assert frame["label"].tolist() == labels[:n]
        assert frame["prediction"].tolist() == predictions
        assert frame["correct"].tolist() == [
            a == b for a, b in zip(labels[:n], predictions, strict=True)
        ]


# ---------------------------------------------------------------------- the canonical frame
# The columns a run leads with, in this order, whatever the file's order.
LEADING_COLUMNS = ["id", "label", "prediction", "correct", "confidence"]


def test_column_order_and_types():
    data = (
        b"snr,tags,image,text,audio,human_label,confidence,correct,prediction,label,id,tag:x\n"
        b"3,x;y,,hello,a.wav,cat,0.5,yes,dog,cat,1,true\n"
    )
    result = read_bytes(data, media_root=".")
    assert list(result.frame.columns) == [
        *LEADING_COLUMNS,
        "human_label",
        "text",
        "audio",
        "image",
        "snr",
        "tag:x",
        "tag:y",
    ]
    assert result.frame["correct"].dtype == bool
    assert result.frame["confidence"].dtype == np.float64
    assert result.frame["image"].isna().all()  # empty means no media


def test_correct_defaults_to_label_equals_prediction():
    frame = read_bytes(CSV + b"1,cat,cat\n2,cat,Cat\n3,cat,cat \n").frame
    assert frame["correct"].tolist() == [True, False, False]


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("Yes", True),
        ("t", True),
        ("T", True),
        ("false", False),
        ("False", False),
        ("0", False),
        ("no", False),
        ("NO", False),
        ("f", False),
        (" true ", True),
    ],
)
def test_correct_column_accepts_boolean_words(cell, expected):
    frame = read_bytes(f"id,label,prediction,correct\n1,a,b,{cell}\n".encode()).frame
    assert frame["correct"].tolist() == [expected]


def test_correct_column_is_used_over_label_comparison():
    frame = read_bytes(b"id,label,prediction,correct\n1,a,b,1\n2,a,a,0\n").frame
    assert frame["correct"].tolist() == [True, False]


def test_real_booleans_in_parquet_and_json():
    frame = pd.DataFrame(
        {"id": ["1", "2"], "label": ["a", "a"], "prediction": ["a", "b"], "correct": [False, True]}
    )
    assert read_bytes(parquet_bytes(frame), "p.parquet").frame["correct"].tolist() == [False, True]
    data = jsonl_bytes(frame.to_dict("records"))
    assert read_bytes(data, "p.jsonl").frame["correct"].tolist() == [False, True]


def test_empty_confidence_is_nan():
    frame = read_bytes(b"id,label,prediction,confidence\n1,a,a,\n2,a,a,0.5\n").frame
    assert np.isnan(frame["confidence"][0])
    assert frame["confidence"][1] == 0.5


def test_metadata_is_typed_as_pandas_would():
    data = (
        b"id,label,prediction,n,x,word,day,flag,blank\n"
        b"1,a,a,3,0.5,NA,2024-01-01,True,\n"
        b"2,a,b,,1.5,hi,2024-01-02,False,\n"
    )
    result = read_bytes(data)
    frame = result.frame
    expected = pd.read_csv(io.BytesIO(data), dtype={"id": str, "label": str, "prediction": str})
    for column in ("n", "x", "word", "day", "flag", "blank"):
        assert_series_equal(frame[column], expected[column], check_dtype=True)
    assert result.metadata_columns == ["n", "x", "word", "day", "flag", "blank"]


def test_json_dates_stay_text_and_nested_values_are_left_out():
    data = jsonl_bytes(
        [
            {"id": "1", "label": "a", "prediction": "a", "day": "2024-01-01", "extra": {"k": 1}},
            {"id": "2", "label": "a", "prediction": "a", "day": "2024-01-02", "extra": {"k": 2}},
        ]
    )
    result = read_bytes(data, "p.jsonl")
    assert result.frame["day"].tolist() == ["2024-01-01", "2024-01-02"]
    assert "extra" not in result.frame.columns
    assert any("'extra'" in w for w in result.warnings)


def test_tags_column_and_tag_columns_are_merged():
    data = (
        b"id,label,prediction,tags,tag:noisy,tag: accent \n"
        b"1,a,a, noisy ; far field ,true,\n"
        b"2,a,b,,false,1\n"
        b"3,a,b,far field;;,0,no\n"
        b"4,a,b,,,\n"
    )
    result = read_bytes(data)
    assert result.dataset_tags == ["noisy", "accent", "far field"]
    frame = result.frame
    assert frame["tag:noisy"].tolist() == [True, False, False, False]
    assert frame["tag:accent"].tolist() == [False, True, False, False]
    assert frame["tag:far field"].tolist() == [True, False, True, False]
    assert frame[["tag:noisy", "tag:accent", "tag:far field"]].dtypes.eq(bool).all()
    assert "tags" not in frame.columns
    assert result.metadata_columns == []


def test_column_mapping_renames_roles():
    data = b"uid,gold,guess,score,note\n1,a,a,0.5,x\n"
    mapping = ColumnMapping(id="uid", label="gold", prediction="guess", confidence="score")
    result = read_bytes(data, columns=mapping)
    assert list(result.frame.columns) == [*LEADING_COLUMNS, "note"]


def test_every_role_has_help_and_a_command_line_flag_with_its_default():
    assert list(ROLE_HELP) == list(ROLES)
    args = build_parser().parse_args(["import", "preds.csv", "--dataset", "dev"])
    assert {role: getattr(args, f"{role}_column") for role in ROLES} == ColumnMapping().roles()
    args = build_parser().parse_args(
        ["import", "p.csv", "--dataset", "d", "--human-label-column", "h"]
    )
    assert args.human_label_column == "h"


def test_file_objects_windows_line_endings_and_bom():
    data = b"\xef\xbb\xbfid,label,prediction\r\n1,a,a\r\n2,b,a\r\n"
    result = read_dataset(io.BytesIO(data), filename="upload.csv")
    assert result.frame["id"].tolist() == ["1", "2"]
    assert result.media_root is None


def test_other_encodings_when_asked():
    data = "id,label,prediction\n1,café,café\n".encode("latin-1")
    assert problems_of(data).problems[0].row == 2
    assert read_bytes(data, encoding="latin-1").frame["label"].tolist() == ["café"]


def test_blank_header_column_is_named_like_pandas(tmp_path):
    path = tmp_path / "p.csv"
    SOURCE[["id", "label", "prediction"]].to_csv(path)  # index=True writes a blank header cell
    result = read_dataset(path)
    assert "Unnamed: 0" in result.metadata_columns
    assert any("no name" in w for w in result.warnings)


def test_media_paths_urls_and_missing_files(tmp_path):
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "a.wav").write_bytes(b"RIFF")
    path = tmp_path / "p.csv"
    path.write_text(
        "id,label,prediction,audio\n"
        "1,a,a,clips/a.wav\n"
        "2,a,a,https://example.com/b.wav\n"
        "3,a,a,clips/gone.wav\n"
        "4,a,a,\n"
    )
    result = read_dataset(path)
    assert result.frame["audio"].tolist()[:3] == [
        "clips/a.wav",
        "https://example.com/b.wav",
        "clips/gone.wav",
    ]
    assert pd.isna(result.frame["audio"][3])
    assert result.media_root == tmp_path.resolve()
    assert any("1 of 2 files" in w and "clips/gone.wav" in w for w in result.warnings)


def test_media_root_option(tmp_path):
    media = tmp_path / "media"
    media.mkdir()
    (media / "a.png").write_bytes(b"\x89PNG")
    result = read_bytes(CSV[:-1] + b",image\n1,a,a,a.png\n", media_root=media)
    assert result.media_root == media.resolve()
    assert result.warnings == []


# ---------------------------------------------------------------------- bad input
def _zip() -> bytes:
    return b"PK\x03\x04" + bytes(range(256))


def _parquet_with(**columns) -> bytes:
    base = {"id": ["1", "2"], "label": ["a", "b"], "prediction": ["a", "a"]}
    return parquet_bytes(pd.DataFrame({**base, **columns}))


BAD_INPUTS = [
    # (case, file name, content, [fragments that must appear in the error message])
    ("empty file", "p.csv", b"", ["the file is empty"]),
    ("blank file", "p.jsonl", b"\n \n", ["the file is empty"]),
    ("header only", "p.csv", CSV, ["header but no rows"]),
    (
        "missing columns",
        "p.csv",
        b"id,gold,pred\n1,a,a\n",
        ["column 'label'", "column 'prediction'", "'gold'", "'pred'", "--label-column"],
    ),
    ("empty id", "p.csv", CSV + b"1,a,a\n,a,a\n", ["line 3, column 'id': id is empty"]),
    (
        "duplicate id",
        "p.csv",
        CSV + b"7,a,a\n8,a,a\n7,b,b\n",
        ["line 4, column 'id': value '7' is a duplicate id (first on line 2)"],
    ),
    (
        "not utf-8",
        "p.csv",
        CSV + b"1,a,a\n2,caf\xe9,a\n",
        ["line 3:", "utf-8", "--encoding latin-1", "encoding='latin-1'"],
    ),
    ("short row", "p.csv", CSV + b"1,a,a\n2,a\n3,a,a\n", ["line 3:", "2 fields", "header has 3"]),
    ("long row", "p.csv", CSV + b"1,a,a\n2,a,a,x\n", ["line 3:", "has 4 fields"]),
    (
        "row after a multi-line value",
        "p.csv",
        CSV + b'1,"two\nlines",a\n2,a\n',
        ["line 4:", "has 2 fields"],
    ),
    ("unclosed quote", "p.csv", CSV + b'1,a,a\n2,"a,a\n3,a,a\n', ["line 3:", "never closed"]),
    (
        "malformed json",
        "p.jsonl",
        b'{"id": "1", "label": "a", "prediction": "a"}\n{"id": "2", "label": \n',
        ["line 2:", "not valid JSON"],
    ),
    (
        "json array line",
        "p.jsonl",
        b'{"id": "1", "label": "a", "prediction": "a"}\n[1, 2]\n',
        ["line 2:", "JSON array, not an object"],
    ),
    (
        "two objects on a line",
        "p.jsonl",
        b'{"id": "1", "label": "a", "prediction": "a"} {"id": "2"}\n',
        ["line 1:", "not valid JSON"],
    ),
    (
        "duplicate json key",
        "p.jsonl",
        b'{"id": "1", "label": "a", "prediction": "a", "label": "b"}\n',
        ["line 1, column 'label'", "more than once"],
    ),
    (
        "object as id",
        "p.jsonl",
        b'{"id": "1", "label": "a", "prediction": "a"}\n'
        b'{"id": {"x": 1}, "label": "a", "prediction": "a"}\n',
        ["line 2, column 'id'", "JSON object"],
    ),
    ("json array file", "p.jsonl", b'[{"id": 1}]\n', ["one JSON array"]),
    ("csv named jsonl", "p.jsonl", CSV + b"1,a,a\n", ["looks like CSV"]),
    ("jsonl named csv", "p.csv", b'{"id": "1", "label": "a", "prediction": "a"}\n', ["JSON Lines"]),
    ("no parquet magic", "p.parquet", CSV + b"1,a,a\n", ["not a Parquet file", "text file"]),
    ("parquet named csv", "p.csv", _parquet_with(), ["a Parquet file"]),
    ("zip named csv", "p.csv", _zip(), ["ZIP archive"]),
    ("binary junk", "p.csv", CSV + b"1,a,a\n\x00\x01\x02\n", ["binary data", "line 3"]),
    ("unknown extension", "p.txt", CSV + b"1,a,a\n", ["'.txt'", ".csv"]),
    ("unknown encoding", "p.csv", CSV + b"1,a,a\n", ["unknown text encoding"]),
    (
        "not a boolean",
        "p.csv",
        b"id,label,prediction,correct\n1,a,a,maybe\n",
        ["line 2, column 'correct': value 'maybe' is not a boolean"],
    ),
    (
        "empty boolean",
        "p.csv",
        b"id,label,prediction,correct\n1,a,a,true\n2,a,a,\n",
        ["line 3, column 'correct': is empty"],
    ),
    (
        "confidence out of range",
        "p.csv",
        b"id,label,prediction,confidence\n1,a,a,0.5\n2,a,a,1.7\n",
        ["line 3, column 'confidence': value '1.7' is not a number in [0, 1]"],
    ),
    (
        "confidence not a number",
        "p.csv",
        b"id,label,prediction,confidence\n1,a,a,high\n",
        ["line 2, column 'confidence': value 'high' is not a number"],
    ),
    (
        "negative confidence in parquet",
        "p.parquet",
        _parquet_with(confidence=[0.5, -0.1]),
        ["row 2, column 'confidence': value '-0.1' is not a number in [0, 1]"],
    ),
    (
        "parquet boolean that is not",
        "p.parquet",
        _parquet_with(correct=[1, 2]),
        ["row 2, column 'correct': value '2' is not a boolean"],
    ),
    (
        "tag column that is not boolean",
        "p.csv",
        b"id,label,prediction,tag:noisy\n1,a,a,sometimes\n",
        ["line 2, column 'tag:noisy': value 'sometimes' is not a boolean"],
    ),
    (
        "tag name too long",
        "p.csv",
        CSV[:-1] + b",tags\n1,a,a,ok;" + b"x" * 101 + b"\n",
        ["line 2, column 'tags'", "longer than 100"],
    ),
    ("empty tag column name", "p.csv", CSV[:-1] + b",tag: \n1,a,a,true\n", ["tag name is empty"]),
    (
        "control character in a tag",
        "p.csv",
        CSV[:-1] + b",tags\n1,a,a,ok\n2,a,a,x;bell\x07\n",
        ["line 3, column 'tags': value 'bell\\x07'", "control characters"],
    ),
    (
        "media path escaping",
        "p.csv",
        CSV[:-1] + b",audio\n1,a,a,ok.wav\n2,a,a,../../etc/passwd\n",
        ["line 3, column 'audio': value '../../etc/passwd'", "outside the media root"],
    ),
    (
        "absolute media path",
        "p.csv",
        CSV[:-1] + b",image\n1,a,a,/etc/passwd\n",
        ["line 2, column 'image': value '/etc/passwd' is an absolute path"],
    ),
    (
        "duplicate header",
        "p.csv",
        b"id,label,prediction,x,x\n1,a,a,1,2\n",
        ["column 'x'", "more than once"],
    ),
]

BAD_INPUT_OPTIONS = {"unknown encoding": {"encoding": "no-such-codec"}}


@pytest.mark.parametrize(
    ("name", "data", "fragments"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
def test_bad_input_is_reported_precisely(request, name, data, fragments):
    options = BAD_INPUT_OPTIONS.get(request.node.callspec.id, {})
    message = str(problems_of(data, name, media_root=".", **options))
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_unmapped_column_with_a_role_name_must_be_renamed():
    data = b"id,gold,label,prediction\n1,a,b,a\n"
    err = problems_of(data, columns=ColumnMapping(label="gold"))
    assert [(p.column, p.row) for p in err.problems] == [("label", None)]
    assert "rename" in str(err) and "'gold'" in str(err)


def test_local_media_needs_a_media_root_for_uploads():
    data = CSV[:-1] + b",audio\n1,a,a,https://example.com/a.wav\n2,a,a,clips/a.wav\n"
    err = problems_of(data)
    assert "line 3, column 'audio': value 'clips/a.wav'" in str(err)
    assert "no media root" in str(err)


def test_missing_file_is_a_problem_too(tmp_path):
    with pytest.raises(ImportValidationError, match="file not found"):
        read_dataset(tmp_path / "nope.csv")


def test_every_problem_is_reported_at_once():
    data = (
        b"id,label,prediction,confidence\n"
        b"1,a,a,0.5\n"
        b"1,a,b,0.5\n"  # duplicate id
        b"3,a,b,2\n"  # out of range
        b"4,a\n"  # ragged
    )
    err = problems_of(data)
    assert len(err.problems) == 3
    assert {p.row for p in err.problems} == {3, 4, 5}


def test_types_are_checked_before_values():
    data = b"id,label,prediction,confidence\n1,a,a,high\n2,a,a,1.5\n3,a,a,-1\n"
    err = problems_of(data)
    assert [(p.row, p.value) for p in err.problems] == [(2, "high"), (3, "1.5"), (4, "-1")]
    assert "not a number (" in err.problems[0].message
    assert err.problems[1].message == "is not a number in [0, 1]"


def test_every_bad_line_of_a_non_utf8_file_is_named():
    data = CSV + b"1,\xe9,a\n2,a,a\n3,a,\xff\xfe\n"
    err = problems_of(data)
    assert [p.row for p in err.problems] == [2, 4]


def test_long_listings_are_capped():
    rows = "".join(f"{i},a,a,{i + 2}\n" for i in range(MAX_PROBLEMS_PER_CHECK + 20))
    err = problems_of(b"id,label,prediction,confidence\n" + rows.encode())
    assert len(err.problems) == MAX_PROBLEMS_PER_CHECK + 1
    assert "20 more lines" in err.problems[-1].message
    message = str(err)
    assert message.count("\n") == MAX_LISTED_PROBLEMS + 1  # head + listing + "and N more"
    assert message.endswith(f"and {MAX_PROBLEMS_PER_CHECK + 1 - MAX_LISTED_PROBLEMS} more")


@pytest.mark.parametrize(
    ("problem", "text"),
    [
        (
            Problem("is not a number in [0, 1]", column="confidence", row=7, value="1.7"),
            "line 7, column 'confidence': value '1.7' is not a number in [0, 1]",
        ),
        (
            Problem("is not a boolean", column="correct", row=2, value="x", unit="row"),
            "row 2, column 'correct': value 'x' is not a boolean",
        ),
        (Problem("the file is empty"), "the file is empty"),
        (Problem("id is empty", column="id", row=3), "line 3, column 'id': id is empty"),
        (Problem("is odd", value="a\nb\x00"), "value 'a\\x0ab\\x00' is odd"),
    ],
)
def test_problem_text(problem, text):
    assert str(problem) == text


def test_nothing_is_returned_on_failure_and_error_is_a_value_error():
    with pytest.raises(ValueError):
        read_bytes(CSV + b"1,a,a\n1,a,a\n")


def test_mapping_two_roles_to_one_column_is_a_problem():
    err = problems_of(CSV + b"1,a,a\n", columns=ColumnMapping(label="label", prediction="label"))
    assert any("both label and prediction" in p.message for p in err.problems)


def test_line_numbers_skip_blank_lines_and_count_quoted_newlines():
    data = CSV + b'\n1,"a\nb",a\n\n1,a,a\n'
    err = problems_of(data)
    assert [str(p) for p in err.problems] == [
        "line 6, column 'id': value '1' is a duplicate id (first on line 3)"
    ]


def test_ids_with_every_printable_character():
    ids = [c for c in string.printable if c not in "\r\n\x0b\x0c"]
    source = pd.DataFrame({"id": ids, "label": ids, "prediction": ids})
    frame = read_bytes(source.to_csv(index=False).encode()).frame
    assert frame["id"].tolist() == ids


def test_json_line_numbers_count_blank_lines():
    record = b'{"id": "1", "label": "a", "prediction": "a"}\n'
    err = problems_of(b"\n" + record + b"\n  \n" + record, "p.jsonl")
    assert [str(p) for p in err.problems] == [
        "line 5, column 'id': value '1' is a duplicate id (first on line 2)"
    ]


def test_deeply_nested_json_is_refused_without_crashing():
    depth = 200_000
    line = '{"id": "1", "label": "a", "prediction": "a", "m": ' + "[" * depth + "]" * depth + "}"
    err = problems_of(line.encode() + b"\n", "p.jsonl")
    assert "line 1: this line is nested too deeply" in str(err)


@pytest.mark.parametrize("quoted", [True, False])
def test_values_longer_than_a_parser_block(quoted):
    long = "x" * 3_000_000
    cell = f'"{long}"' if quoted else long
    frame = read_bytes(f"id,label,prediction,text\n1,a,a,{cell}\n2,b,b,y\n".encode()).frame
    assert frame["text"].str.len().tolist() == [3_000_000, 1]


def test_old_mac_line_endings():
    assert read_bytes(b"id,label,prediction\r1,a,a\r2,a,b\r").frame["id"].tolist() == ["1", "2"]


def test_unclosed_quote_in_the_last_field_is_not_swallowed_silently():
    err = problems_of(CSV + b'1,a,a\n2,a,"b\n3,a,a\n')
    assert [p.row for p in err.problems] == [3]


def test_parquet_details():
    frame = pd.DataFrame(
        {
            "id": [3, 1, 2],
            "label": pd.Categorical(["a", "b", "a"]),
            "prediction": ["a", "a", "a"],
            "when": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"]),
        },
        index=pd.Index([10, 11, 12], name="row"),
    )
    result = read_bytes(parquet_bytes(frame.reset_index()), "p.parquet")
    assert result.frame["id"].tolist() == ["3", "1", "2"]
    assert result.frame["label"].tolist() == ["a", "b", "a"]
    assert result.metadata_columns == ["row", "when"]
    sink = io.BytesIO()
    frame.to_parquet(sink)  # the index is stored as a column named __index_level_0__ or "row"
    assert "__index_level_0__" not in read_bytes(sink.getvalue(), "p.parquet").frame.columns


def test_parquet_text_columns_of_the_wrong_type():
    frame = pd.DataFrame(
        {
            "id": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "label": [b"ok", b"caf\xe9"],
            "prediction": ["a", "a"],
        }
    )
    message = str(problems_of(parquet_bytes(frame), "p.parquet"))
    assert "column 'id': has type timestamp" in message
    assert "row 2, column 'label': is not UTF-8 text" in message


def test_file_object_with_a_name(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_bytes(b'{"id": 1, "label": "a", "prediction": "b"}\n')
    with path.open("rb") as handle:
        result = read_dataset(handle)
    assert (result.source, result.format, result.media_root) == ("p.jsonl", "jsonl", None)


def test_too_many_tags_and_hostile_tag_cells():
    cells = ";".join(f"t{i}" for i in range(MAX_TAGS + 1))
    err = problems_of(CSV[:-1] + b",tags\n1,a,a," + cells.encode() + b"\n")
    assert f"at most {MAX_TAGS}" in str(err)
    result = read_bytes(CSV[:-1] + b",tags\n1,a,a," + b";" * 1_000_000 + b"x\n")
    assert result.dataset_tags == ["x"]


def _parquet_bytes() -> bytes:
    sink = io.BytesIO()
    pd.DataFrame({"id": ["1"], "gold": ["a"], "guess": ["b"]}).to_parquet(sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (b"id,gold,guess\n1,a,b\n", "x.csv", ["id", "gold", "guess"]),
        (b'{"id": "1", "gold": "a"}\n{"guess": "b"}\n', "x.jsonl", ["id", "gold", "guess"]),
        (_parquet_bytes(), "x.parquet", ["id", "gold", "guess"]),
        (b"not parquet", "x.parquet", []),
        (b"", "x.csv", []),
    ],
)
def test_peek_columns_for_the_mapping_form(data, filename, expected):
    assert importing.peek_columns(data, filename=filename) == expected


# ---------------------------------------------------------------------- limits that hold everywhere
def _parquet_table(**columns) -> bytes:
    """A Parquet file with exactly these columns, in order (a schema may repeat a name)."""
    names = list(columns)
    arrays = [pa.array(v) for v in columns.values()]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(arrays, names=[n.split("#")[0] for n in names]), sink)
    return sink.getvalue()


ROWS = {"id": ["1"], "label": ["a"], "prediction": ["a"]}
RECORD = '{"id": "1", "label": "a", "prediction": "a"'

HOSTILE = [
    # (case, file name, content, exact problems)
    (
        "repeated csv header named once",
        "p.csv",
        b"id,label,prediction,tags,tags,tags\n1,a,a,x,y,z\n",
        ["column 'tags': appears more than once in the header (3 times); rename all but one"],
    ),
    (
        "repeated parquet column",
        "p.parquet",
        _parquet_table(**ROWS, tags=["x"], **{"tags#2": ["y"]}),
        [
            "column 'tags': appears more than once in the file's schema (2 times); rename all but one"
        ],
    ),
    (
        "lone high surrogate in json",
        "p.jsonl",
        (
            RECORD + ', "note": "ok"}\n' + RECORD.replace('"1"', '"2"') + ', "note": "\\ud800"}\n'
        ).encode(),
        [
            "line 2, column 'note': this line holds a lone UTF-16 surrogate '\\ud800' at character 55, "
            "half of a pair, which is not text; write the character itself, or both halves of the pair"
        ],
    ),
    (
        "lone low surrogate in a json id",
        "p.jsonl",
        b'{"id": "\\udc00", "label": "a", "prediction": "a"}\n',
        [
            "line 1, column 'id': this line holds a lone UTF-16 surrogate '\\udc00' at character 9, "
            "half of a pair, which is not text; write the character itself, or both halves of the pair"
        ],
    ),
    (
        "lone surrogate in a json key",
        "p.jsonl",
        (RECORD + ', "\\ud800": 1}\n').encode(),
        [
            "line 1: this line holds a lone UTF-16 surrogate '\\ud800' at character 47, half of a "
            "pair, which is not text; write the character itself, or both halves of the pair"
        ],
    ),
    (
        "nul in a json id",
        "p.jsonl",
        b'{"id": "1\\u0000", "label": "a", "prediction": "a"}\n',
        [
            "line 1, column 'id': value '1\\x00' contains a NUL character (\\x00), which text may not hold"
        ],
    ),
    (
        "nul in json metadata",
        "p.jsonl",
        (
            RECORD + ', "note": "a"}\n' + RECORD.replace('"1"', '"2"') + ', "note": "\\u0000"}\n'
        ).encode(),
        [
            "line 2, column 'note': value '\\x00' contains a NUL character (\\x00), which text may not hold"
        ],
    ),
    (
        "nul in a json key",
        "p.jsonl",
        (RECORD + ', "a\\u0000b": 1}\n').encode(),
        ["column 'a\\x00b': the column name contains a NUL character"],
    ),
    (
        "nul in a parquet label",
        "p.parquet",
        _parquet_table(id=["1", "2"], label=["a", "b\x00"], prediction=["a", "b"]),
        [
            "row 2, column 'label': value 'b\\x00' contains a NUL character (\\x00), which text may not hold"
        ],
    ),
    (
        # Whether the ids are distinct is worked out while the table becomes a frame.
        "repeated parquet ids",
        "p.parquet",
        _parquet_table(id=["1", "2", "1", "2"], label=["a"] * 4, prediction=["a"] * 4),
        [
            "row 3, column 'id': value '1' is a duplicate id (first on row 1)",
            "row 4, column 'id': value '2' is a duplicate id (first on row 2)",
        ],
    ),
    (
        "empty parquet ids, distinct otherwise",
        "p.parquet",
        _parquet_table(id=["1", None, ""], label=["a"] * 3, prediction=["a"] * 3),
        ["row 2, column 'id': id is empty", "row 3, column 'id': id is empty"],
    ),
    (
        "repeated whole-number parquet ids",
        "p.parquet",
        _parquet_table(id=[7, 8, 7], label=["a"] * 3, prediction=["a"] * 3),
        ["row 3, column 'id': value '7' is a duplicate id (first on row 1)"],
    ),
    (
        "nul in a csv id",
        "p.csv",
        CSV + b"1\x00,a,a\n",
        ["the file contains binary data (a NUL byte on line 2); it is not a CSV text file"],
    ),
    (
        "tag:NAME columns past the limit",
        "p.csv",
        (
            "id,label,prediction," + ",".join(f"tag:t{i}" for i in range(2000)) + "\n"
            "1,a,a," + ",".join(["1"] * 2000) + "\n"
        ).encode(),
        [
            f"the file holds 2000 different tags (2000 in tag:NAME columns); at most {MAX_TAGS} are supported"
        ],
    ),
    (
        "both kinds of tag columns together past the limit",
        "p.csv",
        (
            "id,label,prediction,tags," + ",".join(f"tag:c{i}" for i in range(300)) + "\n"
            "1,a,a," + ";".join(f"t{i}" for i in range(300)) + "," + ",".join(["1"] * 300) + "\n"
        ).encode(),
        [
            "the file holds 600 different tags (300 in tag:NAME columns, 300 in the 'tags' "
            f"column); at most {MAX_TAGS} are supported"
        ],
    ),
    (
        "rot13 is not a text encoding",
        "p.csv",
        CSV + b"1,a,a\n",
        [
            "'rot13' is a codec but not a text encoding (it does not turn bytes into text); "
            "pass one such as utf-8, latin-1, cp1252 or utf-16"
        ],
    ),
    (
        "base64 is not a text encoding",
        "p.csv",
        CSV + b"1,a,a\n",
        [
            "'base64' is a codec but not a text encoding (it does not turn bytes into text); "
            "pass one such as utf-8, latin-1, cp1252 or utf-16"
        ],
    ),
    (
        "an encoding that decodes to lone surrogates",
        "p.csv",
        CSV + b"1,a,a\n2,a,\\ud800\n",
        [
            "line 3: this line is not valid unicode-escape text (the lone surrogate U+D800, half "
            "of a UTF-16 pair, is not text); if the file uses another encoding, pass it: "
            "--encoding latin-1 on the command line, encoding='latin-1' in Python"
        ],
    ),
]
HOSTILE_OPTIONS = {
    "rot13 is not a text encoding": {"encoding": "rot13"},
    "base64 is not a text encoding": {"encoding": "base64"},
    "an encoding that decodes to lone surrogates": {"encoding": "unicode_escape"},
}


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [case[1:] for case in HOSTILE],
    ids=[case[0] for case in HOSTILE],
)
def test_limits_hold_in_every_format(request, name, data, expected):
    err = problems_of(data, name, **HOSTILE_OPTIONS.get(request.node.callspec.id, {}))
    assert [str(p) for p in err.problems] == expected


def test_a_surrogate_pair_in_json_is_one_character():
    result = read_bytes(
        (RECORD + ', "note": "\\ud83d\\ude00", "path": "\\\\ud800"}\n').encode(), "p.jsonl"
    )
    assert result.frame[["note", "path"]].iloc[0].tolist() == ["\U0001f600", "\\ud800"]


def test_tags_at_the_limit_pass_from_both_kinds_of_column():
    half = MAX_TAGS // 2
    header = "id,label,prediction,tags," + ",".join(f"tag:c{i}" for i in range(half))
    cells = ";".join(f"t{i}" for i in range(MAX_TAGS - half)) + "," + ",".join(["1"] * half)
    data = f"{header}\n1,a,a,{cells}\n".encode()
    assert len(read_bytes(data).dataset_tags) == MAX_TAGS


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.mkdir(), "is a folder, not a data file"),
        (lambda p: os.mkfifo(p), "is not a regular file"),
        (lambda p: None, "file not found"),
    ],
    ids=["folder", "fifo", "missing"],
)
def test_a_path_that_is_not_a_data_file(tmp_path, make, expected):
    path = tmp_path / "p.csv"
    make(path)
    with pytest.raises(ImportValidationError, match=expected):
        read_dataset(path)


# ---------------------------------------------------------------------- reviews and tag definitions
KNOWN = pd.Index(["1", "2", "3"])


def read_table(tmp_path, content: bytes | str, reader: str = "reviews", **options):
    path = tmp_path / "table.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    if reader == "reviews":
        return read_reviews(path, known_ids=KNOWN, **options)
    return read_tag_definitions(path, **options)


def test_reviews_are_read_with_their_tags(tmp_path):
    table = read_table(
        tmp_path, 'id,reviewer,tags\n1,ana,car noise; echo\n2, ben ,\n3,ana,"a;b;a"\n'
    )
    assert table.reviews.values.tolist() == [["1", "ana"], ["2", " ben "], ["3", "ana"]]
    assert table.tags == [["car noise", "echo"], [], ["a", "b", "a"]]


def test_tag_definitions_are_read_as_numbers(tmp_path):
    frame = read_table(tmp_path, "tag,hlp,effort,description\n x ,0.5,2,hum\ny,,,\n", "tags")
    assert frame.to_dict("list") == {
        "tag": ["x", "y"],
        "hlp": [0.5, pytest.approx(np.nan, nan_ok=True)],
        "effort": [2.0, pytest.approx(np.nan, nan_ok=True)],
        "description": ["hum", ""],
    }


LONG = "r" * 5000
BAD_TABLES = [
    # (case, reader, content, exact problems)
    (
        "repeated tags header",
        "reviews",
        "id,reviewer,tags,tags\n1,ana,x,y\n",
        ["column 'tags': appears more than once in the header (2 times); rename all but one"],
    ),
    (
        "repeated hlp header",
        "tags",
        "tag,hlp,hlp\nx,0.1,0.9\n",
        ["column 'hlp': appears more than once in the header (2 times); rename all but one"],
    ),
    (
        "reviewer with a direction override",
        "reviews",
        "id,reviewer,tags\n1,ana\u202e,x\n",
        [
            "line 2, column 'reviewer': value 'ana\u202e' is not a reviewer name: reviewer name "
            "contains Unicode direction controls (such as U+202E), which make text read "
            "differently from what it is: 'ana\\u202e'"
        ],
    ),
    (
        "reviewer with a control character, on every line it appears",
        "reviews",
        "id,reviewer,tags\n1,a\x07b,x\n2,ana,\n3,a\x07b,\n",
        [
            "line 2, column 'reviewer': value 'a\\x07b' is not a reviewer name: reviewer name "
            "contains control characters: 'a\\x07b'",
            "line 4, column 'reviewer': value 'a\\x07b' is not a reviewer name: reviewer name "
            "contains control characters: 'a\\x07b'",
        ],
    ),
    (
        "reviewer name of 5,000 characters",
        "reviews",
        f"id,reviewer,tags\n1,{LONG},x\n",
        [
            f"line 2, column 'reviewer': value '{'r' * 79}…' is not a reviewer name: reviewer "
            f"name is longer than 100 characters (5,000): '{'r' * 39}…'"
        ],
    ),
    (
        "tag definition with a direction override",
        "tags",
        "tag,hlp\nx\u202e,0.5\n",
        [
            "line 2, column 'tag': value 'x\u202e' is not a tag name: tag name contains Unicode "
            "direction controls (such as U+202E), which make text read differently from what "
            "it is: 'x\\u202e'"
        ],
    ),
    (
        "nul in a description",
        "tags",
        "tag,hlp,description\nx,0.5,a\x00b\n",
        ["the file contains binary data (a NUL byte on line 2); it is not a CSV text file"],
    ),
    (
        "nul in a review id",
        "reviews",
        "id,reviewer,tags\n1\x00,ana,x\n",
        ["the file contains binary data (a NUL byte on line 2); it is not a CSV text file"],
    ),
    (
        "too many tags in reviews",
        "reviews",
        "id,reviewer,tags\n1,ana," + ";".join(f"t{i}" for i in range(MAX_TAGS + 1)) + "\n",
        [
            f"column 'tags': the file holds {MAX_TAGS + 1} different tags; at most {MAX_TAGS} are supported"
        ],
    ),
    (
        "too many tag definitions",
        "tags",
        "tag,hlp\n" + "".join(f"t{i},0.5\n" for i in range(MAX_TAGS + 1)),
        [
            f"column 'tag': the file defines {MAX_TAGS + 1} different tags; at most {MAX_TAGS} are supported"
        ],
    ),
    (
        "infinite effort and an underscore number",
        "tags",
        "tag,hlp,effort\nx,0.5,inf\ny,0_5,1\n",
        [
            "line 2, column 'effort': value 'inf' is not a finite number > 0",
            "line 3, column 'hlp': value '0_5' is not a finite number in [0, 1]",
        ],
    ),
    (
        "every problem at once, on the right lines",
        "reviews",
        'id,reviewer,tags\n1,ana,"two\nlines"\n404,ana,x\n2,,x\n3,ana,ok;bad\x01\n4,ana\n',
        [
            "line 7: this row has 2 fields, but the header has 3",
            "line 2, column 'tags': value 'two\\x0alines' is not a tag name: tag name contains "
            "control characters: 'two\\x0alines'",
            "line 6, column 'tags': value 'bad\\x01' is not a tag name: tag name contains "
            "control characters: 'bad\\x01'",
            "line 4, column 'id': value '404' is not an id of this dataset",
            "line 5, column 'reviewer': value '' is not a reviewer name: reviewer name is empty",
        ],
    ),
    (
        "listed twice names the first line",
        "tags",
        "tag,hlp\nx,0.5\ny,0.5\n x,0.7\n",
        ["line 4, column 'tag': value ' x' is listed twice (first on line 2)"],
    ),
    ("no rows", "reviews", "id,reviewer,tags\n", ["the file has a header but no rows"]),
    (
        "missing columns",
        "tags",
        "tag,effort\nx,1\n",
        ["column 'hlp': missing required column (columns found: 'tag', 'effort')"],
    ),
    ("a folder of the same name", "reviews", None, ["is a folder, not a data file"]),
]


@pytest.mark.parametrize(
    ("reader", "content", "expected"),
    [case[1:] for case in BAD_TABLES],
    ids=[case[0] for case in BAD_TABLES],
)
def test_bad_tables_list_every_problem(tmp_path, reader, content, expected):
    if content is None:
        (tmp_path / "table.csv").mkdir()
    with pytest.raises(ImportValidationError) as caught:
        if content is None:
            read_reviews(tmp_path / "table.csv", known_ids=KNOWN)
        else:
            read_table(tmp_path, content, reader)
    messages = [str(p) for p in caught.value.problems]
    if content is None:
        assert len(messages) == 1 and expected[0] in messages[0]
    else:
        assert messages == expected


@pytest.mark.slow
def test_a_million_reviews_read_whole(tmp_path):
    # The speed of a 1M-row reviews import is measured by `make bench`, not here: this
    # checks that every row of a million arrives with its own tags.
    n = 1_000_000
    path = tmp_path / "reviews.csv"
    path.write_text("id,reviewer,tags\n" + "".join(f"{i},r{i % 7},t{i % 13};u\n" for i in range(n)))
    table = read_reviews(path, known_ids=pd.Index([str(i) for i in range(n)]))
    assert len(table.tags) == n and table.tags[14] == ["t1", "u"]


# ---------------------------------------------------------------------- found by the fuzz campaign
def test_json_integers_past_64_bits_are_read_as_text():
    data = (
        RECORD
        + ', "big": 1'
        + "0" * 30
        + "}\n"
        + RECORD.replace('"1"', '"2"')
        + ', "big": "n/a"}\n'
    )
    result = read_bytes(data.encode(), "p.jsonl")
    assert result.frame["big"].tolist() == ["1" + "0" * 30, "n/a"]
    assert result.warnings == [
        "column 'big' holds whole numbers too large for 64 bits; it was read as text"
    ]


def test_a_json_confidence_too_large_for_a_float_is_a_problem():
    err = problems_of((RECORD + ', "confidence": 1' + "0" * 400 + "}\n").encode(), "p.jsonl")
    assert [(p.row, p.column) for p in err.problems] == [(1, "confidence")]


def _parquet_invalid_utf8() -> bytes:
    offsets = pa.py_buffer(np.asarray([0, 1, 2], dtype=np.int32).tobytes())
    label = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"a\xff")])
    sink = io.BytesIO()
    pq.write_table(pa.table({"id": ["1", "2"], "label": label, "prediction": ["a", "b"]}), sink)
    return sink.getvalue()


def _parquet_far_dates(column: str) -> bytes:
    columns = {"id": ["1", "2"], "label": ["a", "b"], "prediction": ["a", "b"]}
    columns[column] = pa.array([0, 2**62], pa.timestamp("ms"))
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue()


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_parquet_with()[:-10], "the Parquet file is cut short (no 'PAR1' marker at its end)"),
        (_parquet_invalid_utf8(), "column 'label': holds text that is not valid UTF-8"),
        (
            _parquet_far_dates("id"),
            "column 'id': has type timestamp[ms], whose values cannot be read",
        ),
    ],
    ids=["cut short", "invalid utf-8 text", "dates out of range as ids"],
)
def test_damaged_parquet_is_a_problem(data, expected):
    err = problems_of(data, "p.parquet")
    assert len(err.problems) == 1 and str(err.problems[0]).startswith(expected)


def test_a_parquet_file_s_blob_is_encoded_while_its_ids_are_checked(tmp_path):
    from erroranalysis.store.common import _frame_to_blob

    path = tmp_path / "p.parquet"
    path.write_bytes(
        _parquet_table(id=["1", "2", "3"], label=["a"] * 3, prediction=["a", "b", "a"])
    )
    result = importing.read_dataset(path)
    # The blob the store would have encoded itself, byte for byte.
    assert result.encoded is not None
    assert result.encoded.result() == _frame_to_blob(result.frame)
    csv = tmp_path / "p.csv"
    csv.write_bytes(CSV + b"1,a,a\n")
    assert importing.read_dataset(csv).encoded is None


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, ["mimalloc", "jemalloc", "mimalloc", "jemalloc"]),
        ({"ARROW_DEFAULT_MEMORY_POOL": "system"}, ["system"] * 4),
    ],
    ids=["by format", "the operator's choice"],
)
def test_arrow_s_allocator_is_chosen_per_format_unless_the_operator_chose(
    tmp_path, environment, expected
):
    if environment == {} and not _has_jemalloc():
        pytest.skip("this pyarrow is built without jemalloc")
    csv = tmp_path / "p.csv"
    csv.write_bytes(CSV + b"1,a,a\n")
    parquet = tmp_path / "p.parquet"
    parquet.write_bytes(_parquet_table(id=["1", "2"], label=["a", "a"], prediction=["a", "b"]))
    # In one process: the pool before any import, then after each of three.
    code = (
        "import sys, pyarrow as pa; from erroranalysis.importing import read_dataset\n"
        "print(pa.default_memory_pool().backend_name)\n"
        "for path in sys.argv[1:]:\n"
        "    read_dataset(path)\n"
        "    print(pa.default_memory_pool().backend_name)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(parquet), str(csv), str(parquet)],
        capture_output=True,
        text=True,
        env=env | environment,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == expected


def _has_jemalloc() -> bool:
    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        return False
    return True
