"""channels.* methods, views, and updates.getChannelDifference."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.rights import admin_from_names, banned_from_names
from kurir.domain.types import Chat, ChatMember, Id, OptId
from kurir.services.sync import ChannelDifference

Short = Annotated[str, msgspec.Meta(max_length=256)]
Flags = Annotated[dict[str, bool], msgspec.Meta(max_length=32)]


class Create(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(max_length=1024)]
    broadcast: bool
    username: Short | None = None
    about: Annotated[str, msgspec.Meta(max_length=1024)] = ""


class Join(msgspec.Struct):
    channel_id: Id | None = None
    username: Short | None = None


class ChannelOnly(msgspec.Struct):
    channel_id: Id


class Invite(msgspec.Struct):
    channel_id: Id
    user_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=200)]


class EditAdmin(msgspec.Struct):
    channel_id: Id
    user_id: Id
    rights: Flags


class EditBanned(msgspec.Struct):
    channel_id: Id
    user_id: Id
    banned: Flags
    until_date: OptId = 0


class EditDefaultBanned(msgspec.Struct):
    channel_id: Id
    banned: Flags


class Participants(msgspec.Struct):
    channel_id: Id
    filter: Literal["recent", "admins", "banned"] = "recent"
    offset: Annotated[int, msgspec.Meta(ge=0, le=1_000_000)] = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=200)] = 100


class UpdateUsername(msgspec.Struct):
    channel_id: Id
    username: Annotated[str, msgspec.Meta(max_length=64)]


class EditInfo(msgspec.Struct):
    channel_id: Id
    title: Annotated[str, msgspec.Meta(max_length=1024)] | None = None
    about: Annotated[str, msgspec.Meta(max_length=1024)] | None = None


class Toggle(msgspec.Struct):
    channel_id: Id
    enabled: bool


class SlowMode(msgspec.Struct):
    channel_id: Id
    seconds: Annotated[int, msgspec.Meta(ge=0, le=86400)]


class Search(msgspec.Struct):
    query: Short
    limit: Annotated[int, msgspec.Meta(ge=1, le=100)] = 20


class Upgrade(msgspec.Struct):
    chat_id: Id


class GetViews(msgspec.Struct):
    chat_id: Id
    message_ids: Annotated[list[Id], msgspec.Meta(min_length=1, max_length=100)]
    increment: bool = True


class Views(msgspec.Struct):
    id: int
    views: int


class GetChannelDifference(msgspec.Struct):
    channel_id: Id
    pts: OptId
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100


def methods(s: Services) -> list[Method]:
    ch = s.channels

    async def get_views(c, p: GetViews) -> list[Views]:  # type: ignore[no-untyped-def]
        found = await s.messaging.view(c.user_id, p.chat_id, p.message_ids, p.increment)
        return [Views(i, v) for i, v in found]

    return [
        Method("channels.create", Create, Chat,
               lambda c, p: ch.create(c.user_id, p.title, p.broadcast, p.username, p.about),
               "Create a channel (broadcast) or a supergroup; the caller owns it."),
        Method("channels.join", Join, Chat,
               lambda c, p: ch.join(c.user_id, p.channel_id, p.username),
               "Join a public channel or supergroup by id or @username."),
        Method("channels.leave", ChannelOnly, bool, lambda c, p: ch.leave(c.user_id, p.channel_id),
               "Leave a channel or supergroup."),
        Method("channels.invite", Invite, bool,
               lambda c, p: ch.invite(c.user_id, p.channel_id, p.user_ids),
               "Add users (needs invite_users; a supergroup's members unless restricted)."),
        Method("channels.editAdmin", EditAdmin, bool,
               lambda c, p: ch.edit_admin(c.user_id, p.channel_id, p.user_id,
                                          admin_from_names(p.rights)),
               "Grant or change an admin's rights (no rights: demote)."),
        Method("channels.editBanned", EditBanned, bool,
               lambda c, p: ch.edit_banned(c.user_id, p.channel_id, p.user_id,
                                           banned_from_names(p.banned), p.until_date),
               "Restrict a member, or ban (view_messages) until until_date; nothing: lift."),
        Method("channels.editDefaultBanned", EditDefaultBanned, bool,
               lambda c, p: ch.edit_default_banned(c.user_id, p.channel_id,
                                                   banned_from_names(p.banned)),
               "The restrictions every plain member of a supergroup has."),
        Method("channels.getParticipants", Participants, list[ChatMember],
               lambda c, p: ch.participants(c.user_id, p.channel_id, p.filter, p.offset,
                                            p.limit),
               "Members, admins, or the banned and restricted, paged."),
        Method("channels.updateUsername", UpdateUsername, bool,
               lambda c, p: ch.update_username(c.user_id, p.channel_id, p.username),
               "Set the public @username; an empty one makes the chat private."),
        Method("channels.editInfo", EditInfo, bool,
               lambda c, p: ch.edit_info(c.user_id, p.channel_id, p.title, p.about),
               "Change the title and/or description."),
        Method("channels.toggleSignatures", Toggle, bool,
               lambda c, p: ch.set_flag(c.user_id, p.channel_id, signatures=p.enabled),
               "Sign a channel's posts with their author's name."),
        Method("channels.toggleSlowMode", SlowMode, bool,
               lambda c, p: ch.set_flag(c.user_id, p.channel_id, slow_mode=p.seconds),
               "Let each plain member of a supergroup post once per so many seconds."),
        Method("channels.search", Search, list[Chat],
               lambda c, p: ch.search(p.query, p.limit),
               "Public channels and supergroups by @username prefix or title."),
        Method("chats.migrateToSupergroup", Upgrade, Chat,
               lambda c, p: ch.upgrade(c.user_id, p.chat_id),
               "Upgrade a basic group to a supergroup in place (the owner)."),
        Method("messages.getViews", GetViews, list[Views], get_views,
               "View counters of channel posts; counts the caller's view once."),
        Method("updates.getChannelDifference", GetChannelDifference, ChannelDifference,
               lambda c, p: s.sync.channel_difference(c.user_id, p.channel_id, p.pts, p.limit),
               "A channel's updates above pts, or too_long with recent messages."),
    ]
