"""keelkv-check-aof without a Redis server: reports on literal AOF files.

Every expected report below is what redis-check-aof 7.0.15 printed for the same bytes
(run by hand on this machine; the interop tests compare with the binary on files a real
redis-server wrote). The RDB base is a real 121-byte base a redis-server 7.0.15 wrote
(keys "a" and a 3-element list "l").
"""

from __future__ import annotations

import io
import os
import random
import re
import subprocess
from pathlib import Path

import pytest

from persistence.aof.manifest import fgets_pieces
from persistence.tools import check_aof
from persistence.tools.check_aof import (
    CFile,
    c_strtol,
    hex_char,
    posix_dirname,
)

RDB_BASE = bytes.fromhex(
    "524544495330303130fa0972656469732d76657206372e302e3135fa0a72656469732d62697473c040fa05"
    "6374696d65c2f61c076bfa08757365642d6d656dc2f0b70e00fa08616f662d62617365c001fe00fb020000"
    "0161c00112016c010210100000000300817802817902817a02ffffaa8c1f7a06a99b4d"
)
RDB_LINES = """\
[offset 0] Checking RDB file {name}
[offset 27] AUX FIELD redis-ver = '7.0.15'
[offset 41] AUX FIELD redis-bits = '64'
[offset 53] AUX FIELD ctime = '1795628278'
[offset 68] AUX FIELD used-mem = '964592'
[offset 80] AUX FIELD aof-base = '1'
[offset 82] Selecting DB ID 0
[offset 121] Checksum OK
[offset 121] \\o/ RDB looks OK! \\o/
[info] 2 keys read
[info] 0 expires
[info] 0 already expired
RDB preamble is OK, proceeding with AOF tail...
"""
BASE = (
    b"#TS:1795505786\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n"
)
INCR = (
    b"#TS:1795505786\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$2\r\nk4\r\n$2\r\nv4\r\n"
    b"#TS:1795505791\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$2\r\nk5\r\n$2\r\nv5\r\n"
    b"*1\r\n$4\r\nEXEC\r\n#TS:1795505793\r\n*3\r\n$3\r\nSET\r\n$2\r\nk6\r\n$2\r\nv6\r\n"
)
INCR2 = (
    b"#TS:1795505795\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nz\r\n$1\r\n9\r\n"
)
MANIFEST = (
    b"file appendonly.aof.2.base.aof seq 2 type b\n"
    b"file appendonly.aof.1.incr.aof seq 1 type h\n"
    b"file appendonly.aof.3.incr.aof seq 3 type i\n"
    b"file appendonly.aof.4.incr.aof seq 4 type i\n"
)
BINARY = os.environ.get("KEELKV_CHECK_AOF_BINARY")
KEELKV_ONLY = not BINARY
LOG = re.compile(r"^\d+:C \d\d \w{3} \d{4} \d\d:\d\d:\d\d\.\d{3} # ", re.M)


def run(cwd: Path, *args: str, answer: bytes = b"", progress: bool = False) -> tuple[int, str, str]:
    """keelkv-check-aof in-process: (status, stdout with log prefixes masked, stderr).

    With KEELKV_CHECK_AOF_BINARY=redis-check-aof the same expectations run against the real
    tool (keelkv-only flags dropped, --yes answered "y"): that is how they were checked.
    Assertions on keelkv-only behaviour (backups, stderr) are guarded by KEELKV_ONLY.
    """
    if BINARY:
        if "--yes" in args:
            answer = b"y\n"
        argv = [BINARY, *(a for a in args if a not in ("--yes", "--progress"))]
        p = subprocess.run(argv, cwd=cwd, input=answer, capture_output=True)
        text = p.stdout.decode().replace("redis-check-aof [", "keelkv-check-aof [")
        return p.returncode, LOG.sub("LOG ", text), ""
    out = io.BytesIO()
    err = io.StringIO()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        extra = ["--progress"] if progress else ["--no-progress"]
        rc = check_aof.main([*extra, *args], stdout=out, stdin=io.BytesIO(answer), stderr=err)
    finally:
        os.chdir(old)
    return rc, LOG.sub("LOG ", out.getvalue().decode()), err.getvalue()


