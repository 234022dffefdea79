"""LITE WebSocket behaviours the other LITE files leave open (issue 12, mutation survivors).

Real sockets to a real emulator. Expected values from the reference (§3.1 documents the
``closing`` state of ``session.state_updated``; §3.2 lets ``agent.speak_end`` carry a final
``audio`` chunk; §3.3 error bodies) and the emulator's config docs, written literally. The
inspection records' ``at`` is real seconds since the session's creation, to the microsecond
(``CommandRecord`` in sessions.py), read on a frozen clock; ``/ws_stall`` is the README's "hold
events N s".
"""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest

from liveavatar_emulator.clock import Clock
from liveavatar_emulator.socket_faults import SocketFaults

from .helpers import (
    WAIT,
    fast,
    key_headers,
    lite_ws,
    pcm,
    speak,
    wait_until,
)
from .lite_ws_harness import lite

CLOSING = {"type": "session.state_updated", "state": "closing"}
BAD_AUDIO = {
    "type": "invalid_request_error",
    "message": "'audio' must be base64 PCM16LE 24 kHz mono",
}


async def stop(http: httpx.AsyncClient, session_id: str) -> None:
    resp = await http.post(
        "/v1/sessions/stop",
        headers=key_headers(),
        json={"session_id": session_id, "reason": "USER_CLOSED"},
    )
    assert resp.status_code == 200, resp.text


# -- the closing state (reference §3.1) ----------------------------------------------------------


async def test_closing_state_is_the_last_event_before_the_close_frame_when_asked() -> None:
    config = fast(lite_send_closing_state=True, ws_close_code=4000)
    async with lite(config) as (_, http, session, ws, _url):
        await stop(http, session.id)
        assert await ws.closed() == (4000, "USER_CLOSED")
        assert ws.events == [{"type": "session.state_updated", "state": "connected"}, CLOSING]
        assert [(e.type, e.event_id, e.source_event_id) for e in session.events] == [
            ("session.state_updated", None, None),
            ("session.state_updated", None, None),
        ]


async def test_closing_state_is_not_sent_by_default() -> None:
    async with lite(fast(ws_close_code=4000)) as (_, http, session, ws, _url):
        await stop(http, session.id)
        assert await ws.closed() == (4000, "USER_CLOSED")
        assert ws.events == [{"type": "session.state_updated", "state": "connected"}]
        assert len(session.events) == 1


async def test_a_replaced_socket_hears_closing_then_code_1000() -> None:
    async with lite(fast(lite_send_closing_state=True)) as (_, _, session, first, url):
        async with lite_ws(url) as second:
            assert await first.closed() == (1000, "replaced by a new connection")
            assert first.events[-1] == CLOSING
            # The new socket is served: its own connected came first, no closing.
            assert second.events == [{"type": "session.state_updated", "state": "connected"}]
            await second.send({"type": "agent.start_listening"})
            assert (await second.next())["new_state"] == "listening"
        await wait_until(lambda: not session.ws_connected)
        assert session.active


# -- agent.speak_end's optional final chunk (reference §3.2) ------------------------------------


async def test_speak_end_with_empty_audio_appends_nothing() -> None:
    async with lite(fast(lite_event_profile="observed")) as (_, _, session, ws, _url):
        chunk = pcm(480)
        await ws.send(speak(chunk, "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U", "audio": ""})
        committed = await ws.wait_type("agent.audio_buffer_committed")
        assert committed["source_event_id"] == "U"
        acks = [e["type"] for e in ws.events if e["type"].startswith("agent.audio_buffer_")]
        assert acks == ["agent.audio_buffer_appended", "agent.audio_buffer_committed"]
        assert bytes(session.pcm) == chunk
        assert session.counters["pcm_chunks"] == 1


