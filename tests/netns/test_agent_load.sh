#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_agent_load.sh - rtraced under load on the line test internet (agent at
# vp1, clients `rtrace-probe -a` at src), the ASan build of the agent when
# there is one (no sanitizer report, exit 0 after SIGTERM, no leak):
#  1. 50 concurrent clients, each a ping -c 3 -i 0.1 to d1, d2 or src through
#     the agent: every one exits 0 with 3 replies from the right destination;
#  2. a client killed with -9 in the middle of a ping -c 50 -i 0.1 to d2: the
#     agent logs the cancellation and the echo requests counted at d2 (nft
#     counter) stop at once, while another client's ping runs to its end;
#  3. the agent restarted under load (8 clients pinging in a loop): runs in
#     flight at SIGTERM end with "agent shutting down", runs while it is down
#     with "connection refused", and after the restart every client succeeds.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/agent_lib.sh"
tb_need_root
tb_need_cmd nft
agent_line_up alice
agent_pick_bin
# Room for 50 clients at once (each asks for 3 probes).
printf 'global rate 20000 inflight 256\ndefault rate 1000 inflight 16\n' >"$T/policy"
AGENT_ARGS=(-i eth0 -l "$PORT" -c "$T/certs" -n vp1 --policy "$T/policy")
agent_start vp1 "$T/agent1.log" "${AGENT_ARGS[@]}"
A=(-a "$VP:$PORT" -c "$T/certs" -n alice -j)

# 1. 50 concurrent clients.
t0=$SECONDS
dsts=("$D1" "$D2" "$SRC")
pids=()
for i in $(seq 0 49); do
	ip netns exec "$(tb_ns src)" "$PROBE" "${A[@]}" ping -c 3 -i 0.1 "${dsts[$((i % 3))]}" \
		>"$T/c$i.json" 2>"$T/c$i.err" &
	pids+=($!)
done
bad=0
for i in $(seq 0 49); do
	wait "${pids[$i]}" || { echo "client $i: exit $?: $(cat "$T/c$i.err")"; bad=$((bad + 1)); }
done
[ $bad = 0 ] || fail "$bad of 50 concurrent clients failed"
"$TB_PY" - "$T" "$VP" "${dsts[@]}" <<'EOF' || fail "50 concurrent clients: wrong results"
import json, sys
T, vp, dsts = sys.argv[1], sys.argv[2], sys.argv[3:]
for i in range(50):
    o = json.load(open("%s/c%d.json" % (T, i)))
    ok = (o["type"] == "ping" and o["src"] == vp and o["dst"] == dsts[i % 3]
          and o["ping_sent"] == 3 and o["statistics"]["replies"] == 3)
    if not ok:
        print("client %d: %s" % (i, o)); sys.exit(1)
print("50 clients: 150 probes, 150 replies, sources and destinations right")
EOF
echo "50 concurrent clients: ok ($((SECONDS - t0)) s)"
[ "$(agent_count 'connected \(' "$T/agent1.log")" -ge 50 ] || fail "agent did not log 50 connections"

# 2. kill -9 mid-measurement: count the agent's echo requests arriving at d2.
tb_exec d2 nft -f - <<EOF || fail "nft counter at d2"
table ip rtcount {
	chain in {
		type filter hook input priority 0; policy accept;
		ip saddr $VP icmp type echo-request counter
	}
}
EOF
count() { tb_exec d2 nft list chain ip rtcount in | sed -n 's/.*packets \([0-9]*\).*/\1/p'; }
ip netns exec "$(tb_ns src)" "$PROBE" "${A[@]}" ping -c 10 -i 0.2 "$D1" >"$T/other.json" \
	2>"$T/other.err" &
OTHER=$!
ip netns exec "$(tb_ns src)" "$PROBE" "${A[@]}" ping -c 50 -i 0.1 "$D2" >/dev/null \
	2>"$T/victim.err" &
VICTIM=$!
for _ in $(seq 200); do [ "$(count)" -ge 8 ] && break; sleep 0.05; done
[ "$(count)" -ge 8 ] || fail "the victim's probes never reached d2"
kill -9 $VICTIM
wait $VICTIM 2>/dev/null
for _ in $(seq 50); do
	grep -q "gone (.*), 1 running requests cancelled" "$T/agent1.log" && break
	sleep 0.05
done
grep -q "gone (.*), 1 running requests cancelled" "$T/agent1.log" ||
	{ tail "$T/agent1.log"; fail "agent did not cancel the killed client's ping"; }
