"""History pages, dialogs and full-text search over the raw HTTP API."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests.conftest import Api
from tests.server import Server


def rid() -> int:
    return secrets.randbits(62) + 1


async def send(api: Api, text: str, **peer: Any) -> dict[str, Any]:
    return await api("messages.send", text=text, random_id=rid(), **peer)  # type: ignore[no-any-return]


async def page(api: Api, chat_id: int, **params: Any) -> list[int]:
    got = await api("messages.getHistory", chat_id=chat_id, **params)
    return [m["id"] for m in got["messages"]]


async def search(api: Api, query: str, **params: Any) -> list[str]:
    """The texts found, as returned (newest first)."""
    got = await api("messages.search", query=query, **params)
    return [m["text"] for m in got["messages"]]


async def dialogs(api: Api, **params: Any) -> list[dict[str, Any]]:
    return await api("messages.getDialogs", **params)  # type: ignore[no-any-return]


async def fill(api: Api, chat_id: int, count: int) -> None:
    """`count` messages into a chat, a few requests at a time."""
    for start in range(0, count, 20):
        await asyncio.gather(*(send(api, f"n{i}", chat_id=chat_id)
                               for i in range(start, min(start + 20, count))))


# history ------------------------------------------------------------------------------------

async def test_history_pages_both_ways(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    chat_id = (await send(alice, "n0", user_id=bob.id))["chat_id"]
    await fill(alice, chat_id, 119)

    # newest first, 50 by default
    assert await page(bob, chat_id) == list(range(120, 70, -1))
    assert await page(bob, chat_id, limit=100) == list(range(120, 20, -1))
    assert await page(bob, chat_id, limit=1) == [120]

    # walking down with offset_id returns every id once
    seen: list[int] = []
    offset = 0
    for _ in range(10):
        ids = await page(bob, chat_id, offset_id=offset, limit=50)
        if not ids:
            break
        assert len(ids) <= 50
        seen += ids
        offset = ids[-1]
    assert seen == list(range(120, 0, -1))
    assert await page(bob, chat_id, offset_id=1) == []
    assert await page(bob, chat_id, offset_id=7, limit=3) == [6, 5, 4]

    # after_id: the page just above it, still newest first
    assert await page(bob, chat_id, after_id=10, limit=5) == [15, 14, 13, 12, 11]
    assert await page(bob, chat_id, after_id=100) == list(range(120, 100, -1))
    assert await page(bob, chat_id, after_id=120) == []
    assert await page(bob, chat_id, after_id=20) == list(range(70, 20, -1))
    # and walking up with it also returns every id once
    up, after = [1], 1
    for _ in range(10):
        ids = await page(bob, chat_id, after_id=after, limit=50)
        if not ids:
            break
        assert len(ids) <= 50
        up = ids + up
        after = ids[0]
    assert up == list(range(120, 0, -1))

    # the limit is 1..100
    for bad in (0, 101, -1):
        assert await bob.error("messages.getHistory", chat_id=chat_id,
                               limit=bad) == (400, "BAD_REQUEST"), bad
    assert await bob.error("messages.getHistory", chat_id=chat_id,
                           offset_id="x") == (400, "BAD_REQUEST")

    # messages carry what the contract says
    [top] = (await bob("messages.getHistory", chat_id=chat_id, limit=1))["messages"]
    assert {"chat_id", "id", "from_id", "date", "text"} <= set(top)
    assert (top["chat_id"], top["from_id"]) == (chat_id, alice.id)


async def test_history_skips_deleted_and_hidden(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    chat_id = (await send(alice, "n0", user_id=bob.id))["chat_id"]
    await fill(alice, chat_id, 29)
    await bob("messages.delete", chat_id=chat_id, message_ids=list(range(5, 15)), revoke=False)
    await alice("messages.delete", chat_id=chat_id, message_ids=[20, 21], revoke=True)
    expected_bob = [i for i in range(30, 0, -1) if not (5 <= i < 15 or i in (20, 21))]
    # pages stay full: hidden rows do not eat into the limit
    assert await page(bob, chat_id, limit=10) == expected_bob[:10]
    seen: list[int] = []
    offset = 0
    for _ in range(10):
        ids = await page(bob, chat_id, offset_id=offset, limit=7)
        if not ids:
            break
        seen += ids
        offset = ids[-1]
    assert seen == expected_bob
    assert await page(bob, chat_id, after_id=4, limit=3) == [17, 16, 15]
    assert await page(alice, chat_id, limit=100) == [i for i in range(30, 0, -1)
                                                     if i not in (20, 21)]


async def test_history_of_a_group_starts_at_joining(make_user) -> None:
    owner, bob, late = await make_user("Owner"), await make_user("Bob"), await make_user("Late")
    chat = await owner("chats.createGroup", title="Club", user_ids=[bob.id])
    gid = chat["id"]
    for i in range(3):
        await send(bob, f"early {i}", chat_id=gid)  # ids 2, 3, 4
    await owner("chats.addMember", chat_id=gid, user_id=late.id)  # service message 5
    await send(bob, "welcome", chat_id=gid)  # 6
    assert await page(late, gid) == [6, 5]
    assert await page(late, gid, offset_id=5) == []
    assert await page(bob, gid) == [6, 5, 4, 3, 2, 1]
    got = await late("messages.getMessages", chat_id=gid, message_ids=[2, 3, 6])
    assert [m["id"] for m in got["messages"]] == [6]
    assert await search(late, "early") == []
    assert await search(bob, "early") == ["early 2", "early 1", "early 0"]


# dialogs ------------------------------------------------------------------------------------

def by_chat(ds: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    return {d["chat"]["id"]: d for d in ds}


async def test_dialogs_unread_counts_and_last_message(make_user) -> None:
    alice, bob, carol = await make_user("Alice"), await make_user("Bob"), await make_user("Carol")
    ab = [await send(bob, f"bob {i}", user_id=alice.id) for i in range(3)]
    ac = [await send(carol, "carol 0", user_id=alice.id)]
    gid = (await carol("chats.createGroup", title="Trio", user_ids=[alice.id, bob.id]))["id"]
    g = await send(bob, "in the group", chat_id=gid)
    ds = by_chat(await dialogs(alice))
    assert set(ds) == {ab[0]["chat_id"], ac[0]["chat_id"], gid}
    d = ds[ab[0]["chat_id"]]
    assert (d["chat"]["type"], d["chat"]["title"], d["chat"]["peer_id"]) == (
        "private", "Bob", bob.id)
    assert d["last_message"] == ab[-1] and d["unread_count"] == 3
    assert (ds[ac[0]["chat_id"]]["last_message"], ds[ac[0]["chat_id"]]["unread_count"]) == (
        ac[0], 1)
    assert ds[gid]["chat"]["title"] == "Trio" and ds[gid]["chat"]["type"] == "group"
    assert ds[gid]["last_message"] == g and ds[gid]["unread_count"] == 2
    # the sender's own view: nothing unread
    assert by_chat(await dialogs(bob))[ab[0]["chat_id"]]["unread_count"] == 0
    # the other side's title is the caller's peer
    assert by_chat(await dialogs(bob))[ab[0]["chat_id"]]["chat"]["title"] == "Alice"

    await alice("messages.read", chat_id=ab[0]["chat_id"], max_id=ab[1]["id"])
    await alice("messages.read", chat_id=gid, max_id=g["id"])
    ds = by_chat(await dialogs(alice))
    assert ds[ab[0]["chat_id"]]["unread_count"] == 1
    assert ds[gid]["unread_count"] == 0
    assert ds[ac[0]["chat_id"]]["unread_count"] == 1
    # a message hidden or deleted is not unread any more
    await alice("messages.delete", chat_id=ac[0]["chat_id"], message_ids=[1], revoke=False)
    await bob("messages.delete", chat_id=ab[0]["chat_id"], message_ids=[3], revoke=True)
    ds = by_chat(await dialogs(alice))
    assert ds[ac[0]["chat_id"]]["unread_count"] == 0
    assert ds[ab[0]["chat_id"]]["unread_count"] == 0


async def test_dialog_last_message_respects_delete_for_me(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    m1 = await send(alice, "first", user_id=bob.id)
    m2 = await send(bob, "second", user_id=alice.id)
    chat_id = m1["chat_id"]
    await alice("messages.delete", chat_id=chat_id, message_ids=[m2["id"]], revoke=False)
    assert by_chat(await dialogs(alice))[chat_id]["last_message"] == m1
    assert by_chat(await dialogs(bob))[chat_id]["last_message"] == m2
    await alice("messages.delete", chat_id=chat_id, message_ids=[m1["id"]], revoke=False)
    d = by_chat(await dialogs(alice))[chat_id]
    assert d["last_message"] is None and d["unread_count"] == 0
    # deleted for everyone: the previous one again, for both
    m3 = await send(bob, "third", user_id=alice.id)
    m4 = await send(bob, "fourth", user_id=alice.id)
    await bob("messages.delete", chat_id=chat_id, message_ids=[m4["id"]], revoke=True)
    assert by_chat(await dialogs(alice))[chat_id]["last_message"] == m3
    assert by_chat(await dialogs(bob))[chat_id]["last_message"] == m3


async def test_dialogs_most_recent_activity_first(make_user) -> None:
    """The order follows activity, even when it all happens within one second."""
    alice = await make_user("Alice")
    peers = [await make_user(f"Peer {i}") for i in range(3)]
    chats = [(await send(alice, "hi", user_id=p.id))["chat_id"] for p in peers]
    assert [d["chat"]["id"] for d in await dialogs(alice)] == chats[::-1]
    # new activity in the oldest dialog brings it to the top
    await send(peers[0], "back again", user_id=alice.id)
    assert [d["chat"]["id"] for d in await dialogs(alice)] == [chats[0], chats[2], chats[1]]
    await send(alice, "and you", user_id=peers[1].id)
    assert [d["chat"]["id"] for d in await dialogs(alice)] == [chats[1], chats[0], chats[2]]
    assert [d["chat"]["id"] for d in await dialogs(alice, limit=2)] == [chats[1], chats[0]]
    assert await alice.error("messages.getDialogs", limit=101) == (400, "BAD_REQUEST")


async def test_dialogs_page_by_offset_chat_id(make_user) -> None:
    """Paging is exact even when every dialog's last message falls in the same second."""
    alice = await make_user("Alice")
    peers = [await make_user(f"Peer {i}") for i in range(5)]
    chats = [(await send(p, "hi", user_id=alice.id))["chat_id"] for p in peers]
    expected = chats[::-1]
    seen: list[int] = []
    offset = 0
    for _ in range(10):
        page = await dialogs(alice, offset_chat_id=offset, limit=2)
        if not page:
            break
        seen += [d["chat"]["id"] for d in page]
        offset = page[-1]["chat"]["id"]
    assert seen == expected
    assert await dialogs(alice, offset_chat_id=expected[-1]) == []


