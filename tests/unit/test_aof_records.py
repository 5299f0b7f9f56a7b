"""AofReader / encode_record on literal AOF bytes (spec aof.md §3.1, §4).

The incr content is the one spec §4 shows from a real redis-server 7.0.15 with
aof-timestamp-enabled yes; the MULTI block is what Redis writes for MULTI/SET/INCR/EXEC.
"""

from __future__ import annotations

import random

import pytest

from persistence.aof.records import (
    Annotation,
    AofFormatError,
    AofReader,
    Command,
    encode_record,
    timestamp_annotation,
)

INCR = (
    b"#TS:1795505786\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$2\r\nk4\r\n$2\r\nv4\r\n"
    b"#TS:1795505791\r\n*3\r\n$3\r\nSET\r\n$2\r\nk5\r\n$2\r\nv5\r\n"
)
MULTI = (
    b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$1\r\n3\r\n"
    b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n*1\r\n$4\r\nEXEC\r\n"
)


def read_all(data: bytes, chunk: int | None = None, base: int = 0) -> tuple[list, int | None]:
    r = AofReader(base)
    out: list = []
    pieces = [data] if chunk is None else [data[i : i + chunk] for i in range(0, len(data), chunk)]
    for piece in pieces:
        r.feed(piece)
        while (rec := r.next()) is not None:
            out.append(rec)
    cut = r.at_eof()
    while (rec := r.next()) is not None:
        out.append(rec)
    return out, cut


def boundaries(records: list) -> list[int]:
    return [0] + [r.end for r in records]


def test_incr_file_from_spec() -> None:
    recs, cut = read_all(INCR)
    assert cut is None
    assert recs == [
        Annotation(b"TS:1795505786", 0, 16),
        Command([b"SELECT", b"0"], 16, 39),
        Command([b"SET", b"k4", b"v4"], 39, 68),
        Annotation(b"TS:1795505791", 68, 84),
        Command([b"SET", b"k5", b"v5"], 84, 113),
    ]
    assert len(INCR) == 113
    assert [r.timestamp for r in recs if isinstance(r, Annotation)] == [1795505786, 1795505791]


def test_every_chunk_size_gives_the_same_records() -> None:
    whole, _ = read_all(INCR + MULTI)
    for size in range(1, 40):
        assert read_all(INCR + MULTI, size) == (whole, None)


def test_base_offset_shifts_positions() -> None:
    recs, cut = read_all(INCR[:100], base=1000)
    assert recs[0] == Annotation(b"TS:1795505786", 1000, 1016)
    assert cut == 1000 + 84  # the complete #TS line before the cut SET is kept


def test_truncation_at_every_byte() -> None:
    data = INCR + MULTI
    whole, _ = read_all(data)
    ends = boundaries(whole)
    for n in range(len(data) + 1):
        recs, cut = read_all(data[:n])
        complete = [r for r in whole if r.end <= n]
        start = complete[-1].end if complete else 0
        if n not in ends and data[start : start + 1] == b"#":
            # a final annotation without its line end is read, as Redis does
            text = data[start + 1 : n].removesuffix(b"\r")
            assert recs == [*complete, Annotation(text, start, n)], n
            assert cut is None
            continue
        assert recs == complete, n
        if n in ends:
            assert cut is None, n
        else:
            assert cut == complete[-1].end if complete else cut == 0, n
        # byte by byte gives the same answer
        assert read_all(data[:n], 1) == (recs, cut)


def test_multi_start_tracks_open_transaction() -> None:
    r = AofReader()
    r.feed(INCR + MULTI[:-14])  # cut before EXEC
    while r.next() is not None:
        pass
    assert r.multi_start == len(INCR)
    assert r.at_eof() is None  # a record boundary: the MULTI is the loader's business
    r = AofReader()
    r.feed(INCR + MULTI)
    while r.next() is not None:
        pass
    assert r.multi_start is None


def test_unterminated_final_annotation_is_accepted() -> None:
    recs, cut = read_all(INCR + b"#TS:1795505799")
    assert cut is None
    assert recs[-1] == Annotation(b"TS:1795505799", 113, 127)
    assert recs[-1].timestamp == 1795505799


@pytest.mark.parametrize(
    ("data", "offset"),
    [
        (b"garbage\r\n", 0),
        (INCR[:39] + b"\r\n" + INCR[39:], 39),  # an empty line between records
        (INCR[:39] + b"$3\r\nSET\r\n", 39),
        (b"*0\r\n", 0),
        (b"*-1\r\n", 0),
        (b"*x\r\n", 0),
        (b"*2\r\n$6\r\nSELECT\r\n:1\r\n", 0),
        (INCR[:68] + b"*1\r\n$-1\r\n", 68),
        (b"*1\r\n" + b"$" + b"9" * 2000 + b"\r\n", 0),  # header line longer than 1024
        (b"#" + b"x" * 70000 + b"\n", 0),  # annotation longer than ANNOTATION_MAX
    ],
)
def test_format_errors_point_at_the_record(data: bytes, offset: int) -> None:
    for chunk in (None, 7):
        with pytest.raises(AofFormatError) as info:
            read_all(data, chunk)
        assert info.value.offset == offset
        assert f"offset {offset}" in str(info.value)


def test_error_is_sticky() -> None:
    r = AofReader()
    r.feed(INCR[:39] + b"?")
    assert r.next() == Annotation(b"TS:1795505786", 0, 16)
    assert isinstance(r.next(), Command)
    for _ in range(2):
        with pytest.raises(AofFormatError):
            r.next()


def test_lenient_like_redis_loader() -> None:
    # atoi/strtol read the digits and ignore what follows; the 2 bytes after a bulk are
    # skipped unchecked; LF-only line ends; an empty-length "$" line is an empty argument.
    data = b"*2 trailing\r\n$3xx\r\nSETxx$ 1\nkZZ*1\n$\r\n\r\n"
    recs, cut = read_all(data)
    assert cut is None
    assert [r.argv for r in recs] == [[b"SET", b"k"], [b""]]


def test_big_record_in_small_pieces_is_linear() -> None:
    value = bytes(random.Random(1).randrange(256) for _ in range(300_000))
    argv = [b"RPUSH", b"l", *[b"%d" % i for i in range(20_000)], value]
    data = encode_record(argv) * 2
    recs, cut = read_all(data, 997)
    assert cut is None
    assert [r.argv for r in recs] == [argv, argv]
    assert recs[1].start == len(data) // 2


def test_encode_and_timestamp() -> None:
    assert encode_record([b"SET", b"k4", b"v4"]) == INCR[39:68]
    assert encode_record([b"SELECT", b"0"]) == INCR[16:39]
    assert encode_record([b"", b"\r\n"]) == b"*2\r\n$0\r\n\r\n$2\r\n\r\n\r\n"
    assert timestamp_annotation(1795505786) == b"#TS:1795505786\r\n"
    assert read_all(encode_record([b"a\r\nb", b""]))[0][0].argv == [b"a\r\nb", b""]


def test_annotation_timestamp_forms() -> None:
    assert Annotation(b"TS:12", 0, 0).timestamp == 12
    assert Annotation(b"TS:-3", 0, 0).timestamp == -3
    for text in (b"TS:", b"TS:12a", b"XX:12", b"ts:12", b"TS: 12"):
        assert Annotation(text, 0, 0).timestamp is None


def test_feed_after_eof_is_refused() -> None:
    r = AofReader()
    r.at_eof()
    with pytest.raises(ValueError):
        r.feed(b"*1\r\n")
