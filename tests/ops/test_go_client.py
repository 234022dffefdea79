"""The Go client (clients/go, GOPATH mode, Debian's Go packages) runs a LITE conversation
against the real bridge and emulator."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The first build compiles grpc-go from source: minutes on a busy 2-core machine, not seconds.
BUILD_AND_RUN_S = 600

pytestmark = pytest.mark.skipif(
    shutil.which("go") is None or not Path("/usr/share/gocode/src/google.golang.org/grpc").exists(),
    reason="needs golang-go and golang-google-grpc-dev (installed by .ci/run)",
)


@pytest.mark.timeout(BUILD_AND_RUN_S + 60)
async def test_go_lite_conversation(bridge: Any) -> None:
    proc = await asyncio.create_subprocess_exec(
        "bash",
        str(ROOT / "clients" / "go" / "run.sh"),
        "cmd/lite-conversation",
        "-target",
        bridge.target,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), BUILD_AND_RUN_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert lines[0] == 'session_started request_id=""'
    assert 'avatar_speak_started request_id="go-1"' in lines
    assert 'avatar_speak_ended request_id="go-1"' in lines
    assert lines[-1] == 'session_stopped request_id=""'
