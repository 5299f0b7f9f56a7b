"""Hash commands: HSET HSETNX HGET HMSET HMGET HDEL HEXISTS HLEN HKEYS HVALS HGETALL HINCRBY
HINCRBYFLOAT HSTRLEN HRANDFIELD HSCAN.

A hash is a plain dict of bytes -> bytes. Dicts keep insertion order and an overwritten field
keeps its place, which is exactly the order of Redis's listpack encoding, so HGETALL of a
small hash answers in the same order as Redis.

Also here, shared with sets.py: Redis's strict integer parsing (string2ll), the count
argument of the *RANDMEMBER/HRANDFIELD family, *SCAN argument parsing, and the x87
80-bit `long double` arithmetic HINCRBYFLOAT needs to print the digits Redis prints.
"""

from __future__ import annotations

import random
import re
from itertools import islice
from typing import Any

from node import errors
from node.client import Client
from node.commands.table import command
from node.config import Config
from node.resp import OK, Map
from node.scan import glob_match

# ---------------------------------------------------------------------------
# Argument parsing shared by the hash and set families

LLONG_MIN = -(2**63)
LLONG_MAX = 2**63 - 1
# Redis's string2ll: optional '-', no leading zeros, no '+', no spaces, at most 20 chars.
_LL_RE = re.compile(rb"-?[1-9][0-9]*|0")

RANGE_COUNT = (
    "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
)
OUT_OF_RANGE = "ERR value is out of range"
INVALID_CURSOR = "ERR invalid cursor"


def parse_ll(raw: bytes) -> int | None:
    """A signed 64-bit integer in Redis's canonical form (string2ll), else None."""
    if len(raw) > 20 or _LL_RE.fullmatch(raw) is None:
        return None
    value = int(raw)
    if value < LLONG_MIN or value > LLONG_MAX:
        return None
    return value


def parse_rand_count(raw: bytes) -> int:
    """The count of SRANDMEMBER/HRANDFIELD: a long in [-LONG_MAX, LONG_MAX]."""
    value = parse_ll(raw)
    if value is None:
        raise errors.not_integer()
    if value == LLONG_MIN:
        raise errors.CommandError(RANGE_COUNT)
    return value


# keelkv builds a reply in memory before sending it: a negative count asking for more
# elements than this is refused rather than exhausting the machine (Redis would try).
MAX_RANDOM_REPLY = 1 << 27


def repeat_count(count: int) -> int:
    """How many elements a negative (repeating) count asks for; 1 for count == 1."""
    n = -count if count < 0 else 1
    if n > MAX_RANDOM_REPLY:
        raise errors.CommandError(OUT_OF_RANGE)
    return n


def parse_scan_cursor(raw: bytes) -> int:
    """A *SCAN cursor as Redis reads it with strtoul: sign allowed, '-1' wraps, '' is 0."""
    nul = raw.find(b"\0")
    if nul >= 0:
        raw = raw[:nul]
    body = raw[1:] if raw[:1] in (b"+", b"-") else raw
    if raw and not body.isdigit():
        raise errors.CommandError(INVALID_CURSOR)
    value = int(body) if body else 0
    if value >= 1 << 64:
        raise errors.CommandError(INVALID_CURSOR)
    if raw[:1] == b"-":
        value = -value & ((1 << 64) - 1)
    return value


def parse_scan_options(argv: list[bytes], start: int) -> tuple[int, bytes | None]:
    """COUNT and MATCH of HSCAN/SSCAN (TYPE is SCAN's alone); returns (count, pattern)."""
    count = 10
    pattern: bytes | None = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].lower()
        if opt == b"count" and n - i >= 2:
            value = parse_ll(argv[i + 1])
            if value is None:
                raise errors.not_integer()
            if value < 1:
                raise errors.syntax()
            count = value
        elif opt == b"match" and n - i >= 2:
            pattern = argv[i + 1]
            if pattern == b"*":
                pattern = None
        else:
            raise errors.syntax()
        i += 2
    return count, pattern


