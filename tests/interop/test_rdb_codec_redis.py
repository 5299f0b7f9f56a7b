"""The RDB codec against real Redis 7.0: files Redis writes decode to what Redis serves,
files keelkv writes pass redis-check-rdb and load into redis-server unchanged, and DUMP
payloads are byte-identical where Redis's output is deterministic."""

from __future__ import annotations

import random
import shutil
import subprocess
import tempfile
import time
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from node.zset import ZSet
from persistence.rdb import (
    Aux,
    EncodingLimits,
    End,
    FunctionLib,
    KeyRecord,
    RdbDecoder,
    RdbEncoder,
    SelectDb,
    dump_payload,
    load_dump_payload,
)
from tests.harness import ServerProcess, start_redis

pytestmark = pytest.mark.interop

L = EncodingLimits()
FUTURE_MS = int(time.time() * 1000) + 10 * 24 * 3600 * 1000
LIBRARY = "#!lua name=rdblib\nredis.register_function('rdbf', function(keys, args) return 1 end)"

# Which RDB type Redis 7.0 writes for each OBJECT ENCODING.
TYPE_OF_ENCODING = {
    (b"string", b"int"): 0,
    (b"string", b"embstr"): 0,
    (b"string", b"raw"): 0,
    (b"hash", b"listpack"): 16,
    (b"hash", b"hashtable"): 4,
    (b"set", b"intset"): 11,
    (b"set", b"hashtable"): 2,
    (b"zset", b"listpack"): 17,
    (b"zset", b"skiplist"): 5,
    (b"list", b"quicklist"): 18,
}


def dataset(seed: int) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    """Values of every type, in compact and plain encodings, spread over three databases."""
    rnd = random.Random(seed)

    def blob(n: int) -> bytes:
        return rnd.randbytes(n)

    db0: dict[bytes, tuple[Any, int | None]] = {
        b"s:empty": (b"", None),
        b"s:int8": (b"-7", None),
        b"s:int16": (b"415", None),
        b"s:int32": (b"1795505521", FUTURE_MS),
        b"s:int64": (b"-9223372036854775808", None),
        b"s:lead0": (b"0123", None),
        b"s:lzf": (b"a" * 200, None),
        b"s:rand": (blob(300), FUTURE_MS + 1),
        b"s:big": (blob(20000), None),
        b"12345": (b"an int-encoded key", None),
        blob(12): (b"binary key", None),
        b"h:small": ({b"f1": b"v1", b"f2": b"2"}, None),
        b"h:ints": ({b"%d" % i: b"%d" % (i * 7919 - 10**6) for i in range(40)}, FUTURE_MS),
        b"h:wide": ({b"f": b"v" * 65}, None),
        b"h:many": ({b"f%d" % i: blob(8) for i in range(600)}, None),
        b"set:int": ({b"1", b"2", b"3", b"-100", b"100000"}, None),
        b"set:i64": ({b"9223372036854775807", b"-1"}, None),
        b"set:str": ({b"m%d" % i for i in range(50)}, None),
        b"set:bigint": ({b"%d" % i for i in range(600)}, None),
        b"l:small": (deque([b"a", b"b", b"1", b"300", b"-5", b"70000", b"x" * 70]), None),
        b"l:1000": (deque(b"item%d" % i for i in range(1000)), FUTURE_MS),
        b"l:bin": (deque(blob(rnd.randint(0, 9000)) for _ in range(40)), None),
        b"z:small": (ZSet.from_scores({b"one": 1.0, b"two": 2.5, b"three": -3.0}, True), None),
        b"z:inf": (
            ZSet.from_scores(
                {b"a": float("inf"), b"b": float("-inf"), b"c": 0.1, b"d": 2.0**62}, True
            ),
            None,
        ),
        b"z:big": (ZSet.from_scores({b"m%d" % i: i / 7 for i in range(300)}, False), None),
        b"z:long": (ZSet.from_scores({b"M" * 70: 1.0, b"n": 2.0}, False), FUTURE_MS),
    }
    db3 = {b"k%d" % i: (b"value-%d" % i, FUTURE_MS + i if i % 3 == 0 else None) for i in range(200)}
    db15 = {b"only": ({b"x": b"y"}, None)}
    return {0: db0, 3: db3, 15: db15}


