#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_testbed.sh - the test internet tells the truth.
#
# Brings up line, ring and mesh (tools/rtrace-testbed) and checks the manifest
# against what the kernel really does: Debian traceroute (-I) from every
# destination and vantage point toward the source must match the reverse
# ground truth router by router and address by address (silent routers show
# as '*' exactly where the truth has a silent router), traceroute from the
# source must match the forward truth, `ping -R` must show exactly the RR
# stamps the truth predicts, routers flagged drop-options/drop-rr/drop-ts must
# drop RR or TS pings and nothing else, the spoof-filtering access router
# must drop spoofed probes that others forward, two testbeds must coexist,
# and `down` must leave nothing behind.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_root
tb_need_cmd ip nft traceroute ping python3 od

CHECK=$TB_TMP/check.py
cat >"$CHECK" <<'EOF'
import json, re, sys

def load(path):
	with open(path) as f:
		return json.load(f)

def hops(text):
	"""traceroute -n output -> [[addr or '*', ...] per hop]."""
	out = []
	for line in text.splitlines()[1:]:
		toks = line.split()
		if toks and toks[0].isdigit():
			out.append([t for t in toks[1:] if t == "*" or re.match(r"^\d+\.\d+\.\d+\.\d+$", t)])
	return out

def trace(m, a, b, path):
	"""Compare a traceroute a -> b with paths[a>b]; print what was checked."""
	p = m["paths"]["%s>%s" % (a, b)]
	got = hops(open(path).read())
	want = len(p["routers"]) + 1
	err = []
	if len(got) != want:
		err.append("%d hops, truth has %d routers + destination" % (len(got), want - 1))
	silent = 0
	for i, r in enumerate(p["routers"][:len(got)]):
		addrs = set(x for x in got[i] if x != "*")
		if "silent" in m["routers"][r]["flags"]:
			silent += 1
			if addrs:
				err.append("hop %d: silent router %s answered %s" % (i + 1, r, addrs))
			continue
		if "*" in got[i]:
			err.append("hop %d: %s did not answer every probe" % (i + 1, r))
		for x in addrs:
			if m["addr_to_router"].get(x) != r:
				err.append("hop %d: %s is %s, truth says %s" %
					   (i + 1, x, m["addr_to_router"].get(x, "no router"), r))
			elif x != p["te_addrs"][i]:
				err.append("hop %d: %s answered from %s, truth says %s" %
					   (i + 1, r, x, p["te_addrs"][i]))
	if len(got) == want and got[-1] and set(got[-1]) != {m["hosts"][b]["addr"]}:
		err.append("last hop %s is not %s" % (got[-1], m["hosts"][b]["addr"]))
	if err:
		print("trace %s>%s: %s\n%s" % (a, b, "; ".join(err), open(path).read()))
		return 1
	print("trace %s>%s ok: %d routers (%d silent)" % (a, b, want - 1, silent))
	return 0

def expect_rr(m, a, b):
	"""RR stamps of a ping a -> b -> a on Linux: a stamps itself when sending,
	every router its outgoing address, b on delivery and again on the reply,
	a again on delivery; 9 slots."""
	f, r = m["paths"]["%s>%s" % (a, b)], m["paths"]["%s>%s" % (b, a)]
	sa, sb = m["hosts"][a]["addr"], m["hosts"][b]["addr"]
	return ([sa] + f["out_addrs"] + [sb, sb] + r["out_addrs"] + [sa])[:9]

def rr(m, a, b, path):
	text = open(path).read()
	got = re.findall(r"^(?:RR:)?\s+(\d+\.\d+\.\d+\.\d+)\s*$", text.split("RR:", 1)[-1], re.M)
	want = expect_rr(m, a, b)
	if "RR:" not in text or got != want:
		print("ping -R %s>%s: got %s, truth %s\n%s" % (a, b, got, want, text))
		return 1
	print("ping -R %s>%s ok: %s" % (a, b, " ".join(got)))
	return 0

def drops(m, a, b, kind):
	"""1 if a ping a -> b with option kind (rr|ts) must be dropped: a router
	on the way drops that option, or (TS tsonly) more than 9 stamps + 15
	overflows are needed (the overflow counter would wrap: RFC 791 and Linux
	discard the packet)."""
	bad = {"rr": ("drop-options", "drop-rr"), "ts": ("drop-options", "drop-ts")}[kind]
	rs = m["paths"]["%s>%s" % (a, b)]["routers"] + m["paths"]["%s>%s" % (b, a)]["routers"]
	if kind == "ts" and 1 + len(rs) + 2 + 1 > 9 + 15:
		return 1
	return int(any(f in bad for r in rs for f in m["routers"][r]["flags"]))

m = load(sys.argv[2])
cmd = sys.argv[1]
if cmd == "trace":
	sys.exit(trace(m, *sys.argv[3:6]))
if cmd == "rr":
	sys.exit(rr(m, *sys.argv[3:6]))
