"""Configuration: defaults < TOML file < environment (KURIR_*) < command-line flags.

Every setting has an environment variable of its own name in capitals with the KURIR_
prefix (`data_dir` -> KURIR_DATA_DIR), as uvicorn does for its flags. An unknown key in the
TOML file or a value of the wrong type is an error at start, not a surprise later.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field, fields
from typing import Any


class ConfigError(Exception):
    pass


@dataclass
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./kurir-data"
    # empty: SQLite at <data_dir>/kurir.db; postgresql://… selects PostgreSQL
    database_url: str = ""
    sqlite_synchronous: str = "normal"
    db_pool_size: int = 8
    # the broker between server processes: empty for none (one process), redis://host:6379/0
    # (pub/sub) or nats://host:4222 (core NATS); many processes need PostgreSQL and a broker
    broker_url: str = ""
    # topics are named <prefix><topic>; empty: from the database's URL, so that clusters on
    # different databases can share one broker
    broker_prefix: str = ""
    # a server process that has not refreshed its heartbeat for this many seconds is taken
    # for dead by the others: the users it held go offline
    node_dead_after: int = 20
    # `kurir serve --workers N`: N processes on one port (PostgreSQL and a broker needed)
    workers: int = 1
    max_body_bytes: int = 1 << 20
    # files: the largest one (Telegram's 2 GiB), and what each user may store in all
    max_file_size: int = 2 << 30
    quota_bytes: int = 20 << 30
    # an upload not finished within this many seconds is dropped
    upload_expire_seconds: int = 86400
    # argon2id cost; RFC 9106's second recommended profile is 64 MiB, 3 passes
    argon2_memory_kib: int = 65536
    argon2_time_cost: int = 3
    signups_per_minute: float = 30.0
    login_failures_per_ip: float = 50.0
    # how long a checked token is trusted before it is looked up again: a session ended by
    # another process (`kurir bot revoke-token`, a second server) is refused within this
    token_cache_seconds: float = 30.0
    sends_per_second: float = 30.0
    send_burst: float = 100.0
    # how far behind a channel's log a getChannelDifference may be before it answers
    # too_long with recent messages instead (Telegram's channelDifferenceTooLong)
    channel_difference_too_long: int = 1000
    # the address people reach this server at (invite links name it)
    public_url: str = "http://127.0.0.1:8080"
    # bots (the Telegram Bot API): Telegram's flood limits, the upload size of its multipart
    # requests (50 MB, as Telegram), how long a button press waits for the bot's answer, and
    # the networks webhooks may go to besides public addresses (e.g. "127.0.0.0/8,10.0.0.0/8")
    bot_messages_per_second: float = 30.0
    bot_private_messages_per_second: float = 1.0
    bot_private_burst: float = 20.0
    bot_group_messages_per_minute: float = 20.0
    bot_upload_max_bytes: int = 50 << 20
    bot_callback_timeout: float = 10.0
    bot_webhook_networks: str = ""
    # uvicorn's WebSocket implementation: websockets-sansio (no task of its own per socket),
    # websockets (three tasks per socket), wsproto
    ws_impl: str = "websockets-sansio"
    # permessage-deflate on WebSockets: less traffic, about twice the memory per idle socket
    # (docs/benchmarks.md, bench/connections.py); seconds between keepalive pings
    ws_deflate: bool = False
    ws_ping_seconds: float = 30.0
    log_level: str = "info"
    log_json: bool = False
    access_log: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> str:
        return os.path.join(self.data_dir, "kurir.db")

    @property
    def engine(self) -> str:
        if not self.database_url or self.database_url.startswith("sqlite:"):
            return "sqlite"
        if self.database_url.startswith(("postgresql://", "postgres://")):
            return "postgres"
        raise ConfigError(f"unsupported database_url {self.database_url!r}")


_FIELDS = {f.name: f for f in fields(Config) if f.name != "extra"}


def _coerce(name: str, value: Any) -> Any:
    kind = type(getattr(Config(), name))
    if isinstance(value, kind):
        return value
    if isinstance(value, str):
        try:
            if kind is bool:
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return kind(value)
        except ValueError:
            pass
    if kind is float and isinstance(value, int):
        return float(value)
    raise ConfigError(f"{name}: expected {kind.__name__}, got {value!r}")


def load(config_file: str | None = None, overrides: dict[str, Any] | None = None,
         environ: dict[str, str] | None = None) -> Config:
    values: dict[str, Any] = {}
    if config_file:
        try:
            with open(config_file, "rb") as f:
                data = tomllib.load(f)
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read {config_file}: {e}") from e
        section = data.get("kurir", data)
        for key, value in section.items():
            name = key.replace("-", "_")
            if name not in _FIELDS:
                raise ConfigError(f"{config_file}: unknown setting {key!r}")
            values[name] = _coerce(name, value)
    env = os.environ if environ is None else environ
    for name in _FIELDS:
        raw = env.get("KURIR_" + name.upper())
        if raw is not None:
            values[name] = _coerce(name, raw)
    for name, value in (overrides or {}).items():
        if value is not None:
            values[name] = _coerce(name, value)
    config = dataclasses.replace(Config(), **values)
    _ = config.engine  # fail now on a bad URL
    from kurir.bus import SCHEMES

    if config.broker_url and not config.broker_url.startswith(SCHEMES):
        raise ConfigError(f"unsupported broker_url {config.broker_url!r}:"
                          " redis://… or nats://…")
    if config.workers < 1:
        raise ConfigError("workers: at least 1")
    if config.workers > 1 and (config.engine != "postgres" or not config.broker_url
                               or config.broker_url == "memory:"):
        raise ConfigError("workers > 1 needs PostgreSQL (database_url) and a broker"
                          " (broker_url): processes share nothing else")
    return config
