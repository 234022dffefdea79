"""TLS, mTLS, API keys, roles, quotas and rotation, driven with the real grpcurl binary."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from server.helpers import SANDBOX_AVATAR_ID, WAIT_S  # tests/server/helpers.py

from .certs import CertFiles, issue, make_ca
from .conftest import (
    BOTH_KEY,
    DEFAULT_PRINCIPALS,
    LIMITED_KEY,
    OPERATOR_KEY,
    TALKER_KEY,
    StartBridge,
    auth_toml,
)
from .grpcurl import (
    GRPCURL,
    INVALID_ARGUMENT_EXIT,
    PERMISSION_DENIED_EXIT,
    RESOURCE_EXHAUSTED_EXIT,
    SERVICE,
    UNAUTHENTICATED_EXIT,
    bearer,
    grpcurl,
)

pytestmark = pytest.mark.skipif(not GRPCURL.exists(), reason=f"no grpcurl at {GRPCURL}")

LIST = f"{SERVICE}/ListSessions"
CONVERSE = f"{SERVICE}/Converse"
HEALTH = "grpc.health.v1.Health/Check"


def tls_args(certs: CertFiles) -> tuple[str, ...]:
    return ("-cacert", str(certs.ca))


async def test_tls_only_with_bearer_key(
    start_bridge: StartBridge, certs: CertFiles, auth_file: Path
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert),
        tls_key_file=str(certs.server_key),
        auth_file=str(auth_file),
    ) as bridge:
        ok = await grpcurl(*tls_args(certs), *bearer(OPERATOR_KEY), bridge.target, LIST)
        assert ok.code == 0, ok.err
        assert ok.json() == {} or "sessions" in ok.json()
        # The same key as x-api-key.
        alt = await grpcurl(
            *tls_args(certs), "-H", f"x-api-key: {OPERATOR_KEY}", bridge.target, LIST
        )
        assert alt.code == 0, alt.err
        # Plaintext to a TLS port does not get an answer.
        plain = await grpcurl(
            "-plaintext", *bearer(OPERATOR_KEY), bridge.target, LIST, refused=True
        )
        assert plain.code == 1 and "Failed to dial" in plain.err, plain
        # A server certificate from a CA the client does not trust is refused by the client.
        other_ca = certs.ca.parent / "other-ca.pem"
        other_ca.write_bytes(make_ca("untrusted")[0].cert)
        distrust = await grpcurl(
            "-cacert", str(other_ca), *bearer(OPERATOR_KEY), bridge.target, LIST
        )
        assert distrust.code != 0 and "certificate" in distrust.err.lower(), distrust


async def test_missing_or_wrong_key_is_unauthenticated_without_hints(
    start_bridge: StartBridge, auth_file: Path
) -> None:
    async with start_bridge(auth_file=str(auth_file)) as bridge:
        for args in ((), bearer("abk_not-a-key-0123456789abcdefghij"), bearer(TALKER_KEY + "x")):
            result = await grpcurl("-plaintext", *args, bridge.target, LIST)
            assert result.code == UNAUTHENTICATED_EXIT, result
            # No hint which keys or principals exist.
            for name in DEFAULT_PRINCIPALS:
                assert name not in result.err
        # Health and reflection stay open by default.
        health = await grpcurl("-plaintext", bridge.target, HEALTH)
        assert health.code == 0 and "SERVING" in health.out, health
        listed = await grpcurl("-plaintext", bridge.target, "list")
        assert listed.code == 0 and SERVICE in listed.out, listed


async def test_health_and_reflection_can_be_closed(
    start_bridge: StartBridge, auth_file: Path
) -> None:
    async with start_bridge(
        auth_file=str(auth_file), open_health=False, open_reflection=False
    ) as bridge:
        # grpcurl resolves the method by reflection first, which now also wants a key.
        health = await grpcurl("-plaintext", bridge.target, HEALTH)
        assert health.code != 0 and "code = Unauthenticated" in health.err, health
        listed = await grpcurl("-plaintext", bridge.target, "list")
        assert listed.code != 0, listed
        keyed = await grpcurl("-plaintext", *bearer(TALKER_KEY), bridge.target, HEALTH)
        assert keyed.code == 0 and "SERVING" in keyed.out, keyed
        listed_keyed = await grpcurl("-plaintext", *bearer(TALKER_KEY), bridge.target, "list")
        assert listed_keyed.code == 0 and SERVICE in listed_keyed.out, listed_keyed


async def test_roles_allow_and_refuse(start_bridge: StartBridge, auth_file: Path) -> None:
    bad_config = {"config": {}}  # Refused by validation: no upstream session is made.
    async with start_bridge(auth_file=str(auth_file)) as bridge:
        # converse only: Converse reaches the service, ListSessions and StopSession do not.
        talk = await grpcurl(
            "-plaintext", *bearer(TALKER_KEY), bridge.target, CONVERSE, data=bad_config
        )
        assert talk.code == INVALID_ARGUMENT_EXIT, talk
        listing = await grpcurl("-plaintext", *bearer(TALKER_KEY), bridge.target, LIST)
        assert listing.code == PERMISSION_DENIED_EXIT, listing
        assert "operate" in listing.err
        stop = await grpcurl(
            "-plaintext",
            *bearer(TALKER_KEY),
            bridge.target,
            f"{SERVICE}/StopSession",
            data={"session_id": "s-1"},
        )
        assert stop.code == PERMISSION_DENIED_EXIT, stop
        # operate only: the reverse.
        listing = await grpcurl("-plaintext", *bearer(OPERATOR_KEY), bridge.target, LIST)
        assert listing.code == 0, listing
        talk = await grpcurl(
            "-plaintext", *bearer(OPERATOR_KEY), bridge.target, CONVERSE, data=bad_config
        )
        assert talk.code == PERMISSION_DENIED_EXIT and "converse" in talk.err, talk
        # Both roles.
        for method, data in ((LIST, None), (CONVERSE, bad_config)):
            both = await grpcurl("-plaintext", *bearer(BOTH_KEY), bridge.target, method, data=data)
            assert both.code in (0, INVALID_ARGUMENT_EXIT), both


async def test_mtls_accepts_the_ca_s_clients_and_refuses_others(
    start_bridge: StartBridge, certs: CertFiles, auth_file: Path
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert),
        tls_key_file=str(certs.server_key),
        tls_client_ca_file=str(certs.ca),
        auth_file=str(auth_file),
    ) as bridge:
        mine = ("-cert", str(certs.client_cert), "-key", str(certs.client_key))
        # The certificate's CN is the principal "ops.example.com": operate, not converse.
        ok = await grpcurl(*tls_args(certs), *mine, bridge.target, LIST)
        assert ok.code == 0, ok
        talk = await grpcurl(*tls_args(certs), *mine, bridge.target, CONVERSE, data={"config": {}})
        assert talk.code == PERMISSION_DENIED_EXIT, talk
        # No client certificate, or one from another CA: the handshake fails.
        none = await grpcurl(
            *tls_args(certs), *bearer(OPERATOR_KEY), bridge.target, LIST, refused=True
        )
        assert none.code == 1 and "Failed to dial" in none.err, none
        stranger = ("-cert", str(certs.stranger_cert), "-key", str(certs.stranger_key))
        refused = await grpcurl(*tls_args(certs), *stranger, bridge.target, LIST, refused=True)
        assert refused.code == 1 and "Failed to dial" in refused.err, refused
        # A key on top of a certificate names its own principal.
        keyed = await grpcurl(*tls_args(certs), *mine, *bearer(TALKER_KEY), bridge.target, LIST)
        assert keyed.code == PERMISSION_DENIED_EXIT, keyed


LITE_CONFIG = {
    "config": {"create": {"avatar_id": SANDBOX_AVATAR_ID, "is_sandbox": True, "lite": {}}}
}
"""A valid LITE config; grpcurl half-closes after it, so the conversation ends CLIENT_ENDED."""


async def test_quota_starts_per_minute(start_bridge: StartBridge, auth_file: Path) -> None:
    async with start_bridge(auth_file=str(auth_file)) as bridge:
        # "limited" may start 2 conversations a minute. A start is an admitted conversation: a
        # config refused as invalid never reaches admission, so it does not count.
        refused = await grpcurl(
            "-plaintext", *bearer(LIMITED_KEY), bridge.target, CONVERSE, data={"config": {}}
        )
        assert refused.code == INVALID_ARGUMENT_EXIT, refused
        for _ in range(2):
            first = await grpcurl(
                "-plaintext", *bearer(LIMITED_KEY), bridge.target, CONVERSE, data=LITE_CONFIG
            )
            assert first.code == 0, first
        hit = await grpcurl(
            "-plaintext", *bearer(LIMITED_KEY), bridge.target, CONVERSE, data=LITE_CONFIG
        )
        assert hit.code == RESOURCE_EXHAUSTED_EXIT, hit
        assert "2 per minute" in hit.err and "retry in" in hit.err, hit.err
        # Another principal is not affected.
        other = await grpcurl(
            "-plaintext", *bearer(TALKER_KEY), bridge.target, CONVERSE, data=LITE_CONFIG
        )
        assert other.code == 0, other


async def until_exit(expected: int, *args: str) -> int:
    """Run grpcurl until it exits with `expected` (the server reloads files on a timer)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + WAIT_S
    while True:
        result = await grpcurl(*args)
        if result.code == expected or loop.time() > deadline:
            return result.code
        await asyncio.sleep(0.1)


