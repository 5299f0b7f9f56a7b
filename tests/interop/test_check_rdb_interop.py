"""keelkv-check-rdb against redis-check-rdb 7.0.15 on dumps written by a real redis-server.

A real server SAVEs a dump with strings (raw, int, LZF), lists, hashes, sets and zsets in
their compact and plain encodings, three DBs, live and already-expired TTLs. Corrupt
variants are cut or patched from that file; both tools check each one and their stdout
and exit status must be byte-equal, error offsets included: the offset is how many bytes
Redis's rio reader had consumed when it failed (the start of a read that hit EOF; just
after a bad byte, element, blob or CRC trailer; 9 after a bad header).

A smaller dump is then cut at every byte, and patched at every byte, to compare the error
offsets of every read the two readers make.
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import re
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from persistence.tools.check_rdb import check
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


def value_at(d: bytes, name: str) -> int:
    """Offset of the first byte of key `name`'s value."""
    return key_at(d, name) + len(rstr(name))


NAN = struct.pack("<d", float("nan"))


def module_id(name: str) -> int:
    """moduleTypeEncodeId with encoding version 3."""
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = 0
    for ch in name:
        value = (value << 6) | charset.index(ch)
    return (value << 10) | 3


MODULE_ID = b"\x81" + struct.pack(">Q", module_id("mymodtype"))
# Module data: uint 5, string "x", double 2.5, EOF opcode.
MODULE_VALUE = b"\x02\x05" + b"\x05" + rstr("x") + b"\x04" + struct.pack("<d", 2.5) + b"\x00"


def with_module_aux(d: Dump, when_opcode: int = 2) -> bytes:
    """A MODULE_AUX record (as a module's aux_save writes) before DB 0; CRC off."""
    at = d.boundaries["db:0"] - 2
    record = b"\xf7" + MODULE_ID + bytes((when_opcode,)) + b"\x02" + MODULE_VALUE
    return d.data[:at] + record + d.data[at:-8] + bytes(8)


def with_module_key(d: Dump, type_id: int) -> bytes:
    """A module-typed key before s:plain; CRC off."""
    at = key_at(d.data, "s:plain") - 1
    record = bytes((type_id,)) + rstr("mod:k") + MODULE_ID + MODULE_VALUE
    return d.data[:at] + record + d.data[at:-8] + bytes(8)


