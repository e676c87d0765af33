"""Comment threads and forum topics."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kurir.api.context import Services
from kurir.api.messages import Messages
from kurir.api.registry import Method
from kurir.domain.types import Id, OptId
from kurir.services.threads import Topic

Title = Annotated[str, msgspec.Meta(max_length=1024)]


class SetDiscussion(msgspec.Struct):
    channel_id: Id
    group_id: OptId  # 0 unlinks


class GetReplies(msgspec.Struct):
    chat_id: Id
    message_id: Id
    offset_id: OptId = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 50


class ToggleForum(msgspec.Struct):
    channel_id: Id
    enabled: bool


class CreateTopic(msgspec.Struct):
    channel_id: Id
    title: Title


class EditTopic(msgspec.Struct):
    channel_id: Id
    topic_id: Id
    title: Title | None = None
    closed: bool | None = None


class GetTopics(msgspec.Struct):
    channel_id: Id
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 100


class ReadTopic(msgspec.Struct):
    channel_id: Id
    topic_id: Id
    max_id: OptId


def methods(s: Services) -> list[Method]:
    t = s.threads

    async def replies(c, p: GetReplies) -> Messages:  # type: ignore[no-untyped-def]
        return Messages(await t.replies(c.user_id, p.chat_id, p.message_id, p.offset_id,
                                        p.limit))

    return [
        Method("channels.setDiscussionGroup", SetDiscussion, bool,
               lambda c, p: t.set_discussion(c.user_id, p.channel_id, p.group_id),
               "Link a channel to a supergroup where its posts get comment threads."),
        Method("messages.getReplies", GetReplies, Messages, replies,
               "A thread, newest first: a channel post's comments, or a topic's messages."),
        Method("channels.toggleForum", ToggleForum, bool,
               lambda c, p: t.toggle_forum(c.user_id, p.channel_id, p.enabled),
               "Turn forum topics on or off in a supergroup."),
        Method("channels.createTopic", CreateTopic, Topic,
               lambda c, p: t.create_topic(c.user_id, p.channel_id, p.title),
               "Open a forum topic (manage_topics, or members unless restricted)."),
        Method("channels.editTopic", EditTopic, bool,
               lambda c, p: t.edit_topic(c.user_id, p.channel_id, p.topic_id, p.title,
                                         p.closed),
               "Rename, close or reopen a topic (its creator, or manage_topics)."),
        Method("channels.getTopics", GetTopics, list[Topic],
               lambda c, p: t.topics(c.user_id, p.channel_id, p.limit),
               "A forum's topics by last activity, each with the caller's unread count."),
        Method("channels.readTopic", ReadTopic, bool,
               lambda c, p: t.read_topic(c.user_id, p.channel_id, p.topic_id, p.max_id),
               "Mark a topic read up to max_id (its own read marker)."),
    ]
