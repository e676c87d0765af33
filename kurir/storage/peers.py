"""Who a user talks with one to one (for presence events)."""

from __future__ import annotations

from kurir.storage.port import Tx


def private_peers(tx: Tx, user_id: int) -> list[int]:
    rows = tx.all(
        "SELECT private_hi FROM chats WHERE private_lo = ? AND private_hi <> ?"
        " UNION SELECT private_lo FROM chats WHERE private_hi = ? AND private_lo <> ?",
        (user_id, user_id, user_id, user_id),
    )
    return [int(r[0]) for r in rows]
