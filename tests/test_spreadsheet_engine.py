"""A real spreadsheet engine opens the exports with zero live formulas.

LibreOffice converts every file with formula evaluation on (tests/spreadsheet_support.py);
control files holding ``=1+1`` do come out with a formula, so the checks can fail. All
files are converted in one soffice call per format, once for the module.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from spreadsheet_support import (
    HOSTILE,
    OdsCell,
    convert_to_fods,
    csv_text,
    live_formulas,
    read_sheets,
)

from erroranalysis.export import neutralize, write_csv
from erroranalysis.workbook import write_workbook

pytestmark = pytest.mark.slow

NUMBERS = [-0.03, 0.5, -2.0, 1e-9, 0.0, 1.0, -1.5, 0.25, 3.0, 0.125, -1e6, 42.0]
COUNTS = list(range(-6, 6))
FLAGS = [True, False] * 6


def hostile_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tag": HOSTILE,
            "=SUM(A1:A2)": NUMBERS,
            "-count": COUNTS,
            "flagged": FLAGS,
            "note": HOSTILE[::-1],
        }
    )


def control_workbook(path: Path) -> None:
    """openpyxl left to itself: a string beginning with "=" is stored as a formula."""
    book = Workbook()
    book.active.append(["tag"])
    book.active.append(["=1+1"])
    book.save(path)


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> dict[str, Path]:
    """Each file's name and the .fods LibreOffice made of it."""
    out = tmp_path_factory.mktemp("spreadsheets")
    files = {
        "control.csv": out / "control_csv.csv",
        "control.xlsx": out / "control_xlsx.xlsx",
        "hostile.csv": out / "hostile_csv.csv",
        "hostile.xlsx": out / "hostile_xlsx.xlsx",
    }
    files["control.csv"].write_text("tag\r\n=1+1\r\n", encoding="utf-8")
    control_workbook(files["control.xlsx"])
    write_csv(hostile_frame(), files["hostile.csv"])
    write_workbook(
        {"hostile": hostile_frame(), "=cmd|' /C calc'!A0": hostile_frame()},
        files["hostile.xlsx"],
        percent_columns={"hostile": ["=SUM(A1:A2)"]},
    )
    converted = convert_to_fods(files.values(), out)
    return {name: converted[path] for name, path in files.items()}


def columns(rows: list[list[OdsCell]], width: int) -> list[list[OdsCell]]:
    padded = [row + [OdsCell(None, None, "", None)] * (width - len(row)) for row in rows]
    return [list(column) for column in zip(*padded, strict=True)]


@pytest.mark.parametrize("name", ["control.csv", "control.xlsx"])
def test_control_files_hold_a_live_formula(opened, name):
    assert live_formulas(opened[name]) == ["of:=1+1"]


def test_safe_csv_opens_without_formulas_and_numbers_stay_numbers(opened):
    fods = opened["hostile.csv"]
    assert live_formulas(fods) == []
    [rows] = read_sheets(fods).values()
    header, *body = rows
    assert [cell.text for cell in header] == ["tag", "'=SUM(A1:A2)", "'-count", "flagged", "note"]
    tag, share, count, flagged, note = columns(body, 5)
    for cells, texts in ((tag, HOSTILE), (note, HOSTILE[::-1])):
        assert [cell.value_type for cell in cells] == ["string"] * len(texts)
        assert [cell.text for cell in cells] == [csv_text(neutralize(t)) for t in texts]
    assert [(cell.value_type, float(cell.value)) for cell in share] == [
        ("float", number) for number in NUMBERS
    ]
    assert [(cell.value_type, int(cell.value)) for cell in count] == [
        ("float", number) for number in COUNTS
    ]
    assert [(cell.value_type, cell.value) for cell in flagged] == [
        ("boolean", str(flag).lower()) for flag in FLAGS
    ]


@pytest.mark.parametrize("sheet", ["hostile", "=cmd|' _C calc'!A0"])
def test_workbook_opens_without_formulas_and_keeps_its_types(opened, sheet):
    fods = opened["hostile.xlsx"]
    # LibreOffice holds an xlsx boolean cell as the constant TRUE() or FALSE(): the only
    # formulas it may show, one per boolean cell (checked cell by cell below).
    assert sorted(set(live_formulas(fods))) == ["of:=FALSE()", "of:=TRUE()"]
    assert len(live_formulas(fods)) == 2 * len(FLAGS)
    sheets = read_sheets(fods)
    assert list(sheets) == ["hostile", "=cmd|' _C calc'!A0"]
    header, *body = sheets[sheet]
    assert [cell.text for cell in header] == ["tag", "=SUM(A1:A2)", "-count", "flagged", "note"]
    assert {(cell.value_type, cell.formula) for cell in header} == {("string", None)}
    tag, share, count, flagged, note = columns(body, 5)
    for cells, texts in ((tag, HOSTILE), (note, HOSTILE[::-1])):
        # Exactly the data's text: a workbook cell is typed, so it needs no added quote.
        assert [(cell.value_type, cell.text) for cell in cells] == [
            ("string", text) for text in texts
        ]
    share_type = "percentage" if sheet == "hostile" else "float"
    assert [(cell.value_type, float(cell.value)) for cell in share] == [
        (share_type, number) for number in NUMBERS
    ]
    assert [(cell.value_type, int(cell.value)) for cell in count] == [
        ("float", number) for number in COUNTS
    ]
    assert [(cell.formula, cell.value) for cell in flagged] == [
        ("of:=TRUE()", "1") if flag else ("of:=FALSE()", "0") for flag in FLAGS
    ]
    assert [cell.formula for cells in (tag, share, count, note) for cell in cells] == [
        None
    ] * 4 * len(HOSTILE)
