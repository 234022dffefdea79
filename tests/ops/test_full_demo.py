"""The README's FULL one-liner (examples/full-demo.sh) as written: it makes its own network
namespace, waits for the bridge, runs a FULL speak_text conversation and leaves nothing running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120


def netns_possible() -> bool:
    probe = subprocess.run(
        ["bash", "-c", "unshare -n true || unshare -rn true"], capture_output=True, check=False
    )
    return probe.returncode == 0


@pytest.mark.skipif(not netns_possible(), reason="cannot create a network namespace here")
def test_full_demo_runs_a_full_conversation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make full-demo" in readme
    result = subprocess.run(
        ["make", "--silent", "--no-print-directory", "full-demo"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    decoder = json.JSONDecoder()
    text, pos, events = result.stdout, 0, []
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        obj, pos = decoder.raw_decode(text, pos)
        events.append(obj)
    kinds = [next(k for k in e if k != "request_id") for e in events]
    assert kinds[0] == "session_started" and events[0]["session_started"]["mode"] == "MODE_FULL"
    assert "avatar_speak_ended" in kinds
    assert events[-1]["session_stopped"]["reason"] == "STOP_REASON_CLIENT_ENDED"
