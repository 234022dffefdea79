"""FULL mode end to end: real ``livekit.rtc.Room`` clients against the emulated LiveKit server.

Run inside the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/full_emulator -m full``
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import aiohttp
import numpy as np
import pytest
from livekit import rtc

from liveavatar_emulator.full import LiveKitFullBackend, agent_identity
from liveavatar_emulator.full.sfu.participant import VirtualParticipant

from .conftest import WAIT_S, Client, StubSession, fast_config, mint_token, token_request

pytestmark = pytest.mark.full

NewSession = Callable[..., Any]
Clients = Callable[[], Client]


async def join(backend: LiveKitFullBackend, session: StubSession, clients: Clients) -> Client:
    token, _ = backend.tokens_for(session)
    return await clients().connect(backend.livekit_url, token)


async def poll(predicate: Callable[[], Any], wait_s: float = WAIT_S) -> Any:
    """Poll server-side state (which has no change notification) until it holds."""
    deadline = asyncio.get_running_loop().time() + wait_s
    while not (result := predicate()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.02)
    return result


async def test_join_sees_avatar_agent_and_updates(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    assert client.room.local_participant.identity == "client"
    assert client.room.name == session.id
    assert set(client.room.remote_participants) == {"heygen", agent_identity(session.id)}

    joined: asyncio.Queue[str] = asyncio.Queue()
    left: asyncio.Queue[str] = asyncio.Queue()
    client.room.on("participant_connected", lambda p: joined.put_nowait(p.identity))
    client.room.on("participant_disconnected", lambda p: left.put_nowait(p.identity))
    other = await clients().connect(
        backend.livekit_url, mint_token(backend.config, "observer", session.id)
    )
    assert await asyncio.wait_for(joined.get(), WAIT_S) == "observer"
    assert "client" in other.room.remote_participants
    await other.close()
    assert await asyncio.wait_for(left.get(), WAIT_S) == "observer"

    room = backend.server.rooms[session.id]
    assert [p["identity"] for p in room.departed] == ["observer"]


async def test_data_forwarding_destinations_and_queue_until_open(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    room = backend.server.rooms[session.id]
    probe = backend.server.add_virtual(session.id, VirtualParticipant("probe"))
    # Inject a packet for every WebRTC participant the moment it joins, long before its data
    # channel exists: it must be queued and delivered once the channel opens.
    original_add = room.add

    def add_and_greet(participant: Any) -> None:
        original_add(participant)
        if not participant.virtual:
            room.inject(probe, "greeting", b"early", destinations=[participant.identity])

    room.add = add_and_greet  # type: ignore[method-assign]

    cfg = backend.config
    alice = clients()
    bob = clients()
    await alice.connect(backend.livekit_url, mint_token(cfg, "alice", session.id))
    await bob.connect(backend.livekit_url, mint_token(cfg, "bob", session.id))
    assert await bob.wait_until(lambda: ("probe", "greeting", b"early") in bob.data)
    assert await alice.wait_until(lambda: ("probe", "greeting", b"early") in alice.data)

    lp = alice.room.local_participant
    await lp.publish_data(b"for-nobody", topic="t", destination_identities=["carol"])
    await lp.publish_data(b"for-bob", topic="t", destination_identities=["bob"])
    await lp.publish_data(b"lossy-all", topic="t", reliable=False)
    await lp.publish_data(b"for-all", topic="t")
    await bob.wait_until(lambda: ("alice", "t", b"for-all") in bob.data)
    bob_t = [d for d in bob.data if d[1] == "t"]
    assert ("alice", "t", b"for-bob") in bob_t
    assert ("alice", "t", b"for-nobody") not in bob_t

    packets = [p for p in room.recorder.packets if p.topic == "t"]
    by_payload = {p.payload: p for p in packets}
    assert by_payload[b"for-bob"].destinations == ("bob",)
    assert by_payload[b"for-bob"].sender == "alice"
    assert by_payload[b"lossy-all"].reliable is False
    # Agent and avatar receive broadcast data but answer nothing on unrelated topics.
    assert all(e["event_type"] != "user.transcription" for e in alice.events)


async def test_speak_text_events_in_order(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    eid = await client.command("avatar.speak_text", text="Hello from the emulator")
    await client.wait_event("avatar.speak_ended")
    assert client.types() == ["avatar.transcription", "avatar.speak_started", "avatar.speak_ended"]
    for event in client.events:
        assert event["source_event_id"] == eid
        assert event["session_id"] == session.id
        assert event["event_id"] and event["event_id"] != eid
    assert client.events[0]["text"] == "Hello from the emulator"
    assert session.touches >= 1


async def test_speak_response_streams_chunks_then_final(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    eid = await client.command("avatar.speak_response", text="what is the weather")
    await client.wait_event("avatar.speak_ended")
    types = client.types()
    n_chunks = types.index("avatar.transcription")
    assert n_chunks == 6  # one chunk per word of "You said: what is the weather"
    assert set(types[:n_chunks]) == {"avatar.transcription.chunk"}
    assert types[n_chunks:] == [
        "avatar.transcription",
        "avatar.speak_started",
        "avatar.speak_ended",
    ]
    streamed = "".join(e["text"] for e in client.events[:n_chunks])
    final = client.events[n_chunks]["text"]
    assert streamed == final == "You said: what is the weather"
    assert all(e["source_event_id"] == eid for e in client.events)


async def test_speak_response_in_restricted_mode_is_silent(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session(context=False)
    client = await join(backend, session, clients)
    await client.command("avatar.speak_response", text="anyone there?")
    speak = await client.command("avatar.speak_text", text="repeat me")
    await client.wait_event("avatar.speak_ended")
    # Commands are handled in order, so anything the response produced would come first.
    assert client.events[0]["source_event_id"] == speak
    assert "avatar.transcription.chunk" not in client.types()


async def test_interrupt_ends_current_speech(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    long_text = " ".join(["word"] * 2000)  # 800 s of speech, 40 s at time_scale 0.05
    eid = await client.command("avatar.speak_text", text=long_text)
    await client.wait_event("avatar.speak_started")
    await client.room.local_participant.publish_data(
        b'{"event_type":"avatar.interrupt"}', topic="agent-control", reliable=True
    )
    ended = await client.wait_event("avatar.speak_ended")
    assert ended["interrupted"] is True
    assert ended["source_event_id"] == eid
    agent = backend.agent_for(session.id)
    assert agent is not None and not agent.speaking


async def test_listening_state_is_recorded(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    agent = backend.agent_for(session.id)
    assert agent is not None
    await client.command("avatar.start_listening")
    await poll(lambda: agent.listening)
    await client.command("avatar.stop_listening")
    await poll(lambda: len(agent.commands) == 2 and not agent.listening)
    await client.command("avatar.dance")
    await poll(lambda: agent.unknown_commands)
    assert client.events == []  # no events for listening or unknown commands
    assert session.touches == 3


async def test_push_to_talk_outcomes(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    ptt = await new_session(interactivity="PUSH_TO_TALK")
    client = await join(backend, ptt, clients)
    expected = [
        ("user.stop_push_to_talk", "user.push_to_talk_stop_failed"),
        ("user.start_push_to_talk", "user.push_to_talk_started"),
        ("user.start_push_to_talk", "user.push_to_talk_start_failed"),
        ("user.stop_push_to_talk", "user.push_to_talk_stopped"),
    ]
    for command, answer in expected:
        n = len(client.events)
        eid = await client.command(command)
        event = await client.wait_until(lambda: client.events[n:])  # noqa: B023
        assert event[0]["event_type"] == answer
        assert event[0]["source_event_id"] == eid

    conversational = await new_session()
    other = await join(backend, conversational, clients)
    await other.command("user.start_push_to_talk")
    failed = await other.wait_event("user.push_to_talk_start_failed")
    assert "PUSH_TO_TALK" in failed["reason"]


def tone(seconds: float, rate: int, level: float = 0.3) -> np.ndarray[Any, Any]:
    t = np.arange(int(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * 1000 * t) * 32767).astype(np.int16)


async def play(source: rtc.AudioSource, samples: np.ndarray[Any, Any], frame_ms: int = 10) -> None:
    rate = source.sample_rate
    n = rate * frame_ms // 1000
    for i in range(0, len(samples) - n + 1, n):
        chunk = samples[i : i + n]
        await source.capture_frame(rtc.AudioFrame(chunk.tobytes(), rate, 1, n))


async def publish_mic(client: Client, rate: int) -> rtc.AudioSource:
    source = rtc.AudioSource(rate, 1)
    track = rtc.LocalAudioTrack.create_audio_track("microphone", source)
    options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
    await asyncio.wait_for(client.room.local_participant.publish_track(track, options), WAIT_S)
    return source


async def test_two_second_tone_is_heard_and_answered(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    rate = 48000
    source = await publish_mic(client, rate)
    silence = np.zeros(rate // 4, dtype=np.int16)
    await play(source, np.concatenate([silence, tone(2.0, rate), silence]))
    # Keep sending silence so the hangover elapses on the audio timeline.
    feeder = asyncio.create_task(play(source, np.zeros(rate * 3, dtype=np.int16)))
    try:
        heard = await client.wait_event("user.transcription")
    finally:
        feeder.cancel()
    types = client.types()
    assert types.index("user.speak_started") < types.index("user.speak_ended")
    assert types.index("user.speak_ended") < types.index("user.transcription")
    match = re.fullmatch(r"heard (\d+\.\d\d) s of speech", heard["text"])
    assert match, heard
    assert abs(float(match.group(1)) - 2.0) <= 0.2
    # With a context_id the agent answers what it heard.
    answer = await client.wait_event("avatar.transcription")
    assert answer["text"] == f"You said: {heard['text']}"
    assert session.touches >= 2

    async with (
        aiohttp.ClientSession() as http,
        http.get(
            f"http://127.0.0.1:{backend.server.port}/_emulator/livekit/rooms/{session.id}/audio"
        ) as resp,
    ):
        body = await resp.json()
    (track,) = body["tracks"]
    assert track["participant"] == "client"
    assert track["track_sid"].startswith("TR_")
    assert abs(track["segments"][0]["duration_s"] - 2.0) <= 0.2


async def test_push_to_talk_gates_user_audio(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session(interactivity="PUSH_TO_TALK", context=False)
    client = await join(backend, session, clients)
    rate = 24000
    source = await publish_mic(client, rate)
    room = backend.server.rooms[session.id]
    gap = np.zeros(rate * 7 // 10, dtype=np.int16)
    # Outside any window: the server hears it, the agent ignores it.
    await play(source, np.concatenate([tone(0.5, rate), gap]))
    await poll(lambda: room.recorder.audio and room.recorder.audio[0].vad.segments)
    await client.command("user.start_push_to_talk")
    await client.wait_event("user.push_to_talk_started")
    feeder = asyncio.create_task(play(source, np.concatenate([tone(0.8, rate), gap, gap, gap])))
    try:
        heard = await client.wait_event("user.transcription")
    finally:
        feeder.cancel()
    await client.command("user.stop_push_to_talk")
    await client.wait_event("user.push_to_talk_stopped")
    types = client.types()
    assert types.count("user.speak_started") == 1
    assert types.index("user.push_to_talk_started") < types.index("user.speak_started")
    assert re.fullmatch(r"heard 0\.\d\d s of speech", heard["text"])
    assert len(room.recorder.audio[0].vad.segments) == 2  # both heard by the server
    assert "avatar.transcription" not in types  # restricted mode: no answer


async def test_session_stopped_then_room_closes(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    client = await join(backend, session, clients)
    await session.end("IDLE_TIMEOUT")
    stopped = await client.wait_event("session.stopped")
    assert stopped["end_reason"] == "IDLE_TIMEOUT"
    assert stopped["stop_reason"] == "IDLE_TIMEOUT"
    assert stopped["session_id"] == session.id
    await asyncio.wait_for(client.disconnected.wait(), WAIT_S)
    assert session.id not in backend.server.rooms
    closed = backend.inspect_room(session.id)
    assert closed is not None and closed["closed_at"] is not None
    assert closed["participants"] == []

    token, _ = backend.tokens_for(session)
    with pytest.raises(rtc.ConnectError):
        await clients().connect(backend.livekit_url, token)


async def test_v0_fallback_when_v1_disabled(clients: Clients) -> None:
    async with LiveKitFullBackend(fast_config(v1_enabled=False)) as backend:
        session = StubSession(token_request(), backend=backend)
        await backend.session_started(session)
        client = await join(backend, session, clients)
        assert set(client.room.remote_participants) == {"heygen", agent_identity(session.id)}
        await client.command("avatar.speak_text", text="via v0")
        await client.wait_event("avatar.speak_ended")
        assert client.types() == [
            "avatar.transcription",
            "avatar.speak_started",
            "avatar.speak_ended",
        ]
        await client.close()


async def test_bad_token_rejected(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    bad = mint_token(
        backend.config, "client", session.id, secret="not-the-right-secret-not-the-right-secret"
    )
    with pytest.raises(rtc.ConnectError):
        await clients().connect(backend.livekit_url, bad)
    assert backend.server.rooms[session.id].participants.keys() == {
        "heygen",
        agent_identity(session.id),
    }


async def test_duplicate_identity_replaces_old_connection(
    backend: LiveKitFullBackend, new_session: NewSession, clients: Clients
) -> None:
    session = await new_session()
    first = await join(backend, session, clients)
    second = await join(backend, session, clients)
    await asyncio.wait_for(first.disconnected.wait(), WAIT_S)
    await second.command("avatar.speak_text", text="still here")
    await second.wait_event("avatar.speak_ended")
    room = backend.server.rooms[session.id]
    assert list(room.participants).count("client") == 1
