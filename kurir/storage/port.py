"""The Database port: the narrow seam between services and a storage engine."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Literal, Protocol, TypeVar

T = TypeVar("T")
Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgres"]


class Tx(Protocol):
    """One open transaction. Methods are synchronous: interactions run in a DB thread."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement; return the number of rows it changed."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None: ...

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...


class Database(Protocol):
    dialect: Dialect

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(tx, *args)` in a read-write transaction and commit it.

        The function may be run again if the engine reports a serialization failure or a
        deadlock, so it must not have side effects outside the transaction.
        """
        ...

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(tx, *args)` on a consistent snapshot; nothing it does is kept."""
        ...

    async def write_aside(self, fn: Callable[..., T], *args: Any) -> T:
        """As `write`, on a lane of its own: for short transactions that take no lock a
        send takes (a bot's update queue), so that they never wait behind sends queued
        on a hot row. An engine with one writer runs it as `write`."""
        ...

    async def open(self) -> None:
        """Connect and bring the schema up to date."""
        ...

    async def close(self) -> None: ...


class Conflict(Exception):
    """A unique constraint refused a row (the engines' IntegrityError, made one type)."""
