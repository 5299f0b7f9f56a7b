"""Whole RDB streams: RdbEncoder framing, RdbDecoder events, incremental feeding, corrupt files."""

from __future__ import annotations

import random
import struct
import time
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.zset import ZSet
from persistence.rdb import (
    RDB_VERSION,
    Aux,
    EncodingLimits,
    End,
    FunctionLib,
    KeyRecord,
    ModuleAux,
    RdbDecoder,
    RdbEncoder,
    RdbError,
    ResizeDb,
    SelectDb,
)
from persistence.rdb.listpack import encode_listpack
from persistence.rdb.primitives import crc64, encode_string

L = EncodingLimits()

SPEC_FILE = bytes.fromhex(
    "52 45 44 49 53 30 30 31 30"
    "fa 09" + b"redis-ver".hex() + "06" + b"7.0.15".hex() + "fa 0a" + b"redis-bits".hex() + "c0 40"
    "fa 05" + b"ctime".hex() + "c2 71 3d 05 6b"
    "fa 08" + b"used-mem".hex() + "c2 b0 60 0d 00"
    "fa 08" + b"aof-base".hex() + "c0 01"
    "ff bc ae da 7e 58 7c 74 71"
)
SPEC_AUX = [
    (b"redis-ver", b"7.0.15"),
    (b"redis-bits", b"64"),
    (b"ctime", b"1795505521"),
    (b"used-mem", b"876720"),
    (b"aof-base", b"1"),
]


def decode_all(data: bytes, chunk: int | None = None, **kw: bool) -> list[object]:
    d = RdbDecoder(L, **kw)
    events: list[object] = []
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        d.feed(data[i : i + step])
        while (ev := d.next_event()) is not None:
            events.append(ev)
    d.close()
    assert d.offset <= len(data)
    return events


def decode_error(data: bytes, chunk: int | None = None) -> RdbError:
    with pytest.raises(RdbError) as info:
        decode_all(data, chunk)
    return info.value


def comparable(ev: object) -> object:
    if isinstance(ev, KeyRecord) and isinstance(ev.value, ZSet):
        return (ev.key, ev.value.listpack, list(ev.value), ev.type_id, ev.expire_ms)
    return ev


def sample_file(enc: RdbEncoder | None = None) -> bytes:
    enc = enc or RdbEncoder(L)
    parts = [
        enc.header([(b"redis-ver", b"7.0.15"), (b"redis-bits", b"64")]),
        enc.function_lib(b"#!lua name=mylib\nredis.register_function('f', function() end)"),
        enc.select_db(0, 6, 2),
        enc.key(b"s", b"hello", expire_ms=1795509138025),
        enc.key(b"n", b"12345"),
        enc.key(b"h", {b"f1": b"v1", b"f2": b"2"}),
        enc.key(b"hl", {b"f%d" % i: b"v" * 100 for i in range(3)}),
        enc.key(b"l", deque([b"a", b"300", b"x" * 70])),
        enc.key(b"z", ZSet.from_scores({b"a": 1.0, b"b": 2.5}, listpack=True), expire_ms=1),
        enc.select_db(3, 3, 0),
        enc.key(b"si", {b"1", b"2", b"-100"}),
        enc.key(b"ss", {b"a", b"b"}),
        enc.key(b"z2", ZSet.from_scores({b"m%d" % i: i / 2 for i in range(200)})),
        enc.end(),
    ]
    data = b"".join(parts)
    assert enc.bytes_written == len(data)
    return data


# -- spec vectors ---------------------------------------------------------------------


def test_spec_empty_aof_base_file_is_byte_identical() -> None:
    enc = RdbEncoder(L)
    data = enc.header(SPEC_AUX) + enc.end()
    assert data == SPEC_FILE
    assert len(data) == 89
    assert crc64(SPEC_FILE[:81]) == 0x71747C587EDAAEBC


def test_spec_empty_aof_base_file_decodes() -> None:
    events = decode_all(SPEC_FILE)
    assert events == [Aux(k, v) for k, v in SPEC_AUX] + [
        End(0x71747C587EDAAEBC, 0x71747C587EDAAEBC)
    ]


def test_spec_expire_example() -> None:
    enc = RdbEncoder(L)
    enc.header([])
    record = enc.key(b"s:exp", b"v", expire_ms=1795509138025)
    assert record == bytes.fromhex("fc 69 32 af 0c a2 01 00 00 00 05") + b"s:exp" + b"\x01v"


