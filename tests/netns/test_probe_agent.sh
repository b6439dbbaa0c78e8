#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_probe_agent.sh - rtrace-probe -a: the same measurements run by rtraced
# on a vantage point (line topology, rtraced at vp1, client at src):
#  1. trace from the agent back to src: the hops equal a local
#     `rtrace-probe trace` run in vp1's namespace (after the agent stopped);
#  2. ping -R through the agent: every probe answered, RR present;
#  3. a spoofed ping (-S SRC) through the agent is seen by `rtrace-probe
#     listen` at src with our request id;
#  4. a refused request (blocklisted target) is reported with the agent's
#     reason and exit status 1; a wrong CA fails with a TLS message;
#  5. without -j, ping and trace results from the agent print as text.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
tb_need_root
agent_line_up alice
printf 'global rate 5000 inflight 64\nblocklist 10.250.0.0/16\n' >"$T/policy"
agent_start vp1 "$T/agent.log" -i eth0 -l "$PORT" -c "$T/certs" -n vp1 --policy "$T/policy" -v
AGENT=$AGENT_PID
A=(-a "$VP:7777" -c "$T/certs" -n alice)

# 2. ping -R
tb_exec src "$PROBE" "${A[@]}" -j ping -R -c 2 "$D1" >"$T/ping" || fail "ping via agent"
"$TB_PY" - "$T/ping" "$VP" <<'EOF' || fail "ping via agent: result"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["src"] == sys.argv[2] and o["statistics"]["replies"] == 2, o
assert all(len(r["RR"]) >= 2 for r in o["responses"]), o
print("ping via agent: ok, RR", o["responses"][0]["RR"])
EOF

# 2b. without -j the agent's results are printed as text (ping- and traceroute-like)
tb_exec src "$PROBE" "${A[@]}" ping -R -c 2 "$D1" >"$T/ping.txt" || fail "ping via agent (text)"
grep -q "^ping $VP to $D1: 124 byte packets" "$T/ping.txt" &&
	[ "$(grep -c "bytes from $D1, seq=" "$T/ping.txt")" = 2 ] &&
	grep -q "^ RR: " "$T/ping.txt" &&
	grep -q "2 packets transmitted, 2 packets received, 0% packet loss" "$T/ping.txt" ||
	{ cat "$T/ping.txt"; fail "ping via agent: text output"; }

# 3. spoofed through the agent, seen by listen at src
ip netns exec "$(tb_ns src)" "$PROBE" -v -j -i eth0 listen -t 20 >"$T/listen" 2>"$T/listen.err" &
L=$!
tb_on_exit "kill $L 2>/dev/null"
for _ in $(seq 100); do grep -q "probe: eth0" "$T/listen.err" && break; sleep 0.05; done
tb_exec src "$PROBE" "${A[@]}" -j ping -R -c 1 -S "$SRC" -Q 4242 "$D1" >"$T/spoof" ||
	fail "spoofed ping via agent"
sleep 0.5
kill -INT $L
wait $L
grep -q '"req":4242' "$T/listen" || { cat "$T/listen" "$T/listen.err"; fail "listen saw no reply to req 4242"; }
grep -q "\"vp\":\"$VP\"" "$T/listen" || fail "listen: wrong vp"

# 4. refusals
tb_exec src "$PROBE" "${A[@]}" -j ping -c 1 10.250.0.1 >/dev/null 2>"$T/err" && fail "blocklisted target accepted"
grep -q "refused: blocked" "$T/err" || { cat "$T/err"; fail "no refusal reason"; }
tb_exec src "$PROBE" -a "$VP:7777" -c "$T/foreign" -n alice ping -c 1 "$D1" >/dev/null 2>"$T/err" &&
	fail "foreign CA accepted"
grep -qi "tls\|certificate\|handshake" "$T/err" || { cat "$T/err"; fail "foreign CA: no TLS message"; }

tb_exec src "$PROBE" "${A[@]}" trace -W 1 "$SRC" >"$T/trace.txt" || fail "trace via agent (text)"
head -n 1 "$T/trace.txt" | grep -q "^traceroute from $VP to $SRC (icmp-echo-paris)" &&
	grep -q " $SRC  [0-9.]* ms" "$T/trace.txt" || { cat "$T/trace.txt"; fail "trace via agent: text"; }

# 1. trace from the agent vs a local trace at vp1 (after the agent let go of eth0)
tb_exec src "$PROBE" "${A[@]}" -j trace -W 1 "$SRC" >"$T/trace.agent" 2>"$T/err" ||
	{ cat "$T/err"; fail "trace via agent"; }
kill $AGENT
wait $AGENT 2>/dev/null
tb_exec vp1 "$PROBE" -j trace -W 1 "$SRC" >"$T/trace.local" || fail "local trace at vp1"
"$TB_PY" - "$T/trace.agent" "$T/trace.local" <<'EOF' || fail "agent trace differs from local trace"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
ha = [(h["probe_ttl"], h["addr"]) for h in a["hops"]]
hb = [(h["probe_ttl"], h["addr"]) for h in b["hops"]]
print("agent:", ha, a["stop_reason"]); print("local:", hb, b["stop_reason"])
sys.exit(0 if ha == hb and a["stop_reason"] == "COMPLETED" and ha else 1)
EOF
echo "test_probe_agent: ok"