def scan_reply(cursor: int, items: list[Any]) -> list[Any]:
    return [b"%d" % cursor, items]


# ---------------------------------------------------------------------------
# Encodings. keelkv keeps one representation per type; Redis's small encodings are only
# visible through reply order and SCAN behaviour, which these predicates reproduce.


def hash_is_listpack(h: dict[bytes, bytes], config: Config) -> bool:
    """Would Redis hold this hash as a listpack?

    Judged from the hash as it is now. Redis never converts a hash back, so one that grew
    past the limits and then shrank is a hashtable there and counts as a listpack here; only
    SCAN's batching and the reply order of such a hash can tell.
    """
    if len(h) > config.hash_max_listpack_entries:
        return False
    limit = config.hash_max_listpack_value
    return all(len(field) <= limit and len(value) <= limit for field, value in h.items())


# ---------------------------------------------------------------------------
# x87 extended precision (64-bit significand), as Redis's `long double` on x86-64.
# HINCRBYFLOAT parses both operands with strtold, adds them and prints `%.17Lf`, so
# `10.1 + 0.1` is `10.2` where a C double would give `10.19999999999999929`. A value is
# (significand, exponent) meaning significand * 2**exponent, computed exactly with Python
# integers and rounded to nearest-even like the FPU; an infinity is a float.

LD_MIN_EXP = -16445  # 2**-16445 is the smallest subnormal
LD_MAX_EXP = 16320  # (2**64 - 1) * 2**16320 is LDBL_MAX
MAX_LONG_DOUBLE_CHARS = 5 * 1024  # string2ld refuses longer inputs
_HIDDEN = 1 << 63
_CARRY = 1 << 64
_DEC_RE = re.compile(rb"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_HEX_RE = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?"
)
_INF_RE = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_NAN_RE = re.compile(rb"[+-]?nan(?:\([0-9A-Za-z_]*\))?", re.IGNORECASE)
_SPACE = b" \t\n\v\f\r"
# Python refuses int <-> str conversions above 4300 digits; long doubles reach 4951.
_CHUNK = 4000
_CHUNK_POW = 10**_CHUNK

LongDouble = tuple[int, int]


def _ld_round(num: int, den: int) -> LongDouble | None:
    """num/den (den > 0) rounded to the nearest long double; None when it overflows."""
    if num == 0:
        return (0, 0)
    neg = num < 0
    a = -num if neg else num
    e = a.bit_length() - den.bit_length() - 63
    if _quotient(a, den, e)[0] < _HIDDEN:
        e -= 1
    if e < LD_MIN_EXP:
        e = LD_MIN_EXP
    q, r, d = _quotient(a, den, e)
    r2 = r << 1
    if r2 > d or (r2 == d and q & 1):
        q += 1
        if q == _CARRY:
            q >>= 1
            e += 1
    if e > LD_MAX_EXP:
        return None
    return (-q if neg else q, e)


def _quotient(a: int, den: int, e: int) -> tuple[int, int, int]:
    """a / (den * 2**e) as (quotient, remainder, divisor)."""
    if e >= 0:
        d = den << e
        q, r = divmod(a, d)
        return q, r, d
    q, r = divmod(a << -e, den)
    return q, r, den


def _int_from_digits(digits: bytes, base: int = 10) -> int:
    if len(digits) <= _CHUNK:
        return int(digits, base)
    head, tail = digits[:-_CHUNK], digits[-_CHUNK:]
    return _int_from_digits(head, base) * base**_CHUNK + int(tail, base)


def _digits(n: int) -> bytes:
    if n < _CHUNK_POW:
        return b"%d" % n
    hi, lo = divmod(n, _CHUNK_POW)
    return _digits(hi) + b"%0*d" % (_CHUNK, lo)


