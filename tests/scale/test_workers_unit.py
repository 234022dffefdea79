"""`--workers` planning without processes: counts, per-worker config, refused set-ups."""

from __future__ import annotations

import os
import socket

import pytest

from avatar_bridge.config import ServerConfig
from avatar_bridge.workers import check_plan, parse_workers, worker_config, worker_index


def test_workers_count_auto_and_refusals() -> None:
    assert parse_workers("3") == 3
    assert parse_workers("auto") == len(os.sched_getaffinity(0))
    for bad in ("0", "-2", "many", ""):
        with pytest.raises(SystemExit, match="--workers"):
            parse_workers(bad)


def test_worker_config_shares_the_port_and_splits_metrics_and_owner_ids() -> None:
    base = ServerConfig(listen="0.0.0.0:50051", metrics_listen="0.0.0.0:9100", replica_id="pod-a")
    assert base.reuse_port is False  # A lone bridge never shares its port.
    second = worker_config(base, 1)
    assert second.reuse_port is True
    assert second.listen == "0.0.0.0:50051"
    assert second.metrics_listen == "0.0.0.0:9101"
    assert second.replica_id == "pod-a-w1"
    # Without a replica id every worker is its own host:pid:start owner already.
    assert worker_config(ServerConfig(), 0).replica_id == ""
    assert worker_config(ServerConfig(), 0).metrics_listen == ""


def test_worker_index_comes_from_the_parent_environment() -> None:
    assert worker_index({"AVATAR_BRIDGE_WORKER_INDEX": "2"}) == 2
    assert worker_index({}) is None


def test_plan_refuses_port_zero_the_embedded_emulator_and_a_taken_port() -> None:
    with pytest.raises(SystemExit, match="fixed --listen port"):
        check_plan(ServerConfig(listen="127.0.0.1:0"), 2)
    with pytest.raises(SystemExit, match="embedded emulator"):
        check_plan(ServerConfig(listen="127.0.0.1:50999", emulator=True), 2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit, match="cannot listen"):
            check_plan(ServerConfig(listen=f"127.0.0.1:{port}"), 2)
