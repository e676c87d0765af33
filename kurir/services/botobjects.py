"""kurir's objects in the Telegram Bot API's shapes, as one bot sees them.

The Bot API names chats differently: a private chat is named by the other user's id, a
basic group by its negated id and a supergroup or channel by -100… (Telegram's
-(10**12 + id)). Its Message embeds the chat, the sender and the message replied to as
whole objects, so rendering looks things up; a `Lookup` does that inside the caller's
transaction, remembering what it found.

Field names and which fields are required follow the official Bot API documentation
(its machine-readable copy: shared/data/telegram-bot-api/api.json).
"""

from __future__ import annotations

from typing import Any

import msgspec

from kurir.domain.types import Message, MessageEntity, Update, User
from kurir.storage import chats, messages, users
from kurir.storage.chats import ChatRow
from kurir.storage.port import Tx

CHANNEL_BASE = 10**12  # Telegram's -100… prefix for supergroups and channels
ACCEPTED_GIFTS = {"unlimited_gifts": False, "limited_gifts": False, "unique_gifts": False,
                  "premium_subscription": False, "gifts_from_channels": False}
# What getUpdates sends when allowed_updates was never set, as Telegram: all but these
NOT_BY_DEFAULT = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
UPDATE_KINDS = frozenset({
    "message", "edited_message", "channel_post", "edited_channel_post", "callback_query",
    "my_chat_member", "chat_member", "message_reaction",
})
# every kind the Bot API names: allowed_updates may list these (kurir makes UPDATE_KINDS)
ALL_UPDATE_KINDS = UPDATE_KINDS | {
    "inline_query", "chosen_inline_result", "shipping_query", "pre_checkout_query", "poll",
    "poll_answer", "chat_join_request", "message_reaction_count", "chat_boost",
    "removed_chat_boost", "business_message", "business_connection", "edited_business_message",
    "deleted_business_messages", "purchased_paid_media",
}

J = dict[str, Any]


def bot_chat_id(chat: ChatRow, viewer: int) -> int:
    if chat.type == "private":
        return int(chat.peer_of(viewer) or viewer)
    if chat.type == "group":
        return -int(chat.id)
    return -(CHANNEL_BASE + int(chat.id))


def parse_chat_id(value: int) -> tuple[int | None, int | None]:
    """A Bot API chat id as (kurir chat id, None) or, for a private chat, (None, user id)."""
    if value > 0:
        return None, value
    if value <= -CHANNEL_BASE:
        return -value - CHANNEL_BASE, None
    if value < 0:
        return -value, None
    return None, None


