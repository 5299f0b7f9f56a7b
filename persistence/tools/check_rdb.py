"""keelkv-check-rdb: redis-check-rdb 7.0.15's report on an RDB file, from keelkv's decoder.

stdout carries exactly the lines redis-check-rdb prints (same words, offsets and [info]
counters, exit status 0 or 1) so that scripts and people reading either tool's output need
not tell them apart. The optional progress bar goes to stderr only, never into the report.

Quirks of redis-check-rdb kept on purpose (each one checked against the real binary):
* "Reading type 0 (string)" appears in errors met before the first key was fully read,
  because the C state's key type starts zeroed rather than at -1.
* An expire of exactly -1 ms counts as "no expire" (-1 is the C sentinel).
* AUX fields and key names are printed as C strings: cut at the first NUL byte; every
  message is cut to 1023 bytes (a 1024-byte vsnprintf buffer).
* An empty collection is reported as "Unexpected EOF reading RDB file" while reading its
  value: redis-check-rdb treats rdbLoadObject's empty-key result as a read failure.
* Corruption detected inside rdb.c reads "Internal error in RDB reading offset 0, function
  at rdb.c:LINE -> reason" (INTERNAL_ERRORS holds the lines) and is followed by the
  serverLog line "PID:C date # Terminating server after rdb file reading failure.", which
  Redis writes to stdout as well.
* Module data is read generically and skipped (the decoder's check mode): a MODULE_AUX
  record prints "MODULE AUX for: <module type>", a type-7 key counts as a key. Cut just
  before one of its opcodes, redis-check-rdb loops forever; keelkv reports an EOF.

Offsets come from the decoder (RdbError.offset: how many bytes Redis's rio had consumed
when it failed; RdbDecoder.offset after each record); detail the decoder adds to a
reason that Redis does not print goes to stderr.
"""

from __future__ import annotations

import io
import os
import sys
import time
from collections.abc import Callable
from typing import BinaryIO, Final, TextIO

from persistence.rdb import (
    Aux,
    EncodingLimits,
    End,
    KeyRecord,
    ModuleAux,
    RdbDecoder,
    RdbError,
    SelectDb,
)

PROG: Final = "keelkv-check-rdb"
REDIS_VERSION: Final = "7.0.15"
CHUNK_SIZE: Final = 256 * 1024
MSG_MAX: Final = 1023  # redis-check-rdb formats messages into char msg[1024]
EOF_REASON: Final = "Unexpected EOF reading RDB file"
READ_KEY: Final = "read-key"
READ_OBJECT_VALUE: Final = "read-object-value"
READ_FUNCTIONS: Final = "read-functions"

# rdb_type_string of redis-check-rdb 7.0.15, for "Reading type N (name)": 6 is called
# "module-value", 7 and 8 have empty names, and the table ends before 19 (stream-v2),
# so 19 and up print "unknown" (checked with `strings` on the binary and crafted files).
REDIS_TYPE_NAMES: Final = (
    "string",
    "list-linked",
    "set-hashtable",
    "zset-v1",
    "hash-hashtable",
    "zset-v2",
    "module-value",
    "",
    "",
    "hash-zipmap",
    "list-ziplist",
    "set-intset",
    "zset-ziplist",
    "hash-ziplist",
    "quicklist",
    "stream",
    "hash-listpack",
    "zset-listpack",
    "quicklist-v2",
)


