"""Client WebSocket text frames written straight to the socket: the LITE hot path's send.

websockets' `send()` runs, per message, an async context manager, the sans-I/O protocol's Frame
object serialised through a BytesIO, one `os.urandom` call for the mask and a drain check. A
client text frame is only a 2 to 10 byte header, a 4-byte mask and the masked payload (RFC 6455
section 5.2): `write_text_now` writes exactly those bytes in one `transport.write`, masking with
websockets' own C speedup. websockets keeps the handshake, every received frame, control frames
and the close; the caller falls back to its `send()` whenever the connection is not plainly open
and writable (closing, paused by flow control, a fragmented send in progress), so its state
machine and backpressure stay in charge there.
"""

from __future__ import annotations

import os
import struct

from websockets.asyncio.client import ClientConnection
from websockets.protocol import State

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - websockets built without its C extension.
    from websockets.utils import apply_mask

_FIN_TEXT = 0x81
_MASKED = 0x80
_MASK_POOL_BYTES = 4096
"""Mask keys drawn from the OS 1,024 at a time: one getrandom call per 1,024 frames, not per
frame, with the same unpredictability RFC 6455 asks of them."""


class _Masks:
    def __init__(self) -> None:
        self._pool = b""
        self._at = 0

    def next(self) -> bytes:
        if self._at >= len(self._pool):
            self._pool, self._at = os.urandom(_MASK_POOL_BYTES), 0
        at = self._at
        self._at = at + 4
        return self._pool[at : at + 4]


_masks = _Masks()


def text_frame(payload: bytes, mask: bytes) -> bytes:
    """One unfragmented, masked text frame carrying `payload` (UTF-8)."""
    size = len(payload)
    if size < 126:
        head = bytes((_FIN_TEXT, _MASKED | size))
    elif size < 65536:
        head = struct.pack("!BBH", _FIN_TEXT, _MASKED | 126, size)
    else:
        head = struct.pack("!BBQ", _FIN_TEXT, _MASKED | 127, size)
    return b"".join((head, mask, apply_mask(payload, mask)))


def write_text_now(ws: ClientConnection, payload: bytes) -> bool:
    """Write `payload` as one text frame now; False when websockets' own `send()` must do it."""
    transport = ws.transport
    if (
        ws.protocol.state is not State.OPEN
        or ws.paused
        or ws.send_in_progress is not None
        or ws.protocol.expect_continuation_frame
        or transport.is_closing()
    ):
        return False
    transport.write(text_frame(payload, _masks.next()))
    return True
