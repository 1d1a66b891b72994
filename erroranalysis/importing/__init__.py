"""Read a file of model predictions into one validated, canonical frame.

A user's file is hostile until validated. :func:`read_dataset` reads CSV, Parquet or JSON
Lines, collects *every* problem it finds (each naming the line or row, the column and the
value), and raises one :class:`ImportValidationError` listing them; nothing is returned
from a file with problems. On success it returns an :class:`ImportResult` whose ``frame``
is the contract with the store and the engine:

* a ``RangeIndex`` and, in this order, the columns
* ``id``, ``label``, ``prediction`` -- text (pandas' ``str`` dtype), exactly as written in
  the file: ``007`` stays ``007``; numbers from JSON or Parquet become their decimal text;
* ``correct`` -- bool, from the file's ``correct`` column or else ``label == prediction``;
* ``confidence`` -- float64 in [0, 1], NaN where empty (only if the file has the column);
* ``human_label`` -- text, missing as NaN (only if present);
* ``text``, ``audio``, ``image`` -- text (only if present); audio and image hold paths
  relative to the media root or http(s) URLs, missing as NaN;
* every other column of the file as metadata, under its own name, typed as pandas would
  infer it (numbers numeric);
* one bool column ``tag:NAME`` per dataset tag, from the ``tags`` column (``;``-separated
  names) and from boolean ``tag:NAME`` columns of the file.

Column roles can be mapped to other file columns with :class:`ColumnMapping`.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import io
import json
import math
import os
import re
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import BinaryIO, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from ..errors import ExpectedError, InvalidName
from ..media import URL_PATTERN, scan_media_paths
from ..vocabulary import MAX_TAGS, TAG_PREFIX, TAG_SEPARATOR, check_tag_name
from .report import (
    MAX_LISTED_PROBLEMS,
    MAX_PROBLEMS_PER_CHECK,
    ImportValidationError,
    Problem,
    Report,
    value_text,
)

__all__ = [
    "FORMATS",
    "MAX_LISTED_PROBLEMS",
    "MAX_PROBLEMS_PER_CHECK",
    "REQUIRED_ROLES",
    "ROLES",
    "ColumnMapping",
    "ImportResult",
    "ImportValidationError",
    "Problem",
    "check_encoding",
    "peek_columns",
    "read_dataset",
]

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# Lines nested deeper than this are parsed by Python's json module (which limits depth).
MAX_JSON_DEPTH = 1000
REQUIRED_ROLES = ("id", "label", "prediction")
TEXT_ROLES = ("id", "label", "prediction", "human_label", "text", "audio", "image", "tags")
MEDIA_ROLES = ("audio", "image")
TRUE_WORDS = frozenset({"true", "1", "yes", "t"})
FALSE_WORDS = frozenset({"false", "0", "no", "f"})
BOOLEAN_HINT = "expected true or false (also 1/0, yes/no, t/f)"
# pandas' default missing-value markers: metadata reads as pandas would read it.
NA_MARKERS = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip
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
_NOT_SPACE = re.compile(r"\S")


# ---------------------------------------------------------------------- public types
@dataclass(frozen=True)
class ColumnMapping:
    """Which column of the file plays which role (defaults: the role's own name)."""

    id: str = "id"
    label: str = "label"
    prediction: str = "prediction"
    correct: str = "correct"
    confidence: str = "confidence"
    human_label: str = "human_label"
    text: str = "text"
    audio: str = "audio"
    image: str = "image"
    tags: str = "tags"

    def roles(self) -> dict[str, str]:
        """``{role: file column}`` for every role."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


ROLES = tuple(f.name for f in fields(ColumnMapping))


@dataclass(frozen=True)
class ImportResult:
    """A validated dataset: the canonical ``frame`` (see the module docstring) and its context."""

    frame: pd.DataFrame
    metadata_columns: list[str]
    dataset_tags: list[str]
    media_root: Path | None
    source: str
    format: str
    warnings: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------- entry point
def read_dataset(
    source: str | os.PathLike[str] | BinaryIO,
    *,
    filename: str | None = None,
    columns: ColumnMapping = ColumnMapping(),  # noqa: B008 -- frozen, so sharing is safe
    media_root: str | Path | None = None,
    encoding: str = "utf-8",
) -> ImportResult:
    """Read and validate a CSV, Parquet or JSON Lines file of predictions.

    ``source`` is a path or a binary file object (then ``filename`` gives the name, and so
    the format, unless the object has a ``name``). The format follows the extension:
    ``.csv``, ``.parquet``/``.pq``, ``.jsonl``/``.ndjson``. Media paths are resolved against
    ``media_root``, by default the data file's folder; a file object has none.

    Raises :class:`ImportValidationError` listing every problem found; returns only a fully
    valid result.
    """
    name, raw, folder = _load(source, filename)
    report = Report()
    fmt = FORMATS.get(Path(name).suffix.lower()) if name else None
    if fmt is None:
        what = f"{Path(name).suffix!r}" if name and Path(name).suffix else "no extension"
        report.add(
            f"cannot tell the format of {name or 'the upload'!r} ({what}); "
            "use a .csv, .parquet (.pq) or .jsonl (.ndjson) file"
            + ("" if name else ", and pass filename= with a file object")
        )
        raise report.error(name)

    root: Path | None = None
    if media_root is not None:
        root = Path(media_root).expanduser().resolve()
        if not root.is_dir():
            report.add(f"the media root {str(root)!r} is not a folder")
    elif folder is not None:
        root = folder

    reader = {"csv": _read_csv, "jsonl": _read_jsonl, "parquet": _read_parquet}[fmt]
    # Each reader returns the file's own columns (text roles already as text), or None
    # when the file cannot be read at all.
    parsed = reader(raw, encoding=encoding, mapping=columns, report=report)
    if parsed is None:
        raise report.error(name)
    frame, metadata, tags = _canonical(parsed, columns, root, report)
    if report.problems:
        raise report.error(name)
    return ImportResult(
        frame=frame,
        metadata_columns=metadata,
        dataset_tags=tags,
        media_root=root,
        source=name,
        format=fmt,
        warnings=report.warnings,
    )


def peek_columns(data: bytes, *, filename: str) -> list[str]:
    """The column names of a data file, read from its head (for a column-mapping form).

    Best effort and never raises: :func:`read_dataset` validates everything and reports what
    is wrong.
    """
    suffix = Path(filename).suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            return list(pq.read_schema(io.BytesIO(data)).names)
        head = data[: 1 << 16].decode("utf-8-sig", errors="replace")
        if suffix in (".jsonl", ".ndjson"):
            names: dict[str, None] = {}
            for line in head.splitlines()[:100]:
                try:
                    record = json.loads(line)
                except ValueError:  # blank, or cut off at the end of the peek
                    continue
                if isinstance(record, dict):
                    names.update(dict.fromkeys(map(str, record)))
            return list(names)
        return next(csv.reader(io.StringIO(head)), [])
    except Exception:  # noqa: BLE001 - a malformed file: the import's report will say why
        return []


def _load(source: object, filename: str | None) -> tuple[str, bytes, Path | None]:
    """(file name, content, folder of the file or None for a file object)."""
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
                return filename or path.name, path.read_bytes(), path.resolve().parent
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


# ---------------------------------------------------------------------- problem collection
# ---------------------------------------------------------------------- bytes -> text
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


def _decode(raw: bytes, encoding: str, report: Report) -> tuple[str, bytes] | None:
    """(text, the same text as UTF-8 bytes), reporting every line that does not decode.

    Undecodable bytes become U+FFFD so that the rest of the file can still be checked.
    """
    try:
        codec = check_encoding(encoding)
    except ExpectedError as err:
        report.add(str(err))
        return None
    utf8 = codec == "utf-8"
    if utf8 and raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        text: str | None = raw.decode(codec)
    except UnicodeError:  # UnicodeDecodeError, or plain UnicodeError from codecs such as idna
        text = None
    # A decoder such as unicode_escape can produce lone surrogates, which are not text;
    # strict UTF-8 never does, so the default path skips the search.
    if text is not None and (utf8 or not _SURROGATES.search(text)):
        return text, raw if utf8 else text.encode("utf-8")
    if text is None:
        try:
            text = raw.decode(codec, errors="surrogateescape")
        except UnicodeError as err:
            # surrogateescape cannot stand in for every byte (an odd byte in UTF-16).
            reason = getattr(err, "reason", None) or str(err)
            report.add(
                f"the file is not valid {codec} text ({reason}); if the file uses another "
                "encoding, pass it: --encoding latin-1 on the command line, "
                "encoding='latin-1' in Python"
            )
            return None
    line, last, bad = 1, 0, 0
    reported_line = 0
    for match in _SURROGATES.finditer(text):
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
            "if the file uses another encoding, "
            "pass it: --encoding latin-1 on the command line, encoding='latin-1' in Python",
            row=line,
        )
    report.more(bad - MAX_PROBLEMS_PER_CHECK)
    text = _SURROGATES.sub("\ufffd", text)
    return text, text.encode("utf-8")


_SURROGATES = re.compile("[\ud800-\udfff]+")


def _undecodable(run: str) -> str:
    """What a run of surrogates from decoding stands for: bytes that did not decode
    (surrogateescape maps byte 0xNN to U+DCNN), or a lone surrogate the codec produced."""
    if all("\udc80" <= c <= "\udcff" for c in run[:4]):
        return "bytes " + " ".join(f"0x{ord(c) - 0xDC00:02x}" for c in run[:4])
    return f"the lone surrogate U+{ord(run[0]):04X}, half of a UTF-16 pair, is not text"


def _magic(raw: bytes) -> str | None:
    for prefix, what in MAGIC:
        if raw.startswith(prefix):
            return what
    return None


def _binary(text: str) -> str | None:
    at = text.find("\x00")
    if at < 0:
        return None
    return f"contains binary data (a NUL byte on line {text.count(chr(10), 0, at) + 1})"


def _first_line(text: str) -> tuple[int, str]:
    """(line number, stripped content) of the first line that is not blank; (0, "") if none."""
    found = _NOT_SPACE.search(text)
    if found is None:
        return 0, ""
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", start)
    line = text[start:] if end < 0 else text[start:end]
    return text.count("\n", 0, start) + 1, line.strip()


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except (ValueError, RecursionError):
        return False


# ---------------------------------------------------------------------- CSV
@dataclass
class _CsvScan:
    records: list[int]  # first line of every well-formed data record
    ragged: list[tuple[int, int]]  # (line, fields) of records with the wrong field count
    fields: int  # fields in the header
    last_start: int  # first line of the last record


def _scan_csv(text: str) -> _CsvScan:
    """Walk the file with the csv module to find where each record starts.

    Only called when something is wrong (or line numbers cannot be derived directly):
    it takes about a second per million rows.
    """
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    reader = csv.reader(io.StringIO(text, newline=""))
    records: list[int] = []
    ragged: list[tuple[int, int]] = []
    expected: int | None = None
    previous = 0
    start = 1
    for values in reader:
        start, previous = previous + 1, reader.line_num
        if not values:
            continue
        if expected is None:
            expected = len(values)
        elif len(values) == expected:
            records.append(start)
        else:
            ragged.append((start, len(values)))
    return _CsvScan(records, ragged, expected or 0, start)


def _csv_locator(text: str, rows: int, scan: _CsvScan | None) -> Callable[[np.ndarray], np.ndarray]:
    """Map frame positions to file lines; scans the file only if it must, and only once."""
    cache: dict[str, np.ndarray | None] = {}

    def locate(positions: np.ndarray) -> np.ndarray:
        if "lines" not in cache:
            simple = (
                scan is None
                and '"' not in text
                and text.count("\r") == text.count("\r\n")
                and "\n\n" not in text
                and "\r\n\r\n" not in text
                and not text.startswith(("\n", "\r"))
            )
            records = None if simple else (scan or _scan_csv(text)).records
            # If the csv module and the parser disagree, fall back to the plain count.
            cache["lines"] = np.asarray(records) if records and len(records) == rows else None
        lines = cache["lines"]
        return positions + 2 if lines is None else lines[positions]

    return locate


def _text_file(raw: bytes, *, encoding: str, kind: str, report: Report) -> _Text | None:
    """Decode a text data file, or report why it is not one (binary, wrong encoding, empty)."""
    what = _magic(raw)
    if what:
        report.add(f"the file is {what}, not a {kind} text file")
        return None
    decoded = _decode(raw, encoding, report)
    if decoded is None:
        return None
    text, data = decoded
    line, first = _first_line(text)
    if not line:
        report.add("the file is empty")
        return None
    binary = _binary(text)
    if binary:
        report.add(f"the file {binary}; it is not a {kind} text file")
        return None
    return _Text(text, data, line, first)


class _Text(NamedTuple):
    text: str
    data: bytes
    line: int
    first: str


def _read_csv(
    raw: bytes, *, encoding: str, mapping: ColumnMapping, report: Report
) -> pd.DataFrame | None:
    text_columns = [c for role, c in mapping.roles().items() if role in TEXT_ROLES]
    read = _csv_table(
        raw, encoding=encoding, text_columns=text_columns, report=report,
        json_hint="; give it a .jsonl extension",
    )  # fmt: skip
    if read is None:
        return None
    table, original, again = read
    names = table.column_names
    # pyarrow infers dates and times where pandas would keep the text: re-read those as text.
    temporal = [
        i
        for i, kind in enumerate(table.schema.types)
        if original[i] not in text_columns and pa.types.is_temporal(kind)
    ]
    if temporal:
        strings = again(
            pa_csv.ConvertOptions(
                include_columns=[original[i] for i in temporal],
                column_types={original[i]: pa.string() for i in temporal},
                strings_can_be_null=False,
            )
        )
        for i in temporal:
            table = table.set_column(i, names[i], strings.column(original[i]))
    table = _pandas_like_missing(table, exclude=set(text_columns))
    return table.to_pandas()


def read_text_table(
    source: str | os.PathLike[str], *, required: Sequence[str], encoding: str = "utf-8"
) -> tuple[pd.DataFrame, Report]:
    """A small CSV table (reviews, tag definitions) with every value as text, as written.

    The file passes the same checks as a dataset CSV (encoding, binary content, NUL bytes,
    ragged rows, unclosed quotes, repeated header names) and must have the ``required``
    columns and at least one row. Returns the frame and the report, whose ``locate`` turns
    frame positions into file lines, for the caller's own checks; raises
    :class:`ImportValidationError` at once if the file cannot be read as a table.
    """
    name, raw, _ = _load(source, None)
    report = Report()
    read = _csv_table(raw, encoding=encoding, text_columns=None, report=report, json_hint="")
    if read is None:
        raise report.error(name)
    table = read[0]
    missing = [c for c in required if c not in table.column_names]
    if missing:
        found = ", ".join(map(repr, table.column_names[:30])) or "none"
        for column in missing:
            report.add(f"missing required column (columns found: {found})", column=column)
        raise report.error(name)
    return table.to_pandas(), report


def _csv_table(
    raw: bytes,
    *,
    encoding: str,
    text_columns: Sequence[str] | None,
    report: Report,
    json_hint: str,
) -> tuple[pa.Table, list[str], Callable[[pa_csv.ConvertOptions], pa.Table]] | None:
    """Parse a CSV file into an Arrow table, reporting every malformed record.

    ``text_columns`` are read as text exactly as written; None reads *every* column so.
    Returns (table with clean header names, the names as written, a function that parses
    the file again with other conversion options), or None if the file cannot be a table.
    On success ``report.locate`` maps table positions to file lines.
    """
    decoded = _text_file(raw, encoding=encoding, kind="CSV", report=report)
    if decoded is None:
        return None
    text, data, line, first = decoded
    if first.startswith("{") and _is_json_object(first):
        report.add(
            f"the file looks like JSON Lines, not CSV (a JSON object on line {line}){json_hint}"
        )
        return None

    ragged_count = 0

    def on_ragged(row: pa_csv.InvalidRow) -> str:
        nonlocal ragged_count
        ragged_count += 1  # the parser may call this from several threads; only a count
        return "skip"

    block_size = 1 << 20
    quotes = data.count(b'"')  # without quotes no value can span lines: parse faster

    def read(convert: pa_csv.ConvertOptions) -> pa.Table:
        return pa_csv.read_csv(
            io.BytesIO(data),
            read_options=pa_csv.ReadOptions(block_size=block_size),
            parse_options=pa_csv.ParseOptions(
                newlines_in_values=quotes > 0, invalid_row_handler=on_ragged
            ),
            convert_options=convert,
        )

    def convert(columns: Sequence[str]) -> pa_csv.ConvertOptions:
        return pa_csv.ConvertOptions(
            column_types={c: pa.string() for c in columns},
            null_values=list(NA_MARKERS),
            strings_can_be_null=False,
        )

    all_text = text_columns is None
    wanted = _csv_header(text) if text_columns is None else text_columns
    try:
        try:
            table = read(convert(wanted))
        except pa.ArrowInvalid as err:
            if "straddling" not in str(err):
                raise
            # A value longer than a parser block: read the file as a single block.
            ragged_count = 0
            block_size = len(data) + 1
            table = read(convert(wanted))
        if all_text and not all(pa.types.is_string(t) for t in table.schema.types):
            # The csv module read the header differently from pyarrow: use pyarrow's names.
            ragged_count = 0
            table = read(convert(table.column_names))
    except pa.ArrowInvalid as err:
        report.add(f"the file cannot be read as CSV: {err}")
        return None

    original = table.column_names
    names = _header_names(original, report)
    if names is None:
        return None
    table = table.rename_columns(names)
    odd_quotes = quotes % 2 == 1
    scan = _scan_csv(text) if ragged_count or odd_quotes else None
    if scan is not None:
        for line, count in scan.ragged[:MAX_PROBLEMS_PER_CHECK]:
            report.add(f"this row has {count} fields, but the header has {scan.fields}", row=line)
        report.more(len(scan.ragged) - MAX_PROBLEMS_PER_CHECK)
        if odd_quotes:
            report.add(
                "a quoted field that starts in this record is never closed (a '\"' is missing)",
                row=scan.last_start,
            )
    if table.num_rows == 0:
        if not report.problems:
            report.add("the file has a header but no rows")
        return None
    report.locate = _csv_locator(text, table.num_rows, scan)
    return table, original, read


def _csv_header(text: str) -> list[str]:
    """The header's names as the csv module reads them (the first record that is not blank)."""
    csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
    for values in csv.reader(io.StringIO(text, newline="")):
        if values:
            return values
    return []


def _header_names(
    names: list[str], report: Report, *, where: str = "the header"
) -> list[str] | None:
    """Header names with blanks named as pandas names them; None if a name repeats."""
    seen: set[str] = set()
    repeated: dict[str, int] = {}
    clean = []
    for i, name in enumerate(names):
        if name == "":
            name = f"Unnamed: {i}"
            report.warnings.append(f"column {i + 1} has no name; it was read as {name!r}")
        if name in seen:
            repeated[name] = repeated.get(name, 1) + 1
        seen.add(name)
        clean.append(name)
    for name, count in repeated.items():
        # A repeated name would leave one of the columns silently unread.
        report.add(
            f"appears more than once in {where} ({count} times); rename all but one",
            column=name,
        )
    return None if repeated else clean


def _pandas_like_missing(table: pa.Table, *, exclude: set[str]) -> pa.Table:
    """Missing markers ('', 'NA', ...) in inferred text columns become null, as in pandas;
    all-empty columns become float NaN."""
    markers = pa.array(NA_MARKERS)
    for i, (name, kind) in enumerate(zip(table.column_names, table.schema.types, strict=True)):
        if name in exclude:
            continue
        column = table.column(i)
        if pa.types.is_string(kind):
            missing = pc.is_in(column, value_set=markers)
            if pc.any(missing).as_py():
                column = pc.if_else(missing, pa.scalar(None, pa.string()), column)
                table = table.set_column(i, name, column)
        elif pa.types.is_null(kind):
            table = table.set_column(i, name, pa.nulls(len(column), pa.float64()))
    return table


# ---------------------------------------------------------------------- JSON Lines
def _read_jsonl(
    raw: bytes, *, encoding: str, mapping: ColumnMapping, report: Report
) -> pd.DataFrame | None:
    decoded = _text_file(raw, encoding=encoding, kind="JSON Lines", report=report)
    if decoded is None:
        return None
    text, data, line, first = decoded
    if first.startswith("["):
        report.add(
            "the file looks like one JSON array; JSON Lines needs one JSON object per line",
            row=line,
        )
        return None
    if not first.startswith("{") and not _is_json_object(first):
        hint = " (it looks like CSV; give it a .csv extension)" if "," in first else ""
        report.add(
            f"the file does not look like JSON Lines: the line is not a JSON object{hint}", row=line
        )
        return None

    text_columns = [c for role, c in mapping.roles().items() if role in TEXT_ROLES]
    if not report.problems:
        parsed = _jsonl_fast(data, text_columns, report)
        if parsed is not None:
            return parsed
    return _jsonl_checked(text, text_columns, report)


def _json_lines(data: bytes) -> tuple[np.ndarray, bool]:
    """(1-based numbers of the lines that are not blank, whether no line nests too deeply).

    pyarrow's JSON parser recurses once per nesting level and crashes the process on very
    deep input; a line cannot nest deeper than it has ``[`` and ``{`` characters.
    """
    octets = np.frombuffer(data, dtype=np.uint8)
    ends = np.append(np.flatnonzero(octets == ord("\n")), len(data))
    starts = np.append(0, ends[:-1] + 1)
    lengths = ends - starts
    shallow = True
    for i in np.flatnonzero(lengths > MAX_JSON_DEPTH).tolist():
        line = data[starts[i] : ends[i]]
        if line.count(b"[") + line.count(b"{") > MAX_JSON_DEPTH:
            shallow = False
            break
    blank = lengths == 0
    first = octets[np.minimum(starts, max(len(data) - 1, 0))] if len(data) else octets[:0]
    maybe_blank = ~blank & np.isin(first, np.frombuffer(b" \t\r\x0b\x0c", dtype=np.uint8))
    for i in np.flatnonzero(maybe_blank).tolist():
        blank[i] = not data[starts[i] : ends[i]].strip()
    return np.flatnonzero(~blank) + 1, shallow


def _jsonl_fast(data: bytes, text_columns: list[str], report: Report) -> pd.DataFrame | None:
    """Read with pyarrow; None when the file needs the line-by-line reader instead
    (malformed lines, mixed types, fractional or nested values in text columns)."""
    numbers, shallow = _json_lines(data)
    if not shallow:
        return None
    try:
        table = pa_json.read_json(
            io.BytesIO(data), read_options=pa_json.ReadOptions(block_size=1 << 24)
        )
    except (pa.ArrowException, ValueError):
        return None
    if len(numbers) != table.num_rows:
        return None  # several objects on one line: the line-by-line reader reports it
    report.locate = lambda positions: numbers[positions]
    if table.num_rows == 0:
        return None
    for name in text_columns:
        if name not in table.column_names:
            continue
        kind = table.schema.field(name).type
        if not (
            pa.types.is_string(kind) or pa.types.is_integer(kind)
            or pa.types.is_boolean(kind) or pa.types.is_null(kind)
        ):  # fmt: skip
            return None
        table = table.set_column(
            table.column_names.index(name), name, _arrow_text(table.column(name))
        )
    temporal = [
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name not in text_columns and pa.types.is_temporal(kind)
    ]
    if temporal:
        # pyarrow turns ISO date strings into timestamps; keep them as the text they were.
        again = pa_json.read_json(
            io.BytesIO(data),
            read_options=pa_json.ReadOptions(block_size=1 << 24),
            parse_options=pa_json.ParseOptions(
                explicit_schema=pa.schema([(c, pa.string()) for c in temporal]),
                unexpected_field_behavior="ignore",
            ),
        )
        for name in temporal:
            table = table.set_column(table.column_names.index(name), name, again.column(name))
    table = _drop_nested(table, exclude=set(text_columns), report=report)
    return table.to_pandas()


class _DuplicateKey(ValueError):
    pass


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return result


def _jsonl_checked(text: str, text_columns: list[str], report: Report) -> pd.DataFrame | None:
    """Parse line by line, reporting every malformed or non-object line."""
    decode = json.JSONDecoder(object_pairs_hook=_unique_keys).decode
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    bad = 0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            value = decode(line)
        except _DuplicateKey as err:
            problem = ("the key appears more than once in this object", str(err))
        except json.JSONDecodeError as err:
            problem = (f"this line is not valid JSON: {err.msg} (at character {err.colno})", None)
        except RecursionError:
            problem = ("this line is nested too deeply", None)
        else:
            if not isinstance(value, dict):
                problem = (f"this line is a JSON {_json_kind(value)}, not an object", None)
            elif _ESCAPED_SURROGATE.search(line) and (found := _lone_surrogate(value, line)):
                problem = found
            else:
                records.append(value)
                numbers.append(number)
                continue
        bad += 1
        if bad <= MAX_PROBLEMS_PER_CHECK:
            report.add(problem[0], row=number, column=problem[1])
    report.more(bad - MAX_PROBLEMS_PER_CHECK)
    if not records:
        if not report.problems:
            report.add("the file has no rows")
        return None
    line_numbers = np.asarray(numbers, dtype=np.int64)
    report.locate = lambda positions: line_numbers[positions]
    frame = pd.DataFrame.from_records(records)
    for name in text_columns:
        if name in frame.columns:
            frame[name] = _object_text(frame[name], name, report)
    for name in list(frame.columns):
        if name in text_columns or frame[name].dtype != object:
            continue
        frame = _settle_object_column(frame, name, report)
    return frame


# A JSON escape of a UTF-16 surrogate: valid only as a high-low pair (an emoji, say).
_ESCAPED_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")
# An escaped backslash, or a surrogate escape: scanned together so that the text
# "\\\\ud800" (a backslash, then "ud800") is not taken for an escape.
_ESCAPE_TOKEN = re.compile(r"\\\\|\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _lone_escape(line: str) -> re.Match[str] | None:
    """The first surrogate escape of ``line`` that is not half of a high-low pair."""
    pending: re.Match[str] | None = None  # a high surrogate waiting for its low half
    for token in _ESCAPE_TOKEN.finditer(line):
        text = token.group()
        if text == "\\\\":
            if pending is not None:
                return pending
            continue
        high = text[3].lower() in "89ab"
        if pending is not None:
            if not high and token.start() == pending.end():
                pending = None
                continue
            return pending
        if not high:
            return token
        pending = token
    return pending


def _lone_surrogate(record: dict[str, object], line: str) -> tuple[str, str | None] | None:
    """(problem, key) if a key or value of ``record`` holds a lone surrogate, else None.

    Python's json module decodes ``"\\ud800"`` to a string that cannot be encoded as UTF-8,
    so nothing downstream could store it: it is refused here, where the line is known.
    """

    def holds(value: object) -> bool:
        if isinstance(value, str):
            return _SURROGATES.search(value) is not None
        if isinstance(value, dict):
            return any(holds(k) or holds(v) for k, v in value.items())
        if isinstance(value, list):
            return any(holds(v) for v in value)
        return False

    for key, value in record.items():
        if holds(key) or holds(value):
            escape = _lone_escape(line)
            at = f" '{escape.group()}' at character {escape.start() + 1}" if escape else ""
            message = (
                f"this line holds a lone UTF-16 surrogate{at}, half of a pair, which is not "
                "text; write the character itself, or both halves of the pair"
            )
            return message, None if holds(key) else key
    return None


def _json_kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


def _object_text(values: pd.Series, column: str, report: Report) -> pd.Series:
    """Text of JSON scalars: strings as they are, numbers in decimal, true/false; missing NaN."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        return values.astype("str")
    out: list[str | None] = []
    bad: list[int] = []
    for position, value in enumerate(values.tolist()):
        if isinstance(value, str):
            out.append(value)
        elif value is None or (isinstance(value, float) and math.isnan(value)):
            out.append(None)
        elif isinstance(value, bool):
            out.append("true" if value else "false")
        elif isinstance(value, int | float):
            out.append(repr(value))
        else:  # reported here; kept as JSON text so it is not also reported as empty
            out.append(json.dumps(value))
            bad.append(position)
    if bad:
        report.at_rows(
            bad,
            lambda p: f"is a JSON {_json_kind(values.iloc[p])}; expected text or a number",
            column=column,
        )
    return pd.Series(out, dtype="str")


def _settle_object_column(frame: pd.DataFrame, name: str, report: Report) -> pd.DataFrame:
    """Metadata the store can keep: nested values are dropped, mixed scalars become text."""
    column = frame[name]
    if column.map(lambda v: isinstance(v, dict | list)).any():
        report.warnings.append(
            f"column {name!r} holds JSON objects or arrays; it was left out "
            "(flatten it to import it)"
        )
        return frame.drop(columns=[name])
    try:
        pa.array(column, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as err:
        why = (
            "holds whole numbers too large for 64 bits"
            if isinstance(err, OverflowError) or "too large" in str(err)
            else "mixes numbers and text"
        )
        report.warnings.append(f"column {name!r} {why}; it was read as text")
        frame[name] = column.map(lambda v: v if v is None or v != v else _scalar_text(v)).astype(
            "str"
        )
    return frame


def _scalar_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)


# ---------------------------------------------------------------------- Parquet
def _read_parquet(
    raw: bytes, *, encoding: str, mapping: ColumnMapping, report: Report
) -> pd.DataFrame | None:
    report.unit = "row"
    report.locate = lambda positions: positions + 1
    if len(raw) < 12 or not (raw.startswith(b"PAR1") and raw.endswith(b"PAR1")):
        what = _magic(raw)
        if raw.startswith(b"PAR1"):
            report.add(
                "the Parquet file is cut short (no 'PAR1' marker at its end): it was not "
                "written or copied completely"
            )
            return None
        if not raw:
            looks = "; the file is empty"
        elif what:
            looks = f"; it is {what}"
        elif b"\x00" not in raw[:4096]:
            looks = "; it looks like a text file (CSV or JSON Lines?)"
        else:
            looks = ""
        report.add(f"the file is not a Parquet file (no 'PAR1' marker){looks}")
        return None
    # pandas writes a non-default index as extra columns; it is not data.
    index = re.compile(r"__index_level_\d+__")
    try:
        parquet = pq.ParquetFile(io.BytesIO(raw))
        # A schema may repeat a name; reading such a file fails deep inside pyarrow, so the
        # names are checked first and the repeated ones named.
        schema = parquet.schema_arrow
        data_names = [n for n in schema.names if not index.fullmatch(n)]
        if _header_names(data_names, report, where="the file's schema") is None:
            return None
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as err:
        report.add(f"the file cannot be read as Parquet: {err}")
        return None
    table = table.select([i for i, n in enumerate(table.column_names) if not index.fullmatch(n)])
    names = _header_names(table.column_names, report)
    if names is None:
        return None
    table = table.rename_columns(names)
    if table.num_rows == 0:
        report.add("the file has no rows")
        return None
    if not _parquet_valid(table, report):
        return None
    text_columns = [c for role, c in mapping.roles().items() if role in TEXT_ROLES]
    for name in text_columns:
        if name not in table.column_names:
            continue
        converted = _parquet_text(table.column(name), name, report)
        table = table.set_column(table.column_names.index(name), name, converted)
    table = _drop_nested(table, exclude=set(text_columns), report=report)
    try:
        return table.to_pandas(ignore_metadata=True)
    except (pa.ArrowException, OverflowError, ValueError) as err:
        # Values pandas cannot hold (a date past the year 2262 in nanoseconds, say).
        report.add(f"the file's values cannot be read: {err}")
        return None


def _parquet_valid(table: pa.Table, report: Report) -> bool:
    """Whether every column holds what its type says (pyarrow does not check text is UTF-8
    when it reads a file, and a damaged file can hold anything)."""
    try:
        table.validate(full=True)
        return True
    except pa.ArrowException:
        pass
    for name, column in zip(table.column_names, table.columns, strict=True):
        try:
            column.validate(full=True)
        except pa.ArrowException as err:
            kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
            if pa.types.is_string(kind) or pa.types.is_large_string(kind):
                report.add(f"holds text that is not valid UTF-8 (is the file damaged?): {err}",
                           column=name)  # fmt: skip
            else:
                report.add(f"holds values that do not match its type {kind} (is the file "
                           f"damaged?): {err}", column=name)  # fmt: skip
    return False


def _arrow_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text of a string, integer, boolean or null column (nulls stay null)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    return column.cast(pa.string())


def _parquet_text(column: pa.ChunkedArray, name: str, report: Report) -> pa.ChunkedArray:
    """Text of a Parquet column for a text role; a column of the wrong type is reported and
    turned into text anyway, so that the other checks can still run."""
    kind = column.type
    value_kind = kind.value_type if pa.types.is_dictionary(kind) else kind
    if (
        pa.types.is_string(value_kind) or pa.types.is_large_string(value_kind)
        or pa.types.is_string_view(value_kind) or pa.types.is_integer(value_kind)
        or pa.types.is_boolean(value_kind) or pa.types.is_null(value_kind)
    ):  # fmt: skip
        return _arrow_text(column)
    if pa.types.is_binary(value_kind) or pa.types.is_large_binary(value_kind):
        try:
            return _arrow_text(column)  # the cast checks that every value is UTF-8
        except pa.ArrowInvalid:
            pass
    try:
        values = column.to_pylist()
    except (pa.ArrowException, OverflowError, ValueError) as err:  # a date out of range, say
        report.add(f"has type {kind}, whose values cannot be read: {err}", column=name)
        # Distinct stand-ins, so that no other check reports them as empty or repeated.
        return pa.chunked_array([pa.array([f"row {i + 1}" for i in range(len(column))])])
    if pa.types.is_floating(value_kind):
        # Python's shortest round-trip text, as for numbers read from JSON.
        text = [None if v is None or v != v else repr(v) for v in values]
    elif pa.types.is_binary(value_kind) or pa.types.is_large_binary(value_kind):
        text, bad = [], []
        for position, value in enumerate(values):
            try:
                text.append(None if value is None else value.decode("utf-8"))
            except UnicodeDecodeError:
                text.append(value.decode("utf-8", errors="replace"))
                bad.append(position)
        report.at_rows(bad, "is not UTF-8 text", column=name)
    else:
        report.add(f"has type {kind}; expected text or whole numbers", column=name)
        text = [None if v is None else str(v) for v in values]
    return pa.chunked_array([pa.array(text, pa.string())])


def _drop_nested(table: pa.Table, *, exclude: set[str], report: Report) -> pa.Table:
    nested = [
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name not in exclude and pa.types.is_nested(kind) and not name.startswith(TAG_PREFIX)
    ]
    for name in nested:
        report.warnings.append(
            f"column {name!r} holds nested values ({table.schema.field(name).type}); "
            "it was left out (flatten it to import it)"
        )
    return table.drop_columns(nested) if nested else table


# ---------------------------------------------------------------------- roles
_CANONICAL = frozenset(ROLES)


def _canonical(
    frame: pd.DataFrame, mapping: ColumnMapping, root: Path | None, report: Report
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Check every role and build the canonical frame (meaningful only if no problems)."""
    names = list(frame.columns)
    roles = mapping.roles()
    owner: dict[str, str] = {}
    for role, name in roles.items():
        if name in owner:
            report.add(
                f"is mapped to both {owner[name]} and {role}; map each role to its own column",
                column=name,
            )
        owner.setdefault(name, role)
    present = {role: name for role, name in roles.items() if name in frame.columns}
    for role in REQUIRED_ROLES:
        if role not in present:
            report.add(_missing_message(role, roles[role], names), column=roles[role])
    used = set(present.values())
    for name in names:
        if name not in used and name in _CANONICAL:
            report.add(
                f"has the name of the {name} role, but that role is mapped to column "
                f"{roles[name]!r}; rename or remove this column, or map the role to it "
                f"(--{name.replace('_', '-')}-column {name!r})",
                column=name,
            )
    tag_columns = [n for n in names if n not in used and n.startswith(TAG_PREFIX)]
    metadata = [n for n in names if n not in used and n not in _CANONICAL and n not in tag_columns]
    n = len(frame)
    _check_nul(frame, report)

    def text(role: str) -> pd.Series:
        return frame[present[role]].astype("str").reset_index(drop=True)

    out: dict[str, object] = {}
    if "id" in present:
        out["id"] = _check_ids(text("id"), present["id"], report)
    for role in ("label", "prediction"):
        if role in present:
            values = text(role).fillna("")
            out[role] = values
            _warn_blanks(values, role, report)
    if "correct" in present:
        correct, bad = _to_bool(frame[present["correct"]], empty_ok=False)
        _report_booleans(frame[present["correct"]], bad, present["correct"], report)
        out["correct"] = correct
    elif "label" in out and "prediction" in out:
        out["correct"] = (out["label"] == out["prediction"]).to_numpy(dtype=bool)
    if "confidence" in present:
        out["confidence"] = _check_confidence(
            frame[present["confidence"]], present["confidence"], report
        )
    if "human_label" in present:
        values = text("human_label")
        out["human_label"] = values.mask(values == "")
    if "text" in present:
        out["text"] = text("text")
    for role in MEDIA_ROLES:
        if role in present:
            values = text(role)
            values = values.mask(values == "")
            _check_media(values, present[role], root, report)
            out[role] = values
    for name in metadata:
        out[name] = frame[name].reset_index(drop=True)
    tags = _collect_tags(frame, tag_columns, present.get("tags"), n, report)
    for tag, flags in tags.items():
        out[TAG_PREFIX + tag] = flags
    if report.problems:
        return pd.DataFrame(), metadata, list(tags)
    return pd.DataFrame(out, index=pd.RangeIndex(n)), metadata, list(tags)


def _check_nul(frame: pd.DataFrame, report: Report) -> None:
    """Refuse a NUL character in any column name or text value, in every format.

    A CSV with a NUL byte is refused whole as binary; JSON (``"\\u0000"``) and Parquet
    carry one inside a string, where it would cut the text short in C code, SQLite tools
    and terminals, and let two different ids print the same.
    """
    for name in frame.columns:
        if "\x00" in str(name):
            report.add("the column name contains a NUL character", column=str(name))
        column = frame[name]
        dtype = column.dtype
        if isinstance(dtype, pd.StringDtype):
            found = column.str.contains("\x00", regex=False).fillna(False)
        elif isinstance(dtype, pd.CategoricalDtype):
            bad = [c for c in dtype.categories if isinstance(c, str) and "\x00" in c]
            found = column.isin(bad)
        elif pd.api.types.is_object_dtype(dtype):
            found = column.map(lambda v: isinstance(v, str) and "\x00" in v)
        else:
            continue
        positions = np.flatnonzero(found.to_numpy(dtype=bool))
        if len(positions):
            report.at_rows(
                positions,
                "contains a NUL character (\\x00), which text may not hold",
                column=str(name),
                values=lambda p, column=column: value_text(column.iloc[p]),
            )


def _missing_message(role: str, name: str, names: list[str]) -> str:
    listing = ", ".join(repr(n) for n in names[:30]) + (", ..." if len(names) > 30 else "")
    message = f"the required {role.replace('_', ' ')} column is missing (the file has: {listing})"
    if len(names) == 1 and (";" in names[0] or "\t" in names[0]):
        separator = "';'" if ";" in names[0] else "a tab"
        return message + f"; the file seems to separate values with {separator}, use commas"
    close = [n for n in names if n.strip().lower() == name.strip().lower()]
    close = close or difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    if close:
        message += f"; did you mean {close[0]!r}?"
    flag = f"--{role.replace('_', '-')}-column"
    return message + f"; map another column to it with {flag} NAME, or ColumnMapping({role}=...)"


def _rows(count: int) -> str:
    return "1 row has" if count == 1 else f"{count} rows have"


def _check_ids(ids: pd.Series, column: str, report: Report) -> pd.Series:
    empty = (ids.isna() | (ids == "")).to_numpy()
    if empty.any():
        report.at_rows(np.flatnonzero(empty), "id is empty", column=column)
    if len(pc.unique(pa.array(ids, from_pandas=True))) == len(ids):
        return ids.fillna("")
    duplicate = ids.duplicated(keep="first").to_numpy() & ~empty
    if duplicate.any():
        repeated = ids[duplicate]
        originals = ids.isin(repeated.unique()).to_numpy() & ~duplicate & ~empty
        first_positions = np.flatnonzero(originals)
        first_rows = report.locate(first_positions)
        first_row = dict(
            zip(ids.iloc[first_positions].tolist(), np.asarray(first_rows).tolist(), strict=True)
        )
        report.at_rows(
            np.flatnonzero(duplicate),
            lambda p: f"is a duplicate id (first on {report.unit} {first_row[ids.iloc[p]]})",
            column=column,
            values=lambda p: ids.iloc[p],
        )
    return ids.fillna("")


def _warn_blanks(values: pd.Series, role: str, report: Report) -> None:
    empty = int((values == "").sum())
    if empty:
        report.warnings.append(f"{_rows(empty)} an empty {role}")
    padded = int((values.str.strip() != values).sum())
    if padded:
        report.warnings.append(
            f"{_rows(padded)} a {role} that starts or ends with spaces; it is kept, and "
            "compared, as it is"
        )


def _to_bool(values: pd.Series, *, empty_ok: bool) -> tuple[np.ndarray, np.ndarray]:
    """(booleans, bad): true/false, 1/0, yes/no, t/f in any case, or real booleans.

    Empty values are False, and bad unless ``empty_ok``.
    """
    n = len(values)
    dtype = values.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "b":
        return values.to_numpy(dtype=bool), np.zeros(n, dtype=bool)
    if isinstance(dtype, pd.BooleanDtype):
        missing = values.isna().to_numpy()
        return values.fillna(False).to_numpy(dtype=bool), missing & (not empty_ok)
    if pd.api.types.is_numeric_dtype(dtype):
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        missing = np.isnan(numbers)
        valid = (numbers == 0) | (numbers == 1)
        return numbers == 1, ~valid & ~(missing & empty_ok)
    if isinstance(dtype, pd.StringDtype):
        words = values.str.strip().str.lower()
        missing = (words.isna() | (words == "")).to_numpy()
        truth = words.isin(TRUE_WORDS).to_numpy()
        valid = truth | words.isin(FALSE_WORDS).to_numpy()
        return truth, ~valid & ~(missing & empty_ok)
    truth = np.zeros(n, dtype=bool)
    bad = np.zeros(n, dtype=bool)
    for position, value in enumerate(values.tolist()):
        flag = _one_bool(value)
        if flag is None:
            bad[position] = not empty_ok
        elif flag is _NOT_BOOL:
            bad[position] = True
        else:
            truth[position] = flag
    return truth, bad


_NOT_BOOL = object()


def _one_bool(value: object) -> object:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating):
        return bool(value) if value in (0, 1) else _NOT_BOOL
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        return False if word in FALSE_WORDS else _NOT_BOOL
    return _NOT_BOOL


def _report_booleans(values: pd.Series, bad: np.ndarray, column: str, report: Report) -> None:
    if not bad.any():
        return
    positions = np.flatnonzero(bad)
    shown = values.iloc[positions[:MAX_PROBLEMS_PER_CHECK]]
    empty = {
        p for p, v in zip(positions.tolist(), shown.tolist(), strict=False) if _one_bool(v) is None
    }
    report.at_rows(
        positions,
        lambda p: (
            f"is empty; {BOOLEAN_HINT}" if p in empty else f"is not a boolean; {BOOLEAN_HINT}"
        ),
        column=column,
        values=lambda p: None if p in empty else value_text(values.iloc[p]),
    )


def _check_confidence(values: pd.Series, column: str, report: Report) -> np.ndarray:
    """float64 confidences; types are checked first, then the [0, 1] range of the numbers."""
    numbers, not_number = _to_float(values)
    if not_number.any():
        report.at_rows(
            np.flatnonzero(not_number),
            "is not a number (confidence must be a number in [0, 1])",
            column=column,
            values=lambda p: value_text(values.iloc[p]),
        )
    with np.errstate(invalid="ignore"):
        outside = ~not_number & ~np.isnan(numbers) & ((numbers < 0) | (numbers > 1))
    if outside.any():
        report.at_rows(
            np.flatnonzero(outside),
            "is not a number in [0, 1]",
            column=column,
            values=lambda p: value_text(values.iloc[p]),
        )
    return numbers


def _to_float(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(float64 numbers with NaN for empty, bad) where bad marks values that are not numbers."""
    n = len(values)
    dtype = values.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(n, np.nan), values.notna().to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return values.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(n, dtype=bool)
    if isinstance(dtype, pd.StringDtype):
        array = pa.array(values, from_pandas=True)
        array = pc.if_else(
            pc.equal(pc.utf8_trim_whitespace(array), ""), pa.scalar(None, pa.string()), array
        )
        try:
            numbers = pc.cast(array, pa.float64()).to_numpy()
            return np.asarray(numbers, dtype=np.float64), np.zeros(n, dtype=bool)
        except pa.ArrowInvalid:
            pass  # some value is not a number: find which, one by one
    numbers = np.full(n, np.nan)
    bad = np.zeros(n, dtype=bool)
    for position, value in enumerate(values.tolist()):
        if value is None or value is pd.NA:
            continue
        if isinstance(value, bool | np.bool_):
            bad[position] = True
            continue
        if isinstance(value, str):
            if not value.strip():
                continue
            try:
                numbers[position] = float(value)
            except ValueError:
                bad[position] = True
            continue
        try:
            numbers[position] = float(value)  # ints, floats, decimals
        except (TypeError, ValueError, OverflowError):  # OverflowError: an int past 1e308
            bad[position] = True
    return numbers, bad


def _check_media(values: pd.Series, column: str, root: Path | None, report: Report) -> None:
    given = values.dropna()
    if given.empty:
        return
    local = given[~given.str.fullmatch(URL_PATTERN).to_numpy(dtype=bool)]
    if local.empty:
        return
    if root is None:
        report.add(
            f"{len(local)} values are local file paths, but there is no media root to find them "
            "in (pass media_root= with an uploaded file, or use http(s) URLs)",
            column=column,
            row=int(report.locate(np.asarray([local.index[0]]))[0]),
            value=local.iloc[0],
        )
        return
    scan = scan_media_paths(root, local)
    if scan.unsafe:
        where = local.index.to_numpy()
        reasons = {int(where[p]): reason for p, _, reason in scan.unsafe}
        report.at_rows(
            sorted(reasons),
            lambda p: reasons[p],
            column=column,
            values=lambda p: values.iloc[p],
        )
    if scan.missing:
        first = ", ".join(repr(local.iloc[p]) for p in scan.missing[:3])
        report.warnings.append(
            f"{len(scan.missing)} of {len(local)} files in column {column!r} do not exist "
            f"under {str(root)!r} (first: {first})"
        )


# ---------------------------------------------------------------------- tags
def _tag_name(name: str) -> tuple[str, str | None]:
    """(the name as the store keeps it, or the problem with it)."""
    try:
        return check_tag_name(name), None
    except InvalidName as err:
        return name, str(err)


def _collect_tags(
    frame: pd.DataFrame, tag_columns: list[str], tags_column: str | None, n: int, report: Report
) -> dict[str, np.ndarray]:
    """One boolean array per tag name, from ``tag:NAME`` columns and the tags column.

    The names are checked as the store checks them, and the :data:`MAX_TAGS` limit counts
    the tags of both kinds of column together.
    """
    column_tags: dict[str, str] = {}  # tag:NAME column -> tag name
    for column in tag_columns:
        name, problem = _tag_name(column[len(TAG_PREFIX) :])
        if problem:
            report.add(f"{problem} (columns named tag:NAME hold one tag each)", column=column)
        else:
            column_tags[column] = name
    cell_tags: list[str] = []  # distinct names of the tags column, by first appearance
    codes = rows = np.zeros(0, dtype=np.int64)
    if tags_column is not None:
        # Arrow keeps this compact: a hostile cell of a million ';' is a million empty names.
        cells = pa.array(frame[tags_column].astype("str"), from_pandas=True)
        if isinstance(cells, pa.ChunkedArray):
            cells = cells.combine_chunks()
        lists = pc.split_pattern(cells, TAG_SEPARATOR)
        names = pc.utf8_trim_whitespace(pc.list_flatten(lists))
        rows = pc.list_parent_indices(lists).to_numpy(zero_copy_only=False)
        given = pc.not_equal(names, "").to_numpy(zero_copy_only=False)
        if given.any():
            encoded = pc.dictionary_encode(pc.filter(names, given))  # codes by first appearance
            codes = encoded.indices.to_numpy(zero_copy_only=False)
            rows = rows[given]
            distinct = encoded.dictionary.to_pylist()
            _, first = np.unique(codes, return_index=True)
            checked = [_tag_name(name) for name in distinct]
            bad = [
                (int(rows[first[code]]), problem, distinct[code])
                for code, (_, problem) in enumerate(checked)
                if problem is not None
            ]
            for row, problem, name in bad[:MAX_PROBLEMS_PER_CHECK]:
                at = int(report.locate(np.asarray([row]))[0])
                report.add(problem or "", column=tags_column, row=at, value=name)
            report.more(len(bad) - MAX_PROBLEMS_PER_CHECK, column=tags_column)
            if bad:
                codes = rows = np.zeros(0, dtype=np.int64)
            else:
                cell_tags = [name for name, _ in checked]
    total = set(column_tags.values()) | set(cell_tags)
    if len(total) > MAX_TAGS:
        kinds = []
        if column_tags:
            kinds.append(f"{len(set(column_tags.values()))} in tag:NAME columns")
        if cell_tags:
            kinds.append(f"{len(set(cell_tags))} in the {tags_column!r} column")
        report.add(
            f"the file holds {len(total)} different tags ({', '.join(kinds)}); at most "
            f"{MAX_TAGS} are supported"
        )
        return {}
    tags: dict[str, np.ndarray] = {}
    for column, name in column_tags.items():
        flags, bad_flags = _to_bool(frame[column], empty_ok=True)
        if bad_flags.any():
            _report_booleans(frame[column], bad_flags, column, report)
            continue
        tags[name] = tags[name] | flags if name in tags else flags
    if cell_tags:
        # Two spellings may name one tag once checked (the store trims them alike).
        index = {name: i for i, name in enumerate(dict.fromkeys(cell_tags))}
        remap = np.asarray([index[name] for name in cell_tags], dtype=np.int64)
        matrix = np.zeros((len(index), n), dtype=bool)
        matrix[remap[codes], rows] = True
        for name, i in index.items():
            tags[name] = tags[name] | matrix[i] if name in tags else matrix[i]
    return tags
