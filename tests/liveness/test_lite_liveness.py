"""LITE recovery and liveness, end to end: faults injected in the emulator's WebSocket.

Each test drives a real Converse call through the bridge to the emulator over loopback, injects
one fault in the session's LITE socket, and checks what the client sees and what the emulator
recorded. Audio plays in real time (the emulator's default) so the avatar is still speaking when
the fault hits.
"""

from __future__ import annotations

from server.helpers import Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .faults import FaultyEmulator

MULAW_BYTES_PER_MS = 8
"""The tests' input format is 8 kHz mono mu-law: one byte per sample."""


def mulaw(ms: int) -> bytes:
    """`ms` of a mu-law pattern (content does not matter to the LITE emulator)."""
    return bytes((i * 7) % 256 for i in range(ms * MULAW_BYTES_PER_MS))


async def open_connected(stub: object) -> tuple[Stream, str]:
    """A LITE conversation whose session reported CONNECTED; returns it and the session id."""
    stream = Stream(stub)  # type: ignore[arg-type]
    await stream.send(lite_config())
    session_id = (await stream.started()).session_id
    await stream.until(
        "session_state_changed",
        lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
    )
    return stream, session_id


def warnings(stream: Stream, code: str) -> list[pb.Warning]:
    return [e.warning for e in stream.events if e.HasField("warning") and e.warning.code == code]


async def test_dropped_socket_is_reconnected_and_the_conversation_goes_on(
    bridge: object, emu: FaultyEmulator
) -> None:
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]
    await stream.send(audio(mulaw(3000), "u1"), speak_end())
    await stream.until("avatar_speak_started")

    assert await emu.drop_ws(session_id, 1011, "internal error") == 1

    warning = await stream.until("warning", lambda e: e.warning.code == "UPSTREAM_RECONNECTED")
    dropped = [e.audio_dropped for e in stream.events if e.HasField("audio_dropped")]
    assert [d.utterance_id for d in dropped] == ["u1"]
    assert dropped[0].reason == pb.DROP_REASON_UPSTREAM_LOST
    # The drop came just after the avatar started 3 s of audio: most of it never played.
    assert 0 < dropped[0].duration_ms <= 3000
    # duration_ms is rounded down to whole milliseconds, and the input bytes are the output
    # bytes' nearest whole µ-law samples: they differ by at most one millisecond (8 bytes).
    assert 0 <= dropped[0].input_byte_count - dropped[0].duration_ms * MULAW_BYTES_PER_MS <= 8
    assert f"{dropped[0].duration_ms} ms of audio" in warning.warning.message
    assert "avatar_speak_interrupted" in stream.kinds()

    # The conversation goes on over the new socket: the next utterance plays to its end.
    await stream.send(audio(mulaw(400), "u2"), speak_end())
    await stream.until("avatar_speak_ended", lambda e: e.avatar_speak_ended.utterance_id == "u2")
    detail = await emu.session(session_id)
    assert detail["ws_connections"] == 2
    assert detail["status"] == "started"

    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)
    assert (await emu.wait_ended(session_id))["status"] == "ended"


async def test_refused_reconnects_end_the_conversation_as_upstream_lost(
    bridge: object, emu: FaultyEmulator
) -> None:
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]
    await emu.refuse_reconnects(session_id, 100)

    assert await emu.drop_ws(session_id, 1011, "internal error") == 1

    stopped = await stream.stopped(pb.STOP_REASON_UPSTREAM_LOST)
    assert "1011" in stopped.detail
    assert "3 reconnect attempt(s) failed" in stopped.detail
    # The bridge's default policy: 3 attempts, each refused by the emulator.
    assert (await emu.ws_faults(session_id))["refused"] == 3
    # The session was still alive upstream: the bridge stopped it.
    detail = await emu.wait_ended(session_id)
    assert detail["end_reason"] == "UNKNOWN"


async def test_a_session_that_ended_upstream_is_not_reconnected(
    bridge: object, emu: FaultyEmulator
) -> None:
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]

    await emu.end(session_id, "NO_CREDITS")

    stopped = await stream.stopped(pb.STOP_REASON_NO_CREDITS)
    assert stopped.upstream_reason == "NO_CREDITS"
    assert (await emu.session(session_id))["ws_connections"] == 1
    assert not warnings(stream, "UPSTREAM_RECONNECTED")


async def test_a_silent_upstream_is_reported_then_ended_as_upstream_lost(
    bridge: object, emu: FaultyEmulator
) -> None:
    """No event past the bound (1.5 s here) after the audio should have played."""
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]
    await emu.stall(session_id, 6.0)

    await stream.send(audio(mulaw(300), "u1"), speak_end())

    await stream.stopped(pb.STOP_REASON_UPSTREAM_LOST)
    [silent] = warnings(stream, "UPSTREAM_SILENT")
    assert "no event" in silent.message
    # Nothing the stalled emulator sent reached the client before the end.
    assert "avatar_speak_started" not in stream.kinds()
    assert (await emu.wait_ended(session_id))["status"] == "ended"


async def test_a_short_stall_is_not_an_error(bridge: object, emu: FaultyEmulator) -> None:
    """A stall shorter than the bound delays events; the conversation just goes on."""
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]
    await emu.stall(session_id, 0.5)

    await stream.send(audio(mulaw(300), "u1"), speak_end())
    await stream.until("avatar_speak_ended", lambda e: e.avatar_speak_ended.utterance_id == "u1")

    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)
    assert not warnings(stream, "UPSTREAM_SILENT")


async def test_interrupt_reports_audio_sent_but_never_played(
    bridge: object, emu: FaultyEmulator
) -> None:
    """The bridge's estimate of unplayed audio matches the emulator's record of discarded audio
    (within 500 ms: the estimate starts at the bridge's send, playback at the emulator's
    receipt)."""
    stream, session_id = await open_connected(bridge.stub)  # type: ignore[attr-defined]
    await stream.send(audio(mulaw(3000), "u1"), speak_end())
    await stream.until("avatar_speak_started")

    await stream.send(pb.ConverseRequest(request_id="i1", interrupt=pb.Interrupt()))
    await stream.until("avatar_speak_interrupted")

    [dropped] = [e.audio_dropped for e in stream.events if e.HasField("audio_dropped")]
    assert dropped.utterance_id == "u1"
    assert dropped.reason == pb.DROP_REASON_INTERRUPTED
    played = await emu.played(session_id)
    discarded_ms = played["discarded_bytes"] / 48
    assert discarded_ms > 0
    assert abs(dropped.duration_ms - discarded_ms) <= 500, (dropped, played)

    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)
