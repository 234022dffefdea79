"""What a viewer of the avatar's LiveKit room hears and sees matches what the avatar plays.

The viewer is the real livekit SDK. LITE: the client's PCM, at the playback model's timing,
cut at an interrupt. FULL: a voice between avatar.speak_started and avatar.speak_ended.

Stated tolerances (network + jitter buffer inside the namespace, never a speed claim):
the sound reaches the viewer between 0 and 1.0 s after the emulator announced speak_started,
and stops within 1.0 s after speak_ended / interrupt (arrival times in a loaded test process).
What was heard is compared by content: envelope correlation, and after an interrupt the heard
sound lasts as long as the emulator says it played (+/- 0.3 s).
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid

import httpx
import numpy as np
import pytest
from emulator.helpers import WAIT, create, fast, full_body, inspect, lite_body, lite_ws, start

from liveavatar_emulator import Emulator
from liveavatar_emulator.full import FullModeConfig, LiveKitFullBackend

from .conftest import RATE, WAIT_S, Viewer

pytestmark = pytest.mark.full

ONSET_TOLERANCE_S = 1.0
STOP_TOLERANCE_S = 1.0
MIN_CORRELATION = 0.8
SMOOTH_BINS = 5
PIECE_BINS = 50
DRIFT_S = 0.15
LOUD = 0.02  # RMS above this is "sound"; the test signal is ~0.2, silence is 0


def pattern_signal(seconds: float, seed: int = 7) -> np.ndarray:
    """A 330 Hz tone switched on/off in random 100 ms slots (a distinctive envelope)."""
    rng = np.random.default_rng(seed)
    slots = rng.integers(0, 2, int(seconds * 10))
    slots[0] = 1
    t = np.arange(int(seconds * RATE)) / RATE
    gate = np.repeat(slots, RATE // 10)[: t.size]
    return (0.3 * 32767 * gate * np.sin(2 * np.pi * 330 * t)).astype(np.int16)


def envelope(samples: np.ndarray, window: int = RATE // 100) -> np.ndarray:
    """RMS per 10 ms window."""
    usable = samples[: samples.size - samples.size % window].astype(np.float64) / 32768.0
    return np.sqrt(np.mean(usable.reshape(-1, window) ** 2, axis=1))


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return -1.0
    return float(np.mean((a - a.mean()) / a.std() * (b - b.mean()) / b.std()))


def best_correlation(sent: np.ndarray, heard: np.ndarray) -> float:
    """Envelope cross-correlation of what was sent and what was heard (content, not clock).

    Envelopes are 10 ms RMS smoothed over 50 ms. The heard audio (frames in the order they
    arrived) is padded with silence and the sent envelope slid over it; then each 0.5 s piece
    may move by up to +/-``DRIFT_S`` around that alignment, because a receiver's jitter
    buffer stretches or drops audio when packets arrive in bursts (the 2 shared cores are
    often overloaded). The result is the mean of the pieces' correlations. Measured on
    recordings: 0.92-0.96 for the streamed pattern, 0.54-0.65 for a different pattern of the
    same density (hence the 0.8 threshold).
    """
    smooth = np.ones(SMOOTH_BINS) / SMOOTH_BINS
    a = np.convolve(envelope(sent), smooth, "same")
    drift = int(DRIFT_S * 100)
    pad = np.zeros(a.size + drift)
    b = np.concatenate([pad, np.convolve(envelope(heard), smooth, "same"), pad])
    scores = [_corr(a, b[shift : shift + a.size]) for shift in range(b.size - a.size + 1)]
    base = int(np.argmax(scores))
    pieces = []
    for first in range(0, a.size - PIECE_BINS + 1, PIECE_BINS):
        part = a[first : first + PIECE_BINS]
        if part.std() == 0:
            continue
        at = base + first
        pieces.append(
            max(
                _corr(part, b[at + d : at + d + PIECE_BINS])
                for d in range(-drift, drift + 1)
                if 0 <= at + d <= b.size - PIECE_BINS
            )
        )
    return float(np.mean(pieces))


def chunks(signal: np.ndarray, ms: int = 200) -> list[str]:
    step = RATE * ms // 1000
    raw = signal.astype("<i2")
    return [
        base64.b64encode(raw[i : i + step].tobytes()).decode() for i in range(0, raw.size, step)
    ]


async def inspect_played(emu: Emulator, sid: str) -> int:
    """Bytes the emulator's playback model says were played."""
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        played: int = (await inspect(http, sid, "/played"))["played_bytes"]
    return played


async def started_lite(http: httpx.AsyncClient) -> tuple[str, dict[str, object]]:
    sid, token = await create(http)
    return sid, await start(http, token)


