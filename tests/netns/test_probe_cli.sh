#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_probe_cli.sh - rtrace-probe's command line on the line topology: exit
# codes and the messages a person acts on (unknown interface, missing
# capabilities, unreachable next hop, junk in the target file with line
# numbers, local target, usage errors, --help, -a with a missing certificate directory),
# the default interface (routed towards the first target), -o FILE, text
# output, and SIGTERM in the middle of a ping run.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_root
tb_need_cmd setpriv
PROBE=${RTRACE_BIN:-$TB_ROOT/bin}/rtrace-probe
[ -x "$PROBE" ] || fail "no $PROBE (make first)"
tb_up line
T=$TB_TMP
D1=$(tb_addr d1)
SRC=$(tb_addr src)

expect() { # WANT_RC PATTERN CMD...: run CMD in src, check rc and stderr
	local want=$1 pat=$2 rc
	shift 2
	tb_exec src "$@" >"$T/out" 2>"$T/err"
	rc=$?
	if [ $rc != "$want" ] || ! grep -q -- "$pat" "$T/err"; then
		echo "--- $*: rc=$rc (want $want), stderr:"; cat "$T/err"
		fail "expected rc $want and '$pat'"
	fi
	echo "ok: rc=$rc '$pat' <- $*"
}

expect 1 "nope0: no such interface" "$PROBE" -i nope0 ping -c 1 "$D1"
expect 1 "needs cap_net_raw\|cap_net_raw" setpriv --reuid=nobody --regid=nogroup --clear-groups \
	"$PROBE" ping -c 1 "$D1"
# an address on src's own subnet that nobody owns: ARP fails
expect 1 "next hop unreachable" "$PROBE" ping -c 1 "${SRC%.*}.77"
expect 1 "is a local address" "$PROBE" ping -c 1 "$SRC"
printf '# targets\n%s\nnot-an-address\n\n10.0.0.300\n' "$D1" >"$T/targets"
expect 0 "targets:3: not an IPv4" "$PROBE" -f "$T/targets" ping -c 1 -W 1
grep -q "targets:5: not an IPv4" "$T/err" || fail "line 5 not reported"
grep -q "1 packets received" "$T/out" || fail "the good target was not probed"
expect 2 "unknown command" "$PROBE" bogus
expect 2 "exclusive" "$PROBE" ping -R -T tsonly "$D1"
expect 2 "tsprespec: at most 4" "$PROBE" ping -T tsprespec=1.1.1.1,1.1.1.2,1.1.1.3,1.1.1.4,1.1.1.5 "$D1"
expect 2 "no targets" "$PROBE" ping
expect 2 "listen needs -i" "$PROBE" listen -t 1
expect 2 "not an IPv4 address" "$PROBE" ping 10.1.2
expect 1 "/nonexistent/ca.crt" "$PROBE" -a agent1 -c /nonexistent -n me ping "$D1"
expect 2 "listen runs here" "$PROBE" -a agent1 -c /nonexistent -n me listen
tb_exec src "$PROBE" --help >"$T/help" || fail "--help exit code"
for w in "ping" "trace" "listen" "-T MODE" "-P METHOD" "-S SRC" "-g GAPLIMIT" "-t SECONDS" \
	"cap_net_raw"; do
	grep -q -- "$w" "$T/help" || fail "--help does not mention $w"
done

# default interface, -o FILE, text and JSON
tb_exec src "$PROBE" -o "$T/o.json" -j ping -c 2 -i 0.05 "$D1" || fail "ping -o failed"
"$TB_PY" -c "import json,sys; o=json.load(open(sys.argv[1])); assert o['statistics']['replies']==2, o" \
	"$T/o.json" || fail "-o FILE content"
tb_exec src "$PROBE" trace "$D1" >"$T/trace.txt" || fail "text trace failed"
grep -q "^traceroute from $SRC to $D1" "$T/trace.txt" || fail "traceroute header"
[ "$(grep -c ' ms' "$T/trace.txt")" -ge 4 ] || { cat "$T/trace.txt"; fail "text trace hops"; }

# SIGTERM in the middle: completed pings are printed, exit 0, XDP detached
ip netns exec "$(tb_ns src)" "$PROBE" -j ping -c 1000 -i 0.01 "$D1" "$(tb_addr d2)" \
	>"$T/term.out" 2>"$T/term.err" &
pid=$!
sleep 1
kill -TERM $pid
wait $pid
rc=$?
[ $rc = 0 ] || { cat "$T/term.err"; fail "SIGTERM: exit $rc"; }
tb_exec src ip link show eth0 | grep -q xdp && fail "XDP left attached after SIGTERM"
echo "test_probe_cli: ok"
