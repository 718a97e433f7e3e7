#!/bin/sh
# Removes the namespaces $1 and $2 of netns-up.sh (and with them the veth pair), first killing
# anything still running in them. Idempotent.
for ns in "$@"; do
    pids=$(ip netns pids "$ns" 2>/dev/null) && [ -n "$pids" ] && kill -9 $pids 2>/dev/null
    ip netns del "$ns" 2>/dev/null
done
exit 0
