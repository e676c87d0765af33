"""Validation rules for what users type: usernames, names, passwords, message text.

The limits follow Telegram's where Telegram has one.
"""

from __future__ import annotations

import re

from kurir.domain import errors

USERNAME_MIN = 5
USERNAME_MAX = 32
DISPLAY_NAME_MAX = 64
BIO_MAX = 140
TITLE_MAX = 128
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
MESSAGE_MAX = 4096
CAPTION_MAX = 1024
REACTION_MAX = 16

# Telegram: letters, digits, underscore; starts with a letter; 5-32 characters.
# We also refuse a trailing underscore and a double one, as Telegram does.
_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,30}[A-Za-z0-9]")


def check_username(username: str) -> str:
    """Return the username as given if it is valid; raise USERNAME_INVALID otherwise."""
    if not (USERNAME_MIN <= len(username) <= USERNAME_MAX) or not _USERNAME.fullmatch(username):
        raise errors.USERNAME_INVALID(
            "a username has 5-32 letters, digits or underscores and starts with a letter"
        )
    if "__" in username:
        raise errors.USERNAME_INVALID("a username may not contain two underscores in a row")
    return username


def username_key(username: str) -> str:
    """The form usernames are compared in: uniqueness is case-insensitive."""
    return username.lower()


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\n\t" for c in text)


def check_display_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > DISPLAY_NAME_MAX or _has_control(name) or "\n" in name:
        raise errors.DISPLAY_NAME_INVALID(f"a display name has 1-{DISPLAY_NAME_MAX} characters")
    return name


def check_bio(bio: str) -> str:
    if len(bio) > BIO_MAX:
        raise errors.ABOUT_TOO_LONG(f"a bio has at most {BIO_MAX} characters")
    return bio


def check_title(title: str) -> str:
    title = title.strip()
    if not title:
        raise errors.CHAT_TITLE_EMPTY("a chat needs a title")
    if len(title) > TITLE_MAX or _has_control(title) or "\n" in title:
        raise errors.BAD_REQUEST(f"a title has at most {TITLE_MAX} characters on one line")
    return title


def check_password(password: str) -> str:
    if len(password) < PASSWORD_MIN or len(password) > PASSWORD_MAX:
        raise errors.PASSWORD_TOO_WEAK(f"a password has at least {PASSWORD_MIN} characters")
    if len(set(password)) < 4:
        raise errors.PASSWORD_TOO_WEAK("a password needs at least 4 different characters")
    return password


def check_message_text(text: str) -> str:
    """Telegram strips surrounding whitespace; what remains must be 1-4096 characters."""
    if not text.strip():
        raise errors.MESSAGE_EMPTY("the message text is empty")
    if len(text) > MESSAGE_MAX:
        raise errors.MESSAGE_TOO_LONG(f"a message has at most {MESSAGE_MAX} characters")
    return text


# Code points that make up emoji: pictographs and symbols, regional-indicator flags, and the
# joiners and modifiers of emoji sequences (ZWJ, variation selector 16, skin tones, keycap,
# tag characters). Telegram keeps an allow-list of reactions; any emoji is ours.
_EMOJI_RANGES = (
    (0x00A9, 0x00A9), (0x00AE, 0x00AE), (0x203C, 0x203C), (0x2049, 0x2049),
    (0x2122, 0x2122), (0x2139, 0x2139), (0x2194, 0x21AA), (0x231A, 0x23FF),
    (0x24C2, 0x24C2), (0x25AA, 0x25FE), (0x2600, 0x27BF), (0x2934, 0x2935),
    (0x2B05, 0x2B55), (0x3030, 0x3030), (0x303D, 0x303D), (0x3297, 0x3299),
    (0x1F000, 0x1FAFF), (0x200D, 0x200D), (0xFE0F, 0xFE0F), (0x20E3, 0x20E3),
    (0xE0020, 0xE007F),
)
_KEYCAP_BASES = frozenset("0123456789#*")


def _is_emoji_part(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES)


def check_reaction(emoji: str) -> str:
    """One emoji (a sequence of emoji code points, or a keycap such as 1️⃣)."""
    ok = 0 < len(emoji) <= REACTION_MAX
    if ok and "\u20e3" in emoji and emoji[0] in _KEYCAP_BASES:
        ok = all(_is_emoji_part(c) for c in emoji[1:])
    elif ok:
        ok = all(_is_emoji_part(c) for c in emoji) and any(
            c not in "\u200d\ufe0f\u20e3" for c in emoji
        )
    if not ok:
        raise errors.REACTION_INVALID("a reaction is one emoji")
    return emoji


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally (used with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def check_caption(caption: str) -> str:
    """A media message's caption: empty, or at most CAPTION_MAX characters."""
    if len(caption) > CAPTION_MAX:
        raise errors.MESSAGE_TOO_LONG(f"a caption has at most {CAPTION_MAX} characters")
    return caption
