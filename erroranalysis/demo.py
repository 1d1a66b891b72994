"""The demo project: a speech-command dev set with a team's review, and scikit-learn's digits."""

from __future__ import annotations

from pathlib import Path

from .importing import read_dataset, read_reviews, read_tag_definitions
from .store import check_project_file, open_project

SAMPLE_DATA = Path(__file__).resolve().parent.parent / "sample_data"
SPEECH = "speech-commands"
DIGITS = "digits"


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
    with open_project(path) as project:
        for name, file in (
            (SPEECH, speech / "speech_dev.csv"),
            (DIGITS, digits / "digits_dev.csv"),
        ):
            result = read_dataset(file)
            project.dataset(name, create=True).import_result(result, actor="demo")
        project.define_tags(read_tag_definitions(speech / "tags.csv"), actor="demo")
        reviews = read_reviews(
            speech / "reviews.csv", known_ids=project.dataset(SPEECH).example_ids()
        )
        project.dataset(SPEECH).record_reviews(reviews.reviews, tags=reviews.tags, actor="demo")
        runs = project.runs()
    sizes = ", ".join(f"{r.dataset} ({r.n_examples} examples, {r.n_errors} errors)" for r in runs)
    return f"built the demo project {path}: {sizes}; {len(reviews.reviews)} reviews"
