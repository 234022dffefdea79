"""README promises about a LITE conversation's flow: the bounded wait after half-close, the
readiness hold and its backpressure, and `audio_dropped` end to end.

The emulator's own record (what it received, played, dropped) is the evidence.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from server.conftest import Env
from server.helpers import WAIT_S, Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb

PCM16_48K_STEREO = pb.AudioFormat(
    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=48000, channel_count=2
)
MULAW_BYTES_PER_S = 8000
"""8 kHz mono µ-law: one byte per sample."""


async def open_lite(env: Env, fmt: pb.AudioFormat | None = None) -> tuple[Stream, str]:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config(input_audio=fmt) if fmt else lite_config())
    return stream, (await stream.started()).session_id


def connected(event: pb.ConverseResponse) -> bool:
    return event.session_state_changed.state == pb.SESSION_STATE_CONNECTED


# Half-close: the wait for the avatar to finish is bounded.


@pytest.mark.parametrize("emulator_settings", [{"playback_time_scale": 1.0}], ids=["real-time"])
@pytest.mark.parametrize("bridge_settings", [{"drain_timeout_s": 1.0}], ids=["drain-1s"])
async def test_half_close_waits_bounded_then_stops_the_session(
    env: Env, bridge_settings: dict[str, Any]
) -> None:
    stream, session_id = await open_lite(env)
    await stream.until("session_state_changed", connected)
    tone = bytes(range(256)) * (60 * MULAW_BYTES_PER_S // 256)  # 60 s of speech.
    await stream.send(audio(tone, "long"), speak_end())
    await stream.until("avatar_speak_started")
    await stream.half_close()
    await stream.stopped(pb.STOP_REASON_CLIENT_ENDED)
    detail = await env.emu.session(session_id)
    assert detail["status"] == "ended"  # Stopped while the avatar was still speaking.
    assert detail["played_bytes"] < 60 * 48_000


# Readiness: everything sent before `connected` is held, then delivered in order.


@pytest.mark.parametrize(
    "emulator_settings",
    [{"playback_time_scale": 0.05, "lite_connect_delay_s": 1.0}],
    ids=["connect-after-1s"],
)
async def test_audio_sent_before_ready_is_held_and_delivered_whole(env: Env) -> None:
    stream, session_id = await open_lite(env)
    tone = bytes(range(256)) * 25  # 6,400 µ-law bytes: 800 ms.
    await stream.send(audio(tone, "early"), speak_end())  # Before the session is connected.
    ended = await stream.until("avatar_speak_ended")
    assert ended.avatar_speak_ended.utterance_id == "early"
    kinds = stream.kinds()
    states = [
        e.session_state_changed.state for e in stream.events if e.HasField("session_state_changed")
    ]
    assert pb.SESSION_STATE_CONNECTED in states
    first_connected = next(i for i, e in enumerate(stream.events) if connected(e))
    assert kinds.index("avatar_speak_started") > first_connected
    await stream.half_close()
    await stream.drain()
    detail = await env.emu.session(session_id)
    assert detail["dropped_commands"] == 0  # Nothing reached the emulator before `connected`.
    # 6,400 samples at 8 kHz are exactly 19,200 samples at 24 kHz.
    assert detail["pcm_bytes"] == 19_200 * 2


@pytest.mark.parametrize(
    "emulator_settings",
    [{"playback_time_scale": 0.02, "lite_connect_delay_s": 6.0}],
    ids=["connect-after-6s"],
)
async def test_the_hold_is_bounded_by_backpressure(env: Env) -> None:
    """Past 10 s of held audio the bridge stops reading: the client's writes stall."""
    stream, session_id = await open_lite(env, PCM16_48K_STEREO)
    chunk = b"\x01\x00\x02\x00" * 4800  # 100 ms of 48 kHz stereo PCM16.
    # Without backpressure all of it is accepted at once. With it, 10 s are held and HTTP/2
    # flow-control windows (at most 16 MB, 87 s of this audio) take the rest: 32 s measured.
    limit_s = 120
    written = 0
    stalled = False
    pending: asyncio.Task[None] | None = None
    for index in range(limit_s * 10):
        pending = asyncio.ensure_future(stream.call.write(audio(chunk, "u" if index == 0 else "")))
        done, _ = await asyncio.wait({pending}, timeout=1.0)
        if not done:
            stalled = True
            break
        pending.result()
        written += 1
    assert stalled, f"all {written / 10:.1f} s were accepted before the session was ready"
    assert pending is not None
    await asyncio.wait_for(pending, WAIT_S)  # Reading resumes once the session is ready.
    written += 1
    await stream.send(speak_end())
    await stream.until("avatar_speak_ended")
    await stream.half_close()
    await stream.drain()
    # Every accepted byte arrived: 100 ms at 48 kHz is 2,400 samples at 24 kHz.
    assert (await env.emu.session(session_id))["pcm_bytes"] == written * 2_400 * 2


# Nothing is lost silently: audio_dropped end to end.


NEVER_CONNECTS = pytest.mark.parametrize(
    "emulator_settings",
    [{"playback_time_scale": 0.05, "lite_connect_delay_s": 60.0}],
    ids=["never-connects"],
)


async def interrupt_held_audio(env: Env) -> tuple[Stream, str, pb.ConverseResponse]:
    """300 ms of µ-law held (the session never connects), then an interrupt."""
    stream, session_id = await open_lite(env)
    await stream.send(audio(b"\xff" * 1600, "held"), audio(b"\xff" * 800))
    await stream.send(pb.ConverseRequest(request_id="stop", interrupt=pb.Interrupt()))
    return stream, session_id, await stream.until("audio_dropped")


@NEVER_CONNECTS
async def test_interrupted_held_audio_is_reported_dropped_in_input_bytes(env: Env) -> None:
    stream, session_id, dropped = await interrupt_held_audio(env)
    assert dropped.audio_dropped.input_byte_count == 2400  # In the client's format's bytes.
    assert dropped.audio_dropped.duration_ms == 300
    assert dropped.audio_dropped.reason == pb.DROP_REASON_INTERRUPTED
    stream.call.cancel()
    assert (await env.emu.session(session_id))["pcm_bytes"] == 0


@NEVER_CONNECTS
async def test_dropped_held_audio_names_its_utterance(env: Env) -> None:
    stream, _, dropped = await interrupt_held_audio(env)
    stream.call.cancel()
    # The .proto: "The utterance the audio belonged to" (its first chunk's request_id).
    assert dropped.audio_dropped.utterance_id == "held"
