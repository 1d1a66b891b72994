"""Media paths from data stay inside the media root; URLs are http(s) only; a file is served
only when its content is the kind of media its column says."""

from __future__ import annotations

import io
import os
import struct
import wave
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from erroranalysis.errors import ExpectedError
from erroranalysis.media import (
    RefusedMedia,
    UnsafeMediaPath,
    allowed_roots,
    check_media_paths,
    check_media_root,
    is_url,
    load_media,
    resolve_media,
    scan_media_paths,
    sniff_media,
    upload_media_root,
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
        "a.wav",
        "../a.wav",
        "leak.wav",
        "leakdir/passwd",
        "clips/../a.wav",
        "clips/../../a.wav",
        "C:a",
        "x\\y",
        "alias.wav",
        "/a.wav",
        "leakdir/../a.wav",
    ]
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


# ---------------------------------------------------------------------- loops of links
def test_a_loop_is_refused_with_a_plain_reason(root):
    (root / "loop").symlink_to(root / "loop")
    (root / "ping").symlink_to(root / "pong")
    (root / "pong").symlink_to(root / "ping")
    for value in ("loop", "ping", "loop/x.wav", "clips/../loop", "ping/a/b.wav"):
        with pytest.raises(UnsafeMediaPath, match="loop of symbolic links") as caught:
            resolve_media(root, value)
        assert str(root) not in str(caught.value)  # no server path in a message the app shows


def test_a_loop_is_an_error_at_import_not_a_missing_file(root):
    (root / "loop").symlink_to(root / "loop")
    (root / "ping").symlink_to(root / "pong")
    (root / "pong").symlink_to(root / "ping")
    values = pd.Series(["a.wav", "loop", "loop/x.wav", "ping", "clips/../loop", "gone.wav"])
    scan = scan_media_paths(root, values)
    assert [(p, reason) for p, _, reason in scan.unsafe] == [
        (1, "goes through a loop of symbolic links"),
        (2, "goes through a loop of symbolic links"),
        (3, "goes through a loop of symbolic links"),
        (4, "goes through a loop of symbolic links"),
    ]
    assert scan.missing == [5]


def test_a_loop_fails_the_import(root):
    from erroranalysis.importing import ImportValidationError, read_dataset

    (root / "loop").symlink_to(root / "loop")
    data = b"id,label,prediction,audio\n1,a,a,a.wav\n2,a,b,loop\n"
    with pytest.raises(ImportValidationError, match="loop of symbolic links"):
        read_dataset(io.BytesIO(data), filename="x.csv", media_root=root)


