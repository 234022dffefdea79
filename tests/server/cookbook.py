"""The README's "grpcurl cookbook": its recipes, parsed from the README, run as a user would.

Each recipe is a ```sh block right after a `<!-- recipe: NAME -->` marker. Running one swaps the
documented address (localhost:50051) for the test bridge's and `.venv/bin/grpcurl` for the
grpcurl next to this interpreter; shell variables the recipe reads are passed in.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import httpx
from conftest import API_KEY  # tests/conftest.py

from .commands import GRPCURL as GRPCURL  # re-exported: the cookbook tests skip without it
from .commands import ROOT, sh
from .helpers import SANDBOX_AVATAR_ID, WAIT_S

README = ROOT / "README.md"
DOCUMENTED_TARGET = "localhost:50051"
_RECIPE = re.compile(r"<!-- recipe: ([a-z0-9-]+) -->\n```sh\n(.*?)\n```", re.S)


def recipes() -> dict[str, str]:
    """Recipe name to its shell text, from the README's cookbook section only."""
    text = README.read_text(encoding="utf-8")
    section = text.split("\n## grpcurl cookbook\n", 1)[1].split("\n## ", 1)[0]
    return dict(_RECIPE.findall(section))


async def run(
    name: str,
    target: str,
    variables: dict[str, str] | None = None,
    within_s: float = WAIT_S * 2,
    files: dict[str, Path] | None = None,
) -> tuple[int, str, str]:
    """Run recipe `name` against `target`; (exit code, stdout, stderr). Past `within_s` the
    whole process group is killed (grpcurl may be a child of the shell, holding the pipes).
    `files` maps a file name the recipe shows (ca.pem) to the test's own file."""
    command = recipes()[name]
    assert DOCUMENTED_TARGET in command, command
    command = command.replace(".venv/bin/grpcurl", "grpcurl").replace(DOCUMENTED_TARGET, target)
    for shown, path in (files or {}).items():
        assert f" {shown} " in command, (shown, command)
        command = command.replace(f" {shown} ", f" {shlex.quote(str(path))} ")
    return await sh(command, variables, within_s)


async def start_elsewhere(api_url: str, body: dict[str, Any]) -> dict[str, Any]:
    """Create and start a session with LiveAvatar's REST API, as another service would;
    returns the start answer's `data`."""
    async with httpx.AsyncClient(base_url=api_url, timeout=WAIT_S) as http:
        body = {"avatar_id": SANDBOX_AVATAR_ID, "is_sandbox": True, **body}
        token = await http.post("/v1/sessions/token", headers={"X-API-KEY": API_KEY}, json=body)
        token.raise_for_status()
        bearer = {"Authorization": f"Bearer {token.json()['data']['session_token']}"}
        start = await http.post("/v1/sessions/start", headers=bearer)
        start.raise_for_status()
        data: dict[str, Any] = start.json()["data"]
        return data
