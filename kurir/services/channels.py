"""Channels (broadcast) and supergroups: creation, membership, rights, restrictions,
public usernames, and the upgrade of a basic group.

A channel's messages and changes go to its own log (timeline), never to each member's; what
goes to a member's own log is only what concerns them (they joined, left, were promoted or
restricted). So a post costs O(1) writes whatever the member count, and so does a join.
Lock order as everywhere: the chat row first (get_locked / next_message_id), then member
rows, then users' pts rows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from kurir.domain import errors, rules
from kurir.domain.rights import (
    AdminRights,
    BannedRights,
    Member,
    admin_names,
    banned_names,
    check_grant,
    check_restrict,
    is_banned,
    require_may,
    require_right,
)
from kurir.domain.types import Chat, ChatMember, Update
from kurir.live import Hub
from kurir.services import timeline
from kurir.services.access import channel_for
from kurir.storage import channels, chats, messages, users
from kurir.storage.chats import ChatRow
from kurir.storage.port import Conflict, Database, Row, Tx
from kurir.storage.updates import Appended

# Telegram's: a supergroup holds up to 200,000 members; a channel has no limit.
SUPERGROUP_MAX_MEMBERS = 200_000
SLOW_MODE_VALUES = (0, 10, 30, 60, 300, 900, 3600)
# A new supergroup's members may not pin, change the info or manage topics (Telegram's
# default for public groups); admins lift that per chat with editDefaultBanned.
DEFAULT_BANNED = BannedRights.PIN_MESSAGES | BannedRights.CHANGE_INFO | BannedRights.MANAGE_TOPICS
# what the admins of a basic group become in the supergroup it is upgraded to
UPGRADED_ADMIN_RIGHTS = (
    AdminRights.CHANGE_INFO | AdminRights.DELETE_MESSAGES | AdminRights.BAN_USERS
    | AdminRights.INVITE_USERS | AdminRights.PIN_MESSAGES | AdminRights.MANAGE_TOPICS
)
MAX_INVITE = 200
T = TypeVar("T")


def _now() -> int:
    return int(time.time())


def _is_bot(tx: Tx, user_id: int) -> bool:
    user = users.by_id(tx, user_id)
    return user is not None and user.is_bot


def _channel(tx: Tx, chat_id: int, caller: int) -> ChatRow:
    """The chat, locked, which must be a channel or supergroup (see access.channel_for)."""
    return channel_for(channels.get_locked(tx, chat_id), tx, caller)


def _member(tx: Tx, chat: ChatRow, user_id: int) -> tuple[Member | None, Row | None]:
    found = channels.member(tx, chat, user_id)
    return (found[0], found[1]) if found else (None, None)


def _visible_member(tx: Tx, chat: ChatRow, user_id: int) -> Member:
    """The caller's membership; a non-member learns nothing of a private channel."""
    member, _ = _member(tx, chat, user_id)
    if member is None and chat.username is None:
        raise errors.CHAT_NOT_FOUND("chat not found")
    if member is None or not member.active:
        raise errors.CHAT_FORBIDDEN("you are not a member of this chat")
    return member


def _tell_user(tx: Tx, user_ids: list[int], chat_id: int, user_id: int, status: str,
               role: str, now: int, rights: dict[str, bool] | None = None,
               channel_pts: int | None = None, actor: int | None = None) -> Appended:
    """A change of one user's standing, to their own log (and the actor's): O(1)."""
    user_ids = [*user_ids, *channels.admin_bots(tx, chat_id)]
    return timeline.notify(
        tx, Update(pts=0, type="chat_member", chat_id=chat_id, user_id=user_id, status=status,
                   role=role, rights=rights, channel_pts=channel_pts,
                   actor_id=actor if actor != user_id else None),
        sorted(set(user_ids)), now,
    )


