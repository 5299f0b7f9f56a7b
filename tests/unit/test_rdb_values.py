"""encode_value / decode_value / DUMP payloads: every type and encoding, both directions."""

from __future__ import annotations

import struct
from collections import deque
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.zset import ZSet, listpack_score_text
from persistence.rdb import (
    EncodingLimits,
    RdbError,
    decode_value,
    dump_payload,
    encode_value,
    hash_is_listpack,
    load_dump_payload,
    set_is_intset,
)
from persistence.rdb.encoder import quicklist_nodes
from persistence.rdb.listpack import decode_listpack, encode_listpack
from persistence.rdb.primitives import crc64, encode_len, encode_string, read_len, read_string

L = EncodingLimits()

# Elements that exercise int encodings, LZF, and the listpack/str() length classes.
elements = st.one_of(
    st.binary(max_size=80),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: b"%d" % v),
    st.integers(min_value=-200, max_value=70000).map(lambda v: b"%d" % v),
    st.sampled_from([b"", b"-0", b"007", b"a" * 65, b"ab" * 40]),
)
scores = st.one_of(
    st.floats(allow_nan=False),
    st.integers(min_value=-(2**64), max_value=2**64).map(float),
    st.sampled_from([0.0, -0.0, 2.0**62, -(2.0**62), 2.0**62 + 1024, 0.1, 1e-300]),
)


def zset_state(z: ZSet) -> tuple[bool, list[tuple[float, bytes]]]:
    return z.listpack, list(z)


def same_value(a: object, b: object) -> bool:
    if isinstance(a, ZSet) and isinstance(b, ZSet):
        return zset_state(a) == zset_state(b)
    return type(a) is type(b) and a == b


# -- limits ---------------------------------------------------------------------------


def test_limits_defaults_are_redis_70() -> None:
    assert (
        L.hash_max_listpack_entries,
        L.hash_max_listpack_value,
        L.set_max_intset_entries,
        L.zset_max_listpack_entries,
        L.zset_max_listpack_value,
        L.list_max_listpack_size,
    ) == (512, 64, 512, 128, 64, -2)


def test_limits_from_config_reads_the_attributes() -> None:
    config = SimpleNamespace(
        hash_max_listpack_entries=1,
        hash_max_listpack_value=2,
        set_max_intset_entries=3,
        zset_max_listpack_entries=4,
        zset_max_listpack_value=5,
        list_max_listpack_size=6,
    )
    assert EncodingLimits.from_config(config) == EncodingLimits(1, 2, 3, 4, 5, 6)


# -- strings --------------------------------------------------------------------------


@given(elements, st.booleans())
def test_string_round_trip(s: bytes, compression: bool) -> None:
    type_id, data = encode_value(s, L, compression)
    assert type_id == 0
    assert data == encode_string(s, compression)
    assert decode_value(0, data, L) == s


# -- hashes ---------------------------------------------------------------------------


@settings(max_examples=150)
@given(st.dictionaries(elements, elements, min_size=1, max_size=40), st.booleans())
def test_hash_round_trip_and_encoding_choice(h: dict[bytes, bytes], compression: bool) -> None:
    limits = EncodingLimits(hash_max_listpack_entries=20, hash_max_listpack_value=40)
    type_id, data = encode_value(h, limits, compression)
    assert type_id == (16 if hash_is_listpack(h, limits) else 4)
    back = decode_value(type_id, data, limits)
    assert back == h
    if type_id == 16:
        assert list(back) == list(h)  # a listpack keeps insertion order


@pytest.mark.parametrize(
    ("h", "type_id"),
    [
        ({b"f": b"v" * 64}, 16),
        ({b"f": b"v" * 65}, 4),
        ({b"f" * 65: b"v"}, 4),
        ({b"f%d" % i: b"v" for i in range(512)}, 16),
        ({b"f%d" % i: b"v" for i in range(513)}, 4),
    ],
)
def test_hash_thresholds(h: dict[bytes, bytes], type_id: int) -> None:
    assert encode_value(h, L, False)[0] == type_id


def test_plain_hash_layout() -> None:
    h = {b"a": b"1", b"b" * 70: b"x"}
    type_id, data = encode_value(h, L, False)
    assert type_id == 4
    assert data == b"\x02" + b"\x01a" + b"\xc0\x01" + encode_string(b"b" * 70, False) + b"\x01x"


# -- sets -----------------------------------------------------------------------------


@settings(max_examples=150)
@given(st.sets(elements, min_size=1, max_size=40), st.booleans())
def test_set_round_trip_and_encoding_choice(s: set[bytes], compression: bool) -> None:
    limits = EncodingLimits(set_max_intset_entries=20)
    type_id, data = encode_value(s, limits, compression)
    assert type_id == (11 if set_is_intset(s, limits) else 2)
    assert decode_value(type_id, data, limits) == s


