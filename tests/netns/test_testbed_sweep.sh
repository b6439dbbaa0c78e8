#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_testbed_sweep.sh - AnyIP prefixes answer for every address.
#
# sweep.topo: src and tgt on one veth pair, tgt answering 10.200.0.0/16 over
# its lo; every sampled address must answer a ping from that very address,
# and traceroute to one must take one hop. mesh.topo: d7's AnyIP prefix
# 10.201.0.0/16 is routed through the routers exactly like d7 itself, so a
# traceroute to one of its addresses must match the src>d7 ground truth.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_root
tb_need_cmd ip traceroute ping od

tb_up sweep
[ "$(tb_q hosts.tgt.anyip)" = 10.200.0.0/16 ] || fail "sweep: tgt's anyip"
[ -z "$(tb_path src tgt)" ] || fail "sweep: src>tgt should cross no router"
[ "$(tb_q namespaces | wc -w)" = 2 ] || fail "sweep: want exactly two namespaces"
n=0
for i in $(seq 1 40); do
	a=10.200.$(((RANDOM * 7 + i) % 256)).$(((RANDOM + i) % 256))
	tb_exec src ping -n -c 1 -W 1 "$a" >"$TB_TMP/p.$i" 2>&1 &
	echo "$a" >"$TB_TMP/a.$i"
done
wait
for i in $(seq 1 40); do
	a=$(cat "$TB_TMP/a.$i")
	grep -q "bytes from $a:" "$TB_TMP/p.$i" || fail "sweep: $a did not answer: $(cat "$TB_TMP/p.$i")"
	n=$((n + 1))
done
hops=$(tb_exec src traceroute -n -I -q 1 -w 1 10.200.77.77 | tail -n +2)
[ "$(echo "$hops" | awk '{print $2}')" = 10.200.77.77 ] || fail "sweep: traceroute: $hops"
echo "sweep: $n AnyIP addresses answered, traceroute is one hop"
tb_exec src ping -n -c 1 -W 1 10.201.0.1 >/dev/null 2>&1 && fail "sweep: 10.201.0.1 answered"
tb_down

tb_up mesh
want=$(tb_path src d7)
got=""
while read -r hop addr _; do
	[[ $hop =~ ^[0-9]+$ ]] || continue
	[ "$addr" = 10.201.3.4 ] && break
	r=$(tb_router_of "$addr")
	[ "$addr" = "*" ] && r="*"
	got="$got $r"
done < <(tb_exec src traceroute -n -I -q 1 -w 1 -m 20 10.201.3.4)
expect=""
for r in $want; do
	case " $(tb_flags "$r") " in *" silent "*) expect="$expect *" ;; *) expect="$expect $r" ;; esac
done
[ "$got" = "$expect" ] || fail "mesh: traceroute to d7's AnyIP 10.201.3.4:$got, truth:$expect"
tb_exec src ping -n -c 1 -W 1 10.201.250.9 | grep -q 'bytes from 10.201.250.9' ||
	fail "mesh: 10.201.250.9 (d7 AnyIP) did not answer"
echo "mesh: d7's AnyIP prefix follows src>d7:$got"
