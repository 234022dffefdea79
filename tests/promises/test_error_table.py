"""The README's errors table, row by row, through Converse.

Each row's status comes from the README, literally; each case also checks what happened
upstream (the emulator's record, or the scripted peer's), never only the bridge's word.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import grpc
import pytest
from conftest import emulator_config
from server.conftest import Env
from server.helpers import MULAW_8K, SANDBOX_AVATAR_ID, WAIT_S, Inspector, Stream, lite_config

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

from .bridges import bridge_at
from .fake_liveavatar import FakeLiveAvatar, envelope

SESSION_ID = "6b1f3c9e-2d4a-4e8b-9c7d-0a1b2c3d4e5f"


async def final_status(stream: Stream) -> tuple[grpc.StatusCode, str]:
    """Read to the end of a call that must fail; its status."""
    try:
        await stream.drain()
    except grpc.aio.AioRpcError:
        return await stream.status()
    code, details = await stream.status()
    raise AssertionError(f"the call ended without an error: {code} {details!r} {stream.kinds()}")


async def refused(stub: Any, *requests: pb.ConverseRequest) -> tuple[grpc.StatusCode, str, Stream]:
    """Send, half-close, read to the end of a call that must fail. The server may end it before
    it reads a request (the conversation limit does), so a failed write is expected."""
    stream = Stream(stub)
    with contextlib.suppress(grpc.aio.AioRpcError, asyncio.InvalidStateError):
        await stream.send(*requests)
        await stream.half_close()
    code, details = await final_status(stream)
    return code, details, stream


def connected(event: pb.ConverseResponse) -> bool:
    return event.session_state_changed.state == pb.SESSION_STATE_CONNECTED


def full_config() -> pb.ConverseRequest:
    full = pb.FullSession(
        persona=pb.AvatarPersona(context_id="3f1e8e5c-8a7c-4a51-9a57-0d7cbbd0c1f2")
    )
    create = pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, full=full)
    return pb.ConverseRequest(config=pb.SessionConfig(input_audio=MULAW_8K, create=create))


# RESOURCE_EXHAUSTED: the bridge's conversation limit.


async def test_conversation_limit_is_resource_exhausted(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, limits={"max_sessions": 1}) as bridge:
            first = Stream(bridge.stub)
            await first.send(lite_config())
            await first.started()
            await first.until("session_state_changed", connected)
            code, details, second = await refused(bridge.stub, lite_config())
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
            assert second.events == []
            assert len(await inspector.sessions()) == 1  # Nothing created for the second.
            await first.half_close()
            await first.drain()
        assert await inspector.wait_none_active() == []
    finally:
        await inspector.aclose()


async def test_conversation_limit_counts_a_conversation_still_starting(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, limits={"max_sessions": 1}) as bridge:
            delayed = (await inspector.faults(delay_s=1.0, delay_next=1))["delayed"]
            first = Stream(bridge.stub)
            await first.send(lite_config())
            await inspector.wait_delayed(delayed + 1)  # The first is creating its session.
            second = Stream(bridge.stub)
            await second.send(lite_config())
            await second.half_close()
            outcome = "refused"
            try:
                await second.drain()
                outcome = "accepted"
            except grpc.aio.AioRpcError:
                pass
            await first.started()
            await first.half_close()
            await first.drain()
            assert outcome == "refused", await second.status()
            code, _ = await second.status()
            assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert await inspector.wait_none_active() == []
    finally:
        await inspector.aclose()


# RESOURCE_EXHAUSTED: out of credits (LiveAvatar's own refusal).


@pytest.mark.parametrize("emulator_settings", [{"initial_credits": 0.0}], ids=["no-credits"])
async def test_out_of_credits_is_resource_exhausted_and_the_token_session_is_stopped(
    env: Env,
) -> None:
    code, details, stream = await refused(env.bridge.stub, lite_config())
    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED, details
    assert "credit" in details.lower()
    assert stream.events == []
    sessions = await env.emu.sessions()
    assert len(sessions) == 1  # The token was created, then start was refused...
    assert (await env.emu.wait_ended(sessions[0]["id"]))["status"] == "ended"  # ...and stopped.


# NOT_FOUND: LiveAvatar does not know the session.


async def test_unknown_session_is_not_found(env: Env) -> None:
    await env.emu.faults(fail_next=1, status=404, message="Session not found")
    code, details, stream = await refused(env.bridge.stub, lite_config())
    assert code == grpc.StatusCode.NOT_FOUND, details
    assert stream.events == []


# FAILED_PRECONDITION: FULL not available.


async def test_full_without_a_full_leg_is_failed_precondition(env: Env) -> None:
    # The in-process test bridge is built without the FULL module's leg.
    code, details, stream = await refused(env.bridge.stub, full_config())
    assert code == grpc.StatusCode.FAILED_PRECONDITION, details
    assert "FULL" in details
    assert stream.events == []
    assert await env.emu.sessions() == []  # Refused before anything was created upstream.


# FAILED_PRECONDITION: a LITE session started without a ws_url; and a failed /start is stopped.


def token_answer(_body: Any) -> tuple[int, dict[str, Any]]:
    return 200, envelope(1000, "ok", {"session_id": SESSION_ID, "session_token": "h.p.s"})


def stopped_ids(fake: FakeLiveAvatar) -> list[str]:
    return [s.body["session_id"] for s in fake.seen if s.path == "/v1/sessions/stop"]


async def stopped_ids_after_a_stop(fake: FakeLiveAvatar) -> list[str]:
    """The stop may land after the client's status (on a loaded machine, well after): wait for
    one (bounded by WAIT_S), then return them all."""
    async with asyncio.timeout(WAIT_S):
        while not stopped_ids(fake):  # noqa: ASYNC110 (the fake has no change event)
            await asyncio.sleep(0.05)
    return stopped_ids(fake)


async def test_lite_start_without_ws_url_is_failed_precondition_and_stopped() -> None:
    started = {"session_id": SESSION_ID, "livekit_url": "wss://room.example", "ws_url": None}
    script = {
        "/v1/sessions/token": token_answer,
        "/v1/sessions/start": lambda _b: (201, envelope(1000, "ok", started)),
        "/v1/sessions/stop": lambda _b: (200, envelope(1000, "ok")),
    }
    async with FakeLiveAvatar(script) as fake, bridge_at(fake.base_url) as bridge:
        code, details, _ = await refused(bridge.stub, lite_config())
        assert code == grpc.StatusCode.FAILED_PRECONDITION, details
        assert "ws_url" in details
        assert await stopped_ids_after_a_stop(fake) == [SESSION_ID]


@pytest.mark.parametrize("failure", ["http-500", "no-answer"])
async def test_a_failed_start_ends_unavailable_and_the_session_is_stopped(failure: str) -> None:
    start: Any = (
        (lambda _b: (500, envelope(500, "Internal error"))) if failure == "http-500" else None
    )
    script = {
        "/v1/sessions/token": token_answer,
        "/v1/sessions/start": start or (lambda _b: None),
        "/v1/sessions/stop": lambda _b: (200, envelope(1000, "ok")),
    }
    async with FakeLiveAvatar(script) as fake, bridge_at(fake.base_url) as bridge:
        code, details, stream = await refused(bridge.stub, lite_config())
        assert code == grpc.StatusCode.UNAVAILABLE, details
        assert stream.events == []
        # The README: a session is owned from its token on, so a failed start is stopped.
        assert "/v1/sessions/start" in fake.paths()
        assert await stopped_ids_after_a_stop(fake) == [SESSION_ID]


# DEADLINE_EXCEEDED: the session never reported itself ready.


@pytest.mark.parametrize(
    "emulator_settings",
    [{"playback_time_scale": 0.05, "lite_connect_delay_s": 60.0}],
    ids=["never-ready"],
)
async def test_never_ready_is_deadline_exceeded_and_the_session_is_stopped(env: Env) -> None:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config(options=pb.BridgeOptions(ready_timeout_seconds=1)))
    started = await stream.started()
    code, details = await final_status(stream)
    assert code == grpc.StatusCode.DEADLINE_EXCEEDED, details
    detail = await env.emu.wait_ended(started.session_id, within_s=WAIT_S)
    assert detail["status"] == "ended"


def test_emulator_config_helper_is_the_shared_one() -> None:
    # The FakeLiveAvatar cases bypass it; the emulator cases above rely on its API key.
    assert emulator_config().api_keys
