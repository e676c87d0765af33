"""Chats, their members and invite links."""

from __future__ import annotations

from kurir.domain.permissions import Standing
from kurir.domain.types import Chat, ChatMember, Invite
from kurir.storage.port import Row, Tx

CHAT_COLS = (
    "id, type, title, about, pinned_id, private_lo, private_hi, top_id, pts, username,"
    " signatures, slow_mode, member_count, default_banned, linked_chat_id, forum,"
    " prehistory_upto"
)
CHAT_NCOLS = len(CHAT_COLS.split(","))
CHANNEL_TYPES = ("channel", "supergroup")


class ChatRow:
    """A chats row as the services need it."""

    __slots__ = ("about", "default_banned", "forum", "id", "linked_chat_id", "member_count",
                 "pinned_id", "prehistory_upto", "private_hi", "private_lo", "pts",
                 "signatures", "slow_mode", "title", "top_id", "type", "username")

    def __init__(self, row: Row) -> None:
        (self.id, self.type, self.title, self.about, self.pinned_id,
         self.private_lo, self.private_hi, self.top_id, self.pts, self.username,
         self.signatures, self.slow_mode, self.member_count, self.default_banned,
         self.linked_chat_id, self.forum, self.prehistory_upto) = row

    @property
    def is_channel(self) -> bool:
        """A channel or supergroup: its own pts, O(1) writes per post."""
        return self.type in CHANNEL_TYPES

    def peer_of(self, user_id: int) -> int | None:
        if self.type != "private":
            return None
        return int(self.private_hi if self.private_lo == user_id else self.private_lo)


def get(tx: Tx, chat_id: int) -> ChatRow | None:
    row = tx.one(f"SELECT {CHAT_COLS} FROM chats WHERE id = ?", (chat_id,))
    return ChatRow(row) if row else None


def create(tx: Tx, type_: str, title: str, creator_id: int, now: int) -> int:
    row = tx.one(
        "INSERT INTO chats (type, title, creator_id, created, last_date) VALUES (?, ?, ?, ?, ?)"
        " RETURNING id",
        (type_, title, creator_id, now, now),
    )
    assert row is not None
    return int(row[0])


def find_private(tx: Tx, a: int, b: int) -> int | None:
    """The private chat of users a and b, if there is one."""
    row = tx.one("SELECT id FROM chats WHERE private_lo = ? AND private_hi = ?",
                 (min(a, b), max(a, b)))
    return int(row[0]) if row else None


def private_chat(tx: Tx, a: int, b: int, now: int) -> int:
    """The private chat of users a and b, created if it does not exist yet."""
    lo, hi = min(a, b), max(a, b)
    found = find_private(tx, a, b)
    if found is not None:
        return found
    row = tx.one(
        "INSERT INTO chats (type, title, created, last_date, private_lo, private_hi)"
        " VALUES ('private', '', ?, ?, ?, ?) ON CONFLICT (private_lo, private_hi) DO NOTHING"
        " RETURNING id",
        (now, now, lo, hi),
    )
    if row is None:  # created meanwhile by the other side
        found = find_private(tx, a, b)
        assert found is not None
        return found
    chat_id = int(row[0])
    tx.executemany(
        "INSERT INTO chat_members (chat_id, user_id, role, status, joined)"
        " VALUES (?, ?, 'member', 'member', ?)",
        [(chat_id, u, now) for u in sorted({lo, hi})],
    )
    return chat_id


def next_message_id(tx: Tx, chat_id: int, now: int) -> tuple[int, int | None]:
    """Hand out the chat's next message id, and for a channel its next pts with it (one
    statement, one lock). Locks the chat row until commit."""
    row = tx.one(
        "UPDATE chats SET top_id = top_id + 1, last_date = ?,"
        " pts = CASE WHEN type IN ('channel', 'supergroup') THEN pts + 1 ELSE pts END,"
        " pts_date = CASE WHEN type IN ('channel', 'supergroup') THEN ? ELSE pts_date END"
        " WHERE id = ? RETURNING top_id, type, pts",
        (now, now, chat_id),
    )
    assert row is not None
    return int(row[0]), (int(row[2]) if row[1] in CHANNEL_TYPES else None)


def lock(tx: Tx, chat_id: int) -> None:
    """Take the chat's row lock (membership changes serialize with sends on it)."""
    tx.execute("UPDATE chats SET top_id = top_id WHERE id = ?", (chat_id,))


def lock_member(tx: Tx, chat_id: int, user_id: int) -> None:
    tx.execute(
        "UPDATE chat_members SET read_max_id = read_max_id WHERE chat_id = ? AND user_id = ?",
        (chat_id, user_id),
    )


