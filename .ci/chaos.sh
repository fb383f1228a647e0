#!/usr/bin/env bash
# chaos.sh KILLS HUPS: bench dies at random moments of paired smoke runs
# (-aa, on free ports so that it can run beside anything), and DROPS
# times just when the run's packet-drop rules are in place. After a kill -9,
# within 5 s no nftables table of the run and no process bench started may
# be left; after a SIGHUP, bench must exit 2 with a report of what finished
# and leave nothing either. Prints one line per trial and exits 1 on any
# failure. Runs go to $REPORTS (default: a temporary directory).
set -u
KILLS=${1:-10} HUPS=${2:-5} DROPS=${3:-0} INTS=${4:-0} # DROPS: kill -9 while the drop rules are in place; INTS: two SIGINTs then
REPORTS=${REPORTS:-$(mktemp -d /tmp/mcchaos-chaos.XXXX)}
mkdir -p "$REPORTS" || { echo "chaos.sh: cannot create REPORTS=$REPORTS" >&2; exit 2; }
BENCH=${BENCH:-bin/bench}
# A paired smoke run lasts about 100-125 s on a quiet 2-core machine (longer
# on a loaded one), its first 20-30 s start-up: a moment past its end is not counted.
MIN_AT=${MIN_AT:-5} MAX_AT=${MAX_AT:-100}
fail=0

descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
# alive PIDS: those still running, in one ps call (a zombie, exited but
# not yet reaped by init, holds no socket, file or CPU: it counts as gone).
alive() {
	[ -n "$1" ] || return 0
	ps -o pid=,stat= -p "$(echo $1 | tr ' ' ',')" 2>/dev/null | awk '$2 !~ /^Z/ { printf " %s", $1 }'
}

# trial KIND N: start a run, signal it at a random moment, check what is left.
trial() {
	local kind=$1 n=$2 id="$1-$2-$RANDOM" at=$((MIN_AT + RANDOM % (MAX_AT - MIN_AT)))
	local log="$REPORTS/$id.out"
	# shellcheck disable=SC2086 # BENCH_ARGS: more flags, e.g. -arms 2 on a starved machine
	"$BENCH" -profile smoke -aa -free-ports -reports "$REPORTS" -run-id "$id" ${BENCH_ARGS:-} >"$log" 2>&1 &
	local pid=$!
	# The run's own table: mcchaos_ and 12 hex digits of its directory's SHA-256 (stack.RunKey).
	local table
	table=mcchaos_$(printf %s "$(realpath -m "$REPORTS/$id")" | sha256sum | cut -c1-12)
	if [ "$kind" = killdrop ] || [ "$kind" = int2 ]; then
		# While the drop rules are in place (not the empty table of scenariod's
		# nftables check at start-up): poll for them, 3 min at most.
		for at in $(seq 1800); do
			nft list table inet "$table" 2>/dev/null | grep -q 'drop comment' && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		at=$((at / 10))
	else
		sleep "$at" # the random moment itself, not a wait for state
	fi
	if ! kill -0 "$pid" 2>/dev/null; then
		wait "$pid"; echo "$kind $n: bench had ended (rc $?) before ${at}s; not counted"; return
	fi
	local kids
	kids=$(descendants "$pid")
	local had=no; nft list table inet "$table" 2>/dev/null | grep -q 'drop comment' && had=drops
	local t0 rc=
	t0=$(date +%s.%N)
	if [ "$kind" = int2 ]; then
		# Ctrl-C twice: the second exits at once, and must still remove the faults.
		kill -INT "$pid"; sleep 0.3; kill -INT "$pid"; wait "$pid"; rc=$?
	elif [ "$kind" != hup ]; then
		kill -9 "$pid"; wait "$pid" 2>/dev/null; rc=137
	else
		kill -HUP "$pid"; wait "$pid"; rc=$?
	fi
	local t1 left tab
	t1=$(date +%s.%N)
	# Poll: children and table must be gone within 5 s of bench's end
	# (polled for 10 s, to say how long it took when it took too long).
	local clean_after ok=ok at5=""
	while :; do
		left=$(alive "$kids")
		# What is still there 5 s after: names, for the report.
		[ -z "$at5" ] && [ -n "$left" ] && [ "$(echo "$(date +%s.%N) - $t1 > 5" | bc)" = 1 ] &&
			at5=$(ps -o comm= -p "$(echo $left | tr ' ' ',')" 2>/dev/null | sort | uniq -c | tr -s ' \n' ' ')
		tab=""; nft list tables 2>/dev/null | grep -qx "table inet $table" && tab=$table
		clean_after=$(echo "$(date +%s.%N) - $t1" | bc)
		[ -z "$left" ] && [ -z "$tab" ] && break
		[ "$(echo "$clean_after > 10" | bc)" = 1 ] && break
		sleep 0.05
	done
	if [ -n "$left" ] || [ -n "$tab" ] || [ "$(echo "$clean_after > 5" | bc)" = 1 ]; then
		ok=FAIL; fail=1
		ps -o pid,ppid,comm,args -p "${left// /,}" 2>/dev/null | sed 's/^/    /'
	fi
	local extra=""
	if [ "$kind" = hup ]; then
		[ "$rc" = 2 ] || { ok=FAIL; fail=1; }
		if grep -q '^report: ' "$log"; then extra="report $(sed -n 's/^report: //p' "$log")"; else extra="no report"; fi
		extra="$extra; $(grep -c '^| ' "$REPORTS/$id/report.md" 2>/dev/null || echo 0) table rows; $(grep -o 'interrupted: .*' "$log" | head -1)"
	fi
	printf '%s %s: at %3ss, %s exit %s after %.1fs; %d children, table %s (drop rules at the signal: %s): clean after %.1fs: procs [%s] table [%s] %s %s%s\n' \
		"$kind" "$n" "$at" "$kind" "$rc" "$(echo "$t1 - $t0" | bc)" "$(echo $kids | wc -w)" "$table" "$had" "$clean_after" "$left" "$tab" "$ok" "$extra" "${at5:+; still running 5 s after: $at5}"
}

for i in $(seq "$KILLS"); do trial kill "$i"; done
for i in $(seq "$HUPS"); do trial hup "$i"; done
for i in $(seq "$DROPS"); do trial killdrop "$i"; done
for i in $(seq "$INTS"); do trial int2 "$i"; done
echo "nft list tables (every table on the host; ours are mcchaos_<key>):"
nft list tables | sed 's/^/    /'
echo "runs in $REPORTS"
exit $fail
