"""Reviews as teams keep them in a spreadsheet: a tags column, tag:NAME columns or one column
per tag, with a note and label flags; saved by Excel or Google Sheets (a byte order mark,
';' between fields, CRLF line ends); the examples sheet the export writes, read back."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_support import add_run
from test_cli import dump, imported

from erroranalysis.cli import main
from erroranalysis.export import restore
from erroranalysis.exports import export_table, write_export
from erroranalysis.importing import ImportValidationError, read_reviews, read_tag_definitions
from erroranalysis.store import open_project

KNOWN = pd.Index(["1", "2", "3"])
MARK_HINT = "x, 1, yes, true mark yes; empty, 0, no, false mark no"


def read(tmp_path: Path, content: str | bytes, **options: object):
    path = tmp_path / "reviews.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_reviews(path, **{"known_ids": KNOWN, **options})


def rows(table) -> list[list]:
    """Each review as a list of its columns' values, then its tags."""
    frame = table.reviews.astype(object).where(table.reviews.notna(), None)
    return [[*values, tags] for values, tags in zip(frame.values.tolist(), table.tags, strict=True)]


GOOD_SHEETS = [
    # (case, content, options, columns of the reviews, expected rows with their tags)
    (
        "today's layout",
        "id,reviewer,tags\n1,ana,car noise;echo\n2,ben,\n",
        {},
        ["id", "reviewer"],
        [["1", "ana", ["car noise", "echo"]], ["2", "ben", []]],
    ),
    (
        "a column per tag, every mark",
        "id,reviewer,car noise,echo,blurry\n1,ana,x,1,yes\n2,ben, TRUE ,0,no\n3,ana,,false,X\n",
        {},
        ["id", "reviewer"],
        [
            ["1", "ana", ["car noise", "echo", "blurry"]],
            ["2", "ben", ["car noise"]],
            ["3", "ana", ["blurry"]],
        ],
    ),
    (
        "tag:NAME columns beside the tags column, one name given both ways",
        "id,reviewer,tags,tag:echo,tag:car noise\n1,ana,car noise,x,true\n2,ben,,0,\n",
        {},
        ["id", "reviewer"],
        [["1", "ana", ["car noise", "echo"]], ["2", "ben", []]],
    ),
    (
        "a column per tag named tag:NAME",
        "id,reviewer,tag:echo\n1,ana,x\n",
        {},
        ["id", "reviewer"],
        [["1", "ana", ["echo"]]],
    ),
    (
        "note, label flag and corrected label",
        "id,reviewer,tags,note,label_wrong,corrected_label\n"
        "1,ana,echo, says 'no' ,yes,no\n2,ben,,,0,\n3,ana,,,,cat\n",
        {},
        ["id", "reviewer", "note", "label_wrong", "corrected_label"],
        [
            ["1", "ana", " says 'no' ", True, "no", ["echo"]],
            ["2", "ben", "", False, None, []],
            ["3", "ana", "", True, "cat", []],  # a corrected label says the label is wrong
        ],
    ),
    (
        "a corrected label without a label_wrong column",
        "id,reviewer,tags,corrected_label\n1,ana,,cat\n2,ana,,\n",
        {},
        ["id", "reviewer", "label_wrong", "corrected_label"],
        [["1", "ana", True, "cat", []], ["2", "ana", False, None, []]],
    ),
    (
        "several reviewers: one review each, the row's review on the last",
        "id,reviewer,tags,note,label_wrong,corrected_label\n1,ana;ben,echo,hum,x,cat\n2,ben,,,,\n",
        {},
        ["id", "reviewer", "note", "label_wrong", "corrected_label"],
        [
            ["1", "ana", "", False, None, []],
            ["1", "ben", "hum", True, "cat", ["echo"]],
            ["2", "ben", "", False, None, []],
        ],
    ),
    (
        "the export's neutralized cells and headers read as they were",
        "id,reviewer,'=1+1,tag:'@x\n'=1,'-ana,x,\n2,ana,,yes\n",
        {"known_ids": pd.Index(["=1", "2"])},
        ["id", "reviewer"],
        [["=1", "-ana", ["=1+1"]], ["2", "ana", ["'@x"]]],
    ),
    (
        "the example's own columns and a sample's are kept and not read",
        "id,label,prediction,correct,confidence,noise,reviewer,reviewed_at,tags,weight\n"
        "1,yes,no,False,0.6,car,ana,2026-01-01T00:00:00,echo,3\n",
        {"example_columns": ["noise"]},
        ["id", "reviewer"],
        [["1", "ana", ["echo"]]],
    ),
    (
        "a run's metadata column named note is the example's",
        "id,reviewer,tags,note\n1,ana,echo,=car\n",
        {"example_columns": ["note"]},
        ["id", "reviewer"],
        [["1", "ana", ["echo"]]],
    ),
    (
        "tags that come with the data are not read, in either layout",
        "id,reviewer,tags,tag:clean,tag:echo\n1,ana,clean;echo,True,True\n2,,clean,True,False\n",
        {"derived_tags": ["clean"]},
        ["id", "reviewer"],
        [["1", "ana", ["echo"]]],
    ),
    (
        "rows nobody reviewed are skipped; a trailing unnamed column that is empty is left out",
        "id,reviewer,echo,\n1,ana,x,\n2,,,\n3,,0,\n",
        {},
        ["id", "reviewer"],
        [["1", "ana", ["echo"]]],
    ),
]


