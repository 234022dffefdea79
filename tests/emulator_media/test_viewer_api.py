"""The viewer page's routes (no browser): page, session list, join token, LITE event feed."""

from __future__ import annotations

import httpx
from emulator.helpers import WAIT, create, full_body, lite_ws, pcm, speak, start

from liveavatar_emulator import Emulator
from liveavatar_emulator.full import LiveKitFullBackend


async def test_page_lists_sessions_and_hands_out_a_token_the_server_accepts(
    backend: LiveKitFullBackend, emu: Emulator
) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        page = await http.get("/viewer")
        assert page.status_code == 200
        assert "LiveAvatar emulator viewer" in page.text
        lite_sid, lite_token = await create(http)
        await start(http, lite_token)
        full_sid, full_token = await create(http, full_body())
        await start(http, full_token)
        listed = (await http.get("/viewer/api/sessions")).json()["sessions"]
        assert [(s["id"], s["mode"], s["watchable"]) for s in listed] == [
            (full_sid, "FULL", True),
            (lite_sid, "LITE", True),
        ]
        for sid, avatar in ((lite_sid, "heygen"), (full_sid, "heygen")):
            access = (await http.post(f"/viewer/api/sessions/{sid}/join")).json()
            assert access["room"] == sid
            assert access["avatar_identity"] == avatar
            assert access["identity"].startswith("viewer-")
            validate = access["livekit_url"].replace("ws://", "http://") + "/rtc/validate"
            check = await http.get(validate, params={"access_token": access["token"]})
            assert check.status_code == 200, check.text
        missing = await http.post("/viewer/api/sessions/nope/join")
        assert missing.status_code == 404


async def test_event_feed_shows_the_lite_socket_traffic_incrementally(
    backend: LiveKitFullBackend, emu: Emulator
) -> None:
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=WAIT) as http:
        sid, token = await create(http)
        data = await start(http, token)
        async with lite_ws(str(data["ws_url"])) as ws:
            first = (await http.get(f"/viewer/api/sessions/{sid}/events")).json()
            assert [e["text"] for e in first["events"]] == ["avatar <- session.state_updated"]
            await ws.send(speak(pcm(4800), "U7"))
            await ws.send({"type": "agent.speak_end", "event_id": "E7"})
            await ws.wait_type("agent.speak_ended")
            feed = await http.get(
                f"/viewer/api/sessions/{sid}/events", params={"after": first["next"]}
            )
            texts = [e["text"] for e in feed.json()["events"]]
            assert texts[0] == "client -> agent.speak U7"
            assert "client -> agent.speak_end E7" in texts
            assert "avatar <- agent.speak_started U7" in texts
            assert texts.index("avatar <- agent.speak_ended U7") > texts.index(
                "avatar <- agent.speak_started U7"
            )
