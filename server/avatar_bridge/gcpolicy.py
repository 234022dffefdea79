"""Keep the garbage collector's passes short and rare once the server is up.

CPython's oldest-generation collection walks every tracked object. Right after start-up that is
mostly what never dies: modules, protobuf descriptors, gRPC, websockets, livekit. Measured in
`make bench` at 750 LITE sessions on one core, one such pass stopped the event loop for 165 ms,
which every session's packets then waited out (packet p99 146 ms against 35 ms without it).
`gc.freeze()` moves everything alive at that moment to a permanent generation that collections
skip, so later full passes only walk what the conversations made.

The youngest generation is the other cost. Every streaming session has a gRPC read in flight,
about 23 tracked objects (coroutines, futures, the batch's tags) that are alive whenever a
collection comes, so each young pass walks them all: 7-15 ms at 1,000 sessions, six or seven
times per 10 s at Python's default threshold of 700 net allocations, and they freed nothing
(0-5 objects a pass; once the sessions had ended a full collection found no cyclic garbage).
Reference counting frees what the bridge makes. A threshold of 7,000 makes young passes (and so
the older ones they trigger) about ten times rarer at the same size, and bounds young cyclic
garbage to about 7,000 objects between passes.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)

YOUNG_THRESHOLD = 7_000
"""Net allocations of tracked objects between young collections (Python's default: 700)."""


def freeze_startup_heap() -> int:
    """Collect once, freeze what is left, then set the young threshold; returns how many objects
    were frozen."""
    gc.collect()  # Garbage of the start-up itself is freed, not frozen for good.
    gc.freeze()
    frozen = gc.get_freeze_count()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, oldest)
    log.info(
        "start-up heap frozen out of garbage collection",
        extra={"objects": frozen, "gc_threshold": list(gc.get_threshold())},
    )
    return frozen
