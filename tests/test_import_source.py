"""The text preamble of CSV and JSON Lines files: checked without a second copy of the file.

A data file is held once, as bytes: its encoding, first line and binary content are
checked on those bytes, and no decoded ``str`` of the whole file is kept beside them.
"""

from __future__ import annotations

import codecs
import io
import re
import tracemalloc

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from erroranalysis.importing import ImportValidationError, read_dataset, source
from erroranalysis.importing.report import Report
from erroranalysis.importing.source import text_file


def checked(raw: bytes, encoding: str = "utf-8"):
    report = Report()
    return text_file(raw, encoding=encoding, kind="CSV", report=report), report


def test_a_utf8_file_is_its_own_text():
    raw = b"id,label,prediction\n1,caf\xc3\xa9,caf\xc3\xa9\n"
    decoded, report = checked(raw)
    assert decoded.data is raw
    assert report.problems == []


def test_a_byte_order_mark_is_dropped():
    decoded, _ = checked(codecs.BOM_UTF8 + b"id\n1\n")
    assert decoded.data == b"id\n1\n"


def test_another_encoding_becomes_utf8():
    decoded, _ = checked("id\ncafé\n".encode("latin-1"), encoding="latin-1")
    assert decoded.data == "id\ncafé\n".encode()


@pytest.mark.parametrize(
    ("raw", "line", "first"),
    [
        (b"id,label\n1,a\n", 1, "id,label"),
        (b"\n\n  id,label \r\n1,a\n", 3, "id,label"),
        ("\u00a0\u3000\nid\n".encode(), 2, "id"),  # Unicode spaces make a line blank
        (b" \r\n\t\n\x0b\n", 0, ""),
        (b"", 0, ""),
        (b"id", 1, "id"),
    ],
)
def test_the_first_line_that_is_not_blank(raw, line, first):
    decoded, report = checked(raw)
    if line:
        assert (decoded.line, decoded.first) == (line, first)
    else:
        assert decoded is None
        assert [p.message for p in report.problems] == ["the file is empty"]


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            b"id\n1\x00\n",
            "the file contains binary data (a NUL byte on line 2); it is not a CSV text file",
        ),
        (
            b"\x00id\n",
            "the file contains binary data (a NUL byte on line 1); it is not a CSV text file",
        ),
        (
            b"id\n\xff\n",
            "this line is not valid utf-8 text (bytes 0xff); if the file uses another encoding, "
            "pass it: --encoding latin-1 on the command line, encoding='latin-1' in Python",
        ),
    ],
)
def test_binary_content_and_bad_bytes_are_named(raw, message):
    _, report = checked(raw)
    assert message in [p.message for p in report.problems]


def _first_line_of_text(text: str) -> tuple[int, str]:
    """The first line that is not blank, found on the decoded text (what the checks did
    before they read the bytes)."""
    found = re.search(r"\S", text)
    if found is None:
        return 0, ""
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    return text.count("\n", 0, start) + 1, line.strip()


@given(st.text(alphabet=st.sampled_from(" \t\r\n\u00a0\u2028\u3000ab,é\u0085"), max_size=40))
def test_the_first_line_read_from_bytes_is_the_one_read_from_text(text):
    decoded, _ = checked(text.encode())
    expected = _first_line_of_text(text)
    if expected[0] == 0:
        assert decoded is None
    else:
        assert (decoded.line, decoded.first) == expected


def test_checking_a_file_allocates_no_copy_of_its_text():
    raw = b"id,label,prediction\n" + b"".join(
        b"%d,caf\xc3\xa9,caf\xc3\xa9\n" % i for i in range(1_000_000)
    )
    tracemalloc.start()
    try:
        decoded, _ = checked(raw)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert decoded.data is raw
    # Decoding the whole file would allocate its text (more than len(raw) here); the check
    # decodes a piece of 1 MB at a time.
    assert peak < len(raw) // 4, (peak, len(raw))


def test_a_csv_read_from_bytes_names_its_lines_as_before():
    raw = b'\n id,label,prediction\n1,a,a\n2,b\n3,"c\nd",x\n'
    with pytest.raises(Exception) as caught:
        read_dataset(io.BytesIO(raw), filename="p.csv")
    text = str(caught.value)
    assert "line 4: this row has 2 fields, but the header has 3" in text


BIG = b"id,label,prediction\n" + b"".join(b"%d,caf\xc3\xa9,a\n" % i for i in range(150_000))


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        (b"id,label,prediction\n1,a,a\n2,b,a\n", "utf-8"),
        (codecs.BOM_UTF8 + b"id,label,prediction\n1,a,a\n", "utf-8"),
        (b"\n\n id,label,prediction\n1,a,a\n", "utf-8"),
        (b'\n id,label,prediction\n1,a,a\n2,b\n3,"c\nd",x\n', "utf-8"),
        (b'id,label,prediction\n1,"a,a\n', "utf-8"),
        (b"id,label,prediction\n1,caf\xe9,a\n2,\xff,b\n", "utf-8"),
        (b"id,label,prediction\n1,caf\xe9,a\n", "latin-1"),
        (b"id,label,prediction\n1,a,a\n", "no-such-codec"),
        (b"id,label,prediction\n1,a,a\n2,\x00,b\n", "utf-8"),
        (b"", "utf-8"),
        (b"\n \r\n", "utf-8"),
        (b"PAR1\x00\x00", "utf-8"),
        (b'{"id": 1}\n', "utf-8"),
        (b"id,label,prediction\n1,a,a\n1,b,b\n", "utf-8"),
        (b'id,label,prediction\r\n1,"a",a\r\n\r\n2,b,b\r\n1,c,c\r\n', "utf-8"),
        # Past the first megabyte the check reads on: a NUL, a repeated id, bytes that do
        # not decode, and characters cut by the megabyte's end.
        (BIG + b"x,\x00,a\n", "utf-8"),
        (BIG + b"7,a,a\n", "utf-8"),
        (BIG + b"x,\xe9,a\n", "utf-8"),
        (BIG, "utf-8"),
    ],
)
def test_a_csv_read_from_its_path_reads_as_from_its_bytes(tmp_path, raw, encoding):
    path = tmp_path / "p.csv"
    path.write_bytes(raw)

    def outcome(source):
        try:
            result = read_dataset(source, filename="p.csv", encoding=encoding)
        except ImportValidationError as err:
            return str(err).replace(str(path), "p.csv")
        return result.frame, result.warnings

    from_path, from_bytes = outcome(path), outcome(io.BytesIO(raw))
    if isinstance(from_bytes, str):
        assert from_path == from_bytes
    else:
        pd.testing.assert_frame_equal(from_path[0], from_bytes[0])
        assert from_path[1] == from_bytes[1]


def test_a_csv_read_from_its_path_is_never_in_memory_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(source, "_CHECK_CHUNK", 1 << 16)  # a file of many pieces
    path = tmp_path / "p.csv"
    path.write_bytes(BIG)
    tracemalloc.start()
    try:
        result = read_dataset(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(result.frame) == 150_000
    # The checks and the parser read the file a piece at a time, and the parsed table is
    # Arrow's memory, not Python's: what Python holds at once is far less than the file
    # (its bytes would be all of it).
    assert peak < len(BIG) // 3, (peak, len(BIG))