def test_idle_and_freq_opcodes_precede_the_type() -> None:
    enc = RdbEncoder(L)
    enc.header([])
    assert enc.key(b"k", b"v", idle=300) == b"\xf8\x41\x2c\x00\x01k\x01v"
    assert enc.key(b"k", b"v", freq=6) == b"\xf9\x06\x00\x01k\x01v"
    assert (
        enc.key(b"k", b"v", 5, 1, 2)
        == b"\xfc" + struct.pack("<q", 5) + b"\xf8\x01\xf9\x02\x00\x01k\x01v"
    )


# -- round trips ----------------------------------------------------------------------


def test_sample_file_events() -> None:
    events = [comparable(e) for e in decode_all(sample_file())]
    z2 = ZSet.from_scores({b"m%d" % i: i / 2 for i in range(200)})
    assert events == [
        Aux(b"redis-ver", b"7.0.15"),
        Aux(b"redis-bits", b"64"),
        FunctionLib(b"#!lua name=mylib\nredis.register_function('f', function() end)"),
        SelectDb(0),
        ResizeDb(6, 2),
        KeyRecord(b"s", b"hello", 0, 1795509138025, None, None),
        KeyRecord(b"n", b"12345", 0, None, None, None),
        KeyRecord(b"h", {b"f1": b"v1", b"f2": b"2"}, 16, None, None, None),
        KeyRecord(b"hl", {b"f%d" % i: b"v" * 100 for i in range(3)}, 4, None, None, None),
        KeyRecord(b"l", deque([b"a", b"300", b"x" * 70]), 18, None, None, None),
        (b"z", True, [(1.0, b"a"), (2.5, b"b")], 17, 1),
        SelectDb(3),
        ResizeDb(3, 0),
        KeyRecord(b"si", {b"1", b"2", b"-100"}, 11, None, None, None),
        KeyRecord(b"ss", {b"a", b"b"}, 2, None, None, None),
        (b"z2", False, list(z2), 5, None),
        events[-1],
    ]
    end = events[-1]
    assert isinstance(end, End) and end.checksum_stored == end.checksum_computed != 0


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 1000])
def test_any_chunking_gives_the_same_events(chunk: int) -> None:
    data = sample_file()
    whole = [comparable(e) for e in decode_all(data)]
    assert [comparable(e) for e in decode_all(data, chunk)] == whole


def test_offset_tracks_consumed_bytes() -> None:
    data = sample_file()
    d = RdbDecoder(L)
    d.feed(data)
    last = 0
    while (ev := d.next_event()) is not None:
        assert d.offset > last
        last = d.offset
    assert isinstance(ev, type(None)) and d.offset == len(data)
    assert d.version == 10
    d.close()


def test_key_record_is_read_only_value_object() -> None:
    a = KeyRecord(b"k", b"v", 0, None, None, None)
    assert a == KeyRecord(b"k", b"v", 0)
    assert a != KeyRecord(b"k", b"v", 0, 1)
    assert "KeyRecord(key=b'k'" in repr(a)


values = st.one_of(
    st.binary(max_size=40),
    st.integers(min_value=-(2**63), max_value=2**63 - 1).map(lambda v: b"%d" % v),
    st.dictionaries(st.binary(max_size=10), st.binary(max_size=70), min_size=1, max_size=8),
    st.sets(st.integers(-1000, 10**12).map(lambda v: b"%d" % v), min_size=1, max_size=8),
    st.sets(st.binary(max_size=10), min_size=1, max_size=8),
    st.lists(st.binary(max_size=30), min_size=1, max_size=8).map(deque),
    st.tuples(
        st.dictionaries(st.binary(max_size=8), st.floats(allow_nan=False), min_size=1, max_size=8),
        st.booleans(),
    ).map(lambda t: ZSet.from_scores(t[0], listpack=t[1])),
)
records = st.tuples(
    st.binary(max_size=15),
    values,
    st.one_of(st.none(), st.integers(min_value=-(2**63), max_value=2**63 - 1)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=2**40)),
    st.one_of(st.none(), st.integers(min_value=0, max_value=255)),
)


