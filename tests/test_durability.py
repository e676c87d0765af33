"""Durability: kill -9 in the middle of a stream of sends, restart, lose nothing, repeat nothing.

A dedicated server per engine (this test kills it, so not the shared one). Four senders send
concurrently into one group and, now and then, into private chats with two receivers; each
send carries its own random_id and the acknowledged ones (HTTP 200, ok) are noted. After
about 150 acknowledgements the server gets SIGKILL (no shutdown handler runs) and is started
again on the same data directory / database. Then:
 - every acknowledged message is in its chat's history exactly once, as acknowledged;
 - retrying every send (acknowledged or not) with its random_id stores nothing twice: each
   text is in its chat exactly once and the chat's ids are dense, 1..N;
 - every user's update log is gap-free (pts 1..n, each once) and lists each chat's messages
   once, in increasing id.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Api, full_history, unique_name
from tests.server import ENGINES, Server

SENDERS = 4
SENDS_EACH = 200
KILL_AFTER_ACKS = 150
PASSWORD = "correct horse"


@dataclass
class Send:
    sender: int
    k: int
    text: str
    random_id: int
    to_group: bool
    to_user: int  # the receiver's user id for a private send


async def register(http: httpx.AsyncClient, name: str) -> Api:
    api = Api(http)
    result = await api("auth.register", username=unique_name(name), password=PASSWORD,
                       display_name=name)
    api.token, api.user = result["token"], result["user"]
    return api


def params_of(s: Send, group_id: int) -> dict[str, Any]:
    target = {"chat_id": group_id} if s.to_group else {"user_id": s.to_user}
    return {**target, "text": s.text, "random_id": s.random_id}


async def full_log(api: Api) -> list[dict[str, Any]]:
    updates: list[dict[str, Any]] = []
    pts = 0
    for _ in range(1000):
        diff = await api("updates.getDifference", pts=pts, limit=100)
        updates += diff["updates"]
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


def check_log(log: list[dict[str, Any]], chat_tops: dict[int, int]) -> None:
    """Each chat's messages once each, in increasing id, and all of them (1..top)."""
    per_chat: dict[int, list[int]] = {}
    for u in log:
        if u["type"] == "new_message":
            per_chat.setdefault(u["message"]["chat_id"], []).append(u["message"]["id"])
    for chat_id, top in chat_tops.items():
        assert per_chat.get(chat_id, []) == list(range(1, top + 1)), (chat_id, per_chat)


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_sigkill_mid_stream_loses_and_repeats_nothing(engine: str) -> None:
    server = Server(engine).start()
    try:
        await crash_and_check(server)
    finally:
        server.drop()


async def crash_and_check(server: Server) -> None:
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        senders = [await register(http, f"Sender{i}") for i in range(SENDERS)]
        receivers = [await register(http, f"Receiver{i}") for i in range(2)]
        group = await senders[0]("chats.createGroup", title="durable",
                                 user_ids=[u.id for u in senders[1:] + receivers])
        group_id = group["id"]
    tokens = [s.token for s in senders]
    plan = [
        [Send(i, k, f"s{i}-{k}", secrets.randbits(62) + 1, k % 5 != 4,
              receivers[(i + k) % 2].id) for k in range(SENDS_EACH)]
        for i in range(SENDERS)
    ]
    attempted: list[Send] = []
    acked: dict[tuple[int, int], dict[str, Any]] = {}
    unexpected: list[str] = []
    enough = asyncio.Event()

    async def sender(i: int) -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            api = Api(client, tokens[i])
            for s in plan[i]:
                attempted.append(s)
                try:
                    r = await api.raw("messages.send", params_of(s, group_id))
                except httpx.TransportError:
                    return  # the server is gone: this send is in flight, unacknowledged
                if r.status_code != 200:
                    unexpected.append(f"{s.text}: {r.status_code} {r.text[:200]}")
                    return
                acked[(s.sender, s.k)] = r.json()["result"]
                if len(acked) >= KILL_AFTER_ACKS:
                    enough.set()

    async def killer() -> None:
        await asyncio.wait_for(enough.wait(), 60)
        server.kill()

    await asyncio.gather(killer(), *(sender(i) for i in range(SENDERS)))
    assert not unexpected, unexpected
    assert server.proc is not None and server.proc.returncode == -9
    assert KILL_AFTER_ACKS <= len(acked) < SENDERS * SENDS_EACH
    in_flight = [s for s in attempted if (s.sender, s.k) not in acked]
    assert len(in_flight) <= SENDERS, in_flight

    # the same database, the same port, a new process
    server.proc = None
    t0 = time.monotonic()
    server.start()
    assert time.monotonic() - t0 < 20

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        everyone = [Api(http, u.token) for u in senders + receivers]
        for api, u in zip(everyone, senders + receivers, strict=True):
            api.user = u.user
        apis, by_id = everyone[:SENDERS], {a.id: a for a in everyone}
        members: dict[int, set[int]] = {group_id: set(by_id)}

        def note(s: Send, m: dict[str, Any]) -> None:
            if not s.to_group:
                members.setdefault(m["chat_id"], set()).update({m["from_id"], s.to_user})

        for (i, k), m in acked.items():
            note(plan[i][k], m)

        def reader(chat_id: int) -> Api:
            return by_id[min(members[chat_id])]

        # 1. every acknowledged message is there exactly once, as acknowledged
        histories = {c: await full_history(reader(c), c) for c in members}
        for m in acked.values():
            same = [h for h in histories[m["chat_id"]] if h.get("text") == m["text"]]
            assert same == [m], (m, same)
        for c, hist in histories.items():
            assert [h["id"] for h in hist] == list(range(1, len(hist) + 1)), (c, hist)
        for api in everyone:
            await full_log(api)  # gap-free right after the restart, too

        # 2. retry everything that was tried, acknowledged or not, with its random_id
        async def retry(i: int) -> list[tuple[Send, dict[str, Any]]]:
            out = []
            for s in [s for s in attempted if s.sender == i]:
                out.append((s, await apis[i]("messages.send", **params_of(s, group_id))))
            return out

        retried = [pair for part in await asyncio.gather(*(retry(i) for i in range(SENDERS)))
                   for pair in part]
        assert len(retried) == len(attempted)
        texts_in: dict[int, list[str]] = {}
        for s, m in retried:
            assert m["text"] == s.text and m["from_id"] == apis[s.sender].id, (s, m)
            assert (m["chat_id"] == group_id) == s.to_group, (s, m)
            if (s.sender, s.k) in acked:
                assert m == acked[(s.sender, s.k)], (s, m)
            note(s, m)
            texts_in.setdefault(m["chat_id"], []).append(s.text)

        # 3. each text once in its chat, ids dense, logs gap-free and complete
        tops: dict[int, int] = {}
        for chat_id in members:
            hist = await full_history(reader(chat_id), chat_id)
            assert [h["id"] for h in hist] == list(range(1, len(hist) + 1)), chat_id
            counts = Counter(h["text"] for h in hist if not h.get("action"))
            want = Counter(texts_in.get(chat_id, []))
            assert counts == want, (chat_id, counts - want, want - counts)
            assert all(n == 1 for n in counts.values())
            tops[chat_id] = len(hist)
        for api in everyone:
            log = await full_log(api)
            check_log(log, {c: top for c, top in tops.items() if api.id in members[c]})
            texts = Counter(u["message"]["text"] for u in log if u["type"] == "new_message"
                            and not u["message"].get("action"))
            assert all(n == 1 for n in texts.values()), texts.most_common(3)
