"""bots.* (BotFather's part: make and manage bots) and pressing a bot's inline buttons.

The bots themselves speak the Telegram Bot API (transports/botapi), not these methods.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from kurir.api.accounts import Empty
from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.types import Id, User

Text = Annotated[str, msgspec.Meta(max_length=512)]


class Create(msgspec.Struct):
    username: Annotated[str, msgspec.Meta(max_length=64)]
    display_name: Annotated[str, msgspec.Meta(max_length=128)]


class Created(msgspec.Struct):
    bot: User
    token: str


class BotOnly(msgspec.Struct):
    bot_id: Id


class Token(msgspec.Struct):
    token: str


class Edit(msgspec.Struct):
    bot_id: Id
    privacy: bool | None = None
    display_name: Annotated[str, msgspec.Meta(max_length=128)] | None = None
    description: Text | None = None
    short_description: Annotated[str, msgspec.Meta(max_length=120)] | None = None


class SetPrivacy(msgspec.Struct):
    bot_id: Id
    enabled: bool


class Command(msgspec.Struct):
    command: str
    description: str


class SetCommands(msgspec.Struct):
    bot_id: Id
    commands: Annotated[list[Command], msgspec.Meta(max_length=100)]
    language_code: Annotated[str, msgspec.Meta(max_length=8)] = ""


class MyBot(msgspec.Struct, omit_defaults=True):
    bot: User
    privacy: bool
    description: str
    short_description: str


class BotInfo(msgspec.Struct, omit_defaults=True):
    bot: User
    description: str
    short_description: str
    commands: list[Command]


class Press(msgspec.Struct):
    chat_id: Id
    message_id: Id
    data: Annotated[str, msgspec.Meta(max_length=64)]


class CallbackAnswer(msgspec.Struct, omit_defaults=True):
    alert: bool
    message: str | None = None
    url: str | None = None


def methods(s: Services) -> list[Method]:
    b = s.bots

    async def create(c, p: Create) -> Any:  # type: ignore[no-untyped-def]
        return msgspec.convert(await b.create(c.user_id, p.username, p.display_name), Created,
                               from_attributes=True)

    async def set_commands(c, p: SetCommands) -> bool:  # type: ignore[no-untyped-def]
        await b.get_owned(c.user_id, p.bot_id)
        return await b.set_commands(p.bot_id, "default", p.language_code,
                                    [msgspec.to_builtins(x) for x in p.commands])

    return [
        Method("bots.create", Create, Created, create,
               "Make a bot (its username ends in 'bot'); the token works at /bot<token>/."),
        Method("bots.revokeToken", BotOnly, Token,
               lambda c, p: b.revoke_token(c.user_id, p.bot_id),
               "A new token for one's bot; the old one stops working at once."),
        Method("bots.getMine", Empty, list[MyBot], lambda c, p: b.mine(c.user_id),
               "The bots one owns."),
        Method("bots.edit", Edit, bool,
               lambda c, p: b.edit(c.user_id, p.bot_id, privacy=p.privacy,
                                   display_name=p.display_name, description=p.description,
                                   short_description=p.short_description),
               "Change one's bot: privacy mode in groups, name, descriptions."),
        Method("bots.setPrivacy", SetPrivacy, bool,
               lambda c, p: b.edit(c.user_id, p.bot_id, privacy=p.enabled),
               "Privacy mode: in groups the bot gets only commands, replies and mentions."),
        Method("bots.setCommands", SetCommands, bool, set_commands,
               "Set one's bot's command menu (as its setMyCommands)."),
        Method("bots.getInfo", BotOnly, BotInfo, lambda c, p: b.info(p.bot_id),
               "A bot's profile, descriptions and commands (its menu), for anyone."),
        Method("messages.getBotCallbackAnswer", Press, CallbackAnswer,
               lambda c, p: b.press(c.user_id, p.chat_id, p.message_id, p.data),
               "Press an inline button of a bot's message; the bot's answer is the result."),
    ]
