"""Media paths from data: keep every file the app opens inside the dataset's media root,
and send a file only when its content is the kind of media its column says.

Audio and image columns hold either an ``http(s)://`` URL or a path relative to the
media root. A path comes from a user's file, so it is hostile until checked:
:func:`resolve_media` is the one gate, used at import and every time a file is served.
It rejects NUL bytes and control characters, absolute paths, drive letters and URL
schemes, backslashes, ``..`` that leaves the root, symbolic links that point out of it
and symbolic link loops. :func:`scan_media_paths` applies the same rules to a whole
column at import time and also reports which safe paths name no file.

A file name says nothing about what a file holds: :func:`sniff_media` recognises the
formats the app plays or shows by their first bytes, and :func:`load_media` (what the app
serves from) refuses a file whose content is not the column's kind, so a private key or
an HTML page renamed ``clip.wav`` is never sent.

Which server folders an *upload* may take media from is the operator's choice
(``serve --media-root DIR``, passed to the app in :data:`MEDIA_ROOTS_ENV`):
:func:`allowed_roots` reads that list and :func:`upload_media_root` picks one folder of
it, or a sub-folder inside one, for an upload.
"""

from __future__ import annotations

import errno
import os
import posixpath
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ExpectedError

__all__ = [
    "AUDIO_TYPES",
    "IMAGE_TYPES",
    "MAX_MEDIA_BYTES",
    "MEDIA_ROOTS_ENV",
    "MediaScan",
    "RefusedMedia",
    "UnsafeMediaPath",
    "allowed_roots",
    "check_media_paths",
    "check_media_root",
    "is_url",
    "load_media",
    "local_media",
    "media_path_problem",
    "resolve_media",
    "scan_media_paths",
    "sniff_media",
    "upload_media_root",
]

# The folders an upload may take media from, as `serve --media-root` passes them to the
# app: absolute paths joined with os.pathsep.
MEDIA_ROOTS_ENV = "ERRORANALYSIS_MEDIA_ROOTS"
# MIME types sniff_media recognises, by the kind of column that may show them.
AUDIO_TYPES = ("audio/wav", "audio/flac", "audio/mpeg", "audio/ogg")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")
KIND_TYPES = {"audio": AUDIO_TYPES, "image": IMAGE_TYPES}
KIND_FORMATS = {"audio": "WAV, FLAC, MP3 or OGG", "image": "PNG, JPEG, GIF or WebP"}
# Streamlit sends media in one message of at most 200 MB; an hour of 16 kHz 16-bit WAV
# is 115 MB.
MAX_MEDIA_BYTES = 150 * 1024 * 1024

