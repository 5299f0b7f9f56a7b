"""Numeric arguments read with Redis's rules (node/commands/args.py) rather than Python's
int()/float(), which take spaces, '+', leading zeros and '_' digit separators; and the two
places where Redis itself uses C's lenient atoi()/strtod() (DEBUG SET-ACTIVE-EXPIRE, DEBUG
SLEEP, the COMMAND GETKEYS fallback for numkeys)."""

from __future__ import annotations

import math
import time

import pytest

from node import errors
from node.commands.args import INT_MAX, INT_MIN, get_int
from node.commands.server_cmd import _atoi, _strtod
from tests.unit.sansio import Session, make_server

INT_RANGE = "ERR value is out of range, value must between -2147483648 and 2147483647"


def test_get_int_is_get_int_from_object_or_reply() -> None:
    assert get_int(b"0") == 0
    assert get_int(b"%d" % INT_MAX) == INT_MAX
    assert get_int(b"%d" % INT_MIN) == INT_MIN
    for bad in (b" 1", b"+1", b"1_0", b"01", b"", b"1.0", b"-0"):
        with pytest.raises(errors.CommandError, match=errors.NOT_INTEGER):
            get_int(bad)
    with pytest.raises(errors.CommandError, match=INT_RANGE):
        get_int(b"%d" % (INT_MAX + 1))
    with pytest.raises(errors.CommandError, match="ERR custom"):
        get_int(b"3000000000", "ERR custom")


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"1.5", 1.5),
        (b"  2", 2.0),
        (b"+2", 2.0),
        (b"0_5", 0.0),  # Python's float() would read 5
        (b"1_000", 1.0),
        (b".5e1x", 5.0),
        (b"1e", 1.0),
        (b"5.", 5.0),
        (b"0x10", 16.0),
        (b"-0x1p1", -2.0),
        (b"0x", 0.0),
        (b"-inf", -math.inf),
        (b"Infinity", math.inf),
        (b"abc", 0.0),
        (b"", 0.0),
        (b"\xa01", 0.0),  # not a C space
    ],
)
def test_strtod_reads_the_c_prefix(raw: bytes, value: float) -> None:
    assert _strtod(raw) == value


def test_strtod_nan() -> None:
    assert math.isnan(_strtod(b"nan"))


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"1", 1),
        (b" \t42x", 42),
        (b"+7", 7),
        (b"-3", -3),
        (b"1_0", 1),
        (b"abc", 0),
        (b"", 0),
        (b"4294967296", 0),  # strtol's long, cast to a 32-bit int
        (b"4294967295", -1),
        (b"9" * 30, -1),  # saturated to LONG_MAX, then cast
        (b"\xa01", 0),
    ],
)
def test_atoi_reads_the_c_prefix(raw: bytes, value: int) -> None:
    assert _atoi(raw) == value


def test_debug_sleep_does_not_read_underscores() -> None:
    s = Session(make_server("--enable-debug-command", "yes"))
    started = time.monotonic()
    assert s.run("DEBUG", "SLEEP", "0_9") == b"OK"  # strtod reads "0"
    assert s.run("DEBUG", "SLEEP", "inf") == b"OK"  # (long long)inf is negative in Redis
    assert s.run("DEBUG", "SLEEP", "1e300") == b"OK"
    assert s.run("DEBUG", "SLEEP", "nan") == b"OK"
    assert time.monotonic() - started < 0.5


def test_debug_set_active_expire_uses_atoi() -> None:
    s = Session(make_server("--enable-debug-command", "yes"))
    s.run("DEBUG", "SET-ACTIVE-EXPIRE", " 0x")
    assert s.server.active_expire_enabled is False
    s.run("DEBUG", "SET-ACTIVE-EXPIRE", "+1")
    assert s.server.active_expire_enabled is True
    s.run("DEBUG", "SET-ACTIVE-EXPIRE", "4294967296")
    assert s.server.active_expire_enabled is False


@pytest.mark.parametrize(
    ("argv", "error"),
    [
        (("SELECT", "3000000000"), INT_RANGE),
        (("SELECT", "+1"), errors.NOT_INTEGER),
        (("MOVE", "k", " 1"), errors.NOT_INTEGER),
        (("MOVE", "k", "1_0"), errors.NOT_INTEGER),
        (("MOVE", "k", "3000000000"), INT_RANGE),
        (("SWAPDB", "+1", "0"), "ERR invalid first DB index"),
        (("SWAPDB", "0", "3000000000"), "ERR invalid second DB index"),
        (("SWAPDB", "99", "x"), "ERR invalid second DB index"),
        (("SWAPDB", "99", "0"), errors.DB_INDEX),
        (("SLOWLOG", "GET", " 5"), "ERR count should be greater than or equal to -1"),
        (("SLOWLOG", "GET", "+5"), "ERR count should be greater than or equal to -1"),
        (("MEMORY", "USAGE", "k", "SAMPLES", "+5"), errors.NOT_INTEGER),
        (("MEMORY", "USAGE", "k", "SAMPLES", "-1"), errors.SYNTAX),
        (("DEBUG", "POPULATE", "+1"), "ERR value is out of range, must be positive"),
        (("DEBUG", "POPULATE", "1", "p", " 3"), "ERR value is out of range, must be positive"),
        (("COPY", "k", "k2", "DB", "+1"), errors.NOT_INTEGER),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_numeric_argument_errors(argv: tuple[str, ...], error: str) -> None:
    s = Session(make_server("--enable-debug-command", "yes"))
    s.run("SET", "k", "v")
    assert str(s.run(*argv)) == error
    assert s.client.db.id == 0 and s.run("GET", "k") == b"v"


def test_memory_usage_samples_may_repeat() -> None:
    s = Session()
    s.run("SET", "k", "v")
    assert isinstance(s.run("MEMORY", "USAGE", "k", "SAMPLES", "5", "SAMPLES", "0"), int)
    assert str(s.run("MEMORY", "USAGE", "k", "SAMPLES", "5", "SAMPLES")) == errors.SYNTAX


@pytest.mark.parametrize(
    ("argv", "keys"),
    [
        (("ZUNIONSTORE", "d", "2", "a", "b"), [b"d", b"a", b"b"]),  # the key-spec
        (("ZUNIONSTORE", "d", " 2", "a", "b"), [b"a", b"b", b"d"]),  # atoi fallback
        (("ZUNIONSTORE", "d", "1_0", "a", "b"), [b"a", b"d"]),
        (("ZUNION", "2abc", "a", "b"), [b"a", b"b"]),
        (("EVAL", "s", "+1", "a", "b"), [b"a"]),
        (("BLMPOP", "0", "1_0", "a", "b", "LEFT"), [b"a"]),
        (("EVAL", "s", "0"), []),  # EVAL's keys are not mandatory
        (("EVAL", "s", "x", "a"), []),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, tuple) else "",
)
def test_command_getkeys_numkeys(argv: tuple[str, ...], keys: list[bytes]) -> None:
    assert Session().run("COMMAND", "GETKEYS", *argv) == keys


def test_command_getkeys_invalid_numkeys() -> None:
    s = Session()
    reply = s.run("COMMAND", "GETKEYS", "ZUNION", "abc", "a", "b")
    assert str(reply) == "ERR Invalid arguments specified for command"
    reply = s.run("COMMAND", "GETKEYSANDFLAGS", "ZUNION", " 2", "a", "b")
    assert reply == [[b"a", []], [b"b", []]]
