"""The shared argument parsers: Redis's string2ll rules, range checks and timeouts."""

from __future__ import annotations

import pytest

from node.commands.args import (
    get_ll,
    get_positive,
    get_range,
    parse_ll,
    parse_timeout,
    parse_timeout_ms,
)
from node.errors import CommandError

NOT_INTEGER = "ERR value is not an integer or out of range"


def message(call: object, *args: object) -> str:
    with pytest.raises(CommandError) as exc:
        call(*args)  # type: ignore[operator]
    return exc.value.message


# -- integers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"0", 0),
        (b"-1", -1),
        (b"9223372036854775807", 2**63 - 1),
        (b"-9223372036854775808", -(2**63)),
        (b"9223372036854775808", None),
        (b"-9223372036854775809", None),
        (b"-0", None),
        (b"01", None),
        (b"-01", None),
        (b"+1", None),
        (b" 1", None),
        (b"1 ", None),
        (b"1.0", None),
        (b"1_0", None),
        (b"", None),
        (b"-", None),
        (b"1" * 5000, None),  # beyond Python's int() digit limit: refused, not an exception
        (b"-" + b"1" * 5000, None),
        ("\N{ARABIC-INDIC DIGIT ONE}".encode(), None),
    ],
)
def test_parse_ll_is_string2ll(raw: bytes, value: int | None) -> None:
    assert parse_ll(raw) == value


def test_integer_errors_carry_redis_texts() -> None:
    assert get_ll(b"-42") == -42
    assert message(get_ll, b"x") == NOT_INTEGER
    assert message(get_ll, b"x", "ERR hash value is not an integer") == (
        "ERR hash value is not an integer"
    )
    # getRangeLongFromObjectOrReply: without a message, two texts; with one, that one
    assert get_range(b"5", 1, 10) == 5
    assert message(get_range, b"x", 1, 10) == NOT_INTEGER
    assert (
        message(get_range, b"0", 1, 10) == "ERR value is out of range, value must between 1 and 10"
    )
    assert message(get_range, b"x", 1, 10, "ERR numkeys") == "ERR numkeys"
    assert message(get_range, b"0", 1, 10, "ERR numkeys") == "ERR numkeys"
    # getPositiveLongFromObjectOrReply
    assert get_positive(b"0") == 0
    assert message(get_positive, b"-1") == "ERR value is out of range, must be positive"
    assert message(get_positive, b"x") == "ERR value is out of range, must be positive"
    assert message(get_positive, b"-1", "ERR LIMIT can't be negative") == (
        "ERR LIMIT can't be negative"
    )


# -- timeouts ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (b"0", 0),
        (b"1.5", 1.5),
        (b"0.0001", 0.001),  # ceil to the millisecond
        (b"-0.0001", 0),  # ceil(-0.1 ms) is 0: blocks forever, as in Redis
        (b"-0.001", 0),  # the long double product is just above -1 ms
        (b"0.0009999999999999999999", 0.001),
        (b"1e-300", 0.001),
        (b"0x10p-10", 0.016),
        (b"0x1p-16440", 0.001),  # a subnormal long double, still 1 ms in Redis
        (b"1.83e-4951", 0.001),  # just above half the smallest subnormal
        (b".5", 0.5),
        (b"3.", 3),
    ],
)
def test_timeout_parsing(raw: bytes, seconds: float) -> None:
    assert parse_timeout(raw) == seconds


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        # replies of redis-server 7.0.15 to BLPOP missing <timeout>
        (b"abc", "ERR timeout is not a float or out of range"),
        (b"", "ERR timeout is not a float or out of range"),
        (b" 1", "ERR timeout is not a float or out of range"),
        (b"1 ", "ERR timeout is not a float or out of range"),
        (b"nan", "ERR timeout is not a float or out of range"),
        (b"1e99999", "ERR timeout is not a float or out of range"),
        (b"1_0", "ERR timeout is not a float or out of range"),
        (b"0.01\x00junk", "ERR timeout is not a float or out of range"),
        (b"1.81e-4951", "ERR timeout is not a float or out of range"),  # underflows to 0
        (b"0x1p99999", "ERR timeout is not a float or out of range"),  # beyond LDBL_MAX
        (b"0x" + b"1" * 5200, "ERR timeout is not a float or out of range"),  # too long
        (b"-1", "ERR timeout is negative"),
        (b"-0.002", "ERR timeout is negative"),
        (b"--1", "ERR timeout is not a float or out of range"),
        (b"+-inf", "ERR timeout is not a float or out of range"),
        (b"inf", "ERR timeout is negative"),
        (b"-Infinity", "ERR timeout is negative"),
        (b"1e300", "ERR timeout is negative"),  # ms beyond LLONG_MAX cast to LLONG_MIN
        (b"0x1p1100", "ERR timeout is negative"),  # beyond DBL_MAX, a long double still
        (b"9.3e15", "ERR timeout is negative"),
    ],
)
def test_timeout_errors(raw: bytes, text: str) -> None:
    assert message(parse_timeout, raw) == text


def test_millisecond_timeouts() -> None:
    now = 1_700_000_000_000
    assert parse_timeout_ms(b"0", now) == 0
    assert parse_timeout_ms(b"1500", now) == 1500
    assert message(parse_timeout_ms, b"+1", now) == "ERR timeout is not an integer or out of range"
    assert message(parse_timeout_ms, b"1.5", now) == "ERR timeout is not an integer or out of range"
    assert message(parse_timeout_ms, b"-1", now) == "ERR timeout is negative"
    assert parse_timeout_ms(b"%d" % (2**63 - 1 - now), now) == 2**63 - 1 - now
    assert message(parse_timeout_ms, b"%d" % (2**63 - now), now) == "ERR timeout is out of range"
