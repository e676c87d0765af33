"""Threads: comments under channel posts (discussion groups) and forum topics.

Everything goes through the raw HTTP API (and a few cases through the WebSocket) on both
engines: linking a channel to its discussion group, the post's copy in the group, comment
threads and their counts (exact under concurrency), messages.getReplies with paging and
visibility; forum topics with their rights, closed topics, last-activity order and per-user
unread counts; and the authorization side (outsiders, banned members, bad tokens).
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import Api, unique_name
from tests.server import Server

MISSING_ID = 9_000_000_000  # no chat or message has this id


def rid() -> int:
    return secrets.randbits(62)


async def send(api: Api, chat_id: int, text: str, **params: Any) -> dict[str, Any]:
    return await api("messages.send", chat_id=chat_id, text=text, random_id=rid(), **params)


async def send_error(api: Api, chat_id: int, text: str, **params: Any) -> tuple[int, str]:
    return await api.error("messages.send", chat_id=chat_id, text=text, random_id=rid(),
                           **params)


async def create(owner: Api, *, broadcast: bool, public: bool = False,
                 title: str = "chat") -> int:
    params: dict[str, Any] = {"title": title, "broadcast": broadcast}
    if public:
        params["username"] = unique_name("pub")
    chat = await owner("channels.create", **params)
    assert chat["type"] == ("channel" if broadcast else "supergroup")
    return int(chat["id"])


async def linked_pair(owner: Api, *, public_channel: bool = True,
                      public_group: bool = True) -> tuple[int, int]:
    """A channel and its discussion group, both owned by `owner`."""
    channel = await create(owner, broadcast=True, public=public_channel, title="news")
    group = await create(owner, broadcast=False, public=public_group, title="news chat")
    assert await owner("channels.setDiscussionGroup", channel_id=channel,
                       group_id=group) is True
    return channel, group


async def forum(owner: Api, *, public: bool = False) -> int:
    group = await create(owner, broadcast=False, public=public, title="forum")
    assert await owner("channels.toggleForum", channel_id=group, enabled=True) is True
    return group


async def member_of(owner: Api, chat_id: int, *users: Api) -> None:
    assert await owner("channels.invite", channel_id=chat_id,
                       user_ids=[u.id for u in users]) is True


async def promote(owner: Api, chat_id: int, user: Api, **rights: bool) -> None:
    assert await owner("channels.editAdmin", channel_id=chat_id, user_id=user.id,
                       rights=rights) is True


async def one(api: Api, chat_id: int, message_id: int) -> dict[str, Any]:
    found = (await api("messages.getMessages", chat_id=chat_id,
                       message_ids=[message_id]))["messages"]
    assert [m["id"] for m in found] == [message_id]
    return found[0]


async def reply_ids(api: Api, chat_id: int, message_id: int, **params: Any) -> list[int]:
    got = await api("messages.getReplies", chat_id=chat_id, message_id=message_id, **params)
    return [m["id"] for m in got["messages"]]


async def topics(api: Api, chat_id: int) -> dict[int, dict[str, Any]]:
    """The forum's topics in the server's order (dicts keep it)."""
    return {t["id"]: t for t in await api("channels.getTopics", channel_id=chat_id)}


# discussion groups: linking ------------------------------------------------------------------

async def test_linking_needs_change_info_in_both_chats(make_user) -> None:
    owner, admin = await make_user("Owner"), await make_user("Admin")
    channel = await create(owner, broadcast=True)
    group = await create(owner, broadcast=False)
    await member_of(owner, channel, admin)
    await member_of(owner, group, admin)
    link = {"channel_id": channel, "group_id": group}

    # a plain subscriber / member has no right at all
    assert await admin.error("channels.setDiscussionGroup", **link) == (
        403, "CHAT_ADMIN_REQUIRED")
    # change_info in the channel only
    await promote(owner, channel, admin, change_info=True, post_messages=True)
    await promote(owner, group, admin, pin_messages=True, delete_messages=True)
    assert await admin.error("channels.setDiscussionGroup", **link) == (
        403, "CHAT_ADMIN_REQUIRED")
    # change_info in the group only
    await promote(owner, channel, admin, post_messages=True)
    await promote(owner, group, admin, change_info=True)
    assert await admin.error("channels.setDiscussionGroup", **link) == (
        403, "CHAT_ADMIN_REQUIRED")
    for chat_id in (channel, group):
        assert "linked_chat_id" not in await owner("chats.get", chat_id=chat_id)

    # both
    await promote(owner, channel, admin, change_info=True)
    assert await admin("channels.setDiscussionGroup", **link) is True
    assert (await owner("chats.get", chat_id=channel))["linked_chat_id"] == group
    assert (await owner("chats.get", chat_id=group))["linked_chat_id"] == channel
    assert (await admin("chats.get", chat_id=group))["linked_chat_id"] == channel


async def test_discussion_group_must_be_a_free_supergroup(make_user) -> None:
    owner, friend = await make_user("Owner"), await make_user("Friend")
    channel, group = await linked_pair(owner)
    other_channel = await create(owner, broadcast=True)
    basic = (await owner("chats.createGroup", title="basic", user_ids=[friend.id]))["id"]

    for target in (basic, other_channel):  # not a supergroup
        assert await owner.error("channels.setDiscussionGroup", channel_id=channel,
                                 group_id=target) == (400, "CHANNEL_INVALID")
    # only a broadcast channel gets a discussion group
    spare = await create(owner, broadcast=False)
    assert await owner.error("channels.setDiscussionGroup", channel_id=spare,
                             group_id=group) == (400, "CHANNEL_INVALID")
    # a group that already discusses another channel
    assert await owner.error("channels.setDiscussionGroup", channel_id=other_channel,
                             group_id=group) == (400, "CHANNEL_INVALID")
    # ... and the failed attempts changed nothing
    assert (await owner("chats.get", chat_id=channel))["linked_chat_id"] == group
    assert (await owner("chats.get", chat_id=group))["linked_chat_id"] == channel
    assert "linked_chat_id" not in await owner("chats.get", chat_id=other_channel)

    # group_id 0 unlinks both sides; the group is free for another channel then
    assert await owner("channels.setDiscussionGroup", channel_id=channel, group_id=0) is True
    assert "linked_chat_id" not in await owner("chats.get", chat_id=channel)
    assert "linked_chat_id" not in await owner("chats.get", chat_id=group)
    assert await owner("channels.setDiscussionGroup", channel_id=other_channel,
                       group_id=group) is True
    assert (await owner("chats.get", chat_id=group))["linked_chat_id"] == other_channel

    # moving a channel to another group frees its old one
    new_group = await create(owner, broadcast=False)
    assert await owner("channels.setDiscussionGroup", channel_id=other_channel,
                       group_id=new_group) is True
    assert "linked_chat_id" not in await owner("chats.get", chat_id=group)
    assert (await owner("chats.get", chat_id=new_group))["linked_chat_id"] == other_channel
    assert await owner("channels.setDiscussionGroup", channel_id=channel,
                       group_id=group) is True


async def test_two_channels_racing_for_one_group(make_user) -> None:
    owner = await make_user("Owner")
    group = await create(owner, broadcast=False)
    rivals = [await create(owner, broadcast=True) for _ in range(4)]
    results = await asyncio.gather(*(
        owner.raw("channels.setDiscussionGroup", {"channel_id": c, "group_id": group})
        for c in rivals))
    won = [c for c, r in zip(rivals, results, strict=True) if r.status_code == 200]
    lost = [r.json()["error"]["type"] for r in results if r.status_code != 200]
    assert len(won) == 1 and lost == ["CHANNEL_INVALID"] * 3
    assert (await owner("chats.get", chat_id=group))["linked_chat_id"] == won[0]
    for c in rivals:
        linked = (await owner("chats.get", chat_id=c)).get("linked_chat_id")
        assert linked == (group if c == won[0] else None)


# discussion groups: posts and comments -------------------------------------------------------

async def test_a_new_post_gets_a_thread_and_a_copy_in_the_group(make_user) -> None:
    owner = await make_user("Owner")
    channel = await create(owner, broadcast=True, public=True)
    group = await create(owner, broadcast=False, public=True)
    before = await send(owner, channel, "posted before the link")
    assert "replies" not in before
    assert await owner("channels.setDiscussionGroup", channel_id=channel,
                       group_id=group) is True

    post = await send(owner, channel, "first post")
    root_id = post["replies"]["root_id"]
    assert post["replies"] == {"count": 0, "chat_id": group, "root_id": root_id}
    # the copy: a forward of the post in the group, carrying the thread's counter
    root = await one(owner, group, root_id)
    assert root["text"] == "first post"
    assert root["fwd_from"]["chat_id"] == channel
    assert root["fwd_from"]["message_id"] == post["id"]
    assert root["fwd_from"]["date"] == post["date"]
    assert root["replies"]["count"] == 0
    history = (await owner("messages.getHistory", chat_id=group, limit=1))["messages"]
    assert history[0]["id"] == root_id
    # the stored post says the same as the answer to send
    assert (await one(owner, channel, post["id"]))["replies"] == post["replies"]

    # a post made before the link has no comments
    assert "replies" not in await one(owner, channel, before["id"])
    assert await owner.error("messages.getReplies", chat_id=channel,
                             message_id=before["id"]) == (400, "MESSAGE_ID_INVALID")
    # each post its own root
    second = await send(owner, channel, "second post")
    assert second["replies"]["root_id"] > root_id
    assert second["replies"]["chat_id"] == group


async def test_replies_and_replies_to_replies_join_the_thread(make_user) -> None:
    owner, ann, bob = await make_user("Owner"), await make_user("Ann"), await make_user("Bob")
    channel, group = await linked_pair(owner)
    await member_of(owner, group, ann, bob)
    post = await send(owner, channel, "what do you think?")
    root_id = post["replies"]["root_id"]
    other_post = await send(owner, channel, "another post")
    other_root = other_post["replies"]["root_id"]

    c1 = await send(ann, group, "I like it", reply_to=root_id)
    c2 = await send(bob, group, "me too", reply_to=c1["id"])  # a reply to a comment
    c3 = await send(owner, group, "thanks", reply_to=c2["id"])
    for c in (c1, c2, c3):
        assert c["thread_id"] == root_id
    # chatter in the group outside any thread stays outside
    loose = await send(ann, group, "off topic")
    loose_reply = await send(bob, group, "indeed", reply_to=loose["id"])
    assert "thread_id" not in loose and "thread_id" not in loose_reply
    other = await send(bob, group, "on the other post", reply_to=other_root)
    assert other["thread_id"] == other_root

    assert (await one(ann, group, root_id))["replies"]["count"] == 3
    assert (await one(ann, channel, post["id"]))["replies"] == {
        "count": 3, "chat_id": group, "root_id": root_id}
    assert (await one(ann, channel, other_post["id"]))["replies"]["count"] == 1
    assert (await one(ann, group, other_root))["replies"]["count"] == 1
    # stored messages carry their thread too
    assert (await one(bob, group, c2["id"]))["thread_id"] == root_id
    assert await reply_ids(bob, channel, post["id"]) == [c3["id"], c2["id"], c1["id"]]


async def test_concurrent_comments_count_exactly(make_user) -> None:
    owner = await make_user("Owner")
    users = [await make_user(f"U{i}") for i in range(10)]
    channel, group = await linked_pair(owner)
    await member_of(owner, group, *users)
    post = await send(owner, channel, "comment, everyone")
    root_id = post["replies"]["root_id"]

    sent = await asyncio.gather(*(send(u, group, f"comment {i}", reply_to=root_id)
                                  for i, u in enumerate(users)))
    assert all(m["thread_id"] == root_id for m in sent)
    assert (await one(owner, channel, post["id"]))["replies"]["count"] == 10
    assert (await one(owner, group, root_id))["replies"]["count"] == 10
    assert await reply_ids(owner, channel, post["id"]) == sorted(
        (m["id"] for m in sent), reverse=True)


async def test_get_replies_newest_first_with_paging_of_post_or_root(make_user) -> None:
    owner, fan = await make_user("Owner"), await make_user("Fan")
    channel, group = await linked_pair(owner)
    await member_of(owner, group, fan)
    post = await send(owner, channel, "page me")
    root_id = post["replies"]["root_id"]
    ids = [(await send(fan, group, f"c{i}", reply_to=root_id))["id"] for i in range(7)]
    await send(fan, group, "not a comment")
    newest_first = ids[::-1]

    assert await reply_ids(fan, channel, post["id"]) == newest_first
    assert await reply_ids(fan, group, root_id) == newest_first
    got = await fan("messages.getReplies", chat_id=channel, message_id=post["id"])
    assert [m["text"] for m in got["messages"]] == [f"c{i}" for i in range(6, -1, -1)]
    assert all(m["chat_id"] == group for m in got["messages"])

    for chat_id, message_id in ((channel, post["id"]), (group, root_id)):
        pages: list[int] = []
        offset = 0
        for _ in range(5):  # bounded: 7 comments in pages of 3
            page = await reply_ids(fan, chat_id, message_id, offset_id=offset, limit=3)
            if not page:
                break
            assert len(page) <= 3
            pages += page
            offset = page[-1]
        assert pages == newest_first
    assert await reply_ids(fan, channel, post["id"], offset_id=ids[3], limit=2) == [
        ids[2], ids[1]]


async def test_who_may_read_comments(make_user) -> None:
    owner, reader, fan = (await make_user("Owner"), await make_user("Reader"),
                          await make_user("Fan"))
    # a public channel (its group private): anyone may read the comments through the channel
    channel, group = await linked_pair(owner, public_channel=True, public_group=False)
    await member_of(owner, group, fan)
    post = await send(owner, channel, "public post")
    comment = await send(fan, group, "public comment", reply_to=post["replies"]["root_id"])
    assert await reply_ids(reader, channel, post["id"]) == [comment["id"]]
    assert await reader.error("messages.getReplies", chat_id=group,
                              message_id=post["replies"]["root_id"]) == (404, "CHAT_NOT_FOUND")

    # a private channel: outsiders learn nothing, subscribers read
    private, private_group = await linked_pair(owner, public_channel=False, public_group=False)
    await member_of(owner, private_group, fan)
    secret = await send(owner, private, "private post")
    await send(fan, private_group, "private comment", reply_to=secret["replies"]["root_id"])
    assert await reader.error("messages.getReplies", chat_id=private,
                              message_id=secret["id"]) == (404, "CHAT_NOT_FOUND")
    await member_of(owner, private, reader)
    assert len(await reply_ids(reader, private, secret["id"])) == 1


async def test_readers_of_the_channel_comment_by_joining_its_group(make_user) -> None:
    """As Telegram: whoever may read a channel may comment on its posts; the first comment
    makes them a member of the discussion group (which may be private)."""
    owner, subscriber, stranger, reader = (
        await make_user("Owner"), await make_user("Sub"), await make_user("Stranger"),
        await make_user("Reader"))
    private, group = await linked_pair(owner, public_channel=False, public_group=False)
    await member_of(owner, private, subscriber)
    post = await send(owner, private, "comment on me")
    root = post["replies"]["root_id"]
    # not in the private channel: the group stays unknown to them
    assert await send_error(stranger, group, "let me in", reply_to=root) == (
        404, "CHAT_NOT_FOUND")
    # a plain message, not a comment, does not let anyone in either
    assert await send_error(subscriber, group, "hello") == (404, "CHAT_NOT_FOUND")
    comment = await send(subscriber, group, "first!", reply_to=root)
    assert comment["thread_id"] == root
    assert await reply_ids(owner, private, post["id"]) == [comment["id"]]
    assert (await subscriber("chats.get", chat_id=group))["status"] == "member"
    # now a member: a reply to the comment, and plain messages, go as for any member
    again = await send(subscriber, group, "me again", reply_to=comment["id"])
    assert again["thread_id"] == root

    # a public channel: any reader may comment; one banned from the group may not
    public, public_group = await linked_pair(owner, public_channel=True, public_group=False)
    news = await send(owner, public, "public news")
    assert (await send(reader, public_group, "nice", reply_to=news["replies"]["root_id"]))[
        "thread_id"] == news["replies"]["root_id"]
    assert await owner("channels.editBanned", channel_id=public_group, user_id=stranger.id,
                       banned={"view_messages": True}) is True
    code, _ = await send_error(stranger, public_group, "spam",
                               reply_to=news["replies"]["root_id"])
    assert code in (403, 404)


async def test_deleted_comments_leave_the_thread(make_user) -> None:
    owner, fan = await make_user("Owner"), await make_user("Fan")
    channel, group = await linked_pair(owner)
    await member_of(owner, group, fan)
    post = await send(owner, channel, "post")
    root_id = post["replies"]["root_id"]
    keep = await send(fan, group, "keep", reply_to=root_id)
    gone = await send(fan, group, "gone", reply_to=root_id)
    spam = await send(fan, group, "spam", reply_to=keep["id"])
    assert await reply_ids(owner, channel, post["id"]) == [spam["id"], gone["id"], keep["id"]]

    assert await fan("messages.delete", chat_id=group, message_ids=[gone["id"]],
                     revoke=True) is True
    assert await owner("messages.delete", chat_id=group, message_ids=[spam["id"]],
                       revoke=True) is True
    assert await reply_ids(owner, channel, post["id"]) == [keep["id"]]
    assert await reply_ids(fan, group, root_id) == [keep["id"]]


async def test_a_reply_inside_the_channel_is_not_a_comment(make_user) -> None:
    owner = await make_user("Owner")
    channel, _ = await linked_pair(owner)
    post = await send(owner, channel, "post")
    follow_up = await send(owner, channel, "follow-up", reply_to=post["id"])
    assert await owner("channels.setDiscussionGroup", channel_id=channel, group_id=0) is True
    again = await send(owner, channel, "and again", reply_to=post["id"])
    # a channel has no threads, and the post's comment counter counts comments only
    assert (follow_up.get("thread_id"), again.get("thread_id"),
            (await one(owner, channel, post["id"]))["replies"]["count"]) == (None, None, 0)
    assert again["reply_to"] == follow_up["reply_to"] == post["id"]
    assert await reply_ids(owner, channel, post["id"]) == []


async def test_a_forwarded_post_gets_a_thread_too(make_user) -> None:
    owner = await make_user("Owner")
    channel, group = await linked_pair(owner)
    source = await create(owner, broadcast=True)
    original = await send(owner, source, "worth sharing")
    [post] = await owner("messages.forward", from_chat_id=source,
                         message_ids=[original["id"]], chat_id=channel, random_ids=[rid()])
    assert post["fwd_from"]["chat_id"] == source
    assert post.get("replies", {}).get("chat_id") == group, post
    root = await one(owner, group, post["replies"]["root_id"])
    assert root["text"] == "worth sharing"


# forum topics -------------------------------------------------------------------------------

async def test_toggle_forum_needs_change_info_in_a_supergroup(make_user) -> None:
    owner, admin, member = (await make_user("Owner"), await make_user("Admin"),
                            await make_user("Member"))
    group = await create(owner, broadcast=False)
    await member_of(owner, group, admin, member)
    await promote(owner, group, admin, manage_topics=True, pin_messages=True)
    # no forum yet: no topics
    assert await owner.error("channels.createTopic", channel_id=group, title="t") == (
        400, "BAD_REQUEST")

    assert await member.error("channels.toggleForum", channel_id=group, enabled=True) == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await admin.error("channels.toggleForum", channel_id=group, enabled=True) == (
        403, "CHAT_ADMIN_REQUIRED")
    await promote(owner, group, admin, change_info=True, manage_topics=True)
    assert await admin("channels.toggleForum", channel_id=group, enabled=True) is True
    assert (await admin("channels.createTopic", channel_id=group, title="t"))["title"] == "t"

    channel = await create(owner, broadcast=True)
    assert await owner.error("channels.toggleForum", channel_id=channel, enabled=True) == (
        400, "CHANNEL_INVALID")
    basic = (await owner("chats.createGroup", title="basic", user_ids=[member.id]))["id"]
    assert await owner.error("channels.toggleForum", channel_id=basic, enabled=True) == (
        400, "CHANNEL_INVALID")

    # off again: no new topics
    assert await owner("channels.toggleForum", channel_id=group, enabled=False) is True
    assert await owner.error("channels.createTopic", channel_id=group, title="u") == (
        400, "BAD_REQUEST")


async def test_create_topic_rights(make_user) -> None:
    owner, manager, admin, member = (await make_user("Owner"), await make_user("Manager"),
                                     await make_user("Admin"), await make_user("Member"))
    group = await forum(owner)
    await member_of(owner, group, manager, admin, member)
    await promote(owner, group, manager, manage_topics=True)
    await promote(owner, group, admin, pin_messages=True, delete_messages=True)

    mine = await owner("channels.createTopic", channel_id=group, title="Announcements")
    assert (mine["title"], mine["creator_id"]) == ("Announcements", owner.id)
    assert mine["top_message_id"] == mine["id"]
    created = await one(owner, group, mine["id"])
    assert created["action"]["type"] == "topic_create"
    assert created["action"]["title"] == "Announcements"
    by_manager = await manager("channels.createTopic", channel_id=group, title="Help")
    assert by_manager["creator_id"] == manager.id and by_manager["id"] > mine["id"]

    # an admin without manage_topics, and plain members by default, may not
    assert await admin.error("channels.createTopic", channel_id=group, title="x") == (
        403, "CHAT_ADMIN_REQUIRED")
    assert await member.error("channels.createTopic", channel_id=group, title="x") == (
        403, "CHAT_ADMIN_REQUIRED")
    # lifting the default restriction lets plain members open topics
    assert await owner("channels.editDefaultBanned", channel_id=group,
                       banned={"pin_messages": True, "change_info": True}) is True
    by_member = await member("channels.createTopic", channel_id=group, title="Chat")
    assert by_member["creator_id"] == member.id
    # a member restricted on their own is refused again
    assert await owner("channels.editBanned", channel_id=group, user_id=member.id,
                       banned={"manage_topics": True}) is True
    assert await member.error("channels.createTopic", channel_id=group, title="y") == (
        403, "CHAT_ADMIN_REQUIRED")
    assert set(await topics(owner, group)) == {mine["id"], by_manager["id"], by_member["id"]}


async def test_messages_in_topics(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    a = (await owner("channels.createTopic", channel_id=group, title="A"))["id"]
    b = (await owner("channels.createTopic", channel_id=group, title="B"))["id"]

    in_a = await send(member, group, "in A", topic_id=a)
    assert in_a["thread_id"] == a
    assert (await one(owner, group, in_a["id"]))["thread_id"] == a
    general = await send(member, group, "in General")
    assert "thread_id" not in general
    # a reply to a topic's message (or to the topic itself) stays in that topic
    assert (await send(owner, group, "re", reply_to=in_a["id"]))["thread_id"] == a
    assert (await send(owner, group, "re B", reply_to=b))["thread_id"] == b
    in_b = await send(member, group, "in B", topic_id=b)
    assert in_b["thread_id"] == b

    # unknown topics: a plain message's id, an id that does not exist
    for bad in (general["id"], MISSING_ID):
        assert await send_error(member, group, "x", topic_id=bad) == (400, "TOPIC_ID_INVALID")
    # topics are for forums only
    plain_group = await create(owner, broadcast=False)
    channel = await create(owner, broadcast=True)
    basic = (await owner("chats.createGroup", title="basic", user_ids=[member.id]))["id"]
    for chat_id in (plain_group, channel, basic):
        assert await send_error(owner, chat_id, "x", topic_id=a) == (400, "BAD_REQUEST")
    assert await owner.error("messages.send", user_id=member.id, text="x", random_id=rid(),
                             topic_id=a) == (400, "BAD_REQUEST")


async def test_closed_topics_refuse_plain_members(make_user) -> None:
    owner, manager, admin, member = (await make_user("Owner"), await make_user("Manager"),
                                     await make_user("Admin"), await make_user("Member"))
    group = await forum(owner)
    await member_of(owner, group, manager, admin, member)
    await promote(owner, group, manager, manage_topics=True)
    await promote(owner, group, admin, pin_messages=True)
    topic = (await owner("channels.createTopic", channel_id=group, title="Rules"))["id"]
    early = await send(member, group, "before closing", topic_id=topic)

    assert await owner("channels.editTopic", channel_id=group, topic_id=topic,
                       closed=True) is True
    assert (await topics(member, group))[topic]["closed"] is True
    assert await send_error(member, group, "x", topic_id=topic) == (400, "TOPIC_CLOSED")
    assert await send_error(admin, group, "x", topic_id=topic) == (400, "TOPIC_CLOSED")
    assert (await send(manager, group, "managers may", topic_id=topic))["thread_id"] == topic
    assert (await send(owner, group, "owners may", topic_id=topic))["thread_id"] == topic
    # other topics and General are open
    assert "thread_id" not in await send(member, group, "General is open")

    assert await manager("channels.editTopic", channel_id=group, topic_id=topic,
                         closed=False) is True
    assert (await send(member, group, "open again", topic_id=topic))["thread_id"] == topic
    assert early["thread_id"] == topic


async def test_a_reply_does_not_slip_into_a_closed_topic(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    topic = (await owner("channels.createTopic", channel_id=group, title="Rules"))["id"]
    in_topic = await send(owner, group, "read the rules", topic_id=topic)
    assert await owner("channels.editTopic", channel_id=group, topic_id=topic,
                       closed=True) is True
    # replying to a message of the closed topic (without topic_id) would post into it
    assert await send_error(member, group, "sneaky", reply_to=in_topic["id"]) == (
        400, "TOPIC_CLOSED")
    assert await send_error(member, group, "sneaky", reply_to=topic) == (400, "TOPIC_CLOSED")
    # the topic holds what it held, plus the service message that closed it
    newest = (await owner("messages.getHistory", chat_id=group, limit=1))["messages"][0]
    assert newest["action"]["type"] == "topic_edit"
    assert await reply_ids(owner, group, topic) == [newest["id"], in_topic["id"]]


async def test_edit_topic_by_its_creator_or_managers(make_user) -> None:
    owner, manager, admin, creator, other = (
        await make_user("Owner"), await make_user("Manager"), await make_user("Admin"),
        await make_user("Creator"), await make_user("Other"))
    group = await forum(owner)
    await member_of(owner, group, manager, admin, creator, other)
    await promote(owner, group, manager, manage_topics=True)
    await promote(owner, group, admin, pin_messages=True, change_info=True)
    assert await owner("channels.editDefaultBanned", channel_id=group, banned={}) is True
    topic = (await creator("channels.createTopic", channel_id=group, title="Mine"))["id"]

    assert await creator("channels.editTopic", channel_id=group, topic_id=topic,
                         title="Still mine") is True
    assert (await topics(other, group))[topic]["title"] == "Still mine"
    for api in (other, admin):
        assert await api.error("channels.editTopic", channel_id=group, topic_id=topic,
                               title="Taken") == (403, "CHAT_ADMIN_REQUIRED")
        assert await api.error("channels.editTopic", channel_id=group, topic_id=topic,
                               closed=True) == (403, "CHAT_ADMIN_REQUIRED")
    assert await manager("channels.editTopic", channel_id=group, topic_id=topic,
                         title="Moderated", closed=True) is True
    seen = (await topics(creator, group))[topic]
    assert (seen["title"], seen["closed"], seen["creator_id"]) == ("Moderated", True,
                                                                   creator.id)
    assert await owner.error("channels.editTopic", channel_id=group, topic_id=MISSING_ID,
                             title="x") == (400, "TOPIC_ID_INVALID")
    assert await owner.error("channels.editTopic", channel_id=group, topic_id=topic,
                             title="") == (400, "CHAT_TITLE_EMPTY")


async def test_topics_by_last_activity_with_own_unread_counts(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    a = (await owner("channels.createTopic", channel_id=group, title="A"))["id"]
    b = (await owner("channels.createTopic", channel_id=group, title="B"))["id"]
    c = (await owner("channels.createTopic", channel_id=group, title="C"))["id"]

    listed = await topics(member, group)
    assert list(listed) == [c, b, a]  # newest first while nothing was said
    assert all(t["unread_count"] == 0 and t["read_max_id"] == 0 for t in listed.values())

    await send(owner, group, "a1", topic_id=a)
    a2 = await send(owner, group, "a2", topic_id=a)
    b1 = await send(owner, group, "b1", topic_id=b)
    await send(member, group, "b2 (mine)", topic_id=b)
    await send(owner, group, "General, not a topic")

    listed = await topics(member, group)
    assert list(listed) == [b, a, c]
    assert {t: listed[t]["unread_count"] for t in listed} == {a: 2, b: 1, c: 0}
    assert listed[a]["top_message_id"] == a2["id"]
    mine = await send(member, group, "c1 (mine)", topic_id=c)
    listed = await topics(member, group)
    assert list(listed) == [c, b, a]
    assert listed[c]["top_message_id"] == mine["id"]
    assert {t: listed[t]["unread_count"] for t in listed} == {a: 2, b: 1, c: 0}
    # the owner's view: everything they wrote is read for them
    theirs = await topics(owner, group)
    assert {t: theirs[t]["unread_count"] for t in theirs} == {a: 0, b: 1, c: 1}
    assert b1["thread_id"] == b


async def test_read_topic_moves_one_topics_marker(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    a = (await owner("channels.createTopic", channel_id=group, title="A"))["id"]
    b = (await owner("channels.createTopic", channel_id=group, title="B"))["id"]
    in_a = [(await send(owner, group, f"a{i}", topic_id=a))["id"] for i in range(3)]
    in_b = [(await send(owner, group, f"b{i}", topic_id=b))["id"] for i in range(2)]

    assert await member("channels.readTopic", channel_id=group, topic_id=a,
                        max_id=in_a[0]) is True
    listed = await topics(member, group)
    assert (listed[a]["unread_count"], listed[a]["read_max_id"]) == (2, in_a[0])
    assert (listed[b]["unread_count"], listed[b]["read_max_id"]) == (2, 0)
    assert await member("channels.readTopic", channel_id=group, topic_id=a,
                        max_id=in_a[-1]) is True
    # a marker never goes back
    assert await member("channels.readTopic", channel_id=group, topic_id=a,
                        max_id=in_a[0]) is True
    listed = await topics(member, group)
    assert (listed[a]["unread_count"], listed[a]["read_max_id"]) == (0, in_a[-1])
    assert listed[b]["unread_count"] == 2
    # the owner's own markers are untouched by the member's reads
    assert (await topics(owner, group))[a]["unread_count"] == 0
    assert await member.error("channels.readTopic", channel_id=group, topic_id=MISSING_ID,
                              max_id=1) == (400, "TOPIC_ID_INVALID")
    assert in_b[-1] > in_a[-1]


async def test_reading_a_topic_to_its_newest_message_clears_it(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    topic = (await owner("channels.createTopic", channel_id=group, title="A"))["id"]
    await send(owner, group, "hello", topic_id=topic)
    # an edit of the topic posts a service message into it
    assert await owner("channels.editTopic", channel_id=group, topic_id=topic,
                       title="A, renamed") is True
    newest = (await member("messages.getHistory", chat_id=group, limit=1))["messages"][0]
    assert newest["action"]["type"] == "topic_edit"
    assert newest["thread_id"] == topic
    assert await member("channels.readTopic", channel_id=group, topic_id=topic,
                        max_id=newest["id"]) is True
    listed = (await topics(member, group))[topic]
    assert listed["unread_count"] == 0, listed
    assert listed["read_max_id"] == newest["id"], listed


async def test_get_replies_of_a_topic(make_user) -> None:
    owner, member = await make_user("Owner"), await make_user("Member")
    group = await forum(owner)
    await member_of(owner, group, member)
    a = (await owner("channels.createTopic", channel_id=group, title="A"))["id"]
    b = (await owner("channels.createTopic", channel_id=group, title="B"))["id"]
    ids = []
    for i in range(4):
        ids.append((await send(member, group, f"a{i}", topic_id=a))["id"])
        await send(owner, group, f"b{i}", topic_id=b)
        await send(owner, group, f"general {i}")
    ids.append((await send(owner, group, "reply", reply_to=ids[0]))["id"])

    assert await reply_ids(member, group, a) == ids[::-1]
    assert await reply_ids(member, group, a, limit=2) == [ids[4], ids[3]]
    assert await reply_ids(member, group, a, offset_id=ids[3], limit=10) == [
        ids[2], ids[1], ids[0]]
    assert len(await reply_ids(owner, group, b)) == 4
    assert await owner.error("messages.getReplies", chat_id=group, message_id=MISSING_ID) == (
        400, "MESSAGE_ID_INVALID")


async def test_a_public_forum_is_readable_not_writable_by_outsiders(make_user) -> None:
    owner, reader = await make_user("Owner"), await make_user("Reader")
    group = await forum(owner, public=True)
    topic = (await owner("channels.createTopic", channel_id=group, title="Open"))["id"]
    said = await send(owner, group, "hello world", topic_id=topic)
    listed = await topics(reader, group)
    assert list(listed) == [topic] and listed[topic]["title"] == "Open"
    assert "unread_count" not in listed[topic]  # no marker without a seat
    assert await reply_ids(reader, group, topic) == [said["id"]]
    assert await reader.error("channels.readTopic", channel_id=group, topic_id=topic,
                              max_id=said["id"]) == (403, "CHAT_FORBIDDEN")
    assert await reader.error("channels.createTopic", channel_id=group, title="x") == (
        403, "CHAT_FORBIDDEN")
    assert await reader.error("channels.editTopic", channel_id=group, topic_id=topic,
                              closed=True) == (403, "CHAT_FORBIDDEN")
    assert await send_error(reader, group, "x", topic_id=topic) == (
        403, "CHAT_WRITE_FORBIDDEN")
    # once joined, the topic counts as unread for them
    await reader("channels.join", channel_id=group)
    assert (await topics(reader, group))[topic]["unread_count"] == 1


# authorization --------------------------------------------------------------------------------

Call = tuple[str, str, dict[str, Any]]


def calls(group: int, topic: int, message: int, own_channel: int) -> list[Call]:
    """Every method of this feature, aimed at one forum supergroup: (label, method, params)."""
    return [
        ("toggleForum", "channels.toggleForum", {"channel_id": group, "enabled": False}),
        ("createTopic", "channels.createTopic", {"channel_id": group, "title": "mine now"}),
        ("editTopic", "channels.editTopic",
         {"channel_id": group, "topic_id": topic, "closed": True}),
        ("getTopics", "channels.getTopics", {"channel_id": group}),
        ("readTopic", "channels.readTopic",
         {"channel_id": group, "topic_id": topic, "max_id": message}),
        ("getReplies(topic)", "messages.getReplies", {"chat_id": group, "message_id": topic}),
        ("getReplies(message)", "messages.getReplies",
         {"chat_id": group, "message_id": message}),
        ("setDiscussionGroup", "channels.setDiscussionGroup",
         {"channel_id": own_channel, "group_id": group}),
        ("send(topic_id)", "messages.send",
         {"chat_id": group, "text": "x", "random_id": rid(), "topic_id": topic}),
    ]


async def answers(api: Api, todo: list[Call]) -> dict[str, tuple[int, str]]:
    return {label: await api.error(method, **params) for label, method, params in todo}


async def private_forum(make_user: Callable[..., Any]) -> tuple[Api, int, int, int]:
    owner = await make_user("Owner")
    group = await forum(owner, public=False)
    topic = (await owner("channels.createTopic", channel_id=group, title="secret"))["id"]
    message = (await send(owner, group, "secret", topic_id=topic))["id"]
    return owner, group, topic, message


async def test_outsiders_of_a_private_supergroup_learn_nothing(make_user) -> None:
    owner, group, topic, message = await private_forum(make_user)
    outsider = await make_user("Outsider")
    own_channel = await create(outsider, broadcast=True)
    todo = calls(group, topic, message, own_channel)
    assert await answers(outsider, todo) == {
        label: (404, "CHAT_NOT_FOUND") for label, _, _ in todo}
    # someone else's private channel and its comments
    channel, linked = await linked_pair(owner, public_channel=False, public_group=False)
    post = await send(owner, channel, "post")
    assert await answers(outsider, [
        ("unlink", "channels.setDiscussionGroup", {"channel_id": channel, "group_id": 0}),
        ("relink", "channels.setDiscussionGroup",
         {"channel_id": channel, "group_id": group}),
        ("getReplies(post)", "messages.getReplies",
         {"chat_id": channel, "message_id": post["id"]}),
        ("getReplies(root)", "messages.getReplies",
         {"chat_id": linked, "message_id": post["replies"]["root_id"]}),
    ]) == {label: (404, "CHAT_NOT_FOUND")
           for label in ("unlink", "relink", "getReplies(post)", "getReplies(root)")}
    # nothing changed
    listed = await topics(owner, group)
    assert list(listed) == [topic] and listed[topic]["closed"] is False
    assert (await owner("chats.get", chat_id=channel))["linked_chat_id"] == linked
    assert await reply_ids(owner, group, topic) == [message]


async def test_missing_chats_answer_like_private_ones(make_user) -> None:
    """An outsider cannot tell a private chat from one that does not exist."""
    _, group, topic, message = await private_forum(make_user)
    outsider = await make_user("Outsider")
    own_channel = await create(outsider, broadcast=True)
    todo = [*calls(MISSING_ID, topic, message, own_channel),
            ("setDiscussionGroup(channel)", "channels.setDiscussionGroup",
             {"channel_id": MISSING_ID, "group_id": 0})]
    private = await answers(outsider, calls(group, topic, message, own_channel))
    assert set(private.values()) == {(404, "CHAT_NOT_FOUND")}
    assert await answers(outsider, todo) == {
        label: (404, "CHAT_NOT_FOUND") for label, _, _ in todo}


async def test_banned_and_departed_members(make_user) -> None:
    owner, group, topic, message = await private_forum(make_user)
    banned, gone = await make_user("Banned"), await make_user("Gone")
    await member_of(owner, group, banned, gone)
    assert await owner("channels.editBanned", channel_id=group, user_id=banned.id,
                       banned={"view_messages": True}) is True
    assert await gone("channels.leave", channel_id=group) is True

    for user in (banned, gone):
        todo = calls(group, topic, message, await create(user, broadcast=True))
        expected = {label: (403, "CHAT_FORBIDDEN") for label, _, _ in todo}
        expected["send(topic_id)"] = (403, "CHAT_WRITE_FORBIDDEN")  # as any send
        assert await answers(user, todo) == expected, user.user["display_name"]

    # banned from a private channel: its comments are closed to them
    channel, _ = await linked_pair(owner, public_channel=False, public_group=False)
    await member_of(owner, channel, banned)
    post = await send(owner, channel, "post")
    assert await reply_ids(banned, channel, post["id"]) == []
    assert await owner("channels.editBanned", channel_id=channel, user_id=banned.id,
                       banned={"view_messages": True}) is True
    assert await banned.error("messages.getReplies", chat_id=channel,
                              message_id=post["id"]) == (403, "CHAT_FORBIDDEN")


async def test_a_bad_token_is_401_everywhere(make_user) -> None:
    owner, group, topic, message = await private_forum(make_user)
    channel = await create(owner, broadcast=True)
    for label, method, params in calls(group, topic, message, channel):
        for token in ("", "not-a-token", owner.token + "x"):
            r = await owner.raw(method, params, token=token)
            assert r.status_code == 401, (label, token, r.text)
            assert r.json()["error"]["type"] == "AUTH_KEY_INVALID"
    listed = await topics(owner, group)
    assert list(listed) == [topic] and listed[topic]["closed"] is False
    assert "linked_chat_id" not in await owner("chats.get", chat_id=channel)


# over the WebSocket ---------------------------------------------------------------------------

async def ws_ready(ws: ClientConnection) -> None:
    """A request answered on the socket: the server has attached the connection."""
    await ws.send(json.dumps({"id": "ready", "method": "updates.getState", "params": {}}))
    await ws_answer(ws, "ready")


async def ws_answer(ws: ClientConnection, frame_id: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("id") == frame_id:
                return frame


async def ws_call(ws: ClientConnection, method: str, **params: Any) -> dict[str, Any]:
    frame_id = secrets.token_hex(4)
    await ws.send(json.dumps({"id": frame_id, "method": method, "params": params}))
    return await ws_answer(ws, frame_id)


async def channel_push(ws: ClientConnection, chat_id: int,
                       wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first pushed update of channel `chat_id` that `wanted` accepts."""
    async with asyncio.timeout(10):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("channel_id") == chat_id and wanted(frame["channel_update"]):
                return frame["channel_update"]


