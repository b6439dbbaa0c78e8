#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_rtrace_local.sh - rtrace from the source host of the mesh test internet
# with no agent (the techniques the client runs alone: Record Route from here,
# Timestamp adjacency, forward traceroutes and marked symmetry):
#  1. usage: --help names every switch; bad invocations exit 2 with a reason;
#  2. every destination: one JSON object with the revtr 2.0 fields, hop 1 the
#     destination (DST_REV_SEGMENT), every hop an address of the test internet
#     (or '*'), assumed hops typed DST_SYM_REV_SEGMENT, text output marks them;
#     scored against the truth (rtrace-eval): median recall >= 0.9, exact
#     paths >= 60%, REACHES >= 90%;
#  3. --no-sym: no assumed hop anywhere, failures name the hop they stopped at;
#  4. --max-probes: the budget stops the trace with that reason;
#  5. bad input, each FAILED with a reason within a bounded time: an
#     unreachable destination, a destination that drops IP options (no RR or
#     TS hop can come from it), a hop that never answers anything (--no-sym:
#     the partial path ends before it), agents given but none running, our
#     own address;
#  6. on a terminal, a status line says what the trace waits for; none in files.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rtrace_lib.sh"
tb_need_root
[ -x "$BIN/rtrace" ] || fail "no $BIN/rtrace (make first)"
tb_up mesh
T=$TB_TMP
W="--wait 0.3"

# ---- 1. usage ----------------------------------------------------------------
"$BIN/rtrace" --help >"$T/help" || fail "--help exit status"
for opt in -i -a -c -n -j --no-spoof --no-ts --no-atlas --no-sym --max-probes --timeout \
	DST_SYM_REV_SEGMENT "Exit status"; do
	grep -q -- "$opt" "$T/help" || fail "--help does not mention $opt"
done
usage_fails() { # reason-regex args...
	local want=$1 rc
	shift
	"$BIN/rtrace" "$@" >/dev/null 2>"$T/usage.err" && rc=0 || rc=$?
	[ "$rc" = 2 ] || fail "rtrace $*: exit $rc, want 2"
	head -n1 "$T/usage.err" | grep -qE "$want" || fail "rtrace $*: no reason ($(head -n1 "$T/usage.err"))"
}
usage_fails "missing DEST"
usage_fails "IPv4" not-an-address
usage_fails "needs -c CERTDIR" -a 10.1.11.2 10.1.2.2
usage_fails "not a number" --max-probes x 10.1.2.2
echo "usage ok"

# ---- 2. every destination, local techniques --------------------------------------
: >"$T/all.jsonl"
for d in $(tb_hosts dest); do
	t0=$(date +%s%N)
	rt_rtrace "$T/$d.json" "$d" $W
	dt=$((($(date +%s%N) - t0) / 1000000))
	[ "$RT_RC" = 0 ] || [ "$RT_RC" = 3 ] || { cat "$T/$d.json.err" >&2; fail "$d: exit $RT_RC"; }
	[ $dt -lt 60000 ] || fail "$d: took $dt ms"
	cat "$T/$d.json" >>"$T/all.jsonl"
done
"$TB_PY" - "$T/all.jsonl" "$TB_MANIFEST" <<'EOF' || fail "JSON checks"
import json, sys
m = json.load(open(sys.argv[2]))
known = set(m["addr_to_router"]) | set(m["addr_to_host"]) | {"*"}
types = {"DST_REV_SEGMENT", "DST_SYM_REV_SEGMENT", "TR_TO_SRC_REV_SEGMENT",
         "TR_TO_SRC_REV_SEGMENT_BETWEEN", "RR_REV_SEGMENT", "SPOOF_RR_REV_SEGMENT",
         "TS_ADJ_REV_SEGMENT", "SPOOF_TS_ADJ_REV_SEGMENT", "AGENT_TR_REV_SEGMENT"}
