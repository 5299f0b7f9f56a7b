"""The AOF manifest codec against the bytes Redis 7.0.15 writes and the texts it dies with.

Literal manifests come from spec aof.md §1-§2 (observed on a real redis-server); the
fatal cases follow aofLoadManifestFromFile, and the interop test runs redis-check-aof
on the same files to confirm the texts.
"""

from __future__ import annotations

import pytest

from persistence.aof.manifest import (
    AofInfo,
    Manifest,
    ManifestError,
    base_name,
    fgets_pieces,
    incr_name,
    manifest_name,
    needs_repr,
    repr_name,
    split_args,
    temp_incr_name,
    temp_manifest_name,
)

FRESH = (
    b"file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
)
HISTORY = (
    b"file appendonly.aof.2.base.aof seq 2 type b\n"
    b"file appendonly.aof.1.incr.aof seq 1 type h\n"
    b"file appendonly.aof.1.base.aof seq 1 type h\n"
    b"file appendonly.aof.2.incr.aof seq 2 type i\n"
)
QUOTED = b'file "my file.aof.1.base.rdb" seq 1 type b\nfile "my file.aof.1.incr.aof" seq 1 type i\n'
# appendfilename `it's x"\xc3\xa9.aof`, as a real redis-server 7.0.15 wrote it.
ODD = (
    b'file "it\'s x\\"\\xc3\\xa9.aof.1.base.rdb" seq 1 type b\n'
    b'file "it\'s x\\"\\xc3\\xa9.aof.1.incr.aof" seq 1 type i\n'
)


def test_fresh_manifest_round_trip() -> None:
    m = Manifest.parse(FRESH)
    assert m.base == AofInfo("appendonly.aof.1.base.rdb", 1, "b")
    assert m.incrs == [AofInfo("appendonly.aof.1.incr.aof", 1, "i")]
    assert m.history == []
    assert m.render() == FRESH


def test_history_round_trip_keeps_order() -> None:
    m = Manifest.parse(HISTORY)
    assert [h.name for h in m.history] == ["appendonly.aof.1.incr.aof", "appendonly.aof.1.base.aof"]
    assert all(h.kind == "h" for h in m.history)
    assert m.render() == HISTORY


def test_quoted_names_round_trip() -> None:
    m = Manifest.parse(QUOTED)
    assert m.base is not None and m.base.name == "my file.aof.1.base.rdb"
    assert m.render() == QUOTED


def test_non_ascii_and_quote_name_round_trip() -> None:
    m = Manifest.parse(ODD)
    assert m.base is not None
    assert m.base.name == "it's x\"\u00e9.aof.1.base.rdb"
    assert m.render() == ODD


def test_render_from_scratch_and_names() -> None:
    m = Manifest()
    m.base = m.next_base("appendonly.aof", rdb_preamble=True)
    m.incrs.append(m.next_incr("appendonly.aof"))
    assert m.render() == FRESH
    assert manifest_name("appendonly.aof") == "appendonly.aof.manifest"
    assert temp_manifest_name("appendonly.aof") == "temp-appendonly.aof.manifest"
    assert temp_incr_name("appendonly.aof") == "temp-appendonly.aof.incr"
    assert base_name("x", 7, False) == "x.7.base.aof"
    assert incr_name("x", 9) == "x.9.incr.aof"


def test_sequence_numbers_follow_redis() -> None:
    # base 3 + incr 4, 5 -> after one rewrite: base 4, incr 6 (spec §1)
    m = Manifest.parse(
        b"file appendonly.aof.3.base.rdb seq 3 type b\n"
        b"file appendonly.aof.4.incr.aof seq 4 type i\n"
        b"file appendonly.aof.5.incr.aof seq 5 type i\n"
    )
    assert m.next_incr("appendonly.aof") == AofInfo("appendonly.aof.6.incr.aof", 6, "i")
    assert m.next_base("appendonly.aof", True) == AofInfo("appendonly.aof.4.base.rdb", 4, "b")
    assert m.next_base("appendonly.aof", False).name == "appendonly.aof.4.base.aof"
    # next_* only compute: the manifest is unchanged
    assert len(m.incrs) == 2 and m.base is not None and m.base.seq == 3


