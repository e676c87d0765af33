"""Files and media (issue 4), on both engines, against the real server, with real files.

Uploads in parts (any order, in parallel, again), resumed after a dropped client and after a
SIGKILL, a file of a few hundred MB streamed both ways, Range downloads, who may download
(owner, members who see a message carrying the file, public channel readers; nobody else),
sendMedia (documents, photos re-encoded without EXIF with thumbnails, garbage refused,
forwards and re-sends by file_id, captions, restricted members), and the size and quota
limits with content stored once (on dedicated servers with small limits).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import random
import re
import secrets
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from PIL import Image, ImageDraw

from tests.conftest import Api, unique_name
from tests.server import ENGINES, Server

PART = 512 * 1024  # the part size the server asks for any file up to 2,000 MiB
PASSWORD = "correct horse"
GPS_IFD = 0x8825


def rid() -> int:
    return secrets.randbits(62) + 1


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes, part_size: int) -> list[bytes]:
    return [data[i:i + part_size] for i in range(0, len(data), part_size)] or [b""]


def envelope(r: httpx.Response) -> tuple[int, str]:
    """(status, error type) of a failure, checking the contract's envelope."""
    body = r.json()
    assert body["ok"] is False, body
    assert body["error"]["code"] == r.status_code, body
    assert isinstance(body["error"]["message"], str)
    return r.status_code, body["error"]["type"]


def auth(api: Api) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"}


async def register(http: httpx.AsyncClient, name: str = "User") -> Api:
    api = Api(http)
    result = await api("auth.register", username=unique_name(name.lower()), password=PASSWORD,
                       display_name=name)
    api.token, api.user = result["token"], result["user"]
    return api


async def start(api: Api, size: int, name: str = "data.bin", mime_type: str = ""
                ) -> tuple[str, int]:
    params: dict[str, Any] = {"name": name, "size": size}
    if mime_type:
        params["mime_type"] = mime_type
    res = await api("upload.start", **params)
    return res["upload_id"], res["part_size"]


async def put(api: Api, upload_id: str, part: int, body: bytes,
              token: str | None = None) -> httpx.Response:
    tok = api.token if token is None else token
    return await api.http.put(f"/api/v1/upload/{upload_id}/{part}", content=body,
                              headers={"Authorization": f"Bearer {tok}"})


async def put_ok(api: Api, upload_id: str, part: int, body: bytes) -> None:
    r = await put(api, upload_id, part, body)
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True, "result": {"part": part}}


async def status(api: Api, upload_id: str) -> list[int]:
    parts: list[int] = (await api("upload.status", upload_id=upload_id))["parts"]
    return parts


async def upload(api: Api, data: bytes, name: str = "data.bin", mime_type: str = ""
                 ) -> dict[str, Any]:
    """Start, send every part at once in a shuffled order, finish."""
    upload_id, part_size = await start(api, len(data), name, mime_type)
    parts = list(enumerate(split(data, part_size)))
    random.shuffle(parts)
    await asyncio.gather(*(put_ok(api, upload_id, n, body) for n, body in parts))
    done: dict[str, Any] = await api("upload.finish", upload_id=upload_id)
    assert (done["size"], done["sha256"]) == (len(data), sha(data)), done
    return done


async def download(api: Api, file_id: str, headers: dict[str, str] | None = None,
                   method: str = "GET") -> httpx.Response:
    return await api.http.request(method, f"/api/v1/files/{file_id}",
                                  headers={**auth(api), **(headers or {})})


async def fetch(api: Api, file_id: str) -> bytes:
    r = await download(api, file_id)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    return r.content


async def refused(api: Api, file_id: str) -> None:
    """404 with the envelope, as for a file that does not exist."""
    r = await download(api, file_id)
    assert envelope(r) == (404, "NOT_FOUND"), r.text


async def send_doc(api: Api, data: bytes, *, name: str = "doc.bin", mime_type: str = "",
                   **target: Any) -> dict[str, Any]:
    done = await upload(api, data, name, mime_type)
    msg: dict[str, Any] = await api("messages.sendMedia", file_id=done["file_id"],
                                    kind="document", random_id=rid(), **target)
    return msg


def noise(size: int) -> bytes:
    return os.urandom(size)


def blob_files(data_dir: str) -> list[str]:
    """The content files stored (temporary names start with a dot)."""
    out = []
    for folder, _, names in os.walk(os.path.join(data_dir, "files", "blobs")):
        out += [os.path.join(folder, n) for n in names if not n.startswith(".")]
    return out


def upload_dir(data_dir: str, upload_id: str) -> str:
    return os.path.join(data_dir, "files", "uploads", upload_id)


