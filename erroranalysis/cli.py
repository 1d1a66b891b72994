"""The ``erroranalysis`` command line: thin shells over the package, one call per command.

Every command checks its arguments before it does any work or writes anything (names,
encodings, input files, ``--out``, ``--db``, media folders), and :func:`main` is the one
place that turns every expected failure -- an :class:`~erroranalysis.errors.ExpectedError`
or an OS error an argument caused -- into ``error: ...`` on standard error and exit code 1.
Anything else is a defect and keeps its traceback.

Read commands (``datasets``, ``tags list``, ``priorities``, ``slices``, ``compare``,
``drift``, ``agreement``, ``log``, ``export``, and ``discover`` / ``clusters`` unless they adopt or name something)
open the project read-only: they work on a read-only file and never change one. Output files are
written whole or not at all (a temporary file in the same folder, then renamed over the
target).

The module runs past 600 lines because it is the whole command line in one place: each
command is a short shell over one package call, and the parser below builds every flag
from the package's own vocabulary, so ``erroranalysis --help`` and this file agree.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import os
import secrets
import shlex
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from . import __version__
from .errors import ExpectedError
from .exports import EXPORT_KINDS, FORMATS
from .roles import ROLE_HELP, ROLES, ColumnMapping, column_flag
from .vocabulary import (
    AGREEMENT_BY,
    AGREEMENT_THRESHOLD,
    COUNT_ENGINES,
    DEFAULT_QUEUE_SIZE,
    DEFAULT_RUN,
    ENGINE_ROWS,
    IMPORT_ENGINES,
    NO_ROLE,
    ORDERS,
    SECOND_REVIEW_RULES,
    SLICE_BY_TAGS,
    SQL_ROWS_LIMIT,
    STRATEGIES,
    USER_ROLES,
    check_name,
)

DEFAULT_DB = "erroranalysis.db"
DEFAULT_HOST = "127.0.0.1"  # only this machine: without --secrets the app has no sign-in
DEFAULT_PORT = 8501
# The folders the app may serve media from, absolute and joined with os.pathsep.
MEDIA_ROOTS_ENV = "ERRORANALYSIS_MEDIA_ROOTS"
# Flags that carry a name, and the kind of name each is (see vocabulary.check_name).
NAME_FLAGS = (
    ("dataset", "--dataset", "dataset"),
    ("run", "--run", "run"),
    ("actor", "--actor", "reviewer"),
    ("user", "USER", "reviewer"),
    ("who", "--who", "reviewer"),
    ("against", "--against", "dataset"),
    ("against_run", "--against-run", "run"),
    ("baseline", "--baseline", "run"),
    ("tag", "--tag", "tag"),
)
ROLE_CHOICES = (*USER_ROLES, NO_ROLE)
LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
# What the [auth] section of a secrets file needs for the app's one sign-in button
# (st.login() with Streamlit's default provider).
AUTH_KEYS = ("redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url")
# What slicing by a column reads of a run: the slice table's and the warnings' columns.
SLICE_READS = ("id", "correct", "label", "prediction", "human_label")


class CliError(ExpectedError):
    """A bad argument, or a request the command cannot carry out; nothing was changed."""


# ------------------------------------------------------------------ argument checks
def _check_arguments(args: argparse.Namespace) -> None:
    """Check every argument of the command before any work (raises :class:`CliError`)."""
    for attribute, flag, kind in NAME_FLAGS:
        value = getattr(args, attribute, None)
        if isinstance(value, list):  # a flag given several times (tags scope --dataset)
            setattr(args, attribute, [_check_flag_name(v, flag=flag, kind=kind) for v in value])
        elif value is not None:
            setattr(args, attribute, _check_flag_name(value, flag=flag, kind=kind))
    if getattr(args, "encoding", None) is not None:
        from .importing import check_encoding

        try:
            args.encoding = check_encoding(args.encoding)
        except ExpectedError as err:
            raise CliError(f"--encoding: {err}") from None
    if args.command == "serve" and args.bundle is None and _is_zip(args.db):
        args.bundle = args.db  # serve --db FILE.zip serves the bundle, as serve FILE.zip
    if getattr(args, "bundle", None) is not None:
        _check_input(Path(args.bundle))
        args.db = None  # the bundle's project, once opened
    if getattr(args, "db", None) is not None:
        from .store import check_project_file

        # Reads the header only, writes nothing: a bad --db is refused before a large
        # input file is read, not after.
        check_project_file(Path(args.db), create=args.creates_project)
    # A source Spark reads (a Parquet folder, a table, a cluster's URL) is Spark's to find.
    if getattr(args, "file", None) is not None and getattr(args, "engine", None) != "spark":
        _check_input(Path(args.file))
    if getattr(args, "out", None) is not None:
        _check_output(Path(args.out), project=Path(args.db))
    if getattr(args, "media_roots", None) is not None:
        args.media_roots = media_roots(args.media_roots)
    if getattr(args, "media_root", None) is not None and not Path(args.media_root).is_dir():
        raise CliError(f"--media-root {args.media_root}: no such folder")
    if getattr(args, "host", None) is not None:
        _check_listen(args.host, args.port)
    if getattr(args, "secrets", None) is not None:
        args.secrets = check_secrets(Path(args.secrets))


def _is_zip(path: str) -> bool:
    return Path(path).suffix.lower() == ".zip"


def _check_flag_name(value: str, *, flag: str, kind: str) -> str:
    if _undecodable(value):
        raise CliError(
            f"{flag}: the {kind} name is not valid text (it holds bytes that are not UTF-8)"
        )
    try:
        return check_name(value, kind=kind)
    except ExpectedError as err:
        raise CliError(f"{flag}: {err}") from None


def _undecodable(text: str) -> bool:
    # Python hands undecodable bytes of the command line over as lone surrogates.
    return any("\ud800" <= c <= "\udfff" for c in text)


def _check_input(path: Path) -> None:
    """An input file must exist, be a regular file (not a folder, FIFO or device) and open."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise CliError(f"{path}: no such file") from None
    except (OSError, ValueError) as err:
        raise CliError(f"cannot read {path}: {_reason(err)}") from None
    if stat.S_ISDIR(mode):
        raise CliError(f"{path} is a folder; give the data file itself")
    if not stat.S_ISREG(mode):
        raise CliError(f"{path} is not a regular file")
    try:
        with path.open("rb"):
            pass
    except OSError as err:
        raise CliError(f"cannot read {path}: {_reason(err)}") from None


def check_secrets(path: Path) -> Path:
    """The resolved path of a Streamlit secrets file whose ``[auth]`` section configures a
    sign-in provider (every key of :data:`AUTH_KEYS` set); :class:`CliError` saying what is
    missing otherwise."""
    if path.suffix != ".toml":
        # Streamlit reads a secrets path as TOML only by its name.
        raise CliError(f"--secrets {path}: the file name must end in .toml")
    try:
        _check_input(path)
    except CliError as err:
        raise CliError(f"--secrets: {err}") from None
    auth = _auth_section(path, where=f"--secrets {path}")
    if auth is None:
        raise CliError(
            f"--secrets {path}: no [auth] section, so nobody could sign in "
            "(see the README's Sign-in section)"
        )
    _check_auth(auth, where=f"--secrets {path}")
    return path.resolve()


