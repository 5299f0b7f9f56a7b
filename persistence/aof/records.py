"""RESP AOF records (spec aof.md §3.1, §3.2, §4): an incremental sans-IO reader and the
encoder the writer uses.

What AofReader accepts (at least what Redis 7.0's loadSingleAppendOnlyFile accepts):

* a record starting with "#" is an annotation: the line up to "\\n" (Redis reads such lines
  in 1023-byte pieces; we take the whole line, up to ANNOTATION_MAX bytes). An annotation
  left without its "\\n" at the very end of the input is accepted, as Redis does.
* a record starting with "*" is a command: the count is read like atoi() (leading blanks,
  a sign, digits; anything after the digits up to "\\n" is ignored) and must be >= 1;
  then per argument a line starting with "$" whose length is read like strtol() (again
  ignoring what follows the digits; a negative length is a format error), the bytes, and
  two more bytes that are skipped whatever they are (Redis does not check the CRLF).
  The "*" and "$" lines must end within HEADER_MAX bytes (Redis's 1024-byte line buffer).
* any other first byte of a record is a format error (AofFormatError at the record start).

Truncation (input ending inside a record) is not an error here: `at_eof` says where the
last complete record ended, which is where Redis (aof-load-truncated) or
redis-check-aof --fix cut the file. That point keeps a complete trailing "#TS:" line,
as redis-check-aof does (the server itself cuts back to the last command).

MULTI/EXEC are only tracked (`multi_start`), not enforced: replaying them is the loader's job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

HEADER_MAX: Final = 1024  # Redis's fgets buffer for "*<argc>" / "$<len>" lines
ANNOTATION_MAX: Final = 64 * 1024
_COMPACT_MIN: Final = 64 * 1024
_C_INT: Final = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_LONG_MAX: Final = (1 << 63) - 1
_STAR: Final = 0x2A
_DOLLAR: Final = 0x24
_HASH: Final = 0x23


@dataclass(slots=True)
class Command:
    """One command record; `start`/`end` are byte offsets in the file (end exclusive)."""

    argv: list[bytes]
    start: int
    end: int


@dataclass(slots=True)
class Annotation:
    """A "#..." line; `text` is without the "#" and the line end (b"TS:1795505786")."""

    text: bytes
    start: int
    end: int

    @property
    def timestamp(self) -> int | None:
        """The unix seconds of a "#TS:<t>" annotation, else None."""
        if not self.text.startswith(b"TS:"):
            return None
        digits = self.text[3:]
        if digits[:1] == b"-":
            return -int(digits[1:]) if digits[1:].isdigit() else None
        return int(digits) if digits.isdigit() else None


class AofFormatError(Exception):
    """Bytes that are not a RESP AOF record; `offset` is the bad record's start."""

    def __init__(self, offset: int, reason: str) -> None:
        super().__init__(f"Bad file format at offset {offset}: {reason}")
        self.offset = offset
        self.reason = reason


def _c_number(text: bytes) -> int | None:
    """atoi/strtol on a header line's tail: None when there are no digits."""
    if text.isdigit():
        return int(text)
    m = _C_INT.match(text)
    if m is None:
        return None
    return min(int(m.group(1)), _LONG_MAX)


