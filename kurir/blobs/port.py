"""The BlobStore port: parts in, one blob out, bytes streamed both ways."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class BlobStore(Protocol):
    async def write_part(self, upload_id: str, part: int, chunks: AsyncIterator[bytes],
                         size: int) -> int:
        """Store one part of exactly `size` bytes from a stream of chunks (FILE_PART_INVALID
        otherwise, and nothing stored). A part written again replaces the earlier one whole."""
        ...

    async def assemble(self, upload_id: str, parts: int) -> tuple[str, int]:
        """Join the parts into a blob named by its SHA-256; return (sha256, size). Content
        already stored is not stored twice."""
        ...

    async def drop_upload(self, upload_id: str) -> None: ...

    def scratch(self) -> str:
        """A local folder for files being made (photos re-encoded), on the store's disk."""
        ...

    def adopt(self, path: str, sha256: str) -> None:
        """Move a finished local file into the store as the blob `sha256` (blocking)."""
        ...

    def path(self, sha256: str) -> str | None:
        """A local path to read the blob from (None when the store has no local files)."""
        ...
