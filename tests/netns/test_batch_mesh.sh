#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_batch_mesh.sh - rtrace-batch with every technique on the mesh test
# internet (misbehaving routers, asymmetric routes): rtraced on every vantage
# point and on the agent destination d4, one batch over every destination
# plus 16 addresses of d7's AnyIP prefix, all over the same agent connections.
#  1. accuracy at the thresholds of rtrace's own test (tools/rtrace-eval):
#     median hop recall >= 0.95, exact paths >= 80%, REACHES >= 90%; d4 exact
#     through its agent;
#  2. the batch shares what it learns: the atlas traceroutes toward the source
#     ran for the first trace only (slow start), the AnyIP addresses behind
#     d7 reuse the reverse-path tree, and agents' techniques were used;
#  3. one record per target.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rtrace_lib.sh"
tb_need_root
B=$BIN/rtrace-batch
[ -x "$B" ] && [ -x "$BIN/rtraced" ] || fail "no $B or $BIN/rtraced (make first)"
tb_up mesh
T=$TB_TMP
VPS=$(tb_hosts vp)
rt_certs $VPS d4
rt_agents $VPS d4

for d in $(tb_hosts dest); do tb_addr "$d"; done >"$T/targets"
ANY=$(tb_q hosts.d7.anyip)
echo "${ANY%/*}/28" >>"$T/targets"
N=$(( $(tb_hosts dest | wc -w) + 16 ))

tb_exec src "$B" $RT_AGENT_ARGS -c "$RT_CERTS" -n client --wait 0.3 -f "$T/targets" \
	-o "$T/out.jsonl" --allow 10.0.0.0/8 2>"$T/err" || { cat "$T/err"; fail "rtrace-batch"; }
grep -q "^rtrace-batch: $N/$N traced" "$T/err" || { cat "$T/err"; fail "not every target traced"; }
grep -q "agents usable\|is down" "$T/err" && { cat "$T/err"; fail "an agent was not usable"; }
[ "$(wc -l <"$T/out.jsonl")" = "$N" ] || fail "$(wc -l <"$T/out.jsonl") records, want $N"

# ---- 1. accuracy ---------------------------------------------------------------------
rt_eval "$T/out.jsonl" --min-recall 0.95 --min-exact 0.8 --min-reaches 0.9 >"$T/eval" ||
	{ cat "$T/eval" >&2; fail "accuracy below rtrace's goals"; }
tail -n 1 "$T/eval" >&2
D4=$(tb_addr d4)
grep "^{.*\"dst\":\"$D4\"" "$T/out.jsonl" >"$T/d4.jsonl"
rt_eval "$T/d4.jsonl" --min-exact 1 >/dev/null || fail "d4 (agent at the destination) not exact"

# ---- 2. sharing --------------------------------------------------------------------------
"$TB_PY" - "$T/out.jsonl" "${ANY%/*}" <<'EOF' || fail "sharing checks"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
pfx = sys.argv[2].rsplit(".", 2)[0] + "."
assert len({r["dst"] for r in recs}) == len(recs), "duplicate records"
atlas = [r["dst"] for r in recs if r["probes"]["atlas"]]
assert len(atlas) == 1, "atlas traceroutes charged to %s: want the first trace only" % atlas
types = {h["hop_type"] for r in recs for h in r["revtr_hops"]}
probes = {k: sum(r["probes"][k] for r in recs) for k in recs[0]["probes"]}
print("hop types:", sorted(types), file=sys.stderr)
print("probes:", probes, file=sys.stderr)
assert probes["spoof_rr"] > 0 and probes["agent"] > 0, probes
assert types & {"TR_TO_SRC_REV_SEGMENT", "TR_TO_SRC_REV_SEGMENT_BETWEEN"}, "no atlas hop"
anyip = [r for r in recs if r["dst"].startswith(pfx)]
cached = [r for r in anyip if any(h.get("from_cache") for h in r["revtr_hops"])]
assert len(anyip) == 16 and len(cached) >= 12, "%d of %d AnyIP traces used the tree" % (
    len(cached), len(anyip))
print("AnyIP /28: %d of 16 reused the tree; probes per trace: %s" % (
    len(cached), sorted(r["probes"]["total"] for r in anyip)), file=sys.stderr)
EOF
echo ok >&2
