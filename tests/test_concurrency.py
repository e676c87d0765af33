"""Concurrency: many writers at once, both engines, and the sync invariants still hold.

Message ids inside a chat are taken under the chat's row lock in the same transaction that
appends the members' updates, so whatever the interleaving:
 - a chat's ids are dense (1, 2, 3, …) and each is handed out once;
 - every user's log is gap-free (getDifference from 0 gives pts 1..N) with each update once;
 - a member's log lists the chat's messages in increasing id.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Api, full_history, unique_name

PASSWORD = "correct horse"


# helpers ------------------------------------------------------------------------------------

def rid() -> int:
    return secrets.randbits(62) + 1


async def full_log(api: Api, page: int = 64) -> list[dict[str, Any]]:
    """The user's whole update log, paged, checked gap-free and agreeing with getState."""
    updates: list[dict[str, Any]] = []
    pts = 0
    for _ in range(10_000):
        diff = await api("updates.getDifference", pts=pts, limit=page)
        got = diff["updates"]
        assert len(got) <= page
        if got:
            assert diff["state"]["pts"] == got[-1]["pts"], diff["state"]
        else:
            assert diff["more"] is False
        updates += got
        pts = diff["state"]["pts"]
        if not diff["more"]:
            break
    else:
        raise AssertionError("getDifference never said more=false")
    assert [u["pts"] for u in updates] == list(range(1, len(updates) + 1)), (
        "pts not gap-free: " + str([u["pts"] for u in updates])
    )
    assert (await api("updates.getState"))["pts"] == len(updates)
    return updates


def chat_message_ids(log: list[dict[str, Any]], chat_id: int) -> list[int]:
    return [u["message"]["id"] for u in log
            if u["type"] == "new_message" and u["message"]["chat_id"] == chat_id]


async def users(make_user: Callable[..., Any], n: int, prefix: str = "U") -> list[Api]:
    return list(await asyncio.gather(*(make_user(f"{prefix}{i}") for i in range(n))))


# many senders, one group --------------------------------------------------------------------

async def test_many_senders_into_one_group(make_user: Callable[..., Any]) -> None:
    members = await users(make_user, 20)
    owner = members[0]
    group = await owner("chats.createGroup", title="crowd",
                        user_ids=[m.id for m in members[1:]])
    chat_id = group["id"]
    base = len(await full_history(owner, chat_id))  # the service message(s) of creation

    async def send(i: int, k: int) -> dict[str, Any]:
        m: dict[str, Any] = await members[i]("messages.send", chat_id=chat_id,
                                              text=f"u{i}-m{k}", random_id=rid())
        return m

    sent = await asyncio.gather(*(send(i, k) for k in range(10) for i in range(20)))
    ids = [m["id"] for m in sent]
    assert len(set(ids)) == 200, Counter(ids).most_common(3)
    assert sorted(ids) == list(range(base + 1, base + 201))
    index = {u.id: i for i, u in enumerate(members)}
    assert Counter(index[m["from_id"]] for m in sent) == dict.fromkeys(range(20), 10)
    for m in sent:
        assert m["chat_id"] == chat_id
        assert m["text"].startswith(f"u{index[m['from_id']]}-m")

    history = await full_history(members[7], chat_id)
    assert [m["id"] for m in history] == list(range(1, base + 201))
    by_id = {m["id"]: m for m in history}
    for m in sent:
        assert by_id[m["id"]]["text"] == m["text"]
        assert by_id[m["id"]]["from_id"] == m["from_id"]

    logs = await asyncio.gather(*(full_log(m) for m in members))
    for member, log in zip(members, logs, strict=True):
        in_chat = chat_message_ids(log, chat_id)
        # each message once, in increasing id: the chat's order is every member's order
        assert in_chat == list(range(1, base + 201)), (member.id, in_chat)
        texts = {u["message"]["id"]: u["message"]["text"] for u in log
                 if u["type"] == "new_message"}
        for m in sent:
            assert texts[m["id"]] == m["text"]


