"""Start-up of a small command, in fresh processes (see run.py).

* ``erroranalysis tags list --db SMALL`` on a project of 1,000 examples against a bare
  ``python -c "import pandas"``: the two run in turn, ``REPEAT`` times each, and the
  medians are compared (target: at most 1.3 times the bare figure). Interleaving keeps a
  busy machine from favouring either side. The processes may write bytecode (as an
  installed package has it), whatever PYTHONDONTWRITEBYTECODE says here.

* The first page after a server start: a fresh server (started as ``serve`` starts it)
  on the demo project, then Chromium opens its root address; from the request to the
  Datasets page drawn (title, tables with cells, its Plotly chart) with the script idle.
  Against the same on a bare Streamlit page with the same widgets (navigation of nine
  pages, the sidebar's picker and name, the runs table, four metrics, a Plotly bar chart,
  a second table, a toggle and download buttons), in turn, ``PAGE_REPEAT`` fresh servers
  each (target: at most 1.3 times the bare figure).

Run alone: ``python benchmarks/cold_start.py [--skip-ui]``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

REPEAT = 7
CLI_RATIO = 1.3
PAGE_REPEAT = 5
PAGE_RATIO = 1.3
HERE = Path(__file__).resolve().parent
BARE_IMPORT = (sys.executable, "-c", "import pandas")
ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}


def seconds(command: Sequence[str]) -> float:
    """Wall time of one fresh process running ``command`` (which must succeed)."""
    start = time.perf_counter()
    subprocess.run(command, check=True, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - start


def interleaved(
    ours: Sequence[str], bare: Sequence[str], *, repeat: int = REPEAT
) -> tuple[float, float]:
    """Median wall times of ``ours`` and ``bare``, run in turn ``repeat`` times each."""
    seconds(ours), seconds(bare)  # warm the file cache and the bytecode
    times: dict[str, list[float]] = {"ours": [], "bare": []}
    for _ in range(repeat):
        times["ours"].append(seconds(ours))
        times["bare"].append(seconds(bare))
    return statistics.median(times["ours"]), statistics.median(times["bare"])


def small_project(folder: Path, n: int = 1000) -> Path:
    """A project of ``n`` examples with two tags, imported by the command line."""
    rows = (
        f"e{i},{'yes' if i % 2 else 'no'},{'yes' if i % 3 else 'no'},"
        f"{'car' if i % 4 else 'clean'},{i % 5 == 0},{i % 7 == 0}"
        for i in range(n)
    )
    data = folder / "small.csv"
    data.write_text("id,label,prediction,noise,tag:faint,tag:clipped\n" + "\n".join(rows) + "\n")
    db = folder / "small.db"
    command = (sys.executable, "-m", "erroranalysis", "import", str(data), "--db", str(db))
    subprocess.run((*command, "--dataset", "small"), check=True, env=ENV, capture_output=True)
    return db


def bench_cli(record: Callable[..., None]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = small_project(Path(tmp))
        command = (sys.executable, "-m", "erroranalysis", "tags", "list", "--db", str(db))
        ours, bare = interleaved(command, BARE_IMPORT)
    record(
        "CLI start: tags list, small project (p50)",
        ours,
        "s",
        f"<= {CLI_RATIO:g}x bare",
        ours <= CLI_RATIO * bare,
        f"bare python -c 'import pandas' {bare:.2f} s ({ours / bare:.2f}x), {REPEAT} runs each",
    )


# The bare page: what the Datasets page draws, with made-up content and no project.
BARE_PAGE = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

TITLES = ["Datasets", "Review", "Tags", "Priorities", "Compare", "Discover", "Clusters",
          "Audit", "Drift"]


def datasets():
    st.set_page_config(page_title="Error analysis", layout="wide")
    with st.sidebar:
        st.selectbox("Dataset", ["speech-commands", "digits"], key="dataset")
        st.selectbox("Model run", ["main", "v2"], key="run")
        st.text_input("Your name", key="reviewer", max_chars=100)
    st.title("Datasets")
    runs = pd.DataFrame({"dataset": ["speech-commands", "digits"], "run": ["main", "v2"],
                         "examples": [400, 900], "accuracy": [0.853, 0.948]})
    st.dataframe(runs, hide_index=True, on_select="ignore", key="ds_table")
    st.header("speech-commands · run main", anchor=False)
    for column, (name, value) in zip(st.columns(4), [("Examples", "400"), ("Errors", "59"),
                                     ("Accuracy", "85.3%"), ("Baseline", "10.0%")]):
        column.metric(name, value)
    balance = pd.DataFrame({"class": list("abcdefghij"), "examples": range(40, 50)})
    left, right = st.columns([3, 2])
    figure = go.Figure(go.Bar(x=balance["examples"], y=balance["class"], orientation="h"))
    left.plotly_chart(figure, key="ds_balance_chart")
    right.dataframe(balance, hide_index=True)
    st.subheader("Export", anchor=False)
    st.toggle("Reviewed examples only", value=True, key="ds_export_reviewed")
    for label in ("CSV", "Excel"):
        st.download_button(label, data=b"id\\n", file_name="sheet.csv", key=label)


pages = [st.Page(datasets, title="Datasets", url_path="datasets", default=True)]
pages += [st.Page(lambda: None, title=t, url_path=t.lower()) for t in TITLES[1:]]
st.navigation(pages).run()
"""
PAGE_DRAWN = """(() => {
  const main = document.querySelector("[data-testid='stMain']");
  if (!main) return false;
  const title = Array.from(main.querySelectorAll('h1')).some(h => h.innerText.trim() === 'Datasets');
  const cells = main.querySelectorAll("[data-testid='stDataFrame'] [data-testid='glide-cell-1-0']");
  const chart = main.querySelector("[data-testid='stPlotlyChart'] .main-svg");
  const app = document.querySelector("[data-testid='stApp']");
  return title && cells.length >= 2 && !!chart && chart.getBoundingClientRect().height > 10
    && app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector("[data-stale='true']");
})()"""


