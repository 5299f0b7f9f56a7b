"""keelkv-server [config-file] [--directive value ...]: redis-server's command line."""

from __future__ import annotations

import gc
import os
import sys

import trio

from node import KEELKV_VERSION, REDIS_COMPAT_VERSION
from node.config import ConfigError, FileConfigError, load_config
from node.config_table import TABLE
from node.log import Logger

USAGE = """Usage: keelkv-server [/path/to/redis.conf] [options] [-]
       keelkv-server - (read config from stdin)
       keelkv-server -v or --version
       keelkv-server -h or --help

Examples:
       keelkv-server (run the server with default config)
       keelkv-server /etc/redis/6379.conf
       keelkv-server --port 7777
       keelkv-server --port 7777 --replicaof 127.0.0.1 8888
       keelkv-server /etc/myredis.conf --loglevel verbose -
"""


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version"):
        print(f"keelkv server v={KEELKV_VERSION} redis_version={REDIS_COMPAT_VERSION} bits=64")
        return 0
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    config_file = None
    if args and not args[0].startswith("--"):
        config_file = args.pop(0)
    stdin_lines: list[str] = []
    if args and args[-1] == "-":
        args.pop()
        stdin_lines = sys.stdin.read().splitlines()
    try:
        config = load_config(TABLE, config_file, args + _stdin_overrides(stdin_lines))
    except FileConfigError as exc:
        sys.stderr.write(exc.report(REDIS_COMPAT_VERSION))
        return 1
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    if config.daemonize:
        _daemonize()
    log = Logger(config.logfile, config.loglevel)
    log.notice("oO0OoO0OoO0Oo keelkv is starting oO0OoO0OoO0Oo")
    log.notice(
        f"keelkv version={KEELKV_VERSION}, redis_version={REDIS_COMPAT_VERSION}, bits=64, "
        f"pid={os.getpid()}, just started"
    )
    log.notice(
        "Configuration loaded"
        if config_file
        else "Warning: no config file specified, using the default config. In order to specify a config file use keelkv-server /path/to/redis.conf"
    )
    for name in config.ignored_seen:
        log.notice(f"Directive '{name}' has no effect in keelkv: accepted and ignored")
    if config.dir:
        try:
            os.chdir(config.dir)
        except OSError as exc:
            log.warning(f"Can't chdir to '{config.dir}': {exc.strerror}")
            return 1
    config.dir = os.getcwd()
    if config.pidfile:
        _write_pidfile(config.pidfile, log)
    log.notice(f"Running mode=standalone, port={config.port}. PID: {os.getpid()}")

    from node.boot import build_server

    server = build_server(config, log, executable=os.path.abspath(sys.argv[0]))
    # The dataset lives for the life of the process; keep the collector off it.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    try:
        trio.run(server.run)
    except OSError as exc:
        log.warning(str(exc))
        return 1
    finally:
        if config.pidfile:
            try:
                os.unlink(config.pidfile)
            except OSError:
                pass
    return 0


def _stdin_overrides(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        parts = line.split()
        if parts and not parts[0].startswith("#"):
            out.append("--" + parts[0])
            out.extend(parts[1:])
    return out


def _daemonize() -> None:
    """`daemonize yes`: fork once, the parent exits, the child is the server."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)


def _write_pidfile(path: str, log: Logger) -> None:
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        log.warning(f"Failed to write PID file: {exc.strerror}")


if __name__ == "__main__":
    raise SystemExit(main())
