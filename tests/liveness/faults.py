"""The emulator's per-session fault endpoints, over HTTP, on top of the server tests' Inspector."""

from __future__ import annotations

from typing import Any

from server.helpers import Inspector


class FaultyEmulator(Inspector):
    """Inspector plus the LITE socket faults (drop, stall, refuse reconnect)."""

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.post(path, json=body)
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer

    async def drop_ws(self, session_id: str, code: int, reason: str = "") -> int:
        """Close the session's socket with `code`, leaving the session running."""
        answer = await self._post(
            f"/_emulator/sessions/{session_id}/drop_ws", {"code": code, "reason": reason}
        )
        dropped: int = answer["dropped"]
        return dropped

    async def stall(self, session_id: str, seconds: float) -> None:
        await self._post(f"/_emulator/sessions/{session_id}/ws_stall", {"seconds": seconds})

    async def refuse_reconnects(self, session_id: str, count: int) -> None:
        await self._post(f"/_emulator/sessions/{session_id}/ws_refuse_reconnect", {"count": count})

    async def ws_faults(self, session_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/_emulator/sessions/{session_id}/ws_faults")
        response.raise_for_status()
        state: dict[str, Any] = response.json()
        return state

    async def end(self, session_id: str, reason: str) -> None:
        await self._post(f"/_emulator/sessions/{session_id}/end", {"reason": reason})

    async def played(self, session_id: str) -> dict[str, Any]:
        response = await self.http.get(f"/_emulator/sessions/{session_id}/played")
        response.raise_for_status()
        summary: dict[str, Any] = response.json()
        return summary
