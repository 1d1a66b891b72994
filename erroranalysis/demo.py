"""The demo project: a speech-command dev set with a team's review, scikit-learn's digits,
and a production sample of the speech model's traffic.

Each dataset has two model runs on the same examples: ``main``, the model the team
reviewed, and ``v2``, the model trained after that review (see ``sample_data/README.md``),
so Compare has two runs to compare. A dataset's latest import is its default run (the
one the pages and the CLI open without ``--run``), so ``main`` is imported after ``v2``:
the demo opens on the run its review was made on, as the README's walkthrough reads.

The speech set's one weak cluster of errors (its telephone-band clips, found in the model's
own features) is named as a tag, and the production sample (no labels) is there for Drift.
The speech tags belong to the speech datasets, the digits' own tags to the digits.
"""

from __future__ import annotations

from pathlib import Path

from .clusters import error_clusters, name_cluster
from .evidence import load_evidence
from .importing import read_dataset, read_reviews, read_tag_definitions
from .store import Project, check_project_file, open_project
from .vocabulary import DEFAULT_RUN

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SPEECH = "speech-commands"
DIGITS = "digits"
PRODUCTION = "speech-production"
CLUSTER_TAG = "telephone audio"  # the name the demo gives the speech set's weak cluster
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
        _name_weak_cluster(project)
        result = read_dataset(root / "speech_production" / "speech_production.csv", production=True)
        project.dataset(PRODUCTION, create=True).import_result(result, actor="demo")
        # Each set's tags belong to it: Review on the digits offers the digits' tags, not
        # the speech ones (the production sample is speech traffic, so it shares them).
        for tag in project.tags_for(SPEECH):
            project.scope_tag(tag, [SPEECH, PRODUCTION], actor="demo")
        digit_tags = read_tag_definitions(digits / "tags.csv")
        project.define_tags(digit_tags, actor="demo")
        for tag in digit_tags["tag"]:
            project.scope_tag(tag, [DIGITS], actor="demo")
        runs = [r for r in project.runs() if r.name == DEFAULT_RUN]
    sizes = ", ".join(
        f"{r.dataset} ({r.n_examples} examples, "
        + ("a production sample without labels)" if r.production else f"{r.n_errors} errors)")
        for r in runs
    )
    return (
        f"built the demo project {path}: {sizes}; {SPEECH} and {DIGITS} each have a second "
        f"run {NEXT_RUN!r}; "
        f"{len(reviews.reviews)} reviews"
    )


def _name_weak_cluster(project: Project) -> None:
    """Tag the errors of the speech run's weakest cluster, as a reviewer would on Clusters."""
    store = project.dataset(SPEECH)
    found = error_clusters(load_evidence(project, SPEECH), embeddings=store.embeddings())
    weak = found.clusters.loc[found.clusters["weak"]]
    if len(weak):
        name_cluster(store, found, int(weak["cluster"].iloc[0]), CLUSTER_TAG, actor="demo")
