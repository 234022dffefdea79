"""Drives the Go load generator + LITE sink (benchmarks/go/loadgen) for benchmarks.run.

The Go process does what benchmarks.lite_load and benchmarks.sink do, on its own core, at a
fraction of their CPU: at 1,000 sessions the Python generator's own loop delays land in the
measured packet latency. It prints `streaming` at the common start, then one JSON document.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
TICKS = os.sysconf("SC_CLK_TCK")


def available() -> bool:
    """Go and Debian's gRPC/protobuf Go packages are installed (GOPATH mode)."""
    return (
        shutil.which("go") is not None
        and Path("/usr/share/gocode/src/google.golang.org/grpc").is_dir()
    )


@cache
def binary() -> Path:
    """Build the generator once per process into a private temp dir (removed at exit)."""
    folder = tempfile.mkdtemp(prefix="avatar-bridge-loadgen-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    out = Path(folder) / "loadgen"
    subprocess.run([str(HERE / "build.sh"), str(out)], check=True)
    return out


class GoLoad:
    """One run of the generator: `await start(...)`, `await streaming()`, then `await result()`."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    @classmethod
    async def start(
        cls,
        port: int,
        *,
        sessions: int,
        chunk_ms: int,
        seconds: float,
        ramp_s: float | None = None,
        spread_s: float = 0.0,
        sessions_per_conn: int = 100,
        core: int | None = None,
    ) -> GoLoad:
        pin = ["taskset", "-c", str(core)] if core is not None else []
        proc = await asyncio.create_subprocess_exec(
            *pin,
            str(binary()),
            f"-target=127.0.0.1:{port}",
            f"-sessions={sessions}",
            f"-chunk-ms={chunk_ms}",
            f"-seconds={seconds}",
            # Unset: the generator's own rule, as lite_load's (sessions/200 s, at most 5 s).
            *([f"-ramp-s={ramp_s}"] if ramp_s is not None else []),
            f"-spread-s={spread_s}",
            f"-sessions-per-conn={sessions_per_conn}",
            "-hold",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def streaming(self) -> None:
        """Returns when every session has reached the common start (or the process ended)."""
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            if line.strip() == b"streaming":
                return

    def cpu_s(self) -> float:
        """The generator's CPU so far (user + system), from /proc: it stays (-hold) until
        `result()` has read its report."""
        stat = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(stat[11]) + int(stat[12])) / TICKS

    async def result(self) -> dict[str, Any]:
        """The generator's JSON report (see loadgen/main.go)."""
        assert self.proc.stdout is not None and self.proc.stdin is not None
        line = await self.proc.stdout.readline()
        self.proc.stdin.close()
        if await self.proc.wait() != 0 or not line.startswith(b"{"):
            raise RuntimeError(f"loadgen exited with {self.proc.returncode}: {line!r}")
        result: dict[str, Any] = json.loads(line)
        return result
