"""The project file's schema: its mark, its versions and the migration of each."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .examples import fill_run_rows

# The mark in every project file's SQLite header: the bytes "EAwb" (0x45417762).
APPLICATION_ID = int.from_bytes(b"EAwb", "big")
SCHEMA_VERSION = 8
CENSUS_SCHEMA = 7  # runs counted elsewhere: runs.counted_by, census_counts
SQL_ROWS_SCHEMA = 8  # runs.sql_rows: whether a run's examples are in the SQL tables
# The oldest schema this code reads without migrating it: version 3 added only the file
# mark, the staging table and indexes, so a version-2 file reads as it is; versions 4-5
# added what the code reads only when the file has it (samples, embeddings, the SQL
# examples and views, the team's roles, decisions and plans, version 7 the census counts of
# runs counted elsewhere).
READABLE_FROM = 2
# What a project of schema 1–2 (before the mark) has, whatever else it holds.
_LEGACY_TABLES = frozenset({"meta", "runs", "tags", "actions"})
_LEGACY_VERSIONS = (1, 2)

_MIGRATIONS: dict[int, str] = {
    # Version 1: datasets, runs, tags, the action/event log and reviews.
    1: """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta (key, value) VALUES ('revision', '0');
        CREATE TABLE datasets (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            name TEXT NOT NULL,
            source TEXT NOT NULL,
            format TEXT NOT NULL,
            media_root TEXT,
            n_examples INTEGER NOT NULL,
            n_errors INTEGER NOT NULL,
            metadata_columns TEXT NOT NULL,
            dataset_tags TEXT NOT NULL,
            imported_at TEXT NOT NULL,
            imported_by TEXT NOT NULL,
            frame BLOB NOT NULL,
            UNIQUE (dataset_id, name)
        );
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            description TEXT NOT NULL DEFAULT '',
            hlp REAL,
            effort REAL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL
        );
        CREATE TABLE actions (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER REFERENCES datasets(id),
            kind TEXT NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            undoes INTEGER REFERENCES actions(id),
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX actions_by_actor ON actions (dataset_id, actor, id);
        CREATE TABLE tag_events (
            id INTEGER PRIMARY KEY,
            action_id INTEGER NOT NULL REFERENCES actions(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            example_id TEXT NOT NULL,
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            op TEXT NOT NULL CHECK (op IN ('add', 'remove')),
            actor TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX tag_events_by_action ON tag_events (action_id);
        CREATE TABLE tag_assignments (
            dataset_id INTEGER NOT NULL,
            example_id TEXT NOT NULL,
            tag_id INTEGER NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            PRIMARY KEY (dataset_id, example_id, tag_id)
        ) WITHOUT ROWID;
        CREATE TABLE reviews (
            id INTEGER PRIMARY KEY,
            action_id INTEGER NOT NULL REFERENCES actions(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            run_id INTEGER REFERENCES runs(id),
            example_id TEXT NOT NULL,
            reviewer TEXT NOT NULL,
            at TEXT NOT NULL,
            stratum TEXT NOT NULL CHECK (stratum IN ('error', 'correct')),
            retracted_by INTEGER REFERENCES actions(id)
        );
        CREATE INDEX reviews_by_example ON reviews (dataset_id, example_id);
    """,
    # Version 2: rule tags and soft deletion of tags (so the log still replays), and what a
    # reviewer says beyond tags: a note, "the label is wrong" with the corrected label, and
    # which queue the example came from.
    2: """
        ALTER TABLE tags ADD COLUMN rule TEXT;
        ALTER TABLE tags ADD COLUMN deleted_at TEXT;
        ALTER TABLE reviews ADD COLUMN note TEXT NOT NULL DEFAULT '';
        ALTER TABLE reviews ADD COLUMN label_wrong INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE reviews ADD COLUMN corrected_label TEXT;
        ALTER TABLE reviews ADD COLUMN queue TEXT NOT NULL DEFAULT '';
    """,
    # Version 3: the file says it is a project; review imports are staged under a pending
    # action; reviews are found by dataset and by action (undo, staging) through indexes
    # that a bulk insert appends to, where the (dataset, example) index took 2-4 s of
    # random inserts per million reviews; an action's event on one (example, tag) is found
    # without reading its other events. A tag assignment staged by an import carries its
    # action in ``pending`` and counts only once that action has left pending_actions.
    3: f"""
        PRAGMA application_id = {APPLICATION_ID};
        CREATE TABLE pending_actions (
            action_id INTEGER PRIMARY KEY REFERENCES actions(id),
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            started_at TEXT NOT NULL,
            touched_at TEXT NOT NULL
        );
        DROP INDEX reviews_by_example;
        CREATE INDEX reviews_by_dataset ON reviews (dataset_id);
        CREATE INDEX reviews_by_action ON reviews (action_id);
        DROP INDEX tag_events_by_action;
        CREATE INDEX tag_events_by_action ON tag_events (action_id, op, example_id, tag_id);
        ALTER TABLE tag_assignments ADD COLUMN pending INTEGER;
    """,
    # Version 4: how each review was sampled (a sample is one draw from one run, with its
    # strategy, seed and design; a review drawn from it carries its id), datasets that
    # are production samples (no labels), and embeddings kept beside a run's frame. A file
    # of schema 2-3 reads as it is: its reviews have no sample (the queue they came from
    # says what they mean), no dataset is a production one, and no run has embeddings.
    4: """
        CREATE TABLE samples (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            run_id INTEGER NOT NULL REFERENCES runs(id),
            strategy TEXT NOT NULL,
            seed INTEGER,
            size INTEGER NOT NULL,
            created_at TEXT NOT NULL,
            created_by TEXT NOT NULL,
            design TEXT NOT NULL DEFAULT '{}',
            draws BLOB
        );
        CREATE INDEX samples_by_dataset ON samples (dataset_id);
        ALTER TABLE reviews ADD COLUMN sample_id INTEGER REFERENCES samples(id);
        ALTER TABLE datasets ADD COLUMN production INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE embeddings (
            run_id INTEGER PRIMARY KEY REFERENCES runs(id),
            source TEXT NOT NULL,
            dimensions INTEGER NOT NULL,
            data BLOB NOT NULL
        );
    """,
    # Version 5: the project file in SQL. Every run's examples (run_examples) and the
    # dataset tags they came with (run_tags) as rows beside the run's Parquet frame,
    # written in the import's transaction, and views that name datasets, runs and tags,
    # so that sqlite3, Datasette or sqlite-utils answer "which examples labelled yes carry
    # car noise?" with one SELECT. Rule tags are computed from their rule and are in no
    # table. Labels and predictions are stored as codes of the run's classes
    # (run_classes), which halved the insert of a million rows against one text per row. The two tables are keyed for appending a run sorted by id, and carry no
    # foreign keys: a check per row would slow a million-row import for a run id the
    # same transaction has just written. The migration fills them from each run's frame.
    5: """
        CREATE TABLE run_classes (
            run_id INTEGER NOT NULL,
            code INTEGER NOT NULL,
            name TEXT NOT NULL,
            PRIMARY KEY (run_id, code)
        ) WITHOUT ROWID;
        CREATE TABLE run_examples (
            run_id INTEGER NOT NULL,
            example_id TEXT NOT NULL,
            label_code INTEGER,
            prediction_code INTEGER NOT NULL,
            correct INTEGER,
            confidence REAL,
            PRIMARY KEY (run_id, example_id)
        ) WITHOUT ROWID;
        CREATE TABLE run_tags (
            tag_id INTEGER NOT NULL,
            run_id INTEGER NOT NULL,
            example_id TEXT NOT NULL,
            PRIMARY KEY (tag_id, run_id, example_id)
        ) WITHOUT ROWID;
        CREATE VIEW examples AS
            SELECT d.name AS dataset, r.name AS run, e.example_id, l.name AS label,
                p.name AS prediction, e.correct, e.confidence
            FROM run_examples e
            JOIN runs r ON r.id = e.run_id
            JOIN datasets d ON d.id = r.dataset_id
            LEFT JOIN run_classes l ON l.run_id = e.run_id AND l.code = e.label_code
            JOIN run_classes p ON p.run_id = e.run_id AND p.code = e.prediction_code;
        CREATE VIEW tagged_examples AS
            SELECT d.name AS dataset, a.example_id, t.name AS tag, 'reviewed' AS kind,
                a.actor, a.at, NULL AS run
            FROM tag_assignments a
            JOIN datasets d ON d.id = a.dataset_id
            JOIN tags t ON t.id = a.tag_id
            WHERE t.deleted_at IS NULL
                AND (a.pending IS NULL
                    OR a.pending NOT IN (SELECT action_id FROM pending_actions))
            UNION ALL
            SELECT d.name, g.example_id, t.name, 'dataset', r.imported_by, r.imported_at,
                r.name
            FROM run_tags g
            JOIN runs r ON r.id = g.run_id
            JOIN datasets d ON d.id = r.dataset_id
            JOIN tags t ON t.id = g.tag_id
            WHERE t.deleted_at IS NULL;
        CREATE VIEW review_log AS
            SELECT v.id AS review, d.name AS dataset, r.name AS run, v.example_id,
                v.reviewer, v.at, v.stratum, v.note, v.label_wrong, v.corrected_label,
                v.queue, v.retracted_by IS NOT NULL AS retracted, u.at AS retracted_at,
                v.sample_id AS sample
            FROM reviews v
            JOIN datasets d ON d.id = v.dataset_id
            LEFT JOIN runs r ON r.id = v.run_id
            LEFT JOIN actions u ON u.id = v.retracted_by
            WHERE v.action_id NOT IN (SELECT action_id FROM pending_actions);
        CREATE VIEW runs_summary AS
            SELECT d.name AS dataset, r.name AS run, r.n_examples AS examples,
                CASE WHEN d.production THEN NULL ELSE r.n_errors END AS errors,
                CASE WHEN d.production OR r.n_examples = 0 THEN NULL
                    ELSE 1.0 - CAST(r.n_errors AS REAL) / r.n_examples END AS accuracy,
                d.production, r.source, r.format, r.imported_at, r.imported_by
            FROM runs r
            JOIN datasets d ON d.id = r.dataset_id;
    """,
    # Version 6: a team on one project. Who has which role (``roles``, append-only: a
    # user's role is their latest row, ``none`` takes it away); what each reviewer decided
    # on each example (``reviews.decision``, the JSON array of the tag ids they gave it,
    # NULL for reviews recorded before this version, whose decisions were not kept) and
    # whether they reviewed blind (without seeing the earlier reviews); the plan of
    # second reviews an admin sets per dataset (share, seed, reviewers wanted and the rule
    # that turns several reviewers' decisions into the example's tags), append-only like
    # roles; adjudications of disagreements; and tags scoped to chosen datasets
    # (``tag_scopes``: none means the whole project) in the order the team sets
    # (``tags.position``, the shortcut digits). The review log view gains the decision and
    # blind columns; the log finds what undid an action through an index. Every existing review and event stays as it was, with its author.
    6: """
        CREATE TABLE roles (
            id INTEGER PRIMARY KEY,
            user TEXT NOT NULL,
            role TEXT NOT NULL CHECK (role IN ('viewer', 'reviewer', 'admin', 'none')),
            granted_by TEXT NOT NULL,
            granted_at TEXT NOT NULL
        );
        CREATE INDEX roles_by_user ON roles (user, id);
        ALTER TABLE reviews ADD COLUMN decision TEXT;
        ALTER TABLE reviews ADD COLUMN blind INTEGER NOT NULL DEFAULT 0;
        CREATE TABLE review_plans (
            id INTEGER PRIMARY KEY,
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            share REAL NOT NULL CHECK (share >= 0 AND share <= 1),
            seed INTEGER NOT NULL,
            reviewers INTEGER NOT NULL DEFAULT 2 CHECK (reviewers >= 2),
            rule TEXT NOT NULL DEFAULT 'any' CHECK (rule IN ('any', 'majority', 'adjudicated')),
            set_by TEXT NOT NULL,
            set_at TEXT NOT NULL
        );
        CREATE INDEX review_plans_by_dataset ON review_plans (dataset_id, id);
        CREATE TABLE adjudications (
            id INTEGER PRIMARY KEY,
            action_id INTEGER NOT NULL REFERENCES actions(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            example_id TEXT NOT NULL,
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            present INTEGER NOT NULL CHECK (present IN (0, 1)),
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            retracted_by INTEGER REFERENCES actions(id)
        );
        CREATE INDEX adjudications_by_dataset ON adjudications (dataset_id, example_id);
        CREATE INDEX actions_by_undoes ON actions (undoes) WHERE undoes IS NOT NULL;
        ALTER TABLE tags ADD COLUMN position INTEGER;
        CREATE TABLE tag_scopes (
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            dataset_id INTEGER NOT NULL REFERENCES datasets(id),
            PRIMARY KEY (tag_id, dataset_id)
        ) WITHOUT ROWID;
        DROP VIEW review_log;
        CREATE VIEW review_log AS
            SELECT v.id AS review, d.name AS dataset, r.name AS run, v.example_id,
                v.reviewer, v.at, v.stratum, v.note, v.label_wrong, v.corrected_label,
                v.queue, v.retracted_by IS NOT NULL AS retracted, u.at AS retracted_at,
                v.sample_id AS sample, v.blind,
                (SELECT group_concat(name, ' | ') FROM (SELECT t.name FROM json_each(v.decision) j
                    JOIN tags t ON t.id = j.value ORDER BY t.name)) AS decision
            FROM reviews v
            JOIN datasets d ON d.id = v.dataset_id
            LEFT JOIN runs r ON r.id = v.run_id
            LEFT JOIN actions u ON u.id = v.retracted_by
            WHERE v.action_id NOT IN (SELECT action_id FROM pending_actions);
    """,
    # Version 7: runs counted where their data is (``import --engine spark``). Such a run's
    # frame holds only the examples drawn for review; ``runs.counted_by`` names the engine
    # that counted it (NULL: every example is in the frame), ``n_examples`` and ``n_errors``
    # stay the whole run's, and ``census_counts`` keeps, per dataset or rule tag (in the
    # run's order of tags; the rule's text, so a changed rule is known not counted) and stratum (0 errors, 1 correct
    # predictions), the examples carrying it and of those the ones with a second person's
    # label and the ones where it agrees. Older files have no such run and read as they are.
    7: """
        ALTER TABLE runs ADD COLUMN counted_by TEXT;
        CREATE TABLE census_counts (
            run_id INTEGER NOT NULL REFERENCES runs(id),
            tag_id INTEGER NOT NULL REFERENCES tags(id),
            stratum INTEGER NOT NULL CHECK (stratum IN (0, 1)),
            position INTEGER NOT NULL,
            rule TEXT,
            tagged INTEGER NOT NULL,
            human INTEGER NOT NULL,
            agree INTEGER NOT NULL,
            PRIMARY KEY (run_id, tag_id, stratum)
        ) WITHOUT ROWID;
    """,
    # Version 8: a run's SQL rows (run_examples, run_tags) are written at import up to
    # vocabulary.SQL_ROWS_LIMIT examples, or later when asked; ``runs.sql_rows`` says
    # whether they are there (1; every run of an older file has them), and runs_summary
    # shows it as ``in_sql``.
    8: """
        ALTER TABLE runs ADD COLUMN sql_rows INTEGER NOT NULL DEFAULT 1;
        DROP VIEW runs_summary;
        CREATE VIEW runs_summary AS
            SELECT d.name AS dataset, r.name AS run, r.n_examples AS examples,
                CASE WHEN d.production THEN NULL ELSE r.n_errors END AS errors,
                CASE WHEN d.production OR r.n_examples = 0 THEN NULL
                    ELSE 1.0 - CAST(r.n_errors AS REAL) / r.n_examples END AS accuracy,
                d.production, r.source, r.format, r.imported_at, r.imported_by,
                r.sql_rows AS in_sql
            FROM runs r
            JOIN datasets d ON d.id = r.dataset_id;
    """,
}
# What a migration does beyond its SQL: filling new tables from what the file holds.
_FILLS: dict[int, Callable[[sqlite3.Connection], None]] = {5: fill_run_rows}


def _apply_migration(conn: sqlite3.Connection, version: int) -> None:
    for statement in _split_sql(_MIGRATIONS[version]):
        conn.execute(statement)
    fill = _FILLS.get(version)
    if fill is not None:
        fill(conn)


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
