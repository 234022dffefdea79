"""The emulator's session timers have the lengths the LiveAvatar spec gives (liveavatar-api.md):
idle timeout 5 minutes, sandbox about 1 minute, max duration as requested.

The emulator runs at a time scale, and its record gives each session's emulated duration. A
timer may fire late under load but never early, so the lower bound is exact and the upper bound
(twice the length) is generous; a timer four times too long fails.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from emulator.helpers import fast, key_headers, lite_body, running, started_lite, wait_until

from liveavatar_emulator import EmulatorConfig

IDLE_TIMEOUT_S = 300.0
SANDBOX_LIMIT_S = 60.0


async def ended(http: httpx.AsyncClient, sid: str) -> dict[str, Any]:
    async def is_ended() -> bool:
        response = await http.get(f"/v1/sessions/{sid}", headers=key_headers())
        return response.json()["data"].get("end_reason") is not None

    await wait_until(is_ended)
    detail: dict[str, Any] = (await http.get(f"/_emulator/sessions/{sid}")).json()
    return detail


@pytest.mark.parametrize(
    ("config", "body", "reason", "length_s"),
    [
        # 300 emulated s at 0.005 = 1.5 real s.
        (fast(time_scale=0.005), lite_body(), "IDLE_TIMEOUT", IDLE_TIMEOUT_S),
        (
            fast(time_scale=0.01),
            lite_body(is_sandbox=True),
            "MAX_DURATION_REACHED",
            SANDBOX_LIMIT_S,
        ),
        (fast(time_scale=0.01), lite_body(max_session_duration=45), "MAX_DURATION_REACHED", 45.0),
    ],
    ids=["idle-5min", "sandbox-1min", "max-duration-45s"],
)
async def test_timer_length_matches_the_spec(
    config: EmulatorConfig, body: dict[str, Any], reason: str, length_s: float
) -> None:
    async with (
        running(config) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=10.0) as http,
    ):
        sid, _, _ = await started_lite(http, body)
        detail = await ended(http, sid)
    assert detail["end_reason"] == reason
    assert length_s <= detail["duration"] < 2 * length_s
