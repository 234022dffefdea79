"""WAV reading and real-time pacing (with a fake clock: no real waiting, no timed asserts)."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import pytest

from avatar_bridge_client import (
    AvatarBridgeClient,
    WavError,
    audio_format,
    lite_session,
    load_wav,
    read_wav,
    send_paced_audio,
)
from avatarbridge.v1 import avatar_bridge_pb2 as pb

from .conftest import FakeClock, FakeServer, write_wav

WAIT_S = 15.0
"""Generous bound on a wait; never a speed assertion."""


def test_reads_pcm16_stereo(speech_wav: Path) -> None:
    wav = read_wav(speech_wav)
    assert (wav.sample_rate_hz, wav.channels, wav.frames) == (16000, 2, 5600)
    assert wav.duration_s == pytest.approx(0.35)
    assert wav.data[:8] == b"\x00\x00\x00\x00\x01\x00\x01\x00"
    assert wav.audio_format() == audio_format(pb.AUDIO_ENCODING_LINEAR16, 16000, 2)


def test_8_bit_becomes_16_bit(tmp_path: Path) -> None:
    path = write_wav(tmp_path / "u8.wav", bytes([0, 128, 255]), rate=8000, channels=1, width=1)
    assert read_wav(path).data == b"\x00\x80\x00\x00\x00\x7f"


@pytest.mark.parametrize(
    ("rate", "channels", "width", "message"),
    [
        (96000, 1, 2, "sample rate 96000 Hz: expected 8000 to 48000"),
        (16000, 3, 2, "3 channels: expected 1 or 2"),
        (16000, 1, 3, "24-bit samples: expected 8- or 16-bit PCM"),
    ],
)
def test_refuses_what_the_bridge_cannot_take(
    tmp_path: Path, rate: int, channels: int, width: int, message: str
) -> None:
    path = write_wav(tmp_path / "x.wav", b"\x00" * 60, rate=rate, channels=channels, width=width)
    with pytest.raises(WavError, match=message):
        read_wav(path)


def test_not_a_wav(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 not a wav at all")
    with pytest.raises(WavError, match="not a PCM WAV file"):
        read_wav(path)
    with pytest.raises(WavError):
        read_wav(tmp_path / "absent.wav")


async def test_load_wav_runs_off_the_loop(speech_wav: Path, tmp_path: Path) -> None:
    """The file is a FIFO whose writer waits for the loop: a read on the loop would deadlock.

    The writer thread opens the FIFO only after the event loop, still free while load_wav
    waits, sets `loop_free`; reading on the loop would block it in open() until the writer
    gives up (bounded), and the test fails on `loop_was_free`.
    """
    fifo = tmp_path / "speech.fifo"
    os.mkfifo(fifo)
    loop_free = threading.Event()
    loop_was_free: list[bool] = []

    def writer() -> None:
        loop_was_free.append(loop_free.wait(WAIT_S))
        with open(fifo, "wb") as out:
            out.write(speech_wav.read_bytes())

    writing = asyncio.create_task(asyncio.to_thread(writer))
    loading = asyncio.create_task(load_wav(fifo))
    await asyncio.sleep(0)  # load_wav starts; on the loop it would not return here.
    asyncio.get_running_loop().call_soon(loop_free.set)
    wav = await asyncio.wait_for(loading, 2 * WAIT_S)
    await writing
    assert loop_was_free == [True]
    assert wav.frames == 5600


async def test_paced_sends_whole_frames_on_schedule(
    fake_bridge: FakeServer, speech_wav: Path, clock: FakeClock
) -> None:
    wav = read_wav(speech_wav)
    progress: list[tuple[int, int]] = []
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(lite_session(input_audio=wav.audio_format()))
        chunks = await send_paced_audio(
            conv,
            wav.data,
            bytes_per_frame=wav.bytes_per_frame,
            sample_rate_hz=wav.sample_rate_hz,
            chunk_ms=100,
            request_id="utt",
            clock=clock,
            on_progress=lambda done, total: progress.append((done, total)),
        )
        await conv.close()
        await conv.drain()
    audio = [r for r in fake_bridge.fake.last.requests if r.HasField("audio")]
    assert chunks == len(audio) == 4
    assert [len(r.audio.data) for r in audio] == [6400, 6400, 6400, 3200]
    assert b"".join(r.audio.data for r in audio) == wav.data
    assert [r.request_id for r in audio] == ["utt", "", "", ""]
    # Chunk k leaves at k x 100 ms: the fake clock only moved by sleeping.
    assert clock.sleeps == pytest.approx([0.1, 0.1, 0.1])
    assert progress[-1] == (len(wav.data), len(wav.data))


async def test_lead_and_no_realtime(
    fake_bridge: FakeServer, speech_wav: Path, clock: FakeClock
) -> None:
    wav = read_wav(speech_wav)
    async with AvatarBridgeClient(fake_bridge.target) as client:
        conv = await client.converse(lite_session(input_audio=wav.audio_format()))
        kwargs = {"bytes_per_frame": 4, "sample_rate_hz": 16000, "clock": clock}
        await send_paced_audio(conv, wav.data, lead_ms=200, **kwargs)  # type: ignore[arg-type]
        assert clock.sleeps == pytest.approx([0.1])  # chunks 0-2 go at once, 3 at 100 ms
        await send_paced_audio(conv, wav.data, realtime=False, **kwargs)  # type: ignore[arg-type]
        assert len(clock.sleeps) == 1
        await conv.close()
        await conv.drain()
