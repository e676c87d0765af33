"""Channels and supergroups: their members with rights, their own update log, usernames."""

from __future__ import annotations

from kurir.domain.rights import AdminRights, Member
from kurir.domain.types import Update
from kurir.storage.chats import CHAT_COLS, ChatRow
from kurir.storage.port import Row, Tx
from kurir.storage.updates import Appended, encode_body

MEMBER_COLS = (
    "role, status, admin_rights, banned_rights, until_date, promoted_by, read_max_id,"
    " last_post, history_from"
)


def create(
    tx: Tx, type_: str, title: str, about: str, creator_id: int, now: int,
    default_banned: int,
) -> int:
    row = tx.one(
        "INSERT INTO chats (type, title, about, creator_id, created, last_date, member_count,"
        " default_banned) VALUES (?, ?, ?, ?, ?, ?, 1, ?) RETURNING id",
        (type_, title, about, creator_id, now, now, default_banned),
    )
    assert row is not None
    chat_id = int(row[0])
    tx.execute(
        "INSERT INTO chat_members (chat_id, user_id, role, status, joined, admin_rights)"
        " VALUES (?, ?, 'owner', 'member', ?, ?)",
        (chat_id, creator_id, now, int(AdminRights.all())),
    )
    return chat_id


def member(tx: Tx, chat: ChatRow, user_id: int) -> tuple[Member, Row] | None:
    """The user's standing (rules) and their raw member row (read marker, last post, …)."""
    row = tx.one(
        f"SELECT {MEMBER_COLS} FROM chat_members WHERE chat_id = ? AND user_id = ?",
        (chat.id, user_id),
    )
    if row is None:
        return None
    return Member(chat.type == "channel", row[0], row[1], int(row[2]), int(row[3]),
                  int(row[4]), row[5]), row


def get_locked(tx: Tx, chat_id: int) -> ChatRow | None:
    """The chat row, locked until commit (every change to a channel's log takes it)."""
    row = tx.one(
        f"UPDATE chats SET pts = pts WHERE id = ? RETURNING {CHAT_COLS}", (chat_id,)
    )
    return ChatRow(row) if row else None


def join(tx: Tx, chat_id: int, user_id: int, inviter_id: int | None, now: int,
         top_id: int, history_from: int) -> None:
    """Make the user an active plain member (new, or back after leaving): what is already
    there counts as read, and what is before `history_from` stays hidden."""
    changed = tx.execute(
        "UPDATE chat_members SET role = 'member', status = 'member', inviter_id = ?, joined = ?,"
        " admin_rights = 0, banned_rights = 0, until_date = 0, promoted_by = NULL,"
        " read_max_id = ?, history_from = ? WHERE chat_id = ? AND user_id = ?",
        (inviter_id, now, top_id, history_from, chat_id, user_id),
    )
    if not changed:
        tx.execute(
            "INSERT INTO chat_members (chat_id, user_id, role, status, inviter_id, joined,"
            " read_max_id, history_from) VALUES (?, ?, 'member', 'member', ?, ?, ?, ?)",
            (chat_id, user_id, inviter_id, now, top_id, history_from),
        )
    tx.execute("UPDATE chats SET member_count = member_count + 1 WHERE id = ?", (chat_id,))


def set_left(tx: Tx, chat_id: int, user_id: int, status: str, banned: int, until: int) -> None:
    """Out of the chat: 'left', or 'kicked' (banned from viewing until `until`)."""
    tx.execute(
        "UPDATE chat_members SET status = ?, role = 'member', admin_rights = 0,"
        " banned_rights = ?, until_date = ?, promoted_by = NULL"
        " WHERE chat_id = ? AND user_id = ?",
        (status, banned, until, chat_id, user_id),
    )
    tx.execute("UPDATE chats SET member_count = member_count - 1 WHERE id = ?", (chat_id,))


