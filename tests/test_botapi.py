"""kurir's Telegram Bot API on the raw wire: `/bot<token>/<method>` as the libraries call it.

Every test talks HTTP (httpx) to a live server: the bot through the Bot API, the people
through kurir's client API, so each checks what a bot gets and what a person in the chat sees.
What is checked: the envelopes and Telegram's error descriptions; parameters by query string,
JSON, urlencoded and multipart forms; getUpdates (offsets, limits, long polls, allowed_updates,
conflicts); formatting, replies, keyboards and callback queries; edits, deletes, forwards,
copies, files and albums; what a bot hears in groups and channels (privacy mode, admin bots,
member and reaction updates); the chat methods; webhooks (order, the secret header, retries,
refused addresses); Telegram's flood limits; that queued updates survive a SIGKILL; the CLI;
and the matrix of what a bot may do in a chat by its standing there.

Most tests use the shared server of each engine; those that need settings of their own
(flood limits, webhook networks, the callback timeout) or kill their server start one, on
SQLite only but for the durability test, which runs on both engines.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.conftest import Api, unique_name
from tests.server import ENGINES, TEST_ENV, Server

PASSWORD = "correct horse"
WAIT = 10.0  # seconds anything asynchronous may take before a test gives up
CHANNEL_BASE = 10**12  # the Bot API names a supergroup or channel -(10**12 + id): -100…
THUMBS_UP = "\U0001f44d"
FIRE = "\U0001f525"
UNAUTHORIZED = (401, "Unauthorized")
NOT_FOUND = (404, "Not Found")
CHAT_NOT_FOUND = (400, "Bad Request: chat not found")


def group_id(chat_id: int) -> int:
    """A basic group's id as the Bot API names it."""
    return -chat_id


def channel_id(chat_id: int) -> int:
    """A supergroup's or channel's id as the Bot API names it."""
    return -(CHANNEL_BASE + chat_id)


# the bot's side ----------------------------------------------------------------------------

