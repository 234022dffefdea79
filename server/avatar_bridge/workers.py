"""`serve --workers N`: N bridge processes sharing one gRPC port, supervised by this parent.

Each worker is a fresh interpreter (`avatar-bridge serve ... --workers 1`) with its own event
loop, admission and journal owner; the kernel spreads incoming connections between them
(SO_REUSEPORT), so there is no balancer of our own. The parent holds no port and runs no
conversation: it starts the workers, forwards SIGTERM/SIGINT (graceful drain) and SIGHUP
(reload), and watches them.

A worker that exits 0 was told to stop (systemd and Ctrl-C signal the whole process group):
the parent stops the others too. A worker that dies unexpectedly is logged at error level and
restarted: its replacement adopts the dead worker's journal entries at start (their owner
process is gone) and stops the sessions they name, while the other workers' conversations go on
untouched. Exiting the whole pod for one crash would cut every healthy conversation too.
Restarts are bounded: past MAX_RESTARTS within RESTART_WINDOW_S the parent drains the rest and
exits 1, so a crash loop reaches the platform (Kubernetes restart count, systemd) instead of
being hidden.

--max-sessions and --max-pending-configs hold per worker: a pod's capacity is workers x
--max-sessions. The per-principal quotas are fleet-wide with --redis-url (security/quota_store.py);
without it they hold per worker, which the parent warns about (see quota_scope_warning).
Metrics: worker i serves /metrics on the base port + i.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, replace

from avatar_bridge.config import ServerConfig

log = logging.getLogger(__name__)

WORKER_INDEX_ENV = "AVATAR_BRIDGE_WORKER_INDEX"
"""Set by the parent in each worker's environment: the worker's index, 0..N-1."""
PARENT_ENV = "AVATAR_BRIDGE_WORKER_PARENT"
"""The parent's pid, so a worker can tell it is already orphaned."""
MAX_RESTARTS = 3
RESTART_WINDOW_S = 60.0
EXIT_MARGIN_S = 10.0
"""Past drain + grace + this after a signal, workers still running are killed."""


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, which containers' cpusets narrow)."""
    return len(os.sched_getaffinity(0))


def parse_workers(text: str) -> int:
    """`--workers`: a count >= 1, or "auto" for the usable CPUs."""
    if text.strip().lower() == "auto":
        return usable_cpus()
    try:
        count = int(text)
    except ValueError:
        count = 0
    if count < 1:
        raise SystemExit(f"avatar-bridge: --workers takes a count >= 1 or auto, got {text!r}")
    return count


def worker_index(env: dict[str, str] | None = None) -> int | None:
    """This process's worker index when a parent started it, else None."""
    value = (os.environ if env is None else env).get(WORKER_INDEX_ENV, "")
    return int(value) if value.isdigit() else None


def worker_config(config: ServerConfig, index: int) -> ServerConfig:
    """What worker `index` runs: the shared port with SO_REUSEPORT, its own metrics port, and
    (when a replica id is set) its own journal owner id, so no worker adopts a sibling's entries."""
    metrics = config.metrics_listen
    if metrics:
        host, _, port = metrics.rpartition(":")
        metrics = f"{host}:{int(port) + index}" if int(port) else metrics
    replica = f"{config.replica_id}-w{index}" if config.replica_id else ""
    return replace(config, reuse_port=True, metrics_listen=metrics, replica_id=replica)


def check_plan(config: ServerConfig, workers: int) -> None:
    """Refuse a `--workers` > 1 set-up whose workers cannot share a port, before any starts
    (one worker binds its port itself and says so if it cannot)."""
    host, _, port = config.listen.rpartition(":")
    if not port.isdigit() or int(port) == 0:
        raise SystemExit(
            "avatar-bridge: --workers > 1 needs a fixed --listen port (each worker binds it)"
        )
    if config.uses_emulator:
        raise SystemExit(
            "avatar-bridge: the embedded emulator (--emulator) lives in one process: run "
            "--workers 1, or start `liveavatar-emulator` and point LIVEAVATAR_API_URL at it"
        )
    _port_is_free(host.strip("[]"), int(port))
    warning = quota_scope_warning(config, workers)
    if warning:
        log.warning(warning, extra={"workers": workers})


def quota_scope_warning(config: ServerConfig, workers: int) -> str:
    """Why quotas without a shared store are per worker; empty when nothing to say.

    Warn rather than divide: the kernel spreads connections, not principals, so a quota split
    N ways would refuse a principal on one worker while another worker has its share free (and
    a quota below N could not be split at all). `--redis-url` makes quotas exact across workers.
    """
    security = config.security
    has_quotas = security.quota_conversations or security.quota_starts_per_minute
    if workers == 1 or config.redis_url or not (has_quotas or security.auth_file):
        return ""
    return (
        f"per-principal quotas hold per worker: with --workers {workers} and no --redis-url a "
        f"principal may get up to {workers} x its quota; set --redis-url for fleet-wide quotas"
    )


