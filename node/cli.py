"""keelkv-server [config-file] [--directive value ...] [-]: redis-server's command line.

The process that was started is the server (no re-exec, no wrapper): `daemonize yes` forks
once, the parent exits and the child writes `pidfile`. Start-up logs the version and PID
before anything is loaded, then "Server initialized", then "Ready to accept connections";
SIGTERM, SIGINT and SHUTDOWN stop it with exit status 0.
"""

from __future__ import annotations

import gc
import os
import sys

import trio

from node import KEELKV_VERSION, REDIS_COMPAT_VERSION
from node.config import Config, ConfigError, FileConfigError, load_config
from node.config_table import TABLE
from node.log import Logger

USAGE = """Usage: ./keelkv-server [/path/to/redis.conf] [options] [-]
       ./keelkv-server - (read config from stdin)
       ./keelkv-server -v or --version
       ./keelkv-server -h or --help
       ./keelkv-server --test-memory <megabytes>

Examples:
       ./keelkv-server (run the server with default config)
       ./keelkv-server /etc/redis/6379.conf
       ./keelkv-server --port 7777
       ./keelkv-server --port 7777 --replicaof 127.0.0.1 8888
       ./keelkv-server /etc/myredis.conf --loglevel verbose -
       ./keelkv-server /etc/myredis.conf --loglevel verbose

Sentinel mode:
       keelkv does not run as a Sentinel; use redis-sentinel.
"""

# Redis's CONFIG_DEFAULT_PID_FILE, used when daemonized without a pidfile.
DEFAULT_PID_FILE = "/var/run/redis.pid"


def version_line() -> str:
    return (
        f"keelkv server v={KEELKV_VERSION} redis_version={REDIS_COMPAT_VERSION} "
        "sha=00000000:0 malloc=libc bits=64"
    )


def parse_args(args: list[str]) -> tuple[str | None, list[str], bool]:
    """(config file, --directive overrides, read stdin): redis-server's argv rules."""
    config_file = None
    read_stdin = False
    if args and args[0] != "-" and not args[0].startswith("--"):
        config_file = args.pop(0)
    if args and args[-1] == "-":
        args.pop()
        read_stdin = True
    return config_file, args, read_stdin


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version"):
        print(version_line())
        return 0
    if args and args[0] in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    config_file, overrides, read_stdin = parse_args(args)

    from node.commands import load_all

    load_all()
    try:
        config = load_config(
            TABLE,
            config_file,
            overrides,
            stdin_text=sys.stdin.read() if read_stdin else None,
            command_exists=_command_exists,
        )
        _check_startup(config)
    except FileConfigError as exc:
        sys.stderr.write(exc.report(REDIS_COMPAT_VERSION))
        return 1
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1

    if config.daemonize:
        _daemonize()
        if not config.pidfile:
            config.pidfile = DEFAULT_PID_FILE
    log = Logger(config.logfile, config.loglevel)
    log.role = "C"
    log.warning("oO0OoO0OoO0Oo keelkv is starting oO0OoO0OoO0Oo")
    log.warning(
        f"keelkv version={KEELKV_VERSION}, redis_version={REDIS_COMPAT_VERSION}, bits=64, "
        f"commit=00000000, modified=0, pid={os.getpid()}, just started"
    )
    if config_file or read_stdin:
        log.warning("Configuration loaded")
    else:
        log.warning(
            "Warning: no config file specified, using the default config. In order to "
            "specify a config file use keelkv-server /path/to/redis.conf"
        )
    log.role = "M"
    for name in config.ignored_seen:
        log.notice(f"Directive '{name}' has no effect in keelkv: accepted and ignored")
    try:
        _apply_file_only_directives(config, log)
    except ConfigError as exc:
        log.warning(str(exc))
        return 1
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

    server = build_server(config, log, executable=_executable())
    # The dataset lives for the life of the process; keep the collector off it.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    status = 0
    try:
        trio.run(server.run)
        status = server.exit_status
    except OSError as exc:
        log.warning(str(exc))
        status = 1
    finally:
        if config.pidfile:
            try:
                os.unlink(config.pidfile)
            except OSError:
                pass
    return status


def _command_exists(name: str) -> bool:
    from node.commands.table import COMMANDS

    return name.lower().encode("utf-8", "surrogateescape") in COMMANDS


def _check_startup(config: Config) -> None:
    """Checks Redis makes once the whole configuration is read."""
    if config.logfile:
        try:
            with open(config.logfile, "a"):
                pass
        except OSError as exc:
            raise ConfigError(f"Can't open the log file: {exc.strerror}") from exc


def _apply_file_only_directives(config: Config, log: Logger) -> None:
    """rename-command and `user default` lines, which are not settings."""
    from node.commands.table import COMMANDS
    from node.dispatch import SPELLINGS

    SPELLINGS.clear()
    for old, new in config.rename_commands:
        cmd = COMMANDS.pop(old.lower().encode("utf-8", "surrogateescape"))
        if new:
            key = new.lower().encode("utf-8", "surrogateescape")
            if key in COMMANDS:
                raise ConfigError("Target command name already exists")
            COMMANDS[key] = cmd
    for args in config.users:
        if args[0] != "default":
            log.warning(f"ACL user '{args[0]}' ignored: keelkv has only the default user")
            continue
        for rule in args[1:]:
            if rule.startswith(">"):
                config.requirepass = rule[1:]
            elif rule == "nopass":
                config.requirepass = ""


def _executable() -> str:
    path = sys.argv[0] if sys.argv and sys.argv[0] else sys.executable
    return os.path.abspath(path)


def _daemonize() -> None:
    """`daemonize yes`: fork once, the parent exits, the child is the server."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    fd = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(fd, target)
    if fd > 2:
        os.close(fd)


def _write_pidfile(path: str, log: Logger) -> None:
    try:
        with open(path, "w") as f:
            f.write(f"{os.getpid()}\n")
    except OSError as exc:
        log.warning(f"Failed to write PID file: {exc.strerror}")


if __name__ == "__main__":
    raise SystemExit(main())
