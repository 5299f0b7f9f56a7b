"""keelkv-check-aof: redis-check-aof 7.0.15's report on a multi-part AOF or a single file.

stdout carries exactly the lines redis-check-aof prints (same words, offsets, the
cumulative `ok_up_to_line`, exit status 0 or 1), so scripts written for one work with the
other. The checker is a faithful model of redis-check-aof.c on top of a C-stdio-like
reader, because its verdicts depend on C details: `fgets` line pieces (128 bytes for
"*"/"$" lines, 1024 for annotations), `strtol`, error texts cut at a NUL byte, "%02x" of a
signed char ("ffffff80"), a `line` counter and an error buffer shared by every file, an
end-of-file flag that a `fseek` clears, and error offsets printed as "0x%16llx". Even the
stale stack bytes "Expected \\r\\n, got: 00XX" shows past a line's NUL are modelled as
measured (a "*" line's buffer still holds the previous "*" line, a "$" line's reads as
zeros); only after an RDB preamble does Redis print bytes that vary from run to run.

Input type is sniffed like Redis: a file with a piece starting with "file" (not a "#"
comment) is a manifest, a file starting with "REDIS" (8 bytes or more) is an RDB-preamble
AOF, anything else an old-style RESP AOF. An RDB part is checked with keelkv's RdbDecoder
and reported with keelkv-check-rdb's lines, as redis-check-aof runs redis-check-rdb.

keelkv additions and deliberate differences (stdout stays Redis's):
* before `--fix` or `--truncate-to-timestamp` changes a file, a copy is written to
  `<file>.bak-<unixtime>` and fsynced; stderr says where. If the copy fails, nothing changes.
* `--yes` answers the `Continue? [y/N]:` question (stdout shows what a "y" answer shows).
* a progress bar on stderr with `--progress`, or when stderr is a terminal.
* a plain check opens the files read-only (Redis opens them "r+" and so fails on read-only
  files); absurd bulk lengths are reported as short reads where Redis would abort on OOM.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from typing import BinaryIO, Final, TextIO

from persistence.aof.manifest import Manifest, ManifestError, c_string
from persistence.rdb import Aux, EncodingLimits, End, KeyRecord, RdbDecoder, RdbError, SelectDb
from persistence.tools.check_rdb import (
    EOF_REASON,
    INTERNAL_PREFIX,
    READ_OBJECT_VALUE,
    Progress,
    Report,
    _report_checksum,
    _report_error,
    redis_reason,
)
from persistence.tools.check_rdb import c_string as rdb_c_string

PROG: Final = "keelkv-check-aof"
REDIS_VERSION: Final = "7.0.15"
USAGE: Final = (
    "Usage: %s [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n"
    "  keelkv options: --yes (answer the --fix question), --progress|--no-progress\n"
)

AOF_CHECK_OK: Final = 0
AOF_CHECK_EMPTY: Final = 1
AOF_CHECK_TRUNCATED: Final = 2
AOF_CHECK_TIMESTAMP_TRUNCATED: Final = 3

AOF_ANNOTATION_LINE_MAX_LEN: Final = 1024
READ_LONG_BUF: Final = 128
MANIFEST_MAX_LINE: Final = 1024
CHUNK: Final = 1 << 20
LONG_MAX: Final = (1 << 63) - 1
LONG_MIN: Final = -(1 << 63)
_STRTOL: Final = re.compile(rb"([ \t\n\v\f\r]*)([+-]?)([0-9]*)")


class Exit(Exception):
    """exit(status) from deep inside the check, as the C code does."""

    def __init__(self, status: int) -> None:
        super().__init__(status)
        self.status = status


def c_strtol(buf: bytes, start: int) -> tuple[int, int, bool]:
    """strtol(buf + start, &end, 10) on a C string: (value, end index, overflowed)."""
    text = c_string(buf)
    m = _STRTOL.match(text, start)
    assert m is not None
    if not m.group(3):
        return 0, start, False
    value = int(m.group(2) + m.group(3))
    if value > LONG_MAX:
        return LONG_MAX, m.end(), True
    if value < LONG_MIN:
        return LONG_MIN, m.end(), True
    return value, m.end(), False


def hex_char(b: int) -> bytes:
    """printf("%02x", (char)b) with a signed char: 0x80 and up print as ffffff80."""
    return b"%02x" % (b if b < 0x80 else b + 0xFFFFFF00)


def posix_dirname(path: str) -> str:
    """dirname(3): "." for a bare name, "/" for the root, trailing slashes ignored."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    head = stripped.rpartition("/")[0]
    if not stripped.count("/"):
        return "."
    head = head.rstrip("/")
    return head or "/"


