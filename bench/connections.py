"""Connections benchmark: many idle WebSockets held by one kurir process.

    python bench/connections.py [--quick] [--connections N] [--engines sqlite,postgres]
                                [--deflate] [--gc-stats] [--cycles K]
                                [--profile DIR [--tracemalloc FRAMES]]

For each engine (SQLite by default) it starts one kurir server on loopback, registers N users
over HTTP (10,000; 2,000 with --quick) and opens one WebSocket per user from this one process,
with a lean client (the handshake written by hand, frames cut out of the byte stream, no task
per socket). Then, on the server:

 - memory: VmRSS idle after the registration, with all N open, and after all are closed
   again; (open - idle) / N is what a connection costs, in KiB. The kernel's TCP buffers
   (/proc/net/sockstat, both ends) are not in the RSS and are recorded apart.
 - opening: the time to open all N (at most --open-concurrency at once), as connections/s. A
   socket counts as open once the server answered a first request on it (updates.getState):
   its set-up (authentication, channels, presence) is then done and its read loop runs. The
   handshake (to the 101) and the whole, p50/p99; server CPU per connection.
 - idle: the server's CPU over --idle-seconds (one keepalive period, 30 s; quick 5) with
   all N open and nothing sent. What remains is keepalive: the server pings every socket every
   `ws_ping_seconds` (30), so the window holds one ping a socket (the pings seen are counted).
 - live: with all N still open, two of the N users exchange 20 messages (messages.send over a
   WebSocket, one after another): send -> delivery and send -> ack, p50/p99. Then one basic
   group of --group-size of the N gets 20 messages: first and last delivery to its members.
 - closing: the time to close all N; how long the server stays busy after; its RSS then.
   --cycles K opens and closes all K times: RSS that grows from cycle to cycle is a leak.

--deflate offers permessage-deflate on every socket, as browsers do (the server then holds
a zlib compressor and decompressor per socket, and compresses each push once per socket).
--gc-stats times the server's garbage collections in each phase, through a sitecustomize on
its PYTHONPATH (a full collection stops the event loop while it walks every object).

With --profile DIR, py-spy (--py-spy, default /tmp/spy/bin/py-spy; not needed otherwise)
records the server while the sockets open, into DIR (speedscope JSON, or a flamegraph SVG
with --profile-format flamegraph), and the server takes a census of its Python objects before
and after the opening and after the closing (by type, through gc; with --tracemalloc, its
allocations by traceback too): what one connection adds, and what it leaves behind. Such a
run's figures are disturbed and say so.

Progress goes to stderr; the figures are ONE JSON object on the last line of stdout. Every
loop is bounded in count and time; the server is stopped by its PID, also on error or
interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import Counter
from typing import Any, cast

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    PUSH_PREFIX,
    CpuWindow,
    KurirServer,
    RawSubscriber,
    User,
    WsClient,
    call_http,
    emit,
    for_each_engine,
    install_cleanup,
    log,
    machine_info,
    now,
    pick_loop,
    proc_cpu_s,
    proc_rss_mib,
    random_id,
    register_users,
    summary_ms,
    text_of,
)

NEW_MESSAGE = b'"type":"new_message"'
# what Chromium offers on every WebSocket (Firefox offers permessage-deflate too)
BROWSER_DEFLATE_OFFER = b"permessage-deflate; client_max_window_bits"
PROBE = b'{"id":1,"method":"updates.getState","params":{}}'
PROBE_REPLY = b'{"id":1,'
OPEN_TIMEOUT_S = 30.0
OPEN_TIME_LIMIT_S = 900.0
CLOSE_TIME_LIMIT_S = 300.0
SETTLE_LIMIT_S = 120.0
MESSAGE_TIMEOUT_S = 10.0
LIVE_MESSAGES = 20
LIVE_WARMUP = 3
REGISTER_BATCH = 1000
FD_MARGIN = 256  # the load generator's own files, the HTTP client, the two WsClients
KEEPALIVE_PING_S = 30.0  # the default of kurir's ws_ping_seconds


# ---------------------------------------------------------------- the client


class IdleSocket(RawSubscriber):
    """A `RawSubscriber` that proves its connection usable with one request (`PROBE`),
    counts the server's keepalive pings and hands user pushes to `on_push`. With `deflate`
    it offers permessage-deflate as browsers do (the server then keeps a compressor and a
    decompressor for the socket) and inflates what it receives."""

    def __init__(self, host: str, port: int, user: User, on_push: Any = None,
                 deflate: bool = False) -> None:
        super().__init__(host, port, user)
        self.on_push = on_push
        self.deflate = deflate
        self.inflater: Any = None  # set when the server agreed to permessage-deflate
        self.pings = 0
        self.ready = False  # open, and its first request answered
        self._probe: asyncio.Future[bytes] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self.deflate:
            super().connection_made(transport)
            return
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(
            b"GET %s?token=%s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Extensions: %s\r\n\r\n"
            % (self.path.encode(), self.user.token.encode(), self.host.encode(), self.port,
               self._key, BROWSER_DEFLATE_OFFER)
        )

    def _handshake(self) -> bool:
        end = self._buf.find(b"\r\n\r\n")
        if self.deflate and end >= 0:
            head = bytes(self._buf[:end]).lower()
            if b"permessage-deflate" in head:
                bits = re.search(rb"server_max_window_bits=(\d+)", head)
                self.inflater = zlib.decompressobj(wbits=-int(bits.group(1)) if bits else -15)
        return bool(super()._handshake())

    async def probe(self, timeout: float) -> None:
        fut: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._probe = fut
        self._send(0x1, PROBE)  # < 126 bytes: fits RawSubscriber's small-frame writer
        reply = await asyncio.wait_for(fut, timeout)
        if b'"ok":true' not in reply[:40]:
            raise ConnectionError(f"probe refused: {reply[:200]!r}")

    def _frame(self, fin: int, opcode: int, payload: bytes, t: float) -> None:
        if self.inflater is not None and opcode in (1, 2):
            # the server compresses every data frame, and sends each whole (fin)
            payload = self.inflater.decompress(payload + b"\x00\x00\xff\xff")
        if opcode == 9:
            self.pings += 1
        elif opcode == 1 and fin:
            if self._probe is not None and payload.startswith(PROBE_REPLY):
                fut, self._probe = self._probe, None
                if not fut.done():
                    fut.set_result(payload)
                return
            if self.on_push is not None and payload.startswith(PUSH_PREFIX):
                self.on_push(self, payload, t)
        super()._frame(fin, opcode, payload, t)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._probe is not None and not self._probe.done():
            self._probe.set_exception(ConnectionError(self.closed_reason or "lost"))


class Deliveries:
    """new_message pushes of the messages being waited for, by text: first and last arrival
    at the members other than the sender."""

    class Pending:
        def __init__(self, sender: int, expected: int, t0: float) -> None:
            self.sender, self.expected, self.t0 = sender, expected, t0
            self.got = 0
            self.first = self.last = 0.0
            self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __init__(self) -> None:
        self.waiting: dict[bytes, Deliveries.Pending] = {}

    def expect(self, text: str, sender: int, expected: int) -> Deliveries.Pending:
        p = self.Pending(sender, expected, now())
        self.waiting[text.encode()] = p
        return p

    def on_push(self, client: Any, raw: bytes, t: float) -> None:
        if raw.find(NEW_MESSAGE, 0, 80) < 0:
            return
        p = self.waiting.get(text_of(raw))
        if p is None or client.user.id == p.sender:
            return
        p.got += 1
        p.first = p.first or t
        p.last = t
        if p.got >= p.expected and not p.done.done():
            p.done.set_result(None)


# ---------------------------------------------------------------- server figures


def kernel_tcp_mem_kib() -> int:
    """Memory of all TCP sockets of the machine (both ends of ours), from /proc/net/sockstat."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                parts = line.split()
                return int(parts[parts.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE") // 1024
    return 0


def proc_counts(pid: int) -> dict[str, int]:
    with open(f"/proc/{pid}/status") as f:
        threads = next((int(ln.split()[1]) for ln in f if ln.startswith("Threads:")), 0)
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads}


async def server_connections(http: httpx.AsyncClient) -> int:
    """The server's own count of its WebSockets (the gauge at /metrics)."""
    r = await http.get("/metrics")
    for line in r.text.splitlines():
        if line.startswith("kurir_websocket_connections "):
            return int(float(line.split()[1]))
    return -1


async def settle(pid: int, limit_s: float, busy_pct: float = 5.0) -> float:
    """Wait until the server has used under `busy_pct` % of a core for 1 s; return how long
    that took (work left over from a phase must not fall into the next one's figures)."""
    t0 = now()
    while now() - t0 < limit_s:
        c0 = proc_cpu_s(pid)
        await asyncio.sleep(1.0)
        if 100 * (proc_cpu_s(pid) - c0) < busy_pct:
            break
    return round(now() - t0, 2)


async def wait_connections(http: httpx.AsyncClient, want: int, limit_s: float) -> int:
    deadline = now() + limit_s
    n = await server_connections(http)
    while n != want and now() < deadline:
        await asyncio.sleep(0.25)
        n = await server_connections(http)
    return n


# ---------------------------------------------------------------- phases


async def register(http: httpx.AsyncClient, n: int, concurrency: int) -> tuple[list[User], float]:
    t0 = now()
    users: list[User] = []
    while len(users) < n:
        users += await register_users(http, min(REGISTER_BATCH, n - len(users)), "conn",
                                      concurrency)
        log(f"  registered {len(users)}/{n} ({len(users) / (now() - t0):.0f}/s)")
    return users, now() - t0


async def open_phase(srv: KurirServer, socks: list[IdleSocket], concurrency: int,
                     probe: bool) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    handshake: list[float] = []
    ready: list[float] = []
    errors: Counter[str] = Counter()
    deadline = now() + OPEN_TIME_LIMIT_S
    step = max(1, len(socks) // 10)
    t_start = now()

    async def one(s: IdleSocket) -> None:
        async with sem:
            if now() > deadline:
                errors["time limit"] += 1
                return
            t0 = now()
            try:
                await s.open(OPEN_TIMEOUT_S)
                t1 = now()
                if probe:
                    await s.probe(OPEN_TIMEOUT_S)
            except (OSError, ConnectionError, TimeoutError) as e:
                errors[f"{type(e).__name__}: {str(e)[:80]}"] += 1
                if s.transport is not None:
                    s.transport.close()
                return
            s.ready = True
            handshake.append(t1 - t0)
            ready.append(now() - t0)
            if len(ready) % step == 0:
                log(f"  open {len(ready)}/{len(socks)}"
                    f" ({len(ready) / (now() - t_start):.0f}/s)")

    with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
        await asyncio.gather(*(one(s) for s in socks))
    n = len(ready)
    return {
        "opened": n,
        "failed": len(socks) - n,
        "errors": dict(errors.most_common(10)),
        "concurrency": concurrency,
        "probe": "updates.getState" if probe else None,
        "wall_s": round(cpu.wall, 3),
        "connections_per_s": round(n / cpu.wall, 1) if cpu.wall else 0,
        "handshake_ms": summary_ms(handshake),
        "ready_ms": summary_ms(ready),
        "server_cpu_ms_per_connection": round(1000 * cpu.server / max(1, n), 3),
        "cpu": cpu.figures(),
    }


async def idle_phase(srv: KurirServer, socks: list[IdleSocket], seconds: float,
                     open_n: int) -> dict[str, Any]:
    pings0 = sum(s.pings for s in socks)
    with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
        await asyncio.sleep(seconds)
    pings = sum(s.pings for s in socks) - pings0
    return {
        "seconds": seconds,
        "server_cpu_pct": round(100 * cpu.server / cpu.wall, 2),
        "server_cpu_ms": round(1000 * cpu.server, 1),
        "server_cpu_us_per_connection_s": round(1e6 * cpu.server / cpu.wall / max(1, open_n), 3),
        "keepalive_pings_seen": pings,
        "keepalive_pings_per_s_expected": round(open_n / KEEPALIVE_PING_S, 1),
        "cpu": cpu.figures(),
    }


async def timed_sends(sender: WsClient, deliveries: Deliveries, target: dict[str, int],
                      expected: int, n: int, warmup: int, tag: str) -> dict[str, Any]:
    """`n` messages one after another, each waited for at `expected` receivers."""
    first: list[float] = []
    last: list[float] = []
    ack: list[float] = []
    lost = 0
    errors: Counter[str] = Counter()
    for i in range(warmup + n):
        text = f"{tag}{i}"
        p = deliveries.expect(text, sender.user.id, expected)
        try:
            msg, t_ack = await sender.request(
                "messages.send", {**target, "text": text, "random_id": random_id()},
                MESSAGE_TIMEOUT_S)
            if not msg.get("ok"):
                errors[msg.get("error", {}).get("type", "?")] += 1
                continue
            await asyncio.wait_for(asyncio.shield(p.done), MESSAGE_TIMEOUT_S)
        except TimeoutError:
            lost += 1
            log(f"  {text}: {p.got}/{expected} deliveries within {MESSAGE_TIMEOUT_S} s")
            continue
        except ConnectionError as e:  # the sender's socket is gone: nothing more to time
            errors[f"ConnectionError: {str(e)[:80]}"] += 1
            break
        finally:
            deliveries.waiting.pop(text.encode(), None)
        if i >= warmup:  # the first ones make the chat and warm the caches
            first.append(p.first - p.t0)
            last.append(p.last - p.t0)
            ack.append(t_ack - p.t0)
    out: dict[str, Any] = {"messages": len(last), "warmup_messages": warmup,
                           "receivers_per_message": expected}
    if expected == 1:
        out["delivery_ms"] = summary_ms(last)
    else:
        out["first_delivery_ms"] = summary_ms(first)
        out["last_delivery_ms"] = summary_ms(last)
    out.update({"ack_ms": summary_ms(ack), "not_delivered": lost, "errors": dict(errors)})
    return out


async def close_phase(socks: list[IdleSocket], concurrency: int) -> dict[str, Any]:
    sem = asyncio.Semaphore(concurrency)
    deadline = now() + CLOSE_TIME_LIMIT_S

    async def one(s: IdleSocket) -> None:
        async with sem:
            if now() > deadline and s.transport is not None:
                s.transport.close()
                return
            await s.close(timeout=10.0)

    t0 = now()
    await asyncio.gather(*(one(s) for s in socks), return_exceptions=True)
    wall = now() - t0
    return {"wall_s": round(wall, 3), "closes_per_s": round(len(socks) / max(wall, 1e-9), 1)}


# ---------------------------------------------------------------- profiling


SITE = '''"""Written by bench/connections.py: what the server's process tells of itself.

Always: the time its garbage collector takes, by generation (on SIGUSR2, into gc-PID-K.json).
With KURIR_BENCH_CENSUS=1: a census of its Python objects by type (SIGUSR1, census-PID-K.json);
with KURIR_BENCH_TRACEMALLOC=F, its allocations by traceback too.
"""
import gc
import json
import os
import signal
import sys
import time

_DIR = os.environ.get("KURIR_BENCH_DIR")
_FRAMES = int(os.environ.get("KURIR_BENCH_TRACEMALLOC") or 0)
_n = {"gc": 0, "census": 0}
# generation -> [collections, seconds, longest since the last reading, CPU seconds]
_gc = {}
_gc_t0 = [0.0, 0.0]


def _gc_timer(phase, info):
    if phase == "start":
        _gc_t0[0] = time.perf_counter()
        _gc_t0[1] = time.thread_time()
        return
    dt = time.perf_counter() - _gc_t0[0]
    e = _gc.setdefault(info["generation"], [0, 0.0, 0.0, 0.0])
    e[0] += 1
    e[1] += dt
    e[2] = max(e[2], dt)
    e[3] += time.thread_time() - _gc_t0[1]


def _write(kind, data):
    k = _n[kind] = _n[kind] + 1
    base = os.path.join(_DIR, "%s-%d-%d" % (kind, os.getpid(), k))
    with open(base + ".tmp", "w") as f:
        json.dump(data, f)
    os.replace(base + ".tmp", base + ".json")


def _gc_reading(signum, frame):
    data = {str(g): list(e) for g, e in _gc.items()}
    for e in _gc.values():
        e[2] = 0.0
    _write("gc", data)


def _census(signum, frame):
    t0 = time.perf_counter()
    gc.callbacks.remove(_gc_timer)  # its own collection is not the server's
    try:
        gc.collect()
        if _FRAMES:
            import tracemalloc

            tracemalloc.take_snapshot().dump(os.path.join(
                _DIR, "census-%d-%d.tracemalloc" % (os.getpid(), _n["census"] + 1)))
        by_type = {}
        todo = gc.get_objects()
        seen = set(map(id, todo))
        i = 0
        while i < len(todo):  # the tracked objects, then what they hold that gc does not track
            o = todo[i]
            i += 1
            t = type(o)
            key = "%s.%s" % (t.__module__, t.__qualname__)
            if key == "builtins.coroutine":  # which code: the layers a socket's stack holds
                key = "coroutine " + o.__qualname__
            elif key == "_asyncio.Task":
                key = "Task " + getattr(o.get_coro(), "__qualname__", "?")
            try:
                size = sys.getsizeof(o, 0)
            except Exception:
                size = 0
            e = by_type.get(key)
            if e is None:
                by_type[key] = [1, size]
            else:
                e[0] += 1
                e[1] += size
            for r in gc.get_referents(o):
                if not gc.is_tracked(r) and id(r) not in seen:
                    seen.add(id(r))
                    todo.append(r)
        del todo, seen
        _write("census", {"by_type": by_type, "allocated_blocks": sys.getallocatedblocks(),
                          "took_s": time.perf_counter() - t0})
    finally:
        gc.callbacks.append(_gc_timer)


if _DIR:
    gc.callbacks.append(_gc_timer)
    signal.signal(signal.SIGUSR2, _gc_reading)
    if os.environ.get("KURIR_BENCH_CENSUS") == "1":
        signal.signal(signal.SIGUSR1, _census)
        if _FRAMES:
            import tracemalloc

            tracemalloc.start(_FRAMES)
'''


class Instruments:
    """A `sitecustomize` on the server's PYTHONPATH that times its garbage collections and,
    when profiling, takes censuses of its objects; both read by signals."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.keep = bool(args.profile)
        self.dir = (os.path.join(args.profile, "server") if args.profile
                    else tempfile.mkdtemp(prefix="kurir-bench-site-"))
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "sitecustomize.py"), "w") as f:
            f.write(SITE)
        self.env = {"KURIR_BENCH_DIR": self.dir,
                    "PYTHONPATH": os.pathsep.join(
                        x for x in (self.dir, os.environ.get("PYTHONPATH")) if x)}
        if args.profile:
            self.env["KURIR_BENCH_CENSUS"] = "1"
        if args.tracemalloc:
            self.env["KURIR_BENCH_TRACEMALLOC"] = str(args.tracemalloc)
        self.taken: Counter[tuple[str, int]] = Counter()
        self.last_gc: dict[int, dict[str, list[float]]] = {}

    async def _read(self, pid: int, kind: str, sig: int, limit_s: float) -> Any:
        self.taken[kind, pid] += 1
        path = os.path.join(self.dir, f"{kind}-{pid}-{self.taken[kind, pid]}.json")
        os.kill(pid, sig)
        deadline = now() + limit_s
        while not os.path.exists(path):
            if now() > deadline:
                raise TimeoutError(f"the server wrote no {path}")
            await asyncio.sleep(0.1)
        with open(path) as f:
            return json.load(f)

    async def gc_phase(self, pid: int) -> dict[str, Any]:
        """The collector's work since the last reading, by generation: collections, seconds
        and the longest pause (the event loop stands still meanwhile; a full collection walks
        every object the open sockets hold)."""
        reading: dict[str, list[float]] = await self._read(pid, "gc", signal.SIGUSR2, 30)
        before = self.last_gc.get(pid, {})
        self.last_gc[pid] = reading
        out = {}
        for gen, (count, secs, longest, cpu) in sorted(reading.items()):
            c0, s0, _, cpu0 = before.get(gen, (0, 0.0, 0.0, 0.0))
            # wall seconds stop the event loop; CPU seconds leave out other processes' turns
            out[f"gen{gen}"] = {"collections": int(count - c0), "seconds": round(secs - s0, 3),
                                "cpu_seconds": round(cpu - cpu0, 3),
                                "longest_ms": round(1000 * longest, 1)}
        return out

    async def census(self, pid: int) -> dict[str, Any]:
        return dict(await self._read(pid, "census", signal.SIGUSR1, 600))

    def snapshots(self, pid: int) -> tuple[str, str]:
        return (os.path.join(self.dir, f"census-{pid}-1.tracemalloc"),
                os.path.join(self.dir, f"census-{pid}-2.tracemalloc"))

    def close(self) -> None:
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


class Profiler:
    """py-spy on the server while the sockets open, and the object census around it."""

    def __init__(self, args: argparse.Namespace, engine: str, inst: Instruments) -> None:
        self.dir = args.profile
        self.py_spy = args.py_spy
        self.format = args.profile_format
        self.tracemalloc = args.tracemalloc
        self.engine = engine
        self.inst = inst
        self.spy: subprocess.Popen[bytes] | None = None
        self.out = ""

    def start_spy(self, pid: int) -> None:
        ext = "speedscope.json" if self.format == "speedscope" else "svg"
        self.out = os.path.join(self.dir, f"connections-{self.engine}-open.{ext}")
        cmd = [self.py_spy, "record", "--pid", str(pid), "-d", "3600", "-o", self.out,
               "-f", self.format, "--nonblocking", "--threads"]
        log(f"  py-spy on the server into {self.out}")
        with open(self.out + ".log", "wb") as err:
            self.spy = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)
        time.sleep(1.0)  # attached before the first socket opens

    def stop_spy(self) -> None:
        spy, self.spy = self.spy, None
        if spy is None:
            return
        spy.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
        try:
            spy.wait(60)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(10)

    def per_connection(self, before: dict[str, Any], after: dict[str, Any], n: int,
                       pid: int) -> dict[str, Any]:
        rows = []
        total = 0
        for key, (count, size) in after["by_type"].items():
            c0, s0 = before["by_type"].get(key, (0, 0))
            dc, ds = (count - c0) / n, (size - s0) / n
            total += size - s0
            if dc >= 0.5 or ds >= 16:
                rows.append({"type": key, "objects": round(dc, 2), "bytes": round(ds)})
        rows.sort(key=lambda r: -r["bytes"])
        out: dict[str, Any] = {
            "python_object_bytes_per_connection": round(total / n),
            "pymalloc_blocks_per_connection": round(
                (after["allocated_blocks"] - before["allocated_blocks"]) / n, 1),
            "by_type": rows[:60],
            "census_took_s": round(after["took_s"], 1),
        }
        if self.tracemalloc:
            out["tracemalloc"] = traced(n, *self.inst.snapshots(pid))
        return out


def traced(n: int, path_a: str, path_b: str) -> dict[str, Any]:
    """What the allocations between two tracemalloc snapshots come from, per connection."""
    import tracemalloc

    a = tracemalloc.Snapshot.load(path_a)
    b = tracemalloc.Snapshot.load(path_b)
    out: dict[str, Any] = {}
    for key in ("lineno", "traceback"):
        diff = b.compare_to(a, key)
        out[key] = [
            {"bytes_per_connection": round(d.size_diff / n),
             "blocks_per_connection": round(d.count_diff / n, 2),
             "where": [short_path(f"{fr.filename}:{fr.lineno}") for fr in d.traceback][-6:]}
            for d in diff[:15 if key == "traceback" else 25]
        ]
    out["total_bytes_per_connection"] = round(
        sum(d.size_diff for d in b.compare_to(a, "filename")) / n)
    return out


def left_behind(before: dict[str, Any], after: dict[str, Any], n: int) -> list[dict[str, Any]]:
    """Object types that grew by a share of a connection each between before the opening
    and after the closing: what closed connections leave behind."""
    rows = []
    for key, (count, size) in after["by_type"].items():
        c0, s0 = before["by_type"].get(key, (0, 0))
        if count - c0 >= 0.05 * n:
            rows.append({"type": key, "objects_per_connection": round((count - c0) / n, 3),
                         "bytes_per_connection": round((size - s0) / n)})
    return sorted(rows, key=lambda r: -r["bytes_per_connection"])[:20]


def short_path(p: str) -> str:
    if "site-packages/" in p:
        return p.split("site-packages/", 1)[1]
    if "/kurir/" in p:
        return "kurir/" + p.rsplit("/kurir/", 1)[1]
    if "/lib/python3" in p:  # the standard library: from the package on
        return p.split("/lib/python3", 1)[1].split("/", 1)[-1]
    return p


# frames every sample of a thread passes through: their inclusive time says nothing
ROOT_FRAMES = ("<frozen runpy>", "kurir/__main__.py", "kurir/cli.py", "uvicorn/main.py",
               "uvicorn/server.py", "uvicorn/_compat.py", "asyncio/runners.py",
               "threading.py", "thread (")


def summarize_speedscope(path: str, top: int = 30) -> dict[str, Any]:
    """Where the sampled time went: self time by package and function, inclusive time by
    function (a function counted once a sample), over all threads."""
    with open(path) as f:
        doc = json.load(f)
    frames = doc["shared"]["frames"]
    names = [f"{fr['name']} ({short_path(fr.get('file', '?'))})" for fr in frames]
    packages = [package_of(fr.get("file", "")) for fr in frames]
    self_t: Counter[str] = Counter()
    incl: Counter[str] = Counter()
    by_package: Counter[str] = Counter()
    total = 0.0
    for prof in doc["profiles"]:
        for stack, w in zip(prof["samples"], prof["weights"], strict=True):
            total += w
            if not stack:
                continue
            self_t[names[stack[-1]]] += w
            by_package[packages[stack[-1]]] += w
            for name in {names[i] for i in stack}:
                if not any(r in name for r in ROOT_FRAMES):
                    incl[name] += w

    def pct(c: Counter[str], k: int) -> list[list[Any]]:
        return [[name, round(100 * w / total, 1)] for name, w in c.most_common(k)]

    return {"samples": total, "self_pct_by_package": pct(by_package, 12),
            "self_pct": pct(self_t, top), "inclusive_pct": pct(incl, top)}


def package_of(path: str) -> str:
    if "/kurir/" in path:
        return "kurir." + path.rsplit("/kurir/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/lib/python3" in path:
        rest = path.split("/lib/python3", 1)[1].split("/", 2)
        return "stdlib." + (rest[1].removesuffix(".py") if len(rest) > 1 else "?")
    return path or "?"


# ---------------------------------------------------------------- one engine


async def note_gc(inst: Instruments | None, pid: int, out: dict[str, Any], phase: str) -> None:
    if inst is None:
        return
    out.setdefault("gc", {})[phase] = g = await inst.gc_phase(pid)
    full = g.get("gen2", {})
    log(f"  gc while {phase}: {full.get('collections', 0)} full collections,"
        f" {full.get('seconds', 0)} s ({full.get('cpu_seconds', 0)} s CPU),"
        f" longest {full.get('longest_ms', 0)} ms")


async def run_engine(srv: KurirServer, args: argparse.Namespace,
                     inst: Instruments | None) -> dict[str, Any]:
    n = args.connections
    out: dict[str, Any] = {"settings": srv.settings(), "server_ws": ws_settings(srv),
                           "connections_wanted": n}
    prof = Profiler(args, srv.engine, inst) if args.profile and inst else None
    if prof:
        out["profiled"] = True  # py-spy and the census disturb this run's figures
    async with httpx.AsyncClient(base_url=srv.url, timeout=60) as http:
        log(f"[{srv.engine}] registering {n} users ...")
        users, reg_s = await register(http, n, args.register_concurrency)
        out["register"] = {"users": n, "wall_s": round(reg_s, 2),
                           "per_s": round(n / reg_s, 1)}
        out["settle_after_register_s"] = await settle(srv.pid, SETTLE_LIMIT_S)
        out["server_rss_mib_idle"] = proc_rss_mib(srv.pid)
        out["server_idle"] = proc_counts(srv.pid)
        log(f"[{srv.engine}] server RSS idle {out['server_rss_mib_idle']} MiB")
        await note_gc(inst, srv.pid, out, "registering")
        census0 = await inst.census(srv.pid) if prof and inst else None
        await first_cycle(srv, http, users, args, out, prof, inst, census0)
        if inst and census0 is not None:
            census = await inst.census(srv.pid)  # after the RSS figure: it allocates
            out["profile"]["left_after_close"] = left_behind(census0, census, n)
        out["cycles"] = [{"open_per_s": out["open"]["connections_per_s"],
                          "server_rss_mib_open": out["server_rss_mib_open"],
                          "server_rss_mib_after_close": out["server_rss_mib_after_close"]}]
        for k in range(2, args.cycles + 1):
            log(f"[{srv.engine}] cycle {k}: reopening {n - 2} sockets ...")
            out["cycles"].append(await reopen(srv, http, users[2:], args))
            log(f"[{srv.engine}]   {out['cycles'][-1]}")
    return out


def ws_settings(srv: KurirServer) -> dict[str, Any]:
    from kurir.config import load

    cfg = load(environ={**os.environ, **srv.env},
               overrides={"data_dir": srv.data_dir, "database_url": srv.database_url})
    return {"uvicorn_ws": cfg.ws_impl, "keepalive_ping_s": cfg.ws_ping_seconds,
            "ws_deflate_allowed": cfg.ws_deflate}


async def first_cycle(srv: KurirServer, http: httpx.AsyncClient, users: list[User],
                      args: argparse.Namespace, out: dict[str, Any], prof: Profiler | None,
                      inst: Instruments | None, census0: dict[str, Any] | None) -> None:
    """Open all N, measure memory, the idle server and live traffic; close all."""
    tcp_idle = kernel_tcp_mem_kib()
    client_rss0 = proc_rss_mib(os.getpid())
    rss_idle = out["server_rss_mib_idle"]
    deliveries = Deliveries()
    group = min(args.group_size, len(users))
    compression = "deflate" if args.deflate else None
    sender = WsClient(srv.ws_url(users[0].token), users[0], compression=compression)
    receiver = WsClient(srv.ws_url(users[1].token), users[1], on_push=deliveries.on_push,
                        compression=compression)
    socks = [IdleSocket("127.0.0.1", srv.port, u,
                        on_push=deliveries.on_push if i + 2 < group else None,
                        deflate=args.deflate)
             for i, u in enumerate(users[2:])]
    try:
        await sender.open()
        await receiver.open()
        log(f"[{srv.engine}] opening {len(socks)} sockets (+2 WsClients),"
            f" {args.open_concurrency} at a time ...")
        if prof:
            prof.start_spy(srv.pid)
        try:
            out["open"] = o = await open_phase(srv, socks, args.open_concurrency, args.probe)
        finally:
            if prof:
                prof.stop_spy()
        opened = o["opened"] + 2
        o["deflate_agreed"] = sum(s.inflater is not None for s in socks)
        log(f"[{srv.engine}]   {o['opened']} open in {o['wall_s']} s"
            f" ({o['connections_per_s']}/s), ready p50 {o['ready_ms'].get('p50')} ms"
            f" p99 {o['ready_ms'].get('p99')} ms, server"
            f" {o['server_cpu_ms_per_connection']} ms CPU each; failed {o['failed']}")
        out["settle_after_open_s"] = await settle(srv.pid, SETTLE_LIMIT_S)
        await note_gc(inst, srv.pid, out, "opening")
        out["server_connections_reported"] = await server_connections(http)
        rss_open = out["server_rss_mib_open"] = proc_rss_mib(srv.pid)
        out["server_open"] = proc_counts(srv.pid)
        out["rss_per_connection_kib"] = round((rss_open - rss_idle) * 1024 / opened, 2)
        out["kernel_tcp_kib_per_connection_both_ends"] = round(
            (kernel_tcp_mem_kib() - tcp_idle) / opened, 2)
        out["client_rss_kib_per_connection"] = round(
            (proc_rss_mib(os.getpid()) - client_rss0) * 1024 / opened, 2)
        log(f"[{srv.engine}] server RSS {rss_open} MiB with {opened} open:"
            f" {out['rss_per_connection_kib']} KiB per connection"
            f" (server reports {out['server_connections_reported']})")
        if prof and inst and census0 is not None:
            census1 = await inst.census(srv.pid)
            out["profile"] = {"py_spy_output": prof.out,
                              "memory": prof.per_connection(census0, census1, opened, srv.pid)}
            if prof.format == "speedscope" and os.path.exists(prof.out):
                out["profile"]["open_time"] = summarize_speedscope(prof.out)
            await settle(srv.pid, SETTLE_LIMIT_S)
        await live_phases(srv, http, users, args, out, socks, sender, deliveries, opened, group,
                          inst)
        out["sockets_closed_by_server"] = sum(s.ready and not s.is_open for s in socks)
        out["server_rss_mib_after_live"] = proc_rss_mib(srv.pid)
    finally:
        log(f"[{srv.engine}] closing ...")
        out["close"] = await close_phase(socks, args.open_concurrency)
        await sender.close()
        await receiver.close()
    out["close"]["server_connections_left"] = await wait_connections(http, 0, SETTLE_LIMIT_S)
    out["close"]["server_busy_after_s"] = await settle(srv.pid, SETTLE_LIMIT_S)
    await note_gc(inst, srv.pid, out, "closing")
    out["server_rss_mib_after_close"] = proc_rss_mib(srv.pid)
    out["server_after_close"] = proc_counts(srv.pid)
    log(f"[{srv.engine}] closed in {out['close']['wall_s']} s; server RSS after"
        f" {out['server_rss_mib_after_close']} MiB")


async def live_phases(srv: KurirServer, http: httpx.AsyncClient, users: list[User],
                      args: argparse.Namespace, out: dict[str, Any], socks: list[IdleSocket],
                      sender: WsClient, deliveries: Deliveries, opened: int, group: int,
                      inst: Instruments | None) -> None:
    log(f"[{srv.engine}] idle for {args.idle_seconds} s with {opened} open ...")
    out["idle"] = await idle_phase(srv, socks, args.idle_seconds, opened)
    log(f"[{srv.engine}]   server CPU {out['idle']['server_cpu_pct']} % of a core,"
        f" {out['idle']['keepalive_pings_seen']} keepalive pings seen")
    await note_gc(inst, srv.pid, out, "idle")
    log(f"[{srv.engine}] live: {LIVE_MESSAGES} messages between two of them ...")
    out["live_1to1"] = await timed_sends(sender, deliveries, {"user_id": users[1].id}, 1,
                                         LIVE_MESSAGES, LIVE_WARMUP, "p")
    d = out["live_1to1"]["delivery_ms"]
    log(f"[{srv.engine}]   delivery p50 {d.get('p50')} ms p99 {d.get('p99')} ms")
    if group >= 3:
        await group_phase(srv, http, users, out, sender, deliveries, group)
    await note_gc(inst, srv.pid, out, "live")


async def group_phase(srv: KurirServer, http: httpx.AsyncClient, users: list[User],
                      out: dict[str, Any], sender: WsClient, deliveries: Deliveries,
                      group: int) -> None:
    chat = await call_http(http, "chats.createGroup", users[0].token, title="bench group",
                           user_ids=[u.id for u in users[1:group]])
    log(f"[{srv.engine}] group of {group}: {LIVE_MESSAGES} messages ...")
    out["group_fanout"] = g = await timed_sends(
        sender, deliveries, {"chat_id": int(chat["id"])}, group - 1, LIVE_MESSAGES,
        LIVE_WARMUP, "g")
    log(f"[{srv.engine}]   first delivery p50 {g['first_delivery_ms'].get('p50')} ms,"
        f" last p50 {g['last_delivery_ms'].get('p50')} ms"
        f" p99 {g['last_delivery_ms'].get('p99')} ms")


async def reopen(srv: KurirServer, http: httpx.AsyncClient, users: list[User],
                 args: argparse.Namespace) -> dict[str, Any]:
    """Open and close all again: RSS that grows from cycle to cycle is a leak, RSS that
    stays is memory kept for reuse."""
    socks = [IdleSocket("127.0.0.1", srv.port, u, deflate=args.deflate) for u in users]
    try:
        o = await open_phase(srv, socks, args.open_concurrency, args.probe)
        await settle(srv.pid, SETTLE_LIMIT_S)
        rss_open = proc_rss_mib(srv.pid)
    finally:
        await close_phase(socks, args.open_concurrency)
    await wait_connections(http, 0, SETTLE_LIMIT_S)
    await settle(srv.pid, SETTLE_LIMIT_S)
    return {"opened": o["opened"], "open_per_s": o["connections_per_s"],
            "server_rss_mib_open": rss_open,
            "server_rss_mib_after_close": proc_rss_mib(srv.pid)}


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="2,000 connections, 5 s idle")
    p.add_argument("--connections", type=int, help="sockets to hold (10000; quick 2000)")
    p.add_argument("--engines", default="sqlite")
    p.add_argument("--idle-seconds", type=float,
                   help="idle window (30, one keepalive period; quick 5)")
    p.add_argument("--open-concurrency", type=int, default=64)
    p.add_argument("--register-concurrency", type=int, default=16)
    p.add_argument("--cycles", type=int, default=1,
                   help="open and close all this many times (RSS across cycles: a leak?)")
    p.add_argument("--group-size", type=int, default=200,
                   help="members of the fanout group (a basic group holds 200; 0: skip)")
    p.add_argument("--deflate", action="store_true",
                   help="offer permessage-deflate on every socket, as browsers do")
    p.add_argument("--no-probe", dest="probe", action="store_false",
                   help="count a socket open at its 101, without a first request")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each engine, wait up to S seconds for an idle machine")
    p.add_argument("--gc-stats", action="store_true",
                   help="time the server's garbage collections in each phase (a sitecustomize"
                        " on its PYTHONPATH)")
    p.add_argument("--profile", metavar="DIR",
                   help="py-spy and an object census, into DIR (implies --gc-stats)")
    p.add_argument("--py-spy", default=shutil.which("py-spy") or "/tmp/spy/bin/py-spy")
    p.add_argument("--profile-format", default="speedscope", choices=["speedscope",
                                                                      "flamegraph"])
    p.add_argument("--tracemalloc", type=int, default=0, metavar="FRAMES",
                   help="with --profile: trace the server's allocations (slows it a lot)")
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r}")
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    if args.connections is None:
        args.connections = 2000 if args.quick else 10_000
    if args.idle_seconds is None:
        args.idle_seconds = 5.0 if args.quick else KEEPALIVE_PING_S
    if not (3 <= args.connections <= 100_000 and 0 < args.idle_seconds <= 600
            and 1 <= args.open_concurrency <= 1000 and 0 <= args.group_size <= 200
            and 1 <= args.cycles <= 10):
        p.error("connections 3..100000, idle 0..600 s, open-concurrency 1..1000,"
                " group-size 0..200, cycles 1..10")
    if args.tracemalloc and not args.profile:
        p.error("--tracemalloc goes with --profile")
    if args.profile and not os.access(args.py_spy, os.X_OK):
        p.error(f"py-spy not found at {args.py_spy} (pip install py-spy into a side venv)")
    return args


def raise_fd_limit(need: int) -> int:
    """One process holds every client socket, and the server (which inherits the limit)
    every server socket: both need N files and some."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if need > hard:
        raise SystemExit(f"{need} files wanted, the hard limit is {hard}: fewer --connections")
    return hard


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    fd_limit = raise_fd_limit(args.connections + FD_MARGIN)
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    server_env = dict(kv.split("=", 1) for kv in args.server_env)
    if args.deflate:
        server_env.setdefault("KURIR_WS_DEFLATE", "true")  # kurir's default refuses it
    if args.profile:
        os.makedirs(args.profile, exist_ok=True)
    inst = Instruments(args) if args.gc_stats or args.profile else None
    if inst is not None:
        server_env.update(inst.env)
    machine = machine_info()
    machine["load_generator"] = f"same machine, one process ({client_loop}), raw sockets"
    result: dict[str, Any] = {
        "benchmark": "connections",
        "machine": machine,
        "params": {
            "quick": args.quick,
            "connections": args.connections,
            "idle_seconds": args.idle_seconds,
            "open_concurrency": args.open_concurrency,
            "register_concurrency": args.register_concurrency,
            "cycles": args.cycles,
            "group_size": min(args.group_size, args.connections),
            "probe": args.probe,
            "deflate_offered": args.deflate,
            "live_messages": LIVE_MESSAGES,
            "client_event_loop": client_loop,
            "fd_limit": fd_limit,
            "server_env": args.server_env,
            "gc_stats": inst is not None,
            "profile": args.profile,
            "tracemalloc_frames": args.tracemalloc,
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log(f"machine: {machine['cores']} cores, {machine['cpu']}; load generator on the same"
        f" machine ({client_loop}); fd limit {fd_limit}")
    try:
        exit_code = for_each_engine(args.engines, result, client_loop, args.wait_quiet,
                                    server_env, lambda srv: run_engine(srv, args, inst))
    finally:
        if inst is not None:
            inst.close()
    emit(result)
    return exit_code


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main())
