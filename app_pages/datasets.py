"""Datasets: pick a dataset, see its summary, import a new one."""

from __future__ import annotations

import io
from pathlib import Path

import streamlit as st

from app_pages import _charts, _ui
from erroranalysis import importing, media
from erroranalysis.store import StoreError
from erroranalysis.vocabulary import DEFAULT_RUN, MAX_NAME

_ui.start_page()

MAX_UPLOAD_MB = 200
NONE = "(none)"
ROLE_HELP = {
    "id": "a unique id per example",
    "label": "the true class",
    "prediction": "the model's predicted class",
    "correct": "optional: true/false; else label == prediction",
    "confidence": "optional: the model's confidence in [0, 1]",
    "human_label": "optional: a second person's label, to measure human-level performance",
    "text": "optional: the example's text",
    "audio": "optional: path (inside the media folder) or http(s) URL of the audio",
    "image": "optional: path (inside the media folder) or http(s) URL of the image",
    "tags": "optional: dataset tags, ';'-separated",
}


def _pick_from_table() -> None:
    rows = st.session_state["ds_table"].selection.rows
    if rows:
        chosen = _ui.table_page(_ui.runs_table(), name="runs").iloc[rows[0]]
        st.session_state[_ui.DATASET_KEY] = chosen["dataset"]
        st.session_state[_ui.RUN_KEY] = chosen["run"]


def _import(data: bytes, filename: str) -> None:
    """Validate the whole upload, then write it in one transaction; nothing on failure."""
    state = st.session_state
    state.pop("ds_report", None)
    # A role left at "(none)" keeps its own name, which the file then does not have.
    chosen = {role: state.get(f"ds_role:{role}") for role in importing.ROLES}
    mapping = importing.ColumnMapping(
        **{role: role if col in (None, NONE) else col for role, col in chosen.items()}
    )
    folder = state.get("ds_media", "").strip()
    try:
        root = media.resolve_media(Path(_ui.db_path()).parent, folder) if folder else None
        result = importing.read_dataset(
            io.BytesIO(data), filename=filename, columns=mapping, media_root=root
        )
        info = _ui.project().import_result(
            state.get("ds_name", "").strip(), result, run=state.get("ds_run", "").strip(),
            replace=bool(state.get("ds_replace")), actor=_ui.reviewer() or "import",
        )  # fmt: skip
    except importing.ImportValidationError as err:
        state["ds_report"] = err.problems
        return
    except (media.UnsafeMediaPath, StoreError) as err:
        state["_flash"] = ("error", str(err))
        return
    state[_ui.DATASET_KEY] = info.dataset
    state[_ui.RUN_KEY] = info.name
    state["ds_imported"] = (
        info.dataset,
        info.name,
        info.n_examples,
        info.n_errors,
        result.warnings,
    )


st.title("Datasets")
_ui.flash()

# ------------------------------------------------------------------ the project's datasets
runs = _ui.runs_table()
if len(runs):
    _ui.show_table(
        runs.assign(imported_at=_ui.timestamps(runs["imported_at"])), name="runs",
        hide_index=True, on_select=_pick_from_table, selection_mode="single-row",
        key="ds_table", column_config=_charts.RUNS_COLUMNS,
    )  # fmt: skip
    st.caption("Click a row (or use the sidebar) to work on that dataset.")

info = _ui.current_run()
if info is not None:
    st.header(f"{_ui.md(info.dataset)} · run {_ui.md(info.name)}", anchor=False)
    summary = _ui.dataset_summary(info)
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
            "app_pages/audit.py", label="Precision, recall and F1 per class on the Audit page",
            icon=":material/fact_check:",
        )  # fmt: skip
    balance = summary["class_balance"]
    left, right = st.columns([3, 2])
    _charts.show(
        _charts.class_balance(balance, label="class", count="examples"),
        key="ds_balance_chart",
        where=left,
    )
    with right:
        _ui.show_table(
            balance, name="class-balance", run=info,
            hide_index=True, column_config={"share": _charts.percent("share")},
        )  # fmt: skip
    st.caption(
        f"Imported from {_ui.md(info.source)} ({info.format}) on "
        f"{info.imported_at[:16].replace('T', ' ')} UTC "
        f"by {_ui.md(info.imported_by)}; metadata columns: "
        f"{_ui.md(', '.join(info.metadata_columns)) or 'none'}."
    )

# ------------------------------------------------------------------ import
st.header("Import a dataset", anchor=False)
done = st.session_state.pop("ds_imported", None)
if done:
    name, run, n, errors, warnings = done
    st.success(
        f"Imported {n:,} examples ({errors:,} errors) into {_ui.md(name)}, run {_ui.md(run)}."
    )
    for warning in warnings:
        st.warning(_ui.md(warning))

upload = st.file_uploader(
    "Predictions file (CSV, Parquet or JSON Lines)",
    type=["csv", "parquet", "pq", "jsonl", "ndjson"],
    max_upload_size=MAX_UPLOAD_MB,
    key="ds_upload",
    help="One row per example with at least an id, the true label and the prediction.",
)
if upload is not None:
    data = upload.getvalue()
    columns = _ui.file_columns(data, upload.name)
    with st.form("ds_import"):
        first, second, third = st.columns([2, 1, 1], vertical_alignment="bottom")
        first.text_input("Dataset name", value=Path(upload.name).stem, key="ds_name", max_chars=100)
        second.text_input("Run name", value=DEFAULT_RUN, key="ds_run", max_chars=MAX_NAME)
        third.checkbox("Replace this run if it exists", key="ds_replace")
        st.markdown("**Column mapping**")
        grid = st.columns(5)
        for i, role in enumerate(importing.ROLES):
            required = role in importing.REQUIRED_ROLES
            options = list(columns) if required or role in columns else [NONE, *columns]
            default = options.index(role) if role in options else 0
            grid[i % 5].selectbox(
                role.replace("_", " "), options or [role], index=default,
                key=f"ds_role:{role}", help=ROLE_HELP[role],
            )  # fmt: skip
        st.text_input(
            "Media folder on the server (optional)", key="ds_media",
            help="A folder inside the project file's folder that audio and image paths are "
            "relative to. Media outside it is never served.",
        )  # fmt: skip
        st.form_submit_button(
            "Validate and import", type="primary", icon=":material/upload:",
            on_click=_import, args=(data, upload.name),
        )  # fmt: skip

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
