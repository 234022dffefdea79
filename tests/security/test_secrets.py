"""No secret (LiveAvatar API key, session token, LiveKit tokens, ws_url, caller keys) in logs,
status messages or events, at debug level, through every error path of LITE mode and the
operator calls. FULL mode: test_secrets_full.py (network namespace)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import grpc
from conftest import API_KEY  # tests/conftest.py
from server.helpers import Inspector, audio, lite_config  # tests/server/helpers.py

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from liveavatar_emulator import Emulator

from .conftest import BOTH_KEY, LIMITED_KEY, OPERATOR_KEY, TALKER_KEY, StartBridge
from .leaks import captured_debug_logs
from .streams import KeyedStream, attach_lite, auth, channel, upstream_session

WRONG_KEY = "abk_wrong-0123456789abcdefghijklmnopq"
WRONG_LIVEAVATAR_KEY = "wrong-liveavatar-key-0123456789"
UNKNOWN_SESSION = "00000000-0000-4000-8000-000000000000"


async def test_no_secret_in_logs_errors_or_events_lite(
    start_bridge: StartBridge, auth_file: Path, emulator: Emulator, tmp_path: Path
) -> None:
    emu = Inspector(emulator.base_url)
    secrets = [
        API_KEY,
        WRONG_LIVEAVATAR_KEY,
        TALKER_KEY,
        OPERATOR_KEY,
        BOTH_KEY,
        LIMITED_KEY,
        WRONG_KEY,
    ]
    with captured_debug_logs() as leaks:
        async with (
            upstream_session(emulator.base_url) as other,
            start_bridge(auth_file=str(auth_file), attach_allow=("127.0.0.1",)) as bridge,
            channel(bridge.target) as stub,
        ):
            secrets += [other.ws_url, other.livekit_client_token]

            async def converse(key: str, *requests: pb.ConverseRequest) -> list[str]:
                stream = KeyedStream(stub, key)
                with contextlib.suppress(grpc.aio.AioRpcError):  # Refused before it read.
                    await stream.send(*requests)
                with contextlib.suppress(Exception):  # The call may already have ended.
                    await stream.half_close()
                code, details = await stream.outcome()
                leaks.status(code, details)
                leaks.events(stream.events)
                return stream.kinds()

            async def unary(call: object, request: object, key: str) -> None:
                try:
                    await call(request, metadata=auth(key))  # type: ignore[operator]
                except grpc.aio.AioRpcError as error:
                    leaks.status(error.code(), error.details() or "")

            # Authentication and roles.
            await converse(WRONG_KEY, lite_config())
            await converse(OPERATOR_KEY, lite_config())
            await unary(stub.ListSessions, pb.ListSessionsRequest(), WRONG_KEY)
            await unary(stub.ListSessions, pb.ListSessionsRequest(), TALKER_KEY)
            # Invalid requests.
            await converse(TALKER_KEY, pb.ConverseRequest(config=pb.SessionConfig()))
            await converse(TALKER_KEY, lite_config(), lite_config())
            # Attach: outside the allowlist, a dead URL, stop_on_end without operate, a
            # wrong session id on a real ws_url.
            secret_path = "/v1/ws/s-1?token=abcdefghijklmnopqrstuvwxyz012345"
            await converse(
                BOTH_KEY, attach_lite("s-1", "wss://evil.example" + secret_path, stop_on_end=False)
            )
            await converse(
                BOTH_KEY, attach_lite("s-1", "ws://127.0.0.1:9" + secret_path, stop_on_end=True)
            )
            await converse(
                TALKER_KEY, attach_lite(other.session_id, other.ws_url, stop_on_end=True)
            )
            # Upstream failures: token creation, then session start (after the token exists).
            await emu.faults(fail_next=10, status=503)
            await converse(TALKER_KEY, lite_config())
            await emu.faults(fail_next=0)
            await emu.faults(fail_next=1, status=400, message="bad request")
            await converse(TALKER_KEY, lite_config())
            # A conversation whose socket drops and is reconnected (a new ws_url is dialled), one
            # whose reconnects are refused (ends UPSTREAM_LOST), and one LiveAvatar ends for lack
            # of credits.
            for fault in ("drop_ws", "refused_reconnect", "end"):
                stream = KeyedStream(stub, TALKER_KEY)
                await stream.send(lite_config())
                started = await stream.started()
                await stream.send(audio(b"\xff" * 800))
                session_path = f"/_emulator/sessions/{started.session_id}"
                if fault == "refused_reconnect":
                    refuse = {"count": 100}
                    armed = await emu.http.post(f"{session_path}/ws_refuse_reconnect", json=refuse)
                    armed.raise_for_status()
                if fault == "end":
                    body = {"reason": "NO_CREDITS"}
                    ending = await emu.http.post(f"{session_path}/end", json=body)
                else:
                    ending = await emu.http.post(f"{session_path}/drop_ws", json={"code": 1011})
                ending.raise_for_status()
                if fault == "drop_ws":
                    # The conversation goes on over a new socket; the client then ends it.
                    await stream.until(
                        "warning", lambda e: e.warning.code == "UPSTREAM_RECONNECTED"
                    )
                    await stream.half_close()
                code, details = await stream.outcome()
                leaks.status(code, details)
                leaks.events(stream.events)
            # Quota: "limited" may start 2 a minute (admitted conversations count).
            for _ in range(3):
                await converse(LIMITED_KEY, lite_config(is_sandbox=True))
            # Operator calls: stop a session that does not exist, bad page token.
            await unary(
                stub.StopSession, pb.StopSessionRequest(session_id=UNKNOWN_SESSION), OPERATOR_KEY
            )
            await unary(stub.ListSessions, pb.ListSessionsRequest(page_token="x"), OPERATOR_KEY)
        # A bridge whose LiveAvatar key is wrong.
        async with (
            start_bridge(api_key=WRONG_LIVEAVATAR_KEY, auth_file=str(auth_file)) as bridge,
            channel(bridge.target) as stub,
        ):
            await converse(TALKER_KEY, lite_config())
            await unary(stub.ListSessions, pb.ListSessionsRequest(), OPERATOR_KEY)
        await emu.aclose()
    # The error paths were really taken.
    replies = "\n".join(leaks.texts)
    for code in (
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "INVALID_ARGUMENT",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
        "NOT_FOUND",
    ):
        assert f"StatusCode.{code}" in replies, code
    assert "UPSTREAM_RECONNECTED" in replies
    assert "STOP_REASON_UPSTREAM_LOST" in replies
    assert "STOP_REASON_NO_CREDITS" in replies
    log_text = leaks.log.getvalue()
    for message in (
        "call refused: unauthenticated",
        "conversation failed",
        '"level": "debug"',
        '"principal": "talker"',  # Records of a call name its caller.
    ):
        assert message in log_text, message
    findings = leaks.findings(secrets)
    assert not findings, "\n".join(findings)
