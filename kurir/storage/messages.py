"""Messages: rows, history pages, search, reactions, and per-user hiding."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from kurir.domain.types import ForwardHeader, Message, MessageEntity, ReactionCount
from kurir.storage.port import Row, Tx

MSG_COLS = (
    "m.chat_id, m.id, m.from_id, m.date, m.text, m.entities, m.reply_to, m.fwd_from,"
    " m.edit_date, m.reactions, m.media, m.reply_markup, m.action, m.views, m.post_author,"
    " m.thread_id, m.replies"
)
_enc = msgspec.json.Encoder()
_entities = msgspec.json.Decoder(list[MessageEntity])
_fwd = msgspec.json.Decoder(ForwardHeader)
_reactions = msgspec.json.Decoder(list[ReactionCount])
_obj = msgspec.json.Decoder(dict[str, Any])
# "not deleted, not hidden from this user, and not from before this user joined"
VISIBLE = (
    "m.deleted = 0 AND m.id > ? AND NOT EXISTS (SELECT 1 FROM hidden_messages h"
    " WHERE h.user_id = ? AND h.chat_id = m.chat_id AND h.message_id = m.id)"
)


def _json(value: object | None) -> str | None:
    return _enc.encode(value).decode() if value is not None else None


def row_to_message(r: Row) -> Message:
    return Message(
        chat_id=int(r[0]), id=int(r[1]), from_id=int(r[2]), date=int(r[3]), text=r[4],
        entities=_entities.decode(r[5]) if r[5] else None,
        reply_to=r[6], fwd_from=_fwd.decode(r[7]) if r[7] else None, edit_date=r[8],
        reactions=_reactions.decode(r[9]) if r[9] else None,
        media=_obj.decode(r[10]) if r[10] else None,
        reply_markup=_obj.decode(r[11]) if r[11] else None,
        action=_obj.decode(r[12]) if r[12] else None,
        views=r[13], post_author=r[14], thread_id=r[15],
        replies=_obj.decode(r[16]) if r[16] else None,
    )


_INSERT = (
    "INSERT INTO messages (chat_id, id, from_id, date, text, entities, reply_to, fwd_from,"
    " media, reply_markup, action, views, post_author, thread_id, replies)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_WITH_RANDOM_ID = (
    "WITH m AS (" + _INSERT + " RETURNING chat_id)"
    " INSERT INTO message_random_ids (user_id, random_id, chat_id, message_id)"
    " VALUES (?, ?, ?, ?)"
)


def insert(tx: Tx, m: Message, random_id: int | None = None) -> None:
    """Store a message; with `random_id`, also the sender's id for it (a retry finds the
    message by it) — on PostgreSQL in the same round trip."""
    values = (m.chat_id, m.id, m.from_id, m.date, m.text, _json(m.entities or None),
              m.reply_to, _json(m.fwd_from), _json(m.media), _json(m.reply_markup),
              _json(m.action), m.views, m.post_author, m.thread_id, _json(m.replies))
    if random_id is None:
        tx.execute(_INSERT, values)
    elif tx.dialect == "postgres":
        tx.execute(_INSERT_WITH_RANDOM_ID, (*values, m.from_id, random_id, m.chat_id, m.id))
    else:
        tx.execute(_INSERT, values)
        remember_random_id(tx, m.from_id, random_id, m.chat_id, m.id)


def get(tx: Tx, chat_id: int, message_id: int) -> Message | None:
    """A live (not deleted) message, whoever may see it."""
    row = tx.one(
        f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.id = ? AND m.deleted = 0",
        (chat_id, message_id),
    )
    return row_to_message(row) if row else None


def get_visible(
    tx: Tx, chat_id: int, ids: list[int], user_id: int, history_from: int
) -> list[Message]:
    if not ids:
        return []
    marks = ",".join("?" * len(ids))
    rows = tx.all(
        f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.id IN ({marks})"
        f" AND {VISIBLE} ORDER BY m.id",
        (chat_id, *ids, history_from, user_id),
    )
    return mark_chosen(tx, chat_id, user_id, [row_to_message(r) for r in rows])


def mark_chosen(tx: Tx, chat_id: int, user_id: int, msgs: list[Message]) -> list[Message]:
    """Mark the reader's own reaction among each message's counts (one query a page, and
    only when some message there has reactions)."""
    reacted = [m.id for m in msgs if m.reactions]
    if not reacted:
        return msgs
    marks = ",".join("?" * len(reacted))
    mine: dict[int, str] = dict(tx.all(
        f"SELECT message_id, emoji FROM reactions WHERE chat_id = ? AND user_id = ?"
        f" AND message_id IN ({marks})", (chat_id, user_id, *reacted)))
    for m in msgs:
        emoji = mine.get(m.id)
        for r in m.reactions or ():
            if r.emoji == emoji:
                r.chosen = True
    return msgs


def history(
    tx: Tx, chat_id: int, user_id: int, history_from: int,
    offset_id: int, after_id: int, limit: int,
) -> list[Message]:
    """Newest first. `offset_id`: ids below it; `after_id`: the page just above that id."""
    if after_id:
        rows = tx.all(
            f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.id > ? AND {VISIBLE}"
            " ORDER BY m.id ASC LIMIT ?",
            (chat_id, after_id, history_from, user_id, limit),
        )
        rows.reverse()
    else:
        rows = tx.all(
            f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.id < ? AND {VISIBLE}"
            " ORDER BY m.id DESC LIMIT ?",
            (chat_id, offset_id or 2**62, history_from, user_id, limit),
        )
    return mark_chosen(tx, chat_id, user_id, [row_to_message(r) for r in rows])


def thread(tx: Tx, chat_id: int, root_id: int, offset_id: int, limit: int) -> list[Message]:
    """A thread's messages (not its root), newest first, ids below `offset_id` if given."""
    rows = tx.all(
        f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.thread_id = ?"
        " AND m.id <> ? AND m.id < ? AND m.deleted = 0 ORDER BY m.id DESC LIMIT ?",
        (chat_id, root_id, root_id, offset_id or 2**62, limit),
    )
    return [row_to_message(r) for r in rows]


