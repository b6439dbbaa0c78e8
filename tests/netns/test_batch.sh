#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_batch.sh - rtrace-batch end to end on the batch test internet (six
# hosts answering whole /16s behind different routers), no agents:
#  1. target list: bad lines reported with their line numbers and skipped;
#     special-purpose addresses refused with the range, its registry name and
#     the --allow that opens it; --allow opens only that range; a --blocklist
#     file refuses even inside an allowed range; nothing left -> exit 1;
#  2. an existing output is refused without --resume;
#  3. a full run: one record per target, every record a REACHES reverse path
#     that ends at the source's gateway, gzip valid, summary and status lines;
#  4. SIGINT half-way: exit 130, the file is valid gzip at once (gzip -t) and
#     holds only whole records; --resume completes it: every target once;
#  5. kill -9 half-way (gzip and plain): every record flushed before the kill
#     is readable; --resume cuts the torn end, completes, no duplicates.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_cmd gzip
tb_setup batch rtrace-batch
B=$BIN/rtrace-batch
GW=$(tb_q hosts.src.gateway)

batch() { ip netns exec "$(tb_ns src)" "$B" "$@"; }

# check_out FILE N: FILE holds exactly N records, each target once, all valid.
check_out() {
	"$TB_PY" - "$1" "$2" "$SRC" <<'EOF' || fail "check_out $1"
import gzip, json, sys
path, n, src = sys.argv[1], int(sys.argv[2]), sys.argv[3]
op = gzip.open if path.endswith(".gz") else open
seen = set()
with op(path, "rt") as f:
    for i, line in enumerate(f, 1):
        o = json.loads(line)
        assert o["type"] == "revtr" and o["src"] == src, "line %d: %s" % (i, line[:80])
        assert o["dst"] not in seen, "line %d: %s twice" % (i, o["dst"])
        seen.add(o["dst"])
        hops = o["revtr_hops"]
        assert hops and hops[0]["hop_ip"] == o["dst"], "line %d: hop 1 is not dst" % i
assert len(seen) == n, "%d records, want %d" % (len(seen), n)
EOF
}

# --- 1. target list: bad lines, refusals, --allow, --blocklist --------------------
cat >"$T/t1" <<EOF
# a comment
10.210.0.1
not-an-address
192.168.1.1
198.18.0.5
10.211.0.0/30   # four addresses
10.210.0.1
300.1.2.3
EOF
batch -q -f "$T/t1" -o "$T/o1.jsonl" 2>"$T/e1" && fail "nothing left must exit 1"
grep -q "t1:3: not an IPv4 address or prefix" "$T/e1" || { cat "$T/e1"; fail "bad line 3"; }
grep -q "t1:8: not an IPv4 address or prefix" "$T/e1" || { cat "$T/e1"; fail "bad line 8"; }
grep -q "t1:4: 192.168.1.1 refused: in 192.168.0.0/16 (Private-Use, RFC 1918); --allow 192.168.0.0/16 opens it" "$T/e1" ||
	{ cat "$T/e1"; fail "refusal of 192.168.1.1"; }
grep -q "t1:5: 198.18.0.5 refused: in 198.18.0.0/15 (Benchmarking, RFC 2544)" "$T/e1" ||
	{ cat "$T/e1"; fail "refusal of 198.18.0.5 (198.18.0.0/15)"; }
grep -q "t1:6: 4 of the 4 addresses of 10.211.0.0/30 .* refused: in 10.0.0.0/8 (Private-Use, RFC 1918); --allow 10.0.0.0/8" "$T/e1" ||
	{ cat "$T/e1"; fail "refusal of a prefix line"; }
grep -q "no target left to trace" "$T/e1" || { cat "$T/e1"; fail "no-target message"; }
[ -e "$T/o1.jsonl" ] && fail "an output was made although nothing was traced"

echo "10.210.0.0/24" >"$T/bl"
batch -q -f "$T/t1" -o "$T/o1.jsonl" --allow 10.0.0.0/8 --blocklist "$T/bl" 2>"$T/e1" ||
	{ cat "$T/e1"; fail "run with --allow"; }
grep -q "t1:2: 10.210.0.1 refused: in 10.210.0.0/24 (.*bl:1) (your blocklist)" "$T/e1" ||
	{ cat "$T/e1"; fail "user blocklist must win over --allow"; }
grep -q "t1:4: 192.168.1.1 refused" "$T/e1" || fail "--allow 10/8 must not open 192.168/16"
grep -q "targets: 8 lines, 2 bad, 4 refused, 0 duplicates" "$T/e1" || { cat "$T/e1"; fail "summary counts"; }
check_out "$T/o1.jsonl" 4

