"""The Database port's contract, run against both engines directly (no HTTP server).

A database is a SQLite file in a temporary directory or a new database on the PostgreSQL
server (tests.server.create_pg_database): a fresh one for each migration test, one per
engine for the rest of the module, where each test makes users of its own. The same
interactions run on both; nothing asserted here may tell the engines apart.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import random
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kurir.domain.types import Update, User
from kurir.storage import updates, users
from kurir.storage.migrate import migrations
from kurir.storage.port import Conflict, Database, Tx
from kurir.storage.postgres import PostgresDatabase
from kurir.storage.sqlite import SqliteDatabase
from tests.server import ENGINES, create_pg_database, drop_pg_database


@dataclass
class Engine:
    name: str
    location: str  # a file path (sqlite) or a database url (postgres)

    def make(self) -> Database:
        if self.name == "sqlite":
            return SqliteDatabase(self.location)
        return PostgresDatabase(self.location, pool_size=8)


@contextlib.contextmanager
def fresh_location(name: str, tmp_dir: str) -> Iterator[Engine]:
    if name == "sqlite":
        yield Engine("sqlite", os.path.join(tmp_dir, "data", "kurir.db"))
        return
    url = create_pg_database()
    try:
        yield Engine("postgres", url)
    finally:
        drop_pg_database(url)


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[Engine]:
    """Where a fresh, empty database lives; nothing is opened yet."""
    with fresh_location(request.param, str(tmp_path)) as found:
        yield found


@pytest.fixture(scope="module", params=ENGINES)
def db(request: pytest.FixtureRequest, tmp_path_factory: Any) -> Iterator[Database]:
    """One open database per engine for this module; each test makes users of its own, so
    no test sees another's rows. The engines run interactions in their own threads and are
    not bound to an event loop, so they are opened and closed outside the tests' loops."""
    with fresh_location(request.param, str(tmp_path_factory.mktemp("db"))) as found:
        database = found.make()
        asyncio.run(database.open())
        try:
            yield database
        finally:
            asyncio.run(database.close())


# interactions ------------------------------------------------------------------------------

def uname(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def create_users(tx: Tx, n: int) -> list[int]:
    out = []
    for _ in range(n):
        name = uname("u")
        out.append(users.create(tx, name, name.lower(), "Test User", None, 1000).id)
    return out


def update(marker: int) -> Update:
    """A small update that says which append it came from."""
    return Update(pts=0, type="test", message_ids=[marker])


def append(tx: Tx, marker: int, user_ids: list[int]) -> updates.Appended:
    return updates.append(tx, update(marker), user_ids, 1000 + marker)


def markers(rows: list[tuple[int, bytes]]) -> list[tuple[int, int]]:
    """(pts, marker) for each logged update, checking each body splices into an Update."""
    out = []
    for pts, body in rows:
        u = msgspec.json.decode(updates.with_pts(pts, body), type=Update)
        assert u.pts == pts and u.type == "test" and u.message_ids is not None
        out.append((pts, u.message_ids[0]))
    return out


async def log_of(db: Database, user_id: int) -> list[tuple[int, int]]:
    return markers(await db.read(updates.since, user_id, 0, 10_000))


async def new_users(db: Database, n: int) -> list[int]:
    return await db.write(create_users, n)


class Boom(Exception):
    pass


# migrations --------------------------------------------------------------------------------

def applied(tx: Tx) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in tx.all("SELECT number, name, applied FROM schema_migrations"
                                     " ORDER BY number")]


async def test_migrations_apply_and_reopening_applies_nothing_twice(engine: Engine) -> None:
    first = engine.make()
    await first.open()
    try:
        done = await first.read(applied)
        expected = migrations(first.dialect)
        assert [(n, name) for n, name, _ in done] == [(m.number, m.name) for m in expected]
        assert len(done) >= 1
        [uid] = await new_users(first, 1)
        await first.write(append, 1, [uid])
    finally:
        await first.close()

    for _ in range(2):
        again = engine.make()
        await again.open()  # a second apply of 0001 would fail: its tables exist
        try:
            assert await again.read(applied) == done  # same rows, same timestamps
            assert await log_of(again, uid) == [(1, 1)]
            assert (await again.read(users.by_id, uid)) is not None
        finally:
            await again.close()


