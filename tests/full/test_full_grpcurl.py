"""The real grpcurl drives a FULL conversation exactly as the README shows."""

from __future__ import annotations

import pytest
from server.test_grpcurl import GRPCURL, SERVICE, field, json_stream, sh

from .conftest import FullEnv

pytestmark = [
    pytest.mark.full,
    pytest.mark.skipif(not GRPCURL.exists(), reason=f"no grpcurl at {GRPCURL}"),
]


async def test_converse_full_hello_example(env: FullEnv) -> None:
    code, out, err = await sh(
        f"grpcurl -plaintext -d @ {env.bridge.target} {SERVICE}/Converse"
        " < examples/grpcurl/full-hello.jsonl"
    )
    assert code == 0, err
    events = json_stream(out)
    kinds = [next(k for k in e if k not in ("requestId", "request_id")) for e in events]
    assert field(events[0], "session_started")["mode"] == "MODE_FULL"
    transcripts = [field(e, "transcription") for e in events if "transcription" in e]
    assert any(t.get("text") == "Hello from grpcurl" for t in transcripts)
    started = [e for e in events if field(e, "avatar_speak_started") is not None]
    ended = [e for e in events if field(e, "avatar_speak_ended") is not None]
    assert [field(e, "request_id") for e in started] == ["say-1"]
    assert [field(e, "request_id") for e in ended] == ["say-1"]
    assert kinds.index(next(k for k in kinds if "SpeakStarted" in k or "speak_started" in k)) < (
        kinds.index(next(k for k in kinds if "SpeakEnded" in k or "speak_ended" in k))
    )
    stopped = field(events[-1], "session_stopped")
    assert stopped["reason"] == "STOP_REASON_CLIENT_ENDED"
