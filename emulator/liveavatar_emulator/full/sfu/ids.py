"""LiveKit-style identifiers (``RM_…``, ``PA_…``, ``TR_…``)."""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def new_sid(prefix: str) -> str:
    """A random sid such as ``PA_h3Kq9ZxYw2Lm``; the SDK requires the type prefix."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(12))
