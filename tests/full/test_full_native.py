"""What the FULL leg asks of the livekit SDK's native core (avatar_bridge.full.ffi_events and the
room options): measured costs in benchmarks/results/full_latest.md, behaviour checked here.

* Each joined room's native-event subscription is narrowed to its own events: another room's
  events and capture completions never wake it (the SDK's default wakes every room for every
  event: O(N²) with N sessions). This also fails, by design, if an SDK upgrade moves the private
  structures the narrowing relies on (the leg would then silently fall back to the slow path).
* No video receivers: the leg joins with two peer connections, so libwebrtc starts no video
  decoder threads for a bridge that never plays video.

Run inside the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/full -m full``
"""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi

from avatar_bridge.full.transport import LiveKitTransport
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FullEnv
from .test_full_converse import end_normally, open_full

pytestmark = pytest.mark.full

PCM_24K = pb.AudioFormat(
    encoding=pb.AUDIO_ENCODING_LINEAR16, sample_rate_hertz=24000, channel_count=1
)


def live_transports() -> list[LiveKitTransport]:
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, LiveKitTransport) and o._joined and not o._closed
    ]


def room_event(handle: int) -> proto_ffi.FfiEvent:
    event = proto_ffi.FfiEvent()
    event.room_event.room_handle = handle
    event.room_event.eos.SetInParent()
    return event


async def test_each_room_hears_only_its_own_native_events(env: FullEnv) -> None:
    first, _ = await open_full(env, context=False)
    second, _ = await open_full(env, context=False)
    transports = live_transports()
    assert len(transports) == 2
    handles = [t._room._ffi_handle.handle for t in transports]  # type: ignore[union-attr]
    subscribers = {id(q): keep for q, _, keep in FfiClient.instance.queue._subscribers}
    for transport, mine, other in zip(transports, handles, reversed(handles), strict=True):
        keep = subscribers[id(transport._room._ffi_queue)]
        assert keep(room_event(mine)) is True
        assert keep(room_event(other)) is False
        capture_done = proto_ffi.FfiEvent()
        capture_done.capture_audio_frame.async_id = 7
        assert keep(capture_done) is False
        published = proto_ffi.FfiEvent()  # publish_track's answer arrives through the room.
        published.publish_track.async_id = 7
        assert keep(published) is True
    await end_normally(first)
    await end_normally(second)


def thread_names() -> list[str]:
    return [(task / "comm").read_text().strip() for task in Path("/proc/self/task").iterdir()]


async def test_a_joined_session_starts_no_video_receiver_threads(env: FullEnv) -> None:
    # With input audio, the leg publishes the microphone before CONNECTED.
    stream, _ = await open_full(env, context=False, input_audio=PCM_24K)
    names = thread_names()
    assert any(n.startswith("AudioEncoder") for n in names), names  # The microphone's encoder.
    video = [n for n in names if n.startswith(("VideoDecoder", "IncomingVideo"))]
    assert video == []
    await end_normally(stream)
