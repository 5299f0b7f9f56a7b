"""Subscription bookkeeping shared by the pub/sub commands, RESET and client teardown.

The server maps each channel, pattern and shard channel to its subscribers (client id ->
client, in subscription order, which is the order messages are delivered in). Each client
keeps the matching sets. The dispatcher's RESP2 subscribed-mode check only runs while some
client is subscribed, so every change that can empty or fill the server's maps calls
`server.update_gates()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from node.resp import Push, encode_reply
from node.scan import glob_match

if TYPE_CHECKING:
    from node.client import Client
    from node.server import Server

# Kinds of subscription: (client attribute, server attribute).
CHANNEL: Final = ("channels", "pubsub_channels")
PATTERN: Final = ("patterns", "pubsub_patterns")
SHARD: Final = ("shard_channels", "pubsub_shard_channels")


def subscribe(c: Client, kind: tuple[str, str], name: bytes) -> bool:
    """Add one subscription; False if `c` already had it."""
    mine: set[bytes] = getattr(c, kind[0])
    if name in mine:
        return False
    server = c.server
    registry: dict[bytes, dict[int, Client]] = getattr(server, kind[1])
    had_any = server.pubsub_clients_exist()
    mine.add(name)
    registry.setdefault(name, {})[c.id] = c
    if not had_any:
        server.update_gates()
    return True


def unsubscribe(c: Client, kind: tuple[str, str], name: bytes) -> bool:
    """Drop one subscription; False if `c` did not have it."""
    mine: set[bytes] = getattr(c, kind[0])
    if name not in mine:
        return False
    server = c.server
    registry: dict[bytes, dict[int, Client]] = getattr(server, kind[1])
    mine.discard(name)
    subs = registry.get(name)
    if subs is not None:
        subs.pop(c.id, None)
        if not subs:
            del registry[name]
    if not server.pubsub_clients_exist():
        server.update_gates()
    return True


def drop_subscriptions(c: Client) -> None:
    """Forget every subscription of `c` without replying (disconnection, RESET)."""
    server = c.server
    had = False
    for kind in (CHANNEL, PATTERN, SHARD):
        mine: set[bytes] = getattr(c, kind[0])
        if not mine:
            continue
        had = True
        registry: dict[bytes, dict[int, Client]] = getattr(server, kind[1])
        for name in mine:
            subs = registry.get(name)
            if subs is not None:
                subs.pop(c.id, None)
                if not subs:
                    del registry[name]
        setattr(c, kind[0], set())
    if had:
        server.update_gates()


def _encoded(items: list[bytes]) -> tuple[bytes, bytes]:
    """A message encoded once for RESP2 subscribers and once for RESP3 ones."""
    out2: list[bytes] = []
    out3: list[bytes] = []
    encode_reply(Push(items), False, out2)
    encode_reply(Push(items), True, out3)
    return b"".join(out2), b"".join(out3)


def publish(server: Server, channel: bytes, message: bytes) -> int:
    """Deliver to the channel's subscribers, then to matching patterns; returns receivers."""
    receivers = 0
    subs = server.pubsub_channels.get(channel)
    if subs:
        resp2, resp3 = _encoded([b"message", channel, message])
        for client in list(subs.values()):
            client.push_raw(resp3 if client.resp3 else resp2)
            receivers += 1
    if server.pubsub_patterns:
        for pattern, clients in list(server.pubsub_patterns.items()):
            if not glob_match(pattern, channel):
                continue
            resp2, resp3 = _encoded([b"pmessage", pattern, channel, message])
            for client in list(clients.values()):
                client.push_raw(resp3 if client.resp3 else resp2)
                receivers += 1
    return receivers


def spublish(server: Server, channel: bytes, message: bytes) -> int:
    subs = server.pubsub_shard_channels.get(channel)
    if not subs:
        return 0
    resp2, resp3 = _encoded([b"smessage", channel, message])
    for client in list(subs.values()):
        client.push_raw(resp3 if client.resp3 else resp2)
    return len(subs)


def channels_matching(
    registry: dict[bytes, dict[int, Client]], pattern: bytes | None
) -> list[bytes]:
    if pattern is None:
        return list(registry)
    return [name for name in registry if glob_match(pattern, name)]