def join_txn(tx: Tx, chat: ChatRow, user_id: int, inviter: int | None, now: int,
             by_link: bool = False) -> tuple[list[Appended], int]:
    """Make `user_id` a member; returns the pushes and the channel pts they follow from."""
    member, _ = _member(tx, chat, user_id)
    if member is not None and member.active:
        raise errors.USER_ALREADY_PARTICIPANT("already a member")
    if is_banned(member, now):
        raise errors.USER_BANNED_IN_CHANNEL("banned from this chat")
    if chat.type == "supergroup" and int(chat.member_count) >= SUPERGROUP_MAX_MEMBERS:
        raise errors.CHAT_MEMBERS_TOO_MANY("this supergroup is full")
    channels.join(tx, chat.id, user_id, inviter, now, int(chat.top_id),
                  int(chat.prehistory_upto))
    follow_from = int(chat.pts)
    out: list[Appended] = []
    if chat.type == "supergroup":  # channels do not announce subscribers
        action: dict[str, object] = (
            {"type": "chat_joined_by_link"} if by_link
            else {"type": "chat_add_user", "user_ids": [user_id]} if inviter
            else {"type": "chat_joined"}
        )
        author = user_id if by_link else inviter or user_id
        _, posted = timeline.post(tx, chat.id, author, now, action=action)
        out.append(posted)
    out.append(_tell_user(tx, [user_id] + ([inviter] if inviter else []), chat.id,
                          user_id, "member", "member", now, channel_pts=follow_from,
                          actor=inviter))
    return out, follow_from


def join_to_comment(tx: Tx, chat_id: int, user_id: int, reply_to: int,
                    now: int) -> tuple[list[Appended], int] | None:
    """As Telegram: whoever may read a channel may comment on its posts. A comment (a reply
    in a post's thread in the channel's discussion group) by someone not in that group makes
    them a member first; None when that is not the case (the send is checked as ever)."""
    group = chats.get(tx, chat_id)
    if group is None or group.type != "supergroup" or not group.linked_chat_id:
        return None
    member, _ = _member(tx, group, user_id)
    if member is not None and (member.active or is_banned(member, now)):
        return None
    channel = chats.get(tx, int(group.linked_chat_id))
    if channel is None or channel.type != "channel":
        return None
    reader, _ = _member(tx, channel, user_id)
    if is_banned(reader, now) or ((reader is None or not reader.active)
                                  and channel.username is None):
        return None
    replied = messages.any_by_id(tx, chat_id, reply_to)
    root = messages.any_by_id(tx, chat_id, replied.thread_id or replied.id) if replied else None
    if root is None or root.fwd_from is None or root.fwd_from.chat_id != channel.id:
        return None
    locked = channels.get_locked(tx, chat_id)
    assert locked is not None
    return join_txn(tx, locked, user_id, None, now)


