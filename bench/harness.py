"""Shared pieces of the benchmarks: a kurir server subprocess on loopback, process figures
from /proc, percentiles, and a small WebSocket client of the wire contract.

Nothing here imports from tests/: the benchmarks stand on their own. Every server started
here is stopped by its PID (also when the benchmark fails or is interrupted), and a
PostgreSQL database created for it is dropped.
"""

from __future__ import annotations

import asyncio
import atexit
import base64
import contextlib
import hashlib
import itertools
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, cast

import httpx
from websockets.exceptions import ConnectionClosed

PG_ADMIN_URL = os.environ.get("KURIR_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

# Cheap password hashing (setup is not what we measure) and flood limits out of the way.
BENCH_ENV = {
    "KURIR_ARGON2_MEMORY_KIB": "1024",
    "KURIR_ARGON2_TIME_COST": "1",
    "KURIR_SIGNUPS_PER_MINUTE": "1000000",
    "KURIR_SENDS_PER_SECOND": "1000000",
    "KURIR_SEND_BURST": "1000000",
    "KURIR_LOG_LEVEL": "warning",
}

now = time.perf_counter
# other processes using more than this share of a core during a window make its figures suspect
DISTURBED_PCT = 20.0


def log(*args: Any) -> None:
    """Human-readable progress goes to stderr; stdout ends with the one JSON line."""
    print(*args, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- figures


def percentile(sorted_xs: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    k = min(len(sorted_xs) - 1, max(0, round(q / 100 * (len(sorted_xs) - 1))))
    return sorted_xs[k]


def summary_ms(xs: list[float]) -> dict[str, Any]:
    """p50/p90/p99/max/mean of durations given in seconds, in milliseconds."""
    if not xs:
        return {"n": 0}
    s = sorted(xs)
    return {
        "n": len(s),
        "p50": round(percentile(s, 50) * 1000, 3),
        "p90": round(percentile(s, 90) * 1000, 3),
        "p99": round(percentile(s, 99) * 1000, 3),
        "max": round(s[-1] * 1000, 3),
        "mean": round(sum(s) / len(s) * 1000, 3),
    }


_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


def proc_cpu_user_sys(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a process: system time is the kernel working for it
    (socket writes and reads, for a server pushing frames)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) / _TICK, int(fields[12]) / _TICK


def proc_rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def pids_cpu_s(pids: list[int]) -> float:
    """CPU seconds of some processes (those that are gone count nothing)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            total += proc_cpu_s(pid)
    return total


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    busy, total, _ = machine_jiffies()
    return busy, total


def machine_jiffies() -> tuple[float, float, float]:
    """(busy, total, softirq) jiffies of the whole machine, from /proc/stat. softirq is the
    kernel's deferred network work, which no process is charged with (on loopback, the
    receiving side of our own traffic)."""
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    softirq = parts[6] if len(parts) > 6 else 0
    return total - idle, total, softirq


class CpuWindow:
    """CPU used by the server, PostgreSQL, this client and the machine over a window.

    `server_pid` may be a list: the servers of a cluster count as one server."""

    def __init__(self, server_pid: int | list[int], pg_pids: list[int] | None = None) -> None:
        self.pids = [server_pid] if isinstance(server_pid, int) else list(server_pid)
        self.pid = self.pids[0]
        self.pg_pids = pg_pids or []
        self.with_pg = pg_pids is not None

    def _server_cpu_s(self) -> float:
        if len(self.pids) == 1:
            return proc_cpu_s(self.pid)  # a server that died is an error, not zero
        return pids_cpu_s(self.pids)

    def __enter__(self) -> CpuWindow:
        self.t0 = now()
        self.server0 = self._server_cpu_s()
        self.client0 = time.process_time()
        self.pg0 = pids_cpu_s(self.pg_pids)
        self.busy0, self.total0, self.softirq0 = machine_jiffies()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = now() - self.t0
        self.server = self._server_cpu_s() - self.server0
        self.client = time.process_time() - self.client0
        self.pg = pids_cpu_s(self.pg_pids) - self.pg0
        busy1, total1, softirq1 = machine_jiffies()
        self.machine_busy_frac = (busy1 - self.busy0) / max(1, total1 - self.total0)
        self.softirq_frac = (softirq1 - self.softirq0) / max(1, total1 - self.total0)

    def figures(self) -> dict[str, Any]:
        cores = os.cpu_count() or 1
        out = {
            "wall_s": round(self.wall, 3),
            "server_cpu_s": round(self.server, 3),
            "server_cpu_pct": round(100 * self.server / self.wall, 1),
            "client_cpu_pct": round(100 * self.client / self.wall, 1),
            "machine_busy_pct_of_all_cores": round(100 * self.machine_busy_frac, 1),
            "cores": cores,
        }
        if len(self.pids) > 1:
            out["server_processes"] = len(self.pids)
        if self.with_pg:
            # the backends serving the server's database (not the shared WAL writer etc.)
            out["postgres_backends"] = len(self.pg_pids)
            out["postgres_cpu_pct"] = round(100 * self.pg / self.wall, 1)
        # the kernel's network softirq work is charged to no process: on loopback it is
        # mostly the delivery of our own traffic, so it does not count as other work
        out["softirq_cpu_pct"] = round(100 * self.softirq_frac * cores, 1)
        # what the rest of the machine used meanwhile (other work disturbs the figures)
        ours = self.server + self.client + self.pg
        other = max(0.0, 100 * ((self.machine_busy_frac - self.softirq_frac) * cores
                                - ours / self.wall))
        out["other_cpu_pct"] = round(other, 1)
        out["disturbed"] = other > DISTURBED_PCT
        return out


def wait_until_quiet(max_wait_s: float, busy_pct: float = 15.0,
                     quiet_s: int = 5) -> dict[str, Any]:
    """Wait (at most `max_wait_s`) until the machine has been mostly idle for `quiet_s`
    seconds in a row; return how long it waited and the last busy figure (other work on
    the machine disturbs a benchmark)."""
    t0 = now()
    pct = 100.0
    quiet = 0
    while quiet < quiet_s and now() - t0 < max_wait_s:
        b0, t_0 = machine_busy()
        time.sleep(1.0)
        b1, t_1 = machine_busy()
        pct = 100 * (b1 - b0) / max(1, t_1 - t_0)
        quiet = quiet + 1 if pct <= busy_pct else 0
    return {"waited_s": round(now() - t0, 1), "machine_busy_pct_before": round(pct, 1)}


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_mib = 0
    with contextlib.suppress(OSError), open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_mib = int(line.split()[1]) // 1024
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = os.cpu_count() or 1
    return {
        "cores": os.cpu_count(),
        "cores_usable": affinity,
        "cpu": model,
        "mem_mib": mem_mib,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_generator": "same machine, one asyncio process",
        "loadavg_at_start": os.getloadavg()[0],
    }


# ---------------------------------------------------------------- the server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_live: list[KurirServer] = []
_live_clusters: list[KurirCluster] = []


def _stop_all() -> None:
    for srv in list(_live):
        srv.stop()
    for cluster in list(_live_clusters):
        cluster.stop()


def _on_term(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def install_cleanup() -> None:
    """Stop our servers on exit, Ctrl-C and SIGTERM (each by its own PID)."""
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_term)


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived while an event loop ran (see `cancel_on_signals`)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


async def cancel_on_signals(coro: Any) -> Any:
    """Run `coro`; SIGINT/SIGTERM cancel it (its finally blocks close what it opened) and
    raise `Interrupted`, so that the caller stops the server by its PID."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    got: list[int] = []

    def stop(signum: int) -> None:
        got.append(signum)
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop, sig)
    try:
        return await coro
    except asyncio.CancelledError:
        if got:
            raise Interrupted(got[0]) from None
        raise
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        # back to the handlers outside the loop (asyncio leaves the defaults behind)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _on_term)


class KurirServer:
    """`python -m kurir serve` on a free loopback port with its own data directory and,
    for PostgreSQL, a fresh database that `stop` drops — unless `database_url` names one
    that another owner (a `KurirCluster`) made and drops."""

    def __init__(self, engine: str, env: dict[str, str] | None = None,
                 database_url: str = "") -> None:
        if engine not in ("sqlite", "postgres"):
            raise ValueError(f"unknown engine {engine!r}")
        if database_url and engine != "postgres":
            raise ValueError("a shared database_url is a PostgreSQL one")
        self.engine = engine
        self.env = {**BENCH_ENV, **(env or {})}
        self.data_dir = ""
        self.database_url = database_url
        self._owns_database = not database_url
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/api/v1/ws?token={token}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _admin(self, sql: str) -> None:
        _pg_admin(sql)

    def start(self, timeout: float = 30.0) -> KurirServer:
        _live.append(self)
        self.data_dir = tempfile.mkdtemp(prefix="kurir-bench-")
        if self.engine == "postgres" and self._owns_database:
            self.database_url = create_database()
        self.port = free_port()
        cmd = [sys.executable, "-m", "kurir", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", self.data_dir]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        self._log = open(os.path.join(self.data_dir, "server.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd, env={**os.environ, **self.env}, stdout=self._log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        deadline = now() + timeout
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kurir exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("kurir did not become ready: " + self.log_tail())

    def log_tail(self) -> str:
        try:
            with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
                return f.read().decode(errors="replace")[-4000:]
        except OSError:
            return ""

    def settings(self) -> dict[str, Any]:
        """The server's effective settings, as it loads them from the same environment."""
        from kurir.config import load

        cfg = load(environ={**os.environ, **self.env},
                   overrides={"data_dir": self.data_dir, "database_url": self.database_url})
        out: dict[str, Any] = {"engine": self.engine}
        if self.engine == "sqlite":
            out.update({
                "sqlite_version": sqlite3.sqlite_version,
                "journal_mode": "wal",
                "synchronous": cfg.sqlite_synchronous,
                "writer_threads": 1,
                "reader_threads": 2,
                "data_dir_fs": _fs_of(self.data_dir),
            })
        else:
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                ver = conn.execute("SHOW server_version").fetchone()
                out["server_version"] = ver[0] if ver else "?"
                for name in ("synchronous_commit", "fsync", "shared_buffers", "wal_level",
                             "max_connections"):
                    row = conn.execute(f"SHOW {name}").fetchone()
                    out[name] = row[0] if row else "?"
            out["kurir_pool_size"] = cfg.db_pool_size
            out["isolation"] = "read committed"
        out["argon2_memory_kib"] = cfg.argon2_memory_kib
        out["sends_per_second_limit"] = cfg.sends_per_second
        try:
            import uvloop  # noqa: F401

            out["server_event_loop"] = "uvloop (uvicorn auto)"
        except ImportError:
            out["server_event_loop"] = "asyncio (uvicorn auto)"
        return out

    def pg_backend_pids(self) -> list[int] | None:
        """PIDs of the PostgreSQL backends connected to this server's database."""
        if self.engine != "postgres":
            return None
        import psycopg

        name = self.database_url.rsplit("/", 1)[1]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchall()
        return [int(r[0]) for r in rows]

    def stop(self) -> None:
        """Terminate by PID (kill after 10 s), drop the database, remove the data."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self.database_url and self._owns_database:
            url, self.database_url = self.database_url, ""
            drop_database(url)
        if self.data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = ""
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> KurirServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def create_database() -> str:
    """A fresh PostgreSQL database for one benchmark run; its URL."""
    name = "kurir_bench_" + secrets.token_hex(6)
    _pg_admin(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    try:
        _pg_admin(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    except Exception as e:
        log(f"could not drop {url}: {e}")


class KurirCluster:
    """N `kurir serve` processes, each on its own port and data directory, sharing one
    fresh PostgreSQL database and one environment (e.g. a broker URL), as a deployment
    behind a load balancer runs them. They start one after another, so that only the first
    migrates the new database; `stop` stops each by its PID and drops the database."""

    def __init__(self, n: int, env: dict[str, str] | None = None) -> None:
        if n < 1:
            raise ValueError("a cluster has at least one process")
        self.n = n
        self.env = dict(env or {})
        self.database_url = ""
        self.nodes: list[KurirServer] = []

    @property
    def pids(self) -> list[int]:
        return [node.pid for node in self.nodes]

    def start(self, timeout: float = 30.0) -> KurirCluster:
        _live_clusters.append(self)
        self.database_url = create_database()
        for _ in range(self.n):
            node = KurirServer("postgres", env=self.env, database_url=self.database_url)
            self.nodes.append(node)
            node.start(timeout)
        return self

    def pg_backend_pids(self) -> list[int] | None:
        return self.nodes[0].pg_backend_pids() if self.nodes else []

    def settings(self) -> dict[str, Any]:
        out = self.nodes[0].settings()
        out["processes"] = self.n
        out["shared_env"] = {k: v for k, v in self.env.items() if k not in BENCH_ENV}
        return out

    def log_tails(self) -> str:
        return "\n".join(f"--- process {i} (pid {node.proc.pid if node.proc else '-'}):\n"
                         f"{node.log_tail()}" for i, node in enumerate(self.nodes))

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes = []
        if self.database_url:
            url, self.database_url = self.database_url, ""
            drop_database(url)
        if self in _live_clusters:
            _live_clusters.remove(self)

    def __enter__(self) -> KurirCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _fs_of(path: str) -> str:
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True, timeout=5)
        return out.stdout.splitlines()[-1].split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


# ---------------------------------------------------------------- clients


class ApiError(Exception):
    def __init__(self, method: str, error: dict[str, Any]) -> None:
        super().__init__(f"{method}: {error}")
        self.error = error


async def call_http(http: httpx.AsyncClient, method: str, token: str | None = None,
                    **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    r = await http.post(f"/api/v1/{method}", json=params, headers=headers)
    body = r.json()
    if not body.get("ok"):
        raise ApiError(method, body.get("error", body))
    return body["result"]


class User:
    def __init__(self, user_id: int, username: str, token: str) -> None:
        self.id = user_id
        self.username = username
        self.token = token


async def register_users(http: httpx.AsyncClient, n: int, prefix: str,
                         concurrency: int = 8) -> list[User]:
    sem = asyncio.Semaphore(concurrency)
    tag = secrets.token_hex(3)

    async def one(i: int) -> User:
        name = f"{prefix}_{tag}_{i}"
        async with sem:
            res = await call_http(http, "auth.register", username=name,
                                  password="bench password " + name, display_name=name)
        return User(int(res["user"]["id"]), name, res["token"])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


PUSH_PREFIX = b'{"update":'
PTS_PREFIX = b'{"update":{"pts":'
# a channel's push: '{"channel_id":C,"channel_update":{"pts":N,…' (ws.py rule 6)
CHANNEL_PREFIX = b'{"channel_id":'
CHANNEL_PTS = b',"channel_update":{"pts":'

def channel_head(raw: bytes) -> tuple[int, int]:
    """(channel id, pts) of a channel push, read from the frame's head without decoding."""
    mid = raw.index(CHANNEL_PTS, len(CHANNEL_PREFIX))
    start = mid + len(CHANNEL_PTS)
    return int(raw[len(CHANNEL_PREFIX):mid]), int(raw[start:raw.index(b",", start)])


_random_ids = itertools.count(secrets.randbelow(1 << 40) + 1)


def note_channel_push(client: Any, raw: bytes, t: float) -> None:
    """Count a channel push on a client (WsClient or RawSubscriber), checking its pts order."""
    client.channel_pushes += 1
    chat_id, pts = channel_head(raw)
    last = client.channel_pts.get(chat_id, 0)
    if last and pts > last + 1:
        client.channel_pts_gaps += 1
    elif pts <= last:
        client.channel_pts_repeats += 1
    client.channel_pts[chat_id] = max(last, pts)
    if client.on_channel_push is not None:
        client.on_channel_push(client, chat_id, pts, raw, t)


def random_id() -> int:
    return next(_random_ids)


class WsClient:
    """One WebSocket connection of one user: request/response by id, pushes to a callback.

    Frames are read as bytes; pushes are passed on raw (with their arrival time) so that a
    receiver may count them without decoding JSON. pts order is checked here for every push:
    the user's own sequence, and each channel's (channel pushes go to `on_channel_push`
    with the channel id and pts read from the frame's head).
    """

    def __init__(self, url: str, user: User,
                 on_push: Callable[[WsClient, bytes, float], None] | None = None,
                 compression: str | None = None,
                 on_channel_push: Callable[[WsClient, int, int, bytes, float], None]
                 | None = None) -> None:
        self.url = url
        self.user = user
        self.on_push = on_push
        self.on_channel_push = on_channel_push
        self.compression = compression
        self.channel_pushes = 0
        self.channel_pts: dict[int, int] = {}  # the last pts seen per channel
        self.channel_pts_gaps = 0
        self.channel_pts_repeats = 0
        self.ws: Any = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._reader: asyncio.Task[None] | None = None
        self.pushes = 0
        self.last_pts = 0
        self.pts_gaps = 0
        self.pts_repeats = 0
        self.closed_reason: str | None = None

    async def open(self) -> WsClient:
        from websockets.asyncio.client import connect

        self.ws = await connect(self.url, compression=self.compression, max_size=1 << 22,
                                ping_interval=None, open_timeout=20, max_queue=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        ws = self.ws
        try:
            while True:
                raw = await ws.recv(decode=False)
                t = now()
                if raw.startswith(PUSH_PREFIX):
                    self.pushes += 1
                    if raw.startswith(PTS_PREFIX):
                        end = raw.index(b",", len(PTS_PREFIX))
                        pts = int(raw[len(PTS_PREFIX):end])
                        if self.last_pts and pts > self.last_pts + 1:
                            self.pts_gaps += 1
                        elif pts <= self.last_pts:
                            self.pts_repeats += 1
                        self.last_pts = max(self.last_pts, pts)
                    if self.on_push is not None:
                        self.on_push(self, raw, t)
                    continue
                if raw.startswith(CHANNEL_PREFIX):
                    self._channel_push(raw, t)
                    continue
                msg = json.loads(raw)
                fut = self._pending.pop(msg.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result((msg, t))
        except ConnectionClosed as e:
            self.closed_reason = f"{e.rcvd.code if e.rcvd else '?'}"
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(ConnectionError(f"socket closed ({self.closed_reason})"))
            self._pending.clear()

    def _channel_push(self, raw: bytes, t: float) -> None:
        note_channel_push(self, raw, t)

    async def request(self, method: str, params: dict[str, Any],
                      timeout: float = 30.0) -> tuple[dict[str, Any], float]:
        """Send one frame; return (the response frame, the time it arrived)."""
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            await self.ws.send(json.dumps({"id": rid, "method": method, "params": params}))
        except ConnectionClosed as e:
            self._pending.pop(rid, None)
            raise ConnectionError(f"socket closed ({e})") from None
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(rid, None)

    async def call(self, method: str, timeout: float = 30.0, **params: Any) -> Any:
        msg, _ = await self.request(method, params, timeout)
        if not msg.get("ok"):
            raise ApiError(method, msg.get("error", msg))
        return msg["result"]

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader


_WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class RawSubscriber(asyncio.Protocol):
    """A receive-only WebSocket client (RFC 6455 by hand) for holding many sockets in one
    load-generator process: the handshake is written directly, and the server's frames
    (unmasked, no extension: none is offered) are cut out of the byte stream in
    `data_received`, with no task and no await per frame. It costs a few microseconds per
    frame where the `websockets` client costs tens, so that the load generator is not what
    a fanout measurement measures. It checks the pts order of the user's updates and of
    each channel as `WsClient` does and hands channel pushes to
    `on_channel_push(self, chat_id, pts, raw, t)`; it answers pings and closes cleanly. It
    sends no requests and counts user updates only (`RawClient` does both).
    """

    def __init__(self, host: str, port: int, user: User,
                 on_channel_push: Callable[[Any, int, int, bytes, float], None] | None = None,
                 path: str = "/api/v1/ws") -> None:
        self.host, self.port, self.user, self.path = host, port, user, path
        self.on_channel_push = on_channel_push
        self.last_pts = 0
        self.pts_gaps = 0
        self.pts_repeats = 0
        self.transport: asyncio.Transport | None = None
        self._buf = bytearray()
        self._key = base64.b64encode(secrets.token_bytes(16))
        self._opened: asyncio.Future[None] | None = None
        self._lost: asyncio.Future[None] | None = None
        self._frag: bytearray | None = None
        self.is_open = False
        self.pushes = 0  # user updates ({"update": …}), counted only
        self.channel_pushes = 0
        self.channel_pts: dict[int, int] = {}
        self.channel_pts_gaps = 0
        self.channel_pts_repeats = 0
        self.other_frames = 0
        self.closed_reason: str | None = None

    async def open(self, timeout: float = 20.0) -> RawSubscriber:
        loop = asyncio.get_running_loop()
        self._opened = loop.create_future()
        self._lost = loop.create_future()
        await asyncio.wait_for(loop.create_connection(lambda: self, self.host, self.port),
                               timeout)
        await asyncio.wait_for(self._opened, timeout)
        return self

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not subclasses of asyncio.Transport
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(
            b"GET %s?token=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
            % (self.path.encode(), self.user.token.encode(), self.host.encode(), self.port,
               self._key)
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.is_open = False
        if self.closed_reason is None:
            self.closed_reason = f"connection lost ({exc})"
        for fut in (self._opened, self._lost):
            if fut is not None and not fut.done():
                if fut is self._opened:
                    fut.set_exception(ConnectionError(self.closed_reason))
                else:
                    fut.set_result(None)

    def data_received(self, data: bytes) -> None:
        t = now()
        buf = self._buf
        buf += data
        if not self.is_open and not self._handshake():
            return
        pos = 0
        n = len(buf)
        while n - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if n - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 4], "big")
                head = 4
            elif length == 127:
                if n - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2:pos + 10], "big")
                head = 10
            if b1 & 0x80:  # a server must not mask
                self._fail("masked frame from the server")
                return
            if n - pos < head + length:
                break
            payload = bytes(buf[pos + head:pos + head + length])
            pos += head + length
            self._frame(b0 & 0x80, b0 & 0x0F, payload, t)
        if pos:
            del buf[:pos]

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > 65536:
                self._fail("no handshake response")
            return False
        head = bytes(self._buf[:end]).decode("latin-1")
        del self._buf[:end + 4]
        lines = head.split("\r\n")
        accept = base64.b64encode(hashlib.sha1(self._key + _WS_GUID).digest()).decode()
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (ln.partition(":") for ln in lines[1:])}
        if not lines[0].startswith("HTTP/1.1 101") or headers.get("sec-websocket-accept") != accept:
            self._fail(f"handshake refused: {lines[0]}")
            return False
        self.is_open = True
        if self._opened is not None and not self._opened.done():
            self._opened.set_result(None)
        return True

    def _frame(self, fin: int, opcode: int, payload: bytes, t: float) -> None:
        if opcode == 0:  # continuation
            if self._frag is None:
                self._fail("continuation without a start")
                return
            self._frag += payload
            if not fin:
                return
            payload, self._frag, opcode = bytes(self._frag), None, 1
        elif opcode in (1, 2) and not fin:
            self._frag = bytearray(payload)
            return
        if opcode in (1, 2):
            if payload.startswith(CHANNEL_PREFIX):
                self._channel_push(payload, t)
            elif payload.startswith(PUSH_PREFIX):
                self._user_push(payload, t)
            else:
                self._other_frame(payload, t)
        elif opcode == 9:  # ping
            self._send(0xA, payload)
        elif opcode == 8:  # close: answer it; the server closes the TCP connection
            code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            if self.closed_reason is None:
                self.closed_reason = str(code)
            if self.is_open:
                self.is_open = False
                self._send(0x8, payload[:2])

    def _channel_push(self, raw: bytes, t: float) -> None:
        note_channel_push(self, raw, t)

    def _user_push(self, raw: bytes, t: float) -> None:
        self.pushes += 1
        if raw.startswith(PTS_PREFIX):
            end = raw.index(b",", len(PTS_PREFIX))
            pts = int(raw[len(PTS_PREFIX):end])
            if self.last_pts and pts > self.last_pts + 1:
                self.pts_gaps += 1
            elif pts <= self.last_pts:
                self.pts_repeats += 1
            self.last_pts = max(self.last_pts, pts)

    def _other_frame(self, raw: bytes, t: float) -> None:
        self.other_frames += 1

    def _send(self, opcode: int, payload: bytes) -> None:
        """A client frame: masked, as RFC 6455 wants (the XOR done on one big integer)."""
        if self.transport is None or self.transport.is_closing():
            return
        n = len(payload)
        mask = secrets.token_bytes(4)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        keys = (mask * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(n, "big")
        self.transport.write(head + mask + masked)

    def _fail(self, why: str) -> None:
        self.closed_reason = why
        if self._opened is not None and not self._opened.done():
            self._opened.set_exception(ConnectionError(why))
        if self.transport is not None:
            self.transport.close()

    async def close(self, timeout: float = 5.0) -> None:
        """Send a close frame, wait for the server to end the connection, then drop it."""
        if self.transport is None:
            return
        if self.is_open:
            self.is_open = False
            self._send(0x8, (1000).to_bytes(2, "big"))
            if self._lost is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(asyncio.shield(self._lost), timeout)
        self.transport.close()
        if self._lost is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._lost), 1.0)