def new_message(message_id: int) -> Callable[[dict[str, Any]], bool]:
    return lambda u: u["type"] == "new_message" and u["message"]["id"] == message_id


async def test_ws_the_group_sees_the_copy_and_the_comments(
    make_user, server: Server,
) -> None:
    owner, fan, watcher = (await make_user("Owner"), await make_user("Fan"),
                           await make_user("Watcher"))
    channel, group = await linked_pair(owner)
    await member_of(owner, group, fan, watcher)
    async with connect(f"{server.ws_url}/api/v1/ws?token={watcher.token}") as ws:
        await ws_ready(ws)
        post = await send(owner, channel, "live post")
        root_id = post["replies"]["root_id"]
        copy = (await channel_push(ws, group, new_message(root_id)))["message"]
        assert copy["fwd_from"]["chat_id"] == channel
        assert copy["fwd_from"]["message_id"] == post["id"]
        assert copy["replies"]["count"] == 0
        comment = await send(fan, group, "live comment", reply_to=root_id)
        pushed = (await channel_push(ws, group, new_message(comment["id"])))["message"]
        assert pushed["thread_id"] == root_id and pushed["reply_to"] == root_id
        # a comment sent over the socket
        answer = await ws_call(ws, "messages.send", chat_id=group, text="from the socket",
                               random_id=rid(), reply_to=comment["id"])
        assert answer["ok"] is True and answer["result"]["thread_id"] == root_id
    assert (await one(owner, channel, post["id"]))["replies"]["count"] == 2