class Lookup:
    """Rows a rendering needs, read in the caller's transaction and kept for its length."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx
        self._users: dict[int, User | None] = {}
        self._chats: dict[int, ChatRow | None] = {}
        self._messages: dict[tuple[int, int], Message | None] = {}

    def preload(self, updates: list[Update]) -> None:
        """Read at once the senders and chats of many updates (a round trip each, not one
        an update: a bot reading a busy log renders a hundred at a time)."""
        user_ids, chat_ids = set(), set()
        for u in updates:
            if u.message is not None:
                user_ids.add(u.message.from_id)
                chat_ids.add(u.message.chat_id)
            if u.user_id:
                user_ids.add(u.user_id)
            if u.chat_id:
                chat_ids.add(u.chat_id)
        user_ids -= self._users.keys()
        chat_ids -= self._chats.keys()
        if user_ids:
            found = users.by_ids(self.tx, sorted(user_ids))
            for uid in user_ids:
                self._users[uid] = found.get(uid)
        if chat_ids:
            for uid in chat_ids:
                self._chats[uid] = None
            marks = ",".join("?" * len(chat_ids))
            for row in self.tx.all(f"SELECT {chats.CHAT_COLS} FROM chats WHERE id IN ({marks})",
                                   sorted(chat_ids)):
                self._chats[int(row[0])] = ChatRow(row)

    def user(self, user_id: int) -> User | None:
        if user_id not in self._users:
            self._users[user_id] = users.by_id(self.tx, user_id)
        return self._users[user_id]

    def chat(self, chat_id: int) -> ChatRow | None:
        if chat_id not in self._chats:
            self._chats[chat_id] = chats.get(self.tx, chat_id)
        return self._chats[chat_id]

    def message(self, chat_id: int, message_id: int) -> Message | None:
        key = (chat_id, message_id)
        if key not in self._messages:
            self._messages[key] = messages.any_by_id(self.tx, chat_id, message_id)
        return self._messages[key]

    def standing(self, chat_id: int, user_id: int) -> tuple[str, str] | None:
        """(role, status) of a user in a chat."""
        row = self.tx.one("SELECT role, status FROM chat_members WHERE chat_id = ? AND user_id = ?",
                          (chat_id, user_id))
        return (str(row[0]), str(row[1])) if row else None


def user_obj(user: User | None, user_id: int = 0) -> J:
    if user is None:  # a deleted account, as Telegram shows it
        return {"id": user_id, "is_bot": False, "first_name": "Deleted Account"}
    out: J = {"id": user.id, "is_bot": user.is_bot, "first_name": user.display_name or "-"}
    if user.username:
        out["username"] = user.username
    return out


def chat_obj(chat: ChatRow, viewer: int, lk: Lookup) -> J:
    out: J = {"id": bot_chat_id(chat, viewer), "type": chat.type}
    if chat.type == "private":
        peer = lk.user(chat.peer_of(viewer) or viewer)
        out["first_name"] = peer.display_name if peer else "Deleted Account"
        if peer is not None and peer.username:
            out["username"] = peer.username
        return out
    out["title"] = chat.title
    if chat.username:
        out["username"] = chat.username
    if chat.forum:
        out["is_forum"] = True
    return out


def full_chat_obj(chat: ChatRow, viewer: int, lk: Lookup) -> J:
    """getChat's ChatFullInfo."""
    out = chat_obj(chat, viewer, lk)
    out.update(accent_color_id=0, max_reaction_count=11, accepted_gift_types=ACCEPTED_GIFTS)
    if chat.type == "private":
        peer = lk.user(chat.peer_of(viewer) or viewer)
        if peer is not None and peer.bio:
            out["bio"] = peer.bio
        return out
    if chat.about:
        out["description"] = chat.about
    if chat.pinned_id:
        pinned = lk.message(chat.id, int(chat.pinned_id))
        if pinned is not None:
            out["pinned_message"] = message_obj(pinned, viewer, lk, depth=1)
    if chat.slow_mode:
        out["slow_mode_delay"] = int(chat.slow_mode)
    if chat.linked_chat_id:
        linked = lk.chat(int(chat.linked_chat_id))
        if linked is not None:
            out["linked_chat_id"] = bot_chat_id(linked, viewer)
    return out


def entity_objs(entities: list[MessageEntity] | None, lk: Lookup) -> list[J]:
    out = []
    for e in entities or ():
        d: J = {"type": e.type, "offset": e.offset, "length": e.length}
        if e.url:
            d["url"] = e.url
        if e.user_id:
            d["user"] = user_obj(lk.user(e.user_id), e.user_id)
        if e.language:
            d["language"] = e.language
        out.append(d)
    return out


def _file(media: dict[str, Any], file_id: str, size: Any) -> J:
    out: J = {"file_id": file_id, "file_unique_id": file_id}
    if size is not None:
        out["file_size"] = int(size)
    return out


def photo_sizes(media: dict[str, Any]) -> list[J]:
    sizes = []
    for t in media.get("thumbs") or ():
        d = _file(media, str(t["file_id"]), t.get("size"))
        d.update(width=int(t.get("width", 0)), height=int(t.get("height", 0)))
        sizes.append(d)
    main = _file(media, str(media["file_id"]), media.get("size"))
    main.update(width=int(media.get("width", 0)), height=int(media.get("height", 0)))
    sizes.sort(key=lambda s: s["width"] * s["height"])
    return [*sizes, main]


