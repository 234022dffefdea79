"""The start-up open-file limit check (avatar_bridge.rlimits): the bridge raises its own soft
RLIMIT_NOFILE for --max-sessions FULL sessions, up to the hard limit, and warns below it.

Each case runs in a child process: a lowered hard limit cannot be raised again."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import textwrap

import pytest

CHILD = textwrap.dedent(
    """
    import json, logging, resource, sys
    from avatar_bridge import rlimits
    soft, hard, sessions = (int(x) for x in sys.argv[1:4])
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("avatar_bridge.rlimits").addHandler(handler)
    logging.getLogger("avatar_bridge.rlimits").setLevel(logging.INFO)
    limit = rlimits.check_nofile(sessions)
    now = resource.getrlimit(resource.RLIMIT_NOFILE)
    print(json.dumps({
        "soft": now[0], "hard": now[1], "sufficient": limit.sufficient,
        "fits": limit.full_sessions,
        "logs": [[r.levelname, r.getMessage()] for r in records],
    }))
    """
)


def run_child(soft: int, hard: int, sessions: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(soft), str(hard), str(sessions)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def current_hard() -> int:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 1 << 20 if hard == resource.RLIM_INFINITY else hard


def test_the_soft_limit_is_raised_to_what_max_sessions_needs() -> None:
    if current_hard() < 8256:
        pytest.skip(f"hard RLIMIT_NOFILE {current_hard()} below the 8,256 this case needs")
    # 200 sessions x 40 fds + 256 for the process itself.
    out = run_child(1024, current_hard(), 200)
    assert out["soft"] == 8256
    assert out["sufficient"] is True
    assert [level for level, _ in out["logs"]] == ["INFO"]  # type: ignore[union-attr]


def test_a_soft_limit_already_high_enough_is_left_alone() -> None:
    if current_hard() < 4096:
        pytest.skip(f"hard RLIMIT_NOFILE {current_hard()} below 4096")
    out = run_child(4096, current_hard(), 10)  # 10 x 40 + 256 = 656 needed.
    assert out["soft"] == 4096
    assert out["logs"] == []


def test_a_hard_limit_too_low_is_used_whole_and_warned_about() -> None:
    out = run_child(1024, 2256, 200)
    assert out["soft"] == 2256
    assert out["hard"] == 2256
    assert out["sufficient"] is False
    assert out["fits"] == 50  # (2,256 - 256) // 40
    (level, message) = out["logs"][-1]  # type: ignore[index]
    assert level == "WARNING"
    assert "about 50 FULL sessions" in message
    assert "--max-sessions is 200" in message
