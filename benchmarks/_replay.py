"""What a page draws, as plain data, and a bare Streamlit page that draws it again.

:func:`capture` reads an AppTest run of a page (its main area and sidebar) into a tree of
plain records: headings, text, tables with their values and column settings, Plotly
figures with their specs, metrics, buttons and inputs with their current values, and the
columns, containers, tabs, expanders and forms that hold them. :func:`replay` draws such a
tree with the ``st.*`` call each record came from, on the captured values, and nothing else.
A bare app of ``replay`` calls is the reference the page benchmark (``page_warm.py``) puts
beside each page: the same elements in the browser, without the page's own work.

Kinds a page draws that no record describes are kept as ``{"kind": "unknown", ...}`` and
drawn as nothing, so the caller can say which they are.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

Record = dict[str, Any]
# The pickle of captured pages the bare app (_bare_pages.py) draws.
CAPTURE_ENV = "REPLAY_PAGES"
# The session key naming the bare app's default page.
PAGE_KEY = "_replay_page"
BARE_APP = Path(__file__).resolve().with_name("_bare_pages.py")

HEADINGS = {"title", "header", "subheader"}
TEXTS = {"markdown", "caption", "text", "error", "warning", "info", "success"}
_HORIZONTAL = 2  # Block.FlexContainer.Direction.HORIZONTAL
# Dataframe.SelectionMode -> st.dataframe's selection_mode (rows and columns; no cells).
SELECTION_MODES = {0: "single-row", 1: "multi-row", 2: "single-column", 3: "multi-column"}


# ---------------------------------------------------------------------- capture
def capture(at: Any) -> dict[str, list[Record]]:
    """The main area and the sidebar of an AppTest run (``at`` after ``run()``), as records."""
    return {"main": _children(at.main), "sidebar": _children(at.sidebar)}


def _children(block: Any) -> list[Record]:
    return [r for child in block.children.values() for r in [_record(child)] if r is not None]


def _record(node: Any) -> Record | None:
    kind = type(node).__name__
    if hasattr(node, "children") and kind != "ElementTree":
        return _block(node, kind)
    return _element(node)


def _block(node: Any, kind: str) -> Record | None:
    children = _children(node)
    proto = node.proto
    if kind == "Column":
        return {"kind": "column", "weight": proto.weight, "children": children}
    if kind == "Tab":
        return {"kind": "tab", "label": proto.label, "children": children}
    if kind in ("Expander", "Status"):
        return {
            "kind": "expander",
            "label": proto.label,
            "expanded": proto.expanded,
            "children": children,
        }
    which = proto.WhichOneof("type") if proto is not None else None
    if which == "tab_container":
        return {"kind": "tabs", "children": children}
    if which == "form":
        return {"kind": "form", "key": proto.form.form_id, "children": children}
    if which == "popover":
        return {"kind": "popover", "label": proto.popover.label, "children": children}
    if children and all(c["kind"] == "column" for c in children):
        return {"kind": "columns", "children": children}
    horizontal = which == "flex_container" and proto.flex_container.direction == _HORIZONTAL
    border = which == "flex_container" and proto.flex_container.border
    return {
        "kind": "container",
        "horizontal": bool(horizontal),
        "border": bool(border),
        "children": children,
    }


def _element(node: Any) -> Record | None:
    kind, proto = node.type, node.proto
    if kind in HEADINGS or kind in TEXTS or kind == "divider":
        return {"kind": kind, "body": getattr(proto, "body", "")}
    if kind == "code":
        return {"kind": "code", "body": proto.code_text, "language": proto.language or None}
    if kind == "dataframe":
        config = json.loads(proto.columns) if proto.columns else {}
        modes = [SELECTION_MODES[m] for m in proto.selection_mode if m in SELECTION_MODES]
        return {
            "kind": "dataframe",
            "value": node.value,
            "column_config": config,
            "selection_mode": modes,
        }
    if kind == "table":
        return {"kind": "table", "value": node.value}
    if kind == "metric":
        return {"kind": "metric", "label": proto.label, "value": proto.body, "delta": proto.delta}
    if kind in ("button", "download_button"):
        submit = kind == "button" and proto.is_form_submitter
        return {
            "kind": "form_submit_button" if submit else kind,
            "label": proto.label,
            "type": proto.type or "secondary",
            "disabled": proto.disabled,
            "key": node.key,
        }
    if kind in ("text_input", "text_area"):
        return {"kind": kind, "label": proto.label, "value": node.value or "", "key": node.key}
    if kind in ("selectbox", "radio"):
        options = list(node.options)
        index = node.index if node.index is not None else None
        return {"kind": kind, "label": proto.label, "options": options, "index": index}
    if kind == "multiselect":
        return {
            "kind": kind,
            "label": proto.label,
            "options": list(node.options),
            "value": list(node.value),
        }
    if kind in ("toggle", "checkbox"):
        return {"kind": kind, "label": proto.label, "value": bool(node.value), "key": node.key}
    if kind == "number_input":
        return {
            "kind": kind,
            "label": proto.label,
            "value": node.value,
            "min": node.min if proto.has_min else None,
            "max": node.max if proto.has_max else None,
            "step": node.step,
        }
    if kind == "slider":
        return {
            "kind": kind,
            "label": proto.label,
            "value": node.value,
            "min": node.min,
            "max": node.max,
            "step": node.step,
        }
    if kind == "button_group":
        labels = [option.content for option in proto.options]
        chosen = [labels[i] for i in proto.default]
        return {"kind": kind, "options": labels, "value": chosen[0] if chosen else None}
    if kind == "page_link":
        return {"kind": kind, "page": proto.page, "label": proto.label}
    if kind == "file_uploader":
        return {"kind": kind, "label": proto.label}
    if kind == "progress":
        return {"kind": kind, "value": proto.value, "text": proto.text}
    if kind == "date_input":
        return {"kind": kind, "label": proto.label, "value": node.value}
    if kind == "plotly_chart":
        return {"kind": kind, "spec": proto.spec}
    if kind == "vega_lite_chart":
        from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df as frame

        return {
            "kind": kind,
            "spec": proto.spec,
            "data": frame(proto.data.data) if proto.data.data else None,
            "datasets": {d.name: frame(d.data.data) for d in proto.datasets},
        }
    if kind in ("empty", "space", "toast"):
        return None
    return {"kind": "unknown", "type": kind}


def kinds(records: list[Record]) -> Iterator[str]:
    """The kind of every record in ``records`` and below, in drawing order."""
    for record in records:
        yield record["kind"]
        yield from kinds(record.get("children", []))


# ---------------------------------------------------------------------- replay
def prepare(page: dict[str, list[Record]]) -> dict[str, list[Record]]:
    """``page`` with its Plotly specs made figures once, so that drawing it again builds
    no figure (the app keeps its figures between visits too)."""
    import plotly.io

    def figures(records: list[Record]) -> list[Record]:
        out = []
        for record in records:
            record = dict(record)
            if record["kind"] == "plotly_chart":
                record["figure"] = plotly.io.from_json(record["spec"])
            if "children" in record:
                record["children"] = figures(record["children"])
            out.append(record)
        return out

    return {area: figures(records) for area, records in page.items()}


def replay(page: dict[str, list[Record]], *, links: dict[str, Any] | None = None) -> None:
    """Draw a captured page (``prepare``d) with plain ``st.*`` calls; ``links`` maps a page
    link's address to the bare app's page it leads to."""
    import streamlit as st

    _draw(page.get("sidebar", []), st.sidebar, links or {}, "sb")
    _draw(page.get("main", []), st, links or {}, "mn")


def _draw(records: list[Record], where: Any, links: dict[str, Any], path: str) -> None:
    for i, record in enumerate(records):
        _draw_one(record, where, links, f"{path}.{i}")


def _draw_one(record: Record, where: Any, links: dict[str, Any], path: str) -> None:
    kind = record["kind"]
    key = record.get("key") or f"replay:{path}"
    children = record.get("children", [])
    if kind == "columns":
        for j, (column, child) in enumerate(
            zip(where.columns([c["weight"] or 1 for c in children]), children, strict=True)
        ):
            _draw(child["children"], column, links, f"{path}.{j}")
    elif kind == "tabs":
        for j, (tab, child) in enumerate(
            zip(where.tabs([c["label"] for c in children]), children, strict=True)
        ):
            _draw(child["children"], tab, links, f"{path}.{j}")
    elif kind == "expander":
        _draw(children, where.expander(record["label"], expanded=record["expanded"]), links, path)
    elif kind == "form":
        _draw(children, where.form(key=f"replay:{record['key']}"), links, path)
    elif kind == "popover":
        _draw(children, where.popover(record["label"]), links, path)
    elif kind in ("container", "column", "tab"):
        box = where.container(
            horizontal=record.get("horizontal", False), border=record.get("border", False)
        )
        _draw(children, box, links, path)
    elif kind in HEADINGS:
        getattr(where, kind)(record["body"], anchor=False)
    elif kind in TEXTS:
        getattr(where, kind)(record["body"])
    elif kind == "divider":
        where.divider()
    elif kind == "code":
        where.code(record["body"], language=record["language"])
    elif kind == "dataframe":
        modes = record["selection_mode"]
        where.dataframe(
            record["value"],
            column_config=record["column_config"] or None,
            key=key,
            on_select="rerun" if modes else "ignore",
            selection_mode=modes or "multi-row",
        )
    elif kind == "table":
        where.table(record["value"])
    elif kind == "metric":
        where.metric(record["label"], record["value"], record["delta"] or None)
    elif kind in ("button", "form_submit_button"):
        getattr(where, kind)(
            record["label"], type=record["type"], disabled=record["disabled"], key=key
        )
    elif kind == "download_button":
        where.download_button(
            record["label"],
            data=b"",
            file_name="replay.csv",
            type=record["type"],
            disabled=record["disabled"],
            key=key,
        )
    elif kind in ("text_input", "text_area"):
        getattr(where, kind)(record["label"], value=record["value"], key=key)
    elif kind in ("selectbox", "radio"):
        getattr(where, kind)(record["label"], record["options"], index=record["index"], key=key)
    elif kind == "multiselect":
        where.multiselect(record["label"], record["options"], default=record["value"], key=key)
    elif kind in ("toggle", "checkbox"):
        getattr(where, kind)(record["label"], value=record["value"], key=key)
    elif kind in ("number_input", "slider"):
        numbers = {n: record[n] for n in ("min", "max", "value", "step")}
        if any(isinstance(v, float) for v in numbers.values()):
            # The page's own call may mix ints and floats; AppTest reports them as stored.
            numbers = {
                n: v if v is None or not isinstance(v, int) else float(v)
                for n, v in numbers.items()
            }
        getattr(where, kind)(
            record["label"],
            min_value=numbers["min"],
            max_value=numbers["max"],
            value=numbers["value"],
            step=numbers["step"],
            key=key,
        )
    elif kind == "button_group":
        where.segmented_control(
            "replay",
            record["options"],
            default=record["value"],
            key=key,
            label_visibility="collapsed",
        )
    elif kind == "progress":
        where.progress(record["value"], text=record["text"] or None)
    elif kind == "date_input":
        where.date_input(record["label"], value=record["value"], key=key)
    elif kind == "page_link":
        target = links.get(record["page"].strip("/"))
        if target is not None:
            where.page_link(target, label=record["label"])
    elif kind == "file_uploader":
        where.file_uploader(record["label"], key=key)
    elif kind == "plotly_chart":
        where.plotly_chart(record["figure"], key=key, width="stretch")
    elif kind == "vega_lite_chart":
        spec = json.loads(record["spec"])
        if record["datasets"]:
            spec["datasets"] = record["datasets"]
        where.vega_lite_chart(record["data"], spec, key=key, width="stretch")


# ---------------------------------------------------------------------- checking
def comparable(records: list[Record]) -> list[Any]:
    """What a replay must reproduce of ``records``: each record's kind and values, without
    widget keys, kinds drawn as nothing (``unknown``) or Plotly's serialisation details
    (data and layout compared as parsed JSON, empty settings left out); tables as JSON,
    column weights to six places."""
    out = []
    for record in records:
        if record["kind"] == "unknown":
            continue
        item = {k: v for k, v in record.items() if k not in ("key", "children", "figure")}
        if "value" in item and hasattr(item["value"], "to_json"):
            item["value"] = json.loads(item["value"].to_json(orient="split", date_format="iso"))
        if "spec" in item:
            spec = json.loads(item["spec"])
            item["spec"] = _pruned({"data": spec.get("data"), "layout": spec.get("layout")})
        if item.get("data") is not None:
            item["data"] = json.loads(item["data"].to_json(orient="split"))
        if "datasets" in item:
            item["datasets"] = {
                name: json.loads(data.to_json(orient="split"))
                for name, data in item["datasets"].items()
            }
        if "weight" in item:
            item["weight"] = round(item["weight"], 6)
        if "children" in record:
            item["children"] = comparable(record["children"])
        out.append(item)
    return out


def _pruned(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def replayed(capture_file: Path, names: list[str]) -> dict[str, dict[str, list[Record]]]:
    """The pages ``names`` of a capture pickle, drawn by the bare app under AppTest and
    captured again (so a caller can compare them with the original). Raises RuntimeError
    naming the page when a replay fails."""
    from streamlit.testing.v1 import AppTest

    before = os.environ.get(CAPTURE_ENV)
    os.environ[CAPTURE_ENV] = str(capture_file)
    try:
        pages = {}
        for name in names:
            at = AppTest.from_file(str(BARE_APP), default_timeout=120)
            at.session_state[PAGE_KEY] = name
            at.run()
            if at.exception:
                raise RuntimeError(f"replaying {name} failed: {at.exception[0].message}")
            pages[name] = capture(at)
    finally:
        if before is None:
            os.environ.pop(CAPTURE_ENV, None)
        else:
            os.environ[CAPTURE_ENV] = before
    return pages