# Host: no whitespace, control characters, backslashes or path delimiters; the rest: no
# whitespace or control characters. Anything else starting with a scheme is not served.
URL_PATTERN = r"(?i)https?://[^\x00-\x20\x7f/?#\\]+(?:[/?#][^\x00-\x20\x7f]*)?"
_URL = re.compile(URL_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "C:", "c:foo", "file:", "javascript:" ... all look like this; none is a relative path.
_SCHEME_OR_DRIVE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


class UnsafeMediaPath(ExpectedError):
    """A media path that is not a plain relative path inside the media root."""


class RefusedMedia(ExpectedError):
    """A media file the app will not send: its content is not the column's kind of media,
    or it is too big."""


@dataclass(frozen=True)
class MediaScan:
    """What :func:`scan_media_paths` found, by position in the scanned series."""

    unsafe: list[tuple[int, str, str]] = field(default_factory=list)  # (position, value, reason)
    missing: list[int] = field(default_factory=list)  # safe paths with no file behind them


def is_url(value: str) -> bool:
    """True for an ``http://`` or ``https://`` URL with a host and no whitespace."""
    return isinstance(value, str) and _URL.fullmatch(value) is not None


def media_path_problem(relative: object) -> str | None:
    """Why ``relative`` is not an acceptable relative media path, judged from the text alone.

    Returns ``None`` when the text is acceptable; :func:`resolve_media` still has to check
    the file system (symbolic links) before the path may be opened.
    """
    if not isinstance(relative, str):
        return f"is not text but {type(relative).__name__}"
    if relative == "":
        return "is empty"
    if "\x00" in relative:
        return "contains a NUL byte"
    if _CONTROL.search(relative):
        return "contains control characters"
    if "\\" in relative:
        return "contains a backslash; write paths with forward slashes"
    if relative.startswith("/"):
        return "is an absolute path; media paths must be relative to the media root"
    if _SCHEME_OR_DRIVE.match(relative):
        if relative.lower().startswith(("http:", "https:")):
            return "is not a valid http(s) URL"
        return (
            "starts with a drive letter or URL scheme; "
            "only relative paths and http(s) URLs are allowed"
        )
    normal = posixpath.normpath(relative)
    if normal == "..":
        return "leads outside the media root ('..')"
    if normal.startswith("../"):
        return "leads outside the media root ('..')"
    if normal == ".":
        return "names the media root itself, not a file"
    return None


def resolve_media(root: str | Path, relative: str) -> Path:
    """The absolute, resolved path of ``relative`` inside ``root``; else :class:`UnsafeMediaPath`.

    Symbolic links are followed: a link inside the root that points out of it, or a loop
    of links, is rejected. The file need not exist.
    """
    reason = media_path_problem(relative)
    if reason is not None:
        raise UnsafeMediaPath(f"media path {_show(relative)} {reason}")
    try:
        base = Path(root).resolve()
    except (OSError, RuntimeError):  # RuntimeError: a loop, up to Python 3.12
        raise UnsafeMediaPath("the media root cannot be resolved") from None
    target, reason = _resolve_inside(base, relative)
    if reason is not None:
        raise UnsafeMediaPath(f"media path {_show(relative)} {reason}")
    return target


_LOOP = "goes through a loop of symbolic links"
_OUTSIDE = "leads outside the media root"
_OUTSIDE_BY_LINK = "leads outside the media root (through a symbolic link)"


def _loops(path: str | Path) -> bool:
    """True when following ``path`` runs into a loop of symbolic links."""
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def _resolve_inside(base: Path, relative: str) -> tuple[Path, str | None]:
    # `base` is already resolved; `relative` passed media_path_problem. Loops are looked
    # for with stat() because Path.resolve() reports them differently across Python
    # versions (RuntimeError up to 3.12, silently left unresolved after).
    joined = base / relative
    if _loops(joined):
        return joined, _LOOP
    try:
        target = joined.resolve()
    except (OSError, RuntimeError):
        return joined, _LOOP
    if target == base or not target.is_relative_to(base):
        return target, _OUTSIDE
    return target, None


def local_media(frame: pd.DataFrame) -> list[str]:
    """The distinct file paths (not http(s) URLs) that ``frame``'s media columns (``audio``,
    ``image``) name, in the order they first appear."""
    paths: dict[str, None] = {}
    for column in KIND_TYPES:
        if column in frame.columns:
            values = frame[column].dropna().astype(str)
            for value in values[~values.str.fullmatch(URL_PATTERN)].unique():
                paths.setdefault(value, None)
    return list(paths)


def check_media_paths(root: str | Path, values: pd.Series) -> list[tuple[int, str, str]]:
    """``(position, value, reason)`` for each value that :func:`resolve_media` rejects.

    Missing values are skipped; so are http(s) URLs.
    """
    return scan_media_paths(root, values).unsafe


def scan_media_paths(root: str | Path, values: pd.Series) -> MediaScan:
    """Check a column of media paths against ``root``: unsafe ones, and safe ones with no file.

    Same rules as :func:`resolve_media`, but each distinct value and each distinct folder is
    resolved once, and a file costs one ``lstat`` unless it is a symbolic link or its path
    contains ``..``. Missing values and http(s) URLs are skipped. A loop of symbolic links
    is unsafe (an import error), not a missing file.
    """
    base = os.path.realpath(root)
    prefix = base if base.endswith(os.sep) else base + os.sep
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).reset_index(drop=True))
    reasons: list[str | None] = [None] * len(uniques)
    absent = [False] * len(uniques)
    folders: dict[str, str | None] = {}  # folder text -> why it is unsafe, or None

    def inside(path: str) -> bool:
        return path.startswith(prefix)

    for i, value in enumerate(uniques):
        if isinstance(value, str) and is_url(value):
            continue
        reason = media_path_problem(value)
        if reason is not None:
            reasons[i] = reason
            continue
        if ".." in value.split("/"):
            # Rare: resolve the whole path so `link/..` means what the OS will make of it.
            target, reasons[i] = _resolve_inside(Path(base), value)
            if reasons[i] is None:
                absent[i] = not target.is_file()
            continue
        folder, _, name = value.rpartition("/")
        if folder not in folders:
            folders[folder] = _folder_problem(base, folder, inside)
        if folders[folder] is not None:
            reasons[i] = folders[folder]
            continue
        full = os.path.join(base, value)
        try:
            mode = os.lstat(full).st_mode
        except OSError as err:
            if err.errno == errno.ELOOP:
                reasons[i] = _LOOP
            else:
                absent[i] = True
            continue
        if stat.S_ISLNK(mode):
            if _loops(full):
                reasons[i] = _LOOP
                continue
            real = os.path.realpath(full)
            if not inside(real):
                reasons[i] = _OUTSIDE_BY_LINK
                continue
            absent[i] = not os.path.isfile(real)
        else:
            absent[i] = not stat.S_ISREG(mode)

    bad = [i for i, r in enumerate(reasons) if r is not None]
    unsafe = [
        (int(position), str(uniques[codes[position]]), reasons[codes[position]] or "")
        for position in np.flatnonzero(np.isin(codes, bad))
    ]
    missing = np.flatnonzero(np.isin(codes, [i for i, a in enumerate(absent) if a])).tolist()
    return MediaScan(unsafe=unsafe, missing=missing)


