"""The security building blocks on their own: key file, allowlist matching, quota windows."""

from __future__ import annotations

import pytest

from avatar_bridge.errors import LimitExceeded
from avatar_bridge.security.allowlist import HostAllowlist, NotAllowed, for_server
from avatar_bridge.security.interceptor import LogBudget
from avatar_bridge.security.keys import AuthFileError, hash_key, parse_auth_file
from avatar_bridge.security.principal import Principal, Quota
from avatar_bridge.security.quotas import QuotaPolicy


def test_several_keys_per_principal_and_salted_hashes() -> None:
    first, second = hash_key("key-one-0123456789"), hash_key("key-one-0123456789")
    assert first != second  # Salted: the same key never hashes the same twice.
    auth = parse_auth_file(
        f"""
        [principals.a]
        roles = ["converse"]
        keys = ["{first}", "{hash_key("key-two-0123456789")}"]
        [principals.b]
        roles = ["operate"]
        keys = ["{hash_key("key-three-012345678")}"]
        """
    )
    assert auth.principal_for_key("key-one-0123456789").name == "a"  # type: ignore[union-attr]
    assert auth.principal_for_key("key-two-0123456789").name == "a"  # type: ignore[union-attr]
    assert auth.principal_for_key("key-three-012345678").name == "b"  # type: ignore[union-attr]
    assert auth.principal_for_key("key-four-0123456789") is None
    assert auth.principal_for_key("") is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("[principals", "not valid TOML"),
        ('[principals.a]\nroles = ["admin"]', "roles must be a list"),
        ('[principals.a]\nkeys = ["plain-key"]', "keys[0] is not sha256"),
        ('[principals.a]\nmax_conversations = "many"', "quota must be integers"),
    ],
)
def test_bad_auth_files_are_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(AuthFileError, match=problem.replace("[", r"\[")):
        parse_auth_file(text)


@pytest.mark.parametrize(
    "url",
    [
        "wss://webrtc-signaling.liveavatar.com/v1/ws/abc?token=x",
        "wss://eu.heygen.com/ws",
        "wss://heygen-feapbkvq.livekit.cloud",
        "ws://127.0.0.1:8900/v1/ws/s-1",  # The configured API's endpoint.
    ],
)
def test_allowlist_allows_liveavatar_and_the_configured_api(url: str) -> None:
    for_server((), "http://127.0.0.1:8900").check(url, "ws_url")


@pytest.mark.parametrize(
    "url",
    [
        "ws://127.0.0.1:8901/v1/ws/s-1",  # Same host, another port.
        "wss://liveavatar.com.evil.example/ws",
        "wss://evilliveavatar.com/ws",
        "wss://api.liveavatar.com@evil.example/ws",  # Userinfo trick: the host is evil.example.
        "wss://evil.example/#.liveavatar.com",
        "wss://10.0.0.1/internal",
        "ws:///no-host",
        "not a url",
    ],
)
def test_allowlist_refuses_everything_else(url: str) -> None:
    with pytest.raises(NotAllowed) as caught:
        for_server((), "http://127.0.0.1:8900").check(url, "config.attach.lite.ws_url")
    assert "evil" not in str(caught.value) and "internal" not in str(caught.value)


def test_configured_allowlist_replaces_the_defaults() -> None:
    allow = HostAllowlist(("lk.internal.example:7443", "*.corp.example"))
    allow.check("wss://lk.internal.example:7443", "livekit_url")
    allow.check("wss://a.b.corp.example/x", "livekit_url")
    for url in ("wss://lk.internal.example", "wss://corp.example", "wss://x.liveavatar.com"):
        with pytest.raises(NotAllowed):
            allow.check(url, "livekit_url")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_quota_starts_per_minute_slide_and_name_the_retry_time() -> None:
    clock = Clock()
    policy = QuotaPolicy(Quota(starts_per_minute=2), clock=clock)
    alice = Principal("alice", frozenset({"converse"}))
    policy.check_and_take(alice).release()
    clock.now += 20
    policy.check_and_take(alice).release()
    clock.now += 10
    with pytest.raises(LimitExceeded, match=r"limit of 2 per minute: retry in 30 s"):
        policy.check_and_take(alice)
    # Another principal has its own window.
    policy.check_and_take(Principal("bob", frozenset())).release()
    clock.now += 30  # The first start leaves the window.
    policy.check_and_take(alice).release()


def test_quota_concurrent_slots_come_back_once() -> None:
    policy = QuotaPolicy(Quota(max_conversations=1))
    own = Principal("alice", frozenset(), quota=Quota(max_conversations=2))
    first, second = policy.check_and_take(own), policy.check_and_take(own)
    with pytest.raises(LimitExceeded, match="limit of 2"):
        policy.check_and_take(own)
    first.release()
    first.release()  # Idempotent: does not free a second slot.
    third = policy.check_and_take(own)
    with pytest.raises(LimitExceeded):
        policy.check_and_take(own)
    for handle in (second, third):
        handle.release()
    assert policy.active("alice") == 0


def test_refusal_log_budget_bounds_a_storm_and_counts_what_it_skipped() -> None:
    budget = LogBudget(per_s=0.0, burst=3)  # No refill: exactly the burst is logged.
    taken = [budget.take() for _ in range(10)]
    assert taken[:3] == [0, 0, 0]
    assert taken[3:] == [None] * 7
    refilled = LogBudget(per_s=1e9, burst=1)  # Refills at once: every call is logged.
    assert [refilled.take() for _ in range(3)] == [0, 0, 0]
