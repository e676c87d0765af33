"""Shared pieces of the bot-library tests (python-telegram-bot, aiogram, pyTelegramBotAPI).

Each library runs in-process against a real kurir with only its base URL changed, the way a
bot author would point it at a self-hosted server. Each person in a test (a user, a group's or
a channel's owner) is a `kurir.client.Client` with its WebSocket open, as someone with the app
running: they make bots with `create_bot`, press buttons with `press_button`, send files with
`send_file`, and see what a bot says as it is pushed to them, in pts order, which is the check
that matters to a person (a reply that lands in the history but never reaches the app is a bug).

These tests run on SQLite only: they check the Bot API layer, which is the same code on both
engines, and each library loop costs seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import telebot
from aiogram import Bot as AiogramBot
from aiogram import Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image
from telebot import ExceptionHandler, apihelper
from telegram import Bot as PtbBot
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from kurir.client import Client, Update
from tests.conftest import unique_name
from tests.server import Server

# The webhook test points kurir at a ptb server on loopback, which kurir refuses by default.
SERVER_ENV = {"KURIR_BOT_WEBHOOK_NETWORKS": "127.0.0.0/8"}
WAIT = 15.0  # seconds a bot may take to see an update and answer it
PASSWORD = "correct horse"


def sqlite_server() -> Iterator[Server]:
    """A kurir of one's own for a bot-library module (use as a module-scoped `server`)."""
    srv = Server("sqlite", env=dict(SERVER_ENV)).start()
    yield srv
    srv.drop()


# --- people -----------------------------------------------------------------------------------

class People:
    """Makes the people of a test (use as a function-scoped `people` fixture, `async with`).

    Each is a newly registered account whose client is connected before it is handed out, so
    it hears everything from its first update on; all are closed when the block ends.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._made: list[Client] = []

    async def __call__(self, display_name: str) -> Client:
        person = Client(self.server_url)
        self._made.append(person)
        await person.register(unique_name(), PASSWORD, display_name)
        await person.connect()
        return person

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        for person in self._made:
            await person.close()


def uid(person: Client) -> int:
    assert person.user is not None
    return int(person.user["id"])


# --- bots and chat ids ------------------------------------------------------------------------

@dataclass
class BotAccount:
    id: int
    username: str
    token: str


async def make_bot(owner: Client, prefix: str = "test") -> BotAccount:
    """A bot owned by `owner`, made with the SDK as BotFather would."""
    made = await owner.create_bot(unique_name(prefix) + "_bot", f"{prefix.title()} Bot")
    bot = made["bot"]
    assert bot["is_bot"] is True
    token = str(made["token"])
    assert token.split(":")[0] == str(bot["id"])  # Telegram's form; aiogram reads the id from it
    return BotAccount(int(bot["id"]), str(bot["username"]), token)


def group_chat_id(chat_id: int) -> int:
    """The Bot API id of a basic group."""
    return -chat_id


def channel_chat_id(chat_id: int) -> int:
    """The Bot API id of a channel or supergroup: "-100…"."""
    return -(10**12 + chat_id)


# --- files ------------------------------------------------------------------------------------

async def download(person: Client, file_id: str) -> bytes:
    """A file's bytes as the person's app downloads them (the SDK streams to a file object)."""
    buf = io.BytesIO()
    size = await person.download(file_id, buf)
    data = buf.getvalue()
    assert size == len(data), (file_id, size, len(data))
    return data


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 30)).save(buf, "PNG")
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def history(person: Client, chat_id: int) -> list[dict[str, Any]]:
    """Every message of the chat the person can see, oldest first."""
    out: list[dict[str, Any]] = []
    offset = 0
    for _ in range(1000):
        page = (await person.get_history(chat_id, offset_id=offset, limit=100))["messages"]
        if not page:
            break
        out += page
        offset = page[-1]["id"]
    out.reverse()
    return out


# --- waiting ----------------------------------------------------------------------------------

@dataclass
class Seen:
    """What a bot's handlers saw and the errors its library reported, shared with the test.

    Handlers run in the test's event loop (ptb, aiogram) or in telebot's polling thread, so
    the lists are only appended to and read whole.
    """

    texts: list[str] = field(default_factory=list)
    items: dict[str, Any] = field(default_factory=dict)
    errors: list[BaseException] = field(default_factory=list)

    def check(self) -> None:
        if self.errors:
            raise AssertionError(f"the bot library reported errors: {self.errors!r}")


async def wait_for(probe: Callable[[], Awaitable[Any]], what: str, seen: Seen | None = None,
                   timeout: float = WAIT) -> Any:
    """Poll `probe` until it returns something truthy; fail early on a library error.

    For the bot's side, which has no stream to wait on; a person waits with `wait_update`.
    """
    deadline = time.monotonic() + timeout
    while True:
        if seen is not None:
            seen.check()
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


def saw(seen: Seen, text: str) -> Callable[[], Awaitable[bool]]:
    """A probe for wait_for: has the bot seen this text yet?"""
    async def probe() -> bool:
        return text in seen.texts

    return probe


async def wait_seen(seen: Seen, key: str, timeout: float = WAIT) -> Any:
    async def probe() -> Any:
        return seen.items.get(key)

    return await wait_for(probe, f"the bot to see {key!r}", seen, timeout)


async def wait_update(person: Client, matches: Callable[[Update], bool], what: str,
                      seen: Seen | None = None, timeout: float = WAIT) -> Update:
    """The next update pushed to the person that `matches`; those before it are passed over.

    The wait is cut into short slices so that an error the bot's library reported fails the
    test at once rather than after the whole timeout.
    """
    deadline = time.monotonic() + timeout
    while True:
        if seen is not None:
            seen.check()
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"timed out waiting for {what}")
        try:
            update = await person.next_update(timeout=min(left, 0.2))
        except TimeoutError:
            continue
        if matches(update):
            return update


def from_bot(chat_id: int, bot_id: int, *, edited: bool = False) -> Callable[[Update], bool]:
    """Matches a message of the bot's in the chat: new, or with `edited` an edit of one."""
    kind = "edit_message" if edited else "new_message"

    def matches(update: Update) -> bool:
        message = update.get("message") or {}
        return (update.get("type") == kind and message.get("chat_id") == chat_id
                and message.get("from_id") == bot_id)

    return matches