@pytest.mark.parametrize(
    ("content", "options", "columns", "expected"),
    [case[1:] for case in GOOD_SHEETS],
    ids=[case[0] for case in GOOD_SHEETS],
)
def test_a_sheet_is_read_by_the_rule(tmp_path, content, options, columns, expected):
    table = read(tmp_path, content, **options)
    assert table.reviews.columns.tolist() == columns
    assert rows(table) == expected


def test_skipped_rows_are_counted(tmp_path):
    table = read(tmp_path, "id,reviewer,echo,blurry\n1,ana,x,\n2,,,\n3,,no,0\n")
    assert (len(table.reviews), table.skipped) == (1, 2)


# A sheet as Excel and Google Sheets save it: a byte order mark, ';' between fields (the
# comma is a decimal mark in many locales), CRLF line ends, fields quoted where needed.
SPREADSHEET_SAVES = [
    ("bom", b"\xef\xbb\xbfid,reviewer,tags\r\n1,ana,echo\n2,ben,\n"),
    ("semicolons", b'id;reviewer;car noise;echo\n1;ana;x;\n2;ben;;"1"\n'),
    ("crlf", b"id,reviewer,tags\r\n1,ana,echo\r\n2,ben,\r\n"),
    (
        "all three, quoted tags",
        b'\xef\xbb\xbfid;reviewer;tags;note\r\n1;ana;"echo";"a; b"\r\n2;ben;;\r\n',
    ),
]


@pytest.mark.parametrize(
    "content", [c for _, c in SPREADSHEET_SAVES], ids=[n for n, _ in SPREADSHEET_SAVES]
)
def test_a_spreadsheets_csv_reads(tmp_path, content):
    table = read(tmp_path, content)
    assert table.reviews[["id", "reviewer"]].values.tolist() == [["1", "ana"], ["2", "ben"]]
    assert [sorted(t) for t in table.tags] in ([["echo"], []], [["car noise"], ["echo"]])


def test_a_semicolon_sheet_keeps_commas_in_values(tmp_path):
    table = read(tmp_path, "id;reviewer;tags;note\r\n1;ana;echo;hum, then a click\r\n")
    assert table.reviews["note"].tolist() == ["hum, then a click"]
    assert table.tags == [["echo"]]


def test_a_bad_cell_of_a_semicolon_sheet_names_its_line(tmp_path):
    with pytest.raises(ImportValidationError) as caught:
        read(tmp_path, 'id;reviewer;echo\r\n1;ana;x\r\n2;ana;"many\r\nlines"\r\n3;ana;?\r\n')
    assert [str(p) for p in caught.value.problems] == [
        f"line 3, column 'echo': value 'many\\x0d\\x0alines' is not a mark of tag 'echo': {MARK_HINT}",
        f"line 5, column 'echo': value '?' is not a mark of tag 'echo': {MARK_HINT}",
    ]


