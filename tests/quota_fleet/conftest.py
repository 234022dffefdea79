"""A real redis-server (Debian's; .ci/run installs it) for the fleet quota tests."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from reliability.helpers import redis_server


@pytest.fixture
async def redis_url(tmp_path: Path) -> AsyncIterator[str]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run does)")
    async with redis_server(tmp_path) as url:
        yield url
