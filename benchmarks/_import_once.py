"""One import (or one bare read) in a fresh process, so its peak memory is its own.

Prints a JSON line: {"seconds": ..., "peak_mb": ...}.
"""

import json
import sys
import time
from pathlib import Path

import pandas as pd
from _memory import peak_mb

from erroranalysis.importing import read_dataset
from erroranalysis.store import open_project


def import_file(path: str | Path, db: str | Path, dataset: str | None = None) -> None:
    """Import ``path`` into ``db`` as ``dataset`` (default: the file's stem and format),
    replacing its run."""
    result = read_dataset(str(path))
    name = dataset or f"{Path(path).stem}-{result.format}"
    with open_project(db) as project:
        project.dataset(name, create=True).import_result(result, replace=True, actor="bench")


def main(kind: str, path: str, db: str) -> None:
    start = time.perf_counter()
    if kind == "bare-csv":
        pd.read_csv(path)
    elif kind == "bare-parquet":
        pd.read_parquet(path)
    else:
        import_file(path, db)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb()}))


if __name__ == "__main__":
    main(*sys.argv[1:4])
