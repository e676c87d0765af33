"""The Bot API's methods, each done with kurir's own services as the bot.

A method gets the bot (its user id) and its typed parameters (params.py) and answers with
Bot API objects (services/botobjects.py). Who may do what is decided by the services, as
for any user: a bot is a member like others, with the rights it was given.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import UploadFile

from kurir.api.context import Services
from kurir.domain import errors, formatting, markup
from kurir.domain.ratelimit import RateLimiter
from kurir.domain.rights import AdminRights, BannedRights, admin_names, banned_names
from kurir.domain.types import Chat, Message, MessageEntity
from kurir.services.botobjects import member_obj, parse_chat_id
from kurir.services.bots import Bots
from kurir.services.media import Attributes
from kurir.services.messaging import KEEP
from kurir.transports.botapi.params import bad

J = dict[str, Any]
Handler = Callable[["Call"], Awaitable[Any]]
UPLOAD_READ = 1 << 20
# ChatPermissions fields -> the restriction each one lifts
PERMISSIONS = {
    "can_send_messages": BannedRights.SEND_MESSAGES,
    "can_send_audios": BannedRights.SEND_MEDIA, "can_send_documents": BannedRights.SEND_MEDIA,
    "can_send_photos": BannedRights.SEND_MEDIA, "can_send_videos": BannedRights.SEND_MEDIA,
    "can_send_video_notes": BannedRights.SEND_MEDIA,
    "can_send_voice_notes": BannedRights.SEND_MEDIA,
    "can_send_polls": BannedRights.SEND_POLLS,
    "can_add_web_page_previews": BannedRights.EMBED_LINKS,
    "can_change_info": BannedRights.CHANGE_INFO, "can_invite_users": BannedRights.INVITE_USERS,
    "can_pin_messages": BannedRights.PIN_MESSAGES,
    "can_manage_topics": BannedRights.MANAGE_TOPICS,
}
# promoteChatMember's fields -> the admin right each one grants
PROMOTIONS = {
    "can_change_info": AdminRights.CHANGE_INFO, "can_post_messages": AdminRights.POST_MESSAGES,
    "can_edit_messages": AdminRights.EDIT_MESSAGES,
    "can_delete_messages": AdminRights.DELETE_MESSAGES,
    "can_restrict_members": AdminRights.BAN_USERS, "can_invite_users": AdminRights.INVITE_USERS,
    "can_pin_messages": AdminRights.PIN_MESSAGES, "can_manage_topics": AdminRights.MANAGE_TOPICS,
    "can_promote_members": AdminRights.ADD_ADMINS, "is_anonymous": AdminRights.ANONYMOUS,
}


@dataclass
class Limits:
    """Telegram's flood limits for bots: about 30 messages a second in all, about one a
    second in one private chat (bursts allowed), 20 a minute in one group."""

    overall: RateLimiter
    private: RateLimiter
    group: RateLimiter

    def take(self, bot_id: int, chat_id: int, private: bool, cost: int = 1) -> None:
        now = time.monotonic()
        per_chat = self.private if private else self.group
        wait = max(self.overall.wait(bot_id, now, cost),
                   per_chat.wait((bot_id, chat_id), now, cost))
        if wait:
            retry = RateLimiter.retry_after(wait)
            raise errors.FLOOD_WAIT(f"Too Many Requests: retry after {retry}", retry_after=retry)
        self.overall.take(bot_id, now, cost)
        per_chat.take((bot_id, chat_id), now, cost)


@dataclass
class Call:
    bot_id: int
    p: J
    ctx: Context
    files: dict[str, UploadFile]

    def int(self, name: str) -> int:
        value = self.p.get(name)
        if value is None:
            raise bad(f"{name} is empty")
        return int(value)

    def opt(self, name: str, default: Any = None) -> Any:
        return self.p.get(name, default)


@dataclass
class Context:
    services: Services
    bots: Bots
    limits: Limits
    public_url: str


class Target:
    """A Bot API chat_id resolved: the kurir chat, and whether it is a private one."""

    __slots__ = ("chat_id", "private")

    def __init__(self, chat_id: int, private: bool) -> None:
        self.chat_id = chat_id
        self.private = private


async def target(c: Call, name: str = "chat_id") -> Target:
    value = c.p.get(name)
    if value is None:
        raise bad(f"{name} is empty")
    if isinstance(value, str):
        if not value.startswith("@") or len(value) < 2:
            raise bad("chat not found")
        return Target(await c.ctx.bots.resolve_username(value), False)
    chat_id, user_id = parse_chat_id(int(value))
    if user_id is not None:
        return Target(await c.ctx.bots.private_chat(c.bot_id, user_id), True)
    if chat_id is None:
        raise bad("chat not found")
    return Target(chat_id, False)


def _entities(raw: Any) -> list[MessageEntity] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise bad("can't parse entities")
    out = []
    for e in raw:
        if not isinstance(e, dict) or not isinstance(e.get("type"), str):
            raise bad("can't parse entities")
        try:
            out.append(MessageEntity(
                type=e["type"], offset=int(e.get("offset", 0)), length=int(e.get("length", 0)),
                url=e.get("url"), language=e.get("language"),
                user_id=int(e["user"]["id"]) if isinstance(e.get("user"), dict) else None,
            ))
        except (KeyError, TypeError, ValueError):
            raise bad("can't parse entities") from None
    return out


def formatted(c: Call, text_key: str, entities_key: str) -> tuple[str, list[MessageEntity] | None]:
    """The text with its entities: given, or parsed from the parse_mode markup."""
    text = c.p.get(text_key) or ""
    mode = c.p.get("parse_mode")
    if mode and text:
        return formatting.parse(text, mode)
    return text, _entities(c.p.get(entities_key))


def _markup(c: Call) -> dict[str, Any] | None:
    return markup.check_reply_markup(c.p.get("reply_markup"))


def _reply_to(c: Call) -> tuple[int | None, bool]:
    """The message replied to, and whether sending without it is allowed when it is gone."""
    params = c.p.get("reply_parameters")
    if isinstance(params, dict) and params.get("message_id") is not None:
        return int(params["message_id"]), bool(params.get("allow_sending_without_reply"))
    legacy = c.p.get("reply_to_message_id")
    if legacy not in (None, ""):
        return int(legacy), bool(c.p.get("allow_sending_without_reply") in (True, "true"))
    return None, False


def _rid() -> int:
    return secrets.randbits(62) + 1


async def _render(c: Call, msgs: list[Message]) -> list[J]:
    return await c.ctx.bots.render(c.bot_id, msgs)


async def _send(c: Call, t: Target, send: Callable[[int | None], Awaitable[Message]]) -> J:
    """Send, replying where asked; gone replied-to messages are dropped when allowed."""
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private)
    reply_to, lenient = _reply_to(c)
    try:
        msg = await send(reply_to)
    except errors.MESSAGE_ID_INVALID:
        if reply_to is None or not lenient:
            if reply_to is not None:
                raise bad("message to be replied not found") from None
            raise
        msg = await send(None)
    return (await _render(c, [msg]))[0]


# the bot itself ----------------------------------------------------------------------------
async def get_me(c: Call) -> J:
    bot = await c.ctx.bots.get(c.bot_id)
    out: J = {"id": bot.user_id, "is_bot": True, "first_name": bot.display_name,
              "username": bot.username, "can_join_groups": True,
              "can_read_all_group_messages": not bot.privacy,
              "supports_inline_queries": False, "can_connect_to_business": False,
              "has_main_web_app": False}
    return out


async def log_out(c: Call) -> bool:
    return await c.ctx.bots.log_out(c.bot_id)


async def get_updates(c: Call) -> Any:
    limit = max(1, min(100, int(c.opt("limit", 100))))
    timeout = max(0, min(50, int(c.opt("timeout", 0))))
    offset = c.opt("offset")
    allowed = c.opt("allowed_updates")
    found = await c.ctx.bots.get_updates(c.bot_id, int(offset) if offset is not None else None,
                                         limit, timeout, allowed)
    return RawList(found)


class RawList(list[bytes]):
    """Updates already encoded as the Bot API's JSON: sent as they are."""


