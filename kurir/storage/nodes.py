"""Server processes (nodes) and who is online on which of them."""

from __future__ import annotations

from kurir.storage.port import Tx
from kurir.storage.users import touch_user


def register(tx: Tx, node_id: int, pid: int, now: int) -> None:
    tx.execute("INSERT INTO nodes (id, pid, started, heartbeat) VALUES (?, ?, ?, ?)",
               (node_id, pid, now, now))


def heartbeat(tx: Tx, node_id: int, now: int) -> bool:
    """False when the row is gone: others took this node for dead."""
    return tx.execute("UPDATE nodes SET heartbeat = ? WHERE id = ?", (now, node_id)) > 0


def dead(tx: Tx, before: int, but: int) -> list[int]:
    return [int(r[0]) for r in tx.all(
        "SELECT id FROM nodes WHERE heartbeat < ? AND id <> ?", (before, but))]


def others(tx: Tx, node_id: int) -> list[int]:
    return [int(r[0]) for r in tx.all("SELECT id FROM nodes WHERE id <> ?", (node_id,))]


def came_online(tx: Tx, user_id: int, node_id: int, now: int) -> bool:
    """True when no other node had the user online: the user just came online."""
    touch_user(tx, user_id, now)  # first: the user's row orders these per user
    tx.execute("INSERT INTO online (user_id, node_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
               (user_id, node_id))
    row = tx.one("SELECT COUNT(*) FROM online WHERE user_id = ?", (user_id,))
    return row is not None and int(row[0]) == 1


def went_offline(tx: Tx, user_id: int, node_id: int, now: int) -> bool:
    """True when no node has the user online any more."""
    touch_user(tx, user_id, now)
    tx.execute("DELETE FROM online WHERE user_id = ? AND node_id = ?", (user_id, node_id))
    return tx.one("SELECT 1 FROM online WHERE user_id = ? LIMIT 1", (user_id,)) is None


def drop_node(tx: Tx, node_id: int, now: int) -> list[int] | None:
    """Forget a node and its sockets; the users this leaves offline. None when another
    node swept it first."""
    if tx.execute("DELETE FROM nodes WHERE id = ?", (node_id,)) == 0:
        return None
    users = sorted(int(r[0]) for r in tx.all(
        "SELECT user_id FROM online WHERE node_id = ?", (node_id,)))
    gone = []
    for uid in users:  # ascending: the lock order of user rows
        if went_offline(tx, uid, node_id, now):
            gone.append(uid)
    return gone


def online_among(tx: Tx, user_ids: list[int]) -> set[int]:
    if not user_ids:
        return set()
    marks = ",".join("?" * len(user_ids))
    return {int(r[0]) for r in tx.all(
        f"SELECT DISTINCT user_id FROM online WHERE user_id IN ({marks})", user_ids)}