@pytest.mark.parametrize(
    ("s", "type_id"),
    [
        ({b"%d" % i for i in range(512)}, 11),
        ({b"%d" % i for i in range(513)}, 2),
        ({b"9223372036854775807"}, 11),
        ({b"0123"}, 2),
        ({b"-0"}, 2),
        ({b"1", b"a"}, 2),
    ],
)
def test_set_thresholds(s: set[bytes], type_id: int) -> None:
    assert encode_value(s, L, False)[0] == type_id


# -- zsets ----------------------------------------------------------------------------


@settings(max_examples=150)
@given(st.dictionaries(elements, scores, min_size=1, max_size=40), st.booleans())
def test_zset_round_trip_both_encodings(members: dict[bytes, float], listpack: bool) -> None:
    limits = EncodingLimits(zset_max_listpack_entries=20, zset_max_listpack_value=40)
    z = ZSet.from_scores(dict(members), listpack=listpack)
    type_id, data = encode_value(z, limits, True)
    assert type_id == (17 if listpack else 5)
    back = decode_value(type_id, data, limits)
    assert isinstance(back, ZSet)
    assert list(back) == list(z)
    if type_id == 17:
        # Redis keeps a loaded listpack zset as listpack unless it has too many entries.
        assert back.listpack == (len(z) <= 20)
    else:
        fits = len(z) <= 20 and max(len(m) for m in members) <= 40
        assert back.listpack == fits


def test_zset_listpack_is_sorted_by_score_then_member_with_score_text() -> None:
    z = ZSet.from_scores(
        {b"b": 1.0, b"a": 1.0, b"c": -3.0, b"d": 2.5, b"e": float("inf"), b"f": 2.0**62 * 2},
        listpack=True,
    )
    type_id, data = encode_value(z, L, False)
    blob, _ = read_string(data, 0)
    assert decode_listpack(blob) == [
        b"c",
        b"-3",
        b"a",
        b"1",
        b"b",
        b"1",
        b"d",
        b"2.5",
        b"f",
        listpack_score_text(2.0**63),
        b"e",
        b"inf",
    ]
    assert listpack_score_text(2.0**63) == b"9.2233720368547758e+18"


def test_zset2_is_written_highest_first_with_binary_scores() -> None:
    z = ZSet.from_scores({b"m1": 1.0, b"m2": 99.5, b"m0": 99.5}, listpack=False)
    type_id, data = encode_value(z, L, False)
    assert type_id == 5
    assert data == (
        b"\x03"
        + b"\x02m2"
        + struct.pack("<d", 99.5)
        + b"\x02m0"
        + struct.pack("<d", 99.5)
        + b"\x02m1"
        + struct.pack("<d", 1.0)
    )


def test_old_zset_type_3_with_text_scores() -> None:
    data = (
        b"\x04"
        + b"\x01a\x031.5"
        + b"\x01b\xfe"  # +inf
        + b"\x01c\xff"  # -inf
        + b"\x01d\x02-2"
    )
    z = decode_value(3, data, L)
    assert isinstance(z, ZSet)
    assert z.scores == {b"a": 1.5, b"b": float("inf"), b"c": float("-inf"), b"d": -2.0}
    assert z.listpack
    with pytest.raises(RdbError, match="NAN"):
        decode_value(3, b"\x01\x01a\xfd", L)


# -- lists ----------------------------------------------------------------------------


@settings(max_examples=150)
@given(st.lists(elements, min_size=1, max_size=60), st.sampled_from([-5, -2, -1, 0, 1, 3, 128]))
def test_list_round_trip(items: list[bytes], fill: int) -> None:
    limits = EncodingLimits(list_max_listpack_size=fill)
    type_id, data = encode_value(deque(items), limits, True)
    assert type_id == 18
    assert decode_value(18, data, limits) == deque(items)


def test_quicklist_1000_items_make_two_nodes_like_redis() -> None:
    """spec §7.1: 1000 x itemN with -2 made nodes of 8186 and 718 bytes."""
    nodes = quicklist_nodes((b"item%d" % i for i in range(1000)), -2)
    assert [(c, len(b)) for c, b in nodes] == [(2, 8186), (2, 718)]


@pytest.mark.parametrize(("fill", "limit"), [(-1, 4096), (-2, 8192), (-3, 16384), (-5, 65536)])
def test_quicklist_size_classes(fill: int, limit: int) -> None:
    items = [b"x" * 100] * 2000
    nodes = quicklist_nodes(items, fill)
    for _, blob in nodes[:-1]:
        # A node is closed when the next element would pass the limit by Redis's estimate.
        assert len(blob) + 100 + 8 > limit >= len(blob)
    assert sum(len(decode_listpack(b)) for _, b in nodes) == 2000


