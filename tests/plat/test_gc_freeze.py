"""`avatar-bridge serve` freezes its start-up heap out of the garbage collector's full passes.

Without it a full collection at 750 LITE sessions stopped the event loop for 165 ms (make bench);
the objects alive at start-up (modules, descriptors, gRPC, websockets) never die anyway.
"""

from __future__ import annotations

import gc
import json
import weakref

from server.process import BridgeProcess

from avatar_bridge.gcpolicy import freeze_startup_heap
from liveavatar_emulator import Emulator


async def test_serve_freezes_its_start_up_heap_once(emulator: Emulator) -> None:
    process = await BridgeProcess.start(emulator.base_url)
    try:
        await process.wait_serving()
    finally:
        await process.kill()
    frozen = [json.loads(line) for line in process.lines('"start-up heap frozen')]
    assert len(frozen) == 1, "\n".join(process.stderr)
    # An interpreter with grpc, protobuf and websockets loaded tracks far more than 20,000
    # objects; a freeze before the imports would find a few thousand.
    assert frozen[0]["objects"] > 20_000
    # Young collections ten times rarer than Python's default (700, 10, 10): each young pass
    # walks every session's in-flight gRPC read, and they found no garbage (make bench).
    assert frozen[0]["gc_threshold"] == [7_000, 10, 10]


class _Node:
    peer: object = None


def test_freeze_collects_start_up_garbage_then_freezes_the_rest() -> None:
    node = _Node()
    node.peer = node  # A cycle: only a collection frees it.
    dead = weakref.ref(node)
    del node
    threshold = gc.get_threshold()
    try:
        frozen = freeze_startup_heap()
        assert dead() is None  # Collected, not frozen for good.
        # Frozen objects that die later leave the permanent generation (another thread of the
        # test process may drop one at any moment), so the count can only have shrunk since.
        assert 0 < gc.get_freeze_count() <= frozen
        assert gc.get_threshold() == (7_000, threshold[1], threshold[2])
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
    assert gc.get_freeze_count() == 0
