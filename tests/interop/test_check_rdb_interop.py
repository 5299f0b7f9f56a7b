"""keelkv-check-rdb against redis-check-rdb 7.0.15 on dumps written by a real redis-server.

A real server SAVEs a dump with strings (raw, int, LZF), lists, hashes, sets and zsets in
their compact and plain encodings, three DBs, live and already-expired TTLs. Corrupt
variants are cut or patched from that file; both tools check each one and their stdout
and exit status are compared.

Offsets: where the decoder reports the position redis-check-rdb's rio has reached, the
reports must be byte-equal. The decoder's RdbError.offset is the start of the bad item
or the end of the input, while redis-check-rdb prints the bytes its reader had consumed
(after a bad byte or blob, before a read that hit EOF, after the CRC trailer, 9 after a
bad header). For those cases the report is compared with the error line's offset masked,
and the exact offset is a strict xfail so that a decoder fix shows up as XPASS.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.harness import ROOT, ServerProcess, start_redis

pytestmark = pytest.mark.interop

FUTURE_MS = 4_102_444_800_000  # 2100-01-01


@dataclass
class Dump:
    data: bytes
    boundaries: dict[str, int]  # offsets redis-check-rdb printed for the good file


@dataclass(frozen=True)
class Result:
    status: int
    stdout: bytes
    stderr: bytes


def run_redis(path: Path) -> Result:
    p = subprocess.run(
        ["redis-check-rdb", path.name], cwd=path.parent, capture_output=True, timeout=60
    )
    return Result(p.returncode, p.stdout, p.stderr)


def run_keelkv(path: Path, *opts: str) -> Result:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "persistence.tools.check_rdb", *opts, path.name],
        cwd=path.parent,
        env=env,
        capture_output=True,
        timeout=300,
    )
    return Result(p.returncode, p.stdout, p.stderr)


def rstr(s: str) -> bytes:
    b = s.encode()
    assert len(b) < 64
    return bytes((len(b),)) + b


def key_at(data: bytes, name: str) -> int:
    """Offset of key `name`'s length byte; its type byte is the one before."""
    pos = data.find(rstr(name))
    assert pos > 0 and data.find(rstr(name), pos + 1) < 0, name
    return pos


def save_dump(workdir: Path, fill: Callable[[ServerProcess], None]) -> bytes:
    node = start_redis("--enable-debug-command", "yes", workdir=workdir)
    try:
        client = node.client()
        client.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
        fill(node)
        client.save()
        client.close()
    finally:
        node.stop()
    return (workdir / "dump.rdb").read_bytes()


def fill_types(node: ServerProcess) -> None:
    r0 = node.client(db=0)
    rng = random.Random(7)
    r0.set("s:plain", "hello world, this is plain")
    r0.set("s:int", "12345")
    r0.set("s:lzf", "a" * 200)
    r0.set("s:raw", rng.randbytes(3000))
    r0.set("s:future", "v", pxat=FUTURE_MS)
    r0.set("s:past", "v", px=1)
    r0.rpush("l:small", "a", "b", "1", "300", "-5")
    r0.rpush("l:large", *[f"item{i}" for i in range(1000)])
    r0.hset("h:small", mapping={"f1": "v1", "f2": "2"})
    r0.hset("h:large", mapping={f"field{i}": f"value{i}" * 3 for i in range(600)})
    r0.sadd("set:int", 1, 2, 3, -100, 100000)
    r0.sadd("set:str", "x", "y", "z")
    r0.zadd("z:small", {"one": 1, "two": 2.5, "three": -3})
    r0.zadd(
        "z:large",
        {f"m{i}": i / 2 for i in range(200)},
    )
    r0.pexpireat("z:large", FUTURE_MS)
    r3 = node.client(db=3)
    r3.set("db3:str", "v", pxat=FUTURE_MS)
    r3.hset("db3:hash", "a", "b")
    r7 = node.client(db=7)
    r7.rpush("db7:list", "x")
    time.sleep(0.01)  # s:past is now expired; active expiry is off, so it is saved


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> Dump:
    data = save_dump(tmp_path_factory.mktemp("redis-dump"), fill_types)
    path = tmp_path_factory.mktemp("good") / "dump.rdb"
    path.write_bytes(data)
    report = run_redis(path)
    assert report.status == 0, report.stdout
    lines = report.stdout.decode().splitlines()
    assert lines[-3:] == ["[info] 17 keys read", "[info] 4 expires", "[info] 1 already expired"]
    boundaries = {}
    for line in lines:
        m = re.match(r"\[offset (\d+)\] (AUX FIELD (\S+)|Selecting DB ID (\d+))", line)
        if m:
            name = f"aux:{m.group(3)}" if m.group(3) else f"db:{m.group(4)}"
            boundaries[name] = int(m.group(1))
    assert {"aux:redis-ver", "aux:aof-base", "db:0", "db:3", "db:7"} <= boundaries.keys()
    return Dump(data, boundaries)


