# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# rtrace_lib.sh - helpers of the rtrace (reverse traceroute) netns tests and of
# bench/bench_revtr_accuracy (bash; source after lib.sh).
#
#   rt_certs NAME...          # $RT_CERTS: a private CA + certificates (tools/rtrace-keygen)
#   rt_agent NODE [ARGS...]   # rtraced in NODE's namespace on port 7777, log in
#                             # $TB_TMP/agent-NODE.log; waits until it listens;
#                             # stopped by the exit trap
#   rt_agent_stop NODE        # SIGTERM it now
#   rt_agents NODE...         # rt_agent for each; RT_AGENT_ARGS gets "-a ADDR ..."
#   rt_rtrace OUT NODE|ADDR [ARGS...]  # rtrace -j in the source host's namespace
#                             # toward a node's address (or an address), JSON
#                             # object to OUT, stderr to OUT.err; sets RT_RC
#   rt_field FILE EXPR        # a value from the JSON object in FILE (python expr
#                             # on r, e.g. "r['stop_reason']")
#   rt_eval ARGS...           # tools/rtrace-eval on the current manifest

BIN=${RTRACE_BIN:-$TB_ROOT/bin}
RT_EVAL=$TB_ROOT/tools/rtrace-eval
RT_PORT=7777
RT_CERTS=""
RT_AGENT_ARGS=""
declare -gA RT_AGENT_PID=()

rt_certs() {
	RT_CERTS=$TB_TMP/certs
	"$TB_ROOT/tools/rtrace-keygen" "$RT_CERTS" client "$@" >/dev/null 2>&1 ||
		fail "rtrace-keygen $RT_CERTS client $*"
}

rt_agent() {
	local node=$1 log=$TB_TMP/agent-$1.log pid
	shift
	: >"$log" # a restart must not see the last run's "listening"
	# Not through tb_exec: $! must be rtraced itself (ip netns exec execs it).
	ip netns exec "$(tb_ns "$node")" "$BIN/rtraced" -i eth0 -l "$RT_PORT" -c "$RT_CERTS" \
		-n "$node" "$@" 2>"$log" &
	pid=$!
	RT_AGENT_PID[$node]=$pid
	tb_on_exit "kill $pid 2>/dev/null; wait $pid 2>/dev/null"
	tb_wait_log "$pid" "$log" "listening on port" "rtraced on $node" && return 0
	cat "$log" >&2
	fail "rtraced on $node did not start within 10 s"
}

rt_agent_stop() {
	local pid=${RT_AGENT_PID[$1]:-}
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	RT_AGENT_PID[$1]=""
}

rt_agents() {
	local n
	for n in "$@"; do
		rt_agent "$n"
		RT_AGENT_ARGS="$RT_AGENT_ARGS -a $(tb_addr "$n")"
	done
}

rt_rtrace() {
	local out=$1 dst=$2
	shift 2
	[[ $dst =~ ^[0-9.]+$ ]] || dst=$(tb_addr "$dst")
	tb_exec src "$BIN/rtrace" -j "$@" "$dst" >"$out" 2>"$out.err"
	RT_RC=$?
}

rt_field() {
	"$TB_PY" -c 'import json,sys
r = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(" ".join(map(str, v)) if isinstance(v, list) else v)' "$1" "$2"
}

rt_eval() { "$RT_EVAL" -m "$TB_MANIFEST" "$@"; }