async def set_webhook(c: Call) -> bool:
    url = str(c.opt("url", ""))
    return await c.ctx.bots.set_webhook(
        c.bot_id, url, str(c.opt("secret_token", "")),
        max(1, min(100, int(c.opt("max_connections", 40)))), c.opt("allowed_updates"),
        bool(c.opt("drop_pending_updates", False)))


async def delete_webhook(c: Call) -> bool:
    return await c.ctx.bots.delete_webhook(c.bot_id, bool(c.opt("drop_pending_updates", False)))


async def get_webhook_info(c: Call) -> J:
    return await c.ctx.bots.webhook_info(c.bot_id)


def _scope(c: Call) -> tuple[str, str]:
    scope = c.opt("scope") or {"type": "default"}
    kind = str(scope.get("type", "default")) if isinstance(scope, dict) else "default"
    if isinstance(scope, dict) and scope.get("chat_id") is not None:
        kind += f":{scope['chat_id']}"
        if scope.get("user_id") is not None:
            kind += f":{scope['user_id']}"
    return kind, str(c.opt("language_code", ""))[:8]


async def set_my_commands(c: Call) -> bool:
    commands = c.opt("commands")
    if not isinstance(commands, list) or not all(isinstance(x, dict) for x in commands):
        raise bad("can't parse commands")
    scope, lang = _scope(c)
    return await c.ctx.bots.set_commands(c.bot_id, scope, lang, commands)


