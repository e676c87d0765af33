"""The one wiring point: build the whole application from its config."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import json
import logging
import os
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import msgspec
from argon2 import PasswordHasher
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute

from kurir.api import accounts as accounts_api
from kurir.api import bots as bots_api
from kurir.api import channels as channels_api
from kurir.api import chats as chats_api
from kurir.api import files as files_api
from kurir.api import messages as messages_api
from kurir.api import threads as threads_api
from kurir.api.context import Services
from kurir.api.openapi import document
from kurir.api.registry import Registry
from kurir.blobs.local import LocalBlobs
from kurir.bus import default_prefix, open_bus
from kurir.bus.memory import MemoryBus
from kurir.bus.port import Bus
from kurir.config import Config
from kurir.domain import errors
from kurir.domain.ratelimit import RateLimiter
from kurir.live import Hub
from kurir.services.accounts import Accounts
from kurir.services.bots import Bots
from kurir.services.channels import Channels
from kurir.services.chats import Chats
from kurir.services.files import Files
from kurir.services.media import Media
from kurir.services.messaging import Messaging
from kurir.services.presence import Presence
from kurir.services.sync import Sync
from kurir.services.threads import Threads
from kurir.storage.port import Database
from kurir.storage.postgres import PostgresDatabase
from kurir.storage.sqlite import SqliteDatabase
from kurir.transports.botapi.endpoint import BotApiEndpoint
from kurir.transports.botapi.methods import Context as BotContext
from kurir.transports.botapi.methods import Limits as BotLimits
from kurir.transports.errors import error_body
from kurir.transports.files import FileEndpoints
from kurir.transports.http import ApiEndpoint
from kurir.transports.metrics import Metrics
from kurir.transports.ws import WsEndpoint
from kurir.web import shell, static_files

log = logging.getLogger("kurir")
SWEEP_EVERY = 600  # seconds between looks for abandoned uploads and stale bot updates
GC_YOUNG = 50_000  # allocations between young collections (Python's default: 700)
BOT_UPDATES_KEPT = 86400  # as Telegram: a bot's updates wait for it at most a day


CONFIG_ENV = "KURIR_SERVE_SETTINGS"  # the settings `kurir serve --workers N` hands down


def config_to_env(config: Config) -> str:
    values = dataclasses.asdict(config)
    values.pop("extra", None)
    return json.dumps(values)


def app_from_env() -> Starlette:
    """The app of one of `kurir serve --workers N`'s processes."""
    from kurir.config import load
    from kurir.logs import setup as setup_logs

    config = load(None, json.loads(os.environ[CONFIG_ENV]), environ={})
    setup_logs(config.log_level, config.log_json)
    return build_app(config)


def open_database(config: Config) -> SqliteDatabase | PostgresDatabase:
    if config.engine == "postgres":
        return PostgresDatabase(config.database_url, pool_size=config.db_pool_size)
    return SqliteDatabase(config.sqlite_path, synchronous=config.sqlite_synchronous)


@dataclass
class Kurir:
    """The parts of a running server, for the CLI and tests that need one directly."""

    config: Config
    db: SqliteDatabase | PostgresDatabase
    services: Services
    registry: Registry
    hub: Hub
    bus: Bus
    presence: Presence

    @property
    def alone(self) -> bool:
        """No broker: this process is the only one serving this database."""
        return isinstance(self.bus, MemoryBus)


def build_core(config: Config) -> Kurir:
    db = open_database(config)
    # a process's name among its peers: named in the online table and in button presses
    node_id = secrets.randbits(31) + 1
    bus = open_bus(config.broker_url,
                   config.broker_prefix or default_prefix(config.database_url or
                                                          os.path.abspath(config.sqlite_path)),
                   f"kurir-{node_id}")
    hub = Hub(bus, node_id)
    hasher = PasswordHasher(memory_cost=config.argon2_memory_kib, time_cost=config.argon2_time_cost)
    channels = Channels(db, hub)
    files = Files(db, LocalBlobs(os.path.join(config.data_dir, "files")), config.max_file_size,
                  config.quota_bytes)
    messaging = Messaging(db, hub, config.sends_per_second, config.send_burst)
    accounts = Accounts(db, hub, hasher, config.signups_per_minute,
                        config.login_failures_per_ip, config.token_cache_seconds)
    services = Services(
        accounts=accounts,
        messaging=messaging,
        files=files,
        media=Media(db, messaging, files),
        chats=Chats(db, hub, channels),
        channels=channels,
        threads=Threads(db, hub),
        sync=Sync(db, config.channel_difference_too_long),
        bots=Bots(db, hub, accounts, callback_timeout=config.bot_callback_timeout,
                  webhook_networks=config.bot_webhook_networks,
                  webhook_lease=3 * config.node_dead_after),
    )
    registry = Registry(
        [*accounts_api.methods(services), *messages_api.methods(services),
         *chats_api.methods(services), *channels_api.methods(services),
         *threads_api.methods(services), *files_api.methods(services),
         *bots_api.methods(services)]
    )
    return Kurir(config, db, services, registry, hub, bus,
                 Presence(db, hub, config.node_dead_after))


