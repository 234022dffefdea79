"""AvatarBridgeClient and Conversation against the fake bridge."""

from __future__ import annotations

import grpc
import pytest

from avatar_bridge_client import (
    SANDBOX_AVATAR_ID,
    AvatarBridgeClient,
    BridgeRPCError,
    ClientOptions,
    ConversationClosedError,
    attach_full,
    attach_lite,
    audio_format,
    bridge_options,
    event_kind,
    full_session,
    lite_session,
)
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FakeServer


async def test_config_goes_first_and_session_started_is_kept(fake_bridge: FakeServer) -> None:
    config = lite_session(sandbox=True, input_audio=audio_format(sample_rate_hertz=16000))
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(config, request_id="cfg")
        assert conv.session is not None and conv.session_id == "sess-1"
        assert await conv.send_audio(b"\x00\x00" * 160, request_id="u1") == "u1"
        await conv.send_audio(b"\x00\x00" * 160)
        await conv.speak_end()
        await conv.close()
        events = [event async for event in conv.events()]
    assert [event_kind(e) for e in events] == [
        "session_started",
        "avatar_speak_started",
        "avatar_speak_ended",
        "session_stopped",
    ]
    assert events[0].request_id == "cfg"
    assert events[2].avatar_speak_ended.utterance_id == "u1"
    assert events[3].session_stopped.reason == pb.STOP_REASON_CLIENT_ENDED
    recorded = fake_bridge.fake.last
    assert [r.WhichOneof("request") for r in recorded.requests] == [
        "config",
        "audio",
        "audio",
        "speak_end",
    ]
    assert recorded.requests[0].config == config
    assert [r.request_id for r in recorded.requests] == ["cfg", "u1", "", ""]
    assert recorded.half_closed
    assert conv.ended


