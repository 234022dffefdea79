"""Converse, StopSession and ListSessions end to end: the bridge in-process against the emulator.

Every test checks the emulator's own record (GET /_emulator/...) rather than the bridge's word,
and the `env` fixture fails a test that leaves an upstream session active.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from typing import Any

import grpc
import pytest

from avatar_bridge.liveavatar.rest import LiveAvatarClient
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc

from .conftest import Env
from .helpers import (
    MULAW_8K,
    SANDBOX_AVATAR_ID,
    WAIT_S,
    Stream,
    audio,
    lite_config,
    speak_end,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def open_lite(env: Env, **kwargs: Any) -> tuple[Stream, pb.SessionStarted]:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config(**kwargs))
    return stream, await stream.started()


async def end_normally(stream: Stream) -> pb.SessionStopped:
    """Half-close, read to the end; the last event must be session_stopped and the call OK."""
    await stream.half_close()
    return await stream.stopped()


async def refused(env: Env, *requests: pb.ConverseRequest) -> tuple[grpc.StatusCode, str, Stream]:
    """Send `requests`, half-close, and return the status the call ends with."""
    stream = Stream(env.bridge.stub)
    await stream.send(*requests)
    await stream.half_close()
    with pytest.raises(grpc.aio.AioRpcError):
        await stream.drain()
    code, details = await stream.status()
    return code, details, stream


# First message.


async def test_audio_before_config_is_refused(env: Env) -> None:
    code, details, stream = await refused(env, audio(b"\xff" * 80))
    assert code == INVALID
    assert "first request" in details and "config" in details, details
    assert stream.events == []
    assert await env.emu.sessions() == []  # Nothing was created upstream.


async def test_empty_stream_is_refused(env: Env) -> None:
    code, details, _ = await refused(env)
    assert code == INVALID
    assert "config" in details, details
    assert await env.emu.sessions() == []


# Config validation: INVALID_ARGUMENT naming the field, and nothing created upstream.


def _no_session() -> pb.ConverseRequest:
    return pb.ConverseRequest(config=pb.SessionConfig(input_audio=MULAW_8K))


def _no_avatar() -> pb.ConverseRequest:
    request = lite_config()
    request.config.create.avatar_id = ""
    return request


def _audio(**fields: Any) -> pb.ConverseRequest:
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000)
    fmt.MergeFrom(pb.AudioFormat(**fields))
    if fields.get("encoding") == pb.AUDIO_ENCODING_UNSPECIFIED:
        fmt.ClearField("encoding")
    return lite_config(input_audio=fmt)


def _full_controller_with_audio() -> pb.ConverseRequest:
    full = pb.FullSession(
        persona=pb.AvatarPersona(context_id="3f1e8e5c-8a7c-4a51-9a57-0d7cbbd0c1f2"),
        participation=pb.PARTICIPATION_CONTROLLER,
    )
    create = pb.NewSession(avatar_id=SANDBOX_AVATAR_ID, full=full)
    return pb.ConverseRequest(config=pb.SessionConfig(input_audio=MULAW_8K, create=create))


BAD_CONFIGS = {
    "no session": (_no_session, "config.create"),
    "no avatar_id": (_no_avatar, "config.create.avatar_id"),
    "sample rate 96000": (
        lambda: _audio(sample_rate_hertz=96000),
        "config.input_audio.sample_rate_hertz",
    ),
    "channel_count 3": (lambda: _audio(channel_count=3), "config.input_audio.channel_count"),
    "encoding unspecified": (
        lambda: _audio(encoding=pb.AUDIO_ENCODING_UNSPECIFIED),
        "config.input_audio.encoding",
    ),
    "FULL controller with input_audio": (_full_controller_with_audio, "config.input_audio"),
    "first_packet_ms 10": (
        lambda: lite_config(options=pb.BridgeOptions(first_packet_ms=10)),
        "config.options.first_packet_ms",
    ),
    "keep_alive_idle_seconds 241": (
        lambda: lite_config(options=pb.BridgeOptions(keep_alive_idle_seconds=241)),
        "config.options.keep_alive_idle_seconds",
    ),
    "ready_timeout_seconds 121": (
        lambda: lite_config(options=pb.BridgeOptions(ready_timeout_seconds=121)),
        "config.options.ready_timeout_seconds",
    ),
}


@pytest.mark.parametrize("case", BAD_CONFIGS.keys())
async def test_bad_config_is_refused_naming_the_field(env: Env, case: str) -> None:
    make, field = BAD_CONFIGS[case]
    code, details, _ = await refused(env, make())
    assert code == INVALID, (code, details)
    assert field in details, details
    assert await env.emu.sessions() == []


# A conversation's life.


async def test_session_started_describes_the_emulator_session(env: Env) -> None:
    stream, started = await open_lite(env, max_session_duration_seconds=300)
    assert started.mode == pb.MODE_LITE
    assert started.max_session_duration_seconds == 300
    assert not started.attached
    assert started.livekit_url
    sessions = await env.emu.sessions()
    assert [s["id"] for s in sessions] == [started.session_id]
    assert sessions[0]["mode"] == "LITE"
    assert sessions[0]["status"] == "started"
    assert sessions[0]["max_duration"] == 300
    await end_normally(stream)


async def test_half_close_ends_the_conversation_and_stops_the_session(env: Env) -> None:
    stream, started = await open_lite(env)
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    stopped = await end_normally(stream)
    assert stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    # The handler stops the session before it ends the call: no polling needed.
    detail = await env.emu.session(started.session_id)
    assert detail["status"] == "ended"
    assert detail["end_reason"] == "USER_CLOSED"
    assert await env.emu.active() == []


async def test_spoken_audio_reaches_the_emulator(env: Env) -> None:
    stream, started = await open_lite(env)
    tone = bytes(range(256)) * 25  # 6,400 mu-law bytes: 800 ms at 8 kHz.
    for i in range(0, len(tone), 800):
        await stream.send(audio(tone[i : i + 800], request_id="u-1" if i == 0 else ""))
    await stream.send(speak_end("end-1"))
    begun = await stream.until("avatar_speak_started")
    assert begun.avatar_speak_started.utterance_id == "u-1"
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "u-1"
    assert ended.request_id == "u-1"
    await end_normally(stream)
    # 6,400 frames at 8 kHz become exactly 19,200 samples at 24 kHz.
    assert len(await env.emu.audio(started.session_id)) == 19_200 * 2


async def test_client_cancel_stops_the_session(env: Env) -> None:
    stream, started = await open_lite(env)
    assert await env.emu.active() == [started.session_id]
    stream.call.cancel()
    assert await env.emu.wait_none_active() == []
    detail = await env.emu.session(started.session_id)
    assert detail["status"] == "ended"
    assert detail["end_reason"] == "USER_CLOSED"


# LiveAvatar failures.


async def test_wrong_api_key_is_unauthenticated(env: Env) -> None:
    config = replace(env.bridge.server.config, api_key="not-the-emulator-key")
    server = BridgeServer(config)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            stream = Stream(stub)
            await stream.send(lite_config())
            await stream.half_close()
            with pytest.raises(grpc.aio.AioRpcError):
                await stream.drain()
            code, details = await stream.status()
    finally:
        await server.stop(grace_s=2.0)
    assert code == grpc.StatusCode.UNAUTHENTICATED, details
    assert "not-the-emulator-key" not in details
    assert await env.emu.sessions() == []


async def test_liveavatar_5xx_on_token_is_unavailable(env: Env) -> None:
    await env.emu.faults(fail_next=100, status=503)
    try:
        code, details, _ = await refused(env, lite_config())
    finally:
        state = await env.emu.faults(fail_next=0)
    assert code == grpc.StatusCode.UNAVAILABLE, details
    assert "503" in details, details
    assert state["failed"] >= 1
    assert await env.emu.sessions() == []


# Audio problems mid-stream end the call and still stop the session.


async def test_oversize_audio_chunk_is_refused(env: Env) -> None:
    stream, started = await open_lite(env)
    await stream.send(audio(b"\xff" * 1_048_577))
    await stream.half_close()
    with pytest.raises(grpc.aio.AioRpcError):
        await stream.drain()
    code, details = await stream.status()
    assert code == INVALID, details
    assert "1048577" in details and "1048576" in details, details
    assert (await env.emu.wait_ended(started.session_id))["status"] == "ended"


async def test_chunk_of_partial_frames_is_refused(env: Env) -> None:
    stereo16 = pb.AudioFormat(
        encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=16000, channel_count=2
    )
    stream, started = await open_lite(env, input_audio=stereo16)
    await stream.send(audio(b"\x00" * 4 * 160), audio(b"\x00" * 6))
    await stream.half_close()
    with pytest.raises(grpc.aio.AioRpcError):
        await stream.drain()
    code, details = await stream.status()
    assert code == INVALID, details
    assert "multiple of 4 bytes" in details, details
    assert (await env.emu.wait_ended(started.session_id))["status"] == "ended"


# Recoverable problems arrive in-stream.


async def test_full_only_command_in_lite_is_an_in_stream_error(env: Env) -> None:
    stream, started = await open_lite(env)
    await stream.send(pb.ConverseRequest(request_id="say-1", speak_text=pb.SpeakText(text="hi")))
    error = await stream.until("error")
    assert error.request_id == "say-1"
    assert error.error.code == "UNSUPPORTED_IN_MODE"
    assert error.error.source == pb.ERROR_SOURCE_BRIDGE
    # The conversation goes on: audio after the error is still spoken.
    await stream.send(audio(b"\xff" * 800, request_id="after-1"), speak_end())
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "after-1"
    stopped = await end_normally(stream)
    assert stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    assert len(await env.emu.audio(started.session_id)) == 2400 * 2


# Operator RPCs.


async def test_stop_session_ends_a_live_conversation(env: Env) -> None:
    stream, started = await open_lite(env)
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    reply = await asyncio.wait_for(
        env.bridge.stub.StopSession(pb.StopSessionRequest(session_id=started.session_id)), WAIT_S
    )
    assert reply.session_id == started.session_id
    assert reply.had_conversation
    stopped = await stream.until("session_stopped")
    assert stopped.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED
    await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details
    detail = await env.emu.session(started.session_id)
    assert detail["status"] == "ended"
    assert detail["end_reason"] == "USER_CLOSED"


async def test_stop_session_reason_survives_a_slow_stop_answer(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """LiveAvatar closes the socket before its stop answer arrives: still OPERATOR_STOPPED."""
    real_stop = LiveAvatarClient.stop_session
    closed = asyncio.Event()

    async def slow_stop(
        self: LiveAvatarClient, session_id: str, reason: str = "USER_CLOSED"
    ) -> None:
        await real_stop(self, session_id, reason)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(closed.wait(), WAIT_S)

    monkeypatch.setattr(LiveAvatarClient, "stop_session", slow_stop)
    stream, started = await open_lite(env)
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    stop = asyncio.ensure_future(
        env.bridge.stub.StopSession(pb.StopSessionRequest(session_id=started.session_id))
    )
    stopped = await stream.until("session_stopped")
    closed.set()
    reply = await asyncio.wait_for(stop, WAIT_S)
    assert reply.session_id == started.session_id
    assert stopped.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED, stopped
    await stream.drain()
    code, details = await stream.status()
    assert code == grpc.StatusCode.OK, details


async def test_stop_session_refuses_a_bridge_reason(env: Env) -> None:
    stream, started = await open_lite(env)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await asyncio.wait_for(
            env.bridge.stub.StopSession(
                pb.StopSessionRequest(
                    session_id=started.session_id, reason=pb.STOP_REASON_SERVER_SHUTDOWN
                )
            ),
            WAIT_S,
        )
    assert caught.value.code() == INVALID
    assert "STOP_REASON_SERVER_SHUTDOWN" in (caught.value.details() or "")
    assert await env.emu.active() == [started.session_id]  # Untouched.
    await end_normally(stream)


async def test_list_sessions_shows_the_live_conversation(env: Env) -> None:
    stream, started = await open_lite(env)
    listed = await asyncio.wait_for(env.bridge.stub.ListSessions(pb.ListSessionsRequest()), WAIT_S)
    by_id = {s.session_id: s for s in listed.sessions}
    assert started.session_id in by_id, listed
    info = by_id[started.session_id]
    assert info.has_conversation
    assert info.mode == pb.MODE_LITE
    await end_normally(stream)
    listed = await asyncio.wait_for(env.bridge.stub.ListSessions(pb.ListSessionsRequest()), WAIT_S)
    assert started.session_id not in {s.session_id for s in listed.sessions}