BAD_SHEETS = [
    # (case, content, options, exact problems)
    (
        "an unknown column beside a tags column",
        "id,reviewer,tags,echo\n1,ana,,x\n",
        {},
        [
            "column 'echo': is not a column of a reviews file with a tags column: put the tag "
            "in the tags column or name its column tag:NAME, or leave out the tags column to "
            "read every column as a tag (the columns read: id, reviewer, tags, note, "
            "label_wrong, corrected_label)"
        ],
    ),
    (
        "a cell that is not a mark, with its line",
        "id,reviewer,echo,blurry\n1,ana,x,\n2,ana,maybe,\n3,ana,,y\n",
        {},
        [
            f"line 3, column 'echo': value 'maybe' is not a mark of tag 'echo': {MARK_HINT}",
            f"line 4, column 'blurry': value 'y' is not a mark of tag 'blurry': {MARK_HINT}",
        ],
    ),
    (
        "a label flag that is not a mark",
        "id,reviewer,tags,label_wrong\n1,ana,,wrong\n",
        {},
        [f"line 2, column 'label_wrong': value 'wrong' is not a label flag: {MARK_HINT}"],
    ),
    (
        "a corrected label beside label_wrong false",
        "id,reviewer,tags,label_wrong,corrected_label\n1,ana,,no,cat\n2,ana,,,dog\n",
        {},
        [
            "line 2, column 'corrected_label': value 'cat' is a corrected label, but "
            "label_wrong on this line says the label is right; mark label_wrong or clear the "
            "corrected label"
        ],
    ),
    (
        "a header that is not a tag name",
        "id,reviewer,ok,bad\u202e\n1,ana,x,\n",
        {},
        [
            "column 'bad\u202e': is not a tag name: tag name contains Unicode direction "
            "controls (such as U+202E), which make text read differently from what it is: "
            "'bad\\u202e' (without a tags column, every column other than id, reviewer, "
            "note, label_wrong, corrected_label and the example's own is a tag)"
        ],
    ),
    (
        "a tag:NAME header that is not a tag name",
        "id,reviewer,tags,tag: \n1,ana,,x\n",
        {},
        [
            "column 'tag: ': is not a tag name: tag name is empty (columns named tag:NAME hold one tag each)"
        ],
    ),
    (
        "an unnamed column that holds values",
        "id,reviewer,echo,\n1,ana,x,x\n",
        {},
        [
            "column 'Unnamed: 3': has no header but holds values: name it (a tag's name, or "
            "tag:NAME beside a tags column)"
        ],
    ),
    (
        "no tags column and no tag column",
        "id,reviewer,note\n1,ana,hum\n",
        {},
        [
            "column 'tags': missing required column: a tags column (names ';'-separated) or "
            "one column per tag (columns found: 'id', 'reviewer', 'note')"
        ],
    ),
    (
        "a reviewer among several that is not a name",
        "id,reviewer,tags\n1,ana;b\x07b,\n2,;,x\n",
        {},
        [
            "line 2, column 'reviewer': value 'ana;b\\x07b' is not a reviewer name: reviewer "
            "name contains control characters: 'b\\x07b'",
            "line 3, column 'reviewer': value ';' is not a reviewer name: reviewer name is empty",
        ],
    ),
    (
        "a row with a note and no reviewer",
        "id,reviewer,tags,note\n1,ana,,\n2,,,hum\n",
        {},
        ["line 3, column 'reviewer': value '' is not a reviewer name: reviewer name is empty"],
    ),
    (
        "no row reviewed",
        "id,reviewer,echo\n1,,\n2,,no\n",
        {},
        ["no row is reviewed yet: fill in reviewer (and tags) on the rows reviewed"],
    ),
    (
        "too many tags, counted over every kind of column",
        "id,reviewer,tags,"
        + ",".join(f"tag:c{i}" for i in range(300))
        + "\n1,ana,"
        + ";".join(f"t{i}" for i in range(201))
        + ","
        + ",".join("x" * 300)
        + "\n",
        {},
        ["column 'tags': the file holds 501 different tags; at most 500 are supported"],
    ),
]


