"""Samples for review: which examples to draw, and each one's chance of being drawn.

:func:`draw_sample` draws a :class:`Draw` from one run (or from the part of it that passes a
queue's filters, the *frame*) by one of :data:`~erroranalysis.vocabulary.STRATEGIES`, and
records with every drawn example its stratum and its inclusion probability π, so the
estimates can weight each review by 1/π and stay unbiased whichever strategy chose it:

* ``stratified``: two strata, errors and correct examples. Every error when the size
  allows, the rest a seeded random share of the correct examples; π = n_h / N_h. The
  same seed draws nested samples: a larger one keeps every example of a smaller one.
* ``confidence``: strata of correctness × confidence band (quantile bands of the frame's
  confidence, edges recorded). Within errors and within correct examples, band b of K
  (1 = least confident) is allocated in proportion to its size × (K + 1 - b), so the
  least confident band is sampled K times as densely as the most confident one, and
  every band gets at least one draw: none is out of reach.
* ``active``: one Poisson batch over the frame (Kossen et al., 2021, *active testing*).
  The target is the tag with the widest marginal-effect interval among the top-ranked
  reviewed tags; a logistic regression of carrying it on the examples' metadata,
  confidence and correctness, fitted on the reviews so far, gives each example a chance
  p_i, and π_i = min(1, c·[(1 - ε)·s_i/Σs + ε/N]) with s_i = sqrt(p_i(1 - p_i) +
  (p_i - p̄_h)²) · |HLP - correct_i|: the expected squared residual of the tag around its
  rate in the example's stratum (errors or correct), weighted by the example's part in
  the marginal effect (Σ tag · (HLP - correct)). Examples likely to move the estimate are drawn
  more often; the defensive share ε keeps every example reachable and every weight at
  most N / (c ε). c makes the expected size the size asked for.

The order of a draw is random within each stratum and the strata are interleaved at
random, so reviewing any first part of it is a random part of each stratum.

:func:`outlook` says what a draw buys: the target tag's marginal-effect interval width now
and the width expected once the next reviews of the draw are in.

Everything is vectorised over the frame (one random key per example, masks,
``argpartition``): a draw of 1,000 from a million examples takes a fraction of a second.

The module runs past 600 lines because the three strategies share the frame, the random
keys and the Draw they record, with the inclusion probabilities the estimates weight by
(checked by reading them side by side), and the active strategy's model and the outlook of
a next batch read the same strata.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .evidence import Evidence, check_evidence
from .priorities import priority_table
from .review import ReviewFilters, draw_positions, filter_mask
from .vocabulary import STRATEGIES, STRATUM_ACTIVE, STRATUM_CORRECT, STRATUM_ERROR, TAG_PREFIX

DEFAULT_CORRECT_FRACTION = 0.1
DEFAULT_BANDS = 4
DEFAULT_DEFENSIVE = 0.2  # ε: the share of every active batch spread evenly over the frame
TOP_TAGS = 5  # the active target is the widest interval among this many top-ranked tags
MAX_LEVELS = 20  # a text column enters the active model as its most frequent values
# Columns of a run that are not metadata to the active model: what the model predicts,
# where the example lives, and free text.
NOT_FEATURES = frozenset(
    {"id", "label", "prediction", "correct", "confidence", "human_label", "text", "audio", "image"}
)
DRAW_COLUMNS = ("id", "stratum", "probability", "order")


@dataclass(frozen=True)
class Draw:
    """One sample drawn for review (never mutate).

    ``examples`` holds one row per drawn example in review order: ``id`` (text),
    ``stratum``, ``probability`` (its inclusion probability, in (0, 1]) and ``order``
    (0, 1, ...). ``size`` is the size asked for (the expected size of an active batch).
    ``design`` is JSON-able: ``frame`` (None for the whole run, else the queue's filters),
    ``frame_size``, ``strata`` (name, size N_h, drawn n_h), and per strategy
    ``correct_fraction``, ``bands`` (edges and oversampling factors) or ``target``,
    ``model``, ``defensive`` and ``scale``. ``positions`` holds the drawn examples' row
    positions in the evidence's examples, in the same order, so a queue is built without
    looking every id up again (None for a draw read back from the store).
    """

    run: str
    strategy: str
    seed: int
    size: int
    examples: pd.DataFrame
    design: dict
    positions: np.ndarray | None = dataclasses.field(default=None, repr=False, compare=False)


def band_stratum(correct: bool, band: int, bands: int) -> str:
    """The name of a confidence stratum, ``band`` counted from 1 (least confident)."""
    return f"{'correct' if correct else STRATUM_ERROR}, confidence band {band} of {bands}"


def frame_design(filters: ReviewFilters | None) -> dict | None:
    """The queue's filters as recorded in a design's ``frame`` (None: no filter, the whole
    run). Values are plain JSON (tuples as lists), so a design read back compares equal."""
    if filters is None or filters == ReviewFilters():
        return None

    def plain(value: object) -> object:
        item = getattr(value, "item", None)  # numpy scalars
        return item() if callable(item) else str(value)

    return json.loads(json.dumps(dataclasses.asdict(filters), default=plain))


# --------------------------------------------------------------------------- checks
def check_sample_options(
    size: object, strategy: object, seed: object, correct_fraction: object
) -> tuple[int, str, int, float]:
    """The options of a draw (:func:`draw_sample`) as (size, strategy, seed, fraction),
    or ValueError naming the option that is wrong."""
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    for value, name in ((size, "size"), (seed, "seed")):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be a whole number, got {value!r}")
    if size <= 0:
        raise ValueError(f"size must be at least 1, got {size}")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}")
    if isinstance(correct_fraction, bool) or not isinstance(
        correct_fraction, int | float | np.integer | np.floating
    ):
        raise ValueError(f"correct_fraction must be a number, got {correct_fraction!r}")
    if not 0 <= correct_fraction < 1:
        raise ValueError(f"correct_fraction must be in [0, 1), got {correct_fraction}")
    return int(size), strategy, int(seed), float(correct_fraction)


def class_sizes(
    size: int, n_errors: int, n_correct: int, fraction: float, *, where: str
) -> tuple[int, int]:
    """(errors, correct examples) to draw: ``floor(size × fraction)`` correct examples,
    errors for the rest (every error when there are fewer), correct ones for what is left."""
    if n_errors == 0:
        raise ValueError(f"{where} has no errors: this strategy draws from its error strata")
    if fraction > 0 and n_correct == 0:
        raise ValueError(
            f"{where} has no correct examples to draw {fraction:.0%} of the sample from; "
            "set correct_fraction=0 to draw errors only"
        )
    correct = min(n_correct, math.floor(size * fraction))
    errors = min(n_errors, size - correct)
    return errors, size - errors


def _allocate(total: int, sizes: np.ndarray, weights: np.ndarray, *, what: str) -> np.ndarray:
    """``total`` draws over strata of ``sizes``: one each, the rest in proportion to
    ``weights`` (largest remainders), never more than a stratum holds."""
    k = len(sizes)
    if total == 0:
        return np.zeros(k, dtype=np.int64)
    if total < k:
        raise ValueError(
            f"a sample of {total} {what} is too small for confidence sampling: every one "
            f"of its {k} strata needs at least one draw; draw more, change the share of "
            "correct examples, or use fewer bands"
        )
    alloc = np.ones(k, dtype=np.int64)
    free = total - k
    while free > 0:
        room = sizes - alloc
        share = np.where(room > 0, weights, 0.0)
        ideal = free * share / share.sum()
        add = np.minimum(np.floor(ideal).astype(np.int64), room)
        if add.sum() == 0:
            # Less than one draw each is left: one more to the largest remainders.
            rank = np.argsort(-np.where(room > 0, ideal, -1.0), kind="stable")
            add = np.zeros(k, dtype=np.int64)
            add[rank[: min(free, int((room > 0).sum()))]] = 1
        alloc += add
        free -= int(add.sum())
    return alloc


# --------------------------------------------------------------------------- strategies
@dataclass(frozen=True)
class _Strata:
    """Strata over the frame: a code per frame example, names, and draws per stratum."""

    codes: np.ndarray  # stratum index of each frame example
    names: list[str]
    drawn: np.ndarray  # n_h


def _stratified(correct: np.ndarray, size: int, fraction: float, where: str) -> _Strata:
    n_errors = int((~correct).sum())
    errors, rest = class_sizes(size, n_errors, len(correct) - n_errors, fraction, where=where)
    return _Strata(
        codes=correct.astype(np.int64),
        names=[STRATUM_ERROR, STRATUM_CORRECT],
        drawn=np.array([errors, rest], dtype=np.int64),
    )


def _confidence_bands(confidence: np.ndarray, bands: int) -> np.ndarray:
    edges = np.unique(np.quantile(confidence, np.linspace(0.0, 1.0, bands + 1)))
    return edges if len(edges) > 1 else np.array([edges[0], edges[0]])


def _confidence(
    correct: np.ndarray,
    confidence: np.ndarray,
    size: int,
    fraction: float,
    bands: int,
    where: str,
) -> tuple[_Strata, dict]:
    edges = _confidence_bands(confidence, bands)
    k = len(edges) - 1
    band = np.searchsorted(edges[1:-1], confidence, side="right")
    codes = correct.astype(np.int64) * k + band  # errors' bands first, then correct ones
    sizes = np.bincount(codes, minlength=2 * k)
    n_errors = int(sizes[:k].sum())
    classes = class_sizes(size, n_errors, len(correct) - n_errors, fraction, where=where)
    factor = np.arange(k, 0, -1, dtype=float)  # band 1 (least confident): K; band K: 1
    drawn = np.zeros(2 * k, dtype=np.int64)
    for c, (total, what) in enumerate(zip(classes, ("errors", "correct examples"), strict=True)):
        part = slice(c * k, (c + 1) * k)
        present = np.flatnonzero(sizes[part] > 0)
        wanted = _allocate(
            total, sizes[part][present], sizes[part][present] * factor[present], what=what
        )
        drawn[c * k + present] = wanted
    names = [band_stratum(bool(c), b + 1, k) for c in (0, 1) for b in range(k)]
    design = {"bands": {"edges": [float(e) for e in edges], "oversampling": factor.tolist()}}
    return _Strata(codes=codes, names=names, drawn=drawn), design


def _take_smallest(keys: np.ndarray, codes: np.ndarray, drawn: np.ndarray) -> np.ndarray:
    """Frame positions of the ``drawn[h]`` examples of each stratum h with the smallest keys."""
    chosen = []
    for h, wanted in enumerate(drawn):
        if wanted == 0:
            continue
        members = np.flatnonzero(codes == h)
        if wanted < len(members):
            members = members[np.argpartition(keys[members], wanted - 1)[:wanted]]
        chosen.append(members)
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


# --------------------------------------------------------------------------- active
def target_tag(
    evidence: Evidence, *, top: int = TOP_TAGS, table: pd.DataFrame | None = None
) -> str:
    """The reviewed tag an active batch narrows: the widest marginal-effect interval among
    the ``top`` best-ranked reviewed tags with an estimate. ``table`` may pass the
    evidence's priority table, already computed. ValueError when no reviewed tag has one."""
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ValueError(f"top must be a whole number of at least 1, got {top!r}")
    table = priority_table(evidence) if table is None else table
    width = table["marginal_effect_high"] - table["marginal_effect_low"]
    ranked = table.assign(width=width)
    ranked = ranked[(ranked["kind"] == "reviewed") & ranked["width"].notna()].head(top)
    if ranked.empty:
        raise ValueError(
            "no reviewed tag has an estimate yet (one needs reviewed errors and reviewed "
            "correct examples)"
        )
    return str(ranked.loc[ranked["width"].idxmax(), "tag"])


def feature_columns(examples: pd.DataFrame) -> list[str]:
    """The metadata columns the active model reads (besides confidence and correctness)."""
    return [
        str(c)
        for c in examples.columns
        if str(c) not in NOT_FEATURES and not str(c).startswith(TAG_PREFIX)
    ]


@dataclass(frozen=True)
class _Encoded:
    name: str
    levels: tuple | None  # None: numeric, standardised with mean and scale
    mean: float = 0.0
    scale: float = 1.0
    # Text: each example's position in ``levels``, -1 for none of them (missing or rarer).
    codes: np.ndarray | None = field(default=None, repr=False, compare=False)

    def width(self) -> int:
        return 1 if self.levels is None else len(self.levels)

    def _numbers(self, values: pd.Series) -> np.ndarray:
        x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        return np.nan_to_num((x - self.mean) / self.scale)

    def matrix(self, examples: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
        """The columns of this feature for the examples at positions ``rows``."""
        if self.levels is None:
            return self._numbers(examples[self.name].iloc[rows])[:, None]
        codes = self.codes[rows]
        out = np.zeros((len(rows), len(self.levels)))
        known = codes >= 0
        out[np.flatnonzero(known), codes[known]] = 1.0
        return out

    def contribution(self, examples: pd.DataFrame, coef: np.ndarray) -> np.ndarray:
        """``matrix(examples, every row) @ coef`` without building that matrix."""
        if self.levels is None:
            return self._numbers(examples[self.name]) * coef[0]
        return np.where(self.codes >= 0, coef[np.maximum(self.codes, 0)], 0.0)


def _level_codes(values: pd.Series, levels: tuple) -> np.ndarray:
    """Each value's position in ``levels``; -1 for a missing value or one not among them.
    Text held in Arrow is looked up there (a tenth of the time of a pandas lookup, which
    makes Python strings of it: seconds at 10M examples), anything else by pandas."""
    dtype = values.dtype
    if (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow") or (
        isinstance(dtype, pd.ArrowDtype) and dtype.kind in "OSU"
    ):
        import pyarrow as pa
        import pyarrow.compute as pc

        arrow = pa.chunked_array(pa.array(values))
        if pa.types.is_string(arrow.type) or pa.types.is_large_string(arrow.type):
            found = pc.index_in(arrow, value_set=pa.array(levels, type=arrow.type))
            return found.fill_null(-1).to_numpy().astype(np.int16)
    return pd.Index(list(levels)).get_indexer(values).astype(np.int16)


@dataclass(frozen=True)
class TagFeatures:
    """What the tag model of :func:`tag_chances` reads of a run's examples, encoded: each
    numeric column's mean and scale, each text column's most frequent values and every
    example's code among them. They depend on the examples alone, not on reviews or
    tags, so a caller that fits the model after every review (the Review page's outlook)
    makes them once per run: at 10M examples they are most of a fit's time."""

    columns: tuple[str, ...]  # the columns asked for, confidence and correctness last
    encoded: tuple[_Encoded, ...]  # those that vary (a constant column tells nothing)
    examples: int


def tag_features(evidence: Evidence, *, columns: Sequence[str] | None = None) -> TagFeatures:
    """The features of the evidence's examples for :func:`tag_chances`: ``columns`` (default
    :func:`feature_columns`) with confidence and correctness. ValueError names a column
    the examples do not have."""
    check_evidence(evidence)
    return _features(evidence.examples, columns)


def _features(examples: pd.DataFrame, columns: Sequence[str] | None) -> TagFeatures:
    wanted = feature_columns(examples) if columns is None else [str(c) for c in columns]
    missing = [c for c in wanted if c not in examples.columns]
    if missing:
        raise ValueError(f"unknown column {missing[0]!r} for the tag model")
    wanted += [c for c in ("confidence", "correct") if c in examples.columns]
    return TagFeatures(tuple(wanted), tuple(_encoders(examples, wanted)), len(examples))


def _encoders(examples: pd.DataFrame, columns: Sequence[str]) -> list[_Encoded]:
    out = []
    for column in columns:
        values = examples[column]
        if pd.api.types.is_numeric_dtype(values):
            x = pd.to_numeric(values, errors="coerce").astype(float)
            mean, scale = float(x.mean()), float(x.std())
            if np.isfinite(mean) and np.isfinite(scale) and scale > 0:
                out.append(_Encoded(str(column), None, mean, scale))
        else:
            levels = tuple(values.dropna().astype(str).value_counts().index[:MAX_LEVELS])
            if len(levels) > 1:
                codes = _level_codes(values, levels)
                out.append(_Encoded(str(column), levels, codes=codes))
    return out


def tag_chances(
    evidence: Evidence,
    tag: str,
    *,
    columns: Sequence[str] | None = None,
    features: TagFeatures | None = None,
) -> tuple[np.ndarray, dict]:
    """Each example's chance of carrying ``tag`` given its metadata, confidence and
    correctness, from a logistic regression fitted on the reviewed examples; and the
    model as recorded in a design. With reviews of one kind only (all tagged or none),
    every example gets the same smoothed rate (x + 1/2) / (n + 1). ``features``, the
    :func:`tag_features` of these examples made earlier, stand for ``columns``."""
    inputs = check_evidence(evidence)
    if tag not in inputs.tag_names:
        raise ValueError(f"unknown tag {tag!r}")
    if features is not None and columns is not None:
        raise ValueError("pass columns or features, not both")
    examples = evidence.examples
    if features is not None and features.examples != len(examples):
        raise ValueError(
            f"the features are of {features.examples:,} examples; the evidence has "
            f"{len(examples):,}"
        )
    reviewed = np.flatnonzero(inputs.reviewed)
    y = inputs.matrix[reviewed, inputs.tag_names.index(tag)]
    tagged = int(y.sum())
    rate = (tagged + 0.5) / (len(y) + 1)
    constant = {"kind": "constant", "reviews": len(y), "tagged": tagged, "rate": rate}
    if tagged in (0, len(y)):
        return np.full(len(examples), rate), constant

    # The evidence is checked above: its features are made here without checking it again.
    encoders = (_features(examples, columns) if features is None else features).encoded
    if not encoders:
        return np.full(len(examples), rate), constant
    x = np.hstack([e.matrix(examples, reviewed) for e in encoders])
    from sklearn.linear_model import LogisticRegression  # loaded only for active draws

    # Newton steps on a Cholesky factor: the same L2-penalised fit as lbfgs, several times
    # faster on the few features and the thousands of reviews it sees.
    model = LogisticRegression(C=1.0, solver="newton-cholesky", max_iter=100).fit(x, y)
    coef = model.coef_[0]
    logit = np.full(len(examples), float(model.intercept_[0]))
    start = 0
    for encoder in encoders:
        logit += encoder.contribution(examples, coef[start : start + encoder.width()])
        start += encoder.width()
    chances = 1.0 / (1.0 + np.exp(-logit))
    recorded = {
        "kind": "logistic regression",
        "reviews": len(y),
        "tagged": tagged,
        "features": [e.name for e in encoders],
        "intercept": float(model.intercept_[0]),
        "coefficients": [float(c) for c in coef],
    }
    return chances, recorded


def active_probabilities(
    chances: np.ndarray,
    correct: np.ndarray,
    size: int,
    *,
    defensive: float,
    hlp: float | None = None,
) -> tuple[np.ndarray, float]:
    """π_i = min(1, c·[(1 - ε)·s_i/Σs + ε/N]) over the frame and the scale c that makes
    Σπ = ``size`` (see the module docstring). With the tag's ``hlp``, s_i is weighted by
    |hlp - correct_i|, the example's part in the marginal effect."""
    n = len(chances)
    mean = np.zeros(n)
    for stratum in (False, True):
        where = correct == stratum
        if where.any():
            mean[where] = chances[where].mean()
    score = np.sqrt(chances * (1 - chances) + (chances - mean) ** 2)
    if hlp is not None:
        score = score * np.abs(hlp - correct.astype(float))
    total = score.sum()
    base = (1 - defensive) * (score / total if total > 0 else 1.0 / n) + defensive / n
    if size >= n:
        return np.ones(n), float(n)
    # Examples whose share would exceed 1 are drawn for sure; the others share what is left.
    sure = np.zeros(n, dtype=bool)
    for _ in range(n):
        scale = (size - sure.sum()) / base[~sure].sum()
        more = ~sure & (base * scale >= 1)
        if not more.any():
            break
        sure |= more
    probability = np.where(sure, 1.0, np.minimum(1.0, base * scale))
    return probability, float(scale)


def _target_hlp(evidence: Evidence, tag: str, table: pd.DataFrame | None) -> float:
    """The HLP the marginal effect of ``tag`` is measured against: set by the team, else
    as the priority table measures it, else 1 (no HLP known: every error counts)."""
    if tag in evidence.hlp and evidence.hlp[tag] is not None and not pd.isna(evidence.hlp[tag]):
        return float(evidence.hlp[tag])
    table = priority_table(evidence) if table is None else table
    row = table.loc[table["tag"] == tag, "hlp"]
    return float(row.iloc[0]) if len(row) and pd.notna(row.iloc[0]) else 1.0


# --------------------------------------------------------------------------- the draw
def draw_sample(
    evidence: Evidence,
    *,
    size: int,
    strategy: str = "stratified",
    seed: int = 0,
    filters: ReviewFilters | None = None,
    correct_fraction: float = DEFAULT_CORRECT_FRACTION,
    bands: int = DEFAULT_BANDS,
    tag: str | None = None,
    defensive: float = DEFAULT_DEFENSIVE,
    top: int = TOP_TAGS,
    table: pd.DataFrame | None = None,
    tags_by_example: pd.DataFrame | None = None,
    ids: pd.Index | None = None,
    features: TagFeatures | None = None,
) -> Draw:
    """Draw ``size`` examples (the expected size of an ``active`` batch) for review from the
    evidence's run, or from the examples that pass ``filters``, by ``strategy`` (see the
    module docstring). The same evidence, options and seed draw the same sample.

    ``correct_fraction`` is the share of correct examples in ``stratified`` and
    ``confidence`` samples; ``bands`` the number of confidence bands; ``tag`` the active
    target (default :func:`target_tag` of the ``top`` ranked tags of ``table``, the
    evidence's priority table, computed when not given) and ``defensive`` its share ε. ``tags_by_example`` (reviewed tags as rows ``example_id``, ``tag``) serves a
    tag filter; ``ids`` may pass the run's ids as an Index built once, and ``features``
    the run's :func:`tag_features` made once, for ``active``.

    ValueError names the problem: an unknown strategy, a size below 1 or above the
    frame, a frame without the errors (or correct examples) a stratum needs, a run
    without confidence for ``confidence`` sampling, no reviewed tag for ``active``.
    """
    size, strategy, seed, fraction = check_sample_options(size, strategy, seed, correct_fraction)
    inputs = check_evidence(evidence)
    examples = evidence.examples
    n = len(examples)
    if filters is None or filters == ReviewFilters():
        frame = np.arange(n)
        where = "the run"
    else:
        frame = np.flatnonzero(
            filter_mask(examples, filters, tags_by_example=tags_by_example, ids=ids)
        )
        where = "the filtered queue"
    if size > len(frame):
        raise ValueError(f"size {size:,} is more than the {len(frame):,} examples of {where}")
    # One random key per example of the run, whatever the frame: the same seed gives the
    # same keys under any filters, which keeps samples stable and nested.
    rng = np.random.default_rng(seed)
    keys = rng.random(n)[frame]
    order_keys = rng.random(n)[frame]
    correct = inputs.correct[frame]
    design: dict = {"frame": frame_design(filters), "frame_size": int(len(frame))}

    if strategy == "active":
        drawn, probability, strata, extra = _active(
            evidence,
            frame,
            correct,
            keys,
            size,
            tag=tag,
            defensive=defensive,
            top=top,
            table=table,
            features=features,
        )
        if not len(drawn):
            raise ValueError(
                f"the active batch of expected size {size} drew no example; "
                "draw again with another seed or a larger size"
            )
        design.update(extra)
    else:
        if strategy == "stratified":
            strata = _stratified(correct, size, fraction, where)
        else:
            if "confidence" not in examples.columns:
                raise ValueError("this run has no confidence column to sample by")
            confidence = examples["confidence"].to_numpy(dtype=float, na_value=np.nan)[frame]
            if np.isnan(confidence).any():
                missing = int(np.isnan(confidence).sum())
                raise ValueError(
                    f"{missing:,} examples of {where} have no confidence: confidence "
                    "sampling needs one for every example"
                )
            if isinstance(bands, bool) or not isinstance(bands, int) or bands < 1:
                raise ValueError(f"bands must be a whole number of at least 1, got {bands!r}")
            strata, extra = _confidence(correct, confidence, size, fraction, bands, where)
            design.update(extra)
        drawn = _take_smallest(keys, strata.codes, strata.drawn)
        sizes = np.bincount(strata.codes, minlength=len(strata.names))
        probability = strata.drawn[strata.codes[drawn]] / sizes[strata.codes[drawn]]
        design["correct_fraction"] = fraction
        design["strata"] = [
            {"name": name, "size": int(sizes[h]), "drawn": int(strata.drawn[h])}
            for h, name in enumerate(strata.names)
            if sizes[h] > 0
        ]
        strata = np.asarray(strata.names, dtype=object)[strata.codes[drawn]]

    rank = np.argsort(order_keys[drawn], kind="stable")
    positions = frame[drawn][rank]
    column = examples["id"]
    drawn_ids = (
        np.asarray(ids, dtype=object)[positions]
        if ids is not None
        else column.iloc[positions].to_numpy(dtype=object)
    )
    if ids is None and not pd.api.types.is_string_dtype(column):
        drawn_ids = drawn_ids.astype(str).astype(object)
    draws = pd.DataFrame(
        {
            "id": pd.Series(drawn_ids, dtype=object),
            "stratum": pd.Series(np.asarray(strata, dtype=object)[rank], dtype=object),
            "probability": np.asarray(probability, dtype=float)[rank],
            "order": np.arange(len(positions), dtype=np.int64),
        }
    )
    return Draw(
        run=evidence.run,
        strategy=strategy,
        seed=seed,
        size=size,
        examples=draws,
        design=design,
        positions=positions,
    )


def _active(
    evidence: Evidence,
    frame: np.ndarray,
    correct: np.ndarray,
    keys: np.ndarray,
    size: int,
    *,
    tag: str | None,
    defensive: float,
    top: int,
    table: pd.DataFrame | None,
    features: TagFeatures | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict]:
    if (
        isinstance(defensive, bool)
        or not isinstance(defensive, int | float)
        or not (0 < defensive <= 1)
    ):
        raise ValueError(f"defensive must be a number in (0, 1], got {defensive!r}")
    if tag is None:
        try:
            tag = target_tag(evidence, top=top, table=table)
        except ValueError as err:
            raise ValueError(
                f"active sampling has no target: {err}; review a stratified sample first"
            ) from None
    target = tag
    hlp = _target_hlp(evidence, target, table)
    chances, model = tag_chances(evidence, target, features=features)
    probability, scale = active_probabilities(
        chances[frame], correct, size, defensive=float(defensive), hlp=hlp
    )
    # Poisson sampling: each example drawn on its own with its probability.
    drawn = np.flatnonzero(keys < probability)
    extra = {
        "target": target,
        "hlp": hlp,
        "model": model,
        "defensive": float(defensive),
        "scale": scale,
        "expected_size": float(probability.sum()),
        "strata": [{"name": STRATUM_ACTIVE, "size": int(len(frame)), "drawn": int(len(drawn))}],
    }
    strata = np.full(len(drawn), STRATUM_ACTIVE, dtype=object)
    return drawn, probability[drawn], strata, extra


# --------------------------------------------------------------------------- what it buys
@dataclass(frozen=True)
class Outlook:
    """What reviewing the next ``reviews`` examples of a draw buys for one tag."""

    tag: str
    width: float  # the tag's marginal-effect interval width now
    expected_width: float  # about, once those reviews are in
    reviews: int  # of examples not reviewed yet; 0 when the whole draw is reviewed


def _stratum_variance(weights: np.ndarray, tagged: np.ndarray) -> float:
    """Variance of a Hájek rate from weighted reviews, as p̃(1 - p̃)/n* with Kish's
    effective size n* and the Jeffreys-smoothed rate p̃ (never 0 for 0 or n tagged)."""
    if len(weights) == 0 or weights.sum() <= 0:
        return math.inf
    effective = weights.sum() ** 2 / (weights**2).sum()
    rate = ((weights * tagged).sum() / weights.sum() * effective + 0.5) / (effective + 1)
    return rate * (1 - rate) / effective


def _combined(a: float, b: float) -> float:
    """The variance of the best mix of two independent estimates of variances a and b."""
    if a == 0 or b == 0:
        return 0.0
    if math.isinf(a) or math.isinf(b):
        return min(a, b)
    return 1 / (1 / a + 1 / b)


def outlook(
    evidence: Evidence,
    draw: Draw,
    *,
    reviews: int | None = None,
    tag: str | None = None,
    table: pd.DataFrame | None = None,
    features: TagFeatures | None = None,
) -> Outlook:
    """The target tag's marginal-effect interval width now, and about what it will be once
    the next ``reviews`` examples of ``draw`` not reviewed yet (default: all of them) are.

    The width scales with the standard error of the marginal effect, linearised as
    Σ_h a_h N_h/N · p̂_h over the strata h (errors, correct examples) with a_h = |HLP -
    correct_h| and p̂_h the tag's rate there: per stratum, the variance of the reviews so
    far (Kish's effective size) combined with the expected variance of the new ones,
    Σ (1 - π'_i) e_i² / π'_i² / N_h² over the draw's unreviewed examples, where π'_i is
    the drawn example's inclusion probability thinned to the share of the draw reviewed
    and e_i² = p_i(1 - p_i) + (p_i - p̄_h)² the tag model's (:func:`tag_chances`, on
    ``features`` when given) expected squared residual.
    """
    table = priority_table(evidence) if table is None else table
    target = target_tag(evidence, table=table) if tag is None else tag
    row = table.loc[table["tag"] == target]
    width = float((row["marginal_effect_high"] - row["marginal_effect_low"]).iloc[0])
    hlp = float(row["hlp"].iloc[0]) if pd.notna(row["hlp"].iloc[0]) else 1.0
    inputs = check_evidence(evidence)
    chances, _ = tag_chances(evidence, target, features=features)
    position = draw_positions(draw, evidence.examples["id"])
    known = position >= 0
    position = position[known]
    weights = (
        np.ones(len(inputs.correct))
        if evidence.weights is None
        else evidence.weights.to_numpy(dtype=float, na_value=np.nan)
    )
    entered = inputs.reviewed & np.isfinite(weights)
    tagged = inputs.matrix[:, inputs.tag_names.index(target)]
    # Only the draws not reviewed yet are reviews to come; the next ``reviews`` of them are
    # a random part (the draw's order is random), so each is thinned to that share.
    fresh = ~entered[position]
    waiting = int(fresh.sum())
    taken = waiting if reviews is None else min(reviews, waiting)
    thinned = draw.examples["probability"].to_numpy()[known] * taken / max(waiting, 1)
    now = after = 0.0
    n = len(inputs.correct)
    for stratum in (False, True):
        members = inputs.correct == stratum
        size = int(members.sum())
        if size == 0:
            continue
        mine = entered & members
        current = _stratum_variance(weights[mine], tagged[mine])
        rows = fresh & (inputs.correct[position] == stratum) & (taken > 0)
        p = chances[position[rows]]
        pi = thinned[rows]
        residual = p * (1 - p) + (p - chances[members].mean()) ** 2
        new = float(((1 - pi) * residual / pi**2).sum()) / size**2 if rows.any() else math.inf
        share = ((1 - hlp if stratum else hlp) * size / n) ** 2
        now += share * current
        after += share * _combined(current, new)
    ratio = math.sqrt(after / now) if math.isfinite(now) and now > 0 else math.nan
    return Outlook(tag=target, width=width, expected_width=width * ratio, reviews=taken)


__all__ = [
    "DRAW_COLUMNS",
    "Draw",
    "Outlook",
    "TagFeatures",
    "active_probabilities",
    "band_stratum",
    "check_sample_options",
    "class_sizes",
    "draw_sample",
    "feature_columns",
    "frame_design",
    "outlook",
    "tag_chances",
    "tag_features",
    "target_tag",
]
