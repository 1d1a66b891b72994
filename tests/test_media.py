"""Media paths from data stay inside the media root; URLs are http(s) only."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erroranalysis.media import (
    UnsafeMediaPath,
    check_media_paths,
    is_url,
    resolve_media,
    scan_media_paths,
)


@pytest.fixture
def root(tmp_path):
    """A media root with a few files, a link inside, and links pointing out of it."""
    media = tmp_path / "media"
    (media / "clips").mkdir(parents=True)
    (media / "a.wav").write_bytes(b"RIFF")
    (media / "clips" / "b.wav").write_bytes(b"RIFF")
    (media / "ünï code.wav").write_bytes(b"RIFF")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd").write_text("root:x:0:0")
    (media / "leak.wav").symlink_to(outside / "passwd")
    (media / "leakdir").symlink_to(outside, target_is_directory=True)
    (media / "alias.wav").symlink_to(media / "clips" / "b.wav")
    return media


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("http://example.com/a.wav", True),
        ("https://example.com/a%20b.png?x=1#f", True),
        ("HTTPS://EXAMPLE.COM/", True),
        ("https://example.com", True),
        ("ftp://example.com/a.wav", False),
        ("file:///etc/passwd", False),
        ("javascript:alert(1)", False),
        ("data:image/png;base64,AAAA", False),
        ("http://", False),
        ("http:///etc/passwd", False),
        ("https://exa mple.com/a.wav", False),
        ("https://example.com/a\nb", False),
        ("clips/a.wav", False),
        ("", False),
    ],
)
def test_is_url(value, expected):
    assert is_url(value) is expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("/etc/passwd", "absolute"),
        ("//server/share/a.wav", "absolute"),
        ("../x.wav", "outside"),
        ("..", "outside"),
        ("a/../../x.wav", "outside"),
        ("clips/../../x.wav", "outside"),
        ("clips/./../../x.wav", "outside"),
        ("a\\..\\..\\x.wav", "backslash"),
        ("..\\x.wav", "backslash"),
        ("C:\\Windows\\win.ini", "backslash"),
        ("C:x.wav", "drive letter"),
        ("c:/x.wav", "drive letter"),
        ("file:///etc/passwd", "scheme"),
        ("x\x00.wav", "NUL"),
        ("a.wav\x00.png", "NUL"),
        ("a\nb.wav", "control"),
        ("", "empty"),
        (".", "root itself"),
        ("leak.wav", "outside"),
        ("leakdir/passwd", "outside"),
        ("leakdir/../secret/passwd", "outside"),
    ],
)
def test_resolve_media_rejects(root, value, reason):
    with pytest.raises(UnsafeMediaPath, match=reason):
        resolve_media(root, value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a.wav", "a.wav"),
        ("clips/b.wav", "clips/b.wav"),
        ("./a.wav", "a.wav"),
        ("clips/../a.wav", "a.wav"),
        ("clips//b.wav", "clips/b.wav"),
        ("ünï code.wav", "ünï code.wav"),
        ("alias.wav", "clips/b.wav"),  # a link that stays inside the root
        ("not/there/yet.wav", "not/there/yet.wav"),  # safe even if missing
        ("..a.wav", "..a.wav"),
        ("clips/", "clips"),  # a folder is not refused here; scans report it as no file
    ],
)
def test_resolve_media_accepts(root, value, expected):
    resolved = resolve_media(root, value)
    assert resolved == (root / expected).resolve()
    assert resolved.is_absolute()


def test_resolve_media_through_a_root_that_is_a_link(root, tmp_path):
    link = tmp_path / "root-link"
    link.symlink_to(root, target_is_directory=True)
    assert resolve_media(link, "clips/b.wav") == (root / "clips" / "b.wav").resolve()
    with pytest.raises(UnsafeMediaPath):
        resolve_media(link, "leak.wav")


def test_symlink_loop_is_rejected(root):
    (root / "loop").symlink_to(root / "loop")
    with pytest.raises(UnsafeMediaPath):
        resolve_media(root, "loop")


def test_check_media_paths_reports_positions_values_and_reasons(root):
    values = pd.Series(
        [
            "a.wav",
            "../x.wav",
            None,
            "https://example.com/a.wav",
            "leak.wav",
            "/etc/passwd",
            "clips/b.wav",
            "../x.wav",
            "leakdir/passwd",
        ],
        dtype="str",
    )
    bad = check_media_paths(root, values)
    assert [(p, v) for p, v, _ in bad] == [
        (1, "../x.wav"),
        (4, "leak.wav"),
        (5, "/etc/passwd"),
        (7, "../x.wav"),
        (8, "leakdir/passwd"),
    ]
    assert all(reason for _, _, reason in bad)


def test_scan_reports_missing_safe_files_separately(root):
    values = pd.Series(["a.wav", "gone.wav", "clips/gone.wav", "clips", "../x", "alias.wav"])
    scan = scan_media_paths(root, values)
    assert scan.missing == [1, 2, 3]  # a folder is not a file either
    assert [p for p, _, _ in scan.unsafe] == [4]


def test_scan_agrees_with_resolve_media(root):
    values = [
        "a.wav", "../a.wav", "leak.wav", "leakdir/passwd", "clips/../a.wav",
        "clips/../../a.wav", "C:a", "x\\y", "alias.wav", "/a.wav", "leakdir/../a.wav",
    ]  # fmt: skip
    flagged = {p for p, _, _ in check_media_paths(root, pd.Series(values))}
    for position, value in enumerate(values):
        try:
            resolve_media(root, value)
            rejected = False
        except UnsafeMediaPath:
            rejected = True
        assert rejected == (position in flagged), value


def test_scan_is_fast_on_a_big_column(root):
    rng = np.random.default_rng(0)
    names = np.array(["a.wav", "clips/b.wav", "clips/missing.wav", "../x.wav", "x/y/z.wav"])
    values = pd.Series(names[rng.integers(0, len(names), 200_000)], dtype="str")
    scan = scan_media_paths(root, values)  # distinct values are checked once each
    assert len(scan.unsafe) == int((values == "../x.wav").sum())
    assert len(scan.missing) == int(values.isin(["clips/missing.wav", "x/y/z.wav"]).sum())


_PIECES = st.sampled_from(
    ["a", "b.wav", "..", ".", "/", "\\", ":", "C:", "\x00", "\n", "leak.wav", "leakdir", "clips"]
)


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(parts=st.lists(_PIECES, min_size=1, max_size=6))
def test_resolved_paths_never_leave_the_root(root, parts):
    value = "".join(parts)
    try:
        resolved = resolve_media(root, value)
    except UnsafeMediaPath:
        return
    real_root = os.path.realpath(root)
    assert os.path.realpath(resolved).startswith(real_root + os.sep)
