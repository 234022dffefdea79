"""Rich errors: every refusal carries google.rpc.Status details, read here with grpcio-status.

Expected reasons, domains, fields and subjects are written from the README's error table.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import grpc
import pytest
from conftest import API_KEY
from google.rpc import error_details_pb2  # type: ignore[import-untyped]
from grpc_status import rpc_status
from security.conftest import DEFAULT_PRINCIPALS, LIMITED_KEY, TALKER_KEY, auth_toml
from server.helpers import Stream, lite_config

from avatar_bridge.config import Limits, SecurityConfig, ServerConfig
from avatar_bridge.server import BridgeServer
from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator


@contextlib.asynccontextmanager
async def bridge(
    emulator: Emulator, **limits: Any
) -> AsyncIterator[pb_grpc.AvatarBridgeServiceStub]:
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        limits=replace(Limits(), **limits),
    )
    server = BridgeServer(config)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield pb_grpc.AvatarBridgeServiceStub(channel)
    finally:
        await server.stop(grace_s=5.0)


def details_of(error: grpc.aio.AioRpcError) -> dict[str, Any]:
    """The unpacked details of an error's grpc-status-details-bin, by type name."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]  # AioRpcError is a Call
    assert status is not None, "no grpc-status-details-bin trailer"
    assert status.code == error.code().value[0]
    assert status.message == error.details()
    found: dict[str, Any] = {}
    for packed in status.details:
        for kind in (
            error_details_pb2.ErrorInfo,
            error_details_pb2.BadRequest,
            error_details_pb2.QuotaFailure,
            error_details_pb2.RetryInfo,
        ):
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found[kind.DESCRIPTOR.name] = message
    return found


async def refused(
    stub: pb_grpc.AvatarBridgeServiceStub,
    request: pb.ConverseRequest,
    stream: Stream | None = None,
) -> Any:
    stream = stream or Stream(stub)
    with contextlib.suppress(grpc.aio.AioRpcError):
        await stream.send(request)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stream.drain()
    return caught.value


async def test_bad_config_reports_every_field_violation(emulator: Emulator) -> None:
    request = lite_config(
        options=pb.BridgeOptions(first_packet_ms=5, ready_timeout_seconds=500),
        max_session_duration_seconds=-1,
    )
    request.config.create.avatar_id = " "
    async with bridge(emulator) as stub:
        error = await refused(stub, request)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = details_of(error)
    info = details["ErrorInfo"]
    assert (info.reason, info.domain) == ("INVALID_ARGUMENT", "avatarbridge.v1")
    fields = [v.field for v in details["BadRequest"].field_violations]
    assert fields == [
        "config.options.first_packet_ms",
        "config.options.ready_timeout_seconds",
        "config.create.avatar_id",
        "config.create.max_session_duration_seconds",
    ]
    assert all(v.description for v in details["BadRequest"].field_violations)
    assert error.details().startswith("4 problems: ")


async def test_session_limit_refusal_carries_quota_failure_and_retry_info(
    emulator: Emulator,
) -> None:
    async with bridge(emulator, max_sessions=1) as stub:
        live = Stream(stub)
        await live.send(lite_config())
        await live.started()
        error = await refused(stub, lite_config())
        await live.half_close()
        await live.drain()
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = details_of(error)
    assert details["ErrorInfo"].reason == "LIMIT_EXCEEDED"
    [violation] = details["QuotaFailure"].violations
    assert violation.subject == "server:max_sessions"
    assert details["RetryInfo"].retry_delay.seconds == 1


async def test_operator_rpc_argument_errors_name_the_field(emulator: Emulator) -> None:
    async with bridge(emulator) as stub:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.ListSessions(pb.ListSessionsRequest(page_size=500))
        with pytest.raises(grpc.aio.AioRpcError) as stop:
            await stub.StopSession(pb.StopSessionRequest(session_id=""))
    details = details_of(caught.value)
    assert [v.field for v in details["BadRequest"].field_violations] == ["page_size"]
    assert details["ErrorInfo"].reason == "INVALID_ARGUMENT"
    details = details_of(stop.value)
    assert [v.field for v in details["BadRequest"].field_violations] == ["session_id"]


async def test_auth_refusals_and_principal_quota_carry_details(
    emulator: Emulator, tmp_path: Path
) -> None:
    auth = tmp_path / "auth.toml"
    auth.write_text(auth_toml(DEFAULT_PRINCIPALS))
    config = ServerConfig(
        listen="127.0.0.1:0",
        api_url=emulator.base_url,
        api_key=API_KEY,
        security=SecurityConfig(auth_file=str(auth)),
    )
    server = BridgeServer(config)
    port = await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await stub.ListSessions(pb.ListSessionsRequest())
            with pytest.raises(grpc.aio.AioRpcError) as talker:
                await stub.ListSessions(
                    pb.ListSessionsRequest(), metadata=(("x-api-key", TALKER_KEY),)
                )
            limited = (("x-api-key", LIMITED_KEY),)
            live = Stream(stub)
            live.call = stub.Converse(metadata=limited)
            await live.send(lite_config())
            await live.started()
            second = Stream(stub)
            second.call = stub.Converse(metadata=limited)
            quota = await refused(stub, lite_config(), stream=second)
            await live.half_close()
            await live.drain()
    finally:
        await server.stop(grace_s=5.0)

    assert anonymous.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert details_of(anonymous.value)["ErrorInfo"].reason == "UNAUTHENTICATED"
    assert talker.value.code() == grpc.StatusCode.PERMISSION_DENIED
    info = details_of(talker.value)["ErrorInfo"]
    assert (info.reason, dict(info.metadata)) == ("PERMISSION_DENIED", {"role": "operate"})
    assert quota.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = details_of(quota)
    [violation] = details["QuotaFailure"].violations
    assert violation.subject == "principal:limited:conversations"
    assert "RetryInfo" not in details  # Retry when one of them ends: no time to advise.
