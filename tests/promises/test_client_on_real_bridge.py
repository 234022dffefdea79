"""The client library and CLI against the real bridge and the emulator (not the fake bridge).

Also the README's attach promise for LITE: a session started elsewhere is driven through the
bridge and, without stop_on_end, left running for its owner.
"""

from __future__ import annotations

import io
import json
import wave
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from conftest import API_KEY
from server.conftest import Env
from server.helpers import SANDBOX_AVATAR_ID, WAIT_S

from avatar_bridge_client import AvatarBridgeClient, BridgeRPCError, cli, lite_session
from avatarbridge.v1 import avatar_bridge_pb2 as pb


def write_wav(path: Path, frames: int, rate: int = 16000) -> Path:
    """Mono PCM16 ramp, with the stdlib."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(
            b"".join((i % 2000).to_bytes(2, "little", signed=True) for i in range(frames))
        )
    return path


async def run_cli(env: Env, *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await cli.run([*argv, "--target", env.bridge.target], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


async def start_lite_elsewhere(env: Env) -> dict[str, Any]:
    """Create and start a LITE session the way another service would: LiveAvatar's REST API."""
    async with httpx.AsyncClient(base_url=env.bridge.server.config.api_url, timeout=WAIT_S) as http:
        token = await http.post(
            "/v1/sessions/token",
            headers={"X-API-KEY": API_KEY},
            json={"mode": "LITE", "avatar_id": SANDBOX_AVATAR_ID},
        )
        token.raise_for_status()
        session_token = token.json()["data"]["session_token"]
        start = await http.post(
            "/v1/sessions/start", headers={"Authorization": f"Bearer {session_token}"}
        )
        start.raise_for_status()
        data: dict[str, Any] = start.json()["data"]
        return data


async def test_cli_say_speaks_a_wav_through_the_real_bridge(env: Env, tmp_path: Path) -> None:
    wav = write_wav(tmp_path / "hello.wav", 4000)  # 250 ms at 16 kHz.
    code, out, err = await run_cli(env, "say", str(wav), "--json")
    assert code == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    kinds = [next(k for k in e if k != "request_id") for e in events]
    assert kinds[0] == "session_started"
    assert "avatar_speak_started" in kinds and "avatar_speak_ended" in kinds
    assert kinds[-1] == "session_stopped"
    session_id = events[0]["session_started"]["session_id"]
    # 4,000 samples at 16 kHz are exactly 6,000 samples at 24 kHz.
    assert len(await env.emu.audio(session_id)) == 6_000 * 2
    assert (await env.emu.session(session_id))["end_reason"] == "USER_CLOSED"


async def test_cli_attaches_to_a_lite_session_then_an_operator_stops_it(
    env: Env, tmp_path: Path
) -> None:
    started = await start_lite_elsewhere(env)
    session_id = started["session_id"]
    wav = write_wav(tmp_path / "hello.wav", 4000)
    code, out, err = await run_cli(
        env, "say", str(wav), "--attach", session_id, "--ws-url", started["ws_url"], "--json"
    )
    assert code == 0, err
    first = json.loads(out.splitlines()[0])["session_started"]
    assert first["session_id"] == session_id and first["attached"] is True
    assert len(await env.emu.audio(session_id)) == 6_000 * 2
    # Not stop_on_end: the session outlives the conversation, for its owner.
    assert (await env.emu.session(session_id))["status"] == "started"

    code, out, err = await run_cli(env, "sessions", "--json")
    assert code == 0, err
    code, out, err = await run_cli(env, "stop", session_id)
    assert code == 0, err
    assert (await env.emu.wait_ended(session_id))["status"] == "ended"


async def test_library_conversation_on_the_real_bridge(env: Env) -> None:
    fmt = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=8000, channel_count=1)
    async with AvatarBridgeClient(env.bridge.target) as client:
        conversation = await client.converse(lite_session(input_audio=fmt))
        session_id = conversation.session_id
        await conversation.send_audio(b"\xff" * 800, request_id="lib-1")  # 100 ms.
        await conversation.speak_end()
        await conversation.close()
        events = await conversation.drain()
        ended = [e for e in events if e.HasField("avatar_speak_ended")]
        assert [e.avatar_speak_ended.utterance_id for e in ended] == ["lib-1"]
        assert events[-1].session_stopped.reason == pb.STOP_REASON_CLIENT_ENDED
        listed = await client.list_sessions()
        assert session_id not in [s.session_id for s in listed.sessions]
    # 800 samples at 8 kHz are exactly 2,400 samples at 24 kHz.
    assert len(await env.emu.audio(session_id)) == 2_400 * 2


async def test_library_raises_the_bridge_status_on_a_bad_config(env: Env) -> None:
    bad = pb.AudioFormat(encoding=pb.AUDIO_ENCODING_MULAW, sample_rate_hertz=96000)
    async with AvatarBridgeClient(env.bridge.target) as client:
        with pytest.raises(BridgeRPCError) as caught:
            await client.converse(lite_session(input_audio=bad))
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert await env.emu.sessions() == []