def media_fields(media: dict[str, Any]) -> J:
    """The Message fields of a kurir media dict: photo, document, video, audio or voice."""
    kind = str(media.get("kind", "document"))
    album: J = {} if media.get("album_id") is None else {"media_group_id": str(media["album_id"])}
    if kind == "photo":
        return {"photo": photo_sizes(media), **album}
    obj = _file(media, str(media["file_id"]), media.get("size"))
    if kind in ("document", "video", "audio") and media.get("name"):
        obj["file_name"] = media["name"]
    if media.get("mime_type"):
        obj["mime_type"] = media["mime_type"]
    if kind in ("video", "audio", "voice"):
        obj["duration"] = int(media.get("duration") or 0)
    if kind == "video":
        obj["width"] = int(media.get("width") or 0)
        obj["height"] = int(media.get("height") or 0)
    return {kind if kind in ("video", "audio", "voice") else "document": obj, **album}


def _service_fields(action: dict[str, Any], msg: Message, viewer: int, lk: Lookup) -> J:
    kind = action.get("type")
    if kind in ("chat_add_user", "chat_create"):
        ids = list(action.get("user_ids") or [])
        out: J = {}
        if kind == "chat_create":
            out["group_chat_created"] = True
        if ids:
            out["new_chat_members"] = [user_obj(lk.user(i), i) for i in ids]
        return out
    if kind == "chat_joined_by_link":
        return {"new_chat_members": [user_obj(lk.user(msg.from_id), msg.from_id)]}
    if kind == "chat_delete_user":
        uid = int(action.get("user_id") or msg.from_id)
        return {"left_chat_member": user_obj(lk.user(uid), uid)}
    if kind == "chat_edit_title":
        return {"new_chat_title": str(action.get("title", ""))}
    if kind == "channel_create":
        return {"channel_chat_created": True}
    if kind == "chat_upgraded":
        return {"supergroup_chat_created": True}
    if kind == "topic_create":
        return {"forum_topic_created": {"name": str(action.get("title", "")),
                                        "icon_color": 7322096}}
    return {}


def message_obj(msg: Message, viewer: int, lk: Lookup, depth: int = 0) -> J:
    chat = lk.chat(msg.chat_id)
    assert chat is not None
    chat_j = chat_obj(chat, viewer, lk)
    out: J = {"message_id": msg.id}
    if msg.thread_id and chat.forum:
        out["message_thread_id"] = msg.thread_id
        out["is_topic_message"] = True
    if chat.type == "channel":
        out["sender_chat"] = chat_j
        if msg.post_author:
            out["author_signature"] = msg.post_author
    else:
        out["from"] = user_obj(lk.user(msg.from_id), msg.from_id)
    out["date"] = msg.date
    out["chat"] = chat_j
    if msg.fwd_from is not None:
        out["forward_origin"] = _origin(msg, viewer, lk)
    if msg.reply_to and depth == 0:
        replied = lk.message(msg.chat_id, msg.reply_to)
        if replied is not None:
            out["reply_to_message"] = message_obj(replied, viewer, lk, depth=1)
    if msg.edit_date:
        out["edit_date"] = msg.edit_date
    if msg.action is not None:
        out.update(_service_fields(msg.action, msg, viewer, lk))
        return out
    if msg.media is not None:
        out.update(media_fields(msg.media))
        if msg.text:
            out["caption"] = msg.text
            if msg.entities:
                out["caption_entities"] = entity_objs(msg.entities, lk)
    else:
        out["text"] = msg.text
        if msg.entities:
            out["entities"] = entity_objs(msg.entities, lk)
    if msg.reply_markup and "inline_keyboard" in msg.reply_markup:
        out["reply_markup"] = {"inline_keyboard": msg.reply_markup["inline_keyboard"]}
    return out


def _origin(msg: Message, viewer: int, lk: Lookup) -> J:
    fwd = msg.fwd_from
    assert fwd is not None
    if fwd.chat_id is not None:
        source = lk.chat(fwd.chat_id)
        if source is not None and source.type == "channel":
            return {"type": "channel", "date": fwd.date, "chat": chat_obj(source, viewer, lk),
                    "message_id": fwd.message_id or 0}
    return {"type": "user", "date": fwd.date,
            "sender_user": user_obj(lk.user(fwd.from_id), fwd.from_id)}