# How rdbLoadObject words each corruption, and the rdb.c line that redis-check-rdb 7.0.15
# (Debian 7.0.15-1~deb12u10 build, measured with crafted files) names in its report:
# "Internal error in RDB reading offset 0, function at rdb.c:LINE -> REASON".
# Keys are the decoder's reason up to any " (detail)"; a type id picks the call site where
# Redis words it per type; None matches any type.
# A type-6 module value (type 7 is read generically): the decoder's reason names the key
# first, Redis's starts here.
MODULE_DATA_REASON: Final = "The RDB file contains module data I can't load"
INTERNAL_ERRORS: Final[dict[str, dict[int | None, tuple[str | None, int]]]] = {
    "Unknown length encoding": {None: (None, 236)},
    "Invalid LZF compressed string": {None: (None, 413)},
    "Unknown RDB string encoding type": {None: (None, 529)},
    # Sets: 1809 while the set is still an intset (all members integers), 1829 once a
    # hashtable; the decoder does not say which, the hashtable case is the common one.
    "Duplicate set members detected": {None: (None, 1829)},
    "Zset with NAN score detected": {None: (None, 1882)},
    "Duplicate zset fields detected": {
        17: ("Zset listpack integrity check failed.", 2255),
        12: ("Zset ziplist integrity check failed.", 2229),
        None: (None, 1894),
    },
    # Plain hashes: "Hash with dup elements" (1951) while still a listpack (<= 512 fields
    # of <= 64 bytes so far), "Duplicate hash fields detected" (2019) once a hashtable.
    "Duplicate hash fields detected": {
        4: ("Hash with dup elements", 1951),
        16: ("Hash listpack integrity check failed.", 2301),
        13: ("Hash ziplist integrity check failed.", 2275),
    },
    "Quicklist integrity check failed.": {None: (None, 2048)},
    "Listpack integrity check failed.": {
        16: ("Hash listpack integrity check failed.", 2301),
        17: ("Zset listpack integrity check failed.", 2255),
        None: (None, 2071),
    },
    "Ziplist integrity check failed.": {
        10: ("List ziplist integrity check failed.", 2189),
        12: ("Zset ziplist integrity check failed.", 2229),
        13: ("Hash ziplist integrity check failed.", 2275),
        None: (None, 2081),
    },
    "Zipmap integrity check failed.": {None: (None, 2130)},
    "Intset integrity check failed.": {None: (None, 2214)},
    "Zset ziplist integrity check failed.": {None: (None, 2229)},
    "Zset listpack integrity check failed.": {None: (None, 2255)},
    "Hash ziplist integrity check failed.": {None: (None, 2275)},
    "Hash listpack integrity check failed.": {None: (None, 2301)},
    # Module data, which redis-check-rdb reads generically (rdbLoadCheckModuleValue).
    "Error reading integer from module": {None: (None, 1540)},
    "Error reading string from module": {None: (None, 1546)},
    "Error reading float from module": {None: (None, 1553)},
    "Error reading double from module": {None: (None, 1559)},
    "Short read module id": {None: (None, 2622)},
    MODULE_DATA_REASON: {None: (None, 2636)},
}


INTERNAL_PREFIX: Final = "Internal error in RDB reading offset 0, function at rdb.c:"


def redis_reason(reason: str, type_id: int | None) -> str:
    """The error text redis-check-rdb prints for a decoder error reason.

    Corruption found inside rdb.c is reported through rdbReportError, which prefixes the
    reason with its source line; the decoder's extra " (detail)" is not part of it.
    """
    module_data = reason.find(MODULE_DATA_REASON)
    if module_data > 0:
        reason = reason[module_data:]
    for known, sites in INTERNAL_ERRORS.items():
        if reason.startswith(known):
            site = sites.get(type_id) or sites.get(None)
            if site is None:
                return reason
            text, line = site
            if text is None:
                text = known if reason[len(known) :].startswith(" (") else reason
            return f"{INTERNAL_PREFIX}{line} -> {text}"
    return reason


def terminating_log_line() -> bytes:
    """The serverLog line rdbReportError writes to stdout before exit(1) (pid, role C)."""
    now = time.time()
    stamp = time.strftime("%d %b %Y %H:%M:%S", time.localtime(now))
    ms = int(now * 1000) % 1000
    return b"%d:C %s.%03d # Terminating server after rdb file reading failure." % (
        os.getpid(),
        stamp.encode(),
        ms,
    )


def redis_type_name(type_id: int) -> str:
    """The name redis-check-rdb 7.0.15 prints for an object type id."""
    if 0 <= type_id < len(REDIS_TYPE_NAMES):
        return REDIS_TYPE_NAMES[type_id]
    return "unknown"