async def test_ws_subscribers_get_the_post_with_its_replies(
    make_user, server: Server,
) -> None:
    owner, subscriber = await make_user("Owner"), await make_user("Subscriber")
    channel, group = await linked_pair(owner)
    await member_of(owner, channel, subscriber)
    async with connect(f"{server.ws_url}/api/v1/ws?token={subscriber.token}") as ws:
        await ws_ready(ws)
        post = await send(owner, channel, "with comments")
        pushed = (await channel_push(ws, channel, new_message(post["id"])))["message"]
    assert pushed.get("replies") == {"count": 0, "chat_id": group,
                                     "root_id": post["replies"]["root_id"]}


async def test_channel_difference_carries_the_posts_replies(make_user) -> None:
    owner, subscriber = await make_user("Owner"), await make_user("Subscriber")
    channel, _ = await linked_pair(owner)
    await member_of(owner, channel, subscriber)
    pts = (await subscriber("chats.get", chat_id=channel))["pts"]
    post = await send(owner, channel, "catch me up")
    diff = await subscriber("updates.getChannelDifference", channel_id=channel, pts=pts)
    got = [u["message"] for u in diff["updates"] if u["type"] == "new_message"]
    assert [m["id"] for m in got] == [post["id"]]
    assert got[0].get("replies") == post["replies"]


