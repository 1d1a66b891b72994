"""Media paths from data: keep every file the app opens inside the dataset's media root.

Audio and image columns hold either an ``http(s)://`` URL or a path relative to the
media root. A path comes from a user's file, so it is hostile until checked:
:func:`resolve_media` is the one gate, used at import and every time a file is served.
It rejects NUL bytes and control characters, absolute paths, drive letters and URL
schemes, backslashes, ``..`` that leaves the root, and symbolic links that point out of
it. :func:`scan_media_paths` applies the same rules to a whole column at import time and
also reports which safe paths name no file.
"""

from __future__ import annotations

import os
import posixpath
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = [
    "MediaScan",
    "UnsafeMediaPath",
    "check_media_paths",
    "is_url",
    "media_path_problem",
    "resolve_media",
    "scan_media_paths",
]

# Host: no whitespace, control characters, backslashes or path delimiters; the rest: no
# whitespace or control characters. Anything else starting with a scheme is not served.
URL_PATTERN = r"(?i)https?://[^\x00-\x20\x7f/?#\\]+(?:[/?#][^\x00-\x20\x7f]*)?"
_URL = re.compile(URL_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# "C:", "c:foo", "file:", "javascript:" ... all look like this; none is a relative path.
_SCHEME_OR_DRIVE = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")


class UnsafeMediaPath(ValueError):
    """A media path that is not a plain relative path inside the media root."""


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

    Symbolic links are followed: a link inside the root that points out of it is rejected.
    The file need not exist.
    """
    reason = media_path_problem(relative)
    if reason is not None:
        raise UnsafeMediaPath(f"media path {_show(relative)} {reason}")
    base = Path(root).resolve()
    try:
        target = (base / relative).resolve()
    except (OSError, RuntimeError) as err:  # RuntimeError: a symbolic link loop
        raise UnsafeMediaPath(f"media path {_show(relative)} cannot be resolved: {err}") from None
    if target == base or not target.is_relative_to(base):
        raise UnsafeMediaPath(f"media path {_show(relative)} leads outside the media root")
    return target


def check_media_paths(root: str | Path, values: pd.Series) -> list[tuple[int, str, str]]:
    """``(position, value, reason)`` for each value that :func:`resolve_media` rejects.

    Missing values are skipped; so are http(s) URLs.
    """
    return scan_media_paths(root, values).unsafe


def scan_media_paths(root: str | Path, values: pd.Series) -> MediaScan:
    """Check a column of media paths against ``root``: unsafe ones, and safe ones with no file.

    Same rules as :func:`resolve_media`, but each distinct value and each distinct folder is
    resolved once, and a file costs one ``lstat`` unless it is a symbolic link or its path
    contains ``..``. Missing values and http(s) URLs are skipped.
    """
    base = os.path.realpath(root)
    prefix = base if base.endswith(os.sep) else base + os.sep
    codes, uniques = pd.factorize(pd.Series(values, dtype=object).reset_index(drop=True))
    reasons: list[str | None] = [None] * len(uniques)
    absent = [False] * len(uniques)
    folders: dict[str, bool] = {}  # folder text -> resolves inside the root

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
            try:
                target = resolve_media(base, value)
            except UnsafeMediaPath:
                reasons[i] = "leads outside the media root"
                continue
            absent[i] = not target.is_file()
            continue
        folder, _, name = value.rpartition("/")
        ok = folders.get(folder)
        if ok is None:
            real = os.path.realpath(os.path.join(base, folder)) if folder else base
            ok = folders[folder] = real == base or inside(real)
        if not ok:
            reasons[i] = "leads outside the media root (through a symbolic link)"
            continue
        full = os.path.join(base, value)
        try:
            mode = os.lstat(full).st_mode
        except OSError:
            absent[i] = True
            continue
        if stat.S_ISLNK(mode):
            real = os.path.realpath(full)
            if not inside(real):
                reasons[i] = "leads outside the media root (through a symbolic link)"
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


def _show(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return "'" + _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text) + "'"