sleep 0.3
c1=$(count)
sleep 1.5
c2=$(count)
echo "killed client: $c1 echo requests at d2 when cancelled, $c2 after 1.5 s more (of 50)"
[ "$c1" = "$c2" ] || fail "probes continued after the client was killed ($c1 -> $c2)"
[ "$c1" -lt 40 ] || fail "the ping was not cut short ($c1 of 50 probes)"
wait $OTHER || fail "the other client failed: $(cat "$T/other.err")"
"$TB_PY" -c 'import json,sys; o=json.load(open(sys.argv[1])); r=o["statistics"]["replies"]
print("other client: %d of 10 replies" % r); sys.exit(r != 10)' "$T/other.json" ||
	fail "the other client's ping was disturbed"

# 3. restart under load: 8 clients pinging in a loop.
worker() {
	local w=$1 n=0 t0 rc
	while [ ! -e "$T/stop" ]; do
		n=$((n + 1))
		t0=$(date +%s.%N)
		ip netns exec "$(tb_ns src)" "$PROBE" "${A[@]}" ping -c 3 -i 0.1 "$D1" \
			>"$T/w$w.$n.out" 2>"$T/w$w.$n.err"
		rc=$?
		echo "$w $n $t0 $(date +%s.%N) $rc" >>"$T/runs.$w"
		[ $rc = 0 ] || sleep 0.1
	done
}
WPIDS=()
for w in $(seq 8); do
	worker "$w" &
	WPIDS+=($!)
done
tb_on_exit "touch $T/stop; wait ${WPIDS[*]} 2>/dev/null"
sleep 1.5
t_term=$(date +%s.%N)
agent_stop $AGENT_PID "$T/agent1.log"
grep -q "stopping: [1-9][0-9]* clients told" "$T/agent1.log" ||
	fail "agent did not tell its clients it was stopping"
sleep 1
agent_start vp1 "$T/agent2.log" "${AGENT_ARGS[@]}"
t_up=$(date +%s.%N)
sleep 2.5
touch "$T/stop"
wait "${WPIDS[@]}"
"$TB_PY" - "$T" "$t_term" "$t_up" <<'EOF' || fail "restart under load"
import glob, sys
T, t_term, t_up = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
runs = []
for f in glob.glob(T + "/runs.*"):
    for l in open(f):
        w, n, a, b, rc = l.split()
        runs.append((int(w), int(n), float(a), float(b), int(rc)))
def err(w, n): return open("%s/w%d.%d.err" % (T, w, n)).read().strip()
cut = [r for r in runs if r[2] < t_term < r[3] and r[4] != 0]
down = [r for r in runs if t_term < r[2] and r[3] < t_up and r[4] != 0]
after = [r for r in runs if r[2] > t_up + 0.2]
print("runs: %d, failed in flight at SIGTERM: %d, failed while down: %d, after restart: %d"
      % (len(runs), len(cut), len(down), len(after)))
bad = 0
for r in runs:
    if r[4] >= 128 or (r[4] != 0 and not err(r[0], r[1])):
        print("run %s: crashed or failed silently" % (r,)); bad = 1
kinds = {}
for r in runs:
    if r[4]:
        e = err(r[0], r[1])
        k = "shutting down" if "shutting down" in e else "refused" if "refused" in e else e
        kinds[k] = kinds.get(k, 0) + 1
print("failures by kind:", kinds)
shut = [r for r in cut if "shutting down" in err(r[0], r[1])]
print("in-flight runs told 'shutting down': %d; e.g. %s" % (len(shut), shut and err(*shut[0][:2])))
if not shut: bad = 1
for r in down:
    e = err(r[0], r[1])
    if "refused" not in e and "shutting down" not in e:
        print("run %s while down: unclear error %r" % (r, e)); bad = 1
if down: print("while down, e.g.: %s" % err(*down[0][:2]))
for w in range(1, 9):
    ok = [r for r in after if r[0] == w and r[4] == 0]
    failed = [r for r in after if r[0] == w and r[4] != 0]
    if not ok or failed:
        print("worker %d after restart: %d ok, %d failed %s" % (w, len(ok), len(failed),
              failed and err(*failed[0][:2]))); bad = 1
sys.exit(bad)
EOF
agent_stop $AGENT_PID "$T/agent2.log"
echo "agent log (first run, tail):"; tail -n 5 "$T/agent1.log" | sed 's/^/  | /'
echo "PASS"
