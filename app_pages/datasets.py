"""Datasets: pick a dataset, see its summary, import a new one; an admin sees the team."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from app_pages import _charts, _ui
from erroranalysis import archive, importing, media
from erroranalysis.errors import ExpectedError
from erroranalysis.roles import PRODUCTION_ROLES
from erroranalysis.vocabulary import DEFAULT_RUN, MAX_NAME, NO_ROLE, USER_ROLES

_ui.start_page()

MAX_UPLOAD_MB = 200
NONE = "(none)"


def _pick_from_table() -> None:
    rows = st.session_state["ds_table"].selection.rows
    if rows:
        chosen = _ui.table_page(_ui.runs_table(), name="runs").iloc[rows[0]]
        st.session_state[_ui.DATASET_KEY] = chosen["dataset"]
        st.session_state[_ui.RUN_KEY] = chosen["run"]


def _role_key(role: str, production: bool) -> str:
    # A production sample's mapping has widgets of its own: the columns picked for a
    # labelled file (a label mapped to the first column) must not carry over.
    return f"ds_role:production:{role}" if production else f"ds_role:{role}"


@st.cache_data(max_entries=2, show_spinner="Reading the archive…")
def _archive_predictions(data: bytes) -> tuple[str, bytes]:
    """The predictions file of an uploaded archive (name inside it, content), after every
    member was checked; ArchiveError says what is wrong."""
    return archive.read_predictions(data)


def _previous_media(dataset: str, run: str) -> Path | None:
    """The media root of the run an import is about to replace, if there is one."""
    try:
        return _ui.project().dataset(dataset).run(run or DEFAULT_RUN).media_root
    except ExpectedError:
        return None


def _import(data: bytes, filename: str) -> None:
    """Validate the whole upload, then write it in one transaction; nothing on failure.

    Media paths are read inside an uploaded archive (extracted into the project's managed
    folder, removed again if the import fails) or inside a folder the operator allowed;
    a server path typed in the browser is never used.
    """
    state = st.session_state
    state.pop("ds_report", None)
    production = bool(state.get("ds_production"))
    # A role left at "(none)" keeps its own name, which the file then does not have.
    chosen = {role: state.get(_role_key(role, production)) for role in importing.ROLES}
    mapping = importing.ColumnMapping(
        **{role: role if col in (None, NONE) else col for role, col in chosen.items()}
    )
    dataset, run = state.get("ds_name", "").strip(), state.get("ds_run", "").strip()
    replace = bool(state.get("ds_replace"))
    project_file = _ui.db_path()
    extracted: archive.ExtractedArchive | None = None
    previous: Path | None = None
    stored = False
    try:
        if archive.is_archive(filename):
            previous = _previous_media(dataset, run) if replace else None
            folder = archive.run_folder(project_file, dataset, run or DEFAULT_RUN, data)
            extracted = archive.extract_archive(data, folder)
            # The media root is the predictions file's folder inside the extracted archive.
            result = importing.read_dataset(
                extracted.predictions,
                filename=f"{filename}/{extracted.member}",
                columns=mapping,
                production=production,
            )
        else:
            picked = state.get("ds_media_root")
            root = media.upload_media_root(
                _ui.media_roots(),
                chosen=None if picked in (None, NONE) else picked,
                sub=state.get("ds_media_sub") or "",
            )
            result = importing.read_dataset(
                io.BytesIO(data),
                filename=filename,
                columns=mapping,
                media_root=root,
                production=production,
            )
        info = (
            _ui.project()
            .dataset(dataset, create=True)
            .import_result(result, run=run, replace=replace, actor=_ui.reviewer() or "import")
        )
        stored = True
    except importing.ImportValidationError as err:
        state["ds_report"] = err.problems
        return
    except ExpectedError as err:
        state["_flash"] = ("error", str(err))
        return
    finally:
        if extracted is not None and not stored:
            archive.remove_run_folder(extracted.folder, project_file=project_file)
    if previous is not None and previous != info.media_root:
        # The replaced run's extracted archive is no longer used by any run.
        archive.remove_run_folder(previous, project_file=project_file)
    state[_ui.DATASET_KEY] = info.dataset
    state[_ui.RUN_KEY] = info.name
    state["ds_imported"] = (
        info.dataset,
        info.name,
        info.n_examples,
        None if info.production else info.n_errors,
        result.warnings,
    )


st.title("Datasets")
_ui.flash()

# ------------------------------------------------------------------ the project's datasets
runs = _ui.runs_table()
if len(runs):
    _ui.show_table(
        runs.assign(imported_at=_ui.timestamps(runs["imported_at"])),
        name="runs",
        hide_index=True,
        on_select=_pick_from_table,
        selection_mode="single-row",
        key="ds_table",
        column_config=_charts.RUNS_COLUMNS,
    )
    st.caption("Click a row (or use the sidebar) to work on that dataset.")

info = _ui.current_run()
if info is not None and info.production:
    st.header(f"{_ui.md(info.dataset)} · run {_ui.md(info.name)}", anchor=False)
    st.info(
        "**A production sample:** the model's predictions on data without labels, so it has "
        "no errors or accuracy. Compare it with a labelled dataset on the Drift page.",
        icon=":material/sensors:",
    )
    st.metric("Examples", f"{info.n_examples:,}")
    st.page_link(_ui.page_path("drift"), label="Go to Drift", icon=":material/moving:")
elif info is not None and info.counted_by is not None:
    st.header(f"{_ui.md(info.dataset)} · run {_ui.md(info.name)}", anchor=False)
    a, b, c = st.columns(3)
    a.metric("Examples", f"{info.n_examples:,}")
    b.metric("Errors", f"{info.n_errors:,}")
    c.metric("Accuracy", f"{info.accuracy:.1%}")
    _ui.require_run()  # says what stays local, and stops
elif info is not None:
    st.header(f"{_ui.md(info.dataset)} · run {_ui.md(info.name)}", anchor=False)
    summary = _ui.analysis("dataset_summary", info)
    baselines = summary["baselines"].set_index("baseline")
    a, b, c, d = st.columns(4)
    a.metric("Examples", f"{summary['examples']:,}")
    b.metric("Errors", f"{summary['errors']:,}")
    c.metric("Accuracy", f"{summary['accuracy']:.1%}")
    d.metric(
        "Most-frequent-class baseline",
        f"{baselines.at['most frequent class', 'accuracy']:.1%}",
        help="Accuracy of always predicting the most frequent true class "
        f"({_ui.md(baselines.at['most frequent class', 'note'])}): the model must beat it.",
    )
    for warning in summary["warnings"]:
        st.warning(_ui.md(warning), icon=":material/balance:")
    if summary["warnings"]:
        st.page_link(
            "app_pages/audit.py",
            label="Precision, recall and F1 per class on the Audit page",
            icon=":material/fact_check:",
        )
    balance = summary["class_balance"]
    left, right = st.columns([3, 2])
    _charts.show(
        _ui.chart("class_balance", balance, label="class", count="examples"),
        key="ds_balance_chart",
        where=left,
    )
    with right:
        _ui.show_table(
            balance,
            name="class-balance",
            run=info,
            hide_index=True,
            column_config={"share": _charts.percent("share")},
        )
    st.caption(
        f"Imported from {_ui.md(info.source)} ({info.format}) on "
        f"{info.imported_at[:16].replace('T', ' ')} UTC "
        f"by {_ui.md(info.imported_by)}; metadata columns: "
        f"{_ui.md(', '.join(info.metadata_columns)) or 'none'}."
    )

    # ------------------------------------------------------------------ export
    st.subheader("Export", anchor=False)
    st.caption(
        "The team's work on this run as files, built when you click: the same files as "
        "`erroranalysis export KIND`. Text that a spreadsheet would run as a formula gets a "
        "leading `'`; numbers stay numbers."
    )
    counts = _ui.export_counts(info)
    sheet, labels = st.columns(2)
    with sheet.container(border=True):
        st.markdown("**Error-analysis sheet**")
        st.caption(
            "One row per example: label, prediction, confidence, metadata, its tags "
            "(`;`-joined, and a column per tag), reviewers, the latest note, the label flag "
            "and the corrected label. `erroranalysis reviews import` reads it back."
        )
        reviewed_only = st.toggle("Reviewed examples only", value=True, key="ds_export_reviewed")
        if reviewed_only and not counts.reviewed:
            _ui.nothing_to_export("no example of this run is reviewed yet")
        else:
            _ui.run_downloads(
                info,
                "examples",
                name="reviewed-examples" if reviewed_only else "examples",
                label="Sheet",
                formats=_ui.sheet_formats(counts.reviewed if reviewed_only else info.n_examples),
                reviewed_only=reviewed_only,
            )
    with labels.container(border=True):
        st.markdown("**Corrected labels**")
        st.caption(
            "The examples a reviewer corrected (id, label, corrected label, who, when) for a "
            "relabeling job; or the whole run with the corrected labels in place and "
            "`correct` recomputed, for the next training."
        )
        if not counts.corrected:
            _ui.nothing_to_export("no label of this run is corrected yet")
        else:
            bar = st.container(horizontal=True)
            for name, label, apply in (
                ("corrected-labels", "Labels", False),
                ("corrected-dataset", "Dataset", True),
            ):
                _ui.run_downloads(
                    info,
                    "labels",
                    name=name,
                    label=label,
                    formats=("csv", "parquet"),
                    where=bar,
                    apply=apply,
                )
    log, meeting = st.columns(2)
    with log.container(border=True):
        st.markdown("**Action log**")
        st.caption("Every change to this dataset and to the tags, oldest first: who, when, what.")
        _ui.run_downloads(info, "log", name="log", label="Log")
    with meeting.container(border=True):
        st.markdown("**Meeting workbook**")
        st.caption(
            "An Excel workbook: the priority table (percentages as percentages, intervals in "
            "columns of their own), then the examples and the action log."
        )
        if "xlsx" not in _ui.sheet_formats(info.n_examples):
            st.caption(
                f":material/block: {info.n_examples:,} examples are more than an Excel sheet "
                "holds: export the sheet as CSV."
            )
        else:
            st.download_button(
                "Workbook",
                data=_ui.meeting_workbook(info),
                file_name=_ui.safe_filename(info.dataset, info.name, "meeting") + ".xlsx",
                mime=_ui.DOWNLOAD_FORMATS["xlsx"][1],
                help="The priority table, the examples and the log in one Excel workbook.",
                icon=":material/download:",
                on_click="ignore",
                key="meeting:xlsx",
                type="tertiary",
            )

# ------------------------------------------------------------------ import
st.header("Import a dataset", anchor=False)
done = st.session_state.pop("ds_imported", None)
if done:
    name, run, n, errors, warnings = done
    what = "a production sample, no labels" if errors is None else f"{errors:,} errors"
    st.success(f"Imported {n:,} examples ({what}) into {_ui.md(name)}, run {_ui.md(run)}.")
    for warning in warnings:
        st.warning(_ui.md(warning))

roots = _ui.media_roots()
archive_source = (
    "a **.zip archive** you upload here, holding the predictions file and its media (paths "
    "relative to the predictions file's folder)"
)
if roots:
    sources = (
        f"File paths are read from {archive_source}, or from a folder the operator allowed "
        "on this server: " + ", ".join(_ui.md(root) for root in roots) + "."
    )
else:
    sources = (
        f"File paths are read only from {archive_source}: the operator allowed no folder on "
        "this server (they can, with `erroranalysis serve --media-root FOLDER`)."
    )
st.markdown(
    "**Where media can come from.** An audio or image column holds a web address "
    f"(`http://` or `https://`, which your browser fetches itself) or a file path. {sources} "
    "No path typed here opens anything else on the server, and a file is shown only if it "
    "really is audio or an image, whatever its name."
)
may_import = _ui.can("admin", doing="importing a run")
upload = st.file_uploader(
    "Predictions file (CSV, Parquet or JSON Lines), or a .zip archive of it with its media",
    type=["csv", "parquet", "pq", "jsonl", "ndjson", "zip"],
    max_upload_size=MAX_UPLOAD_MB,
    key="ds_upload",
    disabled=not may_import,
    help="One row per example with at least an id, the true label and the prediction.",
)
columns: list[str] | None = None
if upload is not None:
    data = upload.getvalue()
    bundle = archive.is_archive(upload.name)
    member = upload.name
    if bundle:
        try:
            member, inner = _archive_predictions(data)
        except archive.ArchiveError as err:
            st.error(_ui.md(err), icon=":material/block:")
        else:
            columns = _ui.file_columns(inner, member)
    else:
        columns = _ui.file_columns(data, upload.name)
if upload is not None and columns is not None and may_import:
    # Outside the form: whether the file has labels decides which columns it must map.
    production = st.toggle(
        "Production sample: predictions without labels",
        key="ds_production",
        help="The model's predictions on new data, in a dataset of its own, to compare with a "
        "labelled one on the Drift page. The file has no label, correct or human label column.",
    )
    needed = PRODUCTION_ROLES if production else importing.REQUIRED_ROLES
    with st.form("ds_import"):
        first, second, third = st.columns([2, 1, 1], vertical_alignment="bottom")
        first.text_input("Dataset name", value=Path(upload.name).stem, key="ds_name", max_chars=100)
        second.text_input("Run name", value=DEFAULT_RUN, key="ds_run", max_chars=MAX_NAME)
        third.checkbox("Replace this run if it exists", key="ds_replace")
        st.markdown("**Column mapping**")
        grid = st.columns(5)
        for i, role in enumerate(importing.ROLES):
            required = role in needed
            options = list(columns) if required or role in columns else [NONE, *columns]
            default = options.index(role) if role in options else 0
            grid[i % 5].selectbox(
                role.replace("_", " "),
                options or [role],
                index=default,
                key=_role_key(role, production),
                help=importing.ROLE_HELP[role],
            )
        if bundle:
            st.caption(
                f"Media paths are read inside the archive, relative to the folder of "
                f"{_ui.md(member)}."
            )
        elif roots:
            left, right = st.columns([2, 1])
            left.selectbox(
                "Media folder on the server (optional)",
                [NONE, *map(str, roots)],
                key="ds_media_root",
                help="One of the folders the operator allowed; audio and image paths are "
                "relative to it (or to the sub-folder). Nothing outside it is served.",
            )
            right.text_input(
                "Sub-folder (optional)",
                key="ds_media_sub",
                max_chars=500,
                help="A folder inside the chosen one, such as clips/2024.",
            )
        st.form_submit_button(
            "Validate and import",
            type="primary",
            icon=":material/upload:",
            on_click=_import,
            args=(data, upload.name),
        )

problems = st.session_state.get("ds_report")
if problems:
    st.error(
        f"Nothing was imported: the file has {len(problems):,} problem"
        f"{'' if len(problems) == 1 else 's'}. Fix them all and upload it again.",
        icon=":material/report:",
    )
    _ui.show_table(
        _ui.problem_table(problems), name="import-problems", hide_index=True, width="stretch"
    )


# ------------------------------------------------------------------ the team
def _grant() -> None:
    state, who = st.session_state, _ui.reviewer()
    user, role = state.get("ds_team_user", "").strip(), state.get("ds_team_role")
    _ui.act(
        lambda: _ui.project().grant_role(user, role, actor=who),
        what=f"the role of {user!r}",
        done=f"{user!r} has no role now." if role == NO_ROLE else f"{user!r} is a {role} now.",
    )


# Only an admin (or anyone, before the first role is granted) sees who may do what.
if _ui.can("admin"):
    st.header("Team", anchor=False)
    team = _ui.project().roles()
    if team.empty:
        st.caption(
            "No role is granted yet, so everyone may do everything. The first role granted "
            "makes the project's first admin (yourself, say); from then on every change is "
            "checked against its author's role: viewers read and download, reviewers review "
            "and tag, admins also import, change tags and grant roles."
        )
    else:
        _ui.show_table(
            team.assign(granted_at=_ui.timestamps(team["granted_at"])),
            name="team",
            hide_index=True,
            width="stretch",
        )
    with st.form("ds_team", border=False):
        left, right = st.columns([2, 1], vertical_alignment="bottom")
        left.text_input("User", key="ds_team_user", max_chars=100, placeholder="their name")
        right.selectbox(
            "Role",
            [*USER_ROLES, NO_ROLE],
            key="ds_team_role",
            format_func=lambda role: "none (takes the role away)" if role == NO_ROLE else role,
        )
        st.form_submit_button("Grant", disabled=_ui.reviewer() is None, on_click=_grant)
