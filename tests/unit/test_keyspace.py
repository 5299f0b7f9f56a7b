"""Keyspace expiry: lazy deletion, the active cycle, replicas that never expire by themselves."""

from __future__ import annotations

import time

from node.keyspace import Database
from tests.unit.sansio import Session, make_server


def fill_volatile(db: Database, n: int, when: int, prefix: bytes = b"k") -> None:
    for i in range(n):
        key = prefix + str(i).encode()
        db.add(key, b"v")
        db.set_expire(key, when)


def test_lazy_expiry_deletes_on_access_and_propagates_del() -> None:
    s = Session()
    db = s.server.dbs[0]
    db.add(b"gone", b"v")
    db.set_expire(b"gone", s.server.mstime - 1)
    assert s.run("GET", "gone") is None
    assert b"gone" not in db.data
    assert s.propagated() == [[b"DEL", b"gone"]]
    assert s.server.stats.expired_keys == 1


def test_lazy_expiry_uses_unlink_with_lazyfree_lazy_expire() -> None:
    s = Session(make_server("--lazyfree-lazy-expire", "yes"))
    db = s.server.dbs[0]
    db.add(b"gone", b"v")
    db.set_expire(b"gone", 1)
    s.run("GET", "gone")
    assert s.propagated() == [[b"UNLINK", b"gone"]]


def test_active_cycle_removes_expired_keys_without_access() -> None:
    s = Session()
    server = s.server
    db = server.dbs[0]
    now = server.mstime
    fill_volatile(db, 5000, now - 10, b"old")
    fill_volatile(db, 100, now + 3_600_000, b"live")
    for _ in range(50):
        server.mstime = int(time.time() * 1000)
        server.active_expire_cycle()
        if len(db.data) == 100:
            break
    assert len(db.data) == 100
    assert all(k.startswith(b"live") for k in db.data)
    dels = s.propagated()
    assert len(dels) == 5000 and all(argv[0] == b"DEL" for argv in dels)


def test_active_cycle_stays_within_its_time_budget() -> None:
    s = Session()
    server = s.server
    db = server.dbs[0]
    fill_volatile(db, 200_000, server.mstime - 10)
    start = time.monotonic()
    server.active_expire_cycle()
    elapsed = time.monotonic() - start
    # 25% of a 100 ms cron period, with slack for a busy machine.
    assert elapsed < 0.2
    assert 0 < len(db.data) < 200_000


def test_replica_hides_expired_keys_but_keeps_them() -> None:
    s = Session()
    server = s.server
    server.masterhost = "127.0.0.1"
    db = server.dbs[0]
    db.add(b"k", b"v")
    db.set_expire(b"k", server.mstime - 1)
    assert s.run("GET", "k") is None
    assert b"k" in db.data
    server.active_expire_cycle()
    assert b"k" in db.data
    assert s.propagated() == []
    # The master's stream sees every key until its DEL arrives.
    server.executing_master_stream = True
    assert db.lookup_write(b"k") == b"v"
