"""Uploaded ``.zip`` archives: a predictions file and its media, extracted safely.

An upload cannot name a folder on the server (that is the operator's choice, see
:mod:`erroranalysis.media`), so the way to bring local media with it is an archive that
holds the predictions file and the media together. The archive comes from whoever
reached the page, so it is hostile until checked; :func:`inspect_archive` checks every
member before anything is written and refuses, with a message naming the member:

* *zip slip*: absolute names, ``..`` that climbs out, drive letters, backslashes, control
  characters and NUL bytes (the rules of :func:`erroranalysis.media.media_path_problem`);
* symbolic links and other special files, encrypted members, unknown compression;
* duplicate names, and a name that is both a file and a folder;
* *zip bombs*: more than :attr:`ArchiveLimits.max_members` members, more than
  :attr:`ArchiveLimits.max_total_bytes` uncompressed, or a member (bigger than
  :attr:`ArchiveLimits.ratio_floor_bytes`) that compresses more than
  :attr:`ArchiveLimits.max_ratio` times. The sizes written are counted again while
  extracting, so a member whose header lies about its size is refused too.

:func:`extract_archive` writes into a fresh hidden folder and renames it into place only
when every member is out, so a folder the app manages is always complete; the predictions
file's folder then becomes the run's media root. The app keeps these folders beside the
project file, in ``PROJECT.media/DATASET/RUN-HASH/`` (:func:`run_folder`), and removes one
only through :func:`remove_run_folder`, which touches nothing outside that area.
"""

from __future__ import annotations

import hashlib
import io
import os
import posixpath
import re
import shutil
import stat
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import ExpectedError
from .importing import FORMATS
from .media import media_path_problem

__all__ = [
    "ARCHIVE_SUFFIXES",
    "ArchiveContents",
    "ArchiveError",
    "ArchiveLimits",
    "ExtractedArchive",
    "extract_archive",
    "extract_files",
    "inspect_archive",
    "is_archive",
    "media_area",
    "open_zip",
    "read_predictions",
    "remove_run_folder",
    "run_folder",
    "safe_part",
]