async def get_my_commands(c: Call) -> list[J]:
    scope, lang = _scope(c)
    return await c.ctx.bots.commands(c.bot_id, scope, lang)


async def delete_my_commands(c: Call) -> bool:
    scope, lang = _scope(c)
    return await c.ctx.bots.set_commands(c.bot_id, scope, lang, None)


async def set_my_name(c: Call) -> bool:
    name = c.opt("name")
    bot = await c.ctx.bots.get(c.bot_id)
    return await c.ctx.bots.set_profile(c.bot_id, display_name=name or bot.username)


async def get_my_name(c: Call) -> J:
    return {"name": (await c.ctx.bots.get(c.bot_id)).display_name}


async def set_my_description(c: Call) -> bool:
    return await c.ctx.bots.set_profile(c.bot_id, description=str(c.opt("description", "")))


async def get_my_description(c: Call) -> J:
    return {"description": (await c.ctx.bots.get(c.bot_id)).description}


async def set_my_short_description(c: Call) -> bool:
    return await c.ctx.bots.set_profile(
        c.bot_id, short_description=str(c.opt("short_description", "")))


async def get_my_short_description(c: Call) -> J:
    return {"short_description": (await c.ctx.bots.get(c.bot_id)).short_description}


# messages ----------------------------------------------------------------------------------
async def send_message(c: Call) -> J:
    t = await target(c)
    text, ents = formatted(c, "text", "entities")
    reply_markup = _markup(c)
    topic = c.opt("message_thread_id")
    return await _send(c, t, lambda reply_to: c.ctx.services.messaging.send(
        c.bot_id, t.chat_id, None, text, _rid(), reply_to, ents, reply_markup=reply_markup,
        topic_id=topic))


async def forward_message(c: Call) -> J:
    t = await target(c)
    source = await target(c, "from_chat_id")
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private)
    msgs = await c.ctx.services.messaging.forward(c.bot_id, source.chat_id,
                                                  [c.int("message_id")], t.chat_id, None, None)
    return (await _render(c, msgs))[0]


async def forward_messages(c: Call) -> list[J]:
    t = await target(c)
    source = await target(c, "from_chat_id")
    ids = sorted(set(c.opt("message_ids") or []))
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private, len(ids))
    msgs = await c.ctx.services.messaging.forward(c.bot_id, source.chat_id, ids, t.chat_id,
                                                  None, None)
    return [{"message_id": m.id} for m in msgs]


async def _copy(c: Call, t: Target, source: Target, message_id: int,
                caption: tuple[str, list[MessageEntity] | None] | None) -> Message:
    found = await c.ctx.services.messaging.get_messages(c.bot_id, source.chat_id, [message_id])
    if not found or found[0].action is not None:
        raise bad("message to copy not found")
    orig = found[0]
    text, ents = caption if caption is not None else (orig.text, orig.entities)
    reply_to, _ = _reply_to(c)
    if orig.media is not None:
        media = dict(orig.media)
        return await c.ctx.services.media.send(
            c.bot_id, t.chat_id, None, str(media["file_id"]), str(media.get("kind", "document")),
            text, _rid(), ents, reply_to,
            attrs=Attributes(duration=media.get("duration"), width=media.get("width"),
                             height=media.get("height"), waveform=media.get("waveform")))
    return await c.ctx.services.messaging.send(c.bot_id, t.chat_id, None, text, _rid(),
                                               reply_to, ents, reply_markup=_markup(c))


