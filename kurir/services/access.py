"""What the caller may do with the messages of a chat, whatever kind of chat it is.

Private chats and basic groups follow domain.permissions (roles); channels and supergroups
follow domain.rights (admin rights and restrictions). The messaging service asks here, so
its code is the same for every kind of chat.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kurir.domain import errors, permissions
from kurir.domain.rights import (
    AdminRights,
    BannedRights,
    Member,
    is_banned,
    require_may,
    slow_mode_wait,
)
from kurir.domain.rights import check_post as check_channel_post
from kurir.storage import channels, chats
from kurir.storage.chats import ChatRow
from kurir.storage.port import Row, Tx


@dataclass(frozen=True, slots=True)
class Seat:
    """The caller in a chat: their place (or a public channel's reader without one)."""

    chat: ChatRow
    user_id: int
    read_max_id: int
    history_from: int
    standing: permissions.Standing | None = None  # private chats, basic groups
    member: Member | None = None  # channels, supergroups (None: previewing a public one)

    @property
    def is_channel(self) -> bool:
        return bool(self.chat.is_channel)

    @property
    def active(self) -> bool:
        if self.is_channel:
            return self.member is not None and self.member.active
        return self.standing is not None and self.standing.active


def _chat(tx: Tx, chat_id: int) -> ChatRow:
    chat = chats.get(tx, chat_id)
    if chat is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    return chat


def _channel_member(tx: Tx, chat: ChatRow, user_id: int) -> tuple[Member | None, Row | None]:
    found = channels.member(tx, chat, user_id)
    return (found[0], found[1]) if found else (None, None)


def channel_for(chat: ChatRow | None, tx: Tx, user_id: int) -> ChatRow:
    """The chat as a channel or supergroup; a chat that is missing, or that the caller has
    no place in, is not found whatever its kind (so ids reveal nothing)."""
    if chat is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    if not chat.is_channel:
        if chats.standing(tx, chat.id, user_id) is None:
            raise errors.CHAT_NOT_FOUND("chat not found")
        raise errors.CHANNEL_INVALID("not a channel or supergroup")
    return chat


def readable_channel(tx: Tx, chat_id: int, user_id: int) -> tuple[ChatRow, Row | None]:
    """A channel the user may read: as a member, or as anyone if it is public (Telegram's
    preview) and they are not banned from it."""
    chat = channel_for(chats.get(tx, chat_id), tx, user_id)
    member, row = _channel_member(tx, chat, user_id)
    if member is not None and member.active:
        return chat, row
    if is_banned(member, int(time.time())):
        raise errors.CHAT_FORBIDDEN("you are banned from this chat")
    if chat.username is None:
        if member is not None:
            raise errors.CHAT_FORBIDDEN("you are no longer a member of this chat")
        raise errors.CHAT_NOT_FOUND("chat not found")
    return chat, None


def for_read(tx: Tx, chat_id: int, user_id: int, now: int) -> Seat:
    """History, search, message lookups: members; and anyone for a public channel."""
    chat = _chat(tx, chat_id)
    if chat.is_channel:
        member, row = _channel_member(tx, chat, user_id)
        if member is not None and member.active:
            assert row is not None
            return Seat(chat, user_id, int(row[6]), int(row[8]), member=member)
        if is_banned(member, now):
            raise errors.CHAT_FORBIDDEN("you are banned from this chat")
        if chat.username is None:
            if member is not None:
                raise errors.CHAT_FORBIDDEN("you are no longer a member of this chat")
            raise errors.CHAT_NOT_FOUND("chat not found")
        return Seat(chat, user_id, 0, 0, member=None)
    standing = permissions.require_member(chats.standing(tx, chat_id, user_id))
    row = chats.member_row(tx, chat_id, user_id)
    assert row is not None
    return Seat(chat, user_id, int(row[2]), int(row[3]), standing=standing)


def for_member(tx: Tx, chat_id: int, user_id: int, now: int) -> Seat:
    """Reading as a member (read markers, reactions): previews are not enough."""
    seat = for_read(tx, chat_id, user_id, now)
    if not seat.active:
        raise errors.CHAT_FORBIDDEN("join this chat first")
    return seat


def for_edit(tx: Tx, chat_id: int, user_id: int, now: int) -> Seat:
    """Editing is writing: a former member of a basic chat hears CHAT_WRITE_FORBIDDEN."""
    chat = _chat(tx, chat_id)
    if not chat.is_channel:
        permissions.require_writer(chats.standing(tx, chat_id, user_id))
    seat = for_member(tx, chat_id, user_id, now)
    if chat.type == "supergroup":
        assert seat.member is not None
        if seat.member.restrictions(int(chat.default_banned), now) & BannedRights.SEND_MESSAGES:
            raise errors.CHAT_WRITE_FORBIDDEN("you are restricted from writing here")
    return seat


def for_post(tx: Tx, chat_id: int, user_id: int, now: int, *, media: bool = False) -> Seat:
    """Sending: rule 3 of permissions for basic chats; rights, restrictions and slow mode
    for channels and supergroups."""
    chat = _chat(tx, chat_id)
    if not chat.is_channel:
        row = chats.member_row(tx, chat_id, user_id)  # the chat is read: no second join
        standing = permissions.require_writer(
            permissions.Standing(chat.type, row[0], row[1]) if row else None)
        assert row is not None
        return Seat(chat, user_id, int(row[2]), int(row[3]), standing=standing)
    member, row = _channel_member(tx, chat, user_id)
    if member is None and chat.username is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    member = check_channel_post(member, int(chat.default_banned), now, media=media)
    assert row is not None
    wait = slow_mode_wait(member, int(chat.slow_mode), int(row[7]), now)
    if wait:
        raise errors.SLOWMODE_WAIT("slow mode is on in this chat", retry_after=wait)
    return Seat(chat, user_id, int(row[6]), int(row[8]), member=member)


def may_edit(seat: Seat, author_id: int) -> None:
    """One's own messages; in a broadcast channel also others' posts with EDIT_MESSAGES."""
    if author_id == seat.user_id:
        return
    if seat.member is not None and seat.member.broadcast and (
        seat.member.rights() & AdminRights.EDIT_MESSAGES
    ):
        return
    raise errors.MESSAGE_AUTHOR_REQUIRED("you can edit only your own messages")


def may_delete(seat: Seat, author_id: int) -> bool:
    if seat.is_channel:
        member = seat.member
        if member is None or not member.active:
            return False
        return author_id == seat.user_id or bool(member.rights() & AdminRights.DELETE_MESSAGES)
    assert seat.standing is not None
    return permissions.may_delete_for_everyone(seat.standing, author_id, seat.user_id)


def may_pin(seat: Seat, now: int) -> None:
    if seat.is_channel:
        require_may(seat.member, int(seat.chat.default_banned), now,
                    AdminRights.PIN_MESSAGES, BannedRights.PIN_MESSAGES)
        return
    assert seat.standing is not None
    if seat.standing.chat_type != "private":
        permissions.require_admin(seat.standing)


def may_react(seat: Seat, now: int) -> None:
    if seat.is_channel:
        member = seat.member
        assert member is not None
        if member.restrictions(int(seat.chat.default_banned), now) & BannedRights.SEND_REACTIONS:
            raise errors.CHAT_WRITE_FORBIDDEN("you are restricted from reacting here")