def flip(data: bytes, pos: int, mask: int = 0x01) -> bytes:
    b = bytearray(data)
    b[pos] ^= mask
    return bytes(b)


def put(data: bytes, pos: int, byte: int) -> bytes:
    b = bytearray(data)
    b[pos] = byte
    return bytes(b)


def h_small_listpack_end(d: bytes) -> int:
    """The listpack end byte (ff) of h:small: its blob is a 1-byte-length raw string."""
    blob = key_at(d, "h:small") + len(rstr("h:small"))
    size = d[blob]
    assert size < 64 and d[blob + size] == 0xFF
    return blob + size


# name -> (build variant from the dump, the report is byte-equal now)
VARIANTS: dict[str, tuple[Callable[[Dump], bytes], bool]] = {
    "good": (lambda d: d.data, True),
    "checksum-zero": (lambda d: d.data[:-8] + bytes(8), True),
    "version-9-header": (lambda d: b"REDIS0009" + d.data[9:-8] + bytes(8), True),
    "cut-empty": (lambda d: b"", True),
    "cut-after-header": (lambda d: d.data[:9], True),
    "cut-after-aux-key": (lambda d: d.data[:20], True),
    "cut-after-aux": (lambda d: d.data[: d.boundaries["db:0"] - 2], True),
    "cut-after-selectdb": (lambda d: d.data[: d.boundaries["db:0"]], True),
    "cut-before-key-type": (lambda d: d.data[: key_at(d.data, "h:large") - 1], True),
    "cut-after-key-length": (lambda d: d.data[: key_at(d.data, "h:large") + 1], True),
    "cut-before-db3": (lambda d: d.data[: d.boundaries["db:3"] - 2], True),
    "cut-before-eof": (lambda d: d.data[:-9], True),
    "cut-after-eof": (lambda d: d.data[:-8], True),
    "cut-mid-magic": (lambda d: d.data[:5], False),
    "cut-mid-aux-value": (lambda d: d.data[:24], False),
    "cut-mid-key-name": (lambda d: d.data[: key_at(d.data, "h:large") + 3], False),
    "cut-mid-hash-value": (lambda d: d.data[: key_at(d.data, "h:large") + 500], False),
    "cut-mid-raw-string": (lambda d: d.data[: key_at(d.data, "s:raw") + 1000], False),
    "cut-mid-quicklist": (lambda d: d.data[: key_at(d.data, "l:large") + 4000], False),
    "cut-mid-expire": (lambda d: d.data[: key_at(d.data, "s:future") - 5], False),
    "cut-mid-crc": (lambda d: d.data[:-3], False),
    "flip-in-string-value": (lambda d: flip(d.data, key_at(d.data, "s:plain") + 12), False),
    "flip-listpack-end": (lambda d: put(d.data, h_small_listpack_end(d.data), 0xFE), False),
    "bad-crc-trailer": (lambda d: flip(d.data, len(d.data) - 1), False),
    "type-20": (lambda d: put(d.data, key_at(d.data, "s:plain") - 1, 20), False),
    "type-8": (lambda d: put(d.data, key_at(d.data, "s:int") - 1, 8), False),
    "opcode-f4": (lambda d: put(d.data, key_at(d.data, "s:plain") - 1, 0xF4), False),
    "opcode-f0-before-db": (lambda d: put(d.data, d.boundaries["db:0"] - 2, 0xF0), False),
    "version-11-header": (lambda d: b"REDIS0011" + d.data[9:], False),
    "wrong-signature": (lambda d: b"RADIS" + d.data[5:], False),
}

ERROR_LINE = re.compile(rb"(--- RDB ERROR DETECTED ---\n)\[offset \d+\]")
# rdbReportError's serverLog line (on stdout): pid and local time differ between runs.
LOG_PREFIX = re.compile(rb"(?m)^\d+:C \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} # ")


def normalize(report: bytes) -> bytes:
    return LOG_PREFIX.sub(b"<pid>:C <time> # ", report)


