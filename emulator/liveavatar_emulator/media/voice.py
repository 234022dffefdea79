"""A synthetic voice for FULL mode: espeak-ng when installed, else a deterministic tone pattern.

Either way the result lasts exactly the duration the emulator reports between
``avatar.speak_started`` and ``avatar.speak_ended`` (padded with silence or cut).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import shutil
import wave
import zlib

import numpy as np
import soxr

from .timeline import SAMPLE_RATE

log = logging.getLogger(__name__)

_ESPEAK_TIMEOUT_S = 10.0


async def synthesize(text: str, duration_s: float, wpm: float = 150.0) -> bytes:
    """PCM16LE mono 24 kHz of ``text``, exactly ``duration_s`` long."""
    count = max(0, round(duration_s * SAMPLE_RATE))
    samples = await _espeak(text, wpm) if shutil.which("espeak-ng") else None
    if samples is None:
        samples = tone_pattern(text, duration_s)
    fitted = np.zeros(count, dtype=np.int16)
    n = min(count, samples.size)
    fitted[:n] = samples[:n]
    return fitted.astype("<i2").tobytes()


def tone_pattern(text: str, duration_s: float) -> np.ndarray:
    """One tone burst per word (pitch from the word's CRC32), 80% sound and 20% gap."""
    words = text.split() or [""]
    total = round(duration_s * SAMPLE_RATE)
    per_word = total // len(words)
    out = np.zeros(total, dtype=np.int16)
    for index, word in enumerate(words):
        burst = int(per_word * 0.8)
        freq = 160.0 + 20.0 * (zlib.crc32(word.encode()) % 10)
        t = np.arange(burst) / SAMPLE_RATE
        envelope = np.sin(np.pi * np.arange(burst) / max(1, burst))
        tone = 0.4 * envelope * np.sin(2 * np.pi * freq * t)
        start = index * per_word
        out[start : start + burst] = (tone * 32767).astype(np.int16)
    return out


async def _espeak(text: str, wpm: float) -> np.ndarray | None:
    """espeak-ng's rendering of ``text`` resampled to 24 kHz, or None if it failed."""
    try:
        proc = await asyncio.create_subprocess_exec(
            "espeak-ng",
            "--stdout",
            "--stdin",
            "-s",
            str(int(wpm)),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
    except OSError as exc:
        log.warning("espeak-ng failed to start: %s", exc)
        return None
    try:
        wav, _ = await asyncio.wait_for(proc.communicate(text.encode()), _ESPEAK_TIMEOUT_S)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        return None
    if proc.returncode != 0 or not wav:
        return None
    return _decode_wav(wav)


def _decode_wav(data: bytes) -> np.ndarray | None:
    # espeak-ng streams its WAV with a placeholder length; read the header, take the rest raw.
    try:
        with wave.open(io.BytesIO(data)) as reader:
            rate = reader.getframerate()
            width = reader.getsampwidth()
            channels = reader.getnchannels()
    except (wave.Error, EOFError):
        return None
    if width != 2 or channels != 1:
        return None
    raw = data[44:]
    pcm = np.frombuffer(raw[: len(raw) - len(raw) % 2], dtype="<i2")
    if rate == SAMPLE_RATE:
        return pcm.astype(np.int16)
    resampled: np.ndarray = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, SAMPLE_RATE)
    out: np.ndarray = (np.clip(resampled, -1.0, 1.0) * 32767).astype(np.int16)
    return out
