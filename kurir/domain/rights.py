"""Channels and supergroups: admin rights and member restrictions, as Telegram's
chatAdminRights and chatBannedRights, and who may do what with them.

Rules:
 1. The owner holds every admin right. An admin holds exactly the flags granted to them.
 2. An admin may grant (or take away) only rights they hold themselves, and only with
    ADD_ADMINS; they may not change the owner, themselves, or an admin someone else
    promoted (Telegram's rule), except the owner, who may change any admin.
 3. A restriction (banned rights) applies until its `until_date` (0: for ever); the chat's
    default restrictions apply to every plain member on top of their own.
 4. VIEW_MESSAGES banned is a ban: the user is out and may not rejoin until it ends.
 5. Admins are never restricted; restricting an admin first needs their demotion.
 6. In a broadcast channel only admins with POST_MESSAGES post; subscribers read and react.
 7. Slow mode limits plain members of a supergroup to one message per `slow_mode` seconds.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeVar

from kurir.domain import errors


class AdminRights(enum.IntFlag):
    CHANGE_INFO = 1 << 0
    POST_MESSAGES = 1 << 1
    EDIT_MESSAGES = 1 << 2
    DELETE_MESSAGES = 1 << 3
    BAN_USERS = 1 << 4
    INVITE_USERS = 1 << 5
    PIN_MESSAGES = 1 << 6
    MANAGE_TOPICS = 1 << 7
    ADD_ADMINS = 1 << 8
    ANONYMOUS = 1 << 9

    @classmethod
    def all(cls) -> AdminRights:
        return cls((1 << 10) - 1)


class BannedRights(enum.IntFlag):
    VIEW_MESSAGES = 1 << 0
    SEND_MESSAGES = 1 << 1
    SEND_MEDIA = 1 << 2
    EMBED_LINKS = 1 << 3
    SEND_POLLS = 1 << 4
    CHANGE_INFO = 1 << 5
    INVITE_USERS = 1 << 6
    PIN_MESSAGES = 1 << 7
    MANAGE_TOPICS = 1 << 8
    SEND_REACTIONS = 1 << 9


F = TypeVar("F", AdminRights, BannedRights)
# the lowercase names used on the wire, e.g. {"post_messages": true}
ADMIN_NAMES = {f.name.lower(): f for f in AdminRights if f.name}
BANNED_NAMES = {f.name.lower(): f for f in BannedRights if f.name}


def _from_names(table: dict[str, F], flags: dict[str, bool], what: str) -> int:
    out = 0
    for name, on in flags.items():
        if name not in table:
            raise errors.BAD_REQUEST(f"unknown {what} {name!r}")
        if on:
            out |= table[name]
    return out


def admin_from_names(flags: dict[str, bool]) -> AdminRights:
    return AdminRights(_from_names(ADMIN_NAMES, flags, "admin right"))


def banned_from_names(flags: dict[str, bool]) -> BannedRights:
    return BannedRights(_from_names(BANNED_NAMES, flags, "restriction"))


def admin_names(rights: int) -> dict[str, bool]:
    return {name: bool(rights & flag) for name, flag in ADMIN_NAMES.items()}


def banned_names(rights: int) -> dict[str, bool]:
    return {name: bool(rights & flag) for name, flag in BANNED_NAMES.items()}


@dataclass(frozen=True, slots=True)
class Member:
    """A user's standing in a channel or supergroup, as the rules see it."""

    broadcast: bool
    role: str  # owner | admin | member
    status: str  # member | left | kicked
    admin_rights: int
    banned_rights: int
    until_date: int
    promoted_by: int | None = None

    @property
    def active(self) -> bool:
        return self.status == "member"

    @property
    def is_admin(self) -> bool:
        return self.active and self.role in ("owner", "admin")

    def rights(self) -> AdminRights:
        """Rule 1."""
        if not self.active:
            return AdminRights(0)
        if self.role == "owner":
            return AdminRights.all()
        return AdminRights(self.admin_rights) if self.role == "admin" else AdminRights(0)

    def restrictions(self, default_banned: int, now: int) -> BannedRights:
        """Rule 3 (and 5: admins are never restricted)."""
        if self.is_admin:
            return BannedRights(0)
        own = self.banned_rights if (self.until_date == 0 or self.until_date > now) else 0
        return BannedRights(own | default_banned)


