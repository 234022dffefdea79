"""The LITE WebSocket's command handling, pinned event by event (reference §3.1-§3.6).

Real sockets to a real emulator. Expected shapes come from the reference: error events are
``{"type":"error","error":{"type","message","event_id"}}`` and warnings the same under
``warning`` (§3.3); acks carry a fresh ``event_id`` and ``source_event_id`` = the command's id
(§3.4); the packet limit is 1 MB (§3.5); closing the socket never ends the session (§3.6).
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from liveavatar_emulator import Emulator
from liveavatar_emulator.sessions import Session

from .helpers import (
    WAIT,
    LiteClient,
    bearer,
    create,
    fast,
    full_body,
    lite_ws,
    pcm,
    running,
    speak,
    start,
    started_lite,
    wait_until,
)
from .lite_ws_harness import lite


def log(session: Session) -> list[tuple[str, str | None, int, bool, str | None]]:
    """The session's command log as (type, event_id, size, dropped, note)."""
    return [(c.type, c.event_id, c.size, c.dropped, c.note) for c in session.commands]


def wire(command: dict[str, Any]) -> str:
    """A command exactly as the test client sends it."""
    return json.dumps(command)


async def roundtrip(ws: LiteClient) -> dict[str, Any]:
    """Send a command with a known ack and return that ack: everything before it has been
    handled (the server handles one socket's messages in order)."""
    marker = f"marker-{uuid.uuid4()}"
    await ws.send({"type": "agent.interrupt", "event_id": marker})
    return await ws.wait_for(lambda e: e.get("source_event_id") == marker)


# -- readiness ---------------------------------------------------------------------------------


async def test_connected_is_the_first_event_and_early_commands_are_dropped_silently() -> None:
    config = fast(lite_connect_delay_s=0.3)
    async with lite(config, wait_connected=False) as (_, _, session, ws, _url):
        early = speak(pcm(480), "early")
        await ws.send(early)
        assert await ws.next() == {"type": "session.state_updated", "state": "connected"}
        await roundtrip(ws)
        assert log(session)[0] == ("agent.speak", "early", len(wire(early)), True, "not_connected")
        assert bytes(session.pcm) == b""
        assert session.counters["dropped:agent.speak"] == 1
        assert [e for e in ws.events if e["type"] in ("warning", "error")] == []


async def test_dropped_before_connected_warning_names_the_command() -> None:
    config = fast(lite_connect_delay_s=0.3, warn_dropped_before_connected=True)
    async with lite(config, wait_connected=False) as (_, _, _session, ws, _url):
        await ws.send({"type": "agent.start_listening", "event_id": "early"})
        assert await ws.next() == {
            "type": "warning",
            "warning": {
                "type": "session_not_connected",
                "message": (
                    "agent.start_listening dropped: wait for session.state_updated 'connected'"
                ),
                "event_id": "early",
            },
        }


# -- acks and events ---------------------------------------------------------------------------


async def test_acks_carry_a_fresh_id_and_the_commands_id() -> None:
    async with lite(fast(lite_event_profile="observed")) as (_, _, session, ws, _url):
        await ws.send(speak(pcm(48_000), "U"))
        appended = await ws.wait_type("agent.audio_buffer_appended")
        await ws.send({"type": "agent.speak_end", "event_id": "E"})
        committed = await ws.wait_type("agent.audio_buffer_committed")
        await ws.send({"type": "agent.interrupt", "event_id": "I"})
        cleared = await ws.wait_type("agent.audio_buffer_cleared")
        for ack, source in ((appended, "U"), (committed, "E"), (cleared, "I")):
            assert set(ack) == {"type", "event_id", "source_event_id"}
            assert ack["source_event_id"] == source
            uuid.UUID(ack["event_id"])
        assert len({appended["event_id"], committed["event_id"], cleared["event_id"]}) == 3
        sent = [(e.type, e.event_id, e.source_event_id) for e in session.events]
        assert ("agent.audio_buffer_cleared", cleared["event_id"], "I") in sent
        assert sent[0] == ("session.state_updated", None, None)


