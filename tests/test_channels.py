"""Channels (broadcast) and supergroups over the raw HTTP API and the WebSocket, both engines:
creation, public @usernames, joining by name, id or link, invites, leaving, subscriber counts,
posting rules, signatures, views, slow mode, restrictions and bans with until-dates, default
restrictions, admin rights (rule 2 of kurir/domain/rights.py), participants, public previews,
dialogs and read markers, the channel's own log (getChannelDifference, paging, too_long),
O(1) posts, the upgrade of a basic group, and live channel pushes.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Api, unique_name
from tests.server import Server

EMOJI = "\U0001f44d"
ALL_RIGHTS = ("change_info", "post_messages", "edit_messages", "delete_messages", "ban_users",
              "invite_users", "pin_messages", "manage_topics", "add_admins", "anonymous")
# what the admins of a basic group hold in the supergroup it becomes
UPGRADED_RIGHTS = {"change_info", "delete_messages", "ban_users", "invite_users",
                   "pin_messages", "manage_topics"}
NOT_FOUND = (404, "CHAT_NOT_FOUND")
FORBIDDEN = (403, "CHAT_FORBIDDEN")
WRITE_FORBIDDEN = (403, "CHAT_WRITE_FORBIDDEN")
ADMIN = (403, "CHAT_ADMIN_REQUIRED")
RIGHT_FORBIDDEN = (403, "RIGHT_FORBIDDEN")
CHANNEL_INVALID = (400, "CHANNEL_INVALID")
BANNED = (403, "USER_BANNED_IN_CHANNEL")
OCCUPIED = (400, "USERNAME_OCCUPIED")


def rid() -> int:
    return secrets.randbits(62) + 1


def rights(*names: str) -> dict[str, bool]:
    return dict.fromkeys(names, True)


def granted(flags: dict[str, bool] | None) -> set[str]:
    return {k for k, v in (flags or {}).items() if v}


async def users(make_user: Any, n: int, name: str = "User") -> list[Api]:
    return list(await asyncio.gather(*(make_user(f"{name} {i}") for i in range(n))))


async def create(owner: Api, *, broadcast: bool = True, username: str | None = None,
                 title: str = "News") -> dict[str, Any]:
    params: dict[str, Any] = {"title": title, "broadcast": broadcast}
    if username is not None:
        params["username"] = username
    chat: dict[str, Any] = await owner("channels.create", **params)
    return chat


async def post(api: Api, chat_id: int, text: str = "hello") -> dict[str, Any]:
    msg: dict[str, Any] = await api("messages.send", chat_id=chat_id, text=text,
                                    random_id=rid())
    return msg


async def pts_of(api: Api) -> int:
    return int((await api("updates.getState"))["pts"])


async def server_now(api: Api) -> int:
    return int((await api("updates.getState"))["date"])


async def channel_pts(api: Api, chat_id: int) -> int:
    return int((await api("chats.get", chat_id=chat_id))["pts"])


async def member_count(api: Api, chat_id: int) -> int:
    return int((await api("chats.get", chat_id=chat_id))["member_count"])


async def channel_updates(api: Api, chat_id: int, pts: int = 0) -> list[dict[str, Any]]:
    """Every update of the channel's log above `pts`, paging until final (bounded)."""
    out: list[dict[str, Any]] = []
    for _ in range(50):
        diff = await api("updates.getChannelDifference", channel_id=chat_id, pts=pts,
                         limit=1000)
        assert "too_long" not in diff, diff
        out += diff["updates"]
        pts = diff["pts"]
        if diff["final"]:
            return out
    raise AssertionError("getChannelDifference never ended")


async def own_updates(api: Api, pts: int = 0) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for _ in range(50):
        diff = await api("updates.getDifference", pts=pts, limit=1000)
        out += diff["updates"]
        pts = diff["state"]["pts"]
        if not diff["more"]:
            return out
    raise AssertionError("getDifference never ended")


async def history_ids(api: Api, chat_id: int) -> list[int]:
    res = await api("messages.getHistory", chat_id=chat_id, limit=100)
    return [m["id"] for m in res["messages"]]


