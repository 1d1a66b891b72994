"""The project's vocabulary and the rules for names, each stated once.

Every name a user gives (a dataset, a run, a tag, a reviewer) passes :func:`check_name`
before anything is written, whichever way it arrives (CLI, app, import file, API). A name
is shown in tables, headings, file names and other people's spreadsheets, so it may not
carry control characters (they reorder or hide text in a terminal), Unicode
bidirectional controls (U+202E makes ``exe.txt`` read as ``txt.exe``), or run to
absurd lengths.

The words the analyses share live here too: the kinds of tag, the orders of the priority
table and the notes their tables carry. The module imports nothing heavy, so the command
line builds its options from it without loading pandas.
"""

from __future__ import annotations

import re

from .errors import InvalidName

__all__ = [
    "AGREEMENT_BY",
    "AGREEMENT_THRESHOLD",
    "COUNT_ENGINES",
    "DEFAULT_QUEUE_SIZE",
    "DEFAULT_RUN",
    "ENGINE_ROWS",
    "IMPORT_ENGINES",
    "IMPORT_QUEUE",
    "KINDS",
    "LEFT_OUT_DIRECT",
    "LEFT_OUT_FILTERED",
    "LEFT_OUT_TAGGED",
    "MAX_NAME",
    "MAX_TAGS",
    "NO_ROLE",
    "SQL_ROWS_LIMIT",
    "NOTE_AGREEMENT_CONSTANT",
    "NOTE_AGREEMENT_NO_OTHERS",
    "NOTE_AGREEMENT_NO_PAIRS",
    "NOTE_AGREEMENT_NO_TAGS",
    "NOTE_HLP_CORRECT_ONLY",
    "NOTE_HLP_ERRORS_ONLY",
    "NOTE_LEFT_OUT",
    "NOTE_MODEL_BEATS_HLP",
    "NOTE_NO_EFFORT",
    "NOTE_NO_EXAMPLES",
    "NOTE_NO_HLP",
    "NOTE_NO_REVIEWED_CORRECT",
    "NOTE_NO_REVIEWED_ERRORS",
    "NOTE_NOT_SEEN_DATASET",
    "NOTE_NOT_SEEN_REVIEWED",
    "NOTE_REVIEWED_TAG_SLICE",
    "NOTE_TIED",
    "ORDERS",
    "SECOND_REVIEW_RULES",
    "SLICE_BY_TAGS",
    "STRATEGIES",
    "STRATUM_ACTIVE",
    "STRATUM_CORRECT",
    "STRATUM_DIRECT",
    "STRATUM_ERROR",
    "STRATUM_SECOND",
    "TAG_PREFIX",
    "TAG_SEPARATOR",
    "USER_ROLES",
    "check_name",
    "check_reviewer",
    "check_tag_name",
]

TAG_PREFIX = "tag:"  # a column named tag:NAME holds one tag
TAG_SEPARATOR = ";"  # between tags in a tags cell, and between reviewers in a reviewer cell
# Names that a sheet lists several to a cell, so they may not hold the separator.
_LISTED_KINDS = frozenset({"tag", "reviewer"})
# The roles of a team, each allowing what the one before it does and more: a viewer reads
# and downloads; a reviewer also reviews and tags; an admin also imports, defines, renames,
# merges and deletes tags, sets review plans and grants roles. ``none`` takes a role away.
USER_ROLES = ("viewer", "reviewer", "admin")
NO_ROLE = "none"
DEFAULT_RUN = "main"  # the run an import makes when none is named
MAX_NAME = 100  # characters in any name
# Each tag is a bool column of the frame: a million rows x 500 tags is already 500 MB. The
# limit counts every way a tag arrives (a tags column, tag:NAME columns, reviews, rules).
MAX_TAGS = 500

