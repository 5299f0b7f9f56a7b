#!/bin/sh
# keelkv-entrypoint: start keelkv-server with a config file it can rewrite, announcing the
# address other nodes and Sentinel must use. Any other command runs unchanged.
#
#   keelkv-server <config> [--directive value ...]
#       A config file this user cannot write (the image's /etc/keelkv/keelkv.conf) is
#       copied on first start to $KEELKV_LIVE_CONFIG (default /data/keelkv.conf, in the
#       data volume), and the node runs from the copy: Sentinel's CONFIG REWRITE then
#       records role changes there, and they survive restarts.
#
# Environment:
#   KEELKV_REPLICAOF       "<host> <port>": the node's first master. Written into the copy
#                          on first start only (later, Sentinel decides the role).
#   KEELKV_ANNOUNCE_IP     replica-announce-ip on every start; "auto" = this container's
#                          address (hostname -i).
#   KEELKV_ANNOUNCE_PORT   replica-announce-port on every start.
set -eu

if [ "${1:-}" != keelkv-server ]; then
    exec "$@"
fi
shift

conf=""
if [ $# -gt 0 ] && [ "${1#-}" = "$1" ]; then
    conf=$1
    shift
fi

if [ -n "$conf" ] && [ ! -w "$conf" ]; then
    live=${KEELKV_LIVE_CONFIG:-/data/keelkv.conf}
    if [ ! -e "$live" ]; then
        {
            cat "$conf"
            printf '\n# Copied from %s by keelkv-entrypoint on first start.\n' "$conf"
            if [ -n "${KEELKV_REPLICAOF:-}" ]; then
                printf 'replicaof %s\n' "$KEELKV_REPLICAOF"
            fi
        } >"$live.tmp"
        mv "$live.tmp" "$live"
    fi
    conf=$live
elif [ -z "$conf" ] && [ -n "${KEELKV_REPLICAOF:-}" ]; then
    # No config file: nothing to remember the role in, so the variable applies each start.
    # shellcheck disable=SC2086 # "<host> <port>" is two arguments
    set -- --replicaof ${KEELKV_REPLICAOF} "$@"
fi

# Announce settings go before the caller's arguments, which therefore win.
announce_ip=${KEELKV_ANNOUNCE_IP:-}
if [ "$announce_ip" = auto ]; then
    announce_ip=$(hostname -i | awk '{ print $1 }')
fi
if [ -n "${KEELKV_ANNOUNCE_PORT:-}" ]; then
    set -- --replica-announce-port "$KEELKV_ANNOUNCE_PORT" "$@"
fi
if [ -n "$announce_ip" ]; then
    set -- --replica-announce-ip "$announce_ip" "$@"
fi
if [ -n "$conf" ]; then
    set -- "$conf" "$@"
fi
exec keelkv-server "$@"