@dataclass
class Bot:
    """A bot speaking the Bot API over raw HTTP; `offset` is the next update it has not
    confirmed."""

    http: httpx.AsyncClient
    token: str
    id: int
    username: str
    offset: int = 0

    def url(self, method: str, token: str | None = None) -> str:
        return f"/bot{self.token if token is None else token}/{method}"

    async def raw(self, method: str, params: dict[str, Any] | None = None, *,
                  token: str | None = None, timeout: float = 30) -> httpx.Response:
        return await self.http.post(self.url(method, token), json=params or {}, timeout=timeout)

    async def __call__(self, method: str, **params: Any) -> Any:
        r = await self.raw(method, params)
        body = r.json()
        assert r.status_code == 200 and body["ok"] is True, (method, params, r.status_code, body)
        assert set(body) == {"ok", "result"}, body
        return body["result"]

    async def error(self, method: str, **params: Any) -> tuple[int, str]:
        """A refusal's (error_code, description); its HTTP status is the error_code."""
        return envelope_error(await self.raw(method, params))

    async def poll(self, **params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = await self("getUpdates", **params)
        return found

    async def take(self, n: int, *, timeout: float = WAIT) -> list[dict[str, Any]]:
        """The next `n` updates (long polls until they are there); the ones before are
        confirmed, and these will be by the next take."""
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(got) < n:
            left = deadline - time.monotonic()
            assert left > 0, f"got {len(got)} of {n} updates: {got}"
            found = await self.poll(offset=self.offset, limit=n - len(got),
                                    timeout=max(1, int(min(left, 5))))
            got += found
            if found:
                self.offset = found[-1]["update_id"] + 1
        assert len(got) == n, got
        return got

    async def take_one(self, kind: str) -> dict[str, Any]:
        [update] = await self.take(1)
        assert kind in update, update
        obj: dict[str, Any] = update[kind]
        return obj

    async def through(self, text: str) -> list[dict[str, Any]]:
        """The updates up to and including the message (or post) with this text."""
        got: list[dict[str, Any]] = []
        while True:
            [u] = await self.take(1)
            got.append(u)
            msg = u.get("message") or u.get("channel_post") or {}
            if msg.get("text") == text:
                return got

    async def quiet(self) -> None:
        """Nothing more is queued for it (what came so far is confirmed)."""
        assert await self.poll(offset=self.offset) == []


def envelope_error(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert body["ok"] is False, body
    assert r.status_code == body["error_code"], (r.status_code, body)
    assert set(body) - {"parameters"} == {"ok", "error_code", "description"}, body
    return body["error_code"], body["description"]


async def new_bot(http: httpx.AsyncClient, owner: Api, name: str = "Test Bot") -> Bot:
    made = await owner("bots.create", username=unique_name("b") + "_bot", display_name=name)
    bot = made["bot"]
    assert bot["is_bot"] is True and made["token"].startswith(f"{bot['id']}:")
    return Bot(http, made["token"], bot["id"], bot["username"])


@pytest.fixture
def make_bot(http: httpx.AsyncClient, make_user: Callable[..., Any]) -> Callable[..., Any]:
    async def make(owner: Api | None = None, name: str = "Test Bot") -> Bot:
        return await new_bot(http, owner or await make_user("Bot Owner"), name)

    return make


def kinds(updates: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Updates by their kind, each kind in order (for updates whose relative order does
    not matter)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for u in updates:
        [kind] = [k for k in u if k != "update_id"]
        out.setdefault(kind, []).append(u[kind])
    return out


async def send(user: Api, text: str, **peer: Any) -> dict[str, Any]:
    """A person's message, with a fresh random_id."""
    msg: dict[str, Any] = await user("messages.send", text=text,
                                     random_id=secrets.randbits(62) + 1, **peer)
    return msg


async def started(user: Api, bot: Bot) -> int:
    """The user opens the bot's private chat with /start and the bot reads it; kurir's id of
    that chat (the bot calls it by the user's id)."""
    mine = await send(user, "/start", user_id=bot.id)
    msg = await bot.take_one("message")
    assert msg["text"] == "/start" and msg["chat"] == {
        "id": user.id, "type": "private", "first_name": user.user["display_name"],
        "username": user.user["username"]}, msg
    return int(mine["chat_id"])


async def history(user: Api, chat_id: int, limit: int = 100) -> list[dict[str, Any]]:
    """The chat as the person sees it, newest first."""
    msgs: list[dict[str, Any]] = (await user("messages.getHistory", chat_id=chat_id,
                                             limit=limit))["messages"]
    return msgs


async def latest(user: Api, chat_id: int) -> dict[str, Any]:
    return (await history(user, chat_id, 1))[0]


def jpeg(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, "JPEG")
    return out.getvalue()


async def until(check: Callable[[], Awaitable[Any]], what: str, timeout: float = WAIT) -> Any:
    """Poll `check` until it gives something true (no fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    update: dict[str, Any]


@dataclass
class Receiver:
    """A webhook's receiving end on a free loopback port: a few lines of HTTP/1.1 over
    asyncio streams, recording each POST it accepted. It answers 500 to the first
    `fail_first` requests."""

    fail_first: int = 0
    got: list[Hook] = field(default_factory=list)
    attempts: int = 0
    port: int = 0
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook/path"

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                line, *fields = head.split("\r\n")
                headers = {}
                for f in fields:
                    if ":" in f:
                        k, v = f.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.attempts += 1
                if self.attempts <= self.fail_first:
                    status = b"500 Internal Server Error"
                else:
                    self.got.append(Hook(line.split(" ")[1], headers, json.loads(body)))
                    status = b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def wait_for(self, n: int, timeout: float = WAIT) -> list[Hook]:
        async def enough() -> bool:
            return len(self.got) >= n

        try:
            await until(enough, f"{n} webhook requests", timeout)
        except AssertionError:
            raise AssertionError(f"{n} webhook requests expected, {self.attempts} came;"
                                 f" accepted: {self.got}") from None
        return self.got


# envelopes, tokens, method names --------------------------------------------------------------

async def test_envelopes_tokens_and_method_names(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner = await make_user("Owner")
    bot = await make_bot(owner, "Helper")
    r = await http.get(bot.url("getMe"))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    me = r.json()
    assert me == {"ok": True, "result": {
        "id": bot.id, "is_bot": True, "first_name": "Helper", "username": bot.username,
        "can_join_groups": True, "can_read_all_group_messages": False,
        "supports_inline_queries": False, "can_connect_to_business": False,
        "has_main_web_app": False}}
    # method names are case-insensitive, by GET and by POST
    for name in ("getme", "GETME", "GetMe"):
        assert (await http.get(bot.url(name))).json() == me
        assert (await http.post(bot.url(name))).json() == me
    # an unknown method: 404, whatever the case
    for name in ("getYou", "sendmessages", "getMe2"):
        assert envelope_error(await http.post(bot.url(name))) == NOT_FOUND
    # a bad token: 401 "Unauthorized", before the method is looked at
    secret = bot.token.split(":", 1)[1]
    for token in ("nope", f"{bot.id}:wrong", f"{bot.id + 1}:{secret}", f"{bot.id}:", ":",
                  owner.token or ""):
        for name in ("getMe", "noSuchMethod"):
            r = await http.post(bot.url(name, token))
            assert envelope_error(r) == UNAUTHORIZED, (token, name)
    # a bot's token is not a person's: the client API refuses it
    r = await http.post("/api/v1/updates.getState",
                        headers={"Authorization": f"Bearer {bot.token}"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "AUTH_KEY_INVALID"
    # an error's HTTP status is its error_code, here a 400
    assert await bot.error("sendMessage", text="x") == (400, "Bad Request: chat_id is empty")


async def test_parameters_by_query_json_urlencoded_and_multipart(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user("Alice")
    bot = await make_bot()
    chat = await started(user, bot)
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "y"}]]}
    sent = []
    # a GET query string, objects as JSON text
    r = await http.get(bot.url("sendMessage"), params={
        "chat_id": str(user.id), "text": "by query", "reply_markup": json.dumps(keyboard)})
    sent.append(r)
    # a JSON body (a number may come as a string)
    sent.append(await http.post(bot.url("sendMessage"), json={
        "chat_id": str(user.id), "text": "by json", "reply_markup": keyboard}))
    # a urlencoded form
    sent.append(await http.post(bot.url("sendMessage"), data={
        "chat_id": str(user.id), "text": "by form", "reply_markup": json.dumps(keyboard)}))
    # a multipart form (a file makes httpx send one)
    sent.append(await http.post(bot.url("sendMessage"), data={
        "chat_id": str(user.id), "text": "by multipart", "reply_markup": json.dumps(keyboard)},
        files={"unused": ("a.txt", b"x", "text/plain")}))
    for r in sent:
        assert r.status_code == 200, r.text
    texts = [r.json()["result"]["text"] for r in sent]
    assert texts == ["by query", "by json", "by form", "by multipart"]
    assert all(r.json()["result"]["reply_markup"] == keyboard for r in sent)
    seen = await history(user, chat)
    assert [m["text"] for m in seen[:4]] == texts[::-1]
    assert all(m["reply_markup"] == keyboard for m in seen[:4])

    # booleans as forms spell them: "True" and "true" (python libraries send str(True))
    for spelling in ("True", "true", "1"):
        await send(user, f"dropped ({spelling})", user_id=bot.id)
        r = await http.post(bot.url("deleteWebhook"), data={"drop_pending_updates": spelling})
        assert r.json() == {"ok": True, "result": True}, spelling
    for spelling in ("False", "false", "0"):
        await send(user, f"kept ({spelling})", user_id=bot.id)
        r = await http.post(bot.url("deleteWebhook"), data={"drop_pending_updates": spelling})
        assert r.json() == {"ok": True, "result": True}, spelling
    assert [u["message"]["text"] for u in await bot.take(3)] == [
        "kept (False)", "kept (false)", "kept (0)"]
    r = await http.post(bot.url("deleteWebhook"), data={"drop_pending_updates": "maybe"})
    assert envelope_error(r) == (400, "Bad Request: can't parse drop_pending_updates as Boolean")

    # a file named by attach:// in a multipart form
    data = b"attached by name\n"
    r = await http.post(bot.url("sendDocument"), data={
        "chat_id": str(user.id), "document": "attach://thefile", "caption": "attached"},
        files={"thefile": ("notes.txt", data, "text/plain")})
    doc = r.json()["result"]
    assert r.status_code == 200 and doc["caption"] == "attached", r.text
    assert (doc["document"]["file_name"], doc["document"]["file_size"]) == ("notes.txt",
                                                                          len(data))
    r = await http.post(bot.url("sendDocument"), data={
        "chat_id": str(user.id), "document": "attach://missing"},
        files={"thefile": ("notes.txt", data, "text/plain")})
    assert envelope_error(r) == (400, "Bad Request: file attach://missing not found in the"
                                      " request")
    # bodies that are not what they say
    r = await http.post(bot.url("sendMessage"), content=b"{not json",
                        headers={"Content-Type": "application/json"})
    assert envelope_error(r) == (400, "Bad Request: can't parse JSON object")
    r = await http.post(bot.url("sendMessage"), data={
        "chat_id": str(user.id), "text": "x", "reply_markup": "{broken"})
    assert envelope_error(r) == (400, "Bad Request: can't parse reply_markup JSON object")


async def test_telegrams_descriptions_for_missing_and_unknown(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    await started(user, bot)
    assert await bot.error("sendMessage", text="hi") == (400, "Bad Request: chat_id is empty")
    assert await bot.error("sendMessage", chat_id=user.id) == (
        400, "Bad Request: message text is empty")
    assert await bot.error("sendMessage", chat_id=user.id, text="") == (
        400, "Bad Request: message text is empty")
    for chat in (-999_999_999, -(CHANNEL_BASE + 999_999_999), "@no_such_chat_here", "nonsense"):
        assert await bot.error("sendMessage", chat_id=chat, text="hi") == CHAT_NOT_FOUND, chat
    assert await bot.error("sendPhoto", chat_id=user.id) == (
        400, "Bad Request: there is no photo in the request")
    assert await bot.error("sendMessage", chat_id=user.id, text="x" * 4097) == (
        400, "Bad Request: message is too long")
    assert await bot.error("getUpdates", offset="soon") == (
        400, "Bad Request: can't parse offset as Integer")


async def test_a_bot_answers_but_does_not_start_a_private_chat(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user("Bob")
    bot = await make_bot()
    forbidden = (403, "Forbidden: bot can't initiate conversation with a user")
    assert await bot.error("sendMessage", chat_id=user.id, text="hello?") == forbidden
    assert await bot.error("getChat", chat_id=user.id) == forbidden
    other = await make_bot()
    assert await bot.error("sendMessage", chat_id=other.id, text="hi bot") == (
        403, "Forbidden: bot can't send messages to bots")
    chat = await started(user, bot)
    msg = await bot("sendMessage", chat_id=user.id, text="hello, Bob")
    assert msg["chat"]["id"] == user.id and msg["from"]["id"] == bot.id
    assert msg["from"] == {"id": bot.id, "is_bot": True, "first_name": "Test Bot",
                           "username": bot.username}
    seen = await latest(user, chat)
    assert (seen["id"], seen["from_id"], seen["text"]) == (msg["message_id"], bot.id,
                                                           "hello, Bob")
    # a bot is not told of its own messages
    await bot.quiet()


# getUpdates ---------------------------------------------------------------------------------

async def test_get_updates_offsets_and_limits(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    for i in range(6):
        await send(user, f"m{i}", user_id=bot.id)
    first = await bot.poll()
    ids = [u["update_id"] for u in first]
    assert [u["message"]["text"] for u in first] == [f"m{i}" for i in range(6)]
    assert ids == list(range(ids[0], ids[0] + 6)) and ids[0] >= 1
    assert await bot.poll() == first  # nothing is confirmed without an offset
    assert await bot.poll(limit=2) == first[:2]
    assert await bot.poll(limit=0) == first[:1]  # clamped to 1..100, as Telegram
    assert await bot.poll(offset=ids[2], limit=2) == first[2:4]
    # confirmed ones are gone for good: an offset below them brings nothing back
    assert await bot.poll() == first[2:]
    assert await bot.poll(offset=ids[0]) == first[2:]
    # a negative offset: the last -offset updates, and the older ones are dropped
    assert await bot.poll(offset=-2) == first[4:]
    assert await bot.poll() == first[4:]
    assert await bot.poll(offset=ids[-1] + 1) == []
    # ids keep counting
    await send(user, "later", user_id=bot.id)
    [later] = await bot.poll()
    assert later["update_id"] == ids[-1] + 1


async def test_long_poll_wakes_on_a_new_message(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    t0 = time.monotonic()
    assert await bot.poll(timeout=1) == []
    assert 0.9 <= time.monotonic() - t0 < 3
    poll = asyncio.create_task(bot.poll(timeout=20))
    await asyncio.sleep(0.2)  # the poll is waiting
    assert not poll.done()
    await send(user, "wake up", user_id=bot.id)
    sent = time.monotonic()
    got = await asyncio.wait_for(poll, 5)
    assert time.monotonic() - sent < 1.0
    assert [u["message"]["text"] for u in got] == ["wake up"]


async def test_allowed_updates_filter_and_persist(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    msg = await bot("sendMessage", chat_id=user.id, text="react to me")
    # by default: no message_reaction
    await user("messages.react", chat_id=chat, message_id=msg["message_id"], emoji=THUMBS_UP)
    await send(user, "one", user_id=bot.id)
    assert (await bot.take_one("message"))["text"] == "one"
    # only reactions from now on, and the choice is kept by later calls without it
    assert await bot.poll(offset=bot.offset, allowed_updates=["message_reaction"]) == []
    await send(user, "unseen", user_id=bot.id)
    await user("messages.react", chat_id=chat, message_id=msg["message_id"], emoji=FIRE)
    reaction = await bot.take_one("message_reaction")
    assert reaction["message_id"] == msg["message_id"] and reaction["user"]["id"] == user.id
    assert reaction["new_reaction"] == [{"type": "emoji", "emoji": FIRE}]
    assert reaction["old_reaction"] == [{"type": "emoji", "emoji": THUMBS_UP}]
    assert reaction["chat"]["id"] == user.id
    # as JSON text in a query string too; [] means the default set again
    r = await bot.http.get(bot.url("getUpdates"), params={
        "offset": str(bot.offset), "allowed_updates": "[]"})
    assert r.json() == {"ok": True, "result": []}
    await user("messages.react", chat_id=chat, message_id=msg["message_id"], emoji=THUMBS_UP)
    await send(user, "seen", user_id=bot.id)
    assert (await bot.take_one("message"))["text"] == "seen"
    assert await bot.error("getUpdates", allowed_updates=["no_such_update"]) == (
        400, "Bad Request: unknown update type no_such_update")


async def test_a_second_poller_ends_the_first_with_409(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    first = asyncio.create_task(bot.raw("getUpdates", {"timeout": 20}))
    await asyncio.sleep(0.3)  # the first is waiting
    assert not first.done()
    t0 = time.monotonic()
    second = asyncio.create_task(bot.raw("getUpdates", {"timeout": 20}))
    assert envelope_error(await asyncio.wait_for(first, 5)) == (
        409, "Conflict: terminated by other getUpdates request; make sure that only one bot"
             " instance is running")
    assert time.monotonic() - t0 < 2
    await send(user, "for the second", user_id=bot.id)
    r = await asyncio.wait_for(second, 5)
    assert [u["message"]["text"] for u in r.json()["result"]] == ["for the second"]


async def test_get_updates_refused_while_a_webhook_is_set(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    bot = await make_bot()
    async with Receiver() as hook:
        assert await bot("setWebhook", url=hook.url) is True
        assert await bot.error("getUpdates") == (
            409, "Conflict: can't use getUpdates method while webhook is active; use"
                 " deleteWebhook to delete the webhook first")
        assert await bot("deleteWebhook") is True
        assert await bot.poll() == []


# sending: formatting, replies, keyboards -----------------------------------------------------

async def test_parse_modes_give_the_user_entities(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    html = await bot("sendMessage", chat_id=user.id, parse_mode="HTML",
                     text='<b>bold</b> and <a href="https://example.org/">a link</a>')
    assert html["text"] == "bold and a link"
    want = [{"type": "bold", "offset": 0, "length": 4},
            {"type": "text_link", "offset": 9, "length": 6, "url": "https://example.org/"}]
    assert html["entities"] == want
    seen = await latest(user, chat)
    assert (seen["text"], seen["entities"]) == ("bold and a link", want)

    md = await bot("sendMessage", chat_id=user.id, parse_mode="MarkdownV2",
                   text="*bold* _it_ `code` 1\\.5")
    want = [{"type": "bold", "offset": 0, "length": 4},
            {"type": "italic", "offset": 5, "length": 2},
            {"type": "code", "offset": 8, "length": 4}]
    assert (md["text"], md["entities"]) == ("bold it code 1.5", want)
    seen = await latest(user, chat)
    assert (seen["text"], seen["entities"]) == ("bold it code 1.5", want)
    # entities given as they are
    given = await bot("sendMessage", chat_id=user.id, text="plain bold",
                      entities=[{"type": "bold", "offset": 6, "length": 4}])
    assert given["entities"] == [{"type": "bold", "offset": 6, "length": 4}]
    # bad markup: Telegram's words, nothing sent
    code, description = await bot.error("sendMessage", chat_id=user.id, parse_mode="MarkdownV2",
                                        text="1.5")
    assert code == 400 and description.startswith("Bad Request: can't parse entities"), (
        description)
    assert (await latest(user, chat))["id"] == given["message_id"]


async def test_reply_parameters(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    question = await send(user, "what time is it?", user_id=bot.id)
    await bot.take(1)
    answer = await bot("sendMessage", chat_id=user.id, text="noon",
                       reply_parameters={"message_id": question["id"]})
    assert answer["reply_to_message"]["message_id"] == question["id"]
    assert answer["reply_to_message"]["text"] == "what time is it?"
    assert (await latest(user, chat))["reply_to"] == question["id"]
    # the older parameter still works
    legacy = await bot("sendMessage", chat_id=user.id, text="still noon",
                       reply_to_message_id=question["id"])
    assert (await latest(user, chat))["reply_to"] == question["id"] == legacy[
        "reply_to_message"]["message_id"]
    # a message that is not there
    assert await bot.error("sendMessage", chat_id=user.id, text="to nothing",
                           reply_parameters={"message_id": 9999}) == (
        400, "Bad Request: message to be replied not found")
    sent = await bot("sendMessage", chat_id=user.id, text="to nothing, anyway",
                     reply_parameters={"message_id": 9999, "allow_sending_without_reply": True})
    assert "reply_to_message" not in sent
    seen = await latest(user, chat)
    assert (seen["id"], seen.get("reply_to")) == (sent["message_id"], None)
    # a user's reply to the bot carries the bot's message
    await send(user, "thanks", user_id=bot.id, reply_to=answer["message_id"])
    msg = await bot.take_one("message")
    assert msg["reply_to_message"]["message_id"] == answer["message_id"]
    assert msg["reply_to_message"]["from"]["id"] == bot.id


async def test_reply_keyboards_are_stored_as_sent(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    markups = [
        {"keyboard": [[{"text": "Red"}, {"text": "Blue"}], [{"text": "Share", "request_contact":
                                                             True}]],
         "resize_keyboard": True, "one_time_keyboard": True,
         "input_field_placeholder": "a colour"},
        {"remove_keyboard": True},
        {"force_reply": True, "input_field_placeholder": "your name"},
        {"inline_keyboard": [[{"text": "Docs", "url": "https://example.org/"},
                              {"text": "Go", "callback_data": "go"}]]},
    ]
    for i, markup in enumerate(markups):
        await bot("sendMessage", chat_id=user.id, text=f"markup {i}", reply_markup=markup)
        seen = await latest(user, chat)
        assert (seen["text"], seen["reply_markup"]) == (f"markup {i}", markup)
    # plain strings are buttons too (an older form)
    await bot("sendMessage", chat_id=user.id, text="strings",
              reply_markup={"keyboard": [["Yes", "No"]]})
    assert (await latest(user, chat))["reply_markup"] == {
        "keyboard": [[{"text": "Yes"}, {"text": "No"}]]}
    for bad in ({"inline_keyboard": [[{"text": "no action"}]]},
                {"inline_keyboard": "nope"}, {"something": True}):
        code, _ = await bot.error("sendMessage", chat_id=user.id, text="bad", reply_markup=bad)
        assert code == 400, bad
    assert await bot.error("sendMessage", chat_id=user.id, text="x", reply_markup={
        "inline_keyboard": [[{"text": "long", "callback_data": "x" * 65}]]}) == (
        400, "Bad Request: BUTTON_DATA_INVALID")
    assert (await latest(user, chat))["text"] == "strings"


async def test_inline_buttons_and_callback_answers(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user("Presser")
    bot = await make_bot()
    chat = await started(user, bot)
    keyboard = {"inline_keyboard": [[{"text": "A", "callback_data": "pick:a"},
                                     {"text": "B", "callback_data": "pick:b"}]]}
    msg = await bot("sendMessage", chat_id=user.id, text="choose", reply_markup=keyboard)
    press = asyncio.create_task(user("messages.getBotCallbackAnswer", chat_id=chat,
                                     message_id=msg["message_id"], data="pick:b"))
    query = await bot.take_one("callback_query")
    assert not press.done()
    assert query["data"] == "pick:b" and query["from"]["id"] == user.id
    assert query["message"]["message_id"] == msg["message_id"]
    assert query["message"]["reply_markup"] == keyboard
    assert isinstance(query["chat_instance"], str) and isinstance(query["id"], str)
    assert await bot("answerCallbackQuery", callback_query_id=query["id"], text="B it is",
                     show_alert=True) is True
    assert await asyncio.wait_for(press, 5) == {"alert": True, "message": "B it is"}
    # answered once only
    assert await bot.error("answerCallbackQuery", callback_query_id=query["id"]) == (
        400, "Bad Request: query is too old and response timeout expired or query ID is"
             " invalid")
    # an answer with nothing to say, and one with a URL
    for answer, expected in (({}, {"alert": False}),
                             ({"url": "https://example.org/game"},
                              {"alert": False, "url": "https://example.org/game"})):
        press = asyncio.create_task(user("messages.getBotCallbackAnswer", chat_id=chat,
                                         message_id=msg["message_id"], data="pick:a"))
        query = await bot.take_one("callback_query")
        assert await bot("answerCallbackQuery", callback_query_id=query["id"], **answer)
        assert await asyncio.wait_for(press, 5) == expected
    # a button the message does not have; a message without buttons
    assert await user.error("messages.getBotCallbackAnswer", chat_id=chat,
                            message_id=msg["message_id"], data="pick:c") == (400,
                                                                             "DATA_INVALID")
    plain = await bot("sendMessage", chat_id=user.id, text="no buttons")
    assert await user.error("messages.getBotCallbackAnswer", chat_id=chat,
                            message_id=plain["message_id"], data="pick:a") == (400,
                                                                               "DATA_INVALID")
    # another bot may not answer this bot's query
    press = asyncio.create_task(user("messages.getBotCallbackAnswer", chat_id=chat,
                                     message_id=msg["message_id"], data="pick:a"))
    query = await bot.take_one("callback_query")
    other = await make_bot()
    code, _ = await other.error("answerCallbackQuery", callback_query_id=query["id"])
    assert code == 400
    assert await bot("answerCallbackQuery", callback_query_id=query["id"], text="mine")
    assert await asyncio.wait_for(press, 5) == {"alert": False, "message": "mine"}
    await bot.quiet()


# edits, deletes, forwards, copies ------------------------------------------------------------

async def test_edit_message_text_caption_and_markup(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    keyboard = {"inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]}
    msg = await bot("sendMessage", chat_id=user.id, text="draft", reply_markup=keyboard)
    edited = await bot("editMessageText", chat_id=user.id, message_id=msg["message_id"],
                       text="<i>final</i>", parse_mode="HTML", reply_markup=keyboard)
    assert (edited["text"], edited["entities"], edited["reply_markup"]) == (
        "final", [{"type": "italic", "offset": 0, "length": 5}], keyboard)
    assert edited["edit_date"] >= msg["date"]
    seen = await latest(user, chat)
    assert (seen["text"], seen["reply_markup"]) == ("final", keyboard) and seen["edit_date"]
    # the markup alone; then none (an edit without reply_markup takes the keyboard away)
    other = {"inline_keyboard": [[{"text": "Stop", "callback_data": "stop"}]]}
    res = await bot("editMessageReplyMarkup", chat_id=user.id, message_id=msg["message_id"],
                    reply_markup=other)
    assert (res["text"], res["reply_markup"]) == ("final", other)
    assert (await latest(user, chat))["reply_markup"] == other
    res = await bot("editMessageText", chat_id=user.id, message_id=msg["message_id"],
                    text="final, no buttons")
    assert "reply_markup" not in res
    assert (await latest(user, chat)).get("reply_markup") is None
    code, description = await bot.error("editMessageText", chat_id=user.id,
                                        message_id=msg["message_id"], text="final, no buttons")
    assert (code, description.split(":")[:2]) == (400, ["Bad Request", " message is not modified"])
    # a caption
    r = await http.post(bot.url("sendDocument"), data={"chat_id": str(user.id),
                                                       "caption": "v1"},
                        files={"document": ("report.txt", b"numbers\n", "text/plain")})
    doc = r.json()["result"]
    res = await bot("editMessageCaption", chat_id=user.id, message_id=doc["message_id"],
                    caption="*v2*", parse_mode="MarkdownV2")
    assert (res["caption"], res["caption_entities"]) == (
        "v2", [{"type": "bold", "offset": 0, "length": 2}])
    seen = await latest(user, chat)
    assert (seen["text"], seen["media"]["file_id"]) == ("v2", doc["document"]["file_id"])
    assert await bot.error("editMessageText", chat_id=user.id, message_id=doc["message_id"],
                           text="x") == (400, "Bad Request: there is no text in the message to"
                                              " edit")
    assert await bot.error("editMessageCaption", chat_id=user.id,
                           message_id=msg["message_id"], caption="x") == (
        400, "Bad Request: there is no caption in the message to edit")
    # someone else's message, and one that is not there
    mine = await send(user, "mine", user_id=bot.id)
    assert await bot.error("editMessageText", chat_id=user.id, message_id=mine["id"],
                           text="yours") == (400, "Bad Request: message can't be edited")
    assert await bot.error("editMessageText", chat_id=user.id, message_id=9999,
                           text="x") == (400, "Bad Request: message to edit not found")
    assert await bot.error("editMessageText", inline_message_id="abc", text="x") == (
        400, "Bad Request: inline messages are not supported by this server")


async def test_delete_messages(make_user: Callable[..., Any], make_bot: Callable[..., Any]) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    ids = [(await bot("sendMessage", chat_id=user.id, text=f"m{i}"))["message_id"]
           for i in range(4)]
    assert await bot("deleteMessage", chat_id=user.id, message_id=ids[0]) is True
    assert await bot.error("deleteMessage", chat_id=user.id, message_id=ids[0]) == (
        400, "Bad Request: message to delete not found")
    assert await bot("deleteMessages", chat_id=user.id, message_ids=ids[1:3]) is True
    assert [m["id"] for m in await history(user, chat)] == [ids[3], 1]
    # in a private chat either side may delete for both, as in Telegram
    theirs = await send(user, "oops", user_id=bot.id)
    assert await bot("deleteMessage", chat_id=user.id, message_id=theirs["id"]) is True
    assert [m["id"] for m in await history(user, chat)] == [ids[3], 1]
    assert await bot.error("deleteMessages", chat_id=user.id, message_ids=[]) == (
        400, "Bad Request: message_ids is empty")


async def test_forward_and_copy(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    bot = await make_bot()
    alice_chat = await started(alice, bot)
    bob_chat = await started(bob, bot)
    note = await send(alice, "*pass* it on", user_id=bot.id,
                      entities=[{"type": "bold", "offset": 0, "length": 6}])
    await bot.take(1)
    fwd = await bot("forwardMessage", chat_id=bob.id, from_chat_id=alice.id,
                    message_id=note["id"])
    assert fwd["text"] == note["text"] and fwd["forward_origin"]["type"] == "user"
    assert fwd["forward_origin"]["sender_user"]["id"] == alice.id
    seen = await latest(bob, bob_chat)
    assert (seen["text"], seen["fwd_from"]["from_id"]) == (note["text"], alice.id)
    copy = await bot("copyMessage", chat_id=bob.id, from_chat_id=alice.id,
                     message_id=note["id"])
    assert set(copy) == {"message_id"}
    seen = await latest(bob, bob_chat)
    assert (seen["id"], seen["text"], seen["entities"], seen["from_id"]) == (
        copy["message_id"], note["text"], note["entities"], bot.id)
    assert "fwd_from" not in seen
    copy = await bot("copyMessage", chat_id=bob.id, from_chat_id=alice.id,
                     message_id=note["id"], caption="new words")
    assert (await latest(bob, bob_chat))["text"] == "new words"
    more = [(await send(alice, f"n{i}", user_id=bot.id))["id"] for i in range(2)]
    await bot.take(2)
    fwds = await bot("forwardMessages", chat_id=bob.id, from_chat_id=alice.id,
                     message_ids=more[::-1])
    copies = await bot("copyMessages", chat_id=bob.id, from_chat_id=alice.id, message_ids=more)
    assert len(fwds) == len(copies) == 2
    assert [m["text"] for m in (await history(bob, bob_chat))[:4]] == ["n1", "n0", "n1", "n0"]
    # nothing from a chat the bot is not in, nothing that is not there
    stranger = await make_user()
    assert await bot.error("forwardMessage", chat_id=bob.id, from_chat_id=stranger.id,
                           message_id=1) == (
        403, "Forbidden: bot can't initiate conversation with a user")
    assert await bot.error("copyMessage", chat_id=bob.id, from_chat_id=alice.id,
                           message_id=9999) == (400, "Bad Request: message to copy not found")
    assert (await latest(alice, alice_chat))["id"] == more[-1]


# files -------------------------------------------------------------------------------------

async def test_photos_and_documents_by_upload_and_by_file_id(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    r = await http.post(bot.url("sendPhoto"), data={"chat_id": str(user.id),
                                                    "caption": "<b>red</b>",
                                                    "parse_mode": "HTML"},
                        files={"photo": ("red.jpg", jpeg((640, 480)), "image/jpeg")})
    photo = r.json()["result"]
    assert r.status_code == 200, r.text
    sizes = photo["photo"]
    assert (sizes[-1]["width"], sizes[-1]["height"]) == (640, 480)
    assert [s["width"] * s["height"] for s in sizes] == sorted(s["width"] * s["height"]
                                                                for s in sizes)
    assert (photo["caption"], photo["caption_entities"]) == (
        "red", [{"type": "bold", "offset": 0, "length": 3}])
    seen = await latest(user, chat)
    assert (seen["media"]["kind"], seen["media"]["file_id"], seen["text"]) == (
        "photo", sizes[-1]["file_id"], "red")
    # the same photo again by its file_id: nothing uploaded
    again = await bot("sendPhoto", chat_id=user.id, photo=sizes[-1]["file_id"])
    assert again["photo"][-1]["file_id"] == sizes[-1]["file_id"]

    data = secrets.token_bytes(3000)
    r = await http.post(bot.url("sendDocument"), data={"chat_id": str(user.id)},
                        files={"document": ("blob.bin", data, "application/octet-stream")})
    doc = r.json()["result"]["document"]
    assert (doc["file_name"], doc["file_size"], doc["mime_type"]) == (
        "blob.bin", len(data), "application/octet-stream")
    # getFile, then the download at /file/bot<token>/<file_path>
    info = await bot("getFile", file_id=doc["file_id"])
    assert (info["file_id"], info["file_size"]) == (doc["file_id"], len(data))
    r = await http.get(f"/file/bot{bot.token}/{info['file_path']}")
    assert (r.status_code, r.content) == (200, data)
    r = await http.get(f"/file/bot{bot.token}/{info['file_path']}",
                       headers={"Range": "bytes=10-19"})
    assert (r.status_code, r.content) == (206, data[10:20])
    # the user downloads what the bot sent
    r = await http.get(f"/api/v1/files/{doc['file_id']}",
                       headers={"Authorization": f"Bearer {user.token}"})
    assert (r.status_code, r.content) == (200, data)
    # a file the user sent to the bot is the bot's to read too
    upload = await _upload(http, user, "from-user.txt", b"user's file\n")
    await user("messages.sendMedia", user_id=bot.id, file_id=upload, kind="document",
               random_id=secrets.randbits(62))
    got = await bot.take_one("message")
    assert got["document"]["file_id"] == upload and got["document"]["file_name"] == (
        "from-user.txt")
    path = (await bot("getFile", file_id=upload))["file_path"]
    r = await http.get(f"/file/bot{bot.token}/{path}")
    assert (r.status_code, r.content) == (200, b"user's file\n")
    # a document by file_id
    await bot("sendDocument", chat_id=user.id, document=upload, caption="back to you")
    seen = await latest(user, chat)
    assert (seen["media"]["file_id"], seen["text"]) == (upload, "back to you")


async def test_files_a_bot_cannot_see(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user, stranger = await make_user(), await make_user()
    bot, other = await make_bot(), await make_bot()
    await started(user, bot)
    private = await _upload(http, stranger, "secret.txt", b"not for bots\n")
    r = await http.post(bot.url("sendDocument"), data={"chat_id": str(user.id)},
                        files={"document": ("bots.txt", b"the bot's\n", "text/plain")})
    bots_file = r.json()["result"]["document"]["file_id"]
    for file_id in (private, "no-such-file"):
        assert await bot.error("getFile", file_id=file_id) == (
            400, "Bad Request: invalid file_id")
        r = await http.get(f"/file/bot{bot.token}/{file_id}/secret.txt")
        assert envelope_error(r) == NOT_FOUND
        assert await bot.error("sendDocument", chat_id=user.id, document=file_id) == (
            400, "Bad Request: wrong file identifier/HTTP URL specified")
    # another bot does not see what this one sent to its user
    assert await other.error("getFile", file_id=bots_file) == (400, "Bad Request: invalid"
                                                                    " file_id")
    r = await http.get(f"/file/bot{other.token}/{bots_file}/bots.txt")
    assert envelope_error(r) == NOT_FOUND
    # a bad token downloads nothing
    r = await http.get(f"/file/bot{bot.id}:nope/{bots_file}/bots.txt")
    assert envelope_error(r) == UNAUTHORIZED
    # files are uploaded, not fetched from URLs
    code, description = await bot.error("sendPhoto", chat_id=user.id,
                                        photo="http://127.0.0.1:1/x.jpg")
    assert code == 400 and description.startswith("Bad Request: wrong HTTP URL specified")


async def test_send_media_group(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    media = [{"type": "photo", "media": "attach://one", "caption": "<b>first</b>",
              "parse_mode": "HTML"},
             {"type": "photo", "media": "attach://two"}]
    r = await http.post(bot.url("sendMediaGroup"), data={
        "chat_id": str(user.id), "media": json.dumps(media)}, files={
        "one": ("one.jpg", jpeg(color="red"), "image/jpeg"),
        "two": ("two.jpg", jpeg(color="blue"), "image/jpeg")})
    msgs = r.json()["result"]
    assert r.status_code == 200 and len(msgs) == 2, r.text
    group = {m["media_group_id"] for m in msgs}
    assert len(group) == 1
    assert msgs[0]["caption"] == "first" and msgs[0]["caption_entities"] == [
        {"type": "bold", "offset": 0, "length": 5}]
    assert msgs[1]["message_id"] == msgs[0]["message_id"] + 1
    seen = (await history(user, chat, 2))[::-1]
    assert [m["id"] for m in seen] == [m["message_id"] for m in msgs]
    assert len({m["media"]["album_id"] for m in seen}) == 1
    assert [m["media"]["file_id"] for m in seen] == [m["photo"][-1]["file_id"] for m in msgs]
    # again by file_id, as JSON
    again = await bot("sendMediaGroup", chat_id=user.id, media=[
        {"type": "photo", "media": m["photo"][-1]["file_id"]} for m in msgs])
    assert len(again) == 2 and again[0]["media_group_id"] != msgs[0]["media_group_id"]
    assert await bot.error("sendMediaGroup", chat_id=user.id, media=media[:1]) == (
        400, "Bad Request: wrong number of items in the media group: must be 2-10")


async def _upload(http: httpx.AsyncClient, user: Api, name: str, data: bytes) -> str:
    """A file of the user's (kurir's client API), sent nowhere yet."""
    started_ = await user("upload.start", name=name, size=len(data))
    r = await http.put(f"/api/v1/upload/{started_['upload_id']}/0", content=data,
                       headers={"Authorization": f"Bearer {user.token}"})
    assert r.status_code == 200, r.text
    return str((await user("upload.finish", upload_id=started_["upload_id"]))["file_id"])


# what a bot hears in groups and channels -------------------------------------------------------

async def test_group_privacy_mode(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    bot = await make_bot(owner)
    other = await make_bot(owner)
    group = await owner("chats.createGroup", title="Privacy",
                        user_ids=[member.id, bot.id, other.id])
    gid = group["id"]
    for b in (bot, other):
        joined = kinds(await b.take(2))
        assert joined["my_chat_member"][0]["new_chat_member"]["status"] == "member"
        [created] = joined["message"]
        assert created["group_chat_created"] is True
        assert {u["id"] for u in created["new_chat_members"]} == {member.id, bot.id, other.id}
        assert created["chat"] == {"id": group_id(gid), "type": "group", "title": "Privacy"}
    # privacy on (the default): commands to it, mentions of it, replies to it
    mine = await bot("sendMessage", chat_id=group_id(gid), text="I am here")
    await send(member, "just chatting", chat_id=gid)
    await send(member, f"/help@{other.username}", chat_id=gid)
    await send(member, "/help", chat_id=gid)
    await send(member, f"/start@{bot.username} now", chat_id=gid)
    await send(member, f"hey @{bot.username}", chat_id=gid)
    await send(member, "a reply", chat_id=gid, reply_to=mine["message_id"])
    await send(member, "nothing for bots", chat_id=gid)
    await send(member, "/last", chat_id=gid)
    got = [u["message"]["text"] for u in await bot.take(5)]
    assert got == ["/help", f"/start@{bot.username} now", f"hey @{bot.username}",
                   "a reply", "/last"]
    got = [u["message"]["text"] for u in await other.take(3)]
    assert got == [f"/help@{other.username}", "/help", "/last"]
    # privacy off: everything but what other bots say (as Telegram: no loops of bots)
    assert await owner("bots.setPrivacy", bot_id=bot.id, enabled=False) is True
    assert (await bot("getMe"))["can_read_all_group_messages"] is True
    await other("sendMessage", chat_id=group_id(gid), text="bot chatter")
    await send(member, "small talk", chat_id=gid)
    msg = await bot.take_one("message")
    assert (msg["text"], msg["from"]["id"]) == ("small talk", member.id)
    await send(member, "/marker", chat_id=gid)
    assert (await other.take_one("message"))["text"] == "/marker"
    assert (await bot.take_one("message"))["text"] == "/marker"


async def test_an_admin_bot_hears_everything(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, member = await make_user(), await make_user()
    bot = await make_bot(owner)
    group = await owner("chats.createGroup", title="Admins", user_ids=[member.id, bot.id])
    gid = group["id"]
    await bot.take(2)
    assert await owner("chats.editAdmin", chat_id=gid, user_id=bot.id, is_admin=True)
    promoted = await bot.take_one("my_chat_member")
    assert promoted["new_chat_member"]["status"] == "administrator"
    await send(member, "anything at all", chat_id=gid)
    assert (await bot.take_one("message"))["text"] == "anything at all"
    # a supergroup too, with privacy on
    sg = (await owner("channels.create", title="Super", broadcast=False))["id"]
    await owner("channels.invite", channel_id=sg, user_ids=[member.id, bot.id])
    joined = kinds(await bot.take(2))
    assert joined["my_chat_member"][0]["chat"] == {"id": channel_id(sg), "type": "supergroup",
                                                   "title": "Super"}
    assert [u["id"] for u in joined["message"][0]["new_chat_members"]] == [bot.id]
    await send(member, "not for bots", chat_id=sg)
    await send(member, "/cmd", chat_id=sg)
    assert (await bot.take_one("message"))["text"] == "/cmd"
    await owner("channels.editAdmin", channel_id=sg, user_id=bot.id,
                rights={"delete_messages": True, "ban_users": True})
    made = await bot.take_one("my_chat_member")
    assert made["new_chat_member"]["status"] == "administrator"
    assert made["new_chat_member"]["can_delete_messages"] is True
    await send(member, "more small talk", chat_id=sg)
    msg = await bot.take_one("message")
    assert (msg["text"], msg["chat"]["id"]) == ("more small talk", channel_id(sg))


async def test_my_chat_member_when_added_and_removed(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner = await make_user("Owner")
    bot = await make_bot(owner)
    group = await owner("chats.createGroup", title="Comings and goings")
    gid = group["id"]
    await owner("chats.addMember", chat_id=gid, user_id=bot.id)
    added = kinds(await bot.take(2))
    [change] = added["my_chat_member"]
    assert change["chat"] == {"id": group_id(gid), "type": "group",
                              "title": "Comings and goings"}
    assert change["from"]["id"] == owner.id
    assert change["old_chat_member"]["status"] == "left"
    assert change["new_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["user"]["id"] == bot.id
    assert [u["id"] for u in added["message"][0]["new_chat_members"]] == [bot.id]
    await owner("chats.removeMember", chat_id=gid, user_id=bot.id)
    removed = kinds(await bot.take(2))
    [change] = removed["my_chat_member"]
    assert change["old_chat_member"]["status"] == "member"
    assert change["new_chat_member"]["status"] in ("left", "kicked")
    assert change["from"]["id"] == owner.id
    assert removed["message"][0]["left_chat_member"]["id"] == bot.id
    await send(owner, "/after", chat_id=gid)
    await bot.quiet()
    # the bot leaves by itself
    await owner("chats.addMember", chat_id=gid, user_id=bot.id)
    await bot.take(2)
    assert await bot("leaveChat", chat_id=group_id(gid)) is True
    left = kinds(await bot.take(1))
    [change] = left["my_chat_member"]
    assert change["new_chat_member"]["status"] == "left" and change["from"]["id"] == bot.id
    members = await owner("chats.getMembers", chat_id=gid)
    assert bot.id not in {m["user_id"] for m in members}
    await send(owner, "/after leaving", chat_id=gid)
    assert await bot.error("sendMessage", chat_id=group_id(gid), text="still here?") == (
        403, "Forbidden: bot is not a member of the chat or may not write there")
    await bot.quiet()


@pytest.mark.parametrize("kind", ["group", "supergroup"])
async def test_chat_member_updates_only_for_admin_bots_that_ask(
    kind: str, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, joiner = await make_user("Owner"), await make_user("Joiner")
    # an admin that asks, a member that asks, an admin that does not ask
    asking_admin, asking_member, admin = [await make_bot(owner) for _ in range(3)]
    bots = (asking_admin, asking_member, admin)
    if kind == "group":
        cid = (await owner("chats.createGroup", title="Members",
                           user_ids=[b.id for b in bots]))["id"]
        bot_cid = group_id(cid)
        for bot in (asking_admin, admin):
            await owner("chats.editAdmin", chat_id=cid, user_id=bot.id, is_admin=True)
    else:
        cid = (await owner("channels.create", title="Members", broadcast=False,
                           username=unique_name("sg")))["id"]
        bot_cid = channel_id(cid)
        await owner("channels.invite", channel_id=cid, user_ids=[b.id for b in bots])
        for bot in (asking_admin, admin):
            await owner("channels.editAdmin", channel_id=cid, user_id=bot.id,
                        rights={"ban_users": True})
    await send(owner, "/setup", chat_id=cid)
    for bot in bots:
        setup = kinds(await bot.through("/setup"))
        statuses = [c["new_chat_member"]["status"] for c in setup["my_chat_member"]]
        assert statuses == (["member"] if bot is asking_member else ["member", "administrator"])
    for bot in (asking_admin, asking_member):
        assert await bot.poll(offset=bot.offset, allowed_updates=[
            "message", "chat_member", "my_chat_member"]) == []
    if kind == "group":
        await owner("chats.addMember", chat_id=cid, user_id=joiner.id)
        await joiner("chats.leave", chat_id=cid)
    else:
        await joiner("channels.join", channel_id=cid)
        await joiner("channels.leave", channel_id=cid)
    await send(owner, "/done", chat_id=cid)
    heard = kinds(await asking_admin.through("/done"))
    assert "chat_member" in heard, heard
    came, went = heard["chat_member"]
    assert came["chat"]["id"] == went["chat"]["id"] == bot_cid
    assert (came["new_chat_member"]["user"]["id"], came["new_chat_member"]["status"],
            came["old_chat_member"]["status"]) == (joiner.id, "member", "left")
    assert (went["new_chat_member"]["user"]["id"], went["new_chat_member"]["status"],
            went["old_chat_member"]["status"]) == (joiner.id, "left", "member")
    assert went["from"]["id"] == joiner.id
    for bot in (asking_member, admin):
        assert "chat_member" not in kinds(await bot.through("/done"))
    if kind == "supergroup":  # a standing changed by an admin: from is the admin
        await owner("channels.invite", channel_id=cid, user_ids=[joiner.id])
        await owner("channels.editBanned", channel_id=cid, user_id=joiner.id,
                    banned={"send_messages": True})
        await send(owner, "/again", chat_id=cid)
        *_, muted = kinds(await asking_admin.through("/again"))["chat_member"]
        assert muted["from"]["id"] == owner.id
        assert muted["new_chat_member"]["status"] == "restricted"
        assert muted["new_chat_member"]["can_send_messages"] is False


async def test_channel_posts_for_an_admin_bot(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner = await make_user("Owner")
    bot = await make_bot(owner)
    ch = (await owner("channels.create", title="News", broadcast=True))["id"]
    await owner("channels.invite", channel_id=ch, user_ids=[bot.id])
    await owner("channels.editAdmin", channel_id=ch, user_id=bot.id,
                rights={"post_messages": True, "edit_messages": True})
    changes = [u["my_chat_member"] for u in await bot.take(2)]
    assert changes[-1]["new_chat_member"]["status"] == "administrator"
    assert changes[-1]["new_chat_member"]["can_post_messages"] is True
    post = await send(owner, "breaking", chat_id=ch)
    got = await bot.take_one("channel_post")
    assert (got["message_id"], got["text"]) == (post["id"], "breaking")
    assert got["chat"] == {"id": channel_id(ch), "type": "channel", "title": "News"}
    assert got["sender_chat"]["id"] == channel_id(ch) and "from" not in got
    await owner("messages.edit", chat_id=ch, message_id=post["id"], text="breaking, updated")
    edited = await bot.take_one("edited_channel_post")
    assert (edited["message_id"], edited["text"]) == (post["id"], "breaking, updated")
    assert edited["edit_date"]
    # the bot posts, and the subscribers see it
    reader = await make_user("Reader")
    await owner("channels.invite", channel_id=ch, user_ids=[reader.id])
    mine = await bot("sendMessage", chat_id=channel_id(ch), text="from the bot")
    assert mine["sender_chat"]["id"] == channel_id(ch)
    seen = await latest(reader, ch)
    assert (seen["id"], seen["text"]) == (mine["message_id"], "from the bot")
    await bot.quiet()


async def test_message_reactions_when_allowed(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    bot = await make_bot(owner)
    group = await owner("chats.createGroup", title="Reactions", user_ids=[member.id, bot.id])
    gid = group["id"]
    await bot.take(2)
    msg = await bot("sendMessage", chat_id=group_id(gid), text="rate me")
    await member("messages.react", chat_id=gid, message_id=msg["message_id"], emoji=THUMBS_UP)
    await send(member, "/marker", chat_id=gid)
    assert (await bot.take_one("message"))["text"] == "/marker"  # no reaction by default
    await bot.poll(offset=bot.offset, allowed_updates=["message", "message_reaction"])
    await member("messages.react", chat_id=gid, message_id=msg["message_id"], emoji=FIRE)
    await member("messages.react", chat_id=gid, message_id=msg["message_id"])
    [changed, taken_back] = [u["message_reaction"] for u in await bot.take(2)]
    assert changed["chat"]["id"] == group_id(gid) and changed["user"]["id"] == member.id
    assert (changed["old_reaction"], changed["new_reaction"]) == (
        [{"type": "emoji", "emoji": THUMBS_UP}], [{"type": "emoji", "emoji": FIRE}])
    assert (taken_back["old_reaction"], taken_back["new_reaction"]) == (
        [{"type": "emoji", "emoji": FIRE}], [])
    # the bot's own reaction: the user sees it, the bot is not told of it
    assert await bot("setMessageReaction", chat_id=group_id(gid),
                     message_id=msg["message_id"],
                     reaction=[{"type": "emoji", "emoji": THUMBS_UP}]) is True
    seen = (await owner("messages.getMessages", chat_id=gid,
                        message_ids=[msg["message_id"]]))["messages"][0]
    assert seen["reactions"] == [{"emoji": THUMBS_UP, "count": 1}]
    await bot.quiet()


# the bot's profile and commands --------------------------------------------------------------

async def test_commands_name_and_descriptions(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, someone = await make_user("Owner"), await make_user("Someone")
    bot = await make_bot(owner, "Helper")
    assert await bot("getMyCommands") == []
    commands = [{"command": "start", "description": "Begin"},
                {"command": "help", "description": "What I do"}]
    assert await bot("setMyCommands", commands=commands) is True
    assert await bot("getMyCommands") == commands
    # per language, falling back to the default
    german = [{"command": "start", "description": "Beginnen"}]
    assert await bot("setMyCommands", commands=german, language_code="de") is True
    assert await bot("getMyCommands", language_code="de") == german
    assert await bot("getMyCommands", language_code="fr") == commands
    # per scope
    scoped = [{"command": "admin", "description": "For admins"}]
    scope = {"type": "all_chat_administrators"}
    assert await bot("setMyCommands", commands=scoped, scope=scope) is True
    assert await bot("getMyCommands", scope=scope) == scoped
    assert await bot("getMyCommands") == commands
    # anyone sees the default menu
    info = await someone("bots.getInfo", bot_id=bot.id)
    assert info["commands"] == commands and info["bot"]["id"] == bot.id
    assert await bot("deleteMyCommands", scope=scope) is True
    assert await bot("getMyCommands", scope=scope) == []
    assert await bot("deleteMyCommands") is True
    assert await bot("getMyCommands") == []
    for bad in ([{"command": "Bad Name", "description": "x"}],
                [{"command": "ok", "description": ""}]):
        code, description = await bot.error("setMyCommands", commands=bad)
        assert code == 400 and description.startswith("Bad Request: BOT_COMMAND_"), description
    # name and descriptions
    assert await bot("setMyName", name="Renamed") is True
    assert await bot("getMyName") == {"name": "Renamed"}
    assert (await bot("getMe"))["first_name"] == "Renamed"
    assert await bot("setMyDescription", description="I help.") is True
    assert await bot("getMyDescription") == {"description": "I help."}
    assert await bot("setMyShortDescription", short_description="Helps") is True
    assert await bot("getMyShortDescription") == {"short_description": "Helps"}
    info = await someone("bots.getInfo", bot_id=bot.id)
    assert (info["bot"]["display_name"], info["description"], info["short_description"]) == (
        "Renamed", "I help.", "Helps")
    # the owner edits them too (BotFather's way)
    assert await owner("bots.setCommands", bot_id=bot.id, commands=commands) is True
    assert await bot("getMyCommands") == commands
    assert await owner("bots.edit", bot_id=bot.id, display_name="By Owner",
                       description="Owned") is True
    assert (await bot("getMyName"), await bot("getMyDescription")) == (
        {"name": "By Owner"}, {"description": "Owned"})
    mine = await owner("bots.getMine")
    assert [(b["bot"]["id"], b["privacy"]) for b in mine] == [(bot.id, True)]


# chats ---------------------------------------------------------------------------------------

@dataclass
class Supergroup:
    owner: Api
    member: Api
    bot: Bot
    id: int  # kurir's

    @property
    def bot_id(self) -> int:  # the Bot API's
        return channel_id(self.id)


async def supergroup_with_admin_bot(make_user: Callable[..., Any], make_bot: Callable[..., Any],
                                    rights: dict[str, bool] | None = None) -> Supergroup:
    owner, member = await make_user("Owner"), await make_user("Member")
    bot = await make_bot(owner)
    sg = (await owner("channels.create", title="Super", broadcast=False,
                      about="A place"))["id"]
    await owner("channels.invite", channel_id=sg, user_ids=[member.id, bot.id])
    await owner("channels.editAdmin", channel_id=sg, user_id=bot.id, rights=rights or dict.fromkeys(
        ("change_info", "delete_messages", "ban_users", "invite_users", "pin_messages",
         "add_admins"), True))
    await send(owner, "/ready", chat_id=sg)
    await bot.through("/ready")
    return Supergroup(owner, member, bot, sg)


async def test_get_chat_and_its_members(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    s = await supergroup_with_admin_bot(make_user, make_bot)
    bot = s.bot
    pinned = await send(s.owner, "the rules", chat_id=s.id)
    await s.owner("messages.pin", chat_id=s.id, message_id=pinned["id"])
    chat = await bot("getChat", chat_id=s.bot_id)
    assert (chat["id"], chat["type"], chat["title"], chat["description"]) == (
        s.bot_id, "supergroup", "Super", "A place")
    assert (chat["accent_color_id"], chat["max_reaction_count"]) == (0, 11)
    assert set(chat["accepted_gift_types"]) == {
        "unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription",
        "gifts_from_channels"}
    assert chat["pinned_message"]["message_id"] == pinned["id"]
    assert chat["pinned_message"]["text"] == "the rules"
    # a private chat
    await started(s.member, bot)
    private = await bot("getChat", chat_id=s.member.id)
    assert (private["id"], private["type"], private["first_name"]) == (
        s.member.id, "private", "Member")
    assert private["accent_color_id"] == 0
    # members
    owner = await bot("getChatMember", chat_id=s.bot_id, user_id=s.owner.id)
    assert (owner["status"], owner["user"]["id"]) == ("creator", s.owner.id)
    member = await bot("getChatMember", chat_id=s.bot_id, user_id=s.member.id)
    assert member == {"status": "member", "user": {
        "id": s.member.id, "is_bot": False, "first_name": "Member",
        "username": s.member.user["username"]}}
    me = await bot("getChatMember", chat_id=s.bot_id, user_id=bot.id)
    assert me["status"] == "administrator" and me["can_restrict_members"] is True
    assert me["can_post_messages"] is False
    stranger = await make_user()
    assert (await bot("getChatMember", chat_id=s.bot_id, user_id=stranger.id))["status"] == (
        "left")
    assert await bot.error("getChatMember", chat_id=s.bot_id, user_id=999_999_999) == (
        400, "Bad Request: user not found")
    admins = await bot("getChatAdministrators", chat_id=s.bot_id)
    assert {(a["user"]["id"], a["status"]) for a in admins} == {
        (s.owner.id, "creator"), (bot.id, "administrator")}
    assert await bot("getChatMemberCount", chat_id=s.bot_id) == 3
    # a basic group
    group = await s.owner("chats.createGroup", title="Basic", user_ids=[bot.id])
    basic = await bot("getChat", chat_id=group_id(group["id"]))
    assert (basic["id"], basic["type"], basic["title"]) == (group_id(group["id"]), "group",
                                                            "Basic")
    assert await bot("getChatMemberCount", chat_id=group_id(group["id"])) == 2
    # by @username, for a public chat
    name = unique_name("pub")
    public = (await s.owner("channels.create", title="Public", broadcast=True,
                            username=name))["id"]
    await s.owner("channels.invite", channel_id=public, user_ids=[bot.id])
    found = await bot("getChat", chat_id=f"@{name}")
    assert (found["id"], found["type"], found["username"]) == (channel_id(public), "channel",
                                                               name)


async def test_ban_unban_restrict_promote(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    s = await supergroup_with_admin_bot(make_user, make_bot)
    bot, member = s.bot, s.member
    # restrict: no messages until lifted
    assert await bot("restrictChatMember", chat_id=s.bot_id, user_id=member.id,
                     permissions={"can_send_messages": False}) is True
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "restricted"
    assert await member.error("messages.send", chat_id=s.id, text="hi",
                              random_id=1) == (403, "CHAT_WRITE_FORBIDDEN")
    assert await bot("restrictChatMember", chat_id=s.bot_id, user_id=member.id,
                     permissions={"can_send_messages": True}) is True
    await send(member, "free again", chat_id=s.id)
    # promote: the member may now pin
    assert await bot("promoteChatMember", chat_id=s.bot_id, user_id=member.id,
                     can_pin_messages=True) is True
    promoted = await bot("getChatMember", chat_id=s.bot_id, user_id=member.id)
    assert promoted["status"] == "administrator" and promoted["can_pin_messages"] is True
    assert promoted["can_restrict_members"] is False
    msg = await send(s.owner, "pin me", chat_id=s.id)
    assert await member("messages.pin", chat_id=s.id, message_id=msg["id"]) is True
    # a right the bot does not hold is not its to give
    assert await bot.error("promoteChatMember", chat_id=s.bot_id, user_id=member.id,
                           can_post_messages=True, can_manage_topics=True) == (
        400, "Bad Request: not enough rights")
    # demote: all rights false
    assert await bot("promoteChatMember", chat_id=s.bot_id, user_id=member.id) is True
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "member"
    # ban: out, and may not come back
    assert await bot("banChatMember", chat_id=s.bot_id, user_id=member.id) is True
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "kicked"
    assert await member.error("messages.getHistory", chat_id=s.id) == (403, "CHAT_FORBIDDEN")
    # unban with only_if_banned lifts the ban; the user is out but may come back
    assert await bot("unbanChatMember", chat_id=s.bot_id, user_id=member.id,
                     only_if_banned=True) is True
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "left"
    invite = await bot("createChatInviteLink", chat_id=s.bot_id)
    await member("chats.joinByInvite", hash=invite["invite_link"].rsplit("+", 1)[1])
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "member"
    # unban of a member (without only_if_banned) removes them, as Telegram's does
    assert await bot("unbanChatMember", chat_id=s.bot_id, user_id=member.id) is True
    assert (await bot("getChatMember", chat_id=s.bot_id,
                      user_id=member.id))["status"] == "left"
    # the owner is beyond a bot's reach
    assert await bot.error("banChatMember", chat_id=s.bot_id, user_id=s.owner.id) == (
        400, "Bad Request: not enough rights")
    # a basic group has no restrictions; its ban is a removal, its unban nothing
    basic = (await s.owner("chats.createGroup", title="Basic",
                           user_ids=[bot.id, member.id]))["id"]
    await s.owner("chats.editAdmin", chat_id=basic, user_id=bot.id, is_admin=True)
    assert await bot.error("restrictChatMember", chat_id=group_id(basic), user_id=member.id,
                           permissions={"can_send_messages": False}) == (
        400, "Bad Request: method is available only for supergroups")
    assert await bot("banChatMember", chat_id=group_id(basic), user_id=member.id) is True
    members = await s.owner("chats.getMembers", chat_id=basic)
    assert member.id not in {m["user_id"] for m in members}
    assert await bot("unbanChatMember", chat_id=group_id(basic), user_id=member.id) is True


async def test_pin_unpin_and_invite_links(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    s = await supergroup_with_admin_bot(make_user, make_bot)
    bot = s.bot
    msg = await bot("sendMessage", chat_id=s.bot_id, text="important")
    assert await bot("pinChatMessage", chat_id=s.bot_id, message_id=msg["message_id"]) is True
    chat = await s.member("chats.get", chat_id=s.id)
    assert chat["pinned_message_id"] == msg["message_id"]
    assert (await bot("getChat", chat_id=s.bot_id))["pinned_message"]["message_id"] == msg[
        "message_id"]
    assert await bot("unpinChatMessage", chat_id=s.bot_id) is True
    assert (await s.member("chats.get", chat_id=s.id)).get("pinned_message_id") is None
    assert "pinned_message" not in await bot("getChat", chat_id=s.bot_id)
    assert await bot.error("pinChatMessage", chat_id=s.bot_id, message_id=9999) == (
        400, "Bad Request: message not found")
    # invite links: a user joins by one
    link = await bot("createChatInviteLink", chat_id=s.bot_id, name="for friends",
                     member_limit=5)
    assert link["invite_link"].startswith("http") and "/+" in link["invite_link"]
    assert (link["name"], link["member_limit"], link["creator"]["id"]) == (
        "for friends", 5, bot.id)
    assert link["is_primary"] is False and link["is_revoked"] is False
    newcomer = await make_user("Newcomer")
    joined = await newcomer("chats.joinByInvite", hash=link["invite_link"].rsplit("+", 1)[1])
    assert joined["id"] == s.id
    assert await bot("getChatMemberCount", chat_id=s.bot_id) == 4
    exported = await bot("exportChatInviteLink", chat_id=s.bot_id)
    assert isinstance(exported, str) and "/+" in exported
    # the bot's reaction on a message
    assert await bot("setMessageReaction", chat_id=s.bot_id, message_id=msg["message_id"],
                     reaction=[{"type": "emoji", "emoji": FIRE}]) is True
    seen = (await s.member("messages.getMessages", chat_id=s.id,
                           message_ids=[msg["message_id"]]))["messages"][0]
    assert seen["reactions"] == [{"emoji": FIRE, "count": 1}]
    assert await bot("setMessageReaction", chat_id=s.bot_id, message_id=msg["message_id"],
                     reaction=[]) is True
    seen = (await s.member("messages.getMessages", chat_id=s.id,
                           message_ids=[msg["message_id"]]))["messages"][0]
    assert not seen.get("reactions")
    # chat actions
    assert await bot("sendChatAction", chat_id=s.bot_id, action="typing") is True


async def test_leave_chat(make_user: Callable[..., Any], make_bot: Callable[..., Any]) -> None:
    s = await supergroup_with_admin_bot(make_user, make_bot)
    assert await s.bot("leaveChat", chat_id=s.bot_id) is True
    change = kinds(await s.bot.take(1))["my_chat_member"][0]
    assert change["new_chat_member"]["status"] == "left"
    members = await s.owner("channels.getParticipants", channel_id=s.id, limit=100)
    assert s.bot.id not in {m["user_id"] for m in members}
    assert await s.bot.error("sendMessage", chat_id=s.bot_id, text="back?") == (
        403, "Forbidden: bot is not a member of the chat or may not write there")


# webhooks ------------------------------------------------------------------------------------

async def no_pending(bot: Bot) -> bool:
    """Whether nothing waits for the bot (a delivered update goes once its 2xx is back)."""
    return bool((await bot("getWebhookInfo"))["pending_update_count"] == 0)


async def test_webhook_delivers_in_order_with_the_secret(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = (await send(user, "before the hook", user_id=bot.id))["chat_id"]
    async with Receiver() as hook:
        assert await bot("setWebhook", url=hook.url, secret_token="s3cret-TOKEN_1",
                         max_connections=5) is True
        info = await bot("getWebhookInfo")
        assert (info["url"], info["has_custom_certificate"], info["max_connections"]) == (
            hook.url, False, 5)
        texts = [f"m{i}" for i in range(5)]
        for text in texts:
            await send(user, text, user_id=bot.id)
        got = await hook.wait_for(6)
        assert [h.update["message"]["text"] for h in got] == ["before the hook", *texts]
        ids = [h.update["update_id"] for h in got]
        assert ids == list(range(ids[0], ids[0] + 6))
        for h in got:
            assert h.path == "/hook/path"
            assert h.headers["x-telegram-bot-api-secret-token"] == "s3cret-TOKEN_1"
            assert h.headers["content-type"] == "application/json"
        await until(lambda: no_pending(bot), "the delivered updates to be dropped")
        # a button press goes the same way
        msg = await bot("sendMessage", chat_id=user.id, text="press", reply_markup={
            "inline_keyboard": [[{"text": "OK", "callback_data": "ok"}]]})
        press = asyncio.create_task(user("messages.getBotCallbackAnswer", chat_id=chat,
                                         message_id=msg["message_id"], data="ok"))
        [*_, last] = await hook.wait_for(7)
        query = last.update["callback_query"]
        assert await bot("answerCallbackQuery", callback_query_id=query["id"], text="done")
        assert await asyncio.wait_for(press, 5) == {"alert": False, "message": "done"}
        assert await bot("deleteWebhook") is True
        assert (await bot("getWebhookInfo"))["url"] == ""
        await send(user, "polled again", user_id=bot.id)
        assert (await bot.take_one("message"))["text"] == "polled again"
        assert len(hook.got) == 7
    # a secret with characters Telegram does not allow
    assert await bot.error("setWebhook", url="http://127.0.0.1:9/x", secret_token="a b") == (
        400, "Bad Request: secret token contains unallowed characters")


async def test_webhook_info_counts_what_waits(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    """pending_update_count is what the bot has yet to get, read or not by the server."""
    user = await make_user()
    bot = await make_bot()
    assert (await bot("getWebhookInfo"))["pending_update_count"] == 0
    for text in ("one", "two"):
        await send(user, text, user_id=bot.id)
    assert (await bot("getWebhookInfo"))["pending_update_count"] == 2
    await bot.take(2)
    assert (await bot("getWebhookInfo"))["pending_update_count"] == 2  # not yet confirmed
    await bot.quiet()
    assert (await bot("getWebhookInfo"))["pending_update_count"] == 0


async def test_webhook_retries_until_the_receiver_takes_them(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    async with Receiver(fail_first=2) as hook:
        assert await bot("setWebhook", url=hook.url) is True
        for i in range(3):
            await send(user, f"m{i}", user_id=bot.id)
        got = await hook.wait_for(3)
        assert hook.attempts == 5
        assert [h.update["message"]["text"] for h in got] == ["m0", "m1", "m2"]
        ids = [h.update["update_id"] for h in got]
        assert ids == list(range(ids[0], ids[0] + 3))
        await until(lambda: no_pending(bot), "the delivered updates to be dropped")
        info = await bot("getWebhookInfo")
        assert info["last_error_message"] == (
            "Wrong response from the webhook: 500 Internal Server Error")
        assert abs(info["last_error_date"] - time.time()) < 60
    # the receiver is gone: the error says so, and the updates wait
    await send(user, "while down", user_id=bot.id)

    async def failed() -> bool:
        info = await bot("getWebhookInfo")
        return str(info.get("last_error_message", "")).startswith("Connection failed")

    await until(failed, "a connection error in getWebhookInfo")
    async with Receiver() as again:
        # the same URL would do; a new one (another port) is set as a service would
        assert await bot("setWebhook", url=again.url) is True
        [h] = await again.wait_for(1)
        assert h.update["message"]["text"] == "while down"
        assert h.update["update_id"] == ids[-1] + 1
        assert await bot("deleteWebhook", drop_pending_updates=True) is True


async def test_set_webhook_drop_pending_and_allowed_updates(
    make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    user = await make_user()
    bot = await make_bot()
    chat = await started(user, bot)
    await send(user, "old news", user_id=bot.id)
    msg = await bot("sendMessage", chat_id=user.id, text="react")
    async with Receiver() as hook:
        assert await bot("setWebhook", url=hook.url, drop_pending_updates=True,
                         allowed_updates=["message_reaction"]) is True
        assert (await bot("getWebhookInfo"))["allowed_updates"] == ["message_reaction"]
        await send(user, "not wanted", user_id=bot.id)
        await user("messages.react", chat_id=chat, message_id=msg["message_id"],
                   emoji=THUMBS_UP)
        [h] = await hook.wait_for(1)
        assert h.update["message_reaction"]["message_id"] == msg["message_id"]
        assert await bot("deleteWebhook") is True


# a server of its own: Telegram's defaults ------------------------------------------------------

# Telegram's flood limits (the defaults), webhooks to public addresses only (the default),
# and a button press that waits one second for the bot
STRICT_ENV = {
    "KURIR_BOT_MESSAGES_PER_SECOND": "30",
    "KURIR_BOT_PRIVATE_MESSAGES_PER_SECOND": "1",
    "KURIR_BOT_PRIVATE_BURST": "20",
    "KURIR_BOT_GROUP_MESSAGES_PER_MINUTE": "20",
    "KURIR_BOT_WEBHOOK_NETWORKS": "",
    "KURIR_BOT_CALLBACK_TIMEOUT": "1",
    # a token ended by another process (the CLI) is refused within this
    "KURIR_TOKEN_CACHE_SECONDS": "1",
}


@pytest.fixture(scope="module")
def strict_server() -> Iterator[Server]:
    srv = Server("sqlite", env=dict(STRICT_ENV)).start()
    yield srv
    srv.drop()


@pytest.fixture
async def strict(strict_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=strict_server.url, timeout=30) as client:
        yield client


async def register(http: httpx.AsyncClient, name: str = "Test User") -> Api:
    api = Api(http)
    res = await api("auth.register", username=unique_name(), password=PASSWORD,
                    display_name=name)
    api.token, api.user = res["token"], res["user"]
    return api


async def test_flood_limit_in_a_private_chat(strict: httpx.AsyncClient) -> None:
    user, other = await register(strict), await register(strict)
    bot = await new_bot(strict, await register(strict))
    chat = await started(user, bot)
    await started(other, bot)
    t0 = time.monotonic()
    for i in range(20):  # the burst
        await bot("sendMessage", chat_id=user.id, text=f"burst {i}")
    assert time.monotonic() - t0 < 0.9, "too slow to see the limit"
    for _ in range(2):
        r = await bot.raw("sendMessage", {"chat_id": user.id, "text": "one too many"})
        code, description = envelope_error(r)
        retry_after = r.json()["parameters"]["retry_after"]
        assert code == 429 and isinstance(retry_after, int) and 1 <= retry_after <= 2, r.json()
        assert description == f"Too Many Requests: retry after {retry_after}"
    # another chat is another budget
    await bot("sendMessage", chat_id=other.id, text="elsewhere")
    # and after the wait it says, one more goes through
    await asyncio.sleep(retry_after)
    await bot("sendMessage", chat_id=user.id, text="after waiting")
    assert [m["text"] for m in await history(user, chat, 2)] == ["after waiting", "burst 19"]


async def test_flood_limit_in_a_group(strict: httpx.AsyncClient) -> None:
    owner = await register(strict)
    bot = await new_bot(strict, owner)
    gid = (await owner("chats.createGroup", title="Busy", user_ids=[bot.id]))["id"]
    for i in range(20):
        await bot("sendMessage", chat_id=group_id(gid), text=f"g{i}")
    r = await bot.raw("sendMessage", {"chat_id": group_id(gid), "text": "21st"})
    code, _ = envelope_error(r)
    assert code == 429 and 1 <= r.json()["parameters"]["retry_after"] <= 3, r.json()
    assert [m["text"] for m in await history(owner, gid, 1)] == ["g19"]


async def test_webhooks_only_to_allowed_addresses(strict: httpx.AsyncClient) -> None:
    bot = await new_bot(strict, await register(strict))
    for url in ("http://127.0.0.1:1/x", "http://10.0.0.1/x", "http://[::1]:1/x",
                "http://192.168.1.1/x", "http://localhost:1/x"):
        assert await bot.error("setWebhook", url=url) == (
            400, "Bad Request: bad webhook: the address is not allowed on this server"), url
        assert (await bot("getWebhookInfo"))["url"] == ""
    for url in ("ftp://example.org/x", "not a url"):
        assert await bot.error("setWebhook", url=url) == (
            400, "Bad Request: bad webhook: invalid URL"), url
    assert await bot("deleteWebhook") is True
    assert await bot.poll() == []


async def test_a_press_the_bot_does_not_answer(strict: httpx.AsyncClient) -> None:
    user = await register(strict)
    bot = await new_bot(strict, await register(strict))
    msg_chat = (await send(user, "/start", user_id=bot.id))["chat_id"]
    await bot.take(1)
    msg = await bot("sendMessage", chat_id=user.id, text="press", reply_markup={
        "inline_keyboard": [[{"text": "Go", "callback_data": "go"}]]})
    t0 = time.monotonic()
    assert await user.error("messages.getBotCallbackAnswer", chat_id=msg_chat,
                            message_id=msg["message_id"], data="go") == (
        400, "BOT_RESPONSE_TIMEOUT")
    assert 0.9 <= time.monotonic() - t0 < 3
    # the bot still gets the query, but its answer comes too late
    query = await bot.take_one("callback_query")
    assert await bot.error("answerCallbackQuery", callback_query_id=query["id"]) == (
        400, "Bad Request: query is too old and response timeout expired or query ID is"
             " invalid")


# durability ---------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_queued_updates_survive_sigkill(engine: str) -> None:
    """Updates handed out but not confirmed come back after a crash with the same ids and
    bodies; confirmed ones never do; ids are not reused."""
    server = Server(engine).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            user = await register(http)
            bot = await new_bot(http, await register(http))
            for i in range(5):
                await send(user, f"m{i}", user_id=bot.id)
            handed = await bot.poll()
            ids = [u["update_id"] for u in handed]
            assert [u["message"]["text"] for u in handed] == [f"m{i}" for i in range(5)]
            # the first two confirmed; three handed out again, unconfirmed
            assert await bot.poll(offset=ids[2]) == handed[2:]
            # and three more the bot has not asked for yet
            for i in range(5, 8):
                await send(user, f"m{i}", user_id=bot.id)
        server.kill()
        server.proc = None
        server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            bot.http = http
            after = await bot.poll()
            assert after[:3] == handed[2:]
            assert [u["message"]["text"] for u in after[3:]] == ["m5", "m6", "m7"]
            assert [u["update_id"] for u in after] == list(range(ids[2], ids[2] + 6))
            assert await bot.poll(offset=after[-1]["update_id"] + 1) == []
        server.kill()
        server.proc = None
        server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            bot.http = http
            user.http = http
            assert await bot.poll() == []
            await send(user, "after two crashes", user_id=bot.id)
            [last] = await bot.poll()
            assert last["update_id"] == after[-1]["update_id"] + 1
            assert last["message"]["text"] == "after two crashes"
    finally:
        server.drop()


# the CLI ------------------------------------------------------------------------------------

def kurir_cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **TEST_ENV}
    return subprocess.run([sys.executable, "-m", "kurir", *args], env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60)


async def test_cli_bot_create_and_revoke_token(strict_server: Server,
                                               strict: httpx.AsyncClient) -> None:
    owner = await register(strict, "Owner")
    name = unique_name("cli") + "_bot"
    made = kurir_cli("bot", "create", "--data-dir", strict_server.data_dir,
                     "--owner", owner.user["username"], "--username", name)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    r = await strict.get(f"/bot{token}/getMe")
    assert r.status_code == 200, r.text
    assert (r.json()["result"]["username"], r.json()["result"]["first_name"]) == (name, name)
    mine = await owner("bots.getMine")
    assert [b["bot"]["username"] for b in mine] == [name]
    # a username that is not a bot's, and an owner who is not there
    bad = kurir_cli("bot", "create", "--data-dir", strict_server.data_dir,
                    "--owner", owner.user["username"], "--username", unique_name("nobot"))
    assert bad.returncode != 0 and not bad.stdout.strip()
    revoked = kurir_cli("bot", "revoke-token", "--data-dir", strict_server.data_dir,
                        "--owner", owner.user["username"], "--username", name)
    assert revoked.returncode == 0, revoked.stderr
    new = revoked.stdout.strip()
    assert new != token and new.split(":")[0] == token.split(":")[0]
    assert (await strict.get(f"/bot{new}/getMe")).status_code == 200

    async def refused() -> bool:
        return (await strict.get(f"/bot{token}/getMe")).status_code == 401

    # the CLI is another process: the server sees it when the token's cache entry expires
    # (KURIR_TOKEN_CACHE_SECONDS, 1 s here), although the bot keeps calling
    await until(refused, "the old token to be refused", timeout=3)
    assert envelope_error(await strict.get(f"/bot{token}/getMe")) == UNAUTHORIZED


async def test_revoke_token_over_the_api(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner = await make_user()
    bot = await make_bot(owner)
    assert (await http.get(bot.url("getMe"))).status_code == 200
    new = (await owner("bots.revokeToken", bot_id=bot.id))["token"]
    assert envelope_error(await http.get(bot.url("getMe"))) == UNAUTHORIZED
    assert (await http.get(bot.url("getMe", new))).json()["result"]["id"] == bot.id


# who may do what: the owner's methods, and a bot's standing in a chat -------------------------

async def test_only_the_owner_manages_a_bot(
    http: httpx.AsyncClient, make_user: Callable[..., Any], make_bot: Callable[..., Any]
) -> None:
    owner, other = await make_user("Owner"), await make_user("Other")
    bot = await make_bot(owner, "Owned")
    commands = [{"command": "start", "description": "Begin"}]
    assert await bot("setMyCommands", commands=commands) is True
    refused = (400, "BOT_INVALID")
    for target in (bot.id, other.id, 999_999_999):
        assert await other.error("bots.revokeToken", bot_id=target) == refused
        assert await other.error("bots.edit", bot_id=target, display_name="Hijacked") == refused
        assert await other.error("bots.setCommands", bot_id=target,
                                 commands=[{"command": "pwn", "description": "x"}]) == refused
        assert await other.error("bots.setPrivacy", bot_id=target, enabled=False) == refused
    # the owner's own account is not a bot of theirs either
    assert await owner.error("bots.revokeToken", bot_id=owner.id) == refused
    # nothing changed: the token works, the name, menu and privacy are as they were
    me = await bot("getMe")
    assert (me["first_name"], me["can_read_all_group_messages"]) == ("Owned", False)
    assert await bot("getMyCommands") == commands
    assert await other("bots.getMine") == []
    # a bot owns no bots, and a bot's token does not reach the client API at all
    r = await http.post("/api/v1/bots.create", json={"username": unique_name("x") + "_bot",
                                                     "display_name": "Nested"},
                        headers={"Authorization": f"Bearer {bot.token}"})
    assert r.status_code == 401 and r.json()["error"]["type"] == "AUTH_KEY_INVALID"
    for method in ("messages.send", "chats.get", "bots.getMine", "updates.getDifference"):
        r = await http.post(f"/api/v1/{method}", json={},
                            headers={"Authorization": f"Bearer {bot.token}"})
        assert r.status_code == 401, method
    # a person's token, however dressed, is not a bot's
    for token in (owner.token or "", f"{owner.id}:{owner.token}"):
        assert envelope_error(await http.get(bot.url("getMe", token))) == UNAUTHORIZED
    # usernames: a bot's ends in "bot", and is unique
    assert await owner.error("bots.create", username=unique_name("plain"),
                             display_name="x") == (400, "USERNAME_INVALID")
    assert await owner.error("bots.create", username=bot.username, display_name="x") == (
        400, "USERNAME_OCCUPIED")


OK = "ok"
NF = CHAT_NOT_FOUND
RIGHTS = (400, "Bad Request: not enough rights")
AUTH = UNAUTHORIZED
CANT_EDIT = (400, "Bad Request: message can't be edited")
CANT_DELETE = (400, "Bad Request: message can't be deleted")
CANT_WRITE = (403, "Forbidden: bot is not a member of the chat or may not write there")
NOT_MEMBER = (403, "Forbidden: bot is not a member of the chat")
ROLES = ("member", "admin", "outsider", "removed")


@dataclass
class BotWorld:
    """A chat (a basic group or a private channel) with a bot of every standing: a member
    (a channel's subscriber), an admin (every right), an outsider, one removed (a channel's:
    banned); a person `member` in it, and the owner's post `post`. The owner has started a
    private chat with each bot (where forwards go)."""

    kind: str
    http: httpx.AsyncClient
    owner: Api
    member: Api
    bots: dict[str, Bot]
    chat_id: int  # kurir's
    post: int

    @property
    def bot_chat_id(self) -> int:
        return group_id(self.chat_id) if self.kind == "group" else channel_id(self.chat_id)

    async def members(self) -> set[int]:
        if self.kind == "group":
            found = await self.owner("chats.getMembers", chat_id=self.chat_id)
        else:
            found = await self.owner("channels.getParticipants", channel_id=self.chat_id,
                                     limit=200)
        return {int(m["user_id"]) for m in found}

    async def snapshot(self) -> dict[str, Any]:
        """What a refused call must leave as it was."""
        chat = await self.owner("chats.get", chat_id=self.chat_id)
        chat.pop("pts", None)  # a read moves nothing, but a channel's pts is its log's head
        return {"chat": chat, "history": await history(self.owner, self.chat_id, 10),
                "members": await self.members(),
                "invites": await self.owner("chats.getInvites", chat_id=self.chat_id)}


async def bot_world(http: httpx.AsyncClient, kind: str) -> BotWorld:
    owner, member = await register(http, "Owner"), await register(http, "Member")
    bots = {role: await new_bot(http, owner, role.title()) for role in ROLES}
    for bot in bots.values():
        await send(owner, "/start", user_id=bot.id)
    ins = [member.id, bots["member"].id, bots["admin"].id, bots["removed"].id]
    if kind == "group":
        cid = (await owner("chats.createGroup", title="Matrix group", user_ids=ins))["id"]
        await owner("chats.editAdmin", chat_id=cid, user_id=bots["admin"].id, is_admin=True)
        await owner("chats.removeMember", chat_id=cid, user_id=bots["removed"].id)
    else:
        cid = (await owner("channels.create", title="Matrix channel", broadcast=True))["id"]
        await owner("channels.invite", channel_id=cid, user_ids=ins)
        await owner("channels.editAdmin", channel_id=cid, user_id=bots["admin"].id,
                    rights=dict.fromkeys(
                        ("change_info", "post_messages", "edit_messages", "delete_messages",
                         "ban_users", "invite_users", "pin_messages", "add_admins"), True))
        await owner("channels.editBanned", channel_id=cid, user_id=bots["removed"].id,
                    banned={"view_messages": True})
    post = await send(owner, "the owner's post", chat_id=cid)
    return BotWorld(kind, http, owner, member, bots, cid, post["id"])


Params = Callable[[BotWorld], dict[str, Any]]
Effect = Callable[[BotWorld, Bot, Any], Awaitable[None]]


@dataclass(frozen=True)
class BotSpec:
    method: str
    params: Params
    effect: Effect


BOT_SPECS: dict[str, BotSpec] = {}


def bot_spec(name: str, method: str, params: Params) -> Callable[[Effect], Effect]:
    def register_(effect: Effect) -> Effect:
        BOT_SPECS[name] = BotSpec(method, params, effect)
        return effect
    return register_


@bot_spec("sendMessage", "sendMessage", lambda w: {"chat_id": w.bot_chat_id, "text": "hi all"})
async def _bot_send(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res["chat"]["id"] == w.bot_chat_id and res["text"] == "hi all"
    seen = await latest(w.owner, w.chat_id)
    assert (seen["id"], seen["text"]) == (res["message_id"], "hi all")


@bot_spec("forwardMessage", "forwardMessage", lambda w: {
    "chat_id": w.owner.id, "from_chat_id": w.bot_chat_id, "message_id": w.post})
async def _bot_forward(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res["text"] == "the owner's post" and res["chat"]["id"] == w.owner.id
    seen = (await history(w.owner, (await send(w.owner, "(after)", user_id=bot.id))["chat_id"],
                          2))[1]
    assert (seen["text"], seen["fwd_from"]["message_id"]) == ("the owner's post", w.post)


@bot_spec("getChat", "getChat", lambda w: {"chat_id": w.bot_chat_id})
async def _bot_get_chat(w: BotWorld, bot: Bot, res: Any) -> None:
    assert (res["id"], res["type"]) == (w.bot_chat_id, w.kind)
    assert res["title"] == f"Matrix {w.kind}"


@bot_spec("getChatMember", "getChatMember", lambda w: {
    "chat_id": w.bot_chat_id, "user_id": w.member.id})
async def _bot_get_member(w: BotWorld, bot: Bot, res: Any) -> None:
    assert (res["status"], res["user"]["id"]) == ("member", w.member.id)


@bot_spec("getChatAdministrators", "getChatAdministrators", lambda w: {
    "chat_id": w.bot_chat_id})
async def _bot_get_admins(w: BotWorld, bot: Bot, res: Any) -> None:
    assert {a["user"]["id"] for a in res} == {w.owner.id, w.bots["admin"].id}


@bot_spec("getChatMemberCount", "getChatMemberCount", lambda w: {"chat_id": w.bot_chat_id})
async def _bot_count(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res == len(await w.members()) == 4


@bot_spec("banChatMember", "banChatMember", lambda w: {
    "chat_id": w.bot_chat_id, "user_id": w.member.id})
async def _bot_ban(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res is True and w.member.id not in await w.members()


@bot_spec("pinChatMessage", "pinChatMessage", lambda w: {
    "chat_id": w.bot_chat_id, "message_id": w.post})
async def _bot_pin(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res is True
    assert (await w.member("chats.get", chat_id=w.chat_id))["pinned_message_id"] == w.post


@bot_spec("deleteMessage", "deleteMessage", lambda w: {
    "chat_id": w.bot_chat_id, "message_id": w.post})
async def _bot_delete(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res is True
    assert w.post not in {m["id"] for m in await history(w.member, w.chat_id)}


@bot_spec("editMessageText", "editMessageText", lambda w: {
    "chat_id": w.bot_chat_id, "message_id": w.post, "text": "rewritten by a bot"})
async def _bot_edit(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res["text"] == "rewritten by a bot"
    seen = (await w.member("messages.getMessages", chat_id=w.chat_id,
                           message_ids=[w.post]))["messages"][0]
    assert seen["text"] == "rewritten by a bot"


@bot_spec("createChatInviteLink", "createChatInviteLink", lambda w: {"chat_id": w.bot_chat_id})
async def _bot_invite(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res["creator"]["id"] == bot.id
    hashes = {i["hash"] for i in await w.owner("chats.getInvites", chat_id=w.chat_id)}
    assert res["invite_link"].rsplit("+", 1)[1] in hashes


@bot_spec("setMessageReaction", "setMessageReaction", lambda w: {
    "chat_id": w.bot_chat_id, "message_id": w.post,
    "reaction": [{"type": "emoji", "emoji": THUMBS_UP}]})
async def _bot_react(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res is True
    seen = (await w.member("messages.getMessages", chat_id=w.chat_id,
                           message_ids=[w.post]))["messages"][0]
    # each bot's own reaction (both allowed bots react in one world)
    assert [r["emoji"] for r in seen["reactions"]] == [THUMBS_UP]
    assert seen["reactions"][0]["count"] == 1 + (bot is w.bots["admin"])


@bot_spec("leaveChat", "leaveChat", lambda w: {"chat_id": w.bot_chat_id})
async def _bot_leave(w: BotWorld, bot: Bot, res: Any) -> None:
    assert res is True and bot.id not in await w.members()


# A bad token gets 401 from every method, before anything else. An outsider is told the chat
# does not exist (as a person is); one removed is told so, and learns nothing more.
BOT_MATRIX: dict[str, dict[str, tuple[Any, ...]]] = {
    "group": {
        #                         member     admin  outsider removed
        "sendMessage":           (OK,        OK,    NF,      CANT_WRITE),
        "forwardMessage":        (OK,        OK,    NF,      NOT_MEMBER),
        "getChat":               (OK,        OK,    NF,      NOT_MEMBER),
        "getChatMember":         (OK,        OK,    NF,      NOT_MEMBER),
        "getChatAdministrators": (OK,        OK,    NF,      NOT_MEMBER),
        "getChatMemberCount":    (OK,        OK,    NF,      NOT_MEMBER),
        "banChatMember":         (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "pinChatMessage":        (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "deleteMessage":         (CANT_DELETE, OK,  NF,      NOT_MEMBER),
        "editMessageText":       (CANT_EDIT, CANT_EDIT, NF,  NOT_MEMBER),
        "createChatInviteLink":  (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "setMessageReaction":    (OK,        OK,    NF,      NOT_MEMBER),
        "leaveChat":             (OK,        OK,    NF,      NOT_MEMBER),
    },
    "channel": {
        "sendMessage":           (CANT_WRITE, OK,   NF,      CANT_WRITE),
        "forwardMessage":        (OK,        OK,    NF,      NOT_MEMBER),
        "getChat":               (OK,        OK,    NF,      NOT_MEMBER),
        "getChatMember":         (OK,        OK,    NF,      NOT_MEMBER),
        "getChatAdministrators": (OK,        OK,    NF,      NOT_MEMBER),
        "getChatMemberCount":    (OK,        OK,    NF,      NOT_MEMBER),
        "banChatMember":         (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "pinChatMessage":        (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "deleteMessage":         (CANT_DELETE, OK,  NF,      NOT_MEMBER),
        "editMessageText":       (CANT_EDIT, OK,    NF,      NOT_MEMBER),
        "createChatInviteLink":  (RIGHTS,    OK,    NF,      NOT_MEMBER),
        "setMessageReaction":    (OK,        OK,    NF,      NOT_MEMBER),
        "leaveChat":             (OK,        OK,    NF,      NOT_MEMBER),
    },
}
BOT_ROWS = [pytest.param(kind, name, id=f"{kind}-{name}")
            for kind, rows in BOT_MATRIX.items() for name in rows]


def test_bot_matrix_covers_the_chat_methods() -> None:
    assert set(BOT_MATRIX["group"]) == set(BOT_MATRIX["channel"]) == set(BOT_SPECS)


@pytest.mark.parametrize(("kind", "name"), BOT_ROWS)
async def test_bot_matrix(http: httpx.AsyncClient, kind: str, name: str) -> None:
    """One row, on a world of its own: refusals first (each must change nothing), then the
    allowed calls and their effects. Every wrong cell of the row is listed."""
    w = await bot_world(http, kind)
    spec = BOT_SPECS[name]
    cells = dict(zip(ROLES, BOT_MATRIX[kind][name], strict=True))
    order = [("bad_token", AUTH), *sorted(cells.items(), key=lambda c: c[1] == OK)]
    problems = []
    for role, expected in order:
        bot = w.bots["member" if role == "bad_token" else role]
        token = f"{bot.id}:nope" if role == "bad_token" else None
        before = await w.snapshot() if expected != OK else None
        r = await bot.raw(spec.method, spec.params(w), token=token)
        body = r.json()
        if expected != OK:
            got = "ok" if body["ok"] else envelope_error(r)
            if got != expected:
                problems.append(f"{role}: expected {expected}, got {got}: {body}")
            elif await w.snapshot() != before:
                problems.append(f"{role}: refused, but something changed")
            continue
        if not (r.status_code == 200 and body["ok"]):
            problems.append(f"{role}: expected ok, got {r.status_code}: {body}")
            continue
        try:
            await spec.effect(w, bot, body["result"])
        except AssertionError as e:
            problems.append(f"{role}: allowed, but: {e!r}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("kind", ["group", "channel"])
async def test_a_removed_bot_learns_nothing_new(http: httpx.AsyncClient, kind: str) -> None:
    """What happens in a chat after a bot was removed is not its to read, by any method (as
    for a person: chats.getMembers and history are refused to a removed member)."""
    w = await bot_world(http, kind)
    bot = w.bots["removed"]
    secret = await send(w.owner, "pinned after the bot was removed", chat_id=w.chat_id)
    await w.owner("messages.pin", chat_id=w.chat_id, message_id=secret["id"])
    leaks = []
    for method, params in (("getChat", {}), ("getChatAdministrators", {}),
                           ("getChatMemberCount", {}),
                           ("getChatMember", {"user_id": w.member.id}),
                           ("forwardMessage", {"chat_id": w.owner.id,
                                               "message_id": secret["id"]}),
                           ("copyMessage", {"chat_id": w.owner.id,
                                            "message_id": secret["id"]})):
        key = "from_chat_id" if "Message" in method else "chat_id"
        r = await bot.raw(method, {key: w.bot_chat_id, **params})
        if r.status_code != 403:
            leaks.append(f"{method}: {r.status_code} {r.text[:300]}")
    assert not leaks, "\n".join(leaks)