def make_dir(tmp_path: Path, **override: bytes) -> Path:
    files = {
        "appendonly.aof.manifest": MANIFEST,
        "appendonly.aof.2.base.aof": BASE,
        "appendonly.aof.3.incr.aof": INCR,
        "appendonly.aof.4.incr.aof": INCR2,
    }
    files.update({k.replace("_", "."): v for k, v in override.items()})
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    return tmp_path


GOOD = """\
Start checking Multi Part AOF
Start to check BASE AOF (RESP format).
AOF analyzed: filename=appendonly.aof.2.base.aof, size=66, ok_up_to=66, ok_up_to_line=13, diff=0
BASE AOF appendonly.aof.2.base.aof is valid
Start to check INCR files.
AOF analyzed: filename=appendonly.aof.3.incr.aof, size=187, ok_up_to=187, ok_up_to_line=45, diff=0
INCR AOF appendonly.aof.3.incr.aof is valid
AOF analyzed: filename=appendonly.aof.4.incr.aof, size=66, ok_up_to=66, ok_up_to_line=57, diff=0
INCR AOF appendonly.aof.4.incr.aof is valid
All AOF files and manifest are valid
"""


def test_good_directory(tmp_path: Path) -> None:
    d = make_dir(tmp_path)
    assert run(d, "appendonly.aof.manifest") == (0, GOOD, "")


def test_truncated_last_incr_then_fix_with_backup(tmp_path: Path) -> None:
    d = make_dir(tmp_path, appendonly_aof_4_incr_aof=INCR2[:-3])
    head = GOOD.split("AOF analyzed: filename=appendonly.aof.4")[0]
    rc, out, _ = run(d, "appendonly.aof.manifest")
    assert rc == 1
    assert out == head + (
        "0x              3f: Expected to read 3 bytes, got 0 bytes\n"
        "AOF analyzed: filename=appendonly.aof.4.incr.aof, size=63, ok_up_to=39, "
        "ok_up_to_line=56, diff=24\n"
        "AOF appendonly.aof.4.incr.aof is not valid. Use the --fix option to try fixing it.\n"
    )
    # answering no changes nothing and writes no backup
    rc, out, _ = run(d, "--fix", "appendonly.aof.manifest", answer=b"n\n")
    assert rc == 1 and out.endswith("Continue? [y/N]: Aborting...\n")
    assert (d / "appendonly.aof.4.incr.aof").read_bytes() == INCR2[:-3]
    assert not [p for p in d.iterdir() if ".bak-" in p.name]
    rc, out, err = run(d, "--fix", "appendonly.aof.manifest", answer=b"y\n")
    assert rc == 0
    assert out.endswith(
        "This will shrink the AOF appendonly.aof.4.incr.aof from 63 bytes, with 24 bytes, "
        "to 39 bytes\nContinue? [y/N]: Successfully truncated AOF appendonly.aof.4.incr.aof\n"
        "All AOF files and manifest are valid\n"
    )
    assert (d / "appendonly.aof.4.incr.aof").read_bytes() == INCR2[:39]
    if KEELKV_ONLY:
        backups = [p for p in d.iterdir() if ".bak-" in p.name]
        assert len(backups) == 1
        assert backups[0].name.startswith("appendonly.aof.4.incr.aof.bak-")
        assert backups[0].read_bytes() == INCR2[:-3]
        assert f"backup of ./appendonly.aof.4.incr.aof written to ./{backups[0].name}" in err
    assert run(d, "appendonly.aof.manifest")[0] == 0


def test_fix_yes_skips_the_question(tmp_path: Path) -> None:
    d = make_dir(tmp_path, appendonly_aof_4_incr_aof=INCR2 + b"*2\r\n$3\r\nGET")
    rc, out, err = run(d, "--fix", "--yes", "appendonly.aof.manifest")
    assert rc == 0
    assert "Continue? [y/N]: Successfully truncated AOF appendonly.aof.4.incr.aof\n" in out
    assert "--yes given" in err or not KEELKV_ONLY
    assert (d / "appendonly.aof.4.incr.aof").read_bytes() == INCR2


