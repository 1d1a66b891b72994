"""A project with its media in one ``.zip``: written by :func:`bundle_project`, opened
anywhere by :func:`open_bundle`.

A bundle holds, at its top::

    bundle.json                     what it is: the project file's name, its SHA-256
    NAME.db                         a consistent snapshot of the project file
    media/DATASET/RUN/...           the media files each run's media columns name

The snapshot's media roots point at ``media/DATASET/RUN`` relative to the project file
(see :func:`erroranalysis.store.common.stored_media_root`), so the opened folder works
wherever it is. Only files the runs name are bundled, each resolved inside its run's
media root; http(s) URLs stay URLs. Opening extracts through
:func:`erroranalysis.archive.extract_files`, which checks every member first (zip slip,
links, bombs) and writes nothing when one is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .archive import ArchiveError, ArchiveLimits, extract_files, open_zip, safe_part
from .errors import ExpectedError
from .media import UnsafeMediaPath, local_media, resolve_media
from .store import Project, RunInfo, check_project_file, open_project
from .store.common import check_actor

__all__ = ["BUNDLE_LIMITS", "BundleError", "OpenedBundle", "bundle_project", "open_bundle"]

MANIFEST = "bundle.json"
MEDIA = "media"
FORMAT = 1
MANIFEST_BYTES = 1 << 16
# A bundle is a file the user chose on their own machine, not an upload: it may hold far
# more media than an upload; a member that compresses suspiciously well is still refused.
BUNDLE_LIMITS = ArchiveLimits(max_members=1_000_000, max_total_bytes=200_000_000_000)


class BundleError(ExpectedError):
    """A bundle that cannot be written or opened; nothing was written."""


@dataclass(frozen=True)
class OpenedBundle:
    """Where :func:`open_bundle` put a bundle."""

    folder: Path
    project: Path  # the project file inside the folder
    reused: bool  # the folder held this bundle already; nothing was extracted


def bundle_project(project_file: str | Path, out: str | Path, *, actor: str = "bundle") -> int:
    """Write the project at ``project_file`` and the media of every run into the zip file
    ``out`` (whole or not at all); the number of media files written.

    Refuses (:class:`BundleError`, nothing written) an ``out`` in a missing folder, and a
    run whose media files are missing or leave its media root.
    """
    project_file, out = Path(project_file), Path(out)
    if not out.parent.is_dir():
        raise BundleError(f"{out}: the folder {out.parent} does not exist; nothing was written")
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.") as work:
        snapshot = Path(work) / project_file.name
        with open_project(project_file, readonly=True, create=False) as source:
            media = {info: _run_media(info, source) for info in source.runs()}
            source.snapshot(snapshot)
        folders = _folders([info for info, files in media.items() if files])
        with open_project(snapshot) as copy:
            for info, folder in folders.items():
                copy.dataset(info.dataset)._relink(
                    snapshot.parent / folder, run=info.name, actor=check_actor(actor), verify=False
                )
        if Path(f"{snapshot}-wal").exists():
            raise BundleError(
                f"the snapshot of {project_file} kept a WAL file; nothing was written"
            )
        digest = hashlib.sha256(snapshot.read_bytes()).hexdigest()
        manifest = {"bundle": FORMAT, "project": snapshot.name, "sha256": digest}
        # Runs that share a media folder (two models on the same examples) share its copy.
        members = {
            f"{folder}/{relative}": path
            for info, folder in folders.items()
            for relative, path in media[info].items()
        }
        partial = Path(work) / out.name
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(MANIFEST, json.dumps(manifest, indent=1))
            archive.write(snapshot, snapshot.name)
            for name, path in members.items():
                archive.write(path, name)
        os.replace(partial, out)
    return len(members)


def _run_media(info: RunInfo, project: Project) -> dict[str, Path]:
    """Each media path the run names, and its file resolved inside the run's media root."""
    paths = local_media(project.dataset(info.dataset).examples(info.name, sample_only=True))
    if paths and info.media_root is None:
        raise BundleError(
            f"run {info.name!r} of {info.dataset!r} names media files but has no media "
            "folder; nothing was written"
        )
    files: dict[str, Path] = {}
    missing = []
    for relative in paths:
        try:
            path = resolve_media(info.media_root, relative)
        except UnsafeMediaPath as err:
            raise BundleError(
                f"run {info.name!r} of {info.dataset!r}: {err}; nothing was written"
            ) from None
        if path.is_file():
            files[relative] = path
        else:
            missing.append(relative)
    if missing:
        raise BundleError(
            f"{len(missing)} of {len(paths)} media files of run {info.name!r} of "
            f"{info.dataset!r} are not in {str(info.media_root)!r} (first missing: "
            f"{missing[0]!r}); point the run at them with `erroranalysis media relink`; "
            "nothing was written"
        )
    return files