def standing(tx: Tx, chat_id: int, user_id: int) -> Standing | None:
    row = tx.one(
        "SELECT c.type, m.role, m.status FROM chat_members m JOIN chats c ON c.id = m.chat_id"
        " WHERE m.chat_id = ? AND m.user_id = ?",
        (chat_id, user_id),
    )
    return Standing(row[0], row[1], row[2]) if row else None


def member_row(tx: Tx, chat_id: int, user_id: int) -> Row | None:
    return tx.one(
        "SELECT role, status, read_max_id, history_from FROM chat_members"
        " WHERE chat_id = ? AND user_id = ?",
        (chat_id, user_id),
    )


def active_member_ids(tx: Tx, chat_id: int) -> list[int]:
    rows = tx.all(
        "SELECT user_id FROM chat_members WHERE chat_id = ? AND status = 'member'", (chat_id,)
    )
    return [int(r[0]) for r in rows]


def members_seeing(tx: Tx, chat_id: int) -> list[tuple[int, int]]:
    """(user_id, history_from) of the active members: a member sees ids above the latter."""
    rows = tx.all(
        "SELECT user_id, history_from FROM chat_members WHERE chat_id = ? AND status = 'member'",
        (chat_id,),
    )
    return [(int(u), int(h)) for u, h in rows]


def member_count(tx: Tx, chat_id: int) -> int:
    row = tx.one(
        "SELECT COUNT(*) FROM chat_members WHERE chat_id = ? AND status = 'member'", (chat_id,)
    )
    return int(row[0]) if row else 0


def members(tx: Tx, chat_id: int) -> list[ChatMember]:
    rows = tx.all(
        "SELECT user_id, role, status, joined, inviter_id FROM chat_members"
        " WHERE chat_id = ? AND status = 'member' ORDER BY joined, user_id",
        (chat_id,),
    )
    return [ChatMember(user_id=r[0], role=r[1], status=r[2], joined=r[3], inviter_id=r[4])
            for r in rows]


def put_member(
    tx: Tx, chat_id: int, user_id: int, role: str, inviter_id: int | None, now: int,
    history_from: int,
) -> None:
    """Make user an active member (new, or back after leaving)."""
    changed = tx.execute(
        "UPDATE chat_members SET role = ?, status = 'member', inviter_id = ?, joined = ?,"
        " history_from = ?, read_max_id = ? WHERE chat_id = ? AND user_id = ?",
        (role, inviter_id, now, history_from, history_from, chat_id, user_id),
    )
    if not changed:
        tx.execute(
            "INSERT INTO chat_members (chat_id, user_id, role, status, inviter_id, joined,"
            " history_from, read_max_id) VALUES (?, ?, ?, 'member', ?, ?, ?, ?)",
            (chat_id, user_id, role, inviter_id, now, history_from, history_from),
        )


def set_status(tx: Tx, chat_id: int, user_id: int, status: str) -> None:
    tx.execute(
        "UPDATE chat_members SET status = ?, role = 'member' WHERE chat_id = ? AND user_id = ?",
        (status, chat_id, user_id),
    )


def set_role(tx: Tx, chat_id: int, user_id: int, role: str) -> None:
    tx.execute(
        "UPDATE chat_members SET role = ? WHERE chat_id = ? AND user_id = ?",
        (role, chat_id, user_id),
    )


def set_title(tx: Tx, chat_id: int, title: str) -> None:
    tx.execute("UPDATE chats SET title = ? WHERE id = ?", (title, chat_id))


def set_pinned(tx: Tx, chat_id: int, message_id: int | None) -> None:
    tx.execute("UPDATE chats SET pinned_id = ? WHERE id = ?", (message_id, chat_id))


def set_read(tx: Tx, chat_id: int, user_id: int, max_id: int) -> None:
    tx.execute(
        "UPDATE chat_members SET read_max_id = ? WHERE chat_id = ? AND user_id = ?",
        (max_id, chat_id, user_id),
    )


def read_outbox(tx: Tx, chat_id: int, user_id: int) -> int:
    """How far the others have read: the highest read marker of any other active member."""
    row = tx.one(
        "SELECT MAX(read_max_id) FROM chat_members WHERE chat_id = ? AND user_id <> ?"
        " AND status = 'member'",
        (chat_id, user_id),
    )
    return int(row[0]) if row and row[0] is not None else 0


def read_outboxes(tx: Tx, chat_ids: list[int], user_id: int) -> dict[int, int]:
    """`read_outbox` of several chats in one statement (a page of dialogs)."""
    if not chat_ids:
        return {}
    marks = ",".join("?" * len(chat_ids))
    rows = tx.all(
        f"SELECT chat_id, MAX(read_max_id) FROM chat_members WHERE chat_id IN ({marks})"
        " AND user_id <> ? AND status = 'member' GROUP BY chat_id",
        (*chat_ids, user_id),
    )
    return {int(c): int(m) for c, m in rows if m is not None}


