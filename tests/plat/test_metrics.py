"""The Prometheus endpoint, scraped over HTTP while a real bridge runs conversations."""

from __future__ import annotations

import asyncio

import grpc
import httpx
import pytest
from conftest import API_KEY
from prometheus_client.parser import text_string_to_metric_families
from server.helpers import WAIT_S, Stream, audio, lite_config, speak_end

from avatar_bridge.config import ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

SPEECH = b"\xff" * 1600  # 0.2 s of mu-law 8 kHz.


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics, by (name, sorted labels)."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=WAIT_S)
    response.raise_for_status()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def metrics_bridge(emulator: Emulator) -> tuple[BridgeServer, int]:
    """A started bridge with its metrics endpoint on a free port; the caller stops it."""
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        metrics_listen="127.0.0.1:0",
    )
    server = BridgeServer(config)
    return server, await server.start()


async def test_metrics_count_conversations_rpcs_refusals_and_audio(emulator: Emulator) -> None:
    server, port = await metrics_bridge(emulator)
    try:
        assert server.metrics_port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            live = Stream(stub)
            await live.send(lite_config())
            await live.started()
            during = await scrape(server.metrics_port)
            assert (
                during[("avatarbridge_conversations", (("mode", "lite"), ("state", "live")))] == 1
            )
            await live.send(audio(SPEECH), speak_end())
            await live.until("avatar_speak_ended")
            await live.half_close()
            await live.drain()

            bad = lite_config()
            bad.config.create.avatar_id = ""
            refused = Stream(stub)
            await refused.send(bad)
            with pytest.raises(grpc.aio.AioRpcError):
                await refused.drain()
            with pytest.raises(grpc.aio.AioRpcError):
                await stub.ListSessions(pb.ListSessionsRequest(page_size=500))
        await asyncio.sleep(0)  # The interceptor counts as each call's handler returns.
        after = await scrape(server.metrics_port)
    finally:
        await server.stop(grace_s=5.0)

    def value(name: str, **labels: str) -> float:
        return after.get((name, tuple(sorted(labels.items()))), 0.0)

    assert value("avatarbridge_conversation_starts_total", mode="lite") == 1
    assert value("avatarbridge_conversations", mode="lite", state="live") == 0
    assert value("avatarbridge_conversations", mode="lite", state="starting") == 0
    stops = {k: v for k, v in after.items() if k[0] == "avatarbridge_conversation_stops_total"}
    assert sum(stops.values()) == 1, stops
    assert value("avatarbridge_admission_refusals_total", reason="INVALID_ARGUMENT") == 1
    assert value("avatarbridge_rpcs_total", method="Converse", code="OK") == 1
    assert value("avatarbridge_rpcs_total", method="Converse", code="INVALID_ARGUMENT") == 1
    assert value("avatarbridge_rpcs_total", method="ListSessions", code="INVALID_ARGUMENT") == 1
    assert value("avatarbridge_audio_in_bytes_total") == len(SPEECH)
    assert value("avatarbridge_requests_total") == 2  # audio and speak_end after the config.
    # 0.2 s went upstream as 24 kHz PCM16: 48 bytes a millisecond, 9,600 bytes, in >= 1 packet.
    assert value("avatarbridge_audio_out_bytes_total") == 9_600
    assert value("avatarbridge_packets_out_total") >= 1
    assert value("avatarbridge_upstream_reconnects_total") == 0
    assert ("avatarbridge_event_loop_lag_seconds", ()) in after
    # Token, start and stop of the one session went to LiveAvatar (the emulator), plus nothing
    # for the refused calls: ListSessions was refused before any REST call.
    for endpoint in (
        "POST /v1/sessions/token",
        "POST /v1/sessions/start",
        "POST /v1/sessions/stop",
    ):
        assert value("avatarbridge_upstream_rest_seconds_count", endpoint=endpoint) == 1, endpoint
    errors = {k: v for k, v in after.items() if k[0] == "avatarbridge_upstream_rest_errors_total"}
    assert errors == {}


async def test_metrics_count_dropped_audio_by_reason(emulator: Emulator) -> None:
    server, port = await metrics_bridge(emulator)
    try:
        assert server.metrics_port
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = Stream(pb_grpc.AvatarBridgeServiceStub(channel))
            await stream.send(lite_config())
            await stream.until(
                "session_state_changed",
                lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
            )
            # 5 s of speech, interrupted at once: most of it is reported dropped.
            await stream.send(audio(b"\xff" * 40_000, "long"))
            await stream.send(pb.ConverseRequest(request_id="stop", interrupt=pb.Interrupt()))
            dropped = await stream.until("audio_dropped")
            await stream.half_close()
            await stream.drain()
        after = await scrape(server.metrics_port)
    finally:
        await server.stop(grace_s=5.0)
    reported = after.get(("avatarbridge_audio_dropped_bytes_total", (("reason", "INTERRUPTED"),)))
    assert reported == dropped.audio_dropped.input_byte_count > 0
