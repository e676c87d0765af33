"""Albums and audio metadata (the rest of files is tests/test_files.py)."""

from __future__ import annotations

import io
import math
import struct
import wave

import httpx
from PIL import Image

from tests.conftest import Api


async def upload(api: Api, name: str, data: bytes, mime_type: str = "") -> str:
    up = await api("upload.start", name=name, size=len(data), mime_type=mime_type)
    size = up["part_size"]
    for i in range((len(data) + size - 1) // size):
        r = await api.http.put(f"/api/v1/upload/{up['upload_id']}/{i}",
                               content=data[i * size:(i + 1) * size],
                               headers={"Authorization": f"Bearer {api.token}"})
        assert r.status_code == 200, r.text
    return str((await api("upload.finish", upload_id=up["upload_id"]))["file_id"])


def png(width: int, height: int, shade: int = 0) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (shade, 90, 30)).save(buf, "PNG")
    return buf.getvalue()


def wav(seconds: float, rate: int = 8000) -> bytes:
    """A tone whose loudness rises from silence to full over the clip."""
    frames = int(seconds * rate)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(30000 * (i / frames) * math.sin(i / 5))) for i in range(frames)
        ))
    return buf.getvalue()


async def test_album_is_one_group_of_messages(make_user, http: httpx.AsyncClient) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    files = [await upload(alice, f"p{i}.png", png(300 + i, 200, i * 40)) for i in range(3)]
    files.append(await upload(alice, "notes.txt", b"plain text\n" * 50, "text/plain"))
    items = [{"file_id": f, "kind": "photo" if i < 3 else "document", "random_id": 100 + i,
              "caption": f"item {i}"} for i, f in enumerate(files)]
    album = await alice("messages.sendAlbum", user_id=bob.id, items=items)
    assert [m["id"] for m in album] == [1, 2, 3, 4]
    assert len({m["media"]["album_id"] for m in album}) == 1
    assert [m["text"] for m in album] == [f"item {i}" for i in range(4)]
    assert [m["media"]["kind"] for m in album] == ["photo"] * 3 + ["document"]
    assert [m["media"]["width"] for m in album[:3]] == [300, 301, 302]
    history = await bob("messages.getHistory", chat_id=album[0]["chat_id"])
    assert history["messages"] == album[::-1]
    # a retry stores nothing new and answers with the same messages
    assert await alice("messages.sendAlbum", user_id=bob.id, items=items) == album
    assert (await bob("updates.getState"))["pts"] == 4


async def test_album_limits(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    one = await upload(alice, "a.png", png(10, 10))
    item = {"file_id": one, "kind": "photo", "random_id": 1}
    assert await alice.error("messages.sendAlbum", user_id=bob.id, items=[item]) == (
        400, "MEDIA_INVALID")
    many = [dict(item, random_id=i) for i in range(11)]
    assert await alice.error("messages.sendAlbum", user_id=bob.id, items=many) == (
        400, "BAD_REQUEST")
    voice = [dict(item, random_id=i, kind="voice") for i in range(2)]
    assert await alice.error("messages.sendAlbum", user_id=bob.id, items=voice) == (
        400, "BAD_REQUEST")
    # one bad item refuses the whole album: nothing is sent
    junk = await upload(alice, "junk.bin", b"\x00not an image" * 10)
    bad = [item, {"file_id": junk, "kind": "photo", "random_id": 2}]
    assert await alice.error("messages.sendAlbum", user_id=bob.id, items=bad) == (
        400, "MEDIA_INVALID")
    assert (await bob("updates.getState"))["pts"] == 0


async def test_voice_note_gets_duration_and_waveform(make_user) -> None:
    alice, bob = await make_user("Alice"), await make_user("Bob")
    note = await upload(alice, "note.wav", wav(3.0), "audio/wav")
    msg = await alice("messages.sendMedia", user_id=bob.id, file_id=note, kind="voice",
                      random_id=1)
    media = msg["media"]
    assert media["duration"] == 3
    wave_ = media["waveform"]
    assert len(wave_) == 100 and all(0 <= v <= 31 for v in wave_)
    assert wave_[0] <= 2 and wave_[-1] >= 25  # the tone swells from silence to full
    assert sum(wave_[50:]) > sum(wave_[:50])
    # audio: the duration, no waveform; video: what the client measured
    song = await alice("messages.sendMedia", user_id=bob.id, file_id=note, kind="audio",
                       random_id=2)
    assert song["media"]["duration"] == 3 and "waveform" not in song["media"]
    clip = await upload(alice, "clip.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100,
                        "video/mp4")
    video = await alice("messages.sendMedia", user_id=bob.id, file_id=clip, kind="video",
                        random_id=3, duration=12, width=1280, height=720)
    assert (video["media"]["duration"], video["media"]["width"], video["media"]["height"]) == (
        12, 1280, 720)
    # a voice note that is no WAV keeps what the client said
    ogg = await upload(alice, "note.ogg", b"OggS" + b"\x00" * 200, "audio/ogg")
    said = await alice("messages.sendMedia", user_id=bob.id, file_id=ogg, kind="voice",
                       random_id=4, duration=7, waveform=[3] * 100)
    assert said["media"]["duration"] == 7 and said["media"]["waveform"] == [3] * 100
    assert await alice.error("messages.sendMedia", user_id=bob.id, file_id=ogg, kind="voice",
                             random_id=5, waveform=[32]) == (400, "BAD_REQUEST")
