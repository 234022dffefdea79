"""TLS and mutual-TLS server credentials whose certificate can change without a restart.

grpc asks `_fetch` on every new connection whether the certificate changed; the reloader
(`reload`, called on a timer and on SIGHUP) reads the files off the event loop, checks that
the key matches the certificate, and hands the new configuration to the next handshake.
Connections already open keep the certificate they were made with.
"""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
from dataclasses import dataclass

import grpc

log = logging.getLogger(__name__)

_Stamp = tuple[tuple[int, int, int], ...]


class TlsFileError(ValueError):
    """A certificate, key or CA file is missing or unusable."""


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: the server's certificate chain and key, and the CA that signs client certs."""

    cert_file: str
    key_file: str
    client_ca_file: str = ""
    """Empty: TLS only. Set: mutual TLS, every client must present a certificate it signed."""

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p for p in (self.cert_file, self.key_file, self.client_ca_file) if p)


@dataclass(frozen=True)
class _Loaded:
    stamp: _Stamp
    config: grpc.ServerCertificateConfiguration


class ReloadingTlsCredentials:
    """Server credentials for `files`; build with `await load(files)`."""

    def __init__(self, files: TlsFiles, loaded: _Loaded) -> None:
        self.files = files
        self._current = loaded
        self._pending: grpc.ServerCertificateConfiguration | None = None
        self.reloads = 0
        """How many times a changed certificate was picked up."""

    @classmethod
    async def load(cls, files: TlsFiles) -> ReloadingTlsCredentials:
        return cls(files, await asyncio.to_thread(_read, files))

    @property
    def mutual(self) -> bool:
        return bool(self.files.client_ca_file)

    def server_credentials(self) -> grpc.ServerCredentials:
        return grpc.dynamic_ssl_server_credentials(
            self._current.config,
            self._fetch,  # type: ignore[arg-type]  # grpc documents None as "no change"
            require_client_authentication=self.mutual,
        )

    def _fetch(self) -> grpc.ServerCertificateConfiguration | None:
        # Called by grpc's core for each new connection: must be cheap and never raise.
        pending, self._pending = self._pending, None
        return pending

    async def reload(self, *, force: bool = False) -> bool:
        """Pick up changed files; True when a new certificate will be served.

        A broken new file is logged and ignored: the server keeps its working certificate.
        """
        try:
            stamp = await asyncio.to_thread(_stamp, self.files)
            if stamp == self._current.stamp and not force:
                return False
            loaded = await asyncio.to_thread(_read, self.files)
        except TlsFileError as exc:
            log.error("TLS files not reloaded", extra={"error": str(exc)})
            return False
        self._current = loaded
        self._pending = loaded.config
        self.reloads += 1
        log.info("TLS certificate reloaded", extra={"cert_file": self.files.cert_file})
        return True


def _stamp(files: TlsFiles) -> _Stamp:
    try:
        stats = [os.stat(path) for path in files.paths]
    except OSError as exc:
        raise TlsFileError(f"cannot read TLS file: {exc}") from exc
    return tuple((s.st_mtime_ns, s.st_size, s.st_ino) for s in stats)


def _read(files: TlsFiles) -> _Loaded:
    stamp = _stamp(files)
    try:
        # The stdlib checks the PEM and that the key matches the certificate.
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(files.cert_file, files.key_file)
        if files.client_ca_file:
            ssl.create_default_context(cafile=files.client_ca_file)
        with open(files.cert_file, "rb") as f:
            cert = f.read()
        with open(files.key_file, "rb") as f:
            key = f.read()
        ca = None
        if files.client_ca_file:
            with open(files.client_ca_file, "rb") as f:
                ca = f.read()
    except (OSError, ssl.SSLError) as exc:
        raise TlsFileError(f"unusable TLS files ({', '.join(files.paths)}): {exc}") from exc
    config = grpc.ssl_server_certificate_configuration([(key, cert)], root_certificates=ca)
    return _Loaded(stamp, config)
