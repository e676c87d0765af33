"""kurir against Matrix Synapse: the same three workloads, in one run, on this machine.

    python bench/peers.py [--quick] [--targets kurir-sqlite,kurir-pg2,synapse]

Targets:
 - kurir-sqlite: one `kurir serve` on SQLite (the default engine);
 - kurir-pg2: two `kurir serve` processes on two ports sharing one fresh PostgreSQL database
   and a broker (KURIR_BROKER_URL). Every delivery crosses processes: a sender's socket is on
   process A and its receiver's on process B; in (b) the senders are spread over both;
 - synapse: Matrix Synapse on SQLite, set up and measured by the shared peer scripts
   (../shared/bench/peers: synapse_setup.sh, synapse_bench.py), called where they are.

Workloads (the sizes of synapse_bench.py; --quick shrinks them):
 (a) 1:1 send -> delivery latency over N sequential messages: the sender sends with
     `messages.send` on its WebSocket, the receiver has the pushed new_message on its own;
 (b) U users in U/2 private chats, each sending closed-loop (one in flight) for T seconds
     and receiving on its socket: accepted messages/s (acked within the window), delivered
     messages/s (seen by the other member within the window), delivery latency under load;
 (c) one group of M members, all online; one sender sends K messages one at a time: time
     until every receiver has each message (p50/p99 of that "all" time).
Also the servers' RSS and CPU. Human-readable progress and the comparison table go to stderr;
the figures are ONE JSON object on the last line of stdout. Every loop is bounded in count
and time; every server started here is stopped by its PID, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import dataclasses
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    DISTURBED_PCT,
    ClosedLoop,
    CpuWindow,
    Interrupted,
    KurirCluster,
    KurirServer,
    RawClient,
    Tally,
    User,
    call_http,
    cancel_on_signals,
    close_all,
    emit,
    install_cleanup,
    is_new_message,
    log,
    machine_info,
    now,
    open_all,
    pick_loop,
    proc_rss_mib,
    random_id,
    register_users,
    run,
    settle,
    summary_ms,
    text_of,
    wait_until_quiet,
)

TARGETS = ("kurir-sqlite", "kurir-pg2", "synapse")
BROKER_URL = "redis://127.0.0.1:6379/0"
HOST = "127.0.0.1"
PAD = "x" * 56  # texts of about 64 characters, as synapse_bench.py sends
LATENCY_WARMUP = 10
LATENCY_TIME_LIMIT_S = 120.0
LATENCY_MAX_LOST_IN_A_ROW = 3
MESSAGE_TIMEOUT_S = 10.0
# when a probe found no delivery across processes, wait this long for each one instead
NO_CROSS_TIMEOUT_S = 1.0
DRAIN_LIMIT_S = 15.0
DRAIN_STALL_S = 3.0
MAX_SENDS_PER_SENDER = 1_000_000

# Synapse, as the shared scripts install and configure it
SYNAPSE_VENV = "/tmp/synapse-venv"
SYNAPSE_PORT = 8008
CLIENT_VENV = "/tmp/wsbench-venv"  # the client side of synapse_bench.py (aiohttp)
SYNAPSE_SETUP_TIMEOUT_S = 1800.0
SYNAPSE_START_TIMEOUT_S = 60.0

# the targets
TARGET_A_P99_MS = 10.0
TARGET_B_TIMES = 100.0
TARGET_C_MS = 50.0



def text(tag: str) -> str:
    return f"{tag} {PAD}"


# ---------------------------------------------------------------- kurir deployments


@dataclasses.dataclass
class Deployment:
    """The kurir processes of one target: node 0 is process A (senders), the last is
    process B (receivers); with one process both are the same."""

    name: str
    nodes: list[KurirServer]
    cluster: KurirCluster | None = None

    @property
    def a(self) -> KurirServer:
        return self.nodes[0]

    @property
    def b(self) -> KurirServer:
        return self.nodes[-1]

    @property
    def pids(self) -> list[int]:
        return [n.pid for n in self.nodes]

    def pg_pids(self) -> list[int] | None:
        if self.cluster is not None:
            return self.cluster.pg_backend_pids()
        return self.a.pg_backend_pids()

    def rss(self) -> list[float]:
        return [proc_rss_mib(pid) for pid in self.pids]

    def settings(self) -> dict[str, Any]:
        if self.cluster is not None:
            return self.cluster.settings()
        return self.a.settings()


def client_on(node: KurirServer, user: User,
              on_push: Callable[[Any, bytes, float], None] | None = None) -> RawClient:
    return RawClient(HOST, node.port, user, on_push=on_push)


async def probe_cross_process(dep: Deployment, http: httpx.AsyncClient) -> bool | None:
    """Does a message sent on process A reach a socket on process B? (None: one process.)"""
    if len(dep.nodes) < 2:
        return None
    p, q = await register_users(http, 2, "probe")
    got: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def on_push(c: Any, raw: bytes, t: float) -> None:
        if is_new_message(raw) and not got.done():
            got.set_result(t)

    sender, receiver = client_on(dep.a, p), client_on(dep.b, q, on_push)
    await open_all([sender, receiver])
    await settle([sender, receiver])
    try:
        await sender.call("messages.send", user_id=q.id, text=text("probe"),
                          random_id=random_id())
        try:
            await asyncio.wait_for(got, 5.0)
            return True
        except TimeoutError:
            return False
    finally:
        await close_all([sender, receiver])


# ---------------------------------------------------------------- (a) latency


async def kurir_latency(dep: Deployment, http: httpx.AsyncClient, n: int,
                        timeout: float) -> dict[str, Any]:
    a, b = await register_users(http, 2, "lat")
    waiting: dict[bytes, asyncio.Future[float]] = {}

    def on_push(c: Any, raw: bytes, t: float) -> None:
        if is_new_message(raw):
            fut = waiting.pop(text_of(raw), None)
            if fut is not None and not fut.done():
                fut.set_result(t)

    sender = client_on(dep.a, a)
    receiver = client_on(dep.b, b, on_push)
    await open_all([sender, receiver])
    await settle([sender, receiver])
    delivery: list[float] = []
    ack: list[float] = []
    lost = lost_in_a_row = 0
    errors: Counter[str] = Counter()
    deadline = now() + LATENCY_TIME_LIMIT_S
    loop = asyncio.get_running_loop()
    try:
        with CpuWindow(dep.pids, dep.pg_pids()) as cpu:
            for i in range(LATENCY_WARMUP + n):
                if now() > deadline:
                    log(f"  latency: time limit reached after {i} messages")
                    break
                if lost_in_a_row >= LATENCY_MAX_LOST_IN_A_ROW:
                    log(f"  latency: {lost_in_a_row} messages in a row not delivered; giving up")
                    break
                body = text(f"a{i}")
                fut: asyncio.Future[float] = loop.create_future()
                waiting[body.encode()] = fut
                t0 = now()
                msg, t_ack = await sender.request(
                    "messages.send", {"user_id": b.id, "text": body, "random_id": random_id()},
                    MESSAGE_TIMEOUT_S)
                if not msg.get("ok"):
                    errors[msg.get("error", {}).get("type", "?")] += 1
                    waiting.pop(body.encode(), None)
                    continue
                try:
                    t_del = await asyncio.wait_for(fut, timeout)
                except TimeoutError:
                    lost += 1
                    lost_in_a_row += 1
                    waiting.pop(body.encode(), None)
                    continue
                lost_in_a_row = 0
                if i < LATENCY_WARMUP:
                    continue  # the first sends make the private chat and warm the caches
                delivery.append(t_del - t0)
                ack.append(t_ack - t0)
    finally:
        await close_all([sender, receiver])
    return {
        "messages": len(delivery),
        "warmup_messages": LATENCY_WARMUP,
        "delivery_ms": summary_ms(delivery),
        "ack_ms": summary_ms(ack),
        "not_delivered": lost,
        "errors": dict(errors),
        "receiver_pts_gaps": receiver.pts_gaps,
        "cpu": cpu.figures(),
    }


# ---------------------------------------------------------------- (b) throughput


async def kurir_throughput(dep: Deployment, http: httpx.AsyncClient, n_users: int,
                           duration: float) -> dict[str, Any]:
    tally = Tally()
    users = await register_users(http, n_users, "tp")
    partner = {u.id: users[i ^ 1].id for i, u in enumerate(users)}
    # user i on process i % N: with two processes each pair has one member on each
    clients = [client_on(dep.nodes[i % len(dep.nodes)], u, tally.on_push)
               for i, u in enumerate(users)]
    await open_all(clients)
    await settle(clients)
    loop = ClosedLoop()

    async def send_one(c: RawClient, body: str) -> tuple[bool, float]:
        t0 = now()
        tally.sent_at[body.encode()] = (t0, c.user.id)
        params = {"user_id": partner[c.user.id], "text": body, "random_id": random_id()}
        msg, t_ack = await c.request("messages.send", params, MESSAGE_TIMEOUT_S)
        if msg.get("ok"):
            return True, t_ack - t0
        loop.errors[msg.get("error", {}).get("type", "?")] += 1
        return False, t_ack - t0

    try:
        # warm-up, not counted: one message each way in every pair (makes the chats)
        await asyncio.gather(*(send_one(c, text(f"w{k}")) for k, c in enumerate(clients)))
        await asyncio.sleep(0.5)
        tally.sent_at.clear()
        loop.reset()
        tally.counting = True
        with CpuWindow(dep.pids, dep.pg_pids()) as cpu:
            t_stop = now() + duration
            tally.t_stop = t_stop
            await asyncio.gather(*(loop.sender(c, send_one, lambda i, k=k: text(f"b{k}.{i}"),
                                               t_stop, MAX_SENDS_PER_SENDER)
                                   for k, c in enumerate(clients)))
        # drain (bounded): until every acked message is delivered, or nothing comes for a while
        drain_end = now() + DRAIN_LIMIT_S
        last, last_t = -1, now()
        while tally.delivered < loop.accepted and now() < drain_end:
            if tally.delivered != last:
                last, last_t = tally.delivered, now()
            elif now() - last_t > DRAIN_STALL_S:
                break
            await asyncio.sleep(0.05)
        drained_s = now() - cpu.t0 - cpu.wall
        closed = sum(c.closed_reason is not None for c in clients)
    finally:
        await close_all(clients)
    return {
        "users": n_users,
        "chats": n_users // 2,
        "inflight_per_user": 1,
        "duration_s": duration,
        "accepted": loop.in_window,
        "accepted_per_s": round(loop.in_window / duration, 1),
        "delivered_in_window_per_s": round(tally.delivered_in_window / duration, 1),
        "accepted_total": loop.accepted,
        "delivered_total": tally.delivered,
        "own_copies_total": tally.own_copies,
        "drain_s": round(max(0.0, drained_s), 2),
        "ack_ms": summary_ms(loop.ack),
        "delivery_ms_under_load": summary_ms(tally.latency),
        "errors": dict(loop.errors),
        "pts_gaps": sum(c.pts_gaps for c in clients),
        "pts_repeats": sum(c.pts_repeats for c in clients),
        "sockets_closed_by_server": closed,
        "server_cpu_ms_per_accepted_msg": round(1000 * cpu.server / max(1, loop.accepted), 3),
        "cpu": cpu.figures(),
        "server_rss_mib_after": dep.rss(),
    }


# ---------------------------------------------------------------- (c) fanout


async def kurir_fanout(dep: Deployment, http: httpx.AsyncClient, members: int, msgs: int,
                       gap: float, timeout: float) -> dict[str, Any]:
    t = now()
    users = await register_users(http, members, "fo")
    t_reg = now() - t
    t = now()
    group = await call_http(http, "chats.createGroup", users[0].token, title="bench fanout",
                            user_ids=[u.id for u in users[1:]])
    t_create = now() - t
    chat_id = int(group["id"])
    arrivals: dict[bytes, list[float]] = {}
    done: dict[bytes, asyncio.Event] = {}
    n_receivers = members - 1

    def on_push(c: Any, raw: bytes, t: float) -> None:
        if is_new_message(raw):
            key = text_of(raw)
            seen = arrivals.get(key)
            if seen is not None:
                seen.append(t)
                if len(seen) == n_receivers:
                    done[key].set()

    sender = client_on(dep.a, users[0])
    receivers = [client_on(dep.b, u, on_push) for u in users[1:]]
    await open_all([sender, *receivers])
    await settle([sender, *receivers])
    rows: list[dict[str, float]] = []
    try:
        with CpuWindow(dep.pids, dep.pg_pids()) as cpu:
            for i in range(-1, msgs):  # message -1 warms up, not counted
                body = text(f"c{i}")
                key = body.encode()
                arrivals[key], done[key] = [], asyncio.Event()
                t0 = now()
                await sender.call("messages.send", chat_id=chat_id, text=body,
                                  random_id=random_id())
                t_ack = now() - t0
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done[key].wait(), timeout)
                ts = sorted(x - t0 for x in arrivals[key])
                if len(ts) < n_receivers:
                    log(f"  fanout: {len(ts)} of {n_receivers} receivers got message {i}")
                if i >= 0 and ts:
                    rows.append({"ack": t_ack, "first": ts[0], "median": ts[len(ts) // 2],
                                 "all": ts[-1], "got": len(ts)})
                elif i >= 0:
                    rows.append({"ack": t_ack, "got": 0})
                await asyncio.sleep(gap)
    finally:
        await close_all([sender, *receivers])
    full = [r for r in rows if r["got"] == n_receivers]
    return {
        "members": members,
        "receivers": n_receivers,
        "msgs": msgs,
        "register_s": round(t_reg, 2),
        "create_group_s": round(t_create, 3),
        "ack_ms": summary_ms([r["ack"] for r in rows]),
        "first_receiver_ms": summary_ms([r["first"] for r in rows if "first" in r]),
        "median_receiver_ms": summary_ms([r["median"] for r in rows if "median" in r]),
        # only messages every receiver got: an incomplete one has no "all" time
        "all_receivers_ms": summary_ms([r["all"] for r in full]),
        "messages_not_complete": len(rows) - len(full),
        "min_receivers_got": min((int(r["got"]) for r in rows), default=0),
        "receiver_pts_gaps": sum(r.pts_gaps for r in receivers),
        "cpu": cpu.figures(),
    }


# ---------------------------------------------------------------- one kurir target


async def run_kurir(dep: Deployment, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "processes": len(dep.nodes),
        "settings": dep.settings(),
        "server_rss_mib_idle": dep.rss(),
    }
    t_begin = now()

    def tag() -> str:
        return f"[{dep.name} +{now() - t_begin:.1f} s]"

    with CpuWindow(dep.pids, dep.pg_pids()) as whole:
        async with httpx.AsyncClient(base_url=dep.a.url, timeout=30) as http:
            cross = await probe_cross_process(dep, http)
            out["cross_process_delivery"] = cross
            timeout = MESSAGE_TIMEOUT_S
            if cross is False:
                timeout = NO_CROSS_TIMEOUT_S
                log(f"{tag()} WARNING: a message sent on process A did not reach process B in"
                    f" 5 s (no broker yet?); deliveries wait {timeout} s each")
            elif cross:
                log(f"{tag()} cross-process delivery works")
            if "a" in args.only:
                log(f"{tag()} (a) latency, {args.lat_msgs} sequential messages ...")
                lat = await kurir_latency(dep, http, args.lat_msgs, timeout)
                out["latency"] = lat
                out["server_rss_mib_after_latency"] = dep.rss()
                log(f"{tag()}   delivery p50 {lat['delivery_ms'].get('p50')} ms,"
                    f" p99 {lat['delivery_ms'].get('p99')} ms;"
                    f" not delivered {lat['not_delivered']}")
            if "b" in args.only:
                log(f"{tag()} (b) throughput, {args.tp_users} users in {args.tp_users // 2}"
                    f" private chats, {args.tp_secs} s ...")
                tp = await kurir_throughput(dep, http, args.tp_users, args.tp_secs)
                out["throughput"] = tp
                log(f"{tag()}   {tp['accepted_per_s']} accepted/s,"
                    f" {tp['delivered_in_window_per_s']} delivered/s;"
                    f" delivery p50 {tp['delivery_ms_under_load'].get('p50')} ms;"
                    f" server {tp['cpu']['server_cpu_pct']} % CPU"
                    f" ({tp['server_cpu_ms_per_accepted_msg']} ms a message),"
                    f" PostgreSQL {tp['cpu'].get('postgres_cpu_pct', '-')} %,"
                    f" client {tp['cpu']['client_cpu_pct']} %")
            if "c" in args.only:
                log(f"{tag()} (c) fanout, a group of {args.fo_members}, {args.fo_msgs}"
                    f" messages ...")
                fo = await kurir_fanout(dep, http, args.fo_members, args.fo_msgs,
                                        args.fo_gap, timeout)
                out["fanout"] = fo
                log(f"{tag()}   all have it p50 {fo['all_receivers_ms'].get('p50')} ms,"
                    f" p99 {fo['all_receivers_ms'].get('p99')} ms;"
                    f" first p50 {fo['first_receiver_ms'].get('p50')} ms")
    out["cpu_whole_run"] = whole.figures()
    out["server_rss_mib_end"] = dep.rss()
    out["server_rss_mib_end_total"] = round(sum(out["server_rss_mib_end"]), 1)
    log(f"{tag()} server RSS at the end: {out['server_rss_mib_end']} MiB")
    return out


def broker_setting_present() -> bool:
    from kurir.config import Config

    return any(f.name == "broker_url" for f in dataclasses.fields(Config))


def start_deployment(name: str, env: dict[str, str]) -> Deployment:
    if name == "kurir-sqlite":  # one process: no broker
        alone = {k: v for k, v in env.items() if k != "KURIR_BROKER_URL"}
        dep = Deployment(name, [KurirServer("sqlite", env=alone)])
    else:
        cluster = KurirCluster(2, env={"KURIR_BROKER_URL": BROKER_URL, **env})
        dep = Deployment(name, cluster.nodes, cluster)
    try:
        if dep.cluster is not None:
            dep.cluster.start()
        else:
            dep.a.start()
    except BaseException:
        log(dep.cluster.log_tails() if dep.cluster else dep.a.log_tail())
        stop_deployment(dep)
        raise
    return dep


def stop_deployment(dep: Deployment | None) -> None:
    if dep is None:
        return
    if dep.cluster is not None:
        dep.cluster.stop()
    else:
        dep.a.stop()


# ---------------------------------------------------------------- Synapse


def peers_dir(given: str | None) -> Path:
    """../shared/bench/peers next to the repository (or --peers-dir): the shared scripts."""
    path = Path(given) if given else (
        Path(__file__).resolve().parent.parent.parent / "shared" / "bench" / "peers")
    missing = [f for f in ("synapse_setup.sh", "synapse_bench.py") if not (path / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"the shared peer scripts are not in {path} (missing {', '.join(missing)}); they"
            " live in ../shared/bench/peers beside the repository, or pass --peers-dir")
    return path


class Synapse:
    """Synapse as the shared scripts set it up (synapse_setup.sh) and start it
    (run_synapse_bench.sh), stopped by its PID."""

    def __init__(self, scripts: Path, db: str = "sqlite") -> None:
        self.scripts = scripts
        self.db = db
        self.data = Path(f"/tmp/synapse-{db}")
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def setup(self) -> float:
        """Install once, write a fresh config and database (idempotent); its seconds."""
        t0 = now()
        res = subprocess.run(["bash", str(self.scripts / "synapse_setup.sh"), self.db],
                             stdin=subprocess.DEVNULL, capture_output=True, text=True,
                             timeout=SYNAPSE_SETUP_TIMEOUT_S, cwd="/tmp")
        if res.returncode != 0:
            raise RuntimeError(f"synapse_setup.sh failed ({res.returncode}):"
                               f" {(res.stdout + res.stderr)[-2000:]}")
        client_py = Path(CLIENT_VENV) / "bin" / "python"
        if not client_py.exists():
            subprocess.run([sys.executable, "-m", "venv", CLIENT_VENV], check=True,
                           timeout=300)
        ok = subprocess.run([str(client_py), "-c", "import aiohttp"],
                            capture_output=True, timeout=60).returncode == 0
        if not ok:
            subprocess.run([str(Path(CLIENT_VENV) / "bin" / "pip"), "install", "-q", "aiohttp"],
                           check=True, timeout=600)
        return now() - t0

    def start(self) -> None:
        with socket.socket() as s:
            if s.connect_ex((HOST, SYNAPSE_PORT)) == 0:
                raise RuntimeError(f"something already listens on {HOST}:{SYNAPSE_PORT};"
                                   " Synapse needs that port")
        _synapses.append(self)
        self._log = open(self.data / "stdout.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [f"{SYNAPSE_VENV}/bin/python", "-m", "synapse.app.homeserver",
             "-c", str(self.data / "homeserver.yaml")],
            cwd=self.data, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        url = f"http://{HOST}:{SYNAPSE_PORT}/_matrix/client/versions"
        deadline = now() + SYNAPSE_START_TIMEOUT_S
        while now() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Synapse exited with {self.proc.returncode}:"
                                   f" {self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            time.sleep(0.25)
        raise RuntimeError("Synapse did not answer in time: " + self.log_tail())

    def log_tail(self) -> str:
        try:
            return (self.data / "stdout.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
        if self._log is not None:
            self._log.close()
            self._log = None
        if self in _synapses:
            _synapses.remove(self)


_synapses: list[Synapse] = []


@atexit.register
def _stop_synapses() -> None:
    for s in list(_synapses):
        s.stop()


def run_synapse_bench(syn: Synapse, args: argparse.Namespace) -> dict[str, Any]:
    """synapse_bench.py with the same sizes, its progress relayed to stderr; its JSON."""
    cmd = [f"{CLIENT_VENV}/bin/python", str(syn.scripts / "synapse_bench.py"),
           "--pid", str(syn.pid), "--tag", "p" + os.urandom(3).hex(),
           "--lat-msgs", str(args.lat_msgs), "--tp-users", str(args.tp_users),
           "--tp-secs", str(args.tp_secs), "--fo-members", str(args.fo_members),
           "--fo-msgs", str(args.fo_msgs), "--only", ",".join(args.only)]
    # its own bounds: (a) 120 s, (b) the window + 15 s drain, (c) 20 s a message
    limit = 300 + args.tp_secs + 25 * args.fo_msgs + 2 * args.fo_members
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL)

        def relay() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                log("[synapse]   " + line.decode(errors="replace").rstrip()[:300])

        relay_thread = threading.Thread(target=relay, daemon=True)
        relay_thread.start()
        try:
            proc.wait(limit)
        except subprocess.TimeoutExpired:
            raise RuntimeError(f"synapse_bench.py took over {limit:.0f} s") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            relay_thread.join(5)
        if proc.returncode != 0:
            raise RuntimeError(f"synapse_bench.py exited with {proc.returncode}")
        out.seek(0)
        return dict(json.loads(out.read()))


class ChildCpuWindow(CpuWindow):
    """CpuWindow where the client is a child process of ours (synapse_bench.py), counted
    when it has been waited for."""

    def __enter__(self) -> ChildCpuWindow:
        super().__enter__()
        self.children0 = _children_cpu_s()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        self.client += _children_cpu_s() - self.children0


def _children_cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_synapse(args: argparse.Namespace) -> dict[str, Any]:
    syn = Synapse(peers_dir(args.peers_dir))
    log("[synapse] setting up (synapse_setup.sh sqlite; installs once) ...")
    out: dict[str, Any] = {"db": syn.db, "setup_s": round(syn.setup(), 1)}
    try:
        syn.start()
        log(f"[synapse] pid {syn.pid} on http://{HOST}:{SYNAPSE_PORT}")
        time.sleep(args.synapse_settle)  # as run_synapse_bench.sh lets it settle
        out["server_rss_mib_idle"] = proc_rss_mib(syn.pid)
        with ChildCpuWindow(syn.pid) as cpu:
            out["bench"] = run_synapse_bench(syn, args)
        out["cpu_whole_run"] = cpu.figures()
        out["server_rss_mib_end"] = proc_rss_mib(syn.pid)
        ver = subprocess.run([f"{SYNAPSE_VENV}/bin/python", "-c",
                              "import synapse; print(synapse.__version__)"],
                             capture_output=True, text=True, timeout=60)
        out["synapse_version"] = ver.stdout.strip() or "?"
    except Exception:
        log(syn.log_tail())
        raise
    finally:
        syn.stop()
    log(f"[synapse] server RSS at the end: {out['server_rss_mib_end']} MiB")
    return out


# ---------------------------------------------------------------- the comparison


ROWS: list[tuple[str, str, bool]] = [
    # (label, key, higher is better)
    ("(a) delivery p50, ms", "a_p50_ms", False),
    ("(a) delivery p99, ms", "a_p99_ms", False),
    ("(b) accepted msg/s", "b_accepted_per_s", True),
    ("(b) delivered msg/s", "b_delivered_per_s", True),
    ("(b) delivery p50 under load, ms", "b_delivery_p50_ms", False),
    ("(b) delivery p99 under load, ms", "b_delivery_p99_ms", False),
    ("(b) server CPU per accepted msg, ms", "b_server_cpu_ms_per_msg", False),
    ("(c) all have it p50, ms", "c_all_p50_ms", False),
    ("(c) all have it p99, ms", "c_all_p99_ms", False),
    ("server RSS at the end, MiB", "rss_mib", False),
]


def _get(d: dict[str, Any], *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict):
            return None
        d = d.get(p)  # type: ignore[assignment]
    return d


def figures_of(name: str, res: dict[str, Any]) -> dict[str, float | None]:
    """The table's figures of one target, from its result."""
    if "error" in res:
        return {key: None for _, key, _ in ROWS}
    if name == "synapse":
        b = res.get("bench", {})
        tp = b.get("throughput", {})
        cpu_ms = None
        if tp.get("accepted"):
            cpu_ms = round(1000 * tp["server_cpu_s"] / tp["accepted"], 2)
        return {
            "a_p50_ms": _get(b, "latency", "delivery_ms", "p50"),
            "a_p99_ms": _get(b, "latency", "delivery_ms", "p99"),
            "b_accepted_per_s": tp.get("accepted_per_s"),
            "b_delivered_per_s": tp.get("delivered_in_window_per_s"),
            "b_delivery_p50_ms": _get(tp, "delivery_ms_under_load", "p50"),
            "b_delivery_p99_ms": _get(tp, "delivery_ms_under_load", "p99"),
            "b_server_cpu_ms_per_msg": cpu_ms,
            "c_all_p50_ms": _get(b, "fanout", "all_receivers_ms", "p50"),
            "c_all_p99_ms": _get(b, "fanout", "all_receivers_ms", "p99"),
            "rss_mib": res.get("server_rss_mib_end"),
        }
    tp = res.get("throughput", {})
    return {
        "a_p50_ms": _get(res, "latency", "delivery_ms", "p50"),
        "a_p99_ms": _get(res, "latency", "delivery_ms", "p99"),
        "b_accepted_per_s": tp.get("accepted_per_s"),
        "b_delivered_per_s": tp.get("delivered_in_window_per_s"),
        "b_delivery_p50_ms": _get(tp, "delivery_ms_under_load", "p50"),
        "b_delivery_p99_ms": _get(tp, "delivery_ms_under_load", "p99"),
        "b_server_cpu_ms_per_msg": tp.get("server_cpu_ms_per_accepted_msg"),
        "c_all_p50_ms": _get(res, "fanout", "all_receivers_ms", "p50"),
        "c_all_p99_ms": _get(res, "fanout", "all_receivers_ms", "p99"),
        "rss_mib": res.get("server_rss_mib_end_total"),
    }