async def until_ok(api: Api, method: str, params: dict[str, Any], timeout: float = 10.0,
                   ) -> tuple[Any, list[tuple[int, str]]]:
    """Call until the call succeeds (bounded): for what changes when an until_date passes.
    Returns the result and the errors seen before."""
    errors: list[tuple[int, str]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r = await api.raw(method, {**params, **({"random_id": rid()} if "random_id" in params
                                                  else {})})
        body = r.json()
        if body["ok"]:
            return body["result"], errors
        errors.append((r.status_code, body["error"]["type"]))
        await asyncio.sleep(0.2)
    raise AssertionError(f"{method} never succeeded: {errors[-3:]}")


# creation and usernames -------------------------------------------------------------------

async def test_create_channel_and_supergroup(make_user) -> None:
    owner, other = await users(make_user, 2)
    name = unique_name("chan")
    channel = await create(owner, username=name, title="  Daily News ")
    assert (channel["type"], channel["title"], channel["username"]) == (
        "channel", "Daily News", name)
    assert (channel["role"], channel["status"], channel["member_count"], channel["pts"]) == (
        "owner", "member", 1, 1)
    assert granted(channel["admin_rights"]) == set(ALL_RIGHTS)
    assert "default_banned_rights" not in channel  # a channel's subscribers never write
    group = await owner("channels.create", title="Talk", broadcast=False, about="We talk.")
    assert (group["type"], group["about"], group["member_count"]) == ("supergroup", "We talk.", 1)
    assert "username" not in group  # private
    # a new supergroup's members may not pin or change the info (Telegram's default)
    assert granted(group["default_banned_rights"]) == {"pin_messages", "change_info",
                                                       "manage_topics"}
    assert channel["id"] != group["id"]
    # the log of each starts with its creation, at pts 1
    for chat, title in ((channel, "Daily News"), (group, "Talk")):
        [first] = await channel_updates(owner, chat["id"])
        assert first["pts"] == 1 and first["type"] == "new_message"
        msg = first["message"]
        assert (msg["id"], msg["from_id"], msg["action"]) == (
            1, owner.id, {"type": "channel_create", "title": title})
        assert await history_ids(owner, chat["id"]) == [1]
    # the creator's own log holds only their membership of each, not the posts
    mine = await own_updates(owner)
    assert [(u["type"], u["chat_id"], u["role"]) for u in mine] == [
        ("chat_member", channel["id"], "owner"), ("chat_member", group["id"], "owner")]
    # a stranger sees the public channel, not the private supergroup
    seen = await other("chats.get", chat_id=channel["id"])
    assert (seen["title"], seen["username"], seen["member_count"]) == ("Daily News", name, 1)
    assert "role" not in seen and "status" not in seen
    assert await other.error("chats.get", chat_id=group["id"]) == NOT_FOUND


async def test_create_validates(make_user) -> None:
    [owner] = await users(make_user, 1)
    assert await owner.error("channels.create", title="  ", broadcast=True) == (
        400, "CHAT_TITLE_EMPTY")
    assert await owner.error("channels.create", title="X", broadcast=True,
                             about="a" * 256) == (400, "ABOUT_TOO_LONG")
    for bad in ("abc", "1abcdef", "abc__def", "abcdef_", "ab cdef", "x" * 33):
        assert await owner.error("channels.create", title="X", broadcast=True,
                                 username=bad) == (400, "USERNAME_INVALID"), bad
    assert await owner.error("channels.create", title="X") == (400, "BAD_REQUEST")
    # none of the refused calls made anything
    assert await own_updates(owner) == []


async def test_usernames_are_one_namespace_with_users(make_user, http: httpx.AsyncClient
                                                      ) -> None:
    owner, other = await users(make_user, 2)
    me = await owner("users.get", user_id=owner.id)
    # a channel cannot take a user's name, in any case
    for taken in (me["username"], me["username"].upper()):
        assert await owner.error("channels.create", title="X", broadcast=True,
                                 username=taken) == OCCUPIED
    name = unique_name("Chan")
    chat = await create(owner, username=name)
    # nor another chat's, in any case, and not through updateUsername either
    assert await other.error("channels.create", title="Y", broadcast=False,
                             username=name.lower()) == OCCUPIED
    mine = await create(other, broadcast=False)
    assert await other.error("channels.updateUsername", channel_id=mine["id"],
                             username=name.upper()) == OCCUPIED
    # a user cannot take a chat's name: neither signing up nor renaming
    r = await http.post("/api/v1/auth.register", json={
        "username": name.lower(), "password": "correct horse", "display_name": "Thief"})
    assert (r.status_code, r.json()["error"]["type"]) == OCCUPIED
    assert await other.error("account.updateUsername", username=name.upper()) == OCCUPIED
    # nor can a chat take a user's name by renaming
    assert await other.error("channels.updateUsername", channel_id=mine["id"],
                             username=me["username"]) == OCCUPIED
    # the holder is unchanged: the name still leads to the channel
    joined = await other("channels.join", username="@" + name.upper())
    assert joined["id"] == chat["id"]
    # a name a chat gives up is free again, for a user too
    assert await owner("channels.updateUsername", channel_id=chat["id"], username="") is True
    assert (await other("account.updateUsername", username=name))["username"] == name


# joining, leaving, inviting, counts ---------------------------------------------------------

async def test_join_public_by_username_and_by_id(make_user) -> None:
    owner, a, b = await users(make_user, 3)
    name = unique_name("pub")
    cid = (await create(owner, username=name))["id"]
    chat = await a("channels.join", username=name.upper())
    assert (chat["id"], chat["role"], chat["status"], chat["member_count"]) == (
        cid, "member", "member", 2)
    assert "admin_rights" not in chat
    chat = await b("channels.join", channel_id=cid)
    assert (chat["status"], chat["member_count"]) == ("member", 3)
    assert await b.error("channels.join", channel_id=cid) == (400, "USER_ALREADY_PARTICIPANT")
    assert await b.error("channels.join", username=unique_name("none")) == NOT_FOUND
    assert await member_count(owner, cid) == 3
    # a channel does not announce its subscribers: its log did not move
    assert await channel_pts(owner, cid) == 1
    # the joiner's own log says they joined; the owner's got nothing
    [joined] = await own_updates(a)
    assert (joined["type"], joined["chat_id"], joined["user_id"], joined["status"]) == (
        "chat_member", cid, a.id, "member")
    assert len(await own_updates(owner)) == 1  # only their own creation
    # a supergroup announces who joined, in its own log
    gname = unique_name("grp")
    gid = (await create(owner, broadcast=False, username=gname))["id"]
    await a("channels.join", username=gname)
    [_, joined_msg] = await channel_updates(owner, gid)
    assert joined_msg["message"]["action"] == {"type": "chat_joined"}
    assert joined_msg["message"]["from_id"] == a.id


async def test_private_channel_is_joined_by_link_only(make_user) -> None:
    owner, sub, a, b, outsider = await users(make_user, 5)
    cid = (await create(owner))["id"]
    # an outsider cannot tell a private channel from no chat at all (every channel method
    # is probed so in test_channels_authz.py)
    missing = 2**52
    for method, key in (("channels.join", "channel_id"), ("chats.get", "chat_id"),
                        ("messages.getHistory", "chat_id")):
        real = await outsider.raw(method, {key: cid})
        fake = await outsider.raw(method, {key: missing})
        assert (real.status_code, real.json()["error"]["type"]) == NOT_FOUND, method
        assert real.text == fake.text, method
    # a link needs invite_users in a channel: a subscriber has none
    assert await owner("channels.invite", channel_id=cid, user_ids=[sub.id]) is True
    assert await sub.error("chats.exportInvite", chat_id=cid) == ADMIN
    assert await owner("channels.editAdmin", channel_id=cid, user_id=sub.id,
                       rights=rights("invite_users")) is True
    link = await sub("chats.exportInvite", chat_id=cid)
    assert (link["chat_id"], link["creator_id"]) == (cid, sub.id)
    preview = await a("chats.checkInvite", hash=link["hash"])
    assert preview == {"chat_id": cid, "title": "News", "member_count": 2}
    chat = await a("chats.joinByInvite", hash=link["hash"])
    assert (chat["id"], chat["status"], chat["member_count"]) == (cid, "member", 3)
    assert await history_ids(a, cid) == [1]
    assert await a.error("chats.joinByInvite", hash=link["hash"]) == (
        400, "USER_ALREADY_PARTICIPANT")
    # one who left learns the channel exists, and that a link is the way back in
    assert await a("channels.leave", channel_id=cid) is True
    assert await a.error("channels.join", channel_id=cid) == FORBIDDEN
    assert await a.error("messages.getHistory", chat_id=cid) == FORBIDDEN
    assert (await a("chats.joinByInvite", hash=link["hash"]))["status"] == "member"
    # a revoked link lets nobody in
    assert await sub("chats.revokeInvite", hash=link["hash"]) is True
    assert await b.error("chats.joinByInvite", hash=link["hash"]) == (400, "INVITE_HASH_EXPIRED")
    assert await member_count(owner, cid) == 3


async def test_a_join_by_link_is_announced_as_one(make_user) -> None:
    """In a supergroup, joining by a link is the joiner's own doing, announced as in a basic
    group (chat_joined_by_link, from the joiner; Telegram's messageActionChatJoinedByLink),
    not as the link's creator adding them."""
    owner, joiner = await users(make_user, 2)
    gid = (await create(owner, broadcast=False))["id"]
    link = (await owner("chats.exportInvite", chat_id=gid))["hash"]
    await joiner("chats.joinByInvite", hash=link)
    [_, joined] = await channel_updates(owner, gid)
    assert (joined["message"]["from_id"], joined["message"]["action"]) == (
        joiner.id, {"type": "chat_joined_by_link"})


async def test_subscriber_count_follows_join_leave_kick(make_user) -> None:
    owner, a, b, c = await users(make_user, 4)
    name = unique_name("cnt")
    cid = (await create(owner, username=name))["id"]
    counts = [await member_count(owner, cid)]
    for api in (a, b, c):
        await api("channels.join", username=name)
        counts.append(await member_count(owner, cid))
    assert await b("channels.leave", channel_id=cid) is True
    counts.append(await member_count(owner, cid))
    assert await b.error("channels.leave", channel_id=cid) == FORBIDDEN
    assert await owner("channels.editBanned", channel_id=cid, user_id=c.id,
                       banned=rights("view_messages")) is True
    counts.append(await member_count(owner, cid))
    # banning one who is not in does not change the count; a rejoin does
    assert await owner("channels.editBanned", channel_id=cid, user_id=b.id,
                       banned=rights("view_messages")) is True
    counts.append(await member_count(owner, cid))
    await owner("channels.editBanned", channel_id=cid, user_id=c.id, banned={})
    await c("channels.join", channel_id=cid)
    counts.append(await member_count(owner, cid))
    assert counts == [1, 2, 3, 4, 3, 2, 2, 3]
    # everyone sees the same count, and the list agrees
    assert await member_count(a, cid) == 3
    listed = await owner("channels.getParticipants", channel_id=cid)
    assert {m["user_id"] for m in listed} == {owner.id, a.id, c.id}


async def test_invite(make_user) -> None:
    owner, sub, x, y, z, banned = await users(make_user, 6)
    cid = (await create(owner))["id"]
    assert await owner("channels.invite", channel_id=cid, user_ids=[sub.id, x.id]) is True
    assert await member_count(owner, cid) == 3
    for api in (sub, x):
        chat = await api("chats.get", chat_id=cid)
        assert (chat["status"], chat["role"]) == ("member", "member")
        [dialog] = [d for d in await api("messages.getDialogs") if d["chat"]["id"] == cid]
        assert dialog["chat"]["type"] == "channel"
    # inviting members again changes nothing
    assert await owner("channels.invite", channel_id=cid, user_ids=[x.id]) is True
    assert await member_count(owner, cid) == 3
    assert await owner.error("channels.invite", channel_id=cid, user_ids=[y.id, 2**52]) == (
        400, "USER_ID_INVALID")
    assert await y.error("chats.get", chat_id=cid) == NOT_FOUND  # all or nothing
    # a channel's subscriber invites nobody
    assert await sub.error("channels.invite", channel_id=cid, user_ids=[y.id]) == ADMIN
    # a supergroup's members do, unless restricted from it
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[sub.id, x.id, banned.id])
    assert await sub("channels.invite", channel_id=gid, user_ids=[y.id]) is True
    [last] = (await sub("messages.getHistory", chat_id=gid, limit=1))["messages"]
    assert (last["from_id"], last["action"]) == (sub.id, {"type": "chat_add_user",
                                                          "user_ids": [y.id]})
    await owner("channels.editBanned", channel_id=gid, user_id=x.id,
                banned=rights("invite_users"))
    assert await x.error("channels.invite", channel_id=gid, user_ids=[z.id]) == ADMIN
    # a banned user comes back only through someone who may lift bans
    await owner("channels.editBanned", channel_id=gid, user_id=banned.id,
                banned=rights("view_messages"))
    assert await sub.error("channels.invite", channel_id=gid, user_ids=[banned.id]) == BANNED
    assert await banned.error("messages.getHistory", chat_id=gid) == FORBIDDEN
    assert await owner("channels.invite", channel_id=gid, user_ids=[banned.id]) is True
    assert (await banned("chats.get", chat_id=gid))["status"] == "member"
    assert await member_count(owner, gid) == 5