def member_counts(tx: Tx, chat_ids: list[int]) -> dict[int, int]:
    """`member_count` of several chats in one statement."""
    if not chat_ids:
        return {}
    marks = ",".join("?" * len(chat_ids))
    rows = tx.all(
        f"SELECT chat_id, COUNT(*) FROM chat_members WHERE chat_id IN ({marks})"
        " AND status = 'member' GROUP BY chat_id",
        chat_ids,
    )
    return {int(c): int(n) for c, n in rows}


def dialog_rows(tx: Tx, user_id: int, offset_chat_id: int, limit: int) -> list[Row]:
    """The user's active chats, most recent activity first; after `offset_chat_id` if given.

    Activity is the row id of the chat's newest message (every chat has one: a group starts
    with its creation notice), which orders messages across chats exactly, unlike a date.
    """
    after = ""
    params: list[object] = [user_id]
    if offset_chat_id:
        after = (" AND lm.gid < (SELECT m2.gid FROM chats c2 JOIN messages m2"
                 " ON m2.chat_id = c2.id AND m2.id = c2.top_id WHERE c2.id = ?)")
        params.append(offset_chat_id)
    params.append(limit)
    return tx.all(
        f"SELECT {', '.join('c.' + c.strip() for c in CHAT_COLS.split(','))}, lm.gid,"
        " m.role, m.status, m.read_max_id, m.history_from"
        " FROM chat_members m JOIN chats c ON c.id = m.chat_id"
        " JOIN messages lm ON lm.chat_id = c.id AND lm.id = c.top_id"
        f" WHERE m.user_id = ? AND m.status = 'member'{after}"
        " ORDER BY lm.gid DESC LIMIT ?",
        params,
    )


def to_chat(
    c: ChatRow, viewer_id: int, *, title: str | None = None, member_count: int | None = None,
    member: Row | None = None, read_outbox_max_id: int | None = None,
) -> Chat:
    chat = Chat(
        id=int(c.id), type=c.type, title=title if title is not None else c.title,
        about=c.about or None, username=c.username,
        member_count=int(c.member_count) if c.is_channel else member_count,
        pinned_message_id=c.pinned_id, peer_id=c.peer_of(viewer_id),
        read_outbox_max_id=read_outbox_max_id,
    )
    if c.is_channel:
        chat.pts = int(c.pts)
        chat.slow_mode = int(c.slow_mode) or None
        chat.signatures = bool(c.signatures) or None
        chat.linked_chat_id = c.linked_chat_id
        chat.forum = bool(c.forum) or None
    if member is not None:
        chat.role, chat.status, chat.read_inbox_max_id = member[0], member[1], int(member[2])
    return chat


# invites ----------------------------------------------------------------------------------

INVITE_COLS = "hash, chat_id, creator_id, created, revoked, usage, usage_limit, expire_date"


def row_to_invite(r: Row) -> Invite:
    return Invite(hash=r[0], chat_id=r[1], creator_id=r[2], created=r[3], revoked=bool(r[4]),
                  usage=r[5], usage_limit=r[6], expire_date=r[7])


def create_invite(
    tx: Tx, hash_: str, chat_id: int, creator_id: int, now: int,
    usage_limit: int | None, expire_date: int | None,
) -> Invite:
    row = tx.one(
        "INSERT INTO invites (hash, chat_id, creator_id, created, usage_limit, expire_date)"
        f" VALUES (?, ?, ?, ?, ?, ?) RETURNING {INVITE_COLS}",
        (hash_, chat_id, creator_id, now, usage_limit, expire_date),
    )
    assert row is not None
    return row_to_invite(row)


def invite(tx: Tx, hash_: str) -> Invite | None:
    row = tx.one(f"SELECT {INVITE_COLS} FROM invites WHERE hash = ?", (hash_,))
    return row_to_invite(row) if row else None


def invites_of(tx: Tx, chat_id: int) -> list[Invite]:
    rows = tx.all(
        f"SELECT {INVITE_COLS} FROM invites WHERE chat_id = ? ORDER BY created", (chat_id,)
    )
    return [row_to_invite(r) for r in rows]


def revoke_invite(tx: Tx, hash_: str) -> None:
    tx.execute("UPDATE invites SET revoked = 1 WHERE hash = ?", (hash_,))


def use_invite(tx: Tx, hash_: str, now: int) -> bool:
    """Spend one use of a live link; False when it is revoked, expired or used up. One
    statement, so concurrent joiners cannot all pass a check made before it."""
    return tx.execute(
        "UPDATE invites SET usage = usage + 1 WHERE hash = ? AND revoked = 0"
        " AND (usage_limit IS NULL OR usage < usage_limit)"
        " AND (expire_date IS NULL OR expire_date > ?)",
        (hash_, now),
    ) > 0
