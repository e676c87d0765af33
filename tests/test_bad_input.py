"""Bad input over HTTP and WebSocket: every way of getting a request wrong is a clear 4xx.

Each rejected request must answer with the contract's envelope
`{"ok": false, "error": {"code", "type", "message"}}` and an HTTP status equal to `code`,
must leave the server serving, and must store nothing: the callers' pts and the chats'
histories are compared before and after. On a WebSocket a bad frame gets an error frame
(carrying the request's id whenever it could be read) and the socket stays usable.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Api, unique_name
from tests.server import ENGINES, Server

MAX_BODY = 1 << 20
ID_MAX = 2**53 - 1
PASSWORD = "correct horse"


# helpers ------------------------------------------------------------------------------------

def check_envelope(status: int, body: Any, want_status: int, want_types: str | set[str]) -> str:
    """Assert the contract's error envelope; return the error type."""
    types = {want_types} if isinstance(want_types, str) else want_types
    assert isinstance(body, dict), body
    assert body.get("ok") is False, body
    err = body.get("error")
    assert isinstance(err, dict), body
    assert set(err) == {"code", "type", "message"}, err
    assert err["code"] == status == want_status, (status, err)
    assert err["type"] in types, err
    assert isinstance(err["message"], str) and err["message"].strip(), err
    return str(err["type"])


def assert_error(r: httpx.Response, want_status: int, want_types: str | set[str]) -> str:
    assert r.headers.get("content-type", "").startswith("application/json"), (
        r.status_code, r.headers.get("content-type"), r.text[:200])
    body = r.json()
    assert set(body) == {"ok", "error"}, body
    return check_envelope(r.status_code, body, want_status, want_types)


@dataclass
class Scene:
    """Alice and Bob with a group and a private chat, one message in each."""

    alice: Api
    bob: Api
    group_id: int
    private_id: int
    rid: int = 0  # a random_id of this test's own (fresh for every test)

    def __post_init__(self) -> None:
        self.rid = fresh_rid()


async def snapshot(s: Scene) -> tuple[Any, ...]:
    """What a rejected request must not change: both users' pts and both chats' histories
    (newest first)."""
    a, b, group, private = await asyncio.gather(
        s.alice("updates.getState"), s.bob("updates.getState"),
        s.alice("messages.getHistory", chat_id=s.group_id, limit=30),
        s.bob("messages.getHistory", chat_id=s.private_id, limit=30),
    )
    return a["pts"], b["pts"], group["messages"], private["messages"]


# One scene per server, shared by the tests of this module: every test compares its own
# before and after, so what one test adds does not disturb the next.
_SCENES: dict[str, tuple[str, dict[str, Any], str, dict[str, Any], int, int]] = {}


def assert_one_more(before: tuple[Any, ...], after: tuple[Any, ...], text: str) -> None:
    """Exactly one message (`text`) was added to the group, and nothing else changed."""
    assert (after[0], after[1]) == (before[0] + 1, before[1] + 1)
    assert after[2][0]["text"] == text and after[2][0]["id"] == before[2][0]["id"] + 1
    assert after[2][1:] == before[2][:len(after[2]) - 1]
    assert after[3] == before[3]


@pytest.fixture
async def scene(server: Server, http: httpx.AsyncClient,
                make_user: Callable[..., Any]) -> Scene:
    cached = _SCENES.get(server.url)
    if cached is None:
        alice = await make_user("Alice")
        bob = await make_user("Bob")
        group = await alice("chats.createGroup", title="bad input", user_ids=[bob.id])
        await alice("messages.send", chat_id=group["id"], text="first", random_id=1)
        private = await alice("messages.send", user_id=bob.id, text="hi bob", random_id=2)
        cached = (alice.token, alice.user, bob.token, bob.user, group["id"],
                  private["chat_id"])
        _SCENES[server.url] = cached
    a_token, a_user, b_token, b_user, group_id, private_id = cached
    alice, bob = Api(http, a_token), Api(http, b_token)
    alice.user, bob.user = a_user, b_user
    return Scene(alice, bob, group_id, private_id)


def fresh_rid() -> int:
    return secrets.randbits(62) + 1000


# HTTP: raw bodies ---------------------------------------------------------------------------

DEEP = b"[" * 20_000 + b"]" * 20_000

