"""The multi-part append-only file (Redis 7.0 layout): manifest, records, writer, loader,
rewrite. `appendonly.AppendOnly` is the node's AOF; `writer.AofWriter` the write path."""