def ld_parse(raw: bytes) -> LongDouble | float | None:
    """Redis's string2ld: strtold over the whole string; None if Redis refuses it.

    Refused: empty or over-long input, leading space, trailing bytes, NaN, and values that
    overflow or underflow to zero. Infinity is accepted (returned as a float) since the
    callers give it its own error.
    """
    if not raw or len(raw) >= MAX_LONG_DOUBLE_CHARS:
        return None
    nul = raw.find(b"\0")
    if nul >= 0:  # strtold stops at the C string's end
        raw = raw[:nul]
        if not raw:
            return (0, 0)
    if raw[0] in _SPACE:
        return None
    m = _DEC_RE.fullmatch(raw)
    if m is not None:
        sign, whole, frac, only_frac, exp = m.groups()
        digits = (whole + frac) if only_frac is None else only_frac
        digits = digits.lstrip(b"0")
        if not digits:
            return (0, 0)
        x = _exponent(exp) - len(frac if only_frac is None else only_frac)
        magnitude = x + len(digits)  # value is in [10**(magnitude-1), 10**magnitude)
        if magnitude > 4934 or magnitude < -4952:
            return None
        num = _int_from_digits(digits)
        if sign == b"-":
            num = -num
        result = _ld_round(num * 10**x, 1) if x >= 0 else _ld_round(num, 10**-x)
    else:
        m = _HEX_RE.fullmatch(raw)
        if m is not None:
            sign, whole, frac, only_frac, exp = m.groups()
            digits = (whole + frac) if only_frac is None else only_frac
            digits = digits.lstrip(b"0")
            if not digits:
                return (0, 0)
            x = _exponent(exp) - 4 * len(frac if only_frac is None else only_frac)
            bits = 4 * len(digits)
            if x + bits > 16400 or x + bits < -16460:
                return None
            num = _int_from_digits(digits, 16)
            if sign == b"-":
                num = -num
            result = _ld_round(num << x, 1) if x >= 0 else _ld_round(num, 1 << -x)
        else:
            inf = _INF_RE.fullmatch(raw)
            if inf is not None:
                return float("-inf") if inf.group(1) == b"-" else float("inf")
            return None
    if result is None or result[0] == 0:  # ERANGE: overflow, or underflow to zero
        return None
    return result


def _exponent(raw: bytes | None) -> int:
    """An exponent, clamped far beyond any finite long double (inputs are < 5120 chars)."""
    if not raw:
        return 0
    neg = raw[:1] == b"-"
    body = raw.lstrip(b"+-").lstrip(b"0")
    value = int(body) if body and len(body) <= 9 else (10**9 if body else 0)
    return -value if neg else value


def ld_add(a: LongDouble, b: LongDouble) -> LongDouble | None:
    """a + b rounded once, as the FPU does; None on overflow."""
    if a[0] == 0:
        return b
    if b[0] == 0:
        return a
    emin = min(a[1], b[1])
    num = (a[0] << (a[1] - emin)) + (b[0] << (b[1] - emin))
    if emin >= 0:
        return _ld_round(num << emin, 1)
    return _ld_round(num, 1 << -emin)


def ld_format_human(value: LongDouble) -> bytes:
    """Redis's ld2string(LD_STR_HUMAN): `%.17Lf`, trailing zeros and '.' trimmed, no '-0'."""
    m, e = value
    a = -m if m < 0 else m
    if e >= 0:
        n = (a << e) * 10**17
    else:
        den = 1 << -e
        n, r = divmod(a * 10**17, den)
        r2 = r << 1
        if r2 > den or (r2 == den and n & 1):
            n += 1
    whole, frac = divmod(n, 10**17)
    text = b"%s.%017d" % (_digits(whole), frac)
    text = text.rstrip(b"0").rstrip(b".")
    if m < 0 and text != b"0":
        text = b"-" + text
    return text


# ---------------------------------------------------------------------------
# Commands

HASH_VALUE_NOT_INTEGER = "ERR hash value is not an integer"
HASH_VALUE_NOT_FLOAT = "ERR hash value is not a float"
NAN_OR_INFINITY = "ERR value is NaN or Infinity"
WOULD_PRODUCE_NAN = "ERR increment would produce NaN or Infinity"