@settings(max_examples=100, deadline=None)
@given(
    st.dictionaries(st.integers(0, 15), st.lists(records, min_size=1, max_size=8), max_size=3),
    st.booleans(),
    st.booleans(),
    st.integers(min_value=1, max_value=50),
)
def test_encode_decode_round_trip(
    dbs: dict[int, list[tuple[bytes, object, int | None, int | None, int | None]]],
    compression: bool,
    checksum: bool,
    chunk: int,
) -> None:
    enc = RdbEncoder(L, compression=compression, checksum=checksum)
    parts = [enc.header([(b"redis-ver", b"7.0.15"), (b"ctime", b"1795505521")])]
    expected: list[object] = [Aux(b"redis-ver", b"7.0.15"), Aux(b"ctime", b"1795505521")]
    for db in sorted(dbs):
        recs = dbs[db]
        parts.append(enc.select_db(db, len(recs), 0))
        expected += [SelectDb(db), ResizeDb(len(recs), 0)]
        for key, value, exp, idle, freq in recs:
            parts.append(enc.key(key, value, exp, idle, freq))
            expected.append((key, value, exp, idle, freq))
    parts.append(enc.end())
    data = b"".join(parts)
    events = decode_all(data, chunk)
    end = events.pop()
    assert isinstance(end, End)
    if checksum:
        assert end.checksum_stored == end.checksum_computed == crc64(data[:-8])
    else:
        assert end.checksum_stored == 0
    assert len(events) == len(expected)
    for got, want in zip(events, expected, strict=True):
        if isinstance(want, tuple):
            assert isinstance(got, KeyRecord)
            key, value, exp, idle, freq = want
            assert (got.key, got.expire_ms, got.idle, got.freq) == (key, exp, idle, freq)
            if isinstance(value, ZSet):
                assert isinstance(got.value, ZSet) and list(got.value) == list(value)
            else:
                assert type(got.value) is type(value) and got.value == value
        else:
            assert got == want


# -- truncation -----------------------------------------------------------------------


def _doing_after_cut(data: bytes, cut: int, chunk: int | None = None) -> RdbError:
    d = RdbDecoder(L)
    step = chunk or max(cut, 1)
    for i in range(0, cut, step):
        d.feed(data[i : min(i + step, cut)])
        while d.next_event() is not None:
            pass
    with pytest.raises(RdbError) as info:
        d.close()
    return info.value


def test_truncation_at_every_byte_is_a_clear_eof_error() -> None:
    """The offset is where the read that ran out began (what Redis's rio had consumed):
    never past the cut, never going back as the cut grows, the cut itself when it falls
    between records, and the same whatever the chunking."""
    data = sample_file()
    d = RdbDecoder(L)
    d.feed(data)
    record_ends = {9}
    while d.next_event() is not None:
        record_ends.add(d.offset)
    last = 0
    for cut in range(len(data)):
        err = _doing_after_cut(data, cut)
        assert err.reason == "Unexpected EOF reading RDB file"
        assert last <= err.offset <= cut
        if cut in record_ends:
            assert err.offset == cut
        assert str(err).startswith(f"[offset {err.offset}] Unexpected EOF reading RDB file")
        chunked = _doing_after_cut(data, cut, chunk=7)
        assert (chunked.offset, chunked.doing, chunked.key) == (err.offset, err.doing, err.key)
        last = err.offset


def test_truncation_reports_what_was_being_read() -> None:
    enc = RdbEncoder(L, compression=False)
    head = enc.header([(b"redis-ver", b"7.0.15")])
    sel = enc.select_db(0, 1, 1)
    key = enc.key(b"h:large", {b"f%d" % i: b"x" * 100 for i in range(3)}, expire_ms=10)
    end = enc.end()
    data = head + sel + key + end
    k0 = len(head) + len(sel)
    assert (len(head), k0) == (27, 32)

    def at(cut: int) -> tuple[int, str]:
        err = _doing_after_cut(data, cut)
        return err.offset, err.doing

    # Each offset is where the failed read began: the 9-byte header, the aux key's bytes
    # after its length byte, the length after FE, the 8 expire bytes after FC.
    assert at(5) == (0, "start")
    assert at(12) == (11, "read-aux")
    assert at(len(head) + 1) == (28, "read-len")
    assert at(k0 + 4) == (k0 + 1, "read-expire")
    err = _doing_after_cut(data, k0 + 9 + 3)  # in the key name, after its length byte
    assert (err.offset, err.doing, err.key, err.type_id) == (k0 + 11, "read-key", None, 4)
    # In the first field's 100-byte value: its data starts after a 2-byte length.
    err = _doing_after_cut(data, k0 + 9 + 1 + 8 + 50)
    assert (err.offset, err.doing, err.key, err.type_id) == (
        k0 + 24,
        "read-object-value",
        b"h:large",
        4,
    )
    assert "reading key 'h:large', reading type 4 (hash-hashtable)" in str(err)
    assert at(len(data) - 3) == (len(data) - 8, "check-sum")
    assert at(len(data) - 9) == (len(data) - 9, "read-type")


