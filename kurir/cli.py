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
    return p


def _config(args: argparse.Namespace) -> Config:
    import os

    overrides: dict[str, Any] = {
        "data_dir": args.data_dir,
        "database_url": args.database_url,
        "host": getattr(args, "host", None),
        "port": getattr(args, "port", None),
        "log_level": getattr(args, "log_level", None),
    }
    return load(args.config or os.environ.get("KURIR_CONFIG"), overrides)


def serve(config: Config) -> None:
    import uvicorn

    from kurir.app import build_app

    setup_logs(config.log_level, config.log_json)
    uvicorn.run(
        build_app(config), host=config.host, port=config.port, log_level=config.log_level,
        access_log=config.access_log, lifespan="on", ws_max_size=config.max_body_bytes,
        timeout_graceful_shutdown=5,
    )


async def _admin(config: Config, args: argparse.Namespace) -> int:
    import os

    from kurir.app import build_core

    core = build_core(config)
    await core.db.open()
    try:
        accounts = core.services.accounts
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
        await core.db.close()


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
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
