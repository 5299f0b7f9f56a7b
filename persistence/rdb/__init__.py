"""keelkv's sans-IO RDB version 10 codec, byte-compatible with Redis 7.0.

    RdbEncoder / encode_value / dump_payload        keelkv values -> RDB bytes
    RdbDecoder / decode_value / load_dump_payload   RDB bytes -> events and values
    EncodingLimits                                  the *-max-* settings both sides need

See /work/shared/spec/rdb.md for the format; modules: constants, errors, primitives
(lengths, strings, LZF), listpack, intset, ziplist, zipmap, values, encoder, decoder, dump.
"""

# ruff: noqa: E402  (the submodules are imported after `activate` chose where from)

from node._native import activate

# Compiled modules (scripts/build-native, when listed in node._native.NATIVE_MODULES)
# take precedence over these sources while they match them.
NATIVE = activate(__path__, "persistence/rdb")

from persistence.rdb.constants import RDB_VERSION
from persistence.rdb.decoder import RdbDecoder, decode_value
from persistence.rdb.dump import dump_payload, load_dump_payload
from persistence.rdb.encoder import RdbEncoder, encode_value
from persistence.rdb.errors import RdbError
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
from persistence.rdb.limits import EncodingLimits, hash_is_listpack, set_is_intset
from persistence.rdb.primitives import crc64

__all__ = [
    "RDB_VERSION",
    "Aux",
    "EncodingLimits",
    "End",
    "Event",
    "FunctionLib",
    "KeyRecord",
    "ModuleAux",
    "RdbDecoder",
    "RdbEncoder",
    "RdbError",
    "ResizeDb",
    "SelectDb",
    "crc64",
    "decode_value",
    "dump_payload",
    "encode_value",
    "hash_is_listpack",
    "load_dump_payload",
    "set_is_intset",
]