def set_banned_status(tx: Tx, chat_id: int, user_id: int, status: str, banned: int,
                      until: int) -> None:
    """Record a ban or restriction for a user who is not (or no longer) a member."""
    changed = tx.execute(
        "UPDATE chat_members SET status = ?, banned_rights = ?, until_date = ?"
        " WHERE chat_id = ? AND user_id = ?",
        (status, banned, until, chat_id, user_id),
    )
    if not changed:
        tx.execute(
            "INSERT INTO chat_members (chat_id, user_id, role, status, joined, banned_rights,"
            " until_date) VALUES (?, ?, 'member', ?, 0, ?, ?)",
            (chat_id, user_id, status, banned, until),
        )


def restrict(tx: Tx, chat_id: int, user_id: int, banned: int, until: int) -> None:
    tx.execute(
        "UPDATE chat_members SET banned_rights = ?, until_date = ? WHERE chat_id = ?"
        " AND user_id = ?",
        (banned, until, chat_id, user_id),
    )


def set_admin(tx: Tx, chat_id: int, user_id: int, rights: int, promoted_by: int | None) -> None:
    role = "admin" if rights else "member"
    tx.execute(
        "UPDATE chat_members SET role = ?, admin_rights = ?, promoted_by = ?,"
        " banned_rights = 0, until_date = 0 WHERE chat_id = ? AND user_id = ?",
        (role, rights, promoted_by if rights else None, chat_id, user_id),
    )


def note_post(tx: Tx, chat_id: int, user_id: int, now: int) -> None:
    tx.execute(
        "UPDATE chat_members SET last_post = ? WHERE chat_id = ? AND user_id = ?",
        (now, chat_id, user_id),
    )


# the channel's own log ------------------------------------------------------------------

def bump_pts(tx: Tx, chat_id: int, now: int) -> int:
    row = tx.one(
        "UPDATE chats SET pts = pts + 1, pts_date = ? WHERE id = ? RETURNING pts",
        (now, chat_id),
    )
    assert row is not None
    return int(row[0])


def append(tx: Tx, chat_id: int, update: Update, now: int, pts: int | None = None) -> Appended:
    """One entry in the channel's log: one body, one row, whatever the member count."""
    body = encode_body(update)
    if pts is None:
        pts = bump_pts(tx, chat_id, now)
    row = tx.one("INSERT INTO update_bodies (body) VALUES (?) RETURNING id", (body,))
    assert row is not None
    tx.execute(
        "INSERT INTO channel_updates (chat_id, pts, body_id, date) VALUES (?, ?, ?, ?)",
        (chat_id, pts, row[0], now),
    )
    return Appended(body, [], (chat_id, pts))


def current(tx: Tx, chat_id: int) -> int:
    row = tx.one("SELECT pts FROM chats WHERE id = ?", (chat_id,))
    return int(row[0]) if row else 0


def since(tx: Tx, chat_id: int, pts: int, limit: int) -> list[tuple[int, bytes]]:
    rows = tx.all(
        "SELECT u.pts, b.body FROM channel_updates u JOIN update_bodies b ON b.id = u.body_id"
        " WHERE u.chat_id = ? AND u.pts > ? ORDER BY u.pts LIMIT ?",
        (chat_id, pts, limit),
    )
    return [(int(p), bytes(b)) for p, b in rows]


def between(tx: Tx, chat_id: int, after: int, upto: int) -> list[tuple[int, bytes]]:
    rows = tx.all(
        "SELECT u.pts, b.body FROM channel_updates u JOIN update_bodies b ON b.id = u.body_id"
        " WHERE u.chat_id = ? AND u.pts > ? AND u.pts <= ? ORDER BY u.pts",
        (chat_id, after, upto),
    )
    return [(int(p), bytes(b)) for p, b in rows]


