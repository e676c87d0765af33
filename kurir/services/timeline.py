"""Appending to a chat: the one write path of every message, plain or service.

One transaction takes the chat's next id (locking the chat row, so sends into one chat are
serialized and ids are dense), stores the message and appends one `new_message` update,
encoded once: to the log of every active member of a private chat or group, or to the
channel's own log for a channel or supergroup (one row, whatever the member count).
"""

from __future__ import annotations

from kurir.domain.types import ForwardHeader, Message, MessageEntity, Update
from kurir.storage import channels, chats, files, messages, updates
from kurir.storage.port import Tx
from kurir.storage.updates import Appended


def post(
    tx: Tx, chat_id: int, from_id: int, now: int, *, text: str = "",
    entities: list[MessageEntity] | None = None, reply_to: int | None = None,
    fwd_from: ForwardHeader | None = None, media: dict[str, object] | None = None,
    reply_markup: dict[str, object] | None = None, action: dict[str, object] | None = None,
    extra_recipients: tuple[int, ...] = (), post_author: str | None = None,
    views: int | None = None, thread_id: int | None = None,
    replies: dict[str, object] | None = None, random_id: int | None = None,
) -> tuple[Message, Appended]:
    message_id, channel_pts = chats.next_message_id(tx, chat_id, now)
    msg = Message(
        chat_id=chat_id, id=message_id, from_id=from_id, date=now, text=text,
        entities=entities or None, reply_to=reply_to, fwd_from=fwd_from, media=media,
        reply_markup=reply_markup, action=action, post_author=post_author, views=views,
        thread_id=thread_id, replies=replies,
    )
    messages.insert(tx, msg, random_id)
    if media is not None:
        for file_id in media_files(media):
            files.attach(tx, file_id, chat_id, message_id)
    if channel_pts is not None:
        return msg, channels.append(
            tx, chat_id, Update(pts=0, type="new_message", message=msg), now, channel_pts
        )
    appended = updates.append_to_members(
        tx, Update(pts=0, type="new_message", message=msg), chat_id, extra_recipients, now)
    return msg, appended


def media_files(media: dict[str, object]) -> list[str]:
    """The files a message's media carries: the file and its thumbnails."""
    out = [str(media["file_id"])] if isinstance(media.get("file_id"), str) else []
    thumbs = media.get("thumbs")
    if isinstance(thumbs, list):
        out += [str(t["file_id"]) for t in thumbs if isinstance(t, dict) and "file_id" in t]
    return out


def notify_channel(tx: Tx, chat_id: int, update: Update, now: int) -> Appended:
    """A change in a channel or supergroup (edit, delete, reaction, pin …): its own log."""
    return channels.append(tx, chat_id, update, now)


def notify(
    tx: Tx, update: Update, user_ids: list[int] | tuple[int, ...] | set[int], now: int
) -> Appended:
    """Append a non-message update (edit, delete, read, member change …) to some logs."""
    return updates.append(tx, update, user_ids, now)
