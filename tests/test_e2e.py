"""End to end through the SDK: several users, HTTP and WebSocket, live and after absence."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kurir.client import Client, KurirError
from tests.conftest import unique_name
from tests.server import Server

PASSWORD = "correct horse"


@pytest.fixture
async def clients(server: Server) -> AsyncIterator[Callable[..., Any]]:
    """Make registered SDK clients; all are closed at the end of the test."""
    made: list[Client] = []

    async def make(name: str = "User", *, connect: bool = False) -> Client:
        c = Client(server.url)
        made.append(c)
        await c.register(unique_name(), PASSWORD, name)
        if connect:
            await c.connect()
        return c

    yield make
    for c in made:
        await c.close()


def uid(c: Client) -> int:
    assert c.user is not None
    return int(c.user["id"])


async def test_live_private_chat_both_ways(clients) -> None:
    alice = await clients("Alice", connect=True)
    bob = await clients("Bob", connect=True)
    sent = await alice.send_message(user_id=uid(bob), text="hi Bob")
    got = await bob.next_update(timeout=5)
    assert got["type"] == "new_message" and got["message"] == sent and got["pts"] == 1
    # alice's other devices learn of her own message too: it is in her log
    mine = await alice.next_update(timeout=5)
    assert mine["message"] == sent
    reply = await bob.call("messages.send", chat_id=sent["chat_id"], text="hi Alice",
                           random_id=1, reply_to=sent["id"])
    got = await alice.next_update(timeout=5)
    assert got["message"]["reply_to"] == sent["id"] and got["message"]["id"] == reply["id"] == 2


async def test_offline_device_catches_up_exactly(clients, server: Server) -> None:
    alice = await clients("Alice", connect=True)
    bob = await clients("Bob", connect=True)
    first = await alice.send_message(user_id=uid(bob), text="before")
    assert (await bob.next_update(timeout=5))["message"]["id"] == first["id"]
    await bob.disconnect()
    chat_id = first["chat_id"]
    # meanwhile: new messages, an edit, a delete, a reaction
    texts = [f"while away {i}" for i in range(30)]
    for t in texts:
        await alice.send_message(chat_id=chat_id, text=t)
    await alice.call("messages.edit", chat_id=chat_id, message_id=first["id"], text="before!")
    await alice.call("messages.delete", chat_id=chat_id, message_ids=[2], revoke=True)
    # bob's second device never connected: getDifference from 0 gives everything, in order
    async with Client(server.url) as phone:
        await phone.login(bob.user["username"], PASSWORD)
        phone.pts = 0
        assert await phone.catch_up() == 33
    await bob.connect()
    got = [await bob.next_update(timeout=5) for _ in range(32)]
    assert [u["pts"] for u in got] == list(range(2, 34))
    assert [u["message"]["text"] for u in got[:30]] == texts
    assert got[30]["type"] == "edit_message" and got[30]["message"]["text"] == "before!"
    assert got[31] == {"pts": 33, "type": "delete_messages", "chat_id": chat_id,
                       "message_ids": [2]}
    with pytest.raises(TimeoutError):
        await bob.next_update(timeout=0.3)


async def test_gap_in_live_stream_is_filled_from_the_log(clients, server: Server) -> None:
    """A client whose socket missed pushes (it was away) resumes with ?pts= and gets them."""
    alice = await clients("Alice")
    bob = await clients("Bob", connect=True)
    for i in range(5):
        await alice.send_message(user_id=uid(bob), text=f"m{i}")
    got = [await bob.next_update(timeout=5) for _ in range(5)]
    assert [u["pts"] for u in got] == [1, 2, 3, 4, 5]
    # a fresh client that believes it saw pts 2 gets 3, 4, 5 replayed, then live ones
    async with Client(server.url) as late:
        await late.login(bob.user["username"], PASSWORD)
        late.pts = 2
        await late.connect()
        await alice.send_message(user_id=uid(bob), text="m5")
        got = [await late.next_update(timeout=5) for _ in range(4)]
        assert [u["pts"] for u in got] == [3, 4, 5, 6]
        assert got[-1]["message"]["text"] == "m5"


async def test_group_live_to_every_member(clients) -> None:
    owner = await clients("Owner", connect=True)
    members = [await clients(f"M{i}", connect=True) for i in range(4)]
    chat = await owner.call("chats.createGroup", title="Team",
                            user_ids=[uid(m) for m in members])
    for m in members:
        created = await m.next_update(timeout=5)
        assert created["message"]["action"]["type"] == "chat_create"
    await owner.next_update(timeout=5)
    sent = await members[0].send_message(chat_id=chat["id"], text="hello team")
    for c in [owner, *members]:
        assert (await c.next_update(timeout=5))["message"] == sent
    # a removed member gets the chat_member update, and nothing after it
    await owner.call("chats.removeMember", chat_id=chat["id"], user_id=uid(members[3]))
    gone = await members[3].wait_for(lambda u: u["type"] == "chat_member", timeout=5)
    assert gone["status"] == "kicked" and gone["user_id"] == uid(members[3])
    await owner.send_message(chat_id=chat["id"], text="after removal")
    with pytest.raises(TimeoutError):
        await members[3].wait_for(lambda u: u["type"] == "new_message", timeout=0.5)
    with pytest.raises(KurirError) as e:
        await members[3].get_history(chat["id"])
    assert e.value.type == "CHAT_FORBIDDEN"


async def test_terminated_session_is_cut_off(clients, server: Server) -> None:
    alice = await clients("Alice", connect=True)
    async with Client(server.url) as laptop:
        await laptop.login(alice.user["username"], PASSWORD, device="laptop")
        await laptop.connect()
        sessions = await alice.call("account.getSessions")
        assert {s["device"] for s in sessions} >= {"laptop"}
        assert [s["current"] for s in sessions].count(True) == 1
        await alice.call("account.terminateSession", session_id=laptop.session_id)
        for _ in range(100):
            if laptop.session_ended:
                break
            await asyncio.sleep(0.05)
        assert laptop.session_ended
        with pytest.raises(KurirError) as e:
            await laptop.call("users.get", user_id=uid(alice))
        assert e.value.type == "AUTH_KEY_INVALID"
    assert alice.connected and not alice.session_ended


async def test_typing_and_presence_are_pushed_not_logged(clients) -> None:
    alice = await clients("Alice", connect=True)
    bob = await clients("Bob", connect=True)
    sent = await alice.send_message(user_id=uid(bob), text="hey")
    await bob.next_update(timeout=5)
    pts_before = (await bob.get_state())["pts"]
    await alice.call("messages.setTyping", chat_id=sent["chat_id"])
    event = await bob.next_event(timeout=5)
    while event["type"] != "typing":
        event = await bob.next_event(timeout=5)
    assert event == {"type": "typing", "chat_id": sent["chat_id"], "user_id": uid(alice),
                     "action": "typing"}
    assert (await bob.get_state())["pts"] == pts_before
    assert (await bob.call("users.get", user_id=uid(alice))).get("online") is True
    await alice.disconnect()

    async def offline() -> dict[str, Any]:
        while True:
            ev = await bob.next_event(timeout=5)
            if ev["type"] == "user_status" and ev["user_id"] == uid(alice) and not ev["online"]:
                return ev

    ev = await offline()
    assert ev["last_seen"] > 0
    user = await bob.call("users.get", user_id=uid(alice))
    assert "online" not in user and user["last_seen"] == ev["last_seen"]
    assert (await bob.get_state())["pts"] == pts_before


async def test_calls_over_the_socket_and_concurrent(clients) -> None:
    alice = await clients("Alice", connect=True)
    bob = await clients("Bob", connect=True)
    results = await asyncio.gather(*[
        alice.send_message(user_id=uid(bob), text=f"n{i}") for i in range(40)
    ])
    assert sorted(m["id"] for m in results) == list(range(1, 41))
    got = [await bob.next_update(timeout=5) for _ in range(40)]
    assert [u["pts"] for u in got] == list(range(1, 41))
    assert [u["message"]["id"] for u in got] == list(range(1, 41))
    with pytest.raises(KurirError) as e:
        await alice.call("messages.send", user_id=uid(bob), text="", random_id=5)
    assert e.value.type == "MESSAGE_EMPTY" and e.value.code == 400
    # the socket is still good after an error
    assert (await alice.call("updates.getState"))["pts"] == 40


async def test_reconnects_after_server_restart(server: Server) -> None:
    """The SDK's socket comes back by itself and fills what it missed (own server)."""
    own = Server(server.engine)
    own.start()
    try:
        async with Client(own.url) as alice, Client(own.url) as bob:
            await alice.register(unique_name(), PASSWORD, "Alice")
            await bob.register(unique_name(), PASSWORD, "Bob")
            await bob.connect()
            await alice.send_message(user_id=uid(bob), text="one")
            assert (await bob.next_update(timeout=5))["pts"] == 1
            own.stop()
            with contextlib.suppress(KurirError):
                await alice.send_message(user_id=uid(bob), text="lost?")
            port = own.port
            own.proc = None
            own.port = port
            own.start()
            await alice.send_message(user_id=uid(bob), text="two")
            got = await bob.wait_for(lambda u: u["message"]["text"] == "two", timeout=15)
            assert got["pts"] == 2
    finally:
        own.drop()
