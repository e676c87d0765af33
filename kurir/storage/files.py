"""Uploads, their parts, blobs and files, and which messages carry which file."""

from __future__ import annotations

from kurir.storage.port import Row, Tx

UPLOAD_COLS = "id, user_id, name, mime_type, size, part_size, parts, created, file_id"
FILE_COLS = "id, owner_id, sha256, size, name, mime_type, created, meta"


def create_upload(tx: Tx, upload_id: str, user_id: int, name: str, mime_type: str, size: int,
                  part_size: int, parts: int, now: int) -> None:
    tx.execute(
        "INSERT INTO uploads (id, user_id, name, mime_type, size, part_size, parts, created)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (upload_id, user_id, name, mime_type, size, part_size, parts, now),
    )


def upload(tx: Tx, upload_id: str) -> Row | None:
    return tx.one(f"SELECT {UPLOAD_COLS} FROM uploads WHERE id = ?", (upload_id,))


def put_part(tx: Tx, upload_id: str, part: int, size: int) -> None:
    tx.execute(
        "INSERT INTO upload_parts (upload_id, part, size) VALUES (?, ?, ?)"
        " ON CONFLICT (upload_id, part) DO UPDATE SET size = excluded.size",
        (upload_id, part, size),
    )


def parts(tx: Tx, upload_id: str) -> list[int]:
    rows = tx.all("SELECT part FROM upload_parts WHERE upload_id = ? ORDER BY part",
                  (upload_id,))
    return [int(r[0]) for r in rows]


def claim_upload(tx: Tx, upload_id: str, file_id: str) -> bool:
    """Mark the upload finished as `file_id`, unless another finish did first."""
    row = tx.one("UPDATE uploads SET file_id = ? WHERE id = ? AND file_id IS NULL"
                 " RETURNING id", (file_id, upload_id))
    if row is None:
        return False
    tx.execute("DELETE FROM upload_parts WHERE upload_id = ?", (upload_id,))
    return True


def lock_owner(tx: Tx, user_id: int) -> None:
    """Take the user's row lock: quota checks of one owner run one at a time."""
    tx.execute("UPDATE users SET last_seen = last_seen WHERE id = ?", (user_id,))


def drop_upload(tx: Tx, upload_id: str) -> None:
    tx.execute("DELETE FROM upload_parts WHERE upload_id = ?", (upload_id,))
    tx.execute("DELETE FROM uploads WHERE id = ? AND file_id IS NULL", (upload_id,))


def stale_uploads(tx: Tx, before: int) -> list[str]:
    """Unfinished uploads declared before `before`, deleted here; their ids returned."""
    ids = [str(r[0]) for r in tx.all(
        "SELECT id FROM uploads WHERE file_id IS NULL AND created < ? LIMIT 1000", (before,))]
    for upload_id in ids:
        drop_upload(tx, upload_id)
    return ids


def put_blob(tx: Tx, sha: str, size: int, now: int) -> None:
    tx.execute("INSERT INTO blobs (sha256, size, created) VALUES (?, ?, ?)"
               " ON CONFLICT (sha256) DO NOTHING", (sha, size, now))


def create_file(tx: Tx, file_id: str, owner_id: int, sha: str, size: int, name: str,
                mime_type: str, now: int, meta: str | None) -> None:
    tx.execute(
        f"INSERT INTO files ({FILE_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (file_id, owner_id, sha, size, name, mime_type, now, meta),
    )


def file(tx: Tx, file_id: str) -> Row | None:
    return tx.one(f"SELECT {FILE_COLS} FROM files WHERE id = ?", (file_id,))


def set_meta(tx: Tx, file_id: str, meta: str) -> None:
    tx.execute("UPDATE files SET meta = ? WHERE id = ?", (meta, file_id))


def used(tx: Tx, owner_id: int) -> int:
    """Bytes counted against the owner's quota: each of their files, deduplicated or not,
    and what their unfinished uploads have declared."""
    row = tx.one(
        "SELECT (SELECT COALESCE(SUM(size), 0) FROM files WHERE owner_id = ?)"
        " + (SELECT COALESCE(SUM(size), 0) FROM uploads WHERE user_id = ? AND file_id IS NULL)",
        (owner_id, owner_id),
    )
    return int(row[0]) if row else 0


def attach(tx: Tx, file_id: str, chat_id: int, message_id: int) -> None:
    tx.execute(
        "INSERT INTO message_files (file_id, chat_id, message_id) VALUES (?, ?, ?)"
        " ON CONFLICT DO NOTHING",
        (file_id, chat_id, message_id),
    )


def carriers(tx: Tx, file_id: str, limit: int = 50) -> list[tuple[int, int]]:
    """Messages that carry the file: (chat_id, message_id)."""
    rows = tx.all(
        "SELECT chat_id, message_id FROM message_files WHERE file_id = ? LIMIT ?",
        (file_id, limit),
    )
    return [(int(c), int(m)) for c, m in rows]


def visible_to(tx: Tx, file_id: str, user_id: int) -> bool:
    """May the user see a message that carries the file? As a member who sees that message
    (not deleted, not hidden for them, not from before they joined), or as a reader of a
    public channel they are not banned from."""
    row = tx.one(
        "SELECT 1 FROM message_files mf"
        " JOIN messages m ON m.chat_id = mf.chat_id AND m.id = mf.message_id AND m.deleted = 0"
        " JOIN chats c ON c.id = mf.chat_id"
        " LEFT JOIN chat_members cm ON cm.chat_id = mf.chat_id AND cm.user_id = ?"
        " WHERE mf.file_id = ? AND ("
        "  (cm.status = 'member' AND m.id > cm.history_from AND NOT EXISTS ("
        "   SELECT 1 FROM hidden_messages h WHERE h.user_id = ? AND h.chat_id = m.chat_id"
        "   AND h.message_id = m.id))"
        "  OR (c.username IS NOT NULL AND c.type IN ('channel', 'supergroup')"
        "   AND (cm.status IS NULL OR cm.status <> 'kicked')))"
        " LIMIT 1",
        (user_id, file_id, user_id),
    )
    return row is not None
