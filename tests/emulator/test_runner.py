"""The in-process runner and the console script."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import httpx
import pytest

from liveavatar_emulator import Emulator, EmulatorConfig
from liveavatar_emulator.cli import build_parser, config_from_args

from .helpers import WAIT, fast, lite_ws, started_lite


async def test_emulator_exit_ends_sessions_and_frees_port() -> None:
    emu = Emulator(fast())
    await emu.__aenter__()
    try:
        port = emu.port
        assert emu.base_url == f"http://127.0.0.1:{port}"
        assert isinstance(emu.config, EmulatorConfig)
        async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
            sid, _, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            await emu.__aexit__(None, None, None)
            assert await ws.closed() == (1001, "UNKNOWN")
    finally:
        await emu.__aexit__(None, None, None)  # idempotent
    session = emu.registry.get(sid)
    assert session is not None and session.end_reason == "UNKNOWN"
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient(timeout=WAIT) as http:
            await http.get(f"http://127.0.0.1:{port}/_emulator/active")


def test_cli_options_map_to_config() -> None:
    args = build_parser().parse_args(
        [
            *("--api-key", "k1", "--api-key", "k2", "--time-scale", "0.5", "--port", "0"),
            *("--lite-event-profile", "observed", "--oversize-policy", "close"),
        ]
    )
    config = config_from_args(args)
    assert config.api_keys == ("k1", "k2")
    assert config.time_scale == 0.5
    assert config.lite_event_profile == "observed"
    assert config.oversize_policy == "close"
    assert args.port == 0
    assert config.public_host == "127.0.0.1"
    wildcard = config_from_args(build_parser().parse_args(["--host", "0.0.0.0"]))
    assert wildcard.public_host == "127.0.0.1"


async def test_cli_serves_until_sigint() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "liveavatar_emulator.cli",
        *("--port", "0", "--livekit-port", "0", "--api-key", "cli-key"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            lines = [(await proc.stdout.readline()).decode().strip() for _ in range(3)]
        base_url = lines[0].rsplit(" ", 1)[-1]
        livekit_url = lines[1].rsplit(" ", 1)[-1]
        assert base_url.startswith("http://127.0.0.1:")
        assert lines[1].startswith("LiveKit server: ws://127.0.0.1:")
        assert lines[2] == "API key: cli-key"
        async with httpx.AsyncClient(base_url=base_url, timeout=WAIT) as http:
            resp = await http.get("/v1/users/credits", headers={"X-API-KEY": "cli-key"})
            assert resp.status_code == 200
            # A LITE session's room is on the built-in LiveKit server, which accepts its tokens.
            made = await http.post(
                "/v1/sessions/token",
                headers={"X-API-KEY": "cli-key"},
                json={"mode": "LITE", "avatar_id": "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"},
            )
            token = made.json()["data"]["session_token"]
            started = await http.post(
                "/v1/sessions/start", headers={"Authorization": f"Bearer {token}"}
            )
            data = started.json()["data"]
            assert data["livekit_url"] == livekit_url
            http_url = livekit_url.replace("ws://", "http://")
            for key in ("livekit_client_token", "livekit_agent_token"):
                check = await http.get(
                    f"{http_url}/rtc/validate", params={"access_token": data[key]}
                )
                assert check.status_code == 200, check.text
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(30):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
