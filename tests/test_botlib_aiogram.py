"""aiogram 3 against kurir's Bot API, with only its API server changed.

aiogram is the strictest reader of the three (pydantic models of Bot API 10.3) and the
one that sends every file as `attach://<name>` in a chunked multipart body, and it always
sends `allowed_updates` built from its handlers.
"""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramConflictError,
    TelegramForbiddenError,
    TelegramUnauthorizedError,
)
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    ChatMemberAdministrator,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
)

from tests.botlib_support import (
    People,
    Seen,
    aiogram_bot,
    aiogram_polling,
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


async def test_echo_bot(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "echo")
    user = await people("Alice")
    seen = Seen()
    bot = aiogram_bot(server.url, account.token)
    dp = Dispatcher()

    @dp.message(F.text)
    async def echo(message: Message) -> None:
        assert message.text is not None
        seen.texts.append(message.text)
        seen.items["message"] = message
        await message.answer(f"echo: {message.text}")

    async with aiogram_polling(dp, bot, seen):
        assert bot.id == account.id  # from the token
        me = await bot.me()
        assert (me.id, me.username, me.is_bot) == (account.id, account.username, True)
        sent = await user.send_message(user_id=account.id, text="hello bot")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: hello bot", seen)
        second = await user.send_message(user_id=account.id, text="and again")
        await wait_bot_says(user, sent["chat_id"], account.id, "echo: and again", seen)
    assert seen.texts == ["hello bot", "and again"]
    got: Message = seen.items["message"]
    assert got.message_id == second["id"]
    assert got.from_user is not None and got.from_user.id == uid(user)
    assert (got.chat.id, got.chat.type) == (uid(user), "private")
    # and the chat as kept: each message once, each answer after its question
    said = [(m["from_id"], m["text"]) for m in await history(user, sent["chat_id"])]
    assert said == [(uid(user), "hello bot"), (account.id, "echo: hello bot"),
                    (uid(user), "and again"), (account.id, "echo: and again")]


async def test_errors(server: Server, people: People) -> None:
    """aiogram picks its exception by the HTTP status, so it must equal error_code."""
    owner = await people("Owner")
    account = await make_bot(owner, "errors")
    stranger = await people("Stranger")
    async with aiogram_bot(server.url, account.token) as bot:
        with pytest.raises(TelegramBadRequest, match=r"(?i)chat not found"):
            await bot.send_message(10**9, "anyone there?")
        with pytest.raises(TelegramForbiddenError, match="initiate"):
            await bot.send_message(uid(stranger), "hello?")
        assert await bot.set_webhook(f"http://127.0.0.1:{free_port()}/hook") is True
        with pytest.raises(TelegramConflictError):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook() is True
        assert await bot.get_updates(timeout=0) == []
    async with aiogram_bot(server.url, f"{account.id}:not-the-secret") as wrong:
        with pytest.raises(TelegramUnauthorizedError):
            await wrong.get_me()


async def test_inline_keyboard_callback_and_edit(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "menu")
    user = await people("Alice")
    seen = Seen()
    bot = aiogram_bot(server.url, account.token)
    dp = Dispatcher()

    @dp.message(Command("menu"))
    async def menu(message: Message) -> None:
        keyboard = InlineKeyboardMarkup(inline_keyboard=[[
            InlineKeyboardButton(text="Yes", callback_data="yes"),
            InlineKeyboardButton(text="No", callback_data="no")]])
        await message.answer("Pick one", reply_markup=keyboard)

    @dp.callback_query()
    async def pressed(query: CallbackQuery) -> None:
        seen.items["query"] = query
        await query.answer(text=f"You chose {query.data}", show_alert=query.data == "yes")
        assert isinstance(query.message, Message)  # not an InaccessibleMessage (date 0)
        await query.message.edit_text(f"Chosen: {query.data}")

    async with aiogram_polling(dp, bot, seen):
        chat_id = (await user.send_message(user_id=account.id, text="/menu"))["chat_id"]
        shown = await wait_bot_says(user, chat_id, account.id, "Pick one", seen)
        assert shown["reply_markup"] == {"inline_keyboard": [[
            {"text": "Yes", "callback_data": "yes"}, {"text": "No", "callback_data": "no"}]]}
        answer = await user.press_button(chat_id, shown["id"], "no")
        assert answer == {"alert": False, "message": "You chose no"}
        edited = await wait_bot_says(user, chat_id, account.id, "Chosen: no", seen, edited=True)
    assert edited["id"] == shown["id"]
    assert "reply_markup" not in edited
    query: CallbackQuery = seen.items["query"]
    assert query.from_user.id == uid(user) and query.data == "no"
    assert isinstance(query.message, Message) and query.message.message_id == shown["id"]


async def test_files_from_the_user(server: Server, people: People) -> None:
    owner = await people("Owner")
    account = await make_bot(owner, "files")
    user = await people("Alice")
    seen = Seen()
    bot = aiogram_bot(server.url, account.token)
    dp = Dispatcher()

    @dp.message(F.photo)
    async def photo(message: Message, bot: Bot) -> None:
        assert message.photo
        biggest = message.photo[-1]
        data = await bot.download(biggest)  # getFile, then GET /file/bot<token>/<path>
        assert data is not None
        seen.items["photo"] = (biggest, data.read())

    @dp.message(F.document)
    async def document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        file = await bot.get_file(message.document.file_id)
        assert file.file_path is not None
        data = await bot.download_file(file.file_path)
        assert data is not None
        seen.items["document"] = (message.document, file, data.read())

    table = b"name,kind\nkurir,messenger\n" * 50
    async with aiogram_polling(dp, bot, seen):
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
    async with aiogram_bot(server.url, account.token) as bot:  # closes the session
        photo = await bot.send_photo(uid(user), BufferedInputFile(png(80, 60), "photo.png"),
                                     caption="fresh photo")
        doc = await bot.send_document(uid(user), BufferedInputFile(report, "report.csv"))
        album = await bot.send_media_group(uid(user), [
            InputMediaPhoto(media=BufferedInputFile(png(30, 20), "a.png")),
            InputMediaPhoto(media=BufferedInputFile(png(20, 30), "b.png"))])
        assert photo.photo and doc.document
        photo_again = await bot.send_photo(uid(user), photo.photo[-1].file_id)
        doc_again = await bot.send_document(uid(user), doc.document.file_id)
    assert (photo.photo[-1].width, photo.photo[-1].height) == (80, 60)
    assert photo.caption == "fresh photo"
    assert doc.document.file_name == "report.csv" and doc.document.file_size == len(report)
    assert len(album) == 2 and album[0].media_group_id is not None
    assert album[0].media_group_id == album[1].media_group_id

    pushed = await bot_messages(user, chat_id, account.id, 6)
    ids = [photo.message_id, doc.message_id, album[0].message_id, album[1].message_id,
           photo_again.message_id, doc_again.message_id]
    assert [m["id"] for m in pushed] == ids  # the bot's message ids are the chat's, in order
    said = {m["id"]: m for m in pushed}
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
    bot = aiogram_bot(server.url, account.token)
    dp = Dispatcher()

    @dp.message(Command("ping"))  # checks the @mention against getMe
    async def ping(message: Message) -> None:
        assert message.text is not None
        seen.texts.append(message.text)
        seen.items["chat"] = message.chat
        await message.reply("pong")

    @dp.message(F.text)
    async def other(message: Message) -> None:
        assert message.text is not None
        seen.texts.append(message.text)

    group = await owner.call("chats.createGroup", title="Bot lovers", user_ids=[account.id])
    async with aiogram_polling(dp, bot, seen):
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
    assert pong["reply_to"] == command["id"]  # Message.reply quotes
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
    async with aiogram_bot(server.url, account.token) as bot:
        info = await bot.get_chat(chat_id)  # ChatFullInfo: aiogram requires all its fields
        assert (info.id, info.type, info.title) == (chat_id, "channel", "Bot news")
        me = await bot.get_chat_member(chat_id, account.id)
        assert isinstance(me, ChatMemberAdministrator)
        assert me.can_post_messages is True and me.can_edit_messages is True
        post = await bot.send_message(chat_id, "Hello, subscribers")
        assert (post.chat.id, post.chat.type) == (chat_id, "channel")
        edited = await bot.edit_message_text("Hello, subscribers!", chat_id=chat_id,
                                             message_id=post.message_id)
        assert isinstance(edited, Message) and edited.edit_date is not None
    # the reader's app hears the post and then its edit, in the channel's own stream
    shown = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers")
    changed = await wait_bot_says(reader, channel["id"], account.id, "Hello, subscribers!",
                                  edited=True)
    assert shown["id"] == changed["id"] == post.message_id
    assert changed["edit_date"]
