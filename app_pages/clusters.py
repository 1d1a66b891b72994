"""Clusters: groups of similar errors on the run's embedding, a map of them, representative
examples to listen to or look at, and "Name this cluster" to tag a whole group at once."""

from __future__ import annotations

import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from app_pages import _ui
from erroranalysis import clusters

_ui.start_page()

AUTO = 0  # the k input's "choose it" value
COLUMNS = {
    "cluster": st.column_config.NumberColumn("Cluster", width="small"),
    "examples": st.column_config.NumberColumn("Examples", format="%d"),
    "errors": st.column_config.NumberColumn("Errors", format="%d"),
    "error_rate": st.column_config.NumberColumn("Error rate", format="percent"),
    "interval": st.column_config.TextColumn("95% interval"),
    "share_of_errors": st.column_config.NumberColumn("Share of errors", format="percent"),
    "weak": st.column_config.CheckboxColumn(
        "Weak", help="The error rate's interval lies wholly above the run's error rate"
    ),
    "common_error": st.column_config.TextColumn("Most common error"),
    "common_metadata": st.column_config.TextColumn(
        "Most over-represented value",
        help="The metadata value whose share of the cluster's errors most exceeds its share "
        "of the run",
        width="medium",
    ),
    "representatives": st.column_config.TextColumn("Representatives", width="medium"),
}
SHOWN = list(COLUMNS)  # the table's columns, in this order
GREY = "#b0b0b0"
# 24 distinct colours, none of them grey: a cluster's colour differs from the correct ones'.
PALETTE = px.colors.qualitative.Dark24


st.title("Clusters")
info = _ui.require_run()
actor = _ui.reviewer()
_ui.flash()
if info.production:
    st.info("A production sample has no labels, so no errors to cluster.")
    st.stop()
frame = _ui.run_data(info).frame
embeddings = _ui.embeddings(info)
text_column = None
if embeddings is None:
    if "text" not in frame.columns:
        st.info(
            "This run has no embedding to cluster its errors on. Import one with the data: a "
            "column `embedding` holding a list of numbers per example, columns `emb_0` … "
            "`emb_k`, or `erroranalysis import FILE --embeddings FILE.npy` (one row per "
            "example, in the file's order). A run with a `text` column is clustered on a "
            "TF-IDF embedding of it instead."
        )
        st.stop()
    text_column = "text"

left, right = st.columns(2)
k = left.number_input(
    "Clusters (0: choose)",
    min_value=0,
    max_value=clusters.MAX_K,
    value=AUTO,
    step=1,
    key="cl_k",
    help=f"0 chooses k: {clusters.K_RULE}.",
)
seed = right.number_input(
    "Seed", min_value=0, value=0, step=1, key="cl_seed", help="Of the sample and of k-means."
)
if k == 1:
    st.warning("One cluster is the whole run: choose 0 (automatic) or at least 2.")
    st.stop()
with st.spinner("Clustering the errors…"):
    result = _ui.analysis(
        "error_clusters",
        info,
        embeddings=embeddings,
        text_column=text_column,
        k=None if k == AUTO else int(k),
        seed=int(seed),
    )
if not result.k:
    st.info("This run has no errors to cluster.")
    st.stop()
st.caption(
    f"On {_ui.md(result.source)}: every error of the run and a seeded sample of "
    f"{result.correct_sampled:,} of its {result.correct_total:,} correct examples, so that a "
    "cluster where the model fails stands apart from one that is merely dense. k-means on "
    f"normalised vectors (cosine similarity); {result.k} clusters: {result.k_rule}. Each "
    "example of the run is then counted in its nearest cluster; a cluster is *weak* when its "
    f"error rate's 95% interval lies above the run's error rate ({result.error_rate:.1%})."
)


# ------------------------------------------------------------------ the map
def cluster_map(result: clusters.ErrorClusters) -> go.Figure:
    points, figure = result.points, go.Figure()
    correct = points[~points["error"]]
    figure.add_trace(
        go.Scattergl(
            x=correct["x"],
            y=correct["y"],
            mode="markers",
            name="correct (sample)",
            marker={"color": GREY, "size": 4, "opacity": 0.45},
            customdata=correct[["id", "cluster"]],
            hovertemplate="%{customdata[0]}: correct, cluster %{customdata[1]}<extra></extra>",
        )
    )
    for number in result.clusters["cluster"]:
        colour = PALETTE[(number - 1) % len(PALETTE)]
        errors = points[points["error"] & (points["cluster"] == number)]
        outline = result.outlines[result.outlines["cluster"] == number]
        figure.add_trace(
            go.Scattergl(
                x=errors["x"],
                y=errors["y"],
                mode="markers",
                name=f"cluster {number}",
                legendgroup=str(number),
                marker={"size": 7, "color": colour},
                customdata=errors[["id"]],
                hovertemplate=f"%{{customdata[0]}}: error, cluster {number}<extra></extra>",
            )
        )
        figure.add_trace(
            go.Scatter(
                x=outline["x"],
                y=outline["y"],
                mode="lines",
                legendgroup=str(number),
                showlegend=False,
                hoverinfo="skip",
                line={"width": 1, "dash": "dot", "color": colour},
            )
        )
    figure.add_trace(
        go.Scatter(
            x=result.centres["x"],
            y=result.centres["y"],
            mode="text",
            text=[str(c) for c in result.centres["cluster"]],
            textfont={"size": 16, "color": "#111"},
            showlegend=False,
            hoverinfo="skip",
        )
    )
    figure.update_layout(
        height=480,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"showticklabels": False, "title": None, "zeroline": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False},
        legend={"itemsizing": "constant"},
    )
    return figure


