"""PostgreSQL, through psycopg 3 and a connection pool, one thread per connection.

Interactions are the same plain functions as on SQLite. Statements are written with `?`
and rewritten to psycopg's `%s` once per distinct statement; psycopg prepares a statement
on the server after a few uses on a connection. Isolation is READ COMMITTED: the rows that
must be serialized (a chat's message counter, a user's pts) are updated first and so stay
locked until commit, always in the same order (chat, then users by ascending id), and a
deadlock or serialization failure re-runs the interaction.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
import psycopg.errors
from psycopg.types.numeric import Int8Dumper
from psycopg_pool import ConnectionPool

from kurir.storage.migrate import migrations
from kurir.storage.port import Conflict, Dialect, Row

T = TypeVar("T")
log = logging.getLogger(__name__)
RETRIES = 10
# A lock key of our own for migrations, so that processes starting together take turns.
MIGRATION_LOCK = 0x6B75726972
ASIDE_SIZE = 2


REPEATABLE_READ = psycopg.IsolationLevel.REPEATABLE_READ


def _configure(conn: psycopg.Connection[Any]) -> None:
    """Every Python int goes as a bigint: psycopg would otherwise pick smallint, integer or
    bigint by value, and prepare one statement per combination (five of messages.history
    were seen on one connection, docs/postgres.md)."""
    conn.adapters.register_dumper(int, Int8Dumper)


@functools.lru_cache(maxsize=4096)
def _to_pyformat(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresTx:
    dialect: Dialect = "postgres"

    __slots__ = ("_conn",)

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._cursor(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            with self._conn.cursor() as cur:
                cur.executemany(_to_pyformat(sql), rows)
        except psycopg.errors.UniqueViolation as e:
            raise Conflict(str(e)) from e

    def _cursor(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor[Any]:
        try:
            if not params:
                return self._conn.execute(sql.encode())
            return self._conn.execute(_to_pyformat(sql), params)
        except psycopg.errors.UniqueViolation as e:
            raise Conflict(str(e)) from e

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self._cursor(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._cursor(sql, params).fetchall()


class PostgresDatabase:
    dialect: Dialect = "postgres"

    def __init__(self, url: str, *, pool_size: int = 8) -> None:
        self.url = url
        self._pool = ConnectionPool(
            url, min_size=pool_size, max_size=pool_size, open=False,
            kwargs={"autocommit": False, "prepare_threshold": 3}, configure=_configure,
        )
        self._threads = ThreadPoolExecutor(pool_size, thread_name_prefix="pg")
        # the aside lane (see Database.write_aside): its own connections and threads
        self._aside_pool = ConnectionPool(
            url, min_size=ASIDE_SIZE, max_size=ASIDE_SIZE, open=False,
            kwargs={"autocommit": False, "prepare_threshold": 3}, configure=_configure,
        )
        self._aside_threads = ThreadPoolExecutor(ASIDE_SIZE, thread_name_prefix="pg-aside")

    def _run(self, fn: Callable[..., T], args: tuple[Any, ...], read_only: bool,
             pool: ConnectionPool | None = None) -> T:
        for attempt in range(RETRIES):
            with (pool or self._pool).connection() as conn:
                # a read sees one snapshot throughout (a difference must not see a newer pts
                # than the log rows it read); said in the BEGIN itself, no round trip more
                conn.isolation_level = REPEATABLE_READ if read_only else None
                conn.read_only = read_only
                try:
                    with conn.transaction():
                        return fn(PostgresTx(conn), *args)
                except (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected):
                    if attempt == RETRIES - 1:
                        raise
                    log.info("retrying %s after a conflict", getattr(fn, "__name__", fn))
        raise AssertionError("unreachable")

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, fn, args, False)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, fn, args, True)

    async def write_aside(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._aside_threads, self._run, fn, args, False,
                                          self._aside_pool)

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied BIGINT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT number FROM schema_migrations")}
            for m in migrations("postgres"):
                if m.number in done:
                    continue
                conn.execute(m.sql.encode())  # several statements, no parameters
                conn.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s,"
                    " extract(epoch from now())::bigint)",
                    (m.number, m.name),
                )

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._threads, functools.partial(self._pool.open, wait=True))
        await loop.run_in_executor(self._threads,
                                   functools.partial(self._aside_pool.open, wait=True))
        await loop.run_in_executor(self._threads, self._migrate)

    async def close(self) -> None:
        self._threads.shutdown(wait=True)
        self._aside_threads.shutdown(wait=True)
        self._pool.close()
        self._aside_pool.close()
