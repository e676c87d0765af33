"""The `kurir` command as a user runs it: admin create-user / list-users, `serve` configured
by a TOML file, by KURIR_* environment variables and by flags, and a clear exit on bad config.

Every command is a real subprocess (`python -m kurir`) with a timeout; servers listen on
free loopback ports and are stopped at the end of each test.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import unique_name
from tests.server import ENGINES, create_pg_database, drop_pg_database, free_port

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse"
TIMEOUT = 60


def base_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any KURIR_* setting, plus cheap password hashing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KURIR_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["KURIR_ARGON2_MEMORY_KIB"] = "1024"
    env["KURIR_ARGON2_TIME_COST"] = "1"
    env["KURIR_LOG_LEVEL"] = "warning"
    env.update(extra)
    return env


def kurir(*args: str, cwd: Path, env: dict[str, str] | None = None,
          timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kurir", *args], cwd=cwd, env=env or base_env(),
        stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout,
    )


def toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_toml(path: Path, **settings: object) -> Path:
    lines = []
    for key, value in settings.items():
        if isinstance(value, str):
            lines.append(f"{key} = {toml_str(value)}")
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        else:
            lines.append(f"{key} = {value}")
    path.write_text("\n".join(lines) + "\n")
    return path


def is_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


@contextmanager
def serving(*args: str, port: int, cwd: Path, env: dict[str, str] | None = None,
            timeout: float = 30) -> Iterator[subprocess.Popen[bytes]]:
    """`kurir serve ARGS` until it answers /readyz on `port`; stopped on exit."""
    log_path = cwd / f"serve-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kurir", "serve", *args], cwd=cwd, env=env or base_env(),
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + timeout
            while not is_ready(port):
                if proc.poll() is not None:
                    raise AssertionError(
                        f"kurir serve exited with {proc.returncode}: {log_path.read_text()}")
                if time.monotonic() > deadline:
                    raise AssertionError(f"kurir serve not ready: {log_path.read_text()}")
                time.sleep(0.05)
            yield proc
        finally:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(15)


def login(port: int, username: str, password: str) -> httpx.Response:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
        return client.post("/api/v1/auth.login",
                           json={"username": username, "password": password})


@pytest.fixture(params=ENGINES)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """'' for SQLite (in the data dir), else a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        yield ""
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


# admin -------------------------------------------------------------------------------------

