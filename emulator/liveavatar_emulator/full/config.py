"""Configuration of the FULL-mode emulator: the LiveKit-compatible server and the emulated agent."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FullModeConfig:
    """Settings for :class:`~liveavatar_emulator.full.backend.LiveKitFullBackend`.

    Server:
        host, port: where the LiveKit-compatible server listens (port 0 picks a free port).
        public_url: the ``livekit_url`` handed to clients; empty means ``ws://<host>:<port>``
            with the actual port.
        api_key, api_secret: the LiveKit API credentials tokens are signed and verified with.
        v1_enabled: serve the v1 signalling path ``/rtc/v1``; when False it answers 404 and
            clients fall back to the v0 path ``/rtc``.
        auto_create_rooms: let a valid token join a room that no session created.
        ping_interval_s, ping_timeout_s: sent to clients in the JoinResponse.

    Agent:
        time_scale: multiplies every simulated duration (speech, reply streaming); 0.1 makes the
            emulated avatar ten times faster.
        speaking_rate_wpm: words per minute of simulated avatar speech.
        min_speak_s: lower bound of one utterance's simulated duration (before time_scale).
        chunk_interval_s: pause between streamed ``avatar.transcription.chunk`` events (before
            time_scale).
        vad_*: the energy voice-activity detector on user audio (see ``full/vad.py``).
        full_agent_token: also mint a ``livekit_agent_token`` (identity ``agent-<short id>``).
        stop_flush_s: how long session end waits for ``session.stopped`` to be delivered
            before the participants are removed.
    """

    host: str = "127.0.0.1"
    port: int = 7880
    public_url: str = ""
    api_key: str = "devkey"
    api_secret: str = "secret-secret-secret-secret-secret"
    v1_enabled: bool = True
    auto_create_rooms: bool = False
    ping_interval_s: int = 5
    ping_timeout_s: int = 20

    time_scale: float = 1.0
    speaking_rate_wpm: float = 150.0
    min_speak_s: float = 0.5
    chunk_interval_s: float = 0.05

    vad_frame_ms: int = 20
    vad_threshold_dbfs: float = -45.0
    vad_onset_ms: int = 60
    vad_hangover_ms: int = 500

    full_agent_token: bool = False
    stop_flush_s: float = 0.3

    def speak_duration_s(self, text: str) -> float:
        """Simulated duration of the avatar speaking ``text``.

        ``max(min_speak_s, words * 60 / speaking_rate_wpm) * time_scale``; at the default
        150 words per minute each word takes 0.4 s.
        """
        words = len(text.split())
        return max(self.min_speak_s, words * 60.0 / self.speaking_rate_wpm) * self.time_scale