def test_garbage_in_base_is_not_fixable(tmp_path: Path) -> None:
    d = make_dir(tmp_path, appendonly_aof_2_base_aof=BASE[:39] + b"garbage\n" + BASE[39:])
    expected = (
        "Start checking Multi Part AOF\n"
        "Start to check BASE AOF (RESP format).\n"
        "AOF appendonly.aof.2.base.aof format error\n"
        "AOF analyzed: filename=appendonly.aof.2.base.aof, size=74, ok_up_to=39, "
        "ok_up_to_line=6, diff=35\n"
    )
    rc, out, _ = run(d, "appendonly.aof.manifest")
    assert (rc, out) == (
        1,
        expected
        + "AOF appendonly.aof.2.base.aof is not valid. Use the --fix option to try fixing it.\n",
    )
    rc, out, _ = run(d, "--fix", "--yes", "appendonly.aof.manifest")
    assert (rc, out) == (
        1,
        expected
        + "Failed to truncate AOF appendonly.aof.2.base.aof because it is not the last file\n",
    )
    assert not [p for p in d.iterdir() if ".bak-" in p.name]


@pytest.mark.parametrize(
    ("data", "report"),
    [
        (
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n",
            "0x              27: Reached EOF before reading EXEC for MULTI\n"
            "AOF analyzed: filename=t.aof, size=42, ok_up_to=0, ok_up_to_line=11, diff=42\n",
        ),
        (
            b"#TS:5\r\n*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n#TS:6\r\n",
            "0x              31: Reached EOF before reading EXEC for MULTI\n"
            "AOF analyzed: filename=t.aof, size=56, ok_up_to=7, ok_up_to_line=11, diff=49\n",
        ),
        (
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n$5\r\nMULTI\r\n",
            "0x              32: Unexpected MULTI in AOF t.aof\n"
            "AOF analyzed: filename=t.aof, size=57, ok_up_to=0, ok_up_to_line=14, diff=57\n",
        ),
        (
            b"*1\r\n$4\r\nEXEC\r\n",
            "0x               8: Unexpected EXEC in AOF t.aof\n"
            "AOF analyzed: filename=t.aof, size=14, ok_up_to=0, ok_up_to_line=4, diff=14\n",
        ),
        (
            b"*1\r\n$5\r\nMULTI\r\n*3\r\n",
            "0x              13: Reached EOF before reading EXEC for MULTI\n"
            "AOF analyzed: filename=t.aof, size=19, ok_up_to=0, ok_up_to_line=5, diff=19\n",
        ),
        (
            b"*1\r\n$\x80\r\n",
            "0x               4: Expected \\r\\n, got: ffffff800d\n"
            "AOF analyzed: filename=t.aof, size=8, ok_up_to=0, ok_up_to_line=2, diff=8\n",
        ),
        (
            b"*1\r\n$2\r\nab\x00\x90",
            "0x               8: Expected \\r\\n, got: 00ffffff90\n"
            "AOF analyzed: filename=t.aof, size=12, ok_up_to=0, ok_up_to_line=3, diff=12\n",
        ),
        (
            b"*1\r\n\x00\r\n",  # the message is cut at the NUL byte, as snprintf("%s") does
            "0x               4: Expected prefix '$', got: '\n"
            "AOF analyzed: filename=t.aof, size=7, ok_up_to=0, ok_up_to_line=2, diff=7\n",
        ),
        (
            # readArgc's stack buffer still holds the previous "*1\r\n": eptr[1] is '\n'
            b"*1\r\n$1\r\na\r\n*1",
            "0x               b: Expected \\r\\n, got: 000a\n"
            "AOF analyzed: filename=t.aof, size=13, ok_up_to=11, ok_up_to_line=4, diff=2\n",
        ),
        (
            b"*1\r\n$1\r\na\r\n*",
            "0x               b: Expected \\r\\n, got: 000d\n"
            "AOF analyzed: filename=t.aof, size=12, ok_up_to=11, ok_up_to_line=4, diff=1\n",
        ),
        (
            b"*2\r\n$1\r\na\r\n$",  # "$" lines: the buffer reads as zeros
            "0x               b: Expected \\r\\n, got: 0000\n"
            "AOF analyzed: filename=t.aof, size=12, ok_up_to=0, ok_up_to_line=4, diff=12\n",
        ),
        (
            b"*1\r\n$12345\r\nabcde\r\n",
            "0x               c: Expected to read 12347 bytes, got 7 bytes\n"
            "AOF analyzed: filename=t.aof, size=19, ok_up_to=0, ok_up_to_line=3, diff=19\n",
        ),
        (
            b"*1\r\n$-1\r\n",
            "0x               4: Expected to read string of -1 bytes, which is not in the "
            "suitable range\n"
            "AOF analyzed: filename=t.aof, size=9, ok_up_to=0, ok_up_to_line=3, diff=9\n",
        ),
        (
            b"*2\r\n$1\r\nk",
            "0x               8: Expected to read 3 bytes, got 1 bytes\n"
            "AOF analyzed: filename=t.aof, size=9, ok_up_to=0, ok_up_to_line=3, diff=9\n",
        ),
        (
            b"*2\r\n$1\r\nk\r\n",  # EOF where a "$" line should be: no error text at all
            "AOF analyzed: filename=t.aof, size=11, ok_up_to=0, ok_up_to_line=4, diff=11\n",
        ),
        (
            b"*1\r\n$4\r\nPING\r\n\r\n",
            "AOF t.aof format error\n"
            "AOF analyzed: filename=t.aof, size=16, ok_up_to=14, ok_up_to_line=4, diff=2\n",
        ),
    ],
)
def test_old_style_reports(tmp_path: Path, data: bytes, report: str) -> None:
    (tmp_path / "t.aof").write_bytes(data)
    rc, out, _ = run(tmp_path, "t.aof")
    assert rc == 1
    assert out == (
        "Start checking Old-Style AOF\n"
        + report
        + "AOF t.aof is not valid. Use the --fix option to try fixing it.\n"
    )


