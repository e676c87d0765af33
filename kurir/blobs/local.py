"""Blobs in a local directory: `uploads/<upload id>/<part>` while uploading, then
`blobs/<aa>/<sha256>`. Writes go to a temporary name and are renamed into place (fsynced
first), so a crash never leaves half a part or half a blob under its real name."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator

from kurir.domain import errors

CHUNK = 1 << 20


class LocalBlobs:
    def __init__(self, root: str) -> None:
        self.root = root
        self._uploads = os.path.join(root, "uploads")
        self._blobs = os.path.join(root, "blobs")
        os.makedirs(self._uploads, exist_ok=True)
        os.makedirs(self._blobs, exist_ok=True)

    def _part_path(self, upload_id: str, part: int) -> str:
        return os.path.join(self._uploads, upload_id, str(part))

    async def write_part(self, upload_id: str, part: int, chunks: AsyncIterator[bytes],
                         size: int) -> int:
        folder = os.path.join(self._uploads, upload_id)
        await asyncio.to_thread(os.makedirs, folder, exist_ok=True)
        fd, tmp = await asyncio.to_thread(tempfile.mkstemp, dir=folder, prefix=".part-")
        got = 0
        try:
            with os.fdopen(fd, "wb") as f:
                async for chunk in chunks:
                    got += len(chunk)
                    if got > size:
                        raise errors.FILE_PART_INVALID(f"part {part} has {size} bytes, not more")
                    await asyncio.to_thread(f.write, chunk)
                await asyncio.to_thread(_flush, f)
            if got != size:  # checked before it replaces a good copy stored earlier
                raise errors.FILE_PART_INVALID(f"part {part} has {size} bytes, not {got}")
            await asyncio.to_thread(os.replace, tmp, self._part_path(upload_id, part))
        except BaseException:
            await asyncio.to_thread(_unlink, tmp)
            raise
        return got

    async def assemble(self, upload_id: str, parts: int) -> tuple[str, int]:
        return await asyncio.to_thread(self._assemble, upload_id, parts)

    def _assemble(self, upload_id: str, parts: int) -> tuple[str, int]:
        digest = hashlib.sha256()
        size = 0
        fd, tmp = tempfile.mkstemp(dir=self._blobs, prefix=".blob-")
        try:
            with os.fdopen(fd, "wb") as out:
                for part in range(parts):
                    with open(self._part_path(upload_id, part), "rb") as f:
                        while chunk := f.read(CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
                _flush(out)
            sha = digest.hexdigest()
            final = self._blob_path(sha)
            os.makedirs(os.path.dirname(final), exist_ok=True)
            if os.path.exists(final):
                os.unlink(tmp)  # the same content is stored already: keep one copy
            else:
                os.replace(tmp, final)
            return sha, size
        except BaseException:
            _unlink(tmp)
            raise

    def _blob_path(self, sha: str) -> str:
        return os.path.join(self._blobs, sha[:2], sha)

    async def drop_upload(self, upload_id: str) -> None:
        await asyncio.to_thread(shutil.rmtree, os.path.join(self._uploads, upload_id), True)

    def path(self, sha256: str) -> str | None:
        return self._blob_path(sha256)

    def scratch(self) -> str:
        return self._blobs

    def adopt(self, path: str, sha256: str) -> None:
        final = self._blob_path(sha256)
        os.makedirs(os.path.dirname(final), exist_ok=True)
        if os.path.exists(final):
            os.unlink(path)
        else:
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            os.replace(path, final)


def _flush(f: object) -> None:
    f.flush()  # type: ignore[attr-defined]
    os.fsync(f.fileno())  # type: ignore[attr-defined]


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
