#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_probe.sh - rtrace-probe against real Linux routers (mesh topology) and
# against the reference tools run on the same paths:
#  1. ping -R: for every destination, our Record Route list equals scamper's
#     `ping -R` list, except that scamper's has one more entry when a slot was
#     free: the source's own address, which the source kernel writes into the
#     option on input (ip_options_compile) after our XDP program saw the
#     packet. Destinations whose paths drop options get no reply in both.
#  2. ping -T tsprespec=D,R (R: the first router on D's reverse path, plus a
#     router on no path): the stamped addresses equal scamper's.
#  3. trace -P icmp-paris and udp-paris: the hop addresses equal traceroute -n
#     (silent routers are '*' in both), stop reason COMPLETED.
#  4. the JSON is one valid object per line with scamper's field names.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_root
tb_need_cmd scamper traceroute
PROBE=${RTRACE_BIN:-$TB_ROOT/bin}/rtrace-probe
[ -x "$PROBE" ] || fail "no $PROBE (make first)"
tb_up mesh

SRC=$(tb_addr src)
DESTS=$(for d in $(tb_hosts dest); do tb_addr "$d"; done)
T=$TB_TMP

# 1. Record Route
tb_exec src "$PROBE" -j ping -R -c 1 -W 1 $DESTS >"$T/rr.ours" || fail "rtrace-probe ping -R failed"
tb_exec src scamper -O json -p 1000 -c "ping -R -c 1" -i $DESTS >"$T/rr.scamper" ||
	fail "scamper ping -R failed"
"$TB_PY" - "$T/rr.ours" "$T/rr.scamper" "$SRC" <<'EOF' || fail "RR lists differ from scamper's"
import json, sys
def load(f):
    d = {}
    for line in open(f):
        o = json.loads(line)
        if o.get("type") == "ping":
            d[o["dst"]] = [r.get("RR") for r in o["responses"]]
    return d
ours, sc, src = load(sys.argv[1]), load(sys.argv[2]), sys.argv[3]
assert set(ours) == set(sc), (sorted(ours), sorted(sc))
bad = answered = 0
for dst in sorted(ours):
    a, b = ours[dst], sc[dst]
    if len(a) != len(b):
        print("%s: %d replies, scamper %d" % (dst, len(a), len(b))); bad += 1; continue
    for x, y in zip(a, b):
        answered += 1
        want = y if len(x) == 9 else y[:-1]
        ok = x == want and (len(x) == 9 or y[-1] == src)
        print("%-10s %s %s" % (dst, "ok  " if ok else "DIFF", x if ok else (x, y)))
        bad += not ok
if answered < 3:
    print("only %d destinations answered RR pings: test would prove nothing" % answered); bad += 1
sys.exit(1 if bad else 0)
EOF

# 2. Timestamp prespec: [D, first reverse router] and [D, an unrelated router]
: >"$T/ts.cases"
for d in $(tb_hosts dest); do
	r=$(tb_path "$d" src | awk '{print $1}')
	[ -n "$r" ] || continue
	echo "$(tb_addr "$d") $(tb_addr "$r")" >>"$T/ts.cases"
	echo "$(tb_addr "$d") $(tb_addr r25)" >>"$T/ts.cases"
done
scargs=()
while read -r dst r; do
	tb_exec src "$PROBE" -j ping -c 1 -W 1 -T "tsprespec=$dst,$r" "$dst" >>"$T/ts.ours" ||
		fail "rtrace-probe ping -T tsprespec failed"
	scargs+=(-I "ping -c 1 -T tsprespec=$dst,$r $dst")
done <"$T/ts.cases"
tb_exec src scamper -O json -p 1000 "${scargs[@]}" >"$T/ts.scamper" || fail "scamper ping -T failed"
"$TB_PY" - "$T/ts.ours" "$T/ts.scamper" <<'EOF' || fail "tsprespec answers differ from scamper's"
import json, sys
def load(f):
    d = {}
    for line in open(f):
        o = json.loads(line)
        if o.get("type") == "ping":
            key = (o["dst"], tuple(o["probe_tsps"]))
            d[key] = [[e["ip"] for e in r.get("tsandaddr", [])] for r in o["responses"]]
    return d