async def test_instances_opening_a_new_database_together_take_turns(engine: Engine) -> None:
    """Two processes on one database (two `kurir serve` on one PostgreSQL, as postgres.py's
    migration lock is for) may start at once on a fresh one: each open must wait for the
    other's migrations, not apply them again."""
    many = [engine.make() for _ in range(4)]
    try:
        outcomes = await asyncio.gather(*(d.open() for d in many), return_exceptions=True)
        assert outcomes == [None] * len(many)
        done = await many[0].read(applied)
        assert [n for n, _, _ in done] == [m.number for m in migrations(engine.name)]
        [uid] = await new_users(many[1], 1)
        assert await many[2].read(updates.current, uid) == 0
    finally:
        for d in many:
            await d.close()


# write and read ----------------------------------------------------------------------------

async def test_write_commits_and_read_sees_it(db: Database) -> None:
    name = uname("Alice")

    def make(tx: Tx) -> User:
        return users.create(tx, name, name.lower(), "Alice", "hash", 1234)

    alice = await db.write(make)
    assert alice.id >= 1 and alice.username == name and alice.display_name == "Alice"
    assert await db.read(users.by_id, alice.id) == alice
    assert await db.read(users.by_username, name.lower()) == alice
    assert await db.read(users.password_hash, name.lower()) == (alice.id, "hash")
    assert await db.read(updates.current, alice.id) == 0
    # several readers at once see the same committed state
    seen = await asyncio.gather(*(db.read(users.by_id, alice.id) for _ in range(8)))
    assert seen == [alice] * 8


async def test_read_keeps_nothing(db: Database) -> None:
    [uid] = await new_users(db, 1)

    def sneaky(tx: Tx) -> None:
        tx.execute("UPDATE users SET display_name = 'changed' WHERE id = ?", (uid,))

    with contextlib.suppress(Exception):  # refusing the write outright is fine too
        await db.read(sneaky)
    user = await db.read(users.by_id, uid)
    assert user is not None and user.display_name == "Test User"


async def test_read_is_one_consistent_snapshot(db: Database) -> None:
    """The port promises `read` "a consistent snapshot": a write that commits while a read
    runs is not seen half-way through it. (getDifference reads the log, then the user's
    pts: seeing a newer pts than the log it read would make a client skip an update.)"""
    [uid] = await new_users(db, 1)
    await db.write(append, 1, [uid])
    first_done, go_on = threading.Event(), threading.Event()

    def reader(tx: Tx) -> tuple[int, list[tuple[int, bytes]], int]:
        before = updates.current(tx, uid)
        first_done.set()
        assert go_on.wait(10)
        return before, updates.since(tx, uid, 0, 100), updates.current(tx, uid)

    task = asyncio.ensure_future(db.read(reader))
    try:
        assert await asyncio.to_thread(first_done.wait, 10)
        await db.write(append, 2, [uid])  # commits while the read is open
    finally:
        go_on.set()
    before, rows, after = await task
    assert (before, markers(rows), after) == (1, [(1, 1)], 1)
    assert await log_of(db, uid) == [(1, 1), (2, 2)]


async def test_an_exception_rolls_everything_back(db: Database) -> None:
    a, b = await new_users(db, 2)
    await db.write(append, 1, [a, b])
    ghost = uname("ghost")

    def failing(tx: Tx) -> None:
        users.create(tx, ghost, ghost, "Ghost", None, 1)
        got = append(tx, 2, [a, b])
        assert got.recipients == [(a, 2), (b, 2)]  # allocated inside the transaction
        append(tx, 3, [b])
        raise Boom("changed my mind")

    with pytest.raises(Boom, match="changed my mind"):
        await db.write(failing)

    assert await db.read(users.by_username, ghost) is None
    assert await db.read(updates.current, a) == 1
    assert await db.read(updates.current, b) == 1
    assert await log_of(db, a) == [(1, 1)]
    assert await log_of(db, b) == [(1, 1)]
    # the pts taken back are handed out again: no gap
    got = await db.write(append, 4, [b, a])
    assert got.recipients == [(a, 2), (b, 2)]
    assert await log_of(db, a) == [(1, 1), (2, 4)]
    assert await log_of(db, b) == [(1, 1), (2, 4)]


async def test_the_value_returned_by_write_is_the_functions(db: Database) -> None:
    assert await db.write(lambda tx, x, y: (tx.dialect, x + y), 2, 3) == (db.dialect, 5)
    assert await db.read(lambda tx: tx.one("SELECT 1 + 1")) == (2,)


# Conflict ----------------------------------------------------------------------------------

