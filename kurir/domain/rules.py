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


def check_reaction(emoji: str) -> str:
    if not emoji or len(emoji) > REACTION_MAX or any(c.isspace() for c in emoji):
        raise errors.REACTION_INVALID("a reaction is one emoji")
    if any(c.isascii() and c.isalnum() for c in emoji):
        raise errors.REACTION_INVALID("a reaction is one emoji")
    return emoji


def escape_like(text: str) -> str:
    """Escape LIKE wildcards so user input matches literally (used with ESCAPE '\\')."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