RAW_BODIES: list[tuple[str, bytes]] = [
    ("empty", b""),
    ("not-json", b"hello"),
    ("truncated", b'{"text": "hi", "random_id": 5'),
    ("trailing-comma", b'{"text": "hi", "random_id": 5,}'),
    ("single-quotes", b"{'text': 'hi'}"),
    ("array", b'["hi", 5]'),
    ("string", b'"hi"'),
    ("number", b"42"),
    ("null", b"null"),
    ("true", b"true"),
    ("invalid-utf8", b'{"text": "\xff\xfe\xfd", "random_id": 5, "chat_id": 1}'),
    ("overlong-utf8", b'{"text": "\xc0\xaf", "random_id": 5, "chat_id": 1}'),
    ("raw-control-char", b'{"text": "a\x00b", "random_id": 5, "chat_id": 1}'),
    ("lone-surrogate", b'{"text": "a\\ud800", "random_id": 5, "chat_id": 1}'),
    ("nan", b'{"text": "hi", "random_id": NaN, "chat_id": 1}'),
    ("deeply-nested", b'{"text": "hi", "random_id": 5, "chat_id": 1, "x": ' + DEEP + b"}"),
    ("deeply-nested-text", b'{"text": ' + DEEP + b', "random_id": 5, "chat_id": 1}'),
]


@pytest.mark.parametrize(("body",), [(b,) for _, b in RAW_BODIES], ids=[n for n, _ in RAW_BODIES])
async def test_malformed_body_is_bad_request(scene: Scene, body: bytes) -> None:
    before = await snapshot(scene)
    r = await scene.alice.raw("messages.send", content=body)
    assert_error(r, 400, "BAD_REQUEST")
    assert await snapshot(scene) == before


async def test_body_over_the_limit_is_413(scene: Scene) -> None:
    before = await snapshot(scene)
    pad = "x" * MAX_BODY
    body = json.dumps({"chat_id": scene.group_id, "text": "big", "random_id": scene.rid,
                       "pad": pad}).encode()
    assert len(body) > MAX_BODY
    assert_error(await scene.alice.raw("messages.send", content=body), 413, "PAYLOAD_TOO_LARGE")

    # the same without a Content-Length (chunked): the limit holds while streaming
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(0, len(body), 64 * 1024):
            yield body[i:i + 64 * 1024]

    r = await scene.alice.http.post(
        "/api/v1/messages.send", content=chunks(),
        headers={"Authorization": f"Bearer {scene.alice.token}"},
    )
    assert "content-length" not in r.request.headers
    assert_error(r, 413, "PAYLOAD_TOO_LARGE")
    # and at the very limit a body is still taken
    fill = MAX_BODY - len(json.dumps({"chat_id": scene.group_id, "text": "at the limit",
                                      "random_id": scene.rid, "pad": ""}).encode())
    exact = json.dumps({"chat_id": scene.group_id, "text": "at the limit", "random_id": scene.rid,
                        "pad": "y" * fill}).encode()
    assert len(exact) == MAX_BODY
    r = await scene.alice.raw("messages.send", content=exact)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["result"]["text"] == "at the limit"
    assert_one_more(before, await snapshot(scene), "at the limit")


# HTTP: params -------------------------------------------------------------------------------

def _send(**over: Any) -> Callable[[Scene], dict[str, Any]]:
    """messages.send params to the scene's group with some fields replaced (_DROP drops one);
    the random_id is `s.rid` unless replaced."""

    def build(s: Scene) -> dict[str, Any]:
        params: dict[str, Any] = {"chat_id": s.group_id, "text": "hello", "random_id": s.rid}
        for k, v in over.items():
            if v is _DROP:
                params.pop(k, None)
            else:
                params[k] = v
        return params

    return build


_DROP = object()
BAD = "BAD_REQUEST"
BAD_OR_ENTITIES = {"BAD_REQUEST", "ENTITIES_INVALID"}


def bold(offset: int, length: int, type_: str = "bold", **extra: Any) -> dict[str, Any]:
    return {"type": type_, "offset": offset, "length": length, **extra}