class RawClient(RawSubscriber):
    """A `RawSubscriber` that also makes requests, as `WsClient.request` does, and hands
    user updates to `on_push(self, raw, t)`: for many busy senders in one load-generator
    process, at a few microseconds a frame each way instead of the `websockets` client's
    tens (one task per request, none per frame)."""

    def __init__(self, host: str, port: int, user: User,
                 on_push: Callable[[Any, bytes, float], None] | None = None,
                 path: str = "/api/v1/ws") -> None:
        super().__init__(host, port, user, path=path)
        self.on_push = on_push
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}

    def _user_push(self, raw: bytes, t: float) -> None:
        super()._user_push(raw, t)
        if self.on_push is not None:
            self.on_push(self, raw, t)

    def _other_frame(self, raw: bytes, t: float) -> None:
        msg = json.loads(raw)
        rid = msg.get("id") if isinstance(msg, dict) else None
        fut = self._pending.pop(rid, None) if isinstance(rid, int) else None
        if fut is None:
            self.other_frames += 1
        elif not fut.done():
            fut.set_result((msg, t))

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(ConnectionError(f"socket closed ({self.closed_reason})"))
        self._pending.clear()

    async def request(self, method: str, params: dict[str, Any],
                      timeout: float = 30.0) -> tuple[dict[str, Any], float]:
        """Send one frame; return (the response frame, the time it arrived)."""
        if not self.is_open:
            raise ConnectionError(f"socket closed ({self.closed_reason})")
        rid = next(self._ids)
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        self._send(0x1, json.dumps({"id": rid, "method": method, "params": params}).encode())
        try:
            return await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(rid, None)

    async def call(self, method: str, timeout: float = 30.0, **params: Any) -> Any:
        msg, _ = await self.request(method, params, timeout)
        if not msg.get("ok"):
            raise ApiError(method, msg.get("error", msg))
        return msg["result"]


