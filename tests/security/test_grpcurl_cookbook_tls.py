"""The README cookbook's TLS recipe (-cacert, an API key in `authorization`), run as written by
the real grpcurl against a bridge serving TLS with an auth file."""

from __future__ import annotations

from pathlib import Path

import pytest
from server.test_grpcurl import field, json_stream

from server import cookbook

from .certs import CertFiles
from .conftest import OPERATOR_KEY, StartBridge

pytestmark = pytest.mark.skipif(
    not cookbook.GRPCURL.exists(), reason=f"no grpcurl at {cookbook.GRPCURL}"
)


async def test_tls_and_key_recipe(
    start_bridge: StartBridge, certs: CertFiles, auth_file: Path
) -> None:
    async with start_bridge(
        tls_cert_file=str(certs.server_cert),
        tls_key_file=str(certs.server_key),
        auth_file=str(auth_file),
    ) as running:
        files = {"ca.pem": certs.ca}
        code, out, err = await cookbook.run(
            "tls-and-key", running.target, {"AVATAR_BRIDGE_API_KEY": OPERATOR_KEY}, files=files
        )
        assert code == 0, err
        assert field(json_stream(out)[0], "sessions") in (None, [])
        # The same recipe with a wrong key: UNAUTHENTICATED (16), exit 64 + 16.
        code, out, err = await cookbook.run(
            "tls-and-key", running.target, {"AVATAR_BRIDGE_API_KEY": "abk_wrong"}, files=files
        )
        assert code == 80, (code, out, err)
        assert "Unauthenticated" in err, err
        # Trusting another CA: grpcurl cannot complete the handshake and fails to dial.
        code, out, err = await cookbook.run(
            "tls-and-key",
            running.target,
            {"AVATAR_BRIDGE_API_KEY": OPERATOR_KEY},
            files={"ca.pem": certs.stranger_cert},
        )
        assert code != 0, (code, out, err)