SEND_CASES: list[tuple[str, Callable[[Scene], dict[str, Any]], int, str | set[str]]] = [
    # wrong field types
    ("text-int", _send(text=123), 400, BAD),
    ("text-null", _send(text=None), 400, BAD),
    ("text-list", _send(text=["hello"]), 400, BAD),
    ("text-object", _send(text={"t": "hello"}), 400, BAD),
    ("text-bool", _send(text=True), 400, BAD),
    ("random-id-str", _send(random_id="77"), 400, BAD),
    ("random-id-float", _send(random_id=1.5), 400, BAD),
    ("random-id-bool", _send(random_id=True), 400, BAD),
    ("random-id-null", _send(random_id=None), 400, BAD),
    ("random-id-2**63", _send(random_id=2**63), 400, BAD),
    ("random-id-below-int64", _send(random_id=-(2**63) - 1), 400, BAD),
    ("random-id-huge", _send(random_id=10**40), 400, BAD),
    ("chat-id-str", _send(chat_id="1"), 400, BAD),
    ("chat-id-negative", _send(chat_id=-1), 400, BAD),
    ("chat-id-zero", _send(chat_id=0), 400, BAD),
    ("chat-id-2**63", _send(chat_id=2**63), 400, BAD),
    ("chat-id-2**53", _send(chat_id=2**53), 400, BAD),
    ("chat-id-1e30", _send(chat_id=1e30), 400, BAD),
    ("chat-id-float", _send(chat_id=1.5), 400, BAD),
    ("chat-id-bool", _send(chat_id=True), 400, BAD),
    ("chat-id-list", _send(chat_id=[1]), 400, BAD),
    ("user-id-negative", _send(chat_id=_DROP, user_id=-1), 400, BAD),
    ("user-id-zero", _send(chat_id=_DROP, user_id=0), 400, BAD),
    ("user-id-2**63", _send(chat_id=_DROP, user_id=2**63), 400, BAD),
    ("user-id-str", _send(chat_id=_DROP, user_id="2"), 400, BAD),
    ("reply-to-zero", _send(reply_to=0), 400, BAD),
    ("reply-to-negative", _send(reply_to=-5), 400, BAD),
    ("entities-str", _send(entities="bold"), 400, BAD),
    ("entities-object", _send(entities={"type": "bold"}), 400, BAD),
    ("entity-missing-fields", _send(entities=[{"type": "bold"}]), 400, BAD),
    ("entity-offset-str", _send(entities=[bold("0", 2)]), 400, BAD),  # type: ignore[arg-type]
    ("entity-negative-offset", _send(entities=[bold(-1, 2)]), 400, BAD_OR_ENTITIES),
    ("entity-zero-length", _send(entities=[bold(0, 0)]), 400, BAD_OR_ENTITIES),
    # missing fields
    ("no-text", _send(text=_DROP), 400, BAD),
    ("no-random-id", _send(random_id=_DROP), 400, BAD),
    ("no-peer", _send(chat_id=_DROP), 400, "PEER_INVALID"),
    ("both-peers", lambda s: {**_send()(s), "user_id": s.bob.id}, 400, "PEER_INVALID"),
    # ids in range that lead nowhere
    ("chat-id-unknown", _send(chat_id=ID_MAX), 404, "CHAT_NOT_FOUND"),
    ("user-id-unknown", _send(chat_id=_DROP, user_id=ID_MAX), 400, "PEER_INVALID"),
    ("reply-to-unknown", _send(reply_to=999_999), 400, "MESSAGE_ID_INVALID"),
    # text
    ("text-4097", _send(text="a" * 4097), 400, "MESSAGE_TOO_LONG"),
    ("text-4097-emoji", _send(text="\U0001F600" * 4097), 400, "MESSAGE_TOO_LONG"),
    ("text-100000", _send(text="a" * 100_000), 400, "MESSAGE_TOO_LONG"),
    ("text-empty", _send(text=""), 400, "MESSAGE_EMPTY"),
    ("text-spaces", _send(text="    "), 400, "MESSAGE_EMPTY"),
    ("text-whitespace", _send(text=" \n\t\r\n "), 400, "MESSAGE_EMPTY"),
    ("text-unicode-spaces", _send(text="\u3000\u00a0\u2003"), 400, "MESSAGE_EMPTY"),
    # entities: out of range, overlapping, unknown, malformed links (UTF-16 offsets)
    ("entity-past-end", _send(entities=[bold(3, 3)]), 400, "ENTITIES_INVALID"),
    ("entity-at-end", _send(entities=[bold(5, 1)]), 400, "ENTITIES_INVALID"),
    ("entity-far-away", _send(entities=[bold(2**40, 1)]), 400, BAD_OR_ENTITIES),
    ("entity-huge-length", _send(entities=[bold(0, 2**62)]), 400, BAD_OR_ENTITIES),
    ("entity-utf16-past-end", _send(text="\U0001F600", entities=[bold(0, 3)]), 400,
     "ENTITIES_INVALID"),
    ("entities-overlap", _send(entities=[bold(0, 3), bold(2, 3, "italic")]), 400,
     "ENTITIES_INVALID"),
    ("entities-overlap-reversed", _send(entities=[bold(2, 3, "italic"), bold(0, 3)]), 400,
     "ENTITIES_INVALID"),
    ("entity-unknown-type", _send(entities=[bold(0, 2, "blink")]), 400, "ENTITIES_INVALID"),
    ("text-link-no-url", _send(entities=[bold(0, 2, "text_link")]), 400, "ENTITIES_INVALID"),
    ("text-link-javascript", _send(entities=[bold(0, 2, "text_link", url="javascript:x()")]),
     400, "ENTITIES_INVALID"),
    ("too-many-entities", _send(text="a" * 200, entities=[bold(i, 1) for i in range(101)]),
     400, BAD_OR_ENTITIES),
]