async def test_every_command_sends_its_request(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(full_session(context_id="ctx"))
        await conv.interrupt("i")
        await conv.start_listening("l1")
        await conv.stop_listening("l2")
        await conv.keep_alive("k")
        await conv.speak_text("hi", "t")
        await conv.speak_response("answer", "r")
        await conv.push_to_talk_start("p1")
        await conv.push_to_talk_stop("p2")
        await conv.close()
        await conv.drain()
    kinds = [(r.WhichOneof("request"), r.request_id) for r in fake_bridge.fake.last.requests[1:]]
    assert kinds == [
        ("interrupt", "i"),
        ("start_listening", "l1"),
        ("stop_listening", "l2"),
        ("keep_alive", "k"),
        ("speak_text", "t"),
        ("speak_response", "r"),
        ("push_to_talk_start", "p1"),
        ("push_to_talk_stop", "p2"),
    ]
    assert fake_bridge.fake.last.requests[5].speak_text.text == "hi"


async def test_async_with_half_closes_and_drains(fake_bridge: FakeServer) -> None:
    async with (
        AvatarBridgeClient(fake_bridge.target) as client,
        client.converse(lite_session()) as conv,
    ):
        await conv.keep_alive()
    assert fake_bridge.fake.last.half_closed
    assert conv.ended


async def test_async_with_cancels_on_error(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        with pytest.raises(RuntimeError):
            async with client.converse(lite_session()) as conv:
                raise RuntimeError("boom")
        with pytest.raises(BridgeRPCError) as info:
            await conv.next_event()  # session_started was buffered ...
            await conv.next_event()  # ... the call itself is cancelled
    assert info.value.code == grpc.StatusCode.CANCELLED
    assert not fake_bridge.fake.last.half_closed


async def test_refused_config_raises_with_code_and_details(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        with pytest.raises(BridgeRPCError) as info:
            await client.converse(lite_session("missing"))
    assert info.value.code == grpc.StatusCode.NOT_FOUND
    assert info.value.details == "avatar missing not found"
    assert str(info.value) == "NOT_FOUND: avatar missing not found"


async def test_fatal_error_mid_stream_then_sends_raise_it_too(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(full_session())
        await conv.speak_text("abort")
        with pytest.raises(BridgeRPCError) as info:
            async for _ in conv.events():
                pass
        assert info.value.code == grpc.StatusCode.INVALID_ARGUMENT
        status = info.value.status_details
        assert status is not None and getattr(status, "message", "") == "text is scripted to abort"
        with pytest.raises(BridgeRPCError) as again:
            await conv.keep_alive()
        assert again.value.code == grpc.StatusCode.INVALID_ARGUMENT


async def test_in_stream_error_echoes_request_id_and_goes_on(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(full_session())
        await conv.speak_text("fail", "bad")
        await conv.speak_text("fine", "good")
        await conv.close()
        events = [e async for e in conv.events()]
    errors = [e for e in events if e.HasField("error")]
    assert [(e.request_id, e.error.code) for e in errors] == [("bad", "INVALID_COMMAND")]
    assert any(e.avatar_speak_ended.utterance_id == "good" for e in events)


async def test_send_after_close_raises_conversation_closed(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(lite_session())
        await conv.close()
        await conv.close()  # idempotent
        with pytest.raises(ConversationClosedError):
            await conv.keep_alive()
        await conv.drain()
        with pytest.raises(ConversationClosedError):
            await conv.keep_alive()


async def test_without_waiting_for_start(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(lite_session(), wait_started=False)
        assert conv.session is None
        first = await conv.next_event()
        assert first is not None and first.HasField("session_started")
        assert conv.session_id == "sess-1"
        await conv.close()
        await conv.drain()


async def test_metadata_reaches_the_server(fake_bridge: FakeServer) -> None:
    options = ClientOptions(target=fake_bridge.target, metadata=(("x-team", "a"),))
    async with AvatarBridgeClient(options=options) as client:
        conv = await client.converse(lite_session(), metadata=(("x-call", "b"),))
        await conv.close()
        await conv.drain()
    assert fake_bridge.fake.last.metadata["x-team"] == "a"
    assert fake_bridge.fake.last.metadata["x-call"] == "b"


async def test_unary_calls(fake_bridge: FakeServer) -> None:
    async with AvatarBridgeClient(fake_bridge.target) as client:
        response = await client.stop_session("s-9", pb.STOP_REASON_USER_CLOSED)
        assert response.session_id == "s-9" and response.had_conversation
        assert fake_bridge.fake.stopped[-1].reason == pb.STOP_REASON_USER_CLOSED
        with pytest.raises(BridgeRPCError) as info:
            await client.stop_session("missing")
        assert info.value.code == grpc.StatusCode.NOT_FOUND
        page = await client.list_sessions(page_size=2)
        assert len(page.sessions) == 2 and page.next_page_token == "2"
        ids = [s.session_id async for s in client.iter_sessions(page_size=2)]
        assert ids == ["s-0", "s-1", "s-2"]


async def test_unreachable_bridge_is_unavailable() -> None:
    options = ClientOptions(target="127.0.0.1:1", rpc_timeout=5)
    async with AvatarBridgeClient(options=options) as client:
        with pytest.raises(BridgeRPCError) as info:
            await client.list_sessions()
    assert info.value.code == grpc.StatusCode.UNAVAILABLE


def test_builders() -> None:
    config = lite_session(
        sandbox=True,
        livekit_room=pb.LiveKitRoom(url="wss://x", room="r", token="t"),
        video_quality=pb.VIDEO_QUALITY_MEDIUM,
        extra_token_fields={"agora_config": {"app_id": "a"}},
        options=bridge_options(first_packet_ms=400),
    )
    assert config.create.avatar_id == SANDBOX_AVATAR_ID
    assert config.create.is_sandbox and config.create.HasField("lite")
    assert config.create.lite.livekit_room.room == "r"
    assert config.create.video_settings.quality == pb.VIDEO_QUALITY_MEDIUM
    agora = config.create.extra_token_fields.fields["agora_config"].struct_value
    assert agora.fields["app_id"].string_value == "a"
    assert config.input_audio == audio_format(pb.AUDIO_ENCODING_LINEAR16, 24000, 1)
    assert config.options.first_packet_ms == 400
    assert lite_session().create.HasField("lite")  # the mode is set even when empty

    full = full_session(
        "a1",
        context_id="c",
        voice_id="v",
        language="fr",
        interactivity=pb.INTERACTIVITY_TYPE_PUSH_TO_TALK,
        participation=pb.PARTICIPATION_CONTROLLER,
        dynamic_variables={"name": "Ada"},
    )
    assert full.create.full.persona.context_id == "c"
    assert full.create.full.persona.language == "fr"
    assert full.create.full.interactivity_type == pb.INTERACTIVITY_TYPE_PUSH_TO_TALK
    assert full.create.full.dynamic_variables["name"] == "Ada"
    assert not full.HasField("input_audio")

    lite_attach = attach_lite("s", "wss://ws", stop_on_end=True)
    assert lite_attach.attach.lite.ws_url == "wss://ws" and lite_attach.attach.stop_on_end
    full_attach = attach_full("s", "wss://lk", "tok", participation=pb.PARTICIPATION_USER)
    assert full_attach.attach.full.livekit_token == "tok"
