"""Groups: create, members in and out, admins, titles, invite links.

Each membership change is a service message in the chat (as Telegram's messageAction*),
so members see it in history, plus a `chat_member` update to everyone concerned.

Lock order (see docs/architecture.md): the chat row, then member rows, then users' pts rows;
so a transaction changes membership rows before it appends any update.
"""

from __future__ import annotations

import secrets
import time

from kurir.domain import errors, permissions, rules
from kurir.domain.rights import AdminRights, BannedRights, require_may, require_right
from kurir.domain.types import Chat, ChatMember, Invite, Update
from kurir.live import Hub
from kurir.services import timeline
from kurir.services.channels import Channels, upgrade_txn
from kurir.storage import channels as channel_rows
from kurir.storage import chats, users
from kurir.storage.port import Database, Tx
from kurir.storage.updates import Appended

# Telegram's basic groups hold 200; bigger communities are supergroups (issue 3).
GROUP_MAX_MEMBERS = 200


def _now() -> int:
    return int(time.time())


class Chats:
    def __init__(self, db: Database, hub: Hub, channels: Channels) -> None:
        self._db = db
        self._hub = hub
        self._channels = channels

    @staticmethod
    def _standing(tx: Tx, chat_id: int, user_id: int) -> permissions.Standing | None:
        return permissions.require_basic(chats.standing(tx, chat_id, user_id))

    @staticmethod
    def _may_invite(tx: Tx, chat_id: int, user_id: int, now: int, manage: bool = False) -> None:
        """Invite links: a basic group's admins; a channel's holders of INVITE_USERS, and to
        make one (not to list or revoke others'), a supergroup's members unless restricted."""
        chat = chats.get(tx, chat_id)
        if chat is not None and chat.is_channel:
            found = channel_rows.member(tx, chat, user_id)
            if found is None:
                if chat.username is None:
                    raise errors.CHAT_NOT_FOUND("chat not found")
                raise errors.CHAT_FORBIDDEN("join this chat first")
            if manage:
                require_right(found[0], AdminRights.INVITE_USERS)
            else:
                require_may(found[0], int(chat.default_banned), now,
                            AdminRights.INVITE_USERS, BannedRights.INVITE_USERS)
            return
        permissions.require_admin(chats.standing(tx, chat_id, user_id))

    def _push(self, appended: list[Appended]) -> None:
        for a in appended:
            self._hub.updates(a)

    def _member_update(
        self, tx: Tx, chat_id: int, user_id: int, status: str, role: str, now: int,
        also: tuple[int, ...] = (), actor: int | None = None,
    ) -> Appended:
        who = set(chats.active_member_ids(tx, chat_id)) | set(also)
        return timeline.notify(
            tx, Update(pts=0, type="chat_member", chat_id=chat_id, user_id=user_id,
                       status=status, role=role,
                       actor_id=actor if actor != user_id else None), who, now,
        )

    async def create_group(self, caller: int, title: str, user_ids: list[int]) -> Chat:
        title = rules.check_title(title)
        invited = sorted(set(user_ids) - {caller})
        if len(invited) + 1 > GROUP_MAX_MEMBERS:
            raise errors.CHAT_MEMBERS_TOO_MANY(f"a group has at most {GROUP_MAX_MEMBERS} members")
        now = _now()

        def txn(tx: Tx) -> tuple[Chat, list[Appended]]:
            found = users.by_ids(tx, invited)
            if len(found) != len(invited):
                raise errors.USER_ID_INVALID("some of those users do not exist")
            chat_id = chats.create(tx, "group", title, caller, now)
            chats.put_member(tx, chat_id, caller, "owner", None, now, 0)
            for uid in invited:
                chats.put_member(tx, chat_id, uid, "member", caller, now, 0)
            _, appended = timeline.post(
                tx, chat_id, caller, now,
                action={"type": "chat_create", "title": title, "user_ids": invited},
            )
            c = chats.get(tx, chat_id)
            assert c is not None
            chat = chats.to_chat(c, caller, member_count=len(invited) + 1,
                                 member=chats.member_row(tx, chat_id, caller))
            return chat, [appended]

        chat, appended = await self._db.write(txn)
        self._push(appended)
        return chat

    async def add_member(self, caller: int, chat_id: int, user_id: int) -> bool:
        now = _now()

        def txn(tx: Tx) -> tuple[list[Appended], list[tuple[int, int]]]:
            permissions.require_admin(self._standing(tx, chat_id, caller))
            if not users.exists(tx, user_id):
                raise errors.USER_ID_INVALID("no such user")
            chats.lock(tx, chat_id)
            current = chats.standing(tx, chat_id, user_id)
            if current is not None and current.active:
                raise errors.USER_ALREADY_PARTICIPANT("already a member")
            if chats.member_count(tx, chat_id) >= GROUP_MAX_MEMBERS:
                # a group that outgrows a basic group's limit becomes a supergroup, in place
                _, out, members, pts = upgrade_txn(tx, chat_id, caller, now)
                joined, from_pts = self._channels.join_txn(tx, chat_id, user_id, caller, now)
                return out + joined, [(u, pts) for u in members] + [(user_id, from_pts)]
            c = chats.get(tx, chat_id)
            assert c is not None
            chats.put_member(tx, chat_id, user_id, "member", caller, now, int(c.top_id))
            _, posted = timeline.post(
                tx, chat_id, caller, now, action={"type": "chat_add_user", "user_ids": [user_id]}
            )
            return [posted, self._member_update(tx, chat_id, user_id, "member", "member",
                                                now, actor=caller)], []

        out, follows = await self._db.write(txn)
        for uid, pts in follows:
            self._hub.channel_joined(uid, chat_id, pts)
        self._push(out)
        return True

    async def remove_member(self, caller: int, chat_id: int, user_id: int) -> bool:
        if user_id == caller:
            return await self.leave(caller, chat_id)
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            actor = permissions.require_member(self._standing(tx, chat_id, caller))
            if actor.chat_type == "private":
                raise errors.PEER_INVALID("not possible in a private chat")
            chats.lock(tx, chat_id)
            permissions.check_remove(actor, chats.standing(tx, chat_id, user_id), caller, user_id)
            chats.set_status(tx, chat_id, user_id, "kicked")
            # the removed user still hears of the removal itself, and of nothing after
            _, posted = timeline.post(
                tx, chat_id, caller, now, action={"type": "chat_delete_user", "user_id": user_id},
                extra_recipients=(user_id,),
            )
            return [posted, self._member_update(tx, chat_id, user_id, "kicked", "member", now,
                                                also=(user_id,), actor=caller)]

        self._push(await self._db.write(txn))
        return True

    async def leave(self, caller: int, chat_id: int) -> bool:
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            standing = permissions.require_member(self._standing(tx, chat_id, caller))
            if standing.chat_type == "private":
                raise errors.PEER_INVALID("a private chat cannot be left")
            chats.lock(tx, chat_id)
            chats.set_status(tx, chat_id, caller, "left")
            heir = self._heir(tx, chat_id) if standing.role == "owner" else None
            if heir is not None:
                chats.set_role(tx, chat_id, heir, "owner")
            _, posted = timeline.post(
                tx, chat_id, caller, now, action={"type": "chat_delete_user", "user_id": caller},
                extra_recipients=(caller,),
            )
            out = [posted, self._member_update(tx, chat_id, caller, "left", "member", now,
                                               also=(caller,))]
            if heir is not None:
                out.append(self._member_update(tx, chat_id, heir, "member", "owner", now))
            return out

        self._push(await self._db.write(txn))
        return True

    @staticmethod
    def _heir(tx: Tx, chat_id: int) -> int | None:
        """Who owns a group its owner left: the longest-serving admin, else member."""
        row = tx.one(
            "SELECT user_id FROM chat_members WHERE chat_id = ? AND status = 'member'"
            # history_from is the chat's top id at joining: it orders joins within a second
            " ORDER BY CASE role WHEN 'admin' THEN 0 ELSE 1 END, joined, history_from, user_id"
            " LIMIT 1",
            (chat_id,),
        )
        return int(row[0]) if row else None

    async def edit_admin(self, caller: int, chat_id: int, user_id: int, is_admin: bool) -> bool:
        now = _now()
        role = "admin" if is_admin else "member"

        def txn(tx: Tx) -> list[Appended]:
            permissions.require_owner(self._standing(tx, chat_id, caller))
            chats.lock(tx, chat_id)
            target = chats.standing(tx, chat_id, user_id)
            if target is None or not target.active:
                raise errors.USER_NOT_PARTICIPANT("that user is not a member")
            if target.role == "owner":
                raise errors.CHAT_ADMIN_REQUIRED("the owner's rights cannot be changed")
            if target.role == role:
                return []
            chats.set_role(tx, chat_id, user_id, role)
            return [self._member_update(tx, chat_id, user_id, "member", role, now,
                                        actor=caller)]

        self._push(await self._db.write(txn))
        return True

    async def edit_title(self, caller: int, chat_id: int, title: str) -> bool:
        title = rules.check_title(title)
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            permissions.require_admin(self._standing(tx, chat_id, caller))
            c = chats.get(tx, chat_id)
            assert c is not None
            if c.title == title:
                return []
            chats.set_title(tx, chat_id, title)
            _, posted = timeline.post(
                tx, chat_id, caller, now, action={"type": "chat_edit_title", "title": title}
            )
            return [posted]

        self._push(await self._db.write(txn))
        return True

    async def members(self, caller: int, chat_id: int) -> list[ChatMember]:
        def txn(tx: Tx) -> list[ChatMember]:
            permissions.require_member(self._standing(tx, chat_id, caller))
            return chats.members(tx, chat_id)

        return await self._db.read(txn)

    # invite links -------------------------------------------------------------------------
    async def export_invite(
        self, caller: int, chat_id: int, usage_limit: int | None, expire_date: int | None
    ) -> Invite:
        now = _now()
        if expire_date is not None and expire_date <= now:
            raise errors.BAD_REQUEST("expire_date is in the past")

        def txn(tx: Tx) -> Invite:
            self._may_invite(tx, chat_id, caller, now)
            return chats.create_invite(tx, secrets.token_urlsafe(12), chat_id, caller, now,
                                       usage_limit, expire_date)

        return await self._db.write(txn)

    async def invites(self, caller: int, chat_id: int) -> list[Invite]:
        now = _now()

        def txn(tx: Tx) -> list[Invite]:
            self._may_invite(tx, chat_id, caller, now, manage=True)
            return chats.invites_of(tx, chat_id)

        return await self._db.read(txn)

    async def revoke_invite(self, caller: int, hash_: str) -> bool:
        now = _now()

        def txn(tx: Tx) -> None:
            inv = chats.invite(tx, hash_)
            if inv is None:
                raise errors.INVITE_HASH_INVALID("no such invite link")
            # one's own link may be revoked by its maker; others' by who manages links
            self._may_invite(tx, inv.chat_id, caller, now, manage=inv.creator_id != caller)
            chats.revoke_invite(tx, hash_)

        await self._db.write(txn)
        return True

    @staticmethod
    def _usable(inv: Invite | None, now: int) -> Invite:
        if inv is None:
            raise errors.INVITE_HASH_INVALID("no such invite link")
        if inv.revoked or (inv.expire_date is not None and inv.expire_date <= now) or (
            inv.usage_limit is not None and inv.usage >= inv.usage_limit
        ):
            raise errors.INVITE_HASH_EXPIRED("this invite link no longer works")
        return inv

    async def check_invite(self, hash_: str) -> dict[str, object]:
        now = _now()

        def txn(tx: Tx) -> dict[str, object]:
            inv = self._usable(chats.invite(tx, hash_), now)
            c = chats.get(tx, inv.chat_id)
            assert c is not None
            count = int(c.member_count) if c.is_channel else chats.member_count(tx, c.id)
            return {"chat_id": inv.chat_id, "title": c.title, "member_count": count}

        return await self._db.read(txn)

    async def join_by_invite(self, caller: int, hash_: str) -> Chat:
        now = _now()

        def txn(tx: Tx) -> tuple[Chat, list[Appended], list[tuple[int, int]]]:
            inv = self._usable(chats.invite(tx, hash_), now)
            chat_id = inv.chat_id
            chats.lock(tx, chat_id)
            c = chats.get(tx, chat_id)
            assert c is not None
            if c.is_channel:
                if not chats.use_invite(tx, hash_, now):
                    raise errors.INVITE_HASH_EXPIRED("this invite link no longer works")
                chat, out, pts = self._channels.join_invited(tx, chat_id, caller,
                                                             inv.creator_id, now)
                return chat, out, [(caller, pts)]
            current = chats.standing(tx, chat_id, caller)
            if current is not None and current.active:
                raise errors.USER_ALREADY_PARTICIPANT("you are already a member")
            if current is not None and current.status == "kicked":
                raise errors.CHAT_FORBIDDEN("you were removed from this chat")
            if chats.member_count(tx, chat_id) >= GROUP_MAX_MEMBERS:
                # full: the group becomes a supergroup, then the link lets the user in
                if not chats.use_invite(tx, hash_, now):
                    raise errors.INVITE_HASH_EXPIRED("this invite link no longer works")
                _, out, members, pts = upgrade_txn(tx, chat_id, inv.creator_id, now)
                chat, joined, from_pts = self._channels.join_invited(tx, chat_id, caller,
                                                                     inv.creator_id, now)
                return chat, out + joined, [(u, pts) for u in members] + [(caller, from_pts)]
            chats.put_member(tx, chat_id, caller, "member", inv.creator_id, now, int(c.top_id))
            if not chats.use_invite(tx, hash_, now):
                raise errors.INVITE_HASH_EXPIRED("this invite link no longer works")
            _, posted = timeline.post(
                tx, chat_id, caller, now, action={"type": "chat_joined_by_link"}
            )
            member = self._member_update(tx, chat_id, caller, "member", "member", now)
            chat = chats.to_chat(c, caller, member_count=chats.member_count(tx, chat_id),
                                 member=chats.member_row(tx, chat_id, caller))
            return chat, [posted, member], []

        chat, appended, follows = await self._db.write(txn)
        for uid, pts in follows:
            self._hub.channel_joined(uid, chat.id, pts)
        self._push(appended)
        return chat
