"""PyPI's ``livekit-plugins-liveavatar``, unchanged, runs a LITE avatar session on the emulator.

The plugin needs livekit-agents 1.8.9 (livekit 1.1.21, the project pins 1.2.0), so its driver
runs in ``.venv-plugin`` (``make plugin-venv``) as a subprocess. Marked ``full``: the plugin's
agent and the avatar join a room over WebRTC, so this runs inside ``tests/netns/run.sh``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator.helpers import API_KEY, AVATAR_ID, WAIT, fast

from liveavatar_emulator import Emulator
from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend

pytestmark = pytest.mark.full

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_PYTHON = ROOT / ".venv-plugin" / "bin" / "python"
DRIVER = Path(__file__).with_name("driver.py")
DRIVER_TIMEOUT_S = 60.0
SECONDS = 1.5
RATE = 24_000


def expected_signal(seconds: float) -> bytes:
    """The driver's signal, written again from its definition (440 Hz, every third 100 ms off)."""
    out = bytearray()
    for i in range(int(seconds * RATE)):
        on = (i // (RATE // 10)) % 3 != 2
        value = int(0.3 * 32767 * math.sin(2 * math.pi * 440 * i / RATE)) if on else 0
        out += value.to_bytes(2, "little", signed=True)
    return bytes(out)


@pytest.fixture(autouse=True)
def _needs_netns_and_venv() -> None:
    if not os.environ.get("AVATAR_BRIDGE_NETNS"):
        pytest.skip("needs a private network namespace: bash tests/netns/run.sh ... -m full")
    if not PLUGIN_PYTHON.exists():
        pytest.skip("no .venv-plugin: run `make plugin-venv`")


@pytest.fixture
async def backend() -> AsyncIterator[LiveKitFullBackend]:
    async with LiveKitFullBackend(FullModeConfig(port=0, stop_flush_s=0.1)) as b:
        yield b


@pytest.fixture
async def emu(backend: LiveKitFullBackend) -> AsyncIterator[Emulator]:
    async with Emulator(fast(time_scale=1.0), full_backend=backend) as emulator:
        yield emulator


async def run_driver(args: list[str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        str(PLUGIN_PYTHON),
        str(DRIVER),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), DRIVER_TIMEOUT_S)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
    return proc.returncode or 0, out.decode(), err.decode()


async def run_plugin(
    backend: LiveKitFullBackend, emu: Emulator, room: str, *extra: str
) -> dict[str, Any]:
    """Run the driver for a LITE session in ``room``; its JSON result."""
    backend.server.create_room(room)
    code, out, err = await run_driver(
        [
            f"--api-url={emu.base_url}/v1/sessions",
            f"--api-key={API_KEY}",
            f"--avatar-id={AVATAR_ID}",
            f"--livekit-url={backend.livekit_url}",
            f"--livekit-api-key={backend.config.api_key}",
            f"--livekit-api-secret={backend.config.api_secret}",
            f"--agent-token={backend.mint(room, 'agent')}",
            *extra,
        ]
    )
    assert code == 0, (out, err[-2000:])
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


async def session_detail(emu: Emulator, sid: str) -> tuple[dict[str, Any], bytes]:
    """The emulator's record of a session and the PCM it received."""
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        detail = (await http.get(f"/_emulator/sessions/{sid}")).json()
        audio = (await http.get(f"/_emulator/sessions/{sid}/audio")).content
    return detail, audio


async def test_plugin_lite_avatar_session_streams_pcm_and_stops(
    backend: LiveKitFullBackend, emu: Emulator
) -> None:
    room = f"plugin-{uuid.uuid4().hex[:8]}"
    result = await run_plugin(backend, emu, room, f"--seconds={SECONDS}")
    assert result["ok"] is True and result["avatar_joined"] is True
    assert result["playback_interrupted"] is False
    sent = expected_signal(SECONDS)
    assert result["sent_bytes"] == len(sent) == 72_000
    assert result["sent_sha256"] == hashlib.sha256(sent).hexdigest()

    detail, audio = await session_detail(emu, result["session_id"])
    assert detail["mode"] == "LITE"
    assert detail["started_at"] is not None
    assert detail["token_request"]["livekit_config"]["livekit_room"] == room
    assert audio == sent, (len(audio), len(sent))
    assert detail["status"] == "ended", detail["status"]
    # The plugin's own stop: POST /stop with its literal reason, after the WebSocket closed.
    assert detail["end_reason"] == "USER_DISCONNECTED"
    # Its chunking (0.6 s first, then the rest at the segment end), then end of turn.
    assert detail["counts"]["agent.speak"] == 2
    assert detail["counts"]["agent.speak_end"] == 1
    assert detail["dropped_commands"] == 0


async def test_plugin_barge_in_interrupts_the_avatar(
    backend: LiveKitFullBackend, emu: Emulator
) -> None:
    room = f"plugin-{uuid.uuid4().hex[:8]}"
    result = await run_plugin(backend, emu, room, "--seconds=4.0", "--interrupt-after=1.0")
    assert result["ok"] is True
    assert result["playback_interrupted"] is True
    detail, audio = await session_detail(emu, result["session_id"])
    # All 4 s were sent before playback began; the plugin's agent.interrupt cut the playback.
    assert audio == expected_signal(4.0)
    assert detail["counts"]["agent.interrupt"] == 1
    assert detail["dropped_commands"] == 0
    played = detail["played_bytes"]
    assert 0 < played < len(audio), (played, len(audio))
    assert played % 2 == 0, played  # The avatar plays whole PCM16 samples.
    assert detail["discarded_bytes"] > 0
    assert played + detail["discarded_bytes"] == len(audio)
    assert detail["end_reason"] == "USER_DISCONNECTED"
