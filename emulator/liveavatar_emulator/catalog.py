"""Static catalogue behind the cheap read-only endpoints (avatars, voices, contexts)."""

from __future__ import annotations

from typing import Any

from .config import SANDBOX_AVATAR_ID

_CREATED = "2025-01-01T00:00:00+00:00"

PUBLIC_AVATARS: list[dict[str, Any]] = [
    {
        "id": SANDBOX_AVATAR_ID,
        "space_id": None,
        "type": "VIDEO",
        "status": "ACTIVE",
        "name": "Wayne",
        "preview_url": "https://example.invalid/avatars/wayne.png",
        "is_expired": False,
        "default_voice": {"id": "9c8b542a-bf5c-4f4c-9011-75c79a274387", "name": "Wayne"},
        "is_1080p": False,
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "error_message": None,
    },
    {
        "id": "65f9e3c9-d48b-4118-b73a-4ae2e3cbb8f0",
        "space_id": None,
        "type": "VIDEO",
        "status": "ACTIVE",
        "name": "June HR",
        "preview_url": "https://example.invalid/avatars/june.png",
        "is_expired": False,
        "default_voice": None,
        "is_1080p": True,
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "error_message": None,
    },
]

VOICES: list[dict[str, Any]] = [
    {
        "id": "9c8b542a-bf5c-4f4c-9011-75c79a274387",
        "name": "Wayne",
        "description": "Emulator voice",
        "language": "en",
        "gender": "male",
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "tags": [],
    }
]

CONTEXTS: list[dict[str, Any]] = [
    {
        "id": "3f0c6a8e-5d1b-4c55-9a44-7b0f3f1f2a10",
        "name": "Emulator assistant",
        "prompt": "You are a helpful assistant.",
        "opening_text": "Hello!",
        "links": [],
        "created_at": _CREATED,
        "updated_at": _CREATED,
        "required_dynamic_variables": [],
    }
]
