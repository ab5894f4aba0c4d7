"""Provides the `desk` command: the app (default), `desk engine` (headless) and `desk config`.

`desk engine` and `desk config` never import textual: a server needs no UI libraries.
Exit codes: 0 done, 2 bad configuration or arguments, 3 a journal that refuses to start.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import Any

from engine import __version__


def _common(parser: argparse.ArgumentParser, *, nested: bool = False) -> None:
    # A sub-command's default would overwrite the value given before it: suppress it.
    if nested:
        parser.argument_default = argparse.SUPPRESS
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="configuration file (default: ./desk.toml, then ~/.config/desk/desk.toml)",
    )
    parser.add_argument("--name", help="engine name: names the journal (and Redis keys)")
    parser.add_argument("--source", choices=("sim", "replay"), help="market source")
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        metavar="PATH",
        help="CSV file or directory of bars to replay (implies --source replay)",
    )
    parser.add_argument("--seed", type=int, help="seed of the simulated market")
    parser.add_argument(
        "--speed",
        type=float,
        help="engine seconds per wall second (replay: 0 = as fast as possible)",
    )
    parser.add_argument("--journal", type=Path, metavar="PATH", help="journal file (SQLite)")
    parser.add_argument("--trader", help="trader name on Redis (default: your login name)")
    parser.argument_default = None


TRADERS_HELP = "comma-separated trader names (default: redis.traders in the config)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="desk", description="A keyboard-driven terminal trading desk for options."
    )
    parser.add_argument("--version", action="version", version=f"desk {__version__}")
    _common(parser)
    parser.add_argument(
        "--connect",
        metavar="URL",
        help="attach to a headless engine over Redis instead of embedding one",
    )
    sub = parser.add_subparsers(dest="command")
    engine = sub.add_parser("engine", help="run the engine headless (no UI)")
    _common(engine, nested=True)
    engine.add_argument(
        "--duration", type=float, metavar="SECONDS", help="stop after this many wall seconds"
    )
    engine.add_argument(
        "--status-every",
        type=float,
        default=5.0,
        metavar="SECONDS",
        help="seconds between status lines (default 5)",
    )
    engine.add_argument(
        "--log-level", default="INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    engine.add_argument(
        "--redis",
        metavar="URL",
        help="publish to Redis and take commands from it (redis:// or rediss://)",
    )
    engine.add_argument("--traders", help=TRADERS_HELP + " whose commands it takes")
    acl = sub.add_parser("acl", help="print the Redis ACL file for an engine and its traders")
    _common(acl, nested=True)
    acl.add_argument("--traders", help=TRADERS_HELP)
    config = sub.add_parser("config", help="print the effective configuration as TOML")
    _common(config, nested=True)
    return parser


def overrides(args: argparse.Namespace) -> dict[str, Any]:
    found: dict[str, Any] = {}
    if args.name:
        found["name"] = args.name
    if args.data:
        found["market.source"] = "replay"
        found["market.replay.paths"] = [str(p) for p in args.data]
    if args.source:
        found["market.source"] = args.source
    if args.seed is not None:
        found["market.sim.seed"] = args.seed
    if args.speed is not None:
        found["clock.speed"] = args.speed
    if args.journal:
        found["journal.path"] = str(args.journal)
    if args.trader:
        found["redis.trader"] = args.trader
    traders = getattr(args, "traders", None)
    if traders:
        found["redis.traders"] = [t.strip() for t in traders.split(",") if t.strip()]
    url = getattr(args, "redis", None) or getattr(args, "connect", None)
    if url:
        found["redis.url"] = url
    return found


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from desk.config import ConfigError, load_config, to_toml

    try:
        config = load_config(args.config, overrides(args))
    except ConfigError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        return 2
    if args.command == "config":
        print(to_toml(config), end="")
        return 0
    if args.command == "engine":
        return run_engine(config, args)
    if args.command == "acl":
        return print_acl(config, args)
    if args.connect:
        return run_remote_app(config)
    return run_app(config)


def print_acl(config: Any, args: argparse.Namespace) -> int:
    from engine.remote.acl import acl_file

    generated: dict[str, str] = {}
    print(acl_file(config.name, config.redis.traders, generated), end="")
    for user, password in generated.items():
        print(
            f"desk: generated password for {user}: {password} "
            f"(set DESK_ACL_PASSWORD_{user.upper()} to choose your own)",
            file=sys.stderr,
        )
    return 0


def run_remote_app(config: Any) -> int:
    from desk.app import DeskApp
    from desk.feeds.redis import RedisFeed

    try:
        feed = RedisFeed(config.redis, config.name)
    except ValueError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        return 2
    DeskApp(config, feed, actor=feed.trader).run()
    return 0


def run_app(config: Any) -> int:
    _log_to_file(config)
    from desk.app import DeskApp
    from desk.feeds.embedded import EmbeddedFeed

    # The engine is built after the first frame; if it cannot start (a corrupt journal,
    # exit 3; a bad setting, exit 2) the app stops with the engine's message.
    app = DeskApp(config, EmbeddedFeed(config))
    app.run()
    return app.return_code or 0


def _log_to_file(config: Any) -> None:
    """The screen belongs to the app: the engine's log lines go to a file beside the journal."""
    from engine.paths import journal_path

    path = journal_path(config).with_suffix(".log")
    path.parent.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        level=logging.INFO,
        filename=path,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def run_engine(config: Any, args: argparse.Namespace) -> int:
    from engine.journal import JournalError
    from engine.runner import ConfigurationError, build_engine, serve, start

    logging.basicConfig(
        level=getattr(logging, args.log_level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    try:
        engine = build_engine(config, mode="headless")
    except ConfigurationError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        return 2
    except JournalError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        return 3
    except (OSError, ValueError) as exc:
        print(f"desk: cannot start the engine: {exc}", file=sys.stderr)
        return 2
    try:
        start(engine)
    except JournalError as exc:
        print(f"desk: {exc}", file=sys.stderr)
        return 3
    redis = config.redis if args.redis else None
    return asyncio.run(
        serve(engine, duration=args.duration, status_every=args.status_every, redis=redis)
    )


if __name__ == "__main__":
    raise SystemExit(main())
