"""The test-only inspection API under /_emulator/."""

from __future__ import annotations

import httpx

from liveavatar_emulator import Emulator

from .helpers import WAIT, create, fast, lite_body, lite_ws, pcm, running, speak, started_lite


async def test_sessions_listing_and_redaction(client: httpx.AsyncClient) -> None:
    byo = {"livekit_url": "wss://mine", "livekit_room": "r", "livekit_client_token": "s3cr3t"}
    sid, _ = await create(client, lite_body(livekit_config=byo, is_sandbox=True))
    listing = (await client.get("/_emulator/sessions")).json()["sessions"]
    assert [s["id"] for s in listing] == [sid]
    item = listing[0]
    assert item["mode"] == "LITE" and item["status"] == "created"
    assert item["is_sandbox"] is True and item["end_reason"] is None
    assert item["max_duration"] == 1200 and item["pcm_bytes"] == 0
    assert item["token_request"]["livekit_config"]["livekit_client_token"] == "***"
    assert item["token_request"]["livekit_config"]["livekit_room"] == "r"
    assert "s3cr3t" not in (await client.get(f"/_emulator/sessions/{sid}")).text
    assert (await client.get("/_emulator/sessions/nope")).status_code == 404
    assert (await client.get("/_emulator/sessions/nope/audio")).status_code == 404


async def test_detail_command_log_and_events(client: httpx.AsyncClient) -> None:
    sid, _, data = await started_lite(client)
    async with lite_ws(data["ws_url"]) as ws:
        await ws.send(speak(pcm(480), "U"))
        await ws.send({"type": "agent.speak_end", "event_id": "U"})
        await ws.send({"type": "session.keep_alive"})
        await ws.wait_type("agent.speak_ended")
    detail = (await client.get(f"/_emulator/sessions/{sid}")).json()
    log = detail["command_log"]
    assert [(c["type"], c["event_id"], c["dropped"]) for c in log] == [
        ("agent.speak", "U", False),
        ("agent.speak_end", "U", False),
        ("session.keep_alive", None, False),
    ]
    assert log[0]["size"] > 640  # base64 of 480 bytes plus the JSON around it
    assert log[0]["at"] <= log[1]["at"] <= log[2]["at"]
    sent = [e["type"] for e in detail["events"]]
    assert sent[0] == "session.state_updated"
    assert "agent.speak_started" in sent and "agent.speak_ended" in sent
    assert detail["counts"]["agent.speak"] == 1
    assert detail["pcm_bytes"] == 480 and detail["played_bytes"] == 480
    assert detail["utterances"][0]["id"] == "U"
    assert detail["ws_connected"] is False and detail["ws_connections"] == 1


async def test_active_end_drop_and_reset(emu: Emulator, client: httpx.AsyncClient) -> None:
    sid, _, data = await started_lite(client)
    other, _ = await create(client)
    assert set((await client.get("/_emulator/active")).json()["active"]) == {sid, other}

    async with lite_ws(data["ws_url"]) as ws:
        resp = await client.post(f"/_emulator/sessions/{sid}/drop_ws", json={"code": 1011})
        assert resp.json() == {"dropped": 1}
        code, _ = await ws.closed()
        assert code == 1011
    assert (await client.get(f"/_emulator/sessions/{sid}")).json()["status"] == "started"

    async with lite_ws(data["ws_url"]) as ws:
        resp = await client.post(f"/_emulator/sessions/{sid}/end", json={"reason": "NO_CREDITS"})
        assert resp.json() == {"ended": True, "end_reason": "NO_CREDITS"}
        assert await ws.closed() == (1000, "NO_CREDITS")
    assert (await client.get("/_emulator/active")).json()["active"] == [other]

    assert (await client.post("/_emulator/reset")).json() == {"reset": True}
    assert (await client.get("/_emulator/sessions")).json()["sessions"] == []
    assert emu.registry.get(other) is None


async def test_record_hook_for_full_backend(emu: Emulator, client: httpx.AsyncClient) -> None:
    sid, _ = await create(client)
    session = emu.registry.get(sid)
    assert session is not None
    session.record("data_packet", {"topic": "agent-control", "size": 12})
    detail = (await client.get(f"/_emulator/sessions/{sid}")).json()
    assert detail["records"][0]["kind"] == "data_packet"
    assert detail["records"][0]["topic"] == "agent-control"
    assert detail["counts"]["data_packet"] == 1


async def test_played_endpoint_while_playing() -> None:
    async with (
        running(fast()) as emu,
        httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http,
    ):
        sid, _, data = await started_lite(http)
        async with lite_ws(data["ws_url"]) as ws:
            await ws.send(speak(pcm(48_000 * 5), "U"))
            await ws.wait_type("agent.speak_started")
            played = (await http.get(f"/_emulator/sessions/{sid}/played")).json()
            assert played["received_bytes"] == 48_000 * 5
            assert played["buffered_bytes"] > 0
            assert played["played_bytes"] + played["buffered_bytes"] == 48_000 * 5
            assert played["utterances"][0]["end"] is None