async def copy_message(c: Call) -> J:
    t = await target(c)
    source = await target(c, "from_chat_id")
    caption = formatted(c, "caption", "caption_entities") if "caption" in c.p else None
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private)
    msg = await _copy(c, t, source, c.int("message_id"), caption)
    return {"message_id": msg.id}


async def copy_messages(c: Call) -> list[J]:
    t = await target(c)
    source = await target(c, "from_chat_id")
    ids = sorted(set(c.opt("message_ids") or []))
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private, len(ids))
    out = []
    for message_id in ids:
        msg = await _copy(c, t, source, int(message_id), None)
        out.append({"message_id": msg.id})
    return out


def _no_inline(c: Call) -> None:
    if c.opt("inline_message_id"):
        raise bad("inline messages are not supported by this server")


async def _edit(c: Call, text: str | None, ents: list[MessageEntity] | None) -> J:
    _no_inline(c)
    t = await target(c)
    message_id = c.int("message_id")
    found = await c.ctx.services.messaging.get_messages(c.bot_id, t.chat_id, [message_id])
    if not found:
        raise bad("message to edit not found")
    if text is not None and (found[0].media is None) != (c.p.get("text") is not None):
        raise bad("there is no text in the message to edit" if c.p.get("text") is not None
                  else "there is no caption in the message to edit")
    # as Telegram: the author's edit without reply_markup takes the inline keyboard away;
    # an admin's edit of someone else's post leaves it
    reply_markup: Any = _markup(c)
    if "reply_markup" not in c.p and found[0].from_id != c.bot_id:
        reply_markup = KEEP
    msg = await c.ctx.services.messaging.edit(c.bot_id, t.chat_id, message_id, text, ents,
                                              reply_markup)
    return (await _render(c, [msg]))[0]


async def edit_message_text(c: Call) -> J:
    text, ents = formatted(c, "text", "entities")
    return await _edit(c, text, ents)


async def edit_message_caption(c: Call) -> J:
    text, ents = formatted(c, "caption", "caption_entities")
    return await _edit(c, text, ents)


async def edit_message_reply_markup(c: Call) -> J:
    return await _edit(c, None, None)


async def _delete(c: Call, chat_id: int, ids: list[int]) -> bool:
    try:
        return await c.ctx.services.messaging.delete(c.bot_id, chat_id, ids, True)
    except errors.MESSAGE_AUTHOR_REQUIRED:
        raise bad("message can't be deleted") from None


async def delete_message(c: Call) -> bool:
    t = await target(c)
    message_id = c.int("message_id")
    if not await c.ctx.services.messaging.get_messages(c.bot_id, t.chat_id, [message_id]):
        raise bad("message to delete not found")
    return await _delete(c, t.chat_id, [message_id])


async def delete_messages(c: Call) -> bool:
    t = await target(c)
    ids = [int(i) for i in c.opt("message_ids") or []]
    if not ids:
        raise bad("message_ids is empty")
    return await _delete(c, t.chat_id, ids)


async def answer_callback_query(c: Call) -> bool:
    return c.ctx.bots.answer(c.bot_id, str(c.opt("callback_query_id", "")), c.opt("text"),
                             bool(c.opt("show_alert", False)), c.opt("url"))


async def send_chat_action(c: Call) -> bool:
    t = await target(c)
    return await c.ctx.services.messaging.set_typing(c.bot_id, t.chat_id,
                                                     str(c.opt("action", "typing")))


async def set_message_reaction(c: Call) -> bool:
    t = await target(c)
    reaction = c.opt("reaction") or []
    emoji = None
    for r in reaction:
        if isinstance(r, dict) and r.get("type") == "emoji" and r.get("emoji"):
            emoji = str(r["emoji"])
    return await c.ctx.services.messaging.react(c.bot_id, t.chat_id, c.int("message_id"), emoji)