if cmd == "drops":
	print(drops(m, *sys.argv[3:6]))
EOF
chk() { "$TB_PY" "$CHECK" "$1" "$TB_MANIFEST" "${@:2}"; }

# traces_both_ways SRC HOST...: traceroute SRC<->each HOST in parallel, check all.
traces_both_ways() {
	local s=$1 h bad=0 max=$(($(tb_q routers.keys | wc -w) + 3))
	shift
	for h in "$@"; do
		tb_exec "$h" traceroute -n -I -q 2 -w 1 -m $max "$(tb_addr "$s")" \
			>"$TB_TMP/tr.$h.$s" 2>&1 &
		tb_exec "$s" traceroute -n -I -q 2 -w 1 -m $max "$(tb_addr "$h")" \
			>"$TB_TMP/tr.$s.$h" 2>&1 &
	done
	wait
	for h in "$@"; do
		chk trace "$h" "$s" "$TB_TMP/tr.$h.$s" || bad=1
		chk trace "$s" "$h" "$TB_TMP/tr.$s.$h" || bad=1
	done
	[ $bad = 0 ] || fail "traceroute disagrees with the ground truth ($TB_PREFIX)"
}

# pings SRC HOST...: plain, RR and TS pings SRC -> each HOST in parallel; a
# plain ping must always answer, RR/TS ones exactly when no router on the way
# there or back drops that option; RR contents must match the truth.
pings() {
	local s=$1 h k bad=0 nrr=0 ndrop=0
	shift
	for h in "$@"; do
		tb_exec "$s" ping -n -c 1 -W 1 "$(tb_addr "$h")" >"$TB_TMP/ping.$h" 2>&1 &
		tb_exec "$s" ping -n -R -c 1 -W 1 "$(tb_addr "$h")" >"$TB_TMP/ping.rr.$h" 2>&1 &
		tb_exec "$s" ping -n -T tsonly -c 1 -W 1 "$(tb_addr "$h")" >"$TB_TMP/ping.ts.$h" 2>&1 &
	done
	wait
	for h in "$@"; do
		grep -q ' 1 received' "$TB_TMP/ping.$h" || { echo "ping $s>$h: no reply"; bad=1; }
		for k in rr ts; do
			if [ "$(chk drops "$s" "$h" $k)" = 1 ]; then
				ndrop=$((ndrop + 1))
				grep -q ' 0 received' "$TB_TMP/ping.$k.$h" ||
					{ echo "ping $k $s>$h: answered through a drop-$k router"; bad=1; }
			elif ! grep -q ' 1 received' "$TB_TMP/ping.$k.$h"; then
				echo "ping $k $s>$h: no reply, no router drops $k"; bad=1
			elif [ $k = rr ]; then
				chk rr "$s" "$h" "$TB_TMP/ping.rr.$h" || bad=1
				nrr=$((nrr + 1))
			fi
		done
	done
	[ $bad = 0 ] || fail "pings disagree with the ground truth ($TB_PREFIX)"
	echo "pings $s -> $*: ok ($nrr RR paths checked, $ndrop option pings dropped)"
	PINGS_RR=$nrr PINGS_DROP=$ndrop
}

# spoof VP DST SRC: VP sends an ICMP echo to DST with SRC's address as source;
# prints the number of echo replies SRC receives (0 or 1).
spoof() {
	local vp=$1 dst=$2 src=$3 out=$TB_TMP/spoof.$1.$2
	tb_exec "$src" "$TB_PY" -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(1.5)
try:
	while True:
		d, a = s.recvfrom(2048)
		o = (d[0] & 15) * 4
		if a[0] == sys.argv[1] and d[o] == 0 and d[o + 4:o + 6] == b"\x52\x54":
			print(1); break
except socket.timeout:
	print(0)' "$(tb_addr "$dst")" >"$out" &
	sleep 0.3
	tb_exec "$vp" "$TB_PY" -c '
import socket, struct, sys
def csum(b):
	s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
	s = (s >> 16) + (s & 0xffff); s += s >> 16
	return ~s & 0xffff
icmp = struct.pack("!BBHHH", 8, 0, 0, 0x5254, 1) + b"rtrace-spoof"
icmp = icmp[:2] + struct.pack("!H", csum(icmp)) + icmp[4:]
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 1, 0, 64, 1, 0,
		 socket.inet_aton(sys.argv[1]), socket.inet_aton(sys.argv[2]))
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.sendto(ip + icmp, (sys.argv[2], 0))' "$(tb_addr "$src")" "$(tb_addr "$dst")"
	wait
	cat "$out"
}

ns_left() { ip netns list | awk '{print $1}' | grep -c "^$1" || true; }

