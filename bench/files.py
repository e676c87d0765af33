"""Files benchmark: upload and download throughput of a large file over loopback, and the
server's memory meanwhile.

    python bench/files.py [--quick] [--size 2GiB] [--engines sqlite,postgres]

A test file (1 GiB; --quick 128 MiB; any size with --size) is written to a temporary
directory in 1 MiB chunks of random bytes and hashed as it is written: it is never held in
memory, here or in the server. For each engine (SQLite by default) a kurir server is started
on loopback with KURIR_MAX_FILE_SIZE and KURIR_QUOTA_BYTES above the file's size, a user is
registered, and then:

 upload    `upload.start`, then every part PUT with several in flight (--concurrency, 6),
           each part's body streamed from the file with a Content-Length (no chunked
           encoding); MB/s of the parts, and each PUT's latency;
 finish    `upload.finish`: the server assembles the parts into one blob and hashes it;
           MB/s of that, and the sha256 and size it answers must be the local ones;
 download  `GET /api/v1/files/<file_id>` streamed: hashed while reading, the bytes dropped;
           MB/s and time to the first byte; the sha256 must be the local one;
 curl      the same GET again with curl into /dev/null (when curl is installed; --no-curl
           skips it): what the server serves to a client that costs little, since on a
           small machine the Python client's own cost caps the download above;
 range     a `Range` GET of a slice in the middle: 206, Content-Range, and the same bytes as
           that slice of the local file.

A sampling thread reads the server's VmRSS from /proc/<pid>/status every 50 ms and, at the
end of each phase, its VmHWM (the peak, reset at the start of each phase through
/proc/<pid>/clear_refs, so that a spike between two samples is not missed); the same for
this load generator, to show that it streams too. Reported: the idle RSS, the peak per
phase, and the peak above idle, which must stay bounded (far below the file's size).
Also measured first, as a yardstick: sha256 speed, and the disk's write+fsync speed both
as one stream and as separate files of one part each with one fsync each (the server's
way of storing parts), in the directory the server's data goes to.

Human-readable progress goes to stderr; the figures are ONE JSON object on the last line of
stdout. Every loop is bounded; the servers are stopped by PID and the temporary file and the
servers' data directories are removed, also on error or interrupt.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import math
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness import (
    CpuWindow,
    Interrupted,
    KurirServer,
    call_http,
    cancel_on_signals,
    emit,
    install_cleanup,
    log,
    machine_info,
    now,
    pick_loop,
    proc_cpu_user_sys,
    register_users,
    run,
    summary_ms,
    wait_until_quiet,
)

MiB = 1 << 20
GiB = 1 << 30
GEN_CHUNK = MiB  # the test file is written in chunks of this
CLIENT_CHUNK = 256 * 1024  # a part's body is streamed from the file in chunks of this
RSS_INTERVAL_S = 0.05
PART_TIMEOUT_S = 300.0
FINISH_TIMEOUT_S = 1800.0
RANGE_BYTES = 8 * MiB + 12345  # an odd length, not aligned to anything
DEFAULT_MAX_FILE = 2 << 30  # the server's defaults (kurir/config.py)
DEFAULT_QUOTA = 20 << 30


def mb_per_s(nbytes: int, seconds: float) -> float:
    return round(nbytes / 1e6 / max(seconds, 1e-9), 1)


def parse_size(text: str) -> int:
    """'2GiB', '128MiB', '64KiB' (powers of 1024), '500MB', '2G' (powers of 1000), '1048576'."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:([kmgt])(i?)b?|b?)\s*", text.lower())
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    if not m.group(2):
        return int(float(m.group(1)))
    power = "kmgt".index(m.group(2)) + 1
    return int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** power)


# ---------------------------------------------------------------- memory of processes


def vm_kib(pid: int | str) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB; (0, 0) once it is gone."""
    rss = hwm = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                elif line.startswith("VmHWM:"):
                    hwm = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, hwm


def reset_hwm(pid: int | str) -> bool:
    """Reset a process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0, own processes)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def mib(kib: int) -> float:
    return round(kib / 1024, 1)


