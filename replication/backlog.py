"""ReplBacklog: the replication backlog, addressed by replication offset (sans-IO).

Redis 7.0 keeps the backlog as a list of blocks shared with the replicas' output buffers,
and its INFO numbers (`repl_backlog_histlen`, `repl_backlog_first_byte_offset`) follow from
how those blocks are cut, so this class cuts them the same way:

* a feed first fills the free room of the last block; what is left goes into new blocks of
  at least 16 KiB (PROTO_REPLY_CHUNK_BYTES) and at most 1/16 of the backlog size, whose
  capacity is what the allocator really gave (jemalloc's size class of the block plus its
  40-byte header, minus the header);
* the master feeds a command in pieces (`*<argc>\\r\\n`, then per argument `$<len>\\r\\n`, the
  argument, `\\r\\n`; a SELECT whole), so when a feed spills over the last block it is cut at
  those piece boundaries, exactly where Redis would have started its new block;
* whole oldest blocks are dropped while the history stays above `size` without them, never
  the last one, so `histlen` sits between `size` and `size` + one block once full.

Offsets use Redis's numbering: stream bytes are numbered from 1, `offset` is
`master_repl_offset` (the number of the last byte fed) and `first_byte_offset` is the number
of the oldest byte held (`offset + 1` while empty). Memory is bounded by `size` plus one block.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Final

# Redis: CONFIG_REPL_BACKLOG_MIN_SIZE, PROTO_REPLY_CHUNK_BYTES, sizeof(replBufBlock).
MIN_SIZE: Final = 16 * 1024
BLOCK_BYTES: Final = 16 * 1024
BLOCK_HEADER: Final = 40
_SELECT_HEAD: Final = b"*2\r\n$6\r\nSELECT\r\n"


def jemalloc_usable(n: int) -> int:
    """jemalloc's usable size for a request of n >= 16 KiB bytes (four classes per doubling)."""
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) // step * step


def block_capacity(length: int) -> int:
    """Data capacity of the block Redis allocates for `length` bytes (at least 16 KiB)."""
    return jemalloc_usable(max(BLOCK_BYTES, length) + BLOCK_HEADER) - BLOCK_HEADER


def feed_pieces(data: bytes) -> list[int]:
    """End positions of the pieces Redis's replicationFeedSlaves feeds for `data`.

    `data` is a run of RESP arrays of bulk strings (the replication stream); anything that
    does not parse as such is one piece from where parsing stopped.
    """
    ends: list[int] = []
    pos = 0
    n = len(data)
    while pos < n:
        if data.startswith(_SELECT_HEAD, pos):
            end = _array_end(data, pos)
            if end is None:
                break
            ends.append(end)
            pos = end
            continue
        if data[pos] != 0x2A:  # '*'
            break
        nl = data.find(b"\r\n", pos)
        if nl < 0:
            break
        try:
            argc = int(data[pos + 1 : nl])
        except ValueError:
            break
        start = pos
        p = nl + 2
        local = [p]
        for _ in range(argc):
            if p >= n or data[p] != 0x24:  # '$'
                break
            nl = data.find(b"\r\n", p)
            if nl < 0:
                break
            try:
                size = int(data[p + 1 : nl])
            except ValueError:
                break
            arg_end = nl + 2 + size
            if size < 0 or arg_end + 2 > n:
                break
            local += [nl + 2, arg_end, arg_end + 2]
            p = arg_end + 2
        else:
            ends += local
            pos = p
            continue
        pos = start
        break
    if pos < n:
        ends.append(n)
    return ends


def _array_end(data: bytes, pos: int) -> int | None:
    """End of the complete array of bulk strings starting at pos, or None."""
    nl = data.find(b"\r\n", pos)
    if nl < 0:
        return None
    try:
        argc = int(data[pos + 1 : nl])
    except ValueError:
        return None
    p = nl + 2
    for _ in range(argc):
        nl = data.find(b"\r\n", p)
        if nl < 0 or data[p] != 0x24:
            return None
        try:
            size = int(data[p + 1 : nl])
        except ValueError:
            return None
        p = nl + 2 + size + 2
        if size < 0 or p > len(data):
            return None
    return p


class ReplBacklog:
    """The last `size` (or a little more) bytes of the replication stream, by offset."""

    __slots__ = ("size", "offset", "histlen", "_blocks", "_caps", "_starts", "_head")

    def __init__(self, size: int, offset: int = 0) -> None:
        """`offset`: master_repl_offset when the backlog is created (its first byte is +1).
        `size` is taken as configured: Redis raises it to 16 KiB only on CONFIG SET."""
        self.size = size
        self.offset = offset
        self.histlen = 0
        self._blocks: list[bytearray] = []
        self._caps: list[int] = []
        self._starts: list[int] = []  # offset number of each block's first byte
        self._head = 0  # index of the oldest live block (dropped ones are compacted lazily)

    @property
    def first_byte_offset(self) -> int:
        return self.offset - self.histlen + 1

    def feed(self, data: bytes) -> None:
        """Append stream bytes: master_repl_offset advances by len(data)."""
        if not data:
            return
        blocks = self._blocks
        free = self._caps[-1] - len(blocks[-1]) if len(blocks) > self._head else 0
        if len(data) <= free:
            blocks[-1].extend(data)
        else:
            self._spill(data, free)
        self.offset += len(data)
        self.histlen += len(data)
        self._trim()

    def _spill(self, data: bytes, free: int) -> None:
        """Fill the last block, then open new blocks where Redis's pieces overflow it."""
        if free:
            self._blocks[-1].extend(data[:free])
        first = self.offset + 1  # offset number of data[0]
        limit = max(self.size // 16, BLOCK_BYTES)  # Redis caps a block at 1/16 of the backlog
        boundary = free  # end of the room in the current last block, relative to data
        for end in feed_pieces(data):
            while end > boundary:
                cap = block_capacity(min(end - boundary, limit))
                self._blocks.append(bytearray(data[boundary : boundary + cap]))
                self._caps.append(cap)
                self._starts.append(first + boundary)
                boundary += cap

    def _trim(self) -> None:
        """Drop whole oldest blocks while the history stays above `size` without them."""
        caps = self._caps
        while self.histlen > self.size and len(caps) - self._head > 1:
            first = caps[self._head]
            if self.histlen - first <= self.size:
                break
            self.histlen -= first
            self._blocks[self._head] = bytearray()
            self._head += 1
        if self._head > 32 and self._head * 2 > len(caps):
            h = self._head
            del self._blocks[:h], self._caps[:h], self._starts[:h]
            self._head = 0

    def can_serve(self, psync_offset: int) -> bool:
        """Redis's backlog test for +CONTINUE: first_byte_offset <= psync_offset <= offset+1."""
        return self.first_byte_offset <= psync_offset <= self.offset + 1

    def read_from(self, psync_offset: int) -> bytes:
        """The held bytes from offset number `psync_offset` to the end."""
        if not self.can_serve(psync_offset):
            raise ValueError(
                f"offset {psync_offset} outside the backlog "
                f"[{self.first_byte_offset}, {self.offset + 1}]"
            )
        if psync_offset == self.offset + 1:
            return b""
        i = bisect_right(self._starts, psync_offset, self._head) - 1
        skip = psync_offset - self._starts[i]
        return b"".join([memoryview(self._blocks[i])[skip:], *self._blocks[i + 1 :]])

    def resize(self, size: int) -> None:
        """CONFIG SET repl-backlog-size: the new limit, trimming at once. Redis raises a
        size below 16 KiB to 16 KiB here (and CONFIG GET then shows 16384)."""
        self.size = max(size, MIN_SIZE)
        self._trim()
