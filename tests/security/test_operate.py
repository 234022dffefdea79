"""Per-principal quotas on real conversations, and what operators see and do."""

from __future__ import annotations

import logging
from pathlib import Path

import grpc
import pytest
from server.helpers import lite_config  # tests/server/helpers.py

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import OPERATOR_KEY, TALKER_KEY, StartBridge, auth_toml
from .streams import KeyedStream, auth, channel

ONE_AT_A_TIME_KEY = "abk_single-0123456789abcdefghijklmnop"


@pytest.fixture
def quota_file(tmp_path: Path) -> Path:
    path = tmp_path / "auth.toml"
    path.write_text(
        auth_toml(
            {
                "single": {
                    "roles": ["converse"],
                    "keys": [ONE_AT_A_TIME_KEY],
                    "max_conversations": 1,
                },
                "talker": {"roles": ["converse"], "keys": [TALKER_KEY]},
            }
        )
    )
    return path


async def test_concurrent_conversation_quota(start_bridge: StartBridge, quota_file: Path) -> None:
    async with start_bridge(auth_file=str(quota_file)) as bridge, channel(bridge.target) as stub:
        first = KeyedStream(stub, ONE_AT_A_TIME_KEY)
        await first.send(lite_config())
        await first.started()
        second = KeyedStream(stub, ONE_AT_A_TIME_KEY)
        await second.send(lite_config())
        code, details = await second.outcome()
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "limit of 1" in details and "retry when one of them ends" in details
        # The server-wide default (unlimited here) applies to another principal.
        other = KeyedStream(stub, TALKER_KEY)
        await other.send(lite_config())
        await other.started()
        for stream in (first, other):
            await stream.half_close()
            await stream.drain()
        # The slot is given back when the conversation ends.
        third = KeyedStream(stub, ONE_AT_A_TIME_KEY)
        await third.send(lite_config())
        await third.started()
        await third.half_close()
        await third.drain()


async def test_server_default_quota_applies_to_principals_without_their_own(
    start_bridge: StartBridge, quota_file: Path
) -> None:
    async with (
        start_bridge(auth_file=str(quota_file), quota_starts_per_minute=1) as bridge,
        channel(bridge.target) as stub,
    ):
        # Only admitted conversations count as starts: an invalid config does not.
        bad = KeyedStream(stub, TALKER_KEY)
        await bad.send(pb.ConverseRequest(config=pb.SessionConfig()))
        assert (await bad.outcome())[0] == grpc.StatusCode.INVALID_ARGUMENT
        first = KeyedStream(stub, TALKER_KEY)
        await first.send(lite_config(is_sandbox=True))
        await first.started()
        await first.half_close()
        await first.drain()
        second = KeyedStream(stub, TALKER_KEY)
        await second.send(lite_config(is_sandbox=True))
        code, details = await second.outcome()
        assert code == grpc.StatusCode.RESOURCE_EXHAUSTED and "1 per minute" in details


async def test_operator_lists_and_stops_another_principals_session(
    start_bridge: StartBridge, auth_file: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="avatar_bridge")
    async with start_bridge(auth_file=str(auth_file)) as bridge, channel(bridge.target) as stub:
        talk = KeyedStream(stub, TALKER_KEY)
        await talk.send(lite_config())
        session_id = (await talk.started()).session_id
        listing = await stub.ListSessions(pb.ListSessionsRequest(), metadata=auth(OPERATOR_KEY))
        mine = [s for s in listing.sessions if s.session_id == session_id]
        assert len(mine) == 1 and mine[0].has_conversation
        stopped = await stub.StopSession(
            pb.StopSessionRequest(session_id=session_id), metadata=auth(OPERATOR_KEY)
        )
        assert stopped.had_conversation
        end = await talk.until("session_stopped")
        assert end.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED
        await talk.drain()
    records = [r for r in caplog.records if r.getMessage() == "operator stopped session"]
    assert len(records) == 1
    assert records[0].operator == "operator" and records[0].driven_by == "talker"