async def test_leave(make_user) -> None:
    owner, admin, a = await users(make_user, 3)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[admin.id, a.id])
    await owner("channels.editAdmin", channel_id=gid, user_id=admin.id,
                rights=rights("pin_messages"))
    assert await a("channels.leave", channel_id=gid) is True
    assert await a.error("messages.getHistory", chat_id=gid) == FORBIDDEN
    assert await a.error("messages.send", chat_id=gid, text="x", random_id=1) == WRITE_FORBIDDEN
    seen = await a("chats.get", chat_id=gid)
    assert (seen["status"], seen["id"]) == ("left", gid)
    assert gid not in {d["chat"]["id"] for d in await a("messages.getDialogs")}
    [*_, left] = await channel_updates(owner, gid)
    assert left["message"]["action"] == {"type": "chat_delete_user", "user_id": a.id}
    # the owner leaves: the longest-serving admin owns it now, with every right
    assert await owner("channels.leave", channel_id=gid) is True
    chat = await admin("chats.get", chat_id=gid)
    assert chat["role"] == "owner" and granted(chat["admin_rights"]) == set(ALL_RIGHTS)
    assert chat["member_count"] == 1


# posting --------------------------------------------------------------------------------------

async def test_who_posts_in_a_channel(make_user) -> None:
    owner, poster, pinner, sub = await users(make_user, 4)
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[poster.id, pinner.id, sub.id])
    await owner("channels.editAdmin", channel_id=cid, user_id=poster.id,
                rights=rights("post_messages"))
    await owner("channels.editAdmin", channel_id=cid, user_id=pinner.id,
                rights=rights("pin_messages"))
    head = await channel_pts(owner, cid)
    assert await sub.error("messages.send", chat_id=cid, text="me too",
                           random_id=1) == WRITE_FORBIDDEN
    assert await pinner.error("messages.send", chat_id=cid, text="me too",
                              random_id=1) == WRITE_FORBIDDEN
    assert await channel_pts(owner, cid) == head
    msg = await post(poster, cid, "breaking")
    assert (msg["from_id"], msg["id"], msg["views"]) == (poster.id, 2, 0)
    msg = await post(owner, cid, "more")
    assert msg["id"] == 3
    assert await history_ids(sub, cid) == [3, 2, 1]
    assert [u["pts"] for u in await channel_updates(sub, cid, head)] == [head + 1, head + 2]


async def test_who_posts_in_a_supergroup(make_user) -> None:
    owner, a, muted = await users(make_user, 3)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[a.id, muted.id])
    talk = await post(a, gid, "members talk")
    assert talk["from_id"] == a.id
    await owner("channels.editBanned", channel_id=gid, user_id=muted.id,
                banned=rights("send_messages"))
    chat = await muted("chats.get", chat_id=gid)
    assert granted(chat["banned_rights"]) == {"send_messages"}
    assert await muted.error("messages.send", chat_id=gid, text="x",
                             random_id=1) == WRITE_FORBIDDEN
    assert await muted.error("messages.forward", from_chat_id=gid, message_ids=[talk["id"]],
                             chat_id=gid) == WRITE_FORBIDDEN
    # a muted member still reads and reacts
    assert talk["id"] in await history_ids(muted, gid)
    assert await muted("messages.react", chat_id=gid, message_id=talk["id"],
                       emoji=EMOJI) is True
    # lifted: writes again
    await owner("channels.editBanned", channel_id=gid, user_id=muted.id, banned={})
    assert (await post(muted, gid))["from_id"] == muted.id


async def test_signatures(make_user) -> None:
    [owner] = await users(make_user, 1, "Owner")
    poster = await make_user("Jane Poster")
    sub = await make_user("Sub")
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[poster.id, sub.id])
    await owner("channels.editAdmin", channel_id=cid, user_id=poster.id,
                rights=rights("post_messages"))
    unsigned = await post(poster, cid, "anonymous")
    assert "post_author" not in unsigned
    assert await sub.error("channels.toggleSignatures", channel_id=cid, enabled=True) == ADMIN
    assert await poster.error("channels.toggleSignatures", channel_id=cid,
                              enabled=True) == ADMIN  # needs change_info
    assert await owner("channels.toggleSignatures", channel_id=cid, enabled=True) is True
    assert (await owner("chats.get", chat_id=cid))["signatures"] is True
    signed = await post(poster, cid, "signed")
    assert signed["post_author"] == "Jane Poster"
    seen = (await sub("messages.getMessages", chat_id=cid,
                      message_ids=[unsigned["id"], signed["id"]]))["messages"]
    assert [m.get("post_author") for m in seen] == [None, "Jane Poster"]
    assert await owner("channels.toggleSignatures", channel_id=cid, enabled=False) is True
    assert "post_author" not in await post(poster, cid, "anonymous again")
    gid = (await create(owner, broadcast=False))["id"]
    assert await owner.error("channels.toggleSignatures", channel_id=gid,
                             enabled=True) == CHANNEL_INVALID


async def test_views_count_once_per_user(make_user) -> None:
    owner, a, b, c = await users(make_user, 4)
    name = unique_name("views")
    cid = (await create(owner, username=name))["id"]
    for api in (a, b):
        await api("channels.join", username=name)
    p1, p2 = await post(owner, cid, "one"), await post(owner, cid, "two")
    assert (p1["views"], p2["views"]) == (0, 0)
    ids = [p1["id"], p2["id"]]

    async def views(api: Api, increment: bool = True, which: list[int] = ids) -> list[int]:
        res = await api("messages.getViews", chat_id=cid, message_ids=which,
                        increment=increment)
        assert [v["id"] for v in res] == sorted(which)
        return [v["views"] for v in res]

    assert await views(a) == [1, 1]
    assert await views(a) == [1, 1]  # once per user
    assert await views(b, which=[p2["id"]]) == [2]
    assert await views(c, increment=False) == [1, 2]  # looking without counting
    assert await views(c) == [2, 3]  # a public channel's reader counts too
    assert await views(owner, increment=False) == [2, 3]
    seen = (await owner("messages.getHistory", chat_id=cid, limit=2))["messages"]
    assert [m["views"] for m in seen] == [3, 2]
    # a deleted post has no counter; unknown ids are left out
    await owner("messages.delete", chat_id=cid, message_ids=[p1["id"]], revoke=True)
    res = await a("messages.getViews", chat_id=cid, message_ids=[p1["id"], p2["id"], 999])
    assert res == [{"id": p2["id"], "views": 3}]
    # views are for channel posts: a supergroup's messages are not counted
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[a.id])
    m = await post(owner, gid)
    assert "views" not in m
    assert await a("messages.getViews", chat_id=gid, message_ids=[m["id"]]) == [
        {"id": m["id"], "views": 0}]


async def test_slow_mode(make_user) -> None:
    owner, admin, a = await users(make_user, 3)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[admin.id, a.id])
    await owner("channels.editAdmin", channel_id=gid, user_id=admin.id,
                rights=rights("pin_messages"))
    for bad in (1, 7, 20, 86400):
        assert await owner.error("channels.toggleSlowMode", channel_id=gid,
                                 seconds=bad) == (400, "BAD_REQUEST"), bad
    assert await a.error("channels.toggleSlowMode", channel_id=gid, seconds=10) == ADMIN
    assert await admin.error("channels.toggleSlowMode", channel_id=gid,
                             seconds=10) == ADMIN  # needs ban_users
    assert await owner("channels.toggleSlowMode", channel_id=gid, seconds=60) is True
    assert (await a("chats.get", chat_id=gid))["slow_mode"] == 60
    await post(a, gid, "first")
    head = await channel_pts(owner, gid)
    r = await a.raw("messages.send", {"chat_id": gid, "text": "second", "random_id": rid()})
    error = r.json()["error"]
    assert (r.status_code, error["type"]) == (429, "SLOWMODE_WAIT")
    assert 1 <= error["retry_after"] <= 60
    assert await channel_pts(owner, gid) == head
    # admins are exempt
    for api in (owner, admin, owner, admin):
        await post(api, gid, "admins talk")
    # off again: the member posts at once
    assert await owner("channels.toggleSlowMode", channel_id=gid, seconds=0) is True
    assert "slow_mode" not in await a("chats.get", chat_id=gid)
    await post(a, gid, "second")
    cid = (await create(owner))["id"]
    assert await owner.error("channels.toggleSlowMode", channel_id=cid,
                             seconds=10) == CHANNEL_INVALID


# restrictions, bans, defaults ---------------------------------------------------------------

async def test_restriction_ends_at_its_until_date(make_user) -> None:
    owner, a = await users(make_user, 2)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[a.id])
    now = await server_now(owner)
    assert await owner.error("channels.editBanned", channel_id=gid, user_id=a.id,
                             banned=rights("send_messages"), until_date=now - 1) == (
        400, "BAD_REQUEST")
    assert await owner("channels.editBanned", channel_id=gid, user_id=a.id,
                       banned=rights("send_messages"), until_date=now + 2) is True
    [entry] = await owner("channels.getParticipants", channel_id=gid, filter="banned")
    assert (entry["user_id"], entry["until_date"]) == (a.id, now + 2)
    assert granted(entry["banned_rights"]) == {"send_messages"}
    msg, refused = await until_ok(a, "messages.send", {"chat_id": gid, "text": "free",
                                                       "random_id": 0})
    assert refused and set(refused) == {WRITE_FORBIDDEN}
    assert msg["from_id"] == a.id
    assert await server_now(owner) >= now + 2


