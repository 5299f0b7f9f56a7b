"""C `long double` arithmetic, emulated exactly with Python integers (sans-IO).

Redis computes INCRBYFLOAT, HINCRBYFLOAT and blocking timeouts in `long double`: it parses
with strtold (string2ld), adds or multiplies in the FPU and prints with "%.17Lf"
(ld2string). A Python float is only a double, whose rounding differs (10.5 + 0.1 prints
10.59999999999999964 in double, 10.6 in long double), so a finite value is held here as
(significand, exponent) meaning significand * 2**exponent, and every operation is computed
exactly and rounded once to nearest-even, as the FPU does. An infinity is a Python float.

The format is the platform's `long double`, as Redis on the same machine has it: x87
extended (64-bit significand) on x86, IEEE quad on Linux/aarch64, double elsewhere.
"""

from __future__ import annotations

import platform
import re
from typing import Final

# <float.h>'s LDBL_MANT_DIG, LDBL_MIN_EXP and LDBL_MAX_EXP for this machine's long double.
_MACHINE: Final = platform.machine().lower()
if _MACHINE in ("x86_64", "amd64", "i386", "i686", "x86"):
    LDBL_MANT_DIG, LDBL_MIN_EXP, LDBL_MAX_EXP = 64, -16381, 16384  # x87 extended
elif _MACHINE in ("aarch64", "arm64") and platform.system() == "Linux":
    LDBL_MANT_DIG, LDBL_MIN_EXP, LDBL_MAX_EXP = 113, -16381, 16384  # IEEE quad
else:
    LDBL_MANT_DIG, LDBL_MIN_EXP, LDBL_MAX_EXP = 53, -1021, 1024  # long double is double

# Exponent range of the significand's last bit: on x87, 2**-16445 is the smallest
# subnormal and (2**64 - 1) * 2**16320 is LDBL_MAX.
LD_MIN_EXP: Final = LDBL_MIN_EXP - LDBL_MANT_DIG
LD_MAX_EXP: Final = LDBL_MAX_EXP - LDBL_MANT_DIG
_HIDDEN: Final = 1 << (LDBL_MANT_DIG - 1)
_CARRY: Final = 1 << LDBL_MANT_DIG
# Quick refusal of inputs far outside the range: a decimal value in [10**(m-1), 10**m) with
# m beyond these bounds, or a hex one of more binary digits than these, over/underflows.
_DEC_MAX: Final = int(LDBL_MAX_EXP * 0.30103) + 2
_DEC_MIN: Final = int(LD_MIN_EXP * 0.30103) - 2
_HEX_MAX: Final = LDBL_MAX_EXP + 16
_HEX_MIN: Final = LD_MIN_EXP - 15

MAX_LONG_DOUBLE_CHARS: Final = 5 * 1024  # string2ld refuses longer inputs
_DEC_RE: Final = re.compile(rb"([+-]?)(?:([0-9]+)\.?([0-9]*)|\.([0-9]+))(?:[eE]([+-]?[0-9]+))?")
_HEX_RE: Final = re.compile(
    rb"([+-]?)0[xX](?:([0-9a-fA-F]+)\.?([0-9a-fA-F]*)|\.([0-9a-fA-F]+))(?:[pP]([+-]?[0-9]+))?"
)
_INF_RE: Final = re.compile(rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)
_SPACE: Final = b" \t\n\v\f\r"
# Python refuses int <-> str conversions above 4300 digits; long doubles reach 4951.
_CHUNK: Final = 4000
_CHUNK_POW: Final = 10**_CHUNK

LongDouble = tuple[int, int]
LD_ZERO: Final[LongDouble] = (0, 0)


def _ld_round(num: int, den: int) -> LongDouble | None:
    """num/den (den > 0) rounded to the nearest long double; None when it overflows."""
    if num == 0:
        return LD_ZERO
    neg = num < 0
    a = -num if neg else num
    e = a.bit_length() - den.bit_length() - (LDBL_MANT_DIG - 1)
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


def _scaled(num: int, e: int) -> LongDouble | None:
    """num * 2**e rounded to the nearest long double; None when it overflows."""
    return _ld_round(num << e, 1) if e >= 0 else _ld_round(num, 1 << -e)


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


def _exponent(raw: bytes | None) -> int:
    """An exponent, clamped far beyond any finite long double (inputs are < 5120 chars)."""
    if not raw:
        return 0
    neg = raw[:1] == b"-"
    body = raw.lstrip(b"+-").lstrip(b"0")
    value = int(body) if body and len(body) <= 9 else (10**9 if body else 0)
    return -value if neg else value


def ld_parse(raw: bytes) -> LongDouble | float | None:
    """Redis's string2ld: strtold over the whole string; None if Redis refuses it.

    Accepted: what strtold reads (decimal, hex floats, inf/infinity). Refused: empty or
    over-long input, leading space, trailing bytes, NaN, and values that overflow or
    underflow to zero (ERANGE). A NUL byte is refused too: strtold stops there, and
    string2ld checks that it consumed the whole length. Infinity is returned as a float,
    since each caller gives it its own error.
    """
    if not raw or len(raw) >= MAX_LONG_DOUBLE_CHARS:
        return None
    if raw[0] in _SPACE:
        return None
    m = _DEC_RE.fullmatch(raw)
    hexadecimal = m is None
    if m is None:
        m = _HEX_RE.fullmatch(raw)
        if m is None:
            inf = _INF_RE.fullmatch(raw)
            if inf is not None:
                return float("-inf") if inf.group(1) == b"-" else float("inf")
            return None
    sign, whole, frac, only_frac, exp = m.groups()
    if only_frac is not None:  # ".5" or "0x.8"
        whole, frac = b"", only_frac
    digits = (whole + frac).lstrip(b"0")
    if not digits:
        return LD_ZERO
    if hexadecimal:
        x = _exponent(exp) - 4 * len(frac)
        bits = 4 * len(digits)
        if x + bits > _HEX_MAX or x + bits < _HEX_MIN:
            return None
        num = _int_from_digits(digits, 16)
        result = _scaled(-num if sign == b"-" else num, x)
    else:
        x = _exponent(exp) - len(frac)
        magnitude = x + len(digits)  # value is in [10**(magnitude-1), 10**magnitude)
        if magnitude > _DEC_MAX or magnitude < _DEC_MIN:
            return None
        num = _int_from_digits(digits)
        if sign == b"-":
            num = -num
        result = _ld_round(num * 10**x, 1) if x >= 0 else _ld_round(num, 10**-x)
    if result is None or result[0] == 0:  # ERANGE: overflow, or underflow to zero
        return None
    return result


def ld_add(a: LongDouble | float, b: LongDouble | float) -> LongDouble | None:
    """a + b rounded once, as the FPU does; None when the sum is infinite (an infinite
    operand, or overflow): Redis's "would produce NaN or Infinity"."""
    if isinstance(a, float) or isinstance(b, float):
        return None
    ma, ea = a
    mb, eb = b
    if ma == 0:
        return b
    if mb == 0:
        return a
    emin = min(ea, eb)
    return _scaled((ma << (ea - emin)) + (mb << (eb - emin)), emin)


def ld_mul(a: LongDouble, b: LongDouble) -> LongDouble | None:
    """a * b rounded once, as the FPU does; None on overflow."""
    return _scaled(a[0] * b[0], a[1] + b[1])


def ld_ceil(value: LongDouble) -> int:
    """C's ceill: the least integer not below `value`."""
    m, e = value
    return m << e if e >= 0 else -(-m >> -e)


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