def c_string(data: bytes) -> bytes:
    """What printf("%s") shows of a buffer: everything before the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


class Report:
    """The stdout report, line by line, plus the counters printed at the end."""

    def __init__(self, out: BinaryIO, before_write: Callable[[], None] | None = None) -> None:
        self.out = out
        self.before_write = before_write
        self.keys = 0
        self.expires = 0
        self.already_expired = 0

    def _write(self, line: bytes) -> None:
        if self.before_write is not None:
            self.before_write()
        self.out.write(line + b"\n")

    def info(self, offset: int, msg: bytes) -> None:
        """rdbCheckInfo: one "[offset N] msg" line."""
        self._write(b"[offset %d] %s" % (offset, msg[:MSG_MAX]))

    def error(
        self, offset: int, reason: bytes, doing: str, key: bytes | None, type_id: int | None
    ) -> None:
        """rdbCheckError: the error block, then the counters."""
        self._write(b"--- RDB ERROR DETECTED ---")
        self._write(b"[offset %d] %s" % (offset, reason[:MSG_MAX]))
        self._write(b"[additional info] While doing: " + doing.encode())
        if key is not None:
            self._write(b"[additional info] Reading key '" + c_string(key) + b"'")
        if type_id is not None:
            name = redis_type_name(type_id).encode()
            self._write(b"[additional info] Reading type %d (%s)" % (type_id, name))
        self.counters()

    def log(self, line: bytes) -> None:
        """A serverLog line: redis-check-rdb's log goes to stdout too."""
        self._write(line)

    def note(self, text: str) -> None:
        """A detail redis-check-rdb would not print: stderr, never the stdout report."""
        sys.stderr.write(f"{PROG}: decoder detail: {text}\n")

    def counters(self) -> None:
        """rdbShowGenericInfo."""
        self._write(b"[info] %d keys read" % self.keys)
        self._write(b"[info] %d expires" % self.expires)
        self._write(b"[info] %d already expired" % self.already_expired)


