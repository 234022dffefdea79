"""The README's grpcurl cookbook, FULL recipes: run as written by the real grpcurl against the
bridge, the emulator and its LiveKit server (in the network namespace)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import API_KEY  # tests/conftest.py
from server.test_grpcurl import field, json_stream

from avatar_bridge.config import SecurityConfig, ServerConfig
from avatar_bridge.full.leg import connect_full_leg
from avatar_bridge.server import BridgeServer
from server import cookbook

from .conftest import FullEnv

pytestmark = [
    pytest.mark.full,
    pytest.mark.skipif(not cookbook.GRPCURL.exists(), reason=f"no grpcurl at {cookbook.GRPCURL}"),
]

CONTEXT_ID = "3f1e8e5c-8a7c-4a51-9a57-0d7cbbd0c1f2"


def values(events: list[dict[str, Any]], kind: str) -> list[Any]:
    return [v for e in events if (v := field(e, kind)) is not None]


def answering(events: list[dict[str, Any]], kind: str) -> list[str]:
    """request_id of each `kind` event."""
    return [field(e, "request_id") for e in events if field(e, kind) is not None]


def assert_ended_by_client(events: list[dict[str, Any]]) -> None:
    assert values(events, "error") == [], events
    assert field(events[-1], "session_stopped") is not None, events[-1]
    assert field(values(events, "session_stopped")[0], "reason") == "STOP_REASON_CLIENT_ENDED"


async def test_full_hello(env: FullEnv) -> None:
    code, out, err = await cookbook.run("full-hello", env.bridge.target)
    assert code == 0, err
    events = json_stream(out)
    assert field(events[0], "session_started")["mode"] == "MODE_FULL"
    assert answering(events, "avatar_speak_ended") == ["say-1"]
    assert_ended_by_client(events)


async def test_full_commands(env: FullEnv) -> None:
    code, out, err = await cookbook.run("full-commands", env.bridge.target)
    assert code == 0, err
    events = json_stream(out)
    assert answering(events, "avatar_speak_started") == ["answer-1"]
    assert answering(events, "avatar_speak_ended") == ["answer-1"]
    # Avatar partials are increments: joined, they hold the answer.
    said = "".join(t.get("text", "") for t in values(events, "transcription"))
    assert "An answer from grpcurl" in said, said
    assert_ended_by_client(events)


async def test_full_push_to_talk(env: FullEnv) -> None:
    code, out, err = await cookbook.run("full-push-to-talk", env.bridge.target, within_s=20.0)
    assert code == 0, err
    events = json_stream(out)
    results = [
        (field(e, "request_id"), field(e, "push_to_talk_result")["outcome"])
        for e in events
        if field(e, "push_to_talk_result") is not None
    ]
    assert results == [
        ("ptt-1", "PUSH_TO_TALK_OUTCOME_STARTED"),
        ("ptt-2", "PUSH_TO_TALK_OUTCOME_STOPPED"),
    ], [(field(e, "request_id"), list(e)) for e in events]
    # All the audio was inside the window: none dropped.
    assert values(events, "audio_dropped") == [], events
    assert_ended_by_client(events)


async def test_full_attach(env: FullEnv) -> None:
    api_url = env.bridge.server.config.api_url
    started = await cookbook.start_elsewhere(
        api_url, {"mode": "FULL", "avatar_persona": {"context_id": CONTEXT_ID}}
    )
    session_id = started["session_id"]
    # The emulated LiveKit server is no LiveAvatar host: allow it, as an operator would
    # (AVATAR_BRIDGE_ATTACH_ALLOW), on a bridge of its own.
    livekit_host = urlsplit(started["livekit_url"]).netloc
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=api_url,
        api_key=API_KEY,
        shutdown_grace_s=5.0,
        security=SecurityConfig(attach_allow=(livekit_host,)),
    )
    server = BridgeServer(config, full_leg=connect_full_leg)
    port = await server.start()
    try:
        code, out, err = await attach(session_id, started, f"127.0.0.1:{port}")
    finally:
        await server.stop(grace_s=5.0)
    assert code == 0, err
    events = json_stream(out)
    first = field(events[0], "session_started")
    assert field(first, "session_id") == session_id and field(first, "attached") is True
    assert answering(events, "avatar_speak_ended") == ["say-1"]
    assert_ended_by_client(events)
    # stop_on_end: the bridge stopped the session it was handed.
    assert (await env.emu.wait_ended(session_id))["status"] == "ended"


async def attach(session_id: str, started: dict[str, Any], target: str) -> tuple[int, str, str]:
    return await cookbook.run(
        "full-attach",
        target,
        {
            "SESSION_ID": session_id,
            "LIVEKIT_URL": started["livekit_url"],
            "LIVEKIT_TOKEN": started["livekit_client_token"],
        },
    )