async def test_lite_viewer_hears_exactly_what_the_client_streamed(
    emu: Emulator, viewer: Viewer
) -> None:
    signal = pattern_signal(3.0)
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, data = await started_lite(http)
        await viewer.connect(str(data["livekit_url"]), str(data["livekit_client_token"]))
        loop = asyncio.get_running_loop()
        async with lite_ws(str(data["ws_url"])) as ws:
            for audio in chunks(signal):
                await ws.send({"type": "agent.speak", "event_id": "U1", "audio": audio})
            await ws.send({"type": "agent.speak_end", "event_id": "E1"})
            await ws.wait_type("agent.speak_started")
            started_at = loop.time()
            await asyncio.wait_for(ws.wait_type("agent.speak_ended"), WAIT_S)
            ended_at = loop.time()
            await asyncio.sleep(STOP_TOLERANCE_S + 0.4)

    rec = viewer.recording
    assert rec.video_frames > 0 and rec.video_size == (320, 240)
    score = best_correlation(signal, rec.pcm())
    assert score > MIN_CORRELATION, f"envelope correlation {score:.3f}"
    loud = [t for t, rms in rec.frame_rms() if rms > LOUD]
    assert loud, "the viewer heard nothing"
    assert started_at <= loud[0] <= started_at + ONSET_TOLERANCE_S
    assert loud[-1] <= ended_at + STOP_TOLERANCE_S
    # Every sent sound slot was heard: loud time is the signal's on time (+/- 15%).
    on_s = float(np.count_nonzero(np.abs(signal) > 0)) / RATE
    heard_on_s = 0.01 * len(loud)
    assert 0.85 * on_s <= heard_on_s <= 1.15 * on_s + 0.1, (on_s, heard_on_s, sid)


async def test_lite_interrupt_cuts_what_the_viewer_hears(emu: Emulator, viewer: Viewer) -> None:
    t = np.arange(int(5.0 * RATE)) / RATE
    tone = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, data = await started_lite(http)
        await viewer.connect(str(data["livekit_url"]), str(data["livekit_client_token"]))
        loop = asyncio.get_running_loop()
        async with lite_ws(str(data["ws_url"])) as ws:
            for audio in chunks(tone):
                await ws.send({"type": "agent.speak", "event_id": "long", "audio": audio})
            await ws.send({"type": "agent.speak_end"})
            await ws.wait_type("agent.speak_started")
            await asyncio.sleep(1.5)
            await ws.send({"type": "agent.interrupt", "event_id": "stop"})
            await ws.wait_type("agent.speak_ended")
            cut_at = loop.time()
            await asyncio.sleep(2.0)

    played_s = (await inspect_played(emu, sid)) / 48_000
    frames = viewer.recording.frame_rms()
    before = [rms for at, rms in frames if at < cut_at]
    after = [rms for at, rms in frames if at > cut_at + STOP_TOLERANCE_S]
    assert max(before) > 0.1, "the tone was never heard"
    assert after and max(after) < LOUD, "audio went on after the interrupt"
    # What was heard is what played before the interrupt, not the 5 s that were sent.
    heard_s = 0.01 * sum(1 for _, rms in frames if rms > LOUD)
    assert 1.0 <= played_s <= 5.0
    assert abs(heard_s - played_s) <= 0.3, (heard_s, played_s)


async def test_full_viewer_hears_a_voice_between_speak_started_and_ended(
    emu: Emulator, viewer: Viewer
) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        _sid, token = await create(http, full_body())
        data = await start(http, token)
    events: list[tuple[float, dict[str, object]]] = []
    loop = asyncio.get_running_loop()
    got = asyncio.Event()

    def on_data(packet: object) -> None:
        if getattr(packet, "topic", "") == "agent-response":
            events.append((loop.time(), json.loads(bytes(packet.data))))  # type: ignore[attr-defined]
            got.set()

    viewer.room.on("data_received", on_data)
    await viewer.connect(str(data["livekit_url"]), str(data["livekit_client_token"]))
    command = {
        "event_id": str(uuid.uuid4()),
        "event_type": "avatar.speak_text",
        "text": "hello there from the emulated avatar",
    }
    await viewer.room.local_participant.publish_data(
        json.dumps(command).encode(), topic="agent-control", reliable=True
    )

    async def ended() -> None:
        while not any(e.get("event_type") == "avatar.speak_ended" for _, e in events):
            got.clear()
            await got.wait()

    await asyncio.wait_for(ended(), WAIT_S)
    await asyncio.sleep(STOP_TOLERANCE_S + 0.4)
    started_at = next(t for t, e in events if e.get("event_type") == "avatar.speak_started")
    ended_at = next(t for t, e in events if e.get("event_type") == "avatar.speak_ended")
    loud = [t for t, rms in viewer.recording.frame_rms() if rms > LOUD]
    assert loud, "the viewer heard no voice"
    assert started_at - 0.1 <= loud[0] <= started_at + ONSET_TOLERANCE_S
    assert loud[-1] <= ended_at + STOP_TOLERANCE_S