ARCHIVE_SUFFIXES = (".zip",)
# Folders that archiving tools add and that hold nothing of the user's (macOS Finder).
IGNORED_FOLDERS = ("__MACOSX/",)
_COMPRESSIONS = {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
_CHUNK = 1 << 20
_SAFE_PART = re.compile(r"[^A-Za-z0-9._-]+")


class ArchiveError(ExpectedError):
    """An archive that is refused (unsafe, too big, not a zip) or could not be extracted;
    nothing was written."""


@dataclass(frozen=True)
class ArchiveLimits:
    """What an uploaded archive may hold. The defaults allow a large audio or image set
    (20,000 files, 2 GB) and refuse zip bombs."""

    max_members: int = 20_000
    max_total_bytes: int = 2_000_000_000
    max_ratio: float = 200.0
    # Small members may compress very well (a silent clip, a blank image) and cannot fill
    # a disk: only bigger ones are held to max_ratio.
    ratio_floor_bytes: int = 1 << 20


DEFAULT_LIMITS = ArchiveLimits()


@dataclass(frozen=True)
class ArchiveContents:
    """A checked archive: the files it will extract and its predictions file."""

    files: tuple[str, ...]  # normalised member names of the files to extract
    predictions: str  # the one of them that holds the predictions
    total_bytes: int  # their uncompressed size, as the archive declares it


@dataclass(frozen=True)
class ExtractedArchive:
    """Where :func:`extract_archive` put an archive."""

    folder: Path  # the folder the archive was extracted into (created by the call)
    predictions: Path  # the predictions file inside it
    member: str  # the predictions file's name inside the archive

    @property
    def media_root(self) -> Path:
        """The predictions file's folder: media paths in it are relative to that folder."""
        return self.predictions.parent


def is_archive(filename: str) -> bool:
    """True when ``filename`` names an archive this module reads (``.zip``)."""
    return Path(filename).suffix.lower() in ARCHIVE_SUFFIXES


def inspect_archive(data: bytes, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> ArchiveContents:
    """Check every member of the zip archive ``data`` (see the module docstring) and find
    its predictions file; writes nothing.

    The predictions file is the one ``.csv``, ``.parquet``/``.pq`` or ``.jsonl``/``.ndjson``
    file nearest the top of the archive; none, or two at the same depth, is an error.
    Raises :class:`ArchiveError` naming the first thing wrong.
    """
    with open_zip(data) as archive:
        return _inspect(archive, limits)[0]


def read_predictions(data: bytes, *, limits: ArchiveLimits = DEFAULT_LIMITS) -> tuple[str, bytes]:
    """The archive's predictions file: its name inside the archive and its content, read
    only after the whole archive passed :func:`inspect_archive`."""
    with open_zip(data) as archive:
        contents, infos = _inspect(archive, limits)
        sink = io.BytesIO()
        _copy(archive, infos[contents.predictions], sink, budget=limits.max_total_bytes)
    return contents.predictions, sink.getvalue()


def extract_archive(
    data: bytes, dest: str | Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> ExtractedArchive:
    """Extract the zip archive ``data`` into the new folder ``dest`` (or, when that name is
    taken, ``dest-2``, ``dest-3`` ...), after :func:`inspect_archive` accepted all of it.

    Either every file is written and the folder appears complete, or nothing is left
    behind and :class:`ArchiveError` says why. ``dest``'s parent folders are created.
    """
    dest = Path(dest)
    with open_zip(data) as archive:
        contents, infos = _inspect(archive, limits)
        staging = _extract(archive, infos, contents.files, dest, limits)
    try:
        folder = _claim(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    member = contents.predictions
    return ExtractedArchive(
        folder=folder, predictions=folder.joinpath(*member.split("/")), member=member
    )


def extract_files(
    source: bytes | BinaryIO, dest: str | Path, *, limits: ArchiveLimits = DEFAULT_LIMITS
) -> tuple[str, ...]:
    """Extract every file of the zip archive ``source`` (its bytes or an open binary file)
    into ``dest``, a folder that does not exist yet or is empty, after every member passed
    the checks of the module docstring (no predictions file is needed); the names written.

    Either every file is written and ``dest`` appears complete, or nothing is left behind
    and :class:`ArchiveError` says why.
    """
    dest = Path(dest)
    with open_zip(source) as archive:
        infos = _members(archive, limits)
        files = tuple(sorted(infos))
        staging = _extract(archive, infos, files, dest, limits)
    try:
        if dest.is_dir() and not dest.is_symlink() and not any(dest.iterdir()):
            dest.rmdir()
        os.rename(staging, dest)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(
            f"the archive could not be put in {dest} ({err.strerror or err}); nothing was kept"
        ) from None
    return files


def _extract(
    archive: zipfile.ZipFile,
    infos: dict[str, zipfile.ZipInfo],
    files: tuple[str, ...],
    dest: Path,
    limits: ArchiveLimits,
) -> Path:
    """Write ``files`` into a new hidden folder beside ``dest`` (made with its parents);
    that folder, complete. On any failure nothing is left and :class:`ArchiveError` (or
    the failure itself) is raised."""
    staging: Path | None = None
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
        )
        budget = limits.max_total_bytes
        real = os.path.realpath(staging)
        for name in files:
            target = staging.joinpath(*name.split("/"))
            # Nothing in the archive is a link and the folder is new, so no write can
            # land outside it; checked anyway, it costs nothing.
            parent = os.path.realpath(target.parent)
            if parent != real and not parent.startswith(real + os.sep):
                raise ArchiveError(f"archive member {name!r} leads outside the archive")
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "xb") as sink:
                budget -= _copy(archive, infos[name], sink, budget=budget)
    except OSError as err:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise ArchiveError(
            f"the archive could not be extracted on the server ({err.strerror or err}); "
            "nothing was kept"
        ) from None
    except BaseException:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging


# ---------------------------------------------------------------------- the managed area
def media_area(project_file: str | Path) -> Path:
    """The folder beside the project file that holds extracted archives: ``NAME.media``
    for ``NAME.db``."""
    path = Path(project_file).resolve()
    return path.with_name(f"{path.stem}.media")


def run_folder(project_file: str | Path, dataset: str, run: str, data: bytes) -> Path:
    """Where an archive uploaded as ``run`` of ``dataset`` goes:
    ``NAME.media/DATASET/RUN-HASH``, names reduced to safe characters and ``HASH`` the
    first 12 hex digits of the archive's SHA-256 (so a glance tells two uploads apart)."""
    digest = hashlib.sha256(data).hexdigest()[:12]
    return media_area(project_file) / safe_part(dataset) / f"{safe_part(run)}-{digest}"


def remove_run_folder(path: str | Path, *, project_file: str | Path) -> bool:
    """Remove the extracted archive that ``path`` (the folder or anything inside it) belongs
    to, if it lies in the project's managed area; True when something was removed.

    Anything else (a folder the operator chose, the area itself, a link) is left alone.
    """
    area = media_area(project_file)
    try:
        inside = Path(os.path.abspath(path)).relative_to(area)
    except ValueError:
        return False
    if len(inside.parts) < 2:
        return False
    folder = area / inside.parts[0] / inside.parts[1]
    if folder.is_symlink() or not folder.is_dir():
        return False
    if not os.path.realpath(folder).startswith(os.path.realpath(area) + os.sep):
        return False
    shutil.rmtree(folder)
    return True


# ---------------------------------------------------------------------- internals
def open_zip(data: bytes | BinaryIO) -> zipfile.ZipFile:
    """The zip archive ``data`` (its bytes or an open binary file), or :class:`ArchiveError`
    when it is not one; its members are not checked yet."""
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray | memoryview) else data
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, ValueError):
        raise ArchiveError(
            "the upload is not a readable .zip archive; nothing was imported"
        ) from None