def _folders(runs: list[RunInfo]) -> dict[RunInfo, str]:
    """The archive folder of each run's media, ``media/DATASET/RUN`` in plain characters
    (two names reduced alike get the run's id appended); runs with the same media root
    get the folder of the first of them."""
    by_root: dict[Path, str] = {}
    folders: dict[RunInfo, str] = {}
    for info in runs:
        root = Path(info.media_root).resolve()
        if root not in by_root:
            folder = f"{MEDIA}/{safe_part(info.dataset)}/{safe_part(info.name)}"
            if folder in by_root.values():
                folder = f"{folder}-{info.id}"
            by_root[root] = folder
        folders[info] = by_root[root]
    return folders


def open_bundle(bundle: str | Path, *, into: str | Path | None = None) -> OpenedBundle:
    """Extract the bundle at ``bundle`` into the folder ``into`` (default: beside it, named
    after it: ``FILE`` for ``FILE.zip``) and return where its project file is.

    ``into`` must be new or empty, unless it holds this same bundle already opened (then
    nothing is extracted). Every member is checked before anything is written; an unsafe
    one, or an archive that is no bundle, raises :class:`BundleError` or
    :class:`~erroranalysis.archive.ArchiveError` and writes nothing.
    """
    bundle = Path(bundle)
    folder = Path(into) if into is not None else _default_folder(bundle)
    with open(bundle, "rb") as handle:
        manifest = _manifest(handle, bundle)
        project = folder / manifest["project"]
        if folder.exists() or folder.is_symlink():
            if _holds(folder, manifest):
                return OpenedBundle(folder=folder, project=project, reused=True)
            if not folder.is_dir() or folder.is_symlink() or any(folder.iterdir()):
                raise BundleError(
                    f"{folder} exists and is not an empty folder (nor this bundle opened "
                    "before); pass --into NEW_FOLDER; nothing was written"
                )
        handle.seek(0)
        extract_files(handle, folder, limits=BUNDLE_LIMITS)
    try:
        check_project_file(project, create=False)
    except ExpectedError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return OpenedBundle(folder=folder, project=project, reused=False)


def _default_folder(bundle: Path) -> Path:
    folder = bundle.with_suffix("")
    return folder if folder != bundle else bundle.with_name(f"{bundle.name}-opened")


def _manifest(handle: BinaryIO, bundle: Path) -> dict:
    """The bundle's manifest, checked: it names a project file at the archive's top."""
    not_bundle = f"{bundle} is not a project bundle (written by `erroranalysis bundle`)"
    try:
        with open_zip(handle) as archive:
            if archive.getinfo(MANIFEST).file_size > MANIFEST_BYTES:
                raise ValueError("too big for a manifest")
            manifest = json.loads(archive.read(MANIFEST))
    except ArchiveError:
        raise BundleError(f"{bundle} is not a readable .zip archive; nothing was written") from None
    except (KeyError, ValueError, zipfile.BadZipFile):
        raise BundleError(f"{not_bundle}; nothing was written") from None
    if not isinstance(manifest, dict) or manifest.get("bundle") != FORMAT:
        raise BundleError(f"{not_bundle}; nothing was written")
    name = manifest.get("project")
    if not isinstance(name, str):
        raise BundleError(f"{not_bundle}; nothing was written")
    if name != Path(name).name or name in ("", ".", "..") or "\\" in name:
        raise ArchiveError(f"the bundle names its project file {name!r}, not a plain file name")
    return manifest


def _holds(folder: Path, manifest: dict) -> bool:
    """True when ``folder`` is where this bundle was opened before (its manifest, and the
    project file it names, are there)."""
    try:
        found = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return found == manifest and (folder / manifest["project"]).is_file()
