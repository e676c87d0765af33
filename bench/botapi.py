"""Bot API benchmark: how many updates one bot receives by long polling, and how many
messages it can send, through the Telegram Bot API kurir serves at `/bot<token>/<method>`.

    python bench/botapi.py [--quick] [--engines sqlite,postgres]

For each engine it starts its own kurir server on loopback (SQLite in a temporary data
directory; PostgreSQL in a fresh database on 127.0.0.1:5432 that it drops after), makes
one bot with the client API (`bots.create`) and 50 users, each on a WebSocket, who each
write to the bot once (a bot may only answer people who wrote to it first), and measures:

 (a) receiving: the bot long-polls in a raw httpx loop (`getUpdates` with
     offset = last update_id + 1, timeout 10, limit 100) while the 50 users write to it
     concurrently with `messages.send {user_id: bot}` (closed loop: each user waits for its
     ack before the next) for a fixed time. Sent msg/s, received updates/s, the delivery
     latency from a send's ack to the bot's receiving that update (the message's text
     names it), and a check that every acknowledged message reached the bot exactly once
     and that the update_ids only grow.
 (b) sending: C concurrent callers (16 in flight) make `sendMessage` calls from the bot to
     the 50 users' private chats for a fixed time, each on its own keep-alive connection of
     a hand-written HTTP/1.1 client (httpx's CPU per request would be the limit otherwise;
     `--send-client httpx` to compare). Calls/s, call latency p50/p99, and a check that each
     message reached its user's socket.
 (c) (a) again through python-telegram-bot's Application (its own getUpdates loop and
     handler dispatch), when that library is installed; skipped otherwise.

Telegram's flood limits for bots (about 30 messages/s per bot, one per second in a private
chat) are lifted on the benchmark's server to measure capacity; the output says so. Also
recorded: the CPU of the server, of PostgreSQL, of this load generator and of the machine
over each window, and the server's RSS. Human-readable progress goes to stderr; the figures
are ONE JSON object on the last line of stdout. Every loop is bounded in count and time; the
servers are stopped by PID, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import sys
import time
from collections import Counter
from typing import Any

import httpx
import msgspec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    CpuWindow,
    KurirServer,
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
    proc_rss_mib,
    random_id,
    register_users,
    summary_ms,
    text_of,
)

# Telegram's limits, lifted: the benchmark measures what the server can do, not the policy.
FLOOD_ENV = {
    "KURIR_BOT_MESSAGES_PER_SECOND": "1000000",
    "KURIR_BOT_PRIVATE_MESSAGES_PER_SECOND": "1000000",
    "KURIR_BOT_PRIVATE_BURST": "1000000",
}
FLOOD_NOTE = ("Telegram's real bot limits (about 30 messages/s per bot, 1 message/s per private"
              " chat) are lifted to 1,000,000/s on this server to measure capacity")

POLL_TIMEOUT_S = 10  # getUpdates' long-poll timeout
POLL_LIMIT = 100
HTTP_TIMEOUT_S = POLL_TIMEOUT_S + 20.0
MESSAGE_TIMEOUT_S = 10.0
DRAIN_LIMIT_S = 20.0
MAX_POLLS = 1_000_000
MAX_SENDS_PER_SENDER = 1_000_000
MAX_CALLS_PER_CALLER = 1_000_000
NEW_MESSAGE = b'"type":"new_message"'

_decode = msgspec.json.decode
_encode = msgspec.json.encode


class BotAccount:
    def __init__(self, user_id: int, username: str, token: str) -> None:
        self.id = user_id
        self.username = username
        self.token = token


async def make_bot(http: httpx.AsyncClient, owner: User) -> BotAccount:
    made = await call_http(http, "bots.create", owner.token,
                           username=f"{owner.username}_bench_bot", display_name="Bench Bot")
    return BotAccount(int(made["bot"]["id"]), str(made["bot"]["username"]), str(made["token"]))


# ---------------------------------------------------------------- the bot's receiving side


class Inbox:
    """What the bot was sent (acks, by text) and what it received (by text), for the
    latency and exactly-once checks of (a) and (c)."""

    def __init__(self) -> None:
        self.last_update_id = 0
        self.reset()

    def reset(self) -> None:
        """Forget the warm-up: count from here (the update_id order check goes on)."""
        self.started: dict[str, float] = {}  # text -> when its send began
        self.acked: dict[str, float] = {}  # text -> when its ack arrived
        self.received: dict[str, float] = {}  # text -> when the bot first had it
        self.duplicates = 0
        self.unexpected = 0  # texts the bot got that no counted send had
        self.counting = False
        self.t_stop = float("inf")
        self.received_in_window = 0
        self.update_ids_not_increasing = 0
        self.polls = 0
        self.empty_polls = 0
        self.poll_s: list[float] = []  # round trips of the polls that brought updates
        self.poll_errors: Counter[str] = Counter()

    def note_update(self, update_id: int, text: str, t: float) -> None:
        if update_id <= self.last_update_id:
            self.update_ids_not_increasing += 1
        self.last_update_id = max(self.last_update_id, update_id)
        if not self.counting:
            return
        if text in self.received:
            self.duplicates += 1
            return
        if text not in self.started:
            self.unexpected += 1
            return
        self.received[text] = t
        if t <= self.t_stop:
            self.received_in_window += 1

    def all_in(self) -> bool:
        return len(self.received) >= len(self.acked) and all(k in self.received
                                                               for k in self.acked)

    def figures(self, duration: float) -> dict[str, Any]:
        from_ack: list[float] = []
        from_send: list[float] = []
        before_ack = 0
        for text, t_ack in self.acked.items():
            t_recv = self.received.get(text)
            if t_recv is None:
                continue
            before_ack += t_recv < t_ack  # the poll's answer was read before the send's ack
            from_ack.append(max(0.0, t_recv - t_ack))
            from_send.append(t_recv - self.started[text])
        missing = sum(text not in self.received for text in self.acked)
        return {
            "received_updates_per_s": round(self.received_in_window / duration, 1),
            "received_in_window": self.received_in_window,
            "received_total": len(self.received),
            "delivery_ms_from_ack": summary_ms(from_ack),
            "delivery_ms_from_send_start": summary_ms(from_send),
            "received_before_ack": before_ack,
            "exactly_once": missing == 0 and self.duplicates == 0 and self.unexpected == 0
            and self.update_ids_not_increasing == 0,
            "missing": missing,
            "duplicates": self.duplicates,
            "unexpected": self.unexpected,
            "update_ids_not_increasing": self.update_ids_not_increasing,
            "polls": self.polls,
            "empty_polls": self.empty_polls,
            "updates_per_poll_mean": round(
                (len(self.received) + self.duplicates) / max(1, self.polls - self.empty_polls), 1),
            # a poll that found nothing queued waits for the next update: included
            "poll_round_trip_ms": summary_ms(self.poll_s),
            "poll_errors": dict(self.poll_errors),
        }


async def poll_loop(http: httpx.AsyncClient, bot: BotAccount, inbox: Inbox) -> None:
    """The bot: getUpdates with offset = last update_id + 1, until cancelled (bounded)."""
    offset = 0
    url = f"/bot{bot.token}/getUpdates"
    for _ in range(MAX_POLLS):
        t0 = now()
        try:
            r = await http.post(url, json={"offset": offset, "limit": POLL_LIMIT,
                                           "timeout": POLL_TIMEOUT_S})
        except httpx.HTTPError as e:
            inbox.poll_errors[type(e).__name__] += 1
            await asyncio.sleep(0.1)
            continue
        t = now()
        inbox.polls += 1
        body = _decode(r.content)
        if not body.get("ok"):
            inbox.poll_errors[str(body.get("error_code", r.status_code))] += 1
            await asyncio.sleep(0.1)
            continue
        result = body["result"]
        if not result:
            inbox.empty_polls += 1
        elif inbox.counting:
            inbox.poll_s.append(t - t0)
        for u in result:
            msg = u.get("message") or {}
            inbox.note_update(int(u["update_id"]), str(msg.get("text", "")), t)
            offset = int(u["update_id"]) + 1


# ---------------------------------------------------------------- the users' sending side


class Senders:
    """The 50 users writing to the bot, each waiting for its ack before its next send."""

    def __init__(self, clients: list[WsClient], bot: BotAccount, inbox: Inbox) -> None:
        self.clients = clients
        self.bot = bot
        self.inbox = inbox
        self.reset()

    def reset(self) -> None:
        self.accepted_in_window = 0
        self.ack: list[float] = []
        self.errors: Counter[str] = Counter()

    async def send_one(self, c: WsClient, text: str) -> bool:
        t0 = now()
        self.inbox.started[text] = t0
        msg, t_ack = await c.request(
            "messages.send", {"user_id": self.bot.id, "text": text, "random_id": random_id()},
            MESSAGE_TIMEOUT_S)
        if msg.get("ok"):
            self.inbox.acked[text] = t_ack
            self.ack.append(t_ack - t0)
            return True
        err = msg.get("error", {})
        self.errors[err.get("type", "?")] += 1
        if err.get("type") == "FLOOD_WAIT":
            await asyncio.sleep(min(1.0, float(err.get("retry_after", 1))))
        return False

    async def loop(self, k: int, c: WsClient, t_stop: float, tag: str) -> None:
        for i in range(MAX_SENDS_PER_SENDER):
            if now() >= t_stop:
                return
            try:
                ok = await self.send_one(c, f"{tag}{k}.{i}")
            except (TimeoutError, ConnectionError) as e:
                self.errors[type(e).__name__] += 1
                if c.closed_reason is not None:
                    return
                continue
            if ok and now() <= t_stop:
                self.accepted_in_window += 1

    async def run(self, duration: float, tag: str) -> float:
        """Send for `duration` seconds; return the end of the window."""
        t_stop = now() + duration
        self.inbox.t_stop = t_stop
        await asyncio.gather(*(self.loop(k, c, t_stop, tag) for k, c in enumerate(self.clients)))
        return t_stop


async def drain(inbox: Inbox) -> float:
    """Wait (bounded) until the bot has every acknowledged message; return how long."""
    t0 = now()
    while not inbox.all_in() and now() - t0 < DRAIN_LIMIT_S:
        await asyncio.sleep(0.02)
    return now() - t0


async def stop_task(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# ---------------------------------------------------------------- (a) receive by long polling


async def bench_receive(srv: KurirServer, bot: BotAccount, clients: list[WsClient],
                        duration: float) -> dict[str, Any]:
    inbox = Inbox()
    senders = Senders(clients, bot, inbox)
    limits = httpx.Limits(max_connections=2, max_keepalive_connections=2)
    async with httpx.AsyncClient(base_url=srv.url, timeout=HTTP_TIMEOUT_S,
                                 limits=limits) as http:
        poller = asyncio.create_task(poll_loop(http, bot, inbox))
        try:
            # warm-up, not counted: one round of sends, and the bot confirms it
            inbox.counting = True
            await asyncio.gather(*(senders.send_one(c, f"w{k}") for k, c in enumerate(clients)))
            await drain(inbox)
            warm_missing = sum(t not in inbox.received for t in inbox.acked)
            inbox.reset()
            senders.reset()
            inbox.counting = True
            with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
                await senders.run(duration, "a")
            drain_s = await drain(inbox)
        finally:
            await stop_task(poller)
    got = inbox.figures(duration)
    return {
        "users": len(clients),
        "duration_s": duration,
        "sent_msgs_per_s": round(senders.accepted_in_window / duration, 1),
        "sent_in_window": senders.accepted_in_window,
        "sent_total": len(inbox.acked),
        **got,
        "ack_ms": summary_ms(senders.ack),
        "send_errors": dict(senders.errors),
        "drain_s": round(drain_s, 2),
        "warmup_missing": warm_missing,
        "server_cpu_ms_per_msg": round(1000 * cpu.server / max(1, len(inbox.acked)), 3),
        "cpu": cpu.figures(),
        "server_rss_mib_after": proc_rss_mib(srv.pid),
    }


# ---------------------------------------------------------------- (b) sendMessage


class UserInboxes:
    """The users' sockets: which of the bot's messages (by text) reached them."""

    def __init__(self) -> None:
        self.expect: dict[bytes, int] = {}  # text -> the user it was sent to
        self.delivered = 0
        self.wrong_user = 0
        self.duplicates = 0
        self.seen: set[bytes] = set()

    def on_push(self, client: WsClient, raw: bytes, t: float) -> None:
        if raw.find(NEW_MESSAGE, 0, 80) < 0:
            return
        text = text_of(raw)
        to = self.expect.get(text)
        if to is None:
            return
        if text in self.seen:
            self.duplicates += 1
            return
        self.seen.add(text)
        self.delivered += 1
        if to != client.user.id:
            self.wrong_user += 1


class RawHttp:
    """One HTTP/1.1 keep-alive connection, one request at a time, written by hand.

    httpx spends about a millisecond of CPU on each request; on a 2-core machine that
    shares its cores with the server, that makes the load generator what (b) measures.
    This writes the request in one go and reads the status and a Content-Length body
    (which is how kurir's Starlette responses come), nothing more.
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(b"POST %s HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json"
                          b"\r\nContent-Length: %d\r\n\r\n%s"
                          % (path.encode(), self.host.encode(), self.port, len(body), body))
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = -1
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length < 0:
            await self.close()
            raise ConnectionError("a response without Content-Length")
        return status, await self.reader.readexactly(length)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
            self.writer = None


class HttpxConn:
    """The same interface over a shared httpx client (--send-client httpx, to compare)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        r = await self.http.post(path, content=body,
                                 headers={"Content-Type": "application/json"})
        return r.status_code, r.content

    async def close(self) -> None:
        pass


async def bench_send(srv: KurirServer, bot: BotAccount, users: list[User],
                     inboxes: UserInboxes, callers: int, duration: float,
                     client: str) -> dict[str, Any]:
    path = f"/bot{bot.token}/sendMessage"
    seq = itertools.count()
    latency: list[float] = []
    errors: Counter[str] = Counter()
    ok_in_window = 0
    ok_total = 0

    async def one(conn: RawHttp | HttpxConn) -> tuple[bool, float]:
        j = next(seq)
        user = users[j % len(users)]
        text = f"b{j}"
        inboxes.expect[text.encode()] = user.id
        t0 = now()
        status, raw = await conn.post(path, _encode({"chat_id": user.id, "text": text}))
        dt = now() - t0
        body = _decode(raw)
        if body.get("ok"):
            return True, dt
        errors[str(body.get("error_code", status))] += 1
        inboxes.expect.pop(text.encode(), None)
        retry = (body.get("parameters") or {}).get("retry_after")
        if retry is not None:
            await asyncio.sleep(min(1.0, float(retry)))
        return False, dt

    async def caller(conn: RawHttp | HttpxConn, t_stop: float) -> None:
        nonlocal ok_in_window, ok_total
        for _ in range(MAX_CALLS_PER_CALLER):
            if now() >= t_stop:
                return
            try:
                ok, dt = await asyncio.wait_for(one(conn), MESSAGE_TIMEOUT_S)
            except (httpx.HTTPError, OSError, asyncio.IncompleteReadError, TimeoutError) as e:
                errors[type(e).__name__] += 1
                await conn.close()  # a fresh connection for the next call
                continue
            if ok:
                ok_total += 1
                latency.append(dt)
                if now() <= t_stop:
                    ok_in_window += 1

    limits = httpx.Limits(max_connections=callers, max_keepalive_connections=callers)
    async with httpx.AsyncClient(base_url=srv.url, timeout=MESSAGE_TIMEOUT_S,
                                 limits=limits) as http:
        conns: list[RawHttp | HttpxConn] = [
            RawHttp("127.0.0.1", srv.port) if client == "raw" else HttpxConn(http)
            for _ in range(callers)]
        try:
            # warm-up, not counted: one call per caller (opens the connections)
            await asyncio.gather(*(one(c) for c in conns))
            await asyncio.sleep(0.3)
            latency.clear()
            errors.clear()
            with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
                t_stop = now() + duration
                await asyncio.gather(*(caller(c, t_stop) for c in conns))
        finally:
            await asyncio.gather(*(c.close() for c in conns))
    expected = len(inboxes.expect)
    t0 = now()
    while inboxes.delivered < expected and now() - t0 < DRAIN_LIMIT_S:
        await asyncio.sleep(0.02)
    return {
        "callers_in_flight": callers,
        "http_client": client,
        "chats": len(users),
        "duration_s": duration,
        "calls_per_s": round(ok_in_window / duration, 1),
        "calls_in_window": ok_in_window,
        "latency_ms": summary_ms(latency),
        "errors": dict(errors),
        # each message should reach its user's socket once (warm-up calls included)
        "sent_total": expected,
        "delivered_to_user_sockets": inboxes.delivered,
        "not_delivered": expected - inboxes.delivered,
        "delivered_to_wrong_user": inboxes.wrong_user,
        "delivered_twice": inboxes.duplicates,
        "server_cpu_ms_per_call": round(1000 * cpu.server / max(1, ok_total), 3),
        "cpu": cpu.figures(),
        "server_rss_mib_after": proc_rss_mib(srv.pid),
    }


# ---------------------------------------------------------------- (c) python-telegram-bot


def ptb_version() -> str | None:
    try:
        import telegram
    except ImportError:
        return None
    return str(telegram.__version__)


async def bench_receive_ptb(srv: KurirServer, bot: BotAccount, clients: list[WsClient],
                            duration: float) -> dict[str, Any]:
    """(a) with python-telegram-bot's Application polling and dispatching to a handler."""
    from telegram import Update
    from telegram.ext import Application, ContextTypes, MessageHandler, filters

    inbox = Inbox()
    senders = Senders(clients, bot, inbox)

    async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        text = update.message.text if update.message is not None else None
        inbox.note_update(update.update_id, text or "", now())

    app = (Application.builder().token(bot.token).base_url(f"{srv.url}/bot")
           .base_file_url(f"{srv.url}/file/bot").build())
    app.add_handler(MessageHandler(filters.ALL, on_message))
    await app.initialize()
    try:
        await app.start()
        assert app.updater is not None
        # drop what (a) and (b) may have left, then poll as (a) does
        await app.updater.start_polling(poll_interval=0.0, timeout=POLL_TIMEOUT_S,
                                        drop_pending_updates=True)
        inbox.counting = True
        await asyncio.gather(*(senders.send_one(c, f"pw{k}") for k, c in enumerate(clients)))
        await drain(inbox)
        warm_missing = sum(t not in inbox.received for t in inbox.acked)
        inbox.reset()
        senders.reset()
        inbox.counting = True
        with CpuWindow(srv.pid, srv.pg_backend_pids()) as cpu:
            await senders.run(duration, "p")
        drain_s = await drain(inbox)
    finally:
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()
        await app.shutdown()
    got = inbox.figures(duration)
    for k in ("polls", "empty_polls", "updates_per_poll_mean", "poll_round_trip_ms",
              "poll_errors"):
        got.pop(k)  # the library's loop, not counted here
    return {
        "library": f"python-telegram-bot {ptb_version()}",
        "users": len(clients),
        "duration_s": duration,
        "sent_msgs_per_s": round(senders.accepted_in_window / duration, 1),
        "sent_in_window": senders.accepted_in_window,
        "sent_total": len(inbox.acked),
        **got,
        "ack_ms": summary_ms(senders.ack),
        "send_errors": dict(senders.errors),
        "drain_s": round(drain_s, 2),
        "warmup_missing": warm_missing,
        "cpu": cpu.figures(),
    }


# ---------------------------------------------------------------- one engine


async def run_engine(srv: KurirServer, args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"settings": srv.settings(), "server_rss_mib_idle": proc_rss_mib(srv.pid)}
    out["settings"]["bot_flood_limits"] = FLOOD_NOTE
    inboxes = UserInboxes()
    async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
        users = await register_users(http, args.users + 1, "bu")
        owner, users = users[0], users[1:]
        bot = await make_bot(http, owner)
    clients = [WsClient(srv.ws_url(u.token), u, on_push=inboxes.on_push) for u in users]
    await open_all(clients)
    try:
        if "a" in args.parts:
            log(f"[{srv.engine}] (a) getUpdates long polling, {args.users} users writing to one"
                f" bot for {args.duration} s ...")
            res = await bench_receive(srv, bot, clients, args.duration)
            out["receive_long_polling"] = res
            log(f"[{srv.engine}]   sent {res['sent_msgs_per_s']} msg/s, received"
                f" {res['received_updates_per_s']} updates/s ({res['updates_per_poll_mean']}"
                f" per poll); ack->bot p50 {res['delivery_ms_from_ack'].get('p50')} ms"
                f" p99 {res['delivery_ms_from_ack'].get('p99')} ms; exactly once:"
                f" {res['exactly_once']}; server {res['cpu']['server_cpu_pct']} % CPU,"
                f" client {res['cpu']['client_cpu_pct']} %")
        else:
            # a bot may only write to those who wrote to it: one message from each user
            for c in clients:
                await c.call("messages.send", user_id=bot.id, text="hi", random_id=random_id())
        if "b" in args.parts:
            log(f"[{srv.engine}] (b) sendMessage, {args.callers} calls in flight to"
                f" {args.users} private chats for {args.duration} s ...")
            res = await bench_send(srv, bot, users, inboxes, args.callers, args.duration,
                                   args.send_client)
            out["send_message"] = res
            log(f"[{srv.engine}]   {res['calls_per_s']} calls/s, p50"
                f" {res['latency_ms'].get('p50')} ms p99 {res['latency_ms'].get('p99')} ms;"
                f" not delivered {res['not_delivered']}; server {res['cpu']['server_cpu_pct']}"
                f" % CPU, client {res['cpu']['client_cpu_pct']} %")
        if "c" in args.parts:
            version = ptb_version()
            if version is None:
                log(f"[{srv.engine}] (c) skipped: python-telegram-bot is not installed")
                out["receive_ptb"] = {"skipped": "python-telegram-bot is not installed"}
            else:
                log(f"[{srv.engine}] (c) the same as (a) through python-telegram-bot"
                    f" {version}'s Application ...")
                res = await bench_receive_ptb(srv, bot, clients, args.duration)
                out["receive_ptb"] = res
                log(f"[{srv.engine}]   sent {res['sent_msgs_per_s']} msg/s, received"
                    f" {res['received_updates_per_s']} updates/s; ack->handler p50"
                    f" {res['delivery_ms_from_ack'].get('p50')} ms p99"
                    f" {res['delivery_ms_from_ack'].get('p99')} ms; exactly once:"
                    f" {res['exactly_once']}; client {res['cpu']['client_cpu_pct']} % CPU")
    finally:
        closed = sum(c.closed_reason is not None for c in clients)
        await close_all(clients)
    out["user_sockets_closed_by_server"] = closed
    out["server_rss_mib"] = proc_rss_mib(srv.pid)
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a short run (about a minute)")
    p.add_argument("--engines", default="sqlite,postgres")
    p.add_argument("--parts", default="a,b,c",
                   help="a: getUpdates, b: sendMessage, c: python-telegram-bot (if installed)")
    p.add_argument("--duration", type=float, help="seconds per window (20; quick 5)")
    p.add_argument("--users", type=int, default=50, help="users writing to the bot")
    p.add_argument("--callers", type=int, default=16, help="sendMessage calls in flight")
    p.add_argument("--send-client", choices=["raw", "httpx"], default="raw",
                   help="(b)'s HTTP client: a hand-written keep-alive one (default) or httpx")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop of this load generator (uvloop when installed)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the server, e.g. KURIR_DB_POOL_SIZE=16")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each engine, wait up to S seconds for an idle machine")
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r}")
    args.parts = [x for x in args.parts.split(",") if x]
    for x in args.parts:
        if x not in ("a", "b", "c"):
            p.error(f"unknown part {x!r}")
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    if args.duration is None:
        args.duration = 5.0 if args.quick else 20.0
    if not (0 < args.duration <= 600 and 1 <= args.users <= 1000 and 1 <= args.callers <= 256):
        p.error("duration 0..600 s, users 1..1000, callers 1..256")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    result: dict[str, Any] = {
        "benchmark": "botapi",
        "machine": machine_info(),
        "params": {
            "quick": args.quick,
            "parts": args.parts,
            "duration_s": args.duration,
            "users": args.users,
            "send_callers_in_flight": args.callers,
            "get_updates": {"timeout": POLL_TIMEOUT_S, "limit": POLL_LIMIT},
            "user_transport": "WebSocket (messages.send), closed loop",
            "bot_transport": "HTTP/1.1 keep-alive, JSON bodies: (a) httpx, (b) "
                             + ("a hand-written client" if args.send_client == "raw" else "httpx"),
            "client_event_loop": client_loop,
            "server_env": args.server_env,
            "python_telegram_bot": ptb_version(),
        },
        "flood_limits": {"note": FLOOD_NOTE, "server_env": FLOOD_ENV},
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    log(f"machine: {result['machine']['cores']} cores, {result['machine']['cpu']};"
        f" load generator on the same machine ({client_loop})")
    log(FLOOD_NOTE)
    def report(engine: str, figures: dict[str, Any]) -> None:
        log(f"[{engine}] server RSS at the end: {figures['server_rss_mib']} MiB")

    env = {**FLOOD_ENV, **dict(kv.split("=", 1) for kv in args.server_env)}
    exit_code = for_each_engine(args.engines, result, client_loop, args.wait_quiet, env,
                                lambda srv: run_engine(srv, args), report)
    emit(result)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
