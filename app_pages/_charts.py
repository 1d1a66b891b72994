"""Charts and table formats of the pages.

Charts are Plotly figures, or Vega-Lite specifications (plain dicts) where Plotly adds
nothing the reader needs: the bars and bubbles of the Priorities page, which the browser
draws several times faster (its time after another reviewer's tag was mostly drawing).
Plotly draws text as SVG text but reads a small subset of HTML in it (``<b>``, ``<br>``,
``<a href>``) and HTML entities, so every string from data (tag names, class names, slice
values) goes through :func:`plain` before it enters a Plotly figure. Vega-Lite draws text
as text and its tooltips escape HTML, so strings from data enter its specifications as they
are (escaped, they would show as ``&lt;``).

A chart draws at most :data:`TOP` tags or slices and says in its subtitle what the rest
hold: with thousands of tags a chart of all of them is megabytes of JSON that freezes the
browser, and unreadable anyway. The tables next to the charts are paged and downloadable
whole.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from erroranalysis.vocabulary import SQL_ROWS_LIMIT

PERCENT = "%.1f%%"
BLUE, ORANGE, GREEN, GREY = "#1f77b4", "#ff7f0e", "#2ca02c", "#9e9e9e"
KIND_COLORS = {"reviewed": BLUE, "dataset": ORANGE, "rule": GREEN}
ROW_HEIGHT = 28  # pixels per bar or heatmap row: one readable row per tag or class
BUBBLE_LABELS = 5  # the bubbles with the largest marginal effect get a text label
TOP = 25  # tags (or slices) a chart draws; the rest are summarised in its subtitle
PLOTLY_CONFIG = {"displaylogo": False, "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


def plain(text: object) -> str:
    """``text`` as a string Plotly shows literally: ``&``, ``<`` and ``>`` escaped, so data
    never becomes a link, a line break or formatting in a chart."""
    return html.escape(str(text), quote=False)


def _plain_all(values: Iterable[object]) -> list[str]:
    return [plain(v) for v in values]


def show(fig: go.Figure | dict[str, Any], *, key: str, where: Any = st) -> None:
    """Draw ``fig`` (a Plotly figure or a Vega-Lite specification) full width in ``where``
    (``st`` or a container)."""
    if isinstance(fig, dict):
        where.vega_lite_chart(fig, width="stretch", key=key)
    else:
        where.plotly_chart(fig, width="stretch", config=PLOTLY_CONFIG, key=key)


def percent(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="percent", help=help)


WHEN = "YYYY-MM-DD HH:mm"

RUNS_COLUMNS = {
    "accuracy": percent("accuracy"),
    "imported_at": st.column_config.DatetimeColumn("imported (UTC)", format=WHEN),
    "imported_by": st.column_config.TextColumn("imported by"),
    "examples": st.column_config.NumberColumn("examples", format="localized"),
    "errors": st.column_config.NumberColumn("errors", format="localized"),
    "production": st.column_config.CheckboxColumn(
        "production", help="a production sample: predictions without labels"
    ),
    "in_sql": st.column_config.CheckboxColumn(
        "in SQL views",
        help=f"its examples are in the project file's SQL views; a run of more than "
        f"{SQL_ROWS_LIMIT:,} examples gets them with: erroranalysis sql-rows",
    ),
}

TAG_COLUMNS = {
    "hlp": percent("HLP", "human-level performance on examples with this tag"),
    "hlp_source": st.column_config.TextColumn("HLP from", help="set by the team, or measured"),
    "examples": st.column_config.NumberColumn("examples", format="localized"),
    "effort": st.column_config.NumberColumn("effort", format="%.2g"),
}

PRIORITY_COLUMNS = {
    "rank": st.column_config.NumberColumn("rank", width="small"),
    "share": percent("share", "fraction of all examples with this tag (estimated)"),
    "share_low": None,
    "share_high": None,
    "accuracy": percent("accuracy", "model accuracy on examples with this tag"),
    "accuracy_low": None,
    "accuracy_high": None,
    "hlp": percent("HLP", "human-level performance on this tag"),
    "hlp_source": st.column_config.TextColumn("HLP from"),
    "gap": percent("gap", "HLP − accuracy"),
    "marginal_effect": percent(
        "marginal effect", "max(gap, 0) × share: how much overall accuracy could rise"
    ),
    "marginal_effect_low": None,
    "marginal_effect_high": None,
    "interval": st.column_config.TextColumn(
        "95% interval", help="of the marginal effect, from the reviewed sample"
    ),
    "effort": st.column_config.NumberColumn("effort", format="%.2g"),
}

ERROR_SHARE_COLUMNS = {
    "errors": st.column_config.NumberColumn(
        "errors with the tag", format="localized", help="reviewed errors carrying this tag"
    ),
    "reviewed_errors": st.column_config.NumberColumn(
        "errors looked at", format="localized", help="errors reviewed (or tagged on import)"
    ),
    "share_of_errors": percent("share of errors", "fraction of the errors with this tag"),
    "interval": st.column_config.TextColumn(
        "95% interval", help="of the share of errors, from the reviewed sample"
    ),
}

EXCLUSIVE_COLUMNS = {
    "examples": st.column_config.NumberColumn(
        "examples", format="localized", help="examples carrying this tag, where every tag is known"
    ),
    "exclusive": st.column_config.NumberColumn(
        "alone", format="localized", help="of those, the examples that carry no other tag"
    ),
    "exclusive_share": percent(
        "exclusive share", "the fraction of the tag's examples that carry no other tag"
    ),
}

SLICE_COLUMNS = {
    "share": percent("share"),
    "accuracy": percent("accuracy"),
    "precision": percent("precision"),
    "recall": percent("recall"),
    "f1": percent("F1"),
    "baseline_accuracy": percent("baseline"),
    "hlp": percent("HLP"),
    "hlp_source": st.column_config.TextColumn("HLP from"),
    "accuracy_rest": percent("accuracy elsewhere"),
    "p_value": st.column_config.NumberColumn("p", format="%.2g"),
    "p_adjusted": st.column_config.NumberColumn("p adjusted", format="%.2g"),
    "flagged": st.column_config.CheckboxColumn("flagged", help="significantly worse than the rest"),
}

DRIFT_COLUMNS = {
    "examples_dev": st.column_config.NumberColumn("examples (dev)", format="localized"),
    "examples_against": st.column_config.NumberColumn("examples (production)", format="localized"),
    "share_dev": percent("share (dev)"),
    "share_against": percent("share (production)"),
    "interval": st.column_config.TextColumn("95% interval (production)"),
    "shift": percent("shift", "share in production − share in dev"),
    "p_adjusted": st.column_config.NumberColumn(
        "p (Holm)", format="%.3g", help="two-sided Fisher test, Holm-adjusted over the rows"
    ),
    "drifted": st.column_config.CheckboxColumn("drifted"),
    "accuracy_dev": percent("accuracy (dev)"),
    "hlp": percent("HLP"),
    "marginal_effect_dev": percent("marginal effect (dev)"),
    "marginal_effect_against": percent("marginal effect (production)"),
    "projected_accuracy": percent(
        "projected accuracy", "dev accuracies reweighted by production's shares"
    ),
}

_KAPPA = {
    "observed_agreement": percent("observed agreement", "share of decisions made alike"),
    "kappa": st.column_config.NumberColumn(
        "kappa", format="%.2f", help="agreement beyond chance: 1 perfect, 0 no better than chance"
    ),
    "kappa_low": st.column_config.NumberColumn("95% low", format="%.2f"),
    "kappa_high": st.column_config.NumberColumn("95% high", format="%.2f"),
    "flagged": st.column_config.CheckboxColumn("flagged", help="kappa below the threshold"),
}
AGREEMENT_COLUMNS = {
    "examples": st.column_config.NumberColumn(
        "examples", format="localized", help="seen by two or more reviewers"
    ),
    "method": st.column_config.TextColumn(
        "kappa", help="Cohen's (two reviewers) or Fleiss' (more)"
    ),
    **_KAPPA,
}
REVIEWER_AGREEMENT_COLUMNS = {
    "examples": st.column_config.NumberColumn(
        "examples", format="localized", help="shared with another reviewer"
    ),
    "others": st.column_config.NumberColumn("others", help="reviewers who decided them too"),
    **_KAPPA,
}

HISTORY_COLUMNS = {
    "at": st.column_config.DatetimeColumn("when (UTC)", format=WHEN),
    "queue": st.column_config.TextColumn("queue", help="how the example came to be reviewed"),
    "label_wrong": st.column_config.CheckboxColumn("label wrong"),
    "corrected_label": st.column_config.TextColumn("corrected label"),
}


# ------------------------------------------------------------------ figure helpers
def _figure(
    title: str, *, rows: int = 0, min_height: int = 200, note: str | None = None
) -> go.Figure:
    """An empty figure with the app's layout, tall enough for ``rows`` readable rows;
    ``note`` (what the chart leaves out) is its subtitle."""
    fig = go.Figure()
    heading: dict[str, Any] = {"text": plain(title), "x": 0, "xanchor": "left"}
    if note:
        heading["subtitle"] = {"text": plain(note), "font": {"color": GREY}}
    top = (70 if note else 50) if title or note else 20
    fig.update_layout(
        title=heading if title or note else None,
        height=max(min_height, ROW_HEIGHT * rows + 130 + (20 if note else 0)),
        margin={"l": 10, "r": 10, "t": top, "b": 40},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.0, "xanchor": "right", "x": 1},
        hoverlabel={"align": "left"},
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    return fig


def _empty(title: str) -> go.Figure:
    fig = _figure(title, min_height=160)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.add_annotation(
        text="Nothing to chart yet",
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
        font={"color": GREY},
    )
    return fig


def _categories(fig: go.Figure, axis: str, order: list[str]) -> None:
    """A categorical axis in ``order`` (first on top for y), even when names look numeric."""
    options: dict[str, Any] = {"type": "category", "categoryorder": "array", "categoryarray": order}
    if axis == "y":
        fig.update_yaxes(autorange="reversed", **options)
    else:
        fig.update_xaxes(**options)


def _with_evidence(rows: pd.DataFrame, numbers: list[str]) -> np.ndarray:
    """Hover data: the ``numbers`` columns as floats, then the plain evidence of each row."""
    columns = [rows[name].to_numpy(dtype=float) for name in numbers]
    return np.column_stack([*columns, _plain_all(rows["evidence"])]).astype(object)


def _interval(values: pd.Series, low: pd.Series, high: pd.Series) -> dict[str, Any]:
    """Asymmetric error bars from interval ends (none where an end is unknown)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (high - values).clip(lower=0).fillna(0).to_numpy(),
        "arrayminus": (values - low).clip(lower=0).fillna(0).to_numpy(),
        "color": "#333333",
        "thickness": 1.2,
        "width": 4,
    }


