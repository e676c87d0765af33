"""Bots: accounts of their own kind, and the queue of Bot API updates each one reads.

A bot is a user with `is_bot` and an owner. Its token, `<bot id>:<secret>`, is a session
of the bot's, so it is checked like any token and revoking it ends that session.

A bot learns what happens as any member does: the updates in its own log (private chats,
groups, its membership) and in the logs of the channels and supergroups it is in. When it
asks (getUpdates) or its webhook is due, those logs are read from where it left off and
turned into Bot API updates (services/botobjects.py) with consecutive `update_id`s, in one
transaction that also moves its cursors: nothing is turned twice or skipped. The queued
updates stay until the bot confirms them (a higher offset) or its webhook took them, so
a crash loses none. Nothing is added to the send path: a bot costs only when it reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
import msgspec

from kurir.domain import errors, markup, rules
from kurir.domain.types import Message, User
from kurir.live import Hub
from kurir.services import access
from kurir.services.accounts import Accounts, token_hash
from kurir.services.botobjects import (
    ALL_UPDATE_KINDS,
    BotView,
    Lookup,
    chat_obj,
    decode_update,
    full_chat_obj,
    message_obj,
    translate,
    user_obj,
)
from kurir.storage import channels, chats, messages, updates, users
from kurir.storage.port import Conflict, Database, Row, Tx
from kurir.storage.updates import with_pts

log = logging.getLogger("kurir.bots")

BOTS_PER_OWNER = 20  # as BotFather
READ_BATCH = 500  # log entries turned into Bot API updates per transaction and log
# one process posts a bot's webhook at a time: it holds a lease (3 x node_dead_after, 60 s)
# that it renews with each batch and, idle, every lease x 5/12 seconds; if it stops
# (killed), another takes over once the lease ran out
WEBHOOK_LEASE = 60
ANSWER = b"A"  # a bot's answer to a button press, sent to the process waiting for it
WEBHOOK_SET = b"W"  # to every process: a bot's webhook was set; deliver (under the lease)
POLLING = b"P"  # to every process: a bot polls here since then; an older poll elsewhere: 409


class _Answer(msgspec.Struct):
    query_id: str
    bot_id: int
    result: dict[str, Any]


_answer_enc = msgspec.json.Encoder()
_answer_dec = msgspec.json.Decoder(_Answer)
BOT_COLS = (
    "b.user_id, b.owner_id, b.privacy, b.description, b.short_description, b.user_pts,"
    " b.next_update_id, b.allowed_updates, b.webhook_url, b.webhook_secret,"
    " b.webhook_max_connections, b.webhook_error_date, b.webhook_error, u.username,"
    " u.display_name"
)
_json = msgspec.json.Encoder()


@dataclass(slots=True)
class Bot:
    user_id: int
    owner_id: int
    privacy: bool
    description: str
    short_description: str
    user_pts: int
    next_update_id: int
    allowed_updates: list[str] | None
    webhook_url: str
    webhook_secret: str
    webhook_max_connections: int
    webhook_error_date: int
    webhook_error: str
    username: str
    display_name: str

    @classmethod
    def of(cls, row: Row) -> Bot:
        allowed = msgspec.json.decode(row[7]) if row[7] else None
        return cls(int(row[0]), int(row[1]), bool(row[2]), row[3], row[4], int(row[5]),
                   int(row[6]), allowed, row[8], row[9], int(row[10]), int(row[11]), row[12],
                   row[13] or "", row[14])

    def view(self) -> BotView:
        allowed = frozenset(self.allowed_updates) if self.allowed_updates else None
        return BotView(self.user_id, self.username, self.privacy, allowed)


def _get(tx: Tx, bot_id: int) -> Bot | None:
    row = tx.one(f"SELECT {BOT_COLS} FROM bots b JOIN users u ON u.id = b.user_id"
                 " WHERE b.user_id = ?", (bot_id,))
    return Bot.of(row) if row else None


def _locked(tx: Tx, bot_id: int) -> Bot:
    """The bot's row, locked: one reader of its logs at a time."""
    tx.execute("UPDATE bots SET user_pts = user_pts WHERE user_id = ?", (bot_id,))
    bot = _get(tx, bot_id)
    if bot is None:
        raise errors.BOT_INVALID("no such bot")
    return bot


def new_token(bot_id: int) -> str:
    return f"{bot_id}:{secrets.token_urlsafe(26)}"


