"""The long double emulation behind INCRBYFLOAT, HINCRBYFLOAT and blocking timeouts."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.longdouble import LD_ZERO, ld_add, ld_ceil, ld_format_human, ld_mul, ld_parse


def _exact(value: tuple[int, int]) -> Fraction:
    m, e = value
    return Fraction(m) * Fraction(2) ** e


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        # outputs recorded from Redis 7.0.15 on x86-64
        ("10.5", "0.1", b"10.6"),
        ("10.1", "0.1", b"10.2"),
        ("1.6", "1e3", b"1001.59999999999999998"),
        ("-9223372036854775807", "1", b"-9223372036854775806"),
        (
            "0",
            "1e200",
            b"1"
            + b"0" * 19
            + b"2458586534161025661508068040050002887327500487325785432383926208372890736129198739813658147359652238566592960617854587787845326097835852628442219969983473365844529789269081145212928",
        ),
        ("0", "0.000003814697265625", b"0.00000381469726562"),  # a tie, rounded to even
        ("0x1p3", "1e-4950", b"8"),
        ("-1.5", "1.5", b"0"),
        ("0", "-1e-20", b"0"),
        ("0", "-0.000000000000000001", b"0"),
        ("0", "1e-30", b"0"),
        ("0", "0x10", b"16"),
        ("166", "-.5", b"165.5"),
        ("1.", ".5", b"1.5"),
    ],
)
def test_long_double_sums_match_redis(a: str, b: str, expected: bytes) -> None:
    x, y = ld_parse(a.encode()), ld_parse(b.encode())
    assert isinstance(x, tuple) and isinstance(y, tuple)
    total = ld_add(x, y)
    assert total is not None
    assert ld_format_human(total) == expected


def test_parse_refuses_what_string2ld_refuses() -> None:
    for bad in [
        b"",
        b" 1",
        b"1 ",
        b"1e",
        b".",
        b"0x",
        b"0x1p",
        b"nan",
        b"NaN(12)",
        b"1e-4951",  # underflows to zero: ERANGE
        b"1e4933",  # overflows: ERANGE
        b"1e5000",
        b"1e-5000",
        b"1" * 5119,  # overflows
        b"1" * 5120,  # MAX_LONG_DOUBLE_CHARS: too long for Redis's buffer
    ]:
        assert ld_parse(bad) is None, bad
    assert ld_parse(b"0x1p-16445") == (1, -16445)  # smallest subnormal
    assert ld_parse(b"0x1p-16446") is None  # rounds to zero: ERANGE
    # strtold stops at a NUL, and string2ld then sees it did not read the whole argument
    # (redis-server 7.0.15: INCRBYFLOAT/HINCRBYFLOAT say "not a valid float", BLPOP "timeout is
    # not a float").
    for bad in [b"1.5\x00junk", b"\x00junk", b"\x00", b"1\x00"]:
        assert ld_parse(bad) is None, bad
    assert ld_parse(b"-0") == LD_ZERO


def test_infinities_parse_and_cannot_be_added() -> None:
    assert ld_parse(b"inf") == float("inf")
    assert ld_parse(b"-Infinity") == float("-inf")
    one = ld_parse(b"1")
    assert isinstance(one, tuple)
    assert ld_add(float("inf"), one) is None
    assert ld_add(one, float("-inf")) is None
    big = ld_parse(b"1e4932")
    assert isinstance(big, tuple)
    assert ld_add(big, big) is None  # overflow


@given(st.integers(min_value=-(2**60), max_value=2**60), st.integers(0, 12))
def test_formats_dyadic_values_exactly(mantissa: int, shift: int) -> None:
    """mantissa / 2**shift is exact in long double and has at most 12 decimals, so parsing
    its exact decimal text and printing it with %.17Lf must give that text back."""
    scaled = abs(mantissa) * 5**shift  # mantissa / 2**shift == scaled / 10**shift
    digits = str(scaled).rjust(shift + 1, "0")
    text = digits[: len(digits) - shift] + ("." + digits[-shift:] if shift else "")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    if mantissa < 0 and text != "0":
        text = "-" + text
    value = ld_parse(text.encode())
    assert isinstance(value, tuple)
    assert ld_format_human(value) == text.encode()


@settings(max_examples=300)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_doubles_round_trip_exactly(value: float) -> None:
    """Every double is a long double: parsing its exact decimal expansion gives it back."""
    parsed = ld_parse(str(Decimal(value)).encode())
    if value == 0:
        assert parsed == (0, 0)
    else:
        assert isinstance(parsed, tuple)
        assert _exact(parsed) == Fraction(value)


@settings(max_examples=300)
@given(st.integers(min_value=-(10**40), max_value=10**40), st.integers(-60, 60))
def test_parse_rounds_to_the_nearest_64_bit_significand(digits: int, exp: int) -> None:
    value = Fraction(digits) * Fraction(10) ** exp
    parsed = ld_parse(f"{digits}e{exp}".encode())
    assert isinstance(parsed, tuple)
    if value == 0:
        assert parsed == (0, 0)
        return
    m, e = parsed
    assert 2**63 <= abs(m) < 2**64
    # within half a unit in the last place, and a tie would have gone to the even significand
    error = abs(_exact(parsed) - value)
    half_ulp = Fraction(2) ** e / 2
    assert error < half_ulp or (error == half_ulp and m % 2 == 0)


def test_mul_rounds_once_and_ceil_is_ceill() -> None:
    thousand = (1000, 0)
    minus_ms = ld_parse(b"-0.001")
    assert isinstance(minus_ms, tuple)
    product = ld_mul(minus_ms, thousand)
    assert product is not None
    # in long double, -0.001 * 1000 rounds to just above -1 (so a -0.001 s timeout is 0 ms)
    assert -1 < _exact(product) < 0
    assert ld_ceil(product) == 0
    assert ld_ceil((3, -1)) == 2  # 1.5
    assert ld_ceil((-3, -1)) == -1  # -1.5
    assert ld_ceil((5, 2)) == 20
    big = ld_parse(b"1e4932")
    assert isinstance(big, tuple)
    assert ld_mul(big, thousand) is None  # overflow