async def test_ban_until_date_ends(make_user) -> None:
    owner, a = await users(make_user, 2)
    name = unique_name("tban")
    cid = (await create(owner, username=name))["id"]
    await a("channels.join", username=name)
    now = await server_now(owner)
    await owner("channels.editBanned", channel_id=cid, user_id=a.id,
                banned=rights("view_messages"), until_date=now + 2)
    chat, refused = await until_ok(a, "channels.join", {"username": name})
    assert refused and set(refused) == {BANNED}
    assert chat["status"] == "member"


async def test_ban_and_unban(make_user) -> None:
    owner, a, b, outsider = await users(make_user, 4)
    name = unique_name("ban")
    cid = (await create(owner, username=name))["id"]
    link = (await owner("chats.exportInvite", chat_id=cid))["hash"]
    for api in (a, b):
        await api("channels.join", username=name)
    await post(owner, cid, "before the ban")
    assert await owner("channels.editBanned", channel_id=cid, user_id=a.id,
                       banned=rights("view_messages")) is True
    seen = await a("chats.get", chat_id=cid)
    assert (seen["status"], seen["id"]) == ("kicked", cid)
    assert "pts" not in seen and "member_count" not in seen  # nothing of what goes on
    # a ban shuts even the public preview
    for method, params in (("messages.getHistory", {"chat_id": cid}),
                           ("messages.search", {"chat_id": cid, "query": "ban"}),
                           ("updates.getChannelDifference", {"channel_id": cid, "pts": 0})):
        assert await a.error(method, **params) == FORBIDDEN, method
    assert await a.error("channels.join", username=name) == BANNED
    assert await a.error("channels.join", channel_id=cid) == BANNED
    assert await a.error("chats.joinByInvite", hash=link) == BANNED
    [inv] = await owner("chats.getInvites", chat_id=cid)
    assert inv.get("usage", 0) == 0  # the refused join did not spend the link
    [kicked] = [u for u in await own_updates(a) if u["status"] == "kicked"]
    assert (kicked["chat_id"], kicked["user_id"]) == (cid, a.id)
    # banning someone who never was in keeps them out as well
    await owner("channels.editBanned", channel_id=cid, user_id=outsider.id,
                banned=rights("view_messages"))
    assert await outsider.error("channels.join", username=name) == BANNED
    listed = await owner("channels.getParticipants", channel_id=cid, filter="banned")
    assert {m["user_id"]: m["status"] for m in listed} == {a.id: "kicked",
                                                           outsider.id: "kicked"}
    # the owner and oneself cannot be banned
    await owner("channels.editAdmin", channel_id=cid, user_id=b.id, rights=rights("ban_users"))
    assert await b.error("channels.editBanned", channel_id=cid, user_id=owner.id,
                         banned=rights("view_messages")) == (403, "USER_ADMIN_INVALID")
    assert await b.error("channels.editBanned", channel_id=cid, user_id=b.id,
                         banned=rights("view_messages")) == (403, "USER_ADMIN_INVALID")
    # unbanned: free to come back by name or link (not put back by the unban itself)
    assert await b("channels.editBanned", channel_id=cid, user_id=a.id, banned={}) is True
    assert (await a("chats.get", chat_id=cid))["status"] == "left"
    assert (await a("channels.join", username=name))["status"] == "member"
    await b("channels.editBanned", channel_id=cid, user_id=outsider.id, banned={})
    assert (await outsider("chats.joinByInvite", hash=link))["status"] == "member"
    assert await member_count(owner, cid) == 4


async def test_default_restrictions(make_user) -> None:
    owner, admin, a = await users(make_user, 3)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[admin.id, a.id])
    await owner("channels.editAdmin", channel_id=gid, user_id=admin.id,
                rights=rights("ban_users"))
    m = await post(owner, gid, "pin me")
    # by default members may not pin
    assert await a.error("messages.pin", chat_id=gid, message_id=m["id"]) == ADMIN
    assert await a.error("channels.editDefaultBanned", channel_id=gid,
                         banned=rights("send_messages")) == ADMIN
    assert await admin("channels.editDefaultBanned", channel_id=gid,
                       banned=rights("send_messages", "view_messages")) is True
    chat = await a("chats.get", chat_id=gid)
    assert granted(chat["default_banned_rights"]) == {"send_messages"}  # a ban is personal
    assert await a.error("messages.send", chat_id=gid, text="x", random_id=1) == WRITE_FORBIDDEN
    assert (await post(admin, gid))["from_id"] == admin.id  # admins are not restricted
    assert await history_ids(a, gid)  # still reads
    await admin("channels.editDefaultBanned", channel_id=gid, banned={})
    assert await a("messages.pin", chat_id=gid, message_id=m["id"]) is True
    assert (await post(a, gid))["from_id"] == a.id
    assert await owner.error("channels.editDefaultBanned", channel_id=gid,
                             banned={"fly": True}) == (400, "BAD_REQUEST")
    cid = (await create(owner))["id"]
    assert await owner.error("channels.editDefaultBanned", channel_id=cid,
                             banned=rights("send_messages")) == CHANNEL_INVALID


# admin rights -----------------------------------------------------------------------------

async def test_admin_rights_granting_rules(make_user) -> None:
    owner, boss, b, c, d, outsider = await users(make_user, 6)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[boss.id, b.id, c.id, d.id])
    boss_rights = rights("add_admins", "pin_messages", "invite_users", "ban_users")
    assert await owner("channels.editAdmin", channel_id=gid, user_id=boss.id,
                       rights=boss_rights) is True
    chat = await boss("chats.get", chat_id=gid)
    assert chat["role"] == "admin" and granted(chat["admin_rights"]) == set(boss_rights)
    [promoted] = [u for u in await own_updates(boss) if u.get("role") == "admin"]
    assert granted(promoted["rights"]) == set(boss_rights)
    # only rights one holds
    assert await boss("channels.editAdmin", channel_id=gid, user_id=b.id,
                      rights=rights("pin_messages")) is True
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=c.id,
                            rights=rights("change_info")) == RIGHT_FORBIDDEN
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=c.id,
                            rights=rights("pin_messages", "delete_messages")) == RIGHT_FORBIDDEN
    # only with add_admins
    assert await b.error("channels.editAdmin", channel_id=gid, user_id=c.id,
                         rights=rights("pin_messages")) == ADMIN
    assert await c.error("channels.editAdmin", channel_id=gid, user_id=d.id,
                         rights=rights("pin_messages")) == ADMIN
    # only the promoter or the owner changes an admin
    await owner("channels.editAdmin", channel_id=gid, user_id=d.id, rights=rights("pin_messages"))
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=d.id,
                            rights={}) == RIGHT_FORBIDDEN
    assert await boss.error("channels.editBanned", channel_id=gid, user_id=d.id,
                            banned=rights("send_messages")) == (403, "USER_ADMIN_INVALID")
    assert await boss("channels.editAdmin", channel_id=gid, user_id=c.id,
                      rights=rights("pin_messages")) is True
    assert await boss("channels.editAdmin", channel_id=gid, user_id=c.id, rights={}) is True
    assert (await c("chats.get", chat_id=gid))["role"] == "member"
    # the owner changes any admin (and is their promoter from then on)
    assert await owner("channels.editAdmin", channel_id=gid, user_id=b.id,
                       rights=rights("pin_messages", "change_info")) is True
    assert granted((await b("chats.get", chat_id=gid))["admin_rights"]) == {
        "pin_messages", "change_info"}
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=b.id,
                            rights={}) == RIGHT_FORBIDDEN
    await owner("channels.editAdmin", channel_id=gid, user_id=b.id, rights={})
    # nobody changes the owner, nor themselves
    for actor in (boss, owner):
        assert await actor.error("channels.editAdmin", channel_id=gid, user_id=owner.id,
                                 rights=rights("pin_messages")) == RIGHT_FORBIDDEN
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=boss.id,
                            rights=rights("pin_messages")) == RIGHT_FORBIDDEN
    # only members become admins
    assert await owner.error("channels.editAdmin", channel_id=gid, user_id=outsider.id,
                             rights=rights("pin_messages")) == (400, "USER_NOT_PARTICIPANT")
    assert await owner.error("channels.editAdmin", channel_id=gid, user_id=c.id,
                             rights={"fly": True}) == (400, "BAD_REQUEST")
    # rule 5: restricting an admin demotes them first
    assert await owner("channels.editBanned", channel_id=gid, user_id=d.id,
                       banned=rights("send_messages")) is True
    chat = await d("chats.get", chat_id=gid)
    assert chat["role"] == "member" and "admin_rights" not in chat
    assert granted(chat["banned_rights"]) == {"send_messages"}
    # the owner takes add_admins away: boss promotes nobody any more
    await owner("channels.editAdmin", channel_id=gid, user_id=boss.id,
                rights=rights("pin_messages"))
    assert await boss.error("channels.editAdmin", channel_id=gid, user_id=c.id,
                            rights=rights("pin_messages")) == ADMIN
    admins = await owner("channels.getParticipants", channel_id=gid, filter="admins")
    assert {m["user_id"]: m["role"] for m in admins} == {owner.id: "owner", boss.id: "admin"}