class CFile:
    """The parts of a stdio FILE the checker relies on: fgets, fread, peek, EOF flag.

    Reads through a 1 MiB window, so memory stays bounded; a bulk longer than the window is
    skipped with a positioned read of the two bytes Redis inspects at its end.
    """

    def __init__(self, f: BinaryIO, size: int, start: int = 0) -> None:
        self.f = f
        self.fd = f.fileno()
        self.size = size
        self.buf = b""
        self.buf_start = start
        self.i = 0
        self.eof = False
        f.seek(start)

    def tell(self) -> int:
        return self.buf_start + self.i

    def _ensure(self, n: int) -> None:
        """Make buf[i:] hold n bytes, or everything up to the end of the file."""
        if len(self.buf) - self.i >= n:
            return
        rest = self.buf[self.i :]
        more = self.f.read(max(n - len(rest), CHUNK))
        self.buf_start += self.i
        self.buf = rest + more
        self.i = 0

    def peek1(self) -> int | None:
        """fgets(buf, 2) + fseek(-1): the next byte without consuming it; the fseek
        clears the EOF flag, a read at the end sets it."""
        self._ensure(1)
        if self.i >= len(self.buf):
            self.eof = True
            return None
        self.eof = False
        return self.buf[self.i]

    def fgets(self, size: int) -> bytes | None:
        """At most size-1 bytes, through the first "\\n"; None at the end of the file."""
        limit = size - 1
        self._ensure(limit)
        buf = self.buf
        i = self.i
        nl = buf.find(b"\n", i, i + limit)
        if nl >= 0:
            end = nl + 1
        else:
            end = min(i + limit, len(buf))
            if end - i < limit:
                self.eof = True
        if end == i:
            return None
        self.i = end
        return buf[i:end]

    def fread(self, n: int) -> tuple[int, bytes, bytes]:
        """fread of n bytes: (bytes read, their first 6, their last 2 when all were read)."""
        pos = self.tell()
        real = max(0, min(n, self.size - pos))
        if real < n:
            self.eof = True
        if real <= CHUNK:
            self._ensure(real)
            real = min(real, len(self.buf) - self.i)
            data = self.buf[self.i : self.i + real]
            self.i += real
            return real, data[:6], data[-2:] if real == n else b""
        self._ensure(6)
        head = self.buf[self.i : self.i + 6]
        tail = os.pread(self.fd, 2, pos + n - 2) if real == n else b""
        self.buf = b""
        self.buf_start = pos + real
        self.i = 0
        self.f.seek(self.buf_start)
        return real, head, tail


class Output:
    """stdout writer that first clears the progress bar when both share a terminal."""

    def __init__(self, out: BinaryIO, progress: AofProgress | None) -> None:
        self.out = out
        self.progress = progress
        self.clear_first = progress is not None and _isatty(out)

    def write(self, data: bytes) -> None:
        if self.clear_first and self.progress is not None:
            self.progress.clear()
        self.out.write(data)

    def line(self, text: str | bytes) -> None:
        data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogateescape")
        self.write(data + b"\n")

    def flush(self) -> None:
        self.out.flush()


class AofProgress(Progress):
    """check_rdb's bar, counting keys in an RDB part and commands in RESP parts."""

    label = "commands"