def thread_unread(tx: Tx, chat_id: int, root_id: int, user_id: int, read_max_id: int) -> int:
    row = tx.one(
        "SELECT COUNT(*) FROM messages m WHERE m.chat_id = ? AND m.thread_id = ? AND m.id > ?"
        " AND m.id <> ? AND m.from_id <> ? AND m.deleted = 0",
        (chat_id, root_id, read_max_id, root_id, user_id),
    )
    return int(row[0]) if row else 0


def last_visible(tx: Tx, chat_id: int, user_id: int, history_from: int) -> Message | None:
    rows = history(tx, chat_id, user_id, history_from, 0, 0, 1)
    return rows[0] if rows else None


def unread_count(tx: Tx, chat_id: int, user_id: int, read_max_id: int) -> int:
    row = tx.one(
        "SELECT COUNT(*) FROM messages m WHERE m.chat_id = ? AND m.from_id <> ?"
        f" AND {VISIBLE}",
        (chat_id, user_id, read_max_id, user_id),
    )
    return int(row[0]) if row else 0


def by_random_id(tx: Tx, user_id: int, random_id: int) -> tuple[int, int] | None:
    row = tx.one(
        "SELECT chat_id, message_id FROM message_random_ids WHERE user_id = ? AND random_id = ?",
        (user_id, random_id),
    )
    return (int(row[0]), int(row[1])) if row else None


def any_by_id(tx: Tx, chat_id: int, message_id: int) -> Message | None:
    """The message even if deleted since (for an idempotent retry of its send)."""
    row = tx.one(
        f"SELECT {MSG_COLS} FROM messages m WHERE m.chat_id = ? AND m.id = ?",
        (chat_id, message_id),
    )
    return row_to_message(row) if row else None


def remember_random_id(tx: Tx, user_id: int, random_id: int, chat_id: int, msg_id: int) -> None:
    tx.execute(
        "INSERT INTO message_random_ids (user_id, random_id, chat_id, message_id)"
        " VALUES (?, ?, ?, ?)",
        (user_id, random_id, chat_id, msg_id),
    )


def edit(tx: Tx, chat_id: int, message_id: int, text: str,
         entities: list[MessageEntity] | None, now: int) -> None:
    tx.execute(
        "UPDATE messages SET text = ?, entities = ?, edit_date = ? WHERE chat_id = ? AND id = ?",
        (text, _json(entities or None), now, chat_id, message_id),
    )


def set_markup(tx: Tx, chat_id: int, message_id: int, markup: object) -> None:
    tx.execute("UPDATE messages SET reply_markup = ? WHERE chat_id = ? AND id = ?",
               (_json(markup) if markup is not None else None, chat_id, message_id))


def mark_deleted(tx: Tx, chat_id: int, ids: list[int]) -> None:
    """Delete for everyone: the row stays (ids are never reused), its content goes."""
    tx.executemany(
        "UPDATE messages SET deleted = 1, text = '', entities = NULL, media = NULL,"
        " reply_markup = NULL, fwd_from = NULL, reactions = NULL WHERE chat_id = ? AND id = ?",
        [(chat_id, i) for i in ids],
    )
    tx.executemany(
        "DELETE FROM reactions WHERE chat_id = ? AND message_id = ?", [(chat_id, i) for i in ids]
    )


