#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_probe_spoof.sh - spoofed Record Route pings on the mesh: `rtrace-probe
# ping -R -S SRC` runs in vantage-point namespaces with the source's address;
# `rtrace-probe listen` at the source must report every reply with the VP,
# the request id and the Record Route the kernel routers wrote, which must be
# (out(VP>D) + [D, D] + out(D>SRC)) cut to 9 slots: the reverse hops from
# the manifest's ground truth. Pairs whose paths drop options must not
# arrive, nor the probes of vp3, whose access router filters spoofed sources.
# The spoofing pings must finish without waiting for replies. listen is
# stopped with SIGINT: it must exit 0 and leave no XDP program on eth0.
set -u
. "$(dirname "$0")/lib.sh"
tb_setup mesh rtrace-probe
PROBE=$BIN/rtrace-probe

# The plan: VP, destination, request id, expected RR ("-" when nothing may arrive).
"$TB_PY" - "$TB_MANIFEST" >"$T/plan" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
def clean(path):
    return not any(f in ("drop-options", "drop-rr") for r in path["routers"]
                   for f in m["routers"][r]["flags"])
req = 1000
for vp in m["roles"]["vp"]:
    for d in m["roles"]["dest"]:
        fwd, rev = m["paths"]["%s>%s" % (vp, d)], m["paths"]["%s>src" % d]
        filtered = any("filter-spoof" in m["routers"][r]["flags"] for r in fwd["routers"][:1])
        rr = (fwd["out_addrs"] + [m["hosts"][d]["addr"]] * 2 + rev["out_addrs"])[:9]
        ok = clean(fwd) and clean(rev) and not filtered
        req += 1
        print(vp, m["hosts"][d]["addr"], req, ",".join(rr) if ok else "-")
EOF
[ "$(awk '$4 != "-"' "$T/plan" | wc -l)" -ge 3 ] || fail "fewer than 3 usable VP/destination pairs"
awk '$4 != "-" {n++} END {print n " pairs expected to arrive, " NR - n " expected lost"}' "$T/plan"

# not through tb_exec (a shell function): $! must be rtrace-probe itself for kill -INT
ip netns exec "$(tb_ns src)" "$PROBE" -v -j -i eth0 listen -t 120 >"$T/listen.out" \
	2>"$T/listen.err" &
LPID=$!
tb_on_exit "kill $LPID 2>/dev/null"
tb_wait_log $LPID "$T/listen.err" "probe: eth0" listen 100 0.05 || fail "listen did not start"

while read -r vp dst req rr; do
	t0=$(date +%s%N)
	tb_exec "$vp" "$PROBE" -j ping -R -c 1 -S "$SRC" -Q "$req" "$dst" >>"$T/vp.out" ||
		fail "spoofed ping from $vp failed"
	dt=$((($(date +%s%N) - t0) / 1000000))
	[ $dt -lt 900 ] || fail "spoofed ping from $vp took $dt ms: it must not wait for replies"
done <"$T/plan"
sleep 0.5
t0=$(date +%s%N)
kill -INT $LPID
wait $LPID
rc=$?
dt=$((($(date +%s%N) - t0) / 1000000))
[ $dt -lt 2000 ] || fail "listen took $dt ms to stop after SIGINT"
cat "$T/listen.err"
[ $rc = 0 ] || fail "listen exited $rc after SIGINT"
if tb_exec src ip link show eth0 | grep -q xdp; then
	fail "XDP program left on src eth0 after SIGINT"
fi

"$TB_PY" - "$T/plan" "$T/listen.out" "$T/vp.out" "$SRC" <<'EOF' || fail "listen reports differ"
import json, sys
plan = [l.split() for l in open(sys.argv[1])]
got = {}
for line in open(sys.argv[2]):
    o = json.loads(line)
    got.setdefault(o["req"], []).append(o)
bad = 0
for vp, dst, req, rr in plan:
    recs = got.pop(int(req), [])
    if rr == "-":
        ok = not recs
        print("%-4s %-10s %s expected lost, %d arrived" % (vp, dst, "ok  " if ok else "FAIL", len(recs)))
    else:
        want = rr.split(",")
        ok = (len(recs) == 1 and recs[0]["dst"] == dst and recs[0]["src"] == sys.argv[4]
              and recs[0]["responses"][0]["RR"] == want and "spoof" in recs[0]["flags"])
        print("%-4s %-10s %s %s" % (vp, dst, "ok  " if ok else "FAIL",
              want if ok else (want, recs)))
    bad += not ok
if got:
    print("unexpected records:", got); bad += 1
for line in open(sys.argv[3]):
    o = json.loads(line)
    if "spoof" not in o.get("flags", []) or o["src"] != sys.argv[4] or o["ping_sent"] != 1:
        print("VP output wrong:", o); bad += 1
sys.exit(1 if bad else 0)
EOF
echo "test_probe_spoof: ok"