st.plotly_chart(cluster_map(result), key="cl_map", width="stretch")
st.caption(
    "Errors coloured by cluster, the sampled correct examples in grey, each cluster's middle "
    f"{clusters.OUTLINE_SHARE:.0%} of errors outlined and its number at its centre. The map "
    "is a linear projection on the plane that best separates the cluster centres."
)

table = _ui.with_interval(result.clusters, column="error_rate")
_ui.show_table(
    table[SHOWN],
    name="clusters",
    run=info,
    export_frame=result.clusters,
    hide_index=True,
    width="stretch",
    column_config=COLUMNS,
)


# ------------------------------------------------------------------ one cluster
def _name(number: int, tag: str) -> None:
    who, dataset = actor, info.dataset
    _ui.act(
        lambda: clusters.name_cluster(
            _ui.project().dataset(dataset), result, number, tag, actor=who
        ),
        what=f"the tag {tag!r} on cluster {number}",
        done=f"Tagged the errors of cluster {number} with {tag!r}: review them to confirm.",
    )


def _confirm(number: int) -> None:
    who, dataset, run = actor, info.dataset, info.name
    _ui.act(
        lambda: clusters.confirm_cluster(
            _ui.project().dataset(dataset), result, number, reviewer=who, run=run
        ),
        what=f"the reviews of cluster {number}",
        done=f"Marked the errors of cluster {number} reviewed by {who}.",
    )


def _describe(number: int) -> str:
    row = result.clusters.set_index("cluster").loc[number]
    return f"Cluster {number} · {row['errors']:,} errors · {row['error_rate']:.0%} error rate"


st.header("Look at a cluster", anchor=False)
number = st.selectbox(
    "Cluster", result.clusters["cluster"].tolist(), format_func=_describe, key="cl_cluster"
)
row = result.clusters.set_index("cluster").loc[number]
points = result.points
chosen = points[(points["cluster"] == number) & (points["representative"] > 0)]
ids = chosen.sort_values("representative")["id"].tolist()
# The run's hashed ids find the representatives' rows without indexing the whole frame.
rows = frame.iloc[_ui.run_data(info).ids.get_indexer(ids)]
st.subheader("Representative errors", anchor=False)
st.caption("The cluster's errors nearest its centre.")
media = [kind for kind in ("audio", "image") if kind in frame.columns]
for example_id, (_, example) in zip(ids, rows.iterrows(), strict=True):
    with st.container(border=True):
        st.markdown(
            f"**{_ui.md(example_id)}** · label {_ui.md(example['label'])} · predicted "
            f"{_ui.md(example['prediction'])}"
        )
        for kind in media:
            _ui.show_media(info, kind, example[kind])
        if "text" in frame.columns and isinstance(example["text"], str):
            st.text(example["text"])
        shown = [c for c in info.metadata_columns if c in frame.columns]
        if shown:
            st.caption(" · ".join(f"{_ui.md(c)}: {_ui.md(example[c])}" for c in shown))
        st.page_link(
            _ui.page_path("review"),
            label="Open in Review",
            icon=":material/rate_review:",
            query_params={"dataset": info.dataset, "example": example_id},
        )

st.subheader("Name this cluster", anchor=False)
st.caption(
    f"Tags the cluster's {row['errors']:,} errors with a reviewed tag, in one action (undo "
    "takes it back whole). Tagging is not reviewing: an example nobody has reviewed stays "
    "out of the estimates until a reviewer confirms it on the Review page, where the queue "
    "shows it with the tag already set."
)
tag = st.text_input("Tag", key=f"cl_tag:{number}", max_chars=100, placeholder="e.g. telephone")
_ui.tag_button(
    "Name this cluster",
    tag,
    role="reviewer",
    on_click=_name,
    args=(int(number), tag.strip()),
    key="cl_name",
)
st.caption(
    "Heard or seen the group as a whole? *Confirm all as reviewed* marks its errors reviewed "
    "by you with the tags they carry, in one action. Those reviews were drawn in no sample, "
    "so the estimates leave them out (Priorities says how many) unless every error is "
    "reviewed; confirm them one by one from a review queue to keep them in its sample."
)
st.button(
    "Confirm all as reviewed",
    icon=":material/done_all:",
    disabled=actor is None or not _ui.can("reviewer"),
    on_click=_confirm,
    args=(int(number),),
    key="cl_confirm",
)
if actor is None:
    _ui.need_reviewer()
st.page_link(_ui.page_path("review"), label="Go to Review", icon=":material/rate_review:")