async def wait_bot_says(person: Client, chat_id: int, bot_id: int, text: str,
                        seen: Seen | None = None, *, edited: bool = False) -> dict[str, Any]:
    """The bot's message with this text in the chat, as it is pushed to the person (with
    `edited`, the edit that gave it this text)."""
    said = from_bot(chat_id, bot_id, edited=edited)
    update = await wait_update(person, lambda u: said(u) and u["message"]["text"] == text,
                               f"the bot to say {text!r}", seen)
    message: dict[str, Any] = update["message"]
    return message


async def bot_messages(person: Client, chat_id: int, bot_id: int, count: int,
                       seen: Seen | None = None) -> list[dict[str, Any]]:
    """The bot's next `count` messages in the chat, in the order they are pushed to the
    person."""
    said = from_bot(chat_id, bot_id)
    return [(await wait_update(person, said, f"the bot's message {i + 1} of {count}",
                               seen))["message"]
            for i in range(count)]


# --- python-telegram-bot ----------------------------------------------------------------------

def ptb_builder(server_url: str, token: str) -> Any:
    """An ApplicationBuilder aimed at kurir: `<url>/bot<token>/<method>`, `<url>/file/bot…`."""
    return (ApplicationBuilder().token(token)
            .base_url(f"{server_url}/bot").base_file_url(f"{server_url}/file/bot"))


def ptb_bot(server_url: str, token: str) -> PtbBot:
    """A bare ptb Bot (no Application) aimed at kurir; use as `async with`."""
    return PtbBot(token, base_url=f"{server_url}/bot", base_file_url=f"{server_url}/file/bot")


def _ptb_errors(app: Application[Any, Any, Any, Any, Any, Any], seen: Seen) -> None:
    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert context.error is not None
        seen.errors.append(context.error)

    app.add_error_handler(on_error)