def ratio(kurir: float | None, synapse: float | None, higher_better: bool) -> float | None:
    """How many times better kurir is: kurir/synapse for rates, synapse/kurir otherwise."""
    if not kurir or not synapse:
        return None
    return round(kurir / synapse if higher_better else synapse / kurir, 1)


def checks_of(fig: dict[str, float | None], syn: dict[str, float | None] | None
              ) -> dict[str, dict[str, Any]]:
    """The issue's targets for one kurir target: pass, fail or n/a (never an assertion)."""

    def verdict(value: float | None, ok: Callable[[float], bool]) -> str:
        return "n/a" if value is None else ("pass" if ok(value) else "fail")

    out: dict[str, dict[str, Any]] = {}
    p99 = fig["a_p99_ms"]
    out["a_p99_under_10ms"] = {"value": p99, "result": verdict(p99, lambda v: v < TARGET_A_P99_MS)}
    for key, name in (("b_accepted_per_s", "b_accepted_100x"),
                      ("b_delivered_per_s", "b_delivered_100x")):
        r = ratio(fig[key], syn[key] if syn else None, True)
        out[name] = {"value": r, "result": verdict(r, lambda v: v >= TARGET_B_TIMES)}
    c99 = fig["c_all_p99_ms"]
    out["c_all_p99_under_50ms"] = {"value": c99,
                                   "result": verdict(c99, lambda v: v < TARGET_C_MS)}
    return out


