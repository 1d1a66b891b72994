"""Run the app (or any Streamlit script) as `erroranalysis serve` does, on a free local port.

The browser tests (``tests/e2e/``) and the UI benchmark both start servers this way (and
drive the same Chromium with the same flags), so
both measure and test the command line users run, plus one flag: edits to the source
while a server runs must not rerun the app under the test or the timing.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from erroranalysis.cli import serve_command

STARTUP_TIMEOUT_S = 60.0
# Debian's Chromium, headless; without the networking flags it keeps dialling out
# (updates, sync) on a closed network.
CHROMIUM_ENV = "ERRORANALYSIS_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(url: str) -> bool:
    """Whether the Streamlit server at ``url`` answers its health check."""
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError):
        return False


def start_app(
    script: Path,
    db: Path | None,
    log: Path,
    *,
    port: int | None = None,
    env: Mapping[str, str] | None = None,
    flags: Sequence[str] = (),
    secrets: Path | None = None,
) -> tuple[subprocess.Popen, str]:
    """Start ``script`` on ``db`` (None: a bare script without a project) with serve's
    command line (``flags`` after serve's own, which they override; ``env`` added to the
    environment; ``secrets`` as ``serve --secrets`` takes it; output to ``log``); returns
    the process and its base URL once ``/_stcore/health`` answers ``ok``. Raises
    RuntimeError, with the log, if it does not."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    command, extra = serve_command(
        app=script, db=db or script, host="127.0.0.1", port=port, secrets=secrets
    )
    if db is None:
        del extra["ERRORANALYSIS_DB"]
    command += ["--server.fileWatcherType", "none", *flags]
    environment = {**os.environ, **extra, **(env or {})}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command,
            cwd=script.parent,
            env=environment,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not healthy(url):
        if process.poll() is not None:
            raise RuntimeError(
                f"the app exited with {process.returncode}:\n{log.read_text(errors='replace')}"
            )
        if time.monotonic() > deadline:
            stop_app(process)
            raise RuntimeError(f"the app did not answer {url} within {STARTUP_TIMEOUT_S:g} s")
        time.sleep(0.1)
    return process, url


def stop_app(process: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_app` (terminate, then kill after 10 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def serving(script: Path, db: Path | None, log: Path, **options: object) -> Iterator[str]:
    """:func:`start_app` as a context: yields the base URL, stops the server on exit."""
    process, url = start_app(script, db, log, **options)
    try:
        yield url
    finally:
        stop_app(process)
