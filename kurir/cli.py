"""The `kurir` command: serve, and admin tasks on the same database."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from typing import Any

from kurir import __version__
from kurir.config import Config, ConfigError, load
from kurir.domain.errors import ApiError
from kurir.logs import setup as setup_logs


def _common(p: argparse.ArgumentParser, default: object = None) -> None:
    """The database options; on a sub-subcommand with SUPPRESS as the default, so that
    `kurir admin --data-dir X list-users` and `kurir admin list-users --data-dir X` both work."""
    p.add_argument("--config", default=default,
                   help="a TOML file of settings (env KURIR_CONFIG)")
    p.add_argument("--data-dir", default=default, help="where the SQLite database and files"
                   " live (env KURIR_DATA_DIR, default ./kurir-data)")
    p.add_argument("--database-url", default=default, help="postgresql://… to use PostgreSQL"
                   " instead of SQLite (env KURIR_DATABASE_URL)")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kurir", description="A self-hostable messenger.")
    p.add_argument("--version", action="version", version=f"kurir {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the server")
    _common(serve)
    serve.add_argument("--host", help="address to listen on (env KURIR_HOST, default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (env KURIR_PORT, default 8080)")
    serve.add_argument("--log-level", help="debug, info, warning (env KURIR_LOG_LEVEL)")
    serve.add_argument("--workers", type=int, help="processes serving the one port (env"
                       " KURIR_WORKERS, default 1; more need PostgreSQL and --broker-url)")
    serve.add_argument("--broker-url", help="redis://… or nats://… between server processes"
                       " (env KURIR_BROKER_URL; default none: one process)")

    admin = sub.add_parser("admin", help="administer users")
    _common(admin)
    asub = admin.add_subparsers(dest="admin_command", required=True)
    create = asub.add_parser("create-user", help="create an account")
    create.add_argument("username")
    create.add_argument("--display-name")
    create.add_argument("--password", help="default: asked for (or env KURIR_NEW_PASSWORD)")
    listing = asub.add_parser("list-users", help="list accounts")
    listing.add_argument("--limit", type=int, default=100)
    listing.add_argument("--after-id", type=int, default=0)
    for leaf in (create, listing):
        _common(leaf, argparse.SUPPRESS)

    bot = sub.add_parser("bot", help="make and manage bots (BotFather's job)")
    _common(bot)
    bsub = bot.add_subparsers(dest="bot_command", required=True)
    bcreate = bsub.add_parser("create", help="create a bot and print its token")
    bcreate.add_argument("--owner", required=True, help="the username of the bot's owner")
    bcreate.add_argument("--username", required=True, help="the bot's username, ending in 'bot'")
    bcreate.add_argument("--display-name", help="default: the username")
    brevoke = bsub.add_parser("revoke-token", help="give a bot a new token; the old one dies")
    brevoke.add_argument("--owner", required=True)
    brevoke.add_argument("--username", required=True, help="the bot's username")
    for leaf in (bcreate, brevoke):
        _common(leaf, argparse.SUPPRESS)

    send = sub.add_parser("send-file", help="upload a file and send it to a user or a chat")
    send.add_argument("--server", default="http://127.0.0.1:8080",
                      help="the server's URL (default http://127.0.0.1:8080)")
    send.add_argument("--username", required=True, help="the account to send as")
    send.add_argument("--password", help="default: env KURIR_PASSWORD, else asked for")
    to = send.add_mutually_exclusive_group(required=True)
    to.add_argument("--to-user", metavar="NAME", help="the username to send to")
    to.add_argument("--chat-id", type=int, help="the chat to send to")
    send.add_argument("--kind", default="document",
                      choices=["document", "photo", "video", "audio", "voice"])
    send.add_argument("--caption", default="")
    send.add_argument("path", help="the file to send")
    return p


def _config(args: argparse.Namespace) -> Config:
    import os

    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "log_level": getattr(args, "log_level", None),
        "workers": getattr(args, "workers", None),
        "broker_url": getattr(args, "broker_url", None),
    }
    return load(args.config or os.environ.get("KURIR_CONFIG"), overrides)


def serve(config: Config) -> None:
    import uvicorn

    from kurir.app import CONFIG_ENV, build_app, config_to_env

    setup_logs(config.log_level, config.log_json)
    options: dict[str, Any] = dict(
        host=config.host, port=config.port, log_level=config.log_level,
        access_log=config.access_log, lifespan="on", ws_max_size=config.max_body_bytes,
        timeout_graceful_shutdown=5, ws=config.ws_impl,
        ws_per_message_deflate=config.ws_deflate, ws_ping_interval=config.ws_ping_seconds,
        ws_ping_timeout=config.ws_ping_seconds,
    )
    if config.workers == 1:
        uvicorn.run(build_app(config), **options)
        return
    # N processes accept on the one socket uvicorn binds here; each builds its app from the
    # settings handed down in the environment, and a worker that dies is started again
    import os

    os.environ[CONFIG_ENV] = config_to_env(config)
    uvicorn.run("kurir.app:app_from_env", factory=True, workers=config.workers, **options)


async def _admin(config: Config, args: argparse.Namespace) -> int:
    import os

    from kurir.app import build_core

    core = build_core(config)
    await core.db.open()
    await core.bus.start()  # a token revoked here is dropped by running servers at once
    try:
        accounts = core.services.accounts
        if args.command == "bot":
            owner = await accounts.get_user(None, args.owner)
            if args.bot_command == "create":
                made = await core.services.bots.create(owner.id, args.username,
                                                       args.display_name or args.username)
                print(made["token"])
            else:
                bot = await accounts.get_user(None, args.username)
                print((await core.services.bots.revoke_token(owner.id, bot.id))["token"])
            return 0
        if args.admin_command == "create-user":
            password = args.password or os.environ.get("KURIR_NEW_PASSWORD") or getpass.getpass()
            user = await accounts.admin_create_user(
                args.username, password, args.display_name or args.username
            )
            print(f"created user {user.id} @{user.username}")
        else:
            for u in await accounts.admin_list_users(args.after_id, args.limit):
                kind = " (bot)" if u.is_bot else ""
                print(f"{u.id}\t@{u.username}\t{u.display_name}{kind}")
        return 0
    except ApiError as e:
        print(f"error: {e.type}: {e.message}", file=sys.stderr)
        return 1
    finally:
        await core.bus.close()
        await core.db.close()


_SEND_ATTEMPTS = 4


def send_file(args: argparse.Namespace) -> int:
    """`kurir send-file`: log in, upload with a progress bar on stderr, send, print the
    message id. A transient failure is retried a few times (an upload resumes where it
    stopped); any failure ends with a message on stderr and exit status 1."""
    import os

    if not os.path.isfile(args.path):
        print(f"error: {args.path}: no such file", file=sys.stderr)
        return 1
    password = args.password or os.environ.get("KURIR_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            print("error: no password: give --password or set KURIR_PASSWORD", file=sys.stderr)
            return 1
        password = getpass.getpass()
    try:
        return asyncio.run(_send_file(args, password))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 1


async def _send_file(args: argparse.Namespace, password: str) -> int:
    import os

    from kurir.client import Client, KurirError, UploadState, new_random_id
    from kurir.client.files import transient
    from kurir.client.progress import ProgressBar

    bar = ProgressBar(os.path.basename(args.path), sys.stderr)
    state = UploadState()
    random_id = new_random_id()  # the same on every attempt: a repeated send is not doubled

    async def retrying(what: str, step: Any) -> Any:
        for attempt in range(1, _SEND_ATTEMPTS + 1):
            try:
                return await step()
            except KurirError as exc:
                if attempt == _SEND_ATTEMPTS or not transient(exc):
                    raise
                bar.note(f"{what} failed ({exc.type}: {exc.message}); retrying")
                await asyncio.sleep(0.5 * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    async with Client(args.server, flood_retry=True) as client:
        try:
            await retrying("login", lambda: client.login(args.username, password,
                                                         device="kurir send-file"))
            target: dict[str, Any] = {"chat_id": args.chat_id}
            if args.chat_id is not None:  # before uploading: a wrong chat is told at once
                await retrying("finding the chat", lambda: client.call(
                    "chats.get", chat_id=args.chat_id))
            else:
                user = await retrying("finding the user", lambda: client.call(
                    "users.get", username=args.to_user.removeprefix("@")))
                target = {"user_id": user["id"]}
            uploaded = await retrying("upload", lambda: client.upload(
                args.path, progress=bar, resume=state))
            bar.finish()
            params = {"file_id": uploaded["file_id"], "kind": args.kind,
                      "random_id": random_id, **target}
            if args.caption:
                params["caption"] = args.caption
            message = await retrying("send", lambda: client.call("messages.sendMedia",
                                                                 **params))
        except KurirError as exc:
            bar.finish()
            print(f"error: {exc.type}: {exc.message}", file=sys.stderr)
            return 1
        except OSError as exc:
            bar.finish()
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(message["id"])
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "send-file":
        return send_file(args)
    try:
        config = _config(args)
    except ConfigError as e:
        print(f"kurir: {e}", file=sys.stderr)
        return 2
    if args.command == "serve":
        serve(config)
        return 0
    return asyncio.run(_admin(config, args))


if __name__ == "__main__":
    sys.exit(main())
