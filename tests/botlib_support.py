"""Shared pieces of the bot-library tests (python-telegram-bot, aiogram, pyTelegramBotAPI).

Each library runs in-process against a real kurir with only its base URL changed, the way a
bot author would point it at a self-hosted server. The user's side is kurir's client API over
raw HTTP (tests.conftest.Api), so a test sees what a person in the chat sees.

These tests run on SQLite only: they check the Bot API layer, which is the same code on both
engines, and each library loop costs seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import secrets
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import telebot
from aiogram import Bot as AiogramBot
from aiogram import Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from PIL import Image
from telebot import ExceptionHandler, apihelper
from telegram import Bot as PtbBot
from telegram.ext import Application, ApplicationBuilder, ContextTypes

from tests.conftest import Api, full_history, unique_name
from tests.server import Server

# The webhook test points kurir at a ptb server on loopback, which kurir refuses by default.
SERVER_ENV = {"KURIR_BOT_WEBHOOK_NETWORKS": "127.0.0.0/8"}
WAIT = 15.0  # seconds a bot may take to see an update and answer it


def sqlite_server() -> Iterator[Server]:
    """A kurir of one's own for a bot-library module (use as a module-scoped `server`)."""
    srv = Server("sqlite", env=dict(SERVER_ENV)).start()
    yield srv
    srv.drop()


# --- bots and chat ids ------------------------------------------------------------------------

@dataclass
class BotAccount:
    id: int
    username: str
    token: str


async def make_bot(owner: Api, prefix: str = "test") -> BotAccount:
    """A bot owned by `owner`, made with the client API as BotFather would."""
    made = await owner("bots.create", username=unique_name(prefix) + "_bot",
                       display_name=f"{prefix.title()} Bot")
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


def rid() -> int:
    return secrets.randbits(62)


# --- the user's side --------------------------------------------------------------------------

async def send_text(user: Api, text: str, *, user_id: int | None = None,
                    chat_id: int | None = None, reply_to: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"text": text, "random_id": rid()}
    if user_id is not None:
        params["user_id"] = user_id
    if chat_id is not None:
        params["chat_id"] = chat_id
    if reply_to is not None:
        params["reply_to"] = reply_to
    return dict(await user("messages.send", **params))


async def upload(user: Api, name: str, data: bytes, mime_type: str = "") -> str:
    """A file of the user's, uploaded in parts as kurir's clients do; returns its file_id."""
    up = await user("upload.start", name=name, size=len(data), mime_type=mime_type)
    size = int(up["part_size"])
    for i in range((len(data) + size - 1) // size):
        r = await user.http.put(f"/api/v1/upload/{up['upload_id']}/{i}",
                                content=data[i * size:(i + 1) * size],
                                headers={"Authorization": f"Bearer {user.token}"})
        assert r.status_code == 200, r.text
    return str((await user("upload.finish", upload_id=up["upload_id"]))["file_id"])


async def send_file(user: Api, bot_id: int, kind: str, name: str, data: bytes,
                    mime_type: str = "") -> dict[str, Any]:
    file_id = await upload(user, name, data, mime_type)
    return dict(await user("messages.sendMedia", user_id=bot_id, file_id=file_id, kind=kind,
                           random_id=rid()))


async def download(user: Api, file_id: str) -> bytes:
    r = await user.http.get(f"/api/v1/files/{file_id}",
                            headers={"Authorization": f"Bearer {user.token}"})
    assert r.status_code == 200, (file_id, r.status_code, r.text[:200])
    return r.content


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 30)).save(buf, "PNG")
    return buf.getvalue()


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def bot_messages(user: Api, chat_id: int, bot_id: int) -> list[dict[str, Any]]:
    """What the bot said in the chat, as the user sees it, oldest first."""
    return [m for m in await full_history(user, chat_id) if m["from_id"] == bot_id]


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
    """Poll `probe` until it returns something truthy; fail early on a library error."""
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


async def wait_bot_says(user: Api, chat_id: int, bot_id: int, text: str, seen: Seen | None = None,
                        *, edited: bool = False) -> dict[str, Any]:
    """The bot's message with this text in the chat, once the user can see it."""
    async def probe() -> dict[str, Any] | None:
        for m in await bot_messages(user, chat_id, bot_id):
            if m["text"] == text and (not edited or m.get("edit_date")):
                return m
        return None

    found: dict[str, Any] = await wait_for(probe, f"the bot to say {text!r}", seen)
    return found


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
