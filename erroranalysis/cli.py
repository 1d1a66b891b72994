"""The ``erroranalysis`` command line: thin shells over the package, one call per command."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from . import __version__
from .vocabulary import DEFAULT_RUN

DEFAULT_DB = "erroranalysis.db"


class CliError(Exception):
    """An error to report in one line, without a traceback."""


def _project(args: argparse.Namespace, *, must_exist: bool = True):
    from .store import open_project

    path = Path(args.db)
    if must_exist and not path.exists():
        raise CliError(f"no project file at {path} (import a dataset first, or pass --db)")
    return open_project(path)


def _need_dataset(args: argparse.Namespace) -> str:
    if not args.dataset:
        raise CliError("--dataset is required for this command")
    return args.dataset


def _write_table(frame, args: argparse.Namespace) -> None:
    from .export import safe_csv, to_json_records

    text = to_json_records(frame) if getattr(args, "format", "csv") == "json" else safe_csv(frame)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8", newline="")
        print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# ------------------------------------------------------------------ commands
def cmd_import(args: argparse.Namespace) -> None:
    from .importing import ColumnMapping, read_dataset

    mapping = ColumnMapping(
        **{role: getattr(args, f"{role}_column") for role in ColumnMapping.__dataclass_fields__}
    )
    result = read_dataset(
        args.file, columns=mapping, media_root=args.media_root, encoding=args.encoding
    )
    with _project(args, must_exist=False) as project:
        info = project.import_result(
            _need_dataset(args), result, run=args.run, replace=args.replace, actor=args.actor
        )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"imported {info.n_examples} examples ({info.n_errors} errors, accuracy "
        f"{info.accuracy:.1%}) into dataset {info.dataset!r}, run {info.name!r} of {args.db}"
    )


def cmd_reviews_import(args: argparse.Namespace) -> None:
    from .tables import read_reviews

    dataset = _need_dataset(args)
    with _project(args) as project:
        table = read_reviews(
            args.file, known_ids=project.example_ids(dataset), encoding=args.encoding
        )
        project.record_reviews(
            dataset, table.reviews, tags=table.tags, run=args.run, actor=args.actor
        )
        n_tags = sum(len(t) for t in table.tags)
    print(f"recorded {len(table.reviews)} reviews with {n_tags} tags in dataset {dataset!r}")


def cmd_tags_import(args: argparse.Namespace) -> None:
    from .tables import read_tag_definitions

    definitions = read_tag_definitions(args.file, encoding=args.encoding)
    with _project(args, must_exist=False) as project:
        if args.dataset:
            project.runs(args.dataset)  # fails clearly on an unknown dataset
        project.define_tags(definitions, actor=args.actor)
    print(f"defined {len(definitions)} tags in {args.db}")


def cmd_tags_list(args: argparse.Namespace) -> None:
    from . import analysis

    with _project(args) as project:
        if args.dataset:
            frame = analysis.tag_overview(project, args.dataset)
        else:
            frame = project.tag_definitions()
    _write_table(frame, args)


def cmd_datasets(args: argparse.Namespace) -> None:
    from . import analysis

    with _project(args) as project:
        frame = analysis.runs_table(project)
    if args.dataset:
        frame = frame[frame["dataset"] == args.dataset]
    _write_table(frame, args)


def cmd_priorities(args: argparse.Namespace) -> None:
    from . import analysis

    with _project(args) as project:
        table = analysis.priority_table(project, _need_dataset(args), run=args.run, by=args.by)
    _write_table(table, args)


def cmd_slices(args: argparse.Namespace) -> None:
    from . import analysis
    from .slices import metric_warnings

    dataset = _need_dataset(args)
    with _project(args) as project:
        evidence = analysis.load_evidence(project, dataset, run=args.run)
        table = analysis.slice_table(
            project, dataset, by=args.by, positive=args.positive, evidence=evidence
        )
    for warning in metric_warnings(evidence.examples):
        print(f"warning: {warning}", file=sys.stderr)
    _write_table(table, args)


def cmd_undo(args: argparse.Namespace) -> None:
    with _project(args) as project:
        undone = project.undo(_need_dataset(args), actor=args.reviewer)
    if undone is None:
        print(f"nothing to undo for {args.reviewer!r}")
    else:
        print(f"undid {undone['kind']} action {undone['action']} by {args.reviewer!r}")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import build_demo

    summary = build_demo(args.db, sample_data=args.sample_data, force=args.force)
    print(summary)


def cmd_serve(args: argparse.Namespace) -> None:
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise CliError(f"the app is not next to the package ({app}); run from a source checkout")
    db = Path(args.db).resolve()
    if not db.exists():
        raise CliError(f"no project file at {db} (run `erroranalysis demo` or import a dataset)")
    env = {**os.environ, "ERRORANALYSIS_DB": str(db)}
    command = [
        sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
        "--server.port", str(args.port), "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    print(f"serving {db} at http://localhost:{args.port}", flush=True)
    raise SystemExit(subprocess.call(command, env=env))


# ------------------------------------------------------------------ parser
def _common(parser: argparse.ArgumentParser, *, dataset_required: bool = False) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help=f"project file (default: {DEFAULT_DB})")
    parser.add_argument(
        "--dataset", required=dataset_required, help="dataset name inside the project"
    )


def _encoding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="text encoding (default: utf-8)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="erroranalysis",
        description="Error analysis and data prioritization for ML models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import a model's predictions (CSV, Parquet, JSON Lines)")
    p.add_argument("file", help="data file: .csv, .parquet or .jsonl")
    _common(p, dataset_required=True)
    p.add_argument(
        "--run", default=DEFAULT_RUN, help=f"name of this model run (default: {DEFAULT_RUN})"
    )
    p.add_argument("--replace", action="store_true", help="replace an existing run of that name")
    p.add_argument("--media-root", help="folder media paths are relative to (default: the file's)")
    p.add_argument("--actor", default=os.environ.get("USER") or "import", help="who imports")
    _encoding(p)
    defaults = {"id": "id", "label": "label", "prediction": "prediction", "correct": "correct",
                "confidence": "confidence", "human_label": "human_label", "text": "text",
                "audio": "audio", "image": "image", "tags": "tags"}  # fmt: skip
    for role, default in defaults.items():
        p.add_argument(
            f"--{role.replace('_', '-')}-column", default=default, metavar="NAME",
            help=f"column holding {role.replace('_', ' ')} (default: {default})",
        )  # fmt: skip
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("reviews", help="reviews of examples")
    rsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    r = rsub.add_parser(
        "import", help="record reviews from a CSV with id, reviewer, tags (';'-separated)"
    )
    r.add_argument("file")
    _common(r, dataset_required=True)
    r.add_argument("--run", help="run the reviewers looked at (default: the latest)")
    r.add_argument("--actor", help="who imports (default: the first reviewer)")
    _encoding(r)
    r.set_defaults(func=cmd_reviews_import)

    p = sub.add_parser("tags", help="tag definitions")
    tsub = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    t = tsub.add_parser(
        "import", help="set tag definitions from a CSV with tag, hlp[, effort, description]"
    )
    t.add_argument("file")
    _common(t)
    t.add_argument("--actor", default=os.environ.get("USER") or "import")
    _encoding(t)
    t.set_defaults(func=cmd_tags_import)
    t = tsub.add_parser("list", help="list tags (with counts for a --dataset)")
    _common(t)
    t.add_argument("--out", help="write CSV here instead of standard output")
    t.set_defaults(func=cmd_tags_list)

    p = sub.add_parser("datasets", help="list the project's datasets and runs")
    _common(p)
    p.add_argument("--out")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser("priorities", help="export the ranked priority table")
    _common(p, dataset_required=True)
    p.add_argument("--run", help="model run (default: the latest)")
    p.add_argument("--out", help="write here instead of standard output")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.add_argument("--by", choices=["marginal_effect", "effort"], default="marginal_effect")
    p.set_defaults(func=cmd_priorities)

    p = sub.add_parser("slices", help="performance audit: metrics per slice")
    _common(p, dataset_required=True)
    p.add_argument("--by", required=True, help="a metadata column, or 'tags'")
    p.add_argument("--positive", help="positive class for precision/recall/F1 (default: macro)")
    p.add_argument("--run", help="model run (default: the latest)")
    p.add_argument("--out", help="write CSV here instead of standard output")
    p.set_defaults(func=cmd_slices)

    p = sub.add_parser("undo", help="undo a reviewer's last action")
    _common(p, dataset_required=True)
    p.add_argument("--reviewer", required=True)
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("demo", help="build the demo project from sample_data/")
    _common(p)
    p.add_argument("--sample-data", help="folder with the sample data (default: the repository's)")
    p.add_argument("--force", action="store_true", help="rebuild even if the project file exists")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="run the web app on a project file")
    _common(p)
    p.add_argument("--port", type=int, default=8501)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from .importing import ImportValidationError
    from .store import StoreError

    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except ImportValidationError as err:
        print(f"error: {args.command} failed, nothing was written:\n{err}", file=sys.stderr)
        return 1
    except (StoreError, CliError, FileNotFoundError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
