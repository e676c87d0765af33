"""The embedded engine: SQLite in WAL mode.

One writer thread owns the only write connection (SQLite allows one writer at a time, so a
queue in front of it is the honest model); a few reader threads read snapshots in parallel.
`synchronous=NORMAL` in WAL mode keeps every committed transaction through a crash of the
process (kill -9); only a power loss may take the last commits back (`synchronous=FULL`
closes that too, at the cost of an fsync per commit: `--sqlite-synchronous full`).
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from kurir.storage.migrate import migrations
from kurir.storage.port import Conflict, Dialect, Row

T = TypeVar("T")


def split_statements(script: str) -> list[str]:
    """A script's statements, whole (a trigger's body holds semicolons of its own)."""
    out: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                out.append(pending.strip())
            pending = ""
    if pending.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in pending.splitlines()
    ):
        raise ValueError(f"incomplete SQL statement: {pending[:80]!r}")
    return out


class SqliteTx:
    dialect: Dialect = "sqlite"

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def _cursor(self, sql: str, params: Sequence[Any]) -> sqlite3.Cursor:
        try:
            return self._conn.execute(sql, params)
        except sqlite3.IntegrityError as e:
            raise Conflict(str(e)) from e

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._cursor(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        try:
            self._conn.executemany(sql, rows)
        except sqlite3.IntegrityError as e:
            raise Conflict(str(e)) from e

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self._cursor(sql, params).fetchone()
        return row

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._cursor(sql, params).fetchall()


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, path: str, *, readers: int = 2, synchronous: str = "normal") -> None:
        self.path = path
        self._synchronous = synchronous.upper()
        if self._synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be normal or full")
        self._local = threading.local()
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="sqlite-writer")
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA busy_timeout=10000")  # first: the next pragma may wait
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA cache_size=-32000")
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _run_write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(SqliteTx(conn), *args)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            return fn(SqliteTx(conn), *args)
        finally:
            conn.execute("ROLLBACK")

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._run_write, fn, args)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn, args)

    def _migrate(self) -> None:
        """Apply what is missing, all under the write lock: processes opening a new file
        together take turns, and the second finds the first one's work done."""

        def txn(tx: SqliteTx) -> None:
            tx.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations (number INTEGER PRIMARY KEY,"
                " name TEXT NOT NULL, applied BIGINT NOT NULL)"
            )
            done = {r[0] for r in tx.all("SELECT number FROM schema_migrations")}
            for m in migrations("sqlite"):
                if m.number in done:
                    continue
                for statement in split_statements(m.sql):
                    tx.execute(statement)
                tx.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, strftime('%s','now'))",
                    (m.number, m.name),
                )

        self._run_write(txn, ())

    async def open(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._writer, self._migrate)

    async def close(self) -> None:
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
