"""The viewer page under ``/viewer``: watch and hear a session's avatar, see its events.

The page's script is ``viewer_static/viewer.js``, bundled from ``emulator/web`` by
``make web`` (livekit-client from npm, never a CDN). The JSON routes give it what it needs:
the active sessions, a subscribe-only LiveKit token for one session's room, and the LITE
socket's traffic (FULL events arrive in the room itself, on ``agent-response``).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

from .auth import registry_of
from .sessions import Session, SessionRegistry

router = APIRouter(prefix="/viewer")

Registry = Annotated[SessionRegistry, Depends(registry_of)]

STATIC = Path(__file__).parent / "viewer_static"
BUNDLE = STATIC / "viewer.js"
_MAX_EVENTS = 200

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>LiveAvatar emulator viewer</title>
<style>
 body{font-family:system-ui,sans-serif;margin:1rem;background:#111;color:#eee}
 main{display:flex;gap:1rem;flex-wrap:wrap} section{min-width:20rem}
 video{width:640px;height:480px;background:#000} ol{font:12px monospace;max-height:30rem;
 overflow:auto} button{margin:.1rem;font:12px monospace}
</style></head><body>
<h1>LiveAvatar emulator: watch the avatar</h1>
<main>
 <section><h2>Active sessions</h2><p id="empty">No active session yet: start one.</p>
  <ul id="sessions"></ul></section>
 <section><h2>Session <span id="watching">-</span></h2><p id="status"></p>
  <button id="unmute" hidden>Click to hear the avatar</button><br>
  <video id="video" autoplay playsinline muted></video><audio id="audio" autoplay></audio>
 </section>
 <section><h2>Events (newest first)</h2><ol id="events" reversed></ol></section>
</main>
__SCRIPT__
</body></html>
"""

_MISSING = (
    "<p><b>The viewer's script is not built.</b> Run <code>make web</code> "
    "(needs npm), then reload.</p>"
)


@router.get("", response_class=HTMLResponse)
async def page() -> HTMLResponse:
    """The viewer page."""
    script = (
        '<script type="module" src="/viewer/viewer.js"></script>' if BUNDLE.exists() else _MISSING
    )
    return HTMLResponse(_PAGE.replace("__SCRIPT__", script))


@router.get("/viewer.js")
async def bundle() -> FileResponse:
    """The bundled page script."""
    if not BUNDLE.exists():
        raise HTTPException(404, "viewer bundle not built: run make web")
    return FileResponse(BUNDLE, media_type="text/javascript")


def _watchable(registry: SessionRegistry, session: Session) -> bool:
    backend = registry.full_backend
    return backend is not None and backend.avatar_room(session.id) is not None


@router.get("/api/sessions")
async def sessions(registry: Registry) -> dict[str, Any]:
    """Active sessions, newest first; ``watchable`` = its avatar is in a room."""
    return {
        "sessions": [
            {
                "id": s.id,
                "mode": s.mode,
                "status": s.status.value,
                "created_at": s.created_at.isoformat(),
                "watchable": _watchable(registry, s),
            }
            for s in reversed(registry.active())
        ]
    }


@router.post("/api/sessions/{session_id}/join")
async def join(session_id: str, registry: Registry) -> dict[str, Any]:
    """A token to watch the session's avatar (a ``viewer-…`` participant in its room)."""
    backend = registry.full_backend
    found = backend.avatar_room(session_id) if backend is not None else None
    if backend is None or found is None:
        raise HTTPException(404, "no avatar room for this session")
    room, avatar = found
    identity = f"viewer-{secrets.token_hex(4)}"
    return {
        "livekit_url": backend.livekit_url,
        "token": backend.mint(room, identity),
        "room": room,
        "identity": identity,
        "avatar_identity": avatar,
    }


@router.get("/api/sessions/{session_id}/events")
async def events(session_id: str, registry: Registry, after: str = "0.0") -> dict[str, Any]:
    """LITE socket traffic since cursor ``after`` (``<commands>.<events>``), oldest first."""
    session = registry.get(session_id)
    if session is None:
        raise HTTPException(404, "Session not found")
    try:
        seen_commands, seen_events = (int(part) for part in after.split("."))
    except ValueError:
        seen_commands = seen_events = 0
    lines: list[tuple[float, str]] = []
    for c in session.commands[seen_commands:]:
        note = f" [dropped: {c.note}]" if c.dropped else ""
        lines.append((c.at, f"client -> {c.type} {c.event_id or ''}{note}".rstrip()))
    for e in session.events[seen_events:]:
        ref = e.event_id or e.source_event_id or ""
        lines.append((e.at, f"avatar <- {e.type} {ref}".rstrip()))
    lines.sort(key=lambda line: line[0])
    return {
        "events": [{"at": at, "text": text} for at, text in lines[-_MAX_EVENTS:]],
        "next": f"{len(session.commands)}.{len(session.events)}",
        "status": session.status.value,
    }