async def test_get_participants_filters(make_user) -> None:
    owner, admin, a, b, muted, gone = await users(make_user, 6)
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid,
                user_ids=[admin.id, a.id, b.id, muted.id, gone.id])
    await owner("channels.editAdmin", channel_id=gid, user_id=admin.id,
                rights=rights("pin_messages"))
    await owner("channels.editBanned", channel_id=gid, user_id=muted.id,
                banned=rights("send_messages"))
    await owner("channels.editBanned", channel_id=gid, user_id=gone.id,
                banned=rights("view_messages"))
    recent = await a("channels.getParticipants", channel_id=gid)
    assert {m["user_id"] for m in recent} == {owner.id, admin.id, a.id, b.id, muted.id}
    assert all(m["status"] == "member" for m in recent)
    by_id = {m["user_id"]: m for m in recent}
    assert by_id[owner.id]["role"] == "owner"
    assert granted(by_id[admin.id]["admin_rights"]) == {"pin_messages"}
    admins = await a("channels.getParticipants", channel_id=gid, filter="admins")
    assert {m["user_id"]: m["role"] for m in admins} == {owner.id: "owner", admin.id: "admin"}
    # bans and restrictions are for those who may ban
    assert await a.error("channels.getParticipants", channel_id=gid, filter="banned") == ADMIN
    assert await admin.error("channels.getParticipants", channel_id=gid,
                             filter="banned") == ADMIN
    banned = await owner("channels.getParticipants", channel_id=gid, filter="banned")
    assert {m["user_id"]: m["status"] for m in banned} == {muted.id: "member", gone.id: "kicked"}
    # paging: disjoint pages that add up to the whole
    pages = [await a("channels.getParticipants", channel_id=gid, offset=o, limit=2)
             for o in (0, 2, 4, 6)]
    assert [len(p) for p in pages] == [2, 2, 1, 0]
    assert [m["user_id"] for p in pages for m in p] == [m["user_id"] for m in recent]
    # a channel's subscriber list is for admins; its admins are known to everyone
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[a.id])
    assert await a.error("channels.getParticipants", channel_id=cid) == ADMIN
    admins = await a("channels.getParticipants", channel_id=cid, filter="admins")
    assert [m["user_id"] for m in admins] == [owner.id]
    assert len(await owner("channels.getParticipants", channel_id=cid)) == 2


# settings and discovery -------------------------------------------------------------------

async def test_update_username_public_and_private(make_user) -> None:
    owner, sub, outsider = await users(make_user, 3)
    cid = (await create(owner, title="Gazette"))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[sub.id])
    await post(owner, cid, "gazette news")
    assert await outsider.error("messages.getHistory", chat_id=cid) == NOT_FOUND
    assert await sub.error("channels.updateUsername", channel_id=cid,
                           username=unique_name("x")) == ADMIN
    name = unique_name("gaz")
    assert await owner("channels.updateUsername", channel_id=cid, username=name) is True
    assert (await outsider("chats.get", chat_id=cid))["username"] == name
    assert await history_ids(outsider, cid) == [2, 1]
    assert [c["id"] for c in await outsider("channels.search", query=name)] == [cid]
    assert await owner.error("channels.updateUsername", channel_id=cid,
                             username="no") == (400, "USERNAME_INVALID")
    # renamed: the old name is free and leads nowhere
    new = unique_name("gaz")
    await owner("channels.updateUsername", channel_id=cid, username=new)
    assert await outsider.error("channels.join", username=name) == NOT_FOUND
    # private again: outsiders lose the preview, and cannot tell it exists
    assert await owner("channels.updateUsername", channel_id=cid, username="") is True
    assert "username" not in await owner("chats.get", chat_id=cid)
    for method, params in (("chats.get", {"chat_id": cid}),
                           ("messages.getHistory", {"chat_id": cid}),
                           ("messages.search", {"chat_id": cid, "query": "gazette"}),
                           ("updates.getChannelDifference", {"channel_id": cid, "pts": 0})):
        assert await outsider.error(method, **params) == NOT_FOUND, method
    assert await outsider.error("channels.join", username=new) == NOT_FOUND
    assert await outsider("channels.search", query=new) == []
    assert await history_ids(sub, cid) == [2, 1]  # members keep reading


async def test_edit_info(make_user) -> None:
    owner, sub, a = await users(make_user, 3)
    cid = (await create(owner, title="Old"))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[sub.id])
    head = await channel_pts(owner, cid)
    assert await sub.error("channels.editInfo", channel_id=cid, title="Mine") == ADMIN
    assert await owner("channels.editInfo", channel_id=cid, title=" New ",
                       about="All the news.") is True
    chat = await sub("chats.get", chat_id=cid)
    assert (chat["title"], chat["about"]) == ("New", "All the news.")
    [renamed] = await channel_updates(sub, cid, head)
    assert renamed["message"]["action"] == {"type": "chat_edit_title", "title": "New"}
    # the description alone leaves no trace in the log
    assert await owner("channels.editInfo", channel_id=cid, about="Less news.") is True
    assert await channel_pts(owner, cid) == head + 1
    assert (await sub("chats.get", chat_id=cid))["about"] == "Less news."
    assert await owner.error("channels.editInfo", channel_id=cid, about="x" * 256) == (
        400, "ABOUT_TOO_LONG")
    assert await owner.error("channels.editInfo", channel_id=cid, title=" ") == (
        400, "CHAT_TITLE_EMPTY")
    # a supergroup's members may not by default; once allowed, they may
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[a.id])
    assert await a.error("channels.editInfo", channel_id=gid, title="Ours") == ADMIN
    await owner("channels.editDefaultBanned", channel_id=gid, banned={})
    assert await a("channels.editInfo", channel_id=gid, title="Ours") is True
    assert (await owner("chats.get", chat_id=gid))["title"] == "Ours"


async def test_search_public_chats(make_user) -> None:
    owner, searcher = await users(make_user, 2)
    tag = secrets.token_hex(4)
    prefix = f"srch{tag}"
    big = await create(owner, username=f"{prefix}_big", title=f"Big {tag} Weekly")
    small = await create(owner, broadcast=False, username=f"{prefix}_small",
                         title=f"Small {tag} circle")
    hidden = await create(owner, title=f"Hidden {tag} Weekly")  # private
    await searcher("channels.join", channel_id=big["id"])
    # by title, anywhere in it, case-insensitive; the bigger first
    found = await searcher("channels.search", query=tag.upper())
    assert [c["id"] for c in found] == [big["id"], small["id"]]
    assert [c["member_count"] for c in found] == [2, 1]
    assert {c["type"] for c in found} == {"channel", "supergroup"}
    assert [c["id"] for c in await searcher("channels.search", query=f"{tag} weekly")] == [
        big["id"]]
    # by username prefix, with or without @
    assert [c["id"] for c in await searcher("channels.search",
                                            query=f"@{prefix}_sm")] == [small["id"]]
    assert {c["id"] for c in await searcher("channels.search", query=prefix)} == {
        big["id"], small["id"]}
    assert hidden["id"] not in {c["id"] for c in await searcher("channels.search",
                                                                query="Hidden " + tag)}
    assert len(await searcher("channels.search", query=tag, limit=1)) == 1
    for empty in ("", " ", "@"):
        assert await searcher.error("channels.search", query=empty) == (
            400, "QUERY_TOO_SHORT")
    # LIKE wildcards are plain characters
    assert await searcher("channels.search", query=f"%{tag}") == []


