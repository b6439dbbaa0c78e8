#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_rtrace_direct.sh - the direct reverse trace: the destination runs
# rtraced (given with -a DEST), so rtrace asks it for a Paris traceroute back
# to the client. The report must be the destination itself (DST_REV_SEGMENT)
# followed by AGENT_TR_REV_SEGMENT hops equal, hop for hop ('*' included), to
# what `traceroute` run inside the destination's namespace shows, on
#  - ring: an asymmetric path (d1 -> src comes back r4 r5 r6 r1, not r4 r3 r2 r1),
#  - mesh: d4, 11 routers away with two silent routers on the way back;
# and it must equal the ground truth at router level (rtrace-eval: exact).
# No other technique may be needed (no RR / TS / symmetry probes).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/rtrace_lib.sh"
tb_need_root
tb_need_cmd traceroute
[ -x "$BIN/rtrace" ] && [ -x "$BIN/rtraced" ] || fail "no $BIN/rtrace or rtraced (make first)"
T=$TB_TMP

# traceroute_hops NODE DST: first address per TTL ('*' if none), up to DST (excluded)
traceroute_hops() {
	tb_exec "$1" traceroute -n -I -q 2 -w 1 -m 30 "$2" |
		awk -v dst="$2" 'NR > 1 { a = "*"; for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+\./) { a = $i; break }
			if (a == dst) exit; print a }'
}

check() { # topo-label dest-node
	local label=$1 d=$2 dst want got
	dst=$(tb_addr "$d")
	rt_certs "$d"
	rt_agent "$d"
	rt_rtrace "$T/$label.json" "$d" -a "$dst" -c "$RT_CERTS" -n client --wait 0.5
	[ "$RT_RC" = 0 ] || { cat "$T/$label.json.err" >&2; fail "$label: exit $RT_RC"; }
	want=$(traceroute_hops "$d" "$(tb_addr src)" | tr '\n' ' ')
	got=$(rt_field "$T/$label.json" "[h['hop_ip'] for h in r['revtr_hops'][1:]]")
	echo "$label traceroute in $d: $want"
	echo "$label rtrace:              $got"
	[ "$got" = "${want% }" ] || fail "$label: rtrace hops differ from traceroute in $d"
	[ "$(rt_field "$T/$label.json" "[h['hop_type'] for h in r['revtr_hops']][0]")" = \
		DST_REV_SEGMENT ] || fail "$label: hop 1 is not DST_REV_SEGMENT"
	[ "$(rt_field "$T/$label.json" \
		"sorted({h['hop_type'] for h in r['revtr_hops'][1:]})")" = AGENT_TR_REV_SEGMENT ] ||
		fail "$label: hops not all AGENT_TR_REV_SEGMENT"
	[ "$(rt_field "$T/$label.json" \
		"r['probes']['rr'] + r['probes']['ts'] + r['probes']['spoof_rr'] + r['probes']['trace']")" = 0 ] ||
		fail "$label: other techniques used: $(rt_field "$T/$label.json" "r['probes']")"
	rt_eval "$T/$label.json" --min-exact 1 || fail "$label: not the ground truth"
	rt_agent_stop "$d"
}

tb_up ring
check ring d1
# the asymmetry is real: the forward path differs
[ "$(tb_path src d1)" != "$(tb_path d1 src | tr ' ' '\n' | tac | tr '\n' ' ' | sed 's/ $//')" ] ||
	fail "ring: src->d1 is symmetric, the test proves nothing"
tb_up mesh
check mesh d4
echo "PASS"
