"""File transfer for the SDK: uploads in parallel parts that resume, and downloads that resume
with `Range`, both reporting progress.

    result = await client.upload("video.mp4", progress=lambda done, total: ...)
    size = await client.download(result["file_id"], "copy.mp4")

Uploads (contract: `upload.start`, `PUT /api/v1/upload/<id>/<part>`, `upload.status`,
`upload.finish`):
 - the file is read in order, one `part_size` piece at a time, and hashed as it is read; at most
   `parallel` parts are being PUT at once, so at most about twice `parallel` parts are in memory;
 - a part whose PUT fails for a reason that may pass (the connection, a 5xx, FLOOD_WAIT) is
   sent again, a bounded number of times with a growing pause; any other failure ends it;
 - `progress(done_bytes, total_bytes)` is called once the plan is known and after each part
   stored: `done_bytes` never goes down and ends at `total_bytes`;
 - the sha256 the server reports for the assembled file must be the one computed here.

Resuming: give `resume=` an `UploadState` (it is filled in as the upload goes, so after a
cancellation or a crash it still names the upload), its `to_dict()` (JSON, for saving to disk),
or a bare upload_id. The server is asked which parts it has (`upload.status`), and only the
others are sent. A failure of the server or the connection is raised as `UploadInterrupted`,
a KurirError that carries the `state` to resume with.

Downloads: `GET /api/v1/files/<file_id>`, streamed to the destination. A destination file that
already holds the first N bytes (an earlier download that was cut) is completed with
`Range: bytes=N-`; a connection cut in the middle is resumed the same way, a bounded number of
times. A file's content never changes, so the bytes already there are the file's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import inspect
import math
import os
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import IO, TYPE_CHECKING, Any, Final

import httpx
import msgspec

from kurir.client.errors import KurirError, connection_lost

if TYPE_CHECKING:
    from kurir.client.sdk import Client

Progress = Callable[[int, int], "Awaitable[object] | object"]
Source = str | os.PathLike[str] | IO[bytes]

RETRIES: Final = 5
_BACKOFF_FIRST: Final = 0.1
_BACKOFF_MAX: Final = 2.0
_CHUNK: Final = 256 * 1024
_CONTENT_RANGE: Final = re.compile(r"bytes\s+(?:(\d+)-(\d+)|\*)/(\d+)")


@dataclass
class UploadState:
    """Where an upload stands: enough to resume it. Pass an empty one to `upload(resume=…)`
    to have it filled in as the upload goes; `to_dict()`/`from_dict()` save and restore it."""

    upload_id: str | None = None
    part_size: int | None = None
    size: int | None = None
    name: str | None = None
    mime_type: str | None = None
    # The finish result, once the upload is done (a resume then just returns it).
    result: dict[str, Any] | None = None
    # The parts the server confirmed storing during this process (informative: the server's
    # `upload.status` decides what a resume sends).
    parts_done: set[int] = field(default_factory=set)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["parts_done"] = sorted(self.parts_done)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> UploadState:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["parts_done"] = set(values.get("parts_done") or ())
        return cls(**values)


class UploadInterrupted(KurirError):
    """An upload that failed part-way: `state` resumes it (`upload(..., resume=exc.state)`);
    `code`, `type` and `message` are those of the failure that stopped it."""

    def __init__(self, cause: KurirError, state: UploadState) -> None:
        super().__init__(cause.code, cause.type, cause.message, cause.retry_after)
        self.state = state

    def __reduce__(self) -> tuple[Any, ...]:
        cause = KurirError(self.code, self.type, self.message, self.retry_after)
        return (type(self), (cause, self.state))


def transient(exc: KurirError) -> bool:
    """A failure that trying again may cure: the connection, the server, flooding."""
    return exc.code in (0, 408, 429, 499) or exc.code >= 500 or exc.type == "FLOOD_WAIT"


def _pause(attempt: int, exc: KurirError | None = None) -> float:
    if exc is not None and exc.retry_after is not None:
        return min(max(float(exc.retry_after), 0.0), 30.0)
    base: float = min(_BACKOFF_FIRST * 2.0**attempt, _BACKOFF_MAX)
    return base * random.uniform(0.75, 1.0)


async def _report(progress: Progress | None, done: int, total: int) -> None:
    if progress is None:
        return
    outcome = progress(done, total)
    if inspect.isawaitable(outcome):
        await outcome


def _error_of(response: httpx.Response) -> KurirError:
    status = response.status_code
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return KurirError(status, f"HTTP_{status}", response.text[:200])
    error = body.get("error") if isinstance(body, dict) else None
    return KurirError.from_wire(error, status)


class _Opened:
    """A source opened for reading: its size, and where it starts."""

    def __init__(self, source: Source) -> None:
        self.owned = isinstance(source, str | os.PathLike)
        if isinstance(source, str | os.PathLike):
            self.file: IO[bytes] = open(source, "rb")  # noqa: SIM115 (closed by close())
            self.name = os.path.basename(os.fspath(source))
        else:
            self.file = source
            self.name = os.path.basename(str(getattr(source, "name", "") or "")) or "file"
        try:
            self.start = self.file.tell()
            self.size = self.file.seek(0, os.SEEK_END) - self.start
            self.file.seek(self.start)
        except BaseException:
            self.close()
            raise

    def read_part(self, index: int, part_size: int) -> bytes:
        self.file.seek(self.start + index * part_size)
        want = min(part_size, self.size - index * part_size)
        data = self.file.read(want)
        if len(data) != want:
            raise OSError(f"the file shrank while it was being uploaded (part {index})")
        return data

    def close(self) -> None:
        if self.owned:
            self.file.close()


async def upload(
    client: Client,
    source: Source,
    *,
    name: str | None = None,
    mime_type: str | None = None,
    progress: Progress | None = None,
    parallel: int = 4,
    resume: UploadState | dict[str, Any] | str | None = None,
    retries: int = RETRIES,
) -> dict[str, Any]:
    """See `Client.upload`."""
    if parallel < 1:
        raise ValueError("parallel must be at least 1")
    if isinstance(resume, UploadState):
        state = resume
    elif isinstance(resume, dict):
        state = UploadState.from_dict(resume)
    elif isinstance(resume, str):
        state = UploadState(upload_id=resume)
    elif resume is None:
        state = UploadState()
    else:
        raise TypeError("resume is an UploadState, its to_dict(), or an upload_id")
    opened = await asyncio.to_thread(_Opened, source)
    try:
        if state.result is not None and state.size == opened.size:
            await _report(progress, opened.size, opened.size)
            return dict(state.result)
        try:
            return await _upload(client, opened, state, name, mime_type, progress, parallel,
                                 retries)
        except UploadInterrupted:
            raise
        except KurirError as exc:
            if state.upload_id is None:
                raise  # nothing to resume: refused at upload.start
            raise UploadInterrupted(exc, state) from exc
    finally:
        await asyncio.to_thread(opened.close)


async def _upload(
    client: Client,
    opened: _Opened,
    state: UploadState,
    name: str | None,
    mime_type: str | None,
    progress: Progress | None,
    parallel: int,
    retries: int,
) -> dict[str, Any]:
    total = opened.size
    resuming = state.upload_id is not None
    if not resuming:
        params: dict[str, Any] = {"name": name or opened.name, "size": total}
        if mime_type:
            params["mime_type"] = mime_type
        started = await client.call("upload.start", **params)
        state.upload_id = str(started["upload_id"])
        state.part_size = int(started["part_size"])
        state.size = total
        state.name = params["name"]
        state.mime_type = mime_type
        state.parts_done = set()
        have: set[int] = set()
    else:
        if state.size is not None and state.size != total:
            raise ValueError(
                f"upload {state.upload_id} is of {state.size} bytes, this file has {total}")
        state.size = total
        status = await _retrying(retries, lambda: client.call(
            "upload.status", upload_id=state.upload_id))
        # the server says how it cut the file, so a bare upload_id is enough to resume
        state.part_size = int(status["part_size"])
        if int(status["size"]) != total:
            raise ValueError(f"upload {state.upload_id} is of {status['size']} bytes, "
                             f"this file has {total}")
        have = {int(p) for p in status.get("parts") or []}
    part_size = state.part_size
    assert part_size is not None and state.upload_id is not None
    count = max(1, math.ceil(total / part_size))
    if any(p >= count or p < 0 for p in have):
        raise ValueError(f"upload {state.upload_id} has parts this file does not: not the "
                         "same file, or another part size")

    def length(index: int) -> int:
        return min(part_size, total - index * part_size)

    done = sum(length(p) for p in have)
    await _report(progress, done, total)

    digest = hashlib.sha256()
    queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(maxsize=parallel)
    url = f"/api/v1/upload/{state.upload_id}/"
    http = client.http

    async def produce() -> None:
        for index in range(count):
            data = await asyncio.to_thread(opened.read_part, index, part_size)
            digest.update(data)
            if index not in have:
                await queue.put((index, data))
        for _ in range(parallel):
            await queue.put(None)

    async def send() -> None:
        nonlocal done
        while (item := await queue.get()) is not None:
            index, data = item
            await _retrying(retries, partial(_put, http, client, url + str(index), data))
            state.parts_done.add(index)
            done += len(data)
            await _report(progress, done, total)

    await _run_all([produce(), *(send() for _ in range(parallel))])
    result: dict[str, Any] = await _retrying(retries, lambda: client.call(
        "upload.finish", upload_id=state.upload_id))
    local = digest.hexdigest()
    if result.get("sha256") != local or int(result.get("size", -1)) != total:
        raise KurirError(0, "FILE_HASH_MISMATCH",
                         f"the server stored {result.get('size')} bytes of sha256 "
                         f"{result.get('sha256')}; the file here has {total} bytes of {local}")
    state.result = dict(result)
    return result


async def _put(http: httpx.AsyncClient, client: Client, url: str, data: bytes) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    if client.token:
        headers["Authorization"] = f"Bearer {client.token}"
    try:
        response = await http.put(url, content=data, headers=headers)
    except httpx.TransportError as exc:  # timeouts included
        raise connection_lost(f"PUT {url}: {exc!r}") from exc
    if not response.is_success:
        raise _error_of(response)


async def _retrying(retries: int, attempt: Callable[[], Awaitable[Any]]) -> Any:
    """Run `attempt`, again after a pause while it fails transiently, at most `retries` more
    times."""
    tries = 0
    while True:
        try:
            return await attempt()
        except KurirError as exc:
            if tries >= retries or not transient(exc):
                raise
            await asyncio.sleep(_pause(tries, exc))
            tries += 1


async def _run_all(coroutines: list[Any]) -> None:
    """Run the coroutines together; the first failure (or a cancellation) stops the others and
    is raised as it is."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        pending: set[asyncio.Future[Any]] = set(tasks)
        while pending:
            finished, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
            for task in finished:
                if not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# downloads ---------------------------------------------------------------------------------
