#!/bin/sh
# Two "machines" for the data-parallel tests: network namespaces $1 (10.77.0.1) and $2 (10.77.0.2)
# joined by a veth pair $3 <-> $4. Needs root (CAP_SYS_ADMIN for `ip netns add`, CAP_NET_ADMIN for
# the link). Exit 0 when both are up; 77 (skip) when this machine cannot do it, with what it made
# removed and the reason on stderr.
set -u
[ $# -eq 4 ] || { echo "usage: $0 NS_A NS_B VETH_A VETH_B" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
a=$1 b=$2
skip() { echo "skip: $*" >&2; sh "$here/netns-down.sh" "$a" "$b"; exit 77; }
command -v ip >/dev/null 2>&1 || skip "iproute2 (ip) is not installed"
run() { out=$("$@" 2>&1) || skip "'$*' failed: $out"; }
run ip netns add "$1"
run ip netns add "$2"
run ip link add "$3" netns "$1" type veth peer name "$4" netns "$2"
run ip -n "$1" addr add 10.77.0.1/24 dev "$3"
run ip -n "$2" addr add 10.77.0.2/24 dev "$4"
for ns in "$1" "$2"; do run ip -n "$ns" link set lo up; done
run ip -n "$1" link set "$3" up
run ip -n "$2" link set "$4" up
# Reachable: a connect from A to a closed port of B is refused at once (no ping needed).
ip netns exec "$1" timeout 5 bash -c 'exec 3<>/dev/tcp/10.77.0.2/9' 2>&1 | grep -q refused \
    || skip "$1 cannot reach 10.77.0.2"
