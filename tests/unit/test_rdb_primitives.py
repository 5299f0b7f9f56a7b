"""RDB lengths, strings (int / LZF / raw) and CRC-64, against the byte vectors of spec/rdb.md."""

from __future__ import annotations

import lzf
import pytest
from hypothesis import given
from hypothesis import strategies as st

from persistence.rdb.errors import Corrupt, NeedMore
from persistence.rdb.primitives import (
    crc64,
    encode_len,
    encode_string,
    parse_int64,
    read_len,
    read_string,
)


@pytest.mark.parametrize(
    ("n", "encoded"),
    [
        (0, b"\x00"),
        (63, b"\x3f"),
        (64, b"\x40\x40"),
        (200, b"\x40\xc8"),
        (16383, b"\x7f\xff"),
        (16384, b"\x80\x00\x00\x40\x00"),
        (0xFFFFFFFF, b"\x80\xff\xff\xff\xff"),
        (0x100000000, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
    ],
)
def test_length_smallest_form_big_endian(n: int, encoded: bytes) -> None:
    assert encode_len(n) == encoded
    assert read_len(encoded + b"tail", 0) == (n, len(encoded))


def test_length_reader_accepts_non_minimal_forms() -> None:
    assert read_len(b"\x80\x00\x00\x00\x05", 0) == (5, 5)
    assert read_len(b"\x81" + (7).to_bytes(8, "big"), 0) == (7, 9)


def test_length_reader_rejects_corrupt_and_string_encodings() -> None:
    # Reported after the bad byte: rdbLoadLen has read it when it gives up.
    with pytest.raises(Corrupt, match="Unknown length encoding") as info:
        read_len(b"xx\x82", 2)
    assert info.value.pos == 3
    with pytest.raises(Corrupt, match="string encoding") as info:
        read_len(b"\xc0\x01", 0)
    assert info.value.pos == 1


@pytest.mark.parametrize(
    ("data", "start", "end"),
    [(b"", 0, 1), (b"\x40", 1, 2), (b"\x80\x00\x00", 1, 5), (b"\x81\x00", 1, 9)],
)
def test_length_reader_asks_for_exactly_the_missing_bytes(
    data: bytes, start: int, end: int
) -> None:
    """`end`: how far to wait; `start`: where rdbLoadLenByRef's failed rioRead began."""
    with pytest.raises(NeedMore) as info:
        read_len(data, 0)
    assert (info.value.start, info.value.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "encoded"),
    [
        (b"64", b"\xc0\x40"),
        (b"-7", b"\xc0\xf9"),
        (b"0", b"\xc0\x00"),
        (b"127", b"\xc0\x7f"),
        (b"-128", b"\xc0\x80"),
        (b"128", b"\xc1\x80\x00"),
        (b"415", b"\xc1\x9f\x01"),
        (b"-32768", b"\xc1\x00\x80"),
        (b"32768", b"\xc2\x00\x80\x00\x00"),
        (b"1795505521", b"\xc2\x71\x3d\x05\x6b"),
        (b"2147483647", b"\xc2\xff\xff\xff\x7f"),
        (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
    ],
)
def test_int_encoded_strings(text: bytes, encoded: bytes) -> None:
    assert encode_string(text) == encoded
    assert read_string(encoded, 0) == (text, len(encoded))


@pytest.mark.parametrize(
    "text",
    [
        b"0123",
        b"-0",
        b"+1",
        b" 1",
        b"1 ",
        b"2147483648",
        b"-2147483649",
        b"9000000000",
        b"-9223372036854775808",
        b"1.5",
        b"",
        b"\xd9\x00",
    ],
)
def test_non_canonical_or_wide_ints_stay_raw(text: bytes) -> None:
    encoded = encode_string(text)
    assert encoded == bytes((len(text),)) + text
    assert read_string(encoded, 0) == (text, len(encoded))


def test_spec_lzf_example_decodes() -> None:
    """`SET s:lzf <200 x 'a'>` as Redis 7.0.15 wrote it (spec §4)."""
    encoded = bytes.fromhex("c3 09 40 c8 01 61 61 e0 bb 00 01 61 61")
    assert read_string(encoded, 0) == (b"a" * 200, len(encoded))


def test_lzf_only_past_20_bytes_and_when_it_saves_4() -> None:
    assert encode_string(b"a" * 20) == b"\x14" + b"a" * 20
    packed = encode_string(b"a" * 21)
    assert packed[0] == 0xC3
    assert read_string(packed, 0)[0] == b"a" * 21
    incompressible = bytes(range(100))
    assert encode_string(incompressible) == b"\x40\x64" + incompressible
    assert encode_string(b"a" * 200, compression=False) == b"\x40\xc8" + b"a" * 200


def test_lzf_is_used_only_when_at_least_4_bytes_are_saved() -> None:
    """Probe sizes around the threshold: the output is never bigger than len - 4 + headers."""
    for n in range(21, 80):
        for pattern in (b"ab" * 40, b"abcdefgh" * 10, bytes(range(40)) * 2):
            s = pattern[:n]
            encoded = encode_string(s)
            if encoded[0] == 0xC3:
                clen, p = read_len(encoded, 1)
                ulen, p = read_len(encoded, p)
                assert ulen == n and clen <= n - 4
                assert len(encoded) - p == clen
            else:
                assert encoded == encode_len(n) + s
            assert read_string(encoded, 0) == (s, len(encoded))


@pytest.mark.parametrize(
    "bad",
    [
        b"\xc3\x03\x0a\x01aa",  # decompresses to 2 bytes, announced 10
        b"\xc3\x02\x04\xff\xff",  # back reference before the start
        b"\xc3\x00\x00",  # empty LZF
        b"\xc3\x01\x40\xc8\x00",  # 200 bytes claimed from one byte
    ],
)
def test_bad_lzf_is_corrupt(bad: bytes) -> None:
    with pytest.raises(Corrupt, match="Invalid LZF compressed string") as info:
        read_string(b"xyz" + bad + b"more", 3)
    assert info.value.pos == 3 + len(bad)  # after the compressed bytes, as Redis reads them first


@pytest.mark.parametrize("first", [0xC4, 0xC5, 0xFF])
def test_unknown_string_encoding_is_corrupt(first: int) -> None:
    with pytest.raises(Corrupt, match="Unknown RDB string encoding type") as info:
        read_string(bytes((0, first, 0, 0, 0, 0)), 1)
    assert info.value.pos == 2


@pytest.mark.parametrize(
    ("data", "start", "end"),
    [
        (b"", 0, 1),
        (b"\x05abc", 1, 6),  # 6-bit length: the bytes are one read
        (b"\x40", 1, 2),  # 14-bit length: its second byte
        (b"\x40\xc8abc", 2, 2 + 200),
        (b"\x80\x00\x01", 1, 5),  # 32-bit length
        (b"\x80\x00\x01\x00\x00abc", 5, 5 + 65536),
        (b"\xc0", 1, 2),  # int8
        (b"\xc1\x01", 1, 3),  # int16
        (b"\xc2\x01\x02\x03", 1, 5),  # int32
        (b"\xc3\x40", 2, 3),  # LZF: compressed length, then the uncompressed one
        (b"\xc3\x09\x40", 3, 4),
        (b"\xc3\x09\x40\xc8\x01", 4, 4 + 9),  # then the compressed bytes
    ],
)
def test_string_reader_reports_the_read_that_ran_out(data: bytes, start: int, end: int) -> None:
    """`end`: how far the input must reach; `start`: where rdbGenericLoadStringObject's
    failed rioRead began (what redis-check-rdb prints for a file cut there)."""
    with pytest.raises(NeedMore) as info:
        read_string(data, 0)
    assert (info.value.start, info.value.end) == (start, end)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"0", 0),
        (b"-1", -1),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"9223372036854775808", None),
        (b"-9223372036854775809", None),
        (b"00", None),
        (b"-0", None),
        (b"+5", None),
        (b"5 ", None),
        (b"1_000", None),
        (b"", None),
        (b"-", None),
        (b"12345678901234567890", None),
    ],
)
def test_parse_int64_is_string2ll(text: bytes, value: int | None) -> None:
    assert parse_int64(text) == value


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_parse_int64_round_trips_every_int64(v: int) -> None:
    assert parse_int64(b"%d" % v) == v


@given(
    st.one_of(
        st.binary(max_size=300),
        st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: b"%d" % v),
        st.text("ab", max_size=400).map(str.encode),
    ),
    st.booleans(),
)
def test_string_round_trip(s: bytes, compression: bool) -> None:
    encoded = encode_string(s, compression)
    assert read_string(encoded + b"\x00junk", 0) == (s, len(encoded))
    v = parse_int64(s)
    if v is not None and -(2**31) <= v < 2**31:
        assert encoded[0] in (0xC0, 0xC1, 0xC2)


def test_crc64_check_values() -> None:
    assert crc64(b"123456789") == 0xE9C6D914C4B8D9CA
    assert crc64(b"") == 0
    assert crc64(b"6789", crc64(b"12345")) == 0xE9C6D914C4B8D9CA


def test_python_lzf_round_trip_is_what_read_string_uses() -> None:
    data = b"hello hello hello hello hello"
    packed = lzf.compress(data)
    assert packed is not None
    encoded = b"\xc3" + encode_len(len(packed)) + encode_len(len(data)) + packed
    assert read_string(encoded, 0) == (data, len(encoded))
