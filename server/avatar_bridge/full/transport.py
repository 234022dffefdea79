"""The FULL LiveKit leg: data messages and the user's microphone in a session's LiveKit room.

Built on the real `livekit` SDK (`livekit.rtc`). What it does, and why:

* `connect()` joins the room, bounded by `connect_timeout_s`: the SDK itself retries for up to
  3 x 15 s, far longer than a caller should wait. Then it waits, bounded by `ready_timeout_s`,
  until LiveAvatar's participants `heygen` and `liveavatar-agent-<session_id>` are present, as
  the web SDK does before it calls a FULL session started.
* Commands go to topic `agent-control`, reliable; events come from topic `agent-response` (other
  topics and non-JSON payloads are ignored, as the web SDK does). Each event gets the sender's
  identity under `_sender`. After `session.stopped`, or when the room disconnects, `receive()`
  raises UpstreamClosed (carrying LiveAvatar's end reason when it gave one).
* `{"event_type": "session.keep_alive"}` is not sent to the room: FULL has no such data command,
  so it runs the REST keep-alive callback instead (in the background; one at a time).
* Audio is published as a microphone track of 24 kHz mono PCM16, created by `prepare_audio()`
  (the leg calls it when the conversation will carry audio) or else on first use. A
  background task paces it into the SDK's AudioSource up to `CAPTURE_MS` per native call
  (`ffi_events.capture`; the source's own queue is `SOURCE_QUEUE_MS`, so a capture returns at
  real-time speed). The room's native-event subscription is narrowed to its own events
  (`ffi_events.quiet_room`): N sessions cost O(N), not O(N²). `publish_audio()` only
  queues: it returns at once while fewer than `MAX_QUEUED_MS` are waiting and otherwise waits
  for room (backpressure), so a big chunk never holds the conversation's loop for its duration.
  The bound is soft by one chunk: a chunk is queued whole once there is room. Normally the
  core's `pending_audio_ms()` stops the service reading audio beyond `max_pending_ms` first.
  `user.stop_push_to_talk` waits behind audio still queued, so the window's last words are
  heard before it closes.
* Liveness. `heygen` or the agent leaving the room (`participant_disconnected`) is reported at
  once as a Warning; if it has not rejoined within `participant_grace_s`, the stream ends with
  UpstreamClosed (the service then asks LiveAvatar why, else ends as UPSTREAM_LOST). While the
  SDK reconnects the room (`reconnecting` … `reconnected`) commands are held, in order, and sent
  after; a reconnect that takes longer than `reconnect_timeout_s` ends the stream, as does the
  SDK giving up (`disconnected`). Held commands are bounded (MAX_HELD_COMMANDS): beyond that
  `send()` raises UpstreamUnavailable rather than drop one silently.
* Cancellation. The SDK's join runs in its native core and cannot be aborted, so a join that is
  cancelled or times out is left to finish and then leaves the room at once: nothing stays
  connected. Those late leaves are tracked (`pending_late_leaves()`) so shutdown and tests can
  wait for them.
* `close()` always leaves the room and stops the publisher; tokens are never logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from livekit import rtc
from livekit.rtc.room import EventTypes as RoomEvent

from avatar_bridge.errors import UpstreamClosed, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from avatar_bridge.full import ffi_events

log = logging.getLogger(__name__)

CONTROL_TOPIC = "agent-control"
RESPONSE_TOPIC = "agent-response"
AVATAR_IDENTITY = "heygen"
KEEP_ALIVE_EVENT = "session.keep_alive"
SENDER_KEY = "_sender"

SAMPLE_RATE_HZ = 24_000
FRAME_MS = 20
FRAME_BYTES = SAMPLE_RATE_HZ * FRAME_MS // 1000 * 2
"""One 20 ms frame of 24 kHz mono PCM16."""
BYTES_PER_S = SAMPLE_RATE_HZ * 2
CAPTURE_MS = 100
"""Audio handed to the native source per call, at most (when that much is queued): each call is
an FFI round trip and a completion event, so fewer calls cost less CPU (see ffi_events)."""
CAPTURE_BYTES = CAPTURE_MS * BYTES_PER_S // 1000
SOURCE_QUEUE_MS = 200
"""The SDK AudioSource's own buffer: small, so clear_audio() leaves little behind."""
MAX_QUEUED_MS = 15_000
"""Audio waiting in this transport before publish_audio() makes its caller wait. A safety net
above the service's default max_pending_ms (10 s), which normally stops reading the client
first: that keeps the conversation's loop (and LiveAvatar's events) flowing."""
AUDIO_READY_TIMEOUT_S = 2.0
"""Longest wait for a new microphone track to start sending (see prepare_audio)."""
AUDIO_READY_POLL_S = 0.02
DISCONNECT_TIMEOUT_S = 5.0
MAX_HELD_COMMANDS = 256
"""Commands held while the room reconnects before send() fails instead."""
SIGNAL_ATTEMPT_TIMEOUT_S = 5.0
"""Per attempt of the SDK's signal connection: bounds how long an abandoned join can retry."""
WARNING_EVENT = "bridge.warning"
"""The core's BRIDGE_WARNING_EVENT (not imported: the transport does not depend on the core)."""