def test_admin_create_user_then_list_users(tmp_path: Path) -> None:
    data = tmp_path / "data"
    alice, bob = unique_name("alice"), unique_name("bob")
    r = kurir("admin", "create-user", alice, "--password", PASSWORD, "--display-name",
              "Alice Admin", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"@{alice}" in r.stdout
    r = kurir("admin", "create-user", bob, "--data-dir", str(data), cwd=tmp_path,
              env=base_env(KURIR_NEW_PASSWORD=PASSWORD))
    assert r.returncode == 0, r.stderr

    r = kurir("admin", "list-users", "--data-dir", str(data), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    lines = [line for line in r.stdout.splitlines() if line.strip()]
    assert len(lines) == 2, r.stdout
    assert f"@{alice}" in lines[0] and "Alice Admin" in lines[0]
    assert f"@{bob}" in lines[1]
    # nothing was written outside the data dir given
    assert not (tmp_path / "kurir-data").exists()


def test_admin_create_user_refusals(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    name = "Taken" + unique_name("x")[2:]
    assert kurir("admin", "create-user", name, "--password", PASSWORD, "--data-dir", data,
                 cwd=tmp_path).returncode == 0
    for username, password, expected in (
        (name.lower(), PASSWORD, "USERNAME_OCCUPIED"),
        ("1bad", PASSWORD, "USERNAME_INVALID"),
        (unique_name("weak"), "short", "PASSWORD_TOO_WEAK"),
    ):
        r = kurir("admin", "create-user", username, "--password", password, "--data-dir", data,
                  cwd=tmp_path)
        assert r.returncode == 1, (username, r.stdout, r.stderr)
        assert expected in r.stderr, r.stderr
    r = kurir("admin", "list-users", "--data-dir", data, cwd=tmp_path)
    assert [line.split("\t")[1] for line in r.stdout.splitlines() if line.strip()] == [
        "@" + name]


def test_admin_stores_passwords_as_argon2_hashes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = unique_name("hashed")
    password = "a secret nobody knows 77"
    r = kurir("admin", "create-user", name, "--password", password, "--data-dir", str(data),
              cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    dbs = list(data.glob("*.db"))
    assert len(dbs) == 1, dbs
    with sqlite3.connect(dbs[0]) as conn:
        rows = conn.execute("SELECT password_hash FROM users WHERE username = ?",
                            (name,)).fetchall()
    conn.close()
    assert len(rows) == 1
    stored = rows[0][0]
    assert stored.startswith("$argon2id$"), stored
    assert password not in stored


# serve: configuration ----------------------------------------------------------------------

def test_serve_from_config_file_and_login_as_cli_user(tmp_path: Path, database: str) -> None:
    data = tmp_path / "data"
    name = unique_name("cli")
    admin_args = ["--data-dir", str(data)]
    if database:
        admin_args += ["--database-url", database]
    r = kurir("admin", "create-user", name, "--password", PASSWORD, "--display-name",
              "From The CLI", *admin_args, cwd=tmp_path)
    assert r.returncode == 0, r.stderr

    port = free_port()
    settings: dict[str, object] = {"data_dir": str(data), "port": port, "host": "127.0.0.1"}
    if database:
        settings["database_url"] = database
    config = write_toml(tmp_path / "kurir.toml", **settings)
    with serving("--config", str(config), port=port, cwd=tmp_path):
        r = login(port, name, PASSWORD)
        assert r.status_code == 200, r.text
        user = r.json()["result"]["user"]
        assert (user["username"], user["display_name"]) == (name, "From The CLI")
        # the admin's own session (create-user) left no session behind
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            token = r.json()["result"]["token"]
            sessions = client.post("/api/v1/account.getSessions", json={},
                                   headers={"Authorization": f"Bearer {token}"}).json()
        assert [s["current"] for s in sessions["result"]] == [True]
        wrong = login(port, name, "not the password")
        assert (wrong.status_code, wrong.json()["error"]["type"]) == (401, "PASSWORD_INVALID")
    # the TOML's data dir was used (not ./kurir-data under the working directory)
    assert not (tmp_path / "kurir-data").exists()
    if not database:
        assert list(data.glob("*.db"))


def test_serve_port_from_environment(tmp_path: Path) -> None:
    data = tmp_path / "data"
    name = unique_name("envy")
    assert kurir("admin", "create-user", name, "--password", PASSWORD, cwd=tmp_path,
                 env=base_env(KURIR_DATA_DIR=str(data))).returncode == 0
    port = free_port()
    env = base_env(KURIR_PORT=str(port), KURIR_DATA_DIR=str(data), KURIR_HOST="127.0.0.1")
    with serving(port=port, cwd=tmp_path, env=env):
        r = login(port, name, PASSWORD)
        assert r.status_code == 200, r.text


def test_serve_precedence_file_then_environment_then_flag(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file_port, env_port, flag_port = free_port(), free_port(), free_port()
    assert len({file_port, env_port, flag_port}) == 3
    config = write_toml(tmp_path / "kurir.toml", data_dir=str(data), port=file_port)
    env = base_env(KURIR_PORT=str(env_port))
    with serving("--config", str(config), port=env_port, cwd=tmp_path, env=env):
        assert not is_ready(file_port)
    with serving("--config", str(config), "--port", str(flag_port), port=flag_port,
                 cwd=tmp_path, env=env):
        assert not is_ready(file_port) and not is_ready(env_port)


def test_config_file_named_by_environment(tmp_path: Path) -> None:
    port = free_port()
    config = write_toml(tmp_path / "k.toml", data_dir=str(tmp_path / "data"), port=port)
    with serving(port=port, cwd=tmp_path, env=base_env(KURIR_CONFIG=str(config))):
        pass


# serve: bad configuration ------------------------------------------------------------------

@pytest.mark.parametrize(("content", "mentions"), [
    ('data_dir = "{data}"\nprot = 8080\n', "prot"),
    ('data_dir = "{data}"\nport = "eighty"\n', "port"),
    ('data_dir = "{data}"\nport = \n', "toml"),
])
def test_bad_config_file_exits_with_2(tmp_path: Path, content: str, mentions: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content.replace("{data}", str(tmp_path / "data")))
    r = kurir("serve", "--config", str(config), cwd=tmp_path, timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert mentions in r.stderr.lower(), r.stderr
    assert "Traceback" not in r.stderr
    # the admin commands read the same file and refuse it the same way
    r = kurir("admin", "list-users", "--config", str(config), cwd=tmp_path, timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr


def test_missing_config_file_exits_with_2(tmp_path: Path) -> None:
    r = kurir("serve", "--config", str(tmp_path / "absent.toml"), cwd=tmp_path, timeout=30)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "absent.toml" in r.stderr
    assert "Traceback" not in r.stderr


def test_bad_environment_value_exits_with_2(tmp_path: Path) -> None:
    r = kurir("serve", "--data-dir", str(tmp_path / "data"), cwd=tmp_path, timeout=30,
              env=base_env(KURIR_PORT="not-a-port"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "port" in r.stderr.lower()
    assert "Traceback" not in r.stderr
