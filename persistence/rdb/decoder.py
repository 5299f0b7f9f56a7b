"""RdbDecoder: a push-style, incremental RDB reader (file chunks or a replication stream).

Bytes go in with `feed`, records come out of `next_event` (None = need more bytes). The
decoder never re-reads much: a read that runs out of input records exactly how far it
needs to get (NeedMore.end) and `next_event` returns at once until that many bytes have
arrived; plain collections resume at their last complete element (values.ValueReader).
Fed chunks are joined only when a read needs them, so a huge value arriving in small
chunks is copied O(1) times.
"""

from __future__ import annotations

import struct
from typing import Final

from persistence.rdb.constants import (
    DOING_CHECK_SUM,
    DOING_READ_AUX,
    DOING_READ_EXPIRE,
    DOING_READ_FUNCTIONS,
    DOING_READ_KEY,
    DOING_READ_LEN,
    DOING_READ_MODULE_AUX,
    DOING_READ_OBJECT_VALUE,
    DOING_READ_TYPE,
    DOING_START,
    MAGIC,
    MODULE_OPCODE_DOUBLE,
    MODULE_OPCODE_EOF,
    MODULE_OPCODE_FLOAT,
    MODULE_OPCODE_SINT,
    MODULE_OPCODE_STRING,
    MODULE_OPCODE_UINT,
    OPCODE_AUX,
    OPCODE_EOF,
    OPCODE_EXPIRETIME,
    OPCODE_EXPIRETIME_MS,
    OPCODE_FREQ,
    OPCODE_FUNCTION2,
    OPCODE_FUNCTION_PRE_GA,
    OPCODE_IDLE,
    OPCODE_MODULE_AUX,
    OPCODE_RESIZEDB,
    OPCODE_SELECTDB,
    RDB_VERSION,
    TYPE_MODULE_2,
    TYPE_MODULE_PRE_GA,
    TYPE_STREAM_LISTPACKS,
    TYPE_STREAM_LISTPACKS_2,
    TYPE_STRING,
    type_name,
)
from persistence.rdb.errors import Corrupt, NeedMore, RdbError, repr_key
from persistence.rdb.events import (
    Aux,
    End,
    Event,
    FunctionLib,
    KeyRecord,
    ModuleAux,
    ResizeDb,
    SelectDb,
)
from persistence.rdb.limits import EncodingLimits
from persistence.rdb.primitives import crc64, read_len, read_len_lenient, read_string
from persistence.rdb.values import (
    BLOB_TYPES,
    COLLECTION_TYPES,
    ValueReader,
    blob_to_value,
    read_value,
)

_UNPACK_I64 = struct.Struct("<q").unpack_from
_UNPACK_I32 = struct.Struct("<i").unpack_from
_UNPACK_U64 = struct.Struct("<Q").unpack_from
EOF_REASON: Final = "Unexpected EOF reading RDB file"
_MODULE_CHARSET: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def c_atoi(digits: bytes) -> int:
    """C's atoi, as Redis reads the header's version: leading whitespace, a sign, then
    digits up to the first other byte (so "-001" is -1 and " 010" is 10)."""
    n = len(digits)
    i = 0
    while i < n and digits[i] in (32, 9, 10, 11, 12, 13):
        i += 1
    sign = 1
    if i < n and digits[i] in (43, 45):
        if digits[i] == 45:
            sign = -1
        i += 1
    value = 0
    while i < n and 48 <= digits[i] <= 57:
        value = value * 10 + digits[i] - 48
        i += 1
    return sign * value


def module_type_name(module_id: int) -> str:
    """moduleTypeNameByID: the 9-character module type name inside a 64-bit module id."""
    n = module_id >> 10
    chars = []
    for _ in range(9):
        chars.append(_MODULE_CHARSET[n & 63])
        n >>= 6
    return "".join(reversed(chars))


def skip_module_value(data: bytes, pos: int, name: str) -> int:
    """rdbLoadCheckModuleValue: module data read generically, opcode by opcode, up to its
    EOF opcode (unknown opcodes are passed over, as Redis does); returns the end.

    A read that runs out is named after what it was reading, as Redis reports it.
    """
    while True:
        opcode, pos = read_len_lenient(data, pos)
        if opcode == MODULE_OPCODE_EOF:
            return pos
        try:
            if opcode in (MODULE_OPCODE_SINT, MODULE_OPCODE_UINT):
                _, pos = read_len_lenient(data, pos)
            elif opcode == MODULE_OPCODE_STRING:
                _, pos = read_string(data, pos)
            elif opcode in (MODULE_OPCODE_FLOAT, MODULE_OPCODE_DOUBLE):
                end = pos + (4 if opcode == MODULE_OPCODE_FLOAT else 8)
                if end > len(data):
                    raise NeedMore(pos, end)
                pos = end
        except NeedMore as more:
            what = _MODULE_READS.get(opcode, "integer")
            raise NeedMore(
                more.start, more.end, f"Error reading {what} from module {name} value"
            ) from None


