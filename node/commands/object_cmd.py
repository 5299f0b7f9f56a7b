"""OBJECT ENCODING / FREQ / IDLETIME / REFCOUNT / HELP: introspection of a key's value.

keelkv stores values as Python objects, so ENCODING reports what Redis 7.0 would choose for
the same value under the same *-max-* settings: strings int / embstr (<= 44 bytes) / raw,
lists quicklist, hashes listpack / hashtable, sets intset / hashtable (7.0 has no listpack
sets), zsets listpack / skiplist. Redis's encoding also depends on history: a zset records
it (node/zset.py), but keelkv does not for the others: APPEND, SETRANGE and SETBIT leave a
raw string however short, and a hash or set converted to hashtable stays so after
shrinking; keelkv reports those by value. DEBUG OBJECT reports the same encoding.

REFCOUNT follows Redis's shared integers: a string holding 0..9999 is the shared object
(refcount INT_MAX) unless maxmemory is set with an LRU or LFU policy, which disables sharing.
"""

from __future__ import annotations

from typing import Any, Final

from node import errors
from node.client import Client
from node.commands.args import parse_ll
from node.commands.client_cmd import help_reply
from node.commands.table import command, subcommand
from node.config import Config
from node.evict import idle_seconds, is_lfu_policy, lfu_frequency, sync_databases
from node.keyspace import Database
from node.zset import ZSet
from persistence.rdb.limits import EncodingLimits, hash_is_listpack, set_is_intset

# Redis's OBJ_ENCODING_EMBSTR_SIZE_LIMIT and OBJ_SHARED_INTEGERS.
EMBSTR_SIZE_LIMIT: Final = 44
SHARED_INTEGERS: Final = 10000
SHARED_REFCOUNT: Final = 2147483647  # OBJ_SHARED_REFCOUNT

FREQ_ERROR: Final = (
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note "
    "that when switching between policies at runtime LRU and LFU data will take some time to "
    "adjust."
)
IDLETIME_ERROR: Final = (
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when "
    "switching between policies at runtime LRU and LFU data will take some time to adjust."
)

OBJECT_HELP: Final = [
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
]

KEY_CATS: Final = "keyspace read slow"


# Redis's string2l: on a 64-bit build a long is a long long, so it is string2ll.
as_long = parse_ll


def encoding(value: Any, config: Config) -> bytes:
    """The encoding Redis 7.0 would report for `value` (see the module docstring)."""
    t = type(value)
    if t is bytes:
        if as_long(value) is not None:
            return b"int"
        return b"embstr" if len(value) <= EMBSTR_SIZE_LIMIT else b"raw"
    if t is dict:
        listpack = hash_is_listpack(value, EncodingLimits.from_config(config))
        return b"listpack" if listpack else b"hashtable"
    if t is set:
        return (
            b"intset" if set_is_intset(value, EncodingLimits.from_config(config)) else b"hashtable"
        )
    if t is ZSet:
        # A zset knows its encoding: Redis converts one to skiplist and never back.
        return value.encoding
    return b"quicklist"


def refcount(value: Any, config: Config) -> int:
    if type(value) is bytes:
        number = as_long(value)
        if (
            number is not None
            and 0 <= number < SHARED_INTEGERS
            and not (config.maxmemory and config.maxmemory_policy.endswith(("lru", "lfu")))
        ):
            return SHARED_REFCOUNT
    return 1


def _lookup(c: Client, key: bytes) -> tuple[Database, Any]:
    """objectCommandLookup: counts a hit or miss but is not an access (LOOKUP_NOTOUCH)."""
    return c.db, c.db.lookup_notouch(key)


@command("object", -2, "", categories="slow")
def object_(c: Client, argv: list[bytes]) -> Any:  # pragma: no cover - subcommands answer
    raise errors.unknown_subcommand(argv[1].decode("utf-8", "replace"), "object")


@subcommand("object", "encoding", 3, "readonly", 2, 2, 1, categories=KEY_CATS)
def object_encoding(c: Client, argv: list[bytes]) -> Any:
    _, value = _lookup(c, argv[2])
    if value is None:
        return None
    return encoding(value, c.server.config)


@subcommand("object", "refcount", 3, "readonly", 2, 2, 1, categories=KEY_CATS)
def object_refcount(c: Client, argv: list[bytes]) -> Any:
    _, value = _lookup(c, argv[2])
    if value is None:
        return None
    return refcount(value, c.server.config)


@subcommand("object", "idletime", 3, "readonly", 2, 2, 1, categories=KEY_CATS)
def object_idletime(c: Client, argv: list[bytes]) -> Any:
    db, value = _lookup(c, argv[2])
    if value is None:
        return None
    server = c.server
    if is_lfu_policy(server.config.maxmemory_policy):
        raise errors.CommandError(IDLETIME_ERROR)
    sync_databases(server)
    return idle_seconds(db, argv[2])


@subcommand("object", "freq", 3, "readonly", 2, 2, 1, categories=KEY_CATS)
def object_freq(c: Client, argv: list[bytes]) -> Any:
    db, value = _lookup(c, argv[2])
    if value is None:
        return None
    server = c.server
    if not is_lfu_policy(server.config.maxmemory_policy):
        raise errors.CommandError(FREQ_ERROR)
    sync_databases(server)
    return lfu_frequency(db, argv[2])


@subcommand("object", "help", 2, "loading stale", categories="keyspace slow")
def object_help(c: Client, argv: list[bytes]) -> Any:
    return help_reply(argv[0], OBJECT_HELP)
