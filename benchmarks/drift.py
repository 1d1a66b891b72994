"""Drift of a production sample against a dev set, 1,000,000 examples each (see run.py).

* ``drift_table`` per tag, 50 dataset tags, against a bare pandas computation of the same
  counts in the same run: per tag, the examples carrying it in dev and in production and
  the correct ones among dev's (``tags.sum()`` twice and ``tags[correct].sum()``), from
  which the shares and accuracies follow (target: at most 1 s, which leaves the tests and
  the Monte Carlo draws of 50 tags their time; the bare figure is printed beside it).
* ``drift_table`` by a column of 20 values, against ``value_counts`` of the column in
  both and a ``groupby`` of dev's correctness (target: at most 1 s).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import synthetic


def production(n: int = 1_000_000, *, seed: int = 5) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A production sample without labels whose sites and tags have moved: a quarter of
    its examples come from site_0, and tags are 1.3 times as frequent."""
    frame = synthetic.examples(n, seed=seed)
    rng = np.random.default_rng(seed)
    moved = rng.random(n) < 0.25
    frame["site"] = np.where(moved, "site_0", frame["site"])
    tags = synthetic.tag_matrix(frame, seed=seed)
    extra = synthetic.tag_matrix(frame, seed=seed + 1)
    tags = tags | (extra & (rng.random((n, 1)) < 0.3))
    return frame.drop(columns=["label"]), tags


def bench(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    from erroranalysis.analyses import Evidence, drift_table

    dev = synthetic.examples()
    dev["correct"] = (dev["label"] == dev["prediction"]).to_numpy()
    dev_tags = synthetic.tag_matrix(dev)
    prod, prod_tags = production()
    kinds = dict.fromkeys(dev_tags.columns, "dataset")
    evidence = Evidence(dev, dev_tags, kinds=kinds, dataset="dev")
    against = Evidence(prod, prod_tags, kinds=kinds, dataset="prod")
    correct = dev["correct"].to_numpy()

    def tags_ours():
        return drift_table(evidence, against=against)

    def tags_bare():
        return dev_tags.sum(), prod_tags.sum(), dev_tags[correct].sum()

    def by_ours():
        return drift_table(evidence, against=against, by="site")

    def by_bare():
        return (
            dev["site"].value_counts(),
            prod["site"].value_counts(),
            dev.groupby("site")["correct"].sum(),
        )

    for name, ours, bare in (
        ("drift per tag, 1M dev + 1M production x 50 tags", tags_ours, tags_bare),
        ("drift by a column of 20 values, 1M + 1M", by_ours, by_bare),
    ):
        ours()
        t_ours, t_bare = best_of(ours, repeat=3), best_of(bare, repeat=3)
        record(
            name,
            t_ours,
            "s",
            "<= 1 s",
            t_ours <= 1.0,
            f"bare pandas counts {t_bare * 1000:.0f} ms",
        )
