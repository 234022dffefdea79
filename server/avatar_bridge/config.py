"""Server configuration: frozen dataclasses, read from environment variables and flags.

Flags win over environment variables, which win over the defaults. Every environment variable
is named in the README.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from avatar_bridge import event_loop
from avatar_bridge.liveavatar.rest import DEFAULT_API_URL


@dataclass(frozen=True)
class Limits:
    """Hard limits, stated in the .proto and enforced by the server."""

    max_message_bytes: int = 1_114_112
    """Largest ConverseRequest accepted by gRPC (1 MiB of audio plus envelope)."""
    max_audio_chunk_bytes: int = 1_048_576
    """Largest AudioChunk.data."""
    max_text_chars: int = 10_000
    """Longest SpeakText / SpeakResponse text."""
    max_request_id_chars: int = 128
    """Longest request_id."""
    max_sessions: int = 250
    """Concurrent Converse calls per process (per `--workers` worker); more are refused with
    RESOURCE_EXHAUSTED. One core's measured capacity at 20 ms frames (250; 500 at 100 ms chunks,
    README "Performance"): a default that admitted more would share an overloaded core."""
    max_pending_configs: int = 1000
    """Streams waiting to send their config; more are refused with RESOURCE_EXHAUSTED at once."""
    config_timeout_s: float = 10.0
    """Seconds a stream has to send its config; then DEADLINE_EXCEEDED."""
    shed_lag_ms: float = 0.0
    """Refuse new conversations (UNAVAILABLE) while the event loop's smoothed lag is above this;
    0 turns load shedding off (the default: --max-sessions is the calibrated limit)."""


@dataclass(frozen=True)
class SessionDefaults:
    """Per-conversation defaults that a client may override in BridgeOptions."""

    first_packet_ms: int = 400
    """Audio in the first agent.speak packet of an utterance (see the README's measurement)."""
    packet_ms: int = 1000
    """Audio per later packet when the client sends faster than real time."""
    low_water_ms: int = 300
    """Send what is buffered when the avatar's estimated playback queue falls below this."""
    keep_alive_idle_s: float = 60.0
    """Seconds without upstream traffic before the bridge sends session.keep_alive itself."""
    ready_timeout_s: float = 20.0
    """Seconds to wait for the upstream session to report itself ready."""
    drain_timeout_s: float = 30.0
    """After the client half-closes, longest wait for the avatar to finish speaking."""
    max_pending_ms: int = 10_000
    """Audio the bridge holds while the session is not ready before it stops reading the client."""
    # Recovery and liveness (see lite/recovery.py and lite/core.py).
    reconnect_attempts: int = 3
    """Reconnects of a dropped LITE WebSocket while LiveAvatar says the session is alive."""
    upstream_silence_s: float = 10.0
    """No upstream event for this long past the estimated end of the avatar's audio: lost."""


@dataclass(frozen=True)
class SecurityConfig:
    """TLS, caller authentication, quotas and the attach allowlist (README "Security")."""

    tls_cert_file: str = ""
    """PEM certificate chain of the gRPC port; with tls_key_file, the port speaks TLS."""
    tls_key_file: str = ""
    tls_client_ca_file: str = ""
    """PEM CA that signs client certificates; set, the port requires mutual TLS."""
    auth_file: str = ""
    """TOML file of principals, roles, quotas and salted key hashes; empty: no API keys."""
    open_health: bool = True
    """Health checks need no credential."""
    open_reflection: bool = True
    """Server reflection needs no credential."""
    quota_conversations: int = 0
    """Default per-principal concurrent conversations; 0 is unlimited."""
    quota_starts_per_minute: int = 0
    """Default per-principal conversation starts per minute; 0 is unlimited."""
    quota_fail_closed: bool = False
    """With --redis-url, refuse new conversations while Redis is unreachable instead of falling
    back to this process's own quotas (security/quota_store.py)."""
    attach_allow: tuple[str, ...] = ()
    """Hosts attach URLs may name (host, host:port, *.domain); empty: LiveAvatar's own."""
    attach_allow_extra: tuple[str, ...] = ()
    """Endpoints this process runs itself (the embedded emulator), always allowed."""
    reload_interval_s: float = 5.0
    """How often certificate and auth files are checked for changes (SIGHUP: at once)."""

    @property
    def tls(self) -> bool:
        return bool(self.tls_cert_file)

    @property
    def transport(self) -> str:
        """ "plaintext", "tls" or "mtls", for the start-up log."""
        if not self.tls:
            return "plaintext"
        return "mtls" if self.tls_client_ca_file else "tls"


@dataclass(frozen=True)
class ServerConfig:
    """Everything the server process needs."""

    listen: str = "127.0.0.1:50051"
    """host:port the gRPC server listens on."""
    api_url: str = DEFAULT_API_URL
    """LiveAvatar REST base URL."""
    api_key: str = field(default="", repr=False)
    """LiveAvatar API key; `serve` refuses to start without it unless `emulator` is set."""
    emulator_port: int = 8900
    """Port of the embedded emulator's REST and LITE WebSocket API (0 picks a free one)."""
    emulator_livekit_port: int = 7880
    """Port of the embedded emulator's LiveKit-compatible server (0 picks a free one)."""
    shutdown_grace_s: float = 10.0
    """After the drain, time for conversations to end and sessions to stop before exit."""
    drain_s: float = 0.0
    """On SIGTERM/SIGINT, how long live conversations go on (new ones are refused UNAVAILABLE)
    before they get SessionStopped(SERVER_SHUTDOWN); the process exits within drain + grace."""
    metrics_listen: str = ""
    """host:port of the Prometheus /metrics endpoint; empty: not served."""
    max_connection_age_s: float = 600.0
    """A client connection gets GOAWAY after this long, so L7 balancers can rebalance."""
    max_connection_age_grace_s: float = 7200.0
    """Calls live on a GOAWAY'd connection this long: longer than a session, none is cut."""
    log_level: str = "info"
    log_format: str = "json"
    """"json" (one object per line) or "text"."""
    event_loop: str = "auto"
    """"auto" (uvloop when installed), "uvloop" or "asyncio"; see avatar_bridge.event_loop."""
    limits: Limits = Limits()
    session: SessionDefaults = SessionDefaults()
    security: SecurityConfig = SecurityConfig()
    emulator: bool = False
    """Run on the embedded LiveAvatar emulator; only when asked (no silent fake)."""
    state_dir: str = ""
    """Directory of the SQLite session journal; empty (and no redis_url): not journaled."""
    redis_url: str = field(default="", repr=False)
    """Redis URL of the fleet journal (may hold a password: not in repr); wins over state_dir."""
    replica_id: str = ""
    """This replica's id in the journal; empty: host:pid:start of this process."""
    lease_s: float = 15.0
    """Redis journal lease: a replica silent this long is taken for dead."""
    reuse_port: bool = False
    """Bind the gRPC port with SO_REUSEPORT: set for `--workers` processes sharing the port only,
    so a lone bridge still fails loudly when the port is taken."""

    @property
    def uses_emulator(self) -> bool:
        return self.emulator


_ENV = {
    "listen": "AVATAR_BRIDGE_LISTEN",
    "api_url": "LIVEAVATAR_API_URL",
    "api_key": "LIVEAVATAR_API_KEY",
    "emulator_port": "AVATAR_BRIDGE_EMULATOR_PORT",
    "emulator_livekit_port": "AVATAR_BRIDGE_EMULATOR_LIVEKIT_PORT",
    "shutdown_grace_s": "AVATAR_BRIDGE_SHUTDOWN_GRACE_S",
    "drain_s": "AVATAR_BRIDGE_DRAIN_S",
    "metrics_listen": "AVATAR_BRIDGE_METRICS_LISTEN",
    "max_connection_age_s": "AVATAR_BRIDGE_MAX_CONNECTION_AGE_S",
    "max_connection_age_grace_s": "AVATAR_BRIDGE_MAX_CONNECTION_AGE_GRACE_S",
    "log_level": "AVATAR_BRIDGE_LOG_LEVEL",
    "log_format": "AVATAR_BRIDGE_LOG_FORMAT",
    "event_loop": "AVATAR_BRIDGE_EVENT_LOOP",
    "max_sessions": "AVATAR_BRIDGE_MAX_SESSIONS",
    "max_pending_configs": "AVATAR_BRIDGE_MAX_PENDING_CONFIGS",
    "config_timeout_s": "AVATAR_BRIDGE_CONFIG_TIMEOUT_S",
    "shed_lag_ms": "AVATAR_BRIDGE_SHED_LAG_MS",
    "first_packet_ms": "AVATAR_BRIDGE_FIRST_PACKET_MS",
    "keep_alive_idle_s": "AVATAR_BRIDGE_KEEP_ALIVE_IDLE_S",
    "ready_timeout_s": "AVATAR_BRIDGE_READY_TIMEOUT_S",
    "state_dir": "AVATAR_BRIDGE_STATE_DIR",
    "redis_url": "AVATAR_BRIDGE_REDIS_URL",
    "replica_id": "AVATAR_BRIDGE_REPLICA_ID",
    "lease_s": "AVATAR_BRIDGE_LEASE_S",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the `serve` flags; each defaults to None so the environment can fill it."""
    parser.add_argument("--listen", help="host:port to listen on (default 127.0.0.1:50051)")
    parser.add_argument("--api-url", help=f"LiveAvatar API URL (default {DEFAULT_API_URL})")
    parser.add_argument(
        "--api-key",
        help="LiveAvatar API key; prefer the LIVEAVATAR_API_KEY variable (flags show in ps)",
    )
    parser.add_argument("--emulator-port", type=int, help="embedded emulator port (default 8900)")
    parser.add_argument(
        "--emulator-livekit-port", type=int, help="embedded LiveKit server port (default 7880)"
    )
    parser.add_argument("--shutdown-grace-s", type=float, help="shutdown grace (default 10)")
    parser.add_argument(
        "--drain-s",
        type=float,
        help="on SIGTERM, time live conversations go on before SERVER_SHUTDOWN (default 0)",
    )
    parser.add_argument(
        "--metrics-listen", help="host:port of a Prometheus /metrics endpoint (default off)"
    )
    parser.add_argument(
        "--max-connection-age-s", type=float, help="GOAWAY connections this old (default 600)"
    )
    parser.add_argument(
        "--max-connection-age-grace-s",
        type=float,
        help="time calls live on a GOAWAY'd connection (default 7200, longer than a session)",
    )
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", choices=["json", "text"])
    parser.add_argument(
        "--event-loop",
        choices=event_loop.CHOICES,
        help="auto (default): uvloop when installed, measured 8-10%% less CPU; else asyncio",
    )
    parser.add_argument(
        "--max-sessions",
        type=int,
        help="concurrent conversations per worker (default 250, one core's measured capacity)",
    )
    parser.add_argument(
        "--max-pending-configs",
        type=int,
        help="streams that may wait for their config at once (default 1000)",
    )
    parser.add_argument(
        "--config-timeout-s", type=float, help="time a stream has to send its config (default 10)"
    )
    parser.add_argument(
        "--shed-lag-ms",
        type=float,
        help="refuse new conversations while event-loop lag exceeds this (default 0: off)",
    )
    parser.add_argument("--first-packet-ms", type=int, help="first packet size (default 400)")
    parser.add_argument("--keep-alive-idle-s", type=float, help="keep-alive idle time (default 60)")
    parser.add_argument("--ready-timeout-s", type=float, help="session ready timeout (default 20)")
    _add_security_arguments(parser)


def _add_security_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("security (see the README's Security section)")
    group.add_argument(
        "--emulator",
        action="store_const",
        const="1",
        help="run on the embedded LiveAvatar emulator instead of LiveAvatar (development only)",
    )
    group.add_argument("--tls-cert", help="PEM certificate chain: serve TLS")
    group.add_argument("--tls-key", help="PEM private key of --tls-cert")
    group.add_argument("--tls-client-ca", help="PEM CA of client certificates: require mTLS")
    group.add_argument("--auth-file", help="TOML file of principals, roles and key hashes")
    group.add_argument(
        "--close-health", action="store_const", const="1", help="health checks need credentials"
    )
    group.add_argument(
        "--close-reflection", action="store_const", const="1", help="reflection needs credentials"
    )
    group.add_argument(
        "--quota-conversations", type=int, help="per-principal concurrent conversations (0: no cap)"
    )
    group.add_argument(
        "--quota-starts-per-minute", type=int, help="per-principal starts per minute (0: no cap)"
    )
    group.add_argument(
        "--quota-fail-closed",
        action="store_const",
        const="1",
        help="with --redis-url: refuse while Redis is down (default: per-process quotas)",
    )
    group.add_argument(
        "--attach-allow", help="comma-separated hosts attach URLs may name (host, host:port, *.dom)"
    )
    group.add_argument("--reload-interval-s", type=float, help="file change check (default 5)")
    parser.add_argument(
        "--state-dir",
        help="session journal directory (default ~/.local/state/avatar-bridge with a real "
        "LiveAvatar key; not journaled on the embedded emulator)",
    )
    parser.add_argument(
        "--redis-url", help="Redis journal for a fleet (prefer AVATAR_BRIDGE_REDIS_URL)"
    )
    parser.add_argument("--replica-id", help="replica id in the journal (default host:pid:start)")
    parser.add_argument("--lease-s", type=float, help="Redis journal lease seconds (default 15)")


def from_sources(
    args: argparse.Namespace | None = None, env: Mapping[str, str] | None = None
) -> ServerConfig:
    """Build the config from flags (`args`) over environment variables (`env`) over defaults."""
    env = os.environ if env is None else env
    values: dict[str, str] = {}
    for name, var in _ENV.items():
        flag = getattr(args, name, None) if args is not None else None
        if flag is not None:
            values[name] = str(flag)
        elif env.get(var):
            values[name] = env[var]
    base = ServerConfig()
    try:
        config = replace(
            base,
            listen=values.get("listen", base.listen),
            api_url=values.get("api_url", base.api_url),
            api_key=values.get("api_key", base.api_key),
            emulator_port=int(values.get("emulator_port", base.emulator_port)),
            emulator_livekit_port=int(
                values.get("emulator_livekit_port", base.emulator_livekit_port)
            ),
            shutdown_grace_s=float(values.get("shutdown_grace_s", base.shutdown_grace_s)),
            drain_s=float(values.get("drain_s", base.drain_s)),
            metrics_listen=values.get("metrics_listen", base.metrics_listen),
            max_connection_age_s=float(
                values.get("max_connection_age_s", base.max_connection_age_s)
            ),
            max_connection_age_grace_s=float(
                values.get("max_connection_age_grace_s", base.max_connection_age_grace_s)
            ),
            log_level=values.get("log_level", base.log_level),
            log_format=values.get("log_format", base.log_format),
            event_loop=values.get("event_loop", base.event_loop),
            limits=replace(
                base.limits,
                max_sessions=int(values.get("max_sessions", base.limits.max_sessions)),
                max_pending_configs=int(
                    values.get("max_pending_configs", base.limits.max_pending_configs)
                ),
                config_timeout_s=float(
                    values.get("config_timeout_s", base.limits.config_timeout_s)
                ),
                shed_lag_ms=float(values.get("shed_lag_ms", base.limits.shed_lag_ms)),
            ),
            state_dir=values.get("state_dir", base.state_dir),
            redis_url=values.get("redis_url", base.redis_url),
            replica_id=values.get("replica_id", base.replica_id),
            lease_s=float(values.get("lease_s", base.lease_s)),
            session=replace(
                base.session,
                first_packet_ms=int(values.get("first_packet_ms", base.session.first_packet_ms)),
                keep_alive_idle_s=float(
                    values.get("keep_alive_idle_s", base.session.keep_alive_idle_s)
                ),
                ready_timeout_s=float(values.get("ready_timeout_s", base.session.ready_timeout_s)),
            ),
        )
        security, emulator = _security_values(args, env)
        config = replace(config, security=security, emulator=emulator)
    except ValueError as exc:
        raise SystemExit(f"avatar-bridge: bad configuration value: {exc}") from exc
    if not config.state_dir and not config.redis_url and not config.uses_emulator:
        config = replace(config, state_dir=default_state_dir(env))
    _validate(config)
    return config


_SECURITY_ENV = {
    "emulator": "AVATAR_BRIDGE_EMULATOR",
    "tls_cert": "AVATAR_BRIDGE_TLS_CERT",
    "tls_key": "AVATAR_BRIDGE_TLS_KEY",
    "tls_client_ca": "AVATAR_BRIDGE_TLS_CLIENT_CA",
    "auth_file": "AVATAR_BRIDGE_AUTH_FILE",
    "close_health": "AVATAR_BRIDGE_CLOSE_HEALTH",
    "close_reflection": "AVATAR_BRIDGE_CLOSE_REFLECTION",
    "quota_conversations": "AVATAR_BRIDGE_QUOTA_CONVERSATIONS",
    "quota_starts_per_minute": "AVATAR_BRIDGE_QUOTA_STARTS_PER_MINUTE",
    "quota_fail_closed": "AVATAR_BRIDGE_QUOTA_FAIL_CLOSED",
    "attach_allow": "AVATAR_BRIDGE_ATTACH_ALLOW",
    "reload_interval_s": "AVATAR_BRIDGE_RELOAD_INTERVAL_S",
}


def _security_values(
    args: argparse.Namespace | None, env: Mapping[str, str]
) -> tuple[SecurityConfig, bool]:
    """The `security` and `emulator` fields, flags over environment over defaults."""
    values: dict[str, str] = {}
    for name, var in _SECURITY_ENV.items():
        flag = getattr(args, name, None) if args is not None else None
        if flag is not None:
            values[name] = str(flag)
        elif env.get(var):
            values[name] = env[var]

    def yes(name: str) -> bool:
        return values.get(name, "").strip().lower() in ("1", "true", "yes", "on")

    base = SecurityConfig()
    security = SecurityConfig(
        tls_cert_file=values.get("tls_cert", ""),
        tls_key_file=values.get("tls_key", ""),
        tls_client_ca_file=values.get("tls_client_ca", ""),
        auth_file=values.get("auth_file", ""),
        open_health=not yes("close_health"),
        open_reflection=not yes("close_reflection"),
        quota_conversations=int(values.get("quota_conversations", base.quota_conversations)),
        quota_starts_per_minute=int(
            values.get("quota_starts_per_minute", base.quota_starts_per_minute)
        ),
        quota_fail_closed=yes("quota_fail_closed"),
        attach_allow=tuple(h.strip() for h in values.get("attach_allow", "").split(",") if h),
        reload_interval_s=float(values.get("reload_interval_s", base.reload_interval_s)),
    )
    return security, yes("emulator")


def default_state_dir(env: Mapping[str, str]) -> str:
    """$XDG_STATE_HOME/avatar-bridge, or ~/.local/state/avatar-bridge."""
    base = env.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "avatar-bridge")


def _validate(config: ServerConfig) -> None:
    problems: Sequence[str] = [
        msg
        for ok, msg in (
            (":" in config.listen, f"listen address {config.listen!r} must be host:port"),
            (config.shutdown_grace_s >= 0, "shutdown grace must be >= 0"),
            (config.drain_s >= 0, "drain must be >= 0"),
            (
                not config.metrics_listen or ":" in config.metrics_listen,
                "--metrics-listen must be host:port",
            ),
            (config.max_connection_age_s > 0, "max connection age must be > 0"),
            (config.max_connection_age_grace_s >= 0, "max connection age grace must be >= 0"),
            (config.limits.max_sessions > 0, "max sessions must be > 0"),
            (config.limits.max_pending_configs > 0, "max pending configs must be > 0"),
            (config.limits.config_timeout_s > 0, "config timeout must be > 0"),
            (config.limits.shed_lag_ms >= 0, "shed lag must be >= 0 ms (0: off)"),
            (20 <= config.session.first_packet_ms <= 2000, "first packet must be 20 to 2000 ms"),
            (5 <= config.session.keep_alive_idle_s <= 240, "keep-alive idle must be 5 to 240 s"),
            (config.log_format in ("json", "text"), "log format must be json or text"),
            (
                config.event_loop in event_loop.CHOICES,
                "event loop must be auto, uvloop or asyncio",
            ),
            (
                bool(config.security.tls_cert_file) == bool(config.security.tls_key_file),
                "--tls-cert and --tls-key go together",
            ),
            (
                config.security.tls or not config.security.tls_client_ca_file,
                "--tls-client-ca needs --tls-cert and --tls-key",
            ),
            (config.security.quota_conversations >= 0, "quota conversations must be >= 0"),
            (config.security.quota_starts_per_minute >= 0, "quota starts must be >= 0"),
            (config.security.reload_interval_s > 0, "reload interval must be > 0"),
            (config.lease_s >= 1, "lease must be >= 1 s"),
        )
        if not ok
    ]
    if problems:
        raise SystemExit("avatar-bridge: bad configuration: " + "; ".join(problems))