async def settle(clients: list[Any], concurrency: int = 16) -> None:
    """One `updates.getState` on each socket (WsClient or RawClient): the server answers a
    socket's requests only once it has read the pts its pushes start from, so after this
    nothing sent to these users can fall before their sockets' start (an update committed
    between the handshake and that read is otherwise never pushed)."""
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Any) -> None:
        async with sem:
            await c.call("updates.getState")

    await asyncio.gather(*(one(c) for c in clients))


async def open_all(clients: list[Any], concurrency: int = 16) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def one(c: WsClient) -> None:
        async with sem:
            await c.open()

    await asyncio.gather(*(one(c) for c in clients))


async def close_all(clients: list[Any]) -> None:
    await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)


NEW_MESSAGE = b'"type":"new_message"'


def is_new_message(raw: bytes) -> bool:
    # '{"update":{"pts":N,"type":"new_message",…': the type sits right after the pts
    return raw.find(NEW_MESSAGE, 0, 80) >= 0


class Tally:
    """What the receiving sockets saw during a throughput window: `sent_at` maps a message's
    text to (send time, sender id); `on_push` is the sockets' callback."""

    def __init__(self) -> None:
        self.sent_at: dict[bytes, tuple[float, int]] = {}
        self.t_stop = float("inf")
        self.counting = False
        self.delivered = 0  # to another member than the sender
        self.delivered_in_window = 0
        self.own_copies = 0  # the sender's own socket getting its message back
        self.latency: list[float] = []

    def on_push(self, client: Any, raw: bytes, t: float) -> None:
        if not self.counting or not is_new_message(raw):
            return
        sent = self.sent_at.get(text_of(raw))
        if sent is None:
            return
        t0, from_id = sent
        if from_id == client.user.id:
            self.own_copies += 1
            return
        self.delivered += 1
        if t <= self.t_stop:
            self.delivered_in_window += 1
        self.latency.append(t - t0)


