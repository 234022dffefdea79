"""Route the livekit SDK's native events so that N rooms cost O(N), not O(N²).

The SDK (livekit 1.2.0) hands every event of its native core to every subscriber of one
process-wide queue, each with a `call_soon_threadsafe` (a self-pipe write and a loop wake-up):

* every `Room` subscribes to everything but media streams, and its listener task takes each
  event, ignores other rooms' and waits on its own `_room_queue.join()`;
* every `AudioSource.capture_frame()` subscribes for the duration of the call, unfiltered.

So each captured frame's completion event is delivered to every room and every capture in
flight. Measured with the FULL benchmark (benchmarks/full_bench.py): 25 USER sessions of 20 ms
frames fell 15 s behind real time at about half a core. Two fixes, both here:

* `capture()` publishes a frame with one FFI request and no per-call subscription: one shared
  subscription per event loop, filtered to `capture_audio_frame`, resolves the waiting call by
  its async id.
* `quiet_room()` narrows a connected room's subscription to the events it can use: its own
  room events and callbacks, none of the capture/publish-data/stats completions the bridge
  waits for itself, none of the other rooms' events.

Both touch the SDK's private structures (pinned version); when those are not as expected they
fall back to the SDK's own behaviour (correct, only slower) and log it once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from livekit import rtc
from livekit.rtc._ffi_client import FfiClient
from livekit.rtc._proto import ffi_pb2 as proto_ffi

log = logging.getLogger(__name__)

NOT_FOR_ROOMS = frozenset(
    {
        "audio_stream_event",
        "video_stream_event",
        "capture_audio_frame",
        "publish_data",
        "get_stats",
        "logs",
    }
)
"""Event kinds no Room listener acts on (media streams: the SDK's own filter; completions of
calls that each wait for their own event)."""

_warned: set[str] = set()


def _warn_once(what: str, exc: BaseException | None = None) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning(
            "livekit SDK internals not as expected; using the SDK's own path",
            extra={"what": what, "error": str(exc or "")},
        )


class CaptureError(Exception):
    """The native core refused a captured frame."""


class _CaptureRouter:
    """One loop's shared subscription to `capture_audio_frame` completions."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._waiting: dict[int, tuple[asyncio.Future[None], rtc.AudioFrame]] = {}
        self._queue: Any = None

    async def capture(self, source: rtc.AudioSource, frame: rtc.AudioFrame) -> None:
        req = proto_ffi.FfiRequest()
        req.capture_audio_frame.source_handle = source._ffi_handle.handle
        req.capture_audio_frame.buffer.CopyFrom(frame._proto_info())
        self._subscribe()
        resp = FfiClient.instance.request(req)
        # Registered before the loop runs again, so before _resolve can run for it. The frame
        # is kept until then: the native core reads its samples through a raw pointer.
        done: asyncio.Future[None] = self._loop.create_future()
        self._waiting[resp.capture_audio_frame.async_id] = (done, frame)
        await done

    def _subscribe(self) -> None:
        if self._queue is None:
            self._queue = FfiClient.instance.queue.subscribe(self._loop, filter_fn=self._route)

    def _unsubscribe(self) -> None:
        if self._queue is not None:
            FfiClient.instance.queue.unsubscribe(self._queue)
            self._queue = None

    def _route(self, event: proto_ffi.FfiEvent) -> bool:
        """On the native core's thread: hand completions to the loop, queue nothing."""
        if self._loop.is_closed():
            return False  # A loop that ended with a capture in flight (tests): nothing to do.
        if event.WhichOneof("message") == "capture_audio_frame":
            done = event.capture_audio_frame
            with contextlib.suppress(RuntimeError):  # The loop closed meanwhile.
                self._loop.call_soon_threadsafe(self._resolve, done.async_id, done.error)
        return False

    def _resolve(self, async_id: int, error: str) -> None:
        waiting = self._waiting.pop(async_id, None)
        if waiting is None:
            return  # Another loop's capture.
        if not self._waiting:
            self._unsubscribe()  # Nothing in flight: no need to see every native event.
        done = waiting[0]
        if not done.done():
            if error:
                done.set_exception(CaptureError(error))
            else:
                done.set_result(None)


_routers: dict[asyncio.AbstractEventLoop, _CaptureRouter] = {}


async def capture(source: rtc.AudioSource, frame: rtc.AudioFrame) -> None:
    """`source.capture_frame(frame)` without the SDK's per-call, every-event subscription;
    returns once the native core has queued the frame (at real-time pace when its queue is
    full). Does not keep the SDK's queued_duration / wait_for_playout bookkeeping."""
    loop = asyncio.get_running_loop()
    router = _routers.get(loop)
    if router is None:
        for stale in [lp for lp in _routers if lp.is_closed()]:
            _routers.pop(stale)._unsubscribe()
        router = _routers[loop] = _CaptureRouter(loop)
    try:
        source._ffi_handle.handle  # noqa: B018 - probes the private attribute
        frame._proto_info()
    except AttributeError as exc:
        _warn_once("AudioSource._ffi_handle / AudioFrame._proto_info", exc)
        await source.capture_frame(frame)
        return
    await router.capture(source, frame)


def quiet_room(room: rtc.Room) -> bool:
    """Narrow a connected room's event subscription (see the module docstring); True when
    done. Call after `connect()` returned."""
    ffi_handle = room._ffi_handle
    if ffi_handle is None:
        return False  # Not connected.
    try:
        handle = ffi_handle.handle
        mine = room._ffi_queue
        subscribers: list[tuple[Any, asyncio.AbstractEventLoop, Any]]
        subscribers = FfiClient.instance.queue._subscribers
        lock = FfiClient.instance.queue._lock
    except AttributeError as exc:
        _warn_once("Room._ffi_handle / Room._ffi_queue / FfiQueue._subscribers", exc)
        return False
    keep = _room_filter(handle)
    with lock:
        for index, (queue, loop, _) in enumerate(subscribers):
            if queue is mine:
                subscribers[index] = (queue, loop, keep)
                return True
    return False  # Already unsubscribed: the room is gone.


def _room_filter(handle: int) -> Callable[[proto_ffi.FfiEvent], bool]:
    def keep(event: proto_ffi.FfiEvent) -> bool:
        kind = event.WhichOneof("message")
        if kind == "room_event":
            return bool(event.room_event.room_handle == handle)
        return kind not in NOT_FOR_ROOMS

    return keep
