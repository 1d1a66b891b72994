"""Blind second reviews at 1,000,000 examples (see run.py): 100,000 reviewed examples with
two tags each, a tenth of them drawn and reviewed again blind.

* ``tags_by_rule`` under each rule, the step ``load_evidence`` adds when a plan is set
  (target: at most 0.5 s; printed beside a bare ``drop_duplicates`` of the same pairs).
* ``blind_queue`` of a reviewer: the seeded hash of every reviewed id and the lookup of
  the drawn ones in the run (target: at most 0.5 s).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

N = 1_000_000
REVIEWED = 100_000
SHARE = 0.1
TAGS = [f"tag_{i}" for i in range(20)]


def frames(seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(examples, assignments, decisions) as the store hands them out."""
    from erroranalysis.second_review import selection_keys

    rng = np.random.default_rng(seed)
    ids = np.array([f"ex{i:07d}" for i in range(N)], dtype=object)
    examples = pd.DataFrame({"id": ids, "correct": rng.random(N) < 0.8})
    reviewed = ids[rng.choice(N, REVIEWED, replace=False)]
    first = [tuple(sorted(rng.choice(TAGS, 2, replace=False))) for _ in range(REVIEWED)]
    assignments = pd.DataFrame(
        {
            "example_id": np.repeat(reviewed, 2),
            "tag": [t for pair in first for t in pair],
        }
    )
    drawn = reviewed[selection_keys(reviewed, seed=seed) < SHARE]
    second = [tuple(sorted(rng.choice(TAGS, 2, replace=False))) for _ in range(len(drawn))]
    decisions = pd.DataFrame(
        {
            "example_id": np.concatenate([reviewed, drawn]),
            "reviewer": ["ana"] * REVIEWED + ["ben"] * len(drawn),
            "tags": first + second,
        }
    )
    return examples, assignments, decisions


def bench(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    from erroranalysis.second_review import ReviewPlan, blind_queue, tags_by_rule

    examples, assignments, decisions = frames()
    adjudications = pd.DataFrame(
        {"example_id": decisions["example_id"].iloc[-100:], "tag": TAGS[0], "present": True}
    )
    ids = pd.Index(examples["id"], dtype=object)
    t_bare = best_of(lambda: assignments.drop_duplicates(), repeat=3)
    for rule in ("any", "majority", "adjudicated"):
        t_rule = best_of(
            lambda rule=rule: tags_by_rule(
                assignments, decisions, rule=rule, adjudications=adjudications
            ),
            repeat=3,
        )
        record(
            f"tags by rule {rule}, 100k reviewed of 1M",
            t_rule * 1000,
            "ms",
            "<= 500 ms",
            t_rule <= 0.5,
            f"bare drop_duplicates of the pairs {t_bare * 1000:.0f} ms",
        )
    plan = ReviewPlan(share=SHARE, seed=3)
    t_queue = best_of(
        lambda: blind_queue(decisions, examples, plan=plan, reviewer="cy", ids=ids), repeat=3
    )
    record(
        "blind queue, 100k reviewed of 1M",
        t_queue * 1000,
        "ms",
        "<= 500 ms",
        t_queue <= 0.5,
        f"{int((decisions['reviewer'] == 'ben').sum()):,} drawn examples",
    )