def test_bytes_after_end_are_left_unconsumed() -> None:
    data = sample_file()
    tail = b"*1\r\n$4\r\nPING\r\n"
    for chunk in (1, 5, len(data) + len(tail)):
        d = RdbDecoder(L)
        events = []
        for i in range(0, len(data) + len(tail), chunk):
            d.feed((data + tail)[i : i + chunk])
            while (ev := d.next_event()) is not None:
                events.append(ev)
        d.close()
        assert isinstance(events[-1], End) and d.finished
        assert d.offset == len(data)
        assert d.unconsumed() == tail


# -- checksum -------------------------------------------------------------------------


def test_flipped_value_byte_is_a_crc_error() -> None:
    data = bytearray(sample_file())
    at = data.index(b"hello") + 1
    data[at] ^= 0x20
    err = decode_error(bytes(data))
    assert (err.reason, err.doing) == ("RDB CRC error", "check-sum")
    assert err.offset == len(data)  # after the trailer: Redis reads it, then compares


def test_flipped_crc_byte_is_a_crc_error_unless_not_checked() -> None:
    data = bytearray(sample_file())
    data[-3] ^= 1
    assert decode_error(bytes(data)).reason == "RDB CRC error"
    end = decode_all(bytes(data), check_crc=False)[-1]
    assert isinstance(end, End) and end.checksum_computed == 0
    assert end.checksum_stored == struct.unpack("<Q", bytes(data[-8:]))[0]


def test_zero_checksum_means_not_computed() -> None:
    enc = RdbEncoder(L, checksum=False)
    data = sample_file(enc)
    assert data[-8:] == bytes(8)
    end = decode_all(data)[-1]
    assert isinstance(end, End) and end.checksum_stored == 0 and end.checksum_computed != 0


# -- versions and corrupt framing -----------------------------------------------------


def _file(version: int, body: bytes, trailer: bool = True) -> bytes:
    data = b"REDIS%04d" % version + body + b"\xff"
    return data + struct.pack("<Q", crc64(data)) if trailer else data


@pytest.mark.parametrize("version", [11, 12, 0])
def test_unsupported_versions(version: int) -> None:
    err = decode_error(_file(version, b""))
    assert err.reason == f"Can't handle RDB format version {version}"
    assert err.doing == "start"


def test_bad_magic() -> None:
    assert decode_error(b"REDIX0010\xff" + bytes(8)).reason == (
        "Wrong signature trying to load DB from file"
    )


def test_version_4_file_has_no_trailer_and_second_expires() -> None:
    body = b"\xfe\x00" + b"\xfd" + struct.pack("<i", 1700000000) + b"\x00\x01k\x01v"
    events = decode_all(_file(4, body, trailer=False))
    assert events[:2] == [SelectDb(0), KeyRecord(b"k", b"v", 0, 1700000000000, None, None)]
    assert isinstance(events[2], End) and events[2].checksum_stored == 0


def test_version_9_file_with_old_types_loads() -> None:
    body = b"\xfe\x00\x01\x01l\x02\x01a\xc0\x07"  # type 1 plain list
    events = decode_all(_file(9, body))
    assert events[1] == KeyRecord(b"l", deque([b"a", b"7"]), 1, None, None, None)


@pytest.mark.parametrize(
    ("body", "reason", "doing"),
    [
        (b"\xfe\x00\x14\x01k\x00", "Invalid object type: 20", "read-type"),
        (b"\xfe\x00\x08\x01k\x00", "Invalid object type: 8", "read-type"),
        (b"\xfe\x00\xf4\x00", "Invalid object type: 244", "read-type"),
        (b"\xf6\x01x", "Pre-release function format not supported.", "read-functions"),
        (b"\xfe\x00\x00\xc5", "Unknown RDB string encoding type 5", "read-key"),
        (b"\xfe\x00\x00\x01k\xc4", "Unknown RDB string encoding type 4", "read-object-value"),
        (b"\xfe\xc0", "where a length was expected", "read-len"),
    ],
)
def test_corrupt_framing(body: bytes, reason: str, doing: str) -> None:
    err = decode_error(_file(10, body))
    assert reason in err.reason
    assert err.doing == doing


