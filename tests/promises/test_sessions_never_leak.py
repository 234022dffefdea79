"""README, Never leaking a session: a session is forgotten only after a successful REST stop or
when LiveAvatar ended it; a stop that failed is owed, and shutdown pays it."""

from __future__ import annotations

import grpc
from server.helpers import Inspector, Stream, lite_config

from liveavatar_emulator import Emulator

from .bridges import bridge_at


async def test_a_stop_that_failed_is_retried_at_shutdown(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url, grace_s=10.0) as bridge:
            stream = Stream(bridge.stub)
            await stream.send(lite_config())
            started = await stream.started()
            # Every attempt of the stop at the end of the conversation fails (5xx, retried).
            await inspector.faults(fail_next=3, status=503)
            await stream.half_close()
            await stream.drain()
            code, details = await stream.status()
            assert code == grpc.StatusCode.OK, details
            assert (await inspector.faults())["failed"] == 3
            assert await inspector.active() == [started.session_id]  # Still running upstream.
        # Leaving the block stops the bridge: it pays the stop it owed.
        detail = await inspector.session(started.session_id)
        assert detail["status"] == "ended"
        assert detail["end_reason"] == "USER_CLOSED"
    finally:
        await inspector.aclose()


async def test_a_session_liveavatar_already_ended_is_forgotten(emulator: Emulator) -> None:
    inspector = Inspector(emulator.base_url)
    try:
        async with bridge_at(emulator.base_url) as bridge:
            stream = Stream(bridge.stub)
            await stream.send(lite_config())
            started = await stream.started()
            # LiveAvatar answers the stop with a 4xx: it no longer runs the session.
            await inspector.faults(fail_next=1, status=404, message="Session not found")
            await stream.half_close()
            await stream.drain()
            assert (await inspector.faults())["failed"] == 1
            # Were it still owed, shutdown would call stop again: that call would fail here too.
            await inspector.faults(fail_next=1, status=404, message="Session not found")
        assert (await inspector.faults())["failed"] == 1
        await inspector.faults(fail_next=0)
        await inspector.http.post(
            "/v1/sessions/stop",
            headers={"X-API-KEY": emulator.config.api_keys[0]},
            json={"session_id": started.session_id},
        )
    finally:
        await inspector.aclose()
