"""The newcomer path: a busy port gives one line naming it (no traceback), and --version."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
TIMEOUT_S = 60


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A loopback port some other process holds (ephemeral, so no clash with real servers)."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def run(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEAVATAR_", "AVATAR_"))}
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def assert_names_port(result: subprocess.CompletedProcess[str], port: int, flag: str) -> None:
    assert result.returncode == 1, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"127.0.0.1:{port}" in last and "in use" in last and flag in last, result.stderr
    assert "Traceback" not in result.stderr


def test_emulator_port_in_use(busy_port: int) -> None:
    result = run("liveavatar-emulator", "--port", str(busy_port), "--livekit-port", "0")
    assert_names_port(result, busy_port, "--port")


def test_bridge_listen_port_in_use(busy_port: int) -> None:
    env = {"LIVEAVATAR_API_KEY": "k", "LIVEAVATAR_API_URL": "http://127.0.0.1:9"}
    result = run("avatar-bridge", "serve", "--listen", f"127.0.0.1:{busy_port}", env=env)
    assert_names_port(result, busy_port, "--listen")


def test_bridge_embedded_emulator_port_in_use(busy_port: int) -> None:
    result = run(
        "avatar-bridge",
        "serve",
        "--emulator",
        "--listen",
        "127.0.0.1:0",
        "--emulator-port",
        str(busy_port),
        "--emulator-livekit-port",
        "0",
    )
    assert_names_port(result, busy_port, "--emulator-port")


def test_bridge_embedded_livekit_port_in_use(busy_port: int) -> None:
    result = run(
        "avatar-bridge",
        "serve",
        "--emulator",
        "--listen",
        "127.0.0.1:0",
        "--emulator-port",
        "0",
        "--emulator-livekit-port",
        str(busy_port),
    )
    assert_names_port(result, busy_port, "--emulator-livekit-port")


@pytest.mark.parametrize("command", ["avatar-bridge", "liveavatar-emulator"])
def test_version(command: str) -> None:
    result = run(command, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{command} 0.1.0"
