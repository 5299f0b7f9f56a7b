#!/bin/sh
# Start redis-sentinel from a config in its writable volume (/data), made from the
# template on first start; later starts keep what Sentinel wrote (its ID, the current
# master, the replicas and Sentinels it knows). Runs as the image's `redis` user if any.
#
# Environment (defaults in brackets): SENTINEL_ANNOUNCE_IP (required),
# SENTINEL_MASTER_IP (required), SENTINEL_MASTER_PORT [6379], SENTINEL_MASTER_NAME
# [mymaster], SENTINEL_QUORUM [2], SENTINEL_DOWN_AFTER_MS [3000],
# SENTINEL_FAILOVER_TIMEOUT_MS [10000].
set -eu
here=$(dirname "$0")
conf=/data/sentinel.conf

if [ ! -e "$conf" ]; then
    sed -e "s|@SENTINEL_ANNOUNCE_IP@|${SENTINEL_ANNOUNCE_IP:?}|g" \
        -e "s|@SENTINEL_MASTER_IP@|${SENTINEL_MASTER_IP:?}|g" \
        -e "s|@SENTINEL_MASTER_PORT@|${SENTINEL_MASTER_PORT:-6379}|g" \
        -e "s|@SENTINEL_MASTER_NAME@|${SENTINEL_MASTER_NAME:-mymaster}|g" \
        -e "s|@SENTINEL_QUORUM@|${SENTINEL_QUORUM:-2}|g" \
        -e "s|@SENTINEL_DOWN_AFTER_MS@|${SENTINEL_DOWN_AFTER_MS:-3000}|g" \
        -e "s|@SENTINEL_FAILOVER_TIMEOUT_MS@|${SENTINEL_FAILOVER_TIMEOUT_MS:-10000}|g" \
        "$here/sentinel.conf" >"$conf.tmp"
    mv "$conf.tmp" "$conf"
fi

if [ "$(id -u)" = 0 ] && id redis >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
    chown -R redis:redis /data
    exec setpriv --reuid=redis --regid=redis --init-groups redis-sentinel "$conf" "$@"
fi
exec redis-sentinel "$conf" "$@"