@pytest.mark.parametrize(
    ("content", "options", "expected"),
    [case[1:] for case in BAD_SHEETS],
    ids=[case[0] for case in BAD_SHEETS],
)
def test_a_bad_sheet_lists_every_problem(tmp_path, content, options, expected):
    with pytest.raises(ImportValidationError) as caught:
        read(tmp_path, content, **options)
    assert [str(p) for p in caught.value.problems] == expected


# ---------------------------------------------------------------------- the command
DATA = (
    "id,label,prediction,noise,tag:clean\n1,yes,no,car,true\n2,no,no,quiet,false\n3,yes,yes,car,1\n"
)


@pytest.fixture
def project(tmp_path):
    return imported(tmp_path, "dev", DATA, db="p.db")


def reviews_import(db: Path, sheet: Path) -> int:
    return main(["reviews", "import", str(sheet), "--db", str(db), "--dataset", "dev"])


def test_a_column_per_tag_sheet_with_notes_and_labels_is_recorded(project, tmp_path, capsys):
    sheet = tmp_path / "sheet.csv"
    sheet.write_bytes(
        b"\xef\xbb\xbfid;reviewer;car noise;echo;note;label_wrong;corrected_label\r\n"
        b"1;ana;x;;honks;yes;no\r\n2;;;;;;\r\n3;ana;;TRUE;;;\r\n"
    )
    capsys.readouterr()
    assert reviews_import(project, sheet) == 0
    assert capsys.readouterr().out == (
        "recorded 2 reviews with 2 tags in dataset 'dev'; skipped 1 rows nobody reviewed\n"
    )
    with open_project(project) as p:
        reviews = p.dataset("dev").reviews()
        tagged = p.dataset("dev").tag_assignments()
    got = reviews[["example_id", "reviewer", "note", "label_wrong", "corrected_label"]]
    assert got.astype(object).where(got.notna(), None).values.tolist() == [
        ["1", "ana", "honks", True, "no"],
        ["3", "ana", "", False, None],
    ]
    assert sorted(zip(tagged["example_id"], tagged["tag"], strict=True)) == [
        ("1", "car noise"),
        ("3", "echo"),
    ]


def test_the_examples_own_columns_and_data_tags_are_not_read(project, tmp_path):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(
        "id,label,prediction,correct,noise,tags,tag:clean,tag:echo,reviewer,reviewed_at,note\n"
        "1,yes,no,False,car,clean;echo,True,True,ana;ben,2026-01-01,hum\n"
        "2,no,no,True,quiet,,False,False,,,\n"
        "3,yes,yes,True,car,clean,True,False,,,\n"
    )
    assert reviews_import(project, sheet) == 0
    with open_project(project) as p:
        reviews = p.dataset("dev").reviews()
        tagged = p.dataset("dev").tag_assignments()
    assert reviews[["example_id", "reviewer", "note"]].values.tolist() == [
        ["1", "ana", ""],
        ["1", "ben", "hum"],
    ]
    assert list(zip(tagged["example_id"], tagged["tag"], strict=True)) == [("1", "echo")]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("id,reviewer,car noise\n1,ana,maybe\n", "line 2, column 'car noise': value 'maybe'"),
        ("id,reviewer,tags,extra\n1,ana,,x\n", "column 'extra': is not a column of a reviews"),
        ("id;reviewer;label_wrong;corrected_label;x\n1;ana;0;cat;\n", "says the label is right"),
        ("id,reviewer,tags,label_wrong\n1,ana,,maybe\n", "value 'maybe' is not a label flag"),
    ],
)
def test_a_bad_sheet_changes_nothing(project, tmp_path, capsys, content, expected):
    sheet = tmp_path / "sheet.csv"
    sheet.write_text(content)
    before = dump(project)
    capsys.readouterr()
    assert reviews_import(project, sheet) == 1
    assert expected in capsys.readouterr().err
    assert dump(project) == before


