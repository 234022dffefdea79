"""LITE: the events that answer speak_end and interrupt echo those commands' request_id, as the
proto promises (ConverseRequest.request_id), against the real bridge and emulator."""

from __future__ import annotations

from typing import Any

import pytest
from server.helpers import Stream, audio, lite_config, speak_end

from avatarbridge.v1 import avatar_bridge_pb2 as pb

# 300 ms of µ-law silence at 8 kHz (0xFF is µ-law zero).
SILENCE_300MS = b"\xff" * 2400


@pytest.fixture
def emulator_settings() -> dict[str, Any]:
    """Real-time playback: the avatar is still speaking when the interrupt arrives."""
    return {}


def buffer_event(action: int) -> Any:
    return lambda r: r.audio_buffer_updated.action == action


async def test_speak_end_and_interrupt_are_echoed(bridge: Any) -> None:
    stream = Stream(bridge.stub)
    await stream.send(lite_config())
    await stream.started()

    await stream.send(audio(SILENCE_300MS, "utt-1"), speak_end("end-1"))
    committed = await stream.until(
        "audio_buffer_updated", buffer_event(pb.AUDIO_BUFFER_ACTION_COMMITTED)
    )
    assert committed.request_id == "end-1"
    assert committed.audio_buffer_updated.utterance_id == "utt-1"

    await stream.send(audio(SILENCE_300MS * 10, "utt-2"), speak_end(""))
    await stream.until("avatar_speak_started", lambda r: r.request_id == "utt-2")
    await stream.send(pb.ConverseRequest(request_id="stop-1", interrupt=pb.Interrupt()))
    cleared = await stream.until(
        "audio_buffer_updated", buffer_event(pb.AUDIO_BUFFER_ACTION_CLEARED)
    )
    assert cleared.request_id == "stop-1"
    await stream.half_close()
    await stream.drain()
