"""*SCAN argument parsing shared by SCAN, HSCAN, SSCAN and ZSCAN."""

from __future__ import annotations

import pytest

from node.errors import CommandError
from node.scan import parse_cursor, parse_scan_options


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (b"0", 0),
        (b"", 0),
        (b"+5", 5),
        (b"+7", 7),
        (b"-1", 2**64 - 1),
        (b"-18446744073709551615", 1),
        (b"18446744073709551615", 2**64 - 1),
        (b"0" * 5000 + b"5", 5),  # leading zeros are free, however many
        (b"7\x00x", 7),  # strtoul stops at the NUL, which ends Redis's C string
        (b"\x00", 0),
        (b"18446744073709551616", None),
        (b"-18446744073709551616", None),
        (b"1" * 5000, None),
        (b" 1", None),
        (b"1 ", None),
        (b"x", None),
        (b"+", None),
        (b"-", None),
        (b"+-1", None),
        (b"0x1", None),
    ],
)
def test_cursor_is_strtoul(raw: bytes, value: int | None) -> None:
    if value is None:
        with pytest.raises(CommandError) as exc:
            parse_cursor(raw)
        assert exc.value.message == "ERR invalid cursor"
    else:
        assert parse_cursor(raw) == value


def test_scan_options() -> None:
    argv = [b"SCAN", b"0"]
    assert parse_scan_options(argv, 2) == (10, None, None)
    argv = [b"SCAN", b"0", b"match", b"a*", b"COUNT", b"5", b"TYPE", b"Hash"]
    assert parse_scan_options(argv, 2, with_type=True) == (5, b"a*", b"hash")
    assert parse_scan_options([b"HSCAN", b"h", b"0", b"MATCH", b"*"], 3) == (10, None, None)


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ([b"COUNT", b"0"], "ERR syntax error"),
        ([b"COUNT", b"x"], "ERR value is not an integer or out of range"),
        ([b"COUNT", b"+5"], "ERR value is not an integer or out of range"),
        ([b"MATCH"], "ERR syntax error"),
        ([b"TYPE", b"hash"], "ERR syntax error"),  # TYPE is SCAN's alone
        ([b"BOGUS", b"1"], "ERR syntax error"),
    ],
)
def test_scan_option_errors(options: list[bytes], text: str) -> None:
    with pytest.raises(CommandError) as exc:
        parse_scan_options([b"HSCAN", b"h", b"0", *options], 3)
    assert exc.value.message == text