async def test_public_preview_reads_but_never_writes(make_user) -> None:
    owner, reader = await users(make_user, 2)
    name = unique_name("prev")
    cid = (await create(owner, username=name))["id"]
    tag = secrets.token_hex(5)
    msgs = [await post(owner, cid, f"{tag} post {i}") for i in range(3)]
    ids = [m["id"] for m in msgs]
    assert await history_ids(reader, cid) == [*reversed(ids), 1]
    got = await reader("messages.getMessages", chat_id=cid, message_ids=ids)
    assert [m["text"] for m in got["messages"]] == [m["text"] for m in msgs]
    found = await reader("messages.search", query=tag, chat_id=cid)
    assert sorted(m["id"] for m in found["messages"]) == ids
    diff = await reader("updates.getChannelDifference", channel_id=cid, pts=0)
    assert [u["pts"] for u in diff["updates"]] == [1, 2, 3, 4] and diff["final"] is True
    chat = await reader("chats.get", chat_id=cid)
    assert (chat["id"], chat["username"], chat["member_count"], chat["pts"]) == (
        cid, name, 1, 4)
    assert "role" not in chat and "status" not in chat
    # it may not write, react, pin, read or delete there
    head = await channel_pts(owner, cid)
    pts = await pts_of(reader)
    refusals = {
        ("messages.send", WRITE_FORBIDDEN): {"text": "hi", "random_id": 1},
        ("messages.setTyping", WRITE_FORBIDDEN): {},
        ("messages.react", FORBIDDEN): {"message_id": ids[0], "emoji": EMOJI},
        ("messages.read", FORBIDDEN): {"max_id": ids[-1]},
        ("messages.pin", FORBIDDEN): {"message_id": ids[0]},
        ("messages.delete", FORBIDDEN): {"message_ids": [ids[0]], "revoke": True},
        ("messages.edit", FORBIDDEN): {"message_id": ids[0], "text": "mine"},
    }
    for (method, expected), params in refusals.items():
        assert await reader.error(method, chat_id=cid, **params) == expected, method
    assert await channel_pts(owner, cid) == head and await pts_of(reader) == pts
    assert await history_ids(owner, cid) == [*reversed(ids), 1]
    # nor is the channel the reader's: not in dialogs, not in a search of "my" messages
    assert cid not in {d["chat"]["id"] for d in await reader("messages.getDialogs")}
    assert await reader("messages.search", query=tag) == {"messages": []}
    assert await member_count(owner, cid) == 1


# dialogs, unread counts and read markers ------------------------------------------------------

async def test_dialogs_unread_counts_and_read_markers(make_user) -> None:
    owner, sub, friend = await users(make_user, 3)
    name = unique_name("unrd")
    cid = (await create(owner, username=name))["id"]
    await post(owner, cid, "old news")
    await sub("channels.join", username=name)

    async def dialog(api: Api, chat_id: int) -> dict[str, Any]:
        [d] = [d for d in await api("messages.getDialogs") if d["chat"]["id"] == chat_id]
        return d

    # (what was there before joining: see test_joining_leaves_nothing_unread)
    base = (await dialog(sub, cid))["unread_count"]
    posts = [await post(owner, cid, f"news {i}") for i in range(3)]
    d = await dialog(sub, cid)
    assert (d["chat"]["type"], d["last_message"], d["unread_count"]) == (
        "channel", posts[-1], base + 3)
    assert (await dialog(owner, cid))["unread_count"] == 0  # one's own posts
    # the dialog's chat is the chat as chats.get gives it: the owner's rights, none for a
    # plain subscriber
    owners = await dialog(owner, cid)
    assert owners["chat"] == await owner("chats.get", chat_id=cid)
    assert owners["chat"]["admin_rights"]["post_messages"] is True
    assert "admin_rights" not in d["chat"]
    # a private chat that moves later comes first in the list
    await friend("messages.send", user_id=sub.id, text="hi", random_id=rid())
    assert [x["chat"]["type"] for x in (await sub("messages.getDialogs"))[:2]] == [
        "private", "channel"]
    await post(owner, cid, "latest")
    assert (await sub("messages.getDialogs"))[0]["chat"]["id"] == cid
    before = {api.id: await pts_of(api) for api in (owner, sub)}
    assert await sub("messages.read", chat_id=cid, max_id=posts[1]["id"]) is True
    assert (await dialog(sub, cid))["unread_count"] == 2
    assert (await sub("chats.get", chat_id=cid))["read_inbox_max_id"] == posts[1]["id"]
    assert await sub("messages.read", chat_id=cid, max_id=10**6) is True
    chat = await sub("chats.get", chat_id=cid)
    assert chat["read_inbox_max_id"] == posts[-1]["id"] + 1  # clamped to the last
    assert "read_outbox_max_id" not in chat
    assert (await dialog(sub, cid))["unread_count"] == 0
    # a read marker goes to the reader's own log only (their other devices), O(1)
    reads = await own_updates(sub, before[sub.id])
    assert [(u["type"], u["chat_id"], u["max_id"]) for u in reads] == [
        ("read_history", cid, posts[1]["id"]), ("read_history", cid, posts[-1]["id"] + 1)]
    assert await pts_of(owner) == before[owner.id]
    # reading back is a no-op
    assert await sub("messages.read", chat_id=cid, max_id=1) is True
    assert await pts_of(sub) == before[sub.id] + 2
    # in a supergroup the same: others' messages are unread
    gid = (await create(owner, broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[sub.id])
    base = (await dialog(sub, gid))["unread_count"]
    await post(sub, gid, "mine")
    await post(owner, gid, "theirs")
    assert (await dialog(sub, gid))["unread_count"] == base + 1


async def test_joining_leaves_nothing_unread(make_user) -> None:
    """A channel's past is not news to whoever joins it (Telegram shows no unread badge for
    a channel one just joined; kurir's own basic groups mark a new member read up to the
    top too): by name, by link or invited, the new dialog has nothing unread."""
    owner, by_name, by_link, invited = await users(make_user, 4)
    name = unique_name("past")
    cid = (await create(owner, username=name))["id"]
    for i in range(3):
        await post(owner, cid, f"old news {i}")
    link = (await owner("chats.exportInvite", chat_id=cid))["hash"]
    await by_name("channels.join", username=name)
    await by_link("chats.joinByInvite", hash=link)
    await owner("channels.invite", channel_id=cid, user_ids=[invited.id])
    for api in (by_name, by_link, invited):
        [d] = [d for d in await api("messages.getDialogs") if d["chat"]["id"] == cid]
        assert d["unread_count"] == 0, api.id
        assert (await api("chats.get", chat_id=cid))["read_inbox_max_id"] == 4
    # the same when coming back after leaving
    await by_name("channels.leave", channel_id=cid)
    await post(owner, cid, "while away")
    await by_name("channels.join", username=name)
    [d] = [d for d in await by_name("messages.getDialogs") if d["chat"]["id"] == cid]
    assert d["unread_count"] == 0


# the channel's own log ----------------------------------------------------------------------

async def test_changes_go_to_the_channel_log_only(make_user) -> None:
    owner, sub, editor = await users(make_user, 3)
    for broadcast in (True, False):
        cid = (await create(owner, broadcast=broadcast))["id"]
        await owner("channels.invite", channel_id=cid, user_ids=[sub.id, editor.id])
        await owner("channels.editAdmin", channel_id=cid, user_id=editor.id,
                    rights=rights("edit_messages", "delete_messages", "pin_messages",
                                  "post_messages"))
        first, second = await post(owner, cid, "first"), await post(owner, cid, "second")
        head = await channel_pts(owner, cid)
        own = {api.id: await pts_of(api) for api in (owner, sub, editor)}
        if broadcast:  # in a channel, editors edit others' posts
            edited = await editor("messages.edit", chat_id=cid, message_id=first["id"],
                                  text="first, edited")
        else:
            assert await editor.error("messages.edit", chat_id=cid, message_id=first["id"],
                                      text="x") == (403, "MESSAGE_AUTHOR_REQUIRED")
            edited = await owner("messages.edit", chat_id=cid, message_id=first["id"],
                                 text="first, edited")
        assert await sub("messages.react", chat_id=cid, message_id=first["id"],
                         emoji=EMOJI) is True
        assert await editor("messages.pin", chat_id=cid, message_id=first["id"]) is True
        # in a channel a delete is always for everyone
        assert await editor("messages.delete", chat_id=cid, message_ids=[second["id"]],
                            revoke=False) is True
        log = await channel_updates(sub, cid, head)
        assert [u["pts"] for u in log] == [head + 1, head + 2, head + 3, head + 4]
        assert [u["type"] for u in log] == ["edit_message", "reaction", "pinned_message",
                                            "delete_messages"]
        assert log[0]["message"] == edited and edited["edit_date"]
        assert (log[1]["message_id"], log[1]["user_id"], log[1]["reactions"]) == (
            first["id"], sub.id, [{"emoji": EMOJI, "count": 1}])
        assert (log[2]["chat_id"], log[2]["message_id"]) == (cid, first["id"])
        assert (log[3]["chat_id"], log[3]["message_ids"]) == (cid, [second["id"]])
        for api in (owner, sub, editor):
            assert await pts_of(api) == own[api.id]
            assert await api("messages.getMessages", chat_id=cid,
                             message_ids=[second["id"]]) == {"messages": []}
        assert (await sub("chats.get", chat_id=cid))["pinned_message_id"] == first["id"]


async def test_get_difference_with_date_lists_the_channels_that_moved(make_user) -> None:
    """getDifference with the date of one's last state lists the channels one is in that
    moved since, each with its current pts (the server may list some more, within a margin
    of its clock; never one that moved and is left out)."""
    owner, sub = await users(make_user, 2)
    moving = (await create(owner, title="Moving"))["id"]
    still = (await create(owner, title="Still"))["id"]
    group = (await create(owner, broadcast=False, title="Left"))["id"]
    for chat in (moving, still, group):
        await owner("channels.invite", channel_id=chat, user_ids=[sub.id])
    await sub("channels.leave", channel_id=group)
    state = await sub("updates.getState")
    await post(owner, moving, "news")
    await post(owner, group, "the left one moves too")
    head = await channel_pts(owner, moving)
    diff = await sub("updates.getDifference", pts=state["pts"], date=state["date"])
    listed = {c["channel_id"]: c["pts"] for c in diff["channels"]}
    assert listed[moving] == head
    assert set(listed) <= {moving, still} and listed.get(still, 1) == 1
    assert diff["updates"] == [] and diff["more"] is False
    assert diff["state"]["pts"] == state["pts"] and diff["state"]["date"] >= state["date"]
    # the channels listed are caught up with getChannelDifference
    [news] = await channel_updates(sub, moving, head - 1)
    assert news["message"]["text"] == "news"
    # with an old date, every channel one is in; without one, no list at all
    old = await sub("updates.getDifference", pts=state["pts"], date=1)
    assert {c["channel_id"]: c["pts"] for c in old["channels"]} == {moving: head, still: 1}
    assert "channels" not in await sub("updates.getDifference", pts=state["pts"])
    # one the user left is not theirs to follow, however much it moves
    assert group not in listed


async def test_channel_difference_pages(make_user) -> None:
    owner, sub = await users(make_user, 2)
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[sub.id])
    sent = [await post(owner, cid, f"post {i}") for i in range(10)]
    await owner("messages.edit", chat_id=cid, message_id=sent[0]["id"], text="edited")
    await owner("messages.delete", chat_id=cid, message_ids=[sent[1]["id"]], revoke=True)
    head = await channel_pts(owner, cid)
    assert head == 13
    pages, pts = [], 0
    for _ in range(10):
        diff = await sub("updates.getChannelDifference", channel_id=cid, pts=pts, limit=5)
        pages.append(diff)
        pts = diff["pts"]
        if diff["final"]:
            break
    assert [[u["pts"] for u in p["updates"]] for p in pages] == [
        [1, 2, 3, 4, 5], [6, 7, 8, 9, 10], [11, 12, 13]]
    assert [(p["pts"], p["final"]) for p in pages] == [(5, False), (10, False), (13, True)]
    every = [u for p in pages for u in p["updates"]]
    assert [u["type"] for u in every[-2:]] == ["edit_message", "delete_messages"]
    assert [u["message"]["text"] for u in every[1:11]] == [f"post {i}" for i in range(10)]
    # caught up: nothing, final; ahead of the channel: refused
    assert await sub("updates.getChannelDifference", channel_id=cid, pts=head) == {
        "pts": head, "updates": [], "final": True}
    assert await sub.error("updates.getChannelDifference", channel_id=cid,
                           pts=head + 1) == (400, "PTS_INVALID")
    # a basic group has no channel log
    group = await owner("chats.createGroup", title="G", user_ids=[sub.id])
    assert await sub.error("updates.getChannelDifference", channel_id=group["id"],
                           pts=0) == CHANNEL_INVALID


