"""pyTelegramBotAPI (telebot) against kurir's Bot API, with only its URLs changed.

telebot is the odd one on the wire: every parameter goes in the query string (GET for many
methods, POST with only the files in a multipart body), and booleans are "True"/"False".
Its handlers run in the polling thread; the test's side stays async.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import telebot
from telebot import types
from telebot.apihelper import ApiTelegramException

from tests.botlib_support import (
    People,
    Seen,
    bot_messages,
    channel_chat_id,
    download,
    group_chat_id,
    history,
    image_size,
    make_bot,
    png,
    saw,
    sha,
    sqlite_server,
    telebot_bot,
    telebot_polling,
    uid,
    wait_bot_says,
    wait_for,
    wait_seen,
)
from tests.server import Server, free_port


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from sqlite_server()


@pytest.fixture
async def people(server: Server) -> AsyncIterator[People]:
    async with People(server.url) as make:
        yield make


def plain(message: types.Message) -> bool:
    return bool(message.text) and not message.text.startswith("/")


async def test_echo_bot(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "echo")
    user = await people("Alice")
    seen = Seen()
    bot = telebot_bot(server.url, account.token)

    @bot.message_handler(func=plain)
    def echo(message: types.Message) -> None:
        seen.texts.append(message.text)
        seen.items["message"] = message
        bot.send_message(message.chat.id, f"echo: {message.text}")

    me = bot.get_me()
    assert (me.id, me.username, me.is_bot) == (account.id, account.username, True)
    async with telebot_polling(bot, seen):
        sent = await user.send_message(user_id=account.id, text="hello bot")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: hello bot", seen)
        second = await user.send_message(user_id=account.id, text="and again")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: and again", seen)
    assert seen.texts == ["hello bot", "and again"]
    got = seen.items["message"]
    assert got.message_id == second["id"]
    assert got.from_user.id == uid(user) and got.from_user.is_bot is False
    assert (got.chat.id, got.chat.type) == (uid(user), "private")
    # and the chat as kept: each message once, each answer after its question
    said = [(m["from_id"], m["text"]) for m in await history(user, sent["chat_id"])]
    assert said == [(uid(user), "hello bot"), (account.id, "echo: hello bot"),
                    (uid(user), "and again"), (account.id, "echo: and again")]


async def test_errors(server: Server, people: People) -> None:
    """telebot reads error_code and description from the body, whatever the HTTP status."""
    owner = await people("Owner")
    account = await make_bot(owner, "errors")
    stranger = await people("Stranger")
    bot = telebot_bot(server.url, account.token)
    with pytest.raises(ApiTelegramException) as missing:
        bot.send_message(10**9, "anyone there?")
    assert missing.value.error_code == 400 and "chat not found" in missing.value.description
    with pytest.raises(ApiTelegramException) as forbidden:
        bot.send_message(uid(stranger), "hello?")
    assert forbidden.value.error_code == 403
    assert bot.set_webhook(url=f"http://127.0.0.1:{free_port()}/hook") is True  # a GET
    with pytest.raises(ApiTelegramException) as conflict:
        bot.get_updates(long_polling_timeout=1)
    assert conflict.value.error_code == 409
    assert bot.remove_webhook() is True
    assert bot.get_updates(long_polling_timeout=1) == []
    with pytest.raises(ApiTelegramException) as unauthorized:
        telebot.TeleBot(f"{account.id}:not-the-secret").get_me()
    assert unauthorized.value.error_code == 401


async def test_inline_keyboard_callback_and_edit(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "menu")
    user = await people("Alice")
    seen = Seen()
    bot = telebot_bot(server.url, account.token)

    @bot.message_handler(commands=["menu"])
    def menu(message: types.Message) -> None:
        keyboard = types.InlineKeyboardMarkup()
        keyboard.row(types.InlineKeyboardButton("Yes", callback_data="yes"),
                     types.InlineKeyboardButton("No", callback_data="no"))
        bot.send_message(message.chat.id, "Pick one", reply_markup=keyboard)

    @bot.callback_query_handler(func=lambda query: True)
    def pressed(query: types.CallbackQuery) -> None:
        seen.items["query"] = query
        # show_alert goes out as "True"/"False" in the query string
        bot.answer_callback_query(query.id, text=f"You chose {query.data}",
                                  show_alert=query.data == "yes")
        bot.edit_message_text(f"Chosen: {query.data}", chat_id=query.message.chat.id,
                              message_id=query.message.message_id)

    async with telebot_polling(bot, seen):
        chat_id = (await user.send_message(user_id=account.id, text="/menu"))["chat_id"]
        shown = await wait_bot_says(user, chat_id, account.id, "Pick one", seen)
        assert shown["reply_markup"] == {"inline_keyboard": [[
            {"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]}
        answer = await user.press_button(chat_id, shown["id"], "yes")
        assert answer == {"alert": True, "message": "You chose yes"}
        edited = await wait_bot_says(user, chat_id, account.id, "Chosen: yes", seen, edited=True)
    assert edited["id"] == shown["id"]
    assert "reply_markup" not in edited
    query = seen.items["query"]
    assert query.from_user.id == uid(user) and query.data == "yes"
    assert query.message.message_id == shown["id"]


async def test_files_from_the_user(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "files")
    user = await people("Alice")
    seen = Seen()
    bot = telebot_bot(server.url, account.token)

    @bot.message_handler(content_types=["photo"])
    def photo(message: types.Message) -> None:
        biggest = message.photo[-1]
        file = bot.get_file(biggest.file_id)  # a GET with ?file_id=
        seen.items["photo"] = (biggest, bot.download_file(file.file_path))

    @bot.message_handler(content_types=["document"])
    def document(message: types.Message) -> None:
        file = bot.get_file(message.document.file_id)
        seen.items["document"] = (message.document, file, bot.download_file(file.file_path))

    table = b"name,kind\nkurir,messenger\n" * 50
    async with telebot_polling(bot, seen):
        sent_photo = await user.send_file(io.BytesIO(png(64, 48)), user_id=account.id,
                                          kind="photo", name="cat.png", mime_type="image/png")
        biggest, data = await wait_seen(seen, "photo")
        await user.send_file(io.BytesIO(table), user_id=account.id, kind="document",
                             name="table.csv", mime_type="text/csv")
        doc, file, doc_data = await wait_seen(seen, "document")
    assert data == await download(user, sent_photo["media"]["file_id"])
    assert (biggest.width, biggest.height) == image_size(data) == (64, 48)
    assert doc_data == table
    assert (doc.file_name, doc.mime_type, doc.file_size) == ("table.csv", "text/csv", len(table))
    assert file.file_size in (None, len(table))


async def test_files_to_the_user_by_upload_album_and_file_id(server: Server,
                                                             people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "sender")
    user = await people("Alice")
    chat_id = (await user.send_message(user_id=account.id, text="/start"))["chat_id"]
    report = b"day,posts\nmon,3\ntue,5\n" * 40
    bot = telebot_bot(server.url, account.token)
    # the file goes as a multipart part named "photo" with no filename of its own
    photo = bot.send_photo(uid(user), png(80, 60), caption="fresh photo")
    doc = bot.send_document(uid(user), report, visible_file_name="report.csv")
    album = bot.send_media_group(uid(user), [types.InputMediaPhoto(png(30, 20)),
                                             types.InputMediaPhoto(png(20, 30))])
    photo_again = bot.send_photo(uid(user), photo.photo[-1].file_id)
    doc_again = bot.send_document(uid(user), doc.document.file_id)
    assert (photo.photo[-1].width, photo.photo[-1].height) == (80, 60)
    assert photo.caption == "fresh photo"
    assert doc.document.file_name == "report.csv" and doc.document.file_size == len(report)
    assert len(album) == 2 and album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id

    pushed = await bot_messages(user, chat_id, account.id, 6)
    ids = [photo.message_id, doc.message_id, album[0].message_id, album[1].message_id,
           photo_again.message_id, doc_again.message_id]
    assert [m["id"] for m in pushed] == ids  # the bot's message ids are the chat's, in order
    said: dict[int, Any] = {m["id"]: m for m in pushed}
    assert [said[i]["media"]["kind"] for i in ids] == ["photo", "document", "photo", "photo",
                                                       "photo", "document"]
    picture = await download(user, said[ids[0]]["media"]["file_id"])
    assert image_size(picture) == (80, 60)
    assert await download(user, said[ids[1]]["media"]["file_id"]) == report
    assert said[ids[1]]["media"]["name"] == "report.csv"
    sizes = [image_size(await download(user, said[i]["media"]["file_id"])) for i in ids[2:4]]
    assert sizes == [(30, 20), (20, 30)]
    assert sha(await download(user, said[ids[4]]["media"]["file_id"])) == sha(picture)
    assert await download(user, said[ids[5]]["media"]["file_id"]) == report


async def test_group_privacy_mode(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "group")
    seen = Seen()
    bot = telebot_bot(server.url, account.token)

    @bot.message_handler(commands=["ping"])
    def ping(message: types.Message) -> None:
        seen.texts.append(message.text)
        seen.items["chat"] = message.chat
        bot.reply_to(message, "pong")

    @bot.message_handler(func=plain)
    def other(message: types.Message) -> None:
        seen.texts.append(message.text)

    group = await owner.call("chats.createGroup", title="Bot lovers", user_ids=[account.id])
    async with telebot_polling(bot, seen):
        await owner.send_message(chat_id=group["id"], text="just chatter")
        command = await owner.send_message(chat_id=group["id"],
                                           text=f"/ping@{account.username}")
        pong = await wait_bot_says(owner, group["id"], account.id, "pong", seen)
        assert seen.texts == [f"/ping@{account.username}"]
        await owner.send_message(chat_id=group["id"], text="thanks, bot", reply_to=pong["id"])
        await wait_for(saw(seen, "thanks, bot"), "a reply to the bot", seen)

        assert await owner.call("bots.setPrivacy", bot_id=account.id, enabled=False) is True
        await owner.send_message(chat_id=group["id"], text="more chatter")
        await wait_for(saw(seen, "more chatter"), "chatter with privacy off", seen)
    assert seen.texts == [f"/ping@{account.username}", "thanks, bot", "more chatter"]
    assert pong["reply_to"] == command["id"]  # reply_to quotes
    chat = seen.items["chat"]
    assert (chat.id, chat.type, chat.title) == (group_chat_id(group["id"]), "group", "Bot lovers")


async def test_channel_bot_posts_and_edits(server: Server, people: People) -> None:
    owner = await people("Owner")
    reader = await people("Reader")
    account = await make_bot(owner, "news")
    channel = await owner.call("channels.create", title="Bot news", broadcast=True)
    await owner.call("channels.invite", channel_id=channel["id"], user_ids=[uid(reader)])
    # as in Telegram, a bot joins a channel by being made its admin
    await owner.call("channels.editAdmin", channel_id=channel["id"], user_id=account.id,
                     rights={"post_messages": True, "edit_messages": True})
    chat_id = channel_chat_id(channel["id"])
    bot = telebot_bot(server.url, account.token)
    info = bot.get_chat(chat_id)  # a GET with ?chat_id=-100…
    assert (info.id, info.type, info.title) == (chat_id, "channel", "Bot news")
    me = bot.get_chat_member(chat_id, account.id)
    assert me.status == "administrator" and me.can_post_messages and me.can_edit_messages
    post = bot.send_message(chat_id, "Hello, subscribers")
    assert (post.chat.id, post.chat.type) == (chat_id, "channel")
    edited = bot.edit_message_text("Hello, subscribers!", chat_id=chat_id,
                                   message_id=post.message_id)
    assert edited.edit_date
    # the reader's app hears the post and then its edit, in the channel's own stream
    shown = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers")
    changed = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers!",
                                  edited=True)
    assert shown["id"] == changed["id"] == post.message_id
    assert changed["edit_date"]
