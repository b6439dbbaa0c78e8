#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_batch_rate.sh - rtrace-batch holds its global probe rate (-r) within
# +-5%, counted where the probes arrive: an nftables counter on the source's
# first router (r1) counts every non-TCP packet from the source it forwards
# or receives. The batch gets far more work than the rate allows (32768
# targets, 1024 traces in flight), the counter is read twice in the middle of
# the run (after the slow start), and the rate between the reads is compared
# with -r, at two rates. Then the per-/24 start limit (--p24-rate) is checked
# from the records' order: targets of one /24 cannot finish faster than it.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_cmd nft
tb_setup batch rtrace-batch
B=$BIN/rtrace-batch

tb_exec r1 nft -f - <<EOF || fail "nft counter"
table ip rtbatch {
	counter probes { }
	chain count_fwd { type filter hook forward priority 0; ip saddr $SRC ip protocol != tcp counter name "probes"; }
	chain count_in { type filter hook input priority 0; ip saddr $SRC ip protocol != tcp counter name "probes"; }
}
EOF
count() { tb_exec r1 nft list counter ip rtbatch probes | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
now() { date +%s.%N; }

# the hosts whose traces take one RR ping each (a3, a4 need forward traces
# under the per-destination limit: their demand is lumpy)
"$TB_PY" -c "
for h in (0, 1, 4, 5):
    print('10.21%d.0.0/19' % h)" >"$T/targets"

for RATE in 1000 2500; do
	rm -f "$T/out.jsonl"
	ip netns exec "$(tb_ns src)" "$B" -q -r $RATE -w 1024 -f "$T/targets" -o "$T/out.jsonl" \
		--allow 10.0.0.0/8 2>"$T/err" &
	PID=$!
	sleep 2
	c1=$(count); t1=$(now)
	sleep 4
	c2=$(count); t2=$(now)
	kill -INT $PID
	wait $PID
	awk -v c1="$c1" -v c2="$c2" -v t1="$t1" -v t2="$t2" -v r=$RATE 'BEGIN {
		got = (c2 - c1) / (t2 - t1)
		printf "rate %d: %.0f probes/s counted at r1 (%+.1f%%)\n", r, got, (got - r) * 100 / r
		exit !(got >= r * 0.95 && got <= r * 1.05) }' >&2 ||
		{ cat "$T/err"; fail "-r $RATE not held within 5%"; }
done

# --p24-rate: 40 traces started per /24 per second; one /24 of 256 targets
# cannot be done in less than 256/40 = 6.4 s (the first starts at once).
"$TB_PY" -c "print('10.213.7.0/24')" >"$T/t24"
rm -f "$T/out.jsonl"
t1=$(now)
ip netns exec "$(tb_ns src)" "$B" -q --p24-rate 40 -f "$T/t24" -o "$T/out.jsonl" \
	--allow 10.0.0.0/8 2>"$T/err" || { cat "$T/err"; fail "--p24-rate run"; }
t2=$(now)
[ "$(wc -l <"$T/out.jsonl")" = 256 ] || fail "--p24-rate: not every target traced"
awk -v t1="$t1" -v t2="$t2" 'BEGIN { d = t2 - t1
	printf "256 targets in one /24 at --p24-rate 40: %.2f s (>= 6.4 s)\n", d
	exit !(d >= 6.3 && d < 12) }' >&2 || fail "--p24-rate not held"
echo ok >&2
