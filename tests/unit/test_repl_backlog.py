"""ReplBacklog: bytes by offset, and Redis 7.0's block arithmetic behind its INFO numbers."""

from __future__ import annotations

import random

import pytest

from node.resp import encode_command
from replication.backlog import (
    MIN_SIZE,
    ReplBacklog,
    block_capacity,
    feed_pieces,
    jemalloc_usable,
)


def select(db: int) -> bytes:
    return encode_command([b"SELECT", str(db).encode()])


def redis_pieces(argv: list[bytes]) -> list[bytes]:
    """What replicationFeedSlaves hands feedReplicationBuffer for one command, piece by piece."""
    if argv[0] == b"SELECT":
        return [encode_command(argv)]
    pieces = [b"*%d\r\n" % len(argv)]
    for arg in argv:
        pieces += [b"$%d\r\n" % len(arg), arg, b"\r\n"]
    return pieces


class ReferenceBacklog:
    """A line-by-line model of feedReplicationBuffer + incrementalTrimReplicationBacklog,
    fed one piece at a time, keeping only block sizes; trimmed once a command is in (Redis
    trims in the feed and again before it sleeps, the later trim decides what INFO shows)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.blocks: list[list[int]] = []  # [capacity, used]
        self.offset = 0
        self.histlen = 0

    def feed_piece(self, n: int) -> None:
        self.offset += n
        self.histlen += n
        while n:
            if self.blocks and self.blocks[-1][0] > self.blocks[-1][1]:
                tail = self.blocks[-1]
                copy = min(tail[0] - tail[1], n)
                tail[1] += copy
                n -= copy
            if n:
                limit = max(self.size // 16, 16384)
                cap = jemalloc_usable(min(max(n, 16384), limit) + 40) - 40
                copy = min(cap, n)
                self.blocks.append([cap, copy])
                n -= copy

    def trim(self) -> None:
        while self.histlen > self.size and len(self.blocks) > 1:
            first = self.blocks[0][0]
            if self.histlen - first <= self.size:
                break
            self.histlen -= first
            self.blocks.pop(0)


def random_command(rng: random.Random) -> list[bytes]:
    size = rng.choice(
        [0, 1, 10, 300, 5000, 16000, 16384, 16400, 20440, 40000, 100000, 300000, 1 << 20]
    )
    argv = [b"SET", b"key:%d" % rng.randrange(1000), rng.randbytes(size)]
    if rng.random() < 0.3:
        argv += [b"PXAT", b"1893456000000"]
    return argv


def test_jemalloc_size_classes() -> None:
    # Four classes per doubling: 16 KiB + header -> 20 KiB, the first class above 32 KiB is 40 KiB.
    assert jemalloc_usable(16424) == 20480
    assert jemalloc_usable(20480) == 20480
    assert jemalloc_usable(20481) == 24576
    assert jemalloc_usable(32768) == 32768
    assert jemalloc_usable(32769) == 40960
    assert jemalloc_usable(1 << 20) == 1 << 20
    assert jemalloc_usable((1 << 20) + 1) == (1 << 20) + (1 << 18)
    assert block_capacity(1) == block_capacity(16384) == 20440
    assert block_capacity(20440) == 20440
    assert block_capacity(20441) == 24536


def test_feed_pieces_match_redis_feeding() -> None:
    cmd = [b"SET", b"k", b"v" * 12]
    data = select(3) + encode_command(cmd) + select(12) + encode_command([b"PING"])
    ends = feed_pieces(data)
    pieces = [data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    assert pieces == [
        select(3),
        *redis_pieces(cmd),
        select(12),
        *redis_pieces([b"PING"]),
    ]


@pytest.mark.parametrize(
    "data",
    [b"\n", b"*2\r\n$3\r\nGET\r\n", b"garbage", b"*1\r\n$4\r\nPING\r\n" + b"*x\r\n"],
)
def test_feed_pieces_of_what_is_not_whole_commands(data: bytes) -> None:
    ends = feed_pieces(data)
    assert ends[-1] == len(data)
    assert ends == sorted(set(ends))


def test_empty_backlog_numbers() -> None:
    b = ReplBacklog(1 << 20)
    assert (b.offset, b.first_byte_offset, b.histlen, b.size) == (0, 1, 0, 1 << 20)
    assert b.can_serve(1) and not b.can_serve(0) and not b.can_serve(2)
    assert b.read_from(1) == b""
    # Created at a master_repl_offset (a restarted master, a replica after full sync).
    b = ReplBacklog(1 << 20, offset=201)
    assert (b.offset, b.first_byte_offset, b.histlen) == (201, 202, 0)
    assert b.can_serve(202) and not b.can_serve(201)


def test_small_history_is_all_kept_and_read_by_offset() -> None:
    b = ReplBacklog(1 << 20)
    stream = select(0) + encode_command([b"SET", b"after:sync", b"1"])
    b.feed(stream)
    b.feed(encode_command([b"INCR", b"counter"]))
    stream += encode_command([b"INCR", b"counter"])
    assert (b.offset, b.first_byte_offset, b.histlen) == (87, 1, 87)
    assert b.read_from(1) == stream
    assert b.read_from(61) == stream[60:]
    assert b.read_from(88) == b""
    with pytest.raises(ValueError):
        b.read_from(89)
    with pytest.raises(ValueError):
        b.read_from(0)


def test_minimum_size_is_16k_only_through_resize() -> None:
    # redis-server --repl-backlog-size 1000 keeps 1000 (INFO repl_backlog_size:1000);
    # CONFIG SET repl-backlog-size 2000 makes it 16384.
    b = ReplBacklog(1000)
    assert b.size == 1000
    cmd = encode_command([b"SET", b"k", b"v" * 5000])
    for _ in range(10):
        b.feed(cmd)
    # Blocks are still 16 KiB and more: the history keeps whole blocks above 1000 bytes.
    assert 1000 < b.histlen <= 1000 + 20440
    b.resize(2000)
    assert b.size == MIN_SIZE
    b.resize(1)
    assert b.size == MIN_SIZE


@pytest.mark.parametrize("seed", range(6))
def test_numbers_match_the_piecewise_reference_model(seed: int) -> None:
    rng = random.Random(seed)
    size = rng.choice([1000, MIN_SIZE, 50000, 100000, 1 << 20, 4 << 20])
    b = ReplBacklog(size)
    ref = ReferenceBacklog(size)
    stream = bytearray()
    db = -1
    for _ in range(300):
        argv = random_command(rng)
        chunk = b""
        if rng.random() < 0.1 or db < 0:
            db = rng.randrange(16)
            chunk += select(db)
            ref.feed_piece(len(select(db)))
            if rng.random() < 0.5:  # SELECT and command in one feed, or in two
                ref.trim()
                b.feed(chunk)
                stream += chunk
                chunk = b""
        chunk += encode_command(argv)
        for piece in redis_pieces(argv):
            ref.feed_piece(len(piece))
        ref.trim()
        b.feed(chunk)
        stream += chunk
        assert (b.offset, b.histlen) == (ref.offset, ref.histlen)
        assert b.first_byte_offset == ref.offset - ref.histlen + 1
    assert b.offset == len(stream)
    # Bounded: never more than the limit plus one block once full.
    assert b.histlen <= b.size + max(c for c, _ in ref.blocks)
    first = b.first_byte_offset
    assert b.read_from(first) == bytes(stream[first - 1 :])
    for off in rng.sample(range(first, b.offset + 2), 20):
        assert b.read_from(off) == bytes(stream[off - 1 :])
    assert not b.can_serve(first - 1)


def test_several_commands_in_one_feed_cut_like_separate_feeds() -> None:
    rng = random.Random(11)
    cmds = [encode_command(random_command(rng)) for _ in range(120)]
    one = ReplBacklog(MIN_SIZE)
    many = ReplBacklog(MIN_SIZE)
    for i in range(0, len(cmds), 7):
        one.feed(b"".join(cmds[i : i + 7]))
        for c in cmds[i : i + 7]:
            many.feed(c)
    assert (one.offset, one.histlen) == (many.offset, many.histlen)
    assert one.read_from(one.first_byte_offset) == many.read_from(many.first_byte_offset)


def test_a_huge_value_is_cut_into_blocks_of_a_sixteenth_of_the_backlog() -> None:
    b = ReplBacklog(MIN_SIZE)
    small = encode_command([b"SET", b"a", b"x" * 1000])
    b.feed(small)
    big = encode_command([b"SET", b"b", b"y" * 300000])
    b.feed(big)
    # Blocks of 20440 bytes (16 KiB is also the floor): the first holds the first command,
    # the second's header pieces and the start of its value; the rest of the value fills
    # more 20440-byte blocks. Whole blocks go while more than 16 KiB stays.
    assert len(small) == 1029
    total = len(small) + len(big)
    n_blocks = -(-total // 20440)
    last = total - (n_blocks - 1) * 20440
    assert b.histlen == (last + 20440 if last <= MIN_SIZE else last)
    assert b.read_from(b.first_byte_offset) == (small + big)[-b.histlen :]
    # With a 1 MiB backlog a block is asked for at most 64 KiB (81880 once allocated): the
    # header pieces open a 16 KiB block, the value fills it and three more, the rest fits.
    b = ReplBacklog(1 << 20)
    b.feed(big)
    assert block_capacity(65536) == 81880
    rest = 300000 - (20440 - 29) - 3 * 81880
    assert (
        b._caps
        == [20440, 81880, 81880, 81880, block_capacity(rest)]
        == [
            20440,
            81880,
            81880,
            81880,
            40920,
        ]
    )


def test_resize_trims_at_once_and_grows_without_loss() -> None:
    b = ReplBacklog(1 << 20)
    cmd = encode_command([b"SET", b"k", b"v" * 1000])
    for _ in range(500):
        b.feed(cmd)
    assert b.histlen == 500 * len(cmd)
    b.resize(MIN_SIZE)
    assert MIN_SIZE < b.histlen <= MIN_SIZE + 20440
    assert b.read_from(b.first_byte_offset) == (cmd * 500)[-b.histlen :]
    held = b.histlen
    b.resize(1 << 20)
    assert b.histlen == held
    b.feed(cmd)
    assert b.histlen == held + len(cmd)


def test_memory_stays_bounded_over_a_long_stream() -> None:
    b = ReplBacklog(MIN_SIZE)
    cmd = encode_command([b"SET", b"k", b"v" * 700])
    for _ in range(20000):
        b.feed(cmd)
    live = [blk for blk in b._blocks[b._head :]]
    assert sum(len(x) for x in live) == b.histlen
    assert len(b._blocks) < 80  # dropped blocks are compacted away
    assert b.offset == 20000 * len(cmd)
