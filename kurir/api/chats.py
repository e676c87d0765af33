"""chats.* methods (basic groups) and updates.*."""

from __future__ import annotations

from typing import Annotated

import msgspec

from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.types import Chat, ChatMember, Id, Invite, OptId
from kurir.services.sync import RawDifference, State

Hash = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class CreateGroup(msgspec.Struct):
    title: Annotated[str, msgspec.Meta(max_length=1024)]
    user_ids: Annotated[list[Id], msgspec.Meta(max_length=1000)] = []


class ChatUser(msgspec.Struct):
    chat_id: Id
    user_id: Id


class ChatOnly(msgspec.Struct):
    chat_id: Id


class EditAdmin(msgspec.Struct):
    chat_id: Id
    user_id: Id
    is_admin: bool


class EditTitle(msgspec.Struct):
    chat_id: Id
    title: Annotated[str, msgspec.Meta(max_length=1024)]


class ExportInvite(msgspec.Struct):
    chat_id: Id
    usage_limit: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    expire_date: Id | None = None


class InviteHash(msgspec.Struct):
    hash: Hash


class InvitePreview(msgspec.Struct):
    chat_id: int
    title: str
    member_count: int


class Empty(msgspec.Struct):
    pass


class GetDifference(msgspec.Struct):
    pts: OptId
    limit: Annotated[int, msgspec.Meta(ge=1, le=1000)] = 100
    # the date of the client's last state: the result then lists the channels that moved
    date: OptId | None = None


def methods(s: Services) -> list[Method]:
    c_ = s.chats
    m = s.messaging

    async def check_invite(c, p: InviteHash) -> InvitePreview:  # type: ignore[no-untyped-def]
        return msgspec.convert(await c_.check_invite(p.hash), InvitePreview)

    return [
        Method("chats.createGroup", CreateGroup, Chat,
               lambda c, p: c_.create_group(c.user_id, p.title, p.user_ids),
               "Create a group; the caller is its owner."),
        Method("chats.get", ChatOnly, Chat, lambda c, p: m.get_chat(c.user_id, p.chat_id),
               "A chat the caller is or was in."),
        Method("chats.getMembers", ChatOnly, list[ChatMember],
               lambda c, p: c_.members(c.user_id, p.chat_id), "The active members of a chat."),
        Method("chats.addMember", ChatUser, bool,
               lambda c, p: c_.add_member(c.user_id, p.chat_id, p.user_id),
               "Add a user to a group (admins)."),
        Method("chats.removeMember", ChatUser, bool,
               lambda c, p: c_.remove_member(c.user_id, p.chat_id, p.user_id),
               "Remove a member (admins; only the owner removes admins)."),
        Method("chats.leave", ChatOnly, bool, lambda c, p: c_.leave(c.user_id, p.chat_id),
               "Leave a group."),
        Method("chats.editAdmin", EditAdmin, bool,
               lambda c, p: c_.edit_admin(c.user_id, p.chat_id, p.user_id, p.is_admin),
               "Promote or demote a member (the owner)."),
        Method("chats.editTitle", EditTitle, bool,
               lambda c, p: c_.edit_title(c.user_id, p.chat_id, p.title),
               "Rename a group (admins)."),
        Method("chats.exportInvite", ExportInvite, Invite,
               lambda c, p: c_.export_invite(c.user_id, p.chat_id, p.usage_limit, p.expire_date),
               "Create an invite link (admins)."),
        Method("chats.getInvites", ChatOnly, list[Invite],
               lambda c, p: c_.invites(c.user_id, p.chat_id), "A group's invite links (admins)."),
        Method("chats.revokeInvite", InviteHash, bool,
               lambda c, p: c_.revoke_invite(c.user_id, p.hash), "Revoke an invite link."),
        Method("chats.checkInvite", InviteHash, InvitePreview, check_invite,
               "What an invite link leads to."),
        Method("chats.joinByInvite", InviteHash, Chat,
               lambda c, p: c_.join_by_invite(c.user_id, p.hash), "Join a group by its link."),
        Method("updates.getState", Empty, State, lambda c, p: s.sync.state(c.user_id),
               "The caller's current pts."),
        Method("updates.getDifference", GetDifference, RawDifference,
               lambda c, p: s.sync.difference(c.user_id, p.pts, p.limit, p.date),
               "Every update above pts, in order, paged."),
    ]
