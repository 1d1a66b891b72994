"""An Excel workbook of the examples sheet, 100,000 rows (see run.py).

``workbook_bytes`` of synthetic examples (id, label, prediction, confidence, 10 metadata
columns) plus a correct flag, a ``;``-joined tags column and a review time, against a
bare ``DataFrame.to_csv`` of the same frame in the same run. Target: at most 8 times the
bare figure (a workbook types and styles every cell; a CSV only prints it). Run alone
with ``python benchmarks/workbook.py``.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pandas as pd
import synthetic

ROWS = 100_000
LIMIT = 8.0


def examples_sheet(n: int = ROWS) -> pd.DataFrame:
    frame = synthetic.examples(n)
    rng = np.random.default_rng(2)
    return frame.assign(
        correct=(frame["label"] == frame["prediction"]).to_numpy(),
        tags=rng.choice(["car noise;people noise", "", "low bandwidth", "=HYPERLINK(x)"], n),
        reviewed_at=pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
    )


def bench(record: Callable[..., None], best_of: Callable[..., float]) -> None:
    from erroranalysis.workbook import workbook_bytes

    frame = examples_sheet()
    bare = best_of(lambda: frame.to_csv(io.StringIO(), index=False), repeat=3)
    ours = best_of(lambda: workbook_bytes({"examples": frame}), repeat=3)
    record(
        f"xlsx examples ({ROWS // 1000}k rows, {frame.shape[1]} columns)",
        ours,
        "s",
        f"<= {LIMIT:g}x bare to_csv",
        ours <= LIMIT * bare,
        f"bare to_csv {bare:.2f} s",
    )


if __name__ == "__main__":
    import run

    bench(run.record, run.best_of)