def write_to_redis(client: Any, data: dict[int, dict[bytes, tuple[Any, int | None]]]) -> None:
    for db, keys in data.items():
        client.execute_command("SELECT", db)
        for key, (value, expire) in keys.items():
            if type(value) is bytes:
                client.set(key, value)
            elif type(value) is dict:
                client.hset(key, mapping=value)
            elif type(value) is set:
                client.sadd(key, *value)
            elif type(value) is deque:
                client.rpush(key, *value)
            else:
                client.zadd(key, {m: s for m, s in value.scores.items()})
            if expire is not None:
                client.pexpireat(key, expire)
    client.execute_command("SELECT", 0)


def read_from_redis(client: Any, key: bytes) -> Any:
    kind = client.type(key)
    if kind == b"string":
        return client.get(key)
    if kind == b"hash":
        return client.hgetall(key)
    if kind == b"set":
        return client.smembers(key)
    if kind == b"list":
        return deque(client.lrange(key, 0, -1))
    if kind == b"zset":
        return [(s, m) for m, s in client.zrange(key, 0, -1, withscores=True)]
    raise AssertionError(f"unexpected type {kind!r}")


def plain(value: Any) -> Any:
    return list(value) if isinstance(value, ZSet) else value


def decode_file(path: Path, chunk: int = 65536) -> list[Any]:
    d = RdbDecoder(L)
    events = []
    with path.open("rb") as f:
        while block := f.read(chunk):
            d.feed(block)
            while (ev := d.next_event()) is not None:
                events.append(ev)
    d.close()
    return events


def by_db(events: list[Any]) -> dict[int, dict[bytes, KeyRecord]]:
    out: dict[int, dict[bytes, KeyRecord]] = {}
    db = -1
    for ev in events:
        if isinstance(ev, SelectDb):
            db = ev.db
            out[db] = {}
        elif isinstance(ev, KeyRecord):
            assert ev.key not in out[db]
            out[db][ev.key] = ev
    return out


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="rdb-codec-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def check_against_server(
    server: ServerProcess, records: dict[int, dict[bytes, KeyRecord]], *, check_type: bool = True
) -> int:
    """Every key the server holds equals the decoded record (value, TTL, encoding)."""
    client = server.client()
    seen = 0
    for db in range(16):
        client.execute_command("SELECT", db)
        keys = set(client.keys("*"))
        assert keys == set(records.get(db, {})), f"db {db}"
        for key in keys:
            rec = records[db][key]
            assert plain(rec.value) == read_from_redis(client, key), key
            pexpiretime = client.execute_command("PEXPIRETIME", key)
            assert rec.expire_ms == (None if pexpiretime == -1 else pexpiretime), key
            if check_type:
                kind = client.type(key)
                enc = client.object("encoding", key)
                assert rec.type_id == TYPE_OF_ENCODING[(kind, enc)], (key, kind, enc)
                if isinstance(rec.value, ZSet):
                    assert rec.value.listpack == (enc == b"listpack")
            seen += 1
    client.close()
    return seen


# -- Redis writes, keelkv reads ------------------------------------------------------


@pytest.mark.parametrize("compression", ["yes", "no"])
def test_redis_dump_decodes_to_what_redis_serves(workdir: Path, compression: str) -> None:
    with start_redis("--rdbcompression", compression, workdir=workdir) as server:
        client = server.client()
        write_to_redis(client, dataset(1))
        client.function_load(LIBRARY)
        assert client.save()
        events = decode_file(workdir / "dump.rdb", chunk=4096)
        aux = {ev.key: ev.value for ev in events if isinstance(ev, Aux)}
        assert aux[b"redis-ver"] == b"7.0.15" and aux[b"redis-bits"] == b"64"
        assert aux[b"aof-base"] == b"0"
        assert [ev.code for ev in events if isinstance(ev, FunctionLib)] == [LIBRARY.encode()]
        end = events[-1]
        assert isinstance(end, End) and end.checksum_stored == end.checksum_computed != 0
        records = by_db(events)
        assert sorted(records) == [0, 3, 15]
        assert check_against_server(server, records) == sum(len(v) for v in dataset(1).values())