async def pin_chat_message(c: Call) -> bool:
    t = await target(c)
    return await c.ctx.services.messaging.pin(c.bot_id, t.chat_id, c.int("message_id"), False)


async def unpin_chat_message(c: Call) -> bool:
    t = await target(c)
    return await c.ctx.services.messaging.pin(c.bot_id, t.chat_id,
                                              int(c.opt("message_id", 0) or 0), True)


# files -------------------------------------------------------------------------------------
async def store(c: Call, upload: UploadFile, fallback_name: str) -> str:
    """An uploaded file (multipart) made a kurir file of the bot's; its file_id."""
    files = c.ctx.services.files
    upload.file.seek(0, 2)
    size = upload.file.tell()
    upload.file.seek(0)
    name = upload.filename or fallback_name
    mime = upload.content_type or "application/octet-stream"
    started = await files.start(c.bot_id, name, mime, size)
    upload_id, part_size = str(started["upload_id"]), int(str(started["part_size"]))
    part = 0
    while True:
        left = min(part_size, size - part * part_size)

        async def chunks(n: int = left) -> AsyncIterator[bytes]:
            while n > 0:
                data = await upload.read(min(UPLOAD_READ, n))
                if not data:
                    return
                n -= len(data)
                yield data

        await files.put_part(c.bot_id, upload_id, part, chunks())
        part += 1
        if part * part_size >= size:
            break
    done = await files.finish(c.bot_id, upload_id)
    return str(done["file_id"])


async def _file_id(c: Call, value: Any, kind: str) -> str:
    if isinstance(value, UploadFile):
        return await store(c, value, f"{kind}.{'jpg' if kind == 'photo' else 'bin'}")
    if not isinstance(value, str) or not value:
        raise bad(f"there is no {kind} in the request")
    if value.startswith(("http://", "https://")):
        raise bad("wrong HTTP URL specified: this server does not fetch files from URLs;"
                  " upload the file instead")
    return value


def _send_media(kind: str) -> Handler:
    async def handler(c: Call) -> J:
        t = await target(c)
        file_id = await _file_id(c, c.p.get(kind), kind)
        caption, ents = formatted(c, "caption", "caption_entities")
        attrs = Attributes(duration=c.opt("duration"), width=c.opt("width"),
                           height=c.opt("height"))
        reply_markup = _markup(c)
        topic = c.opt("message_thread_id")

        async def send(reply_to: int | None) -> Message:
            try:
                return await c.ctx.services.media.send(
                    c.bot_id, t.chat_id, None, file_id, kind, caption, _rid(), ents, reply_to,
                    topic, attrs, reply_markup)
            except errors.FILE_ID_INVALID:
                raise bad("wrong file identifier/HTTP URL specified") from None

        return await _send(c, t, send)

    return handler


async def send_media_group(c: Call) -> list[J]:
    t = await target(c)
    media = c.opt("media")
    if not isinstance(media, list) or not 2 <= len(media) <= 10:
        raise bad("wrong number of items in the media group: must be 2-10")
    items = []
    for item in media:
        if not isinstance(item, dict) or item.get("type") not in ("photo", "video", "document",
                                                                  "audio"):
            raise bad("can't parse InputMedia")
        value = item.get("media")
        if isinstance(value, str) and value.startswith("attach://"):
            value = c.files.get(value[9:])
        file_id = await _file_id(c, value, str(item["type"]))
        caption = str(item.get("caption") or "")
        ents = _entities(item.get("caption_entities"))
        if item.get("parse_mode") and caption:
            caption, ents = formatting.parse(caption, item["parse_mode"])
        items.append((file_id, str(item["type"]), caption, ents, _rid()))
    c.ctx.limits.take(c.bot_id, t.chat_id, t.private, len(items))
    reply_to, _ = _reply_to(c)
    msgs = await c.ctx.services.media.send_album(c.bot_id, t.chat_id, None, items, reply_to,
                                                 c.opt("message_thread_id"))
    return await _render(c, msgs)


