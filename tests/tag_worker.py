"""A reviewer in its own process: adds and removes tags at random on a shared project.

Used by the concurrency test: ``python tests/tag_worker.py PROJECT SEED N``.
"""

import random
import sys

from erroranalysis.store import open_project


def main(path: str, seed: int, n: int) -> None:
    rng = random.Random(seed)
    with open_project(path, timeout=60) as project:
        for _ in range(n):
            example = str(rng.randrange(10))
            tag = rng.choice(["a", "b", "c"])
            project.dataset("dev").set_tag(example, tag, rng.random() < 0.6, actor=f"r{seed}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