def test_quicklist_positive_fill_counts_entries_with_8k_cap() -> None:
    assert [len(decode_listpack(b)) for _, b in quicklist_nodes([b"a"] * 10, 3)] == [3, 3, 3, 1]
    big = quicklist_nodes([b"y" * 3000] * 5, 100)
    assert [len(decode_listpack(b)) for _, b in big] == [2, 2, 1]
    assert len(quicklist_nodes([b"a"] * 4, 0)) == 4
    # -6 and below clamp to -5 (64 KiB).
    assert quicklist_nodes([b"z" * 1000] * 200, -9) == quicklist_nodes([b"z" * 1000] * 200, -5)


def test_quicklist_node_may_hold_one_oversized_element() -> None:
    nodes = quicklist_nodes([b"a", b"q" * 10000, b"b"], -2)
    assert [decode_listpack(b) for _, b in nodes] == [[b"a"], [b"q" * 10000], [b"b"]]


def test_quicklist_plain_nodes_and_empty_nodes_load() -> None:
    empty_lp = encode_listpack([])
    data = (
        b"\x03"
        + b"\x02"
        + encode_string(encode_listpack([b"a", b"1"]), False)
        + b"\x01"
        + encode_string(b"plain element", False)
        + b"\x02"
        + encode_string(empty_lp, False)
    )
    assert decode_value(18, data, L) == deque([b"a", b"1", b"plain element"])
    with pytest.raises(RdbError, match="Quicklist integrity"):
        decode_value(18, b"\x01\x03" + encode_string(empty_lp, False), L)


# -- empty values, corrupt values -----------------------------------------------------


@pytest.mark.parametrize(
    ("type_id", "data"),
    [
        (4, b"\x00"),
        (2, b"\x00"),
        (5, b"\x00"),
        (1, b"\x00"),
        (18, b"\x00"),
        (18, b"\x01\x02" + encode_string(encode_listpack([]), False)),
        (16, encode_string(encode_listpack([]), False)),
        (17, encode_string(encode_listpack([]), False)),
    ],
)
def test_empty_collections_decode_to_none(type_id: int, data: bytes) -> None:
    assert decode_value(type_id, data, L) is None


_BAD_LP = encode_listpack([b"a", b"b"])[:-1] + b"\x00"


# `offset`: where Redis's reader stands when it gives up (redis-check-rdb prints it): after
# the element, score or blob found bad, at the start of a read that ran out.
@pytest.mark.parametrize(
    ("type_id", "data", "reason", "offset"),
    [
        (4, b"\x02\x01a\x01b\x01a\x01c", "Duplicate hash fields", 9),
        (16, encode_string(encode_listpack([b"a", b"1", b"a", b"2"])), "Duplicate hash fields", -1),
        (16, encode_string(encode_listpack([b"a", b"1", b"b"])), "odd number", -1),
        (2, b"\x03\x01a\x01a\x01b", "Duplicate set members", 5),
        (
            5,
            b"\x02\x01a" + struct.pack("<d", 1) + b"\x01a" + struct.pack("<d", 2),
            "Duplicate zset",
            21,
        ),
        (5, b"\x02\x01a" + struct.pack("<d", float("nan")) + b"\x01b", "NAN", 11),
        (3, b"\x02\x01a\xfd\x01b\xfe", "NAN", 4),
        (3, b"\x02\x01a\x03nan\x01b\xfe", "NAN", 7),
        (3, b"\x02\x01a\x02zz\x01b\xfe", "unreadable score", 6),
        (3, b"\x03\x01a\x011\x01a\x012\x01b\xfe", "Duplicate zset", 9),
        (17, encode_string(encode_listpack([b"a", b"nan"])), "NAN", -1),
        (17, encode_string(encode_listpack([b"a", b"1", b"a", b"2"])), "Duplicate zset", -1),
        (17, encode_string(encode_listpack([b"a", b"x1"])), "score", -1),
        (11, encode_string(struct.pack("<II", 2, 0)), "Intset integrity", -1),
        (16, encode_string(_BAD_LP), "Listpack integrity", -1),
        (
            18,
            b"\x02\x02" + encode_string(_BAD_LP, False) + b"\x01\x01a",
            "Listpack integrity",
            2 + 1 + len(_BAD_LP),
        ),
        # A bad container is refused before its node is read, even a truncated one.
        (18, b"\x01\x03\x40", "Quicklist integrity", 2),
        (14, b"\x01\x03abc", "Ziplist integrity", 5),
        (4, b"\x01\x01a\xc3\x01\x05\x00", "Invalid LZF", 7),
        (4, b"\x82", "Unknown length encoding", 1),
        (4, b"\x01\xc5", "Unknown RDB string encoding type 5", 2),
        (0, b"\x05abc", "Unexpected EOF", 1),
        (0, b"\x01ab", "bytes after the value", 2),
        (4, b"\x02\x01a\x01b", "Unexpected EOF", 5),
        (5, b"\x01\x01a\x00\x00", "Unexpected EOF", 3),
        (20, b"\x00", "Invalid object type: 20", 0),
        (8, b"\x00", "Invalid object type: 8", 0),
        (19, b"\x00", "stream", 0),
    ],
)
def test_corrupt_values_raise(type_id: int, data: bytes, reason: str, offset: int) -> None:
    with pytest.raises(RdbError, match=reason) as info:
        decode_value(type_id, data, L)
    assert info.value.doing in ("read-object-value", "read-type")
    assert info.value.offset == (len(data) if offset < 0 else offset)  # -1: after the blob