def _inspect(
    archive: zipfile.ZipFile, limits: ArchiveLimits
) -> tuple[ArchiveContents, dict[str, zipfile.ZipInfo]]:
    """The checked contents, and the member of each normalised file name."""
    files = _members(archive, limits)
    contents = ArchiveContents(
        files=tuple(sorted(files)),
        predictions=_predictions(list(files)),
        total_bytes=sum(info.file_size for info in files.values()),
    )
    return contents, files


def _members(archive: zipfile.ZipFile, limits: ArchiveLimits) -> dict[str, zipfile.ZipInfo]:
    """The member of each normalised file name, every member checked."""
    members = archive.infolist()
    if len(members) > limits.max_members:
        raise ArchiveError(
            f"the archive has {len(members):,} members, more than the {limits.max_members:,} "
            "allowed; nothing was imported"
        )
    files: dict[str, zipfile.ZipInfo] = {}
    folders: set[str] = set()
    total = 0
    for info in members:
        name = _member_name(info)
        if name is None:
            continue
        if info.is_dir():
            folders.add(name)
            continue
        if name in files or name in folders:
            raise ArchiveError(f"archive member {name!r} appears twice; nothing was imported")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise ArchiveError(
                f"the archive holds more than {limits.max_total_bytes:,} bytes uncompressed; "
                "nothing was imported"
            )
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > limits.ratio_floor_bytes and ratio > limits.max_ratio:
            raise ArchiveError(
                f"archive member {name!r} compresses {ratio:,.0f} times, more than the "
                f"{limits.max_ratio:,.0f} allowed (a zip bomb?); nothing was imported"
            )
        files[name] = info
    for name in files:
        parent = posixpath.dirname(name)
        while parent:
            if parent in files:
                raise ArchiveError(
                    f"archive member {parent!r} is both a file and a folder; nothing was imported"
                )
            parent = posixpath.dirname(parent)
    return files


