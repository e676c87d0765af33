"""Wire types: the objects of the client API (see shared/api-contract.md, "Objects").

Structs omit fields left at their default, so an optional field is absent rather than null.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

# Ids are positive and fit a signed 64-bit column; JavaScript clients want them below 2**53.
Id = Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
OptId = Annotated[int, msgspec.Meta(ge=0, le=2**53 - 1)]
# Telegram's random_id is a signed 64-bit integer chosen by the client.
RandomId = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

ChatType = Literal["private", "group", "supergroup", "channel"]
Role = Literal["owner", "admin", "member"]
MemberStatus = Literal["member", "left", "kicked"]


class Base(msgspec.Struct, omit_defaults=True, kw_only=True):
    pass


class User(Base):
    id: int
    username: str | None
    display_name: str
    is_bot: bool  # required: the contract lists it, so it is sent even when false
    bio: str | None = None
    last_seen: int | None = None
    online: bool | None = None


class MessageEntity(Base):
    """Telegram's MessageEntity: offset and length in UTF-16 code units."""

    type: str
    offset: Annotated[int, msgspec.Meta(ge=0)]
    length: Annotated[int, msgspec.Meta(ge=1)]
    url: str | None = None
    user_id: int | None = None
    language: str | None = None


class ForwardHeader(Base):
    from_id: int
    date: int
    chat_id: int | None = None
    message_id: int | None = None


class ReactionCount(Base):
    emoji: str
    count: int
    # in what a user reads (history, getMessages): the reaction is theirs
    chosen: bool | None = None


class Message(Base):
    chat_id: int
    id: int
    from_id: int
    date: int
    text: str
    entities: list[MessageEntity] | None = None
    reply_to: int | None = None
    fwd_from: ForwardHeader | None = None
    edit_date: int | None = None
    reactions: list[ReactionCount] | None = None
    media: dict[str, Any] | None = None
    reply_markup: dict[str, Any] | None = None
    # service messages (member added, title changed, …) carry an action instead of text
    action: dict[str, Any] | None = None
    views: int | None = None
    post_author: str | None = None
    # the thread it belongs to: a forum topic, or a channel post's comments (root id)
    thread_id: int | None = None
    # on a channel post with comments, and on a thread's root: {count, chat_id, root_id}
    replies: dict[str, Any] | None = None


class Chat(Base):
    id: int
    type: ChatType
    title: str
    username: str | None = None
    about: str | None = None
    member_count: int | None = None
    pinned_message_id: int | None = None
    # for a private chat: the other user
    peer_id: int | None = None
    # the caller's own standing in the chat
    role: Role | None = None
    status: MemberStatus | None = None
    read_inbox_max_id: int | None = None
    read_outbox_max_id: int | None = None
    # channels and supergroups
    pts: int | None = None
    slow_mode: int | None = None
    signatures: bool | None = None
    linked_chat_id: int | None = None
    forum: bool | None = None
    admin_rights: dict[str, bool] | None = None
    banned_rights: dict[str, bool] | None = None
    default_banned_rights: dict[str, bool] | None = None


class ChatMember(Base):
    user_id: int
    role: Role
    status: MemberStatus
    joined: int
    inviter_id: int | None = None
    admin_rights: dict[str, bool] | None = None
    banned_rights: dict[str, bool] | None = None
    until_date: int | None = None


class Dialog(Base):
    chat: Chat
    last_message: Message | None
    unread_count: int


class Session(Base):
    session_id: int
    device: str
    created: int
    last_active: int
    current: bool


class AuthResult(Base):
    user: User
    token: str
    session_id: int


class State(Base):
    pts: int


class Invite(Base):
    hash: str
    chat_id: int
    creator_id: int
    created: int
    revoked: bool = False
    usage: int = 0
    usage_limit: int | None = None
    expire_date: int | None = None


class Update(Base):
    """One entry of a user's update log.

    `pts` is assigned per recipient; the rest of the update is the same for everyone who
    gets it, so it is encoded once (see `encode_update_body`) and spliced with each pts.
    """

    pts: int
    type: str
    message: Message | None = None
    chat_id: int | None = None
    message_ids: list[int] | None = None
    user_id: int | None = None
    max_id: int | None = None
    status: str | None = None
    role: str | None = None
    message_id: int | None = None
    reactions: list[ReactionCount] | None = None
    chat: Chat | None = None
    user: User | None = None
    session_id: int | None = None
    rights: dict[str, bool] | None = None
    # on joining a channel: the channel's pts its devices follow it from
    channel_pts: int | None = None
    # a reaction: the reacting user's emoji now and before (None: none)
    emoji: str | None = None
    old_emoji: str | None = None
    # a member change: who made it (absent when the member did it themselves)
    actor_id: int | None = None


class Difference(Base):
    updates: list[Update]
    state: State
    more: bool
