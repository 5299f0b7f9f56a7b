"""Persistence: RDB snapshots and their loading (the AOF joins here).

`install(server)` wires the subsystem into a node through the server's hooks: startup
loading, the cron (save points), MISCONF, the final save at shutdown, FLUSHALL's dump, INFO
fields, and the maxmemory guidance about copy-on-write headroom.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node._native import activate

# The compiled modules (persistence/apply.py; persistence/rdb activates its own) come first.
NATIVE = activate(__path__, "persistence")

from persistence.aof.appendonly import AppendOnly  # noqa: E402
from persistence.forkmon import maxmemory_warning  # noqa: E402
from persistence.snapshot import RdbSnapshots  # noqa: E402

if TYPE_CHECKING:
    from node.server import Server
    from persistence.loader import LoadingProgress


class Persistence:
    """`server.persistence`: the node's persistence state."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.rdb = RdbSnapshots(server)
        self.aof = AppendOnly(server)
        self.loading_progress: LoadingProgress | None = None
        self.last_load_keys_loaded = 0
        self.last_load_keys_expired = 0
        # The AUX fields of the RDB loaded at startup (a replica resumes its history).
        self.loaded_aux: dict[bytes, bytes] = {}

    def after_job(self, job: Any) -> None:
        """A background job ended: start what was waiting for the child slot."""
        if self.server.child is None and self.aof.rewrite_scheduled:
            self.aof.start_rewrite()

    def before_replica_sync(self, server: Server) -> None:
        """A full sync is about to replace the dataset: the AOF, which describes the old
        one, stops (Redis's stopAppendOnly before loading the master's RDB)."""
        if self.aof.state != "off":
            self.aof.stop()

    def after_replica_sync(self, server: Server) -> None:
        """The dataset was replaced (or the node became a master): with appendonly yes the
        AOF starts again from a rewrite of the new dataset (restartAOFAfterSYNC)."""
        if server.config.appendonly and self.aof.state == "off":
            err = self.aof.start_at_runtime()
            if err is not None:
                server.log.warning(
                    "Failed enabling the AOF after successful master synchronization! "
                    f"Trying it again in one second. ({err})"
                )

    def info_persistence(self, server: Server) -> list[tuple[str, Any]]:
        fields = self.rdb.info_persistence(server) + self.aof.info_persistence(server)
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
    from persistence.aof.appendonly import load_at_startup as load_aof
    from persistence.loader import load_rdb_file

    warn_about_maxmemory(server)
    if server.config.appendonly:
        ok = await load_aof(server)
    else:
        ok = await load_rdb_file(server, server.config.dbfilename)
    if not ok:
        server.exit_status = 1
        server.shutdown_event.set()


def install(server: Server) -> None:
    state = Persistence(server)
    server.persistence = state
    rdb = state.rdb
    server.startup_hooks.append(_load_at_startup)
    aof = state.aof
    server.cron_hooks.append(lambda s: rdb.cron())
    server.cron_hooks.append(lambda s: aof.cron())
    server.disk_error_checks.append(rdb.misconf)
    server.prepare_shutdown_hooks.append(aof.prepare_shutdown)
    server.prepare_shutdown_hooks.append(rdb.prepare_shutdown)
    server.flushall_hooks.append(rdb.after_flushall)
    server.info_hooks.setdefault("persistence", []).append(state.info_persistence)
    server.info_hooks.setdefault("stats", []).append(rdb.info_stats)
    _chain_config_hook(server, "appendonly", aof.config_changed)
    _chain_config_hook(server, "appendfsync", aof.writer_settings_changed)
    _chain_config_hook(server, "aof-timestamp-enabled", aof.writer_settings_changed)
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
