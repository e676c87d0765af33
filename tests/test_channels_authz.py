"""The authorization matrix of channels and supergroups, in the style of test_authz.py.

Every method that takes a channel's id (every channels.* method with a channel_id, the
messages.* methods with the channel's chat_id, chats.get and the invite links, the basic-
group methods a channel must refuse, updates.getChannelDifference) is called by every kind of
caller: the owner; an admin with every right; a "limited" admin holding only post_messages
(an admin *without* the right in question); a plain member; a restricted member
(send_messages banned); a banned user; one who left; a non-member; and a bad token. Two
chats are tried: a public broadcast channel (so the non-member is a reader of a public
channel) and a private supergroup (so the non-member is an outsider who must learn
nothing). Expectations follow kurir/domain/rights.py and kurir/services/access.py.

A call that succeeds must have its effect, and touch exactly the logs it should: the
channel's own log (compared through getChannelDifference) and, for changes of someone's
standing only, those users' own logs. A refused call must change nothing: the snapshot (every
user's pts, the channel's log, chat, history, participants and invite links) is the same
after as before. Each allowed change of the chat runs on a chat of its own (the people are
shared); the rest of a row (its refusals, reads and the calls that change only something
outside the chat) runs on one shared chat per kind, a row per test: every answer is checked,
and a snapshot after the row must equal the one before (each allowed call between snapshots
of its own). Where a row fails, its message lists every cell that did.
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
ALL_RIGHTS = ("change_info", "post_messages", "edit_messages", "delete_messages", "ban_users",
              "invite_users", "pin_messages", "manage_topics", "add_admins", "anonymous")

OK = "ok"
NF = (404, "CHAT_NOT_FOUND")
FB = (403, "CHAT_FORBIDDEN")
WF = (403, "CHAT_WRITE_FORBIDDEN")
AD = (403, "CHAT_ADMIN_REQUIRED")
AU = (403, "MESSAGE_AUTHOR_REQUIRED")
CI = (400, "CHANNEL_INVALID")
UAP = (400, "USER_ALREADY_PARTICIPANT")
UB = (403, "USER_BANNED_IN_CHANNEL")
AUTH = (401, "AUTH_KEY_INVALID")
NB = (400, "DATA_INVALID")  # a press of a button the message does not have

# everyone registered once per module; each chat gives them their roles
# `auditor` is an admin with every right who is neither a caller nor a target: the snapshot
# is taken through their eyes.
PEOPLE = ("owner", "admin", "limited", "member", "restricted", "banned", "left", "outsider",
          "bystander", "newcomer", "sink", "auditor")
JOINERS = ("admin", "limited", "member", "restricted", "banned", "left", "bystander", "auditor")
ROLES = ("owner", "admin", "limited", "member", "restricted", "banned", "left", "outsider")
ACTIVE = frozenset({"owner", "admin", "limited", "member", "restricted", "bystander",
                    "auditor"})
KINDS = ("channel", "supergroup")  # a public broadcast channel; a private supergroup


# the people and the chats -------------------------------------------------------------------

@dataclass
class Person:
    id: int
    token: str
    # kind -> a document of their own, sent only into chats of that kind (who may download it
    # depends on every chat it is in: a public channel's readers, a supergroup's members)
    files: dict[str, str] = field(default_factory=dict)

    def file_name(self, kind: str) -> str:
        return f"user{self.id}-{kind}.txt"

    def file_bytes(self, kind: str) -> bytes:
        return f"a document of user {self.id} for a {kind}\n".encode()


@dataclass
class People:
    url: str
    people: dict[str, Person]
    sink_chats: dict[str, int]  # key -> their private chat with sink (their note is id 1)


@dataclass
class World:
    """One chat with everyone in their role.

    The owner invites admin, limited, member, restricted, banned, left, bystander and
    auditor, and promotes admin and auditor (every right) and limited (post_messages). Posts:
    by owner, admin and limited (channel); also by member and restricted (supergroup). Then
    restricted is muted, banned is banned, left leaves, the owner posts once more and makes
    an invite link.
    """

    kind: str
    tag: str
    p: People
    chat_id: int
    msgs: dict[str, int]  # author key -> id of their post
    texts: dict[int, str]
    top: int
    posts: set[int]  # ids of the posts with text (all carry the tag)
    invite: str
    snapshot: tuple[int, dict[str, Any]] | None = None

    @property
    def people(self) -> dict[str, Person]:
        return self.p.people


async def _call(c: httpx.AsyncClient, token: str | None, method: str, **params: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = (await c.post(f"/api/v1/{method}", json=params, headers=headers)).json()
    assert body["ok"], (method, params, body)
    return body["result"]


async def upload(http: httpx.AsyncClient, token: str, name: str, data: bytes) -> str:
    """A file of one part: upload.start, the PUT of its bytes, upload.finish."""
    started = await _call(http, token, "upload.start", name=name, size=len(data))
    assert started["part_size"] >= len(data)
    r = await http.put(f"/api/v1/upload/{started['upload_id']}/0", content=data,
                       headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json() == {"ok": True, "result": {"part": 0}}, r.text
    done = await _call(http, token, "upload.finish", upload_id=started["upload_id"])
    assert done["size"] == len(data)
    return str(done["file_id"])


async def download(http: httpx.AsyncClient, token: str, file_id: str) -> httpx.Response:
    return await http.get(f"/api/v1/files/{file_id}", headers={"Authorization": f"Bearer {token}"})


async def build_people(url: str) -> People:
    """Everyone, with a private chat with the sink and a document of their own per kind."""
    async with httpx.AsyncClient(base_url=url, timeout=30, verify=False) as c:
        people = {}
        for key in PEOPLE:  # in order: ids grow with it (the owner's heir is "admin")
            res = await _call(c, None, "auth.register", username=unique_name(key[:6]),
                              password=PASSWORD, display_name=key.title())
            people[key] = Person(res["user"]["id"], res["token"])

        async def upload_own(p: Person, kind: str) -> None:
            p.files[kind] = await upload(c, p.token, p.file_name(kind), p.file_bytes(kind))

        notes, _ = await asyncio.gather(
            asyncio.gather(*[
                _call(c, people[k].token, "messages.send", user_id=people["sink"].id,
                      text="a note for the sink", random_id=secrets.randbits(62))
                for k in PEOPLE if k != "sink"]),
            asyncio.gather(*[upload_own(p, kind) for p in people.values() for kind in KINDS]))
        assert {m["id"] for m in notes} == {1}
        return People(url, people, {k: m["chat_id"] for k, m in
                                    zip([k for k in PEOPLE if k != "sink"], notes, strict=True)})


async def build_world(p: People, kind: str) -> World:
    """What need not be in order runs concurrently (each post's id is noted as it comes)."""
    tag = "w" + secrets.token_hex(5)
    tok = {k: v.token for k, v in p.people.items()}
    ids = {k: v.id for k, v in p.people.items()}
    async with httpx.AsyncClient(base_url=p.url, timeout=30, verify=False) as c:

        async def owner(method: str, **params: Any) -> Any:
            return await _call(c, tok["owner"], method, **params)

        if kind == "channel":
            chat = await owner("channels.create", title=f"{tag} channel", broadcast=True,
                               username=f"{tag}_chan")
            authors: tuple[str, ...] = ("owner", "admin", "limited")
        else:
            chat = await owner("channels.create", title=f"{tag} group", broadcast=False)
            authors = ("owner", "admin", "limited", "member", "restricted")
        cid = chat["id"]
        # all at once: the owner's heir (the longest-serving admin, then the lowest id) is
        # "admin", registered before "limited" and "auditor"
        await owner("channels.invite", channel_id=cid, user_ids=[ids[k] for k in JOINERS])
        await asyncio.gather(*[
            owner("channels.editAdmin", channel_id=cid, user_id=ids[k], rights=r) for k, r in (
                ("admin", dict.fromkeys(ALL_RIGHTS, True)),
                ("auditor", dict.fromkeys(ALL_RIGHTS, True)),
                ("limited", {"post_messages": True}))])
        texts = {k: f"{tag} {k} says hello" for k in authors}
        sent = await asyncio.gather(*[
            _call(c, tok[k], "messages.send", chat_id=cid, text=texts[k],
                  random_id=secrets.randbits(62)) for k in authors])
        msgs = {k: m["id"] for k, m in zip(authors, sent, strict=True)}
        await asyncio.gather(
            owner("channels.editBanned", channel_id=cid, user_id=ids["restricted"],
                  banned={"send_messages": True}),
            owner("channels.editBanned", channel_id=cid, user_id=ids["banned"],
                  banned={"view_messages": True}),
            _call(c, tok["left"], "channels.leave", channel_id=cid))
        text = f"{tag} owner says more"
        last, invite = await asyncio.gather(
            owner("messages.send", chat_id=cid, text=text, random_id=secrets.randbits(62)),
            owner("chats.exportInvite", chat_id=cid))
    return World(kind, tag, p, cid, msgs, {msgs[k]: texts[k] for k in authors} | {
        last["id"]: text}, last["id"], {*msgs.values(), last["id"]}, invite["hash"])


def _in_thread(coro: Any) -> Any:
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.fixture(scope="module")
def people(server: Server) -> People:
    return _in_thread(build_people(server.url))  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def shared_worlds(people: People) -> dict[str, World]:
    """One chat of each kind per engine, for everything that must not change it."""

    async def both() -> dict[str, World]:
        return {kind: await build_world(people, kind) for kind in KINDS}

    return _in_thread(both())  # type: ignore[no-any-return]


@pytest.fixture
async def client(server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, timeout=30, verify=False) as c:
        yield c


# A write elsewhere (an allowed case, on a chat of its own) moves the shared people's pts:
# a snapshot kept from before it is stale.
EPOCH = [0]


def api_of(http: httpx.AsyncClient, w: World, key: str) -> Api:
    api = Api(http, w.people[key].token)
    api.user = {"id": w.people[key].id}
    return api


async def call_raw(api: Api, method: str, **params: Any) -> dict[str, Any]:
    r = await api.raw(method, params)
    body: dict[str, Any] = r.json()
    body["status"] = r.status_code
    return body


async def snapshot(w: World, http: httpx.AsyncClient) -> dict[str, Any]:
    """Everything a refused call must leave as it was (asked concurrently)."""
    auditor, cid = api_of(http, w, "auditor"), w.chat_id
    asks: dict[str, Awaitable[dict[str, Any]]] = {
        f"pts:{k}": call_raw(api_of(http, w, k), "updates.getState") for k in PEOPLE}
    asks |= {
        "chat": call_raw(auditor, "chats.get", chat_id=cid),
        "log": call_raw(auditor, "updates.getChannelDifference", channel_id=cid, pts=0,
                        limit=1000),
        "history": call_raw(auditor, "messages.getHistory", chat_id=cid, limit=100),
        "recent": call_raw(auditor, "channels.getParticipants", channel_id=cid, limit=200),
        "banned": call_raw(auditor, "channels.getParticipants", channel_id=cid,
                           filter="banned"),
        "invites": call_raw(auditor, "chats.getInvites", chat_id=cid),
    }
    out = dict(zip(asks, await asyncio.gather(*asks.values()), strict=True))
    for k in PEOPLE:
        assert out[f"pts:{k}"]["ok"], out[f"pts:{k}"]
        out[f"pts:{k}"]["result"].pop("date")  # the server's clock, not stored state
    for key in ("chat", "log", "history", "recent", "banned", "invites"):
        assert out[key]["ok"], (key, out[key])
    assert out["log"]["result"]["final"], out["log"]
    return out


def bumped(before: dict[str, Any], after: dict[str, Any]) -> set[str]:
    """Whose own update log grew."""
    return {k for k in PEOPLE
            if after[f"pts:{k}"]["result"]["pts"] != before[f"pts:{k}"]["result"]["pts"]}


def new_log(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    """What the channel's own log gained."""
    old, new = before["log"]["result"]["updates"], after["log"]["result"]["updates"]
    assert new[:len(old)] == old
    added: list[dict[str, Any]] = new[len(old):]
    assert [u["pts"] for u in added] == list(range(len(old) + 1, len(new) + 1))
    return added


def res_of(snap: dict[str, Any], key: str) -> Any:
    assert snap[key]["ok"], snap[key]
    return snap[key]["result"]


def granted(flags: dict[str, bool] | None) -> set[str]:
    return {k for k, v in (flags or {}).items() if v}


# the cases ------------------------------------------------------------------------------------

@dataclass
class Ctx:
    w: World
    http: httpx.AsyncClient
    role: str
    key: str  # whose ids and chats the params use
    caller: Api

    @property
    def chat_id(self) -> int:
        return self.w.chat_id

    @property
    def kind(self) -> str:
        return self.w.kind

    def api(self, key: str) -> Api:
        return api_of(self.http, self.w, key)

    def id(self, key: str) -> int:
        return self.w.people[key].id

    @property
    def own_msg(self) -> int:
        """The caller's own post; the owner's for those who have none."""
        return self.w.msgs.get(self.key, self.w.msgs["owner"])

    @property
    def other_author(self) -> str:
        return "admin" if self.key == "owner" else "owner"

    @property
    def other_msg(self) -> int:
        return self.w.msgs[self.other_author]


def make_ctx(w: World, http: httpx.AsyncClient, role: str) -> Ctx:
    key = "member" if role == "bad_token" else role
    caller = Api(http, "nope" if role == "bad_token" else w.people[key].token)
    caller.user = {"id": w.people[key].id}
    return Ctx(w, http, role, key, caller)


Call = Callable[[Ctx], tuple[str, dict[str, Any]]]
Effect = Callable[[Ctx, Any, dict[str, Any], dict[str, Any]], Awaitable[None]]


# What an allowed call changes: the chat (so it runs on a chat of its own), only things
# outside the chat's snapshot but someone's own log or a counter (so it runs on the shared
# chat, with a snapshot before and after), or nothing.
CHAT, ELSEWHERE, NOTHING = "chat", "elsewhere", "nothing"


@dataclass(frozen=True)
class Spec:
    call: Call
    effect: Effect
    mutates: str = CHAT


SPECS: dict[str, Spec] = {}


def spec(name: str, call: Call, *, mutates: str = CHAT) -> Callable[[Effect], Effect]:
    def register(effect: Effect) -> Effect:
        SPECS[name] = Spec(call, effect, mutates)
        return effect
    return register


async def _never(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    raise AssertionError(f"nobody may do this in a {c.kind}: {res!r}")


def _message_in_history(after: dict[str, Any], message_id: int) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        m for m in res_of(after, "history")["messages"] if m["id"] == message_id]
    [msg] = found
    return msg


@spec("messages.send", lambda c: ("messages.send", {
    "chat_id": c.chat_id, "text": f"{c.w.tag} sent by {c.role}",
    "random_id": secrets.randbits(62)}))
async def _send(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["chat_id"], res["id"], res["from_id"], res["text"]) == (
        c.chat_id, c.w.top + 1, c.caller.id, f"{c.w.tag} sent by {c.role}")
    [u] = new_log(before, after)
    assert (u["type"], u["message"]) == ("new_message", res)
    assert res_of(after, "history")["messages"][0] == res
    assert bumped(before, after) == set()  # O(1): nobody's own log


def _sent_document(c: Ctx, msg: dict[str, Any], message_id: int) -> None:
    """A post of the caller's, at `message_id`, carrying their own document."""
    me = c.w.people[c.key]
    assert (msg["chat_id"], msg["id"], msg["from_id"]) == (c.chat_id, message_id, c.caller.id)
    assert msg["media"]["kind"] == "document", msg
    assert (msg["media"]["file_id"], msg["media"]["size"], msg["media"]["name"]) == (
        me.files[c.kind], len(me.file_bytes(c.kind)), me.file_name(c.kind))


async def _shared_with_the_chat(c: Ctx) -> None:
    """Whoever reads the chat downloads the document now (a public channel's outsiders too);
    the banned, and a private supergroup's outsiders, still may not."""
    me = c.w.people[c.key]
    readers = {"auditor", "bystander"} | (
        {"outsider", "left", "sink"} if c.kind == "channel" else set())
    for key in ("auditor", "bystander", "outsider", "left", "banned", "sink"):
        r = await download(c.http, c.w.people[key].token, me.files[c.kind])
        got = (r.status_code, r.content) if r.status_code == 200 else r.status_code
        assert got == ((200, me.file_bytes(c.kind)) if key in readers else 404), key


@spec("messages.sendMedia", lambda c: ("messages.sendMedia", {
    "chat_id": c.chat_id, "file_id": c.w.people[c.key].files[c.kind], "kind": "document",
    "caption": f"{c.w.tag} media by {c.role}", "random_id": secrets.randbits(62)}))
async def _send_media(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    _sent_document(c, res, c.w.top + 1)
    assert res["text"] == f"{c.w.tag} media by {c.role}"
    [u] = new_log(before, after)
    assert (u["type"], u["message"]) == ("new_message", res)
    assert res_of(after, "history")["messages"][0] == res
    await _shared_with_the_chat(c)
    assert bumped(before, after) == set()  # O(1): nobody's own log


@spec("messages.sendAlbum", lambda c: ("messages.sendAlbum", {
    "chat_id": c.chat_id, "items": [
        {"file_id": c.w.people[c.key].files[c.kind], "kind": "document",
         "random_id": secrets.randbits(62), "caption": f"{c.w.tag} album {i} by {c.role}"}
        for i in range(2)]}))
async def _send_album(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert len(res) == 2, res
    for i, msg in enumerate(res):
        _sent_document(c, msg, c.w.top + 1 + i)
        assert msg["text"] == f"{c.w.tag} album {i} by {c.role}"
    album = {msg["media"].get("album_id") for msg in res}
    assert len(album) == 1 and None not in album, res
    assert [(u["type"], u["message"]) for u in new_log(before, after)] == [
        ("new_message", msg) for msg in res]
    history = res_of(after, "history")["messages"]
    assert history[:2] == res[::-1] and history[2]["id"] == c.w.top
    await _shared_with_the_chat(c)
    assert bumped(before, after) == set()


@spec("messages.forward:from_chat", lambda c: ("messages.forward", {
    "from_chat_id": c.chat_id, "message_ids": [c.other_msg], "user_id": c.id("sink")}),
      mutates=ELSEWHERE)
async def _forward_from(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    [msg] = res
    assert (msg["chat_id"], msg["from_id"]) == (c.w.p.sink_chats[c.key], c.caller.id)
    assert msg["text"] == c.w.texts[c.other_msg]
    fwd = msg["fwd_from"]
    assert (fwd["from_id"], fwd["chat_id"], fwd["message_id"]) == (
        c.id(c.other_author), c.chat_id, c.other_msg)
    sink = c.api("sink")
    assert (await sink("messages.getHistory", chat_id=msg["chat_id"], limit=1))["messages"] == [
        msg]
    assert new_log(before, after) == []
    assert bumped(before, after) == {c.key, "sink"}


@spec("messages.forward:into_chat", lambda c: ("messages.forward", {
    "from_chat_id": c.w.p.sink_chats[c.key], "message_ids": [1], "chat_id": c.chat_id}))
async def _forward_into(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    [msg] = res
    assert (msg["chat_id"], msg["id"], msg["from_id"]) == (c.chat_id, c.w.top + 1, c.caller.id)
    assert msg["fwd_from"]["chat_id"] == c.w.p.sink_chats[c.key]
    [u] = new_log(before, after)
    assert (u["type"], u["message"]) == ("new_message", msg)
    assert bumped(before, after) == set()


async def _edited(c: Ctx, mid: int, res: Any, before: dict[str, Any],
                  after: dict[str, Any]) -> None:
    text = f"{c.w.tag} edited by {c.role}"
    assert (res["id"], res["text"]) == (mid, text) and res["edit_date"]
    [u] = new_log(before, after)
    assert (u["type"], u["message"]) == ("edit_message", res)
    assert _message_in_history(after, mid)["text"] == text
    assert bumped(before, after) == set()


@spec("messages.edit:own", lambda c: ("messages.edit", {
    "chat_id": c.chat_id, "message_id": c.own_msg, "text": f"{c.w.tag} edited by {c.role}"}))
async def _edit_own(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    await _edited(c, c.own_msg, res, before, after)


@spec("messages.edit:others", lambda c: ("messages.edit", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "text": f"{c.w.tag} edited by {c.role}"}))
async def _edit_others(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert c.kind == "channel", "in a supergroup nobody edits someone else's message"
    await _edited(c, c.other_msg, res, before, after)


async def _deleted(c: Ctx, mid: int, res: Any, before: dict[str, Any],
                   after: dict[str, Any]) -> None:
    assert res is True
    [u] = new_log(before, after)
    assert (u["type"], u["chat_id"], u["message_ids"]) == ("delete_messages", c.chat_id, [mid])
    # gone for everyone, whatever revoke said
    for key in ("owner", "member"):
        assert await c.api(key)("messages.getMessages", chat_id=c.chat_id,
                                message_ids=[mid]) == {"messages": []}
    assert bumped(before, after) == set()


@spec("messages.delete:own", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.own_msg], "revoke": True}))
async def _delete_own(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    await _deleted(c, c.own_msg, res, before, after)


@spec("messages.delete:others", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg], "revoke": True}))
async def _delete_others(c: Ctx, res: Any, before: dict[str, Any],
                         after: dict[str, Any]) -> None:
    await _deleted(c, c.other_msg, res, before, after)


@spec("messages.delete:others_no_revoke", lambda c: ("messages.delete", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg], "revoke": False}))
async def _delete_no_revoke(c: Ctx, res: Any, before: dict[str, Any],
                            after: dict[str, Any]) -> None:
    await _deleted(c, c.other_msg, res, before, after)


