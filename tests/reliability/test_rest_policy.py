"""The REST client's retry policy for calls that create: never blind after sending."""

from __future__ import annotations

import pytest
from conftest import API_KEY  # tests/conftest.py
from server.helpers import Inspector

from avatar_bridge.errors import UpstreamOutcomeUnknown, UpstreamUnavailable
from avatar_bridge.liveavatar.rest import LiveAvatarClient, RestConfig
from liveavatar_emulator import Emulator

from .helpers import arm, rules

LITE = {"mode": "LITE", "avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"}


def client(emulator: Emulator, timeout_s: float = 0.5) -> LiveAvatarClient:
    config = RestConfig(
        api_key=API_KEY, base_url=emulator.base_url, timeout_s=timeout_s, backoff_initial_s=0.01
    )
    return LiveAvatarClient(config)


async def test_token_timed_out_after_sending_is_not_retried(
    emulator: Emulator, inspector: Inspector
) -> None:
    await arm(inspector, action="lose", endpoint="token", delay_s=1.5)
    async with client(emulator) as la:
        with pytest.raises(UpstreamOutcomeUnknown) as caught:
            await la.create_token(LITE)
    assert "not retried" in caught.value.message
    (rule,) = await rules(inspector)
    assert rule["hits"] == 1
    assert len(await inspector.sessions()) == 1  # Created once, never twice.


async def test_a_longer_answer_wait_catches_a_slow_token_answer(
    emulator: Emulator, inspector: Inspector
) -> None:
    await arm(inspector, action="lose", endpoint="token", delay_s=1.0)
    async with client(emulator) as la:
        token = await la.create_token(LITE, answer_wait_s=5.0)
    (rule,) = await rules(inspector)
    assert rule["hit_sessions"] == [token.session_id]


async def test_token_answered_5xx_is_retried_and_creates_one_session(
    emulator: Emulator, inspector: Inspector
) -> None:
    await arm(inspector, action="error", endpoint="token", status=503, times=2)
    async with client(emulator) as la:
        token = await la.create_token(LITE)
    assert [s["id"] for s in await inspector.sessions()] == [token.session_id]


async def test_dropped_start_answer_is_not_retried(
    emulator: Emulator, inspector: Inspector
) -> None:
    async with client(emulator) as la:
        token = await la.create_token(LITE)
        await arm(inspector, action="drop", endpoint="start")
        with pytest.raises(UpstreamOutcomeUnknown):
            await la.start_session(token)
    (rule,) = await rules(inspector)
    assert rule["hits"] == 1
    detail = await inspector.session(token.session_id)
    assert detail["started_at"] is not None  # It did start: the caller must stop it.
    assert issubclass(UpstreamOutcomeUnknown, UpstreamUnavailable)
