"""OpenTelemetry spans, recorded in memory by the real SDK while a real bridge converses."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import httpx
import pytest
from conftest import API_KEY
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from server.helpers import Stream, lite_config

from avatar_bridge.config import ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator


class _Recorder(SimpleSpanProcessor):
    """Keeps spans only while a tracing test runs: the provider outlives it (set once)."""

    recording = False

    def on_end(self, span: ReadableSpan) -> None:
        if self.recording:
            super().on_end(span)


_EXPORTER = InMemorySpanExporter()
_RECORDER = _Recorder(_EXPORTER)


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    """The process's tracer provider (OpenTelemetry allows one per process), recording only here."""
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(_RECORDER)
        trace.set_tracer_provider(provider)
    _EXPORTER.clear()
    _RECORDER.recording = True
    try:
        yield _EXPORTER
    finally:
        _RECORDER.recording = False
        _EXPORTER.clear()


async def test_converse_span_with_upstream_children_and_stop_event(
    emulator: Emulator, spans: InMemorySpanExporter
) -> None:
    config = ServerConfig(listen="127.0.0.1:0", api_url=emulator.base_url, api_key=API_KEY)
    server = BridgeServer(config)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stream = Stream(pb_grpc.AvatarBridgeServiceStub(channel))
            await stream.send(lite_config())
            started = await stream.started()
            await stream.until(
                "session_state_changed",
                lambda e: e.session_state_changed.state == pb.SESSION_STATE_CONNECTED,
            )
            await stream.send(pb.ConverseRequest(request_id="hush", interrupt=pb.Interrupt()))
            # LiveAvatar drops the socket; the session lives, so the bridge reconnects.
            async with httpx.AsyncClient(base_url=emulator.base_url) as http:
                dropped = await http.post(
                    f"/_emulator/sessions/{started.session_id}/drop_ws", json={"code": 1011}
                )
                dropped.raise_for_status()
            await stream.until("warning", lambda e: e.warning.code == "UPSTREAM_RECONNECTED")
            await stream.half_close()
            await stream.drain()
    finally:
        await server.stop(grace_s=5.0)

    finished = spans.get_finished_spans()
    [converse] = [s for s in finished if s.name == "avatarbridge.v1.AvatarBridgeService/Converse"]
    assert converse.attributes is not None
    assert converse.attributes["session_id"] == started.session_id
    assert converse.attributes["mode"] == "MODE_LITE"
    stops = [e for e in converse.events if e.name == "session_stopped"]
    assert len(stops) == 1
    interrupts = [e for e in converse.events if e.name == "interrupt"]
    assert [dict(e.attributes or {}) for e in interrupts] == [{"request_id": "hush"}]
    reconnects = [e for e in converse.events if e.name == "reconnected"]
    assert [dict(e.attributes or {}) for e in reconnects] == [{"warning": "UPSTREAM_RECONNECTED"}]
    upstream = {s.name: s for s in finished if s.name.startswith("LiveAvatar ")}
    for name in (
        "LiveAvatar POST /v1/sessions/token",
        "LiveAvatar POST /v1/sessions/start",
        "LiveAvatar POST /v1/sessions/stop",
    ):
        child = upstream[name]
        assert child.parent is not None and converse.context is not None
        assert child.context is not None
        assert child.context.trace_id == converse.context.trace_id, name
        assert child.attributes is not None and child.attributes["outcome"] == "ok"
