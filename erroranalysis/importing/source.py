"""The bytes of a data file, and the preamble every text format shares.

:func:`load` reads a path or a file object, refusing what is not a regular file.
:func:`text_file` turns the bytes (or the path) of a CSV or JSON Lines file into text, or
reports why they are not text of that kind: a known binary format by its magic bytes, an
encoding that does not fit (every line that does not decode is named), binary content,
an empty file.
"""

from __future__ import annotations

import codecs
import io
import json
import os
import re
import stat
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ..errors import ExpectedError
from .report import MAX_PROBLEMS_PER_CHECK, ImportValidationError, Problem, Report

# What a file is when it starts with these bytes, to say so instead of a parse error.
MAGIC = (
    (b"PAR1", "a Parquet file"),
    (b"PK\x03\x04", "a ZIP archive (an Excel workbook?)"),
    (b"\x1f\x8b", "gzip-compressed"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"SQLite format 3\x00", "an SQLite database"),
)
# A run of UTF-16 surrogates: never text, whether a decoder produced it or a JSON escape did.
SURROGATES = re.compile("[\ud800-\udfff]+")
# The way out of text that does not decode, said alike for the file and for each line.
_OTHER_ENCODING = (
    "if the file uses another encoding, pass it: --encoding latin-1 on the command line, "
    "encoding='latin-1' in Python"
)


def load(
    source: object, filename: str | None, *, keep_path: bool = False
) -> tuple[str, bytes | Path, Path | None]:
    """(file name, content, folder of the file or None for a file object).

    With ``keep_path`` the content of a regular file is its path, for a reader that reads
    the file itself (so its bytes are not all held at once); a file object's is its bytes.
    A path that is not a readable regular file raises :class:`ImportValidationError`; a
    file object must be opened in binary mode.
    """
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            kind = path.stat().st_mode
            # A FIFO or a device would block, or never end; only a regular file is data.
            if stat.S_ISDIR(kind):
                problem = f"{path} is a folder, not a data file"
            elif not stat.S_ISREG(kind):
                problem = f"{path} is not a regular file"
            else:
                content = path if keep_path else path.read_bytes()
                return filename or path.name, content, path.resolve().parent
        except FileNotFoundError:
            problem = f"file not found: {path}"
        except OSError as err:
            problem = f"cannot read {path}: {err.strerror or err}"
        except ValueError as err:  # a NUL in the path
            problem = f"cannot read {str(path)!r}: {err}"
        raise ImportValidationError([Problem(problem)])
    read = getattr(source, "read", None)
    if read is None:
        raise TypeError(f"source must be a path or a binary file object, not {type(source)}")
    raw = read()
    if isinstance(raw, str):
        raise TypeError("source must be opened in binary mode ('rb')")
    name = filename or Path(str(getattr(source, "name", "") or "")).name
    return name, bytes(raw), None


def check_encoding(encoding: str) -> str:
    """The codec name of the text encoding ``encoding``, or :class:`ExpectedError` naming it.

    A codec that is not a text encoding (``rot13``, ``base64``, ``zlib``...) is refused:
    Python's documented rule is that ``bytes.decode`` and ``str.encode`` refuse such codecs
    with ``LookupError``, so probing both is the public way to tell.
    """
    try:
        codec = codecs.lookup(encoding).name
    except (LookupError, TypeError, ValueError):  # ValueError: a name with a NUL in it
        raise ExpectedError(
            f"unknown text encoding {encoding!r}; pass one such as utf-8, latin-1, cp1252 or utf-16"
        ) from None
    try:
        b"".decode(codec)
        "".encode(codec)
    except (LookupError, UnicodeError):
        raise ExpectedError(
            f"{encoding!r} is a codec but not a text encoding (it does not turn bytes into "
            "text); pass one such as utf-8, latin-1, cp1252 or utf-16"
        ) from None
    return codec


class Text(NamedTuple):
    """A checked text file: its text as UTF-8 ``data`` (the file's own bytes when it is
    UTF-8 without a byte-order mark, or its path when it was given as one), and the number
    and stripped content of its ``first`` line that is not blank. The text is not kept as a
    ``str`` too: that would be a second copy of the whole file (``data.decode("utf-8")``
    gives it where a reader needs it)."""

    data: bytes | Path
    line: int
    first: str


def text_file(raw: bytes | Path, *, encoding: str, kind: str, report: Report) -> Text | None:
    """Decode a text data file, or report why it is not one (binary, wrong encoding, empty).

    A file given by its path is checked a megabyte at a time and stays on disk when it is
    UTF-8 without a byte-order mark; any other is read and checked in memory."""
    if isinstance(raw, Path):
        checked = _text_path(raw, encoding=encoding, kind=kind, report=report)
        if checked is not _IN_MEMORY:
            return checked
        raw = raw.read_bytes()
    what = magic(raw)
    if what:
        report.add(f"the file is {what}, not a {kind} text file")
        return None
    decoded = _decode(raw, encoding, report)
    if decoded is None:
        return None
    line, first = _first_line(io.BytesIO(decoded))
    if not line:
        report.add("the file is empty")
        return None
    binary = _binary(decoded)
    if binary:
        report.add(f"the file {binary}; it is not a {kind} text file")
        return None
    return Text(decoded, line, first)


# What _text_path returns for a file it leaves to be decoded in memory.
_IN_MEMORY = Text(b"", 0, "")


