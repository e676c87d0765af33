"""Media messages: a file sent as a photo, document, video, audio or voice message, alone or
in an album of up to ten.

What a media message says of its file comes from the file (size, name, type; a photo's
dimensions and thumbnails, made when it became a photo), from what the client measured
(a video's dimensions and duration: the server decodes no video), and, where it is cheap,
from the server itself: the duration and waveform of a WAV voice or audio file.
"""

from __future__ import annotations

import asyncio
import secrets
import wave
from dataclasses import dataclass

import msgspec

from kurir.domain import entities as entity_rules
from kurir.domain import errors, rules
from kurir.domain.types import Message, MessageEntity
from kurir.services.files import Files
from kurir.services.messaging import Messaging
from kurir.storage import files as file_rows
from kurir.storage.port import Database, Tx

ALBUM_MAX = 10
ALBUM_KINDS = ("photo", "video", "document", "audio")
WAVEFORM_POINTS = 100  # as Telegram: 100 samples of 5 bits
WAV_TYPES = ("audio/wav", "audio/x-wav", "audio/wave", "audio/vnd.wave")


@dataclass
class Attributes:
    """What the client says of the media (kept only where it fits the kind)."""

    duration: int | None = None
    width: int | None = None
    height: int | None = None
    waveform: list[int] | None = None


def wav_facts(path: str) -> tuple[int, list[int]] | None:
    """(seconds, waveform) of a PCM WAV file, reading it in pieces; None when it is none."""
    try:
        with wave.open(path, "rb") as w:
            # interleaved channels count alike for a peak
            width, frames = w.getsampwidth(), w.getnframes()
            rate = w.getframerate()
            if width not in (1, 2) or frames == 0 or rate == 0:
                return None
            per_point = max(1, frames // WAVEFORM_POINTS)
            peaks: list[int] = []
            while len(peaks) < WAVEFORM_POINTS:
                data = w.readframes(per_point)
                if not data:
                    break
                if width == 2:
                    samples = memoryview(data).cast("h")
                    peak = max((abs(v) for v in samples), default=0) / 32768
                else:
                    peak = max((abs(v - 128) for v in data), default=0) / 128
                peaks.append(min(31, int(peak * 31 + 0.5)))
            return round(frames / rate), peaks
    except (wave.Error, EOFError, OSError):
        return None


class Media:
    def __init__(self, db: Database, messaging: Messaging, files: Files) -> None:
        self._db = db
        self._messaging = messaging
        self._files = files

    async def _describe(self, caller: int, file_id: str, kind: str,
                        attrs: Attributes) -> dict[str, object]:
        """The media of a message carrying `file_id` (rule 6 of services/files.py)."""
        if kind == "photo":
            file_id = await self._files.photo(caller, file_id)

        def txn(tx: Tx) -> tuple[dict[str, object], str] | None:
            row = file_rows.file(tx, file_id)
            if row is None or not (int(row[1]) == caller or
                                   file_rows.visible_to(tx, file_id, caller)):
                return None
            media: dict[str, object] = {"kind": kind, "file_id": row[0], "size": int(row[3]),
                                        "name": row[4], "mime_type": row[5]}
            if row[7]:
                media.update(msgspec.json.decode(row[7]))
            return media, str(row[2])

        found = await self._db.read(txn)
        if found is None:
            raise errors.FILE_ID_INVALID("no such file")
        media, sha = found
        if kind == "photo":
            return media
        if kind in ("video", "audio", "voice") and attrs.duration is not None:
            media["duration"] = attrs.duration
        if kind == "video" and attrs.width and attrs.height:
            media["width"], media["height"] = attrs.width, attrs.height
        if kind == "voice" and attrs.waveform is not None:
            media["waveform"] = attrs.waveform
        if kind in ("audio", "voice") and media["mime_type"] in WAV_TYPES:
            path = self._files.local_path(sha)
            facts = await asyncio.to_thread(wav_facts, path) if path else None
            if facts is not None:
                media["duration"] = facts[0]
                if kind == "voice":
                    media["waveform"] = facts[1]
        return media

    async def send(self, caller: int, chat_id: int | None, user_id: int | None, file_id: str,
                   kind: str, caption: str, random_id: int,
                   entities: list[MessageEntity] | None = None, reply_to: int | None = None,
                   topic_id: int | None = None, attrs: Attributes | None = None,
                   reply_markup: dict[str, object] | None = None) -> Message:
        rules.check_caption(caption)
        media = await self._describe(caller, file_id, kind, attrs or Attributes())
        return await self._messaging.send(caller, chat_id, user_id, caption, random_id,
                                          reply_to, entities, media=media,
                                          reply_markup=reply_markup, topic_id=topic_id)

    async def send_album(
        self, caller: int, chat_id: int | None, user_id: int | None,
        items: list[tuple[str, str, str, list[MessageEntity] | None, int]],
        reply_to: int | None = None, topic_id: int | None = None,
    ) -> list[Message]:
        """Items are (file_id, kind, caption, entities, random_id); 2-10 of them, posted in
        one transaction, their media sharing one `album_id` (Telegram's grouped_id)."""
        if not 2 <= len(items) <= ALBUM_MAX:
            raise errors.MEDIA_INVALID(f"an album has 2-{ALBUM_MAX} items")
        if any(kind not in ALBUM_KINDS for _, kind, *_ in items):
            raise errors.MEDIA_INVALID(f"an album holds {', '.join(ALBUM_KINDS)}")
        album_id = secrets.randbits(62) + 1
        posts: list[tuple[str, list[MessageEntity], dict[str, object] | None, int]] = []
        for file_id, kind, caption, entities, random_id in items:
            rules.check_caption(caption)
            media = await self._describe(caller, file_id, kind, Attributes())
            media["album_id"] = album_id
            posts.append((caption, entity_rules.check_entities(caption, entities), media,
                          random_id))
        return await self._messaging.send_many(caller, chat_id, user_id, posts, reply_to,
                                               None, topic_id)