# chat members ------------------------------------------------------------------------------
def member_obj(user: J, role: str, status: str, admin: dict[str, bool] | None = None,
               banned: dict[str, bool] | None = None, until: int = 0,
               can_be_edited: bool = False) -> J:
    """A ChatMember of the right kind for a kurir standing."""
    if status == "kicked":
        return {"status": "kicked", "user": user, "until_date": until}
    if status == "left":
        return {"status": "left", "user": user}
    if role == "owner":
        return {"status": "creator", "user": user, "is_anonymous": False}
    if role == "admin":
        a = admin or {}
        return {
            "status": "administrator", "user": user, "can_be_edited": can_be_edited,
            "is_anonymous": bool(a.get("anonymous")), "can_manage_chat": True,
            "can_delete_messages": bool(a.get("delete_messages", True)),
            "can_manage_video_chats": bool(a.get("manage_call")),
            "can_restrict_members": bool(a.get("ban_users", True)),
            "can_promote_members": bool(a.get("add_admins")),
            "can_change_info": bool(a.get("change_info", True)),
            "can_invite_users": bool(a.get("invite_users", True)),
            "can_post_stories": False, "can_edit_stories": False, "can_delete_stories": False,
            "can_send_welcome_messages": False,
            "can_post_messages": bool(a.get("post_messages")),
            "can_edit_messages": bool(a.get("edit_messages")),
            "can_pin_messages": bool(a.get("pin_messages", True)),
            "can_manage_topics": bool(a.get("manage_topics")),
        }
    if banned and any(banned.values()):
        b = banned

        def may(name: str) -> bool:
            return not b.get(name) and not b.get("send_messages")

        return {
            "status": "restricted", "user": user, "is_member": True,
            "can_send_messages": not b.get("send_messages"),
            "can_send_audios": may("send_media"), "can_send_documents": may("send_media"),
            "can_send_photos": may("send_media"), "can_send_videos": may("send_media"),
            "can_send_video_notes": may("send_media"), "can_send_voice_notes": may("send_media"),
            "can_send_polls": may("send_polls"), "can_send_other_messages": may("send_stickers"),
            "can_add_web_page_previews": may("embed_links"),
            "can_react_to_messages": True, "can_edit_tag": False,
            "can_change_info": not b.get("change_info"),
            "can_invite_users": not b.get("invite_users"),
            "can_pin_messages": not b.get("pin_messages"),
            "can_manage_topics": not b.get("manage_topics"), "until_date": until,
        }
    return {"status": "member", "user": user}


# updates ---------------------------------------------------------------------------------
class BotView:
    """What deciding a bot's updates needs to know of the bot."""

    __slots__ = ("allowed", "id", "privacy", "username")

    def __init__(self, bot_id: int, username: str, privacy: bool,
                 allowed: frozenset[str] | None) -> None:
        self.id = bot_id
        self.username = username
        self.privacy = privacy
        self.allowed = allowed

    def allows(self, kind: str) -> bool:
        if self.allowed is None:
            return kind not in NOT_BY_DEFAULT
        return kind in self.allowed


def addressed(msg: Message, bot: BotView, lk: Lookup) -> bool:
    """Privacy mode: in a group a bot gets commands, replies to its own messages, mentions
    of it and service messages; all of them when it is an admin (as Telegram)."""
    if msg.action is not None:
        return True
    text = msg.text
    mention = "@" + bot.username.lower()
    for e in msg.entities or ():
        piece = _utf16_slice(text, e.offset, e.length)
        if e.type == "bot_command" and e.offset == 0:
            return "@" not in piece or piece.lower().endswith(mention)
        if e.type == "mention" and piece.lower() == mention:
            return True
        if e.type == "text_mention" and e.user_id == bot.id:
            return True
    if text.startswith("/"):  # a command the client sent without entities
        word = text.split(maxsplit=1)[0]
        return "@" not in word or word.lower().endswith(mention)
    if mention in text.lower():
        return True
    if msg.reply_to:
        replied = lk.message(msg.chat_id, msg.reply_to)
        if replied is not None and replied.from_id == bot.id:
            return True
    standing = lk.standing(msg.chat_id, bot.id)
    return standing is not None and standing[0] in ("admin", "owner")