# name -> the variant, built from the dump. Comments say where redis-check-rdb reports.
VARIANTS: dict[str, Callable[[Dump], bytes]] = {
    "good": lambda d: d.data,
    "checksum-zero": lambda d: d.data[:-8] + bytes(8),
    "version-9-header": lambda d: b"REDIS0009" + d.data[9:-8] + bytes(8),
    # Truncation: at the start of the read that ran out.
    "cut-empty": lambda d: b"",
    "cut-mid-magic": lambda d: d.data[:5],  # 0: the 9-byte header is one read
    "cut-after-header": lambda d: d.data[:9],
    "cut-after-aux-key": lambda d: d.data[:20],
    "cut-mid-aux-value": lambda d: d.data[:24],
    "cut-after-aux": lambda d: d.data[: d.boundaries["db:0"] - 2],
    "cut-after-selectdb": lambda d: d.data[: d.boundaries["db:0"]],
    "cut-before-key-type": lambda d: d.data[: key_at(d.data, "h:large") - 1],
    "cut-after-key-length": lambda d: d.data[: key_at(d.data, "h:large") + 1],
    "cut-mid-key-name": lambda d: d.data[: key_at(d.data, "h:large") + 3],
    "cut-mid-14bit-length": lambda d: d.data[: value_at(d.data, "h:large") + 1],
    "cut-mid-hash-value": lambda d: d.data[: key_at(d.data, "h:large") + 500],
    "cut-mid-raw-string": lambda d: d.data[: key_at(d.data, "s:raw") + 1000],
    "cut-mid-int-string": lambda d: d.data[: value_at(d.data, "s:int") + 2],
    "cut-mid-lzf": lambda d: d.data[: value_at(d.data, "s:lzf") + 6],
    "cut-mid-quicklist": lambda d: d.data[: key_at(d.data, "l:large") + 4000],
    "cut-mid-expire": lambda d: d.data[: key_at(d.data, "s:future") - 5],
    "cut-before-db3": lambda d: d.data[: d.boundaries["db:3"] - 2],
    "cut-before-eof": lambda d: d.data[:-9],
    "cut-after-eof": lambda d: d.data[:-8],
    "cut-mid-crc": lambda d: d.data[:-3],  # the trailer's start
    # CRC: after reading the trailer.
    "flip-in-string-value": lambda d: flip(d.data, key_at(d.data, "s:plain") + 12),
    "bad-crc-trailer": lambda d: flip(d.data, len(d.data) - 1),
    # Header: after the 9 bytes; the version is atoi() of 4 bytes.
    "version-11-header": lambda d: b"REDIS0011" + d.data[9:],
    "version-minus-1-header": lambda d: b"REDIS-001" + d.data[9:],
    "wrong-signature": lambda d: b"RADIS" + d.data[5:],
    # Bad type or opcode: after the byte.
    "type-20": lambda d: put(d.data, key_at(d.data, "s:plain") - 1, 20),
    "type-8": lambda d: put(d.data, key_at(d.data, "s:int") - 1, 8),
    "opcode-f4": lambda d: put(d.data, key_at(d.data, "s:plain") - 1, 0xF4),
    "opcode-f0-before-db": lambda d: put(d.data, d.boundaries["db:0"] - 2, 0xF0),
    # Bad length or string encoding: after the byte.
    "bad-length-encoding": lambda d: put(d.data, value_at(d.data, "h:large"), 0x82),
    "bad-string-encoding": lambda d: put(d.data, value_at(d.data, "s:plain"), 0xC5),
    # Corrupt blobs and LZF: after the blob.
    "bad-lzf-length": lambda d: put(d.data, value_at(d.data, "s:lzf") + 3, 0xC9),
    "flip-listpack-end": lambda d: put(d.data, h_small_listpack_end(d.data), 0xFE),
    "dup-hash-listpack": lambda d: put(d.data, value_at(d.data, "h:small") + 17, ord("1")),
    "bad-zset-listpack-count": lambda d: put(d.data, value_at(d.data, "z:small") + 5, 7),
    "bad-intset-encoding": lambda d: put(d.data, value_at(d.data, "set:int") + 1, 3),
    "bad-quicklist-listpack": lambda d: put(d.data, value_at(d.data, "l:small") + 3, 0x16),
    # A quicklist node's container: after it, before the node.
    "bad-quicklist-container": lambda d: put(d.data, value_at(d.data, "l:small") + 1, 3),
    # Plain collections: after the element found bad.
    # Members come in Redis's hash order: the second is made a copy of the first.
    "dup-set-member": lambda d: put(
        d.data, value_at(d.data, "set:str") + 4, d.data[value_at(d.data, "set:str") + 2]
    ),
    "dup-zset-member": lambda d: put(d.data, key_at(d.data, "m7") + 2, ord("8")),
    "nan-zset-score": lambda d: d.data.replace(
        rstr("m7") + struct.pack("<d", 3.5), rstr("m7") + NAN
    ),
    # Module data is read generically and skipped (type 6 is refused after its id).
    "module-aux": with_module_aux,
    "module-aux-bad-when-opcode": lambda d: with_module_aux(d, when_opcode=3),
    "module-aux-cut-in-double": lambda d: with_module_aux(d)[: d.boundaries["db:0"] - 2 + 21],
    "module-2-key": lambda d: with_module_key(d, 7),
    "module-pre-ga-key": lambda d: with_module_key(d, 6),
}

ERROR_LINE = re.compile(rb"--- RDB ERROR DETECTED ---\n\[offset (\d+)\] (.*)\n")
# rdbReportError's serverLog line (on stdout): pid and local time differ between runs.
LOG_PREFIX = re.compile(rb"(?m)^\d+:C \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} # ")