class Channels:
    def __init__(self, db: Database, hub: Hub) -> None:
        self._db = db
        self._hub = hub

    def _push(self, appended: list[Appended]) -> None:
        for a in appended:
            self._hub.updates(a)

    # creation -----------------------------------------------------------------------------
    async def create(self, caller: int, title: str, broadcast: bool, username: str | None,
                     about: str) -> Chat:
        title = rules.check_title(title)
        if len(about) > 255:
            raise errors.ABOUT_TOO_LONG("a description has at most 255 characters")
        if username is not None:
            rules.check_username(username)
        now = _now()
        kind = "channel" if broadcast else "supergroup"

        def txn(tx: Tx) -> tuple[Chat, list[Appended], int]:
            chat_id = channels.create(tx, kind, title, about, caller, now,
                                      0 if broadcast else int(DEFAULT_BANNED))
            if username is not None:
                self._claim(tx, chat_id, username)
            _, posted = timeline.post(tx, chat_id, caller, now,
                                      action={"type": "channel_create", "title": title})
            mine = _tell_user(tx, [caller], chat_id, caller, "member", "owner", now)
            chat = self._chat(tx, chat_id, caller)
            return chat, [posted, mine], 0

        chat, appended, pts = await self._claiming(txn)
        self._hub.channel_joined(caller, chat.id, pts)
        self._push(appended)
        return chat

    @staticmethod
    def _claim(tx: Tx, chat_id: int, username: str) -> None:
        channels.set_username(tx, chat_id, username, rules.username_key(username))

    async def _claiming(self, txn: Callable[[Tx], T]) -> T:
        """Run a transaction that claims a username: the namespace's key says who won."""
        try:
            return await self._db.write(txn)
        except Conflict:
            raise errors.USERNAME_OCCUPIED("that username is taken") from None

    @staticmethod
    def _chat(tx: Tx, chat_id: int, viewer: int) -> Chat:
        c = chats.get(tx, chat_id)
        assert c is not None
        return channel_view(tx, c, viewer)

    # joining and leaving ------------------------------------------------------------------
    async def join(self, caller: int, channel_id: int | None, username: str | None) -> Chat:
        now = _now()

        def txn(tx: Tx) -> tuple[Chat, list[Appended], int]:
            chat_id = channel_id
            if username is not None:
                chat_id = channels.by_username(tx, rules.username_key(username.lstrip("@")))
            if chat_id is None:
                raise errors.CHAT_NOT_FOUND("no public chat by that name")
            chat = _channel(tx, chat_id, caller)
            if chat.username is None:
                member, _ = _member(tx, chat, caller)
                if member is None:
                    raise errors.CHAT_NOT_FOUND("chat not found")
                raise errors.CHAT_FORBIDDEN("a private chat is joined by an invite link")
            out, pts = join_txn(tx, chat, caller, None, now)
            return self._chat(tx, chat.id, caller), out, pts

        chat, out, pts = await self._db.write(txn)
        self._hub.channel_joined(caller, chat.id, pts)
        self._push(out)
        return chat

    def join_txn(self, tx: Tx, chat_id: int, user_id: int, inviter: int,
                 now: int, by_link: bool = False) -> tuple[list[Appended], int]:
        """A join made inside another transaction (an invite link spent, a group upgraded)."""
        chat = channels.get_locked(tx, chat_id)
        assert chat is not None and chat.is_channel
        return join_txn(tx, chat, user_id, inviter, now, by_link)

    def join_invited(self, tx: Tx, chat_id: int, caller: int, inviter: int,
                     now: int) -> tuple[Chat, list[Appended], int]:
        """A join through an invite link, inside the transaction that spent the link."""
        out, pts = self.join_txn(tx, chat_id, caller, inviter, now, by_link=True)
        return self._chat(tx, chat_id, caller), out, pts

    async def invite(self, caller: int, channel_id: int, user_ids: list[int]) -> bool:
        if not user_ids or len(user_ids) > MAX_INVITE:
            raise errors.USER_ID_INVALID(f"invite 1-{MAX_INVITE} users at once")
        now = _now()

        def txn(tx: Tx) -> tuple[list[Appended], list[tuple[int, int]]]:
            chat = _channel(tx, channel_id, caller)
            actor = _visible_member(tx, chat, caller)
            require_may(actor, int(chat.default_banned), now, AdminRights.INVITE_USERS,
                        BannedRights.INVITE_USERS)
            found = users.by_ids(tx, sorted(set(user_ids)))
            if len(found) != len(set(user_ids)):
                raise errors.USER_ID_INVALID("some of those users do not exist")
            out: list[Appended] = []
            follows = []
            for uid in sorted(found):
                member, _ = _member(tx, chat, uid)
                if member is not None and member.active:
                    continue
                if is_banned(member, now) and not actor.rights() & AdminRights.BAN_USERS:
                    raise errors.USER_BANNED_IN_CHANNEL("that user is banned from this chat")
                if member is not None and member.status == "kicked":
                    channels.set_banned_status(tx, chat.id, uid, "left", 0, 0)  # lifted
                pushes, pts = join_txn(tx, chats.get(tx, chat.id) or chat, uid, caller,
                                             now)
                out += pushes
                follows.append((uid, pts))
            return out, follows

        out, follows = await self._db.write(txn)
        for uid, pts in follows:
            self._hub.channel_joined(uid, channel_id, pts)
        self._push(out)
        return True

    async def leave(self, caller: int, channel_id: int) -> bool:
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            chat = _channel(tx, channel_id, caller)
            member = _visible_member(tx, chat, caller)
            channels.set_left(tx, chat.id, caller, "left", 0, 0)
            out: list[Appended] = []
            if member.role == "owner":
                heir = _heir(tx, chat.id)
                if heir is not None:
                    chats.set_role(tx, chat.id, heir, "owner")
                    tx.execute("UPDATE chat_members SET admin_rights = ? WHERE chat_id = ?"
                               " AND user_id = ?", (int(AdminRights.all()), chat.id, heir))
                    out.append(_tell_user(tx, [heir], chat.id, heir, "member", "owner", now))
            if chat.type == "supergroup":
                _, posted = timeline.post(tx, chat.id, caller, now,
                                          action={"type": "chat_delete_user", "user_id": caller})
                out.append(posted)
            out.append(_tell_user(tx, [caller], chat.id, caller, "left", "member", now))
            return out

        out = await self._db.write(txn)
        self._hub.channel_left(caller, channel_id)
        self._push(out)
        return True

    # rights -------------------------------------------------------------------------------
    async def edit_admin(self, caller: int, channel_id: int, user_id: int,
                         rights: AdminRights) -> bool:
        now = _now()

        def txn(tx: Tx) -> tuple[list[Appended], int | None]:
            chat = _channel(tx, channel_id, caller)
            actor = _visible_member(tx, chat, caller)
            target, _ = _member(tx, chat, user_id)
            out: list[Appended] = []
            joined = None
            if (target is None or not target.active) and rights and _is_bot(tx, user_id):
                # as Telegram: a bot comes into a channel by being made its admin
                require_right(actor, AdminRights.ADD_ADMINS)
                out, joined = join_txn(tx, chat, user_id, caller, now)
                target, _ = _member(tx, chat, user_id)
            check_grant(actor, caller, target, user_id, rights)
            assert target is not None
            if not target.active:
                raise errors.USER_NOT_PARTICIPANT("that user is not a member")
            channels.set_admin(tx, chat.id, user_id, int(rights), caller)
            role = "admin" if rights else "member"
            out.append(_tell_user(tx, [user_id, caller], chat.id, user_id, "member", role, now,
                                  admin_names(int(rights)) if rights else None, actor=caller))
            return out, joined

        appended, joined = await self._db.write(txn)
        self._push(appended)
        if joined is not None:
            self._hub.channel_joined(user_id, channel_id, joined)
        return True

    async def edit_banned(self, caller: int, channel_id: int, user_id: int,
                          banned: BannedRights, until_date: int) -> bool:
        now = _now()
        if until_date and until_date <= now:
            raise errors.BAD_REQUEST("until_date is in the past")

        def txn(tx: Tx) -> tuple[list[Appended], bool]:
            chat = _channel(tx, channel_id, caller)
            actor = _visible_member(tx, chat, caller)
            target, _ = _member(tx, chat, user_id)
            if target is None and not users.exists(tx, user_id):
                raise errors.USER_ID_INVALID("no such user")
            check_restrict(actor, caller, target, user_id)
            out: list[Appended] = []
            if banned & BannedRights.VIEW_MESSAGES:  # a ban: out, and may not come back
                was_member = target is not None and target.active
                if was_member:
                    channels.set_left(tx, chat.id, user_id, "kicked", int(banned), until_date)
                    if chat.type == "supergroup":
                        _, posted = timeline.post(
                            tx, chat.id, caller, now,
                            action={"type": "chat_delete_user", "user_id": user_id})
                        out.append(posted)
                else:
                    channels.set_banned_status(tx, chat.id, user_id, "kicked", int(banned),
                                               until_date)
                out.append(_tell_user(tx, [user_id, caller], chat.id, user_id, "kicked",
                                      "member", now, banned_names(int(banned)), actor=caller))
                return out, was_member
            if target is not None and target.status == "kicked":  # unban: free to rejoin
                channels.set_banned_status(tx, chat.id, user_id, "left", 0, 0)
                out.append(_tell_user(tx, [user_id, caller], chat.id, user_id, "left",
                                      "member", now, actor=caller))
                return out, False
            if target is None or not target.active:
                raise errors.USER_NOT_PARTICIPANT("that user is not a member")
            if target.is_admin:
                channels.set_admin(tx, chat.id, user_id, 0, None)  # rule 5: demoted first
            channels.restrict(tx, chat.id, user_id, int(banned), until_date)
            out.append(_tell_user(tx, [user_id, caller], chat.id, user_id, "member", "member",
                                  now, banned_names(int(banned)) if banned else None,
                                  actor=caller))
            return out, False

        out, kicked = await self._db.write(txn)
        if kicked:
            self._hub.channel_left(user_id, channel_id)
        self._push(out)
        return True

    async def edit_default_banned(self, caller: int, channel_id: int,
                                  banned: BannedRights) -> bool:
        def txn(tx: Tx) -> None:
            chat = _channel(tx, channel_id, caller)
            require_right(_visible_member(tx, chat, caller), AdminRights.BAN_USERS)
            if chat.type != "supergroup":
                raise errors.CHANNEL_INVALID("default restrictions are for supergroups")
            tx.execute("UPDATE chats SET default_banned = ? WHERE id = ?",
                       (int(banned & ~BannedRights.VIEW_MESSAGES), chat.id))

        await self._db.write(txn)
        return True

    async def participants(self, caller: int, channel_id: int, kind: str, offset: int,
                           limit: int) -> list[ChatMember]:
        def txn(tx: Tx) -> list[ChatMember]:
            chat = channel_for(chats.get(tx, channel_id), tx, caller)
            member = _visible_member(tx, chat, caller)
            if kind == "banned" or (chat.type == "channel" and kind == "recent"):
                # subscribers of a channel, and bans, are for admins to see (Telegram's rule)
                require_right(member, AdminRights.BAN_USERS if kind == "banned"
                              else AdminRights.INVITE_USERS)
            where = {"recent": "status = 'member'",
                     "admins": "status = 'member' AND role IN ('owner', 'admin')",
                     "banned": "(status = 'kicked' OR banned_rights <> 0)"}[kind]
            rows = tx.all(
                "SELECT user_id, role, status, joined, inviter_id, admin_rights, banned_rights,"
                f" until_date FROM chat_members WHERE chat_id = ? AND {where}"
                " ORDER BY joined, user_id LIMIT ? OFFSET ?",
                (chat.id, limit, offset),
            )
            return [ChatMember(
                user_id=r[0], role=r[1], status=r[2], joined=r[3], inviter_id=r[4],
                admin_rights=admin_names(int(r[5])) if r[1] == "admin" else None,
                banned_rights=banned_names(int(r[6])) if r[6] else None,
                until_date=int(r[7]) or None,
            ) for r in rows]

        return await self._db.read(txn)

    # settings -----------------------------------------------------------------------------
    async def update_username(self, caller: int, channel_id: int, username: str) -> bool:
        if username:
            rules.check_username(username)

        def txn(tx: Tx) -> None:
            chat = _channel(tx, channel_id, caller)
            require_right(_visible_member(tx, chat, caller), AdminRights.CHANGE_INFO)
            if username:
                self._claim(tx, chat.id, username)
            else:  # no username: the chat becomes private
                channels.set_username(tx, chat.id, None, None)

        await self._claiming(txn)
        return True

    async def edit_info(self, caller: int, channel_id: int, title: str | None,
                        about: str | None) -> bool:
        title = rules.check_title(title) if title is not None else None
        if about is not None and len(about) > 255:
            raise errors.ABOUT_TOO_LONG("a description has at most 255 characters")
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            chat = _channel(tx, channel_id, caller)
            require_may(_visible_member(tx, chat, caller), int(chat.default_banned), now,
                        AdminRights.CHANGE_INFO, BannedRights.CHANGE_INFO)
            out = []
            if about is not None:
                tx.execute("UPDATE chats SET about = ? WHERE id = ?", (about, chat.id))
            if title is not None and title != chat.title:
                chats.set_title(tx, chat.id, title)
                _, posted = timeline.post(tx, chat.id, caller, now,
                                          action={"type": "chat_edit_title", "title": title})
                out.append(posted)
            return out

        self._push(await self._db.write(txn))
        return True

    async def set_flag(self, caller: int, channel_id: int, *, signatures: bool | None = None,
                       slow_mode: int | None = None) -> bool:
        if slow_mode is not None and slow_mode not in SLOW_MODE_VALUES:
            raise errors.BAD_REQUEST(f"slow mode is one of {SLOW_MODE_VALUES} seconds")

        def txn(tx: Tx) -> None:
            chat = _channel(tx, channel_id, caller)
            member = _visible_member(tx, chat, caller)
            if signatures is not None:
                require_right(member, AdminRights.CHANGE_INFO)
                if chat.type != "channel":
                    raise errors.CHANNEL_INVALID("signatures are for channels")
                tx.execute("UPDATE chats SET signatures = ? WHERE id = ?",
                           (int(signatures), chat.id))
            if slow_mode is not None:
                require_right(member, AdminRights.BAN_USERS)
                if chat.type != "supergroup":
                    raise errors.CHANNEL_INVALID("slow mode is for supergroups")
                tx.execute("UPDATE chats SET slow_mode = ? WHERE id = ?", (slow_mode, chat.id))

        await self._db.write(txn)
        return True

    async def search(self, query: str, limit: int) -> list[Chat]:
        query = query.strip().lstrip("@").lower()
        if not query:
            raise errors.QUERY_TOO_SHORT("the query is empty")
        esc = rules.escape_like(query)

        def txn(tx: Tx) -> list[Chat]:
            return [chats.to_chat(c, 0) for c in
                    channels.search_public(tx, esc + "%", "%" + esc + "%", limit)]

        return await self._db.read(txn)

    # a basic group grows up ---------------------------------------------------------------
    async def upgrade(self, caller: int, chat_id: int) -> Chat:
        """Turn a basic group into a supergroup in place: same id, history kept."""
        now = _now()

        def txn(tx: Tx) -> tuple[Chat, list[Appended], list[int], int]:
            standing = chats.standing(tx, chat_id, caller)
            if standing is None:
                raise errors.CHAT_NOT_FOUND("chat not found")
            if not standing.active:
                raise errors.CHAT_FORBIDDEN("you are no longer a member of this chat")
            if standing.chat_type != "group":
                raise errors.CHANNEL_INVALID("only a basic group can be upgraded")
            if standing.role != "owner":
                raise errors.CHAT_OWNER_REQUIRED("only the owner may upgrade the group")
            chats.lock(tx, chat_id)
            return upgrade_txn(tx, chat_id, caller, now)

        chat, out, members, pts = await self._db.write(txn)
        for uid in members:
            self._hub.channel_joined(uid, chat_id, pts)
        self._push(out)
        return chat


