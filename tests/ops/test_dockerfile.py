"""The Dockerfile's own install commands, run here (no Docker engine on this machine).

The build stage's RUN lines build the wheels; the production (`bridge`) stage's RUN line
installs them into a fresh venv. Image paths (/src, /wheels, /opt/venv) map to a temp dir, and
pip may use its cache (the image build passes --no-cache-dir only to keep layers small). Then the
installed bridge runs against the emulator: health SERVING through the image's HEALTHCHECK
module, one real RPC, a clean exit on SIGTERM; and the emulator is absent from that venv. The
`emulator` stage's install runs too, and that bridge serves keyless on its embedded emulator.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from avatarbridge.v1 import avatar_bridge_pb2 as pb
from avatarbridge.v1 import avatar_bridge_pb2_grpc as pb_grpc
from liveavatar_emulator import Emulator

from . import dockerfile

ROOT = Path(__file__).resolve().parents[2]
HADOLINT = Path(sys.executable).parent / "hadolint"
API_KEY = "test-api-key-0123456789"  # tests/conftest.py's emulator accepts this key
WAIT_S = 15.0
COLD_START_S = 60.0
"""A fresh interpreter importing grpc (the bridge, the health check) on a loaded machine."""
INSTALL_TIMEOUT_S = 600
# The first test that needs the built image pays for the build in its setup: pip building and
# installing wheels takes minutes on a loaded machine, past the suite's 120 s per test.
pytestmark = pytest.mark.timeout(2 * INSTALL_TIMEOUT_S)


@pytest.fixture(scope="module")
def stages() -> dict[str, dockerfile.Stage]:
    return dockerfile.parse(ROOT / "Dockerfile")


def test_image_structure(stages: dict[str, dockerfile.Stage]) -> None:
    assert list(stages)[-1] == "bridge", "the production image must be the default (last) target"
    for target in ("bridge", "emulator"):
        users = stages[target].args("USER")
        assert users and users[-1] == "10001:10001", f"{target} must run as a numeric non-root user"
    bridge_install = " ".join(stages["bridge"].args("RUN"))
    assert "[emulator]" not in bridge_install
    assert "[emulator]" in " ".join(stages["emulator"].args("RUN"))
    healthcheck = stages["runtime"].args("HEALTHCHECK")[0]
    assert '"avatar_bridge.healthcheck"' in healthcheck and "50051" not in healthcheck


@pytest.mark.skipif(not HADOLINT.exists(), reason=f"no hadolint at {HADOLINT}")
def test_hadolint_clean() -> None:
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "Dockerfile"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def image_paths(command: str, tmp: Path, venv: str = "venv") -> str:
    for image_path, here in (("/wheels", tmp / "wheels"), ("/opt/venv", tmp / venv)):
        command = command.replace(image_path, str(here))
    return command.replace("--no-cache-dir ", "")


def sh(command: str, cwd: Path, path_first: Path) -> None:
    env = {**os.environ, "PATH": f"{path_first}{os.pathsep}{os.environ['PATH']}"}
    env.pop("VIRTUAL_ENV", None)
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{command}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"


@pytest.fixture(scope="module")
def built_wheels(
    stages: dict[str, dockerfile.Stage], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The build stage, run: a temp dir holding base/ (the image's python) and wheels/."""
    tmp = tmp_path_factory.mktemp("image")
    # The image's own interpreter and pip: a bare venv stands in for python:3.11-slim.
    subprocess.run(
        [sys.executable, "-m", "venv", str(tmp / "base")], check=True, timeout=INSTALL_TIMEOUT_S
    )
    base_bin = tmp / "base" / "bin"
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "node_modules", "*.egg-info", ".venv")
    for copy in stages["build"].args("COPY"):
        for source in dockerfile.copy_sources(copy):
            origin = ROOT / source
            if origin.is_dir():
                shutil.copytree(origin, src / source, ignore=ignore)
            else:
                shutil.copy2(origin, src / source)
    for run in stages["build"].args("RUN"):
        sh(image_paths(dockerfile.run_command(run), tmp), src, base_bin)
    return tmp


