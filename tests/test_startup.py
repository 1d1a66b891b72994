"""What a command loads: the light ones start without scipy, scikit-learn, Plotly or
Streamlit, which are imported only by the analyses (and pages) that use them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from erroranalysis import analyses
from erroranalysis.cli import main
from erroranalysis.priorities import priority_table
from erroranalysis.slices import slice_table

HEAVY = ("plotly", "scipy", "sklearn", "streamlit")
# Runs main(argv) in a fresh interpreter, then prints its exit code and which of HEAVY
# it imported.
PROBE = f"""
import json, sys
from erroranalysis.cli import main
code = main(sys.argv[1:])
loaded = sorted({{name.partition(".")[0] for name in sys.modules}} & set({HEAVY!r}))
print(json.dumps({{"code": code, "loaded": loaded}}))
"""
DATA = "id,label,prediction,noise\na,yes,yes,car\nb,no,yes,clean\nc,no,no,car\nd,yes,no,clean\n"


def loaded_by(*argv: str) -> list[str]:
    """The HEAVY packages a fresh process imports to run ``erroranalysis ARGV`` (which
    must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout.strip().splitlines()[-1])
    assert answer["code"] == 0, proc.stderr
    return answer["loaded"]


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("startup")
    (folder / "dev.csv").write_text(DATA)
    path = str(folder / "p.db")
    assert main(["import", str(folder / "dev.csv"), "--db", path, "--dataset", "dev"]) == 0
    return path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("tags", "list"), []),
        (("datasets",), []),
        (("tags", "list", "--dataset", "dev"), []),
        (("priorities", "--dataset", "dev"), []),  # no tags: no interval to compute
        (("slices", "--dataset", "dev", "--by", "noise"), ["scipy", "sklearn"]),
        (("discover", "--dataset", "dev"), ["scipy"]),
        (("agreement", "--dataset", "dev"), []),
    ],
)
def test_a_command_imports_only_what_it_uses(db, tmp_path, argv, expected):
    out = str(tmp_path / "out.csv")
    assert loaded_by(*argv, "--db", db, "--out", out) == expected


def test_importing_the_command_line_and_the_analyses_loads_none_of_them():
    code = (
        "import sys, erroranalysis.cli, erroranalysis.analyses; "
        f"print(sorted({{n.partition('.')[0] for n in sys.modules}} & set({HEAVY!r})))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_the_analyses_by_name_and_by_attribute_are_the_functions_themselves():
    assert analyses.ANALYSES["priority_table"] is priority_table
    assert analyses.slice_table is slice_table
    assert list(analyses.ANALYSES)[:3] == ["priority_table", "error_shares", "untagged_errors"]
    assert len(analyses.ANALYSES) == len(list(analyses.ANALYSES)) == 15
    assert set(analyses.__all__) == set(analyses.ANALYSES) | {
        "ANALYSES",
        "Evidence",
        "load_evidence",
        "reviewable_tags",
        "reviewer_agreement",
        "runs_table",
        "tag_agreement",
    }


def test_an_unknown_analysis_is_a_key_error_and_an_unknown_name_an_attribute_error():
    with pytest.raises(KeyError, match="no_such_analysis"):
        analyses.ANALYSES["no_such_analysis"]
    with pytest.raises(AttributeError, match="has no attribute 'no_such_analysis'"):
        analyses.no_such_analysis  # noqa: B018
    assert "no_such_analysis" not in analyses.ANALYSES and "slice_table" in analyses.ANALYSES
