"""Every page of the app, warm, at 1,000,000 examples, beside a bare page with the same
elements, in headless Chromium.

    python benchmarks/page_warm.py [--examples N] [--repeat R] [--results OUT.json]

The project is ui_latency.py's synthetic one (cached under benchmarks/data/, copied first).
Each page is run once under Streamlit's AppTest on that project and what it draws is
captured (``_replay.capture``: headings, text, tables with their values, Plotly figures
with their specs, metrics, buttons, inputs and their layout); a bare multipage app
(``_bare_pages.py``) draws those records again with plain ``st.*`` calls, so it differs
from the app only in doing no work of its own. Both are served as ``erroranalysis serve``
serves the app (the bare one with the app's Streamlit settings), each in its own tab.

"Warm": every page is visited once in each tab first. Then, ``--repeat`` rounds: each page
in turn is reached by a click in the navigation (from the page before it) in the app's tab
and then the bare tab (the order swapped every round), and timed from the click to the
page's title, every table (with cells) and every Plotly chart (laid out) drawn with the
script idle and nothing stale: ui_latency.py's in-page clock. Also kept: when the app
reported the run over (the script and its messages; the rest is the browser's drawing).
Target: at most 1.2 times the bare page's median (issue 12).

Writes JSON records as run.py's ``record`` does when ``--results`` is given.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import _replay  # noqa: E402

RATIO = 1.2
REPEAT = 9
BARE_APP = HERE / "_bare_pages.py"
# What the browser draws after the script's messages: data grids and Plotly figures. The
# rest is drawn with the message that carries it, so "script idle" covers it.
TABLE_DRAWN = "[data-testid='stDataFrame'] [data-testid^='glide-cell-']"
CHART_DRAWN = (
    "[data-testid='stPlotlyChart'] .main-svg, [data-testid='stVegaLiteChart'] canvas,"
    " [data-testid='stVegaLiteChart'] svg.marks"
)
# Records in these are not on screen on arrival (a collapsed expander, a closed popover,
# a tab other than the first), so the drawn condition does not wait for them.
HIDDEN = {"expander", "popover"}
WAIT_MS = int(os.environ.get("PAGE_WARM_WAIT_MS", 120_000))


# ---------------------------------------------------------------------- capture
def capture_pages(db: Path, out: Path, reviewer: str) -> None:
    """Run every page of the app on ``db`` under AppTest (``reviewer`` signed in) and
    pickle what each draws to ``out``, with its title and icon, in the navigation's order."""
    os.environ["ERRORANALYSIS_DB"] = str(db)
    from streamlit.testing.v1 import AppTest

    from app_pages._ui import PAGES

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=900)
    at.session_state["reviewer"] = reviewer
    at.run()
    pages = {}
    for name, (title, icon) in PAGES.items():
        at.switch_page(f"app_pages/{name}.py")
        at.run()
        if at.exception:
            raise RuntimeError(f"the {name} page raised: {at.exception[0].message}")
        pages[name] = {"title": title, "icon": icon, "records": _replay.capture(at)}
    with out.open("wb") as sink:
        pickle.dump({"pages": pages}, sink)


