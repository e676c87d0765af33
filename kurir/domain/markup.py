"""Reply markup a bot attaches to a message, in the Bot API's own shapes.

Four kinds: an inline keyboard (buttons under the message: a callback, a link, …), a
reply keyboard (buttons that replace the user's keyboard and send their text), its
removal, and a forced reply. Stored and shown to users as given, once checked here.
"""

from __future__ import annotations

from typing import Any

from kurir.domain import errors

MAX_BUTTONS = 100
CALLBACK_DATA_MAX = 64  # bytes, as Telegram
INLINE_ACTIONS = (
    "callback_data", "url", "web_app", "login_url", "switch_inline_query",
    "switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "copy_text",
    "callback_game", "pay",
)
REPLY_OPTIONS = ("is_persistent", "resize_keyboard", "one_time_keyboard",
                 "input_field_placeholder", "selective")


def _bad(why: str) -> errors.ApiError:
    return errors.REPLY_MARKUP_INVALID(why)


def _rows(value: Any, name: str) -> list[list[Any]]:
    if not isinstance(value, list) or not all(isinstance(r, list) for r in value):
        raise _bad(f"{name} must be an array of arrays of buttons")
    if sum(len(r) for r in value) > MAX_BUTTONS:
        raise _bad(f"at most {MAX_BUTTONS} buttons")
    return value


def _text(button: dict[str, Any]) -> str:
    text = button.get("text")
    if not isinstance(text, str) or not text.strip() or len(text) > 256:
        raise _bad("a button needs a text of 1-256 characters")
    return text


def _inline_button(button: Any) -> dict[str, Any]:
    if not isinstance(button, dict):
        raise _bad("an inline keyboard button must be an object")
    out: dict[str, Any] = {"text": _text(button)}
    actions = [a for a in INLINE_ACTIONS if button.get(a) is not None]
    if len(actions) != 1:
        raise _bad("an inline keyboard button needs exactly one action (callback_data, url, …)")
    action = actions[0]
    value = button[action]
    if action == "callback_data":
        if not isinstance(value, str) or not 1 <= len(value.encode()) <= CALLBACK_DATA_MAX:
            raise errors.BAD_REQUEST("Bad Request: BUTTON_DATA_INVALID")
    elif action == "url" and (not isinstance(value, str)
                              or not value.startswith(("http://", "https://", "tg://"))):
        raise errors.BAD_REQUEST("Bad Request: BUTTON_URL_INVALID")
    out[action] = value
    return out


def _reply_button(button: Any) -> dict[str, Any]:
    if isinstance(button, str):
        button = {"text": button}
    if not isinstance(button, dict):
        raise _bad("a keyboard button must be a string or an object")
    out = {"text": _text(button)}
    for k in ("request_contact", "request_location", "request_poll", "request_users",
              "request_chat", "web_app"):
        if button.get(k) is not None:
            out[k] = button[k]
    return out


def check_reply_markup(markup: Any) -> dict[str, Any] | None:
    """The markup as stored, or None for none; REPLY_MARKUP_INVALID when it is not one."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad("reply_markup must be an object")
    if "inline_keyboard" in markup:
        rows = _rows(markup["inline_keyboard"], "inline_keyboard")
        return {"inline_keyboard": [[_inline_button(b) for b in row] for row in rows if row]}
    if "keyboard" in markup:
        rows = _rows(markup["keyboard"], "keyboard")
        out: dict[str, Any] = {"keyboard": [[_reply_button(b) for b in row]
                                            for row in rows if row]}
        for k in REPLY_OPTIONS:
            if markup.get(k) is not None:
                out[k] = markup[k]
        return out
    if markup.get("remove_keyboard") is True:
        return {"remove_keyboard": True, **({"selective": True} if markup.get("selective")
                                            else {})}
    if markup.get("force_reply") is True:
        out = {"force_reply": True}
        for k in ("input_field_placeholder", "selective"):
            if markup.get(k) is not None:
                out[k] = markup[k]
        return out
    raise _bad("reply_markup must be an inline keyboard, a keyboard, its removal or a force reply")


def callback_button(markup: dict[str, Any] | None, data: str) -> dict[str, Any] | None:
    """The inline button carrying `data`, if the markup has one."""
    for row in (markup or {}).get("inline_keyboard") or ():
        for button in row:
            if isinstance(button, dict) and button.get("callback_data") == data:
                return button
    return None