# --- 2. existing output ---------------------------------------------------------------
batch -q -f "$T/t1" -o "$T/o1.jsonl" --allow 10.0.0.0/8 2>"$T/e2" && fail "overwrite allowed"
grep -q "o1.jsonl exists: use --resume" "$T/e2" || { cat "$T/e2"; fail "overwrite message"; }

# --- 3. a full run ------------------------------------------------------------------------
"$TB_PY" -c "
for h in range(6):
    print('10.21%d.0.0/23' % h)" >"$T/t3"		# 6 x 512 = 3072 targets
batch -f "$T/t3" -o "$T/o3.jsonl.gz" --allow 10.0.0.0/8 2>"$T/e3" || { cat "$T/e3"; fail "full run"; }
gzip -t "$T/o3.jsonl.gz" || fail "full run: invalid gzip"
check_out "$T/o3.jsonl.gz" 3072
grep -q "^rtrace-batch: 3072/3072 traced in" "$T/e3" || { cat "$T/e3"; fail "summary"; }
grep -q "reached the source 3072 (100.0%)" "$T/e3" || { cat "$T/e3"; fail "not all reached"; }
"$TB_PY" - "$T/o3.jsonl.gz" "$GW" <<'EOF' || fail "paths must end at the gateway"
import gzip, json, sys
for line in gzip.open(sys.argv[1], "rt"):
    o = json.loads(line)
    assert o["revtr_hops"][-1]["hop_ip"] == sys.argv[2], line[:200]
EOF

# --- 4. SIGINT half-way, then --resume -----------------------------------------------------
"$TB_PY" -c "
for h in range(6):
    print('10.21%d.0.0/20' % h)" >"$T/t4"		# 6 x 4096 = 24576 targets
N4=24576
ip netns exec "$(tb_ns src)" "$B" -f "$T/t4" -o "$T/o4.jsonl.gz" --allow 10.0.0.0/8 \
	2>"$T/e4" &
PID=$!
tb_on_exit "kill -9 $PID 2>/dev/null"
sleep 2.5
kill -INT $PID
wait $PID
rc=$?
[ $rc = 130 ] || { tail "$T/e4"; fail "SIGINT: exit $rc, want 130"; }
grep -q "finishing .* running traces" "$T/e4" || fail "SIGINT message"
grep -q "interrupted: --resume continues" "$T/e4" || fail "SIGINT summary"
gzip -t "$T/o4.jsonl.gz" || fail "after SIGINT the gzip file must be valid"
got=$(gzip -dc "$T/o4.jsonl.gz" | wc -l)
[ "$got" -gt 0 ] && [ "$got" -lt $N4 ] || fail "SIGINT was not half-way ($got of $N4)"
batch -q -f "$T/t4" -o "$T/o4.jsonl.gz" --allow 10.0.0.0/8 --resume 2>"$T/e4r" ||
	{ cat "$T/e4r"; fail "resume after SIGINT"; }
grep -q "already in .*o4.jsonl.gz ($got records kept)" "$T/e4r" || { cat "$T/e4r"; fail "resume counts"; }
gzip -t "$T/o4.jsonl.gz" || fail "after --resume: invalid gzip"
check_out "$T/o4.jsonl.gz" $N4
echo "SIGINT after $got of $N4, resumed" >&2

# --- 5. kill -9 half-way, then --resume (gzip and plain) ------------------------------------
for ext in jsonl.gz jsonl; do
	out=$T/o5.$ext
	ip netns exec "$(tb_ns src)" "$B" -q -f "$T/t4" -o "$out" --allow 10.0.0.0/8 2>/dev/null &
	PID=$!
	sleep 2.5
	kill -9 $PID
	wait $PID 2>/dev/null
	if [ $ext = jsonl.gz ]; then
		got=$(gzip -dc "$out" 2>/dev/null | wc -l)
	else
		got=$(grep -c '}$' "$out")
	fi
	[ "$got" -gt 0 ] && [ "$got" -lt $N4 ] || fail "kill -9 was not half-way ($got of $N4)"
	batch -q -f "$T/t4" -o "$out" --allow 10.0.0.0/8 --resume 2>"$T/e5" ||
		{ cat "$T/e5"; fail "resume after kill -9 ($ext)"; }
	kept=$(sed -n 's/.*already in .* (\([0-9]*\) records kept).*/\1/p' "$T/e5")
	[ "$kept" = "$got" ] || { cat "$T/e5"; fail "$ext: $got records readable after kill -9, resume kept $kept"; }
	[ $ext = jsonl.gz ] && { gzip -t "$out" || fail "after kill -9 + --resume: invalid gzip"; }
	check_out "$out" $N4
	echo "kill -9 ($ext) after $got of $N4, resumed" >&2
done
echo "ok" >&2
