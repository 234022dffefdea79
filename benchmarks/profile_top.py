"""Summarise a py-spy raw (collapsed) profile: inclusive share per function, top N.

`python -m benchmarks.profile_top benchmarks/results/profile-300x100ms.txt [N]`
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path


def top(path: str, n: int = 25) -> list[tuple[str, float, float]]:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rstrip().rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].rstrip(")") for f in stack.split(";")]
        total += count
        for frame in set(frames):
            inclusive[frame] += count
        own[frames[-1]] += count
    return [(f, 100 * c / total, 100 * own[f] / total) for f, c in inclusive.most_common(n)]


if __name__ == "__main__":
    for frame, incl, self_ in top(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25):
        print(f"{incl:5.1f}% incl {self_:5.1f}% self  {frame}")