class Checker:
    """One run of redis-check-aof: its global state and its checks."""

    def __init__(
        self,
        out: Output,
        *,
        fix: bool = False,
        to_timestamp: int = 0,
        yes: bool = False,
        stdin: BinaryIO | None = None,
        err: TextIO | None = None,
        progress: AofProgress | None = None,
    ) -> None:
        self.out = out
        self.fix = fix
        self.to_timestamp = to_timestamp
        self.yes = yes
        self.stdin = stdin
        self.err = err if err is not None else sys.stderr
        self.progress = progress
        self.line = 1  # static long long line
        self.error = b""  # static char error[]
        self.epos = 0  # static off_t epos
        self.argc_buf = bytes(READ_LONG_BUF)  # readLong's buf[128] as readArgc leaves it
        self.done_before = 0  # progress: bytes of the files already checked
        self._pos = 0  # checkSingleAof's pos: end of the last record outside MULTI
        self.commands = 0

    # -- C helpers -----------------------------------------------------------------------

    def set_error(self, msg: bytes) -> None:
        """ERROR(...): "0x%16llx: %s" with the message cut at a NUL, as snprintf("%s")."""
        self.error = (b"0x%16x: " % self.epos + c_string(msg)[:1023])[:1043]

    def consume_newline(self, two: bytes) -> bool:
        if two[:2] != b"\r\n":
            two = (two + b"\0\0")[:2]
            self.set_error(b"Expected \\r\\n, got: " + hex_char(two[0]) + hex_char(two[1]))
            return False
        self.line += 1
        return True

    def read_long(self, s: CFile, prefix: int) -> int | None:
        self.epos = s.tell()
        buf = s.fgets(READ_LONG_BUF)
        if buf is None:
            return None
        if buf[0] != prefix:
            self.set_error(b"Expected prefix '%c', got: '%c'" % (prefix, buf[0]))
            return None
        value, end, _ = c_strtol(buf, 1)
        # eptr[0..1] as C sees them: the bytes read, fgets's NUL, then stale stack bytes.
        # Measured on redis-check-aof 7.0.15: for "*" lines the buffer still holds the
        # previous "*" line; for "$" lines it has been overwritten with zeros.
        if prefix == 0x2A:
            raw = buf + b"\0" + self.argc_buf[len(buf) + 1 :]
            self.argc_buf = raw
        else:
            raw = buf + b"\0\0"
        if not self.consume_newline(raw[end : end + 2]):
            return None
        return value

    def read_string(self, s: CFile) -> bytes | None:
        """readString: the first bytes of the argument (enough for MULTI/EXEC) or None."""
        length = self.read_long(s, 0x24)
        if length is None:
            return None
        if length < 0 or length > LONG_MAX - 2:
            self.set_error(
                b"Expected to read string of %d bytes, which is not in the suitable range" % length
            )
            return None
        length += 2
        self.epos = s.tell()
        real, head, tail = s.fread(length)
        if real != length:
            self.set_error(b"Expected to read %d bytes, got %d bytes" % (length, real))
            return None
        if not self.consume_newline(tail):
            return None
        return head[: length - 2]

    def process_resp(self, s: CFile, filepath: str, multi: list[int]) -> bool:
        fast = self._fast_resp(s, filepath, multi)
        if fast is not None:
            return fast
        argc = self.read_long(s, 0x2A)
        if argc is None:
            return False
        for i in range(argc):
            head = self.read_string(s)
            if head is None:
                return False
            if i == 0 and not self._multi_exec(head, filepath, multi):
                return False
        self.commands += 1
        return True

    def _multi_exec(self, head: bytes, filepath: str, multi: list[int]) -> bool:
        name = c_string(head).lower()
        if name == b"multi":
            multi[0] += 1
            if multi[0] > 1:
                self.set_error(b"Unexpected MULTI in AOF " + os.fsencode(filepath))
                return False
        elif name == b"exec":
            multi[0] -= 1
            if multi[0]:
                self.set_error(b"Unexpected EXEC in AOF " + os.fsencode(filepath))
                return False
        return True

    def _fast_resp(self, s: CFile, filepath: str, multi: list[int]) -> bool | None:
        """A canonical record wholly in the window, with the slow path's side effects and
        result; None (and nothing changed) when the slow path must decide."""
        buf = s.buf
        i = s.i
        size = len(buf)
        nl = buf.find(b"\n", i, i + 24)
        if nl < 0 or buf[nl - 1] != 0x0D:
            return None
        digits = buf[i + 1 : nl - 1]
        if not digits.isdigit() or len(digits) > 9:
            return None
        argc = int(digits)
        header = buf[i : nl + 1]  # the "*" line, for readArgc's buffer
        p = nl + 1
        head = b""
        last_start = 0
        for k in range(argc):
            if p >= size or buf[p] != 0x24:
                return None
            nl = buf.find(b"\n", p, p + 24)
            if nl < 0 or buf[nl - 1] != 0x0D:
                return None
            digits = buf[p + 1 : nl - 1]
            if not digits.isdigit() or len(digits) > 12:
                return None
            last_start = nl + 1
            end = last_start + int(digits)
            if end + 2 > size or buf[end : end + 2] != b"\r\n":
                return None
            if k == 0:
                head = buf[last_start:end][:6]
            p = end + 2
        if argc > 1 and c_string(head).lower() in (b"multi", b"exec"):
            return None  # a MULTI/EXEC error stops after the first argument: slow path
        self.argc_buf = header + b"\0" + self.argc_buf[len(header) + 1 :]
        if argc:
            self.epos = s.buf_start + last_start
            self.line += 1 + 2 * argc
            s.i = p
            if not self._multi_exec(head, filepath, multi):
                return False
        else:
            self.epos = s.buf_start + i
            self.line += 1
            s.i = p
        self.commands += 1
        return True

    # -- the checks ----------------------------------------------------------------------

    def process_annotations(self, s: CFile, filepath: str, last_file: bool) -> bool:
        self.epos = s.tell()
        buf = s.fgets(AOF_ANNOTATION_LINE_MAX_LEN)
        if buf is None:
            self.out.line(f"Failed to read annotations from AOF {filepath}, aborting...")
            raise Exit(1)
        if self.to_timestamp and buf.startswith(b"#TS:"):
            ts, end, overflow = c_strtol(buf, 4)
            cbuf = c_string(buf) + b"\0"
            if overflow or cbuf[end] != 0x0D:
                self.out.line("Invalid timestamp annotation")
                raise Exit(1)
            if ts <= self.to_timestamp:
                return True
            t = self.to_timestamp
            if self.epos == 0:
                self.out.line(f"AOF {filepath} has nothing before timestamp {t}, aborting...")
                raise Exit(1)
            if not last_file:
                self.out.line(
                    f"Failed to truncate AOF {filepath} to timestamp {t} to offset "
                    f"{self.epos} because it is not the last file."
                )
                self.out.line(
                    "If you insist, please delete all files after this file according to the "
                    "manifest file and delete the corresponding records in manifest file "
                    "manually. Then re-run redis-check-aof."
                )
                raise Exit(1)
            if not self.truncate(filepath, self.epos):
                self.out.line(f"Failed to truncate AOF {filepath} to timestamp {t}")
                raise Exit(1)
            return False
        return True

    def check_single_aof(self, name: str, filepath: str, last_file: bool, preamble: bool) -> int:
        """checkSingleAof: one file; returns an AOF_CHECK_* status or raises Exit."""
        writable = self.fix or bool(self.to_timestamp)
        try:
            f = open(filepath, "r+b" if writable else "rb")  # noqa: SIM115
        except OSError as e:
            self.out.line(f"Cannot open file {filepath}: {os.strerror(e.errno or 0)}, aborting...")
            raise Exit(1) from None
        with f:
            size = os.fstat(f.fileno()).st_size
            if size == 0:
                return AOF_CHECK_EMPTY
            start = 0
            if preamble:
                ok, start = self.check_rdb_preamble(f, name)
                if not ok:
                    self.out.line("RDB preamble of AOF file is not sane, aborting.")
                    raise Exit(1)
                self.out.line("RDB preamble is OK, proceeding with AOF tail...")
            s = CFile(f, size, start)
            status = self._scan(s, name, filepath, last_file)
            if status is not None:
                return status
            return self._verdict(s, name, filepath, last_file, size)

    def _scan(self, s: CFile, name: str, filepath: str, last_file: bool) -> int | None:
        multi = [0]
        progress = self.progress
        if progress is not None:
            progress.label = "commands"
        self._pos = 0
        tick = 0
        while True:
            if not multi[0]:
                self._pos = s.tell()
            c = s.peek1()
            if c is None:
                break
            if c == 0x23:
                if not self.process_annotations(s, filepath, last_file):
                    return AOF_CHECK_TIMESTAMP_TRUNCATED
            elif c == 0x2A:
                if not self.process_resp(s, filepath, multi):
                    break
            else:
                self.out.line(f"AOF {name} format error")
                break
            tick += 1
            if progress is not None and tick & 1023 == 0:
                progress.update(self.done_before + s.tell(), self.commands)
        if s.eof and multi[0] and not self.error:
            self.set_error(b"Reached EOF before reading EXEC for MULTI")
        return None

    def _verdict(self, s: CFile, name: str, filepath: str, last_file: bool, size: int) -> int:
        pos = self._pos
        if self.error:
            self.out.line(self.error)
        diff = size - pos
        if diff == 0 and self.to_timestamp:
            self.out.line(f"Truncate nothing in AOF {name} to timestamp {self.to_timestamp}")
            return AOF_CHECK_OK
        self.out.line(
            f"AOF analyzed: filename={name}, size={size}, ok_up_to={pos}, "
            f"ok_up_to_line={self.line}, diff={diff}"
        )
        if diff <= 0:
            return AOF_CHECK_OK
        if not self.fix:
            self.out.line(f"AOF {name} is not valid. Use the --fix option to try fixing it.")
            raise Exit(1)
        if not last_file:
            self.out.line(f"Failed to truncate AOF {name} because it is not the last file")
            raise Exit(1)
        self.out.line(
            f"This will shrink the AOF {name} from {size} bytes, with {diff} bytes, to {pos} bytes"
        )
        self.out.write(b"Continue? [y/N]: ")
        self.out.flush()
        if not self.confirmed():
            self.out.line("Aborting...")
            raise Exit(1)
        if not self.truncate(filepath, pos):
            self.out.line(f"Failed to truncate AOF {name}")
            raise Exit(1)
        return AOF_CHECK_TRUNCATED

    def confirmed(self) -> bool:
        if self.yes:
            self.err.write(f"{PROG}: --yes given, continuing\n")
            return True
        stdin = self.stdin if self.stdin is not None else sys.stdin.buffer
        answer = stdin.readline()
        return answer[:1] in (b"y", b"Y")

    def truncate(self, filepath: str, length: int) -> bool:
        """Back the file up (fsynced), then cut it to `length`; False if either failed."""
        try:
            backup = write_backup(filepath)
        except OSError as e:
            self.err.write(f"{PROG}: cannot write a backup of {filepath}, nothing changed: {e}\n")
            return False
        self.err.write(f"{PROG}: backup of {filepath} written to {backup}\n")
        try:
            with open(filepath, "r+b") as f:
                f.truncate(length)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            self.err.write(f"{PROG}: {e}\n")
            return False
        return True

    def check_rdb_preamble(self, f: BinaryIO, name: str) -> tuple[bool, int]:
        """redis_check_rdb_main on the open file: the report lines; (ok, end offset).
        Corruption inside rdb.c ends the run at once (exit 1), as in Redis."""
        report = Report(self.out.out, self.out.progress.clear if self.out.clear_first else None)
        report.info(0, b"Checking RDB file " + os.fsencode(name))
        progress = self.progress
        if progress is not None:
            progress.label = "keys"
        dec = RdbDecoder(EncodingLimits(), check_crc=True)
        now_ms = int(time.time() * 1000)
        last_type = 0  # redis-check-rdb's key_type: 0 until the first key is read
        f.seek(0)
        try:
            while True:
                chunk = f.read(256 * 1024)
                if not chunk:
                    dec.close()
                    break
                dec.feed(chunk)
                while (ev := dec.next_event()) is not None:
                    if isinstance(ev, KeyRecord):
                        report.keys += 1
                        if ev.value is None:
                            report.error(
                                dec.offset,
                                EOF_REASON.encode(),
                                READ_OBJECT_VALUE,
                                ev.key,
                                ev.type_id,
                            )
                            return False, dec.offset
                        last_type = -1
                        expire = ev.expire_ms
                        if expire is not None and expire != -1:
                            report.expires += 1
                            if expire < now_ms:
                                report.already_expired += 1
                    elif isinstance(ev, Aux):
                        report.info(
                            dec.offset,
                            b"AUX FIELD %s = '%s'" % (rdb_c_string(ev.key), rdb_c_string(ev.value)),
                        )
                    elif isinstance(ev, SelectDb):
                        report.info(dec.offset, b"Selecting DB ID %d" % ev.db)
                    elif isinstance(ev, End):
                        _report_checksum(dec, ev, report)
                        report.info(dec.offset, b"\\o/ RDB looks OK! \\o/")
                        report.counters()
                        return True, dec.offset
                if progress is not None:
                    progress.update(self.done_before + dec.offset, report.keys)
        except RdbError as e:
            _report_error(e, report, last_type)
            if redis_reason(e.reason, e.type_id).startswith(INTERNAL_PREFIX):
                raise Exit(1) from None  # rdbReportError exits inside rdb.c
            return False, dec.offset
        return False, dec.offset  # pragma: no cover - close() raises without End

    # -- drivers -------------------------------------------------------------------------

    def check_multi_part(self, dirpath: str, manifest_path: str) -> None:
        self.out.line("Start checking Multi Part AOF")
        try:
            with open(manifest_path, "rb") as f:
                am = Manifest.parse(f.read())
        except OSError as e:
            self.log(
                f"Fatal error: can't open the AOF manifest file {manifest_path} for reading: "
                f"{os.strerror(e.errno or 0)}"
            )
            raise Exit(1) from None
        except ManifestError as e:
            for msg in e.log_messages():
                self.log(msg)
            raise Exit(1) from None
        files = ([am.base] if am.base else []) + am.incrs
        self.set_total([make_path(dirpath, i.name) for i in files])
        total = len(files)
        num = 0
        if am.base is not None:
            name = am.base.name
            path = make_path(dirpath, name)
            num += 1
            preamble = file_is_rdb(path, self.out)
            self.out.line(f"Start to check BASE AOF ({'RDB' if preamble else 'RESP'} format).")
            ret = self.check_single_aof(name, path, num == total, preamble)
            self.report_status("BASE AOF", name, ret)
            self.file_done(path)
        if am.incrs:
            self.out.line("Start to check INCR files.")
            for info in am.incrs:
                path = make_path(dirpath, info.name)
                num += 1
                ret = self.check_single_aof(info.name, path, num == total, False)
                self.report_status("INCR AOF", info.name, ret)
                self.file_done(path)
        self.out.line("All AOF files and manifest are valid")

    def check_old_style(self, filepath: str, preamble: bool) -> None:
        self.out.line("Start checking Old-Style AOF")
        self.set_total([filepath])
        ret = self.check_single_aof(filepath, filepath, True, preamble)
        self.report_status("AOF", filepath, ret)

    def report_status(self, what: str, name: str, ret: int) -> None:
        if ret == AOF_CHECK_OK:
            self.out.line(f"{what} {name} is valid")
        elif ret == AOF_CHECK_EMPTY:
            self.out.line(f"{what} {name} is empty")
        elif ret == AOF_CHECK_TIMESTAMP_TRUNCATED:
            self.out.line(f"Successfully truncated AOF {name} to timestamp {self.to_timestamp}")
        elif ret == AOF_CHECK_TRUNCATED:
            self.out.line(f"Successfully truncated AOF {name}")

    def log(self, msg: str) -> None:
        """serverLog as redis-check-aof prints it: "pid:C date # msg"."""
        self.out.line(log_prefix() + msg)

    def set_total(self, paths: list[str]) -> None:
        if self.progress is None:
            return
        total = 0
        for p in paths:
            try:
                total += os.path.getsize(p)
            except OSError:
                pass
        self.progress.total = total

    def file_done(self, path: str) -> None:
        if self.progress is None:
            return
        try:
            self.done_before += os.path.getsize(path)
        except OSError:
            pass

    def run(self, filepath: str) -> int:
        dirpath = posix_dirname(filepath)
        kind = input_file_type(filepath, self.out)
        if kind == "manifest":
            self.check_multi_part(dirpath, filepath)
        else:
            self.check_old_style(filepath, kind == "rdb")
        return 0


