"""keelkv-check-rdb without a Redis server: the report's lines on hand-made RDB files.

Files are built byte by byte (spec rdb.md) so that every corrupt case has real corrupt
bytes; the expected lines are what redis-check-rdb 7.0.15 printed for the same bytes
(the interop tests compare with the real binary on real dumps).
"""

from __future__ import annotations

import io
import os
import pty
import re
import select
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from persistence.rdb import crc64
from persistence.tools import check_rdb
from persistence.tools.check_rdb import Progress, c_string, format_eta, redis_reason

ROOT = Path(__file__).resolve().parents[2]
HEADER = b"REDIS0010"


def rstr(s: bytes | str) -> bytes:
    """A raw RDB string (6- or 14-bit length)."""
    b = s.encode() if isinstance(s, str) else s
    if len(b) < 64:
        return bytes((len(b),)) + b
    assert len(b) < 16384
    return bytes((0x40 | len(b) >> 8, len(b) & 0xFF)) + b


def rdb(body: bytes, checksum: bool = True, header: bytes = HEADER) -> bytes:
    """header + body + EOF + CRC-64 trailer (zeros when `checksum` is off)."""
    data = header + body + b"\xff"
    return data + (struct.pack("<Q", crc64(data)) if checksum else bytes(8))


def run(tmp_path: Path, data: bytes, name: str = "dump.rdb") -> tuple[int, list[str]]:
    """Check `data` written to a file; returns (exit status, stdout lines)."""
    path = tmp_path / name
    path.write_bytes(data)
    out = io.BytesIO()
    status = check_rdb.check(str(path), out)
    return status, out.getvalue().decode("latin-1").splitlines()


def counters(keys: int, expires: int = 0, expired: int = 0) -> list[str]:
    return [
        f"[info] {keys} keys read",
        f"[info] {expires} expires",
        f"[info] {expired} already expired",
    ]


def test_good_file_report(tmp_path: Path) -> None:
    body = (
        b"\xfa" + rstr("redis-ver") + rstr("7.0.15")
        + b"\xfa" + rstr("redis-bits") + b"\xc0\x40"
        + b"\xfe\x00\xfb\x02\x01"
        + b"\x00" + rstr("a") + rstr("1")
        + b"\xfc" + struct.pack("<q", 4102444800000) + b"\x00" + rstr("b") + rstr("2")
        + b"\xfe\x03\xfb\x01\x01"
        + b"\xfc" + struct.pack("<q", 1000) + b"\x00" + rstr("c") + rstr("3")
    )  # fmt: skip
    data = rdb(body)
    status, lines = run(tmp_path, data)
    assert status == 0
    assert lines == [
        f"[offset 0] Checking RDB file {tmp_path / 'dump.rdb'}",
        "[offset 27] AUX FIELD redis-ver = '7.0.15'",
        "[offset 41] AUX FIELD redis-bits = '64'",
        "[offset 43] Selecting DB ID 0",
        "[offset 67] Selecting DB ID 3",
        f"[offset {len(data)}] Checksum OK",
        f"[offset {len(data)}] \\o/ RDB looks OK! \\o/",
        *counters(3, expires=2, expired=1),
    ]


def test_checksum_disabled_and_old_versions(tmp_path: Path) -> None:
    body = b"\x00" + rstr("k") + rstr("v")
    status, lines = run(tmp_path, rdb(body, checksum=False))
    assert status == 0
    assert lines[1] == "[offset 23] RDB file was saved with checksum disabled: no check performed."
    # Before version 5 there is no trailer and no checksum line; bytes after EOF are ignored.
    status, lines = run(tmp_path, b"REDIS0004" + body + b"\xff" + b"junk")
    assert status == 0
    assert lines[1:] == ["[offset 15] \\o/ RDB looks OK! \\o/", *counters(1)]


def test_crc_mismatch_is_an_error(tmp_path: Path) -> None:
    data = bytearray(rdb(b"\x00" + rstr("k") + rstr("v")))
    data[-1] ^= 0x01
    status, lines = run(tmp_path, bytes(data))
    assert status == 1
    assert lines[1] == "--- RDB ERROR DETECTED ---"
    assert lines[2] == f"[offset {len(data)}] RDB CRC error"  # after reading the trailer
    assert lines[3:] == ["[additional info] While doing: check-sum", *counters(1)]