class ClosedLoop:
    """Senders with one message in flight each, until `t_stop`: how many were accepted (and
    within the window), how long each ack took, and what went wrong."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.accepted = 0
        self.in_window = 0
        self.ack: list[float] = []
        self.errors: Counter[str] = Counter()

    async def sender(self, c: Any, send_one: Any, text_for: Any, t_stop: float,
                     max_sends: int = 1_000_000) -> None:
        """`send_one(c, text)` gives (accepted, seconds to the ack); `text_for(i)` the text
        of the i-th message."""
        for i in range(max_sends):
            if now() >= t_stop:
                return
            try:
                ok, dt = await send_one(c, text_for(i))
            except (TimeoutError, ConnectionError) as e:
                self.errors[type(e).__name__] += 1
                if c.closed_reason is not None:
                    return
                continue
            if ok:
                self.accepted += 1
                if now() <= t_stop:
                    self.in_window += 1
                self.ack.append(dt)


def text_of(raw: bytes) -> bytes:
    """The `text` of the message in a pushed update, without decoding the JSON (our texts
    have no quotes or escapes)."""
    i = raw.find(b'"text":"')
    if i < 0:
        return b""
    i += 8
    return raw[i:raw.find(b'"', i)]


def pick_loop(requested: str) -> str:
    """The event loop the load generator will run on: uvloop when asked and installed."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return requested