def build_app(config: Config) -> Starlette:
    core = build_core(config)
    db: Database = core.db
    metrics = Metrics()
    metrics.gauges["kurir_websocket_connections"] = lambda: core.hub.connection_count
    openapi = msgspec.json.encode(document(core.registry))
    api = ApiEndpoint(core.registry, core.services.accounts, metrics, config.max_body_bytes)
    file_routes = FileEndpoints(core.services.accounts, core.services.files)
    bot_limits = BotLimits(
        overall=RateLimiter(rate=config.bot_messages_per_second,
                            burst=max(1.0, config.bot_messages_per_second)),
        private=RateLimiter(rate=config.bot_private_messages_per_second,
                            burst=max(1.0, config.bot_private_burst)),
        group=RateLimiter(rate=config.bot_group_messages_per_minute / 60,
                          burst=max(1.0, config.bot_group_messages_per_minute)),
    )
    botapi = BotApiEndpoint(
        core.services.accounts, core.services.files,
        BotContext(core.services, core.services.bots, bot_limits, config.public_url.rstrip("/")),
        metrics, config.bot_upload_max_bytes)
    ws = WsEndpoint(core.registry, core.services.accounts, core.services.sync, core.hub,
                    core.presence, metrics)

    async def openapi_json(request: Request) -> Response:
        return Response(openapi, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True, "node": core.hub.node_id, "pid": os.getpid()})

    async def readyz(request: Request) -> Response:
        def ping(tx) -> bool:  # type: ignore[no-untyped-def]
            return tx.one("SELECT 1") is not None

        try:
            await db.read(ping)
        except Exception as e:  # the database is down: not ready, and say why
            return JSONResponse({"ok": False, "error": str(e)[:200]}, status_code=503)
        return JSONResponse({"ok": True})

    async def no_route(request: Request, exc: Exception) -> Response:
        # every failure under /api carries the envelope, even for a path that names nothing
        code = getattr(exc, "status_code", 404)
        err = errors.METHOD_INVALID("no such method") if code == 404 else errors.BAD_REQUEST(
            f"{request.method} is not allowed here"
        )
        err.code = code
        return Response(error_body(err), status_code=code, media_type="application/json")

    async def sweep_uploads() -> None:
        # abandoned uploads would hold quota and disk for ever
        while True:
            await asyncio.sleep(SWEEP_EVERY)
            try:
                dropped = await core.services.files.sweep(config.upload_expire_seconds)
            except Exception:  # keep sweeping; the next round may succeed
                log.exception("sweeping stale uploads failed")
            else:
                if dropped:
                    log.info("dropped %d abandoned uploads", dropped)
            try:
                expired = await core.services.bots.sweep(BOT_UPDATES_KEPT)
            except Exception:
                log.exception("sweeping old bot updates failed")
            else:
                if expired:
                    log.info("dropped %d bot updates no bot took in a day", expired)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await core.db.open()
        await core.bus.start()
        await core.presence.start(alone=core.alone)
        sweeper = asyncio.create_task(sweep_uploads())
        await core.services.bots.start_all_webhooks()
        # what start-up made lives as long as the process: out of the collector's way, so
        # that a full collection walks the connections' objects only; and full collections
        # seldom: each walks every socket's objects (0.7 s at 10,000 sockets, stopping the
        # event loop), while the garbage cycles a server makes die young
        gc.freeze()
        gc.set_threshold(GC_YOUNG, 20, 100)
        log.info("kurir ready on %s (%s), %s, node %d, pid %d", config.engine,
                 config.sqlite_path if config.engine == "sqlite" else "postgresql",
                 "alone" if core.alone else "broker " + config.broker_url.split("://")[0],
                 core.hub.node_id, os.getpid())
        try:
            yield
        finally:
            sweeper.cancel()
            await core.services.bots.stop()
            await core.presence.stop()
            await core.bus.close()
            await core.db.close()

    app = Starlette(
        routes=[
            Route("/api/v1/openapi.json", openapi_json, methods=["GET"]),
            Route("/api/v1/upload/{upload_id:str}/{part:int}", file_routes.put_part,
                  methods=["PUT"]),
            Route("/api/v1/files/{file_id:str}", file_routes.get_file, methods=["GET", "HEAD"]),
            Route("/api/v1/{method:str}", api.handle, methods=["POST"]),
            WebSocketRoute("/api/v1/ws", ws),
            Route("/bot{token:str}/{method:str}", botapi.handle, methods=["GET", "POST"]),
            Route("/file/bot{token:str}/{path:path}", botapi.file, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics.endpoint, methods=["GET"]),
            Route("/", shell, methods=["GET"]),
            Route("/+{hash:str}", shell, methods=["GET"]),
            Mount("/static", app=static_files(), name="static"),
        ],
        lifespan=lifespan,
        exception_handlers={404: no_route, 405: no_route},
    )
    app.state.kurir = core
    return app
