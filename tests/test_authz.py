"""The authorization matrix: nobody reads, edits, deletes or learns of anything in a chat
they are not in — not through history, search, dialogs, updates or ids.

Every method that takes a chat or a message is called by every kind of caller (owner,
admin, member, non-member, removed member, a bad token, a terminated session) and the
outcome is checked against kurir/domain/permissions.py. A call that succeeds must have its
effect (and touch exactly the update logs it should); a call that fails must change
nothing: the snapshot of the world (every user's pts, history, chat, members, invites) is
the same after as before. Leaks through the other channels (global search, dialogs,
getDifference, history from before joining, probing ids, delete-for-me) have tests of
their own at the end.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Api, unique_name
from tests.server import Server

PASSWORD = "correct horse"
EMOJI = "\U0001f44d"

OK = "ok"
NOT_FOUND = (404, "CHAT_NOT_FOUND")
FORBIDDEN = (403, "CHAT_FORBIDDEN")
WRITE_FORBIDDEN = (403, "CHAT_WRITE_FORBIDDEN")
ADMIN = (403, "CHAT_ADMIN_REQUIRED")
OWNER = (403, "CHAT_OWNER_REQUIRED")
AUTHOR = (403, "MESSAGE_AUTHOR_REQUIRED")
PEER = (400, "PEER_INVALID")
AUTH = (401, "AUTH_KEY_INVALID")
NO_BUTTON = (400, "DATA_INVALID")

# Everyone the world registers; `term` is a group member whose *other* session was ended.
PEOPLE = ("owner", "admin", "member", "bystander", "removed", "nonmember", "sink", "newcomer",
          "term")
GROUP_ACTIVE = frozenset({"owner", "admin", "member", "bystander", "term"})
PRIVATE_ACTIVE = frozenset({"owner", "member"})


# the world ------------------------------------------------------------------------------------

@dataclass
class Person:
    id: int
    token: str
    username: str
    file_id: str = ""  # a document of their own, in a world built with files

    @property
    def file_name(self) -> str:
        return f"{self.username}.txt"

    @property
    def file_bytes(self) -> bytes:
        return f"a document of {self.username}\n".encode()


@dataclass
class World:
    """A group and a private chat with every kind of caller around them.

    Group (ids in order): 1 chat_create; a post by owner, admin, member, bystander, removed,
    term; the service message of removing `removed`; then two posts after the removal.
    Private chat owner <-> member: 1 by owner, 2 by member. Everyone but the newcomer (and
    the sink) sent one message to `sink`: a chat of their own to forward from. In a world
    built with files, everyone has uploaded a small document of their own (`Person.file_id`),
    sent nowhere yet.
    """

    url: str
    tag: str  # a word in every group and private post, unique to this world
    people: dict[str, Person]
    group_id: int
    private_id: int
    msgs: dict[str, dict[str, int]]  # chat kind -> author key -> id of their post
    texts: dict[tuple[int, int], str]  # (chat_id, id) -> text
    removal_id: int  # the service message of the removal
    after_removal: list[int]
    top: dict[str, int]  # chat kind -> last message id
    sink_chats: dict[str, int]  # key -> that user's private chat with sink (message 1 in it)
    invite: str
    terminated_token: str
    posts: dict[str, set[int]] = field(default_factory=dict)  # chat kind -> ids with text
    last_snapshot: dict[str, Any] | None = None

    def chat_id(self, kind: str) -> int:
        return self.group_id if kind == "group" else self.private_id

    def key_of(self, user_id: int) -> str:
        return next(k for k, p in self.people.items() if p.id == user_id)


async def build_world(url: str, *, files: bool = False) -> World:
    """Set a world up over plain HTTP; what need not be in order runs concurrently. Files
    (a document per person) only when asked: they would double the time of the many worlds
    that never send one."""
    tag = "w" + secrets.token_hex(5)
    async with httpx.AsyncClient(base_url=url, timeout=30, verify=False) as c:

        async def call(token: str | None, method: str, **params: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            body = (await c.post(f"/api/v1/{method}", json=params, headers=headers)).json()
            assert body["ok"], (method, params, body)
            return body["result"]

        async def register(key: str) -> Person:
            name = unique_name(key[:6])
            res = await call(None, "auth.register", username=name, password=PASSWORD,
                             display_name=key.title())
            return Person(res["user"]["id"], res["token"], name)

        people = dict(zip(PEOPLE, await asyncio.gather(*map(register, PEOPLE)), strict=True))
        # `term` logs in twice more; the second session ends the first
        first, second = [
            await call(None, "auth.login", username=people["term"].username, password=PASSWORD,
                       device=device) for device in ("phone", "laptop")]
        assert await call(second["token"], "account.terminateSession",
                          session_id=first["session_id"])
        people["term"].token = second["token"]
        texts: dict[tuple[int, int], str] = {}

        async def send(key: str, text: str, **peer: int) -> dict[str, Any]:
            msg: dict[str, Any] = await call(people[key].token, "messages.send", text=text,
                                             random_id=secrets.randbits(62), **peer)
            texts[(msg["chat_id"], msg["id"])] = text
            return msg

        owner = people["owner"].token
        group = await call(owner, "chats.createGroup", title=f"{tag} group",
                           user_ids=[people[k].id for k in
                                     ("admin", "member", "bystander", "removed", "term")])
        gid = group["id"]
        assert await call(owner, "chats.editAdmin", chat_id=gid, user_id=people["admin"].id,
                          is_admin=True)
        group_msgs = {}
        for key in ("owner", "admin", "member", "bystander", "removed", "term"):
            group_msgs[key] = (await send(key, f"{tag} {key} says hello", chat_id=gid))["id"]
        assert await call(owner, "chats.removeMember", chat_id=gid,
                          user_id=people["removed"].id)
        removal_id = group_msgs["term"] + 1
        after = [(await send("owner", f"{tag} owner secret after removal", chat_id=gid))["id"],
                 (await send("member", f"{tag} member secret after removal", chat_id=gid))["id"]]
        assert after == [removal_id + 1, removal_id + 2]
        p1 = await send("owner", f"{tag} private from owner", user_id=people["member"].id)
        p2 = await send("member", f"{tag} private from member", user_id=people["owner"].id)
        private_id = p1["chat_id"]
        assert (p1["id"], p2["id"], p2["chat_id"]) == (1, 2, private_id)

        async def upload_own(p: Person) -> None:
            p.file_id = await upload(c, p.token, p.file_name, p.file_bytes)

        senders = ("owner", "admin", "member", "bystander", "removed", "nonmember", "term")
        sunk, _ = await asyncio.gather(
            asyncio.gather(*[send(key, "a note for the sink", user_id=people["sink"].id)
                             for key in senders]),
            asyncio.gather(*map(upload_own, people.values() if files else ())))
        assert [m["id"] for m in sunk] == [1] * len(senders)
        sink_chats = {key: m["chat_id"] for key, m in zip(senders, sunk, strict=True)}
        invite = (await call(owner, "chats.exportInvite", chat_id=gid))["hash"]

        # the terminated session is refused, the surviving one works
        r = await c.post("/api/v1/updates.getState",
                         headers={"Authorization": f"Bearer {first['token']}"})
        assert r.status_code == 401 and r.json()["error"]["type"] == "AUTH_KEY_INVALID"
        await call(people["term"].token, "updates.getState")

    return World(
        url=url, tag=tag, people=people, group_id=gid, private_id=private_id,
        msgs={"group": group_msgs, "private": {"owner": 1, "member": 2}}, texts=texts,
        removal_id=removal_id, after_removal=after,
        top={"group": after[-1], "private": 2}, sink_chats=sink_chats, invite=invite,
        terminated_token=first["token"],
        posts={"group": {*group_msgs.values(), *after}, "private": {1, 2}},
    )


@pytest.fixture(scope="module")
def shared_world(server: Server) -> World:
    """One world per engine for everything that must not change it (built on a thread of
    its own: a module-scoped fixture has no event loop of the tests' to run on)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, build_world(server.url, files=True)).result()


@pytest.fixture
async def world(server: Server) -> World:
    """A world of its own, for a test that changes it."""
    return await build_world(server.url)


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    """As conftest's `http`, minus loading CA certificates (plain HTTP on loopback): that
    costs ~30 ms a client, and this module makes one for each of its ~220 cases."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=False) as c:
        yield c


async def upload(http: httpx.AsyncClient, token: str, name: str, data: bytes) -> str:
    """A file of one part: upload.start, the PUT of its bytes, upload.finish."""
    auth = {"Authorization": f"Bearer {token}"}

    async def call(method: str, **params: Any) -> Any:
        body = (await http.post(f"/api/v1/{method}", json=params, headers=auth)).json()
        assert body["ok"], (method, params, body)
        return body["result"]

    started = await call("upload.start", name=name, size=len(data))
    assert started["part_size"] >= len(data)
    r = await http.put(f"/api/v1/upload/{started['upload_id']}/0", content=data, headers=auth)
    assert r.status_code == 200 and r.json() == {"ok": True, "result": {"part": 0}}, r.text
    done = await call("upload.finish", upload_id=started["upload_id"])
    assert done["size"] == len(data)
    return str(done["file_id"])


async def download(http: httpx.AsyncClient, token: str, file_id: str) -> httpx.Response:
    return await http.get(f"/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {token}"})


def api_of(http: httpx.AsyncClient, w: World, key: str) -> Api:
    api = Api(http, w.people[key].token)
    api.user = {"id": w.people[key].id}
    return api


async def call_raw(api: Api, method: str, **params: Any) -> dict[str, Any]:
    """The whole answer, success or error (a snapshot records errors as they are)."""
    r = await api.raw(method, params)
    body: dict[str, Any] = r.json()
    body["status"] = r.status_code
    return body


async def snapshot(w: World, http: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a refused call must leave as it was."""
    owner, removed = api_of(http, w, "owner"), api_of(http, w, "removed")
    g, p = w.group_id, w.private_id
    out = {f"pts:{k}": await call_raw(api_of(http, w, k), "updates.getState") for k in PEOPLE}
    for k in PEOPLE:
        assert out[f"pts:{k}"]["ok"], out[f"pts:{k}"]
        out[f"pts:{k}"]["result"].pop("date")  # the server's clock, not stored state
    out |= {
        "group_history": await call_raw(owner, "messages.getHistory", chat_id=g, limit=100),
        "group_chat": await call_raw(owner, "chats.get", chat_id=g),
        "group_members": await call_raw(owner, "chats.getMembers", chat_id=g),
        "group_invites": await call_raw(owner, "chats.getInvites", chat_id=g),
        "removed_view": await call_raw(removed, "chats.get", chat_id=g),
        "private_history": await call_raw(owner, "messages.getHistory", chat_id=p, limit=100),
        "private_chat": await call_raw(owner, "chats.get", chat_id=p),
    }
    return out


def bumped(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Whose update log grew."""
    return {k for k in PEOPLE
            if after[f"pts:{k}"]["result"]["pts"] != before[f"pts:{k}"]["result"]["pts"]}


# the cases ------------------------------------------------------------------------------------

@dataclass
class Ctx:
    w: World
    http: httpx.AsyncClient
    kind: str  # group | private
    role: str
    key: str  # whose ids and chats the params use
    caller: Api

    @property
    def chat_id(self) -> int:
        return self.w.chat_id(self.kind)

    @property
    def active(self) -> frozenset[str]:
        return GROUP_ACTIVE if self.kind == "group" else PRIVATE_ACTIVE

    def api(self, key: str) -> Api:
        return api_of(self.http, self.w, key)

    @property
    def own_msg(self) -> int:
        msgs = self.w.msgs[self.kind]
        return msgs.get(self.key, msgs["owner"])

    @property
    def other_author(self) -> str:
        """Someone else's post: the member's for owner and admin, else the owner's."""
        return "member" if self.key in ("owner", "admin") else "owner"

    @property
    def other_msg(self) -> int:
        return self.w.msgs[self.kind][self.other_author]

    @property
    def observer(self) -> Api:
        """Another active member, to look at the effect from the outside."""
        return self.api("member" if self.key == "owner" else "owner")


ROLE_KEYS = {
    "group": {"owner": "owner", "admin": "admin", "member": "member", "nonmember": "nonmember",
              "removed": "removed", "bad_token": "member", "terminated": "term"},
    "private": {"peer": "owner", "outsider": "nonmember"},
}


def make_ctx(w: World, http: httpx.AsyncClient, kind: str, role: str) -> Ctx:
    key = ROLE_KEYS[kind][role]
    token = {"bad_token": "nope", "terminated": w.terminated_token}.get(role,
                                                                      w.people[key].token)
    caller = Api(http, token)
    caller.user = {"id": w.people[key].id}
    return Ctx(w, http, kind, role, key, caller)


Call = Callable[[Ctx], tuple[str, dict[str, Any]]]
Effect = Callable[[Ctx, Any, dict[str, Any], dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Spec:
    call: Call
    effect: Effect
    mutates: bool = True
    files: bool = False  # sends the caller's document: its world is built with files


SPECS: dict[str, Spec] = {}


def spec(name: str, call: Call, *, mutates: bool = True,
         files: bool = False) -> Callable[[Effect], Effect]:
    def register(effect: Effect) -> Effect:
        SPECS[name] = Spec(call, effect, mutates, files)
        return effect
    return register


async def visible_ids(api: Api, chat_id: int, ids: list[int]) -> list[int]:
    res = await api("messages.getMessages", chat_id=chat_id, message_ids=ids)
    return [m["id"] for m in res["messages"]]


async def one_message(api: Api, chat_id: int, message_id: int) -> dict[str, Any]:
    res = await api("messages.getMessages", chat_id=chat_id, message_ids=[message_id])
    assert len(res["messages"]) == 1, res
    msg: dict[str, Any] = res["messages"][0]
    return msg


@spec("messages.send", lambda c: ("messages.send", {
    "chat_id": c.chat_id, "text": f"{c.w.tag} sent by {c.role}", "random_id": 4242}))
async def _send(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["chat_id"], res["id"], res["from_id"]) == (
        c.chat_id, c.w.top[c.kind] + 1, c.caller.id)
    seen = (await c.observer("messages.getHistory", chat_id=c.chat_id, limit=1))["messages"]
    assert seen == [res]
    assert bumped(before, after) == c.active


def _sent_document(c: Ctx, msg: dict[str, Any], message_id: int) -> None:
    """A message of the caller's, at `message_id`, carrying their own document."""
    me = c.w.people[c.key]
    assert (msg["chat_id"], msg["id"], msg["from_id"]) == (c.chat_id, message_id, c.caller.id)
    assert msg["media"]["kind"] == "document", msg
    assert (msg["media"]["file_id"], msg["media"]["size"], msg["media"]["name"]) == (
        me.file_id, len(me.file_bytes), me.file_name)


async def _shared_with_the_chat(c: Ctx) -> None:
    """The document is the chat's now: the observer downloads it, outsiders still may not."""
    me = c.w.people[c.key]
    r = await download(c.http, c.observer.token or "", me.file_id)
    assert (r.status_code, r.content) == (200, me.file_bytes)
    for key in ("sink", "nonmember", "removed"):
        r = await download(c.http, c.w.people[key].token, me.file_id)
        assert r.status_code == 404, key


@spec("messages.sendMedia", lambda c: ("messages.sendMedia", {
    "chat_id": c.chat_id, "file_id": c.w.people[c.key].file_id, "kind": "document",
    "caption": f"{c.w.tag} media by {c.role}", "random_id": secrets.randbits(62)}), files=True)
async def _send_media(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    _sent_document(c, res, c.w.top[c.kind] + 1)
    assert res["text"] == f"{c.w.tag} media by {c.role}"
    seen = (await c.observer("messages.getHistory", chat_id=c.chat_id, limit=1))["messages"]
    assert seen == [res]
    await _shared_with_the_chat(c)
    assert bumped(before, after) == c.active


@spec("messages.sendAlbum", lambda c: ("messages.sendAlbum", {
    "chat_id": c.chat_id, "items": [
        {"file_id": c.w.people[c.key].file_id, "kind": "document",
         "random_id": secrets.randbits(62), "caption": f"{c.w.tag} album {i} by {c.role}"}
        for i in range(2)]}), files=True)
async def _send_album(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert len(res) == 2, res
    for i, msg in enumerate(res):
        _sent_document(c, msg, c.w.top[c.kind] + 1 + i)
        assert msg["text"] == f"{c.w.tag} album {i} by {c.role}"
    album = {msg["media"].get("album_id") for msg in res}
    assert len(album) == 1 and None not in album, res
    seen = (await c.observer("messages.getHistory", chat_id=c.chat_id, limit=3))["messages"]
    assert seen[:2] == res[::-1]
    assert seen[2]["id"] == c.w.top[c.kind] and not seen[2].get("media")
    await _shared_with_the_chat(c)
    assert bumped(before, after) == c.active


@spec("messages.forward:from_chat", lambda c: ("messages.forward", {
    "from_chat_id": c.chat_id, "message_ids": [c.other_msg], "user_id": c.w.people["sink"].id}))
async def _forward_from(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    [msg] = res
    assert msg["chat_id"] == c.w.sink_chats[c.key] and msg["from_id"] == c.caller.id
    assert msg["text"] == c.w.texts[(c.chat_id, c.other_msg)]
    fwd = msg["fwd_from"]
    assert (fwd["from_id"], fwd["chat_id"], fwd["message_id"]) == (
        c.w.people[c.other_author].id, c.chat_id, c.other_msg)
    sink = c.api("sink")
    assert (await sink("messages.getHistory", chat_id=msg["chat_id"], limit=1))["messages"] == [
        msg]
    assert bumped(before, after) == {c.key, "sink"}


@spec("messages.forward:into_chat", lambda c: ("messages.forward", {
    "from_chat_id": c.w.sink_chats[c.key], "message_ids": [1], "chat_id": c.chat_id}))
async def _forward_into(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    [msg] = res
    assert (msg["chat_id"], msg["id"], msg["from_id"]) == (
        c.chat_id, c.w.top[c.kind] + 1, c.caller.id)
    assert msg["fwd_from"]["chat_id"] == c.w.sink_chats[c.key]
    seen = (await c.observer("messages.getHistory", chat_id=c.chat_id, limit=1))["messages"]
    assert seen == [msg]
    assert bumped(before, after) == c.active


@spec("messages.edit:own", lambda c: ("messages.edit", {
    "chat_id": c.chat_id, "message_id": c.own_msg, "text": f"{c.w.tag} edited by {c.role}"}))
async def _edit_own(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    text = f"{c.w.tag} edited by {c.role}"
    assert (res["id"], res["text"]) == (c.own_msg, text) and res["edit_date"]
    seen = await one_message(c.observer, c.chat_id, c.own_msg)
    assert (seen["text"], seen["edit_date"]) == (text, res["edit_date"])
    assert bumped(before, after) == c.active


@spec("messages.edit:others", lambda c: ("messages.edit", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "text": f"{c.w.tag} hijacked"}))
async def _edit_others(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    raise AssertionError("nobody may edit someone else's message")


async def _gone_for_everyone(c: Ctx, mid: int, before: dict[str, Any],
                             after: dict[str, Any]) -> None:
    for key in c.active:
        assert await visible_ids(c.api(key), c.chat_id, [mid]) == [], key
    assert bumped(before, after) == c.active


@spec("messages.delete:own_revoke", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.own_msg], "revoke": True}))
async def _delete_own(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    await _gone_for_everyone(c, c.own_msg, before, after)


@spec("messages.delete:others_revoke", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg], "revoke": True}))
async def _delete_others(c: Ctx, res: Any, before: dict[str, Any],
                         after: dict[str, Any]) -> None:
    assert res is True
    await _gone_for_everyone(c, c.other_msg, before, after)


@spec("messages.delete:for_me", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg], "revoke": False}))
async def _delete_for_me(c: Ctx, res: Any, before: dict[str, Any],
                         after: dict[str, Any]) -> None:
    assert res is True
    assert await visible_ids(c.caller, c.chat_id, [c.other_msg]) == []
    for key in c.active - {c.key}:
        assert await visible_ids(c.api(key), c.chat_id, [c.other_msg]) == [c.other_msg], key
    assert bumped(before, after) == {c.key}


@spec("messages.read", lambda c: ("messages.read", {
    "chat_id": c.chat_id, "max_id": c.w.top[c.kind]}))
async def _read(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    chat = await c.caller("chats.get", chat_id=c.chat_id)
    assert chat["read_inbox_max_id"] == c.w.top[c.kind]
    # the reader's devices and the (active) authors of what was read
    assert bumped(before, after) == c.active


@spec("messages.react", lambda c: ("messages.react", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "emoji": EMOJI}))
async def _react(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    seen = await one_message(c.api(c.other_author), c.chat_id, c.other_msg)
    assert seen["reactions"] == [{"emoji": EMOJI, "count": 1}]
    assert bumped(before, after) == c.active


@spec("messages.pin", lambda c: ("messages.pin", {
    "chat_id": c.chat_id, "message_id": c.other_msg}))
async def _pin(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert (await c.observer("chats.get", chat_id=c.chat_id))["pinned_message_id"] == c.other_msg
    assert bumped(before, after) == c.active


@spec("messages.setTyping", lambda c: ("messages.setTyping", {"chat_id": c.chat_id}),
      mutates=False)
async def _typing(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True  # ephemeral: nothing logged (the snapshot is compared by the runner)


@spec("messages.getHistory", lambda c: ("messages.getHistory", {
    "chat_id": c.chat_id, "limit": 100}), mutates=False)
async def _history(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert [m["id"] for m in res["messages"]] == list(range(c.w.top[c.kind], 0, -1))
    for m in res["messages"]:
        if (c.chat_id, m["id"]) in c.w.texts:
            assert m["text"] == c.w.texts[(c.chat_id, m["id"])]


@spec("messages.getMessages", lambda c: ("messages.getMessages", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg, c.own_msg]}), mutates=False)
async def _get_messages(c: Ctx, res: Any, before: dict[str, Any],
                        after: dict[str, Any]) -> None:
    got = {m["id"]: m for m in res["messages"]}
    assert set(got) == {c.own_msg, c.other_msg}
    assert got[c.own_msg]["from_id"] == c.caller.id
    assert got[c.other_msg]["text"] == c.w.texts[(c.chat_id, c.other_msg)]


@spec("messages.search:in_chat", lambda c: ("messages.search", {
    "query": c.w.tag, "chat_id": c.chat_id, "limit": 100}), mutates=False)
async def _search_in_chat(c: Ctx, res: Any, before: dict[str, Any],
                          after: dict[str, Any]) -> None:
    assert {m["chat_id"] for m in res["messages"]} == {c.chat_id}
    assert {m["id"] for m in res["messages"]} == c.w.posts[c.kind]


@spec("chats.get", lambda c: ("chats.get", {"chat_id": c.chat_id}), mutates=False)
async def _get_chat(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res["id"] == c.chat_id
    if c.kind == "private":
        assert (res["type"], res["peer_id"], res["title"]) == (
            "private", c.w.people["member"].id, "Member")
        return
    assert (res["type"], res["title"]) == ("group", f"{c.w.tag} group")
    if c.key == "removed":  # a former member keeps the dialog, marked as such
        assert res["status"] == "kicked"
    else:
        assert (res["status"], res["role"]) == ("member", c.key if c.key != "term" else "member")


@spec("chats.getMembers", lambda c: ("chats.getMembers", {"chat_id": c.chat_id}),
      mutates=False)
async def _members(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {m["user_id"] for m in res} == {c.w.people[k].id for k in c.active}
    assert all(m["status"] == "member" for m in res)


@spec("chats.addMember", lambda c: ("chats.addMember", {
    "chat_id": c.chat_id, "user_id": c.w.people["newcomer"].id}))
async def _add(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    chat = await c.api("newcomer")("chats.get", chat_id=c.chat_id)
    assert (chat["status"], chat["role"]) == ("member", "member")
    assert bumped(before, after) == c.active | {"newcomer"}


def _other_peer(c: Ctx) -> int:
    return c.w.people["bystander" if c.kind == "group" else "member"].id


@spec("chats.removeMember", lambda c: ("chats.removeMember", {
    "chat_id": c.chat_id, "user_id": _other_peer(c)}))
async def _remove(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert await c.api("bystander").error("messages.getHistory", chat_id=c.chat_id) == FORBIDDEN
    members = await c.caller("chats.getMembers", chat_id=c.chat_id)
    assert c.w.people["bystander"].id not in {m["user_id"] for m in members}
    assert bumped(before, after) == c.active  # the bystander learns of the removal


@spec("chats.leave", lambda c: ("chats.leave", {"chat_id": c.chat_id}))
async def _leave(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert await c.caller.error("messages.getHistory", chat_id=c.chat_id) == FORBIDDEN
    assert (await c.caller("chats.get", chat_id=c.chat_id))["status"] == "left"
    members = await c.observer("chats.getMembers", chat_id=c.chat_id)
    assert c.caller.id not in {m["user_id"] for m in members}
    if c.key == "owner":  # the longest-serving admin inherits the group
        assert (await c.api("admin")("chats.get", chat_id=c.chat_id))["role"] == "owner"
    assert bumped(before, after) == c.active


@spec("chats.editAdmin", lambda c: ("chats.editAdmin", {
    "chat_id": c.chat_id, "user_id": _other_peer(c), "is_admin": True}))
async def _edit_admin(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    members = await c.observer("chats.getMembers", chat_id=c.chat_id)
    roles = {m["user_id"]: m["role"] for m in members}
    assert roles[c.w.people["bystander"].id] == "admin"
    assert bumped(before, after) == c.active


@spec("chats.editTitle", lambda c: ("chats.editTitle", {
    "chat_id": c.chat_id, "title": f"{c.w.tag} renamed by {c.role}"}))
async def _edit_title(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    chat = await c.observer("chats.get", chat_id=c.chat_id)
    assert chat["title"] == f"{c.w.tag} renamed by {c.role}"
    assert bumped(before, after) == c.active


@spec("chats.exportInvite", lambda c: ("chats.exportInvite", {"chat_id": c.chat_id}))
async def _export(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["chat_id"], res["creator_id"]) == (c.chat_id, c.caller.id)
    invites = await c.api("owner")("chats.getInvites", chat_id=c.chat_id)
    assert {i["hash"] for i in invites} == {c.w.invite, res["hash"]}
    assert bumped(before, after) == set()


@spec("chats.getInvites", lambda c: ("chats.getInvites", {"chat_id": c.chat_id}),
      mutates=False)
async def _invites(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert [(i["hash"], i.get("revoked", False)) for i in res] == [(c.w.invite, False)]


@spec("chats.revokeInvite", lambda c: ("chats.revokeInvite", {"hash": c.w.invite}))
async def _revoke(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    invites = await c.api("owner")("chats.getInvites", chat_id=c.chat_id)
    assert [(i["hash"], i.get("revoked", False)) for i in invites] == [(c.w.invite, True)]
    outsider = c.api("nonmember")
    assert await outsider.error("chats.checkInvite", hash=c.w.invite) == (
        400, "INVITE_HASH_EXPIRED")
    assert bumped(before, after) == set()


@spec("messages.getViews", lambda c: ("messages.getViews", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg, c.own_msg]}), mutates=False)
async def _views(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    # view counters are for channel posts: a basic chat's messages are counted by nobody
    assert res == [{"id": i, "views": 0} for i in sorted({c.own_msg, c.other_msg})]


@spec("messages.getReplies", lambda c: ("messages.getReplies", {
    "chat_id": c.chat_id, "message_id": c.other_msg}), mutates=False)
async def _replies(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res == {"messages": []}  # threads are for channels' comments and forum topics


@spec("chats.migrateToSupergroup", lambda c: ("chats.migrateToSupergroup", {
    "chat_id": c.chat_id}))
async def _migrate(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["id"], res["type"], res["role"]) == (c.chat_id, "supergroup", "owner")
    assert (await c.observer("chats.get", chat_id=c.chat_id))["type"] == "supergroup"
    # the history is kept, the upgrade's notice on top
    history = after["group_history"]["result"]["messages"]
    assert [m["id"] for m in history] == list(range(c.w.top[c.kind] + 1, 0, -1))
    assert history[0]["action"] == {"type": "chat_upgraded"}
    assert history[1:] == before["group_history"]["result"]["messages"]
    # every member's own log hears of it once; from now on the chat has a log of its own
    assert bumped(before, after) == c.active


# A press reaches the bot only for a button its message has; these worlds have no bots, so a
# caller who may read the message gets as far as "no such button" (the press that reaches a
# bot and its answer: tests/test_botapi.py), and anyone else is refused as by getMessages.
@spec("messages.getBotCallbackAnswer", lambda c: ("messages.getBotCallbackAnswer", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "data": "no such button"}))
async def _press(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    raise AssertionError(f"a message without buttons was pressed: {res!r}")


# The matrix. Columns are the callers; a bad token and a terminated session (of a member)
# get 401 AUTH_KEY_INVALID from every method, before anything else is looked at.
GROUP_ROLES = ("owner", "admin", "member", "nonmember", "removed")
GROUP_MATRIX: dict[str, tuple[Any, ...]] = {
    #                                owner      admin    member   nonmember  removed
    "messages.send":                 (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.sendMedia":            (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.sendAlbum":            (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.forward:from_chat":    (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.forward:into_chat":    (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.edit:own":             (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.edit:others":          (AUTHOR,   AUTHOR,  AUTHOR,  NOT_FOUND, WRITE_FORBIDDEN),
    "messages.delete:own_revoke":    (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.delete:others_revoke": (OK,       OK,      AUTHOR,  NOT_FOUND, FORBIDDEN),
    "messages.delete:for_me":        (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.read":                 (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.react":                (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.pin":                  (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "messages.setTyping":            (OK,       OK,      OK,      NOT_FOUND, WRITE_FORBIDDEN),
    "messages.getHistory":           (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.getMessages":          (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.search:in_chat":       (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "chats.get":                     (OK,       OK,      OK,      NOT_FOUND, OK),
    "chats.getMembers":              (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "chats.addMember":               (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.removeMember":            (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.leave":                   (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "chats.editAdmin":               (OK,       OWNER,   ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.editTitle":               (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.exportInvite":            (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.getInvites":              (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "chats.revokeInvite":            (OK,       OK,      ADMIN,   NOT_FOUND, FORBIDDEN),
    "messages.getViews":             (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    "messages.getReplies":           (OK,       OK,      OK,      NOT_FOUND, FORBIDDEN),
    # the owner's; a former member is told they are out, as by every other owner's method
    "chats.migrateToSupergroup":     (OK,       OWNER,   OWNER,   NOT_FOUND, FORBIDDEN),
    "messages.getBotCallbackAnswer": (NO_BUTTON, NO_BUTTON, NO_BUTTON, NOT_FOUND, FORBIDDEN),
}
# The private chat owner <-> member, seen by one side and by a stranger. Group-only actions
# are PEER_INVALID there; either side may delete any message for everyone (rule 7).
PRIVATE_ROLES = ("peer", "outsider")
PRIVATE_MATRIX: dict[str, tuple[Any, ...]] = {
    "messages.send": (OK, NOT_FOUND),
    "messages.sendMedia": (OK, NOT_FOUND),
    "messages.sendAlbum": (OK, NOT_FOUND),
    "messages.forward:from_chat": (OK, NOT_FOUND),
    "messages.forward:into_chat": (OK, NOT_FOUND),
    "messages.edit:own": (OK, NOT_FOUND),
    "messages.edit:others": (AUTHOR, NOT_FOUND),
    "messages.delete:own_revoke": (OK, NOT_FOUND),
    "messages.delete:others_revoke": (OK, NOT_FOUND),
    "messages.delete:for_me": (OK, NOT_FOUND),
    "messages.read": (OK, NOT_FOUND),
    "messages.react": (OK, NOT_FOUND),
    "messages.pin": (OK, NOT_FOUND),
    "messages.setTyping": (OK, NOT_FOUND),
    "messages.getHistory": (OK, NOT_FOUND),
    "messages.getMessages": (OK, NOT_FOUND),
    "messages.search:in_chat": (OK, NOT_FOUND),
    "chats.get": (OK, NOT_FOUND),
    "chats.getMembers": (OK, NOT_FOUND),
    "chats.addMember": (PEER, NOT_FOUND),
    "chats.removeMember": (PEER, NOT_FOUND),
    "chats.leave": (PEER, NOT_FOUND),
    "chats.editAdmin": (PEER, NOT_FOUND),
    "chats.editTitle": (PEER, NOT_FOUND),
    "chats.exportInvite": (PEER, NOT_FOUND),
    "chats.getInvites": (PEER, NOT_FOUND),
    "messages.getViews": (OK, NOT_FOUND),
    "messages.getReplies": (OK, NOT_FOUND),
    "chats.migrateToSupergroup": ((400, "CHANNEL_INVALID"), NOT_FOUND),
    "messages.getBotCallbackAnswer": (NO_BUTTON, NOT_FOUND),
}


def _cases() -> list[tuple[str, str, str, Any]]:
    out = []
    for name, row in GROUP_MATRIX.items():
        out += [("group", name, role, exp) for role, exp in zip(GROUP_ROLES, row, strict=True)]
        out += [("group", name, role, AUTH) for role in ("bad_token", "terminated")]
    for name, row in PRIVATE_MATRIX.items():
        out += [("private", name, role, exp)
                for role, exp in zip(PRIVATE_ROLES, row, strict=True)]
    return out


CASES = _cases()
WRITES = [c for c in CASES if c[3] == OK and SPECS[c[1]].mutates]
UNCHANGING = [c for c in CASES if not (c[3] == OK and SPECS[c[1]].mutates)]


def _params(cases: list[tuple[str, str, str, Any]]) -> list[Any]:
    return [pytest.param(*c, id=f"{c[0]}-{c[1]}-{c[2]}") for c in cases]


async def test_matrix_covers_every_chat_method(http: httpx.AsyncClient) -> None:
    """Every served method that takes a chat or a message has a row in the matrices."""
    doc = (await http.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    takes_chat = {"chat_id", "from_chat_id", "message_id", "message_ids", "hash"}
    declared = set()
    for path, item in doc["paths"].items():
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if takes_chat & set(schema.get("properties", {})):
            declared.add(path.rsplit("/", 1)[1])
    # by invite link: made for outsiders (a preview, and joining)
    declared -= {"chats.checkInvite", "chats.joinByInvite"}
    covered = {name.split(":")[0] for name in GROUP_MATRIX}
    assert "messages.send" in declared and "chats.revokeInvite" in declared
    assert declared <= covered, declared - covered
    assert set(PRIVATE_MATRIX) == set(GROUP_MATRIX) - {"chats.revokeInvite"}
    assert set(SPECS) == set(GROUP_MATRIX)


async def _run(w: World, http: httpx.AsyncClient, kind: str, name: str, role: str,
               expected: Any) -> None:
    c = make_ctx(w, http, kind, role)
    method, params = SPECS[name].call(c)
    # the state the previous case left (nothing else touches a world), or a fresh look
    before, w.last_snapshot = w.last_snapshot or await snapshot(w, http), None
    r = await c.caller.raw(method, params)
    body = r.json()
    after = w.last_snapshot = await snapshot(w, http)
    if expected == OK:
        assert r.status_code == 200 and body["ok"], body
        await SPECS[name].effect(c, body["result"], before, after)
        if not SPECS[name].mutates:
            assert after == before
    else:
        assert not body["ok"], body
        assert (r.status_code, body["error"]["type"]) == expected, body
        assert after == before, "a refused call changed something"


@pytest.mark.parametrize(("kind", "name", "role", "expected"), _params(UNCHANGING))
async def test_refused_or_read_only(shared_world: World, client: httpx.AsyncClient, kind: str,
                                    name: str, role: str, expected: Any) -> None:
    await _run(shared_world, client, kind, name, role, expected)


@pytest.mark.parametrize(("kind", "name", "role", "expected"), _params(WRITES))
async def test_allowed_write(server: Server, client: httpx.AsyncClient, kind: str, name: str,
                             role: str, expected: Any) -> None:
    """On a world of its own (as the `world` fixture's, with files if the call sends one)."""
    w = await build_world(server.url, files=SPECS[name].files)
    await _run(w, client, kind, name, role, expected)


# leaks through the other channels --------------------------------------------------------------

def mentions(update: dict[str, Any], chat_id: int) -> bool:
    """Whether an update is about the chat."""
    return chat_id in (
        update.get("chat_id"), (update.get("message") or {}).get("chat_id"),
        (update.get("chat") or {}).get("id"),
    )


async def all_updates(api: Api) -> list[dict[str, Any]]:
    diff = await api("updates.getDifference", pts=0, limit=1000)
    assert diff["more"] is False
    updates: list[dict[str, Any]] = diff["updates"]
    assert [u["pts"] for u in updates] == list(range(1, len(updates) + 1))
    return updates


async def test_search_everywhere_finds_nothing_of_chats_one_is_not_in(
    shared_world: World, client: httpx.AsyncClient
) -> None:
    w = shared_world
    for query in (w.tag, f"{w.tag} secret"):
        # the control: a member finds the group's posts, those after the removal too
        found = (await api_of(client, w, "member")("messages.search", query=query,
                                                   limit=100))["messages"]
        assert set(w.after_removal) <= {m["id"] for m in found if m["chat_id"] == w.group_id}
        nonmember = await api_of(client, w, "nonmember")("messages.search", query=query,
                                                         limit=100)
        assert nonmember == {"messages": []}
        removed = (await api_of(client, w, "removed")("messages.search", query=query,
                                                      limit=100))["messages"]
        assert [m for m in removed if m["chat_id"] == w.private_id] == []
        assert [m for m in removed
                if m["chat_id"] == w.group_id and m["id"] > w.removal_id] == []


async def test_dialogs_list_no_chat_one_is_not_in(
    shared_world: World, client: httpx.AsyncClient
) -> None:
    w = shared_world
    member = await api_of(client, w, "member")("messages.getDialogs", limit=100)
    listed = {d["chat"]["id"]: d for d in member}
    assert {w.group_id, w.private_id} <= set(listed)  # the control
    assert listed[w.group_id]["last_message"]["id"] == w.after_removal[-1]
    for key in ("nonmember", "removed"):
        dialogs = await api_of(client, w, key)("messages.getDialogs", limit=100)
        assert {d["chat"]["id"] for d in dialogs} == {w.sink_chats[key]}, key


async def test_difference_tells_removed_and_outsiders_nothing(
    world: World, client: httpx.AsyncClient
) -> None:
    """After the removed member's own `chat_member … kicked`, nothing about the group."""
    w, g = world, world.group_id
    owner, admin, member = (api_of(client, w, k) for k in ("owner", "admin", "member"))
    removed_post = w.msgs["group"]["removed"]
    # everything that makes updates, about the removed member's own message too
    await owner("messages.edit", chat_id=g, message_id=w.msgs["group"]["owner"],
                text=f"{w.tag} edited after removal")
    await admin("messages.react", chat_id=g, message_id=removed_post, emoji=EMOJI)
    await member("messages.send", chat_id=g, text=f"{w.tag} reply", random_id=1,
                 reply_to=removed_post)
    await member("messages.read", chat_id=g, max_id=100)
    await owner("messages.pin", chat_id=g, message_id=removed_post)
    await admin("messages.delete", chat_id=g, message_ids=[removed_post], revoke=True)
    await admin("chats.editTitle", chat_id=g, title=f"{w.tag} renamed after removal")
    await owner("chats.addMember", chat_id=g, user_id=w.people["newcomer"].id)
    await owner("chats.editAdmin", chat_id=g, user_id=w.people["bystander"].id, is_admin=True)
    await owner("messages.forward", from_chat_id=g, message_ids=[w.after_removal[0]],
                chat_id=g)
    await member("messages.setTyping", chat_id=g)
    await member("chats.leave", chat_id=g)

    updates = await all_updates(api_of(client, w, "removed"))
    about = [u for u in updates if mentions(u, g)]
    last = about[-1]
    assert (last["type"], last["user_id"], last["status"]) == (
        "chat_member", w.people["removed"].id, "kicked"), about[-3:]
    assert all(u["pts"] <= last["pts"] for u in about)
    kicked_at = last["pts"]
    assert [u for u in updates if u["pts"] > kicked_at and mentions(u, g)] == []
    for key in ("nonmember", "sink"):
        updates = await all_updates(api_of(client, w, key))
        assert [u for u in updates if mentions(u, g) or mentions(u, w.private_id)] == [], key


async def test_removed_member_learns_nothing_new_from_the_chat_itself(
    world: World, client: httpx.AsyncClient
) -> None:
    """A former member keeps the chat (chats.get) as it was: no pin, member count or read
    state from after the removal (Telegram shows a kicked user a bare chatForbidden)."""
    w, g = world, world.group_id
    removed, owner = api_of(client, w, "removed"), api_of(client, w, "owner")
    before = await removed("chats.get", chat_id=g)
    assert before["status"] == "kicked"
    await owner("messages.pin", chat_id=g, message_id=w.after_removal[0])
    await owner("chats.addMember", chat_id=g, user_id=w.people["newcomer"].id)
    await api_of(client, w, "member")("messages.read", chat_id=g, max_id=100)
    after = await removed("chats.get", chat_id=g)
    assert {k: v for k, v in after.items() if k != "title"} == {
        k: v for k, v in before.items() if k != "title"}


async def test_member_added_later_sees_nothing_from_before(
    world: World, client: httpx.AsyncClient
) -> None:
    w, g = world, world.group_id
    owner, newcomer = api_of(client, w, "owner"), api_of(client, w, "newcomer")
    joined_after = w.top["group"]
    await owner("chats.addMember", chat_id=g, user_id=newcomer.id)
    welcome = joined_after + 1  # the chat_add_user service message

    history = await newcomer("messages.getHistory", chat_id=g, limit=100)
    assert [m["id"] for m in history["messages"]] == [welcome]
    assert history["messages"][0]["action"]["type"] == "chat_add_user"
    assert await visible_ids(newcomer, g, list(range(1, welcome + 2))) == [welcome]
    assert await newcomer("messages.search", query=w.tag, chat_id=g) == {"messages": []}
    assert await newcomer("messages.search", query=w.tag) == {"messages": []}
    [dialog] = [d for d in await newcomer("messages.getDialogs") if d["chat"]["id"] == g]
    assert (dialog["last_message"]["id"], dialog["unread_count"]) == (welcome, 1)
    old = w.msgs["group"]["owner"]
    for method, params in (
        ("messages.forward", {"from_chat_id": g, "message_ids": [old], "chat_id": g}),
        ("messages.react", {"chat_id": g, "message_id": old, "emoji": EMOJI}),
        ("messages.edit", {"chat_id": g, "message_id": old, "text": "mine now"}),
    ):
        assert await newcomer.error(method, **params) == (400, "MESSAGE_ID_INVALID"), method
    # what is posted from now on is seen
    new = await owner("messages.send", chat_id=g, text=f"{w.tag} welcome", random_id=99)
    found = await newcomer("messages.search", query=w.tag, chat_id=g)
    assert [m["id"] for m in found["messages"]] == [new["id"]]


async def test_member_added_later_gets_no_updates_about_earlier_messages(
    world: World, client: httpx.AsyncClient
) -> None:
    """An edit of a message from before one joined would hand its text over in the update;
    reactions and deletes of such messages tell of messages one cannot see."""
    w, g = world, world.group_id
    owner, admin = api_of(client, w, "owner"), api_of(client, w, "admin")
    newcomer = api_of(client, w, "newcomer")
    joined_after = w.top["group"]
    await owner("chats.addMember", chat_id=g, user_id=newcomer.id)
    start = (await newcomer("updates.getState"))["pts"]
    secret = f"{w.tag} edited secret from before"
    await owner("messages.edit", chat_id=g, message_id=w.msgs["group"]["owner"], text=secret)
    await admin("messages.react", chat_id=g, message_id=w.msgs["group"]["member"], emoji=EMOJI)
    await owner("messages.delete", chat_id=g, message_ids=[w.msgs["group"]["bystander"]],
                revoke=True)
    # the control: the same for a message the newcomer can see does reach them
    fresh = await owner("messages.send", chat_id=g, text=f"{w.tag} after joining", random_id=5)
    await owner("messages.edit", chat_id=g, message_id=fresh["id"], text=f"{w.tag} edited")
    diff = await newcomer("updates.getDifference", pts=start)
    seen = [(u["type"], u.get("message", {}).get("id") or u.get("message_id")
             or u.get("message_ids")) for u in diff["updates"]]
    assert ("edit_message", fresh["id"]) in seen
    leaked = [u for u in diff["updates"] if mentions(u, g) and any(
        i <= joined_after for i in [
            *(u.get("message_ids") or []), u.get("message_id") or joined_after + 1,
            (u.get("message") or {}).get("id", joined_after + 1)])]
    assert leaked == [], "updates about messages from before joining"
    assert secret not in str(diff)


async def test_replying_tells_nothing_of_messages_one_cannot_see(
    world: World, client: httpx.AsyncClient
) -> None:
    """reply_to must not tell a member added later whether an earlier message still exists
    (ids reveal nothing): a reply to it is refused as to a message that never was."""
    w, g = world, world.group_id
    owner, newcomer = api_of(client, w, "owner"), api_of(client, w, "newcomer")
    await owner("messages.delete", chat_id=g, message_ids=[w.msgs["group"]["admin"]],
                revoke=True)
    await owner("chats.addMember", chat_id=g, user_id=newcomer.id)
    answers = set()
    for i, target in enumerate((w.msgs["group"]["owner"], w.msgs["group"]["admin"], 10**6)):
        r = await newcomer.raw("messages.send", {"chat_id": g, "text": "re", "random_id": i + 1,
                                                 "reply_to": target})
        answers.add((r.status_code, r.json()["ok"], r.json().get("error", {}).get("type")))
    assert answers == {(400, False, "MESSAGE_ID_INVALID")}


async def test_ids_reveal_nothing(world: World, client: httpx.AsyncClient) -> None:
    """Probing ids gives the same answer for existing chats and messages as for none."""
    w, g = world, world.group_id
    prober = Api(client)
    res = await prober("auth.register", username=unique_name("probe"), password=PASSWORD,
                       display_name="Prober")
    prober.token = res["token"]
    top = max(w.group_id, w.private_id, *w.sink_chats.values())
    chat_ids = range(max(1, top - 30), top + 10)  # the world's chats, others', and none yet
    assert g in chat_ids and w.private_id in chat_ids
    probes: list[tuple[str, dict[str, Any]]] = [
        ("chats.get", {}), ("chats.getMembers", {}), ("messages.getHistory", {}),
        ("messages.getMessages", {"message_ids": [1, 2, 3]}),
        ("messages.send", {"text": "probe", "random_id": 1}),
        ("messages.read", {"max_id": 1}), ("chats.leave", {}),
    ]
    for method, params in probes:
        answers = set()
        for cid in chat_ids:
            r = await prober.raw(method, {"chat_id": cid, **params})
            answers.add((r.status_code, r.text))
        assert len(answers) == 1, (method, answers)
        status, text = answers.pop()
        assert status == 404 and '"CHAT_NOT_FOUND"' in text, (method, text)

    # inside a chat: a message deleted for everyone, one hidden for me, and one that never
    # was all look alike
    owner, member = api_of(client, w, "owner"), api_of(client, w, "member")
    deleted, hidden, never = w.msgs["group"]["admin"], w.msgs["group"]["owner"], 10**6
    await owner("messages.delete", chat_id=g, message_ids=[deleted], revoke=True)
    await member("messages.delete", chat_id=g, message_ids=[hidden], revoke=False)
    assert await visible_ids(member, g, [deleted, hidden, never]) == []
    for method, params in (
        ("messages.edit", {"text": "x"}), ("messages.react", {"emoji": EMOJI}),
        ("messages.getMessages", {}), ("messages.forward", {}),
    ):
        answers = set()
        for mid in (deleted, hidden, never):
            if method == "messages.getMessages":
                call = {"chat_id": g, "message_ids": [mid]}
            elif method == "messages.forward":
                call = {"from_chat_id": g, "message_ids": [mid], "chat_id": g}
            else:
                call = {"chat_id": g, "message_id": mid, **params}
            r = await member.raw(method, call)
            answers.add((r.status_code, r.text))
        assert len(answers) == 1, (method, answers)


async def test_delete_for_me_hides_only_for_the_caller(
    world: World, client: httpx.AsyncClient
) -> None:
    w, g = world, world.group_id
    member = api_of(client, w, "member")
    others = [api_of(client, w, k) for k in ("owner", "admin", "bystander", "term")]
    hidden = [w.msgs["group"]["owner"], w.after_removal[-1]]  # someone's, and my own last
    states = {k: (await api_of(client, w, k)("updates.getState"))["pts"] for k in PEOPLE}
    assert await member("messages.delete", chat_id=g, message_ids=hidden, revoke=False)

    history = await member("messages.getHistory", chat_id=g, limit=100)
    assert not {m["id"] for m in history["messages"]} & set(hidden)
    assert len(history["messages"]) == w.top["group"] - len(hidden)
    assert await visible_ids(member, g, hidden) == []
    found = await member("messages.search", query=w.tag, chat_id=g, limit=100)
    assert {m["id"] for m in found["messages"]} == w.posts["group"] - set(hidden)
    [dialog] = [d for d in await member("messages.getDialogs") if d["chat"]["id"] == g]
    assert dialog["last_message"]["id"] == w.after_removal[0]
    for api in others:
        assert await visible_ids(api, g, hidden) == hidden
        [dialog] = [d for d in await api("messages.getDialogs") if d["chat"]["id"] == g]
        assert dialog["last_message"]["id"] == w.after_removal[-1]
    # only the caller's log has it: their other devices learn of it, nobody else does
    after = {k: (await api_of(client, w, k)("updates.getState"))["pts"] for k in PEOPLE}
    assert {k for k in PEOPLE if after[k] != states[k]} == {"member"}
    [update] = (await member("updates.getDifference", pts=states["member"]))["updates"]
    assert (update["type"], update["chat_id"], update["message_ids"]) == (
        "delete_messages", g, sorted(hidden))


async def test_admins_rank_below_the_owner(world: World, client: httpx.AsyncClient) -> None:
    """Rules 5-6: an admin removes neither the owner nor another admin, and promotes no
    one; the owner's own rights cannot be changed."""
    w, g = world, world.group_id
    owner, admin = api_of(client, w, "owner"), api_of(client, w, "admin")
    await owner("chats.editAdmin", chat_id=g, user_id=w.people["bystander"].id, is_admin=True)
    pts = (await owner("updates.getState"))["pts"]
    for target in ("owner", "bystander"):
        assert await admin.error("chats.removeMember", chat_id=g,
                                 user_id=w.people[target].id) == ADMIN, target
    assert await admin.error("chats.editAdmin", chat_id=g, user_id=w.people["bystander"].id,
                             is_admin=False) == OWNER
    assert await owner.error("chats.editAdmin", chat_id=g, user_id=owner.id,
                             is_admin=False) == ADMIN
    assert (await owner("updates.getState"))["pts"] == pts
    members = {m["user_id"]: m["role"] for m in await owner("chats.getMembers", chat_id=g)}
    assert (members[owner.id], members[w.people["bystander"].id]) == ("owner", "admin")
    # the owner may remove an admin
    assert await owner("chats.removeMember", chat_id=g, user_id=w.people["bystander"].id)


async def test_a_file_is_sent_by_its_owner_or_by_one_who_has_seen_it(
    client: httpx.AsyncClient
) -> None:
    """Rule 6 of services/files.py: a file_id one has never seen is as one that never was,
    whatever it is sent as and wherever; one received in a message may be sent on."""
    async def person(name: str) -> Api:
        api = Api(client)
        res = await api("auth.register", username=unique_name(name[:6]), password=PASSWORD,
                        display_name=name)
        api.token, api.user = res["token"], res["user"]
        return api

    alice, bob, carol = await asyncio.gather(*map(person, ("Alice", "Bob", "Carol")))
    data = b"alice's own document\n"
    fid = await upload(client, alice.token or "", "alice.txt", data)
    states = [(await api("updates.getState"))["pts"] for api in (alice, bob, carol)]
    unknown = "x" * len(fid)
    for file_id in (fid, unknown):
        for kind in ("document", "photo"):
            for peer in ({"user_id": carol.id}, {"user_id": alice.id}):
                assert await bob.error("messages.sendMedia", file_id=file_id, kind=kind,
                                       random_id=secrets.randbits(62), **peer) == (
                    400, "FILE_ID_INVALID"), (file_id, kind, peer)
        assert await bob.error("messages.sendAlbum", user_id=carol.id, items=[
            {"file_id": file_id, "kind": "document", "random_id": secrets.randbits(62)},
            {"file_id": file_id, "kind": "document", "random_id": secrets.randbits(62)},
        ]) == (400, "FILE_ID_INVALID"), file_id
        assert (await download(client, bob.token or "", file_id)).status_code == 404
    # nothing was sent, no chat was made
    assert [(await api("updates.getState"))["pts"] for api in (alice, bob, carol)] == states
    assert await bob("messages.getDialogs") == []

    # once Alice sends it to Bob, he may send it on by its id, alone or in an album
    given = await alice("messages.sendMedia", user_id=bob.id, file_id=fid, kind="document",
                        random_id=secrets.randbits(62))
    assert (given["media"]["file_id"], given["media"]["size"]) == (fid, len(data))
    passed = await bob("messages.sendMedia", user_id=carol.id, file_id=fid, kind="document",
                       caption="look", random_id=secrets.randbits(62))
    assert passed["from_id"] == bob.id and passed["media"] == given["media"]
    album = await bob("messages.sendAlbum", user_id=carol.id, items=[
        {"file_id": fid, "kind": "document", "random_id": secrets.randbits(62)},
        {"file_id": fid, "kind": "document", "random_id": secrets.randbits(62)}])
    assert [m["media"]["file_id"] for m in album] == [fid, fid]
    r = await download(client, carol.token or "", fid)
    assert (r.status_code, r.content) == (200, data)
    history = await carol("messages.getHistory", chat_id=passed["chat_id"], limit=10)
    assert [m["id"] for m in history["messages"]] == [3, 2, 1]
