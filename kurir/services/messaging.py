"""Messages: send, forward, edit, delete, read, react, pin; history, dialogs and search.

Every write is one transaction that checks the caller's standing (domain.permissions),
changes the rows and appends the updates; the hub pushes them only after the commit, so a
client never sees an update that could still be rolled back.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import msgspec

from kurir.domain import entities as entity_rules
from kurir.domain import errors, permissions, rules
from kurir.domain.ratelimit import RateLimiter
from kurir.domain.rights import is_banned
from kurir.domain.types import Chat, Dialog, ForwardHeader, Message, MessageEntity, Update
from kurir.live import Hub
from kurir.services import access, threads, timeline
from kurir.services.channels import channel_view, join_to_comment
from kurir.storage import channels, chats, messages, users
from kurir.storage.chats import ChatRow
from kurir.storage.port import Conflict, Database, Tx
from kurir.storage.updates import Appended

MAX_IDS_PER_CALL = 100
T = TypeVar("T")
KEEP = object()  # "leave as it is", where None means "remove"


def _now() -> int:
    return int(time.time())


class PrivateChats:
    """Which chat is the private chat of two users. It never changes once made (chats are
    never deleted), so it is remembered after the transaction that found or made it."""

    def __init__(self, size: int = 100_000) -> None:
        self._known: dict[tuple[int, int], int] = {}
        self._size = size

    def resolve(self, tx: Tx, caller: int, chat_id: int | None, user_id: int | None,
                now: int) -> int:
        """The chat a send goes to: `chat_id`, or the private chat with `user_id`."""
        if (chat_id is None) == (user_id is None):
            raise errors.PEER_INVALID("give exactly one of chat_id and user_id")
        if chat_id is not None:
            return chat_id
        assert user_id is not None
        known = self._known.get((min(caller, user_id), max(caller, user_id)))
        if known is not None:
            return known
        if not users.exists(tx, user_id):
            raise errors.PEER_INVALID("no such user")
        return chats.private_chat(tx, caller, user_id, now)

    def remember(self, a: int, b: int | None, chat_id: int) -> None:
        """Call after the commit: a chat made in a rolled-back transaction never existed."""
        if b is None:
            return
        if len(self._known) >= self._size:
            self._known.clear()
        self._known[(min(a, b), max(a, b))] = chat_id


def audiences(tx: Tx, chat_id: int, ids: list[int]) -> list[tuple[list[int], list[int]]]:
    """Who may learn of what about `ids`: (members, the ids they can see) groups. A member
    added later never hears of a message from before they joined, not even that it changed."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for user_id, history_from in chats.members_seeing(tx, chat_id):
        seen = tuple(i for i in ids if i > history_from)
        if seen:
            groups.setdefault(seen, []).append(user_id)
    return [(users_, list(seen)) for seen, users_ in groups.items()]


def seeing(tx: Tx, chat_id: int, message_id: int) -> list[int]:
    """The active members who can see message `message_id`."""
    return [u for u, h in chats.members_seeing(tx, chat_id) if message_id > h]