async def test_speak_end_with_bad_audio_errors_then_still_commits() -> None:
    async with lite(fast(lite_event_profile="observed")) as (_, _, session, ws, _url):
        chunk = pcm(480)
        await ws.send(speak(chunk, "U"))
        end = {"type": "agent.speak_end", "event_id": "E", "audio": "***"}
        await ws.send(end)
        committed = await ws.wait_type("agent.audio_buffer_committed")
        assert committed["source_event_id"] == "E"
        errors = [e for e in ws.events if e["type"] == "error"]
        assert errors == [{"type": "error", "error": {**BAD_AUDIO, "event_id": "E"}}]
        # One log line for the speak_end itself, none for its refused chunk.
        assert [(c.type, c.event_id, c.size, c.dropped, c.note) for c in session.commands] == [
            ("agent.speak", "U", len(json.dumps(speak(chunk, "U"))), False, None),
            ("agent.speak_end", "E", len(json.dumps(end)), False, None),
        ]
        assert bytes(session.pcm) == chunk
        assert session.counters["pcm_chunks"] == 1


async def test_speak_end_final_chunk_plays_under_the_speak_end_id() -> None:
    """A speak_end that opens an utterance with its chunk names it by its own event_id."""
    async with lite(fast(lite_event_profile="both")) as (_, _, session, ws, _url):
        last = pcm(960, seed=3)
        end = {"type": "agent.speak_end", "event_id": "S", "audio": base64.b64encode(last).decode()}
        await ws.send(end)
        started = await ws.wait_type("agent.speak_started")
        assert started["event_id"] == "S"
        await ws.wait_type("agent.speak_ended")
        assert bytes(session.pcm) == last
        assert session.counters["pcm_chunks"] == 1
        assert session.utterances[0].id == "S"
        assert session.utterances[0].played_bytes == 960


# -- the event record (inspection API) ----------------------------------------------------------


