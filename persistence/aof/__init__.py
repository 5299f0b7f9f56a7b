"""The multi-part append-only file (Redis 7.0 layout): manifest, records, writer, loader,
rewrite. `appendonly.AppendOnly` is the node's AOF; `writer.AofWriter` the write path."""

from node._native import activate

# The write path (writer.py) runs compiled while the build matches the sources.
NATIVE = activate(__path__, "persistence/aof")
