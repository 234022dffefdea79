"""README, Configuration and logs: flag > environment > default, the documented defaults, logs per
session (never per chunk), and no secret in any log line."""

from __future__ import annotations

import argparse
import json
import logging

import pytest
from conftest import API_KEY
from server.conftest import Env
from server.helpers import Stream, audio, lite_config, speak_end

from avatar_bridge import config as config_module
from avatar_bridge.logs import JsonFormatter, SecretScrubber

# The README's configuration table: variable, flag, default (literally), and a non-default value.
TABLE = [
    ("AVATAR_BRIDGE_LISTEN", "--listen", "127.0.0.1:50051", "0.0.0.0:7000", "listen"),
    ("LIVEAVATAR_API_URL", "--api-url", "https://api.liveavatar.com", "http://x:1", "api_url"),
    ("LIVEAVATAR_API_KEY", "--api-key", "", "key-from-somewhere", "api_key"),
    ("AVATAR_BRIDGE_EMULATOR_PORT", "--emulator-port", 8900, 8901, "emulator_port"),
    (
        "AVATAR_BRIDGE_EMULATOR_LIVEKIT_PORT",
        "--emulator-livekit-port",
        7880,
        7881,
        "emulator_livekit_port",
    ),
    ("AVATAR_BRIDGE_SHUTDOWN_GRACE_S", "--shutdown-grace-s", 10.0, 3.5, "shutdown_grace_s"),
    ("AVATAR_BRIDGE_MAX_SESSIONS", "--max-sessions", 250, 7, "limits.max_sessions"),
    ("AVATAR_BRIDGE_FIRST_PACKET_MS", "--first-packet-ms", 400, 250, "session.first_packet_ms"),
    (
        "AVATAR_BRIDGE_KEEP_ALIVE_IDLE_S",
        "--keep-alive-idle-s",
        60.0,
        30.0,
        "session.keep_alive_idle_s",
    ),
    ("AVATAR_BRIDGE_READY_TIMEOUT_S", "--ready-timeout-s", 20.0, 5.0, "session.ready_timeout_s"),
    ("AVATAR_BRIDGE_LOG_LEVEL", "--log-level", "info", "debug", "log_level"),
    ("AVATAR_BRIDGE_LOG_FORMAT", "--log-format", "json", "text", "log_format"),
    ("AVATAR_BRIDGE_EVENT_LOOP", "--event-loop", "auto", "asyncio", "event_loop"),
]
OTHER = {
    "listen": "10.0.0.1:1",
    "log_level": "warning",
    "log_format": "json",
    "api_key": "k2",
    "event_loop": "uvloop",
}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    config_module.add_arguments(parser)
    return parser.parse_args(argv)


def field(config: object, path: str) -> object:
    for part in path.split("."):
        config = getattr(config, part)
    return config


def second_value(value: object, name: str) -> str:
    """Another valid non-default value, for the flag to win over."""
    if name in OTHER:
        return OTHER[name]
    if isinstance(value, float):
        return str(value + 1)
    if isinstance(value, int):
        return str(value + 1)
    return f"{value}2"


@pytest.mark.parametrize(
    ("var", "flag", "default", "value", "path"), TABLE, ids=[t[0] for t in TABLE]
)
def test_flag_over_environment_over_default(
    var: str, flag: str, default: object, value: object, path: str
) -> None:
    assert field(config_module.from_sources(parse([]), {}), path) == default
    from_env = config_module.from_sources(parse([]), {var: str(value)})
    assert field(from_env, path) == value
    flag_value = second_value(value, path.split(".")[-1])
    both = config_module.from_sources(parse([flag, flag_value]), {var: str(value)})
    assert str(field(both, path)) == flag_value


def test_scrubber_redacts_registered_secrets_in_message_and_fields() -> None:
    scrubber = SecretScrubber()
    scrubber.add("sk-live-0123456789abcdef")
    record = logging.LogRecord(
        "t", logging.INFO, __file__, 1, "key %s here", ("sk-live-0123456789abcdef",), None
    )
    record.url = "wss://host/v1/lite/s?token=sk-live-0123456789abcdef"
    assert scrubber.filter(record) is True  # Never drops the line, only redacts.
    line = JsonFormatter().format(record)
    assert "sk-live-0123456789abcdef" not in line
    payload = json.loads(line)
    assert payload["message"] == "key [redacted] here"
    # The whole path and query of a LITE ws_url go: the token, and the session id beside it.
    assert payload["url"] == "wss://host/[redacted]"


async def test_the_running_bridge_scrubs_its_api_key_from_any_log_line(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # A line that would leak the key (as a careless library might log it): the filter the
    # bridge registered at start redacts it before any handler formats it.
    from avatar_bridge.logs import scrubber

    caplog.set_level(logging.INFO)
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "header %s", (API_KEY,), None)
    assert scrubber.filter(record)
    assert API_KEY not in record.getMessage()


async def conversation_log_lines(
    env: Env, caplog: pytest.LogCaptureFixture, chunks: int
) -> list[logging.LogRecord]:
    caplog.clear()
    stream = Stream(env.bridge.stub)
    await stream.send(lite_config())
    started = await stream.started()
    for index in range(chunks):
        await stream.send(audio(b"\xff" * 160, "u" if index == 0 else ""))  # 20 ms each.
    await stream.send(speak_end())
    await stream.until("avatar_speak_ended")
    await stream.half_close()
    await stream.drain()
    return [
        r
        for r in caplog.records
        if r.name.startswith("avatar_bridge")
        and getattr(r, "session_id", None) == started.session_id
    ]


async def test_logs_are_per_session_never_per_chunk(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="avatar_bridge")
    few = await conversation_log_lines(env, caplog, 2)
    many = await conversation_log_lines(env, caplog, 60)
    assert [r.getMessage() for r in few] == [r.getMessage() for r in many]
    ended = [r for r in many if r.getMessage() == "conversation ended"]
    assert len(ended) == 1
    assert ended[0].__dict__["audio_bytes_in"] == 60 * 160
    assert ended[0].__dict__["reason"] == "STOP_REASON_CLIENT_ENDED"
