"""A benchmark child's own peak memory."""

from __future__ import annotations

from pathlib import Path


def peak_mb() -> float:
    """This process's peak RSS in MB. Read from VmHWM, which starts afresh at exec, not from
    getrusage's ru_maxrss, which Linux carries over from the parent across exec (a child of
    a parent that once held a big frame would report the parent's peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")
