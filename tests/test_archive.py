"""Uploaded archives: a predictions file and its media extracted safely, or nothing at all."""

from __future__ import annotations

import io
import stat
import struct
import zipfile
from pathlib import Path

import pytest

from erroranalysis.archive import (
    ArchiveError,
    ArchiveLimits,
    extract_archive,
    inspect_archive,
    is_archive,
    media_area,
    read_predictions,
    remove_run_folder,
    run_folder,
)
from erroranalysis.errors import ExpectedError

CSV = b"id,label,prediction,audio\n1,a,a,clips/a.wav\n"
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(28)


def make_zip(
    members: list[tuple[str, bytes] | zipfile.ZipInfo | tuple[zipfile.ZipInfo, bytes]],
    *,
    compression: int = zipfile.ZIP_DEFLATED,
) -> bytes:
    """A zip of (name, content) pairs, or of ZipInfo entries (a folder, a crafted member)."""
    sink = io.BytesIO()
    with zipfile.ZipFile(sink, "w", compression=compression) as archive:
        for member in members:
            if isinstance(member, zipfile.ZipInfo):
                archive.writestr(member, b"")
            else:
                name, content = member
                archive.writestr(name, content)
    return sink.getvalue()


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix, so the mode bits mean what they say
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def left_behind(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------------- a good archive
def test_a_good_archive_is_extracted_whole(tmp_path):
    data = make_zip(
        [
            ("bundle/preds.csv", CSV),
            ("bundle/clips/a.wav", WAV),
            ("bundle/clips/deep/er/b.wav", WAV + b"x"),
            zipfile.ZipInfo("bundle/empty/"),
            ("bundle/notes/readme.txt", b"hello"),
        ]
    )
    contents = inspect_archive(data)
    assert contents.predictions == "bundle/preds.csv"
    assert contents.files == (
        "bundle/clips/a.wav",
        "bundle/clips/deep/er/b.wav",
        "bundle/notes/readme.txt",
        "bundle/preds.csv",
    )
    assert contents.total_bytes == len(CSV) + 2 * len(WAV) + 1 + 5

    extracted = extract_archive(data, tmp_path / "area" / "speech" / "run-abc")
    assert extracted.folder == tmp_path / "area" / "speech" / "run-abc"
    assert extracted.member == "bundle/preds.csv"
    assert extracted.predictions.read_bytes() == CSV
    assert extracted.media_root == extracted.folder / "bundle"
    assert (extracted.media_root / "clips" / "deep" / "er" / "b.wav").read_bytes() == WAV + b"x"
    assert left_behind(tmp_path / "area" / "speech") == [
        "run-abc",
        "run-abc/bundle",
        "run-abc/bundle/clips",
        "run-abc/bundle/clips/a.wav",
        "run-abc/bundle/clips/deep",
        "run-abc/bundle/clips/deep/er",
        "run-abc/bundle/clips/deep/er/b.wav",
        "run-abc/bundle/notes",
        "run-abc/bundle/notes/readme.txt",
        "run-abc/bundle/preds.csv",
    ]  # no staging folder left, and the empty folder entry made nothing


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_every_common_compression_is_read(tmp_path, compression):
    data = make_zip([("p.csv", CSV), ("clips/a.wav", WAV)], compression=compression)
    extracted = extract_archive(data, tmp_path / "x")
    assert (extracted.media_root / "clips" / "a.wav").read_bytes() == WAV


def test_a_taken_folder_name_gets_a_suffix(tmp_path):
    data = make_zip([("p.csv", CSV)])
    first = extract_archive(data, tmp_path / "run")
    second = extract_archive(data, tmp_path / "run")
    third = extract_archive(data, tmp_path / "run")
    assert [first.folder.name, second.folder.name, third.folder.name] == ["run", "run-2", "run-3"]
    assert third.predictions.read_bytes() == CSV


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["p.csv", "clips/meta.csv"], "p.csv"),  # the one nearest the top
        (["data/p.parquet", "data/clips/x.jsonl"], "data/p.parquet"),
        (["a/b/p.JSONL", "a/b/c/d.csv"], "a/b/p.JSONL"),
        (["./p.csv"], "p.csv"),  # names are normalised
        (["p.ndjson", "__MACOSX/._p.csv", "__MACOSX/x/._a.csv"], "p.ndjson"),  # Finder junk
    ],
)
def test_the_predictions_file(names, expected):
    data = make_zip([(name, CSV) for name in names])
    assert inspect_archive(data).predictions == expected
    assert read_predictions(data) == (expected, CSV)