def _text_path(path: Path, *, encoding: str, kind: str, report: Report) -> Text | None:
    """:func:`text_file` of a file left on disk: its :class:`Text` with ``data`` the path,
    None with the problem reported, or ``_IN_MEMORY`` for a file that is not plain UTF-8
    (another encoding, a byte-order mark, a byte that does not decode), whose problems
    :func:`text_file` finds in memory as for any file."""
    with path.open("rb") as stream:
        head = stream.read(_CHECK_CHUNK)
        what = magic(head)
        if what:
            report.add(f"the file is {what}, not a {kind} text file")
            return None
        try:
            codec = check_encoding(encoding)
        except ExpectedError as err:
            report.add(str(err))
            return None
        if codec != "utf-8" or head.startswith(codecs.BOM_UTF8):
            return _IN_MEMORY
        decoder = codecs.getincrementaldecoder("utf-8")()
        nul_line, lines = 0, 0
        chunk = head
        try:
            while chunk:
                decoder.decode(chunk)
                at = chunk.find(b"\x00") if not nul_line else -1
                if at >= 0:
                    nul_line = lines + chunk.count(b"\n", 0, at) + 1
                lines += chunk.count(b"\n")
                chunk = stream.read(_CHECK_CHUNK)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return _IN_MEMORY
        stream.seek(0)
        line, first = _first_line(stream)
    if not line:
        report.add("the file is empty")
        return None
    if nul_line:
        report.add(f"the file {_nul_sentence(nul_line)}; it is not a {kind} text file")
        return None
    return Text(path, line, first)


def magic(raw: bytes) -> str | None:
    """What the file is by its first bytes (``"a PDF document"``), or None if none is known."""
    for prefix, what in MAGIC:
        if raw.startswith(prefix):
            return what
    return None


def is_json_object(line: str) -> bool:
    """Whether ``line`` is one JSON object (to tell JSON Lines from CSV in messages)."""
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


def _decode(raw: bytes, encoding: str, report: Report) -> bytes | None:
    """The file's text as UTF-8 bytes, reporting every line that does not decode.

    Undecodable bytes become U+FFFD so that the rest of the file can still be checked.
    A UTF-8 file that decodes is returned as it is (without its byte-order mark).
    """
    try:
        codec = check_encoding(encoding)
    except ExpectedError as err:
        report.add(str(err))
        return None
    utf8 = codec == "utf-8"
    if utf8 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    if utf8 and _valid_utf8(raw):
        return raw
    try:
        text: str | None = None if utf8 else raw.decode(codec)
    except UnicodeError:  # UnicodeDecodeError, or plain UnicodeError from codecs such as idna
        text = None
    # A decoder such as unicode_escape can produce lone surrogates, which are not text.
    if text is not None and not SURROGATES.search(text):
        return text.encode("utf-8")
    if text is None:
        try:
            text = raw.decode(codec, errors="surrogateescape")
        except UnicodeError as err:
            # surrogateescape cannot stand in for every byte (an odd byte in UTF-16).
            reason = getattr(err, "reason", None) or str(err)
            report.add(f"the file is not valid {codec} text ({reason}); {_OTHER_ENCODING}")
            return None
    line, last, bad = 1, 0, 0
    reported_line = 0
    for match in SURROGATES.finditer(text):
        line += text.count("\n", last, match.start())
        last = match.start()
        if line == reported_line:
            continue
        reported_line = line
        bad += 1
        if bad > MAX_PROBLEMS_PER_CHECK:
            continue
        report.add(
            f"this line is not valid {codec} text ({_undecodable(match.group())}); "
            f"{_OTHER_ENCODING}",
            row=line,
        )
    report.more(bad - MAX_PROBLEMS_PER_CHECK)
    return SURROGATES.sub("\ufffd", text).encode("utf-8")


# Bytes decoded at a time to check UTF-8: the decoded pieces are dropped as they come, so
# the check never holds the file's text beside its bytes.
_CHECK_CHUNK = 1 << 20


def count_bytes(data: bytes | Path, sub: bytes) -> int:
    """How many times ``sub`` (one byte) occurs in ``data``, bytes or a file read a piece
    at a time."""
    if isinstance(data, bytes):
        return data.count(sub)
    with data.open("rb") as stream:
        return sum(piece.count(sub) for piece in iter(lambda: stream.read(_CHECK_CHUNK), b""))


def _valid_utf8(raw: bytes) -> bool:
    """Whether ``raw`` is strict UTF-8 (as ``raw.decode("utf-8")`` would accept)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    try:
        for start in range(0, len(raw), _CHECK_CHUNK):
            decoder.decode(view[start : start + _CHECK_CHUNK])
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _undecodable(run: str) -> str:
    """What a run of surrogates from decoding stands for: bytes that did not decode
    (surrogateescape maps byte 0xNN to U+DCNN), or a lone surrogate the codec produced."""
    if all("\udc80" <= c <= "\udcff" for c in run[:4]):
        return "bytes " + " ".join(f"0x{ord(c) - 0xDC00:02x}" for c in run[:4])
    return f"the lone surrogate U+{ord(run[0]):04X}, half of a UTF-16 pair, is not text"


def _binary(data: bytes) -> str | None:
    """Where the first NUL byte of the UTF-8 ``data`` is, as the end of a sentence; None if
    none (in UTF-8 the byte 0 is only ever the character NUL)."""
    at = data.find(b"\x00")
    if at < 0:
        return None
    return _nul_sentence(data.count(b"\n", 0, at) + 1)


def _nul_sentence(line: int) -> str:
    return f"contains binary data (a NUL byte on line {line})"


def _first_line(stream: BinaryIO) -> tuple[int, str]:
    """(line number, stripped content) of the first line of the UTF-8 ``stream`` that is
    not blank; (0, "") if none. Only the lines up to it are read and decoded."""
    for number, line in enumerate(stream, start=1):
        content = line.decode("utf-8").strip()
        if content:
            return number, content
    return 0, ""