class RssSampler(threading.Thread):
    """Samples the server's and this process's RSS every `interval` seconds, per phase.

    A thread rather than a task: the event loop may be busy (hashing, say) when a sample is
    due. `phase(name)` resets both peaks (VmHWM) as it begins and reads them as it ends.
    """

    def __init__(self, server_pid: int, interval: float = RSS_INTERVAL_S) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.pid = server_pid
        self.interval = interval
        self._stop_evt = threading.Event()
        self._lock = threading.Lock()
        self._current: dict[str, Any] | None = None
        self.phases: dict[str, dict[str, Any]] = {}
        self.hwm_reset_works = True

    def run(self) -> None:
        while not self._stop_evt.wait(self.interval):
            self.sample()

    def sample(self) -> None:
        srv, _ = vm_kib(self.pid)
        cli, _ = vm_kib("self")
        with self._lock:
            cur = self._current
            if cur is None:
                return
            cur["samples"] += 1
            if srv > cur["server_max"]:
                cur["server_max"] = srv
            if cli > cur["client_max"]:
                cur["client_max"] = cli

    def stop(self) -> None:
        self._stop_evt.set()
        if self.is_alive():
            self.join(5)

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[dict[str, Any]]:
        ok = reset_hwm(self.pid) & reset_hwm("self")
        self.hwm_reset_works = self.hwm_reset_works and ok
        srv0, _ = vm_kib(self.pid)
        cli0, _ = vm_kib("self")
        cur = {"samples": 0, "server_start": srv0, "server_max": srv0,
               "client_start": cli0, "client_max": cli0}
        with self._lock:
            self._current = cur
        try:
            yield cur
        finally:
            self.sample()
            with self._lock:
                self._current = None
            srv1, srv_hwm = vm_kib(self.pid)
            _, cli_hwm = vm_kib("self")
            self.phases[name] = {
                "samples": cur["samples"],
                "server_start_mib": mib(cur["server_start"]),
                "server_end_mib": mib(srv1),
                "server_max_sampled_mib": mib(cur["server_max"]),
                # the kernel's own peak since the phase began (0 if it cannot be reset)
                "server_peak_mib": mib(max(cur["server_max"], srv_hwm if ok else 0)),
                "client_max_sampled_mib": mib(cur["client_max"]),
                "client_peak_mib": mib(max(cur["client_max"], cli_hwm if ok else 0)),
            }


class PhaseCpu(CpuWindow):
    """CpuWindow plus the server's user/system split and its CPU per MB moved."""

    def __init__(self, srv: KurirServer, nbytes: int) -> None:
        super().__init__(srv.pid, srv.pg_backend_pids())
        self.nbytes = nbytes

    def __enter__(self) -> PhaseCpu:
        self.us0 = proc_cpu_user_sys(self.pid)
        super().__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        super().__exit__(*exc)
        u1, s1 = proc_cpu_user_sys(self.pid)
        self.user, self.sys = u1 - self.us0[0], s1 - self.us0[1]

    def figures(self) -> dict[str, Any]:
        out = super().figures()
        out["server_user_s"] = round(self.user, 3)
        out["server_sys_s"] = round(self.sys, 3)
        out["server_cpu_ms_per_MB"] = round(1000 * self.server / max(1e-9, self.nbytes / 1e6), 3)
        out["client_cpu_ms_per_MB"] = round(1000 * self.client / max(1e-9, self.nbytes / 1e6), 3)
        return out


# ---------------------------------------------------------------- the test file


def make_file(path: str, size: int) -> tuple[str, float]:
    """Write `size` random bytes to `path` in GEN_CHUNK pieces; return (sha256, seconds)."""
    digest = hashlib.sha256()
    t0 = now()
    left = size
    with open(path, "wb") as f:
        while left > 0:
            chunk = os.urandom(min(GEN_CHUNK, left))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest(), now() - t0


def sha256_of_range(fd: int, offset: int, length: int) -> str:
    digest = hashlib.sha256()
    end = offset + length
    pos = offset
    while pos < end:
        b = os.pread(fd, min(GEN_CHUNK, end - pos), pos)
        if not b:
            raise OSError("the test file is shorter than expected")
        digest.update(b)
        pos += len(b)
    return digest.hexdigest()


