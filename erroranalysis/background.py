"""Work on a thread of its own whose result is waited for later: the heavy parts of an
import (hashing the ids, encoding the run's Parquet) run without the GIL, so the import
goes on meanwhile on the other core."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TypeVar

T = TypeVar("T")


def in_background(work: Callable[[], T], *, name: str) -> Future[T]:
    """``work()`` started on a thread named ``name``; its result (or exception) in the
    future. The thread does not hold the process open: a command that fails meanwhile
    exits without waiting for work whose result nobody reads."""
    done: Future[T] = Future()

    def run() -> None:
        try:
            done.set_result(work())
        except BaseException as err:  # noqa: BLE001 - handed to whoever waits for it
            done.set_exception(err)

    threading.Thread(target=run, name=name, daemon=True).start()
    return done