def test_encoding_an_empty_collection_is_refused() -> None:
    for value in ({}, set(), deque(), ZSet()):
        with pytest.raises(ValueError):
            encode_value(value, L)


# -- DUMP payloads --------------------------------------------------------------------


def test_dump_payload_layout() -> None:
    payload = dump_payload(b"hello", L)
    body = b"\x00\x05hello\x0a\x00"
    assert payload == body + struct.pack("<Q", crc64(body))
    assert load_dump_payload(payload, L) == b"hello"


@settings(max_examples=60)
@given(
    st.one_of(
        elements,
        st.dictionaries(elements, elements, min_size=1, max_size=10),
        st.sets(elements, min_size=1, max_size=10),
        st.lists(elements, min_size=1, max_size=10).map(deque),
    )
)
def test_dump_round_trip(value: object) -> None:
    assert same_value(load_dump_payload(dump_payload(value, L), L), value)


def test_dump_of_zset_round_trip() -> None:
    z = ZSet.from_scores({b"a": 1.0, b"b": 2.0}, listpack=True)
    back = load_dump_payload(dump_payload(z, L), L)
    assert isinstance(back, ZSet) and zset_state(back) == zset_state(z)


def test_bad_dump_payloads() -> None:
    good = dump_payload({b"f": b"v"}, L)
    flipped = bytearray(good)
    flipped[3] ^= 1
    for bad in (bytes(flipped), good[:9], good[:-1] + bytes((good[-1] ^ 1,))):
        with pytest.raises(RdbError) as info:
            load_dump_payload(bad, L)
        assert info.value.reason == "DUMP payload version or checksum are wrong"
    # A newer RDB version in the footer is refused even with a valid CRC.
    body = good[:-10] + b"\x0b\x00"
    with pytest.raises(RdbError, match="version or checksum"):
        load_dump_payload(body + struct.pack("<Q", crc64(body)), L)
    # An older version (Redis 6.2 writes 9) is accepted.
    body = good[:-10] + b"\x09\x00"
    assert load_dump_payload(body + struct.pack("<Q", crc64(body)), L) == {b"f": b"v"}


@pytest.mark.parametrize(
    "body",
    [
        b"\x14\x00",  # type 20
        b"\x04\x02\x01a\x01b",  # truncated hash
        b"\x04\x00",  # empty hash
        b"\x0b" + encode_string(struct.pack("<II", 2, 0)),  # empty intset
        b"",
    ],
)
def test_restore_bad_data_format(body: bytes) -> None:
    body += b"\x0a\x00"
    with pytest.raises(RdbError) as info:
        load_dump_payload(body + struct.pack("<Q", crc64(body)), L)
    assert info.value.reason == "Bad data format"


def test_restore_reads_the_value_like_redis_footer_included() -> None:
    """rioInitWithBuffer covers the whole argument: a value may run into the footer, and
    bytes between the value and the footer are ignored."""
    body = b"\x00\x05hel" + b"\x0a\x00"  # "hel" + the two version bytes = 5 bytes
    payload = body + struct.pack("<Q", crc64(body))
    assert load_dump_payload(payload, L) == b"hel\x0a\x00"
    body = b"\x00\x02hiJUNK\x0a\x00"
    assert load_dump_payload(body + struct.pack("<Q", crc64(body)), L) == b"hi"


def test_length_helpers_agree() -> None:
    for n in (0, 1, 63, 64, 16383, 16384, 2**32 - 1, 2**32, 2**40):
        assert read_len(encode_len(n), 0) == (n, len(encode_len(n)))