# ---------------------------------------------------------------------- content by magic bytes
def wav_bytes(frames: int = 800) -> bytes:
    sink = io.BytesIO()
    with wave.open(sink, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(np.zeros(frames, dtype=np.int16).tobytes())
    return sink.getvalue()


def image_bytes(fmt: str) -> bytes:
    sink = io.BytesIO()
    Image.new("RGB", (4, 4), (10, 200, 30)).save(sink, format=fmt)
    return sink.getvalue()


def flac_bytes() -> bytes:
    # "fLaC", then the STREAMINFO block (last block, type 0, 34 bytes): block sizes, frame
    # sizes, 44.1 kHz, 1 channel, 16 bits, no samples, an empty MD5.
    info = struct.pack(">HH", 4096, 4096) + b"\x00\x00\x00" * 2
    info += ((44_100 << 44) | (0 << 41) | (15 << 36)).to_bytes(8, "big") + bytes(16)
    assert len(info) == 34
    return b"fLaC" + bytes([0x80]) + len(info).to_bytes(3, "big") + info


MP3_FRAME = bytes([0xFF, 0xFB, 0x90, 0x64]) + bytes(413)  # MPEG-1 layer III, 128 kb/s, 44.1 kHz


def id3_then_mp3(tag: bytes = b"TIT2\x00\x00\x00\x03\x00\x00\x00hi") -> bytes:
    size = len(tag)
    synchsafe = bytes((size >> shift) & 0x7F for shift in (21, 14, 7, 0))
    return b"ID3\x04\x00\x00" + synchsafe + tag + MP3_FRAME


def ogg_page(packet: bytes) -> bytes:
    # One page: capture pattern, version 0, "beginning of stream", granule, serial, page
    # number, checksum (not checked here), one segment holding the packet.
    header = b"OggS" + bytes([0, 0x02]) + bytes(8) + struct.pack("<III", 1, 0, 0)
    return header + bytes([1, len(packet)]) + packet


VORBIS_ID = b"\x01vorbis" + struct.pack("<IBIiii", 0, 1, 44_100, 0, 128_000, 0) + b"\xb8\x01"
OPUS_HEAD = b"OpusHead" + bytes([1, 1]) + struct.pack("<HIhB", 312, 48_000, 0, 0)
PEM = (
    b"-----BEGIN OPENSSH PRIVATE KEY-----\n"
    b"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
    b"-----END OPENSSH PRIVATE KEY-----\n"
)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (wav_bytes(), "audio/wav"),
        (wav_bytes(frames=0), "audio/wav"),
        (flac_bytes(), "audio/flac"),
        (MP3_FRAME, "audio/mpeg"),
        (id3_then_mp3(), "audio/mpeg"),
        (ogg_page(VORBIS_ID), "audio/ogg"),
        (ogg_page(OPUS_HEAD), "audio/ogg"),
        (image_bytes("PNG"), "image/png"),
        (image_bytes("JPEG"), "image/jpeg"),
        (image_bytes("GIF"), "image/gif"),
        (image_bytes("WEBP"), "image/webp"),
        # not media at all
        (PEM, None),
        (b"API_TOKEN=sk-live-0123456789\n", None),
        (b"plain text, not audio\n", None),
        (b"<!doctype html><script>alert(1)</script>", None),
        (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', None),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', None),
        (b"%PDF-1.7\n", None),
        (b"PK\x03\x04" + bytes(26), None),
        (b"", None),
        # truncated headers
        (b"RIFF", None),
        (wav_bytes()[:11], None),
        (b"fLaC", None),
        (flac_bytes()[:7], None),
        (b"OggS\x00\x02", None),
        (ogg_page(VORBIS_ID)[:30], None),
        (b"ID3\x04\x00", None),
        (id3_then_mp3()[: -len(MP3_FRAME)], None),  # the tag, but no frame after it
        (b"\xff\xfb\x90", None),
        (image_bytes("PNG")[:8], None),
        (b"\xff\xd8\xff", None),
        (b"GIF89a", None),
        (image_bytes("WEBP")[:12], None),
        # look-alikes
        (b"RIFF\x24\x00\x00\x00AVI LIST" + bytes(20), None),  # RIFF, but a video
        (b"RIFF\x24\x00\x00\x00WEBPJUNK" + bytes(20), None),  # WEBP with no VP8 chunk
        (b"ID3\x04\x00\x00\x00\x00\x00\x02hi" + PEM, None),  # an ID3 tag before a key
        (b"ID3\x04\x00\x00\x00\x00\x80\x00" + MP3_FRAME, None),  # size not synchsafe
        (bytes([0xFF, 0xF1, 0x50, 0x80]) + bytes(10), None),  # AAC (ADTS): layer bits 00
        (bytes([0xFF, 0xFB, 0xF0, 0x64]) + bytes(10), None),  # bitrate index 15 (reserved)
        (bytes([0xFF, 0xFB, 0x9C, 0x64]) + bytes(10), None),  # sample rate index 3 (reserved)
        (ogg_page(b"\x80theora" + bytes(20)), None),  # an Ogg video
        (b"\x89PNG\r\n\x1a\n" + bytes(4) + b"JUNK", None),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_sniff_media(data, expected):
    assert sniff_media(data) == expected


def test_sniffing_ignores_everything_after_the_header():
    assert sniff_media(wav_bytes() + PEM) == "audio/wav"
    assert sniff_media(memoryview(image_bytes("PNG"))) == "image/png"


@pytest.fixture
def served(tmp_path):
    """A media root holding real media and secrets under media names."""
    media = tmp_path / "media"
    media.mkdir()
    (media / "ok.wav").write_bytes(wav_bytes())
    (media / "ok.flac").write_bytes(flac_bytes())
    (media / "ok.png").write_bytes(image_bytes("PNG"))
    (media / "named.png").write_bytes(wav_bytes())  # audio under an image name
    (media / "id_rsa.wav").write_bytes(PEM)
    (media / "env.png").write_bytes(b"API_TOKEN=sk-live-0123456789\n")
    (media / "page.png").write_bytes(b"<!doctype html><script>alert(1)</script>")
    (media / "drawing.png").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"/>')
    (media / "empty.wav").write_bytes(b"")
    (media / "folder.wav").mkdir()
    os.mkfifo(media / "pipe.wav")
    return media


@pytest.mark.parametrize(
    ("value", "kind", "mime"),
    [
        ("ok.wav", "audio", "audio/wav"),
        ("ok.flac", "audio", "audio/flac"),
        ("ok.png", "image", "image/png"),
        ("named.png", "audio", "audio/wav"),  # the content decides, not the name
    ],
)
def test_load_media_sends_what_the_content_is(served, value, kind, mime):
    data, sniffed = load_media(served, value, kind=kind)
    assert (data, sniffed) == ((served / value).read_bytes(), mime)


@pytest.mark.parametrize(
    ("value", "kind", "error", "reason"),
    [
        ("id_rsa.wav", "audio", RefusedMedia, "is not audio \\(its content is no format"),
        ("env.png", "image", RefusedMedia, "is not an image"),
        ("page.png", "image", RefusedMedia, "is not an image"),
        ("drawing.png", "image", RefusedMedia, "is not an image"),
        ("empty.wav", "audio", RefusedMedia, "is not audio"),
        ("ok.wav", "image", RefusedMedia, "is not an image \\(it holds audio/wav\\)"),
        ("ok.png", "audio", RefusedMedia, "is not audio \\(it holds image/png\\)"),
        ("pipe.wav", "audio", UnsafeMediaPath, "not a regular file"),
        ("../media/id_rsa.wav", "audio", UnsafeMediaPath, "outside"),
    ],
)
def test_load_media_refuses_what_is_not_the_columns_kind(served, value, kind, error, reason):
    with pytest.raises(error, match=reason) as caught:
        load_media(served, value, kind=kind)
    assert isinstance(caught.value, ExpectedError)
    assert "sk-live" not in str(caught.value) and "PRIVATE" not in str(caught.value)


def test_load_media_missing_and_folders_are_os_errors(served):
    with pytest.raises(FileNotFoundError):
        load_media(served, "gone.wav", kind="audio")
    with pytest.raises(IsADirectoryError):
        load_media(served, "folder.wav", kind="audio")


def test_load_media_has_a_size_limit(served):
    with pytest.raises(RefusedMedia, match="more than"):
        load_media(served, "ok.wav", kind="audio", max_bytes=100)
    with pytest.raises(ValueError, match="kind must be"):
        load_media(served, "ok.wav", kind="video")


def test_load_media_refuses_a_link_swapped_in_after_the_check(served, tmp_path):
    # resolve_media follows links, so the name it returns has none; a link put there
    # afterwards is not followed when the file is opened.
    secret = tmp_path / "secret.wav"
    secret.write_bytes(wav_bytes())
    (served / "swapped.wav").symlink_to(secret)
    with pytest.raises(UnsafeMediaPath, match="outside"):
        load_media(served, "swapped.wav", kind="audio")


def test_the_media_root_must_still_be_a_folder(served, tmp_path):
    assert check_media_root(served) == served.resolve()
    with pytest.raises(UnsafeMediaPath, match="no longer exists"):
        load_media(tmp_path / "gone", "ok.wav", kind="audio")
    with pytest.raises(UnsafeMediaPath, match="no longer a folder"):
        load_media(served / "ok.wav", "x", kind="audio")
    loop = tmp_path / "loop"
    loop.symlink_to(loop)
    with pytest.raises(UnsafeMediaPath, match="cannot be resolved") as caught:
        load_media(loop, "ok.wav", kind="audio")
    assert str(tmp_path) not in str(caught.value)


# ---------------------------------------------------------------------- allowed folders
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (None, ()),
        ("", ()),
        ("/srv/media", ("/srv/media",)),
        (f"/srv/a{os.pathsep}/srv/b", ("/srv/a", "/srv/b")),
        (f"/srv/a{os.pathsep}{os.pathsep} /srv/b/ ", ("/srv/a", "/srv/b")),
        (f"/srv/a{os.pathsep}/srv/./a{os.pathsep}/srv/b/../a", ("/srv/a",)),
        (f"relative{os.pathsep}./x{os.pathsep}/srv/a", ("/srv/a",)),  # no base for these
        ("/srv/a\x00b", ()),
    ],
)
def test_allowed_roots(text, expected):
    assert allowed_roots(text) == tuple(map(Path, expected))