class Waker:
    """Wakes a waiting reader of a bot's updates: anything on the bot's topic or on the
    topics of its channels may have made an update for it."""

    session_id = -1

    def __init__(self, hub: Hub, bot_id: int) -> None:
        self._hub = hub
        self._bot_id = bot_id
        self.started = time.time_ns()  # which of two polls on two processes is the newer
        self.event = asyncio.Event()
        self._followed: set[int] = set()

    def __enter__(self) -> Waker:
        self._hub.attach(self._bot_id, self)
        return self

    def __exit__(self, *exc: object) -> None:
        self._hub.detach(self._bot_id, self)
        for chat_id in self._followed:
            self._hub.unfollow(chat_id, self)

    def follow(self, chat_ids: list[int]) -> None:
        for chat_id in chat_ids:
            if chat_id not in self._followed:
                self._followed.add(chat_id)
                self._hub.follow(chat_id, self)

    async def wait(self, seconds: float) -> bool:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.event.wait(), seconds)
        woken = self.event.is_set()
        self.event.clear()
        return woken

    def on_update(self, pts: int, body: bytes) -> None:
        self.event.set()

    def on_channel_update(self, chat_id: int, pts: int, body: bytes, frame: str) -> None:
        self.event.set()

    def on_channel_joined(self, chat_id: int, pts: int) -> None:
        self.follow([chat_id])
        self.event.set()

    def on_channel_left(self, chat_id: int) -> None:
        self.event.set()

    def on_event(self, frame: str) -> None:
        self.event.set()

    def on_session_end(self) -> None:
        self.event.set()

    def on_resync(self) -> None:
        self.event.set()


