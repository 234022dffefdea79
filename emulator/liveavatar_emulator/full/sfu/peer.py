"""A WebRTC participant: its signalling WebSocket and its aiortc peer connection."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import Any

from aiohttp import WSMsgType, web
from aiortc import RTCConfiguration, RTCIceCandidate, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from livekit.protocol import models, rtc

from ..config import FullModeConfig
from ..vad import VoiceActivityDetector
from .audio import monitor_audio_track
from .ids import new_sid
from .join import JoinParams
from .participant import Participant
from .records import AudioTrackRecord
from .room import Room

log = logging.getLogger(__name__)

RELIABLE = "_reliable"
LOSSY = "_lossy"
SERVER_VERSION = "1.9.0"
SERVER_PROTOCOL = 16


class RtcParticipant(Participant):
    """A real client connected over signalling WebSocket + one aiortc peer connection.

    The client is always the offerer (v1 single peer connection, or the v0 publisher
    connection with ``subscriber_primary=false``); the server never sends offers, so media
    and data flow only on that connection. Data channels are the ones the client opened.
    """

    def __init__(
        self,
        ws: web.WebSocketResponse,
        room: Room,
        identity: str,
        params: JoinParams,
        config: FullModeConfig,
        *,
        name: str = "",
        kind: models.ParticipantInfo.Kind = models.ParticipantInfo.STANDARD,
    ) -> None:
        super().__init__(
            identity,
            name=name,
            kind=kind,
            metadata=params.metadata,
            attributes=params.attributes,
        )
        self.ws = ws
        self.room = room
        self.params = params
        self.config = config
        self.pc: Any = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channels: dict[str, Any] = {}
        self.pending: dict[str, list[bytes]] = {RELIABLE: [], LOSSY: []}
        self._outbox: asyncio.Queue[rtc.SignalResponse | None] = asyncio.Queue()
        self._early_candidates: list[Any] = []
        self._offer_lock = asyncio.Lock()
        self._cid_to_sid: dict[str, str] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._background: set[asyncio.Task[None]] = set()
        self._writer_task: asyncio.Task[None] | None = None
        self._closed = asyncio.Event()
        self._media_from: set[str] = set()
        # v0 clients receive media on a second connection the server offers (subscriber).
        self.sub_pc: Any = None
        self._sub_lock = asyncio.Lock()
        self._sub_answered = asyncio.Event()
        self._sub_offer_id = 0
        self._sub_early_candidates: list[Any] = []
        self._slots_requested: set[str] = set()
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)

    # -- outgoing -------------------------------------------------------------------------

    def send_signal(self, response: rtc.SignalResponse) -> None:
        """Queue a SignalResponse for the writer task."""
        if not self._closed.is_set():
            self._outbox.put_nowait(response)

    async def _writer(self) -> None:
        while True:
            msg = await self._outbox.get()
            if msg is None or self.ws.closed:
                return
            try:
                await self.ws.send_bytes(msg.SerializeToString())
            except (ConnectionError, RuntimeError):
                return

    def deliver(self, packet: models.DataPacket, reliable: bool) -> None:
        """Send a DataPacket on the client's channel, or queue it until that channel is open."""
        label = RELIABLE if reliable else LOSSY
        data = packet.SerializeToString()
        channel = self.channels.get(label)
        if channel is not None and channel.readyState == "open":
            channel.send(data)
        else:
            self.pending[label].append(data)

    async def drain(self, wait_s: float) -> None:
        """Wait (bounded) until queued and buffered data has been handed to the transport."""
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            busy = any(self.pending.values()) or any(
                ch.bufferedAmount > 0 for ch in self.channels.values()
            )
            if not busy:
                return
            await asyncio.sleep(0.02)

    # -- lifecycle ------------------------------------------------------------------------

    def join_response(self, others: list[Participant]) -> rtc.SignalResponse:
        """The first message: JoinResponse with the room state."""
        return rtc.SignalResponse(
            join=rtc.JoinResponse(
                room=self.room.info(),
                participant=self.info(),
                other_participants=[p.info() for p in others],
                server_version=SERVER_VERSION,
                server_region="emulator",
                server_info=models.ServerInfo(
                    edition=models.ServerInfo.Standard,
                    version=SERVER_VERSION,
                    protocol=SERVER_PROTOCOL,
                    region="emulator",
                    node_id="liveavatar-emulator",
                ),
                subscriber_primary=False,
                ping_interval=self.config.ping_interval_s,
                ping_timeout=self.config.ping_timeout_s,
            )
        )

    async def run(self) -> None:
        """Serve this participant until its WebSocket closes or it leaves."""
        self._writer_task = asyncio.create_task(self._writer())
        self.send_signal(self.join_response(self.room.others(self)))
        self.room.add(self)
        if self.params.protocol_version == "v0" and self._media_publishers():
            self.media_changed()
        log.info(
            "room %s: %s joined (%s, sdk=%s %s)",
            self.room.name,
            self.identity,
            self.params.protocol_version,
            self.params.sdk,
            self.params.client_version,
        )
        try:
            if self.params.publisher_offer is not None:
                await self._answer(self.params.publisher_offer)
            async for msg in self.ws:
                if msg.type != WSMsgType.BINARY:
                    continue
                req = rtc.SignalRequest()
                req.ParseFromString(msg.data)
                if not await self._handle(req):
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("room %s: signalling for %s failed", self.room.name, self.identity)
        finally:
            await self.close()
            await self._finish_writer()
            with contextlib.suppress(Exception):
                await self.ws.close()
            log.info("room %s: %s left", self.room.name, self.identity)

    async def kick(self, reason: models.DisconnectReason) -> None:
        """Server-side removal: send ``leave`` and close the connection."""
        self.send_signal(
            rtc.SignalResponse(
                leave=rtc.LeaveRequest(
                    can_reconnect=False, reason=reason, action=rtc.LeaveRequest.DISCONNECT
                )
            )
        )
        await self._finish_writer()
        await self.close()
        with contextlib.suppress(Exception):
            await self.ws.close()

    def replaced(self) -> None:
        """Another connection took this identity: disconnect this one."""
        task = asyncio.create_task(self.kick(models.DisconnectReason.DUPLICATE_IDENTITY))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _finish_writer(self) -> None:
        """Let the writer send what is queued (bounded), then stop it."""
        self._outbox.put_nowait(None)
        if self._writer_task is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(self._writer_task), 2.0)

    async def close(self) -> None:
        """Leave the room and release the peer connection (idempotent)."""
        if self._closed.is_set():
            return
        self._closed.set()
        self.room.remove(self)
        me = asyncio.current_task()  # A kick runs as a background task: never wait on itself.
        background = [t for t in (*self._tasks, *self._background) if t is not me]
        for task in background:
            task.cancel()
        # An offer or answer still in progress would gather ICE (open UDP sockets) after the
        # peer connection closed, and nothing would close those: let them unwind first.
        if background:
            await asyncio.wait(background, timeout=5.0)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5.0), self._offer_lock:
                pass
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.pc.close(), 5.0)
        if self.sub_pc is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.sub_pc.close(), 5.0)

    # -- incoming -------------------------------------------------------------------------

    async def _handle(self, req: rtc.SignalRequest) -> bool:
        which = req.WhichOneof("message")
        if which == "offer":
            await self._answer(req.offer)
        elif which == "trickle":
            await self._trickle(req.trickle)
        elif which == "add_track":
            self._add_track(req.add_track)
        elif which == "mute":
            track = next((t for t in self.tracks.values() if t.sid == req.mute.sid), None)
            if track is not None:
                track.muted = req.mute.muted
                self.room.broadcast_update(self)
        elif which == "ping_req":
            now = int(time.time() * 1000)
            self.send_signal(
                rtc.SignalResponse(
                    pong_resp=rtc.Pong(last_ping_timestamp=req.ping_req.timestamp, timestamp=now)
                )
            )
        elif which == "ping":
            self.send_signal(rtc.SignalResponse(pong=int(time.time() * 1000)))
        elif which == "update_metadata":
            self.metadata = req.update_metadata.metadata or self.metadata
            self.name = req.update_metadata.name or self.name
            self.attributes.update(req.update_metadata.attributes)
            self.room.broadcast_update(self)
        elif which == "answer":
            await self._on_subscriber_answer(req.answer)
        elif which == "leave":
            return False
        return True

    async def _answer(self, offer: rtc.SessionDescription) -> None:
        async with self._offer_lock:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
            self._subscribe_media()
            early, self._early_candidates = self._early_candidates, []
            for cand in early:
                await self.pc.addIceCandidate(cand)
            answer = await self.pc.createAnswer()
            await self.pc.setLocalDescription(answer)
            local = self.pc.localDescription
            self.send_signal(
                rtc.SignalResponse(
                    answer=rtc.SessionDescription(
                        type="answer", sdp=local.sdp, id=offer.id, mid_to_track_id=self._mids()
                    )
                )
            )

    # -- media the server sends (the avatar) ----------------------------------------------

    def _media_publishers(self) -> list[Participant]:
        return [p for p in self.room.others(self) if getattr(p, "media", None) is not None]

    def media_changed(self) -> None:
        """A participant with media is in the room: get its tracks to this client.

        v1 (one connection, the client always offers): ask for receive slots; the client's
        next offer gets the tracks. v0: offer them on the subscriber connection.
        """
        if self._closed.is_set():
            return
        if self.params.protocol_version == "v1":
            self.request_media_sections(audios=1, videos=1)
            return
        task = asyncio.create_task(self._offer_subscriber())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _offer_subscriber(self) -> None:
        async with self._sub_lock:
            if self._closed.is_set() or not self.params.auto_subscribe:
                return
            if self.sub_pc is None:
                self.sub_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
            added = []
            for other in self._media_publishers():
                if other.sid in self._media_from:
                    continue
                for track in other.media.new_tracks():  # type: ignore[attr-defined]
                    transceiver = self.sub_pc.addTransceiver(track, direction="sendonly")
                    transceiver.sender._stream_id = f"{other.sid}|{track.sid}"
                    transceiver.sender._track_id = track.sid
                self._media_from.add(other.sid)
                added.append(other.identity)
            if not added:
                return
            offer = await self.sub_pc.createOffer()
            await self.sub_pc.setLocalDescription(offer)
            self._sub_offer_id += 1
            self._sub_answered.clear()
            local = self.sub_pc.localDescription
            self.send_signal(
                rtc.SignalResponse(
                    offer=rtc.SessionDescription(
                        type="offer",
                        sdp=local.sdp,
                        id=self._sub_offer_id,
                        mid_to_track_id=self._mids(self.sub_pc),
                    )
                )
            )
            log.info("room %s: offered %s's media to %s", self.room.name, added, self.identity)
            # No second offer while this one is open (the client answers in milliseconds).
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sub_answered.wait(), 15.0)

    async def _on_subscriber_answer(self, answer: rtc.SessionDescription) -> None:
        if self.sub_pc is None or self.sub_pc.signalingState != "have-local-offer":
            return
        await self.sub_pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
        early, self._sub_early_candidates = self._sub_early_candidates, []
        for cand in early:
            await self.sub_pc.addIceCandidate(cand)
        self._sub_answered.set()

    async def _subscriber_trickle(self, trickle: rtc.TrickleRequest) -> None:
        cand = _trickled_candidate(trickle)
        if cand is None or self.sub_pc is None:
            return
        if self.sub_pc.remoteDescription is None:
            self._sub_early_candidates.append(cand)
        else:
            await self.sub_pc.addIceCandidate(cand)

    def request_media_sections(self, audios: int, videos: int) -> None:
        """Ask the client for more receive slots; it answers with a new offer (v1 clients).

        This is how a participant that starts publishing after the client joined (the avatar
        joining a bring-your-own room) reaches it: the server never offers itself.
        """
        self.send_signal(
            rtc.SignalResponse(
                media_sections_requirement=rtc.MediaSectionsRequirement(
                    num_audios=audios, num_videos=videos
                )
            )
        )

    def _mids(self, pc: Any = None) -> dict[str, str]:
        """mid -> track sid of the media we send (newer clients resolve tracks by mid)."""
        return {
            t.mid: t.sender.track.sid
            for t in (pc or self.pc).getTransceivers()
            if t.mid is not None and getattr(t.sender.track, "sid", None)
        }

    def _subscribe_media(self) -> None:
        """Send media-publishing participants' tracks on the client's free receive slots.

        The server never offers, so media rides on the client's own offer: LiveKit clients
        offer recvonly audio/video sections up front. The msid ``<participant sid>|<track
        sid>`` is how they map a remote track to its publication.
        """
        if not self.params.auto_subscribe or self.params.protocol_version != "v1":
            return  # v0 clients get media on the subscriber connection instead
        for other in self.room.others(self):
            media = getattr(other, "media", None)
            if media is None or other.sid in self._media_from:
                continue
            free = {
                kind: [
                    t
                    for t in self.pc.getTransceivers()
                    if t.kind == kind
                    and t.sender.track is None
                    and not t.stopped
                    # only sections the client offered to receive on (stored from our side)
                    and getattr(t, "_offerDirection", None) in ("sendonly", "sendrecv")
                ]
                for kind in ("audio", "video")
            }
            if not free["audio"] or not free["video"]:
                # Clients that offer no receive slots up front add them on request.
                if other.sid not in self._slots_requested:
                    self._slots_requested.add(other.sid)
                    log.info("room %s: asking %s for receive slots", self.room.name, self.identity)
                    self.request_media_sections(audios=1, videos=1)
                continue
            tracks = media.new_tracks()
            for track in tracks:
                sender = self.pc.addTrack(track)
                sender._stream_id = f"{other.sid}|{track.sid}"
                sender._track_id = track.sid
            self._media_from.add(other.sid)
            log.info("room %s: %s subscribed to %s", self.room.name, self.identity, other.identity)

    async def _trickle(self, trickle: rtc.TrickleRequest) -> None:
        if not trickle.candidateInit:
            return
        if trickle.target == rtc.SUBSCRIBER:
            await self._subscriber_trickle(trickle)
            return
        if trickle.target != rtc.PUBLISHER:
            return
        cand = _trickled_candidate(trickle)
        if cand is None:
            return
        if self.pc.remoteDescription is None:
            self._early_candidates.append(cand)
        else:
            await self.pc.addIceCandidate(cand)

    def _add_track(self, add: rtc.AddTrackRequest) -> None:
        sid = new_sid("TR_")
        is_audio = add.type == models.AUDIO
        info = models.TrackInfo(
            sid=sid,
            type=add.type,
            name=add.name,
            muted=add.muted,
            source=add.source,
            width=add.width,
            height=add.height,
            disable_dtx=add.disable_dtx,
            stereo=add.stereo,
            disable_red=add.disable_red,
            mime_type="audio/opus" if is_audio else "",
            stream=add.stream,
            audio_features=list(add.audio_features),
        )
        self.tracks[sid] = info
        self._cid_to_sid[add.cid] = sid
        self.send_signal(
            rtc.SignalResponse(track_published=rtc.TrackPublishedResponse(cid=add.cid, track=info))
        )
        self.room.broadcast_update(self)
        log.info(
            "room %s: %s publishes %s track %s (%s)",
            self.room.name,
            self.identity,
            models.TrackType.Name(add.type),
            sid,
            add.name,
        )

    def _on_datachannel(self, channel: Any) -> None:
        label = channel.label
        if label not in (RELIABLE, LOSSY):
            return
        self.channels[label] = channel
        reliable = label == RELIABLE

        @channel.on("message")  # type: ignore[untyped-decorator]
        def on_message(message: Any) -> None:
            if not isinstance(message, bytes):
                return
            packet = models.DataPacket()
            try:
                packet.ParseFromString(message)
            except Exception:
                log.warning(
                    "room %s: undecodable data packet from %s", self.room.name, self.identity
                )
                return
            self.room.route(self, packet, reliable)

        @channel.on("open")  # type: ignore[untyped-decorator]
        def on_open() -> None:
            self._flush(label)

        if channel.readyState == "open":
            self._flush(label)

    def _flush(self, label: str) -> None:
        channel = self.channels.get(label)
        if channel is None or channel.readyState != "open":
            return
        queued, self.pending[label] = self.pending[label], []
        for data in queued:
            channel.send(data)

    def _on_track(self, track: Any) -> None:
        if track.kind != "audio":
            return
        sid = self._cid_to_sid.get(track.id)
        if sid is None:
            known = {r.track_sid for r in self.room.recorder.audio}
            sid = next(
                (s for s, t in self.tracks.items() if t.type == models.AUDIO and s not in known),
                new_sid("TR_"),
            )
        cfg = self.config
        record = AudioTrackRecord(
            participant=self.identity,
            track_sid=sid,
            cid=str(track.id),
            vad=VoiceActivityDetector(
                sample_rate=48000,
                frame_ms=cfg.vad_frame_ms,
                threshold_dbfs=cfg.vad_threshold_dbfs,
                onset_ms=cfg.vad_onset_ms,
                hangover_ms=cfg.vad_hangover_ms,
            ),
        )
        self.room.recorder.audio.append(record)
        task = asyncio.create_task(monitor_audio_track(track, record, self.room, cfg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _trickled_candidate(trickle: rtc.TrickleRequest) -> RTCIceCandidate | None:
    """The ICE candidate a trickle message carries (None for the end-of-candidates marker)."""
    init = json.loads(trickle.candidateInit)
    text = init.get("candidate", "")
    if not text:
        return None
    cand = candidate_from_sdp(text.removeprefix("candidate:"))
    cand.sdpMid = init.get("sdpMid")
    cand.sdpMLineIndex = init.get("sdpMLineIndex")
    return cand