async def until(check: Any, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not so within {timeout} s: {what}")
        await asyncio.sleep(0.02)


def temp_parts(data_dir: str, upload_id: str) -> list[str]:
    folder = upload_dir(data_dir, upload_id)
    return [n for n in os.listdir(folder) if n.startswith(".")] if os.path.isdir(folder) else []


async def half_put(port: int, token: str, upload_id: str, part: int, body: bytes,
                   sent: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A PUT on a raw socket that declares the whole body but sends only `sent` bytes of it."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (f"PUT /api/v1/upload/{upload_id}/{part} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n"
            "Content-Type: application/octet-stream\r\n\r\n")
    writer.write(head.encode() + body[:sent])
    await writer.drain()
    return reader, writer


async def hang_up(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


class Dropped(Exception):
    """The client's body generator dies part way through."""


async def generator_put(base_url: str, token: str, upload_id: str, part: int, body: bytes,
                        sent: int) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield body[:sent]
        raise Dropped

    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        with pytest.raises(Dropped):
            await client.put(f"/api/v1/upload/{upload_id}/{part}", content=chunks(),
                             headers={"Authorization": f"Bearer {token}"})


# images -------------------------------------------------------------------------------------

def picture(width: int, height: int) -> Image.Image:
    img = Image.new("RGB", (width, height), (30, 90, 160))
    draw = ImageDraw.Draw(img)
    draw.rectangle((width // 8, height // 8, width // 2, height // 2), fill=(240, 200, 20))
    draw.ellipse((width // 2, height // 3, width - 10, height - 10), fill=(200, 30, 60))
    draw.line((0, 0, width, height), fill=(255, 255, 255), width=max(1, width // 200))
    return img


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    picture(width, height).save(out, "PNG", compress_level=1)
    return out.getvalue()


def jpeg_with_gps(width: int, height: int, orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Acme"  # Make
    exif[0x0110] = "Spy Cam 3000"  # Model
    exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    out = io.BytesIO()
    picture(width, height).save(out, "JPEG", quality=90, exif=exif.tobytes())
    data = out.getvalue()
    with Image.open(io.BytesIO(data)) as check:  # the source really carries a location
        assert check.getexif().get_ifd(GPS_IFD)[2] == (52.0, 31.0, 12.0)
    return data


def opened(data: bytes) -> Image.Image:
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def no_metadata(data: bytes) -> None:
    img = opened(data)
    assert img.format == "JPEG"
    assert not img.getexif(), dict(img.getexif())
    assert "exif" not in img.info
    assert b"Exif\x00\x00" not in data and b"Spy Cam" not in data and b"Acme" not in data


async def send_photo(sender: Api, data: bytes, name: str = "pic.png", **target: Any
                     ) -> dict[str, Any]:
    done = await upload(sender, data, name)
    msg: dict[str, Any] = await sender("messages.sendMedia", file_id=done["file_id"],
                                       kind="photo", random_id=rid(), **target)
    return msg


async def check_photo(viewer: Api, media: dict[str, Any], width: int, height: int) -> None:
    """The photo and each thumbnail are JPEGs of the sizes said, downloadable by `viewer`."""
    assert media["kind"] == "photo" and media["mime_type"] == "image/jpeg", media
    assert (media["width"], media["height"]) == (width, height), media
    body = await fetch(viewer, media["file_id"])
    assert len(body) == media["size"]
    img = opened(body)
    assert (img.format, img.size) == ("JPEG", (width, height))
    boxes = {"s": 100, "m": 320, "x": 800}
    thumbs = {t["type"]: t for t in media["thumbs"]}
    assert set(thumbs) == {k for k, box in boxes.items() if max(width, height) > box}, thumbs
    for kind, t in thumbs.items():
        assert max(t["width"], t["height"]) == boxes[kind], t  # scaled to fit its box
        assert abs(t["width"] / t["height"] - width / height) < 0.05, t
        thumb = await fetch(viewer, t["file_id"])
        assert len(thumb) == t["size"]
        small = opened(thumb)
        assert (small.format, small.size) == ("JPEG", (t["width"], t["height"]))


# uploads --------------------------------------------------------------------------------------

async def test_parts_out_of_order_in_parallel(make_user, server: Server) -> None:
    alice = await make_user("Alice")
    data = noise(3 * PART + 12345)
    upload_id, part_size = await start(alice, len(data), "random.bin",
                                       "application/octet-stream")
    assert part_size == PART
    assert await status(alice, upload_id) == []
    parts = split(data, part_size)
    assert [len(p) for p in parts] == [PART, PART, PART, 12345]
    order = [3, 1, 2, 0]
    results = await asyncio.gather(*(put(alice, upload_id, n, parts[n]) for n in order))
    assert [r.json() for r in results] == [{"ok": True, "result": {"part": n}} for n in order]
    assert await status(alice, upload_id) == [0, 1, 2, 3]
    done = await alice("upload.finish", upload_id=upload_id)
    assert (done["size"], done["sha256"]) == (len(data), sha(data))
    assert await fetch(alice, done["file_id"]) == data
    # finishing again answers with the same file, and the parts are gone from disk
    assert await alice("upload.finish", upload_id=upload_id) == done
    assert not os.path.exists(upload_dir(server.data_dir, upload_id))
    # a finished upload takes no more parts
    r = await put(alice, upload_id, 0, parts[0])
    assert envelope(r) == (400, "FILE_PART_INVALID")
    assert await fetch(alice, done["file_id"]) == data


async def test_concurrent_finishes_agree(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(12 * PART + 99)
    upload_id, _ = await start(alice, len(data))
    await asyncio.gather(*(put_ok(alice, upload_id, n, body)
                           for n, body in enumerate(split(data, PART))))
    answers = await asyncio.gather(*(alice.raw("upload.finish", {"upload_id": upload_id})
                                     for _ in range(8)))
    bodies = [r.json() for r in answers]
    assert all(b["ok"] for b in bodies), bodies
    assert len({b["result"]["file_id"] for b in bodies}) == 1, bodies
    assert bodies[0]["result"]["sha256"] == sha(data)
    assert await fetch(alice, bodies[0]["result"]["file_id"]) == data


async def test_one_part_file_and_a_tiny_one(make_user) -> None:
    alice = await make_user("Alice")
    for data in (b"x", noise(PART)):
        done = await upload(alice, data)
        assert await fetch(alice, done["file_id"]) == data


async def test_a_resent_part_replaces_the_old_one(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(2 * PART + 100)
    upload_id, _ = await start(alice, len(data))
    parts = split(data, PART)
    await put_ok(alice, upload_id, 1, bytes(PART))  # the right size, the wrong bytes
    await put_ok(alice, upload_id, 0, parts[0])
    await put_ok(alice, upload_id, 2, parts[2])
    await put_ok(alice, upload_id, 1, parts[1])  # sent again, right this time
    assert await status(alice, upload_id) == [0, 1, 2]
    done = await alice("upload.finish", upload_id=upload_id)
    assert done["sha256"] == sha(data)
    assert await fetch(alice, done["file_id"]) == data


async def test_a_part_of_the_wrong_size_is_refused_and_stores_nothing(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(2 * PART + 1000)
    upload_id, _ = await start(alice, len(data))
    parts = split(data, PART)
    for n, body in ((0, parts[0][:-1]), (0, b""), (2, parts[2][:-1]), (1, parts[1][:1000])):
        r = await put(alice, upload_id, n, body)
        assert envelope(r) == (400, "FILE_PART_INVALID"), (n, len(body))
    assert await status(alice, upload_id) == []
    # a wrong re-send of a part stored already leaves the stored part as it was
    await put_ok(alice, upload_id, 0, parts[0])
    await put_ok(alice, upload_id, 2, parts[2])
    r = await put(alice, upload_id, 0, parts[0][: PART // 2])
    assert envelope(r) == (400, "FILE_PART_INVALID")
    assert await status(alice, upload_id) == [0, 2]
    await put_ok(alice, upload_id, 1, parts[1])
    done = await alice("upload.finish", upload_id=upload_id)
    assert done["sha256"] == sha(data)
    assert await fetch(alice, done["file_id"]) == data


async def test_a_part_longer_than_its_size_is_refused(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(PART + 10)
    upload_id, _ = await start(alice, len(data))
    parts = split(data, PART)
    for n, body in ((0, parts[0] + b"extra"), (1, parts[1] + b"!")):
        r = await put(alice, upload_id, n, body)
        assert envelope(r) == (400, "FILE_PART_INVALID"), (n, len(body), r.text)
    assert await status(alice, upload_id) == []


async def test_part_numbers_out_of_range(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(PART + 10)
    upload_id, _ = await start(alice, len(data))
    for n in (2, 3, 10**6):
        r = await put(alice, upload_id, n, data[:10])
        assert envelope(r) == (400, "FILE_PART_INVALID"), n
    r = await alice.http.put(f"/api/v1/upload/{upload_id}/-1", content=data[:10],
                             headers=auth(alice))
    assert r.status_code == 404 and r.json()["ok"] is False
    assert await status(alice, upload_id) == []
    r = await put(alice, "no-such-upload", 0, data[:10])
    assert envelope(r) == (400, "FILE_PARTS_INVALID")


async def test_another_users_upload_is_refused(make_user) -> None:
    alice, mallory = await make_user("Alice"), await make_user("Mallory")
    data = noise(PART + 500)
    upload_id, _ = await start(alice, len(data))
    parts = split(data, PART)
    await put_ok(alice, upload_id, 0, parts[0])
    for n, body in ((0, bytes(PART)), (1, bytes(500))):
        r = await put(mallory, upload_id, n, body)
        assert envelope(r) == (400, "FILE_PARTS_INVALID")
    assert await mallory.error("upload.status", upload_id=upload_id) == (400,
                                                                         "FILE_PARTS_INVALID")
    assert await mallory.error("upload.finish", upload_id=upload_id) == (400,
                                                                         "FILE_PARTS_INVALID")
    assert await status(alice, upload_id) == [0]
    await put_ok(alice, upload_id, 1, parts[1])
    done = await alice("upload.finish", upload_id=upload_id)
    assert await fetch(alice, done["file_id"]) == data
    # finished: still not Mallory's to finish, nor her file to download
    assert await mallory.error("upload.finish", upload_id=upload_id) == (400,
                                                                         "FILE_PARTS_INVALID")
    await refused(mallory, done["file_id"])
    # no token at all
    r = await alice.http.put(f"/api/v1/upload/{upload_id}/0", content=parts[0])
    assert envelope(r) == (401, "AUTH_KEY_INVALID")


async def test_finish_names_the_missing_part(make_user) -> None:
    alice = await make_user("Alice")
    data = noise(3 * PART + 1)
    upload_id, _ = await start(alice, len(data))
    parts = split(data, PART)
    for n in (0, 1, 3):
        await put_ok(alice, upload_id, n, parts[n])
    r = await alice.raw("upload.finish", {"upload_id": upload_id})
    assert envelope(r) == (400, "FILE_PARTS_INVALID")
    assert re.search(r"\b2\b", r.json()["error"]["message"]), r.json()
    assert await status(alice, upload_id) == [0, 1, 3]  # nothing lost by the refusal
    await put_ok(alice, upload_id, 2, parts[2])
    done = await alice("upload.finish", upload_id=upload_id)
    assert done["sha256"] == sha(data)


async def test_start_checks_what_it_is_told(make_user) -> None:
    alice = await make_user("Alice")
    for params in ({"name": "a.bin", "size": 0}, {"name": "a.bin", "size": -5},
                   {"name": "", "size": 10}, {"name": "   ", "size": 10},
                   {"name": "a\nb", "size": 10}, {"name": "a.bin", "size": 10,
                                                  "mime_type": "not a type"}):
        status_, kind = await alice.error("upload.start", **params)
        assert (status_, kind) == (400, "BAD_REQUEST"), params


# interrupted and resumed -------------------------------------------------------------------

async def test_interrupted_upload_resumes(make_user, server: Server) -> None:
    alice = await make_user("Alice")
    data = noise(5 * PART + 777)
    parts = split(data, PART)
    upload_id, _ = await start(alice, len(data), "resumed.bin")
    # a first client sends two parts and goes away
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as first:
        gone = Api(first, alice.token)
        await put_ok(gone, upload_id, 3, parts[3])
        await put_ok(gone, upload_id, 0, parts[0])
    # a PUT dropped part way through its body (raw socket, Content-Length says more) ...
    _, writer = await half_put(server.port, alice.token or "", upload_id, 1, parts[1],
                               PART // 2)
    await until(lambda: temp_parts(server.data_dir, upload_id), "the part is being written")
    await hang_up(writer)
    # ... and one whose client's body generator dies (chunked)
    await generator_put(server.url, alice.token or "", upload_id, 2, parts[2], PART // 3)
    await until(lambda: not temp_parts(server.data_dir, upload_id),
                "half-written parts are thrown away")
    assert await status(alice, upload_id) == [0, 3]
    missing = sorted(set(range(len(parts))) - set(await status(alice, upload_id)))
    assert missing == [1, 2, 4, 5]
    await asyncio.gather(*(put_ok(alice, upload_id, n, parts[n]) for n in missing))
    done = await alice("upload.finish", upload_id=upload_id)
    assert (done["size"], done["sha256"]) == (len(data), sha(data))
    assert await fetch(alice, done["file_id"]) == data


@pytest.mark.parametrize("engine", ENGINES)
async def test_upload_survives_a_sigkill(engine: str) -> None:
    server = Server(engine).start()
    try:
        data = noise(4 * PART + 4321)
        parts = split(data, PART)
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            alice = await register(http, "Alice")
            kept = await upload(alice, noise(PART + 3))
            kept_body = await fetch(alice, kept["file_id"])
            upload_id, _ = await start(alice, len(data), "killed.bin")
            await asyncio.gather(put_ok(alice, upload_id, 2, parts[2]),
                                 put_ok(alice, upload_id, 0, parts[0]))
            # part 1 is in flight, half sent, when the server dies
            _, writer = await half_put(server.port, alice.token or "", upload_id, 1,
                                       parts[1], PART // 2)
            await until(lambda: temp_parts(server.data_dir, upload_id), "part 1 is written")
            server.kill()
            assert server.proc is not None and server.proc.returncode == -9
            await hang_up(writer)
        server.proc = None
        server.start()
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
            alice.http = http
            assert await status(alice, upload_id) == [0, 2]
            assert await fetch(alice, kept["file_id"]) == kept_body
            await asyncio.gather(*(put_ok(alice, upload_id, n, parts[n]) for n in (4, 1, 3)))
            done = await alice("upload.finish", upload_id=upload_id)
            assert (done["size"], done["sha256"]) == (len(data), sha(data))
            assert await fetch(alice, done["file_id"]) == data
    finally:
        server.drop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


# a big file ----------------------------------------------------------------------------------

BIG = 300 * 1024 * 1024 + 12345
IN_FLIGHT = 4


def big_parts(seed: bytes, part_size: int, size: int) -> Iterator[tuple[int, bytes]]:
    """Part n: its number, then the seed's bytes (distinct parts, no RAM for the whole)."""
    for n in range((size + part_size - 1) // part_size):
        length = min(part_size, size - n * part_size)
        yield n, (n.to_bytes(8, "big") + seed[8:part_size])[:length]


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
async def test_a_file_of_300_mb(engine: str) -> None:
    server = Server(engine).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            alice = await register(http, "Alice")
            bob = await register(http, "Bob")
            t0 = time.monotonic()
            upload_id, part_size = await start(alice, BIG, "big.bin")
            seed = noise(part_size)
            want = hashlib.sha256()
            queue: asyncio.Queue[tuple[int, bytes]] = asyncio.Queue(IN_FLIGHT)

            async def worker() -> None:
                while True:
                    n, body = await queue.get()
                    if n < 0:
                        return
                    await put_ok(alice, upload_id, n, body)

            workers = [asyncio.create_task(worker()) for _ in range(IN_FLIGHT)]
            try:
                for n, body in big_parts(seed, part_size, BIG):
                    want.update(body)
                    await queue.put((n, body))
                for _ in workers:
                    await queue.put((-1, b""))
                await asyncio.gather(*workers)
            finally:
                for w in workers:
                    w.cancel()
            done = await alice("upload.finish", upload_id=upload_id)
            assert (done["size"], done["sha256"]) == (BIG, want.hexdigest())
            t_up = time.monotonic() - t0
            msg = await alice("messages.sendMedia", user_id=bob.id, file_id=done["file_id"],
                              kind="document", random_id=rid())
            got, size = hashlib.sha256(), 0
            async with http.stream("GET", f"/api/v1/files/{done['file_id']}",
                                   headers=auth(bob)) as r:
                assert r.status_code == 200
                assert int(r.headers["content-length"]) == BIG
                async for chunk in r.aiter_bytes():
                    got.update(chunk)
                    size += len(chunk)
            assert (size, got.hexdigest()) == (BIG, want.hexdigest())
            assert msg["media"]["size"] == BIG
            # a range near the end of the big file
            tail = await download(bob, done["file_id"], {"Range": f"bytes={BIG - 5000}-"})
            last = dict(big_parts(seed, part_size, BIG))[(BIG - 1) // part_size]
            assert tail.status_code == 206 and tail.content == last[-5000:]
            print(f"300 MB on {engine}: upload {t_up:.1f} s,"
                  f" all {time.monotonic() - t0:.1f} s")
    finally:
        server.drop()
        shutil.rmtree(server.data_dir, ignore_errors=True)


# downloads: Range, HEAD ----------------------------------------------------------------------

async def test_range_requests(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    data = noise(200_000)
    msg = await send_doc(alice, data, user_id=bob.id)
    fid = msg["media"]["file_id"]
    for viewer in (alice, bob):
        for header, lo, hi in (("bytes=0-99", 0, 99), ("bytes=1000-1999", 1000, 1999),
                               ("bytes=-100", 199_900, 199_999),
                               ("bytes=1000-", 1000, 199_999),
                               ("bytes=199999-199999", 199_999, 199_999),
                               ("bytes=150000-999999", 150_000, 199_999)):
            r = await download(viewer, fid, {"Range": header})
            assert r.status_code == 206, (header, r.status_code)
            assert r.headers["content-range"] == f"bytes {lo}-{hi}/200000", header
            assert int(r.headers["content-length"]) == hi - lo + 1
            assert r.content == data[lo:hi + 1], header
        for past in ("bytes=200000-", "bytes=300000-300100"):
            r = await download(viewer, fid, {"Range": past})
            assert r.status_code == 416, past
            assert r.headers["content-range"] == "bytes */200000"
        whole = await download(viewer, fid)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        head = await download(viewer, fid, method="HEAD")
        assert head.status_code == 200 and head.content == b""
        assert int(head.headers["content-length"]) == 200_000
        assert head.headers["accept-ranges"] == "bytes"


# who may download -----------------------------------------------------------------------------

async def test_private_chat_access(make_user) -> None:
    alice, bob, eve = [await make_user(n) for n in ("Alice", "Bob", "Eve")]
    data = noise(70_000)
    done = await upload(alice, data, "secret.bin")
    fid = done["file_id"]
    assert await fetch(alice, fid) == data  # the owner, before any message carries it
    await refused(bob, fid)
    await alice("messages.sendMedia", user_id=bob.id, file_id=fid, kind="document",
                random_id=rid())
    assert await fetch(bob, fid) == data
    assert await fetch(alice, fid) == data
    # an outsider is told exactly what a file that does not exist would say
    outsider = await download(eve, fid)
    nowhere = await download(eve, secrets.token_urlsafe(18))
    assert envelope(outsider) == envelope(nowhere) == (404, "NOT_FOUND")
    assert outsider.json() == nowhere.json()
    head = await download(eve, fid, method="HEAD")
    assert head.status_code == 404
    ranged = await download(eve, fid, {"Range": "bytes=0-9"})
    assert envelope(ranged) == (404, "NOT_FOUND")
    # tokens: a bad one and none are 401 with the envelope; ?token= works like the header
    bad = await alice.http.get(f"/api/v1/files/{fid}",
                               headers={"Authorization": "Bearer nonsense"})
    assert envelope(bad) == (401, "AUTH_KEY_INVALID")
    none = await alice.http.get(f"/api/v1/files/{fid}")
    assert envelope(none) == (401, "AUTH_KEY_INVALID")
    by_query = await alice.http.get(f"/api/v1/files/{fid}", params={"token": bob.token})
    assert by_query.status_code == 200 and by_query.content == data
    by_query = await alice.http.get(f"/api/v1/files/{fid}", params={"token": eve.token})
    assert envelope(by_query) == (404, "NOT_FOUND")
    # logged out: the token stops working for downloads too
    await bob("auth.logout")
    assert envelope(await download(bob, fid)) == (401, "AUTH_KEY_INVALID")


async def test_deleted_message_takes_the_file_away(make_user) -> None:
    alice, bob, carol = await make_user("Alice"), await make_user("Bob"), await make_user("C")
    data = noise(30_000)
    msg = await send_doc(alice, data, user_id=bob.id)
    fid = msg["media"]["file_id"]
    assert await fetch(bob, fid) == data
    assert await alice("messages.delete", chat_id=msg["chat_id"], message_ids=[msg["id"]],
                       revoke=True) is True
    await refused(bob, fid)
    assert await fetch(alice, fid) == data  # the owner always can
    # nor may Bob send it on by file_id any more (rule 6)
    r = await bob.raw("messages.sendMedia", {"user_id": carol.id, "file_id": fid,
                                             "kind": "document", "random_id": rid()})
    assert envelope(r) == (400, "FILE_ID_INVALID")
    # deleted for oneself only: gone for that one, not for the other side
    photo = await send_photo(alice, png(400, 300), user_id=carol.id)
    pid = photo["media"]["file_id"]
    thumb = photo["media"]["thumbs"][0]["file_id"]
    assert await fetch(carol, pid) and await fetch(carol, thumb)
    assert await carol("messages.delete", chat_id=photo["chat_id"],
                       message_ids=[photo["id"]], revoke=False) is True
    await refused(carol, pid)
    await refused(carol, thumb)
    assert await fetch(alice, pid)


async def test_group_access_follows_membership(make_user) -> None:
    owner, early, removed, late = [await make_user(n) for n in ("Owner", "Early", "Rm", "Late")]
    gid = (await owner("chats.createGroup", title="G",
                       user_ids=[early.id, removed.id]))["id"]
    data = noise(40_000)
    msg = await send_doc(owner, data, chat_id=gid)
    fid = msg["media"]["file_id"]
    for api in (owner, early, removed):
        assert await fetch(api, fid) == data
    # joined after the message was sent: does not see it, may not download it
    assert await owner("chats.addMember", chat_id=gid, user_id=late.id) is True
    history = await late("messages.getHistory", chat_id=gid)
    assert msg["id"] not in [m["id"] for m in history["messages"]]
    await refused(late, fid)
    # removed: no longer
    assert await owner("chats.removeMember", chat_id=gid, user_id=removed.id) is True
    await refused(removed, fid)
    assert await fetch(early, fid) == data
    # what is sent after the late one joined, the late one may download
    later = noise(1000)
    msg2 = await send_doc(early, later, chat_id=gid)
    assert await fetch(late, msg2["media"]["file_id"]) == later
    await refused(removed, msg2["media"]["file_id"])


async def test_channel_access(make_user) -> None:
    owner, reader, member, stranger, banned = [
        await make_user(n) for n in ("Owner", "Reader", "Member", "Stranger", "Banned")]
    name = unique_name("files")
    public = (await owner("channels.create", title="Public", broadcast=True,
                          username=name))["id"]
    private = (await owner("channels.create", title="Private", broadcast=True))["id"]
    await owner("channels.invite", channel_id=private, user_ids=[member.id])
    await banned("channels.join", username=name)
    pub_data, priv_data = noise(25_000), noise(26_000)
    pub = await send_doc(owner, pub_data, chat_id=public)
    priv = await send_doc(owner, priv_data, chat_id=private)
    # a public channel's post: anyone who can read the channel, member or not
    assert await fetch(reader, pub["media"]["file_id"]) == pub_data
    assert await fetch(banned, pub["media"]["file_id"]) == pub_data
    await owner("channels.editBanned", channel_id=public, user_id=banned.id,
                banned={"view_messages": True})
    await refused(banned, pub["media"]["file_id"])
    # a private channel's post: its members only
    assert await fetch(member, priv["media"]["file_id"]) == priv_data
    await refused(stranger, priv["media"]["file_id"])
    await refused(reader, priv["media"]["file_id"])


# sendMedia -------------------------------------------------------------------------------------

async def test_document_keeps_name_and_type(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    data = b"%PDF-1.4\n" + noise(5000)
    name = "Отчёт за 2024 (final).pdf"
    msg = await send_doc(alice, data, name=name, mime_type="application/pdf", user_id=bob.id)
    media = msg["media"]
    assert (media["kind"], media["name"], media["mime_type"], media["size"]) == (
        "document", name, "application/pdf", len(data))
    assert msg["text"] == ""
    r = await download(bob, media["file_id"])
    assert r.status_code == 200 and r.content == data
    assert r.headers["content-type"].split(";")[0] == "application/pdf"
    # the recipient sees the same media in history and in its updates
    [seen] = (await bob("messages.getHistory", chat_id=msg["chat_id"], limit=1))["messages"]
    assert seen["media"] == media
    diff = await bob("updates.getDifference", pts=0)
    assert diff["updates"][-1]["message"]["media"] == media
    # without a type, the name says it
    csv = await send_doc(alice, b"a,b\n1,2\n", name="table.csv", user_id=bob.id)
    assert csv["media"]["mime_type"] == "text/csv"
    # the same random_id answers with the first message
    again = await alice("messages.sendMedia", user_id=bob.id, file_id=media["file_id"],
                        kind="document", random_id=rid())
    repeat = await alice("messages.sendMedia", user_id=bob.id, file_id=media["file_id"],
                         kind="document", random_id=1)
    assert await alice("messages.sendMedia", user_id=bob.id, file_id=media["file_id"],
                       kind="document", random_id=1) == repeat
    assert repeat["id"] == again["id"] + 1


async def test_photo_is_a_jpeg_of_the_right_size_with_thumbnails(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send_photo(alice, png(1600, 900), "wide.png", user_id=bob.id,
                           caption="look")
    assert msg["text"] == "look"
    assert msg["media"]["name"].endswith(".jpg")
    await check_photo(bob, msg["media"], 1600, 900)
    await check_photo(alice, msg["media"], 1600, 900)
    small = await send_photo(alice, png(300, 200), "small.png", user_id=bob.id)
    await check_photo(bob, small["media"], 300, 200)  # thumbnails only where smaller
    # the same upload sent as a photo again is the same photo, not another conversion
    source = await upload(alice, png(640, 480), "again.png")
    sent = [await alice("messages.sendMedia", user_id=bob.id, file_id=source["file_id"],
                        kind="photo", random_id=rid()) for _ in range(2)]
    assert sent[0]["id"] != sent[1]["id"]
    assert sent[0]["media"] == sent[1]["media"]
    await check_photo(bob, sent[1]["media"], 640, 480)


async def test_a_big_photo_is_scaled_to_2560(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send_photo(alice, png(4000, 3000), "huge.png", user_id=bob.id)
    await check_photo(bob, msg["media"], 2560, 1920)
    tall = await send_photo(alice, png(1000, 3000), "tall.png", user_id=bob.id)
    await check_photo(bob, tall["media"], 853, 2560)


async def test_photo_loses_its_exif_location(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    msg = await send_photo(alice, jpeg_with_gps(1200, 800), "holiday.jpg", user_id=bob.id)
    await check_photo(bob, msg["media"], 1200, 800)
    no_metadata(await fetch(bob, msg["media"]["file_id"]))
    for t in msg["media"]["thumbs"]:
        no_metadata(await fetch(bob, t["file_id"]))
    # the orientation is applied to the pixels before the metadata goes
    turned = await send_photo(alice, jpeg_with_gps(1200, 800, orientation=6), "turned.jpg",
                              user_id=bob.id)
    await check_photo(bob, turned["media"], 800, 1200)
    no_metadata(await fetch(bob, turned["media"]["file_id"]))


async def test_garbage_as_a_photo_is_refused(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    first = await alice("messages.send", user_id=bob.id, text="hi", random_id=rid())
    bob_pts = (await bob("updates.getState"))["pts"]
    whole = png(800, 600)
    for name, data in (("random.jpg", noise(50_000)), ("cut.png", whole[: len(whole) // 2]),
                       ("notes.txt", b"this is not a picture\n" * 200),
                       ("empty.png", whole[:8])):
        done = await upload(alice, data, name)
        r = await alice.raw("messages.sendMedia", {"user_id": bob.id, "file_id": done["file_id"],
                                                   "kind": "photo", "random_id": rid()})
        assert envelope(r) == (400, "MEDIA_INVALID"), name
        # as a document it goes, bytes unchanged
    history = await alice("messages.getHistory", chat_id=first["chat_id"])
    assert [m["id"] for m in history["messages"]] == [first["id"]]
    assert (await bob("updates.getState"))["pts"] == bob_pts
    doc = await send_doc(alice, whole[:1000], name="cut.png", user_id=bob.id)
    assert doc["media"]["kind"] == "document"
    assert await fetch(bob, doc["media"]["file_id"]) == whole[:1000]


async def test_file_ids_one_may_not_see_are_invalid(make_user) -> None:
    alice, bob, eve = await make_user("Alice"), await make_user("Bob"), await make_user("Eve")
    secret = await upload(alice, noise(20_000))
    picture_ = await upload(alice, png(500, 400), "p.png")
    for fid in (secret["file_id"], picture_["file_id"], "no-such-file"):
        for kind in ("document", "photo", "video"):
            r = await eve.raw("messages.sendMedia", {"user_id": bob.id, "file_id": fid,
                                                     "kind": kind, "random_id": rid()})
            assert envelope(r) == (400, "FILE_ID_INVALID"), (fid, kind)
    assert (await bob("updates.getState"))["pts"] == 0


async def test_forwarded_and_resent_media(make_user) -> None:
    alice, bob, carol, dave = [await make_user(n) for n in ("Alice", "Bob", "Carol", "Dave")]
    photo = await send_photo(alice, png(900, 600), user_id=bob.id, caption="cat")
    doc = await send_doc(alice, noise(10_000), name="notes.bin", user_id=bob.id)
    doc_body = await fetch(bob, doc["media"]["file_id"])
    # Bob forwards both to Carol: the media stays, and Carol may download it all
    fwd = await bob("messages.forward", from_chat_id=photo["chat_id"],
                    message_ids=[photo["id"], doc["id"]], user_id=carol.id)
    assert [m["media"] for m in fwd] == [photo["media"], doc["media"]]
    assert fwd[0]["text"] == "cat" and fwd[0]["fwd_from"]["from_id"] == alice.id
    await check_photo(carol, fwd[0]["media"], 900, 600)
    assert await fetch(carol, doc["media"]["file_id"]) == doc_body
    await refused(dave, doc["media"]["file_id"])
    # Bob sends what he received by file_id (rule 6), as the photo and as a document
    again = await bob("messages.sendMedia", user_id=dave.id, file_id=photo["media"]["file_id"],
                      kind="photo", random_id=rid())
    assert again["media"]["file_id"] == photo["media"]["file_id"]
    await check_photo(dave, again["media"], 900, 600)
    resent = await bob("messages.sendMedia", user_id=dave.id, file_id=doc["media"]["file_id"],
                       kind="document", random_id=rid())
    assert resent["media"]["name"] == "notes.bin"
    assert await fetch(dave, doc["media"]["file_id"]) == doc_body
    # the original deleted for everyone: the copies forwarded and re-sent still carry it
    await alice("messages.delete", chat_id=doc["chat_id"], message_ids=[doc["id"]],
                revoke=True)
    assert await fetch(carol, doc["media"]["file_id"]) == doc_body
    assert await fetch(dave, doc["media"]["file_id"]) == doc_body


async def test_captions(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    done = await upload(alice, noise(1000))
    longest = "c" * 1024
    msg = await alice("messages.sendMedia", user_id=bob.id, file_id=done["file_id"],
                      kind="document", caption=longest, random_id=rid())
    assert msg["text"] == longest
    assert await alice.error("messages.sendMedia", user_id=bob.id, file_id=done["file_id"],
                             kind="document", caption=longest + "c",
                             random_id=rid()) == (400, "MESSAGE_TOO_LONG")
    photo = await upload(alice, png(200, 100), "p.png")
    assert await alice.error("messages.sendMedia", user_id=bob.id, file_id=photo["file_id"],
                             kind="photo", caption="é" * 1025,
                             random_id=rid()) == (400, "MESSAGE_TOO_LONG")
    history = await bob("messages.getHistory", chat_id=msg["chat_id"])
    assert [m["id"] for m in history["messages"]] == [msg["id"]]


async def test_restricted_member_cannot_send_media(make_user) -> None:
    owner, muted = await make_user("Owner"), await make_user("Muted")
    gid = (await owner("channels.create", title="SG", broadcast=False))["id"]
    await owner("channels.invite", channel_id=gid, user_ids=[muted.id])
    done = await upload(muted, noise(3000))
    photo = await upload(muted, png(300, 300), "p.png")
    ok = await muted("messages.sendMedia", chat_id=gid, file_id=done["file_id"],
                     kind="document", random_id=rid())
    assert await fetch(owner, done["file_id"]) == await fetch(muted, done["file_id"])
    await owner("channels.editBanned", channel_id=gid, user_id=muted.id,
                banned={"send_media": True})
    for fid, kind in ((done["file_id"], "document"), (photo["file_id"], "photo")):
        assert await muted.error("messages.sendMedia", chat_id=gid, file_id=fid, kind=kind,
                                 random_id=rid()) == (403, "CHAT_WRITE_FORBIDDEN"), kind
    text = await muted("messages.send", chat_id=gid, text="words still go", random_id=rid())
    history = await owner("messages.getHistory", chat_id=gid, limit=2)
    assert [m["id"] for m in history["messages"]] == [text["id"], ok["id"]]
    # a channel's subscriber posts no media at all
    cid = (await owner("channels.create", title="C", broadcast=True))["id"]
    await owner("channels.invite", channel_id=cid, user_ids=[muted.id])
    assert await muted.error("messages.sendMedia", chat_id=cid, file_id=done["file_id"],
                             kind="document", random_id=rid()) == (403, "CHAT_WRITE_FORBIDDEN")


# limits: a server with small ones ---------------------------------------------------------------

MAX_SIZE = 2_000_000
QUOTA = 3_000_000


@pytest.fixture(scope="module")
def limited(server: Server) -> Iterator[Server]:
    srv = Server(server.engine, env={"KURIR_MAX_FILE_SIZE": str(MAX_SIZE),
                                     "KURIR_QUOTA_BYTES": str(QUOTA)}).start()
    yield srv
    srv.drop()
    shutil.rmtree(srv.data_dir, ignore_errors=True)


@pytest.fixture
async def lim_http(limited: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=limited.url, timeout=30) as client:
        yield client


async def test_file_too_big(lim_http: httpx.AsyncClient) -> None:
    alice = await register(lim_http)
    assert await alice.error("upload.start", name="big.bin", size=MAX_SIZE + 1) == (
        400, "FILE_TOO_BIG")
    upload_id, _ = await start(alice, MAX_SIZE)
    assert await status(alice, upload_id) == []


async def test_quota_counts_unfinished_uploads(lim_http: httpx.AsyncClient) -> None:
    alice, bob = await register(lim_http), await register(lim_http)
    first, _ = await start(alice, 2_000_000)
    assert await alice.error("upload.start", name="x", size=1_000_001) == (400,
                                                                          "QUOTA_EXCEEDED")
    await start(alice, 1_000_000)  # exactly the quota
    assert await alice.error("upload.start", name="x", size=1) == (400, "QUOTA_EXCEEDED")
    await start(bob, 2_000_000)  # a quota is each user's own
    await start(bob, 1_000_000)
    assert await alice.error("upload.start", name="x", size=1) == (400, "QUOTA_EXCEEDED")
    # finishing does not count a file twice (once as declared, once as stored)
    data = noise(2_000_000)
    for n, body in enumerate(split(data, PART)):
        await put_ok(alice, first, n, body)
    await alice("upload.finish", upload_id=first)
    await alice("upload.finish", upload_id=first)
    assert await alice.error("upload.start", name="x", size=1) == (400, "QUOTA_EXCEEDED")


async def test_concurrent_starts_keep_to_the_quota(lim_http: httpx.AsyncClient) -> None:
    for _ in range(4):  # a race: a few rounds, each with a fresh user
        alice = await register(lim_http)
        answers = await asyncio.gather(*(alice.raw("upload.start", {"name": f"{i}.bin",
                                                                    "size": 1_000_000})
                                         for i in range(16)))
        oks = [r for r in answers if r.status_code == 200]
        assert all(envelope(r) == (400, "QUOTA_EXCEEDED") for r in answers if r not in oks)
        assert len(oks) == 3, [r.json() for r in answers]


async def test_same_content_is_stored_once_but_counted_twice(
        lim_http: httpx.AsyncClient, limited: Server) -> None:
    alice, bob = await register(lim_http), await register(lim_http)
    data = noise(1_200_000)
    before = set(blob_files(limited.data_dir))
    one = await upload(alice, data, "one.bin")
    two = await upload(alice, data, "two.bin")
    assert one["file_id"] != two["file_id"] and one["sha256"] == two["sha256"] == sha(data)
    added = set(blob_files(limited.data_dir)) - before
    assert [os.path.basename(p) for p in added] == [sha(data)]
    [path] = added
    assert os.path.getsize(path) == len(data)
    assert os.path.basename(os.path.dirname(path)) == sha(data)[:2]
    assert await fetch(alice, one["file_id"]) == await fetch(alice, two["file_id"]) == data
    # both count: 2,400,000 of 3,000,000 used
    assert await alice.error("upload.start", name="x", size=600_001) == (400,
                                                                        "QUOTA_EXCEEDED")
    await start(alice, 600_000)
    # another owner of the same content: still one copy, and it counts for them too
    three = await upload(bob, data, "three.bin")
    assert three["sha256"] == sha(data)
    assert set(blob_files(limited.data_dir)) - before == added
    assert await bob.error("upload.start", name="x", size=1_800_001) == (400,
                                                                        "QUOTA_EXCEEDED")
    await start(bob, 1_800_000)
