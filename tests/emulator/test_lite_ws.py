"""The LITE WebSocket: readiness, commands, event profiles, playback (reference §3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from liveavatar_emulator import Emulator, EmulatorConfig

from .helpers import (
    WAIT,
    LiteClient,
    create,
    fast,
    full_body,
    inspect,
    lite_ws,
    pcm,
    running,
    speak,
    start,
    started_lite,
)

ONE_SECOND = 48_000


@asynccontextmanager
async def lite_session(
    config: EmulatorConfig, *, wait_connected: bool = True
) -> AsyncIterator[tuple[Emulator, httpx.AsyncClient, str, LiteClient]]:
    """Emulator + HTTP client + started LITE session + connected WS."""
    async with (
        running(config) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        async with lite_ws(data["ws_url"], wait_connected=wait_connected) as ws:
            yield emu, http, sid, ws


def state(prev: str, new: str) -> tuple[str, str, str]:
    """Expected ``agent.state_updated`` as a comparable tuple."""
    return ("agent.state_updated", prev, new)


def shape(event: dict[str, Any]) -> tuple[Any, ...]:
    """Comparable summary of an event (ids checked separately)."""
    kind = event["type"]
    if kind == "agent.state_updated":
        return (kind, event["previous_state"], event["new_state"])
    if kind.startswith("agent.speak_"):
        return (kind, event["event_id"])
    if kind.startswith("agent.audio_buffer_"):
        return (kind, event["source_event_id"])
    return (kind,)


async def collect_until(ws: LiteClient, last: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Shapes of the next events up to and including one whose shape is ``last``."""
    shapes: list[tuple[Any, ...]] = []
    while True:
        shapes.append(shape(await ws.next()))
        if shapes[-1] == last:
            return shapes


# -- canonical sequence per profile -----------------------------------------------------------


