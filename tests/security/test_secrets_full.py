"""FULL mode: no LiveKit token, session token, API key or ws_url in logs, status messages or
events, at debug level, through FULL's error paths. Runs in the network namespace:
``bash tests/netns/run.sh .venv/bin/pytest tests/security -m full``."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import grpc
import pytest
from conftest import API_KEY  # tests/conftest.py
from full import conftest as full_fixtures  # tests/full/conftest.py
from full.test_full_converse import full_config
from server.helpers import Inspector, Stream  # tests/server/helpers.py

from avatar_bridge.config import SecurityConfig, ServerConfig
from avatar_bridge.full.leg import connect_full_leg
from avatar_bridge.security.allowlist import host_entry
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator
from liveavatar_emulator.full import LiveKitFullBackend

from .leaks import captured_debug_logs

pytestmark = pytest.mark.full

# The FULL fixtures (emulated LiveKit server and the emulator using it), shared with tests/full.
backend = full_fixtures.backend
full_emulator = full_fixtures.full_emulator
full_settings = full_fixtures.full_settings

FAKE_LIVEKIT_TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJtYWxsb3J5In0.bm90LWEtc2lnbmF0dXJl"


@contextlib.asynccontextmanager
async def full_bridge(
    emulator: Emulator, livekit: LiveKitFullBackend
) -> AsyncIterator[pb_grpc.AvatarBridgeServiceStub]:
    security = SecurityConfig(attach_allow_extra=(host_entry(livekit.livekit_url),))
    config = ServerConfig(
        listen="127.0.0.1:0", api_url=emulator.base_url, api_key=API_KEY, security=security
    )
    server = BridgeServer(config, full_leg=connect_full_leg)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.AvatarBridgeServiceStub(channel)
    finally:
        await server.stop(grace_s=5.0)


async def test_no_secret_in_logs_errors_or_events_full(
    full_emulator: Emulator, backend: LiveKitFullBackend
) -> None:
    emu = Inspector(full_emulator.base_url)
    with captured_debug_logs() as leaks:
        async with full_bridge(full_emulator, backend) as stub:

            async def finish(stream: Stream) -> None:
                with contextlib.suppress(Exception):  # The call may already have ended.
                    await stream.half_close()
                with contextlib.suppress(grpc.aio.AioRpcError):
                    await stream.drain()
                leaks.status(*await stream.status())
                leaks.events(stream.events)

            # A FULL conversation an operator stops, and one LiveAvatar ends (no credits).
            for ending in ("operator", "no-credits"):
                stream = Stream(stub)
                await stream.send(full_config())
                started = await stream.started()
                await stream.until(
                    "session_state_changed",
                    lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
                )
                await stream.send(pb.ConverseRequest(speak_text=pb.SpeakText(text="hello")))
                if ending == "operator":
                    await stub.StopSession(pb.StopSessionRequest(session_id=started.session_id))
                else:
                    path = f"/_emulator/sessions/{started.session_id}/end"
                    (await emu.http.post(path, json={"reason": "NO_CREDITS"})).raise_for_status()
                await finish(stream)
            # Attach to the room with a token LiveKit refuses.
            stream = Stream(stub)
            attach = pb.AttachSession(
                session_id="00000000-0000-4000-8000-000000000000",
                full=pb.FullAttachment(
                    livekit_url=backend.livekit_url,
                    livekit_token=FAKE_LIVEKIT_TOKEN,
                    participation=pb.PARTICIPATION_CONTROLLER,
                ),
            )
            await stream.send(pb.ConverseRequest(config=pb.SessionConfig(attach=attach)))
            await finish(stream)
            # LiveAvatar fails the token call.
            await emu.faults(fail_next=10, status=503)
            stream = Stream(stub)
            await stream.send(full_config())
            await finish(stream)
            await emu.faults(fail_next=0)
        await emu.aclose()
    replies = "\n".join(leaks.texts)
    assert "STOP_REASON_OPERATOR_STOPPED" in replies and "STOP_REASON_NO_CREDITS" in replies
    assert "StatusCode.UNAVAILABLE" in replies
    findings = leaks.findings([API_KEY, FAKE_LIVEKIT_TOKEN])
    assert not findings, "\n".join(findings)