src = m["hosts"]["src"]["addr"]
for line in open(sys.argv[1]):
    r = json.loads(line)
    for k in ("src", "dst", "stop_reason", "fail_reason", "revtr_hops", "runtime", "probes"):
        assert k in r, f"{r.get('dst')}: no {k}"
    d = r["dst"]
    assert r["src"] == src, f"{d}: src {r['src']}"
    assert r["stop_reason"] in ("REACHES", "FAILED"), f"{d}: {r['stop_reason']}"
    assert (r["stop_reason"] == "FAILED") == bool(r["fail_reason"]), f"{d}: fail_reason"
    h = r["revtr_hops"]
    assert h and h[0]["hop_ip"] == d and h[0]["hop_type"] == "DST_REV_SEGMENT", f"{d}: hop 1"
    for i, x in enumerate(h):
        assert x["hop_number"] == i + 1, f"{d}: numbering"
        assert x["hop_ip"] in known, f"{d}: hop {x['hop_ip']} is no address of the testbed"
        assert x["hop_type"] in types, f"{d}: type {x['hop_type']}"
        assert x["hop_type"] not in ("SPOOF_RR_REV_SEGMENT", "SPOOF_TS_ADJ_REV_SEGMENT",
                                     "AGENT_TR_REV_SEGMENT", "TR_TO_SRC_REV_SEGMENT"), \
            f"{d}: agent technique without agents"
    p = r["probes"]
    assert p["total"] == sum(v for k, v in p.items() if k != "total"), f"{d}: probe sum"
    assert p["spoof_rr"] == p["spoof_ts"] == p["atlas"] == p["agent"] == 0, f"{d}: {p}"
    assert r["agents_up"] == 0 and r["agents"] == []
print("json ok")
EOF
grep -l DST_SYM_REV_SEGMENT "$T"/d*.json | head -n1 | while read -r f; do
	d=$(basename "$f" .json)
	tb_exec src "$BIN/rtrace" $W "$(tb_addr "$d")" >"$T/$d.txt" 2>/dev/null
	grep DST_SYM_REV_SEGMENT "$T/$d.txt" | grep -q "assumed symmetric" ||
		fail "$d: text output does not mark assumed hops"
	grep -qE "^(REACHES|FAILED)" "$T/$d.txt" || fail "$d: no summary line"
done
rt_eval "$T/all.jsonl" --min-recall 0.9 --min-exact 0.6 --min-reaches 0.9 || fail "local-only accuracy"

# ---- 3. --no-sym ----------------------------------------------------------------
for d in d3 d6; do
	rt_rtrace "$T/$d.nosym.json" "$d" $W --no-sym
	grep -q DST_SYM "$T/$d.nosym.json" && fail "$d --no-sym: assumed hop"
	if [ "$(rt_field "$T/$d.nosym.json" "r['stop_reason']")" = FAILED ]; then
		[ "$RT_RC" = 3 ] || fail "$d --no-sym FAILED with exit $RT_RC"
		rt_field "$T/$d.nosym.json" "r['fail_reason']" | grep -q "hop after" ||
			fail "$d --no-sym: fail_reason $(rt_field "$T/$d.nosym.json" "r['fail_reason']")"
	fi
done
echo "no-sym ok"

# ---- 4. probe budget ----------------------------------------------------------------
rt_rtrace "$T/budget.json" d3 $W --max-probes 3
[ "$(rt_field "$T/budget.json" "r['stop_reason']")" = FAILED ] || fail "--max-probes 3: not FAILED"
rt_field "$T/budget.json" "r['fail_reason']" | grep -q "budget" || fail "--max-probes: reason"
echo "budget ok"

# ---- 5. bad input ---------------------------------------------------------------------
timed() { # max-seconds out node|addr args...
	local max=$1 out=$2 t0 dt
	shift 2
	t0=$(date +%s)
	rt_rtrace "$out" "$@"
	dt=$(($(date +%s) - t0))
	[ $dt -le "$max" ] || fail "rtrace $*: $dt s (bound $max s)"
}
# unreachable: nobody routes 10.99.0.0/16 (r1 answers net unreachable or drops)
timed 30 "$T/unreach.json" 10.99.0.1 $W
[ "$RT_RC" = 3 ] || fail "unreachable: exit $RT_RC"
[ "$(rt_field "$T/unreach.json" "len(r['revtr_hops'])")" -le 1 ] || fail "unreachable: invented hops"
rt_field "$T/unreach.json" "r['fail_reason']" | grep -q . || fail "unreachable: no reason"

