"""Persistence: RDB snapshots and their loading (the AOF joins here).

`install(server)` wires the subsystem into a node through the server's hooks: startup
loading, the cron (save points), MISCONF, the final save at shutdown, FLUSHALL's dump, INFO
fields, and the maxmemory guidance about copy-on-write headroom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from persistence.forkmon import maxmemory_warning
from persistence.snapshot import RdbSnapshots

if TYPE_CHECKING:
    from node.server import Server
    from persistence.loader import LoadingProgress


class Persistence:
    """`server.persistence`: the node's persistence state."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.rdb = RdbSnapshots(server)
        self.loading_progress: LoadingProgress | None = None
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0

    def info_persistence(self, server: Server) -> list[tuple[str, Any]]:
        fields = self.rdb.info_persistence(server)
        fields += [
            ("rdb_last_load_keys_expired", self.last_load_keys_expired),
            ("rdb_last_load_keys_loaded", self.last_load_keys_loaded),
        ]
        if self.loading_progress is not None:
            fields += self.loading_progress.info_fields()
        return fields


def forks_enabled(server: Server) -> bool:
    return bool(server.config.save) or bool(server.config.appendonly)


def warn_about_maxmemory(server: Server) -> None:
    warning = maxmemory_warning(server.config.maxmemory, forks_enabled(server))
    if warning is not None:
        server.log.warning(warning)


def _config_changed(server: Server) -> str | None:
    warn_about_maxmemory(server)
    return None


async def _load_at_startup(server: Server) -> None:
    from persistence.loader import load_rdb_file

    warn_about_maxmemory(server)
    if not await load_rdb_file(server, server.config.dbfilename):
        server.exit_status = 1
        server.shutdown_event.set()


def install(server: Server) -> None:
    state = Persistence(server)
    server.persistence = state
    rdb = state.rdb
    server.startup_hooks.append(_load_at_startup)
    server.cron_hooks.append(lambda s: rdb.cron())
    server.disk_error_checks.append(rdb.misconf)
    server.prepare_shutdown_hooks.append(rdb.prepare_shutdown)
    server.flushall_hooks.append(rdb.after_flushall)
    server.info_hooks.setdefault("persistence", []).append(state.info_persistence)
    server.info_hooks.setdefault("stats", []).append(rdb.info_stats)
    for name in ("maxmemory", "save", "appendonly"):
        _chain_config_hook(server, name, _config_changed)


def _chain_config_hook(server: Server, name: str, hook: Any) -> None:
    """Add a CONFIG SET side effect without replacing another subsystem's."""
    previous = server.config_set_hooks.get(name)
    if previous is None:
        server.config_set_hooks[name] = hook
        return

    def both(s: Server) -> str | None:
        return previous(s) or hook(s)

    server.config_set_hooks[name] = both
