"""LITE frames: the agent.speak template gives exactly what a JSON encoder would."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.frames import Frame
from websockets.protocol import Protocol, Side, State

from avatar_bridge.errors import UpstreamClosed
from avatar_bridge.lite.framer import text_frame
from avatar_bridge.lite.transport import LiteTransport, encode

WAIT_S = 30.0


def test_speak_template_is_the_json_of_the_same_message() -> None:
    pcm = bytes(range(256)) * 10
    audio = base64.b64encode(pcm)
    frame = encode({"type": "agent.speak", "event_id": "0a1b2c", "audio": audio})
    assert json.loads(frame) == {
        "type": "agent.speak",
        "event_id": "0a1b2c",
        "audio": audio.decode(),
    }
    assert base64.b64decode(json.loads(frame)["audio"]) == pcm


def test_an_event_id_that_needs_escaping_falls_back_to_json() -> None:
    message = {"type": "agent.speak", "event_id": 'a"b', "audio": b"AAAA"}
    assert json.loads(encode(message)) == {
        "type": "agent.speak",
        "event_id": 'a"b',
        "audio": "AAAA",
    }


def test_other_messages_are_plain_json() -> None:
    assert json.loads(encode({"type": "agent.speak_end", "event_id": "x1"})) == {
        "type": "agent.speak_end",
        "event_id": "x1",
    }


def _server_parse(data: bytes) -> list[str]:
    """What a websockets server makes of `data` arriving on an open connection."""
    protocol = Protocol(Side.SERVER, state=State.OPEN, max_size=None)
    protocol.receive_data(data)
    return [e.data.decode() for e in protocol.events_received() if isinstance(e, Frame)]


@pytest.mark.parametrize("size", [0, 125, 126, 65535, 65536, 200_000])
def test_a_direct_frame_is_a_masked_text_frame_a_server_reads_whole(size: int) -> None:
    # 125/126 and 65535/65536 straddle the 7-bit, 16-bit and 64-bit length encodings.
    payload = (b'{"audio":"' + b"A" * size + b'"}')[: max(size, 2)]
    frame = text_frame(payload, b"\x01\x02\x03\x04")
    assert frame[0] == 0x81  # FIN + text opcode
    assert frame[1] & 0x80  # masked, as RFC 6455 requires of a client
    assert _server_parse(frame) == [payload.decode()]


async def test_the_transport_sends_direct_frames_and_reports_a_close() -> None:
    received: list[str] = []
    got_two = asyncio.Event()

    async def handler(ws: ServerConnection) -> None:
        async for message in ws:
            assert isinstance(message, str)
            received.append(message)
            if len(received) == 2:
                got_two.set()
                await ws.close(4001, "done")

    async with serve(handler, "127.0.0.1", 0) as server:
        port = server.sockets[0].getsockname()[1]
        transport = LiteTransport(f"ws://127.0.0.1:{port}/s")
        await transport.connect()
        audio = base64.b64encode(bytes(range(256)) * 40)
        await transport.send({"type": "agent.speak", "event_id": "e1", "audio": audio})
        await transport.send({"type": "agent.speak_end", "event_id": "e1"})
        await asyncio.wait_for(got_two.wait(), WAIT_S)
        assert json.loads(received[0]) == {
            "type": "agent.speak",
            "event_id": "e1",
            "audio": audio.decode(),
        }
        assert json.loads(received[1]) == {"type": "agent.speak_end", "event_id": "e1"}
        with pytest.raises(UpstreamClosed):
            await transport.receive()
        # Closed: the direct path declines and websockets' send reports the close.
        with pytest.raises(UpstreamClosed) as closed:
            await transport.send({"type": "agent.speak", "event_id": "e1", "audio": audio})
        assert closed.value.close_code == 4001