def _bar_groups(
    rows: pd.DataFrame,
    keys: np.ndarray | pd.Series,
    styles: list[tuple[object, str, str]],
    *,
    x: str,
    y: str,
) -> Iterator[tuple[pd.DataFrame, dict[str, Any]]]:
    """Horizontal bars of ``rows``, one trace (legend entry) per (key, name, colour) of
    ``styles`` in order: the rows whose key it is and the trace's bars (length ``x``, label
    ``y`` shown plain, the style's name and colour). A key without rows draws none."""
    for key, name, color in styles:
        chosen = rows[np.asarray(keys == key)]
        if not chosen.empty:
            yield (
                chosen,
                {
                    "x": chosen[x].to_numpy(),
                    "y": _plain_all(chosen[y]),
                    "orientation": "h",
                    "name": name,
                    "marker_color": color,
                },
            )


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _share_of_rest(values: pd.Series, rest: pd.Index, *, what: str) -> str:
    """How much of the summed ``values`` the rows ``rest`` hold, as a note's tail."""
    total = float(values.clip(lower=0).sum())
    if total <= 0:
        return f"none of them has a {what}"
    share = float(values.loc[rest].clip(lower=0).sum()) / total
    return f"{share:.0%} of the summed {what}"


def rest_note(
    shown: int, total: int, *, word: str = "tag", lead: str = "Top", tail: str = ""
) -> str | None:
    """The subtitle of a chart that draws ``shown`` of ``total`` rows (None when it draws
    them all), e.g. "Top 25 of 2,000 tags; 1,975 more tags: 12% of the summed marginal
    effect"."""
    if total <= shown:
        return None
    more = _count(total - shown, f"more {word}")
    return f"{lead} {shown:,} of {total:,} {word}s; {more}" + (
        f": {tail}" if tail else " not drawn"
    )