def yardstick(folder: str, size: int, part_size: int) -> dict[str, Any]:
    """What the machine does without kurir: sha256 speed, and write+fsync to `folder` as
    one stream and as one file per part with an fsync each (as the server stores parts)."""
    out: dict[str, Any] = {"fs": _fs_of(folder)}
    block = os.urandom(GEN_CHUNK)
    n = max(16, min(256, size // GEN_CHUNK))
    t0 = now()
    digest = hashlib.sha256()
    for _ in range(n):
        digest.update(block)
    out["sha256_MB_per_s"] = mb_per_s(n * GEN_CHUNK, now() - t0)

    path = os.path.join(folder, "yardstick-stream")
    t0 = now()
    try:
        with open(path, "wb") as f:
            for _ in range(n):
                f.write(block)
            f.flush()
            os.fsync(f.fileno())
        out["stream_write_fsync_MB_per_s"] = mb_per_s(n * GEN_CHUNK, now() - t0)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)

    parts = max(8, min(128, size // part_size))
    piece = (block * math.ceil(part_size / GEN_CHUNK))[:part_size]
    paths = [os.path.join(folder, f"yardstick-part-{i}") for i in range(parts)]
    t0 = now()
    try:
        for p in paths:
            with open(p, "wb") as f:
                f.write(piece)
                f.flush()
                os.fsync(f.fileno())
        out["part_files_fsync_MB_per_s"] = mb_per_s(parts * part_size, now() - t0)
        out["part_files_fsync_ms_each"] = round((now() - t0) / parts * 1000, 2)
        out["part_files"] = parts
    finally:
        for p in paths:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)
    out["measured_MiB"] = n
    return out


def _fs_of(path: str) -> str:
    try:
        out = subprocess.run(["df", "-T", path], capture_output=True, text=True, timeout=5)
        return out.stdout.splitlines()[-1].split()[1]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


def part_size_of(size: int) -> int:
    """The server's part size for `size` (services/files.py part_size_for), for the
    yardstick only: the benchmark itself uses what upload.start answers."""
    need = max(512 * 1024, math.ceil(size / 4000))
    return math.ceil(need / (64 * 1024)) * (64 * 1024)


# ---------------------------------------------------------------- optional profiling


class Profiler:
    """py-spy record of the server over one phase (--py-spy); stopped with SIGINT by PID,
    which makes py-spy write what it has."""

    def __init__(self, py_spy: str | None, folder: str, engine: str, native: bool,
                 fmt: str = "flamegraph") -> None:
        self.py_spy = py_spy
        self.fmt = fmt
        self.folder = folder
        self.engine = engine
        self.native = native
        self.files: list[str] = []

    @contextlib.contextmanager
    def record(self, pid: int, phase: str) -> Iterator[None]:
        if not self.py_spy:
            yield
            return
        os.makedirs(self.folder, exist_ok=True)
        ext = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}[self.fmt]
        out = os.path.join(self.folder, f"files-{self.engine}-{phase}.{ext}")
        cmd = [self.py_spy, "record", "--pid", str(pid), "-o", out, "-f", self.fmt,
               "--threads", "--native" if self.native else "--nonblocking"]
        with open(out + ".log", "wb") as err:
            spy = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT)
        time.sleep(0.5)  # let it attach
        try:
            yield
        finally:
            if spy.poll() is None:
                spy.send_signal(signal.SIGINT)
            try:
                spy.wait(30)
            except subprocess.TimeoutExpired:
                spy.kill()
                spy.wait(10)
            self.files.append(out)


# ---------------------------------------------------------------- one engine