async def test_ws_topics_live(make_user, server: Server) -> None:
    owner, member, watcher = (await make_user("Owner"), await make_user("Member"),
                              await make_user("Watcher"))
    group = await forum(owner)
    await member_of(owner, group, member, watcher)
    async with connect(f"{server.ws_url}/api/v1/ws?token={member.token}") as ws, \
            connect(f"{server.ws_url}/api/v1/ws?token={watcher.token}") as watching:
        await ws_ready(ws)
        await ws_ready(watching)
        topic = (await owner("channels.createTopic", channel_id=group, title="Live"))["id"]
        created = (await channel_push(watching, group, new_message(topic)))["message"]
        assert created["action"]["type"] == "topic_create"

        answer = await ws_call(ws, "messages.send", chat_id=group, text="in the topic",
                               random_id=rid(), topic_id=topic)
        assert answer["ok"] is True and answer["result"]["thread_id"] == topic
        pushed = (await channel_push(watching, group,
                                     new_message(answer["result"]["id"])))["message"]
        assert pushed["thread_id"] == topic

        assert await owner("channels.editTopic", channel_id=group, topic_id=topic,
                           closed=True) is True
        refused = await ws_call(ws, "messages.send", chat_id=group, text="closed?",
                                random_id=rid(), topic_id=topic)
        assert refused["ok"] is False
        assert refused["error"]["type"] == "TOPIC_CLOSED"
    assert answer["result"]["id"] in await reply_ids(watcher, group, topic)
    # the topic's creation message, as pushed, is the one history keeps
    assert created == await one(watcher, group, topic)

