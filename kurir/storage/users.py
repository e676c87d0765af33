"""Users and their sessions."""

from __future__ import annotations

from kurir.domain.types import User
from kurir.storage.port import Row, Tx

USER_COLS = "id, username, display_name, is_bot, bio, last_seen"


def row_to_user(row: Row) -> User:
    return User(
        id=int(row[0]),
        username=row[1],
        display_name=row[2],
        is_bot=bool(row[3]),
        bio=row[4] or None,
        last_seen=int(row[5]) or None,
    )


def create(
    tx: Tx, username: str, key: str, display_name: str, password_hash: str | None, now: int,
    *, is_bot: bool = False, owner_id: int | None = None,
) -> User:
    row = tx.one(
        "INSERT INTO users (username, username_key, display_name, password_hash, is_bot,"
        f" owner_id, created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING {USER_COLS}",
        (username, key, display_name, password_hash, int(is_bot), owner_id, now),
    )
    assert row is not None
    tx.execute("INSERT INTO user_states (user_id, pts) VALUES (?, 0)", (row[0],))
    claim_username(tx, int(row[0]), key)
    return row_to_user(row)


def claim_username(tx: Tx, user_id: int, key: str) -> None:
    """Take `key` in the namespace users share with public chats (Conflict when taken),
    freeing the user's old one."""
    tx.execute("DELETE FROM usernames WHERE user_id = ?", (user_id,))
    tx.execute("INSERT INTO usernames (key, user_id) VALUES (?, ?)", (key, user_id))


def by_id(tx: Tx, user_id: int) -> User | None:
    row = tx.one(f"SELECT {USER_COLS} FROM users WHERE id = ?", (user_id,))
    return row_to_user(row) if row else None


def by_ids(tx: Tx, user_ids: list[int]) -> dict[int, User]:
    if not user_ids:
        return {}
    marks = ",".join("?" * len(user_ids))
    rows = tx.all(f"SELECT {USER_COLS} FROM users WHERE id IN ({marks})", user_ids)
    return {int(r[0]): row_to_user(r) for r in rows}


def by_username(tx: Tx, key: str) -> User | None:
    row = tx.one(f"SELECT {USER_COLS} FROM users WHERE username_key = ?", (key,))
    return row_to_user(row) if row else None


def exists(tx: Tx, user_id: int) -> bool:
    return tx.one("SELECT 1 FROM users WHERE id = ?", (user_id,)) is not None


def password_hash(tx: Tx, key: str) -> tuple[int, str | None] | None:
    row = tx.one("SELECT id, password_hash FROM users WHERE username_key = ?", (key,))
    return (int(row[0]), row[1]) if row else None


def search(tx: Tx, prefix_pattern: str, contains_pattern: str, limit: int) -> list[User]:
    """Users whose username starts with, or display name contains, the query."""
    rows = tx.all(
        f"SELECT {USER_COLS} FROM users WHERE username_key LIKE ? ESCAPE '\\'"
        " OR lower(display_name) LIKE ? ESCAPE '\\'"
        " ORDER BY CASE WHEN username_key LIKE ? ESCAPE '\\' THEN 0 ELSE 1 END, id LIMIT ?",
        (prefix_pattern, contains_pattern, prefix_pattern, limit),
    )
    return [row_to_user(r) for r in rows]


def list_all(tx: Tx, after_id: int, limit: int) -> list[User]:
    rows = tx.all(
        f"SELECT {USER_COLS} FROM users WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
    )
    return [row_to_user(r) for r in rows]


# sessions ---------------------------------------------------------------------------------

def create_session(
    tx: Tx, user_id: int, token_hash: bytes, device: str, ip: str, now: int
) -> int:
    row = tx.one(
        "INSERT INTO sessions (user_id, token_hash, device, created, last_active, ip)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        (user_id, token_hash, device, now, now, ip),
    )
    assert row is not None
    return int(row[0])


def session_by_token(tx: Tx, token_hash: bytes) -> tuple[int, int, int, bool] | None:
    """(session_id, user_id, last_active, is_bot) for a live token."""
    row = tx.one(
        "SELECT s.id, s.user_id, s.last_active, u.is_bot FROM sessions s"
        " JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?", (token_hash,)
    )
    return (int(row[0]), int(row[1]), int(row[2]), bool(row[3])) if row else None


def sessions_of(tx: Tx, user_id: int) -> list[Row]:
    return tx.all(
        "SELECT id, device, created, last_active FROM sessions WHERE user_id = ? ORDER BY id",
        (user_id,),
    )


def delete_session(tx: Tx, user_id: int, session_id: int) -> bool:
    return tx.execute(
        "DELETE FROM sessions WHERE id = ? AND user_id = ?", (session_id, user_id)
    ) > 0


def touch_session(tx: Tx, session_id: int, now: int) -> None:
    tx.execute("UPDATE sessions SET last_active = ? WHERE id = ?", (now, session_id))


def touch_user(tx: Tx, user_id: int, now: int) -> None:
    tx.execute("UPDATE users SET last_seen = ? WHERE id = ?", (now, user_id))
