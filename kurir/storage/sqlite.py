"""The embedded engine: SQLite in WAL mode.

One writer thread owns the only write connection (SQLite allows one writer at a time, so a
queue in front of it is the honest model); a few reader threads read snapshots in parallel.

Group commit: the writer takes every interaction waiting in its queue (up to MAX_BATCH) and
runs them one after another inside one transaction, each in a savepoint of its own, so one
that fails is rolled back alone and the others are unaffected; all of them are answered
only after the one COMMIT (a batch of one needs no savepoint). Each sees the ones before
it, exactly as if run one by one, and under load a batch costs one commit (one WAL append,
one wake-up of the event loop) instead of many.
`synchronous=NORMAL` in WAL mode keeps every committed transaction through a crash of the
process (kill -9); only a power loss may take the last commits back (`synchronous=FULL`
closes that too, at the cost of an fsync per commit: `--sqlite-synchronous full`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from kurir.storage.migrate import migrations
from kurir.storage.port import Conflict, Dialect, Row

T = TypeVar("T")
MAX_BATCH = 64
CHECKPOINT_EVERY = 0.5  # seconds between copies of the WAL into the database file


class _Job:
    __slots__ = ("args", "fn", "future", "loop")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...],
                 loop: asyncio.AbstractEventLoop, future: asyncio.Future[Any]) -> None:
        self.fn, self.args, self.loop, self.future = fn, args, loop, future


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():
        return  # the caller went away; the write stands, as any committed write does
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _settle_all(outcomes: list[tuple[_Job, Any, BaseException | None]]) -> None:
    for job, result, error in outcomes:
        _settle(job.future, result, error)


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


def _migrate(tx: SqliteTx) -> None:
    """Apply what is missing, under the write lock: processes opening a new file together
    take turns, and the second finds the first one's work done."""
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


class SqliteDatabase:
    dialect: Dialect = "sqlite"

    def __init__(self, path: str, *, readers: int = 2, synchronous: str = "normal") -> None:
        self.path = path
        self._synchronous = synchronous.upper()
        if self._synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be normal or full")
        self._local = threading.local()
        self._jobs: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer",
                                        daemon=True)
        self._readers = ThreadPoolExecutor(readers, thread_name_prefix="sqlite-reader")
        self._stopping = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop,
                                              name="sqlite-checkpoint", daemon=True)
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

    def _checkpoint_loop(self) -> None:
        """Copy the WAL back into the database file, off the writer's thread: the writer
        never checkpoints itself (wal_autocheckpoint=0), so no commit waits for one."""
        conn = self._connect()
        while not self._stopping.wait(CHECKPOINT_EVERY):
            # busy or closing: the next round tries again
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def _write_loop(self) -> None:
        try:
            conn = self._connect()
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        except Exception as e:  # the file cannot be opened: fail every write, hang none
            while (job := self._jobs.get()) is not None:
                job.loop.call_soon_threadsafe(_settle, job.future, None, e)
            return
        tx = SqliteTx(conn)
        while True:
            job = self._jobs.get()
            if job is None:
                return
            batch = [job]
            while len(batch) < MAX_BATCH:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(more)
            self._run_batch(conn, tx, batch)

    @staticmethod
    def _run_batch(conn: sqlite3.Connection, tx: SqliteTx, batch: list[_Job]) -> None:
        outcomes: list[tuple[_Job, Any, BaseException | None]] = []
        alone = len(batch) == 1  # no savepoint needed: its failure rolls back all there is
        try:
            conn.execute("BEGIN IMMEDIATE")
            for job in batch:
                if not alone:
                    conn.execute("SAVEPOINT job")
                try:
                    result = job.fn(tx, *job.args)
                except Exception as e:
                    if alone:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                    else:
                        conn.execute("ROLLBACK TO job")
                        conn.execute("RELEASE job")
                    outcomes.append((job, None, e))
                else:
                    if not alone:
                        conn.execute("RELEASE job")
                    outcomes.append((job, result, None))
            if conn.in_transaction:
                conn.execute("COMMIT")
        except Exception as e:  # the commit itself failed (disk full, I/O error): none stands
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            outcomes = [(job, None, e) for job in batch]
        # one wake-up of the event loop for the whole batch, not one per job
        by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, Any, BaseException | None]]]
        by_loop = {}
        for outcome in outcomes:
            by_loop.setdefault(outcome[0].loop, []).append(outcome)
        for loop, settled in by_loop.items():
            loop.call_soon_threadsafe(_settle_all, settled)

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        conn = self._connect()
        conn.execute("BEGIN")
        try:
            return fn(SqliteTx(conn), *args)
        finally:
            conn.execute("ROLLBACK")

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._jobs.put(_Job(fn, args, loop, future))
        return await future

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, fn, args)

    async def write_aside(self, fn: Callable[..., T], *args: Any) -> T:
        return await self.write(fn, *args)  # one writer: nothing waits on row locks here

    async def open(self) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, exist_ok=True)
        self._writer.start()
        await self.write(_migrate)
        self._checkpointer.start()

    async def close(self) -> None:
        self._stopping.set()
        if self._checkpointer.is_alive():
            await asyncio.to_thread(self._checkpointer.join)
        if self._writer.is_alive():
            self._jobs.put(None)
            await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