@pytest.mark.parametrize(
    ("build", "status", "types"), [c[1:] for c in SEND_CASES], ids=[c[0] for c in SEND_CASES]
)
async def test_bad_send_params(scene: Scene, build: Callable[[Scene], dict[str, Any]],
                               status: int, types: str | set[str]) -> None:
    before = await snapshot(scene)
    r = await scene.alice.raw("messages.send", build(scene))
    assert_error(r, status, types)
    assert await snapshot(scene) == before
    # the random_id still works afterwards: nothing was remembered for it
    msg = await scene.alice("messages.send", chat_id=scene.group_id, text="after",
                            random_id=scene.rid)
    assert (msg["id"], msg["text"]) == (before[2][0]["id"] + 1, "after")


async def test_boundaries_are_accepted(scene: Scene) -> None:
    """The other side of the limits above: what is just inside them is taken as given."""
    longest = "b" * 4096
    m = await scene.alice("messages.send", chat_id=scene.group_id, text=longest,
                          random_id=fresh_rid())
    assert m["text"] == longest
    # "😀 bold": the emoji is two UTF-16 units, so "bold" is at 3 and ends at exactly 7
    text = "\U0001F600 bold"
    ents = [{"type": "bold", "offset": 3, "length": 4},
            {"type": "italic", "offset": 3, "length": 2}]  # nested, not overlapping
    m = await scene.alice("messages.send", chat_id=scene.group_id, text=text, random_id=fresh_rid(),
                          entities=ents)
    assert m["text"] == text
    assert sorted((e["offset"], e["length"]) for e in m["entities"]) == [(3, 2), (3, 4)]
    m = await scene.alice("messages.send", chat_id=scene.group_id, text="  padded  ",
                          random_id=fresh_rid())
    assert m["text"].strip() == "padded"


NUL_CASES: list[tuple[str, str, Callable[[Scene], dict[str, Any]]]] = [
    ("send", "messages.send", _send(text="a\u0000b")),
    ("edit", "messages.edit", lambda s: {"chat_id": s.group_id, "message_id": 2,
                                         "text": "fi\u0000rst"}),
    ("search", "messages.search", lambda s: {"query": "fir\u0000st"}),
    ("users-search", "users.search", lambda s: {"query": "x\u0000"}),
    ("bio", "account.updateProfile", lambda s: {"bio": "nul\u0000bio"}),
    ("group-title", "chats.createGroup", lambda s: {"title": "t\u0000t", "user_ids": []}),
    ("users-get", "users.get", lambda s: {"username": "ab\u0000cde"}),
]


@pytest.mark.parametrize(("method", "build"), [c[1:] for c in NUL_CASES],
                         ids=[c[0] for c in NUL_CASES])
async def test_nul_character_is_stored_or_refused(
    scene: Scene, method: str, build: Callable[[Scene], dict[str, Any]]
) -> None:
    """A JSON-escaped NUL is valid JSON: the server takes it as given or refuses it with a
    4xx; it never fails (PostgreSQL's text cannot hold NUL, SQLite's can)."""
    r = await scene.alice.raw(method, build(scene))
    assert r.status_code < 500, (method, r.status_code, r.text[:300])
    if r.status_code != 200:
        assert_error(r, r.status_code, {"BAD_REQUEST", "MESSAGE_EMPTY", "QUERY_TOO_SHORT",
                                        "CHAT_TITLE_EMPTY", "USER_NOT_FOUND",
                                        "MESSAGE_NOT_MODIFIED"})
    elif method == "messages.send":
        msg = r.json()["result"]
        got = await scene.bob("messages.getMessages", chat_id=scene.group_id,
                              message_ids=[msg["id"]])
        assert got["messages"][0]["text"] == "a\u0000b"
    await scene.alice("updates.getState")