def run(coro: Any, loop_kind: str) -> Any:
    if loop_kind == "uvloop":
        try:
            import uvloop

            return uvloop.run(coro)
        except ImportError:
            pass
    return asyncio.run(coro)


def emit(result: dict[str, Any]) -> None:
    """The benchmark's figures: one JSON object, the last line of stdout."""
    sys.stdout.flush()
    print(json.dumps(result, separators=(",", ":")), flush=True)


def for_each_engine(
    engines: list[str], result: dict[str, Any], client_loop: str, wait_quiet: float,
    server_env: dict[str, str], body: Any, report: Any = None,
) -> int:
    """Run `body(srv)` (a coroutine function) against a fresh server of each engine, with
    the shared handling: wait for a quiet machine, stop on SIGINT/SIGTERM, keep going after
    a failure with its log tail, always stop the server. `report(engine, figures)` logs the
    figures and returns False when a check failed. Returns the exit status."""
    failed = False
    for engine in engines:
        srv = KurirServer(engine, env=dict(server_env))
        try:
            quiet = wait_until_quiet(wait_quiet) if wait_quiet > 0 else None
            if quiet:
                log(f"[{engine}] waited {quiet['waited_s']} s for a quiet machine"
                    f" (busy {quiet['machine_busy_pct_before']} %)")
            srv.start()
            log(f"[{engine}] server pid {srv.pid} on {srv.url}")
            result[engine] = run(cancel_on_signals(body(srv)), client_loop)
            if quiet:
                result[engine]["quiet_wait"] = quiet
            if report is not None and report(engine, result[engine]) is False:
                failed = True
        except Interrupted as e:
            log(f"[{engine}] interrupted by {e}; stopping")
            result[engine] = {"error": f"interrupted by {e}"}
            return 128 + e.signum
        except Exception as e:
            failed = True
            log(f"[{engine}] FAILED: {type(e).__name__}: {e}")
            if srv.proc is not None:
                log(srv.log_tail())
            result[engine] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            with contextlib.suppress(Exception):
                srv.stop()
    return 1 if failed else 0