def log_prefix() -> str:
    now = time.time()
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
    return f"{os.getpid()}:C {stamp}.{int(now * 1000) % 1000:03d} # "


def make_path(dirpath: str, name: str) -> str:
    """makePath: "%s/%s"."""
    return f"{dirpath}/{name}"


def write_backup(filepath: str) -> str:
    """Copy `filepath` to `<file>.bak-<unixtime>` (never over an existing file), fsync the
    copy and its directory; returns the backup's path."""
    base = f"{filepath}.bak-{int(time.time())}"
    backup = base
    n = 0
    while True:
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            n += 1
            backup = f"{base}.{n}"
    try:
        with open(filepath, "rb") as src, os.fdopen(fd, "wb") as dst:
            shutil.copyfileobj(src, dst, CHUNK)
            dst.flush()
            os.fsync(dst.fileno())
    except BaseException:
        os.unlink(backup)
        raise
    dfd = os.open(os.path.dirname(os.path.abspath(backup)), os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)
    return backup


# -- input sniffing ----------------------------------------------------------------------


def _open_for_sniff(filepath: str, out: Output) -> BinaryIO:
    try:
        f = open(filepath, "rb")  # noqa: SIM115
    except IsADirectoryError:
        out.line(f"Cannot read file: {filepath}")
        raise Exit(1) from None
    except OSError as e:
        out.line(f"Cannot open file {filepath}: {os.strerror(e.errno or 0)}")
        raise Exit(1) from None
    return f