def mask_error_offset(report: bytes) -> bytes:
    return ERROR_LINE.sub(rb"\1[offset *]", normalize(report))


def check_pair(dump: Dump, tmp_path: Path, name: str) -> tuple[Result, Result]:
    build, _ = VARIANTS[name]
    path = tmp_path / f"{name}.rdb"
    path.write_bytes(build(dump))
    return run_keelkv(path), run_redis(path)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_report_matches_redis_check_rdb(dump: Dump, tmp_path: Path, name: str) -> None:
    ours, theirs = check_pair(dump, tmp_path, name)
    assert ours.status == theirs.status, (ours.stdout, theirs.stdout)
    if VARIANTS[name][1]:
        assert normalize(ours.stdout) == normalize(theirs.stdout)
    else:
        assert b"--- RDB ERROR DETECTED ---" in theirs.stdout
        assert mask_error_offset(ours.stdout) == mask_error_offset(theirs.stdout)


OFFSET_GAPS = {
    "cut-mid-magic": "decoder: EOF offset is the input length, rio's is 0 (header read start)",
    "cut-mid-aux-value": "decoder: EOF offset is the input length, not the failed read's start",
    "cut-mid-key-name": "decoder: EOF offset is the input length, not the failed read's start",
    "cut-mid-hash-value": "decoder: EOF offset is the input length, not the failed read's start",
    "cut-mid-raw-string": "decoder: EOF offset is the input length, not the failed read's start",
    "cut-mid-quicklist": "decoder: EOF offset is the input length, not the failed read's start",
    "cut-mid-expire": "decoder: EOF offset is the input length, not the 8-byte read's start",
    "cut-mid-crc": "decoder: EOF offset is the input length, not the trailer's start",
    "flip-in-string-value": "decoder: CRC error at the trailer's start, rio's after the trailer",
    "flip-listpack-end": "decoder: corrupt blob at the blob's start, rio's after the blob",
    "bad-crc-trailer": "decoder: CRC error at the trailer's start, rio's after the trailer",
    "type-20": "decoder: bad type at the type byte, rio's after it",
    "type-8": "decoder: bad type at the type byte, rio's after it",
    "opcode-f4": "decoder: bad type at the type byte, rio's after it",
    "opcode-f0-before-db": "decoder: bad type at the type byte, rio's after it",
    "version-11-header": "decoder: header errors at 0, rio's at 9",
    "wrong-signature": "decoder: header errors at 0, rio's at 9",
}
assert set(OFFSET_GAPS) == {n for n, (_, exact) in VARIANTS.items() if not exact}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=r))
        for n, r in OFFSET_GAPS.items()
    ],
)
def test_error_offset_matches_redis_check_rdb(dump: Dump, tmp_path: Path, name: str) -> None:
    ours, theirs = check_pair(dump, tmp_path, name)
    assert normalize(ours.stdout) == normalize(theirs.stdout)


def fill_bulk(node: ServerProcess) -> None:
    """~5.5 MB of incompressible values in 40000 keys."""
    client = node.client()
    rng = random.Random(11)
    for start in range(0, 40000, 2000):
        pipe = client.pipeline(transaction=False)
        for i in range(start, start + 2000):
            pipe.set(f"bulk:{i}", rng.randbytes(128))
        pipe.execute()
    client.close()


def test_progress_on_large_file(tmp_path_factory: pytest.TempPathFactory) -> None:
    data = save_dump(tmp_path_factory.mktemp("redis-bulk"), fill_bulk)
    assert len(data) > 5_000_000
    path = tmp_path_factory.mktemp("bulk") / "dump.rdb"
    path.write_bytes(data)
    theirs = run_redis(path)
    plain = run_keelkv(path)
    started = time.monotonic()
    shown = run_keelkv(path, "--progress")
    elapsed = time.monotonic() - started
    assert theirs.status == plain.status == shown.status == 0
    assert plain.stdout == shown.stdout == theirs.stdout
    assert plain.stderr == b""
    frames = shown.stderr.decode().split("\r")[1:]
    assert frames[-1].startswith("100.0% ") and frames[-1].endswith("\n")
    assert "| 40000 keys |" in frames[-1] and "MB/s | ETA " in frames[-1]
    assert not frames[0].startswith("100.0%")  # drawn while reading, not only at the end
    # At most ~10 redraws a second (+ the first and the final one).
    assert 2 <= len(frames) <= elapsed * 10 + 2
