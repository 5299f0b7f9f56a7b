"""The command table: every command registered once with its arity, flags and key positions.

The dispatcher, COMMAND, the replica read-only check, MULTI queuing and propagation all
read this table; nothing about a command is spread across other files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from node.client import Client

Handler = Callable[["Client", list[bytes]], Any]

# Flags, named as in Redis's COMMAND reply.
WRITE: Final = "write"
READONLY: Final = "readonly"
DENYOOM: Final = "denyoom"
ADMIN: Final = "admin"
PUBSUB: Final = "pubsub"
NOSCRIPT: Final = "noscript"
BLOCKING: Final = "blocking"
LOADING: Final = "loading"  # allowed while the dataset is loading
STALE: Final = "stale"  # allowed on a replica whose link is down with serve-stale-data no
FAST: Final = "fast"
NO_AUTH: Final = "no_auth"
NO_MULTI: Final = "no_multi"
MAY_REPLICATE: Final = "may_replicate"
ALLOW_BUSY: Final = "allow_busy"
SKIP_MONITOR: Final = "skip_monitor"
SKIP_SLOWLOG: Final = "skip_slowlog"


@dataclass(slots=True)
class Command:
    name: str
    handler: Handler
    arity: int
    flags: frozenset[str]
    first_key: int
    last_key: int
    step: int
    categories: tuple[str, ...] = ()
    subcommands: dict[str, Command] = field(default_factory=dict)
    # Filled at registration so the dispatcher tests a bool instead of a set.
    is_write: bool = False
    calls: int = 0
    usec: int = 0
    rejected_calls: int = 0
    failed_calls: int = 0

    def key_positions(self, argv: list[bytes]) -> list[int]:
        """Indexes of the keys in `argv`, following (first, last, step) like Redis."""
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return list(range(self.first_key, min(last, len(argv) - 1) + 1, self.step))


COMMANDS: Final[dict[bytes, Command]] = {}


def command(
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    categories: str = "",
) -> Callable[[Handler], Handler]:
    """Register a handler: `@command("get", 2, "readonly fast", 1, 1, 1)`.

    Arity follows Redis: positive is exact, negative is a minimum (both count the name).
    """

    def register(handler: Handler) -> Handler:
        flag_set = frozenset(flags.split())
        cmd = Command(
            name=name,
            handler=handler,
            arity=arity,
            flags=flag_set,
            first_key=first_key,
            last_key=last_key,
            step=step,
            categories=tuple(categories.split()),
            is_write=WRITE in flag_set,
        )
        key = name.encode()
        if key in COMMANDS:
            raise ValueError(f"command {name} registered twice")
        COMMANDS[key] = cmd
        return handler

    return register


def subcommand(
    container: str,
    name: str,
    arity: int,
    flags: str = "",
    first_key: int = 0,
    last_key: int = 0,
    step: int = 0,
    categories: str = "",
) -> Callable[[Handler], Handler]:
    """Register a subcommand of a container command (`CLIENT LIST` is `client|list`).

    The dispatcher resolves `argv[1]` against the container's subcommands before the arity,
    auth and MULTI checks, as Redis 7.0 does, so errors name `client|list` and an unknown
    subcommand is refused (and flags a transaction) instead of being queued.
    """

    def register(handler: Handler) -> Handler:
        parent = COMMANDS[container.encode()]
        flag_set = frozenset(flags.split())
        cmd = Command(
            name=f"{container}|{name}",
            handler=handler,
            arity=arity,
            flags=flag_set,
            first_key=first_key,
            last_key=last_key,
            step=step,
            categories=tuple(categories.split()),
            is_write=WRITE in flag_set,
        )
        if name in parent.subcommands:
            raise ValueError(f"subcommand {container}|{name} registered twice")
        parent.subcommands[name] = cmd
        return handler

    return register


def lookup(name: bytes) -> Command | None:
    cmd = COMMANDS.get(name)
    if cmd is None:
        cmd = COMMANDS.get(name.lower())
    return cmd
