"""RESP, sans-IO: request bytes -> command vectors, reply values -> bytes.

Requests are parsed by hiredis while the client's bytes arrive aligned on command
boundaries (the common case: clients write whole commands). When a read ends inside a
command, or the client speaks the inline protocol, the remainder is handled by a small
Python framing parser that checks every header as it arrives, so that the limits
(`proto-max-bulk-len`, multibulk count, inline size) are enforced before the payload is
buffered, with the exact error texts Redis 7.0 uses.

Replies are Python values (see `encode_reply`); the few RESP3-only shapes have wrapper
types so that one handler serves both protocols.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

import hiredis

# Redis: PROTO_INLINE_MAX_SIZE. Also bounds the length of a `*<n>` or `$<n>` line.
PROTO_INLINE_MAX_SIZE: Final = 64 * 1024
# Redis refuses multibulk counts above INT_MAX and, before AUTH, above 10.
MULTIBULK_MAX: Final = 2**31 - 1
# hiredis allocates a declared multibulk's whole list as soon as it reads the header
# (`*2147483647` = 16 GB of address space, which the collector then walks for seconds);
# Redis preallocates at most 1024 slots. A count of 6+ digits goes to the framing parser.
_BIG_MULTIBULK: Final = re.compile(rb"\*[0-9]{6}")
UNAUTH_MULTIBULK_MAX: Final = 10
UNAUTH_BULK_MAX: Final = 16384


# Prebuilt `$<n>\r\n` headers and `:<n>\r\n` replies for small n (Redis keeps shared
# objects for the same reason): formatting them costs more than the rest of a reply.
SHARED_MAX: Final = 10000
BULK_HEADERS: Final = [b"$%d\r\n" % n for n in range(SHARED_MAX)]
INTEGER_REPLIES: Final = [b":%d\r\n" % n for n in range(SHARED_MAX)]
MULTIBULK_HEADERS: Final = [b"*%d\r\n" % n for n in range(SHARED_MAX)]


class ProtocolError(Exception):
    """The client broke the protocol: reply `-ERR Protocol error: <msg>`, then close."""


# ---------------------------------------------------------------------------
# Request parsing


def split_inline_args(line: bytes) -> list[bytes] | None:
    """Split an inline command like Redis's sdssplitargs; None means unbalanced quotes."""
    args: list[bytes] = []
    i = 0
    n = len(line)
    while True:
        while i < n and line[i] in b" \t\n\r\x0b\x0c":
            i += 1
        if i >= n or line[i] == 0:
            # sdssplitargs walks a C string: a NUL ends the whole line.
            return args
        cur = bytearray()
        in_dq = in_sq = False
        while True:
            if in_dq:
                if i >= n:
                    return None
                ch = line[i]
                if (
                    ch == 0x5C
                    and i + 3 < n
                    and line[i + 1] == 0x78
                    and _is_hex(line[i + 2])
                    and _is_hex(line[i + 3])
                ):
                    cur.append(int(line[i + 2 : i + 4], 16))
                    i += 3
                elif ch == 0x5C and i + 1 < n:
                    i += 1
                    cur.append(_ESCAPES.get(line[i], line[i]))
                elif ch == 0x22:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\x0b\x0c":
                        return None
                    in_dq = False
                    i += 1
                    break
                else:
                    cur.append(ch)
            elif in_sq:
                if i >= n:
                    return None
                ch = line[i]
                if ch == 0x5C and i + 1 < n and line[i + 1] == 0x27:
                    i += 1
                    cur.append(0x27)
                elif ch == 0x27:
                    if i + 1 < n and line[i + 1] not in b" \t\n\r\x0b\x0c":
                        return None
                    in_sq = False
                    i += 1
                    break
                else:
                    cur.append(ch)
            else:
                if i >= n:
                    break
                ch = line[i]
                if ch in b" \n\r\t\x00":
                    break
                if ch == 0x22:
                    in_dq = True
                elif ch == 0x27:
                    in_sq = True
                else:
                    cur.append(ch)
            i += 1
        args.append(bytes(cur))


_ESCAPES: Final = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07}


def _is_hex(c: int) -> bool:
    return c in b"0123456789abcdefABCDEF"