# Which engine counts a stored run for the priority table (engines.duckdb.load_tally):
# pandas in memory, DuckDB reading the stored Parquet out-of-core, or by the run's size.
COUNT_ENGINES = ("auto", "memory", "duckdb")
# auto counts runs of more examples than this with DuckDB: measured faster than reading
# the run into pandas from 100,000 examples on (docs/performance.md, "The DuckDB engine").
ENGINE_ROWS = 100_000
# An import writes a run's examples as SQL rows for the project file's views (run_examples,
# run_tags) when it has at most this many examples, or when asked: those rows were most of a
# Parquet import's time (1.5 s and 32 MB per million examples with 50 dataset tags, ten
# times that at 10M). A larger run gets them when asked (``erroranalysis sql-rows``).
SQL_ROWS_LIMIT = 1_000_000

# Where a tag's values come from: a tag:NAME column of the data, a rule on the data (both
# known for every example), or reviewers (known only on the examples they reviewed).
KINDS = ("dataset", "reviewed", "rule")
# Where an import counts a run: in memory (pandas, every example kept in the project
# file), or in Spark where the data lives (erroranalysis.engines.spark: its counts and the
# examples drawn for review kept).
IMPORT_ENGINES = ("memory", "spark")
DEFAULT_QUEUE_SIZE = 1000  # examples an import in Spark draws for review
# How the priority table ranks tags: by marginal effect, or by marginal effect per effort.
ORDERS = ("marginal_effect", "effort")
# slice_table(by=SLICE_BY_TAGS): one slice per tag instead of per value of a column.
SLICE_BY_TAGS = "tags"
# How a sample for review is drawn (erroranalysis.sampling): every error and a random share
# of the correct examples; strata of correctness x confidence band, low confidence
# oversampled; Poisson batches favouring the examples that teach most about one tag.
STRATEGIES = ("stratified", "confidence", "active")
# The strata a drawn example comes from, recorded with its review. A confidence stratum is
# named "error, confidence band 1 of 4" (see erroranalysis.sampling.band_stratum).
STRATUM_ERROR = "error"
STRATUM_CORRECT = "correct sample"
STRATUM_ACTIVE = "active"  # a Poisson draw over the whole frame: no strata
STRATUM_DIRECT = "direct"  # opened by id or link, outside any sample
# A blind second review of an example someone reviewed already (erroranalysis.second_review):
# its example entered the estimates through the first review, so it is no sample of its own.
STRATUM_SECOND = "second review"
# How several reviewers' decisions on one example become its tags (second_review.tags_by_rule):
# a tag any of them gave, a tag more than half of them gave, or the adjudicator's decision.
SECOND_REVIEW_RULES = ("any", "majority", "adjudicated")

# The notes the analyses write in their tables, in the words users read.
NOTE_NO_EXAMPLES = "no examples yet"
NOTE_NO_REVIEWED_ERRORS = (
    "no reviewed errors yet: review a sample of errors to estimate this tag's share"
)
NOTE_NO_REVIEWED_CORRECT = (
    "no reviewed correct examples yet: review a sample of correct predictions "
    "to estimate this tag's accuracy"
)
NOTE_NOT_SEEN_DATASET = "no example carries this tag"
NOTE_NOT_SEEN_REVIEWED = "no reviewed example carries this tag yet"
NOTE_NO_HLP = "no HLP: set one or add human labels"
NOTE_HLP_ERRORS_ONLY = (
    "no HLP: human labels on this tag cover only its errors; set an HLP "
    "or add human labels to some of its correct predictions"
)
NOTE_HLP_CORRECT_ONLY = (
    "no HLP: human labels on this tag cover only its correct predictions; set an HLP "
    "or add human labels to some of its errors"
)
NOTE_NO_EFFORT = "no effort set: ranked after the tags with an effort"
NOTE_MODEL_BEATS_HLP = "the model beats HLP on this tag"
NOTE_REVIEWED_TAG_SLICE = "reviewed examples only (mostly errors): accuracy is biased low"
# On a reviewed tag's row (and, with the reasons, above the table): reviews kept and shown
# but not in the estimates (Evidence.left_out, reason -> reviews).
NOTE_LEFT_OUT = "estimated without {reviews}: {reasons}"
# Why a review is kept and shown but left out of the estimates (the keys of
# Evidence.left_out, read after a count: "3 opened outside any sample ...").
LEFT_OUT_DIRECT = "opened outside any sample (by id, link, search or by hand)"
LEFT_OUT_FILTERED = "from a filtered queue (a sample of part of the run only)"
LEFT_OUT_TAGGED = "tagged without being marked reviewed"
# Tags whose marginal effect (or marginal effect per effort) is exactly the same rank by
# the larger upper end of the marginal effect's interval, then in the evidence's order.
NOTE_TIED = "same marginal effect as {tags}: the larger upper bound ranks first"

