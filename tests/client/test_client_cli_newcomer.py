"""What a newcomer types: --json on either side of the command, the sandbox by default for the
sandbox avatar (as the grpcurl examples), and --version."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from avatar_bridge_client import cli

from .conftest import FakeClock, FakeServer


async def run(fake_bridge: FakeServer, *argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.run(
        [*argv, "--target", fake_bridge.target], stdout=out, stderr=err, clock=FakeClock()
    )
    assert code == 0, err.getvalue()
    return code, out.getvalue()


@pytest.mark.parametrize(
    "argv", [["--json", "sessions"], ["sessions", "--json"], ["--json", "sessions", "--json"]]
)
async def test_json_before_or_after_the_command(fake_bridge: FakeServer, argv: list[str]) -> None:
    _, out = await run(fake_bridge, *argv)
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["session_id"] for line in lines] == ["s-0", "s-1", "s-2"]


async def test_text_without_json(fake_bridge: FakeServer) -> None:
    _, out = await run(fake_bridge, "sessions")
    assert out.splitlines()[0].startswith('session_id: "s-0"')
    with pytest.raises(json.JSONDecodeError):
        json.loads(out.splitlines()[0])


@pytest.mark.parametrize(
    ("flags", "sandbox"),
    [
        ([], True),
        (["--no-sandbox"], False),
        (["--avatar-id", "0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"], False),
        (["--avatar-id", "0f3c2a1e-5b6d-4e7f-8a9b-0c1d2e3f4a5b", "--sandbox"], True),
    ],
)
async def test_sandbox_default_follows_the_avatar(
    fake_bridge: FakeServer, speech_wav: Path, flags: list[str], sandbox: bool
) -> None:
    await run(fake_bridge, "say", str(speech_wav), "--no-realtime", *flags)
    config = fake_bridge.fake.last.requests[0].config
    assert config.create.is_sandbox is sandbox


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.build_parser().parse_args(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == "avatar-bridge-client 0.1.0"
