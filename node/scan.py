"""Cursors for SCAN, HSCAN, SSCAN and ZSCAN over Python dicts and sets.

Redis's guarantee: an element present from the first call to the last is returned at least
once; elements added or removed meanwhile may or may not be. Python containers have no
stable bucket order to walk with a reverse-binary cursor, so a scan takes a snapshot of the
container's members (a list of references, 8 bytes per member) at its first call and walks
that; every member returned is re-checked against the live container. The cursor encodes
(snapshot id, position). Snapshots are kept in a bounded LRU; a cursor whose snapshot was
dropped resumes at the same offset of a fresh snapshot, which may repeat members (allowed)
or, if members were deleted meanwhile, skip some. That only happens with more than
MAX_SNAPSHOTS scans interleaved.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Collection, Iterable
from typing import Any, Final

from node import errors
from node.commands.args import get_ll

POSITION_BITS: Final = 32
MAX_SNAPSHOTS: Final = 64
ULONG_MAX: Final = 2**64 - 1
INVALID_CURSOR: Final = "ERR invalid cursor"


class ScanCursors:
    def __init__(self, max_snapshots: int = MAX_SNAPSHOTS) -> None:
        self._snapshots: OrderedDict[int, list[Any]] = OrderedDict()
        self._next_id = 1
        self.max_snapshots = max_snapshots

    def scan(self, source: Collection[Any], cursor: int, count: int) -> tuple[int, list[Any]]:
        """Up to about `count` members of `source` from `cursor`; returns (next cursor, members).

        The next cursor is 0 when the walk is complete.
        """
        snap_id, pos = cursor >> POSITION_BITS, cursor & ((1 << POSITION_BITS) - 1)
        snapshot = self._snapshots.get(snap_id) if snap_id else None
        if snapshot is None:
            snapshot = list(source)
            # Position 0 of a dropped snapshot means a fresh walk; otherwise resume at the
            # same offset of a new snapshot (as good as Redis after a rehash: repeats allowed).
            snap_id = self._next_id
            self._next_id += 1
            self._snapshots[snap_id] = snapshot
            while len(self._snapshots) > self.max_snapshots:
                self._snapshots.popitem(last=False)
        else:
            self._snapshots.move_to_end(snap_id)
        end = min(pos + max(count, 1), len(snapshot))
        members = [m for m in snapshot[pos:end] if m in source]
        if end >= len(snapshot):
            self._snapshots.pop(snap_id, None)
            return 0, members
        if end >= 1 << POSITION_BITS:  # pragma: no cover - 4 billion members
            raise OverflowError("collection too large to scan")
        return (snap_id << POSITION_BITS) | end, members


def parse_cursor(raw: bytes) -> int:
    """parseScanCursorOrReply: C strtoul over the whole argument, else `ERR invalid cursor`.

    strtoul takes a sign ("-1" wraps to 2**64-1) and stops at a NUL, and an empty string is
    cursor 0; a leading space, trailing bytes or a value past 2**64-1 are refused.
    """
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    if not raw:
        return 0
    body = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if not body.isdigit():
        raise errors.CommandError(INVALID_CURSOR)
    digits = body.lstrip(b"0") or b"0"  # int() refuses over 4300 digits; zeros are free
    value = int(digits) if len(digits) <= 20 else ULONG_MAX + 1
    if value > ULONG_MAX:
        raise errors.CommandError(INVALID_CURSOR)
    return -value & ULONG_MAX if raw[:1] == b"-" else value


def parse_scan_options(
    argv: list[bytes], start: int, with_type: bool = False
) -> tuple[int, bytes | None, bytes | None]:
    """scanGenericCommand's options from `argv[start]` on: (COUNT, MATCH, TYPE).

    COUNT defaults to 10 and must be >= 1; a MATCH of "*" is no pattern (None); TYPE, only
    for SCAN (`with_type`), is lowercased since Redis compares it without case.
    """
    count = 10
    pattern: bytes | None = None
    type_name: bytes | None = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and n - i >= 2:
            count = get_ll(argv[i + 1])
            if count < 1:
                raise errors.syntax()
        elif opt == b"match" and n - i >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        elif opt == b"type" and with_type and n - i >= 2:
            type_name = argv[i + 1].lower()
        else:
            raise errors.syntax()
        i += 2
    return count, pattern, type_name


def scan_reply(cursor: int, items: list[Any]) -> list[Any]:
    """The two-element reply of every *SCAN: the next cursor (as a bulk string), the items."""
    return [b"%d" % cursor, items]


def glob_match(pattern: bytes, subject: bytes, nocase: bool = False) -> bool:
    """Redis's stringmatchlen: *, ?, [a-z], [^x], and backslash escapes."""
    return _match(pattern, 0, subject, 0, nocase)


def _match(p: bytes, pi: int, s: bytes, si: int, nocase: bool) -> bool:
    plen, slen = len(p), len(s)
    while pi < plen:
        ch = p[pi]
        if ch == 0x2A:  # '*'
            while pi + 1 < plen and p[pi + 1] == 0x2A:
                pi += 1
            if pi + 1 == plen:
                return True
            return any(_match(p, pi + 1, s, start, nocase) for start in range(si, slen + 1))
        if si >= slen:
            return False
        if ch == 0x3F:  # '?'
            si += 1
        elif ch == 0x5B:  # '['
            pi += 1
            negate = pi < plen and p[pi] == 0x5E
            if negate:
                pi += 1
            matched = False
            c = s[si]
            while pi < plen and p[pi] != 0x5D:
                if p[pi] == 0x5C and pi + 1 < plen:
                    pi += 1
                    if p[pi] == c:
                        matched = True
                elif pi + 2 < plen and p[pi + 1] == 0x2D:
                    lo, hi = p[pi], p[pi + 2]
                    if lo > hi:
                        lo, hi = hi, lo
                    if nocase:
                        cl = _lower(c)
                        matched = matched or _lower(lo) <= cl <= _lower(hi)
                    matched = matched or lo <= c <= hi
                    pi += 2
                elif p[pi] == c or (nocase and _lower(p[pi]) == _lower(c)):
                    matched = True
                pi += 1
            if pi >= plen:  # unterminated: Redis treats the end as closing
                pi -= 1
            if negate:
                matched = not matched
            if not matched:
                return False
            si += 1
        else:
            if ch == 0x5C and pi + 1 < plen:
                pi += 1
                ch = p[pi]
            if ch != s[si] and not (nocase and _lower(ch) == _lower(s[si])):
                return False
            si += 1
        pi += 1
    return si == slen


def _lower(c: int) -> int:
    return c + 32 if 65 <= c <= 90 else c


def filter_matches(items: Iterable[bytes], pattern: bytes | None) -> list[bytes]:
    if pattern is None or pattern == b"*":
        return list(items)
    return [i for i in items if glob_match(pattern, i)]