def test_error_before_first_key_shows_type_zero(tmp_path: Path) -> None:
    """redis-check-rdb's key type starts zeroed, so early errors name type 0 (string)."""
    status, lines = run(tmp_path, HEADER + b"\xfe\x00")
    assert status == 1
    assert lines[1:] == [
        "[offset 11] Selecting DB ID 0",
        "--- RDB ERROR DETECTED ---",
        "[offset 11] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-type",
        "[additional info] Reading type 0 (string)",
        *counters(0),
    ]
    # After a complete key the type is -1 again: no "Reading type" line.
    status, lines = run(tmp_path, HEADER + b"\x00" + rstr("k") + rstr("v"))
    assert lines[1:] == [
        "--- RDB ERROR DETECTED ---",
        "[offset 14] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-type",
        *counters(1),
    ]


def test_truncated_value_names_key_and_type(tmp_path: Path) -> None:
    data = HEADER + b"\x00" + rstr("a") + rstr("1") + b"\x02" + rstr("s") + b"\x02" + rstr("x")
    status, lines = run(tmp_path, data)
    assert status == 1
    assert lines[2:] == [
        f"[offset {len(data)}] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 's'",
        "[additional info] Reading type 2 (set-hashtable)",
        *counters(2),  # the key being read counts, as in redis-check-rdb
    ]


def test_empty_collection_reads_as_unexpected_eof(tmp_path: Path) -> None:
    """rdbLoadObject's empty-key result is a NULL object, which redis-check-rdb reports
    as an EOF even though the file goes on."""
    data = rdb(b"\xfe\x00" + b"\x02" + rstr("k") + b"\x00" + b"\x00" + rstr("k2") + rstr("v"))
    status, lines = run(tmp_path, data)
    assert status == 1
    assert lines[1:] == [
        "[offset 11] Selecting DB ID 0",
        "--- RDB ERROR DETECTED ---",
        "[offset 15] Unexpected EOF reading RDB file",
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 'k'",
        "[additional info] Reading type 2 (set-hashtable)",
        *counters(1),
    ]


def test_expire_minus_one_is_no_expire(tmp_path: Path) -> None:
    """-1 is redis-check-rdb's "no expire" sentinel; FD seconds are scaled to ms."""
    body = (
        b"\xfc" + struct.pack("<q", -1) + b"\x00" + rstr("k1") + rstr("v")
        + b"\xfd" + struct.pack("<i", 5) + b"\x00" + rstr("k2") + rstr("v")
        + b"\xf8\x05\xf9\x07" + b"\x00" + rstr("k3") + rstr("v")
    )  # fmt: skip
    status, lines = run(tmp_path, rdb(body))
    assert status == 0
    assert lines[-3:] == counters(3, expires=1, expired=1)


def test_c_string_cuts_at_nul_and_long_messages(tmp_path: Path) -> None:
    body = b"\xfa" + rstr(b"a\x00b") + rstr(b"x\x00y") + b"\xfa" + rstr("k") + rstr(b"v" * 2000)
    status, lines = run(tmp_path, rdb(body))
    assert status == 0
    assert lines[1] == "[offset 18] AUX FIELD a = 'x'"
    prefix = "AUX FIELD k = '"
    assert lines[2] == f"[offset {18 + 1 + 2 + 2002}] {prefix}{'v' * (1023 - len(prefix))}"
    status, lines = run(tmp_path, HEADER + b"\x04" + rstr(b"k\x00z") + b"\x05")
    assert "[additional info] Reading key 'k'" in lines
    assert c_string(b"abc") == b"abc"


