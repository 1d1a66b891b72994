"""What the readers share once a file is an Arrow table.

Header names (blank ones named as pandas names them, repeated ones refused), the text of
a column that plays a text role, the dates and times pyarrow inferred put back as the
text they were, and nested columns left out with a warning.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc

from ..vocabulary import TAG_PREFIX
from .report import Report


def header_names(
    names: list[str], report: Report, *, where: str = "the header"
) -> list[str] | None:
    """Header names with blanks named as pandas names them; None if a name repeats."""
    seen: set[str] = set()
    repeated: dict[str, int] = {}
    clean = []
    for i, name in enumerate(names):
        if name == "":
            name = f"Unnamed: {i}"
            report.warnings.append(f"column {i + 1} has no name; it was read as {name!r}")
        if name in seen:
            repeated[name] = repeated.get(name, 1) + 1
        seen.add(name)
        clean.append(name)
    for name, count in repeated.items():
        # A repeated name would leave one of the columns silently unread.
        report.add(
            f"appears more than once in {where} ({count} times); rename all but one",
            column=name,
        )
    return None if repeated else clean


def has_text(kind: pa.DataType) -> bool:
    """Whether a column of this type is text, whole numbers, booleans or nulls (encoded as a
    dictionary or not): those :func:`arrow_text` turns into the text they were written as."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    return (
        pa.types.is_string(kind)
        or pa.types.is_large_string(kind)
        or pa.types.is_string_view(kind)
        or pa.types.is_integer(kind)
        or pa.types.is_boolean(kind)
        or pa.types.is_null(kind)
    )


def arrow_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Text of a column :func:`has_text` accepts, or of a binary column of UTF-8 (nulls
    stay null; the cast raises ``ArrowInvalid`` on bytes that are not UTF-8)."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = kind.value_type
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if pa.types.is_large_string(kind):
        return column  # text already, as pandas keeps it: a cast would copy it twice
    return column.cast(pa.string())


def temporal_as_text(
    table: pa.Table,
    *,
    spelled: Sequence[str],
    text_columns: Sequence[str],
    reread: Callable[[list[str]], pa.Table],
) -> pa.Table:
    """``table`` with the dates and times pyarrow inferred put back as the text they were.

    pandas keeps such text as text, and metadata reads as pandas would read it. ``spelled``
    are the table's column names as the file writes them, which ``text_columns`` (already
    text) and ``reread`` use; ``reread(names)`` parses the file again with those columns as
    text, so only a file with such columns is parsed twice.
    """
    temporal = [
        i
        for i, kind in enumerate(table.schema.types)
        if spelled[i] not in text_columns and pa.types.is_temporal(kind)
    ]
    if not temporal:
        return table
    strings = reread([spelled[i] for i in temporal])
    for i in temporal:
        table = table.set_column(i, table.column_names[i], strings.column(spelled[i]))
    return table


# Arrow's allocator as the process started (mimalloc on most builds), before any import
# chose another.
_FIRST_POOL = pa.default_memory_pool()


def allocator_for(fmt: str) -> None:
    """Make Arrow's allocator the one measured best for reading a file of format ``fmt``:
    jemalloc for Parquet where pyarrow has it, the process's first one for the others;
    nothing changes when ``ARROW_DEFAULT_MEMORY_POOL`` names one.

    A Parquet import frees and allocates gigabytes (the file's table, the frame, the run's
    blob). mimalloc gives freed pages back to the system at once and faults them in again,
    zeroed, when the next column is made: a 10M-row Parquet import spent 5.5-9.7 s of
    system time, most of it the kernel clearing pages, against 2.3-5.9 s with jemalloc,
    which keeps them a second. A CSV's Arrow table is let go column by column while its
    frame is made, so that the frame reuses its pages: jemalloc's kept pages raised a
    1M-row CSV import's peak from 490 to 660 MB (docs/performance.md). The choice holds
    for the process's later allocations too; buffers keep the allocator that made them."""
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return
    pool = _FIRST_POOL
    if fmt == "parquet":
        with contextlib.suppress(NotImplementedError):  # a pyarrow built without it
            pool = pa.jemalloc_memory_pool()
    pa.set_memory_pool(pool)


def give_back_memory() -> None:
    """Return to the system the memory Arrow has freed but keeps for reuse.

    Arrow's allocator holds freed pages a while: after a large file's parse it held over
    100 MB that the steps after it did not reuse, on top of the frame. Giving them back
    took a few milliseconds there."""
    pa.default_memory_pool().release_unused()


def drop_nested(table: pa.Table, *, exclude: set[str], report: Report) -> pa.Table:
    """``table`` without its nested columns (lists, structs), each named in a warning;
    the ``exclude`` columns and ``tag:NAME`` columns are left for their own checks."""
    nested = [
        name
        for name, kind in zip(table.column_names, table.schema.types, strict=True)
        if name not in exclude and pa.types.is_nested(kind) and not name.startswith(TAG_PREFIX)
    ]
    for name in nested:
        report.warnings.append(
            f"column {name!r} holds nested values ({table.schema.field(name).type}); "
            "it was left out (flatten it to import it)"
        )
    return table.drop_columns(nested) if nested else table