def _port_is_free(host: str, port: int) -> None:
    """Bind once without SO_REUSEPORT: an earlier `--workers` bridge on the port would otherwise
    silently share its traffic with ours."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host or "0.0.0.0", port))
        except OSError as exc:
            raise SystemExit(
                f"avatar-bridge: cannot listen on {host}:{port}: {exc.strerror} (another bridge?)"
            ) from exc


@dataclass
class _Worker:
    index: int
    proc: asyncio.subprocess.Process
    started_at: float


class Supervisor:
    """Starts `workers` copies of this command and keeps them running until a signal."""

    def __init__(self, argv: Sequence[str], workers: int, config: ServerConfig) -> None:
        self._argv = [*argv, "--workers", "1"]  # argparse: the last --workers wins.
        self._count = workers
        self._bound_s = config.drain_s + config.shutdown_grace_s + EXIT_MARGIN_S
        self._workers: dict[int, _Worker] = {}
        self._restarts: deque[float] = deque()
        self._stopping = asyncio.Event()
        self.failed = False

    async def run(self) -> int:
        """Run until SIGTERM/SIGINT (exit 0 if every worker drained cleanly) or a crash loop (1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self._forward, signal.SIGHUP)
        for index in range(self._count):
            await self._spawn(index)
        log.info(
            "workers started",
            extra={"workers": self._count, "pids": [w.proc.pid for w in self._workers.values()]},
        )
        stopping = asyncio.create_task(self._stopping.wait())
        while not self._stopping.is_set():
            exits = {asyncio.create_task(w.proc.wait()): w for w in self._workers.values()}
            done, _ = await asyncio.wait({stopping, *exits}, return_when=asyncio.FIRST_COMPLETED)
            for task in exits:
                if task not in done:
                    task.cancel()
            for task in done:
                if task is not stopping and not self._stopping.is_set():
                    await self._on_exit(exits[task])
        return await self._shutdown()

    async def _spawn(self, index: int) -> None:
        env = {**os.environ, WORKER_INDEX_ENV: str(index), PARENT_ENV: str(os.getpid())}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "avatar_bridge.cli",
            *self._argv,
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
        )
        self._workers[index] = _Worker(index, proc, time.monotonic())

    async def _on_exit(self, worker: _Worker) -> None:
        code = worker.proc.returncode
        if code == 0:
            # A worker exits 0 only after a graceful stop: someone signalled it directly (systemd
            # and a terminal's Ctrl-C signal the whole group). Stop the rest too; restart nothing.
            log.info(
                "a worker stopped cleanly: stopping the others", extra={"worker": worker.index}
            )
            self._stopping.set()
            return
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        details = {
            "worker": worker.index,
            "pid": worker.proc.pid,
            "exit_code": code,
            "signal": signal.Signals(-code).name if code is not None and code < 0 else None,
            "ran_s": round(now - worker.started_at, 1),
        }
        if len(self._restarts) >= MAX_RESTARTS:
            log.error(
                "workers keep dying: draining the others and exiting",
                extra=details | {"restarts_in_window": len(self._restarts)},
            )
            self.failed = True
            self._stopping.set()
            return
        self._restarts.append(now)
        log.error("worker exited unexpectedly: restarting it", extra=details)
        await self._spawn(worker.index)

    def _forward(self, sig: signal.Signals) -> None:
        for worker in self._workers.values():
            if worker.proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    worker.proc.send_signal(sig)

    async def _shutdown(self) -> int:
        log.info("stopping workers", extra={"workers": len(self._workers)})
        self._forward(signal.SIGTERM)
        procs = [w.proc for w in self._workers.values()]
        try:
            await asyncio.wait_for(asyncio.gather(*(p.wait() for p in procs)), self._bound_s)
        except TimeoutError:
            log.error("workers overran drain + grace: killing them", extra={"s": self._bound_s})
            for proc in procs:
                if proc.returncode is None:
                    proc.kill()
            await asyncio.gather(*(p.wait() for p in procs))
        codes = {w.index: w.proc.returncode for w in self._workers.values()}
        clean = all(code == 0 for code in codes.values())
        log.info("workers stopped", extra={"exit_codes": codes})
        return 0 if clean and not self.failed else 1


_PR_SET_PDEATHSIG = 1


def die_with_parent(env: dict[str, str] | None = None) -> None:
    """In a worker, first thing: get SIGTERM (a graceful drain) when the parent dies, even by
    SIGKILL, so no worker outlives its supervisor. Called in the worker rather than between fork
    and exec, where the parent's threads make arbitrary code unsafe."""
    parent = (os.environ if env is None else env).get(PARENT_ENV, "")
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if parent.isdigit() and os.getppid() != int(parent):
        raise SystemExit("avatar-bridge: the supervising parent is gone")  # Died before prctl.


class WorkerLogField(logging.Filter):
    """Adds `worker` to every record of a worker process, so N workers' logs stay apart."""

    def __init__(self, index: int) -> None:
        super().__init__()
        self._index = index

    def filter(self, record: logging.LogRecord) -> bool:
        record.worker = self._index
        return True
