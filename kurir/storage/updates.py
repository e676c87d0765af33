"""The update log: per-user pts, gap-free (as Telegram's pts).

A user's pts lives in `user_states`; appending bumps it inside the writing transaction, so
the row stays locked until commit and a rollback takes the number back: the n-th update a
user can ever read has pts n. An update's body is stored once however many users get it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from kurir.domain.types import Update
from kurir.storage import chats
from kurir.storage.port import Tx

_encoder = msgspec.json.Encoder()
_PTS0 = b'{"pts":0,'


def encode_body(update: Update) -> bytes:
    """Encode an update once, without its pts (see `frame`)."""
    raw = _encoder.encode(update)
    assert raw.startswith(_PTS0)
    return b"{" + raw[len(_PTS0):]


def with_pts(pts: int, body: bytes) -> bytes:
    """The update as JSON for one recipient: the shared body with that user's pts."""
    return b'{"pts":%d,%s' % (pts, body[1:])


def _allocate(tx: Tx, ids: list[int]) -> dict[int, int]:
    """Bump the pts of each user and return the new values (SQLite: one writer at a time,
    so the order of the row updates does not matter; PostgreSQL: see _append_pg)."""
    marks = ",".join("?" * len(ids))
    rows = tx.all(
        f"UPDATE user_states SET pts = pts + 1 WHERE user_id IN ({marks}) RETURNING user_id, pts",
        ids,
    )
    return {int(u): int(p) for u, p in rows}


def append(tx: Tx, update: Update, user_ids: Iterable[int], date: int) -> Appended:
    """Append one update to the logs of `user_ids`; return what to push after commit."""
    body = encode_body(update)
    ids = sorted(set(user_ids))
    if not ids:
        return Appended(body, [])
    if tx.dialect == "postgres":
        return Appended(body, _append_pg(tx, _APPEND_TO_IDS, body, (ids,), date))
    pts = _allocate(tx, ids)
    row = tx.one("INSERT INTO update_bodies (body) VALUES (?) RETURNING id", (body,))
    assert row is not None
    body_id = row[0]
    tx.executemany(
        "INSERT INTO user_updates (user_id, pts, body_id, date) VALUES (?, ?, ?, ?)",
        [(u, p, body_id, date) for u, p in pts.items()],
    )
    return Appended(body, sorted(pts.items()))


# The whole append in one round trip: store the body, lock the recipients' pts rows in id
# order, bump them, and write their log rows. {who} picks the recipients' user_states rows.
_APPEND_PG = (
    "WITH body AS (INSERT INTO update_bodies (body) VALUES (?) RETURNING id),"
    " locked AS (SELECT user_id FROM user_states WHERE {who} ORDER BY user_id FOR UPDATE),"
    " bumped AS (UPDATE user_states s SET pts = s.pts + 1 FROM locked"
    " WHERE s.user_id = locked.user_id RETURNING s.user_id, s.pts)"
    " INSERT INTO user_updates (user_id, pts, body_id, date)"
    " SELECT bumped.user_id, bumped.pts, body.id, ? FROM bumped, body"
    " RETURNING user_id, pts"
)
_APPEND_TO_IDS = _APPEND_PG.format(who="user_id = ANY(?)")
_APPEND_TO_MEMBERS = _APPEND_PG.format(
    who="user_id IN (SELECT user_id FROM chat_members WHERE chat_id = ? AND status = 'member')"
        " OR user_id = ANY(?)")


def _append_pg(tx: Tx, sql: str, body: bytes, params: tuple[Any, ...],
               date: int) -> list[tuple[int, int]]:
    rows = tx.all(sql, (body, *params, date))
    return sorted((int(u), int(p)) for u, p in rows)


def append_to_members(tx: Tx, update: Update, chat_id: int, extra: Iterable[int],
                      date: int) -> Appended:
    """Append one update to the logs of a private chat's or group's active members (and
    `extra` users); on PostgreSQL the members are read inside the append's one round trip."""
    if tx.dialect != "postgres":
        return append(tx, update, [*chats.active_member_ids(tx, chat_id), *extra], date)
    body = encode_body(update)
    return Appended(body, _append_pg(tx, _APPEND_TO_MEMBERS, body,
                                     (chat_id, sorted(set(extra))), date))


class Appended(msgspec.Struct, frozen=True):
    """An update body and where it was appended: the (user_id, pts) pairs of users' logs,
    or (chat_id, pts) of a channel's log."""

    body: bytes
    recipients: list[tuple[int, int]]
    channel: tuple[int, int] | None = None


def current(tx: Tx, user_id: int) -> int:
    row = tx.one("SELECT pts FROM user_states WHERE user_id = ?", (user_id,))
    return int(row[0]) if row else 0


def since(tx: Tx, user_id: int, pts: int, limit: int) -> list[tuple[int, bytes]]:
    """Updates above `pts`, in order, at most `limit`: (pts, body) pairs."""
    rows = tx.all(
        "SELECT u.pts, b.body FROM user_updates u JOIN update_bodies b ON b.id = u.body_id"
        " WHERE u.user_id = ? AND u.pts > ? ORDER BY u.pts LIMIT ?",
        (user_id, pts, limit),
    )
    return [(int(p), bytes(b)) for p, b in rows]


def between(tx: Tx, user_id: int, after: int, upto: int) -> list[tuple[int, bytes]]:
    """Updates with after < pts <= upto, in order (to fill a gap in a live stream)."""
    rows = tx.all(
        "SELECT u.pts, b.body FROM user_updates u JOIN update_bodies b ON b.id = u.body_id"
        " WHERE u.user_id = ? AND u.pts > ? AND u.pts <= ? ORDER BY u.pts",
        (user_id, after, upto),
    )
    return [(int(p), bytes(b)) for p, b in rows]