# ---------------------------------------------------------------------- the round trip
# Names within the rules (no control characters, trimmed), awkward otherwise: text a
# spreadsheet takes for a formula, the export's own quote, CSV quoting and separators.
# ";" is left out of tag and reviewer names: it separates them in a cell.
AWKWARD = "ab7 =+-@',\":é"
awkward_names = st.text(AWKWARD, min_size=1, max_size=8).filter(lambda s: s.strip() == s)
tag_names = st.one_of(
    awkward_names.filter(lambda s: s != "clean"),
    st.sampled_from(["tag:x", "=1+1", "'=x", "x, y", '"q"', "t" * 100]),
)
notes = st.text(AWKWARD + ";\n", max_size=12)
labels = st.text(AWKWARD + ";", min_size=1, max_size=6).filter(lambda s: s.strip() != "")


@st.composite
def reviewed_runs(draw):
    ids = draw(st.lists(awkward_names, min_size=1, max_size=8, unique=True))
    n = len(ids)
    reviews = draw(
        st.lists(
            st.tuples(
                st.integers(0, n - 1),
                st.sampled_from(["ana", "=bob", "O'Neil, Jo"]),
                st.lists(tag_names, max_size=3, unique=True),
                notes,
                st.one_of(st.none(), st.just(""), labels),  # None: the label is right
            ),
            min_size=1,
            max_size=12,
        )
    )
    return ids, draw(st.lists(st.booleans(), min_size=n, max_size=n)), reviews


def run_frame(ids: list[str], correct: list[bool]) -> pd.DataFrame:
    """A run of ``ids`` with a metadata column that looks like a formula and a tag that
    comes with the data."""
    return pd.DataFrame(
        {
            "id": ids,
            "label": "yes",
            "prediction": ["yes" if c else "no" for c in correct],
            "correct": correct,
            "noise": [f"=car{i}" for i in range(len(ids))],
            "tag:clean": [i % 2 == 0 for i in range(len(ids))],
        }
    )


def new_project(path: Path, frame: pd.DataFrame) -> None:
    with open_project(path) as p:
        add_run(p, "dev", frame, metadata_columns=["noise"], dataset_tags=["clean"])


def exported(path: Path, out: Path) -> pd.DataFrame:
    """The reviewed examples sheet of ``path`` as ``export examples`` writes it, written
    to ``out``, and as a reader of that CSV sees it."""
    with open_project(path) as p:
        sheet = export_table(p, "dev", "examples", reviewed_only=True)
    write_export(sheet, out, format="csv", kind="examples")
    return pd.read_csv(out, dtype=str, keep_default_na=False)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=reviewed_runs())
def test_reviews_exported_come_back_the_same(case):
    ids, correct, reviews = case
    frame = run_frame(ids, correct)
    with tempfile.TemporaryDirectory() as folder:
        first, second = Path(folder) / "a.db", Path(folder) / "b.db"
        new_project(first, frame)
        new_project(second, frame)
        with open_project(first) as p:
            p.dataset("dev").record_reviews(
                pd.DataFrame(
                    {
                        "id": [ids[r[0]] for r in reviews],
                        "reviewer": [r[1] for r in reviews],
                        "note": [r[3] for r in reviews],
                        "label_wrong": [r[4] is not None for r in reviews],
                        "corrected_label": [r[4] or None for r in reviews],
                    }
                ),
                tags=[r[2] for r in reviews],
                actor="lead",
            )
        sheet = exported(first, Path(folder) / "a.csv")
        assert reviews_import(second, Path(folder) / "a.csv") == 0
        again = exported(second, Path(folder) / "b.csv")

    # What the reviews said, per example: its reviewers, the tags any review gave, the
    # latest note given, and the latest label flag with its corrected label.
    expected = {}
    for position, reviewer, tags, note, corrected in reviews:
        got = expected.setdefault(
            ids[position], {"reviewers": [], "tags": set(), "note": "", "flag": ("False", "")}
        )
        if reviewer not in got["reviewers"]:
            got["reviewers"].append(reviewer)
        got["tags"] |= set(tags)
        got["note"] = note or got["note"]
        if corrected is not None:
            got["flag"] = ("True", corrected)
    data_tags = dict(zip(ids, frame["tag:clean"], strict=True))
    for sheets in (sheet, again):
        assert sorted(sheets["id"].map(restore)) == sorted(expected)
        for row in sheets.map(restore).to_dict("records"):
            want = expected[row["id"]]
            assert row["reviewer"].split(";") == want["reviewers"]
            assert set(filter(None, row["tags"].split(";"))) == want["tags"] | (
                {"clean"} if data_tags[row["id"]] else set()
            )
            assert row["note"] == want["note"]
            assert (row["label_wrong"], row["corrected_label"]) == want["flag"]
    same = [c for c in sheet.columns if c != "reviewed_at"]
    pd.testing.assert_frame_equal(sheet[same], again[same])


