"""Agreement per tag: do reviewers who look at the same examples give it the same tags?

    decisions = project.dataset("dev").decisions()
    table = tag_agreement(decisions, threshold=0.6)
    reviewers = reviewer_agreement(decisions)

Both read the decisions frame of :meth:`erroranalysis.store.DatasetStore.decisions` (one
row per review: review, example_id, reviewer, queue, blind, tags), never modify it, and
raise ValueError naming what is wrong with it or with an option.

Which decisions count (:func:`counted_decisions`): a decision counts if it was made
without seeing anyone else's tags, that is if it was *blind* (a second review that hides
the earlier tags), *imported* (queue ``"import"``: a spreadsheet the reviewers filled in
on their own, so a double-reviewed sheet counts), or made before any other reviewer had
reviewed the example (its *first* review; a reviewer going over their own example again
still saw only their own tags). A later review that was not blind showed the reviewer the
tags already there, so it is left out. Of what counts, each reviewer's latest decision on
an example is theirs. An example enters the agreement when two or more reviewers have a
decision on it that counts; a decision without a tag is a "no" for that tag.

Kappa, per tag, over those examples, on the reviewers' tag/no-tag decisions:

* exactly two reviewers: Cohen's kappa, (p_o - p_e) / (1 - p_e), with p_o the share of
  examples both decide alike and p_e = p_a p_b + (1 - p_a)(1 - p_b) from each reviewer's
  own share of "tag" (what ``sklearn.metrics.cohen_kappa_score`` computes);
* more reviewers: Fleiss' kappa, generalised to examples seen by different numbers of
  reviewers (Gwet, *Handbook of Inter-Rater Reliability*, 4th ed., section 2.4): with
  n_i reviewers on example i of whom k_i give the tag, the example's agreement is
  P_i = (k_i (k_i - 1) + (n_i - k_i)(n_i - k_i - 1)) / (n_i (n_i - 1)), p_o their mean,
  p the mean of k_i / n_i and p_e = p^2 + (1 - p)^2. Where every example has the same
  number of reviewers this is ``statsmodels.stats.inter_rater.fleiss_kappa``.

``observed_agreement`` is p_o in both. The interval is the bootstrap over examples
(seeded, one stream per tag): the examples are drawn with replacement and kappa
recomputed, resamples where kappa is undefined left out, and the bias-corrected and
accelerated (BCa) percentiles of the resampled kappas kept; kappa's sampling distribution
is skewed near 1, where the plain percentiles covered less than 95% in the simulation
(tests/test_agreement_simulation.py). A tag is ``flagged`` when
its kappa is below ``threshold``. Where kappa cannot be computed (no example seen by two
reviewers; every decision the same, so agreement by chance is certain) it is NaN, never
flagged, and ``note`` says why.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np
import pandas as pd

from .estimation import LEVEL, _tag_rng
from .evidence import _check_draws, _check_fraction
from .frames import check_frame
from .vocabulary import (
    AGREEMENT_THRESHOLD,
    IMPORT_QUEUE,
    NOTE_AGREEMENT_CONSTANT,
    NOTE_AGREEMENT_NO_OTHERS,
    NOTE_AGREEMENT_NO_PAIRS,
    NOTE_AGREEMENT_NO_TAGS,
)

__all__ = [
    "COLUMNS",
    "DRAWS",
    "REVIEWER_COLUMNS",
    "THRESHOLD",
    "counted_decisions",
    "reviewer_agreement",
    "tag_agreement",
]

# The numbers of both tables, after the columns that say what each row is about.
_MEASURES = ("observed_agreement", "kappa", "kappa_low", "kappa_high")
COLUMNS = ("tag", "examples", "reviewers", "method", *_MEASURES, "flagged", "note")
REVIEWER_COLUMNS = ("reviewer", "examples", "others", *_MEASURES, "flagged", "note")
DECISION_COLUMNS = ("review", "example_id", "reviewer", "queue", "blind", "tags")
THRESHOLD = AGREEMENT_THRESHOLD
DRAWS = 2000  # bootstrap resamples per tag
MIN_DRAWS = 100
# The bootstrap draws a (resamples x distinct kinds of example) weight matrix: in blocks
# of about this many cells, so a large set of examples does not take large memory.
BLOCK_CELLS = 2_000_000


# --------------------------------------------------------------------------- checks
def _check_decisions(decisions: object) -> pd.DataFrame:
    check_frame(decisions, "decisions", DECISION_COLUMNS)
    for column in ("review", "example_id", "reviewer", "blind", "tags"):
        if decisions[column].isna().any():
            rows = list(decisions.index[decisions[column].isna()][:5])
            raise ValueError(f"decisions[{column!r}] has missing values at {rows}")
    if decisions.empty:  # a file from before schema 6 has no decisions, of any dtype
        return decisions
    if not pd.api.types.is_bool_dtype(decisions["blind"].dtype):
        raise ValueError(
            f"decisions['blind'] must have a bool dtype, got {decisions['blind'].dtype}"
        )
    if not pd.api.types.is_integer_dtype(decisions["review"].dtype):
        raise ValueError(
            f"decisions['review'] must hold integer review ids, got {decisions['review'].dtype}"
        )
    if decisions["review"].duplicated().any():
        duplicated = decisions["review"][decisions["review"].duplicated()].iloc[0]
        raise ValueError(f"decisions['review'] lists review {duplicated} twice")
    for position, value in enumerate(decisions["tags"]):
        if not isinstance(value, tuple | list | frozenset | set) or not all(
            isinstance(tag, str) for tag in value
        ):
            raise ValueError(
                f"decisions['tags'] must hold a tuple of tag names per review, got {value!r} "
                f"at {decisions.index[position]!r}"
            )
    return decisions


def _check_options(threshold: object, level: object, draws: object, seed: object) -> None:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number):
        raise ValueError(f"threshold must be a number between -1 and 1, got {threshold!r}")
    if not -1.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be a number between -1 and 1, got {threshold!r}")
    _check_fraction(level, "level")
    _check_draws(draws, seed, minimum=MIN_DRAWS)


def _check_tags(tags: object) -> list[str] | None:
    if tags is None:
        return None
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise ValueError(f"tags must be a list of tag names, got {tags!r}")
    if not all(isinstance(tag, str) for tag in tags):
        raise ValueError(f"tags must be a list of tag names, got {list(tags)!r}")
    if len(set(tags)) != len(tags):
        raise ValueError(f"tags lists a tag twice: {list(tags)!r}")
    return list(tags)


# --------------------------------------------------------------------------- decisions
def counted_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The decisions that count for agreement (see the module's text), one per reviewer
    and example: each reviewer's latest blind, imported or first decision on it, in the
    order they were recorded (by ``review``), with ``decisions``' columns and index."""
    decisions = _check_decisions(decisions)
    ordered = decisions.sort_values("review", kind="stable")
    examples = ordered["example_id"].astype(str)
    reviewers = ordered["reviewer"].astype(str)
    first_reviewer = reviewers.groupby(examples, sort=False).transform("first")
    # The first review of the example by anyone but its first reviewer (inf: none).
    by_others = ordered["review"].where(reviewers != first_reviewer).astype(float)
    others_from = by_others.groupby(examples, sort=False).transform("min").fillna(np.inf)
    first = (reviewers == first_reviewer) & (ordered["review"] < others_from)
    counts = ordered["blind"].astype(bool) | (ordered["queue"] == IMPORT_QUEUE) | first
    counted = ordered[counts.to_numpy()]
    pairs = pd.DataFrame(
        {"example": counted["example_id"].astype(str), "reviewer": counted["reviewer"].astype(str)}
    )
    return counted[~pairs.duplicated(keep="last").to_numpy()]