# private chats made from both sides at once -------------------------------------------------

async def test_first_messages_from_both_sides_make_one_private_chat(
    make_user: Callable[..., Any],
) -> None:
    pairs = [tuple(await users(make_user, 2, f"P{i}-")) for i in range(8)]

    async def send(a: Api, b: Api, k: int) -> dict[str, Any]:
        m: dict[str, Any] = await a("messages.send", user_id=b.id, text=f"{a.id}->{b.id} #{k}",
                                    random_id=rid())
        return m

    jobs = []
    for a, b in pairs:
        for k in range(3):
            jobs += [send(a, b, k), send(b, a, k)]
    sent = await asyncio.gather(*jobs)

    chat_of: dict[frozenset[int], set[int]] = {}
    for m in sent:
        a_id, b_id = (int(x) for x in m["text"].split(" #")[0].split("->"))
        chat_of.setdefault(frozenset((a_id, b_id)), set()).add(m["chat_id"])
    assert all(len(c) == 1 for c in chat_of.values()), chat_of
    chat_ids = [next(iter(c)) for c in chat_of.values()]
    assert len(set(chat_ids)) == len(pairs)

    for a, b in pairs:
        chat_id = next(iter(chat_of[frozenset((a.id, b.id))]))
        mine = [m for m in sent if m["chat_id"] == chat_id]
        assert sorted(m["id"] for m in mine) == list(range(1, 7))
        for side, other in ((a, b), (b, a)):
            dialogs = await side("messages.getDialogs")
            privates = [d["chat"] for d in dialogs if d["chat"]["type"] == "private"]
            assert [c["id"] for c in privates] == [chat_id], privates
            assert privates[0]["peer_id"] == other.id
            log = await full_log(side)
            assert chat_message_ids(log, chat_id) == list(range(1, 7))
        history = await full_history(a, chat_id)
        assert sorted(m["text"] for m in history) == sorted(m["text"] for m in mine)


# reads, reactions and edits between sends ---------------------------------------------------

async def test_reads_reactions_edits_interleaved_with_sends(
    make_user: Callable[..., Any],
) -> None:
    members = await users(make_user, 6, "I")
    group = await members[0]("chats.createGroup", title="busy",
                             user_ids=[m.id for m in members[1:]])
    chat_id = group["id"]
    seeds: list[dict[str, Any]] = []
    for i, m in enumerate(members):
        for k in range(3):
            seeds.append(await m("messages.send", chat_id=chat_id, text=f"seed {i}.{k}",
                                 random_id=rid()))
    emojis = ["\U0001F44D", "\u2764", "\U0001F525"]
    reads: dict[int, int] = {}
    final_edit: dict[int, str] = {}

    jobs: list[Any] = []
    for i, m in enumerate(members):
        for k in range(5):
            jobs.append(m("messages.send", chat_id=chat_id, text=f"new {i}.{k}",
                          random_id=rid()))
        for k, seed in enumerate(seeds[i::3][:4]):
            jobs.append(m("messages.react", chat_id=chat_id, message_id=seed["id"],
                          emoji=emojis[(i + k) % 3]))
        own = [s for s in seeds if s["from_id"] == m.id]
        for s in own[:2]:
            text = f"edited {s['id']} by {i}"
            final_edit[s["id"]] = text
            jobs.append(m("messages.edit", chat_id=chat_id, message_id=s["id"], text=text))
        for max_id in (4 + i, 8 + i):
            reads[m.id] = max(reads.get(m.id, 0), max_id)
            jobs.append(m("messages.read", chat_id=chat_id, max_id=max_id))
    order = list(range(len(jobs)))
    secrets.SystemRandom().shuffle(order)
    await asyncio.gather(*(jobs[j] for j in order))

    history = await full_history(members[0], chat_id)
    top = history[-1]["id"]
    assert [m["id"] for m in history] == list(range(1, top + 1))
    assert top == len(seeds) + 1 + 30  # creation, seeds, then 6 x 5 new ones
    by_id = {m["id"]: m for m in history}
    for mid, text in final_edit.items():
        assert by_id[mid]["text"] == text and by_id[mid]["edit_date"]

    for member in members:
        log = await full_log(member)
        assert chat_message_ids(log, chat_id) == list(range(1, top + 1))
        # the last edit and the last reaction update of each message tell its final state
        last_edit: dict[int, str] = {}
        last_reactions: dict[int, Any] = {}
        for u in log:
            if u["type"] == "edit_message":
                last_edit[u["message"]["id"]] = u["message"]["text"]
            elif u["type"] == "reaction":
                last_reactions[u["message_id"]] = u.get("reactions") or []
        assert last_edit == final_edit
        for mid, summary in last_reactions.items():
            # the history is members[0]'s: it also marks which reaction is theirs (chosen)
            counts = [{"emoji": r["emoji"], "count": r["count"]}
                      for r in by_id[mid].get("reactions") or []]
            assert summary == counts, (mid, summary, by_id[mid])
        chat = await member("chats.get", chat_id=chat_id)
        assert chat["read_inbox_max_id"] == reads[member.id], (member.id, chat)


