"""A real spreadsheet engine opens the exports with zero live formulas.

LibreOffice converts every file with formula evaluation on (tests/spreadsheet_support.py);
control files holding ``=1+1`` do come out with a formula, so the checks can fail. All
files (the hostile cells, and every export kind of a project whose tag names, notes,
labels and metadata look like formulas, as CSV and as XLSX) are converted in one soffice
call per format, once for the module.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
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
from store_support import add_run

from erroranalysis.export import neutralize, write_csv
from erroranalysis.exports import EXPORT_KINDS, export_table, extra_sheets, write_export
from erroranalysis.store import open_project
from erroranalysis.workbook import sheet_name, write_workbook

pytestmark = pytest.mark.slow

FORMULA_TAG = '=HYPERLINK("http://x.example","click")'
DDE_TAG = "=cmd|' /C calc'!A0"  # runs a program in spreadsheets that allow DDE
EXPORT_FORMATS = ("csv", "xlsx")
OPTIONS = {"slices": {"by": "noise"}}
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


def hostile_run(prediction: list[str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["=1", "-2", "3", "4", "5", "6"],
            "label": ["=yes", "no", "+up", "no", "@go", "no"],
            "prediction": prediction,
            "confidence": [0.9, 0.6, 0.8, 0.55, 0.3, 0.7],
            "noise": [DDE_TAG, "clean", "-2+3", DDE_TAG, "\tcar", "clean"],
            "snr_db": [-3.5, 12.0, 4.25, -0.03, 8.0, 20.0],
            f"tag:{FORMULA_TAG}": [True, False, True, False, True, False],
        }
    ).assign(correct=lambda f: f["label"] == f["prediction"])


def hostile_project(path: Path) -> Path:
    """dev: runs v2 and main (the latest) of six examples whose ids, labels, predictions,
    metadata and dataset tag look like formulas; reviews whose reviewers, tags, notes and
    corrections do too (example 4 an error reviewed without a tag), and a tag defined by
    an actor named like one."""
    with open_project(path) as project:
        settings = {"metadata_columns": ["noise", "snr_db"], "dataset_tags": [FORMULA_TAG]}
        add_run(
            project,
            "dev",
            hostile_run(["=yes", "no", "no", "no", "@go", "+up"]),
            run="v2",
            **settings,
        )
        add_run(
            project,
            "dev",
            hostile_run(["=yes", "+up", "no", "@go", "@go", "+up"]),
            run="main",
            **settings,
        )
        reviews = pd.DataFrame(
            [
                ("-2", "ana", "=1+1", True, "-2+3"),
                ("=1", "ana", "@SUM(A1)", False, None),
                ("3", "ben", "\tlooks fine", False, None),
                ("6", "ben", "+1 louder", True, "=no"),
                ("4", "@ben", "", False, None),
            ],
            columns=["id", "reviewer", "note", "label_wrong", "corrected_label"],
        )
        tags = [[DDE_TAG, "+people noise"], ["-low bandwidth"], [DDE_TAG], ["@quiet"], []]
        project.dataset("dev").record_reviews(reviews, tags=tags, run="main")
        project.define_tag(DDE_TAG, actor="=lead", hlp=0.9, description='=HYPERLINK("y")')
    return path


def exported(path: Path, out: Path) -> dict[str, tuple[Path, dict[str, pd.DataFrame]]]:
    """Every kind as every format: its file and the sheets (name: table) it holds."""
    files = {}
    with open_project(path, readonly=True) as project:
        for kind in EXPORT_KINDS:
            table = export_table(project, "dev", kind, **OPTIONS.get(kind, {}))
            for fmt in EXPORT_FORMATS:
                target = out / f"{kind}_{fmt}.{fmt}"
                more = extra_sheets(project, "dev", kind) if fmt == "xlsx" else {}
                write_export(table, target, format=fmt, kind=kind, sheets=more or None)
                files[f"{kind}.{fmt}"] = (target, {kind: table, **more})
    return files


@dataclass(frozen=True)
class Opened:
    fods: dict[str, Path]  # each file's name: the .fods LibreOffice made of it
    sheets: dict[str, dict[str, pd.DataFrame]]  # each export file's name: its tables


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> Opened:
    out = tmp_path_factory.mktemp("spreadsheets")
    exports = exported(hostile_project(out / "hostile.db"), out)
    files = {name: target for name, (target, _) in exports.items()}
    files |= {
        "control.csv": out / "control_csv.csv",
        "control.xlsx": out / "control_xlsx.xlsx",
        "hostile.csv": out / "hostile_csv.csv",
        "hostile.xlsx": out / "hostile_xlsx.xlsx",
    }
    files["control.csv"].write_text("tag\r\n=1+1\r\n", encoding="utf-8")
    control_workbook(files["control.xlsx"])
    write_csv(hostile_frame(), files["hostile.csv"])
    write_workbook(
        {"hostile": hostile_frame(), DDE_TAG: hostile_frame()},
        files["hostile.xlsx"],
        percent_columns={"hostile": ["=SUM(A1:A2)"]},
    )
    converted = convert_to_fods(files.values(), out)
    return Opened(
        fods={name: converted[path] for name, path in files.items()},
        sheets={name: sheets for name, (_, sheets) in exports.items()},
    )


def columns(rows: list[list[OdsCell]], width: int) -> list[list[OdsCell]]:
    padded = [row + [OdsCell(None, None, "", None)] * (width - len(row)) for row in rows]
    return [list(column) for column in zip(*padded, strict=True)]


@pytest.mark.parametrize("name", ["control.csv", "control.xlsx"])
def test_control_files_hold_a_live_formula(opened, name):
    assert live_formulas(opened.fods[name]) == ["of:=1+1"]


def test_safe_csv_opens_without_formulas_and_numbers_stay_numbers(opened):
    fods = opened.fods["hostile.csv"]
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
    fods = opened.fods["hostile.xlsx"]
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


def is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
        values.dtype
    )


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_csv_export_opens_without_formulas_and_its_numbers_are_numbers(opened, kind):
    fods = opened.fods[f"{kind}.csv"]
    assert live_formulas(fods) == []
    [table] = opened.sheets[f"{kind}.csv"].values()
    [rows] = read_sheets(fods).values()
    header, *body = rows
    assert len(header) == table.shape[1] and len(body) == len(table)
    for position, cells in enumerate(columns(body, table.shape[1])):
        values = table.iloc[:, position]
        if is_number(values):
            present = values.notna().to_numpy()
            types = [cell.value_type for cell, keep in zip(cells, present, strict=True) if keep]
            assert types == ["float"] * int(present.sum()), (kind, table.columns[position])


@pytest.mark.parametrize("kind", EXPORT_KINDS)
def test_every_xlsx_export_opens_without_formulas(opened, kind):
    fods = opened.fods[f"{kind}.xlsx"]
    sheets = read_sheets(fods)
    tables = opened.sheets[f"{kind}.xlsx"]
    assert list(sheets) == [sheet_name(name) for name in tables]
    booleans = 0
    for name, table in tables.items():
        header, *body = sheets[sheet_name(name)]
        assert [cell.text for cell in header] == [str(column) for column in table.columns]
        assert len(body) == len(table)
        for position, cells in enumerate(columns(body, table.shape[1])):
            values = table.iloc[:, position].tolist()
            for cell, value in zip(cells, values, strict=True):
                if isinstance(value, bool):
                    # LibreOffice's own form of an xlsx boolean (see above).
                    assert cell.formula == f"of:={str(value).upper()}()", (name, position)
                    booleans += 1
                else:
                    assert cell.formula is None, (name, table.columns[position], value)
                if isinstance(value, str) and value:
                    assert (cell.value_type, cell.text) == ("string", value)
                number = isinstance(value, int | float) and not isinstance(value, bool)
                if number and np.isfinite(value):
                    assert cell.value_type in ("float", "percentage"), (name, position)
    assert len(live_formulas(fods)) == booleans
