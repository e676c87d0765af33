"""Accounts, sessions (devices), profiles, usernames, passwords and the user directory.

Every test makes users of its own on the shared server (one per engine). Failed logins spend
from a per-IP bucket too (5 a minute), and every test of the suite talks from 127.0.0.1: the
tests that fail logins on purpose run on servers of their own, except one failure (the old
password after a change) on the shared one.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.conftest import Api, unique_name
from tests.server import Server

PASSWORD = "correct horse"


def name_of_length(n: int, first: str = "u") -> str:
    """A fresh valid username of exactly n characters."""
    body = secrets.token_hex(16)
    return (first + body)[:n]


async def register(http: httpx.AsyncClient, username: str, password: str = PASSWORD,
                   display_name: str = "Someone") -> Api:
    api = Api(http)
    result = await api("auth.register", username=username, password=password,
                       display_name=display_name)
    assert result["user"]["username"] == username
    assert isinstance(result["token"], str) and result["token"]
    assert isinstance(result["session_id"], int)
    api.token = result["token"]
    api.user = result["user"]
    return api


async def login(http: httpx.AsyncClient, username: str, password: str = PASSWORD,
                device: str | None = None) -> tuple[Api, dict[str, Any]]:
    api = Api(http)
    params: dict[str, Any] = {"username": username, "password": password}
    if device is not None:
        params["device"] = device
    result = await api("auth.login", **params)
    api.token = result["token"]
    api.user = result["user"]
    return api, result


async def login_error(http: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    r = await http.post("/api/v1/auth.login", json={"username": username, "password": password})
    assert not r.json()["ok"], r.text
    return r


def error_of(r: httpx.Response) -> tuple[int, str]:
    body = r.json()
    assert body["ok"] is False, body
    return r.status_code, body["error"]["type"]


# registration ------------------------------------------------------------------------------

async def test_register_returns_user_token_and_session(http: httpx.AsyncClient) -> None:
    username = unique_name("Reg")
    r = await http.post("/api/v1/auth.register", json={
        "username": username, "password": PASSWORD, "display_name": "Réka Kovács"})
    assert r.status_code == 200
    result = r.json()["result"]
    user = result["user"]
    assert user["username"] == username
    assert user["display_name"] == "Réka Kovács"
    assert user["is_bot"] is False
    assert isinstance(user["id"], int) and user["id"] > 0
    # the token works at once and names this user
    api = Api(http, result["token"])
    assert (await api("users.get", user_id=user["id"]))["username"] == username
    sessions = await api("account.getSessions")
    assert [s["session_id"] for s in sessions] == [result["session_id"]]
    assert sessions[0]["current"] is True


@pytest.mark.parametrize("length", [5, 32])
async def test_username_length_bounds_accepted(http: httpx.AsyncClient, length: int) -> None:
    await register(http, name_of_length(length))


@pytest.mark.parametrize("username", [
    "abcd",                      # 4 characters: too short
    "a" * 33,                    # 33 characters: too long
    "1abcdef",                   # starts with a digit
    "_abcdef",                   # starts with an underscore
    "abc-def",                   # hyphen
    "abc def",                   # space
    "abc.def",                   # dot
    "ab\u00e9cdef",              # a non-ASCII letter
    "",
])
async def test_username_rules(http: httpx.AsyncClient, username: str) -> None:
    api = Api(http)
    assert await api.error("auth.register", username=username, password=PASSWORD,
                           display_name="X") == (400, "USERNAME_INVALID")


async def test_username_with_digits_and_underscore_accepted(http: httpx.AsyncClient) -> None:
    await register(http, "Ab_9" + secrets.token_hex(4))


async def test_username_uniqueness_is_case_insensitive(http: httpx.AsyncClient) -> None:
    base = "Case" + secrets.token_hex(5)
    await register(http, base)
    api = Api(http)
    for clash in (base, base.lower(), base.upper(), base.swapcase()):
        assert await api.error("auth.register", username=clash, password=PASSWORD,
                               display_name="X") == (400, "USERNAME_OCCUPIED")


async def test_concurrent_registrations_of_one_name_make_one_account(
    http: httpx.AsyncClient,
) -> None:
    for _ in range(3):  # a race: a few rounds make a wrong answer show reliably
        name = unique_name("race")
        responses = await asyncio.gather(*(
            http.post("/api/v1/auth.register", json={
                "username": name if i % 2 else name.upper(), "password": PASSWORD,
                "display_name": "X"})
            for i in range(8)
        ))
        oks = [r for r in responses if r.json()["ok"]]
        assert len(oks) == 1, [r.text for r in responses]
        for r in responses:
            if not r.json()["ok"]:
                assert error_of(r) == (400, "USERNAME_OCCUPIED"), r.text


async def test_weak_password_refused(http: httpx.AsyncClient) -> None:
    api = Api(http)
    assert await api.error("auth.register", username=unique_name(), password="short",
                           display_name="X") == (400, "PASSWORD_TOO_WEAK")


async def test_register_with_wrong_types_is_bad_request(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/auth.register",
                        json={"username": 12345, "password": PASSWORD, "display_name": "X"})
    assert error_of(r) == (400, "BAD_REQUEST")


# login and sessions ------------------------------------------------------------------------

async def test_each_login_is_a_session_with_its_own_token(http: httpx.AsyncClient) -> None:
    username = unique_name()
    first = await register(http, username)
    phone, r_phone = await login(http, username, device="phone")
    laptop, r_laptop = await login(http, username, device="laptop")
    tokens = {first.token, phone.token, laptop.token}
    assert len(tokens) == 3
    assert r_phone["user"]["id"] == r_laptop["user"]["id"] == first.id
    assert r_phone["session_id"] != r_laptop["session_id"]

    for api, sid in ((phone, r_phone["session_id"]), (laptop, r_laptop["session_id"])):
        sessions = await api("account.getSessions")
        assert len(sessions) == 3
        current = [s for s in sessions if s["current"]]
        assert [s["session_id"] for s in current] == [sid]
        by_id = {s["session_id"]: s for s in sessions}
        assert by_id[r_phone["session_id"]]["device"] == "phone"
        assert by_id[r_laptop["session_id"]]["device"] == "laptop"
        for s in sessions:
            assert isinstance(s["created"], int) and s["created"] > 0
            assert s["last_active"] >= s["created"]


async def test_login_is_case_insensitive_in_the_username(http: httpx.AsyncClient) -> None:
    username = "Mixed" + secrets.token_hex(5)
    user = await register(http, username)
    _, result = await login(http, username.upper())
    assert result["user"]["id"] == user.id
    assert result["user"]["username"] == username


async def test_terminated_session_token_fails_at_once(http: httpx.AsyncClient) -> None:
    username = unique_name()
    main = await register(http, username)
    other, r_other = await login(http, username, device="tablet")
    # the token is known to the server (and perhaps cached) before it is terminated
    assert (await other("updates.getState"))["pts"] == 0
    assert await main("account.terminateSession", session_id=r_other["session_id"]) is True
    assert await other.error("updates.getState") == (401, "AUTH_KEY_INVALID")
    assert await other.error("account.getSessions") == (401, "AUTH_KEY_INVALID")
    sessions = await main("account.getSessions")
    assert r_other["session_id"] not in [s["session_id"] for s in sessions]
    assert len(sessions) == 1
    # terminating it again: there is no such session any more
    status, _ = await main.error("account.terminateSession", session_id=r_other["session_id"])
    assert status == 400


async def test_cannot_terminate_someone_elses_session(http: httpx.AsyncClient) -> None:
    alice = await register(http, unique_name("alice"))
    bob = await register(http, unique_name("bob"))
    bob_sid = (await bob("account.getSessions"))[0]["session_id"]
    status, _ = await alice.error("account.terminateSession", session_id=bob_sid)
    assert status == 400
    assert (await bob("updates.getState"))["pts"] == 0


async def test_logout_ends_only_the_calling_session(http: httpx.AsyncClient) -> None:
    username = unique_name()
    main = await register(http, username)
    other, _ = await login(http, username)
    assert await other("auth.logout") is True
    assert await other.error("updates.getState") == (401, "AUTH_KEY_INVALID")
    assert await other.error("auth.logout") == (401, "AUTH_KEY_INVALID")
    assert len(await main("account.getSessions")) == 1
    assert (await main("updates.getState"))["pts"] == 0


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nonsense", "Basic abc"])
async def test_missing_or_bad_token(http: httpx.AsyncClient, header: str | None) -> None:
    headers = {"Authorization": header} if header is not None else {}
    r = await http.post("/api/v1/account.getSessions", json={}, headers=headers)
    assert error_of(r) == (401, "AUTH_KEY_INVALID")


async def ws_ready(ws: Any) -> None:
    """A request answered on the socket: the server has attached the connection."""
    await ws.send('{"id": 1, "method": "updates.getState", "params": {}}')
    async with asyncio.timeout(10):
        while True:
            frame = await ws.recv()
            if '"id":1' in frame.replace(" ", ""):
                assert '"ok":true' in frame.replace(" ", ""), frame
                return


async def test_terminating_a_session_closes_its_websocket_with_4001(
    server: Server, http: httpx.AsyncClient,
) -> None:
    username = unique_name()
    main = await register(http, username)
    device, r_device = await login(http, username, device="ws-device")
    async with connect(f"{server.ws_url}/api/v1/ws?token={device.token}") as ws:
        await ws_ready(ws)
        assert await main("account.terminateSession", session_id=r_device["session_id"])
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:  # pushes may come first; the close must follow
                    await ws.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4001
    # the main session's socket is unaffected
    async with connect(f"{server.ws_url}/api/v1/ws?token={main.token}") as ws:
        await ws_ready(ws)


async def test_logout_closes_its_websocket_with_4001(
    server: Server, http: httpx.AsyncClient,
) -> None:
    username = unique_name()
    await register(http, username)
    device, _ = await login(http, username)
    async with connect(f"{server.ws_url}/api/v1/ws?token={device.token}") as ws:
        await ws_ready(ws)
        assert await device("auth.logout") is True
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


async def test_websocket_with_a_dead_token_is_closed_with_4001(
    server: Server, http: httpx.AsyncClient,
) -> None:
    username = unique_name()
    await register(http, username)
    device, _ = await login(http, username)
    assert await device("auth.logout") is True
    async with connect(f"{server.ws_url}/api/v1/ws?token={device.token}") as ws:
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


# profile -----------------------------------------------------------------------------------

async def test_update_profile_display_name_and_bio(http: httpx.AsyncClient) -> None:
    me = await register(http, unique_name(), display_name="Before")
    other = await register(http, unique_name())
    user = await me("account.updateProfile", display_name="After", bio="I like sync.")
    assert (user["id"], user["display_name"], user["bio"]) == (me.id, "After", "I like sync.")
    seen = await other("users.get", user_id=me.id)
    assert (seen["display_name"], seen["bio"]) == ("After", "I like sync.")
    # each field alone leaves the other as it was
    user = await me("account.updateProfile", bio="Changed bio")
    assert (user["display_name"], user["bio"]) == ("After", "Changed bio")
    user = await me("account.updateProfile", display_name="Again")
    assert (user["display_name"], user["bio"]) == ("Again", "Changed bio")
    # an empty bio clears it
    user = await me("account.updateProfile", bio="")
    assert user.get("bio") in (None, "")
    assert (await other("users.get", user_id=me.id)).get("bio") in (None, "")


async def test_blank_display_name_refused(http: httpx.AsyncClient) -> None:
    me = await register(http, unique_name(), display_name="Kept")
    status, _ = await me.error("account.updateProfile", display_name="   ")
    assert status == 400
    assert (await me("users.get", user_id=me.id))["display_name"] == "Kept"


# usernames ---------------------------------------------------------------------------------

async def test_update_username_frees_the_old_one_at_once(http: httpx.AsyncClient) -> None:
    old = unique_name("old")
    new = unique_name("new")
    me = await register(http, old)
    user = await me("account.updateUsername", username=new)
    assert (user["id"], user["username"]) == (me.id, new)
    assert (await me("users.get", username=new))["id"] == me.id
    assert await me.error("users.get", username=old) == (404, "USER_NOT_FOUND")
    # somebody else takes the old name right away, and can log in with it
    taker = await register(http, old)
    assert taker.id != me.id
    _, result = await login(http, old)
    assert result["user"]["id"] == taker.id
    # and the renamed user logs in with the new name only
    _, result = await login(http, new)
    assert result["user"]["id"] == me.id


async def test_update_username_clash_is_case_insensitive(http: httpx.AsyncClient) -> None:
    holder_name = "Hold" + secrets.token_hex(5)
    await register(http, holder_name)
    me = await register(http, unique_name())
    for clash in (holder_name, holder_name.lower(), holder_name.upper()):
        assert await me.error("account.updateUsername", username=clash) == (
            400, "USERNAME_OCCUPIED")
    assert await me.error("account.updateUsername", username="no") == (400, "USERNAME_INVALID")


async def test_update_username_may_change_only_its_case(http: httpx.AsyncClient) -> None:
    name = "lower" + secrets.token_hex(5)
    me = await register(http, name)
    user = await me("account.updateUsername", username=name.upper())
    assert user["username"] == name.upper()
    assert (await me("users.get", username=name))["username"] == name.upper()


# passwords ---------------------------------------------------------------------------------

async def test_change_password_ends_other_sessions(http: httpx.AsyncClient) -> None:
    username = unique_name()
    main = await register(http, username)
    other, _ = await login(http, username)
    assert (await other("updates.getState"))["pts"] == 0
    new_password = "battery staple 42"
    assert await main("account.changePassword", old_password=PASSWORD,
                      new_password=new_password) is True
    assert await other.error("updates.getState") == (401, "AUTH_KEY_INVALID")
    sessions = await main("account.getSessions")
    assert len(sessions) == 1 and sessions[0]["current"] is True
    # the old password no longer logs in (one failed login: the per-IP budget is small)
    r = await login_error(http, username, PASSWORD)
    assert error_of(r) == (401, "PASSWORD_INVALID")
    _, result = await login(http, username, new_password)
    assert result["user"]["id"] == main.id


async def test_change_password_needs_the_current_one(http: httpx.AsyncClient) -> None:
    username = unique_name()
    main = await register(http, username)
    other, _ = await login(http, username)
    assert await main.error("account.changePassword", old_password="not it at all",
                            new_password="battery staple 42") == (401, "PASSWORD_INVALID")
    assert await main.error("account.changePassword", old_password=PASSWORD,
                            new_password="short") == (400, "PASSWORD_TOO_WEAK")
    # nothing changed: the other session lives and the old password still logs in
    assert (await other("updates.getState"))["pts"] == 0
    await login(http, username, PASSWORD)


async def test_change_password_closes_other_websockets(
    server: Server, http: httpx.AsyncClient,
) -> None:
    username = unique_name()
    main = await register(http, username)
    other, _ = await login(http, username)
    async with connect(f"{server.ws_url}/api/v1/ws?token={other.token}") as ws:
        await ws_ready(ws)
        assert await main("account.changePassword", old_password=PASSWORD,
                          new_password="battery staple 42") is True
        with pytest.raises(ConnectionClosed) as closed:
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001


# users.get and users.search ----------------------------------------------------------------

async def test_users_get_by_id_and_username(http: httpx.AsyncClient) -> None:
    name = "Find" + secrets.token_hex(5)
    target = await register(http, name, display_name="Target Person")
    me = await register(http, unique_name())
    by_id = await me("users.get", user_id=target.id)
    assert by_id["id"] == target.id
    assert by_id["username"] == name
    assert by_id["display_name"] == "Target Person"
    assert by_id["is_bot"] is False
    for form in (name, name.lower(), name.upper(), "@" + name, "@" + name.lower()):
        assert (await me("users.get", username=form))["id"] == target.id, form


async def test_users_get_unknown(http: httpx.AsyncClient) -> None:
    me = await register(http, unique_name())
    assert await me.error("users.get", user_id=2**52) == (404, "USER_NOT_FOUND")
    assert await me.error("users.get", username=unique_name("ghost")) == (404, "USER_NOT_FOUND")
    assert await me.error("users.get", username="@" + unique_name("ghost")) == (
        404, "USER_NOT_FOUND")


async def test_users_get_needs_a_token(http: httpx.AsyncClient) -> None:
    r = await http.post("/api/v1/users.get", json={"user_id": 1})
    assert error_of(r) == (401, "AUTH_KEY_INVALID")


async def test_users_search_by_username_prefix(http: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(5)
    target = await register(http, f"srch{tag}xyz", display_name="Nothing Alike")
    me = await register(http, unique_name())
    for query in (f"srch{tag}", f"SRCH{tag}x", f"@srch{tag}"):
        found = await me("users.search", query=query)
        assert [u["id"] for u in found] == [target.id], query
    # a piece from the middle of a username is not a prefix
    assert await me("users.search", query=f"{tag}xyz") == []


async def test_users_search_by_display_name_substring(http: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(5)
    a = await register(http, unique_name(), display_name=f"Anna {tag} Smith")
    b = await register(http, unique_name(), display_name=f"Bob{tag.upper()}son")
    await register(http, unique_name(), display_name="Unrelated")
    me = await register(http, unique_name())
    found = await me("users.search", query=tag)
    assert sorted(u["id"] for u in found) == sorted([a.id, b.id])
    found = await me("users.search", query=f"{tag} sm")
    assert [u["id"] for u in found] == [a.id]


async def test_users_search_like_wildcards_match_literally(http: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(5)
    pct = await register(http, unique_name(), display_name=f"pc{tag}%x")
    await register(http, unique_name(), display_name=f"pc{tag}Zx")
    und = await register(http, unique_name(), display_name=f"us{tag}_y")
    await register(http, unique_name(), display_name=f"us{tag}Qy")
    back = await register(http, unique_name(), display_name=f"bs{tag}\\w")
    await register(http, unique_name(), display_name=f"bs{tag}w")
    me = await register(http, unique_name())
    assert [u["id"] for u in await me("users.search", query=f"pc{tag}%")] == [pct.id]
    assert [u["id"] for u in await me("users.search", query=f"us{tag}_")] == [und.id]
    assert [u["id"] for u in await me("users.search", query=f"bs{tag}\\")] == [back.id]
    # a bare wildcard matches only names that hold it
    for u in await me("users.search", query="%", limit=100):
        assert "%" in u["display_name"] or "%" in (u["username"] or ""), u
    for u in await me("users.search", query="_", limit=100):
        # every generated username holds "_": a prefix match needs it first, which none has
        assert "_" in u["display_name"], u


async def test_users_search_respects_limit(http: httpx.AsyncClient) -> None:
    tag = secrets.token_hex(5)
    for i in range(4):
        await register(http, unique_name(), display_name=f"Lim {tag} {i}")
    me = await register(http, unique_name())
    assert len(await me("users.search", query=tag, limit=2)) == 2
    assert len(await me("users.search", query=tag)) == 4


# failed logins (a server of its own: the limiter is per IP too, and all tests share one IP)

@pytest.fixture
def own_server(server: Server) -> Iterator[Server]:
    srv = Server(server.engine).start()
    yield srv
    srv.drop()


@pytest.fixture
async def own_http(own_server: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=own_server.url, timeout=30) as client:
        yield client


async def test_login_flood_limit(own_http: httpx.AsyncClient) -> None:
    victim = unique_name("victim")
    bystander = unique_name("bystander")
    await register(own_http, victim)
    await register(own_http, bystander)
    statuses = []
    last: httpx.Response | None = None
    for _ in range(6):
        last = await login_error(own_http, victim, "wrong password!")
        statuses.append(error_of(last))
    assert statuses[:5] == [(401, "PASSWORD_INVALID")] * 5
    assert statuses[5] == (429, "FLOOD_WAIT")
    assert last is not None
    error = last.json()["error"]
    assert error["code"] == 429
    assert isinstance(error["retry_after"], int) and error["retry_after"] >= 1
    # while it waits, even the right password is refused (else the limit leaks answers)
    r = await login_error(own_http, victim.upper(), PASSWORD)
    assert error_of(r) == (429, "FLOOD_WAIT")
    # someone else's correct login is not locked out by the attack on the victim
    _, result = await login(own_http, bystander)
    assert result["user"]["username"] == bystander


async def test_wrong_password_and_unknown_user_look_alike(own_http: httpx.AsyncClient) -> None:
    # on a server of its own: failed logins spend from the per-IP budget all tests share
    username = unique_name()
    await register(own_http, username)
    wrong = await login_error(own_http, username, "not the password")
    unknown = await login_error(own_http, unique_name("nobody"), PASSWORD)
    assert error_of(wrong) == error_of(unknown) == (401, "PASSWORD_INVALID")
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
