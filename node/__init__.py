"""keelkv node: one Redis 7.0-compatible server process."""

from node._native import activate

KEELKV_VERSION = "0.1.0"
# Clients and Sentinel gate features on the Redis version a server reports.
REDIS_COMPAT_VERSION = "7.0.15"

NATIVE = activate(__path__, "node")
