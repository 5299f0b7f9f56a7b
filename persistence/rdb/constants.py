"""RDB opcodes, object type ids and the names redis-check-rdb gives them (rdb.h, 7.0)."""

from __future__ import annotations

from typing import Final

RDB_VERSION: Final = 10
MAGIC: Final = b"REDIS"

# Opcodes (spec §6): one byte in the key stream where a type id could stand.
OPCODE_SLOT_INFO: Final = 0xF4  # 7.4+ only: a 7.0 loader rejects it as an object type
OPCODE_FUNCTION2: Final = 0xF5
OPCODE_FUNCTION_PRE_GA: Final = 0xF6
OPCODE_MODULE_AUX: Final = 0xF7
OPCODE_IDLE: Final = 0xF8
OPCODE_FREQ: Final = 0xF9
OPCODE_AUX: Final = 0xFA
OPCODE_RESIZEDB: Final = 0xFB
OPCODE_EXPIRETIME_MS: Final = 0xFC
OPCODE_EXPIRETIME: Final = 0xFD
OPCODE_SELECTDB: Final = 0xFE
OPCODE_EOF: Final = 0xFF

# Object types (spec §7).
TYPE_STRING: Final = 0
TYPE_LIST: Final = 1
TYPE_SET: Final = 2
TYPE_ZSET: Final = 3
TYPE_HASH: Final = 4
TYPE_ZSET_2: Final = 5
TYPE_MODULE_PRE_GA: Final = 6
TYPE_MODULE_2: Final = 7
TYPE_HASH_ZIPMAP: Final = 9
TYPE_LIST_ZIPLIST: Final = 10
TYPE_SET_INTSET: Final = 11
TYPE_ZSET_ZIPLIST: Final = 12
TYPE_HASH_ZIPLIST: Final = 13
TYPE_LIST_QUICKLIST: Final = 14
TYPE_STREAM_LISTPACKS: Final = 15
TYPE_HASH_LISTPACK: Final = 16
TYPE_ZSET_LISTPACK: Final = 17
TYPE_LIST_QUICKLIST_2: Final = 18
TYPE_STREAM_LISTPACKS_2: Final = 19

# redis-check-rdb's rdb_type_string, for "Reading type N (name)" in error messages.
TYPE_NAMES: Final = (
    "string",
    "list-linked",
    "set-hashtable",
    "zset-v1",
    "hash-hashtable",
    "zset-v2",
    "module-pre-release",
    "module-value",
    "",
    "hash-zipmap",
    "list-ziplist",
    "set-intset",
    "zset-ziplist",
    "hash-ziplist",
    "quicklist",
    "stream",
    "hash-listpack",
    "zset-listpack",
    "quicklist-v2",
    "stream-v2",
)

# Quicklist node containers (quicklist.h).
QUICKLIST_NODE_PLAIN: Final = 1
QUICKLIST_NODE_PACKED: Final = 2

# Module data: what follows each opcode (RDB_MODULE_OPCODE_*), up to MODULE_OPCODE_EOF.
MODULE_OPCODE_EOF: Final = 0
MODULE_OPCODE_SINT: Final = 1
MODULE_OPCODE_UINT: Final = 2
MODULE_OPCODE_FLOAT: Final = 3
MODULE_OPCODE_DOUBLE: Final = 4
MODULE_OPCODE_STRING: Final = 5

# redis-check-rdb's "While doing:" words (rdb_check_doing_string).
DOING_START: Final = "start"
DOING_READ_TYPE: Final = "read-type"
DOING_READ_EXPIRE: Final = "read-expire"
DOING_READ_KEY: Final = "read-key"
DOING_READ_OBJECT_VALUE: Final = "read-object-value"
DOING_CHECK_SUM: Final = "check-sum"
DOING_READ_LEN: Final = "read-len"
DOING_READ_AUX: Final = "read-aux"
DOING_READ_MODULE_AUX: Final = "read-module-aux"
DOING_READ_FUNCTIONS: Final = "read-functions"


def type_name(type_id: int) -> str:
    """redis-check-rdb's name for an object type, or "unknown"."""
    if 0 <= type_id < len(TYPE_NAMES) and TYPE_NAMES[type_id]:
        return TYPE_NAMES[type_id]
    return "unknown"
