"""--quota-fail-closed and its environment variable reach the config."""

from __future__ import annotations

import argparse

from avatar_bridge.config import add_arguments, from_sources


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_quota_fail_closed_defaults_off_and_is_set_by_flag_or_env() -> None:
    assert from_sources(parse([]), {}).security.quota_fail_closed is False
    assert from_sources(parse(["--quota-fail-closed"]), {}).security.quota_fail_closed is True
    env = {"AVATAR_BRIDGE_QUOTA_FAIL_CLOSED": "1"}
    assert from_sources(parse([]), env).security.quota_fail_closed is True