@contextlib.asynccontextmanager
async def ptb_polling(app: Application[Any, Any, Any, Any, Any, Any],
                      seen: Seen) -> AsyncIterator[None]:
    """Run a ptb Application's polling loop for the block, then stop it cleanly."""
    _ptb_errors(app, seen)
    updater = app.updater
    assert updater is not None
    await app.initialize()
    try:
        await app.start()
        await updater.start_polling(timeout=1, poll_interval=0, error_callback=seen.errors.append)
        try:
            yield
        finally:
            await updater.stop()
            await app.stop()
    finally:
        await app.shutdown()


@contextlib.asynccontextmanager
async def ptb_webhook(app: Application[Any, Any, Any, Any, Any, Any], seen: Seen, port: int,
                      secret: str) -> AsyncIterator[str]:
    """Run a ptb Application on a webhook at http://127.0.0.1:<port>/hook for the block.

    ptb's own server (tornado) listens there and ptb calls setWebhook itself with the URL and
    the secret; the block gets the URL. The webhook is deleted again before shutdown.
    """
    _ptb_errors(app, seen)
    updater = app.updater
    assert updater is not None
    await app.initialize()
    try:
        await app.start()
        await updater.start_webhook(listen="127.0.0.1", port=port, url_path="hook",
                                    secret_token=secret)
        try:
            yield f"http://127.0.0.1:{port}/hook"
        finally:
            await updater.stop()
            await app.bot.delete_webhook()
            await app.stop()
    finally:
        await app.shutdown()


# --- aiogram ----------------------------------------------------------------------------------

def aiogram_bot(server_url: str, token: str) -> AiogramBot:
    """`<url>/bot<token>/<method>` and `<url>/file/bot<token>/<path>`."""
    return AiogramBot(token, session=AiohttpSession(api=TelegramAPIServer.from_base(server_url)))


@contextlib.asynccontextmanager
async def aiogram_polling(dp: Dispatcher, bot: AiogramBot, seen: Seen) -> AsyncIterator[None]:
    """Run a Dispatcher's polling loop in a task for the block; stop it and close the session."""
    async def on_error(event: Any) -> bool:
        seen.errors.append(event.exception)
        return True

    dp.errors.register(on_error)
    started = asyncio.Event()
    dp.startup.register(started.set)
    task = asyncio.create_task(dp.start_polling(bot, polling_timeout=1, handle_signals=False))
    ready = asyncio.create_task(started.wait())
    try:
        done, _ = await asyncio.wait([task, ready], timeout=WAIT,
                                     return_when=asyncio.FIRST_COMPLETED)
        if task in done:
            task.result()  # it failed to start: raise why
        yield
    finally:
        ready.cancel()
        try:
            if not task.done():
                await dp.stop_polling()
            await task
        finally:
            await bot.session.close()


# --- pyTelegramBotAPI -------------------------------------------------------------------------

def telebot_bot(server_url: str, token: str) -> telebot.TeleBot:
    """A synchronous TeleBot aimed at kurir. telebot's URLs are module globals, so this sets
    them for the whole process (the tests run one server per module, one at a time)."""
    apihelper.API_URL = server_url + "/bot{0}/{1}"  # type: ignore[assignment]
    apihelper.FILE_URL = server_url + "/file/bot{0}/{1}"  # type: ignore[assignment]
    return telebot.TeleBot(token, threaded=False)


@contextlib.asynccontextmanager
async def telebot_polling(bot: telebot.TeleBot, seen: Seen) -> AsyncIterator[None]:
    """Run TeleBot.polling in a thread for the block (handlers run in that thread)."""
    class Collect(ExceptionHandler):
        def handle(self, exception: BaseException) -> bool:
            seen.errors.append(exception)
            return True

    bot.exception_handler = Collect()
    thread = threading.Thread(
        target=bot.polling,
        kwargs={"non_stop": True, "interval": 0, "timeout": 10, "long_polling_timeout": 1},
        name="telebot-polling", daemon=True)
    thread.start()
    try:
        yield
    finally:
        bot.stop_polling()  # type: ignore[no-untyped-call]
        await asyncio.to_thread(thread.join, 10)
        assert not thread.is_alive(), "telebot's polling did not stop"
