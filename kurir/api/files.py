"""upload.* and messages.sendMedia (the bytes themselves move on transports/files.py)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from kurir.api.context import Services
from kurir.api.registry import Method
from kurir.domain.types import Id, Message, MessageEntity, RandomId
from kurir.services.media import Attributes

UploadId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
FileId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Start(msgspec.Struct):
    name: Annotated[str, msgspec.Meta(max_length=1024)]
    size: Annotated[int, msgspec.Meta(ge=1, le=2**53)]
    mime_type: Annotated[str, msgspec.Meta(max_length=255)] = ""


class Started(msgspec.Struct):
    upload_id: str
    part_size: int


class UploadOnly(msgspec.Struct):
    upload_id: UploadId


class Status(msgspec.Struct):
    parts: list[int]
    part_size: int
    size: int
    finished: bool


class Finished(msgspec.Struct):
    file_id: str
    size: int
    sha256: str


class SendMedia(msgspec.Struct):
    file_id: FileId
    kind: Literal["photo", "document", "video", "audio", "voice"]
    random_id: RandomId
    chat_id: Id | None = None
    user_id: Id | None = None
    caption: str = ""
    entities: Annotated[list[MessageEntity], msgspec.Meta(max_length=1000)] | None = None
    reply_to: Id | None = None
    topic_id: Id | None = None
    # what the client measured: a video's size, a clip's length, a voice note's waveform
    duration: Annotated[int, msgspec.Meta(ge=0, le=86400 * 7)] | None = None
    width: Annotated[int, msgspec.Meta(ge=1, le=20000)] | None = None
    height: Annotated[int, msgspec.Meta(ge=1, le=20000)] | None = None
    waveform: Annotated[list[Annotated[int, msgspec.Meta(ge=0, le=31)]],
                        msgspec.Meta(max_length=100)] | None = None


class AlbumItem(msgspec.Struct):
    file_id: FileId
    kind: Literal["photo", "video", "document", "audio"]
    random_id: RandomId
    caption: str = ""
    entities: Annotated[list[MessageEntity], msgspec.Meta(max_length=1000)] | None = None


class SendAlbum(msgspec.Struct):
    items: Annotated[list[AlbumItem], msgspec.Meta(min_length=1, max_length=10)]
    chat_id: Id | None = None
    user_id: Id | None = None
    reply_to: Id | None = None
    topic_id: Id | None = None


def methods(s: Services) -> list[Method]:
    f = s.files

    async def start(c, p: Start) -> Started:  # type: ignore[no-untyped-def]
        return msgspec.convert(await f.start(c.user_id, p.name, p.mime_type, p.size), Started)

    async def status(c, p: UploadOnly) -> Status:  # type: ignore[no-untyped-def]
        return msgspec.convert(await f.status(c.user_id, p.upload_id), Status)

    async def finish(c, p: UploadOnly) -> Finished:  # type: ignore[no-untyped-def]
        return msgspec.convert(await f.finish(c.user_id, p.upload_id), Finished)

    return [
        Method("upload.start", Start, Started, start,
               "Declare an upload; then PUT /api/v1/upload/<upload_id>/<part> each part."),
        Method("upload.status", UploadOnly, Status, status,
               "The parts stored so far, to resume an interrupted upload."),
        Method("upload.cancel", UploadOnly, bool,
               lambda c, p: f.cancel(c.user_id, p.upload_id),
               "Give up an unfinished upload (its size stops counting against the quota)."),
        Method("upload.finish", UploadOnly, Finished, finish,
               "Assemble the parts into a file (FILE_PARTS_INVALID while one is missing)."),
        Method("messages.sendMedia", SendMedia, Message,
               lambda c, p: s.media.send(
                   c.user_id, p.chat_id, p.user_id, p.file_id, p.kind, p.caption, p.random_id,
                   p.entities, p.reply_to, p.topic_id,
                   Attributes(p.duration, p.width, p.height, p.waveform)),
               "Send a file as a photo, document, video, audio or voice message."),
        Method("messages.sendAlbum", SendAlbum, list[Message],
               lambda c, p: s.media.send_album(
                   c.user_id, p.chat_id, p.user_id,
                   [(i.file_id, i.kind, i.caption, i.entities, i.random_id) for i in p.items],
                   p.reply_to, p.topic_id),
               "Send 2-10 photos, videos, documents or audio files as one album."),
    ]
