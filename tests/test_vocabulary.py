"""Names: one rule for every dataset, run, tag and reviewer name, however it arrives."""

from __future__ import annotations

import pytest

from erroranalysis.errors import InvalidName, StoreError
from erroranalysis.vocabulary import MAX_NAME, check_name


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("car noise", "car noise"),
        ("  car noise  ", "car noise"),
        ("ünïcødé 名前", "ünïcødé 名前"),
        ("x" * MAX_NAME, "x" * MAX_NAME),
        ("=1+1", "=1+1"),  # inert in the store; neutralised on export
    ],
)
def test_good_names_come_back_trimmed(value, expected):
    assert check_name(value, kind="tag") == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "tag name is empty"),
        ("   ", "tag name is empty"),
        (None, "tag name must be text, got NoneType"),
        (7, "tag name must be text, got int"),
        ("x" * (MAX_NAME + 1), "longer than 100 characters \\(101\\)"),
        ("x" * 5000, "longer than 100 characters \\(5,000\\)"),
        ("a\x00b", "control characters: 'a\\\\x00b'"),
        ("bell\x07", "control characters"),
        ("\x1fleading", "control characters"),  # str.strip() would drop it silently
        ("trailing\x85", "control characters"),
        ("new\nline", "control characters"),
        ("\ttab", "control characters"),
        ("del\x7f", "control characters"),
        ("csi\x9b", "control characters"),
        ("exe.\u202etxt", "direction controls .*'exe.\\\\u202etxt'"),
        ("\u2066isolate\u2069", "direction controls"),
        ("mark\u200f", "direction controls"),
        ("lone\ud800", "lone surrogate"),
    ],
)
def test_bad_names_are_refused_with_the_reason(value, message):
    with pytest.raises(InvalidName, match=message):
        check_name(value, kind="tag")


@pytest.mark.parametrize("kind", ["dataset", "run", "tag", "reviewer"])
def test_the_message_names_the_kind_and_is_a_store_error(kind):
    with pytest.raises(StoreError, match=f"^{kind} name is empty$"):
        check_name("", kind=kind)


@pytest.mark.parametrize(
    ("kind", "allowed"),
    [("tag", False), ("reviewer", False), ("dataset", True), ("run", True)],
)
def test_only_names_listed_in_a_cell_refuse_the_separator(kind, allowed):
    # A sheet's tags and reviewer cells list several names split by ';', so a tag or
    # reviewer name holding one would come back as two.
    if allowed:
        assert check_name("a;b", kind=kind) == "a;b"
    else:
        with pytest.raises(InvalidName, match=f"^{kind} name contains ';', which separates"):
            check_name("a;b", kind=kind)