async def upload_parts(http: httpx.AsyncClient, token: str, upload_id: str, fd: int,
                       size: int, part_size: int, concurrency: int) -> list[float]:
    """PUT every part, `concurrency` at a time, each streamed from the file; the PUT
    durations. Any failure raises (no retries: the benchmark must not hide one)."""
    parts = math.ceil(size / part_size)
    todo = iter(range(parts))
    took: list[float] = []

    async def body(offset: int, length: int) -> AsyncIterator[bytes]:
        pos, end = offset, offset + length
        while pos < end:
            b = os.pread(fd, min(CLIENT_CHUNK, end - pos), pos)
            if not b:
                raise OSError("the test file is shorter than expected")
            pos += len(b)
            yield b

    async def worker() -> None:
        for part in todo:  # one shared iterator: each part goes to one worker
            offset = part * part_size
            length = min(part_size, size - offset)
            t0 = now()
            r = await http.put(
                f"/api/v1/upload/{upload_id}/{part}", content=body(offset, length),
                headers={"Authorization": f"Bearer {token}", "Content-Length": str(length),
                         "Content-Type": "application/octet-stream"},
                timeout=PART_TIMEOUT_S)
            took.append(now() - t0)
            if r.status_code != 200 or r.json().get("result", {}).get("part") != part:
                raise RuntimeError(f"part {part}: HTTP {r.status_code} {r.text[:300]}")

    tasks = [asyncio.create_task(worker()) for _ in range(min(concurrency, parts))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    if len(took) != parts:
        raise RuntimeError(f"{len(took)} of {parts} parts were stored")
    return took


async def curl_get(url: str, token: str) -> dict[str, Any]:
    """GET with curl into /dev/null (the header goes through stdin, not the command line)."""
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-o", "/dev/null", "-H", "@-", "-w",
        "%{http_code} %{size_download} %{time_starttransfer} %{time_total}", url,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    try:
        stdout, stderr = await asyncio.wait_for(
            proc.communicate(f"Authorization: Bearer {token}\n".encode()), PART_TIMEOUT_S)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    fields = stdout.decode().split()
    if proc.returncode != 0 or len(fields) != 4:
        raise RuntimeError(f"curl failed ({proc.returncode}): {stderr.decode()[:300]}")
    return {"http_code": int(fields[0]), "bytes": int(fields[1]),
            "ttfb_ms": round(float(fields[2]) * 1000, 2),
            "curl_total_s": round(float(fields[3]), 3)}


def dir_bytes(path: str) -> int:
    total = 0
    for root, _, names in os.walk(path):
        for n in names:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, n)).st_size
    return total


