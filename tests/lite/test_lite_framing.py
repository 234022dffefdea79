"""LITE frames: the agent.speak template gives exactly what a JSON encoder would."""

from __future__ import annotations

import base64
import json

from avatar_bridge.lite.transport import encode


def test_speak_template_is_the_json_of_the_same_message() -> None:
    pcm = bytes(range(256)) * 10
    audio = base64.b64encode(pcm)
    frame = encode({"type": "agent.speak", "event_id": "0a1b2c", "audio": audio})
    assert json.loads(frame) == {
        "type": "agent.speak",
        "event_id": "0a1b2c",
        "audio": audio.decode(),
    }
    assert base64.b64decode(json.loads(frame)["audio"]) == pcm


def test_an_event_id_that_needs_escaping_falls_back_to_json() -> None:
    message = {"type": "agent.speak", "event_id": 'a"b', "audio": b"AAAA"}
    assert json.loads(encode(message)) == {
        "type": "agent.speak",
        "event_id": 'a"b',
        "audio": "AAAA",
    }


def test_other_messages_are_plain_json() -> None:
    assert json.loads(encode({"type": "agent.speak_end", "event_id": "x1"})) == {
        "type": "agent.speak_end",
        "event_id": "x1",
    }