async def test_lite_avatar_joins_the_callers_own_room_and_is_heard(
    backend: LiveKitFullBackend, emu: Emulator
) -> None:
    # The caller's room is on the emulator's LiveKit server; the caller is there first.
    room = f"byo-{uuid.uuid4().hex[:8]}"
    backend.server.create_room(room)
    viewer = Viewer(avatar_identity="liveavatar-avatar-agent")
    try:
        await asyncio.wait_for(
            viewer.room.connect(backend.livekit_url, backend.mint(room, "caller")), WAIT_S
        )
        byo = {
            "livekit_url": backend.livekit_url,
            "livekit_room": room,
            "livekit_client_token": backend.mint(room, "liveavatar-avatar-agent", agent=True),
        }
        signal = pattern_signal(2.0, seed=3)
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
            _sid, token = await create(http, lite_body(livekit_config=byo))
            data = await start(http, token)
            await asyncio.wait_for(viewer.audio_ready.wait(), WAIT_S)
            await asyncio.wait_for(viewer.video_ready.wait(), WAIT_S)
            async with lite_ws(str(data["ws_url"])) as ws:
                for audio in chunks(signal):
                    await ws.send({"type": "agent.speak", "event_id": "B1", "audio": audio})
                await ws.send({"type": "agent.speak_end"})
                await ws.wait_type("agent.speak_started")
                started_at = asyncio.get_running_loop().time()
                await asyncio.wait_for(ws.wait_type("agent.speak_ended"), WAIT_S)
                await asyncio.sleep(STOP_TOLERANCE_S + 0.4)
        score = best_correlation(signal, viewer.recording.pcm())
        assert score > MIN_CORRELATION, f"envelope correlation {score:.3f}"
        loud = [t for t, rms in viewer.recording.frame_rms() if rms > LOUD]
        assert loud and started_at <= loud[0] <= started_at + ONSET_TOLERANCE_S
    finally:
        await viewer.close()


async def test_v0_client_gets_the_avatar_on_a_server_offered_connection() -> None:
    # Clients without the v1 signalling path (e.g. livekit-client 2.15 in HeyGen's web SDK)
    # receive media on a second peer connection that the server offers.
    config = FullModeConfig(port=0, stop_flush_s=0.1, v1_enabled=False)
    signal = pattern_signal(2.0, seed=5)
    async with (
        LiveKitFullBackend(config) as backend,
        Emulator(fast(), full_backend=backend) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        _sid, data = await started_lite(http)
        viewer = Viewer()
        try:
            await viewer.connect(str(data["livekit_url"]), str(data["livekit_client_token"]))
            async with lite_ws(str(data["ws_url"])) as ws:
                for audio in chunks(signal):
                    await ws.send({"type": "agent.speak", "event_id": "V0", "audio": audio})
                await ws.send({"type": "agent.speak_end"})
                await asyncio.wait_for(ws.wait_type("agent.speak_ended"), WAIT_S)
                await asyncio.sleep(STOP_TOLERANCE_S + 0.4)
            assert viewer.recording.video_frames > 0
            score = best_correlation(signal, viewer.recording.pcm())
            assert score > MIN_CORRELATION, f"envelope correlation {score:.3f}"
        finally:
            await viewer.close()


async def test_lite_avatar_publishes_into_a_room_on_another_livekit_server(emu: Emulator) -> None:
    # A second LiveKit-compatible server with other credentials stands in for the caller's
    # own LiveKit deployment; what reaches it is checked with its own audio analysis.
    other_config = FullModeConfig(
        port=0, api_secret="the-callers-own-livekit-secret-0123456789", stop_flush_s=0.1
    )
    async with (
        LiveKitFullBackend(other_config) as other,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        room = other.server.create_room("callers-room")
        byo = {
            "livekit_url": other.livekit_url,
            "livekit_room": room.name,
            "livekit_client_token": other.mint(room.name, "liveavatar-avatar-agent", agent=True),
        }
        sid, token = await create(http, lite_body(livekit_config=byo))
        data = await start(http, token)

        avatar_id = "liveavatar-avatar-agent"

        async def published() -> None:
            while True:
                avatar = room.participants.get(avatar_id)
                audio = [r for r in room.recorder.audio if r.participant == avatar_id]
                if avatar is not None and len(avatar.tracks) == 2 and audio:
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(published(), WAIT_S)
        t = np.arange(int(2.0 * RATE)) / RATE
        tone = (0.3 * 32767 * np.sin(2 * np.pi * 330 * t)).astype(np.int16)
        async with lite_ws(str(data["ws_url"])) as ws:
            for audio in chunks(tone):
                await ws.send({"type": "agent.speak", "event_id": "R1", "audio": audio})
            await ws.send({"type": "agent.speak_end"})
            await asyncio.wait_for(ws.wait_type("agent.speak_ended"), WAIT_S)
            await asyncio.sleep(STOP_TOLERANCE_S + 0.5)  # the server's VAD hangover
        record = next(r for r in room.recorder.audio if r.participant == avatar_id)
        segments = [s.duration_s for s in record.vad.segments]
        # One speech segment as long as the 2 s utterance (+ the VAD's 0.5 s hangover).
        assert any(1.6 <= d <= 3.0 for d in segments), (segments, sid)
        await http.post("/v1/sessions/stop", headers={"Authorization": f"Bearer {token}"})

        async def left() -> None:
            while True:
                if avatar_id not in room.participants:
                    return
                await asyncio.sleep(0.1)

        await asyncio.wait_for(left(), WAIT_S)
