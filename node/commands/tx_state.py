"""MULTI/WATCH bookkeeping shared by the transaction commands, the dispatcher, the keyspace
and client teardown.

Each client keeps its watched keys as `(db id, key, expired)` entries, where `expired` says
the key was already logically expired when WATCH ran. Redis 7.0 (watchedKey.expired) treats
the later deletion of such a key as no change, so WATCHing a stale key does not make EXEC
fail just because the key is finally reclaimed; any other touch marks the client
`dirty_cas`, and EXEC then answers a null array.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from node.resp import ReplyError

if TYPE_CHECKING:
    from node.client import Client
    from node.keyspace import Database

EXECABORT: Final = "EXECABORT Transaction discarded because of previous errors."


def watch_key(c: Client, key: bytes) -> None:
    db = c.db
    for db_id, k, _ in c.watched:
        if db_id == db.id and k == key:
            return
    c.watched.append((db.id, key, key in db.data and db.is_logically_expired(key)))
    c.server.watched_keys.setdefault((db.id, key), []).append(c)


def unwatch_all(c: Client) -> None:
    if c.watched:
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
    """Redis's isWatchedKeyExpired: a key alive at WATCH time has expired since."""
    dbs = c.server.dbs
    for db_id, key, expired in c.watched:
        if not expired and dbs[db_id].is_logically_expired(key):
            return True
    return False


def _clear_expired_flag(c: Client, db_id: int, key: bytes) -> bool:
    """If `c` watched `key` while it was stale, forget that and return True."""
    watched = c.watched
    for i, (wdb, wkey, expired) in enumerate(watched):
        if wdb == db_id and wkey == key:
            if expired:
                watched[i] = (wdb, wkey, False)
                return True
            return False
    return False


def touch_watched_key(db: Database, key: bytes, clients: list[Client]) -> None:
    """A watched key changed: its watchers' next EXEC fails (Redis's touchWatchedKey)."""
    gone = key not in db.data
    for client in clients:
        if client.dirty_cas:
            continue
        # A key that was stale when watched and is now deleted has not logically changed.
        if gone and _clear_expired_flag(client, db.id, key):
            continue
        client.dirty_cas = True


def touch_watched_keys_in_db(emptied: Database, replaced_with: Database | None) -> None:
    """FLUSHDB/FLUSHALL (`replaced_with` None) and SWAPDB: call before the data changes.

    A watched key is touched when it exists in the emptied database or in the one replacing
    it (Redis's touchAllWatchedKeysInDb).
    """
    server = emptied.server
    for (db_id, key), clients in server.watched_keys.items():
        if db_id != emptied.id:
            continue
        in_replacement = replaced_with is not None and key in replaced_with.data
        if not in_replacement and key not in emptied.data:
            continue
        for client in clients:
            if not in_replacement and _clear_expired_flag(client, db_id, key):
                continue
            client.dirty_cas = True


def discard_transaction(c: Client) -> None:
    c.multi = None
    c.multi_error = False
    unwatch_all(c)


def exec_abort(c: Client, err: ReplyError) -> ReplyError:
    """Redis's execCommandAbort: a refused EXEC discards the transaction and says why."""
    discard_transaction(c)
    message = err.message
    if message.startswith("ERR "):
        message = message[4:]
    return ReplyError(f"EXECABORT Transaction discarded because of: {message}")


def exec_flags(c: Client) -> tuple[bool, bool]:
    """(may write or replicate, denyoom) over the queued commands: EXEC inherits them, so a
    CLIENT PAUSE WRITE holds an EXEC with writes and maxmemory refuses one that grows data."""
    write = denyoom = False
    for cmd, _ in c.multi or ():
        if cmd.is_write or "may_replicate" in cmd.flags:
            write = True
        if "denyoom" in cmd.flags:
            denyoom = True
    return write, denyoom
