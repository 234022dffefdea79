"""The standard health service, with Watch streams that never hold the process open.

grpc's reference servicer keeps every Watch stream open until the server's grace runs out, so
one load balancer watching the bridge delayed exit by the whole grace. Here `close()` ends them
(after they have seen NOT_SERVING), so exit waits only for real work.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from grpc_health.v1 import health, health_pb2


class DrainingHealth(health.aio.HealthServicer):  # type: ignore[misc]
    """HealthServicer whose Watch streams end once `close()` is called."""

    def __init__(self) -> None:
        super().__init__()
        self._closed = asyncio.Event()

    async def Watch(self, request: health_pb2.HealthCheckRequest, context: Any) -> None:
        if self._closed.is_set():
            return
        watch = asyncio.ensure_future(super().Watch(request, context))
        closed = asyncio.ensure_future(self._closed.wait())
        try:
            await asyncio.wait({watch, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watch, closed):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def close(self) -> None:
        """End every Watch stream (OK status): the server is about to exit."""
        self._closed.set()


NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
SERVING = health_pb2.HealthCheckResponse.SERVING