class AofReader:
    """Incremental reader: feed() bytes, take records from next() until it returns None.

    Memory holds at most the unread input plus the record being read; parsed arguments of
    a partial record are kept, so feeding a huge record in small pieces stays linear.
    """

    def __init__(self, base_offset: int = 0) -> None:
        self.offset = base_offset  # end of the last complete record
        self._data = b""  # working buffer; _data[_pos:] is unparsed
        self._pos = 0
        self._base = base_offset  # file offset of _data[0]
        self._chunks: list[bytes] = []
        self._chunks_len = 0
        self._argc = 0  # > 0 while inside a command record
        self._argv: list[bytes] = []
        self._start = 0  # file offset of the record being read
        self._error: AofFormatError | None = None
        self._eof = False
        self._tail: Annotation | None = None
        self.multi_start: int | None = None  # start of an open MULTI, if any

    def feed(self, data: bytes) -> None:
        """More input (copied, so the caller may reuse a bytearray)."""
        if self._eof:
            raise ValueError("feed() after at_eof()")
        if data:
            self._chunks.append(bytes(data))
            self._chunks_len += len(data)

    def _pull(self, need: int) -> bool:
        """Make _data hold `need` bytes from _pos if fed input allows it."""
        have = len(self._data) - self._pos
        if have + self._chunks_len < need or not self._chunks:
            return False
        pos = self._pos
        rest = self._data[pos:] if pos < len(self._data) else b""
        self._data = b"".join([rest, *self._chunks]) if rest else b"".join(self._chunks)
        self._base += pos
        self._pos = 0
        self._chunks = []
        self._chunks_len = 0
        return True

    def _fail(self, reason: str) -> AofFormatError:
        self._error = AofFormatError(self._start, reason)
        return self._error

    def _line_end(self, limit: int) -> int | None:
        """Index of the "\\n" ending the line at _pos (within `limit` bytes), pulling input
        as needed; None if more input is needed."""
        while True:
            data = self._data
            pos = self._pos
            nl = data.find(b"\n", pos, pos + limit)
            if nl >= 0:
                return nl
            if len(data) - pos >= limit:
                raise self._fail(f"line longer than {limit} bytes")
            if not self._pull(len(data) - pos + 1):
                return None

    def next(self) -> Command | Annotation | None:
        """The next complete record, or None when more bytes are needed (or at the end)."""
        if self._error is not None:
            raise self._error
        if self._argc == 0:
            if self._tail is not None:
                tail, self._tail = self._tail, None
                return tail
            if self._pos >= len(self._data) and not self._pull(1):
                return None
            first = self._data[self._pos]
            self._start = self._base + self._pos
            if first == _HASH:
                return self._annotation()
            if first != _STAR:
                raise self._fail(f"expected '*' or '#', got {bytes((first,))!r}")
            nl = self._line_end(HEADER_MAX)
            if nl is None:
                return None
            data = self._data
            text = (
                data[self._pos + 1 : nl - 1] if data[nl - 1] == 0x0D else data[self._pos + 1 : nl]
            )
            argc = _c_number(text)
            if argc is None or argc < 1:
                raise self._fail(f"invalid argument count {data[self._pos : nl + 1]!r}")
            self._argc = argc
            self._argv = []
            self._pos = nl + 1
        return self._arguments()

    def _annotation(self) -> Annotation | None:
        nl = self._line_end(ANNOTATION_MAX)
        if nl is None:
            return None
        data = self._data
        stop = nl - 1 if nl > self._pos and data[nl - 1] == 0x0D else nl
        ann = Annotation(data[self._pos + 1 : stop], self._start, self._base + nl + 1)
        self._pos = nl + 1
        self.offset = ann.end
        return ann

    def _arguments(self) -> Command | None:
        argv = self._argv
        argc = self._argc
        # Fast path: well-formed "$<len>\r\n<bytes>\r\n" arguments already in the buffer.
        data = self._data
        pos = self._pos
        size = len(data)
        find = data.find
        while len(argv) < argc and pos < size and data[pos] == _DOLLAR:
            nl = find(b"\n", pos, pos + HEADER_MAX)
            if nl < 0 or data[nl - 1] != 0x0D:
                break
            text = data[pos + 1 : nl - 1]
            if not text.isdigit():
                break
            begin = nl + 1
            end = begin + int(text)
            if end + 2 > size:
                break
            argv.append(data[begin:end])
            pos = end + 2
        self._pos = pos
        while len(argv) < argc:
            if self._pos >= len(self._data) and not self._pull(1):
                return None
            data = self._data
            pos = self._pos
            if data[pos] != _DOLLAR:
                raise self._fail(
                    f"expected '$' for argument {len(argv)}, got {data[pos : pos + 1]!r}"
                )
            nl = self._line_end(HEADER_MAX)
            if nl is None:
                return None
            data = self._data
            pos = self._pos
            text = data[pos + 1 : nl - 1] if data[nl - 1] == 0x0D else data[pos + 1 : nl]
            length = _c_number(text)
            if length is None:
                length = 0  # strtol without digits: Redis reads an empty argument
            if length < 0:
                raise self._fail(f"negative bulk length {data[pos : nl + 1]!r}")
            begin = nl + 1
            end = begin + length + 2
            if end > len(data) and not self._pull(end - pos):
                return None
            data = self._data
            shift = pos - self._pos  # _pull rebased the buffer
            begin -= shift
            argv.append(data[begin : begin + length])
            self._pos = begin + length + 2
        cmd = Command(argv, self._start, self._base + self._pos)
        self._argc = 0
        self._argv = []
        self.offset = cmd.end
        name = argv[0].lower()
        if name == b"multi":
            if self.multi_start is None:
                self.multi_start = cmd.start
        elif name == b"exec":
            self.multi_start = None
        self._compact()
        return cmd

    def _compact(self) -> None:
        """Drop consumed bytes once they dominate the buffer (amortised linear)."""
        pos = self._pos
        if pos >= _COMPACT_MIN and pos * 2 >= len(self._data):
            self._data = self._data[pos:]
            self._base += pos
            self._pos = 0

    def at_eof(self) -> int | None:
        """Declare the end of input (after next() returned None). None if the input ended
        on a record boundary, else the end of the last complete record: the truncation
        point. A final annotation without its "\\n" counts as complete (Redis reads it),
        and next() returns it afterwards."""
        if self._error is not None:
            raise self._error
        self._eof = True
        self._pull(len(self._data) - self._pos + self._chunks_len)
        rest = self._data[self._pos :]
        if not rest and self._argc == 0:
            return None
        if self._argc == 0 and rest[:1] == b"#" and b"\n" not in rest:
            stop = len(rest) - 1 if rest.endswith(b"\r") else len(rest)
            start = self._base + self._pos
            self._tail = Annotation(rest[1:stop], start, self._base + len(self._data))
            self._pos = len(self._data)
            self.offset = self._tail.end
            return None
        return self.offset

    @property
    def buffered(self) -> int:
        """Bytes fed but not yet returned as records."""
        return len(self._data) - self._pos + self._chunks_len


def encode_record(argv: list[bytes]) -> bytes:
    """A command as the writer appends it: `*<argc>` then `$<len>` + bytes per argument."""
    parts = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def timestamp_annotation(unix_seconds: int) -> bytes:
    """The "#TS:<t>" line written before the first command of each new second."""
    return b"#TS:%d\r\n" % unix_seconds
