"""Error replies with the exact texts Redis 7.0 sends; handlers raise these."""

from __future__ import annotations

from typing import Final

from node.resp import ReplyError

WRONGTYPE: Final = "WRONGTYPE Operation against a key holding the wrong kind of value"
NOT_INTEGER: Final = "ERR value is not an integer or out of range"
NOT_FLOAT: Final = "ERR value is not a valid float"
SYNTAX: Final = "ERR syntax error"
NO_SUCH_KEY: Final = "ERR no such key"
OVERFLOW: Final = "ERR increment or decrement would overflow"
OUT_OF_RANGE: Final = "ERR index out of range"
DB_INDEX: Final = "ERR DB index is out of range"
INVALID_EXPIRE: Final = "ERR invalid expire time in '{}' command"
NOAUTH: Final = "NOAUTH Authentication required."
WRONGPASS: Final = "WRONGPASS invalid username-password pair or user is disabled."
READONLY: Final = "READONLY You can't write against a read only replica."
OOM: Final = "OOM command not allowed when used memory > 'maxmemory'."
TIMEOUT_NOT_FLOAT: Final = "ERR timeout is not a float or out of range"
TIMEOUT_NEGATIVE: Final = "ERR timeout is negative"


class CommandError(ReplyError):
    """Alias used by command handlers: `raise CommandError(errors.SYNTAX)`."""


def wrongtype() -> CommandError:
    return CommandError(WRONGTYPE)


def syntax() -> CommandError:
    return CommandError(SYNTAX)


def not_integer() -> CommandError:
    return CommandError(NOT_INTEGER)


def wrong_arity(name: str) -> CommandError:
    return CommandError(f"ERR wrong number of arguments for '{name}' command")


def unknown_subcommand(sub: str, cmd: str) -> CommandError:
    return CommandError(f"ERR unknown subcommand '{sub}'. Try {cmd.upper()} HELP.")
