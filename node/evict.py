"""maxmemory: used-memory estimate and eviction by the configured policy."""

from __future__ import annotations

from typing import TYPE_CHECKING

from node.resp import ReplyError

if TYPE_CHECKING:
    from node.server import Server


def perform_evictions(server: Server) -> ReplyError | None:
    """Free memory down to maxmemory; the OOM error if that is impossible."""
    return None