def file_is_manifest(filepath: str, out: Output) -> bool:
    """fileIsManifest: some fgets(buf, 1025) piece (not a "#" comment) starts with "file".

    Pieces start at each line start and every 1024 bytes into a long line, so an
    occurrence of "file" at offset p counts when (p - start of its line) % 1024 == 0.
    Searching for "file" keeps this fast on big RESP files.
    """
    with _open_for_sniff(filepath, out) as f:
        return _has_piece_starting(f, b"file", MANIFEST_MAX_LINE)


def _has_piece_starting(f: BinaryIO, word: bytes, limit: int) -> bool:
    last_nl = -1  # offset of the last "\n" before `base`
    base = 0  # file offset of the next block
    tail = b""  # the previous block's last len(word)-1 bytes
    while block := f.read(CHUNK):
        data = tail + block
        start = base - len(tail)
        i = data.find(word)
        while i >= 0:
            nl = data.rfind(b"\n", 0, i)
            line_start = start + nl + 1 if nl >= 0 else last_nl + 1
            if (start + i - line_start) % limit == 0:
                return True
            i = data.find(word, i + 1)
        nl = block.rfind(b"\n")
        if nl >= 0:
            last_nl = base + nl
        base += len(block)
        tail = data[-(len(word) - 1) :]
    return False


