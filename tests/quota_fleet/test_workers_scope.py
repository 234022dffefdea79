"""`--workers N` without a shared store: quotas are per worker, and the parent says so."""

from __future__ import annotations

from avatar_bridge.config import SecurityConfig, ServerConfig
from avatar_bridge.workers import quota_scope_warning

QUOTAS = SecurityConfig(quota_conversations=3)


def test_workers_without_redis_warn_that_quotas_are_per_worker() -> None:
    text = quota_scope_warning(ServerConfig(security=QUOTAS), 4)
    assert "up to 4 x its quota" in text and "--redis-url" in text


def test_an_auth_file_may_hold_quotas_too() -> None:
    assert quota_scope_warning(ServerConfig(security=SecurityConfig(auth_file="a.toml")), 2)


def test_no_warning_when_it_does_not_apply() -> None:
    assert quota_scope_warning(ServerConfig(security=QUOTAS), 1) == ""
    assert quota_scope_warning(ServerConfig(security=QUOTAS, redis_url="redis://r:6379/0"), 4) == ""
    assert quota_scope_warning(ServerConfig(), 4) == ""  # No quota anywhere: nothing to split.