OTHER_CASES: list[tuple[str, str, Callable[[Scene], dict[str, Any]], int, str | set[str]]] = [
    ("edit-empty", "messages.edit", lambda s: {"chat_id": s.group_id, "message_id": 2,
                                                "text": "  "}, 400, "MESSAGE_EMPTY"),
    ("edit-too-long", "messages.edit", lambda s: {"chat_id": s.group_id, "message_id": 2,
                                                   "text": "c" * 4097}, 400, "MESSAGE_TOO_LONG"),
    ("edit-id-zero", "messages.edit", lambda s: {"chat_id": s.group_id, "message_id": 0,
                                                  "text": "x"}, 400, BAD),
    ("edit-unknown-id", "messages.edit", lambda s: {"chat_id": s.group_id, "message_id": 12345,
                                                     "text": "x"}, 400, "MESSAGE_ID_INVALID"),
    ("edit-entities-overlap", "messages.edit",
     lambda s: {"chat_id": s.group_id, "message_id": 2, "text": "hello",
                "entities": [bold(0, 3), bold(1, 3, "italic")]}, 400, "ENTITIES_INVALID"),
    ("history-limit-zero", "messages.getHistory", lambda s: {"chat_id": s.group_id, "limit": 0},
     400, BAD),
    ("history-limit-101", "messages.getHistory", lambda s: {"chat_id": s.group_id,
                                                             "limit": 101}, 400, BAD),
    ("history-offset-negative", "messages.getHistory",
     lambda s: {"chat_id": s.group_id, "offset_id": -1}, 400, BAD),
    ("history-chat-str", "messages.getHistory", lambda s: {"chat_id": str(s.group_id)}, 400, BAD),
    ("read-max-negative", "messages.read", lambda s: {"chat_id": s.group_id, "max_id": -1},
     400, BAD),
    ("delete-empty-ids", "messages.delete", lambda s: {"chat_id": s.group_id,
                                                        "message_ids": []}, 400,
     {"BAD_REQUEST", "MESSAGE_ID_INVALID"}),
    ("delete-ids-str", "messages.delete", lambda s: {"chat_id": s.group_id,
                                                      "message_ids": "2"}, 400, BAD),
    ("delete-revoke-str", "messages.delete",
     lambda s: {"chat_id": s.group_id, "message_ids": [2], "revoke": "yes"}, 400, BAD),
    ("difference-pts-negative", "updates.getDifference", lambda s: {"pts": -1}, 400, BAD),
    ("difference-pts-str", "updates.getDifference", lambda s: {"pts": "0"}, 400, BAD),
    ("difference-pts-missing", "updates.getDifference", lambda s: {}, 400, BAD),
    ("difference-limit-1001", "updates.getDifference", lambda s: {"pts": 0, "limit": 1001},
     400, BAD),
    ("difference-limit-zero", "updates.getDifference", lambda s: {"pts": 0, "limit": 0}, 400, BAD),
    ("group-user-ids-str", "chats.createGroup", lambda s: {"title": "t", "user_ids": "1"},
     400, BAD),
    ("group-user-ids-negative", "chats.createGroup", lambda s: {"title": "t", "user_ids": [-1]},
     400, BAD),
    ("group-title-int", "chats.createGroup", lambda s: {"title": 5, "user_ids": []}, 400, BAD),
    ("users-get-negative", "users.get", lambda s: {"user_id": -3}, 400, BAD),
    ("chats-get-zero", "chats.get", lambda s: {"chat_id": 0}, 400, BAD),
    ("chats-get-absurd", "chats.get", lambda s: {"chat_id": 1e30}, 400, BAD),
    ("terminate-session-str", "account.terminateSession", lambda s: {"session_id": "x"},
     400, BAD),
]


@pytest.mark.parametrize(
    ("method", "build", "status", "types"), [c[1:] for c in OTHER_CASES],
    ids=[c[0] for c in OTHER_CASES],
)
async def test_bad_params_of_other_methods(
    scene: Scene, method: str, build: Callable[[Scene], dict[str, Any]], status: int,
    types: str | set[str],
) -> None:
    before = await snapshot(scene)
    assert_error(await scene.alice.raw(method, build(scene)), status, types)
    assert await snapshot(scene) == before


UNKNOWN_METHODS = [
    "messages.sendd", "MESSAGES.SEND", "messages", "nope.nope", "messages.send.",
    "messages.send%00", "%F0%9F%98%80", "messages/send", "",
]


