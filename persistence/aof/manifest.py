"""The multi-part AOF manifest (spec aof.md §1-§2): parse and render it exactly as Redis 7.0.

Sans-IO: bytes in, a Manifest out, and back. The rules are those of Redis's
aofLoadManifestFromFile / aofInfoFormat, including their quirks, so that a manifest either
side writes reads the same on the other:

* the file is read in fgets() pieces of at most 1024 bytes; a piece starting with "#" is a
  comment (even the tail of a long line), any other piece must hold its "\\n";
* a line is trimmed of " \\t\\r\\n", split like redis-cli arguments (sdssplitargs), and needs
  an even number (>= 6) of tokens; keys are case-insensitive, unknown keys are ignored;
* values are C strings: a name, key or number ends at the first NUL byte;
* the writer quotes a name only when sdsneedsrepr says so, which does not include "'"
  (so a name with a single quote is written bare and Redis cannot read it back; we do
  the same rather than write something Redis would not).

Names are `str` holding the file-system bytes (os.fsdecode, surrogateescape).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Final

MANIFEST_MAX_LINE: Final = 1024
MANIFEST_NAME_SUFFIX: Final = ".manifest"
TEMP_FILE_NAME_PREFIX: Final = "temp-"
BASE_FILE_SUFFIX: Final = ".base"
INCR_FILE_SUFFIX: Final = ".incr"
RDB_FORMAT_SUFFIX: Final = ".rdb"
AOF_FORMAT_SUFFIX: Final = ".aof"

KIND_BASE: Final = "b"
KIND_HISTORY: Final = "h"
KIND_INCR: Final = "i"

FATAL_BANNER: Final = "\n*** FATAL AOF MANIFEST FILE ERROR ***\n"

# Redis's fatal texts (aofLoadManifestFromFile).
ERR_EMPTY: Final = "Found an empty AOF manifest"
ERR_TOO_LONG: Final = "The AOF manifest file contains too long line"
ERR_FORMAT: Final = "Invalid AOF manifest file format"
ERR_PATH: Final = "File can't be a path, just a filename"
ERR_DUP_BASE: Final = "Found duplicate base file information"
ERR_NON_MONOTONIC: Final = "Found a non-monotonic sequence number"
ERR_UNKNOWN_TYPE: Final = "Unknown AOF file type"

_C_SPACE: Final = b" \t\n\v\f\r"  # isspace() in the C locale
_TRIM: Final = b" \t\r\n"  # sdstrim(line, " \t\r\n")
_HEX: Final = b"0123456789abcdefABCDEF"
_ATOLL: Final = re.compile(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)")
_LLONG_MAX: Final = (1 << 63) - 1
_LLONG_MIN: Final = -(1 << 63)


class ManifestError(Exception):
    """A manifest Redis refuses at startup; str() is Redis's fatal text.

    `linenum` and `line` are set when Redis also logs the offending line.
    """

    def __init__(self, message: str, linenum: int | None = None, line: bytes | None = None):
        super().__init__(message)
        self.message = message
        self.linenum = linenum
        self.line = line

    def log_messages(self) -> list[str]:
        """The serverLog messages Redis writes before exit(1), in order (each ends "\\n")."""
        msgs = [FATAL_BANNER]
        if self.line is not None:
            text = self.line.decode("utf-8", "surrogateescape")
            msgs.append(f"Reading the manifest file, at line {self.linenum}\n")
            msgs.append(f">>> '{text}'\n")
        msgs.append(self.message + "\n")
        return msgs


@dataclass
class AofInfo:
    """One manifest line: file name, sequence number and kind ("b", "h" or "i")."""

    name: str
    seq: int
    kind: str

    def render(self) -> bytes:
        """aofInfoFormat: `file <name> seq <n> type <t>\\n`, the name quoted if needed."""
        raw = os.fsencode(self.name)
        shown = repr_name(raw) if needs_repr(raw) else raw
        return b"file %s seq %d type %s\n" % (shown, self.seq, self.kind.encode())


@dataclass
class Manifest:
    """The parsed manifest: at most one base, history files, incr files in order.

    `curr_base_seq` / `curr_incr_seq` are Redis's curr_base_file_seq / curr_incr_file_seq
    (the base's seq and the last incr seq read); they keep next_base/next_incr growing
    even after the files that carried those numbers were dropped.
    """

    base: AofInfo | None = None
    history: list[AofInfo] = field(default_factory=list)
    incrs: list[AofInfo] = field(default_factory=list)
    curr_base_seq: int = 0
    curr_incr_seq: int = 0

    @classmethod
    def parse(cls, data: bytes) -> Manifest:
        """Read a manifest with Redis's rules; raises ManifestError with Redis's text."""
        m = cls()
        maxseq = 0
        linenum = 0
        for piece in fgets_pieces(data, MANIFEST_MAX_LINE + 1):
            linenum += 1
            if piece[:1] == b"#":
                continue
            text = c_string(piece)
            if b"\n" not in text:
                raise ManifestError(ERR_TOO_LONG)
            line = text.strip(_TRIM)
            if not line:
                raise ManifestError(ERR_FORMAT, linenum, line)
            argv = split_args(line)
            if argv is None or len(argv) < 6 or len(argv) % 2:
                raise ManifestError(ERR_FORMAT, linenum, line)
            name: bytes | None = None
            seq = 0
            kind = 0
            for i in range(0, len(argv), 2):
                key = c_string(argv[i]).lower()
                value = argv[i + 1]
                if key == b"file":
                    name = c_string(value)
                    if b"/" in name or b"\\" in name:
                        raise ManifestError(ERR_PATH, linenum, line)
                elif key == b"seq":
                    seq = c_atoll(value)
                elif key == b"type":
                    kind = value[0] if value else 0
            if name is None or not seq or not kind:
                raise ManifestError(ERR_FORMAT, linenum, line)
            info = AofInfo(os.fsdecode(name), seq, chr(kind))
            if kind == ord(KIND_BASE):
                if m.base is not None:
                    raise ManifestError(ERR_DUP_BASE, linenum, line)
                m.base = info
                m.curr_base_seq = seq
            elif kind == ord(KIND_HISTORY):
                m.history.append(info)
            elif kind == ord(KIND_INCR):
                if seq <= maxseq:
                    raise ManifestError(ERR_NON_MONOTONIC, linenum, line)
                m.incrs.append(info)
                m.curr_incr_seq = seq
                maxseq = seq
            else:
                raise ManifestError(ERR_UNKNOWN_TYPE, linenum, line)
        if linenum == 0:
            raise ManifestError(ERR_EMPTY)
        return m

    def render(self) -> bytes:
        """getAofManifestAsString: base line, history lines, incr lines."""
        infos = ([self.base] if self.base is not None else []) + self.history + self.incrs
        return b"".join(info.render() for info in infos)

    def next_base(self, prefix: str, rdb_preamble: bool) -> AofInfo:
        """The base a rewrite would create: seq = current base seq + 1 (not added here)."""
        seq = max(self.curr_base_seq, self.base.seq if self.base is not None else 0)
        for info in self.history:
            if BASE_FILE_SUFFIX + "." in info.name:
                seq = max(seq, info.seq)
        seq += 1
        return AofInfo(base_name(prefix, seq, rdb_preamble), seq, KIND_BASE)

    def next_incr(self, prefix: str) -> AofInfo:
        """The next incr file: seq = highest incr seq ever listed + 1 (not added here)."""
        seq = self.curr_incr_seq
        for info in self.incrs:
            seq = max(seq, info.seq)
        for info in self.history:
            if info.name.endswith(INCR_FILE_SUFFIX + AOF_FORMAT_SUFFIX):
                seq = max(seq, info.seq)
        seq += 1
        return AofInfo(incr_name(prefix, seq), seq, KIND_INCR)

    def copy(self) -> Manifest:
        """A deep copy to modify and swap in only once persisted (aofManifestDup)."""
        return Manifest(
            AofInfo(self.base.name, self.base.seq, self.base.kind) if self.base else None,
            [AofInfo(i.name, i.seq, i.kind) for i in self.history],
            [AofInfo(i.name, i.seq, i.kind) for i in self.incrs],
            self.curr_base_seq,
            self.curr_incr_seq,
        )

    # Conveniences mirroring Redis's manifest updates (optional for callers).

    def add_incr(self, prefix: str) -> AofInfo:
        """getNewIncrAofName: append the next incr file and return it."""
        info = self.next_incr(prefix)
        self.incrs.append(info)
        self.curr_incr_seq = info.seq
        return info

    def switch_base(self, prefix: str, rdb_preamble: bool) -> AofInfo:
        """getNewBaseFileNameAndMarkPreAsHistory: new base; the old one heads the history."""
        info = self.next_base(prefix, rdb_preamble)
        if self.base is not None:
            self.base.kind = KIND_HISTORY
            self.history.insert(0, self.base)
        self.base = info
        self.curr_base_seq = info.seq
        return info

    def mark_rewritten_incrs_history(self, keep_last: bool = True) -> None:
        """markRewrittenIncrAofAsHistory: every incr but the one being written (all of
        them when the AOF is off) becomes history. Redis walks the incrs from the tail and
        adds each at the head of the history, so they lead it in ascending order, before
        the old base that switch_base put there (call switch_base first, as Redis does)."""
        moved = self.incrs[:-1] if keep_last else self.incrs
        for info in moved:
            info.kind = KIND_HISTORY
        self.history[:0] = moved
        self.incrs = self.incrs[-1:] if keep_last else []


def manifest_name(prefix: str) -> str:
    """`<appendfilename>.manifest`."""
    return prefix + MANIFEST_NAME_SUFFIX


def temp_manifest_name(prefix: str) -> str:
    """`temp-<appendfilename>.manifest`, renamed over the manifest once written."""
    return TEMP_FILE_NAME_PREFIX + prefix + MANIFEST_NAME_SUFFIX


def base_name(prefix: str, seq: int, rdb_preamble: bool) -> str:
    """`P.<seq>.base.rdb` (aof-use-rdb-preamble yes) or `P.<seq>.base.aof`."""
    fmt = RDB_FORMAT_SUFFIX if rdb_preamble else AOF_FORMAT_SUFFIX
    return f"{prefix}.{seq}{BASE_FILE_SUFFIX}{fmt}"


def incr_name(prefix: str, seq: int) -> str:
    """`P.<seq>.incr.aof`."""
    return f"{prefix}.{seq}{INCR_FILE_SUFFIX}{AOF_FORMAT_SUFFIX}"


def temp_incr_name(prefix: str) -> str:
    """`temp-P.incr`: the incr written while AOF is switched on at runtime."""
    return TEMP_FILE_NAME_PREFIX + prefix + INCR_FILE_SUFFIX


# --- C helpers --------------------------------------------------------------------------


def fgets_pieces(data: bytes, size: int) -> list[bytes]:
    """What repeated fgets(buf, size, fp) returns: pieces of at most size-1 bytes, each
    ending at a "\\n" or at the size limit or at the end of the data."""
    pieces = []
    pos = 0
    n = len(data)
    limit = size - 1
    while pos < n:
        nl = data.find(b"\n", pos, pos + limit)
        end = nl + 1 if nl >= 0 else min(pos + limit, n)
        pieces.append(data[pos:end])
        pos = end
    return pieces


def c_string(data: bytes) -> bytes:
    """A buffer as C sees it: up to the first NUL."""
    nul = data.find(b"\0")
    return data if nul < 0 else data[:nul]


def c_atoll(data: bytes) -> int:
    """atoll (glibc strtoll): leading space, sign, digits; clamps on overflow; 0 if none."""
    m = _ATOLL.match(c_string(data))
    if m is None:
        return 0
    return max(_LLONG_MIN, min(_LLONG_MAX, int(m.group(1))))


def split_args(line: bytes) -> list[bytes] | None:
    """sdssplitargs: redis-cli style tokens; None for unbalanced quotes or a closing quote
    followed by something other than a space."""
    p = 0
    n = len(line)
    out: list[bytes] = []
    while True:
        while p < n and line[p] in _C_SPACE:
            p += 1
        if p >= n:
            return out
        cur = bytearray()
        inq = insq = False
        while True:
            c = line[p] if p < n else 0
            if inq:
                if (
                    c == 0x5C
                    and p + 3 < n
                    and line[p + 1] == 0x78
                    and line[p + 2] in _HEX
                    and line[p + 3] in _HEX
                ):
                    cur.append(int(line[p + 2 : p + 4], 16))
                    p += 3
                elif c == 0x5C and p + 1 < n:
                    p += 1
                    cur.append(_ESCAPES.get(line[p], line[p]))
                elif c == 0x22:
                    if p + 1 < n and line[p + 1] not in _C_SPACE:
                        return None
                    p += 1
                    break
                elif p >= n:
                    return None
                else:
                    cur.append(c)
            elif insq:
                if c == 0x5C and p + 1 < n and line[p + 1] == 0x27:
                    p += 1
                    cur.append(0x27)
                elif c == 0x27:
                    if p + 1 < n and line[p + 1] not in _C_SPACE:
                        return None
                    p += 1
                    break
                elif p >= n:
                    return None
                else:
                    cur.append(c)
            else:
                if p >= n or c in b" \n\r\t":
                    if p < n:
                        p += 1
                    break
                if c == 0x22:
                    inq = True
                elif c == 0x27:
                    insq = True
                else:
                    cur.append(c)
            p += 1
        out.append(bytes(cur))


_ESCAPES: Final = {0x6E: 0x0A, 0x72: 0x0D, 0x74: 0x09, 0x62: 0x08, 0x61: 0x07}


def needs_repr(name: bytes) -> bool:
    """sdsneedsrepr: backslash, double quote, a control or non-printable byte, a space."""
    return any(b == 0x5C or b == 0x22 or b <= 0x20 or b >= 0x7F for b in name)


def repr_name(name: bytes) -> bytes:
    """sdscatrepr: the name in double quotes with C escapes, other bytes as \\xHH."""
    out = bytearray(b'"')
    for b in name:
        if b in (0x5C, 0x22):
            out += b"\\" + bytes((b,))
        elif b == 0x0A:
            out += b"\\n"
        elif b == 0x0D:
            out += b"\\r"
        elif b == 0x09:
            out += b"\\t"
        elif b == 0x07:
            out += b"\\a"
        elif b == 0x08:
            out += b"\\b"
        elif 0x20 <= b < 0x7F:
            out.append(b)
        else:
            out += b"\\x%02x" % b
    out += b'"'
    return bytes(out)