async def test_conflict_from_execute_and_executemany_rolls_back(db: Database) -> None:
    [a] = await new_users(db, 1)
    bob = uname("bob")

    def duplicate_state(tx: Tx) -> None:
        users.create(tx, bob, bob, "Bob", None, 1)
        append(tx, 1, [a])
        tx.execute("INSERT INTO user_states (user_id, pts) VALUES (?, 0)", (a,))

    def duplicate_many(tx: Tx) -> None:
        users.create(tx, bob, bob, "Bob", None, 1)
        append(tx, 1, [a])
        tx.executemany("INSERT INTO user_states (user_id, pts) VALUES (?, 0)", [(a,)])

    for fn in (duplicate_state, duplicate_many):
        with pytest.raises(Conflict):
            await db.write(fn)
        assert await db.read(users.by_username, bob) is None
        assert await db.read(updates.current, a) == 0
    # the engine is usable after a conflict
    assert (await db.write(append, 9, [a])).recipients == [(a, 1)]


async def test_a_taken_username_is_a_conflict(db: Database) -> None:
    """users.create inserts with `INSERT … RETURNING` through `tx.one`: a unique violation
    there must be a Conflict too (auth.register turns Conflict into USERNAME_OCCUPIED)."""
    [a] = await new_users(db, 1)
    carol, dave = uname("Carol"), uname("dave")
    await db.write(lambda tx: users.create(tx, carol, carol.lower(), "Carol", None, 1))

    def again(tx: Tx) -> None:
        users.create(tx, dave, dave, "Dave", None, 1)
        append(tx, 1, [a])
        users.create(tx, carol.upper(), carol.lower(), "Another Carol", None, 1)

    with pytest.raises(Conflict):
        await db.write(again)
    assert await db.read(users.by_username, dave) is None
    first = await db.read(users.by_username, carol.lower())
    assert first is not None and first.display_name == "Carol"
    assert await db.read(updates.current, a) == 0
    assert (await db.write(append, 2, [a])).recipients == [(a, 1)]


# the update log ----------------------------------------------------------------------------

async def test_append_gives_each_user_their_next_pts(db: Database) -> None:
    u1, u2, u3, u4 = await new_users(db, 4)
    a = await db.write(append, 1, [u3, u1, u2])
    b = await db.write(append, 2, [u2])
    c = await db.write(append, 3, [u1, u3, u1, u3])  # repeats count once
    d = await db.write(append, 4, [])
    assert a.recipients == [(u1, 1), (u2, 1), (u3, 1)]
    assert b.recipients == [(u2, 2)]
    assert c.recipients == [(u1, 2), (u3, 2)]
    assert d.recipients == []
    # the body is encoded once, without a pts; each recipient's copy gets theirs
    assert msgspec.json.decode(a.body) == {"type": "test", "message_ids": [1]}
    assert msgspec.json.decode(updates.with_pts(7, a.body)) == {
        "pts": 7, "type": "test", "message_ids": [1],
    }
    assert await log_of(db, u1) == [(1, 1), (2, 3)]
    assert await log_of(db, u2) == [(1, 1), (2, 2)]
    assert await log_of(db, u3) == [(1, 1), (2, 3)]
    assert await log_of(db, u4) == []
    assert [await db.read(updates.current, u) for u in (u1, u2, u3, u4)] == [2, 2, 2, 0]


async def test_since_and_between_page_through_the_log_in_order(db: Database) -> None:
    me, other = await new_users(db, 2)
    for i in range(1, 11):
        await db.write(append, i, [me] if i % 3 else [me, other])
    full = await db.read(updates.since, me, 0, 100)
    assert markers(full) == [(p, p) for p in range(1, 11)]
    assert markers(await db.read(updates.since, me, 0, 3)) == [(1, 1), (2, 2), (3, 3)]
    assert markers(await db.read(updates.since, me, 7, 100)) == [(8, 8), (9, 9), (10, 10)]
    assert await db.read(updates.since, me, 10, 100) == []
    assert markers(await db.read(updates.between, me, 2, 5)) == [(3, 3), (4, 4), (5, 5)]
    assert await db.read(updates.between, me, 5, 5) == []
    assert await db.read(updates.between, me, 10, 20) == []
    # the other user's log holds the same bodies under their own pts
    assert markers(await db.read(updates.since, other, 0, 100)) == [(1, 3), (2, 6), (3, 9)]
    # what since returns is exactly the body that append returned
    appended = await db.write(append, 11, [me, other])
    assert (await db.read(updates.since, me, 10, 1))[0] == (11, appended.body)
    assert (await db.read(updates.between, other, 3, 4))[0] == (4, appended.body)