def of_user(tx: Tx, user_id: int) -> list[tuple[int, int]]:
    """(channel id, its pts) for each channel or supergroup the user is in."""
    rows = tx.all(
        "SELECT c.id, c.pts FROM chat_members m JOIN chats c ON c.id = m.chat_id"
        " WHERE m.user_id = ? AND m.status = 'member' AND c.type IN ('channel', 'supergroup')",
        (user_id,),
    )
    return [(int(c), int(p)) for c, p in rows]


# A channel's pts_date is the time its writer read before its transaction, which may
# commit a little later; the margin makes sure a state's date never hides such a move
# (a channel listed twice costs the client one comparison).
MOVED_MARGIN = 60


def moved_since(tx: Tx, user_id: int, date: int) -> list[tuple[int, int]]:
    """The user's channels whose log moved at or after `date` (less the margin)."""
    rows = tx.all(
        "SELECT c.id, c.pts FROM chat_members m JOIN chats c ON c.id = m.chat_id"
        " WHERE m.user_id = ? AND m.status = 'member' AND c.type IN ('channel', 'supergroup')"
        " AND c.pts_date >= ? ORDER BY c.id",
        (user_id, date - MOVED_MARGIN),
    )
    return [(int(c), int(p)) for c, p in rows]


# usernames and discovery -----------------------------------------------------------------

def set_username(tx: Tx, chat_id: int, username: str | None, key: str | None) -> None:
    """Claim `key` in the shared namespace (raises Conflict when taken) and free the old."""
    tx.execute("DELETE FROM usernames WHERE chat_id = ?", (chat_id,))
    if key is not None:
        tx.execute("INSERT INTO usernames (key, chat_id) VALUES (?, ?)", (key, chat_id))
    tx.execute("UPDATE chats SET username = ? WHERE id = ?", (username, chat_id))


def by_username(tx: Tx, key: str) -> int | None:
    row = tx.one("SELECT chat_id FROM usernames WHERE key = ? AND chat_id IS NOT NULL", (key,))
    return int(row[0]) if row else None


def search_public(tx: Tx, prefix: str, contains: str, limit: int) -> list[ChatRow]:
    rows = tx.all(
        f"SELECT {CHAT_COLS} FROM chats WHERE username IS NOT NULL"
        " AND (lower(username) LIKE ? ESCAPE '\\' OR lower(title) LIKE ? ESCAPE '\\')"
        " ORDER BY member_count DESC, id LIMIT ?",
        (prefix, contains, limit),
    )
    return [ChatRow(r) for r in rows]


# views -----------------------------------------------------------------------------------

def count_views(tx: Tx, chat_id: int, ids: list[int], user_id: int) -> None:
    """A view counts once per user: only a first view bumps the counter."""
    for message_id in ids:
        row = tx.one(
            "INSERT INTO message_views (chat_id, message_id, user_id) VALUES (?, ?, ?)"
            " ON CONFLICT DO NOTHING RETURNING message_id",
            (chat_id, message_id, user_id),
        )
        if row is not None:
            tx.execute(
                "UPDATE messages SET views = COALESCE(views, 0) + 1 WHERE chat_id = ? AND id = ?",
                (chat_id, message_id),
            )


def views(tx: Tx, chat_id: int, ids: list[int]) -> list[tuple[int, int]]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = tx.all(
        f"SELECT id, COALESCE(views, 0) FROM messages WHERE chat_id = ? AND id IN ({marks})"
        " AND deleted = 0 ORDER BY id",
        (chat_id, *ids),
    )
    return [(int(i), int(v)) for i, v in rows]


def admin_bots(tx: Tx, chat_id: int) -> list[int]:
    """The bots that administer the channel and read its log: they hear of member changes,
    which go to the members' own logs, not the channel's (O(its bots), not O(members))."""
    rows = tx.all(
        "SELECT b.bot_id FROM bot_channels b JOIN chat_members m"
        " ON m.chat_id = b.chat_id AND m.user_id = b.bot_id"
        " WHERE b.chat_id = ? AND m.role IN ('admin', 'owner') AND m.status = 'member'",
        (chat_id,),
    )
    return [int(r[0]) for r in rows]
