"""The least a LITE bridge can cost: `Converse` with no bridge behind it, for the CPU floor.

Run by benchmarks.bridge_proc `--floor=MODE` in place of the bridge, under the same gRPC server
options, loop and process set-up, so the benchmark measures what grpc.aio itself costs per
client chunk (and per forwarded packet) against what the bridge adds:

* `recv`: reads the config, answers CONNECTED, reads every request until the client half-closes,
  and ends the call. No WebSocket: the cost of receiving the client's audio over gRPC alone.
* `relay`: `recv`, plus one WebSocket per call to the attach URL through the bridge's own
  `LiteTransport` (no pings, no compression; template framing and the direct frame writer).
  Each audio chunk goes on arrival as one `agent.speak` text frame; speak_end goes as
  `agent.speak_end`; events from the sink are read and dropped. No pacing, no utterance state,
  no admission, no logs, no metrics: the cheapest correct relay of a real-time client.

Neither is a product: they answer "how much of the bridge's CPU is gRPC's and the socket's".
"""

from __future__ import annotations

import asyncio
import binascii
import contextlib
import uuid
from collections.abc import AsyncIterator

import grpc

from avatar_bridge.lite.transport import LiteTransport
from avatarbridge.v1 import avatar_bridge_pb2 as pb

MODES = ("recv", "relay")
SERVICE = "avatarbridge.v1.AvatarBridgeService"
_CONNECTED = pb.ConverseResponse(
    session_state_changed=pb.SessionStateChanged(state=pb.SESSION_STATE_CONNECTED)
)


class _FloorService:
    def __init__(self, mode: str) -> None:
        self._relay = mode == "relay"

    async def converse(
        self,
        request_iterator: AsyncIterator[pb.ConverseRequest],
        context: grpc.aio.ServicerContext[pb.ConverseRequest, pb.ConverseResponse],
    ) -> AsyncIterator[pb.ConverseResponse]:
        requests = aiter(request_iterator)
        first = await anext(requests)
        ws = await self._open(first) if self._relay else None
        yield _CONNECTED
        reader = asyncio.create_task(_drain(ws)) if ws is not None else None
        try:
            event_id = uuid.uuid4().hex
            async for request in requests:
                if ws is None:
                    continue
                kind = request.WhichOneof("request")
                if kind == "audio":
                    audio = binascii.b2a_base64(request.audio.data, newline=False)
                    await ws.send({"type": "agent.speak", "event_id": event_id, "audio": audio})
                elif kind == "speak_end":
                    await ws.send({"type": "agent.speak_end", "event_id": event_id})
                    event_id = uuid.uuid4().hex
        finally:
            if reader is not None:
                reader.cancel()
            if ws is not None:
                await ws.close()

    async def _open(self, first: pb.ConverseRequest) -> LiteTransport:
        """The bridge's own LITE transport (its socket options, framing and frame writer)."""
        ws = LiteTransport(first.config.attach.lite.ws_url)
        await ws.connect()
        await ws.receive()  # session.state_updated connected: LiveAvatar drops commands before it
        return ws


async def _drain(ws: LiteTransport) -> None:
    with contextlib.suppress(Exception):
        while True:
            await ws.receive()


class FloorServer:
    """The floor service on a grpc.aio server with the bridge's own options (start/stop as
    BridgeServer's, for benchmarks.bridge_proc)."""

    def __init__(self, mode: str, options: list[tuple[str, int]]) -> None:
        if mode not in MODES:
            raise ValueError(f"floor mode {mode!r}: expected one of {', '.join(MODES)}")
        self._server = grpc.aio.server(options=options)
        # Converse only: the service's other methods answer UNIMPLEMENTED.
        converse = grpc.stream_stream_rpc_method_handler(
            _FloorService(mode).converse,
            request_deserializer=pb.ConverseRequest.FromString,
            response_serializer=pb.ConverseResponse.SerializeToString,
        )
        self._server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler(SERVICE, {"Converse": converse}),)
        )

    async def start(self) -> int:
        port = self._server.add_insecure_port("127.0.0.1:0")
        await self._server.start()
        return port

    async def stop(self, grace: float | None) -> None:
        await self._server.stop(grace)
