"""The auth file: principals, their roles, quotas and salted API-key hashes.

A TOML file, never plain keys::

    [principals.alice]
    roles = ["converse"]
    keys = ["sha256$<salt hex>$<digest hex>", "sha256$…"]   # several: rotate without downtime
    max_conversations = 2          # optional; overrides the server default quota
    starts_per_minute = 10

    [principals."ops.example.com"]  # an mTLS client certificate's CN or DNS/URI SAN
    roles = ["operate", "converse"]

Keys are 32 random bytes made by `avatar-bridge hash-key`, so one salted SHA-256 is enough
(a slow password hash protects guessable secrets; these are not guessable) and keeps the check
cheap enough to run on the event loop for every call.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import tomllib
from dataclasses import dataclass
from typing import Any

from avatar_bridge.security.principal import ROLES, Principal, Quota

SCHEME = "sha256"
KEY_PREFIX = "abk_"
"""Generated keys start with this, so a leaked one is easy to recognise and scrub."""


class AuthFileError(ValueError):
    """The auth file is malformed; the message names the principal and the problem."""


def new_key() -> str:
    """A fresh caller key: 32 random bytes, URL-safe."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str, *, salt: bytes | None = None) -> str:
    """The auth-file form of `key`: sha256$<salt hex>$<digest hex>."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.sha256(salt + key.encode()).hexdigest()
    return f"{SCHEME}${salt.hex()}${digest}"


@dataclass(frozen=True)
class _KeyHash:
    salt: bytes
    digest: bytes
    principal: Principal


@dataclass(frozen=True)
class AuthFile:
    """The parsed auth file."""

    principals: dict[str, Principal]
    _hashes: tuple[_KeyHash, ...]

    def principal_for_key(self, key: str) -> Principal | None:
        """The principal owning `key`, or None. Checks every hash, each in constant time."""
        found: Principal | None = None
        encoded = key.encode()
        for entry in self._hashes:
            candidate = hashlib.sha256(entry.salt + encoded).digest()
            if hmac.compare_digest(candidate, entry.digest) and found is None:
                found = entry.principal
        return found


EMPTY = AuthFile({}, ())


def parse_auth_file(text: str) -> AuthFile:
    """Parse the TOML text; raise AuthFileError naming the first problem."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AuthFileError(f"auth file is not valid TOML: {exc}") from exc
    table = data.get("principals", {})
    if not isinstance(table, dict):
        raise AuthFileError("auth file: [principals] must be a table of principals")
    principals: dict[str, Principal] = {}
    hashes: list[_KeyHash] = []
    for name, entry in table.items():
        principal, key_hashes = _principal(name, entry)
        principals[name] = principal
        hashes.extend(_KeyHash(salt, digest, principal) for salt, digest in key_hashes)
    return AuthFile(principals, tuple(hashes))


def _principal(name: str, entry: Any) -> tuple[Principal, list[tuple[bytes, bytes]]]:
    if not isinstance(entry, dict):
        raise AuthFileError(f"auth file: principals.{name} must be a table")
    roles = entry.get("roles", [])
    if not isinstance(roles, list) or not set(roles) <= ROLES:
        raise AuthFileError(f"auth file: principals.{name}.roles must be a list of {sorted(ROLES)}")
    quota: Quota | None = None
    if "max_conversations" in entry or "starts_per_minute" in entry:
        try:
            quota = Quota(
                max_conversations=int(entry.get("max_conversations", 0)),
                starts_per_minute=int(entry.get("starts_per_minute", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise AuthFileError(f"auth file: principals.{name} quota must be integers") from exc
    keys = entry.get("keys", [])
    if not isinstance(keys, list):
        raise AuthFileError(f"auth file: principals.{name}.keys must be a list of key hashes")
    parsed: list[tuple[bytes, bytes]] = []
    for index, value in enumerate(keys):
        parts = str(value).split("$")
        try:
            if len(parts) != 3 or parts[0] != SCHEME:
                raise ValueError(value)
            parsed.append((bytes.fromhex(parts[1]), bytes.fromhex(parts[2])))
        except ValueError:
            raise AuthFileError(
                f"auth file: principals.{name}.keys[{index}] is not sha256$<salt>$<digest>: "
                "make entries with `avatar-bridge hash-key`"
            ) from None
    return Principal(name, frozenset(roles), quota), parsed
