"""Basic groups over the raw HTTP API: create, members in and out, admins, titles, owner
succession, invite links, service messages, chat_member updates and the member limit."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

from tests.conftest import Api

GROUP_MAX = 200


def rid() -> int:
    return secrets.randbits(62) + 1


async def updates_after(api: Api, pts: int = 0) -> list[dict[str, Any]]:
    """Every update of the user above `pts`, paging while `more` (bounded)."""
    out: list[dict[str, Any]] = []
    for _ in range(50):
        diff = await api("updates.getDifference", pts=pts, limit=1000)
        out.extend(diff["updates"])
        pts = diff["state"]["pts"]
        if not diff["more"]:
            return out
    raise AssertionError("getDifference never ended")


async def pts_of(api: Api) -> int:
    return int((await api("updates.getState"))["pts"])


def member_updates(updates: list[dict[str, Any]], chat_id: int) -> list[dict[str, Any]]:
    return [u for u in updates if u["type"] == "chat_member" and u["chat_id"] == chat_id]


def service_actions(updates: list[dict[str, Any]], chat_id: int) -> list[dict[str, Any]]:
    return [u["message"]["action"] for u in updates
            if u["type"] == "new_message" and u["message"]["chat_id"] == chat_id
            and u["message"].get("action")]


async def history(api: Api, chat_id: int) -> list[dict[str, Any]]:
    """Oldest first."""
    msgs = (await api("messages.getHistory", chat_id=chat_id, limit=100))["messages"]
    return list(reversed(msgs))


async def actions(api: Api, chat_id: int) -> list[dict[str, Any]]:
    return [m["action"] for m in await history(api, chat_id) if m.get("action")]


async def roles(api: Api, chat_id: int) -> dict[int, str]:
    return {m["user_id"]: m["role"] for m in await api("chats.getMembers", chat_id=chat_id)}


async def users(make_user: Any, n: int) -> list[Api]:
    return [await make_user(f"User {i}") for i in range(n)]


async def send(api: Api, chat_id: int, text: str = "hi") -> dict[str, Any]:
    return await api("messages.send", chat_id=chat_id, text=text, random_id=rid())  # type: ignore[no-any-return]


# create ------------------------------------------------------------------------------------

async def test_create_group(make_user) -> None:
    owner, b, c, outsider = await users(make_user, 4)
    chat = await owner("chats.createGroup", title="  The Team ", user_ids=[c.id, b.id])
    assert chat["type"] == "group"
    assert chat["title"] == "The Team"
    assert chat["member_count"] == 3
    cid = chat["id"]
    assert await roles(owner, cid) == {owner.id: "owner", b.id: "member", c.id: "member"}
    for api in (b, c):
        seen = await api("chats.get", chat_id=cid)
        assert (seen["id"], seen["type"], seen["title"]) == (cid, "group", "The Team")
        assert seen["member_count"] == 3
    # a service message opens the history, with an action and no text
    msgs = await history(b, cid)
    assert len(msgs) == 1
    first = msgs[0]
    assert (first["id"], first["from_id"]) == (1, owner.id)
    assert first["action"]["type"] == "chat_create"
    assert first["action"]["title"] == "The Team"
    assert sorted(first["action"]["user_ids"]) == sorted([b.id, c.id])
    # every member learns of it through their update log
    for api in (owner, b, c):
        assert [a["type"] for a in service_actions(await updates_after(api), cid)] == [
            "chat_create"]
    # an outsider cannot tell the chat exists
    assert await outsider.error("chats.get", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    assert await outsider.error("messages.getHistory", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    assert await outsider.error("chats.getMembers", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    assert await outsider("updates.getDifference", pts=0) == {
        "updates": [], "state": {"pts": 0}, "more": False}


async def test_create_group_alone_and_with_duplicates(make_user) -> None:
    owner, b = await users(make_user, 2)
    alone = await owner("chats.createGroup", title="Just me", user_ids=[])
    assert alone["member_count"] == 1
    dup = await owner("chats.createGroup", title="Dups", user_ids=[b.id, b.id, owner.id])
    assert dup["member_count"] == 2
    assert await roles(owner, dup["id"]) == {owner.id: "owner", b.id: "member"}


async def test_create_group_errors(make_user) -> None:
    owner, b = await users(make_user, 2)
    assert await owner.error("chats.createGroup", title="   ", user_ids=[b.id]) == (
        400, "CHAT_TITLE_EMPTY")
    status, kind = await owner.error("chats.createGroup", title="X", user_ids=[b.id, 2**52])
    assert (status, kind) == (400, "USER_ID_INVALID")
    status, kind = await owner.error("chats.createGroup", title="X", user_ids=["one"])
    assert (status, kind) == (400, "BAD_REQUEST")
    # nothing was created for b by the failed calls
    assert await updates_after(b) == []


# add and remove ----------------------------------------------------------------------------

async def test_add_member_needs_admin_rights(make_user) -> None:
    owner, b, d, outsider = await users(make_user, 4)
    cid = (await owner("chats.createGroup", title="G", user_ids=[b.id]))["id"]
    assert await b.error("chats.addMember", chat_id=cid, user_id=d.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await outsider.error("chats.addMember", chat_id=cid, user_id=d.id) == (
        404, "CHAT_NOT_FOUND")
    assert await d.error("messages.getHistory", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    assert (await owner("chats.get", chat_id=cid))["member_count"] == 2


async def test_add_member(make_user) -> None:
    owner, b, d = await users(make_user, 3)
    cid = (await owner("chats.createGroup", title="G", user_ids=[b.id]))["id"]
    before = {api.id: await pts_of(api) for api in (owner, b)}
    assert await owner("chats.addMember", chat_id=cid, user_id=d.id) is True
    assert (await owner("chats.get", chat_id=cid))["member_count"] == 3
    assert (await roles(owner, cid))[d.id] == "member"
    acts = await actions(owner, cid)
    assert [a["type"] for a in acts] == ["chat_create", "chat_add_user"]
    assert acts[1]["user_ids"] == [d.id]
    # the chat_member update reaches the old members and the new one
    for api in (owner, b, d):
        ups = member_updates(await updates_after(api, before.get(api.id, 0)), cid)
        assert [(u["user_id"], u["status"]) for u in ups] == [(d.id, "member")], api.id
    # the new member sees the service message that added them, and may write
    assert [a["type"] for a in await actions(d, cid)][-1] == "chat_add_user"
    msg = await send(d, cid, "hello all")
    assert msg["from_id"] == d.id
    assert await owner.error("chats.addMember", chat_id=cid, user_id=d.id) == (
        400, "USER_ALREADY_PARTICIPANT")
    status, _ = await owner.error("chats.addMember", chat_id=cid, user_id=2**52)
    assert status == 400


async def test_remove_member(make_user) -> None:
    owner, b, c = await users(make_user, 3)
    cid = (await owner("chats.createGroup", title="G", user_ids=[b.id, c.id]))["id"]
    assert await b.error("chats.removeMember", chat_id=cid, user_id=c.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    before = {api.id: await pts_of(api) for api in (owner, b, c)}
    assert await owner("chats.removeMember", chat_id=cid, user_id=c.id) is True
    acts = await actions(owner, cid)
    assert acts[-1] == {"type": "chat_delete_user", "user_id": c.id}
    # the removed user, and those who stay, each get the chat_member update
    for api in (owner, b, c):
        ups = member_updates(await updates_after(api, before[api.id]), cid)
        assert [(u["user_id"], u["status"]) for u in ups] == [(c.id, "kicked")], api.id
    assert (await owner("chats.get", chat_id=cid))["member_count"] == 2
    assert c.id not in await roles(owner, cid)
    # the removed user may neither read nor write any more
    assert await c.error("messages.getHistory", chat_id=cid) == (403, "CHAT_FORBIDDEN")
    status, kind = await c.error("messages.send", chat_id=cid, text="still here?",
                                 random_id=rid())
    assert (status, kind) == (403, "CHAT_WRITE_FORBIDDEN")
    # nor do they get the group's new messages
    pts = await pts_of(c)
    await send(owner, cid, "after the kick")
    assert await updates_after(c, pts) == []
    # removing them again: not a member
    assert await owner.error("chats.removeMember", chat_id=cid, user_id=c.id) == (
        400, "USER_NOT_PARTICIPANT")


async def test_owner_cannot_be_removed_and_admins_protect_each_other(make_user) -> None:
    owner, admin1, admin2, plain = await users(make_user, 4)
    cid = (await owner("chats.createGroup", title="G",
                       user_ids=[admin1.id, admin2.id, plain.id]))["id"]
    for a in (admin1, admin2):
        assert await owner("chats.editAdmin", chat_id=cid, user_id=a.id, is_admin=True) is True
    assert await admin1.error("chats.removeMember", chat_id=cid, user_id=owner.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await plain.error("chats.removeMember", chat_id=cid, user_id=owner.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    # an admin may not remove another admin; only the owner may
    assert await admin1.error("chats.removeMember", chat_id=cid, user_id=admin2.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    # an admin may remove a plain member
    assert await admin1("chats.removeMember", chat_id=cid, user_id=plain.id) is True
    assert await owner("chats.removeMember", chat_id=cid, user_id=admin2.id) is True
    assert await roles(owner, cid) == {owner.id: "owner", admin1.id: "admin"}


# admins and titles -------------------------------------------------------------------------

async def test_edit_admin_promote_and_demote(make_user) -> None:
    owner, b, c, d, e = await users(make_user, 5)
    cid = (await owner("chats.createGroup", title="G", user_ids=[b.id, c.id]))["id"]
    # only the owner promotes
    status, _ = await b.error("chats.editAdmin", chat_id=cid, user_id=c.id, is_admin=True)
    assert status == 403
    before = {api.id: await pts_of(api) for api in (owner, b, c)}
    assert await owner("chats.editAdmin", chat_id=cid, user_id=b.id, is_admin=True) is True
    assert (await roles(owner, cid))[b.id] == "admin"
    for api in (owner, b, c):
        ups = member_updates(await updates_after(api, before[api.id]), cid)
        assert [(u["user_id"], u.get("role")) for u in ups] == [(b.id, "admin")], api.id
    # the admin now adds, renames and exports links, but does not promote
    assert await b("chats.addMember", chat_id=cid, user_id=d.id) is True
    assert await b("chats.editTitle", chat_id=cid, title="Renamed by admin") is True
    assert (await b("chats.exportInvite", chat_id=cid))["chat_id"] == cid
    assert await b.error("chats.editAdmin", chat_id=cid, user_id=c.id, is_admin=True) == (
        403, "CHAT_OWNER_REQUIRED")
    # the owner's own standing cannot be changed
    status, _ = await owner.error("chats.editAdmin", chat_id=cid, user_id=owner.id,
                                  is_admin=False)
    assert status == 403
    # demoted, the admin's rights are gone at once
    assert await owner("chats.editAdmin", chat_id=cid, user_id=b.id, is_admin=False) is True
    assert (await roles(owner, cid))[b.id] == "member"
    assert await b.error("chats.addMember", chat_id=cid, user_id=e.id) == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await b.error("chats.editTitle", chat_id=cid, title="Nope") == (
        403, "CHAT_ADMIN_REQUIRED")
    # a non-member cannot be promoted
    status, _ = await owner.error("chats.editAdmin", chat_id=cid, user_id=e.id, is_admin=True)
    assert status == 400


async def test_edit_title(make_user) -> None:
    owner, b = await users(make_user, 2)
    cid = (await owner("chats.createGroup", title="Old", user_ids=[b.id]))["id"]
    assert await b.error("chats.editTitle", chat_id=cid, title="Mine") == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await owner.error("chats.editTitle", chat_id=cid, title=" ") == (
        400, "CHAT_TITLE_EMPTY")
    pts = await pts_of(b)
    assert await owner("chats.editTitle", chat_id=cid, title="New Title") is True
    assert (await b("chats.get", chat_id=cid))["title"] == "New Title"
    assert (await actions(b, cid))[-1] == {"type": "chat_edit_title", "title": "New Title"}
    ups = await updates_after(b, pts)
    assert service_actions(ups, cid) == [{"type": "chat_edit_title", "title": "New Title"}]
    dialog = (await b("messages.getDialogs"))[0]["chat"]
    assert (dialog["title"], dialog["member_count"]) == ("New Title", 2)


# leaving and owner succession --------------------------------------------------------------

async def test_member_leaves(make_user) -> None:
    owner, b, c = await users(make_user, 3)
    cid = (await owner("chats.createGroup", title="G", user_ids=[b.id, c.id]))["id"]
    before = {api.id: await pts_of(api) for api in (owner, b, c)}
    assert await b("chats.leave", chat_id=cid) is True
    assert (await actions(owner, cid))[-1] == {"type": "chat_delete_user", "user_id": b.id}
    for api in (owner, b, c):
        ups = member_updates(await updates_after(api, before[api.id]), cid)
        assert [(u["user_id"], u["status"]) for u in ups] == [(b.id, "left")], api.id
    assert await roles(owner, cid) == {owner.id: "owner", c.id: "member"}
    assert await b.error("messages.getHistory", chat_id=cid) == (403, "CHAT_FORBIDDEN")
    assert await b.error("chats.leave", chat_id=cid) == (403, "CHAT_FORBIDDEN")
    # the owner adds them back: they are a member again
    assert await owner("chats.addMember", chat_id=cid, user_id=b.id) is True
    assert (await roles(owner, cid))[b.id] == "member"
    await send(b, cid, "back")


async def test_owner_leaves_admin_inherits_by_seniority(make_user) -> None:
    # ids ascend with registration: the later-joined admin has the lower id, so that an
    # order by id instead of by time served gives the wrong heir
    late_admin, owner, early_admin, early_member = await users(make_user, 4)
    cid = (await owner("chats.createGroup", title="G",
                       user_ids=[early_admin.id, early_member.id]))["id"]
    assert await owner("chats.addMember", chat_id=cid, user_id=late_admin.id) is True
    # promoted in the order they joined: early_admin is senior by either measure
    assert await owner("chats.editAdmin", chat_id=cid, user_id=early_admin.id,
                       is_admin=True) is True
    assert await owner("chats.editAdmin", chat_id=cid, user_id=late_admin.id,
                       is_admin=True) is True
    pts = await pts_of(early_member)
    assert await owner("chats.leave", chat_id=cid) is True
    assert await roles(early_member, cid) == {
        early_admin.id: "owner", late_admin.id: "admin", early_member.id: "member"}
    ups = member_updates(await updates_after(early_member, pts), cid)
    assert (early_admin.id, "owner") in [(u["user_id"], u.get("role")) for u in ups]
    # the new owner has the owner's powers
    assert await early_admin("chats.editAdmin", chat_id=cid, user_id=early_member.id,
                             is_admin=True) is True
    # an admin outranks a member who has served longer
    assert await early_admin("chats.editAdmin", chat_id=cid, user_id=early_member.id,
                             is_admin=False) is True
    assert await early_admin("chats.leave", chat_id=cid) is True
    assert (await roles(early_member, cid)) == {late_admin.id: "owner",
                                                early_member.id: "member"}


async def test_owner_leaves_longest_serving_member_inherits(make_user) -> None:
    late, owner, early = await users(make_user, 3)
    cid = (await owner("chats.createGroup", title="G", user_ids=[early.id]))["id"]
    assert await owner("chats.addMember", chat_id=cid, user_id=late.id) is True
    assert await owner("chats.leave", chat_id=cid) is True
    assert await roles(late, cid) == {early.id: "owner", late.id: "member"}
    assert await early("chats.addMember", chat_id=cid, user_id=owner.id) is True
    assert (await roles(late, cid))[owner.id] == "member"


async def test_last_member_leaves(make_user) -> None:
    (owner,) = await users(make_user, 1)
    cid = (await owner("chats.createGroup", title="Solo", user_ids=[]))["id"]
    assert await owner("chats.leave", chat_id=cid) is True
    assert await owner.error("messages.getHistory", chat_id=cid) == (403, "CHAT_FORBIDDEN")


# invite links ------------------------------------------------------------------------------

async def test_invite_link_lifecycle(make_user) -> None:
    owner, member, joiner, other = await users(make_user, 4)
    cid = (await owner("chats.createGroup", title="Linked", user_ids=[member.id]))["id"]
    # only admins export and list links
    assert await member.error("chats.exportInvite", chat_id=cid) == (403, "CHAT_ADMIN_REQUIRED")
    assert await member.error("chats.getInvites", chat_id=cid) == (403, "CHAT_ADMIN_REQUIRED")
    assert await other.error("chats.exportInvite", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    expire = int(time.time()) + 3600
    inv = await owner("chats.exportInvite", chat_id=cid, usage_limit=5, expire_date=expire)
    assert inv["chat_id"] == cid and inv["creator_id"] == owner.id
    assert isinstance(inv["hash"], str) and len(inv["hash"]) >= 8
    assert (inv["usage_limit"], inv["expire_date"], inv.get("usage", 0)) == (5, expire, 0)
    assert inv.get("revoked", False) is False
    plain = await owner("chats.exportInvite", chat_id=cid)
    assert plain["hash"] != inv["hash"]
    assert plain.get("usage_limit") is None and plain.get("expire_date") is None
    listed = await owner("chats.getInvites", chat_id=cid)
    assert sorted(i["hash"] for i in listed) == sorted([inv["hash"], plain["hash"]])

    # anyone with the link may look before joining
    preview = await joiner("chats.checkInvite", hash=inv["hash"])
    assert preview == {"chat_id": cid, "title": "Linked", "member_count": 2}

    before = {api.id: await pts_of(api) for api in (owner, member)}
    chat = await joiner("chats.joinByInvite", hash=inv["hash"])
    assert (chat["id"], chat["type"], chat["title"]) == (cid, "group", "Linked")
    assert chat["member_count"] == 3
    assert (await roles(owner, cid))[joiner.id] == "member"
    last = (await history(owner, cid))[-1]
    assert last["from_id"] == joiner.id
    assert last["action"]["type"] == "chat_joined_by_link"
    for api in (owner, member):
        ups = member_updates(await updates_after(api, before[api.id]), cid)
        assert [(u["user_id"], u["status"]) for u in ups] == [(joiner.id, "member")], api.id
    assert [(u["user_id"], u["status"]) for u in member_updates(await updates_after(joiner),
                                                                cid)] == [(joiner.id, "member")]
    await send(joiner, cid, "thanks for the link")
    # joining again
    assert await joiner.error("chats.joinByInvite", hash=inv["hash"]) == (
        400, "USER_ALREADY_PARTICIPANT")
    used = {i["hash"]: i for i in await owner("chats.getInvites", chat_id=cid)}
    assert used[inv["hash"]]["usage"] == 1

    # revoked: it no longer works, for looking or joining; only admins revoke
    assert await member.error("chats.revokeInvite", hash=inv["hash"]) == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await owner("chats.revokeInvite", hash=inv["hash"]) is True
    assert await other.error("chats.joinByInvite", hash=inv["hash"]) == (
        400, "INVITE_HASH_EXPIRED")
    assert await other.error("chats.checkInvite", hash=inv["hash"]) == (
        400, "INVITE_HASH_EXPIRED")
    revoked = {i["hash"]: i for i in await owner("chats.getInvites", chat_id=cid)}
    assert revoked[inv["hash"]]["revoked"] is True
    # the other link still works
    assert (await other("chats.joinByInvite", hash=plain["hash"]))["id"] == cid


async def test_unknown_invite(make_user) -> None:
    (me,) = await users(make_user, 1)
    bogus = "no-such-link-" + secrets.token_hex(4)
    assert await me.error("chats.checkInvite", hash=bogus) == (400, "INVITE_HASH_INVALID")
    assert await me.error("chats.joinByInvite", hash=bogus) == (400, "INVITE_HASH_INVALID")
    assert await me.error("chats.revokeInvite", hash=bogus) == (400, "INVITE_HASH_INVALID")


async def test_invite_usage_limit(make_user) -> None:
    owner, a, b, c = await users(make_user, 4)
    cid = (await owner("chats.createGroup", title="Two seats", user_ids=[]))["id"]
    inv = await owner("chats.exportInvite", chat_id=cid, usage_limit=2)
    assert (await a("chats.joinByInvite", hash=inv["hash"]))["id"] == cid
    assert (await b("chats.joinByInvite", hash=inv["hash"]))["id"] == cid
    assert await c.error("chats.checkInvite", hash=inv["hash"]) == (400, "INVITE_HASH_EXPIRED")
    assert await c.error("chats.joinByInvite", hash=inv["hash"]) == (400, "INVITE_HASH_EXPIRED")
    assert await c.error("messages.getHistory", chat_id=cid) == (404, "CHAT_NOT_FOUND")
    assert (await owner("chats.get", chat_id=cid))["member_count"] == 3
    assert (await owner("chats.getInvites", chat_id=cid))[0]["usage"] == 2
    status, _ = await owner.error("chats.exportInvite", chat_id=cid, usage_limit=0)
    assert status == 400


async def test_invite_usage_limit_holds_under_concurrent_joins(make_user) -> None:
    owner = await make_user("Owner")
    joiners = await users(make_user, 10)
    for _ in range(3):  # a race: a few rounds make a wrong answer show reliably
        cid = (await owner("chats.createGroup", title="One seat", user_ids=[]))["id"]
        inv = await owner("chats.exportInvite", chat_id=cid, usage_limit=1)
        responses = await asyncio.gather(*(
            j.raw("chats.joinByInvite", {"hash": inv["hash"]}) for j in joiners))
        bodies = [r.json() for r in responses]
        assert sum(1 for b in bodies if b["ok"]) == 1, bodies
        for r, b in zip(responses, bodies, strict=True):
            if not b["ok"]:
                assert (r.status_code, b["error"]["type"]) == (400, "INVITE_HASH_EXPIRED"), b
        assert (await owner("chats.get", chat_id=cid))["member_count"] == 2
        assert (await owner("chats.getInvites", chat_id=cid))[0]["usage"] == 1


async def test_invite_expire_date(make_user) -> None:
    owner, a = await users(make_user, 2)
    cid = (await owner("chats.createGroup", title="Soon gone", user_ids=[]))["id"]
    status, _ = await owner.error("chats.exportInvite", chat_id=cid,
                                  expire_date=int(time.time()) - 10)
    assert status == 400
    inv = await owner("chats.exportInvite", chat_id=cid, expire_date=int(time.time()) + 2)
    assert (await a("chats.checkInvite", hash=inv["hash"]))["chat_id"] == cid
    # poll (bounded) until the clock passes expire_date; then it must refuse
    deadline = time.monotonic() + 6
    while True:
        r = await a.raw("chats.checkInvite", {"hash": inv["hash"]})
        if not r.json()["ok"]:
            assert (r.status_code, r.json()["error"]["type"]) == (400, "INVITE_HASH_EXPIRED")
            break
        assert time.time() < inv["expire_date"] + 1, "still usable after its expire_date"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)
    assert await a.error("chats.joinByInvite", hash=inv["hash"]) == (400, "INVITE_HASH_EXPIRED")
    assert (await owner("chats.get", chat_id=cid))["member_count"] == 1


async def test_kicked_user_cannot_rejoin_by_link_but_one_who_left_can(make_user) -> None:
    owner, kicked, leaver = await users(make_user, 3)
    cid = (await owner("chats.createGroup", title="G",
                       user_ids=[kicked.id, leaver.id]))["id"]
    inv = await owner("chats.exportInvite", chat_id=cid)
    assert await owner("chats.removeMember", chat_id=cid, user_id=kicked.id) is True
    assert await kicked.error("chats.joinByInvite", hash=inv["hash"]) == (403, "CHAT_FORBIDDEN")
    assert kicked.id not in await roles(owner, cid)
    assert await leaver("chats.leave", chat_id=cid) is True
    assert (await leaver("chats.joinByInvite", hash=inv["hash"]))["id"] == cid
    assert (await roles(owner, cid))[leaver.id] == "member"
    # an admin may still add the removed user back explicitly
    assert await owner("chats.addMember", chat_id=cid, user_id=kicked.id) is True
    await send(kicked, cid, "let back in")


# the member limit --------------------------------------------------------------------------
# Registering 200 users takes well under a second on either engine (measured: ~0.6 s on
# SQLite, ~0.8 s on PostgreSQL, with the tests' cheap password hashing), so the limit is
# tested in full on both.

async def test_member_limit(make_user) -> None:
    """A basic group holds 200; the 201st member, added or joining by link, turns it into a
    supergroup in place (issue 3)."""
    owner = await make_user("Owner")
    sem = asyncio.Semaphore(16)

    async def one(i: int) -> Api:
        async with sem:
            return await make_user(f"Crowd {i}")

    crowd = await asyncio.gather(*(one(i) for i in range(GROUP_MAX + 1)))
    ids = [u.id for u in crowd]
    # the owner plus 200 others is one too many to create
    assert await owner.error("chats.createGroup", title="Too big", user_ids=ids[:GROUP_MAX]) == (
        400, "CHAT_MEMBERS_TOO_MANY")
    chat = await owner("chats.createGroup", title="Full", user_ids=ids[:GROUP_MAX - 1])
    assert chat["member_count"] == GROUP_MAX
    cid = chat["id"]
    last, extra = crowd[GROUP_MAX - 1], crowd[GROUP_MAX]
    # one leaves: a seat is free again, and the group stays a basic group at 200
    assert await crowd[0]("chats.leave", chat_id=cid) is True
    assert await owner("chats.addMember", chat_id=cid, user_id=last.id) is True
    chat = await owner("chats.get", chat_id=cid)
    assert (chat["type"], chat["member_count"]) == ("group", GROUP_MAX)
    inv = await owner("chats.exportInvite", chat_id=cid)
    top = (await owner("messages.getHistory", chat_id=cid, limit=1))["messages"][0]["id"]
    before = {api.id: await pts_of(api) for api in (owner, crowd[1], extra)}

    # the 201st added: the group becomes a supergroup, same id, with them in it
    assert await owner("chats.addMember", chat_id=cid, user_id=extra.id) is True
    chat = await owner("chats.get", chat_id=cid)
    assert (chat["id"], chat["type"], chat["title"], chat["member_count"]) == (
        cid, "supergroup", "Full", GROUP_MAX + 1)
    assert chat["role"] == "owner"
    seen = await extra("chats.get", chat_id=cid)
    assert (seen["type"], seen["status"], seen["role"]) == ("supergroup", "member", "member")
    participants = await owner("channels.getParticipants", channel_id=cid, limit=200)
    participants += await owner("channels.getParticipants", channel_id=cid, offset=200)
    assert {m["user_id"] for m in participants} == {owner.id, *ids[1:]}
    # its own log: the upgrade, then the addition (ids go on from the group's)
    log = (await owner("updates.getChannelDifference", channel_id=cid, pts=0))["updates"]
    assert [(u["pts"], u["message"]["id"], u["message"]["action"]) for u in log] == [
        (1, top + 1, {"type": "chat_upgraded"}),
        (2, top + 2, {"type": "chat_add_user", "user_ids": [extra.id]})]
    # every member's own log heard of the upgrade once; the newcomer (and the one who
    # added them) of the joining
    joined = ("chat_member", cid, extra.id, "member")
    seen_by = {api.id: [(u["type"], u["chat_id"], u.get("user_id"), u.get("status"))
                        for u in await updates_after(api, before[api.id])]
               for api in (owner, crowd[1], extra)}
    upgraded = ("chat_upgraded", cid, None, None)
    assert seen_by == {owner.id: [upgraded, joined], crowd[1].id: [upgraded],
                       extra.id: [joined]}
    # it talks as a supergroup now: posts go to its log, not to 201 member logs
    msg = await send(extra, cid, "hello, big group")
    assert msg["id"] == top + 3
    assert await pts_of(crowd[1]) == before[crowd[1].id] + 1
    # the group's link still works, past 200
    assert (await crowd[0]("chats.joinByInvite", hash=inv["hash"]))["status"] == "member"
    assert (await owner("chats.get", chat_id=cid))["member_count"] == GROUP_MAX + 2

    # a second full group (the same crowd) upgraded by the 201st joining by link
    other = await owner("chats.createGroup", title="Full too", user_ids=ids[:GROUP_MAX - 1])
    inv = await owner("chats.exportInvite", chat_id=other["id"])
    joined = await extra("chats.joinByInvite", hash=inv["hash"])
    assert (joined["id"], joined["type"], joined["status"], joined["member_count"]) == (
        other["id"], "supergroup", "member", GROUP_MAX + 1)
    log = (await owner("updates.getChannelDifference", channel_id=other["id"], pts=0))[
        "updates"]
    assert [u["pts"] for u in log] == [1, 2]
    assert log[0]["message"]["action"] == {"type": "chat_upgraded"}
    joined_msg = log[1]["message"]  # the join's notice (its shape: see test_channels.py)
    assert extra.id in (joined_msg["from_id"], *joined_msg["action"].get("user_ids", []))
    [inv] = await owner("chats.getInvites", chat_id=other["id"])
    assert inv["usage"] == 1
