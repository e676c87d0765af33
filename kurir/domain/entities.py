"""Message entities (bold, links, mentions, …) with Telegram's UTF-16 offsets.

Telegram measures `offset` and `length` in UTF-16 code units, so a character outside the
Basic Multilingual Plane (most emoji) counts twice. Entities must lie inside the text and
may nest but not overlap partially (as Telegram's parser guarantees).
"""

from __future__ import annotations

from collections.abc import Sequence

from kurir.domain import errors
from kurir.domain.types import MessageEntity

SIMPLE_TYPES = frozenset(
    {
        "bold", "italic", "underline", "strikethrough", "spoiler", "code", "mention",
        "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "blockquote",
        "expandable_blockquote",
    }
)
TYPES = SIMPLE_TYPES | {"pre", "text_link", "text_mention", "custom_emoji"}
MAX_ENTITIES = 100
URL_SCHEMES = ("http://", "https://", "tg://", "mailto:", "kurir://")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def check_entities(text: str, entities: Sequence[MessageEntity] | None) -> list[MessageEntity]:
    if not entities:
        return []
    if len(entities) > MAX_ENTITIES:
        raise errors.ENTITIES_INVALID(f"at most {MAX_ENTITIES} entities")
    total = utf16_len(text)
    out = sorted(entities, key=lambda e: (e.offset, -e.length))
    open_ends: list[int] = []
    for e in out:
        if e.type not in TYPES:
            raise errors.ENTITIES_INVALID(f"unknown entity type {e.type!r}")
        if e.offset + e.length > total:
            raise errors.ENTITIES_INVALID("an entity lies outside the text")
        if e.type == "text_link":
            if not e.url or not e.url.startswith(URL_SCHEMES) or len(e.url) > 2048:
                raise errors.ENTITIES_INVALID("a text_link needs an http(s) url")
        elif e.url is not None:
            raise errors.ENTITIES_INVALID(f"a {e.type} entity has no url")
        if e.type == "text_mention" and not e.user_id:
            raise errors.ENTITIES_INVALID("a text_mention needs a user_id")
        if e.language is not None and (e.type != "pre" or len(e.language) > 32):
            raise errors.ENTITIES_INVALID("only a pre entity has a language")
        while open_ends and open_ends[-1] <= e.offset:
            open_ends.pop()
        if open_ends and e.offset + e.length > open_ends[-1]:
            raise errors.ENTITIES_INVALID("entities may nest but not overlap")
        open_ends.append(e.offset + e.length)
    return out