async def test_rotated_key_takes_effect_without_restart(
    start_bridge: StartBridge, auth_file: Path
) -> None:
    new_key = "abk_rotated-0123456789abcdefghijklmno"
    async with start_bridge(auth_file=str(auth_file), reload_interval_s=0.1) as bridge:
        old = await grpcurl("-plaintext", *bearer(OPERATOR_KEY), bridge.target, LIST)
        assert old.code == 0, old
        # Rotation step 1: the principal holds both keys.
        principals = dict(DEFAULT_PRINCIPALS)
        principals["operator"] = {"roles": ["operate"], "keys": [OPERATOR_KEY, new_key]}
        await asyncio.to_thread(auth_file.write_text, auth_toml(principals))
        assert await until_exit(0, "-plaintext", *bearer(new_key), bridge.target, LIST) == 0
        assert (await grpcurl("-plaintext", *bearer(OPERATOR_KEY), bridge.target, LIST)).code == 0
        # Step 2: the old key is retired.
        principals["operator"] = {"roles": ["operate"], "keys": [new_key]}
        await asyncio.to_thread(auth_file.write_text, auth_toml(principals))
        code = await until_exit(
            UNAUTHENTICATED_EXIT, "-plaintext", *bearer(OPERATOR_KEY), bridge.target, LIST
        )
        assert code == UNAUTHENTICATED_EXIT
        assert (await grpcurl("-plaintext", *bearer(new_key), bridge.target, LIST)).code == 0
        # A broken file is ignored: the last good one stays in force.
        await asyncio.to_thread(auth_file.write_text, "this is [not toml")
        await bridge.server.reload()
        assert (await grpcurl("-plaintext", *bearer(new_key), bridge.target, LIST)).code == 0


