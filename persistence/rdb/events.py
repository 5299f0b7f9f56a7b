"""What RdbDecoder.next_event returns: one value per record of the RDB stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


@dataclass(frozen=True, slots=True)
class Aux:
    """An AUX field (opcode FA): redis-ver, ctime, repl-id, ... (values as decoded text)."""

    key: bytes
    value: bytes


@dataclass(frozen=True, slots=True)
class SelectDb:
    """SELECTDB (FE): the following keys belong to database `db`."""

    db: int


@dataclass(frozen=True, slots=True)
class ResizeDb:
    """RESIZEDB (FB): size hints for the selected database."""

    keys: int
    expires: int


class KeyRecord:
    """One key. `value` is None for an empty collection, which Redis skips with a warning.

    `expire_ms` is absolute unix milliseconds (FD seconds are converted); `idle` (seconds,
    F8) and `freq` (LFU counter, F9) are present only when the writer recorded them.

    Not a dataclass, unlike the other events: one is built per key, and a frozen
    dataclass costs ~0.7 us to build even under mypyc, where this class costs ~0.03 us.
    Its attributes are Final: read-only when compiled, by convention in plain Python.
    """

    __slots__ = ("key", "value", "type_id", "expire_ms", "idle", "freq")
    __match_args__ = ("key", "value", "type_id", "expire_ms", "idle", "freq")

    def __init__(
        self,
        key: bytes,
        value: Any,
        type_id: int,
        expire_ms: int | None = None,
        idle: int | None = None,
        freq: int | None = None,
    ) -> None:
        self.key: Final = key
        self.value: Final = value
        self.type_id: Final = type_id
        self.expire_ms: Final = expire_ms
        self.idle: Final = idle
        self.freq: Final = freq

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeyRecord):
            return NotImplemented
        return (
            self.key == other.key
            and self.value == other.value
            and self.type_id == other.type_id
            and self.expire_ms == other.expire_ms
            and self.idle == other.idle
            and self.freq == other.freq
        )

    def __repr__(self) -> str:
        return (
            f"KeyRecord(key={self.key!r}, value={self.value!r}, type_id={self.type_id}, "
            f"expire_ms={self.expire_ms}, idle={self.idle}, freq={self.freq})"
        )


@dataclass(frozen=True, slots=True)
class FunctionLib:
    """FUNCTION2 (F5): the source of one function library."""

    code: bytes


@dataclass(frozen=True, slots=True)
class ModuleAux:
    """MODULE_AUX (F7), in check mode only: a module's auxiliary data, read and skipped.

    Returned once its header (module id, when_opcode, when) is read, before the data:
    redis-check-rdb reports "MODULE AUX for: <name>" at that point.
    """

    module_id: int
    name: str  # the module type name inside module_id


@dataclass(frozen=True, slots=True)
class End:
    """EOF (FF). `checksum_stored` 0 means the writer did not compute one (or version < 5);
    `checksum_computed` is 0 when the decoder was told not to check."""

    checksum_stored: int
    checksum_computed: int


Event = Aux | SelectDb | ResizeDb | KeyRecord | FunctionLib | ModuleAux | End