def captured_in_child(db: Path, out: Path, reviewer: str) -> dict:
    """:func:`capture_pages` in a process of its own (its memory goes back when it ends)."""
    command = [sys.executable, str(Path(__file__)), "--capture", str(db), str(out), reviewer]
    subprocess.run(command, check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    with out.open("rb") as source:
        return pickle.load(source)["pages"]


def visible(records: list[_replay.Record]) -> list[_replay.Record]:
    """The records on screen when a page arrives: none in collapsed or closed blocks,
    only the first tab's."""
    shown = []
    for record in records:
        if record["kind"] in HIDDEN and not record.get("expanded"):
            continue
        children = record.get("children", [])
        if record["kind"] == "tabs":
            children = children[:1]
        shown.append({**record, "children": visible(children)})
    return shown


def drawn_js(title: str, records: list[_replay.Record], field: str = "done") -> str:
    """JS: the page titled ``title`` with every visible table (that has rows) and chart of
    ``records`` drawn, the script idle and nothing stale (``field``: ``"title"``,
    ``"grids"``, ``"charts"`` or ``"idle"``, one part of that, for a message)."""
    on_screen = visible(records)
    tables = sum(
        1
        for r in _walk(on_screen)
        if r["kind"] == "dataframe" and len(r["value"]) and len(r["value"].columns)
    )
    charts = sum(1 for r in _walk(on_screen) if r["kind"] in ("plotly_chart", "vega_lite_chart"))
    return f"""(() => {{
  const main = document.querySelector("[data-testid='stMain']");
  if (!main) return false;
  const want = {json.dumps(title)};
  const title = Array.from(main.querySelectorAll('h1')).some(h => h.innerText.trim() === want);
  const grids = new Set(Array.from(main.querySelectorAll({json.dumps(TABLE_DRAWN)}))
                        .map(cell => cell.closest("[data-testid='stDataFrame']"))).size;
  const charts = Array.from(main.querySelectorAll({json.dumps(CHART_DRAWN)}))
                      .filter(svg => svg.getBoundingClientRect().height >= 10).length;
  const app = document.querySelector("[data-testid='stApp']");
  const idle = app.getAttribute('data-test-script-state') === 'notRunning'
    && !document.querySelector("[data-stale='true']");
  const done = title && grids >= {tables} && charts >= {charts} && idle;
  return {{done, title, grids, charts, idle}}[{json.dumps(field)}];
}})()"""


def _walk(records: list[_replay.Record]):
    for record in records:
        yield record
        yield from _walk(record.get("children", []))


def drawn_state(tab, page: dict) -> str:
    """What the drawn condition of ``page`` sees in ``tab``, and what it waits for."""
    title, main = page_title(page), page["records"]["main"]
    seen = {f: tab.evaluate(drawn_js(title, main, f)) for f in ("title", "grids", "charts", "idle")}
    seen["h1"] = tab.evaluate("Array.from(document.querySelectorAll('h1')).map(h => h.innerText)")
    seen["url"] = tab.url
    return f"{seen} for {title!r}; wants {drawn_js(title, main).split('const done = ')[1].split(';')[0]}"


def page_title(page: dict) -> str:
    """The heading the page draws first (its ``st.title``), else its navigation title."""
    for record in _walk(page["records"]["main"]):
        if record["kind"] == "title":
            return record["body"]
    return page["title"]


def replay_differences(capture_file: Path, pages: dict) -> list[str]:
    """The pages whose bare replay (under AppTest) draws other elements or values than the
    page did."""
    again = _replay.replayed(capture_file, list(pages))
    return [
        name
        for name, page in pages.items()
        for area in ("main", "sidebar")
        if _replay.comparable(page["records"][area]) != _replay.comparable(again[name][area])
    ]


# ---------------------------------------------------------------------- timing
@dataclass
class PageTiming:
    """Milliseconds from the click: until drawn with the script idle, and until the app
    reported the run over."""

    drawn_ms: list[float] = field(default_factory=list)
    ran_ms: list[float] = field(default_factory=list)


def visit(page, link, done: str) -> tuple[float, float]:
    from ui_latency import click_and_wait

    _, drawn = click_and_wait(page, link, done)
    ran = page.evaluate("window.__bench.ran")
    return drawn, float(ran if ran is not None else drawn)


def app_settings() -> list[str]:
    """The app's own Streamlit settings (``.streamlit/config.toml`` next to app.py) as
    command-line flags, so the bare app is served with the same runner and client
    settings (no garbage collection after each run, the same toolbar)."""
    import tomllib

    with (ROOT / ".streamlit" / "config.toml").open("rb") as source:
        config = tomllib.load(source)
    flags = []
    for section, settings in config.items():
        for name, value in settings.items():
            text = str(value).lower() if isinstance(value, bool) else str(value)
            flags += [f"--{section}.{name}", text]
    return flags


def measure(
    browser, db: Path, dataset: str, pages: dict, capture_file: Path, folder: Path, repeat: int
):
    """(ours, bare): per page name, the PageTiming of ``repeat`` warm visits in each."""
    from _server import serving
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from ui_latency import APP, TIMEOUT_MS, open_review, wait_idle

    checks = {
        name: drawn_js(page_title(page), page["records"]["main"]) for name, page in pages.items()
    }
    ours = {name: PageTiming() for name in pages}
    bare = {name: PageTiming() for name in pages}
    bare_env = {_replay.CAPTURE_ENV: str(capture_file)}
    with (
        serving(APP, db, folder / "app.log") as app_url,
        serving(
            BARE_APP, None, folder / "bare.log", env=bare_env, flags=app_settings()
        ) as bare_url,
    ):
        tab_ours = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_review(tab_ours, app_url, dataset)
        tab_bare = browser.new_page(viewport={"width": 1400, "height": 1000})
        tab_bare.goto(f"{bare_url}/review")
        tab_bare.wait_for_selector("[data-testid='stSidebarNav']", timeout=TIMEOUT_MS)
        wait_idle(tab_bare)
        sides = [(tab_ours, ours), (tab_bare, bare)]

        def link(tab, name: str):
            nav = tab.get_by_test_id("stSidebarNav")
            return nav.get_by_role("link", name=pages[name]["title"], exact=True)

        for tab, _ in sides:  # warm: every page once
            for name in pages:
                link(tab, name).click()
                try:
                    tab.wait_for_function(checks[name], timeout=WAIT_MS, polling=50)
                except PlaywrightTimeout:
                    raise RuntimeError(
                        f"{name} not drawn: {drawn_state(tab, pages[name])}"
                    ) from None
        for round_ in range(repeat):
            for name in pages:
                for tab, timings in sides if round_ % 2 == 0 else sides[::-1]:
                    drawn, ran = visit(tab, link(tab, name), checks[name])
                    timings[name].drawn_ms.append(drawn)
                    timings[name].ran_ms.append(ran)
            print(f"  round {round_ + 1} of {repeat} done", flush=True)
        tab_ours.close()
        tab_bare.close()
    for log in ("app.log", "bare.log"):
        text = (folder / log).read_text(errors="replace")
        if "Traceback" in text:
            raise RuntimeError(f"{log} has an exception:\n{text}")
    return ours, bare


# ---------------------------------------------------------------------- the run
def pct(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))