def test_valid_old_style_and_empty(tmp_path: Path) -> None:
    (tmp_path / "t.aof").write_bytes(INCR)
    assert run(tmp_path, "t.aof") == (
        0,
        "Start checking Old-Style AOF\n"
        "AOF analyzed: filename=t.aof, size=187, ok_up_to=187, ok_up_to_line=33, diff=0\n"
        "AOF t.aof is valid\n",
        "",
    )
    (tmp_path / "e.aof").write_bytes(b"")
    assert run(tmp_path, "e.aof")[:2] == (0, "Start checking Old-Style AOF\nAOF e.aof is empty\n")


def test_rdb_preamble_old_style(tmp_path: Path) -> None:
    (tmp_path / "p.aof").write_bytes(RDB_BASE + INCR2)
    rc, out, _ = run(tmp_path, "p.aof")
    assert rc == 0
    assert out == (
        "Start checking Old-Style AOF\n"
        + RDB_LINES.format(name="p.aof")
        + "AOF analyzed: filename=p.aof, size=187, ok_up_to=187, ok_up_to_line=13, diff=0\n"
        "AOF p.aof is valid\n"
    )
    (tmp_path / "g.aof").write_bytes(RDB_BASE + b"garbage")
    rc, out, _ = run(tmp_path, "g.aof")
    assert rc == 1
    assert out.endswith(
        "RDB preamble is OK, proceeding with AOF tail...\n"
        "AOF g.aof format error\n"
        "AOF analyzed: filename=g.aof, size=128, ok_up_to=121, ok_up_to_line=1, diff=7\n"
        "AOF g.aof is not valid. Use the --fix option to try fixing it.\n"
    )


def test_rdb_base_in_a_directory(tmp_path: Path) -> None:
    (tmp_path / "appendonly.aof.2.base.rdb").write_bytes(RDB_BASE)
    (tmp_path / "appendonly.aof.2.incr.aof").write_bytes(INCR2)
    (tmp_path / "appendonly.aof.manifest").write_bytes(
        b"file appendonly.aof.2.base.rdb seq 2 type b\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
    )
    rc, out, _ = run(tmp_path, "appendonly.aof.manifest")
    assert rc == 0
    assert out == (
        "Start checking Multi Part AOF\n"
        "Start to check BASE AOF (RDB format).\n"
        + RDB_LINES.format(name="appendonly.aof.2.base.rdb")
        + "AOF analyzed: filename=appendonly.aof.2.base.rdb, size=121, ok_up_to=121, "
        "ok_up_to_line=1, diff=0\n"
        "BASE AOF appendonly.aof.2.base.rdb is valid\n"
        "Start to check INCR files.\n"
        "AOF analyzed: filename=appendonly.aof.2.incr.aof, size=66, ok_up_to=66, "
        "ok_up_to_line=13, diff=0\n"
        "INCR AOF appendonly.aof.2.incr.aof is valid\n"
        "All AOF files and manifest are valid\n"
    )


