#!/bin/sh
# Stands in for `docker compose exec -T netem` on a kernel without netem
# (TestNetemCounters): every command succeeds, and `tc -s -j qdisc show dev
# D` prints what iproute2 prints for Netem's qdiscs on D after traffic.
case "$*" in
*"qdisc show dev eth0"*)
	echo '[{"kind":"htb","handle":"1:","root":true,"bytes":0,"packets":0,"drops":0},{"kind":"netem","handle":"10:","parent":"1:10","bytes":1000,"packets":900,"drops":0},{"kind":"netem","handle":"11:","parent":"1:11","bytes":1000,"packets":450,"drops":50},{"kind":"ingress","handle":"ffff:","parent":"ffff:fff1","bytes":0,"packets":0,"drops":0}]' ;;
*"qdisc show dev mcifb0"*)
	echo '[{"kind":"htb","handle":"1:","root":true,"bytes":0,"packets":0,"drops":0},{"kind":"netem","handle":"20:","parent":"1:10","bytes":1000,"packets":100,"drops":0},{"kind":"netem","handle":"21:","parent":"1:11","bytes":1000,"packets":450,"drops":50}]' ;;
esac
exit 0