def _read_module_id(data: bytes, pos: int) -> tuple[str, int]:
    """A module value's module id, as its module type name; (name, next position)."""
    try:
        module_id, pos = read_len_lenient(data, pos)
    except NeedMore as more:
        raise NeedMore(more.start, more.end, "Short read module id") from None
    return module_type_name(module_id), pos


_MODULE_READS: Final = {
    MODULE_OPCODE_STRING: "string",
    MODULE_OPCODE_FLOAT: "float",
    MODULE_OPCODE_DOUBLE: "double",
}


class _Failure(Exception):
    """Internal: a Corrupt with the stage it happened in."""

    def __init__(
        self, reason: str, pos: int, doing: str, key: bytes | None, type_id: int | None
    ) -> None:
        self.reason = reason
        self.pos = pos
        self.doing = doing
        self.key = key
        self.type_id = type_id


class _Pending:
    """A key whose plain-collection value is partly read."""

    __slots__ = ("key", "type_id", "expire_ms", "idle", "freq", "reader")

    def __init__(
        self,
        key: bytes,
        type_id: int,
        expire_ms: int | None,
        idle: int | None,
        freq: int | None,
        reader: ValueReader,
    ) -> None:
        self.key = key
        self.type_id = type_id
        self.expire_ms = expire_ms
        self.idle = idle
        self.freq = freq
        self.reader = reader