def test_truncated_rdb_base_is_not_sane(tmp_path: Path) -> None:
    (tmp_path / "appendonly.aof.1.base.rdb").write_bytes(RDB_BASE[:90])
    (tmp_path / "m.manifest").write_bytes(b"file appendonly.aof.1.base.rdb seq 1 type b\n")
    rc, out, _ = run(tmp_path, "m.manifest")
    assert rc == 1
    assert out.endswith(
        "[offset 82] Selecting DB ID 0\n"
        "--- RDB ERROR DETECTED ---\n"
        "[offset 90] Unexpected EOF reading RDB file\n"
        "[additional info] While doing: read-type\n"
        "[info] 1 keys read\n"
        "[info] 0 expires\n"
        "[info] 0 already expired\n"
        "RDB preamble of AOF file is not sane, aborting.\n"
    )


def test_corrupt_rdb_base_stops_at_the_internal_error(tmp_path: Path) -> None:
    bad = bytearray(RDB_BASE)
    bad[100] ^= 0xFF  # inside the list's listpack
    (tmp_path / "appendonly.aof.1.base.rdb").write_bytes(bytes(bad))
    (tmp_path / "m.manifest").write_bytes(b"file appendonly.aof.1.base.rdb seq 1 type b\n")
    rc, out, _ = run(tmp_path, "m.manifest")
    assert rc == 1
    assert "function at rdb.c:2071 -> Listpack integrity check failed.\n" in out
    assert out.endswith("LOG Terminating server after rdb file reading failure.\n")
    assert "not sane" not in out


@pytest.mark.parametrize(
    ("t", "lines", "status", "incr3", "incr4"),
    [
        (
            "1795505791",
            [
                "Truncate nothing in AOF appendonly.aof.2.base.aof to timestamp 1795505791",
                "BASE AOF appendonly.aof.2.base.aof is valid",
                "Start to check INCR files.",
                "Failed to truncate AOF ./appendonly.aof.3.incr.aof to timestamp 1795505791 to "
                "offset 142 because it is not the last file.",
                "If you insist, please delete all files after this file according to the manifest "
                "file and delete the corresponding records in manifest file manually. Then re-run "
                "redis-check-aof.",
            ],
            1,
            INCR,
            INCR2,
        ),
        (
            "1795505794",
            [
                "Truncate nothing in AOF appendonly.aof.2.base.aof to timestamp 1795505794",
                "BASE AOF appendonly.aof.2.base.aof is valid",
                "Start to check INCR files.",
                "Truncate nothing in AOF appendonly.aof.3.incr.aof to timestamp 1795505794",
                "INCR AOF appendonly.aof.3.incr.aof is valid",
                "AOF ./appendonly.aof.4.incr.aof has nothing before timestamp 1795505794, "
                "aborting...",
            ],
            1,
            INCR,
            INCR2,
        ),
        (
            "1795505795",
            [
                "Truncate nothing in AOF appendonly.aof.2.base.aof to timestamp 1795505795",
                "BASE AOF appendonly.aof.2.base.aof is valid",
                "Start to check INCR files.",
                "Truncate nothing in AOF appendonly.aof.3.incr.aof to timestamp 1795505795",
                "INCR AOF appendonly.aof.3.incr.aof is valid",
                "Truncate nothing in AOF appendonly.aof.4.incr.aof to timestamp 1795505795",
                "INCR AOF appendonly.aof.4.incr.aof is valid",
                "All AOF files and manifest are valid",
            ],
            0,
            INCR,
            INCR2,
        ),
    ],
)
def test_truncate_to_timestamp_across_files(
    tmp_path: Path, t: str, lines: list[str], status: int, incr3: bytes, incr4: bytes
) -> None:
    d = make_dir(tmp_path)
    rc, out, _ = run(d, "--truncate-to-timestamp", t, "appendonly.aof.manifest")
    assert (rc, out) == (
        status,
        "Start checking Multi Part AOF\nStart to check BASE AOF (RESP format).\n"
        + "".join(line + "\n" for line in lines),
    )
    assert (d / "appendonly.aof.3.incr.aof").read_bytes() == incr3
    assert (d / "appendonly.aof.4.incr.aof").read_bytes() == incr4