@pytest.mark.parametrize("name", UNKNOWN_METHODS, ids=[n or "<empty>" for n in UNKNOWN_METHODS])
async def test_unknown_method_is_404(scene: Scene, name: str) -> None:
    before = await snapshot(scene)
    for token in (scene.alice.token, None, "garbage"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await scene.alice.http.post(
            f"/api/v1/{name}", headers=headers,
            json={"chat_id": scene.group_id, "text": "x", "random_id": scene.rid},
        )
        assert_error(r, 404, "METHOD_INVALID")
    assert await snapshot(scene) == before


@pytest.mark.parametrize("header", [
    None, "", "Bearer", "Bearer nope", "bearer nope", "Basic dXNlcjpwYXNz", "nope",
    "Bearer " + "t" * 10_000,
], ids=["none", "empty", "bare-bearer", "wrong-token", "lowercase", "basic", "no-scheme",
        "huge-token"])
async def test_bad_token_is_401(scene: Scene, header: str | None) -> None:
    before = await snapshot(scene)
    headers = {"Authorization": header} if header is not None else {}
    r = await scene.alice.http.post(
        "/api/v1/messages.send", headers=headers,
        json={"chat_id": scene.group_id, "text": "x", "random_id": scene.rid},
    )
    assert_error(r, 401, "AUTH_KEY_INVALID")
    assert await snapshot(scene) == before


# auth.register and auth.login ---------------------------------------------------------------

INVALID_USERNAMES = [
    "abcd", "1abcde", "_abcde", "abcde_", "ab__cde", "ab-cde", "ab.cde", "ab cde", "@abcde",
    "\u00e5lices", "abcde\u0301", "a" * 33, "", "     ", "abcde\n", "abc\u0000de",
]
# NUL is refused before any field is looked at, in every string of every method
NUL_REFUSED = {"USERNAME_INVALID", "BAD_REQUEST"}


@pytest.mark.parametrize("username", INVALID_USERNAMES)
async def test_register_invalid_username(http: httpx.AsyncClient, username: str) -> None:
    r = await Api(http).raw("auth.register", {"username": username, "password": PASSWORD,
                                              "display_name": "X"})
    assert_error(r, 400, NUL_REFUSED if "\u0000" in username else "USERNAME_INVALID")


@pytest.mark.parametrize("password", [
    "", "short", "seven77", "aaaaaaaaaaaa", "abababababab", "abcabcabcabc", "        ",
], ids=["empty", "short", "seven", "one-char", "two-chars", "three-chars", "spaces"])
async def test_register_weak_password(http: httpx.AsyncClient, password: str) -> None:
    api = Api(http)
    name = unique_name()
    r = await api.raw("auth.register", {"username": name, "password": password,
                                        "display_name": "X"})
    assert_error(r, 400, "PASSWORD_TOO_WEAK")
    # nothing was stored: the name is still free, and takes a good password
    other = Api(http)
    ok = await other("auth.register", username=name, password=PASSWORD, display_name="X")
    assert ok["user"]["username"] == name


@pytest.mark.parametrize(("params", "types"), [
    ({"username": 123, "password": PASSWORD, "display_name": "X"}, BAD),
    ({"username": None, "password": PASSWORD, "display_name": "X"}, BAD),
    ({"password": PASSWORD, "display_name": "X"}, BAD),
    ({"username": "someone", "display_name": "X"}, BAD),
    ({"username": "someone", "password": ["correct horse"], "display_name": "X"}, BAD),
    ({"username": "someone", "password": PASSWORD}, BAD),
    ({"username": "someone", "password": PASSWORD, "display_name": ""}, "DISPLAY_NAME_INVALID"),
    ({"username": "someone", "password": PASSWORD, "display_name": "  "}, "DISPLAY_NAME_INVALID"),
    ({"username": "someone", "password": PASSWORD, "display_name": "a\nb"},
     "DISPLAY_NAME_INVALID"),
], ids=["username-int", "username-null", "no-username", "no-password", "password-list",
        "no-display-name", "display-name-empty", "display-name-blank", "display-name-newline"])
async def test_register_bad_fields(make_user: Callable[..., Any], http: httpx.AsyncClient,
                                   params: dict[str, Any], types: str) -> None:
    if params.get("username") == "someone":
        params = {**params, "username": unique_name()}
    r = await Api(http).raw("auth.register", params)
    assert_error(r, 400, types)
    if isinstance(params.get("username"), str):  # nothing was stored under that name
        seer = await make_user()
        assert await seer.error("users.get", username=params["username"]) == (
            404, "USER_NOT_FOUND")


async def test_username_occupied_case_insensitively(make_user: Callable[..., Any],
                                                    http: httpx.AsyncClient) -> None:
    base = unique_name("Mixed")
    first = Api(http)
    created = await first("auth.register", username=base, password=PASSWORD,
                          display_name="First")
    for variant in (base, base.lower(), base.upper(), base.swapcase()):
        r = await Api(http).raw("auth.register", {"username": variant, "password": "other pass 1",
                                                  "display_name": "Second"})
        assert_error(r, 400, "USERNAME_OCCUPIED")
    # still the first owner's, found by any case
    seer = await make_user()
    for variant in (base.lower(), base.upper()):
        assert (await seer("users.get", username=variant))["id"] == created["user"]["id"]


@pytest.fixture(params=ENGINES)
def login_server(request: pytest.FixtureRequest) -> Iterator[Server]:
    """Failed logins spend from a per-IP bucket shared by every test on 127.0.0.1: the
    wrong-password check gets a server of its own so that other tests cannot exhaust it."""
    srv = Server(request.param).start()
    yield srv
    srv.drop()


async def test_wrong_password_is_401(login_server: Server) -> None:
    async with httpx.AsyncClient(base_url=login_server.url, timeout=30) as http:
        name = unique_name()
        await Api(http)("auth.register", username=name, password=PASSWORD, display_name="X")
        r = await Api(http).raw("auth.login", {"username": name, "password": "wrong horse"})
        assert_error(r, 401, "PASSWORD_INVALID")
        r = await Api(http).raw("auth.login", {"username": unique_name(), "password": PASSWORD})
        assert_error(r, 401, "PASSWORD_INVALID")
        r = await Api(http).raw("auth.login", {"username": name, "password": 12345678})
        assert_error(r, 400, "BAD_REQUEST")
        ok = await Api(http)("auth.login", username=name.upper(), password=PASSWORD)
        assert ok["user"]["username"] == name


# WebSocket ----------------------------------------------------------------------------------

async def ws_response(ws: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    """The next response frame (pushed updates and events are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        raw = await asyncio.wait_for(ws.recv(), max(0.01, deadline - time.monotonic()))
        frame = json.loads(raw)
        if "ok" in frame:
            return frame  # type: ignore[no-any-return]


def check_ws_error(frame: dict[str, Any], want_id: Any, status: int,
                   types: str | set[str]) -> None:
    """`want_id` is the id the error frame must carry, or a tuple of acceptable ones."""
    assert set(frame) == {"id", "ok", "error"}, frame
    assert frame["id"] in (want_id if isinstance(want_id, tuple) else (want_id,)), frame
    err = frame["error"]
    check_envelope(err.get("code"), {"ok": frame["ok"], "error": err}, status, types)


async def ws_still_serves(ws: ClientConnection) -> None:
    await ws.send(json.dumps({"id": "probe", "method": "updates.getState"}))
    frame = await ws_response(ws)
    assert frame["id"] == "probe" and frame["ok"] is True, frame
    assert isinstance(frame["result"]["pts"], int)


def open_ws(server: Server, token: str | None) -> Any:
    return connect(f"{server.ws_url}/api/v1/ws?token={token}", proxy=None, open_timeout=10,
                   close_timeout=5)


WS_FRAMES: list[tuple[str, Callable[[Scene], str | bytes], Any, int, str | set[str]]] = [
    ("not-json", lambda s: "hello", None, 400, BAD),
    ("empty-text", lambda s: " ", None, 400, BAD),
    ("array", lambda s: "[1, 2]", None, 400, BAD),
    ("string", lambda s: '"messages.send"', None, 400, BAD),
    ("null", lambda s: "null", None, 400, BAD),
    ("invalid-utf8-binary", lambda s: b'{"id": 1, "method": "\xff\xfe"}', None, 400, BAD),
    ("truncated", lambda s: '{"id": 3, "method": "updates.getState"', None, 400, BAD),
    ("id-list", lambda s: '{"id": [1], "method": "updates.getState"}', None, 400, BAD),
    ("no-method", lambda s: '{"id": 11}', 11, 400, BAD),
    ("method-int", lambda s: '{"id": 12, "method": 42}', 12, 400, BAD),
    ("method-null", lambda s: '{"id": "m", "method": null}', "m", 400, BAD),
    ("unknown-method", lambda s: '{"id": 13, "method": "messages.sendd"}', 13, 404,
     "METHOD_INVALID"),
    ("params-array", lambda s: '{"id": 14, "method": "messages.send", "params": [1]}', 14, 400,
     BAD),
    ("params-string", lambda s: '{"id": 15, "method": "messages.send", "params": "x"}', 15, 400,
     BAD),
    ("params-deep", lambda s: ('{"id": 16, "method": "messages.send", "params": {"x": '
                               + "[" * 20_000 + "]" * 20_000 + "}}"), (16, None), 400, BAD),
    ("text-too-long", lambda s: json.dumps({"id": 17, "method": "messages.send",
                                            "params": _send(text="z" * 4097)(s)}),
     17, 400, "MESSAGE_TOO_LONG"),
    ("text-empty", lambda s: json.dumps({"id": 18, "method": "messages.send",
                                         "params": _send(text=" \n ")(s)}),
     18, 400, "MESSAGE_EMPTY"),
    ("chat-id-negative", lambda s: json.dumps({"id": 19, "method": "messages.send",
                                               "params": _send(chat_id=-1)(s)}), 19, 400, BAD),
    ("chat-id-absurd", lambda s: json.dumps({"id": 20, "method": "messages.send",
                                             "params": _send(chat_id=1e30)(s)}), 20, 400, BAD),
    ("missing-random-id", lambda s: json.dumps({"id": 21, "method": "messages.send",
                                                "params": _send(random_id=_DROP)(s)}),
     21, 400, BAD),
    ("entities-overlap", lambda s: json.dumps({
        "id": 22, "method": "messages.send",
        "params": _send(entities=[bold(0, 3), bold(1, 3, "italic")])(s)}),
     22, 400, "ENTITIES_INVALID"),
    ("unknown-chat", lambda s: json.dumps({"id": "c", "method": "messages.send",
                                           "params": _send(chat_id=ID_MAX)(s)}),
     "c", 404, "CHAT_NOT_FOUND"),
]


@pytest.mark.parametrize(
    ("build", "want_id", "status", "types"), [c[1:] for c in WS_FRAMES],
    ids=[c[0] for c in WS_FRAMES],
)
async def test_ws_bad_frame(server: Server, scene: Scene, build: Callable[[Scene], str | bytes],
                            want_id: Any, status: int, types: str | set[str]) -> None:
    before = await snapshot(scene)
    async with open_ws(server, scene.alice.token) as ws:
        await ws.send(build(scene))
        check_ws_error(await ws_response(ws), want_id, status, types)
        await ws_still_serves(ws)
        # and a good send on the same socket goes through
        await ws.send(json.dumps({"id": 99, "method": "messages.send",
                                  "params": {"chat_id": scene.group_id, "text": "ws ok",
                                             "random_id": scene.rid}}))
        frame = await ws_response(ws)
        assert frame["id"] == 99 and frame["ok"] is True, frame
        assert frame["result"]["id"] == before[2][0]["id"] + 1
    assert_one_more(before, await snapshot(scene), "ws ok")


async def test_ws_many_bad_frames_in_a_row(server: Server, scene: Scene) -> None:
    """A burst of bad frames, each answered, and the socket still works and nothing changed."""
    before = await snapshot(scene)
    async with open_ws(server, scene.alice.token) as ws:
        for i in range(40):
            await ws.send(json.dumps({"id": i, "method": "messages.send",
                                      "params": _send(text="", random_id=i)(scene)}))
        answered = {}
        for _ in range(40):
            frame = await ws_response(ws)
            check_ws_error(frame, frame["id"], 400, "MESSAGE_EMPTY")
            answered[frame["id"]] = frame
        assert sorted(answered) == list(range(40))
        await ws_still_serves(ws)
    assert await snapshot(scene) == before


# a property: whatever JSON comes as params, messages.send answers 200 or a clean 4xx ---------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
send_like = st.fixed_dictionaries({}, optional={
    "text": json_values | st.text(max_size=80),
    "random_id": json_values | st.integers(min_value=-(2**63), max_value=2**63 - 1),
    "chat_id": json_values | st.integers(min_value=-2, max_value=20) | st.just("group"),
    "user_id": json_values | st.integers(min_value=-2, max_value=20),
    "reply_to": json_values | st.integers(min_value=-2, max_value=5),
    "entities": json_values | st.lists(st.fixed_dictionaries({
        "type": st.sampled_from(["bold", "italic", "text_link", "pre", "nope"]),
        "offset": st.integers(min_value=-2, max_value=90),
        "length": st.integers(min_value=-1, max_value=90),
    }, optional={"url": json_values, "language": json_values}), max_size=4),
})


@pytest.fixture(scope="module")
def shared_sender(server: Server) -> Iterator[tuple[httpx.Client, dict[str, str], int]]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        r = client.post("/api/v1/auth.register", json={
            "username": unique_name("prop"), "password": PASSWORD, "display_name": "Prop"})
        result = r.json()["result"]
        headers = {"Authorization": f"Bearer {result['token']}"}
        group = client.post("/api/v1/chats.createGroup", headers=headers,
                            json={"title": "property", "user_ids": []}).json()["result"]
        yield client, headers, group["id"]


@settings(max_examples=50, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(params=json_values | send_like)
def test_send_never_fails_with_5xx(
    shared_sender: tuple[httpx.Client, dict[str, str], int], params: Any
) -> None:
    client, headers, group_id = shared_sender
    if isinstance(params, dict) and params.get("chat_id") == "group":
        params["chat_id"] = group_id
    r = client.post("/api/v1/messages.send", headers=headers,
                    content=json.dumps(params).encode())
    assert r.status_code < 500, (params, r.status_code, r.text[:300])
    body = r.json()
    if r.status_code == 200:
        assert body["ok"] is True and isinstance(body["result"]["id"], int)
    else:
        assert 400 <= r.status_code < 500
        check_envelope(r.status_code, body, r.status_code, body["error"]["type"])
    assert client.post("/api/v1/updates.getState", headers=headers).status_code == 200
