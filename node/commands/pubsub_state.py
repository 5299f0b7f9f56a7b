"""Subscription bookkeeping shared by the pub/sub commands and client teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.client import Client


def drop_subscriptions(c: Client) -> None:
    server = c.server
    for channel in c.channels:
        subs = server.pubsub_channels.get(channel)
        if subs is not None:
            subs.pop(c.id, None)
            if not subs:
                del server.pubsub_channels[channel]
    for pattern in c.patterns:
        subs = server.pubsub_patterns.get(pattern)
        if subs is not None:
            subs.pop(c.id, None)
            if not subs:
                del server.pubsub_patterns[pattern]
    had = bool(c.channels or c.patterns)
    c.channels = set()
    c.patterns = set()
    if had:
        server.update_gates()
