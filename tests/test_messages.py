"""Messages over the raw HTTP API: text and entities, replies, forwards, edits, deletes,
reactions, read receipts, pins, per-chat numbering and idempotent sends (random_id)."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from tests.conftest import Api


def rid() -> int:
    """A fresh client random_id (63-bit, as Telegram's)."""
    return secrets.randbits(62) + 1


async def send(api: Api, text: str, **peer: Any) -> dict[str, Any]:
    return await api("messages.send", text=text, random_id=rid(), **peer)  # type: ignore[no-any-return]


async def updates_after(api: Api, pts: int) -> list[dict[str, Any]]:
    """Every update of the user above `pts` (one page is plenty for one test)."""
    diff = await api("updates.getDifference", pts=pts)
    assert diff["more"] is False
    return diff["updates"]  # type: ignore[no-any-return]


async def pts_of(api: Api) -> int:
    return int((await api("updates.getState"))["pts"])


async def history(api: Api, chat_id: int, **params: Any) -> list[dict[str, Any]]:
    return (await api("messages.getHistory", chat_id=chat_id, **params))["messages"]  # type: ignore[no-any-return]


async def history_ids(api: Api, chat_id: int) -> list[int]:
    return [m["id"] for m in await history(api, chat_id, limit=100)]


async def dialog_of(api: Api, chat_id: int) -> dict[str, Any]:
    dialogs = await api("messages.getDialogs", limit=100)
    found = [d for d in dialogs if d["chat"]["id"] == chat_id]
    assert len(found) == 1, dialogs
    return found[0]  # type: ignore[no-any-return]


async def group_of(owner: Api, *members: Api) -> int:
    chat = await owner("chats.createGroup", title="Team", user_ids=[m.id for m in members])
    return int(chat["id"])


# text and entities -------------------------------------------------------------------------

async def test_text_length_bounds(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    longest = "x" * 4096
    msg = await send(alice, longest, user_id=bob.id)
    assert msg["text"] == longest
    # 4096 characters, not bytes or UTF-16 units: 4096 emoji are fine too
    emoji = "😀" * 4096
    assert (await send(alice, emoji, user_id=bob.id))["text"] == emoji
    assert await alice.error("messages.send", user_id=bob.id, text="x" * 4097,
                             random_id=rid()) == (400, "MESSAGE_TOO_LONG")
    for empty in ("", "   ", "\n\t "):
        assert await alice.error("messages.send", user_id=bob.id, text=empty,
                                 random_id=rid()) == (400, "MESSAGE_EMPTY")
    # nothing of the refused sends was stored
    assert await history_ids(bob, msg["chat_id"]) == [2, 1]


async def test_entities_round_trip_with_utf16_offsets(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    # "👍" is one character but two UTF-16 code units, so "bold" starts at offset 3
    text = "👍 bold 🔥italic under strike code\nprint(1) link @bob"

    def at(word: str) -> int:
        return len(text[: text.index(word)].encode("utf-16-le")) // 2

    assert at("bold") == 3
    entities = [  # in text order, as Telegram lists them
        {"type": "bold", "offset": 3, "length": 4},
        # "🔥italic": the 🔥 is outside the BMP too (2 units), so the entity is 8 units long
        {"type": "italic", "offset": at("🔥italic"), "length": 8},
        {"type": "underline", "offset": at("under"), "length": 5},
        {"type": "strikethrough", "offset": at("strike"), "length": 6},
        {"type": "code", "offset": at("code"), "length": 4},
        {"type": "pre", "offset": at("print"), "length": 8, "language": "python"},
        {"type": "text_link", "offset": at("link"), "length": 4, "url": "https://example.com/a"},
        {"type": "mention", "offset": at("@bob"), "length": 4},
    ]
    assert [e["offset"] for e in entities] == sorted(e["offset"] for e in entities)
    msg = await alice("messages.send", user_id=bob.id, text=text, random_id=rid(),
                      entities=entities)
    assert msg["text"] == text
    assert msg["entities"] == entities
    # stored exactly: the other side reads the same text and entities back
    [seen] = await history(bob, msg["chat_id"])
    assert seen["text"] == text and seen["entities"] == entities
    [update] = [u for u in await updates_after(bob, 0) if u["type"] == "new_message"]
    assert update["message"]["entities"] == entities


async def test_entities_are_measured_in_utf16_units(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    text = "👍 bold"  # 7 UTF-16 units, 6 code points
    ok = await alice("messages.send", user_id=bob.id, text=text, random_id=rid(),
                     entities=[{"type": "bold", "offset": 3, "length": 4}])
    assert ok["entities"] == [{"type": "bold", "offset": 3, "length": 4}]
    # counted in code points "bold" would start at 2: offset 4 runs one unit past the end
    for bad in ({"type": "bold", "offset": 4, "length": 4},
                {"type": "bold", "offset": 0, "length": 8},
                {"type": "nonsense", "offset": 0, "length": 1},
                {"type": "text_link", "offset": 3, "length": 4},
                {"type": "text_link", "offset": 3, "length": 4, "url": "javascript:alert(1)"},
                {"type": "bold", "offset": 3, "length": 4, "url": "https://example.com"},
                {"type": "italic", "offset": 0, "length": 2, "language": "python"}):
        assert await alice.error("messages.send", user_id=bob.id, text=text, random_id=rid(),
                                 entities=[bad]) == (400, "ENTITIES_INVALID"), bad
    # partially overlapping entities are refused, nested ones are fine
    overlap = [{"type": "bold", "offset": 0, "length": 5},
               {"type": "italic", "offset": 3, "length": 4}]
    assert await alice.error("messages.send", user_id=bob.id, text=text, random_id=rid(),
                             entities=overlap) == (400, "ENTITIES_INVALID")
    nested = [{"type": "bold", "offset": 0, "length": 7},
              {"type": "italic", "offset": 3, "length": 4}]
    msg = await alice("messages.send", user_id=bob.id, text=text, random_id=rid(),
                      entities=nested)
    assert msg["entities"] == nested
    assert await history_ids(bob, msg["chat_id"]) == [2, 1]


# numbering and idempotency ----------------------------------------------------------------

async def test_every_chat_numbers_its_messages_from_one(make_user) -> None:
    alice, bob, carol = await make_user("Alice"), await make_user("Bob"), await make_user("Carol")
    ab = [await send(alice if i % 2 else bob, f"ab {i}", **(
        {"user_id": bob.id} if i % 2 else {"user_id": alice.id})) for i in range(4)]
    ac = [await send(alice, f"ac {i}", user_id=carol.id) for i in range(3)]
    assert [m["id"] for m in ab] == [1, 2, 3, 4]
    assert len({m["chat_id"] for m in ab}) == 1
    assert [m["id"] for m in ac] == [1, 2, 3]
    assert ac[0]["chat_id"] != ab[0]["chat_id"]
    # a group: its creation is service message 1, the first text is 2
    gid = await group_of(alice, bob, carol)
    g = [await send(member, "hi", chat_id=gid) for member in (bob, carol, alice)]
    assert [m["id"] for m in g] == [2, 3, 4]
    assert await history_ids(carol, gid) == [4, 3, 2, 1]


async def test_concurrent_sends_get_dense_ids(make_user) -> None:
    """Both sides writing first at once: one private chat, ids 1..n without gaps."""
    alice, bob = await make_user("Alice"), await make_user("Bob")
    sent = await asyncio.gather(*(
        send(a, f"race {i}", user_id=b.id)
        for i, (a, b) in enumerate([(alice, bob), (bob, alice)] * 8)
    ))
    assert len({m["chat_id"] for m in sent}) == 1
    assert sorted(m["id"] for m in sent) == list(range(1, 17))
    chat_id = sent[0]["chat_id"]
    assert await history_ids(alice, chat_id) == list(range(16, 0, -1))
    texts = {m["id"]: m["text"] for m in await history(bob, chat_id, limit=100)}
    assert texts == {m["id"]: m["text"] for m in sent}
    news = [u for u in await updates_after(bob, 0) if u["type"] == "new_message"]
    assert sorted(u["message"]["id"] for u in news) == list(range(1, 17))


async def test_same_random_id_returns_the_first_message(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    r = rid()
    first = await alice("messages.send", user_id=bob.id, text="once", random_id=r)
    again = await alice("messages.send", user_id=bob.id, text="once", random_id=r)
    assert again == first
    # a retry that differs (say, a client bug) still returns the first and stores nothing
    other = await alice("messages.send", user_id=bob.id, text="twice?", random_id=r)
    assert other == first
    assert await history_ids(bob, first["chat_id"]) == [1]
    news = [u for u in await updates_after(bob, 0) if u["type"] == "new_message"]
    assert [u["message"] for u in news] == [first]
    mine = [u for u in await updates_after(alice, 0) if u["type"] == "new_message"]
    assert len(mine) == 1
    # the next send takes the next number: the retries used none
    assert (await send(alice, "next", user_id=bob.id))["id"] == 2
    # random_id is per sender: Bob may use the same number for a message of his own
    bobs = await bob("messages.send", user_id=alice.id, text="mine", random_id=r)
    assert (bobs["id"], bobs["from_id"]) == (3, bob.id)


async def test_concurrent_retries_with_one_random_id_store_one_message(make_user) -> None:
    """A client that times out and retries may race its own first attempt: every attempt
    gets the one message, none an error (three rounds, to give the race its chances)."""
    alice, bob = await make_user("Alice"), await make_user("Bob")
    chat_id = (await send(alice, "start", user_id=bob.id))["chat_id"]
    for round_ in range(3):
        r = rid()
        results = await asyncio.gather(*(
            alice.raw("messages.send", {"chat_id": chat_id, "text": "racing", "random_id": r})
            for _ in range(12)
        ))
        bodies = [res.json() for res in results]
        assert [b for b in bodies if not b["ok"]] == []
        assert {b["result"]["id"] for b in bodies} == {round_ + 2}
    assert await history_ids(bob, chat_id) == [4, 3, 2, 1]
    news = [u for u in await updates_after(bob, 0) if u["type"] == "new_message"]
    assert [u["message"]["id"] for u in news] == [1, 2, 3, 4]


# replies and forwards ---------------------------------------------------------------------

async def test_reply_to(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    q = await send(alice, "question?", user_id=bob.id)
    a = await bob("messages.send", chat_id=q["chat_id"], text="answer", random_id=rid(),
                  reply_to=q["id"])
    assert a["reply_to"] == q["id"]
    assert (await history(alice, q["chat_id"]))[0]["reply_to"] == q["id"]
    assert "reply_to" not in q
    assert await bob.error("messages.send", chat_id=q["chat_id"], text="to nothing",
                           random_id=rid(), reply_to=99) == (400, "MESSAGE_ID_INVALID")
    # a message deleted for everyone can no longer be replied to
    await alice("messages.delete", chat_id=q["chat_id"], message_ids=[q["id"]], revoke=True)
    assert await bob.error("messages.send", chat_id=q["chat_id"], text="late",
                           random_id=rid(), reply_to=q["id"]) == (400, "MESSAGE_ID_INVALID")
    assert await history_ids(alice, q["chat_id"]) == [2]


async def test_forward_keeps_original_sender_and_date(make_user) -> None:
    alice, bob, carol, dave = [await make_user(n) for n in ("Alice", "Bob", "Carol", "Dave")]
    ents = [{"type": "bold", "offset": 0, "length": 4}]
    orig = await alice("messages.send", user_id=bob.id, text="news flash", random_id=rid(),
                       entities=ents)
    [fwd] = await bob("messages.forward", from_chat_id=orig["chat_id"],
                      message_ids=[orig["id"]], user_id=carol.id)
    assert fwd["from_id"] == bob.id
    assert fwd["text"] == "news flash" and fwd["entities"] == ents
    header = {"from_id": alice.id, "date": orig["date"], "chat_id": orig["chat_id"],
              "message_id": orig["id"]}
    assert fwd["fwd_from"] == header
    assert fwd["chat_id"] != orig["chat_id"] and fwd["id"] == 1
    [seen] = await history(carol, fwd["chat_id"])
    assert seen == fwd
    # a forward of a forward keeps the first author, date and place
    [fwd2] = await carol("messages.forward", from_chat_id=fwd["chat_id"],
                         message_ids=[fwd["id"]], user_id=dave.id)
    assert fwd2["from_id"] == carol.id
    assert fwd2["fwd_from"] == header
    [update] = [u for u in await updates_after(dave, 0) if u["type"] == "new_message"]
    assert update["message"]["fwd_from"] == header
    # forwards cannot be edited as if one had written them
    assert await carol.error("messages.edit", chat_id=fwd2["chat_id"], message_id=fwd2["id"],
                             text="mine now") == (403, "MESSAGE_AUTHOR_REQUIRED")


async def test_forward_several_in_order_and_idempotent_with_random_ids(make_user) -> None:
    alice, bob, carol = await make_user("Alice"), await make_user("Bob"), await make_user("Carol")
    src = [await send(alice, f"m{i}", user_id=bob.id) for i in range(3)]
    chat_id = src[0]["chat_id"]
    rids = [rid(), rid(), rid()]
    first = await alice("messages.forward", from_chat_id=chat_id, message_ids=[1, 2, 3],
                        user_id=carol.id, random_ids=rids)
    assert [m["text"] for m in first] == ["m0", "m1", "m2"]
    assert [m["id"] for m in first] == [1, 2, 3]
    assert [m["fwd_from"]["message_id"] for m in first] == [1, 2, 3]
    again = await alice("messages.forward", from_chat_id=chat_id, message_ids=[1, 2, 3],
                        user_id=carol.id, random_ids=rids)
    assert again == first
    assert await history_ids(carol, first[0]["chat_id"]) == [3, 2, 1]
    news = [u for u in await updates_after(carol, 0) if u["type"] == "new_message"]
    assert len(news) == 3
    assert await alice.error("messages.forward", from_chat_id=chat_id, message_ids=[1, 2],
                             user_id=carol.id, random_ids=[rid()]) == (400, "BAD_REQUEST")
    assert await alice.error("messages.forward", from_chat_id=chat_id, message_ids=[77],
                             user_id=carol.id) == (400, "MESSAGE_ID_INVALID")
    # one cannot forward out of a chat one is not in
    assert await carol.error("messages.forward", from_chat_id=chat_id, message_ids=[1],
                             user_id=alice.id) == (404, "CHAT_NOT_FOUND")


# edits --------------------------------------------------------------------------------------

async def test_edit_own_message(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send(alice, "helo", user_id=bob.id)
    assert "edit_date" not in msg
    bob_pts = await pts_of(bob)
    ents = [{"type": "italic", "offset": 0, "length": 5}]
    edited = await alice("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                         text="hello", entities=ents)
    assert edited["text"] == "hello" and edited["entities"] == ents
    assert edited["edit_date"] >= msg["date"]
    assert (edited["id"], edited["date"], edited["from_id"]) == (msg["id"], msg["date"], alice.id)
    [seen] = await history(bob, msg["chat_id"])
    assert seen == edited
    [update] = await updates_after(bob, bob_pts)
    assert update["type"] == "edit_message" and update["message"] == edited
    # unchanged text and entities: nothing to do
    assert await alice.error("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                             text="hello", entities=ents) == (400, "MESSAGE_NOT_MODIFIED")
    # the same text without its entities is a change
    plain = await alice("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                        text="hello")
    assert "entities" not in plain
    # someone else's message
    assert await bob.error("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                           text="hijack") == (403, "MESSAGE_AUTHOR_REQUIRED")
    assert await alice.error("messages.edit", chat_id=msg["chat_id"], message_id=42,
                             text="x") == (400, "MESSAGE_ID_INVALID")
    assert await alice.error("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                             text=" ") == (400, "MESSAGE_EMPTY")
    assert await alice.error("messages.edit", chat_id=msg["chat_id"], message_id=msg["id"],
                             text="y" * 4097) == (400, "MESSAGE_TOO_LONG")
    assert (await history(bob, msg["chat_id"]))[0]["text"] == "hello"
    # only the two accepted edits reached Bob
    assert [u["type"] for u in await updates_after(bob, bob_pts)] == ["edit_message"] * 2


# deletes ------------------------------------------------------------------------------------

async def test_delete_for_me_keeps_it_for_the_other(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    m1 = await send(alice, "one", user_id=bob.id)
    m2 = await send(bob, "two", user_id=alice.id)
    chat_id = m1["chat_id"]
    a_pts, b_pts = await pts_of(alice), await pts_of(bob)
    assert await bob("messages.delete", chat_id=chat_id, message_ids=[m1["id"], m2["id"]],
                     revoke=False) is True
    assert await history_ids(bob, chat_id) == []
    assert await history_ids(alice, chat_id) == [2, 1]
    [update] = await updates_after(bob, b_pts)
    assert update["type"] == "delete_messages"
    assert (update["chat_id"], sorted(update["message_ids"])) == (chat_id, [1, 2])
    assert await updates_after(alice, a_pts) == []
    got = await bob("messages.getMessages", chat_id=chat_id, message_ids=[1, 2])
    assert got["messages"] == []
    # deleting for me again changes nothing and says so without error
    assert await bob("messages.delete", chat_id=chat_id, message_ids=[1], revoke=False) is True


async def test_delete_for_everyone_in_a_private_chat(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    m1 = await send(alice, "mine", user_id=bob.id)
    m2 = await send(alice, "also mine", user_id=bob.id)
    m3 = await send(bob, "bob's", user_id=alice.id)
    chat_id = m1["chat_id"]
    a_pts, b_pts = await pts_of(alice), await pts_of(bob)
    # in a private chat either side may delete any message for everyone (Telegram's rule)
    assert await bob("messages.delete", chat_id=chat_id, message_ids=[m1["id"]],
                     revoke=True) is True
    assert await alice("messages.delete", chat_id=chat_id, message_ids=[m3["id"]],
                       revoke=True) is True
    assert await history_ids(alice, chat_id) == [m2["id"]]
    assert await history_ids(bob, chat_id) == [m2["id"]]
    for api, pts in ((alice, a_pts), (bob, b_pts)):
        ups = await updates_after(api, pts)
        assert [(u["type"], u["chat_id"], u["message_ids"]) for u in ups] == [
            ("delete_messages", chat_id, [1]), ("delete_messages", chat_id, [3])]
    # a deleted id stays used: the next message is 4
    assert (await send(bob, "after", user_id=alice.id))["id"] == 4
    assert await alice.error("messages.edit", chat_id=chat_id, message_id=1,
                             text="back?") == (400, "MESSAGE_ID_INVALID")


async def test_delete_for_everyone_in_a_group_needs_author_or_admin(make_user) -> None:
    owner, bob, carol = await make_user("Owner"), await make_user("Bob"), await make_user("Carol")
    gid = await group_of(owner, bob, carol)
    b1 = await send(bob, "bob one", chat_id=gid)
    b2 = await send(bob, "bob two", chat_id=gid)
    c1 = await send(carol, "carol", chat_id=gid)
    assert await carol.error("messages.delete", chat_id=gid, message_ids=[b1["id"]],
                             revoke=True) == (403, "MESSAGE_AUTHOR_REQUIRED")
    # a batch with one forbidden id deletes nothing
    assert await carol.error("messages.delete", chat_id=gid, message_ids=[c1["id"], b1["id"]],
                             revoke=True) == (403, "MESSAGE_AUTHOR_REQUIRED")
    assert await history_ids(owner, gid) == [4, 3, 2, 1]
    # but a member may delete anyone's message for themselves
    assert await carol("messages.delete", chat_id=gid, message_ids=[b1["id"]], revoke=False)
    assert await history_ids(carol, gid) == [4, 3, 1]
    pts = {u.id: await pts_of(u) for u in (owner, bob, carol)}
    # the author may
    assert await bob("messages.delete", chat_id=gid, message_ids=[b2["id"]], revoke=True)
    # an admin may delete others' messages
    assert await owner("messages.delete", chat_id=gid, message_ids=[b1["id"], c1["id"]],
                       revoke=True)
    for u in (owner, bob, carol):
        assert await history_ids(u, gid) == [1]
        ups = await updates_after(u, pts[u.id])
        assert [(x["type"], sorted(x["message_ids"])) for x in ups] == [
            ("delete_messages", [3]), ("delete_messages", [2, 4])]


async def test_promoted_admin_may_delete_for_everyone(make_user) -> None:
    owner, bob, carol = await make_user("Owner"), await make_user("Bob"), await make_user("Carol")
    gid = await group_of(owner, bob, carol)
    c1 = await send(carol, "carol", chat_id=gid)
    assert await bob.error("messages.delete", chat_id=gid, message_ids=[c1["id"]],
                           revoke=True) == (403, "MESSAGE_AUTHOR_REQUIRED")
    assert await owner("chats.editAdmin", chat_id=gid, user_id=bob.id, is_admin=True)
    assert await bob("messages.delete", chat_id=gid, message_ids=[c1["id"]], revoke=True)
    assert c1["id"] not in await history_ids(carol, gid)


# reactions ----------------------------------------------------------------------------------

def reactions_of(msg: dict[str, Any]) -> dict[str, int]:
    return {r["emoji"]: r["count"] for r in msg.get("reactions", [])}


async def test_one_reaction_per_user_counts_aggregate(make_user) -> None:
    owner, bob, carol = await make_user("Owner"), await make_user("Bob"), await make_user("Carol")
    gid = await group_of(owner, bob, carol)
    msg = await send(owner, "react to me", chat_id=gid)

    async def seen_by(api: Api) -> dict[str, Any]:
        got = await api("messages.getMessages", chat_id=gid, message_ids=[msg["id"]])
        [m] = got["messages"]
        return m  # type: ignore[no-any-return]

    pts = await pts_of(owner)
    assert await bob("messages.react", chat_id=gid, message_id=msg["id"], emoji="👍") is True
    assert await carol("messages.react", chat_id=gid, message_id=msg["id"], emoji="👍")
    assert (await seen_by(owner))["reactions"] == [{"emoji": "👍", "count": 2}]
    # the same reaction again does not count twice
    assert await bob("messages.react", chat_id=gid, message_id=msg["id"], emoji="👍")
    assert reactions_of(await seen_by(owner)) == {"👍": 2}
    # a second reaction replaces the first
    assert await bob("messages.react", chat_id=gid, message_id=msg["id"], emoji="❤️")
    [top] = [m for m in await history(carol, gid) if m["id"] == msg["id"]]
    assert reactions_of(top) == {"👍": 1, "❤️": 1}
    # each reader sees which reaction is theirs (carol's 👍), and only that one
    assert {r["emoji"]: r.get("chosen", False) for r in top["reactions"]} == {
        "👍": True, "❤️": False}
    assert all(set(r) <= {"emoji", "count", "chosen"} for r in top["reactions"])
    assert all("chosen" not in r for r in (await seen_by(owner))["reactions"])
    # no emoji removes the caller's reaction
    assert await carol("messages.react", chat_id=gid, message_id=msg["id"], emoji=None)
    assert (await seen_by(bob))["reactions"] == [{"emoji": "❤️", "count": 1, "chosen": True}]
    assert await bob("messages.react", chat_id=gid, message_id=msg["id"])
    assert "reactions" not in await seen_by(owner)
    # each change was an update to the members, carrying the new summary
    ups = [u for u in await updates_after(owner, pts) if u["type"] == "reaction"]
    assert len(ups) == 6
    assert [reactions_of(u) for u in ups] == [
        {"👍": 1}, {"👍": 2}, {"👍": 2}, {"👍": 1, "❤️": 1}, {"❤️": 1}, {}]
    assert [u["user_id"] for u in ups] == [bob.id, carol.id, bob.id, bob.id, carol.id, bob.id]
    assert all((u["chat_id"], u["message_id"]) == (gid, msg["id"]) for u in ups)


async def test_invalid_reactions(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send(alice, "hi", user_id=bob.id)
    for bad in ("abc", "", " ", "👍 👍", "x" * 17):
        assert await bob.error("messages.react", chat_id=msg["chat_id"], message_id=msg["id"],
                               emoji=bad) == (400, "REACTION_INVALID"), bad
    assert await bob.error("messages.react", chat_id=msg["chat_id"], message_id=9,
                           emoji="👍") == (400, "MESSAGE_ID_INVALID")
    assert "reactions" not in (await history(alice, msg["chat_id"]))[0]


# read receipts ------------------------------------------------------------------------------

async def test_read_receipts(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    sent = [await send(alice, f"m{i}", user_id=bob.id) for i in range(3)]
    chat_id = sent[0]["chat_id"]
    assert (await dialog_of(bob, chat_id))["unread_count"] == 3
    # one's own messages are never unread
    assert (await dialog_of(alice, chat_id))["unread_count"] == 0
    assert (await dialog_of(alice, chat_id))["chat"].get("read_outbox_max_id", 0) == 0
    a_pts, b_pts = await pts_of(alice), await pts_of(bob)

    assert await bob("messages.read", chat_id=chat_id, max_id=2) is True
    d = await dialog_of(bob, chat_id)
    assert d["unread_count"] == 1 and d["chat"]["read_inbox_max_id"] == 2
    assert (await dialog_of(alice, chat_id))["chat"]["read_outbox_max_id"] == 2
    assert (await alice("chats.get", chat_id=chat_id))["read_outbox_max_id"] == 2
    expected = {"type": "read_history", "chat_id": chat_id, "user_id": bob.id, "max_id": 2}
    [ua] = await updates_after(alice, a_pts)
    assert {k: ua[k] for k in expected} == expected
    [ub] = await updates_after(bob, b_pts)  # Bob's other devices learn of it too
    assert {k: ub[k] for k in expected} == expected

    # reading back to an older id is a no-op: no update, nothing moves backwards
    assert await bob("messages.read", chat_id=chat_id, max_id=1) is True
    assert (await dialog_of(bob, chat_id))["unread_count"] == 1
    assert len(await updates_after(alice, a_pts)) == 1

    # reading beyond the last id clamps to it
    assert await bob("messages.read", chat_id=chat_id, max_id=1000) is True
    d = await dialog_of(bob, chat_id)
    assert d["unread_count"] == 0 and d["chat"]["read_inbox_max_id"] == 3
    assert (await alice("chats.get", chat_id=chat_id))["read_outbox_max_id"] == 3
    ups = await updates_after(alice, a_pts)
    assert [u["max_id"] for u in ups] == [2, 3]
    # a new message is unread again, and the marker is not ahead of it
    await send(alice, "m3", user_id=bob.id)
    assert (await dialog_of(bob, chat_id))["unread_count"] == 1


async def test_read_in_a_group_notifies_the_authors(make_user) -> None:
    owner, bob, carol = await make_user("Owner"), await make_user("Bob"), await make_user("Carol")
    gid = await group_of(owner, bob, carol)
    await send(bob, "from bob", chat_id=gid)
    assert (await dialog_of(carol, gid))["unread_count"] == 2  # the creation notice and Bob's
    b_pts = await pts_of(bob)
    assert await carol("messages.read", chat_id=gid, max_id=2)
    [u] = await updates_after(bob, b_pts)
    assert (u["type"], u["user_id"], u["max_id"]) == ("read_history", carol.id, 2)
    assert (await bob("chats.get", chat_id=gid))["read_outbox_max_id"] == 2
    assert (await dialog_of(carol, gid))["unread_count"] == 0


# pins ---------------------------------------------------------------------------------------

async def test_pin_and_unpin(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send(alice, "pin me", user_id=bob.id)
    chat_id = msg["chat_id"]
    assert "pinned_message_id" not in await alice("chats.get", chat_id=chat_id)
    a_pts = await pts_of(alice)
    # in a private chat either side may pin
    assert await bob("messages.pin", chat_id=chat_id, message_id=msg["id"]) is True
    for api in (alice, bob):
        assert (await api("chats.get", chat_id=chat_id))["pinned_message_id"] == msg["id"]
    [u] = await updates_after(alice, a_pts)
    assert (u["type"], u["chat_id"], u["message_id"]) == ("pinned_message", chat_id, msg["id"])
    assert await alice.error("messages.pin", chat_id=chat_id,
                             message_id=50) == (400, "MESSAGE_ID_INVALID")
    assert await alice("messages.pin", chat_id=chat_id, unpin=True) is True
    assert "pinned_message_id" not in await bob("chats.get", chat_id=chat_id)
    ups = await updates_after(bob, 0)
    assert [u for u in ups if u["type"] == "pinned_message"][-1]["message_id"] == 0


async def test_pin_in_a_group_needs_an_admin(make_user) -> None:
    owner, bob = await make_user("Owner"), await make_user("Bob")
    gid = await group_of(owner, bob)
    msg = await send(bob, "important", chat_id=gid)
    assert await bob.error("messages.pin", chat_id=gid,
                           message_id=msg["id"]) == (403, "CHAT_ADMIN_REQUIRED")
    assert "pinned_message_id" not in await bob("chats.get", chat_id=gid)
    b_pts = await pts_of(bob)
    assert await owner("messages.pin", chat_id=gid, message_id=msg["id"])
    assert (await bob("chats.get", chat_id=gid))["pinned_message_id"] == msg["id"]
    [u] = await updates_after(bob, b_pts)
    assert (u["type"], u["message_id"]) == ("pinned_message", msg["id"])


# getMessages, setTyping, strangers ------------------------------------------------------------

async def test_get_messages_by_ids(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    sent = [await send(alice, f"m{i}", user_id=bob.id) for i in range(4)]
    chat_id = sent[0]["chat_id"]
    got = await bob("messages.getMessages", chat_id=chat_id, message_ids=[3, 1, 99, 3])
    assert got["messages"] == [sent[0], sent[2]]
    await alice("messages.delete", chat_id=chat_id, message_ids=[1], revoke=True)
    got = await bob("messages.getMessages", chat_id=chat_id, message_ids=[1, 2])
    assert [m["id"] for m in got["messages"]] == [2]
    assert await bob.error("messages.getMessages", chat_id=chat_id,
                           message_ids=[]) == (400, "BAD_REQUEST")


async def test_set_typing(make_user) -> None:
    alice, bob, eve = await make_user("Alice"), await make_user("Bob"), await make_user("Eve")
    chat_id = (await send(alice, "hi", user_id=bob.id))["chat_id"]
    pts = await pts_of(bob)
    assert await alice("messages.setTyping", chat_id=chat_id) is True
    assert await alice("messages.setTyping", chat_id=chat_id, action="cancel") is True
    assert await alice.error("messages.setTyping", chat_id=chat_id,
                             action="dancing") == (400, "BAD_REQUEST")
    # typing is ephemeral: it is not logged as an update
    assert await pts_of(bob) == pts
    assert await eve.error("messages.setTyping", chat_id=chat_id) == (404, "CHAT_NOT_FOUND")


async def test_strangers_cannot_touch_a_chat(make_user) -> None:
    alice, bob, eve = await make_user("Alice"), await make_user("Bob"), await make_user("Eve")
    msg = await send(alice, "private", user_id=bob.id)
    c, i = msg["chat_id"], msg["id"]
    for method, params in (
        ("messages.send", {"chat_id": c, "text": "hi", "random_id": rid()}),
        ("messages.edit", {"chat_id": c, "message_id": i, "text": "x"}),
        ("messages.delete", {"chat_id": c, "message_ids": [i], "revoke": True}),
        ("messages.read", {"chat_id": c, "max_id": i}),
        ("messages.react", {"chat_id": c, "message_id": i, "emoji": "👍"}),
        ("messages.pin", {"chat_id": c, "message_id": i}),
        ("messages.getHistory", {"chat_id": c}),
        ("messages.getMessages", {"chat_id": c, "message_ids": [i]}),
    ):
        assert await eve.error(method, **params) == (404, "CHAT_NOT_FOUND"), method
    [still] = await history(bob, c)
    assert still == msg
    assert await alice.error("messages.send", user_id=10**12, text="hi",
                             random_id=rid()) == (400, "PEER_INVALID")
    assert await alice.error("messages.send", chat_id=c, user_id=bob.id, text="hi",
                             random_id=rid()) == (400, "PEER_INVALID")
