"""Listpack, intset, ziplist and zipmap blobs: spec vectors, every encoding, corrupt blobs."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from persistence.rdb.intset import IntsetError, decode_intset, encode_intset
from persistence.rdb.listpack import (
    ListpackError,
    decode_listpack,
    encode_backlen,
    encode_listpack,
    entry,
)
from persistence.rdb.ziplist import ZiplistError, decode_ziplist
from persistence.rdb.zipmap import ZipmapError, decode_zipmap

# -- listpack -------------------------------------------------------------------------


def test_spec_hash_listpack_vector() -> None:
    """HSET h:small f1 v1 f2 2 (spec §7.1): "2" is stored as an integer."""
    blob = bytes.fromhex("15 00 00 00 04 00 82 66 31 03 82 76 31 03 82 66 32 03 02 01 ff")
    assert encode_listpack([b"f1", b"v1", b"f2", b"2"]) == blob
    assert decode_listpack(blob) == [b"f1", b"v1", b"f2", b"2"]


def test_spec_zset_listpack_vector() -> None:
    """ZADD z:small 1 one 2.5 two -3 three (spec §7.1)."""
    blob = bytes.fromhex(
        "22 00 00 00 06 00 85 74 68 72 65 65 06 df fd 02 83 6f 6e 65 04 01 01"
        " 83 74 77 6f 04 83 32 2e 35 04 ff"
    )
    items = [b"three", b"-3", b"one", b"1", b"two", b"2.5"]
    assert encode_listpack(items) == blob
    assert decode_listpack(blob) == items


@pytest.mark.parametrize(
    ("element", "encoded"),
    [
        (b"0", "00 01"),
        (b"127", "7f 01"),
        (b"128", "c0 80 02"),
        (b"-1", "df ff 02"),
        (b"4095", "cf ff 02"),
        (b"-4096", "d0 00 02"),
        (b"4096", "f1 00 10 03"),
        (b"-4097", "f1 ff ef 03"),
        (b"32767", "f1 ff 7f 03"),
        (b"32768", "f2 00 80 00 04"),
        (b"-8388608", "f2 00 00 80 04"),
        (b"8388608", "f3 00 00 80 00 05"),
        (b"-2147483648", "f3 00 00 00 80 05"),
        (b"2147483648", "f4 00 00 00 80 00 00 00 00 09"),
        (b"-9223372036854775808", "f4 00 00 00 00 00 00 00 80 09"),
        (b"", "80 01"),
        (b"-0", "82 2d 30 03"),
        (b"007", "83 30 30 37 04"),
        (b"9223372036854775808", "93" + b"9223372036854775808".hex() + "14"),
    ],
)
def test_listpack_entry_encodings(element: bytes, encoded: str) -> None:
    assert entry(element) == bytes.fromhex(encoded)
    blob = encode_listpack([element])
    assert decode_listpack(blob) == [element]


@pytest.mark.parametrize(
    ("n", "head", "back"),
    [
        (63, b"\xbf", b"\x40"),
        (64, b"\xe0\x40", b"\x42"),
        (125, b"\xe0\x7d", b"\x7f"),
        (126, b"\xe0\x7e", b"\x01\x80"),
        (4095, b"\xef\xff", b"\x20\x81"),
        (4096, b"\xf0\x00\x10\x00\x00", b"\x20\x85"),
        (20000, b"\xf0" + struct.pack("<I", 20000), b"\x01\x9c\xa5"),
    ],
)
def test_listpack_string_lengths_and_backlens(n: int, head: bytes, back: bytes) -> None:
    s = b"s" * n
    assert entry(s) == head + s + back
    assert decode_listpack(encode_listpack([s, b"x"])) == [s, b"x"]


@pytest.mark.parametrize(
    ("n", "size"),
    [
        (127, 1),
        (128, 2),
        (16382, 2),
        (16383, 3),
        (2097150, 3),
        (2097151, 4),
        (268435454, 4),
        (268435455, 5),
    ],
)
def test_backlen_cutoffs_mirror_redis(n: int, size: int) -> None:
    encoded = encode_backlen(n)
    assert len(encoded) == size
    # Read right to left: 7 bits per byte, stop at a byte without bit 7.
    value, shift = 0, 0
    for b in reversed(encoded):
        value |= (b & 127) << shift
        shift += 7
        if not b & 128:
            break
    assert value == n


def test_listpack_header_count_saturates_at_65535() -> None:
    blob = encode_listpack([b"1"] * 70000)
    assert struct.unpack_from("<H", blob, 4)[0] == 65535
    assert len(decode_listpack(blob)) == 70000


listpack_elements = st.lists(
    st.one_of(
        st.binary(max_size=70),
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: b"%d" % v),
        st.sampled_from([b"a" * 4095, b"b" * 4096, b"-0", b"01"]),
    ),
    max_size=30,
)


@given(listpack_elements)
def test_listpack_round_trip(elements: list[bytes]) -> None:
    blob = encode_listpack(elements)
    assert struct.unpack_from("<I", blob)[0] == len(blob)
    assert decode_listpack(blob) == elements


GOOD = encode_listpack([b"f1", b"v1", b"300", b"x" * 70])


@pytest.mark.parametrize(
    "bad",
    [
        GOOD[:-1],  # no end byte, size mismatch
        GOOD[:-1] + b"\xfe",  # wrong end byte
        struct.pack("<I", len(GOOD) + 1) + GOOD[4:],  # total_bytes too big
        GOOD[:4] + struct.pack("<H", 5) + GOOD[6:],  # element count wrong
        GOOD[:9] + b"\x07" + GOOD[10:],  # back-length of "f1" wrong
        GOOD[:6] + b"\xf5" + GOOD[7:],  # invalid encoding byte
        GOOD[:6] + b"\xff" + GOOD[7:],  # end byte inside the entries
        GOOD[:6] + b"\xbf" + GOOD[7:],  # 63-byte string running past the end
        b"\x07\x00\x00\x00\x00\x00",  # shorter than header + end
        bytes.fromhex("0b 00 00 00 01 00 f4 00 00 ff"),  # int64 cut short
    ],
)
def test_corrupt_listpacks_are_refused(bad: bytes) -> None:
    with pytest.raises(ListpackError):
        decode_listpack(bad)


def test_listpack_unknown_count_is_walked() -> None:
    blob = bytearray(encode_listpack([b"a", b"b"]))
    struct.pack_into("<H", blob, 4, 65535)
    assert decode_listpack(bytes(blob)) == [b"a", b"b"]


# -- intset ---------------------------------------------------------------------------


def test_spec_intset_vector() -> None:
    blob = bytes.fromhex(
        "04 00 00 00 05 00 00 00 9c ff ff ff 01 00 00 00 02 00 00 00 03 00 00 00 a0 86 01 00"
    )
    assert encode_intset([1, 2, 3, -100, 100000]) == blob
    assert decode_intset(blob) == [-100, 1, 2, 3, 100000]


@pytest.mark.parametrize(
    ("values", "width"),
    [
        ([1, -32768, 32767], 2),
        ([32768], 4),
        ([-32769], 4),
        ([2**31 - 1, -(2**31)], 4),
        ([2**31], 8),
        ([2**63 - 1, -(2**63)], 8),
    ],
)
def test_intset_smallest_width(values: list[int], width: int) -> None:
    blob = encode_intset(values)
    assert struct.unpack_from("<II", blob) == (width, len(values))
    assert decode_intset(blob) == sorted(values)


@given(st.sets(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=60))
def test_intset_round_trip(values: set[int]) -> None:
    assert decode_intset(encode_intset(values)) == sorted(values)


@pytest.mark.parametrize(
    "bad",
    [
        struct.pack("<II", 2, 0),  # empty
        struct.pack("<II", 3, 1) + b"\x00\x00\x00",  # invalid width
        struct.pack("<II", 2, 2) + struct.pack("<h", 1),  # shorter than the count says
        struct.pack("<II", 2, 2) + struct.pack("<hh", 5, 1),  # not ascending
        struct.pack("<II", 2, 2) + struct.pack("<hh", 5, 5),  # duplicate
        b"\x02\x00\x00",  # no header
    ],
)
def test_corrupt_intsets_are_refused(bad: bytes) -> None:
    with pytest.raises(IntsetError):
        decode_intset(bad)


# -- ziplist (hand-built per spec §11) -----------------------------------------------


def test_literal_ziplist() -> None:
    # prevlen 0, "ab"; prevlen 4, immediate 5; prevlen 2, int8 -2; end.
    blob = bytes.fromhex("14 00 00 00 10 00 00 00 03 00  00 02 61 62  04 f6  02 fe fe  ff")
    assert decode_ziplist(blob) == [b"ab", b"5", b"-2"]


def _zl_entry(prev: int, enc: bytes) -> bytes:
    prevlen = bytes((prev,)) if prev < 254 else b"\xfe" + struct.pack("<I", prev)
    return prevlen + enc


def _ziplist(encodings: list[bytes]) -> bytes:
    """A ziplist laid out by hand from raw entry encodings (header, prevlens, tail, end)."""
    body = b""
    prev = 0
    tail = 10
    for enc in encodings:
        raw = _zl_entry(prev, enc)
        tail = 10 + len(body)
        body += raw
        prev = len(raw)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(encodings)) + body + b"\xff"


ZIPLIST_ENCODINGS = [
    (b"\x00", b""),
    (b"\x03abc", b"abc"),
    (b"\x40\x50" + b"m" * 80, b"m" * 80),  # 14-bit length, big endian
    (b"\x80\x00\x00\x01\x2c" + b"L" * 300, b"L" * 300),  # 32-bit length, big endian
    (b"\xc0" + struct.pack("<h", -1234), b"-1234"),
    (b"\xd0" + struct.pack("<i", 70000000), b"70000000"),
    (b"\xe0" + struct.pack("<q", -(2**40)), b"%d" % -(2**40)),
    (b"\xf0" + (-5000000 & 0xFFFFFF).to_bytes(3, "little"), b"-5000000"),
    (b"\xfe\x80", b"-128"),
    (b"\xf1", b"0"),
    (b"\xfd", b"12"),
]


def test_every_ziplist_encoding() -> None:
    blob = _ziplist([enc for enc, _ in ZIPLIST_ENCODINGS])
    assert decode_ziplist(blob) == [value for _, value in ZIPLIST_ENCODINGS]


def test_ziplist_with_5_byte_prevlen() -> None:
    big = b"\x80\x00\x00\x01\x2c" + b"L" * 300
    blob = _ziplist([big, b"\x01z"])
    assert blob[10 + 1 + 305] == 0xFE  # the second entry's prevlen is the long form
    assert decode_ziplist(blob) == [b"L" * 300, b"z"]


def test_empty_ziplist() -> None:
    assert decode_ziplist(bytes.fromhex("0b 00 00 00 0a 00 00 00 00 00 ff")) == []


@pytest.mark.parametrize(
    "mutate",
    [
        lambda b: b[:-1] + b"\x00",  # end byte
        lambda b: b[:4] + struct.pack("<I", 11) + b[8:],  # tail offset
        lambda b: b[:8] + struct.pack("<H", 9) + b[10:],  # count
        lambda b: b[:14] + b"\x09" + b[15:],  # prevlen of the 2nd entry
        lambda b: b[:15] + b"\xc1" + b[16:],  # invalid int encoding
        lambda b: struct.pack("<I", len(b) + 1) + b[4:],  # zlbytes
        lambda b: b[:11] + b"\x3f" + b[12:],  # string running past the end
    ],
)
def test_corrupt_ziplists_are_refused(mutate: object) -> None:
    good = bytes.fromhex("14 00 00 00 10 00 00 00 03 00 00 02 61 62 04 f6 02 fe fe ff")
    assert decode_ziplist(good) == [b"ab", b"5", b"-2"]
    with pytest.raises(ZiplistError):
        decode_ziplist(mutate(good))  # type: ignore[operator]


# -- zipmap -------------------------------------------------------------------------


def test_literal_zipmap() -> None:
    # zmlen 2; "f1"="v1" (free 0); "foo"="hello" with 2 free bytes; end.
    blob = bytes.fromhex("02 02 66 31 02 00 76 31 03 66 6f 6f 05 02 68 65 6c 6c 6f 00 00 ff")
    assert decode_zipmap(blob) == [(b"f1", b"v1"), (b"foo", b"hello")]


def test_zipmap_big_lengths_and_unknown_count() -> None:
    value = b"V" * 300
    blob = b"\xfe" + b"\x01k" + b"\xfe" + struct.pack("<I", 300) + b"\x00" + value + b"\xff"
    assert decode_zipmap(blob) == [(b"k", value)]


@pytest.mark.parametrize(
    "bad",
    [
        bytes.fromhex("02 02 66 31 02 00 76 31 ff"),  # count says 2, holds 1
        bytes.fromhex("01 02 66 31 02 00 76 31"),  # no end byte
        bytes.fromhex("01 02 66 31 09 00 76 31 ff"),  # value past the end
        bytes.fromhex("01 02 66 31 02 00 76 31 ff 00"),  # bytes after the end
        bytes.fromhex("01 ff"[:2]),  # too short
    ],
)
def test_corrupt_zipmaps_are_refused(bad: bytes) -> None:
    with pytest.raises(ZipmapError):
        decode_zipmap(bad)