def test_finder_junk_is_not_extracted(tmp_path):
    data = make_zip([("p.csv", CSV), ("__MACOSX/._p.csv", b"junk"), zipfile.ZipInfo("__MACOSX/")])
    extracted = extract_archive(data, tmp_path / "x")
    assert left_behind(extracted.folder) == ["p.csv"]


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (["clips/a.wav"], "holds no predictions file"),
        ([], "holds no predictions file"),
        (["a.csv", "b.csv"], "holds 2 predictions files side by side \\('a.csv', 'b.csv'\\)"),
        (["x/a.csv", "y/b.jsonl"], "holds 2 predictions files side by side"),
    ],
)
def test_no_or_ambiguous_predictions_file_is_refused(names, reason):
    with pytest.raises(ArchiveError, match=reason):
        inspect_archive(make_zip([(name, CSV) for name in names]))


# ---------------------------------------------------------------------- zip slip
@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../id_rsa", "'\\.\\./id_rsa' leads outside the archive"),  # climbing out
        ("clips/../../id_rsa", "leads outside"),
        ("clips/./../../../etc/passwd", "leads outside"),
        ("..", "leads outside"),
        (
            "/etc/passwd",
            "is an absolute path; member names must be relative to the archive",
        ),  # absolute
        ("//server/share/x", "is an absolute path"),
        ("C:/Windows/win.ini", "drive letter"),  # drive letters
        ("c:evil.csv", "drive letter"),
        ("..\\..\\id_rsa", "backslash"),  # Windows separators
        ("clips\\a.wav", "backslash"),
        ("a\nb.wav", "control characters"),
        ("file:///etc/passwd", "scheme"),
    ],
)
def test_zip_slip_is_refused_before_anything_is_written(tmp_path, name, reason):
    data = make_zip([("p.csv", CSV), ("clips/a.wav", WAV), (name, b"secret")])
    with pytest.raises(ArchiveError, match=reason) as caught:
        extract_archive(data, tmp_path / "area" / "run")
    assert isinstance(caught.value, ExpectedError)
    assert "nothing was imported" in str(caught.value)
    assert left_behind(tmp_path) == []  # not even the parent folders
    with pytest.raises(ArchiveError, match=reason):
        read_predictions(data)


def test_a_nul_byte_in_a_name_is_refused(tmp_path):
    # zipfile cuts a name at a NUL byte; the archive's own bytes still hold it.
    data = make_zip([("p.csv", CSV), ("a.wavZ../../x", b"secret")])
    data = data.replace(b"a.wavZ../../x", b"a.wav\x00../../x")
    with pytest.raises(ArchiveError, match="NUL byte"):
        extract_archive(data, tmp_path / "run")
    assert left_behind(tmp_path) == []


@pytest.mark.parametrize(
    "target", ["../../.ssh/id_rsa", "/home/user/.ssh/id_rsa", "clips/a.wav"]
)  # even one that would stay inside
def test_a_symbolic_link_member_is_refused(tmp_path, target):
    data = make_zip([("p.csv", CSV), ("clips/a.wav", WAV), symlink_member("clips/b.wav", target)])
    with pytest.raises(ArchiveError, match="'clips/b.wav' is a symbolic link"):
        extract_archive(data, tmp_path / "run")
    assert left_behind(tmp_path) == []


def test_a_link_named_like_the_folder_of_later_members_is_refused(tmp_path):
    # The classic two-step slip: a link "clips" -> "/", then "clips/etc/x".
    data = make_zip([("p.csv", CSV), symlink_member("clips", "/"), ("clips/etc/x", b"x")])
    with pytest.raises(ArchiveError, match="symbolic link|both a file and a folder"):
        extract_archive(data, tmp_path / "run")
    assert left_behind(tmp_path) == []


