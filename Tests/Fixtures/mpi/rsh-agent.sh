#!/bin/sh
# Open MPI's plm_rsh_agent in place of ssh: "rsh-agent.sh [options] HOST COMMAND..." runs COMMAND
# (the orted daemon) in the network namespace that plays HOST: 10.77.0.1 is $NOREMBED_NETNS_A,
# 10.77.0.2 is $NOREMBED_NETNS_B (mpirun passes its environment to the agent).
while [ $# -gt 0 ]; do
    case "$1" in
        -*) shift ;;
        *) break ;;
    esac
done
host=$1; shift
case "$host" in
    10.77.0.1) ns=$NOREMBED_NETNS_A ;;
    10.77.0.2) ns=$NOREMBED_NETNS_B ;;
    *) echo "rsh-agent: unknown host $host" >&2; exit 255 ;;
esac
exec ip netns exec "$ns" /bin/sh -c "$*"
