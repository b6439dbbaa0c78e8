# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# lib.sh - shell helpers for rtrace network-namespace tests (bash; source it).
#
# A test brings up one or more test internets with tb_up (tools/rtrace-testbed),
# asks the manifest questions without jq (tb_q, tb_addr, tb_path, ...) and runs
# commands inside nodes (tb_exec). Sourcing this file sets a trap on EXIT, INT
# and TERM that tears down every testbed the test brought up and removes
# $TB_TMP, also when the test fails; add your own cleanup with tb_on_exit
# instead of replacing the trap. Exit codes:
# 0 pass, 77 skip (skip REASON: the reason is the last stderr line), else fail.
#
#   . "$(dirname "$0")/lib.sh"
#   tb_need_root; tb_need_cmd traceroute; tb_need_bin rtrace-probe
#   tb_up mesh                 # sets TB_PREFIX, TB_MANIFEST (also tests/topos/mesh.topo)
#   tb_exec src ping -c1 "$(tb_addr d1)"
#   tb_path d1 src             # -> "r4 r2 r1" (ground-truth routers)

TB_ROOT=${RTRACE_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
TB_TOOL=$TB_ROOT/tools/rtrace-testbed
TB_TOPOS=$TB_ROOT/tests/topos
TB_TMP=$(mktemp -d /tmp/rtrace-tb.XXXXXX)
TB_PREFIX=""       # the current testbed (tb_use switches)
TB_MANIFEST=""     # its manifest file (a copy in $TB_TMP)
TB_PREFIXES=()     # every testbed this test brought up
TB_ON_EXIT=()      # extra cleanup commands, run before the teardown
declare -gA TB_ADDR=()  # "PREFIXnode" -> address, filled by tb_up
# The system python starts in ~10 ms; a pyenv shim takes ten times that.
export TB_PY; TB_PY=$(command -v /usr/bin/python3 || command -v python3)

# skip REASON: exit 77 with the reason as the last line on stderr.
skip() { echo "$*" >&2; exit 77; }

# fail MESSAGE: exit 1.
fail() { echo "FAIL: $*" >&2; exit 1; }

# tb_need_root: skip unless root.
tb_need_root() { [ "$(id -u)" = 0 ] || skip "needs root (network namespaces)"; }

# tb_need_cmd CMD...: skip unless every command exists.
tb_need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "needs $c (tools/install-deps)"
	done
}

# tb_need_bin NAME...: BIN is $RTRACE_BIN or the tree's bin/; fail unless
# every $BIN/NAME is built.
tb_need_bin() {
	local n
	BIN=${RTRACE_BIN:-$TB_ROOT/bin}
	for n in "$@"; do [ -x "$BIN/$n" ] || fail "no $BIN/$n (make first)"; done
}

# tb_wait_log PID LOG PATTERN WHAT [TRIES [STEP]]: wait until LOG matches PATTERN
# (grep); if PID exits first, print LOG and fail "WHAT died at start"; 1 after
# TRIES (100) looks STEP (0.1) seconds apart.
tb_wait_log() {
	local pid=$1 log=$2 pat=$3 what=$4 tries=${5:-100} step=${6:-0.1} i
	for ((i = 0; i < tries; i++)); do
		grep -q "$pat" "$log" && return 0
		kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; fail "$what died at start"; }
		sleep "$step"
	done
	return 1
}

# tb_on_exit CMD...: run CMD (one string, eval'd) at exit, before teardown.
tb_on_exit() { TB_ON_EXIT+=("$*"); }

# tb_cleanup: the trap: extra cleanup, then every testbed down, then temp files.
tb_cleanup() {
	local rc=$? c p
	trap - EXIT INT TERM
	for c in "${TB_ON_EXIT[@]}"; do eval "$c" || true; done
	for p in "${TB_PREFIXES[@]}"; do "$TB_TOOL" down "$p" >/dev/null || rc=1; done
	rm -rf "$TB_TMP"
	exit $rc
}

trap tb_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# tb_up TOPO [rtXXXX-]: bring a testbed up (TOPO: a name in tests/topos or a
# path); the prefix is random unless given. Sets TB_PREFIX and TB_MANIFEST.
# Must not run in a subshell ($(...)) or the trap and variables are lost.
tb_up() {
	local topo=$1 want=${2:-} p rc
	[ -f "$topo" ] || topo=$TB_TOPOS/$1.topo
	[ -f "$topo" ] || fail "tb_up: no topology $1"
	for _ in 1 2 3 4 5 6 7 8; do
		p=${want:-rt$(od -An -N2 -tx1 /dev/urandom | tr -d ' \n')-}
		TB_PREFIXES+=("$p")	# registered before it exists: torn down even if up dies
		"$TB_TOOL" up --prefix "$p" "$topo" >"$TB_TMP/${p%-}.json" && rc=0 || rc=$?
		[ $rc = 3 ] && [ -z "$want" ] && continue	# prefix busy: another one
		[ $rc = 0 ] || fail "tb_up $1: rtrace-testbed up failed (rc=$rc)"
		TB_PREFIX=$p
		TB_MANIFEST=$TB_TMP/${p%-}.json
		local n a
		while read -r n a; do TB_ADDR[$p$n]=$a; done < <(tb_q addr_of.items)
		return 0
	done
	fail "tb_up $1: no free prefix"
}

# tb_setup TOPO [NAME...]: the usual start of a test after its tb_need_cmd:
# root, the binaries (tb_need_bin NAME...), TOPO up (tb_up); T is $TB_TMP and
# SRC the source host's address (empty if TOPO has no host src).
tb_setup() {
	local topo=$1
	shift
	tb_need_root
	tb_need_bin "$@"
	tb_up "$topo"
	T=$TB_TMP
	SRC=${TB_ADDR[${TB_PREFIX}src]:-}
}

# tb_use PREFIX: make an earlier testbed of this test the current one.
tb_use() { TB_PREFIX=$1; TB_MANIFEST=$TB_TMP/${1%-}.json; }

# tb_down [PREFIX]: take a testbed down now (default: the current one).
tb_down() { "$TB_TOOL" down "${1:-$TB_PREFIX}"; }

# tb_q EXPR...: manifest values, one line each (see rtrace-testbed query):
# e.g. tb_q hosts.d1.addr 'paths.src>d1.routers' addr_to_router.10.0.0.1
tb_q() { "$TB_TOOL" query "$TB_MANIFEST" "$@"; }

# tb_ns NODE: the namespace of a router or host.
tb_ns() { echo "$TB_PREFIX$1"; }

# tb_exec NODE CMD...: run CMD inside NODE's namespace.
tb_exec() { local n=$1; shift; ip netns exec "$TB_PREFIX$n" "$@"; }

# tb_addr NODE: a host's address, or a router's first interface address.
tb_addr() {
	[ -n "${TB_ADDR[$TB_PREFIX$1]:-}" ] || fail "tb_addr: no node $1 in $TB_PREFIX"
	echo "${TB_ADDR[$TB_PREFIX$1]}"
}

# tb_hosts ROLE: the hosts with a role (source, dest, vp, agent).
tb_hosts() { tb_q "roles.$1"; }

# tb_path FROM TO: ground-truth routers FROM -> TO (hosts, or router -> source).
tb_path() { tb_q "paths.$1>$2.routers"; }

# tb_router_of ADDR: the router owning an interface address (empty if none).
tb_router_of() { tb_q "addr_to_router.$1" 2>/dev/null || true; }

# tb_flags ROUTER: the router's behaviour flags (drop-rr silent ...).
tb_flags() { tb_q "routers.$1.flags"; }