def default_secrets(app: Path) -> list[Path]:
    """Where Streamlit looks for its secrets without ``--secrets``, in its order (a later
    file's sections replace an earlier one's): the user's, the working directory's, the
    app's folder's ``.streamlit/secrets.toml``."""
    places = (Path.home(), Path.cwd(), app.resolve().parent)
    return list(dict.fromkeys(place / ".streamlit" / "secrets.toml" for place in places))


def check_default_secrets(app: Path) -> Path | None:
    """The secrets file among :func:`default_secrets` whose ``[auth]`` section the app will
    use (None: sign-in stays off); :class:`CliError` for such a file that is not TOML or
    whose ``[auth]`` lacks a key, so a broken configuration never serves without sign-in."""
    used: tuple[Path, dict] | None = None
    for path in default_secrets(app):
        auth = _auth_section(path, where=str(path)) if path.is_file() else None
        if auth is not None:
            used = (path, auth)
    if used is None:
        return None
    _check_auth(used[1], where=str(used[0]))
    return used[0]


def _auth_section(path: Path, *, where: str) -> dict | None:
    import tomllib

    try:
        auth = tomllib.loads(path.read_text(encoding="utf-8")).get("auth")
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise CliError(f"{where}: not a valid TOML file: {err}") from None
    return auth if isinstance(auth, dict) else None


def _check_auth(auth: dict, *, where: str) -> None:
    missing = [key for key in AUTH_KEYS if not isinstance(auth.get(key), str) or not auth[key]]
    if missing:
        raise CliError(f"{where}: [auth] lacks {', '.join(missing)}")
    if not auth["redirect_uri"].endswith("/oauth2callback"):
        raise CliError(
            f"{where}: [auth] redirect_uri must be the app's address followed by "
            f"/oauth2callback, not {auth['redirect_uri']!r}"
        )


def _check_output(path: Path, *, project: Path) -> None:
    """``--out`` must name a file in an existing folder where a file can be created, and not
    the project file itself. Checked by creating (and removing) a file there."""
    if path.is_dir():
        raise CliError(f"--out {path} is a folder; name the file to write")
    folder = path.parent
    if not folder.is_dir():
        raise CliError(f"--out {path}: the folder {folder} does not exist")
    with contextlib.suppress(OSError):
        if path.exists() and project.exists() and path.samefile(project):
            raise CliError(f"--out {path} is the project file; name another file")
    try:
        handle, probe = tempfile.mkstemp(dir=folder, prefix=f".{path.name}.", suffix=".tmp")
    except (OSError, ValueError) as err:
        raise CliError(f"--out {path}: cannot write in {folder}: {_reason(err)}") from None
    os.close(handle)
    os.unlink(probe)