@pytest.mark.parametrize(
    ("mode", "reason"),
    [(stat.S_IFIFO | 0o644, "not a plain file"), (stat.S_IFCHR | 0o644, "not a plain file")],
)
def test_special_files_are_refused(mode, reason):
    info = zipfile.ZipInfo("clips/dev")
    info.create_system = 3
    info.external_attr = mode << 16
    with pytest.raises(ArchiveError, match=reason):
        inspect_archive(make_zip([("p.csv", CSV), (info, b"")]))


@pytest.mark.filterwarnings("ignore:Duplicate name:UserWarning")
def test_duplicates_and_clashes_are_refused():
    with pytest.raises(ArchiveError, match="'clips/a.wav' appears twice"):
        inspect_archive(make_zip([("p.csv", CSV), ("clips/a.wav", WAV), ("clips/a.wav", WAV)]))
    with pytest.raises(ArchiveError, match="'clips/a.wav' appears twice"):
        inspect_archive(make_zip([("p.csv", CSV), ("clips/a.wav", WAV), ("clips//a.wav", WAV)]))
    with pytest.raises(ArchiveError, match="'clips' is both a file and a folder"):
        inspect_archive(make_zip([("p.csv", CSV), ("clips", b"x"), ("clips/a.wav", WAV)]))


def test_encrypted_members_are_refused():
    data = make_zip([("p.csv", CSV), ("clips/a.wav", WAV)])
    # zipfile writes no encrypted members; set the "encrypted" flag in both headers.
    data = _patch(data, b"clips/a.wav", local=6, central=8, fmt="<H", value=0x1)
    assert zipfile.ZipFile(io.BytesIO(data)).getinfo("clips/a.wav").flag_bits & 0x1
    with pytest.raises(ArchiveError, match="'clips/a.wav' is encrypted"):
        inspect_archive(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"id,label,prediction\n1,a,a\n",
        b"PK\x03\x04" + bytes(30),
        make_zip([("p.csv", CSV)])[:-30],
    ],
    ids=["empty", "a csv", "a bare header", "truncated"],
)
def test_what_is_not_a_zip_is_refused(tmp_path, data):
    with pytest.raises(ArchiveError, match="not a readable .zip archive"):
        extract_archive(data, tmp_path / "run")
    assert left_behind(tmp_path) == []


# ---------------------------------------------------------------------- zip bombs
def test_a_zip_bomb_is_refused_by_its_compression_ratio(tmp_path):
    bomb = bytes(4 << 20)  # 4 MiB of zeros: deflate packs them about 1,000 times
    data = make_zip([("p.csv", CSV), ("clips/a.wav", bomb)])
    assert len(data) < 50_000
    with pytest.raises(ArchiveError, match="'clips/a.wav' compresses [\\d,]+ times.*zip bomb"):
        extract_archive(data, tmp_path / "run")
    assert left_behind(tmp_path) == []


def test_small_members_may_compress_well(tmp_path):
    # A silent clip compresses far more than 200 times, but below 1 MiB it is no bomb.
    data = make_zip([("p.csv", CSV), ("clips/silence.wav", WAV + bytes(500_000))])
    extracted = extract_archive(data, tmp_path / "run")
    assert (extracted.media_root / "clips" / "silence.wav").stat().st_size == len(WAV) + 500_000


def test_the_total_uncompressed_size_is_capped(tmp_path):
    data = make_zip([("p.csv", CSV)] + [(f"clips/{i}.wav", bytes(400)) for i in range(10)])
    limits = ArchiveLimits(max_total_bytes=2_000)
    with pytest.raises(ArchiveError, match="more than 2,000 bytes uncompressed"):
        extract_archive(data, tmp_path / "run", limits=limits)
    assert left_behind(tmp_path) == []
    assert extract_archive(data, tmp_path / "run", limits=ArchiveLimits(max_total_bytes=5_000))


def test_too_many_members_are_refused(tmp_path):
    data = make_zip([("p.csv", CSV)] + [(f"clips/{i}.wav", WAV) for i in range(10)])
    with pytest.raises(ArchiveError, match="has 11 members, more than the 10 allowed"):
        extract_archive(data, tmp_path / "run", limits=ArchiveLimits(max_members=10))
    assert left_behind(tmp_path) == []
    assert extract_archive(data, tmp_path / "run", limits=ArchiveLimits(max_members=11))


def test_the_default_limits():
    assert ArchiveLimits() == ArchiveLimits(
        max_members=20_000,
        max_total_bytes=2_000_000_000,
        max_ratio=200.0,
        ratio_floor_bytes=1 << 20,
    )