async def test_sent_events_are_recorded_in_order_with_their_ids() -> None:
    async with lite(fast(lite_event_profile="both")) as (_, _, session, ws, _url):
        await ws.send(speak(pcm(480), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        await ws.wait_type("agent.speak_ended")
        await ws.wait_for(lambda e: e.get("new_state") == "idle")
        recorded = [(e.type, e.event_id, e.source_event_id) for e in session.events]
        received = [(e["type"], e.get("event_id"), e.get("source_event_id")) for e in ws.events]
        assert recorded == received
        times = [e.at for e in session.events]
        assert times == sorted(times) and times[0] > 0


# -- server-side closes (inspection API's /drop_ws) --------------------------------------------


async def test_a_long_close_reason_is_cut_to_120_characters() -> None:
    """A close frame's reason must fit RFC 6455's 123-byte room; the emulator keeps 120."""
    async with lite(fast()) as (_, http, session, ws, _url):
        reason = "r" * 200
        resp = await http.post(
            f"/_emulator/sessions/{session.id}/drop_ws", json={"code": 4001, "reason": reason}
        )
        assert resp.json() == {"dropped": 1}
        assert await ws.closed() == (4001, "r" * 120)
        assert session.active


async def test_a_second_close_of_the_same_socket_sends_nothing() -> None:
    async with lite(fast(lite_send_closing_state=True)) as (_, _, session, ws, _url):
        assert await session.close_sockets(4001, "first") == 1
        # Still attached until the peer answers the close frame: this close is a no-op.
        await session.close_sockets(4002, "second")
        assert await ws.closed() == (4001, "first")
        assert [e for e in ws.events if e == CLOSING] == [CLOSING]
        closing = [e for e in session.events if e.type == "session.state_updated"]
        assert len(closing) == 2  # connected, then one closing


# -- timestamps of the command and event records (inspection API) -------------------------------


async def test_records_are_stamped_in_seconds_since_creation_to_the_microsecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``at`` is real seconds since the session was created, rounded to 6 decimals."""
    now = [7_000.0]  # a frozen real clock, moved by hand (sessions.py reads Clock.monotonic)
    monkeypatch.setattr(Clock, "monotonic", staticmethod(lambda: now[0]))
    async with lite(fast(lite_event_profile="observed")) as (_, _, session, ws, _url):
        now[0] = 7_001.2345678
        await ws.send({"type": "session.keep_alive", "event_id": "K"})
        await ws.send({"type": "agent.interrupt", "event_id": "I"})
        await ws.wait_type("agent.audio_buffer_cleared")
        now[0] = 7_002.75
        await ws.ws.send("not json")
        await ws.wait_type("error")
        assert [(c.type, c.at) for c in session.commands] == [
            ("session.keep_alive", 1.234568),
            ("agent.interrupt", 1.234568),
            ("<invalid>", 2.75),
        ]
        assert [(e.type, e.at) for e in session.events] == [
            ("session.state_updated", 0.0),
            ("agent.audio_buffer_cleared", 1.234568),
            ("error", 2.75),
        ]


# -- injected stalls (inspection API's /ws_stall) ------------------------------------------------


async def test_a_stall_holds_events_but_never_the_closing_state() -> None:
    """``/ws_stall`` holds every event the session would send; the session's end is not held."""
    config = fast(lite_send_closing_state=True, lite_connect_delay_s=0.0, ws_close_code=4000)
    async with lite(config, wait_connected=False, stall_s=600) as (_, http, session, ws, _url):
        sid = session.id
        await ws.send({"type": "agent.start_listening", "event_id": "early"})
        await wait_until(lambda: session.commands)
        # `connected` is held, so the command came before it and was dropped.
        assert [(c.type, c.dropped, c.note) for c in session.commands] == [
            ("agent.start_listening", True, "not_connected")
        ]
        await stop(http, sid)
        assert await ws.closed() == (4000, "USER_CLOSED")
        assert ws.events == [CLOSING]
        assert [e.type for e in session.events] == ["session.state_updated"]


# -- a peer that goes away while the emulator is sending ----------------------------------------


class HeldEvents:
    """A stall the test ends by hand: while ``held``, every event the socket sends waits where an
    injected stall (``/ws_stall``, a fixed number of seconds) would hold it, until ``release``.
    It lets the peer leave at a known point of a send, without racing a timer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.held = False
        self.reached = asyncio.Event()
        self._released = asyncio.Event()

        async def wait_stall(_faults: SocketFaults, _session_id: str) -> None:
            if self.held:
                self.reached.set()
                await self._released.wait()

        monkeypatch.setattr(SocketFaults, "wait_stall", wait_stall)

    def release(self) -> None:
        self._released.set()


async def test_a_peer_gone_mid_send_gets_no_further_events(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The send that finds the peer gone is the last one: the events the same command would
    have sent next (talking, speak_started) are neither sent nor recorded."""
    hold = HeldEvents(monkeypatch)
    async with lite(fast(lite_event_profile="both")) as (_, _, session, ws, _url):
        hold.held = True
        await ws.send(speak(pcm(960), "U"))
        await asyncio.wait_for(hold.reached.wait(), WAIT)  # its appended ack is held
        await ws.ws.close()
        hold.release()
        await wait_until(lambda: not session.ws_connected)
        assert [e.type for e in session.events] == [
            "session.state_updated",
            "agent.audio_buffer_appended",
        ]
        # The peer's leaving is not a message: nothing more is logged.
        assert [c.type for c in session.commands] == ["agent.speak"]
        assert session.active


async def test_a_close_that_outlives_its_peer_sends_and_records_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server-side close whose closing state is held while the peer leaves: once the peer is
    gone the closing state is not recorded as sent, and the close still answers."""
    hold = HeldEvents(monkeypatch)
    async with lite(fast(lite_send_closing_state=True)) as (_, http, session, ws, _url):
        hold.held = True
        drop = asyncio.create_task(
            http.post(f"/_emulator/sessions/{session.id}/drop_ws", json={"code": 4001})
        )
        await asyncio.wait_for(hold.reached.wait(), WAIT)  # the closing state is held
        await ws.ws.close()
        await wait_until(lambda: not session.ws_connected)
        hold.release()
        resp = await drop
        assert (resp.status_code, resp.json()) == (200, {"dropped": 1})
        assert [e.type for e in session.events] == ["session.state_updated"]
        assert session.commands == []
        assert session.active