class Messaging:
    def __init__(self, db: Database, hub: Hub, sends_per_second: float, send_burst: float):
        self._db = db
        self._hub = hub
        self._flood = RateLimiter(rate=sends_per_second, burst=send_burst)
        self._private = PrivateChats()

    def _check_flood(self, user_id: int, cost: int = 1) -> None:
        wait = self._flood.take(user_id, time.monotonic(), cost)
        if wait:
            raise errors.FLOOD_WAIT("sending too fast", retry_after=RateLimiter.retry_after(wait))

    def _push(self, *appended: Appended | None) -> None:
        for a in appended:
            if a is not None:
                self._hub.updates(a)

    # sending ------------------------------------------------------------------------------
    async def send(
        self, caller: int, chat_id: int | None, user_id: int | None, text: str, random_id: int,
        reply_to: int | None = None, entities: list[MessageEntity] | None = None,
        media: dict[str, object] | None = None, reply_markup: dict[str, object] | None = None,
        topic_id: int | None = None,
    ) -> Message:
        if media is None:  # a media message may go without a caption
            rules.check_message_text(text)
        # as Telegram: plain text gets its commands, mentions, tags and links marked
        ents = (entity_rules.check_entities(text, entities) if entities
                else entity_rules.detect(text))
        [msg] = await self.send_many(caller, chat_id, user_id, [(text, ents, media, random_id)],
                                     reply_to, reply_markup, topic_id)
        return msg

    async def send_many(
        self, caller: int, chat_id: int | None, user_id: int | None,
        items: list[tuple[str, list[MessageEntity], dict[str, object] | None, int]],
        reply_to: int | None = None, reply_markup: dict[str, object] | None = None,
        topic_id: int | None = None,
    ) -> list[Message]:
        """Post (text, entities, media, random_id) items, checked, in one transaction: one
        message, or an album's. A retried random_id answers with its first message."""
        self._check_flood(caller, len(items))
        now = _now()

        def txn(tx: Tx) -> tuple[list[Message], list[Appended] | None]:
            seen = [messages.by_random_id(tx, caller, rid) for *_, rid in items]
            if any(s is not None for s in seen):
                first = [messages.any_by_id(tx, *s) for s in seen if s is not None]
                return [m for m in first if m is not None], None
            target = self._private.resolve(tx, caller, chat_id, user_id, now)
            pushes: list[Appended] = []
            if reply_to is not None and chat_id is not None:
                joined = join_to_comment(tx, target, caller, reply_to, now)
                if joined is not None:
                    pushes += joined[0]
                    follows.append((target, joined[1]))
            has_media = any(media is not None for _, _, media, _ in items)
            seat = access.for_post(tx, target, caller, now, media=has_media)
            if reply_to is not None and not messages.get_visible(
                tx, target, [reply_to], caller, seat.history_from
            ):
                raise errors.MESSAGE_ID_INVALID("the message replied to does not exist")
            thread_id = threads.place(tx, seat, reply_to, topic_id, now)
            out: list[Message] = []
            for text, ents, media, random_id in items:
                views, signature = self._channel_post(tx, seat, now)
                replies, copies = threads.before_post(tx, seat, caller, now, text, ents, media)
                msg, appended = timeline.post(
                    tx, target, caller, now, text=text, entities=ents, reply_to=reply_to,
                    media=media, reply_markup=reply_markup, views=views, post_author=signature,
                    thread_id=thread_id, replies=replies, random_id=random_id,
                )
                threads.after_post(tx, seat, msg)
                out.append(msg)
                pushes += [*copies, appended]
            self._note_post(tx, seat, now)
            return out, pushes

        follows: list[tuple[int, int]] = []
        sent, appended = await self._write_once(txn)
        if appended is not None:  # new messages, so their chat is the one resolved
            self._private.remember(caller, user_id, sent[0].chat_id)
            self._push(*appended)
            for joined_chat, pts in follows[-1:]:  # the try that committed
                self._hub.channel_joined(caller, joined_chat, pts)
        return sent

    @staticmethod
    def _channel_post(tx: Tx, seat: access.Seat, now: int) -> tuple[int | None, str | None]:
        """What a post in a broadcast channel carries besides: (views, signature)."""
        if seat.chat.type != "channel":
            return None, None
        author = users.by_id(tx, seat.user_id) if seat.chat.signatures else None
        return 0, author.display_name if author else None

    @staticmethod
    def _note_post(tx: Tx, seat: access.Seat, now: int) -> None:
        """Slow mode's note of when a member last posted: after the post, which took the
        chat's lock first (lock order: chat, then member rows)."""
        if seat.is_channel:
            channels.note_post(tx, seat.chat.id, seat.user_id, now)

    async def _write_once(self, txn: Callable[[Tx], T]) -> T:
        """Run a send; a retry racing its first try (same random_id) loses on the key and
        runs again, now finding the first one's message."""
        try:
            return await self._db.write(txn)
        except Conflict:
            return await self._db.write(txn)

    async def forward(
        self, caller: int, from_chat_id: int, message_ids: list[int], chat_id: int | None,
        user_id: int | None, random_ids: list[int] | None,
    ) -> list[Message]:
        if not message_ids or len(message_ids) > MAX_IDS_PER_CALL:
            raise errors.MESSAGE_ID_INVALID(f"forward 1-{MAX_IDS_PER_CALL} messages")
        if random_ids is not None and len(random_ids) != len(message_ids):
            raise errors.BAD_REQUEST("random_ids must match message_ids one to one")
        self._check_flood(caller, len(message_ids))
        now = _now()

        def txn(tx: Tx) -> tuple[list[Message], list[Appended], int]:
            source = access.for_read(tx, from_chat_id, caller, now)
            originals = {
                m.id: m for m in messages.get_visible(tx, from_chat_id, message_ids, caller,
                                                      source.history_from)
                if m.action is None
            }
            if not originals:
                raise errors.MESSAGE_ID_INVALID("none of those messages can be forwarded")
            target = self._private.resolve(tx, caller, chat_id, user_id, now)
            # a forwarded file is media sent: a restriction on media holds for it too
            has_media = any(m.media is not None for m in originals.values())
            seat = access.for_post(tx, target, caller, now, media=has_media)
            out: list[Message] = []
            pushes: list[Appended] = []
            for i, mid in enumerate(message_ids):
                rid = random_ids[i] if random_ids is not None else None
                if rid is not None:
                    seen = messages.by_random_id(tx, caller, rid)
                    if seen is not None:
                        first = messages.any_by_id(tx, *seen)
                        assert first is not None
                        out.append(first)
                        continue
                orig = originals.get(mid)
                if orig is None:
                    continue
                # a forward of a forward keeps the first author and date, as Telegram does
                header = orig.fwd_from or ForwardHeader(
                    from_id=orig.from_id, date=orig.date, chat_id=orig.chat_id, message_id=orig.id
                )
                views, signature = self._channel_post(tx, seat, now)
                replies, copies = threads.before_post(tx, seat, caller, now, orig.text,
                                                      orig.entities, orig.media)
                msg, appended = timeline.post(
                    tx, target, caller, now, text=orig.text, entities=orig.entities,
                    fwd_from=header, media=orig.media, views=views, post_author=signature,
                    replies=replies, random_id=rid,
                )
                self._note_post(tx, seat, now)
                out.append(msg)
                pushes += [*copies, appended]
            return out, pushes, target

        out, pushes, target = await self._write_once(txn)
        self._private.remember(caller, user_id, target)
        self._push(*pushes)
        return out

    # changing -----------------------------------------------------------------------------
    @staticmethod
    def _tell(tx: Tx, seat: access.Seat, update: Update, message_id: int, now: int) -> Appended:
        """Log a change to one message: the channel's log, or the members who can see it."""
        if seat.is_channel:
            return timeline.notify_channel(tx, seat.chat.id, update, now)
        return timeline.notify(tx, update, seeing(tx, seat.chat.id, message_id), now)

    async def edit(
        self, caller: int, chat_id: int, message_id: int, text: str | None,
        entities: list[MessageEntity] | None, reply_markup: object = KEEP,
    ) -> Message:
        """Edit a message's text (a media message's caption), and, for its author, its
        reply markup (a bot's keyboard); `text` None keeps the text, `reply_markup` KEEP
        keeps the markup."""
        now = _now()

        def txn(tx: Tx) -> tuple[Message, Appended]:
            seat = access.for_edit(tx, chat_id, caller, now)
            found = messages.get_visible(tx, chat_id, [message_id], caller, seat.history_from)
            if not found or found[0].action is not None:
                raise errors.MESSAGE_ID_INVALID("no such message")
            msg = found[0]
            if msg.fwd_from is not None:
                raise errors.MESSAGE_AUTHOR_REQUIRED("a forwarded message cannot be edited")
            access.may_edit(seat, msg.from_id)
            new_text, ents = msg.text, msg.entities or []
            if text is not None:
                if msg.media is None:
                    rules.check_message_text(text)
                else:
                    rules.check_caption(text)
                new_text, ents = text, entity_rules.check_entities(text, entities)
            markup = msg.reply_markup
            if reply_markup is not KEEP:
                if msg.from_id != caller:
                    raise errors.MESSAGE_AUTHOR_REQUIRED("only its author changes a keyboard")
                markup = reply_markup  # type: ignore[assignment]
            if new_text == msg.text and ents == (msg.entities or []) and markup == msg.reply_markup:
                raise errors.MESSAGE_NOT_MODIFIED("the message is unchanged")
            chats.lock(tx, chat_id)
            messages.edit(tx, chat_id, message_id, new_text, ents, now)
            if markup != msg.reply_markup:
                messages.set_markup(tx, chat_id, message_id, markup)
            msg.text, msg.entities, msg.edit_date = new_text, ents or None, now
            msg.reply_markup = markup
            return msg, self._tell(tx, seat, Update(pts=0, type="edit_message", message=msg),
                                   message_id, now)

        msg, appended = await self._db.write(txn)
        self._push(appended)
        return msg

    async def delete(self, caller: int, chat_id: int, message_ids: list[int], revoke: bool) -> bool:
        if not message_ids or len(message_ids) > MAX_IDS_PER_CALL:
            raise errors.MESSAGE_ID_INVALID(f"delete 1-{MAX_IDS_PER_CALL} messages at once")
        now = _now()

        def txn(tx: Tx) -> list[Appended]:
            seat = access.for_member(tx, chat_id, caller, now)
            found = messages.get_visible(tx, chat_id, sorted(set(message_ids)), caller,
                                         seat.history_from)
            if not found:
                return []
            ids = [m.id for m in found]
            if not revoke and not seat.is_channel:
                messages.hide(tx, caller, chat_id, ids)
                return [timeline.notify(
                    tx, Update(pts=0, type="delete_messages", chat_id=chat_id, message_ids=ids),
                    [caller], now,
                )]
            # in channels and supergroups a delete is always for everyone, as in Telegram
            for m in found:
                if not access.may_delete(seat, m.from_id):
                    raise errors.MESSAGE_AUTHOR_REQUIRED(
                        "you may delete only your own messages for everyone"
                    )
            chats.lock(tx, chat_id)
            messages.mark_deleted(tx, chat_id, ids)
            threads.after_delete(tx, chat_id, found)
            gone = Update(pts=0, type="delete_messages", chat_id=chat_id, message_ids=ids)
            if seat.is_channel:
                out = [timeline.notify_channel(tx, chat_id, gone, now)]
            else:
                out = [
                    timeline.notify(
                        tx, Update(pts=0, type="delete_messages", chat_id=chat_id,
                                   message_ids=seen), who, now,
                    )
                    for who, seen in audiences(tx, chat_id, ids)
                ]
            chat = chats.get(tx, chat_id)
            if chat is not None and chat.pinned_id in ids:  # as Telegram: gone, so unpinned
                chats.set_pinned(tx, chat_id, None)
                out.append(self._tell(
                    tx, seat, Update(pts=0, type="pinned_message", chat_id=chat_id, message_id=0),
                    int(chat.pinned_id), now,
                ))
            return out

        self._push(*await self._db.write(txn))
        return True

    async def read(self, caller: int, chat_id: int, max_id: int) -> bool:
        now = _now()

        def txn(tx: Tx) -> Appended | None:
            chats.lock_member(tx, chat_id, caller)  # concurrent reads take turns
            seat = access.for_member(tx, chat_id, caller, now)
            chat = seat.chat
            upto = min(max_id, int(chat.top_id))
            old = seat.read_max_id
            if upto <= old:
                return None
            chats.set_read(tx, chat_id, caller, upto)
            # the reader's other devices; and whoever wrote what was just read (read ticks),
            # but in a channel or supergroup only the reader: its log is per user, O(1)
            who = {caller}
            if chat.type == "private":
                who.add(chat.peer_of(caller) or caller)
            elif not chat.is_channel:
                active = set(chats.active_member_ids(tx, chat_id))
                who.update(a for a in messages.authors_between(tx, chat_id, old, upto)
                           if a in active)
            return timeline.notify(
                tx, Update(pts=0, type="read_history", chat_id=chat_id, user_id=caller,
                           max_id=upto), who, now,
            )

        self._push(await self._db.write(txn))
        return True

    async def react(self, caller: int, chat_id: int, message_id: int, emoji: str | None) -> bool:
        if emoji is not None:
            rules.check_reaction(emoji)
        now = _now()

        def txn(tx: Tx) -> Appended:
            seat = access.for_member(tx, chat_id, caller, now)
            access.may_react(seat, now)
            found = messages.get_visible(tx, chat_id, [message_id], caller, seat.history_from)
            if not found or found[0].action is not None:
                raise errors.MESSAGE_ID_INVALID("no such message")
            before = tx.one("SELECT emoji FROM reactions WHERE chat_id = ? AND message_id = ?"
                            " AND user_id = ?", (chat_id, message_id, caller))
            summary = messages.set_reaction(tx, chat_id, message_id, caller, emoji, now)
            return self._tell(
                tx, seat, Update(pts=0, type="reaction", chat_id=chat_id, message_id=message_id,
                                 user_id=caller, reactions=summary, emoji=emoji,
                                 old_emoji=before[0] if before else None), message_id, now,
            )

        self._push(await self._db.write(txn))
        return True

    async def pin(self, caller: int, chat_id: int, message_id: int, unpin: bool) -> bool:
        now = _now()

        def txn(tx: Tx) -> Appended:
            seat = access.for_member(tx, chat_id, caller, now)
            access.may_pin(seat, now)
            if not unpin:
                found = messages.get_visible(tx, chat_id, [message_id], caller,
                                             seat.history_from)
                if not found or found[0].action is not None:
                    raise errors.MESSAGE_ID_INVALID("no such message")
            chats.lock(tx, chat_id)
            chat = chats.get(tx, chat_id)
            assert chat is not None
            chats.set_pinned(tx, chat_id, None if unpin else message_id)
            update = Update(pts=0, type="pinned_message", chat_id=chat_id,
                            message_id=0 if unpin else message_id)
            # those who could not see the pinned message are not told of it, nor of its unpin
            shown = int(chat.pinned_id or 0) if unpin else message_id
            if seat.is_channel or shown:
                return self._tell(tx, seat, update, shown, now)
            return timeline.notify(tx, update, chats.active_member_ids(tx, chat_id), now)

        self._push(await self._db.write(txn))
        return True

    async def set_typing(self, caller: int, chat_id: int, action: str) -> bool:
        now = _now()

        def txn(tx: Tx) -> list[int]:
            seat = access.for_post(tx, chat_id, caller, now)
            if seat.is_channel:
                # a supergroup may be huge: typing goes to the followers of its topic instead
                return []
            return [u for u in chats.active_member_ids(tx, chat_id) if u != caller]

        others = await self._db.read(txn)
        self._hub.event(others, {"type": "typing", "chat_id": chat_id, "user_id": caller,
                                 "action": action})
        return True

    async def view(self, caller: int, chat_id: int, ids: list[int], increment: bool
                   ) -> list[tuple[int, int]]:
        """Views of channel posts; `increment` counts the caller's view (once per user)."""
        now = _now()

        def txn(tx: Tx) -> list[tuple[int, int]]:
            seat = access.for_read(tx, chat_id, caller, now)
            visible = [m.id for m in messages.get_visible(tx, chat_id, sorted(set(ids)), caller,
                                                          seat.history_from)]
            if increment and seat.chat.type == "channel":
                channels.count_views(tx, chat_id, visible, caller)
            return channels.views(tx, chat_id, visible)

        return await self._db.write(txn)

    # reading ------------------------------------------------------------------------------
    async def history(
        self, caller: int, chat_id: int, offset_id: int, after_id: int, limit: int
    ) -> list[Message]:
        now = _now()

        def txn(tx: Tx) -> list[Message]:
            seat = access.for_read(tx, chat_id, caller, now)
            return messages.history(tx, chat_id, caller, seat.history_from, offset_id,
                                    after_id, limit)

        return await self._db.read(txn)

    async def get_messages(self, caller: int, chat_id: int, ids: list[int]) -> list[Message]:
        if len(ids) > MAX_IDS_PER_CALL:
            raise errors.MESSAGE_ID_INVALID(f"at most {MAX_IDS_PER_CALL} ids")
        now = _now()

        def txn(tx: Tx) -> list[Message]:
            seat = access.for_read(tx, chat_id, caller, now)
            return messages.get_visible(tx, chat_id, sorted(set(ids)), caller, seat.history_from)

        return await self._db.read(txn)

    async def dialogs(self, caller: int, offset_chat_id: int, limit: int) -> list[Dialog]:
        def txn(tx: Tx) -> list[Dialog]:
            rows = chats.dialog_rows(tx, caller, offset_chat_id, limit)
            n = chats.CHAT_NCOLS
            peers = [ChatRow(r[:n]).peer_of(caller) for r in rows]
            names = users.by_ids(tx, [p for p in peers if p])
            page = [ChatRow(r[:n]) for r in rows]
            # what every dialog of the page needs, read for the whole page at once
            basic = [c.id for c in page if not c.is_channel]
            outboxes = chats.read_outboxes(tx, basic, caller)
            # a basic group has at most 200 members: counting them is cheap
            counts = chats.member_counts(tx, [c.id for c in page if c.type == "group"])
            out = []
            for r, c, peer in zip(rows, page, peers, strict=True):
                member = r[n + 1:n + 5]
                title = names[peer].display_name if peer and peer in names else None
                history_from = int(member[3])
                if c.is_channel:  # with the caller's rights there, as chats.get gives them
                    chat = channel_view(tx, c, caller)
                else:
                    chat = chats.to_chat(
                        c, caller, title=title, member=member,
                        member_count=counts.get(c.id, 0) if c.type == "group" else None,
                        read_outbox_max_id=outboxes.get(c.id, 0))
                out.append(Dialog(
                    chat=chat,
                    last_message=messages.last_visible(tx, c.id, caller, history_from),
                    unread_count=messages.unread_count(tx, c.id, caller,
                                                       max(int(member[2]), history_from)),
                ))
            return out

        return await self._db.read(txn)

    async def search(
        self, caller: int, query: str, chat_id: int | None, limit: int
    ) -> list[Message]:
        terms = messages.search_terms(query)
        if not terms:
            raise errors.QUERY_TOO_SHORT("the query has no words")
        now = _now()

        def txn(tx: Tx) -> list[Message]:
            if chat_id is not None:
                seat = access.for_read(tx, chat_id, caller, now)
                if not seat.active:  # a public channel's preview: search it as a whole
                    return messages.search_chat(tx, terms, chat_id, limit)
            return messages.search(tx, caller, terms, chat_id, limit)

        return await self._db.read(txn)

    async def get_chat(self, caller: int, chat_id: int) -> Chat:
        now = _now()

        def txn(tx: Tx) -> Chat:
            c = chats.get(tx, chat_id)
            if c is not None and c.is_channel:
                found = channels.member(tx, c, caller)
                if found is None or not found[0].active:
                    # public: anyone may look; private: only who was in it, and then
                    # nothing of what happened since (as below)
                    if c.username is not None and not is_banned(found[0] if found else None,
                                                                now):
                        return channel_view(tx, c, caller)
                    if found is None:
                        raise errors.CHAT_NOT_FOUND("chat not found")
                    return msgspec.convert({"id": c.id, "type": c.type, "title": c.title,
                                            "role": found[0].role, "status": found[0].status},
                                           Chat)
                return channel_view(tx, c, caller)
            standing = permissions.require_visible(chats.standing(tx, chat_id, caller))
            assert c is not None
            if not standing.active:
                # as Telegram's chatForbidden: that it exists and what one's standing is,
                # nothing of what happened since
                return msgspec.convert({"id": c.id, "type": c.type, "title": c.title,
                                        "role": standing.role, "status": standing.status}, Chat)
            peer = c.peer_of(caller)
            title = None
            if peer is not None:
                u = users.by_id(tx, peer)
                title = u.display_name if u else ""
            return chats.to_chat(
                c, caller, title=title, member_count=chats.member_count(tx, chat_id),
                member=chats.member_row(tx, chat_id, caller),
                read_outbox_max_id=None if c.is_channel else chats.read_outbox(tx, chat_id, caller),
            )

        return await self._db.read(txn)