@spec("messages.read", lambda c: ("messages.read", {"chat_id": c.chat_id, "max_id": c.w.top}),
      mutates=ELSEWHERE)
async def _read(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert (await c.caller("chats.get", chat_id=c.chat_id))["read_inbox_max_id"] == c.w.top
    assert new_log(before, after) == []
    assert bumped(before, after) == {c.key}  # the reader's other devices only


@spec("messages.react", lambda c: ("messages.react", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "emoji": EMOJI}))
async def _react(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    [u] = new_log(before, after)
    assert (u["type"], u["message_id"], u["user_id"]) == ("reaction", c.other_msg, c.caller.id)
    assert _message_in_history(after, c.other_msg)["reactions"] == [
        {"emoji": EMOJI, "count": 1}]
    assert bumped(before, after) == set()


@spec("messages.pin", lambda c: ("messages.pin", {
    "chat_id": c.chat_id, "message_id": c.other_msg}))
async def _pin(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert res_of(after, "chat")["pinned_message_id"] == c.other_msg
    [u] = new_log(before, after)
    assert (u["type"], u["message_id"]) == ("pinned_message", c.other_msg)
    assert bumped(before, after) == set()


@spec("messages.setTyping", lambda c: ("messages.setTyping", {"chat_id": c.chat_id}),
      mutates=NOTHING)
async def _typing(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True


@spec("messages.getHistory", lambda c: ("messages.getHistory", {
    "chat_id": c.chat_id, "limit": 100}), mutates=NOTHING)
async def _history(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    # members and a public channel's readers see it all, as the owner does
    assert res == res_of(before, "history")
    assert [m["id"] for m in res["messages"]] == list(range(c.w.top, 0, -1))


@spec("messages.getMessages", lambda c: ("messages.getMessages", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg, c.own_msg]}), mutates=NOTHING)
async def _get_messages(c: Ctx, res: Any, before: dict[str, Any],
                        after: dict[str, Any]) -> None:
    got = {m["id"]: m["text"] for m in res["messages"]}
    assert got == {i: c.w.texts[i] for i in (c.own_msg, c.other_msg)}


@spec("messages.search:in_chat", lambda c: ("messages.search", {
    "query": c.w.tag, "chat_id": c.chat_id, "limit": 100}), mutates=NOTHING)
async def _search(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {m["chat_id"] for m in res["messages"]} == {c.chat_id}
    assert {m["id"] for m in res["messages"]} == c.w.posts


def _views_of(snap: dict[str, Any], ids: list[int]) -> list[dict[str, int]]:
    return [{"id": m["id"], "views": m.get("views", 0)}
            for m in reversed(res_of(snap, "history")["messages"]) if m["id"] in ids]


@spec("messages.getViews", lambda c: ("messages.getViews", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg, c.own_msg]}), mutates=ELSEWHERE)
async def _views(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    ids = sorted({c.own_msg, c.other_msg})
    was, now = _views_of(before, ids), _views_of(after, ids)
    assert res == now
    if c.kind == "channel":  # the caller's view counted, once
        assert [v["views"] for v in now] == [v["views"] + 1 for v in was]
    else:  # a supergroup's messages have no counters
        assert res == [{"id": i, "views": 0} for i in ids]
        assert after == before
    assert new_log(before, after) == [] and bumped(before, after) == set()


@spec("messages.getViews:no_increment", lambda c: ("messages.getViews", {
    "chat_id": c.chat_id, "message_ids": [c.other_msg, c.own_msg], "increment": False}),
      mutates=NOTHING)
async def _views_only(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res == _views_of(before, sorted({c.own_msg, c.other_msg}))


@spec("chats.get", lambda c: ("chats.get", {"chat_id": c.chat_id}), mutates=NOTHING)
async def _get_chat(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["id"], res["type"]) == (c.chat_id, c.kind)
    assert res["title"] == f"{c.w.tag} {c.kind if c.kind == 'channel' else 'group'}"
    if c.key == "banned" or (c.key == "left" and c.kind == "supergroup"):
        # as Telegram's channelForbidden: that it exists and one is out, nothing more
        assert res == {"id": c.chat_id, "type": c.kind, "title": res["title"],
                       "role": "member", "status": "kicked" if c.key == "banned" else "left"}
        return
    owners = res_of(before, "chat")
    for k in ("member_count", "pts", "username"):
        assert res.get(k) == owners.get(k), k
    if c.key == "outsider":
        assert "role" not in res and "status" not in res
    elif c.key == "left":
        assert res["status"] == "left"
    else:
        role = {"owner": "owner", "admin": "admin", "limited": "admin"}.get(c.key, "member")
        assert (res["status"], res["role"]) == ("member", role)


@spec("chats.exportInvite", lambda c: ("chats.exportInvite", {"chat_id": c.chat_id}))
async def _export(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["chat_id"], res["creator_id"]) == (c.chat_id, c.caller.id)
    assert {i["hash"] for i in res_of(after, "invites")} == {c.w.invite, res["hash"]}
    assert new_log(before, after) == [] and bumped(before, after) == set()


@spec("chats.getInvites", lambda c: ("chats.getInvites", {"chat_id": c.chat_id}),
      mutates=NOTHING)
async def _invites(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert [(i["hash"], i.get("revoked", False)) for i in res] == [(c.w.invite, False)]


@spec("chats.revokeInvite", lambda c: ("chats.revokeInvite", {"hash": c.w.invite}))
async def _revoke(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert [(i["hash"], i.get("revoked", False)) for i in res_of(after, "invites")] == [
        (c.w.invite, True)]
    assert new_log(before, after) == [] and bumped(before, after) == set()


@spec("updates.getChannelDifference", lambda c: ("updates.getChannelDifference", {
    "channel_id": c.chat_id, "pts": 0, "limit": 1000}), mutates=NOTHING)
async def _difference(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res == res_of(before, "log")
    assert res["pts"] == res_of(before, "chat")["pts"] == len(res["updates"])


@spec("channels.join", lambda c: ("channels.join", {"channel_id": c.chat_id}))
async def _join(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert (res["id"], res["status"], res["role"]) == (c.chat_id, "member", "member")
    count = res_of(before, "chat")["member_count"]
    assert res_of(after, "chat")["member_count"] == res["member_count"] == count + 1
    assert c.caller.id in {m["user_id"] for m in res_of(after, "recent")}
    assert new_log(before, after) == []  # a channel does not announce its subscribers
    assert bumped(before, after) == {c.key}


@spec("channels.leave", lambda c: ("channels.leave", {"channel_id": c.chat_id}))
async def _leave(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert (await c.caller("chats.get", chat_id=c.chat_id))["status"] == "left"
    assert res_of(after, "chat")["member_count"] == res_of(before, "chat")["member_count"] - 1
    heir = set()
    if c.key == "owner":  # the longest-serving admin owns it now
        assert (await c.api("admin")("chats.get", chat_id=c.chat_id))["role"] == "owner"
        heir = {"admin"}
    else:
        assert c.caller.id not in {m["user_id"] for m in res_of(after, "recent")}
    added = new_log(before, after)
    if c.kind == "channel":
        assert added == []
    else:
        [u] = added
        assert u["message"]["action"] == {"type": "chat_delete_user", "user_id": c.caller.id}
    assert bumped(before, after) == {c.key} | heir


@spec("channels.invite", lambda c: ("channels.invite", {
    "channel_id": c.chat_id, "user_ids": [c.id("newcomer")]}))
async def _invite(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    seen = await c.api("newcomer")("chats.get", chat_id=c.chat_id)
    assert (seen["status"], seen["role"]) == ("member", "member")
    assert res_of(after, "chat")["member_count"] == res_of(before, "chat")["member_count"] + 1
    added = new_log(before, after)
    if c.kind == "channel":
        assert added == []
    else:
        [u] = added
        assert (u["message"]["from_id"], u["message"]["action"]) == (
            c.caller.id, {"type": "chat_add_user", "user_ids": [c.id("newcomer")]})
    assert bumped(before, after) == {c.key, "newcomer"}


@spec("channels.editAdmin", lambda c: ("channels.editAdmin", {
    "channel_id": c.chat_id, "user_id": c.id("bystander"), "rights": {"pin_messages": True}}))
async def _edit_admin(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    [m] = [m for m in res_of(after, "recent") if m["user_id"] == c.id("bystander")]
    assert m["role"] == "admin" and granted(m["admin_rights"]) == {"pin_messages"}
    assert new_log(before, after) == []
    assert bumped(before, after) == {c.key, "bystander"}


@spec("channels.editBanned", lambda c: ("channels.editBanned", {
    "channel_id": c.chat_id, "user_id": c.id("bystander"), "banned": {"send_messages": True}}))
async def _edit_banned(c: Ctx, res: Any, before: dict[str, Any],
                       after: dict[str, Any]) -> None:
    assert res is True
    [m] = [m for m in res_of(after, "banned") if m["user_id"] == c.id("bystander")]
    assert m["status"] == "member" and granted(m["banned_rights"]) == {"send_messages"}
    assert new_log(before, after) == []
    assert bumped(before, after) == {c.key, "bystander"}


@spec("channels.editDefaultBanned", lambda c: ("channels.editDefaultBanned", {
    "channel_id": c.chat_id, "banned": {"send_media": True}}))
async def _default_banned(c: Ctx, res: Any, before: dict[str, Any],
                          after: dict[str, Any]) -> None:
    assert res is True
    assert granted(res_of(after, "chat")["default_banned_rights"]) == {"send_media"}
    assert new_log(before, after) == [] and bumped(before, after) == set()


def _participants(filter_: str) -> Call:
    return lambda c: ("channels.getParticipants", {"channel_id": c.chat_id, "filter": filter_,
                                                   "limit": 200})


@spec("channels.getParticipants:recent", _participants("recent"), mutates=NOTHING)
async def _recent(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {m["user_id"] for m in res} == {c.id(k) for k in ACTIVE}


@spec("channels.getParticipants:admins", _participants("admins"), mutates=NOTHING)
async def _admins(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {m["user_id"]: m["role"] for m in res} == {
        c.id("owner"): "owner", c.id("admin"): "admin", c.id("limited"): "admin",
        c.id("auditor"): "admin"}


@spec("channels.getParticipants:banned", _participants("banned"), mutates=NOTHING)
async def _banned(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert {m["user_id"]: m["status"] for m in res} == {
        c.id("restricted"): "member", c.id("banned"): "kicked"}


@spec("channels.updateUsername", lambda c: ("channels.updateUsername", {
    "channel_id": c.chat_id, "username": f"{c.w.tag}_renamed"}))
async def _username(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    assert res_of(after, "chat")["username"] == f"{c.w.tag}_renamed"
    found = await c.api("outsider")("channels.search", query=f"{c.w.tag}_renamed")
    assert [x["id"] for x in found] == [c.chat_id]
    assert new_log(before, after) == [] and bumped(before, after) == set()


@spec("channels.editInfo", lambda c: ("channels.editInfo", {
    "channel_id": c.chat_id, "title": f"{c.w.tag} renamed by {c.role}"}))
async def _edit_info(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True
    title = f"{c.w.tag} renamed by {c.role}"
    assert res_of(after, "chat")["title"] == title
    [u] = new_log(before, after)
    assert u["message"]["action"] == {"type": "chat_edit_title", "title": title}
    assert bumped(before, after) == set()


@spec("channels.toggleSignatures", lambda c: ("channels.toggleSignatures", {
    "channel_id": c.chat_id, "enabled": True}))
async def _signatures(c: Ctx, res: Any, before: dict[str, Any],
                      after: dict[str, Any]) -> None:
    assert res is True and res_of(after, "chat")["signatures"] is True
    assert new_log(before, after) == [] and bumped(before, after) == set()


@spec("channels.toggleSlowMode", lambda c: ("channels.toggleSlowMode", {
    "channel_id": c.chat_id, "seconds": 10}))
async def _slow_mode(c: Ctx, res: Any, before: dict[str, Any], after: dict[str, Any]) -> None:
    assert res is True and res_of(after, "chat")["slow_mode"] == 10
    assert new_log(before, after) == [] and bumped(before, after) == set()


# the methods of basic groups: a channel's id is refused by all of them
spec("chats.migrateToSupergroup", lambda c: ("chats.migrateToSupergroup", {
    "chat_id": c.chat_id}))(_never)
spec("chats.addMember", lambda c: ("chats.addMember", {
    "chat_id": c.chat_id, "user_id": c.id("newcomer")}))(_never)
spec("chats.removeMember", lambda c: ("chats.removeMember", {
    "chat_id": c.chat_id, "user_id": c.id("bystander")}))(_never)
spec("chats.leave", lambda c: ("chats.leave", {"chat_id": c.chat_id}))(_never)
spec("chats.editAdmin", lambda c: ("chats.editAdmin", {
    "chat_id": c.chat_id, "user_id": c.id("bystander"), "is_admin": True}))(_never)
spec("chats.editTitle", lambda c: ("chats.editTitle", {
    "chat_id": c.chat_id, "title": "renamed"}))(_never)
spec("chats.getMembers", lambda c: ("chats.getMembers", {"chat_id": c.chat_id}),
     mutates=NOTHING)(_never)

# These chats have no bots: whoever may read a post gets as far as "no such button" (a press
# that reaches a bot: tests/test_botapi.py); anyone else is refused as by getMessages.
spec("messages.getBotCallbackAnswer", lambda c: ("messages.getBotCallbackAnswer", {
    "chat_id": c.chat_id, "message_id": c.other_msg, "data": "no such button"}))(_never)

BASIC = (CI, CI, CI, CI, CI, CI, CI, NF)

# The matrices. A bad token gets 401 AUTH_KEY_INVALID from every method, before anything else.
# The public channel: its non-member (and one who left) reads it, and may do nothing else.
CHANNEL_MATRIX: dict[str, tuple[Any, ...]] = {
    #                                 owner admin limited member restricted banned left outsider
    "messages.send":                   (OK, OK, OK, WF, WF, WF, WF, WF),
    "messages.sendMedia":              (OK, OK, OK, WF, WF, WF, WF, WF),
    "messages.sendAlbum":              (OK, OK, OK, WF, WF, WF, WF, WF),
    "messages.forward:from_chat":      (OK, OK, OK, OK, OK, FB, OK, OK),
    "messages.forward:into_chat":      (OK, OK, OK, WF, WF, WF, WF, WF),
    "messages.edit:own":               (OK, OK, OK, AU, AU, FB, FB, FB),
    "messages.edit:others":            (OK, OK, AU, AU, AU, FB, FB, FB),
    "messages.delete:own":             (OK, OK, OK, AU, AU, FB, FB, FB),
    "messages.delete:others":          (OK, OK, AU, AU, AU, FB, FB, FB),
    "messages.delete:others_no_revoke": (OK, OK, AU, AU, AU, FB, FB, FB),
    "messages.read":                   (OK, OK, OK, OK, OK, FB, FB, FB),
    "messages.react":                  (OK, OK, OK, OK, OK, FB, FB, FB),
    "messages.pin":                    (OK, OK, AD, AD, AD, FB, FB, FB),
    "messages.setTyping":              (OK, OK, OK, WF, WF, WF, WF, WF),
    "messages.getHistory":             (OK, OK, OK, OK, OK, FB, OK, OK),
    "messages.getMessages":            (OK, OK, OK, OK, OK, FB, OK, OK),
    "messages.search:in_chat":         (OK, OK, OK, OK, OK, FB, OK, OK),
    "messages.getViews":               (OK, OK, OK, OK, OK, FB, OK, OK),
    "messages.getViews:no_increment":  (OK, OK, OK, OK, OK, FB, OK, OK),
    "chats.get":                       (OK, OK, OK, OK, OK, OK, OK, OK),
    # a public channel is known to all: its non-member is told they are not in it (as by
    # every channels.* method), not that it does not exist
    "chats.exportInvite":              (OK, OK, AD, AD, AD, FB, FB, FB),
    "chats.getInvites":                (OK, OK, AD, AD, AD, FB, FB, FB),
    "chats.revokeInvite":              (OK, OK, AD, AD, AD, FB, FB, FB),
    "updates.getChannelDifference":    (OK, OK, OK, OK, OK, FB, OK, OK),
    "channels.join":                   (UAP, UAP, UAP, UAP, UAP, UB, OK, OK),
    "channels.leave":                  (OK, OK, OK, OK, OK, FB, FB, FB),
    "channels.invite":                 (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.editAdmin":              (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.editBanned":             (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.editDefaultBanned":      (CI, CI, AD, AD, AD, FB, FB, FB),
    "channels.getParticipants:recent": (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.getParticipants:admins": (OK, OK, OK, OK, OK, FB, FB, FB),
    "channels.getParticipants:banned": (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.updateUsername":         (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.editInfo":               (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.toggleSignatures":       (OK, OK, AD, AD, AD, FB, FB, FB),
    "channels.toggleSlowMode":         (CI, CI, AD, AD, AD, FB, FB, FB),
    "chats.migrateToSupergroup":       (CI, CI, CI, CI, CI, FB, FB, NF),
    "chats.addMember":                 BASIC,
    "chats.removeMember":              BASIC,
    "chats.leave":                     BASIC,
    "chats.editAdmin":                 BASIC,
    "chats.editTitle":                 BASIC,
    "chats.getMembers":                BASIC,
    "messages.getBotCallbackAnswer":   (NB, NB, NB, NB, NB, FB, NB, NB),
}
# The private supergroup: members write unless restricted; its outsider learns nothing, and
# whoever left or was banned learns only that they are out.
SUPERGROUP_MATRIX: dict[str, tuple[Any, ...]] = {
    #                                 owner admin limited member restricted banned left outsider
    "messages.send":                   (OK, OK, OK, OK, WF, WF, WF, NF),
    "messages.sendMedia":              (OK, OK, OK, OK, WF, WF, WF, NF),
    "messages.sendAlbum":              (OK, OK, OK, OK, WF, WF, WF, NF),
    "messages.forward:from_chat":      (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.forward:into_chat":      (OK, OK, OK, OK, WF, WF, WF, NF),
    # a muted member may not change what they wrote either (a mute one could edit around)
    "messages.edit:own":               (OK, OK, OK, OK, WF, FB, FB, NF),
    "messages.edit:others":            (AU, AU, AU, AU, WF, FB, FB, NF),
    "messages.delete:own":             (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.delete:others":          (OK, OK, AU, AU, AU, FB, FB, NF),
    "messages.delete:others_no_revoke": (OK, OK, AU, AU, AU, FB, FB, NF),
    "messages.read":                   (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.react":                  (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.pin":                    (OK, OK, AD, AD, AD, FB, FB, NF),
    "messages.setTyping":              (OK, OK, OK, OK, WF, WF, WF, NF),
    "messages.getHistory":             (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.getMessages":            (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.search:in_chat":         (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.getViews":               (OK, OK, OK, OK, OK, FB, FB, NF),
    "messages.getViews:no_increment":  (OK, OK, OK, OK, OK, FB, FB, NF),
    "chats.get":                       (OK, OK, OK, OK, OK, OK, OK, NF),
    # a supergroup's members may make links (unless restricted from inviting), and an admin
    # may do at least what a plain member may; listing and revoking everyone's links (the
    # owner's too) is for admins with invite_users
    "chats.exportInvite":              (OK, OK, OK, OK, OK, FB, FB, NF),
    "chats.getInvites":                (OK, OK, AD, AD, AD, FB, FB, NF),
    "chats.revokeInvite":              (OK, OK, AD, AD, AD, FB, FB, NF),
    # one who left is told they are out, as by history; not that the chat does not exist
    "updates.getChannelDifference":    (OK, OK, OK, OK, OK, FB, FB, NF),
    # a private chat is joined by a link: its members and former members are told so
    "channels.join":                   (FB, FB, FB, FB, FB, FB, FB, NF),
    "channels.leave":                  (OK, OK, OK, OK, OK, FB, FB, NF),
    "channels.invite":                 (OK, OK, OK, OK, OK, FB, FB, NF),
    "channels.editAdmin":              (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.editBanned":             (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.editDefaultBanned":      (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.getParticipants:recent": (OK, OK, OK, OK, OK, FB, FB, NF),
    "channels.getParticipants:admins": (OK, OK, OK, OK, OK, FB, FB, NF),
    "channels.getParticipants:banned": (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.updateUsername":         (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.editInfo":               (OK, OK, AD, AD, AD, FB, FB, NF),
    "channels.toggleSignatures":       (CI, CI, AD, AD, AD, FB, FB, NF),
    "channels.toggleSlowMode":         (OK, OK, AD, AD, AD, FB, FB, NF),
    "chats.migrateToSupergroup":       (CI, CI, CI, CI, CI, FB, FB, NF),
    "chats.addMember":                 BASIC,
    "chats.removeMember":              BASIC,
    "chats.leave":                     BASIC,
    "chats.editAdmin":                 BASIC,
    "chats.editTitle":                 BASIC,
    "chats.getMembers":                BASIC,
    "messages.getBotCallbackAnswer":   (NB, NB, NB, NB, NB, FB, FB, NF),
}
MATRICES = {"channel": CHANNEL_MATRIX, "supergroup": SUPERGROUP_MATRIX}


def _cells(kind: str, name: str) -> list[tuple[str, Any]]:
    row = MATRICES[kind][name]
    return [*zip(ROLES, row, strict=True), ("bad_token", AUTH)]


def _is_write(name: str, expected: Any) -> bool:
    return expected == OK and SPECS[name].mutates == CHAT


# every allowed call that changes the chat, each on a chat of its own
WRITES = [pytest.param(kind, name, role, id=f"{kind}-{name}-{role}")
          for kind in KINDS for name in MATRICES[kind]
          for role, exp in _cells(kind, name) if _is_write(name, exp)]
# the rest of each row (refusals, reads, writes elsewhere), a row at a time on the shared chat
ROWS = [pytest.param(kind, name, id=f"{kind}-{name}") for kind in KINDS
        for name in MATRICES[kind]]


# comment threads and forum topics have a matrix of their own (tests/test_threads.py)
THREADS = {"channels.setDiscussionGroup", "channels.toggleForum", "channels.createTopic",
           "channels.editTopic", "channels.getTopics", "channels.readTopic",
           "messages.getReplies"}


async def test_matrix_covers_every_channel_method(client: httpx.AsyncClient) -> None:
    """Every served method that takes a chat (or a channel) has a row in both matrices."""
    doc = (await client.get("/api/v1/openapi.json")).json()
    schemas = doc["components"]["schemas"]
    takes_chat = {"channel_id", "chat_id", "from_chat_id", "message_id", "message_ids", "hash"}
    declared = set()
    for path, item in doc["paths"].items():
        schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
        if "$ref" in schema:
            schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
        if takes_chat & set(schema.get("properties", {})):
            declared.add(path.rsplit("/", 1)[1])
    # by invite link: made for outsiders (a preview, and joining), see test_channels.py
    declared -= {"chats.checkInvite", "chats.joinByInvite"} | THREADS
    assert {"channels.editAdmin", "messages.getViews", "updates.getChannelDifference"} <= declared
    covered = {name.split(":")[0] for name in CHANNEL_MATRIX}
    assert declared <= covered, declared - covered
    assert set(CHANNEL_MATRIX) == set(SUPERGROUP_MATRIX) == set(SPECS)
    assert all(s.mutates in (CHAT, ELSEWHERE, NOTHING) for s in SPECS.values())


async def _current(w: World, http: httpx.AsyncClient) -> dict[str, Any]:
    """The chat's snapshot: the one the last row left, unless something was written since."""
    if w.snapshot is not None and w.snapshot[0] == EPOCH[0]:
        return w.snapshot[1]
    return await snapshot(w, http)


@pytest.mark.parametrize(("kind", "name"), ROWS)
async def test_refused_or_read_only(shared_worlds: dict[str, World], client: httpx.AsyncClient,
                                    kind: str, name: str) -> None:
    """One row of the matrix but its writes to the chat: each call's exact answer and
    effect; and afterwards the chat is exactly as it was (but for what the row's allowed
    calls elsewhere did, each checked between snapshots of its own)."""
    w = shared_worlds[kind]
    s = SPECS[name]
    current = await _current(w, client)
    w.snapshot = None
    problems: list[str] = []
    for role, expected in _cells(kind, name):
        if _is_write(name, expected):
            continue  # test_allowed_write
        c = make_ctx(w, client, role)
        method, params = s.call(c)
        r = await c.caller.raw(method, params)
        body = r.json()
        if expected != OK:
            got = "ok" if body["ok"] else (r.status_code, body["error"]["type"])
            if got != expected:
                problems.append(f"{role}: expected {expected}, got {got}: {body}")
            continue
        if not (r.status_code == 200 and body["ok"]):
            problems.append(f"{role}: expected ok, got {r.status_code}: {body}")
            continue
        after = current
        if s.mutates == ELSEWHERE:
            after = await snapshot(w, client)
        try:
            await s.effect(c, body["result"], current, after)
        except AssertionError as e:
            problems.append(f"{role}: allowed, but: {e}")
        current = after
    final = await snapshot(w, client)
    if final != current:
        changed = sorted(k for k in final if final[k] != current.get(k))
        problems.append(f"a refused or read-only call changed {changed}")
        # later rows get a chat as built
        w.__dict__.update((await build_world(w.p, w.kind)).__dict__)
        EPOCH[0] += 1
    else:
        w.snapshot = (EPOCH[0], final)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("kind", "name", "role"), WRITES)
async def test_allowed_write(people: People, client: httpx.AsyncClient, kind: str, name: str,
                             role: str) -> None:
    """An allowed change of the chat, on a chat of its own: its effect, and exactly the logs
    it should touch."""
    EPOCH[0] += 1
    w = await build_world(people, kind)
    c = make_ctx(w, client, role)
    method, params = SPECS[name].call(c)
    before = await snapshot(w, client)
    r = await c.caller.raw(method, params)
    body = r.json()
    assert r.status_code == 200 and body["ok"], body
    await SPECS[name].effect(c, body["result"], before, await snapshot(w, client))


# what the matrix cannot show --------------------------------------------------------------------

async def test_channel_ids_reveal_nothing(shared_worlds: dict[str, World], people: People,
                                          client: httpx.AsyncClient) -> None:
    """Probing ids with the channel methods gives the same answer for a private supergroup,
    a private channel, a basic group and a private chat one is not in, and no chat at all:
    CHAT_NOT_FOUND (the contract: also for chats the caller may not know of)."""
    prober = Api(client)
    res = await prober("auth.register", username=unique_name("probe"), password=PASSWORD,
                       display_name="Prober")
    prober.token, prober.user = res["token"], res["user"]
    owner = api_of(client, shared_worlds["channel"], "owner")
    private_channel = (await owner("channels.create", title="Hidden", broadcast=True))["id"]
    group = (await owner("chats.createGroup", title="Basic",
                         user_ids=[people.people["member"].id]))["id"]
    targets = {"private supergroup": shared_worlds["supergroup"].chat_id,
               "private channel": private_channel, "basic group": group,
               "private chat": people.sink_chats["owner"], "no chat": 2**52}
    probes: list[tuple[str, str, dict[str, Any]]] = [
        ("channels.join", "channel_id", {}),
        ("channels.leave", "channel_id", {}),
        ("channels.invite", "channel_id", {"user_ids": [prober.id]}),
        ("channels.editAdmin", "channel_id", {"user_id": prober.id, "rights": {}}),
        ("channels.editBanned", "channel_id", {"user_id": prober.id, "banned": {}}),
        ("channels.editDefaultBanned", "channel_id", {"banned": {}}),
        ("channels.getParticipants", "channel_id", {}),
        ("channels.updateUsername", "channel_id", {"username": ""}),
        ("channels.editInfo", "channel_id", {"about": "x"}),
        ("channels.toggleSignatures", "channel_id", {"enabled": True}),
        ("channels.toggleSlowMode", "channel_id", {"seconds": 10}),
        ("updates.getChannelDifference", "channel_id", {"pts": 0}),
        ("messages.getViews", "chat_id", {"message_ids": [1]}),
        ("messages.getHistory", "chat_id", {}),
        ("messages.send", "chat_id", {"text": "probe", "random_id": 1}),
        ("chats.get", "chat_id", {}),
        ("chats.exportInvite", "chat_id", {}),
        ("chats.migrateToSupergroup", "chat_id", {}),
    ]
    leaks = {}
    for method, key, params in probes:
        answers = {}
        for what, cid in targets.items():
            r = await prober.raw(method, {key: cid, **params})
            answers[what] = (r.status_code, r.json().get("error", {}).get("type"))
        if set(answers.values()) != {NF}:
            leaks[method] = answers
    assert leaks == {}, "\n".join(f"{m}: {a}" for m, a in leaks.items())


async def test_restricted_forward_and_react_follow_their_restrictions(
    people: People, client: httpx.AsyncClient
) -> None:
    """Restrictions are per right: a reaction ban stops reactions and nothing else; a mute
    stops sends and forwards into the chat, not reading or reacting."""
    w = await build_world(people, "supergroup")
    EPOCH[0] += 1
    owner, member = api_of(client, w, "owner"), api_of(client, w, "member")
    await owner("channels.editBanned", channel_id=w.chat_id, user_id=member.id,
                banned={"send_reactions": True})
    assert await member.error("messages.react", chat_id=w.chat_id, message_id=w.msgs["owner"],
                              emoji=EMOJI) == WF
    msg = await member("messages.send", chat_id=w.chat_id, text="still talking", random_id=7)
    assert msg["from_id"] == member.id
    restricted = api_of(client, w, "restricted")
    assert await restricted("messages.react", chat_id=w.chat_id, message_id=w.msgs["owner"],
                            emoji=EMOJI) is True
    # the default restrictions reach everyone but admins
    await owner("channels.editDefaultBanned", channel_id=w.chat_id,
                banned={"send_reactions": True})
    for key in ("restricted", "bystander"):
        assert await api_of(client, w, key).error(
            "messages.react", chat_id=w.chat_id, message_id=w.msgs["admin"],
            emoji=EMOJI) == WF, key
    assert await api_of(client, w, "limited")("messages.react", chat_id=w.chat_id,
                                              message_id=w.msgs["admin"], emoji=EMOJI) is True


async def test_a_member_restricted_from_media_still_writes_text(
    people: People, client: httpx.AsyncClient
) -> None:
    """send_media banned stops media, alone, in an album or forwarded in, and nothing else;
    so do the chat's default restrictions, for everyone but admins; lifting it lets media in."""
    w = await build_world(people, "supergroup")
    EPOCH[0] += 1
    cid = w.chat_id
    owner, member = api_of(client, w, "owner"), api_of(client, w, "member")
    await owner("channels.editBanned", channel_id=cid, user_id=member.id,
                banned={"send_media": True})

    def media(key: str) -> dict[str, Any]:
        return {"chat_id": cid, "file_id": w.people[key].files["supergroup"],
                "kind": "document", "random_id": secrets.randbits(62)}

    def album(key: str) -> dict[str, Any]:
        return {"chat_id": cid, "items": [
            {"file_id": w.people[key].files["supergroup"], "kind": "document",
             "random_id": secrets.randbits(62)} for _ in range(2)]}

    # a media message of the member's own elsewhere, to forward in (a file of its own: the
    # sink may not see the member's other files)
    sink_chat = w.p.sink_chats["member"]
    note = await member("messages.sendMedia", user_id=w.people["sink"].id, kind="document",
                        file_id=await upload(client, member.token or "", "note.txt", b"note"),
                        random_id=secrets.randbits(62))
    assert note["chat_id"] == sink_chat
    before = await snapshot(w, client)
    assert await member.error("messages.sendMedia", **media("member")) == WF
    assert await member.error("messages.sendAlbum", **album("member")) == WF
    assert await member.error("messages.forward", from_chat_id=sink_chat,
                              message_ids=[note["id"]], chat_id=cid) == WF
    assert await snapshot(w, client) == before, "a refused media post changed something"
    # text goes in, sent or forwarded
    msg = await member("messages.send", chat_id=cid, text="still talking",
                       random_id=secrets.randbits(62))
    assert (msg["id"], msg["from_id"]) == (w.top + 1, member.id) and not msg.get("media")
    [fwd] = await member("messages.forward", from_chat_id=sink_chat, message_ids=[1],
                         chat_id=cid)
    assert (fwd["id"], fwd["text"]) == (w.top + 2, "a note for the sink")

    # the chat's default: plain members lose media, admins keep it
    await owner("channels.editDefaultBanned", channel_id=cid, banned={"send_media": True})
    bystander = api_of(client, w, "bystander")
    assert await bystander.error("messages.sendMedia", **media("bystander")) == WF
    assert await bystander.error("messages.sendAlbum", **album("bystander")) == WF
    text = await bystander("messages.send", chat_id=cid, text="words only", random_id=8)
    assert text["id"] == w.top + 3
    limited = api_of(client, w, "limited")
    posted = await limited("messages.sendMedia", **media("limited"))
    assert (posted["id"], posted["media"]["file_id"]) == (
        w.top + 4, w.people["limited"].files["supergroup"])

    # lifted, the member's media goes in again
    await owner("channels.editDefaultBanned", channel_id=cid, banned={})
    await owner("channels.editBanned", channel_id=cid, user_id=member.id, banned={})
    sent = await member("messages.sendAlbum", **album("member"))
    assert [m["id"] for m in sent] == [w.top + 5, w.top + 6]
    history = await api_of(client, w, "auditor")("messages.getHistory", chat_id=cid, limit=6)
    assert [(m["id"], m["from_id"], bool(m.get("media"))) for m in history["messages"]] == [
        (w.top + 6, member.id, True), (w.top + 5, member.id, True),
        (w.top + 4, limited.id, True), (w.top + 3, bystander.id, False),
        (w.top + 2, member.id, False), (w.top + 1, member.id, False)]


async def test_a_banned_reader_of_a_public_channel_sees_nothing_new(
    shared_worlds: dict[str, World], client: httpx.AsyncClient
) -> None:
    """The ban shuts the public preview too, and the kicked user's own log ends with the
    ban: nothing of the channel reaches them after it, nor their search."""
    w = shared_worlds["channel"]
    banned = api_of(client, w, "banned")
    found = await banned("messages.search", query=w.tag, limit=100)
    assert [m for m in found["messages"] if m["chat_id"] == w.chat_id] == []
    assert w.chat_id not in {d["chat"]["id"] for d in await banned("messages.getDialogs")}
    diff = await banned("updates.getDifference", pts=0, limit=1000, date=1)
    about = [u for u in diff["updates"] if u.get("chat_id") == w.chat_id]
    assert (about[-1]["type"], about[-1]["status"]) == ("chat_member", "kicked")
    assert w.chat_id not in {c["channel_id"] for c in diff["channels"]}