async def test_documented_profile_sends_no_acks() -> None:
    async with lite(fast(lite_event_profile="documented")) as (_, _, _session, ws, _url):
        await ws.send(speak(pcm(480), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        await ws.wait_type("agent.speak_ended")
        await ws.send({"type": "agent.interrupt", "event_id": "I"})
        await ws.send(speak(pcm(480), "V"))
        await ws.send({"type": "agent.speak_end", "event_id": "V"})
        await ws.wait_for(lambda e: e["type"] == "agent.speak_ended" and e["event_id"] == "V")
        assert [e["type"] for e in ws.events] == [
            "session.state_updated",
            "agent.speak_started",
            "agent.speak_ended",
            "agent.speak_started",
            "agent.speak_ended",
        ]


async def test_speak_end_may_carry_the_final_chunk() -> None:
    async with lite(fast(lite_event_profile="both")) as (_, _, session, ws, _url):
        first, last = pcm(960, seed=1), pcm(480, seed=2)
        await ws.send(speak(first, "U"))
        end = {"type": "agent.speak_end", "event_id": "U", "audio": base64.b64encode(last).decode()}
        await ws.send(end)
        await ws.wait_type("agent.speak_ended")
        acks = [e["type"] for e in ws.events if e["type"].startswith("agent.audio_buffer_")]
        # The final chunk is appended, then the buffer is committed.
        assert acks == [
            "agent.audio_buffer_appended",
            "agent.audio_buffer_appended",
            "agent.audio_buffer_committed",
        ]
        assert bytes(session.pcm) == first + last
        assert session.counters["pcm_chunks"] == 2
        # One log line per command: the speak_end is not logged as a second speak.
        assert log(session) == [
            ("agent.speak", "U", len(wire(speak(first, "U"))), False, None),
            ("agent.speak_end", "U", len(wire(end)), False, None),
        ]
        assert session.utterances[0].received_bytes == 1_440
        assert session.utterances[0].played_bytes == 1_440


async def test_empty_audio_is_acked_but_plays_nothing() -> None:
    async with lite(fast(lite_event_profile="both")) as (_, _, session, ws, _url):
        await ws.send(speak(b"", "U"))
        assert (await ws.next())["type"] == "agent.audio_buffer_appended"
        await ws.send({"type": "agent.start_listening"})
        # No speak started: the next event is the listening pose from idle.
        assert await ws.next() == {
            "type": "agent.state_updated",
            "previous_state": "idle",
            "new_state": "listening",
        }
        assert session.utterances == [] and session.counters["pcm_chunks"] == 1


@pytest.mark.parametrize("kind", ["session.keep_alive", "start", "agent.stop_listening"])
async def test_known_commands_are_logged_without_warning(kind: str) -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        command = {"type": kind, "event_id": "K"}
        await ws.send(command)
        ack = await roundtrip(ws)
        assert ws.events[1:] == [ack]
        assert log(session)[0] == (kind, "K", len(wire(command)), False, None)
        assert session.counters[kind] == 1


# -- client mistakes ---------------------------------------------------------------------------


async def test_unknown_command_warns_and_is_logged() -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        command = {"type": "agent.dance", "event_id": "D"}
        await ws.send(command)
        assert await ws.next() == {
            "type": "warning",
            "warning": {
                "type": "unknown_event_type",
                "message": "Unknown command type 'agent.dance'",
                "event_id": "D",
            },
        }
        assert log(session) == [("agent.dance", "D", len(wire(command)), False, "unknown_type")]


async def test_unknown_command_is_silent_when_asked() -> None:
    async with lite(fast(warn_unknown_commands=False)) as (_, _, session, ws, _url):
        await ws.send({"type": "agent.dance", "event_id": "D"})
        ack = await roundtrip(ws)
        assert ws.events[1:] == [ack]
        assert log(session)[0][4] == "unknown_type"


async def test_binary_frames_are_refused_with_an_error() -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        await ws.ws.send(b"\x00\x01\x02")
        assert await ws.next() == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Frames must be JSON text",
                "event_id": None,
            },
        }
        assert log(session) == [("<binary>", None, 3, True, "binary_frame")]


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"type": 7}', '{"event_id": "x"}'])
async def test_text_that_is_not_a_command_is_refused(text: str) -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        await ws.ws.send(text)
        assert await ws.next() == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Expected a JSON object with 'type'",
                "event_id": None,
            },
        }
        assert log(session) == [("<invalid>", None, len(text), True, "invalid_json")]


@pytest.mark.parametrize("audio", [None, "***", 12])
async def test_bad_audio_is_an_error_naming_the_format(audio: Any) -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        command: dict[str, Any] = {"type": "agent.speak", "event_id": "X"}
        if audio is not None:
            command["audio"] = audio
        await ws.send(command)
        assert await ws.next() == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "'audio' must be base64 PCM16LE 24 kHz mono",
                "event_id": "X",
            },
        }
        assert log(session) == [("agent.speak", "X", len(wire(command)), True, "invalid_audio")]
        assert session.counters["pcm_chunks"] == 0


@pytest.mark.parametrize("raw_id", ["", 5, None])
async def test_event_ids_that_are_not_strings_count_as_missing(raw_id: Any) -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        await ws.send({"type": "agent.dance", "event_id": raw_id})
        warning = await ws.next()
        assert warning["warning"]["event_id"] is None
        assert log(session)[0][1] is None


async def test_size_counts_utf8_bytes() -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        text = json.dumps({"type": "agent.dansé", "event_id": "D"}, ensure_ascii=False)
        await ws.ws.send(text)
        await ws.next()
        assert log(session)[0][2] == len(text.encode("utf-8")) == len(text) + 1


# -- packet size (1 MB, reference §3.5) ------------------------------------------------------------


def padded_speak(total: int, event_id: str) -> str:
    """An ``agent.speak`` text of exactly ``total`` bytes (padding in an ignored field)."""
    base = {"type": "agent.speak", "event_id": event_id, "audio": "AAAA", "pad": ""}
    pad = total - len(json.dumps(base))
    return json.dumps({**base, "pad": "p" * pad})


