"""SRANDMEMBER / HRANDFIELD / ZRANDMEMBER with a huge negative (repeating) count.

keelkv builds a reply in memory, so a count asking for more than MAX_RANDOM_REPLY repeated
elements is refused with "ERR value is out of range" instead of hanging the server. Real
Redis 7.0.15 crashes on `ZRANDMEMBER z -9223372036854775807` (so this cannot be a
differential test); the missing-key and parse-error cases are in the differential tests.
"""

from __future__ import annotations

import time

import pytest

from node.commands.args import MAX_RANDOM_REPLY, repeat_count
from tests.unit.sansio import Session

OUT_OF_RANGE = "ERR value is out of range"
HUGE = str(-(2**63 - 1))
JUST_OVER = str(-(MAX_RANDOM_REPLY + 1))

FAMILIES = [
    (("ZADD", "k", "1", "a", "2", "b"), "ZRANDMEMBER", "WITHSCORES"),
    (("SADD", "k", "a", "b"), "SRANDMEMBER", None),
    (("HSET", "k", "a", "1", "b", "2"), "HRANDFIELD", "WITHVALUES"),
]
IDS = [name for _, name, _ in FAMILIES]


@pytest.mark.parametrize(("setup", "name", "option"), FAMILIES, ids=IDS)
@pytest.mark.parametrize("count", [HUGE, JUST_OVER])
def test_huge_negative_count_is_out_of_range(
    setup: tuple[str, ...], name: str, option: str | None, count: str
) -> None:
    s = Session()
    s.run(*setup)
    started = time.monotonic()
    assert str(s.run(name, "k", count)) == OUT_OF_RANGE
    if option is not None:
        assert str(s.run(name, "k", count, option)) == OUT_OF_RANGE
    assert time.monotonic() - started < 1
    assert s.run("PING") == b"PONG"


@pytest.mark.parametrize(("setup", "name", "option"), FAMILIES, ids=IDS)
def test_huge_negative_count_on_a_missing_key_is_empty(
    setup: tuple[str, ...], name: str, option: str | None
) -> None:
    s = Session()
    assert s.run(name, "missing", JUST_OVER) == []


@pytest.mark.parametrize(("setup", "name", "option"), FAMILIES, ids=IDS)
def test_negative_count_repeats(setup: tuple[str, ...], name: str, option: str | None) -> None:
    s = Session()
    s.run(*setup)
    reply = s.run(name, "k", "-7")
    assert len(reply) == 7 and set(reply) <= {b"a", b"b"}
    if option is not None:
        assert len(s.run(name, "k", "-7", option)) == 14


def test_repeat_count_limit() -> None:
    assert repeat_count(1) == 1
    assert repeat_count(-5) == 5
    assert repeat_count(-MAX_RANDOM_REPLY) == MAX_RANDOM_REPLY
    with pytest.raises(Exception, match=OUT_OF_RANGE):
        repeat_count(-MAX_RANDOM_REPLY - 1)