ours, sc = load(sys.argv[1]), load(sys.argv[2])
assert set(ours) == set(sc)
bad = stamped2 = 0
for k in sorted(ours):
    ok = ours[k] == sc[k]
    stamped2 += any(len(x) == 2 for x in ours[k])
    print("%-28s %s %s" % (k, "ok  " if ok else "DIFF", ours[k] if ok else (ours[k], sc[k])))
    bad += not ok
if stamped2 < 2:
    print("fewer than 2 probes with both addresses stamped: test would prove nothing"); bad += 1
sys.exit(1 if bad else 0)
EOF

# 3. traces against traceroute -n
for method in icmp-paris udp-paris; do
	tb_exec src "$PROBE" -j trace -P $method -W 1 -q 2 $DESTS >"$T/tr.$method" ||
		fail "rtrace-probe trace -P $method failed"
done
for d in $DESTS; do
	echo "== $d"
	tb_exec src traceroute -n -q 1 -w 1 -m 30 "$d"
done >"$T/tr.traceroute" 2>&1
"$TB_PY" - "$T/tr.icmp-paris" "$T/tr.udp-paris" "$T/tr.traceroute" <<'EOF' || fail "trace hops differ from traceroute -n"
import json, re, sys
want, cur = {}, None
for line in open(sys.argv[3]):
    if line.startswith("== "):
        cur = line.split()[1]; want[cur] = {}
    m = re.match(r"\s*(\d+)\s+(\S+)", line)
    if cur and m and not line.startswith("traceroute"):
        want[cur][int(m.group(1))] = m.group(2)
bad = stars = 0
for f in sys.argv[1:3]:
    for line in open(f):
        o = json.loads(line)
        got = {}
        for h in o["hops"]:
            got.setdefault(h["probe_ttl"], h["addr"])
        w = want[o["dst"]]
        last = max(w)
        mine = {t: got.get(t, "*") for t in range(1, o["hop_count"] + 1)}
        ok = mine == w and o["stop_reason"] == "COMPLETED"
        print("%-10s %-16s %s %s" % (o["dst"], o["method"], "ok  " if ok else "DIFF",
              " ".join(mine.values()) if ok else (o["stop_reason"], mine, w)))
        stars += "*" in mine.values()
        bad += not ok
if stars < 2:
    print("no trace crossed a silent router: test would not cover '*'"); bad += 1
sys.exit(1 if bad else 0)
EOF

# 4. field names (scamper's) on a sample line of each kind
"$TB_PY" - "$T/rr.ours" "$T/tr.icmp-paris" <<'EOF' || fail "JSON field names"
import json, sys
ping = json.loads(open(sys.argv[1]).readline())
for k in ("type", "version", "method", "src", "dst", "start", "ping_sent", "probe_size",
          "ttl", "wait", "responses", "statistics"):
    assert k in ping, k
r = [o for o in map(json.loads, open(sys.argv[1])) if o["responses"]][0]["responses"][0]
for k in ("from", "seq", "reply_size", "reply_ttl", "reply_ipid", "rtt", "probe_ipid",
          "icmp_type", "icmp_code", "tx", "rx", "RR"):
    assert k in r, k
tr = json.loads(open(sys.argv[2]).readline())
for k in ("type", "version", "method", "src", "dst", "start", "stop_reason", "hop_count", "hops"):
    assert k in tr, k
for k in ("addr", "probe_ttl", "probe_id", "probe_size", "rtt", "reply_ttl", "reply_ipid",
          "reply_size", "icmp_type", "icmp_code"):
    assert k in tr["hops"][0], k
assert tr["method"] == "icmp-echo-paris" and ping["version"] == "0.4" and tr["version"] == "0.1"
EOF
echo "test_probe: ok"
