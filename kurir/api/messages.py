"""messages.* methods."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.types import Dialog, Id, Message, MessageEntity, OptId, RandomId

Limit = Annotated[int, msgspec.Meta(ge=1, le=100)]
Ids = Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
# No cap here: the body limit bounds it, and past 4096 the answer is MESSAGE_TOO_LONG.
Text = str


class Send(msgspec.Struct):
    text: Text
    random_id: RandomId
    chat_id: Id | None = None
    user_id: Id | None = None
    reply_to: Id | None = None
    entities: Annotated[list[MessageEntity], msgspec.Meta(max_length=1000)] | None = None
    # a forum supergroup's topic to post in
    topic_id: Id | None = None


class Forward(msgspec.Struct):
    from_chat_id: Id
    message_ids: Ids
    chat_id: Id | None = None
    user_id: Id | None = None
    random_ids: list[RandomId] | None = None


class Edit(msgspec.Struct):
    chat_id: Id
    message_id: Id
    text: Text
    entities: Annotated[list[MessageEntity], msgspec.Meta(max_length=1000)] | None = None


class Delete(msgspec.Struct):
    chat_id: Id
    message_ids: Ids
    revoke: bool = False


class Read(msgspec.Struct):
    chat_id: Id
    max_id: OptId


class React(msgspec.Struct):
    chat_id: Id
    message_id: Id
    emoji: Annotated[str, msgspec.Meta(max_length=64)] | None = None


class Pin(msgspec.Struct):
    chat_id: Id
    message_id: OptId = 0
    unpin: bool = False


class Typing(msgspec.Struct):
    chat_id: Id
    action: Literal["typing", "cancel", "upload_photo", "upload_document", "record_voice"] = (
        "typing"
    )


class History(msgspec.Struct):
    chat_id: Id
    offset_id: OptId = 0
    after_id: OptId = 0
    limit: Limit = 50


class GetMessages(msgspec.Struct):
    chat_id: Id
    message_ids: Ids


class Dialogs(msgspec.Struct):
    # the chat id of the last dialog of the previous page
    offset_chat_id: OptId = 0
    limit: Limit = 50


class Search(msgspec.Struct):
    query: Annotated[str, msgspec.Meta(max_length=256)]
    chat_id: Id | None = None
    limit: Limit = 50


class Messages(msgspec.Struct):
    messages: list[Message]


def methods(s: Services) -> list[Method]:
    m = s.messaging

    async def history(c, p: History) -> Messages:  # type: ignore[no-untyped-def]
        return Messages(await m.history(c.user_id, p.chat_id, p.offset_id, p.after_id, p.limit))

    async def get_messages(c, p: GetMessages) -> Messages:  # type: ignore[no-untyped-def]
        return Messages(await m.get_messages(c.user_id, p.chat_id, p.message_ids))

    async def search(c, p: Search) -> Messages:  # type: ignore[no-untyped-def]
        return Messages(await m.search(c.user_id, p.query, p.chat_id, p.limit))

    return [
        Method("messages.send", Send, Message,
               lambda c, p: m.send(c.user_id, p.chat_id, p.user_id, p.text, p.random_id,
                                   p.reply_to, p.entities, topic_id=p.topic_id),
               "Send a text message to a chat, or to a user (their private chat)."),
        Method("messages.forward", Forward, list[Message],
               lambda c, p: m.forward(c.user_id, p.from_chat_id, p.message_ids, p.chat_id,
                                      p.user_id, p.random_ids),
               "Forward messages; each keeps its original author and date in fwd_from."),
        Method("messages.edit", Edit, Message,
               lambda c, p: m.edit(c.user_id, p.chat_id, p.message_id, p.text, p.entities),
               "Edit one's own message."),
        Method("messages.delete", Delete, bool,
               lambda c, p: m.delete(c.user_id, p.chat_id, p.message_ids, p.revoke),
               "Delete messages for oneself, or with revoke for everyone."),
        Method("messages.read", Read, bool, lambda c, p: m.read(c.user_id, p.chat_id, p.max_id),
               "Mark the chat read up to max_id."),
        Method("messages.react", React, bool,
               lambda c, p: m.react(c.user_id, p.chat_id, p.message_id, p.emoji),
               "Set (or with no emoji, remove) the caller's one reaction to a message."),
        Method("messages.pin", Pin, bool,
               lambda c, p: m.pin(c.user_id, p.chat_id, p.message_id, p.unpin),
               "Pin a message (admins in groups), or unpin."),
        Method("messages.setTyping", Typing, bool,
               lambda c, p: m.set_typing(c.user_id, p.chat_id, p.action),
               "Tell the other members the caller is typing (ephemeral, not logged)."),
        Method("messages.getHistory", History, Messages, history,
               "A page of history, newest first: ids below offset_id, or just above after_id."),
        Method("messages.getMessages", GetMessages, Messages, get_messages,
               "Messages by id."),
        Method("messages.getDialogs", Dialogs, list[Dialog],
               lambda c, p: m.dialogs(c.user_id, p.offset_chat_id, p.limit),
               "The caller's chats by last activity, with last message and unread count."),
        Method("messages.search", Search, Messages, search,
               "Full-text search over the messages the caller may see."),
    ]
