"""Every recipe of the README's grpcurl cookbook, run by the real grpcurl against a real bridge
and the emulator (LITE and operator recipes here; FULL ones in tests/full, TLS in tests/security).
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from avatarbridge.v1 import avatar_bridge_pb2 as pb

from . import cookbook
from .conftest import Env
from .helpers import Stream, lite_config
from .test_grpcurl import field, json_stream

pytestmark = pytest.mark.skipif(
    not cookbook.GRPCURL.exists(), reason=f"no grpcurl at {cookbook.GRPCURL}"
)

# Written from the README's list of recipes and the proto's ConverseRequest oneof.
RECIPES = {
    "reflection",
    "health",
    "lite-hello",
    "lite-commands",
    "full-hello",
    "full-commands",
    "full-push-to-talk",
    "lite-attach",
    "full-attach",
    "operate",
    "bad-first-request",
    "tls-and-key",
}
COMMANDS = {
    "audio",
    "speak_end",
    "interrupt",
    "start_listening",
    "stop_listening",
    "keep_alive",
    "speak_text",
    "speak_response",
    "push_to_talk_start",
    "push_to_talk_stop",
}


def kinds(events: list[dict[str, Any]]) -> list[str]:
    return [next(k for k in e if k not in ("requestId", "request_id")) for e in events]


def values(events: list[dict[str, Any]], kind: str) -> list[Any]:
    return [v for e in events if (v := field(e, kind)) is not None]


def test_every_recipe_is_run_by_a_test() -> None:
    assert set(cookbook.recipes()) == RECIPES


def test_every_command_and_attach_has_a_recipe() -> None:
    files = {
        f
        for text in cookbook.recipes().values()
        for f in re.findall(r"examples/grpcurl/[a-z-]+\.jsonl", text)
    }
    used: set[str] = set()
    for name in files:
        for line in (cookbook.ROOT / name).read_text(encoding="utf-8").splitlines():
            message = json.loads(line)
            used |= set(message) - {"request_id"}
            used |= {f"attach.{k}" for k in message.get("config", {}).get("attach", {})}
    assert used >= COMMANDS, COMMANDS - used
    assert {"attach.lite", "attach.full"} <= used


async def test_reflection(env: Env) -> None:
    code, out, err = await cookbook.run("reflection", env.bridge.target)
    assert code == 0, err
    assert "avatarbridge.v1.AvatarBridgeService" in out.split()
    assert "grpc.health.v1.Health" in out.split()
    for rpc in ("Converse", "StopSession", "ListSessions"):
        assert f"rpc {rpc}" in out
    assert "oneof request" in out


async def test_health(env: Env) -> None:
    code, out, err = await cookbook.run("health", env.bridge.target)
    assert code == 0, err
    assert json_stream(out) == [{"status": "SERVING"}, {"status": "SERVING"}]


async def test_lite_hello(env: Env) -> None:
    code, out, err = await cookbook.run("lite-hello", env.bridge.target)
    assert code == 0, err
    events = json_stream(out)
    assert field(values(events, "session_started")[0], "mode") == "MODE_LITE"
    assert [field(v, "utterance_id") for v in values(events, "avatar_speak_ended")] == ["hello-1"]
    assert field(values(events, "session_stopped")[0], "reason") == "STOP_REASON_CLIENT_ENDED"
    assert values(events, "error") == []


async def test_lite_commands(env: Env) -> None:
    code, out, err = await cookbook.run("lite-commands", env.bridge.target)
    assert code == 0, err
    events = json_stream(out)
    assert values(events, "error") == [], events
    # talk-1 was cut: it never ended normally; talk-2 was spoken to the end.
    ended = [field(v, "utterance_id") for v in values(events, "avatar_speak_ended")]
    assert ended == ["talk-2"], kinds(events)
    for dropped in values(events, "audio_dropped"):
        assert field(dropped, "utterance_id") == "talk-1"
        assert field(dropped, "reason") == "DROP_REASON_INTERRUPTED"
    assert kinds(events)[-1] == "session_stopped"
    assert field(values(events, "session_stopped")[0], "reason") == "STOP_REASON_CLIENT_ENDED"
    session_id = field(values(events, "session_started")[0], "session_id")
    log = (await env.emu.session(session_id))["command_log"]
    # The listening and keep-alive commands reached LiveAvatar, in order, before the speech.
    sent = [c["type"] for c in log if not c["dropped"]]
    assert sent[:3] == ["agent.start_listening", "agent.stop_listening", "session.keep_alive"]
    assert sent[-1] == "agent.speak_end"


async def test_lite_attach(env: Env) -> None:
    started = await cookbook.start_elsewhere(env.bridge.server.config.api_url, {"mode": "LITE"})
    session_id = started["session_id"]
    code, out, err = await cookbook.run(
        "lite-attach",
        env.bridge.target,
        {"SESSION_ID": session_id, "WS_URL": started["ws_url"]},
    )
    assert code == 0, err
    events = json_stream(out)
    first = values(events, "session_started")[0]
    assert field(first, "session_id") == session_id and field(first, "attached") is True
    assert [field(v, "utterance_id") for v in values(events, "avatar_speak_ended")] == ["hello-1"]
    assert field(values(events, "session_stopped")[0], "reason") == "STOP_REASON_CLIENT_ENDED"
    # stop_on_end: the bridge stopped the session it was handed.
    assert (await env.emu.session(session_id))["status"] == "ended"


async def test_operate(env: Env) -> None:
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config())
    started = await stream.started()
    code, out, err = await cookbook.run(
        "operate", env.bridge.target, {"SESSION_ID": started.session_id}
    )
    assert code == 0, err
    listed, stopped = json_stream(out)
    sessions = field(listed, "sessions")
    assert [field(s, "session_id") for s in sessions] == [started.session_id]
    assert field(stopped, "session_id") == started.session_id
    assert field(stopped, "had_conversation") is True
    event = await stream.until("session_stopped")
    assert event.session_stopped.reason == pb.STOP_REASON_OPERATOR_STOPPED
    await stream.drain()
    assert (await env.emu.session(started.session_id))["status"] == "ended"


async def test_bad_first_request(env: Env) -> None:
    code, out, err = await cookbook.run("bad-first-request", env.bridge.target)
    assert code == 0, err  # The recipe's `|| echo` shows the exit code instead of failing.
    assert out.strip() == "exit 67", out
    assert "InvalidArgument" in err and "config" in err, err
    assert await env.emu.sessions() == []
