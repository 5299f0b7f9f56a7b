#!/bin/sh
# Healthy once this Sentinel knows a master, both replicas and the two other Sentinels,
# i.e. it can take part in a failover. Environment as for entrypoint.sh, plus
# SENTINEL_EXPECT_REPLICAS [2] and SENTINEL_EXPECT_SENTINELS [2] (the others).
set -eu
state=$(redis-cli -p 26379 sentinel master "${SENTINEL_MASTER_NAME:-mymaster}")
field() { printf '%s\n' "$state" | awk -v k="$1" 'prev == k { print; exit } { prev = $0 }'; }
[ "$(field num-slaves)" -ge "${SENTINEL_EXPECT_REPLICAS:-2}" ]
[ "$(field num-other-sentinels)" -ge "${SENTINEL_EXPECT_SENTINELS:-2}" ]
case "$(field flags)" in *down*) exit 1 ;; esac
