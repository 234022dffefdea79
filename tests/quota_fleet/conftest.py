"""A real redis-server (Debian's; .ci/run installs it) for the fleet quota tests."""

from __future__ import annotations

# Shared fixtures, registered here by name.
from server.fixtures import redis_url as redis_url
