"""The hosts an attach (`ws_url`, `livekit_url`) may make the bridge connect to.

Without it the bridge is an open proxy and a port-scan oracle: a caller could make it dial
any host and path. Checked before any connection is made.

Entries: `host`, `host:port`, or `*.domain` (any subdomain, not the domain itself).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_HOSTS = ("*.liveavatar.com", "*.heygen.com", "*.livekit.cloud")
"""LiveAvatar's API and WebSocket hosts, and LiveKit Cloud, where LiveAvatar hosts its rooms."""

_DEFAULT_PORTS = {"ws": 80, "http": 80, "wss": 443, "https": 443}


class NotAllowed(ValueError):
    """The URL's host is not on the allowlist (the message never repeats the URL)."""


@dataclass(frozen=True)
class HostAllowlist:
    entries: tuple[str, ...] = DEFAULT_HOSTS

    def plus(self, extra: Iterable[str]) -> HostAllowlist:
        return HostAllowlist(self.entries + tuple(e for e in extra if e))

    def check(self, url: str, field: str) -> None:
        """Raise NotAllowed unless `url`'s host (and port) matches an entry."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
            port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:
            host, port = "", 0
        if not host or not any(_matches(entry, host, port) for entry in self.entries):
            raise NotAllowed(
                f"{field} names a host this bridge may not connect to: expected a LiveAvatar "
                "host (the URL LiveAvatar's start call returned); the operator can extend "
                "AVATAR_BRIDGE_ATTACH_ALLOW"
            )


def host_entry(url: str) -> str:
    """The `host:port` entry that allows exactly `url`'s endpoint ("" if it has none)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return ""
    port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
    return f"{parts.hostname.lower()}:{port}"


def _matches(entry: str, host: str, port: int) -> bool:
    entry = entry.strip().lower()
    want_port = 0
    if entry.count(":") == 1:
        entry, _, port_text = entry.partition(":")
        want_port = int(port_text) if port_text.isdigit() else -1
    if want_port and want_port != port:
        return False
    if entry.startswith("*."):
        return host.endswith(entry[1:])
    return host == entry


def for_server(
    configured: tuple[str, ...], api_url: str, extra: tuple[str, ...] = ()
) -> HostAllowlist:
    """The allowlist a server uses: the configured hosts (or the defaults), plus the endpoint of
    the LiveAvatar API it talks to and any endpoints the process itself runs (the emulator)."""
    base = HostAllowlist(configured) if configured else HostAllowlist()
    return base.plus((host_entry(api_url), *extra))
