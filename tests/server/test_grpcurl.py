"""The real grpcurl binary against the bridge, with the command lines the README shows.

grpcurl runs as an asyncio subprocess so the in-process bridge keeps serving meanwhile. Exit
codes: 0 for OK, 64 + the gRPC status code otherwise.
"""

from __future__ import annotations

import base64
import json
import shlex
import subprocess
import sys
from typing import Any

import pytest

from avatar_bridge.audio import AudioFormat
from avatar_bridge.audio.accounting import output_samples_for_input
from avatar_bridge.audio.formats import AudioEncoding
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .commands import GRPCURL, ROOT, SERVICE, sh
from .conftest import Env
from .helpers import Stream, lite_config

EXAMPLES = ROOT / "examples" / "grpcurl"

pytestmark = pytest.mark.skipif(not GRPCURL.exists(), reason=f"no grpcurl at {GRPCURL}")


def json_stream(text: str) -> list[dict[str, Any]]:
    """grpcurl prints one pretty JSON object per response, back to back."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    pos = 0
    while True:
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if pos == len(text):
            return objects
        obj, pos = decoder.raw_decode(text, pos)
        objects.append(obj)


def field(obj: dict[str, Any], name: str) -> Any:
    """A field by its proto name or its JSON (lowerCamelCase) name."""
    head, *rest = name.split("_")
    camel = head + "".join(part.title() for part in rest)
    return obj.get(name, obj.get(camel))


def example_audio_bytes(name: str) -> int:
    """Bytes of audio in an example stream."""
    total = 0
    for line in (EXAMPLES / name).read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        if "audio" in message:
            total += len(base64.b64decode(message["audio"]["data"]))
    return total


async def test_list_shows_the_services(env: Env) -> None:
    code, out, err = await sh(f"grpcurl -plaintext {env.bridge.target} list")
    assert code == 0, err
    services = out.split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services
    assert any(s.startswith("grpc.reflection.") for s in services), services


async def test_describe_service_and_request(env: Env) -> None:
    code, out, err = await sh(f"grpcurl -plaintext {env.bridge.target} describe {SERVICE}")
    assert code == 0, err
    for rpc in ("Converse", "StopSession", "ListSessions"):
        assert f"rpc {rpc}" in out, out
    assert "stream .avatarbridge.v1.ConverseRequest" in out, out

    code, out, err = await sh(
        f"grpcurl -plaintext {env.bridge.target} describe avatarbridge.v1.ConverseRequest"
    )
    assert code == 0, err
    assert "oneof request" in out, out
    assert ".avatarbridge.v1.SessionConfig config = 2;" in out, out


@pytest.mark.parametrize("service", ["", SERVICE])
async def test_health_check_serving(env: Env, service: str) -> None:
    data = shlex.quote(json.dumps({"service": service}))
    code, out, err = await sh(
        f"grpcurl -plaintext -d {data} {env.bridge.target} grpc.health.v1.Health/Check"
    )
    assert code == 0, err
    assert json.loads(out) == {"status": "SERVING"}


async def test_converse_lite_hello_example(env: Env) -> None:
    code, out, err = await sh(
        f"grpcurl -plaintext -d @ {env.bridge.target} {SERVICE}/Converse"
        " < examples/grpcurl/lite-hello.jsonl"
    )
    assert code == 0, err
    events = json_stream(out)
    kinds = [next(k for k in e if k not in ("requestId", "request_id")) for e in events]
    assert field(events[0], "session_started") is not None, kinds
    started = field(events[0], "session_started")
    session_id = field(started, "session_id")
    assert field(started, "mode") == "MODE_LITE"

    def utterance(kind: str) -> list[str]:
        return [field(v, "utterance_id") for e in events if (v := field(e, kind)) is not None]

    assert utterance("avatar_speak_started") == ["hello-1"], kinds
    assert utterance("avatar_speak_ended") == ["hello-1"], kinds
    assert field(events[-1], "session_stopped") is not None, kinds
    assert field(field(events[-1], "session_stopped"), "reason") == "STOP_REASON_CLIENT_ENDED"
    assert not [e for e in events if field(e, "error") is not None], events

    detail = await env.emu.session(session_id)
    assert detail["status"] == "ended"
    assert detail["end_reason"] == "USER_CLOSED"
    mulaw_8k = AudioFormat(AudioEncoding.MULAW, 8000)
    frames = example_audio_bytes("lite-hello.jsonl")  # One byte per mu-law frame.
    assert frames == 12_000  # 1.5 s at 8 kHz.
    assert detail["pcm_bytes"] == 2 * output_samples_for_input(mulaw_8k, frames)


async def test_stop_session_by_id(env: Env) -> None:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config())
    started = await stream.started()
    data = shlex.quote(json.dumps({"session_id": started.session_id}))
    code, out, err = await sh(
        f"grpcurl -plaintext -d {data} {env.bridge.target} {SERVICE}/StopSession"
    )
    assert code == 0, err
    reply = json.loads(out)
    assert field(reply, "session_id") == started.session_id
    assert field(reply, "had_conversation") is True
    stopped = await stream.until("session_stopped")
    assert stopped.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED
    await stream.drain()
    detail = await env.emu.session(started.session_id)
    assert detail["status"] == "ended"


async def test_list_sessions(env: Env) -> None:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config())
    started = await stream.started()
    code, out, err = await sh(
        f"grpcurl -plaintext -d '{{}}' {env.bridge.target} {SERVICE}/ListSessions"
    )
    assert code == 0, err
    sessions = field(json.loads(out), "sessions")
    assert [field(s, "session_id") for s in sessions] == [started.session_id]
    assert field(sessions[0], "has_conversation") is True
    await stream.half_close()
    await stream.drain()


async def test_bad_first_message_exits_67(env: Env) -> None:
    code, out, err = await sh(
        f"""grpcurl -plaintext -d '{{"speak_end":{{}}}}' {env.bridge.target} {SERVICE}/Converse"""
    )
    assert code == 64 + 3, (code, out, err)  # INVALID_ARGUMENT is 3.
    assert "InvalidArgument" in err and "config" in err, err
    assert await env.emu.sessions() == []


def test_examples_are_up_to_date() -> None:
    script = EXAMPLES / "make_examples.py"
    result = subprocess.run(
        [sys.executable, str(script), "--check"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