# --- line: the basics, two testbeds side by side, the CLI ---------------
tb_up line
LINE=$TB_PREFIX
[ "$(tb_path src d1)" = "r1 r2 r3 r4" ] || fail "line: src>d1 is $(tb_path src d1)"
[ "$(tb_path d1 src)" = "r4 r3 r2 r1" ] || fail "line: d1>src is $(tb_path d1 src)"
[ "$(tb_router_of 10.0.0.5)" = r2 ] || fail "line: 10.0.0.5 should be r2's"
[ "$(tb_q hosts.d1.gateway)" = 10.1.2.1 ] || fail "line: d1's gateway"
traces_both_ways src d1 d2 vp1
pings src d1 d2 vp1
[ "$PINGS_RR" = 3 ] || fail "line: expected 3 RR paths"
# nothing of ours in the root namespace
ip -o link | grep -q 'to-r' && fail "veth ends leaked into the root namespace"
# the CLI: busy prefix, stored manifest, list, dry-run --all
"$TB_TOOL" up --prefix "$LINE" "$TB_TOPOS/line.topo" >/dev/null 2>&1
[ $? = 3 ] || fail "up on a busy prefix must exit 3"
cmp -s <("$TB_TOOL" manifest "$LINE") "$TB_MANIFEST" || fail "manifest PREFIX differs from up's"
"$TB_TOOL" list | grep -qx "$LINE" || fail "list does not show $LINE"
"$TB_TOOL" down --all --dry-run | grep -qx "${LINE}r1" || fail "down --all --dry-run misses ${LINE}r1"
# a second line beside the first: same addresses, other namespaces
tb_up line
traces_both_ways src d1
tb_down
[ "$(ns_left "$TB_PREFIX")" = 0 ] || fail "down left namespaces of $TB_PREFIX"
tb_down >/dev/null || fail "down must be idempotent"
[ -e "/run/rtrace-testbed/${TB_PREFIX%-}.json" ] && fail "down left the stored manifest"
tb_use "$LINE"
tb_exec src ping -c 1 -W 1 "$(tb_addr d1)" >/dev/null || fail "first line died with the second"
tb_down
[ "$(ns_left "$LINE")" = 0 ] || fail "down left namespaces of $LINE"

# --- ring: forward and reverse differ ----------------------------------
tb_up ring
[ "$(tb_path src d1)" = "r1 r2 r3 r4" ] || fail "ring: src>d1 is $(tb_path src d1)"
[ "$(tb_path d1 src)" = "r4 r5 r6 r1" ] || fail "ring: d1>src is $(tb_path d1 src)"
traces_both_ways src d1 d2 vp1
pings src d1 d2 vp1
grep -q "$(tb_q routers.r5.ifaces.to-r6.addr)" "$TB_TMP/ping.rr.d1" ||
	fail "ring: RR of src>d1 does not show the way back over r5"
tb_down

# --- mesh: misbehaving routers, long paths, spoofing -----------------------
t0=$EPOCHREALTIME
tb_up mesh
echo "mesh up in $("$TB_PY" -c "print(round($EPOCHREALTIME - $t0, 2))") s (tool + manifest copy)"
MESH_OTHERS="$(tb_hosts dest) $(tb_hosts vp)"
long=0
for h in $MESH_OTHERS; do
	[ "$(tb_path src "$h" | wc -w)" -gt 9 ] && long=$((long + 1))
done
[ $long -ge 2 ] || fail "mesh: want >= 2 paths longer than 9 routers, got $long"
[ "$(tb_hosts agent)" = d4 ] || fail "mesh: d4 should run the agent"
asym=0
for h in $MESH_OTHERS; do
	[ "$(tb_path src "$h")" = "$(tb_path "$h" src | tr ' ' '\n' | tac | xargs)" ] ||
		asym=$((asym + 1))
done
[ $asym -ge 5 ] || fail "mesh: want >= 5 asymmetric src<->host paths, got $asym"
echo "mesh: $long paths longer than 9 routers, $asym asymmetric"
# shellcheck disable=SC2086
traces_both_ways src $MESH_OTHERS
grep -l '\* \*' "$TB_TMP"/tr.* >/dev/null || fail "mesh: no silent hop was exercised"
# shellcheck disable=SC2086
pings src $MESH_OTHERS
if [ "$PINGS_RR" -lt 2 ] || [ "$PINGS_DROP" -lt 4 ]; then
	fail "mesh: too few RR ($PINGS_RR) or dropped ($PINGS_DROP) cases to mean anything"
fi
# spoofing: vp1 (behind r26) may spoof src, vp3 (behind filter-spoof r24) may not
[ "$(spoof vp1 d2 src)" = 1 ] || fail "mesh: spoofed echo vp1 -> d2 (as src) got no reply at src"
[ "$(spoof vp3 d6 src)" = 0 ] || fail "mesh: r24 let vp3's spoofed echo through"
tb_exec vp3 ping -c 1 -W 1 "$(tb_addr d6)" >/dev/null || fail "mesh: vp3 cannot ping d6 at all"
MESH=$TB_PREFIX
tb_down
[ "$(ns_left "$MESH")" = 0 ] || fail "down left namespaces of $MESH"
echo "test_testbed: ok in $SECONDS s"
