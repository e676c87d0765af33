"""Errors are values of the API: one type per failure, named as in the contract.

The core raises them; each transport turns them into its own shape (HTTP status and
JSON envelope, a WebSocket error frame, the Bot API's `error_code`/`description`).
"""

from __future__ import annotations


class ApiError(Exception):
    """A failure the caller can act on. `type` is the contract's name for it."""

    code: int = 400
    type: str = "BAD_REQUEST"

    def __init__(self, message: str = "", *, retry_after: int | None = None) -> None:
        super().__init__(message or self.type)
        self.message = message or self.type.replace("_", " ").capitalize()
        self.retry_after = retry_after

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"code": self.code, "type": self.type, "message": self.message}
        if self.retry_after is not None:
            out["retry_after"] = self.retry_after
        return out


def _error(name: str, code: int) -> type[ApiError]:
    return type(name, (ApiError,), {"code": code, "type": name, "__module__": __name__})


# 400
BAD_REQUEST = _error("BAD_REQUEST", 400)
USERNAME_INVALID = _error("USERNAME_INVALID", 400)
USERNAME_OCCUPIED = _error("USERNAME_OCCUPIED", 400)
USERNAME_NOT_MODIFIED = _error("USERNAME_NOT_MODIFIED", 400)
USERNAME_NOT_OCCUPIED = _error("USERNAME_NOT_OCCUPIED", 400)
PASSWORD_TOO_WEAK = _error("PASSWORD_TOO_WEAK", 400)
DISPLAY_NAME_INVALID = _error("DISPLAY_NAME_INVALID", 400)
ABOUT_TOO_LONG = _error("ABOUT_TOO_LONG", 400)
MESSAGE_EMPTY = _error("MESSAGE_EMPTY", 400)
MESSAGE_TOO_LONG = _error("MESSAGE_TOO_LONG", 400)
MESSAGE_NOT_MODIFIED = _error("MESSAGE_NOT_MODIFIED", 400)
ENTITIES_INVALID = _error("ENTITIES_INVALID", 400)
PEER_INVALID = _error("PEER_INVALID", 400)
USER_ID_INVALID = _error("USER_ID_INVALID", 400)
MESSAGE_ID_INVALID = _error("MESSAGE_ID_INVALID", 400)
CHAT_TITLE_EMPTY = _error("CHAT_TITLE_EMPTY", 400)
USER_ALREADY_PARTICIPANT = _error("USER_ALREADY_PARTICIPANT", 400)
USER_NOT_PARTICIPANT = _error("USER_NOT_PARTICIPANT", 400)
REACTION_INVALID = _error("REACTION_INVALID", 400)
INVITE_HASH_INVALID = _error("INVITE_HASH_INVALID", 400)
INVITE_HASH_EXPIRED = _error("INVITE_HASH_EXPIRED", 400)
SESSION_ID_INVALID = _error("SESSION_ID_INVALID", 400)
LIMIT_INVALID = _error("LIMIT_INVALID", 400)
QUERY_TOO_SHORT = _error("QUERY_TOO_SHORT", 400)
CHAT_MEMBERS_TOO_MANY = _error("CHAT_MEMBERS_TOO_MANY", 400)
PTS_INVALID = _error("PTS_INVALID", 400)
CHANNELS_TOO_MUCH = _error("CHANNELS_TOO_MUCH", 400)
CHANNEL_INVALID = _error("CHANNEL_INVALID", 400)
CHAT_NOT_MODIFIED = _error("CHAT_NOT_MODIFIED", 400)
TOPIC_ID_INVALID = _error("TOPIC_ID_INVALID", 400)
TOPIC_CLOSED = _error("TOPIC_CLOSED", 400)
FILE_TOO_BIG = _error("FILE_TOO_BIG", 400)
FILE_PARTS_INVALID = _error("FILE_PARTS_INVALID", 400)
FILE_PART_INVALID = _error("FILE_PART_INVALID", 400)
FILE_ID_INVALID = _error("FILE_ID_INVALID", 400)
MEDIA_INVALID = _error("MEDIA_INVALID", 400)
QUOTA_EXCEEDED = _error("QUOTA_EXCEEDED", 400)
BOTS_TOO_MUCH = _error("BOTS_TOO_MUCH", 400)
BOT_INVALID = _error("BOT_INVALID", 400)
BOT_RESPONSE_TIMEOUT = _error("BOT_RESPONSE_TIMEOUT", 400)
DATA_INVALID = _error("DATA_INVALID", 400)
QUERY_ID_INVALID = _error("QUERY_ID_INVALID", 400)
WEBHOOK_URL_INVALID = _error("WEBHOOK_URL_INVALID", 400)
REPLY_MARKUP_INVALID = _error("REPLY_MARKUP_INVALID", 400)
# 401
AUTH_KEY_INVALID = _error("AUTH_KEY_INVALID", 401)
PASSWORD_INVALID = _error("PASSWORD_INVALID", 401)
# 403
CHAT_WRITE_FORBIDDEN = _error("CHAT_WRITE_FORBIDDEN", 403)
CHAT_ADMIN_REQUIRED = _error("CHAT_ADMIN_REQUIRED", 403)
CHAT_OWNER_REQUIRED = _error("CHAT_OWNER_REQUIRED", 403)
MESSAGE_AUTHOR_REQUIRED = _error("MESSAGE_AUTHOR_REQUIRED", 403)
CHAT_FORBIDDEN = _error("CHAT_FORBIDDEN", 403)
RIGHT_FORBIDDEN = _error("RIGHT_FORBIDDEN", 403)
USER_ADMIN_INVALID = _error("USER_ADMIN_INVALID", 403)
USER_BANNED_IN_CHANNEL = _error("USER_BANNED_IN_CHANNEL", 403)
USER_NOT_MUTUAL = _error("USER_NOT_MUTUAL", 403)
USER_IS_BOT = _error("USER_IS_BOT", 403)
BOT_CANT_INITIATE = _error("BOT_CANT_INITIATE", 403)
# 404
METHOD_INVALID = _error("METHOD_INVALID", 404)
CHAT_NOT_FOUND = _error("CHAT_NOT_FOUND", 404)
USER_NOT_FOUND = _error("USER_NOT_FOUND", 404)
NOT_FOUND = _error("NOT_FOUND", 404)
# 409
CONFLICT = _error("CONFLICT", 409)
# 413
PAYLOAD_TOO_LARGE = _error("PAYLOAD_TOO_LARGE", 413)
# 429
FLOOD_WAIT = _error("FLOOD_WAIT", 429)
SLOWMODE_WAIT = _error("SLOWMODE_WAIT", 429)
# 500
INTERNAL = _error("INTERNAL", 500)
