"""Regenerate the grpcurl example streams in this folder, byte for byte the same every time.

    python examples/grpcurl/make_examples.py          # rewrite every *.jsonl here
    python examples/grpcurl/make_examples.py --check  # exit 1 if a committed file is stale

Each file holds one ConverseRequest per line in protobuf's JSON mapping (what `grpcurl -d @`
reads): the config first, then audio or commands. End of file is the half-close that ends the
conversation. Standard library only.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"
"""The one avatar LiveAvatar's free sandbox allows."""
FULL_CONTEXT_ID = str(uuid.uuid5(uuid.NAMESPACE_URL, "avatar-bridge/examples/full-hello"))
"""Any uuid works against the emulator; use a real context id against LiveAvatar."""

SAMPLE_RATE_HZ = 8000
TONE_HZ = 300.0
DURATION_MS = 1500
CHUNK_MS = 100
FADE_MS = 50
AMPLITUDE = 0.3


def mulaw(sample: int) -> int:
    """One 16-bit linear sample to one G.711 mu-law byte (the classic Sun encoder)."""
    mask = 0xFF
    if sample < 0:
        sample, mask = -sample, 0x7F
    biased = min(sample, 32635) + 0x84
    exponent = max(0, min(7, biased.bit_length() - 8))
    mantissa = (biased >> (exponent + 3)) & 0x0F
    return ((exponent << 4) | mantissa) ^ mask


def tone() -> bytes:
    """DURATION_MS of a TONE_HZ sine with raised-cosine fades, as 8 kHz mono mu-law."""
    n = SAMPLE_RATE_HZ * DURATION_MS // 1000
    fade = SAMPLE_RATE_HZ * FADE_MS // 1000
    out = bytearray()
    for i in range(n):
        edge = min(i, n - 1 - i)
        gain = 0.5 - 0.5 * math.cos(math.pi * edge / fade) if edge < fade else 1.0
        value = AMPLITUDE * gain * math.sin(2 * math.pi * TONE_HZ * i / SAMPLE_RATE_HZ)
        out.append(mulaw(round(32767 * value)))
    return bytes(out)


def line(message: dict[str, object]) -> str:
    return json.dumps(message, separators=(",", ":")) + "\n"


def lite_hello() -> str:
    config = {
        "config": {
            "input_audio": {
                "encoding": "AUDIO_ENCODING_MULAW",
                "sample_rate_hertz": SAMPLE_RATE_HZ,
                "channel_count": 1,
            },
            "create": {"avatar_id": SANDBOX_AVATAR_ID, "is_sandbox": True, "lite": {}},
        }
    }
    lines = [line(config)]
    sound = tone()
    step = SAMPLE_RATE_HZ * CHUNK_MS // 1000
    for offset in range(0, len(sound), step):
        chunk: dict[str, object] = {
            "audio": {"data": base64.b64encode(sound[offset : offset + step]).decode("ascii")}
        }
        if offset == 0:
            chunk = {"request_id": "hello-1", **chunk}
        lines.append(line(chunk))
    lines.append(line({"request_id": "end-1", "speak_end": {}}))
    return "".join(lines)


def full_hello() -> str:
    config = {
        "config": {
            "create": {
                "avatar_id": SANDBOX_AVATAR_ID,
                "is_sandbox": True,
                "full": {
                    "persona": {"context_id": FULL_CONTEXT_ID},
                    "participation": "PARTICIPATION_USER",
                },
            }
        }
    }
    say = {"request_id": "say-1", "speak_text": {"text": "Hello from grpcurl"}}
    return line(config) + line(say)


MULAW_8K = {
    "encoding": "AUDIO_ENCODING_MULAW",
    "sample_rate_hertz": SAMPLE_RATE_HZ,
    "channel_count": 1,
}


def audio_lines(first_request_id: str) -> list[str]:
    """The tone in CHUNK_MS chunks; the first chunk's request_id names the utterance."""
    sound = tone()
    step = SAMPLE_RATE_HZ * CHUNK_MS // 1000
    lines = []
    for offset in range(0, len(sound), step):
        chunk: dict[str, object] = {
            "audio": {"data": base64.b64encode(sound[offset : offset + step]).decode("ascii")}
        }
        if offset == 0:
            chunk = {"request_id": first_request_id, **chunk}
        lines.append(line(chunk))
    return lines


