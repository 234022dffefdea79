"""Fidelity: HeyGen's web SDK (@heygen/liveavatar-web-sdk, unchanged) in headless chromium.

Only its apiUrl points at the emulator; the page is served from another origin
(http://localhost:5173), so CORS is exercised as in production. Through start, LiveKit room join,
session.stream_ready (the avatar's audio and video), speak, interrupt, keep-alive and stop.
"""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator.helpers import WAIT, create, full_body, key_headers, lite_body

from liveavatar_emulator import Emulator

pytestmark = pytest.mark.full

WEB = Path(__file__).resolve().parents[2] / "emulator" / "web"
DRIVER = WEB / "tests" / "sdk.mjs"
BROWSER_WAIT_S = 120.0


def _missing() -> str | None:
    if shutil.which("node") is None or shutil.which("chromium") is None:
        return "node and Debian chromium are needed (.ci/run installs them)"
    if not (WEB / "node_modules" / "playwright-core").exists():
        return "npm packages not installed: run make web"
    if not (WEB / "dist" / "sdk_check.js").exists():
        return "SDK check page not bundled: run make web"
    return None


async def run_sdk(emu: Emulator, token: str) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        "node", str(DRIVER), emu.base_url, token, "90000", stdout=asyncio.subprocess.PIPE
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), BROWSER_WAIT_S)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return result


async def ended_reason(http: httpx.AsyncClient, sid: str) -> str | None:
    for _ in range(100):
        entry = (await http.get(f"/v1/sessions/{sid}", headers=key_headers())).json()["data"]
        if entry.get("end_reason"):
            return str(entry["end_reason"])
        await asyncio.sleep(0.1)
    return None


@pytest.mark.parametrize("mode", ["FULL", "LITE"])
async def test_heygen_web_sdk_runs_unchanged(emu: Emulator, mode: str) -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, token = await create(http, full_body() if mode == "FULL" else lite_body())
        result = await run_sdk(emu, token)
        assert result.get("error") is None, (result["error"], result.get("logs"))
        assert result["done"], result
        assert result["mode"] == mode
        assert result["steps"] == [
            "started",
            "stream_ready",
            "speak_started",
            "speak_ended",
            "interrupted",
            "keep_alive",
            "disconnected:CLIENT_INITIATED",
        ], result
        assert result["frames"] >= 5 and result["videoSize"] == [320, 240], result
        # Interrupted well before the long utterance would have ended on its own.
        assert result["interruptedAfterMs"] < 3000, result
        # The SDK's stop reached the emulator (it sends no body: the default reason).
        assert await ended_reason(http, sid) == "USER_CLOSED"