class _Ratings:
    """The counted decisions on the examples two or more reviewers decided: per decision
    its example (0..m-1), reviewer (0..r-1, in name order of ``names``) and, per tag,
    whether it gave the tag; ``everyone``: the reviewers with any counted decision."""

    def __init__(self, decisions: pd.DataFrame, tags: list[str] | None) -> None:
        counted = counted_decisions(decisions)
        self.everyone = sorted(set(counted["reviewer"].astype(str)))  # with a counted decision
        examples = counted["example_id"].astype(str)
        shared = (examples.groupby(examples).transform("size") >= 2).to_numpy()
        counted = counted[shared]
        given = sorted({tag for row in decisions["tags"] for tag in row})
        self.tags = given if tags is None else tags
        self.example, _ = pd.factorize(counted["example_id"].astype(str))
        self.names = sorted(set(counted["reviewer"].astype(str)))
        self.reviewer = pd.Index(self.names).get_indexer(counted["reviewer"].astype(str))
        position = {tag: i for i, tag in enumerate(self.tags)}
        self.yes = np.zeros((len(counted), len(self.tags)), dtype=bool)
        for row, decided in enumerate(counted["tags"]):
            for tag in decided:
                if tag in position:
                    self.yes[row, position[tag]] = True
        self.examples = int(self.example.max()) + 1 if len(self.example) else 0
        self.raters = np.bincount(self.example, minlength=self.examples)

    def per_example(self, values: np.ndarray) -> np.ndarray:
        """(examples, k): the sum of each column of ``values`` (one row per decision) over
        each example's decisions."""
        sums = np.zeros((self.examples, values.shape[1]))
        np.add.at(sums, self.example, values)
        return sums


