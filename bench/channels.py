"""Channel benchmark (issue 3): posting into a big channel, and fanout to online subscribers.

    python bench/channels.py [--quick] [--engines sqlite,postgres]

For each engine it starts its own kurir server on loopback (SQLite in a temporary data
directory; PostgreSQL in a fresh database on 127.0.0.1:5432 that it drops after) and:

 1. Setup. Registers the owner and the subscribers who will be online (`auth.register`,
    they need tokens) and creates two public channels, `small` and `big`; the online ones
    join `big` with `channels.join`, 9 of them join `small` too (10 members with the owner).
    The rest of `big`'s subscribers (100,000 members in all; 20,000 with --quick) are
    created in bulk DIRECTLY IN THE DATABASE, the only direct write of this benchmark:
    rows in users, user_states, usernames and chat_members in one transaction, then
    chats.member_count; `chats.get` must then report the count. The load takes seconds,
    not 100,000 API calls; its time is reported.
 2. Post timing. The owner posts into `small` and `big` alternately, one post at a time
    over a WebSocket (`messages.send {chat_id}`, waiting for the answer): p50/p99 of send ->
    answer in each. A post is meant to cost O(1) whatever the subscriber count, so the two
    must be about the same. The rows each post adds to the per-user log (`user_updates`,
    must be 0) and to the channel's own log (`channel_updates`, must be 1) are counted with
    a read of the database.
 3. Fanout. The online subscribers (1,000; 200 with --quick) open WebSockets (`/api/v1/ws`);
    the owner posts into `big` N times, one after another, each time waiting until every
    subscriber has the pushed `channel_update`. Per post: send start -> first subscriber has
    it, -> the LAST one has it, -> the owner's answer; p50/p99 over the posts. Every
    subscriber must get every post, in pts order without gaps. The server's memory (VmRSS)
    before the sockets open, with them open (and per connection), after the posts and after
    they close; the CPU of the server, of PostgreSQL, of the load generator. When other
    work on the (shared) machine used more than a little CPU during the posts, they are
    made again after a wait for a quiet machine (`--retries`); every attempt is listed.

The load generator is this one process (uvloop when installed), on the same machine and
cores as the server. The online subscribers' sockets use `harness.RawSubscriber`, a minimal
receive-only WebSocket client that cuts frames out of the byte stream in a protocol callback
(no task wake-up per frame): it needs about half the CPU per frame of the `websockets`
client (`--subscriber-client websockets` runs that instead), so the server, not the load
generator, is what saturates during the fanout (the JSON gives both CPU figures; with 2
cores a second load process would only compete with the server). Human-readable progress
goes to stderr; the figures are ONE JSON object on the last line of stdout, with `checks`
per engine (the exit status is 1 when a check fails). Every loop is bounded in count and
time; the servers are stopped by PID, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    CpuWindow,
    KurirServer,
    RawSubscriber,
    User,
    WsClient,
    call_http,
    close_all,
    emit,
    for_each_engine,
    install_cleanup,
    log,
    machine_info,
    now,
    open_all,
    pick_loop,
    proc_cpu_user_sys,
    proc_rss_mib,
    random_id,
    register_users,
    summary_ms,
    text_of,
    wait_until_quiet,
)

SMALL_MEMBERS = 10
POST_WARMUP = 10
FANOUT_WARMUP = 2
POST_TIMEOUT_S = 30.0
DELIVERY_TIMEOUT_S = 60.0
PHASE_TIME_LIMIT_S = 300.0
BULK_BUSY_TIMEOUT_MS = 60_000
SETTLE_S = 1.0


# ---------------------------------------------------------------- 1. setup


async def gather_limited(coros: list[Any], concurrency: int = 8) -> list[Any]:
    sem = asyncio.Semaphore(concurrency)

    async def one(c: Any) -> Any:
        async with sem:
            return await c

    return list(await asyncio.gather(*(one(c) for c in coros)))


def bulk_names(tag: str, n: int) -> list[str]:
    # 'bk<tag>u<i>': a valid username, and a prefix without LIKE wildcards
    return [f"bk{tag}u{i}" for i in range(n)]


def seed_sqlite(db_path: str, chat_id: int, tag: str, n: int) -> dict[str, Any]:
    """n subscribers of `chat_id`, written straight into the server's SQLite file while it
    runs (WAL: readers go on; our one write transaction waits its turn with a busy
    timeout)."""
    created = int(time.time())
    like = f"bk{tag}u%"
    conn = sqlite3.connect(db_path, isolation_level=None, timeout=BULK_BUSY_TIMEOUT_MS / 1000)
    try:
        conn.execute(f"PRAGMA busy_timeout={BULK_BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        t0 = now()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                "INSERT INTO users (username, username_key, display_name, created)"
                " VALUES (?, ?, ?, ?)",
                ((u, u, u, created) for u in bulk_names(tag, n)),
            )
            sel = "FROM users WHERE username_key LIKE ?"
            conn.execute(f"INSERT INTO user_states (user_id, pts) SELECT id, 0 {sel}", (like,))
            conn.execute(f"INSERT INTO usernames (key, user_id) SELECT username_key, id {sel}",
                         (like,))
            conn.execute(
                "INSERT INTO chat_members (chat_id, user_id, role, status, joined)"
                f" SELECT ?, id, 'member', 'member', ? {sel}", (chat_id, created, like),
            )
            conn.execute(
                "UPDATE chats SET member_count = (SELECT count(*) FROM chat_members"
                " WHERE chat_id = ? AND status = 'member') WHERE id = ?", (chat_id, chat_id),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        took = now() - t0
    finally:
        conn.close()
    return {"rows": n, "seconds": round(took, 3),
            "how": "Python sqlite3 on the server's kurir.db (WAL, busy_timeout), one"
                   " transaction: executemany into users, INSERT … SELECT into user_states,"
                   " usernames, chat_members; then chats.member_count"}


def seed_postgres(database_url: str, chat_id: int, tag: str, n: int) -> dict[str, Any]:
    import psycopg

    created = int(time.time())
    like = f"bk{tag}u%"
    with psycopg.connect(database_url) as conn:
        t0 = now()
        with conn.cursor() as cur:
            with cur.copy("COPY users (username, username_key, display_name, created)"
                          " FROM STDIN") as copy:
                for u in bulk_names(tag, n):
                    copy.write_row((u, u, u, created))
            sel = "FROM users WHERE username_key LIKE %s"
            cur.execute(f"INSERT INTO user_states (user_id, pts) SELECT id, 0 {sel}", (like,))
            cur.execute(f"INSERT INTO usernames (key, user_id) SELECT username_key, id {sel}",
                        (like,))
            cur.execute(
                "INSERT INTO chat_members (chat_id, user_id, role, status, joined)"
                f" SELECT %s, id, 'member', 'member', %s {sel}", (chat_id, created, like),
            )
            cur.execute(
                "UPDATE chats SET member_count = (SELECT count(*) FROM chat_members"
                " WHERE chat_id = %s AND status = 'member') WHERE id = %s", (chat_id, chat_id),
            )
        conn.commit()
        took = now() - t0
        conn.execute("ANALYZE users")
        conn.execute("ANALYZE chat_members")
        conn.commit()
    return {"rows": n, "seconds": round(took, 3),
            "how": "psycopg, one transaction: COPY into users, INSERT … SELECT into"
                   " user_states, usernames, chat_members; then chats.member_count"
                   " (ANALYZE after, not timed)"}


def log_rows(srv: KurirServer) -> dict[str, int]:
    """Row counts of the two logs (a direct READ of the database, for the O(1) check)."""
    q = {t: f"SELECT count(*) FROM {t}" for t in ("user_updates", "channel_updates")}
    if srv.engine == "sqlite":
        conn = sqlite3.connect(f"file:{os.path.join(srv.data_dir, 'kurir.db')}?mode=ro",
                               uri=True, timeout=30)
        try:
            return {t: int(conn.execute(sql).fetchone()[0]) for t, sql in q.items()}
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(srv.database_url, autocommit=True) as conn:
        out = {}
        for t, sql in q.items():
            row = conn.execute(sql).fetchone()
            out[t] = int(row[0]) if row else -1
        return out


class Setup:
    def __init__(self) -> None:
        self.owner: User
        self.online: list[User] = []
        self.big: int = 0
        self.small: int = 0
        self.figures: dict[str, Any] = {}


async def setup(srv: KurirServer, http: httpx.AsyncClient, subscribers: int,
                online: int) -> Setup:
    s = Setup()
    tag = secrets.token_hex(3)
    t0 = now()
    (s.owner,) = await register_users(http, 1, "owner")
    s.online = await register_users(http, online, "sub", concurrency=8)
    t_reg = now() - t0
    big = await call_http(http, "channels.create", s.owner.token, title="big channel",
                          broadcast=True, username=f"big_{tag}")
    small = await call_http(http, "channels.create", s.owner.token, title="small channel",
                            broadcast=True, username=f"small_{tag}")
    s.big, s.small = int(big["id"]), int(small["id"])
    t1 = now()
    await gather_limited([call_http(http, "channels.join", u.token, channel_id=s.big)
                          for u in s.online])
    await gather_limited([call_http(http, "channels.join", u.token, channel_id=s.small)
                          for u in s.online[:SMALL_MEMBERS - 1]])
    t_join = now() - t1
    bulk_n = subscribers - 1 - online
    log(f"[{srv.engine}]   {online + 1} users registered in {t_reg:.1f} s, joined in"
        f" {t_join:.1f} s; bulk-loading {bulk_n} subscribers into the database ...")
    if srv.engine == "sqlite":
        bulk = await asyncio.to_thread(seed_sqlite, os.path.join(srv.data_dir, "kurir.db"),
                                       s.big, tag, bulk_n)
    else:
        bulk = await asyncio.to_thread(seed_postgres, srv.database_url, s.big, tag, bulk_n)
    got_big = await call_http(http, "chats.get", s.owner.token, chat_id=s.big)
    got_small = await call_http(http, "chats.get", s.owner.token, chat_id=s.small)
    counts = {"big": got_big.get("member_count"), "small": got_small.get("member_count")}
    if counts != {"big": subscribers, "small": SMALL_MEMBERS}:
        raise RuntimeError(f"member counts after the bulk load: {counts}")
    log(f"[{srv.engine}]   bulk load {bulk['seconds']} s; member counts {counts}")
    s.figures = {
        "registered_via_api": online + 1,
        "register_s": round(t_reg, 2),
        "joined_via_api": online + SMALL_MEMBERS - 1,
        "join_s": round(t_join, 2),
        "bulk_load": bulk,
        "member_count_reported": counts,
    }
    return s


# ---------------------------------------------------------------- 2. post timing


async def bench_posts(srv: KurirServer, s: Setup, n: int) -> dict[str, Any]:
    owner = WsClient(srv.ws_url(s.owner.token), s.owner)
    await owner.open()
    lat: dict[str, list[float]] = {"small": [], "big": []}
    errors: Counter[str] = Counter()
    chats = {"small": s.small, "big": s.big}
    deadline = now() + PHASE_TIME_LIMIT_S
    try:
        for i in range(POST_WARMUP):
            for name, chat_id in chats.items():
                await owner.call("messages.send", POST_TIMEOUT_S, chat_id=chat_id,
                                 text=f"warm {name} {i}", random_id=random_id())
        rows0 = await asyncio.to_thread(log_rows, srv)
        with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
            for i in range(n):
                if now() > deadline:
                    log(f"posts: time limit reached after {i} rounds")
                    break
                # alternate, so that drift (WAL growth, checkpoints) hits both alike
                order = ("small", "big") if i % 2 == 0 else ("big", "small")
                for name in order:
                    t0 = now()
                    msg, t_ack = await owner.request(
                        "messages.send",
                        {"chat_id": chats[name], "text": f"post {name} {i}",
                         "random_id": random_id()},
                        POST_TIMEOUT_S,
                    )
                    if msg.get("ok"):
                        lat[name].append(t_ack - t0)
                    else:
                        errors[msg.get("error", {}).get("type", "?")] += 1
        rows1 = await asyncio.to_thread(log_rows, srv)
    finally:
        await close_all([owner])
    posts = len(lat["small"]) + len(lat["big"])
    small, big = summary_ms(lat["small"]), summary_ms(lat["big"])
    ratio = round(big["p50"] / small["p50"], 2) if lat["small"] and lat["big"] else None
    return {
        "posts_each": n,
        "warmup_posts_each": POST_WARMUP,
        "transport": "WebSocket, one post at a time, send -> answer",
        "small_10_subscribers_ms": small,
        "big_ms": big,
        "p50_ratio_big_over_small": ratio,
        "errors": dict(errors),
        "log_rows_added_per_post": {
            t: round((rows1[t] - rows0[t]) / max(1, posts), 3) for t in rows0
        },
        "server_cpu_ms_per_post": round(1000 * cpu.server / max(1, posts), 3),
        "cpu": cpu.figures(),
    }


# ---------------------------------------------------------------- 3. fanout


class Arrivals:
    """When each subscriber got each post (keyed by the post's text)."""

    def __init__(self, chat_id: int, expected: int) -> None:
        self.chat_id = chat_id
        self.expected = expected
        self.seen: dict[bytes, list[float]] = {}  # text -> [count, first, last]
        self.done: dict[bytes, asyncio.Future[None]] = {}
        self.per_client: Counter[int] = Counter()

    def on_channel_push(self, client: Any, chat_id: int, pts: int, raw: bytes,
                        t: float) -> None:
        if chat_id != self.chat_id:
            return
        text = text_of(raw)
        self.per_client[client.user.id] += 1
        a = self.seen.get(text)
        if a is None:
            self.seen[text] = a = [0, t, t]
        a[0] += 1
        a[2] = max(a[2], t)
        if a[0] >= self.expected:
            fut = self.done.pop(text, None)
            if fut is not None and not fut.done():
                fut.set_result(None)


async def bench_fanout(srv: KurirServer, s: Setup, n_posts: int, subscriber_client: str,
                       retries: int, quiet_wait_s: float,
                       profile: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = {"online_subscribers": len(s.online), "posts": n_posts,
                           "warmup_posts": FANOUT_WARMUP}
    owner = WsClient(srv.ws_url(s.owner.token), s.owner)
    await owner.open()
    arrivals = Arrivals(s.big, len(s.online))
    subs: list[Any]
    if subscriber_client == "raw":
        subs = [RawSubscriber("127.0.0.1", srv.port, u, on_channel_push=arrivals.on_channel_push)
                for u in s.online]
    else:
        subs = [WsClient(srv.ws_url(u.token), u, on_channel_push=arrivals.on_channel_push)
                for u in s.online]
    out["subscriber_client"] = subscriber_client
    loop = asyncio.get_running_loop()
    try:
        await asyncio.sleep(SETTLE_S)
        out["server_rss_mib_before_connect"] = rss0 = proc_rss_mib(srv.pid)
        t0 = now()
        await open_all(subs, concurrency=16)
        out["connect_all_s"] = round(now() - t0, 2)
        await asyncio.sleep(SETTLE_S)
        out["server_rss_mib_connected"] = rss1 = proc_rss_mib(srv.pid)
        out["server_rss_kib_per_connection"] = round((rss1 - rss0) * 1024 / len(subs), 1)
        log(f"[{srv.engine}]   {len(subs)} sockets open in {out['connect_all_s']} s;"
            f" server RSS {rss0} -> {rss1} MiB")
        incomplete = 0
        errors: Counter[str] = Counter()
        deadline = now() + PHASE_TIME_LIMIT_S
        posted = 0

        async def post(i: int) -> tuple[float, float, float, float] | None:
            """One post, waiting for every subscriber: (first, last, answer, spread)."""
            nonlocal incomplete, posted
            text = f"fan{i}"
            key = text.encode()
            fut: asyncio.Future[None] = loop.create_future()
            arrivals.done[key] = fut
            t0 = now()
            msg, t_ack = await owner.request(
                "messages.send", {"chat_id": s.big, "text": text, "random_id": random_id()},
                POST_TIMEOUT_S,
            )
            if not msg.get("ok"):
                errors[msg.get("error", {}).get("type", "?")] += 1
                arrivals.done.pop(key, None)
                return None
            posted += 1
            try:
                await asyncio.wait_for(fut, DELIVERY_TIMEOUT_S)
            except TimeoutError:
                incomplete += 1
                arrivals.done.pop(key, None)
                got = arrivals.seen.get(key, [0])[0]
                log(f"fanout: {text} reached {got}/{len(subs)} in {DELIVERY_TIMEOUT_S} s")
                return None
            _, t_first, t_last = arrivals.seen[key]
            return t_first - t0, t_last - t0, t_ack - t0, t_last - t_first

        async def window(start: int) -> dict[str, Any]:
            """n_posts timed posts (texts fan<start>…), with the CPU over them."""
            first: list[float] = []
            last: list[float] = []
            ack: list[float] = []
            spread: list[float] = []
            user0, sys0 = proc_cpu_user_sys(srv.pid)
            with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
                for i in range(start, start + n_posts):
                    if now() > deadline:
                        log(f"fanout: time limit reached after {i - start} posts")
                        break
                    res = await post(i)
                    if res is not None:
                        for xs, x in zip((first, last, ack, spread), res, strict=True):
                            xs.append(x)
            user1, sys1 = proc_cpu_user_sys(srv.pid)
            deliveries = len(first) * len(subs)
            return {
                "first_delivery_ms": summary_ms(first),
                "last_delivery_ms": summary_ms(last),
                "first_to_last_ms": summary_ms(spread),
                "ack_ms": summary_ms(ack),
                "deliveries_per_s_while_fanning_out":
                    round(deliveries / max(1e-9, sum(last)), 1),
                "server_cpu_us_per_delivery": round(1e6 * cpu.server / max(1, deliveries), 1),
                "server_cpu_ms_per_post": round(1000 * cpu.server / max(1, len(first)), 2),
                # system: the kernel's work in the server's socket writes
                "server_cpu_split_s": {"user": round(user1 - user0, 2),
                                       "system": round(sys1 - sys0, 2)},
                "cpu": cpu.figures(),
            }

        for i in range(FANOUT_WARMUP):
            await post(i)
        attempts: list[dict[str, Any]] = []
        start = FANOUT_WARMUP
        for attempt in range(1 + retries):
            spy = start_profile(profile, srv.pid) if attempt == 0 else None
            fig = await window(start)
            stop_profile(spy)
            start += n_posts
            attempts.append(fig)
            if not fig["cpu"]["disturbed"] or attempt == retries:
                break
            log(f"[{srv.engine}]   other work on the machine used"
                f" {fig['cpu']['other_cpu_pct']} % CPU during the posts: measuring again"
                f" after waiting (at most {quiet_wait_s:.0f} s) for a quiet machine")
            await asyncio.to_thread(wait_until_quiet, quiet_wait_s)
        await asyncio.sleep(SETTLE_S)
        out["server_rss_mib_after_posts"] = proc_rss_mib(srv.pid)
        short = sum(1 for c in subs if arrivals.per_client[c.user.id] != posted - incomplete)
        closed = sum(c.closed_reason is not None for c in subs)
    finally:
        await close_all([*subs, owner])
    await asyncio.sleep(SETTLE_S)
    out["server_rss_mib_after_close"] = proc_rss_mib(srv.pid)
    # the figures of the last attempt (the first undisturbed one, or the last one made)
    out.update(attempts[-1])
    out["attempts"] = [
        {"last_delivery_p50_ms": a["last_delivery_ms"].get("p50"),
         "last_delivery_p99_ms": a["last_delivery_ms"].get("p99"),
         "other_cpu_pct": a["cpu"]["other_cpu_pct"], "disturbed": a["cpu"]["disturbed"]}
        for a in attempts
    ]
    out.update({
        "posts_made": posted,
        "posts_not_fully_delivered": incomplete,
        "errors": dict(errors),
        "subscribers_missing_posts": short,
        "channel_pts_gaps": sum(c.channel_pts_gaps for c in subs),
        "channel_pts_repeats": sum(c.channel_pts_repeats for c in subs),
        "sockets_closed_by_server": closed,
    })
    return out


# ---------------------------------------------------------------- optional profiling


def start_profile(profile: dict[str, Any] | None, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy record of the server during the fanout posts, when --py-spy is given."""
    if not profile:
        return None
    out = os.path.join(profile["dir"], f"{profile['engine']}-fanout.{profile['format']}")
    cmd = [profile["py_spy"], "record", "--pid", str(pid), "-d", str(profile["duration"]),
           "-o", out, "-f", profile["format"], "--threads", "--nonblocking"]
    log(f"  profiling the server into {out}")
    with open(out + ".log", "wb") as err:
        return subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is None:
        return
    spy.send_signal(2)  # py-spy writes what it has on SIGINT
    try:
        spy.wait(20)
    except subprocess.TimeoutExpired:
        spy.terminate()
        spy.wait(10)


# ---------------------------------------------------------------- one engine


async def run_engine(srv: KurirServer, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": srv.settings(), "server_rss_mib_idle": proc_rss_mib(srv.pid)}
    profile = None
    if args.py_spy:
        os.makedirs(args.profile_dir, exist_ok=True)
        profile = {"py_spy": args.py_spy, "dir": args.profile_dir, "engine": srv.engine,
                   "format": args.profile_format, "duration": 120}
    async with httpx.AsyncClient(base_url=srv.url, timeout=60) as http:
        log(f"[{srv.engine}] 1. setup: {args.subscribers} subscribers, {args.online} online ...")
        s = await setup(srv, http, args.subscribers, args.online)
        out["setup"] = s.figures
        out["server_rss_mib_after_setup"] = proc_rss_mib(srv.pid)
    log(f"[{srv.engine}] 2. post timing, {args.posts} posts into each channel ...")
    p = out["post"] = await bench_posts(srv, s, args.posts)
    log(f"[{srv.engine}]   send->answer p50/p99 ms: {SMALL_MEMBERS} subscribers"
        f" {p['small_10_subscribers_ms'].get('p50')}/{p['small_10_subscribers_ms'].get('p99')},"
        f" {args.subscribers} subscribers {p['big_ms'].get('p50')}/{p['big_ms'].get('p99')};"
        f" log rows per post {p['log_rows_added_per_post']}")
    log(f"[{srv.engine}] 3. fanout: {args.online} sockets, {args.fanout_posts} posts ...")
    f = out["fanout"] = await bench_fanout(srv, s, args.fanout_posts, args.subscriber_client,
                                             args.retries, args.retry_wait, profile)
    log(f"[{srv.engine}]   last delivery p50/p99 {f['last_delivery_ms'].get('p50')}/"
        f"{f['last_delivery_ms'].get('p99')} ms, first {f['first_delivery_ms'].get('p50')} ms,"
        f" ack {f['ack_ms'].get('p50')} ms; server {f['cpu']['server_cpu_pct']} % CPU,"
        f" client {f['cpu']['client_cpu_pct']} %; {f['server_rss_kib_per_connection']} KiB"
        f" per connection")
    out["server_rss_mib"] = proc_rss_mib(srv.pid)
    ratio = p["p50_ratio_big_over_small"]
    out["checks"] = {
        # "about the same": the medians within a factor of 1.5 of each other
        "post_time_independent_of_subscribers": ratio is not None and 2 / 3 <= ratio <= 1.5,
        "post_adds_one_channel_log_row_and_no_user_log_row":
            p["log_rows_added_per_post"] == {"user_updates": 0.0, "channel_updates": 1.0},
        "every_subscriber_got_every_post_in_pts_order":
            f["posts_not_fully_delivered"] == 0 and f["subscribers_missing_posts"] == 0
            and f["channel_pts_gaps"] == 0 and f["channel_pts_repeats"] == 0
            and f["sockets_closed_by_server"] == 0 and not f["errors"],
    }
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--subscribers", type=int, help="members of the big channel (100000;"
                   " quick 20000)")
    p.add_argument("--online", type=int, help="subscribers on a WebSocket (1000; quick 200)")
    p.add_argument("--posts", type=int, help="timed posts into each channel (500; quick 200)")
    p.add_argument("--fanout-posts", type=int, help="posts to the online (100; quick 50)")
    p.add_argument("--subscriber-client", choices=["raw", "websockets"], default="raw",
                   help="the online subscribers' sockets: a minimal receive-only client"
                   " (default) or the websockets library's")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop of this load generator (uvloop when installed)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the server")
    p.add_argument("--py-spy", help="path to py-spy: profile the server during the fanout")
    p.add_argument("--profile-dir", default="/tmp/kurir-bench-profiles")
    p.add_argument("--profile-format", default="flamegraph",
                   choices=["flamegraph", "speedscope", "raw"])
    p.add_argument("--retries", type=int, metavar="N",
                   help="measure the fanout again, up to N times, when other work on the"
                   " machine disturbed it (2; quick 0)")
    p.add_argument("--retry-wait", type=float, default=60.0, metavar="S",
                   help="before a retry, wait up to S seconds for a quiet machine")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each engine, wait up to S seconds for an idle machine")
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r}")
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    q = args.quick
    if args.subscribers is None:
        args.subscribers = 20_000 if q else 100_000
    if args.online is None:
        args.online = min(200 if q else 1000, args.subscribers - 1)
    if args.posts is None:
        args.posts = 200 if q else 500
    if args.retries is None:
        args.retries = 0 if q else 2
    if args.fanout_posts is None:
        args.fanout_posts = 50 if q else 100
    if not (SMALL_MEMBERS <= args.online < args.subscribers <= 10_000_000
            and 1 <= args.posts <= 100_000 and 1 <= args.fanout_posts <= 10_000
            and args.online <= 5000 and 0 <= args.retries <= 10
            and 0 <= args.retry_wait <= 600):
        p.error(f"want {SMALL_MEMBERS} <= online (<= 5000) < subscribers <= 10000000,"
                " posts 1..100000, fanout-posts 1..10000, retries 0..10, retry-wait 0..600")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    machine = machine_info()
    machine["load_generator"] = (
        f"same machine and cores as the server: this one Python process ({client_loop}) holds"
        f" every socket; the online subscribers' with the {args.subscriber_client}"
        " receive-only client" if args.subscriber_client == "raw" else
        f"same machine and cores as the server: this one Python process ({client_loop}) holds"
        " every socket (websockets library clients)"
    )
    result: dict[str, Any] = {
        "benchmark": "channels",
        "machine": machine,
        "params": {
            "quick": args.quick,
            "subscribers_big": args.subscribers,
            "subscribers_small": SMALL_MEMBERS,
            "online_subscribers": args.online,
            "posts_each": args.posts,
            "fanout_posts": args.fanout_posts,
            "client_event_loop": client_loop,
            "server_env": args.server_env,
            "note": (
                "quick mode: fewer subscribers and sockets than the issue's 100,000 and 1,000"
                if args.quick else "the issue's figures: 100,000 subscribers, 1,000 online"
            ),
            "direct_db_write": (
                "only the bulk load of the big channel's subscribers (users, user_states,"
                " usernames, chat_members, chats.member_count); everything else goes through"
                " the API. The log row counts are read directly."
            ),
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log(f"machine: {machine['cores']} cores, {machine['cpu']}; {machine['load_generator']}")
    async def timed(srv: KurirServer) -> dict[str, Any]:
        t0 = now()
        figures: dict[str, Any] = await run_engine(srv, args)
        figures["engine_wall_s"] = round(now() - t0, 1)
        return figures

    def report(engine: str, figures: dict[str, Any]) -> bool:
        log(f"[{engine}] checks: {figures['checks']}")
        return all(figures["checks"].values())

    exit_code = for_each_engine(args.engines, result, client_loop, args.wait_quiet,
                                dict(kv.split("=", 1) for kv in args.server_env), timed, report)
    emit(result)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