def bench(
    record: Callable[..., None],
    *,
    examples: int = 1_000_000,
    repeat: int = REPEAT,
    project: tuple[Path, str] | None = None,
) -> list[dict]:
    """Measure every page warm (see the module's docstring) on ui_latency.py's project of
    ``examples`` (or ``project``: a file and the dataset to open); ``record`` each page's
    median beside the bare one; returns the rows of the table."""
    from _server import CHROMIUM_ARGS
    from playwright.sync_api import sync_playwright
    from ui_latency import CHROMIUM, DATASET, REVIEWER, cached_project

    cached, dataset = project or (cached_project(examples), DATASET)
    size = f"{examples:,} examples" if project is None else cached.name
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="page-warm-") as tmp, sync_playwright() as pw:
        folder = Path(tmp)
        db = folder / "project.db"
        shutil.copyfile(cached, db)  # the pages may write; the cached file stays as built
        capture_file = folder / "pages.pickle"
        print(f"capturing every page of {size} (AppTest)", flush=True)
        pages = captured_in_child(db, capture_file, REVIEWER)
        for name, page in pages.items():
            unknown = sorted(
                {r["type"] for r in _walk(page["records"]["main"]) if r["kind"] == "unknown"}
            )
            if unknown:
                print(f"  {name}: not replayed: {', '.join(unknown)}", flush=True)
        differ = replay_differences(capture_file, pages)
        if differ:
            print(f"  the bare replay differs from the page on: {', '.join(differ)}", flush=True)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            print(f"timing every page warm, {repeat} rounds, beside the bare pages", flush=True)
            ours, bare = measure(browser, db, dataset, pages, capture_file, folder, repeat)
        finally:
            browser.close()
    load_after = os.getloadavg()
    load = f"load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    rows = []
    for name, page in pages.items():
        o, b = ours[name], bare[name]
        row = {
            "page": page["title"],
            "ours_p50": pct(o.drawn_ms, 50),
            "ours_p90": pct(o.drawn_ms, 90),
            "bare_p50": pct(b.drawn_ms, 50),
            "bare_p90": pct(b.drawn_ms, 90),
            "ours_ran_p50": pct(o.ran_ms, 50),
            "bare_ran_p50": pct(b.ran_ms, 50),
        }
        row["ratio"] = row["ours_p50"] / row["bare_p50"]
        rows.append(row)
        record(
            f"page warm: {page['title']}, {size} (p50)",
            row["ours_p50"],
            "ms",
            f"<= {RATIO:g}x bare",
            row["ratio"] <= RATIO,
            f"bare page with the same elements p50 {row['bare_p50']:.0f} ms ({row['ratio']:.2f}x); "
            f"p90 {row['ours_p90']:.0f} / {row['bare_p90']:.0f} ms; run over at "
            f"{row['ours_ran_p50']:.0f} / {row['bare_ran_p50']:.0f} ms; {repeat} visits each; {load}",
        )
    print(
        f"\n{'page':<12} {'ours p50':>9} {'p90':>7} {'bare p50':>9} {'p90':>7} {'ratio':>6}"
        f" {'run over: ours':>15} {'bare':>6}"
    )
    for row in rows:
        print(
            f"{row['page']:<12} {row['ours_p50']:>7.0f}ms {row['ours_p90']:>5.0f}ms"
            f" {row['bare_p50']:>7.0f}ms {row['bare_p90']:>5.0f}ms {row['ratio']:>5.2f}x"
            f" {row['ours_ran_p50']:>13.0f}ms {row['bare_ran_p50']:>4.0f}ms"
        )
    print(f"({load}; 2 shared cores)")
    return rows


def main() -> None:
    if sys.argv[1:2] == ["--capture"]:
        db, out, reviewer = sys.argv[2:5]
        capture_pages(Path(db), Path(out), reviewer)
        return
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--examples", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=REPEAT, help="warm visits per page (>= 9)")
    parser.add_argument("--results", type=Path, help="where to write the JSON records")
    parser.add_argument(
        "--project", type=Path, help="measure this project file instead (with --dataset)"
    )
    parser.add_argument("--dataset", help="the dataset of --project to open first")
    args = parser.parse_args()
    if args.project and not args.dataset:
        parser.error("--project needs --dataset")
    if args.repeat < REPEAT:
        parser.error(f"--repeat must be at least {REPEAT}")
    from run import RESULTS, record

    project = (args.project, args.dataset) if args.project else None
    bench(record, examples=args.examples, repeat=args.repeat, project=project)
    if args.results:
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(RESULTS, indent=2))


if __name__ == "__main__":
    main()
