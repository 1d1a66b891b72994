"""Fuzz campaign: hostile but plausible files for every importer, as functions and as commands.

Each file is a valid one mutated the way real files go wrong (random bytes spliced in, cut
short, another encoding, byte order marks, repeated headers, NUL bytes, lone surrogates,
huge numbers, nested JSON, empty). Every importer either succeeds or raises an
:class:`~erroranalysis.errors.ExpectedError` -- never any other exception -- and a command
that fails leaves the project file byte for byte as it was.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import json
import math
import os
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.cli import main
from erroranalysis.errors import ExpectedError
from erroranalysis.importing import (
    ImportValidationError,
    read_dataset,
    read_reviews,
    read_tag_definitions,
)

# FUZZ_EXAMPLES=3000 runs a longer campaign; the default keeps this file to about 30 s.
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "250"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

IDS = ["1", "2", "3", "007"]
DATASET_CSV = (
    "id,label,prediction,confidence,correct,tags,tag:noisy,speaker,snr\n"
    "1,cat,cat,0.9,true,car noise;echo,1,ann,3.5\n"
    '2,dog,cat,0.25,false,,0,"bob, jr",-2\n'
    '3,"multi\nline",cat,,false,echo,,cy,7\n'
    "007,cat,cat,1.0,true,,true,ann,\n"
)
DATASET_RECORDS = [
    {
        "id": "1",
        "label": "cat",
        "prediction": "cat",
        "confidence": 0.9,
        "tags": "echo",
        "speaker": "ann",
        "snr": 3.5,
        "meta": {"k": [1, 2]},
    },
    {
        "id": 2,
        "label": "dog",
        "prediction": "cat",
        "confidence": 0.25,
        "tags": "",
        "speaker": "bob",
        "snr": -2,
        "meta": None,
    },
    {
        "id": "3",
        "label": "cat",
        "prediction": "cat",
        "confidence": None,
        "tag:noisy": True,
        "speaker": "cy",
        "snr": 7,
    },
    {"id": "007", "label": "cat", "prediction": "dog", "confidence": 1, "speaker": "ann"},
]
DATASET_JSONL = "".join(json.dumps(r) + "\n" for r in DATASET_RECORDS)
REVIEWS_CSV = 'id,reviewer,tags\n1,ana,car noise;echo\n2,ben,\n3,ana,"a;b"\n007,cy,echo\n'
# A spreadsheet's reviews: a column per tag, notes and label flags, saved with a byte
# order mark, ';' between fields and CRLF line ends.
SHEET_CSV = (
    "\ufeffid;reviewer;car noise;tag:echo;note;label_wrong;corrected_label;noise\r\n"
    '1;ana;x;;"a; b";yes;no;car\r\n2;ana;;TRUE;;;;\r\n007;cy;;1;=hum;0;;\r\n3;;;;;;;\r\n'
)
TAGS_CSV = "tag,hlp,effort,description\ncar noise,0.93,2,engine hum\necho,0.7,,\nb,,1,x\n"

# Text the mutations splice in: the pieces real hostile files are made of.
HOSTILE = [
    "\x00",
    "\ufeff",
    "\u202e",
    "\ud800",
    "\\ud800",
    "\\udc00",
    "\\u0000",
    '"',
    '""',
    ",",
    ";",
    "\n",
    "\r",
    "\r\n",
    "\t",
    "{",
    "}",
    "[",
    "]",
    ":",
    "tags",
    "id",
    "tag:x",
    "tag:",
    "1e400",
    "-1e400",
    "NaN",
    "Infinity",
    "9" * 400,
    "-0",
    "0x1F",
    "true",
    "null",
    '{"a": {"b": [1, {"c": null}]}}',
    "[[[[[[[[]]]]]]]]",
    '=HYPERLINK("x")',
    "é",
    "\U0001f600",
    ";" * 50,
    "\x1f",
    "\x85",
    "\u2028",
]
HOSTILE_BYTES = [
    b"\xff",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xed\xa0\x80",
    b"\xc3",
    b"\x80",
    b"PAR1",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"SQLite format 3\x00",
    b"\x00\x00",
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1", "cp1252", "utf-32"]


@st.composite
def mutated(draw, text: str) -> tuple[bytes, str]:
    """(bytes of ``text`` after a few mutations, the encoding to read them with)."""
    encoding = draw(st.sampled_from(["utf-8"] * len(ENCODINGS) + ENCODINGS))
    written = draw(st.sampled_from([encoding, encoding, "utf-8", "latin-1"]))
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["splice", "header", "line", "delete", "case"]))
        at = draw(st.integers(0, len(text)))
        if kind == "splice":
            text = text[:at] + draw(st.sampled_from(HOSTILE) | st.text(max_size=8)) + text[at:]
        elif kind == "header":  # repeat a header name
            head, _, rest = text.partition("\n")
            names = head.split(",")
            text = head + "," + draw(st.sampled_from(names)) + "\n" + rest
        elif kind == "line":  # repeat a line
            lines = text.split("\n")
            index = draw(st.integers(0, len(lines) - 1))
            text = "\n".join([*lines[: index + 1], lines[index], *lines[index + 1 :]])
        elif kind == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 20)) :]
        else:
            text = text.upper() if draw(st.booleans()) else text.lower()
    try:  # lone surrogates written as UTF-8 would write them (the bytes ED A0 80)
        data = text.encode(written, errors="surrogatepass")
    except UnicodeEncodeError:
        data = text.encode(written, errors="replace")
    if draw(st.booleans()):
        for _ in range(draw(st.integers(1, 3))):
            at = draw(st.integers(0, len(data)))
            piece = draw(st.sampled_from(HOSTILE_BYTES) | st.binary(min_size=1, max_size=6))
            data = data[:at] + piece + data[at:]
    if draw(st.booleans()):
        data = data[: draw(st.integers(0, len(data)))]  # cut short (possibly to nothing)
    if draw(st.integers(0, 9)) == 0:
        data = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b""])) + data
    return data, encoding


# Arrow columns a Parquet file may hold, under the names the importer gives roles to.
PARQUET_VALUES = st.sampled_from(
    [
        pa.array(["1", "2", "3"]),
        pa.array(["a\x00", "b", None]),
        pa.array([1, 2, 2**62]),
        pa.array([1.5, math.nan, -math.inf]),
        pa.array([True, False, None]),
        pa.array([b"\xff", b"ok", None]),
        pa.array([[1], [], None], pa.list_(pa.int64())),
        pa.array([{"k": 1}, {"k": None}, None]),
        pa.nulls(3),
        pa.array(["x", "y", "x"]).dictionary_encode(),
        pa.array(["1", "2", "3"], pa.large_string()),
        pa.array([0, 1, 2], pa.timestamp("ms")),
        pa.array([1, 2, 3], pa.decimal128(5, 0)),
        pa.array(["\u202e", "=1+1", "a;" * 600]),
    ]
)
PARQUET_NAMES = st.sampled_from(
    [
        "correct",
        "confidence",
        "tags",
        "tag:x",
        "tag:",
        "speaker",
        "human_label",
        "audio",
        "__index_level_0__",
        "id\x00",
        "",
        "x" * 300,
    ]
)


@st.composite
def parquet_files(draw) -> bytes:
    names = ["id", "label", "prediction"]
    names += draw(st.lists(PARQUET_NAMES, max_size=4))
    if draw(st.integers(0, 4)) == 0:
        names.append(draw(st.sampled_from(names)))  # a schema may repeat a name
    columns = [draw(PARQUET_VALUES) for _ in names]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_arrays(columns, names=names), sink)
    data = sink.getvalue()
    kind = draw(st.sampled_from(["as is", "as is", "cut", "splice", "flip"]))
    if kind == "cut":
        data = data[: draw(st.integers(0, len(data)))]
    elif kind == "splice":
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
    elif kind == "flip":
        at = draw(st.integers(0, len(data) - 1))
        data = data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]
    return data


@st.composite
def jsonl_files(draw) -> tuple[bytes, str]:
    text = DATASET_JSONL
    if draw(st.booleans()):  # a record with hostile values, written by json itself
        value = draw(
            st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=3), inner, max_size=3)
                ),
                max_leaves=6,
            )
        )
        key = draw(st.sampled_from(["id", "label", "prediction", "tags", "confidence", "m"]))
        record = {**DATASET_RECORDS[0], "id": "9", key: value}
        text += json.dumps(record) + "\n"
    return draw(mutated(text))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else ""


def expect_clean(call) -> None:
    """Run an importer: success, or an expected error with a message -- nothing else."""
    try:
        call()
    except ExpectedError as err:
        assert str(err).strip()
        if isinstance(err, ImportValidationError):
            assert err.problems


def written(path: Path, data: bytes) -> Path:
    """``path``, holding ``data``."""
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------- the functions
@FUZZ
@given(case=mutated(DATASET_CSV))
def test_read_dataset_csv(case):
    data, encoding = case
    expect_clean(lambda: read_dataset(io.BytesIO(data), filename="p.csv", encoding=encoding))


@FUZZ
@given(case=jsonl_files())
def test_read_dataset_jsonl(case):
    data, encoding = case
    expect_clean(lambda: read_dataset(io.BytesIO(data), filename="p.jsonl", encoding=encoding))


@FUZZ
@given(data=parquet_files())
def test_read_dataset_parquet(data):
    expect_clean(lambda: read_dataset(io.BytesIO(data), filename="p.parquet"))


@FUZZ
@given(case=st.one_of(mutated(REVIEWS_CSV), mutated(SHEET_CSV)))
def test_read_reviews(tmp_path, case):
    data, encoding = case
    path = written(tmp_path / "reviews.csv", data)
    options = {"example_columns": ["noise"], "derived_tags": ["echo"]}
    expect_clean(lambda: read_reviews(path, known_ids=pd.Index(IDS), encoding=encoding, **options))


@FUZZ
@given(case=mutated(TAGS_CSV))
def test_read_tag_definitions(tmp_path, case):
    data, encoding = case
    path = written(tmp_path / "tags.csv", data)
    expect_clean(lambda: read_tag_definitions(path, encoding=encoding))


# ---------------------------------------------------------------------- the commands
@pytest.fixture(scope="module")
def project_bytes(tmp_path_factory) -> bytes:
    """A real project file with the dataset imported, as bytes to copy for each example."""
    folder = tmp_path_factory.mktemp("fuzz-project")
    data = folder / "dev.csv"
    data.write_text(DATASET_CSV.replace("tags,", "tags_,").replace("tag:noisy", "noisy"))
    db = folder / "p.db"
    assert main(["import", str(data), "--db", str(db), "--dataset", "dev"]) == 0
    return db.read_bytes()


COMMANDS = {
    "import csv": (["import"], "p.csv", mutated(DATASET_CSV)),
    "import jsonl": (["import"], "p.jsonl", jsonl_files()),
    "import parquet": (["import"], "p.parquet", parquet_files().map(lambda d: (d, "utf-8"))),
    "reviews import": (["reviews", "import"], "reviews.csv", mutated(REVIEWS_CSV)),
    "tags import": (["tags", "import"], "tags.csv", mutated(TAGS_CSV)),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_commands_fail_cleanly_and_change_nothing(tmp_path_factory, project_bytes, name):
    command, filename, files = COMMANDS[name]

    @settings(FUZZ, max_examples=max(EXAMPLES // 3, 10))
    @given(case=files)
    def run(case):
        data, encoding = case
        folder = tmp_path_factory.mktemp("fuzz")
        db = written(folder / "p.db", project_bytes)
        source = written(folder / filename, data)
        dataset = ["--dataset", "new" if command == ["import"] else "dev"]
        args = [*command, str(source), "--db", str(db), *dataset, "--encoding", encoding]
        before = sha256(db)
        code = main(args)
        assert code in (0, 1)
        if code == 1:
            assert sha256(db) == before
            # SQLite's -wal and -shm companions of the project may appear (a reader makes
            # them); nothing else may, and the project file itself is unchanged.
            made = {p.name for p in folder.iterdir()} - {"p.db-wal", "p.db-shm"}
            assert made == {"p.db", filename}

    run()
