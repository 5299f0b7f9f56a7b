"""RdbError: one exception for every malformed or unsupported RDB input.

It carries what redis-check-rdb prints about a failure (offset, reason, "While doing:",
key and type being read) so the loader and keelkv-check-rdb can report it the same way.
"""

from __future__ import annotations

from persistence.rdb.constants import type_name


class RdbError(Exception):
    """A corrupt, truncated or unsupported RDB stream or DUMP payload."""

    def __init__(
        self,
        reason: str,
        offset: int = 0,
        doing: str = "start",
        key: bytes | None = None,
        type_id: int | None = None,
    ) -> None:
        self.reason = reason
        self.offset = offset
        self.doing = doing
        self.key = key
        self.type_id = type_id
        super().__init__(reason)

    def __str__(self) -> str:
        text = f"[offset {self.offset}] {self.reason} (while doing {self.doing}"
        if self.key is not None:
            text += ", reading key " + repr_key(self.key)
        if self.type_id is not None:
            text += f", reading type {self.type_id} ({type_name(self.type_id)})"
        return text + ")"


def repr_key(key: bytes, limit: int = 128) -> str:
    """A key quoted for one log line: printable ASCII as is, the rest escaped."""
    shown = key[:limit].decode("ascii", "backslashreplace")
    shown = "".join(ch if " " <= ch <= "~" else f"\\x{ord(ch):02x}" for ch in shown)
    return "'" + shown + ("...'" if len(key) > limit else "'")


class NeedMore(Exception):
    """Internal: a read of bytes [start, end) of the parsed buffer runs past its end.

    `end` is how far the input must reach before retrying; `start` is where the failed
    read began, which is how many bytes Redis's rio reader had consumed when it hit EOF
    (rioRead is all-or-nothing), so an EOF error reports that offset.
    """

    def __init__(self, start: int, end: int, reason: str | None = None) -> None:
        self.start = start
        self.end = end
        self.reason = reason  # what an EOF here is called, when not "Unexpected EOF ..."


class Corrupt(Exception):
    """Internal: malformed bytes found; `pos` is where Redis's reader stands when it
    notices (after the bad byte, blob or element), relative to the parsed buffer."""

    def __init__(self, reason: str, pos: int) -> None:
        self.reason = reason
        self.pos = pos
        super().__init__(reason)