def test_header_errors(tmp_path: Path) -> None:
    """The 9 header bytes are read before they are checked: errors are at offset 9."""
    status, lines = run(tmp_path, b"REDIS0011" + b"\xff" + bytes(8))
    assert status == 1
    assert lines[2] == "[offset 9] Can't handle RDB format version 11"
    assert lines[3:] == [
        "[additional info] While doing: start",
        "[additional info] Reading type 0 (string)",
        *counters(0),
    ]
    status, lines = run(tmp_path, b"REDIX0010\xff")
    assert lines[2] == "[offset 9] Wrong signature trying to load DB from file"
    status, lines = run(tmp_path, b"")
    assert lines[2] == "[offset 0] Unexpected EOF reading RDB file"
    status, lines = run(tmp_path, b"REDIS00")  # the 9-byte read fails whole
    assert lines[2] == "[offset 0] Unexpected EOF reading RDB file"
    # The version is atoi() of the 4 bytes: a sign and leading blanks count.
    status, lines = run(tmp_path, b"REDIS-001\xff")
    assert lines[2] == "[offset 9] Can't handle RDB format version -1"
    status, lines = run(tmp_path, b"REDIS0x10\xff")
    assert lines[2] == "[offset 9] Can't handle RDB format version 0"
    status, lines = run(tmp_path, rdb(b"", header=b"REDIS 010"))
    assert status == 0


def test_unknown_type_and_opcode(tmp_path: Path) -> None:
    for byte in (20, 8, 0xF4):
        status, lines = run(tmp_path, rdb(b"\x00" + rstr("k") + rstr("v") + bytes((byte,))))
        assert status == 1
        assert lines[2] == f"[offset 15] Invalid object type: {byte}"  # after the type byte
        assert lines[3:] == ["[additional info] While doing: read-type", *counters(1)]


@pytest.mark.parametrize(
    ("body", "offset", "reason"),
    [
        # After the bad length byte (a length cannot start 10xxxxxx except 80 and 81).
        (b"\xfe\x00\x04" + rstr("k") + b"\x82", 15, "rdb.c:236 -> Unknown length encoding 2"),
        (b"\x00" + rstr("k") + b"\xc5", 13, "rdb.c:529 -> Unknown RDB string encoding type 5"),
        # After the element whose name repeats (the field's value is read first).
        (
            b"\x04" + rstr("k") + b"\x02" + rstr("f") + rstr("1") + rstr("f") + rstr("2") + b"\x00",
            21,
            "rdb.c:1951 -> Hash with dup elements",
        ),
        (b"\x02" + rstr("k") + b"\x02" + rstr("m") + rstr("m"), 17, "rdb.c:1829 -> Duplicate set"),
        # After the score that is NaN.
        (
            b"\x05" + rstr("k") + b"\x01" + rstr("m") + struct.pack("<d", float("nan")),
            23,
            "rdb.c:1882 -> Zset with NAN score detected",
        ),
        # After the whole blob: Redis validates what it has read.
        (
            b"\x0b" + rstr("k") + rstr(struct.pack("<IIhh", 2, 2, 5, 3)),
            25,
            "rdb.c:2214 -> Intset integrity check failed.",
        ),
        (b"\x00" + rstr("k") + b"\xc3\x02\x05\x00a", 17, "rdb.c:413 -> Invalid LZF compressed"),
        # A quicklist node's container is checked before the node is read.
        (b"\x12" + rstr("k") + b"\x01\x03\x20", 14, "rdb.c:2048 -> Quicklist integrity check"),
    ],
)
def test_corruption_offsets(tmp_path: Path, body: bytes, offset: int, reason: str) -> None:
    """Where redis-check-rdb 7.0.15 reported these (checked against the binary)."""
    status, lines = run(tmp_path, rdb(body))
    assert status == 1
    error = lines[lines.index("--- RDB ERROR DETECTED ---") + 1]
    assert error.startswith(f"[offset {offset}] Internal error in RDB reading offset 0,")
    assert reason in error


def test_function_library(tmp_path: Path) -> None:
    code = b"#!lua name=mylib\nredis.register_function('f', function() return 1 end)"
    status, lines = run(tmp_path, rdb(b"\xf5" + rstr(code)))
    assert status == 0
    assert lines[1:] == [
        "[offset 91] Checksum OK",
        "[offset 91] \\o/ RDB looks OK! \\o/",
        *counters(0),
    ]
    status, lines = run(tmp_path, HEADER + b"\xf5")
    assert status == 1
    assert lines[1:] == [
        "--- RDB ERROR DETECTED ---",
        "[offset 10] Failed loading library, Failed loading library payload",
        "[additional info] While doing: read-functions",
        "[additional info] Reading type 0 (string)",
        *counters(0),
    ]


