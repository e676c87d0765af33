"""Appending to a chat: the one write path of every message, plain or service.

One transaction takes the chat's next id (locking the chat row, so sends into one chat are
serialized and ids are dense), stores the message and appends one `new_message` update,
encoded once, to the log of every active member.
"""

from __future__ import annotations

from kurir.domain.types import ForwardHeader, Message, MessageEntity, Update
from kurir.storage import chats, messages, updates
from kurir.storage.port import Tx
from kurir.storage.updates import Appended


def post(
    tx: Tx, chat_id: int, from_id: int, now: int, *, text: str = "",
    entities: list[MessageEntity] | None = None, reply_to: int | None = None,
    fwd_from: ForwardHeader | None = None, media: dict[str, object] | None = None,
    reply_markup: dict[str, object] | None = None, action: dict[str, object] | None = None,
    extra_recipients: tuple[int, ...] = (),
) -> tuple[Message, Appended]:
    message_id = chats.next_message_id(tx, chat_id, now)
    msg = Message(
        chat_id=chat_id, id=message_id, from_id=from_id, date=now, text=text,
        entities=entities or None, reply_to=reply_to, fwd_from=fwd_from, media=media,
        reply_markup=reply_markup, action=action,
    )
    messages.insert(tx, msg)
    recipients = chats.active_member_ids(tx, chat_id)
    appended = updates.append(
        tx, Update(pts=0, type="new_message", message=msg),
        [*recipients, *extra_recipients], now,
    )
    return msg, appended


def notify(
    tx: Tx, update: Update, user_ids: list[int] | tuple[int, ...] | set[int], now: int
) -> Appended:
    """Append a non-message update (edit, delete, read, member change …) to some logs."""
    return updates.append(tx, update, user_ids, now)