def _patch(data: bytes, name: bytes, *, local: int, central: int, fmt: str, value: int) -> bytes:
    """The archive with one field of member ``name`` set to ``value`` in its local header (at
    offset ``local``) and its central directory entry (at ``central``)."""
    out = bytearray(data)
    # (signature, field offset, where the name's length is, where the name starts)
    for signature, offset, length_at, name_at in (
        (b"PK\x03\x04", local, 26, 30),
        (b"PK\x01\x02", central, 28, 46),
    ):
        start = 0
        while (start := out.find(signature, start)) >= 0:
            length = struct.unpack_from("<H", out, start + length_at)[0]
            if out[start + name_at : start + name_at + length] == name:
                struct.pack_into(fmt, out, start + offset, value)
            start += 4
    return bytes(out)


def test_a_member_that_lies_about_its_size_is_refused(tmp_path):
    data = make_zip([("p.csv", CSV), ("clips/a.wav", WAV * 100)], compression=zipfile.ZIP_STORED)
    # The uncompressed size, in both headers.
    lying = _patch(data, b"clips/a.wav", local=22, central=24, fmt="<I", value=10)
    assert zipfile.ZipFile(io.BytesIO(lying)).getinfo("clips/a.wav").file_size == 10
    with pytest.raises(ArchiveError, match="'clips/a.wav' is damaged"):
        extract_archive(lying, tmp_path / "run")
    assert left_behind(tmp_path) == []  # p.csv was written first, and removed again


# ---------------------------------------------------------------------- the managed area
def test_run_folders_live_beside_the_project(tmp_path):
    project = tmp_path / "work" / "project.db"
    assert media_area(project) == tmp_path / "work" / "project.media"
    folder = run_folder(project, "speech", "baseline", b"data")
    assert folder.parent == tmp_path / "work" / "project.media" / "speech"
    assert folder.name == "baseline-3a6eb0790f39"  # the archive's SHA-256, 12 hex digits


@pytest.mark.parametrize(
    ("dataset", "run", "parts"),
    [
        ("../../etc", "..", ("etc", "x-")),
        ("a/b c", "run 2/../x", ("a_b_c", "run_2_.._x-")),
        ("ünï", ".hidden", ("n", "hidden-")),
        ("名前", "", ("x", "x-")),
    ],
)
def test_names_from_users_make_plain_folder_names(tmp_path, dataset, run, parts):
    folder = run_folder(tmp_path / "p.db", dataset, run, b"")
    assert folder.parent.name == parts[0] and folder.name.startswith(parts[1])
    assert folder.parent.parent == tmp_path / "p.media"


def test_remove_run_folder_touches_only_the_managed_area(tmp_path):
    project = tmp_path / "p.db"
    data = make_zip([("bundle/p.csv", CSV), ("bundle/clips/a.wav", WAV)])
    extracted = extract_archive(data, run_folder(project, "speech", "r", data))
    kept = extract_archive(data, run_folder(project, "speech", "other", data))
    outside = tmp_path / "operator-media"
    outside.mkdir()
    (outside / "a.wav").write_bytes(WAV)
    linked = media_area(project) / "speech" / "linked"
    linked.symlink_to(outside, target_is_directory=True)

    assert remove_run_folder(outside, project_file=project) is False
    assert remove_run_folder(media_area(project), project_file=project) is False
    assert remove_run_folder(media_area(project) / "speech", project_file=project) is False
    assert remove_run_folder(linked, project_file=project) is False
    assert (
        remove_run_folder(media_area(project) / ".." / "operator-media", project_file=project)
        is False
    )
    assert (outside / "a.wav").exists()

    # The run's media root (a folder inside the extracted archive) names its whole folder.
    assert remove_run_folder(extracted.media_root, project_file=project) is True
    assert not extracted.folder.exists()
    assert kept.predictions.exists()
    assert remove_run_folder(extracted.folder, project_file=project) is False  # already gone


@pytest.mark.parametrize(
    ("name", "expected"),
    [("a.zip", True), ("A.ZIP", True), ("a.csv", False), ("zip", False), ("a.zip.csv", False)],
)
def test_is_archive(name, expected):
    assert is_archive(name) is expected