# ------------------------------------------------------------------ Vega-Lite helpers
def _vega_title(title: str, note: str | None) -> dict[str, Any]:
    heading: dict[str, Any] = {"text": title, "anchor": "start"}
    if note:
        heading |= {"subtitle": note, "subtitleColor": GREY}
    return heading


def _vega_empty(title: str) -> dict[str, Any]:
    return {
        "title": _vega_title(title, None),
        "height": 120,
        "data": {"values": [{"text": "Nothing to chart yet"}]},
        "mark": {"type": "text", "color": GREY},
        "encoding": {"text": {"field": "text"}},
    }


def _records(rows: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    """The ``columns`` of ``rows`` as JSON records, missing values as null (not NaN)."""
    # Column by column as Python values: DataFrame.to_dict spends ~30 ms on 25 rows here.
    lists = [[None if pd.isna(v) else v for v in rows[name].tolist()] for name in columns]
    return [dict(zip(columns, row, strict=True)) for row in zip(*lists, strict=True)]


def _kind_colors(kinds: Iterable[object]) -> dict[str, Any]:
    """A colour per tag kind, in order of appearance, with its legend on top."""
    domain = [str(k) for k in dict.fromkeys(kinds)]
    return {
        "field": "kind",
        "type": "nominal",
        "scale": {"domain": domain, "range": [KIND_COLORS.get(k, GREY) for k in domain]},
        "legend": {"title": "kind", "orient": "top"},
    }


def _vega_bars(
    rows: pd.DataFrame,
    *,
    title: str,
    note: str | None,
    x: str,
    x_title: str,
    tooltip: list[dict[str, Any]],
    color: dict[str, Any],
) -> dict[str, Any]:
    """Horizontal bars of ``x`` per tag in ``rows``' order (first on top), each with its
    95% interval (``x``_low to ``x``_high; none where an end is unknown)."""
    interval = [f"{x}_low", f"{x}_high"]
    fields = list(dict.fromkeys(["tag", x, *interval, *(t["field"] for t in tooltip)]))
    if "field" in color:
        fields.append(color["field"])
    return {
        "title": _vega_title(title, note),
        "data": {"values": _records(rows, list(dict.fromkeys(fields)))},
        "height": {"step": ROW_HEIGHT},
        "encoding": {
            "y": {"field": "tag", "type": "nominal", "sort": None, "title": None},
        },
        "layer": [
            {
                "mark": {"type": "bar"},
                "encoding": {
                    "x": {
                        "field": x,
                        "type": "quantitative",
                        "title": x_title,
                        "axis": {"format": ".0%"},
                        "scale": {"zero": True},
                    },
                    "color": color,
                    "tooltip": tooltip,
                },
            },
            {
                "mark": {"type": "errorbar", "ticks": True, "color": "#333333"},
                "encoding": {
                    "x": {"field": interval[0], "type": "quantitative"},
                    "x2": {"field": interval[1]},
                },
            },
        ],
    }


# ------------------------------------------------------------------ charts
def class_balance(balance: pd.DataFrame, *, label: str, count: str) -> go.Figure:
    """Examples per true class, most frequent first."""
    if balance.empty:
        return _empty("Class balance")
    ordered = balance.sort_values(count, ascending=False, kind="stable")
    names = _plain_all(ordered[label])
    fig = _figure("Class balance", rows=len(ordered))
    fig.add_bar(
        x=ordered[count].to_numpy(),
        y=names,
        orientation="h",
        marker_color=BLUE,
        hovertemplate="%{y}: %{x:,} examples<extra></extra>",
        showlegend=False,
    )
    _categories(fig, "y", names)
    fig.update_xaxes(title="examples", tickformat=",")
    return fig


def marginal_effect_bars(table: pd.DataFrame, *, top: int = TOP) -> dict[str, Any]:
    """Marginal effect per tag with its 95% interval, the first ``top`` tags in rank order,
    coloured by kind (a Vega-Lite specification); the subtitle says how many more there are
    and what share of the marginal effect they hold."""
    title = "Marginal effect (95% interval)"
    everything = table[table["marginal_effect"].notna()]
    if everything.empty:
        return _vega_empty(title)
    known = everything.head(top)
    rest = everything.index[len(known) :]
    note = rest_note(
        len(known),
        len(everything),
        tail=_share_of_rest(everything["marginal_effect"], rest, what="marginal effect"),
    )
    return _vega_bars(
        known,
        title=title,
        note=note,
        x="marginal_effect",
        x_title="marginal effect on accuracy",
        color=_kind_colors(known["kind"]),
        tooltip=[
            {"field": "tag"},
            {"field": "marginal_effect", "title": "marginal effect", "format": ".2%"},
            {"field": "marginal_effect_low", "title": "95% interval from", "format": ".2%"},
            {"field": "marginal_effect_high", "title": "95% interval to", "format": ".2%"},
            {"field": "evidence"},
            {"field": "kind"},
        ],
    )


def gap_share_bubbles(table: pd.DataFrame, *, top: int = TOP) -> dict[str, Any]:
    """Gap to HLP against share of the data for the ``top`` tags of largest marginal effect
    (a Vega-Lite specification): the top right is where data helps most. Only the few
    largest bubbles carry a label (neighbours along the x axis alternately above and below),
    so labels do not pile up; hovering shows every tag drawn."""
    title = "Gap to HLP vs share of the data"
    everything = table[table["gap"].notna() & table["share"].notna()]
    if everything.empty:
        return _vega_empty(title)
    all_effects = everything["marginal_effect"].fillna(0).clip(lower=0)
    drawn = all_effects.sort_values(ascending=False, kind="stable").index[:top]
    known = everything.loc[everything.index.isin(drawn)]
    rest = everything.index.difference(drawn)
    note = rest_note(
        len(known),
        len(everything),
        tail=_share_of_rest(all_effects, rest, what="marginal effect"),
    )
    effect = all_effects.loc[known.index]
    largest = float(effect.max())
    diameter = 10 + 34 * np.sqrt(effect / largest) if largest > 0 else effect * 0 + 10
    labelled = effect.sort_values(ascending=False, kind="stable").index[:BUBBLE_LABELS]
    by_share = known.loc[labelled].sort_values("share").index
    label = pd.Series("", index=known.index, dtype=object)
    label[by_share[0::2]] = "above"
    label[by_share[1::2]] = "below"
    rows = known.assign(effect=effect, area=diameter**2, label=label)
    share = {"field": "share", "type": "quantitative", "axis": {"format": ".0%"}}
    gap = {"field": "gap", "type": "quantitative", "axis": {"format": ".0%"}}

    def labels(where: str, baseline: str, dy: int) -> dict[str, Any]:
        return {
            "transform": [{"filter": {"field": "label", "equal": where}}],
            "mark": {"type": "text", "baseline": baseline, "dy": dy, "fontSize": 11},
            "encoding": {"text": {"field": "tag"}},
        }

    return {
        "title": _vega_title(title, note),
        "data": {
            "values": _records(rows, ["tag", "kind", "share", "gap", "effect", "area", "label"])
        },
        "height": 340,
        "encoding": {
            "x": share | {"title": "share of the data", "scale": {"zero": True}},
            "y": gap | {"title": "gap (HLP − accuracy)"},
        },
        "layer": [
            {
                "mark": {"type": "circle", "opacity": 0.7, "stroke": "white", "strokeWidth": 1},
                "encoding": {
                    "size": {"field": "area", "type": "quantitative", "scale": None},
                    "color": _kind_colors(rows["kind"]),
                    "tooltip": [
                        {"field": "tag"},
                        {"field": "share", "title": "share of the data", "format": ".1%"},
                        {"field": "gap", "format": ".1%"},
                        {"field": "effect", "title": "marginal effect", "format": ".2%"},
                        {"field": "kind"},
                    ],
                },
            },
            labels("above", "bottom", -12),
            labels("below", "top", 12),
        ],
    }


def error_share_bars(shares: pd.DataFrame, *, top: int = TOP) -> dict[str, Any]:
    """Share of the (reviewed) errors carrying each tag, with its 95% interval: the ``top``
    largest shares (a Vega-Lite specification); the subtitle says how large the rest are at
    most."""
    title = "Share of errors per tag"
    everything = shares[shares["share_of_errors"].notna()]
    if everything.empty:
        return _vega_empty(title)
    ordered = everything.sort_values("share_of_errors", ascending=False, kind="stable")
    known, rest = ordered.head(top), ordered.iloc[top:]
    largest = float(rest["share_of_errors"].max()) if len(rest) else 0.0
    note = rest_note(
        len(known), len(everything), tail=f"each on at most {largest:.1%} of the errors"
    )
    return _vega_bars(
        known,
        title=title,
        note=note,
        x="share_of_errors",
        x_title="share of errors",
        color={"value": ORANGE},
        tooltip=[
            {"field": "tag"},
            {"field": "share_of_errors", "title": "share of errors", "format": ".1%"},
            {"field": "share_of_errors_low", "title": "95% interval from", "format": ".1%"},
            {"field": "share_of_errors_high", "title": "95% interval to", "format": ".1%"},
            {"field": "errors", "title": "errors with the tag", "format": ","},
            {"field": "reviewed_errors", "title": "errors looked at", "format": ","},
        ],
    )


def heatmap(
    matrix: pd.DataFrame, *, title: str, x: str, y: str, value: str, note: str | None = None
) -> go.Figure:
    """A count matrix (rows ``y``, columns ``x``) as a heatmap with the counts written in,
    one readable row per class or tag; ``note`` (what was left out) is its subtitle."""
    if matrix.empty:
        return _empty(title)
    rows, columns = _plain_all(matrix.index), _plain_all(matrix.columns)
    counts = matrix.to_numpy()
    fig = _figure(title, rows=len(rows), min_height=300, note=note)
    fig.add_heatmap(
        z=counts,
        x=columns,
        y=rows,
        texttemplate="%{z:,}",
        textfont={"size": 11},
        colorscale="Blues",
        xgap=1,
        ygap=1,
        colorbar={"title": {"text": plain(value)}, "thickness": 12},
        hovertemplate=f"{plain(y)}: %{{y}}<br>{plain(x)}: %{{x}}<br>{plain(value)}: %{{z:,}}"
        "<extra></extra>",
    )
    _categories(fig, "y", rows)
    _categories(fig, "x", columns)
    fig.update_xaxes(title=plain(x), side="bottom", showgrid=False)
    fig.update_yaxes(title=plain(y), showgrid=False)
    return fig


def top_overlap(overlap: pd.DataFrame, order: Iterable[object], *, top: int = TOP) -> pd.DataFrame:
    """The tag overlap matrix of its first ``top`` tags in ``order`` (the priority ranking;
    tags missing from it come last), both ways: the pairs worth a look, not a 2,000 × 2,000
    grid."""
    ranked = [t for t in dict.fromkeys(order) if t in overlap.index]
    known = set(ranked)
    names = [*ranked, *(t for t in overlap.index if t not in known)][:top]
    return overlap.loc[names, names]


def slice_accuracy(slices: pd.DataFrame, *, top: int = TOP) -> go.Figure:
    """Accuracy per slice, the ``top`` worst first; flagged slices in orange. The subtitle
    says how many more slices there are and the range of their accuracy."""
    title = "Accuracy per slice"
    if slices.empty:
        return _empty(title)
    everything = slices.sort_values("accuracy", kind="stable")
    ordered, rest = everything.head(top), everything.iloc[top:]
    tail = ""
    if len(rest) and rest["accuracy"].notna().any():
        tail = f"accuracy {rest['accuracy'].min():.0%} to {rest['accuracy'].max():.0%}"
    note = rest_note(len(ordered), len(everything), word="slice", lead="Worst", tail=tail)
    flagged = ordered["flagged"].fillna(False).astype(bool)
    fig = _figure(title, rows=len(ordered), note=note)
    styles = [(False, "not flagged", BLUE), (True, "flagged", ORANGE)]
    for rows, bars in _bar_groups(ordered, flagged, styles, x="accuracy", y="slice"):
        fig.add_bar(
            **bars,
            customdata=rows[["examples"]].to_numpy(dtype=float),
            hovertemplate="<b>%{y}</b><br>accuracy: %{x:.1%}<br>%{customdata[0]:,} examples"
            f"<extra>{bars['name']}</extra>",
        )
    _categories(fig, "y", _plain_all(ordered["slice"]))
    fig.update_xaxes(title="accuracy", tickformat=".0%", range=[0, 1])
    fig.update_layout(barmode="overlay")
    return fig


def drift_shares(table: pd.DataFrame, *, top: int = TOP) -> go.Figure:
    """Each row's share in dev and in production with their 95% intervals, the first
    ``top`` rows in the table's order (drifted rows marked ``*``); the subtitle says how
    many more there are."""
    title = "Share in dev and in production (95% intervals)"
    if table.empty:
        return _empty(title)
    shown = table.head(top)
    names = [
        plain(tag) + (" *" if drifted else "")
        for tag, drifted in zip(shown["tag"], shown["drifted"], strict=True)
    ]
    note = rest_note(len(shown), len(table), word="row")
    fig = _figure(title, rows=2 * len(shown), note=note)
    for side, name, color in [("dev", "dev", BLUE), ("against", "production", ORANGE)]:
        share = shown[f"share_{side}"]
        low, high = shown[f"share_{side}_low"], shown[f"share_{side}_high"]
        fig.add_bar(
            x=share.to_numpy(),
            y=names,
            orientation="h",
            name=name,
            marker_color=color,
            error_x=_interval(share, low, high),
            customdata=np.column_stack([low.to_numpy(dtype=float), high.to_numpy(dtype=float)]),
            hovertemplate="<b>%{y}</b><br>share: %{x:.1%}"
            "<br>95% interval: %{customdata[0]:.1%} – %{customdata[1]:.1%}"
            f"<extra>{name}</extra>",
        )
    _categories(fig, "y", names)
    fig.update_xaxes(title="share of the examples", tickformat=".0%", rangemode="tozero")
    fig.update_layout(barmode="group", legend_title_text="")
    return fig


def difference_bars(table: pd.DataFrame, *, top: int = TOP) -> go.Figure:
    """Accuracy B − A per tag with its interval: the whole dataset first, then the ``top``
    tags of largest change, worst first; regressed tags in orange, improved in green. The
    subtitle says how many more tags there are and how far they move at most."""
    title = "Accuracy B − A (95% interval)"
    known = table[table["difference"].notna()]
    if known.empty:
        return _empty(title)
    whole, tags = known.iloc[:0], known
    if "kind" in known and (known["kind"] == "all").any():
        whole, tags = known[known["kind"] == "all"], known[known["kind"] != "all"]
    largest = tags["difference"].abs().sort_values(ascending=False, kind="stable").index[:top]
    drawn = tags.loc[tags.index.isin(largest)]
    rest = tags.drop(largest)
    tail = f"each within ±{rest['difference'].abs().max():.1%}" if len(rest) else ""
    note = rest_note(len(drawn), len(tags), tail=tail)
    shown = pd.concat([whole, drawn])
    status = np.where(shown["regression"], "regressed", np.where(shown["improved"], "improved", ""))
    fig = _figure(title, rows=len(shown), note=note)
    styles = [
        ("regressed", "regressed", ORANGE),
        ("improved", "improved", GREEN),
        ("", "no significant change", BLUE),
    ]
    for rows, bars in _bar_groups(shown, status, styles, x="difference", y="tag"):
        fig.add_bar(
            **bars,
            error_x=_interval(rows["difference"], rows["difference_low"], rows["difference_high"]),
            customdata=_with_evidence(
                rows, ["accuracy_a", "accuracy_b", "difference_low", "difference_high"]
            ),
            hovertemplate="<b>%{y}</b><br>accuracy %{customdata[0]:.1%} → %{customdata[1]:.1%}"
            "<br>B − A: %{x:+.1%} (95% interval %{customdata[2]:+.1%} – %{customdata[3]:+.1%})"
            "<br>evidence: %{customdata[4]}<extra>%{fullData.name}</extra>",
        )
    _categories(fig, "y", _plain_all(shown["tag"]))
    fig.update_xaxes(title="accuracy in B − accuracy in A", tickformat="+.0%", zeroline=True)
    fig.update_layout(barmode="overlay")
    return fig