def _parse_long(raw: bytes) -> int | None:
    """Parse like Redis's string2ll: no spaces, no '+', no leading zeros."""
    if not raw or len(raw) > 20:
        return None
    body = raw[1:] if raw[0] == 0x2D else raw
    if not body.isdigit() or (len(body) > 1 and body[0] == 0x30):
        return None
    return int(raw)


class RequestParser:
    """Turns a client's bytes into command vectors (lists of bytes).

    `feed(data)` returns the complete commands found so far; a protocol violation is
    raised as ProtocolError *after* the commands before it were returned by earlier
    calls, matching Redis, which runs what it parsed and then closes the connection.
    """

    __slots__ = (
        "_reader",
        "_buf",
        "_clean",
        "_argv",
        "_want",
        "_bulk",
        "max_bulk_len",
        "query_buffer_limit",
        "authenticated",
        "_pending_error",
    )

    def __init__(
        self, max_bulk_len: int = 512 * 1024 * 1024, query_buffer_limit: int = 1024**3
    ) -> None:
        self._reader = hiredis.Reader()
        self._buf = bytearray()
        self._clean = True
        # State of the slow-path multibulk in progress: collected args, args still
        # wanted (-1: none in progress), current bulk length (-1: expecting '$' line).
        self._argv: list[bytes] = []
        self._want = -1
        self._bulk = -1
        self.max_bulk_len = max_bulk_len
        self.query_buffer_limit = query_buffer_limit
        # Before AUTH, Redis caps multibulk counts and bulk sizes much lower.
        self.authenticated = True
        self._pending_error: ProtocolError | None = None

    @property
    def buffered(self) -> int:
        """Bytes held for a command not yet complete (the client's query buffer)."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[list[bytes]]:
        if self._pending_error is not None:
            raise self._pending_error
        if (
            self._clean
            and data[:1] == b"*"
            and self.authenticated
            and _BIG_MULTIBULK.search(data) is None
        ):
            return self._feed_fast(data)
        self._buf += data
        cmds: list[list[bytes]] = []
        try:
            self._parse_slow(cmds)
        except ProtocolError as exc:
            if cmds:
                self._pending_error = exc
                return cmds
            raise
        return cmds

    def _feed_fast(self, data: bytes) -> list[list[bytes]]:
        reader = self._reader
        reader.feed(data)
        # Bound once per read: a method lookup per command costs more than the call.
        gets = reader.gets
        has_data = reader.has_data
        cmds: list[list[bytes]] = []
        skipped = 0  # bytes of empty multibulks (`*0`, `*-1`), which Redis ignores
        try:
            while True:
                cmd = gets()
                if cmd is False:
                    break
                if type(cmd) is list:
                    for arg in cmd:
                        if type(arg) is not bytes:
                            raise ValueError
                    if cmd:
                        cmds.append(cmd)
                    else:
                        skipped += 4
                elif cmd is None:
                    skipped += 5
                else:
                    raise ValueError
                # Checked right after a complete command: hiredis swallows the first
                # bytes of a partial one into its own state on the next gets().
                if not has_data():
                    return cmds
        except (hiredis.ProtocolError, ValueError):
            pass
        # The read ended inside a command, or hiredis met something it cannot judge
        # the way Redis does: hand the rest to the framing parser.
        consumed = skipped + sum(_encoded_len(c) for c in cmds)
        self._reader = hiredis.Reader()
        self._buf += data[consumed:]
        self._clean = False
        try:
            self._parse_slow(cmds)
        except ProtocolError as exc:
            if cmds:
                self._pending_error = exc
                return cmds
            raise
        return cmds

    def _parse_slow(self, out: list[list[bytes]]) -> None:
        buf = self._buf
        pos = 0
        try:
            while pos < len(buf):
                if self._want < 0:
                    if buf[pos] != 0x2A:
                        nl = buf.find(b"\n", pos)
                        if nl >= 0 and buf.find(b"\0", pos, nl) >= 0:
                            # Redis looks for the newline with strchr: a NUL before it
                            # hides it, and the line stays incomplete.
                            nl = -1
                        if nl < 0:
                            if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                                raise ProtocolError("too big inline request")
                            break
                        line = bytes(buf[pos:nl])
                        pos = nl + 1
                        if line.endswith(b"\r"):
                            line = line[:-1]
                        args = split_inline_args(line)
                        if args is None:
                            raise ProtocolError("unbalanced quotes in request")
                        if args:
                            out.append(args)
                        continue
                    nl = buf.find(b"\r\n", pos)
                    if nl < 0:
                        if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                            raise ProtocolError("too big mbulk count string")
                        break
                    count = _parse_long(bytes(buf[pos + 1 : nl]))
                    if count is None or count > MULTIBULK_MAX:
                        raise ProtocolError("invalid multibulk length")
                    if count > UNAUTH_MULTIBULK_MAX and not self.authenticated:
                        raise ProtocolError("unauthenticated multibulk length")
                    pos = nl + 2
                    if count <= 0:
                        continue
                    self._want = count
                    self._argv = []
                    self._bulk = -1
                if self._bulk < 0:
                    if pos >= len(buf):
                        break
                    if buf[pos] != 0x24:
                        raise ProtocolError(f"expected '$', got '{chr(buf[pos])}'")
                    nl = buf.find(b"\r\n", pos)
                    if nl < 0:
                        if len(buf) - pos > PROTO_INLINE_MAX_SIZE:
                            raise ProtocolError("too big bulk count string")
                        break
                    size = _parse_long(bytes(buf[pos + 1 : nl]))
                    if size is None or size < 0 or size > self.max_bulk_len:
                        raise ProtocolError("invalid bulk length")
                    if size > UNAUTH_BULK_MAX and not self.authenticated:
                        raise ProtocolError("unauthenticated bulk length")
                    pos = nl + 2
                    self._bulk = size
                end = pos + self._bulk
                if end + 2 > len(buf):
                    break
                self._argv.append(bytes(buf[pos:end]))
                pos = end + 2
                self._bulk = -1
                self._want -= 1
                if self._want == 0:
                    out.append(self._argv)
                    self._argv = []
                    self._want = -1
        finally:
            del buf[:pos]
        if len(buf) > self.query_buffer_limit:
            raise ProtocolError("query buffer limit")
        if not buf and self._want < 0:
            self._clean = True


def _encoded_len(argv: list[bytes]) -> int:
    n = 3 + len(str(len(argv)))
    for a in argv:
        la = len(a)
        n += la + 5 + len(str(la))
    return n


def encode_command(argv: Iterable[bytes]) -> bytes:
    """A command as a RESP array of bulk strings (the form of the AOF and the replication stream).

    Built from the prebuilt headers: hiredis.pack_command formats every length with
    printf, which costs more than the rest of a write command.
    """
    args = argv if type(argv) is list else list(argv)
    n = len(args)
    parts = [b"\r\n"] * (3 * n + 1)  # sized once: growing the list cost as much as joining
    parts[0] = MULTIBULK_HEADERS[n] if n < SHARED_MAX else b"*%d\r\n" % n
    i = 1
    for arg in args:
        if type(arg) is not bytes:
            return hiredis.pack_command(tuple(args))  # type: ignore[arg-type]
        size = len(arg)
        parts[i] = BULK_HEADERS[size] if size < SHARED_MAX else b"$%d\r\n" % size
        parts[i + 1] = arg
        i += 3
    return b"".join(parts)


# ---------------------------------------------------------------------------
# Replies


class Status:
    """A simple-string reply (`+OK`)."""

    __slots__ = ("raw",)

    def __init__(self, text: str | bytes) -> None:
        self.raw = b"+" + (text.encode() if isinstance(text, str) else text) + b"\r\n"


class Raw:
    """Bytes already encoded in RESP (identical in RESP2 and RESP3)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw


class Map:
    """RESP3 map (`%`); a flat array in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[tuple[Any, Any]]) -> None:
        self.items = list(items)


class SetReply:
    """RESP3 set (`~`); an array in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = list(items)


class Push:
    """RESP3 push (`>`), used for pub/sub messages; an array in RESP2."""

    __slots__ = ("items",)

    def __init__(self, items: Iterable[Any]) -> None:
        self.items = list(items)


class Verbatim:
    """RESP3 verbatim string (`=txt:`); a bulk string in RESP2 (INFO, CLIENT LIST...)."""

    __slots__ = ("text", "fmt")

    def __init__(self, text: bytes, fmt: bytes = b"txt") -> None:
        self.text = text
        self.fmt = fmt


class Double:
    """A float reply: RESP3 `,` double, a bulk string in RESP2 (formatted as Redis 7.0 does)."""

    __slots__ = ("value",)

    def __init__(self, value: float) -> None:
        self.value = value


class NullArrayType:
    """`*-1` in RESP2 (BLPOP timeout, EXEC aborted), `_` in RESP3."""

    __slots__ = ()


class Bool:
    """RESP3 boolean; an integer 1/0 in RESP2."""

    __slots__ = ("value",)

    def __init__(self, value: bool) -> None:
        self.value = value


NULL_ARRAY: Final = NullArrayType()
OK: Final = Status("OK")
QUEUED: Final = Status("QUEUED")
PONG: Final = Status("PONG")
EMPTY_ARRAY: Final = Raw(b"*0\r\n")


