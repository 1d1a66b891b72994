"""One dataset of a project, bound once, in the manner of sqlite-utils' ``db["table"]``:
``project.dataset("dev")`` resolves the dataset and its methods need no dataset argument.

The module runs past 600 lines because every write to one dataset (a run's import, tags,
reviews, samples, embeddings, undo) is a method of the one object that holds the
dataset's id and its transaction; what could live apart does: staging of large review
imports in :mod:`.staging`, sample records in :mod:`.samples`, the log in :mod:`.log`."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..embeddings import EMBEDDINGS_SCHEMA, Embeddings, from_blob, to_blob
from ..errors import StoreError
from ..media import local_media, scan_media_paths
from ..vocabulary import DEFAULT_RUN, SQL_ROWS_LIMIT, check_name, check_tag_name
from . import staging
from .common import (
    RunInfo,
    _blob_to_frame,
    check_actor,
    encode_run,
    now,
    stored_media_root,
)
from .examples import (
    EXAMPLES_SCHEMA,
    clear_run_rows,
    run_rows,
    stored_run_rows,
    write_run_rows,
)
from .files import _guarded
from .log import DATASET_UNDOABLE
from .samples import (
    blob_draws,
    check_draw,
    check_review_samples,
    draws_blob,
    no_samples,
    sample_ids,
)
from .schema import CENSUS_SCHEMA, SQL_ROWS_SCHEMA
from .second_reviews import SecondReviews
from .staging import _INSERT_REVIEW, _values
from .tags import TAG_ACTIONS
from .team import TEAM_SCHEMA

# The first schema that marks production datasets (see schema.py).
PRODUCTION_SCHEMA = 4

if TYPE_CHECKING:
    from ..census import Census
    from ..importing import ImportResult
    from ..sampling import Draw
    from .project import Project

# Schema 4 records the sample a review was drawn from (NULL: outside any sample).
_INSERT_SAMPLED_REVIEW = (
    "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum,"
    " note, label_wrong, corrected_label, queue, sample_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The first schema with samples (see schema.py).
SAMPLES_SCHEMA = 4
# Schema 6 keeps what each reviewer decided (the tag ids they gave the example, as a JSON
# array) and whether they reviewed blind.
_INSERT_DECIDED_REVIEW = (
    "INSERT INTO reviews (action_id, dataset_id, run_id, example_id, reviewer, at, stratum,"
    " note, label_wrong, corrected_label, queue, sample_id, decision, blind)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# A review's decision taken from the tags its example carries (the parameter: its action).
_SNAPSHOT_DECISION = (
    "UPDATE reviews SET decision = (SELECT '[' || coalesce(group_concat(tag_id), '') || ']'"
    " FROM (SELECT tag_id FROM tag_assignments a WHERE a.dataset_id = reviews.dataset_id"
    " AND a.example_id = reviews.example_id AND {present} ORDER BY tag_id))"
    " WHERE action_id = ?"
)


def _decision(conn: sqlite3.Connection, project: Project, tags: Iterable[str], stamp: str) -> str:
    """The JSON array of the ids of ``tags`` (live tags; an unknown one is a StoreError)."""
    ids = {project._tag_id(conn, tag, "", stamp, create=False) for tag in tags}
    return "[" + ",".join(map(str, sorted(ids))) + "]"


class DatasetStore(SecondReviews):
    """The runs, examples, tags, reviews and undo of one dataset of an open project.

    Made by :meth:`Project.dataset`, which raises :class:`StoreError` for an unknown
    name unless ``create`` (then the first import makes the dataset). Bound to the
    project's connection and thread, like the project itself.
    """

    def __init__(self, project: Project, name: str, *, create: bool = False):
        self.project = project
        self.name = check_name(name, kind="dataset") if create else name
        self._id: int | None = None if create else project._dataset_id(name)

    def __repr__(self) -> str:
        return f"<DatasetStore {self.name!r} of {self.project.path.name}>"

    @property
    def path(self) -> Path:
        return self.project.path

    @property
    def id(self) -> int:
        """The dataset's id, looked up once (an unknown name raises :class:`StoreError`)."""
        if self._id is None:
            self._id = self.project._dataset_id(self.name)
        return self._id

    @property
    def production(self) -> bool:
        """Whether the dataset is a production sample (predictions without labels), as set
        by its first import; False in a file of schema 2-3, which has none."""
        return self._production()

    @_guarded
    def _production(self) -> bool:
        if self.project.schema_version < PRODUCTION_SCHEMA:
            return False
        row = self.project._conn.execute(
            "SELECT production FROM datasets WHERE id = ?", (self.id,)
        ).fetchone()
        return bool(row[0])

    @_guarded
    def runs(self) -> list[RunInfo]:
        """The dataset's runs, oldest import first."""
        return self.project._runs(self.id)

    @_guarded
    def tag_events(self) -> pd.DataFrame:
        """The dataset's event log, oldest first: id, action_id, example_id, tag, op, actor, at."""
        return self.project._tag_events(self.id)

    @_guarded
    def actions(self, *, limit: int | None = 100) -> pd.DataFrame:
        """The newest actions on the dataset or the whole project, newest first;
        ``limit=None``: every action."""
        return self.project._actions(self.id, limit=limit)

    @_guarded
    def run(self, run: str | None = None) -> RunInfo:
        """A run of the dataset: the named one, else the latest imported."""
        runs = self.runs()
        if run is None:
            if not runs:
                raise StoreError(f"dataset {self.name!r} has no imported run")
            return runs[-1]
        for info in runs:
            if info.name == run:
                return info
        names = ", ".join(r.name for r in runs)
        raise StoreError(f"dataset {self.name!r} has no run {run!r} (runs: {names})")

    @_guarded
    def examples(
        self,
        run: str | None = None,
        *,
        columns: Sequence[str] | None = None,
        sample_only: bool = False,
    ) -> pd.DataFrame:
        """The run's example frame as imported (a fresh copy on every call); with
        ``columns``, only those of them the run has, read alone, in the run's order.
        A run counted elsewhere (:mod:`erroranalysis.census`) holds only the examples
        drawn for review: StoreError naming it, unless ``sample_only`` asks for those."""
        info = self.run(run)
        if info.counted_by is not None and not sample_only:
            from ..census import counted_elsewhere

            raise counted_elsewhere(self.project, self.name, info.name)
        blob = self.project._conn.execute(
            "SELECT frame FROM runs WHERE id = ?", (info.id,)
        ).fetchone()
        return _blob_to_frame(blob[0], columns, missing_ok=columns is not None)

    @_guarded
    def copy_frame(self, run: str | None, path: Path, *, chunk: int = 1 << 22) -> None:
        """Write the run's example frame, its Parquet blob as stored, to the file ``path``,
        ``chunk`` bytes at a time (the frame is never whole in memory). A run counted
        elsewhere: StoreError naming it, as :meth:`examples`."""
        info = self.run(run)
        if info.counted_by is not None:
            from ..census import counted_elsewhere

            raise counted_elsewhere(self.project, self.name, info.name)
        blob = self.project._conn.blobopen("runs", "frame", info.id, readonly=True)
        try:
            with Path(path).open("wb") as out:
                while data := blob.read(chunk):
                    out.write(data)
        finally:
            blob.close()

    @_guarded
    def example_ids(self) -> pd.Index:
        """Every example id of the dataset, across its runs."""
        indexes = [self.project.run_index(info)[0] for info in self.runs()]
        if len(indexes) == 1:
            return indexes[0]
        return indexes[0].append(indexes[1:]).unique() if indexes else pd.Index([], dtype=str)

    def _dataset_runs(self) -> list[RunInfo]:
        if self.name not in self.project.dataset_names():
            return []
        return self.runs()

    @_guarded
    def import_run(
        self,
        frame: pd.DataFrame,
        *,
        run: str = DEFAULT_RUN,
        source: str,
        format: str,
        media_root: str | Path | None,
        metadata_columns: Sequence[str],
        dataset_tags: Sequence[str],
        replace: bool = False,
        actor: str = "import",
        embeddings: Embeddings | None = None,
        production: bool = False,
        census: Census | None = None,
        sql_rows: bool | None = None,
        encoded: Future[bytes] | None = None,
    ) -> RunInfo:
        """Store a validated example frame (see :mod:`erroranalysis.importing`) as a run.

        Re-importing an existing run needs ``replace=True``; tags and reviews of ids that
        still exist are kept, those of ids that are gone are retracted through the log.
        One transaction; the Parquet encoding and the ids that go are worked out before it.
        A ``production`` run (no labels, so no ``correct`` column) makes its dataset a
        production one; a production run never joins a labelled dataset, nor a labelled
        run a production one (:class:`StoreError`, nothing changed).
        ``embeddings`` (one vector per row of ``frame``) are stored with the run; a replaced
        run keeps none of its old ones.
        With a ``census`` (:class:`erroranalysis.census.Census`: the run counted where its
        data is) ``frame`` holds only the examples drawn for review; the run's size, errors
        and tag counts are the census's, stored beside it, and the run is marked as
        counted by the census's engine.
        The run's examples are written as SQL rows for the project file's views with
        ``sql_rows=True``, or by default when it has at most
        :data:`~erroranalysis.vocabulary.SQL_ROWS_LIMIT` of them; :meth:`write_sql_rows`
        writes them later. ``encoded`` is the run's blob of exactly ``frame`` being encoded
        already (:func:`~.common.encode_run`, as :func:`erroranalysis.importing.read_dataset`
        starts it for a Parquet file).
        """
        actor = self.project._permit(actor, "import_run")
        run = check_name(run, kind="run")
        tags = [check_tag_name(t) for t in dataset_tags]
        vectors = self._embedding_row(embeddings, len(frame))
        if production == ("correct" in frame.columns):
            raise StoreError(
                "a production run has predictions without labels (no correct column), a "
                "labelled run has them; nothing was imported"
            )
        if census is not None:
            self._check_census(census, production=production, tags=tags)
        # Parquet's encoder runs without the GIL, so the frame is encoded while the rest of
        # the import is prepared and its SQL rows are written; the blob goes in last.
        encoding = encode_run(frame) if encoded is None else encoded
        if sql_rows is None:
            sql_rows = len(frame) <= SQL_ROWS_LIMIT
        has_tables = self.project.schema_version >= EXAMPLES_SCHEMA
        rows = run_rows(frame, tags) if has_tables and sql_rows else None
        n_errors = 0 if production else int((~frame["correct"].astype(bool)).sum())
        n_examples = len(frame)
        if census is not None:
            n_errors, n_examples = census.size[0], census.size[0] + census.size[1]
        new_ids = pd.Index(frame["id"].astype(str))
        existing = self._dataset_runs()
        replacing = any(info.name == run for info in existing)
        if replacing and not replace:
            raise self._replace_needed(run)
        gone = self.project._gone_ids(existing, run, new_ids) if replacing else None
        if gone is not None:
            self.project._stage_ids("gone_ids", gone)
        stamp = now()
        with self.project.write() as conn:
            row = conn.execute(
                "SELECT id, production FROM datasets WHERE name = ?", (self.name,)
            ).fetchone()
            if row is None:
                dataset_id = conn.execute(
                    "INSERT INTO datasets (name, created_at, created_by, production)"
                    " VALUES (?, ?, ?, ?)",
                    (self.name, stamp, actor, int(production)),
                ).lastrowid
            elif bool(row[1]) != production:
                raise self._mixed_roles(production)
            else:
                dataset_id = row[0]
            old = conn.execute(
                "SELECT id FROM runs WHERE dataset_id = ? AND name = ?", (dataset_id, run)
            ).fetchone()
            if old is not None and not replace:
                raise self._replace_needed(run)
            if old is not None and self._dataset_runs() != existing:
                # Another import of this dataset landed since the ids were worked out.
                gone = self.project._gone_ids(self._dataset_runs(), run, new_ids)
                self.project._stage_ids("gone_ids", gone)
            action_id = self.project._action(
                conn,
                dataset_id,
                "import",
                actor,
                stamp,
                detail={
                    "run": run,
                    "source": source,
                    "examples": n_examples,
                    "replace": old is not None,
                    **({} if census is None else {"counted_by": census.engine}),
                },
            )
            values = (
                source,
                format,
                stored_media_root(self.project.path, media_root),
                n_examples,
                n_errors,
                json.dumps(list(metadata_columns)),
                json.dumps(tags),
                stamp,
                actor,
                b"",  # the frame: set once encoded, below
            )
            if old is None:
                run_id = conn.execute(
                    "INSERT INTO runs (source, format, media_root, n_examples, n_errors,"
                    " metadata_columns, dataset_tags, imported_at, imported_by, frame,"
                    " dataset_id, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*values, dataset_id, run),
                ).lastrowid
            else:
                run_id = old[0]
                conn.execute(
                    "UPDATE runs SET source = ?, format = ?, media_root = ?, n_examples = ?,"
                    " n_errors = ?, metadata_columns = ?, dataset_tags = ?, imported_at = ?,"
                    " imported_by = ?, frame = ? WHERE id = ?",
                    (*values, old[0]),
                )
                self.project._forget_gone_ids(conn, dataset_id, action_id, actor, stamp)
            if self.project.schema_version >= EMBEDDINGS_SCHEMA:
                conn.execute("DELETE FROM embeddings WHERE run_id = ?", (run_id,))
            if vectors is not None:
                conn.execute(
                    "INSERT INTO embeddings (run_id, source, dimensions, data) VALUES (?, ?, ?, ?)",
                    (run_id, *vectors),
                )
            tag_ids = {
                tag: self.project._tag_id(conn, tag, actor, stamp, create=True) for tag in tags
            }
            if rows is not None:
                write_run_rows(conn, run_id, rows, tag_ids)
            elif has_tables:
                clear_run_rows(conn, run_id)  # a replaced run's old rows are not its rows
            if self.project.schema_version >= SQL_ROWS_SCHEMA:
                conn.execute(
                    "UPDATE runs SET sql_rows = ? WHERE id = ?", (int(rows is not None), run_id)
                )
            if self.project.schema_version >= CENSUS_SCHEMA:
                self._write_census(conn, run_id, census, actor, stamp)
            conn.execute("UPDATE runs SET frame = ? WHERE id = ?", (encoding.result(), run_id))
            self.project._bump("runs")
        return self.run(run)

    def check_census_schema(self) -> None:
        """StoreError unless the file keeps runs counted elsewhere (schema 7 on)."""
        if self.project.schema_version < CENSUS_SCHEMA:
            raise StoreError(
                f"{self.project.path.name} has schema version {self.project.schema_version}: "
                "open it for writing to upgrade it before importing a run counted elsewhere"
            )

    def _check_census(self, census: Census, *, production: bool, tags: list[str]) -> None:
        self.check_census_schema()
        if production:
            raise StoreError("a production sample is imported in memory, without a census")
        missing = [t for t, k in zip(census.names, census.kinds, strict=True) if k == "dataset"]
        missing = sorted(set(missing) - set(tags))
        if missing:
            raise StoreError(f"the census counts dataset tag {missing[0]!r} the run does not have")

    def _write_census(
        self,
        conn: sqlite3.Connection,
        run_id: int,
        census: Census | None,
        actor: str,
        stamp: str,
    ) -> None:
        """The run's census counts in place of any it had (none for a run in memory)."""
        conn.execute("DELETE FROM census_counts WHERE run_id = ?", (run_id,))
        conn.execute(
            "UPDATE runs SET counted_by = ? WHERE id = ?",
            (None if census is None else census.engine, run_id),
        )
        if census is None:
            return
        rows = []
        for j, name in enumerate(census.names):
            create = census.kinds[j] == "dataset"
            tag_id = self.project._tag_id(conn, name, actor, stamp, create=create)
            rows += [
                (
                    run_id,
                    tag_id,
                    h,
                    j,
                    census.rules[j],
                    int(census.tagged[h, j]),
                    int(census.human[h, j]),
                    int(census.agree[h, j]),
                )
                for h in (0, 1)
            ]
        conn.executemany(
            "INSERT INTO census_counts (run_id, tag_id, stratum, position, rule, tagged, human,"
            " agree) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )

    @_guarded
    def census(self, run: str | None = None) -> Census:
        """The census of a run counted elsewhere (its deleted tags left out); StoreError
        for a run counted in memory."""
        from ..census import Census

        info = self.run(run)
        if info.counted_by is None:
            raise StoreError(
                f"run {info.name!r} of dataset {self.name!r} was counted in memory: it has no "
                "census"
            )
        rows = self.project._conn.execute(
            "SELECT tags.name, census_counts.rule, stratum, tagged, human, agree"
            " FROM census_counts JOIN tags ON tags.id = tag_id"
            " WHERE run_id = ? AND tags.deleted_at IS NULL ORDER BY census_counts.position, stratum",
            (info.id,),
        ).fetchall()
        names = list(dict.fromkeys(r[0] for r in rows))
        position = {name: j for j, name in enumerate(names)}
        counts = np.zeros((3, 2, len(names)), dtype=np.int64)
        rules: dict[str, str | None] = {}
        for name, rule, stratum, *values in rows:
            counts[:, stratum, position[name]] = values
            rules[name] = rule
        return Census(
            engine=info.counted_by,
            size=(info.n_errors, info.n_examples - info.n_errors),
            names=tuple(names),
            kinds=tuple("dataset" if rules[n] is None else "rule" for n in names),
            rules=tuple(rules[n] for n in names),
            tagged=counts[0],
            human=counts[1],
            agree=counts[2],
        )

    def _mixed_roles(self, production: bool) -> StoreError:
        if production:
            return StoreError(
                f"dataset {self.name!r} holds labelled runs: import the production sample "
                "into a dataset of its own (--dataset NAME --production); nothing was imported"
            )
        return StoreError(
            f"dataset {self.name!r} is a production sample (no labels): import labelled "
            "predictions into another dataset; nothing was imported"
        )

    def _replace_needed(self, run: str) -> StoreError:
        return StoreError(
            f"dataset {self.name!r} already has run {run!r}; pass --replace to replace it "
            "(tags and reviews of ids that still exist are kept)"
        )

    @_guarded
    def import_result(
        self,
        result: ImportResult,
        *,
        run: str = DEFAULT_RUN,
        replace: bool = False,
        actor: str = "import",
        sql_rows: bool | None = None,
        census: Census | None = None,
    ) -> RunInfo:
        """Store what :func:`erroranalysis.importing.read_dataset` validated, as a run
        (``sql_rows`` and ``census``: see :meth:`import_run`)."""
        return self.import_run(
            result.frame,
            run=run,
            source=result.source,
            format=result.format,
            media_root=result.media_root,
            metadata_columns=result.metadata_columns,
            dataset_tags=result.dataset_tags,
            replace=replace,
            actor=actor,
            embeddings=result.embeddings,
            production=result.production,
            sql_rows=sql_rows,
            encoded=result.encoded,
            census=census,
        )

    @_guarded
    def write_sql_rows(self, run: str | None = None, *, actor: str) -> RunInfo:
        """Write the examples and dataset tags of run ``run`` (the latest unless named) as
        SQL rows for the project file's views, for a run imported without them (more than
        :data:`~erroranalysis.vocabulary.SQL_ROWS_LIMIT` examples); a run that has them is
        left as it is. The rows are made from the stored run before the write lock is
        taken; writing them holds it (seconds per million examples). They repeat what the
        run holds, so nothing is logged and the revision stays: no reader's cache changes.
        A run replaced in the meantime raises :class:`StoreError` and nothing is written."""
        self.project._permit(actor, "write_sql_rows")
        if self.project.schema_version < SQL_ROWS_SCHEMA:
            raise StoreError(
                f"{self.project.path.name} has schema version {self.project.schema_version}: "
                "open it for writing to upgrade it first"
            )
        info = self.run(run)
        if info.in_sql:
            return info
        rows, tag_ids = stored_run_rows(self.project._conn, info.id)
        with self.project.write() as conn:
            current = conn.execute(
                "SELECT imported_at, sql_rows FROM runs WHERE id = ?", (info.id,)
            ).fetchone()
            if current is None or current[0] != info.imported_at:
                raise StoreError(
                    f"run {info.name!r} of dataset {self.name!r} was imported again while its "
                    "SQL rows were made; nothing was written: run the command again"
                )
            if not current[1]:
                write_run_rows(conn, info.id, rows, tag_ids)
                conn.execute("UPDATE runs SET sql_rows = 1 WHERE id = ?", (info.id,))
        return self.run(info.name)

    @_guarded
    def relink_media(
        self, root: str | Path, *, run: str | None = None, actor: str, verify: bool = True
    ) -> list[RunInfo]:
        """Point run ``run`` (every run of the dataset when None) at the media folder
        ``root``, stored relative to the project file where it lies below its folder.

        With ``verify`` (the default) every media file the run's media columns name must be
        in ``root``: a missing folder, a path that leaves it or a missing file raises
        :class:`StoreError` (saying how many are missing and the first) and changes
        nothing. ``verify=False`` is for a copy whose media are put in place afterwards.
        One logged action (``relink``) and one revision.
        """
        actor = self.project._permit(actor, "relink_media")
        return self._relink(root, run=run, actor=actor, verify=verify)

    def _relink(
        self, root: str | Path, *, run: str | None, actor: str, verify: bool
    ) -> list[RunInfo]:
        """:meth:`relink_media` without the role check: for :mod:`erroranalysis.bundle`,
        which relinks the copy it has just made of a project it only reads (making a
        bundle is a read, whatever the reader's role in the project)."""
        runs = [self.run(run)] if run is not None else self.runs()
        if not runs:
            raise StoreError(f"dataset {self.name!r} has no imported run; nothing was changed")
        if verify:
            for info in runs:
                self._check_media(info, Path(root))
        stored = stored_media_root(self.project.path, root)
        stamp = now()
        with self.project.write() as conn:
            current = {r.id: r.imported_at for r in self.project._runs(self.id)}
            before = {}
            for info in runs:
                if current.get(info.id) != info.imported_at:
                    raise StoreError(
                        f"run {info.name!r} was imported again meanwhile; nothing was changed"
                    )
                before[info.name] = conn.execute(
                    "SELECT media_root FROM runs WHERE id = ?", (info.id,)
                ).fetchone()[0]
            self.project._action(
                conn,
                self.id,
                "relink",
                actor,
                stamp,
                detail={"media_root": stored, "before": before},
            )
            conn.executemany(
                "UPDATE runs SET media_root = ? WHERE id = ?", [(stored, r.id) for r in runs]
            )
            self.project._bump("runs")
        return [self.run(info.name) for info in runs]

    def _check_media(self, info: RunInfo, root: Path) -> None:
        """Every media file the run names is in ``root``, else :class:`StoreError`."""
        if not root.is_dir():
            raise StoreError(f"media folder {str(root)!r} does not exist; nothing was changed")
        paths = local_media(self.examples(info.name, sample_only=True))
        scan = scan_media_paths(root, pd.Series(paths, dtype=object))
        if scan.unsafe:
            _, value, reason = scan.unsafe[0]
            raise StoreError(
                f"media path {value!r} of run {info.name!r} {reason} ({str(root)!r}); "
                "nothing was changed"
            )
        if scan.missing:
            raise StoreError(
                f"{len(scan.missing)} of {len(paths)} media files of run {info.name!r} are not "
                f"in {str(root)!r} (first missing: {paths[scan.missing[0]]!r}); "
                "nothing was changed"
            )

    def _embedding_row(self, embeddings: Embeddings | None, rows: int) -> tuple | None:
        """(source, dimensions, data) of the embeddings table for a run of ``rows`` examples."""
        if embeddings is None:
            return None
        if self.project.schema_version < EMBEDDINGS_SCHEMA:
            raise StoreError(
                f"{self.path.name} predates embeddings; open it for writing to upgrade"
            )
        if len(embeddings) != rows:
            raise StoreError(
                f"{len(embeddings)} embeddings for {rows} examples; nothing was imported"
            )
        return embeddings.source, embeddings.dimensions, to_blob(embeddings)

    @_guarded
    def embeddings(self, run: str | None = None) -> Embeddings | None:
        """The embeddings stored with a run (the latest unless ``run``), row i for example i
        of :meth:`examples`; None when the run has none (always, in a file older than
        schema 4)."""
        info = self.run(run)
        if self.project.schema_version < EMBEDDINGS_SCHEMA:
            return None
        row = self.project._conn.execute(
            "SELECT source, dimensions, data FROM embeddings WHERE run_id = ?", (info.id,)
        ).fetchone()
        if row is None:
            return None
        return from_blob(row[2], dimensions=row[1], source=row[0])

    @_guarded
    def tag_examples(
        self, example_ids: Sequence[str], tag: str, *, actor: str, detail: dict | None = None
    ) -> int | None:
        """Add a reviewed tag to many examples in one logged action (kind ``tag_examples``,
        undone as one), creating the tag if new; examples that carry it already are left as
        they are. Tagging is not reviewing: the examples are not marked reviewed.

        Returns the action's id, or None when every example had the tag (nothing is logged
        then). An unknown id, or a tag that is a rule tag or comes with a dataset's data,
        raises :class:`StoreError` and changes nothing. ``detail`` is logged with the action
        (e.g. the cluster the examples come from).
        """
        actor = self.project._permit(actor, "tag_examples")
        tag = check_tag_name(tag)
        ids = list(dict.fromkeys(str(i) for i in example_ids))
        if not ids:
            raise StoreError(f"no examples to tag with {tag!r}; nothing was changed")
        known = self.example_ids()
        missing = [i for i in ids if i not in known]
        if missing:
            raise StoreError(
                f"dataset {self.name!r} has no example with id {missing[0]!r}"
                + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
                + "; nothing was changed"
            )
        if any(tag in info.dataset_tags for info in self.project.runs()):
            raise StoreError(
                f"{tag!r} is a tag that comes with the data; name the examples with another tag"
            )
        stamp = now()
        with self.project.write() as conn:
            dataset_id = self.id
            rule = conn.execute(
                "SELECT rule FROM tags WHERE name = ? AND deleted_at IS NULL", (tag,)
            ).fetchone()
            if rule is not None and rule[0]:
                raise StoreError(
                    f"{tag!r} is a rule tag (its examples follow its rule); name the examples "
                    "with another tag"
                )
            tag_id = self.project._tag_id(conn, tag, actor, stamp, create=True)
            self.project._check_in_scope(conn, [tag_id], dataset_id)
            already = {
                r[0]
                for r in conn.execute(
                    "SELECT example_id FROM tag_assignments a WHERE dataset_id = ? AND tag_id = ?"
                    f" AND {self.project._present('a')}",
                    (dataset_id, tag_id),
                )
            }
            new = sorted(i for i in ids if i not in already)
            if not new:
                return None
            action = self.project._action(
                conn,
                dataset_id,
                "tag_examples",
                actor,
                stamp,
                detail={"tag": tag, "op": "add", "examples": len(new), **(detail or {})},
            )
            conn.executemany(
                "INSERT INTO tag_events (action_id, dataset_id, example_id, tag_id, op, actor, at)"
                " VALUES (?, ?, ?, ?, 'add', ?, ?)",
                ((action, dataset_id, i, tag_id, actor, stamp) for i in new),
            )
            self.project._follow_events(conn, action, dataset_id, removals=False)
            self.project._bump()
        return action

    def _check_example(self, example_id: str) -> None:
        if example_id not in self.example_ids():
            raise StoreError(f"dataset {self.name!r} has no example with id {example_id!r}")

    @_guarded
    def set_tag(self, example_id: str, tag: str, present: bool = True, *, actor: str) -> int | None:
        """Add (``present=True``) or remove a tag on one example, creating the tag if new.

        Returns the id of the logged action, or None when the example already was in that
        state (nothing is logged then).
        """
        actor = self.project._permit(actor, "set_tag")
        self._check_example(example_id)
        stamp = now()
        op = "add" if present else "remove"
        with self.project.write() as conn:
            dataset_id = self.id
            existed = self.project._tag_exists(conn, tag)
            if not present and not existed:
                return None
            tag_id = self.project._tag_id(conn, tag, actor, stamp, create=present)
            if present:  # a tag of other datasets may still be taken off
                self.project._check_in_scope(conn, [tag_id], dataset_id)
            detail = {"example": example_id, "tag": tag, "op": op}
            if not existed:  # its undo deletes the tag again
                detail["created"] = True
            action = self.project._action(conn, dataset_id, "tag", actor, stamp, detail=detail)
            if not self.project._apply(
                conn, action, dataset_id, example_id, tag_id, op, actor, stamp
            ):
                conn.execute("DELETE FROM actions WHERE id = ?", (action,))
                return None
            self.project._bump()
        return action

    @_guarded
    def example_tags(self, example_id: str) -> list[str]:
        """Reviewed tags currently on one example, by name."""
        dataset_id = self.id
        rows = self.project._conn.execute(
            "SELECT tags.name FROM tag_assignments a JOIN tags ON tags.id = tag_id"
            f" WHERE dataset_id = ? AND example_id = ? AND {self.project._present('a')}"
            " ORDER BY tags.name",
            (dataset_id, example_id),
        )
        return [r[0] for r in rows]

    @_guarded
    def tag_assignments(self) -> pd.DataFrame:
        """Current reviewed tags of the dataset: one row per (example_id, tag)."""
        return self.project._query(
            "SELECT example_id, tags.name AS tag, actor, at FROM tag_assignments a"
            f" JOIN tags ON tags.id = tag_id WHERE dataset_id = ? AND {self.project._present('a')}"
            " ORDER BY example_id, tags.name",
            (self.id,),
        )

    @_guarded
    def replay_tags(self) -> pd.DataFrame:
        """Rebuild the current (example_id, tag) pairs from the event log alone."""
        events = self.project._conn.execute(
            "SELECT example_id, tags.name, op FROM tag_events JOIN tags ON tags.id = tag_id"
            f" WHERE dataset_id = ? AND {self.project._not_pending('action_id')} ORDER BY tag_events.id",
            (self.id,),
        )
        state: set[tuple[str, str]] = set()
        for example_id, tag, op in events:
            if op == "add":
                state.add((example_id, tag))
            else:
                state.discard((example_id, tag))
        return pd.DataFrame(sorted(state), columns=["example_id", "tag"])

    @_guarded
    def undo(self, *, actor: str, action: int | None = None) -> dict | None:
        """Undo ``actor``'s last action that is not undone yet, among their actions on the
        dataset and on the project's tags, whatever its kind: a tag toggle (a tag it
        created goes again, unless examples carry it or it was defined since), a review (a
        blind one too), an adjudication, a review import (their part of it), tagging a
        cluster, a tag's definition (the one
        before is restored; a tag the definition created is deleted again), a rename (the
        old name comes back), a merge or a delete (the tag comes back with its definition
        and every assignment it had). Tag actions are project-wide: the undo on any
        dataset finds them. Imports of runs, relinks, samples and undos are not undone
        (they are passed over), nor tag actions logged by versions that did not record
        what their undo needs. A reviewer undoes only their own actions.

        ``action``: undo that action instead (of this dataset or of the project's tags),
        as :meth:`Project.undo` does: a reviewer their own, an admin anyone's.

        The undo is itself an action that appends the inverse events, so the log stays
        append-only; it is exact whatever the order of undos (see :mod:`.log`). Returns
        what was undone (``action``, ``kind``, ``detail``, ``what``: in words), or None if
        nothing was left. When a later change makes the previous state impossible (the tag
        deleted or renamed since, its old name taken, its definition changed again),
        :class:`StoreError` names that later action and nothing is changed. One
        transaction of a few statements, however many events the action had.
        """
        if action is not None:
            scope = self.project._action_dataset(action)
            if scope is not None and scope != self.id:
                raise StoreError(
                    f"action #{action} is not of dataset {self.name!r}; nothing was changed"
                )
            return self.project.undo(action=action, actor=actor)
        actor = self.project._permit(actor, "undo")
        stamp = now()
        kinds = ",".join("?" * len(DATASET_UNDOABLE))
        tag_kinds = ",".join("?" * len(TAG_ACTIONS))
        with self.project.write() as conn:
            dataset_id = self.id
            row = conn.execute(
                "SELECT id, kind, detail, dataset_id FROM actions a WHERE actor = ?"
                f" AND ((dataset_id = ? AND kind IN ({kinds})) OR (dataset_id IS NULL"
                f" AND kind IN ({tag_kinds}) AND json_extract(detail, '$.undo') IS NOT NULL))"
                " AND NOT EXISTS (SELECT 1 FROM actions u WHERE u.undoes = a.id)"
                f" AND {self.project._not_pending('a.id')} ORDER BY id DESC LIMIT 1",
                (actor, dataset_id, *DATASET_UNDOABLE, *TAG_ACTIONS),
            ).fetchone()
            if row is None:
                return None
            return self.project._undo_row(conn, row, actor, stamp)

    @_guarded
    def record_review(
        self,
        example_id: str,
        *,
        reviewer: str,
        run: str | None = None,
        tags: Iterable[str] | None = None,
        note: str = "",
        label_wrong: bool = False,
        corrected_label: str | None = None,
        queue: str = "",
        sample: int | None = None,
        blind: bool = False,
    ) -> int:
        """Mark one example reviewed by ``reviewer``; with ``tags``, its reviewed tags are
        set to exactly those (added and removed through the log) in the same action.

        ``sample`` is the id of the sample (:meth:`record_sample`) the example was drawn
        in, None for an example reviewed outside any sample; see :meth:`record_reviews`.
        ``blind``: a blind second review (:mod:`erroranalysis.second_review`), whose
        ``tags`` are the reviewer's decision only: recorded with the review, the example's
        tags left as they are."""
        reviews = pd.DataFrame(
            {
                "id": [example_id],
                "reviewer": [reviewer],
                "note": [note],
                "label_wrong": [label_wrong],
                "corrected_label": [corrected_label],
                "sample_id": pd.array([sample], dtype="Int64"),
            }
        )
        return self.record_reviews(
            reviews,
            tags=None if tags is None else [list(tags)],
            run=run,
            exact=True,
            queue=queue,
            kind="review",
            actor=reviewer,
            blind=blind,
        )

    @_guarded
    def record_reviews(
        self,
        reviews: pd.DataFrame,
        *,
        tags: Sequence[Sequence[str]] | None,
        run: str | None = None,
        exact: bool = False,
        queue: str = "import",
        kind: str = "reviews_import",
        actor: str | None = None,
        blind: bool = False,
    ) -> int:
        """Record many reviews, all or nothing; returns the id of the (first) action.

        Without ``actor``, each reviewer's reviews (and the tag events of their rows) are an
        action of that reviewer, so that a reviewer's undo takes back their reviews only;
        with ``actor`` (who imports), the whole import is one action of the actor. The
        actions are logged in the order their reviewers first appear, detail ``run`` and
        ``reviews`` (how many are the action's).

        ``reviews`` has columns ``id`` and ``reviewer`` (optionally ``note``, ``label_wrong``,
        ``corrected_label``, ``sample_id``); ``tags[i]`` are the tags seen on row i. With
        ``exact`` the example's other reviewed tags are removed (an example listed twice
        ends with the tags of its last row); otherwise tags are only added.

        A row's ``sample_id`` (NA: none) must name a sample of this dataset that drew the
        row's example, else :class:`StoreError` names the row and nothing is recorded. The
        samples named must come from one run, and the reviews are of that run: ``run``
        defaults to it, and another ``run`` is refused.

        Everything is checked and prepared before the write lock is taken. Up to
        :data:`~erroranalysis.store.staging.STAGE_ROWS` reviews and tag pairs are written in one transaction. More are
        staged: reviews, tag events and tag assignments are written in short transactions
        under a pending action that no reader counts, then one short transaction re-decides
        the few tags other reviewers changed meanwhile and removes the pending mark, so the
        whole import appears at once. While one import into the dataset is being staged,
        another raises :class:`ProjectBusy`; one that fails or is interrupted leaves
        nothing (a killed one is removed by the next process that opens the file to write).

        ``blind`` reviews (second reviews made without seeing the earlier ones) keep each
        row's ``tags`` (live tags, which must exist) as its reviewer's decision and change
        no example's tags.
        """
        self.project._require_writable()
        n = len(reviews)
        if tags is not None and len(tags) != n:
            raise StoreError(f"{len(tags)} tag lists for {n} reviews; nothing was recorded")
        if blind and (tags is None or self.project.schema_version < TEAM_SCHEMA):
            raise StoreError(
                "a blind review records its reviewer's own tags: give them (an empty list for "
                "none), in a file of schema 6 or later; nothing was recorded"
            )
        ids = reviews["id"].astype(str).tolist()
        samples = sample_ids(reviews)
        sampled = any(s is not None for s in samples)
        if sampled and self.project.schema_version < SAMPLES_SCHEMA:
            raise StoreError(f"{self.path.name} predates samples; open it for writing to upgrade")
        if sampled:
            drawn_from = check_review_samples(
                self.project._conn, dataset=self.name, dataset_id=self.id, ids=ids, samples=samples
            )
            if run is not None and run != drawn_from:
                raise StoreError(
                    f"the reviews are of samples drawn from run {drawn_from!r}, not {run!r}; "
                    "nothing was recorded"
                )
            run = drawn_from
        info = self.run(run)
        if info.production:
            raise StoreError(
                f"dataset {self.name!r} is a production sample: with no labels there are no "
                "errors or correct predictions to review; nothing was recorded"
            )
        run_ids, run_correct = self.project.run_index(info)
        positions = run_ids.get_indexer(ids)
        if (positions < 0).any():
            missing = [example for example, p in zip(ids, positions, strict=True) if p < 0]
            raise StoreError(
                f"run {info.name!r} of dataset {self.name!r} has no example with id "
                f"{missing[0]!r}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            )
        names = {r: check_actor(r) for r in pd.unique(reviews["reviewer"].astype(str))}
        reviewers = [names[r] for r in reviews["reviewer"].astype(str)]
        # Without an actor who imports, each reviewer's reviews are their own action.
        split = not actor and len(set(reviewers)) > 1
        if split:
            actors = dict(Counter(reviewers))
        else:
            actor = check_actor(actor) if actor else reviewers[0] if reviewers else "import"
            actors = {actor: n}
        for each in actors:  # whoever an action will name must be allowed to review
            self.project.permit(each, "record_reviews")
        strata = np.where(run_correct[positions], "correct", "error").tolist()
        notes = [str(v) if v else "" for v in _values(reviews, "note", n)]
        label_wrong = [int(bool(v)) for v in _values(reviews, "label_wrong", n)]
        corrected = _values(reviews, "corrected_label", n)
        plan = None if blind else self.project._stage_review_tags(ids, reviewers, tags, exact=exact)
        detail = {"run": info.name}
        stamp = now()

        def rows(actions: dict[str, int], dataset_id: int, lo: int, hi: int) -> Iterator[tuple]:
            return zip(
                [actions[r] for r in reviewers[lo:hi]] if split else repeat(actions[actor]),
                repeat(dataset_id),
                repeat(info.id),
                ids[lo:hi],
                reviewers[lo:hi],
                repeat(stamp),
                strata[lo:hi],
                notes[lo:hi],
                label_wrong[lo:hi],
                corrected[lo:hi],
                repeat(queue),
                *((samples[lo:hi],) if insert is not _INSERT_REVIEW else ()),
                *(
                    (decided[0][lo:hi], repeat(int(blind)))
                    if insert is _INSERT_DECIDED_REVIEW
                    else ()
                ),
            )

        version = self.project.schema_version
        insert = (
            _INSERT_DECIDED_REVIEW
            if version >= TEAM_SCHEMA
            else _INSERT_SAMPLED_REVIEW
            if version >= SAMPLES_SCHEMA
            else _INSERT_REVIEW
        )
        # What each row's reviewer decided: its tags' ids, known once the tags are mapped
        # (inside the write that may create them); None where the row gives no tags.
        decided: list[list[str | None]] = [[None] * n]

        def decide(conn: sqlite3.Connection) -> None:
            if blind:  # tags is not None and the schema has decisions: checked above
                decided[0] = [_decision(conn, self.project, row, stamp) for row in tags]
                return
            if plan is None or tags is None or insert is not _INSERT_DECIDED_REVIEW:
                return
            ix = dict(conn.execute("SELECT ix, tag_id FROM temp.staged_tag_ids").fetchall())
            id_of = {name: ix[i] for i, name in enumerate(plan.names)}
            decided[0] = [
                "[" + ",".join(map(str, sorted({id_of[check_tag_name(t)] for t in row}))) + "]"
                for row in tags
            ]

        if n <= staging.STAGE_ROWS and (plan is None or plan.pairs <= staging.STAGE_ROWS):
            with self.project.write() as conn:
                dataset_id = self.id
                self.project._check_run_unchanged(conn, self.name, info)
                actions = self.project._import_actions(
                    conn, dataset_id, kind, actors, stamp, detail, split=split, pending=False
                )
                action = next(iter(actions.values()))
                if plan is not None:
                    self.project._map_review_tags(
                        conn, plan, next(iter(actors)), stamp, hidden=False, dataset_id=dataset_id
                    )
                decide(conn)
                conn.executemany(insert, rows(actions, dataset_id, 0, n))
                if plan is not None:
                    self.project._review_tag_events(conn, action, dataset_id, stamp, exact=exact)
                    for each in actions.values():
                        self.project._follow_events(conn, each, dataset_id, removals=exact)
                if tags is None and kind == "review" and insert is _INSERT_DECIDED_REVIEW:
                    # A review in the app: its reviewer's decision is the example's tags as
                    # they leave it.
                    conn.execute(
                        _SNAPSHOT_DECISION.format(present=self.project._present("a")), (action,)
                    )
                self.project._bump("reviews")
            return action
        stage, actions = self.project._begin_stage(
            self.name, info, kind, actors, stamp, detail, plan, split=split
        )
        try:
            dataset_id = stage.dataset_id
            decide(self.project._conn)
            for lo in range(0, n, staging.STAGE_ROWS):
                self.project._staged_write(
                    stage,
                    lambda conn, lo=lo: conn.executemany(
                        insert, rows(actions, dataset_id, lo, lo + staging.STAGE_ROWS)
                    ),
                )
            if plan is not None:
                for lo, hi in plan.ranges:
                    self.project._staged_write(
                        stage,
                        lambda conn, lo=lo, hi=hi: self.project._review_tag_events(
                            conn,
                            stage.action,
                            dataset_id,
                            stamp,
                            exact=exact,
                            lo=lo,
                            hi=hi,
                            stage=True,
                        ),
                    )
            with self.project.write() as conn:
                self.project._check_run_unchanged(conn, self.name, info)
                self.project._check_stage_complete(conn, stage, n)
                if plan is not None:
                    self.project._settle_review_tags(conn, stage, stamp, exact=exact)
                conn.executemany(
                    "DELETE FROM pending_actions WHERE action_id = ?",
                    [(a,) for a in stage.actions],
                )
                if plan is not None:  # its staged assignments count from now on
                    self.project._touch("tag_assignments")
                self.project._bump("reviews")
        except BaseException:
            for each in stage.actions:
                self.project._discard_stage(each)
            raise
        return stage.action

    @_guarded
    def reviews(self, *, include_retracted: bool = False) -> pd.DataFrame:
        """Reviews of the dataset: example_id, reviewer, at, run, stratum, note, label_wrong,
        corrected_label, queue, retracted_by, sample_id (one row per review; an example may
        have several). ``sample_id`` is NA for a review outside any sample, and for every
        review of a file older than samples (read without migrating it)."""
        sample = (
            "reviews.sample_id"
            if self.project.schema_version >= SAMPLES_SCHEMA
            else "NULL AS sample_id"
        )
        sql = (
            "SELECT example_id, reviewer, at, runs.name AS run, stratum, note,"
            f" label_wrong, corrected_label, queue, retracted_by, {sample} FROM reviews"
            " LEFT JOIN runs ON runs.id = run_id WHERE reviews.dataset_id = ?"
            f" AND {self.project._not_pending('reviews.action_id')}"
        )
        if not include_retracted:
            sql += " AND retracted_by IS NULL"
        frame = self.project._query(sql + " ORDER BY reviews.id", (self.id,))
        frame["label_wrong"] = frame["label_wrong"].astype(bool)
        frame["sample_id"] = frame["sample_id"].astype("Int64")
        return frame

    @_guarded
    def decisions(self) -> pd.DataFrame:
        """What each reviewer decided on each example, one row per review that recorded it
        (schema 6 on; none for an older file), oldest first: review (its id), example_id,
        reviewer, at, queue, blind, and tags, the sorted tuple of the live tags they gave
        it (a deleted tag is left out, a renamed one has its current name). Retracted
        reviews and pending imports are left out."""
        frame = self.project._query_from(
            TEAM_SCHEMA,
            ["review", "example_id", "reviewer", "at", "queue", "blind", "tags"],
            "SELECT v.id AS review, v.example_id, v.reviewer, v.at, v.queue, v.blind,"
            " (SELECT json_group_array(name) FROM (SELECT t.name FROM json_each(v.decision) j"
            " JOIN tags t ON t.id = j.value WHERE t.deleted_at IS NULL ORDER BY t.name)) AS tags"
            " FROM reviews v WHERE v.dataset_id = ? AND v.decision IS NOT NULL"
            f" AND v.retracted_by IS NULL AND {self.project._not_pending('v.action_id')}"
            " ORDER BY v.id",
            (self.id,),
        )
        frame["blind"] = frame["blind"].astype(bool)
        frame["tags"] = [tuple(json.loads(t)) for t in frame["tags"]]
        return frame

    # ----------------------------------------------------------------- samples
    @_guarded
    def record_sample(self, draw: Draw, *, actor: str) -> int:
        """Record a draw (:class:`erroranalysis.sampling.Draw`) as a sample of the dataset,
        in one transaction logged as an action of kind ``"sample"``; returns its id.

        Everything is checked before the write (see
        :func:`~erroranalysis.store.samples.check_draw`): the run, the strategy, the ids
        (all of the run, each drawn once), strata, probabilities in (0, 1], order and a
        JSON design. A bad draw raises :class:`StoreError` and records nothing.
        """
        actor = self.project._permit(actor, "record_sample")
        if not isinstance(draw.run, str):
            raise StoreError(f"the sample's run must be a run name, got {draw.run!r}")
        info = self.run(draw.run)
        run_ids, _ = self.project.run_index(info)
        draws, design = check_draw(draw, run=info.name, run_ids=run_ids)
        blob = draws_blob(draws)
        stamp = now()
        with self.project.write() as conn:
            dataset_id = self.id
            self.project._check_run_unchanged(conn, self.name, info)
            sample = conn.execute(
                "INSERT INTO samples (dataset_id, run_id, strategy, seed, size, created_at,"
                " created_by, design, draws) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    dataset_id,
                    info.id,
                    draw.strategy,
                    int(draw.seed),
                    int(draw.size),
                    stamp,
                    actor,
                    design,
                    blob,
                ),
            ).lastrowid
            detail = {
                "sample": sample,
                "run": info.name,
                "strategy": draw.strategy,
                "seed": int(draw.seed),
                "size": int(draw.size),
                "drawn": len(draws),
            }
            self.project._action(conn, dataset_id, "sample", actor, stamp, detail=detail)
            self.project._bump("samples")
        return sample

    @_guarded
    def samples(self) -> pd.DataFrame:
        """The dataset's samples, oldest first: id, run, strategy, seed, size, created_at,
        created_by, design (a dict). Empty for a file older than samples."""
        if self.project.schema_version < SAMPLES_SCHEMA:
            return no_samples()
        frame = self.project._query(
            "SELECT samples.id, runs.name AS run, strategy, seed, size, created_at, created_by,"
            " design FROM samples JOIN runs ON runs.id = run_id WHERE samples.dataset_id = ?"
            " ORDER BY samples.id",
            (self.id,),
        )
        if frame.empty:
            return no_samples()
        return frame.assign(
            seed=frame["seed"].astype("Int64"), design=[json.loads(d) for d in frame["design"]]
        )

    @_guarded
    def sample_draws(self, sample_id: int) -> pd.DataFrame:
        """The draws of one sample, in review order: id, stratum, probability, order.

        :class:`StoreError` for an id that is no sample of this dataset."""
        row = None
        if self.project.schema_version >= SAMPLES_SCHEMA:
            row = self.project._conn.execute(
                "SELECT dataset_id, draws FROM samples WHERE id = ?", (int(sample_id),)
            ).fetchone()
        if row is None:
            raise StoreError(f"dataset {self.name!r} has no sample {sample_id}")
        if row[0] != self.id:
            owner = self.project._conn.execute(
                "SELECT name FROM datasets WHERE id = ?", (row[0],)
            ).fetchone()[0]
            raise StoreError(
                f"sample {sample_id} is a sample of dataset {owner!r}, not of {self.name!r}"
            )
        return blob_draws(row[1])
