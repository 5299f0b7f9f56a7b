"""The AOF writer's byte order: group commits, a rewrite's switch to a new incr file and
the shutdown flush never reorder, lose or tear the stream, whoever gets the file first."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import trio

from node.resp import encode_command
from persistence.aof.writer import AofWriter
from tests.unit.sansio import make_server

SELECT0 = encode_command([b"SELECT", b"0"])


def cmd(n: int) -> list[bytes]:
    return [b"SET", b"k%d" % n, b"v" * (n % 7 + 1)]


def resp(*ns: int) -> bytes:
    return b"".join(encode_command(cmd(n)) for n in ns)


def open_incr(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)


@pytest.fixture
def writer(tmp_path: Path) -> AofWriter:
    server = make_server("--appendfsync", "always", "--aof-timestamp-enabled", "no")
    return AofWriter(server, open_incr(tmp_path / "1.incr.aof"), 0)


def take_group(writer: AofWriter) -> bytes:
    """What `_commit_group` does before its worker thread runs: take the buffer."""
    data = bytes(writer.buf)
    writer.buf = bytearray()
    writer.inflight = data
    return data


def test_worker_then_shutdown_flush_keeps_the_switch_at_its_offset(
    writer: AofWriter, tmp_path: Path
) -> None:
    writer.feed(0, cmd(1))
    group = take_group(writer)
    writer.feed(0, cmd(2))
    writer.switch_to(open_incr(tmp_path / "2.incr.aof"))
    writer.feed(0, cmd(3))
    # The worker wrote its group; the event loop has not seen it return yet.
    writer._commit_in_thread(group)
    writer.flush_and_sync()
    assert (tmp_path / "1.incr.aof").read_bytes() == SELECT0 + resp(1, 2)
    assert (tmp_path / "2.incr.aof").read_bytes() == resp(3)
    assert writer.synced == writer.written == writer.appended


def test_shutdown_flush_before_the_worker_takes_its_group(
    writer: AofWriter, tmp_path: Path
) -> None:
    writer.feed(0, cmd(1))
    group = take_group(writer)
    writer.feed(0, cmd(2))
    writer.switch_to(open_incr(tmp_path / "2.incr.aof"))
    writer.feed(0, cmd(3))
    writer.flush_and_sync()
    writer._commit_in_thread(group)  # finds its bytes already written: does nothing
    assert (tmp_path / "1.incr.aof").read_bytes() == SELECT0 + resp(1, 2)
    assert (tmp_path / "2.incr.aof").read_bytes() == resp(3)


def test_a_group_spanning_the_switch_is_split_exactly_there(
    writer: AofWriter, tmp_path: Path
) -> None:
    writer.feed(0, cmd(1))
    writer.switch_to(open_incr(tmp_path / "2.incr.aof"))
    writer.feed(0, cmd(2))
    writer.feed(0, cmd(3))
    writer._commit_in_thread(take_group(writer))
    assert (tmp_path / "1.incr.aof").read_bytes() == SELECT0 + resp(1)
    assert (tmp_path / "2.incr.aof").read_bytes() == resp(2, 3)
    assert writer.switch is None and writer.synced == writer.appended


def test_a_failed_commit_keeps_its_bytes_for_the_retry(tmp_path: Path) -> None:
    server = make_server("--appendfsync", "always", "--aof-timestamp-enabled", "no")
    writer = AofWriter(server, os.open("/dev/full", os.O_WRONLY), 0)
    writer.feed(0, cmd(1))

    async def one_commit() -> None:
        with trio.move_on_after(5):
            await writer._commit_group()

    trio.run(one_commit)
    assert bytes(writer.buf) == SELECT0 + resp(1)
    assert writer.written == writer.synced == 0
    assert str(writer.misconf(server)).startswith("MISCONF Errors writing to the AOF file")
    # The disk recovers (here: the file is swapped for a writable one): the retry lands it.
    os.close(writer.fd)
    writer.fd = open_incr(tmp_path / "1.incr.aof")
    trio.run(one_commit)
    assert (tmp_path / "1.incr.aof").read_bytes() == SELECT0 + resp(1)
    assert writer.misconf(server) is None and writer.synced == writer.appended
