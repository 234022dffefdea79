"""Emulator configuration: one frozen dataclass, every knob documented.

Durations named ``*_s`` are *emulated* seconds unless their docstring says otherwise: the
emulator multiplies them by ``time_scale`` before sleeping (see ``clock.Clock``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

EventProfile = Literal["documented", "observed", "both"]
OversizePolicy = Literal["error", "close", "drop"]
StarvationEvent = Literal["error", "warning", "none"]

#: The only avatar LiveAvatar allows for sandbox sessions ("Wayne"), reference §2.7.
SANDBOX_AVATAR_ID = "dd73ea75-1218-4ef3-92ce-606d5f7fbc0a"


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's behaviour. Defaults follow the reference."""

    api_keys: tuple[str, ...] = ("emulator-api-key",)
    """Values accepted in the ``X-API-KEY`` header."""

    time_scale: float = 1.0
    """Multiplier for every emulated duration (0.01 turns a 5-minute idle timeout into 3 s)."""

    idle_timeout_s: float = 300.0
    """Inactivity window; REST keep-alive, WS keep_alive and any WS command reset it."""

    sandbox_limit_s: float = 60.0
    """Sandbox sessions end after this long with ``MAX_DURATION_REACHED``."""

    tier_max_session_duration_s: int = 1200
    """Subscription-tier cap; a larger requested ``max_session_duration`` is clamped to it."""

    default_max_session_duration_s: int = 1200
    """Used when the token request has no ``max_session_duration``."""

    lite_connect_delay_s: float = 0.2
    """Real (NOT time-scaled) seconds between WS accept and ``session.state_updated connected``.

    Not scaled so that the "commands before connected are dropped" window stays observable
    when tests shrink every other duration."""

    lite_event_profile: EventProfile = "both"
    """Speaking signals on the LITE WS: ``documented`` = ``agent.speak_*`` only; ``observed`` =
    ``agent.state_updated`` + ``agent.audio_buffer_*`` acks + ``agent.speak_interrupted``;
    ``both`` = the union (reference §3.3, §8)."""

    oversize_policy: OversizePolicy = "error"
    """An ``agent.speak`` packet above ``max_packet_bytes``: ``error`` = error event and drop,
    ``close`` = close the socket (1009; the session lives on), ``drop`` = silent drop."""

    max_packet_bytes: int = 1_000_000
    """Maximum WS text message size (the documented 1 MB per packet)."""

    playback_bytes_per_s: int = 48_000
    """PCM16 24 kHz mono = 48 000 bytes per second of audio."""

    playback_time_scale: float | None = None
    """Time scale for audio playback; ``None`` means ``time_scale``. Lets tests shrink session
    timers without making playback (and thus starvation) faster than real time."""

    starvation_grace_s: float = 0.0
    """Real seconds the player waits on an empty, uncommitted buffer before declaring starvation."""

    starvation_event: StarvationEvent = "error"
    """How a buffer underrun is reported besides ending the speak: ``error``
    (``{"type":"error","error":{"type":"video_starvation",...}}``), ``warning`` (the same body
    inside ``{"type":"warning","warning":...}``), or ``none``."""

    public_host: str = "127.0.0.1"
    """Host placed in ``ws_url``."""

    public_port: int | None = None
    """Port placed in ``ws_url``; ``None`` uses the port the request arrived on."""

    livekit_url: str = "ws://127.0.0.1:7880"
    """Returned by start when no FULL backend supplies one (and always for LITE hosted rooms)."""

    livekit_api_key: str = "devkey"
    """LiveKit API key (``iss``) for the LiveKit JWTs the emulator mints."""

    livekit_api_secret: str = "emulator-livekit-secret-at-least-32-chars"
    """LiveKit API secret used to sign those JWTs."""

    session_token_secret: str = "liveavatar-emulator-session-token-secret"
    """HS256 secret for session tokens (LiveAvatar's own JWTs)."""

    full_agent_token: bool = False
    """FULL start also returns ``livekit_agent_token`` (the reference leaves this unknown)."""

    lite_byo_echo_livekit: bool = False
    """LITE + ``livekit_config``: also echo ``livekit_url``/``livekit_client_token`` in start."""

    warn_dropped_before_connected: bool = False
    """Send a ``warning`` event for each command dropped before ``connected``. Off by default:
    the documented behaviour is a silent drop (reference §3.2)."""

    warn_unknown_commands: bool = True
    """Send a ``warning`` event for unknown command types (never closes the socket)."""

    lite_send_closing_state: bool = False
    """Send ``session.state_updated closing`` right before the server closes the WS."""

    ws_close_code: int = 1000
    """Close code used when the session ends (reason = the end reason string)."""

    cors_origins: tuple[str, ...] = ("*",)
    """Origins allowed to call the REST API from a browser (credentialed CORS, as HeyGen's web
    SDK sends ``credentials: "include"``). ``*`` echoes any request origin."""

    initial_credits: float = 1_000_000.0
    """Credit balance. Start needs one minute of credit; running out ends with ``NO_CREDITS``."""

    enforce_sandbox_avatar: bool = False
    """Reject sandbox token requests for any avatar but Wayne (400), as the real service does."""

    def scaled(self, emulated_s: float) -> float:
        """Real seconds for an emulated duration."""
        return emulated_s * self.time_scale

    @property
    def effective_playback_time_scale(self) -> float:
        """The time scale applied to audio playback."""
        if self.playback_time_scale is None:
            return self.time_scale
        return self.playback_time_scale