_LATE_LEAVES: set[asyncio.Future[None]] = set()
"""Joins their caller gave up on, then the leaves of those that joined: kept referenced
until done, so nothing native is still connecting or connected behind the bridge's back."""


def pending_late_leaves() -> int:
    """Joins abandoned by their caller that have not finished (joining, then leaving) yet."""
    return len(_LATE_LEAVES)


KeepAlive = Callable[[], Awaitable[None]]


def agent_identity(session_id: str) -> str:
    """LiveAvatar's agent participant in a FULL session's room."""
    return f"liveavatar-agent-{session_id}"


class _Closed:
    """Queue marker: the room is gone."""

    def __init__(self, error: UpstreamClosed) -> None:
        self.error = error


class LiveKitTransport:
    """One participant in a FULL session's LiveKit room. See the module docstring."""

    def __init__(
        self,
        livekit_url: str,
        token: str,
        *,
        session_id: str,
        keep_alive: KeepAlive,
        connect_timeout_s: float = 20.0,
        ready_timeout_s: float = 20.0,
        participant_grace_s: float = 3.0,
        reconnect_timeout_s: float = 20.0,
        log_extra: dict[str, Any] | None = None,
    ) -> None:
        self._url = livekit_url
        self._token = token
        self._session_id = session_id
        self._keep_alive = keep_alive
        self._connect_timeout_s = connect_timeout_s
        self._ready_timeout_s = ready_timeout_s
        self._extra = dict(log_extra or {})
        self._room = rtc.Room()
        self._events: asyncio.Queue[dict[str, Any] | _Closed] = asyncio.Queue()
        self._stopped: UpstreamClosed | None = None
        self._presence = asyncio.Event()
        self._frames: deque[bytes | dict[str, Any]] = deque()
        """Audio frames to publish, and commands that must wait behind them."""
        self._queued_bytes = 0
        self._has_work = asyncio.Event()
        self._has_room = asyncio.Event()
        self._has_room.set()
        self._publisher: asyncio.Task[None] | None = None
        self._publisher_error: UpstreamError | None = None
        self._source: rtc.AudioSource | None = None
        self._play_end = 0.0
        """Loop time when the audio handed to the native source has played out."""
        self._track: rtc.LocalAudioTrack | None = None
        self._keep_alive_task: asyncio.Task[None] | None = None
        self._closed = False
        self._grace_s = participant_grace_s
        self._reconnect_timeout_s = reconnect_timeout_s
        self._joined = False
        self._joining: asyncio.Future[None] | None = None
        self._join_abandoned = False
        self._absent: dict[str, asyncio.TimerHandle] = {}
        """LiveAvatar participants gone from the room, with the timer that ends the leg."""
        self._held: list[dict[str, Any]] = []
        self._reconnecting: asyncio.TimerHandle | None = None
        self._resuming: asyncio.Task[None] | None = None
        self._handlers: dict[RoomEvent, Callable[..., None]] = {
            "data_received": self._on_data,
            "disconnected": self._on_disconnected,
            "participant_connected": self._on_participant_connected,
            "participant_disconnected": self._on_participant_disconnected,
            "reconnecting": self._on_reconnecting,
            "reconnected": self._on_reconnected,
        }
        for event, handler in self._handlers.items():
            self._room.on(event, handler)

    @property
    def identity(self) -> str:
        """The bridge's identity in the room (after connect)."""
        return self._room.local_participant.identity

    # Connection.

    async def connect(self) -> None:
        """Join the room and wait for LiveAvatar's participants; leaves the room on failure."""
        try:
            await self._join()
            await self._wait_for_participants()
        except BaseException:
            await self.close()
            raise
        self._joined = True
        log.info("joined the LiveKit room", extra={**self._extra, "identity": self.identity})

    async def _join(self) -> None:
        # The bridge never plays the avatar's media: not subscribing saves its bandwidth.
        # Two peer connections (LiveKit's v0 signalling) rather than the SDK's default single
        # one: the single one's join offer carries three recvonly audio and three video
        # sections, and libwebrtc gives each video one two threads and its sockets. Measured
        # (FULL benchmark, 25 sessions): 8.4 -> 2.4 threads and 77 -> 11 fds per session.
        options = rtc.RoomOptions(
            auto_subscribe=False,
            single_peer_connection=False,
            connect_timeout=min(SIGNAL_ATTEMPT_TIMEOUT_S, self._connect_timeout_s),
        )
        joining = asyncio.ensure_future(self._room.connect(self._url, self._token, options))
        self._joining = joining
        try:
            # Shielded: cancelling the SDK's connect mid-way would orphan a half-joined room.
            await asyncio.wait_for(asyncio.shield(joining), self._connect_timeout_s)
        except TimeoutError:
            self._abandon_join(joining)
            raise UpstreamUnavailable(
                f"could not join the session's LiveKit room within {self._connect_timeout_s:g} s"
            ) from None
        except asyncio.CancelledError:
            self._abandon_join(joining)
            raise
        except rtc.ConnectError as exc:
            raise UpstreamUnavailable(f"could not join the session's LiveKit room: {exc}") from exc
        ffi_events.quiet_room(self._room)

    def _abandon_join(self, joining: asyncio.Future[None]) -> None:
        """Nobody waits for this join any more: when it finishes, leave the room at once."""
        if self._join_abandoned:
            return
        self._join_abandoned = True
        if not joining.done():
            _LATE_LEAVES.add(joining)
            joining.add_done_callback(self._leave_late_join)
        else:
            self._leave_late_join(joining)

    def _leave_late_join(self, joining: asyncio.Future[None]) -> None:
        _LATE_LEAVES.discard(joining)
        if joining.cancelled() or joining.exception() is not None:
            return  # Nothing joined, nothing to leave.
        task = asyncio.ensure_future(self._leave_quietly())
        _LATE_LEAVES.add(task)
        task.add_done_callback(_LATE_LEAVES.discard)

    async def _leave_quietly(self) -> None:
        try:
            await asyncio.wait_for(self._room.disconnect(), DISCONNECT_TIMEOUT_S)
        except Exception as exc:
            log.warning(
                "leaving a late-joined room failed", extra={**self._extra, "error": str(exc)}
            )

    async def _wait_for_participants(self) -> None:
        required = (AVATAR_IDENTITY, agent_identity(self._session_id))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._ready_timeout_s
        while missing := [i for i in required if i not in self._room.remote_participants]:
            if self._stopped is not None:
                raise self._stopped
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise UpstreamTimeout(
                    f"LiveAvatar's participant {' and '.join(missing)} did not join the session's "
                    f"LiveKit room within {self._ready_timeout_s:g} s"
                )
            self._presence.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._presence.wait(), remaining)

    # Data messages.

    async def send(self, message: dict[str, Any]) -> None:
        """Publish one command on `agent-control` (keep-alive: the REST call instead)."""
        if message.get("event_type") == KEEP_ALIVE_EVENT:
            self._start_keep_alive()
            return
        if self._stopped is not None:
            raise self._stopped
        if self._reconnecting is not None or self._resuming is not None:
            self._hold(message)
            return
        if message.get("event_type") == "user.stop_push_to_talk" and self._frames:
            self._enqueue(message, 0)  # After the window's queued audio (see the docstring).
            return
        await self._publish_data(message)

    async def _publish_data(self, message: dict[str, Any]) -> None:
        payload = json.dumps(message, separators=(",", ":")).encode()
        try:
            await self._room.local_participant.publish_data(
                payload, reliable=True, topic=CONTROL_TOPIC
            )
        except Exception as exc:
            if self._stopped is not None:
                raise self._stopped from exc
            raise UpstreamUnavailable(
                f"could not publish {message.get('event_type')} to the LiveKit room: {exc}"
            ) from exc

    async def receive(self) -> dict[str, Any]:
        """The next LiveAvatar event; raises UpstreamClosed once the session or room ended."""
        item = await self._events.get()
        if isinstance(item, _Closed):
            self._events.put_nowait(item)  # Every later call raises too.
            raise item.error
        return item

    def _on_data(self, packet: rtc.DataPacket) -> None:
        if packet.topic != RESPONSE_TOPIC or self._stopped is not None:
            return
        try:
            event = json.loads(packet.data)
        except ValueError:
            log.info("ignored a non-JSON agent-response message", extra=self._extra)
            return
        if not isinstance(event, dict) or not isinstance(event.get("event_type"), str):
            return
        event[SENDER_KEY] = packet.participant.identity if packet.participant else ""
        self._events.put_nowait(event)
        if event["event_type"] == "session.stopped":
            reason = str(event.get("end_reason") or event.get("stop_reason") or "")
            self._end(
                UpstreamClosed(
                    f"LiveAvatar stopped the session ({reason or 'no reason given'})",
                    close_reason=reason,
                )
            )

    def _on_disconnected(self, reason: Any) -> None:
        if self._closed:
            return
        try:
            name = rtc.DisconnectReason.Name(reason)
        except (TypeError, ValueError):
            name = str(reason)
        self._end(UpstreamClosed(f"the LiveKit room disconnected ({name})"))

    def _end(self, error: UpstreamClosed) -> None:
        if self._stopped is None:
            self._cancel_timers()
            self._stopped = error
            self._events.put_nowait(_Closed(error))
            self._presence.set()
            self._has_room.set()  # Release a publish_audio() waiting for room: it raises.
            log.info("LiveKit leg ended", extra={**self._extra, "why": error.message})

    def _start_keep_alive(self) -> None:
        if self._keep_alive_task is not None and not self._keep_alive_task.done():
            return  # One already in flight does the job.
        self._keep_alive_task = asyncio.create_task(self._run_keep_alive())

    async def _run_keep_alive(self) -> None:
        try:
            await self._keep_alive()
        except UpstreamError as exc:
            log.warning("REST keep-alive failed", extra={**self._extra, "error": exc.message})

    # Liveness: participants leaving, the room reconnecting (see the module docstring).

    def _warn(self, code: str, message: str) -> None:
        self._events.put_nowait({"event_type": WARNING_EVENT, "code": code, "message": message})

    def _on_participant_connected(self, participant: rtc.RemoteParticipant) -> None:
        self._presence.set()
        timer = self._absent.pop(participant.identity, None)
        if timer is None or self._stopped is not None:
            return
        timer.cancel()
        role = _role(participant.identity)
        log.info("LiveAvatar participant rejoined", extra={**self._extra, "who": role})
        self._warn(
            f"{role.upper()}_REJOINED",
            f"LiveAvatar's {role} participant rejoined the room; the conversation goes on",
        )

    def _on_participant_disconnected(self, participant: rtc.RemoteParticipant) -> None:
        if self._reconnecting is None:  # While reconnecting the SDK re-syncs everybody.
            self._participant_left(participant.identity)

    def _participant_left(self, identity: str) -> None:
        required = (AVATAR_IDENTITY, agent_identity(self._session_id))
        if identity not in required or not self._joined or self._stopped is not None:
            return
        if self._closed or identity in self._absent:
            return
        role = _role(identity)
        log.info("LiveAvatar participant left the room", extra={**self._extra, "who": role})
        self._warn(
            f"{role.upper()}_LEFT",
            f"LiveAvatar's {role} participant ({identity}) left the room; waiting up to "
            f"{self._grace_s:g} s for it to rejoin before ending the conversation",
        )
        loop = asyncio.get_running_loop()
        self._absent[identity] = loop.call_later(self._grace_s, self._participant_lost, identity)

    def _participant_lost(self, identity: str) -> None:
        if identity in self._room.remote_participants:
            self._absent.pop(identity, None)
            return
        self._end(
            UpstreamClosed(
                f"LiveAvatar's {_role(identity)} participant ({identity}) left the LiveKit room "
                f"and did not rejoin within {self._grace_s:g} s"
            )
        )

    def _on_reconnecting(self) -> None:
        if self._closed or self._stopped is not None or self._reconnecting is not None:
            return
        log.info("LiveKit room reconnecting", extra=self._extra)
        self._warn(
            "ROOM_RECONNECTING",
            "the LiveKit room connection dropped and is reconnecting; commands are held until "
            f"it is back (at most {self._reconnect_timeout_s:g} s)",
        )
        loop = asyncio.get_running_loop()
        self._reconnecting = loop.call_later(self._reconnect_timeout_s, self._reconnect_lost)

    def _reconnect_lost(self) -> None:
        self._end(
            UpstreamClosed(
                "the LiveKit room connection dropped and did not come back within "
                f"{self._reconnect_timeout_s:g} s"
            )
        )

    def _on_reconnected(self) -> None:
        if self._reconnecting is None:
            return
        self._reconnecting.cancel()
        self._reconnecting = None
        log.info("LiveKit room reconnected", extra={**self._extra, "held": len(self._held)})
        self._warn(
            "ROOM_RECONNECTED",
            f"the LiveKit room is back; sending {len(self._held)} held command(s)",
        )
        for identity in (AVATAR_IDENTITY, agent_identity(self._session_id)):
            if identity not in self._room.remote_participants:
                self._participant_left(identity)  # Gone while the room was down.
        if self._resuming is None:
            self._resuming = asyncio.create_task(self._send_held(), name="livekit-resume")

    def _hold(self, message: dict[str, Any]) -> None:
        if len(self._held) >= MAX_HELD_COMMANDS:
            raise UpstreamUnavailable(
                f"the LiveKit room is reconnecting and {MAX_HELD_COMMANDS} commands are already "
                f"held: {message.get('event_type')} was not sent"
            )
        self._held.append(message)

    async def _send_held(self) -> None:
        """Send what was held, in order; sends that arrive meanwhile queue behind."""
        try:
            while self._held and self._reconnecting is None and self._stopped is None:
                message = self._held.pop(0)
                if message.get("event_type") == "user.stop_push_to_talk" and self._frames:
                    self._enqueue(message, 0)
                else:
                    await self._publish_data(message)
        except UpstreamError as exc:
            self._end(UpstreamClosed(f"sending held commands after the reconnect failed: {exc}"))
        finally:
            self._resuming = None

    def _cancel_timers(self) -> None:
        for timer in self._absent.values():
            timer.cancel()
        self._absent.clear()
        if self._reconnecting is not None:
            self._reconnecting.cancel()
            self._reconnecting = None

    # Audio.

    async def publish_audio(self, pcm: bytes) -> None:
        """Queue 24 kHz mono PCM16 for the microphone track; waits while the queue is full."""
        if self._publisher_error is not None:
            raise self._publisher_error
        if self._stopped is not None:
            raise self._stopped
        await self._has_room.wait()
        if self._stopped is not None:
            raise self._stopped
        for start in range(0, len(pcm), FRAME_BYTES):
            frame = pcm[start : start + FRAME_BYTES]
            self._enqueue(frame, len(frame))
        self._start_publisher()

    def _start_publisher(self) -> None:
        if self._publisher is None:
            self._publisher = asyncio.create_task(self._publish_frames(), name="livekit-audio")

    async def prepare_audio(self) -> None:
        """Publish the microphone track now and wait (bounded) until it carries packets.

        `publish_track` returns before WebRTC has negotiated the new sender, and frames
        captured meanwhile are lost: measured, the first 150-250 ms of speech. Publishing up
        front, before the conversation reports CONNECTED, keeps the user's first words.
        """
        if self._source is None:
            try:
                await self._start_track()
            except Exception as exc:
                raise UpstreamUnavailable(
                    f"could not publish the microphone track to the LiveKit room: {exc}"
                ) from exc
        self._start_publisher()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + AUDIO_READY_TIMEOUT_S
        while not await self._track_sending():
            if loop.time() >= deadline:
                log.info("microphone track not sending yet; going on", extra=self._extra)
                return
            await asyncio.sleep(AUDIO_READY_POLL_S)

    async def _track_sending(self) -> bool:
        """Whether the microphone's RTP sender has sent a packet (WebRTC stats)."""
        if self._track is None:
            return False
        try:
            stats = await self._track.get_stats()
        except Exception:
            return False
        return any(
            s.WhichOneof("stats") == "outbound_rtp" and s.outbound_rtp.sent.packets_sent > 0
            for s in stats
        )

    def clear_audio(self) -> None:
        """Drop audio not yet published (queued commands are kept)."""
        self._frames = deque(f for f in self._frames if isinstance(f, dict))
        self._set_queued(0)
        if self._source is not None:
            self._source.clear_queue()
        self._play_end = 0.0

    def _enqueue(self, item: bytes | dict[str, Any], size: int) -> None:
        self._frames.append(item)
        self._set_queued(self._queued_bytes + size)
        self._has_work.set()

    def _set_queued(self, size: int) -> None:
        self._queued_bytes = size
        if size < MAX_QUEUED_MS * FRAME_BYTES // FRAME_MS:
            self._has_room.set()
        else:
            self._has_room.clear()

    async def _publish_frames(self) -> None:
        try:
            while True:
                if not self._frames:
                    self._has_work.clear()
                    await self._has_work.wait()
                    continue
                if isinstance(self._frames[0], dict):
                    command = self._frames.popleft()
                    assert isinstance(command, dict)
                    await self._wait_for_playout()
                    await self._publish_data(command)
                    continue
                pcm = self._take_pcm()
                self._set_queued(self._queued_bytes - len(pcm))
                source = self._source or await self._start_track()
                await self._capture(source, pcm)
        except asyncio.CancelledError:
            raise
        except UpstreamError as exc:
            self._publisher_error = exc
        except Exception as exc:
            log.warning("audio publishing failed", extra={**self._extra, "error": str(exc)})
            self._publisher_error = UpstreamUnavailable(
                f"could not publish the microphone track to the LiveKit room: {exc}"
            )
        self._has_room.set()  # Never leave publish_audio() waiting on a dead publisher.

    def _take_pcm(self) -> bytes:
        """Consecutive queued frames, up to CAPTURE_MS: one native call for all of them."""
        parts: list[bytes] = []
        size = 0
        while self._frames and size < CAPTURE_BYTES:
            head = self._frames[0]
            if isinstance(head, dict) or (parts and size + len(head) > CAPTURE_BYTES):
                break
            self._frames.popleft()
            parts.append(head)
            size += len(head)
        return b"".join(parts)

    async def _capture(self, source: rtc.AudioSource, pcm: bytes) -> None:
        frame = rtc.AudioFrame(pcm, SAMPLE_RATE_HZ, 1, len(pcm) // 2)
        loop = asyncio.get_running_loop()
        # Playout clock: the native source plays what it holds in real time.
        self._play_end = max(self._play_end, loop.time()) + len(pcm) / BYTES_PER_S
        await ffi_events.capture(source, frame)

    async def _wait_for_playout(self) -> None:
        if self._source is not None:
            await asyncio.sleep(max(0.0, self._play_end - asyncio.get_running_loop().time()))

    async def _start_track(self) -> rtc.AudioSource:
        source = rtc.AudioSource(SAMPLE_RATE_HZ, 1, queue_size_ms=SOURCE_QUEUE_MS)
        track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        await self._room.local_participant.publish_track(track, options)
        self._source, self._track = source, track
        log.info("published the microphone track", extra=self._extra)
        return source

    # Shutdown.

    async def close(self) -> None:
        """Stop publishing and leave the room (idempotent, never raises)."""
        if self._closed:
            return
        self._closed = True
        self._cancel_timers()
        if self._joining is not None and not self._joining.done():
            self._abandon_join(self._joining)  # Cancelled mid-join: leave once it lands.
        for task in (self._publisher, self._keep_alive_task, self._resuming):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        try:
            await asyncio.wait_for(self._room.disconnect(), DISCONNECT_TIMEOUT_S)
        except Exception as exc:  # Leaving is best effort; LiveKit drops us on its own later.
            log.warning("leaving the LiveKit room failed", extra={**self._extra, "error": str(exc)})
        if self._source is not None:
            with contextlib.suppress(Exception):
                await self._source.aclose()
        self._end(UpstreamClosed("the bridge left the LiveKit room"))
        self._detach()

    def _detach(self) -> None:
        """Unhook from the SDK's Room: without the cycle room → handler → transport → room,
        reference counting frees the Room and its native resources (sockets) at once."""
        for event, handler in self._handlers.items():
            with contextlib.suppress(Exception):
                self._room.off(event, handler)
        self._handlers = {}


def _role(identity: str) -> str:
    """`avatar` for heygen, `agent` for liveavatar-agent-<id>."""
    return "avatar" if identity == AVATAR_IDENTITY else "agent"