async def test_default_limit_is_one_megabyte_inclusive() -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        await ws.ws.send(padded_speak(1_000_000, "at-limit"))
        assert (await ws.next())["type"] == "agent.audio_buffer_appended"
        await ws.ws.send(padded_speak(1_000_001, "over"))
        # (the 3 bytes accepted above may starve meanwhile: skip to this packet's error)
        assert await ws.wait_for(lambda e: e.get("error", {}).get("event_id") == "over") == {
            "type": "error",
            "error": {
                "type": "invalid_request_error",
                "message": "Packet of 1000001 bytes exceeds 1000000 bytes",
                "event_id": "over",
            },
        }
        assert log(session) == [
            ("agent.speak", "at-limit", 1_000_000, False, None),
            ("agent.speak", "over", 1_000_001, True, "oversize:error"),
        ]
        assert bytes(session.pcm) == b"\x00\x00\x00"


async def test_oversize_close_policy_closes_with_1009_and_logs_it() -> None:
    config = fast(oversize_policy="close", max_packet_bytes=1_000)
    async with lite(config) as (_, _, session, ws, _url):
        await ws.ws.send(padded_speak(1_001, "big"))
        code, reason = await ws.closed()
        assert (code, reason) == (1009, "packet too large")
        assert log(session) == [("agent.speak", "big", 1_001, True, "oversize:close")]
        assert session.active


async def test_oversize_drop_policy_logs_the_drop() -> None:
    config = fast(oversize_policy="drop", max_packet_bytes=1_000)
    async with lite(config) as (_, _, session, ws, _url):
        await ws.ws.send(padded_speak(1_001, "big"))
        ack = await roundtrip(ws)
        assert ws.events[1:] == [ack]
        assert log(session)[0] == ("agent.speak", "big", 1_001, True, "oversize:drop")


# -- sessions, activity and reconnects ---------------------------------------------------------


async def test_every_command_counts_as_activity() -> None:
    async with lite(fast()) as (_, _, session, ws, _url):
        before = session._last_activity
        await ws.ws.send("not json")
        await ws.next()
        assert session._last_activity > before


async def test_a_new_connection_replaces_the_old_one() -> None:
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        session = emu.registry.get(sid)
        assert session is not None
        async with lite_ws(data["ws_url"]) as first:
            await first.send(speak(pcm(480_000), "U"))
            await first.wait_type("agent.speak_started")
            async with lite_ws(data["ws_url"]) as second:
                assert await first.closed() == (1000, "replaced by a new connection")
                assert session.ws_connected and session.ws_connections == 2
                assert session.playback is not None
                assert session.playback.progress() == (0, 0)
                assert session.utterances[0].end == "disconnected"
                await second.send({"type": "agent.start_listening"})
                assert (await second.next())["new_state"] == "listening"
            await wait_until(lambda: not session.ws_connected)
            assert session.playback is None
            assert session.active


async def test_ending_the_session_closes_the_socket_with_the_reason() -> None:
    async with lite(fast(ws_close_code=4000)) as (_, http, session, ws, _url):
        await ws.send(speak(pcm(480_000), "U"))
        await ws.wait_type("agent.speak_started")
        resp = await http.post(
            "/v1/sessions/stop",
            headers={"X-API-KEY": "test-api-key"},
            json={"session_id": session.id, "reason": "USER_CLOSED"},
        )
        assert resp.status_code == 200
        assert await ws.closed() == (4000, "USER_CLOSED")
        # Closed by the server: nothing more is sent, the audio is lost.
        assert "agent.speak_ended" not in ws.types()
        assert session.utterances[0].end == "disconnected"


# -- the handshake -----------------------------------------------------------------------------


async def refused(url: str) -> tuple[int, dict[str, Any]]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(url, open_timeout=WAIT):
            pass
    response = info.value.response
    return response.status_code, json.loads(response.body or b"null")


async def test_handshake_refusals_use_the_error_envelope(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    sid, token, data = await started_lite(client)
    url = data["ws_url"]
    assert url == f"ws://127.0.0.1:{emu.port}/v1/lite/{sid}?token={url.split('token=')[1]}"
    other = str(uuid.uuid4())
    assert await refused(url.replace(sid, other)) == (
        404,
        {"code": 4040, "message": "Session not found", "data": None},
    )
    assert await refused(url + "x") == (
        403,
        {"code": 4030, "message": "Invalid session token", "data": None},
    )
    assert await refused(url.split("?")[0]) == (
        403,
        {"code": 4030, "message": "Invalid session token", "data": None},
    )
    await client.post("/v1/sessions/stop", headers=bearer(token))
    assert await refused(url) == (
        400,
        {"code": 4000, "message": "Session is not active (ended)", "data": None},
    )


async def test_full_sessions_have_no_lite_socket(emu: Emulator, client: httpx.AsyncClient) -> None:
    sid, _, data = await started_lite(client)
    full_sid, full_token = await create(client, full_body())
    await start(client, full_token)
    url = data["ws_url"].replace(sid, full_sid)
    assert (await refused(url))[0] == 403