def hide(tx: Tx, user_id: int, chat_id: int, ids: list[int]) -> None:
    sql = "INSERT INTO hidden_messages (user_id, chat_id, message_id) VALUES (?, ?, ?)"
    tx.executemany(
        sql + " ON CONFLICT DO NOTHING", [(user_id, chat_id, i) for i in ids]
    )


def authors_between(tx: Tx, chat_id: int, after: int, upto: int) -> list[int]:
    rows = tx.all(
        "SELECT DISTINCT from_id FROM messages WHERE chat_id = ? AND id > ? AND id <= ?"
        " AND deleted = 0",
        (chat_id, after, upto),
    )
    return [int(r[0]) for r in rows]


def set_reaction(tx: Tx, chat_id: int, message_id: int, user_id: int,
                 emoji: str | None, now: int) -> list[ReactionCount]:
    """One reaction per user per message; returns the message's new summary.

    The message row is locked first, so concurrent reactions summarize one after another
    and none is lost from the stored summary.
    """
    tx.execute("UPDATE messages SET reactions = reactions WHERE chat_id = ? AND id = ?",
               (chat_id, message_id))
    if emoji is None:
        tx.execute(
            "DELETE FROM reactions WHERE chat_id = ? AND message_id = ? AND user_id = ?",
            (chat_id, message_id, user_id),
        )
    else:
        tx.execute(
            "INSERT INTO reactions (chat_id, message_id, user_id, emoji, date)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (chat_id, message_id, user_id)"
            " DO UPDATE SET emoji = excluded.emoji, date = excluded.date",
            (chat_id, message_id, user_id, emoji, now),
        )
    rows = tx.all(
        "SELECT emoji, COUNT(*), MIN(date) FROM reactions WHERE chat_id = ? AND message_id = ?"
        " GROUP BY emoji ORDER BY COUNT(*) DESC, MIN(date)",
        (chat_id, message_id),
    )
    summary = [ReactionCount(emoji=r[0], count=int(r[1])) for r in rows]
    tx.execute(
        "UPDATE messages SET reactions = ? WHERE chat_id = ? AND id = ?",
        (_json(summary or None), chat_id, message_id),
    )
    return summary


# what both indexes count as word characters: letters and digits, not the underscore
_WORD = re.compile(r"[^\W_]+")


def search_terms(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:16]


def _match(tx: Tx, terms: list[str]) -> tuple[str, str, str]:
    """(FROM clause, match condition, query parameter) for each engine's index."""
    if tx.dialect == "postgres":
        return ("messages m", "m.tsv @@ to_tsquery('simple', ?)",
                " & ".join(f"{t}:*" for t in terms))
    return ("messages_fts f JOIN messages m ON m.gid = f.rowid", "messages_fts MATCH ?",
            " ".join(f'"{t}"*' for t in terms))


def search_chat(tx: Tx, terms: list[str], chat_id: int, limit: int) -> list[Message]:
    """Search one public chat as a reader who is not a member (no per-user hiding)."""
    source, match, query = _match(tx, terms)
    rows = tx.all(
        f"SELECT {MSG_COLS} FROM {source} WHERE {match} AND m.chat_id = ? AND m.deleted = 0"
        " ORDER BY m.gid DESC LIMIT ?",
        (query, chat_id, limit),
    )
    return [row_to_message(r) for r in rows]


def search(
    tx: Tx, user_id: int, terms: list[str], chat_id: int | None, limit: int
) -> list[Message]:
    """Full-text search over what the user may see, newest first."""
    source, match, query = _match(tx, terms)
    if tx.dialect == "postgres":
        # the best plan depends on the words and on how many chats the user is in; a
        # prepared statement's generic plan, chosen after five runs, was 50x slower
        # (docs/postgres.md)
        tx.execute("SET LOCAL plan_cache_mode = force_custom_plan")
    params: list[Any] = [query]
    where = [match, "cm.user_id = ?", "cm.status = 'member'"]
    params.append(user_id)
    if chat_id is not None:
        where.append("m.chat_id = ?")
        params.append(chat_id)
    params += [user_id, limit]
    rows = tx.all(
        f"SELECT {MSG_COLS} FROM {source}"
        " JOIN chat_members cm ON cm.chat_id = m.chat_id"
        f" WHERE {' AND '.join(where)} AND m.deleted = 0 AND m.id > cm.history_from"
        " AND NOT EXISTS (SELECT 1 FROM hidden_messages h WHERE h.user_id = ?"
        " AND h.chat_id = m.chat_id AND h.message_id = m.id)"
        " ORDER BY m.gid DESC LIMIT ?",
        params,
    )
    return [row_to_message(r) for r in rows]