def file_is_rdb(filepath: str, out: Output) -> bool:
    """fileIsRDB: at least 8 bytes starting "REDIS" (a directory reads as not RDB)."""
    if os.path.isdir(filepath):
        return False
    with _open_for_sniff(filepath, out) as f:
        size = os.fstat(f.fileno()).st_size
        return size >= 8 and f.read(5) == b"REDIS"


def input_file_type(filepath: str, out: Output) -> str:
    """getInputFileType: "manifest", "rdb" or "resp"."""
    if file_is_manifest(filepath, out):
        return "manifest"
    if file_is_rdb(filepath, out):
        return "rdb"
    return "resp"


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def parse_args(args: list[str]) -> tuple[bool, int, str, bool, bool | None] | None:
    """Redis's positional rules after keelkv's own flags are taken out:
    (fix, to_timestamp, file, yes, show_progress) or None for usage."""
    yes = False
    show: bool | None = None
    rest: list[str] = []
    for a in args:
        if a == "--yes":
            yes = True
        elif a == "--progress":
            show = True
        elif a == "--no-progress":
            show = False
        else:
            rest.append(a)
    if len(rest) == 1:
        return False, 0, rest[0], yes, show
    if len(rest) == 2 and rest[0] == "--fix":
        return True, 0, rest[1], yes, show
    if len(rest) == 3 and rest[0] == "--truncate-to-timestamp":
        raw = rest[1].encode()
        value, end, overflow = c_strtol(raw, 0)
        if overflow or end != len(raw) or b"\0" in raw:
            raise ValueError("Invalid timestamp, aborting...")
        return False, value, rest[2], yes, show
    return None


