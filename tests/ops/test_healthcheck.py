"""avatar_bridge.healthcheck (the image's HEALTHCHECK): dials the configured listen address."""

from __future__ import annotations

import socket

from avatar_bridge import healthcheck


def test_wildcard_listen_addresses_are_dialled_on_loopback() -> None:
    assert healthcheck.target_for("0.0.0.0:50051") == "127.0.0.1:50051"
    assert healthcheck.target_for("[::]:7000") == "[::1]:7000"
    assert healthcheck.target_for("10.1.2.3:6000") == "10.1.2.3:6000"


def test_nothing_listening_is_unhealthy() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # The port was free a moment ago and nothing serves gRPC on it.
    assert healthcheck.main([], {"AVATAR_BRIDGE_LISTEN": f"0.0.0.0:{port}"}) == 1