# search -------------------------------------------------------------------------------------

async def test_search_words_prefixes_and_case(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    texts = ["hello world", "Saya mau pesan Kopi susu gula aren", "HELLO again, friends",
             "Привет, как дела?", "nothing to see"]
    for t in texts:
        await send(alice, t, user_id=bob.id)
    assert await search(bob, "hello") == ["HELLO again, friends", "hello world"]
    assert await search(bob, "hel") == ["HELLO again, friends", "hello world"]
    assert await search(bob, "HeLLo WoR") == ["hello world"]
    assert await search(bob, "kopi") == ["Saya mau pesan Kopi susu gula aren"]
    assert await search(bob, "KOPI susu") == ["Saya mau pesan Kopi susu gula aren"]
    assert await search(bob, "kopi teh") == []  # every word must match
    assert await search(bob, "привет") == ["Привет, как дела?"]
    assert await search(bob, "ДЕЛ") == ["Привет, как дела?"]
    assert await search(bob, "friends!") == ["HELLO again, friends"]
    assert await search(bob, "orld") == []  # prefixes, not infixes
    assert await search(bob, "hello", limit=1) == ["HELLO again, friends"]
    got = await bob("messages.search", query="kopi")
    [m] = got["messages"]
    assert (m["from_id"], m["id"]) == (alice.id, 2)
    assert await bob.error("messages.search", query="hello",
                           limit=101) == (400, "BAD_REQUEST")


async def test_search_diacritics_per_engine(make_user, server: Server) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    await send(alice, "un café au lait", user_id=bob.id)
    await send(alice, "cafe noir", user_id=bob.id)
    # case folding works beyond ASCII on both engines
    assert await search(bob, "CAFÉ") == (
        ["cafe noir", "un café au lait"] if server.engine == "sqlite" else ["un café au lait"])
    if server.engine == "sqlite":
        # FTS5 unicode61 with remove_diacritics: accents are ignored both ways
        assert await search(bob, "cafe") == ["cafe noir", "un café au lait"]
        assert await search(bob, "café") == ["cafe noir", "un café au lait"]
    else:
        # PostgreSQL's 'simple' configuration keeps accents: "cafe" and "café" differ
        assert await search(bob, "cafe") == ["cafe noir"]
        assert await search(bob, "café") == ["un café au lait"]


async def test_search_finds_words_in_dotted_tokens(make_user) -> None:
    """A domain or an address typed back as it was written finds its message."""
    alice, bob = await make_user("Alice"), await make_user("Bob")
    await send(alice, "the docs are at kurir.dev, or write to help@example.org", user_id=bob.id)
    for query in ("kurir.dev", "example.org", "help@example.org", "docs"):
        assert await search(bob, query) == [
            "the docs are at kurir.dev, or write to help@example.org"], query


async def test_search_only_what_the_user_may_see(make_user) -> None:
    alice, bob, carol, eve = [await make_user(n) for n in ("Alice", "Bob", "Carol", "Eve")]
    ab = await send(alice, "secret plan alpha", user_id=bob.id)
    ac = await send(alice, "secret plan beta", user_id=carol.id)
    gid = (await alice("chats.createGroup", title="Plans", user_ids=[bob.id]))["id"]
    await send(bob, "secret plan gamma", chat_id=gid)
    assert await search(bob, "secret") == ["secret plan gamma", "secret plan alpha"]
    assert await search(carol, "secret") == ["secret plan beta"]
    assert await search(eve, "secret") == []
    assert await search(alice, "plan") == [
        "secret plan gamma", "secret plan beta", "secret plan alpha"]
    # the chat_id filter
    assert await search(alice, "secret", chat_id=ab["chat_id"]) == ["secret plan alpha"]
    assert await search(alice, "secret", chat_id=gid) == ["secret plan gamma"]
    assert await eve.error("messages.search", query="secret",
                           chat_id=ac["chat_id"]) == (404, "CHAT_NOT_FOUND")
    # a member who left no longer finds the group's messages
    await bob("chats.leave", chat_id=gid)
    assert await search(bob, "secret") == ["secret plan alpha"]
    assert await bob.error("messages.search", query="secret",
                           chat_id=gid) == (403, "CHAT_FORBIDDEN")


async def test_search_skips_deleted_and_hidden_and_follows_edits(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    gone = await send(alice, "rendezvous at noon", user_id=bob.id)
    hidden = await send(alice, "rendezvous at dusk", user_id=bob.id)
    moved = await send(alice, "meet at the station", user_id=bob.id)
    chat_id = gone["chat_id"]
    await alice("messages.delete", chat_id=chat_id, message_ids=[gone["id"]], revoke=True)
    await bob("messages.delete", chat_id=chat_id, message_ids=[hidden["id"]], revoke=False)
    assert await search(bob, "rendezvous") == []
    assert await search(alice, "rendezvous") == ["rendezvous at dusk"]
    assert await search(alice, "noon") == []
    await alice("messages.edit", chat_id=chat_id, message_id=moved["id"],
                text="meet at the harbour")
    for api in (alice, bob):
        assert await search(api, "harbour") == ["meet at the harbour"]
        assert await search(api, "station") == []
        assert await search(api, "meet") == ["meet at the harbour"]


async def test_search_query_without_words(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    await send(alice, "?!", user_id=bob.id)
    for query in ("", "   ", "!!!", "?!", "- . ,"):
        assert await bob.error("messages.search", query=query) == (400, "QUERY_TOO_SHORT"), query


async def test_search_query_of_underscores_has_no_words(make_user) -> None:
    """Neither engine indexes "_" as part of a word, so "___" is as wordless as "!!!"."""
    alice, bob = await make_user("Alice"), await make_user("Bob")
    await send(alice, "snake_case ___ here", user_id=bob.id)
    assert await bob.error("messages.search", query="___") == (400, "QUERY_TOO_SHORT")
    # while an identifier with underscores still finds its message
    assert await search(bob, "snake_case") == ["snake_case ___ here"]
