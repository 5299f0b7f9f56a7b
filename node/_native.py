"""The mypyc-compiled hot path, loaded only when it matches the sources.

`scripts/build-native` compiles NATIVE_MODULES with mypyc into build/native/ and records a
digest of their sources. At import, `activate` puts build/native/ ahead of the source tree
only if that digest still matches, so an edited module never runs as a stale binary: a
checkout without a compiler, or with changed sources, runs as plain Python.
Set KEELKV_PURE_PYTHON=1 to force plain Python.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NATIVE_DIR = ROOT / "build" / "native"
STAMP = NATIVE_DIR / "SOURCES.sha256"

# The synchronous parse -> dispatch -> handler -> reply path (perf-notes.md).
NATIVE_MODULES = [
    "node/resp.py",
    "node/errors.py",
    "node/dispatch.py",
    "node/keyspace.py",
    "node/zset.py",
    "node/propagate.py",
    "node/blocking.py",
    "node/client.py",
    "node/server.py",
    "node/connection.py",
    "node/hub.py",
    "node/scan.py",
    "node/evict.py",
    "node/memory.py",
    "node/longdouble.py",
    "node/commands/table.py",
    "node/commands/args.py",
    "node/commands/tx_state.py",
    "node/commands/pubsub_state.py",
    "node/commands/strings.py",
    "node/commands/keys.py",
    "node/commands/lists.py",
    "node/commands/hashes.py",
    "node/commands/sets.py",
    "node/commands/zsets.py",
    "node/commands/db.py",
    "node/commands/connection.py",
    "node/commands/transactions.py",
    "node/commands/pubsub.py",
    "node/commands/object_cmd.py",
    # The RDB codec: SAVE, BGSAVE and loading spend their time here.
    "persistence/rdb/constants.py",
    "persistence/rdb/errors.py",
    "persistence/rdb/primitives.py",
    "persistence/rdb/limits.py",
    "persistence/rdb/listpack.py",
    "persistence/rdb/intset.py",
    "persistence/rdb/ziplist.py",
    "persistence/rdb/zipmap.py",
    "persistence/rdb/events.py",
    "persistence/rdb/values.py",
    "persistence/rdb/encoder.py",
    "persistence/rdb/decoder.py",
    "persistence/rdb/dump.py",
    "persistence/apply.py",
    # The AOF write path: every write command is fed to it.
    "persistence/aof/writer.py",
]


def sources_digest() -> str:
    h = hashlib.sha256(sys.version.encode())
    for rel in NATIVE_MODULES:
        h.update(rel.encode())
        h.update((ROOT / rel).read_bytes())
    return h.hexdigest()


def native_is_current() -> bool:
    try:
        return STAMP.read_text().strip() == sources_digest()
    except OSError:
        return False


def activate(package_path: list[str], subdir: str) -> bool:
    """Put the compiled modules of one package (`subdir` under build/native) first."""
    if os.environ.get("KEELKV_PURE_PYTHON") or not native_is_current():
        return False
    if str(NATIVE_DIR) not in sys.path:
        sys.path.insert(0, str(NATIVE_DIR))  # mypyc's shared support library lives there
        # build/native holds package-shaped directories (node/, persistence/) without
        # __init__.py: the source tree must come before it, or a package first imported
        # after this point (from an editable install) would resolve to a namespace package.
        sys.path.insert(0, str(ROOT))
    package_path.insert(0, str(NATIVE_DIR / subdir))
    return True