def check_logs(logs: dict[int, list[tuple[int, int]]], expected: dict[int, set[int]]) -> None:
    """Each user's log is pts 1..n without gaps and holds exactly the updates sent them;
    two users who got the same two updates got them in the same order."""
    for uid, log in logs.items():
        assert [p for p, _ in log] == list(range(1, len(log) + 1)), (uid, log)
        assert sorted(m for _, m in log) == sorted(expected[uid]), uid
    order = {uid: [m for _, m in log] for uid, log in logs.items()}
    for u, v in itertools.combinations(order, 2):
        common = set(order[u]) & set(order[v])
        assert [m for m in order[u] if m in common] == [m for m in order[v] if m in common]


async def test_concurrent_appends_keep_every_log_gap_free(
    db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """50 writes at once to overlapping sets of users, each listing them in its own order
    (on PostgreSQL they run on parallel connections: locks must be taken in one order, so
    that no deadlock ever has to be detected and retried)."""
    caplog.set_level(logging.INFO, logger="kurir.storage")
    uids = await new_users(db, 10)
    rng = random.Random(20240601)
    plans: list[list[int]] = []
    for _ in range(50):
        chosen = rng.sample(uids, rng.randint(2, 7))
        plans.append(chosen + rng.sample(chosen, 1))  # in a random order, one repeated

    results = await asyncio.gather(
        *(db.write(append, marker, plan) for marker, plan in enumerate(plans, 1))
    )
    expected: dict[int, set[int]] = {u: set() for u in uids}
    for marker, (plan, got) in enumerate(zip(plans, results, strict=True), 1):
        assert [u for u, _ in got.recipients] == sorted(set(plan))
        for u in plan:
            expected[u].add(marker)
    logs = {u: await log_of(db, u) for u in uids}
    check_logs(logs, expected)
    for u in uids:
        assert await db.read(updates.current, u) == len(expected[u])
    # what each write was told matches what its recipients can read
    for marker, got in enumerate(results, 1):
        for u, pts in got.recipients:
            assert (pts, marker) in logs[u]
    assert [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()] == []


async def test_concurrent_appends_with_failures_in_between(db: Database) -> None:
    """Failed transactions among concurrent ones leave no gap in anyone's log."""
    uids = await new_users(db, 6)
    rng = random.Random(7)
    plans = [rng.sample(uids, rng.randint(1, 6)) for _ in range(40)]
    failing = {m for m in range(1, 41) if m % 4 == 0}

    def maybe_fail(tx: Tx, marker: int, plan: list[int]) -> None:
        append(tx, marker, plan)
        if marker in failing:
            raise Boom(str(marker))

    results = await asyncio.gather(
        *(db.write(maybe_fail, m, p) for m, p in enumerate(plans, 1)), return_exceptions=True
    )
    assert [isinstance(r, Boom) for r in results] == [m in failing for m in range(1, 41)]
    expected: dict[int, set[int]] = {u: set() for u in uids}
    for marker, plan in enumerate(plans, 1):
        if marker not in failing:
            for u in plan:
                expected[u].add(marker)
    check_logs({u: await log_of(db, u) for u in uids}, expected)


# a property: any sequence of appends, some failing, gives every user exactly pts 1..n -----

ops_strategy = st.lists(
    st.tuples(st.lists(st.integers(0, 4), max_size=6), st.booleans()), max_size=15
)


@settings(max_examples=30, deadline=None)
@given(n_users=st.integers(1, 5), ops=ops_strategy)
async def test_random_appends_give_every_user_pts_1_to_n(
    db: Database, n_users: int, ops: list[tuple[list[int], bool]]
) -> None:
    uids = await new_users(db, n_users)  # fresh users for each example: their pts start at 0
    expected: dict[int, list[int]] = {u: [] for u in uids}
    for marker, (picks, fail) in enumerate(ops, 1):
        targets = [uids[i % n_users] for i in picks]

        def txn(tx: Tx, marker: int = marker, targets: list[int] = targets,
                fail: bool = fail) -> updates.Appended:
            got = append(tx, marker, targets)
            if fail:
                raise Boom
            return got

        if fail:
            with pytest.raises(Boom):
                await db.write(txn)
            continue
        got = await db.write(txn)
        for u in sorted(set(targets)):
            expected[u].append(marker)
        assert got.recipients == [(u, len(expected[u])) for u in sorted(set(targets))]
    for u in uids:
        log = await log_of(db, u)
        assert log == list(enumerate(expected[u], 1))
        assert await db.read(updates.current, u) == len(expected[u])