def disturbance_of(res: dict[str, Any]) -> dict[str, Any]:
    """How much other work shared the machine during a target's windows (the figures of a
    disturbed window are suspect: the 2 cores are shared with whatever else runs)."""
    out: dict[str, Any] = {}
    for name, path in (("whole_run", ("cpu_whole_run",)), ("a", ("latency", "cpu")),
                       ("b", ("throughput", "cpu")), ("c", ("fanout", "cpu"))):
        cpu = _get(res, *path)
        if isinstance(cpu, dict) and "other_cpu_pct" in cpu:
            out[name] = cpu["other_cpu_pct"]
    out["disturbed"] = any(v > DISTURBED_PCT for v in out.values())
    return out


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.2f}" if abs(v) < 10 else f"{v:.1f}"


def print_table(figs: dict[str, dict[str, float | None]],
                checks: dict[str, dict[str, dict[str, Any]]],
                disturbance: dict[str, dict[str, Any]]) -> None:
    kurirs = [t for t in figs if t != "synapse"]
    syn = figs.get("synapse")
    head = ["", *[c for t in kurirs for c in ((t, "x Synapse") if syn else (t,))]]
    if syn:
        head.append("synapse")
    lines = [head]
    for label, key, higher in ROWS:
        row = [label]
        for t in kurirs:
            row.append(fmt(figs[t][key]))
            if syn:
                times = ratio(figs[t][key], syn[key], higher)
                row.append("-" if times is None else f"{times:,.1f}x")
        if syn:
            row.append(fmt(syn[key]))
        lines.append(row)
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    log("")
    log("x Synapse: how many times better kurir is (rates: kurir/Synapse;"
        " times and memory: Synapse/kurir)")
    for j, line in enumerate(lines):
        log("  ".join(c.ljust(widths[i]) if i == 0 else c.rjust(widths[i])
                      for i, c in enumerate(line)))
        if j == 0:
            log("  ".join("-" * w for w in widths))
    log("")
    names = {
        "a_p99_under_10ms": f"(a) p99 < {TARGET_A_P99_MS:g} ms",
        "b_accepted_100x": f"(b) accepted/s >= {TARGET_B_TIMES:g}x Synapse",
        "b_delivered_100x": f"(b) delivered/s >= {TARGET_B_TIMES:g}x Synapse",
        "c_all_p99_under_50ms": f"(c) all have it, p99 < {TARGET_C_MS:g} ms",
    }
    for t, cs in checks.items():
        log(f"targets of the issue, {t}:")
        for key, c in cs.items():
            log(f"  {c['result'].upper():4}  {names[key]}  ({fmt(c['value'])})")
    for t, d in disturbance.items():
        shares = ", ".join(f"{k} {v:.0f} %" for k, v in d.items() if k != "disturbed")
        if d["disturbed"]:
            log(f"DISTURBED {t}: other processes used (% of a core) {shares}")
        elif shares:
            log(f"quiet {t}: other processes used (% of a core) {shares}")


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="a short run: (a) 100 msgs, (b) 5 s, (c) 30 members, 3 msgs")
    p.add_argument("--targets", default=",".join(TARGETS))
    p.add_argument("--only", default="a,b,c", help="workloads to run")
    p.add_argument("--lat-msgs", type=int, help="(a) sequential messages (300; quick 100)")
    p.add_argument("--tp-users", type=int, default=20, help="(b) users, in pairs")
    p.add_argument("--tp-secs", type=float, help="(b) seconds (20; quick 5)")
    p.add_argument("--fo-members", type=int, help="(c) group members (100; quick 30)")
    p.add_argument("--fo-msgs", type=int, help="(c) messages (10; quick 3)")
    p.add_argument("--fo-gap", type=float, default=0.2,
                   help="(c) kurir: seconds between messages (Synapse's script pauses 1 s"
                        " for its long-polls to park again)")
    p.add_argument("--synapse-settle", type=float, help="seconds Synapse idles after start"
                   " (5, as run_synapse_bench.sh; quick 2)")
    p.add_argument("--peers-dir", help="where synapse_setup.sh and synapse_bench.py are"
                   " (default: ../shared/bench/peers beside the repository)")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop of this load generator (uvloop when installed)")
    p.add_argument("--broker", default=BROKER_URL,
                   help=f"kurir-pg2's broker ({BROKER_URL}; or nats://127.0.0.1:4222)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the kurir servers")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each target, wait up to S seconds for an idle machine")
    args = p.parse_args(argv)
    args.targets = [t for t in args.targets.split(",") if t]
    for t in args.targets:
        if t not in TARGETS:
            p.error(f"unknown target {t!r} (known: {', '.join(TARGETS)})")
    args.only = [w for w in args.only.split(",") if w]
    for w in args.only:
        if w not in ("a", "b", "c"):
            p.error(f"unknown workload {w!r}")
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    q = args.quick
    args.lat_msgs = args.lat_msgs or (100 if q else 300)
    args.tp_secs = args.tp_secs or (5.0 if q else 20.0)
    args.fo_members = args.fo_members or (30 if q else 100)
    args.fo_msgs = args.fo_msgs or (3 if q else 10)
    if args.synapse_settle is None:
        args.synapse_settle = 2.0 if q else 5.0
    if not (1 <= args.lat_msgs <= 10_000 and 0 < args.tp_secs <= 600
            and 2 <= args.tp_users <= 1000 and args.tp_users % 2 == 0
            and 2 <= args.fo_members <= 200 and 1 <= args.fo_msgs <= 1000
            and 0 <= args.fo_gap <= 10):
        p.error("lat-msgs 1..10000, tp-secs 0..600, tp-users an even 2..1000,"
                " fo-members 2..200 (a basic group), fo-msgs 1..1000, fo-gap 0..10")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if "synapse" in args.targets:
        try:
            peers_dir(args.peers_dir)  # before the kurir targets run, not after
        except FileNotFoundError as e:
            log(f"peers.py: {e}")
            return 2
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    server_env = dict(kv.split("=", 1) for kv in args.server_env)
    result: dict[str, Any] = {
        "benchmark": "peers",
        "machine": machine_info(),
        "params": {
            "quick": args.quick,
            "targets": args.targets,
            "workloads": args.only,
            "latency_messages": args.lat_msgs,
            "latency_warmup_messages_kurir": LATENCY_WARMUP,
            "throughput_users": args.tp_users,
            "throughput_duration_s": args.tp_secs,
            "fanout_members": args.fo_members,
            "fanout_messages": args.fo_msgs,
            "fanout_gap_s_kurir": args.fo_gap,
            "kurir_clients": "harness.RawClient, a socket per user, settled by updates.getState",
            "kurir_pg2_broker_url": args.broker,
            "kurir_broker_setting_present": broker_setting_present(),
            "client_event_loop": client_loop,
            "server_env": args.server_env,
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "targets": {},
    }
    log(f"machine: {result['machine']['cores']} cores, {result['machine']['cpu']};"
        f" load generator on the same machine ({client_loop})")
    if "kurir-pg2" in args.targets and not result["params"]["kurir_broker_setting_present"]:
        log("note: kurir.config has no broker_url yet: kurir-pg2 cannot deliver across"
            " processes")
    exit_code = 0
    for target in args.targets:
        quiet = wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
        if quiet:
            log(f"[{target}] waited {quiet['waited_s']} s for a quiet machine"
                f" (busy {quiet['machine_busy_pct_before']} %)")
        dep: Deployment | None = None
        try:
            if target == "synapse":
                res = run_synapse(args)
            else:
                dep = start_deployment(target, {"KURIR_BROKER_URL": args.broker, **server_env})
                log(f"[{target}] server pid(s) {dep.pids} on"
                    f" {', '.join(n.url for n in dep.nodes)}")
                res = run(cancel_on_signals(run_kurir(dep, args)), client_loop)
            if quiet:
                res["quiet_wait"] = quiet
            result["targets"][target] = res
        except Interrupted as e:
            log(f"[{target}] interrupted by {e}; stopping")
            result["targets"][target] = {"error": f"interrupted by {e}"}
            exit_code = 128 + e.signum
            break
        except (KeyboardInterrupt, SystemExit) as e:  # SIGINT, or SIGTERM (harness._on_term)
            code = e.code if isinstance(e, SystemExit) and isinstance(e.code, int) else 130
            log(f"[{target}] interrupted; stopping")
            result["targets"][target] = {"error": "interrupted"}
            exit_code = code
            break
        except Exception as e:
            exit_code = 1
            log(f"[{target}] FAILED: {type(e).__name__}: {e}")
            log(traceback.format_exc(limit=-4))
            if dep is not None:
                log(dep.cluster.log_tails() if dep.cluster else dep.a.log_tail())
            result["targets"][target] = {"error": f"{type(e).__name__}: {e}"}
        finally:
            with contextlib.suppress(Exception):
                stop_deployment(dep)
    figs = {t: figures_of(t, r) for t, r in result["targets"].items()}
    syn = figs.get("synapse") if "error" not in result["targets"].get("synapse", {}) else None
    checks = {t: checks_of(f, syn) for t, f in figs.items() if t != "synapse"}
    result["table"] = figs
    result["ratios_vs_synapse"] = {
        t: {key: ratio(f[key], syn[key], higher) for _, key, higher in ROWS}
        for t, f in figs.items() if t != "synapse" and syn
    }
    result["checks"] = checks
    result["other_work_on_machine"] = {t: disturbance_of(r)
                                       for t, r in result["targets"].items()}
    if figs:
        print_table(figs, checks, result["other_work_on_machine"])
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    emit(result)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