def test_redis_dump_with_lfu_and_lru_metadata(workdir: Path) -> None:
    with start_redis("--maxmemory-policy", "allkeys-lfu", workdir=workdir) as server:
        client = server.client()
        for i in range(20):
            client.set(b"k%d" % i, b"v")
            for _ in range(i * 10):
                client.get(b"k%d" % i)
        freqs = {b"k%d" % i: client.object("freq", b"k%d" % i) for i in range(20)}
        assert client.save()
        records = by_db(decode_file(workdir / "dump.rdb"))[0]
        assert {k: r.freq for k, r in records.items()} == freqs
        assert all(r.idle is None for r in records.values())
        client.config_set("maxmemory-policy", "allkeys-lru")
        for i in range(20):
            client.get(b"k%d" % i)  # the LRU clock replaces the LFU counter on access
        assert client.save()
        records = by_db(decode_file(workdir / "dump.rdb"))[0]
        assert all(r.idle is not None and r.idle < 100 and r.freq is None for r in records.values())


def test_redis_dump_without_checksum(workdir: Path) -> None:
    with start_redis("--rdbchecksum", "no", workdir=workdir) as server:
        client = server.client()
        client.set("a", "b")
        assert client.save()
        end = decode_file(workdir / "dump.rdb")[-1]
        assert isinstance(end, End) and end.checksum_stored == 0


# -- keelkv writes, Redis reads ------------------------------------------------------


def write_keelkv_file(
    path: Path, data: dict[int, dict[bytes, tuple[Any, int | None]]], **kw: Any
) -> None:
    enc = RdbEncoder(L, **kw)
    with path.open("wb") as f:
        f.write(
            enc.header(
                [
                    (b"redis-ver", b"7.0.15"),
                    (b"redis-bits", b"64"),
                    (b"ctime", b"%d" % int(time.time())),
                    (b"used-mem", b"1000000"),
                    (b"aof-base", b"0"),
                ]
            )
        )
        f.write(enc.function_lib(LIBRARY.encode()))
        for db, keys in sorted(data.items()):
            expires = sum(1 for _, e in keys.values() if e is not None)
            f.write(enc.select_db(db, len(keys), expires))
            for key, (value, expire) in keys.items():
                f.write(enc.key(key, value, expire))
        f.write(enc.end())


def redis_check_rdb(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["redis-check-rdb", str(path)], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "options",
    [{}, {"compression": False}, {"checksum": False}],
    ids=["default", "no-compression", "no-checksum"],
)
def test_keelkv_file_loads_into_redis(workdir: Path, options: dict[str, bool]) -> None:
    data = dataset(2)
    path = workdir / "dump.rdb"
    write_keelkv_file(path, data, **options)
    check = redis_check_rdb(path)
    assert check.returncode == 0, check.stdout
    assert "RDB looks OK" in check.stdout
    total = sum(len(v) for v in data.values())
    assert f"[info] {total} keys read" in check.stdout
    # Deep sanitization makes Redis validate every listpack/intset it loads.
    with start_redis("--sanitize-dump-payload", "yes", workdir=workdir) as server:
        assert "DB loaded from disk" in server.log()
        records = by_db(decode_file(path))
        assert check_against_server(server, records) == total
        client = server.client()
        assert client.fcall("rdbf", 0) == 1  # the FUNCTION2 library was loaded
        # Redis writing the same dataset back reads identically through the decoder.
        assert client.save()
        again = by_db(decode_file(path))
        for db, recs in records.items():
            assert {k: plain(r.value) for k, r in again[db].items()} == {
                k: plain(r.value) for k, r in recs.items()
            }


