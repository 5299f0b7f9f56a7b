"""The RESP codec, sans-IO: request parsing, limits, inline commands and reply encoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.resp import (
    NULL_ARRAY,
    OK,
    Double,
    Map,
    ProtocolError,
    Push,
    ReplyError,
    RequestParser,
    SetReply,
    Verbatim,
    encode_command,
    encode_reply,
    split_inline_args,
)


def parse_all(*chunks: bytes, **kw: int) -> list[list[bytes]]:
    p = RequestParser(**kw)
    out: list[list[bytes]] = []
    for chunk in chunks:
        out.extend(p.feed(chunk))
    return out


def test_pipelined_multibulk_in_one_read() -> None:
    data = encode_command([b"SET", b"k", b"v"]) + encode_command([b"GET", b"k"])
    assert parse_all(data) == [[b"SET", b"k", b"v"], [b"GET", b"k"]]


def test_command_split_across_reads_at_every_byte() -> None:
    data = encode_command([b"SET", b"key", b"a\r\nb"]) + encode_command([b"PING"])
    for cut in range(1, len(data)):
        assert parse_all(data[:cut], data[cut:]) == [[b"SET", b"key", b"a\r\nb"], [b"PING"]], cut


def test_inline_commands_with_quotes() -> None:
    assert parse_all(b'set x "hello world"\r\nget x\n') == [
        [b"set", b"x", b"hello world"],
        [b"get", b"x"],
    ]
    assert split_inline_args(b"'it\\'s' \"\\x41\\n\"") == [b"it's", b"A\n"]
    assert split_inline_args(b'"unbalanced') is None


def test_inline_after_multibulk_in_the_same_read() -> None:
    data = encode_command([b"PING"]) + b"ECHO hi\r\n" + encode_command([b"GET", b"k"])
    assert parse_all(data) == [[b"PING"], [b"ECHO", b"hi"], [b"GET", b"k"]]


def test_empty_inline_lines_are_ignored() -> None:
    assert parse_all(b"\r\n\n*1\r\n$4\r\nPING\r\n") == [[b"PING"]]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n:5\r\n", "expected '$', got ':'"),
        (b"*abc\r\n", "invalid multibulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b'SET "x\r\n', "unbalanced quotes in request"),
        (b"*1\r\n$600000000\r\n", "invalid bulk length"),
    ],
)
def test_protocol_errors_use_redis_texts(data: bytes, message: str) -> None:
    with pytest.raises(ProtocolError, match=message.replace("$", r"\$")):
        parse_all(data)


def test_bulk_limit_is_enforced_before_the_payload_arrives() -> None:
    p = RequestParser(max_bulk_len=1024 * 1024)
    with pytest.raises(ProtocolError, match="invalid bulk length"):
        p.feed(b"*2\r\n$3\r\nSET\r\n$2000000\r\n")


def test_too_big_inline_request() -> None:
    p = RequestParser()
    with pytest.raises(ProtocolError, match="too big inline request"):
        p.feed(b"x" * (70 * 1024))


def test_commands_before_an_error_are_returned_first() -> None:
    p = RequestParser()
    assert p.feed(encode_command([b"PING"]) + b"*1\r\n$-5\r\n") == [[b"PING"]]
    with pytest.raises(ProtocolError):
        p.feed(b"")


def test_unauthenticated_limits() -> None:
    p = RequestParser()
    p.authenticated = False
    with pytest.raises(ProtocolError, match="unauthenticated multibulk length"):
        p.feed(b"*20\r\n")


@given(
    st.lists(st.lists(st.binary(max_size=40), min_size=1, max_size=6), min_size=1, max_size=8),
    st.data(),
)
def test_any_split_of_valid_commands_parses_identically(
    cmds: list[list[bytes]], data: st.DataObject
) -> None:
    stream = b"".join(encode_command(c) for c in cmds)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=5)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True) if b > a]
    assert parse_all(*chunks) == cmds


@given(st.binary(max_size=200))
def test_garbage_never_raises_anything_but_protocol_error(data: bytes) -> None:
    p = RequestParser()
    try:
        p.feed(data)
    except ProtocolError:
        pass


def enc(value: object, resp3: bool = False) -> bytes:
    out: list[bytes] = []
    encode_reply(value, resp3, out)
    return b"".join(out)


def test_reply_encoding_resp2_and_resp3() -> None:
    assert enc(b"ab") == b"$2\r\nab\r\n"
    assert enc(None) == b"$-1\r\n" and enc(None, True) == b"_\r\n"
    assert enc(NULL_ARRAY) == b"*-1\r\n" and enc(NULL_ARRAY, True) == b"_\r\n"
    assert enc(OK) == b"+OK\r\n"
    assert enc(7) == b":7\r\n"
    assert enc([b"a", 1, None]) == b"*3\r\n$1\r\na\r\n:1\r\n$-1\r\n"
    assert enc(Map([(b"k", 1)])) == b"*2\r\n$1\r\nk\r\n:1\r\n"
    assert enc(Map([(b"k", 1)]), True) == b"%1\r\n$1\r\nk\r\n:1\r\n"
    assert enc(SetReply([b"a"]), True) == b"~1\r\n$1\r\na\r\n"
    assert enc(Push([b"message"]), True) == b">1\r\n$7\r\nmessage\r\n"
    assert enc(Double(1.5)) == b"$3\r\n1.5\r\n" and enc(Double(1.5), True) == b",1.5\r\n"
    assert enc(Double(0.1)) == b"$19\r\n0.10000000000000001\r\n"
    assert enc(Double(float("inf"))) == b"$3\r\ninf\r\n"
    assert enc(Verbatim(b"x"), True) == b"=5\r\ntxt:x\r\n"
    assert enc(ReplyError("ERR bad\nthing")) == b"-ERR bad thing\r\n"


def test_empty_multibulks_are_ignored_even_before_a_partial_command() -> None:
    data = b"*0\r\n*-1\r\n" + encode_command([b"ECHO", b"x"])
    assert parse_all(data[:-3], data[-3:]) == [[b"ECHO", b"x"]]
