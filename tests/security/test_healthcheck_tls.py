"""`python -m avatar_bridge.healthcheck` against a bridge serving TLS and mutual TLS.

The check runs in a worker thread (its channel blocks) while the in-process bridge serves.
"""

from __future__ import annotations

import asyncio

import pytest

from avatar_bridge import healthcheck

from .certs import CertFiles
from .conftest import StartBridge


async def probe(target: str, env: dict[str, str], *argv: str) -> int:
    return await asyncio.to_thread(
        healthcheck.main, list(argv), {"AVATAR_BRIDGE_LISTEN": target, **env}
    )


def server_env(certs: CertFiles, *, mutual: bool = False) -> dict[str, str]:
    env = {
        "AVATAR_BRIDGE_TLS_CERT": str(certs.server_cert),
        "AVATAR_BRIDGE_TLS_KEY": str(certs.server_key),
    }
    if mutual:
        env["AVATAR_BRIDGE_TLS_CLIENT_CA"] = str(certs.ca)
    return env


async def test_tls_bridge_is_healthy_with_its_ca(
    start_bridge: StartBridge, certs: CertFiles
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert), tls_key_file=str(certs.server_key)
    ) as running:
        env = server_env(certs)
        assert await probe(running.target, {**env, "AVATAR_BRIDGE_TLS_CA": str(certs.ca)}) == 0
        assert await probe(running.target, env, "--ca", str(certs.ca)) == 0
        # The server's certificate names localhost too: verify against that name.
        named = {**env, "AVATAR_BRIDGE_TLS_CA": str(certs.ca)}
        assert (
            await probe(running.target, {**named, "AVATAR_BRIDGE_TLS_SERVER_NAME": "localhost"})
            == 0
        )
        # A name the certificate does not cover fails verification.
        assert await probe(running.target, named, "--server-name", "other.example") == 1
        # A plaintext check of a TLS port fails (what a plaintext probe would see).
        assert await probe(running.target, {}) == 1
        # Trusting another CA fails the handshake.
        assert (
            await probe(running.target, {**env, "AVATAR_BRIDGE_TLS_CA": str(certs.stranger_cert)})
            == 1
        )


async def test_mtls_bridge_needs_the_client_certificate(
    start_bridge: StartBridge, certs: CertFiles
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert),
        tls_key_file=str(certs.server_key),
        tls_client_ca_file=str(certs.ca),
    ) as running:
        env = {**server_env(certs, mutual=True), "AVATAR_BRIDGE_TLS_CA": str(certs.ca)}
        client = {
            "AVATAR_BRIDGE_TLS_HEALTHCHECK_CERT": str(certs.client_cert),
            "AVATAR_BRIDGE_TLS_HEALTHCHECK_KEY": str(certs.client_key),
        }
        assert await probe(running.target, {**env, **client}) == 0
        assert (
            await probe(
                running.target,
                env,
                "--cert",
                str(certs.client_cert),
                "--key",
                str(certs.client_key),
                "--service",
                "avatarbridge.v1.AvatarBridgeService",
            )
            == 0
        )
        stranger = {
            "AVATAR_BRIDGE_TLS_HEALTHCHECK_CERT": str(certs.stranger_cert),
            "AVATAR_BRIDGE_TLS_HEALTHCHECK_KEY": str(certs.stranger_key),
        }
        assert await probe(running.target, {**env, **stranger}) == 1
        with pytest.raises(SystemExit, match="AVATAR_BRIDGE_TLS_HEALTHCHECK_CERT"):
            await probe(running.target, env)


async def test_without_a_ca_the_server_certificate_is_pinned(
    start_bridge: StartBridge, certs: CertFiles
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert), tls_key_file=str(certs.server_key)
    ) as running:
        # No AVATAR_BRIDGE_TLS_CA: the check trusts exactly the certificate the server serves.
        assert await probe(running.target, server_env(certs)) == 0
        # Another server's certificate under that name is refused.
        other = {**server_env(certs), "AVATAR_BRIDGE_TLS_CA": str(certs.client_cert)}
        assert await probe(running.target, other) == 1
