"""A real spreadsheet engine as a test client: LibreOffice opens files with formulas on.

LibreOffice converts each file headless to flat OpenDocument (``.fods``), evaluating what
it reads as a formula; every live formula then shows as a ``table:formula`` attribute
and every cell's type as ``office:value-type``. Starting soffice takes seconds, so
:func:`convert_to_fods` converts many files in one call per input filter, with a private
profile so that parallel runs do not share (and lock) one.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest

# Comma-separated, double-quoted, UTF-8, from line 1, detect special numbers (so that
# "-0.03" is a number), formulas evaluated: how a teammate's spreadsheet opens a CSV.
CSV_FILTER = "CSV:44,34,76,1,,0,false,true,false,false,false,-1"
TABLE = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
OFFICE = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
# LibreOffice pads a sheet with repeated empty cells up to its last column and row.
MAX_REPEAT = 1_000

# Text a spreadsheet would evaluate or misread, and one harmless name beside it.
HOSTILE = [
    '=HYPERLINK("http://x.example","click")',
    "+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\rcmd",
    "=cmd|' /C calc'!A0",
    "'=x",
    "#N/A",
    "#DIV/0!",
    "=",
    "car noise",
]


def csv_text(text: str) -> str:
    """``text`` as LibreOffice reads it from a CSV field: a carriage return is a line feed."""
    return text.replace("\r", "\n")


@dataclass(frozen=True)
class OdsCell:
    """One cell as the engine holds it: its type, its value and text, its formula if any."""

    value_type: str | None
    value: str | None
    text: str
    formula: str | None


def soffice() -> str:
    """The soffice executable; a skip where it is missing, a failure in CI."""
    found = shutil.which("soffice")
    if found is None:
        message = "LibreOffice (soffice) not found; install it with `apt-get install -y libreoffice-calc-nogui`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def convert_to_fods(paths: Iterable[Path], out: Path) -> dict[Path, Path]:
    """Convert every file (CSV and XLSX) to ``out/NAME.fods`` in one soffice call per kind."""
    executable = soffice()
    paths = list(paths)
    stems = [path.stem for path in paths]
    if len(set(stems)) != len(stems):
        raise ValueError("files to convert need distinct names: their .fods would collide")
    profile = (out / "profile").resolve().as_uri()
    csv = [path for path in paths if path.suffix == ".csv"]
    other = [path for path in paths if path.suffix != ".csv"]
    for group, options in ((csv, [f"--infilter={CSV_FILTER}"]), (other, [])):
        if not group:
            continue
        command = [
            executable,
            f"-env:UserInstallation={profile}",
            "--headless",
            "--norestore",
            *options,
            "--convert-to",
            "fods",
            "--outdir",
            str(out),
            *map(str, group),
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=600)
    converted = {path: out / f"{path.stem}.fods" for path in paths}
    missing = [str(path) for path, fods in converted.items() if not fods.is_file()]
    if missing:
        raise AssertionError(f"LibreOffice did not convert {missing}")
    return converted


def _text(cell: ET.Element) -> str:
    paragraphs = []
    for paragraph in cell.iter(f"{{{TEXT}}}p"):
        parts = [paragraph.text or ""]
        for child in paragraph:
            if child.tag == f"{{{TEXT}}}s":
                parts.append(" " * int(child.get(f"{{{TEXT}}}c", "1")))
            elif child.tag == f"{{{TEXT}}}tab":
                parts.append("\t")
            elif child.tag == f"{{{TEXT}}}line-break":
                parts.append("\n")
            else:
                parts.append("".join(child.itertext()))
            parts.append(child.tail or "")
        paragraphs.append("".join(parts))
    return "\n".join(paragraphs)


def _cell(element: ET.Element) -> OdsCell:
    return OdsCell(
        value_type=element.get(f"{{{OFFICE}}}value-type"),
        value=element.get(f"{{{OFFICE}}}value")
        or element.get(f"{{{OFFICE}}}date-value")
        or element.get(f"{{{OFFICE}}}boolean-value"),
        text=_text(element),
        formula=element.get(f"{{{TABLE}}}formula"),
    )


def _trimmed(cells: list[OdsCell]) -> list[OdsCell]:
    while cells and cells[-1] == OdsCell(None, None, "", None):
        cells.pop()
    return cells


def read_sheets(fods: Path) -> dict[str, list[list[OdsCell]]]:
    """Every sheet's rows of cells, without the empty padding LibreOffice adds."""
    sheets: dict[str, list[list[OdsCell]]] = {}
    for table in ET.parse(fods).getroot().iter(f"{{{TABLE}}}table"):
        rows: list[list[OdsCell]] = []
        for row in table.iter(f"{{{TABLE}}}table-row"):
            cells: list[OdsCell] = []
            for element in row:
                if element.tag not in (f"{{{TABLE}}}table-cell", f"{{{TABLE}}}covered-table-cell"):
                    continue
                repeat = int(element.get(f"{{{TABLE}}}number-columns-repeated", "1"))
                cells.extend([_cell(element)] * min(repeat, MAX_REPEAT))
            repeat = int(row.get(f"{{{TABLE}}}number-rows-repeated", "1"))
            rows.extend([_trimmed(cells)] * min(repeat, MAX_REPEAT))
        while rows and not rows[-1]:
            rows.pop()
        sheets[table.get(f"{{{TABLE}}}name", "")] = rows
    return sheets


def live_formulas(fods: Path) -> list[str]:
    """The formula of every cell the engine evaluates, in reading order ([] when none)."""
    return [
        element.get(f"{{{TABLE}}}formula")
        for element in ET.parse(fods).getroot().iter()
        if element.get(f"{{{TABLE}}}formula") is not None
    ]