def normalize(report: bytes) -> bytes:
    return LOG_PREFIX.sub(b"<pid>:C <time> # ", report)


def check_pair(dump: Dump, tmp_path: Path, name: str) -> tuple[Result, Result]:
    path = tmp_path / f"{name}.rdb"
    data = VARIANTS[name](dump)
    assert name == "good" or data != dump.data, "the patch changed nothing"
    path.write_bytes(data)
    return run_keelkv(path), run_redis(path)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_report_matches_redis_check_rdb(dump: Dump, tmp_path: Path, name: str) -> None:
    ours, theirs = check_pair(dump, tmp_path, name)
    assert ours.status == theirs.status, (ours.stdout, theirs.stdout)
    assert normalize(ours.stdout) == normalize(theirs.stdout)
    if name not in ("good", "checksum-zero", "version-9-header", "module-aux", "module-2-key"):
        assert ERROR_LINE.search(theirs.stdout), theirs.stdout  # the variant is an error


def fill_small(node: ServerProcess) -> None:
    """One small key per encoding and read kind, in two DBs (a dump of about 500 bytes)."""
    r0 = node.client(db=0)
    r0.set("s", "v")
    r0.set("i8", "7")
    r0.set("i16", "1234")
    r0.set("i32", "123456789")
    r0.set("lzf", "ab" * 40)
    r0.set("long", bytes(range(33, 103)), pxat=FUTURE_MS)  # 14-bit length, no LZF gain
    r0.function_load("#!lua name=lib\nredis.register_function('f', function() return 1 end)")
    r0.rpush("list", "a", "1", "bb")
    r0.hset("hlp", mapping={"f": "v", "n": "12"})
    r0.hset("hplain", mapping={"f": "v" * 70, "g": "w"})  # a value > 64 bytes: hashtable
    r0.sadd("sint", 1, 300, -70000)
    r0.sadd("sstr", "a", "b")
    r0.zadd("zlp", {"a": 1, "b": 2.5})
    r0.zadd("zsl", {"m" * 70: 1, "n": -2})  # a member > 64 bytes: skiplist
    r2 = node.client(db=2)
    r2.set("k", "v")


def keelkv_report(path: Path) -> bytes:
    """keelkv-check-rdb's stdout, in-process (thousands of files in a few seconds)."""
    out = io.BytesIO()
    with contextlib.redirect_stderr(io.StringIO()):
        check(path.name, out)
    return out.getvalue()


def test_error_offset_matches_redis_check_rdb(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every cut and every one-bit flip of a small dump: the same error offset.

    Cut anywhere, the reports are byte-equal. Flipped, the two readers may disagree on
    what is wrong (keelkv refuses some bytes Redis reads on, see the decoder), but when
    they give the same error reason they give it at the same offset.
    """
    data = save_dump(tmp_path_factory.mktemp("redis-small"), fill_small)
    assert 400 < len(data) < 2000
    work = tmp_path_factory.mktemp("small")
    monkeypatch.chdir(work)
    path = work / "x.rdb"
    for cut in range(len(data) + 1):
        path.write_bytes(data[:cut])
        ours, theirs = normalize(keelkv_report(path)), normalize(run_redis(path).stdout)
        assert ours == theirs, (cut, ours, theirs)
    same_reason = 0
    unchecked = data[:-8] + bytes(8)  # no CRC, so that the structure errors show
    for pos in range(9, len(data) - 8):
        for mask in (0x01, 0x40):  # a low bit; a length's 6-bit/14-bit type bit
            path.write_bytes(flip(unchecked, pos, mask))
            ours, theirs = normalize(keelkv_report(path)), normalize(run_redis(path).stdout)
            m_ours, m_theirs = ERROR_LINE.search(ours), ERROR_LINE.search(theirs)
            if m_ours and m_theirs and m_ours[2] == m_theirs[2]:
                same_reason += 1
                assert m_ours[1] == m_theirs[1], (pos, mask, ours, theirs)
    assert same_reason > 100


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
