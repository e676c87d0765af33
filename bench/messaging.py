"""Messaging benchmark: 1:1 delivery latency and send throughput over WebSocket.

    python bench/messaging.py [--quick] [--engines sqlite,postgres]

For each engine it starts its own kurir server on loopback (SQLite in a temporary data
directory; PostgreSQL in a fresh database on 127.0.0.1:5432 that it drops after) and
measures, with every client on a WebSocket (`/api/v1/ws`):

 (a) latency: a sender sends N messages one after another with `messages.send {user_id}`,
     each waiting until the receiver's socket has the pushed `new_message` update (and the
     sender has its ack) before the next: send start -> receiver has it, and send start ->
     ack. p50/p90/p99/max/mean in ms.
 (b) throughput, closed loop (each sender waits for its ack before its next send), for a
     fixed time: `pairs` — S senders, each its own user and socket, into private chats
     with S receivers; `group` — S members of ONE group all sending into it. Accepted
     messages/s (acked within the window) and delivered new_message updates/s counted at
     the receiving sockets (the others in the chat; the sender's own copy is counted apart),
     plus delivery latency under load, pts gaps seen, and the CPU of the server (per accepted
     message), of PostgreSQL, of this load generator and of the whole machine.

Also recorded: the server's RSS (VmRSS) idle, after (a) and at the end; the machine; the
engine's settings. Human-readable progress goes to stderr; the figures are ONE JSON object
on the last line of stdout. Every loop is bounded in count and time; the servers are
stopped by PID, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    ClosedLoop,
    CpuWindow,
    KurirServer,
    Tally,
    User,
    WsClient,
    call_http,
    close_all,
    emit,
    for_each_engine,
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
    summary_ms,
    text_of,
)

LATENCY_WARMUP = 10
LATENCY_TIME_LIMIT_S = 120.0
MESSAGE_TIMEOUT_S = 10.0
DRAIN_LIMIT_S = 15.0
MAX_SENDS_PER_SENDER = 1_000_000



# ---------------------------------------------------------------- (a) latency


async def bench_latency(srv: KurirServer, http: httpx.AsyncClient, n: int,
                        compression: str | None) -> dict[str, Any]:
    a, b = await register_users(http, 2, "lat")
    waiting: dict[bytes, asyncio.Future[float]] = {}

    def on_push(client: WsClient, raw: bytes, t: float) -> None:
        if is_new_message(raw):
            fut = waiting.pop(text_of(raw), None)
            if fut is not None and not fut.done():
                fut.set_result(t)

    sender = WsClient(srv.ws_url(a.token), a, compression=compression)
    receiver = WsClient(srv.ws_url(b.token), b, on_push=on_push, compression=compression)
    await open_all([sender, receiver])
    delivery: list[float] = []
    ack: list[float] = []
    delivered_before_ack = 0
    lost = 0
    errors: Counter[str] = Counter()
    deadline = now() + LATENCY_TIME_LIMIT_S
    loop = asyncio.get_running_loop()
    try:
        with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
            for i in range(LATENCY_WARMUP + n):
                if now() > deadline:
                    log(f"latency: time limit reached after {i} messages")
                    break
                text = f"lat{i}"
                fut: asyncio.Future[float] = loop.create_future()
                waiting[text.encode()] = fut
                t0 = now()
                msg, t_ack = await sender.request(
                    "messages.send",
                    {"user_id": b.id, "text": text, "random_id": random_id()},
                    MESSAGE_TIMEOUT_S,
                )
                if not msg.get("ok"):
                    errors[msg.get("error", {}).get("type", "?")] += 1
                    waiting.pop(text.encode(), None)
                    continue
                try:
                    t_del = await asyncio.wait_for(fut, MESSAGE_TIMEOUT_S)
                except TimeoutError:
                    lost += 1
                    waiting.pop(text.encode(), None)
                    log(f"latency: {text} not delivered within {MESSAGE_TIMEOUT_S} s")
                    continue
                if i < LATENCY_WARMUP:
                    continue  # the first sends make the private chat and warm the caches
                delivery.append(t_del - t0)
                ack.append(t_ack - t0)
                delivered_before_ack += t_del < t_ack
    finally:
        await close_all([sender, receiver])
    return {
        "messages": len(delivery),
        "warmup_messages": LATENCY_WARMUP,
        "delivery_ms": summary_ms(delivery),
        "ack_ms": summary_ms(ack),
        "delivered_before_ack": delivered_before_ack,
        "not_delivered": lost,
        "errors": dict(errors),
        "receiver_pts_gaps": receiver.pts_gaps,
        "server_cpu_ms_per_msg": round(
            1000 * cpu.server / max(1, len(delivery) + LATENCY_WARMUP), 3
        ),
        "cpu": cpu.figures(),
    }


# ---------------------------------------------------------------- (b) throughput


async def bench_throughput(srv: KurirServer, http: httpx.AsyncClient, variant: str,
                           senders_n: int, duration: float, compression: str | None,
                           profile: dict[str, Any] | None) -> dict[str, Any]:
    tally = Tally()
    if variant == "pairs":
        senders = await register_users(http, senders_n, "tps")
        receivers = await register_users(http, senders_n, "tpr")
        target: dict[int, dict[str, int]] = {
            s.id: {"user_id": r.id} for s, r in zip(senders, receivers, strict=True)
        }
        others_per_message = 1
        users: list[User] = senders + receivers
    else:
        senders = await register_users(http, senders_n, "grp")
        group = await call_http(http, "chats.createGroup", senders[0].token,
                                title="bench group", user_ids=[u.id for u in senders[1:]])
        target = {s.id: {"chat_id": int(group["id"])} for s in senders}
        others_per_message = senders_n - 1
        users = senders
    clients = {u.id: WsClient(srv.ws_url(u.token), u, on_push=tally.on_push,
                              compression=compression) for u in users}
    await open_all(list(clients.values()))
    sender_clients = [clients[s.id] for s in senders]
    loop = ClosedLoop()

    async def send_one(c: WsClient, text: str) -> tuple[bool, float]:
        t0 = now()
        tally.sent_at[text.encode()] = (t0, c.user.id)
        params = {**target[c.user.id], "text": text, "random_id": random_id()}
        msg, t_ack = await c.request("messages.send", params, MESSAGE_TIMEOUT_S)
        if msg.get("ok"):
            return True, t_ack - t0
        err = msg.get("error", {})
        loop.errors[err.get("type", "?")] += 1
        if err.get("type") == "FLOOD_WAIT":
            await asyncio.sleep(min(1.0, float(err.get("retry_after", 1))))
        return False, t_ack - t0

    try:
        # warm-up, not counted: one message from each sender (makes the private chats)
        await asyncio.gather(*(send_one(c, f"w{k}") for k, c in enumerate(sender_clients)))
        await asyncio.sleep(0.5)
        tally.sent_at.clear()
        loop.reset()
        tally.counting = True
        spy = start_profile(profile, srv.pid, variant, duration)
        with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
            t_start = now()
            t_stop = t_start + duration
            tally.t_stop = t_stop
            await asyncio.gather(*(loop.sender(c, send_one, lambda i, k=k: f"s{k}.{i}",
                                               t_stop, MAX_SENDS_PER_SENDER)
                                   for k, c in enumerate(sender_clients)))
        stop_profile(spy)
        sent = loop.accepted * others_per_message
        drain_end = now() + DRAIN_LIMIT_S
        while tally.delivered < sent and now() < drain_end:
            await asyncio.sleep(0.05)
        drained_s = now() - cpu.t0 - cpu.wall
        rss = proc_rss_mib(srv.pid)
        closed = sum(c.closed_reason is not None for c in clients.values())
    finally:
        await close_all(list(clients.values()))
    gaps = sum(c.pts_gaps for c in clients.values())
    repeats = sum(c.pts_repeats for c in clients.values())
    figures = cpu.figures()
    return {
        "variant": variant,
        "senders": senders_n,
        "sockets": len(clients),
        "recipients_per_message": others_per_message,
        "duration_s": duration,
        "accepted": loop.in_window,
        "accepted_per_s": round(loop.in_window / duration, 1),
        "delivered_updates_per_s": round(tally.delivered_in_window / duration, 1),
        # the sender's own socket gets each of its messages too (as a new_message update)
        "own_copies_total": tally.own_copies,
        "delivered_total": tally.delivered,
        "expected_deliveries": sent,
        "drain_s": round(max(0.0, drained_s), 2),
        "ack_ms": summary_ms(loop.ack),
        "delivery_ms_under_load": summary_ms(tally.latency),
        "errors": dict(loop.errors),
        "pts_gaps": gaps,
        "pts_repeats": repeats,
        "sockets_closed_by_server": closed,
        "server_cpu_ms_per_accepted_msg": round(1000 * cpu.server / max(1, loop.accepted), 3),
        "cpu": figures,
        "server_rss_mib_after": rss,
    }


# ---------------------------------------------------------------- optional profiling


def start_profile(profile: dict[str, Any] | None, pid: int, variant: str,
                  duration: float) -> subprocess.Popen[bytes] | None:
    """py-spy record of the server during a throughput window, when --py-spy is given."""
    if not profile:
        return None
    out = os.path.join(profile["dir"], f"{profile['engine']}-{variant}.{profile['format']}")
    cmd = [profile["py_spy"], "record", "--pid", str(pid), "-d", str(int(duration) + 1),
           "-o", out, "-f", profile["format"]]
    if profile.get("threads"):
        cmd.append("--threads")
    # --native pauses the process to read native stacks; without it, sample non-blocking
    cmd.append("--native" if profile.get("native") else "--nonblocking")
    log(f"  profiling the server into {out}")
    with open(out + ".log", "wb") as err:
        return subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None:
        return
    try:
        spy.wait(15)
    except subprocess.TimeoutExpired:
        spy.terminate()
        spy.wait(10)


# ---------------------------------------------------------------- one engine


async def run_engine(srv: KurirServer, args: argparse.Namespace) -> dict[str, Any]:
    compression = "deflate" if args.ws_compression else None
    out: dict[str, Any] = {"settings": srv.settings(), "server_rss_mib_idle": proc_rss_mib(srv.pid)}
    profile = None
    if args.py_spy:
        os.makedirs(args.profile_dir, exist_ok=True)
        profile = {"py_spy": args.py_spy, "dir": args.profile_dir, "engine": srv.engine,
                   "format": args.profile_format, "threads": True,
                   "native": args.profile_native}
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        log(f"[{srv.engine}] (a) latency, {args.latency_n} sequential messages ...")
        out["latency_ms"] = await bench_latency(srv, http, args.latency_n, compression)
        out["server_rss_mib_after_latency"] = proc_rss_mib(srv.pid)
        lat = out["latency_ms"]
        log(f"[{srv.engine}]   delivery p50 {lat['delivery_ms'].get('p50')} ms"
            f" p99 {lat['delivery_ms'].get('p99')} ms; ack p50 {lat['ack_ms'].get('p50')} ms")
        out["throughput"] = {}
        for variant in args.variants:
            log(f"[{srv.engine}] (b) throughput, {variant}: {args.senders} senders,"
                f" {args.duration} s ...")
            res = await bench_throughput(srv, http, variant, args.senders, args.duration,
                                         compression, profile)
            out["throughput"][variant] = res
            log(f"[{srv.engine}]   {res['accepted_per_s']} accepted/s,"
                f" {res['delivered_updates_per_s']} delivered updates/s,"
                f" {res['server_cpu_ms_per_accepted_msg']} ms server CPU per message,"
                f" server {res['cpu']['server_cpu_pct']} % CPU,"
                f" client {res['cpu']['client_cpu_pct']} %")
    out["server_rss_mib"] = proc_rss_mib(srv.pid)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--variants", default="pairs,group", help="throughput variants")
    p.add_argument("--latency-n", type=int, help="sequential messages (300; quick 100)")
    p.add_argument("--duration", type=float, help="throughput seconds (20; quick 5)")
    p.add_argument("--senders", type=int, default=50)
    p.add_argument("--ws-compression", action="store_true",
                   help="offer permessage-deflate (default: no compression)")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop of this load generator (uvloop when installed)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the server, e.g. KURIR_DB_POOL_SIZE=16")
    p.add_argument("--py-spy", help="path to py-spy: profile the server in each window")
    p.add_argument("--profile-dir", default="/tmp/kurir-bench-profiles")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each engine, wait up to S seconds for an idle machine")
    p.add_argument("--profile-format", default="flamegraph",
                   choices=["flamegraph", "speedscope", "raw"])
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    args.variants = [v for v in args.variants.split(",") if v]
    for v in args.variants:
        if v not in ("pairs", "group"):
            p.error(f"unknown variant {v!r}")
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r}")
    if args.latency_n is None:
        args.latency_n = 100 if args.quick else 300
    if args.duration is None:
        args.duration = 5.0 if args.quick else 20.0
    if not (1 <= args.latency_n <= 100_000 and 0 < args.duration <= 600
            and 2 <= args.senders <= 1000):
        p.error("latency-n 1..100000, duration 0..600 s, senders 2..1000")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    result: dict[str, Any] = {
        "benchmark": "messaging",
        "machine": machine_info(),
        "params": {
            "quick": args.quick,
            "latency_messages": args.latency_n,
            "throughput_senders": args.senders,
            "throughput_duration_s": args.duration,
            "variants": args.variants,
            "ws_compression": bool(args.ws_compression),
            "client_event_loop": client_loop,
            "server_env": args.server_env,
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log(f"machine: {result['machine']['cores']} cores, {result['machine']['cpu']};"
        f" load generator on the same machine ({client_loop})")
    def report(engine: str, figures: dict[str, Any]) -> None:
        log(f"[{engine}] settings: {figures['settings']}")
        log(f"[{engine}] server RSS at the end: {figures['server_rss_mib']} MiB")

    exit_code = for_each_engine(args.engines, result, client_loop, args.wait_quiet,
                                dict(kv.split("=", 1) for kv in args.server_env),
                                lambda srv: run_engine(srv, args), report)
    emit(result)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