async def get_file(c: Call) -> J:
    file_id = str(c.opt("file_id", ""))
    try:
        row = await c.ctx.services.files.readable(c.bot_id, file_id)
    except errors.FILE_ID_INVALID:
        raise bad("invalid file_id") from None
    return {"file_id": file_id, "file_unique_id": file_id, "file_size": int(row[3]),
            "file_path": f"{file_id}/{_safe_name(str(row[4]))}"}


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in name)[:64] or "file"


# chats -------------------------------------------------------------------------------------
async def readable_chat(c: Call, t: Target) -> Chat:
    """The chat as the bot may see it: a member's, or a public channel's; a bot that left
    or was removed learns nothing of it since (as a person, by chats.get)."""
    chat = await c.ctx.services.messaging.get_chat(c.bot_id, t.chat_id)
    if chat.status == "kicked" or (chat.status == "left" and not chat.username):
        raise errors.CHAT_FORBIDDEN("Forbidden: bot is not a member of the chat")
    return chat


async def get_chat(c: Call) -> J:
    t = await target(c)
    await readable_chat(c, t)
    return await c.ctx.bots.render_chat(c.bot_id, t.chat_id, True)


async def _member_objs(c: Call, chat_id: int, user_ids: list[int] | None,
                       admins: bool) -> list[J]:
    rows = await c.ctx.bots.chat_member_rows(chat_id, user_ids, admins)
    kind = await c.ctx.bots.chat_kind(chat_id)
    users = await c.ctx.bots.render_users([int(r[0]) for r in rows])
    out = []
    for r in rows:
        uid, role, status = int(r[0]), str(r[1]), str(r[2])
        # a basic group's admin may do all an admin does there
        admin = None if kind == "group" else admin_names(int(r[3] or 0))
        out.append(member_obj(users[uid], role, status, admin=admin,
                              banned=banned_names(int(r[4] or 0)), until=int(r[5] or 0),
                              can_be_edited=False))
    return out


async def get_chat_member(c: Call) -> J:
    t = await target(c)
    await readable_chat(c, t)
    user_id = c.int("user_id")
    found = await _member_objs(c, t.chat_id, [user_id], False)
    if found:
        return found[0]
    users = await c.ctx.bots.render_users([user_id])
    if user_id not in users:
        raise bad("user not found")
    return member_obj(users[user_id], "member", "left")


async def get_chat_administrators(c: Call) -> list[J]:
    t = await target(c)
    await readable_chat(c, t)
    return await _member_objs(c, t.chat_id, None, True)


async def get_chat_member_count(c: Call) -> int:
    t = await target(c)
    chat = await readable_chat(c, t)
    if chat.type == "private":
        return 2
    return int(chat.member_count or 0)


async def _is_channel(c: Call, chat_id: int) -> bool:
    kind = await c.ctx.bots.chat_kind(chat_id)
    if kind is None:
        raise bad("chat not found")
    if kind == "private":
        raise bad("method is available for supergroup and channel chats only")
    return kind in ("channel", "supergroup")


async def ban_chat_member(c: Call) -> bool:
    t = await target(c)
    user_id = c.int("user_id")
    if await _is_channel(c, t.chat_id):
        all_banned = BannedRights(sum(BannedRights))
        return await c.ctx.services.channels.edit_banned(c.bot_id, t.chat_id, user_id,
                                                         all_banned, int(c.opt("until_date", 0)))
    return await c.ctx.services.chats.remove_member(c.bot_id, t.chat_id, user_id)


async def unban_chat_member(c: Call) -> bool:
    t = await target(c)
    user_id = c.int("user_id")
    if not await _is_channel(c, t.chat_id):
        return True  # a basic group keeps no ban list
    rows = await c.ctx.bots.chat_member_rows(t.chat_id, [user_id], False)
    if rows and str(rows[0][2]) == "member" and c.opt("only_if_banned"):
        return True
    if rows and str(rows[0][2]) == "member":
        # Telegram's unban of a member removes them (they may come back)
        await c.ctx.services.channels.edit_banned(c.bot_id, t.chat_id, user_id,
                                                  BannedRights.VIEW_MESSAGES, 0)
    return await c.ctx.services.channels.edit_banned(c.bot_id, t.chat_id, user_id,
                                                     BannedRights(0), 0)