def test_the_whole_examples_sheet_imports_without_its_unreviewed_rows(tmp_path, capsys):
    frame = run_frame(["a", "b", "c"], [True, False, True])
    first, second = tmp_path / "a.db", tmp_path / "b.db"
    new_project(first, frame)
    new_project(second, frame)
    with open_project(first) as p:
        p.dataset("dev").record_review("b", reviewer="ana", tags=["echo"], note="=hum")
    out = str(tmp_path / "all.csv")
    assert main(["export", "examples", "--db", str(first), "--dataset", "dev", "--out", out]) == 0
    capsys.readouterr()
    assert reviews_import(second, tmp_path / "all.csv") == 0
    assert capsys.readouterr().out == (
        "recorded 1 reviews with 1 tags in dataset 'dev'; skipped 2 rows nobody reviewed\n"
    )
    with open_project(second) as p:
        reviews = p.dataset("dev").reviews()
        tagged = p.dataset("dev").tag_assignments()
    assert reviews[["example_id", "reviewer", "note"]].values.tolist() == [["b", "ana", "=hum"]]
    assert list(zip(tagged["example_id"], tagged["tag"], strict=True)) == [("b", "echo")]


# ---------------------------------------------------------------------- decimal commas
def test_a_sample_file_saved_with_decimal_commas_comes_back(project, tmp_path):
    out = tmp_path / "sample.csv"
    command = ["sample", "--db", str(project), "--dataset", "dev", "--size", "2", "--seed", "1"]
    assert main([*command, "--out", str(out)]) == 0
    sheet = pd.read_csv(out, dtype=str, keep_default_na=False).assign(reviewer="ana")
    assert sheet["weight"].str.contains(".", regex=False).any()  # a weight with decimals
    sheet["weight"] = sheet["weight"].str.replace(".", ",")
    sheet.to_csv(out, index=False, sep=";", lineterminator="\r\n")
    assert reviews_import(project, out) == 0
    with open_project(project) as p:
        assert p.dataset("dev").reviews()["sample_id"].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("tag;hlp;effort\r\necho;0,93;1,5\r\n", [["echo", 0.93, 1.5]]),
        ("tag;hlp;effort\r\necho;0.93;2\r\n", [["echo", 0.93, 2.0]]),
    ],
)
def test_tag_definitions_separated_by_semicolons_take_decimal_commas(tmp_path, content, expected):
    path = tmp_path / "tags.csv"
    path.write_text(content, newline="")
    frame = read_tag_definitions(path)
    assert frame[["tag", "hlp", "effort"]].values.tolist() == expected


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ('tag,hlp\r\necho,"0,93"\r\n', "line 2, column 'hlp': value '0,93' is not a number"),
        ("tag;hlp\r\necho;1,000.5\r\n", "line 2, column 'hlp': value '1,000.5' is not a number"),
    ],
)
def test_a_decimal_comma_is_a_number_only_between_semicolons(tmp_path, content, expected):
    path = tmp_path / "tags.csv"
    path.write_text(content, newline="")
    with pytest.raises(ImportValidationError) as caught:
        read_tag_definitions(path)
    assert [str(p) for p in caught.value.problems] == [expected]
