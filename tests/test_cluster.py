"""Many server processes on one PostgreSQL database and a real broker (Redis and NATS).

Two `kurir serve` processes on different ports share the database, the files directory and
the broker: what is done through one reaches the sockets held by the other — private
chats, groups, channels, joins, presence, typing, ended sessions, a bot's answer to a button
pressed elsewhere, webhooks posted once. A process killed with SIGKILL loses nothing: its
clients reconnect to the other and get exactly what they missed; its users go offline once
its heartbeat is missed. `kurir serve --workers 2` does the same behind one port.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import psycopg
import pytest
import redis

from kurir.client import Client, KurirError, new_random_id
from tests.conftest import unique_name
from tests.server import (
    TEST_ENV,
    Server,
    create_pg_database,
    drop_pg_database,
    free_port,
)
from tests.test_botapi import Bot, Receiver

PASSWORD = "correct horse"
WAIT = 10.0
BROKERS = {"redis": "redis://127.0.0.1:6379/0", "nats": "nats://127.0.0.1:4222"}
DEAD_AFTER = 3  # seconds without a heartbeat before a node is taken for dead (tests only)


@dataclass
class Cluster:
    broker: str
    database_url: str
    nodes: list[Server] = field(default_factory=list)

    def add(self) -> Server:
        first = self.nodes[0] if self.nodes else None
        node = Server("postgres", database_url=self.database_url,
                      env={"KURIR_BROKER_URL": BROKERS[self.broker],
                           "KURIR_NODE_DEAD_AFTER": str(DEAD_AFTER)})
        if first is not None:
            shutil.rmtree(node.data_dir, ignore_errors=True)
            node.data_dir = first.data_dir  # the files directory is shared too
        self.nodes.append(node.start())
        return node

    def drop(self) -> None:
        for node in self.nodes:
            node.stop()
        drop_pg_database(self.database_url)
        shutil.rmtree(self.nodes[0].data_dir, ignore_errors=True)


def start_cluster(broker: str, n: int = 2) -> Cluster:
    cluster = Cluster(broker, create_pg_database())
    try:
        for _ in range(n):
            cluster.add()
    except BaseException:
        cluster.drop()
        raise
    return cluster


@pytest.fixture(scope="module", params=list(BROKERS))
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    c = start_cluster(request.param)
    yield c
    c.drop()


@pytest.fixture
async def clients() -> AsyncIterator[Callable[..., Any]]:
    """Registered SDK clients on the node given; all closed at the end."""
    made: list[Client] = []

    async def make(on: Server, name: str = "User", *, connect: bool = True) -> Client:
        c = Client(on.url)
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


async def next_message(c: Client, **match: Any) -> dict[str, Any]:
    """The next new_message update whose message has these fields."""
    def wanted(u: dict[str, Any]) -> bool:
        return u["type"] == "new_message" and all(u["message"].get(k) == v
                                                   for k, v in match.items())

    return await c.wait_for(wanted, timeout=WAIT)


async def next_event(c: Client, kind: str, **match: Any) -> dict[str, Any]:
    async with asyncio.timeout(WAIT):
        while True:
            event = await c.next_event()
            if event["type"] == kind and all(event.get(k) == v for k, v in match.items()):
                return event


def on_other_node(c: Client, cluster: Cluster) -> Client:
    """A client of the same account on the other node (a second device)."""
    other = next(n for n in cluster.nodes if n.url != c.base_url)
    twin = Client(other.url, token=c.token)
    twin.user = c.user
    return twin


# delivery across processes -----------------------------------------------------------------

async def test_private_chat_crosses_processes(cluster: Cluster, clients) -> None:
    a, b = cluster.nodes
    alice = await clients(a, "Alice")
    bob = await clients(b, "Bob")
    for i in range(20):
        sent = await alice.send_message(user_id=uid(bob), text=f"hi {i}")
        got = await next_message(bob)
        assert got["message"] == sent and got["pts"] == i + 1
    reply = await bob.send_message(chat_id=sent["chat_id"], text="hi Alice")
    got = await alice.wait_for(lambda u: u.get("message", {}).get("text") == "hi Alice",
                               timeout=WAIT)
    assert got["message"] == reply


async def test_group_and_channel_cross_processes(cluster: Cluster, clients) -> None:
    a, b = cluster.nodes
    owner = await clients(a, "Owner")
    near = await clients(a, "Near")
    far = await clients(b, "Far")
    group = await owner.call("chats.createGroup", title="Team", user_ids=[uid(near), uid(far)])
    sent = await far.send_message(chat_id=group["id"], text="from far")
    for c in (owner, near):
        got = await next_message(c, chat_id=group["id"], text="from far")
        assert got["message"] == sent
    # a channel: a subscriber on the other node joins (its node starts following the
    # channel's topic on the broker) and gets the posts made through the first node
    channel = await owner.call("channels.create", title="News", broadcast=True,
                               username=unique_name("chan"))
    await far.call("channels.join", channel_id=channel["id"])
    posts = [await owner.send_message(chat_id=channel["id"], text=f"post {i}")
             for i in range(5)]
    got = []
    async with asyncio.timeout(WAIT):
        while len(got) < 5:
            u = await far.next_update()
            if u.get("channel_id") == channel["id"]:
                got.append(u)
    assert [u["message"] for u in got] == posts
    assert [u["pts"] for u in got] == [2, 3, 4, 5, 6]


async def test_presence_and_typing_cross_processes(cluster: Cluster, clients) -> None:
    a, b = cluster.nodes
    alice = await clients(a, "Alice")
    bob = await clients(b, "Bob", connect=False)
    sent = await alice.send_message(user_id=uid(bob), text="are you there?")
    await bob.connect()
    came = await next_event(alice, "user_status", user_id=uid(bob))
    assert came["online"] is True
    assert (await alice.call("users.get", user_id=uid(bob))).get("online") is True
    await bob.call("messages.setTyping", chat_id=sent["chat_id"])
    typing = await next_event(alice, "typing", user_id=uid(bob))
    assert typing["chat_id"] == sent["chat_id"]
    # a second device of bob's on node A: closing the one on B leaves him online
    twin = on_other_node(bob, cluster)
    try:
        await twin.connect()
        await bob.disconnect()
        await twin.call("messages.setTyping", chat_id=sent["chat_id"])  # a marker
        await next_event(alice, "typing", user_id=uid(bob))
        assert (await alice.call("users.get", user_id=uid(bob))).get("online") is True
        await twin.disconnect()
        gone = await next_event(alice, "user_status", user_id=uid(bob))
        assert gone["online"] is False
        assert not (await alice.call("users.get", user_id=uid(bob))).get("online")
    finally:
        await twin.close()


async def test_a_session_ended_elsewhere_closes_the_socket_and_the_token(
    cluster: Cluster, clients
) -> None:
    a = cluster.nodes[0]
    alice = await clients(a, "Alice")
    phone = on_other_node(alice, cluster)  # the same session's token, used on node B
    await phone.call("users.get", user_id=uid(alice))  # node B has the token cached now
    laptop = Client(a.url)
    try:
        await laptop.login(alice.user["username"], PASSWORD)  # type: ignore[index]
        await laptop.call("account.terminateSession", session_id=alice.session_id)
        # alice's socket on node A ends at once, and node B refuses the token at once, not
        # when its token cache would have expired
        async with asyncio.timeout(WAIT):
            while not alice.session_ended:
                await asyncio.sleep(0.02)
        with pytest.raises(KurirError) as refused:
            await phone.call("users.get", user_id=uid(alice))
        assert refused.value.type == "AUTH_KEY_INVALID"
    finally:
        await phone.close()
        await laptop.close()


async def test_a_button_pressed_on_one_process_is_answered_on_the_other(
    cluster: Cluster, clients
) -> None:
    a, b = cluster.nodes
    user = await clients(a, "Presser")
    made = await user.create_bot(unique_name("x") + "bot", "Cluster Bot")
    async with httpx.AsyncClient(base_url=b.url, timeout=30) as http:
        bot = Bot(http, made["token"], made["bot"]["id"], made["bot"]["username"])
        chat = await user.send_message(user_id=bot.id, text="/start")
        await bot.take(1)
        keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "yes"}]]}
        msg = await bot("sendMessage", chat_id=uid(user), text="sure?", reply_markup=keyboard)
        press = asyncio.create_task(user.press_button(chat["chat_id"], msg["message_id"], "yes"))
        query = await bot.take_one("callback_query")
        assert await bot("answerCallbackQuery", callback_query_id=query["id"], text="done")
        assert await asyncio.wait_for(press, WAIT) == {"alert": False, "message": "done"}


async def test_a_poll_on_one_process_ends_an_older_one_on_the_other(
    cluster: Cluster, clients
) -> None:
    a, b = cluster.nodes
    user = await clients(a, "Writer")
    made = await user.create_bot(unique_name("p") + "bot", "Poll Bot")
    async with httpx.AsyncClient(base_url=a.url, timeout=30) as http_a, \
            httpx.AsyncClient(base_url=b.url, timeout=30) as http_b:
        bot_a = Bot(http_a, made["token"], made["bot"]["id"], made["bot"]["username"])
        bot_b = Bot(http_b, made["token"], made["bot"]["id"], made["bot"]["username"])
        first = asyncio.create_task(bot_a.raw("getUpdates", {"timeout": 20}))
        await asyncio.sleep(0.5)  # the first is waiting, on process A
        assert not first.done()
        second = asyncio.create_task(bot_b.raw("getUpdates", {"timeout": 20}))
        r = await asyncio.wait_for(first, WAIT)
        assert r.status_code == 409 and "terminated by other getUpdates" in r.json()["description"]
        await user.send_message(user_id=bot_b.id, text="for the second")
        r = await asyncio.wait_for(second, WAIT)
        assert [u["message"]["text"] for u in r.json()["result"]] == ["for the second"]


async def test_a_webhook_is_posted_once_by_one_process(cluster: Cluster, clients) -> None:
    a, b = cluster.nodes
    user = await clients(a, "Writer")
    made = await user.create_bot(unique_name("w") + "bot", "Hook Bot")
    async with httpx.AsyncClient(base_url=b.url, timeout=30) as http, Receiver() as hook:
        bot = Bot(http, made["token"], made["bot"]["id"], made["bot"]["username"])
        assert await bot("setWebhook", url=hook.url) is True
        for i in range(30):
            await user.send_message(user_id=bot.id, text=f"m{i}")
        got = await hook.wait_for(30)
        await asyncio.sleep(0.5)  # a second deliverer would have posted again by now
        texts = [h.update["message"]["text"] for h in hook.got]
        assert texts == [f"m{i}" for i in range(30)]
        ids = [h.update["update_id"] for h in got]
        assert ids == sorted(set(ids))


# losing a process or the broker ------------------------------------------------------------

@pytest.mark.slow
async def test_webhook_delivery_moves_to_another_process_when_its_holder_dies(clients) -> None:
    cluster = start_cluster("redis")
    try:
        a, b = cluster.nodes
        user = await clients(a, "Writer")
        made = await user.create_bot(unique_name("w") + "bot", "Hook Bot")
        async with httpx.AsyncClient(base_url=b.url, timeout=30) as http, Receiver() as hook:
            bot = Bot(http, made["token"], made["bot"]["id"], made["bot"]["username"])
            assert await bot("setWebhook", url=hook.url) is True
            await user.send_message(user_id=bot.id, text="first")
            await hook.wait_for(1)
            with psycopg.connect(cluster.database_url) as conn:
                row = conn.execute("SELECT webhook_node FROM bots WHERE user_id = %s",
                                   (bot.id,)).fetchone()
            assert row is not None
            holder = next(n for n in cluster.nodes
                          if httpx.get(n.url + "/healthz").json()["node"] == row[0])
            survivor = b if holder is a else a
            holder.kill()
            writer = Client(survivor.url, token=user.token)
            try:
                for i in range(5):
                    await writer.send_message(user_id=bot.id, text=f"after {i}")
                # the survivor takes the lease once it ran out (3 x DEAD_AFTER seconds)
                await hook.wait_for(6, timeout=10 * DEAD_AFTER)
            finally:
                await writer.close()
            texts = [h.update["message"]["text"] for h in hook.got]
            assert texts == ["first"] + [f"after {i}" for i in range(5)]
    finally:
        cluster.drop()


@pytest.mark.slow
@pytest.mark.parametrize("broker", list(BROKERS))
async def test_a_killed_process_loses_nothing(broker: str) -> None:
    cluster = start_cluster(broker)
    a, b = cluster.nodes
    alice = Client(a.url)
    bob = Client(b.url)
    watcher = Client(b.url)
    try:
        for c, name in ((alice, "Alice"), (bob, "Bob"), (watcher, "Watcher")):
            await c.register(unique_name(), PASSWORD, name)
            await c.connect()
        first = await bob.send_message(user_id=uid(alice), text="0")
        await watcher.send_message(user_id=uid(alice), text="hello")  # peers: sees her status
        await next_message(alice)
        await next_message(alice)
        pts = alice.pts
        # node A dies without a word; bob keeps sending through node B meanwhile
        a.kill()
        acked = [await bob.send_message(chat_id=first["chat_id"], text=str(i))
                 for i in range(1, 21)]
        # alice's app reconnects elsewhere with the pts it had, and fills the gap
        await alice.close()
        again = Client(b.url, token=alice.token)
        again.user, again.pts = alice.user, pts
        try:
            await again.connect()
            got = [await next_message(again) for _ in acked]
            assert [u["message"] for u in got] == acked
            assert [u["pts"] for u in got] == list(range(pts + 1, pts + 21))  # type: ignore[operator]
        finally:
            await again.close()
        # node B takes A for dead once its heartbeat is missed: alice's socket there is
        # forgotten; she is online again only through her new socket (which closed)
        gone = await next_event(watcher, "user_status", user_id=uid(alice), online=False)
        assert gone["online"] is False
    finally:
        for c in (alice, bob, watcher):
            await c.close()
        cluster.drop()


async def _kill_sub_connections(names: set[str]) -> int:
    """Cut the Redis connections of these buses' subscriptions (as a broker restart would),
    once they are there (a bus reconnects after a pause)."""
    r = redis.Redis(host="127.0.0.1", port=6379)
    try:
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            found = [c for c in r.client_list() if c.get("name") in names]
            if found:
                return sum(int(r.client_kill_filter(_id=c["id"])) for c in found)
            await asyncio.sleep(0.02)
        return 0
    finally:
        r.close()


async def test_a_broker_outage_costs_latency_not_messages(clients) -> None:
    cluster = start_cluster("redis")
    try:
        a, b = cluster.nodes
        alice = await clients(a, "Alice")
        bob = await clients(b, "Bob")
        first = await alice.send_message(user_id=uid(bob), text="before")
        await next_message(bob)
        node = httpx.get(b.url + "/healthz").json()["node"]
        sent = []
        for i in range(10):
            # bob's node loses its subscription again and again; what is published while
            # it is away is gone from the broker, and read from the log when it is back
            assert await _kill_sub_connections({f"kurir-{node}-sub"}) == 1
            sent.append(await alice.send_message(chat_id=first["chat_id"], text=f"m{i}"))
        got = [await next_message(bob) for _ in sent]
        assert [u["message"] for u in got] == sent
    finally:
        cluster.drop()


# one port, many workers ----------------------------------------------------------------------

@dataclass
class Workers:
    """`kurir serve --workers N` on one port."""

    broker: str
    n: int = 2
    database_url: str = ""
    port: int = 0
    data_dir: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Workers:
        import tempfile

        self.database_url = create_pg_database()
        self.data_dir = tempfile.mkdtemp(prefix="kurir-test-")
        self.port = free_port()
        env = {**os.environ, **TEST_ENV, "KURIR_NODE_DEAD_AFTER": str(DEAD_AFTER)}
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "kurir", "serve", "--host", "127.0.0.1",
             "--port", str(self.port), "--data-dir", self.data_dir,
             "--database-url", self.database_url, "--workers", str(self.n),
             "--broker-url", BROKERS[self.broker]],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.read_log()
            if len(self.pids()) == self.n:
                return self
            time.sleep(0.1)
        raise AssertionError("workers did not start: " + self.read_log())

    def pids(self, tries: int = 40) -> set[int]:
        """The worker processes answering, as seen over fresh connections."""
        seen = set()
        for _ in range(tries):
            try:
                r = httpx.get(self.url + "/healthz", timeout=2)
                if r.status_code == 200:
                    seen.add(int(r.json()["pid"]))
            except httpx.HTTPError:
                pass
        return seen

    def read_log(self) -> str:
        with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        if self.database_url:
            drop_pg_database(self.database_url)
        shutil.rmtree(self.data_dir, ignore_errors=True)


@pytest.mark.slow
async def test_workers_share_one_port_and_survive_a_killed_worker() -> None:
    workers = Workers("redis").start()
    made: list[Client] = []
    try:
        assert len(workers.pids()) == 2  # both answer on the one port
        # eight users, each socket wherever the kernel put it; a ring of messages
        for i in range(8):
            c = Client(workers.url)
            made.append(c)
            await c.register(unique_name(), PASSWORD, f"U{i}")
            await c.connect()
        for i, c in enumerate(made):
            await c.send_message(user_id=uid(made[(i + 1) % 8]), text=f"from {i}")
        for i, c in enumerate(made):
            got = await next_message(c)
            if got["message"]["from_id"] == uid(c):  # its own copy came first
                got = await next_message(c)
            assert got["message"]["text"] == f"from {(i - 1) % 8}"
        # a worker dies: its clients reconnect (to the same port: the other worker, or the
        # one started in its place) and miss nothing
        victim = next(iter(workers.pids()))
        os.kill(victim, signal.SIGKILL)

        async def send(k: int) -> dict[str, Any]:
            """As an app does: a call cut off with its socket is sent again, with the same
            random_id (so it is stored once), once the SDK has reconnected."""
            rid = new_random_id()
            for _ in range(50):
                try:
                    return await made[0].send_message(user_id=uid(made[1]), text=f"after {k}",
                                                      random_id=rid)
                except KurirError as e:
                    assert e.type == "CONNECTION_LOST", e
                    await asyncio.sleep(0.1)
            raise AssertionError("no worker took the send")

        sent = [await send(k) for k in range(5)]
        got = [await made[1].wait_for(lambda u: u["type"] == "new_message"
                                      and u["message"]["text"].startswith("after"),
                                      timeout=WAIT) for _ in sent]
        assert [u["message"] for u in got] == sent
        # the supervisor starts a new worker in its place
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            pids = workers.pids()
            if len(pids) == 2 and victim not in pids:
                break
            await asyncio.sleep(0.2)
        assert len(pids) == 2 and victim not in pids
    finally:
        for c in made:
            await c.close()
        workers.stop()


async def test_workers_need_postgres_and_a_broker(tmp_path) -> None:
    r = subprocess.run(
        [sys.executable, "-m", "kurir", "serve", "--data-dir", str(tmp_path), "--workers", "2"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **TEST_ENV})
    assert r.returncode == 2
    assert "workers > 1 needs PostgreSQL" in r.stderr
    r = subprocess.run(
        [sys.executable, "-m", "kurir", "serve", "--data-dir", str(tmp_path),
         "--broker-url", "amqp://127.0.0.1"],
        capture_output=True, text=True, timeout=60, env={**os.environ, **TEST_ENV})
    assert r.returncode == 2 and "unsupported broker_url" in r.stderr


def test_the_online_table_is_cleared_of_dead_nodes_on_a_lone_start(tmp_path) -> None:
    """A lone process (no broker) that starts after a crash forgets the sockets the crashed
    run held: nobody stays online for ever."""
    url = create_pg_database()
    try:
        first = Server("postgres", database_url=url).start()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("INSERT INTO users (id, username, username_key, display_name,"
                         " password_hash, created) VALUES (900, 'ghost', 'ghost', 'Ghost', '',"
                         " 0)")
            conn.execute("INSERT INTO nodes VALUES (77, 1, 0, 0)")
            conn.execute("INSERT INTO online VALUES (900, 77)")
        first.stop()
        second = Server("postgres", database_url=url, data_dir=first.data_dir).start()
        with psycopg.connect(url, autocommit=True) as conn:
            assert conn.execute("SELECT COUNT(*) FROM online").fetchone() == (0,)
            assert conn.execute("SELECT COUNT(*) FROM nodes WHERE id = 77").fetchone() == (0,)
        second.stop()
    finally:
        drop_pg_database(url)
        shutil.rmtree(first.data_dir, ignore_errors=True)