async def test_canonical_sequence_both_profile() -> None:
    async with lite_session(fast(lite_event_profile="both")) as (_, http, sid, ws):
        await ws.send({"type": "agent.start_listening", "event_id": "L1"})
        assert shape(await ws.next()) == state("idle", "listening")
        await ws.send({"type": "agent.stop_listening", "event_id": "L2"})
        assert shape(await ws.next()) == state("listening", "idle")

        quarter = ONE_SECOND // 4
        await ws.send(speak(pcm(quarter), "U"))
        await ws.send(speak(pcm(quarter, seed=1), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        appended = await ws.next()
        assert shape(appended) == ("agent.audio_buffer_appended", "U")
        assert appended["event_id"] and appended["event_id"] != "U"
        assert shape(await ws.next()) == state("idle", "talking")
        started = await ws.next()
        assert started == {
            "type": "agent.speak_started",
            "event_id": "U",
            "task": {"id": "U"},
            "source_event_id": "U",
        }
        assert shape(await ws.next()) == ("agent.audio_buffer_appended", "U")
        assert shape(await ws.next()) == ("agent.audio_buffer_committed", "U")
        ended = await ws.next()
        assert ended == {**started, "type": "agent.speak_ended"}
        assert shape(await ws.next()) == state("talking", "idle")

        played = await inspect(http, sid, "/played")
        assert played["received_bytes"] == played["played_bytes"] == 2 * quarter
        assert played["discarded_bytes"] == 0
        assert played["utterances"][0]["id"] == "U"
        assert played["utterances"][0]["end"] == "played"


async def test_documented_profile_sends_only_speak_events() -> None:
    async with lite_session(fast(lite_event_profile="documented")) as (_, _http, _sid, ws):
        await ws.send({"type": "agent.start_listening", "event_id": "L1"})
        await ws.send(speak(pcm(4800), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        assert shape(await ws.next()) == ("agent.speak_started", "U")
        assert shape(await ws.next()) == ("agent.speak_ended", "U")
        # a round-trip marker: the next thing we provoke must be the next thing we see
        await ws.send(speak(pcm(480), "V"))
        await ws.send({"type": "agent.speak_end"})
        assert shape(await ws.next()) == ("agent.speak_started", "V")
        assert shape(await ws.next()) == ("agent.speak_ended", "V")


async def test_observed_profile_sends_no_speak_events() -> None:
    async with lite_session(fast(lite_event_profile="observed")) as (_, _http, _sid, ws):
        await ws.send({"type": "agent.start_listening", "event_id": "L1"})
        await ws.send(speak(pcm(4800), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        got = await collect_until(ws, state("talking", "listening"))
        assert got == [
            state("idle", "listening"),
            ("agent.audio_buffer_appended", "U"),
            state("listening", "talking"),
            ("agent.audio_buffer_committed", "U"),
            state("talking", "listening"),
        ]


async def test_utterances_queue_behind_each_other() -> None:
    async with lite_session(fast(lite_event_profile="documented")) as (_, http, sid, ws):
        await ws.send(speak(pcm(4800), "A"))
        await ws.send({"type": "agent.speak_end", "event_id": "A"})
        await ws.send(speak(pcm(4800), "B"))
        await ws.send({"type": "agent.speak_end", "event_id": "B"})
        assert await collect_until(ws, ("agent.speak_ended", "B")) == [
            ("agent.speak_started", "A"),
            ("agent.speak_ended", "A"),
            ("agent.speak_started", "B"),
            ("agent.speak_ended", "B"),
        ]
        played = await inspect(http, sid, "/played")
        assert [u["id"] for u in played["utterances"]] == ["A", "B"]
        assert played["played_bytes"] == 9600


# -- readiness, tolerance ------------------------------------------------------------------------


async def test_commands_before_connected_are_dropped_with_warning_when_asked() -> None:
    config = fast(lite_connect_delay_s=0.5, warn_dropped_before_connected=True)
    async with lite_session(config, wait_connected=False) as (_, http, sid, ws):
        await ws.send(speak(pcm(960), "early"))
        warning = await ws.next()
        assert warning["type"] == "warning"
        assert warning["warning"]["event_id"] == "early"
        await ws.connected()
        detail = await inspect(http, sid)
        assert detail["pcm_bytes"] == 0
        assert detail["command_log"][0]["dropped"] is True
        assert detail["command_log"][0]["note"] == "not_connected"
        assert detail["dropped_commands"] == 1


async def test_dropped_before_connected_is_silent_by_default() -> None:
    config = fast(lite_connect_delay_s=0.3)
    async with lite_session(config, wait_connected=False) as (_, http, sid, ws):
        await ws.send({"type": "agent.start_listening", "event_id": "early"})
        first = await ws.next()
        assert first == {"type": "session.state_updated", "state": "connected"}
        assert (await inspect(http, sid))["dropped_commands"] == 1


async def test_start_message_and_missing_event_ids_are_accepted() -> None:
    async with lite_session(fast()) as (_, http, sid, ws):
        await ws.send(
            {"type": "start", "encoding": "pcm_s16le", "sample_rate": 24000, "channels": 1}
        )
        await ws.send(speak(pcm(2400)))
        appended = await ws.next()
        assert appended["type"] == "agent.audio_buffer_appended"
        assert appended["source_event_id"] is None
        assert shape(await ws.next()) == state("idle", "talking")
        started = await ws.next()
        assert started["type"] == "agent.speak_started"
        generated = started["event_id"]
        assert generated and started["task"]["id"] == generated
        await ws.send({"type": "agent.speak_end"})
        ended = await ws.wait_type("agent.speak_ended")
        assert ended["event_id"] == generated
        log = (await inspect(http, sid))["command_log"]
        assert [c["type"] for c in log] == ["start", "agent.speak", "agent.speak_end"]
        assert not any(c["dropped"] for c in log)


async def test_unknown_type_and_bad_input_warn_but_keep_socket_open() -> None:
    async with lite_session(fast()) as (_, http, sid, ws):
        await ws.send({"type": "agent.dance", "event_id": "D"})
        warning = await ws.next()
        assert warning["type"] == "warning" and warning["warning"]["event_id"] == "D"
        await ws.ws.send("not json")
        assert (await ws.next())["error"]["type"] == "invalid_request_error"
        await ws.send({"type": "agent.speak", "event_id": "X", "audio": "***"})
        bad_audio = await ws.next()
        assert bad_audio["type"] == "error" and bad_audio["error"]["event_id"] == "X"
        await ws.ws.send(b"\x00\x01")
        assert (await ws.next())["type"] == "error"
        await ws.send({"type": "agent.start_listening"})
        assert shape(await ws.next()) == state("idle", "listening")
        assert (await inspect(http, sid))["status"] == "started"


# -- interrupt and starvation ---------------------------------------------------------------------


@pytest.mark.parametrize("profile", ["both", "observed", "documented"])
async def test_interrupt_discards_unplayed_audio(profile: str) -> None:
    config = fast(lite_event_profile=profile, playback_time_scale=1.0)
    async with lite_session(config) as (_, http, sid, ws):
        await ws.send(speak(pcm(5 * ONE_SECOND), "U"))  # 5 s at real speed
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        await ws.send({"type": "agent.interrupt", "event_id": "I"})
        expected_tail: tuple[Any, ...]
        expected_tail = (
            state("talking", "idle")
            if profile != "documented"
            else (
                "agent.speak_ended",
                "U",
            )
        )
        got = await collect_until(ws, expected_tail)
        if profile == "both":
            assert got == [
                ("agent.audio_buffer_appended", "U"),
                state("idle", "talking"),
                ("agent.speak_started", "U"),
                ("agent.audio_buffer_committed", "U"),
                ("agent.audio_buffer_cleared", "I"),
                ("agent.speak_interrupted", "U"),
                ("agent.speak_ended", "U"),
                state("talking", "idle"),
            ]
        elif profile == "observed":
            assert got[-3:] == [
                ("agent.audio_buffer_cleared", "I"),
                ("agent.speak_interrupted", "U"),
                state("talking", "idle"),
            ]
        else:
            assert got == [("agent.speak_started", "U"), ("agent.speak_ended", "U")]
        played = await inspect(http, sid, "/played")
        assert played["received_bytes"] == 5 * ONE_SECOND
        assert played["played_bytes"] < ONE_SECOND * 5
        assert played["discarded_bytes"] > 0
        assert played["played_bytes"] + played["discarded_bytes"] == 5 * ONE_SECOND
        assert played["buffered_bytes"] == 0
        assert played["utterances"][0]["end"] == "interrupted"

        # the next speak is a new utterance and plays in full
        await ws.send(speak(pcm(480), "V"))
        await ws.send({"type": "agent.speak_end", "event_id": "V"})
        last = state("talking", "idle") if profile != "documented" else ("agent.speak_ended", "V")
        await collect_until(ws, last)
        played = await inspect(http, sid, "/played")
        assert (
            played["utterances"][1] | {"end": "played", "played_bytes": 480}
            == played["utterances"][1]
        )


async def test_interrupt_when_idle_only_acks() -> None:
    async with lite_session(fast(lite_event_profile="both")) as (_, _http, _sid, ws):
        await ws.send({"type": "agent.interrupt", "event_id": "I"})
        assert shape(await ws.next()) == ("agent.audio_buffer_cleared", "I")
        await ws.send({"type": "agent.start_listening"})
        assert shape(await ws.next()) == state("idle", "listening")


async def test_starvation_ends_speak_and_later_audio_starts_a_new_one() -> None:
    async with lite_session(fast(lite_event_profile="both")) as (_, http, sid, ws):
        await ws.send(speak(pcm(2400), "U"))  # 50 ms of audio, no speak_end
        got = await collect_until(ws, ("error",))
        assert got == [
            ("agent.audio_buffer_appended", "U"),
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
            ("error",),
        ]
        error = ws.events[-1]["error"]
        assert error["type"] == "video_starvation" and error["event_id"] == "U"

        await ws.send(speak(pcm(24_000), "ignored-second-id"))  # 0.5 s: outlasts speak_end
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        got = await collect_until(ws, state("talking", "idle"))
        assert got == [
            ("agent.audio_buffer_appended", "ignored-second-id"),
            state("idle", "talking"),
            ("agent.speak_started", "U"),
            ("agent.audio_buffer_committed", "U"),
            ("agent.speak_ended", "U"),
            state("talking", "idle"),
        ]
        utt = (await inspect(http, sid, "/played"))["utterances"]
        assert len(utt) == 1
        assert utt[0]["speaks"] == 2 and utt[0]["starvations"] == 1
        assert utt[0]["played_bytes"] == 26_400 and utt[0]["end"] == "played"


async def test_starvation_as_warning() -> None:
    config = fast(lite_event_profile="documented", starvation_event="warning")
    async with lite_session(config) as (_, _http, _sid, ws):
        await ws.send(speak(pcm(480), "U"))
        event = await ws.wait_for(lambda e: e["type"] in ("warning", "error"))
        assert event["type"] == "warning"
        assert event["warning"]["type"] == "video_starvation"


# -- oversize -------------------------------------------------------------------------------------


async def test_oversize_error_policy() -> None:
    config = fast(oversize_policy="error", max_packet_bytes=10_000)
    async with lite_session(config) as (_, http, sid, ws):
        await ws.send(speak(pcm(9_000), "big"))  # ~12 kB of base64
        error = await ws.next()
        assert error["type"] == "error"
        assert error["error"]["type"] == "invalid_request_error"
        assert error["error"]["event_id"] == "big"
        await ws.send(speak(pcm(960), "small"))
        assert shape(await ws.next()) == ("agent.audio_buffer_appended", "small")
        detail = await inspect(http, sid)
        assert detail["pcm_bytes"] == 960
        assert detail["command_log"][0]["note"] == "oversize:error"


async def test_oversize_drop_policy_is_silent() -> None:
    config = fast(oversize_policy="drop", max_packet_bytes=10_000)
    async with lite_session(config) as (_, http, sid, ws):
        await ws.send(speak(pcm(9_000), "big"))
        await ws.send({"type": "agent.start_listening"})
        assert shape(await ws.next()) == state("idle", "listening")
        assert (await inspect(http, sid))["pcm_bytes"] == 0


async def test_oversize_close_policy_closes_socket_but_not_session() -> None:
    config = fast(oversize_policy="close", max_packet_bytes=10_000)
    async with lite_session(config) as (_, http, sid, ws):
        await ws.send(speak(pcm(9_000), "big"))
        code, _reason = await ws.closed()
        assert code == 1009
        assert (await inspect(http, sid))["status"] == "started"


# -- recording, auth, reconnect -------------------------------------------------------------------


async def test_pcm_recorded_byte_exact() -> None:
    async with lite_session(fast()) as (_, http, sid, ws):
        chunks = [pcm(n, seed=n) for n in (19_200, 48_000, 7, 3_333, 0, 960)]
        for i, chunk in enumerate(chunks):
            await ws.send(speak(chunk, "U" if i < 3 else "V"))
            if i == 2:
                await ws.send({"type": "agent.speak_end", "event_id": "U"})
        await ws.send({"type": "agent.speak_end", "event_id": "V"})
        await ws.wait_for(
            lambda e: (
                e.get("type") == "agent.audio_buffer_committed" and e["source_event_id"] == "V"
            )
        )
        audio = await http.get(f"/_emulator/sessions/{sid}/audio")
        assert audio.headers["content-type"] == "application/octet-stream"
        assert audio.content == b"".join(chunks)


async def test_ws_rejects_wrong_token_unstarted_and_full_sessions(
    emu: Emulator, client: httpx.AsyncClient
) -> None:
    sid, _, data = await started_lite(client)
    good = data["ws_url"]
    for url, status in (
        (good.split("?")[0], 403),
        (good.replace("token=", "token=x"), 403),
        (good.replace(sid, "nope"), 404),
    ):
        with pytest.raises(InvalidStatus) as info:
            async with connect(url, open_timeout=WAIT):
                pass
        assert info.value.response.status_code == status
    full_sid, full_token = await create(client, full_body())
    await start(client, full_token)
    with pytest.raises(InvalidStatus):
        async with connect(good.replace(sid, full_sid), open_timeout=WAIT):
            pass


async def test_client_close_does_not_end_session_and_reconnect_works() -> None:
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            await ws.send(speak(pcm(ONE_SECOND * 10), "U"))
            await ws.wait_type("agent.speak_started")
        async with lite_ws(data["ws_url"]) as ws2:
            await ws2.send({"type": "agent.start_listening"})
            # state survives only per connection: a fresh avatar pose starts idle
            assert shape(await ws2.next()) == state("idle", "listening")
        detail = await inspect(http, sid)
        assert detail["status"] == "started"
        assert detail["ws_connections"] == 2
        played = await inspect(http, sid, "/played")
        assert played["utterances"][0]["end"] == "disconnected"
        assert played["discarded_bytes"] > 0