def test_truncate_to_timestamp_in_last_file(tmp_path: Path) -> None:
    (tmp_path / "t.aof").write_bytes(INCR)
    rc, out, err = run(tmp_path, "--truncate-to-timestamp", "1795505791", "t.aof")
    assert (rc, out) == (
        0,
        "Start checking Old-Style AOF\nSuccessfully truncated AOF t.aof to timestamp 1795505791\n",
    )
    assert (tmp_path / "t.aof").read_bytes() == INCR[:142]  # ends after SET k5 ... EXEC
    if KEELKV_ONLY:
        assert "backup of t.aof written to t.aof.bak-" in err
        (backup,) = [p for p in tmp_path.iterdir() if ".bak-" in p.name]
        assert backup.read_bytes() == INCR


def test_invalid_timestamps(tmp_path: Path) -> None:
    (tmp_path / "t.aof").write_bytes(b"#TS:12x\r\n")
    assert run(tmp_path, "--truncate-to-timestamp", "5", "t.aof")[:2] == (
        1,
        "Start checking Old-Style AOF\nInvalid timestamp annotation\n",
    )
    (tmp_path / "u.aof").write_bytes(b"#TS:12\n")  # strtol must stop at '\r'
    assert run(tmp_path, "--truncate-to-timestamp", "5", "u.aof")[1].endswith(
        "Invalid timestamp annotation\n"
    )
    assert run(tmp_path, "--truncate-to-timestamp", "5x", "t.aof")[:2] == (
        1,
        "Invalid timestamp, aborting...\n",
    )
    # timestamp 0 is "no truncation", as in Redis: a plain check
    assert run(tmp_path, "--truncate-to-timestamp", "0", "u.aof")[0] == 0


def test_usage_and_missing_files(tmp_path: Path) -> None:
    rc, out, _ = run(tmp_path)
    assert rc == 1 and out.startswith(
        "Usage: keelkv-check-aof [--fix|--truncate-to-timestamp $timestamp] "
        "<file.manifest|file.aof>\n"
    )
    assert run(tmp_path, "--fix")[0] == 1
    assert run(tmp_path, "--bogus", "x")[0] == 1
    assert run(tmp_path, "nope.aof")[:2] == (
        1,
        "Cannot open file nope.aof: No such file or directory\n",
    )
    assert run(tmp_path, ".")[:2] == (1, "Cannot read file: .\n")
    (tmp_path / "m.manifest").write_bytes(b"file gone.aof seq 1 type i\n")
    assert run(tmp_path, "m.manifest")[:2] == (
        1,
        "Start checking Multi Part AOF\nStart to check INCR files.\n"
        "Cannot open file ./gone.aof: No such file or directory, aborting...\n",
    )


def test_manifest_errors_are_logged_like_redis(tmp_path: Path) -> None:
    (tmp_path / "m.manifest").write_bytes(
        b"file a.1.base.rdb seq 1 type b\nfile a.1.base.rdb seq 2 type b\n"
    )
    assert run(tmp_path, "m.manifest")[:2] == (
        1,
        "Start checking Multi Part AOF\n"
        "LOG \n*** FATAL AOF MANIFEST FILE ERROR ***\n\n"
        "LOG Reading the manifest file, at line 2\n\n"
        "LOG >>> 'file a.1.base.rdb seq 2 type b'\n\n"
        "LOG Found duplicate base file information\n\n",
    )
    (tmp_path / "n.manifest").write_bytes(b"file x seq 1 type b")
    assert run(tmp_path, "n.manifest")[:2] == (
        1,
        "Start checking Multi Part AOF\n"
        "LOG \n*** FATAL AOF MANIFEST FILE ERROR ***\n\n"
        "LOG The AOF manifest file contains too long line\n\n",
    )


