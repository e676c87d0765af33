"""End to end through the SDK: channels and supergroups, live and after absence.

Each channel's updates come into the client's stream with `channel_id`, in that channel's
own pts order, whether pushed, filled from `updates.getChannelDifference`, or caught up on
after a reconnect; a gap too long to replay turns into one `channel_too_long` item.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from kurir.client import Client
from tests.conftest import unique_name
from tests.server import Server

PASSWORD = "correct horse"
WAIT = 5.0


@pytest.fixture
async def clients(server: Server) -> AsyncIterator[Callable[..., Any]]:
    """Make registered SDK clients (on `server`, or on the one given); all closed at the end."""
    made: list[Client] = []

    async def make(name: str = "User", *, connect: bool = False, on: Server | None = None
                   ) -> Client:
        c = Client((on or server).url)
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


async def channel_items(c: Client, channel_id: int, n: int, *, seen: list[dict[str, Any]]
                        | None = None) -> list[dict[str, Any]]:
    """The next `n` delivered updates of that channel; the others delivered meanwhile are
    appended to `seen` (when given)."""
    out: list[dict[str, Any]] = []
    async with asyncio.timeout(WAIT):
        while len(out) < n:
            update = await c.next_update()
            if update.get("channel_id") == channel_id:
                out.append(update)
            elif seen is not None:
                seen.append(update)
    return out


async def no_more_channel_items(c: Client, channel_id: int) -> None:
    """Nothing more of that channel arrives (a short absence check, not a timing one)."""
    with pytest.raises(TimeoutError):
        await c.wait_for(lambda u: u.get("channel_id") == channel_id, timeout=0.3)


async def new_channel(owner: Client, *, broadcast: bool = True) -> int:
    chat = await owner.call("channels.create", title="News", broadcast=broadcast,
                            username=unique_name("chan"))
    assert chat["type"] == ("channel" if broadcast else "supergroup") and chat["pts"] == 1
    return int(chat["id"])


async def test_posts_reach_connected_subscribers_in_order(clients) -> None:
    owner = await clients("Owner", connect=True)
    subs = [await clients(f"Sub{i}", connect=True) for i in range(2)]
    channel = await new_channel(owner)
    for s in subs:
        await s.call("channels.join", channel_id=channel)
    # posted right after the joins: the subscribers' SDKs are still learning of them
    posts = [await owner.send_message(chat_id=channel, text=f"post {i}") for i in range(5)]
    for s in subs:
        others: list[dict[str, Any]] = []
        got = await channel_items(s, channel, 5, seen=others)
        assert [u["pts"] for u in got] == [2, 3, 4, 5, 6]
        assert [u["message"] for u in got] == posts
        assert all(u["type"] == "new_message" and u["channel_id"] == channel for u in got)
        assert s.channel_pts[channel] == 6
        # the user's own log said they joined; user updates never carry channel_id
        if not others:
            others.append(await s.next_update(timeout=WAIT))
        assert [(u["type"], u["chat_id"], u["status"]) for u in others] == [
            ("chat_member", channel, "member")
        ]
        assert "channel_id" not in others[0]
        await no_more_channel_items(s, channel)
    # the owner's devices follow the channel from its creation
    mine = await channel_items(owner, channel, 6)
    assert [u["pts"] for u in mine] == [1, 2, 3, 4, 5, 6]
    assert mine[0]["message"]["action"]["type"] == "channel_create"


async def test_reconnected_subscriber_gets_exactly_what_it_missed(clients) -> None:
    owner = await clients("Owner")
    away = await clients("Away", connect=True)
    stays = await clients("Stays", connect=True)
    channel = await new_channel(owner)
    for s in (away, stays):
        await s.call("channels.join", channel_id=channel)
    first = await owner.send_message(chat_id=channel, text="first")
    second = await owner.send_message(chat_id=channel, text="second")
    for s in (away, stays):
        assert [u["pts"] for u in await channel_items(s, channel, 2)] == [2, 3]
    await away.disconnect()
    texts = [f"while away {i}" for i in range(30)]
    for t in texts:
        await owner.send_message(chat_id=channel, text=t)
    await owner.call("messages.edit", chat_id=channel, message_id=first["id"], text="first!")
    await owner.call("messages.delete", chat_id=channel, message_ids=[second["id"]],
                     revoke=True)
    live = await channel_items(stays, channel, 32)
    await away.connect()
    got = await channel_items(away, channel, 32)
    for updates in (got, live):
        assert [u["pts"] for u in updates] == list(range(4, 36))
        assert [u["message"]["text"] for u in updates[:30]] == texts
        assert updates[30]["type"] == "edit_message"
        assert updates[30]["message"]["text"] == "first!"
        assert {k: updates[31][k] for k in ("type", "chat_id", "message_ids")} == {
            "type": "delete_messages", "chat_id": channel, "message_ids": [second["id"]]}
    assert got == live
    assert away.channel_pts[channel] == 35
    await no_more_channel_items(away, channel)
    # and it is live again
    after = await owner.send_message(chat_id=channel, text="after")
    assert (await channel_items(away, channel, 1))[0]["message"] == after


async def test_catch_up_without_socket_fetches_the_channels_that_moved(clients) -> None:
    owner = await clients("Owner")
    reader = await clients("Reader")
    channel = await new_channel(owner)
    await reader.call("channels.join", channel_id=channel)
    assert await reader.catch_up() == 1  # the chat_member update; the channel is followed
    assert reader.channel_pts == {channel: 1}
    for i in range(3):
        await owner.send_message(chat_id=channel, text=f"p{i}")
    assert await reader.catch_up() == 3
    got = await channel_items(reader, channel, 3)
    assert [(u["pts"], u["message"]["text"]) for u in got] == [(2, "p0"), (3, "p1"), (4, "p2")]
    assert reader.channel_pts == {channel: 4}
    assert await reader.catch_up() == 0


async def test_subscriber_away_too_long_gets_recent_messages(clients, server: Server) -> None:
    own = Server(server.engine, env={"KURIR_CHANNEL_DIFFERENCE_TOO_LONG": "20"})
    own.start()
    try:
        owner = await clients("Owner", on=own)
        sub = await clients("Sub", connect=True, on=own)
        channel = await new_channel(owner)
        await sub.call("channels.join", channel_id=channel)
        await owner.send_message(chat_id=channel, text="seen")
        assert [u["pts"] for u in await channel_items(sub, channel, 1)] == [2]
        await sub.disconnect()
        texts = [f"missed {i}" for i in range(25)]
        for t in texts:
            await owner.send_message(chat_id=channel, text=t)
        await sub.connect()
        (reload,) = await channel_items(sub, channel, 1)
        assert {k: reload[k] for k in ("type", "channel_id", "pts")} == {
            "type": "channel_too_long", "channel_id": channel, "pts": 27}
        recent = [m["text"] for m in reload["messages"] if m.get("text")]
        assert recent[:25] == texts[::-1]  # newest first, the history to show
        assert sub.channel_pts[channel] == 27
        await no_more_channel_items(sub, channel)
        after = await owner.send_message(chat_id=channel, text="after")
        got = await channel_items(sub, channel, 1)
        assert got[0]["pts"] == 28 and got[0]["message"] == after
    finally:
        own.drop()


async def test_joining_while_connected_starts_pushes_and_leaving_stops_them(clients) -> None:
    owner = await clients("Owner")
    user = await clients("User", connect=True)
    channel = await new_channel(owner)
    for i in range(2):
        await owner.send_message(chat_id=channel, text=f"before {i}")
    await user.call("channels.join", channel_id=channel)
    after = await owner.send_message(chat_id=channel, text="after join")
    got = await channel_items(user, channel, 1)
    assert got[0]["pts"] == 4 and got[0]["message"] == after
    await no_more_channel_items(user, channel)  # the history before the join is not replayed
    assert user.channel_pts == {channel: 4}
    await user.call("channels.leave", channel_id=channel)
    left = await user.wait_for(lambda u: u["type"] == "chat_member", timeout=WAIT)
    assert (left["chat_id"], left["status"]) == (channel, "left")
    await owner.send_message(chat_id=channel, text="after leave")
    await no_more_channel_items(user, channel)
    assert channel not in user.channel_pts


async def test_supergroup_members_get_each_others_messages(clients) -> None:
    owner = await clients("Owner", connect=True)
    members = [await clients(f"M{i}", connect=True) for i in range(2)]
    group = await new_channel(owner, broadcast=False)
    await owner.call("channels.invite", channel_id=group, user_ids=[uid(m) for m in members])
    sent = [await members[0].send_message(chat_id=group, text="from m0"),
            await members[1].send_message(chat_id=group, text="from m1"),
            await owner.send_message(chat_id=group, text="from owner")]
    for c in [owner, *members]:
        async with asyncio.timeout(WAIT):
            got = [await c.wait_for(lambda u: u.get("channel_id") == group
                                    and bool(u.get("message", {}).get("text")))
                   for _ in range(3)]
        assert [u["message"] for u in got] == sent
        assert [u["pts"] for u in got] == [4, 5, 6]  # 2, 3: the invites' service messages
        assert c.channel_pts[group] == 6


async def test_upgraded_group_is_followed_as_a_supergroup(clients) -> None:
    owner = await clients("Owner", connect=True)
    member = await clients("Member", connect=True)
    chat = await owner.call("chats.createGroup", title="Team", user_ids=[uid(member)])
    await owner.call("chats.migrateToSupergroup", chat_id=chat["id"])
    others: list[dict[str, Any]] = []
    (upgraded,) = await channel_items(member, chat["id"], 1, seen=others)
    assert upgraded["pts"] == 1
    assert upgraded["message"]["action"]["type"] == "chat_upgraded"
    sent = await owner.send_message(chat_id=chat["id"], text="in the supergroup")
    (got,) = await channel_items(member, chat["id"], 1, seen=others)
    assert got["pts"] == 2 and got["message"] == sent
    # the user's own log told of the upgrade; the chat's earlier messages were user updates
    while not any(u["type"] == "chat_upgraded" for u in others):
        others.append(await member.next_update(timeout=WAIT))
    assert member.channel_pts == {chat["id"]: 2}