# --------------------------------------------------------------------------- statistics
# Each kappa is a function of sums over examples of per-example parts, so a bootstrap
# resample is a weighted sum of the same parts.
def _cohen(sums: np.ndarray) -> np.ndarray:
    """Cohen's kappa (and p_o) from summed 2x2 tables: columns n11, n10, n01, n00."""
    n11, n10, n01, n00 = (sums[..., i] for i in range(4))
    total = n11 + n10 + n01 + n00
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = (n11 + n00) / total
        a, b = (n11 + n10) / total, (n11 + n01) / total
        chance = a * b + (1 - a) * (1 - b)
        kappa = (observed - chance) / (1 - chance)
    return np.stack([np.where(np.isclose(chance, 1.0), np.nan, kappa), observed], axis=-1)


def _fleiss(sums: np.ndarray) -> np.ndarray:
    """Fleiss' generalised kappa (and p_o) from summed parts P_i, 1, k_i / n_i."""
    agreement, examples, share = (sums[..., i] for i in range(3))
    with np.errstate(divide="ignore", invalid="ignore"):
        observed = agreement / examples
        p = share / examples
        chance = p**2 + (1 - p) ** 2
        kappa = (observed - chance) / (1 - chance)
    return np.stack([np.where(np.isclose(chance, 1.0), np.nan, kappa), observed], axis=-1)