def first_page_seconds(browser, script: Path, db: Path | None, log: Path) -> float:
    """A fresh server of ``script`` (on ``db``): seconds from opening its root address to
    the Datasets page drawn."""
    from _server import serving

    with serving(script, db, log, env=ENV) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function(PAGE_DRAWN, timeout=120_000, polling=50)
        seconds = time.perf_counter() - start
        page.close()
    return seconds


def bench_first_page(record: Callable[..., None]) -> None:
    from _server import CHROMIUM_ARGS, CHROMIUM_ENV, DEFAULT_CHROMIUM
    from playwright.sync_api import sync_playwright

    from erroranalysis.demo import build_demo

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        db = folder / "demo.db"
        build_demo(db)
        bare = folder / "bare_app.py"
        bare.write_text(BARE_PAGE)
        chromium = os.environ.get(CHROMIUM_ENV, DEFAULT_CHROMIUM)
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            app = HERE.parent / "app.py"
            first_page_seconds(browser, app, db, folder / "warm.log")  # bytecode, file cache
            first_page_seconds(browser, bare, None, folder / "warm-bare.log")
            times: dict[str, list[float]] = {"ours": [], "bare": []}
            for i in range(PAGE_REPEAT):
                times["ours"].append(first_page_seconds(browser, app, db, folder / f"{i}.log"))
                times["bare"].append(first_page_seconds(browser, bare, None, folder / "b.log"))
        finally:
            browser.close()
    ours, bare_s = statistics.median(times["ours"]), statistics.median(times["bare"])
    record(
        "first page after a server start (p50)",
        ours,
        "s",
        f"<= {PAGE_RATIO:g}x bare",
        ours <= PAGE_RATIO * bare_s,
        f"bare Streamlit page with the same widgets {bare_s:.2f} s ({ours / bare_s:.2f}x), "
        f"{PAGE_REPEAT} fresh servers each; ours {', '.join(f'{t:.1f}' for t in times['ours'])}",
    )


def bench(record: Callable[..., None], *, ui: bool = True) -> None:
    bench_cli(record)
    if ui:
        bench_first_page(record)


if __name__ == "__main__":
    sys.path.insert(0, str(HERE))
    from run import record

    bench(record, ui="--skip-ui" not in sys.argv[1:])