class Bots:
    def __init__(self, db: Database, hub: Hub, accounts: Accounts, *,
                 callback_timeout: float = 10.0, webhook_networks: str = "",
                 webhook_lease: int = WEBHOOK_LEASE) -> None:
        self._db = db
        self._hub = hub
        self._accounts = accounts
        self.callback_timeout = callback_timeout
        self._lease = max(3, webhook_lease)
        self._idle = self._lease * 5 / 12
        self._networks = [ipaddress.ip_network(n.strip(), strict=False)
                          for n in webhook_networks.split(",") if n.strip()]
        self._queries: dict[str, tuple[int, asyncio.Future[dict[str, Any]]]] = {}
        self._pollers: dict[int, Waker] = {}
        self._webhooks: dict[int, asyncio.Task[None]] = {}
        self._http: httpx.AsyncClient | None = None
        self._private: dict[tuple[int, int], int] = {}
        hub.node_handlers[ANSWER] = self._answer_from_elsewhere
        hub.global_handlers[WEBHOOK_SET] = self._webhook_set
        hub.global_handlers[POLLING] = self._polling_elsewhere

    # accounts -----------------------------------------------------------------------------
    async def create(self, owner: int, username: str, display_name: str) -> dict[str, Any]:
        rules.check_username(username)
        if not username.lower().endswith("bot"):
            raise errors.USERNAME_INVALID("a bot's username ends in 'bot'")
        name = rules.check_display_name(display_name)
        key = rules.username_key(username)
        now = int(time.time())

        def txn(tx: Tx) -> tuple[User, str]:
            if users.by_id(tx, owner) is None or _get(tx, owner) is not None:
                raise errors.USER_IS_BOT("bots cannot own bots")
            mine = tx.one("SELECT COUNT(*) FROM bots WHERE owner_id = ?", (owner,))
            if mine and int(mine[0]) >= BOTS_PER_OWNER:
                raise errors.BOTS_TOO_MUCH(f"one may own at most {BOTS_PER_OWNER} bots")
            if users.by_username(tx, key) is not None:
                raise errors.USERNAME_OCCUPIED("that username is taken")
            bot = users.create(tx, username, key, name, None, now, is_bot=True, owner_id=owner)
            tx.execute("INSERT INTO bots (user_id, owner_id, created) VALUES (?, ?, ?)",
                       (bot.id, owner, now))
            token = new_token(bot.id)
            users.create_session(tx, bot.id, token_hash(token), "bot token", "", now)
            return bot, token

        try:
            bot, token = await self._db.write(txn)
        except Conflict:
            raise errors.USERNAME_OCCUPIED("that username is taken") from None
        return {"bot": bot, "token": token}

    async def get_owned(self, owner: int, bot_id: int) -> Bot:
        bot = await self._db.read(_get, bot_id)
        if bot is None or bot.owner_id != owner:
            raise errors.BOT_INVALID("you own no such bot")
        return bot

    async def revoke_token(self, owner: int, bot_id: int) -> dict[str, str]:
        await self.get_owned(owner, bot_id)
        token = new_token(bot_id)
        now = int(time.time())

        def txn(tx: Tx) -> list[int]:
            old = [int(r[0]) for r in users.sessions_of(tx, bot_id)]
            for sid in old:
                users.delete_session(tx, bot_id, sid)
            users.create_session(tx, bot_id, token_hash(token), "bot token", "", now)
            return old

        for sid in await self._db.write(txn):
            self._accounts.on_session_ended(sid)
            self._hub.session_ended(bot_id, sid)
        return {"token": token}

    async def log_out(self, bot_id: int) -> bool:
        """The Bot API's logOut and close: nothing to move here; the token stays valid."""
        return True

    async def mine(self, owner: int) -> list[dict[str, Any]]:
        def txn(tx: Tx) -> list[dict[str, Any]]:
            rows = tx.all(f"SELECT {BOT_COLS} FROM bots b JOIN users u ON u.id = b.user_id"
                          " WHERE b.owner_id = ? ORDER BY b.user_id", (owner,))
            return [self._info(tx, Bot.of(r)) for r in rows]

        return await self._db.read(txn)

    @staticmethod
    def _info(tx: Tx, bot: Bot) -> dict[str, Any]:
        user = users.by_id(tx, bot.user_id)
        return {"bot": user, "privacy": bot.privacy, "description": bot.description,
                "short_description": bot.short_description}

    async def info(self, bot_id: int) -> dict[str, Any]:
        """What anyone may know of a bot: its profile, description and commands."""
        def txn(tx: Tx) -> dict[str, Any]:
            bot = _get(tx, bot_id)
            if bot is None:
                raise errors.BOT_INVALID("no such bot")
            out = self._info(tx, bot)
            del out["privacy"]
            out["commands"] = _commands(tx, bot_id, "default", "")
            return out

        return await self._db.read(txn)

    async def get(self, bot_id: int) -> Bot:
        bot = await self._db.read(_get, bot_id)
        if bot is None:
            raise errors.BOT_INVALID("no such bot")
        return bot

    async def edit(self, owner: int, bot_id: int, *, privacy: bool | None = None,
                   display_name: str | None = None, description: str | None = None,
                   short_description: str | None = None) -> bool:
        await self.get_owned(owner, bot_id)
        return await self.set_profile(bot_id, privacy=privacy, display_name=display_name,
                                      description=description,
                                      short_description=short_description)

    async def set_profile(self, bot_id: int, *, privacy: bool | None = None,
                          display_name: str | None = None, description: str | None = None,
                          short_description: str | None = None) -> bool:
        name = rules.check_display_name(display_name) if display_name else None
        if description is not None and len(description) > 512:
            raise errors.ABOUT_TOO_LONG("a description has at most 512 characters")
        if short_description is not None and len(short_description) > 120:
            raise errors.ABOUT_TOO_LONG("a short description has at most 120 characters")

        def txn(tx: Tx) -> None:
            if privacy is not None:
                tx.execute("UPDATE bots SET privacy = ? WHERE user_id = ?", (int(privacy), bot_id))
            if description is not None:
                tx.execute("UPDATE bots SET description = ? WHERE user_id = ?",
                           (description, bot_id))
            if short_description is not None:
                tx.execute("UPDATE bots SET short_description = ? WHERE user_id = ?",
                           (short_description, bot_id))
            if name is not None:
                tx.execute("UPDATE users SET display_name = ? WHERE id = ?", (name, bot_id))

        await self._db.write(txn)
        return True

    # commands -----------------------------------------------------------------------------
    async def commands(self, bot_id: int, scope: str, language: str) -> list[dict[str, str]]:
        return await self._db.read(_commands, bot_id, scope, language)

    async def set_commands(self, bot_id: int, scope: str, language: str,
                           commands: list[dict[str, str]] | None) -> bool:
        if commands is not None:
            if len(commands) > 100:
                raise errors.BAD_REQUEST("at most 100 commands")
            for c in commands:
                name, about = c.get("command", ""), c.get("description", "")
                if not (1 <= len(name) <= 32 and all(ch.islower() or ch.isdigit() or ch == "_"
                                                     for ch in name)):
                    raise errors.BAD_REQUEST("Bad Request: BOT_COMMAND_INVALID")
                if not 1 <= len(about) <= 256:
                    raise errors.BAD_REQUEST("Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")

        def txn(tx: Tx) -> None:
            tx.execute("DELETE FROM bot_commands WHERE bot_id = ? AND scope = ?"
                       " AND language_code = ?", (bot_id, scope, language))
            if commands:
                tx.execute("INSERT INTO bot_commands (bot_id, scope, language_code, commands)"
                           " VALUES (?, ?, ?, ?)", (bot_id, scope, language,
                                                    _json.encode(commands).decode()))

        await self._db.write(txn)
        return True

    # the update queue ---------------------------------------------------------------------
    def _fill(self, tx: Tx, bot: Bot, now: int) -> Bot:
        """Turn what the bot's logs gained since it last read into queued Bot API updates."""
        view = bot.view()
        lk = Lookup(tx)
        made: list[tuple[str, dict[str, Any]]] = []
        user_pts = bot.user_pts
        logged = [(pts, decode_update(with_pts(pts, body)))
                  for pts, body in updates.since(tx, bot.user_id, user_pts, READ_BATCH)]
        lk.preload([u for _, u in logged])
        for pts, update in logged:
            if update.type == "chat_member" and update.user_id == bot.user_id and update.chat_id:
                chat = lk.chat(update.chat_id)
                if chat is not None and chat.is_channel:
                    if update.status == "member" and update.channel_pts is not None:
                        _set_cursor(tx, bot.user_id, chat.id, update.channel_pts)
                    elif update.status in ("left", "kicked"):
                        tx.execute("DELETE FROM bot_channels WHERE bot_id = ? AND chat_id = ?",
                                   (bot.user_id, chat.id))
            made += translate(update, view, lk, now)
            user_pts = pts
        cursors = {int(c): int(p) for c, p in tx.all(
            "SELECT chat_id, pts FROM bot_channels WHERE bot_id = ?", (bot.user_id,))}
        for chat_id, head in channels.of_user(tx, bot.user_id):
            at = cursors.get(chat_id)
            if at is None:  # a channel it came into without a join update: from now on
                _set_cursor(tx, bot.user_id, chat_id, head)
                continue
            if at >= head:
                continue
            last = at
            posted = [(pts, decode_update(with_pts(pts, body)))
                      for pts, body in channels.since(tx, chat_id, at, READ_BATCH)]
            lk.preload([u for _, u in posted])
            for pts, update in posted:
                made += translate(update, view, lk, now)
                last = pts
            _set_cursor(tx, bot.user_id, chat_id, last)
        next_id = bot.next_update_id
        if made:
            tx.executemany(
                "INSERT INTO bot_updates (bot_id, update_id, body, date) VALUES (?, ?, ?, ?)",
                [(bot.user_id, next_id + i, _encode_update(next_id + i, kind, obj), now)
                 for i, (kind, obj) in enumerate(made)],
            )
            next_id += len(made)
        if user_pts != bot.user_pts or next_id != bot.next_update_id:
            tx.execute("UPDATE bots SET user_pts = ?, next_update_id = ? WHERE user_id = ?",
                       (user_pts, next_id, bot.user_id))
            bot.user_pts, bot.next_update_id = user_pts, next_id
        return bot

    async def _take(self, bot_id: int, offset: int | None, limit: int,
                    allowed: list[str] | None) -> list[bytes]:
        now = int(time.time())

        def txn(tx: Tx) -> list[bytes]:
            bot = _locked(tx, bot_id)
            if bot.webhook_url:
                raise errors.CONFLICT("Conflict: can't use getUpdates method while webhook is"
                                      " active; use deleteWebhook to delete the webhook first")
            if allowed is not None:
                _set_allowed(tx, bot, allowed)
            if offset is not None and offset > 0:
                tx.execute("DELETE FROM bot_updates WHERE bot_id = ? AND update_id < ?",
                           (bot_id, offset))
            bot = self._fill(tx, bot, now)
            start = 0
            if offset is not None and offset < 0:  # the last -offset updates; older ones go
                start = bot.next_update_id + offset
                tx.execute("DELETE FROM bot_updates WHERE bot_id = ? AND update_id < ?",
                           (bot_id, start))
            rows = tx.all("SELECT body FROM bot_updates WHERE bot_id = ? AND update_id >= ?"
                          " ORDER BY update_id LIMIT ?", (bot_id, start, limit))
            return [r[0].encode() if isinstance(r[0], str) else bytes(r[0]) for r in rows]

        # aside: a bot's poll must not queue behind the sends that wait on its pts row
        return await self._db.write_aside(txn)

    async def get_updates(self, bot_id: int, offset: int | None, limit: int, timeout: float,
                          allowed: list[str] | None) -> list[bytes]:
        """getUpdates: what is queued, else wait up to `timeout` seconds for something.

        A newer call ends an older one still waiting (409), as Telegram does: two pollers
        of one bot would each get half of its updates.
        """
        if allowed is not None:
            unknown = set(allowed) - ALL_UPDATE_KINDS
            if unknown:
                raise errors.BAD_REQUEST(f"Bad Request: unknown update type {sorted(unknown)[0]}")
        deadline = time.monotonic() + max(0.0, timeout)
        with Waker(self._hub, bot_id) as waker:
            older = self._pollers.get(bot_id)
            self._pollers[bot_id] = waker
            if older is not None:
                older.event.set()  # it finds itself superseded and answers 409
            # and a poll of this bot waiting on another process
            self._hub.to_all(POLLING, b"%d %d %d" % (bot_id, self._hub.node_id, waker.started))
            try:
                waker.follow([c for c, _ in await self._db.read(channels.of_user, bot_id)])
                while True:
                    if self._pollers.get(bot_id) is not waker:
                        raise errors.CONFLICT("Conflict: terminated by other getUpdates"
                                              " request; make sure that only one bot instance"
                                              " is running")
                    found = await self._take(bot_id, offset, limit, allowed)
                    allowed = None  # kept by the first round
                    if found or time.monotonic() >= deadline:
                        return found
                    await waker.wait(deadline - time.monotonic())
            finally:
                if self._pollers.get(bot_id) is waker:
                    del self._pollers[bot_id]

    async def sweep(self, older_than: int) -> int:
        """Drop queued updates no bot took within `older_than` seconds (Telegram keeps them
        24 hours)."""
        before = int(time.time()) - older_than
        return await self._db.write(lambda tx: tx.execute(
            "DELETE FROM bot_updates WHERE date < ?", (before,)))

    # webhooks -----------------------------------------------------------------------------
    async def set_webhook(self, bot_id: int, url: str, secret: str, max_connections: int,
                          allowed: list[str] | None, drop_pending: bool) -> bool:
        if url:
            await self.check_webhook_url(url)
        if secret and (len(secret) > 256 or not all(c.isalnum() or c in "_-" for c in secret)):
            raise errors.BAD_REQUEST("Bad Request: secret token contains unallowed characters")
        now = int(time.time())

        def txn(tx: Tx) -> None:
            bot = _locked(tx, bot_id)
            if allowed is not None:
                _set_allowed(tx, bot, allowed)
            if drop_pending:
                self._drop_pending(tx, bot, now)
            tx.execute("UPDATE bots SET webhook_url = ?, webhook_secret = ?,"
                       " webhook_max_connections = ?, webhook_error_date = 0, webhook_error = ''"
                       " WHERE user_id = ?", (url, secret, max_connections, bot_id))

        await self._db.write(txn)
        self._hub.event([bot_id], {"type": "bot_webhook"})
        if url:
            self.start_webhook(bot_id)
            # every process starts a deliverer (one of them holds the lease and posts), so
            # that delivery goes on when this one stops
            self._hub.to_all(WEBHOOK_SET, b"%d" % bot_id)
        return True

    def _polling_elsewhere(self, payload: bytes) -> None:
        try:
            bot_id, node, started = (int(x) for x in payload.split())
        except ValueError:
            return
        mine = self._pollers.get(bot_id)
        if node != self._hub.node_id and mine is not None and mine.started < started:
            del self._pollers[bot_id]
            mine.event.set()  # it finds itself superseded and answers 409

    def _webhook_set(self, payload: bytes) -> None:
        with contextlib.suppress(ValueError):
            self.start_webhook(int(payload))

    def _drop_pending(self, tx: Tx, bot: Bot, now: int) -> None:
        """drop_pending_updates: what is queued goes, and what the logs hold is skipped."""
        tx.execute("DELETE FROM bot_updates WHERE bot_id = ?", (bot.user_id,))
        tx.execute("UPDATE bots SET user_pts = ? WHERE user_id = ?",
                   (updates.current(tx, bot.user_id), bot.user_id))
        for chat_id, head in channels.of_user(tx, bot.user_id):
            _set_cursor(tx, bot.user_id, chat_id, head)

    async def delete_webhook(self, bot_id: int, drop_pending: bool) -> bool:
        return await self.set_webhook(bot_id, "", "", 40, None, drop_pending)

    async def webhook_info(self, bot_id: int) -> dict[str, Any]:
        def txn(tx: Tx) -> tuple[Bot, int]:
            # what waits in the logs counts too: queue it first
            bot = self._fill(tx, _locked(tx, bot_id), int(time.time()))
            row = tx.one("SELECT COUNT(*) FROM bot_updates WHERE bot_id = ?", (bot_id,))
            return bot, int(row[0]) if row else 0

        bot, pending = await self._db.write(txn)
        out: dict[str, Any] = {"url": bot.webhook_url, "has_custom_certificate": False,
                               "pending_update_count": pending}
        if bot.webhook_url:
            out["max_connections"] = bot.webhook_max_connections
            if bot.allowed_updates is not None:
                out["allowed_updates"] = bot.allowed_updates
            if bot.webhook_error_date:
                out["last_error_date"] = bot.webhook_error_date
                out["last_error_message"] = bot.webhook_error
        return out

    async def check_webhook_url(self, url: str) -> None:
        """A webhook goes only where the operator allows: public addresses, and the
        networks listed in `bot_webhook_networks` (so a bot cannot make the server
        call into the network it runs in)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise errors.WEBHOOK_URL_INVALID("Bad Request: bad webhook: invalid URL")
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname,
                                                                 parts.port or 443)
        except OSError:
            raise errors.WEBHOOK_URL_INVALID(
                "Bad Request: bad webhook: failed to resolve host") from None
        for info in infos:
            addr = ipaddress.ip_address(info[4][0])
            if any(addr in net for net in self._networks):
                continue
            if not addr.is_global:
                raise errors.WEBHOOK_URL_INVALID(
                    "Bad Request: bad webhook: the address is not allowed on this server")

    def start_webhook(self, bot_id: int) -> None:
        task = self._webhooks.get(bot_id)
        if task is None or task.done():
            self._webhooks[bot_id] = asyncio.get_running_loop().create_task(
                self._deliver(bot_id))

    async def start_all_webhooks(self) -> None:
        rows = await self._db.read(lambda tx: tx.all(
            "SELECT user_id FROM bots WHERE webhook_url <> ''"))
        for (bot_id,) in rows:
            self.start_webhook(int(bot_id))

    async def stop(self) -> None:
        for task in self._webhooks.values():
            task.cancel()
        for task in self._webhooks.values():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._webhooks:
            # hand the leases back: another process may deliver at once
            with contextlib.suppress(Exception):
                await self._db.write(lambda tx: tx.execute(
                    "UPDATE bots SET webhook_lease = 0 WHERE webhook_node = ?",
                    (self._hub.node_id,)))
        if self._http is not None:
            await self._http.aclose()

    async def _deliver(self, bot_id: int) -> None:
        """POST each queued update in order; one is dropped only once the bot's server
        answered 2xx, so none is lost, and a failure is retried with a growing pause."""
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=30, follow_redirects=False)
        backoff = 0.0

        me = self._hub.node_id

        def batch(tx: Tx) -> tuple[str, str, list[tuple[int, str]], int]:
            """The URL, the secret and the next updates to post; or, when another server
            process holds the bot's delivery lease, for how long it still does."""
            bot = _locked(tx, bot_id)
            if not bot.webhook_url:
                return "", "", [], 0
            now = int(time.time())
            held = tx.one("SELECT webhook_node, webhook_lease FROM bots WHERE user_id = ?",
                          (bot_id,))
            if held is not None and int(held[0]) != me and int(held[1]) > now:
                return bot.webhook_url, "", [], int(held[1]) - now
            tx.execute("UPDATE bots SET webhook_node = ?, webhook_lease = ? WHERE user_id = ?",
                       (me, now + self._lease, bot_id))
            self._fill(tx, bot, now)
            rows = tx.all("SELECT update_id, body FROM bot_updates WHERE bot_id = ?"
                          " ORDER BY update_id LIMIT 100", (bot_id,))
            return bot.webhook_url, bot.webhook_secret, [(int(u), str(b)) for u, b in rows], 0

        with Waker(self._hub, bot_id) as waker:
            waker.follow([c for c, _ in await self._db.read(channels.of_user, bot_id)])
            while True:
                try:
                    url, secret, queued, held = await self._db.write_aside(batch)
                except Exception:
                    log.exception("reading bot %d's updates failed", bot_id)
                    await asyncio.sleep(5)
                    continue
                if not url:
                    return
                if held:
                    # another process delivers; this one takes over if that one stops
                    # renewing
                    await asyncio.sleep(min(held, self._idle) + random.random())
                    continue
                if not queued:
                    await waker.wait(self._idle)
                    continue
                # where the URL leads is checked again for each batch (its name may have come
                # to point elsewhere since setWebhook), not for each update
                refused = await self._refused(url)
                for update_id, body in queued:
                    error = refused or await self._post(url, secret, body)
                    now = int(time.time())
                    if error is None:
                        backoff = 0.0
                        await self._db.write(lambda tx, u=update_id: tx.execute(
                            "DELETE FROM bot_updates WHERE bot_id = ? AND update_id = ?",
                            (bot_id, u)))
                        continue
                    await self._db.write(lambda tx, e=error, t=now: tx.execute(
                        "UPDATE bots SET webhook_error_date = ?, webhook_error = ?"
                        " WHERE user_id = ?", (t, e[:200], bot_id)))
                    backoff = min(60.0, backoff * 2 or 0.5)
                    await waker.wait(backoff)  # a new setWebhook wakes it early
                    break

    async def _refused(self, url: str) -> str | None:
        try:
            await self.check_webhook_url(url)
        except errors.ApiError as e:
            return e.message
        return None

    async def _post(self, url: str, secret: str, body: str) -> str | None:
        """None when delivered, else what went wrong."""
        headers = {"Content-Type": "application/json"}
        if secret:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        assert self._http is not None
        try:
            r = await self._http.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError as e:
            return f"Connection failed: {type(e).__name__}"
        if 200 <= r.status_code < 300:
            return None
        return f"Wrong response from the webhook: {r.status_code} {r.reason_phrase}"

    # callback queries ---------------------------------------------------------------------
    async def press(self, caller: int, chat_id: int, message_id: int,
                    data: str) -> dict[str, Any]:
        """A user presses an inline button: the bot gets a callback_query, and its answer
        (answerCallbackQuery) is what this returns."""
        now = int(time.time())
        # the process waiting for the answer is named in the id: an answer that reaches
        # another process is sent on to this one over the bus
        query_id = str(self._hub.node_id << 32 | secrets.randbits(32))

        def txn(tx: Tx) -> int:
            seat = access.for_read(tx, chat_id, caller, now)
            found = messages.get_visible(tx, chat_id, [message_id], caller, seat.history_from)
            if not found:
                raise errors.MESSAGE_ID_INVALID("no such message")
            msg: Message = found[0]
            bot = _get(tx, msg.from_id)
            if bot is None or markup.callback_button(msg.reply_markup, data) is None:
                raise errors.DATA_INVALID("that message has no such button")
            bot = _locked(tx, bot.user_id)
            if not bot.view().allows("callback_query"):
                return bot.user_id
            lk = Lookup(tx)
            query = {"id": query_id, "from": user_obj(lk.user(caller), caller),
                     "message": message_obj(msg, bot.user_id, lk),
                     "chat_instance": str(chat_id), "data": data}
            bot = self._fill(tx, bot, now)  # what came before the press goes before it
            tx.execute("INSERT INTO bot_updates (bot_id, update_id, body, date)"
                       " VALUES (?, ?, ?, ?)", (bot.user_id, bot.next_update_id,
                                                _encode_update(bot.next_update_id,
                                                               "callback_query", query), now))
            tx.execute("UPDATE bots SET next_update_id = next_update_id + 1 WHERE user_id = ?",
                       (bot.user_id,))
            return bot.user_id

        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._queries[query_id] = (0, future)
        try:
            bot_id = await self._db.write(txn)
            self._queries[query_id] = (bot_id, future)
            self._hub.event([bot_id], {"type": "bot_update"})
            return await asyncio.wait_for(future, self.callback_timeout)
        except TimeoutError:
            raise errors.BOT_RESPONSE_TIMEOUT("the bot did not answer in time") from None
        finally:
            self._queries.pop(query_id, None)

    def answer(self, bot_id: int, query_id: str, text: str | None, show_alert: bool,
               url: str | None) -> bool:
        result: dict[str, Any] = {"alert": show_alert}
        if text:
            result["message"] = text
        if url:
            result["url"] = url
        node = int(query_id) >> 32 if query_id.isdigit() and len(query_id) < 20 else 0
        if query_id not in self._queries and node and node != self._hub.node_id:
            # pressed on a socket of another process: that one is waiting for it
            self._hub.to_node(node, ANSWER, _answer_enc.encode(
                {"query_id": query_id, "bot_id": bot_id, "result": result}))
            return True
        if not self._settle(bot_id, query_id, result):
            raise errors.QUERY_ID_INVALID("Bad Request: query is too old and response timeout"
                                          " expired or query ID is invalid")
        return True

    def _settle(self, bot_id: int, query_id: str, result: dict[str, Any]) -> bool:
        found = self._queries.get(query_id)
        if found is None or found[0] != bot_id or found[1].done():
            return False
        found[1].set_result(result)
        return True

    def _answer_from_elsewhere(self, payload: bytes) -> None:
        try:
            msg = _answer_dec.decode(payload)
        except msgspec.DecodeError:
            return
        self._settle(msg.bot_id, msg.query_id, msg.result)

    # rendering for the Bot API's methods ---------------------------------------------------
    async def render(self, bot_id: int, msgs: list[Message]) -> list[dict[str, Any]]:
        def txn(tx: Tx) -> list[dict[str, Any]]:
            lk = Lookup(tx)
            return [message_obj(m, bot_id, lk) for m in msgs]

        return await self._db.read(txn)

    async def render_chat(self, bot_id: int, chat_id: int, full: bool) -> dict[str, Any]:
        def txn(tx: Tx) -> dict[str, Any]:
            lk = Lookup(tx)
            chat = lk.chat(chat_id)
            if chat is None:
                raise errors.CHAT_NOT_FOUND("Bad Request: chat not found")
            return full_chat_obj(chat, bot_id, lk) if full else chat_obj(chat, bot_id, lk)

        return await self._db.read(txn)

    async def render_users(self, user_ids: list[int]) -> dict[int, dict[str, Any]]:
        found = await self._db.read(users.by_ids, sorted(set(user_ids)))
        return {uid: user_obj(u, uid) for uid, u in found.items()}

    async def private_chat(self, bot_id: int, user_id: int) -> int:
        """The chat a bot writes to a user in: one the user opened (a bot cannot start a
        conversation, as in Telegram). Chats are never deleted, so once found it is
        remembered."""
        known = self._private.get((bot_id, user_id))
        if known is not None:
            return known

        def txn(tx: Tx) -> int:
            other = users.by_id(tx, user_id)
            if other is None:
                raise errors.CHAT_NOT_FOUND("Bad Request: chat not found")
            if other.is_bot:
                raise errors.USER_IS_BOT("Forbidden: bot can't send messages to bots")
            found = chats.find_private(tx, bot_id, user_id)
            if found is None:
                raise errors.BOT_CANT_INITIATE("Forbidden: bot can't initiate conversation"
                                               " with a user")
            return found

        chat_id = await self._db.read(txn)
        if len(self._private) >= 100_000:
            self._private.clear()
        self._private[(bot_id, user_id)] = chat_id
        return chat_id

    async def resolve_username(self, username: str) -> int:
        """A public chat's id from its @username."""
        key = rules.username_key(username.lstrip("@"))

        def txn(tx: Tx) -> int:
            found = channels.by_username(tx, key)
            if found is None:
                raise errors.CHAT_NOT_FOUND("Bad Request: chat not found")
            return found

        return await self._db.read(txn)

    async def chat_member_rows(self, chat_id: int, user_ids: list[int] | None,
                               admins_only: bool) -> list[Row]:
        def txn(tx: Tx) -> list[Row]:
            sql = ("SELECT user_id, role, status, admin_rights, banned_rights, until_date"
                   " FROM chat_members WHERE chat_id = ?")
            args: list[Any] = [chat_id]
            if user_ids is not None:
                sql += f" AND user_id IN ({','.join('?' * len(user_ids))})"
                args += user_ids
            if admins_only:
                sql += " AND role IN ('owner', 'admin') AND status = 'member'"
            return tx.all(sql + " ORDER BY user_id LIMIT 200", args)

        return await self._db.read(txn)

    async def chat_kind(self, chat_id: int) -> str | None:
        chat = await self._db.read(chats.get, chat_id)
        return chat.type if chat else None


