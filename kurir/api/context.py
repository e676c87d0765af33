"""What a method handler is given besides its params."""

from __future__ import annotations

from dataclasses import dataclass

from kurir.services.accounts import Accounts
from kurir.services.bots import Bots
from kurir.services.channels import Channels
from kurir.services.chats import Chats
from kurir.services.files import Files
from kurir.services.media import Media
from kurir.services.messaging import Messaging
from kurir.services.sync import Sync
from kurir.services.threads import Threads


@dataclass(frozen=True)
class Services:
    accounts: Accounts
    messaging: Messaging
    chats: Chats
    channels: Channels
    threads: Threads
    files: Files
    media: Media
    sync: Sync
    bots: Bots


@dataclass(frozen=True, slots=True)
class Request:
    """The transport's facts about the caller: where from, and with which client."""

    ip: str
    user_agent: str