async def test_concurrent_reactions_to_one_message_are_all_counted(
    make_user: Callable[..., Any],
) -> None:
    members = await users(make_user, 16, "R")
    group = await members[0]("chats.createGroup", title="likes",
                             user_ids=[m.id for m in members[1:]])
    msgs = [await members[0]("messages.send", chat_id=group["id"], text=f"like me {k}",
                             random_id=rid()) for k in range(3)]
    like = "\U0001F44D"
    await asyncio.gather(*(m("messages.react", chat_id=group["id"], message_id=msg["id"],
                             emoji=like) for msg in msgs for m in members))
    # members[1] reacted too: the reaction is theirs as well (chosen)
    want = [{"emoji": like, "count": len(members), "chosen": True}]
    got = (await members[1]("messages.getMessages", chat_id=group["id"],
                            message_ids=[m["id"] for m in msgs]))["messages"]
    assert [g.get("reactions") for g in got] == [want] * len(msgs), got
    # each reaction update carries the summary as of its commit: one more like each time
    for m in members[:4]:
        log = await full_log(m)
        for msg in msgs:
            counts = [sum(r["count"] for r in u.get("reactions") or []) for u in log
                      if u["type"] == "reaction" and u["message_id"] == msg["id"]]
            assert counts == list(range(1, len(members) + 1)), (msg["id"], counts)


async def test_double_tapped_reaction_counts_once(make_user: Callable[..., Any]) -> None:
    a, b = await users(make_user, 2, "D")
    msg = await a("messages.send", user_id=b.id, text="tap", random_id=rid())
    heart = "\u2764"
    results = await asyncio.gather(*(b.raw("messages.react", {
        "chat_id": msg["chat_id"], "message_id": msg["id"], "emoji": heart}) for _ in range(6)))
    assert [r.status_code for r in results] == [200] * 6, [r.text[:200] for r in results]
    got = (await a("messages.getMessages", chat_id=msg["chat_id"],
                   message_ids=[msg["id"]]))["messages"][0]
    assert got.get("reactions") == [{"emoji": heart, "count": 1}], got
    await full_log(a)
    await full_log(b)


async def test_concurrent_reads_never_move_the_marker_back(
    make_user: Callable[..., Any],
) -> None:
    a, b = await users(make_user, 2, "M")
    first = None
    for k in range(30):
        m = await a("messages.send", user_id=b.id, text=f"m{k}", random_id=rid())
        first = first or m
    assert first is not None
    chat_id = first["chat_id"]
    marks = list(range(1, 31))
    secrets.SystemRandom().shuffle(marks)
    await asyncio.gather(*(b("messages.read", chat_id=chat_id, max_id=x) for x in marks))
    chat = await b("chats.get", chat_id=chat_id)
    assert chat["read_inbox_max_id"] == 30, chat
    dialogs = await b("messages.getDialogs")
    assert [d["unread_count"] for d in dialogs if d["chat"]["id"] == chat_id] == [0]
    # the reader's read_history updates never go backwards either
    log = await full_log(b)
    maxes = [u["max_id"] for u in log if u["type"] == "read_history"]
    assert maxes == sorted(maxes) and maxes[-1] == 30, maxes