async def run_engine(srv: KurirServer, args: argparse.Namespace, path: str,
                     sha: str) -> dict[str, Any]:
    size = args.size
    out: dict[str, Any] = {"settings": srv.settings()}
    prof = Profiler(args.py_spy, args.profile_dir, srv.engine, args.profile_native,
                    args.profile_format)
    sampler = RssSampler(srv.pid)
    limits = httpx.Limits(max_connections=args.concurrency + 2,
                          max_keepalive_connections=args.concurrency + 2)
    fd = os.open(path, os.O_RDONLY)
    try:
        async with httpx.AsyncClient(base_url=srv.url, timeout=60, limits=limits) as http:
            (user,) = await register_users(http, 1, "files")
            auth = {"Authorization": f"Bearer {user.token}"}
            # idle: after start-up and a registration, before any file traffic
            await http.get("/readyz")
            await asyncio.sleep(0.5)
            idle_kib, _ = vm_kib(srv.pid)
            out["server_rss_mib_idle"] = mib(idle_kib)
            out["client_rss_mib_idle"] = mib(vm_kib("self")[0])
            sampler.start()

            started = await call_http(http, "upload.start", user.token, name="bench.bin",
                                      mime_type="application/octet-stream", size=size)
            upload_id, part_size = started["upload_id"], int(started["part_size"])
            parts = math.ceil(size / part_size)
            out.update({"part_size": part_size, "parts": parts,
                        "concurrency": args.concurrency})
            log(f"[{srv.engine}] upload: {parts} parts of {part_size} bytes,"
                f" {args.concurrency} in flight ...")

            with sampler.phase("upload"), prof.record(srv.pid, "upload"), \
                    PhaseCpu(srv, size) as cpu:
                took = await upload_parts(http, user.token, upload_id, fd, size, part_size,
                                          args.concurrency)
            out["upload"] = {"MB_per_s": mb_per_s(size, cpu.wall), "wall_s": round(cpu.wall, 3),
                             "part_ms": summary_ms(took), "cpu": cpu.figures()}
            uploads_dir = os.path.join(srv.data_dir, "files", "uploads", upload_id)
            out["upload"]["parts_on_disk_bytes"] = dir_bytes(uploads_dir)
            status = await call_http(http, "upload.status", user.token, upload_id=upload_id)
            if sorted(status["parts"]) != list(range(parts)) or status.get("finished") or \
                    status.get("size", size) != size:
                raise RuntimeError(f"upload.status: {len(status['parts'])} of {parts} parts,"
                                   f" finished {status.get('finished')}, size {status.get('size')}")
            log(f"[{srv.engine}]   {out['upload']['MB_per_s']} MB/s;"
                f" server {out['upload']['cpu']['server_cpu_pct']} % CPU,"
                f" client {out['upload']['cpu']['client_cpu_pct']} %")

            log(f"[{srv.engine}] finish (assembly + sha256) ...")
            with sampler.phase("finish"), prof.record(srv.pid, "finish"), \
                    PhaseCpu(srv, size) as cpu:
                r = await http.post("/api/v1/upload.finish", json={"upload_id": upload_id},
                                    headers=auth, timeout=FINISH_TIMEOUT_S)
            body = r.json()
            if not body.get("ok"):
                raise RuntimeError(f"upload.finish: {body}")
            fin = body["result"]
            if fin["sha256"] != sha or int(fin["size"]) != size:
                raise RuntimeError(f"upload.finish answered {fin}, the file is {sha} {size}")
            file_id = fin["file_id"]
            out["finish"] = {"MB_per_s": mb_per_s(size, cpu.wall), "wall_s": round(cpu.wall, 3),
                             "sha256_matches": True, "cpu": cpu.figures()}
            files_dir = os.path.join(srv.data_dir, "files")
            out["finish"]["upload_parts_left_bytes"] = dir_bytes(
                os.path.join(files_dir, "uploads"))
            out["finish"]["blobs_bytes"] = dir_bytes(os.path.join(files_dir, "blobs"))
            log(f"[{srv.engine}]   {out['finish']['MB_per_s']} MB/s; sha256 matches;"
                f" parts left on disk {out['finish']['upload_parts_left_bytes']} bytes")

            log(f"[{srv.engine}] download (streamed, hashed, dropped) ...")
            digest = hashlib.sha256()
            got = 0
            with sampler.phase("download"), prof.record(srv.pid, "download"), \
                    PhaseCpu(srv, size) as cpu:
                t0 = now()
                async with http.stream("GET", f"/api/v1/files/{file_id}", headers=auth,
                                       timeout=PART_TIMEOUT_S) as resp:
                    ttfb = now() - t0
                    if resp.status_code != 200:
                        await resp.aread()
                        raise RuntimeError(f"download: HTTP {resp.status_code} {resp.text[:300]}")
                    length = int(resp.headers.get("content-length", -1))
                    async for chunk in resp.aiter_raw():
                        digest.update(chunk)
                        got += len(chunk)
            if got != size or digest.hexdigest() != sha:
                raise RuntimeError(f"download: {got} bytes, sha256 {digest.hexdigest()};"
                                   f" want {size}, {sha}")
            out["download"] = {"MB_per_s": mb_per_s(size, cpu.wall), "wall_s": round(cpu.wall, 3),
                               "ttfb_ms": round(ttfb * 1000, 2), "content_length": length,
                               "sha256_matches": True, "cpu": cpu.figures()}
            log(f"[{srv.engine}]   {out['download']['MB_per_s']} MB/s; sha256 matches;"
                f" server {out['download']['cpu']['server_cpu_pct']} % CPU,"
                f" client {out['download']['cpu']['client_cpu_pct']} %")

            if args.curl and shutil.which("curl"):
                log(f"[{srv.engine}] download again with curl to /dev/null (the yardstick of"
                    " a client that costs little) ...")
                ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
                with sampler.phase("download_curl"), PhaseCpu(srv, size) as cpu:
                    res = await curl_get(srv.url + f"/api/v1/files/{file_id}", user.token)
                ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
                curl_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
                out["download_curl"] = {**res, "MB_per_s": mb_per_s(size, cpu.wall),
                                        "wall_s": round(cpu.wall, 3), "cpu": cpu.figures(),
                                        "curl_cpu_pct": round(100 * curl_cpu / cpu.wall, 1)}
                if res["http_code"] != 200 or res["bytes"] != size:
                    raise RuntimeError(f"curl download: {res}")
                log(f"[{srv.engine}]   {out['download_curl']['MB_per_s']} MB/s;"
                    f" server {cpu.figures()['server_cpu_pct']} % CPU")

            n = min(RANGE_BYTES, size)
            start = max(0, size // 2 - n // 2)
            end = start + n - 1
            with sampler.phase("range"):
                t0 = now()
                rdig = hashlib.sha256()
                rgot = 0
                async with http.stream("GET", f"/api/v1/files/{file_id}",
                                       headers={**auth, "Range": f"bytes={start}-{end}"}) as resp:
                    code = resp.status_code
                    content_range = resp.headers.get("content-range", "")
                    async for chunk in resp.aiter_raw():
                        rdig.update(chunk)
                        rgot += len(chunk)
                range_s = now() - t0
            want_range = f"bytes {start}-{end}/{size}"
            same = rgot == n and rdig.hexdigest() == sha256_of_range(fd, start, n)
            out["range"] = {"first_byte": start, "last_byte": end, "status": code,
                            "content_range": content_range, "bytes": rgot,
                            "ms": round(range_s * 1000, 2), "MB_per_s": mb_per_s(rgot, range_s),
                            "bytes_match": same}
            if code != 206 or content_range != want_range or not same:
                raise RuntimeError(f"range: {out['range']} (want 206, {want_range!r})")
            log(f"[{srv.engine}] range {start}-{end}: 206, {rgot} bytes match,"
                f" {out['range']['ms']} ms")
    finally:
        sampler.stop()
        os.close(fd)

    phases = sampler.phases
    out["rss_by_phase"] = phases
    peak = max(p["server_peak_mib"] for p in phases.values())
    cpeak = max(p["client_peak_mib"] for p in phases.values())
    out["server_rss_mib"] = {
        "idle": out["server_rss_mib_idle"],
        "peak": peak,
        "peak_over_idle": round(peak - out["server_rss_mib_idle"], 1),
        "peak_over_idle_per_file_size_pct": round(
            100 * (peak - out["server_rss_mib_idle"]) / (size / MiB), 2),
        "end": mib(vm_kib(srv.pid)[0]),
        "peak_includes_vmhwm": sampler.hwm_reset_works,
    }
    out["client_rss_mib"] = {
        "idle": out["client_rss_mib_idle"],
        "peak": cpeak,
        "peak_over_idle": round(cpeak - out["client_rss_mib_idle"], 1),
    }
    if prof.files:
        out["profiles"] = prof.files
    return out


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="128 MiB instead of 1 GiB (< 1 minute)")
    p.add_argument("--size", type=parse_size,
                   help="the file's size, e.g. 2GiB, 512MiB, 1000000 (1GiB; quick 128MiB)")
    p.add_argument("--engines", default="sqlite", help="sqlite, postgres or both")
    p.add_argument("--concurrency", type=int, default=6, help="parts in flight (6)")
    p.add_argument("--tmp-dir", default=None,
                   help="where the test file goes (the system's temporary directory)")
    p.add_argument("--no-curl", dest="curl", action="store_false",
                   help="skip the second download with curl (when curl is installed)")
    p.add_argument("--skip-yardstick", action="store_true",
                   help="skip the sha256 and disk measurements without kurir")
    p.add_argument("--client-loop", choices=["uvloop", "asyncio"], default="uvloop",
                   help="event loop of this load generator (uvloop when installed)")
    p.add_argument("--server-env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment of the server")
    p.add_argument("--py-spy", help="path to py-spy: profile the server in each phase")
    p.add_argument("--profile-dir", default="/tmp/kurir-bench-profiles")
    p.add_argument("--profile-native", action="store_true", help="py-spy --native")
    p.add_argument("--profile-format", default="flamegraph",
                   choices=["flamegraph", "speedscope", "raw"])
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="S",
                   help="before each engine, wait up to S seconds for an idle machine")
    args = p.parse_args(argv)
    args.engines = [e for e in args.engines.split(",") if e]
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r}")
    for kv in args.server_env:
        if "=" not in kv:
            p.error(f"--server-env wants KEY=VALUE, not {kv!r}")
    if args.size is None:
        args.size = 128 * MiB if args.quick else GiB
    if not 1 <= args.size <= 64 * GiB:
        p.error("--size is 1 byte to 64 GiB")
    if not 1 <= args.concurrency <= 64:
        p.error("--concurrency is 1 to 64")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    install_cleanup()
    client_loop = pick_loop(args.client_loop)
    size = args.size
    server_env = {
        "KURIR_MAX_FILE_SIZE": str(max(DEFAULT_MAX_FILE, size)),
        "KURIR_QUOTA_BYTES": str(max(DEFAULT_QUOTA, 2 * size)),
        **dict(kv.split("=", 1) for kv in args.server_env),
    }
    result: dict[str, Any] = {
        "benchmark": "files",
        "machine": machine_info(),
        "params": {
            "quick": args.quick,
            "size_bytes": size,
            "size_MiB": round(size / MiB, 1),
            "concurrency": args.concurrency,
            "client_chunk_bytes": CLIENT_CHUNK,
            "rss_sample_interval_ms": int(RSS_INTERVAL_S * 1000),
            "client_event_loop": client_loop,
            "server_env": server_env,
            "transport": "HTTP/1.1 over loopback (httpx), one connection per part in flight",
        },
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    failed = False
    exit_code = 0
    tmp = tempfile.mkdtemp(prefix="kurir-bench-files-", dir=args.tmp_dir)
    try:
        free = shutil.disk_usage(tmp).free
        if free < 3 * size + GiB:
            raise RuntimeError(f"{free / GiB:.1f} GiB free in {tmp}; need about"
                               f" {(3 * size + GiB) / GiB:.1f} (the file, the parts, the blob)")
        if not args.skip_yardstick:
            log("yardstick: sha256, and write+fsync to the temporary directory ...")
            result["yardstick"] = yardstick(tmp, size, part_size_of(size))
            log(f"  {result['yardstick']}")
        path = os.path.join(tmp, "bench.bin")
        log(f"writing a {size / MiB:.0f} MiB test file in {GEN_CHUNK // 1024} KiB chunks ...")
        sha, took = make_file(path, size)
        result["test_file"] = {"sha256": sha, "write_s": round(took, 2),
                               "write_MB_per_s": mb_per_s(size, took)}
        for engine in args.engines:
            srv = KurirServer(engine, env=server_env)
            try:
                quiet = wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
                srv.start()
                log(f"[{engine}] server pid {srv.pid} on {srv.url}")
                res = run(cancel_on_signals(run_engine(srv, args, path, sha)), client_loop)
                if quiet:
                    res["quiet_wait"] = quiet
                result[engine] = res
                r = res["server_rss_mib"]
                log(f"[{engine}] server RSS idle {r['idle']} MiB, peak {r['peak']} MiB"
                    f" (+{r['peak_over_idle']} MiB for a {size / MiB:.0f} MiB file);"
                    f" client peak {res['client_rss_mib']['peak']} MiB")
            except Interrupted as e:
                log(f"[{engine}] interrupted by {e}; stopping")
                result[engine] = {"error": f"interrupted by {e}"}
                exit_code = 128 + e.signum
                break
            except Exception as e:
                failed = True
                log(f"[{engine}] FAILED: {type(e).__name__}: {e}")
                if srv.proc is not None:
                    log(srv.log_tail())
                result[engine] = {"error": f"{type(e).__name__}: {e}"}
            finally:
                with contextlib.suppress(Exception):
                    srv.stop()
    except Exception as e:
        failed = True
        log(f"FAILED: {type(e).__name__}: {e}")
        result["error"] = f"{type(e).__name__}: {e}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    emit(result)
    return exit_code or (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