def test_sniffing_like_redis(tmp_path: Path) -> None:
    # a RESP file with a line starting "file" is taken for a manifest, as in Redis
    (tmp_path / "r.aof").write_bytes(b"*2\r\n$3\r\nGET\r\n$4\r\nfile\r\n")
    out = run(tmp_path, "r.aof")[1]
    assert out.startswith("Start checking Multi Part AOF\n")
    # a comment-only file is not a manifest
    (tmp_path / "c.manifest").write_bytes(b"# only comment\n")
    assert run(tmp_path, "c.manifest")[:2] == (
        0,
        "Start checking Old-Style AOF\n"
        "AOF analyzed: filename=c.manifest, size=15, ok_up_to=15, ok_up_to_line=1, diff=0\n"
        "AOF c.manifest is valid\n",
    )


def reference_is_manifest(data: bytes) -> bool:
    return any(p.startswith(b"file") for p in fgets_pieces(data, 1025))


@pytest.mark.parametrize("chunk", [5, 7, 1024, 1 << 20])
def test_manifest_sniffing_matches_fgets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, chunk: int
) -> None:
    monkeypatch.setattr(check_aof, "CHUNK", chunk)
    cases = [
        b"file a seq 1 type b\n",
        b"# file\n",
        b"xfile\n",
        b"ab\n" + b"x" * 1024 + b"file\n",  # a piece starts 1024 bytes into the line
        b"ab\n" + b"x" * 1023 + b"file\n",
        b"ab\n" + b"x" * 2048 + b"file",
        b"#" + b"c" * 1023 + b"file\n",  # the tail of a long comment is not a comment
        b"*2\r\n$3\r\nGET\r\n$4\r\nfile\r\n",
        b"fil",
        b"",
        b"\nfile",
        b"y" * 3000 + b"\n" + b"z" * 1030 + b"file",
    ]
    rnd = random.Random(7)
    for _ in range(200):
        cases.append(bytes(rnd.choice(b"file\nx#") for _ in range(rnd.randrange(1, 3000))))
    out = check_aof.Output(io.BytesIO(), None)
    for n, data in enumerate(cases):
        (tmp_path / f"f{n}").write_bytes(data)
        assert check_aof.file_is_manifest(str(tmp_path / f"f{n}"), out) == reference_is_manifest(
            data
        ), data[:80]


def test_c_helpers() -> None:
    assert c_strtol(b"*12\r\n", 1) == (12, 3, False)
    assert c_strtol(b"$ -7x", 1) == (-7, 4, False)
    assert c_strtol(b"$\r\n", 1) == (0, 1, False)
    assert c_strtol(b"$99999999999999999999\r\n", 1)[0::2] == ((1 << 63) - 1, True)
    assert c_strtol(b"$1\x002", 1) == (1, 2, False)
    assert hex_char(0x0D) == b"0d" and hex_char(0x80) == b"ffffff80"
    assert [posix_dirname(p) for p in ("a", "a/b", "/b", "a/", "/", "a//b/", "")] == [
        ".",
        "a",
        "/",
        ".",
        "/",
        "a",
        ".",
    ]


def test_cfile_big_bulk_is_skipped_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(check_aof, "CHUNK", 64)
    body = b"MULTIX" + b"v" * 1000
    data = b"*1\r\n$%d\r\n%s\r\n" % (len(body), body)
    (tmp_path / "t.aof").write_bytes(data)
    with open(tmp_path / "t.aof", "rb") as f:
        s = CFile(f, len(data))
        assert s.fgets(128) == b"*1\r\n"
        assert s.fgets(128) == b"$1006\r\n"
        real, head, tail = s.fread(1008)
        assert (real, head, tail) == (1008, b"MULTIX", b"\r\n")
        assert s.tell() == len(data) and len(s.buf) <= 64 and not s.eof
        assert s.peek1() is None and s.eof
    (tmp_path / "t.aof").write_bytes(data * 2)
    assert run(tmp_path, "t.aof")[0] == 0


def test_progress_goes_to_stderr_only(tmp_path: Path) -> None:
    d = make_dir(tmp_path)
    rc, out, err = run(d, "appendonly.aof.manifest", progress=True)
    assert (rc, out) == (0, GOOD)
    assert not KEELKV_ONLY or ("100.0%" in err and "MB" in err)