def upgrade_txn(tx: Tx, chat_id: int, actor: int, now: int
                ) -> tuple[Chat, list[Appended], list[int], int]:
    """The upgrade itself (also run when a group outgrows GROUP_MAX_MEMBERS)."""
    members = chats.active_member_ids(tx, chat_id)
    tx.execute(
        "UPDATE chats SET type = 'supergroup', member_count = ?, default_banned = ?,"
        " pts = 0, pts_date = ? WHERE id = ?",
        (len(members), int(DEFAULT_BANNED), now, chat_id),
    )
    tx.execute("UPDATE chat_members SET admin_rights = ? WHERE chat_id = ? AND role = 'owner'",
               (int(AdminRights.all()), chat_id))
    tx.execute("UPDATE chat_members SET admin_rights = ? WHERE chat_id = ? AND role = 'admin'",
               (int(UPGRADED_ADMIN_RIGHTS), chat_id))
    # every member's devices learn once, in their own logs, that the chat now has its own
    upgraded = timeline.notify(tx, Update(pts=0, type="chat_upgraded", chat_id=chat_id),
                               members, now)
    _, posted = timeline.post(tx, chat_id, actor, now, action={"type": "chat_upgraded"})
    # who joins the supergroup later does not see the basic group's past, as before
    tx.execute("UPDATE chats SET prehistory_upto = top_id WHERE id = ?", (chat_id,))
    c = chats.get(tx, chat_id)
    assert c is not None
    return channel_view(tx, c, actor), [upgraded, posted], members, 0


def _heir(tx: Tx, chat_id: int) -> int | None:
    row = tx.one(
        "SELECT user_id FROM chat_members WHERE chat_id = ? AND status = 'member'"
        " AND role = 'admin' ORDER BY joined, history_from, user_id LIMIT 1",
        (chat_id,),
    )
    return int(row[0]) if row else None


def channel_view(tx: Tx, c: ChatRow, viewer: int) -> Chat:
    """A channel as `viewer` sees it: with their standing and rights when a member."""
    found = channels.member(tx, c, viewer) if viewer else None
    member = found[1] if found else None
    chat = chats.to_chat(c, viewer, member=(member[0], member[1], member[6]) if member else None)
    if found is not None:
        m = found[0]
        if m.is_admin:
            chat.admin_rights = admin_names(int(m.rights()))
        if m.banned_rights:
            chat.banned_rights = banned_names(m.banned_rights)
    if c.type == "supergroup":
        chat.default_banned_rights = banned_names(int(c.default_banned))
    return chat
