"""WATCH bookkeeping shared by the transaction commands and client teardown."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from node.client import Client


def watch_key(c: Client, key: bytes) -> None:
    ident = (c.db.id, key)
    for db_id, k, _ in c.watched:
        if db_id == ident[0] and k == key:
            return
    # Remember whether the key was volatile-and-alive: if it has expired by EXEC, the
    # transaction aborts (Redis 7.0 isWatchedKeyExpired).
    alive_with_ttl = key in c.db.expires and not c.db.is_logically_expired(key)
    c.watched.append((c.db.id, key, alive_with_ttl))
    c.server.watched_keys.setdefault(ident, []).append(c)


def unwatch_all(c: Client) -> None:
    watched = c.server.watched_keys
    for db_id, key, _ in c.watched:
        clients = watched.get((db_id, key))
        if clients is None:
            continue
        try:
            clients.remove(c)
        except ValueError:
            pass
        if not clients:
            del watched[(db_id, key)]
    c.watched = []
    c.dirty_cas = False


def watched_key_expired(c: Client) -> bool:
    for db_id, key, alive_with_ttl in c.watched:
        if alive_with_ttl and c.server.dbs[db_id].is_logically_expired(key):
            return True
    return False


def touch_all_watched_in_db(server, db_id: int, keys_present: set[bytes] | None = None) -> None:  # type: ignore[no-untyped-def]
    """FLUSHDB/FLUSHALL/SWAPDB: every watched key of `db_id` that existed is touched."""
    for (wdb, key), clients in server.watched_keys.items():
        if wdb != db_id:
            continue
        if keys_present is not None and key not in keys_present:
            continue
        for client in clients:
            client.dirty_cas = True