def write_atomic(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` whole or not at all (see
    :func:`erroranalysis.exports.replace_atomically`): a reader sees the old file or the
    new one, never half a table under the real name."""
    from .exports import replace_atomically

    replace_atomically(path, lambda stream: stream.write(text.encode("utf-8")))


def media_roots(folders: Sequence[str]) -> list[Path]:
    """The ``--media-root`` folders, each an existing folder, resolved (duplicates once)."""
    roots: list[Path] = []
    for folder in folders:
        path = Path(folder).expanduser()
        try:
            resolved = path.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL
            raise CliError(f"--media-root {folder}: no such folder") from None
        if not resolved.is_dir():
            raise CliError(f"--media-root {folder} is not a folder")
        if os.pathsep in str(resolved):
            raise CliError(
                f"--media-root {folder}: the path holds {os.pathsep!r}, which separates "
                f"folders in {MEDIA_ROOTS_ENV}; use a path without it"
            )
        if resolved not in roots:
            roots.append(resolved)
    return roots


def _check_listen(host: str, port: int) -> None:
    """The app can listen on ``host``:``port`` (a known address, a free port)."""
    if not 0 < port < 65536:
        raise CliError(f"--port {port}: a port is a number from 1 to 65535")
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError, ValueError) as err:
        raise CliError(f"--host {host!r}: not an address of this machine ({err})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as err:
            raise CliError(f"cannot listen on {host} port {port}: {_reason(err)}") from None


def _reason(err: BaseException) -> str:
    return (err.strerror if isinstance(err, OSError) else None) or str(err)


# ------------------------------------------------------------------ the project
def _project(args: argparse.Namespace, *, write: bool, create: bool = False):
    """The project at ``--db``: read-only unless ``write``; created only if ``create``.
    Every action the command logs says it came from the command line (``"via": "cli"``)."""
    from .store import open_project

    return open_project(Path(args.db), readonly=not write, create=create, via="cli")


def _need_dataset(args: argparse.Namespace) -> str:
    if not args.dataset:
        raise CliError("--dataset is required for this command")
    return args.dataset


def _write_table(frame, args: argparse.Namespace) -> None:
    from .export import to_json_records
    from .exports import export_bytes

    # CSV as `export` writes it (rates to 4 significant digits); JSON keeps every digit.
    if getattr(args, "format", "csv") == "json":
        text = to_json_records(frame)
    else:
        text = export_bytes(frame, format="csv").decode("utf-8")
    if args.out:
        write_atomic(args.out, text)
        print(f"wrote {len(frame)} rows to {args.out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


# ------------------------------------------------------------------ commands
def cmd_import(args: argparse.Namespace) -> None:
    from .importing import read_dataset

    dataset = _need_dataset(args)
    mapping = ColumnMapping(**{role: getattr(args, f"{role}_column") for role in ROLES})
    if args.engine == "spark":
        return _import_spark(args, dataset, mapping)
    if args.queue_out is not None:
        raise CliError("--queue-out is for an import with --engine spark: use sample after it")
    result = read_dataset(
        args.file,
        columns=mapping,
        media_root=args.media_root,
        encoding=args.encoding,
        production=args.production,
        embeddings=args.embeddings,
    )
    with _project(args, write=True, create=True) as project:
        info = project.dataset(dataset, create=True).import_result(
            result,
            run=args.run,
            replace=args.replace,
            actor=args.actor,
            sql_rows=True if args.sql_rows else None,
        )
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    quality = (
        "a production sample, no labels"
        if info.production
        else f"{info.n_errors} errors, accuracy {info.accuracy:.1%}"
    )
    print(
        f"imported {info.n_examples} examples ({quality}) into dataset {info.dataset!r}, "
        f"run {info.name!r} of {args.db}"
    )
    if not info.in_sql:
        print(
            f"note: a run of more than {SQL_ROWS_LIMIT:,} examples is imported without its "
            "SQL rows (the examples and tagged_examples views); write them with: erroranalysis "
            f"sql-rows --db {shlex.quote(str(args.db))} --dataset {shlex.quote(info.dataset)} "
            f"--run {shlex.quote(info.name)}",
            file=sys.stderr,
        )


def _import_spark(args: argparse.Namespace, dataset: str, mapping: ColumnMapping) -> None:
    if args.production or args.embeddings:
        flag = "--production" if args.production else "--embeddings"
        raise CliError(f"{flag} is for an import in memory, not with --engine spark")
    from .engines.spark import import_spark

    if args.queue_out is not None and not Path(args.queue_out).expanduser().parent.is_dir():
        raise CliError(f"--queue-out {args.queue_out}: its folder does not exist")
    with _project(args, write=True, create=True) as project:
        try:
            info, sample, warnings = import_spark(
                project,
                dataset,
                args.file,
                run=args.run,
                columns=mapping,
                size=args.queue_size,
                seed=args.seed,
                media_root=args.media_root,
                replace_run=args.replace,
                actor=args.actor,
                **(
                    {}
                    if args.correct_fraction is None
                    else {"correct_fraction": args.correct_fraction}
                ),
            )
        except ValueError as err:
            raise CliError(f"import --engine spark: {err}; nothing was written") from None
        draws = project.dataset(dataset).sample_draws(sample)
        if args.queue_out is not None:
            from .export import safe_csv
            from .importing.tables import sample_sheet

            sheet = sample_sheet(
                project.dataset(dataset).examples(info.name, sample_only=True),
                draws,
                sample=sample,
                run=info.name,
                columns=info.metadata_columns,
            )
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(
        f"counted {info.n_examples} examples ({info.n_errors} errors, accuracy "
        f"{info.accuracy:.1%}) in Spark into dataset {info.dataset!r}, run {info.name!r} of "
        f"{args.db}; kept the counts and the {len(draws)} examples of sample {sample} "
        "drawn for review"
    )
    if args.queue_out is not None:
        write_atomic(args.queue_out, safe_csv(sheet))
        print(
            f"wrote {args.queue_out}: fill in reviewer and tags, then erroranalysis reviews "
            f"import {args.queue_out} --dataset {dataset}"
        )


def cmd_reviews_import(args: argparse.Namespace) -> None:
    from .evidence import derived_tags
    from .importing import read_reviews
    from .importing.tables import KnownSample

    dataset = _need_dataset(args)
    # Read and validate the whole file before opening the project for writing.
    with _project(args, write=False) as project:
        store = project.dataset(dataset)
        store.run(args.run)  # fails clearly on an unknown dataset or run
        known = store.example_ids()
        # What a sample file (from `erroranalysis sample`) is checked against.
        samples = {
            int(sample.id): KnownSample(run=sample.run, draws=store.sample_draws(int(sample.id)))
            for sample in store.samples().itertuples()
        }
        # The examples' own columns and tags (an exported sheet carries them): not read.
        example_columns = [c for info in store.runs() for c in info.metadata_columns]
        derived = derived_tags(project)
    table = read_reviews(
        args.file,
        known_ids=known,
        samples=samples,
        example_columns=example_columns,
        derived_tags=derived,
        encoding=args.encoding,
    )
    with _project(args, write=True) as project:
        project.dataset(dataset).record_reviews(
            table.reviews, tags=table.tags, run=args.run, actor=args.actor
        )
    n_tags = sum(len(t) for t in table.tags)
    of = ""
    if "sample_id" in table.reviews:
        of = " of sample " + ", ".join(map(str, sorted(set(table.reviews["sample_id"]))))
    skipped = f"; skipped {table.skipped} rows nobody reviewed" if table.skipped else ""
    print(
        f"recorded {len(table.reviews)} reviews{of} with {n_tags} tags in dataset {dataset!r}"
        + skipped
    )


def cmd_sample(args: argparse.Namespace) -> None:
    from . import analyses
    from .export import safe_csv
    from .importing.tables import sample_sheet
    from .sampling import draw_sample

    dataset = _need_dataset(args)
    # A fresh seed unless one is given, so a second sample draws other examples; it is
    # recorded with the sample and printed, so the draw can be repeated.
    seed = args.seed if args.seed is not None else secrets.randbelow(2**31)
    with _project(args, write=True) as project:
        evidence = analyses.load_evidence(project, dataset, run=args.run)
        try:
            draw = draw_sample(evidence, size=args.size, strategy=args.strategy, seed=seed)
        except ExpectedError:
            raise
        except ValueError as err:  # the draw's own check of its options
            raise CliError(f"sample: {err}") from None
        sample = project.dataset(dataset).record_sample(draw, actor=args.actor)
        info = project.dataset(dataset).run(draw.run)
    sheet = sample_sheet(
        evidence.examples, draw.examples, sample=sample, run=draw.run, columns=info.metadata_columns
    )
    write_atomic(args.out, safe_csv(sheet))
    print(
        f"drew sample {sample} of dataset {dataset!r}, run {draw.run!r}: {len(sheet)} examples "
        f"({args.strategy}, seed {seed}); wrote {args.out}: fill in reviewer and tags, then "
        f"erroranalysis reviews import {args.out} --dataset {dataset}"
    )


def cmd_tags_import(args: argparse.Namespace) -> None:
    from .importing import read_tag_definitions

    definitions = read_tag_definitions(args.file, encoding=args.encoding)
    with _project(args, write=True) as project:
        if args.dataset:
            project.dataset(args.dataset).runs()  # fails clearly on an unknown dataset
        project.define_tags(definitions, actor=args.actor)
    print(f"defined {len(definitions)} tags in {args.db}")


def cmd_tags_list(args: argparse.Namespace) -> None:
    with _project(args, write=False) as project:
        if args.dataset:
            from . import analyses

            frame = analyses.tag_overview(analyses.load_evidence(project, args.dataset))
        else:
            frame = project.tag_definitions()
            # One cell per tag: its datasets (empty: the whole project).
            frame = frame.assign(datasets=frame["datasets"].map(" | ".join))
    _write_table(frame, args)


def cmd_tags_scope(args: argparse.Namespace) -> None:
    datasets = None if args.project else args.dataset
    with _project(args, write=True) as project:
        project.scope_tag(args.name, datasets, actor=args.actor)
    where = "the whole project" if datasets is None else ", ".join(map(repr, datasets))
    print(f"tag {args.name!r} belongs to {where} in {args.db}")


def cmd_tags_order(args: argparse.Namespace) -> None:
    with _project(args, write=True) as project:
        if args.dataset:
            project.dataset(args.dataset).runs()  # fails clearly on an unknown dataset
        project.order_tags(args.names, actor=args.actor)
        if args.dataset:  # Review's keys on that dataset
            names = project.tags_for(args.dataset)[:9]
        else:
            placed = project.tag_definitions().dropna(subset=["position"])
            names = placed.sort_values("position")["tag"].tolist()
    keys = ", ".join(f"{i} {t!r}" for i, t in enumerate(names, start=1))
    print(f"shortcut order in {args.dataset or args.db}: {keys}")


def cmd_datasets(args: argparse.Namespace) -> None:
    from . import analyses

    with _project(args, write=False) as project:
        if args.dataset:
            project.dataset(args.dataset).runs()  # fails clearly on an unknown dataset
        frame = analyses.runs_table(project)
    if args.dataset:
        frame = frame[frame["dataset"] == args.dataset]
    _write_table(frame, args)


def cmd_priorities(args: argparse.Namespace) -> None:
    from . import analyses
    from .engines.duckdb import load_tally

    dataset = _need_dataset(args)
    with _project(args, write=False) as project:
        counts = load_tally(project, dataset, run=args.run, engine=args.engine)
        table = analyses.priority_table(counts, by=args.by)
    _write_table(table, args)


def cmd_export(args: argparse.Namespace) -> None:
    from .exports import export_table, extra_sheets, format_for, write_export

    fmt = format_for(args.out, args.format)
    options = {
        "reviewed_only": args.reviewed or None,
        "apply": args.apply or None,
        **{
            name: getattr(args, name) for name in ("by", "positive", "baseline", "tag", "threshold")
        },
    }
    try:
        with _project(args, write=False) as project:
            table = export_table(project, args.dataset, args.kind, run=args.run, **options)
            sheets = (
                extra_sheets(project, args.dataset, args.kind, run=args.run)
                if fmt == "xlsx"
                else None
            )
        write_export(table, args.out, format=fmt, kind=args.kind, sheets=sheets)
    except ExpectedError:
        raise
    except ValueError as err:  # an analysis's option, or what a workbook cannot hold
        raise CliError(f"export {args.kind}: {err}") from None
    print(f"wrote {len(table)} rows of {args.kind} to {args.out} ({fmt})", file=sys.stderr)


def cmd_slices(args: argparse.Namespace) -> None:
    from . import analyses

    dataset = _need_dataset(args)
    with _project(args, write=False) as project:
        if args.by == SLICE_BY_TAGS:
            evidence = analyses.load_evidence(project, dataset, run=args.run)
        else:  # a column's slices read the run's examples alone, and only what they use
            wanted = (*SLICE_READS, args.by)
            frame = project.dataset(dataset).examples(args.run, columns=wanted)
            if args.by not in frame.columns:  # the error lists the columns there are
                frame = project.dataset(dataset).examples(args.run)
            run = project.dataset(dataset).run(args.run).name
            evidence = analyses.Evidence(frame, dataset=dataset, run=run)
    _check_slicing(evidence.examples, by=args.by, positive=args.positive, dataset=dataset)
    table = analyses.slice_table(evidence, by=args.by, positive=args.positive)
    for warning in analyses.metric_warnings(evidence):
        print(f"warning: {warning}", file=sys.stderr)
    _write_table(table, args)


def _check_slicing(examples, *, by: str, positive: str | None, dataset: str) -> None:
    if by != SLICE_BY_TAGS and by not in examples.columns:
        columns = [c for c in examples.columns if c not in ("id", "correct")]
        listing = ", ".join(map(repr, columns[:20])) + (", ..." if len(columns) > 20 else "")
        raise CliError(
            f"--by {by!r}: dataset {dataset!r} has no such column (columns: {listing}; "
            "or 'tags' for one slice per tag)"
        )
    if positive is not None and not (
        (examples["label"] == positive).any() or (examples["prediction"] == positive).any()
    ):
        raise CliError(
            f"--positive {positive!r} is neither a label nor a prediction of dataset {dataset!r}"
        )


def cmd_drift(args: argparse.Namespace) -> None:
    from . import analyses

    dataset = _need_dataset(args)
    with _project(args, write=False) as project:
        evidence = analyses.load_evidence(project, dataset, run=args.run)
        against = analyses.load_evidence(project, args.against, run=args.against_run)
    try:
        table = analyses.drift_table(evidence, against=against, by=args.by)
    except ValueError as err:  # the analysis names what is wrong with the datasets or --by
        raise CliError(f"drift: {err}") from None
    _write_table(table, args)


def cmd_agreement(args: argparse.Namespace) -> None:
    from .exports import export_table

    dataset = _need_dataset(args)
    try:
        with _project(args, write=False) as project:
            table = export_table(
                project, dataset, "agreement", by=args.by, threshold=args.threshold
            )
    except ExpectedError:
        raise
    except ValueError as err:  # the analysis names what is wrong with --threshold
        raise CliError(f"agreement: {err}") from None
    _write_table(table, args)


def cmd_discover(args: argparse.Namespace) -> None:
    from . import analyses
    from .discover import adopt_slice, check_discover_options, suggested_name

    options = {
        "max_level": args.max_level,
        "min_support": args.min_support,
        "top": args.top,
        "alpha": args.alpha,
    }
    try:
        check_discover_options(**options)
    except ValueError as err:  # the message begins with the option's name
        flag = "--" + str(err).split()[0].replace("_", "-")
        raise CliError(f"{flag}: {err}") from None
    if args.name is not None and args.adopt is None:
        raise CliError("--name goes with --adopt N (the slice to adopt as a rule tag)")
    dataset = _need_dataset(args)
    with _project(args, write=False) as project:
        evidence = analyses.load_evidence(project, dataset, run=args.run)
    table = analyses.discover_slices(evidence, **options)
    if args.adopt is None:
        _write_table(table, args)
        return
    if not 1 <= args.adopt <= len(table):
        raise CliError(
            f"--adopt {args.adopt}: there are only {len(table)} slices (ranks 1 to {len(table)})"
        )
    row = table.iloc[args.adopt - 1]
    description = (
        f"Found by discover on run {evidence.run!r} of {dataset!r}: error rate "
        f"{row['error_rate']:.1%} against {row['error_rate_elsewhere']:.1%} elsewhere, "
        f"{row['examples']:,} examples"
    )
    with _project(args, write=True) as project:
        name = adopt_slice(
            project,
            rule=row["rule"],
            name=suggested_name(row) if args.name is None else args.name,
            actor=args.actor,
            examples=evidence.examples,
            description=description,
        )
    print(f"defined the rule tag {name!r}: {row['rule']}")


def cmd_compare(args: argparse.Namespace) -> None:
    from . import analyses

    dataset = _need_dataset(args)
    baseline, run = (_check_flag_name(name, flag="--runs", kind="run") for name in args.runs)
    if baseline == run:
        raise CliError(f"--runs: {run!r} twice; name two different runs of dataset {dataset!r}")
    with _project(args, write=False) as project:
        evidence_a = analyses.load_evidence(project, dataset, run=baseline)
        evidence_b = analyses.load_evidence(project, dataset, run=run)
    try:
        table = analyses.compare_runs(evidence_b, baseline=evidence_a)
    except ValueError as err:  # the analysis names what is wrong with the two runs
        raise CliError(f"compare: {err}") from None
    _write_table(table, args)


def cmd_clusters(args: argparse.Namespace) -> None:
    from . import analyses
    from .clusters import name_cluster

    dataset = _need_dataset(args)
    number, tag = _cluster_name(args.name)
    with _project(args, write=False) as project:
        evidence = analyses.load_evidence(project, dataset, run=args.run)
        embeddings = project.dataset(dataset).embeddings(evidence.run)
    text = args.text_column
    if embeddings is not None and text is not None:
        raise CliError(
            f"--text-column: run {evidence.run!r} has an embedding already "
            f"({embeddings.source}); leave --text-column out to use it"
        )
    if embeddings is None and text is None:
        if "text" not in evidence.examples.columns:
            raise CliError(
                f"run {evidence.run!r} of dataset {dataset!r} has no embedding and no text "
                "column: import one with the data (an 'embedding' column, emb_0 … columns, "
                "or --embeddings FILE.npy), or name a text column with --text-column"
            )
        text = "text"
    if text is not None and text not in evidence.examples.columns:
        raise CliError(f"--text-column {text!r}: dataset {dataset!r} has no such column")
    try:
        result = analyses.error_clusters(
            evidence, embeddings=embeddings, text_column=text, k=args.k, seed=args.seed
        )
    except ValueError as err:  # the message begins with the option's name when it is one
        first = str(err).split()[0]
        flag = f"--{first}" if first in ("k", "seed") else "clusters"
        raise CliError(f"{flag}: {err}") from None
    print(f"{result.k} clusters of {result.source}: {result.k_rule}", file=sys.stderr)
    if number is not None:
        if not 1 <= number <= result.k:
            raise CliError(f"--name {number}: there are clusters 1 to {result.k} only")
        with _project(args, write=True) as project:
            action = name_cluster(project.dataset(dataset), result, number, tag, actor=args.actor)
        members = len(result.members(number))
        done = "already carried it" if action is None else "are tagged; review them to confirm"
        print(f"cluster {number}: its {members} errors {done} ({tag!r})", file=sys.stderr)
    _write_table(result.clusters, args)


def _cluster_name(name: list[str] | None) -> tuple[int | None, str | None]:
    if name is None:
        return None, None
    number, tag = name
    if not number.isdigit():
        raise CliError(f"--name {number} {tag}: N is the number of a cluster (1, 2, ...)")
    return int(number), tag


def cmd_second_reviews_set(args: argparse.Namespace) -> None:
    with _project(args, write=True) as project:
        plan = project.dataset(_need_dataset(args)).set_review_plan(
            share=args.share,
            reviewers=args.reviewers,
            rule=args.rule,
            seed=args.seed,
            actor=args.actor,
        )
    print(
        f"dataset {args.dataset!r}: {plan.share:g} of reviewed examples get a blind second "
        f"review, {plan.reviewers} reviewers each, rule {plan.rule}, seed {plan.seed}"
    )


def cmd_second_reviews_show(args: argparse.Namespace) -> None:
    with _project(args, write=False) as project:
        plan = project.dataset(_need_dataset(args)).review_plan()
    if plan is None:
        print(f"dataset {args.dataset!r} has no plan of second reviews")
        return
    print(
        f"dataset {args.dataset!r}: share {plan.share:g}, reviewers {plan.reviewers}, "
        f"rule {plan.rule}, seed {plan.seed}, set by {plan.set_by} at {plan.set_at}"
    )


def cmd_undo(args: argparse.Namespace) -> None:
    with _project(args, write=True) as project:
        if args.action_id is not None and args.dataset is None:
            undone = project.undo(action=args.action_id, actor=args.actor)
        else:
            store = project.dataset(_need_dataset(args))
            undone = store.undo(actor=args.actor, action=args.action_id)
    if undone is None:
        print(f"nothing to undo for {args.actor!r}")
    else:
        print(f"undid action {undone['action']} ({undone['what']}) as {args.actor!r}")


def cmd_log(args: argparse.Namespace) -> None:
    with _project(args, write=False) as project:
        page = project.log(
            who=args.who,
            kinds=args.kind,
            since=args.since,
            until=args.until,
            dataset=args.dataset,
            offset=args.offset,
            limit=args.limit,
        )
    _write_table(page.rows, args)
    print(f"actions {page.first:,}–{page.last:,} of {page.total:,}", file=sys.stderr)


def cmd_roles_set(args: argparse.Namespace) -> None:
    with _project(args, write=True) as project:
        project.grant_role(args.user, args.role, actor=args.actor)
    article = "an" if args.role == "admin" else "a"
    now = (
        f"has no role in {args.db}"
        if args.role == NO_ROLE
        else f"is {article} {args.role} of {args.db}"
    )
    print(f"{args.user!r} {now} (granted by {args.actor!r})")


def cmd_roles_list(args: argparse.Namespace) -> None:
    with _project(args, write=False) as project:
        roles = project.roles()
    _write_table(roles, args)


def cmd_media_relink(args: argparse.Namespace) -> None:
    dataset = _need_dataset(args)
    with _project(args, write=True) as project:
        runs = project.dataset(dataset).relink_media(args.root, run=args.run, actor=args.actor)
    for info in runs:
        print(f"run {info.name!r} of {info.dataset!r} reads its media from {info.media_root}")


def cmd_sql_rows(args: argparse.Namespace) -> None:
    dataset = _need_dataset(args)
    with _project(args, write=True) as project:
        store = project.dataset(dataset)
        had = store.run(args.run).in_sql
        info = store.write_sql_rows(args.run, actor=args.actor)
    done = "already had" if had else "now has"
    print(
        f"run {info.name!r} of {info.dataset!r} {done} its {info.n_examples:,} examples as SQL "
        "rows (the examples and tagged_examples views)"
    )


def cmd_bundle(args: argparse.Namespace) -> None:
    from .bundle import bundle_project

    files = bundle_project(args.db, args.out, actor=args.actor)
    print(f"wrote {args.out}: the project {args.db} and {files} media files")


def _open_bundle(bundle: str, into: str | None) -> Path:
    from .bundle import open_bundle

    opened = open_bundle(bundle, into=into)
    done = "was opened already in" if opened.reused else "opened into"
    print(f"{bundle} {done} {opened.folder}; project file: {opened.project}", file=sys.stderr)
    return opened.project


def cmd_open(args: argparse.Namespace) -> None:
    project = _open_bundle(args.bundle, args.into)
    print(f"serve it with: erroranalysis serve --db {shlex.quote(str(project))}")


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import build_demo
    from .store import check_project_file

    path = Path(args.db)
    if args.sample_data is not None and not Path(args.sample_data).is_dir():
        raise CliError(f"--sample-data {args.sample_data}: no such folder")
    # A folder, a missing folder or a file that is not a project is refused, untouched:
    # --force deletes the file to rebuild it, so it must be a project.
    check_project_file(path, create=True)
    print(build_demo(path, sample_data=args.sample_data, force=args.force))


def serve_command(
    *,
    app: Path,
    db: Path,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    media_roots: Sequence[Path] = (),
    secrets: Path | None = None,
) -> tuple[list[str], dict[str, str]]:
    """(the Streamlit command line, the environment variables it adds) to serve ``db``.

    The app listens on ``host`` only, its grids offer no raw "Download as CSV", and it may
    serve media only from ``media_roots`` (passed in :data:`MEDIA_ROOTS_ENV`; empty: none).
    With ``secrets``, Streamlit reads its secrets (the sign-in provider) from that file
    only (its ``secrets.files`` option); without, from its own search.
    """
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app),
        "--server.headless",
        "true",
        "--server.address",
        host,
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
        "--client.disableDataExport",
        "true",
        *(["--secrets.files", str(secrets)] if secrets is not None else []),
    ]
    env = {
        "ERRORANALYSIS_DB": str(Path(db).resolve()),
        MEDIA_ROOTS_ENV: os.pathsep.join(str(Path(root).resolve()) for root in media_roots),
    }
    return command, env


def serve_banner(
    db: Path,
    *,
    host: str,
    port: int,
    media_roots: Sequence[Path],
    secrets: Path | None = None,
) -> str:
    """What ``serve`` says when it starts: where, who can reach it, what media it serves."""
    shown = f"[{host}]" if _is_ipv6(host) else host
    if secrets is not None:
        local = "only this machine" if host in LOCAL_HOSTS else "other machines can reach it"
        reach = f"{local}; every page asks to sign in, as {secrets} configures"
    elif host in LOCAL_HOSTS:
        reach = "only this machine; pass --host 0.0.0.0 to listen on all interfaces"
    else:
        reach = (
            "other machines can reach it, and sign-in is off (see --secrets): anyone who "
            "reaches the port can read and tag the project"
        )
    media = (
        "media from the server only inside " + ", ".join(map(str, media_roots))
        if media_roots
        else "no media folders on the server (pass --media-root DIR to allow one)"
    )
    return f"serving {db} at http://{shown}:{port} ({reach}); {media}"


def _is_ipv6(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).version == 6
    except ValueError:
        return False


def cmd_serve(args: argparse.Namespace) -> int:
    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.exists():
        raise CliError(f"the app is not next to the package ({app}); run from a source checkout")
    if args.bundle is not None:
        args.db = _open_bundle(args.bundle, None)
    db = Path(args.db).resolve()
    # Refuse a file that is not a project before starting, rather than on every page.
    with _project(args, write=False):
        pass
    # Without --secrets, Streamlit's own search: checked here too, so that a broken [auth]
    # stops the start instead of serving every page without sign-in.
    sign_in = args.secrets or check_default_secrets(app)
    where = {"host": args.host, "port": args.port, "media_roots": args.media_roots}
    command, extra = serve_command(app=app, db=db, secrets=args.secrets, **where)
    print(serve_banner(db, secrets=sign_in, **where), flush=True)
    return run_child(command, env={**os.environ, **extra})


def run_child(command: Sequence[str], *, env: Mapping[str, str], grace: float = 10.0) -> int:
    """Run ``command`` and return its exit code (128 + N if signal N ended it), so that
    it stops with this process: a SIGTERM, SIGINT or SIGHUP sent to this process is passed
    on to it, and if it is still running ``grace`` seconds later it is killed."""
    child = subprocess.Popen(command, env=env)

    def forward(signum: int, _frame: object) -> None:
        child.send_signal(signum)
        deadline = threading.Timer(grace, child.kill)
        deadline.daemon = True  # it must not keep this process alive once the child is gone
        deadline.start()

    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
    previous = {signum: signal.signal(signum, forward) for signum in stops}
    try:
        code = child.wait()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if child.poll() is None:  # this process is failing: never leave the child behind
            child.kill()
            child.wait()
    return 128 - code if code < 0 else code


# ------------------------------------------------------------------ parser
def _db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=DEFAULT_DB, help=f"project file (default: {DEFAULT_DB})")


def _common(parser: argparse.ArgumentParser, *, dataset_required: bool = False) -> None:
    _db(parser)
    parser.add_argument(
        "--dataset", required=dataset_required, help="dataset name inside the project"
    )


def _encoding(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--encoding", default="utf-8", help="text encoding (default: utf-8)")


def _out(parser: argparse.ArgumentParser, *, formats: bool = False) -> None:
    parser.add_argument("--out", help="write here instead of standard output (whole or not at all)")
    if formats:
        parser.add_argument("--format", choices=["csv", "json"], default="csv")


def _run(parser: argparse.ArgumentParser, help: str = "model run (default: the latest)") -> None:
    parser.add_argument("--run", help=help)


def _actor(parser: argparse.ArgumentParser, fallback: str, help: str | None = None) -> None:
    """``--actor``: who the recorded action names, by default the login name."""
    parser.add_argument("--actor", default=os.environ.get("USER") or fallback, help=help)


def _group(sub: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    """A command whose first argument is one of its ACTIONs (``tags list``, ``roles set``)."""
    return sub.add_parser(name, help=help).add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )


def _listing(
    sub: argparse._SubParsersAction,
    name: str,
    func: Callable[[argparse.Namespace], None],
    help: str,
) -> None:
    """A command that lists what the project holds: ``--db``, ``--dataset`` and ``--out``."""
    parser = sub.add_parser(name, help=help)
    _common(parser)
    _out(parser)
    parser.set_defaults(func=func)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="erroranalysis",
        description="Error analysis and data prioritization for ML models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(creates_project=False)  # only import and demo make a project file
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("import", help="import a model's predictions (CSV, Parquet, JSON Lines)")
    p.add_argument(
        "file",
        help="data file: .csv, .parquet or .jsonl (with --engine spark: a Parquet path or a "
        "table name Spark reads)",
    )
    p.add_argument(
        "--engine",
        choices=IMPORT_ENGINES,
        default=IMPORT_ENGINES[0],
        help="memory: keep every example; spark: count the run in Spark where it lives and "
        "keep only its counts and the examples drawn for review (needs pyspark)",
    )
    p.add_argument(
        "--queue-size",
        type=int,
        default=DEFAULT_QUEUE_SIZE,
        metavar="N",
        help=f"with --engine spark: the examples drawn for review (default: {DEFAULT_QUEUE_SIZE})",
    )
    p.add_argument("--seed", type=int, default=0, help="with --engine spark: the draw's seed")
    p.add_argument(
        "--queue-out",
        metavar="FILE",
        help="with --engine spark: write the drawn examples as the CSV to fill in (as sample "
        "writes it), for reviews import",
    )
    p.add_argument(
        "--correct-fraction",
        type=float,
        metavar="F",
        help="with --engine spark: the share of correct predictions in the draw (default: "
        "that of a stratified sample)",
    )
    _common(p, dataset_required=True)
    p.add_argument(
        "--run", default=DEFAULT_RUN, help=f"name of this model run (default: {DEFAULT_RUN})"
    )
    p.add_argument("--replace", action="store_true", help="replace an existing run of that name")
    p.add_argument(
        "--sql-rows",
        action="store_true",
        help=f"write the examples as SQL rows for the file's views whatever the run's size "
        f"(by default only up to {SQL_ROWS_LIMIT:,} examples; see sql-rows)",
    )
    p.add_argument(
        "--production",
        action="store_true",
        help="a production sample: predictions without labels (no label, correct or "
        "human_label column), in a dataset of its own; compare it with drift",
    )
    p.add_argument("--media-root", help="folder media paths are relative to (default: the file's)")
    _actor(p, "import", "who imports")
    p.add_argument(
        "--embeddings",
        metavar="FILE.npy",
        help="a .npy array of one embedding per example, in the data file's row order",
    )
    _encoding(p)
    for role, default in ColumnMapping().roles().items():
        p.add_argument(
            column_flag(role),
            default=default,
            metavar="NAME",
            help=f"{ROLE_HELP[role]} (default column: {default})",
        )
    p.set_defaults(func=cmd_import, creates_project=True)

    rsub = _group(sub, "reviews", "reviews of examples")
    r = rsub.add_parser(
        "import",
        help="record reviews from a CSV with id, reviewer and tags (';'-separated) or a column "
        "per tag, optional note, label_wrong, corrected_label",
    )
    r.add_argument("file")
    _common(r, dataset_required=True)
    _run(r, "run the reviewers looked at (default: the latest)")
    r.add_argument(
        "--actor",
        help="who imports, as one action (default: each reviewer's reviews are an action of "
        "theirs, which their undo takes back)",
    )
    _encoding(r)
    r.set_defaults(func=cmd_reviews_import)

    p = sub.add_parser(
        "sample", help="draw a sample of a run for review, recorded, as a CSV to fill in"
    )
    _common(p, dataset_required=True)
    _run(p, "model run to draw from (default: the latest)")
    p.add_argument("--size", type=int, required=True, help="examples to draw")
    p.add_argument("--strategy", choices=STRATEGIES, default=STRATEGIES[0])
    p.add_argument("--seed", type=int, help="random seed (default: a fresh one, printed)")
    p.add_argument("--out", required=True, help="the CSV to write (whole or not at all)")
    _actor(p, "sample", "who draws")
    p.set_defaults(func=cmd_sample)

    tsub = _group(sub, "tags", "tag definitions")
    t = tsub.add_parser(
        "import", help="set tag definitions from a CSV with tag, hlp[, effort, description]"
    )
    t.add_argument("file")
    _common(t)
    _actor(t, "import")
    _encoding(t)
    t.set_defaults(func=cmd_tags_import)
    _listing(tsub, "list", cmd_tags_list, "list tags (with counts for a --dataset)")
    t = tsub.add_parser(
        "scope", help="choose the datasets a tag belongs to (Review offers it only there)"
    )
    t.add_argument("name", metavar="NAME", help="the tag")
    _db(t)
    where = t.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--dataset", action="append", help="a dataset the tag belongs to (repeatable)"
    )
    where.add_argument(
        "--project", action="store_true", help="the tag belongs to the whole project again"
    )
    _actor(t, "scope", "who sets it (an admin)")
    t.set_defaults(func=cmd_tags_scope)
    t = tsub.add_parser(
        "order",
        help="put these tags first in the shortcut order, in this order (Review's keys 1-9)",
    )
    t.add_argument("names", nargs="+", metavar="NAME", help="tags, first to last")
    _common(t)
    _actor(t, "order", "who sets it (an admin)")
    t.set_defaults(func=cmd_tags_order)

    _listing(sub, "datasets", cmd_datasets, "list the project's datasets and runs")

    p = sub.add_parser("priorities", help="export the ranked priority table")
    _common(p, dataset_required=True)
    _run(p)
    _out(p, formats=True)
    p.add_argument("--by", choices=ORDERS, default=ORDERS[0])
    p.add_argument(
        "--engine",
        choices=COUNT_ENGINES,
        default=COUNT_ENGINES[0],
        help=f"what counts the run: pandas in memory, DuckDB out-of-core, or auto "
        f"(DuckDB above {ENGINE_ROWS:,} examples)",
    )
    p.set_defaults(func=cmd_priorities)

    p = sub.add_parser("export", help="write a table (examples, labels, any analysis) to a file")
    p.add_argument("kind", choices=EXPORT_KINDS, metavar="KIND", help=", ".join(EXPORT_KINDS))
    _common(p, dataset_required=True)
    p.add_argument("--run", help="model run (default: the latest)")
    p.add_argument("--out", required=True, help="the file to write (whole or not at all)")
    p.add_argument("--format", choices=FORMATS, help="default: from --out's suffix, else csv")
    p.add_argument("--reviewed", action="store_true", help="examples: only the reviewed ones")
    p.add_argument("--apply", action="store_true", help="labels: the run with them substituted")
    p.add_argument("--by", help=f"slices: a column or {SLICE_BY_TAGS!r}; priorities: {ORDERS}")
    p.add_argument("--positive", help="slices: positive class for precision/recall/F1")
    p.add_argument("--baseline", help="compare: run A (default: the dataset's other run)")
    p.add_argument("--tag", help="confusion: only the examples carrying this tag")
    p.add_argument("--threshold", type=float, help="agreement: flag tags whose kappa is below this")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser(
        "agreement",
        help="agreement per tag between reviewers of the same examples (kappa, 95%% interval)",
    )
    _common(p, dataset_required=True)
    p.add_argument(
        "--threshold",
        type=float,
        default=AGREEMENT_THRESHOLD,
        help=f"flag tags whose kappa is below this (default: {AGREEMENT_THRESHOLD})",
    )
    p.add_argument(
        "--by",
        choices=AGREEMENT_BY,
        default=AGREEMENT_BY[0],
        help="one row per tag (default), or per reviewer: their agreement with the others",
    )
    _out(p, formats=True)
    p.set_defaults(func=cmd_agreement)

    p = sub.add_parser("slices", help="performance audit: metrics per slice")
    _common(p, dataset_required=True)
    p.add_argument("--by", required=True, help=f"a metadata column, or {SLICE_BY_TAGS!r}")
    p.add_argument("--positive", help="positive class for precision/recall/F1 (default: macro)")
    _run(p)
    _out(p)
    p.set_defaults(func=cmd_slices)

    p = sub.add_parser(
        "drift", help="shares of tags (or of a column's values) in dev against production"
    )
    _common(p, dataset_required=True)
    p.add_argument(
        "--against", required=True, help="the production sample (imported with --production)"
    )
    p.add_argument("--by", help="a column: one row per value, with the projected accuracy")
    _run(p, "model run of --dataset (default: the latest)")
    p.add_argument("--against-run", help="model run of --against (default: the latest)")
    _out(p, formats=True)
    p.set_defaults(func=cmd_drift)

    p = sub.add_parser(
        "discover",
        help="weak-slice discovery: the metadata values and tags where the model fails",
        description="Search conjunctions of metadata values (numeric columns cut into "
        "quantile bins) and dataset or rule tags for the slices where the model does worst, "
        "scored by SliceLine (alpha weighs error rate against size). Each slice's error rate "
        "is tested against the rest of the data with a one-sided Fisher exact test; the "
        "p-values are corrected with Benjamini-Hochberg (false discovery rate 5%) over every "
        "slice the search could test: each conjunction of up to --max-level predicates on "
        "distinct columns, each predicate holding for at least --min-support of the examples.",
    )
    _common(p, dataset_required=True)
    _run(p)
    p.add_argument(
        "--max-level", type=int, default=3, help="most predicates in a slice, 1 to 4 (default: 3)"
    )
    p.add_argument(
        "--min-support",
        type=float,
        default=0.01,
        help="smallest slice, as a fraction of the examples (default: 0.01)",
    )
    p.add_argument("--top", type=int, default=20, help="slices to list (default: 20)")
    p.add_argument(
        "--alpha",
        type=float,
        default=0.95,
        help="SliceLine's weight of error rate against size, in (0, 1] (default: 0.95)",
    )
    _out(p)
    p.add_argument(
        "--adopt",
        type=int,
        metavar="N",
        help="define the slice ranked N as a rule tag with its condition (instead of listing)",
    )
    p.add_argument("--name", help="the rule tag's name (default: the slice's text)")
    _actor(p, "discover", "who adopts")
    p.set_defaults(func=cmd_discover)

    p = sub.add_parser(
        "compare", help="two runs of a dataset per tag: accuracy in each, difference, regressions"
    )
    _common(p, dataset_required=True)
    p.add_argument(
        "--runs",
        nargs=2,
        required=True,
        metavar=("A", "B"),
        help="the baseline run A and the run B compared with it (difference = B - A)",
    )
    _out(p, formats=True)
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser(
        "clusters", help="clusters of similar errors, from the run's embedding or a text column"
    )
    _common(p, dataset_required=True)
    _run(p)
    p.add_argument("--k", type=int, help="number of clusters (default: chosen by silhouette)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of k-means")
    p.add_argument(
        "--text-column",
        metavar="NAME",
        help="embed this text column by TF-IDF (default: the text column, without an embedding)",
    )
    p.add_argument(
        "--name",
        nargs=2,
        metavar=("N", "TAG"),
        help="tag the errors of cluster N with the reviewed tag TAG (to be reviewed after)",
    )
    _actor(p, "clusters", "who names")
    _out(p, formats=True)
    p.set_defaults(func=cmd_clusters)

    ssub = _group(sub, "second-reviews", "the plan of blind second reviews of a dataset")
    s = ssub.add_parser(
        "set",
        help="set the share of reviewed examples drawn (at random, by a seeded hash of their "
        "id) for a blind second review, the reviewers wanted and the rule for their tags",
    )
    _common(s, dataset_required=True)
    s.add_argument("--share", type=float, required=True, help="from 0 to 1, e.g. 0.1")
    s.add_argument(
        "--reviewers", type=int, default=2, help="reviewers per drawn example (default: 2)"
    )
    s.add_argument(
        "--rule",
        choices=SECOND_REVIEW_RULES,
        default=SECOND_REVIEW_RULES[0],
        help="an example's tags: any reviewer's, the majority's, or adjudicated (default: any)",
    )
    s.add_argument("--seed", type=int, help="seed of the draw (default: a fresh one, printed)")
    _actor(s, "admin", "who sets it (an admin)")
    s.set_defaults(func=cmd_second_reviews_set)
    s = ssub.add_parser("show", help="show the dataset's plan of second reviews")
    _common(s, dataset_required=True)
    s.set_defaults(func=cmd_second_reviews_show)

    p = sub.add_parser("undo", help="undo a reviewer's last action, or a chosen one")
    _common(p)
    p.add_argument(
        "--actor",
        "--reviewer",
        dest="actor",
        required=True,
        help="who undoes: their last action on --dataset, unless --action",
    )
    p.add_argument(
        "--action",
        dest="action_id",
        type=int,
        metavar="ID",
        help="the action to undo, by its id in `log` (an admin may undo anyone's)",
    )
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("log", help="the project's actions, newest first, filtered and paged")
    _common(p)
    p.add_argument("--who", help="only this person's actions")
    p.add_argument(
        "--kind", action="append", metavar="KIND", help="only actions of this kind (repeatable)"
    )
    p.add_argument("--since", metavar="DATE", help="from this date or time (ISO 8601, UTC)")
    p.add_argument("--until", metavar="DATE", help="to this date (the whole day) or time")
    p.add_argument("--limit", type=int, help="at most this many actions (default: all)")
    p.add_argument("--offset", type=int, default=0, help="skip this many newest actions first")
    _out(p, formats=True)
    p.set_defaults(func=cmd_log)

    rsub = _group(sub, "roles", "who may do what in the project (viewer, reviewer, admin)")
    r = rsub.add_parser(
        "set",
        help="give USER a role (none takes it away); the first role granted makes the "
        "project's first admin, after which only admins grant",
    )
    r.add_argument("user", metavar="USER")
    r.add_argument("role", metavar="ROLE", choices=ROLE_CHOICES, help=", ".join(ROLE_CHOICES))
    _common(r)
    _actor(r, "admin", "who grants (an admin once the project has roles)")
    r.set_defaults(func=cmd_roles_set)
    _listing(rsub, "list", cmd_roles_list, "list who has which role, who granted it and when")

    msub = _group(sub, "media", "where runs read their media from")
    m = msub.add_parser("relink", help="point runs at their media, moved to another folder")
    _common(m, dataset_required=True)
    _run(m, "the run to relink (default: every run of the dataset)")
    m.add_argument(
        "--root", required=True, help="the folder that now holds the media files the runs name"
    )
    _actor(m, "relink", "who relinks")
    m.set_defaults(func=cmd_media_relink)

    p = sub.add_parser(
        "sql-rows",
        help=f"write a run's examples as SQL rows for the project file's views (a run of more "
        f"than {SQL_ROWS_LIMIT:,} examples is imported without them)",
    )
    _common(p, dataset_required=True)
    _run(p, "the run (default: the latest)")
    _actor(p, "import", "who writes them (an admin)")
    p.set_defaults(func=cmd_sql_rows)

    p = sub.add_parser("bundle", help="write the project and its media into one .zip")
    _common(p)
    p.add_argument("--out", required=True, help="the .zip to write (whole or not at all)")
    _actor(p, "bundle", "who bundles")
    p.set_defaults(func=cmd_bundle)

    p = sub.add_parser("open", help="extract a bundle (.zip) written by `bundle` to use it")
    p.add_argument("bundle", metavar="FILE.zip", help="the bundle")
    p.add_argument(
        "--into", help="the folder to extract into (default: beside the bundle, named after it)"
    )
    p.set_defaults(func=cmd_open)

    p = sub.add_parser("demo", help="build the demo project from sample_data/")
    _common(p)
    p.add_argument("--sample-data", help="folder with the sample data (default: the repository's)")
    p.add_argument("--force", action="store_true", help="rebuild even if the project file exists")
    p.set_defaults(func=cmd_demo, creates_project=True)

    p = sub.add_parser("serve", help="run the web app on a project file")
    _common(p)
    p.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, only this machine; "
        "0.0.0.0 for all interfaces)",
    )
    p.add_argument("--port", type=int, default=DEFAULT_PORT)
    p.add_argument(
        "--media-root",
        dest="media_roots",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder the app may serve media from (repeatable; default: none, so media "
        "come from uploaded archives and URLs only)",
    )
    p.add_argument(
        "--secrets",
        metavar="FILE.toml",
        help="the Streamlit secrets file whose [auth] section configures sign-in (default: "
        "Streamlit's own search, .streamlit/secrets.toml in the working directory first)",
    )
    p.add_argument(
        "bundle",
        nargs="?",
        metavar="FILE.zip",
        help="a bundle to open (as `open` does) and serve, instead of --db",
    )
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; 0 on success, 1 with ``error: ...`` on standard error otherwise."""
    args = build_parser().parse_args(argv)
    command = " ".join(filter(None, (args.command, getattr(args, "action", None))))
    try:
        _check_arguments(args)
        return args.func(args) or 0
    except ExpectedError as err:
        # Imported here, not at the top: the commands that read no file never load it.
        from .importing import ImportValidationError

        if isinstance(err, ImportValidationError):
            print(f"error: {command} failed, nothing was written:\n{err}", file=sys.stderr)
        else:
            print(f"error: {err}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader of standard output went away (| head): not an error of ours. Point
        # standard output at /dev/null so that the flush at exit does not fail again.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as err:
        where = f": {err.filename}" if err.filename else ""
        print(f"error: {command} failed: {_reason(err)}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