async def test_channel_difference_too_long(server: Server) -> None:
    """With a small threshold: a gap above it answers too_long with the current pts and the
    recent messages; one at it is answered update by update."""
    srv = Server(server.engine, env={"KURIR_CHANNEL_DIFFERENCE_TOO_LONG": "20"})
    await asyncio.to_thread(srv.start)
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=30) as http:
            owner, sub = Api(http), Api(http)
            for api in (owner, sub):
                res = await api("auth.register", username=unique_name(),
                                password="correct horse", display_name="U")
                api.token, api.user = res["token"], res["user"]
            cid = (await create(owner))["id"]
            await owner("channels.invite", channel_id=cid, user_ids=[sub.id])
            for i in range(55):
                await post(owner, cid, f"post {i}")
            head = 56
            diff = await sub("updates.getChannelDifference", channel_id=cid, pts=0)
            assert (diff["too_long"], diff["pts"]) == (True, head)
            assert "updates" not in diff
            # the most recent messages, newest first, as history gives them
            assert [m["id"] for m in diff["messages"]] == list(range(head, head - 50, -1))
            assert diff["messages"][0]["text"] == "post 54"
            assert diff["messages"] == (await sub("messages.getHistory", chat_id=cid,
                                                  limit=50))["messages"]
            too_long = await sub("updates.getChannelDifference", channel_id=cid,
                                 pts=head - 21)
            assert too_long["too_long"] is True and too_long["pts"] == head
            diff = await sub("updates.getChannelDifference", channel_id=cid, pts=head - 20)
            assert "too_long" not in diff
            assert [u["pts"] for u in diff["updates"]] == list(range(head - 19, head + 1))
            assert (diff["pts"], diff["final"]) == (head, True)
    finally:
        await asyncio.to_thread(srv.drop)


async def test_a_post_costs_no_write_to_member_logs(make_user) -> None:
    """The members' own update logs do not grow when anyone posts (O(1) writes a post)."""
    owner, *members = await users(make_user, 6)
    cid = (await create(owner))["id"]
    gid = (await create(owner, broadcast=False))["id"]
    for chat in (cid, gid):
        await owner("channels.invite", channel_id=chat, user_ids=[m.id for m in members])
    everyone = [owner, *members]
    before = [await pts_of(api) for api in everyone]
    heads = [await channel_pts(owner, c) for c in (cid, gid)]
    await post(owner, cid, "to all subscribers")
    await post(owner, gid, "to all members")
    for m in members:
        await post(m, gid, "a member talks")
    reply = await post(members[0], gid, "a reply")
    await owner("messages.forward", from_chat_id=cid, message_ids=[2], chat_id=gid)
    await members[0]("messages.edit", chat_id=gid, message_id=reply["id"], text="edited")
    await members[1]("messages.react", chat_id=cid, message_id=2, emoji=EMOJI)
    assert [await pts_of(api) for api in everyone] == before
    # each of those is one entry in its chat's own log
    assert [await channel_pts(owner, c) for c in (cid, gid)] == [heads[0] + 2, heads[1] + 9]


# upgrading a basic group ------------------------------------------------------------------

async def test_migrate_to_supergroup(make_user) -> None:
    owner, admin, member, gone, outsider = await users(make_user, 5)
    group = await owner("chats.createGroup", title="Club",
                        user_ids=[admin.id, member.id, gone.id])
    gid = group["id"]
    await owner("chats.editAdmin", chat_id=gid, user_id=admin.id, is_admin=True)
    early = [await post(api, gid, f"by {i}") for i, api in enumerate((owner, admin, member))]
    await gone("chats.leave", chat_id=gid)
    before_history = (await member("messages.getHistory", chat_id=gid, limit=100))["messages"]
    top = before_history[0]["id"]
    # who may
    assert await admin.error("chats.migrateToSupergroup", chat_id=gid) == (
        403, "CHAT_OWNER_REQUIRED")
    assert await member.error("chats.migrateToSupergroup", chat_id=gid) == (
        403, "CHAT_OWNER_REQUIRED")
    assert await outsider.error("chats.migrateToSupergroup", chat_id=gid) == NOT_FOUND
    private = (await owner("messages.send", user_id=member.id, text="hi",
                           random_id=rid()))["chat_id"]
    assert await owner.error("chats.migrateToSupergroup", chat_id=private) == CHANNEL_INVALID
    own = {api.id: await pts_of(api) for api in (owner, admin, member, gone)}

    chat = await owner("chats.migrateToSupergroup", chat_id=gid)
    assert (chat["id"], chat["type"], chat["title"], chat["member_count"]) == (
        gid, "supergroup", "Club", 3)
    assert chat["role"] == "owner" and granted(chat["admin_rights"]) == set(ALL_RIGHTS)
    assert await owner.error("chats.migrateToSupergroup", chat_id=gid) == CHANNEL_INVALID
    # history and ids are kept; a service message marks the upgrade
    after = (await member("messages.getHistory", chat_id=gid, limit=100))["messages"]
    assert after[1:] == before_history
    assert (after[0]["id"], after[0]["action"]) == (top + 1, {"type": "chat_upgraded"})
    got = await member("messages.getMessages", chat_id=gid, message_ids=[m["id"] for m in early])
    assert [m["text"] for m in got["messages"]] == ["by 0", "by 1", "by 2"]
    # members are members, admins admins with rights
    roles = {m["user_id"]: m for m in await member("channels.getParticipants", channel_id=gid)}
    assert {u: m["role"] for u, m in roles.items()} == {
        owner.id: "owner", admin.id: "admin", member.id: "member"}
    seen = await admin("chats.get", chat_id=gid)
    assert seen["role"] == "admin" and granted(seen["admin_rights"]) == UPGRADED_RIGHTS
    assert await gone.error("messages.getHistory", chat_id=gid) == FORBIDDEN
    # each member's own log tells of the upgrade, once; the one who left hears nothing
    for api in (owner, admin, member):
        [upd] = await own_updates(api, own[api.id])
        assert (upd["type"], upd["chat_id"]) == ("chat_upgraded", gid)
    assert await pts_of(gone) == own[gone.id]
    # posting goes on with the channel's own pts; the member logs stay still
    [upgraded] = await channel_updates(member, gid)
    assert upgraded["pts"] == 1 and upgraded["message"]["id"] == top + 1
    msg = await post(member, gid, "as a supergroup")
    assert msg["id"] == top + 2
    [new] = await channel_updates(owner, gid, 1)
    assert (new["pts"], new["message"]) == (2, msg)
    assert [await pts_of(api) for api in (owner, admin, member)] == [
        own[api.id] + 1 for api in (owner, admin, member)]
    # the basic-group methods are over for it; the channel ones work
    assert await owner.error("chats.getMembers", chat_id=gid) == CHANNEL_INVALID
    assert await owner.error("chats.addMember", chat_id=gid,
                             user_id=outsider.id) == CHANNEL_INVALID
    assert await admin("channels.invite", channel_id=gid, user_ids=[outsider.id]) is True
    assert (await history_ids(outsider, gid))[0] == msg["id"] + 1  # their own arrival
    assert await member_count(owner, gid) == 4


