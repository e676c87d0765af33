"""Message entities (bold, links, mentions, …) with Telegram's UTF-16 offsets.

Telegram measures `offset` and `length` in UTF-16 code units, so a character outside the
Basic Multilingual Plane (most emoji) counts twice. Entities must lie inside the text and
may nest but not overlap partially (as Telegram's parser guarantees).
"""

from __future__ import annotations

import re
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


# What Telegram finds in plain text by itself: links, addresses, commands, mentions, tags
_FOUND = (
    ("url", re.compile(r"\bhttps?://[^\s<>\"]+", re.IGNORECASE)),
    ("email", re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")),
    ("bot_command", re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/@])")),
    ("mention", re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,32}(?![\w@])")),
    ("hashtag", re.compile(r"(?<![\w#])#\w*[^\W\d]\w*")),
)
_TRAILING = ".,;:!?)]}'\""


def detect(text: str) -> list[MessageEntity]:
    """The entities Telegram marks in plain text (a command, @mention, #tag, link or
    e-mail address), in order, none overlapping; bots see commands by these."""
    if not any(ch in text for ch in "/@#:"):
        return []
    spans: list[tuple[int, int, str]] = []
    for kind, pattern in _FOUND:
        for m in pattern.finditer(text):
            start, end = m.start(), m.end()
            if kind == "url":
                while end > start and text[end - 1] in _TRAILING:
                    end -= 1
            if any(start < e and s < end for s, e, _ in spans):
                continue
            spans.append((start, end, kind))
    spans.sort()
    return [MessageEntity(type=kind, offset=utf16_len(text[:start]),
                          length=utf16_len(text[start:end]))
            for start, end, kind in spans[:MAX_ENTITIES]]