# The queue of reviews recorded by ``reviews import``: filled in on a sheet, each reviewer
# on their own, so they count for agreement however many there are (see agreement.py).
IMPORT_QUEUE = "import"
# The tables of agreement: per tag, or per reviewer with the others.
AGREEMENT_BY = ("tag", "reviewer")
# A tag whose kappa is below this is flagged: its definition is applied inconsistently
# (0.6: "moderate" agreement or worse on Landis and Koch's scale).
AGREEMENT_THRESHOLD = 0.6
# Why an agreement table has no kappa on a row (erroranalysis.agreement).
NOTE_AGREEMENT_NO_PAIRS = (
    "no example seen by two reviewers yet: give some examples a second, blind review"
)
NOTE_AGREEMENT_CONSTANT = (
    "every decision on these examples is the same (the tag always or never given), "
    "so kappa is undefined"
)
NOTE_AGREEMENT_NO_OTHERS = "no example shared with another reviewer yet"
NOTE_AGREEMENT_NO_TAGS = "no tag to compare"

# C0 and C1 control characters, and DEL.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# Bidirectional embeddings, overrides and isolates, and the invisible direction marks.
_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_UNSEEN = re.compile(_BIDI.pattern[:-1] + r"\ud800-\udfff]")


def check_name(value: object, *, kind: str) -> str:
    """The trimmed name, or :class:`InvalidName` saying what is wrong with it.

    ``kind`` ("tag", "run", "dataset", "reviewer") names the name in the message.
    """
    if not isinstance(value, str):
        raise InvalidName(f"{kind} name must be text, got {type(value).__name__}")
    # Checked before trimming: str.strip() treats some control characters (\x1c-\x1f,
    # \x85) as spaces and would quietly drop them.
    if _CONTROL.search(value):
        raise InvalidName(f"{kind} name contains control characters: {show(value)}")
    if _SURROGATE.search(value):
        raise InvalidName(f"{kind} name is not valid Unicode (a lone surrogate): {show(value)}")
    clean = value.strip()
    if not clean:
        raise InvalidName(f"{kind} name is empty")
    if len(clean) > MAX_NAME:
        raise InvalidName(
            f"{kind} name is longer than {MAX_NAME} characters ({len(clean):,}): {show(clean, 40)}"
        )
    if _BIDI.search(clean):
        raise InvalidName(
            f"{kind} name contains Unicode direction controls (such as U+202E), "
            f"which make text read differently from what it is: {show(clean)}"
        )
    if kind in _LISTED_KINDS and TAG_SEPARATOR in clean:
        raise InvalidName(
            f"{kind} name contains {TAG_SEPARATOR!r}, which separates {kind}s in a sheet's "
            f"cell: {show(clean)}"
        )
    return clean


def check_tag_name(name: object) -> str:
    return check_name(name, kind="tag")


def check_reviewer(name: object) -> str:
    return check_name(name, kind="reviewer")


def show(value: str, limit: int = 80) -> str:
    """``value`` quoted for a one-line message: control and direction characters escaped,
    long text cut."""
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    escaped = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", value)
    return "'" + _UNSEEN.sub(lambda m: f"\\u{ord(m.group()):04x}", escaped) + "'"
