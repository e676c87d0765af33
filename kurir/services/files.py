"""Files: resumable uploads in parts, content stored once, per-owner quotas, downloads for
whoever may see a message that carries the file.

Rules:
 1. An upload is declared first (name, type, size); its parts are `part_size` bytes each but
    the last, numbered from 0, sent in any order, in parallel, again if need be.
 2. Only the uploader touches an upload; a finished upload answers with its file again.
 3. Size and quota are checked when the upload is declared and again when it finishes; the
    declared size of unfinished uploads counts against the quota meanwhile.
 4. Identical content is stored once, but each owner's file counts against their quota.
 5. A file may be downloaded by its owner, and by whoever may see a message carrying it;
    anyone else is told it does not exist.
 6. A file may be sent by its owner, or by whoever may download it (a forward by file_id).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import mimetypes
import os
import re
import secrets
import time
from collections.abc import AsyncIterator

import msgspec

from kurir.blobs.port import BlobStore
from kurir.domain import errors
from kurir.services.photos import render
from kurir.storage import files
from kurir.storage.port import Database, Row, Tx

MIN_PART = 512 * 1024
# Big files get bigger parts: each part is a request with a fixed cost (lookups, a file, an
# fsync), which at 512 KiB halved the upload rate (bench/files.py); at most ~256 parts keeps
# a resent part small next to the file.
TARGET_PARTS = 256
PART_ALIGN = 64 * 1024
_MIME = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")


def part_size_for(size: int) -> int:
    """The smallest aligned part size ≥ 512 KiB that keeps the part count ≤ TARGET_PARTS."""
    need = max(MIN_PART, math.ceil(size / TARGET_PARTS))
    return math.ceil(need / PART_ALIGN) * PART_ALIGN


def parts_for(size: int, part_size: int) -> int:
    return max(1, math.ceil(size / part_size))


class Upload:
    """An uploads row."""

    def __init__(self, row: Row) -> None:
        (self.id, self.user_id, self.name, self.mime_type, self.size, self.part_size,
         self.parts, self.created, self.file_id) = row

    def expected(self, part: int) -> int:
        if part == self.parts - 1:
            return int(self.size - self.part_size * (self.parts - 1))
        return int(self.part_size)


def clean_name(name: str) -> str:
    name = name.strip().replace("/", "_").replace("\\", "_")
    if not name or len(name) > 255 or any(ord(c) < 32 for c in name):
        raise errors.BAD_REQUEST("a file name has 1-255 characters")
    return name


def clean_mime(mime_type: str, name: str) -> str:
    mime = (mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream").lower()
    if not _MIME.fullmatch(mime):
        raise errors.BAD_REQUEST("mime_type is not a media type")
    return mime


class Files:
    def __init__(self, db: Database, blobs: BlobStore, max_size: int, quota: int) -> None:
        self._db = db
        self._blobs = blobs
        self.max_size = max_size
        self.quota = quota

    def _check_quota(self, tx: Tx, user_id: int, more: int) -> None:
        if files.used(tx, user_id) + more > self.quota:
            raise errors.QUOTA_EXCEEDED("your storage quota is used up")

    async def start(self, caller: int, name: str, mime_type: str, size: int) -> dict[str, object]:
        name = clean_name(name)
        mime = clean_mime(mime_type, name)
        if size > self.max_size:
            raise errors.FILE_TOO_BIG(f"a file has at most {self.max_size} bytes")
        part_size = part_size_for(size)
        upload_id = secrets.token_urlsafe(16)
        now = int(time.time())

        def txn(tx: Tx) -> None:
            files.lock_owner(tx, caller)  # concurrent starts check the quota one by one
            self._check_quota(tx, caller, size)
            files.create_upload(tx, upload_id, caller, name, mime, size, part_size,
                                parts_for(size, part_size), now)

        await self._db.write(txn)
        return {"upload_id": upload_id, "part_size": part_size}

    async def _own_upload(self, caller: int, upload_id: str) -> Upload:
        row = await self._db.read(files.upload, upload_id)
        if row is None or int(row[1]) != caller:
            raise errors.FILE_PARTS_INVALID("no such upload")
        return Upload(row)

    async def put_part(self, caller: int, upload_id: str, part: int,
                       chunks: AsyncIterator[bytes]) -> int:
        up = await self._own_upload(caller, upload_id)
        if up.file_id is not None:
            raise errors.FILE_PART_INVALID("this upload is finished")
        if not 0 <= part < up.parts:
            raise errors.FILE_PART_INVALID(f"parts are numbered 0-{up.parts - 1}")
        got = await self._blobs.write_part(upload_id, part, chunks, up.expected(part))
        await self._db.write(files.put_part, upload_id, part, got)
        return part

    async def status(self, caller: int, upload_id: str) -> dict[str, object]:
        """What is stored, and the upload's shape, so a client resumes from the id alone."""
        up = await self._own_upload(caller, upload_id)
        stored = (list(range(int(up.parts))) if up.file_id is not None
                  else await self._db.read(files.parts, upload_id))
        return {"parts": stored, "part_size": int(up.part_size), "size": int(up.size),
                "finished": up.file_id is not None}

    async def cancel(self, caller: int, upload_id: str) -> bool:
        """Give up an unfinished upload: its parts go, and its size no longer counts."""
        up = await self._own_upload(caller, upload_id)
        if up.file_id is not None:
            raise errors.FILE_PART_INVALID("this upload is finished")
        await self._db.write(files.drop_upload, upload_id)
        await self._blobs.drop_upload(upload_id)
        return True

    async def sweep(self, older_than: int) -> int:
        """Drop unfinished uploads declared more than `older_than` seconds ago."""
        stale = await self._db.write(files.stale_uploads, int(time.time()) - older_than)
        for upload_id in stale:
            await self._blobs.drop_upload(upload_id)
        return len(stale)

    async def finish(self, caller: int, upload_id: str) -> dict[str, object]:
        up = await self._own_upload(caller, upload_id)
        if up.file_id is not None:  # rule 2: finishing again answers the same
            return await self.describe(up.file_id)
        have = await self._db.read(files.parts, upload_id)
        missing = sorted(set(range(up.parts)) - set(have))
        try:
            if missing:
                raise FileNotFoundError
            sha, size = await self._blobs.assemble(upload_id, int(up.parts))
        except FileNotFoundError:
            # a concurrent finish may have taken the parts: then answer with what it made
            again = await self._own_upload(caller, upload_id)
            if again.file_id is not None:
                return await self.describe(again.file_id)
            if missing:
                raise errors.FILE_PARTS_INVALID(
                    f"{len(missing)} parts are missing, the first is {missing[0]}") from None
            raise errors.FILE_PARTS_INVALID("a part went missing; send it again") from None
        if size != up.size:
            raise errors.FILE_PARTS_INVALID("the parts do not add up to the declared size")
        file_id = secrets.token_urlsafe(18)
        now = int(time.time())

        def txn(tx: Tx) -> str:
            # claiming the upload is the one statement that decides which finish made it
            if not files.claim_upload(tx, upload_id, file_id):
                row = files.upload(tx, upload_id)
                assert row is not None
                return str(row[8])
            files.put_blob(tx, sha, size, now)
            files.create_file(tx, file_id, caller, sha, size, up.name, up.mime_type, now, None)
            return file_id

        done = await self._db.write(txn)
        await self._blobs.drop_upload(upload_id)
        return await self.describe(done)

    async def describe(self, file_id: str) -> dict[str, object]:
        row = await self._db.read(files.file, file_id)
        assert row is not None
        return {"file_id": row[0], "size": int(row[3]), "sha256": row[2]}

    async def readable(self, caller: int, file_id: str) -> Row:
        """Rule 5: the file's row for who may download it; FILE_ID_INVALID for anyone else."""
        def txn(tx: Tx) -> Row | None:
            row = files.file(tx, file_id)
            if row is None:
                return None
            if int(row[1]) == caller or files.visible_to(tx, file_id, caller):
                return row
            return None

        row = await self._db.read(txn)
        if row is None:
            raise errors.FILE_ID_INVALID("no such file")
        return row

    def local_path(self, sha256: str) -> str | None:
        return self._blobs.path(sha256)

    async def photo(self, caller: int, file_id: str) -> str:
        """The file as a photo: re-encoded without metadata, with thumbnails; a new file of
        the caller's (or the same, for a file that is a processed photo already)."""
        row = await self.readable(caller, file_id)
        if row[7] and b'"width"' in str(row[7]).encode():
            return str(row[0])
        made_before = await self._db.read(
            lambda tx: tx.one("SELECT file_id FROM photo_sources WHERE owner_id = ?"
                              " AND source_sha = ?", (caller, row[2])))
        if made_before is not None:  # a retried send: the same photo, not another one
            return str(made_before[0])
        source = self._blobs.path(str(row[2]))
        if source is None:
            raise errors.MEDIA_INVALID("that file cannot be read as an image here")
        photo, thumbs = await asyncio.to_thread(render, source, self._blobs.scratch())
        now = int(time.time())
        made = [photo, *(r for _, r in thumbs)]
        ids = [secrets.token_urlsafe(18) for _ in made]
        meta_thumbs = [{"type": name, "file_id": ids[i + 1], "width": r.width,
                        "height": r.height, "size": r.size}
                       for i, (name, r) in enumerate(thumbs)]
        name = os.path.splitext(str(row[4]))[0] + ".jpg"

        def txn(tx: Tx) -> str:
            files.lock_owner(tx, caller)
            found = tx.one("SELECT file_id FROM photo_sources WHERE owner_id = ?"
                           " AND source_sha = ?", (caller, row[2]))
            if found is not None:  # made meanwhile by a concurrent send
                return str(found[0])
            # the photo and its thumbnails are the caller's files: they count too
            self._check_quota(tx, caller, sum(r.size for r in made))
            tx.execute("INSERT INTO photo_sources (owner_id, source_sha, file_id)"
                       " VALUES (?, ?, ?)", (caller, row[2], ids[0]))
            for rendition, fid in zip(made, ids, strict=True):
                files.put_blob(tx, rendition.sha256, rendition.size, now)
                meta = None
                if rendition is photo:
                    meta = _json({"width": photo.width, "height": photo.height,
                                  "thumbs": meta_thumbs})
                else:
                    meta = _json({"width": rendition.width, "height": rendition.height})
                files.create_file(tx, fid, caller, rendition.sha256, rendition.size, name,
                                  "image/jpeg", now, meta)
            return ids[0]

        try:
            for rendition in made:
                await asyncio.to_thread(self._blobs.adopt, rendition.path, rendition.sha256)
        finally:
            for rendition in made:
                await asyncio.to_thread(_discard, rendition.path)
        return await self._db.write(txn)


def _json(value: object) -> str:
    return msgspec.json.encode(value).decode()


def _discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
