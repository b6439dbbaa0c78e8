#!/bin/bash
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# test_testbed_topo.sh - topology files: errors, determinism, failed bring-ups.
#
# Bad topology files must be refused with the file and line (or the reason);
# plans must be deterministic and the asymmetry seed must matter; an override
# that makes a routing loop is refused before anything is built; a loop the
# planner cannot see (a more-specific CIDR override) is caught by the kernel
# walk of `up`, which then fails and leaves no namespace behind.
set -u
. "$(dirname "$0")/lib.sh"
tb_need_root
tb_need_cmd ip od

# bad TEXT EXPECTED-STDERR-REGEX: the topology must be refused.
bad() {
	printf '%b\n' "$1" >"$TB_TMP/bad.topo"
	if "$TB_TOOL" plan "$TB_TMP/bad.topo" >/dev/null 2>"$TB_TMP/err"; then
		fail "accepted: $1"
	fi
	grep -Eq "$2" "$TB_TMP/err" || fail "for '$1' want /$2/, got: $(cat "$TB_TMP/err")"
}
R2='router r1\nrouter r2\nlink r1 r2\n'
bad "router r1 shiny" "bad.topo:1: unknown router flag"
bad "${R2}host h role=king at r1" "bad.topo:4: host needs role"
bad "${R2}link r1 r3" "bad.topo:4: link needs two"
bad "${R2}link r2 r1" "bad.topo:4: duplicate link"
bad "${R2}router r3\nhost h role=source at r1" "not connected"
bad "${R2}host h role=source at r9" "no such router"
bad "${R2}host h role=source at r1 anyip=8.8.0.0/16" "anyip 8.8.0.0/16 must be private"
bad "${R2}host h role=source at r1 anyip=10.1.0.0/20" "must be private and not overlap"
bad "${R2}host h role=source at r1\nroute r1 to h via r9" "via must be a neighbour"
bad "router averyveryverylongname" "bad name"
bad "${R2}frobnicate" "bad.topo:4: unknown keyword"
bad "${R2}router r3\nlink r2 r3\nhost s role=source at r1\nhost d role=dest at r3\n\
route r2 to d via r1\nroute r1 to d via r2" "makes a routing loop"

# determinism, and the asymmetry knob changes the plan
a=$("$TB_TOOL" plan "$TB_TOPOS/mesh.topo" | md5sum)
b=$("$TB_TOOL" plan "$TB_TOPOS/mesh.topo" | md5sum)
[ "$a" = "$b" ] || fail "plan is not deterministic"
sed 's/^asym seed 7/asym seed 8/' "$TB_TOPOS/mesh.topo" >"$TB_TMP/mesh8.topo"
c=$("$TB_TOOL" plan "$TB_TMP/mesh8.topo" | md5sum)
[ "$a" != "$c" ] || fail "asym seed 8 plans the same routes as seed 7"
sed '/^asym/d' "$TB_TOPOS/mesh.topo" >"$TB_TMP/mesh0.topo"
tb_up "$TB_TMP/mesh0.topo"
sym=0
for h in $(tb_hosts dest); do
	[ "$(tb_path src "$h")" = "$(tb_path "$h" src | tr ' ' '\n' | tac | xargs)" ] && sym=$((sym + 1))
done
[ "$sym" = "$(tb_hosts dest | wc -w)" ] ||
	fail "without asym and overrides, shortest paths with the tie-break should be symmetric here"
tb_down

# a loop only the kernel sees: up must fail and clean up after itself
printf '%b\n' "${R2}router r3\nlink r2 r3\nhost s role=source at r1\nhost d role=dest at r3\n\
route r2 to 10.1.2.2/32 via r1\nroute r1 to 10.1.2.2/32 via r2" >"$TB_TMP/loop.topo"
p=rt$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')-
TB_PREFIXES+=("$p")
if "$TB_TOOL" up --prefix "$p" "$TB_TMP/loop.topo" >/dev/null 2>"$TB_TMP/err"; then
	fail "up accepted a routing loop"
fi
grep -q "routing loop" "$TB_TMP/err" || fail "up: want 'routing loop', got: $(cat "$TB_TMP/err")"
ip netns list | grep -q "^$p" && fail "a failed up left namespaces of $p"
echo "topology checks ok"