def test_keelkv_file_with_idle_and_freq(workdir: Path) -> None:
    path = workdir / "dump.rdb"
    enc = RdbEncoder(L)
    with path.open("wb") as f:
        f.write(enc.header([(b"redis-ver", b"7.0.15")]))
        f.write(enc.select_db(0, 3, 0))
        for i in range(3):
            f.write(enc.key(b"k%d" % i, b"v", None, None, 10 + i))
        f.write(enc.end())
    assert redis_check_rdb(path).returncode == 0
    with start_redis("--maxmemory-policy", "allkeys-lfu", workdir=workdir) as server:
        client = server.client()
        assert [client.object("freq", b"k%d" % i) for i in range(3)] == [10, 11, 12]


def test_corrupt_keelkv_file_is_refused_by_redis_check_rdb(workdir: Path) -> None:
    path = workdir / "dump.rdb"
    write_keelkv_file(path, {0: {b"k": (b"hello world", None)}})
    data = bytearray(path.read_bytes())
    data[data.index(b"hello")] ^= 1
    path.write_bytes(bytes(data))
    check = redis_check_rdb(path)
    assert check.returncode != 0 and "RDB CRC error" in check.stdout


# -- DUMP payloads ------------------------------------------------------------------


def test_dump_payloads_are_byte_identical(workdir: Path) -> None:
    data = dataset(3)[0]
    with start_redis("--rdbcompression", "no", workdir=workdir) as server:
        client = server.client()
        write_to_redis(client, {0: data})
        identical = hashtables = 0
        for key, (value, _) in data.items():
            theirs = client.dump(key)
            ours = dump_payload(value, L, compression=False)
            enc = client.object("encoding", key)
            if enc == b"hashtable":
                # Hash-table iteration order is Redis's own; compare what the bytes hold.
                assert plain(load_dump_payload(ours, L)) == plain(load_dump_payload(theirs, L))
                assert len(ours) == len(theirs)
                hashtables += 1
            else:
                assert ours == theirs, (key, enc)
                identical += 1
            # Every payload keelkv makes is accepted by RESTORE.
            client.restore(b"copy:" + key, 0, ours)
            assert read_from_redis(client, b"copy:" + key) == read_from_redis(client, key)
        assert (identical, hashtables) == (len(data) - 4, 4)


def test_lzf_dump_payloads_restore_both_ways(workdir: Path) -> None:
    values: list[Any] = [
        b"a" * 500,
        {b"f%d" % i: b"abc" * 20 for i in range(10)},
        deque([b"item" * 30] * 100),
        ZSet.from_scores({b"member-%d" % i: float(i) for i in range(50)}, True),
    ]
    with start_redis(workdir=workdir) as server:
        client = server.client()
        for i, value in enumerate(values):
            payload = dump_payload(value, L)
            client.restore(b"r%d" % i, 0, payload)
            theirs = client.dump(b"r%d" % i)
            assert plain(load_dump_payload(theirs, L)) == plain(value)
            assert read_from_redis(client, b"r%d" % i) == (
                [(s, m) for s, m in value] if isinstance(value, ZSet) else value
            )