# idempotency under concurrency --------------------------------------------------------------

async def test_racing_retries_with_one_random_id_store_one_message(
    make_user: Callable[..., Any],
) -> None:
    """A client that times out and retries while its first try still waits for the chat
    (busy with other senders): all tries answer with the one message."""
    a, b, c = await users(make_user, 3, "Q")
    group = await a("chats.createGroup", title="retries", user_ids=[b.id, c.id])
    base = len(await full_history(a, group["id"]))
    rounds = 4
    r_ids = [rid() for _ in range(rounds)]
    jobs: list[Any] = []
    for attempt, r_id in enumerate(r_ids):
        for k in range(6):
            jobs.append(a.raw("messages.send", {"chat_id": group["id"], "random_id": r_id,
                                                "text": f"once {attempt}"}))
            jobs.append((b if k % 2 else c).raw("messages.send", {
                "chat_id": group["id"], "text": f"busy {attempt}.{k}", "random_id": rid()}))
    tries = await asyncio.gather(*jobs)
    assert [t.status_code for t in tries] == [200] * len(jobs), [
        t.text[:120] for t in tries if t.status_code != 200]
    ours = [t.json()["result"] for t in tries[::2]]
    for attempt in range(rounds):
        got = {(m["id"], m["text"]) for m in ours[attempt * 6:(attempt + 1) * 6]}
        assert len(got) == 1 and next(iter(got))[1] == f"once {attempt}", got
    history = await full_history(b, group["id"])
    assert [m["id"] for m in history] == list(range(1, base + rounds * 7 + 1))
    texts = Counter(m["text"] for m in history[base:])
    assert all(texts[f"once {n}"] == 1 for n in range(rounds)), texts
    for u in (a, b, c):
        log = await full_log(u)
        assert chat_message_ids(log, group["id"]) == list(range(1, base + rounds * 7 + 1))


async def test_racing_registrations_of_one_username(http: httpx.AsyncClient) -> None:
    """Several sign-ups racing for a name (in different cases): one wins, the rest are told
    USERNAME_OCCUPIED."""
    names = [unique_name("Race") for _ in range(4)]
    jobs = []
    for _ in range(3):
        for name in names:
            for v in (name, name.lower(), name.upper()):
                jobs.append((name, Api(http).raw("auth.register", {
                    "username": v, "password": PASSWORD, "display_name": "Racer"})))
    results = await asyncio.gather(*(j for _, j in jobs))
    for name in names:
        codes = Counter(
            (r.status_code, r.json()["error"]["type"] if r.status_code != 200 else "OK")
            for (n, _), r in zip(jobs, results, strict=True) if n == name)
        assert codes == {(200, "OK"): 1, (400, "USERNAME_OCCUPIED"): 8}, (name, codes)


async def test_a_message_sent_as_a_socket_opens_is_pushed(
    make_user: Callable[..., Any], server: Any
) -> None:
    """A socket opened without ?pts starts at the user's pts when it opened: a message sent
    the moment the client sees it open is pushed, never counted as already had."""
    import json

    from websockets.asyncio.client import connect

    alice = await make_user("Alice")
    for i in range(20):
        bob = await make_user("Bob")
        async with connect(f"{server.ws_url}/api/v1/ws?token={bob.token}") as ws:
            sent = await alice("messages.send", user_id=bob.id, text=f"now {i}",
                               random_id=secrets.randbits(62))
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert frame["update"]["type"] == "new_message"
            assert frame["update"]["message"] == sent and frame["update"]["pts"] == 1
