#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_rtrace_agents.sh - rtrace with every technique on the mesh test internet:
# rtraced on every vantage point and on the agent destination (d4), rtrace in
# the source's namespace toward every destination.
#  1. accuracy against the ground truth at router level (tools/rtrace-eval):
#     median hop recall >= 0.95, exact paths >= 80%, REACHES >= 90%; d4 (agent
#     at the destination) exact through AGENT_TR_REV_SEGMENT; agents' techniques
#     were used (spoofed probes, atlas);
#  2. switches: --no-spoof, --no-ts, --no-atlas send none of those probes and
#     report none of those hop types;
#  3. an agent that refuses spoofing (rtraced --no-spoof) gets no spoof request;
#  4. all agents refusing us (a client certificate from a foreign CA): every
#     agent is reported down with the reason, the trace is measured from here;
#  5. an agent killed while a trace runs: the trace still ends, in bounded
#     time, and the agent is reported down;
#  6. the same accuracy goals on mesh2 (30-router grid, 6 VPs, agents at d2
#     and d10, both exact).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rtrace_lib.sh"
tb_need_root
[ -x "$BIN/rtrace" ] && [ -x "$BIN/rtraced" ] || fail "no $BIN/rtrace or rtraced (make first)"
tb_up mesh
T=$TB_TMP
W="--wait 0.3"
VPS=$(tb_hosts vp)
rt_certs $VPS d4
rt_agents $VPS d4
AG="$RT_AGENT_ARGS -c $RT_CERTS -n client"
NAG=$(echo $VPS d4 | wc -w)

# ---- 1. accuracy ------------------------------------------------------------------
: >"$T/all.jsonl"
for d in $(tb_hosts dest); do
	rt_rtrace "$T/$d.json" "$d" $W $AG
	[ "$RT_RC" = 0 ] || [ "$RT_RC" = 3 ] || { cat "$T/$d.json.err" >&2; fail "$d: exit $RT_RC"; }
	[ "$(rt_field "$T/$d.json" "r['agents_up']")" = "$NAG" ] || fail "$d: not all agents up"
	cat "$T/$d.json" >>"$T/all.jsonl"
done
rt_eval "$T/all.jsonl" --min-recall 0.95 --min-exact 0.8 --min-reaches 0.9 ||
	fail "accuracy with agents below the goals"
rt_eval --json --quiet "$T/all.jsonl" >"$T/summary.json"
"$TB_PY" - "$T/all.jsonl" <<'EOF' || fail "technique checks"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
types = {h["hop_type"] for r in recs for h in r["revtr_hops"]}
probes = {k: sum(r["probes"][k] for r in recs) for k in recs[0]["probes"]}
print("hop types:", sorted(types)); print("probes:", probes)
assert probes["atlas"] > 0 and probes["spoof_rr"] > 0 and probes["agent"] > 0, probes
assert types & {"SPOOF_RR_REV_SEGMENT", "SPOOF_TS_ADJ_REV_SEGMENT"}, "no spoofed hop"
assert types & {"TR_TO_SRC_REV_SEGMENT", "TR_TO_SRC_REV_SEGMENT_BETWEEN"}, "no atlas hop"
for r in recs:
    assert r["agents_up"] == len(r["agents"]) and all(a["up"] for a in r["agents"])
EOF
[ "$(rt_field "$T/d4.json" "sorted({h['hop_type'] for h in r['revtr_hops'][1:]})")" = \
	AGENT_TR_REV_SEGMENT ] || fail "d4: not measured by its agent"
rt_eval "$T/d4.json" --min-exact 1 || fail "d4 (agent at the destination) not exact"

# ---- 2. switches ----------------------------------------------------------------------
for d in d3 d6; do
	rt_rtrace "$T/$d.nospoof.json" "$d" $W $AG --no-spoof
	[ "$(rt_field "$T/$d.nospoof.json" "r['probes']['spoof_rr'] + r['probes']['spoof_ts']")" = 0 ] ||
		fail "$d --no-spoof: spoofed probes sent"
	grep -q '"SPOOF_' "$T/$d.nospoof.json" && fail "$d --no-spoof: spoofed hop"
	rt_rtrace "$T/$d.nots.json" "$d" $W $AG --no-ts
	[ "$(rt_field "$T/$d.nots.json" "r['probes']['ts'] + r['probes']['spoof_ts']")" = 0 ] ||
		fail "$d --no-ts: TS probes sent"
	grep -q 'TS_ADJ_REV' "$T/$d.nots.json" && fail "$d --no-ts: TS hop"
	rt_rtrace "$T/$d.noatlas.json" "$d" $W $AG --no-atlas
	[ "$(rt_field "$T/$d.noatlas.json" "r['probes']['atlas']")" = 0 ] ||
		fail "$d --no-atlas: atlas probes sent"
	grep -q 'TR_TO_SRC' "$T/$d.noatlas.json" && fail "$d --no-atlas: atlas hop"