def _cohen_parts(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """(m, 4): each example's 2x2 table of two reviewers' decisions (0/1 or counts)."""
    return np.stack(
        [first * second, first * (1 - second), (1 - first) * second, (1 - first) * (1 - second)],
        axis=1,
    ).astype(float)


def _fleiss_parts(raters: np.ndarray, given: np.ndarray) -> np.ndarray:
    """(m, 3): each example's P_i, 1 and k_i / n_i."""
    n, k = raters.astype(float), given.astype(float)
    agreement = (k * (k - 1) + (n - k) * (n - k - 1)) / (n * (n - 1))
    return np.stack([agreement, np.ones_like(n), k / n], axis=1)


def _bootstrap(
    parts: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    draws: int,
    level: float,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """The BCa interval of kappa over ``draws`` resamples of the examples (the rows of
    ``parts``) with replacement; resamples where kappa is undefined left out."""
    # A resample only counts how often each kind of example is drawn: a multinomial over
    # the distinct rows (four kinds for two reviewers) is the same bootstrap, and small.
    kinds, counts = np.unique(parts, axis=0, return_counts=True)
    n = int(counts.sum())
    block = max(1, BLOCK_CELLS // len(kinds))
    values = []
    for start in range(0, draws, block):
        weights = rng.multinomial(n, counts / n, size=min(block, draws - start))
        values.append(statistic(weights @ kinds)[:, 0])
    kappas = np.concatenate(values)
    kappas = kappas[np.isfinite(kappas)]
    if not kappas.size:
        return np.nan, np.nan
    total = counts @ kinds
    levels = _bca_levels(kappas, statistic(total)[0], statistic(total - kinds)[:, 0], counts, level)
    low, high = np.quantile(kappas, levels)
    return float(low), float(high)


def _bca_levels(
    kappas: np.ndarray, kappa: float, jackknife: np.ndarray, counts: np.ndarray, level: float
) -> list[float]:
    """The percentiles of the bootstrap kappas that bound the BCa interval (Efron and
    Tibshirani, *An Introduction to the Bootstrap*, section 14.3): the equal-tailed ones,
    moved by the bias (the share of resamples below the estimate) and the acceleration
    (the skewness of the leave-one-example-out kappas, ``jackknife`` per kind of example,
    which ``counts`` examples are)."""
    normal = NormalDist()
    below = (np.sum(kappas < kappa) + 0.5 * np.sum(kappas == kappa)) / len(kappas)
    edge = 0.5 / len(kappas)  # every resample on one side: as far as they can say
    bias = normal.inv_cdf(min(max(below, edge), 1 - edge))
    known = np.isfinite(jackknife)
    weights, left_out = counts[known], jackknife[known]
    spread = (weights @ left_out) / weights.sum() - left_out if weights.size else left_out
    scale = (weights @ spread**2) ** 1.5
    acceleration = (weights @ spread**3) / (6 * scale) if scale > 0 else 0.0
    levels = []
    for z in (normal.inv_cdf((1 - level) / 2), normal.inv_cdf((1 + level) / 2)):
        shifted = bias + z
        denominator = 1 - acceleration * shifted
        levels.append(normal.cdf(bias + shifted / denominator) if denominator > 0 else float(z > 0))
    return levels


def _row(
    parts: np.ndarray,
    statistic: Callable[[np.ndarray], np.ndarray],
    *,
    rng: np.random.Generator,
    draws: int,
    level: float,
) -> dict[str, float | str | None]:
    """kappa, its interval, p_o and the note of one table row from its examples' parts."""
    if not len(parts):
        return {"kappa": np.nan, "observed_agreement": np.nan, "note": NOTE_AGREEMENT_NO_PAIRS}
    kappa, observed = statistic(parts.sum(axis=0))
    row: dict[str, float | str | None] = {"kappa": float(kappa), "observed_agreement": observed}
    if np.isnan(kappa):
        return row | {"note": NOTE_AGREEMENT_CONSTANT}
    low, high = _bootstrap(parts, statistic, draws=draws, level=level, rng=rng)
    return row | {"kappa_low": low, "kappa_high": high, "note": None}


def _table(rows: list[dict], columns: tuple[str, ...], threshold: float) -> pd.DataFrame:
    table = pd.DataFrame(rows, columns=list(columns))
    table = table.astype(dict.fromkeys(_MEASURES, float) | {"examples": "int64"})
    return table.assign(
        flagged=(table["kappa"] < threshold).to_numpy(),
        note=table["note"].astype(object).where(table["note"].notna(), None),
    )


# --------------------------------------------------------------------------- tables
def tag_agreement(
    decisions: pd.DataFrame,
    *,
    tags: Sequence[str] | None = None,
    threshold: float = THRESHOLD,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """Agreement per tag between the reviewers who decided the same examples.

    Parameters
    ----------
    decisions
        :meth:`~erroranalysis.store.DatasetStore.decisions`: review, example_id,
        reviewer, queue, blind, tags (the tuple of tag names the reviewer gave).
    tags
        The tags to report, in this order; default every tag a decision gives, sorted.
    threshold
        A tag is ``flagged`` when its kappa is below this (between -1 and 1).
    level, draws, seed
        The interval's level, the bootstrap resamples per tag, and the seed that makes
        them reproducible (a tag's interval does not depend on the other tags).

    Returns
    -------
    DataFrame, one row per tag, with the columns :data:`COLUMNS`: ``examples`` seen by
    two or more reviewers (with decisions that count: see the module's text),
    ``reviewers`` who decided them, ``method`` ``"cohen"`` (two reviewers) or
    ``"fleiss"`` (more; None with fewer), ``observed_agreement`` in [0, 1], ``kappa``
    and its interval ``kappa_low``, ``kappa_high``; NaN where undefined, and ``note``
    saying why.
    """
    _check_options(threshold, level, draws, seed)
    ratings = _Ratings(decisions, _check_tags(tags))
    reviewers = len(ratings.names)
    method = None if reviewers < 2 else "cohen" if reviewers == 2 else "fleiss"
    rows = []
    for column, tag in enumerate(ratings.tags):
        given = ratings.yes[:, column].astype(float)
        if method == "cohen":
            pair = np.zeros((ratings.examples, 2))
            pair[ratings.example, ratings.reviewer] = given
            parts, statistic = _cohen_parts(pair[:, 0], pair[:, 1]), _cohen
        else:
            k = ratings.per_example(given[:, None])[:, 0]
            parts, statistic = _fleiss_parts(ratings.raters, k), _fleiss
        computed = _row(parts, statistic, rng=_tag_rng(seed, tag), draws=draws, level=level)
        rows.append(
            {"tag": tag, "examples": ratings.examples, "reviewers": reviewers, "method": method}
            | computed
        )
    return _table(rows, COLUMNS, float(threshold))


def reviewer_agreement(
    decisions: pd.DataFrame,
    *,
    tags: Sequence[str] | None = None,
    threshold: float = THRESHOLD,
    level: float = LEVEL,
    draws: int = DRAWS,
    seed: int = 0,
) -> pd.DataFrame:
    """How well each reviewer agrees with the others, over every tag at once.

    For a reviewer R, every example R and someone else both decided (decisions that
    count, see the module's text) gives, per tag and per other reviewer on it, one pair
    (R's decision, the other's decision). ``observed_agreement`` is the share of pairs
    that agree and ``kappa`` Cohen's kappa of R against the others pooled: the pairs as
    one 2x2 table, chance agreement from R's own share of "tag" and the others' share.
    The interval is the bootstrap over R's examples, as in :func:`tag_agreement`; options
    as there.

    Returns
    -------
    DataFrame, one row per reviewer with a counted decision, in name order, with the
    columns :data:`REVIEWER_COLUMNS`: ``examples`` shared with another reviewer,
    ``others`` the reviewers who decided them too.
    """
    _check_options(threshold, level, draws, seed)
    ratings = _Ratings(decisions, _check_tags(tags))
    given = ratings.yes.astype(float)
    on_example = ratings.per_example(given)[ratings.example]  # (decisions, tags)
    others = (ratings.raters[ratings.example] - 1)[:, None]
    said = on_example - given  # how many of the others gave each tag
    tables = np.stack(
        [
            (given * said).sum(axis=1),
            (given * (others - said)).sum(axis=1),
            ((1 - given) * said).sum(axis=1),
            ((1 - given) * (others - said)).sum(axis=1),
        ],
        axis=1,
    )
    rows = []
    for reviewer in ratings.everyone:
        code = ratings.names.index(reviewer) if reviewer in ratings.names else -1
        mine = ratings.reviewer == code
        examples = ratings.example[mine]
        sharing = np.isin(ratings.example, examples) & ~mine
        row = {
            "reviewer": reviewer,
            "examples": len(examples),
            "others": len(set(ratings.reviewer[sharing])),
        }
        missing = NOTE_AGREEMENT_NO_OTHERS if not len(examples) else None
        missing = missing or (NOTE_AGREEMENT_NO_TAGS if not ratings.tags else None)
        if missing:
            row |= {"kappa": np.nan, "observed_agreement": np.nan, "note": missing}
        else:
            rng = _tag_rng(seed, reviewer)
            row |= _row(tables[mine], _cohen, rng=rng, draws=draws, level=level)
        rows.append(row)
    return _table(rows, REVIEWER_COLUMNS, float(threshold))