async def restrict_chat_member(c: Call) -> bool:
    t = await target(c)
    if await c.ctx.bots.chat_kind(t.chat_id) != "supergroup":
        raise bad("method is available only for supergroups")
    perms = c.opt("permissions")
    if not isinstance(perms, dict):
        raise bad("can't parse permissions")
    banned = BannedRights(0)
    for name, flag in PERMISSIONS.items():
        if perms.get(name) is False:
            banned |= flag
    return await c.ctx.services.channels.edit_banned(c.bot_id, t.chat_id, c.int("user_id"),
                                                     banned, int(c.opt("until_date", 0)))


async def promote_chat_member(c: Call) -> bool:
    t = await target(c)
    user_id = c.int("user_id")
    rights = AdminRights(0)
    for name, flag in PROMOTIONS.items():
        if c.opt(name) is True:
            rights |= flag
    if await _is_channel(c, t.chat_id):
        return await c.ctx.services.channels.edit_admin(c.bot_id, t.chat_id, user_id, rights)
    return await c.ctx.services.chats.edit_admin(c.bot_id, t.chat_id, user_id, bool(rights))


async def leave_chat(c: Call) -> bool:
    t = await target(c)
    if await _is_channel(c, t.chat_id):
        return await c.ctx.services.channels.leave(c.bot_id, t.chat_id)
    return await c.ctx.services.chats.leave(c.bot_id, t.chat_id)


async def create_chat_invite_link(c: Call) -> J:
    t = await target(c)
    limit = c.opt("member_limit")
    invite = await c.ctx.services.chats.export_invite(c.bot_id, t.chat_id, limit,
                                                      c.opt("expire_date"))
    users = await c.ctx.bots.render_users([c.bot_id])
    out: J = {"invite_link": f"{c.ctx.public_url}/+{invite.hash}", "creator": users[c.bot_id],
              "creates_join_request": False, "is_primary": False, "is_revoked": False}
    if c.opt("name"):
        out["name"] = str(c.opt("name"))[:32]
    if invite.expire_date:
        out["expire_date"] = invite.expire_date
    if invite.usage_limit:
        out["member_limit"] = invite.usage_limit
    return out


async def export_chat_invite_link(c: Call) -> str:
    link = await create_chat_invite_link(c)
    return str(link["invite_link"])


HANDLERS: dict[str, Handler] = {
    "getMe": get_me, "logOut": log_out, "close": log_out, "getUpdates": get_updates,
    "setWebhook": set_webhook, "deleteWebhook": delete_webhook,
    "getWebhookInfo": get_webhook_info,
    "setMyCommands": set_my_commands, "getMyCommands": get_my_commands,
    "deleteMyCommands": delete_my_commands, "setMyName": set_my_name, "getMyName": get_my_name,
    "setMyDescription": set_my_description, "getMyDescription": get_my_description,
    "setMyShortDescription": set_my_short_description,
    "getMyShortDescription": get_my_short_description,
    "sendMessage": send_message, "forwardMessage": forward_message,
    "forwardMessages": forward_messages, "copyMessage": copy_message,
    "copyMessages": copy_messages, "editMessageText": edit_message_text,
    "editMessageCaption": edit_message_caption,
    "editMessageReplyMarkup": edit_message_reply_markup, "deleteMessage": delete_message,
    "deleteMessages": delete_messages, "answerCallbackQuery": answer_callback_query,
    "sendChatAction": send_chat_action, "setMessageReaction": set_message_reaction,
    "pinChatMessage": pin_chat_message, "unpinChatMessage": unpin_chat_message,
    "sendPhoto": _send_media("photo"), "sendDocument": _send_media("document"),
    "sendVideo": _send_media("video"), "sendAudio": _send_media("audio"),
    "sendVoice": _send_media("voice"), "sendMediaGroup": send_media_group,
    "getFile": get_file, "getChat": get_chat, "getChatMember": get_chat_member,
    "getChatAdministrators": get_chat_administrators,
    "getChatMemberCount": get_chat_member_count, "banChatMember": ban_chat_member,
    "unbanChatMember": unban_chat_member, "restrictChatMember": restrict_chat_member,
    "promoteChatMember": promote_chat_member, "leaveChat": leave_chat,
    "createChatInviteLink": create_chat_invite_link,
    "exportChatInviteLink": export_chat_invite_link,
}