class RdbDecoder:
    """Incremental RDB reader: `feed` bytes, take events from `next_event`, then `close`.

    `check_mode` reads module data as redis-check-rdb does instead of refusing it (no
    module is loaded to make sense of it): MODULE_AUX records come out as ModuleAux
    events, and keys of type 7 (module-2) as KeyRecords whose value is the module type
    name; either's data is skipped.
    """

    def __init__(
        self, limits: EncodingLimits, *, check_crc: bool = True, check_mode: bool = False
    ) -> None:
        self.limits = limits
        self.check_crc = check_crc
        self.check_mode = check_mode
        self.version = 0
        self._data = b""  # working buffer; bytes before _pos are consumed
        self._pos = 0
        self._base = 0  # stream offset of _data[0]
        self._chunks: list[bytes] = []
        self._chunks_len = 0
        self._need = 0  # stream offset the last read needed to reach
        self._crc = 0
        self._crc_pos = 0  # _data[_crc_pos:_pos] is consumed but not yet in _crc
        self._header_done = False
        self._done = False
        self._pending: _Pending | None = None
        # Check mode: the module whose MODULE_AUX data follows (ModuleAux was returned).
        self._module_aux: str | None = None
        # True when next_event may try its fast path: header read, no partial value,
        # no error, not finished, no outstanding need.
        self._ready = False
        self._error: RdbError | None = None
        # Where the last read ran out of input, for close()'s error: the stream offset the
        # failed read began at (what Redis's rio had consumed), the stage, key and type.
        self._eof_offset = 0
        self._eof_reason = EOF_REASON
        self._eof_doing = DOING_START
        self._eof_key: bytes | None = None
        self._eof_type: int | None = None

    @property
    def offset(self) -> int:
        """Bytes consumed so far."""
        return self._base + self._pos

    @property
    def finished(self) -> bool:
        """True once End was returned."""
        return self._done

    def unconsumed(self) -> bytes:
        """Bytes fed but not consumed: after End, whatever followed the RDB (the RESP
        commands of an old AOF with an RDB preamble, or a replication stream's EOF mark)."""
        return self._data[self._pos :] + b"".join(self._chunks)

    def feed(self, data: bytes) -> None:
        """More input (copied if it is not `bytes`, so the caller may reuse its buffer)."""
        if data:
            self._chunks.append(bytes(data))
            self._chunks_len += len(data)

    def close(self) -> None:
        """No more input (call after next_event returned None). Raises RdbError unless
        End was returned; an EOF error's offset is where the read that ran out began."""
        if self._error is not None:
            raise self._error
        if not self._done:
            self._error = RdbError(
                self._eof_reason,
                self._eof_offset,
                self._eof_doing,
                self._eof_key,
                self._eof_type,
            )
            raise self._error

    def next_event(self) -> Event | None:
        """The next record, or None when more bytes are needed (or after End)."""
        if self._ready:
            # Fast path for the commonest record: [FC expire] type 0, a short raw key, and
            # any string value. Anything else, or running out of bytes, takes the slow path.
            data = self._data
            pos = self._pos
            size = len(data)
            expire_ms: int | None = None
            if pos + 10 <= size and data[pos] == OPCODE_EXPIRETIME_MS:
                expire_ms = _UNPACK_I64(data, pos + 1)[0]
                pos += 9
            if pos + 3 <= size and data[pos] == TYPE_STRING:
                b = data[pos + 1]
                if b < 0x40:
                    kend = pos + 2 + b
                    if kend < size:
                        c = data[kend]
                        if c < 0x40:
                            vend = kend + 1 + c
                            if vend <= size:
                                self._pos = vend
                                return KeyRecord(
                                    data[pos + 2 : kend],
                                    data[kend + 1 : vend],
                                    TYPE_STRING,
                                    expire_ms,
                                )
                        else:
                            try:
                                value, vend = read_string(data, kend)
                            except (NeedMore, Corrupt):
                                return self._next_slow()
                            self._pos = vend
                            return KeyRecord(data[pos + 2 : kend], value, TYPE_STRING, expire_ms)
        return self._next_slow()

    def _next_slow(self) -> Event | None:
        if self._error is not None:
            raise self._error
        if self._done:
            return None
        need = self._need
        if need:
            if need > self._base + len(self._data) + self._chunks_len:
                return None
            self._need = 0
            if self._chunks:
                self._merge()
        while True:
            try:
                if self._pending is not None:
                    event = self._resume_pending()
                elif self._module_aux is not None:
                    event = self._skip_module_aux(self._module_aux)
                elif self._header_done:
                    event = self._read_record()
                else:
                    event = self._read_header()
                self._ready = self._pending is None and self._module_aux is None and not self._done
                return event
            except NeedMore as more:
                self._ready = False
                self._eof_offset = self._base + more.start
                self._eof_reason = more.reason or EOF_REASON
                need = self._base + more.end
                if need > self._base + len(self._data) + self._chunks_len:
                    self._need = need
                    return None
                self._merge()
            except _Failure as f:
                self._ready = False
                self._error = RdbError(f.reason, self._base + f.pos, f.doing, f.key, f.type_id)
                raise self._error from None

    def _merge(self) -> None:
        """Drop consumed bytes and append the fed chunks to the working buffer."""
        data = self._data
        pos = self._pos
        if self.check_crc and pos > self._crc_pos:
            self._crc = crc64(memoryview(data)[self._crc_pos : pos], self._crc)
        chunks = self._chunks
        if pos < len(data):
            chunks.insert(0, data[pos:])
        self._data = b"".join(chunks) if len(chunks) != 1 else chunks[0]
        self._chunks = []
        self._chunks_len = 0
        self._base += pos
        self._pos = 0
        self._crc_pos = 0
        if self._pending is not None:
            self._pending.reader.rebase(pos)

    def _read_header(self) -> Event:
        data = self._data
        if len(data) < 9:
            self._eof_doing = DOING_START
            raise NeedMore(0, 9)
        # Redis reads the 9 header bytes in one go, then checks them: errors are at 9.
        if data[:5] != MAGIC:
            raise _Failure(
                "Wrong signature trying to load DB from file", 9, DOING_START, None, None
            )
        version = c_atoi(data[5:9])
        if version < 1 or version > RDB_VERSION:
            raise _Failure(f"Can't handle RDB format version {version}", 9, DOING_START, None, None)
        self.version = version
        self._header_done = True
        self._pos = 9
        return self._read_record()

    def _resume_pending(self) -> Event:
        p = self._pending
        assert p is not None
        reader = p.reader
        try:
            value = reader.step(self._data)
        except NeedMore:
            self._pos = reader.pos
            self._eof_doing = DOING_READ_OBJECT_VALUE
            self._eof_key = p.key
            self._eof_type = p.type_id
            raise
        except Corrupt as c:
            raise _Failure(c.reason, c.pos, DOING_READ_OBJECT_VALUE, p.key, p.type_id) from None
        self._pending = None
        self._pos = reader.pos
        return KeyRecord(p.key, value, p.type_id, p.expire_ms, p.idle, p.freq)

    def _read_record(self) -> Event:
        data = self._data
        pos = self._pos
        doing = DOING_READ_TYPE
        key: bytes | None = None
        type_id: int | None = None
        expire_ms: int | None = None
        idle: int | None = None
        freq: int | None = None
        try:
            while True:
                if pos >= len(data):
                    raise NeedMore(pos, pos + 1)
                op = data[pos]
                if op == TYPE_STRING:
                    doing = DOING_READ_KEY
                    type_id = TYPE_STRING
                    key, p = read_string(data, pos + 1)
                    doing = DOING_READ_OBJECT_VALUE
                    value, p = read_string(data, p)
                    self._pos = p
                    return KeyRecord(key, value, TYPE_STRING, expire_ms, idle, freq)
                if op < OPCODE_FUNCTION2:
                    break
                if op == OPCODE_EXPIRETIME_MS:
                    doing = DOING_READ_EXPIRE
                    if pos + 9 > len(data):
                        raise NeedMore(pos + 1, pos + 9)
                    expire_ms = _UNPACK_I64(data, pos + 1)[0]
                    pos += 9
                    doing = DOING_READ_TYPE
                elif op == OPCODE_EXPIRETIME:
                    doing = DOING_READ_EXPIRE
                    if pos + 5 > len(data):
                        raise NeedMore(pos + 1, pos + 5)
                    expire_ms = _UNPACK_I32(data, pos + 1)[0] * 1000
                    pos += 5
                    doing = DOING_READ_TYPE
                elif op == OPCODE_IDLE:
                    idle, pos = read_len(data, pos + 1)
                elif op == OPCODE_FREQ:
                    if pos + 2 > len(data):
                        raise NeedMore(pos + 1, pos + 2)
                    freq = data[pos + 1]
                    pos += 2
                elif op == OPCODE_SELECTDB:
                    doing = DOING_READ_LEN
                    db, p = read_len(data, pos + 1)
                    self._pos = p
                    return SelectDb(db)
                elif op == OPCODE_RESIZEDB:
                    doing = DOING_READ_LEN
                    keys, p = read_len(data, pos + 1)
                    expires, p = read_len(data, p)
                    self._pos = p
                    return ResizeDb(keys, expires)
                elif op == OPCODE_AUX:
                    doing = DOING_READ_AUX
                    k, p = read_string(data, pos + 1)
                    v, p = read_string(data, p)
                    self._pos = p
                    return Aux(k, v)
                elif op == OPCODE_FUNCTION2:
                    doing = DOING_READ_FUNCTIONS
                    code, p = read_string(data, pos + 1)
                    self._pos = p
                    return FunctionLib(code)
                elif op == OPCODE_EOF:
                    doing = DOING_CHECK_SUM
                    return self._read_eof(data, pos)
                elif op == OPCODE_FUNCTION_PRE_GA:
                    doing = DOING_READ_FUNCTIONS
                    raise Corrupt("Pre-release function format not supported.", pos + 1)
                elif op == OPCODE_MODULE_AUX:
                    doing = DOING_READ_MODULE_AUX
                    module_id, p = read_len_lenient(data, pos + 1)
                    when_opcode, p = read_len_lenient(data, p)
                    _, p = read_len_lenient(data, p)
                    if when_opcode != MODULE_OPCODE_UINT:
                        raise Corrupt("bad when_opcode", p)
                    name = module_type_name(module_id)
                    if not self.check_mode:
                        # Like rdbLoadRio with no module to hand the data to.
                        raise Corrupt(
                            "The RDB file contains AUX module data I can't load: no matching "
                            f"module '{name}'",
                            p,
                        )
                    self._pos = p
                    self._module_aux = name
                    return ModuleAux(module_id, name)
                else:
                    raise Corrupt(f"Invalid object type: {op}", pos + 1)
        except NeedMore:
            self._eof_doing = doing
            self._eof_key = key
            self._eof_type = type_id
            raise
        except Corrupt as c:
            raise _Failure(c.reason, c.pos, doing, key, type_id) from None
        return self._read_key(data, pos, op, expire_ms, idle, freq)

    def _read_key(
        self,
        data: bytes,
        pos: int,
        type_id: int,
        expire_ms: int | None,
        idle: int | None,
        freq: int | None,
    ) -> Event:
        """A key of object type `type_id` (not a string) starting at `pos`."""
        doing = DOING_READ_TYPE
        key: bytes | None = None
        try:
            blob_type = type_id in BLOB_TYPES
            if not blob_type and type_id not in COLLECTION_TYPES:
                if type_id in (
                    TYPE_MODULE_PRE_GA,
                    TYPE_MODULE_2,
                    TYPE_STREAM_LISTPACKS,
                    TYPE_STREAM_LISTPACKS_2,
                ):
                    doing = DOING_READ_KEY
                    key, p = read_string(data, pos + 1)
                    doing = DOING_READ_OBJECT_VALUE
                    if type_id in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
                        raise Corrupt(
                            f"Key {repr_key(key)} holds a stream (type {type_id} "
                            f"{type_name(type_id)}): streams are not supported by keelkv",
                            p,
                        )
                    name, p = _read_module_id(data, p)
                    if type_id == TYPE_MODULE_2 and self.check_mode:
                        self._pos = skip_module_value(data, p, name)
                        return KeyRecord(key, name.encode(), type_id, expire_ms, idle, freq)
                    # Refused after the module id, like rdbLoadObject without the module.
                    raise Corrupt(
                        f"Key {repr_key(key)} holds module data (type {type_id} "
                        f"{type_name(type_id)}): The RDB file contains module data I can't "
                        f"load: no matching module type '{name}'",
                        p,
                    )
                raise Corrupt(f"Invalid object type: {type_id}", pos + 1)
            doing = DOING_READ_KEY
            key, p = read_string(data, pos + 1)
            doing = DOING_READ_OBJECT_VALUE
            if blob_type:
                blob, end = read_string(data, p)
                value = blob_to_value(type_id, blob, end, self.limits)
                self._pos = end
                return KeyRecord(key, value, type_id, expire_ms, idle, freq)
            reader = ValueReader(type_id, self.limits, p)
            self._pending = _Pending(key, type_id, expire_ms, idle, freq, reader)
            self._pos = p
        except NeedMore:
            self._eof_doing = doing
            self._eof_key = key
            self._eof_type = type_id
            raise
        except Corrupt as c:
            raise _Failure(c.reason, c.pos, doing, key, type_id) from None
        return self._resume_pending()

    def _skip_module_aux(self, name: str) -> Event:
        """Check mode: pass over the data of the MODULE_AUX whose header was returned."""
        try:
            self._pos = skip_module_value(self._data, self._pos, name)
        except NeedMore:
            self._eof_doing = DOING_READ_MODULE_AUX
            self._eof_key = None
            self._eof_type = None
            raise
        except Corrupt as c:
            raise _Failure(c.reason, c.pos, DOING_READ_MODULE_AUX, None, None) from None
        self._module_aux = None
        return self._read_record()

    def _read_eof(self, data: bytes, pos: int) -> End:
        stored = 0
        end = pos + 1
        if self.version >= 5:
            end = pos + 9
            if end > len(data):
                raise NeedMore(pos + 1, end)
            stored = _UNPACK_U64(data, pos + 1)[0]
        computed = 0
        if self.check_crc:
            computed = crc64(memoryview(data)[self._crc_pos : pos + 1], self._crc)
            if stored != 0 and stored != computed:
                raise _Failure("RDB CRC error", end, DOING_CHECK_SUM, None, None)
        self._pos = end
        self._crc_pos = end
        self._done = True
        return End(stored, computed)


