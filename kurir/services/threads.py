"""Threads: comments under channel posts, and forum topics in supergroups.

Comments (Telegram's discussion groups): a channel links a supergroup; each new post is
copied into that group (a forward of the post, carrying `replies`), and the copy is the root
of the post's comment thread. A reply in the group to a root, or to a message of its
thread, joins the thread; each comment bumps the reply count on the root and on the post.

Forum topics: in a supergroup with `forum` on, a topic is a service message (its id is the
topic id); a message sent with `topic_id` belongs to it. Each topic keeps its own newest id
and, per member, its own read marker, so it has its own unread count.
"""

from __future__ import annotations

import time

import msgspec

from kurir.domain import errors, rules
from kurir.domain.rights import AdminRights, BannedRights, require_may, require_right
from kurir.domain.types import ForwardHeader, Message, MessageEntity
from kurir.live import Hub
from kurir.services import access, timeline
from kurir.storage import channels, messages
from kurir.storage.port import Database, Tx
from kurir.storage.updates import Appended

_enc = msgspec.json.Encoder()


class Topic(msgspec.Struct, omit_defaults=True):
    id: int
    title: str
    creator_id: int
    created: int
    top_message_id: int
    closed: bool
    unread_count: int | None = None
    read_max_id: int | None = None


def _now() -> int:
    return int(time.time())


def _set_replies(tx: Tx, chat_id: int, message_id: int, replies: dict[str, object]) -> None:
    tx.execute("UPDATE messages SET replies = ? WHERE chat_id = ? AND id = ?",
               (_enc.encode(replies).decode(), chat_id, message_id))


def place(tx: Tx, seat: access.Seat, reply_to: int | None, topic_id: int | None,
          now: int) -> int | None:
    """The thread a new message joins: its topic, or the thread of what it replies to."""
    chat = seat.chat
    if topic_id is not None:
        if not (chat.type == "supergroup" and _is_forum(tx, chat.id)):
            raise errors.BAD_REQUEST("topics are for forum supergroups")
        row = tx.one("SELECT closed FROM topics WHERE chat_id = ? AND id = ?",
                     (chat.id, topic_id))
        if row is None:
            raise errors.TOPIC_ID_INVALID("no such topic")
        if row[0] and not (seat.member is not None and seat.member.rights()
                           & AdminRights.MANAGE_TOPICS):
            raise errors.TOPIC_CLOSED("this topic is closed")
        return topic_id
    if reply_to is None or chat.type == "channel":
        return None  # a reply inside a channel is no comment; comments live in its group
    target = messages.get(tx, chat.id, reply_to)
    if target is None:
        return None
    if target.thread_id is not None:
        if _is_forum(tx, chat.id):  # a reply joins the topic, by the topic's rules
            return place(tx, seat, None, target.thread_id, now)
        return target.thread_id
    return target.id if target.replies is not None else None


def before_post(tx: Tx, seat: access.Seat, from_id: int, now: int, text: str,
                entities: list[MessageEntity] | None, media: dict[str, object] | None,
                ) -> tuple[dict[str, object] | None, list[Appended]]:
    """A post in a channel with a discussion group: its copy there (the root of its comment
    thread) is made first, so that the post carries its `replies` from its first encoding.
    The channel's row is locked here, so the post's id is the next one now."""
    chat = seat.chat
    if chat.type != "channel":
        return None, []
    locked = channels.get_locked(tx, chat.id)
    if locked is None or not locked.linked_chat_id:
        return None, []
    group_id = int(locked.linked_chat_id)
    copy, appended = timeline.post(
        tx, group_id, from_id, now, text=text, entities=entities, media=media,
        replies={"count": 0},
        fwd_from=ForwardHeader(from_id=from_id, date=now, chat_id=chat.id,
                               message_id=int(locked.top_id) + 1),
    )
    return {"count": 0, "chat_id": group_id, "root_id": copy.id}, [appended]


def after_post(tx: Tx, seat: access.Seat, msg: Message) -> None:
    """What a new message in a thread sets off: its topic's newest id, its root's count."""
    if msg.thread_id is None:
        return
    if _is_forum(tx, seat.chat.id):
        tx.execute("UPDATE topics SET top_id = ? WHERE chat_id = ? AND id = ?",
                   (msg.id, seat.chat.id, msg.thread_id))
    _count_comment(tx, seat.chat.id, msg.thread_id, +1)


def after_delete(tx: Tx, chat_id: int, gone: list[Message]) -> None:
    """Deleted comments no longer count."""
    for msg in gone:
        if msg.thread_id is not None and msg.thread_id != msg.id:
            _count_comment(tx, chat_id, msg.thread_id, -1)