async def test_an_upgraded_group_keeps_its_past_from_newcomers(make_user) -> None:
    """A basic group's members never see what was said before they joined; the upgrade
    keeps that promise for the members it had, and for those who join after it (Telegram
    marks a migrated group's pre-history hidden), or the upgrade would publish the group's
    past to anyone let in later."""
    owner, early, late, newcomer, by_link = await users(make_user, 5)
    gid = (await owner("chats.createGroup", title="Secrets", user_ids=[early.id]))["id"]
    secret = await post(owner, gid, "before late joined")
    await owner("chats.addMember", chat_id=gid, user_id=late.id)
    await post(owner, gid, "after late joined")
    late_sees = await history_ids(late, gid)
    await owner("chats.migrateToSupergroup", chat_id=gid)
    top = (await history_ids(owner, gid))[0]
    assert secret["id"] in await history_ids(early, gid)
    assert secret["id"] not in await history_ids(late, gid)
    assert await history_ids(late, gid) == [top, *late_sees]
    link = (await owner("chats.exportInvite", chat_id=gid))["hash"]
    await owner("channels.invite", channel_id=gid, user_ids=[newcomer.id])
    await by_link("chats.joinByInvite", hash=link)
    for api in (newcomer, by_link):
        seen = await history_ids(api, gid)
        assert [i for i in seen if i <= top] == [], (api.id, seen)
        assert await api("messages.getMessages", chat_id=gid,
                         message_ids=[secret["id"]]) == {"messages": []}
        assert await api("messages.search", chat_id=gid, query="before") == {"messages": []}


# live pushes over the WebSocket -------------------------------------------------------------

class Socket:
    """A WebSocket client that keeps every frame it reads."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[dict[str, Any]] = []
        self._asked = 0

    async def read_until(self, done: Any, timeout: float = 5.0) -> dict[str, Any]:
        """Read frames until one satisfies `done`; return it."""
        async with asyncio.timeout(timeout):
            while True:
                frame = json.loads(await self.ws.recv())
                self.frames.append(frame)
                if done(frame):
                    return frame

    async def ready(self) -> None:
        """A request answered on the socket: the server attached it (and follows its
        channels)."""
        self._asked += 1
        ask = f"ready-{self._asked}"
        await self.ws.send(json.dumps({"id": ask, "method": "updates.getState"}))
        frame = await self.read_until(lambda f: f.get("id") == ask)
        assert frame["ok"], frame

    def channel(self, chat_id: int) -> list[dict[str, Any]]:
        return [f["channel_update"] for f in self.frames if f.get("channel_id") == chat_id]

    async def channel_updates(self, chat_id: int, n: int) -> list[dict[str, Any]]:
        await self.read_until(lambda f: len(self.channel(chat_id)) >= n)
        return self.channel(chat_id)


@asynccontextmanager
async def socket(server: Server, api: Api) -> AsyncIterator[Socket]:
    async with connect(f"{server.ws_url}/api/v1/ws?token={api.token}", proxy=None,
                       open_timeout=10, close_timeout=5) as ws:
        s = Socket(ws)
        await s.ready()
        yield s


def is_update(frame: dict[str, Any], **fields: Any) -> bool:
    u = frame.get("update") or {}
    return all(u.get(k) == v for k, v in fields.items())


async def test_ws_pushes_channel_posts_in_order(make_user, server: Server) -> None:
    owner, a, b = await users(make_user, 3)
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[a.id, b.id])
    head = await channel_pts(owner, cid)
    async with socket(server, a) as sa, socket(server, b) as sb:
        sent = [await post(owner, cid, f"live {i}") for i in range(3)]
        await owner("messages.edit", chat_id=cid, message_id=sent[0]["id"], text="live edit")
        for s in (sa, sb):
            got = await s.channel_updates(cid, 4)
            assert [u["pts"] for u in got] == [head + 1, head + 2, head + 3, head + 4]
            assert [u["type"] for u in got] == ["new_message"] * 3 + ["edit_message"]
            assert [u["message"] for u in got[:3]] == sent
            assert got[3]["message"]["text"] == "live edit"
            # the post went to the channel's topic only: no user update was pushed
            assert [f for f in s.frames if "update" in f] == []


async def test_ws_a_joiner_starts_receiving(make_user, server: Server) -> None:
    owner, joiner = await users(make_user, 2)
    name = unique_name("live")

    async def check(broadcast: bool) -> None:
        cid = (await create(owner, broadcast=broadcast, username=name + str(int(broadcast))))[
            "id"]
        async with socket(server, joiner) as s:
            before = await post(owner, cid, "before joining")
            await joiner("channels.join", channel_id=cid)
            await s.read_until(lambda f: is_update(f, type="chat_member", chat_id=cid))
            after = await post(owner, cid, "after joining")
            got = await s.read_until(
                lambda f: f.get("channel_id") == cid
                and f["channel_update"].get("message", {}).get("id") == after["id"])
            assert got["channel_update"]["type"] == "new_message"
            seen = [u.get("message", {}).get("id") for u in s.channel(cid)]
            assert before["id"] not in seen
            if not broadcast:  # a supergroup announces the join: the joiner sees that too
                assert seen == [after["id"] - 1, after["id"]]
            else:
                assert seen == [after["id"]]

    await check(True)
    await check(False)


async def test_ws_who_leaves_or_is_banned_stops_receiving(make_user, server: Server) -> None:
    owner, stays, leaves, banned = await users(make_user, 4)
    cid = (await create(owner))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[stays.id, leaves.id, banned.id])
    async with socket(server, stays) as s_stays, socket(server, leaves) as s_leaves, \
            socket(server, banned) as s_banned:
        first = await post(owner, cid, "all of you")
        for s in (s_stays, s_leaves, s_banned):
            assert [u["message"]["id"] for u in await s.channel_updates(cid, 1)] == [first["id"]]
        await leaves("channels.leave", channel_id=cid)
        await owner("channels.editBanned", channel_id=cid, user_id=banned.id,
                    banned=rights("view_messages"))
        await s_leaves.read_until(lambda f: is_update(f, type="chat_member", status="left"))
        await s_banned.read_until(lambda f: is_update(f, type="chat_member", status="kicked"))
        second = await post(owner, cid, "only the one who stayed")
        # a marker pushed after the post: once it arrived, the post would have too
        for api, s in ((leaves, s_leaves), (banned, s_banned)):
            marker = await owner("messages.send", user_id=api.id, text="marker",
                                 random_id=rid())
            await s.read_until(lambda f, m=marker: is_update(f, type="new_message")
                               and f["update"]["message"]["id"] == m["id"]
                               and f["update"]["message"]["chat_id"] == m["chat_id"])
            assert [u["message"]["id"] for u in s.channel(cid)] == [first["id"]]
        got = await s_stays.channel_updates(cid, 2)
        assert [u["message"]["id"] for u in got] == [first["id"], second["id"]]


async def test_ws_members_follow_a_group_upgraded_while_connected(make_user,
                                                                  server: Server) -> None:
    owner, member = await users(make_user, 2)
    gid = (await owner("chats.createGroup", title="Grows", user_ids=[member.id]))["id"]
    async with socket(server, member) as s:
        await owner("chats.migrateToSupergroup", chat_id=gid)
        await s.read_until(lambda f: is_update(f, type="chat_upgraded", chat_id=gid))
        msg = await post(owner, gid, "now a supergroup")
        got = await s.read_until(
            lambda f: f.get("channel_id") == gid
            and f["channel_update"].get("message", {}).get("id") == msg["id"])
        assert got["channel_update"]["message"] == msg
        assert [u["pts"] for u in s.channel(gid)] == [1, 2]  # the upgrade notice, the post