def test_next_incr_remembers_seqs_no_longer_listed() -> None:
    m = Manifest.parse(HISTORY)
    m.incrs = []  # every incr gone from the list: the counter still knows 2
    assert m.next_incr("appendonly.aof").seq == 3
    built = Manifest(None, [AofInfo("appendonly.aof.7.incr.aof", 7, "h")], [])
    assert built.next_incr("appendonly.aof").seq == 8
    assert Manifest().next_base("p", True) == AofInfo("p.1.base.rdb", 1, "b")


def test_rewrite_helpers_match_redis_order() -> None:
    # The spec's history manifest, observed with aof-disable-auto-gc yes after one rewrite
    # of base 1 + incr 1: Redis lists the old incr before the old base.
    m = Manifest.parse(
        b"file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    )
    assert m.add_incr("appendonly.aof").seq == 2  # rewrite starts: new incr 2
    m.switch_base("appendonly.aof", False)  # rewrite done: base 2, old base to history
    m.mark_rewritten_incrs_history()
    assert m.render() == HISTORY
    # with the AOF off (BGREWRITEAOF only writes a base) every incr becomes history
    m2 = Manifest.parse(FRESH)
    m2.switch_base("appendonly.aof", True)
    m2.mark_rewritten_incrs_history(keep_last=False)
    assert m2.render() == (
        b"file appendonly.aof.2.base.rdb seq 2 type b\n"
        b"file appendonly.aof.1.incr.aof seq 1 type h\n"
        b"file appendonly.aof.1.base.rdb seq 1 type h\n"
    )


def test_copy_is_deep() -> None:
    m = Manifest.parse(HISTORY)
    c = m.copy()
    assert c == m
    c.incrs[0].kind = "h"
    c.history.clear()
    assert m.incrs[0].kind == "i" and len(m.history) == 2


def test_reader_accepts_what_redis_accepts() -> None:
    m = Manifest.parse(
        b"# a comment\n"
        b"  TYPE i SEQ 4 File a.4.incr.aof extra ignored \r\n"
        b"file 'b.5.incr.aof' seq 5 type incr\n"
    )
    assert m.base is None
    assert [(i.name, i.seq, i.kind) for i in m.incrs] == [
        ("a.4.incr.aof", 4, "i"),
        ("b.5.incr.aof", 5, "i"),
    ]
    # only comments: not an error (linenum > 0), an empty manifest
    assert Manifest.parse(b"# nothing\n") == Manifest()
    # a comment line needs no newline, even at the end
    assert Manifest.parse(FRESH + b"#tail").render() == FRESH
    # seq read like atoll; a negative base seq is accepted
    assert Manifest.parse(b"file a seq -3x type b\n").base == AofInfo("a", -3, "b")


@pytest.mark.parametrize(
    ("data", "message", "linenum", "line"),
    [
        (b"", "Found an empty AOF manifest", None, None),
        (b"file a seq 1 type b", "The AOF manifest file contains too long line", None, None),
        (
            b"file " + b"a" * 1020 + b" seq 1 type b\n",
            "The AOF manifest file contains too long line",
            None,
            None,
        ),
        (
            b"file a seq 1 type b\n\nfile b seq 2 type i\n",
            "Invalid AOF manifest file format",
            2,
            b"",
        ),
        (b"   \t\r\n", "Invalid AOF manifest file format", 1, b""),
        (b"file a seq 1 type\n", "Invalid AOF manifest file format", 1, b"file a seq 1 type"),
        (b"file a seq 1\n", "Invalid AOF manifest file format", 1, b"file a seq 1"),
        (b"file a seq 0 type b\n", "Invalid AOF manifest file format", 1, b"file a seq 0 type b"),
        (b"file a seq x type b\n", "Invalid AOF manifest file format", 1, b"file a seq x type b"),
        (b'file a seq 1 type ""\n', "Invalid AOF manifest file format", 1, b'file a seq 1 type ""'),
        (b"name a seq 1 type b\n", "Invalid AOF manifest file format", 1, b"name a seq 1 type b"),
        (b'file "a seq 1 type b\n', "Invalid AOF manifest file format", 1, b'file "a seq 1 type b'),
        (
            b'file "a"b seq 1 type b\n',
            "Invalid AOF manifest file format",
            1,
            b'file "a"b seq 1 type b',
        ),
        (
            b"file it's seq 2 type i\n",
            "Invalid AOF manifest file format",
            1,
            b"file it's seq 2 type i",
        ),
        (
            b"file x/y seq 1 type b\n",
            "File can't be a path, just a filename",
            1,
            b"file x/y seq 1 type b",
        ),
        (
            b"file x\\y seq 1 type b\n",
            "File can't be a path, just a filename",
            1,
            b"file x\\y seq 1 type b",
        ),
        (
            b"file a.1.base.rdb seq 1 type b\nfile a.1.base.rdb seq 2 type b\n",
            "Found duplicate base file information",
            2,
            b"file a.1.base.rdb seq 2 type b",
        ),
        (
            b"file a.2.incr.aof seq 2 type i\nfile a.2.incr.aof seq 2 type i\n",
            "Found a non-monotonic sequence number",
            2,
            b"file a.2.incr.aof seq 2 type i",
        ),
        (
            b"file a seq -1 type i\n",
            "Found a non-monotonic sequence number",
            1,
            b"file a seq -1 type i",
        ),
        (b"file a seq 1 type x\n", "Unknown AOF file type", 1, b"file a seq 1 type x"),
    ],
)
def test_fatal_manifests(
    data: bytes, message: str, linenum: int | None, line: bytes | None
) -> None:
    with pytest.raises(ManifestError) as info:
        Manifest.parse(data)
    e = info.value
    assert str(e) == message
    assert (e.linenum, e.line) == (linenum, line)
    logged = e.log_messages()
    assert logged[0] == "\n*** FATAL AOF MANIFEST FILE ERROR ***\n"
    assert logged[-1] == message + "\n"
    if line is not None:
        assert logged[1:3] == [
            f"Reading the manifest file, at line {linenum}\n",
            f">>> '{line.decode()}'\n",
        ]


def test_line_of_exactly_1024_bytes_is_accepted() -> None:
    name = b"n" * (1024 - len(b"file  seq 1 type b\n"))
    data = b"file " + name + b" seq 1 type b\n"
    assert len(data) == 1024
    assert Manifest.parse(data).base == AofInfo(name.decode(), 1, "b")


def test_long_comment_tail_is_read_as_a_line() -> None:
    # fgets reads 1024-byte pieces: the piece after a long comment is not a comment
    data = b"#" + b"c" * 1023 + b"file a seq 1 type b\n"
    assert Manifest.parse(data).base == AofInfo("a", 1, "b")


def test_nul_ends_a_value() -> None:
    m = Manifest.parse(b'file "ab\\x00cd" seq 1 type b\n')
    assert m.base is not None and m.base.name == "ab"
    with pytest.raises(ManifestError, match="too long line"):
        Manifest.parse(b"file a\0 seq 1 type b\n")


def test_split_args_like_sdssplitargs() -> None:
    assert split_args(b'a "b c" \'d e\' "\\x41\\n\\q"') == [b"a", b"b c", b"d e", b"A\nq"]
    assert split_args(b'ab"c d"e') is None  # closing quote not followed by a space
    assert split_args(b'ab"c d" e') == [b"abc d", b"e"]
    assert split_args(b"'it\\'s'") == [b"it's"]
    assert split_args(b'"open') is None
    assert split_args(b"") == []


def test_repr_rules_of_sdscatrepr() -> None:
    assert not needs_repr(b"appendonly.aof.1.base.rdb")
    assert not needs_repr(b"it's")  # Redis does not quote a single quote
    for raw in (b"a b", b'a"b', b"a\\b", b"a\tb", b"\x7f", b"\xe9"):
        assert needs_repr(raw)
    assert (
        repr_name(b'a "b"\\\n\r\t\x07\x08\x0b\xff') == b'"a \\"b\\"\\\\\\n\\r\\t\\a\\b\\x0b\\xff"'
    )
    for raw in (b"a b", b"\x01\x02 \xff", b'q"uo\\te'):
        assert split_args(repr_name(raw)) == [raw]


def test_fgets_pieces() -> None:
    assert fgets_pieces(b"ab\ncd", 1025) == [b"ab\n", b"cd"]
    assert fgets_pieces(b"x" * 5 + b"\n", 4) == [b"xxx", b"xx\n"]
    assert fgets_pieces(b"", 10) == []