# the destination drops every packet with IP options: its next hop cannot come
# from its RR / TS answers
tb_exec d1 nft -f - <<EOF || fail "nft in d1"
table ip rtt {
	chain in { type filter hook prerouting priority -300; ip hdrlength != 5 drop; }
}
EOF
timed 40 "$T/dropopt.json" d1 $W
[ "$RT_RC" = 0 ] || [ "$RT_RC" = 3 ] || fail "destination dropping options: exit $RT_RC"
case $(rt_field "$T/dropopt.json" "r['revtr_hops'][1]['hop_type'] if len(r['revtr_hops']) > 1 else ''") in
RR_REV_SEGMENT | TS_ADJ_REV_SEGMENT) fail "destination dropping options: hop 2 from its options" ;;
esac
tb_exec d1 nft delete table ip rtt

# a hop that never answers anything (r6 on d2's way back: r8 r6 r4 ...): it drops
# every packet for itself, sends no ICMP and drops options
tb_exec r6 nft -f - <<EOF || fail "nft in r6"
table ip rtt {
	chain in { type filter hook input priority -300; drop; }
	chain fw { type filter hook prerouting priority -300; ip hdrlength != 5 drop; }
	chain out { type filter hook output priority -300; drop; }
}
EOF
timed 60 "$T/silent.json" d2 $W --no-sym
[ "$RT_RC" = 3 ] || fail "never-answering hop, --no-sym: exit $RT_RC (want FAILED)"
rt_field "$T/silent.json" "r['fail_reason']" | grep -q "hop after" || fail "silent hop: reason"
for a in $(tb_q routers.r6.addrs); do
	grep -q "\"hop_ip\":\"$a\"" "$T/silent.json" && fail "the silent hop r6 ($a) was reported"
done
tb_exec r6 nft delete table ip rtt

# agents given, none running (and certificates for them): measured from here alone
rt_certs vp1
timed 40 "$T/noagent.json" d1 $W -a "$(tb_addr vp1)" -c "$RT_CERTS" -n client
[ "$(rt_field "$T/noagent.json" "r['agents_up']")" = 0 ] || fail "no agent running: agents_up"
rt_field "$T/noagent.json" "r['agents'][0]['error']" | grep -qi "refused\|connect" ||
	fail "no agent running: error $(rt_field "$T/noagent.json" "r['agents'][0]")"
[ "$(rt_field "$T/noagent.json" "r['stop_reason']")" = REACHES ] || fail "d1 without agents"

# our own address
rt_rtrace "$T/self.json" src $W
[ "$RT_RC" = 3 ] || fail "own address: exit $RT_RC"
grep -q "address of this host" "$T/self.json.err" || fail "own address: message"
echo "bad input ok"

# ---- 6. progress: a status line on a terminal only ------------------------------------
# script(1) gives rtrace a pseudo-terminal: the line says what the trace waits for, is
# cleared before the report; with stderr to a file (every run above) there is none.
if command -v script >/dev/null; then
	script -qfec "ip netns exec $(tb_ns src) $BIN/rtrace $W $(tb_addr d3)" "$T/tty" >/dev/null
	tr '\r' '\n' <"$T/tty" | grep -aq "^.*rtrace: [0-9.]* s, [0-9]* probes; hop [0-9]* after " ||
		fail "no status line on a terminal"
	grep -aq $'\r\033\[Kreverse traceroute from' "$T/tty" ||
		fail "status line not cleared before the report"
	! grep -q "probes; hop" "$T"/*.err || fail "a status line went to a file"
	echo "status line ok"
fi
echo "PASS"
