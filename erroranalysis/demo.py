"""The demo project: a speech-command dev set with a team's review, and scikit-learn's digits.

Each dataset has two model runs on the same examples: ``main``, the model the team
reviewed, and ``v2``, the model trained after that review (see ``sample_data/README.md``),
so Compare has two runs to compare. A dataset's latest import is its default run (the
one the pages and the CLI open without ``--run``), so ``main`` is imported after ``v2``:
the demo opens on the run its review was made on, as the README's walkthrough reads.
"""

from __future__ import annotations

from pathlib import Path

from .importing import read_dataset, read_reviews, read_tag_definitions
from .store import check_project_file, open_project
from .vocabulary import DEFAULT_RUN

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SPEECH = "speech-commands"
DIGITS = "digits"
NEXT_RUN = "v2"  # the model trained after the first error analysis


def build_demo(
    path: str | Path, *, sample_data: str | Path | None = None, force: bool = False
) -> str:
    """Build the demo project at ``path`` and return a one-line summary.

    An existing file is left alone unless ``force``; then it is rebuilt from scratch, if
    it is a project: anything else (another application's database, a damaged project, a
    folder) raises :class:`~erroranalysis.errors.ProjectFileError` and stays as it is.
    """
    path = Path(path)
    root = Path(sample_data) if sample_data else SAMPLE_DATA
    if path.exists():
        if not force:
            return f"{path} exists already; pass --force to rebuild it"
        check_project_file(path)  # never delete what is not a project
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    speech = root / "speech"
    digits = root / "digits"
    # Per dataset, its runs in import order; the last one is the default run.
    imports = {
        SPEECH: [(NEXT_RUN, speech / "speech_v2.csv"), (DEFAULT_RUN, speech / "speech_dev.csv")],
        DIGITS: [(NEXT_RUN, digits / "digits_v2.csv"), (DEFAULT_RUN, digits / "digits_dev.csv")],
    }
    # One vector per example, in the files' row order (both runs list the same examples).
    embeddings = {
        SPEECH: speech / "speech_embeddings.npy",
        DIGITS: digits / "digits_embeddings.npy",
    }
    with open_project(path) as project:
        for name, runs in imports.items():
            for run, file in runs:
                result = read_dataset(file, embeddings=embeddings[name])
                project.dataset(name, create=True).import_result(result, run=run, actor="demo")
        project.define_tags(read_tag_definitions(speech / "tags.csv"), actor="demo")
        reviews = read_reviews(
            speech / "reviews.csv", known_ids=project.dataset(SPEECH).example_ids()
        )
        project.dataset(SPEECH).record_reviews(
            reviews.reviews, tags=reviews.tags, run=DEFAULT_RUN, actor="demo"
        )
        runs = [r for r in project.runs() if r.name == DEFAULT_RUN]
    sizes = ", ".join(f"{r.dataset} ({r.n_examples} examples, {r.n_errors} errors)" for r in runs)
    return (
        f"built the demo project {path}: {sizes}, each with a second run {NEXT_RUN!r}; "
        f"{len(reviews.reviews)} reviews"
    )