def is_banned(member: Member | None, now: int) -> bool:
    """Rule 4: banned (kicked) and the ban still runs."""
    if member is None or member.status != "kicked":
        return False
    return member.until_date == 0 or member.until_date > now


def _name(flag: enum.IntFlag) -> str:
    return (flag.name or "").lower()


def require_right(member: Member | None, right: AdminRights) -> Member:
    if member is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    if not member.active:
        raise errors.CHAT_FORBIDDEN("you are not a member of this chat")
    if not member.rights() & right:
        raise errors.CHAT_ADMIN_REQUIRED(f"this needs the {_name(right)} right")
    return member


def require_may(member: Member | None, default_banned: int, now: int,
                admin_right: AdminRights, restriction: BannedRights) -> Member:
    """An action plain supergroup members may do unless restricted; admins need the right."""
    if member is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    if not member.active:
        raise errors.CHAT_FORBIDDEN("you are not a member of this chat")
    if member.rights() & admin_right:
        return member
    # without the right, an admin may what every member may (Telegram's rule); an admin's
    # own restrictions are none, the chat's defaults still apply
    banned = BannedRights(default_banned) if member.is_admin else member.restrictions(
        default_banned, now)
    if member.broadcast or banned & restriction:
        raise errors.CHAT_ADMIN_REQUIRED(f"this needs the {_name(admin_right)} right")
    return member


def check_post(member: Member | None, default_banned: int, now: int, *, media: bool) -> Member:
    """Rules 3, 6: may this member post at all?"""
    if member is None:
        raise errors.CHAT_WRITE_FORBIDDEN("join the chat to write in it")
    if not member.active:
        raise errors.CHAT_WRITE_FORBIDDEN("you can't write in this chat")
    if member.broadcast:
        if not member.rights() & AdminRights.POST_MESSAGES:
            raise errors.CHAT_WRITE_FORBIDDEN("only admins post in a channel")
        return member
    banned = member.restrictions(default_banned, now)
    if banned & BannedRights.SEND_MESSAGES or (media and banned & BannedRights.SEND_MEDIA):
        raise errors.CHAT_WRITE_FORBIDDEN("you are restricted from writing here")
    return member


def slow_mode_wait(member: Member, slow_mode: int, last_post: int, now: int) -> int:
    """Rule 7: seconds to wait before this member may post again (0: may now)."""
    if slow_mode <= 0 or member.is_admin or member.broadcast:
        return 0
    return max(0, last_post + slow_mode - now)


def check_grant(actor: Member, actor_id: int, target: Member | None, target_id: int,
                rights: AdminRights) -> None:
    """Rule 2."""
    if actor.role != "owner":
        if not actor.rights() & AdminRights.ADD_ADMINS:
            raise errors.CHAT_ADMIN_REQUIRED("this needs the add_admins right")
        if rights & ~actor.rights():
            raise errors.RIGHT_FORBIDDEN("you may grant only rights you hold")
        if target is not None and target.role == "admin" and target.promoted_by != actor_id:
            raise errors.RIGHT_FORBIDDEN("only the owner or its promoter may change this admin")
    if target_id == actor_id:
        raise errors.RIGHT_FORBIDDEN("you cannot change your own rights")
    if target is not None and target.role == "owner":
        raise errors.RIGHT_FORBIDDEN("the owner's rights cannot be changed")
    if target is None or target.status == "kicked":
        raise errors.USER_NOT_PARTICIPANT("that user is not in this chat")


def check_restrict(actor: Member, actor_id: int, target: Member | None, target_id: int) -> None:
    """Who may restrict or ban whom: BAN_USERS, never the owner, never oneself, and an
    admin only by the owner or whoever promoted them (rule 5 demotes first)."""
    require_right(actor, AdminRights.BAN_USERS)
    if target_id == actor_id:
        raise errors.USER_ADMIN_INVALID("you cannot restrict yourself")
    if target is not None and target.role == "owner":
        raise errors.USER_ADMIN_INVALID("the owner cannot be restricted")
    if target is not None and target.is_admin and actor.role != "owner" and (
        target.promoted_by != actor_id
    ):
        raise errors.USER_ADMIN_INVALID("only the owner or its promoter may restrict an admin")
