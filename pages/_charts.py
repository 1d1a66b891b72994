"""Charts and table formats of the pages.

Charts are Vega-Lite (Altair): tag names and class names from data are drawn as plain text,
never parsed as HTML or Markdown.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

PERCENT = "%.1f%%"
BLUE, ORANGE, GREY = "#1f77b4", "#ff7f0e", "#9e9e9e"
KIND_COLORS = alt.Scale(domain=["reviewed", "dataset", "rule"], range=[BLUE, ORANGE, "#2ca02c"])


def percent(label: str, help: str | None = None) -> st.column_config.NumberColumn:
    return st.column_config.NumberColumn(label, format="percent", help=help)


RUNS_COLUMNS = {
    "accuracy": percent("accuracy"),
    "examples": st.column_config.NumberColumn("examples", format="localized"),
    "errors": st.column_config.NumberColumn("errors", format="localized"),
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

SLICE_COLUMNS = {
    "share": percent("share"),
    "accuracy": percent("accuracy"),
    "precision": percent("precision"),
    "recall": percent("recall"),
    "f1": percent("F1"),
    "baseline_accuracy": percent("baseline"),
    "hlp": percent("HLP"),
    "accuracy_rest": percent("accuracy elsewhere"),
    "p_value": st.column_config.NumberColumn("p", format="%.2g"),
    "p_adjusted": st.column_config.NumberColumn("p adjusted", format="%.2g"),
    "flagged": st.column_config.CheckboxColumn("flagged", help="significantly worse than the rest"),
}


def _empty() -> alt.Chart:
    return alt.Chart(pd.DataFrame({"x": []})).mark_text()


def class_balance(balance: pd.DataFrame, *, label: str, count: str) -> alt.Chart:
    """Examples per true class, most frequent first."""
    return (
        alt.Chart(balance, title="Class balance")
        .mark_bar(color=BLUE)
        .encode(
            x=alt.X(f"{count}:Q", title="examples"),
            y=alt.Y(f"{label}:N", sort="-x", title=None),
            tooltip=[alt.Tooltip(f"{label}:N"), alt.Tooltip(f"{count}:Q", format=",")],
        )
    )


def marginal_effect_bars(table: pd.DataFrame) -> alt.Chart:
    """Marginal effect per tag with its 95% interval, in rank order."""
    known = table[table["marginal_effect"].notna()]
    if known.empty:
        return _empty()
    order = known["tag"].tolist()
    base = alt.Chart(known, title="Marginal effect (95% interval)").encode(
        y=alt.Y("tag:N", sort=order, title=None)
    )
    bars = base.mark_bar().encode(
        x=alt.X(
            "marginal_effect:Q", title="marginal effect on accuracy", axis=alt.Axis(format="%")
        ),
        color=alt.Color("kind:N", scale=KIND_COLORS, title="kind"),
        tooltip=[
            "tag:N",
            alt.Tooltip("marginal_effect:Q", format=".2%", title="marginal effect"),
            alt.Tooltip("marginal_effect_low:Q", format=".2%", title="low"),
            alt.Tooltip("marginal_effect_high:Q", format=".2%", title="high"),
            "evidence:N",
        ],
    )
    whiskers = base.mark_errorbar(ticks=True, color="black").encode(
        x=alt.X("marginal_effect_low:Q", title=""), x2="marginal_effect_high:Q"
    )
    return bars + whiskers


def gap_share_bubbles(table: pd.DataFrame) -> alt.Chart:
    """Gap to HLP against share of the data: the top right is where data helps most."""
    known = table[table["gap"].notna() & table["share"].notna()]
    if known.empty:
        return _empty()
    points = (
        alt.Chart(known, title="Gap to HLP vs share of the data")
        .mark_circle(opacity=0.7)
        .encode(
            x=alt.X("share:Q", title="share of the data", axis=alt.Axis(format="%")),
            y=alt.Y("gap:Q", title="gap (HLP − accuracy)", axis=alt.Axis(format="%")),
            size=alt.Size("marginal_effect:Q", title="marginal effect", legend=None),
            color=alt.Color("kind:N", scale=KIND_COLORS, title="kind"),
            tooltip=[
                "tag:N",
                alt.Tooltip("share:Q", format=".1%"),
                alt.Tooltip("gap:Q", format=".1%"),
                alt.Tooltip("marginal_effect:Q", format=".2%", title="marginal effect"),
            ],
        )
    )
    labels = points.mark_text(align="left", dx=8, dy=-6).encode(text="tag:N", size=alt.value(11))
    return points + labels


def error_share_bars(shares: pd.DataFrame) -> alt.Chart:
    """Share of the (reviewed) errors carrying each tag, with its 95% interval."""
    known = shares[shares["share_of_errors"].notna()]
    if known.empty:
        return _empty()
    order = known["tag"].tolist()
    base = alt.Chart(known, title="Share of errors per tag").encode(
        y=alt.Y("tag:N", sort=order, title=None)
    )
    bars = base.mark_bar(color=ORANGE).encode(
        x=alt.X("share_of_errors:Q", title="share of errors", axis=alt.Axis(format="%")),
        tooltip=[
            "tag:N",
            alt.Tooltip("share_of_errors:Q", format=".1%", title="share of errors"),
            alt.Tooltip("errors:Q", title="errors with the tag"),
            alt.Tooltip("reviewed_errors:Q", title="errors looked at"),
        ],
    )
    whiskers = base.mark_errorbar(ticks=True, color="black").encode(
        x=alt.X("share_of_errors_low:Q", title=""), x2="share_of_errors_high:Q"
    )
    return bars + whiskers


def heatmap(matrix: pd.DataFrame, *, title: str, x: str, y: str, value: str) -> alt.Chart:
    """A square count matrix (rows ``y``, columns ``x``) as a heatmap with the counts written in."""
    if matrix.empty:
        return _empty()
    cells = pd.DataFrame(
        {
            y: matrix.index.repeat(len(matrix.columns)).astype(str),
            x: list(map(str, matrix.columns)) * len(matrix.index),
            value: matrix.to_numpy().ravel(),
        }
    )
    order_y = list(map(str, matrix.index))
    order_x = list(map(str, matrix.columns))
    # One readable row per class or tag, however many there are.
    base = (
        alt.Chart(cells, title=title)
        .encode(
            x=alt.X(f"{x}:N", sort=order_x, title=x),
            y=alt.Y(f"{y}:N", sort=order_y, title=y),
        )
        .properties(height=max(160, 26 * len(order_y)))
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="blues"), title=value),
        tooltip=[f"{y}:N", f"{x}:N", alt.Tooltip(f"{value}:Q", format=",")],
    )
    text = base.mark_text(fontSize=11).encode(
        text=alt.Text(f"{value}:Q", format=","),
        color=alt.condition(
            alt.datum[value] > cells[value].max() / 2, alt.value("white"), alt.value("black")
        ),
    )
    return rect + text


def slice_accuracy(slices: pd.DataFrame) -> alt.Chart:
    """Accuracy per slice; flagged slices in orange."""
    if slices.empty:
        return _empty()
    return (
        alt.Chart(slices, title="Accuracy per slice")
        .mark_bar()
        .encode(
            x=alt.X("accuracy:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("slice:N", sort="x", title=None),
            color=alt.condition(alt.datum.flagged, alt.value(ORANGE), alt.value(BLUE)),
            tooltip=[
                "slice:N",
                alt.Tooltip("examples:Q", format=","),
                alt.Tooltip("accuracy:Q", format=".1%"),
                "flagged:N",
            ],
        )
    )
