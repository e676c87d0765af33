"""Who may do what in a chat: pure functions of the caller's standing.

Rules (basic groups, as Telegram's "legacy" groups; channels come with issue 3):
 1. A user learns of a chat only as a member, or as a former member (left or removed);
    anyone else is told the chat does not exist (CHAT_NOT_FOUND), so ids reveal nothing.
 2. A former member (left or removed) may learn that the chat exists, its title and their
    own standing, nothing that happened since; reading is CHAT_FORBIDDEN, writing
    CHAT_WRITE_FORBIDDEN, and the chat leaves their dialog list.
 3. Any member may send, read, react, and edit or delete *their own* messages.
 4. Owner and admins may add and remove members, rename, pin, and delete others' messages.
 5. Only the owner promotes and demotes admins; the owner cannot be removed or demoted.
 6. An admin may remove plain members but not other admins.
 7. In a private chat both sides may delete any message for everyone (Telegram's rule).
"""

from __future__ import annotations

from dataclasses import dataclass

from kurir.domain import errors


@dataclass(frozen=True, slots=True)
class Standing:
    """A user's row in a chat's member list, as far as rules care."""

    chat_type: str
    role: str  # owner | admin | member
    status: str  # member | left | kicked

    @property
    def active(self) -> bool:
        return self.status == "member"

    @property
    def is_admin(self) -> bool:
        return self.active and self.role in ("owner", "admin")


def require_basic(standing: Standing | None) -> Standing | None:
    """These rules are for private chats and basic groups; channels have their own."""
    if standing is not None and standing.chat_type in ("channel", "supergroup"):
        raise errors.CHANNEL_INVALID("use the channels.* methods for this chat")
    return standing


def require_visible(standing: Standing | None) -> Standing:
    """Rule 1: no standing at all means the chat is unknown to the caller."""
    if standing is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    return standing


def require_member(standing: Standing | None) -> Standing:
    """Rules 1-2: reading needs an active membership."""
    s = require_visible(standing)
    if not s.active:
        raise errors.CHAT_FORBIDDEN("you are no longer a member of this chat")
    return s


def require_writer(standing: Standing | None) -> Standing:
    s = require_visible(standing)
    if not s.active:
        raise errors.CHAT_WRITE_FORBIDDEN("you can't write in this chat")
    return s


def require_admin(standing: Standing | None) -> Standing:
    s = require_member(standing)
    if s.chat_type == "private":
        raise errors.PEER_INVALID("not possible in a private chat")
    if not s.is_admin:
        raise errors.CHAT_ADMIN_REQUIRED("only admins may do this")
    return s


def require_owner(standing: Standing | None) -> Standing:
    s = require_admin(standing)
    if s.role != "owner":
        raise errors.CHAT_OWNER_REQUIRED("only the owner may do this")
    return s


def may_delete_for_everyone(actor: Standing, author_id: int, actor_id: int) -> bool:
    """Rules 3, 4 and 7."""
    if not actor.active:
        return False
    return author_id == actor_id or actor.chat_type == "private" or actor.is_admin


def check_remove(actor: Standing, target: Standing | None, actor_id: int, target_id: int) -> None:
    """Rules 4-6 for removing `target_id` (removing oneself is `leave`)."""
    if target is None or not target.active:
        raise errors.USER_NOT_PARTICIPANT("that user is not a member")
    if target.role == "owner":
        raise errors.CHAT_ADMIN_REQUIRED("the owner cannot be removed")
    if actor_id == target_id:
        return
    if not actor.is_admin:
        raise errors.CHAT_ADMIN_REQUIRED("only admins may remove members")
    if target.role == "admin" and actor.role != "owner":
        raise errors.CHAT_ADMIN_REQUIRED("only the owner may remove an admin")