def lite_commands() -> str:
    """Every LITE command: listening pose on and off, a keep-alive, an interrupted utterance,
    then one spoken to the end."""
    config = {
        "config": {
            "input_audio": MULAW_8K,
            "create": {"avatar_id": SANDBOX_AVATAR_ID, "is_sandbox": True, "lite": {}},
        }
    }
    lines = [line(config)]
    lines.append(line({"request_id": "listen-1", "start_listening": {}}))
    lines.append(line({"request_id": "listen-2", "stop_listening": {}}))
    lines.append(line({"request_id": "alive-1", "keep_alive": {}}))
    lines += audio_lines("talk-1")
    lines.append(line({"request_id": "cut-1", "interrupt": {}}))
    lines += audio_lines("talk-2")
    lines.append(line({"request_id": "end-2", "speak_end": {}}))
    return "".join(lines)


def full_config(**full: object) -> dict[str, object]:
    return {
        "avatar_id": SANDBOX_AVATAR_ID,
        "is_sandbox": True,
        "full": {
            "persona": {"context_id": FULL_CONTEXT_ID},
            "participation": "PARTICIPATION_USER",
            **full,
        },
    }


def full_commands() -> str:
    """Every FULL command but push-to-talk: listening pose, keep-alive (REST), interrupt, and
    speak_response (text as the LLM's answer)."""
    lines = [line({"config": {"create": full_config()}})]
    lines.append(line({"request_id": "listen-1", "start_listening": {}}))
    lines.append(line({"request_id": "listen-2", "stop_listening": {}}))
    lines.append(line({"request_id": "alive-1", "keep_alive": {}}))
    lines.append(line({"request_id": "cut-1", "interrupt": {}}))
    answer = {"request_id": "answer-1", "speak_response": {"text": "An answer from grpcurl"}}
    lines.append(line(answer))
    return "".join(lines)


def full_push_to_talk() -> str:
    """A push-to-talk FULL session: open the window, talk, close it."""
    create = full_config(interactivity_type="INTERACTIVITY_TYPE_PUSH_TO_TALK")
    lines = [line({"config": {"input_audio": MULAW_8K, "create": create}})]
    lines.append(line({"request_id": "ptt-1", "push_to_talk_start": {}}))
    lines += audio_lines("talk-1")
    lines.append(line({"request_id": "ptt-2", "push_to_talk_stop": {}}))
    return "".join(lines)


def lite_attach() -> str:
    """Attach to a LITE session started elsewhere: @SESSION_ID@ and @WS_URL@ are filled in by
    the cookbook's sed from that service's start answer."""
    attach = {
        "session_id": "@SESSION_ID@",
        "lite": {"ws_url": "@WS_URL@"},
        "stop_on_end": True,
    }
    lines = [line({"config": {"input_audio": MULAW_8K, "attach": attach}})]
    lines += audio_lines("hello-1")
    lines.append(line({"request_id": "end-1", "speak_end": {}}))
    return "".join(lines)


def full_attach() -> str:
    """Attach to a FULL session started elsewhere: @SESSION_ID@, @LIVEKIT_URL@ and
    @LIVEKIT_TOKEN@ (its livekit_client_token) are filled in by the cookbook's sed."""
    attach = {
        "session_id": "@SESSION_ID@",
        "full": {
            "livekit_url": "@LIVEKIT_URL@",
            "livekit_token": "@LIVEKIT_TOKEN@",
            "participation": "PARTICIPATION_USER",
        },
        "stop_on_end": True,
    }
    say = {"request_id": "say-1", "speak_text": {"text": "Hello from an attached grpcurl"}}
    return line({"config": {"attach": attach}}) + line(say)


EXAMPLES = {
    "lite-hello.jsonl": lite_hello,
    "full-hello.jsonl": full_hello,
    "lite-commands.jsonl": lite_commands,
    "full-commands.jsonl": full_commands,
    "full-push-to-talk.jsonl": full_push_to_talk,
    "lite-attach.jsonl": lite_attach,
    "full-attach.jsonl": full_attach,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="only check the committed files")
    args = parser.parse_args()
    stale = []
    for name, make in EXAMPLES.items():
        path = HERE / name
        text = make()
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale: {', '.join(stale)}: run {Path(__file__).name}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
