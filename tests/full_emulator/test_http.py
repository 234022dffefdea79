"""Signalling HTTP behaviour of the LiveKit-compatible server (no WebRTC needed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import aiohttp

from liveavatar_emulator.full import LiveKitFullBackend

from .conftest import StubSession, fast_config, mint_token, token_request

RUN_SH = Path(__file__).resolve().parents[1] / "netns" / "run.sh"


async def test_rejects_bad_tokens_and_unknown_rooms() -> None:
    async with LiveKitFullBackend(fast_config()) as backend:
        session = StubSession(token_request(), backend=backend)
        await backend.session_started(session)
        base = f"http://127.0.0.1:{backend.server.port}"
        good = mint_token(backend.config, "client", session.id)
        bad = mint_token(backend.config, "client", session.id, secret="x" * 40)
        other_room = mint_token(backend.config, "client", "no-such-room")
        async with aiohttp.ClientSession() as http:
            for path in ("/rtc/v1", "/rtc"):
                async with http.get(base + path, headers={"Authorization": f"Bearer {bad}"}) as r:
                    assert r.status == 401
                async with http.get(base + path) as r:
                    assert r.status == 401
            async with http.get(f"{base}/rtc/validate?access_token={good}") as r:
                assert r.status == 200
            async with http.get(f"{base}/rtc/validate?access_token={other_room}") as r:
                assert r.status == 404
            async with http.get(f"{base}/rtc/v1?access_token={good}") as r:
                assert r.status == 400  # no join_request
            async with http.get(f"{base}/_emulator/livekit/rooms") as r:
                rooms = (await r.json())["rooms"]
            assert [room["name"] for room in rooms] == [session.id]
            assert rooms[0]["sid"].startswith("RM_")
            assert rooms[0]["agent"]["restricted_mode"] is False
            async with http.get(f"{base}/_emulator/livekit/rooms/{session.id}/participants") as r:
                identities = {p["identity"] for p in (await r.json())["participants"]}
            assert identities == {"heygen", f"liveavatar-agent-{session.id}"}
            async with http.get(f"{base}/_emulator/livekit/rooms/nope/packets") as r:
                assert r.status == 404
        await session.end("USER_CLOSED")
        packets = backend.inspect_room(session.id)
        assert packets is not None
        assert packets["packets"][-1]["payload_json"]["event_type"] == "session.stopped"


async def test_v1_disabled_answers_404() -> None:
    async with (
        LiveKitFullBackend(fast_config(v1_enabled=False)) as backend,
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{backend.server.port}/rtc/v1") as r,
    ):
        assert r.status == 404


def test_tokens_for_identities() -> None:
    backend = LiveKitFullBackend(fast_config(full_agent_token=True))
    session = StubSession(token_request())
    client, agent = backend.tokens_for(session)
    from livekit import api

    verifier = api.TokenVerifier(backend.config.api_key, backend.config.api_secret)
    claims = verifier.verify(client)
    assert claims.identity == "client"
    assert claims.video is not None and claims.video.room == session.id
    assert agent is not None
    assert verifier.verify(agent).identity == f"agent-{session.id[:8]}"
    assert LiveKitFullBackend(fast_config()).tokens_for(session)[1] is None


def test_netns_script_skip_ok_when_unshare_missing(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    env = {"PATH": str(tmp_path)}  # no unshare, no ip
    cmd = ["/bin/bash", str(RUN_SH), "--skip-ok", "/bin/touch", str(marker)]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "unshare" in result.stderr
    assert not marker.exists()
    strict = subprocess.run(cmd[:2] + cmd[3:], env=env, capture_output=True, timeout=30)
    assert strict.returncode != 0
    assert not marker.exists()
