"""--event-loop: auto runs the bridge on uvloop when it is installed, asyncio on request."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest

from avatar_bridge import event_loop


async def _loop_module() -> str:
    return type(asyncio.get_running_loop()).__module__


def test_auto_is_uvloop_when_installed() -> None:
    assert event_loop.resolve("auto") == "uvloop"  # uvloop is a dependency of the bridge.
    assert event_loop.run(_loop_module(), "auto").startswith("uvloop")


def test_asyncio_on_request() -> None:
    assert event_loop.resolve("asyncio") == "asyncio"
    assert event_loop.run(_loop_module(), "asyncio").startswith("asyncio")


def test_an_unknown_loop_is_refused() -> None:
    with pytest.raises(ValueError, match="auto, uvloop, asyncio"):
        event_loop.resolve("trio")


def test_auto_falls_back_to_asyncio_without_uvloop() -> None:
    # A fresh interpreter where importing uvloop finds nothing (sys.modules entry None).
    code = (
        "import sys, asyncio; sys.modules['uvloop'] = None\n"
        "from avatar_bridge import event_loop\n"
        "async def m(): return type(asyncio.get_running_loop()).__module__\n"
        "print(event_loop.resolve('auto'), event_loop.run(m(), 'auto'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    resolved, module = out.stdout.split()
    assert resolved == "asyncio"
    assert module.startswith("asyncio")


def test_uvloop_asked_for_but_missing_exits_with_a_message() -> None:
    code = (
        "import sys; sys.modules['uvloop'] = None\n"
        "from avatar_bridge import event_loop\n"
        "async def m(): return 1\n"
        "event_loop.run(m(), 'uvloop')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "uvloop is not installed" in out.stderr
