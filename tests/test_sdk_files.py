"""File transfer through the SDK and `kurir send-file`, against the real server.

Uploads go in parallel parts with monotonic progress, retry a failed part, resume after an
interruption (a failing progress callback, a cancelled task, a part that keeps failing) by
sending only the parts the server lacks, and verify the sha256; downloads stream with progress
and resume from a partial file with Range. Which requests the SDK sends is watched with httpx
event hooks on the client's own connections (`Client.http`); failures of the connection are
injected there too. Files are a few MB.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from kurir.client import Client, KurirError, UploadInterrupted, UploadState
from tests.conftest import unique_name
from tests.server import Server

PASSWORD = "correct horse"
PART = 512 * 1024  # the server's part size for files under 2,000 MiB
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
async def clients(server: Server) -> AsyncIterator[Callable[..., Any]]:
    """Registered SDK clients (`make()`), or more clients of an account (`make(username)`);
    all closed at the end of the test."""
    made: list[Client] = []

    async def make(login_as: str | None = None) -> Client:
        c = Client(server.url)
        made.append(c)
        if login_as is None:
            await c.register(unique_name(), PASSWORD, "Files")
        else:
            await c.login(login_as, PASSWORD)
        return c

    yield make
    for c in made:
        await c.close()


def uid(c: Client) -> int:
    assert c.user is not None
    return int(c.user["id"])


def write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Watch:
    """Records the PUTs (part numbers, in order of sending), and the answers the SDK got to
    upload.status, on a client's HTTP connections."""

    def __init__(self, client: Client) -> None:
        self.puts: list[int] = []
        self.status_answers: list[list[int]] = []
        self.ranges: list[str | None] = []
        self.get_statuses: list[int] = []
        hooks = client.http.event_hooks
        hooks["request"].append(self._request)
        hooks["response"].append(self._response)

    async def _request(self, request: httpx.Request) -> None:
        if request.method == "PUT":
            self.puts.append(int(request.url.path.rsplit("/", 1)[1]))
        elif request.method == "GET":
            self.ranges.append(request.headers.get("range"))

    async def _response(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/upload.status"):
            await response.aread()
            self.status_answers.append(response.json()["result"]["parts"])
        elif response.request.method == "GET":
            self.get_statuses.append(response.status_code)


def assert_progress(reports: list[tuple[int, int]], total: int) -> None:
    assert reports, "no progress was reported"
    assert {t for _, t in reports} == {total}
    done = [d for d, _ in reports]
    assert done == sorted(done), f"progress went back: {done}"
    assert done[-1] == total


def part_lengths(size: int) -> list[int]:
    return [min(PART, size - i) for i in range(0, size, PART)]


class Stop(Exception):
    """Raised by a progress callback to interrupt an upload."""


async def test_upload_and_download_round_trip_with_progress(clients, tmp_path: Path) -> None:
    alice = await clients()
    size = 4 * PART + 12345  # 5 parts, the last short
    data = write(tmp_path / "report.bin", size)
    watch = Watch(alice)
    reports: list[tuple[int, int]] = []
    result = await alice.upload(tmp_path / "report.bin", progress=lambda d, t: reports.append(
        (d, t)))
    assert result["size"] == size and result["sha256"] == sha(data)
    assert sorted(watch.puts) == [0, 1, 2, 3, 4]  # each part once
    assert_progress(reports, size)
    # one report when the plan is known, then one per part stored, each adding that part
    assert reports[0] == (0, size) and len(reports) == 6
    steps = sorted(b[0] - a[0] for a, b in itertools.pairwise(reports))
    assert steps == sorted(part_lengths(size))

    got: list[tuple[int, int]] = []

    async def async_progress(done: int, total: int) -> None:  # a coroutine callback works too
        got.append((done, total))

    n = await alice.download(result["file_id"], tmp_path / "copy.bin", progress=async_progress)
    assert n == size and (tmp_path / "copy.bin").read_bytes() == data
    assert_progress(got, size)
    assert got[0] == (0, size) and watch.ranges == [None] and watch.get_statuses == [200]

    # a file object in, a file object out; the name given is the file's
    buffer = io.BytesIO()
    buffer.write(b"prefix")  # written after what is there
    second = await alice.upload(io.BytesIO(data[:PART + 1]), name="small.dat")
    assert second["sha256"] == sha(data[:PART + 1])
    assert await alice.download(second["file_id"], buffer) == PART + 1
    assert buffer.getvalue() == b"prefix" + data[:PART + 1]


async def test_parts_are_sent_in_parallel_up_to_the_limit(clients, tmp_path: Path) -> None:
    alice = await clients()
    data = write(tmp_path / "f.bin", 6 * PART)
    entered, in_flight, peak = 0, 0, 0
    first_three = asyncio.Event()

    async def on_request(request: httpx.Request) -> None:
        nonlocal entered, in_flight, peak
        if request.method != "PUT":
            return
        entered += 1
        in_flight += 1
        peak = max(peak, in_flight)
        if entered >= 3:
            first_three.set()
        if entered <= 3:
            # Held until three PUTs are under way at once: one after another, this times out.
            await asyncio.wait_for(first_three.wait(), 10)

    async def on_response(response: httpx.Response) -> None:
        nonlocal in_flight
        if response.request.method == "PUT":
            in_flight -= 1

    alice.http.event_hooks["request"].append(on_request)
    alice.http.event_hooks["response"].append(on_response)
    result = await alice.upload(tmp_path / "f.bin", parallel=3)
    assert result["sha256"] == sha(data)
    assert entered == 6 and peak == 3  # three at once, never more

    entered, peak = 0, 0
    first_three.set()
    again = await alice.upload(tmp_path / "f.bin", parallel=1)
    assert again["sha256"] == sha(data) and entered == 6 and peak == 1


async def test_resume_after_the_progress_callback_fails(clients, tmp_path: Path) -> None:
    alice = await clients()
    size = 7 * PART + 1000  # 8 parts
    data = write(tmp_path / "big.bin", size)
    state = UploadState()
    stored = 0

    def fail_after_two(done: int, total: int) -> None:
        nonlocal stored
        if done > 0:
            stored += 1
            if stored == 2:
                raise Stop

    with pytest.raises(Stop):  # the callback's own exception, as it was
        await alice.upload(tmp_path / "big.bin", progress=fail_after_two, parallel=2,
                           resume=state)
    assert state.upload_id is not None and state.result is None
    before = set((await alice.call("upload.status", upload_id=state.upload_id))["parts"])
    # The two reported, perhaps the one the other worker had under way, and perhaps one it
    # began before it was stopped: the upload stopped there.
    assert 2 <= len(state.parts_done) <= 3
    assert state.parts_done <= before and len(before) <= 4
    with pytest.raises(KurirError) as unfinished:
        await alice.call("upload.finish", upload_id=state.upload_id)
    assert unfinished.value.type == "FILE_PARTS_INVALID"

    # Another process of the same account resumes from the state saved as JSON.
    saved = json.loads(json.dumps(state.to_dict()))
    other = await clients(alice.user["username"])  # type: ignore[index]
    watch = Watch(other)
    reports: list[tuple[int, int]] = []
    result = await other.upload(tmp_path / "big.bin", resume=saved,
                                progress=lambda d, t: reports.append((d, t)))
    assert result["sha256"] == sha(data) and result["size"] == size
    [had] = watch.status_answers
    assert before <= set(had)  # what the server had then it still has
    assert sorted(watch.puts) == sorted(set(range(8)) - set(had))  # only the missing parts
    lengths = part_lengths(size)
    assert reports[0] == (sum(lengths[p] for p in had), size)
    assert_progress(reports, size)
    await other.download(result["file_id"], tmp_path / "back.bin")
    assert (tmp_path / "back.bin").read_bytes() == data


async def test_resume_a_cancelled_upload_from_its_id(clients, tmp_path: Path) -> None:
    alice = await clients()
    data = write(tmp_path / "c.bin", 8 * PART)
    state = UploadState()
    two_stored = asyncio.Event()

    def progress(done: int, total: int) -> None:
        if done >= 2 * PART:
            two_stored.set()

    task = asyncio.create_task(
        alice.upload(tmp_path / "c.bin", progress=progress, parallel=2, resume=state))
    await asyncio.wait_for(two_stored.wait(), 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert state.upload_id is not None and len(state.parts_done) >= 2

    watch = Watch(alice)
    result = await alice.upload(tmp_path / "c.bin", resume=state.upload_id)  # a bare id
    assert result["sha256"] == sha(data)
    [had] = watch.status_answers
    assert state.parts_done <= set(had) and len(had) < 8
    assert sorted(watch.puts) == sorted(set(range(8)) - set(had))
    # finishing again answers the same file
    assert await alice.upload(tmp_path / "c.bin", resume=state.upload_id) == result


async def test_a_failed_part_is_retried_then_interrupts_with_a_state(
    clients, tmp_path: Path
) -> None:
    alice = await clients()
    data = write(tmp_path / "r.bin", 4 * PART)
    failures = {"left": 1}

    async def cut_part_one(request: httpx.Request) -> None:
        if request.method == "PUT" and request.url.path.endswith("/1") and failures["left"]:
            failures["left"] -= 1
            raise httpx.ConnectError("injected: connection refused", request=request)

    watch = Watch(alice)  # before the fault, so that the failed tries are counted too
    alice.http.event_hooks["request"].append(cut_part_one)
    result = await alice.upload(tmp_path / "r.bin", parallel=1)
    assert result["sha256"] == sha(data)
    assert watch.puts == [0, 1, 1, 2, 3]  # part 1 sent again after its failure

    # A part that keeps failing: bounded retries, then UploadInterrupted with the state.
    failures["left"] = 10**6
    watch.puts.clear()
    with pytest.raises(UploadInterrupted) as interrupted:
        await alice.upload(tmp_path / "r.bin", parallel=1, retries=2)
    exc = interrupted.value
    assert exc.type == "CONNECTION_LOST" and exc.code == 0
    assert watch.puts == [0, 1, 1, 1]  # one try and two retries
    assert exc.state.upload_id is not None and exc.state.parts_done == {0}

    failures["left"] = 0  # the connection is back
    watch.puts.clear()
    resumed = await alice.upload(tmp_path / "r.bin", resume=exc.state, parallel=1)
    assert resumed["sha256"] == sha(data) and watch.puts == [1, 2, 3]


async def test_a_file_changed_before_resuming_fails_the_hash_check(
    clients, tmp_path: Path
) -> None:
    alice = await clients()
    path = tmp_path / "m.bin"
    write(path, 4 * PART)
    state = UploadState()

    def stop_after_two(done: int, total: int) -> None:
        if done >= 2 * PART:
            raise Stop

    with pytest.raises(Stop):
        await alice.upload(path, progress=stop_after_two, parallel=1, resume=state)
    changed = write(path, 4 * PART)  # same size, other bytes: the first two parts are stale
    with pytest.raises(UploadInterrupted) as mismatch:
        await alice.upload(path, resume=state)
    assert mismatch.value.type == "FILE_HASH_MISMATCH"
    assert sha(changed) in mismatch.value.message


async def test_download_resumes_from_a_partial_file(clients, tmp_path: Path) -> None:
    alice = await clients()
    size = 3 * PART + 99
    data = write(tmp_path / "d.bin", size)
    file_id = (await alice.upload(tmp_path / "d.bin"))["file_id"]
    dest = tmp_path / "partial.bin"
    cut = 777_777
    dest.write_bytes(data[:cut])  # an earlier download stopped here
    watch = Watch(alice)
    reports: list[tuple[int, int]] = []
    n = await alice.download(file_id, dest, progress=lambda d, t: reports.append((d, t)))
    assert n == size and dest.read_bytes() == data
    assert watch.ranges == [f"bytes={cut}-"] and watch.get_statuses == [206]
    assert reports[0] == (cut, size)  # nothing before the cut was fetched again
    assert_progress(reports, size)

    # a complete file is left as it is
    reports.clear()
    assert await alice.download(file_id, dest, progress=lambda d, t: reports.append((d, t))) \
        == size
    assert dest.read_bytes() == data and reports == [(size, size)]

    # a destination longer than the file is not a part of it: fetched again from the start
    dest.write_bytes(data + b"garbage")
    assert await alice.download(file_id, dest) == size
    assert dest.read_bytes() == data


async def test_send_file_to_a_user_who_downloads_it(clients, tmp_path: Path) -> None:
    alice, bob, carol = await clients(), await clients(), await clients()
    data = write(tmp_path / "minutes.txt", PART + 5)
    reports: list[tuple[int, int]] = []
    message = await alice.send_file(tmp_path / "minutes.txt", user_id=uid(bob),
                                    caption="the minutes",
                                    progress=lambda d, t: reports.append((d, t)))
    assert_progress(reports, PART + 5)
    media = message["media"]
    assert message["text"] == "the minutes" and message["from_id"] == uid(alice)
    assert (media["kind"], media["name"], media["size"]) == ("document", "minutes.txt", PART + 5)
    assert media["mime_type"] == "text/plain"

    diff = await bob.get_difference(0)
    [update] = [u for u in diff["updates"] if u["type"] == "new_message"]
    assert update["message"]["media"] == media
    got: list[tuple[int, int]] = []
    assert await bob.download(media["file_id"], tmp_path / "bob.txt",
                              progress=lambda d, t: got.append((d, t))) == PART + 5
    assert (tmp_path / "bob.txt").read_bytes() == data
    assert_progress(got, PART + 5)

    with pytest.raises(KurirError) as hidden:  # carol sees no message carrying it
        await carol.download(media["file_id"], tmp_path / "carol.txt")
    assert hidden.value.code == 404


# the command line --------------------------------------------------------------------------
def cli_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURIR_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(extra)
    return env


async def kurir(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m kurir ARGS`; its output decoded as is (a text mode would turn \r into \n)."""
    done = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "kurir", *args], cwd=REPO,
        env=env or cli_env(), stdin=subprocess.DEVNULL, capture_output=True, timeout=60,
    )
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout.decode(),
                                       done.stderr.decode())


async def test_cli_send_file_with_a_progress_bar(clients, server: Server, tmp_path: Path) -> None:
    alice, bob = await clients(), await clients()
    assert alice.user is not None and bob.user is not None
    data = write(tmp_path / "photo-album.zip", 2 * PART + 3)
    done = await kurir("send-file", "--server", server.url, "--username",
                       alice.user["username"], "--to-user", bob.user["username"],
                       "--caption", "from the shell", str(tmp_path / "photo-album.zip"),
                       env=cli_env(KURIR_PASSWORD=PASSWORD))
    assert done.returncode == 0, done.stderr
    message_id = int(done.stdout.strip())
    # the bar, redrawn in place, reached the end
    assert "\r" in done.stderr and "100.0%" in done.stderr and "/s" in done.stderr
    assert "MiB / 1.0 MiB" in done.stderr and done.stderr.endswith("\n")

    diff = await bob.get_difference(0)
    [message] = [u["message"] for u in diff["updates"] if u["type"] == "new_message"]
    assert message["id"] == message_id and message["from_id"] == uid(alice)
    assert message["text"] == "from the shell"
    assert message["media"]["name"] == "photo-album.zip" and message["media"]["size"] == len(data)
    await bob.download(message["media"]["file_id"], tmp_path / "got.zip")
    assert (tmp_path / "got.zip").read_bytes() == data

    # --chat-id and --password, to the same chat (as alice numbers it)
    mine = await alice.get_difference(0)
    [chat_id] = {u["message"]["chat_id"] for u in mine["updates"] if u["type"] == "new_message"}
    again = await kurir("send-file", "--server", server.url, "--username",
                        alice.user["username"], "--password", PASSWORD,
                        "--chat-id", str(chat_id), str(tmp_path / "photo-album.zip"))
    assert again.returncode == 0, again.stderr
    assert int(again.stdout.strip()) == message_id + 1


async def test_cli_send_file_failures_are_clear(clients, server: Server, tmp_path: Path) -> None:
    alice = await clients()
    assert alice.user is not None
    write(tmp_path / "x.bin", 1000)
    base = ["send-file", "--server", server.url, "--username", alice.user["username"]]
    wrong = await kurir(*base, "--password", "not it", "--to-user", "anyone",
                        str(tmp_path / "x.bin"))
    assert wrong.returncode == 1 and wrong.stdout == ""
    assert wrong.stderr.startswith("error: PASSWORD_INVALID")
    nobody = await kurir(*base, "--password", PASSWORD, "--to-user", unique_name("nobody"),
                         str(tmp_path / "x.bin"))
    assert nobody.returncode == 1 and nobody.stderr.startswith("error: USER_NOT_FOUND")
    assert "%" not in nobody.stderr  # refused before anything was uploaded
    missing = await kurir(*base, "--password", PASSWORD, "--chat-id", "1",
                          str(tmp_path / "nope.bin"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