class ReplyError(Exception):
    """An error reply. Raised by handlers; also a value inside EXEC's array."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def encode(self) -> bytes:
        # Redis replaces newlines so an error stays one protocol line.
        msg = self.message.replace("\r", " ").replace("\n", " ")
        return b"-" + msg.encode("utf-8", "replace") + b"\r\n"


def format_double(value: float) -> bytes:
    """Redis 7.0's addReplyDouble text: `%.17g`, with inf/-inf spelled out."""
    if value != value:
        return b"nan"
    if value == float("inf"):
        return b"inf"
    if value == float("-inf"):
        return b"-inf"
    return b"%.17g" % value


def encode_reply(value: Any, resp3: bool, out: list[bytes]) -> None:
    """Append the RESP encoding of `value` to `out`.

    bytes/str -> bulk string, int -> integer, None -> null, list/tuple -> array,
    and the wrapper types above for the other shapes.
    """
    t = type(value)
    if t is bytes:
        n = len(value)
        if n < SHARED_MAX:
            out.append(BULK_HEADERS[n] + value + b"\r\n")
        else:
            out.append(b"$%d\r\n%s\r\n" % (n, value))
    elif t is int:
        number: int = value
        if 0 <= number < SHARED_MAX:
            out.append(INTEGER_REPLIES[number])
        else:
            out.append(b":%d\r\n" % number)  # compiled to a fast path: `number` is an int
    elif t is Status or t is Raw:
        out.append(value.raw)
    elif value is None:
        out.append(b"_\r\n" if resp3 else b"$-1\r\n")
    elif t is list or t is tuple:
        out.append(b"*%d\r\n" % len(value))
        for item in value:
            encode_reply(item, resp3, out)
    elif t is str:
        data = value.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(data), data))
    elif t is Map:
        if resp3:
            out.append(b"%%%d\r\n" % len(value.items))
        else:
            out.append(b"*%d\r\n" % (2 * len(value.items)))
        for k, v in value.items:
            encode_reply(k, resp3, out)
            encode_reply(v, resp3, out)
    elif t is SetReply or t is Push:
        prefix = (b"~" if t is SetReply else b">") if resp3 else b"*"
        out.append(b"%s%d\r\n" % (prefix, len(value.items)))
        for item in value.items:
            encode_reply(item, resp3, out)
    elif t is Double:
        if resp3:
            out.append(b",%s\r\n" % format_double(value.value))
        else:
            text = format_double(value.value)
            out.append(b"$%d\r\n%s\r\n" % (len(text), text))
    elif t is Verbatim:
        if resp3:
            out.append(b"=%d\r\n%s:%s\r\n" % (len(value.text) + 4, value.fmt, value.text))
        else:
            out.append(b"$%d\r\n%s\r\n" % (len(value.text), value.text))
    elif t is NullArrayType:
        out.append(b"_\r\n" if resp3 else b"*-1\r\n")
    elif t is Bool:
        if resp3:
            out.append(b"#t\r\n" if value.value else b"#f\r\n")
        else:
            out.append(b":1\r\n" if value.value else b":0\r\n")
    elif isinstance(value, ReplyError):
        out.append(value.encode())
    elif t is float:
        encode_reply(Double(value), resp3, out)
    elif t is bool:
        out.append(b":1\r\n" if value else b":0\r\n")
    else:
        raise TypeError(f"cannot encode reply of type {t.__name__}")


def sds_repr(data: bytes) -> str:
    """Redis's sdscatrepr: `data` double-quoted with C escapes (MONITOR, CONFIG REWRITE)."""
    out = ['"']
    for b in data:
        ch = chr(b)
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch in _REPR_ESCAPES:
            out.append(_REPR_ESCAPES[ch])
        elif 32 <= b < 127:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    out.append('"')
    return "".join(out)


_REPR_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\a": "\\a", "\b": "\\b"}