async def test_rotated_certificate_is_served_to_new_connections(
    start_bridge: StartBridge, certs: CertFiles, auth_file: Path, tmp_path: Path
) -> None:
    new_ca, new_ca_key = make_ca("rotated CA")
    new_server = issue(new_ca, new_ca_key, "localhost", server=True)
    new_ca_file = tmp_path / "new-ca.pem"
    new_ca_file.write_bytes(new_ca.cert)
    async with start_bridge(
        tls_cert_file=str(certs.server_cert),
        tls_key_file=str(certs.server_key),
        auth_file=str(auth_file),
        reload_interval_s=0.1,
    ) as bridge:
        args = (*bearer(OPERATOR_KEY), bridge.target, LIST)
        assert (await grpcurl("-cacert", str(certs.ca), *args)).code == 0
        untrusted = await grpcurl("-cacert", str(new_ca_file), *args)
        assert untrusted.code == 1 and "certificate" in untrusted.err, untrusted
        # Replace the files the way a certificate manager does: write aside, then rename.
        staged = tmp_path / "staged"
        staged.mkdir()
        (staged / "server.key").write_bytes(new_server.key)
        (staged / "server.pem").write_bytes(new_server.cert)
        shutil.move(staged / "server.key", certs.server_key)
        shutil.move(staged / "server.pem", certs.server_cert)
        assert await until_exit(0, "-cacert", str(new_ca_file), *args) == 0
        retired = await grpcurl("-cacert", str(certs.ca), *args)
        assert retired.code == 1 and "certificate" in retired.err, retired
        assert bridge.server.tls is not None and bridge.server.tls.reloads >= 1