def _utf16_slice(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le")
    return data[offset * 2:(offset + length) * 2].decode("utf-16-le", "replace")


def translate(update: Update, bot: BotView, lk: Lookup, now: int) -> list[tuple[str, J]]:
    """The Bot API updates (kind, object) a kurir update makes for one bot; often none."""
    kind = update.type
    if kind in ("new_message", "edit_message") and update.message is not None:
        msg = update.message
        if msg.from_id == bot.id:
            return []  # a bot is not told of its own messages, nor of its own edits
        chat = lk.chat(msg.chat_id)
        if chat is None:
            return []
        if chat.type in ("group", "supergroup"):
            sender = lk.user(msg.from_id)
            if sender is not None and sender.is_bot:
                return []  # as Telegram: bots do not hear each other in groups (no loops)
        edited = kind == "edit_message"
        if chat.type == "channel":
            name = "edited_channel_post" if edited else "channel_post"
        else:
            name = "edited_message" if edited else "message"
            if chat.type != "private" and bot.privacy and not addressed(msg, bot, lk):
                return []
        out: list[tuple[str, J]] = []
        action = msg.action or {}
        if (action.get("type") == "chat_create" and bot.id in (action.get("user_ids") or ())
                and bot.allows("my_chat_member")):
            # made a member with the group itself: no chat_member update says so
            me = user_obj(lk.user(bot.id), bot.id)
            out.append(("my_chat_member", {
                "chat": chat_obj(chat, bot.id, lk),
                "from": user_obj(lk.user(msg.from_id), msg.from_id), "date": msg.date,
                "old_chat_member": member_obj(me, "member", "left"),
                "new_chat_member": member_obj(me, "member", "member"),
            }))
        if bot.allows(name):
            out.append((name, message_obj(msg, bot.id, lk)))
        return out
    if kind == "chat_member" and update.chat_id and update.user_id:
        return _member_update(update, bot, lk, now)
    if kind == "reaction" and update.chat_id and update.message_id and update.user_id:
        if not bot.allows("message_reaction") or update.user_id == bot.id:
            return []
        chat = lk.chat(update.chat_id)
        if chat is None:
            return []
        new = [{"type": "emoji", "emoji": update.emoji}] if update.emoji else []
        old = [{"type": "emoji", "emoji": update.old_emoji}] if update.old_emoji else []
        return [("message_reaction", {
            "chat": chat_obj(chat, bot.id, lk), "message_id": update.message_id,
            "user": user_obj(lk.user(update.user_id), update.user_id), "date": now,
            "old_reaction": old, "new_reaction": new,
        })]
    return []


def _member_update(update: Update, bot: BotView, lk: Lookup, now: int) -> list[tuple[str, J]]:
    assert update.chat_id is not None and update.user_id is not None
    mine = update.user_id == bot.id
    name = "my_chat_member" if mine else "chat_member"
    if not bot.allows(name):
        return []
    chat = lk.chat(update.chat_id)
    if chat is None:
        return []
    if not mine:  # as Telegram: only an admin bot hears of other members
        standing = lk.standing(update.chat_id, bot.id)
        if standing is None or standing[0] not in ("admin", "owner"):
            return []
    user = user_obj(lk.user(update.user_id), update.user_id)
    status = update.status or "member"
    role = update.role or "member"
    new = member_obj(user, role, status, admin=update.rights if role == "admin" else None,
                     banned=update.rights if role == "member" and status == "member" else None)
    # the update says what the standing is now; what it was follows from the change
    if status in ("left", "kicked") or role in ("admin", "owner"):
        old = member_obj(user, "member", "member")
    else:
        old = member_obj(user, "member", "left")
    actor_id = update.actor_id or update.user_id
    return [(name, {
        "chat": chat_obj(chat, bot.id, lk),
        "from": user_obj(lk.user(actor_id), actor_id),
        "date": now, "old_chat_member": old, "new_chat_member": new,
    })]


def decode_update(body: bytes) -> Update:
    return msgspec.json.decode(body, type=Update)