def _read(c: Client, key: bytes) -> dict[bytes, bytes] | None:
    h = c.db.lookup_read(key)
    if h is None or type(h) is dict:
        return h
    raise errors.wrongtype()


def _write(c: Client, key: bytes) -> dict[bytes, bytes] | None:
    h = c.db.lookup_write(key)
    if h is None or type(h) is dict:
        return h
    raise errors.wrongtype()


def _set_fields(c: Client, argv: list[bytes], name: str) -> int:
    """HSET/HMSET: set the pairs; returns how many fields were new."""
    n = len(argv)
    if n & 1:
        raise errors.wrong_arity(name)
    key = argv[1]
    db = c.db
    h = db.lookup_write(key)
    if h is None:
        h = dict(zip(argv[2:n:2], argv[3:n:2], strict=True))
        created = len(h)
        db.add(key, h)
        c.server.dirty += (n - 2) >> 1
    elif type(h) is not dict:
        raise errors.wrongtype()
    elif n == 4:
        field = argv[2]
        created = 0 if field in h else 1
        h[field] = argv[3]
        db.modified(key)
    else:
        before = len(h)
        for i in range(2, n, 2):
            h[argv[i]] = argv[i + 1]
        created = len(h) - before
        db.modified(key, (n - 2) >> 1)
    c.server.propagate(db.id, argv)
    return created


