"""Start a real kurir server for tests: a subprocess on a free loopback port.

Each server gets its own SQLite data directory, or its own PostgreSQL database on the
machine's server (127.0.0.1:5432, as on CI), created for it and dropped after.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

import httpx
import psycopg

PG_ADMIN_URL = os.environ.get("KURIR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ENGINES = [e for e in os.environ.get("KURIR_TEST_ENGINES", "sqlite,postgres").split(",") if e]

# Cheap password hashing and generous flood limits: tests register many users from one IP.
TEST_ENV = {
    "KURIR_ARGON2_MEMORY_KIB": "1024",
    "KURIR_ARGON2_TIME_COST": "1",
    "KURIR_SIGNUPS_PER_MINUTE": "100000",
    "KURIR_SENDS_PER_SECOND": "100000",
    "KURIR_SEND_BURST": "100000",
    "KURIR_LOG_LEVEL": "warning",
    # bots: webhooks to test servers on loopback; flood limits loose (tests/test_botapi.py
    # checks Telegram's defaults on a server of its own)
    "KURIR_BOT_WEBHOOK_NETWORKS": "127.0.0.0/8,::1/128",
    "KURIR_BOT_MESSAGES_PER_SECOND": "1000",
    "KURIR_BOT_PRIVATE_MESSAGES_PER_SECOND": "1000",
    "KURIR_BOT_PRIVATE_BURST": "1000",
    "KURIR_BOT_GROUP_MESSAGES_PER_MINUTE": "60000",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def create_pg_database() -> str:
    """A fresh database; fails loudly (no skip) when PostgreSQL cannot be reached."""
    name = "kurir_test_" + secrets.token_hex(6)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    engine: str
    data_dir: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="kurir-test-"))
    database_url: str = ""
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> Server:
        if self.engine == "postgres" and not self.database_url:
            self.database_url = create_pg_database()
        self.port = self.port or free_port()
        env = {**os.environ, **TEST_ENV, **self.env}
        cmd = [sys.executable, "-m", "kurir", "serve", "--host", "127.0.0.1",
               "--port", str(self.port), "--data-dir", self.data_dir]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        self.log = open(os.path.join(self.data_dir, "server.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kurir exited with {self.proc.returncode}: {self.read_log()}")
            try:
                if httpx.get(self.url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("kurir did not become ready: " + self.read_log())

    def read_log(self) -> str:
        with open(os.path.join(self.data_dir, "server.log"), "rb") as f:
            return f.read().decode(errors="replace")[-4000:]

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.log.close()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if hasattr(self, "log"):
            self.log.close()

    def drop(self) -> None:
        self.stop()
        if self.database_url:
            drop_pg_database(self.database_url)
        shutil.rmtree(self.data_dir, ignore_errors=True)
