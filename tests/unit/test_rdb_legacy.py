"""Files from Redis <= 6.2 (spec §11): ziplist, zipmap and old plain types, hand-built."""

from __future__ import annotations

import struct
from collections import deque

import pytest

from node.zset import ZSet
from persistence.rdb import EncodingLimits, End, KeyRecord, RdbDecoder, RdbError, SelectDb
from persistence.rdb.primitives import crc64, encode_string

L = EncodingLimits()


def ziplist(entries: list[bytes]) -> bytes:
    """Lay out a ziplist by hand: strings as 6-bit-length entries, ints 0..12 as immediates."""
    body = b""
    prev = 0
    tail = 10
    for e in entries:
        if e.isdigit() and int(e) <= 12 and e == b"%d" % int(e):
            enc = bytes((0xF1 + int(e),))
        else:
            assert len(e) < 64
            enc = bytes((len(e),)) + e
        raw = bytes((prev,)) + enc
        tail = 10 + len(body)
        body += raw
        prev = len(raw)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(entries)) + body + b"\xff"


def zipmap(pairs: list[tuple[bytes, bytes]]) -> bytes:
    out = bytes((len(pairs),))
    for k, v in pairs:
        out += bytes((len(k),)) + k + bytes((len(v),)) + b"\x00" + v
    return out + b"\xff"


def rdb(version: int, body: bytes) -> bytes:
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + (struct.pack("<Q", crc64(data)) if version >= 5 else b"")


def load(data: bytes) -> list[object]:
    d = RdbDecoder(L)
    d.feed(data)
    out = []
    while (ev := d.next_event()) is not None:
        out.append(ev)
    d.close()
    return out


def key(type_id: int, name: bytes, value: bytes) -> bytes:
    return bytes((type_id,)) + encode_string(name) + value


def test_redis_62_style_file() -> None:
    body = (
        b"\xfe\x00\xfb\x05\x00"
        + key(13, b"h", encode_string(ziplist([b"f1", b"v1", b"f2", b"7"])))
        + key(12, b"z", encode_string(ziplist([b"a", b"1", b"b", b"2.5"])))
        + key(
            14,
            b"ql",
            b"\x02" + encode_string(ziplist([b"x", b"1"])) + encode_string(ziplist([b"y"])),
        )
        + key(10, b"zl", encode_string(ziplist([b"p", b"q"])))
        + key(11, b"is", encode_string(struct.pack("<IIhh", 2, 2, -1, 5)))
    )
    events = load(rdb(9, body))
    assert events[0] == SelectDb(0)
    h, z, ql, zl, is_ = events[2:7]
    assert h == KeyRecord(b"h", {b"f1": b"v1", b"f2": b"7"}, 13, None, None, None)
    assert isinstance(z, KeyRecord) and isinstance(z.value, ZSet)
    assert list(z.value) == [(1.0, b"a"), (2.5, b"b")] and z.value.listpack
    assert ql == KeyRecord(b"ql", deque([b"x", b"1", b"y"]), 14, None, None, None)
    assert zl == KeyRecord(b"zl", deque([b"p", b"q"]), 10, None, None, None)
    assert is_ == KeyRecord(b"is", {b"-1", b"5"}, 11, None, None, None)
    assert isinstance(events[7], End)


def test_redis_24_style_zipmap_hash_without_checksum() -> None:
    body = b"\xfe\x00" + key(9, b"zm", encode_string(zipmap([(b"a", b"1"), (b"bb", b"22")])))
    events = load(rdb(4, body))
    assert events[1] == KeyRecord(b"zm", {b"a": b"1", b"bb": b"22"}, 9, None, None, None)
    assert events[2] == End(0, crc64(rdb(4, body)))


def test_old_plain_types() -> None:
    body = (
        b"\xfe\x00"
        + key(1, b"l", b"\x02\x01a\xc1\x2c\x01")
        + key(3, b"z", b"\x01\x01m\x043.25")
        + key(2, b"s", b"\x02\x01a\xc0\x05")
        + key(4, b"h", b"\x01\x01f\x01v")
    )
    events = load(rdb(6, body))
    assert events[1] == KeyRecord(b"l", deque([b"a", b"300"]), 1, None, None, None)
    z = events[2]
    assert isinstance(z, KeyRecord) and isinstance(z.value, ZSet)
    assert z.value.scores == {b"m": 3.25}
    assert events[3] == KeyRecord(b"s", {b"a", b"5"}, 2, None, None, None)
    assert events[4] == KeyRecord(b"h", {b"f": b"v"}, 4, None, None, None)


@pytest.mark.parametrize(
    ("type_id", "value", "reason"),
    [
        (13, encode_string(ziplist([b"f1", b"v1", b"f1", b"v2"])), "Duplicate hash fields"),
        (13, encode_string(ziplist([b"f1"])), "odd number"),
        (12, encode_string(ziplist([b"a", b"x"])), "score"),
        (10, encode_string(ziplist([b"a"])[:-1] + b"\x00"), "Ziplist integrity"),
        (14, b"\x01" + encode_string(b"\x00" * 11), "Ziplist integrity"),
        (9, encode_string(zipmap([(b"a", b"1"), (b"a", b"2")])), "Duplicate hash fields"),
        (9, encode_string(b"\x01\x01a"), "Zipmap integrity"),
    ],
)
def test_corrupt_legacy_values(type_id: int, value: bytes, reason: str) -> None:
    with pytest.raises(RdbError, match=reason) as info:
        load(rdb(9, b"\xfe\x00" + key(type_id, b"bad", value)))
    assert (info.value.key, info.value.type_id, info.value.doing) == (
        b"bad",
        type_id,
        "read-object-value",
    )


def test_empty_legacy_collections_are_none() -> None:
    events = load(rdb(9, b"\xfe\x00" + key(13, b"e", encode_string(ziplist([])))))
    assert events[1] == KeyRecord(b"e", None, 13, None, None, None)