def install_stage(stage: dockerfile.Stage, tmp: Path, venv: str) -> Path:
    for run in stage.args("RUN"):
        sh(image_paths(dockerfile.run_command(run), tmp, venv), tmp, tmp / "base" / "bin")
    return tmp / venv


@pytest.fixture(scope="module")
def production_venv(stages: dict[str, dockerfile.Stage], built_wheels: Path) -> Path:
    return install_stage(stages["bridge"], built_wheels, "venv")


def test_production_venv_has_no_emulator(production_venv: Path) -> None:
    python = production_venv / "bin" / "python"
    for module in ("liveavatar_emulator", "aiortc", "fastapi"):
        probe = subprocess.run(
            [str(python), "-c", f"import {module}"], capture_output=True, timeout=60, check=False
        )
        assert probe.returncode != 0, f"{module} is installed in the production image"
    help_run = subprocess.run(
        [str(production_venv / "bin" / "avatar-bridge"), "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert help_run.returncode == 0 and "--listen" in help_run.stdout


async def read_port(stream: asyncio.StreamReader) -> int:
    """The bound port, from the bridge's structured 'listening' log line."""
    while True:
        line = await stream.readline()
        assert line, "the bridge exited before listening"
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("port"):
            return int(record["port"])


def test_production_venv_without_a_key_says_so(production_venv: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEAVATAR_", "AVATAR_"))}
    result = subprocess.run(
        [str(production_venv / "bin" / "avatar-bridge"), "serve", "--listen", "127.0.0.1:0"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "LIVEAVATAR_API_KEY" in result.stderr and "Traceback" not in result.stderr


async def test_installed_bridge_serves_and_drains(
    production_venv: Path, emulator: Emulator
) -> None:
    env = {
        **os.environ,
        "LIVEAVATAR_API_KEY": API_KEY,
        "LIVEAVATAR_API_URL": emulator.base_url,
    }
    await serve_health_rpc_sigterm(production_venv, env)


async def test_emulator_image_serves_keyless(
    stages: dict[str, dockerfile.Stage], built_wheels: Path
) -> None:
    venv = install_stage(stages["emulator"], built_wheels, "venv-emulator")
    image_env = dict(
        pair.split("=", 1) for env in stages["emulator"].args("ENV") for pair in env.split()
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEAVATAR_", "AVATAR_"))}
    env |= image_env | {
        "AVATAR_BRIDGE_EMULATOR_PORT": "0",
        "AVATAR_BRIDGE_EMULATOR_LIVEKIT_PORT": "0",
    }
    await serve_health_rpc_sigterm(venv, env)


async def serve_health_rpc_sigterm(venv: Path, base_env: dict[str, str]) -> None:
    """Start the installed bridge, check health and one RPC, SIGTERM, then health is gone."""
    env = {**base_env, "AVATAR_BRIDGE_LISTEN": "127.0.0.1:0", "AVATAR_BRIDGE_LOG_FORMAT": "json"}
    proc = await asyncio.create_subprocess_exec(
        str(venv / "bin" / "avatar-bridge"),
        "serve",
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stderr is not None
        port = await asyncio.wait_for(read_port(proc.stderr), COLD_START_S)
        health = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "python"),
            "-m",
            "avatar_bridge.healthcheck",
            env={**env, "AVATAR_BRIDGE_LISTEN": f"0.0.0.0:{port}"},
        )
        assert await asyncio.wait_for(health.wait(), COLD_START_S) == 0
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.AvatarBridgeServiceStub(channel)
            listed = await stub.ListSessions(pb.ListSessionsRequest(), timeout=WAIT_S)
            assert list(listed.sessions) == []
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), WAIT_S) == 0
        health = await asyncio.create_subprocess_exec(
            str(venv / "bin" / "python"),
            "-m",
            "avatar_bridge.healthcheck",
            env={**env, "AVATAR_BRIDGE_LISTEN": f"0.0.0.0:{port}"},
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert await asyncio.wait_for(health.wait(), COLD_START_S) == 1
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
