"""Who owns journal entries on this host, and whether that owner is still alive."""

from __future__ import annotations

import os
import socket


def process_owner(pid: int | None = None) -> str:
    """host:pid:start — the start time tells a live process from a later one with the same pid."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid)}"


def owner_alive(owner: str) -> bool:
    """False only when the owner was a process on this host that is gone (or its pid reused)."""
    host, _, rest = owner.partition(":")
    pid_text, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # Another host's process: this host cannot tell; never steal.
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # Exists, owned by another user.
    return _start_ticks(pid) == start


def _start_ticks(pid: int) -> str:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks); empty where /proc is absent."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            text = stat.read()
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    return text.rsplit(")", 1)[1].split()[19]