def main(
    argv: list[str] | None = None,
    stdout: BinaryIO | None = None,
    stdin: BinaryIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Entry point: `keelkv-check-aof [--fix|--truncate-to-timestamp T] <file>`."""
    args = list(sys.argv[1:] if argv is None else argv)
    out_stream = stdout if stdout is not None else sys.stdout.buffer
    err = stderr if stderr is not None else sys.stderr
    if args in (["-v"], ["--version"]):
        out_stream.write(f"{PROG} {REDIS_VERSION}\n".encode())
        return 0
    try:
        parsed = parse_args(args)
    except ValueError as e:
        out_stream.write(f"{e}\n".encode())
        out_stream.flush()
        return 1
    if parsed is None:
        out_stream.write((USAGE % PROG).encode())
        out_stream.flush()
        return 1
    fix, to_timestamp, filepath, yes, show = parsed
    if show is None:
        show = _isatty(err)
    progress = AofProgress(err, 0) if show else None
    out = Output(out_stream, progress)
    checker = Checker(
        out, fix=fix, to_timestamp=to_timestamp, yes=yes, stdin=stdin, err=err, progress=progress
    )
    try:
        status = checker.run(filepath)
    except Exit as e:
        status = e.status
    except BrokenPipeError:
        return 1
    finally:
        if progress is not None:
            progress.finish(max(progress.total, checker.done_before), checker.commands)
        try:
            out.flush()
        except BrokenPipeError:
            pass
    return status


if __name__ == "__main__":
    sys.exit(main())