def test_internal_error_wording() -> None:
    """rdb.c corruption reports carry "Internal error ... rdb.c:LINE ->" and no detail."""
    assert redis_reason("Intset integrity check failed. (empty intset)", 11) == (
        "Internal error in RDB reading offset 0, function at rdb.c:2214 -> "
        "Intset integrity check failed."
    )
    assert redis_reason("Listpack integrity check failed. (bad)", 16).endswith(
        "rdb.c:2301 -> Hash listpack integrity check failed."
    )
    assert redis_reason("Listpack integrity check failed. (bad)", 18).endswith(
        "rdb.c:2071 -> Listpack integrity check failed."
    )
    assert redis_reason("Unknown length encoding 2 in rdbLoadLen()", None).endswith(
        "rdb.c:236 -> Unknown length encoding 2 in rdbLoadLen()"
    )
    assert redis_reason("Invalid object type: 20", None) == "Invalid object type: 20"
    assert redis_reason("Duplicate hash fields detected", 9) == "Duplicate hash fields detected"


def test_corrupt_intset_report(tmp_path: Path) -> None:
    blob = struct.pack("<II", 4, 2) + struct.pack("<ii", 5, 3)  # not ascending
    status, lines = run(tmp_path, rdb(b"\x0b" + rstr("k") + rstr(blob)))
    assert status == 1
    assert lines[2].endswith(
        "Internal error in RDB reading offset 0, function at rdb.c:2214 -> "
        "Intset integrity check failed."
    )
    assert lines[3:9] == [
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 'k'",
        "[additional info] Reading type 11 (set-intset)",
        *counters(1),
    ]
    # rdbReportError's log line follows, on stdout too.
    assert re.fullmatch(
        r"\d+:C \d\d [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d\.\d{3} # "
        r"Terminating server after rdb file reading failure\.",
        lines[9],
    )
    assert len(lines) == 10


def test_type_names_are_redis_7_0_15s() -> None:
    assert check_rdb.redis_type_name(4) == "hash-hashtable"
    assert check_rdb.redis_type_name(6) == "module-value"
    assert check_rdb.redis_type_name(7) == ""
    assert check_rdb.redis_type_name(18) == "quicklist-v2"
    assert check_rdb.redis_type_name(19) == "unknown"


def test_progress_bar_throttled_and_finished() -> None:
    err = io.StringIO()
    bar = Progress(err, total=10 * 1024 * 1024)
    bar.update(1024 * 1024, 10)
    for i in range(1000):
        bar.update(i * 1000, 10)  # within 0.1 s of the first draw: not drawn
    assert err.getvalue().count("\r") == 1
    bar.finish(10 * 1024 * 1024, 5000)
    text = err.getvalue()
    assert text.endswith("\n")
    last = text.rstrip("\n").split("\r")[-1]
    assert last.startswith("100.0% 10.0/10.0 MB | 5000 keys | ")
    assert " MB/s | ETA 0:00" in last
    assert format_eta(3725) == "1:02:05"
    assert format_eta(65) == "1:05"


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "persistence.tools.check_rdb", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=60,
    )


def test_cli_usage_version_and_missing_file(tmp_path: Path) -> None:
    p = cli(cwd=tmp_path)
    assert p.returncode == 1 and p.stdout == b"" and p.stderr.startswith(b"Usage: ")
    p = cli("a.rdb", "b.rdb", cwd=tmp_path)
    assert p.returncode == 1 and p.stderr.startswith(b"Usage: ")
    p = cli("-v", cwd=tmp_path)
    assert p.returncode == 0 and p.stdout == b"keelkv-check-rdb 7.0.15\n"
    p = cli("missing.rdb", cwd=tmp_path)
    assert p.returncode == 1
    assert p.stdout == b"[offset 0] Checking RDB file missing.rdb\n"


def test_cli_progress_goes_to_stderr_only(tmp_path: Path) -> None:
    (tmp_path / "d.rdb").write_bytes(rdb(b"\x00" + rstr("k") + rstr("v")))
    plain = cli("d.rdb", cwd=tmp_path)  # stderr is a pipe: no bar by default
    assert plain.returncode == 0 and plain.stderr == b""
    shown = cli("--progress", "d.rdb", cwd=tmp_path)
    assert shown.returncode == 0
    assert shown.stdout == plain.stdout
    assert b"100.0%" in shown.stderr and b"1 keys" in shown.stderr


