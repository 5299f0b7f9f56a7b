"""Pub/sub: SUBSCRIBE UNSUBSCRIBE PSUBSCRIBE PUNSUBSCRIBE SSUBSCRIBE SUNSUBSCRIBE PUBLISH
SPUBLISH PUBSUB.

Confirmations are one reply per channel, `[kind, channel, count]`: an array in RESP2, a push
in RESP3. The count is the client's channels plus patterns, except for the shard commands,
which count shard channels only (Redis 7.0). Messages to other clients are queued on their
output and their task is woken (`Client.push_raw`); Sentinel's `__sentinel__:hello` relies
on exactly this.
"""

from __future__ import annotations

from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.client_cmd import help_reply, subcommand_syntax_error
from node.commands.pubsub_state import (
    CHANNEL,
    PATTERN,
    SHARD,
    channels_matching,
    publish,
    spublish,
    subscribe,
    unsubscribe,
)
from node.commands.table import command, subcommand
from node.dispatch import NO_REPLY
from node.resp import Push

PUBSUB_FLAGS: Final = "pubsub noscript loading stale"


def _subscribe_all(c: Client, argv: list[bytes], kind: tuple[str, str], reply: bytes) -> Any:
    shard = kind == SHARD
    for name in argv[1:]:
        subscribe(c, kind, name)
        count = len(c.shard_channels) if shard else c.subscription_count
        c.reply(Push([reply, name, count]))
    return NO_REPLY


def _unsubscribe_all(c: Client, argv: list[bytes], kind: tuple[str, str], reply: bytes) -> Any:
    shard = kind == SHARD
    names = argv[1:] if len(argv) > 1 else list(getattr(c, kind[0]))
    for name in names:
        unsubscribe(c, kind, name)
        count = len(c.shard_channels) if shard else c.subscription_count
        c.reply(Push([reply, name, count]))
    if not names:
        count = len(c.shard_channels) if shard else c.subscription_count
        c.reply(Push([reply, None, count]))
    return NO_REPLY


@command("subscribe", -2, PUBSUB_FLAGS, categories="pubsub slow")
def subscribe_(c: Client, argv: list[bytes]) -> Any:
    return _subscribe_all(c, argv, CHANNEL, b"subscribe")


@command("unsubscribe", -1, PUBSUB_FLAGS, categories="pubsub slow")
def unsubscribe_(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe_all(c, argv, CHANNEL, b"unsubscribe")


@command("psubscribe", -2, PUBSUB_FLAGS, categories="pubsub slow")
def psubscribe(c: Client, argv: list[bytes]) -> Any:
    return _subscribe_all(c, argv, PATTERN, b"psubscribe")


@command("punsubscribe", -1, PUBSUB_FLAGS, categories="pubsub slow")
def punsubscribe(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe_all(c, argv, PATTERN, b"punsubscribe")


@command("ssubscribe", -2, PUBSUB_FLAGS, 1, -1, 1, categories="pubsub slow")
def ssubscribe(c: Client, argv: list[bytes]) -> Any:
    if c.in_exec:
        # Unlike SUBSCRIBE, Redis keeps no MULTI exception for the shard variant.
        raise errors.CommandError("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")
    return _subscribe_all(c, argv, SHARD, b"ssubscribe")


@command("sunsubscribe", -1, PUBSUB_FLAGS, 1, -1, 1, categories="pubsub slow")
def sunsubscribe(c: Client, argv: list[bytes]) -> Any:
    return _unsubscribe_all(c, argv, SHARD, b"sunsubscribe")


@command("publish", 3, "pubsub loading stale fast", categories="pubsub fast")
def publish_(c: Client, argv: list[bytes]) -> Any:
    return publish(c.server, argv[1], argv[2])


@command("spublish", 3, "pubsub loading stale fast", 1, 1, 1, categories="pubsub fast")
def spublish_(c: Client, argv: list[bytes]) -> Any:
    return spublish(c.server, argv[1], argv[2])


# -- PUBSUB -------------------------------------------------------------------


@command("pubsub", -2, "", categories="slow")
def pubsub(c: Client, argv: list[bytes]) -> Any:  # pragma: no cover - subcommands answer
    raise errors.unknown_subcommand(argv[1].decode("utf-8", "replace"), "pubsub")


PUBSUB_HELP: Final = [
    "CHANNELS [<pattern>]",
    "    Return the currently active channels matching a <pattern> (default: '*').",
    "NUMPAT",
    "    Return number of subscriptions to patterns.",
    "NUMSUB [<channel> ...]",
    "    Return the number of subscribers for the specified channels, excluding",
    "    pattern subscriptions(default: no channels).",
    "SHARDCHANNELS [<pattern>]",
    "    Return the currently active shard level channels matching a <pattern> (default: '*').",
    "SHARDNUMSUB [<shardchannel> ...]",
    "    Return the number of subscribers for the specified shard level channel(s)",
]


@subcommand("pubsub", "help", 2, "loading stale", categories="slow")
def pubsub_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv[0], PUBSUB_HELP)


@subcommand("pubsub", "channels", -2, "pubsub loading stale", categories="pubsub slow")
def pubsub_channels(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    return channels_matching(c.server.pubsub_channels, argv[2] if len(argv) == 3 else None)


@subcommand("pubsub", "shardchannels", -2, "pubsub loading stale", categories="pubsub slow")
def pubsub_shardchannels(c: Client, argv: list[bytes]) -> Any:
    if len(argv) > 3:
        raise subcommand_syntax_error(argv)
    return channels_matching(c.server.pubsub_shard_channels, argv[2] if len(argv) == 3 else None)


@subcommand("pubsub", "numsub", -2, "pubsub loading stale", categories="pubsub slow")
def pubsub_numsub(c: Client, argv: list[bytes]) -> Any:
    registry = c.server.pubsub_channels
    out: list[Any] = []
    for channel in argv[2:]:
        out.append(channel)
        out.append(len(registry.get(channel, ())))
    return out


@subcommand("pubsub", "shardnumsub", -2, "pubsub loading stale", categories="pubsub slow")
def pubsub_shardnumsub(c: Client, argv: list[bytes]) -> Any:
    registry = c.server.pubsub_shard_channels
    out: list[Any] = []
    for channel in argv[2:]:
        out.append(channel)
        out.append(len(registry.get(channel, ())))
    return out


@subcommand("pubsub", "numpat", 2, "pubsub loading stale", categories="pubsub slow")
def pubsub_numpat(c: Client, argv: list[bytes]) -> Any:
    # Redis 7.0 counts distinct patterns, not pattern subscriptions.
    return len(c.server.pubsub_patterns)