@command("hset", -4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hset(c: Client, argv: list[bytes]) -> Any:
    return _set_fields(c, argv, "hset")


@command("hmset", -4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hmset(c: Client, argv: list[bytes]) -> Any:
    _set_fields(c, argv, "hmset")
    return OK


@command("hsetnx", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hsetnx(c: Client, argv: list[bytes]) -> Any:
    key, field = argv[1], argv[2]
    db = c.db
    h = _write(c, key)
    if h is None:
        db.add(key, {field: argv[3]})
        c.server.dirty += 1
    elif field in h:
        return 0
    else:
        h[field] = argv[3]
        db.modified(key)
    c.server.propagate(db.id, argv)
    return 1


@command("hget", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hget(c: Client, argv: list[bytes]) -> Any:
    h = c.db.lookup_read(argv[1])
    if h is None:
        return None
    if type(h) is not dict:
        raise errors.wrongtype()
    return h.get(argv[2])


@command("hmget", -3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hmget(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    if h is None:
        return [None] * (len(argv) - 2)
    get = h.get
    return [get(f) for f in argv[2:]]


@command("hdel", -3, "write fast", 1, 1, 1, categories="write hash fast")
def hdel(c: Client, argv: list[bytes]) -> Any:
    key = argv[1]
    h = _write(c, key)
    if h is None:
        return 0
    deleted = 0
    for field in argv[2:]:
        if h.pop(field, None) is not None:
            deleted += 1
            if not h:
                break
    if deleted:
        db = c.db
        if h:
            db.modified(key, deleted)
        else:
            db.delete(key)
            c.server.dirty += deleted
        c.server.propagate(db.id, argv)
    return deleted


@command("hexists", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hexists(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return 0 if h is None else int(argv[2] in h)


@command("hlen", 2, "readonly fast", 1, 1, 1, categories="read hash fast")
def hlen(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return 0 if h is None else len(h)


@command("hstrlen", 3, "readonly fast", 1, 1, 1, categories="read hash fast")
def hstrlen(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    if h is None:
        return 0
    value = h.get(argv[2])
    return 0 if value is None else len(value)


@command("hkeys", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hkeys(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return [] if h is None else list(h)


@command("hvals", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hvals(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return [] if h is None else list(h.values())


@command("hgetall", 2, "readonly", 1, 1, 1, categories="read hash slow")
def hgetall(c: Client, argv: list[bytes]) -> Any:
    h = _read(c, argv[1])
    return Map(() if h is None else h.items())


@command("hincrby", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hincrby(c: Client, argv: list[bytes]) -> Any:
    incr = parse_ll(argv[3])
    if incr is None:
        raise errors.not_integer()
    key, field = argv[1], argv[2]
    h = _write(c, key)
    current = None if h is None else h.get(field)
    if current is None:
        value = incr
    else:
        old = parse_ll(current)
        if old is None:
            raise errors.CommandError(HASH_VALUE_NOT_INTEGER)
        value = old + incr
        if value < LLONG_MIN or value > LLONG_MAX:
            raise errors.CommandError(errors.OVERFLOW)
    _store(c, key, h, field, b"%d" % value)
    c.server.propagate(c.db.id, argv)
    return value


@command("hincrbyfloat", 4, "write denyoom fast", 1, 1, 1, categories="write hash fast")
def hincrbyfloat(c: Client, argv: list[bytes]) -> Any:
    incr = ld_parse(argv[3])
    if incr is None:
        raise errors.CommandError(errors.NOT_FLOAT)
    if type(incr) is float:
        raise errors.CommandError(NAN_OR_INFINITY)
    assert type(incr) is tuple
    key, field = argv[1], argv[2]
    h = _write(c, key)
    current = None if h is None else h.get(field)
    result = incr
    if current is not None:
        old = ld_parse(current)
        if old is None:
            raise errors.CommandError(HASH_VALUE_NOT_FLOAT)
        total = None if type(old) is float else ld_add(old, incr)  # type: ignore[arg-type]
        if total is None:  # a stored "inf", or the sum overflowed
            raise errors.CommandError(WOULD_PRODUCE_NAN)
        result = total
    text = ld_format_human(result)
    _store(c, key, h, field, text)
    # The final value, so that replicas and AOF replays hold the same bytes.
    c.server.propagate(c.db.id, [b"HSET", key, field, text])
    return text


def _store(c: Client, key: bytes, h: dict[bytes, bytes] | None, field: bytes, value: bytes) -> None:
    if h is None:
        c.db.add(key, {field: value})
        c.server.dirty += 1
    else:
        h[field] = value
        c.db.modified(key)


@command("hrandfield", -2, "readonly", 1, 1, 1, categories="read hash slow")
def hrandfield(c: Client, argv: list[bytes]) -> Any:
    if len(argv) == 2:
        h = _read(c, argv[1])
        if not h:
            return None
        return next(islice(h, random.randrange(len(h)), None))
    count = parse_rand_count(argv[2])
    withvalues = False
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        raise errors.syntax()
    if len(argv) == 4:
        withvalues = True
        if count < -(LLONG_MAX // 2) or count > LLONG_MAX // 2:
            raise errors.CommandError(OUT_OF_RANGE)
    h = _read(c, argv[1])
    if h is None or count == 0:
        return []
    if count < 0 or count == 1:
        fields = random.choices(list(h), k=repeat_count(count))
    elif count >= len(h):
        fields = list(h)  # the whole hash, in its order (as Redis's CASE 2)
    else:
        fields = random.sample(list(h), count)
    if not withvalues:
        return fields
    if c.resp3:
        return [[f, h[f]] for f in fields]
    flat: list[bytes] = []
    for f in fields:
        flat.append(f)
        flat.append(h[f])
    return flat


@command("hscan", -3, "readonly", 1, 1, 1, categories="read hash slow")
def hscan(c: Client, argv: list[bytes]) -> Any:
    cursor = parse_scan_cursor(argv[2])
    h = _read(c, argv[1])
    if h is None:
        return scan_reply(0, [])
    count, pattern = parse_scan_options(argv, 3)
    if hash_is_listpack(h, c.server.config):
        # Redis returns a listpack hash whole, whatever the cursor and COUNT.
        cursor = 0
        fields: list[bytes] = list(h)
    else:
        cursor, fields = c.server.scan_cursors.scan(h, cursor, count)
    out: list[bytes] = []
    for f in fields:
        if pattern is None or glob_match(pattern, f):
            out.append(f)
            out.append(h[f])
    return scan_reply(cursor, out)