@pytest.fixture
def roots(tmp_path):
    """Two allowed folders, and secrets beside them."""
    (tmp_path / "a" / "clips" / "2024").mkdir(parents=True)
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "b").mkdir()
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "id_rsa").write_bytes(PEM)
    (tmp_path / "a" / "out").symlink_to(tmp_path / ".ssh", target_is_directory=True)
    return (tmp_path / "a", tmp_path / "b")


@pytest.mark.parametrize(
    ("chosen", "sub", "expected"),
    [
        (None, "", None),
        ("", "ignored", None),
        ("{a}", "", "a"),
        ("{b}", "", "b"),
        ("{a}", "clips", "a/clips"),
        ("{a}", " clips/2024/ ", "a/clips/2024"),
        ("{a}", "clips/../clips", "a/clips"),
    ],
)
def test_upload_media_root_picks_an_allowed_folder(roots, tmp_path, chosen, sub, expected):
    chosen = chosen and chosen.format(a=roots[0], b=roots[1])
    found = upload_media_root(roots, chosen=chosen, sub=sub)
    assert found == (None if expected is None else (tmp_path / expected).resolve())


@pytest.mark.parametrize(
    ("chosen", "sub", "reason"),
    [
        ("{tmp}/.ssh", "", "not one of the folders the operator allowed"),
        ("{tmp}", "", "not one of the folders the operator allowed"),
        ("{a}/", "", "not one of the folders the operator allowed"),
        ("{a}/../.ssh", "", "not one of the folders the operator allowed"),
        ("{a}", "../.ssh", "sub-folder '../.ssh' leads outside"),
        ("{a}", "..", "sub-folder '..' leads outside"),
        ("{a}", "{tmp}/.ssh", "absolute"),
        ("{a}", "out", "sub-folder 'out' leads outside the media root"),
        ("{a}", "C:/x", "drive letter"),
        ("{a}", "clips\\..\\..", "backslash"),
        ("{a}", "notes.txt", "is not a folder"),
        ("{a}", "missing", "is not a folder"),
    ],
)
def test_upload_media_root_refuses_anything_else(roots, tmp_path, chosen, sub, reason):
    values = {"a": roots[0], "b": roots[1], "tmp": tmp_path}
    with pytest.raises(UnsafeMediaPath, match=reason):
        upload_media_root(roots, chosen=chosen.format(**values), sub=sub.format(**values))


def test_an_allowed_folder_that_is_gone_is_refused(tmp_path):
    gone = tmp_path / "gone"
    with pytest.raises(UnsafeMediaPath, match="no longer exists"):
        upload_media_root((gone,), chosen=str(gone))