def _folder_problem(base: str, folder: str, inside: Callable[[str], bool]) -> str | None:
    """Why the folder part of media paths is unsafe under ``base``, or None."""
    if not folder:
        return None
    path = os.path.join(base, folder)
    if _loops(path):
        return _LOOP
    real = os.path.realpath(path)
    if real != base and not inside(real):
        return _OUTSIDE_BY_LINK
    return None


# ---------------------------------------------------------------------- content
def sniff_media(data: bytes) -> str | None:
    """The MIME type of ``data`` judged from its first bytes, or None when it is none of
    the formats the app plays or shows.

    Recognised: WAV (``RIFF`` … ``WAVE``), FLAC (``fLaC`` and its STREAMINFO block), MP3
    (an ID3v2 tag followed by an MPEG audio frame, or a bare MPEG audio frame header),
    OGG (a first page carrying Vorbis, Opus, FLAC or Speex), PNG, JPEG, GIF and WebP
    (``RIFF`` … ``WEBP`` with a VP8 chunk). Text, HTML, SVG, keys, empty and truncated
    headers are None. The file name plays no part.
    """
    head = bytes(data[:64])
    if head.startswith(b"RIFF") and len(head) >= 16:
        if head[8:12] == b"WAVE":
            return "audio/wav"
        if head[8:12] == b"WEBP" and head[12:16] in (b"VP8 ", b"VP8L", b"VP8X"):
            return "image/webp"
        return None
    if head.startswith(b"fLaC"):
        # The first metadata block is always STREAMINFO (type 0), 34 bytes long.
        ok = len(head) >= 8 and head[4] & 0x7F == 0 and head[5:8] == b"\x00\x00\x22"
        return "audio/flac" if ok else None
    if head.startswith(b"OggS"):
        return "audio/ogg" if _ogg_audio(bytes(data[: 27 + 255 + 8])) else None
    if head.startswith(b"ID3"):
        return "audio/mpeg" if _id3_then_frame(data) else None
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png" if head[12:16] == b"IHDR" else None
    if head.startswith(b"\xff\xd8\xff"):
        # Start of image, then another marker (APPn, DQT, SOF, comment ...).
        return "image/jpeg" if len(head) >= 4 and 0xC0 <= head[3] < 0xFF else None
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif" if len(head) >= 13 else None  # the logical screen descriptor
    if _mpeg_frame(head):
        return "audio/mpeg"
    return None


def _mpeg_frame(header: bytes) -> bool:
    """True when ``header`` starts with a valid MPEG audio frame header (11 sync bits and
    no reserved version, layer, bitrate, sample rate or emphasis)."""
    if len(header) < 4 or header[0] != 0xFF or header[1] & 0xE0 != 0xE0:
        return False
    version = (header[1] >> 3) & 0b11
    layer = (header[1] >> 1) & 0b11  # 0 is reserved (and is what AAC's ADTS uses)
    bitrate = header[2] >> 4
    rate = (header[2] >> 2) & 0b11
    emphasis = header[3] & 0b11
    return version != 1 and layer != 0 and bitrate != 15 and rate != 3 and emphasis != 2


def _id3_then_frame(data: bytes) -> bool:
    head = bytes(data[:10])
    if len(head) < 10 or head[3] not in (2, 3, 4) or head[4] == 0xFF:
        return False
    size_bytes = head[6:10]
    if any(b & 0x80 for b in size_bytes):  # sizes are "synchsafe": 7 bits a byte
        return False
    size = 0
    for b in size_bytes:
        size = (size << 7) | b
    end = 10 + size + (10 if head[5] & 0x10 else 0)  # a footer repeats the header
    return _mpeg_frame(bytes(data[end : end + 4]))


_OGG_AUDIO = (b"\x01vorbis", b"OpusHead", b"\x7fFLAC", b"Speex   ")


def _ogg_audio(head: bytes) -> bool:
    # Page header: "OggS", version 0, flags (the first page has "beginning of stream"),
    # ..., segment count at byte 26, the segment table, then the first packet.
    if len(head) < 27 or head[4] != 0 or not head[5] & 0x02:
        return False
    start = 27 + head[26]
    return head[start : start + 8].startswith(_OGG_AUDIO)