def _commands(tx: Tx, bot_id: int, scope: str, language: str) -> list[dict[str, str]]:
    row = tx.one("SELECT commands FROM bot_commands WHERE bot_id = ? AND scope = ?"
                 " AND language_code = ?", (bot_id, scope, language))
    if row is None and language:
        row = tx.one("SELECT commands FROM bot_commands WHERE bot_id = ? AND scope = ?"
                     " AND language_code = ''", (bot_id, scope))
    return msgspec.json.decode(row[0]) if row else []


def _set_cursor(tx: Tx, bot_id: int, chat_id: int, pts: int) -> None:
    changed = tx.execute("UPDATE bot_channels SET pts = ? WHERE bot_id = ? AND chat_id = ?",
                         (pts, bot_id, chat_id))
    if not changed:
        tx.execute("INSERT INTO bot_channels (bot_id, chat_id, pts) VALUES (?, ?, ?)",
                   (bot_id, chat_id, pts))


def _set_allowed(tx: Tx, bot: Bot, allowed: list[str]) -> None:
    # an empty list means the default set, as Telegram
    value = _json.encode(sorted(set(allowed))).decode() if allowed else None
    tx.execute("UPDATE bots SET allowed_updates = ? WHERE user_id = ?", (value, bot.user_id))
    bot.allowed_updates = sorted(set(allowed)) if allowed else None


def _encode_update(update_id: int, kind: str, obj: dict[str, Any]) -> str:
    return _json.encode({"update_id": update_id, kind: obj}).decode()