def test_bad_listpack_in_a_key_names_key_type_and_offset() -> None:
    blob = bytearray(encode_listpack([b"f1", b"v1"]))
    blob[9] = 0x07  # back-length of "f1"
    body = b"\xfe\x00" + b"\x10" + encode_string(b"h:bad") + encode_string(bytes(blob), False)
    err = decode_error(_file(10, body))
    assert err.reason.startswith("Listpack integrity check failed.")
    assert (err.key, err.type_id, err.doing) == (b"h:bad", 16, "read-object-value")
    assert err.offset == 9 + 2 + 1 + 6 + 1 + len(blob)  # after the blob: Redis reads it whole
    assert "reading type 16 (hash-listpack)" in str(err)


def _module_id(name: str, version: int = 3) -> int:
    """moduleTypeEncodeId: 9 characters of 6 bits, then a 10-bit encoding version."""
    module_id = 0
    for ch in name:
        module_id = (module_id << 6) | (
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".index(ch)
        )
    return (module_id << 10) | version


def test_module_and_stream_data_are_refused_by_name() -> None:
    module_id = _module_id("mymodtype")
    err = decode_error(_file(10, b"\xfe\x00\x07\x03mod" + b"\x81" + struct.pack(">Q", module_id)))
    assert "module" in err.reason and "'mymodtype'" in err.reason
    assert (err.key, err.type_id) == (b"mod", 7)
    err = decode_error(_file(10, b"\xfe\x00\x06\x03mod" + b"\x81" + struct.pack(">Q", module_id)))
    assert "module" in err.reason and "'mymodtype'" in err.reason
    assert err.offset == 9 + 2 + 1 + 4 + 9  # after the module id, where Redis refuses it
    # Module id, when_opcode (2: uint) and when, then refused (the server's behaviour).
    err = decode_error(_file(10, b"\xf7\x81" + struct.pack(">Q", module_id) + b"\x02\x02"))
    assert "AUX module data" in err.reason and err.doing == "read-module-aux"
    assert "'mymodtype'" in err.reason and err.offset == 9 + 1 + 9 + 2
    for t in (15, 19):
        err = decode_error(_file(10, b"\xfe\x00" + bytes((t,)) + b"\x02st\x01"))
        assert "stream" in err.reason and "not supported" in err.reason
        assert (err.key, err.type_id) == (b"st", t)
    # A module id cut short: Redis's words, at the start of its 8 bytes, even when fed
    # in pieces (not a refusal of the bytes seen so far).
    data = _file(10, b"\xfe\x00\x06\x03mod" + b"\x81" + struct.pack(">Q", module_id))[:20]
    for chunk in (1, 3, None):
        err = decode_error(data, chunk)
        assert (err.reason, err.offset, err.doing) == (
            "Short read module id",
            17,
            "read-object-value",
        )


# Module data (spec: opcode, value, ..., EOF opcode): uint 5, string "x", float, double,
# an unknown opcode 7 (passed over, as Redis does), EOF.
MODULE_VALUE = (
    b"\x02\x05"
    + b"\x05\x01x"
    + b"\x03"
    + struct.pack("<f", 1.5)
    + b"\x04"
    + struct.pack("<d", 2.5)
    + b"\x07"
    + b"\x00"
)


def test_check_mode_skips_module_data() -> None:
    """As redis-check-rdb: MODULE_AUX and module-2 keys are read generically, skipped."""
    module_id = _module_id("mymodtype")
    aux = b"\xf7\x81" + struct.pack(">Q", module_id) + b"\x02\x02"
    key = b"\x07\x01k\x81" + struct.pack(">Q", module_id) + MODULE_VALUE
    data = _file(10, aux + MODULE_VALUE + b"\xfe\x00" + key + b"\x00\x01s\x01v")
    for chunk in (1, 2, 5, None):
        d = RdbDecoder(L, check_mode=True)
        events, offsets = [], []
        step = chunk or len(data)
        for i in range(0, len(data), step):
            d.feed(data[i : i + step])
            while (ev := d.next_event()) is not None:
                events.append(ev)
                offsets.append(d.offset)
        d.close()
        assert events[:4] == [
            ModuleAux(module_id, "mymodtype"),
            SelectDb(0),
            KeyRecord(b"k", b"mymodtype", 7, None, None, None),
            KeyRecord(b"s", b"v", 0, None, None, None),
        ]
        # ModuleAux comes when its header is read: that is where redis-check-rdb reports.
        assert offsets[0] == 9 + len(aux)
        assert isinstance(events[4], End) and events[4].checksum_stored != 0
    # Not in check mode (the server): refused, as rdbLoad does without the module.
    assert "AUX module data I can't load" in decode_error(data).reason


