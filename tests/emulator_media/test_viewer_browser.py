"""The viewer page in headless Debian chromium (playwright-core from npm), inside the netns.

A LITE session speaks; the page must join the avatar's room, subscribe to its audio and video,
decode video frames showing the synthetic face, and print the session's events.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import shutil
from pathlib import Path

import httpx
import numpy as np
import pytest
from emulator.helpers import WAIT, create, lite_ws, start
from PIL import Image

from liveavatar_emulator import Emulator

pytestmark = pytest.mark.full

ROOT = Path(__file__).resolve().parents[2]
WATCH = ROOT / "emulator" / "web" / "tests" / "watch.mjs"
PLAYWRIGHT = ROOT / "emulator" / "web" / "node_modules" / "playwright-core"
BUNDLE = ROOT / "emulator" / "liveavatar_emulator" / "viewer_static" / "viewer.js"
BROWSER_WAIT_S = 90.0


def _missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if shutil.which("chromium") is None:
        return "Debian chromium is not installed (.ci/run installs it)"
    if not PLAYWRIGHT.exists() or not BUNDLE.exists():
        return "npm packages not installed / viewer not bundled: run make web"
    return None


async def test_viewer_page_shows_and_plays_the_avatar(emu: Emulator, tmp_path: Path) -> None:
    reason = _missing()
    if reason:
        pytest.skip(reason)
    t = np.arange(24_000 * 2) / 24_000
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 300 * t)).astype("<i2").tobytes()
    shot = tmp_path / "viewer.png"
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, token = await create(http)
        data = await start(http, token)
        browser = await asyncio.create_subprocess_exec(
            "node",
            str(WATCH),
            f"{emu.base_url}/viewer?session={sid}",
            str(shot),
            "60000",
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            async with lite_ws(str(data["ws_url"])) as ws:
                # Keep the avatar talking until the browser has seen it.
                while browser.returncode is None:
                    for offset in range(0, len(tone), 9600):
                        audio = base64.b64encode(tone[offset : offset + 9600]).decode()
                        await ws.send({"type": "agent.speak", "event_id": "hi", "audio": audio})
                    await ws.send({"type": "agent.speak_end"})
                    await ws.wait_type("agent.speak_ended")
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(asyncio.shield(browser.wait()), 0.1)
            out, _ = await asyncio.wait_for(browser.communicate(), BROWSER_WAIT_S)
        finally:
            if browser.returncode is None:
                browser.kill()
                await browser.wait()
    result = json.loads(out.decode().strip().splitlines()[-1])
    assert result["ok"], result
    state = result["state"]
    assert state["joined"] and state["audioSubscribed"] and state["videoSubscribed"]
    assert (result["width"], result["height"]) == (320, 240)
    assert result["frames"] >= 5
    assert result["audioTrackStates"] == ["live"]
    # Skin-coloured face in the middle, dark blue background beside it (render.py colours).
    r, g, b = result["face"]
    assert r > 150 and g > 110 and b < 190 and r > b, result["face"]
    assert sum(result["corner"]) < 200, result["corner"]
    assert any("agent.speak_started hi" in e for e in state["events"]), state["events"]
    assert any(f"{sid[:8]}" in e or "subscribed to heygen" in e for e in state["events"])
    with Image.open(shot) as image:
        assert image.size[0] > 0 and image.size[1] > 0
