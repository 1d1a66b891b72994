"""The sample round trip as a team runs it: draw a sample, write it as a spreadsheet-safe
CSV, fill in reviewer and tags anywhere (every other column kept), import it back. What
was drawn, reviewed and tagged is what the project then holds, and each review weighs
what its sample says."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from store_support import add_run

from erroranalysis import analyses
from erroranalysis.export import neutralize, safe_csv
from erroranalysis.importing import read_reviews
from erroranalysis.importing.tables import KnownSample, sample_sheet
from erroranalysis.sampling import draw_sample
from erroranalysis.store import open_project
from erroranalysis.vocabulary import TAG_SEPARATOR

# Text a spreadsheet would take for a formula, and the export's own escape character.
ALPHABET = "ab7_.=+-@'"
names = st.text(ALPHABET, min_size=1, max_size=6).filter(lambda s: s.strip() == s)
tag_names = st.text("xyz=+-@'", min_size=1, max_size=4)


@st.composite
def projects(draw):
    ids = draw(st.lists(names, min_size=4, max_size=25, unique=True))
    correct = draw(st.lists(st.booleans(), min_size=len(ids), max_size=len(ids)))
    assume(0 < sum(correct) < len(correct))
    size = draw(st.integers(1, len(ids)))
    seed = draw(st.integers(0, 2**16))
    return ids, correct, size, seed


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(project=projects(), data=st.data())
def test_what_a_sample_file_brings_back_is_what_the_project_holds(project, data):
    ids, correct, size, seed = project
    frame = pd.DataFrame(
        {
            "id": ids,
            "label": "a",
            "prediction": ["a" if c else "b" for c in correct],
            "correct": correct,
            "note": [f"={i}" for i in ids],  # metadata that looks like a formula
        }
    )
    with tempfile.TemporaryDirectory() as folder, open_project(Path(folder) / "p.db") as p:
        add_run(p, "dev", frame, metadata_columns=["note"])
        try:
            drawn = draw_sample(analyses.load_evidence(p, "dev"), size=size, seed=seed)
        except ValueError:  # a size the strategy cannot draw from these strata
            assume(False)
        sample = p.dataset("dev").record_sample(drawn, actor="lead")
        text = safe_csv(
            sample_sheet(frame, drawn.examples, sample=sample, run=drawn.run, columns=["note"])
        )

        # Somebody fills in some rows in a spreadsheet and saves the file.
        sheet = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
        n = len(sheet)
        reviewed = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
        assume(any(reviewed))
        tags = [data.draw(st.lists(tag_names, max_size=3, unique=True)) for _ in range(n)]
        sheet["reviewer"] = ["ana" if r else "" for r in reviewed]
        # A spreadsheet keeps text that looks like a formula as text the way the export
        # writes it, with a leading "'".
        sheet["tags"] = [
            neutralize(TAG_SEPARATOR.join(t)) if r else ""
            for t, r in zip(tags, reviewed, strict=True)
        ]
        path = Path(folder) / "filled.csv"
        sheet.to_csv(path, index=False)

        samples = {sample: KnownSample(run=drawn.run, draws=p.dataset("dev").sample_draws(sample))}
        # The run's metadata column "note" is the example's, not a review's note.
        table = read_reviews(
            path,
            known_ids=p.dataset("dev").example_ids(),
            samples=samples,
            example_columns=["note"],
        )
        p.dataset("dev").record_reviews(table.reviews, tags=table.tags, actor="ana")

        back = p.dataset("dev").reviews()
        assigned = p.dataset("dev").tag_assignments()
        evidence = analyses.load_evidence(p, "dev")

    drawn_ids = drawn.examples["id"].tolist()
    mine = [i for i, r in zip(drawn_ids, reviewed, strict=True) if r]
    assert back["example_id"].tolist() == mine
    assert back["sample_id"].tolist() == [sample] * len(mine)
    want = {(i, t) for i, ts, r in zip(drawn_ids, tags, reviewed, strict=True) if r for t in ts}
    assert set(zip(assigned["example_id"], assigned["tag"], strict=True)) == want
    # Each review weighs N_h / k_h of its stratum (or 1 where a stratum is reviewed in full).
    weights = evidence.weights.set_axis(frame["id"])
    strata = drawn.examples.set_index("id")["stratum"]
    sizes = {s["name"]: s["size"] for s in drawn.design["strata"]}
    observed = strata[mine].value_counts()
    errors_all = set(mine) >= set(frame["id"][~frame["correct"]])
    correct_all = set(mine) >= set(frame["id"][frame["correct"]])
    for example in mine:
        census = errors_all if not frame.set_index("id").at[example, "correct"] else correct_all
        stratum = strata[example]
        expected = 1.0 if census else sizes[stratum] / observed[stratum]
        assert weights[example] == expected
    assert weights.notna().sum() == len(mine)
