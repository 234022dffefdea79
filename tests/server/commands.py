"""Command lines run as asyncio subprocesses (an in-process bridge keeps serving meanwhile),
bounded in time: the real grpcurl binary, and shell lines from the repository root with the
virtualenv's bin first on PATH, as the README's examples are typed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from .helpers import WAIT_S

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GRPCURL = BIN / "grpcurl"
SERVICE = "avatarbridge.v1.AvatarBridgeService"


async def outcome(
    proc: asyncio.subprocess.Process, within_s: float, stdin: bytes | None = None
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `proc`. Past `within_s` its whole process group is killed
    when it leads one (a shell's children may hold the pipes), else the process itself."""
    try:
        out, err = await asyncio.wait_for(proc.communicate(stdin), within_s)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, signal.SIGKILL)
            else:
                proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def run(
    *argv: str,
    env: dict[str, str] | None = None,
    stdin: bytes | None = None,
    within_s: float = WAIT_S,
) -> tuple[int, str, str]:
    """Run `argv` (no shell); `stdin` bytes are written to it, else it reads nothing."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        env=env,
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    return await outcome(proc, within_s, stdin)


async def sh(
    command: str, variables: dict[str, str] | None = None, within_s: float = WAIT_S
) -> tuple[int, str, str]:
    """Run a shell command line from the repository root with the virtualenv's bin first on
    PATH and `variables` in its environment, in its own process group."""
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **(variables or {}),
    }
    proc = await asyncio.create_subprocess_shell(
        command,
        cwd=ROOT,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
    )
    return await outcome(proc, within_s)
