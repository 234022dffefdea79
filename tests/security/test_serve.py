"""The real `avatar-bridge` process: no silent fake, `hash-key`, the start-up log, SIGHUP, and
the Python client CLI's TLS and key options against it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from server.helpers import WAIT_S  # tests/server/helpers.py

from avatar_bridge.security.keys import parse_auth_file
from server import commands  # tests/server/commands.py

from .certs import CertFiles
from .conftest import OPERATOR_KEY, auth_toml

BIN = Path(sys.executable).parent
BRIDGE = BIN / "avatar-bridge"
CLIENT = BIN / "avatar-bridge-client"


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEAVATAR_", "AVATAR_"))}
    env.update(extra)
    return env


async def run(*argv: str, env: dict[str, str], stdin: bytes = b"") -> tuple[int, str, str]:
    return await commands.run(*argv, env=env, stdin=stdin, within_s=60.0)


async def test_serve_without_a_key_refuses_to_start() -> None:
    code, _, err = await run(
        str(BRIDGE), "serve", env=clean_env(AVATAR_BRIDGE_LISTEN="127.0.0.1:0")
    )
    assert code != 0
    assert "no LiveAvatar API key" in err and "LIVEAVATAR_API_KEY" in err
    assert "--emulator" in err


async def test_hash_key_makes_a_working_entry() -> None:
    code, out, _ = await run(
        str(BRIDGE), "hash-key", "billing", "--roles", "converse,operate", env=clean_env()
    )
    assert code == 0
    key_line, *entry = out.splitlines()
    key = key_line.rsplit(" ", 1)[-1]
    assert key.startswith("abk_") and len(key) > 40
    parsed = parse_auth_file("\n".join(entry))
    principal = parsed.principal_for_key(key)
    assert principal is not None and principal.name == "billing"
    assert principal.roles == {"converse", "operate"}
    assert key not in "\n".join(entry)  # Only the hash goes into the file.
    assert parsed.principal_for_key(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    # --stdin hashes a key the operator already has.
    code, out, _ = await run(
        str(BRIDGE), "hash-key", "ivr", "--stdin", env=clean_env(), stdin=b"my-own-key-0123456789\n"
    )
    assert code == 0 and "my-own-key" not in out
    assert parse_auth_file(out).principal_for_key("my-own-key-0123456789") is not None


class Serve:
    """`avatar-bridge serve --emulator` over mTLS with an auth file; stderr collected."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        assert proc.stderr is not None
        self._reader = asyncio.create_task(self._collect(proc.stderr))

    async def _collect(self, stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            self.lines.append(line.decode("utf-8", "replace").rstrip("\n"))

    async def record(self, message: str) -> dict[str, object]:
        """The first JSON log record with this message (bounded wait)."""
        async with asyncio.timeout(60.0):  # First start imports the world.
            while True:
                for line in self.lines:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if record.get("message") == message:
                            return dict(record)
                assert self.proc.returncode is None, "\n".join(self.lines)
                await asyncio.sleep(0.05)


@pytest.fixture
async def serve(certs: CertFiles, tmp_path: Path) -> AsyncIterator[tuple[Serve, Path]]:
    auth = tmp_path / "serve-auth.toml"
    auth.write_text(auth_toml({"operator": {"roles": ["operate"], "keys": [OPERATOR_KEY]}}))
    proc = await asyncio.create_subprocess_exec(
        str(BRIDGE),
        "serve",
        "--emulator",
        "--listen=127.0.0.1:0",
        "--emulator-port=0",
        "--emulator-livekit-port=0",
        f"--tls-cert={certs.server_cert}",
        f"--tls-key={certs.server_key}",
        f"--tls-client-ca={certs.ca}",
        f"--auth-file={auth}",
        "--reload-interval-s=3600",  # Only SIGHUP reloads in this test.
        env=clean_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    running = Serve(proc)
    try:
        yield running, auth
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), WAIT_S)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(running._reader, 5.0)


async def test_startup_log_sighup_reload_and_client_cli_options(
    serve: tuple[Serve, Path], certs: CertFiles
) -> None:
    running, auth = serve
    started = await running.record("avatar-bridge listening")
    assert started["upstream"] == "embedded emulator"
    assert started["transport"] == "mtls"
    assert started["authentication"] == "api-key+mtls"
    target = f"127.0.0.1:{started['port']}"
    tls = [
        "--tls-ca",
        str(certs.ca),
        "--tls-cert",
        str(certs.client_cert),
        "--tls-key",
        str(certs.client_key),
    ]

    async def sessions(key: str) -> tuple[int, str, str]:
        return await run(
            str(CLIENT),
            "sessions",
            "--target",
            target,
            *tls,
            env=clean_env(AVATAR_BRIDGE_API_KEY=key),
        )

    code, _, err = await sessions(OPERATOR_KEY)
    assert code == 0, err
    new_key = "abk_after-sighup-0123456789abcdefghij"
    code, _, err = await sessions(new_key)
    assert code != 0 and "UNAUTHENTICATED" in err, err
    # Rotate: the new key replaces the old; SIGHUP makes the server read it now.
    await asyncio.to_thread(
        auth.write_text, auth_toml({"operator": {"roles": ["operate"], "keys": [new_key]}})
    )
    running.proc.send_signal(signal.SIGHUP)
    await running.record("auth file reloaded")
    code, _, err = await sessions(new_key)
    assert code == 0, err
    code, _, err = await sessions(OPERATOR_KEY)
    assert code != 0 and "UNAUTHENTICATED" in err, err
    # Never a caller key in the server's log.
    assert not [line for line in running.lines if OPERATOR_KEY in line or new_key in line]