@pytest.mark.parametrize(
    "limits",
    [
        EncodingLimits(4, 10, 5, 3, 8, 5),
        EncodingLimits(1000, 300, 1000, 300, 200, -1),
        EncodingLimits(16, 64, 16, 16, 64, -4),
        EncodingLimits(128, 64, 512, 128, 64, 1),
    ],
    ids=lambda lim: f"list{lim.list_max_listpack_size}",
)
def test_encoding_choice_and_bytes_follow_configured_limits(
    workdir: Path, limits: EncodingLimits
) -> None:
    """Random values under non-default *-max-* settings: same type and same DUMP bytes."""
    rnd = random.Random(limits.list_max_listpack_size)

    def element() -> bytes:
        kind = rnd.random()
        if kind < 0.3:
            return b"%d" % rnd.randint(-(2**63), 2**63 - 1)
        if kind < 0.5:
            return b"%d" % rnd.randint(-300, 70000)
        return rnd.randbytes(rnd.choice([0, 1, 5, 9, 11, 60, 64, 65, 250, 301, 5000]))

    data: dict[bytes, Any] = {}
    for i in range(150):
        n = rnd.choice([1, 2, 3, 4, 5, 6, 17, 200])
        kind = i % 4
        if kind == 0:
            data[b"h%d" % i] = {element(): element() for _ in range(n)}
        elif kind == 1:
            data[b"s%d" % i] = {element() for _ in range(n)}
        elif kind == 2:
            data[b"l%d" % i] = deque(element() for _ in range(n * 3))
        else:
            members = {element(): float(rnd.randint(-5, 5)) / 4 for _ in range(n)}
            fits = (
                len(members) <= limits.zset_max_listpack_entries
                and max(map(len, members)) <= limits.zset_max_listpack_value
            )
            data[b"z%d" % i] = ZSet.from_scores(members, fits)
    args = [
        "--rdbcompression",
        "no",
        "--hash-max-listpack-entries",
        str(limits.hash_max_listpack_entries),
        "--hash-max-listpack-value",
        str(limits.hash_max_listpack_value),
        "--set-max-intset-entries",
        str(limits.set_max_intset_entries),
        "--zset-max-listpack-entries",
        str(limits.zset_max_listpack_entries),
        "--zset-max-listpack-value",
        str(limits.zset_max_listpack_value),
        "--list-max-listpack-size",
        str(limits.list_max_listpack_size),
    ]
    with start_redis(*args, workdir=workdir) as server:
        client = server.client()
        write_to_redis(client, {0: {k: (v, None) for k, v in data.items()}})
        for key, value in data.items():
            theirs = client.dump(key)
            ours = dump_payload(value, limits, compression=False)
            assert ours[0] == theirs[0], (key, client.object("encoding", key))
            if client.object("encoding", key) != b"hashtable":
                assert ours == theirs, key


def random_dataset(seed: int, n: int) -> dict[int, dict[bytes, tuple[Any, int | None]]]:
    rnd = random.Random(seed)

    def element() -> bytes:
        kind = rnd.random()
        if kind < 0.25:
            return b"%d" % rnd.randint(-(2**63), 2**63 - 1)
        if kind < 0.4:
            return b"%d" % rnd.randint(-300, 70000)
        if kind < 0.55:
            return b"ab" * rnd.randint(0, 120)  # compressible
        return rnd.randbytes(rnd.choice([0, 1, 11, 21, 63, 64, 65, 300, 5000]))

    def value() -> Any:
        size = rnd.choice([1, 2, 5, 20, 128, 129, 513, 2000])
        kind = rnd.randrange(5)
        if kind == 0:
            return element()
        if kind == 1:
            return {element(): element() for _ in range(size)}
        if kind == 2:
            return {element() for _ in range(size)}
        if kind == 3:
            return deque(element() for _ in range(size))
        members = {
            element(): rnd.choice([rnd.uniform(-1e6, 1e6), float(rnd.randint(-9, 9))])
            for _ in range(size)
        }
        fits = len(members) <= 128 and max(map(len, members)) <= 64
        return ZSet.from_scores(members, fits)

    out: dict[int, dict[bytes, tuple[Any, int | None]]] = {}
    for _ in range(n):
        db = rnd.choice([0, 0, 0, 1, 9, 15])
        expire = FUTURE_MS + rnd.randint(0, 10**6) if rnd.random() < 0.2 else None
        out.setdefault(db, {})[element() or b"k"] = (value(), expire)
    return out


@pytest.mark.parametrize("seed", [11, 12])
def test_random_keelkv_file_loads_into_redis(workdir: Path, seed: int) -> None:
    data = random_dataset(seed, 1500)
    path = workdir / "dump.rdb"
    write_keelkv_file(path, data)
    check = redis_check_rdb(path)
    assert check.returncode == 0, check.stdout
    total = sum(len(v) for v in data.values())
    with start_redis("--sanitize-dump-payload", "yes", workdir=workdir) as server:
        records = by_db(decode_file(path, chunk=1000))
        assert {
            db: {k: plain(r.value) for k, r in recs.items()} for db, recs in records.items()
        } == {db: {k: plain(v) for k, (v, _) in keys.items()} for db, keys in data.items()}
        assert check_against_server(server, records) == total