def test_cli_progress_by_default_on_a_terminal(tmp_path: Path) -> None:
    """stderr a TTY: the bar is drawn there; stdout (a pipe) carries only the report."""
    (tmp_path / "d.rdb").write_bytes(rdb(b"\x00" + rstr("k") + rstr("v")))
    parent, child = pty.openpty()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "persistence.tools.check_rdb", "d.rdb"],
            cwd=tmp_path,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdout=subprocess.PIPE,
            stderr=child,
            timeout=60,
        )
        os.close(child)
        child = -1
        shown = b""
        while select.select([parent], [], [], 0.5)[0]:
            try:
                chunk = os.read(parent, 4096)
            except OSError:
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if child >= 0:
            os.close(child)
        os.close(parent)
    assert p.returncode == 0
    assert b"100.0%" in shown and b"1 keys" in shown
    assert p.stdout == cli("d.rdb", cwd=tmp_path).stdout
    assert b"%" not in p.stdout


@pytest.mark.parametrize("cut", [1, 9, 12, 20])
def test_main_in_process_matches_cli(tmp_path: Path, cut: int, capsysbinary) -> None:  # type: ignore[no-untyped-def]
    data = rdb(b"\x00" + rstr("key") + rstr("value"))[:cut]
    (tmp_path / "t.rdb").write_bytes(data)
    status = check_rdb.main(["--no-progress", str(tmp_path / "t.rdb")])
    captured = capsysbinary.readouterr()
    p = cli("--no-progress", str(tmp_path / "t.rdb"), cwd=tmp_path)
    assert status == p.returncode == 1
    assert captured.out == p.stdout


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


def test_module_data_is_skipped(tmp_path: Path) -> None:
    """redis-check-rdb reads module data generically: MODULE AUX is reported after its
    header, a type-7 key counts as a key (lines as redis-check-rdb 7.0.15 printed them)."""
    body = (
        b"\xf7" + MODULE_ID + b"\x02\x02" + MODULE_VALUE
        + b"\xfe\x00" + b"\x07" + rstr("k") + MODULE_ID + MODULE_VALUE
    )  # fmt: skip
    data = rdb(body)
    status, lines = run(tmp_path, data)
    assert status == 0
    assert lines[1:] == [
        "[offset 21] MODULE AUX for: mymodtype",
        "[offset 38] Selecting DB ID 0",
        f"[offset {len(data)}] Checksum OK",
        f"[offset {len(data)}] \\o/ RDB looks OK! \\o/",
        *counters(1),
    ]


def test_module_data_errors(tmp_path: Path) -> None:
    status, lines = run(tmp_path, HEADER + b"\xf7" + MODULE_ID + b"\x02\x02" + b"\x04\x00\x00")
    assert status == 1
    assert lines[1:7] == [
        "[offset 21] MODULE AUX for: mymodtype",
        "--- RDB ERROR DETECTED ---",
        "[offset 22] Internal error in RDB reading offset 0, function at rdb.c:1559 -> "
        "Error reading double from module mymodtype value",
        "[additional info] While doing: read-module-aux",
        "[additional info] Reading type 0 (string)",
        *counters(0)[:1],
    ]
    status, lines = run(tmp_path, rdb(b"\xf7" + MODULE_ID + b"\x03\x02" + MODULE_VALUE))
    assert lines[1:4] == [
        "--- RDB ERROR DETECTED ---",
        "[offset 21] bad when_opcode",
        "[additional info] While doing: read-module-aux",
    ]
    # Type 6 (pre-GA module data) is not read generically: refused after the module id.
    status, lines = run(tmp_path, rdb(b"\x06" + rstr("k") + MODULE_ID + MODULE_VALUE))
    assert lines[1:7] == [
        "--- RDB ERROR DETECTED ---",
        "[offset 21] Internal error in RDB reading offset 0, function at rdb.c:2636 -> "
        "The RDB file contains module data I can't load: no matching module type 'mymodtype'",
        "[additional info] While doing: read-object-value",
        "[additional info] Reading key 'k'",
        "[additional info] Reading type 6 (module-value)",
        *counters(1)[:1],
    ]
    status, lines = run(tmp_path, HEADER + b"\x07" + rstr("k") + MODULE_ID[:4])
    assert lines[2] == (
        "[offset 13] Internal error in RDB reading offset 0, function at rdb.c:2622 -> "
        "Short read module id"
    )