def decode_value(type_id: int, data: bytes, limits: EncodingLimits) -> object:
    """The value serialized in `data` (exactly one value of type `type_id`).

    Returns None for an empty collection (see values.py); raises RdbError otherwise.
    """
    if type_id in (TYPE_STREAM_LISTPACKS, TYPE_STREAM_LISTPACKS_2):
        raise RdbError(
            f"Type {type_id} ({type_name(type_id)}): streams are not supported by keelkv",
            0,
            DOING_READ_OBJECT_VALUE,
            None,
            type_id,
        )
    if type_id not in BLOB_TYPES and type_id not in COLLECTION_TYPES:
        raise RdbError(f"Invalid object type: {type_id}", 0, DOING_READ_TYPE, None, type_id)
    data = bytes(data)
    try:
        value, end = read_value(type_id, data, 0, limits)
    except NeedMore as more:
        raise RdbError(EOF_REASON, more.start, DOING_READ_OBJECT_VALUE, None, type_id) from None
    except Corrupt as c:
        raise RdbError(c.reason, c.pos, DOING_READ_OBJECT_VALUE, None, type_id) from None
    if end != len(data):
        raise RdbError(
            f"{len(data) - end} bytes after the value", end, DOING_READ_OBJECT_VALUE, None, type_id
        )
    return value
