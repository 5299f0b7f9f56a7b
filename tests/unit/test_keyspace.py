"""Keyspace expiry: lazy deletion, the active cycle, replicas that never expire by themselves."""

from __future__ import annotations

import time

from node.keyspace import ACTIVE_EXPIRE_KEYS_PER_LOOP, Database
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


def test_active_step_stops_at_its_deadline() -> None:
    s = Session()
    db = s.server.dbs[0]
    fill_volatile(db, 20_000, s.server.mstime - 10)
    # A deadline already passed: one sample of keys, then it yields to the event loop.
    sampled, expired = db.active_expire_step(time.monotonic_ns() - 1)
    assert sampled == expired == ACTIVE_EXPIRE_KEYS_PER_LOOP
    # Time to spare: it keeps sampling while most of each sample is expired.
    sampled, expired = db.active_expire_step(time.monotonic_ns() + 60 * 10**9)
    assert expired == 20_000 - ACTIVE_EXPIRE_KEYS_PER_LOOP
    assert len(db.data) == 0


def test_active_cycle_on_a_large_backlog_hits_its_time_cap() -> None:
    s = Session()
    server = s.server
    db = server.dbs[0]
    fill_volatile(db, 200_000, server.mstime - 10)
    server.active_expire_cycle()
    # 200k deletions never fit in 25 ms of one cron period: the cycle stops at its cap.
    assert server.stats.expired_time_cap_reached_count == 1
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
