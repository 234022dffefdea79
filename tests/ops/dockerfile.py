"""Read a Dockerfile into stages of instructions, to run its RUN lines without a Docker engine."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def args(self, keyword: str) -> list[str]:
        return [rest for kw, rest in self.instructions if kw == keyword]


def parse(path: Path) -> dict[str, Stage]:
    """Stages by name; each instruction as (KEYWORD, rest) with continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: dict[str, Stage] = {}
    current: Stage | None = None
    for line in logical:
        keyword, _, rest = line.partition(" ")
        if keyword.upper() == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            current = stages[name] = Stage(name, words[0])
            continue
        assert current is not None, f"{keyword} before FROM"
        current.instructions.append((keyword.upper(), rest))
    return stages


def run_command(rest: str) -> str:
    """A RUN instruction's shell command, without its BuildKit --mount flags."""
    return re.sub(r"^(--\S+\s+)+", "", rest)


def copy_sources(rest: str) -> list[str]:
    """A COPY instruction's sources (the last word is the destination)."""
    return shlex.split(rest)[:-1]