@pytest.mark.parametrize(
    ("body", "reason", "offset"),
    [
        (b"\x03\x00", "Error reading float from module mymodtype value", 22),
        (b"\x04\x00\x00", "Error reading double from module mymodtype value", 22),
        (b"\x02\x40", "Error reading integer from module mymodtype value", 23),
        (b"\x05\x05ab", "Error reading string from module mymodtype value", 23),
        (b"", "Unexpected EOF reading RDB file", 21),  # Redis loops forever here
    ],
)
def test_check_mode_module_data_cut_short(body: bytes, reason: str, offset: int) -> None:
    """Named after the read that ran out, at its start (both checked with redis-check-rdb)."""
    aux = b"\xf7\x81" + struct.pack(">Q", _module_id("mymodtype")) + b"\x02\x02"
    data = b"REDIS0010" + aux + body
    for chunk in (1, None):
        d = RdbDecoder(L, check_mode=True)
        for i in range(0, len(data), chunk or len(data)):
            d.feed(data[i : i + (chunk or len(data))])
            while d.next_event() is not None:
                pass
        with pytest.raises(RdbError) as info:
            d.close()
        err = info.value
        assert (err.reason, err.offset, err.doing) == (reason, offset, "read-module-aux")


def test_module_aux_with_a_bad_when_opcode() -> None:
    data = _file(10, b"\xf7\x81" + struct.pack(">Q", _module_id("mymodtype")) + b"\x03\x02")
    err = decode_error(data)
    assert (err.reason, err.offset, err.doing) == ("bad when_opcode", 21, "read-module-aux")


def test_errors_stick() -> None:
    d = RdbDecoder(L)
    d.feed(_file(10, b"\xfe\x00\x14"))
    with pytest.raises(RdbError):
        while d.next_event() is not None:
            pass
    with pytest.raises(RdbError, match="Invalid object type"):
        d.next_event()
    with pytest.raises(RdbError, match="Invalid object type"):
        d.close()


def test_empty_collections_come_out_as_none() -> None:
    body = b"\xfe\x00" + b"\x04\x01h\x00" + b"\x00\x01k\x01v"
    events = decode_all(_file(10, body))
    assert events[1] == KeyRecord(b"h", None, 4, None, None, None)
    assert events[2] == KeyRecord(b"k", b"v", 0, None, None, None)


def test_rdb_version_constant() -> None:
    assert RDB_VERSION == 10
    assert sample_file()[:9] == b"REDIS0010"


# -- incremental cost -----------------------------------------------------------------


def test_huge_plain_hash_in_small_chunks_is_linear() -> None:
    """A 200k-field hash fed 64 bytes at a time: resumes per field instead of re-reading."""
    h = {b"field:%d" % i: b"x" * 70 for i in range(200_000)}
    enc = RdbEncoder(L)
    data = enc.header([]) + enc.select_db(0, 1, 0) + enc.key(b"big", h) + enc.end()
    t0 = time.perf_counter()
    d = RdbDecoder(L)
    got = None
    for i in range(0, len(data), 64):
        d.feed(data[i : i + 64])
        while (ev := d.next_event()) is not None:
            if isinstance(ev, KeyRecord):
                got = ev.value
    d.close()
    assert got == h
    assert time.perf_counter() - t0 < 30  # quadratic re-reading would take hours


def test_huge_string_in_small_chunks_is_not_rejoined_each_time() -> None:
    value = random.Random(1).randbytes(4_000_000)
    enc = RdbEncoder(L, compression=False)
    data = enc.header([]) + enc.select_db(0, 1, 0) + enc.key(b"s", value) + enc.end()
    d = RdbDecoder(L)
    t0 = time.perf_counter()
    events = []
    for i in range(0, len(data), 256):
        d.feed(data[i : i + 256])
        while (ev := d.next_event()) is not None:
            events.append(ev)
    d.close()
    assert events[2] == KeyRecord(b"s", value, 0, None, None, None)
    assert time.perf_counter() - t0 < 30  # joining 4 MB per 256-byte chunk: ~30 GB copied
