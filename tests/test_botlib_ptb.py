"""python-telegram-bot against kurir's Bot API, with only its base URLs changed.

A user talks to a bot through kurir's SDK; the bot is an ordinary ptb Application (polling,
or a webhook served by ptb itself). What counts is what the user sees pushed to their app:
replies, buttons, edits, files, posts.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken
from telegram.ext import (
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

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
    ptb_bot,
    ptb_builder,
    ptb_polling,
    ptb_webhook,
    saw,
    sha,
    sqlite_server,
    uid,
    wait_bot_says,
    wait_for,
    wait_seen,
)
from tests.server import Server, free_port

Ctx = ContextTypes.DEFAULT_TYPE


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    yield from sqlite_server()


@pytest.fixture
async def people(server: Server) -> AsyncIterator[People]:
    async with People(server.url) as make:
        yield make


def echo_handler(seen: Seen) -> MessageHandler[Any, Any]:
    async def echo(update: Update, context: Ctx) -> None:
        msg = update.message
        assert msg is not None and msg.text is not None
        seen.texts.append(msg.text)
        seen.items["message"] = msg
        await msg.reply_text(f"echo: {msg.text}")

    return MessageHandler(filters.TEXT & ~filters.COMMAND, echo)


async def test_echo_bot(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "echo")
    user = await people("Alice")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()
    app.add_handler(echo_handler(seen))
    async with ptb_polling(app, seen):
        assert (app.bot.id, app.bot.username) == (account.id, account.username)  # getMe
        sent = await user.send_message(user_id=account.id, text="hello bot")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: hello bot", seen)
        second = await user.send_message(user_id=account.id, text="and again")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: and again", seen)
    assert seen.texts == ["hello bot", "and again"]  # each once, in order
    got = seen.items["message"]
    assert got.message_id == second["id"]
    assert got.from_user.id == uid(user) and got.from_user.is_bot is False
    assert got.chat.id == uid(user) and got.chat.type == "private"
    # and the chat as kept: each message once, each answer after its question
    said = [(m["from_id"], m["text"]) for m in await history(user, sent["chat_id"])]
    assert said == [(uid(user), "hello bot"), (account.id, "echo: hello bot"),
                    (uid(user), "and again"), (account.id, "echo: and again")]


async def test_updates_wait_for_a_stopped_bot_and_come_once(server: Server,
                                                            people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "restart")
    user = await people("Alice")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()
    app.add_handler(echo_handler(seen))
    async with ptb_polling(app, seen):
        chat_id = (await user.send_message(user_id=account.id, text="one"))["chat_id"]
        await wait_bot_says(user, chat_id, account.id, "echo: one", seen)
    # ptb confirmed "one" on its way out (a last getUpdates with the next offset)
    await user.send_message(user_id=account.id, text="two")  # while the bot is down
    again = ptb_builder(server.url, account.token).build()
    again.add_handler(echo_handler(seen))
    async with ptb_polling(again, seen):
        await wait_bot_says(user, chat_id, account.id, "echo: two", seen)
    assert seen.texts == ["one", "two"]


async def test_errors(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "errors")
    stranger = await people("Stranger")
    async with ptb_bot(server.url, account.token) as bot:
        with pytest.raises(BadRequest, match=r"(?i)chat not found"):
            await bot.send_message(10**9, "anyone there?")
        with pytest.raises(Forbidden, match="initiate"):  # the user never wrote to the bot
            await bot.send_message(uid(stranger), "hello?")
    with pytest.raises(InvalidToken):  # getMe at initialize: 401
        async with ptb_bot(server.url, f"{account.id}:not-the-secret"):
            pass
    fresh = (await owner.call("bots.revokeToken", bot_id=account.id))["token"]
    with pytest.raises(InvalidToken):
        async with ptb_bot(server.url, account.token):
            pass
    async with ptb_bot(server.url, fresh) as bot:
        assert bot.id == account.id


async def test_inline_keyboard_callback_and_edit(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "menu")
    user = await people("Alice")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()

    async def menu(update: Update, context: Ctx) -> None:
        assert update.message is not None
        keyboard = [[InlineKeyboardButton("Yes", callback_data="yes"),
                     InlineKeyboardButton("No", callback_data="no")]]
        await update.message.reply_text("Pick one", reply_markup=InlineKeyboardMarkup(keyboard))

    async def pressed(update: Update, context: Ctx) -> None:
        query = update.callback_query
        assert query is not None
        seen.items["query"] = query
        await query.answer(text=f"You chose {query.data}", show_alert=query.data == "yes")
        await query.edit_message_text(f"Chosen: {query.data}")

    app.add_handler(CommandHandler("menu", menu))  # needs a bot_command entity on "/menu"
    app.add_handler(CallbackQueryHandler(pressed))
    async with ptb_polling(app, seen):
        chat_id = (await user.send_message(user_id=account.id, text="/menu"))["chat_id"]
        shown = await wait_bot_says(user, chat_id, account.id, "Pick one", seen)
        assert shown["reply_markup"] == {"inline_keyboard": [[
            {"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]}
        answer = await user.press_button(chat_id, shown["id"], "yes")
        assert answer == {"alert": True, "message": "You chose yes"}
        edited = await wait_bot_says(user, chat_id, account.id, "Chosen: yes", seen, edited=True)
    assert edited["id"] == shown["id"]
    assert "reply_markup" not in edited  # an edit without a keyboard takes it away
    query = seen.items["query"]
    assert query.from_user.id == uid(user) and query.data == "yes"
    assert query.message.message_id == shown["id"] and query.message.chat.id == uid(user)


async def test_files_from_the_user(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "files")
    user = await people("Alice")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()

    async def photo(update: Update, context: Ctx) -> None:
        assert update.message is not None
        biggest = update.message.photo[-1]
        file = await biggest.get_file()
        seen.items["photo"] = (biggest, file, bytes(await file.download_as_bytearray()))

    async def document(update: Update, context: Ctx) -> None:
        assert update.message is not None and update.message.document is not None
        doc = update.message.document
        file = await doc.get_file()
        seen.items["document"] = (doc, file, bytes(await file.download_as_bytearray()))

    app.add_handler(MessageHandler(filters.PHOTO, photo))
    app.add_handler(MessageHandler(filters.Document.ALL, document))
    table = b"name,kind\nkurir,messenger\n" * 50
    async with ptb_polling(app, seen):
        sent_photo = await user.send_file(io.BytesIO(png(64, 48)), user_id=account.id,
                                          kind="photo", name="cat.png", mime_type="image/png")
        biggest, file, data = await wait_seen(seen, "photo")
        sent_doc = await user.send_file(io.BytesIO(table), user_id=account.id, kind="document",
                                        name="table.csv", mime_type="text/csv")
        doc, doc_file, doc_data = await wait_seen(seen, "document")
    # the photo as kurir keeps it (re-encoded), byte for byte what the user can download
    assert data == await download(user, sent_photo["media"]["file_id"])
    assert (biggest.width, biggest.height) == image_size(data) == (64, 48)
    assert file.file_size in (None, len(data))
    assert doc_data == table
    assert (doc.file_name, doc.mime_type, doc.file_size) == ("table.csv", "text/csv", len(table))
    assert doc_file.file_id == doc.file_id
    assert sent_doc["media"]["name"] == "table.csv"


async def test_files_to_the_user_by_upload_and_by_file_id(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "sender")
    user = await people("Alice")
    chat_id = (await user.send_message(user_id=account.id, text="/start"))["chat_id"]
    report = b"day,posts\nmon,3\ntue,5\n" * 40
    async with ptb_bot(server.url, account.token) as bot:
        photo = await bot.send_photo(uid(user), photo=png(80, 60), caption="fresh photo")
        doc = await bot.send_document(uid(user), document=report, filename="report.csv",
                                      caption="fresh report")
        # an album: the files go as attach://attached<hex> parts
        album = await bot.send_media_group(uid(user), [InputMediaPhoto(png(30, 20)),
                                                       InputMediaPhoto(png(20, 30))])
        photo_again = await bot.send_photo(uid(user), photo=photo.photo[-1].file_id)
        doc_again = await bot.send_document(uid(user), document=doc.document.file_id)
    assert (photo.photo[-1].width, photo.photo[-1].height) == (80, 60)
    assert doc.document.file_name == "report.csv" and doc.document.file_size == len(report)
    assert photo.caption == "fresh photo"

    pushed = await bot_messages(user, chat_id, account.id, 6)
    ids = [photo.message_id, doc.message_id, album[0].message_id, album[1].message_id,
           photo_again.message_id, doc_again.message_id]
    assert [m["id"] for m in pushed] == ids  # the bot's message ids are the chat's, in order
    said = {m["id"]: m for m in pushed}
    kinds = [said[i]["media"]["kind"] for i in ids]
    assert kinds == ["photo", "document", "photo", "photo", "photo", "document"]
    picture = await download(user, said[ids[0]]["media"]["file_id"])
    assert image_size(picture) == (80, 60)
    assert await download(user, said[ids[1]]["media"]["file_id"]) == report
    assert said[ids[1]]["media"]["name"] == "report.csv"
    sizes = [image_size(await download(user, said[i]["media"]["file_id"])) for i in ids[2:4]]
    assert sizes == [(30, 20), (20, 30)]
    # sent again by file_id: the same content, nothing uploaded
    assert sha(await download(user, said[ids[4]]["media"]["file_id"])) == sha(picture)
    assert await download(user, said[ids[5]]["media"]["file_id"]) == report
    assert len(album) == 2 and album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id


async def test_group_privacy_mode(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "group")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()

    async def ping(update: Update, context: Ctx) -> None:
        assert update.message is not None and update.message.text is not None
        seen.texts.append(update.message.text)
        seen.items["chat"] = update.message.chat
        await update.message.reply_text("pong")

    async def other(update: Update, context: Ctx) -> None:
        assert update.message is not None and update.message.text is not None
        seen.texts.append(update.message.text)

    app.add_handler(CommandHandler("ping", ping))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, other))
    group = await owner.call("chats.createGroup", title="Bot lovers", user_ids=[account.id])
    async with ptb_polling(app, seen):
        await owner.send_message(chat_id=group["id"], text="just chatter")
        command = await owner.send_message(chat_id=group["id"],
                                           text=f"/ping@{account.username}")
        pong = await wait_bot_says(owner, group["id"], account.id, "pong", seen)
        # updates come in order, so the chatter before the command was never delivered
        assert seen.texts == [f"/ping@{account.username}"]
        await owner.send_message(chat_id=group["id"], text="thanks, bot", reply_to=pong["id"])
        await wait_for(saw(seen, "thanks, bot"), "a reply to the bot", seen)

        assert await owner.call("bots.setPrivacy", bot_id=account.id, enabled=False) is True
        await owner.send_message(chat_id=group["id"], text="more chatter")
        await wait_for(saw(seen, "more chatter"), "chatter with privacy off", seen)
    assert seen.texts == [f"/ping@{account.username}", "thanks, bot", "more chatter"]
    assert pong["reply_to"] == command["id"]  # ptb quotes in groups
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
    async with ptb_bot(server.url, account.token) as bot:
        info = await bot.get_chat(chat_id)  # ChatFullInfo
        assert (info.id, info.type, info.title) == (chat_id, "channel", "Bot news")
        post = await bot.send_message(chat_id, "Hello, subscribers")
        assert (post.chat.id, post.chat.type) == (chat_id, "channel")
        edited = await bot.edit_message_text("Hello, subscribers!", chat_id=chat_id,
                                             message_id=post.message_id)
        assert edited.edit_date is not None
    # the reader's app hears the post and then its edit, in the channel's own stream
    shown = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers")
    changed = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers!",
                                  edited=True)
    assert shown["id"] == changed["id"] == post.message_id
    assert changed["edit_date"]


async def test_webhook(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "hook")
    user = await people("Alice")
    seen = Seen()
    app = ptb_builder(server.url, account.token).build()
    app.add_handler(echo_handler(seen))
    async with ptb_webhook(app, seen, free_port(), secret="s3cret-Token_1") as url:
        info = await app.bot.get_webhook_info()
        assert info.url == url and info.has_custom_certificate is False
        with pytest.raises(Conflict):  # no getUpdates while a webhook is set
            await app.bot.get_updates(timeout=0)
        sent = await user.send_message(user_id=account.id, text="over the hook")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: over the hook", seen)

        async def drained() -> bool:
            return (await app.bot.get_webhook_info()).pending_update_count == 0

        await wait_for(drained, "the webhook queue to drain", seen)
    assert seen.texts == ["over the hook"]
    async with ptb_bot(server.url, account.token) as bot:
        assert (await bot.get_webhook_info()).url == ""  # deleted on the way out
