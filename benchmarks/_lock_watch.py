"""Watch one process's hold on a project's write lock, from outside it.

    python benchmarks/_lock_watch.py PROJECT PID

In WAL mode SQLite's writer holds a POSIX lock on byte 120 of the ``-shm`` file; this
process asks the kernel who holds it (``F_GETLK``, which takes nothing) every half
millisecond until PID exits, and prints a JSON line: the longest and total hold, how
many separate holds, and each hold as [start, end] on the system's monotonic clock.
It runs in its own process because closing a file descriptor drops every POSIX lock the
process holds on that file, SQLite's own included.
"""

import fcntl
import json
import os
import struct
import sys
import time

WRITE_LOCK_BYTE = 120
FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


def holder(shm: str) -> int | None:
    try:
        fd = os.open(shm, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        query = struct.pack(FLOCK, fcntl.F_WRLCK, os.SEEK_SET, WRITE_LOCK_BYTE, 1, 0)
        kind, _, _, _, pid = struct.unpack(FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, query))
    finally:
        os.close(fd)
    return None if kind == fcntl.F_UNLCK else pid


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a finished child not yet reaped
        return stat.read().split(") ", 1)[1][0] != "Z"


def main(project: str, pid: int) -> None:
    shm = f"{project}-shm"
    holds: list[list[float]] = []
    since = None
    while alive(pid):
        now = time.monotonic()
        if holder(shm) == pid:
            since = now if since is None else since
        elif since is not None:
            holds.append([since, now])
            since = None
        time.sleep(0.0005)
    if since is not None:
        holds.append([since, time.monotonic()])
    lengths = [end - start for start, end in holds]
    print(
        json.dumps(
            {
                "max_hold": max(lengths, default=0.0),
                "total_hold": sum(lengths),
                "holds": len(holds),
                "intervals": holds,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
