"""`python -m avatar_bridge.healthcheck`: exit 0 when the local bridge reports SERVING.

The container HEALTHCHECK and the Kubernetes exec probes run this so it follows the configured
listen address (AVATAR_BRIDGE_LISTEN) instead of a hard-coded port, and speaks TLS or mutual TLS
when the server does (AVATAR_BRIDGE_TLS_*): Kubernetes' native gRPC probes cannot. A separate
short-lived process: the blocking channel here never shares an event loop with the server.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from avatar_bridge import config as config_module

# A wildcard listen address is reachable on loopback; a specific one is dialled as given.
_WILDCARDS = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]", "": "127.0.0.1"}

# The health check's own TLS settings, beside the server's AVATAR_BRIDGE_TLS_CERT/KEY/CLIENT_CA.
CA_ENV = "AVATAR_BRIDGE_TLS_CA"
"""PEM CA that signs the server certificate; unset, the server's own certificate file is trusted."""
CERT_ENV = "AVATAR_BRIDGE_TLS_HEALTHCHECK_CERT"
"""PEM client certificate the check presents when the server requires mutual TLS."""
KEY_ENV = "AVATAR_BRIDGE_TLS_HEALTHCHECK_KEY"
SERVER_NAME_ENV = "AVATAR_BRIDGE_TLS_SERVER_NAME"
"""Name to verify the server certificate against when it does not cover the dialled address."""


@dataclass(frozen=True)
class ProbeTls:
    """What the health check needs to dial a TLS port."""

    root_certificates: bytes
    certificate_chain: bytes | None = None
    private_key: bytes | None = None
    server_name: str = ""


def target_for(listen: str) -> str:
    """The address to dial for a server that listens on `listen` (host:port)."""
    host, _, port = listen.rpartition(":")
    return f"{_WILDCARDS.get(host, host)}:{port}"


def check(target: str, timeout_s: float, tls: ProbeTls | None = None, service: str = "") -> bool:
    """True when `target` answers Health/Check for `service` with SERVING."""
    if tls is None:
        channel = grpc.insecure_channel(target)
    else:
        credentials = grpc.ssl_channel_credentials(
            tls.root_certificates, tls.private_key, tls.certificate_chain
        )
        options = [("grpc.ssl_target_name_override", tls.server_name)] if tls.server_name else []
        channel = grpc.secure_channel(target, credentials, options=options)
    with channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=service), timeout=timeout_s
            )
        except grpc.RpcError:
            return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def probe_tls(
    security: config_module.SecurityConfig, args: argparse.Namespace, env: Mapping[str, str]
) -> ProbeTls | None:
    """TLS settings for the probe: none when the server speaks plaintext; flags over env."""
    if not security.tls:
        return None
    ca = args.ca or env.get(CA_ENV) or security.tls_cert_file
    cert = args.cert or env.get(CERT_ENV) or ""
    key = args.key or env.get(KEY_ENV) or ""
    if bool(cert) != bool(key):
        raise SystemExit(f"avatar-bridge healthcheck: {CERT_ENV} and {KEY_ENV} go together")
    if security.tls_client_ca_file and not cert:
        raise SystemExit(
            f"avatar-bridge healthcheck: the server requires mTLS: set {CERT_ENV} and {KEY_ENV}"
        )
    return ProbeTls(
        root_certificates=Path(ca).read_bytes(),
        certificate_chain=Path(cert).read_bytes() if cert else None,
        private_key=Path(key).read_bytes() if key else None,
        server_name=args.server_name or env.get(SERVER_NAME_ENV, ""),
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m avatar_bridge.healthcheck",
        description="Exit 0 when the bridge at AVATAR_BRIDGE_LISTEN reports SERVING.",
    )
    parser.add_argument("--service", default="", help="health service name ('' = the server)")
    parser.add_argument("--timeout-s", type=float, default=2.0, help="deadline of the check")
    parser.add_argument("--ca", help=f"PEM CA of the server certificate [{CA_ENV}]")
    parser.add_argument("--cert", help=f"PEM client certificate for mTLS [{CERT_ENV}]")
    parser.add_argument("--key", help=f"PEM key of --cert [{KEY_ENV}]")
    parser.add_argument("--server-name", help=f"name to verify [{SERVER_NAME_ENV}]")
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args([] if argv is None else list(argv))
    env = os.environ if env is None else env
    config = config_module.from_sources(None, env)
    target = target_for(config.listen)
    try:
        tls = probe_tls(config.security, args, env)
    except OSError as exc:
        print(f"avatar-bridge healthcheck: cannot read a TLS file: {exc}", file=sys.stderr)
        return 1
    if check(target, timeout_s=args.timeout_s, tls=tls, service=args.service):
        return 0
    transport = "plaintext" if tls is None else "TLS"
    print(f"avatar-bridge healthcheck: {target} ({transport}) is not SERVING", file=sys.stderr)
    return 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
