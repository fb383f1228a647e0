#!/bin/sh
# Stands in for `docker compose exec -T netem` on a kernel without netem
# (TestNetemCounters, scenariod's TestNetemWiring): every command succeeds
# and is logged to $FAKE_NETNS_LOG if set; `tc -s -j qdisc show dev D`
# prints what iproute2 prints for Netem's qdiscs on D after traffic, times
# the number of such calls so far if $FAKE_NETNS_STATE names a file (so
# counters grow as traffic would).
[ -n "$FAKE_NETNS_LOG" ] && echo "$*" >>"$FAKE_NETNS_LOG"
k=1
case "$*" in
*"-j qdisc show dev"*)
	if [ -n "$FAKE_NETNS_STATE" ]; then
		k=$(( $(cat "$FAKE_NETNS_STATE" 2>/dev/null || echo 0) + 1 ))
		echo "$k" >"$FAKE_NETNS_STATE"
	fi ;;
esac
case "$*" in
*"-j qdisc show dev eth0"*)
	echo "[{\"kind\":\"htb\",\"handle\":\"1:\",\"root\":true,\"bytes\":0,\"packets\":0,\"drops\":0},{\"kind\":\"netem\",\"handle\":\"10:\",\"parent\":\"1:10\",\"bytes\":1000,\"packets\":$((900*k)),\"drops\":0},{\"kind\":\"netem\",\"handle\":\"11:\",\"parent\":\"1:11\",\"bytes\":1000,\"packets\":$((450*k)),\"drops\":$((50*k))},{\"kind\":\"ingress\",\"handle\":\"ffff:\",\"parent\":\"ffff:fff1\",\"bytes\":0,\"packets\":0,\"drops\":0}]" ;;
*"-j qdisc show dev mcifb0"*)
	echo "[{\"kind\":\"htb\",\"handle\":\"1:\",\"root\":true,\"bytes\":0,\"packets\":0,\"drops\":0},{\"kind\":\"netem\",\"handle\":\"20:\",\"parent\":\"1:10\",\"bytes\":1000,\"packets\":$((100*k)),\"drops\":0},{\"kind\":\"netem\",\"handle\":\"21:\",\"parent\":\"1:11\",\"bytes\":1000,\"packets\":$((450*k)),\"drops\":$((50*k))}]" ;;
esac
exit 0