def check_media_root(root: str | Path) -> Path:
    """The run's media root, resolved, if it is still a folder; else :class:`UnsafeMediaPath`.

    Checked every time media are served: the folder may have been removed, or replaced by a
    link loop, since the import.
    """
    try:
        base = Path(root).resolve(strict=True)
    except FileNotFoundError:
        raise UnsafeMediaPath("the run's media folder no longer exists on the server") from None
    except (OSError, RuntimeError):
        raise UnsafeMediaPath("the run's media folder cannot be resolved on the server") from None
    if _loops(base):
        raise UnsafeMediaPath("the run's media folder cannot be resolved on the server")
    if not base.is_dir():
        raise UnsafeMediaPath("the run's media folder is no longer a folder on the server")
    return base


def load_media(
    root: str | Path, relative: str, *, kind: str, max_bytes: int = MAX_MEDIA_BYTES
) -> tuple[bytes, str]:
    """The bytes of media file ``relative`` inside ``root`` and their sniffed MIME type.

    ``kind`` is ``"audio"`` or ``"image"``. Raises :class:`UnsafeMediaPath` for a path
    :func:`resolve_media` refuses, a media root that is no longer a folder, or something
    that is not a regular file; :class:`RefusedMedia` when the content is not ``kind``
    (whatever the file's name) or is more than ``max_bytes``; ``OSError`` (such as
    ``FileNotFoundError``) when the file cannot be read. Nothing of a refused file's
    content is in the message.
    """
    if kind not in KIND_TYPES:
        raise ValueError(f"kind must be one of {sorted(KIND_TYPES)}, not {kind!r}")
    path = resolve_media(check_media_root(root), relative)
    # The path is resolved, so no link is left in it; O_NOFOLLOW refuses one swapped in
    # since, and O_NONBLOCK keeps a FIFO from hanging the page.
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    flags |= getattr(os, "O_BINARY", 0)
    descriptor = os.open(path, flags)
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeMediaPath(f"media path {_show(relative)} is not a regular file")
        if info.st_size > max_bytes:
            raise RefusedMedia(
                f"media file {_show(relative)} is {info.st_size / 2**20:,.0f} MiB, more than "
                f"the {max_bytes / 2**20:,.0f} MiB the app sends"
            )
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise RefusedMedia(f"media file {_show(relative)} grew past {max_bytes:,} bytes")
    mime = sniff_media(data)
    if mime not in KIND_TYPES[kind]:
        found = f"it holds {mime}" if mime else "its content is no format the app knows"
        what, verb = ("audio", "plays") if kind == "audio" else ("an image", "shows")
        raise RefusedMedia(
            f"media file {_show(relative)} is not {what} ({found}); "
            f"an {kind} column {verb} only {KIND_FORMATS[kind]} files"
        )
    return data, mime


# ---------------------------------------------------------------------- allowed folders
def allowed_roots(text: str | None) -> tuple[Path, ...]:
    """The folders an upload may take media from, parsed from ``text`` (the value of
    :data:`MEDIA_ROOTS_ENV`: absolute paths joined with ``os.pathsep``).

    In the order given, normalised, without duplicates. Empty and relative entries are left
    out: the CLI passes absolute paths, and the app's working folder is no base to trust.
    Whether each folder exists is checked when it is used (:func:`upload_media_root`).
    """
    roots: dict[Path, None] = {}
    for entry in (text or "").split(os.pathsep):
        entry = entry.strip()
        if entry and os.path.isabs(entry) and "\x00" not in entry:
            roots.setdefault(Path(os.path.normpath(entry)), None)
    return tuple(roots)


def upload_media_root(
    allowed: tuple[Path, ...] | list[Path], *, chosen: str | None, sub: str = ""
) -> Path | None:
    """The media root for an upload: the allowed folder named ``chosen`` (text as the page
    shows it), or its sub-folder ``sub``; None when ``chosen`` is None or empty.

    ``chosen`` must be one of ``allowed`` exactly, whatever a browser sends; ``sub`` is a
    relative path resolved with :func:`resolve_media`, so it cannot leave the folder, and
    must be a folder. Raises :class:`UnsafeMediaPath` saying what is wrong.
    """
    if not chosen:
        return None
    match = next((root for root in allowed if str(root) == chosen), None)
    if match is None:
        raise UnsafeMediaPath(
            f"media folder {_show(chosen)} is not one of the folders the operator allowed"
        )
    base = check_media_root(match)
    sub = sub.strip().rstrip("/")
    if not sub:
        return base
    try:
        folder = resolve_media(base, sub)
    except UnsafeMediaPath as err:
        raise UnsafeMediaPath(str(err).replace("media path", "sub-folder", 1)) from None
    if not folder.is_dir():
        raise UnsafeMediaPath(f"sub-folder {_show(sub)} is not a folder inside {_show(chosen)}")
    return folder


def _show(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "'" + _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) + "'"