class Progress:
    """A one-line progress bar on stderr, redrawn at most `hz` times a second."""

    label = "keys"  # what `keys` counts

    def __init__(self, stream: TextIO, total: int, hz: float = 10.0) -> None:
        self.stream = stream
        self.total = total
        self.interval = 1.0 / hz
        self.start = time.monotonic()
        self.last_draw = -1.0
        self.width = 0
        self.shown = False

    def update(self, done: int, keys: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_draw < self.interval:
            return
        self.last_draw = now
        self.draw(done, keys, now)

    def draw(self, done: int, keys: int, now: float) -> None:
        elapsed = max(now - self.start, 1e-9)
        total = max(self.total, done)
        pct = 100.0 * done / total if total else 100.0
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else 0.0
        mib = 1024 * 1024
        line = (
            f"{pct:5.1f}% {done / mib:.1f}/{total / mib:.1f} MB | {keys} {self.label} | "
            f"{rate / mib:.1f} MB/s | ETA {format_eta(eta)}"
        )
        pad = " " * max(0, self.width - len(line))
        self.width = len(line)
        self.stream.write("\r" + line + pad)
        self.stream.flush()
        self.shown = True

    def clear(self) -> None:
        """Erase the bar (before a report line is written to the same terminal)."""
        if self.shown:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()
            self.shown = False
            self.width = 0
            self.last_draw = -1.0

    def finish(self, done: int, keys: int) -> None:
        """Draw the final state and end the line."""
        self.draw(done, keys, time.monotonic())
        self.stream.write("\n")
        self.stream.flush()


def format_eta(seconds: float) -> str:
    s = int(seconds + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def open_rdb(path: str) -> BinaryIO | None:
    """The file to check, or None when it cannot be opened (redis-check-rdb exits 1
    silently). A directory reads as empty, as fread() on it fails in C."""
    try:
        return open(path, "rb")  # noqa: SIM115
    except IsADirectoryError:
        return io.BytesIO()
    except OSError:
        return None


def check(path: str, out: BinaryIO, progress: Progress | None = None) -> int:
    """Check the RDB file at `path`, write redis-check-rdb's report to `out`; exit status."""
    report = Report(out, progress.clear if progress is not None and _isatty(out) else None)
    report.info(0, b"Checking RDB file " + os.fsencode(path))
    f = open_rdb(path)
    if f is None:
        return 1
    with f:
        if progress is not None:
            try:
                progress.total = os.fstat(f.fileno()).st_size
            except (OSError, ValueError, AttributeError):
                progress.total = 0
        status = _check_stream(f, report, progress)
    return status


def _check_stream(f: BinaryIO, report: Report, progress: Progress | None) -> int:
    dec = RdbDecoder(EncodingLimits(), check_crc=True, check_mode=True)
    now_ms = int(time.time() * 1000)
    # redis-check-rdb's rdbstate.key_type: 0 until the first key is complete, then -1.
    last_type = 0
    try:
        while True:
            chunk = f.read(CHUNK_SIZE)
            if not chunk:
                dec.close()  # raises: the stream ended before EOF
                break
            dec.feed(chunk)
            ended = False
            while (ev := dec.next_event()) is not None:
                if isinstance(ev, KeyRecord):
                    report.keys += 1
                    if ev.value is None:
                        _finish(dec, report, progress)
                        report.error(
                            dec.offset, EOF_REASON.encode(), READ_OBJECT_VALUE, ev.key, ev.type_id
                        )
                        return 1
                    last_type = -1
                    expire = ev.expire_ms
                    if expire is not None and expire != -1:
                        report.expires += 1
                        if expire < now_ms:
                            report.already_expired += 1
                    if progress is not None and report.keys & 1023 == 0:
                        progress.update(dec.offset, report.keys)
                elif isinstance(ev, Aux):
                    report.info(
                        dec.offset, b"AUX FIELD %s = '%s'" % (c_string(ev.key), c_string(ev.value))
                    )
                elif isinstance(ev, SelectDb):
                    report.info(dec.offset, b"Selecting DB ID %d" % ev.db)
                elif isinstance(ev, ModuleAux):
                    report.info(dec.offset, b"MODULE AUX for: " + ev.name.encode())
                elif isinstance(ev, End):
                    _report_checksum(dec, ev, report)
                    ended = True
                    break
            if ended:
                break
            if progress is not None:
                progress.update(dec.offset, report.keys)
    except RdbError as e:
        _finish(dec, report, progress)
        _report_error(e, report, last_type)
        return 1
    _finish(dec, report, progress)
    report.info(dec.offset, b"\\o/ RDB looks OK! \\o/")
    report.counters()
    return 0


def _report_checksum(dec: RdbDecoder, ev: End, report: Report) -> None:
    """The trailer line; versions < 5 have no checksum and print nothing."""
    if dec.version < 5:
        return
    if ev.checksum_stored == 0:
        report.info(dec.offset, b"RDB file was saved with checksum disabled: no check performed.")
    else:
        report.info(dec.offset, b"Checksum OK")


def _report_error(e: RdbError, report: Report, last_type: int) -> None:
    doing = e.doing
    in_key = doing in (READ_KEY, READ_OBJECT_VALUE)
    key = e.key if doing == READ_OBJECT_VALUE else None
    if doing == READ_OBJECT_VALUE:
        report.keys += 1  # redis-check-rdb counts a key as soon as its name is read
    type_id: int | None = e.type_id if in_key and e.type_id is not None else last_type
    if type_id == -1:
        type_id = None
    reason = redis_reason(e.reason, e.type_id)
    if doing == READ_FUNCTIONS and reason == EOF_REASON:
        # rdbFunctionLoad turns a short read into its own message, printed by the checker.
        reason = "Failed loading library, Failed loading library payload"
    report.error(e.offset, reason.encode("utf-8", "surrogateescape"), doing, key, type_id)
    if reason.startswith(INTERNAL_PREFIX):
        report.log(terminating_log_line())
    if not reason.endswith(e.reason):
        report.note(e.reason)


def _finish(dec: RdbDecoder, report: Report, progress: Progress | None) -> None:
    """End the bar's line before the closing report lines (and any stderr note)."""
    if progress is not None:
        progress.finish(dec.offset, report.keys)
        report.before_write = None


def _isatty(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


USAGE: Final = f"Usage: {PROG} [--progress|--no-progress] <rdb-file-name>\n"


def main(argv: list[str] | None = None) -> int:
    """Entry point: `keelkv-check-rdb [--progress|--no-progress] <rdb-file-name>`."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] in ("-v", "--version") and len(args) == 1:
        sys.stdout.write(f"{PROG} {REDIS_VERSION}\n")
        return 0
    show: bool | None = None  # None: only when stderr is a terminal
    files: list[str] = []
    for arg in args:
        if arg == "--progress":
            show = True
        elif arg == "--no-progress":
            show = False
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            return 0
        else:
            files.append(arg)
    if len(files) != 1:
        sys.stderr.write(USAGE)
        return 1
    if show is None:
        show = _isatty(sys.stderr)
    progress = Progress(sys.stderr, 0) if show else None
    out = sys.stdout.buffer
    sys.stdout.flush()
    try:
        status = check(files[0], out, progress)
        out.flush()
    except BrokenPipeError:
        # Reader went away (e.g. `| head`): nothing left to tell it.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":
    sys.exit(main())