done
echo "switches ok"

# ---- 3. an agent that does not spoof ----------------------------------------------------
rt_agent_stop vp2
rt_agent vp2 --no-spoof -v
rt_rtrace "$T/d3.vp2nospoof.json" d3 $W $AG
[ "$(rt_field "$T/d3.vp2nospoof.json" "r['agents_up']")" = "$NAG" ] || fail "vp2 --no-spoof: down"
grep -q "PING" "$T/agent-vp2.log" || fail "vp2 (debug log) saw no PING at all"
grep -q "spoofed" "$T/agent-vp2.log" && fail "vp2 --no-spoof got spoof requests"
[ "$(rt_field "$T/d3.vp2nospoof.json" "r['probes']['spoof_rr']")" -gt 0 ] ||
	fail "the other agents were not asked to spoof"
echo "no-spoof agent ok"

# ---- 4. every agent refuses us ------------------------------------------------------------
"$TB_ROOT/tools/rtrace-keygen" "$T/foreign" client >/dev/null 2>&1 || fail "keygen foreign"
t0=$(date +%s)
rt_rtrace "$T/refused.json" d1 $W $RT_AGENT_ARGS -c "$T/foreign" -n client
[ $(($(date +%s) - t0)) -le 40 ] || fail "refused agents: too slow"
[ "$(rt_field "$T/refused.json" "r['agents_up']")" = 0 ] || fail "foreign CA: agents up"
rt_field "$T/refused.json" "[a['error'] for a in r['agents']]" | grep -qi "tls\|certificate\|handshake\|refused" ||
	fail "foreign CA: reason $(rt_field "$T/refused.json" "r['agents']")"
[ "$(rt_field "$T/refused.json" "r['stop_reason']")" = REACHES ] || fail "d1 from here alone"
grep -q "none of the $NAG agents is usable" "$T/refused.json.err" || fail "no warning"
echo "refused ok"

# ---- 5. an agent dies during a trace --------------------------------------------------------
t0=$(date +%s)
tb_exec src "$BIN/rtrace" -j $W $AG "$(tb_addr d5)" >"$T/dies.json" 2>"$T/dies.err" &
RPID=$!
sleep 1.5
rt_agent_stop vp4
rt_agent_stop vp2
wait $RPID
rc=$?
[ $rc = 0 ] || [ $rc = 3 ] || fail "agent died: rtrace exit $rc"
[ $(($(date +%s) - t0)) -le 60 ] || fail "agent died: too slow"
rt_field "$T/dies.json" "[a['agent'] for a in r['agents'] if not a['up']]" | grep -q "$(tb_addr vp4)" ||
	fail "vp4 not reported down"
rt_field "$T/dies.json" "r['stop_reason'], r['fail_reason']"
echo "agent death ok"

# ---- 6. mesh2 -----------------------------------------------------------------------------
for n in $VPS d4; do rt_agent_stop "$n"; done
tb_down >/dev/null
tb_up mesh2
VPS=$(tb_hosts vp)
AGD=$(tb_hosts agent)
rt_certs $VPS $AGD
RT_AGENT_ARGS=""
rt_agents $VPS $AGD
AG="$RT_AGENT_ARGS -c $RT_CERTS -n client"
: >"$T/mesh2.jsonl"
for d in $(tb_hosts dest); do
	rt_rtrace "$T/m2-$d.json" "$d" $W $AG
	[ "$RT_RC" = 0 ] || [ "$RT_RC" = 3 ] || { cat "$T/m2-$d.json.err" >&2; fail "mesh2 $d: exit $RT_RC"; }
	cat "$T/m2-$d.json" >>"$T/mesh2.jsonl"
done
rt_eval "$T/mesh2.jsonl" --min-recall 0.95 --min-exact 0.8 --min-reaches 0.9 ||
	fail "mesh2: accuracy with agents below the goals"
cat "$T"/m2-d2.json "$T"/m2-d10.json >"$T/m2-agentdst.jsonl"
rt_eval --quiet "$T/m2-agentdst.jsonl" --min-exact 1 || fail "mesh2: agent destinations not exact"
echo "PASS"