def _member_name(info: zipfile.ZipInfo) -> str | None:
    """The member's name, normalised; None for what is skipped; ArchiveError if unsafe."""
    raw = info.orig_filename  # zipfile cuts `filename` at a NUL byte; the original keeps it
    shown = repr(raw[:80])
    if "\x00" in raw:
        raise ArchiveError(
            f"archive member {shown} has a NUL byte in its name; nothing was imported"
        )
    name = raw.rstrip("/") if info.is_dir() else raw
    problem = media_path_problem(name)
    if problem is not None:
        # The same rules as media paths, said of the archive.
        problem = problem.replace("media paths", "member names").replace("media root", "archive")
        raise ArchiveError(f"archive member {shown} {problem}; nothing was imported")
    name = posixpath.normpath(name)
    if f"{name}/".startswith(IGNORED_FOLDERS):
        return None
    kind = stat.S_IFMT(info.external_attr >> 16)
    if kind == stat.S_IFLNK:
        raise ArchiveError(f"archive member {shown} is a symbolic link; nothing was imported")
    if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
        raise ArchiveError(f"archive member {shown} is not a plain file; nothing was imported")
    if info.flag_bits & 0x1:
        raise ArchiveError(f"archive member {shown} is encrypted; nothing was imported")
    if info.compress_type not in _COMPRESSIONS:
        raise ArchiveError(
            f"archive member {shown} uses a compression method this app cannot read "
            f"({info.compress_type}); nothing was imported"
        )
    return name


def _predictions(names: list[str]) -> str:
    found = [n for n in names if Path(n).suffix.lower() in FORMATS]
    if not found:
        kinds = ", ".join(sorted(FORMATS))
        raise ArchiveError(f"the archive holds no predictions file ({kinds}); nothing was imported")
    top = min(n.count("/") for n in found)
    nearest = sorted(n for n in found if n.count("/") == top)
    if len(nearest) > 1:
        listed = ", ".join(repr(n) for n in nearest[:5])
        raise ArchiveError(
            f"the archive holds {len(nearest)} predictions files side by side ({listed}); "
            "keep one, or move the others into a sub-folder; nothing was imported"
        )
    return nearest[0]


def _copy(archive: zipfile.ZipFile, info: zipfile.ZipInfo, sink: BinaryIO, *, budget: int) -> int:
    """Copy member ``info`` into ``sink``; the bytes written. Refuses a member that
    produces more than it declared or than ``budget``."""
    name = info.filename
    written = 0
    try:
        with archive.open(info) as source:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > info.file_size or written > budget:
                    raise ArchiveError(
                        f"archive member {name!r} holds more than its header says; "
                        "nothing was imported"
                    )
                sink.write(chunk)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as err:
        raise ArchiveError(
            f"archive member {name!r} is damaged ({err}); nothing was imported"
        ) from None
    return written


def _claim(staging: Path, dest: Path) -> Path:
    """Rename ``staging`` to ``dest``, or to the first free ``dest-N``."""
    for n in range(1, 1000):
        candidate = dest if n == 1 else dest.with_name(f"{dest.name}-{n}")
        if candidate.exists() or candidate.is_symlink():
            continue
        try:
            os.rename(staging, candidate)
        except OSError:  # taken meanwhile by another upload of the same archive
            continue
        return candidate
    raise ArchiveError(f"no free folder name next to {dest.name!r}; nothing was kept")


def safe_part(name: str) -> str:
    """``name`` as a plain folder name: only letters, digits, ``.``, ``_`` and ``-``."""
    # Dataset and run names were checked (no control characters) but may hold '/', '..',
    # spaces or anything else; the folder name keeps only plain characters.
    return _SAFE_PART.sub("_", name).strip("._")[:60] or "x"