async def download(
    client: Client,
    file_id: str,
    dest: str | os.PathLike[str] | IO[bytes],
    *,
    progress: Progress | None = None,
    retries: int = RETRIES,
) -> int:
    """See `Client.download`."""
    if isinstance(dest, str | os.PathLike):
        path = os.fspath(dest)
        mode = "r+b" if os.path.exists(path) else "wb"
        out: IO[bytes] = await asyncio.to_thread(open, path, mode)
        owned = True
        base = 0
        offset = await asyncio.to_thread(out.seek, 0, os.SEEK_END)
    else:
        out, owned = dest, False
        base = out.tell() if out.seekable() else 0
        offset = 0
    try:
        return await _download(client, file_id, out, base, offset, progress, retries)
    finally:
        if owned:
            await asyncio.to_thread(out.close)


async def _download(
    client: Client,
    file_id: str,
    out: IO[bytes],
    base: int,
    offset: int,
    progress: Progress | None,
    retries: int,
) -> int:
    http = client.http
    url = f"/api/v1/files/{file_id}"
    tries = 0
    total: int | None = None
    reported = -1

    def restart() -> None:
        nonlocal offset
        if not out.seekable():
            raise KurirError(0, "DOWNLOAD_RESTART",
                             "the server sent the file from its start again, and the "
                             "destination cannot be rewound")
        out.seek(base)
        out.truncate()
        offset = 0

    while True:
        headers = {"Authorization": f"Bearer {client.token}"} if client.token else {}
        if offset > 0:
            headers["Range"] = f"bytes={offset}-"
        try:
            async with http.stream("GET", url, headers=headers) as response:
                if response.status_code == 416:
                    size = _range_total(response.headers.get("content-range"))
                    if size is not None and size == offset:
                        total = size  # the destination holds the whole file already
                    elif offset > 0 and tries == 0:
                        restart()  # more bytes than the file has: not a part of it
                        tries += 1
                        continue
                    else:
                        raise KurirError(416, "HTTP_416", "the server refused the range")
                elif response.status_code == 206:
                    start, size = _partial(response.headers.get("content-range"))
                    if start != offset:
                        raise KurirError(0, "DOWNLOAD_RANGE",
                                         f"asked from byte {offset}, sent from {start}")
                    total = size
                elif response.status_code == 200:
                    if offset > 0:
                        restart()
                    length = response.headers.get("content-length")
                    total = int(length) if length is not None else None
                else:
                    await response.aread()
                    raise _error_of(response)
                if total is None or offset < total:
                    if reported != offset:
                        await _report(progress, offset, total if total is not None else -1)
                        reported = offset
                    async for chunk in response.aiter_bytes(_CHUNK):
                        out.write(chunk)
                        offset += len(chunk)
                        await _report(progress, offset, total if total is not None else -1)
                        reported = offset
            if total is None:
                total = offset
            if offset >= total:
                break
            raise connection_lost(f"GET {url}: the body ended at byte {offset} of {total}")
        except httpx.TransportError as exc:
            error: KurirError = connection_lost(f"GET {url}: {exc!r}")
        except KurirError as exc:
            error = exc
        if tries >= retries or not transient(error):
            raise error
        await asyncio.sleep(_pause(tries, error))
        tries += 1
    if reported != offset:
        await _report(progress, offset, total)
    with contextlib.suppress(OSError, ValueError):
        out.flush()
    return total


def _range_total(header: str | None) -> int | None:
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    return int(match.group(3)) if match else None


def _partial(header: str | None) -> tuple[int, int]:
    match = _CONTENT_RANGE.fullmatch((header or "").strip())
    if match is None or match.group(1) is None:
        raise KurirError(0, "DOWNLOAD_RANGE", f"a partial answer with Content-Range {header!r}")
    return int(match.group(1)), int(match.group(3))