def _count_comment(tx: Tx, chat_id: int, root_id: int, step: int) -> None:
    # lock the root's row before reading it, so concurrent comments count one by one
    tx.execute("UPDATE messages SET replies = replies WHERE chat_id = ? AND id = ?",
               (chat_id, root_id))
    root = messages.get(tx, chat_id, root_id)
    if root is None or root.replies is None:
        return
    replies = dict(root.replies)
    replies["count"] = max(0, int(replies.get("count", 0)) + step)
    _set_replies(tx, chat_id, root_id, replies)
    post = root.fwd_from
    if post is not None and post.chat_id is not None and post.message_id is not None:
        original = messages.get(tx, post.chat_id, post.message_id)
        if original is not None and original.replies is not None:
            counted = dict(original.replies)
            counted["count"] = replies["count"]
            _set_replies(tx, post.chat_id, post.message_id, counted)


def _is_forum(tx: Tx, chat_id: int) -> bool:
    row = tx.one("SELECT forum FROM chats WHERE id = ?", (chat_id,))
    return bool(row and row[0])


class Threads:
    def __init__(self, db: Database, hub: Hub) -> None:
        self._db = db
        self._hub = hub

    async def set_discussion(self, caller: int, channel_id: int, group_id: int) -> bool:
        """Link a channel to a supergroup for comments (group_id 0 unlinks)."""
        now = _now()

        def txn(tx: Tx) -> None:
            seat = access.for_member(tx, channel_id, caller, now)
            chat = channels.get_locked(tx, channel_id)
            assert chat is not None
            if chat.type != "channel":
                raise errors.CHANNEL_INVALID("comments are for broadcast channels")
            require_right(seat.member, AdminRights.CHANGE_INFO)
            if chat.linked_chat_id:
                tx.execute("UPDATE chats SET linked_chat_id = NULL WHERE id = ?",
                           (chat.linked_chat_id,))
            if group_id:
                group_seat = access.for_member(tx, group_id, caller, now)
                group = channels.get_locked(tx, group_id)
                assert group is not None
                if group.type != "supergroup":
                    raise errors.CHANNEL_INVALID("the discussion group must be a supergroup")
                require_right(group_seat.member, AdminRights.CHANGE_INFO)
                if group.linked_chat_id and int(group.linked_chat_id) != channel_id:
                    raise errors.CHANNEL_INVALID("that group discusses another channel")
                tx.execute("UPDATE chats SET linked_chat_id = ? WHERE id = ?",
                           (channel_id, group_id))
            tx.execute("UPDATE chats SET linked_chat_id = ? WHERE id = ?",
                       (group_id or None, channel_id))

        await self._db.write(txn)
        return True

    async def replies(self, caller: int, chat_id: int, message_id: int, offset_id: int,
                      limit: int) -> list[Message]:
        """A thread's messages, newest first: the comments of a channel post (asked of the
        channel or of the group), or the messages of a topic or thread root."""
        now = _now()

        def txn(tx: Tx) -> list[Message]:
            seat = access.for_read(tx, chat_id, caller, now)
            root = messages.get_visible(tx, chat_id, [message_id], caller, seat.history_from)
            if not root:
                raise errors.MESSAGE_ID_INVALID("no such message")
            where_chat, root_id = chat_id, message_id
            info = root[0].replies
            if seat.chat.type == "channel":
                if not info or "chat_id" not in info:
                    raise errors.MESSAGE_ID_INVALID("that post has no comments")
                # reading the channel is enough to read its comments, as in Telegram
                where_chat, root_id = int(info["chat_id"]), int(info["root_id"])
            rows = messages.thread(tx, where_chat, root_id, offset_id, limit)
            return rows

        return await self._db.read(txn)

    # forum topics -------------------------------------------------------------------------
    async def toggle_forum(self, caller: int, channel_id: int, enabled: bool) -> bool:
        now = _now()

        def txn(tx: Tx) -> None:
            seat = access.for_member(tx, channel_id, caller, now)
            if seat.chat.type != "supergroup":
                raise errors.CHANNEL_INVALID("topics are for supergroups")
            require_right(seat.member, AdminRights.CHANGE_INFO)
            tx.execute("UPDATE chats SET forum = ? WHERE id = ?", (int(enabled), channel_id))

        await self._db.write(txn)
        return True

    async def create_topic(self, caller: int, channel_id: int, title: str) -> Topic:
        title = rules.check_title(title)
        now = _now()

        def txn(tx: Tx) -> tuple[Topic, Appended]:
            seat = access.for_member(tx, channel_id, caller, now)
            if seat.chat.type != "supergroup" or not _is_forum(tx, channel_id):
                raise errors.BAD_REQUEST("topics are for forum supergroups")
            require_may(seat.member, int(seat.chat.default_banned), now,
                        AdminRights.MANAGE_TOPICS, BannedRights.MANAGE_TOPICS)
            locked = channels.get_locked(tx, channel_id)
            assert locked is not None
            msg, appended = timeline.post(tx, channel_id, caller, now,
                                          action={"type": "topic_create", "title": title},
                                          thread_id=int(locked.top_id) + 1)
            assert msg.id == msg.thread_id
            tx.execute("INSERT INTO topics (chat_id, id, title, creator_id, created, top_id)"
                       " VALUES (?, ?, ?, ?, ?, ?)",
                       (channel_id, msg.id, title, caller, now, msg.id))
            return Topic(id=msg.id, title=title, creator_id=caller, created=now,
                         top_message_id=msg.id, closed=False), appended

        topic, appended = await self._db.write(txn)
        self._hub.updates(appended)
        return topic

    async def edit_topic(self, caller: int, channel_id: int, topic_id: int,
                         title: str | None, closed: bool | None) -> bool:
        title = rules.check_title(title) if title is not None else None
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            seat = access.for_member(tx, channel_id, caller, now)
            row = tx.one("SELECT creator_id FROM topics WHERE chat_id = ? AND id = ?",
                         (channel_id, topic_id))
            if row is None:
                raise errors.TOPIC_ID_INVALID("no such topic")
            if int(row[0]) != caller:  # its creator may edit a topic, and topic managers
                require_right(seat.member, AdminRights.MANAGE_TOPICS)
            out = []
            if title is not None:
                tx.execute("UPDATE topics SET title = ? WHERE chat_id = ? AND id = ?",
                           (title, channel_id, topic_id))
            if closed is not None:
                tx.execute("UPDATE topics SET closed = ? WHERE chat_id = ? AND id = ?",
                           (int(closed), channel_id, topic_id))
            action: dict[str, object] = {"type": "topic_edit", "topic_id": topic_id}
            if title is not None:
                action["title"] = title
            if closed is not None:
                action["closed"] = closed
            msg, posted = timeline.post(tx, channel_id, caller, now, action=action,
                                        thread_id=topic_id)
            tx.execute("UPDATE topics SET top_id = ? WHERE chat_id = ? AND id = ?",
                       (msg.id, channel_id, topic_id))
            out.append(posted)
            return out

        for a in await self._db.write(txn):
            self._hub.updates(a)
        return True

    async def topics(self, caller: int, channel_id: int, limit: int) -> list[Topic]:
        now = _now()

        def txn(tx: Tx) -> list[Topic]:
            seat = access.for_read(tx, channel_id, caller, now)
            rows = tx.all(
                "SELECT t.id, t.title, t.creator_id, t.created, t.top_id, t.closed,"
                " COALESCE(r.read_max_id, 0) FROM topics t LEFT JOIN topic_reads r"
                " ON r.chat_id = t.chat_id AND r.topic_id = t.id AND r.user_id = ?"
                " WHERE t.chat_id = ? ORDER BY t.top_id DESC LIMIT ?",
                (caller, channel_id, limit),
            )
            out = []
            for r in rows:
                read = max(int(r[6]), seat.history_from)
                unread = (messages.thread_unread(tx, channel_id, int(r[0]), caller, read)
                          if seat.active else None)
                out.append(Topic(id=r[0], title=r[1], creator_id=r[2], created=r[3],
                                 top_message_id=r[4], closed=bool(r[5]), unread_count=unread,
                                 read_max_id=int(r[6]) if seat.active else None))
            return out

        return await self._db.read(txn)

    async def read_topic(self, caller: int, channel_id: int, topic_id: int, max_id: int) -> bool:
        now = _now()

        def txn(tx: Tx) -> None:
            access.for_member(tx, channel_id, caller, now)
            row = tx.one("SELECT top_id FROM topics WHERE chat_id = ? AND id = ?",
                         (channel_id, topic_id))
            if row is None:
                raise errors.TOPIC_ID_INVALID("no such topic")
            upto = min(max_id, int(row[0]))
            tx.execute(
                "INSERT INTO topic_reads (chat_id, topic_id, user_id, read_max_id)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (chat_id, topic_id, user_id) DO UPDATE"
                " SET read_max_id = excluded.read_max_id"
                " WHERE topic_reads.read_max_id < excluded.read_max_id",
                (channel_id, topic_id, caller, upto),
            )

        await self._db.write(txn)
        return True
